/*
 * filter_test — fail2ban filters: include chains and .local, %(name)s and
 * <name> interpolation, mode maps, tag translation, refusals naming file
 * and line, and date parsing under a fixed clock and time zone.
 * Run with tests/unit as the working directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/time.h>

#include "common/clock.h"
#include "common/log.h"
#include "warden/filter/filter.h"
#include "warden/filter/filter_impl.h"	/* filter_lit_derive() */

static const char *const dirs[] = { "data/filter.d", NULL };

static int setup(void **state)
{
	setenv("TZ", "CET-01CEST-02,M3.5.0,M10.5.0", 1);
	tzset();
	clock_fix_wall(1124013600);	/* fail2ban's TEST_NOW, Aug 14 2005 */
	return 0;
}

static void test_include_mode(void **state)
{
	char err[512];
	struct filter_hit h;
	struct filter *f = filter_load("t-mode", dirs, err, sizeof(err));

	assert_non_null(f);
	assert_int_equal(filter_nfail(f), 1);
	/* .local overrode _port; DEFAULT from the include; after= included */
	assert_string_equal(filter_option(f, "_port"), "(?::\\d{1,5})?");
	assert_non_null(filter_option(f, "__hostname"));
	assert_int_equal(filter_match(f, "Aug 14 11:00:00 host testd[12]: auth failed for bob from [192.0.2.1]:25", &h), FILTER_FAIL);
	assert_string_equal(h.host, "192.0.2.1");
	assert_string_equal(h.user, "bob");
	assert_int_equal(h.has_date, 1);
	assert_int_equal((long)h.time, 1124010000L);
	assert_int_equal(filter_match(f, "Aug 14 11:00:00 host testd[12]: blocked [192.0.2.1]", &h), FILTER_MISS);
	assert_int_equal(filter_match(f, "Aug 14 11:00:00 host testd[12]: auth failed for trusted from [2001:db8::1]", &h), FILTER_IGNORED);
	filter_free(f);

	f = filter_load("t-mode[mode=both]", dirs, err, sizeof(err));
	assert_non_null(f);
	assert_int_equal(filter_nfail(f), 2);
	assert_int_equal(filter_match(f, "Aug 14 11:00:00 host testd: blocked [2001:db8::1]", &h), FILTER_FAIL);
	assert_string_equal(h.host, "2001:db8::1");
	assert_int_equal(h.regex, 1);
	filter_free(f);

	f = filter_load("t-mode[mode=\"rbl\"]", dirs, err, sizeof(err));
	assert_non_null(f);
	assert_int_equal(filter_match(f, "Aug 14 11:00:00 host testd: blocked [198.51.100.7]", &h), FILTER_FAIL);
	filter_free(f);
}

static void test_refusals(void **state)
{
	char err[512];

	assert_null(filter_load("t-bad", dirs, err, sizeof(err)));
	assert_non_null(strstr(err, "data/filter.d/t-bad.conf:3:"));
	assert_non_null(strstr(err, "(?L)"));
	assert_null(filter_load("no-such-filter", dirs, err, sizeof(err)));
	assert_non_null(strstr(err, "not found"));
	/* prefregex is one regex: a second line is refused with file and line */
	assert_null(filter_load("t-prefregex2", dirs, err, sizeof(err)));
	assert_non_null(strstr(err, "data/filter.d/t-prefregex2.conf:5:"));
	assert_non_null(strstr(err, "prefregex"));
	/* a mode the filter does not have would match nothing: refused with
	 * file and line, naming the modes there are */
	assert_null(filter_load("postfix[mode=nosuch]", NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "built-in:postfix"));
	assert_non_null(strstr(err, "mode=nosuch: no such mode"));
	assert_non_null(strstr(err, "auth"));
	assert_null(filter_load("sshd[mode=bogus]", NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "mode=bogus"));
	assert_null(filter_load("mailwarden[mode=nosuch]", NULL, err, sizeof(err)));
	assert_null(filter_load("dovecot[mode=nosuch]", NULL, err, sizeof(err)));
	/* every mode the built-ins have still loads */
	static const char *const ok[] = { "postfix[mode=auth]", "postfix[mode=normal]",
		"postfix[mode=more]", "postfix[mode=aggressive]", "postfix[mode=ddos]",
		"postfix[mode=rbl]", "postfix[mode=extra]", "sshd[mode=aggressive]",
		"sshd[mode=ddos]", "mailwarden[mode=relay]", "dovecot[mode=aggressive]" };
	for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++) {
		struct filter *f = filter_load(ok[i], NULL, err, sizeof(err));
		if (f == NULL)
			fail_msg("%s: %s", ok[i], err);
		filter_free(f);
	}
}

