/*
 * pickup — turn maildrop/ files written by `mailwarden sendmail` into
 * queue files (see pickup.h for the drop point and its format). Runs in
 * the queue process: inotify on maildrop/ plus a 60 s timer. Each file
 * is checked (mode, owner, size, records), given a Received header and,
 * when missing, Date, From and Message-ID (as Postfix's cleanup), written
 * to incoming/ with spool_create, made durable, then removed from
 * maildrop/. Logged as Postfix's pickup and cleanup:
 *   ID: uid=1000 from=<user@myorigin>
 *   ID: message-id=<...>
 * header_checks/body_checks (src/mail/checks.c) apply as to SMTP mail,
 * logged "from local": a REJECT returns the message to its sender (a
 * DSN, as Postfix's cleanup does for local submissions), DISCARD drops
 * it, HOLD queues it into hold/, edits and REDIRECT/BCC/FILTER change
 * the queue file before it is written. Then DKIM signing (pickup_dkim.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "common/clock.h"
#include "common/buf.h"
#include "common/config.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/loop.h"
#include "common/util.h"
#include "common/map.h"
#include "mail/checks.h"
#include "mail/headers.h"
#include "queue/qmgr_int.h"
#include "queue/pickup.h"
#include "queue/pickup_int.h"
#include "mail/spool.h"

#define PICKUP_WAKEUP_MS	60000	/* rescan even without inotify events */
#define PICKUP_BATCH		256	/* files per pass (one syncfs) */
#define PICKUP_STALE		86400	/* s: unfinished ".t" files are removed after */

static struct pickup {
	const struct config *cfg;
	int dropfd, infd, ifd, corruptfd;
	pickup_queued_fn *queued_fn;
	struct loop_timer timer, again;
	long max_size;
	struct checks_tables checks;	/* header_checks, body_checks, ... */
	int holdfd;			/* hold/, for HOLD */
} P = { .holdfd = -1, .dropfd = -1, .infd = -1, .ifd = -1, .corruptfd = -1 };

/* One parsed maildrop file. */
struct drop {
	char *sender;		/* NULL: default */
	char *fullname;
	char **rcpt;
	size_t nrcpt;
	const char *msg;	/* points into the file buffer */
	size_t msglen;
};

long pickup_max_size(const struct config *cfg)
{
	long msl = config_get_size(cfg, "message_size_limit");
	return msl > 0 ? msl + PICKUP_ENV_MAX : 1024L * 1024 * 1024;
}

void pickup_prepare_dir(const struct config *cfg, const char *qdir, const struct passwd *owner)
{
	char path[1024];
	int n = snprintf(path, sizeof(path), "%s/%s", qdir, PICKUP_DIR);
	if (n < 0 || (size_t)n >= sizeof(path))
		fatal("%s/%s: path too long", qdir, PICKUP_DIR);
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		fatal("mkdir %s: %s", path, strerror(errno));
	mode_t mode = 01700;
	struct group *gr = NULL;
	if (owner != NULL) {
		const char *gname = config_get(cfg, "setgid_group");
		gr = getgrnam(gname);
		gid_t gid = gr ? gr->gr_gid : owner->pw_gid;
		if (gr == NULL)
			log_warn("setgid_group '%s' does not exist: only root can use sendmail "
			    "(create it: groupadd --system %s)", gname, gname);
		else
			mode = 01730;
		if (chown(path, owner->pw_uid, gid) < 0)
			fatal("chown %s: %s", path, strerror(errno));
	}
	if (chmod(path, mode) < 0)
		fatal("chmod %s: %s", path, strerror(errno));
	/* public/ (made by the master, 0711): group setgid_group and the
	 * set-group-ID bit, so the sockets the unprivileged queue manager
	 * binds there get that group (public/qmgr 0620, as Postfix's
	 * public/pickup) */
	if (gr == NULL)
		return;
	n = snprintf(path, sizeof(path), "%s/public", qdir);
	if (n < 0 || (size_t)n >= sizeof(path))
		fatal("%s/public: path too long", qdir);
	if (chown(path, owner->pw_uid, gr->gr_gid) < 0 || chmod(path, 02711) < 0)
		fatal("chown/chmod %s: %s", path, strerror(errno));
}

static void drop_free(struct drop *d)
{
	for (size_t i = 0; i < d->nrcpt; i++)
		free(d->rcpt[i]);
	free(d->rcpt);
	free(d->sender);
	free(d->fullname);
	memset(d, 0, sizeof(*d));
}

