/*
 * dmarc_psl — the Public Suffix List (publicsuffix.org, Debian's
 * publicsuffix package) and the organisational domain of RFC 7489 3.2:
 * the public suffix (longest matching rule; "*." wildcards; "!"
 * exceptions win) plus one label. Loaded once by the master (before the
 * chroot) into a sorted array searched with bsearch; inherited by the
 * engine across fork. Never "the last two labels".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int dmarc_psl_load(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, errlen, "public suffix list %s: %s", path, strerror(errno));
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
		r[n++] = str_lower(xstrdup(p));
	}
	fclose(f);
	if (n == 0) {
		free(r);
		snprintf(err, errlen, "public suffix list %s: no rules", path);
		return -1;
	}
	qsort(r, n, sizeof(*r), cmp);
	psl_free(rules, nrules);
	rules = r;
	nrules = n;
	return 0;
}

int dmarc_psl_check(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, errlen, "dmarc_public_suffix_list %s: %s (Debian: apt install "
		    "publicsuffix)", path, strerror(errno));
		return -1;
	}
	fclose(f);
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