static void test_translate(void **state)
{
	char err[256];
	char *r = regex_translate("(?P<a>x)(?P=a) <F-USER>u</F-USER> <F-ID/> \\Z{,3}", "f", 1, err, sizeof(err));

	assert_non_null(r);
	assert_non_null(strstr(r, "(?<a>x)\\k<a>"));
	assert_non_null(strstr(r, "(?<user>u)"));
	assert_non_null(strstr(r, "(?<fid>\\S+)"));
	assert_non_null(strstr(r, "\\z{0,3}"));
	free(r);
	r = regex_translate("<HOST>", "f", 1, err, sizeof(err));
	assert_non_null(strstr(r, "(?<ip4>"));
	assert_non_null(strstr(r, "(?<dns>"));
	free(r);
	assert_null(regex_translate("a\\N{DASH}", "x.conf", 7, err, sizeof(err)));
	assert_non_null(strstr(err, "x.conf:7:"));
	r = regex_translate("a<SKIPLINES>b<SKIPLINES>", "x.conf", 9, err, sizeof(err));
	assert_non_null(strstr(r, "(?<skiplines0>"));
	assert_non_null(strstr(r, "(?<skiplines1>"));
	free(r);
}

static void test_python_filter(void **state)
{
	char err[512];
	struct filter_hit h;
	struct filter *f = filter_load("data/filter.d/t-py.conf", NULL, err, sizeof(err));

	assert_non_null(f);
	assert_int_equal(filter_match(f, "2005-08-14 11:00:00 go again go 192.0.2.9 port 22", &h), FILTER_FAIL);
	assert_string_equal(h.host, "192.0.2.9");
	assert_int_equal((long)h.time, 1124010000L);
	assert_int_equal(filter_match(f, "2005-08-14 11:00:00 go again no 192.0.2.9 port 22", &h), FILTER_MISS);
	filter_free(f);
}

