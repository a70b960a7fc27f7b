/*
 * filter_impl — what filter.c (load, read through ini.h), filter_match.c
 * (match) and builtin_filters.c share. Not for use outside src/warden/filter*.c.
 */
#ifndef MW_FILTER_IMPL_H
#define MW_FILTER_IMPL_H
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stddef.h>
#include <time.h>

#include "common/buf.h"
#include "warden/ini.h"

#define FILTER_MAXRX 64
#define FILTER_MAXLINES 1000
#define bstr(b) ((b)->data ? (b)->data : "")

/* Bounds of every match (hostile log lines meet admins' regexes): lines
 * longer than FILTER_LINE_MAX are cut before matching; PCRE2's match
 * limit (JIT and interpreter), depth limit and heap limit (KiB;
 * interpreter) end a runaway match as "no match", logged once per regex. */
#define FILTER_LINE_MAX		8192
#define FILTER_MATCH_LIMIT	200000
#define FILTER_DEPTH_LIMIT	10000
#define FILTER_HEAP_LIMIT	(16 * 1024)

/* Groups of a match as fail2ban's groupdict(): name -> value or None. */
#define FD_MAX 48
#define FD_ARENA 4096
struct fdict {
	int n;
	const char *name[FD_MAX];	/* into a regex's name table */
	int vo[FD_MAX];			/* offset into arena, -1 = None */
	size_t used;
	int nusers;			/* the users set: size (0..2), first */
	char user1[256];
	char arena[FD_ARENA];
};

struct frx {
	pcre2_code *re;
	char *file;
	int line;
	int limit_logged;		/* a runaway match was logged */
};

/* Multi-line failure-id cache (fail2ban's mlfidCache: 100 entries, 5 min). */
#define MLF_MAX 100
#define MLF_TTL 300
struct mlf_entry {
	char id[256];			/* "" = free slot */
	time_t expires;
	long seq;			/* insertion order, for FIFO eviction */
	struct fdict d;
};

/* filter_lit.c: a literal every match of one regex contains. */
#define FILTER_LIT_MAX 64
struct flit {
	char s[FILTER_LIT_MAX];
	size_t len;			/* 0: none derived */
};

/* The prefilter of a single-line filter (set up on first use). */
struct filter_lits {
	int ready;			/* filter_lit_setup() ran */
	int on;				/* every regex has a literal: lines may be skipped */
	int stateful;			/* maxlines > 1 or <F-MLFID>: state spans lines */
	int off;			/* turned off (filter_set_prefilter) */
	struct flit pref;		/* prefregex's (len 0: none needed) */
	struct flit fail[FILTER_MAXRX];	/* one of these must be present */
	struct flit ign[FILTER_MAXRX];	/* ignoreregex run first: these too */
	int nfail, nign;
};

/* A buffered line: the text without its time stamp. */
struct fline {
	char *text;
	size_t len, cap;
};

struct filter {
	char *file;
	struct ini ini;			/* kept for filter_option() */
	char **defname, **defval;	/* resolved definition */
	int ndef;
	struct frx fail[FILTER_MAXRX], ign[FILTER_MAXRX];
	int nfail, nign;
	pcre2_code *pref;
	struct date_detector *date;
	pcre2_match_data *md, *md2;
	time_t last_date;
	int maxlines;
	/* streaming state */
	struct fline *lines;		/* the line buffer, oldest first */
	struct fline *lines2;		/* scratch for reordering */
	int nlines;
	struct buf subj, subj2;		/* joined buffer, ignore subject */
	struct mlf_entry *mlf;		/* MLF_MAX slots, allocated on first use */
	long seq;
	struct fdict work, pre, det;	/* scratch */
	int cut_logged, pref_logged;	/* logged once: long line, prefregex limit */
	struct filter_lits lits;	/* filter_lit.c */
};

/* filter.c: "a:line: b" (fmt) into err. */
void filter_set_err(char *err, size_t errlen, const char *fmt, const char *a,
    int line, const char *b);

/* builtin_filters.c: the text of a built-in file ("postfix.conf"), or NULL. */
const char *builtin_filter_text(const char *file);

/* filter_lit.c: derive the literals (lazily, on first match), the longest
 * literal a translated pattern requires, and the test on a line whose
 * subject is a + b (the line around its date). */
void filter_lit_setup(struct filter *f);
size_t filter_lit_derive(const char *pcre, char *out, size_t outlen);
int filter_lit_candidate(const struct filter *f, const char *a, size_t an,
    const char *b, size_t bn);

/* filter_match.c */
void filter_state_free(struct filter *f);

/* regex.c: the match context with the FILTER_*_LIMIT bounds, shared by
 * every filter and date match of the process. */
pcre2_match_context *regex_match_context(void);
/* pcre2_match() under those bounds; a limit hit is -1 (no match) and,
 * the first time for *logged, a warning naming what (file:line). */
int regex_search(pcre2_code *re, const char *s, size_t len, pcre2_match_data *md,
    int *logged, const char *file, int line);
#endif
