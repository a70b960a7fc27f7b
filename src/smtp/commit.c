/*
 * commit — group commit of queue files. Sessions whose message is fully
 * written wait here; after the current batch of events one syncfs(2)
 * makes all their files durable, and only then each gets its 250.
 * Concurrent sessions so share one flush (DESIGN.md: "Where the time goes").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static void commit_run(void *arg)
{
	struct session *list = pending;
	pending = NULL;
	scheduled = 0;
	if (list == NULL)
		return;
	int rc = spool_sync(eng.incoming_fd);
	int err = errno;
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

/* Queue s for the next group sync; its reply waits until then. */
void commit_add(struct session *s)
{
	s->state = SMTP_ST_COMMIT;
	s->commit_next = pending;
	pending = s;
	if (!scheduled) {
		scheduled = 1;
		loop_at_idle(commit_run, NULL);
	}
}

/* s is going away while waiting: its file stays (it will be delivered). */
void commit_forget(struct session *s)
{
	for (struct session **pp = &pending; *pp; pp = &(*pp)->commit_next)
		if (*pp == s) {
			*pp = s->commit_next;
			commit_notify_qmgr(s->w->id);
			return;
		}
}
