/*
 * dkim_test — DKIM against the RFCs' own examples: RFC 6376 3.4.5's
 * canonicalisation example, RFC 8463 Appendix A (the Ed25519 signature
 * verifies, and the signer reproduces it from the RFC 8032 key, since
 * Ed25519 is deterministic), the simple/simple Ed25519 and RSA variant
 * (python-dkim's rfc6376.signed.msg); sign-then-verify for RSA-2048 and
 * Ed25519; a message changed after signing fails; the tag parser.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "common/buf.h"
#include "dkim/dkim.h"
#include "dkim/dkim_int.h"

#define RFC8463_SEED "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A="
#define RFC8463_PUB "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
#define RFC_RSA_PUB "v=DKIM1; g=*; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB"

/* The lookup: a table of name -> record; "temp." names fail. */
static const char *const *records;
static int lookups;

static enum dkim_lookup lookup(void *arg, const char *name, char *txt, size_t txtlen)
{
	lookups++;
	for (size_t i = 0; records && records[i]; i += 2)
		if (strcmp(records[i], name) == 0) {
			snprintf(txt, txtlen, "%s", records[i + 1]);
			return DKIM_LK_FOUND;
		}
	return strncmp(name, "temp.", 5) == 0 ? DKIM_LK_TEMP : DKIM_LK_NONE;
}

static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char *p = calloc(1, 65536);
	*n = fread(p, 1, 65535, f);
	fclose(f);
	return p;
}

static void test_canon_rfc6376_345(void **state)
{
	const char *msg = "A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n C \r\nD \t E\r\n\r\n\r\n";
	struct dkim_msg *m = malloc(sizeof(*m));
	assert_int_equal(dkim_msg_split(msg, strlen(msg), m), 0);
	assert_int_equal(m->nf, 2);
	struct buf b;
	buf_init(&b, 4096);
	dkim_canon_header(&b, m->f[0].p, m->f[0].len, 1, 1);
	dkim_canon_header(&b, m->f[1].p, m->f[1].len, 1, 1);
	assert_int_equal(b.len, strlen("a:X\r\nb:Y Z\r\n"));
	assert_memory_equal(b.data, "a:X\r\nb:Y Z\r\n", b.len);
	buf_reset(&b);
	dkim_canon_header(&b, m->f[1].p, m->f[1].len, 0, 1);
	assert_memory_equal(b.data, "B : Y\t\r\n\tZ  \r\n", b.len);
	/* bodies: compare hashes with the RFC's canonical forms */
	unsigned char got[32], want[32];
	const char *rel = " C\r\nD E\r\n", *sim = " C \r\nD \t E\r\n";
	assert_int_equal(dkim_body_hash(m->body, m->blen, 1, -1, got), 0);
	EVP_Digest(rel, strlen(rel), want, NULL, EVP_sha256(), NULL);
	assert_memory_equal(got, want, 32);
	assert_int_equal(dkim_body_hash(m->body, m->blen, 0, -1, got), 0);
	EVP_Digest(sim, strlen(sim), want, NULL, EVP_sha256(), NULL);
	assert_memory_equal(got, want, 32);
	/* the same with LF line ends (queue files) */
	const char *lf = "A: X\nB : Y\t\n\tZ  \n\n C \nD \t E\n\n\n";
	assert_int_equal(dkim_msg_split(lf, strlen(lf), m), 0);
	assert_int_equal(dkim_body_hash(m->body, m->blen, 0, -1, got), 0);
	assert_memory_equal(got, want, 32);
	/* empty bodies: relaxed hashes nothing, simple one CRLF */
	assert_int_equal(dkim_body_hash("", 0, 1, -1, got), 0);
	EVP_Digest("", 0, want, NULL, EVP_sha256(), NULL);
	assert_memory_equal(got, want, 32);
	assert_int_equal(dkim_body_hash("\n\n", 2, 0, -1, got), 0);
	EVP_Digest("\r\n", 2, want, NULL, EVP_sha256(), NULL);
	assert_memory_equal(got, want, 32);
	buf_free(&b);
	free(m);
}