/* The literal every match must contain, from translated patterns. */
static void test_lit_derive(void **state)
{
	static const struct { const char *rx, *lit; } cases[] = {
		{ "^[^[]*\\[(?:x)\\](?::\\d+)?: SASL ((?i)LOGIN|PLAIN) authentication failed:(?! Conn)",
		  " authentication failed:" },
		{ "foo|bar", "" },			/* top-level alternation */
		{ "(?:foo|bar)baz", "baz" },
		{ "abcd?e", "abc" },			/* d is optional */
		{ "abcd*e", "abc" },
		{ "abcd{0,2}e", "abc" },
		{ "abcd+e", "abcd" },			/* one d at least, then a break */
		{ "(?i)hello", "" },			/* caseless from the start */
		{ "ab(?i)cdefgh", "ab" },		/* ... or from there on */
		{ "xyz(?i:ABCDEF)", "xyz" },		/* a group is opaque */
		{ "x\\.yz\\d+ failed login", " failed login" },
		{ "[abc]def\\Qghi\\E", "" },		/* \\Q..\\E: none */
		{ "\xc3\xa9?xyz", "xyz" },		/* a whole UTF-8 character dropped */
		{ "a\\nbc", "bc" },			/* no newline in a literal */
		{ "\\d+", "" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[FILTER_LIT_MAX];
		size_t n = filter_lit_derive(cases[i].rx, out, sizeof(out));
		if (strcmp(out, cases[i].lit) != 0)
			fail_msg("%s: got '%s', want '%s'", cases[i].rx, out, cases[i].lit);
		assert_int_equal(n, strlen(cases[i].lit));
	}
}

/* The prefilter skips lines, never a failure: a literal across the cut
 * date, a regex without a literal (no skipping at all), counts equal. */
static void test_prefilter(void **state)
{
	static const char *const lines[] = {
		"[2005-08-14 11:00:00] bad 192.0.2.1",
		"[2005-08-14 11:00:00] good 192.0.2.1",
		"x[2005-08-14 11:00:00] bad 192.0.2.2",
		"nodate worse 192.0.2.3",
		"nodate fine 192.0.2.3",
	};
	static const enum filter_result want[] = { FILTER_FAIL, FILTER_MISS, FILTER_MISS,
		FILTER_FAIL, FILTER_MISS };
	char err[512];
	struct filter_hit h;
	struct filter *f = filter_load("data/filter.d/t-junction.conf", NULL, err, sizeof(err));

	assert_non_null(f);
	assert_int_equal(filter_prefilter_on(f), 0);	/* its second regex has no literal */
	assert_int_equal(filter_stateful(f), 0);
	filter_free(f);
	f = filter_load("data/filter.d/t-junction.conf[failregex=\"^\\[\\] bad <HOST>$\"]", NULL,
	    err, sizeof(err));
	assert_non_null(f);
	assert_int_equal(filter_prefilter_on(f), 1);
	for (int on = 0; on < 2; on++) {
		filter_set_prefilter(f, on);
		for (size_t i = 0; i < 3; i++) {
			assert_int_equal(filter_match(f, lines[i], &h), want[i]);
			assert_int_equal(h.has_date, 1);
			assert_int_equal((long)h.time, 1124010000L);
		}
		assert_string_equal(filter_match(f, lines[0], &h) == FILTER_FAIL ? h.host : "",
		    "192.0.2.1");
		/* a NUL ends a line given with its length */
		assert_int_equal(filter_match_len(f, "[2005-08-14 11:00:00] bad 192.0.2.1\0x", 37,
		    &h), FILTER_FAIL);
	}
	filter_free(f);
	f = filter_load("data/filter.d/t-junction.conf", NULL, err, sizeof(err));
	assert_non_null(f);
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		assert_int_equal(filter_match(f, lines[i], &h), want[i]);
	filter_free(f);
	f = filter_load("data/filter.d/t-mlfid.conf", NULL, err, sizeof(err));
	assert_non_null(f);
	assert_int_equal(filter_stateful(f), 1);
	filter_free(f);
}

/* The prefilter's search (SSE2/AVX2 blocks, then byte by byte) against
 * memmem: every literal length, subject length and position, with near
 * misses (first and last bytes right, the middle wrong) around it. */
static void test_lit_search(void **state)
{
	static const char *const lits[] = { "ab", "a-b", "warning:", "]: SASL LOGIN authentication failed" };
	static struct filter f;		/* only its lits are read */
	char subj[200];

	f.lits.nfail = 1;
	for (size_t k = 0; k < sizeof(lits) / sizeof(lits[0]); k++) {
		size_t ln = strlen(lits[k]);
		memcpy(f.lits.fail[0].s, lits[k], ln + 1);
		f.lits.fail[0].len = ln;
		for (size_t n = 0; n < sizeof(subj); n++) {
			for (size_t at = 0; at <= n + 1; at++) {	/* at == n + 1: absent */
				memset(subj, 'x', n);
				for (size_t q = 0; q + ln <= n; q += ln + 3) {	/* near misses */
					subj[q] = lits[k][0];
					subj[q + ln - 1] = lits[k][ln - 1];
				}
				if (at + ln <= n)
					memcpy(subj + at, lits[k], ln);
				int want = memmem(subj, n, lits[k], ln) != NULL;
				if (filter_lit_candidate(&f, "", 0, subj, n) != want)
					fail_msg("literal \"%s\", %zu bytes, at %zu: want %d", lits[k], n, at,
					    want);
				/* the same split at every point: across the date's junction */
				size_t cut = at % (n + 1);
				assert_int_equal(filter_lit_candidate(&f, subj, cut, subj + cut, n - cut),
				    want);
			}
		}
	}
}

/* One detector over consecutive stamps (its hour cache) across the CET
 * DST changes of 2005 (Mar 27 02:00 -> 03:00, Oct 30 03:00 -> 02:00). */
static void test_date_hours(void **state)
{
	static const struct { const char *line; long t; } cases[] = {
		{ "2005-03-27 01:00:00 x", 1111881600L },
		{ "2005-03-27 01:30:00 x", 1111883400L },	/* same hour: cached */
		{ "2005-03-27 01:59:59 x", 1111885199L },
		{ "2005-03-27 03:00:00 x", 1111885200L },	/* one second later */
		{ "2005-03-27 03:10:05 x", 1111885805L },
		{ "2005-10-30 01:59:59 x", 1130630399L },
		{ "2005-10-30 03:00:00 x", 1130637600L },	/* CET again */
		{ "2005-10-30 03:00:01 x", 1130637601L },
		{ "2005-08-14 10:59:60 x", 1124009999L + 1 },	/* leap second: mktime's */
	};
	char err[256];
	struct date_detector *d = date_new(NULL, err, sizeof(err));
	assert_non_null(d);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t s, e;
		time_t t;
		assert_int_equal(date_find(d, cases[i].line, strlen(cases[i].line), &s, &e, &t), 1);
		if ((long)t != cases[i].t)
			fail_msg("%s: got %ld, want %ld", cases[i].line, (long)t, cases[i].t);
	}
	date_free(d);
}

