/*
 * spf_parse — an SPF record's text into terms (RFC 7208 sections 4.6 and
 * 12): qualifiers, the eight mechanisms with their domain-spec and
 * dual-cidr, redirect= and exp= (once each), unknown modifiers checked
 * for syntax and ignored. Any syntax error makes the whole record a
 * permerror before a mechanism is evaluated. Outside input: fuzzed by
 * tests/fuzz/spf_fuzz.c.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "spf/spf_int.h"

struct mech_row {
	const char *name;
	enum spf_mech mech;
	int arg;		/* 0 none, 1 optional domain, 2 required domain, 3 address */
	int cidr;		/* dual-cidr allowed */
};

static const struct mech_row mechs[] = {
	{ "all",	SPF_M_ALL,	0, 0 },
	{ "include",	SPF_M_INCLUDE,	2, 0 },
	{ "a",		SPF_M_A,	1, 1 },
	{ "mx",		SPF_M_MX,	1, 1 },
	{ "ptr",	SPF_M_PTR,	1, 0 },
	{ "ip4",	SPF_M_IP4,	3, 0 },
	{ "ip6",	SPF_M_IP6,	3, 0 },
	{ "exists",	SPF_M_EXISTS,	2, 0 },
};

int spf_is_record(const char *txt)
{
	return strncasecmp(txt, "v=spf1", 6) == 0 && (txt[6] == '\0' || txt[6] == ' ');
}

/* A CIDR length: "0" or no leading zero, at most max. -1 if bad. */
static int cidr_len(const char *s, int max)
{
	int v = 0;

	if (*s == '\0' || (s[0] == '0' && s[1] != '\0'))
		return -1;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s) || (v = v * 10 + (*s - '0')) > max)
			return -1;
	}
	return v;
}

/* Split a trailing "/N" or "//N" or "/N//M" off arg (changed in place). */
static int split_cidr(char *arg, int *c4, int *c6, int *had)
{
	char *dd = strstr(arg, "//");
	*had = 0;
	if (dd != NULL) {
		if ((*c6 = cidr_len(dd + 2, 128)) < 0)
			return -1;
		*dd = '\0';
		*had = 1;
	}
	char *sl = strrchr(arg, '/');
	if (sl != NULL && sl[1] != '\0' && strspn(sl + 1, "0123456789") == strlen(sl + 1)) {
		if ((*c4 = cidr_len(sl + 1, 32)) < 0)
			return -1;
		*sl = '\0';
		*had = 1;
	}
	return 0;
}

/* A domain-spec: a valid macro-string ending in a top label or a macro. */
static int domain_spec_ok(const char *s)
{
	if (*s == '\0' || spf_macro_check(s, 0) < 0)
		return 0;
	size_t n = strlen(s);
	if (s[n - 1] == '}')
		return 1;
	if (s[n - 1] == '.')
		n--;
	size_t start = n;
	while (start > 0 && s[start - 1] != '.' && s[start - 1] != '}')
		start--;
	if (start == 0 || s[start - 1] != '.' || start == n)
		return 0;
	int alpha = 0;
	for (size_t k = start; k < n; k++) {
		unsigned char ch = (unsigned char)s[k];
		if (!isalnum(ch) && ch != '-')
			return 0;
		alpha |= isalpha(ch) != 0;
	}
	return alpha && s[start] != '-' && s[n - 1] != '-';
}

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); return -1; } while (0)

static int parse_modifier(struct spf_record *rec, char *t, char *eq, char *err, size_t errlen)
{
	*eq = '\0';
	const char *name = t, *value = eq + 1;
	if (!isalpha((unsigned char)name[0]))
		FAIL("Unknown mechanism found: %s=%s", name, value);
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-_.", *p))
			FAIL("Unknown mechanism found: %s=%s", name, value);
	const char **slot = strcasecmp(name, "redirect") == 0 ? &rec->redirect :
	    strcasecmp(name, "exp") == 0 ? &rec->exp : NULL;
	if (slot == NULL) {
		if (spf_macro_check(value, 0) < 0)
			FAIL("Invalid macro: %s=%s", name, value);
		return 0;
	}
	if (*slot != NULL)
		FAIL("Duplicate modifier found: %s", name);
	if (!domain_spec_ok(value))
		FAIL("Invalid domain found (use FQDN): %s", value);
	*slot = value;
	return 0;
}

