/*
 * date — find and parse the time stamp of a log line as fail2ban does:
 * its default detectors (ISO 8601, syslog without year, apache, epoch,
 * ...), {^LN-BEG} anchoring, {DATE} and {UNB} in datepattern, explicit
 * strftime-style patterns (%Y-%m-%d %H:%M:%S, %b %d ...), EPOCH/LEPOCH.
 * Dates without a year take the clock's year (the year before when that
 * would be over a day in the future); the zone is TZ unless the stamp
 * carries one. The clock is common/clock.h's (clock_fix_wall in tests).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/clock.h"
#include "common/buf.h"
#include "common/util.h"
#include "warden/filter/filter.h"
#include "warden/filter/filter_impl.h"

#define DATE_MAXT 64
#define buf_str(b) ((b)->data ? (b)->data : "")

enum { T_STRF, T_EPOCH, T_LEPOCH, T_TAI64N };

/* The named groups strf_time() reads, looked up once per template. */
enum { G_Y, G_y, G_m, G_b, G_d, G_H, G_I, G_p, G_M, G_S, G_z, G_Z, G_N };
static const char *const gnames[G_N] = { "Y", "y", "m", "b", "d", "H", "I", "p",
	"M", "S", "z", "Z" };
#define G_MAXDUP 4	/* group numbers kept per name (DUPNAMES) */

struct date_tmpl {
	int kind;
	pcre2_code *re;
	uint16_t grp[G_N][G_MAXDUP];	/* group numbers of each name, 0 = end */
};

/* mktime() stats the zone file on every call: local midnights and hours
 * are remembered instead (see local_epoch). */
struct hour_cache {
	int valid, year, mon, mday, hour;
	time_t base;		/* epoch of year-mon-mday hour:00:00 */
};

struct date_detector {
	int none;
	int line_start;	/* dates only after <= 2 non-word bytes at line start */
	int n;
	struct date_tmpl t[DATE_MAXT];
	pcre2_match_data *md;
	int rc;		/* pairs set by the last match */
	/* the last date text parsed: a log repeats the same second often */
	int c_tmpl;
	size_t c_len;
	char c_text[64];
	time_t c_time, c_now;
	/* the last line's head when its date started it: [0, c_len + 12) */
	size_t h_len;
	char h_text[96];
	struct hour_cache hc;
	time_t now_for;		/* nowtm is localtime(now_for) */
	struct tm nowtm;
};

/* strftime directive -> regex, fail2ban's strptime.timeRE. */
static const struct { const char *key, *re; } directives[] = {
	{ "ExY", "(?P<Y>20\\d\\d)" },
	{ "Exy", "(?P<y>\\d\\d)" },
	{ "Exm", "(?P<m>0[1-9]|1[0-2])" },
	{ "Exd", "(?P<d>[1-2]\\d|0[1-9]|3[0-1])" },
	{ "ExH", "(?P<H>[0-1]\\d|2[0-3])" },
	{ "ExM", "(?P<M>[0-5]\\d)" },
	{ "ExS", "(?P<S>[0-5]\\d|6[0-1])" },
	{ "Exk", " ?(?P<H>[0-1]?\\d|2[0-3])" },
	{ "Exl", " ?(?P<I>1[0-2]|\\d)" },
	{ "ExZ", "(?P<Z>[A-Z](?:[A-Z]{2,4})?)" },
	{ "Exz", "(?P<z>(?:[A-Z](?:[A-Z]{2,4})?)?[+-][01]\\d(?::?\\d{2})?|[A-Z](?:[A-Z]{2,4})?)" },
	{ "a", "(?P<a>monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tue|wed|thu|fri|sat|sun)" },
	{ "A", "(?P<a>monday|tuesday|wednesday|thursday|friday|saturday|sunday)" },
	{ "b", "(?P<b>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)" },
	{ "B", "(?P<b>january|february|march|april|may|june|july|august|september|october|november|december)" },
	{ "d", "(?P<d>[1-2]\\d|[0 ]?[1-9]|3[0-1])" },
	{ "f", "(?P<f>[0-9]{1,6})" },
	{ "H", "(?P<H>[0-1]?\\d|2[0-3])" },
	{ "I", "(?P<I>1[0-2]|0[1-9]|[1-9])" },
	{ "j", "(?P<j>36[0-6]|3[0-5]\\d|[12]\\d\\d|0[1-9]\\d|00[1-9]|[1-9]\\d|0[1-9]|[1-9])" },
	{ "k", " ?(?P<H>[0-2]?\\d)" },
	{ "l", " ?(?P<I>1?\\d)" },
	{ "m", "(?P<m>0?[1-9]|1[0-2])" },
	{ "M", "(?P<M>[0-5]?\\d)" },
	{ "p", "(?P<p>am|pm)" },
	{ "S", "(?P<S>[0-5]?\\d|6[0-1])" },
	{ "w", "(?P<w>[0-6])" },
	{ "y", "(?P<y>\\d\\d)" },
	{ "Y", "(?P<Y>\\d{4})" },
	{ "z", "(?P<z>Z|UTC|GMT|[+-][01]\\d(?::?\\d{2})?)" },
	{ "Z", "(?P<Z>Z|[A-Z]{3,5})" },
};

