/*
 * dmarc — RFC 7489 without DNS: the record parser (6.3, 6.6.3), the
 * choice among a name's TXT answers, identifier alignment (3.1), the
 * evaluation with p=/sp=/pct= (6.6.2, 6.6.4) and the From domain of a
 * message (6.6.1). Used by the engine's end-of-DATA hook
 * (src/smtp/dkimverify.c) and tests/unit/dmarc_test.c.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"
#include "dmarc/dmarc.h"

static const char *const res_names[] = {
	[DMARC_NONE] = "none", [DMARC_PASS] = "pass", [DMARC_FAIL] = "fail",
	[DMARC_TEMPERROR] = "temperror", [DMARC_PERMERROR] = "permerror",
};
static const char *const pol_names[] = {
	[DMARC_P_NONE] = "none", [DMARC_P_QUARANTINE] = "quarantine", [DMARC_P_REJECT] = "reject",
};

const char *dmarc_result_name(enum dmarc_res r)
{
	return res_names[r];
}

const char *dmarc_policy_name(enum dmarc_policy p)
{
	return pol_names[p];
}

static int policy_of(const char *v, enum dmarc_policy *p)
{
	for (size_t i = 0; i < sizeof(pol_names) / sizeof(pol_names[0]); i++)
		if (strcasecmp(v, pol_names[i]) == 0) {
			*p = (enum dmarc_policy)i;
			return 0;
		}
	return -1;
}

/* One tag=value: what the parser does with it. */
struct tagctx {
	struct dmarc_record *rec;
	int p_ok, p_seen, rua;
};

static void tag_p(struct tagctx *t, const char *v)
{
	t->p_seen = 1;
	t->p_ok = policy_of(v, &t->rec->p) == 0;
}

static void tag_sp(struct tagctx *t, const char *v)
{
	t->rec->has_sp = policy_of(v, &t->rec->sp) == 0;
}

static void tag_adkim(struct tagctx *t, const char *v)
{
	t->rec->adkim_strict = strcasecmp(v, "s") == 0;
}

static void tag_aspf(struct tagctx *t, const char *v)
{
	t->rec->aspf_strict = strcasecmp(v, "s") == 0;
}

static void tag_pct(struct tagctx *t, const char *v)
{
	char *e;
	long n = strtol(v, &e, 10);
	if (*v && *e == '\0' && n >= 0 && n <= 100)
		t->rec->pct = (int)n;
}

static void tag_rua(struct tagctx *t, const char *v)
{
	t->rua = *v != '\0';
}

static const struct {
	const char *name;
	void (*fn)(struct tagctx *, const char *);
} tags[] = {
	{ "p", tag_p }, { "sp", tag_sp }, { "adkim", tag_adkim }, { "aspf", tag_aspf },
	{ "pct", tag_pct }, { "rua", tag_rua },
};

/* The tags of buf (cut up) into t; 0 when "v=DMARC1" is not first. */
static int parse_tags(char *buf, struct tagctx *t)
{
	int first = 1;
	for (char *save = NULL, *f = strtok_r(buf, ";", &save); f; f = strtok_r(NULL, ";", &save)) {
		char *eq = strchr(f, '=');
		if (eq == NULL) {
			if (first)
				return 0;
			continue;
		}
		*eq = '\0';
		char *k = str_trim(f), *v = str_trim(eq + 1);
		if (first) {	/* v=DMARC1 must come first (6.4) */
			if (strcmp(k, "v") != 0 || strcmp(v, "DMARC1") != 0)
				return 0;
			first = 0;
			continue;
		}
		for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
			if (strcasecmp(k, tags[i].name) == 0)
				tags[i].fn(t, v);
	}
	return !first;
}

int dmarc_parse(const char *txt, struct dmarc_record *rec)
{
	memset(rec, 0, sizeof(*rec));
	rec->pct = 100;
	struct tagctx t = { rec, 0, 0, 0 };
	char *buf = xstrdup(txt);	/* no length limit: a TXT record's strings are joined */
	int dmarc = parse_tags(buf, &t);
	free(buf);
	if (!dmarc)
		return 0;
	if (!t.p_ok) {	/* 6.6.3: a bad or missing p= with a valid rua= is p=none */
		if (!t.rua)
			return -1;
		rec->p = DMARC_P_NONE;
	}
	if (!rec->has_sp)
		rec->sp = rec->p;
	return 1;
}

int dmarc_pick(char *const *items, size_t n, struct dmarc_record *rec)
{
	int found = 0;
	for (size_t i = 0; i < n; i++) {
		struct dmarc_record r;
		int k = dmarc_parse(items[i], &r);
		if (k == 0)
			continue;
		if (found++)
			return 0;	/* more than one: no DMARC */
		if (k < 0)
			return 0;
		*rec = r;
	}
	return found == 1;
}

