/*
 * spf_eval — spf_check() and check_host() of RFC 7208 section 4 over an
 * spf_dns_fn: the sender's parts, the record lookup (one "v=spf1" TXT),
 * the mechanisms in order (spf_mech.c), redirect=, exp= for fail, the
 * macros of each domain-spec. Result texts follow pyspf's, which
 * tests/integ/test_spf.py compares us with. A lookup that has not
 * answered yet ends the run with "pending"; the caller runs the whole
 * check again later (spf.h).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "spf/spf.h"
#include "spf/spf_int.h"

/* Macros expanded (%{p} looked up when used), final dot dropped, labels
 * dropped on the left past 253 octets. */
int spf_ev_expand_domain(struct spf_ev *e, const char *spec, const char *d, char *out, size_t len)
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
		rc = spf_ev_validated_ptr(e, d, &match, e->pname, sizeof(e->pname));
		if (rc == SPF_PENDING || rc == SPF_PERMERROR)
			return rc;
		if (e->pname[0] == '\0')
			snprintf(e->pname, sizeof(e->pname), "unknown");
		e->have_p = 1;
		m.p = e->pname;
		rc = spf_macro_expand(spec, &m, out, len);
	}
	if (rc != SPF_MACRO_OK)
		return spf_ev_perm(e, "Invalid macro: %s", spec);
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
static int explain(struct spf_ev *e, const struct spf_record *rec, const char *d)
{
	char target[512], text[SPF_TEXT_MAX];
	int rc = 0;
	if (rec->exp == NULL || spf_ev_expand_domain(e, rec->exp, d, target, sizeof(target)) != 0)
		return 0;
	const struct dns_result *r = spf_ev_query(e, target, DNS_TXT, &rc);
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

int spf_ev_check_host(struct spf_ev *e, const char *domain, int depth)
{
	int rc = 0;
	if (depth > MAX_DEPTH)
		return spf_ev_perm(e, "Too many DNS lookups%s", "");
	if (!valid_domain(domain))
		return SPF_NONE;
	const struct dns_result *r = spf_ev_query(e, domain, DNS_TXT, &rc);
	if (r == NULL)
		return rc;
	if (r->status == DNS_TEMPFAIL)
		return spf_ev_temp(e, domain);
	const char *txt = NULL;
	for (size_t k = 0; r->status == DNS_OK && k < r->n; k++) {
		if (!spf_is_record(r->items[k]))
			continue;
		if (txt != NULL)
			return spf_ev_perm(e, "Two or more type TXT spf records found.%s", "");
		txt = r->items[k];
	}
	if (txt == NULL)
		return SPF_NONE;
	static struct spf_record recs[MAX_DEPTH + 2];	/* one per level: no big stack frames */
	struct spf_record *rec = &recs[depth];
	char err[256];
	if (spf_parse(txt, rec, err, sizeof(err)) < 0)
		return spf_ev_perm(e, "%s", err);
	for (size_t k = 0; k < rec->n; k++) {
		const struct spf_term *t = &rec->terms[k];
		rc = spf_ev_mechanism(e, t, domain, depth);
		if (rc == SPF_NOMATCH)
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
		if ((rc = spf_ev_count_lookup(e)) != 0)
			return rc;
		if ((rc = spf_ev_expand_domain(e, rec->redirect, domain, target, sizeof(target))) != 0)
			return rc;
		rc = spf_ev_check_host(e, target, depth + 1);
		if (rc == SPF_NONE)
			return spf_ev_perm(e, "redirect domain has no SPF record: %s", target);
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
static int client_address(struct spf_ev *e, const char *ip)
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
	struct spf_ev e;

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
		rc = spf_ev_check_host(&e, e.odomain, 0);
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
