/*
 * queue_cli — `mailwarden queue` / `mailwarden mailq`: list the queue in
 * the layout of Postfix's `postqueue -p` (so mailq parsers, pflogsumm
 * --mailq and qshape-like greps work), and postqueue -f / postsuper
 * -d/-h/-H equivalents: flush, delete, hold, release. Works on the queue
 * files directly (run it as root or mail_owner); flush and release poke
 * the queue process through public/qmgr ("SCAN").
 *
 * Deferral reasons are not stored in queue files: the list shows the
 * last "status=deferred (...)" reason of each recipient found in the
 * tail of maillog_file, when there is one.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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
#include "queue/pickup.h"
#include "queue/spool.h"

#define QCLI_LOG_TAIL	(8L * 1024 * 1024)	/* bytes of maillog read for reasons */
#define S_STRING_FORMAT	"%-11s %7s %-20s %s\n"	/* Postfix showq_compat.c */
#define S_SENDER_FORMAT	"%-11s %7ld %20.20s %s\n"

/* Queues in listing order; which of them each command works on. */
enum qcli_q { QQ_MAILDROP, QQ_INCOMING, QQ_DEFERRED, QQ_HOLD, QQ_N };
static const char *const qnames[QQ_N] = { PICKUP_DIR, "incoming", "deferred", "hold" };

struct reason {
	char id[SPOOL_ID_MAX];
	char *addr, *why;
};

struct qcli {
	const struct config *cfg;
	int qfd;
	struct reason *rs;
	size_t nrs;
};

/* "ID: to=<addr>, ... status=deferred (why)" lines of the maillog tail. */
static void load_reasons(struct qcli *q)
{
	const char *path = config_get(q->cfg, "maillog_file");
	FILE *fp = *path ? fopen(path, "r") : NULL;
	char line[4096];

	if (fp == NULL)
		return;
	if (fseek(fp, 0, SEEK_END) == 0 && ftell(fp) > QCLI_LOG_TAIL) {
		fseek(fp, -QCLI_LOG_TAIL, SEEK_END);
		if (fgets(line, sizeof(line), fp) == NULL)	/* partial line */
			goto out;
	} else {
		rewind(fp);
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		char *to = strstr(line, ": to=<");
		char *st = strstr(line, ", status=deferred (");
		if (to == NULL || st == NULL || st < to)
			continue;
		char *id = to;
		while (id > line && id[-1] != ' ')
			id--;
		char *ae = strchr(to + 6, '>');
		char *we = strrchr(st, ')');
		if (ae == NULL || we == NULL || (size_t)(to - id) >= SPOOL_ID_MAX)
			continue;
		struct reason r;
		snprintf(r.id, sizeof(r.id), "%.*s", (int)(to - id), id);
		r.addr = xstrndup(to + 6, (size_t)(ae - to - 6));
		r.why = xstrndup(st + 19, (size_t)(we - st - 19));
		/* a later line replaces an earlier one for the same recipient */
		size_t i;
		for (i = 0; i < q->nrs; i++)
			if (strcmp(q->rs[i].id, r.id) == 0 && strcmp(q->rs[i].addr, r.addr) == 0)
				break;
		if (i < q->nrs) {
			free(q->rs[i].addr);
			free(q->rs[i].why);
		} else {
			q->rs = xrealloc(q->rs, (q->nrs + 1) * sizeof(*q->rs));
			q->nrs++;
		}
		q->rs[i] = r;
	}
out:
	fclose(fp);
}

static const char *find_reason(const struct qcli *q, const char *id, const char *addr)
{
	for (size_t i = 0; i < q->nrs; i++)
		if (strcmp(q->rs[i].id, id) == 0 && strcmp(q->rs[i].addr, addr) == 0)
			return q->rs[i].why;
	return "";
}