/* fail2ban's default templates, in its order. */
static const char *const defaults[] = {
	"%ExY(?P<_sep>[-/.])%m(?P=_sep)%d(?:T|  ?)%H:%M:%S(?:[.,]%f)?(?:\\s*%z)?",
	"(?:%a )?%b %d %k:%M:%S(?:\\.%f)?(?: %ExY)?",
	"(?:%a )?%b %d %ExY %k:%M:%S(?:\\.%f)?",
	"%d(?P<_sep>[-/])%m(?P=_sep)(?:%ExY|%Exy) %k:%M:%S",
	"%d(?P<_sep>[-/])%b(?P=_sep)%ExY[ :]?%H:%M:%S(?:\\.%f)?(?: %z)?",
	"%m/%d/%ExY:%H:%M:%S",
	"%m-%d-%ExY %k:%M:%S(?:\\.%f)?",
	"EPOCH",
	"^%H:%M:%S",
	"^<%m/%d/%Exy@%H:%M:%S>",
	"%Exy%Exm%Exd  ?%H:%M:%S",
	"%b %d, %ExY %I:%M:%S %p",
	"^%b-%d-%Exy %k:%M:%S",
	"%ExY%Exm%Exd(?:T|  ?)%ExH%ExM%ExS(?:[.,]%f)?(?:\\s*%z)?",
	"(?:%Z )?(?:%a )?%b %d %k:%M:%S(?:\\.%f)?(?: %ExY)?",
	"(?:%z )?(?:%a )?%b %d %k:%M:%S(?:\\.%f)?(?: %ExY)?",
	"TAI64N",
};

static const char *const months[] = { "jan", "feb", "mar", "apr", "may",
	"jun", "jul", "aug", "sep", "oct", "nov", "dec" };

/* Does regex `pat` match `subj`? (helper for fail2ban's meta-regexes) */
static int meta_match(const char *pat, const char *subj)
{
	int ec;
	PCRE2_SIZE eo;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
	    0, &ec, &eo, NULL);
	if (re == NULL)
		return 0;
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
	int rc = pcre2_match(re, (PCRE2_SPTR)subj, strlen(subj), 0, 0, md, NULL);
	pcre2_match_data_free(md);
	pcre2_code_free(re);
	return rc >= 0;
}

