/*
 * dns_answer — a c-ares answer turned into a struct dns_result: the
 * records as text (addresses, "pref host" MX, joined TXT, PTR names), and
 * the TTL for the cache, read from the raw answer since c-ares 1.18
 * exposes TTLs only for A/AAAA. Status mapping is documented in dns.h.
 */
#include <arpa/inet.h>
#include <ares.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/util.h"
#include "dns/dns.h"
#include "dns/dns_int.h"

/* ---- results ---- */

void dns_result_free(struct dns_result *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->items[i]);
	free(r->items);
	r->items = NULL;
	r->n = 0;
}

void dns_result_copy(struct dns_result *dst, const struct dns_result *src)
{
	*dst = *src;
	dst->items = src->n ? xcalloc(src->n, sizeof(char *)) : NULL;
	for (size_t i = 0; i < src->n; i++)
		dst->items[i] = xstrdup(src->items[i]);
}

static void dns_result_add(struct dns_result *r, char *item)
{
	r->items = xrealloc(r->items, (r->n + 1) * sizeof(char *));
	r->items[r->n++] = item;
}

void dns_result_status(struct dns_result *r, enum dns_status st, int nx, uint32_t ttl)
{
	dns_result_free(r);
	r->status = st;
	r->nxdomain = nx;
	r->ttl = ttl;
}


/* ---- TTLs from the raw answer (c-ares 1.18 exposes them only for A/AAAA) ---- */

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Offset just past the (possibly compressed) name at off; -1 if malformed. */
static long skip_name(const unsigned char *buf, long len, long off)
{
	while (off < len) {
		unsigned c = buf[off];
		if (c == 0)
			return off + 1;
		if ((c & 0xc0) == 0xc0)
			return off + 2 <= len ? off + 2 : -1;
		if (c & 0xc0)
			return -1;
		off += 1 + c;
	}
	return -1;
}

/*
 * From an answer: the smallest TTL in the answer section (*ans), and the
 * negative-caching TTL min(SOA TTL, SOA MINIMUM) from the authority
 * section (*neg). Each is -1 when absent. -1 if the message is malformed.
 */
static int raw_ttls(const unsigned char *buf, int blen, long *ans, long *neg)
{
	long len = blen, off = 12;
	*ans = *neg = -1;
	if (buf == NULL || len < 12)
		return -1;
	unsigned qd = (unsigned)buf[4] << 8 | buf[5];
	unsigned an = (unsigned)buf[6] << 8 | buf[7];
	unsigned ns = (unsigned)buf[8] << 8 | buf[9];
	for (unsigned i = 0; i < qd; i++) {
		if ((off = skip_name(buf, len, off)) < 0 || off + 4 > len)
			return -1;
		off += 4;
	}
	for (unsigned i = 0; i < an + ns; i++) {
		if ((off = skip_name(buf, len, off)) < 0 || off + 10 > len)
			return -1;
		unsigned type = (unsigned)buf[off] << 8 | buf[off + 1];
		long ttl = (long)(get32(buf + off + 4) & 0x7fffffff);
		long rdlen = (long)buf[off + 8] << 8 | buf[off + 9];
		off += 10;
		if (off + rdlen > len)
			return -1;
		if (i < an) {
			if (*ans < 0 || ttl < *ans)
				*ans = ttl;
		} else if (type == 6 && rdlen >= 20) {	/* SOA: MINIMUM is last */
			long min = (long)(get32(buf + off + rdlen - 4) & 0x7fffffff);
			*neg = ttl < min ? ttl : min;
		}
		off += rdlen;
	}
	return 0;
}

static uint32_t clamp_ttl(long ttl, long max)
{
	if (ttl < DNS_TTL_MIN)
		return DNS_TTL_MIN;
	return (uint32_t)(ttl > max ? max : ttl);
}

/* ---- parsing answers ---- */

static char *lower_dup(const char *s)
{
	return str_lower(xstrdup(s));
}

static int parse_addrs(struct dns_result *r, int family, const unsigned char *abuf, int alen)
{
	static struct ares_addrttl a4[DNS_MAX_ADDRS];
	static struct ares_addr6ttl a6[DNS_MAX_ADDRS];
	char txt[INET6_ADDRSTRLEN];
	int n = DNS_MAX_ADDRS, st;
	long ttl = -1;

	if (family == AF_INET)
		st = ares_parse_a_reply(abuf, alen, NULL, a4, &n);
	else
		st = ares_parse_aaaa_reply(abuf, alen, NULL, a6, &n);
	if (st != ARES_SUCCESS)
		return st;
	for (int i = 0; i < n; i++) {
		const void *src = family == AF_INET ? (const void *)&a4[i].ipaddr :
		    (const void *)&a6[i].ip6addr;
		int t = family == AF_INET ? a4[i].ttl : a6[i].ttl;
		if (inet_ntop(family, src, txt, sizeof(txt)) == NULL)
			return ARES_EBADRESP;
		dns_result_add(r, xstrdup(txt));
		if (ttl < 0 || t < ttl)
			ttl = t;
	}
	r->ttl = clamp_ttl(ttl, DNS_TTL_MAX);
	return r->n ? ARES_SUCCESS : ARES_ENODATA;
}

