/*
 * map_regexp — regexp: (POSIX regcomp, regexp_table(5)) and pcre:
 * (PCRE2, pcre_table(5)) lookup tables, as Postfix reads them:
 *   /pattern/flags result     the first matching rule wins
 *   !/pattern/flags result    matches when the pattern does not
 *   if /pattern/flags ... endif, if !/pattern/flags ... endif (nested)
 *   # comments, blank lines; a line starting with white space continues
 *   the previous one. Any non-space character may be the delimiter.
 * Flags, regexp: i (case-insensitive, on by default: toggles), x
 * (extended syntax, on by default: toggles), m (newline-sensitive).
 * pcre: i (on by default: toggles), m, s, x, A (anchored), E (dollar at
 * the very end), U (ungreedy), X (accepted, no effect in PCRE2).
 * Results take $1..$9, ${n}, $(n) from the match ($$ is a dollar); a
 * negated rule has no substitution. Errors name the file and line.
 * pcre: matches run under a match limit and a depth limit far below
 * PCRE2's defaults (RE_MATCH_LIMIT, RE_DEPTH_LIMIT): a pattern that
 * backtracks catastrophically on a network line gives up quickly, counts
 * as no match (the rule, negated or not, does not fire; an IF is false)
 * and is logged once per table line. regexp: uses POSIX regexec(3),
 * which has no such limit.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <errno.h>
#include <pcre2.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/map_regexp.h"
#include "common/util.h"

#define RE_LINE_MAX	(64 * 1024)
#define RE_RESULT_MAX	(64 * 1024)
#define RE_GROUPS	10
/* pcre2_match() steps: 10 times what one ".*" needs to scan the longest
 * header Postfix checks (header_size_limit, 102400), a tenth of PCRE2's
 * default 10,000,000 (~0.1 s here), so ~10 ms per line at worst. */
#define RE_MATCH_LIMIT	1000000
/* Backtracking depth (one per repeated group): a "(\S+ )*" over every
 * word of a 100 KB header fits; PCRE2's default is 10,000,000. */
#define RE_DEPTH_LIMIT	20000

enum { RE_RULE, RE_IF, RE_ENDIF };

struct re_ent {
	int kind;
	int neg;
	int is_pcre;
	regex_t rx;		/* regexp: */
	pcre2_code *pc;		/* pcre: */
	char *result;		/* RE_RULE */
	size_t endif;		/* RE_IF: index of its endif */
	int lineno;		/* table line, for the limit warning */
	int warned;		/* the limit warning was logged */
};

struct mapre {
	struct re_ent *e;
	size_t n;
	int pcre;
	pcre2_match_data *md;
	pcre2_match_context *mc;	/* RE_MATCH_LIMIT, RE_DEPTH_LIMIT */
	char *path;
	struct buf out;		/* the last substituted result */
};

/* A pattern "/.../flags" at *pp: compile into e; 0, or -1 and err. */
#define RE_NODES_MAX	20000	/* regcomp's tree for one pattern, estimated */
#define RE_STACK_MAX	2	/* repetition operators in a row (".*?" is two) */

/* The end of the bracket expression opening at p ('['): past its ']'. */
static const char *re_bracket_end(const char *p)
{
	const char *j = p + 1;
	if (*j == '^')
		j++;
	if (*j == ']')
		j++;
	while (*j && *j != ']') {
		if (j[0] == '[' && (j[1] == ':' || j[1] == '.' || j[1] == '=')) {
			const char *e = strchr(j + 2, j[1]);
			j = e && e[1] == ']' ? e + 2 : j + 1;
		} else {
			j++;
		}
	}
	return *j ? j + 1 : j;
}

/* An estimate of the nodes of regcomp's parse tree for pat: glibc copies
 * a repeated atom's tree for '+', '?' and {m,n}, so stacked or nested
 * repetitions multiply ("x+++..." doubles with each '+', a fuzzer found
 * 2 GB for 45 of them). ext: ERE, else BRE (\( \) \{ \} \+ \?). */
