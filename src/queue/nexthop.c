/*
 * nexthop — routing of remote and LMTP recipients (transport_maps,
 * relayhost, MX) and the async address lookup of a next hop. See
 * nexthop.h for the contract and docs/queue.md for the rules.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/map.h"
#include "common/util.h"
#include "dns/dns.h"
#include "queue/nexthop.h"

#define NH_MAX_MX	16	/* MX hosts looked at */

struct nh_router {
	struct maplist *transport;	/* transport_maps */
	char *relayhost;
	int smtp_port, lmtp_port;
	size_t addr_limit;
};

/* "[host]:port", "host:port", "[host]", "host" into nh (port 0 = default). */
static int parse_host(const char *s, struct nexthop *nh)
{
	const char *end;
	size_t hl;

	nh->no_mx = 0;
	nh->port = 0;
	if (*s == '[') {
		end = strchr(s, ']');
		if (end == NULL)
			return -1;
		hl = (size_t)(end - s - 1);
		s++;
		nh->no_mx = 1;
		end++;
	} else {
		/* an IPv6 literal without brackets has several ':' */
		const char *c = strchr(s, ':');
		end = c != NULL && strchr(c + 1, ':') == NULL ? c : s + strlen(s);
		hl = (size_t)(end - s);
	}
	if (hl == 0 || hl >= sizeof(nh->host))
		return -1;
	memcpy(nh->host, s, hl);
	nh->host[hl] = '\0';
	str_lower(nh->host);
	if (*end == ':') {
		char *e;
		long p = strtol(end + 1, &e, 10);
		if (*e != '\0' || p < 1 || p > 65535)
			return -1;
		nh->port = (int)p;
	} else if (*end != '\0') {
		return -1;
	}
	return 0;
}

int nexthop_parse(const char *value, const char *dom, struct nexthop *nh)
{
	char tr[64];
	const char *colon = strchr(value, ':');
	size_t tl = colon ? (size_t)(colon - value) : strlen(value);
	const char *hop = colon ? colon + 1 : "";

	memset(nh, 0, sizeof(*nh));
	while (tl > 0 && isspace((unsigned char)value[0])) {
		value++;
		tl--;
	}
	if (tl >= sizeof(tr))
		return -1;
	memcpy(tr, value, tl);
	tr[tl] = '\0';
	if (tl == 0 || strcmp(tr, "smtp") == 0 || strcmp(tr, "relay") == 0)
		nh->transport = NH_SMTP;
	else if (strcmp(tr, "lmtp") == 0)
		nh->transport = NH_LMTP;
	else if (strcmp(tr, "error") == 0)
		nh->transport = NH_ERROR;
	else if (strcmp(tr, "local") == 0)
		nh->transport = NH_LOCAL;
	else if (strcmp(tr, "virtual") == 0)
		nh->transport = NH_VIRTUAL;
	else
		return -1;
	switch (nh->transport) {
	case NH_ERROR:
		str_copy(nh->text, sizeof(nh->text), *hop ? hop : "mail for destination is not deliverable");
		return 0;
	case NH_LOCAL:
	case NH_VIRTUAL:
		return 0;
	case NH_LMTP:
		if (strncmp(hop, "unix:", 5) == 0) {
			nh->unix_sock = 1;
			return str_copy(nh->host, sizeof(nh->host), hop + 5) < 0 || hop[5] == '\0' ? -1 : 0;
		}
		if (strncmp(hop, "inet:", 5) == 0)
			hop += 5;
		if (*hop == '/') {
			nh->unix_sock = 1;
			return str_copy(nh->host, sizeof(nh->host), hop);
		}
		if (*hop == '\0')
			return -1;
		if (parse_host(hop, nh) < 0)
			return -1;
		nh->no_mx = 1;	/* LMTP never uses MX */
		return 0;
	case NH_SMTP:
		if (strncmp(hop, "inet:", 5) == 0)
			hop += 5;
		if (*hop == '\0') {
			if (dom == NULL || *dom == '\0' || str_copy(nh->host, sizeof(nh->host), dom) < 0)
				return -1;
			str_lower(nh->host);
			return 0;
		}
		return parse_host(hop, nh);
	}
	return -1;
}

