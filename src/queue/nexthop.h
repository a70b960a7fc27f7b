/*
 * nexthop — where a remote (or LMTP) recipient goes, Postfix style:
 *   transport_maps  "user@domain", "domain", ".parent.domain", "*" ->
 *                   "transport:nexthop" (smtp:[host]:port, smtp:host,
 *                   lmtp:unix:/path, lmtp:inet:host:port, local, virtual,
 *                   error:text; an empty nexthop means the domain);
 *   relayhost       for remote mail without a transport_maps entry;
 *   otherwise       smtp to the recipient's domain by MX.
 * Then the addresses of a next hop through the async DNS module (MX by
 * preference, random among equals; A/AAAA when there is no MX; [host]
 * skips MX; null MX and NXDOMAIN are permanent failures).
 * Parsing and ordering are pure functions (tests/unit/nexthop_test.c);
 * nexthop_resolve() needs dns_init() and the loop.
 */
#ifndef MW_NEXTHOP_H
#define MW_NEXTHOP_H
#include <stddef.h>

struct config;

enum nh_transport { NH_SMTP, NH_LMTP, NH_ERROR, NH_LOCAL, NH_VIRTUAL };

struct nexthop {
	enum nh_transport transport;
	char host[256];		/* domain or host; lmtp unix: the socket path */
	int port;		/* 0: the transport's default port */
	int no_mx;		/* [host]: no MX lookup */
	int unix_sock;		/* lmtp:unix:/path */
	char text[512];		/* error: the text */
};

/* One address to connect to. */
struct nh_addr {
	char name[256];		/* host name (MX host), or the socket path */
	char ip[64];		/* textual address; "" for a unix socket */
	int port;
};

enum nh_status { NH_OK, NH_DEFER, NH_BOUNCE };

/* Parse a transport value ("smtp:[h]:25", "lmtp:unix:/p", "error:text",
 * ":[h]", "relay:h") for recipient domain dom. 0, or -1 if malformed. */
int nexthop_parse(const char *value, const char *dom, struct nexthop *nh);
/* The queue key of a next hop: "smtp:[h]:25", "lmtp:unix:/p", "smtp:dom". */
void nexthop_key(const struct nexthop *nh, char *out, size_t len);
/* Sort "pref host" MX items by preference, shuffling equal ones (rnd
 * gives random numbers; NULL = random()). Null MX: returns 1. */
int nexthop_mx_order(char **items, size_t n, long (*rnd)(void));

struct nh_router;
/* Open transport_maps and read relayhost etc.; NULL + err on error. */
struct nh_router *nexthop_router_open(const struct config *cfg, char *err, size_t errlen);
void nexthop_router_free(struct nh_router *r);
/* check-config's part for the queue manager: relayhost and transport_maps
 * load. 0, or -1 and "FILE, line N: key: why". */
int nexthop_check(const struct config *cfg, char *err, size_t errlen);
/* Route addr (relay recipient) through transport_maps, relayhost, MX. */
int nexthop_route(const struct nh_router *r, const char *addr, struct nexthop *nh);
/* A transport_maps entry that takes a local or virtual recipient away
 * from its default delivery (lmtp:, error:, smtp:nexthop): 1 + nh, else 0. */
int nexthop_override(const struct nh_router *r, const char *addr, struct nexthop *nh);
/* Default port of a transport (smtp_tcp_port, lmtp_tcp_port). */
int nexthop_default_port(const struct nh_router *r, enum nh_transport t);

/* Result of a resolution: addresses in the order to try, or a failure
 * with a DSN status and Postfix's text. Valid only during the call. */
typedef void nexthop_fn(void *arg, enum nh_status st, const struct nh_addr *a, size_t n,
    const char *dsn, const char *why);
/* Find the addresses of nh (at most limit); fn runs later from the loop
 * or before this returns (cache, literal address, unix socket). */
void nexthop_resolve(const struct nh_router *r, const struct nexthop *nh, nexthop_fn *fn,
    void *arg);
#endif
