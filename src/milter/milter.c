/*
 * milter — one SMTP session's milters and its events: a connection to
 * each (milter_conn.c: opened at the first event, kept to the end of the
 * session, within the process's milter_connection_limit), each event
 * built here and sent to the milters in list order on the engine's event
 * loop, their answers read by milter_reply.c. An event waits
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
	buf_init(&ms->view, SIZE_MAX / 2);
	return ms;
}

void milter_sess_free(struct milter_sess *ms)
{
	if (ms == NULL)
		return;
	for (size_t i = 0; i < ms->n; i++) {
		struct mconn *c = &ms->c[i];
		if (c->st == MC_READY && !c->waiting && c->fd >= 0 && c->out.len == 0) {
			/* QUIT, best effort: the socket is non-blocking (and never
			 * in the middle of a packet still queued). */
			char q[5] = { 0, 0, 0, 1, SMFIC_QUIT };
			if (write(c->fd, q, sizeof(q)) < 0)
				(void)0;
		}
		milter_conn_close(c);
		buf_free(&c->in);
		buf_free(&c->out);
	}
	free(ms->c);
	free(ms->a1);
	free(ms->a2);
	milter_result_clear(&ms->res);
	buf_free(&ms->res.body);
	buf_free(&ms->view);
	free(ms);
}

struct milter_result *milter_result(struct milter_sess *ms)
{
	return &ms->res;
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
			v = milter_macro_default(ms->p, *m);	/* milter_macro_defaults */
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

/* The next header of the message at ms->coff: name and value (value
 * without its leading white space unless the milter wants it). 0 or -1
 * at the end of the header section. */
static int next_header(struct milter_sess *ms, struct mconn *c, struct buf *name, struct buf *val)
{
	return milter_header_next(ms->msg, &ms->coff, ms->hdr_end,
	    (c->pflags & SMFIP_HDR_LEADSPC) != 0, name, val);
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
				const char *p = ms->msg + ms->coff;
				size_t left = ms->msglen - ms->coff, want = left < room ? left : room;
				const char *nl = memchr(p, '\n', want);
				size_t k = nl ? (size_t)(nl - p) : want;
				buf_append(&c->out, p, k);	/* the run up to the LF */
				ms->coff += k;
				room -= k;
				if (nl && room >= 2) {
					buf_append(&c->out, "\r\n", 2);
					room -= 2;
					ms->coff++;
				}
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

/* Before a milter gets the message: show it the changes of the earlier
 * milters (as Postfix does: OpenDMARC reads OpenDKIM's header). */
static void msg_view(struct milter_sess *ms)
{
	struct milter_result *r = &ms->res;
	if (r->nedits == ms->view_edits && !r->body_replaced)
		return;
	if (r->nedits == 0 && !r->body_replaced) {
		ms->msg = ms->orig;
		ms->msglen = ms->origlen;
	} else {
		buf_reset(&ms->view);
		if (milter_edit_message(r, ms->orig, ms->origlen, &ms->view) < 0)
			return;		/* too big: the later milters see it as received */
		ms->msg = ms->view.data;
		ms->msglen = ms->view.len;
	}
	ms->view_edits = r->nedits;
	milter_split(ms->msg, ms->msglen, &ms->hdr_end, &ms->body_start);
}

/* Queue the event's packets for c. 1: a reply is due; 0: nothing to wait
 * for; 2: more of the message once c->out is written. */
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
		{ EV_UNKNOWN, SMFIP_NOUNKNOWN, SMFIP_NR_UNKN, MILTER_M_UNKNOWN, SMFIC_UNKNOWN },
	};
	size_t start;
	if (ms->ev == EV_MSG) {
		int r;
		if (ms->cstep == CS_HDR && ms->coff == 0)
			msg_view(ms);
		while ((r = msg_step(ms, c)) == 0)
			if (c->out.len >= MILTER_OUT_HIGH)
				return 2;	/* no-reply packets: never the whole message at once */
		return r > 0;
	}
	if (ms->ev == EV_MAIL)
		c->in_tx = 1;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (t[i].ev != ms->ev)
			continue;
		if (c->pflags & t[i].skip)
			return 0;
		if (ms->ev == EV_UNKNOWN && (c->version < 3 || c->spec->protocol < 3))
			return 0;	/* SMFIC_UNKNOWN came with version 3 */
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
		case EV_UNKNOWN:
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

void milter_set_reply(struct milter_sess *ms, const struct mconn *c, const char *reply)
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
		milter_set_reply(ms, c, "550 5.7.1 Command rejected");
		return 1;
	case MILTER_ACT_TEMPFAIL:
		break;
	}
	milter_set_reply(ms, c, "451 4.7.1 Service unavailable - try again later");
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
			milter_conn_start(c);
		if (c->st == MC_FAILED)
			continue;
		if (c->st != MC_READY)
			return MILTER_PENDING;	/* milter_ev_continue when negotiated */
		int reply = ev_send(ms, c);
		if (milter_conn_flush(c) < 0)
			continue;	/* failed: its default action next turn */
		if (reply == 2) {
			if (c->out.len == 0)
				continue;	/* all written: queue the next packets */
			milter_conn_sending(c, c->spec->content_ms);
			return MILTER_PENDING;
		}
		if (reply) {
			milter_conn_expect(c, ms->ev == EV_MSG ? c->spec->content_ms : c->spec->command_ms);
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
void milter_ev_continue(struct milter_sess *ms)
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

int milter_unknown(struct milter_sess *ms, const char *command)
{
	free(ms->a1);
	ms->a1 = xstrdup(command);
	return ev_start(ms, EV_UNKNOWN);
}

int milter_message(struct milter_sess *ms, const char *msg, size_t len)
{
	milter_split(msg, len, &ms->hdr_end, &ms->body_start);
	ms->msg = ms->orig = msg;
	ms->msglen = ms->origlen = len;
	ms->view_edits = 0;
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
		if (c->waiting || c->sending) {
			/* An event cut short (the session goes away): start over. */
			milter_conn_close(c);
			c->st = MC_FAILED;
			continue;
		}
		if (c->in_tx) {
			char a[5] = { 0, 0, 0, 1, SMFIC_ABORT };
			buf_append(&c->out, a, sizeof(a));
			milter_conn_flush(c);
			c->in_tx = 0;
		}
	}
	ms->discard = 0;
	ms->ev = EV_NONE;
	ms->res.hold = 0;
}
