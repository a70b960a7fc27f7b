/*
 * dkim_key — keys with OpenSSL: private keys from PEM (RSA, Ed25519) or
 * a base64 Ed25519 seed, the DNS record of a key (RSA: p= is the DER
 * SubjectPublicKeyInfo; Ed25519: p= is the raw 32-byte key, RFC 8463),
 * key generation and the key file (0600, never overwritten), and the
 * one sign/verify step (Ed25519 signs the SHA-256 of the input).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/util.h"
#include "dkim/dkim_int.h"

static void ossl_err(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_get_error();
	snprintf(err, errlen, "%s: %s", what, e ? ERR_reason_error_string(e) : "error");
	ERR_clear_error();
}

static struct dkim_key *key_make(EVP_PKEY *pk, const char *domain, const char *selector,
    char *err, size_t errlen)
{
	int id = EVP_PKEY_get_base_id(pk);
	if (id != EVP_PKEY_RSA && id != EVP_PKEY_ED25519) {
		snprintf(err, errlen, "key is neither RSA nor Ed25519");
		EVP_PKEY_free(pk);
		return NULL;
	}
	if (id == EVP_PKEY_RSA && EVP_PKEY_get_bits(pk) < 1024) {
		snprintf(err, errlen, "RSA key shorter than 1024 bits (RFC 8301)");
		EVP_PKEY_free(pk);
		return NULL;
	}
	struct dkim_key *k = xcalloc(1, sizeof(*k));
	k->pkey = pk;
	k->alg = id == EVP_PKEY_RSA ? DKIM_RSA_SHA256 : DKIM_ED25519_SHA256;
	k->domain = xstrdup(domain ? domain : "");
	k->selector = xstrdup(selector ? selector : "");
	return k;
}

struct dkim_key *dkim_key_from_pem(const char *pem, size_t len, const char *domain,
    const char *selector, char *err, size_t errlen)
{
	if (memmem(pem, len, "-----BEGIN", 10) == NULL) {	/* a base64 Ed25519 seed */
		unsigned char seed[64];
		if (dkim_b64_decode(pem, len, seed, sizeof(seed)) != 32) {
			snprintf(err, errlen, "neither PEM nor a base64 Ed25519 seed");
			return NULL;
		}
		EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
		if (pk == NULL) {
			ossl_err(err, errlen, "Ed25519 seed");
			return NULL;
		}
		return key_make(pk, domain, selector, err, errlen);
	}
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *pk = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	if (pk == NULL) {
		ossl_err(err, errlen, "PEM private key");
		return NULL;
	}
	return key_make(pk, domain, selector, err, errlen);
}

struct dkim_key *dkim_key_load(const char *path, const char *domain, const char *selector,
    char *err, size_t errlen)
{
	/* Checked on the file read, not by name before it (root reads it):
	 * a regular file (a FIFO would block the master), mode 600 or less. */
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "DKIM key %s: %m", path);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077)) {
		snprintf(err, errlen, "DKIM key %s: %s", path, S_ISREG(st.st_mode) ?
		    "readable by group or others (chmod 600)" : "not a regular file");
		close(fd);
		return NULL;
	}
	FILE *f = fdopen(fd, "r");
	if (f == NULL) {
		snprintf(err, errlen, "DKIM key %s: %m", path);
		close(fd);
		return NULL;
	}
	char data[16384];
	size_t n = fread(data, 1, sizeof(data), f);
	int bad = ferror(f) || !feof(f);
	fclose(f);
	if (bad) {
		snprintf(err, errlen, "%s: read error or larger than %zu bytes", path, sizeof(data));
		return NULL;
	}
	char e2[256];
	struct dkim_key *k = dkim_key_from_pem(data, n, domain, selector, e2, sizeof(e2));
	explicit_bzero(data, sizeof(data));
	if (k == NULL)
		snprintf(err, errlen, "%s: %s", path, e2);
	return k;
}

void dkim_key_free(struct dkim_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	free(k->domain);
	free(k->selector);
	free(k);
}

/* The public key bytes as they go into p=. */
static int pub_bytes(const struct dkim_key *k, unsigned char *out, size_t cap, size_t *n)
{
	if (k->alg == DKIM_ED25519_SHA256) {
		*n = cap;
		return EVP_PKEY_get_raw_public_key(k->pkey, out, n) == 1 ? 0 : -1;
	}
	int l = i2d_PUBKEY(k->pkey, NULL);
	if (l <= 0 || (size_t)l > cap)
		return -1;
	unsigned char *p = out;
	*n = (size_t)i2d_PUBKEY(k->pkey, &p);
	return 0;
}

