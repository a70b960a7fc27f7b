/*
 * report — `mailwarden report [--since 7d] [-o report.html] [--log FILE]...`:
 * one self-contained HTML page of what the mail and ban logs say about
 * the last days (report_parse.c reads, report_svg.c draws). The logs
 * read are maillog_file (or --log files, e.g. /var/log/mail.log and its
 * rotations) and warden_logtarget when it is a file of its own.
 */
#include <errno.h>
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

#define SINCE_MAX (92L * 86400)

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
