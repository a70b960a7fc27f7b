/*
 * nexthop_test — transport values, queue keys, MX ordering, and routing
 * through transport_maps and relayhost (a config written to a temporary
 * directory). The DNS part (nexthop_resolve) is covered by
 * tests/integ/test_outbound.py against dnsmasq.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "queue/nexthop.h"

static void test_parse(void **state)
{
	struct nexthop nh;

	assert_int_equal(nexthop_parse("smtp:[mx.example]:2525", "d.test", &nh), 0);
	assert_int_equal(nh.transport, NH_SMTP);
	assert_string_equal(nh.host, "mx.example");
	assert_int_equal(nh.port, 2525);
	assert_true(nh.no_mx);
	assert_int_equal(nexthop_parse("smtp:", "D.Test", &nh), 0);
	assert_string_equal(nh.host, "d.test");
	assert_false(nh.no_mx);
	assert_int_equal(nh.port, 0);
	assert_int_equal(nexthop_parse("relay:relay.example", "d.test", &nh), 0);
	assert_string_equal(nh.host, "relay.example");
	assert_int_equal(nexthop_parse("smtp:[::1]:25", "d.test", &nh), 0);
	assert_string_equal(nh.host, "::1");
	assert_int_equal(nh.port, 25);
	assert_int_equal(nexthop_parse("lmtp:unix:/run/dovecot/lmtp", NULL, &nh), 0);
	assert_int_equal(nh.transport, NH_LMTP);
	assert_true(nh.unix_sock);
	assert_string_equal(nh.host, "/run/dovecot/lmtp");
	assert_int_equal(nexthop_parse("lmtp:inet:127.0.0.1:24", NULL, &nh), 0);
	assert_false(nh.unix_sock);
	assert_true(nh.no_mx);
	assert_int_equal(nh.port, 24);
	assert_int_equal(nexthop_parse("error:5.7.1 no mail here", "d.test", &nh), 0);
	assert_int_equal(nh.transport, NH_ERROR);
	assert_string_equal(nh.text, "5.7.1 no mail here");
	assert_int_equal(nexthop_parse("virtual", "d.test", &nh), 0);
	assert_int_equal(nh.transport, NH_VIRTUAL);
	/* malformed */
	assert_int_equal(nexthop_parse("bogus:x", "d.test", &nh), -1);
	assert_int_equal(nexthop_parse("smtp:[h", "d.test", &nh), -1);
	assert_int_equal(nexthop_parse("smtp:h:99999", "d.test", &nh), -1);
	assert_int_equal(nexthop_parse("smtp:h:25x", "d.test", &nh), -1);
	assert_int_equal(nexthop_parse("lmtp:", NULL, &nh), -1);
	assert_int_equal(nexthop_parse("smtp:", "", &nh), -1);
}

static void test_key(void **state)
{
	struct nexthop nh;
	char k[300];

	nexthop_parse("smtp:[mx.example]:2525", "d.test", &nh);
	nexthop_key(&nh, k, sizeof(k));
	assert_string_equal(k, "smtp:[mx.example]:2525");
	nexthop_parse("smtp:", "d.test", &nh);
	nexthop_key(&nh, k, sizeof(k));
	assert_string_equal(k, "smtp:d.test:0");
	nexthop_parse("lmtp:unix:/s", NULL, &nh);
	nexthop_key(&nh, k, sizeof(k));
	assert_string_equal(k, "lmtp:unix:/s");
}

static long seq_i;
static long seq(void)
{
	return seq_i++;
}

static void test_mx_order(void **state)
{
	char a[] = "20 b.example", b[] = "10 a.example", c[] = "10 c.example", d[] = "5 d.example";
	char *items[] = { a, b, c, d };
	int seen_a_first = 0, seen_c_first = 0;

	for (int round = 0; round < 8; round++) {
		char *it[] = { items[0], items[1], items[2], items[3] };
		seq_i = round;
		assert_int_equal(nexthop_mx_order(it, 4, seq), 0);
		assert_ptr_equal(it[0], d);	/* lowest preference first */
		assert_ptr_equal(it[3], a);	/* highest last */
		assert_true((it[1] == b && it[2] == c) || (it[1] == c && it[2] == b));
		seen_a_first |= it[1] == b;
		seen_c_first |= it[1] == c;
	}
	assert_true(seen_a_first && seen_c_first);	/* equal preferences are shuffled */
	char n[] = "0 .";
	char *null_mx[] = { n };
	assert_int_equal(nexthop_mx_order(null_mx, 1, seq), 1);
}

