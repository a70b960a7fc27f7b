/*
 * event — events for the ban engine (see event.h), written to the write
 * end of the master's event socketpair (engine's warden_fd, -1: none).
 */
#include <sys/socket.h>

#include "common/msg.h"
#include "smtp/engine_int.h"
#include "smtp/event.h"
#include "smtp/session.h"

void event_send(struct session *s, enum warden_event kind, const char *user, const char *text)
{
	if (s->eng->warden_fd < 0)
		return;
	struct msg m;
	msg_init(&m, MSG_WARDEN_EVENT);
	msg_put_u32(&m, (uint32_t)kind);
	msg_put_str(&m, s->addr);
	msg_put_str(&m, user ? user : "");
	msg_put_str(&m, text ? text : "");
	/* Best effort: a busy warden (full socket buffer) loses the event, the
	 * session never waits for it. The socketpair is the master's: events
	 * sent while the warden restarts wait in it. */
	(void)send(s->eng->warden_fd, m.b.data, m.b.len, MSG_DONTWAIT | MSG_NOSIGNAL);
	msg_free(&m);
}
