/*
 * jailrt_test — the ban engine's runtime per jail, with times passed in
 * (a fake clock): the findtime window, a ban at exactly maxretry,
 * counting per IPv6 /64, ignoreip and ignoreself winning, 0.0.0.0/0
 * refused, the lockout allowance for the same login only, bans in force;
 * the caps (maxfailed evicting the least recently failed, maxbanned
 * aggregating then refusing) and ban lookup through prefix lengths.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "warden/jailrt.h"

static struct jail mkjail(long maxretry, long findtime)
{
	struct jail j;
	memset(&j, 0, sizeof(j));
	j.name = "test";
	j.maxretry = maxretry;
	j.findtime = findtime;
	j.bantime = 600;
	j.prefix4 = 32;
	j.prefix6 = 64;
	j.ignoreself = 1;
	return j;
}

static enum jailrt_result failat(struct jailrt *r, const char *a, long t)
{
	struct net net;
	long n;
	char err[128];
	return jailrt_failure(r, a, "", 0, t, t, &net, &n, err, sizeof(err));
}

static void test_exact_maxretry(void **state)
{
	struct jail j = mkjail(3, 600);
	struct jailrt *r = jailrt_new(&j, NULL, 0);
	struct net net;
	long n = 0;
	char err[128], txt[NET_STRLEN];
	assert_int_equal(failat(r, "192.0.2.9", 1000), JRT_COUNTED);
	assert_int_equal(failat(r, "192.0.2.9", 1001), JRT_COUNTED);
	assert_int_equal(jailrt_current_failed(r, 1001), 1);
	assert_int_equal(jailrt_failure(r, "192.0.2.9", "", 0, 1002, 1002, &net, &n, err,
	    sizeof(err)), JRT_BAN);
	assert_int_equal(n, 3);
	net_format(&net, 1, txt, sizeof(txt));
	assert_string_equal(txt, "192.0.2.9/32");
	assert_int_equal(r->total_failed, 3);
	assert_int_equal(jailrt_current_failed(r, 1002), 0);
	jailrt_ban_add(r, &net, 1002, 600, 1, 0);
	assert_int_equal(failat(r, "192.0.2.9", 1003), JRT_BANNED);
	assert_int_equal(r->total_banned, 1);
	jailrt_free(r);
}

static void test_findtime_window(void **state)
{
	struct jail j = mkjail(3, 600);
	struct jailrt *r = jailrt_new(&j, NULL, 0);
	assert_int_equal(failat(r, "192.0.2.1", 1000), JRT_COUNTED);
	assert_int_equal(failat(r, "192.0.2.1", 1300), JRT_COUNTED);
	/* 1000 left the window at 1600: only two within findtime */
	assert_int_equal(failat(r, "192.0.2.1", 1600), JRT_COUNTED);
	assert_int_equal(failat(r, "192.0.2.1", 1601), JRT_BAN);
	/* a log line older than findtime is not counted at all */
	struct net net;
	long n;
	char err[64];
	assert_int_equal(jailrt_failure(r, "192.0.2.2", "", 0, 100, 1000, &net, &n, err,
	    sizeof(err)), JRT_OLD);
	jailrt_expire_failures(r, 5000);
	assert_int_equal(r->nfails, 0);
	jailrt_free(r);
}

static void test_prefix6(void **state)
{
	struct jail j = mkjail(3, 600);
	struct jailrt *r = jailrt_new(&j, NULL, 0);
	struct net net;
	long n;
	char err[64], txt[NET_STRLEN];
	assert_int_equal(failat(r, "2001:db8:1:2::1", 10), JRT_COUNTED);
	assert_int_equal(failat(r, "2001:db8:1:2:ffff::9", 11), JRT_COUNTED);
	assert_int_equal(failat(r, "2001:db8:1:3::1", 12), JRT_COUNTED);	/* another /64 */
	assert_int_equal(jailrt_failure(r, "2001:db8:1:2::77", "", 0, 13, 13, &net, &n, err,
	    sizeof(err)), JRT_BAN);
	net_format(&net, 1, txt, sizeof(txt));
	assert_string_equal(txt, "2001:db8:1:2::/64");
	jailrt_ban_add(r, &net, 13, 600, 1, 0);
	struct net a;
	net_parse("2001:db8:1:2::abcd", &a);
	assert_non_null(jailrt_ban_find(r, &a));
	net_parse("2001:db8:1:3::1", &a);
	assert_null(jailrt_ban_find(r, &a));
	jailrt_free(r);
}

