/*
 * net_test — ban engine addresses: parsing, IPv4-mapped IPv6, masks,
 * ignoreip matching, and the ban prefix that never covers an ignored
 * address (narrowed, or refused for 0.0.0.0/0 and ::/0).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "warden/jail.h"

static struct net host(const char *s)
{
	struct net w;
	if (net_parse(s, &w) < 0)
		fail_msg("'%s' does not parse", s);
	return w;
}

static struct net net(const char *s)
{
	struct net w;
	char err[128];
	if (net_parse_net(s, &w, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	return w;
}

static const char *fmt(const struct net *w)
{
	static char buf[NET_STRLEN];
	assert_true(net_format(w, 0, buf, sizeof(buf)) > 0);
	return buf;
}

static void test_parse(void **state)
{
	struct net w;
	char err[128];

	w = host("192.0.2.9");
	assert_int_equal(w.family, AF_INET);
	assert_int_equal(w.plen, 32);
	assert_string_equal(fmt(&w), "192.0.2.9");
	w = host("[2001:DB8::1]");
	assert_int_equal(w.family, AF_INET6);
	assert_string_equal(fmt(&w), "2001:db8::1");
	w = host("::ffff:198.51.100.7");	/* mapped: IPv4 */
	assert_int_equal(w.family, AF_INET);
	assert_string_equal(fmt(&w), "198.51.100.7");
	assert_int_equal(net_parse("192.0.2", &w), -1);
	assert_int_equal(net_parse("192.0.2.9/32", &w), -1);
	assert_int_equal(net_parse("[::1", &w), -1);
	assert_int_equal(net_parse("", &w), -1);
	assert_int_equal(net_parse("example.org", &w), -1);

	w = net("127.0.0.1/8");			/* host bits cleared */
	assert_string_equal(fmt(&w), "127.0.0.0/8");
	w = net("192.0.2.0/255.255.255.128");
	assert_string_equal(fmt(&w), "192.0.2.0/25");
	w = net("[2001:db8:1:2:3::]/48");
	assert_string_equal(fmt(&w), "2001:db8:1::/48");
	w = net("::ffff:10.0.0.0/104");		/* mapped: /104 is IPv4 /8 */
	assert_string_equal(fmt(&w), "10.0.0.0/8");
	w = net("2001:db8::7");
	assert_int_equal(w.plen, 128);
	assert_int_equal(net_parse_net("192.0.2.0/33", &w, err, sizeof(err)), -1);
	assert_string_equal(err, "bad address or network '192.0.2.0/33'");
	assert_int_equal(net_parse_net("192.0.2.0/255.0.255.0", &w, err, sizeof(err)), -1);
	assert_int_equal(net_parse_net("::/129", &w, err, sizeof(err)), -1);
	assert_int_equal(net_parse_net("1.2.3.4/", &w, err, sizeof(err)), -1);
	assert_int_equal(net_parse_net("1.2.3.4/-1", &w, err, sizeof(err)), -1);

	char small[8];
	w = host("2001:db8::1");
	assert_int_equal(net_format(&w, 0, small, sizeof(small)), -1);
	w = host("192.0.2.9");
	char buf[NET_STRLEN];
	assert_int_equal(net_format(&w, 1, buf, sizeof(buf)), 12);
	assert_string_equal(buf, "192.0.2.9/32");
}

static void test_match(void **state)
{
	struct net list[3] = { net("127.0.0.1/8"), net("::1"), net("2001:db8:aa::/48") };

	struct net a = host("127.1.2.3");
	assert_true(banprefix_ignored(list, 3, &a));
	a = host("::ffff:127.0.0.1");
	assert_true(banprefix_ignored(list, 3, &a));
	a = host("::1");
	assert_true(banprefix_ignored(list, 3, &a));
	a = host("::2");
	assert_false(banprefix_ignored(list, 3, &a));
	a = host("2001:db8:aa:ffff::1");
	assert_true(banprefix_ignored(list, 3, &a));
	a = host("2001:db8:ab::1");
	assert_false(banprefix_ignored(list, 3, &a));
	a = host("128.0.0.1");
	assert_false(banprefix_ignored(list, 3, &a));
	/* network inside network */
	struct net n = net("2001:db8:aa:1::/64");
	assert_true(net_contains(&list[2], &n));
	assert_false(net_contains(&n, &list[2]));
}

