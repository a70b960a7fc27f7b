/*
 * restrict_reply — what a restriction answers: the reply text in Postfix's
 * words for each class ("Client host rejected", "Sender address
 * rejected", ...), the defer_if_permit / defer_if_reject reasons kept for
 * the end of the list, and the hostname/address syntax checks the HELO
 * and client restrictions share.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "common/util.h"
#include "policy/restrict_int.h"

/* ---- replies ---- */

/* Whether s starts with a status code "D.D{1,3}.D{1,3}" followed by end or space. */
size_t r_dsn_len(const char *s)
{
	size_t i = 0;

	if ((s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
		return 0;
	i = 2;
	for (int part = 0; part < 2; part++) {
		size_t start = i;
		while (isdigit((unsigned char)s[i]) && i - start < 3)
			i++;
		if (i == start)
			return 0;
		if (part == 0) {
			if (s[i] != '.')
				return 0;
			i++;
		}
	}
	return (s[i] == '\0' || s[i] == ' ') ? i : 0;
}

/* "CODE DSN text" into out, as smtpd_check_reject() builds it. */
static void format_reply(char *out, size_t len, int code, const char *dsn, const char *text)
{
	if (code < 400 || code > 599 || r_dsn_len(dsn) == 0) {
		log_warn("SMTP reply code configuration error: %d %s %s", code, dsn, text);
		snprintf(out, len, "450 4.7.1 Service unavailable");
		return;
	}
	int n = snprintf(out, len, "%d %s %s", code, dsn, text);
	if (n < 0 || len < 6) {
		snprintf(out, len, "450 4.7.1 Service unavailable");
		return;
	}
	/* A longer reply is cut (Postfix cuts at 510 characters). */
	out[4] = out[0];	/* DSN class follows the SMTP code */
	for (char *p = out; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	}
}

static enum policy_result reply_result(const char *reply)
{
	return reply[0] == '5' ? POLICY_REJECT : POLICY_DEFER;
}

enum policy_result r_reply(struct rstate *st, int code, const char *dsn,
    const char *fmt, ...)
{
	char text[R_REPLY_MAX], line[R_REPLY_MAX];
	va_list ap;

	if (st->prefetch)
		return code >= 500 ? POLICY_REJECT : POLICY_DEFER;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	format_reply(line, sizeof(line), code, dsn, text);
	if (st->warn) {
		if (st->c->log)
			st->c->log(st->c, "reject_warning", line);
		return POLICY_DUNNO;
	}
	if (st->dir && line[0] == '5') {
		/* An earlier temporary error may have hidden a reason to accept. */
		st->dir = 0;
		str_copy(st->reply, st->len, st->dir_reply);
		st->c->reply_relay = 0;
		return POLICY_REJECT;
	}
	str_copy(st->reply, st->len, line);
	st->c->reply_relay = st->relay;
	return reply_result(line);
}

enum policy_result r_defer_if(struct rstate *st, int permit, int code, const char *dsn,
    const char *fmt, ...)
{
	char text[R_REPLY_MAX];
	va_list ap;
	int *active = permit ? &st->dip : &st->dir;
	char *buf = permit ? st->dip_reply : st->dir_reply;

	if (st->prefetch || *active)	/* keep the first reason */
		return POLICY_DUNNO;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	format_reply(buf, R_REPLY_MAX, code, dsn, text);
	*active = 1;
	return POLICY_DUNNO;
}

/* ---- helpers ---- */

int r_valid_hostname(const char *name)
{
	size_t label = 0, total = strlen(name);
	int non_numeric = 0;

	if (total == 0 || total > 255)
		return 0;
	for (const char *cp = name; *cp; cp++) {
		unsigned char ch = (unsigned char)*cp;
		if (isalnum(ch) || ch == '_') {
			if (++label > 63)
				return 0;
			if (!isdigit(ch))
				non_numeric = 1;
		} else if (ch == '.') {
			if (label == 0 || cp[1] == '\0')
				return 0;
			label = 0;
		} else if (ch == '-') {
			non_numeric = 1;
			label++;
			if (label == 1 || cp[1] == '\0' || cp[1] == '.')
				return 0;
		} else {
			return 0;
		}
	}
	return non_numeric;
}

int restrict_valid_hostname(const char *name)
{
	return r_valid_hostname(name);
}

int r_valid_hostaddr(const char *addr)
{
	unsigned char buf[16];

	if (strncasecmp(addr, "IPv6:", 5) == 0)
		return inet_pton(AF_INET6, addr + 5, buf) == 1;
	if (strchr(addr, ':') != NULL)
		return inet_pton(AF_INET6, addr, buf) == 1;
	return inet_pton(AF_INET, addr, buf) == 1;
}

void r_class_name(struct rstate *st)
{
	const struct policy_ctx *c = st->c;
	enum rclass cls = st->cls;

	if (cls == RC_BY_STAGE) {
		static const enum rclass by_stage[] = {
			[STAGE_CONNECT] = RC_CLIENT, [STAGE_HELO] = RC_HELO,
			[STAGE_MAIL] = RC_SENDER, [STAGE_RCPT] = RC_RECIPIENT,
			[STAGE_DATA] = RC_DATA,
		};
		cls = by_stage[c->stage];
	}
	switch (cls) {
	case RC_CLIENT:
	default:
		snprintf(st->namaddr, sizeof(st->namaddr), "%s[%s]",
		    c->client_name ? c->client_name : "unknown",
		    c->client_addr ? c->client_addr : "");
		st->name = st->namaddr;
		st->cls_text = "Client host";
		break;
	case RC_HELO:
		st->name = c->helo ? c->helo : "";
		st->cls_text = "Helo command";
		break;
	case RC_SENDER:
		st->name = c->sender ? c->sender : "";
		st->cls_text = "Sender address";
		break;
	case RC_RECIPIENT:
		st->name = c->rcpt ? c->rcpt : "";
		st->cls_text = "Recipient address";
		break;
	case RC_DATA:
		st->name = "DATA";
		st->cls_text = "Data command";
		break;
	}
}