int dmarc_aligned(const char *a, const char *b, int strict)
{
	if (a == NULL || b == NULL || *a == '\0' || *b == '\0')
		return 0;
	if (strcasecmp(a, b) == 0)
		return 1;
	if (strict)
		return 0;
	char oa[256], ob[256];
	if (dmarc_org_domain(a, oa, sizeof(oa)) < 0 || dmarc_org_domain(b, ob, sizeof(ob)) < 0)
		return 0;
	return strcmp(oa, ob) == 0;
}

void dmarc_evaluate(const struct dmarc_input *in, const struct dmarc_record *rec, int at_org,
    int roll, struct dmarc_outcome *out)
{
	memset(out, 0, sizeof(*out));
	out->policy = at_org ? rec->sp : rec->p;
	for (size_t i = 0; i < in->ndkim && !out->dkim_aligned; i++)
		out->dkim_aligned = dmarc_aligned(in->dkim_pass[i], in->from_domain, rec->adkim_strict);
	out->spf_aligned = in->spf_pass && dmarc_aligned(in->spf_pass, in->from_domain,
	    rec->aspf_strict);
	if (out->dkim_aligned || out->spf_aligned) {
		out->result = DMARC_PASS;
		out->disposition = DMARC_P_NONE;
		return;
	}
	out->result = DMARC_FAIL;
	out->disposition = out->policy;
	if (roll >= rec->pct && out->disposition > DMARC_P_NONE)
		out->disposition--;	/* 6.6.4: not sampled: the next policy down */
}

/* The end of the header field starting at i (continuations included). */
static size_t field_end(const char *m, size_t len, size_t i)
{
	size_t e = i;
	do {
		const char *nl = memchr(m + e, '\n', len - e);
		e = nl ? (size_t)(nl - m) + 1 : len;
	} while (e < len && (m[e] == ' ' || m[e] == '\t'));
	return e;
}

/* How many characters at d a domain name can hold (letters, digits,
 * '-', '.', '_', 8-bit for U-labels): the From domain ends there, so
 * what follows (";dkim=pass") never reaches header.from= or the lookup. */
static size_t domain_span(const char *d)
{
	size_t n = 0;
	while (isalnum((unsigned char)d[n]) || d[n] == '-' || d[n] == '.' || d[n] == '_' ||
	    (unsigned char)d[n] >= 0x80)
		n++;
	return n;
}

/* The one address of a From value (angle-addr or addr-spec), its domain.
 * Quoted strings and comments are skipped with their quoted-pairs
 * (RFC 5322 3.2.1): an escaped '"' or ')' does not end them. */
static int value_domain(const char *v, size_t n, char *out, size_t outlen)
{
	char *a = xmalloc(n + 1);	/* no fixed size: padding must not hide the address */
	size_t k = 0;
	char *angle = NULL;
	int depth = 0, quoted = 0, commas = 0;
	for (size_t i = 0; i < n; i++) {
		char c = v[i];
		if ((quoted || depth) && c == '\\') {
			i++;		/* a quoted-pair: the next character is text */
		} else if (quoted) {
			quoted = c != '"';
		} else if (c == '"') {
			quoted = 1;
		} else if (c == '(') {
			depth++;
		} else if (c == ')' && depth) {
			depth--;
		} else if (depth == 0 && c == '<') {
			angle = a + k;
		} else if (depth == 0 && c == ',') {
			commas++;
		} else if (depth == 0 && c != '\r' && c != '\n') {
			a[k++] = c;
		}
	}
	a[k] = '\0';
	int rc = -1;
	char *s = angle ? angle : a;
	s[strcspn(s, ">")] = '\0';
	char *at = strrchr(s, '@');
	char *d = at ? str_trim(at + 1) : NULL;
	if (d)
		d[domain_span(d)] = '\0';
	if (commas == 0 && d && *d != '\0' && str_copy(out, outlen, d) == 0) {
		str_lower(out);
		rc = 0;
	}
	free(a);
	return rc;
}

/* The length of "From" + white space + ":" at m (obs-from allows the
 * white space, RFC 5322 4.5.1), or 0 when the field is another. */
static size_t from_name(const char *m, size_t n)
{
	if (n < 5 || strncasecmp(m, "From", 4) != 0)
		return 0;
	size_t i = 4;
	while (i < n && (m[i] == ' ' || m[i] == '\t'))
		i++;
	return i < n && m[i] == ':' ? i + 1 : 0;
}

int dmarc_from_domain(const char *m, size_t len, char *out, size_t outlen)
{
	size_t i = 0;
	int found = 0, rc = -1;
	while (i < len && m[i] != '\n' && !(m[i] == '\r' && i + 1 < len && m[i + 1] == '\n')) {
		size_t e = field_end(m, len, i);
		size_t nl = from_name(m + i, e - i);
		if (nl > 0) {
			if (found++)
				return -1;	/* two From fields */
			rc = value_domain(m + i + nl, e - i - nl, out, outlen);
		}
		i = e;
	}
	return rc;
}
