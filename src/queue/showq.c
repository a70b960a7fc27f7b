/*
 * showq — the queue listing in postqueue -p layout, for root's `mailwarden
 * queue` (read directly) and for everybody else through the queue
 * manager's public/showq socket (see showq.h). The layout is Postfix's
 * showq_compat.c (short queue IDs); deferral reasons are not stored in
 * queue files: the last "status=deferred (...)" of each recipient in the
 * tail of maillog_file is shown when there is one.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/useracl.h"
#include "common/util.h"
#include "queue/pickup.h"
#include "queue/showq.h"
#include "mail/spool.h"

#define SHOWQ_LOG_TAIL	(8L * 1024 * 1024)	/* bytes of maillog read for reasons */
#define SHOWQ_REASONS_MAX 20000	/* deferral reasons kept by the queue manager */
#define S_STRING_FORMAT	"%-11s %7s %-20s %s\n"	/* Postfix showq_compat.c */
#define S_SENDER_FORMAT	"%-11s %7ld %20.20s %s\n"

/* Queues in listing order. */
enum showq_q { SQ_MAILDROP, SQ_INCOMING, SQ_DEFERRED, SQ_HOLD, SQ_N };
static const char *const qnames[SQ_N] = { PICKUP_DIR, "incoming", "deferred", "hold" };

struct reason {
	char id[SPOOL_ID_MAX];
	char *addr, *why;
};

struct reasons {
	struct reason *rs;
	size_t n;
};

/* ---- the listing ---- */

static void reason_drop(struct reasons *r, size_t i)
{
	free(r->rs[i].addr);
	free(r->rs[i].why);
	memmove(r->rs + i, r->rs + i + 1, (r->n - i - 1) * sizeof(*r->rs));
	r->n--;
}

/* Note one log line: "ID: to=<addr>, ... status=deferred (why)" keeps
 * the latest reason of that recipient; another status or "ID: removed"
 * forgets it. At most SHOWQ_REASONS_MAX kept, the oldest go first. */
static void reason_note(struct reasons *r, const char *line)
{
	const char *to = strstr(line, ": to=<");
	const char *st = to ? strstr(to, ", status=") : NULL;
	const char *rm = strstr(line, ": removed");
	const char *mark = to && st ? to : rm;
	if (mark == NULL)
		return;
	const char *id = mark;
	while (id > line && id[-1] != ' ')
		id--;
	if ((size_t)(mark - id) >= SPOOL_ID_MAX || mark == id)
		return;
	struct reason one;
	snprintf(one.id, sizeof(one.id), "%.*s", (int)(mark - id), id);
	if (mark == rm) {	/* the message is gone: forget all its recipients */
		for (size_t i = r->n; i-- > 0;)
			if (strcmp(r->rs[i].id, one.id) == 0)
				reason_drop(r, i);
		return;
	}
	const char *ae = strchr(to + 6, '>');
	if (ae == NULL)
		return;
	size_t alen = (size_t)(ae - to - 6);
	size_t i;
	for (i = 0; i < r->n; i++)
		if (strcmp(r->rs[i].id, one.id) == 0 && strncmp(r->rs[i].addr, to + 6, alen) == 0 &&
		    r->rs[i].addr[alen] == '\0')
			break;
	if (strncmp(st, ", status=deferred (", 19) != 0) {
		if (i < r->n)
			reason_drop(r, i);	/* sent or bounced */
		return;
	}
	const char *why = st + 19;
	const char *we = strrchr(why, ')');
	if (we == NULL)
		return;
	one.addr = xstrndup(to + 6, alen);
	one.why = xstrndup(why, (size_t)(we - why));
	if (i < r->n) {
		reason_drop(r, i);
	} else if (r->n >= SHOWQ_REASONS_MAX) {
		reason_drop(r, 0);
	}
	r->rs = xrealloc(r->rs, (r->n + 1) * sizeof(*r->rs));
	r->rs[r->n++] = one;
}

static void reasons_free(struct reasons *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->rs[i].addr);
		free(r->rs[i].why);
	}
	free(r->rs);
	r->rs = NULL;
	r->n = 0;
}

/* The reasons in the tail of the maillog (when this process may read it). */
static void load_reasons(struct reasons *r, const char *path)
{
	FILE *fp = path && *path ? fopen(path, "re") : NULL;
	char line[4096];

	if (fp == NULL)
		return;
	if (fseek(fp, 0, SEEK_END) == 0 && ftell(fp) > SHOWQ_LOG_TAIL) {
		if (fseek(fp, -SHOWQ_LOG_TAIL, SEEK_END) < 0 || fgets(line, sizeof(line), fp) == NULL)
			goto out;	/* (a partial line) */
	} else {
		rewind(fp);
	}
	while (fgets(line, sizeof(line), fp) != NULL)
		reason_note(r, line);
out:
	fclose(fp);
}

