/*
 * filter — fail2ban-compatible log filters for the ban engine and for
 * `mailwarden scan`.
 *
 * filter.c reads a filter file in fail2ban's INI dialect ([INCLUDES]
 * before/after, [DEFAULT], [Definition], [Init], .local overrides,
 * %(name)s and <name> interpolation, `name[mode=auth]` options) and
 * matches lines; regex.c turns fail2ban's Python regexes (<HOST>,
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

/* What filter_match() found in one line. */
struct filter_hit {
	enum filter_result result;
	int regex;		/* index of the failregex that matched, or -1 */
	int has_date;		/* 1 if the line carried its own time stamp */
	time_t time;		/* time of the line (epoch), or the clock's now */
	char host[256];		/* ip4, ip6 or dns group; else the fid */
	char user[256];		/* <F-USER> (or alt_user), "" if none */
	char fid[256];		/* <F-ID>, "" if none */
};

/*
 * Load FILTER: a name looked up as NAME.conf (+ NAME.local) in each of
 * dirs (NULL-terminated), or a path to a .conf file. Options follow the
 * name in brackets: "postfix[mode=auth, logtype=short]". NULL and a
 * message naming file and line in err on error.
 */
struct filter *filter_load(const char *spec, const char *const *dirs,
    char *err, size_t errlen);
/* Free a filter (NULL is fine). */
void filter_free(struct filter *f);
/* Match one log line (no newline); fills hit and returns hit->result. */
enum filter_result filter_match(struct filter *f, const char *line,
    struct filter_hit *hit);
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
 * (?P<n>..), (?P=n), \Z, {,n}, \uXXXX. Returns an xmalloc'd string, or
 * NULL with "file:line: reason" in err for what cannot be translated.
 */
char *regex_translate(const char *py, const char *file, int line,
    char *err, size_t errlen);
/* Compile a translated regex (UTF, UCP, DUPNAMES; JIT); NULL + err. */
void *regex_compile(const char *pcre, int caseless, char *err, size_t errlen);
/* Free a compiled regex. */
void regex_free(void *re);

/* Replace the clock: now (epoch) for dates without a year or day; 0 = real. */
void date_set_now(time_t now);
/* The clock's current time. */
time_t date_now(void);
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
/* Parse one strftime-style pattern directly (for tests); -1 if no match. */
int date_parse(const char *pattern, const char *text, time_t *t);
#endif
