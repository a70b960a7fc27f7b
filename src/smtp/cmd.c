/*
 * cmd — SMTP commands (RFC 5321), one table row and one handler each,
 * with Postfix's reply texts.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/config.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/msg.h"
#include "common/util.h"
#include "mail/resolve.h"
#include "smtp/auth.h"
#include "smtp/check.h"
#include "smtp/cmd.h"
#include "smtp/data.h"
#include "smtp/engine_int.h"
#include "smtp/event.h"
#include "smtp/limits.h"
#include "smtp/milters.h"
#include "smtp/session.h"

typedef int cmd_fn(struct session *s, char *arg);	/* 0 ok, -1 error */

struct smtp_cmd {
	const char *name;	/* verb, upper case */
	enum smtp_cmd_id id;
	int junk;		/* counts toward smtpd_junk_command_limit */
	int last_in_group;	/* RFC 2920: must be the last of a pipelined group */
	cmd_fn *fn;
};

/* Log a rejected RCPT the way Postfix does (NOQUEUE: reject: ...). */
static void log_reject(struct session *s, const char *stage, const char *reply, const char *rcpt)
{
	char line[1600];
	snprintf(line, sizeof(line), "NOQUEUE: reject: %s from %s: %s; from=<%s> to=<%s> proto=%s helo=<%s>",
	    stage, session_client(s), reply, s->sender ? s->sender : "", rcpt,
	    s->esmtp ? "ESMTP" : "SMTP", s->helo ? s->helo : "");
	log_info("%s", line);
	metrics_inc(M_REJECTS, "recipient");
	event_send(s, WEV_REJECT, s->sasl_username, line);
}

static int do_helo(struct session *s, char *arg, int esmtp)
{
	if (*arg == '\0') {
		session_reply(s, "501 Syntax: %s hostname", esmtp ? "EHLO" : "HELO");
		return -1;
	}
	free(s->helo);
	/* As Postfix: printable() then neuter() before the name is used in
	 * restrictions, logs or the Received header. */
	s->helo = str_printable(xstrdup(arg), '?');
	for (char *p = s->helo; *p; p++)
		if (strchr(" <>()\\\";@", *p) != NULL)
			*p = '?';
	s->esmtp = esmtp;
	session_reset_transaction(s);
	int r = check_helo(s);
	if (r == 0)
		r = milters_helo(s);
	if (r != 0) {
		free(s->helo);
		s->helo = NULL;
		return r;
	}
	if (!esmtp) {
		session_reply(s, "250 %s", s->eng->myhostname);
		return 0;
	}
	session_reply(s, "250-%s", s->eng->myhostname);
	session_reply(s, "250-PIPELINING");
	if (s->eng->size_limit > 0)
		session_reply(s, "250-SIZE %ld", s->eng->size_limit);
	else
		session_reply(s, "250-SIZE");
	if (!s->eng->disable_vrfy)
		session_reply(s, "250-VRFY");
	if (s->eng->roles[s->role].tls_may && s->tls != TLS_ON)
		session_reply(s, "250-STARTTLS");
	if (auth_offered(s))
		session_reply(s, "250-AUTH PLAIN LOGIN");
	session_reply(s, "250-ENHANCEDSTATUSCODES");
	session_reply(s, "250-8BITMIME");
	session_reply(s, "250 SMTPUTF8");
	return 0;
}

static int c_helo(struct session *s, char *arg) { return do_helo(s, arg, 0); }
static int c_ehlo(struct session *s, char *arg) { return do_helo(s, arg, 1); }

/*
 * Parse "FROM:<addr> params" / "TO:<addr> params". Returns the address
 * (in place, brackets removed) or NULL on syntax error; *params points
 * at the ESMTP parameters.
 */
static char *parse_path(char *arg, const char *prefix, char **params)
{
	size_t plen = strlen(prefix);
	if (strncasecmp(arg, prefix, plen) != 0)
		return NULL;
	char *p = arg + plen;
	while (*p == ' ')
		p++;
	char *addr, *end;
	if (*p == '<') {
		addr = ++p;
		int quoted = 0;
		for (end = p; *end; end++) {
			if (*end == '"')
				quoted = !quoted;
			else if (*end == '\\' && end[1])
				end++;
			else if (*end == '>' && !quoted)
				break;
		}
		if (*end != '>')
			return NULL;
		*end++ = '\0';
	} else {
		/* Postfix accepts an address without <> (strict_rfc821 = no). */
		addr = p;
		end = p + strcspn(p, " ");
		if (*end)
			*end++ = '\0';
	}
	while (*end == ' ')
		end++;
	*params = end;
	/* Drop an RFC 821 source route: @a,@b:user@domain. */
	if (addr[0] == '@') {
		char *colon = strchr(addr, ':');
		if (colon == NULL)
			return NULL;
		addr = colon + 1;
	}
	for (char *q = addr; *q; q++)
		if ((unsigned char)*q < 0x20 || *q == 0x7f || (*q == ' ' && addr[0] != '"'))
			return NULL;
	if (strlen(addr) > 254 + 64)
		return NULL;
	return addr;
}

