/*
 * resp_test — the Redis protocol code of the cluster client: commands
 * written as bulk-string arrays, replies of every type parsed whole or
 * byte by byte (incomplete until the last byte), nested arrays (SCAN),
 * protocol errors and limits refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "common/buf.h"
#include "warden/cluster/resp.h"

static void test_cmd(void **state)
{
	struct buf o;
	buf_init(&o, 1024);
	const char *argv[3] = { "SET", "mw:1:ban:sasl:192.0.2.66", "a b" };
	assert_int_equal(resp_cmd(&o, 3, argv, NULL), 0);
	assert_string_equal(o.data, "*3\r\n$3\r\nSET\r\n$24\r\nmw:1:ban:sasl:192.0.2.66\r\n$3\r\na b\r\n");
	buf_free(&o);
	buf_init(&o, 10);	/* past max: nothing left half-written */
	assert_int_equal(resp_cmd(&o, 3, argv, NULL), -1);
	assert_int_equal(o.len, 0);
	buf_free(&o);
}

static void one(const char *in, enum resp_type t, const char *str, long long num)
{
	struct resp_reply r;
	size_t used, n = strlen(in);
	for (size_t k = 0; k < n; k++)	/* every prefix is incomplete */
		assert_int_equal(resp_parse(in, k, &r, &used), 0);
	assert_int_equal(resp_parse(in, n, &r, &used), 1);
	assert_int_equal(used, n);
	assert_int_equal(r.type, t);
	if (str)
		assert_string_equal(r.str, str);
	if (t == RESP_INT)
		assert_int_equal(r.num, num);
	resp_free(&r);
}

static void test_types(void **state)
{
	one("+OK\r\n", RESP_STATUS, "OK", 0);
	one("-WRONGPASS invalid username-password pair\r\n", RESP_ERROR,
	    "WRONGPASS invalid username-password pair", 0);
	one(":42\r\n", RESP_INT, NULL, 42);
	one("$5\r\na\r\nbc\r\n", RESP_BULK, "a\r\nbc", 0);
	one("$-1\r\n", RESP_NIL, NULL, 0);
	one("$0\r\n\r\n", RESP_BULK, "", 0);
}

static void test_scan_reply(void **state)
{
	const char *in = "*2\r\n$1\r\n0\r\n*2\r\n$3\r\nk:1\r\n$3\r\nk:2\r\n+OK\r\n";
	struct resp_reply r;
	size_t used;
	assert_int_equal(resp_parse(in, strlen(in), &r, &used), 1);
	assert_int_equal(used, strlen(in) - 5);	/* the next reply is left */
	assert_int_equal(r.type, RESP_ARRAY);
	assert_int_equal(r.nelem, 2);
	assert_string_equal(r.elem[0].str, "0");
	assert_int_equal(r.elem[1].nelem, 2);
	assert_string_equal(r.elem[1].elem[1].str, "k:2");
	resp_free(&r);
}

static void test_bad(void **state)
{
	static const char *const bad[] = {
		"?x\r\n", ":12a\r\n", "$3\r\nabcd\r\n", "$-2\r\n", "*-5\r\n",
		"$99999999999\r\n", "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", "+OK\rX",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct resp_reply r;
		size_t used;
		assert_int_equal(resp_parse(bad[i], strlen(bad[i]), &r, &used), -1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cmd),
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_scan_reply),
		cmocka_unit_test(test_bad),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