/* strftime-style pattern -> regex; 1 in *alpha if it has names. */
static int strf_to_regex(const char *p, struct buf *out, int *alpha)
{
	while (*p) {
		if (p[0] != '%') {
			buf_append(out, p, 1);
			p++;
			continue;
		}
		if (p[1] == '%') {
			buf_append(out, "%", 1);
			p += 2;
			continue;
		}
		size_t i, best = 0, bl = 0;
		for (i = 0; i < sizeof(directives) / sizeof(directives[0]); i++) {
			size_t kl = strlen(directives[i].key);
			if (strncmp(p + 1, directives[i].key, kl) == 0 && kl > bl) {
				best = i;
				bl = kl;
			}
		}
		if (bl == 0)
			return -1;
		if (strchr("aAbBp", directives[best].key[0]) && bl == 1)
			*alpha = 1;
		buf_append(out, directives[best].re, strlen(directives[best].re));
		p += 1 + bl;
	}
	return 0;
}

/* Add word/line boundaries and group 1 around the date, as fail2ban. */
static void bound_regex(const char *rx, int word_begin, int start, int word_end,
    struct buf *out)
{
	struct buf tmp;
	buf_init(&tmp, 1 << 16);
	while (isspace((unsigned char)*rx))
		rx++;
	size_t n = strlen(rx);
	while (n && isspace((unsigned char)rx[n - 1]))
		n--;
	char *r = xstrndup(rx, n);
	int bb = word_begin && !meta_match("^\\(*(?:\\(\\?\\w+\\))?(?:\\^|\\(*\\*\\*|\\((?:\\?:)?\\^)", r);
	int be = word_end && !meta_match("(?<!\\\\)(?:\\$\\)?|\\\\b|\\\\s|\\*\\*\\)*)$", r);
	/* drop ** markers */
	char *st = strstr(r, "**");
	if (st && (st == r || strspn(r, "(") == (size_t)(st - r)))
		memmove(st, st + 2, strlen(st + 2) + 1);
	n = strlen(r);
	if (n >= 2 && strcmp(r + n - 2, "**") == 0)
		r[n - 2] = '\0';
	if (bb)
		buf_puts(out, start ? "^(?:\\W{0,2})?" : "(?=^|\\b|\\W)");
	if (!meta_match("(?<!(?:\\(\\?))(?<!\\\\)\\((?!\\?)", r)) {
		/* no group: wrap, keeping a leading ^ and trailing $ outside */
		const char *b = r;
		size_t len = strlen(r);
		if (*b == '^') {
			buf_puts(out, "^");
			b++;
			len--;
		}
		int dollar = len && b[len - 1] == '$' && (len < 2 || b[len - 2] != '\\');
		buf_puts(out, "(");
		buf_append(out, b, len - (size_t)dollar);
		buf_puts(out, ")");
		if (dollar)
			buf_puts(out, "$");
	} else {
		buf_puts(out, r);
	}
	if (be)
		buf_puts(out, "(?=\\b|\\W|$)");
	free(r);
	buf_free(&tmp);
}

static pcre2_code *compile_rx(const char *rx, int caseless, char *err, size_t errlen)
{
	int ec;
	PCRE2_SIZE eo;
	uint32_t opt = PCRE2_DUPNAMES | PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_UCP;
	if (caseless)
		opt |= PCRE2_CASELESS;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)rx, PCRE2_ZERO_TERMINATED, opt,
	    &ec, &eo, NULL);
	if (re == NULL) {
		char msg[256];
		pcre2_get_error_message(ec, (PCRE2_UCHAR *)msg, sizeof(msg));
		if (snprintf(err, errlen, "datepattern '%s': %s at offset %zu",
		    rx, msg, (size_t)eo) >= (int)errlen)
			err[errlen - 1] = '\0';
		return NULL;
	}
	(void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
	return re;
}

/* fail2ban's RE_GROUPED: a "(" that opens a capturing group. */
static int has_plain_group(const char *r)
{
	for (const char *p = r; *p; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			continue;
		}
		if (*p == '(' && p[1] != '?')
			return 1;
	}
	return 0;
}

