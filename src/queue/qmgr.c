/*
 * qmgr — the queue process (see qmgr.h). One event loop:
 *   - the master's socketpair: MSG_QUEUED "ID" (new file in incoming/) and
 *     MSG_SCAN (hints were lost: scan now);
 *   - public/qmgr (unix datagram, mode 0622): "ID" hints from local tools;
 *   - a timer every queue_run_delay: scan incoming/ and the due files of
 *     deferred/ (mtime = time of the next attempt, as Postfix);
 *   - deliveries run from loop_at_idle, QMGR_BATCH messages at a time, so
 *     hints keep being read while 20,000 files wait.
 * One batch: read queue files, expand recipients, hand every Maildir copy
 * to the local delivery process (qlocal: it writes the tmp files, one
 * syncfs, rename to new/, one syncfs), then log, mark recipients done and
 * remove or defer the queue files. A queue file is never removed before
 * its mailbox copies are durable; if the local process goes away
 * mid-batch, the queue manager exits without touching the batch's files
 * (the master restarts the two together and the files are picked again).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/loop.h"
#include "common/msg.h"
#include "common/sandbox.h"
#include "common/util.h"
#include "dns/dns.h"
#include "queue/showq.h"
#include "queue/pickup.h"
#include "queue/qmgr.h"
#include "queue/qlocal.h"
#include "queue/qmgr_int.h"
#include "mail/resolve.h"
#include "mail/spool.h"

#define QMGR_BATCH		64	/* messages per delivery batch */
#define QMGR_ACTIVE_MAX		2000	/* messages open at once (each holds its queue file) */
#define QMGR_INCOMPLETE_AGE	3600	/* s: older incomplete incoming files are dead */
#define QMGR_RESCAN_MS		1000	/* rescan incoming/ at most this often when idle */
#define QMGR_DRAIN_MAX		15	/* s: an old engine is gone this long after a new
					 * master started (engine drain deadline 10 s) */

enum qdir { Q_INCOMING, Q_DEFERRED, Q_CORRUPT, Q_NDIRS };
static const char *const qdir_names[Q_NDIRS] = { "incoming", "deferred", "corrupt" };

struct qjob {
	char id[SPOOL_ID_MAX];
	enum qdir dir;
};

/* The set of IDs queued or being delivered (no file is picked twice). */
struct idset {
	char (*slot)[SPOOL_ID_MAX];	/* "" = empty, "\1" = deleted */
	size_t cap, used;		/* used counts deleted slots too */
};

static struct qmgr {
	const struct config *cfg;
	struct resolver *res;
	int dirfd[Q_NDIRS];
	int pubfd, sock;
	int local_fd;			/* the local delivery process */
	struct qjob *jobs;		/* ring buffer */
	size_t head, njobs, jobcap;
	struct idset ids;
	struct loop_timer scan_timer, dead_timer;
	time_t master_start;		/* 0 if unknown */
	uint64_t last_rescan;
	long run_delay, min_backoff, max_backoff, lifetime, bounce_lifetime, delay_warn;
	size_t nactive;			/* messages read and not yet finished */
	int stopping;
} Q;

/* ---- clock (wall time, replaceable in one place) ---- */

/* ---- ID set: open addressing with tombstones ---- */

static size_t id_hash(const char *id)
{
	size_t h = 5381;
	for (; *id; id++)
		h = h * 33 + (unsigned char)*id;
	return h;
}

static size_t idset_find(const struct idset *s, const char *id, int for_insert)
{
	size_t i = id_hash(id) & (s->cap - 1), tomb = (size_t)-1;
	for (;;) {
		if (s->slot[i][0] == '\0')
			return for_insert && tomb != (size_t)-1 ? tomb : i;
		if (s->slot[i][0] == '\1') {
			if (tomb == (size_t)-1)
				tomb = i;
		} else if (strcmp(s->slot[i], id) == 0) {
			return i;
		}
		i = (i + 1) & (s->cap - 1);
	}
}

static int idset_has(const struct idset *s, const char *id)
{
	return s->cap && s->slot[idset_find(s, id, 0)][0] > '\1';
}