/* One message in postqueue -p layout; its size, or -1 if unreadable. */
static long list_one(struct qcli *q, int dfd, enum qcli_q which, const char *id, int first)
{
	struct spool_env env;
	struct stat st;
	char err[256], idst[SPOOL_ID_MAX + 2];

	if (which == QQ_MAILDROP) {
		if (fstatat(dfd, id, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			return -1;
		printf(first ? S_STRING_FORMAT : "\n", "-Queue ID-", "--Size--",
		    "----Arrival Time----", "-Sender/Recipient-------");
		time_t t = st.st_mtime;
		char tbuf[32];
		printf("%-11s %7ld %20.20s (maildrop queue, sender UID %u)\n", id, (long)st.st_size,
		    asctime_r(localtime(&t), tbuf), (unsigned)st.st_uid);
		return (long)st.st_size;
	}
	if (spool_read(dfd, id, &env, err, sizeof(err)) < 0)
		return -1;	/* being written, or corrupt: not listed */
	if (!first)
		printf("\n");
	else
		printf(S_STRING_FORMAT, "-Queue ID-", "--Size--", "----Arrival Time----",
		    "-Sender/Recipient-------");
	snprintf(idst, sizeof(idst), "%s%s", id, which == QQ_HOLD ? "!" : "");
	time_t t = env.arrival_sec;
	char tbuf[32];
	printf(S_SENDER_FORMAT, idst, (long)env.body_len, asctime_r(localtime(&t), tbuf),
	    env.sender[0] ? env.sender : "MAILER-DAEMON");
	const char *saved = "";
	for (size_t i = 0; i < env.nrcpt; i++) {
		if (env.rcpt[i].status == SPOOL_ST_DONE)
			continue;
		const char *why = which == QQ_DEFERRED ? find_reason(q, id, env.rcpt[i].addr) : "";
		if (strcmp(why, saved) != 0) {
			const char *show = *why ? why : "reason unavailable";
			int pad = 76 - (int)strlen(show);
			printf("%*s(%s)\n", pad > 0 ? pad : 0, "", show);
			saved = why;
		}
		printf(S_STRING_FORMAT, "", "", "", env.rcpt[i].addr);
	}
	long size = (long)env.body_len;
	spool_env_free(&env);
	return size;
}

static int sort_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The file names of one queue directory, sorted; *n of them. */
static char **queue_names(int qfd, enum qcli_q which, int *dfd, size_t *n)
{
	char **names = NULL;
	size_t cap = 0;

	*n = 0;
	*dfd = openat(qfd, qnames[which], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*dfd < 0)
		return NULL;
	int fd = dup(*dfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || !spool_valid_id(e->d_name))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			names = xrealloc(names, cap * sizeof(*names));
		}
		names[(*n)++] = xstrdup(e->d_name);
	}
	closedir(d);
	if (*n > 1)
		qsort(names, *n, sizeof(*names), sort_names);
	return names;
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static int cmd_list(struct qcli *q)
{
	unsigned long total = 0, count = 0;

	load_reasons(q);
	for (int w = 0; w < QQ_N; w++) {
		int dfd;
		size_t n;
		char **names = queue_names(q->qfd, (enum qcli_q)w, &dfd, &n);
		for (size_t i = 0; i < n; i++) {
			long sz = list_one(q, dfd, (enum qcli_q)w, names[i], count == 0);
			if (sz >= 0) {
				total += (unsigned long)sz;
				count++;
			}
		}
		free_names(names, n);
		if (dfd >= 0)
			close(dfd);
	}
	if (count == 0)
		printf("Mail queue is empty\n");
	else
		printf("\n-- %lu Kbytes in %lu Request%s.\n", total / 1024, count, count == 1 ? "" : "s");
	for (size_t i = 0; i < q->nrs; i++) {
		free(q->rs[i].addr);
		free(q->rs[i].why);
	}
	free(q->rs);
	return fflush(stdout) == 0 ? 0 : 1;
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
	char **names = queue_names(q->qfd, QQ_DEFERRED, &dfd, &n);
	for (size_t i = 0; i < n; i++)
		if (make_due(dfd, names[i]) < 0 && errno != ENOENT)
			fprintf(stderr, "mailwarden: deferred/%s: %s\n", names[i], strerror(errno));
	free_names(names, n);
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
		{ QQ_INCOMING, QQ_DEFERRED, QQ_HOLD },	/* also maildrop by ALL: not by ID */
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
				char **names = queue_names(q->qfd, all[k], &dfd, &n);
				for (size_t j = 0; j < n; j++)
					count += (unsigned long)apply(q, op, names[j]);
				free_names(names, n);
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
	} else if (strcmp(cmd, "flush") == 0 || strcmp(cmd, "-f") == 0) {
		rc = cmd_flush(&q);
	} else if (strcmp(cmd, "delete") == 0 || strcmp(cmd, "hold") == 0 ||
	    strcmp(cmd, "release") == 0) {
		open_log(cfg);
		rc = cmd_op(&q, cmd[0] == 'd' ? OP_DELETE : cmd[0] == 'h' ? OP_HOLD : OP_RELEASE,
		    argc - 1, argv + 1);
	} else {
		fprintf(stderr, "usage: mailwarden queue [list | flush | delete ID...|ALL | "
		    "hold ID...|ALL | release ID...|ALL]\n");
		rc = 2;
	}
	close(q.qfd);
	return rc;
}
