/*
 * restrict_int — private to the restriction code (restrict*.c, policyd.c):
 * the table row, a parsed list item, the reply codes read from the
 * config, the per-evaluation state (reply name/class, warn_if_reject,
 * defer_if_permit / defer_if_reject), and the per-session cache of DNS
 * answers and policy replies behind policy_ctx.cache.
 */
#ifndef MW_RESTRICT_INT_H
#define MW_RESTRICT_INT_H
#include <stddef.h>
#include <stdint.h>

#include "dns/dns.h"
#include "policy/restrict.h"

struct map;
struct maplist;
struct rstate;
struct ritem;
struct policy_service;

typedef enum policy_result restriction_fn(struct rstate *st, const struct ritem *it);

/* What follows a restriction name in the list. */
enum rarg { ARG_NONE, ARG_DNSXL, ARG_MAP, ARG_SERVICE };
#define R_DNS	0x01	/* may start lookups: also run to prefetch */

/* One row of the restriction table. */
struct restriction {
	const char *name;
	restriction_fn *fn;
	enum rarg arg;
	int flags;
};

/* An RBL reply pattern "=127.0.0.2", "=127.0.0.[2..4]": one set per octet. */
struct rbl_pattern {
	uint8_t octet[4][32];	/* bit set of accepted values */
};

/* One restriction of a parsed list, with its argument. */
struct ritem {
	const struct restriction *row;
	char *arg;			/* DNSxL zone (without =pattern), map or service spec */
	char *dnsxl;			/* the argument as written ("zone=127.0.0.2") */
	int has_pattern;
	struct rbl_pattern pattern;
	struct map *map;		/* check_*_access */
	struct policy_service *svc;	/* check_policy_service */
};

/* Reply codes and actions, Postfix names and defaults. */
struct rparams {
	int reject_code, defer_code, relay_code;
	int unknown_client_code, unknown_hostname_code, unknown_address_code;
	int invalid_hostname_code, non_fqdn_code, rbl_code;
	int map_reject_code, map_defer_code, unlisted_rcpt_code;
	int addr_tempfail_defer;	/* unknown_address_tempfail_action = defer */
	int helo_tempfail_defer;	/* unknown_helo_hostname_tempfail_action = defer */
	char *rbl_reply;		/* default_rbl_reply template */
	struct maplist *rbl_reply_maps;
	char *null_key;			/* smtpd_null_access_lookup_key */
	long policy_timeout;		/* seconds */
	char *policy_default_action;
};

/* Which list this is, for "<name>: CLASS rejected: ..." texts. */
enum rclass { RC_CLIENT, RC_HELO, RC_SENDER, RC_RECIPIENT, RC_DATA, RC_BY_STAGE };

struct restrictions {
	struct ritem *items;
	size_t n;
	enum rclass cls;
	struct rparams *p;
};

#define R_REPLY_MAX 512

/* One evaluation of one list. */
struct rstate {
	struct policy_ctx *c;
	const struct rparams *p;
	enum rclass cls;
	const char *name;		/* reply name: client name[addr], helo, address */
	const char *cls_text;		/* "Client host", "Sender address", ... */
	char namaddr[600];
	char *reply;
	size_t len;
	int warn;			/* warn_if_reject applies to this restriction */
	int prefetch;			/* only start lookups, decide nothing */
	int pending;			/* a lookup of this evaluation is running */
	int dip, dir;			/* defer_if_permit / defer_if_reject armed */
	int relay;			/* the reply being made refuses relaying */
	char dip_reply[R_REPLY_MAX], dir_reply[R_REPLY_MAX];
};

/* ---- replies (restrict_reply.c; r_table_result in restrict.c) ---- */

/* Length of the status code "D.D{1,3}.D{1,3}" that s starts with, or 0. */
size_t r_dsn_len(const char *s);
/* Postfix's smtpd_check_reject: "CODE DSN text", DSN class from the code,
 * warn_if_reject and defer_if_reject applied. REJECT/DEFER, or DUNNO when
 * only warned. */
