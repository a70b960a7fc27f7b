/*
 * jailval — fail2ban's value vocabulary for the jail option table (the
 * same table machinery as main.cf's, common/config.h's param_check):
 * time values with units and -1, booleans, numbers and word lists with
 * fail2ban's messages; and `name[key=value, ...]` references (filters
 * and actions).
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/config.h"
#include "common/util.h"
#include "warden/jail.h"
#include "warden/jailval.h"

/* ---- value parsers ---- */

static const struct {
	const char *names;	/* space separated spellings, as mytime.py */
	double secs;
} time_units[] = {
	{ "s ss se sec second seconds", 1 },
	{ "m mm mi min minute minutes", 60 },
	{ "h hh ho hou hour hours", 3600 },
	{ "d dd da day days", 86400 },
	{ "w ww we wee week weeks", 604800 },
	{ "mo mon month months", 2629800 },	/* a year / 12 */
	{ "y yy ye yea year years", 31557600 },	/* 365.25 days */
};

static double unit_secs(const char *u, size_t n)
{
	char w[16];
	if (n >= sizeof(w))
		return -1;
	for (size_t i = 0; i < n; i++)
		w[i] = (char)tolower((unsigned char)u[i]);
	w[n] = '\0';
	for (size_t i = 0; i < sizeof(time_units) / sizeof(time_units[0]); i++) {
		const char *p = time_units[i].names;
		while (*p) {
			size_t l = strcspn(p, " ");
			if (l == n && strncmp(p, w, n) == 0)
				return time_units[i].secs;
			p += l;
			p += strspn(p, " ");
		}
	}
	return -1;
}

int jailconf_parse_time(const char *s, long *out)
{
	double total = 0;
	int terms = 0;
	const char *p = s;

	while (isspace((unsigned char)*p))
		p++;
	if (strcmp(p, "-1") == 0 || (strncmp(p, "-1", 2) == 0 && strspn(p + 2, " \t\n") == strlen(p + 2))) {
		*out = JAIL_FOREVER;
		return 0;
	}
	for (;;) {
		double sign = 1;
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			break;
		if (*p == '+' || *p == '-') {
			if (terms == 0 && *p == '-')
				return -1;	/* negative times: only -1 */
			sign = *p == '-' ? -1 : 1;
			p++;
			while (isspace((unsigned char)*p))
				p++;
		}
		/* digits[.digits] only: no exponents, hex, inf or nan */
		size_t nd = strspn(p, "0123456789"), nf = 0;
		if (p[nd] == '.')
			nf = 1 + strspn(p + nd + 1, "0123456789");
		if (nd == 0 && nf < 2)
			return -1;
		if (nd > 15)
			return -1;
		double v = strtod(p, NULL);
		p += nd + nf;
		while (*p == ' ' || *p == '\t')
			p++;
		size_t n = 0;
		while (isalpha((unsigned char)p[n]))
			n++;
		double mult = 1;
		if (n > 0 && (mult = unit_secs(p, n)) < 0)
			return -1;
		p += n;
		total += sign * v * mult;
		terms++;
	}
	if (terms == 0 || total < 0 || total > 1e15)
		return -1;
	*out = (long)(total + 0.5);
	return 0;
}

int jailval_bool(const char *v)
{
	static const char *yes[] = { "1", "yes", "true", "on" };
	static const char *no[] = { "0", "no", "false", "off" };
	for (size_t i = 0; i < 4; i++) {
		if (str_ieq(v, yes[i]))
			return 1;
		if (str_ieq(v, no[i]))
			return 0;
	}
	return -1;
}

void jailconf_ref_free(struct jail_ref *r)
{
	free(r->text);
	free(r->name);
	for (size_t i = 0; i < r->nopts; i++) {
		free(r->opts[i].key);
		free(r->opts[i].value);
	}
	free(r->opts);
	memset(r, 0, sizeof(*r));
}

const char *jailconf_ref_opt(const struct jail_ref *r, const char *key)
{
	for (size_t i = 0; i < r->nopts; i++)
		if (strcmp(r->opts[i].key, key) == 0)
			return r->opts[i].value;
	return NULL;
}