static void idset_add(struct idset *s, const char *id)
{
	if (s->cap == 0 || (s->used + 1) * 2 > s->cap) {
		struct idset n = { NULL, s->cap ? s->cap * 2 : 1024, 0 };
		n.slot = xcalloc(n.cap, sizeof(*n.slot));
		for (size_t i = 0; i < s->cap; i++)
			if (s->slot[i][0] > '\1') {
				memcpy(n.slot[idset_find(&n, s->slot[i], 1)], s->slot[i], SPOOL_ID_MAX);
				n.used++;
			}
		free(s->slot);
		*s = n;
	}
	size_t i = idset_find(s, id, 1);
	if (s->slot[i][0] > '\1')
		return;
	if (s->slot[i][0] == '\0')
		s->used++;
	str_copy(s->slot[i], SPOOL_ID_MAX, id);
}

static void idset_del(struct idset *s, const char *id)
{
	if (s->cap == 0)
		return;
	size_t i = idset_find(s, id, 0);
	if (s->slot[i][0] > '\1')
		s->slot[i][0] = '\1';
}

/* ---- job queue ---- */

static void batch_run(void *arg);

static void kick(void)
{
	if (Q.njobs > 0 && !Q.stopping && Q.nactive < QMGR_ACTIVE_MAX)
		loop_at_idle(batch_run, NULL);
}

static void job_add(const char *id, enum qdir dir)
{
	if (!spool_valid_id(id) || idset_has(&Q.ids, id))
		return;
	if (Q.njobs == Q.jobcap) {
		size_t ncap = Q.jobcap ? Q.jobcap * 2 : 256;
		struct qjob *n = xcalloc(ncap, sizeof(*n));
		for (size_t i = 0; i < Q.njobs; i++)
			n[i] = Q.jobs[(Q.head + i) % Q.jobcap];
		free(Q.jobs);
		Q.jobs = n;
		Q.jobcap = ncap;
		Q.head = 0;
	}
	struct qjob *j = &Q.jobs[(Q.head + Q.njobs++) % Q.jobcap];
	str_copy(j->id, sizeof(j->id), id);
	j->dir = dir;
	idset_add(&Q.ids, id);
	kick();
}

/* Queue every file of a queue directory (deferred: only the due ones). */
static void scan_dir(enum qdir which)
{
	int fd = openat(Q.dirfd[which], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	time_t now = clock_wall();
	struct dirent *e;

	if (d == NULL) {
		log_warn("scan %s: %s", qdir_names[which], strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	int64_t nfiles = 0;
	while ((e = readdir(d)) != NULL) {
		nfiles += e->d_name[0] != '.';
		if (e->d_name[0] == '.' || idset_has(&Q.ids, e->d_name))
			continue;
		if (which == Q_DEFERRED) {
			struct stat st;
			if (fstatat(Q.dirfd[which], e->d_name, &st, 0) < 0 || st.st_mtime > now)
				continue;
		}
		job_add(e->d_name, which);
	}
	closedir(d);
	if (which == Q_DEFERRED)
		metrics_set(M_QUEUE_SIZE, "deferred", nfiles);
	if (which == Q_INCOMING)
		Q.last_rescan = clock_mono_ms();
}

/* Once the engines of an earlier master are surely gone: clean up. */
static void dead_scan(void *arg)
{
	scan_dir(Q_INCOMING);
}

static void scan_timer(void *arg)
{
	scan_dir(Q_INCOMING);
	scan_dir(Q_DEFERRED);
	loop_timer_set(&Q.scan_timer, (uint64_t)Q.run_delay * 1000, scan_timer, NULL);
}

/* One local delivery attempt of one final destination. */
struct qdel {
	struct qmsg *m;
	size_t rcpt;
	const struct dest *d;
	int item;			/* local delivery item, or -1 */
	long dup;			/* earlier qdel with the same mailbox, or -1 */
	enum qres_status result;
	const char *dsn;
	char why[600];
};

/* ---- one batch ---- */

/* Start time of our parent (the master), from /proc; 0 if unknown. Engines
 * of an earlier master got SIGTERM before it started and exit within their
 * 10 s drain deadline, so files they left unfinished are dead after that. */
static time_t master_start_time(void)
{
	char path[64], buf[1024];
	unsigned long long ticks = 0, btime = 0;
	FILE *fp;

	if (getppid() <= 1)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)getppid());
	if ((fp = fopen(path, "r")) == NULL)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');	/* the command name may hold spaces */
	/* after ")": state ppid pgrp ... field 22 is starttime (19 further) */
	for (int f = 0; p != NULL && f < 20; f++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p + 1, "%llu", &ticks) != 1)
		return 0;
	if ((fp = fopen("/proc/stat", "r")) == NULL)
		return 0;
	while (fgets(buf, sizeof(buf), fp) != NULL)
		if (sscanf(buf, "btime %llu", &btime) == 1)
			break;
	fclose(fp);
	long hz = sysconf(_SC_CLK_TCK);
	return btime && hz > 0 ? (time_t)(btime + ticks / (unsigned long long)hz) : 0;
}