void nexthop_key(const struct nexthop *nh, char *out, size_t len)
{
	const char *t = nh->transport == NH_LMTP ? "lmtp" : "smtp";

	if (nh->unix_sock)
		snprintf(out, len, "%s:unix:%s", t, nh->host);
	else if (nh->no_mx)
		snprintf(out, len, "%s:[%s]:%d", t, nh->host, nh->port);
	else
		snprintf(out, len, "%s:%s:%d", t, nh->host, nh->port);
}

static int mx_pref(const char *item)
{
	return atoi(item);
}

int nexthop_mx_order(char **items, size_t n, long (*rnd)(void))
{
	if (rnd == NULL)
		rnd = random;
	for (size_t i = 0; i < n; i++) {
		const char *h = strchr(items[i], ' ');
		if (h != NULL && (strcmp(h + 1, ".") == 0 || h[1] == '\0'))
			return 1;	/* RFC 7505 null MX */
	}
	/* shuffle, then a stable insertion sort by preference */
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)rnd() % i;
		char *t = items[i - 1];
		items[i - 1] = items[j];
		items[j] = t;
	}
	for (size_t i = 1; i < n; i++) {
		char *t = items[i];
		size_t j = i;
		while (j > 0 && mx_pref(items[j - 1]) > mx_pref(t)) {
			items[j] = items[j - 1];
			j--;
		}
		items[j] = t;
	}
	return 0;
}

/* relayhost is a host, not a transport value: "[h]:port", "h:port", "h". */
static int parse_relayhost(const char *v, struct nexthop *nh)
{
	memset(nh, 0, sizeof(*nh));
	nh->transport = NH_SMTP;
	return parse_host(v, nh);
}

struct nh_router *nexthop_router_open(const struct config *cfg, char *err, size_t errlen)
{
	struct nh_router *r = xcalloc(1, sizeof(*r));

	r->relayhost = xstrdup(config_get(cfg, "relayhost"));
	r->smtp_port = (int)config_get_int(cfg, "smtp_tcp_port");
	r->lmtp_port = (int)config_get_int(cfg, "lmtp_tcp_port");
	r->addr_limit = (size_t)config_get_int(cfg, "smtp_mx_address_limit");
	r->transport = maplist_open(config_get(cfg, "transport_maps"), 0, err, errlen);
	if (r->transport == NULL) {
		nexthop_router_free(r);
		return NULL;
	}
	if (r->relayhost[0] != '\0') {
		struct nexthop nh;
		if (parse_relayhost(r->relayhost, &nh) < 0) {
			snprintf(err, errlen, "relayhost: cannot parse \"%s\"", r->relayhost);
			nexthop_router_free(r);
			return NULL;
		}
	}
	return r;
}

void nexthop_router_free(struct nh_router *r)
{
	if (r == NULL)
		return;
	if (r->transport)
		maplist_free(r->transport);
	free(r->relayhost);
	free(r);
}

int nexthop_default_port(const struct nh_router *r, enum nh_transport t)
{
	return t == NH_LMTP ? r->lmtp_port : r->smtp_port;
}

/* The transport_maps value for addr, Postfix transport(5) order:
 * address, domain, .parent..., "*"; NULL when none. */
static const char *transport_lookup(const struct nh_router *r, const char *addr)
{
	const char *at = strrchr(addr, '@');
	const char *dom = at ? at + 1 : "";
	const char *v;

	if (maplist_count(r->transport) == 0)
		return NULL;
	v = maplist_lookup(r->transport, addr);
	if (v == NULL && *dom)
		v = maplist_lookup(r->transport, dom);
	for (const char *d = strchr(dom, '.'); v == NULL && d != NULL; d = strchr(d + 1, '.'))
		v = maplist_lookup(r->transport, d);
	if (v == NULL)
		v = maplist_lookup(r->transport, "*");
	return v;
}

