/*
 * filter — fail2ban-compatible log filters for the ban engine and for
 * `mailwarden scan`.
 *
 * filter.c loads a filter: ini.c reads fail2ban's INI dialect ([INCLUDES]
 * before/after, [DEFAULT], [Definition], [Init], .local overrides,
 * %(name)s, %(known/name)s and <name> interpolation) from the filter.d
 * dirs or builtin_filters.c, `name[mode=auth]` options apply;
 * filter_match.c matches lines one at a time with fail2ban 1.0's
 * multi-line rules (maxlines, <SKIPLINES>, <F-MLFID>, <F-NOFAIL>,
 * <F-MLFFORGET>, <F-MLFGAINED>); regex.c turns fail2ban's Python regexes (<HOST>,
 * <F-USER>, (?P<n>..)) into PCRE2; date.c finds and parses the time stamp
 * of a line (fail2ban's default detectors, {^LN-BEG}, strftime-style
 * datepattern, EPOCH). Every regex is compiled once, with the PCRE2 JIT.
 */
#ifndef MW_FILTER_H
#define MW_FILTER_H
#include <stddef.h>
#include <time.h>

struct filter;
struct date_detector;

enum filter_result {
	FILTER_MISS = 0,	/* no failregex matched */
	FILTER_FAIL,		/* a failure: host (or fid) is set */
	FILTER_IGNORED,		/* a failregex matched, an ignoreregex too */
};

/*
 * What filter_match() found for one line. With maxlines > 1 or <F-MLFID>
 * a failure may be reported on a later line than the one that named the
 * address: host/user then come from the earlier lines of the same
 * connection (mlfid), time is always the time of the line just fed.
 */
struct filter_hit {
	enum filter_result result;
	int regex;		/* index of the failregex that matched, or -1 */
	int has_date;		/* 1 if the line carried its own time stamp */
	time_t time;		/* time of the line (epoch), or the clock's now */
	char host[256];		/* ip4, ip6 or dns group; else the fid */
	char user[256];		/* <F-USER> (or alt_user), "" if none */
	int has_user;		/* 1 if a user group matched (user may be "") */
	char fid[256];		/* <F-ID>, "" if none */
	char mlfid[256];	/* <F-MLFID> (connection id), "" if none */
	int lines;		/* buffered lines the failregex used (>= 1) */
	int nofail;		/* a failregex matched as <F-NOFAIL> (MISS) */
	int pending;		/* matched, address not known yet (MISS) */
};

/*
 * Load FILTER: a name looked up as NAME.conf (+ NAME.local from the same
 * dir) in each of dirs (NULL-terminated, may be NULL) in order, and then
 * among the filters built into the binary (mailwarden, postfix, dovecot,
 * sshd, and their mailwarden-common.conf); or a path to a .conf file. [INCLUDES] are looked up in
 * the including file's dir, then the later dirs, then the built-ins (a
 * built-in filter only includes built-ins). Options follow the name in
 * brackets: "postfix[mode=auth, logtype=short]". NULL and a message
 * naming file and line in err on error. filter_file() tells which file
 * was used ("built-in:postfix" for a built-in).
 */
struct filter *filter_load(const char *spec, const char *const *dirs,
    char *err, size_t errlen);
/* Free a filter (NULL is fine). */
void filter_free(struct filter *f);
/*
 * Feed one log line (no newline), in log order; fills hit and returns
 * hit->result. The filter keeps the multi-line state (the last maxlines
 * lines, the <F-MLFID> connections), so use one struct filter per log
 * stream and never share it between threads.
 */
enum filter_result filter_match(struct filter *f, const char *line,
    struct filter_hit *hit);
/* The same for line[0..len) (need not be NUL-terminated; a NUL in it ends
 * the line as for filter_match()). */
enum filter_result filter_match_len(struct filter *f, const char *line, size_t len,
    struct filter_hit *h);
