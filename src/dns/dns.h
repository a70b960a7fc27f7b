/*
 * dns — asynchronous DNS for the smtp engine: c-ares driven by the
 * process's event loop (common/loop.h), never blocking it. A, AAAA, MX,
 * TXT and PTR; a cache that honours TTLs (and keeps negative and
 * temporary-failure answers briefly, so a restarted evaluation finds
 * them); a per-query timeout (dns_timeout, dns_tries); resolvers from
 * dns_servers ("127.0.0.1:5353", "[::1]:53") or /etc/resolv.conf.
 *
 * Usage: dns_lookup() either answers at once from the cache (the callback
 * runs before dns_lookup returns, and 0 is returned) or starts a query
 * and returns its id; the callback then runs later from the loop, unless
 * dns_cancel(id) was called first (a session that went away).
 */
#ifndef MW_DNS_H
#define MW_DNS_H
#include <stddef.h>
#include <stdint.h>

struct config;

enum dns_type { DNS_A, DNS_AAAA, DNS_MX, DNS_TXT, DNS_PTR };

enum dns_status {
	DNS_OK,			/* answers in items[] */
	DNS_NOTFOUND,		/* NXDOMAIN (nxdomain = 1) or no data of this type */
	DNS_TEMPFAIL,		/* timeout, SERVFAIL, refused, network error */
};

struct dns_result {
	enum dns_status status;
	int nxdomain;		/* the name does not exist at all */
	size_t n;
	/* Text form of each answer: A/AAAA "192.0.2.1" / "2001:db8::1";
	 * MX "10 mx.example.com" (preference, space, host, no final dot);
	 * TXT the joined strings; PTR the name without the final dot.
	 * Names are lower-cased. */
	char **items;
	uint32_t ttl;		/* seconds the answer stays in the cache */
};

typedef void dns_fn(const struct dns_result *r, void *arg);

/* Set up c-ares for this process (after loop_init). 0, or -1 + err. */
int dns_init(const struct config *cfg, char *err, size_t errlen);
/* Look up name/type. Returns 0 if answered from the cache (fn already ran),
 * else a request id for dns_cancel(). The result is only valid during fn. */
uint64_t dns_lookup(const char *name, enum dns_type type, dns_fn *fn, void *arg);
/* The cached answer, or NULL when there is none that is still fresh. */
const struct dns_result *dns_cached(const char *name, enum dns_type type);
/* The callback of this request will not run. Harmless if it already ran. */
void dns_cancel(uint64_t id);
/* Reverse name of an address: "4.3.2.1.in-addr.arpa", nibbles for IPv6
 * ("...ip6.arpa"); -1 if addr is not an address. */
int dns_reverse_name(const char *addr, char *out, size_t len);
/* The DNSBL query name: reversed address + "." + zone (v4 octets, v6 nibbles). */
int dns_rbl_name(const char *addr, const char *zone, char *out, size_t len);
/* Drop every cached answer (tests, reload). */
void dns_flush(void);
/* Bound the cache to max entries (default 50000; oldest dropped first). */
void dns_set_cache_max(size_t max);
/* Number of cached answers (tests). */
size_t dns_cache_count(void);
/* Number of hash chains of the cache: at least its size cap (tests). */
size_t dns_cache_buckets(void);
/* Number of queries handed to c-ares since start (tests: coalescing). */
unsigned long dns_queries_sent(void);
/* Destroy the channel, the queries in flight (their callbacks do not run)
 * and the cache. Never from inside a dns_fn. */
void dns_close(void);
#endif