enum policy_result r_reply(struct rstate *st, int code, const char *dsn,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Arm defer_if_permit (permit = 1) or defer_if_reject (0); returns DUNNO. */
enum policy_result r_defer_if(struct rstate *st, int permit, int code, const char *dsn,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* A reply already formatted as "CODE [DSN] text" from a map or a policy
 * server (check_table_result): OK, REJECT, DEFER, DUNNO, 4xx/5xx text... */
enum policy_result r_table_result(struct rstate *st, const char *where, const char *value);
/* The text of a reply's class and name: "Client host" and "name[addr]". */
void r_class_name(struct rstate *st);

/* ---- session cache (restrict.c) ---- */

/* The answer to name/type: from this session's cache, the DNS cache, or
 * NULL after starting a lookup (st->pending is set then). In prefetch
 * mode the lookup is started the same way. */
const struct dns_result *r_dns(struct rstate *st, const char *name, enum dns_type type);
/* A cached policy-service reply for key, or NULL. */
const char *r_cache_get(struct policy_ctx *c, const char *key);
/* Remember a policy-service reply. */
void r_cache_put(struct policy_ctx *c, const char *key, const char *value);
/* Register / forget a running policy request (cancelled by policy_ctx_clear). */
void r_cache_add_request(struct policy_ctx *c, struct policy_service *svc, void *req);
void r_cache_del_request(struct policy_ctx *c, void *req);
/* The slot for this transaction's SPF result (restrict_spf.c; freed by
 * policy_ctx_clear with free()). */
struct spf_memo;
struct spf_memo **r_cache_spf(struct policy_ctx *c);
/* A lookup or request of c finished: wake the session if it waits. */
void r_cache_done(struct policy_ctx *c);
/* The evaluation returned PENDING (1) or an answer (0): whether a finished
 * lookup must wake the session. */
void r_cache_wait(struct policy_ctx *c, int waiting);

/* ---- helpers shared by the families ---- */

/* Whether the restriction named name may look up DNS (its row's R_DNS). */
int r_name_uses_dns(const char *name);

/* Postfix valid_hostname(): labels of letters, digits, '-', '_'. */
int r_valid_hostname(const char *name);
/* An IPv4 or IPv6 address (optionally "IPv6:" prefixed). */
int r_valid_hostaddr(const char *addr);
/* Parse "zone" or "zone=127.0.0.[2..4]" into it; -1 + err if bad. */
int r_parse_dnsxl(struct ritem *it, const char *arg, char *err, size_t errlen);

/* ---- the families: one function per restriction ---- */
/* restrict_client.c */
restriction_fn r_unknown_client, r_unknown_reverse_client;
/* restrict_address.c */
restriction_fn r_invalid_helo, r_non_fqdn_helo, r_unknown_helo;
restriction_fn r_non_fqdn_sender, r_non_fqdn_recipient;
restriction_fn r_unknown_sender_domain, r_unknown_recipient_domain;
/* restrict_rbl.c */
restriction_fn r_rbl_client, r_rhsbl_client, r_rhsbl_reverse_client, r_rhsbl_sender;
restriction_fn r_rhsbl_helo, r_rhsbl_recipient, r_dnswl_client;
/* restrict_spf.c */
restriction_fn r_spf_fail, r_spf_temperror;
/* restrict_access.c */
restriction_fn r_client_access, r_sender_access, r_helo_access, r_recipient_access;
/* policyd.c */
/* The action= value of a reply held in in (NUL-terminated, CR removed,
 * changed in place): 1 done, 0 more needed, -1 bad (fuzzing). */
struct buf;
int policyd_parse_reply(struct buf *in, char *action, size_t len);
restriction_fn r_policy_service;
/* Parse "inet:host:port" / "unix:/path" at start-up; NULL + err if bad. */
struct policy_service *policyd_open(const char *spec, const struct rparams *p,
    char *err, size_t errlen);
void policyd_free(struct policy_service *svc);
/* Cancel a running request (session went away). */
void policyd_cancel(void *req);
#endif
