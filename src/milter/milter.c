/*
 * milter — one SMTP session's milters: a connection to each (opened at
 * the first event, kept to the end of the session, within the process's
 * milter_connection_limit), option negotiation, and each event sent to
 * the milters in list order on the engine's event loop. An event waits
 * only for its own session's milters: the caller gets MILTER_PENDING and
 * its done callback when every milter has answered (or failed, when the
 * milter's default_action decides). Postfix's milter8.c behaviour: a
 * failed milter answers its default action to every later event of the
 * session; ACCEPT ends a milter's part in the transaction (at connect or
 * HELO: in the session); RCPT replies concern one recipient.
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

enum mc_state { MC_NEW, MC_WAITSLOT, MC_CONNECTING, MC_NEGOTIATE, MC_READY, MC_FAILED };
enum ev_kind { EV_NONE, EV_CONNECT, EV_HELO, EV_MAIL, EV_RCPT, EV_DATA, EV_MSG };
enum cstep { CS_HDR, CS_EOH, CS_BODY, CS_EOM, CS_DONE };

struct mconn {
	struct milter_sess *ms;
	const struct milter_spec *spec;
	int fd;
	enum mc_state st;
	uint32_t actions, pflags;
	char **mlist[MILTER_M_COUNT];	/* macro lists the milter asked for */
	int accepted;			/* 1: this transaction, 2: this session */
	int in_tx;			/* MAIL was sent: ABORT at the end */
	int waiting;			/* a reply is due */
	struct buf out, in;
	struct loop_timer timer;
	struct mconn *wnext;		/* the wait list for a free slot */
};

struct milter_sess {
	const struct milter_list *l;
	const struct milter_params *p;
	milter_macro_fn *macro;
	milter_done_fn *done;
	void *arg;
	struct mconn *c;
	size_t n;
	enum ev_kind ev;
	size_t cur;			/* the milter being asked */
	int async;			/* the caller got MILTER_PENDING */
	char *a1, *a2;
	unsigned port;
	const char *msg;		/* EV_MSG: the message, the caller's */
	size_t msglen, hdr_end, body_start;
	int in_run;			/* ev_run is on the stack */
	enum cstep cstep;
	size_t coff;			/* next header or body byte */
	int discard;			/* DISCARD before the end of the message */
	struct milter_result res;
};

static size_t open_conns;			/* connected or connecting */
static struct mconn *wait_head, *wait_tail;	/* waiting for a slot */