/* Whether an unfinished incoming file can no longer be being written. */
static int writer_gone(int dirfd, const char *id, const struct stat *st)
{
	time_t now = clock_wall();
	int fd = openat(dirfd, id, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {		/* a writer holding a lock is alive */
		int locked = flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK;
		close(fd);
		if (locked)
			return 0;
	}
	if (now - st->st_mtime >= QMGR_INCOMPLETE_AGE)
		return 1;
	return Q.master_start > 0 && st->st_mtime < Q.master_start &&
	    now >= Q.master_start + QMGR_DRAIN_MAX;
}

/* A file spool_read() refused: skip it, remove it or move it to corrupt/.
 * In incoming/ a file may still be being written by the engine (a scan can
 * see it before its hint): it is left alone until writer_gone(). Then one
 * without its end record was never acknowledged and is removed. */
static void bad_file(const struct qjob *j, const char *err)
{
	struct stat st;
	int fd = Q.dirfd[j->dir];

	if (fstatat(fd, j->id, &st, 0) < 0)
		return;		/* already gone: a stale hint */
	if (j->dir == Q_INCOMING) {
		if (!writer_gone(fd, j->id, &st))
			return;
		if (strstr(err, "incomplete") != NULL || st.st_size < 4) {
			if (unlinkat(fd, j->id, 0) < 0)
				log_warn("%s: remove incomplete queue file: %s", j->id, strerror(errno));
			else
				log_warn("%s: %s: removed (never acknowledged)", j->id, err);
			return;
		}
	}
	if (renameat(fd, j->id, Q.dirfd[Q_CORRUPT], j->id) < 0)
		log_warn("%s: %s: cannot move to corrupt: %s", j->id, err, strerror(errno));
	else
		log_warn("%s: %s: moved to corrupt", j->id, err);
}

static long backoff(double age)
{
	long b = Q.min_backoff;
	while (b < Q.max_backoff && (double)b <= age)
		b *= 2;
	return b > Q.max_backoff ? Q.max_backoff : b;
}

/* A DSN of kind for the failures of m it reports, queued in incoming/;
 * logged "sender non-delivery notification" or "sender delay
 * notification" as Postfix does. 0 queued, -1 nothing to send or failed. */
static int queue_dsn(struct qmsg *m, enum bounce_kind kind)
{
	const int delayed = kind == BOUNCE_DELAYED;
	char newid[SPOOL_ID_MAX];
	int any = 0;

	for (size_t i = 0; i < m->nfail; i++)
		any |= bounce_reported(m, &m->fails[i], kind);
	if (!any || m->env.sender[0] == '\0')
		return -1;	/* never a bounce for a bounce */
	if (bounce_create(Q.cfg, Q.dirfd[Q_INCOMING], m, kind, newid, sizeof(newid)) < 0) {
		log_warn("%s: cannot create %s: %s", m->env.id,
		    delayed ? "delay notification" : "bounce message", strerror(errno));
		return -1;
	}
	if (spool_sync(Q.dirfd[Q_INCOMING]) < 0)
		log_warn("%s: sync %s %s: %s", m->env.id, delayed ? "delay notification" : "bounce",
		    newid, strerror(errno));
	log_info("%s: sender %s notification: %s", m->env.id,
	    delayed ? "delay" : "non-delivery", newid);
	job_add(newid, Q_INCOMING);
	return 0;
}

/* Once a message has waited delay_warning_time, tell the sender which
 * recipients are still being retried (once per recipient: 'W' in the
 * queue file). */
static void send_delay_warning(struct qmsg *m, double age)
{
	if (Q.delay_warn <= 0 || age < (double)Q.delay_warn ||
	    queue_dsn(m, BOUNCE_DELAYED) < 0)
		return;
	for (size_t i = 0; i < m->nfail; i++)
		if (bounce_reported(m, &m->fails[i], BOUNCE_DELAYED) &&
		    spool_mark_warned(&m->env, m->fails[i].ri) < 0)
			log_warn("%s: mark recipient warned: %s", m->env.id, strerror(errno));
}

/* All recipients handled (local and remote): mark them, send a DSN for
 * the failed ones, then remove the file or defer it with backoff. */
void qmgr_finish(struct qmsg *m)
{
	struct spool_env *e = &m->env;
	size_t left = 0;
	double age = clock_wall_f() - (double)e->arrival_sec;
	long lifetime = e->sender[0] ? Q.lifetime : Q.bounce_lifetime;
	int expired = 0;

	log_set_service("qmgr");
	for (size_t i = 0; i < e->nrcpt; i++) {
		if (e->rcpt[i].status == SPOOL_ST_DONE)
			continue;
		if (m->pending[i]) {
			left++;
		} else if (spool_mark_done(e, i) < 0) {
			log_warn("%s: mark recipient done: %s", e->id, strerror(errno));
			left++;
		}
	}
	if (left > 0 && age >= (double)lifetime) {
		log_info("%s: from=<%s>, status=expired, returned to sender", e->id, e->sender);
		expired = 1;
		left = 0;
	}
	/* permanent failures get their DSN now; with expiry, every failure */
	queue_dsn(m, expired ? BOUNCE_EXPIRED : BOUNCE_FAILED);
	if (left > 0)
		send_delay_warning(m, age);
	if (left == 0) {
		if (unlinkat(Q.dirfd[m->dir], e->id, 0) < 0)
			log_warn("%s: remove queue file: %s", e->id, strerror(errno));
		else
			log_info("%s: removed", e->id);
		if (m->dir == Q_DEFERRED)
			metrics_gauge_add(M_QUEUE_SIZE, "deferred", -1);
	} else {
		struct timespec ts[2];
		ts[0].tv_sec = ts[1].tv_sec = clock_wall() + backoff(age);
		ts[0].tv_nsec = ts[1].tv_nsec = 0;
		if (futimens(e->fd, ts) < 0)
			log_warn("%s: set retry time: %s", e->id, strerror(errno));
		if (m->dir != Q_DEFERRED &&
		    renameat(Q.dirfd[m->dir], e->id, Q.dirfd[Q_DEFERRED], e->id) < 0)
			log_warn("%s: move to deferred: %s", e->id, strerror(errno));
		else if (m->dir != Q_DEFERRED)
			metrics_gauge_add(M_QUEUE_SIZE, "deferred", 1);
	}
	idset_del(&Q.ids, e->id);
	free(m->pending);
	qmsg_free_fails(m);
	spool_env_free(e);
	free(m);
	Q.nactive--;
	metrics_set(M_QUEUE_SIZE, "active", (int64_t)Q.nactive);
	kick();
}

/* Turn a resolved destination into a delivery attempt: Maildir items
 * join the batch; smtp, lmtp and error go to outbound. */
static void plan_dest(struct qmsg *m, size_t ri, const struct dest *d,
    struct qdel **qd, size_t *nqd, size_t *qcap, struct qlocal_batch *mb)
{
	if (outbound_add(m, ri, d))
		return;
	if (*nqd == *qcap) {
		*qcap = *qcap ? *qcap * 2 : 128;
		*qd = xrealloc(*qd, *qcap * sizeof(**qd));
	}
	struct qdel *q = &(*qd)[(*nqd)++];
	memset(q, 0, sizeof(*q));
	q->m = m;
	q->rcpt = ri;
	q->d = d;
	q->item = -1;
	q->dup = -1;
	switch (d->kind) {
	case DEST_MAILDIR:
		/* The same mailbox twice in one message: deliver once (Postfix). */
		for (size_t k = 0; k + 1 < *nqd; k++) {
			const struct qdel *o = &(*qd)[k];
			if (o->m == m && o->d->kind == DEST_MAILDIR && o->dup < 0 &&
			    strcmp(o->d->path, d->path) == 0 && strcmp(o->d->addr, d->addr) == 0) {
				q->dup = (long)k;
				return;
			}
		}
		q->item = qlocal_add(mb, d, m->env.sender, m->env.fd, m->env.body_off,
		    m->env.body_len, q->why, sizeof(q->why));
		if (q->item < 0) {
			q->result = QR_DEFER;
			q->dsn = "4.2.0";
		}
		break;
	case DEST_MBOX:
	case DEST_DEFER:
		q->result = QR_DEFER;
		q->dsn = "4.3.0";
		snprintf(q->why, sizeof(q->why), "%s", d->reason ? d->reason : "not implemented");
		break;
	case DEST_BOUNCE:
		q->result = QR_BOUNCE;
		q->dsn = strstr(d->reason, "loop") ? "5.4.6" : "5.1.1";
		snprintf(q->why, sizeof(q->why), "%s", d->reason);
		break;
	case DEST_RELAY:
	case DEST_LMTP:
		break;
	}
}

struct expansion_list {
	struct dest *d;
	size_t n;
};

static void batch_run(void *arg)
{
	struct qmsg *msgs[QMGR_BATCH];
	struct expansion_list *exps = NULL;
	size_t nmsg = 0, nexp = 0, expcap = 0, nqd = 0, qcap = 0;
	struct qdel *qd = NULL;
	struct qlocal_batch *mb;
	char err[256];

	if (Q.stopping)
		return;		/* SIGTERM came before this batch started */
	mb = qlocal_batch_new(Q.local_fd);
	log_set_service("qmgr");
	while (nmsg < QMGR_BATCH && Q.njobs > 0 && Q.nactive < QMGR_ACTIVE_MAX) {
		struct qjob j = Q.jobs[Q.head];
		Q.head = (Q.head + 1) % Q.jobcap;
		Q.njobs--;
		struct qmsg *m = xcalloc(1, sizeof(*m));
		if (spool_read(Q.dirfd[j.dir], j.id, &m->env, err, sizeof(err)) < 0) {
			bad_file(&j, err);
			idset_del(&Q.ids, j.id);
			free(m);
			continue;
		}
		m->dir = j.dir;
		m->t_active = clock_wall_f();
		m->pending = xcalloc(m->env.nrcpt + 1, 1);
		m->refs = 1;		/* this batch */
		Q.nactive++;
		metrics_set(M_QUEUE_SIZE, "active", (int64_t)Q.nactive);
		log_info("%s: from=<%s>, size=%zu, nrcpt=%zu (queue active)", m->env.id,
		    m->env.sender, m->env.body_len, m->env.nrcpt);
		msgs[nmsg++] = m;
	}
	double t_start = clock_wall_f();
	for (size_t mi = 0; mi < nmsg; mi++) {
		struct qmsg *m = msgs[mi];
		for (size_t ri = 0; ri < m->env.nrcpt; ri++) {
			if (m->env.rcpt[ri].status == SPOOL_ST_DONE)
				continue;
			if (nexp == expcap) {
				expcap = expcap ? expcap * 2 : 64;
				exps = xrealloc(exps, expcap * sizeof(*exps));
			}
			struct expansion_list *x = &exps[nexp++];
			x->n = 0;
			x->d = NULL;
			if (m->env.filter) {
				/* content filter: the whole envelope goes there as
				 * received; the mappings come after re-injection */
				outbound_add_filter(m, ri, m->env.filter);
				continue;
			}
			if (resolve_expand_flags(Q.res, m->env.rcpt[ri].addr,
			    m->env.no_address_mappings ? RESOLVE_NO_VIRTUAL_ALIAS : 0, &x->d, &x->n) < 0) {
				x->n = 0;
				x->d = NULL;
				m->pending[ri] = 1;
				continue;
			}
			for (size_t k = 0; k < x->n; k++)
				plan_dest(m, ri, &x->d[k], &qd, &nqd, &qcap, mb);
		}
	}
	qlocal_commit(mb);
	if (qlocal_broken(mb)[0] != '\0' && Q.local_fd >= 0) {
		/* Nothing of this batch is marked or removed: its files are
		 * picked again by the next queue manager. */
		log_warn("%s; exiting, to be restarted with it", qlocal_broken(mb));
		exit(1);
	}
	double t_done = clock_wall_f();
	for (size_t k = 0; k < nqd; k++) {
		struct qdel *q = &qd[k];
		struct qmsg *m = q->m;
		if (q->dup >= 0) {
			if (qd[q->dup].result == QR_DEFER)
				m->pending[q->rcpt] = 1;
			continue;
		}
		const char *why = q->why;
		if (q->item >= 0) {
			if (qlocal_ok(mb, (size_t)q->item)) {
				q->result = QR_SENT;
				q->dsn = "2.0.0";
				why = "delivered to maildir";
			} else {
				q->result = QR_DEFER;
				q->dsn = "4.2.0";
				snprintf(q->why, sizeof(q->why), "maildir delivery failed: %s",
				    qlocal_why(mb, (size_t)q->item));
			}
		}
		struct qres r = {
			.addr = q->d->addr, .orig = q->d->orig, .service = q->d->service,
			.relay = q->d->service, .status = q->result, .dsn = q->dsn, .why = why,
			.t_start = t_start, .t_xfer = t_start, .t_done = t_done,
		};
		qmsg_result(m, q->rcpt, &r);
	}
	qlocal_batch_free(mb);
	/* smtp/lmtp deliveries start now; a message without any is done */
	for (size_t mi = 0; mi < nmsg; mi++) {
		outbound_dispatch(msgs[mi]);
		qmsg_unref(msgs[mi]);
	}
	for (size_t i = 0; i < nexp; i++)
		resolve_dests_free(exps[i].d, exps[i].n);
	free(exps);
	free(qd);
	/* Hints may have been dropped while we were busy (full socket
	 * queue): look at incoming/ once the queue drains. */
	if (Q.njobs == 0 && !Q.stopping && clock_mono_ms() - Q.last_rescan >= QMGR_RESCAN_MS)
		scan_dir(Q_INCOMING);
	if (Q.stopping)
		loop_exit();
	kick();
}

static void picked_up(const char *id) { job_add(id, Q_INCOMING); }	/* from pickup.c */

/* ---- socket and signals ---- */

static void hint_read(int fd, int events, void *arg)
{
	char buf[SPOOL_ID_MAX + 2];

	for (int i = 0; i < 1024; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_warn("recv public/qmgr: %s", strerror(errno));
			return;
		}
		while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\0'))
			n--;
		buf[n] = '\0';
		if (strcmp(buf, "SCAN") == 0) { scan_dir(Q_INCOMING); scan_dir(Q_DEFERRED); continue; }	/* mailwarden queue flush */
		job_add(buf, Q_INCOMING);
	}
}