static void test_ignore_wins(void **state)
{
	struct jail j = mkjail(1, 600);
	struct net ign[1];
	char err[64];
	net_parse_net("198.51.100.0/24", &ign[0], err, sizeof(err));
	j.ignore = ign;
	j.nignore = 1;
	struct net self;
	net_parse_net("127.0.0.0/8", &self, err, sizeof(err));
	struct jailrt *r = jailrt_new(&j, &self, 1);
	assert_int_equal(failat(r, "198.51.100.7", 1), JRT_IGNORED);
	assert_int_equal(failat(r, "127.0.0.1", 1), JRT_IGNORED);
	assert_int_equal(failat(r, "::ffff:127.0.0.1", 1), JRT_IGNORED);
	struct net big;
	net_parse_net("198.51.0.0/16", &big, err, sizeof(err));
	assert_int_equal(jailrt_is_ignored(r, &big), 1);	/* a restored ban over it */
	jailrt_free(r);
	/* without ignoreself, the host is not ignored */
	j.ignoreself = 0;
	r = jailrt_new(&j, &self, 1);
	assert_int_equal(failat(r, "127.0.0.1", 1), JRT_BAN);
	jailrt_free(r);
}

static void test_no_slash0(void **state)
{
	struct jail j = mkjail(1, 600);
	j.prefix4 = 0;
	struct jailrt *r = jailrt_new(&j, NULL, 0);
	assert_int_equal(failat(r, "192.0.2.9", 1), JRT_ERROR);
	assert_int_equal(failat(r, "not-an-ip", 1), JRT_ERROR);
	jailrt_free(r);
}

static void test_allowance_same_login(void **state)
{
	struct jail j = mkjail(2, 600);
	struct jailrt *r = jailrt_new(&j, NULL, 0);
	struct net net;
	long n;
	char err[64];
	assert_int_equal(jailrt_failure(r, "192.0.2.5", "alice", 1, 100, 100, &net, &n, err,
	    sizeof(err)), JRT_COUNTED);
	assert_int_equal(jailrt_auth_ok(r, "192.0.2.5", "alice", 101, 3600), 1);
	assert_int_equal(r->nfails, 0);
	/* alice mistyping again: not counted */
	for (int i = 0; i < 5; i++)
		assert_int_equal(jailrt_failure(r, "192.0.2.5", "alice", 1, 102 + i, 102 + i,
		    &net, &n, err, sizeof(err)), JRT_ALLOWED);
	/* another login from the same address counts */
	assert_int_equal(jailrt_failure(r, "192.0.2.5", "root", 1, 110, 110, &net, &n, err,
	    sizeof(err)), JRT_COUNTED);
	assert_int_equal(jailrt_failure(r, "192.0.2.5", "admin", 1, 111, 111, &net, &n, err,
	    sizeof(err)), JRT_BAN);
	/* the allowance ends */
	assert_int_equal(jailrt_failure(r, "192.0.2.6", "alice", 1, 120, 120, &net, &n, err,
	    sizeof(err)), JRT_COUNTED);	/* other address: no allowance */
	assert_int_equal(jailrt_failure(r, "192.0.2.5", "alice", 1, 101 + 3600, 101 + 3600,
	    &net, &n, err, sizeof(err)), JRT_COUNTED);
	jailrt_free(r);
}

static void test_bans(void **state)
{
	struct jail j = mkjail(1, 600);
	struct jailrt *r = jailrt_new(&j, NULL, 0);
	struct net a, b;
	net_parse("192.0.2.1", &a);
	net_parse("192.0.2.2", &b);
	jailrt_ban_add(r, &a, 100, 50, 1, 0);
	jailrt_ban_add(r, &b, 100, JAIL_FOREVER, 1, 1);
	assert_int_equal(r->total_banned, 1);
	assert_int_equal(jailrt_next_end(r), 150);
	assert_int_equal(jailrt_ban_left(&r->bans[0], 120), 30);
	assert_int_equal(jailrt_ban_left(&r->bans[1], 120), 0);
	assert_int_equal(jailrt_ban_ended(&r->bans[0], 150), 1);
	assert_int_equal(jailrt_ban_ended(&r->bans[1], 1L << 40), 0);
	assert_string_equal(r->bans[0].key, "192.0.2.1");
	jailrt_ban_del(r, 0);
	assert_int_equal(r->nbans, 1);
	assert_int_equal(jailrt_next_end(r), 0);
	jailrt_free(r);
}

