/*
 * auth — SMTP AUTH (RFC 4954): PLAIN and LOGIN, with and without an
 * initial response, over the password backend of src/sasl/ (checked off
 * the event loop). Replies and log lines are Postfix 3.7's; every
 * failure is also sent to the ban engine as an event.
 *
 * Per client network (anvil_key(), not per session) this file keeps a table
 * (the engine's auth_clients):
 * the AUTH commands in the current anvil_rate_time_unit (for
 * smtpd_client_auth_rate_limit) and the recent failures, which set the
 * delay before each 535 (smtpd_sasl_failure_delay, doubled per failure,
 * at most 8 times it) and put the client's next checks in the slow lane
 * of the backend's queue, behind clients with a clean record.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/msg.h"
#include "common/util.h"
#include "sasl/sasl.h"
#include "smtp/auth.h"
#include "smtp/engine_int.h"
#include "smtp/event.h"
#include "smtp/session.h"

#define AUTH_MAX_USER 255
#define AUTH_MAX_PASS 1024
#define FAIL_FORGET_MS (15 * 60 * 1000)	/* failures older than this are forgotten */

/* ---- per client address: rate and failures ---- */

struct auth_client {
	char addr[INET6_ADDRSTRLEN + 5];	/* client network (anvil_key), "" for a free slot */
	uint64_t last_seen;	/* clock_mono_ms() of the last lookup */
	uint64_t window_start;	/* rate window (clock_mono_ms) */
	unsigned auth_cmds;	/* AUTH commands in the window */
	uint64_t last_fail;
	unsigned failures;
};

/* A set-associative table: an address hashes to a set of CLIENT_WAYS
 * slots and lives in any of them, so two addresses that share a set do
 * not wipe each other's record (a plain hashed slot did: with a few
 * hundred attacking addresses a third of them kept resetting each
 * other's failures, never got past the first delay and never reached
 * the slow lane; an attacker could choose such addresses on purpose).
 * A new address takes a free slot, else the least recently seen record
 * with no failures to remember, else the least recently seen. The hash
 * is keyed with a random seed: nobody can aim at one set. */
#define CLIENT_WAYS 8
#define CLIENT_SETS 2048	/* 16,384 addresses, ~1.2 MB, allocated on first AUTH */

static int client_has_failures(const struct auth_client *c, uint64_t now)
{
	return c->failures > 0 && now - c->last_fail <= FAIL_FORGET_MS;
}

static struct auth_client *client_get(struct engine *e, const char *addr)
{
	uint64_t now = clock_mono_ms();
	if (e->auth_clients == NULL) {
		e->auth_clients = xcalloc((size_t)CLIENT_SETS * CLIENT_WAYS, sizeof(*e->auth_clients));
		e->auth_seed = hash_seed();
	}
	uint64_t h = hash_bytes(addr, strlen(addr), e->auth_seed);
	struct auth_client *set = &e->auth_clients[(h % CLIENT_SETS) * CLIENT_WAYS];
	struct auth_client *c = NULL, *victim = NULL;
	int vrank = 0;
	for (int i = 0; i < CLIENT_WAYS; i++) {
		struct auth_client *r = &set[i];
		if (strcmp(r->addr, addr) == 0) {
			c = r;
			break;
		}
		/* The slot a newcomer takes: free (rank 0), else the oldest
		 * record with no failures to remember (1), else the oldest (2). */
		int rank = r->addr[0] ? 1 + client_has_failures(r, now) : 0;
		if (victim == NULL || rank < vrank ||
		    (rank == vrank && r->last_seen < victim->last_seen)) {
			victim = r;
			vrank = rank;
		}
	}
	if (c == NULL) {
		c = victim;
		memset(c, 0, sizeof(*c));
		snprintf(c->addr, sizeof(c->addr), "%s", addr);
	}
	c->last_seen = now;
	if (c->failures && now - c->last_fail > FAIL_FORGET_MS)
		c->failures = 0;
	return c;
}

