/*
 * limits — Postfix's per-client rate limits and its stress mode for the
 * smtp engine. The rates (smtpd_client_connection_rate_limit,
 * _message_rate_limit, _recipient_rate_limit,
 * _new_tls_session_rate_limit) are counted by anvil.c per client network
 * over anvil_rate_time_unit; clients in smtpd_client_event_limit_exceptions
 * are neither counted nor limited. Each hit gives Postfix smtpd's warning
 * and reply and is sent to the ban engine as a WEV_RATE event.
 *
 * Stress mode (Postfix's STRESS_README): when the engine reaches
 * default_process_limit sessions it stops accepting (engine.c) and the
 * stress values apply to every session: smtpd_timeout 10s,
 * smtpd_hard_error_limit 1, smtpd_junk_command_limit 1,
 * smtpd_starttls_timeout 10s, smtpd_per_request_deadline yes. It ends
 * when the sessions fall below three quarters of the limit.
 */
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/msg.h"
#include "smtp/engine_int.h"
#include "smtp/event.h"
#include "smtp/limits.h"
#include "smtp/session.h"

#define STRESS_TIMEOUT_MS	10000
/* Under stress, a client that has not yet completed one command gets this
 * long (mailwarden's choice, Postfix's postscreen_greet_wait under stress:
 * ${stress?{2}:{6}}s), so that slow clients holding every session before
 * their first command are cut in seconds and a waiting client is served. */
#define STRESS_FIRST_MS		2000
#define STRESS_HARD_ERRORS	1
#define STRESS_JUNK		1

/* smtpd_timeout now (10 s in stress mode). */
long limit_timeout_ms(const struct engine *e)
{
	return e->stress && e->timeout_ms > STRESS_TIMEOUT_MS ? STRESS_TIMEOUT_MS : e->timeout_ms;
}

/* The session's request timeout now: limit_timeout_ms(), or
 * STRESS_FIRST_MS in stress mode before its first command. */
long limit_session_timeout_ms(const struct session *s)
{
	long t = limit_timeout_ms(s->eng);
	if (s->eng->stress && s->last_cmd == NULL && t > STRESS_FIRST_MS)
		t = STRESS_FIRST_MS;
	return t;
}

/* smtpd_hard_error_limit now (1 in stress mode). */
long limit_hard_errors(const struct session *s)
{
	return s->eng->stress ? STRESS_HARD_ERRORS : s->eng->roles[s->role].hard_error_limit;
}

/* smtpd_junk_command_limit now (1 in stress mode). */
long limit_junk(const struct engine *e)
{
	return e->stress ? STRESS_JUNK : e->junk_limit;
}

/* smtpd_starttls_timeout now (10 s in stress mode). */
long limit_starttls_timeout_ms(const struct engine *e)
{
	return e->stress && e->starttls_timeout_ms > STRESS_TIMEOUT_MS ? STRESS_TIMEOUT_MS :
	    e->starttls_timeout_ms;
}

/* Per-request deadlines now (smtpd_per_request_deadline, or stress). */
int limit_deadline(const struct engine *e)
{
	return e->stress || e->per_request_deadline;
}

/* The session's timer after n bytes read (0: a new request). */
void limit_arm_timer(struct session *s, size_t n)
{
	uint64_t now = clock_mono_ms(), t = (uint64_t)limit_session_timeout_ms(s);
	if (!limit_deadline(s->eng)) {
		loop_timer_set(&s->timer, t, session_timeout, s);
		return;
	}
	if (s->state != SMTP_ST_DATA) {
		if (n == 0)	/* a new request: its whole time starts now */
			loop_timer_set(&s->timer, t, session_timeout, s);
		return;
	}
	/* DATA (Postfix 3.7): each byte read earns 1/smtpd_min_data_rate s,
	 * never more than smtpd_timeout ahead. */
	if (n == 0 || s->deadline == 0)
		s->deadline = now + t;
	else
		s->deadline += (uint64_t)n * 1000 / (uint64_t)s->eng->min_data_rate;
	if (s->deadline > now + t)
		s->deadline = now + t;
	loop_timer_set(&s->timer, s->deadline > now ? s->deadline - now : 1, session_timeout, s);
}

/* Log Postfix's warning and tell the ban engine. */
static void hit(struct session *s, const char *what, unsigned rate)
{
	char line[512];
	snprintf(line, sizeof(line), "%s rate limit exceeded: %u from %s for service %s",
	    what, rate, session_client(s), s->eng->roles[s->role].name);
	log_warn("%s", line);
	event_send(s, WEV_RATE, s->sasl_username, line);
}