int pickup_addr_ok(const char *p, size_t n)
{
	if (n > PICKUP_ADDR_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] <= ' ' || p[i] == 127 || p[i] == '<' || p[i] == '>')
			return 0;
	return 1;
}

int pickup_end_record(const char *buf, size_t len, size_t off, size_t *mlen)
{
	/* the last line, "E <digits>\n", starts at e; the message fills
	 * off .. e-1 and ends with the newline at e-1 */
	if (off > len || len - off < 4 || buf[len - 1] != '\n')
		return -1;
	size_t e = len - 1;
	while (e > off && buf[e - 1] != '\n')
		e--;
	if (len - e < 4 || buf[e] != 'E' || buf[e + 1] != ' ')
		return -1;
	if (spool_parse_len(buf + e + 2, len - 1 - (e + 2), mlen) < 0)
		return -1;
	/* compare with the room there is, never add to the recorded length */
	if (e == off || *mlen != e - off - 1)
		return -1;
	return 0;
}

/* Parse and check a maildrop file held in buf. 0 or -1 with err. */
static int drop_parse(const char *buf, size_t len, struct drop *d, char *err, size_t errlen)
{
	size_t off = 0, rcap = 0;

	memset(d, 0, sizeof(*d));
	if (len < 5 || memcmp(buf, PICKUP_MAGIC "\n", 5) != 0) {
		snprintf(err, errlen, "bad magic");
		return -1;
	}
	off = 5;
	for (;;) {
		const char *nl = memchr(buf + off, '\n', len - off);
		if (nl == NULL || off > PICKUP_ENV_MAX) {
			snprintf(err, errlen, "envelope without message");
			goto bad;
		}
		const char *p = buf + off;
		size_t l = (size_t)(nl - p);
		off += l + 1;
		if (l == 1 && p[0] == 'B')
			break;
		if (l < 2 || p[1] != ' ') {
			snprintf(err, errlen, "bad record");
			goto bad;
		}
		const char *v = p + 2;
		size_t vl = l - 2;
		switch (p[0]) {
		case 'S':
			if (d->sender || !pickup_addr_ok(v, vl)) {
				snprintf(err, errlen, "bad sender record");
				goto bad;
			}
			d->sender = xstrndup(v, vl);
			break;
		case 'N':
			free(d->fullname);
			d->fullname = xstrndup(v, vl < 200 ? vl : 200);
			break;
		case 'R':
			if (vl == 0 || !pickup_addr_ok(v, vl) || d->nrcpt >= PICKUP_RCPT_MAX) {
				snprintf(err, errlen, "bad recipient record or too many recipients");
				goto bad;
			}
			if (d->nrcpt == rcap) {
				rcap = rcap ? rcap * 2 : 8;
				d->rcpt = xrealloc(d->rcpt, rcap * sizeof(*d->rcpt));
			}
			d->rcpt[d->nrcpt++] = xstrndup(v, vl);
			break;
		default:
			snprintf(err, errlen, "unknown record type");
			goto bad;
		}
	}
	if (d->nrcpt == 0) {
		snprintf(err, errlen, "no recipients");
		goto bad;
	}
	/* end record: "\nE <len>\n" closes the file */
	size_t mlen;
	if (pickup_end_record(buf, len, off, &mlen) < 0)
		goto noend;
	d->msg = buf + off;
	d->msglen = mlen;
	return 0;
noend:
	snprintf(err, errlen, "no valid end record");
bad:
	drop_free(d);
	return -1;
}

/* A full name as a phrase: quoted when it holds specials. */
static void put_phrase(struct buf *b, const char *s)
{
	int special = strpbrk(s, "()<>@,;:\\\".[]") != NULL;
	if (special)
		buf_puts(b, "\"");
	for (; *s; s++) {
		if ((unsigned char)*s < ' ' || *s == 127)
			continue;
		if (special && (*s == '"' || *s == '\\'))
			buf_puts(b, "\\");
		buf_append(b, s, 1);
	}
	if (special)
		buf_puts(b, "\"");
}

/* Write one checked drop as incoming/ID. 0 or -1 (errno). */
/* Who a cleanup log line is about (the checks' callbacks). */
struct drop_log {
	const char *id, *sender, *rcpt;
};