static double re_nodes(const char *p, int ext)
{
	double sum[64] = { 0 }, last[64] = { 0 };
	int lv = 0, stacked = 0;
	while (*p) {
		int esc = *p == '\\' && p[1];
		char c = esc ? *++p : *p;
		int op = ext ? !esc : esc;	/* c is an operator, not a literal */
		if (op && c == '(') {
			if (lv == 63)
				return 1e18;
			lv++;
			sum[lv] = last[lv] = 0;
		} else if (op && c == ')' && lv > 0) {
			double g = sum[lv] + 1;
			sum[--lv] += g;
			last[lv] = g;
		} else if ((op && (c == '+' || c == '?' || c == '{')) || (!esc && c == '*')) {
			double f = c == '*' ? 1 : 2;
			if (c == '{' && p[1] >= '0' && p[1] <= '9') {
				char *e;
				double m = strtod(p + 1, &e), n = m + 1;
				if (*e == ',' && e[1] >= '0' && e[1] <= '9')
					n = strtod(e + 1, &e);
				f = m > n ? m : n;
				f = f < 1 ? 1 : f;
				const char *close = strchr(e, '}');
				p = close ? close : p;
			}
			sum[lv] += last[lv] * (f - 1);
			last[lv] *= f;
			if (sum[lv] > 1e15 || ++stacked > RE_STACK_MAX)
				return 1e18;	/* "x+++": no meaning, and glibc's closures explode */
			p++;
			continue;
		} else if (!esc && c == '[') {
			p = re_bracket_end(p) - 1;
			sum[lv] += 1;
			last[lv] = 1;
		} else {
			sum[lv] += 1;
			last[lv] = 1;
		}
		stacked = 0;
		p++;
	}
	while (lv > 0) {
		sum[lv - 1] += sum[lv];
		lv--;
	}
	return sum[0];
}

static int re_pattern(struct mapre *t, struct re_ent *e, char **pp, char *err, size_t errlen)
{
	char *p = *pp;
	if (*p == '!') {
		e->neg = 1;
		p++;
	}
	char delim = *p;
	if (delim == '\0' || isspace((unsigned char)delim) || isalnum((unsigned char)delim)) {
		snprintf(err, errlen, "regular expression expected, got \"%s\"", p);
		return -1;
	}
	char *start = ++p;
	while (*p && *p != delim) {
		if (*p == '\\' && p[1])
			p++;
		p++;
	}
	if (*p != delim) {
		snprintf(err, errlen, "missing closing delimiter %c", delim);
		return -1;
	}
	char *pat = xstrndup(start, (size_t)(p - start));
	p++;
	int icase = 1, ext = 1, nl = 0;
	uint32_t opts = 0;
	for (; *p && !isspace((unsigned char)*p); p++) {
		static const struct { char c; uint32_t bit; } pflags[] = {
			{ 'm', PCRE2_MULTILINE }, { 's', PCRE2_DOTALL }, { 'x', PCRE2_EXTENDED },
			{ 'A', PCRE2_ANCHORED }, { 'E', PCRE2_DOLLAR_ENDONLY }, { 'U', PCRE2_UNGREEDY },
			{ 'X', 0 },
		};
		size_t k, nf = sizeof(pflags) / sizeof(pflags[0]);
		if (*p == 'i') {
			icase = !icase;
			continue;
		}
		if (!t->pcre && (*p == 'x' || *p == 'm')) {
			if (*p == 'x')
				ext = !ext;
			else
				nl = !nl;
			continue;
		}
		for (k = 0; t->pcre && k < nf && pflags[k].c != *p; k++)
			;
		if (!t->pcre || k == nf) {
			snprintf(err, errlen, "unknown regexp option \"%c\"", *p);
			free(pat);
			return -1;
		}
		opts ^= pflags[k].bit;
	}
	*pp = p;
	e->is_pcre = t->pcre;
	if (t->pcre) {
		int code;
		PCRE2_SIZE off;
		e->pc = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
		    opts | (icase ? PCRE2_CASELESS : 0), &code, &off, NULL);
		if (e->pc == NULL) {
			PCRE2_UCHAR msg[256];
			pcre2_get_error_message(code, msg, sizeof(msg));
			snprintf(err, errlen, "error in regex at offset %lu: %s",
			    (unsigned long)off, (const char *)msg);
		}
		free(pat);
		return e->pc ? 0 : -1;
	}
	if (re_nodes(pat, ext) > RE_NODES_MAX) {
		snprintf(err, errlen, "regular expression too large once its repetitions are "
		    "expanded (more than %d nodes, or more than %d repetition operators in a "
		    "row: nested or stacked +, ?, {m,n})", RE_NODES_MAX, RE_STACK_MAX);
		free(pat);
		return -1;
	}
	int rc = regcomp(&e->rx, pat, (icase ? REG_ICASE : 0) | (ext ? REG_EXTENDED : 0) |
	    (nl ? REG_NEWLINE : 0));
	free(pat);
	if (rc != 0) {
		char msg[256];
		regerror(rc, &e->rx, msg, sizeof(msg));
		snprintf(err, errlen, "bad regular expression: %s", msg);
		return -1;
	}
	return 0;
}