/* The group numbers of each name strf_time() reads, from the name table. */
static void tmpl_groups(struct date_tmpl *tp)
{
	uint32_t esz = 0;
	memset(tp->grp, 0, sizeof(tp->grp));
	pcre2_pattern_info(tp->re, PCRE2_INFO_NAMEENTRYSIZE, &esz);
	for (int g = 0; g < G_N; g++) {
		PCRE2_SPTR first, last;
		if (pcre2_substring_nametable_scan(tp->re, (PCRE2_SPTR)gnames[g], &first, &last) < 0)
			continue;
		int k = 0;
		for (PCRE2_SPTR e = first; e <= last && k < G_MAXDUP; e += esz)
			tp->grp[g][k++] = (uint16_t)(((uint32_t)e[0] << 8) | e[1]);
	}
}

/* Add one template; pre/post wrap it ({DATE}); start = {^LN-BEG}. */
static int add_tmpl(struct date_detector *d, const char *pat, int start,
    const char *pre, const char *post, char *err, size_t errlen)
{
	struct buf rx, body;
	int alpha = 0, kind = T_STRF, wb = 1, we = 1, rc = -1;

	if (d->n >= DATE_MAXT) {
		str_copy(err, errlen, "too many datepatterns");
		return -1;
	}
	buf_init(&rx, 1 << 16);
	buf_init(&body, 1 << 16);
	if (strncmp(pat, "{UNB}", 5) == 0) {
		pat += 5;
		wb = we = 0;
	}
	if (strncmp(pat, "{^LN-BEG}", 9) == 0) {
		pat += 9;
		start = 1;
	}
	if (strcmp(pat, "EPOCH") == 0 || strcmp(pat, "LEPOCH") == 0) {
		kind = pat[0] == 'L' ? T_LEPOCH : T_EPOCH;
		const char *e = kind == T_LEPOCH ?
		    "\\d{10,11}(?:\\d{3}(?:\\.\\d{1,6}|\\d{3})?)?" :
		    "\\d{10,11}\\b(?:\\.\\d{3,6})?";
		if (start)
			buf_printf(&body, "^(?:\\W{0,2})?((?P<square>(?<=^\\[))?%s)(?(square)(?=\\]))(?=\\b|\\W|$)", e);
		else
			buf_printf(&body, "((?:^|(?P<square>(?<=^\\[))|(?P<selinux>(?<=\\baudit\\()))%s)(?:(?(selinux)(?=:\\d+\\)))|(?(square)(?=\\])))(?=\\b|\\W|$)", e);
		wb = we = 0;
	} else if (strcmp(pat, "TAI64N") == 0) {
		kind = T_TAI64N;
		buf_puts(&body, start ? "^(?:\\W{0,2})?(@[0-9a-f]{24})(?=\\b|\\W|$)" :
		    "(?=^|\\b|\\W)(@[0-9a-f]{24})(?=\\b|\\W|$)");
		wb = we = 0;
	} else {
		const char *ep = strstr(pat, "{EPOCH}");
		if (ep == NULL)
			ep = strstr(pat, "{LEPOCH}");
		if (ep != NULL) {
			kind = ep[1] == 'L' ? T_LEPOCH : T_EPOCH;
			buf_puts(&rx, "(");
			buf_append(&rx, pat, (size_t)(ep - pat));
			buf_puts(&rx, kind == T_LEPOCH ?
			    "(\\d{10,11}(?:\\d{3}(?:\\.\\d{1,6}|\\d{3})?)?)" :
			    "(\\d{10,11}\\b(?:\\.\\d{3,6})?)");
			buf_puts(&rx, strchr(ep, '}') + 1);
			buf_puts(&rx, ")");
		} else if (strf_to_regex(pat, &rx, &alpha) < 0) {
			if (snprintf(err, errlen, "datepattern '%s': unknown %% directive", pat) >= (int)errlen)
				err[errlen - 1] = '\0';
			goto out;
		}
		bound_regex(buf_str(&rx), wb, start, we, &body);
	}
	struct buf full;
	buf_init(&full, 1 << 16);
	if (pre) {
		/*
		 * {DATE} wrapping: as fail2ban's DateTemplate.setRegex, when
		 * the prefix/suffix have no group of their own, all of it
		 * (prefix, date, suffix) is the date cut from the line.
		 */
		int own = has_plain_group(pre) || has_plain_group(post);
		const char *p0 = pre;
		if (!own && *p0 == '^') {
			buf_puts(&full, "^");
			p0++;
		}
		if (!own)
			buf_puts(&full, "(");
		buf_puts(&full, p0);
		buf_puts(&full, buf_str(&body)[0] == '^' ? buf_str(&body) + 1 : buf_str(&body));
		size_t pl = strlen(post);
		int dollar = !own && pl && post[pl - 1] == '$' && (pl < 2 || post[pl - 2] != '\\');
		buf_append(&full, post, pl - (size_t)dollar);
		if (!own)
			buf_puts(&full, ")");
		if (dollar)
			buf_puts(&full, "$");
	} else {
		buf_puts(&full, buf_str(&body));
	}
	d->t[d->n].kind = kind;
	d->t[d->n].re = compile_rx(buf_str(&full), alpha, err, errlen);
	buf_free(&full);
	if (d->t[d->n].re == NULL)
		goto out;
	tmpl_groups(&d->t[d->n]);
	d->n++;
	rc = 0;
out:
	buf_free(&rx);
	buf_free(&body);
	return rc;
}

