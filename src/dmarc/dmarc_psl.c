/*
 * dmarc_psl — the Public Suffix List (publicsuffix.org, Debian's
 * publicsuffix package) and the organisational domain of RFC 7489 3.2:
 * the public suffix (longest matching rule; "*." wildcards; "!"
 * exceptions win) plus one label. Loaded once by the master (before the
 * chroot) into a sorted array searched with bsearch; inherited by the
 * engine across fork. Never "the last two labels".
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/util.h"
#include "dmarc/dmarc.h"

static char **rules;	/* "co.uk", "*.ck", "!www.ck", sorted */
static size_t nrules;

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void psl_free(char **r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(r[i]);
	free(r);
}

/* Punycode (RFC 3492) of code points cp[0..n) appended to out; -1 on
 * an overflow of its counters (never for a label of 64 code points). */
static int punycode(const uint32_t *cp, size_t n, struct buf *out)
{
	enum { BASE = 36, TMIN = 1, TMAX = 26, SKEW = 38, DAMP = 700 };
	uint32_t code = 128, bias = 72, delta = 0;
	size_t h = 0;
	for (size_t i = 0; i < n; i++)
		if (cp[i] < 0x80) {
			char c = (char)cp[i];
			buf_append(out, &c, 1);
			h++;
		}
	size_t b = h;
	if (b > 0)
		buf_append(out, "-", 1);
	while (h < n) {
		uint32_t m = UINT32_MAX;
		for (size_t i = 0; i < n; i++)
			if (cp[i] >= code && cp[i] < m)
				m = cp[i];
		if ((uint64_t)delta + (uint64_t)(m - code) * (h + 1) > UINT32_MAX / 2)
			return -1;
		delta += (m - code) * (uint32_t)(h + 1);
		code = m;
		for (size_t i = 0; i < n; i++) {
			if (cp[i] < code && ++delta > UINT32_MAX / 2)
				return -1;
			if (cp[i] != code)
				continue;
			uint32_t q = delta;
			for (uint32_t k = BASE;; k += BASE) {
				uint32_t t = k <= bias ? TMIN : k >= bias + TMAX ? TMAX : k - bias;
				if (q < t)
					break;
				uint32_t d = t + (q - t) % (BASE - t);
				char c = (char)(d < 26 ? 'a' + d : '0' + d - 26);
				buf_append(out, &c, 1);
				q = (q - t) / (BASE - t);
			}
			char c = (char)(q < 26 ? 'a' + q : '0' + q - 26);
			buf_append(out, &c, 1);
			/* bias adaptation (RFC 3492 6.1) */
			uint32_t dl = h == b ? delta / DAMP : delta / 2, k = 0;
			dl += dl / (uint32_t)(h + 1);
			for (; dl > ((BASE - TMIN) * TMAX) / 2; k += BASE)
				dl /= BASE - TMIN;
			bias = k + (BASE - TMIN + 1) * dl / (dl + SKEW);
			delta = 0;
			h++;
		}
		delta++;
		code++;
	}
	return 0;
}

/* One UTF-8 label (len bytes) as its A-label "xn--..." onto out; -1 on
 * bad UTF-8 or a label too long. */
static int a_label(const unsigned char *s, size_t len, struct buf *out)
{
	uint32_t cp[64];
	size_t n = 0;
	for (size_t i = 0; i < len;) {
		unsigned char c = s[i];
		int more = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 :
		    (c & 0xf8) == 0xf0 ? 3 : -1;
		if (more < 0 || len - i <= (size_t)more || n == 64)
			return -1;
		uint32_t v = more ? c & (0x3f >> more) : c;
		for (int k = 1; k <= more; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return -1;
			v = v << 6 | (s[i + k] & 0x3f);
		}
		cp[n++] = v;
		i += (size_t)more + 1;
	}
	buf_puts(out, "xn--");
	return punycode(cp, n, out);
}

/* A rule as DNS names are written: each label with 8-bit bytes (Debian's
 * list is UTF-8: "公司.cn") as its A-label ("xn--55qx5d.cn"). NULL when
 * a label is not UTF-8. */