static int parse_term(struct spf_record *rec, char *t, const char *whole, char *err,
    size_t errlen)
{
	char *eq = strchr(t, '='), *stop = t + strcspn(t, ":/");
	if (eq != NULL && eq < stop)
		return parse_modifier(rec, t, eq, err, errlen);
	if (rec->n == SPF_TERMS_MAX)
		FAIL("Too many terms");
	struct spf_term *m = &rec->terms[rec->n];
	const char *text = whole;	/* for the messages: t is cut up below */
	m->text = whole;
	m->qual = '+';
	if (strchr("+-~?", *t))
		m->qual = *t++;
	size_t nl = strcspn(t, ":/");
	const struct mech_row *row = NULL;
	for (size_t k = 0; k < sizeof(mechs) / sizeof(*mechs); k++)
		if (strlen(mechs[k].name) == nl && strncasecmp(t, mechs[k].name, nl) == 0)
			row = &mechs[k];
	if (row == NULL)
		FAIL("Unknown mechanism found: %s", text);
	m->mech = row->mech;
	m->cidr4 = 32;
	m->cidr6 = 128;
	m->spec = NULL;
	char *arg = t + nl;
	if (row->arg == 0) {
		if (*arg != '\0')
			FAIL("Invalid %s mechanism format: %s", row->name, text);
		rec->n++;
		return 0;
	}
	/* arg is now "", ":..." or "/..." */
	int had = 0;
	if (row->arg == 3) {
		if (*arg != ':')
			FAIL("Invalid IP%c address: %s", row->name[2], text);
		arg++;
		char *sl = strchr(arg, '/');
		if (sl != NULL) {
			int plen = cidr_len(sl + 1, row->mech == SPF_M_IP4 ? 32 : 128);
			if (plen < 0)
				FAIL("Invalid IP%c CIDR length: %s", row->name[2], text);
			*sl = '\0';
			if (row->mech == SPF_M_IP4)
				m->cidr4 = plen;
			else
				m->cidr6 = plen;
		}
		int fam = row->mech == SPF_M_IP4 ? AF_INET : AF_INET6;
		if (inet_pton(fam, arg, m->addr) != 1)
			FAIL("Invalid IP%c address: %s", row->name[2], text);
		rec->n++;
		return 0;
	}
	if (row->cidr && split_cidr(arg, &m->cidr4, &m->cidr6, &had) < 0)
		FAIL("Invalid CIDR length: %s", text);
	if (*arg == '/')
		FAIL("CIDR not allowed: %s", text);
	if (*arg == ':') {
		arg++;
		if (!domain_spec_ok(arg))
			FAIL("Invalid domain found (use FQDN): %s", arg);
		m->spec = arg;
	} else if (*arg != '\0')
		FAIL("Unknown mechanism found: %s", text);
	if (row->arg == 2 && m->spec == NULL)
		FAIL("%s mechanism missing domain: %s", row->name, text);
	rec->n++;
	return 0;
}

int spf_parse(const char *txt, struct spf_record *rec, char *err, size_t errlen)
{
	rec->n = 0;
	rec->redirect = rec->exp = NULL;
	if (!spf_is_record(txt))
		FAIL("Not an SPF record");
	if (snprintf(rec->buf, sizeof(rec->buf), "%s", txt + 6) >= (int)sizeof(rec->buf))
		FAIL("SPF record too long");
	for (char *p = rec->buf; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			FAIL("Invalid character in SPF record");
	char *save = NULL;
	for (char *t = strtok_r(rec->buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
		char *whole = rec->text + (t - rec->buf);
		memcpy(whole, t, strlen(t) + 1);
		if (parse_term(rec, t, whole, err, errlen) < 0)
			return -1;
	}
	return 0;
}
