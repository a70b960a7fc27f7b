/*
 * nft_test — the built-in nft ban action against the real kernel, inside a
 * private network namespace (unshare(CLONE_NEWNET)) so the host's firewall
 * is never touched: table, sets and rules; setup idempotent and keeping
 * bans; bans, merges of overlapping bans, unban, flush; the kernel expiring
 * a timeout; a 10,000 ban batch; the netlink fast path of a few bans and
 * unbans (the same sets as nft writes them, and its fallbacks); re-bans
 * extending a timeout over netlink, only for an exact element; teardown;
 * the same steps through the actions' back-end table (actions.h).
 * Skipped unless root.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nftables/libnftables.h>

#include "warden/firewall/actions.h"
#include "warden/firewall/nft.h"

#define TABLE "mwtest"

static struct nft_ctx *raw;	/* the test's own view of the kernel */
static char err[512];

/* `nft [-a] list ...` through a separate libnftables context. */
static const char *list(const char *what, int handles)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "list %s", what);
	nft_ctx_output_set_flags(raw, handles ? NFT_CTX_OUTPUT_HANDLE : 0);
	if (nft_run_cmd_from_buffer(raw, cmd) != 0) {
		nft_ctx_get_output_buffer(raw);
		return "";	/* missing table, set or chain */
	}
	nft_ctx_get_error_buffer(raw);
	return nft_ctx_get_output_buffer(raw);
}

static int count_str(const char *hay, const char *needle)
{
	int c = 0;
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		c++;
	return c;
}

static struct net net(const char *s)
{
	struct net w;
	char e[128];
	if (net_parse_net(s, &w, e, sizeof(e)) < 0)
		fail_msg("%s", e);
	return w;
}

static struct nft *open_fresh(void)
{
	struct nft *n = nft_open(TABLE, err, sizeof(err));
	if (n == NULL)
		fail_msg("nft_open: %s", err);
	assert_int_equal(nft_destroy(n, err, sizeof(err)), 0);
	return n;
}

static void ban1(struct nft *n, const char *jail, const char *s, long timeout)
{
	struct nft_ban b = { net(s), timeout };
	if (nft_ban(n, jail, &b, 1, err, sizeof(err)) < 0)
		fail_msg("ban %s: %s", s, err);
}

static int has(struct nft *n, const char *jail, const char *s)
{
	struct net w = net(s);
	return nft_contains(n, jail, &w);
}

static void test_ident(void **state)
{
	char id[NFT_IDENT_MAX];
	char longname[NFT_JAIL_MAX + 2];

	assert_int_equal(nft_jail_ident("sshd", id, sizeof(id)), 0);
	assert_string_equal(id, "sshd");
	assert_int_equal(nft_jail_ident("postfix-sasl", id, sizeof(id)), 0);
	assert_string_equal(id, "postfix-sasl");
	assert_int_equal(nft_jail_ident("my_jail", id, sizeof(id)), 0);
	assert_string_equal(id, "my_jail");
	assert_int_equal(nft_jail_ident("3proxy", id, sizeof(id)), 0);
	assert_string_equal(id, ".3proxy");
	assert_int_equal(nft_jail_ident("a.b c_d", id, sizeof(id)), 0);
	assert_string_equal(id, ".a_2eb_20c_5fd");
	assert_int_equal(nft_jail_ident("", id, sizeof(id)), -1);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(nft_jail_ident(longname, id, sizeof(id)), -1);
	assert_null(nft_open("bad name", err, sizeof(err)));
	assert_non_null(strstr(err, "bad name"));
}