/* The index of bans by network: many bans, re-adds replace, deletions
 * in any order keep every remaining ban findable. */
static void test_ban_index(void **state)
{
	struct jail j = mkjail(1, 600);
	struct jailrt *r = jailrt_new(&j, NULL, 0);
	enum { N = 20000 };
	struct net w;
	memset(&w, 0, sizeof(w));
	for (int i = 0; i < N; i++) {
		w.family = i % 2 ? AF_INET6 : AF_INET;
		memset(w.a, 0, 16);
		w.a[0] = 10, w.a[1] = (unsigned char)(i >> 8), w.a[2] = (unsigned char)i;
		w.plen = i % 2 ? 64 : 32;
		jailrt_ban_add(r, &w, 100, 600, 1, 1);
	}
	assert_int_equal(r->nbans, N);
	/* the same networks again: replaced, not added */
	for (int i = 0; i < N; i += 7) {
		w.family = i % 2 ? AF_INET6 : AF_INET;
		memset(w.a, 0, 16);
		w.a[0] = 10, w.a[1] = (unsigned char)(i >> 8), w.a[2] = (unsigned char)i;
		w.plen = i % 2 ? 64 : 32;
		assert_int_equal(jailrt_ban_add(r, &w, 200, 600, 2, 1)->start, 200);
	}
	assert_int_equal(r->nbans, N);
	/* delete about half, from the front, the middle and the end */
	unsigned long long x = 12345;
	for (int k = 0; k < N / 2; k++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		jailrt_ban_del(r, (size_t)((x >> 33) % r->nbans));
	}
	assert_int_equal(r->nbans, N - N / 2);
	/* every remaining ban is found by its own network, and re-adding it
	 * does not add a second entry */
	size_t left = r->nbans;
	for (size_t i = 0; i < left; i++) {
		struct net n = r->bans[i].net;
		assert_ptr_equal(jailrt_ban_add(r, &n, 300, 600, 3, 1), &r->bans[i]);
	}
	assert_int_equal(r->nbans, left);
	while (r->nbans)
		jailrt_ban_del(r, 0);
	w.family = AF_INET;
	memset(w.a, 0, 16);
	w.a[0] = 10;
	w.plen = 32;
	jailrt_ban_add(r, &w, 1, 1, 1, 1);
	assert_int_equal(r->nbans, 1);
	jailrt_free(r);
}

/* Failure counters restored at start: replayed failures count as they
 * did, bring no ban of their own and do not raise Total failed. */
static void test_replay(void **state)
{
	struct jail j = mkjail(3, 600);
	struct jailrt *r = jailrt_new(&j, NULL, 0);
	struct net net;
	long n;
	char err[128];
	/* too old, two of 192.0.2.1, one of 192.0.2.2 */
	jailrt_replay(r, "192.0.2.1", 100, 1000);
	jailrt_replay(r, "192.0.2.1", 500, 1000);
	jailrt_replay(r, "192.0.2.2", 510, 1000);
	jailrt_replay(r, "192.0.2.1", 520, 1000);
	assert_int_equal(r->nreplayed, 3);
	assert_int_equal(r->total_failed, 0);
	assert_int_equal(jailrt_current_failed(r, 1000), 2);
	/* the third failure after the restart bans */
	assert_int_equal(jailrt_failure(r, "192.0.2.1", "", 0, 1001, 1001, &net, &n, err,
	    sizeof(err)), JRT_BAN);
	assert_int_equal(n, 3);
	jailrt_free(r);

	/* failures that reached maxretry before the restart led to their ban
	 * then: replaying them bans nothing and leaves no counter */
	r = jailrt_new(&j, NULL, 0);
	for (int i = 0; i < 3; i++)
		jailrt_replay(r, "192.0.2.3", 500 + i, 1000);
	assert_int_equal(r->nbans, 0);
	assert_int_equal(r->nfails, 0);
	jailrt_free(r);
	/* and with the ban restored first, they are not counted at all */
	r = jailrt_new(&j, NULL, 0);
	net_parse("192.0.2.3", &net);
	jailrt_ban_add(r, &net, 503, 600, 1, 1);
	jailrt_replay(r, "192.0.2.3", 500, 1000);
	assert_int_equal(r->nfails, 0);
	assert_int_equal(r->nreplayed, 0);
	/* ignoreip added later (resolved host names) wins */
	struct net ign;
	net_parse("192.0.2.4", &ign);
	jailrt_add_ignore(r, &ign, 1);
	assert_int_equal(failat(r, "192.0.2.4", 1000), JRT_IGNORED);
	jailrt_free(r);
}