/* "ID: ACTION: CLASS CONTENT from local; from=<> to=<>: TEXT" (cleanup). */
static void drop_act_log(void *arg, const char *action, const char *cls, const char *content,
    const char *text)
{
	const struct drop_log *l = arg;
	char shown[201];
	str_copy(shown, sizeof(shown), content);
	str_printable(shown, '?');
	log_set_service("cleanup");
	log_info("%s: %s: %s %s from local; from=<%s> to=<%s>%s%s", l->id, action, cls, shown,
	    l->sender, l->rcpt, text && *text ? ": " : "", text ? text : "");
	log_set_service("qmgr");
}

static void drop_warn(void *arg, const char *text)
{
	const struct drop_log *l = arg;
	log_set_service("cleanup");
	log_warn("%s: %s", l->id, text);
	log_set_service("qmgr");
}

/* A REJECT of local mail: the queued file becomes a DSN to its sender
 * (Postfix's cleanup bounces local submissions). */
int pickup_bounce(char *id, size_t idlen, const char *reply)
{
	struct qmsg m = { 0 };
	char err[256], newid[SPOOL_ID_MAX];
	int rc = -1;
	if (spool_read(P.infd, id, &m.env, err, sizeof(err)) < 0) {
		log_warn("%s: cannot read the rejected message back: %s", id, err);
		spool_env_free(&m.env);
		unlinkat(P.infd, id, 0);	/* rejected: never delivered */
		return -1;
	}
	if (m.env.sender == NULL || *m.env.sender == '\0') {
		rc = 1;
	} else {
		m.fails = xcalloc(m.env.nrcpt, sizeof(*m.fails));
		for (size_t i = 0; i < m.env.nrcpt; i++) {
			struct qfail *f = &m.fails[m.nfail++];
			f->ri = i;
			f->addr = f->orig = m.env.rcpt[i].addr;
			snprintf(f->dsn, sizeof(f->dsn), "%.*s", (int)strcspn(reply, " "), reply);
			f->diag = (char *)reply;
			f->perm = 1;
		}
		rc = bounce_create(P.cfg, P.infd, &m, BOUNCE_FAILED, newid, sizeof(newid));
		free(m.fails);
	}
	spool_env_free(&m.env);
	unlinkat(P.infd, id, 0);
	if (rc == 0) {
		log_set_service("bounce");
		log_info("%s: sender non-delivery notification: %s", id, newid);
		log_set_service("qmgr");
		str_copy(id, idlen, newid);
	}
	return rc;
}

/* Apply the checks' envelope results to env (REDIRECT, BCC, FILTER);
 * *rcp is replaced when the recipients change. */
static void drop_envelope(struct spool_env *env, struct spool_rcpt **rcp,
    const struct checks_result *r)
{
	size_t n = r->redirect ? 1 : env->nrcpt;
	struct spool_rcpt *rc = xcalloc(n + r->nbcc, sizeof(*rc));
	if (r->redirect)
		rc[0].addr = r->redirect;
	else
		memcpy(rc, env->rcpt, n * sizeof(*rc));
	for (size_t i = 0; i < r->nbcc; i++)
		rc[n++].addr = r->bcc[i];
	free(*rcp);
	*rcp = rc;
	env->rcpt = rc;
	env->nrcpt = n;
	if (r->filter)
		env->filter = r->filter;	/* FILTER wins over content_filter */
}

/* Write the queue file for d (maildrop file name). 0 queued (id set; a
 * REJECT's DSN is what is queued), 1 dropped (DISCARD, or a REJECT with
 * nobody to tell), 2 with the non_smtpd_milters (they finish it), -1
 * error (errno). */
