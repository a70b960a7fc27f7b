/*
 * milter_conn — the connections of a session's milters: a non-blocking
 * connect within milter_connection_limit (beyond it the session waits in
 * a first-come queue up to milter_connect_timeout), option negotiation
 * offered, output written as the socket takes it, replies read and cut
 * into packets for milter_reply.c, timeouts, and a failure closing the
 * connection and handing the event back to milter.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/util.h"
#include "milter/milter.h"
#include "milter/milter_int.h"

static size_t open_conns;			/* connected or connecting */
static struct mconn *wait_head, *wait_tail;	/* waiting for a slot */

static void conn_io(int fd, int events, void *arg);

size_t milter_open_connections(void)
{
	return open_conns;
}

static void wait_remove(struct mconn *c)
{
	struct mconn **pp = &wait_head, *prev = NULL;
	for (; *pp; prev = *pp, pp = &(*pp)->wnext)
		if (*pp == c) {
			*pp = c->wnext;
			if (wait_tail == c)
				wait_tail = prev;
			c->wnext = NULL;
			return;
		}
}

/* A slot reserved for c by hand_slot(): start it now, from the loop. */
static void slot_handed(void *arg)
{
	struct mconn *c = arg;
	c->handed = 0;
	open_conns--;
	milter_conn_start(c);
}

/* A slot is free: reserve it for the first waiting session, which starts
 * on the next loop turn. Not at once: the closing session's code would run
 * another session's connect, and a connect failing at once would close
 * and hand on again, recursively, as deep as the wait list is long. */
static void hand_slot(void)
{
	if (wait_head == NULL || open_conns >= wait_head->ms->p->conn_limit)
		return;
	struct mconn *w = wait_head;
	wait_remove(w);
	w->handed = 1;
	open_conns++;
	loop_timer_set(&w->timer, 0, slot_handed, w);
}

/* Close the socket; a freed slot goes to the first waiting session. */
void milter_conn_close(struct mconn *c)
{
	loop_timer_clear(&c->timer);
	if (c->st == MC_WAITSLOT && c->handed) {
		c->handed = 0;		/* gone before its turn: the next one's */
		open_conns--;
		hand_slot();
	} else if (c->st == MC_WAITSLOT) {
		wait_remove(c);
	}
	if (c->fd >= 0) {
		loop_unwatch(c->fd);
		close(c->fd);
		c->fd = -1;
		open_conns--;
		hand_slot();
	}
	c->waiting = c->sending = 0;
	buf_reset(&c->in);
	buf_reset(&c->out);
	for (int i = 0; i < MILTER_M_COUNT; i++) {
		config_list_free(c->mlist[i]);
		c->mlist[i] = NULL;
	}
}

static void conn_watch(struct mconn *c)
{
	int ev = LOOP_READ;
	if (c->st == MC_CONNECTING || c->out.len > 0)
		ev |= LOOP_WRITE;
	loop_watch(c->fd, ev, conn_io, c);
}

/* Write what the socket takes; the rest when it is writable. 0 or -1
 * (the connection failed, c is closed). */
int milter_conn_flush(struct mconn *c)
{
	while (c->out.len > 0) {
		ssize_t n = send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			milter_conn_fail(c, "write error: %s", strerror(errno));
			return -1;
		}
		buf_consume(&c->out, (size_t)n);
	}
	conn_watch(c);
	return 0;
}

static void conn_timeout(void *arg)
{
	struct mconn *c = arg;
	if (c->st == MC_WAITSLOT)
		milter_conn_fail(c, "no free milter connection (milter_connection_limit %zu) in time",
		    c->ms->p->conn_limit);
	else if (c->st == MC_CONNECTING || c->st == MC_NEGOTIATE)
		milter_conn_fail(c, "can't connect or negotiate in time");
	else if (c->sending)
		milter_conn_fail(c, "can't write: timeout");
	else
		milter_conn_fail(c, "can't read reply: timeout");
}

void milter_conn_expect(struct mconn *c, long ms)
{
	c->waiting = 1;
	loop_timer_set(&c->timer, (uint64_t)ms, conn_timeout, c);
}

void milter_conn_sending(struct mconn *c, long ms)
{
	c->sending = 1;
	loop_timer_set(&c->timer, (uint64_t)ms, conn_timeout, c);
}

