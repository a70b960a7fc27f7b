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

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "warden/filter.h"

static const char *const dirs[] = { "data/filter.d", NULL };

static int setup(void **state)
{
	setenv("TZ", "CET-01CEST-02,M3.5.0,M10.5.0", 1);
	tzset();
	date_set_now(1124013600);	/* fail2ban's TEST_NOW, Aug 14 2005 */
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
	assert_null(filter_load("t-maxlines", dirs, err, sizeof(err)));
	assert_non_null(strstr(err, "t-maxlines.conf:2:"));
	assert_non_null(strstr(err, "maxlines"));
	assert_null(filter_load("no-such-filter", dirs, err, sizeof(err)));
	assert_non_null(strstr(err, "not found"));
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
	assert_null(regex_translate("<SKIPLINES>", "x.conf", 9, err, sizeof(err)));
	assert_non_null(strstr(err, "x.conf:9:"));
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_include_mode, setup),
		cmocka_unit_test_setup(test_refusals, setup),
		cmocka_unit_test_setup(test_translate, setup),
		cmocka_unit_test_setup(test_python_filter, setup),
		cmocka_unit_test_setup(test_dates, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
