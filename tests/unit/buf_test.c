/* buf_test — the growable buffer never passes its maximum. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "common/buf.h"

static void test_append_and_max(void **state)
{
	struct buf b;
	buf_init(&b, 10);
	assert_int_equal(buf_append(&b, "hello", 5), 0);
	assert_int_equal(buf_puts(&b, "world"), 0);
	assert_int_equal(b.len, 10);
	assert_string_equal(b.data, "helloworld");
	assert_int_equal(buf_append(&b, "!", 1), -1);
	assert_int_equal(b.len, 10);
	buf_consume(&b, 5);
	assert_string_equal(b.data, "world");
	assert_int_equal(buf_printf(&b, "%d", 12345), 0);
	assert_string_equal(b.data, "world12345");
	assert_int_equal(buf_printf(&b, "%d", 1), -1);
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

static void test_large_printf(void **state)
{
	struct buf b;
	char big[2000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_init(&b, 4096);
	assert_int_equal(buf_printf(&b, "<%s>", big), 0);
	assert_int_equal(b.len, 2001);
	assert_int_equal(b.data[0], '<');
	assert_int_equal(b.data[2000], '>');
	assert_int_equal(buf_printf(&b, "%s%s", big, big), -1);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_and_max),
		cmocka_unit_test(test_large_printf),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