void milter_conn_start(struct mconn *c)
{
	const struct milter_spec *sp = c->spec;
	if (open_conns >= c->ms->p->conn_limit) {
		c->st = MC_WAITSLOT;
		if (wait_tail)
			wait_tail->wnext = c;
		else
			wait_head = c;
		wait_tail = c;
		c->wnext = NULL;
		loop_timer_set(&c->timer, (uint64_t)sp->connect_ms, conn_timeout, c);
		return;
	}
	c->fd = socket(sp->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		milter_conn_fail(c, "socket: %s", strerror(errno));
		return;
	}
	open_conns++;
	c->st = MC_CONNECTING;
	if (connect(c->fd, (const struct sockaddr *)&sp->sa, sp->salen) < 0 &&
	    errno != EINPROGRESS && errno != EAGAIN) {
		milter_conn_fail(c, "can't connect: %s", strerror(errno));
		return;
	}
	loop_timer_set(&c->timer, (uint64_t)sp->connect_ms, conn_timeout, c);
	conn_watch(c);
}

/* Connected: offer our version, actions and protocol steps. */
static void conn_negotiate(struct mconn *c)
{
	int err = 0;
	socklen_t el = sizeof(err);
	size_t start;
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
		err = errno;
	if (err != 0) {
		milter_conn_fail(c, "can't connect: %s", strerror(err));
		return;
	}
	uint32_t proto = c->spec->protocol >= 6 ? 0x1fffff : 0x7ff;
	milter_pkt_begin(&c->out, SMFIC_OPTNEG, &start);
	milter_pkt_u32(&c->out, (uint32_t)c->spec->protocol);
	milter_pkt_u32(&c->out, SMFIF_ALL);
	milter_pkt_u32(&c->out, proto);
	milter_pkt_end(&c->out, start);
	c->st = MC_NEGOTIATE;
	c->waiting = 1;
	milter_conn_flush(c);
}

void milter_conn_fail(struct mconn *c, const char *fmt, ...)
{
	char why[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	log_warn("milter %s: %s", c->spec->name, why);
	int was_waiting = c->waiting || c->sending || c->st != MC_READY;
	milter_conn_close(c);
	c->st = MC_FAILED;
	if (was_waiting)
		milter_ev_continue(c->ms);
}

static void conn_read(struct mconn *c)
{
	char tmp[16384];
	for (;;) {
		ssize_t n = recv(c->fd, tmp, sizeof(tmp), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			milter_conn_fail(c, "read error: %s", strerror(errno));
			return;
		}
		if (n == 0) {
			milter_conn_fail(c, "connection closed%s", c->waiting ? " while a reply was due" : "");
			return;
		}
		if (buf_append(&c->in, tmp, (size_t)n) < 0) {
			milter_conn_fail(c, "reply too long");
			return;
		}
		if ((size_t)n < sizeof(tmp))
			break;
	}
	for (;;) {
		struct milter_pkt pk;
		size_t used;
		int r = milter_pkt_parse(c->in.data, c->in.len, &pk, &used);
		if (r < 0) {
			milter_conn_fail(c, "bad packet length");
			return;
		}
		if (r == 0)
			return;
		/* Copy the packet out: handling it may send and read again. */
		char *copy = xmalloc(pk.len + 1);
		memcpy(copy, pk.data, pk.len);
		pk.data = copy;
		buf_consume(&c->in, used);
		r = milter_conn_reply(c, &pk);
		free(copy);
		if (r != 0)
			return;
	}
}

static void conn_io(int fd, int events, void *arg)
{
	struct mconn *c = arg;
	if (c->st == MC_CONNECTING) {
		if (events & (LOOP_WRITE | LOOP_READ))
			conn_negotiate(c);
		return;
	}
	if ((events & LOOP_WRITE) && c->out.len > 0 && milter_conn_flush(c) < 0)
		return;
	if (c->sending && c->out.len == 0) {
		c->sending = 0;		/* written: queue the next packets */
		loop_timer_clear(&c->timer);
		milter_ev_continue(c->ms);
		return;
	}
	if (events & LOOP_READ)
		conn_read(c);
}
