/*
 * bantime_test — the ban time increment: jail.conf's two formulas give
 * fail2ban's numbers, multipliers, maxtime, rndtime, plain arithmetic,
 * and everything that is not arithmetic is refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "warden/jail.h"

#define POW2 "ban.Time * (1<<(ban.Count if ban.Count<20 else 20)) * banFactor"
#define EXPF "ban.Time * math.exp(float(ban.Count+1)*banFactor)/math.exp(1*banFactor)"

static void make(struct jail *j, long bantime, const char *formula, double factor)
{
	char err[256];

	memset(j, 0, sizeof(*j));
	j->bantime = bantime;
	j->increment = 1;
	j->factor = factor;
	if (bantime_compile(formula, 1, &j->formula, err, sizeof(err)) < 0)
		fail_msg("%s: %s", formula, err);
}

/* ban.Time * (1<<(ban.Count if ban.Count<20 else 20)) * banFactor,
 * by hand: 600 * 2^count, the shift stopping at 20. */
static void test_pow2(void **state)
{
	struct jail j;

	make(&j, 600, POW2, 1);
	assert_int_equal(j.formula.kind, BT_FORMULA_POW2);
	assert_int_equal(bantime_next(&j, 0, 0), 600);	/* first ban: no formula */
	assert_int_equal(bantime_next(&j, 1, 0), 1200);
	assert_int_equal(bantime_next(&j, 2, 0), 2400);
	assert_int_equal(bantime_next(&j, 3, 0), 4800);
	assert_int_equal(bantime_next(&j, 19, 0), 600L << 19);
	assert_int_equal(bantime_next(&j, 20, 0), 600L << 20);
	assert_int_equal(bantime_next(&j, 25, 0), 600L << 20);	/* 629145600 */
	j.factor = 2;
	assert_int_equal(bantime_next(&j, 1, 0), 2400);
	j.factor = 1;
	/* bantime.maxtime = 1w: 600 * 1024 = 614400 is capped */
	j.maxtime = 604800;
	assert_int_equal(bantime_next(&j, 9, 0), 307200);
	assert_int_equal(bantime_next(&j, 10, 0), 604800);
	/* bantime.rndtime = 300: plus rnd * 300, after the cap */
	j.rndtime = 300;
	assert_int_equal(bantime_next(&j, 1, 0.5), 1350);
	assert_int_equal(bantime_next(&j, 10, 0.999), 604800 + 299);
	/* without increment nothing changes */
	j.increment = 0;
	assert_int_equal(bantime_next(&j, 5, 0.5), 600);
	bantime_formula_free(&j.formula);

	/* white space does not matter */
	make(&j, 600, "ban.Time*(1<<(ban.Count if ban.Count<20 else 20))*banFactor", 1);
	assert_int_equal(j.formula.kind, BT_FORMULA_POW2);
}

/* ban.Time * math.exp(float(ban.Count+1)*banFactor)/math.exp(1*banFactor)
 * = 600 * e^(count * factor), truncated as int() does. */
static void test_exp(void **state)
{
	struct jail j;

	make(&j, 600, EXPF, 1);
	assert_int_equal(j.formula.kind, BT_FORMULA_EXP);
	assert_int_equal(bantime_next(&j, 0, 0), 600);
	assert_int_equal(bantime_next(&j, 1, 0), 1630);		/* 600e = 1630.969 */
	assert_int_equal(bantime_next(&j, 2, 0), 4433);		/* 600e^2 = 4433.434 */
	assert_int_equal(bantime_next(&j, 3, 0), 12051);	/* 12051.322 */
	assert_int_equal(bantime_next(&j, 5, 0), 89047);	/* 89047.895 */
	assert_int_equal(bantime_next(&j, 10, 0), 13215879);	/* 13215879.477 */
	/* jail.conf: "has the same values only for factor 2.0 / 2.885385" */
	j.factor = 2.0 / 2.885385;
	assert_int_equal(bantime_next(&j, 1, 0), 1200);		/* 1200.0015 */
	assert_int_equal(bantime_next(&j, 2, 0), 2400);		/* 2400.0059 */
	assert_int_equal(bantime_next(&j, 3, 0), 4800);		/* 4800.0176 */
	assert_int_equal(bantime_next(&j, 5, 0), 19200);	/* 19200.117 */
	assert_int_equal(bantime_next(&j, 10, 0), 614407);	/* 614407.501 */
	/* huge counts saturate instead of overflowing */
	j.factor = 1;
	assert_true(bantime_next(&j, 100000, 0) > 0);
	bantime_formula_free(&j.formula);
}

static void test_multipliers(void **state)
{
	static long m[] = { 1, 5, 30, 60, 300, 720, 1440, 2880 };
	struct jail j;

	make(&j, 60, POW2, 1);
	j.multipliers = m;
	j.nmultipliers = 8;
	assert_int_equal(bantime_next(&j, 0, 0), 60);
	assert_int_equal(bantime_next(&j, 1, 0), 300);		/* 5 min */
	assert_int_equal(bantime_next(&j, 3, 0), 3600);		/* 1 hour */
	assert_int_equal(bantime_next(&j, 7, 0), 172800);	/* 2 days */
	assert_int_equal(bantime_next(&j, 50, 0), 172800);	/* the last one */
	j.factor = 2;
	assert_int_equal(bantime_next(&j, 1, 0), 600);
	j.maxtime = 86400;
	assert_int_equal(bantime_next(&j, 7, 0), 86400);
}

