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
#include "common/msg.h"
#include "common/util.h"
#include "smtp/smtpd.h"

static struct session *pending;
static int scheduled;
static int qmgr_missed;		/* a hint was lost: ask for a full scan */

static void qmgr_send(uint16_t type, const char *id)
{
	struct msg m;
	msg_init(&m, type);
	if (id)
		msg_put_str(&m, id);
	if (msg_send(eng.master_fd, &m) < 0)
		qmgr_missed = 1;	/* the queue manager also scans on its own */
	msg_free(&m);
}

/* Tell the queue manager (through the master) a new file is in incoming/. */
void commit_notify_qmgr(const char *id)
{
	if (qmgr_missed) {
		qmgr_missed = 0;
		qmgr_send(MSG_SCAN, NULL);
	}
	qmgr_send(MSG_QUEUED, id);
}

/*
 * The flush runs in one worker thread so the event loop keeps reading
 * while the disk works: messages that finish during a flush form the
 * next batch, so batches grow with the load instead of the loop stalling
 * (DESIGN.md's group commit). The thread only calls syncfs(2); it never
 * touches a session. Requests and completions travel over two eventfds.
 */
static struct session *inflight;	/* the batch the worker is flushing */
static int syncing;
static int efd_req = -1, efd_done = -1;
static volatile int sync_rc, sync_errno;

static void *sync_worker(void *arg)
{
	uint64_t v;
	for (;;) {
		if (read(efd_req, &v, sizeof(v)) != (ssize_t)sizeof(v)) {
			if (errno == EINTR)
				continue;
			return NULL;
		}
		int rc = spool_sync(eng.incoming_fd);
		sync_errno = rc < 0 ? errno : 0;
		sync_rc = rc;
		v = 1;
		if (write(efd_done, &v, sizeof(v)) != (ssize_t)sizeof(v))
			return NULL;
	}
}

static void commit_start(void *arg);

/* The worker finished a flush: answer that batch, start the next. */
static void commit_done(int fd, int events, void *arg)
{
	uint64_t v;
	if (read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
		return;
	struct session *list = inflight;
	int rc = sync_rc, err = sync_errno;
	inflight = NULL;
	syncing = 0;
	if (pending)
		commit_start(NULL);	/* the next batch is already waiting */
	for (struct session *s = list, *next; s; s = next) {
		next = s->commit_next;
		s->commit_next = NULL;
		s->state = SMTP_ST_CMD;
		if (rc < 0) {
			log_warn("%s: cannot sync queue file: %s", s->w->id, strerror(err));
			unlinkat(eng.incoming_fd, s->w->id, 0);
			session_reply(s, "451 4.3.0 Error: queue file write error");
			s->cmd_ok[CMD_DATA]--;
		} else {
			log_set_service("cleanup");
			log_info("%s: message-id=<%s>", s->w->id, s->message_id ? s->message_id : "");
			log_set_service("smtpd");
			session_reply(s, "250 2.0.0 Ok: queued as %s", s->w->id);
			commit_notify_qmgr(s->w->id);
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
	scheduled = 0;
	if (syncing || pending == NULL)
		return;
	if (efd_req < 0) {
		pthread_t th;
		efd_req = eventfd(0, EFD_CLOEXEC);
		efd_done = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (efd_req < 0 || efd_done < 0)
			fatal("eventfd: %s", strerror(errno));
		int e = pthread_create(&th, NULL, sync_worker, NULL);
		if (e != 0)
			fatal("cannot start the sync worker: %s", strerror(e));
		pthread_detach(th);
		loop_watch(efd_done, LOOP_READ, commit_done, NULL);
	}
	inflight = pending;
	pending = NULL;
	syncing = 1;
	uint64_t v = 1;
	if (write(efd_req, &v, sizeof(v)) != (ssize_t)sizeof(v))
		fatal("sync worker request: %s", strerror(errno));
}

/* Queue s for the next group sync; its reply waits until then. */
void commit_add(struct session *s)
{
	s->state = SMTP_ST_COMMIT;
	s->commit_next = pending;
	pending = s;
	if (!scheduled && !syncing) {
		scheduled = 1;
		loop_at_idle(commit_start, NULL);
	}
}

/* s is going away while waiting: its file stays (it will be delivered). */
void commit_forget(struct session *s)
{
	struct session **lists[] = { &pending, &inflight };
	for (int i = 0; i < 2; i++)
		for (struct session **pp = lists[i]; *pp; pp = &(*pp)->commit_next)
			if (*pp == s) {
				*pp = s->commit_next;
				commit_notify_qmgr(s->w->id);
				return;
			}
}
