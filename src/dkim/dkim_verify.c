/*
 * dkim_verify — the verifier (RFC 6376 6, RFC 8463, RFC 8301): each
 * DKIM-Signature field's tags checked, its key record asked of the
 * caller's lookup (the engine's asynchronous DNS and cache), the body
 * hash and the header signature checked; one result per signature with
 * d= kept for DMARC's alignment. rsa-sha1 is refused (RFC 8301).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "dkim/dkim_int.h"

static const char *const result_names[] = {
	[DKIM_NONE] = "none", [DKIM_PASS] = "pass", [DKIM_FAIL] = "fail",
	[DKIM_NEUTRAL] = "neutral", [DKIM_POLICY] = "policy",
	[DKIM_TEMPERROR] = "temperror", [DKIM_PERMERROR] = "permerror",
};

const char *dkim_result_name(enum dkim_result r)
{
	return r <= DKIM_PERMERROR ? result_names[r] : "none";
}

static int tag_is(const struct dkim_tag *t, const char *v)
{
	return t && t->vlen == strlen(v) && strncasecmp(t->val, v, t->vlen) == 0;
}

/* A tag's value for the result, which Authentication-Results shows:
 * folding white space dropped (b= is often folded early), characters
 * that would end a quoted string or start a comment replaced by '?',
 * cut to cap. */
static void copy(char *dst, size_t cap, const struct dkim_tag *t)
{
	size_t n = 0;
	for (size_t i = 0; t && i < t->vlen && n + 1 < cap; i++) {
		char c = t->val[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		dst[n++] = strchr("\"\\()", c) ? '?' : c;
	}
	dst[n] = '\0';
}

/* Whether a d= or s= value is a whole domain name or selector that fits
 * the result (RFC 6376 3.5: sub-domains; 8-bit for RFC 8616's U-labels). */
static int name_ok(const struct dkim_tag *t, size_t cap)
{
	if (t->vlen == 0 || t->vlen >= cap)
		return 0;
	for (size_t i = 0; i < t->vlen; i++) {
		unsigned char c = (unsigned char)t->val[i];
		if (!isalnum(c) && c != '.' && c != '-' && c != '_' && c < 0x80)
			return 0;
	}
	return 1;
}

static enum dkim_result bad(struct dkim_sig_result *r, enum dkim_result v, const char *why)
{
	snprintf(r->why, sizeof(r->why), "%s", why);
	r->result = v;
	return v;
}

/* Decoded public keys by their p= text: OpenSSL 3's DER decoding costs
 * more than an RSA verification, and the same keys come again. */
#define KCACHE 64
static struct kcache {
	char *p;
	enum dkim_alg alg;
	EVP_PKEY *pk;
} kcache[KCACHE];
static unsigned kcache_next;

static EVP_PKEY *cache_get(const char *p, size_t n, enum dkim_alg alg)
{
	for (size_t i = 0; i < KCACHE; i++)
		if (kcache[i].p && kcache[i].alg == alg && strlen(kcache[i].p) == n &&
		    memcmp(kcache[i].p, p, n) == 0 && EVP_PKEY_up_ref(kcache[i].pk) == 1)
			return kcache[i].pk;
	return NULL;
}

static void cache_put(const char *p, size_t n, enum dkim_alg alg, EVP_PKEY *pk)
{
	struct kcache *c = &kcache[kcache_next++ % KCACHE];
	if (EVP_PKEY_up_ref(pk) != 1)
		return;
	free(c->p);
	EVP_PKEY_free(c->pk);
	c->p = strndup(p, n);
	c->alg = alg;
	c->pk = pk;
	if (c->p == NULL)
		abort();
}

/* The public key of a key record for alg; NULL with r set. */
static EVP_PKEY *record_key(const char *txt, enum dkim_alg alg, struct dkim_sig_result *r)
{
	struct dkim_tag t[DKIM_MAX_TAGS];
	int nt = dkim_tags_parse(txt, strlen(txt), t, DKIM_MAX_TAGS);
	if (nt < 0)
		return bad(r, DKIM_PERMERROR, "key record syntax"), NULL;
	const struct dkim_tag *v = dkim_tag_find(t, nt, "v"), *k = dkim_tag_find(t, nt, "k");
	const struct dkim_tag *p = dkim_tag_find(t, nt, "p"), *h = dkim_tag_find(t, nt, "h");
	const struct dkim_tag *fl = dkim_tag_find(t, nt, "t");
	if ((v && !tag_is(v, "DKIM1")) || p == NULL)
		return bad(r, DKIM_PERMERROR, "bad key record"), NULL;
	if (p->vlen == 0)
		return bad(r, DKIM_PERMERROR, "key revoked"), NULL;
	if ((alg == DKIM_RSA_SHA256 && k && !tag_is(k, "rsa")) ||
	    (alg == DKIM_ED25519_SHA256 && !tag_is(k, "ed25519")))
		return bad(r, DKIM_PERMERROR, "key type does not match a="), NULL;
	if (h && memmem(h->val, h->vlen, "sha256", 6) == NULL)
		return bad(r, DKIM_PERMERROR, "key record does not allow sha256"), NULL;
	r->testing = fl && memchr(fl->val, 'y', fl->vlen) != NULL;
	EVP_PKEY *pk = cache_get(p->val, p->vlen, alg);
	if (pk)
		return pk;
	unsigned char der[4096];
	long n = dkim_b64_decode(p->val, p->vlen, der, sizeof(der));
	if (n > 0 && alg == DKIM_ED25519_SHA256) {
		if (n == 32)
			pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, der, 32);
	} else if (n > 0) {
		const unsigned char *q = der;
		pk = d2i_PUBKEY(NULL, &q, n);
		if (pk == NULL) {	/* a bare RSAPublicKey, as some publish */
			q = der;
			pk = d2i_PublicKey(EVP_PKEY_RSA, NULL, &q, n);
		}
		if (pk && EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA) {
			EVP_PKEY_free(pk);
			pk = NULL;
		}
	}
	ERR_clear_error();
	if (pk == NULL)
		return bad(r, DKIM_PERMERROR, "key unusable"), NULL;
	if (alg == DKIM_RSA_SHA256 && EVP_PKEY_get_bits(pk) < 1024) {
		EVP_PKEY_free(pk);
		return bad(r, DKIM_PERMERROR, "RSA key too short"), NULL;
	}
	cache_put(p->val, p->vlen, alg, pk);
	return pk;
}

