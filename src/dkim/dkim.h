/*
 * dkim — DKIM signatures (RFC 6376, RFC 8463 Ed25519, RFC 8301 no SHA-1)
 * with OpenSSL, for the smtp engine and pickup (signing submitted mail at
 * the end of DATA), the engine's inbound check (verification) and the
 * `mailwarden dkim` tools. Messages are given whole, with LF or CRLF line
 * ends (queue files hold LF); canonicalisation relaxed and simple. No DNS
 * here: the verifier is handed each key record by the caller, so the
 * engine can look it up asynchronously (restart with cache).
 */
#ifndef MW_DKIM_H
#define MW_DKIM_H
#include <stddef.h>
#include <time.h>

struct buf;

enum dkim_alg { DKIM_RSA_SHA256 = 1, DKIM_ED25519_SHA256 = 2 };

/* A private signing key with its domain and selector. */
struct dkim_key {
	void *pkey;		/* EVP_PKEY */
	enum dkim_alg alg;
	char *domain, *selector;
};

/* The result of one signature (RFC 8601 words, in this order). */
enum dkim_result {
	DKIM_NONE, DKIM_PASS, DKIM_FAIL, DKIM_NEUTRAL, DKIM_POLICY, DKIM_TEMPERROR,
	DKIM_PERMERROR,
};

/* One verified signature, for Authentication-Results and DMARC. */
struct dkim_sig_result {
	enum dkim_result result;
	char domain[256];	/* d= (the domain DMARC aligns with the From domain) */
	char selector[64];	/* s= */
	char alg[24];		/* a= */
	char b8[16];		/* header.b: first 8 characters of b= */
	char why[128];		/* reason, for the comment */
	int testing;		/* t=y in the key record */
};

/* What the key lookup of dkim_verify() found for a name. */
enum dkim_lookup { DKIM_LK_FOUND, DKIM_LK_NONE, DKIM_LK_TEMP, DKIM_LK_PENDING };
/* Fill txt with the TXT record (strings joined) of name. */
typedef enum dkim_lookup (*dkim_lookup_fn)(void *arg, const char *name, char *txt,
    size_t txtlen);

/* The result word ("pass", "fail", ...). */
const char *dkim_result_name(enum dkim_result r);

/* Load a private key: PEM (PKCS#8, RSA or Ed25519) or one base64 line of
 * a 32-byte Ed25519 seed. NULL with err on failure. */
struct dkim_key *dkim_key_load(const char *path, const char *domain, const char *selector,
    char *err, size_t errlen);
/* A key from PEM text in memory (handed down from the master). */
struct dkim_key *dkim_key_from_pem(const char *pem, size_t len, const char *domain,
    const char *selector, char *err, size_t errlen);
/* A new key: RSA-2048 or Ed25519. NULL with err. */
struct dkim_key *dkim_key_generate(enum dkim_alg alg, const char *domain, const char *selector,
    char *err, size_t errlen);
/* Write k's private key as PEM to a new file (mode 0600). 0 or -1. */
int dkim_key_write(const struct dkim_key *k, const char *path, char *err, size_t errlen);
/* Free a key (NULL is fine). */
void dkim_key_free(struct dkim_key *k);
/* The DNS TXT record text for the key ("v=DKIM1; k=...; p=..."). 0 or -1. */
int dkim_key_record(const struct dkim_key *k, struct buf *out);
/* Whether the record's p= is k's public key: 1 yes, 0 no, -1 bad record. */
int dkim_key_matches(const struct dkim_key *k, const char *record);

/* Sign msg with k at time now: out gets a whole "DKIM-Signature: ..."
 * field ending in LF (folded with LF TAB), relaxed/relaxed, OpenDKIM's
 * header list, From oversigned. 0 or -1 (err). */
int dkim_sign(const struct dkim_key *k, const char *msg, size_t len, time_t now,
    struct buf *out, char *err, size_t errlen);
/* The low level: sign msg with a given DKIM-Signature field text ending
 * in "b=" (its c= and h= are used); b64 gets the signature. 0 or -1. */
int dkim_sign_field(const struct dkim_key *k, const char *field, size_t flen,
    const char *msg, size_t len, struct buf *b64, char *err, size_t errlen);

/* Verify the first max DKIM-Signature fields of msg (results into res).
 * Returns how many (0: none), or -1 when a key lookup is pending (call
 * again once answered: the lookup function then finds it cached). */
int dkim_verify(const char *msg, size_t len, time_t now, dkim_lookup_fn fn, void *arg,
    struct dkim_sig_result *res, size_t max);

/* A tag=value list (RFC 6376 3.2). */
struct dkim_tag {
	const char *name, *val;
	size_t nlen, vlen;	/* value without surrounding whitespace */
};
/* Parse s into at most max tags. The count, or -1 (syntax, a duplicate
 * tag, too many). */
int dkim_tags_parse(const char *s, size_t n, struct dkim_tag *tags, size_t max);
/* The tag called name, or NULL. */
const struct dkim_tag *dkim_tag_find(const struct dkim_tag *tags, int n, const char *name);
#endif
