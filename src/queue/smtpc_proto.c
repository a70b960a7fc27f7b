/*
 * smtpc_proto — the SMTP/LMTP dialogue of a client connection (see
 * smtpc.h): reply codes to DSN status, dot-stuffing, the greeting, EHLO
 * (HELO fallback), STARTTLS and AUTH exchanges, and one message's
 * pipelined commands, body and per-recipient results. The socket, TLS
 * and timer side is smtpc.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/clock.h"
#include "common/util.h"
#include "queue/smtpc_int.h"

/* ---- pure helpers ---- */

void smtpc_reply_dsn(const char *reply, char *dsn, size_t len)
{
	int a, b, c, n = 0;
	const char *t = strlen(reply) > 4 ? reply + 4 : "";

	if (sscanf(t, "%1d.%3d.%3d%n", &a, &b, &c, &n) == 3 && n > 0 &&
	    (t[n] == ' ' || t[n] == '\0') && a == reply[0] - '0') {
		snprintf(dsn, len, "%d.%d.%d", a, b, c);
		return;
	}
	snprintf(dsn, len, "%c.0.0", reply[0] >= '2' && reply[0] <= '5' ? reply[0] : '4');
}

/* *st: ST_BOL (at the beginning of a line), ST_CR (a CR waits for the
 * next byte to tell CRLF from a bare CR). */
#define STUFF_BOL	1
#define STUFF_CR	2

size_t smtpc_stuff(const char *in, size_t n, char *out, int *st)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char ch = in[i];
		if (*st & STUFF_CR) {		/* CRLF, or a bare CR: both end a line */
			out[o++] = '\r';
			out[o++] = '\n';
			*st = STUFF_BOL;
			if (ch == '\n')
				continue;
		}
		if (ch == '\r') {
			*st |= STUFF_CR;
			continue;
		}
		if ((*st & STUFF_BOL) && ch == '.')
			out[o++] = '.';
		if (ch == '\n') {
			out[o++] = '\r';
			*st = STUFF_BOL;
		} else {
			*st = 0;
		}
		out[o++] = ch;
	}
	return o;
}

size_t smtpc_stuff_end(char *out, int *st)
{
	if (*st == STUFF_BOL)
		return 0;
	out[0] = '\r';
	out[1] = '\n';
	*st = STUFF_BOL;
	return 2;
}

int smtpc_sasl_plain_ok(const char *opts)
{
	/* PLAIN and LOGIN are plaintext, active- and dictionary-attackable
	 * and without mutual authentication: only noanonymous leaves them. */
	const char *p = opts;
	while (*p) {
		size_t n = strcspn(p, ", \t\n");
		if (n > 0 && !(n == 11 && strncasecmp(p, "noanonymous", 11) == 0))
			return 0;
		p += n;
		p += strspn(p, ", \t\n");
	}
	return 1;
}

/* ---- results ---- */

void smtpc_rcpt_set(struct smtpc_rcpt *r, enum smtpc_status st, const char *dsn,
    const char *fmt, ...)
{
	va_list ap;
	r->st = st;
	str_copy(r->dsn, sizeof(r->dsn), dsn);
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
}

/* A reply to a command for recipient r. */
static void rcpt_reply(struct smtpc *c, struct smtpc_rcpt *r, int code, const char *text,
    const char *cmd)
{
	char dsn[16];
	smtpc_reply_dsn(text, dsn, sizeof(dsn));
	if (code / 100 == 2)
		smtpc_rcpt_set(r, SMTPC_SENT, dsn, "%s", text);
	else
		smtpc_rcpt_set(r, code / 100 == 5 ? SMTPC_BOUNCE : SMTPC_DEFER, dsn,
		    "host %s said: %s (in reply to %s)", c->host, text, cmd);
}

const char *smtpc_stage(const struct smtpc *c)
{
	switch (c->st) {
	case ST_CONNECT:
	case ST_BANNER: return "receiving the initial server greeting";
	case ST_EHLO:
	case ST_HELO: return "performing the EHLO handshake";
	case ST_STARTTLS:
	case ST_TLS: return "performing the STARTTLS handshake";
	case ST_AUTH:
	case ST_AUTH_USER:
	case ST_AUTH_PASS: return "authenticating";
	case ST_XACT:
		if (c->creply < c->ncmd)
			switch (c->cmds[c->creply].c) {
			case CMD_RSET: return "sending RSET";
			case CMD_MAIL: return "sending MAIL FROM";
			case CMD_RCPT: return "sending RCPT TO";
			case CMD_DATA: return "sending DATA command";
			}
		return "sending MAIL FROM";
	case ST_BODY: return "sending message body";
	case ST_DOT: return "sending end of data -- message may be sent more than once";
	default: return "waiting for a command";
	}
}

/* ---- greeting, EHLO, STARTTLS, AUTH ---- */

