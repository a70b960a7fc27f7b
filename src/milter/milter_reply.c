/*
 * milter_reply — what a milter answers: its option negotiation (version,
 * actions, protocol steps, macro lists), each reply to an event (accept,
 * continue, reject, tempfail, discard, replycode, skip, progress,
 * shutdown) and the changes at the end of the message, each checked
 * against what was negotiated; anything else fails the milter.
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

/* The milter's OPTNEG: its version, the actions and steps it wants (a
 * subset of ours), then (version 6) macro lists per stage. */
static int conn_optneg(struct mconn *c, struct milter_pkt *pk)
{
	uint32_t ver, act, proto;
	uint32_t offered = c->spec->protocol >= 6 ? 0x1fffff : 0x7ff;
	if (pk->cmd != SMFIC_OPTNEG || milter_pkt_get_u32(pk, &ver) < 0 ||
	    milter_pkt_get_u32(pk, &act) < 0 || milter_pkt_get_u32(pk, &proto) < 0) {
		milter_conn_fail(c, "bad SMFIC_OPTNEG reply");
		return -1;
	}
	if (ver < 2 || ver > 6) {
		milter_conn_fail(c, "protocol version %u is not supported", ver);
		return -1;
	}
	if ((act & ~(uint32_t)SMFIF_ALL) || (proto & ~offered)) {
		milter_conn_fail(c, "requested actions 0x%x or protocol 0x%x that were not offered", act, proto);
		return -1;
	}
	c->actions = act;
	c->pflags = proto;
	c->version = ver;
	while (pk->off + 4 < pk->len) {
		uint32_t st;
		const char *list;
		if (milter_pkt_get_u32(pk, &st) < 0 || milter_pkt_get_str(pk, &list) < 0 ||
		    st > MILTER_M_EOH) {	/* SMFIM_* numbers end there */
			milter_conn_fail(c, "bad macro list in SMFIC_OPTNEG reply");
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

/* Replacement body bytes, CRLF to LF as the queue file keeps it; a CRLF
 * may be cut between two SMFIR_REPLBODY packets. 0 or -1 (too long). */
static int body_append(struct buf *b, const char *p, size_t n)
{
	if (n > 0 && p[0] == '\n' && b->len > 0 && b->data[b->len - 1] == '\r')
		b->len--;	/* the CR ended the previous packet */
	while (n > 0) {
		const char *cr = memchr(p, '\r', n);
		size_t k = cr ? (size_t)(cr - p) + 1 : n;	/* up to and with the CR */
		size_t keep = cr && k < n && p[k] == '\n' ? k - 1 : k;
		if (buf_append(b, p, keep) < 0)
			return -1;
		p += k;
		n -= k;
	}
	return 0;
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
		if (!r->body_replaced || c->ms->body_by != c) {
			/* this milter's body replaces any earlier milter's */
			buf_reset(&r->body);
			r->body_replaced = 1;
			c->ms->body_by = c;
		}
		return body_append(&r->body, pk->data, pk->len);
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
int milter_conn_reply(struct mconn *c, struct milter_pkt *pk)
{
	struct milter_sess *ms = c->ms;
	const char *text;
	if (c->st == MC_NEGOTIATE) {
		if (conn_optneg(c, pk) < 0)
			return -1;
		milter_ev_continue(ms);
		return 1;
	}
	if (!c->waiting) {
		milter_conn_fail(c, "unexpected reply '%c' with no request", pk->cmd);
		return -1;
	}
	switch (pk->cmd) {
	case SMFIR_PROGRESS:
		milter_conn_expect(c, c->spec->content_ms);
		return 0;
	case SMFIR_CONTINUE:
		break;
	case SMFIR_SKIP:
		if (ms->ev != EV_MSG || ms->cstep != CS_BODY) {
			milter_conn_fail(c, "SMFIR_SKIP outside the body");
			return -1;
		}
		ms->cstep = CS_EOM;
		break;
	case SMFIR_ACCEPT:
		/* Outside a transaction it accepts the session (Postfix's way). */
		c->accepted = ms->ev == EV_CONNECT || ms->ev == EV_HELO ||
		    (ms->ev == EV_UNKNOWN && !c->in_tx) ? 2 : 1;
		break;
	case SMFIR_DISCARD:
		if (ms->ev == EV_CONNECT || ms->ev == EV_HELO) {
			milter_conn_fail(c, "DISCARD outside a transaction");
			return -1;
		}
		ms->discard = 1;
		c->accepted = 1;
		break;
	case SMFIR_REJECT:
		milter_set_reply(ms, c, ms->ev == EV_CONNECT || ms->ev == EV_HELO ?
		    "554 5.7.1 Command rejected" : "550 5.7.1 Command rejected");
		break;
	case SMFIR_TEMPFAIL:
		milter_set_reply(ms, c, "451 4.7.1 Service unavailable - try again later");
		break;
	case SMFIR_SHUTDOWN:
		milter_set_reply(ms, c, "421 4.7.0 Server closing connection");
		break;
	case SMFIR_CONN_FAIL:
		milter_conn_fail(c, "SMFIR_CONN_FAIL");
		return -1;
	case SMFIR_REPLYCODE:
		if (milter_pkt_get_str(pk, &text) < 0 || !replycode_ok(text)) {
			milter_conn_fail(c, "bad SMFIR_REPLYCODE reply");
			return -1;
		}
		milter_set_reply(ms, c, text);
		break;
	default:
		if (ms->ev != EV_MSG || ms->cstep != CS_DONE || add_edit(c, pk) < 0) {
			milter_conn_fail(c, "unexpected or not negotiated reply '%c'", pk->cmd);
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
	milter_ev_continue(ms);
	return 1;
}