static void test_ban_prefix(void **state)
{
	struct net out, a;
	char err[128];

	/* no ignore list: the configured prefix */
	a = host("192.0.2.9");
	assert_int_equal(banprefix_for(&a, 32, 64, NULL, 0, &out, err, sizeof(err)), 0);
	assert_string_equal(fmt(&out), "192.0.2.9");
	assert_int_equal(banprefix_for(&a, 24, 64, NULL, 0, &out, err, sizeof(err)), 0);
	assert_string_equal(fmt(&out), "192.0.2.0/24");
	a = host("2001:db8:1:2:3:4:5:6");
	assert_int_equal(banprefix_for(&a, 32, 64, NULL, 0, &out, err, sizeof(err)), 0);
	assert_string_equal(fmt(&out), "2001:db8:1:2::/64");

	/* the address itself ignored: nothing to ban */
	struct net ig[] = { net("192.0.2.128/25"), net("2001:db8:1:2:ffff::/80"), net("10.0.0.1") };
	a = host("192.0.2.200");
	assert_int_equal(banprefix_for(&a, 24, 64, ig, 3, &out, err, sizeof(err)), 1);

	/* a /24 would cover 192.0.2.128/25: narrowed to the /25 without it */
	a = host("192.0.2.9");
	assert_int_equal(banprefix_for(&a, 24, 64, ig, 3, &out, err, sizeof(err)), 0);
	assert_string_equal(fmt(&out), "192.0.2.0/25");
	assert_false(net_contains(&out, &ig[0]));
	assert_true(net_contains(&out, &a));

	/* IPv6 /64 containing an ignored /80: narrowed to /65 */
	a = host("2001:db8:1:2::99");
	assert_int_equal(banprefix_for(&a, 32, 64, ig, 3, &out, err, sizeof(err)), 0);
	assert_string_equal(fmt(&out), "2001:db8:1:2::/65");
	assert_false(net_contains(&out, &ig[1]));
	/* ... and an ignored host right next to the banned one */
	a = host("10.0.0.0");
	assert_int_equal(banprefix_for(&a, 8, 64, ig, 3, &out, err, sizeof(err)), 0);
	assert_string_equal(fmt(&out), "10.0.0.0");
	assert_int_equal(out.plen, 32);

	/* several ignored networks: the narrowest that excludes them all */
	struct net ig2[] = { net("198.51.100.64/26"), net("198.51.100.8/29") };
	a = host("198.51.100.1");
	assert_int_equal(banprefix_for(&a, 24, 64, ig2, 2, &out, err, sizeof(err)), 0);
	assert_string_equal(fmt(&out), "198.51.100.0/29");
	for (size_t i = 0; i < 2; i++)
		assert_false(net_contains(&out, &ig2[i]));
	/* another family's ignore entries do not matter */
	a = host("2001:db8::1");
	assert_int_equal(banprefix_for(&a, 24, 48, ig2, 2, &out, err, sizeof(err)), 0);
	assert_string_equal(fmt(&out), "2001:db8::/48");

	/* exhaustive check on one /24: never covers an ignored address */
	struct net ig3[] = { net("203.0.113.77"), net("203.0.113.200/30") };
	for (int i = 0; i < 256; i++) {
		char s[32];
		snprintf(s, sizeof(s), "203.0.113.%d", i);
		a = host(s);
		int rc = banprefix_for(&a, 24, 64, ig3, 2, &out, err, sizeof(err));
		if (banprefix_ignored(ig3, 2, &a)) {
			assert_int_equal(rc, 1);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_true(net_contains(&out, &a));
		assert_false(net_contains(&out, &ig3[0]));
		assert_false(net_contains(&out, &ig3[1]));
		struct net edge = host("203.0.113.203");
		assert_false(net_contains(&out, &edge));
	}

	/* 0.0.0.0/0 and ::/0 are refused */
	a = host("192.0.2.9");
	assert_int_equal(banprefix_for(&a, 0, 64, NULL, 0, &out, err, sizeof(err)), -1);
	assert_string_equal(err, "ban prefix /0 out of range for IPv4 (1-32)");
	a = host("2001:db8::1");
	assert_int_equal(banprefix_for(&a, 32, 0, NULL, 0, &out, err, sizeof(err)), -1);
	assert_string_equal(err, "ban prefix /0 out of range for IPv6 (1-128)");
	assert_int_equal(banprefix_for(&a, 32, 129, NULL, 0, &out, err, sizeof(err)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_ban_prefix),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