struct date_detector *date_new(const char *dp, char *err, size_t errlen)
{
	struct date_detector *d = xcalloc(1, sizeof(*d));
	d->c_tmpl = -1;
	int rc = 0;

	if (dp == NULL || *dp == '\0' || strcmp(dp, "{^LN-BEG}") == 0) {
		int start = dp != NULL && *dp != '\0';
		/* every default template then opens with ^(?:\W{0,2})? or ^ */
		d->line_start = start;
		for (size_t i = 0; rc == 0 && i < sizeof(defaults) / sizeof(defaults[0]); i++)
			rc = add_tmpl(d, defaults[i], start, NULL, NULL, err, errlen);
	} else if (strcmp(dp, "{NONE}") == 0) {
		d->none = 1;
		d->line_start = 1;
	} else {
		char *copy = xstrdup(dp), *save = NULL;
		for (char *l = strtok_r(copy, "\n", &save); rc == 0 && l;
		    l = strtok_r(NULL, "\n", &save)) {
			l = str_trim(l);
			if (*l == '\0')
				continue;
			char *dt = strstr(l, "{DATE}");
			if (strcmp(l, "{^LN-BEG}") == 0) {
				for (size_t i = 0; rc == 0 && i < sizeof(defaults) / sizeof(defaults[0]); i++)
					rc = add_tmpl(d, defaults[i], 1, NULL, NULL, err, errlen);
			} else if (dt != NULL) {
				*dt = '\0';
				for (size_t i = 0; rc == 0 && i < sizeof(defaults) / sizeof(defaults[0]); i++)
					rc = add_tmpl(d, defaults[i], 0, l, dt + 6, err, errlen);
			} else {
				rc = add_tmpl(d, l, 0, NULL, NULL, err, errlen);
			}
		}
		free(copy);
	}
	if (rc < 0) {
		date_free(d);
		return NULL;
	}
	d->md = pcre2_match_data_create(64, NULL);
	return d;
}

void date_free(struct date_detector *d)
{
	if (d == NULL)
		return;
	for (int i = 0; i < d->n; i++)
		pcre2_code_free(d->t[i].re);
	pcre2_match_data_free(d->md);
	free(d);
}