static int drop_queue(const char *name, struct drop *d, uid_t uid, const char *sender,
    char *id, size_t idlen, char *msgid, size_t msgidlen)
{
	const char *host = config_get(P.cfg, "myhostname");
	struct spool_rcpt *rc = xcalloc(d->nrcpt, sizeof(*rc));
	struct spool_env env = { 0 };
	struct spool_writer w;
	struct checks_result r = { 0 };
	struct timespec now;
	char date[80], line[128];
	struct buf h, out;
	int rc_ = -1;

	now = clock_wall_ts();
	for (size_t i = 0; i < d->nrcpt; i++) {
		/* a bare name gets @myorigin, as Postfix's cleanup appends it */
		char *q = str_at_origin(d->rcpt[i], config_get(P.cfg, "myorigin"));
		free(d->rcpt[i]);
		rc[i].addr = d->rcpt[i] = q;
	}
	env.arrival_sec = now.tv_sec;
	env.arrival_usec = now.tv_nsec / 1000;
	env.client_name = "localhost";
	env.client_addr = "127.0.0.1";
	env.helo = "";
	env.proto = "local";
	env.sender = (char *)sender;
	env.rcpt = rc;
	env.nrcpt = d->nrcpt;
	if (*config_get(P.cfg, "content_filter"))	/* as Postfix's pickup: the global one */
		env.filter = (char *)config_get(P.cfg, "content_filter");
	if (spool_create(&w, P.infd, &env) < 0) {
		free(rc);
		return -1;
	}
	str_copy(id, idlen, w.id);
	log_set_service("pickup");
	log_info("%s: uid=%lu from=<%s>", w.id, (unsigned long)uid, sender);
	log_set_service("qmgr");
	headers_make_date(date, sizeof(date), now.tv_sec);
	buf_init(&h, SIZE_MAX / 2);
	buf_init(&out, SIZE_MAX / 2);
	buf_printf(&h, "Received: by %s (mailwarden, from userid %lu)\n\tid %s; %s\n",
	    host, (unsigned long)uid, w.id, date);
	/* the original headers, then what is missing, then the body */
	size_t off = 0;
	struct header hd;
	while (headers_next(d->msg, d->msglen, &off, &hd))
		;
	struct headers_seen seen = { 0 };
	for (size_t p = 0; p < off;) {
		const char *nl = memchr(d->msg + p, '\n', off - p);
		size_t e = nl ? (size_t)(nl - d->msg) : off;
		headers_note(&seen, d->msg + p, e - p);
		p = e + 1;
	}
	msgid[0] = '\0';
	if (seen.msgid) {
		off = 0;
		while (headers_next(d->msg, d->msglen, &off, &hd))
			if (headers_is(&hd, "Message-ID")) {
				const char *v = hd.value, *ve = hd.value + hd.valuelen;
				while (v < ve && (*v == ' ' || *v == '\t' || *v == '<'))
					v++;
				while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t' || ve[-1] == '\r' || ve[-1] == '>'))
					ve--;
				snprintf(msgid, msgidlen, "%.*s", (int)(ve - v), v);
				break;
			}
	}
	buf_append(&h, d->msg, off);
	if (!seen.date)
		buf_printf(&h, "Date: %s\n", date);
	if (!seen.from) {
		buf_puts(&h, "From: ");
		if (d->fullname && d->fullname[0]) {
			put_phrase(&h, d->fullname);
			buf_printf(&h, " <%s>\n", sender);
		} else {
			buf_printf(&h, "%s\n", sender);
		}
	}
	if (!seen.msgid) {
		headers_make_msgid(line, sizeof(line), w.id, host, now.tv_sec);
		buf_printf(&h, "Message-Id: %s\n", line);
		snprintf(msgid, msgidlen, "%.*s", (int)strlen(line) - 2, line + 1);
	}
	if (off < d->msglen && d->msg[off] != '\n')
		buf_append(&h, "\n", 1);	/* no blank line before the body */
	buf_append(&h, d->msg + off, d->msglen - off);
	if (checks_any(&P.checks)) {
		struct drop_log l = { w.id, sender, d->nrcpt ? d->rcpt[0] : "" };
		if (checks_run(&P.checks, h.data, h.len, &out, &r, drop_act_log, drop_warn, &l) < 0)
			r.changed = 0;
	}
	if (r.discard) {
		spool_abort(&w);
		rc_ = 1;
		goto done;
	}
	if (!r.reject && (r.redirect || r.nbcc || r.filter)) {
		drop_envelope(&env, &rc, &r);
		spool_rewrite(&w, &env);
	}
	const struct buf *body = r.changed && !r.reject ? &out : &h;
	spool_write(&w, body->data, body->len);
	if (!r.reject && pmilt_enabled()) {
		pmilt_start(name, &w, &env, body->data, body->len, r.hold, msgid);
		rc_ = 2;
		goto done;
	}
	rc_ = !r.reject && pickup_dkim_sign(&w) < 0 ? -1 : 0;
	if (rc_ < 0)
		spool_abort(&w);
	else
		rc_ = spool_finish(&w);
	if (rc_ == 0 && !r.reject) {
		metrics_inc(M_MSG_RECEIVED, "pickup");
		log_set_service("cleanup");
		log_info("%s: message-id=<%s>", w.id, msgid);
		log_set_service("qmgr");
	}
	if (rc_ == 0 && r.reject) {
		char reply[sizeof(r.reply)];
		str_copy(reply, sizeof(reply), r.reply);
		rc_ = pickup_bounce(id, idlen, reply);
	} else if (rc_ == 0 && r.hold && P.holdfd >= 0 && renameat(P.infd, w.id, P.holdfd, w.id) < 0) {
		log_warn("%s: cannot move into the hold queue: %s", w.id, strerror(errno));
	}
done:
	checks_result_free(&r);
	buf_free(&h);
	buf_free(&out);
	free(rc);
	return rc_;
}