/* Whether i= is d= or a subdomain of it. */
static int identity_ok(const struct dkim_tag *i, const char *d)
{
	const char *at = i ? memchr(i->val, '@', i->vlen) : NULL;
	if (i == NULL)
		return 1;
	if (at == NULL)
		return 0;
	size_t n = i->vlen - (size_t)(at + 1 - i->val), dl = strlen(d);
	const char *dom = at + 1;
	if (n == dl)
		return strncasecmp(dom, d, dl) == 0;
	return n > dl && dom[n - dl - 1] == '.' && strncasecmp(dom + n - dl, d, dl) == 0;
}

/* One signature field f of message m. Returns 1 when its key lookup is
 * pending, else 0 (r filled). */
/* Body hashes of one message, by (canonicalisation, l=): signatures with
 * the same pair share one pass over the body. */
struct bh_memo {
	struct { int rel; long limit; unsigned char md[32]; } e[8];
	int n;
};

static int body_hash(const struct dkim_msg *m, struct bh_memo *bm, int rel, long limit,
    unsigned char *md)
{
	for (int i = 0; i < bm->n; i++)
		if (bm->e[i].rel == rel && bm->e[i].limit == limit) {
			memcpy(md, bm->e[i].md, 32);
			return 0;
		}
	if (dkim_body_hash(m->body, m->blen, rel, limit, md) < 0)
		return -1;
	if (bm->n < (int)(sizeof(bm->e) / sizeof(bm->e[0]))) {
		bm->e[bm->n].rel = rel;
		bm->e[bm->n].limit = limit;
		memcpy(bm->e[bm->n++].md, md, 32);
	}
	return 0;
}