int smtpc_send_ehlo(struct smtpc *c)
{
	c->st = ST_EHLO;
	smtpc_sendf(c, "%s %s", c->lmtp ? "LHLO" : "EHLO", c->sc->helo);
	smtpc_set_timer(c, c->sc->t_helo);
	return 0;
}

static void b64(const char *in, size_t n, char *out, size_t outlen)
{
	if (outlen < 4 * ((n + 2) / 3) + 1) {
		out[0] = '\0';
		return;
	}
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)in, (int)n);
}

/* After the (last) EHLO: STARTTLS, AUTH or the first message. */
static void after_ehlo(struct smtpc *c)
{
	int want_tls = c->sc->tls_level != SMTPC_TLS_NONE && c->sc->ssl_ctx != NULL && !c->lmtp;

	if (want_tls && !c->tls_done) {
		if (c->starttls) {
			c->st = ST_STARTTLS;
			smtpc_sendf(c, "STARTTLS");
			smtpc_set_timer(c, c->sc->t_starttls);
			return;
		}
		if (c->sc->tls_level >= SMTPC_TLS_ENCRYPT) {
			smtpc_conn_fail(c, "4.7.4", 0, "TLS is required, but was not offered by host %s",
			    c->host);
			return;
		}
	}
	if (c->user != NULL && c->auth_offered) {
		int ok = c->ssl != NULL ? c->sc->sasl_tls_plain_ok : c->sc->sasl_plain_ok;
		if (!ok || !(c->auth_plain || c->auth_login)) {
			/* Postfix's text when its SASL library finds no mechanism
			 * the security options allow: credentials never leave. */
			smtpc_conn_fail(c, "4.7.0", 0, "SASL authentication failed; cannot "
			    "authenticate to server %s: no mechanism available", c->host);
			return;
		}
		char raw[1024], enc[1400];
		if (c->auth_plain) {
			int n = snprintf(raw, sizeof(raw), "%c%s%c%s", 0, c->user, 0, c->pass);
			if (n < 0 || (size_t)n >= sizeof(raw))
				n = 0;
			b64(raw, (size_t)n, enc, sizeof(enc));
			smtpc_sendf(c, "AUTH PLAIN %s", enc);
			c->st = ST_AUTH;
		} else {
			smtpc_sendf(c, "AUTH LOGIN");
			c->st = ST_AUTH_USER;
		}
		smtpc_set_timer(c, c->sc->t_mail);
		return;
	}
	smtpc_xact_begin(c);
}

static void ehlo_features(struct smtpc *c, const char *text)
{
	const char *p = text;
	c->esmtp = 1;
	while (p && *p) {
		/* a line is "250-KEYWORD ..." or a bare final "250" */
		const char *e = strchr(p, '\n');
		size_t ll = e ? (size_t)(e - p) : strlen(p);
		const char *kw = p + (ll > 4 ? 4 : ll);
		size_t l = ll > 4 ? ll - 4 : 0;
		if (l > 0) {
			if (l >= 10 && strncasecmp(kw, "PIPELINING", 10) == 0)
				c->pipelining = 1;
			else if (l >= 4 && strncasecmp(kw, "SIZE", 4) == 0)
				c->size_ok = 1;
			else if (l >= 8 && strncasecmp(kw, "8BITMIME", 8) == 0)
				c->eightbit = 1;
			else if (l >= 8 && strncasecmp(kw, "STARTTLS", 8) == 0)
				c->starttls = 1;
			else if (l >= 5 && strncasecmp(kw, "AUTH", 4) == 0 &&
			    (kw[4] == ' ' || kw[4] == '=')) {
				char mechs[512];
				c->auth_offered = 1;
				snprintf(mechs, sizeof(mechs), " %.*s ", (int)(l - 5), kw + 5);
				str_lower(mechs);
				c->auth_plain |= strstr(mechs, " plain ") != NULL;
				c->auth_login |= strstr(mechs, " login ") != NULL;
			}
		}
		p = e ? e + 1 : NULL;
	}
}

