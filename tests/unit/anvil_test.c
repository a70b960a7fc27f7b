/*
 * anvil_test — the smtp engine's client counters (src/smtp/anvil.c) on a
 * replaced clock: keys per client network (IPv4 /32 and /24, IPv6 /64
 * and /128), open-session counts, rates that restart when the
 * anvil_rate_time_unit window has passed, and entries that go once
 * their last session ended and their window expired.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <string.h>

#include "common/clock.h"
#include "common/loop.h"
#include "smtp/anvil.h"

static uint64_t fake_now = 1000000;
static struct anvil_table tab;

static uint64_t fake_clock(void)
{
	return fake_now;
}

static void key_is(const char *addr, const char *want)
{
	char key[INET6_ADDRSTRLEN + 5];
	anvil_key(&tab, addr, key, sizeof(key));
	assert_string_equal(key, want);
}

static void test_keys(void **state)
{
	tab.v4_prefix = 32;
	tab.v6_prefix = 64;
	key_is("192.0.2.77", "192.0.2.77");
	key_is("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64");
	key_is("2001:db8:1:2::1", "2001:db8:1:2::/64");
	tab.v4_prefix = 24;
	tab.v6_prefix = 128;
	key_is("192.0.2.77", "192.0.2.0/24");
	key_is("2001:db8::1", "2001:db8::1");
	tab.v4_prefix = 0;
	key_is("198.51.100.1", "0.0.0.0/0");
	key_is("not an address", "not an address");
}

static void test_counts_and_rates(void **state)
{
	char a[64], b[64];
	tab.v4_prefix = 24;
	tab.v6_prefix = 64;
	tab.unit_ms = 60000;
	clock_set_mono(fake_clock);
	anvil_key(&tab, "198.51.100.1", a, sizeof(a));
	anvil_key(&tab, "198.51.100.200", b, sizeof(b));
	assert_string_equal(a, b);			/* one network, one client */
	size_t before = anvil_clients(&tab);
	assert_int_equal(anvil_open(&tab, a), 1);
	assert_int_equal(anvil_open(&tab, b), 2);
	assert_int_equal(anvil_rate(&tab, a, ANVIL_CONN, 1), 1);
	assert_int_equal(anvil_rate(&tab, a, ANVIL_CONN, 1), 2);
	assert_int_equal(anvil_rate(&tab, a, ANVIL_MAIL, 0), 0);	/* a peek adds nothing */
	assert_int_equal(anvil_rate(&tab, a, ANVIL_MAIL, 1), 1);
	assert_int_equal(anvil_rate(&tab, a, ANVIL_NEWTLS, 0), 0);
	fake_now += 59999;
	assert_int_equal(anvil_rate(&tab, a, ANVIL_CONN, 1), 3);	/* same window */
	fake_now += 1;
	assert_int_equal(anvil_rate(&tab, a, ANVIL_CONN, 0), 0);	/* a new window */
	assert_int_equal(anvil_rate(&tab, a, ANVIL_MAIL, 1), 1);
	assert_int_equal(anvil_count(&tab, a), 2);		/* sessions are not rates */
	anvil_close(&tab, a);
	anvil_close(&tab, b);
	assert_int_equal(anvil_count(&tab, a), 0);
	/* closed, window not expired: the rates stay */
	assert_int_equal(anvil_clients(&tab), before + 1);
	assert_int_equal(anvil_rate(&tab, a, ANVIL_MAIL, 0), 1);
	/* a second client later sweeps the expired entry away */
	fake_now += 60000;
	assert_int_equal(anvil_rate(&tab, "203.0.113.0/24", ANVIL_CONN, 1), 1);
	assert_int_equal(anvil_clients(&tab), before + 1);
	assert_int_equal(anvil_rate(&tab, a, ANVIL_MAIL, 0), 0);
	anvil_close(&tab, "203.0.113.0/24");			/* never opened: harmless */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_counts_and_rates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