/* A tag's value as a decimal number of at most 18 digits; -1 if not. */
static long long tag_num(const struct dkim_tag *t)
{
	if (t->vlen == 0 || t->vlen > 18)
		return -1;
	long long v = 0;
	for (size_t i = 0; i < t->vlen; i++) {
		if (t->val[i] < '0' || t->val[i] > '9')
			return -1;
		v = v * 10 + (t->val[i] - '0');
	}
	return v;
}

/* One signature. bm NULL: only its key lookup (1 while pending). */
static int verify_one(const struct dkim_msg *m, const struct dkim_field *f, time_t now,
    dkim_lookup_fn fn, void *arg, struct dkim_sig_result *r, struct bh_memo *bm)
{
	struct dkim_tag t[DKIM_MAX_TAGS];
	const char *val = f->p + f->nlen + 1;
	size_t vlen = f->len - f->nlen - 1;
	memset(r, 0, sizeof(*r));
	int nt = dkim_tags_parse(val, vlen, t, DKIM_MAX_TAGS);
	if (nt < 0)
		return bad(r, DKIM_PERMERROR, "signature syntax"), 0;
	const struct dkim_tag *v = dkim_tag_find(t, nt, "v"), *a = dkim_tag_find(t, nt, "a");
	const struct dkim_tag *b = dkim_tag_find(t, nt, "b"), *bh = dkim_tag_find(t, nt, "bh");
	const struct dkim_tag *d = dkim_tag_find(t, nt, "d"), *h = dkim_tag_find(t, nt, "h");
	const struct dkim_tag *s = dkim_tag_find(t, nt, "s"), *c = dkim_tag_find(t, nt, "c");
	const struct dkim_tag *l = dkim_tag_find(t, nt, "l"), *x = dkim_tag_find(t, nt, "x");
	copy(r->domain, sizeof(r->domain), d);
	copy(r->selector, sizeof(r->selector), s);
	copy(r->alg, sizeof(r->alg), a);
	copy(r->b8, 9, b);
	if (!tag_is(v, "1") || !a || !b || !bh || !d || !h || !s ||
	    !name_ok(d, sizeof(r->domain)) || !name_ok(s, sizeof(r->selector)))
		return bad(r, DKIM_PERMERROR, "missing or bad required tag"), 0;
	enum dkim_alg alg;
	if (tag_is(a, "rsa-sha256"))
		alg = DKIM_RSA_SHA256;
	else if (tag_is(a, "ed25519-sha256"))
		alg = DKIM_ED25519_SHA256;
	else
		return bad(r, DKIM_PERMERROR, "unsupported algorithm"), 0;
	int hrel = 0, brel = 0;
	if (c) {
		const char *sl = memchr(c->val, '/', c->vlen);
		size_t hl = sl ? (size_t)(sl - c->val) : c->vlen;
		hrel = hl == 7 && strncasecmp(c->val, "relaxed", 7) == 0;
		if (!hrel && !(hl == 6 && strncasecmp(c->val, "simple", 6) == 0))
			return bad(r, DKIM_PERMERROR, "bad c="), 0;
		if (sl) {
			size_t bl = c->vlen - hl - 1;
			brel = bl == 7 && strncasecmp(sl + 1, "relaxed", 7) == 0;
			if (!brel && !(bl == 6 && strncasecmp(sl + 1, "simple", 6) == 0))
				return bad(r, DKIM_PERMERROR, "bad c="), 0;
		}
	}
	char hbuf[2048];	/* is "from" one of h='s names? */
	snprintf(hbuf, sizeof(hbuf), ":%.*s:", (int)(h->vlen < 2000 ? h->vlen : 2000), h->val);
	int has_from = 0;
	for (char *q = hbuf; (q = strcasestr(q, "from")) != NULL; q += 4) {
		const char *pre = q - 1, *post = q + 4;
		while (*pre == ' ' || *pre == '\t' || *pre == '\r' || *pre == '\n')
			pre--;
		while (*post == ' ' || *post == '\t' || *post == '\r' || *post == '\n')
			post++;
		if (*pre == ':' && *post == ':')
			has_from = 1;
	}
	if (!has_from)
		return bad(r, DKIM_PERMERROR, "From not signed"), 0;
	if (!identity_ok(dkim_tag_find(t, nt, "i"), r->domain))
		return bad(r, DKIM_PERMERROR, "i= not within d="), 0;
	if ((l && tag_num(l) < 0) || (x && tag_num(x) < 0))
		return bad(r, DKIM_PERMERROR, "bad l= or x="), 0;
	if (x && tag_num(x) < (long long)now)
		return bad(r, DKIM_FAIL, "signature expired"), 0;
	char name[400], txt[8192];
	if (snprintf(name, sizeof(name), "%s._domainkey.%s", r->selector, r->domain) >=
	    (int)sizeof(name))
		return bad(r, DKIM_PERMERROR, "name too long"), 0;
	switch (fn(arg, name, txt, sizeof(txt))) {
	case DKIM_LK_PENDING: return 1;
	case DKIM_LK_NONE: return bad(r, DKIM_PERMERROR, "no key"), 0;
	case DKIM_LK_TEMP: return bad(r, DKIM_TEMPERROR, "key lookup failed"), 0;
	case DKIM_LK_FOUND: break;
	}
	if (bm == NULL)
		return 0;
	EVP_PKEY *pk = record_key(txt, alg, r);
	if (pk == NULL)
		return 0;
	unsigned char md[32], want[64], sig[1024];
	long limit = l ? (long)tag_num(l) : -1;
	long bn = dkim_b64_decode(bh->val, bh->vlen, want, sizeof(want));
	long sn = dkim_b64_decode(b->val, b->vlen, sig, sizeof(sig));
	if (bn != 32 || sn <= 0 || body_hash(m, bm, brel, limit, md) < 0 ||
	    memcmp(md, want, 32) != 0) {
		EVP_PKEY_free(pk);
		return bad(r, bn == 32 && sn > 0 ? DKIM_FAIL : DKIM_PERMERROR,
		    bn == 32 && sn > 0 ? "body hash did not verify" : "bad bh= or b="), 0;
	}
	struct buf in;
	buf_init(&in, (size_t)-1 / 2);
	int ok = dkim_header_input(m, h->val, h->vlen, f->p, f->len, hrel, &in) == 0 &&
	    dkim_pk_verify(pk, alg, &in, sig, (size_t)sn);
	buf_free(&in);
	EVP_PKEY_free(pk);
	if (!ok)
		return bad(r, DKIM_FAIL, "signature did not verify"), 0;
	r->result = DKIM_PASS;
	return 0;
}