/* Highest $n a result refers to (0 if none); -1 on a bad $ form. */
static int re_max_ref(const char *r)
{
	int max = 0;
	for (const char *p = r; *p; p++) {
		if (*p != '$')
			continue;
		p++;
		if (*p == '$')
			continue;
		int open = (*p == '{' || *p == '(') ? *p++ : 0;
		if (!isdigit((unsigned char)*p))
			return -1;
		int n = 0;
		for (; isdigit((unsigned char)*p); p++)	/* past 9999: out of range, no overflow */
			if (n < 10000)
				n = n * 10 + (*p - '0');
		if (open && *p != (open == '{' ? '}' : ')'))
			return -1;
		if (!open)
			p--;
		if (n > max)
			max = n;
	}
	return max;
}

/* Number of capture groups of a compiled pattern. */
static int re_groups(const struct re_ent *e)
{
	uint32_t n = 0;
	if (e->is_pcre) {
		pcre2_pattern_info(e->pc, PCRE2_INFO_CAPTURECOUNT, &n);
		return (int)n;
	}
	return (int)e->rx.re_nsub;
}

static void re_ent_free(struct re_ent *e)
{
	if (e->kind == RE_ENDIF)
		return;
	if (e->is_pcre)
		pcre2_code_free(e->pc);
	else
		regfree(&e->rx);
	free(e->result);
}

/* One logical line into t; 0, or -1 and err (without file and line). */
static int re_line(struct mapre *t, char *line, size_t *stack, size_t *depth,
    char *err, size_t errlen)
{
	struct re_ent e = { 0 };
	if (strncasecmp(line, "endif", 5) == 0 && (line[5] == '\0' || isspace((unsigned char)line[5]))) {
		if (*depth == 0) {
			snprintf(err, errlen, "ignoring ENDIF without matching IF");
			return -1;
		}
		t->e[stack[--*depth]].endif = t->n;
		e.kind = RE_ENDIF;
	} else {
		char *p = line;
		if (strncasecmp(line, "if", 2) == 0 && isspace((unsigned char)line[2])) {
			e.kind = RE_IF;
			p = str_trim(line + 2);
		}
		if (re_pattern(t, &e, &p, err, errlen) < 0)
			return -1;
		char *res = str_trim(p);
		if (e.kind == RE_IF && *res) {
			snprintf(err, errlen, "garbage after IF pattern: \"%s\"", res);
			re_ent_free(&e);
			return -1;
		}
		if (e.kind != RE_IF) {
			e.kind = RE_RULE;
			int ref = re_max_ref(res);
			const char *why = *res == '\0' ? "no replacement text" : ref < 0 ?
			    "bad $number syntax in replacement text" : ref > re_groups(&e) ?
			    "out of range replacement index" : e.neg && ref > 0 ?
			    "$number in the result of a negated pattern" : NULL;
			if (why) {
				snprintf(err, errlen, "%s", why);
				re_ent_free(&e);
				return -1;
			}
			e.result = xstrdup(res);
		}
		if (e.kind == RE_IF) {
			if (*depth >= 64) {
				snprintf(err, errlen, "IF nesting deeper than 64");
				re_ent_free(&e);
				return -1;
			}
			stack[(*depth)++] = t->n;
		}
	}
	t->e = xrealloc(t->e, (t->n + 1) * sizeof(*t->e));
	t->e[t->n++] = e;
	return 0;
}

