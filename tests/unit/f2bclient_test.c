/*
 * f2bclient_test — the text pieces of `mailwarden fail2ban-client` that
 * must be Python's: f2bclient_pyrepr() against repr() of the same str
 * (the expected values were printed by python3), and the split of the
 * warden's answers into lines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "cli/f2bclient.h"
#include "common/buf.h"

static void check(const char *in, const char *want)
{
	struct buf b;
	buf_init(&b, 4096);
	f2bclient_pyrepr(&b, in);
	assert_string_equal(b.data, want);
	buf_free(&b);
}

static void test_pyrepr(void **state)
{
	check("sshd", "'sshd'");
	check("it's", "\"it's\"");			/* ' inside: double quotes */
	check("say \"hi\"", "'say \"hi\"'");
	check("both ' and \"", "'both \\' and \"'");	/* both: ' escaped */
	check("back\\slash", "'back\\\\slash'");
	check("tab\tnl\ncr\r", "'tab\\tnl\\ncr\\r'");
	check("esc\x1b del\x7f", "'esc\\x1b del\\x7f'");
	check("m\xc3\xbcller", "'m\xc3\xbcller'");	/* printable UTF-8 stays */
	check("", "''");
}

static void test_lines(void **state)
{
	struct buf b;
	char **v;
	buf_init(&b, 4096);
	buf_puts(&b, "a.log\n/var/log/b c.log\n\nlast\n");
	size_t n = f2bclient_lines(&b, &v);
	assert_int_equal(n, 4);
	assert_string_equal(v[0], "a.log");
	assert_string_equal(v[1], "/var/log/b c.log");
	assert_string_equal(v[2], "");
	assert_string_equal(v[3], "last");
	free(v);
	buf_reset(&b);
	buf_puts(&b, "no newline at the end");
	n = f2bclient_lines(&b, &v);
	assert_int_equal(n, 0);		/* a cut answer gives no half line */
	free(v);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pyrepr),
		cmocka_unit_test(test_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