int nexthop_override(const struct nh_router *r, const char *addr, struct nexthop *nh)
{
	const char *v = transport_lookup(r, addr);
	const char *at = strrchr(addr, '@');

	if (v == NULL || nexthop_parse(v, at ? at + 1 : "", nh) < 0)
		return 0;
	if (nh->transport == NH_LOCAL || nh->transport == NH_VIRTUAL)
		return 0;
	if (nh->transport == NH_SMTP) {
		const char *c = strchr(v, ':');
		return c != NULL && c[1] != '\0';	/* "smtp:" alone: no override */
	}
	return 1;
}

int nexthop_route(const struct nh_router *r, const char *addr, struct nexthop *nh)
{
	const char *at = strrchr(addr, '@');
	const char *dom = at ? at + 1 : "";
	const char *v = transport_lookup(r, addr);

	if (v != NULL) {
		/* an entry with an empty nexthop keeps relayhost/domain */
		if (nexthop_parse(v, dom, nh) < 0) {
			memset(nh, 0, sizeof(*nh));
			nh->transport = NH_ERROR;
			snprintf(nh->text, sizeof(nh->text), "4.3.5 bad transport_maps entry for %s: %s",
			    addr, v);
			return -1;
		}
		const char *c = strchr(v, ':');
		if (nh->transport != NH_SMTP || (c != NULL && c[1] != '\0') || r->relayhost[0] == '\0')
			return 0;
	}
	if (r->relayhost[0] != '\0')
		return parse_relayhost(r->relayhost, nh);
	return nexthop_parse("smtp:", dom, nh);
}

/* ---- address lookup of one next hop ---- */

struct nh_job {
	const struct nh_router *r;
	struct nexthop nh;
	nexthop_fn *fn;
	void *arg;
	char *hosts[NH_MAX_MX];
	size_t nhost, hi;
	int aaaa;			/* looking up AAAA of hosts[hi] */
	struct nh_addr *addrs;
	size_t naddr;
	int port, ntemp;
	char failq[300];		/* "name=X type=A" of the last failure */
};

static void job_done(struct nh_job *j, enum nh_status st, const char *dsn, const char *why)
{
	j->fn(j->arg, st, j->addrs, j->naddr, dsn, why);
	for (size_t i = 0; i < j->nhost; i++)
		free(j->hosts[i]);
	free(j->addrs);
	free(j);
}

static void add_addr(struct nh_job *j, const char *name, const char *ip)
{
	if (j->naddr >= j->r->addr_limit)
		return;
	j->addrs = xrealloc(j->addrs, (j->naddr + 1) * sizeof(*j->addrs));
	struct nh_addr *a = &j->addrs[j->naddr++];
	str_copy(a->name, sizeof(a->name), name);
	str_copy(a->ip, sizeof(a->ip), ip);
	a->port = j->port;
}

static int is_literal(const char *h)
{
	unsigned char b[16];
	return inet_pton(AF_INET, h, b) == 1 || inet_pton(AF_INET6, h, b) == 1;
}

static void next_addr(struct nh_job *j);

static void on_addr(const struct dns_result *res, void *arg)
{
	struct nh_job *j = arg;
	const char *h = j->hosts[j->hi];

	if (res->status == DNS_OK) {
		for (size_t i = 0; i < res->n; i++)
			add_addr(j, h, res->items[i]);
	} else {
		if (res->status == DNS_TEMPFAIL)
			j->ntemp++;
		snprintf(j->failq, sizeof(j->failq), "name=%s type=%s", h, j->aaaa ? "AAAA" : "A");
	}
	if (j->aaaa) {
		j->aaaa = 0;
		j->hi++;
	} else {
		j->aaaa = 1;
	}
	next_addr(j);
}