static void test_rfc8463_verify(void **state)
{
	static const char *const recs[] = { "brisbane._domainkey.football.example.com",
	    RFC8463_PUB, NULL };
	struct dkim_sig_result r[4];
	size_t n;
	char *msg = slurp("data/dkim_rfc8463.msg", &n);
	records = recs;
	assert_int_equal(dkim_verify(msg, n, 1528637909, lookup, NULL, r, 4), 1);
	assert_string_equal(dkim_result_name(r[0].result), "pass");
	assert_string_equal(r[0].domain, "football.example.com");
	assert_string_equal(r[0].b8, "/gCrinpc");
	/* the body changed after signing */
	char *we = strstr(msg, "We lost");
	we[0] = 'w';
	assert_int_equal(dkim_verify(msg, n, 1528637909, lookup, NULL, r, 4), 1);
	assert_int_equal(r[0].result, DKIM_FAIL);
	assert_string_equal(r[0].why, "body hash did not verify");
	we[0] = 'W';
	/* a signed header changed */
	char *sub = strstr(msg, "dinner");
	sub[0] = 'D';
	assert_int_equal(dkim_verify(msg, n, 1528637909, lookup, NULL, r, 4), 1);
	assert_int_equal(r[0].result, DKIM_FAIL);
	assert_string_equal(r[0].why, "signature did not verify");
	sub[0] = 'd';
	/* no key published */
	records = NULL;
	assert_int_equal(dkim_verify(msg, n, 1528637909, lookup, NULL, r, 4), 1);
	assert_int_equal(r[0].result, DKIM_PERMERROR);
	free(msg);
}

static void test_rfc8463_sign_reproduces(void **state)
{
	char err[256];
	size_t n;
	char *msg = slurp("data/dkim_rfc8463.msg", &n);
	struct dkim_key *k = dkim_key_from_pem(RFC8463_SEED, strlen(RFC8463_SEED),
	    "football.example.com", "brisbane", err, sizeof(err));
	assert_non_null(k);
	struct buf rec;
	buf_init(&rec, 4096);
	assert_int_equal(dkim_key_record(k, &rec), 0);
	assert_string_equal(rec.data, RFC8463_PUB);
	assert_int_equal(dkim_key_matches(k, RFC8463_PUB), 1);
	assert_int_equal(dkim_key_matches(k, RFC_RSA_PUB), 0);
	/* the field as the RFC wrote it, up to "b=" */
	char *b = strstr(msg, " b=");
	const char *field = msg;
	size_t flen = (size_t)(b + 3 - msg);
	char *body = strstr(msg, "From: Joe");
	struct buf sig;
	buf_init(&sig, 4096);
	assert_int_equal(dkim_sign_field(k, field, flen, body, n - (size_t)(body - msg), &sig,
	    err, sizeof(err)), 0);
	assert_string_equal(sig.data,
	    "/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11BusFa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==");
	buf_free(&sig);
	buf_free(&rec);
	dkim_key_free(k);
	free(msg);
}

static void test_simple_simple_rsa_and_ed25519(void **state)
{
	static const char *const recs[] = { "brisbane._domainkey.football.example.com",
	    RFC8463_PUB, "test._domainkey.football.example.com", RFC_RSA_PUB, NULL };
	struct dkim_sig_result r[4];
	size_t n;
	char *msg = slurp("data/dkim_rfc6376_simple.msg", &n);
	records = recs;
	assert_int_equal(dkim_verify(msg, n, 1528637909, lookup, NULL, r, 4), 2);
	assert_int_equal(r[0].result, DKIM_PASS);
	assert_string_equal(r[0].alg, "ed25519-sha256");
	assert_int_equal(r[1].result, DKIM_PASS);
	assert_string_equal(r[1].alg, "rsa-sha256");
	/* simple body: a space added at a line end breaks it */
	char *hi = strstr(msg, "Hi.");
	size_t off = (size_t)(hi - msg) + 3;
	char *m2 = calloc(1, n + 2);
	memcpy(m2, msg, off);
	m2[off] = ' ';
	memcpy(m2 + off + 1, msg + off, n - off);
	assert_int_equal(dkim_verify(m2, n + 1, 1528637909, lookup, NULL, r, 4), 2);
	assert_int_equal(r[0].result, DKIM_FAIL);
	assert_int_equal(r[1].result, DKIM_FAIL);
	free(m2);
	free(msg);
}