/* ---- the exchange ---- */

int auth_offered(const struct session *s)
{
	return s->eng->roles[s->role].sasl_enable && s->eng->sasl != NULL &&
	    (s->tls == TLS_ON || !s->eng->roles[s->role].tls_auth_only);
}

void auth_cancel(struct session *s)
{
	if (s->auth_req) {
		sasl_cancel(s->auth_req);
		s->auth_req = NULL;
	}
	free(s->auth_mech);
	s->auth_mech = NULL;
	free(s->auth_login);
	s->auth_login = NULL;
	s->auth_step = AUTH_NONE;
}

/* Base64 decode (RFC 4648, padding required as RFC 4954 says); -1 if bad. */
static long b64_decode(const char *in, char *out, size_t outlen)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(in), o = 0;
	if (n % 4 != 0)
		return -1;
	for (size_t i = 0; i < n; i += 4) {
		unsigned v = 0;
		int pad = 0;
		for (int k = 0; k < 4; k++) {
			char c = in[i + k];
			const char *p = c ? strchr(tab, c) : NULL;
			if (c == '=' && i + 4 == n && k >= 2) {
				pad++;
				v <<= 6;
				continue;
			}
			if (p == NULL || pad)
				return -1;
			v = (v << 6) | (unsigned)(p - tab);
		}
		unsigned char b[3] = { (unsigned char)(v >> 16), (unsigned char)(v >> 8), (unsigned char)v };
		for (int k = 0; k < 3 - pad; k++) {
			if (o + 1 >= outlen)
				return -1;
			out[o++] = (char)b[k];
		}
	}
	out[o] = '\0';
	return (long)o;
}

long auth_b64_decode(const char *in, char *out, size_t outlen)
{
	return b64_decode(in, out, outlen);
}

int auth_plain_split(const char *buf, size_t n, const char **user, const char **pass)
{
	const char *end = buf + n;
	const char *u = memchr(buf, '\0', n);
	const char *p = u ? memchr(u + 1, '\0', (size_t)(end - u - 1)) : NULL;
	if (u == NULL || p == NULL || memchr(p + 1, '\0', (size_t)(end - p - 1)))
		return -1;
	*user = u + 1;
	*pass = p + 1;
	return 0;
}

static void auth_reply_delayed(struct session *s, long ms, int sync);

/* The end of an exchange. sync: called from inside the AUTH command
 * (the session's input loop goes on by itself), else from the backend. */
static void auth_finish(struct session *s, enum sasl_result r, const char *why,
    const char *authuser, int sync)
{
	/* The backend's name for the user when it gives one (Dovecot's user=). */
	const char *user = authuser ? authuser : s->auth_login ? s->auth_login : "";
	s->auth_req = NULL;
	s->auth_step = AUTH_NONE;
	if (r == SASL_OK) {
		session_reply(s, "235 2.7.0 Authentication successful");
		s->cmd_ok[CMD_AUTH]++;
		free(s->sasl_username);
		s->sasl_username = xstrdup(user);
		s->sasl_method = strcmp(s->auth_mech, "PLAIN") == 0 ? "PLAIN" : "LOGIN";
		struct auth_client *c = client_get(s->eng, s->akey);
		c->failures = 0;
		event_send(s, WEV_AUTH_OK, user, NULL);
		auth_cancel(s);
		if (!sync)
			session_resume(s);
		return;
	}
	if (r == SASL_TEMPFAIL) {
		/* The backend's fault, not the client's: not counted. */
		log_warn("%s: SASL %s authentication failed: %s", session_client(s), s->auth_mech,
		    why && *why ? why : "Connection lost to authentication server");
		session_reply(s, "454 4.7.0 Temporary authentication failure");
		auth_cancel(s);
		if (!sync)
			session_resume(s);
		return;
	}
	/* Postfix logs the last challenge for LOGIN (base64 "Password:"). */
	const char *reason = strcmp(s->auth_mech, "LOGIN") == 0 ? "UGFzc3dvcmQ6" :
	    "authentication failure";
	char line[768];
	snprintf(line, sizeof(line), "%s: SASL %s authentication failed: %s, sasl_username=%s",
	    session_client(s), s->auth_mech, reason, user);
	log_warn("%s", line);
	event_send(s, WEV_AUTH_FAIL, user, line);
	metrics_inc(M_AUTH_FAILURES, NULL);
	session_reply(s, "535 5.7.8 Error: authentication failed: %s", reason);
	s->auth_failures++;
	struct auth_client *c = client_get(s->eng, s->akey);
	c->failures++;
	c->last_fail = clock_mono_ms();
	unsigned shift = c->failures > 4 ? 3 : c->failures - 1;
	auth_cancel(s);
	session_error(s);
	auth_reply_delayed(s, s->eng->auth_delay_ms << shift, sync);
}