static void test_dryrun_is_callers(void **state)
{
	/* dry-run is decided by the caller: the runtime still reports the
	 * decision (warden.c logs "would ban" and records nothing). */
	struct jail j = mkjail(1, 600);
	j.dryrun = 1;
	struct jailrt *r = jailrt_new(&j, NULL, 0);
	assert_int_equal(failat(r, "192.0.2.1", 1), JRT_BAN);
	assert_int_equal(r->nbans, 0);
	jailrt_free(r);
}

/* maxfailed: a new prefix beyond the cap evicts the least recently
 * failed one (not the first inserted), says which, and counts it. */
static void test_maxfailed_evicts_oldest(void **state)
{
	struct jail j = mkjail(3, 600);
	j.maxfailed = 3;
	struct jailrt *r = jailrt_new(&j, NULL, 0);
	struct net net;
	long n;
	char err[256];
	assert_int_equal(failat(r, "192.0.2.1", 1000), JRT_COUNTED);
	assert_int_equal(failat(r, "192.0.2.2", 1001), JRT_COUNTED);
	assert_int_equal(failat(r, "192.0.2.3", 1002), JRT_COUNTED);
	assert_int_equal(failat(r, "192.0.2.1", 1003), JRT_COUNTED);	/* .1 is recent again */
	assert_int_equal(jailrt_failure(r, "192.0.2.4", "", 0, 1004, 1004, &net, &n, err,
	    sizeof(err)), JRT_COUNTED);
	assert_non_null(strstr(err, "maxfailed (3)"));
	assert_non_null(strstr(err, "192.0.2.2/32"));
	assert_int_equal(r->nfails, 3);
	assert_int_equal(r->evicted, 1);
	/* .1 kept its two failures: the third bans */
	assert_int_equal(failat(r, "192.0.2.1", 1005), JRT_BAN);
	/* .2 starts again from one */
	assert_int_equal(failat(r, "192.0.2.2", 1006), JRT_COUNTED);
	assert_int_equal(failat(r, "192.0.2.2", 1007), JRT_COUNTED);
	assert_int_equal(failat(r, "192.0.2.2", 1008), JRT_BAN);
	jailrt_free(r);
}

/* 100,000 distinct addresses under a cap of 1,000: memory stays at the
 * cap, every event is answered, and no ban in force goes. */
static void test_maxfailed_spray(void **state)
{
	struct jail j = mkjail(2, 600);
	j.maxfailed = 1000;
	struct jailrt *r = jailrt_new(&j, NULL, 0);
	char a[64];
	for (int i = 0; i < 100000; i++) {
		snprintf(a, sizeof(a), "2001:db8:%x:%x::1", i >> 16, i & 0xffff);
		assert_int_equal(failat(r, a, 1000), JRT_COUNTED);
		assert_true(r->nfails <= 1000);
	}
	assert_int_equal(r->nfails, 1000);
	assert_int_equal(r->evicted, 99000);
	assert_int_equal(jailrt_current_failed(r, 1000), 1000);
	jailrt_expire_failures(r, 5000);
	assert_int_equal(r->nfails, 0);
	jailrt_free(r);
}

static enum jailrt_result banat(struct jailrt *r, const char *a, long t, struct net *net)
{
	long n;
	char err[256];
	enum jailrt_result rc = jailrt_failure(r, a, "", 0, t, t, net, &n, err, sizeof(err));
	if (rc == JRT_BAN)
		jailrt_ban_add(r, net, t, 600, 1, 0);
	return rc;
}