/* Append @myorigin to a bare local part, as Postfix's append_at_myorigin. */
static char *qualify(const struct session *s, const char *addr)
{
	return str_at_origin(addr, config_get(s->eng->cfg, "myorigin"));
}

static int c_mail(struct session *s, char *arg)
{
	char *params;
	if (s->eng->roles[s->role].require_helo && s->helo == NULL) {
		session_reply(s, "503 5.5.1 Error: send HELO/EHLO first");
		return -1;
	}
	if (s->eng->roles[s->role].tls_encrypt && s->tls != TLS_ON) {
		session_reply(s, "530 5.7.0 Must issue a STARTTLS command first");
		return -1;
	}
	if (s->eng->roles[s->role].auth_required && s->sasl_username == NULL) {
		session_reply(s, "530 5.7.0 Authentication required");
		return -1;
	}
	if (s->sender) {
		session_reply(s, "503 5.5.1 Error: nested MAIL command");
		return -1;
	}
	if (limit_mail(s) < 0)
		return -1;
	char *addr = parse_path(arg, "FROM:", &params);
	if (addr == NULL) {
		if (strncasecmp(arg, "FROM:", 5) == 0)
			session_reply(s, "501 5.1.7 Bad sender address syntax");
		else
			session_reply(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
		return -1;
	}
	long size = 0;
	for (char *tok = strtok(params, " "); tok; tok = strtok(NULL, " ")) {
		if (strncasecmp(tok, "SIZE=", 5) == 0) {
			char *e;
			size = strtol(tok + 5, &e, 10);
			if (*e || size < 0) {
				session_reply(s, "501 5.5.4 Bad message size syntax");
				return -1;
			}
		} else if (strncasecmp(tok, "BODY=", 5) == 0) {
			if (!str_ieq(tok + 5, "8BITMIME") && !str_ieq(tok + 5, "7BIT")) {
				session_reply(s, "501 5.5.4 Unsupported BODY parameter");
				return -1;
			}
		} else if (str_ieq(tok, "SMTPUTF8")) {
			/* accepted: we store and deliver 8-bit as is */
		} else {
			session_reply(s, "555 5.5.4 Unsupported option: %s", tok);
			return -1;
		}
	}
	if (s->eng->size_limit > 0 && size > s->eng->size_limit) {
		session_reply(s, "552 5.3.4 Message size exceeds fixed limit");
		return -1;
	}
	s->sender = qualify(s, addr);
	s->declared_size = size;
	int r = check_mail(s);
	if (r == 0)
		r = milters_mail(s);
	if (r != 0) {
		free(s->sender);
		s->sender = NULL;
		return r;
	}
	session_reply(s, "250 2.1.0 Ok");
	return 0;
}

static int c_rcpt(struct session *s, char *arg)
{
	char *params;
	char reply[600];
	if (s->sender == NULL) {
		session_reply(s, "503 5.5.1 Error: need MAIL command");
		return -1;
	}
	if (limit_rcpt(s) < 0)
		return -1;
	char *raw = parse_path(arg, "TO:", &params);
	if (raw == NULL || *raw == '\0') {
		if (strncasecmp(arg, "TO:", 3) == 0)
			session_reply(s, "501 5.1.3 Bad recipient address syntax");
		else
			session_reply(s, "501 5.5.4 Syntax: RCPT TO:<address>");
		return -1;
	}
	if (*params) {
		session_reply(s, "555 5.5.4 Unsupported option: %s", params);
		return -1;
	}
	if ((long)s->nrcpt >= s->eng->rcpt_limit) {
		session_reply(s, "452 4.5.3 Error: too many recipients");
		return -1;
	}
	char *addr = qualify(s, raw);
	const char *table = "local recipient table";
	enum resolve_class cls = resolve_check(s->eng->resolver, addr, &table);
	if (cls == RESOLVE_UNKNOWN && s->eng->roles[s->role].no_unknown_rcpt)
		cls = RESOLVE_LOCAL;	/* no_unknown_recipient_checks: delivery decides */
	int r = check_rcpt(s, addr, cls != RESOLVE_RELAY, cls != RESOLVE_UNKNOWN, table);
	if (r != 0) {
		free(addr);
		return r;
	}
	/* smtpd_reject_unlisted_recipient = no: delivery decides (an
	 * explicit reject_unlisted_recipient above still applies) */
	if (cls == RESOLVE_UNKNOWN && s->eng->roles[s->role].reject_unlisted) {
		snprintf(reply, sizeof(reply), "550 5.1.1 <%s>: Recipient address rejected: User unknown in %s",
		    addr, table);
		session_reply(s, "%s", reply);
		log_reject(s, "RCPT", reply, addr);
		free(addr);
		return -1;
	}
	if ((r = milters_rcpt(s, addr)) != 0) {
		free(addr);
		return r;
	}
	if (s->nrcpt == s->rcpt_cap) {
		s->rcpt_cap = s->rcpt_cap ? s->rcpt_cap * 2 : 4;
		s->rcpt = xrealloc(s->rcpt, s->rcpt_cap * sizeof(*s->rcpt));
	}
	s->rcpt[s->nrcpt++] = addr;
	session_reply(s, "250 2.1.5 Ok");
	return 0;
}

static int c_data(struct session *s, char *arg)
{
	if (*arg) {
		session_reply(s, "501 5.5.4 Syntax: DATA");
		return -1;
	}
	if (s->sender == NULL) {
		session_reply(s, "503 5.5.1 Error: need RCPT command");
		return -1;
	}
	if (s->nrcpt == 0) {
		session_reply(s, "554 5.5.1 Error: no valid recipients");
		return -1;
	}
	int r = check_data(s);
	if (r == 0)
		r = milters_data(s);
	if (r != 0)
		return r;
	if (data_begin(s) < 0) {
		session_reply(s, "451 4.3.0 Error: queue file write error");
		return -1;
	}
	session_reply(s, "354 End data with <CR><LF>.<CR><LF>");
	return 0;
}

static int c_rset(struct session *s, char *arg)
{
	if (*arg) {
		session_reply(s, "501 5.5.4 Syntax: RSET");
		return -1;
	}
	session_reset_transaction(s);
	session_reply(s, "250 2.0.0 Ok");
	return 0;
}

static int c_noop(struct session *s, char *arg)
{
	session_reply(s, "250 2.0.0 Ok");
	return 0;
}

static int c_vrfy(struct session *s, char *arg)
{
	if (s->eng->disable_vrfy) {
		session_reply(s, "502 5.5.1 VRFY command is disabled");
		return -1;
	}
	if (*arg == '\0') {
		session_reply(s, "501 5.5.4 Syntax: VRFY address");
		return -1;
	}
	char *params;
	char tmp[1024];
	snprintf(tmp, sizeof(tmp), "TO:%s", arg);
	char *raw = parse_path(tmp, "TO:", &params);
	if (raw == NULL || *raw == '\0') {
		session_reply(s, "501 5.1.3 Bad recipient address syntax");
		return -1;
	}
	char *addr = qualify(s, raw);
	const char *table = "local recipient table";
	enum resolve_class cls = resolve_check(s->eng->resolver, addr, &table);
	if (cls == RESOLVE_UNKNOWN) {
		session_reply(s, "550 5.1.1 <%s>: Recipient address rejected: User unknown in %s", addr, table);
		free(addr);
		return -1;
	}
	session_reply(s, "252 2.0.0 %s", addr);
	free(addr);
	return 0;
}

static int c_quit(struct session *s, char *arg)
{
	session_reply(s, "221 2.0.0 Bye");
	s->state = SMTP_ST_CLOSING;
	return 0;
}

static int c_help(struct session *s, char *arg)
{
	session_reply(s, "214 2.0.0 Commands: HELO EHLO STARTTLS AUTH MAIL RCPT DATA RSET NOOP QUIT VRFY HELP");
	return 0;
}

static int c_starttls(struct session *s, char *arg)
{
	if (*arg) {
		session_reply(s, "501 5.5.4 Syntax: STARTTLS");
		return -1;
	}
	if (s->tls == TLS_ON) {
		session_reply(s, "554 5.5.1 Error: TLS already active");
		return -1;
	}
	if (!s->eng->roles[s->role].tls_may) {
		session_reply(s, "502 5.5.1 Error: command not implemented");
		return -1;
	}
	if (limit_starttls(s) < 0)
		return -1;
	session_reply(s, "220 2.0.0 Ready to start TLS");
	s->tls_start = 1;	/* session.c: handshake once the 220 is out */
	return 0;
}

static int c_auth(struct session *s, char *arg)
{
	return auth_cmd(s, arg);
}

static const struct smtp_cmd cmd_table[] = {
	{ "HELO", CMD_HELO, 0, 1, c_helo },
	{ "EHLO", CMD_EHLO, 0, 1, c_ehlo },
	{ "MAIL", CMD_MAIL, 0, 0, c_mail },
	{ "RCPT", CMD_RCPT, 0, 0, c_rcpt },
	{ "DATA", CMD_DATA, 0, 1, c_data },
	{ "RSET", CMD_RSET, 1, 0, c_rset },
	{ "NOOP", CMD_NOOP, 1, 1, c_noop },
	{ "VRFY", CMD_VRFY, 1, 1, c_vrfy },
	{ "QUIT", CMD_QUIT, 0, 1, c_quit },
	{ "HELP", CMD_HELP, 0, 0, c_help },
	{ "STARTTLS", CMD_STARTTLS, 0, 1, c_starttls },
	{ "AUTH", CMD_AUTH, 0, 0, c_auth },
	{ NULL, CMD_UNKNOWN, 0, 0, NULL },
};

/* Handle one command line (line ending removed, len bytes). */
void cmd_dispatch(struct session *s, char *line, size_t len)
{
	const struct smtp_cmd *c = NULL;
	int rc;

	if (memchr(line, '\0', len) != NULL || len == 0) {
		s->last_cmd = "UNKNOWN";
		s->cmd_total[CMD_UNKNOWN]++;
		session_reply(s, "500 5.5.2 Error: bad syntax");
		session_error(s);
		goto sleep;
	}
	/* Tolerate trailing white space, as Postfix does. */
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		line[--len] = '\0';
	size_t vlen = strcspn(line, " ");
	for (const struct smtp_cmd *t = cmd_table; t->name; t++)
		if (vlen == strlen(t->name) && strncasecmp(line, t->name, vlen) == 0)
			c = t;
	if (c == NULL) {
		s->last_cmd = "UNKNOWN";
		if (!s->retrying)
			s->cmd_total[CMD_UNKNOWN]++;
		/* The milters' unknown event gets the verb, as Postfix sends it. */
		char *orig = xstrndup(line, len), *verb = xstrndup(line, vlen);
		s->cur_line = orig;	/* a wait re-runs the line */
		rc = milters_unknown(s, verb);
		s->cur_line = NULL;
		free(orig);
		free(verb);
		if (rc == 1)
			return;
		if (rc == 0)
			session_reply(s, "500 5.5.2 Error: command not recognized");
		session_error(s);
		goto sleep;
	}
	char *arg = line + vlen;
	while (*arg == ' ')
		arg++;
	s->last_cmd = c->name;
	if (!s->retrying)
		s->cmd_total[c->id]++;
	/* reject_unauth_pipelining (sticky, as Postfix): more input was waiting
	 * after a command that must end a group (RFC 2920: EHLO, DATA, VRFY,
	 * QUIT, NOOP, and HELO), or the client never saw PIPELINING. */
	if (s->input_pending && (c->last_in_group || !s->esmtp))
		s->pipelining_violation = 1;
	/* Handlers parse in place; a retry after a lookup needs the original. */
	char *orig = xstrndup(line, len);
	s->cur_line = orig;
	rc = c->fn(s, arg);
	s->cur_line = NULL;
	free(orig);
	if (rc == 1)
		return;		/* waiting for a lookup: the command runs again */
	if (rc == 0)
		s->cmd_ok[c->id]++;
	if (c->junk && ++s->junk > (unsigned)limit_junk(s->eng))
		session_error(s);
	else if (rc < 0)
		session_error(s);
	if (rc == 0)
		return;
sleep:
	if (s->state == SMTP_ST_CMD && s->eng->roles[s->role].error_sleep_ms > 0 &&
	    (long)s->errors >= s->eng->roles[s->role].soft_error_limit)
		session_sleep_then_resume(s, s->eng->roles[s->role].error_sleep_ms);
}

char *cmd_parse_path(char *arg, const char *prefix, char **params)
{
	return parse_path(arg, prefix, params);
}