void mapre_free(struct mapre *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n; i++)
		re_ent_free(&t->e[i]);
	free(t->e);
	if (t->md)
		pcre2_match_data_free(t->md);
	if (t->mc)
		pcre2_match_context_free(t->mc);
	free(t->path);
	buf_free(&t->out);
	free(t);
}

/* Finish a logical line held in lb at lineno. */
static int re_flush(struct mapre *t, struct buf *lb, const char *path, int lineno,
    size_t *stack, size_t *depth, char *err, size_t errlen)
{
	char why[400];
	if (lb->len == 0)
		return 0;
	int rc = re_line(t, str_trim(lb->data), stack, depth, why, sizeof(why));
	if (rc == 0)
		t->e[t->n - 1].lineno = lineno;
	if (rc < 0)
		snprintf(err, errlen, "%s map %s, line %d: %s", t->pcre ? "pcre" : "regexp",
		    path, lineno, why);
	buf_reset(lb);
	return rc;
}

struct mapre *mapre_open(const char *path, int pcre, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "r");
	if (fp == NULL) {
		snprintf(err, errlen, "%s:%s: cannot open %s: %s", pcre ? "pcre" : "regexp",
		    path, path, strerror(errno));
		return NULL;
	}
	struct mapre *t = xcalloc(1, sizeof(*t));
	struct buf lb;
	char *line = NULL;
	size_t cap = 0, stack[64], depth = 0;
	ssize_t len;
	int lineno = 0, start = 0, rc = 0;
	t->pcre = pcre;
	buf_init(&t->out, RE_RESULT_MAX);
	buf_init(&lb, RE_LINE_MAX);
	while (rc == 0 && (len = getline(&line, &cap, fp)) >= 0) {
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		const char *p = line + strspn(line, " \t");
		if (*p == '\0' || *p == '#')
			continue;
		if (p != line && lb.len > 0) {	/* continuation */
			if (buf_puts(&lb, " ") < 0 || buf_puts(&lb, p) < 0) {
				snprintf(err, errlen, "%s, line %d: entry too long", path, lineno);
				rc = -1;
			}
			continue;
		}
		rc = re_flush(t, &lb, path, start, stack, &depth, err, errlen);
		start = lineno;
		if (rc == 0 && buf_puts(&lb, p) < 0) {
			snprintf(err, errlen, "%s, line %d: entry too long", path, lineno);
			rc = -1;
		}
	}
	if (rc == 0)
		rc = re_flush(t, &lb, path, start, stack, &depth, err, errlen);
	if (rc == 0 && depth > 0) {
		snprintf(err, errlen, "%s map %s, line %d: IF has no matching ENDIF",
		    pcre ? "pcre" : "regexp", path, lineno);
		rc = -1;
	}
	free(line);
	buf_free(&lb);
	fclose(fp);
	if (rc < 0) {
		mapre_free(t);
		return NULL;
	}
	t->path = xstrdup(path);
	if (pcre) {
		t->md = pcre2_match_data_create(RE_GROUPS, NULL);
		t->mc = pcre2_match_context_create(NULL);
		if (t->md == NULL || t->mc == NULL)
			fatal("pcre map %s: out of memory", path);
		pcre2_set_match_limit(t->mc, RE_MATCH_LIMIT);
		pcre2_set_depth_limit(t->mc, RE_DEPTH_LIMIT);
	}
	return t;
}