/* maxbanned: from 9/10 of the cap bans widen to maxbanned.prefix4/6; at
 * the cap a ban is refused and every ban in force stays. */
static void test_maxbanned(void **state)
{
	struct jail j = mkjail(1, 600);
	j.maxbanned = 20;
	j.maxbanned_prefix4 = 24;
	j.maxbanned_prefix6 = 48;
	struct jailrt *r = jailrt_new(&j, NULL, 0);
	struct net net;
	char a[64], txt[NET_STRLEN];
	for (int i = 0; i < 18; i++) {
		snprintf(a, sizeof(a), "198.51.%d.7", i);
		assert_int_equal(banat(r, a, 1000, &net), JRT_BAN);
		assert_int_equal(net.plen, 32);
	}
	assert_int_equal(banat(r, "203.0.113.9", 1000, &net), JRT_BAN);
	net_format(&net, 1, txt, sizeof(txt));
	assert_string_equal(txt, "203.0.113.0/24");
	assert_int_equal(banat(r, "2001:db8:1:2::9", 1000, &net), JRT_BAN);
	net_format(&net, 1, txt, sizeof(txt));
	assert_string_equal(txt, "2001:db8:1::/48");
	assert_int_equal(r->aggregated, 2);
	assert_int_equal(r->nbans, 20);
	/* the aggregate holds its neighbours */
	assert_int_equal(failat(r, "203.0.113.200", 1001), JRT_BANNED);
	assert_int_equal(failat(r, "2001:db8:1:ffff::1", 1001), JRT_BANNED);
	/* full: refused, nothing lifted, everything still banned */
	long n;
	char err[256];
	assert_int_equal(jailrt_failure(r, "192.0.2.77", "", 0, 1002, 1002, &net, &n, err,
	    sizeof(err)), JRT_FULL);
	assert_non_null(strstr(err, "maxbanned (20)"));
	assert_int_equal(r->refused, 1);
	assert_int_equal(r->nbans, 20);
	for (int i = 0; i < 18; i++) {
		snprintf(a, sizeof(a), "198.51.%d.7", i);
		assert_int_equal(failat(r, a, 1003), JRT_BANNED);
	}
	jailrt_free(r);
}

/* An aggregate takes over the bans inside it and reports the latest end. */
static void test_ban_absorb(void **state)
{
	struct jail j = mkjail(1, 600);
	struct jailrt *r = jailrt_new(&j, NULL, 0);
	struct net w, wide, out;
	net_parse("192.0.2.1", &w);
	jailrt_ban_add(r, &w, 100, 600, 1, 0);
	net_parse("192.0.2.2", &w);
	jailrt_ban_add(r, &w, 100, 900, 1, 0);
	net_parse("198.51.100.1", &w);
	jailrt_ban_add(r, &w, 100, 5000, 1, 0);
	char err[64];
	assert_int_equal(net_parse_net("192.0.2.0/24", &wide, err, sizeof(err)), 0);
	assert_int_equal(jailrt_ban_absorb(r, &wide), 1000);
	assert_int_equal(r->nbans, 1);
	net_parse("198.51.100.1", &out);
	assert_non_null(jailrt_ban_find(r, &out));
	net_parse("192.0.2.1", &out);
	assert_null(jailrt_ban_find(r, &out));
	/* with many bans elsewhere the /32s inside are looked up, not scanned
	 * for: the same result */
	for (int i = 0; i < 3000; i++) {
		struct net x = { .family = AF_INET, .plen = 32 };
		x.a[0] = 10, x.a[1] = (unsigned char)(i >> 8), x.a[2] = (unsigned char)i;
		jailrt_ban_add(r, &x, 100, 600, 1, 0);
	}
	net_parse("192.0.2.200", &w);
	jailrt_ban_add(r, &w, 100, 700, 1, 0);
	net_parse("192.0.2.0", &w);
	jailrt_ban_add(r, &w, 100, JAIL_FOREVER, 1, 0);
	net_parse_net("192.0.3.0/25", &w, err, sizeof(err));	/* outside */
	jailrt_ban_add(r, &w, 100, 700, 1, 0);
	assert_int_equal(r->nbans, 3004);
	assert_int_equal(jailrt_ban_absorb(r, &wide), JAIL_FOREVER);
	assert_int_equal(r->nbans, 3002);
	net_parse("192.0.3.1", &out);
	assert_non_null(jailrt_ban_find(r, &out));
	net_parse("192.0.2.200", &out);
	assert_null(jailrt_ban_find(r, &out));
	jailrt_free(r);
}

