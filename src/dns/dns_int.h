/*
 * dns_int — shared by dns.c (c-ares, cache, queries) and dns_answer.c
 * (turning a raw answer into a struct dns_result with its TTL). Not
 * included outside src/policy/dns*.c.
 */
#ifndef MW_DNS_INT_H
#define MW_DNS_INT_H
#include <stdint.h>

#include "dns/dns.h"

#define DNS_TTL_MIN		1	/* s: floor of any cached answer */
#define DNS_TTL_MAX		86400	/* s: cap of positive answers */
#define DNS_NEG_TTL_MAX		10800	/* s: cap of NOTFOUND (RFC 2308 §5) */
#define DNS_NEG_TTL_DEF		60	/* s: NOTFOUND without an SOA */
#define DNS_TEMPFAIL_TTL	10	/* s: TEMPFAIL */
#define DNS_MAX_ADDRS		256	/* A/AAAA records kept per answer */

/* Free the items of r (r itself is the caller's). */
void dns_result_free(struct dns_result *r);
/* Deep copy of src into dst. */
void dns_result_copy(struct dns_result *dst, const struct dns_result *src);
/* Empty r and set its status, nxdomain flag and cache TTL. */
void dns_result_status(struct dns_result *r, enum dns_status st, int nx, uint32_t ttl);
/* Build r from a c-ares status and raw answer; returns the c-ares status
 * that decided it (for the log). */
int dns_result_build(struct dns_result *r, enum dns_type type, int status,
    const unsigned char *abuf, int alen);
#endif