/* maxlines: a failregex over two lines with <SKIPLINES> between them. */
static void test_maxlines(void **state)
{
	char err[512];
	struct filter_hit h;
	struct filter *f = filter_load("t-maxlines", dirs, err, sizeof(err));

	assert_non_null(f);
	assert_int_equal(filter_maxlines(f), 5);
	assert_int_equal(filter_match(f, "Aug 14 11:00:00 login from 192.0.2.1", &h), FILTER_MISS);
	assert_int_equal(filter_match(f, "Aug 14 11:00:01 noise", &h), FILTER_MISS);
	assert_int_equal(filter_match(f, "Aug 14 11:00:02 denied", &h), FILTER_FAIL);
	assert_string_equal(h.host, "192.0.2.1");
	assert_int_equal(h.lines, 2);			/* noise was skipped */
	assert_int_equal((long)h.time, 1124010002L);
	/* the login line was used up; the skipped one stays */
	assert_int_equal(filter_match(f, "Aug 14 11:00:03 denied", &h), FILTER_MISS);
	/* only the last 5 lines are kept */
	assert_int_equal(filter_match(f, "Aug 14 11:00:04 login from 192.0.2.2", &h), FILTER_MISS);
	for (int i = 0; i < 4; i++)
		assert_int_equal(filter_match(f, "Aug 14 11:00:05 noise", &h), FILTER_MISS);
	assert_int_equal(filter_match(f, "Aug 14 11:00:06 denied", &h), FILTER_MISS);
	assert_int_equal(filter_match(f, "Aug 14 11:00:07 login from 192.0.2.3", &h), FILTER_MISS);
	filter_reset(f);
	assert_int_equal(filter_match(f, "Aug 14 11:00:08 denied", &h), FILTER_MISS);
	filter_free(f);
}

/* <F-MLFID>: NOFAIL keeps the address, a later line of the connection fails. */
static void test_mlfid(void **state)
{
	char err[512];
	struct filter_hit h;
	struct filter *f = filter_load("t-mlfid", dirs, err, sizeof(err));

	assert_non_null(f);
	assert_int_equal(filter_match(f, "Aug 14 11:00:00 s[1]: connect from 192.0.2.7", &h), FILTER_MISS);
	assert_int_equal(h.nofail, 1);
	assert_int_equal(filter_match(f, "Aug 14 11:00:01 s[1]: auth failed for bob", &h), FILTER_FAIL);
	assert_string_equal(h.host, "192.0.2.7");
	assert_string_equal(h.user, "bob");
	assert_string_equal(h.mlfid, "s[1]:");
	assert_int_equal((long)h.time, 1124010001L);
	/* failure before the address: pending, reported when it comes */
	assert_int_equal(filter_match(f, "Aug 14 11:00:02 s[2]: auth failed for eve", &h), FILTER_MISS);
	assert_int_equal(h.pending, 1);
	assert_int_equal(filter_match(f, "Aug 14 11:00:03 s[2]: connect from 2001:db8::8", &h), FILTER_FAIL);
	assert_string_equal(h.host, "2001:db8::8");
	assert_string_equal(h.user, "eve");
	/* forget: the connection's address is gone */
	assert_int_equal(filter_match(f, "Aug 14 11:00:04 s[1]: closed", &h), FILTER_MISS);
	assert_int_equal(filter_match(f, "Aug 14 11:00:05 s[1]: auth failed for bob", &h), FILTER_MISS);
	assert_int_equal(h.pending, 1);
	/* gained (a login) clears the connection */
	assert_int_equal(filter_match(f, "Aug 14 11:00:06 s[3]: connect from 192.0.2.9", &h), FILTER_MISS);
	assert_int_equal(filter_match(f, "Aug 14 11:00:07 s[3]: accepted bob", &h), FILTER_MISS);
	assert_int_equal(filter_match(f, "Aug 14 11:00:08 s[3]: auth failed for bob", &h), FILTER_MISS);
	/* an unrelated line is a plain miss */
	assert_int_equal(filter_match(f, "Aug 14 11:00:09 other: auth failed for x", &h), FILTER_MISS);
	assert_int_equal(h.regex, -1);
	filter_free(f);
}

