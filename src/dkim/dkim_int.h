/*
 * dkim_int — what the dkim files share: the message split into header
 * fields and body, canonicalisation, base64 and the signature hash input
 * (dkim_canon.c), the OpenSSL sign/verify step (dkim_key.c).
 */
#ifndef MW_DKIM_INT_H
#define MW_DKIM_INT_H
#include <stddef.h>

#include "common/buf.h"
#include "dkim/dkim.h"

#define DKIM_MAX_FIELDS 1024
#define DKIM_MAX_TAGS 32

/* One header field: raw text without its final line end. */
struct dkim_field {
	const char *p;
	size_t len;
	size_t nlen;		/* the name, without trailing whitespace */
};

/* A message split at its header/body boundary. */
struct dkim_msg {
	struct dkim_field f[DKIM_MAX_FIELDS];
	size_t nf;
	const char *body;
	size_t blen;
};

/* Split msg; -1 if too many fields. */
int dkim_msg_split(const char *msg, size_t len, struct dkim_msg *m);
/* Append the canonical form of one header field (relaxed or simple);
 * crlf: with the final CRLF. */
void dkim_canon_header(struct buf *out, const char *p, size_t len, int relaxed, int crlf);
/* SHA-256 of the canonical body (limit: l= or -1) into md[32]; 0 or -1. */
int dkim_body_hash(const char *body, size_t len, int relaxed, long limit, unsigned char *md);
/* The header hash input: the fields named in h (colon list, bottom-up
 * instances), then sigfield with its b= value emptied, no final CRLF. */
int dkim_header_input(const struct dkim_msg *m, const char *h, size_t hlen,
    const char *sigfield, size_t siglen, int relaxed, struct buf *out);
/* base64 of n bytes into out (no line breaks). */
void dkim_b64_encode(const unsigned char *p, size_t n, struct buf *out);
/* Decode base64 ignoring whitespace into out (cap bytes); length or -1. */
long dkim_b64_decode(const char *s, size_t n, unsigned char *out, size_t cap);
/* Sign or verify the header input with a key of alg (Ed25519: over its
 * SHA-256, RFC 8463). sign: sig gets the signature; 0 ok, -1 error;
 * verify: 1 good, 0 bad. */
int dkim_pk_sign(void *pkey, enum dkim_alg alg, const struct buf *in, struct buf *sig);
int dkim_pk_verify(void *pkey, enum dkim_alg alg, const struct buf *in,
    const unsigned char *sig, size_t siglen);
#endif
