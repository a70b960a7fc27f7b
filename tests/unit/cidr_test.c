/*
 * cidr_test — network lists: IPv4, IPv6 with and without brackets, hosts,
 * IPv4-mapped clients, exclusions, cidr: files, and the error messages.
 * Run with tests/unit as the working directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "common/cidr.h"

static struct cidrlist *parse_ok(const char *v)
{
	char err[256];
	struct cidrlist *cl = cidrlist_parse(v, err, sizeof(err));
	if (cl == NULL)
		fail_msg("%s: %s", v, err);
	return cl;
}

static void test_v4(void **state)
{
	struct cidrlist *cl = parse_ok("127.0.0.0/8, 192.0.2.0/24 198.51.100.7 0.0.0.0/0");

	assert_true(cidrlist_match_str(cl, "127.0.0.1"));
	assert_true(cidrlist_match_str(cl, "127.255.255.255"));
	assert_true(cidrlist_match_str(cl, "192.0.2.200"));
	assert_true(cidrlist_match_str(cl, "198.51.100.7"));
	assert_true(cidrlist_match_str(cl, "203.0.113.1"));	/* 0/0 matches all v4 */
	assert_false(cidrlist_match_str(cl, "::1"));
	assert_false(cidrlist_match_str(cl, "not an address"));
	cidrlist_free(cl);

	cl = parse_ok("192.0.2.0/25 198.51.100.7");
	assert_true(cidrlist_match_str(cl, "192.0.2.127"));
	assert_false(cidrlist_match_str(cl, "192.0.2.128"));
	assert_false(cidrlist_match_str(cl, "198.51.100.8"));
	assert_false(cidrlist_match_str(cl, "193.0.2.1"));
	cidrlist_free(cl);
}

static void test_v6(void **state)
{
	struct cidrlist *cl = parse_ok("[::1]/128 2001:db8::/32, [2001:db8:ff::]/48 fe80::1 [fe80::2]");

	assert_true(cidrlist_match_str(cl, "::1"));
	assert_true(cidrlist_match_str(cl, "[::1]"));
	assert_false(cidrlist_match_str(cl, "::2"));
	assert_true(cidrlist_match_str(cl, "2001:db8:1234::5"));
	assert_false(cidrlist_match_str(cl, "2001:db9::1"));
	assert_true(cidrlist_match_str(cl, "fe80::1"));
	assert_true(cidrlist_match_str(cl, "fe80::2"));
	assert_false(cidrlist_match_str(cl, "fe80::3"));
	assert_false(cidrlist_match_str(cl, "127.0.0.1"));
	cidrlist_free(cl);
	cl = parse_ok("::1/128");
	assert_true(cidrlist_match_str(cl, "::1"));
	cidrlist_free(cl);
	cl = parse_ok("2001:db8:0:6::/63");
	assert_true(cidrlist_match_str(cl, "2001:db8:0:6::1"));
	assert_true(cidrlist_match_str(cl, "2001:db8:0:7::1"));
	assert_false(cidrlist_match_str(cl, "2001:db8:0:8::1"));
	cidrlist_free(cl);
}

static void test_mapped_and_sockaddr(void **state)
{
	struct cidrlist *cl = parse_ok("192.0.2.0/24 [2001:db8::]/32");
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };

	assert_true(cidrlist_match_str(cl, "::ffff:192.0.2.9"));
	assert_false(cidrlist_match_str(cl, "::ffff:192.0.3.9"));
	inet_pton(AF_INET, "192.0.2.1", &sin.sin_addr);
	assert_true(cidrlist_match(cl, (struct sockaddr *)&sin));
	inet_pton(AF_INET, "192.0.3.1", &sin.sin_addr);
	assert_false(cidrlist_match(cl, (struct sockaddr *)&sin));
	inet_pton(AF_INET6, "::ffff:192.0.2.77", &sin6.sin6_addr);
	assert_true(cidrlist_match(cl, (struct sockaddr *)&sin6));
	inet_pton(AF_INET6, "2001:db8::25", &sin6.sin6_addr);
	assert_true(cidrlist_match(cl, (struct sockaddr *)&sin6));
	inet_pton(AF_INET6, "2001:db7::25", &sin6.sin6_addr);
	assert_false(cidrlist_match(cl, (struct sockaddr *)&sin6));
	assert_false(cidrlist_match(cl, NULL));
	cidrlist_free(cl);
}

static void test_negation_and_empty(void **state)
{
	struct cidrlist *cl = parse_ok("!192.0.2.7 192.0.2.0/24");

	assert_false(cidrlist_match_str(cl, "192.0.2.7"));
	assert_true(cidrlist_match_str(cl, "192.0.2.8"));
	cidrlist_free(cl);
	cl = parse_ok("");
	assert_false(cidrlist_match_str(cl, "127.0.0.1"));
	cidrlist_free(cl);
}

static void test_file(void **state)
{
	struct cidrlist *cl = parse_ok("cidr:data/networks, 127.0.0.1");

	assert_true(cidrlist_match_str(cl, "198.51.100.1"));
	assert_true(cidrlist_match_str(cl, "2001:db8:1:2::1"));
	assert_true(cidrlist_match_str(cl, "127.0.0.1"));
	assert_false(cidrlist_match_str(cl, "2001:db8:2::1"));
	cidrlist_free(cl);
}

static void test_errors(void **state)
{
	static const struct {
		const char *in, *msg;
	} cases[] = {
		{ "300.1.2.3", "bad network '300.1.2.3'" },
		{ "1.2.3.0/33", "bad network '1.2.3.0/33'" },
		{ "1.2.3.0/", "bad network '1.2.3.0/'" },
		{ "1.2.3.0/-1", "bad network '1.2.3.0/-1'" },
		{ "1.2.3.0/24x", "bad network '1.2.3.0/24x'" },
		{ "[::1", "bad network '[::1'" },
		{ "[::1]x", "bad network '[::1]x'" },
		{ "::1/129", "bad network '::1/129'" },
		{ "example.com", "bad network 'example.com'" },
		{ "192.0.2.1/24", "non-null host address bits in '192.0.2.1/24'" },
		{ "2001:db8::1/32", "non-null host address bits in '2001:db8::1/32'" },
		{ "hash:/etc/postfix/network", "'hash:/etc/postfix/network': only cidr:/path "
		    "tables are supported in network lists" },
		{ "cidr:/nonexistent/net", "cannot open /nonexistent/net: No such file or directory" },
	};
	char err[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		if (cidrlist_parse(cases[i].in, err, sizeof(err)) != NULL)
			fail_msg("accepted %s", cases[i].in);
		if (strcmp(err, cases[i].msg) != 0)
			fail_msg("%s:\n  got:  %s\n  want: %s", cases[i].in, err, cases[i].msg);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v4),
		cmocka_unit_test(test_v6),
		cmocka_unit_test(test_mapped_and_sockaddr),
		cmocka_unit_test(test_negation_and_empty),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