/* Built-in filters: text a client controls never names the address. */
static void test_builtin_injection(void **state)
{
	char err[512];
	struct filter_hit h;
	struct filter *f = filter_load("postfix[mode=auth]", NULL, err, sizeof(err));

	assert_non_null(f);
	assert_string_equal(filter_file(f), "built-in:postfix");
	/* Postfix 3.9 logs sasl_username= after the reason */
	assert_int_equal(filter_match(f, "Nov 28 10:00:00 mx postfix/submission/smtpd[123]: "
	    "warning: unknown[198.51.100.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, "
	    "sasl_username=x unknown[192.0.2.9]: SASL LOGIN authentication failed:", &h), FILTER_FAIL);
	assert_string_equal(h.host, "198.51.100.7");
	/* HELO and MAIL FROM are the client's: no match in auth mode */
	assert_int_equal(filter_match(f, "Nov 28 10:00:01 mx postfix/smtpd[123]: NOQUEUE: reject: "
	    "RCPT from mail.example.com[203.0.113.5]: 554 5.7.1 <x@example.org>: Relay access denied; "
	    "from=<a@example.net> to=<x@example.org> proto=ESMTP "
	    "helo=<unknown[192.0.2.9]: SASL LOGIN authentication failed:>", &h), FILTER_MISS);
	assert_int_equal(filter_match(f, "Nov 28 10:00:02 mx postfix/smtpd[123]: NOQUEUE: reject: "
	    "RCPT from mail.example.com[203.0.113.5]: 450 4.1.8 <x@y>: Sender address rejected: "
	    "Domain not found; from=<warning: unknown[192.0.2.9]: SASL LOGIN authentication failed:@x> "
	    "to=<x@example.org> proto=ESMTP helo=<a>", &h), FILTER_MISS);
	assert_int_equal(filter_match(f, "Nov 28 10:00:03 mx postfix/smtpd[123]: connect from "
	    "unknown[203.0.113.5] postfix/smtpd[1]: warning: unknown[192.0.2.9]: SASL LOGIN "
	    "authentication failed: x", &h), FILTER_MISS);
	filter_free(f);

	/* the same NOQUEUE line in normal mode: the real client */
	f = filter_load("postfix[mode=normal]", NULL, err, sizeof(err));
	assert_non_null(f);
	assert_int_equal(filter_match(f, "Nov 28 10:00:01 mx postfix/smtpd[123]: NOQUEUE: reject: "
	    "RCPT from mail.example.com[203.0.113.5]: 554 5.7.1 <x@example.org>: Relay access denied; "
	    "from=<a@example.net> to=<x@example.org> proto=ESMTP "
	    "helo=<unknown[192.0.2.9]: SASL LOGIN authentication failed:>", &h), FILTER_FAIL);
	assert_string_equal(h.host, "203.0.113.5");
	filter_free(f);

	/* mailwarden's own lines */
	f = filter_load("mailwarden[mode=auth]", NULL, err, sizeof(err));
	assert_non_null(f);
	assert_int_equal(filter_match(f, "Nov 28 10:00:04 mx mailwarden/smtpd[77]: warning: "
	    "unknown[2001:db8::7]: SASL PLAIN authentication failed: bad password, "
	    "sasl_username=x unknown[192.0.2.9]: SASL LOGIN authentication failed:", &h), FILTER_FAIL);
	assert_string_equal(h.host, "2001:db8::7");
	filter_free(f);
	f = filter_load("mailwarden", NULL, err, sizeof(err));	/* aggressive */
	assert_non_null(f);
	assert_int_equal(filter_match(f, "Nov 28 10:00:05 mx mailwarden/smtpd[77]: NOQUEUE: reject: "
	    "RCPT from x.example[203.0.113.8]: 554 5.7.1 <a@b>: Relay access denied; from=<c@d> "
	    "to=<a@b> proto=ESMTP helo=<[192.0.2.9]>", &h), FILTER_FAIL);
	assert_string_equal(h.host, "203.0.113.8");
	assert_int_equal(filter_match(f, "Nov 28 10:00:06 mx mailwarden/postscreen[77]: PREGREET 11 "
	    "after 0.00 from [192.0.2.10]:4242: EHLO x", &h), FILTER_FAIL);
	assert_string_equal(h.host, "192.0.2.10");
	assert_int_equal(filter_match(f, "Nov 28 10:00:07 mx mailwarden/smtpd[77]: too many errors "
	    "after RCPT from unknown[192.0.2.11]", &h), FILTER_FAIL);
	assert_string_equal(h.host, "192.0.2.11");
	assert_int_equal(filter_match(f, "Nov 28 10:00:08 mx mailwarden/smtpd[77]: connect from "
	    "unknown[192.0.2.12]", &h), FILTER_MISS);
	filter_free(f);
	f = filter_load("mailwarden[mode=relay]", NULL, err, sizeof(err));
	assert_non_null(f);
	assert_int_equal(filter_match(f, "Nov 28 10:00:07 mx mailwarden/smtpd[77]: too many errors "
	    "after RCPT from unknown[192.0.2.11]", &h), FILTER_MISS);
	filter_free(f);
	/* mode rate: the smtpd_client_*_limit warnings (docs/limits.md) */
	static const char *const rate_lines[] = {
		"Nov 28 10:00:09 mx mailwarden/smtpd[77]: warning: Connection rate limit exceeded: "
		"4 from unknown[192.0.2.13] for service smtp",
		"Nov 28 10:00:09 mx mailwarden/smtpd[77]: warning: Connection concurrency limit "
		"exceeded: 51 from unknown[192.0.2.13] for service smtp",
		"Nov 28 10:00:09 mx mailwarden/smtpd[77]: warning: Message delivery request rate "
		"limit exceeded: 3 from x.example[192.0.2.13] for service submission",
		"Nov 28 10:00:09 mx mailwarden/smtpd[77]: warning: Recipient address rate limit "
		"exceeded: 4 from unknown[192.0.2.13] for service smtp",
		"Nov 28 10:00:09 mx mailwarden/smtpd[77]: warning: New TLS session rate limit "
		"exceeded: 2 from unknown[192.0.2.13] for service smtps",
		"Nov 28 10:00:09 mx mailwarden/smtpd[77]: warning: Refusing STARTTLS request from "
		"unknown[192.0.2.13] for service smtp",
		"Nov 28 10:00:09 mx mailwarden/smtpd[77]: warning: Refusing TLS service request from "
		"unknown[192.0.2.13] for service smtps",
	};
	for (int agg = 0; agg < 2; agg++) {
		f = filter_load(agg ? "mailwarden" : "mailwarden[mode=rate]", NULL, err, sizeof(err));
		assert_non_null(f);
		for (size_t i = 0; i < sizeof(rate_lines) / sizeof(*rate_lines); i++) {
			assert_int_equal(filter_match(f, rate_lines[i], &h), FILTER_FAIL);
			assert_string_equal(h.host, "192.0.2.13");
		}
		filter_free(f);
	}
	f = filter_load("mailwarden[mode=rate]", NULL, err, sizeof(err));
	assert_non_null(f);
	assert_int_equal(filter_match(f, "Nov 28 10:00:07 mx mailwarden/smtpd[77]: too many errors "
	    "after RCPT from unknown[192.0.2.11]", &h), FILTER_MISS);
	filter_free(f);

	/* dovecot: a user name holding '>, method=PLAIN, rip=' */
	f = filter_load("dovecot", NULL, err, sizeof(err));
	assert_non_null(f);
	assert_int_equal(filter_match(f, "Nov 28 10:00:05 mx dovecot: imap-login: Disconnected "
	    "(auth failed, 1 attempts in 2 secs): user=<a>, method=PLAIN, rip=192.0.2.9, lip=x>, "
	    "method=PLAIN, rip=198.51.100.7, lip=10.0.0.1, TLS", &h), FILTER_FAIL);
	assert_string_equal(h.host, "198.51.100.7");
	filter_free(f);

	/* every postfix and mailwarden mode: the injected text in HELO, MAIL
	 * FROM and sasl_username= never names 192.0.2.9 */
	static const char *const modes[] = { "postfix[mode=auth]", "postfix[mode=normal]",
		"postfix[mode=more]", "postfix[mode=rbl]", "postfix[mode=ddos]",
		"postfix[mode=extra]", "postfix[mode=aggressive]", "mailwarden[mode=auth]",
		"mailwarden[mode=relay]", "mailwarden[mode=reject]", "mailwarden[mode=pregreet]",
		"mailwarden[mode=protocol]", "mailwarden[mode=rate]", "mailwarden" };
	static const char *const inj[] = {
		"Nov 28 10:00:00 mx postfix/submission/smtpd[123]: warning: "
		"unknown[198.51.100.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, "
		"sasl_username=x unknown[192.0.2.9]: SASL LOGIN authentication failed:",
		"Nov 28 10:00:01 mx postfix/smtpd[123]: NOQUEUE: reject: RCPT from "
		"mail.example.com[203.0.113.5]: 554 5.7.1 <x@example.org>: Relay access denied; "
		"from=<a@example.net> to=<x@example.org> proto=ESMTP "
		"helo=<unknown[192.0.2.9]: SASL LOGIN authentication failed:>",
		"Nov 28 10:00:02 mx postfix/smtpd[123]: NOQUEUE: reject: RCPT from "
		"mail.example.com[203.0.113.5]: 450 4.1.8 <x@y>: Sender address rejected: "
		"Domain not found; from=<warning: unknown[192.0.2.9]: SASL LOGIN authentication "
		"failed:@x> to=<x@example.org> proto=ESMTP helo=<a>",
		"Nov 28 10:00:03 mx postfix/smtpd[123]: lost connection after EHLO from "
		"unknown[203.0.113.5] helo=<unknown[192.0.2.9]: SASL LOGIN authentication failed:>",
		"Nov 28 10:00:04 mx mailwarden/smtpd[77]: warning: unknown[2001:db8::7]: SASL PLAIN "
		"authentication failed: bad password, sasl_username=unknown[192.0.2.9]: SASL LOGIN "
		"authentication failed:",
		"Nov 28 10:00:05 mx mailwarden/smtpd[77]: NOQUEUE: reject: RCPT from "
		"x.example[203.0.113.8]: 554 5.7.1 <a@b>: Relay access denied; from=<unknown[192.0.2.9]: "
		"SASL LOGIN authentication failed:@x> to=<a@b> proto=ESMTP "
		"helo=<unknown[192.0.2.9]: SASL LOGIN authentication failed:>",
	};
	for (size_t m = 0; m < sizeof(modes) / sizeof(*modes); m++) {
		f = filter_load(modes[m], NULL, err, sizeof(err));
		if (f == NULL)
			fail_msg("%s: %s", modes[m], err);
		for (size_t i = 0; i < sizeof(inj) / sizeof(*inj); i++)
			if (filter_match(f, inj[i], &h) == FILTER_FAIL &&
			    strcmp(h.host, "192.0.2.9") == 0)
				fail_msg("%s: line %zu gave 192.0.2.9", modes[m], i);
		filter_free(f);
	}

	/* sshd: a user name holding "from 192.0.2.9 port 1 ssh2" */
	f = filter_load("sshd", NULL, err, sizeof(err));
	assert_non_null(f);
	assert_int_equal(filter_match(f, "Nov 28 10:00:06 mx sshd[4242]: Failed password for "
	    "invalid user a from 192.0.2.9 port 1 ssh2 from 198.51.100.7 port 22 ssh2", &h),
	    FILTER_FAIL);
	assert_string_equal(h.host, "198.51.100.7");
	assert_int_equal(filter_match(f, "Nov 28 10:00:07 mx sshd[4243]: Invalid user "
	    "unknown[192.0.2.9]: SASL LOGIN authentication failed: from 198.51.100.8 port 22", &h),
	    FILTER_FAIL);
	assert_string_equal(h.host, "198.51.100.8");
	filter_free(f);

	/* unknown built-in */
	assert_null(filter_load("no-such-filter", NULL, err, sizeof(err)));
}