/* Sign with a fresh key of type, verify, then break it. */
static void roundtrip(const char *type)
{
	EVP_PKEY *pk = strcmp(type, "RSA") == 0 ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048) :
	    EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	assert_non_null(pk);
	BIO *bio = BIO_new(BIO_s_mem());
	PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL);
	char *pem;
	long plen = BIO_get_mem_data(bio, &pem);
	char err[256];
	struct dkim_key *k = dkim_key_from_pem(pem, (size_t)plen, "example.com", "sel", err,
	    sizeof(err));
	assert_non_null(k);
	BIO_free(bio);
	EVP_PKEY_free(pk);
	struct buf rec, out;
	buf_init(&rec, 4096);
	buf_init(&out, 1 << 20);
	assert_int_equal(dkim_key_record(k, &rec), 0);
	const char *body = "From: Alice <alice@example.com>\nTo: bob@example.net\n"
	    "Subject: test   of\n folding\nDate: Mon, 7 Dec 2026 12:00:00 +0000\n\n"
	    "Hello  Bob \n\n.dot\n\n\n";
	assert_int_equal(dkim_sign(k, body, strlen(body), 1800000000, &out, err, sizeof(err)), 0);
	assert_non_null(strstr(out.data, "h=from:from:subject:date:to;"));
	buf_puts(&out, body);
	const char *recs[] = { "sel._domainkey.example.com", rec.data, NULL };
	records = recs;
	struct dkim_sig_result r[2];
	assert_int_equal(dkim_verify(out.data, out.len, 1800000000, lookup, NULL, r, 2), 1);
	assert_string_equal(dkim_result_name(r[0].result), "pass");
	/* a second From added after signing (oversigned) fails */
	struct buf two;
	buf_init(&two, 1 << 20);
	buf_puts(&two, out.data);
	char *to = strstr(two.data, "To: bob");
	size_t at = (size_t)(to - two.data);
	struct buf three;
	buf_init(&three, 1 << 20);
	buf_append(&three, two.data, at);
	buf_puts(&three, "From: mallory@example.org\n");
	buf_puts(&three, two.data + at);
	assert_int_equal(dkim_verify(three.data, three.len, 1800000000, lookup, NULL, r, 2), 1);
	assert_int_equal(r[0].result, DKIM_FAIL);
	/* relaxed: whitespace changes in the body still pass */
	buf_reset(&three);
	buf_puts(&three, out.data);
	char *hb = strstr(three.data, "Hello  Bob");
	hb[5] = '\t';
	assert_int_equal(dkim_verify(three.data, three.len, 1800000000, lookup, NULL, r, 2), 1);
	assert_int_equal(r[0].result, DKIM_PASS);
	buf_free(&two);
	buf_free(&three);
	buf_free(&rec);
	buf_free(&out);
	dkim_key_free(k);
}

static void test_roundtrip_rsa(void **state)
{
	roundtrip("RSA");
}

static void test_roundtrip_ed25519(void **state)
{
	roundtrip("ED25519");
}

static void test_verify_errors(void **state)
{
	struct dkim_sig_result r[2];
	const char *nosig = "From: a@b\n\nbody\n";
	records = NULL;
	assert_int_equal(dkim_verify(nosig, strlen(nosig), 0, lookup, NULL, r, 2), 0);
	const char *sha1 = "DKIM-Signature: v=1; a=rsa-sha1; d=x.org; s=s; h=from; bh=AA==; b=AA==\n"
	    "From: a@x.org\n\nbody\n";
	assert_int_equal(dkim_verify(sha1, strlen(sha1), 0, lookup, NULL, r, 2), 1);
	assert_int_equal(r[0].result, DKIM_PERMERROR);
	assert_string_equal(r[0].why, "unsupported algorithm");
	const char *nofrom = "DKIM-Signature: v=1; a=rsa-sha256; d=x.org; s=s; h=to:fromage; bh=AA==; b=AA==\n"
	    "From: a@x.org\n\nbody\n";
	assert_int_equal(dkim_verify(nofrom, strlen(nofrom), 0, lookup, NULL, r, 2), 1);
	assert_string_equal(r[0].why, "From not signed");
	const char *temp = "DKIM-Signature: v=1; a=rsa-sha256; d=x.org; s=temp; h=from; bh=AA==; b=AA==\n"
	    "From: a@x.org\n\nbody\n";
	assert_int_equal(dkim_verify(temp, strlen(temp), 0, lookup, NULL, r, 2), 1);
	assert_int_equal(r[0].result, DKIM_TEMPERROR);
	const char *badi = "DKIM-Signature: v=1; a=rsa-sha256; d=x.org; i=@y.org; s=s; h=from; bh=AA==; b=AA==\n"
	    "From: a@x.org\n\nbody\n";
	assert_int_equal(dkim_verify(badi, strlen(badi), 0, lookup, NULL, r, 2), 1);
	assert_string_equal(r[0].why, "i= not within d=");
	const char *badl = "DKIM-Signature: v=1; a=rsa-sha256; d=x.org; s=s; l=abc; h=from; bh=AA==; b=AA==\n"
	    "From: a@x.org\n\nbody\n";	/* was read as l=0: the empty body */
	assert_int_equal(dkim_verify(badl, strlen(badl), 0, lookup, NULL, r, 2), 1);
	assert_string_equal(r[0].why, "bad l= or x=");
}

/* The body hash within l=: l=0 is the empty body's hash, a limit past the
 * body is the whole body's; the canonical body stops at the limit. */
