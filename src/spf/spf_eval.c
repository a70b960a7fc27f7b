/*
 * spf_eval — check_host() of RFC 7208 section 4 over an spf_dns_fn: the
 * record lookup, the mechanisms in order, include (recursive), redirect=,
 * exp= for fail, the macros of each domain-spec, and the limits of
 * section 4.6.4 (10 DNS-querying terms, 2 void lookups, 10 MX names, 10
 * PTR names). Result texts follow pyspf's, which tests/integ/test_spf.py
 * compares us with. A lookup that has not answered yet ends the run with
 * "pending"; the caller runs the whole check again later (spf.h).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "spf/spf.h"
#include "spf/spf_int.h"

#define SPF_PENDING	100	/* internal: a lookup is running */
#define MAX_LOOKUPS	10
#define MAX_VOIDS	2
#define MAX_MX		10
#define MAX_PTR		10
#define MAX_DEPTH	20

struct ev {
	const struct spf_request *rq;
	spf_dns_fn *dns;
	void *arg;
	struct spf_result *out;
	int family;
	unsigned char ip[16];
	char ipi[80], ipc[INET6_ADDRSTRLEN], local[256], odomain[SPF_DOMAIN_MAX];
	char pname[SPF_DOMAIN_MAX];
	int have_p;
	int lookups, voids;
	char problem[SPF_TEXT_MAX];
};

/* result of a term, or of check_host: enum spf_res, or -1 no match */
#define NOMATCH (-1)

static int perm(struct ev *e, const char *fmt, const char *arg)
{
	if (e->problem[0] == '\0') {
		char msg[SPF_TEXT_MAX];
		char a[256];
		snprintf(a, sizeof(a), "%.255s", arg);
		snprintf(msg, sizeof(msg), fmt, a);
		snprintf(e->problem, sizeof(e->problem), "SPF Permanent Error: %.400s", msg);
	}
	return SPF_PERMERROR;
}

static int temp(struct ev *e, const char *name)
{
	if (e->problem[0] == '\0')
		snprintf(e->problem, sizeof(e->problem), "SPF Temporary Error: DNS error looking up %.300s", name);
	return SPF_TEMPERROR;
}

/* One lookup; *rc set to SPF_PENDING when not answered yet. */
static const struct dns_result *q(struct ev *e, const char *name, enum dns_type t, int *rc)
{
	const struct dns_result *r = e->dns(e->arg, name, t);
	if (r == NULL)
		*rc = SPF_PENDING;
	return r;
}

/* Count a void lookup; permerror past the limit. 0 = go on. */
static int void_lookup(struct ev *e)
{
	if (++e->voids > MAX_VOIDS)
		return perm(e, "Void lookup limit of %s exceeded", "2");
	return 0;
}

static int count_lookup(struct ev *e)
{
	if (++e->lookups > MAX_LOOKUPS)
		return perm(e, "Too many DNS lookups%s", "");
	return 0;
}