static const char *find_reason(const struct reasons *r, const char *id, const char *addr)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->rs[i].id, id) == 0 && strcmp(r->rs[i].addr, addr) == 0)
			return r->rs[i].why;
	return "";
}

static void header(FILE *out, int first)
{
	if (first)
		fprintf(out, S_STRING_FORMAT, "-Queue ID-", "--Size--", "----Arrival Time----",
		    "-Sender/Recipient-------");
	else
		fputc('\n', out);
}

/* One message in postqueue -p layout; its size, or -1 if unreadable. */
static long list_one(FILE *out, const struct reasons *r, int dfd, enum showq_q which,
    const char *id, int first)
{
	struct spool_env env;
	struct stat st;
	char err[256], idst[SPOOL_ID_MAX + 2], tbuf[32];

	if (which == SQ_MAILDROP) {
		if (fstatat(dfd, id, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			return -1;
		header(out, first);
		time_t t = st.st_mtime;
		fprintf(out, "%-11s %7ld %20.20s (maildrop queue, sender UID %u)\n", id,
		    (long)st.st_size, asctime_r(localtime(&t), tbuf), (unsigned)st.st_uid);
		return (long)st.st_size;
	}
	if (spool_read(dfd, id, &env, err, sizeof(err)) < 0)
		return -1;	/* being written, or corrupt: not listed */
	header(out, first);
	snprintf(idst, sizeof(idst), "%s%s", id, which == SQ_HOLD ? "!" : "");
	time_t t = env.arrival_sec;
	fprintf(out, S_SENDER_FORMAT, idst, (long)env.body_len, asctime_r(localtime(&t), tbuf),
	    env.sender[0] ? env.sender : "MAILER-DAEMON");
	const char *saved = "";
	for (size_t i = 0; i < env.nrcpt; i++) {
		if (env.rcpt[i].status == SPOOL_ST_DONE)
			continue;
		const char *why = which == SQ_DEFERRED ? find_reason(r, id, env.rcpt[i].addr) : "";
		if (strcmp(why, saved) != 0 || (which == SQ_DEFERRED && i == 0)) {
			const char *show = *why ? why : "reason unavailable";
			int pad = 76 - (int)strlen(show);
			fprintf(out, "%*s(%s)\n", pad > 0 ? pad : 0, "", show);
			saved = why;
		}
		fprintf(out, S_STRING_FORMAT, "", "", "", env.rcpt[i].addr);
	}
	long size = (long)env.body_len;
	spool_env_free(&env);
	return size;
}

static int sort_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **showq_names(int qfd, const char *dir, int *dfd, size_t *n)
{
	char **names = NULL;
	size_t cap = 0;

	*n = 0;
	*dfd = openat(qfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
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

void showq_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static int list_queue(FILE *out, int qfd, const struct reasons *r, long max)
{
	unsigned long total = 0, count = 0;
	int truncated = 0;

	for (int w = 0; w < SQ_N && !truncated; w++) {
		int dfd;
		size_t n;
		char **names = showq_names(qfd, qnames[w], &dfd, &n);
		for (size_t i = 0; i < n && !truncated; i++) {
			long sz = list_one(out, r, dfd, (enum showq_q)w, names[i], count == 0);
			if (sz >= 0) {
				total += (unsigned long)sz;
				count++;
			}
			long pos = ftell(out);	/* -1 on a pipe: no bound needed */
			truncated = pos >= 0 && pos > max;
		}
		showq_names_free(names, n);
		if (dfd >= 0)
			close(dfd);
	}
	if (count == 0)
		fprintf(out, "Mail queue is empty\n");
	else if (truncated)
		fprintf(out, "\n-- listing truncated after %lu Request%s.\n", count, count == 1 ? "" : "s");
	else
		fprintf(out, "\n-- %lu Kbytes in %lu Request%s.\n", total / 1024, count,
		    count == 1 ? "" : "s");
	return fflush(out) == 0 && !ferror(out) ? 0 : -1;
}

int showq_list(FILE *out, int qfd, const char *maillog, long max)
{
	struct reasons r = { NULL, 0 };
	load_reasons(&r, maillog);
	int rc = list_queue(out, qfd, &r, max);
	reasons_free(&r);
	return rc;
}

/* ---- the public/showq server (queue manager) ---- */

struct showq_conn {
	int fd;			/* -1: free slot */
	char *out;		/* status line and listing */
	size_t len, off;
	struct loop_timer timer;
};

static struct showq {
	int sock, qfd, pubfd;
	struct reasons reasons;	/* from this process's own log lines */
	struct useracl *acl;	/* authorized_mailq_users; root and mail_owner always */
	struct showq_user { uid_t uid; char *name; } *users;	/* passwd, read at start */
	size_t nusers;
	struct showq_conn c[SHOWQ_CONN_MAX];
} S = { .sock = -1 };

static void conn_close(struct showq_conn *c)
{
	loop_timer_clear(&c->timer);
	loop_unwatch(c->fd);
	close(c->fd);
	c->fd = -1;
	free(c->out);
	c->out = NULL;
}

static void conn_timeout(void *arg)
{
	conn_close(arg);
}

static void conn_write(int fd, int events, void *arg)
{
	struct showq_conn *c = arg;
	while (c->off < c->len) {
		ssize_t n = send(c->fd, c->out + c->off, c->len - c->off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;		/* the loop calls again when writable */
		if (n <= 0)
			break;		/* the client went away */
		c->off += (size_t)n;
	}
	conn_close(c);
}

static void on_log(const char *text)
{
	reason_note(&S.reasons, text);
}

/* Login name of uid from the passwd snapshot; "unknown" as Postfix. */
static const char *user_name(uid_t uid)
{
	for (size_t i = 0; i < S.nusers; i++)
		if (S.users[i].uid == uid)
			return S.users[i].name;
	return "unknown";
}

static int allowed(uid_t uid)
{
	if (uid == 0 || uid == geteuid())
		return 1;
	return useracl_match(S.acl, user_name(uid));
}

/* One request: check the peer, build the answer, start writing it. */
static void serve(struct showq_conn *c)
{
	struct ucred cr;
	socklen_t crlen = sizeof(cr);
	char *out = NULL;
	size_t len = 0;

	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) < 0) {
		log_warn("showq: SO_PEERCRED: %s", strerror(errno));
		conn_close(c);
		return;
	}
	FILE *mem = open_memstream(&out, &len);
	if (mem == NULL) {
		log_warn("showq: open_memstream: %s", strerror(errno));
		conn_close(c);
		return;
	}
	if (allowed(cr.uid)) {
		fputs("OK\n", mem);
		list_queue(mem, S.qfd, &S.reasons, SHOWQ_OUT_MAX);
	} else {
		log_warn("showq: uid %lu is not allowed to view the mail queue "
		    "(authorized_mailq_users)", (unsigned long)cr.uid);
		fputs("DENIED\n", mem);
	}
	if (fclose(mem) != 0) {
		free(out);
		conn_close(c);
		return;
	}
	c->out = out;
	c->len = len;
	c->off = 0;
	loop_timer_set(&c->timer, SHOWQ_TIMEOUT_MS, conn_timeout, c);
	loop_watch(c->fd, LOOP_WRITE, conn_write, c);
	conn_write(c->fd, LOOP_WRITE, c);
}

static void on_accept(int fd, int events, void *arg)
{
	for (;;) {
		int cfd = accept4(S.sock, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("showq: accept: %s", strerror(errno));
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return;
		}
		struct showq_conn *c = NULL;
		for (size_t i = 0; i < SHOWQ_CONN_MAX && c == NULL; i++)
			if (S.c[i].fd < 0)
				c = &S.c[i];
		if (c == NULL) {	/* busy: the client sees EOF and says so */
			close(cfd);
			continue;
		}
		c->fd = cfd;
		serve(c);
	}
}

static void free_users(void)
{
	for (size_t i = 0; i < S.nusers; i++)
		free(S.users[i].name);
	free(S.users);
	S.users = NULL;
	S.nusers = 0;
	useracl_free(S.acl);
	S.acl = NULL;
}

/* authorized_mailq_users (Postfix's user list syntax, common/useracl.h)
 * and a snapshot of the passwd table, both read now, before any sandbox.
 * check-config has validated the list; if it fails here (a map file gone
 * since), nobody but root and mail_owner may list the queue. */
static void load_users(const struct config *cfg)
{
	char err[512];
	const struct passwd *pw;

	free_users();
	S.acl = useracl_open(config_get(cfg, "authorized_mailq_users"), err, sizeof(err));
	if (S.acl == NULL)
		log_warn("authorized_mailq_users: %s; only root and mail_owner may view the queue",
		    err);
	setpwent();
	while ((pw = getpwent()) != NULL) {
		S.users = xrealloc(S.users, (S.nusers + 1) * sizeof(*S.users));
		S.users[S.nusers].uid = pw->pw_uid;
		S.users[S.nusers++].name = xstrdup(pw->pw_name);
	}
	endpwent();
}

int showq_sock_mode(int pubfd, const char *name, mode_t mode, const char *group)
{
	struct stat st;

	if (group && *group) {
		const struct group *gr = getgrnam(group);
		if (gr == NULL) {
			log_warn("public/%s: group %s does not exist", name, group);
			mode &= 0700;
		} else if (fstatat(pubfd, name, &st, 0) < 0 || (st.st_gid != gr->gr_gid &&
		    fchownat(pubfd, name, (uid_t)-1, gr->gr_gid, 0) < 0)) {
			log_warn("public/%s: chgrp %s: %s", name, group, strerror(errno));
			mode &= 0700;	/* the group is not ours: owner only */
		}
	}
	if (fchmodat(pubfd, name, mode, 0) < 0) {
		log_warn("public/%s: chmod %o: %s", name, (unsigned)mode, strerror(errno));
		return -1;
	}
	return 0;
}

void showq_open(const struct config *cfg, int qfd, int pubfd)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	const char *qdir = config_get(cfg, "queue_directory");

	for (size_t i = 0; i < SHOWQ_CONN_MAX; i++)
		S.c[i].fd = -1;
	S.qfd = qfd;
	S.pubfd = pubfd;
	/* deferral reasons: what the maillog still holds (if this process may
	 * read it), then every line the queue manager logs from now on */
	reasons_free(&S.reasons);
	load_reasons(&S.reasons, config_get(cfg, "maillog_file"));
	log_set_tap(on_log);
	load_users(cfg);
	int n = snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/public/%s", qdir, SHOWQ_SOCKET);
	if (n < 0 || (size_t)n >= sizeof(sun.sun_path))	/* long path: via the dir fd */
		n = snprintf(sun.sun_path, sizeof(sun.sun_path), "/proc/self/fd/%d/%s", pubfd,
		    SHOWQ_SOCKET);
	if (unlinkat(pubfd, SHOWQ_SOCKET, 0) < 0 && errno != ENOENT) {
		log_warn("showq disabled: remove stale %s: %s", sun.sun_path, strerror(errno));
		return;
	}
	S.sock = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (S.sock < 0 || bind(S.sock, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    listen(S.sock, SHOWQ_CONN_MAX) < 0 ||
	    showq_sock_mode(pubfd, SHOWQ_SOCKET, 0666, NULL) < 0) {
		log_warn("showq disabled: %s: %s", sun.sun_path, strerror(errno));
		if (S.sock >= 0)
			close(S.sock);
		S.sock = -1;
		return;
	}
	loop_watch(S.sock, LOOP_READ, on_accept, NULL);
}

void showq_close(void)
{
	for (size_t i = 0; i < SHOWQ_CONN_MAX; i++)
		if (S.c[i].fd >= 0)
			conn_close(&S.c[i]);
	if (S.sock >= 0) {
		loop_unwatch(S.sock);
		close(S.sock);
		S.sock = -1;
	}
	log_set_tap(NULL);
	reasons_free(&S.reasons);
	free_users();
}

/* ---- the client (mailq as an ordinary user) ---- */

int showq_query(const char *qdir, FILE *out, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = SHOWQ_TIMEOUT_MS / 1000 };
	char buf[8192];
	int n = snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/public/%s", qdir, SHOWQ_SOCKET);

	if (n < 0 || (size_t)n >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "%s/public/%s: path too long", qdir, SHOWQ_SOCKET);
		return -1;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		snprintf(err, errlen, "cannot connect to the queue manager at %s: %s "
		    "(is the mail system running?)", sun.sun_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	/* the status line first: "OK" or "DENIED" */
	char status[16];
	size_t slen = 0;
	int rc = -1;
	ssize_t r;
	while (slen < sizeof(status) - 1 && (r = read(fd, status + slen, 1)) == 1 && status[slen] != '\n')
		slen++;
	status[slen] = '\0';
	if (strcmp(status, "OK") != 0) {
		if (strcmp(status, "DENIED") == 0)
			snprintf(err, errlen, "not allowed to view the mail queue");
		else
			snprintf(err, errlen, "no answer from the queue manager at %s", sun.sun_path);
		close(fd);
		return -1;
	}
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		if (fwrite(buf, 1, (size_t)r, out) != (size_t)r)
			break;
	if (r < 0)
		snprintf(err, errlen, "read %s: %s", sun.sun_path, strerror(errno));
	else if (r > 0)
		snprintf(err, errlen, "write: %s", strerror(errno));
	else
		rc = fflush(out) == 0 ? 0 : -1;
	if (rc < 0 && r == 0)
		snprintf(err, errlen, "write: %s", strerror(errno));
	close(fd);
	return rc;
}