/* Group g's value of the last match, or NULL (DUPNAMES: first set). */
static const char *grp(const struct date_tmpl *tp, pcre2_match_data *md, const char *subj,
    int g, char *out, size_t outlen)
{
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
	uint32_t cnt = pcre2_get_ovector_count(md);
	for (int k = 0; k < G_MAXDUP && tp->grp[g][k]; k++) {
		uint32_t n = tp->grp[g][k];
		if (n >= cnt || ov[2 * n] == PCRE2_UNSET)
			continue;
		size_t l = ov[2 * n + 1] - ov[2 * n];
		if (l >= outlen)
			l = outlen - 1;
		memcpy(out, subj + ov[2 * n], l);
		out[l] = '\0';
		return out;
	}
	return NULL;
}

/*
 * mktime(c) for a local time without a zone, remembering the epoch of the
 * hour: the next time of the same hour is that plus minutes and seconds,
 * checked with localtime_r() (no zone-file stat as mktime() does); a time
 * that does not come back the same (a DST change) is left to mktime().
 */
static time_t local_epoch(struct hour_cache *hc, const struct tm *c)
{
	if (hc->valid && c->tm_year == hc->year && c->tm_mon == hc->mon &&
	    c->tm_mday == hc->mday && c->tm_hour == hc->hour && c->tm_min >= 0 &&
	    c->tm_min < 60 && c->tm_sec >= 0 && c->tm_sec < 60) {
		time_t t = hc->base + c->tm_min * 60 + c->tm_sec;
		struct tm back;
		if (localtime_r(&t, &back) && back.tm_year == c->tm_year &&
		    back.tm_mon == c->tm_mon && back.tm_mday == c->tm_mday &&
		    back.tm_hour == c->tm_hour && back.tm_min == c->tm_min &&
		    back.tm_sec == c->tm_sec)
			return t;
	}
	struct tm m = *c;
	m.tm_isdst = -1;
	time_t t = mktime(&m);
	hc->valid = 0;
	if (t != (time_t)-1 && m.tm_year == c->tm_year && m.tm_mon == c->tm_mon &&
	    m.tm_mday == c->tm_mday && m.tm_hour == c->tm_hour && m.tm_min == c->tm_min &&
	    m.tm_sec == c->tm_sec) {
		hc->valid = 1;
		hc->year = c->tm_year;
		hc->mon = c->tm_mon;
		hc->mday = c->tm_mday;
		hc->hour = c->tm_hour;
		hc->base = t - c->tm_min * 60 - c->tm_sec;
	}
	return t;
}

/* Zone text -> offset in minutes; -1 with *ok = 0 if unknown. */
static int zone_offset(const char *z, int *ok)
{
	static const struct { const char *n; int off; } abbr[] = {
		{ "Z", 0 }, { "UTC", 0 }, { "GMT", 0 }, { "UT", 0 },
		{ "CET", 60 }, { "CEST", 120 }, { "MET", 60 }, { "MEST", 120 },
		{ "EET", 120 }, { "EEST", 180 }, { "WET", 0 }, { "WEST", 60 },
		{ "BST", 60 }, { "EST", -300 }, { "EDT", -240 }, { "CST", -360 },
		{ "CDT", -300 }, { "MST", -420 }, { "MDT", -360 }, { "PST", -480 },
		{ "PDT", -420 }, { "JST", 540 },
	};
	int base = 0;
	size_t al = 0;
	*ok = 1;
	while (isupper((unsigned char)z[al]))
		al++;
	if (al) {
		size_t i;
		for (i = 0; i < sizeof(abbr) / sizeof(abbr[0]); i++)
			if (strlen(abbr[i].n) == al && strncmp(abbr[i].n, z, al) == 0)
				break;
		if (i == sizeof(abbr) / sizeof(abbr[0])) {
			*ok = 0;
			return 0;
		}
		base = abbr[i].off;
	}
	z += al;
	if (*z == '+' || *z == '-') {
		int sign = *z == '-' ? -1 : 1;
		int hh = 0, mm = 0;
		if (isdigit((unsigned char)z[1]) && isdigit((unsigned char)z[2]))
			hh = (z[1] - '0') * 10 + (z[2] - '0');
		const char *m = z + 3;
		if (*m == ':')
			m++;
		if (isdigit((unsigned char)m[0]) && isdigit((unsigned char)m[1]))
			mm = (m[0] - '0') * 10 + (m[1] - '0');
		base += sign * (hh * 60 + mm);
	}
	return base;
}