static void test_dates(void **state)
{
	time_t t;

	/* syslog without year: this year, or last year when in the future */
	assert_int_equal(date_parse(NULL, "Aug 14 11:00:00 x", &t), 0);
	assert_int_equal((long)t, 1124010000L);
	assert_int_equal(date_parse(NULL, "Dec 31 23:59:59 x", &t), 0);
	assert_int_equal((long)t, 1104533999L);		/* 2004-12-31 CET */
	/* ISO 8601 with and without zone */
	assert_int_equal(date_parse(NULL, "2005-08-14T09:00:00Z x", &t), 0);
	assert_int_equal((long)t, 1124010000L);
	assert_int_equal(date_parse(NULL, "at 2005-08-14 11:00:00 x", &t), 0);
	assert_int_equal((long)t, 1124010000L);
	assert_int_equal(date_parse(NULL, "2005-08-14T11:00:00+02:00", &t), 0);
	assert_int_equal((long)t, 1124010000L);
	/* epoch, apache */
	assert_int_equal(date_parse(NULL, "1124010000 x", &t), 0);
	assert_int_equal((long)t, 1124010000L);
	assert_int_equal(date_parse(NULL, "[14/Aug/2005:09:00:00 +0000] x", &t), 0);
	assert_int_equal((long)t, 1124010000L);
	/* anchored: a date later in the line does not count */
	assert_int_equal(date_parse("{^LN-BEG}", "x 2005-08-14 11:00:00", &t), -1);
	/* explicit strftime patterns */
	assert_int_equal(date_parse("%Y-%m-%d %H:%M:%S", "2005-08-14 11:00:00", &t), 0);
	assert_int_equal((long)t, 1124010000L);
	assert_int_equal(date_parse("%b %d %H:%M:%S", "Aug 14 11:00:00", &t), 0);
	assert_int_equal((long)t, 1124010000L);
	assert_int_equal(date_parse("EPOCH", "1124010000.5 x", &t), 0);
	assert_int_equal((long)t, 1124010000L);
	assert_int_equal(date_parse("%Q", "x", &t), -1);
}

