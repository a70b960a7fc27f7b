/*
 * spf_mech — the mechanisms of RFC 7208 section 5 for spf_eval.c: all,
 * include (through spf_ev_check_host), a, mx, ptr, ip4, ip6, exists, with
 * the lookup counts and limits of section 4.6.4 (10 DNS-querying terms,
 * 2 void lookups, 10 MX names, the first 10 PTR names), the validated
 * PTR names (5.5, also %{p}), and the permerror/temperror texts (pyspf's).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "spf/spf.h"
#include "spf/spf_int.h"

int spf_ev_perm(struct spf_ev *e, const char *fmt, const char *arg)
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

int spf_ev_temp(struct spf_ev *e, const char *name)
{
	if (e->problem[0] == '\0')
		snprintf(e->problem, sizeof(e->problem), "SPF Temporary Error: DNS error looking up %.300s", name);
	return SPF_TEMPERROR;
}

/* One lookup; *rc set to SPF_PENDING when not answered yet. */
const struct dns_result *spf_ev_query(struct spf_ev *e, const char *name, enum dns_type t, int *rc)
{
	const struct dns_result *r = e->dns(e->arg, name, t);
	if (r == NULL)
		*rc = SPF_PENDING;
	return r;
}

/* Count a void lookup; permerror past the limit. 0 = go on. */
static int void_lookup(struct spf_ev *e)
{
	if (++e->voids > MAX_VOIDS)
		return spf_ev_perm(e, "Void lookup limit of %s exceeded", "2");
	return 0;
}

int spf_ev_count_lookup(struct spf_ev *e)
{
	if (++e->lookups > MAX_LOOKUPS)
		return spf_ev_perm(e, "Too many DNS lookups%s", "");
	return 0;
}

/* Whether address text a matches the client within the prefix. */
static int addr_match(const struct spf_ev *e, const char *text, int plen)
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

static enum dns_type addr_type(const struct spf_ev *e)
{
	return e->family == AF_INET6 ? DNS_AAAA : DNS_A;
}

/* name is target or a name under it (case-insensitive). */
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
static void reverse_name(const struct spf_ev *e, char *out, size_t len)
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
int spf_ev_validated_ptr(struct spf_ev *e, const char *target, int *match, char *best, size_t blen)
{
	char rev[128];
	int rc = 0;
	*match = 0;
	if (best)
		best[0] = '\0';
	reverse_name(e, rev, sizeof(rev));
	const struct dns_result *r = spf_ev_query(e, rev, DNS_PTR, &rc);
	if (r == NULL)
		return rc;
	if (r->status != DNS_OK || r->n == 0) {
		if (r->status == DNS_NOTFOUND && (rc = void_lookup(e)) != 0)
			return rc;
		return SPF_NOMATCH;
	}
	static char names[MAX_PTR][SPF_DOMAIN_MAX];	/* answers die at the next lookup */
	size_t nptr = r->n < MAX_PTR ? r->n : MAX_PTR;
	for (size_t k = 0; k < nptr; k++)
		snprintf(names[k], sizeof(names[k]), "%s", r->items[k]);
	for (size_t k = 0; k < nptr; k++) {
		const struct dns_result *a = spf_ev_query(e, names[k], addr_type(e), &rc);
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


/* A mechanism's lookup: the answer, or NULL with *rc the result to
 * return (pending, temperror, or permerror past the void limit). */
static const struct dns_result *mech_query(struct spf_ev *e, const char *name,
    enum dns_type type, int *rc)
{
	const struct dns_result *r = spf_ev_query(e, name, type, rc);
	if (r == NULL)
		return NULL;
	if (r->status == DNS_TEMPFAIL) {
		*rc = spf_ev_temp(e, name);
		return NULL;
	}
	if ((r->status == DNS_NOTFOUND || r->n == 0) && (*rc = void_lookup(e)) != 0)
		return NULL;
	return r;
}

/* SPF_PASS when one of the answer's addresses holds the client. */
static int any_match(const struct spf_ev *e, const struct dns_result *r, int plen)
{
	for (size_t k = 0; r->status == DNS_OK && k < r->n; k++)
		if (addr_match(e, r->items[k], plen))
			return SPF_PASS;
	return SPF_NOMATCH;
}

/* One mechanism: SPF_NOMATCH, a match (the caller applies the qualifier:
 * returns SPF_PASS for "matched"), or an error / pending. */
int spf_ev_mechanism(struct spf_ev *e, const struct spf_term *t, const char *d, int depth)
{
	char target[512];
	int rc = 0;

	if (t->mech == SPF_M_ALL)
		return SPF_PASS;
	if (t->mech == SPF_M_IP4 || t->mech == SPF_M_IP6) {
		if ((t->mech == SPF_M_IP4) != (e->family == AF_INET))
			return SPF_NOMATCH;
		char text[INET6_ADDRSTRLEN];
		inet_ntop(e->family, t->addr, text, sizeof(text));
		return addr_match(e, text, t->mech == SPF_M_IP4 ? t->cidr4 : t->cidr6) ? SPF_PASS : SPF_NOMATCH;
	}
	if ((rc = spf_ev_count_lookup(e)) != 0)
		return rc;
	if ((rc = spf_ev_expand_domain(e, t->spec ? t->spec : d, d, target, sizeof(target))) != 0)
		return rc;
	int plen = e->family == AF_INET ? t->cidr4 : t->cidr6;
	const struct dns_result *r;
	switch (t->mech) {
	case SPF_M_INCLUDE:
		rc = spf_ev_check_host(e, target, depth + 1);
		if (rc == SPF_PENDING || rc == SPF_TEMPERROR || rc == SPF_PERMERROR)
			return rc;
		if (rc == SPF_NONE)
			return spf_ev_perm(e, "No valid SPF record for included domain: %s", target);
		return rc == SPF_PASS ? SPF_PASS : SPF_NOMATCH;
	case SPF_M_EXISTS:
	case SPF_M_A:
		r = mech_query(e, target, t->mech == SPF_M_EXISTS ? DNS_A : addr_type(e), &rc);
		if (r == NULL)
			return rc;
		if (t->mech == SPF_M_EXISTS)
			return r->status == DNS_OK && r->n > 0 ? SPF_PASS : SPF_NOMATCH;
		return any_match(e, r, plen);
	case SPF_M_MX:
		r = mech_query(e, target, DNS_MX, &rc);
		if (r == NULL)
			return rc;
		if (r->status == DNS_OK && r->n > MAX_MX)
			return spf_ev_perm(e, "More than %s MX records returned", "10");
		/* copied: an answer is only valid until the next lookup */
		static char hosts[MAX_MX][SPF_DOMAIN_MAX];
		size_t nmx = r->status == DNS_OK ? r->n : 0;
		for (size_t k = 0; k < nmx; k++) {
			const char *h = strchr(r->items[k], ' ');
			snprintf(hosts[k], sizeof(hosts[k]), "%s", h ? h + 1 : r->items[k]);
		}
		for (size_t k = 0; k < nmx; k++) {
			const char *host = hosts[k];
			const struct dns_result *a = mech_query(e, host, addr_type(e), &rc);
			if (a == NULL)
				return rc;
			if (any_match(e, a, plen) == SPF_PASS)
				return SPF_PASS;
		}
		return SPF_NOMATCH;
	case SPF_M_PTR: {
		int match;
		rc = spf_ev_validated_ptr(e, target, &match, NULL, 0);
		if (rc != 0 && rc != SPF_NOMATCH)
			return rc;
		return match ? SPF_PASS : SPF_NOMATCH;
	}
	default:
		return SPF_NOMATCH;
	}
}