static struct config *load(const char *text)
{
	char dir[] = "/tmp/nexthop_test.XXXXXX", path[300], err[512];
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/mailwarden.conf", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	struct config *cfg = config_load(path, err, sizeof(err));
	if (cfg == NULL)
		fail_msg("config_load: %s", err);
	unlink(path);
	rmdir(dir);
	return cfg;
}

static void test_route(void **state)
{
	struct config *cfg = load(
	    "relayhost = [127.0.0.2]:2525\n"
	    "transport_maps = inline:{ { a.test = error:5.1.1 not here }, l.test=lmtp:unix:/s, "
	    "e.test=smtp:, .sub.test=smtp:[10.0.0.1], u@v.test=smtp:[10.0.0.2]:26 }\n");
	char err[256];
	struct nh_router *r = nexthop_router_open(cfg, err, sizeof(err));
	struct nexthop nh;

	assert_non_null(r);
	assert_int_equal(nexthop_route(r, "x@other.test", &nh), 0);	/* relayhost */
	assert_int_equal(nh.transport, NH_SMTP);
	assert_string_equal(nh.host, "127.0.0.2");
	assert_int_equal(nh.port, 2525);
	assert_true(nh.no_mx);
	assert_int_equal(nexthop_route(r, "x@e.test", &nh), 0);	/* empty next hop: relayhost */
	assert_string_equal(nh.host, "127.0.0.2");
	assert_int_equal(nexthop_route(r, "x@a.test", &nh), 0);
	assert_int_equal(nh.transport, NH_ERROR);
	assert_string_equal(nh.text, "5.1.1 not here");
	assert_int_equal(nexthop_route(r, "x@deep.sub.test", &nh), 0);	/* .parent */
	assert_string_equal(nh.host, "10.0.0.1");
	assert_int_equal(nexthop_route(r, "u@v.test", &nh), 0);	/* full address first */
	assert_string_equal(nh.host, "10.0.0.2");
	assert_int_equal(nh.port, 26);
	/* overrides of local/virtual delivery */
	assert_int_equal(nexthop_override(r, "u@l.test", &nh), 1);
	assert_int_equal(nh.transport, NH_LMTP);
	assert_int_equal(nexthop_override(r, "u@a.test", &nh), 1);
	assert_int_equal(nexthop_override(r, "u@e.test", &nh), 0);
	assert_int_equal(nexthop_override(r, "u@none.test", &nh), 0);
	nexthop_router_free(r);
	config_free(cfg);

	cfg = load("relayhost = smarthost.example:587\n");
	r = nexthop_router_open(cfg, err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(nexthop_route(r, "x@y.test", &nh), 0);
	assert_string_equal(nh.host, "smarthost.example");
	assert_int_equal(nh.port, 587);
	assert_false(nh.no_mx);
	nexthop_router_free(r);
	config_free(cfg);

	cfg = load("");
	r = nexthop_router_open(cfg, err, sizeof(err));
	assert_int_equal(nexthop_route(r, "x@Y.Test", &nh), 0);	/* MX of the domain */
	assert_string_equal(nh.host, "y.test");
	assert_false(nh.no_mx);
	assert_int_equal(nexthop_default_port(r, NH_SMTP), 25);
	assert_int_equal(nexthop_default_port(r, NH_LMTP), 24);
	nexthop_router_free(r);
	config_free(cfg);

	cfg = load("relayhost = [unclosed:25\n");
	assert_null(nexthop_router_open(cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "relayhost"));
	config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_key),
		cmocka_unit_test(test_mx_order),
		cmocka_unit_test(test_route),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