/* The ban holding an address is found through every prefix length in
 * use, the narrowest first, and not through one no longer in use. */
static void test_ban_find_prefixes(void **state)
{
	struct jail j = mkjail(1, 600);
	struct jailrt *r = jailrt_new(&j, NULL, 0);
	struct net n16, n32, a;
	char err[64];
	net_parse_net("10.1.0.0/16", &n16, err, sizeof(err));
	net_parse("10.1.2.3", &n32);
	jailrt_ban_add(r, &n16, 1, 600, 1, 0);
	jailrt_ban_add(r, &n32, 1, 600, 1, 0);
	net_parse("10.1.2.3", &a);
	assert_int_equal(jailrt_ban_find(r, &a)->net.plen, 32);
	net_parse("10.1.200.3", &a);
	assert_int_equal(jailrt_ban_find(r, &a)->net.plen, 16);
	net_parse("10.2.0.1", &a);
	assert_null(jailrt_ban_find(r, &a));
	net_parse("::ffff:10.1.9.9", &a);	/* mapped: IPv4 */
	assert_non_null(jailrt_ban_find(r, &a));
	jailrt_ban_del(r, (size_t)(jailrt_ban_find(r, &n16) - r->bans));
	net_parse("10.1.200.3", &a);
	assert_null(jailrt_ban_find(r, &a));
	net_parse_net("10.1.0.0/20", &a, err, sizeof(err));	/* a network inside none */
	assert_null(jailrt_ban_find(r, &a));
	jailrt_free(r);
}

/* Allowances by hash: thousands of (address, login) pairs, each found,
 * another login not allowed, all gone after they end. */
static void test_allowance_many(void **state)
{
	struct jail j = mkjail(1000, 600);
	struct jailrt *r = jailrt_new(&j, NULL, 0);
	struct net net;
	long n;
	char a[64], err[128];
	for (int i = 0; i < 5000; i++) {
		snprintf(a, sizeof(a), "2001:db8:%x::%x", i / 100, i);
		jailrt_auth_ok(r, a, i % 2 ? "alice" : "bob", 1000, 3600);
	}
	assert_int_equal(r->nallows, 5000);
	for (int i = 0; i < 5000; i += 37) {
		snprintf(a, sizeof(a), "2001:db8:%x::%x", i / 100, i);
		assert_int_equal(jailrt_failure(r, a, i % 2 ? "alice" : "bob", 1, 1001, 1001, &net,
		    &n, err, sizeof(err)), JRT_ALLOWED);
		assert_int_equal(jailrt_failure(r, a, "mallory", 1, 1001, 1001, &net, &n, err,
		    sizeof(err)), JRT_COUNTED);
	}
	jailrt_auth_ok(r, "2001:db8::0", "bob", 2000, 3600);	/* renewed, not added */
	assert_int_equal(r->nallows, 5000);
	jailrt_expire_failures(r, 4600);
	assert_int_equal(r->nallows, 1);
	assert_int_equal(jailrt_failure(r, "2001:db8::1", "alice", 1, 4601, 4601, &net, &n, err,
	    sizeof(err)), JRT_COUNTED);
	jailrt_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_maxretry),
		cmocka_unit_test(test_findtime_window),
		cmocka_unit_test(test_prefix6),
		cmocka_unit_test(test_ignore_wins),
		cmocka_unit_test(test_no_slash0),
		cmocka_unit_test(test_allowance_same_login),
		cmocka_unit_test(test_bans),
		cmocka_unit_test(test_ban_index),
		cmocka_unit_test(test_replay),
		cmocka_unit_test(test_dryrun_is_callers),
		cmocka_unit_test(test_maxfailed_evicts_oldest),
		cmocka_unit_test(test_maxfailed_spray),
		cmocka_unit_test(test_maxbanned),
		cmocka_unit_test(test_ban_absorb),
		cmocka_unit_test(test_ban_find_prefixes),
		cmocka_unit_test(test_allowance_many),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