static void test_body_hash_limit(void **state)
{
	unsigned char all[32], zero[32], big[32], empty[32], part[32], pre[32];
	const char *body = "line one\r\nline two\r\n";
	assert_int_equal(dkim_body_hash(body, strlen(body), 0, -1, all), 0);
	assert_int_equal(dkim_body_hash(body, strlen(body), 0, 1000, big), 0);
	assert_memory_equal(all, big, 32);
	assert_int_equal(dkim_body_hash(body, strlen(body), 0, 0, zero), 0);
	assert_int_equal(dkim_body_hash("", 0, 1, -1, empty), 0);	/* relaxed "": no bytes */
	assert_memory_equal(zero, empty, 32);
	assert_int_equal(dkim_body_hash(body, strlen(body), 0, 10, part), 0);
	assert_int_equal(dkim_body_hash("line one\r\n", 10, 0, -1, pre), 0);
	assert_memory_equal(part, pre, 32);
}

/* What a signature puts into Authentication-Results holds no line
 * break or quote: b= folded early still gives 8 characters, a d= or
 * s= that is no domain name (here folded text posing as a result) is
 * a permerror, a= and b= are cleaned. */
static void test_result_fields_clean(void **state)
{
	static const char *const recs[] = { "brisbane._domainkey.football.example.com",
	    RFC8463_PUB, NULL };
	struct dkim_sig_result r[2];
	size_t n;
	char *msg = slurp("data/dkim_rfc8463.msg", &n);
	char *b = strstr(msg, "b=/gCri");
	assert_non_null(b);
	char *folded = calloc(1, n + 3);
	size_t at = (size_t)(b - msg) + 7;
	memcpy(folded, msg, at);
	memcpy(folded + at, "\n ", 2);
	memcpy(folded + at + 2, msg + at, n - at);
	records = recs;
	assert_int_equal(dkim_verify(folded, n + 2, 1528637909, lookup, NULL, r, 2), 1);
	assert_int_equal(r[0].result, DKIM_PASS);
	assert_string_equal(r[0].b8, "/gCrinpc");
	free(folded);
	free(msg);
	const char *inj = "DKIM-Signature: v=1; a=rsa-sha256\n (x; d=x.org\n\tdkim=pass;"
	    " s=s; h=from; bh=AA==; b=\"AA==\n\n"
	    "From: a@x.org\n\nbody\n";
	records = NULL;
	assert_int_equal(dkim_verify(inj, strlen(inj), 0, lookup, NULL, r, 2), 1);
	assert_int_equal(r[0].result, DKIM_PERMERROR);
	assert_string_equal(r[0].domain, "x.orgdkim=pass");
	assert_string_equal(r[0].alg, "rsa-sha256?x");
	assert_string_equal(r[0].b8, "?AA==");
	const char *longsel = "DKIM-Signature: v=1; a=rsa-sha256; d=x.org; s="
	    "s123456789s123456789s123456789s123456789s123456789s123456789s1234;"
	    " h=from; bh=AA==; b=AA==\nFrom: a@x.org\n\nbody\n";
	lookups = 0;
	assert_int_equal(dkim_verify(longsel, strlen(longsel), 0, lookup, NULL, r, 2), 1);
	assert_int_equal(r[0].result, DKIM_PERMERROR);
	assert_int_equal(lookups, 0);	/* not looked up under a cut name */
}

static void test_tags(void **state)
{
	struct dkim_tag t[8];
	const char *s = " v = 1 ;a=rsa-sha256;\r\n\tb= ab\r\n cd ; ";
	int n = dkim_tags_parse(s, strlen(s), t, 8);
	assert_int_equal(n, 3);
	const struct dkim_tag *b = dkim_tag_find(t, n, "b");
	assert_non_null(b);
	assert_int_equal(b->vlen, strlen("ab\r\n cd"));
	assert_memory_equal(t[0].val, "1", 1);
	assert_null(dkim_tag_find(t, n, "bh"));
	assert_int_equal(dkim_tags_parse("a=1; a=2", 8, t, 8), -1);	/* duplicate */
	assert_int_equal(dkim_tags_parse("=1", 2, t, 8), -1);
	assert_int_equal(dkim_tags_parse("1a=1", 4, t, 8), -1);
	assert_int_equal(dkim_tags_parse("a", 1, t, 8), -1);
	assert_int_equal(dkim_tags_parse("a=;b=", 5, t, 8), 2);
	assert_int_equal(dkim_tags_parse("a=1;b=2;c=3", 11, t, 2), -1);	/* too many */
	assert_int_equal(dkim_tags_parse("", 0, t, 8), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canon_rfc6376_345),
		cmocka_unit_test(test_rfc8463_verify),
		cmocka_unit_test(test_rfc8463_sign_reproduces),
		cmocka_unit_test(test_simple_simple_rsa_and_ed25519),
		cmocka_unit_test(test_roundtrip_rsa),
		cmocka_unit_test(test_roundtrip_ed25519),
		cmocka_unit_test(test_verify_errors),
		cmocka_unit_test(test_body_hash_limit),
		cmocka_unit_test(test_result_fields_clean),
		cmocka_unit_test(test_tags),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
