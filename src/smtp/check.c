/*
 * check — the engine's side of the restriction lists: which list runs at
 * which command (smtpd_delay_reject), the policy context of a session,
 * pausing a session while a restriction waits for DNS or a policy server
 * and running the command again when the answer is in, and the
 * "NOQUEUE: reject: ..." log lines in Postfix's format.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/metrics.h"
#include "common/msg.h"
#include "common/util.h"
#include "mail/resolve.h"
#include "policy/restrict.h"
#include "smtp/check.h"
#include "smtp/cleanup.h"
#include "smtp/cmd.h"
#include "smtp/engine_int.h"
#include "smtp/event.h"
#include "smtp/session.h"
#include "spf/spf.h"

static void check_retry(void *arg)
{
	struct session *s = arg;
	char *line = s->retry_line;
	s->retry_line = NULL;
	if (s->state != SMTP_ST_WAIT || line == NULL) {
		free(line);
		return;
	}
	s->state = SMTP_ST_CMD;
	s->retrying = 1;
	cmd_dispatch(s, line, strlen(line));
	s->retrying = 0;
	free(line);
	if (s->state != SMTP_ST_WAIT)
		session_resume(s);
}

static void check_wake(void *arg)
{
	/* Never re-enter the evaluation from inside a DNS callback. */
	loop_at_idle(check_retry, arg);
}

static const char *stage_verb(enum policy_stage st, const struct session *s)
{
	switch (st) {
	case STAGE_CONNECT: return "CONNECT";
	case STAGE_HELO: return s->esmtp ? "EHLO" : "HELO";
	case STAGE_MAIL: return "MAIL";
	case STAGE_RCPT: return "RCPT";
	case STAGE_DATA: return "DATA";
	}
	return "RCPT";
}

/* "NOQUEUE: reject: RCPT from host[addr]: REPLY; from=<s> to=<r> proto=ESMTP helo=<h>" */
static void check_log(struct session *s, enum policy_stage st, const char *action,
    const char *reply, const char *rcpt, enum warden_event kind)
{
	char tail[1200];
	size_t off = 0;
	int n;
	tail[0] = '\0';
	if (s->sender) {
		n = snprintf(tail + off, sizeof(tail) - off, " from=<%s>", s->sender);
		off += n > 0 ? (size_t)n : 0;
	}
	if (rcpt && off < sizeof(tail)) {
		n = snprintf(tail + off, sizeof(tail) - off, " to=<%s>", rcpt);
		off += n > 0 ? (size_t)n : 0;
	}
	if (off < sizeof(tail)) {
		n = snprintf(tail + off, sizeof(tail) - off, " proto=%s", s->esmtp ? "ESMTP" : "SMTP");
		off += n > 0 ? (size_t)n : 0;
	}
	if (s->helo && off < sizeof(tail))
		snprintf(tail + off, sizeof(tail) - off, " helo=<%s>", s->helo);
	char line[1600];
	snprintf(line, sizeof(line), "NOQUEUE: %s: %s from %s: %s;%s", action, stage_verb(st, s),
	    session_client(s), reply, tail);
	log_info("%s", line);
	if (kind != 0)
		event_send(s, kind, s->sasl_username, line);
}

void check_log_reply(struct session *s, enum policy_stage st, const char *action,
    const char *reply, const char *rcpt)
{
	check_log(s, st, action, reply, rcpt, 0);
}

/* An access-map action on the whole message: cleanup.c applies it. */
static void ctx_action(struct policy_ctx *c, const char *action, const char *text)
{
	cleanup_policy_action(c->wake_arg, action, text);
}

static void ctx_log(struct policy_ctx *c, const char *action, const char *reply)
{
	struct session *s = c->wake_arg;
	check_log(s, c->stage, action, reply, c->rcpt, 0);	/* warnings: no event */
}

/* The session's policy context, refreshed with what the session knows now. */
static struct policy_ctx *ctx_get(struct session *s, enum policy_stage st, const char *rcpt)
{
	if (s->pctx == NULL) {
		s->pctx = xcalloc(1, sizeof(*s->pctx));
		s->pctx->instance = ++s->eng->policy_instances;
	}
	struct policy_ctx *c = s->pctx;
	c->stage = st;
	c->client_addr = s->addr;
	c->client_port = s->port;
	c->client_name = s->name;
	c->client_name_status = s->name_status;
	c->reverse_name = s->rname;
	c->reverse_name_status = s->rname_status;
	c->in_mynetworks = s->in_mynetworks;
	c->sasl_authenticated = s->sasl_username != NULL;
	c->sasl_username = s->sasl_username;
	c->sender_login_maps = s->eng->sender_login_maps;
	c->helo = s->helo;
	c->sender = s->sender;
	c->sender_is_final = resolve_is_final(s->eng->resolver, s->sender);
	c->rcpt = rcpt;
	c->rcpt_is_final = resolve_is_final(s->eng->resolver, rcpt);
	c->proto = s->esmtp ? "ESMTP" : "SMTP";
	c->queue_id = "NOQUEUE";
	c->nrcpt = (unsigned)s->nrcpt;
	c->pipelined = s->pipelining_violation;
	c->wake = check_wake;
	c->wake_arg = s;
	c->log = ctx_log;
	c->action = ctx_action;
	return c;
}

