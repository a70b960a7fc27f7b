/*
 * spf_int — private to src/spf: the parsed record (spf_parse.c) and the
 * macro expander (spf_macro.c) that the evaluation (spf_eval.c) uses; the
 * unit tests and the fuzz harness call them directly.
 */
#ifndef MW_SPF_INT_H
#define MW_SPF_INT_H
#include <stddef.h>

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
#endif
