/*
 * filter_lit — the cheap test filter_match() runs before any regex: the
 * literal byte strings every match of a filter must contain, derived from
 * its translated failregex/prefregex/ignoreregex, and a fast search for
 * them. A line that lacks them cannot match, so the regexes (and the
 * subject buffer) are skipped for it; when nothing can be derived for
 * some regex, no line is ever skipped. Only single-line filters use it
 * (a multi-line buffer must see every line).
 *
 * Derivation is deliberately conservative: only text at the top level of
 * a pattern (not inside a group, not in a top-level alternation), before
 * any top-level inline flag such as (?i) or (?x), counts; a character
 * followed by a quantifier that allows zero of it is dropped.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define LIT_AVX2 1
#endif

#include "common/util.h"
#include "warden/filter/filter.h"
#include "warden/filter/filter_impl.h"

/* End of a [...] class starting at p (p[0] == '['): just past the ']'. */
static const char *skip_class(const char *p)
{
	p++;
	if (*p == '^')
		p++;
	if (*p == ']')
		p++;
	while (*p && *p != ']') {
		if (*p == '\\' && p[1])
			p++;
		else if (*p == '[' && p[1] == ':') {
			const char *e = strstr(p + 2, ":]");
			if (e)
				p = e + 1;
		}
		p++;
	}
	return *p ? p + 1 : p;
}

/* End of an escape at p (p[0] == '\\'): just past it. */
static const char *skip_escape(const char *p)
{
	char c = p[1];
	if (c == '\0')
		return p + 1;
	if (strchr("xpPgkNo", c) && (p[2] == '{' || p[2] == '<' || p[2] == '\'')) {
		char close = p[2] == '{' ? '}' : p[2] == '<' ? '>' : '\'';
		const char *e = strchr(p + 3, close);
		return e ? e + 1 : p + strlen(p);
	}
	if (c == 'x') {		/* \xhh */
		const char *q = p + 2;
		for (int i = 0; i < 2 && strchr("0123456789abcdefABCDEF", *q) && *q; i++)
			q++;
		return q;
	}
	if (c == 'c' && p[2])	/* \cX */
		return p + 3;
	return p + 2;
}

/* End of a group starting at p (p[0] == '('): just past its ')'. */
static const char *skip_group(const char *p)
{
	int depth = 0;
	while (*p) {
		if (*p == '\\') {
			p = skip_escape(p);
			continue;
		}
		if (*p == '[') {
			p = skip_class(p);
			continue;
		}
		if (*p == '(')
			depth++;
		else if (*p == ')' && --depth == 0)
			return p + 1;
		p++;
	}
	return p;
}

/* A quantifier at p? Its end in *end and whether it allows zero. */
static int quantifier(const char *p, const char **end, int *zero)
{
	const char *q = p;
	if (*p == '?' || *p == '*' || *p == '+') {
		*zero = *p != '+';
		q = p + 1;
	} else if (*p == '{') {
		q = p + 1;
		long lo = 0;
		int digits = 0;
		while (*q >= '0' && *q <= '9') {
			lo = lo * 10 + (*q++ - '0');
			digits++;
		}
		if (*q == ',')
			for (q++; *q >= '0' && *q <= '9'; q++)
				digits++;
		if (*q != '}' || digits == 0)
			return 0;	/* "{" as a literal: the caller stops there */
		*zero = lo == 0;
		q++;
	} else
		return 0;
	if (*q == '?' || *q == '+')	/* lazy, possessive */
		q++;
	*end = q;
	return 1;
}

/* Drop the last (UTF-8) character of run[0..*n). */
static void drop_last_char(const char *run, size_t *n)
{
	while (*n > 0) {
		(*n)--;
		if (((unsigned char)run[*n] & 0xC0) != 0x80)
			break;
	}
}

/* Keep run[0..n) in best if longer. */
static void keep_longest(const char *run, size_t n, char *best, size_t *bn, size_t cap)
{
	if (n > *bn && n < cap) {
		memcpy(best, run, n);
		best[n] = '\0';
		*bn = n;
	}
}

/*
 * The longest literal every match of the translated pattern pcre must
 * contain, into out (NUL-terminated, at most outlen - 1 bytes); its
 * length, 0 if none could be derived.
 */
