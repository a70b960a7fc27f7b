/*
 * spf_int — private to src/spf: the parsed record (spf_parse.c), the
 * macro expander (spf_macro.c), and the state of one evaluation shared by
 * check_host() (spf_eval.c) and the mechanisms (spf_mech.c); the unit
 * tests and the fuzz harness call the parser and the expander directly.
 */
#ifndef MW_SPF_INT_H
#define MW_SPF_INT_H
#include <stddef.h>

#include "spf/spf.h"

enum spf_mech { SPF_M_ALL, SPF_M_INCLUDE, SPF_M_A, SPF_M_MX, SPF_M_PTR,
	SPF_M_IP4, SPF_M_IP6, SPF_M_EXISTS };

/* One directive: qualifier, mechanism, argument. */
struct spf_term {
	char qual;		/* '+', '-', '~', '?' */
	enum spf_mech mech;
	const char *spec;	/* domain-spec as written (macros unexpanded), or NULL */
	int cidr4, cidr6;	/* prefix lengths (32/128 when absent) */
	unsigned char addr[16];	/* ip4 (first 4 bytes) / ip6 */
	const char *text;	/* the term as written, for the result */
};

#define SPF_TERMS_MAX 128	/* more: permerror (RFC 7208 3.4 advises 450 bytes) */

/* A parsed "v=spf1 ..." record; strings point into buf. */
struct spf_record {
	struct spf_term terms[SPF_TERMS_MAX];
	size_t n;
	const char *redirect;	/* redirect= domain-spec, or NULL */
	const char *exp;	/* exp= domain-spec, or NULL */
	char buf[2 * 4096];	/* the terms, cut up while parsing */
	char text[2 * 4096];	/* the same, each term whole (spf_term.text) */
};

/* Whether txt is an SPF record: "v=spf1" then end or a space. */
int spf_is_record(const char *txt);
/* Parse an SPF record (RFC 7208 section 12's grammar). 0, or -1 with
 * pyspf's wording of the problem in err (a permerror). */
int spf_parse(const char *txt, struct spf_record *rec, char *err, size_t errlen);

/* The values macros expand to (RFC 7208 section 7.2). */
struct spf_macro_ctx {
	const char *s, *l, *o, *d, *i, *p, *v, *h, *c, *r;
	long t;
	int exp;		/* expanding an explanation: c, r, t allowed */
};

enum { SPF_MACRO_OK = 0, SPF_MACRO_SYNTAX = -1, SPF_MACRO_NEED_P = -2,
	SPF_MACRO_TOO_LONG = -3 };
/* Expand a macro-string into out. 0, or one of the negative codes above
 * (NEED_P: %{p} used while ctx->p is NULL; the caller looks it up). */
int spf_macro_expand(const char *in, const struct spf_macro_ctx *m, char *out, size_t len);
/* Only check a macro-string's syntax (exp: c, r, t allowed). 0 or -1. */
int spf_macro_check(const char *in, int exp);

/* ---- one evaluation (spf_eval.c, spf_mech.c) ---- */

#define SPF_PENDING	100	/* not a result: a lookup is running */
#define SPF_NOMATCH	(-1)	/* not a result: the mechanism did not match */
#define MAX_LOOKUPS	10	/* RFC 7208 4.6.4 */
#define MAX_VOIDS	2
#define MAX_MX		10
#define MAX_PTR		10
#define MAX_DEPTH	20	/* include/redirect nesting */

struct spf_ev {
	const struct spf_request *rq;
	spf_dns_fn *dns;
	void *arg;
	struct spf_result *out;
	int family;			/* AF_INET / AF_INET6 of the client */
	unsigned char ip[16];
	char ipi[80], ipc[46], local[256], odomain[SPF_DOMAIN_MAX];	/* %{i} %{c} %{l} %{o} */
	char pname[SPF_DOMAIN_MAX];	/* %{p}, once looked up */
	int have_p;
	int lookups, voids;
	char problem[SPF_TEXT_MAX];	/* the first permerror/temperror text */
};

/* check_host() for domain at nesting depth: an spf_res, or SPF_PENDING. */
int spf_ev_check_host(struct spf_ev *e, const char *domain, int depth);
/* Expand a domain-spec for domain d (4.8: at most 253 octets): 0, or a result. */
int spf_ev_expand_domain(struct spf_ev *e, const char *spec, const char *d, char *out, size_t len);
/* One mechanism: SPF_NOMATCH, SPF_PASS for a match, an error, or SPF_PENDING. */
int spf_ev_mechanism(struct spf_ev *e, const struct spf_term *t, const char *d, int depth);
/* Record the first problem as "SPF Permanent Error: ..."; returns SPF_PERMERROR. */
int spf_ev_perm(struct spf_ev *e, const char *fmt, const char *arg);
/* Record "SPF Temporary Error: ..." for name; returns SPF_TEMPERROR. */
int spf_ev_temp(struct spf_ev *e, const char *name);
/* One lookup through the DNS function; NULL and *rc = SPF_PENDING if not answered. */
const struct dns_result *spf_ev_query(struct spf_ev *e, const char *name, enum dns_type t, int *rc);
/* Count a DNS-querying term: 0, or SPF_PERMERROR past the limit. */
int spf_ev_count_lookup(struct spf_ev *e);
/* The client's validated PTR names (5.5): *match if one is within target;
 * the first (or matching) one into best. 0, SPF_NOMATCH, or an error. */
int spf_ev_validated_ptr(struct spf_ev *e, const char *target, int *match, char *best, size_t blen);
#endif