/* Whether address text a matches the client within the prefix. */
static int addr_match(const struct ev *e, const char *text, int plen)
{
	unsigned char b[16];
	if (inet_pton(e->family, text, b) != 1)
		return 0;
	int full = plen / 8, rest = plen % 8;
	if (memcmp(b, e->ip, (size_t)full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (b[full] & mask) == (e->ip[full] & mask);
}

static enum dns_type addr_type(const struct ev *e)
{
	return e->family == AF_INET6 ? DNS_AAAA : DNS_A;
}

/* Expand a domain-spec for domain d (RFC 7208 4.8: at most 253 octets,
 * labels dropped from the left). 0 ok, or a result code. */
static int expand_domain(struct ev *e, const char *spec, const char *d, char *out, size_t len);

static int in_domain(const char *name, const char *target)
{
	size_t n = strlen(name), t = strlen(target);
	if (n == t)
		return strcasecmp(name, target) == 0;
	return n > t && name[n - t - 1] == '.' && strcasecmp(name + n - t, target) == 0;
}

/* The PTR query name of the client: "4.3.2.1.in-addr.arpa" or the
 * reversed nibbles + ".ip6.arpa" (kept here: spf uses no dns.c symbol, so
 * tests can link it with a fake resolver). */
static void reverse_name(const struct ev *e, char *out, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;
	out[0] = '\0';
	if (e->family == AF_INET) {
		snprintf(out, len, "%u.%u.%u.%u.in-addr.arpa", e->ip[3], e->ip[2], e->ip[1], e->ip[0]);
		return;
	}
	for (int k = 15; k >= 0 && n + 4 < len; k--) {
		out[n++] = hex[e->ip[k] & 15];
		out[n++] = '.';
		out[n++] = hex[e->ip[k] >> 4];
		out[n++] = '.';
	}
	snprintf(out + n, len - n, "ip6.arpa");
}

/* The PTR names of the client whose address records give the client's
 * address back (RFC 7208 5.5); those within target first into best. */
static int validated_ptr(struct ev *e, const char *target, int *match, char *best, size_t blen)
{
	char rev[128];
	int rc = 0;
	*match = 0;
	if (best)
		best[0] = '\0';
	reverse_name(e, rev, sizeof(rev));
	const struct dns_result *r = q(e, rev, DNS_PTR, &rc);
	if (r == NULL)
		return rc;
	if (r->status != DNS_OK || r->n == 0) {
		if (r->status == DNS_NOTFOUND && (rc = void_lookup(e)) != 0)
			return rc;
		return NOMATCH;
	}
	static char names[MAX_PTR][SPF_DOMAIN_MAX];	/* answers die at the next lookup */
	size_t nptr = r->n < MAX_PTR ? r->n : MAX_PTR;
	for (size_t k = 0; k < nptr; k++)
		snprintf(names[k], sizeof(names[k]), "%s", r->items[k]);
	for (size_t k = 0; k < nptr; k++) {
		const struct dns_result *a = q(e, names[k], addr_type(e), &rc);
		if (a == NULL)
			return rc;
		if (a->status == DNS_NOTFOUND && (rc = void_lookup(e)) != 0)
			return rc;
		int ok = 0;
		for (size_t j = 0; a->status == DNS_OK && j < a->n; j++)
			ok |= addr_match(e, a->items[j], e->family == AF_INET ? 32 : 128);
		if (!ok)
			continue;
		if (best && best[0] == '\0')
			snprintf(best, blen, "%.255s", names[k]);
		if (target && in_domain(names[k], target)) {
			*match = 1;
			if (best)
				snprintf(best, blen, "%.255s", names[k]);
			return 0;
		}
	}
	return 0;
}

static int expand_domain(struct ev *e, const char *spec, const char *d, char *out, size_t len)
{
	struct spf_macro_ctx m = {
		e->out->sender, e->local, e->odomain, d, e->ipi, NULL,
		e->family == AF_INET6 ? "ip6" : "in-addr", e->rq->helo ? e->rq->helo : "",
		e->ipc, e->rq->receiver ? e->rq->receiver : "unknown", 0, 0,
	};
	if (e->have_p)
		m.p = e->pname;
	int rc = spf_macro_expand(spec, &m, out, len);
	if (rc == SPF_MACRO_NEED_P) {
		int match;
		rc = validated_ptr(e, d, &match, e->pname, sizeof(e->pname));
		if (rc == SPF_PENDING || rc == SPF_PERMERROR)
			return rc;
		if (e->pname[0] == '\0')
			snprintf(e->pname, sizeof(e->pname), "unknown");
		e->have_p = 1;
		m.p = e->pname;
		rc = spf_macro_expand(spec, &m, out, len);
	}
	if (rc != SPF_MACRO_OK)
		return perm(e, "Invalid macro: %s", spec);
	size_t n = strlen(out);
	if (n > 0 && out[n - 1] == '.')
		out[--n] = '\0';
	char *p = out;
	while (n - (size_t)(p - out) > 253) {
		char *dot = strchr(p, '.');
		if (dot == NULL)
			break;
		p = dot + 1;
	}
	if (p != out)
		memmove(out, p, strlen(p) + 1);
	return 0;
}

static int check_host(struct ev *e, const char *domain, int depth);

/* One mechanism: NOMATCH, a match (the caller applies the qualifier:
 * returns SPF_PASS for "matched"), or an error / pending. */
static int mechanism(struct ev *e, const struct spf_term *t, const char *d, int depth)
{
	char target[512];
	int rc = 0;

	if (t->mech == SPF_M_ALL)
		return SPF_PASS;
	if (t->mech == SPF_M_IP4 || t->mech == SPF_M_IP6) {
		if ((t->mech == SPF_M_IP4) != (e->family == AF_INET))
			return NOMATCH;
		char text[INET6_ADDRSTRLEN];
		inet_ntop(e->family, t->addr, text, sizeof(text));
		return addr_match(e, text, t->mech == SPF_M_IP4 ? t->cidr4 : t->cidr6) ? SPF_PASS : NOMATCH;
	}
	if ((rc = count_lookup(e)) != 0)
		return rc;
	if ((rc = expand_domain(e, t->spec ? t->spec : d, d, target, sizeof(target))) != 0)
		return rc;
	int plen = e->family == AF_INET ? t->cidr4 : t->cidr6;
	const struct dns_result *r;
	switch (t->mech) {
	case SPF_M_INCLUDE:
		rc = check_host(e, target, depth + 1);
		if (rc == SPF_PENDING || rc == SPF_TEMPERROR || rc == SPF_PERMERROR)
			return rc;
		if (rc == SPF_NONE)
			return perm(e, "No valid SPF record for included domain: %s", target);
		return rc == SPF_PASS ? SPF_PASS : NOMATCH;
	case SPF_M_EXISTS:
	case SPF_M_A:
		r = q(e, target, t->mech == SPF_M_EXISTS ? DNS_A : addr_type(e), &rc);
		if (r == NULL)
			return rc;
		if (r->status == DNS_TEMPFAIL)
			return temp(e, target);
		if ((r->status == DNS_NOTFOUND || r->n == 0) && (rc = void_lookup(e)) != 0)
			return rc;
		if (t->mech == SPF_M_EXISTS)
			return r->status == DNS_OK && r->n > 0 ? SPF_PASS : NOMATCH;
		for (size_t k = 0; r->status == DNS_OK && k < r->n; k++)
			if (addr_match(e, r->items[k], plen))
				return SPF_PASS;
		return NOMATCH;
	case SPF_M_MX:
		r = q(e, target, DNS_MX, &rc);
		if (r == NULL)
			return rc;
		if (r->status == DNS_TEMPFAIL)
			return temp(e, target);
		if ((r->status == DNS_NOTFOUND || r->n == 0) && (rc = void_lookup(e)) != 0)
			return rc;
		if (r->status == DNS_OK && r->n > MAX_MX)
			return perm(e, "More than %s MX records returned", "10");
		/* copied: an answer is only valid until the next lookup */
		static char hosts[MAX_MX][SPF_DOMAIN_MAX];
		size_t nmx = r->status == DNS_OK ? r->n : 0;
		for (size_t k = 0; k < nmx; k++) {
			const char *h = strchr(r->items[k], ' ');
			snprintf(hosts[k], sizeof(hosts[k]), "%s", h ? h + 1 : r->items[k]);
		}
		for (size_t k = 0; k < nmx; k++) {
			const char *host = hosts[k];
			const struct dns_result *a = q(e, host, addr_type(e), &rc);
			if (a == NULL)
				return rc;
			if (a->status == DNS_TEMPFAIL)
				return temp(e, host);
			if ((a->status == DNS_NOTFOUND || a->n == 0) && (rc = void_lookup(e)) != 0)
				return rc;
			for (size_t j = 0; a->status == DNS_OK && j < a->n; j++)
				if (addr_match(e, a->items[j], plen))
					return SPF_PASS;
		}
		return NOMATCH;
	case SPF_M_PTR: {
		int match;
		rc = validated_ptr(e, target, &match, NULL, 0);
		if (rc != 0 && rc != NOMATCH)
			return rc;
		return match ? SPF_PASS : NOMATCH;
	}
	default:
		return NOMATCH;
	}
}

static enum spf_res qualifier(char q)
{
	switch (q) {
	case '-': return SPF_FAIL;
	case '~': return SPF_SOFTFAIL;
	case '?': return SPF_NEUTRAL;
	default: return SPF_PASS;
	}
}

/* The explanation of a fail: exp= TXT expanded, else pyspf's default. */
static int explain(struct ev *e, const struct spf_record *rec, const char *d)
{
	char target[512], text[SPF_TEXT_MAX];
	int rc = 0;
	if (rec->exp == NULL || expand_domain(e, rec->exp, d, target, sizeof(target)) != 0)
		return 0;
	const struct dns_result *r = q(e, target, DNS_TXT, &rc);
	if (r == NULL)
		return rc;
	if (r->status != DNS_OK || r->n != 1)
		return 0;
	struct spf_macro_ctx m = {
		e->out->sender, e->local, e->odomain, d, e->ipi, e->have_p ? e->pname : "unknown",
		e->family == AF_INET6 ? "ip6" : "in-addr", e->rq->helo ? e->rq->helo : "",
		e->ipc, e->rq->receiver ? e->rq->receiver : "unknown",
		e->rq->now ? e->rq->now : (long)time(NULL), 1,
	};
	if (spf_macro_expand(r->items[0], &m, text, sizeof(text)) == SPF_MACRO_OK)
		snprintf(e->out->explanation, sizeof(e->out->explanation), "%s", text);
	return 0;
}

static int valid_domain(const char *d)
{
	size_t n = strlen(d), label = 0;
	if (n == 0 || n > 253 || strchr(d, '.') == NULL)
		return 0;
	for (const char *p = d; ; p++) {
		if (*p == '.' || *p == '\0') {
			if (label == 0 && !(*p == '\0' && p > d && p[-1] == '.'))
				return 0;
			if (label > 63)
				return 0;
			label = 0;
			if (*p == '\0')
				return 1;
		} else
			label++;
	}
}

static int check_host(struct ev *e, const char *domain, int depth)
{
	int rc = 0;
	if (depth > MAX_DEPTH)
		return perm(e, "Too many DNS lookups%s", "");
	if (!valid_domain(domain))
		return SPF_NONE;
	const struct dns_result *r = q(e, domain, DNS_TXT, &rc);
	if (r == NULL)
		return rc;
	if (r->status == DNS_TEMPFAIL)
		return temp(e, domain);
	const char *txt = NULL;
	for (size_t k = 0; r->status == DNS_OK && k < r->n; k++) {
		if (!spf_is_record(r->items[k]))
			continue;
		if (txt != NULL)
			return perm(e, "Two or more type TXT spf records found.%s", "");
		txt = r->items[k];
	}
	if (txt == NULL)
		return SPF_NONE;
	static struct spf_record recs[MAX_DEPTH + 2];	/* one per level: no big stack frames */
	struct spf_record *rec = &recs[depth];
	char err[256];
	if (spf_parse(txt, rec, err, sizeof(err)) < 0)
		return perm(e, "%s", err);
	for (size_t k = 0; k < rec->n; k++) {
		const struct spf_term *t = &rec->terms[k];
		rc = mechanism(e, t, domain, depth);
		if (rc == NOMATCH)
			continue;
		if (rc != SPF_PASS)
			return rc;
		enum spf_res res = qualifier(t->qual);
		if (depth == 0 || e->out->mechanism[0] == '\0')
			snprintf(e->out->mechanism, sizeof(e->out->mechanism), "%s", t->text);
		if (res == SPF_FAIL && (rc = explain(e, rec, domain)) != 0)
			return rc;
		return res;
	}
	if (rec->redirect != NULL) {
		char target[512];
		if ((rc = count_lookup(e)) != 0)
			return rc;
		if ((rc = expand_domain(e, rec->redirect, domain, target, sizeof(target))) != 0)
			return rc;
		rc = check_host(e, target, depth + 1);
		if (rc == SPF_NONE)
			return perm(e, "redirect domain has no SPF record: %s", target);
		return rc;
	}
	return SPF_NEUTRAL;
}

/* pyspf's texts for the results without an exp= explanation. */
static const char *const default_text[] = {
	[SPF_NONE] = "no SPF record",
	[SPF_NEUTRAL] = "access neither permitted nor denied",
	[SPF_PASS] = "sender SPF authorized",
	[SPF_FAIL] = "SPF fail - not authorized",
	[SPF_SOFTFAIL] = "domain owner discourages use of this host",
	[SPF_TEMPERROR] = "temporary DNS error in processing",
	[SPF_PERMERROR] = "permanent error in processing",
};

static const char *const names[] = {
	[SPF_NONE] = "none", [SPF_NEUTRAL] = "neutral", [SPF_PASS] = "pass",
	[SPF_FAIL] = "fail", [SPF_SOFTFAIL] = "softfail",
	[SPF_TEMPERROR] = "temperror", [SPF_PERMERROR] = "permerror",
};

const char *spf_result_name(enum spf_res r)
{
	return (size_t)r < sizeof(names) / sizeof(*names) ? names[r] : "?";
}

/* The client address in its three forms: bytes, %{i} and %{c}. */
static int client_address(struct ev *e, const char *ip)
{
	unsigned char b6[16];
	if (inet_pton(AF_INET, ip, e->ip) == 1)
		e->family = AF_INET;
	else if (inet_pton(AF_INET6, ip, b6) == 1) {
		static const unsigned char mapped[12] = { 0,0,0,0,0,0,0,0,0,0,0xff,0xff };
		if (memcmp(b6, mapped, 12) == 0) {
			e->family = AF_INET;
			memcpy(e->ip, b6 + 12, 4);
		} else {
			e->family = AF_INET6;
			memcpy(e->ip, b6, 16);
		}
	} else
		return -1;
	inet_ntop(e->family, e->ip, e->ipc, sizeof(e->ipc));
	if (e->family == AF_INET) {
		snprintf(e->ipi, sizeof(e->ipi), "%s", e->ipc);
	} else {
		static const char hex[] = "0123456789abcdef";
		size_t n = 0;
		for (int k = 0; k < 16; k++) {
			e->ipi[n++] = hex[e->ip[k] >> 4];
			e->ipi[n++] = '.';
			e->ipi[n++] = hex[e->ip[k] & 15];
			e->ipi[n++] = k < 15 ? '.' : '\0';
		}
	}
	return 0;
}

int spf_check(const struct spf_request *rq, spf_dns_fn *dns, void *arg, struct spf_result *out)
{
	struct ev e;

	memset(&e, 0, sizeof(e));
	memset(out, 0, sizeof(*out));
	e.rq = rq;
	e.dns = dns;
	e.arg = arg;
	e.out = out;
	const char *sender = rq->sender && *rq->sender ? rq->sender : NULL;
	out->identity = sender ? "mailfrom" : "helo";
	if (sender)
		snprintf(out->sender, sizeof(out->sender), "%s", sender);
	else
		snprintf(out->sender, sizeof(out->sender), "postmaster@%s", rq->helo ? rq->helo : "");
	const char *at = strrchr(out->sender, '@');
	if (at == NULL || at == out->sender)
		snprintf(e.local, sizeof(e.local), "postmaster");
	else
		snprintf(e.local, sizeof(e.local), "%.*s", (int)(at - out->sender), out->sender);
	snprintf(e.odomain, sizeof(e.odomain), "%.255s", at ? at + 1 : out->sender);
	size_t on = strlen(e.odomain);
	if (on > 0 && e.odomain[on - 1] == '.')
		e.odomain[on - 1] = '\0';
	for (char *p = e.odomain; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	snprintf(out->domain, sizeof(out->domain), "%s", e.odomain);
	int rc;
	if (client_address(&e, rq->ip) < 0) {
		snprintf(e.problem, sizeof(e.problem), "SPF Permanent Error: invalid client address");
		rc = SPF_PERMERROR;
	} else
		rc = check_host(&e, e.odomain, 0);
	if (rc == SPF_PENDING)
		return 0;
	out->result = (enum spf_res)rc;
	out->lookups = e.lookups;
	out->voids = e.voids;
	if (rc == SPF_PERMERROR || rc == SPF_TEMPERROR)
		snprintf(out->explanation, sizeof(out->explanation), "%s",
		    e.problem[0] ? e.problem : default_text[rc]);
	else if (out->explanation[0] == '\0')
		snprintf(out->explanation, sizeof(out->explanation), "%s", default_text[rc]);
	return 1;
}