static void conn_start(struct mconn *c);
static void conn_fail(struct mconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ev_continue(struct milter_sess *ms);

size_t milter_open_connections(void)
{
	return open_conns;
}

struct milter_sess *milter_sess_new(const struct milter_list *l, const struct milter_params *p,
    milter_macro_fn *macro, milter_done_fn *done, void *arg)
{
	struct milter_sess *ms = xcalloc(1, sizeof(*ms));
	ms->l = l;
	ms->p = p;
	ms->macro = macro;
	ms->done = done;
	ms->arg = arg;
	ms->n = l ? l->n : 0;
	ms->c = xcalloc(ms->n ? ms->n : 1, sizeof(*ms->c));
	for (size_t i = 0; i < ms->n; i++) {
		ms->c[i].ms = ms;
		ms->c[i].spec = &l->v[i];
		ms->c[i].fd = -1;
		ms->c[i].timer.slot = (size_t)-1;
		buf_init(&ms->c[i].out, MILTER_PKT_MAX + 1024);
		buf_init(&ms->c[i].in, MILTER_PKT_MAX + 8);
	}
	buf_init(&ms->res.body, MILTER_PKT_MAX * 64);
	return ms;
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

/* Close the socket; a freed slot goes to the first waiting session. */
static void conn_close(struct mconn *c)
{
	loop_timer_clear(&c->timer);
	if (c->st == MC_WAITSLOT)
		wait_remove(c);
	if (c->fd >= 0) {
		loop_unwatch(c->fd);
		close(c->fd);
		c->fd = -1;
		open_conns--;
		if (wait_head && open_conns < wait_head->ms->p->conn_limit) {
			struct mconn *w = wait_head;
			wait_remove(w);
			conn_start(w);
		}
	}
	c->waiting = 0;
	buf_reset(&c->in);
	buf_reset(&c->out);
	for (int i = 0; i < MILTER_M_COUNT; i++) {
		config_list_free(c->mlist[i]);
		c->mlist[i] = NULL;
	}
}

void milter_sess_free(struct milter_sess *ms)
{
	if (ms == NULL)
		return;
	for (size_t i = 0; i < ms->n; i++) {
		struct mconn *c = &ms->c[i];
		if (c->st == MC_READY && !c->waiting && c->fd >= 0) {
			/* QUIT, best effort: the socket is non-blocking. */
			char q[5] = { 0, 0, 0, 1, SMFIC_QUIT };
			if (write(c->fd, q, sizeof(q)) < 0)
				(void)0;
		}
		conn_close(c);
		buf_free(&c->in);
		buf_free(&c->out);
	}
	free(ms->c);
	free(ms->a1);
	free(ms->a2);
	milter_result_clear(&ms->res);
	buf_free(&ms->res.body);
	free(ms);
}

struct milter_result *milter_result(struct milter_sess *ms)
{
	return &ms->res;
}

/* ---- output ---- */

static void conn_io(int fd, int events, void *arg);

static void conn_watch(struct mconn *c)
{
	int ev = LOOP_READ;
	if (c->st == MC_CONNECTING || c->out.len > 0)
		ev |= LOOP_WRITE;
	loop_watch(c->fd, ev, conn_io, c);
}

/* Write what the socket takes; the rest when it is writable. 0 or -1
 * (the connection failed, c is closed). */
static int conn_flush(struct mconn *c)
{
	while (c->out.len > 0) {
		ssize_t n = send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			conn_fail(c, "write error: %s", strerror(errno));
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
		conn_fail(c, "no free milter connection (milter_connection_limit %zu) in time",
		    c->ms->p->conn_limit);
	else if (c->st == MC_CONNECTING || c->st == MC_NEGOTIATE)
		conn_fail(c, "can't connect or negotiate in time");
	else
		conn_fail(c, "can't read reply: timeout");
}

static void conn_expect(struct mconn *c, long ms)
{
	c->waiting = 1;
	loop_timer_set(&c->timer, (uint64_t)ms, conn_timeout, c);
}

/* The macros of a stage that have a value now, as one SMFIC_MACRO. */
static void put_macros(struct mconn *c, enum milter_mstage st, char cmd)
{
	struct milter_sess *ms = c->ms;
	char **list = c->mlist[st] ? c->mlist[st] : ms->p->macros[st];
	size_t start, first;
	if (list == NULL || list[0] == NULL || ms->macro == NULL)
		return;
	milter_pkt_begin(&c->out, SMFIC_MACRO, &start);
	milter_pkt_bytes(&c->out, &cmd, 1);
	first = c->out.len;
	for (char **m = list; *m; m++) {
		const char *v = ms->macro(ms->arg, *m);
		if (v == NULL)
			continue;
		milter_pkt_str(&c->out, *m);
		milter_pkt_str(&c->out, v);
	}
	if (c->out.len == first) {
		c->out.len = start;	/* nothing known: send nothing */
		return;
	}
	milter_pkt_end(&c->out, start);
}

/* ---- connecting ---- */

static void conn_start(struct mconn *c)
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
		conn_fail(c, "socket: %s", strerror(errno));
		return;
	}
	open_conns++;
	c->st = MC_CONNECTING;
	if (connect(c->fd, (const struct sockaddr *)&sp->sa, sp->salen) < 0 &&
	    errno != EINPROGRESS && errno != EAGAIN) {
		conn_fail(c, "can't connect: %s", strerror(errno));
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
		conn_fail(c, "can't connect: %s", strerror(err));
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
	conn_flush(c);
}

/* The milter's OPTNEG: its version, the actions and steps it wants (a
 * subset of ours), then (version 6) macro lists per stage. */
static int conn_optneg(struct mconn *c, struct milter_pkt *pk)
{
	uint32_t ver, act, proto;
	uint32_t offered = c->spec->protocol >= 6 ? 0x1fffff : 0x7ff;
	if (pk->cmd != SMFIC_OPTNEG || milter_pkt_get_u32(pk, &ver) < 0 ||
	    milter_pkt_get_u32(pk, &act) < 0 || milter_pkt_get_u32(pk, &proto) < 0) {
		conn_fail(c, "bad SMFIC_OPTNEG reply");
		return -1;
	}
	if (ver < 2 || ver > 6) {
		conn_fail(c, "protocol version %u is not supported", ver);
		return -1;
	}
	if ((act & ~(uint32_t)SMFIF_ALL) || (proto & ~offered)) {
		conn_fail(c, "requested actions 0x%x or protocol 0x%x that were not offered", act, proto);
		return -1;
	}
	c->actions = act;
	c->pflags = proto;
	while (pk->off + 4 < pk->len) {
		uint32_t st;
		const char *list;
		if (milter_pkt_get_u32(pk, &st) < 0 || milter_pkt_get_str(pk, &list) < 0 ||
		    st >= MILTER_M_COUNT) {
			conn_fail(c, "bad macro list in SMFIC_OPTNEG reply");
			return -1;
		}
		config_list_free(c->mlist[st]);
		c->mlist[st] = config_list(list);
	}
	c->st = MC_READY;
	c->waiting = 0;
	loop_timer_clear(&c->timer);
	return 0;
}

/* ---- events ---- */

/* The next header of the message at ms->coff: name and value (value
 * without its leading white space unless the milter wants it). 0 or -1
 * at the end of the header section. */
static int next_header(struct milter_sess *ms, struct mconn *c, struct buf *name, struct buf *val)
{
	const char *p = ms->msg + ms->coff, *end = ms->msg + ms->hdr_end;
	if (p >= end)
		return -1;
	const char *colon = memchr(p, ':', (size_t)(end - p));
	const char *eol = memchr(p, '\n', (size_t)(end - p));
	if (colon == NULL || eol == NULL || colon > eol)
		return -1;
	/* The header ends where a line does not start with white space. */
	while (eol + 1 < end && (eol[1] == ' ' || eol[1] == '\t'))
		eol = memchr(eol + 1, '\n', (size_t)(end - eol - 1));
	buf_reset(name);
	buf_reset(val);
	buf_append(name, p, (size_t)(colon - p));
	const char *v = colon + 1;
	if (!(c->pflags & SMFIP_HDR_LEADSPC))
		while (v < eol && (*v == ' ' || *v == '\t'))
			v++;
	buf_append(val, v, (size_t)(eol - v));
	ms->coff = (size_t)(eol + 1 - ms->msg);
	return 0;
}

/* Queue the next packet of the message for c; 1 if a reply is due, 0 if
 * it was sent without one, -1 when the message is done for c. */
static int msg_step(struct milter_sess *ms, struct mconn *c)
{
	size_t start;
	for (;;) {
		switch (ms->cstep) {
		case CS_HDR: {
			if (c->pflags & SMFIP_NOHDRS) {
				ms->cstep = CS_EOH;
				continue;
			}
			struct buf name, val;
			buf_init(&name, 1000);
			buf_init(&val, MILTER_CHUNK);
			int r = next_header(ms, c, &name, &val);
			if (r == 0) {
				milter_pkt_begin(&c->out, SMFIC_HEADER, &start);
				milter_pkt_str(&c->out, name.data ? name.data : "");
				milter_pkt_str(&c->out, val.data ? val.data : "");
				milter_pkt_end(&c->out, start);
			}
			buf_free(&name);
			buf_free(&val);
			if (r < 0) {
				ms->cstep = CS_EOH;
				continue;
			}
			return (c->pflags & SMFIP_NR_HDR) ? 0 : 1;
		}
		case CS_EOH:
			ms->cstep = CS_BODY;
			ms->coff = ms->body_start;
			if (c->pflags & SMFIP_NOEOH)
				continue;
			put_macros(c, MILTER_M_EOH, SMFIC_EOH);
			milter_pkt_begin(&c->out, SMFIC_EOH, &start);
			milter_pkt_end(&c->out, start);
			return (c->pflags & SMFIP_NR_EOH) ? 0 : 1;
		case CS_BODY: {
			if ((c->pflags & SMFIP_NOBODY) || ms->coff >= ms->msglen) {
				ms->cstep = CS_EOM;
				continue;
			}
			/* LF to CRLF, at most MILTER_CHUNK bytes a packet. */
			milter_pkt_begin(&c->out, SMFIC_BODY, &start);
			size_t room = MILTER_CHUNK;
			while (ms->coff < ms->msglen && room >= 2) {
				char ch = ms->msg[ms->coff];
				if (ch == '\n') {
					buf_append(&c->out, "\r\n", 2);
					room -= 2;
				} else {
					buf_append(&c->out, &ch, 1);
					room--;
				}
				ms->coff++;
			}
			milter_pkt_end(&c->out, start);
			return (c->pflags & SMFIP_NR_BODY) ? 0 : 1;
		}
		case CS_EOM:
			ms->cstep = CS_DONE;
			put_macros(c, MILTER_M_EOM, SMFIC_BODYEOB);
			milter_pkt_begin(&c->out, SMFIC_BODYEOB, &start);
			milter_pkt_end(&c->out, start);
			return 1;
		case CS_DONE:
			return -1;
		}
	}
}

/* Queue the event's packets for c. 1: a reply is due; 0: nothing to wait for. */
static int ev_send(struct milter_sess *ms, struct mconn *c)
{
	static const struct {
		enum ev_kind ev;
		uint32_t skip, noreply;
		enum milter_mstage mst;
		char cmd;
	} t[] = {
		{ EV_CONNECT, SMFIP_NOCONNECT, SMFIP_NR_CONN, MILTER_M_CONNECT, SMFIC_CONNECT },
		{ EV_HELO, SMFIP_NOHELO, SMFIP_NR_HELO, MILTER_M_HELO, SMFIC_HELO },
		{ EV_MAIL, SMFIP_NOMAIL, SMFIP_NR_MAIL, MILTER_M_MAIL, SMFIC_MAIL },
		{ EV_RCPT, SMFIP_NORCPT, SMFIP_NR_RCPT, MILTER_M_RCPT, SMFIC_RCPT },
		{ EV_DATA, SMFIP_NODATA, SMFIP_NR_DATA, MILTER_M_DATA, SMFIC_DATA },
	};
	size_t start;
	if (ms->ev == EV_MSG) {
		int r;
		while ((r = msg_step(ms, c)) == 0)
			;
		return r > 0;
	}
	if (ms->ev == EV_MAIL)
		c->in_tx = 1;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (t[i].ev != ms->ev)
			continue;
		if (c->pflags & t[i].skip)
			return 0;
		put_macros(c, t[i].mst, t[i].cmd);
		milter_pkt_begin(&c->out, t[i].cmd, &start);
		switch (ms->ev) {
		case EV_CONNECT: {
			char fam = strchr(ms->a2, ':') ? SMFIA_INET6 : SMFIA_INET;
			milter_pkt_str(&c->out, ms->a1);
			milter_pkt_bytes(&c->out, &fam, 1);
			milter_pkt_u16(&c->out, (uint16_t)ms->port);
			milter_pkt_str(&c->out, ms->a2);
			break;
		}
		case EV_HELO:
			milter_pkt_str(&c->out, ms->a1);
			break;
		case EV_MAIL:
		case EV_RCPT:
			milter_pkt_bytes(&c->out, "<", 1);
			milter_pkt_bytes(&c->out, ms->a1, strlen(ms->a1));
			milter_pkt_str(&c->out, ">");
			break;
		default:
			break;
		}
		milter_pkt_end(&c->out, start);
		return (c->pflags & t[i].noreply) ? 0 : 1;
	}
	return 0;
}

static void set_reply(struct milter_sess *ms, const struct mconn *c, const char *reply)
{
	ms->res.verdict = MILTER_REJECT;
	str_copy(ms->res.reply, sizeof(ms->res.reply), reply);
	str_copy(ms->res.milter, sizeof(ms->res.milter), c->spec->name);
}

/* A failed milter's default_action for the current event: 1 if it decided
 * the event (a reply), 0 to go on. */
static int apply_default(struct milter_sess *ms, struct mconn *c)
{
	switch (c->spec->default_action) {
	case MILTER_ACT_ACCEPT:
		return 0;
	case MILTER_ACT_QUARANTINE:
		ms->res.hold = 1;
		snprintf(ms->res.hold_reason, sizeof(ms->res.hold_reason),
		    "milter %s is unavailable (milter_default_action = quarantine)", c->spec->name);
		return 0;
	case MILTER_ACT_REJECT:
		set_reply(ms, c, "550 5.7.1 Command rejected");
		return 1;
	case MILTER_ACT_TEMPFAIL:
		break;
	}
	set_reply(ms, c, "451 4.7.1 Service unavailable - try again later");
	return 1;
}

/* Ask the milters from ms->cur on. The verdict, or MILTER_PENDING. */
static int ev_run_list(struct milter_sess *ms);

static int ev_run(struct milter_sess *ms)
{
	ms->in_run = 1;
	int v = ev_run_list(ms);
	ms->in_run = 0;
	return v;
}

static int ev_run_list(struct milter_sess *ms)
{
	while (ms->cur < ms->n) {
		struct mconn *c = &ms->c[ms->cur];
		if (c->st == MC_FAILED) {
			if (apply_default(ms, c))
				return MILTER_REJECT;
			ms->cur++;
			continue;
		}
		if (c->accepted || ms->discard) {
			ms->cur++;
			continue;
		}
		if (c->st == MC_NEW)
			conn_start(c);
		if (c->st == MC_FAILED)
			continue;
		if (c->st != MC_READY)
			return MILTER_PENDING;	/* ev_continue when negotiated */
		int reply = ev_send(ms, c);
		if (conn_flush(c) < 0)
			continue;	/* failed: its default action next turn */
		if (reply) {
			conn_expect(c, ms->ev == EV_MSG ? c->spec->content_ms : c->spec->command_ms);
			return MILTER_PENDING;
		}
		ms->cur++;
		ms->cstep = CS_HDR;
		ms->coff = 0;
	}
	if (ms->ev == EV_MSG && ms->discard)
		return MILTER_DISCARD;
	return MILTER_CONTINUE;
}

/* Start an event on every milter. */
static int ev_start(struct milter_sess *ms, enum ev_kind ev)
{
	struct milter_result *r = &ms->res;
	int hold = r->hold;
	char reason[sizeof(r->hold_reason)];
	str_copy(reason, sizeof(reason), r->hold_reason);
	milter_result_clear(r);
	if (ev != EV_CONNECT && ev != EV_HELO && ev != EV_MAIL) {
		r->hold = hold;		/* a quarantine holds the whole transaction */
		str_copy(r->hold_reason, sizeof(r->hold_reason), reason);
	}
	ms->ev = ev;
	ms->cur = 0;
	ms->cstep = CS_HDR;
	ms->coff = 0;
	ms->async = 0;
	int v = ev_run(ms);
	if (v == MILTER_PENDING)
		ms->async = 1;
	else
		r->verdict = (enum milter_verdict)v;
	return v;
}

/* A reply came, or a milter failed: go on; tell the caller when done. */
static void ev_continue(struct milter_sess *ms)
{
	if (ms->ev == EV_NONE || ms->in_run)
		return;		/* the running ev_run sees the change */
	int v = ev_run(ms);
	if (v == MILTER_PENDING)
		return;
	ms->res.verdict = (enum milter_verdict)v;
	ms->ev = EV_NONE;
	if (ms->async && ms->done)
		ms->done(ms->arg);	/* last: the caller may free ms later */
}

static void conn_fail(struct mconn *c, const char *fmt, ...)
{
	char why[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	log_warn("milter %s: %s", c->spec->name, why);
	int was_waiting = c->waiting || c->st != MC_READY;
	conn_close(c);
	c->st = MC_FAILED;
	if (was_waiting)
		ev_continue(c->ms);
}

/* Record one change asked for at the end of the message. */
static int add_edit(struct mconn *c, struct milter_pkt *pk)
{
	struct milter_result *r = &c->ms->res;
	struct milter_edit e = { 0 };
	const char *a = NULL, *b = NULL;
	uint32_t need;
	int ok;
	switch (pk->cmd) {
	case SMFIR_ADDHEADER: need = SMFIF_ADDHDRS; e.type = MILTER_E_ADDHDR;
		ok = milter_pkt_get_str(pk, &a) == 0 && milter_pkt_get_str(pk, &b) == 0; break;
	case SMFIR_INSHEADER: need = SMFIF_ADDHDRS; e.type = MILTER_E_INSHDR;
		ok = milter_pkt_get_u32(pk, &e.index) == 0 && milter_pkt_get_str(pk, &a) == 0 &&
		    milter_pkt_get_str(pk, &b) == 0; break;
	case SMFIR_CHGHEADER: need = SMFIF_CHGHDRS; e.type = MILTER_E_CHGHDR;
		ok = milter_pkt_get_u32(pk, &e.index) == 0 && milter_pkt_get_str(pk, &a) == 0 &&
		    milter_pkt_get_str(pk, &b) == 0; break;
	case SMFIR_ADDRCPT: need = SMFIF_ADDRCPT; e.type = MILTER_E_ADDRCPT;
		ok = milter_pkt_get_str(pk, &a) == 0; break;
	case SMFIR_ADDRCPT_PAR: need = SMFIF_ADDRCPT_PAR; e.type = MILTER_E_ADDRCPT;
		ok = milter_pkt_get_str(pk, &a) == 0; break;
	case SMFIR_DELRCPT: need = SMFIF_DELRCPT; e.type = MILTER_E_DELRCPT;
		ok = milter_pkt_get_str(pk, &a) == 0; break;
	case SMFIR_CHGFROM: need = SMFIF_CHGFROM; e.type = MILTER_E_CHGFROM;
		ok = milter_pkt_get_str(pk, &a) == 0; break;
	case SMFIR_REPLBODY:
		if (!(c->actions & SMFIF_CHGBODY))
			return -1;
		if (!r->body_replaced) {
			buf_reset(&r->body);
			r->body_replaced = 1;
		}
		/* CRLF to LF, as the queue file keeps it. */
		for (size_t i = 0; i < pk->len; i++)
			if (!(pk->data[i] == '\r' && i + 1 < pk->len && pk->data[i + 1] == '\n') &&
			    buf_append(&r->body, pk->data + i, 1) < 0)
				return -1;
		return 0;
	case SMFIR_QUARANTINE:
		if (!(c->actions & SMFIF_QUARANTINE) || milter_pkt_get_str(pk, &a) < 0)
			return -1;
		r->hold = 1;
		str_copy(r->hold_reason, sizeof(r->hold_reason), a);
		return 0;
	default:
		return -1;
	}
	if (!ok || !(c->actions & need))
		return -1;
	e.name = xstrdup(a);
	e.value = b && (*b || e.type != MILTER_E_CHGHDR) ? xstrdup(b) : NULL;
	e.leadspc = (c->pflags & SMFIP_HDR_LEADSPC) != 0;
	if (r->nedits == r->edits_cap) {
		r->edits_cap = r->edits_cap ? r->edits_cap * 2 : 8;
		r->edits = xrealloc(r->edits, r->edits_cap * sizeof(*r->edits));
	}
	r->edits[r->nedits++] = e;
	return 0;
}

/* A reply text of SMFIR_REPLYCODE: "4xx"/"5xx", each line the same code. */
static int replycode_ok(const char *t)
{
	if (strlen(t) < 4 || (t[0] != '4' && t[0] != '5') || t[1] < '0' || t[1] > '9' ||
	    t[2] < '0' || t[2] > '9' || (t[3] != ' ' && t[3] != '-'))
		return 0;
	for (const char *p = t; *p; p++)
		if ((unsigned char)*p < 0x20 && *p != '\r' && *p != '\n' && *p != '\t')
			return 0;
	return 1;
}

/* One reply packet while an event waits on c. 0 go on reading, 1 the
 * event moved on (stop reading), -1 c failed. */
static int conn_reply(struct mconn *c, struct milter_pkt *pk)
{
	struct milter_sess *ms = c->ms;
	const char *text;
	if (c->st == MC_NEGOTIATE) {
		if (conn_optneg(c, pk) < 0)
			return -1;
		ev_continue(ms);
		return 1;
	}
	if (!c->waiting) {
		conn_fail(c, "unexpected reply '%c' with no request", pk->cmd);
		return -1;
	}
	switch (pk->cmd) {
	case SMFIR_PROGRESS:
		conn_expect(c, c->spec->content_ms);
		return 0;
	case SMFIR_CONTINUE:
		break;
	case SMFIR_SKIP:
		if (ms->ev != EV_MSG || ms->cstep != CS_BODY) {
			conn_fail(c, "SMFIR_SKIP outside the body");
			return -1;
		}
		ms->cstep = CS_EOM;
		break;
	case SMFIR_ACCEPT:
		c->accepted = ms->ev == EV_CONNECT || ms->ev == EV_HELO ? 2 : 1;
		break;
	case SMFIR_DISCARD:
		if (ms->ev == EV_CONNECT || ms->ev == EV_HELO) {
			conn_fail(c, "DISCARD outside a transaction");
			return -1;
		}
		ms->discard = 1;
		c->accepted = 1;
		break;
	case SMFIR_REJECT:
		set_reply(ms, c, ms->ev == EV_CONNECT || ms->ev == EV_HELO ?
		    "554 5.7.1 Command rejected" : "550 5.7.1 Command rejected");
		break;
	case SMFIR_TEMPFAIL:
		set_reply(ms, c, "451 4.7.1 Service unavailable - try again later");
		break;
	case SMFIR_SHUTDOWN:
		set_reply(ms, c, "421 4.7.0 Server closing connection");
		break;
	case SMFIR_CONN_FAIL:
		conn_fail(c, "SMFIR_CONN_FAIL");
		return -1;
	case SMFIR_REPLYCODE:
		if (milter_pkt_get_str(pk, &text) < 0 || !replycode_ok(text)) {
			conn_fail(c, "bad SMFIR_REPLYCODE reply");
			return -1;
		}
		set_reply(ms, c, text);
		break;
	default:
		if (ms->ev != EV_MSG || ms->cstep != CS_DONE || add_edit(c, pk) < 0) {
			conn_fail(c, "unexpected or not negotiated reply '%c'", pk->cmd);
			return -1;
		}
		return 0;	/* the final reply comes after the changes */
	}
	c->waiting = 0;
	loop_timer_clear(&c->timer);
	if (ms->res.verdict == MILTER_REJECT && ms->ev == EV_CONNECT)
		c->accepted = 2;	/* it said no to the session: ask it nothing more */
	if (ms->res.verdict == MILTER_REJECT) {
		ms->ev = EV_NONE;
		if (ms->async && ms->done)
			ms->done(ms->arg);
		return 1;
	}
	/* The message goes on with c unless it answered for all of it. */
	if (ms->ev != EV_MSG || ms->cstep == CS_DONE || pk->cmd == SMFIR_ACCEPT ||
	    pk->cmd == SMFIR_DISCARD) {
		if (ms->ev == EV_MSG)
			c->in_tx = 0;
		ms->cur++;
		ms->cstep = CS_HDR;
		ms->coff = 0;
	}
	ev_continue(ms);
	return 1;
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
			conn_fail(c, "read error: %s", strerror(errno));
			return;
		}
		if (n == 0) {
			conn_fail(c, "connection closed%s", c->waiting ? " while a reply was due" : "");
			return;
		}
		if (buf_append(&c->in, tmp, (size_t)n) < 0) {
			conn_fail(c, "reply too long");
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
			conn_fail(c, "bad packet length");
			return;
		}
		if (r == 0)
			return;
		/* Copy the packet out: handling it may send and read again. */
		char *copy = xmalloc(pk.len + 1);
		memcpy(copy, pk.data, pk.len);
		pk.data = copy;
		buf_consume(&c->in, used);
		r = conn_reply(c, &pk);
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
	if ((events & LOOP_WRITE) && c->out.len > 0 && conn_flush(c) < 0)
		return;
	if (events & LOOP_READ)
		conn_read(c);
}

int milter_connect(struct milter_sess *ms, const char *host, const char *addr, unsigned port)
{
	free(ms->a1);
	free(ms->a2);
	ms->a1 = xstrdup(host);
	ms->a2 = xstrdup(addr);
	ms->port = port;
	return ev_start(ms, EV_CONNECT);
}

int milter_helo(struct milter_sess *ms, const char *helo)
{
	free(ms->a1);
	ms->a1 = xstrdup(helo);
	return ev_start(ms, EV_HELO);
}

int milter_mail(struct milter_sess *ms, const char *sender)
{
	free(ms->a1);
	ms->a1 = xstrdup(sender);
	ms->discard = 0;
	return ev_start(ms, EV_MAIL);
}

int milter_rcpt(struct milter_sess *ms, const char *rcpt)
{
	free(ms->a1);
	ms->a1 = xstrdup(rcpt);
	return ev_start(ms, EV_RCPT);
}

int milter_data(struct milter_sess *ms)
{
	return ev_start(ms, EV_DATA);
}

int milter_message(struct milter_sess *ms, const char *msg, size_t len)
{
	milter_split(msg, len, &ms->hdr_end, &ms->body_start);
	ms->msg = msg;
	ms->msglen = len;
	int r = ev_start(ms, EV_MSG);
	return r;
}

void milter_abort(struct milter_sess *ms)
{
	for (size_t i = 0; i < ms->n; i++) {
		struct mconn *c = &ms->c[i];
		if (c->accepted == 1)
			c->accepted = 0;
		if (c->st != MC_READY)
			continue;
		if (c->waiting) {
			/* An event cut short (the session goes away): start over. */
			conn_close(c);
			c->st = MC_FAILED;
			continue;
		}
		if (c->in_tx) {
			char a[5] = { 0, 0, 0, 1, SMFIC_ABORT };
			buf_append(&c->out, a, sizeof(a));
			conn_flush(c);
			c->in_tx = 0;
		}
	}
	ms->discard = 0;
	ms->ev = EV_NONE;
	ms->res.hold = 0;
}
