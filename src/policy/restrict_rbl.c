/*
 * restrict_rbl — DNS allow/deny lists: reject_rbl_client ZONE[=pattern],
 * reject_rhsbl_client / _reverse_client / _sender / _helo / _recipient,
 * permit_dnswl_client. An A record under the zone lists the client (the
 * optional pattern "=127.0.0.2" or "=127.0.0.[2..4;8]" restricts which
 * answers count); its TXT record becomes $rbl_reason in the reply, built
 * from default_rbl_reply (or rbl_reply_maps) as Postfix does. A DNSBL that
 * fails temporarily lists nobody; a DNSWL that does arms defer_if_reject.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/map.h"
#include "common/util.h"
#include "policy/restrict_int.h"

#define RBL_TXT_LIMIT 500

enum { XL_NOT_LISTED, XL_LISTED, XL_SOFT, XL_PENDING };

/* One octet pattern: "12" or "[2..4;8]" into a bit set. */
static int parse_octet(const char *s, size_t len, uint8_t set[32])
{
	char buf[64];

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	char *p = buf;
	int bracket = *p == '[';
	if (bracket) {
		if (buf[len - 1] != ']')
			return -1;
		buf[len - 1] = '\0';
		p++;
	}
	for (char *save = NULL, *tok = strtok_r(p, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
		char *end;
		long lo = strtol(tok, &end, 10), hi = lo;
		if (end == tok)
			return -1;
		if (strncmp(end, "..", 2) == 0) {
			char *e2;
			hi = strtol(end + 2, &e2, 10);
			if (e2 == end + 2)
				return -1;
			end = e2;
		}
		if (*end != '\0' || lo < 0 || hi > 255 || lo > hi || (!bracket && lo != hi))
			return -1;
		for (long v = lo; v <= hi; v++)
			set[v / 8] |= (uint8_t)(1u << (v % 8));
	}
	return 0;
}

int r_parse_dnsxl(struct ritem *it, const char *arg, char *err, size_t errlen)
{
	const char *eq = strchr(arg, '=');

	it->dnsxl = xstrdup(arg);
	free(it->arg);
	it->arg = eq ? xstrndup(arg, (size_t)(eq - arg)) : xstrdup(arg);
	if (*it->arg == '\0' || !r_valid_hostname(it->arg))
		goto bad;
	if (eq == NULL)
		return 0;
	const char *p = eq + 1;
	for (int i = 0; i < 4; i++) {
		size_t len = 0;
		if (*p == '[') {
			const char *close = strchr(p, ']');
			if (close == NULL)
				goto bad;
			len = (size_t)(close - p) + 1;
		} else {
			len = strcspn(p, ".");
		}
		if (parse_octet(p, len, it->pattern.octet[i]) < 0)
			goto bad;
		p += len;
		if (i < 3 && *p++ != '.')
			goto bad;
	}
	if (*p != '\0')
		goto bad;
	it->has_pattern = 1;
	return 0;
bad:
	snprintf(err, errlen, "%s: bad DNS list \"%s\" (expected domain or "
	    "domain=127.0.0.N with N a number or [a..b;c])", it->row->name, arg);
	return -1;
}

static int pattern_match(const struct rbl_pattern *pt, const char *addr)
{
	unsigned v[4];
	char tail;

	if (sscanf(addr, "%u.%u.%u.%u%c", &v[0], &v[1], &v[2], &v[3], &tail) != 4)
		return 0;
	for (int i = 0; i < 4; i++) {
		if (v[i] > 255 || !(pt->octet[i][v[i] / 8] & (1u << (v[i] % 8))))
			return 0;
	}
	return 1;
}

/* Whether query is listed (A answer matching the pattern). */
static int dnsxl_state(struct rstate *st, const struct ritem *it, const char *query)
{
	const struct dns_result *r = r_dns(st, query, DNS_A);

	if (r == NULL)
		return XL_PENDING;
	if (r->status == DNS_TEMPFAIL)
		return XL_SOFT;
	if (r->status != DNS_OK)
		return XL_NOT_LISTED;
	if (!it->has_pattern)
		return XL_LISTED;
	for (size_t i = 0; i < r->n; i++) {
		if (pattern_match(&it->pattern, r->items[i]))
			return XL_LISTED;
	}
	return XL_NOT_LISTED;
}

struct rbl_vars {
	const struct rstate *st;
	const char *domain, *what, *cls, *txt;
	char code[8];
};

static const char *rbl_var(const struct rbl_vars *v, const char *name)
{
	const struct policy_ctx *c = v->st->c;

	if (strcmp(name, "rbl_code") == 0)
		return v->code;
	if (strcmp(name, "rbl_domain") == 0)
		return v->domain;
	if (strcmp(name, "rbl_reason") == 0 || strcmp(name, "rbl_txt") == 0)
		return v->txt;
	if (strcmp(name, "rbl_what") == 0)
		return v->what;
	if (strcmp(name, "rbl_class") == 0)
		return v->cls;
	if (strcmp(name, "client_address") == 0)
		return c->client_addr ? c->client_addr : "";
	if (strcmp(name, "client_name") == 0)
		return c->client_name ? c->client_name : "";
	if (strcmp(name, "reverse_client_name") == 0)
		return c->reverse_name ? c->reverse_name : "";
	if (strcmp(name, "helo_name") == 0)
		return c->helo ? c->helo : "";
	if (strcmp(name, "sender") == 0)
		return c->sender ? c->sender : "";
	if (strcmp(name, "recipient") == 0)
		return c->rcpt ? c->rcpt : "";
	return "";
}

/* Expand $name, ${name}, ${name?text}, ${name:text}, $$ of a reply template. */
static int expand(const struct rbl_vars *v, const char *s, size_t slen, struct buf *out, int depth)
{
	const char *end = s + slen;

	if (depth > 5)
		return -1;
	while (s < end) {
		if (*s != '$') {
			if (buf_append(out, s++, 1) < 0)
				return -1;
			continue;
		}
		s++;
		if (s < end && *s == '$') {
			if (buf_append(out, s++, 1) < 0)
				return -1;
			continue;
		}
		int brace = s < end && (*s == '{' || *s == '(');
		char close = brace && *s == '(' ? ')' : '}';
		if (brace)
			s++;
		char name[64];
		size_t n = 0;
		while (s < end && (isalnum((unsigned char)*s) || *s == '_') && n < sizeof(name) - 1)
			name[n++] = *s++;
		name[n] = '\0';
		const char *val = rbl_var(v, name);
		if (brace && s < end && (*s == '?' || *s == ':')) {
			char op = *s++;
			const char *text = s;
			int d = 1;
			while (s < end && d > 0) {
				if (*s == '{')
					d++;
				else if (*s == '}')
					d--;
				s++;
			}
			if (d != 0)
				return -1;
			if ((op == '?') == (*val != '\0')
			    && expand(v, text, (size_t)(s - 1 - text), out, depth + 1) < 0)
				return -1;
			continue;
		}
		if (brace) {
			if (s >= end || *s != close)
				return -1;
			s++;
		}
		if (buf_puts(out, val) < 0)
			return -1;
	}
	return 0;
}

static enum policy_result rbl_reject(struct rstate *st, const struct ritem *it,
    const char *query, const char *what, const char *cls)
{
	const struct dns_result *t = r_dns(st, query, DNS_TXT);
	char txt[RBL_TXT_LIMIT + 1] = "";
	struct rbl_vars v = { .st = st, .domain = it->arg, .what = what, .cls = cls, .txt = txt };

	if (t == NULL)
		return POLICY_PENDING;
	if (st->prefetch)
		return POLICY_REJECT;
	if (t->status == DNS_OK) {
		size_t off = 0;
		for (size_t i = 0; i < t->n && off < RBL_TXT_LIMIT; i++) {
			int n = snprintf(txt + off, sizeof(txt) - off, "%s%s", i ? " / " : "", t->items[i]);
			if (n < 0)
				break;
			off += (size_t)n;
		}
		txt[RBL_TXT_LIMIT] = '\0';
	}
	snprintf(v.code, sizeof(v.code), "%d", st->p->rbl_code);
	const char *tmpl = NULL;
	if (st->p->rbl_reply_maps) {
		tmpl = maplist_lookup(st->p->rbl_reply_maps, it->dnsxl);
		if (tmpl == NULL)
			tmpl = maplist_lookup(st->p->rbl_reply_maps, it->arg);
	}
	struct buf b;
	buf_init(&b, 4096);
	buf_puts(&b, "");
	if (tmpl == NULL || expand(&v, tmpl, strlen(tmpl), &b, 0) < 0) {
		buf_reset(&b);
		buf_puts(&b, "");
		if (expand(&v, st->p->rbl_reply, strlen(st->p->rbl_reply), &b, 0) < 0) {
			buf_free(&b);
			return r_reply(st, 450, "4.7.1", "Service unavailable");
		}
	}
	const char *w = b.data;
	enum policy_result res;
	if ((w[0] != '4' && w[0] != '5') || !isdigit((unsigned char)w[1])
	    || !isdigit((unsigned char)w[2]) || w[3] != ' ') {
		res = r_reply(st, 450, "4.7.1", "Service unavailable");
	} else {
		const char *text = w + 4;
		char dsn[16] = "4.7.1";
		size_t dl = strspn(text, "0123456789.");
		if (dl > 0 && dl < sizeof(dsn) && (text[dl] == ' ' || text[dl] == '\0')
		    && (text[0] == '4' || text[0] == '5' || text[0] == '2') && text[1] == '.') {
			memcpy(dsn, text, dl);
			dsn[dl] = '\0';
			text += dl;
			while (*text == ' ')
				text++;
		}
		res = r_reply(st, atoi(w), dsn, "%s", *text ? text : "Service unavailable");
	}
	buf_free(&b);
	return res;
}

enum policy_result r_rbl_client(struct rstate *st, const struct ritem *it)
{
	char query[512];
	const char *addr = st->c->client_addr;

	if (addr == NULL || dns_rbl_name(addr, it->arg, query, sizeof(query)) < 0)
		return POLICY_DUNNO;
	switch (dnsxl_state(st, it, query)) {
	case XL_PENDING:
		return POLICY_PENDING;
	case XL_LISTED:
		return rbl_reject(st, it, query, addr, "Client host");
	default:
		return POLICY_DUNNO;
	}
}

enum policy_result r_dnswl_client(struct rstate *st, const struct ritem *it)
{
	const struct policy_ctx *c = st->c;
	char query[512];

	/* Safety: never allowlist relaying to other destinations. */
	if (c->stage == STAGE_RCPT && c->rcpt != NULL && !c->rcpt_is_ours)
		return POLICY_DUNNO;
	if (c->client_addr == NULL || dns_rbl_name(c->client_addr, it->arg, query, sizeof(query)) < 0)
		return POLICY_DUNNO;
	switch (dnsxl_state(st, it, query)) {
	case XL_PENDING:
		return POLICY_PENDING;
	case XL_LISTED:
		return POLICY_PERMIT;
	case XL_SOFT:
		return r_defer_if(st, 0, 450, "4.7.1", "<%s>: %s rejected: %s", c->client_addr,
		    "Client host", "Service unavailable");
	default:
		return POLICY_DUNNO;
	}
}

/* reject_rbl_domain: what is a host name or an address (its domain is used). */
static enum policy_result rhsbl(struct rstate *st, const struct ritem *it, const char *what,
    const char *cls)
{
	const char *domain = strrchr(what, '@');
	char query[600];

	domain = domain ? domain + 1 : what;
	if (*domain == '\0' || *domain == '[')
		return POLICY_DUNNO;
	const char *last = strrchr(domain, '.');
	last = last ? last + 1 : domain;
	if (*last == '\0' || strspn(last, "0123456789") == strlen(last))
		return POLICY_DUNNO;	/* no lookups for numerical names */
	if (!r_valid_hostname(domain))
		return POLICY_DUNNO;
	int n = snprintf(query, sizeof(query), "%s.%s", domain, it->arg);
	if (n < 0 || (size_t)n >= sizeof(query))
		return POLICY_DUNNO;
	switch (dnsxl_state(st, it, query)) {
	case XL_PENDING:
		return POLICY_PENDING;
	case XL_LISTED:
		return rbl_reject(st, it, query, what, cls);
	default:
		return POLICY_DUNNO;
	}
}

enum policy_result r_rhsbl_client(struct rstate *st, const struct ritem *it)
{
	const char *name = st->c->client_name;

	if (name == NULL || strcasecmp(name, "unknown") == 0)
		return POLICY_DUNNO;
	return rhsbl(st, it, name, "Client host");
}

enum policy_result r_rhsbl_reverse_client(struct rstate *st, const struct ritem *it)
{
	const char *name = st->c->reverse_name;

	if (name == NULL || strcasecmp(name, "unknown") == 0)
		return POLICY_DUNNO;
	return rhsbl(st, it, name, "Unverified Client host");
}

enum policy_result r_rhsbl_sender(struct rstate *st, const struct ritem *it)
{
	const char *s = st->c->sender;

	return s == NULL || *s == '\0' ? POLICY_DUNNO : rhsbl(st, it, s, "Sender address");
}

enum policy_result r_rhsbl_helo(struct rstate *st, const struct ritem *it)
{
	const char *h = st->c->helo;

	return h == NULL ? POLICY_DUNNO : rhsbl(st, it, h, "Helo command");
}

enum policy_result r_rhsbl_recipient(struct rstate *st, const struct ritem *it)
{
	const char *r = st->c->rcpt;

	return r == NULL ? POLICY_DUNNO : rhsbl(st, it, r, "Recipient address");
}