static void test_setup_rules(void **state)
{
	struct nft *n = open_fresh();
	const char *out;

	assert_int_equal(nft_jail_setup(n, "postfix-sasl", "smtp,465,submission", "tcp",
	    NULL, err, sizeof(err)), 0);
	out = list("table inet " TABLE, 0);
	assert_non_null(strstr(out, "set postfix-sasl_v4 {"));
	assert_non_null(strstr(out, "set postfix-sasl_v6 {"));
	assert_non_null(strstr(out, "type ipv4_addr"));
	assert_non_null(strstr(out, "type ipv6_addr"));
	assert_int_equal(count_str(out, "flags interval,timeout"), 2);
	assert_non_null(strstr(out, "hook input priority filter - 1; policy accept;"));
	assert_non_null(strstr(out, "tcp dport { 25, 465, 587 } ip saddr @postfix-sasl_v4 drop"));
	assert_non_null(strstr(out, "tcp dport { 25, 465, 587 } ip6 saddr @postfix-sasl_v6 drop"));

	/* all ports, all protocols, ranges, reject, odd jail name */
	if (nft_jail_setup(n, "3proxy", "0:65535", "all", "reject", err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_int_equal(nft_jail_setup(n, "web", "http, 1000:2000,443", "udp", "drop",
	    err, sizeof(err)), 0);
	out = list("chain inet " TABLE " input", 0);
	assert_non_null(strstr(out, "\tip saddr @.3proxy_v4 reject with icmp port-unreachable comment"));
	assert_non_null(strstr(out, "\tip6 saddr @.3proxy_v6 reject with icmpv6 port-unreachable comment"));
	assert_non_null(strstr(out, "udp dport { 80, 443, 1000-2000 } ip saddr @web_v4 drop"));

	/* errors name what is wrong */
	assert_int_equal(nft_jail_setup(n, "x", "smtp,nosuchservice", "tcp", NULL,
	    err, sizeof(err)), -1);
	assert_non_null(strstr(err, "nosuchservice"));
	assert_int_equal(nft_jail_setup(n, "x", "25", "icmp", NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "icmp"));
	assert_int_equal(nft_jail_setup(n, "x", "25", "tcp", "accept", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "accept"));
	assert_int_equal(nft_jail_setup(n, "x", "2000:1000", "tcp", NULL, err, sizeof(err)), -1);
	assert_int_equal(nft_destroy(n, err, sizeof(err)), 0);
	assert_string_equal(list("table inet " TABLE, 0), "");
	nft_close(n);
}

static void test_setup_keeps_bans(void **state)
{
	struct nft *n = open_fresh();
	const char *out;
	char before[4096];

	assert_int_equal(nft_jail_setup(n, "smtp", "smtp", "tcp", NULL, err, sizeof(err)), 0);
	ban1(n, "smtp", "192.0.2.7", 3600);
	ban1(n, "smtp", "2001:db8:1:2::/64", 0);
	snprintf(before, sizeof(before), "%s", list("chain inet " TABLE " input", 1));

	/* same again: nothing changes, not even the rule handles */
	assert_int_equal(nft_jail_setup(n, "smtp", "smtp", "tcp", NULL, err, sizeof(err)), 0);
	assert_string_equal(list("chain inet " TABLE " input", 1), before);
	assert_int_equal(has(n, "smtp", "192.0.2.7"), 1);
	assert_int_equal(has(n, "smtp", "2001:db8:1:2::/64"), 1);

	/* other ports: the jail's two rules are replaced, the bans stay */
	assert_int_equal(nft_jail_setup(n, "smtp", "smtp,465", "tcp", NULL, err, sizeof(err)), 0);
	out = list("chain inet " TABLE " input", 0);
	assert_int_equal(count_str(out, "@smtp_v"), 2);
	assert_non_null(strstr(out, "tcp dport { 25, 465 } ip saddr @smtp_v4"));
	assert_int_equal(has(n, "smtp", "192.0.2.7"), 1);
	assert_int_equal(has(n, "smtp", "2001:db8:1:2::/64"), 1);
	assert_int_equal(nft_count(n, "smtp", err, sizeof(err)), 2);
	nft_close(n);
}

static void test_ban_unban(void **state)
{
	struct nft *n = open_fresh();
	struct nft_ban b[4] = {
		{ net("198.51.100.9"), 600 },
		{ net("203.0.113.0/24"), 3600 },
		{ net("2001:db8:aa:bb::/64"), 86400 },
		{ net("192.0.2.1"), 0 },	/* forever */
	};
	struct net u[3] = { net("198.51.100.9"), net("2001:db8:aa:bb::/64"),
	    net("10.1.1.1") /* not banned: no error */ };
	const char *out;

	assert_int_equal(nft_jail_setup(n, "j", NULL, NULL, NULL, err, sizeof(err)), 0);
	assert_int_equal(nft_ban(n, "j", b, 4, err, sizeof(err)), 4);
	assert_int_equal(has(n, "j", "198.51.100.9"), 1);
	assert_int_equal(has(n, "j", "203.0.113.0/24"), 1);
	assert_int_equal(has(n, "j", "2001:db8:aa:bb::/64"), 1);
	assert_int_equal(has(n, "j", "192.0.2.1"), 1);
	assert_int_equal(has(n, "j", "203.0.113.5"), 0);	/* exact match only */
	assert_int_equal(has(n, "j", "2001:db8:aa:bc::/64"), 0);
	out = list("set inet " TABLE " j_v4", 0);
	assert_non_null(strstr(out, "192.0.2.1,") ? strstr(out, "192.0.2.1,") :
	    strstr(out, "192.0.2.1 }"));	/* forever: no timeout */
	assert_non_null(strstr(out, "198.51.100.9 timeout 10m expires"));
	assert_non_null(strstr(out, "203.0.113.0/24 timeout 1h expires"));

	assert_int_equal(nft_unban(n, "j", u, 3, err, sizeof(err)), 2);
	assert_int_equal(has(n, "j", "198.51.100.9"), 0);
	assert_int_equal(has(n, "j", "2001:db8:aa:bb::/64"), 0);
	assert_int_equal(has(n, "j", "203.0.113.0/24"), 1);
	assert_int_equal(nft_unban(n, "j", u, 3, err, sizeof(err)), 0);
	/* unbanning a network removes what lies inside it */
	ban1(n, "j", "203.0.114.5", 60);
	struct net wide = net("203.0.112.0/22");
	assert_int_equal(nft_unban(n, "j", &wide, 1, err, sizeof(err)), 2);
	assert_int_equal(nft_count(n, "j", err, sizeof(err)), 1);

	assert_int_equal(nft_flush(n, "j", err, sizeof(err)), 0);
	assert_int_equal(nft_count(n, "j", err, sizeof(err)), 0);

	/* a jail that was never set up: the error comes from libnftables */
	assert_int_equal(nft_ban(n, "nojail", b, 1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "list set"));
	assert_non_null(strstr(err, "No such file or directory"));
	assert_int_equal(has(n, "nojail", "192.0.2.1"), -1);
	nft_close(n);
}

/* IPv6 text written for nft (our own formatter) round-trips exactly. */
static void test_v6_text(void **state)
{
	static const char *const nets[] = {
		"::1", "1::", "2001:db8::1:0:0:1", "0:1:0:0:1:0:0:0", "2001:db8:0:1:1:1:1:1",
		"fe80::/10", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", "2001:db8:1::/48",
		"0.0.0.1", "255.255.255.255", "10.0.0.0/8",
	};
	size_t nn = sizeof(nets) / sizeof(nets[0]);
	struct nft_ban b[sizeof(nets) / sizeof(nets[0])];
	struct nft *n = open_fresh();

	assert_int_equal(nft_jail_setup(n, "j", NULL, NULL, NULL, err, sizeof(err)), 0);
	for (size_t i = 0; i < nn; i++)
		b[i] = (struct nft_ban){ net(nets[i]), 60 };
	if (nft_ban(n, "j", b, nn, err, sizeof(err)) != (int)nn)
		fail_msg("ban: %s", err);
	for (size_t i = 0; i < nn; i++)
		if (has(n, "j", nets[i]) != 1)
			fail_msg("%s is not in the set", nets[i]);
	assert_int_equal(nft_count(n, "j", err, sizeof(err)), (long)nn);
	/* never everyone: ::ffff:0:0/96 is 0.0.0.0/0 */
	b[0].net = net("::ffff:0:0/96");
	assert_int_equal(nft_ban(n, "j", b, 1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "prefix length"));
	nft_close(n);
}

static void test_kernel_expires(void **state)
{
	struct nft *n = open_fresh();

	assert_int_equal(nft_jail_setup(n, "j", "smtp", "tcp", NULL, err, sizeof(err)), 0);
	ban1(n, "j", "192.0.2.50", 1);
	ban1(n, "j", "2001:db8::/64", 1);
	ban1(n, "j", "192.0.2.51", 60);
	assert_int_equal(has(n, "j", "192.0.2.50"), 1);
	sleep(2);
	assert_int_equal(has(n, "j", "192.0.2.50"), 0);
	assert_int_equal(has(n, "j", "2001:db8::/64"), 0);
	assert_int_equal(has(n, "j", "192.0.2.51"), 1);
	assert_int_equal(nft_count(n, "j", err, sizeof(err)), 1);
	nft_close(n);
}

static void test_overlaps(void **state)
{
	struct nft *n = open_fresh();
	const char *out;

	assert_int_equal(nft_jail_setup(n, "j", "smtp", "tcp", NULL, err, sizeof(err)), 0);
	ban1(n, "j", "192.0.2.1", 100);
	ban1(n, "j", "10.0.0.0/24", 100);
	ban1(n, "j", "10.9.0.5", 100);

	/* present already, inside a present net, covering a present host,
	 * twice in the batch, and adjacent hosts: the batch goes through */
	struct nft_ban b[] = {
		{ net("192.0.2.1"), 1000 },	/* longer: re-added */
		{ net("10.0.0.77"), 50 },	/* inside 10.0.0.0/24: nothing */
		{ net("10.9.0.0/24"), 30 },	/* covers 10.9.0.5: merged */
		{ net("172.16.0.1"), 10 },
		{ net("172.16.0.1"), 20 },
		{ net("172.16.0.2"), 20 },
	};
	assert_int_equal(nft_ban(n, "j", b, sizeof(b) / sizeof(b[0]), err, sizeof(err)), 4);
	assert_int_equal(has(n, "j", "192.0.2.1"), 1);
	assert_int_equal(has(n, "j", "10.0.0.0/24"), 1);
	assert_int_equal(has(n, "j", "10.0.0.77"), 0);
	assert_int_equal(has(n, "j", "10.9.0.0/24"), 1);
	assert_int_equal(has(n, "j", "10.9.0.5"), 0);
	assert_int_equal(has(n, "j", "172.16.0.1"), 1);
	assert_int_equal(has(n, "j", "172.16.0.2"), 1);
	assert_int_equal(nft_count(n, "j", err, sizeof(err)), 5);
	out = list("set inet " TABLE " j_v4", 0);
	assert_non_null(strstr(out, "192.0.2.1 timeout 16m40s"));
	assert_non_null(strstr(out, "10.9.0.0/24 timeout 1m"));	/* the host's longer time */
	assert_non_null(strstr(out, "172.16.0.1 timeout 20s"));

	/* the same batch again changes nothing */
	assert_int_equal(nft_ban(n, "j", b, sizeof(b) / sizeof(b[0]), err, sizeof(err)), 0);
	/* a forever ban beats a timed one, a timed one never shortens forever */
	ban1(n, "j", "10.0.0.0/24", 0);
	ban1(n, "j", "10.0.0.0/24", 60);
	assert_null(strstr(list("set inet " TABLE " j_v4", 0), "10.0.0.0/24 timeout"));
	assert_int_equal(has(n, "j", "10.0.0.0/24"), 1);
	nft_close(n);
}

static void test_big_batch(void **state)
{
	enum { N = 10000 };
	struct nft *n = open_fresh();
	struct nft_ban *b = calloc(N, sizeof(*b));

	assert_non_null(b);
	assert_int_equal(nft_jail_setup(n, "big", "smtp", "tcp", NULL, err, sizeof(err)), 0);
	for (int i = 0; i < N; i++) {
		struct net *w = &b[i].net;
		if (i % 2) {
			w->family = AF_INET;
			w->a[0] = 100;
			w->a[1] = (unsigned char)(i >> 8);
			w->a[2] = (unsigned char)i;
			w->a[3] = 1;
			w->plen = 32;
		} else {
			w->family = AF_INET6;
			w->a[0] = 0x20;
			w->a[1] = 0x01;
			w->a[2] = 0x0d;
			w->a[3] = 0xb8;
			w->a[6] = (unsigned char)(i >> 8);
			w->a[7] = (unsigned char)i;
			w->plen = 64;
		}
		b[i].timeout = 3600 + i;
	}
	assert_int_equal(nft_ban(n, "big", b, N, err, sizeof(err)), N);
	assert_int_equal(nft_count(n, "big", err, sizeof(err)), N);
	assert_int_equal(nft_contains(n, "big", &b[1234].net), 1);
	assert_int_equal(nft_contains(n, "big", &b[4321].net), 1);
	/* all present already: nothing to write, nothing fails */
	assert_int_equal(nft_ban(n, "big", b, N, err, sizeof(err)), 0);
	struct net *u = calloc(N, sizeof(*u));
	assert_non_null(u);
	for (int i = 0; i < N; i++)
		u[i] = b[i].net;
	assert_int_equal(nft_unban(n, "big", u, N, err, sizeof(err)), N);
	free(u);
	assert_int_equal(nft_count(n, "big", err, sizeof(err)), 0);
	free(b);
	nft_close(n);
}

static void fast_stats(struct nft *n, unsigned long *fast, unsigned long *fallback)
{
	nft_fast_stats(n, fast, fallback);
}

/* A `list set` output without the " expires ..." parts (they tick) and
 * with the set name from replaced by to. */
static void normalize(const char *in, const char *from, const char *to, char *out,
    size_t len)
{
	size_t o = 0, fl = strlen(from), tl = strlen(to);

	while (*in && o + tl + 1 < len) {
		if (strncmp(in, " expires ", 9) == 0) {
			in += 9;
			in += strcspn(in, " ,\n}");
		} else if (strncmp(in, from, fl) == 0) {
			memcpy(out + o, to, tl);
			o += tl;
			in += fl;
		} else
			out[o++] = *in++;
	}
	out[o] = '\0';
}

/* The fast path (nft_fast.c) writes what nft writes: the same sets read
 * back as from the same elements added with `nft add element`. */
static void test_fast_ban_encoding(void **state)
{
	struct nft *n = open_fresh();
	unsigned long fast, fallback;
	char a[4096], r[4096];
	struct nft_ban two[2] = {
		{ net("203.0.113.64/26"), 86400 },
		{ net("2001:db8:77::1"), 0 },
	};

	assert_int_equal(nft_jail_setup(n, "j", NULL, NULL, NULL, err, sizeof(err)), 0);
	/* the reference sets, filled by nft itself */
	assert_int_equal(nft_run_cmd_from_buffer(raw,
	    "add set inet " TABLE " ref_v4 { type ipv4_addr; flags interval,timeout; }\n"
	    "add set inet " TABLE " ref_v6 { type ipv6_addr; flags interval,timeout; }\n"
	    "add element inet " TABLE " ref_v4 { 198.51.100.7 timeout 10m }\n"
	    "add element inet " TABLE " ref_v6 { 2001:db8:5::/48 timeout 1h }\n"), 0);
	assert_int_equal(nft_run_cmd_from_buffer(raw,
	    "add element inet " TABLE " ref_v4 { 203.0.113.64/26 timeout 1d }\n"
	    "add element inet " TABLE " ref_v6 { 2001:db8:77::1 }\n"
	    "add element inet " TABLE " ref_v4 { 0.0.0.1, 10.0.0.0/8 timeout 1m }\n"
	    "add element inet " TABLE " ref_v6 { ::/16 timeout 1m }\n"), 0);

	ban1(n, "j", "198.51.100.7", 600);		/* into empty sets */
	ban1(n, "j", "2001:db8:5::/48", 3600);
	assert_int_equal(nft_ban(n, "j", two, 2, err, sizeof(err)), 2);	/* one batch */
	ban1(n, "j", "0.0.0.1", 0);			/* low edges */
	ban1(n, "j", "10.0.0.0/8", 60);
	ban1(n, "j", "::/16", 60);
	fast_stats(n, &fast, &fallback);
	assert_int_equal(fast, 6);
	assert_int_equal(fallback, 0);

	normalize(list("set inet " TABLE " j_v4", 0), "j_v4", "S", a, sizeof(a));
	normalize(list("set inet " TABLE " ref_v4", 0), "ref_v4", "S", r, sizeof(r));
	assert_string_equal(a, r);
	assert_non_null(strstr(a, "198.51.100.7 timeout 10m"));
	assert_non_null(strstr(a, "203.0.113.64/26 timeout 1d"));
	normalize(list("set inet " TABLE " j_v6", 0), "j_v6", "S", a, sizeof(a));
	normalize(list("set inet " TABLE " ref_v6", 0), "ref_v6", "S", r, sizeof(r));
	assert_string_equal(a, r);
	assert_non_null(strstr(a, "2001:db8:5::/48 timeout 1h"));
	assert_int_equal(has(n, "j", "2001:db8:77::1"), 1);
	assert_int_equal(has(n, "j", "203.0.113.64/26"), 1);
	assert_int_equal(nft_count(n, "j", err, sizeof(err)), 7);

	/* unban through the fast path, for both families in one batch */
	struct net u[2] = { net("203.0.113.64/26"), net("2001:db8:77::1") };
	assert_int_equal(nft_unban(n, "j", u, 2, err, sizeof(err)), 2);
	assert_int_equal(nft_run_cmd_from_buffer(raw,
	    "delete element inet " TABLE " ref_v4 { 203.0.113.64/26 }\n"
	    "delete element inet " TABLE " ref_v6 { 2001:db8:77::1 }\n"), 0);
	fast_stats(n, &fast, &fallback);
	assert_int_equal(fast, 7);
	assert_int_equal(fallback, 0);
	assert_int_equal(has(n, "j", "203.0.113.64/26"), 0);
	assert_int_equal(has(n, "j", "2001:db8:77::1"), 0);
	assert_int_equal(nft_count(n, "j", err, sizeof(err)), 5);
	normalize(list("set inet " TABLE " j_v4", 0), "j_v4", "S", a, sizeof(a));
	normalize(list("set inet " TABLE " ref_v4", 0), "ref_v4", "S", r, sizeof(r));
	assert_string_equal(a, r);
	normalize(list("set inet " TABLE " j_v6", 0), "j_v6", "S", a, sizeof(a));
	normalize(list("set inet " TABLE " ref_v6", 0), "ref_v6", "S", r, sizeof(r));
	assert_string_equal(a, r);
	/* and back in: the interval-end elements went with them */
	assert_int_equal(nft_ban(n, "j", two, 2, err, sizeof(err)), 2);
	fast_stats(n, &fast, &fallback);
	assert_int_equal(fast, 8);
	assert_int_equal(has(n, "j", "203.0.113.64/26"), 1);
	nft_close(n);
}

/* What the fast path does not take falls back to the general path, with
 * the same result as before it existed. */
static void test_fast_fallback(void **state)
{
	struct nft *n = open_fresh();
	unsigned long fast, fallback;
	struct nft_ban one;
	const char *out;

	assert_int_equal(nft_jail_setup(n, "j", NULL, NULL, NULL, err, sizeof(err)), 0);
	ban1(n, "j", "10.0.0.0/24", 100);
	fast_stats(n, &fast, &fallback);
	assert_int_equal(fast, 1);
	assert_int_equal(fallback, 0);

	/* inside a present network: refused by the kernel, nothing to write */
	one = (struct nft_ban){ net("10.0.0.5"), 50 };
	assert_int_equal(nft_ban(n, "j", &one, 1, err, sizeof(err)), 0);
	fast_stats(n, &fast, &fallback);
	assert_int_equal(fast, 1);
	assert_int_equal(fallback, 1);
	assert_int_equal(nft_count(n, "j", err, sizeof(err)), 1);
	assert_int_equal(has(n, "j", "10.0.0.0/24"), 1);

	/* covering a present network: merged, the longest time kept */
	one = (struct nft_ban){ net("10.0.0.0/16"), 30 };
	assert_int_equal(nft_ban(n, "j", &one, 1, err, sizeof(err)), 1);
	fast_stats(n, &fast, &fallback);
	assert_int_equal(fallback, 2);
	assert_int_equal(nft_count(n, "j", err, sizeof(err)), 1);
	out = list("set inet " TABLE " j_v4", 0);
	assert_non_null(strstr(out, "10.0.0.0/16 timeout 1m3"));

	/* re-ban of a present address: the timeout is extended, now on the
	 * fast path (nft_fast_reban) */
	one = (struct nft_ban){ net("10.0.0.0/16"), 3600 };
	assert_int_equal(nft_ban(n, "j", &one, 1, err, sizeof(err)), 1);
	out = list("set inet " TABLE " j_v4", 0);
	assert_non_null(strstr(out, "10.0.0.0/16 timeout 1h expires"));
	/* ... and again at once: nothing to write */
	assert_int_equal(nft_ban(n, "j", &one, 1, err, sizeof(err)), 0);
	/* a shorter one never shortens it, forever beats it */
	one = (struct nft_ban){ net("10.0.0.0/16"), 60 };
	assert_int_equal(nft_ban(n, "j", &one, 1, err, sizeof(err)), 0);
	ban1(n, "j", "10.0.0.0/16", 0);
	assert_null(strstr(list("set inet " TABLE " j_v4", 0), "10.0.0.0/16 timeout"));
	fast_stats(n, &fast, &fallback);
	assert_int_equal(fast, 5);
	assert_int_equal(fallback, 2);
	assert_int_equal(nft_reban_count(n), 4);

	/* twice in one batch: the batch falls back and is merged */
	struct nft_ban dup[3] = {
		{ net("172.16.0.1"), 10 }, { net("172.16.0.1"), 20 }, { net("172.16.0.2"), 20 },
	};
	assert_int_equal(nft_ban(n, "j", dup, 3, err, sizeof(err)), 2);
	out = list("set inet " TABLE " j_v4", 0);
	assert_non_null(strstr(out, "172.16.0.1 timeout 20s"));
	assert_non_null(strstr(out, "172.16.0.2 timeout 20s"));
	/* adjacent to present ones, through the fast path */
	ban1(n, "j", "172.16.0.3", 20);
	ban1(n, "j", "172.16.0.0", 20);
	fast_stats(n, &fast, &fallback);
	assert_int_equal(fast, 7);
	assert_int_equal(fallback, 3);
	assert_int_equal(nft_count(n, "j", err, sizeof(err)), 5);

	/* the top of the address space has no interval end: general path */
	ban1(n, "j", "255.255.255.255", 60);
	ban1(n, "j", "ffff::/16", 60);
	assert_int_equal(has(n, "j", "255.255.255.255"), 1);
	assert_int_equal(has(n, "j", "ffff::/16"), 1);
	fast_stats(n, &fast, &fallback);
	assert_int_equal(fast, 7);
	assert_int_equal(fallback, 5);
	struct net top[2] = { net("255.255.255.255"), net("ffff::/16") };
	assert_int_equal(nft_unban(n, "j", top, 2, err, sizeof(err)), 2);
	assert_int_equal(has(n, "j", "255.255.255.255"), 0);

	/* unban: the exact element through the fast path; absent, or a
	 * network holding elements, through the general path */
	struct net w = net("172.16.0.3");
	assert_int_equal(nft_unban(n, "j", &w, 1, err, sizeof(err)), 1);
	assert_int_equal(has(n, "j", "172.16.0.3"), 0);
	assert_int_equal(nft_unban(n, "j", &w, 1, err, sizeof(err)), 0);
	fast_stats(n, &fast, &fallback);
	assert_int_equal(fast, 8);
	assert_int_equal(fallback, 7);
	w = net("172.16.0.0/24");
	assert_int_equal(nft_unban(n, "j", &w, 1, err, sizeof(err)), 3);
	w = net("10.0.0.5");	/* inside an element: not removed */
	assert_int_equal(nft_unban(n, "j", &w, 1, err, sizeof(err)), 0);
	assert_int_equal(nft_count(n, "j", err, sizeof(err)), 1);
	assert_int_equal(has(n, "j", "10.0.0.0/16"), 1);

	/* a set the kernel does not have: the general path's error */
	one = (struct nft_ban){ net("192.0.2.1"), 60 };
	assert_int_equal(nft_ban(n, "nojail", &one, 1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file or directory"));
	nft_close(n);
}

/* Re-ban on the fast path only where the network is exactly one element:
 * an element inside it, one holding it, two sharing its edges with a gap
 * between, are left to the general path, which merges as before. */
static void test_fast_reban(void **state)
{
	struct nft *n = open_fresh();
	unsigned long fast, fallback;
	struct nft_ban one;
	const char *out;

	assert_int_equal(nft_jail_setup(n, "j", NULL, NULL, NULL, err, sizeof(err)), 0);
	ban1(n, "j", "192.0.2.7", 60);
	ban1(n, "j", "2001:db8:9::/64", 60);
	/* both families in one batch, timeouts extended */
	struct nft_ban two[2] = { { net("192.0.2.7"), 7200 }, { net("2001:db8:9::/64"), 0 } };
	assert_int_equal(nft_ban(n, "j", two, 2, err, sizeof(err)), 2);
	assert_non_null(strstr(list("set inet " TABLE " j_v4", 0), "192.0.2.7 timeout 2h expires"));
	out = list("set inet " TABLE " j_v6", 0);
	assert_non_null(strstr(out, "2001:db8:9::/64"));
	assert_null(strstr(out, "2001:db8:9::/64 timeout"));	/* forever now */
	assert_int_equal(nft_reban_count(n), 1);
	assert_int_equal(nft_count(n, "j", err, sizeof(err)), 2);

	/* two /26 at the edges of a /24: same first and last address, a gap */
	ban1(n, "j", "198.51.100.0/26", 60);
	ban1(n, "j", "198.51.100.192/26", 60);
	fast_stats(n, &fast, &fallback);
	one = (struct nft_ban){ net("198.51.100.0/24"), 600 };
	assert_int_equal(nft_ban(n, "j", &one, 1, err, sizeof(err)), 1);
	assert_int_equal(nft_reban_count(n), 1);
	assert_int_equal(has(n, "j", "198.51.100.0/24"), 1);
	assert_int_equal(has(n, "j", "198.51.100.0/26"), 0);
	/* a /32 at the start of an element holding more: not the element, so
	 * the general path, which extends the /24 to the longer time */
	one = (struct nft_ban){ net("198.51.100.0"), 6000 };
	assert_int_equal(nft_ban(n, "j", &one, 1, err, sizeof(err)), 1);
	assert_non_null(strstr(list("set inet " TABLE " j_v4", 0), "198.51.100.0/24 timeout 1h40m"));
	assert_int_equal(nft_reban_count(n), 1);
	assert_int_equal(has(n, "j", "198.51.100.0/24"), 1);
	unsigned long fast2, fallback2;
	fast_stats(n, &fast2, &fallback2);
	assert_int_equal(fast2, fast);
	assert_int_equal(fallback2, fallback + 2);
	nft_close(n);
}

/* An element added by the fast path is what the rule matches: the kernel
 * expires it, and a ban after that is again a fast one. */
static void test_fast_expires(void **state)
{
	struct nft *n = open_fresh();
	unsigned long fast, fallback;

	assert_int_equal(nft_jail_setup(n, "j", NULL, NULL, NULL, err, sizeof(err)), 0);
	ban1(n, "j", "192.0.2.60", 1);
	ban1(n, "j", "192.0.2.61", 60);
	assert_int_equal(has(n, "j", "192.0.2.60"), 1);
	sleep(2);
	assert_int_equal(has(n, "j", "192.0.2.60"), 0);
	assert_int_equal(nft_count(n, "j", err, sizeof(err)), 1);
	ban1(n, "j", "192.0.2.60", 60);
	assert_int_equal(has(n, "j", "192.0.2.60"), 1);
	fast_stats(n, &fast, &fallback);
	assert_int_equal(fast, 3);
	assert_int_equal(fallback, 0);
	nft_close(n);
}

static void test_teardown(void **state)
{
	struct nft *n = open_fresh();
	const char *out;

	assert_int_equal(nft_jail_setup(n, "a", "smtp", "tcp", NULL, err, sizeof(err)), 0);
	assert_int_equal(nft_jail_setup(n, "b", "smtp", "tcp", NULL, err, sizeof(err)), 0);
	ban1(n, "a", "192.0.2.1", 0);
	ban1(n, "b", "192.0.2.2", 0);
	assert_int_equal(nft_jail_teardown(n, "a", err, sizeof(err)), 0);
	out = list("table inet " TABLE, 0);
	assert_null(strstr(out, "a_v4"));
	assert_null(strstr(out, "a_v6"));
	assert_non_null(strstr(out, "@b_v4"));
	assert_int_equal(has(n, "b", "192.0.2.2"), 1);
	/* again, and for a jail that never existed: no error */
	assert_int_equal(nft_jail_teardown(n, "a", err, sizeof(err)), 0);
	assert_int_equal(nft_jail_teardown(n, "never", err, sizeof(err)), 0);
	assert_int_equal(nft_destroy(n, err, sizeof(err)), 0);
	assert_int_equal(nft_jail_teardown(n, "b", err, sizeof(err)), 0);
	assert_string_equal(list("table inet " TABLE, 0), "");
	assert_int_equal(nft_destroy(n, err, sizeof(err)), 0);
	nft_close(n);
}

/* The nft row of the actions' back-end table: start, check, ban, unban,
 * stop as a jail's action reaches them. */
static void test_backend_table(void **state)
{
	struct nft *n = open_fresh();
	struct jail j = { .name = (char *)"bt", .port = (char *)"smtp", .protocol = (char *)"tcp" };
	struct jail_ref ref = { .name = (char *)"nft" };
	struct action *a = action_new(&j, &ref, NULL, n, err, sizeof(err));
	if (a == NULL)
		fail_msg("action_new: %s", err);
	assert_int_equal(action_check(a, err, sizeof(err)), -1);	/* no sets yet */
	assert_int_equal(action_start(a, err, sizeof(err)), 0);
	assert_int_equal(action_check(a, err, sizeof(err)), 0);
	struct action_ban b = { .net = net("192.0.2.9"), .timeout = 600, .bantime = 600 };
	assert_int_equal(action_ban(a, &b, 1, err, sizeof(err)), 1);
	assert_int_equal(has(n, "bt", "192.0.2.9"), 1);
	assert_int_equal(action_unban(a, &b, 1, err, sizeof(err)), 1);
	assert_int_equal(has(n, "bt", "192.0.2.9"), 0);
	action_stop(a);
	assert_int_equal(action_check(a, err, sizeof(err)), -1);
	action_free(a);
	/* without an nft context the nft row refuses, naming the jail */
	assert_null(action_new(&j, &ref, NULL, NULL, err, sizeof(err)));
	assert_string_equal(err, "[bt] action nft: nftables is not available");
	assert_int_equal(nft_destroy(n, err, sizeof(err)), 0);
	nft_close(n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ident),
		cmocka_unit_test(test_setup_rules),
		cmocka_unit_test(test_setup_keeps_bans),
		cmocka_unit_test(test_ban_unban),
		cmocka_unit_test(test_v6_text),
		cmocka_unit_test(test_kernel_expires),
		cmocka_unit_test(test_overlaps),
		cmocka_unit_test(test_big_batch),
		cmocka_unit_test(test_fast_ban_encoding),
		cmocka_unit_test(test_fast_fallback),
		cmocka_unit_test(test_fast_reban),
		cmocka_unit_test(test_fast_expires),
		cmocka_unit_test(test_teardown),
		cmocka_unit_test(test_backend_table),
	};
	int rc;

	if (geteuid() != 0 || unshare(CLONE_NEWNET) != 0) {
		printf("nft_test: SKIP: needs root and unshare(CLONE_NEWNET) (%s)\n",
		    geteuid() != 0 ? "not root" : strerror(errno));
		return 0;
	}
	raw = nft_ctx_new(NFT_CTX_DEFAULT);
	if (raw == NULL || nft_ctx_buffer_output(raw) || nft_ctx_buffer_error(raw)) {
		printf("nft_test: cannot create a libnftables context\n");
		return 1;
	}
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	nft_ctx_free(raw);
	return rc;
}