/* A reply before the first message. Returns after at most one state change. */
void smtpc_setup_reply(struct smtpc *c, int code, char *text)
{
	char enc[1400];

	switch (c->st) {
	case ST_BANNER:
		if (code / 100 != 2) {
			smtpc_flat(text);
			smtpc_conn_fail(c, code / 100 == 5 ? "5.0.0" : "4.0.0", code / 100 == 5,
			    "host %s refused to talk to me: %s", c->host, text);
			return;
		}
		smtpc_send_ehlo(c);
		return;
	case ST_EHLO:
		if (code / 100 == 2) {
			ehlo_features(c, text);
			after_ehlo(c);
			return;
		}
		if (code / 100 == 5 && !c->lmtp && !c->helo_fallback) {
			c->helo_fallback = 1;
			c->st = ST_HELO;
			smtpc_sendf(c, "HELO %s", c->sc->helo);
			return;
		}
		smtpc_flat(text);
		smtpc_conn_fail(c, code / 100 == 5 ? "5.0.0" : "4.0.0", code / 100 == 5,
		    "host %s said: %s (in reply to %s command)", c->host, text,
		    c->lmtp ? "LHLO" : "EHLO");
		return;
	case ST_HELO:
		if (code / 100 != 2) {
			smtpc_flat(text);
			smtpc_conn_fail(c, code / 100 == 5 ? "5.0.0" : "4.0.0", code / 100 == 5,
			    "host %s said: %s (in reply to HELO command)", c->host, text);
			return;
		}
		after_ehlo(c);
		return;
	case ST_STARTTLS:
		if (code == 220) {
			if (c->in.len > 0) {	/* replies injected before the handshake */
				smtpc_conn_fail(c, "4.7.5", 0, "Cannot start TLS: host %s sent "
				    "plaintext after its 220 reply to STARTTLS (response injection)",
				    c->host);
				return;
			}
			smtpc_tls_begin(c);
			return;
		}
		if (c->sc->tls_level >= SMTPC_TLS_ENCRYPT) {
			smtpc_flat(text);
			smtpc_conn_fail(c, "4.7.5", 0, "TLS is required, but host %s refused to start TLS: %s",
			    c->host, text);
			return;
		}
		c->tls_done = 1;	/* may: go on in plain text */
		after_ehlo(c);
		return;
	case ST_AUTH_USER:
	case ST_AUTH_PASS:
		if (code == 334) {
			const char *v = c->st == ST_AUTH_USER ? c->user : c->pass;
			b64(v, strlen(v), enc, sizeof(enc));
			smtpc_sendf(c, "%s", enc);
			c->st = c->st == ST_AUTH_USER ? ST_AUTH_PASS : ST_AUTH;
			return;
		}
		/* FALLTHROUGH */
	case ST_AUTH:
		if (code == 235) {
			smtpc_xact_begin(c);
			return;
		}
		smtpc_flat(text);
		smtpc_conn_fail(c, "4.7.0", 0, "SASL authentication failed; server %s said: %s",
		    c->host, text);
		return;
	default:
		return;
	}
}

/* ---- one message ---- */

static void push_cmd(struct smtpc *c, enum cmd cmd, size_t i)
{
	c->cmds[c->ncmd].c = cmd;
	c->cmds[c->ncmd].i = i;
	c->ncmd++;
}

/* Send the next command(s): all of them when pipelining. */
static void send_cmds(struct smtpc *c)
{
	struct smtpc_msg *m = c->msg;
	while (c->csent < c->ncmd && (c->pipelining || c->csent == c->creply)) {
		const struct pcmd *p = &c->cmds[c->csent++];
		switch (p->c) {
		case CMD_RSET:
			smtpc_sendf(c, "RSET");
			break;
		case CMD_MAIL: {
			char size[48] = "";
			if (c->size_ok)
				snprintf(size, sizeof(size), " SIZE=%zu", m->body_len);
			smtpc_sendf(c, "MAIL FROM:<%s>%s%s", m->sender, size,
			    c->eightbit ? " BODY=8BITMIME" : "");
			break;
		}
		case CMD_RCPT:
			smtpc_sendf(c, "RCPT TO:<%s>", m->rcpt[p->i].addr);
			break;
		case CMD_DATA:
			smtpc_sendf(c, "DATA");
			break;
		}
	}
	if (c->creply < c->ncmd) {
		enum cmd w = c->cmds[c->creply].c;
		smtpc_set_timer(c, w == CMD_RCPT ? c->sc->t_rcpt : w == CMD_DATA ? c->sc->t_data_init :
		    c->sc->t_mail);
	}
}

void smtpc_xact_begin(struct smtpc *c)
{
	struct smtpc_msg *m = c->msg;

	c->st = ST_XACT;
	c->cmds = xcalloc(m->nrcpt + 3, sizeof(*c->cmds));
	c->ncmd = c->csent = c->creply = 0;
	c->mail_failed = c->discard_dot = 0;
	c->naccepted = c->dots = 0;
	if (c->need_rset)
		push_cmd(c, CMD_RSET, 0);
	push_cmd(c, CMD_MAIL, 0);
	for (size_t i = 0; i < m->nrcpt; i++)
		push_cmd(c, CMD_RCPT, i);
	push_cmd(c, CMD_DATA, 0);
	m->t_xfer = clock_wall_f();
	m->remote = 1;
	send_cmds(c);
}