static void auth_done(void *arg, enum sasl_result r, const char *why, const char *user)
{
	auth_finish(arg, r, why, user, 0);
}

/* Hold the reply (and further input) for ms, then go on. */
static void auth_reply_delayed(struct session *s, long ms, int sync)
{
	if (ms <= 0 || s->state == SMTP_ST_CLOSING) {
		if (!sync)
			session_resume(s);
		return;
	}
	session_sleep_then_resume(s, ms);
}

static void auth_check(struct session *s, const char *user, const char *pass)
{
	free(s->auth_login);
	s->auth_login = xstrdup(user);
	s->auth_step = AUTH_CHECKING;
	struct auth_client *c = client_get(s->eng, s->akey);
	s->auth_req = sasl_check_flags(s->eng->sasl, s->auth_mech, user, pass, s->addr,
	    (c->failures > 0 ? SASL_SUSPECT : 0) | (s->tls == TLS_ON ? SASL_SECURED : 0),
	    auth_done, s);
}

/* PLAIN: [authzid] NUL authcid NUL passwd. */
static void auth_plain(struct session *s, const char *b64)
{
	char buf[AUTH_MAX_USER * 2 + AUTH_MAX_PASS + 8];
	long n = b64_decode(b64, buf, sizeof(buf));
	if (n < 0) {
		auth_cancel(s);
		session_reply(s, "501 5.5.2 Cannot decode response");
		session_error(s);
		return;
	}
	const char *authz = buf, *user, *pass;
	if (auth_plain_split(buf, (size_t)n, &user, &pass) < 0) {
		auth_cancel(s);
		session_reply(s, "501 5.5.2 Invalid authentication response");
		session_error(s);
		return;
	}
	if (*user == '\0' || strlen(user) > AUTH_MAX_USER || (*authz && strcmp(authz, user) != 0)) {
		/* Acting as another user (authzid) is not supported. */
		s->auth_step = AUTH_CHECKING;
		free(s->auth_login);
		s->auth_login = xstrdup(*user ? user : authz);
		auth_finish(s, SASL_FAIL, NULL, NULL, 1);
		return;
	}
	auth_check(s, user, pass);
}