size_t filter_lit_derive(const char *pcre, char *out, size_t outlen)
{
	char run[FILTER_LIT_MAX];
	size_t n = 0, bn = 0;

	out[0] = '\0';
	if (strstr(pcre, "\\Q") || strstr(pcre, "\\E"))
		return 0;
	for (const char *q = pcre; *q; q++)	/* a top-level | : no literal */
		if (*q == '\\' && q[1])
			q = skip_escape(q) - 1;
		else if (*q == '[')
			q = skip_class(q) - 1;
		else if (*q == '(')
			q = skip_group(q) - 1;
		else if (*q == '|')
			return 0;
	const char *p = pcre;
	while (*p) {
		const char *next;
		int lit = 0;
		char c = *p;
		size_t clen = 1;
		if (c == '\\') {
			next = skip_escape(p);
			unsigned char e = (unsigned char)p[1];
			if (e && e < 0x80 && !((e >= '0' && e <= '9') || (e >= 'a' && e <= 'z') ||
			    (e >= 'A' && e <= 'Z'))) {
				lit = 1;
				c = (char)e;
			}
		} else if (c == '[') {
			next = skip_class(p);
		} else if (c == '(') {
			if (p[1] == '?' && p[2] && strchr("imnsxJU-^", p[2])) {
				/* a top-level option setting: stop deriving here */
				const char *e = p + 2;
				while (*e && *e != ')' && *e != ':')
					e++;
				if (*e == ')')
					break;
			}
			next = skip_group(p);
		} else if (c == '.' || c == '^' || c == '$' || c == '\n' || c == '\r') {
			next = p + 1;
		} else if (c == '{' || c == '}' || c == ')' || c == '?' || c == '*' || c == '+') {
			next = p + 1;	/* a literal "{" or a stray quantifier: a boundary */
		} else {
			lit = 1;
			next = p + 1;
			if ((unsigned char)c >= 0xC0)	/* a whole UTF-8 character */
				while (((unsigned char)*next & 0xC0) == 0x80)
					next++;
			clen = (size_t)(next - p);
		}
		const char *qend;
		int zero = 0, quant = quantifier(next, &qend, &zero);
		if (lit && n + clen < sizeof(run)) {
			if (c == *p && clen > 1)
				memcpy(run + n, p, clen);
			else
				run[n] = c;
			n += clen;
		} else if (lit) {
			keep_longest(run, n, out, &bn, outlen);
			n = 0;
		}
		if (!lit || quant) {
			if (lit && zero)
				drop_last_char(run, &n);
			keep_longest(run, n, out, &bn, outlen);
			n = 0;
		}
		p = quant ? qend : next;
	}
	keep_longest(run, n, out, &bn, outlen);
	return bn;
}

#ifdef LIT_AVX2
/*
 * lit_pos()'s first pass, 32 start positions at a time (AVX2): the
 * literal's offset if it starts below the returned *next, which is where
 * the caller goes on; else (size_t)-1.
 */
__attribute__((target("avx2")))
static size_t lit_pos32(const char *s, size_t last, const char *lit, size_t ln, size_t *next)
{
	const __m256i f = _mm256_set1_epi8(lit[0]), l = _mm256_set1_epi8(lit[ln - 1]);
	size_t i = 0;
	for (; i + 32 <= last + 1; i += 32) {
		__m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(s + i));
		__m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(s + i + ln - 1));
		unsigned m = (unsigned)_mm256_movemask_epi8(_mm256_and_si256(
		    _mm256_cmpeq_epi8(a, f), _mm256_cmpeq_epi8(b, l)));
		while (m) {
			unsigned bit = (unsigned)__builtin_ctz(m);
			if (memcmp(s + i + bit + 1, lit + 1, ln - 2) == 0)
				return i + bit;
			m &= m - 1;
		}
	}
	*next = i;
	return (size_t)-1;
}

/* 1 if the CPU has AVX2 (asked once). */
static int have_avx2(void)
{
	static int known = -1;
	if (known < 0) {
		__builtin_cpu_init();
		known = __builtin_cpu_supports("avx2") ? 1 : 0;
	}
	return known;
}
#endif

/*
 * Where s[0..n) first holds lit (len ln >= 1), or (size_t)-1. Compares
 * the first and last bytes 32 (AVX2) or 16 positions at a time, then the
 * whole literal where both agree.
 */
static size_t lit_pos(const char *s, size_t n, const char *lit, size_t ln)
{
	if (ln > n)
		return (size_t)-1;
	if (ln == 1) {
		const char *c = memchr(s, lit[0], n);
		return c ? (size_t)(c - s) : (size_t)-1;
	}
	size_t last = n - ln;	/* last start position */
	size_t i = 0;
#ifdef LIT_AVX2
	if (last >= 31 && have_avx2()) {
		size_t at = lit_pos32(s, last, lit, ln, &i);
		if (at != (size_t)-1)
			return at;
	}
#endif
#if defined(__SSE2__)
	const __m128i f = _mm_set1_epi8(lit[0]), l = _mm_set1_epi8(lit[ln - 1]);
	for (; i + 16 <= last + 1; i += 16) {
		__m128i a = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
		__m128i b = _mm_loadu_si128((const __m128i *)(const void *)(s + i + ln - 1));
		unsigned m = (unsigned)_mm_movemask_epi8(_mm_and_si128(
		    _mm_cmpeq_epi8(a, f), _mm_cmpeq_epi8(b, l)));
		while (m) {
			unsigned bit = (unsigned)__builtin_ctz(m);
			if (memcmp(s + i + bit + 1, lit + 1, ln - 2) == 0)
				return i + bit;
			m &= m - 1;
		}
	}
#endif
	for (; i <= last; i++)
		if (s[i] == lit[0] && s[i + ln - 1] == lit[ln - 1] &&
		    memcmp(s + i + 1, lit + 1, ln - 2) == 0)
			return i;
	return (size_t)-1;
}