/* A pcre2_match() error on e: warn once per table line. */
static void mre_error(struct mapre *t, struct re_ent *e, int rc)
{
	if (e->warned)
		return;
	e->warned = 1;
	PCRE2_UCHAR msg[256];
	pcre2_get_error_message(rc, msg, sizeof(msg));
	log_warn("pcre map %s, line %d: %s (match limit %d, depth limit %d):"
	    " treated as no match; this warning is logged once", t->path, e->lineno,
	    (const char *)msg, RE_MATCH_LIMIT, RE_DEPTH_LIMIT);
}

/* Match key against e: 1 with ov[] filled (start/end pairs, -1 unset),
 * 0 no, -1 a pcre error (limit hit), logged. */
static int mre_match(struct mapre *t, struct re_ent *e, const char *key, long ov[RE_GROUPS * 2])
{
	for (int i = 0; i < RE_GROUPS * 2; i++)
		ov[i] = -1;
	if (e->is_pcre) {
		int rc = pcre2_match(e->pc, (PCRE2_SPTR)key, strlen(key), 0, 0, t->md, t->mc);
		if (rc == PCRE2_ERROR_NOMATCH)
			return 0;
		if (rc < 0) {
			mre_error(t, e, rc);
			return -1;
		}
		PCRE2_SIZE *v = pcre2_get_ovector_pointer(t->md);
		uint32_t n = pcre2_get_ovector_count(t->md);
		for (uint32_t i = 0; i < n && i < RE_GROUPS && i < (uint32_t)rc; i++)
			if (v[2 * i] != PCRE2_UNSET) {
				ov[2 * i] = (long)v[2 * i];
				ov[2 * i + 1] = (long)v[2 * i + 1];
			}
		return 1;
	}
	regmatch_t m[RE_GROUPS];
	if (regexec(&e->rx, key, RE_GROUPS, m, 0) != 0)
		return 0;
	for (int i = 0; i < RE_GROUPS; i++) {
		ov[2 * i] = m[i].rm_so;
		ov[2 * i + 1] = m[i].rm_eo;
	}
	return 1;
}

/* The result of e with $n replaced from ov, into t->out. */
static const char *mre_subst(struct mapre *t, const char *r, const char *key, const long *ov)
{
	buf_reset(&t->out);
	for (const char *p = r; *p; p++) {
		if (*p != '$') {
			buf_append(&t->out, p, 1);
			continue;
		}
		p++;
		if (*p == '$') {
			buf_append(&t->out, "$", 1);
			continue;
		}
		int open = (*p == '{' || *p == '(');
		if (open)
			p++;
		int n = 0;
		for (; isdigit((unsigned char)*p); p++)
			if (n < 10000)
				n = n * 10 + (*p - '0');
		if (!open)
			p--;
		if (n < RE_GROUPS && ov[2 * n] >= 0)
			buf_append(&t->out, key + ov[2 * n], (size_t)(ov[2 * n + 1] - ov[2 * n]));
	}
	buf_append(&t->out, "", 1);
	return t->out.data;
}

const char *mapre_lookup(struct mapre *t, const char *key)
{
	long ov[RE_GROUPS * 2];
	if (t == NULL || key == NULL || *key == '\0')
		return NULL;	/* Postfix: empty input never matches */
	for (size_t i = 0; i < t->n; i++) {
		struct re_ent *e = &t->e[i];
		if (e->kind == RE_ENDIF)
			continue;
		int rc = mre_match(t, e, key, ov);
		int hit = rc >= 0 && rc != e->neg;	/* an error fires nothing */
		if (e->kind == RE_IF) {
			if (!hit)
				i = e->endif;
			continue;
		}
		if (hit)
			return e->neg ? e->result : mre_subst(t, e->result, key, ov);
	}
	return NULL;
}