/* The same for a line whose time is known (the journal): no date search. */
enum filter_result filter_match_time(struct filter *f, const char *line,
    time_t t, struct filter_hit *hit);
/*
 * The prefilter (filter_lit.c): before any regex, a line is checked for
 * the literals every match must contain and skipped (FILTER_MISS) without
 * them. On by default for single-line filters whose every regex yields a
 * literal; off changes speed only, never a result (for tests, benches).
 */
void filter_set_prefilter(struct filter *f, int on);
/* 1 if lines are prefiltered. */
int filter_prefilter_on(struct filter *f);
/*
 * A byte string every line the filter can match contains, as it is in
 * the file (the date not cut out), for a caller that searches a whole
 * buffer and feeds only the lines holding it: a literal every match
 * needs, less up to two leading non-word bytes (a {^LN-BEG} date may sit
 * there). NULL when lines cannot be skipped that way (no such literal,
 * the prefilter off, multi-line state, an ignoreregex run first, dates
 * anywhere in the line); every line must be fed then.
 */
const char *filter_scan_key(struct filter *f, size_t *len);
/* memmem() for such a key (the prefilter's SIMD search): the first
 * occurrence of lit[0..ln) in s[0..n), or NULL. */
const char *filter_lit_search(const char *s, size_t n, const char *lit, size_t ln);
/* 1 if matching one line depends on earlier lines (maxlines > 1 or
 * <F-MLFID>): such a log cannot be split between threads. */
int filter_stateful(struct filter *f);
/* Forget the multi-line state (e.g. when a followed log is rotated). */
void filter_reset(struct filter *f);
/* The filter's maxlines (1 for single-line filters). */
int filter_maxlines(const struct filter *f);
/* Number of failregex / ignoreregex entries. */
int filter_nfail(const struct filter *f);
int filter_nignore(const struct filter *f);
/* The file the filter was read from. */
const char *filter_file(const struct filter *f);
/* The final value of a [Definition] option after interpolation, or NULL. */
const char *filter_option(const struct filter *f, const char *name);

/*
 * Translate one fail2ban (Python) regex into PCRE2 syntax: <HOST>, <ADDR>,
 * <IP4>, <IP6>, <DNS>, <CIDR>, <SUBNET>, <F-ID/>, <F-XXX>..</F-XXX>,
 * <SKIPLINES>,
 * (?P<n>..), (?P=n), \Z, {,n}, \uXXXX. Returns an xmalloc'd string, or
 * NULL with "file:line: reason" in err for what cannot be translated.
 */
char *regex_translate(const char *py, const char *file, int line,
    char *err, size_t errlen);
#define REGEX_CASELESS	1
#define REGEX_MULTILINE	2	/* ^ and $ at every line (maxlines > 1) */
/* Compile a translated regex (UTF, UCP, DUPNAMES; JIT); NULL + err. */
void *regex_compile(const char *pcre, unsigned flags, char *err, size_t errlen);
/* Free a compiled regex. */
void regex_free(void *re);

/*
 * Build a date detector from a filter's datepattern value (one pattern a
 * line; NULL or "" = fail2ban's default detectors anywhere in the line,
 * "{^LN-BEG}" = the same anchored at line start, "{NONE}" = no date).
 */
struct date_detector *date_new(const char *datepattern, char *err,
    size_t errlen);
/* Free a detector. */
void date_free(struct date_detector *d);
/*
 * Find the date in line[0..len): 1 and its span [*start, *end) and epoch
 * in *t (local time zone from TZ unless the stamp has one), 0 if none.
 */
int date_find(struct date_detector *d, const char *line, size_t len,
    size_t *start, size_t *end, time_t *t);
/* 1 if every date d finds starts within a line's first 2 bytes, after
 * nothing but non-word bytes ({^LN-BEG}), or it finds none ({NONE}). */
int date_line_start(const struct date_detector *d);
/* Parse one strftime-style pattern directly (for tests); -1 if no match. */
int date_parse(const char *pattern, const char *text, time_t *t);
#endif