/* The envelope sender for a drop by uid: -f as given (a bare name gets
 * @myorigin), else the login name @ myorigin. */
static char *drop_sender(const struct drop *d, uid_t uid)
{
	const char *origin = config_get(P.cfg, "myorigin");
	char name[64];

	if (d->sender)
		return str_at_origin(d->sender, origin);
	struct passwd *pw = getpwuid(uid);
	if (pw)
		str_copy(name, sizeof(name), pw->pw_name);
	else
		snprintf(name, sizeof(name), "uid%lu", (unsigned long)uid);
	return str_at_origin(name, origin);
}

/* Read one maildrop file whose mode says it is complete. 1 queued
 * (id set), 0 skipped (not ready), -1 bad (removed). */
static int pick_one(const char *name, char *id, size_t idlen)
{
	char err[256], msgid[1000];
	struct stat st;
	struct drop d;
	char *buf = NULL;

	if (pmilt_busy(name))
		return 0;	/* with the milters */
	int fd = openat(P.dropfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 && errno == ELOOP && fstatat(P.dropfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		snprintf(err, sizeof(err), "a symbolic link");
		goto bad;	/* the link itself goes to corrupt/, never followed */
	}
	if (fd < 0 && errno == EACCES && fstatat(P.dropfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		/* the owner took read access away: abandoned (0000) or stale
		 * files go, others are not ready yet */
		if ((st.st_mode & 07777) == PICKUP_MODE_ABANDONED ||
		    clock_wall() - st.st_mtime > PICKUP_STALE)
			goto remove;
		return 0;
	}
	if (fd < 0) {
		if (errno != ENOENT)
			log_warn("open %s/%s: %s", PICKUP_DIR, name, strerror(errno));
		return 0;
	}
	if (fstat(fd, &st) < 0) {
		log_warn("fstat %s/%s: %s", PICKUP_DIR, name, strerror(errno));
		close(fd);
		return 0;
	}
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
		snprintf(err, sizeof(err), "not a regular file");
		goto bad;
	}
	if ((st.st_mode & 07777) != PICKUP_MODE_READY) {
		close(fd);
		if ((st.st_mode & 07777) == PICKUP_MODE_ABANDONED ||
		    clock_wall() - st.st_mtime > PICKUP_STALE)
			goto remove;
		return 0;	/* still being written */
	}
	if (st.st_size > P.max_size) {
		snprintf(err, sizeof(err), "file too large (%lld bytes)", (long long)st.st_size);
		goto bad;
	}
	size_t len = (size_t)st.st_size, got = 0;
	buf = xmalloc(len + 1);
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, sizeof(err), "read: %s", n < 0 ? strerror(errno) : "short file");
			goto bad;
		}
		got += (size_t)n;
	}
	close(fd);
	fd = -1;
	if (drop_parse(buf, len, &d, err, sizeof(err)) < 0)
		goto bad;
	char *sender = drop_sender(&d, st.st_uid);
	int q = drop_queue(name, &d, st.st_uid, sender, id, idlen, msgid, sizeof(msgid));
	if (q == 2) {		/* with the milters: pickup_milter.c finishes it */
		free(sender);
		drop_free(&d);
		free(buf);
		return 0;
	}
	if (q == 1) {		/* discarded by the checks (logged there) */
		free(sender);
		drop_free(&d);
		free(buf);
		goto remove;
	}
	if (q < 0) {
		log_warn("%s/%s: cannot create queue file: %s", PICKUP_DIR, name, strerror(errno));
		free(sender);
		drop_free(&d);
		free(buf);
		return 0;	/* temporary: try again on the next scan */
	}
	free(sender);
	drop_free(&d);
	free(buf);
	return 1;
bad:
	/* kept for a human in corrupt/ (Postfix's name), never retried */
	if (fd >= 0)
		close(fd);
	free(buf);
	log_set_service("pickup");
	if (P.corruptfd >= 0 && renameat(P.dropfd, name, P.corruptfd, name) == 0)
		log_warn("%s/%s: uid=%lu: %s: moved to corrupt", PICKUP_DIR, name,
		    (unsigned long)st.st_uid, err);
	else if (unlinkat(P.dropfd, name, 0) < 0 && errno != ENOENT)
		log_warn("%s/%s: uid=%lu: %s: cannot remove: %s", PICKUP_DIR, name,
		    (unsigned long)st.st_uid, err, strerror(errno));
	else
		log_warn("%s/%s: uid=%lu: %s: removed", PICKUP_DIR, name, (unsigned long)st.st_uid, err);
	log_set_service("qmgr");
	return -1;