/* Build the epoch from the named groups of a strftime template match. */
static int strf_time(struct date_detector *d, const struct date_tmpl *re,
    pcre2_match_data *md, const char *s, time_t *t)
{
	char v[64];
	struct tm tm, nowtm;
	time_t now = clock_wall();
	int year = -1, mon = -1, day = -1, tzoff = 0, has_tz = 0;

	if (d->now_for != now || now == 0) {
		localtime_r(&now, &d->nowtm);
		d->now_for = now;
	}
	nowtm = d->nowtm;
	memset(&tm, 0, sizeof(tm));
	if (grp(re, md, s, G_Y, v, sizeof(v)))
		year = atoi(v);
	else if (grp(re, md, s, G_y, v, sizeof(v)))
		year = 2000 + atoi(v);
	if (grp(re, md, s, G_m, v, sizeof(v)))
		mon = atoi(v) - 1;
	else if (grp(re, md, s, G_b, v, sizeof(v))) {
		for (int i = 0; i < 12; i++)
			if (strncasecmp(v, months[i], 3) == 0)
				mon = i;
	}
	if (grp(re, md, s, G_d, v, sizeof(v)))
		day = atoi(v);
	if (grp(re, md, s, G_H, v, sizeof(v)))
		tm.tm_hour = atoi(v);
	else if (grp(re, md, s, G_I, v, sizeof(v))) {
		tm.tm_hour = atoi(v) % 12;
		if (grp(re, md, s, G_p, v, sizeof(v)) && tolower((unsigned char)v[0]) == 'p')
			tm.tm_hour += 12;
	}
	if (grp(re, md, s, G_M, v, sizeof(v)))
		tm.tm_min = atoi(v);
	if (grp(re, md, s, G_S, v, sizeof(v)))
		tm.tm_sec = atoi(v);
	if (grp(re, md, s, G_z, v, sizeof(v)) || grp(re, md, s, G_Z, v, sizeof(v))) {
		int ok;
		int off = zone_offset(v, &ok);
		if (ok) {
			has_tz = 1;
			tzoff = off;
		}
	}
	int assume_year = year < 0, assume_today = mon < 0 && day < 0;
	tm.tm_year = (assume_year ? nowtm.tm_year + 1900 : year) - 1900;
	tm.tm_mon = mon >= 0 ? mon : nowtm.tm_mon;
	tm.tm_mday = day >= 0 ? day : nowtm.tm_mday;
	if (assume_today) {
		tm.tm_mon = nowtm.tm_mon;
		tm.tm_mday = nowtm.tm_mday;
	}
	for (int pass = 0; pass < 2; pass++) {
		struct tm c = tm;
		if (has_tz) {
			*t = timegm(&c) - (time_t)tzoff * 60;
		} else {
			*t = local_epoch(&d->hc, &c);
		}
		if (assume_today && *t > now) {
			*t -= 86400;
			break;
		}
		if (pass == 0 && assume_year && *t > now + 86400) {
			tm.tm_year--;
			continue;
		}
		break;
	}
	return 0;
}

