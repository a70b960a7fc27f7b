/*
 * pwscheme — Dovecot password schemes of a passwd-file entry: one table
 * row per scheme; crypt(3) schemes are verified with libxcrypt's crypt_rn,
 * plain text with a constant-time compare. Also makes new hashes for
 * `mailwarden passwd` (sasl_hash) with a salt from getrandom(2).
 */
#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/util.h"
#include "sasl/sasl_int.h"

static const struct pwscheme schemes[] = {
	{ "SHA512-CRYPT", 1, "$6$",             "$6$", 0 },
	{ "SHA256-CRYPT", 1, "$5$",             "$5$", 0 },
	{ "BLF-CRYPT",    1, "$2y$|$2b$|$2a$",  "$2y$", 10 },
	{ "MD5-CRYPT",    1, "$1$",             NULL, 0 },
	{ "CRYPT",        1, "",                "$y$", 0 },	/* any crypt(3); new ones yescrypt */
	{ "PLAIN",        0, "",                "", 0 },
	{ "CLEAR",        0, "",                NULL, 0 },
	{ "CLEARTEXT",    0, "",                NULL, 0 },
};

const struct pwscheme *pwscheme_find(const char *name)
{
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (str_ieq(name, schemes[i].name))
			return &schemes[i];
	return NULL;
}

size_t pwscheme_work_size(void)
{
	return sizeof(struct crypt_data);
}

/* Does hash start with one of the '|'-separated prefixes? */
static int has_prefix(const char *hash, const char *prefixes)
{
	if (*prefixes == '\0')
		return 1;
	for (const char *p = prefixes; *p; ) {
		size_t n = strcspn(p, "|");
		if (strncmp(hash, p, n) == 0)
			return 1;
		p += n;
		if (*p == '|')
			p++;
	}
	return 0;
}

int pwscheme_parse(const char *field, const struct pwscheme **sc, const char **hash,
    char *err, size_t errlen)
{
	const char *h = field;
	const struct pwscheme *s = pwscheme_find("CRYPT");
	if (*field == '{') {
		const char *end = strchr(field, '}');
		char name[32];
		if (end == NULL || (size_t)(end - field - 1) >= sizeof(name)) {
			snprintf(err, errlen, "malformed {SCHEME} prefix");
			return -1;
		}
		memcpy(name, field + 1, (size_t)(end - field - 1));
		name[end - field - 1] = '\0';
		if ((s = pwscheme_find(name)) == NULL) {
			snprintf(err, errlen, "unknown password scheme {%s}", name);
			return -1;
		}
		h = end + 1;
	}
	if (*h == '\0') {
		snprintf(err, errlen, "empty password");
		return -1;
	}
	if (s->is_crypt) {
		if (!has_prefix(h, s->prefixes)) {
			snprintf(err, errlen, "{%s} hash does not start with %s", s->name, s->prefixes);
			return -1;
		}
		int c = crypt_checksalt(h);
		if (c == CRYPT_SALT_INVALID || c == CRYPT_SALT_METHOD_DISABLED) {
			snprintf(err, errlen, "{%s} hash not understood by crypt(3)", s->name);
			return -1;
		}
	}
	*sc = s;
	*hash = h;
	return 0;
}

/* Constant-time equality of two byte strings (time depends on lengths only). */
static int ct_equal(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen > blen ? alen : blen;
	unsigned char d = alen != blen;
	for (size_t i = 0; i < n; i++) {
		unsigned char x = i < alen ? (unsigned char)a[i] : 0;
		unsigned char y = i < blen ? (unsigned char)b[i] : 0;
		d |= x ^ y;
	}
	return d == 0;
}

int pwscheme_verify(const struct pwscheme *sc, const char *hash, const char *pass, void *work)
{
	if (!sc->is_crypt)
		return ct_equal(hash, strlen(hash), pass, strlen(pass));
	struct crypt_data *cd = work;
	memset(cd, 0, sizeof(*cd));
	const char *out = crypt_rn(pass, hash, cd, (int)sizeof(*cd));
	int ok = out != NULL && out[0] != '*' && ct_equal(out, strlen(out), hash, strlen(hash));
	explicit_bzero(cd, sizeof(*cd));
	return ok;
}

/* Check pass against a password field, synchronously. */
int sasl_verify_field(const char *field, const char *pass, char *err, size_t errlen)
{
	const struct pwscheme *sc;
	const char *hash;
	if (pwscheme_parse(field, &sc, &hash, err, errlen) < 0)
		return -1;
	void *work = xmalloc(pwscheme_work_size());
	int ok = pwscheme_verify(sc, hash, pass, work);
	free(work);
	return ok;
}

/* Hash pass with scheme into out as "{SCHEME}hash". */
int sasl_hash(const char *scheme, const char *pass, char *out, size_t outlen,
    char *err, size_t errlen)
{
	const struct pwscheme *sc = pwscheme_find(scheme);
	if (sc == NULL || sc->gensalt == NULL) {
		snprintf(err, errlen, "cannot make %s hashes (use SHA512-CRYPT, SHA256-CRYPT, "
		    "BLF-CRYPT, CRYPT or PLAIN)", scheme);
		return -1;
	}
	if (!sc->is_crypt) {
		if (snprintf(out, outlen, "{%s}%s", sc->name, pass) >= (int)outlen) {
			snprintf(err, errlen, "password too long");
			return -1;
		}
		return 0;
	}
	unsigned char rnd[16];
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		snprintf(err, errlen, "getrandom: %s", strerror(errno));
		return -1;
	}
	if (crypt_gensalt_rn(sc->gensalt, sc->rounds, (const char *)rnd, (int)sizeof(rnd),
	    setting, (int)sizeof(setting)) == NULL) {
		snprintf(err, errlen, "crypt_gensalt %s: %s", sc->gensalt, strerror(errno));
		return -1;
	}
	struct crypt_data *cd = xcalloc(1, sizeof(*cd));
	const char *h = crypt_rn(pass, setting, cd, (int)sizeof(*cd));
	int rc = 0;
	if (h == NULL || h[0] == '*') {
		snprintf(err, errlen, "crypt %s: %s", sc->name, strerror(errno));
		rc = -1;
	} else if (snprintf(out, outlen, "{%s}%s", sc->name, h) >= (int)outlen) {
		snprintf(err, errlen, "hash too long");
		rc = -1;
	}
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	explicit_bzero(rnd, sizeof(rnd));
	return rc;
}