int dkim_verify(const char *msg, size_t len, time_t now, dkim_lookup_fn fn, void *arg,
    struct dkim_sig_result *res, size_t max)
{
	struct dkim_msg *m = malloc(sizeof(*m));
	if (m == NULL)
		abort();
	if (dkim_msg_split(msg, len, m) < 0) {
		free(m);
		return 0;
	}
	/* Every key lookup first: no body is hashed while one is pending, so
	 * a signature is hashed once, not again at each answer's wake-up. */
	size_t n = 0;
	int pending = 0;
	for (size_t i = 0; i < m->nf && n < max; i++) {
		if (m->f[i].nlen != 14 || strncasecmp(m->f[i].p, "DKIM-Signature", 14) != 0)
			continue;
		pending |= verify_one(m, &m->f[i], now, fn, arg, &res[n], NULL);
		n++;
	}
	if (!pending) {
		struct bh_memo bm = { .n = 0 };
		n = 0;
		for (size_t i = 0; i < m->nf && n < max; i++) {
			if (m->f[i].nlen != 14 || strncasecmp(m->f[i].p, "DKIM-Signature", 14) != 0)
				continue;
			pending |= verify_one(m, &m->f[i], now, fn, arg, &res[n], &bm);
			n++;
		}
	}
	free(m);
	return pending ? -1 : (int)n;
}