static int tmpl_time(struct date_detector *d, struct date_tmpl *tp, pcre2_match_data *md,
    int rc, const char *s, time_t *t)
{
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
	if (tp->kind == T_STRF)
		return strf_time(d, tp, md, s, t);
	if (tp->kind == T_TAI64N) {
		/* @4000000000000000 + secs, 8 hex of nanoseconds */
		unsigned long long v = strtoull(s + ov[2] + 1 + 0, NULL, 16);
		char h[17];
		memcpy(h, s + ov[2] + 1, 16);
		h[16] = '\0';
		v = strtoull(h, NULL, 16);
		*t = (time_t)(v - 0x4000000000000000ULL);
		return 0;
	}
	/* epoch: the digits in the group holding them */
	size_t g = 1;
	for (int i = 1; i < rc; i++)
		if (ov[2 * i] != PCRE2_UNSET && isdigit((unsigned char)s[ov[2 * i]]))
			g = i;
	const char *p = s + ov[2 * g];
	while (*p && !isdigit((unsigned char)*p))
		p++;
	long long v = strtoll(p, NULL, 10);
	if (tp->kind == T_LEPOCH && v > 100000000000LL)
		v = v > 100000000000000LL ? v / 1000000 : v / 1000;
	*t = (time_t)v;
	return 0;
}

int date_find(struct date_detector *d, const char *line, size_t len,
    size_t *start, size_t *end, time_t *t)
{
	int best = -1;
	size_t bs = (size_t)-1;

	if (d->none)
		return 0;
	/*
	 * Fast path: this line begins with the same bytes as the last one,
	 * through its date and 12 bytes beyond ("Nov 27 10:00:01 mx postfix/"):
	 * every template reads the same text, so the answer is the same.
	 */
	time_t now = clock_wall();
	if (d->h_len && len >= d->h_len && now >= d->c_now && now - d->c_now < 60 &&
	    memcmp(line, d->h_text, d->h_len) == 0) {
		*start = 0;
		*end = d->c_len;
		*t = d->c_time;
		return 1;
	}
	d->h_len = 0;
	int last = -1;
	for (int i = 0; i < d->n; i++) {
		int rc = pcre2_match(d->t[i].re, (PCRE2_SPTR)line, len, 0, 0, d->md,
		    regex_match_context());
		last = i;
		d->rc = rc;
		if (rc < 2)
			continue;
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(d->md);
		if (ov[2] == PCRE2_UNSET || ov[2] >= bs)
			continue;
		bs = ov[2];
		best = i;
		if (bs == 0)
			break;
	}
	if (best < 0)
		return 0;
	if (best != last)	/* md holds the last template tried */
		d->rc = pcre2_match(d->t[best].re, (PCRE2_SPTR)line, len, 0, 0, d->md,
		    regex_match_context());
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(d->md);
	*start = ov[2];
	*end = ov[3];
	size_t tl = *end - *start;
	if (best == d->c_tmpl && tl == d->c_len && now - d->c_now < 60 &&
	    now >= d->c_now && memcmp(line + *start, d->c_text, tl) == 0) {
		*t = d->c_time;
	} else {
		if (tmpl_time(d, &d->t[best], d->md, d->rc, line, t) != 0)
			return 0;
		if (tl >= sizeof(d->c_text))
			return 1;
		d->c_tmpl = best;
		d->c_len = tl;
		memcpy(d->c_text, line + *start, tl);
		d->c_time = *t;
		d->c_now = now;
	}
	if (*start == 0 && tl + 12 <= len && tl + 12 <= sizeof(d->h_text)) {
		d->h_len = tl + 12;
		memcpy(d->h_text, line, d->h_len);
	}
	return 1;
}

int date_line_start(const struct date_detector *d)
{
	return d->line_start;
}

int date_parse(const char *pattern, const char *text, time_t *t)
{
	char err[256];
	size_t s, e;
	struct date_detector *d = date_new(pattern, err, sizeof(err));
	if (d == NULL)
		return -1;
	int rc = date_find(d, text, strlen(text), &s, &e, t) ? 0 : -1;
	date_free(d);
	return rc;
}