/* "warning: SPF fail from host[addr]: ..." and its event (jail mode spf). */
static void spf_fail_event(struct session *s, struct policy_ctx *c)
{
	const struct spf_result *r = policy_spf_result(c);
	char line[1200];
	snprintf(line, sizeof(line), "warning: SPF fail from %s: identity=%s; envelope-from=<%.300s>;"
	    " domain=%.255s", session_client(s), r->identity, s->sender ? s->sender : "", r->domain);
	log_info("%s", line);
	event_send(s, WEV_SPF_FAIL, s->sasl_username, line);
}

/* Run one list. 0 go on, -1 rejected, 1 pending (the command being run,
 * s->cur_line, is kept to be run again). */
static int run_list(struct session *s, const struct restrictions *r, struct policy_ctx *c)
{
	char reply[1024];
	if (r == NULL || restrictions_count(r) == 0)
		return 0;
	reply[0] = '\0';
	enum policy_result res = restrictions_eval(r, c, reply, sizeof(reply));
	if (res != POLICY_PENDING && policy_spf_fail_news(c))
		spf_fail_event(s, c);
	switch (res) {
	case POLICY_PENDING:
		check_park(s);
		return 1;
	case POLICY_REJECT:
	case POLICY_DEFER:
		session_reply(s, "%s", reply);
		metrics_inc(M_REJECTS, metrics_reject_reason(reply));
		check_log(s, c->stage, "reject", reply, c->rcpt,
		    c->reply_relay ? WEV_RELAY_DENIED : WEV_REJECT);
		return -1;
	default:
		return 0;
	}
}

/* The connect-time verdicts of pregreet / DNSBL scoring (enforce). */
static int connect_verdict(struct session *s, enum policy_stage st, const char *rcpt)
{
	if (s->connect_reject == NULL)
		return 0;
	session_reply(s, "%s", s->connect_reject);
	metrics_inc(M_REJECTS, "connect");
	check_log(s, st, "reject", s->connect_reject, rcpt, WEV_REJECT);
	return -1;
}

/* Run the lists first..last of policy's restriction_lists, in the table's
 * order; own_stage: each at its table stage, else at the context's. */
static int run_lists(struct session *s, struct policy_ctx *c, enum restriction_list_id first,
    enum restriction_list_id last, int own_stage)
{
	const struct role_cfg *rc = &s->eng->roles[s->role];
	for (int id = (int)first; id <= (int)last; id++) {
		if (own_stage)
			c->stage = restriction_lists[id].stage;
		int r = run_list(s, rc->lists[id], c);
		if (r != 0)
			return r;
	}
	return 0;
}

int check_helo(struct session *s)
{
	if (s->eng->roles[s->role].delay_reject)
		return 0;
	struct policy_ctx *c = ctx_get(s, STAGE_CONNECT, NULL);
	return run_lists(s, c, RL_CLIENT, RL_HELO, 1);
}

int check_mail(struct session *s)
{
	if (s->eng->roles[s->role].delay_reject)
		return 0;
	struct policy_ctx *c = ctx_get(s, STAGE_CONNECT, NULL);
	return run_lists(s, c, RL_CLIENT, RL_SENDER, 1);
}

int check_rcpt(struct session *s, const char *rcpt, int is_ours, int known, const char *table)
{
	int r = connect_verdict(s, STAGE_RCPT, rcpt);
	if (r != 0)
		return r;
	struct policy_ctx *c = ctx_get(s, STAGE_RCPT, rcpt);
	c->rcpt_is_ours = is_ours;
	c->rcpt_known = known;
	c->rcpt_table = table;
	/* Postfix's order with smtpd_delay_reject: client, helo, sender, then
	 * relay and recipient lists, all at RCPT; each list ends at its own
	 * PERMIT. The stage stays RCPT so replies and logs say "RCPT from". */
	if (s->eng->roles[s->role].delay_reject &&
	    (r = run_lists(s, c, RL_CLIENT, RL_SENDER, 0)) != 0)
		return r;
	return run_lists(s, c, RL_RELAY, RL_RECIPIENT, 1);
}

int check_data(struct session *s)
{
	struct policy_ctx *c = ctx_get(s, STAGE_DATA, s->nrcpt ? s->rcpt[0] : NULL);
	return run_lists(s, c, RL_DATA, RL_DATA, 1);
}

void check_park(struct session *s)
{
	s->state = SMTP_ST_WAIT;
	free(s->retry_line);
	s->retry_line = xstrdup(s->cur_line);
}

void check_wake_later(struct session *s)
{
	check_wake(s);
}

/* End of a transaction (message sent, RSET, HELO): forget cached replies. */
void check_end_transaction(struct session *s)
{
	if (s->pctx) {
		policy_ctx_clear(s->pctx);
		free(s->pctx);
		s->pctx = NULL;
	}
}

/* The session goes away: nothing may call back into it. */
void check_cancel(struct session *s)
{
	loop_cancel_idle(check_retry, s);
	check_end_transaction(s);
	free(s->retry_line);
	s->retry_line = NULL;
}
