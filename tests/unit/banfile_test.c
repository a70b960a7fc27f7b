/*
 * banfile_test — the bans file: written atomically, read back by the
 * engine's reader, re-read only after a change, expiry and networks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "warden/banfile.h"

static void test_roundtrip(void **state)
{
	char dir[] = "/tmp/banfile_test.XXXXXX";
	assert_non_null(mkdtemp(dir));
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	struct banfile *b = banfile_open(dfd, "bans");
	char jail[32];
	assert_int_equal(banfile_check(b, "192.0.2.9", 100, jail, sizeof(jail)), 0);

	struct banfile_entry e[3];
	memset(e, 0, sizeof(e));
	char err[64];
	waddr_parse_net("192.0.2.9", &e[0].net, err, sizeof(err));
	e[0].expires = 200;
	snprintf(e[0].jail, sizeof(e[0].jail), "%s", "sasl");
	waddr_parse_net("2001:db8:1:2::/64", &e[1].net, err, sizeof(err));
	e[1].expires = 0;
	snprintf(e[1].jail, sizeof(e[1].jail), "%s", "v6");
	waddr_parse_net("198.51.100.0/24", &e[2].net, err, sizeof(err));
	e[2].expires = 50;
	snprintf(e[2].jail, sizeof(e[2].jail), "%s", "old");
	assert_int_equal(banfile_write(dfd, "bans", e, 3), 0);

	assert_int_equal(banfile_check(b, "192.0.2.9", 100, jail, sizeof(jail)), 1);
	assert_string_equal(jail, "sasl");
	assert_int_equal(banfile_check(b, "192.0.2.9", 200, jail, sizeof(jail)), 0);
	assert_int_equal(banfile_check(b, "192.0.2.10", 100, jail, sizeof(jail)), 0);
	assert_int_equal(banfile_check(b, "2001:db8:1:2::55", 1L << 40, jail, sizeof(jail)), 1);
	assert_string_equal(jail, "v6");
	assert_int_equal(banfile_check(b, "::ffff:192.0.2.9", 100, jail, sizeof(jail)), 1);
	assert_int_equal(banfile_check(b, "198.51.100.1", 100, jail, sizeof(jail)), 0);
	assert_int_equal(banfile_check(b, "garbage", 100, jail, sizeof(jail)), 0);
	assert_int_equal(banfile_count(b), 3);

	/* rewritten: the reader sees the change */
	assert_int_equal(banfile_write(dfd, "bans", e + 1, 1), 0);
	assert_int_equal(banfile_check(b, "192.0.2.9", 100, jail, sizeof(jail)), 0);
	assert_int_equal(banfile_count(b), 1);
	/* no file: no bans */
	unlinkat(dfd, "bans", 0);
	assert_int_equal(banfile_count(b), 0);
	banfile_close(b);
	close(dfd);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