static double ev(const char *text, double t, double c, double f, double m)
{
	struct bt_formula fo;
	char err[256];
	if (bantime_compile(text, 1, &fo, err, sizeof(err)) < 0)
		fail_msg("%s: %s", text, err);
	double v = bantime_eval(&fo, t, c, f, m);
	bantime_formula_free(&fo);
	return v;
}

static void test_arith(void **state)
{
	assert_true(ev("ban.Time * (ban.Count + 1) ** 2", 600, 2, 1, 0) == 5400);
	assert_true(ev("-2**2", 0, 0, 0, 0) == -4);		/* Python precedence */
	assert_true(ev("2**3**2", 0, 0, 0, 0) == 512);		/* right associative */
	assert_true(ev("2 ** -1", 0, 0, 0, 0) == 0.5);
	assert_true(ev("(1+2)*3 - 4/2", 0, 0, 0, 0) == 7);
	assert_true(ev("10/4", 0, 0, 0, 0) == 2.5);
	assert_true(ev("max(1, 3, 2)", 0, 0, 0, 0) == 3);
	assert_true(ev("min(ban.Time * 2 ** ban.Count, banMaxTime)", 600, 5, 1, 3600) == 3600);
	assert_true(ev("ban.Time * banFactor * 1.5 ** ban.Count", 100, 2, 2, 0) == 450);
	double r = ev("2 ** 0.5", 0, 0, 0, 0);
	assert_true(r > 1.41421356 && r < 1.41421357);
	r = ev("ban.Time * 3 ** (ban.Count / 2)", 100, 3, 1, 0);	/* 100 * 3^1.5 */
	assert_true(r > 519.6152 && r < 519.6153);

	/* a formula below ban.Time gives ban.Time (fail2ban's max()) */
	struct jail j;
	make(&j, 600, "ban.Time / 2", 1);
	assert_int_equal(bantime_next(&j, 3, 0), 600);
	bantime_formula_free(&j.formula);
	/* division by zero keeps ban.Time, as fail2ban's error path does */
	make(&j, 600, "ban.Time / (ban.Count - 1)", 1);
	assert_int_equal(bantime_next(&j, 1, 0), 600);
	assert_int_equal(bantime_next(&j, 3, 0), 600);
	bantime_formula_free(&j.formula);
	make(&j, 600, "ban.Time * (ban.Count + 1)", 1);
	assert_int_equal(bantime_next(&j, 3, 0), 2400);
	bantime_formula_free(&j.formula);
}

static void test_refused(void **state)
{
	static const char *bad[] = {
		"ban.Time // 2", "ban.Time % 2", "math.exp(1)", "ban.Time if 1 else 2",
		"ban.Time *", "(1", "1 2", "min()", "", "os.system('x')", "ban.time",
		"ban.Time << 2", "__import__('os')", "ban.Count < 20", "1e5x", "max(1,)",
		"ban.Time * (1<<(ban.Count if ban.Count<21 else 21)) * banFactor",
		"lambda: 1", "[1][0]", "ban.Time.__class__",
	};
	struct bt_formula f;
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (bantime_compile(bad[i], 1, &f, err, sizeof(err)) == 0)
			fail_msg("'%s' accepted", bad[i]);
	assert_int_equal(bantime_compile("ban.Time % 2", 1, &f, err, sizeof(err)), -1);
	assert_string_equal(err, "unexpected text at '% 2' (allowed: numbers, ban.Time, "
	    "ban.Count, banFactor, banMaxTime, + - * / ** ( ) min max)");
	/* numbers only for bantime.factor */
	assert_int_equal(bantime_compile("ban.Time", 0, &f, err, sizeof(err)), -1);
	assert_int_equal(bantime_compile(POW2, 0, &f, err, sizeof(err)), -1);
	assert_int_equal(bantime_compile("2.0 / 2.885385", 0, &f, err, sizeof(err)), 0);
	bantime_formula_free(&f);
	/* deep nesting is refused, not a stack overflow */
	char deep[400];
	memset(deep, '(', 200);
	deep[200] = '1';
	memset(deep + 201, ')', 198);
	deep[399] = '\0';
	assert_int_equal(bantime_compile(deep, 1, &f, err, sizeof(err)), -1);
	assert_string_equal(err, "nested too deeply at '((((((((((((((((((((' (allowed: numbers, "
	    "ban.Time, ban.Count, banFactor, banMaxTime, + - * / ** ( ) min max)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pow2),
		cmocka_unit_test(test_exp),
		cmocka_unit_test(test_multipliers),
		cmocka_unit_test(test_arith),
		cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