static void next_addr(struct nh_job *j)
{
	char why[600];

	while (j->hi < j->nhost && j->naddr < j->r->addr_limit) {
		const char *h = j->hosts[j->hi];
		if (is_literal(h)) {
			add_addr(j, h, h);
			j->hi++;
			continue;
		}
		dns_lookup(h, j->aaaa ? DNS_AAAA : DNS_A, on_addr, j);
		return;		/* on_addr continues (maybe already did) */
	}
	if (j->naddr > 0) {
		job_done(j, NH_OK, "", "");
		return;
	}
	snprintf(why, sizeof(why), "Host or domain name not found. Name service error for %s: "
	    "Host not found%s", j->failq, j->ntemp ? ", try again" : "");
	job_done(j, j->ntemp ? NH_DEFER : NH_BOUNCE, j->ntemp ? "4.4.3" : "5.4.4", why);
}

static void on_mx(const struct dns_result *res, void *arg)
{
	struct nh_job *j = arg;
	char why[600];

	if (res->status == DNS_TEMPFAIL) {
		snprintf(why, sizeof(why), "Host or domain name not found. Name service error "
		    "for name=%s type=MX: Host not found, try again", j->nh.host);
		job_done(j, NH_DEFER, "4.4.3", why);
		return;
	}
	if (res->status == DNS_NOTFOUND && res->nxdomain) {
		snprintf(why, sizeof(why), "Host or domain name not found. Name service error "
		    "for name=%s type=MX: Host not found", j->nh.host);
		job_done(j, NH_BOUNCE, "5.4.4", why);
		return;
	}
	if (res->status == DNS_NOTFOUND || res->n == 0) {	/* no MX: the domain itself */
		j->hosts[j->nhost++] = xstrdup(j->nh.host);
		next_addr(j);
		return;
	}
	size_t n = res->n < NH_MAX_MX ? res->n : NH_MAX_MX;
	char **items = xcalloc(n, sizeof(*items));
	for (size_t i = 0; i < n; i++)
		items[i] = res->items[i];
	if (nexthop_mx_order(items, n, NULL) == 1) {
		free(items);
		snprintf(why, sizeof(why), "Domain %s does not accept mail (nullMX)", j->nh.host);
		job_done(j, NH_BOUNCE, "5.1.10", why);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const char *h = strchr(items[i], ' ');
		if (h != NULL && h[1] != '\0')
			j->hosts[j->nhost++] = xstrdup(h + 1);
	}
	free(items);
	next_addr(j);
}

void nexthop_resolve(const struct nh_router *r, const struct nexthop *nh, nexthop_fn *fn,
    void *arg)
{
	struct nh_job *j = xcalloc(1, sizeof(*j));

	j->r = r;
	j->nh = *nh;
	j->fn = fn;
	j->arg = arg;
	j->port = nh->port ? nh->port : nexthop_default_port(r, nh->transport);
	if (nh->unix_sock) {
		add_addr(j, nh->host, "");
		j->addrs[0].port = 0;
		job_done(j, NH_OK, "", "");
		return;
	}
	if (nh->no_mx || is_literal(nh->host)) {
		j->hosts[j->nhost++] = xstrdup(nh->host);
		next_addr(j);
		return;
	}
	dns_lookup(nh->host, DNS_MX, on_mx, j);
}

int nexthop_check(const struct config *cfg, char *err, size_t errlen)
{
	char why[512];
	struct nh_router *nr = nexthop_router_open(cfg, why, sizeof(why));
	if (nr == NULL) {
		const char *key = strncmp(why, "relayhost:", 10) == 0 ? "relayhost" : "transport_maps";
		int named = strncmp(why, key, strlen(key)) == 0;
		snprintf(err, errlen, "%s, line %d: %s%s%s", config_path(cfg), config_line(cfg, key),
		    named ? "" : key, named ? "" : ": ", why);
		return -1;
	}
	nexthop_router_free(nr);
	return 0;
}