remove:
	if (unlinkat(P.dropfd, name, 0) < 0 && errno != ENOENT)
		log_warn("remove %s/%s: %s", PICKUP_DIR, name, strerror(errno));
	return -1;
}

static void pickup_again(void *arg)
{
	pickup_scan();
}

void pickup_scan(void)
{
	char names[PICKUP_BATCH][64], ids[PICKUP_BATCH][SPOOL_ID_MAX];
	size_t n = 0;
	int more = 0;

	if (P.dropfd < 0)
		return;
	int fd = openat(P.dropfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	if (dir == NULL) {
		log_warn("scan %s: %s", PICKUP_DIR, strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	struct dirent *e;
	while ((e = readdir(dir)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
		    strlen(e->d_name) >= sizeof(names[0]))
			continue;
		if (n == PICKUP_BATCH) {
			more = 1;
			break;
		}
		if (pick_one(e->d_name, ids[n], sizeof(ids[n])) == 1)
			str_copy(names[n++], sizeof(names[0]), e->d_name);
	}
	closedir(dir);
	if (n == 0)
		return;
	/* the queue files are durable before their maildrop files go */
	if (spool_sync(P.infd) < 0) {
		log_warn("sync incoming: %s", strerror(errno));
		for (size_t i = 0; i < n; i++)
			unlinkat(P.infd, ids[i], 0);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (unlinkat(P.dropfd, names[i], 0) < 0)
			log_warn("remove %s/%s: %s", PICKUP_DIR, names[i], strerror(errno));
		if (P.queued_fn)
			P.queued_fn(ids[i]);
	}
	if (more)
		loop_timer_set(&P.again, 0, pickup_again, NULL);
}

static void pickup_timer(void *arg)
{
	pickup_scan();
	loop_timer_set(&P.timer, PICKUP_WAKEUP_MS, pickup_timer, NULL);
}

static void inotify_read(int fd, int events, void *arg)
{
	char ev[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	int any = 0;
	for (;;) {
		ssize_t n = read(fd, ev, sizeof(ev));
		if (n <= 0)
			break;
		any = 1;
	}
	if (any)
		pickup_scan();
}

void pickup_init(const struct config *cfg, int qfd, pickup_queued_fn *queued_fn)
{
	P.cfg = cfg;
	P.queued_fn = queued_fn;
	P.max_size = pickup_max_size(cfg);
	if (mkdirat(qfd, PICKUP_DIR, 0700) < 0 && errno != EEXIST)
		log_warn("mkdir %s: %s", PICKUP_DIR, strerror(errno));
	P.dropfd = openat(qfd, PICKUP_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	P.infd = openat(qfd, "incoming", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	P.corruptfd = openat(qfd, "corrupt", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	P.holdfd = openat(qfd, "hold", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	static struct pickup_fds fds;
	fds = (struct pickup_fds){ P.infd, P.dropfd, P.holdfd, queued_fn };
	pmilt_init(cfg, &fds);
	{
		char err[600];
		if (checks_open(&P.checks, cfg, err, sizeof(err)) < 0)
			log_warn("pickup: %s (not applied)", err);
	}
	if (P.corruptfd < 0)
		log_warn("open corrupt: %s (bad maildrop files are removed)", strerror(errno));
	if (P.dropfd < 0 || P.infd < 0) {
		log_warn("pickup disabled: open %s: %s", PICKUP_DIR, strerror(errno));
		return;
	}
	P.ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (P.ifd >= 0) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/self/fd/%d", P.dropfd);
		if (inotify_add_watch(P.ifd, path, IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
			log_warn("inotify %s: %s (scanning every %d s)", PICKUP_DIR, strerror(errno),
			    PICKUP_WAKEUP_MS / 1000);
			close(P.ifd);
			P.ifd = -1;
		} else {
			loop_watch(P.ifd, LOOP_READ, inotify_read, NULL);
		}
	}
	pickup_timer(NULL);
}

int pickup_parse(const char *buf, size_t len, char *err, size_t errlen)
{
	struct drop d;
	if (drop_parse(buf, len, &d, err, errlen) < 0)
		return -1;
	drop_free(&d);
	return 0;
}
