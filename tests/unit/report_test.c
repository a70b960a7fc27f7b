/* report_test — `mailwarden report`'s reading (src/cli/report_parse.c):
 * lines counted into their hour, and bans of more jails than are drawn by
 * name summed under "other". */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/report.h"

#define NOW 1800000000L		/* a fixed clock: 2027-01-15 08:00 UTC */

/* A fail2ban-format ban line of jail at t. */
static void ban_line(char *out, size_t len, time_t t, const char *jail, int n)
{
	struct tm tm;
	char stamp[32];
	localtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(out, len, "%s,074 fail2ban.actions        [42]: NOTICE  [%s] Ban 192.0.2.%d",
	    stamp, jail, n);
}

static long bans_of(const struct report *r, const char *jail)
{
	long s = 0;
	for (size_t j = 0; j < r->njails; j++)
		if (strcmp(r->jail[j], jail) == 0)
			for (size_t h = 0; h < r->nhours; h++)
				s += r->bans[j][h];
	return s;
}

static void test_bans_per_jail(void **state)
{
	struct report r;
	char line[256];
	report_init(&r, NOW, 86400);
	ban_line(line, sizeof(line), NOW - 60, "postfix", 1);
	report_line(&r, line);
	report_line(&r, line);
	ban_line(line, sizeof(line), NOW - 60, "dovecot", 2);
	report_line(&r, line);
	assert_int_equal(r.njails, 2);
	assert_int_equal(bans_of(&r, "postfix"), 2);
	assert_int_equal(bans_of(&r, "dovecot"), 1);
	assert_int_equal(r.used, 3);
	report_free(&r);
}

/* More jails than RP_JAILS: the first RP_JAILS - 1 by name, every later
 * one under "other"; the arrays never hold more than RP_JAILS. */
static void test_many_jails_go_to_other(void **state)
{
	struct report r;
	char line[256], name[32];
	report_init(&r, NOW, 86400);
	for (int i = 0; i < RP_JAILS + 8; i++) {
		snprintf(name, sizeof(name), "jail%d", i);
		ban_line(line, sizeof(line), NOW - 60, name, i);
		report_line(&r, line);
	}
	assert_int_equal(r.njails, RP_JAILS);
	for (int i = 0; i < RP_JAILS - 1; i++) {
		snprintf(name, sizeof(name), "jail%d", i);
		assert_int_equal(bans_of(&r, name), 1);
	}
	assert_int_equal(bans_of(&r, "other"), 9);
	assert_int_equal(r.used, RP_JAILS + 8);
	report_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bans_per_jail),
		cmocka_unit_test(test_many_jails_go_to_other),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