/* Does s[0..n) contain lit? */
static int lit_find(const char *s, size_t n, const char *lit, size_t ln)
{
	return lit_pos(s, n, lit, ln) != (size_t)-1;
}

const char *filter_lit_search(const char *s, size_t n, const char *lit, size_t ln)
{
	size_t at = ln ? lit_pos(s, n, lit, ln) : 0;
	return at == (size_t)-1 ? NULL : s + at;
}

/* Is lit in a + b (b follows a directly), also across the junction? */
static int lit_in2(const char *a, size_t an, const char *b, size_t bn,
    const char *lit, size_t ln)
{
	if (lit_find(b, bn, lit, ln) || (an && lit_find(a, an, lit, ln)))
		return 1;
	for (size_t j = 1; an && j < ln; j++)	/* lit[0..j) ends a, lit[j..) starts b */
		if (j <= an && ln - j <= bn && memcmp(a + an - j, lit, j) == 0 &&
		    memcmp(b, lit + j, ln - j) == 0)
			return 1;
	return 0;
}

/* The literal of one compiled list entry: translated again from its text. */
static void derive_list(struct filter *f, const char *key, struct flit *arr, int max,
    int *all)
{
	const char *v = filter_option(f, key);
	char err[256];
	int idx = 0;
	if (v == NULL)
		return;
	char *copy = xstrdup(v), *save = NULL;
	for (char *l = strtok_r(copy, "\n", &save); l && idx < max;
	    l = strtok_r(NULL, "\n", &save)) {
		l = str_trim(l);
		if (*l == '\0')
			continue;
		char *tr = regex_translate(l, NULL, 0, err, sizeof(err));
		arr[idx].len = tr ? filter_lit_derive(tr, arr[idx].s, sizeof(arr[idx].s)) : 0;
		if (arr[idx].len == 0)
			*all = 0;
		free(tr);
		idx++;
	}
	free(copy);
}

/* Does any regex of the filter have a named group called name? */
static int has_group(pcre2_code *re, const char *name)
{
	PCRE2_SPTR first, last;
	return re && pcre2_substring_nametable_scan(re, (PCRE2_SPTR)name, &first, &last) > 0;
}

void filter_lit_setup(struct filter *f)
{
	struct filter_lits *L = &f->lits;
	int all_fail = 1, all_ign = 1, off = L->off;

	memset(L, 0, sizeof(*L));
	L->ready = 1;
	L->off = off;
	for (int i = 0; i < f->nfail; i++)
		L->stateful |= has_group(f->fail[i].re, "mlfid");
	L->stateful |= has_group(f->pref, "mlfid") || f->maxlines > 1;
	if (f->maxlines > 1 || f->nfail > FILTER_MAXRX)
		return;
	derive_list(f, "failregex", L->fail, FILTER_MAXRX, &all_fail);
	if (f->pref) {
		int one = 1;
		derive_list(f, "prefregex", &L->pref, 1, &one);
	}
	/* ignoreregex runs before failregex (and can say IGNORED alone) only
	 * when there are far fewer of them: then its lines are candidates too */
	if (f->nign && f->nign < f->nfail - 2) {
		derive_list(f, "ignoreregex", L->ign, FILTER_MAXRX, &all_ign);
		L->nign = f->nign;
	}
	L->on = all_fail && all_ign;
	L->nfail = f->nfail;
}

int filter_lit_candidate(const struct filter *f, const char *a, size_t an,
    const char *b, size_t bn)
{
	const struct filter_lits *L = &f->lits;
	for (int i = 0; i < L->nign; i++)
		if (lit_in2(a, an, b, bn, L->ign[i].s, L->ign[i].len))
			return 1;
	if (L->pref.len && !lit_in2(a, an, b, bn, L->pref.s, L->pref.len))
		return 0;
	for (int i = 0; i < L->nfail; i++)
		if (lit_in2(a, an, b, bn, L->fail[i].s, L->fail[i].len))
			return 1;
	return 0;
}

const char *filter_scan_key(struct filter *f, size_t *len)
{
	if (!f->lits.ready)
		filter_lit_setup(f);
	const struct filter_lits *L = &f->lits;
	if (!L->on || L->off || L->stateful || L->nign || !date_line_start(f->date))
		return NULL;
	/* one literal every match holds: the failregex's if there is one
	 * (the rarer, as a rule), else the prefregex's */
	const struct flit *k = L->nfail == 1 ? &L->fail[0] : L->pref.len ? &L->pref : NULL;
	if (k == NULL || k->len == 0)
		return NULL;
	/* the date is cut out of the subject: what stood before it (at most
	 * two non-word bytes) may begin the literal there */
	size_t skip = 0;
	for (; skip < 2 && skip < k->len; skip++) {
		unsigned char c = (unsigned char)k->s[skip];
		if (c >= 0x80)
			return NULL;	/* \W of a UTF-8 character: not worth it */
		if (isalnum(c) || c == '_')
			break;
	}
	if (skip == k->len)
		return NULL;
	*len = k->len - skip;
	return k->s + skip;
}
