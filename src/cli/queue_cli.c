/*
 * queue_cli — `mailwarden queue` / `mailwarden mailq`: list the queue in
 * the layout of Postfix's `postqueue -p` (so mailq parsers, pflogsumm
 * --mailq and qshape-like greps work), and postqueue -f / postsuper
 * -d/-h/-H equivalents: flush, delete, hold, release. These work on the
 * queue files directly (run them as root or mail_owner); flush and release poke
 * the queue process through public/qmgr ("SCAN"). The listing itself is
 * queue/showq.c: read directly by root, asked of the queue manager
 * (public/showq) by anybody else.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/config.h"
#include "common/log.h"
#include "common/util.h"
#include "queue/showq.h"
#include "mail/spool.h"

/* Queues the commands work on. */
enum qcli_q { QQ_INCOMING, QQ_DEFERRED, QQ_HOLD, QQ_N };
static const char *const qnames[QQ_N] = { "incoming", "deferred", "hold" };

struct qcli {
	const struct config *cfg;
	int qfd;
};

/* The listing: root reads the queue itself; anybody else asks the queue
 * manager through public/showq (the spool stays closed to them). */
static int cmd_list(struct qcli *q)
{
	char err[512];

	if (getuid() == 0 && geteuid() == 0)
		return showq_list(stdout, q->qfd, config_get(q->cfg, "maillog_file"), LONG_MAX) == 0 ? 0 : 1;
	if (showq_query(config_get(q->cfg, "queue_directory"), stdout, err, sizeof(err)) == 0)
		return 0;
	fflush(stdout);
	if (strcmp(err, "not allowed to view the mail queue") == 0) {
		const struct passwd *pw = getpwuid(getuid());
		fprintf(stderr, "mailq: fatal: User %s(%ld) is not allowed to view the mail queue\n",
		    pw ? pw->pw_name : "unknown", (long)getuid());
		return 77;	/* EX_NOPERM, as postqueue */
	}
	fprintf(stderr, "mailq: fatal: %s\n", err);
	return 69;		/* EX_UNAVAILABLE */
}