int jailconf_parse_ref(const char *text, struct jail_ref *r, char *err, size_t errlen)
{
	const char *p = text;

	memset(r, 0, sizeof(*r));
	while (isspace((unsigned char)*p))
		p++;
	size_t n = strcspn(p, "[ \t\n");
	if (n == 0) {
		snprintf(err, errlen, "name expected in '%s'", text);
		return -1;
	}
	r->text = xstrdup(text);
	r->name = xstrndup(p, n);
	p += n;
	while (isspace((unsigned char)*p))
		p++;
	if (*p == '[') {
		p++;
		for (;;) {
			while (isspace((unsigned char)*p))
				p++;
			if (*p == ']')
				break;
			size_t kn = 0;
			while (isalnum((unsigned char)p[kn]) || (p[kn] && strchr("_-.", p[kn])))
				kn++;
			const char *k = p;
			p += kn;
			while (isspace((unsigned char)*p))
				p++;
			if (kn == 0 || *p != '=') {
				snprintf(err, errlen, "option 'key=value' expected at '%.30s' in '%s'", k, text);
				goto bad;
			}
			p++;
			while (isspace((unsigned char)*p))
				p++;
			char *v;
			if (*p == '"' || *p == '\'') {
				const char *q = strchr(p + 1, *p);
				if (q == NULL) {
					snprintf(err, errlen, "unterminated %c in '%s'", *p, text);
					goto bad;
				}
				v = xstrndup(p + 1, (size_t)(q - p - 1));
				p = q + 1;
			} else {
				size_t vn = strcspn(p, ",]");
				v = xstrndup(p, vn);
				str_trim(v);
				p += vn;
			}
			r->opts = xrealloc(r->opts, (r->nopts + 1) * sizeof(*r->opts));
			r->opts[r->nopts].key = xstrndup(k, kn);
			r->opts[r->nopts].value = v;
			r->nopts++;
			while (isspace((unsigned char)*p))
				p++;
			if (*p == ',') {
				p++;
				continue;
			}
			if (*p != ']') {
				snprintf(err, errlen, "',' or ']' expected at '%.30s' in '%s'", p, text);
				goto bad;
			}
		}
		p++;
	}
	while (isspace((unsigned char)*p))
		p++;
	if (*p != '\0') {
		snprintf(err, errlen, "unexpected '%.30s' after '%s'", p, r->name);
		goto bad;
	}
	return 0;
bad:
	jailconf_ref_free(r);
	return -1;
}

/* Split "a[x=1] b[y=\"2 3\"]\nc" into references; -1 and msg if bad. */
int jailval_split_refs(const char *v, struct jail_ref **out, size_t *n, char *msg, size_t len)
{
	const char *p = v;

	*out = NULL;
	*n = 0;
	for (;;) {
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			return 0;
		const char *start = p;
		p += strcspn(p, "[ \t\n");
		const char *q = p;
		while (*q == ' ' || *q == '\t')
			q++;
		if (*q == '[') {
			int depth = 0;
			char quote = 0;
			for (p = q; *p; p++) {
				if (quote) {
					if (*p == quote)
						quote = 0;
				} else if (*p == '"' || *p == '\'') {
					quote = *p;
				} else if (*p == '[') {
					depth++;
				} else if (*p == ']' && --depth == 0) {
					p++;
					break;
				}
			}
			if (depth != 0) {
				snprintf(msg, len, "unbalanced '[' in '%.60s'", start);
				return -1;
			}
		}
		char *text = xstrndup(start, (size_t)(p - start));
		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		int rc = jailconf_parse_ref(text, &(*out)[*n], msg, len);
		free(text);
		if (rc < 0)
			return -1;
		(*n)++;
	}
}

/* ---- the vocabulary ---- */

static int f_text(const struct param *p, const char *v, const void *ctx, long *num,
    char *msg, size_t len)
{
	return 0;
}

static int f_bool(const struct param *p, const char *v, const void *ctx, long *num,
    char *msg, size_t len)
{
	if ((*num = jailval_bool(v)) >= 0)
		return 0;
	snprintf(msg, len, "'%s' is not a boolean (true/false, yes/no, on/off, 1/0)", v);
	return -1;
}

/* min -1: -1 (forever) allowed, and then 0 is not. */
static int f_time(const struct param *p, const char *v, const void *ctx, long *num,
    char *msg, size_t len)
{
	int forever = p->min < 0;
	if (jailconf_parse_time(v, num) < 0)
		snprintf(msg, len, "bad time '%s' (seconds, or units s m h d w mo y as in 1h 30m%s)",
		    v, forever ? ", or -1 for forever" : "");
	else if (*num == JAIL_FOREVER && !forever)
		snprintf(msg, len, "-1 (forever) is not allowed here");
	else if (*num == 0 && forever)
		snprintf(msg, len, "must be more than 0 seconds, or -1 for forever");
	else
		return 0;
	return -1;
}

static int f_int(const struct param *p, const char *v, const void *ctx, long *num,
    char *msg, size_t len)
{
	if (config_parse_int(v, num) == 0 && *num >= p->min && *num <= p->max)
		return 0;
	snprintf(msg, len, "'%s' is not a number from %ld to %ld", v, p->min, p->max);
	return -1;
}

/* One of p->choices ("a|b|c", any case); *num its index. */
static int f_enum(const struct param *p, const char *v, const void *ctx, long *num,
    char *msg, size_t len)
{
	char words[256];
	size_t o = 0;
	long i = 0;
	for (const char *c = p->choices; *c; i++) {
		size_t n = strcspn(c, "|");
		if (n == strlen(v) && strncasecmp(c, v, n) == 0) {
			*num = i;
			return 0;
		}
		int w = snprintf(words + o, sizeof(words) - o, "%s%.*s", i ? ", " : "", (int)n, c);
		if (w > 0 && (size_t)w < sizeof(words) - o)
			o += (size_t)w;
		c += n;
		c += *c == '|';
	}
	snprintf(msg, len, "'%s' is not one of %s", v, words);
	return -1;
}

const struct param_vocab jailval_vocab[] = {
	{ PT_STR, f_text }, { PT_BOOL, f_bool }, { PT_TIME, f_time },
	{ PT_INT, f_int }, { PT_ENUM, f_enum }, { PT_STR, NULL }
};