int dkim_key_record(const struct dkim_key *k, struct buf *out)
{
	unsigned char pub[4096];
	size_t n;
	if (pub_bytes(k, pub, sizeof(pub), &n) < 0)
		return -1;
	buf_printf(out, "v=DKIM1; k=%s; p=", k->alg == DKIM_RSA_SHA256 ? "rsa" : "ed25519");
	dkim_b64_encode(pub, n, out);
	return 0;
}

int dkim_key_matches(const struct dkim_key *k, const char *record)
{
	struct dkim_tag t[DKIM_MAX_TAGS];
	int nt = dkim_tags_parse(record, strlen(record), t, DKIM_MAX_TAGS);
	if (nt < 0)
		return -1;
	const struct dkim_tag *p = dkim_tag_find(t, nt, "p");
	const struct dkim_tag *kt = dkim_tag_find(t, nt, "k");
	if (p == NULL)
		return -1;
	const char *want = k->alg == DKIM_RSA_SHA256 ? "rsa" : "ed25519";
	if (kt ? kt->vlen != strlen(want) || memcmp(kt->val, want, kt->vlen) != 0 :
	    k->alg != DKIM_RSA_SHA256)
		return 0;
	unsigned char pub[4096], rec[4096];
	size_t n;
	long rn = dkim_b64_decode(p->val, p->vlen, rec, sizeof(rec));
	if (pub_bytes(k, pub, sizeof(pub), &n) < 0 || rn < 0)
		return -1;
	return (size_t)rn == n && memcmp(pub, rec, n) == 0;
}

int dkim_pk_sign(void *pkey, enum dkim_alg alg, const struct buf *in, struct buf *sig)
{
	unsigned char md[32], out[1024];
	const unsigned char *data = (const unsigned char *)in->data;
	size_t dlen = in->len, olen = sizeof(out);
	if (alg == DKIM_ED25519_SHA256) {
		if (EVP_Digest(data, dlen, md, NULL, EVP_sha256(), NULL) != 1)
			return -1;
		data = md;
		dlen = sizeof(md);
	}
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int ok = c && EVP_DigestSignInit(c, NULL, alg == DKIM_RSA_SHA256 ? EVP_sha256() : NULL,
	    NULL, pkey) == 1 && EVP_DigestSign(c, out, &olen, data, dlen) == 1;
	EVP_MD_CTX_free(c);
	if (!ok) {
		ERR_clear_error();
		return -1;
	}
	buf_append(sig, out, olen);
	return 0;
}

int dkim_pk_verify(void *pkey, enum dkim_alg alg, const struct buf *in,
    const unsigned char *sig, size_t siglen)
{
	unsigned char md[32];
	const unsigned char *data = (const unsigned char *)in->data;
	size_t dlen = in->len;
	if (alg == DKIM_ED25519_SHA256) {
		if (EVP_Digest(data, dlen, md, NULL, EVP_sha256(), NULL) != 1)
			return 0;
		data = md;
		dlen = sizeof(md);
	}
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int ok = c && EVP_DigestVerifyInit(c, NULL, alg == DKIM_RSA_SHA256 ? EVP_sha256() : NULL,
	    NULL, pkey) == 1 && EVP_DigestVerify(c, sig, siglen, data, dlen) == 1;
	EVP_MD_CTX_free(c);
	ERR_clear_error();
	return ok;
}

struct dkim_key *dkim_key_generate(enum dkim_alg alg, const char *domain, const char *selector,
    char *err, size_t errlen)
{
	EVP_PKEY *pk = alg == DKIM_RSA_SHA256 ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048) :
	    EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (pk == NULL) {
		ossl_err(err, errlen, "key generation");
		return NULL;
	}
	return key_make(pk, domain, selector, err, errlen);
}

int dkim_key_write(const struct dkim_key *k, const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %m", path);
		return -1;
	}
	FILE *f = fdopen(fd, "w");
	if (f == NULL) {
		snprintf(err, errlen, "%s: %m", path);
		close(fd);
		unlink(path);
		return -1;
	}
	int ok = PEM_write_PrivateKey(f, k->pkey, NULL, NULL, 0, NULL, NULL) == 1;
	if (fclose(f) != 0)
		ok = 0;
	if (!ok) {
		ossl_err(err, errlen, path);
		unlink(path);
		return -1;
	}
	return 0;
}
