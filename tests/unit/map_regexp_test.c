/*
 * map_regexp_test — regexp: and pcre: tables through map_open(): the
 * examples of Postfix's regexp_table(5) and header_checks(5), flags,
 * negation, nested if/endif, $n substitution, and the errors a bad table
 * gives (file and line). Run with tests/unit as the working directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/map.h"

#include <time.h>

/* regexp_table(5)'s access map example, in both types. */
static void test_access_example(void **state)
{
	static const char *const specs[] = { "regexp:data/access.regexp", "pcre:data/access.pcre" };
	char err[512];
	for (int i = 0; i < 2; i++) {
		struct map *m = map_open(specs[i], 0, err, sizeof(err));
		assert_non_null(m);
		assert_string_equal(map_lookup(m, "a%b@c"), "550 Sender-specified routing rejected");
		assert_string_equal(map_lookup(m, "postmaster@example.com"), "OK");
		assert_string_equal(map_lookup(m, "POSTMASTER@example.com"), "OK");	/* i default */
		assert_string_equal(map_lookup(m, "list-outgoing@example.com"),
		    "550 Use list@example.com instead");
		assert_null(map_lookup(m, "owner-list-outgoing@example.com"));	/* if !/^owner-/ */
		assert_null(map_lookup(m, "user@example.com"));
		assert_null(map_lookup(m, ""));
		map_free(m);
	}
}

/* header_checks(5) and regexp_table(5) header/body examples. */
static void test_checks_examples(void **state)
{
	char err[512];
	struct map *h = map_open("regexp:data/header_checks.regexp", 0, err, sizeof(err));
	assert_non_null(h);
	assert_string_equal(map_lookup(h, "Subject: Make Money Fast!!!"), "REJECT");
	assert_string_equal(map_lookup(h, "To: friend@public.com"), "REJECT");
	assert_null(map_lookup(h, "To: friend@publicXcom"));
	map_free(h);

	struct map *b = map_open("regexp:data/body_checks.regexp", 0, err, sizeof(err));
	assert_non_null(b);
	assert_string_equal(map_lookup(b, "<iframe src=3Dcid:x height=3D0 width=3D0>"),
	    "REJECT IFRAME vulnerability exploit");	/* continuation line */
	assert_string_equal(map_lookup(b,
	    "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx"), "OK");
	assert_null(map_lookup(b, "hello"));
	map_free(b);

	struct map *p = map_open("pcre:data/header_checks.pcre", 0, err, sizeof(err));
	assert_non_null(p);
	assert_string_equal(map_lookup(p, "Content-Disposition: attachment; filename=\"invoice.pdf.exe\""),
	    "REJECT Attachment name \"invoice.pdf.exe\" may not end with \".exe\"");
	assert_string_equal(map_lookup(p, "Content-Type: application/x; name=\"a.VBS\""),
	    "REJECT Attachment name \"a.VBS\" may not end with \".VBS\"");
	assert_null(map_lookup(p, "Content-Type: application/pdf; name=\"invoice.pdf\""));
	map_free(p);
}

static void test_flags_nesting(void **state)
{
	char err[512];
	struct map *p = map_open("pcre:data/header_checks.pcre", 0, err, sizeof(err));
	assert_non_null(p);
	assert_string_equal(map_lookup(p, "X-Case: Exact"), "CASE X-Case: Exact");
	assert_null(map_lookup(p, "X-Case: exact"));	/* i toggled: case-sensitive */
	assert_string_equal(map_lookup(p, "X-Outer: word"), "OUTER-ONLY word");
	assert_string_equal(map_lookup(p, "X-Outer: inner"), "OUTER $5");	/* $$ */
	assert_null(map_lookup(p, "X-Other: word"));
	assert_string_equal(map_lookup(p, "X-Multi: a\n\tb"), "MULTI");	/* m: $ at a newline */
	assert_string_equal(map_lookup(p, "X-Dot: a\nb"), "DOTALL");		/* s: . is a newline */
	map_free(p);
}

