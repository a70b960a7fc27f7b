/* listen_test — listener specs: IPv4, [IPv6], bad ports and addresses. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include <unistd.h>

#include "master/listen.h"

static void test_bind_v4_v6(void **state)
{
	int fds[2];
	char err[256];
	int n = listen_open("127.0.0.1:0", fds, 2, err, sizeof(err));
	assert_int_equal(n, 1);
	close(fds[0]);
	n = listen_open("[::1]:0", fds, 2, err, sizeof(err));
	if (n == 1)		/* a host without IPv6 loopback is not an error here */
		close(fds[0]);
}

static void test_bad_specs(void **state)
{
	int fds[2];
	char err[256];
	assert_int_equal(listen_open("127.0.0.1", fds, 2, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "expected ADDR:PORT"));
	assert_int_equal(listen_open("127.0.0.1:99999", fds, 2, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "bad port"));
	assert_int_equal(listen_open("::1:25", fds, 2, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "bad IPv4 address"));
	assert_int_equal(listen_open("[nonsense]:25", fds, 2, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "bad IPv6 address"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bind_v4_v6),
		cmocka_unit_test(test_bad_specs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
