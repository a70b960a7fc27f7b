/*
 * commit — group commit of queue files. Sessions whose message is fully
 * written wait here; after the current batch of events one syncfs(2)
 * makes all their files durable, and only then each gets its 250.
 * Concurrent sessions so share one flush (DESIGN.md: "Where the time goes").
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"
#include "common/metrics.h"
#include "common/msg.h"
#include "common/util.h"
#include "mail/spool.h"
#include "smtp/engine_int.h"
#include "smtp/session.h"

static void qmgr_send(struct engine *e, uint16_t type, const char *id)
{
	struct msg m;
	msg_init(&m, type);
	if (id)
		msg_put_str(&m, id);
	if (msg_send(e->master_fd, &m) < 0)
		e->commit.qmgr_missed = 1;	/* the queue manager also scans on its own */
	msg_free(&m);
}

/* Tell the queue manager (through the master) a new file is in incoming/. */
void commit_notify_qmgr(struct engine *e, const char *id)
{
	if (e->commit.qmgr_missed) {
		e->commit.qmgr_missed = 0;
		qmgr_send(e, MSG_SCAN, NULL);
	}
	qmgr_send(e, MSG_QUEUED, id);
}

/*
 * The flush runs in one worker thread so the event loop keeps reading
 * while the disk works: messages that finish during a flush form the
 * next batch, so batches grow with the load instead of the loop stalling
 * (DESIGN.md's group commit). The thread only calls syncfs(2); it never
 * touches a session. Requests and completions travel over two eventfds.
 * The state is the engine's (struct commit_state); the worker reads only
 * the two eventfds and incoming_fd, and writes only sync_rc/sync_errno.
 */
static void *sync_worker(void *arg)
{
	struct engine *e = arg;
	struct commit_state *c = &e->commit;
	uint64_t v;
	for (;;) {
		if (read(c->efd_req, &v, sizeof(v)) != (ssize_t)sizeof(v)) {
			if (errno == EINTR)
				continue;
			return NULL;
		}
		int rc = spool_sync(e->incoming_fd);
		c->sync_errno = rc < 0 ? errno : 0;
		c->sync_rc = rc;
		v = 1;
		if (write(c->efd_done, &v, sizeof(v)) != (ssize_t)sizeof(v))
			return NULL;
	}
}

static void commit_start(void *arg);

/* The worker finished a flush: answer that batch, start the next. */
static void commit_done(int fd, int events, void *arg)
{
	struct engine *e = arg;
	struct commit_state *c = &e->commit;
	uint64_t v;
	if (read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
		return;
	struct session *list = c->inflight;
	int rc = c->sync_rc, err = c->sync_errno;
	c->inflight = NULL;
	c->syncing = 0;
	if (c->pending)
		commit_start(e);	/* the next batch is already waiting */
	for (struct session *s = list, *next; s; s = next) {
		next = s->commit_next;
		s->commit_next = NULL;
		s->state = SMTP_ST_CMD;
		if (rc < 0) {
			log_warn("%s: cannot sync queue file: %s", s->w->id, strerror(err));
			unlinkat(e->incoming_fd, s->w->id, 0);
			session_reply(s, "451 4.3.0 Error: queue file write error");
			s->cmd_ok[CMD_DATA]--;
		} else {
			log_set_service("cleanup");
			log_info("%s: message-id=<%s>", s->w->id, s->message_id ? s->message_id : "");
			log_set_service("smtpd");
			session_reply(s, "250 2.0.0 Ok: queued as %s", s->w->id);
			metrics_inc(M_MSG_RECEIVED, "smtpd");
			commit_notify_qmgr(e, s->w->id);
		}
		free(s->w);
		s->w = NULL;
		s->junk = 0;
		session_reset_transaction(s);
		session_resume(s);	/* may free s */
	}
}

static void commit_start(void *arg)
{
	struct engine *e = arg;
	struct commit_state *c = &e->commit;
	c->scheduled = 0;
	if (c->syncing || c->pending == NULL)
		return;
	if (c->efd_req < 0) {
		pthread_t th;
		c->efd_req = eventfd(0, EFD_CLOEXEC);
		c->efd_done = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (c->efd_req < 0 || c->efd_done < 0)
			fatal("eventfd: %s", strerror(errno));
		int err = pthread_create(&th, NULL, sync_worker, e);
		if (err != 0)
			fatal("cannot start the sync worker: %s", strerror(err));
		pthread_detach(th);
		loop_watch(c->efd_done, LOOP_READ, commit_done, e);
	}
	c->inflight = c->pending;
	c->pending = NULL;
	c->syncing = 1;
	uint64_t v = 1;
	if (write(c->efd_req, &v, sizeof(v)) != (ssize_t)sizeof(v))
		fatal("sync worker request: %s", strerror(errno));
}

/* Queue s for the next group sync; its reply waits until then. */
void commit_add(struct session *s)
{
	struct commit_state *c = &s->eng->commit;
	s->state = SMTP_ST_COMMIT;
	s->commit_next = c->pending;
	c->pending = s;
	if (!c->scheduled && !c->syncing) {
		c->scheduled = 1;
		loop_at_idle(commit_start, s->eng);
	}
}

/* s is going away while waiting: its file stays (it will be delivered). */
void commit_forget(struct session *s)
{
	struct session **lists[] = { &s->eng->commit.pending, &s->eng->commit.inflight };
	for (int i = 0; i < 2; i++)
		for (struct session **pp = lists[i]; *pp; pp = &(*pp)->commit_next)
			if (*pp == s) {
				*pp = s->commit_next;
				commit_notify_qmgr(s->eng, s->w->id);
				return;
			}
}