/* Tell the queue process to scan incoming/ and the due deferred/ files. */
static void poke_qmgr(struct qcli *q)
{
	const char *qdir = config_get(q->cfg, "queue_directory");
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int n = snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/public/qmgr", qdir);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (n < 0 || (size_t)n >= sizeof(sun.sun_path) || fd < 0 ||
	    sendto(fd, "SCAN", 4, MSG_DONTWAIT, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		fprintf(stderr, "mailwarden: warning: cannot reach the queue manager at %s/public/qmgr: %s "
		    "(is the mail system running?)\n", qdir, strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* Set a file's mtime (deferred/: the next attempt) to now. */
static int make_due(int dfd, const char *id)
{
	struct timespec ts[2] = { { 0, UTIME_NOW }, { 0, UTIME_NOW } };
	return utimensat(dfd, id, ts, 0);
}

static int cmd_flush(struct qcli *q)
{
	int dfd;
	size_t n;
	char **names = showq_names(q->qfd, qnames[QQ_DEFERRED], &dfd, &n);
	for (size_t i = 0; i < n; i++)
		if (make_due(dfd, names[i]) < 0 && errno != ENOENT)
			fprintf(stderr, "mailwarden: deferred/%s: %s\n", names[i], strerror(errno));
	showq_names_free(names, n);
	if (dfd >= 0)
		close(dfd);
	poke_qmgr(q);
	return 0;
}

enum qop { OP_DELETE, OP_HOLD, OP_RELEASE };

/* Apply op to one ID found in any of the queues op works on: 1 done, 0 none. */
static int apply(struct qcli *q, enum qop op, const char *id)
{
	static const enum qcli_q from[3][3] = {
		{ QQ_INCOMING, QQ_DEFERRED, QQ_HOLD },
		{ QQ_INCOMING, QQ_DEFERRED, QQ_N },
		{ QQ_HOLD, QQ_N, QQ_N },
	};
	int done = 0;

	for (int k = 0; k < 3 && from[op][k] != QQ_N; k++) {
		int dfd = openat(q->qfd, qnames[from[op][k]], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			continue;
		int r = -1;
		if (op == OP_DELETE) {
			r = unlinkat(dfd, id, 0);
		} else {
			int tfd = openat(q->qfd, op == OP_HOLD ? "hold" : "deferred",
			    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (tfd >= 0) {
				r = renameat(dfd, id, tfd, id);
				if (r == 0 && op == OP_RELEASE)
					make_due(tfd, id);
				close(tfd);
			}
		}
		if (r < 0 && errno != ENOENT)
			fprintf(stderr, "mailwarden: %s/%s: %s\n", qnames[from[op][k]], id, strerror(errno));
		close(dfd);
		if (r == 0) {
			log_info("%s: %s", id, op == OP_DELETE ? "removed" :
			    op == OP_HOLD ? "placed on hold" : "released from hold");
			done = 1;
			break;
		}
	}
	return done;
}

static int cmd_op(struct qcli *q, enum qop op, int argc, char **argv)
{
	static const char *const what[] = { "Deleted", "Placed on hold", "Released from hold" };
	static const char *const verb[] = { "delete", "hold", "release" };
	unsigned long count = 0;
	int rc = 0;

	if (argc < 1) {
		fprintf(stderr, "usage: mailwarden queue %s ID...|ALL\n", verb[op]);
		return 2;
	}
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "ALL") == 0) {
			static const enum qcli_q all[3] = { QQ_INCOMING, QQ_DEFERRED, QQ_HOLD };
			for (int k = 0; k < 3; k++) {
				int dfd;
				size_t n;
				char **names = showq_names(q->qfd, qnames[all[k]], &dfd, &n);
				for (size_t j = 0; j < n; j++)
					count += (unsigned long)apply(q, op, names[j]);
				showq_names_free(names, n);
				if (dfd >= 0)
					close(dfd);
			}
		} else if (!spool_valid_id(argv[i])) {
			fprintf(stderr, "mailwarden: bad queue ID: %s\n", argv[i]);
			rc = 1;
		} else if (apply(q, op, argv[i])) {
			count++;
		} else {
			fprintf(stderr, "mailwarden: %s: no such queue file\n", argv[i]);
			rc = 1;
		}
	}
	if (count > 0)
		fprintf(stderr, "mailwarden: %s: %lu message%s\n", what[op], count, count == 1 ? "" : "s");
	if (op == OP_RELEASE && count > 0)
		poke_qmgr(q);
	return rc;
}

/* The maillog, as the mail system opens it, for "ID: removed" lines. */
static void open_log(const struct config *cfg)
{
	const char *file = config_get(cfg, "maillog_file");
	int fd = *file ? open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640) : -1;
	if (*file && fd < 0)
		fprintf(stderr, "mailwarden: warning: maillog_file %s: %s\n", file, strerror(errno));
	log_set_facility(log_facility_parse(config_get(cfg, "syslog_facility")));
	log_open(config_get(cfg, "syslog_name"), config_get(cfg, "myhostname"), *file ? fd : -1);
	log_set_service("postsuper");
}

int cli_queue(const struct config *cfg, int argc, char **argv)
{
	const char *qdir = config_get(cfg, "queue_directory");
	const char *cmd = argc > 0 ? argv[0] : "list";
	struct qcli q = { .cfg = cfg };
	int rc;

	q.qfd = open(qdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (q.qfd < 0) {
		fprintf(stderr, "mailwarden: queue_directory %s: %s\n", qdir, strerror(errno));
		return 1;
	}
	if (strcmp(cmd, "list") == 0 || strcmp(cmd, "-p") == 0) {
		rc = cmd_list(&q);
	} else if (strcmp(cmd, "show") == 0 && argc == 2) {
		rc = cli_queue_show(q.qfd, argv[1], stdout);	/* queue_show.c */
	} else if (strcmp(cmd, "flush") == 0 || strcmp(cmd, "-f") == 0) {
		rc = cmd_flush(&q);
	} else if (strcmp(cmd, "delete") == 0 || strcmp(cmd, "hold") == 0 ||
	    strcmp(cmd, "release") == 0) {
		open_log(cfg);
		rc = cmd_op(&q, cmd[0] == 'd' ? OP_DELETE : cmd[0] == 'h' ? OP_HOLD : OP_RELEASE,
		    argc - 1, argv + 1);
	} else {
		fprintf(stderr, "usage: mailwarden queue [list | show ID | flush | delete ID...|ALL | "
		    "hold ID...|ALL | release ID...|ALL]\n");
		rc = 2;
	}
	close(q.qfd);
	return rc;
}