void auth_input(struct session *s, char *line, size_t len)
{
	char buf[AUTH_MAX_PASS + 8];
	s->last_cmd = "AUTH";
	if (strcmp(line, "*") == 0) {
		log_warn("%s: SASL %s authentication aborted", session_client(s), s->auth_mech);
		auth_cancel(s);
		session_reply(s, "501 5.7.0 Authentication aborted");
		session_error(s);
		return;
	}
	if ((long)len >= s->eng->line_limit) {
		auth_cancel(s);
		session_reply(s, "500 5.5.6 Authentication exchange line is too long");
		session_error(s);
		return;
	}
	switch (s->auth_step) {
	case AUTH_PLAIN_RESP:
		auth_plain(s, line);
		return;
	case AUTH_LOGIN_USER:
		if (b64_decode(line, buf, AUTH_MAX_USER + 1) <= 0 || memchr(buf, '\0', strlen(line)) != buf + strlen(buf)) {
			auth_cancel(s);
			session_reply(s, "501 5.5.2 Cannot decode response");
			session_error(s);
			return;
		}
		free(s->auth_login);
		s->auth_login = xstrdup(buf);
		s->auth_step = AUTH_LOGIN_PASS;
		session_reply(s, "334 UGFzc3dvcmQ6");
		return;
	case AUTH_LOGIN_PASS: {
		long n = b64_decode(line, buf, sizeof(buf));
		if (n < 0 || (size_t)n != strlen(buf)) {
			auth_cancel(s);
			session_reply(s, "501 5.5.2 Cannot decode response");
			session_error(s);
			return;
		}
		char *user = s->auth_login;
		s->auth_login = NULL;
		auth_check(s, user, buf);
		free(user);
		explicit_bzero(buf, sizeof(buf));
		return;
	}
	default:
		auth_cancel(s);
		return;
	}
}

int auth_cmd(struct session *s, char *arg)
{
	if (!auth_offered(s)) {
		session_reply(s, "503 5.5.1 Error: authentication not enabled");
		return -1;
	}
	if (s->helo == NULL) {
		session_reply(s, "503 5.5.1 Error: send HELO/EHLO first");
		return -1;
	}
	if (s->sender) {
		session_reply(s, "503 5.5.1 Error: MAIL transaction in progress");
		return -1;
	}
	if (s->sasl_username) {
		session_reply(s, "503 5.5.1 Error: already authenticated");
		return -1;
	}
	char *mech = arg, *init = NULL;
	char *sp = strchr(arg, ' ');
	if (sp) {
		*sp = '\0';
		init = sp + 1;
		if (*init == '\0' || strchr(init, ' ')) {
			session_reply(s, "501 5.5.4 Syntax: AUTH mechanism");
			return -1;
		}
	}
	if (*mech == '\0') {
		session_reply(s, "501 5.5.4 Syntax: AUTH mechanism");
		return -1;
	}
	if (s->eng->auth_rate_limit > 0 && !s->limit_exempt) {	/* as anvil: exceptions are never limited */
		struct auth_client *c = client_get(s->eng, s->akey);
		uint64_t now = clock_mono_ms();
		if (now - c->window_start >= (uint64_t)s->eng->rate_unit_ms) {
			c->window_start = now;
			c->auth_cmds = 0;
		}
		if (++c->auth_cmds > (unsigned)s->eng->auth_rate_limit) {
			log_warn("AUTH command rate limit exceeded: %u from %s for service %s",
			    c->auth_cmds, session_client(s), s->eng->roles[s->role].name);
			session_reply(s, "450 4.7.1 Error: too many AUTH commands from %s", s->addr);
			return -1;
		}
	}
	if (strcasecmp(mech, "PLAIN") != 0 && strcasecmp(mech, "LOGIN") != 0) {
		session_reply(s, "504 5.5.4 Unrecognized authentication type");
		return -1;
	}
	s->auth_mech = xstrdup(strcasecmp(mech, "PLAIN") == 0 ? "PLAIN" : "LOGIN");
	if (s->auth_mech[0] == 'P') {
		if (init == NULL) {
			s->auth_step = AUTH_PLAIN_RESP;
			session_reply(s, "334 ");
			return 1;	/* counted when the exchange ends */
		}
		s->auth_step = AUTH_PLAIN_RESP;
		auth_plain(s, strcmp(init, "=") == 0 ? "" : init);
		return 1;	/* errors were counted by the exchange */
	}
	if (init == NULL) {
		s->auth_step = AUTH_LOGIN_USER;
		session_reply(s, "334 VXNlcm5hbWU6");
		return 1;
	}
	s->auth_step = AUTH_LOGIN_USER;
	auth_input(s, init, strlen(init));
	return 1;
}