static unsigned count(struct session *s, enum anvil_rate r, long limit, int add)
{
	if (limit <= 0 || s->limit_exempt)
		return 0;
	unsigned rate = anvil_rate(&s->eng->anvil, s->akey, r, add);
	return rate > (unsigned long)limit ? rate : 0;
}

/* smtpd_client_connection_rate_limit, before the greeting. */
int limit_connect(struct session *s)
{
	if (s->limit_exempt)
		return 0;
	/* Counted even with no limit set, as Postfix's anvil does. */
	unsigned rate = anvil_rate(&s->eng->anvil, s->akey, ANVIL_CONN, 1);
	long limit = s->eng->roles[s->role].conn_rate_limit;
	if (limit <= 0 || rate <= (unsigned long)limit)
		return 0;
	hit(s, "Connection", rate);
	session_reply(s, "421 4.7.0 %s Error: too many connections from %s", s->eng->myhostname, s->addr);
	s->state = SMTP_ST_CLOSING;
	return -1;
}

/* smtpd_client_message_rate_limit, at MAIL FROM. */
int limit_mail(struct session *s)
{
	unsigned rate = count(s, ANVIL_MAIL, s->eng->mail_rate_limit, 1);
	if (rate == 0)
		return 0;
	session_reply(s, "450 4.7.1 Error: too much mail from %s", s->addr);
	hit(s, "Message delivery request", rate);
	return -1;
}

/* smtpd_client_recipient_rate_limit, at RCPT TO. */
int limit_rcpt(struct session *s)
{
	unsigned rate = count(s, ANVIL_RCPT, s->eng->rcpt_rate_limit, 1);
	if (rate == 0)
		return 0;
	hit(s, "Recipient address", rate);
	session_reply(s, "450 4.7.1 Error: too many recipients from %s", s->addr);
	return -1;
}

/* Over smtpd_client_new_tls_session_rate_limit before a handshake: 1,
 * logged as Postfix does ("Refusing WHAT request from ...") and sent to
 * the ban engine; 0 under the limit. */
static int tls_refused(struct session *s, const char *what)
{
	if (count(s, ANVIL_NEWTLS, s->eng->tls_rate_limit, 0) == 0)
		return 0;
	char line[512];
	snprintf(line, sizeof(line), "Refusing %s request from %s for service %s", what,
	    session_client(s), s->eng->roles[s->role].name);
	log_warn("%s", line);
	event_send(s, WEV_RATE, NULL, line);
	return 1;
}

/* STARTTLS: refused before the 220 when the client is over its rate. */
int limit_starttls(struct session *s)
{
	if (!tls_refused(s, "STARTTLS"))
		return 0;
	session_reply(s, "454 4.7.0 Error: too many new TLS sessions from %s", session_client(s));
	return -1;
}

/* Implicit TLS (smtps): refused without a handshake, as Postfix. */
int limit_tls_wrapper(struct session *s)
{
	return tls_refused(s, "TLS service") ? -1 : 0;
}

/* A handshake completed: a new TLS session (we resume none). */
int limit_tls_handshake(struct session *s)
{
	unsigned rate = count(s, ANVIL_NEWTLS, s->eng->tls_rate_limit, 1);
	if (rate == 0)
		return 0;
	hit(s, "New TLS session", rate);
	session_reply(s, "421 4.7.0 %s Error: too many new TLS sessions from %s", s->eng->myhostname,
	    session_client(s));
	s->state = SMTP_ST_CLOSING;
	return -1;
}

/* Enter or leave stress mode after the session count changed. */
void limit_stress_check(struct engine *e)
{
	if (!e->stress && e->nsessions >= e->session_limit && !e->draining) {
		e->stress = 1;
		/* Postfix's master says this about its smtpd processes */
		log_warn("service \"smtp\" (%s) has reached its process limit \"%zu\": "
		    "new clients may experience noticeable delays", e->smtp_port, e->session_limit);
		log_warn("to avoid this condition, increase the process count "
		    "in master.cf or reduce the service time per client");
		log_warn("see http://www.postfix.org/STRESS_README.html for "
		    "examples of stress-adapting configuration settings");
		log_info("stress mode: smtpd_timeout 10s (2s before the first command), "
		    "smtpd_hard_error_limit 1, smtpd_junk_command_limit 1, "
		    "smtpd_starttls_timeout 10s, smtpd_per_request_deadline yes");
		session_stress_all(e);
	} else if (e->stress && e->nsessions < e->session_limit - e->session_limit / 4) {
		e->stress = 0;
		log_info("stress mode ends: %zu sessions open (process limit %zu)",
		    e->nsessions, e->session_limit);
	}
}