static int parse_mx(struct dns_result *r, const unsigned char *abuf, int alen)
{
	struct ares_mx_reply *mx = NULL;
	int st = ares_parse_mx_reply(abuf, alen, &mx);
	if (st != ARES_SUCCESS)
		return st;
	for (struct ares_mx_reply *m = mx; m; m = m->next) {
		size_t sz = strlen(m->host) + 8;
		char *item = xmalloc(sz);
		int w = snprintf(item, sz, "%u %s", (unsigned)m->priority,
		    m->host[0] ? m->host : ".");
		if (w < 0 || (size_t)w >= sz) {
			free(item);
			ares_free_data(mx);
			return ARES_EBADRESP;
		}
		dns_result_add(r, str_lower(item));
	}
	ares_free_data(mx);
	return r->n ? ARES_SUCCESS : ARES_ENODATA;
}

static int parse_txt(struct dns_result *r, const unsigned char *abuf, int alen)
{
	struct ares_txt_ext *txt = NULL;
	char *cur = NULL;
	size_t curlen = 0;
	int st = ares_parse_txt_reply_ext(abuf, alen, &txt);
	if (st != ARES_SUCCESS)
		return st;
	for (struct ares_txt_ext *t = txt; t; t = t->next) {
		if (t->record_start && cur) {
			dns_result_add(r, cur);
			cur = NULL;
		}
		if (cur == NULL) {
			cur = xstrdup("");
			curlen = 0;
		}
		cur = xrealloc(cur, curlen + t->length + 1);
		for (size_t i = 0; i < t->length; i++)	/* NUL would cut the text */
			cur[curlen + i] = t->txt[i] ? (char)t->txt[i] : '?';
		curlen += t->length;
		cur[curlen] = '\0';
	}
	if (cur)
		dns_result_add(r, cur);
	ares_free_data(txt);
	return r->n ? ARES_SUCCESS : ARES_ENODATA;
}

static int parse_ptr(struct dns_result *r, const unsigned char *abuf, int alen)
{
	static const unsigned char dummy[4];
	struct hostent *he = NULL;
	int st = ares_parse_ptr_reply(abuf, alen, dummy, sizeof(dummy), AF_INET, &he);
	if (st != ARES_SUCCESS)
		return st;
	for (char **a = he->h_aliases; a && *a; a++)
		dns_result_add(r, lower_dup(*a));
	if (r->n == 0 && he->h_name)
		dns_result_add(r, lower_dup(he->h_name));
	ares_free_hostent(he);
	return r->n ? ARES_SUCCESS : ARES_ENODATA;
}

/* Turn a c-ares status and answer into r; returns the c-ares status that
 * describes it (for the log). */
int dns_result_build(struct dns_result *r, enum dns_type type, int status,
    const unsigned char *abuf, int alen)
{
	long ans = -1, neg = -1;
	memset(r, 0, sizeof(*r));
	if (status == ARES_SUCCESS) {
		switch (type) {
		case DNS_A: status = parse_addrs(r, AF_INET, abuf, alen); break;
		case DNS_AAAA: status = parse_addrs(r, AF_INET6, abuf, alen); break;
		case DNS_MX: status = parse_mx(r, abuf, alen); break;
		case DNS_TXT: status = parse_txt(r, abuf, alen); break;
		case DNS_PTR: status = parse_ptr(r, abuf, alen); break;
		}
		if (status == ARES_SUCCESS) {
			r->status = DNS_OK;
			if (type != DNS_A && type != DNS_AAAA) {
				raw_ttls(abuf, alen, &ans, &neg);
				r->ttl = clamp_ttl(ans, DNS_TTL_MAX);
			}
			return status;
		}
	}
	if (status == ARES_ENOTFOUND || status == ARES_ENODATA) {
		raw_ttls(abuf, alen, &ans, &neg);
		dns_result_status(r, DNS_NOTFOUND, status == ARES_ENOTFOUND,
		    clamp_ttl(neg >= 0 ? neg : DNS_NEG_TTL_DEF, DNS_NEG_TTL_MAX));
	} else
		dns_result_status(r, DNS_TEMPFAIL, 0, DNS_TEMPFAIL_TTL);
	return status;
}

