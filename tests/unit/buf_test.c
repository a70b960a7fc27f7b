/* buf_test — the growable buffer never passes its maximum. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdint.h>
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

/* Lengths are compared with the room left: 0, exactly the room, one
 * more, and sizes that would wrap len + n. */
static void test_append_lengths(void **state)
{
	struct buf b;
	buf_init(&b, 8);
	assert_int_equal(buf_append(&b, "", 0), 0);
	assert_int_equal(buf_append(&b, "abc", 3), 0);
	assert_int_equal(buf_append(&b, "123456", 6), -1);	/* room + 1 */
	assert_int_equal(buf_append(&b, "12345", SIZE_MAX), -1);
	assert_int_equal(buf_append(&b, "12345", SIZE_MAX - 2), -1);	/* 3 + n wraps to 0 */
	assert_int_equal(buf_append(&b, "12345", 5), 0);	/* exactly the room */
	assert_int_equal(buf_append(&b, "", 0), 0);
	assert_int_equal(buf_append(&b, "x", 1), -1);
	assert_string_equal(b.data, "abc12345");
	buf_free(&b);
	/* no maximum to speak of: a wrapping length must still fail */
	buf_init(&b, SIZE_MAX);
	assert_int_equal(buf_append(&b, "abc", 3), 0);
	assert_int_equal(buf_append(&b, "x", SIZE_MAX - 1), -1);
	assert_int_equal(buf_append(&b, "x", SIZE_MAX - 2), -1);
	assert_int_equal(b.len, 3);
	buf_free(&b);
}

/* JSON strings: quotes, backslashes and control bytes escaped, the rest
 * (UTF-8 too) kept; past the maximum an error, not a cut string. */
static void test_json_str(void **state)
{
	struct buf b;
	buf_init(&b, 64);
	assert_int_equal(buf_json_str(&b, "a\"b\\c\n\x01" "d\xc3\xa9"), 0);
	assert_int_equal(b.len, strlen("\"a\\\"b\\\\c\\u000a\\u0001d\xc3\xa9\""));
	assert_memory_equal(b.data, "\"a\\\"b\\\\c\\u000a\\u0001d\xc3\xa9\"", b.len);
	buf_free(&b);
	buf_init(&b, 8);
	assert_int_equal(buf_json_str(&b, "0123456789"), -1);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_and_max),
		cmocka_unit_test(test_large_printf),
		cmocka_unit_test(test_append_lengths),
		cmocka_unit_test(test_json_str),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
