/*
 * report — `mailwarden report [--since 7d] [-o report.html] [--log FILE]...`:
 * one self-contained HTML page of what the mail and ban logs say about
 * the last days (report_parse.c reads, report_svg.c draws). The logs
 * read are maillog_file (or --log files, e.g. /var/log/mail.log and its
 * rotations) and warden_logtarget when it is a file of its own. The
 * queue-size chart is estimated from the log; the messages in
 * queue_directory now are counted too when it can be read (root or
 * mail_owner) and shown apart, labelled as such.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/report.h"
#include "common/clock.h"
#include "common/config.h"
#include "queue/pickup.h"
#include "queue/showq.h"

#define SINCE_MAX (92L * 86400)

const char *const rp_qdirs[RP_QDIRS] = { PICKUP_DIR, "incoming", "deferred", "hold" };

/* The messages in each queue directory now; qstate -1 (and qwhy) when
 * one cannot be read: a partial count would pass for the real one. */
static void read_queue(struct report *r, const char *qdir)
{
	snprintf(r->qdir, sizeof(r->qdir), "%s", qdir);
	int qfd = open(qdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (qfd < 0) {
		snprintf(r->qwhy, sizeof(r->qwhy), "%s: %s", qdir, strerror(errno));
		r->qstate = -1;
		return;
	}
	r->qstate = 1;
	for (int i = 0; i < RP_QDIRS && r->qstate == 1; i++) {
		int dfd;
		size_t n;
		errno = 0;
		char **names = showq_names(qfd, rp_qdirs[i], &dfd, &n);
		if (dfd < 0) {
			snprintf(r->qwhy, sizeof(r->qwhy), "%s/%s: %s", qdir, rp_qdirs[i],
			    strerror(errno ? errno : EIO));
			r->qstate = -1;
		} else {
			r->qnow[i] = (long)n;
			close(dfd);
		}
		showq_names_free(names, n);
	}
	close(qfd);
}

static int read_file(struct report *r, const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		fprintf(stderr, "mailwarden: report: %s: %s\n", path, strerror(errno));
		return -1;
	}
	report_read(r, f);
	fclose(f);
	return 0;
}

static const struct option longopts[] = {
	{ "since", required_argument, NULL, 's' },
	{ "output", required_argument, NULL, 'o' },
	{ "log", required_argument, NULL, 'l' },
	{ NULL, 0, NULL, 0 },
};

int cli_report(const struct config *cfg, int argc, char **argv)
{
	long since = 7 * 86400;
	const char *outpath = NULL, *logs[32];
	size_t nlogs = 0;
	int opt;
	optind = 0;
	while ((opt = getopt_long(argc, argv, "+o:", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (config_parse_time(optarg, &since) < 0 || since <= 0 || since > SINCE_MAX) {
				fprintf(stderr, "mailwarden: report: --since %s: a time up to 92d\n",
				    optarg);
				return 2;
			}
			break;
		case 'o': outpath = optarg; break;
		case 'l':
			if (nlogs < sizeof(logs) / sizeof(*logs))
				logs[nlogs++] = optarg;
			break;
		default:
			fprintf(stderr, "usage: mailwarden report [--since 7d] [-o report.html] "
			    "[--log FILE]...\n");
			return 2;
		}
	}
	if (nlogs == 0) {
		const char *ml = config_get(cfg, "maillog_file");
		logs[nlogs++] = *ml ? ml : "/var/log/mail.log";
		const char *wl = config_get(cfg, "warden_logtarget");
		if (*wl == '/' && strcmp(wl, ml) != 0)
			logs[nlogs++] = wl;
	}
	struct report r;
	report_init(&r, clock_wall(), since);
	int rc = 0;
	for (size_t i = 0; i < nlogs; i++)
		rc |= read_file(&r, logs[i]);
	read_queue(&r, config_get(cfg, "queue_directory"));
	FILE *out = stdout;
	if (outpath && (out = fopen(outpath, "w")) == NULL) {
		fprintf(stderr, "mailwarden: report: %s: %s\n", outpath, strerror(errno));
		report_free(&r);
		return 1;
	}
	char title[300];
	snprintf(title, sizeof(title), "mailwarden report: %s", config_get(cfg, "myhostname"));
	report_html(&r, title, out);
	if (out != stdout && fclose(out) != 0) {
		fprintf(stderr, "mailwarden: report: %s: %s\n", outpath, strerror(errno));
		rc = -1;
	}
	report_free(&r);
	return rc < 0 ? 1 : 0;
}