static int nwarn;
static char lastwarn[512];
static void count_warn(const char *text)
{
	if (strstr(text, "not logged again") != NULL) {
		nwarn++;
		snprintf(lastwarn, sizeof(lastwarn), "%s", text);
	}
}

static double now_s(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return tv.tv_sec + tv.tv_usec / 1e6;
}

/* Catastrophic patterns on 64 KiB lines: every match is bounded by the
 * PCRE2 limits, an over-long line is cut before matching, a limit hit is
 * no match and is logged once per regex; lines that fit still match. */
static void test_redos_limits(void **state)
{
	char err[512];
	struct filter_hit h;
	struct filter *f = filter_load("t-redos", dirs, err, sizeof(err));
	assert_non_null(f);
	size_t n = 64 * 1024;
	char *line = malloc(n + 64);
	assert_non_null(line);
	log_set_tap(count_warn);
	double worst = 0;
	for (int round = 0; round < 4; round++) {
		/* "aaaa...a fail from ADDR !" and "a a a ... a: bad from ADDR !":
		 * the tail never matches, and the backtracking into the repeated
		 * group before it explodes */
		const char *tail = round % 2 == 0 ? " fail from 192.0.2.1 !" : ": bad from 192.0.2.1 !";
		for (int len = 0; len < 2; len++) {
			size_t k = len == 0 ? n : 40;	/* over and under the line limit */
			for (size_t i = 0; i < k; i++)
				line[i] = round % 2 == 0 ? 'a' : (i % 2 ? ' ' : 'a');
			snprintf(line + k, 64, "%s", tail);
			double t0 = now_s();
			assert_int_equal(filter_match(f, line, &h), FILTER_MISS);
			double dt = now_s() - t0;
			if (dt > worst)
				worst = dt;
		}
	}
	/* about 6 ms here, 100 ms with PCRE2's default limits; generous for
	 * sanitizer builds on a loaded 2-core machine */
	assert_true(worst < 0.5);
	/* the long line and each catastrophic regex: one warning each, not
	 * one per line */
	assert_int_equal(nwarn, 3);
	assert_non_null(strstr(lastwarn, "t-redos.conf:"));
	int before = nwarn;
	for (int i = 0; i < 10; i++)
		filter_match(f, line, &h);
	assert_int_equal(nwarn, before);
	/* a line that fits still matches */
	assert_int_equal(filter_match(f, "ok from 192.0.2.7", &h), FILTER_FAIL);
	assert_string_equal(h.host, "192.0.2.7");
	assert_int_equal(filter_match(f, "abc fail from 192.0.2.8", &h), FILTER_FAIL);
	assert_string_equal(h.host, "192.0.2.8");
	log_set_tap(NULL);
	free(line);
	filter_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_include_mode, setup),
		cmocka_unit_test_setup(test_refusals, setup),
		cmocka_unit_test_setup(test_translate, setup),
		cmocka_unit_test_setup(test_python_filter, setup),
		cmocka_unit_test_setup(test_date_hours, setup),
		cmocka_unit_test_setup(test_lit_derive, setup),
		cmocka_unit_test_setup(test_prefilter, setup),
		cmocka_unit_test_setup(test_lit_search, setup),
		cmocka_unit_test_setup(test_maxlines, setup),
		cmocka_unit_test_setup(test_mlfid, setup),
		cmocka_unit_test_setup(test_builtin_injection, setup),
		cmocka_unit_test_setup(test_dates, setup),
		cmocka_unit_test_setup(test_redos_limits, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