static char *rule_ascii(const char *rule)
{
	struct buf b;
	buf_init(&b, 1024);
	int rc = 0;
	for (const char *p = rule; rc == 0;) {
		size_t len = strcspn(p, ".");
		int wide = 0;
		for (size_t i = 0; i < len; i++)
			wide |= (unsigned char)p[i] >= 0x80;
		rc = wide ? a_label((const unsigned char *)p, len, &b) : buf_append(&b, p, len);
		if (p[len] == '\0')
			break;
		if (rc == 0)
			rc = buf_append(&b, ".", 1);
		p += len + 1;
	}
	if (rc < 0 || b.data == NULL) {
		buf_free(&b);
		return NULL;
	}
	return b.data;	/* the buffer's memory, kept */
}

/* Read the list at path into a sorted array (*out, *nout). 0, or -1 and
 * err: missing, a read error (no partial list), or no rules at all. */
static int psl_read(const char *path, char ***out, size_t *nout, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, errlen, "dmarc_public_suffix_list %s: %s (Debian: apt install "
		    "publicsuffix)", path, strerror(errno));
		return -1;
	}
	char line[512];
	char **r = NULL;
	size_t n = 0, cap = 0;
	while (fgets(line, sizeof(line), f)) {
		char *p = str_trim(line);
		p[strcspn(p, " \t")] = '\0';	/* a rule ends at the first white space */
		if (*p == '\0' || (p[0] == '/' && p[1] == '/'))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 8192;
			r = xrealloc(r, cap * sizeof(*r));
		}
		char *rule = rule_ascii(p);
		if (rule != NULL)
			r[n++] = str_lower(rule);
	}
	int bad = ferror(f);
	fclose(f);
	if (bad || n == 0) {
		psl_free(r, n);
		snprintf(err, errlen, "dmarc_public_suffix_list %s: %s", path,
		    bad ? "read error" : "no rules");
		return -1;
	}
	qsort(r, n, sizeof(*r), cmp);
	*out = r;
	*nout = n;
	return 0;
}

int dmarc_psl_load(const char *path, char *err, size_t errlen)
{
	char **r;
	size_t n;
	if (psl_read(path, &r, &n, err, errlen) < 0)
		return -1;
	psl_free(rules, nrules);
	rules = r;
	nrules = n;
	return 0;
}

int dmarc_psl_check(const char *path, char *err, size_t errlen)
{
	char **r;
	size_t n;
	if (psl_read(path, &r, &n, err, errlen) < 0)
		return -1;
	psl_free(r, n);
	return 0;
}

size_t dmarc_psl_count(void)
{
	return nrules;
}

static int has(const char *prefix, const char *name)
{
	char key[300];
	if (snprintf(key, sizeof(key), "%s%s", prefix, name) >= (int)sizeof(key))
		return 0;
	const char *k = key;
	return nrules && bsearch(&k, rules, nrules, sizeof(*rules), cmp) != NULL;
}

/* The length of the public suffix at the end of name (a position in it). */
static const char *suffix_of(const char *name)
{
	for (const char *c = name; c; ) {	/* each label start, longest first */
		if (has("!", c)) {		/* exception: the suffix is c less a label */
			const char *d = strchr(c, '.');
			return d ? d + 1 : c;
		}
		const char *d = strchr(c, '.');
		if (has("", c) || (d && has("*.", d + 1)))
			return c;
		c = d ? d + 1 : NULL;
	}
	const char *d = strrchr(name, '.');	/* default rule "*": the last label */
	return d ? d + 1 : name;
}

int dmarc_org_domain(const char *name, char *out, size_t len)
{
	char n[256];
	if (nrules == 0 || name == NULL || *name == '\0' || str_copy(n, sizeof(n), name) < 0)
		return -1;
	str_lower(n);
	size_t l = strlen(n);
	if (l && n[l - 1] == '.')
		n[--l] = '\0';
	const char *s = suffix_of(n);
	if (s == n)
		return -1;	/* the name is a public suffix */
	const char *o = s - 1;	/* the dot before the suffix; back one label */
	while (o > n && o[-1] != '.')
		o--;
	return str_copy(out, len, o);
}
