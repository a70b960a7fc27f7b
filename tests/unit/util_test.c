/*
 * util_test — the string helpers of common/util: str_printable() (Postfix's
 * printable(): control bytes and invalid UTF-8 become the replacement,
 * valid UTF-8 stays).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "common/util.h"

static void check(const char *in, const char *want)
{
	char buf[64];
	str_copy(buf, sizeof(buf), in);
	assert_string_equal(str_printable(buf, '?'), want);
}

static void test_printable(void **state)
{
	check("mx.example.com", "mx.example.com");
	check("a\rb\nc\td\x1b" "e\x7f", "a?b?c?d?e?");
	check("m\xc3\xbcller", "m\xc3\xbcller");		/* U+00FC */
	check("\xe2\x82\xac\xf0\x9f\x93\xa7", "\xe2\x82\xac\xf0\x9f\x93\xa7");
	check("x\xff" "y", "x?y");
	check("\xc0\xaf", "??");			/* overlong '/' */
	check("\xed\xa0\x80", "???");			/* surrogate */
	check("\xf4\x90\x80\x80", "????");		/* above U+10FFFF */
	check("\xe2\x82", "??");			/* cut short by the end */
	check("\xc3(", "?(");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_printable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