/* MSG_QUEUED and MSG_SCAN from the master; EOF means the master is gone. */
static void master_read(int fd, int events, void *arg)
{
	struct msg m;

	for (int i = 0; i < 1024; i++) {
		int r = msg_recv(fd, &m);
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		if (r <= 0) {
			log_set_service("qmgr");
			if (r < 0)
				log_warn("master socket: %s", strerror(errno));
			log_info("master went away: stopping");
			loop_unwatch(fd);
			Q.stopping = 1;
			loop_exit();
			return;
		}
		if (m.type == MSG_QUEUED) {
			const char *id = msg_get_str(&m);
			if (msg_end(&m) == 0)
				job_add(id, Q_INCOMING);
			else
				log_warn("malformed MSG_QUEUED from master");
		} else if (m.type == MSG_SCAN) {
			scan_dir(Q_INCOMING);
			scan_dir(Q_DEFERRED);
		} else {
			log_warn("unexpected message type %u from master", m.type);
		}
		msg_free(&m);
	}
}

static void on_stop(int signo, void *arg)
{
	log_set_service("qmgr");
	log_info("stopping on signal %d", signo);
	Q.stopping = 1;
	loop_exit();
}

static void open_socket(const char *qdir)
{
	struct sockaddr_un sun;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	int n = snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/public/qmgr", qdir);
	if (n < 0 || (size_t)n >= sizeof(sun.sun_path))	/* long path: via the dir fd */
		n = snprintf(sun.sun_path, sizeof(sun.sun_path), "/proc/self/fd/%d/qmgr", Q.pubfd);
	if (n < 0 || (size_t)n >= sizeof(sun.sun_path))
		fatal("public/qmgr: socket path too long");
	if (unlinkat(Q.pubfd, "qmgr", 0) < 0 && errno != ENOENT)
		fatal("remove stale %s: %s", sun.sun_path, strerror(errno));
	Q.sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (Q.sock < 0)
		fatal("socket: %s", strerror(errno));
	if (bind(Q.sock, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		fatal("bind %s: %s", sun.sun_path, strerror(errno));
	if (showq_sock_mode(Q.pubfd, "qmgr", 0620, config_get(Q.cfg, "setgid_group")) < 0)
		fatal("chmod %s: %s", sun.sun_path, strerror(errno));
	loop_watch(Q.sock, LOOP_READ, hint_read, NULL);
}

static int open_subdir(int qfd, const char *qdir, const char *name, mode_t mode)
{
	if (mkdirat(qfd, name, mode) < 0 && errno != EEXIST)
		fatal("mkdir %s/%s: %s", qdir, name, strerror(errno));
	int fd = openat(qfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		fatal("open %s/%s: %s", qdir, name, strerror(errno));
	return fd;
}

void qmgr_main(const struct config *cfg, int master_fd, int local_fd)
{
	char err[512];
	const char *qdir = config_get(cfg, "queue_directory");

	log_set_service("qmgr");
	loop_init();
	memset(&Q, 0, sizeof(Q));
	Q.cfg = cfg;
	Q.local_fd = local_fd;
	Q.run_delay = config_get_time(cfg, "queue_run_delay");
	Q.min_backoff = config_get_time(cfg, "minimal_backoff_time");
	Q.max_backoff = config_get_time(cfg, "maximal_backoff_time");
	Q.lifetime = config_get_time(cfg, "maximal_queue_lifetime");
	Q.bounce_lifetime = config_get_time(cfg, "bounce_queue_lifetime");
	Q.delay_warn = config_get_time(cfg, "delay_warning_time");
	if ((Q.res = resolve_open(cfg, err, sizeof(err))) == NULL)
		fatal("%s", err);
	if (dns_init(cfg, err, sizeof(err)) < 0)
		fatal("%s", err);
	if (outbound_init(cfg, err, sizeof(err)) < 0)
		fatal("%s", err);
	int qfd = open(qdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (qfd < 0)
		fatal("open queue_directory %s: %s", qdir, strerror(errno));
	/* One queue manager at a time: after a reload the old one finishes
	 * its batch while holding this lock (kept until exit). */
	for (int i = 0; flock(qfd, LOCK_EX | LOCK_NB) < 0; i++) {
		if (errno != EWOULDBLOCK)
			fatal("lock queue_directory %s: %s", qdir, strerror(errno));
		if (i == 300) {
			log_warn("another queue manager still holds %s after 30s; starting anyway", qdir);
			break;
		}
		usleep(100000);
	}
	for (int i = 0; i < Q_NDIRS; i++)
		Q.dirfd[i] = open_subdir(qfd, qdir, qdir_names[i], 0700);
	Q.pubfd = open_subdir(qfd, qdir, "public", 0711);
	open_socket(qdir);
	showq_open(cfg, qfd, Q.pubfd);
	pickup_init(cfg, qfd, picked_up);
	loop_signal(SIGTERM, on_stop, NULL);
	loop_signal(SIGINT, on_stop, NULL);
	if (master_fd >= 0)
		loop_watch(master_fd, LOOP_READ, master_read, NULL);
	log_info("queue manager started: %s", qdir);
	Q.master_start = master_start_time();
	time_t now = clock_wall();
	if (Q.master_start > 0 && now < Q.master_start + QMGR_DRAIN_MAX + 1)
		loop_timer_set(&Q.dead_timer,
		    (uint64_t)(Q.master_start + QMGR_DRAIN_MAX + 1 - now) * 1000, dead_scan, NULL);
	scan_timer(NULL);
	/* the allow-list is in src/common/sandbox.c (SANDBOX_QMGR) */
	if (sandbox_enter(cfg, SANDBOX_QMGR, master_fd, err, sizeof(err)) < 0)
		fatal("%s", err);
	loop_run();
	/* loop_run() returns between batches: nothing is half-delivered. The
	 * socket path stays (a successor may already have bound its own). */
	close(Q.sock);
	showq_close();
	outbound_shutdown();
	resolve_free(Q.res);
	exit(0);
}