void smtpc_body_fill(struct smtpc *c)
{
	struct smtpc_msg *m = c->msg;
	char in[BODY_CHUNK], out[2 * BODY_CHUNK + 8];

	while (c->st == ST_BODY && c->out.len < BODY_LOW) {
		if (c->body_pos >= m->body_len) {
			char end[2];
			size_t el = smtpc_stuff_end(end, &c->bol);
			if (buf_append(&c->out, end, el) < 0 || buf_append(&c->out, ".\r\n", 3) < 0) {
				smtpc_conn_fail(c, "4.3.0", 0, "output buffer full");
				return;
			}
			c->st = ST_DOT;
			smtpc_set_timer(c, c->sc->t_data_done);
			return;
		}
		size_t want = m->body_len - c->body_pos;
		if (want > BODY_CHUNK)
			want = BODY_CHUNK;
		ssize_t n = pread(m->body_fd, in, want, m->body_off + (off_t)c->body_pos);
		if (n <= 0) {
			smtpc_conn_fail(c, "4.3.0", 0, "error reading queue file: %s",
			    n < 0 ? strerror(errno) : "unexpected end of file");
			return;
		}
		c->body_pos += (size_t)n;
		size_t o = smtpc_stuff(in, (size_t)n, out, &c->bol);
		if (buf_append(&c->out, out, o) < 0) {
			smtpc_conn_fail(c, "4.3.0", 0, "output buffer full");
			return;
		}
	}
}

/* Every remaining accepted recipient gets this reply. */
static void accepted_reply(struct smtpc *c, int code, const char *text, const char *cmd)
{
	struct smtpc_msg *m = c->msg;
	for (size_t i = 0; i < m->nrcpt; i++)
		if (m->rcpt[i].accepted) {
			m->rcpt[i].accepted = 0;
			rcpt_reply(c, &m->rcpt[i], code, text, cmd);
		}
}

/* A reply while a message is in progress. 1: go on, 0: the handler must
 * return at once (the message was handed back). */
int smtpc_xact_reply(struct smtpc *c, int code, char *text)
{
	struct smtpc_msg *m = c->msg;

	smtpc_flat(text);
	if (c->st == ST_DOT) {
		if (c->discard_dot) {
			smtpc_msg_done(c);
			return 0;
		}
		if (!c->lmtp) {
			accepted_reply(c, code, text, "end of DATA command");
			smtpc_msg_done(c);
			return 0;
		}
		for (size_t i = 0; i < m->nrcpt; i++)	/* LMTP: the next accepted one */
			if (m->rcpt[i].accepted) {
				m->rcpt[i].accepted = 0;
				rcpt_reply(c, &m->rcpt[i], code, text, "end of DATA command");
				break;
			}
		if (++c->dots >= c->naccepted) {
			smtpc_msg_done(c);
			return 0;
		}
		return 1;
	}
	if (c->st != ST_XACT || c->creply >= c->ncmd) {
		smtpc_conn_fail(c, "4.4.2", 0, "unexpected reply from %s: %s", c->host, text);
		return 0;
	}
	const struct pcmd *p = &c->cmds[c->creply++];
	switch (p->c) {
	case CMD_RSET:
		break;
	case CMD_MAIL:
		if (code / 100 != 2) {
			c->mail_failed = 1;
			for (size_t i = 0; i < m->nrcpt; i++)
				rcpt_reply(c, &m->rcpt[i], code, text, "MAIL FROM command");
		}
		break;
	case CMD_RCPT:
		if (c->mail_failed)
			break;
		if (code / 100 == 2) {
			m->rcpt[p->i].accepted = 1;
			c->naccepted++;
		} else {
			rcpt_reply(c, &m->rcpt[p->i], code, text, "RCPT TO command");
		}
		break;
	case CMD_DATA:
		if (code == 354 && (c->mail_failed || c->naccepted == 0)) {
			buf_append(&c->out, ".\r\n", 3);	/* nothing to send: end it */
			c->st = ST_DOT;
			c->discard_dot = 1;
			smtpc_set_timer(c, c->sc->t_data_done);
			return 1;
		}
		if (code == 354) {
			c->st = ST_BODY;
			c->body_pos = 0;
			c->bol = 1;
			smtpc_set_timer(c, c->sc->t_data_xfer);
			smtpc_body_fill(c);
			return c->st != ST_DEAD;
		}
		if (!c->mail_failed)
			accepted_reply(c, code, text, "DATA command");
		smtpc_msg_done(c);
		return 0;
	}
	/* Without pipelining, stop early when nothing can be delivered. */
	if (!c->pipelining && c->csent == c->creply) {
		int last_rcpt = c->creply < c->ncmd && c->cmds[c->creply].c == CMD_DATA;
		if (c->mail_failed || (last_rcpt && c->naccepted == 0)) {
			smtpc_msg_done(c);
			return 0;
		}
	}
	send_cmds(c);
	return 1;
}

void smtpc_ehlo_features(struct smtpc *c, const char *text)
{
	ehlo_features(c, text);
}