static void test_errors(void **state)
{
	static const struct { const char *spec, *err; } cases[] = {
		{ "regexp:data/bad1.regexp", "regexp map data/bad1.regexp, line 2: missing closing delimiter /" },
		{ "pcre:data/bad2.pcre", "pcre map data/bad2.pcre, line 1: out of range replacement index" },
		{ "regexp:data/bad3.regexp", "regexp map data/bad3.regexp, line 2: IF has no matching ENDIF" },
		{ "pcre:data/bad4.pcre", "pcre map data/bad4.pcre, line 1: unknown regexp option \"q\"" },
		{ "regexp:data/bad5.regexp", "regexp map data/bad5.regexp, line 1: no replacement text" },
		{ "regexp:data/bad6.regexp", "regexp map data/bad6.regexp, line 2: ignoring ENDIF without matching IF" },
		{ "regexp:data/bad7.regexp", "regexp map data/bad7.regexp, line 1: out of range replacement index" },
		{ "regexp:data/bad8.regexp", "regexp map data/bad8.regexp, line 2: regular expression "
		    "too large once its repetitions are expanded (more than 20000 nodes, or more than "
		    "2 repetition operators in a row: nested or stacked +, ?, {m,n})" },
		{ "regexp:data/nonexistent", "regexp:data/nonexistent: cannot open data/nonexistent: No such file or directory" },
	};
	char err[512];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		assert_null(map_open(cases[i].spec, 0, err, sizeof(err)));
		assert_string_equal(err, cases[i].err);
	}
	/* repetitions that stay small still load and match */
	struct map *m = map_open("regexp:data/bounded.regexp", 0, err, sizeof(err));
	assert_non_null(m);
	const char *v = map_lookup(m, "abcc");
	assert_non_null(v);
	assert_string_equal(v, "OK");
	map_free(m);
}

/* A regexp map in a map list, as every map parameter uses it. */
static void test_in_maplist(void **state)
{
	char err[512];
	struct maplist *ml = maplist_open("texthash:data/virtual regexp:data/access.regexp",
	    0, err, sizeof(err));
	assert_non_null(ml);
	assert_string_equal(maplist_lookup(ml, "info@example.com"), "alice");
	assert_string_equal(maplist_lookup(ml, "postmaster@example.org"), "OK");
	maplist_free(ml);
}

static int limit_warnings;
static char limit_last[512];

static void limit_tap(const char *text)
{
	if (strstr(text, "pcre map data/backtrack.pcre, line ") && strstr(text, "limit")) {
		limit_warnings++;
		snprintf(limit_last, sizeof(limit_last), "%s", text);
	}
}

/* A catastrophic pattern on a long network line gives up at the match
 * limit: quickly, as no match (negated and IF rules too), warned once
 * per table line however many lines are looked up. */
static void test_backtrack_limit(void **state)
{
	char err[512], key[4096];
	struct map *m = map_open("pcre:data/backtrack.pcre", 0, err, sizeof(err));
	assert_non_null(m);
	memset(key, 'a', sizeof(key) - 2);
	key[sizeof(key) - 2] = 'b';
	key[sizeof(key) - 1] = '\0';
	log_set_tap(limit_tap);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 3; i++)
		assert_string_equal(map_lookup(m, key), "FIRST-SANE");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	log_set_tap(NULL);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_true(secs < 0.6);	/* 9 limited matches, ~0.1 s; PCRE2 default limits: ~1.2 s */
	assert_int_equal(limit_warnings, 3);	/* lines 2, 5, 6: once each */
	assert_non_null(strstr(limit_last, "line 6"));
	assert_non_null(strstr(limit_last, "no match"));
	assert_string_equal(map_lookup(m, "aaaa"), "INSIDE-IF");	/* a short line still matches */
	map_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_access_example),
		cmocka_unit_test(test_checks_examples),
		cmocka_unit_test(test_flags_nesting),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_in_maplist),
		cmocka_unit_test(test_backtrack_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
