/* dns_test — the DNS module against a real dnsmasq on a loopback port:
 * A, AAAA, MX, TXT, PTR; NXDOMAIN vs no data; the cache (synchronous hits,
 * TTLs on a replaced clock, bound); coalescing and cancel; a server that
 * never answers (TEMPFAIL after dns_timeout, the loop stays responsive);
 * reverse and DNSBL names. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/loop.h"
#include "dns/dns.h"

#define DNSMASQ "/usr/sbin/dnsmasq"

static pid_t dnsmasq_pid = -1;
static int dns_port;
static int hole_fd = -1;
static int hole_port;

/* ---- helpers ---- */

/* A port free for both UDP and TCP on 127.0.0.1. */
static int free_port(void)
{
	for (int tries = 0; tries < 50; tries++) {
		struct sockaddr_in sa = { .sin_family = AF_INET };
		socklen_t sl = sizeof(sa);
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		int u = socket(AF_INET, SOCK_DGRAM, 0);
		if (u < 0 || bind(u, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    getsockname(u, (struct sockaddr *)&sa, &sl) < 0) {
			close(u);
			continue;
		}
		int t = socket(AF_INET, SOCK_STREAM, 0);
		int ok = t >= 0 && bind(t, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		close(t);
		close(u);
		if (ok)
			return ntohs(sa.sin_port);
	}
	return -1;
}

static int tcp_ready(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	int ok = s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (s >= 0)
		close(s);
	return ok;
}

static void start_dnsmasq(void)
{
	char port[32];
	dns_port = free_port();
	assert_true(dns_port > 0);
	snprintf(port, sizeof(port), "--port=%d", dns_port);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0)
			dup2(null, 2);
		execl(DNSMASQ, "dnsmasq", "--no-daemon", "--keep-in-foreground", port,
		    "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv",
		    "--no-hosts", "--conf-file=/dev/null", "--pid-file=",
		    "--local=/test/", "--local-ttl=300",
		    "--host-record=a.test,192.0.2.10,2001:db8::10",
		    "--host-record=short.test,192.0.2.11,5",
		    "--mx-host=mx.test,mail.mx.test,10",
		    "--mx-host=mx.test,backup.mx.test,20",
		    "--txt-record=txt.test,hello world",
		    "--txt-record=spf.test,v=spf1 ,-all",
		    "--ptr-record=20.2.0.192.in-addr.arpa,ptr.test",
		    "--host-record=2.0.0.127.dnsbl.test,127.0.0.2",
		    (char *)NULL);
		_exit(127);
	}
	dnsmasq_pid = pid;
	for (int i = 0; i < 100 && !tcp_ready(dns_port); i++)
		usleep(50 * 1000);
	assert_true(tcp_ready(dns_port));
}

/* A UDP socket that receives queries and never answers. */
static void start_hole(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	hole_fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(hole_fd >= 0);
	assert_int_equal(bind(hole_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(hole_fd, (struct sockaddr *)&sa, &sl), 0);
	hole_port = ntohs(sa.sin_port);
}

/* A scripted server in this process: answers every query with NXDOMAIN
 * and an SOA (TTL 300, MINIMUM 120) or, for names starting "fail", with
 * SERVFAIL. */
static int fake_fd = -1, fake_port;

static void fake_answer(int fd, int events, void *arg)
{
	unsigned char q[512], a[600];
	struct sockaddr_storage from;
	socklen_t fl = sizeof(from);
	ssize_t n = recvfrom(fd, q, sizeof(q), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
	if (n < 17)
		return;
	int fail = memcmp(q + 13, "fail", 4) == 0;
	static const unsigned char soa[] = {
		0xc0, 0x0c, 0, 6, 0, 1, 0, 0, 0x01, 0x2c, 0, 22,
		0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 120,
	};
	memcpy(a, q, (size_t)n);			/* id, question */
	a[2] = (unsigned char)(0x80 | (q[2] & 0x01));	/* QR, RD */
	a[3] = fail ? 0x82 : 0x83;			/* RA, SERVFAIL / NXDOMAIN */
	a[6] = a[7] = a[10] = a[11] = 0;		/* no answers, no additional */
	a[8] = 0;
	a[9] = fail ? 0 : 1;				/* one authority RR */
	size_t len = (size_t)n;
	if (!fail) {
		memcpy(a + len, soa, sizeof(soa));
		len += sizeof(soa);
	}
	sendto(fd, a, len, 0, (struct sockaddr *)&from, fl);
}

static void start_fake(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fake_fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(fake_fd >= 0);
	assert_int_equal(bind(fake_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fake_fd, (struct sockaddr *)&sa, &sl), 0);
	fake_port = ntohs(sa.sin_port);
	loop_watch(fake_fd, LOOP_READ, fake_answer, NULL);
}

/* dns_init with a config file holding text. */
static void init_with(const char *text)
{
	char path[] = "/tmp/mw_dns_test_XXXXXX", err[512];
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *fp = fdopen(fd, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	struct config *cfg = config_load(path, err, sizeof(err));
	unlink(path);
	if (cfg == NULL)
		fail_msg("config_load: %s", err);
	if (dns_init(cfg, err, sizeof(err)) < 0)
		fail_msg("dns_init: %s", err);
	config_free(cfg);
}

static void init_dnsmasq(void)
{
	char text[256];
	snprintf(text, sizeof(text), "dns_servers = 127.0.0.1:%d\n"
	    "dns_timeout = 3s\ndns_tries = 2\n", dns_port);
	init_with(text);
}

/* What one callback saw. */
struct answer {
	int ran;
	enum dns_status status;
	int nxdomain;
	uint32_t ttl;
	char items[8][128];
	size_t n;
	int stop;		/* loop_exit() when it runs */
};

static int pending;		/* callbacks still to come before loop_exit */

static void on_answer(const struct dns_result *r, void *arg)
{
	struct answer *a = arg;
	a->ran++;
	a->status = r->status;
	a->nxdomain = r->nxdomain;
	a->ttl = r->ttl;
	a->n = r->n;
	for (size_t i = 0; i < r->n && i < 8; i++)
		snprintf(a->items[i], sizeof(a->items[i]), "%s", r->items[i]);
	if (a->stop && --pending <= 0)
		loop_exit();
}

static void guard_fire(void *arg)
{
	*(int *)arg = 1;
	loop_exit();
}

/* Run the loop until `n` stopping callbacks ran (5 s guard). */
static void run_until(int n)
{
	static struct loop_timer guard;
	int expired = 0;
	pending = n;
	loop_timer_set(&guard, 5000, guard_fire, &expired);
	loop_run();
	loop_timer_clear(&guard);
	assert_false(expired);
}

/* Look name/type up and wait for the answer. */
static void ask(const char *name, enum dns_type type, struct answer *a)
{
	memset(a, 0, sizeof(*a));
	a->stop = 1;
	uint64_t id = dns_lookup(name, type, on_answer, a);
	if (id != 0)
		run_until(1);
	assert_int_equal(a->ran, 1);
}

static uint64_t fake_now;
static uint64_t fake_clock(void) { return fake_now; }

/* ---- tests ---- */

static void test_a_aaaa(void **state)
{
	struct answer a;
	ask("a.test", DNS_A, &a);
	assert_int_equal(a.status, DNS_OK);
	assert_int_equal(a.n, 1);
	assert_string_equal(a.items[0], "192.0.2.10");
	assert_true(a.ttl > 290 && a.ttl <= 300);

	ask("A.Test.", DNS_AAAA, &a);
	assert_int_equal(a.status, DNS_OK);
	assert_int_equal(a.n, 1);
	assert_string_equal(a.items[0], "2001:db8::10");
	assert_true(a.ttl > 290 && a.ttl <= 300);
}

static void test_mx_txt_ptr(void **state)
{
	struct answer a;
	char rev[128];

	ask("mx.test", DNS_MX, &a);
	assert_int_equal(a.status, DNS_OK);
	assert_int_equal(a.n, 2);
	int first = strcmp(a.items[0], "10 mail.mx.test") == 0 ? 0 : 1;
	assert_string_equal(a.items[first], "10 mail.mx.test");
	assert_string_equal(a.items[1 - first], "20 backup.mx.test");
	assert_true(a.ttl > 290 && a.ttl <= 300);	/* from the raw answer */

	ask("txt.test", DNS_TXT, &a);
	assert_int_equal(a.status, DNS_OK);
	assert_int_equal(a.n, 1);
	assert_string_equal(a.items[0], "hello world");
	ask("spf.test", DNS_TXT, &a);		/* two strings, one record */
	assert_int_equal(a.n, 1);
	assert_string_equal(a.items[0], "v=spf1 -all");

	assert_int_equal(dns_reverse_name("192.0.2.20", rev, sizeof(rev)), 0);
	ask(rev, DNS_PTR, &a);
	assert_int_equal(a.status, DNS_OK);
	assert_int_equal(a.n, 1);
	assert_string_equal(a.items[0], "ptr.test");
	/* the host-record's own PTR, through a v6 reverse name */
	assert_int_equal(dns_reverse_name("2001:db8::10", rev, sizeof(rev)), 0);
	ask(rev, DNS_PTR, &a);
	assert_int_equal(a.status, DNS_OK);
	assert_string_equal(a.items[0], "a.test");

	/* a DNSBL listing */
	assert_int_equal(dns_rbl_name("127.0.0.2", "dnsbl.test", rev, sizeof(rev)), 0);
	ask(rev, DNS_A, &a);
	assert_int_equal(a.status, DNS_OK);
	assert_string_equal(a.items[0], "127.0.0.2");
	assert_int_equal(dns_rbl_name("127.0.0.3", "dnsbl.test", rev, sizeof(rev)), 0);
	ask(rev, DNS_A, &a);
	assert_int_equal(a.status, DNS_NOTFOUND);
}

static void test_notfound(void **state)
{
	struct answer a;
	ask("nope.test", DNS_A, &a);
	assert_int_equal(a.status, DNS_NOTFOUND);
	assert_int_equal(a.nxdomain, 1);
	assert_true(a.ttl >= 1 && a.ttl <= 10800);

	ask("a.test", DNS_MX, &a);		/* the name exists, no MX */
	assert_int_equal(a.status, DNS_NOTFOUND);
	assert_int_equal(a.nxdomain, 0);

	ask("txt.test", DNS_A, &a);
	assert_int_equal(a.status, DNS_NOTFOUND);
	assert_int_equal(a.nxdomain, 0);

	/* not a valid name: answered at once, never sent */
	unsigned long sent = dns_queries_sent();
	memset(&a, 0, sizeof(a));
	assert_int_equal(dns_lookup("a..test", DNS_A, on_answer, &a), 0);
	assert_int_equal(a.ran, 1);
	assert_int_equal(a.status, DNS_NOTFOUND);
	assert_int_equal(dns_queries_sent(), sent);
}

static void test_refused_is_tempfail(void **state)
{
	struct answer a;
	/* dnsmasq has no upstream: names outside .test are refused */
	ask("www.example.org", DNS_A, &a);
	assert_int_equal(a.status, DNS_TEMPFAIL);
	assert_int_equal(a.ttl, 10);
	const struct dns_result *r = dns_cached("www.example.org", DNS_A);
	assert_non_null(r);
	assert_int_equal(r->status, DNS_TEMPFAIL);
}

static void test_cache_ttl(void **state)
{
	struct answer a;
	fake_now = 1000000;
	clock_set_mono(fake_clock);
	dns_flush();
	assert_null(dns_cached("a.test", DNS_A));

	unsigned long sent = dns_queries_sent();
	ask("a.test", DNS_A, &a);
	assert_int_equal(dns_queries_sent(), sent + 1);

	/* a hit: the callback runs before dns_lookup returns 0 */
	memset(&a, 0, sizeof(a));
	assert_int_equal(dns_lookup("A.TEST", DNS_A, on_answer, &a), 0);
	assert_int_equal(a.ran, 1);
	assert_string_equal(a.items[0], "192.0.2.10");
	assert_int_equal(dns_queries_sent(), sent + 1);
	const struct dns_result *r = dns_cached("a.test.", DNS_A);
	assert_non_null(r);
	assert_int_equal(r->ttl, 300);

	fake_now += 200 * 1000;			/* TTL counts down */
	r = dns_cached("a.test", DNS_A);
	assert_non_null(r);
	assert_int_equal(r->ttl, 100);

	fake_now += 100 * 1000;			/* expired */
	assert_null(dns_cached("a.test", DNS_A));
	ask("a.test", DNS_A, &a);
	assert_int_equal(a.status, DNS_OK);
	assert_int_equal(dns_queries_sent(), sent + 2);

	/* a 5 s record is kept 5 s; NXDOMAIN without SOA 60 s */
	ask("short.test", DNS_A, &a);
	assert_int_equal(a.ttl, 5);
	ask("gone.test", DNS_A, &a);
	assert_int_equal(a.ttl, 60);
	fake_now += 5000;
	assert_null(dns_cached("short.test", DNS_A));
	assert_non_null(dns_cached("gone.test", DNS_A));
	fake_now += 55000;
	assert_null(dns_cached("gone.test", DNS_A));
	clock_set_mono(NULL);
}

static void test_cache_bound(void **state)
{
	struct answer a;
	char name[64];
	dns_flush();
	dns_set_cache_max(3);
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "n%d.test", i);
		ask(name, DNS_A, &a);
	}
	assert_int_equal(dns_cache_count(), 3);
	assert_null(dns_cached("n0.test", DNS_A));	/* the oldest went */
	assert_non_null(dns_cached("n3.test", DNS_A));
	/* the chains follow the cap, entries kept across the resize */
	dns_set_cache_max(200000);
	assert_true(dns_cache_buckets() >= 200000);
	assert_non_null(dns_cached("n3.test", DNS_A));
	assert_non_null(dns_cached("n1.test", DNS_A));
	dns_set_cache_max(50000);
	assert_true(dns_cache_buckets() >= 50000);
	assert_non_null(dns_cached("n2.test", DNS_A));
	dns_flush();
	assert_int_equal(dns_cache_count(), 0);
}

static void test_coalesce_cancel(void **state)
{
	struct answer a1, a2, a3;
	dns_flush();
	memset(&a1, 0, sizeof(a1));
	memset(&a2, 0, sizeof(a2));
	memset(&a3, 0, sizeof(a3));
	a1.stop = a2.stop = 1;
	unsigned long sent = dns_queries_sent();
	uint64_t id1 = dns_lookup("mx.test", DNS_MX, on_answer, &a1);
	uint64_t id2 = dns_lookup("MX.test.", DNS_MX, on_answer, &a2);
	uint64_t id3 = dns_lookup("mx.test", DNS_MX, on_answer, &a3);
	assert_true(id1 != 0 && id2 != 0 && id3 != 0);
	assert_true(id1 != id2 && id2 != id3 && id1 != id3);
	assert_int_equal(dns_queries_sent(), sent + 1);	/* one query */
	dns_cancel(id3);
	dns_cancel(id3);			/* harmless twice */
	run_until(2);
	assert_int_equal(a1.ran, 1);
	assert_int_equal(a2.ran, 1);
	assert_int_equal(a3.ran, 0);
	assert_int_equal(a2.n, 2);
	dns_cancel(id1);			/* harmless after it ran */

	/* every waiter cancelled: the answer still lands in the cache */
	memset(&a1, 0, sizeof(a1));
	id1 = dns_lookup("txt.test", DNS_TXT, on_answer, &a1);
	assert_true(id1 != 0);
	dns_cancel(id1);
	memset(&a2, 0, sizeof(a2));
	a2.stop = 1;
	uint64_t other = dns_lookup("a.test", DNS_AAAA, on_answer, &a2);
	assert_true(other != 0);
	run_until(1);
	assert_int_equal(a1.ran, 0);
	for (int i = 0; i < 100 && dns_cached("txt.test", DNS_TXT) == NULL; i++) {
		static struct loop_timer t;
		int fired = 0;
		loop_timer_set(&t, 10, guard_fire, &fired);
		loop_run();
	}
	assert_non_null(dns_cached("txt.test", DNS_TXT));
	assert_int_equal(a1.ran, 0);
}

/* A callback that cancels another waiter and flushes the cache, then
 * still reads its result. */
static uint64_t victim_id;
static char seen[128];

static void on_answer_meddle(const struct dns_result *r, void *arg)
{
	dns_cancel(victim_id);
	dns_flush();
	snprintf(seen, sizeof(seen), "%s", r->n ? r->items[0] : "");
	if (arg)
		loop_exit();
}

static void test_reentrant(void **state)
{
	struct answer b;
	int stop = 1;
	dns_flush();
	memset(&b, 0, sizeof(b));
	seen[0] = '\0';
	uint64_t id = dns_lookup("a.test", DNS_A, on_answer_meddle, &stop);
	victim_id = dns_lookup("a.test", DNS_A, on_answer, &b);
	assert_true(id != 0 && victim_id != 0);
	run_until(1);
	assert_string_equal(seen, "192.0.2.10");
	assert_int_equal(b.ran, 0);		/* cancelled by the first */
	assert_int_equal(dns_cache_count(), 0);	/* flushed */

	/* a cache hit whose callback flushes the cache */
	ask("a.test", DNS_A, &b);
	seen[0] = '\0';
	assert_int_equal(dns_lookup("a.test", DNS_A, on_answer_meddle, NULL), 0);
	assert_string_equal(seen, "192.0.2.10");
	assert_null(dns_cached("a.test", DNS_A));
}

static int ticks;
static struct loop_timer tick_timer;

static void tick(void *arg)
{
	ticks++;
	loop_timer_set(&tick_timer, 100, tick, NULL);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void test_timeout(void **state)
{
	char text[256];
	struct answer a, b;
	snprintf(text, sizeof(text), "dns_servers = 127.0.0.1:%d\n"
	    "dns_timeout = 1s\ndns_tries = 2\n", hole_port);
	init_with(text);

	ticks = 0;
	loop_timer_set(&tick_timer, 100, tick, NULL);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.stop = b.stop = 1;
	uint64_t t0 = now_ms();
	assert_true(dns_lookup("slow.example", DNS_A, on_answer, &a) != 0);
	assert_true(dns_lookup("slow.example", DNS_MX, on_answer, &b) != 0);
	run_until(2);
	uint64_t took = now_ms() - t0;
	loop_timer_clear(&tick_timer);
	assert_int_equal(a.status, DNS_TEMPFAIL);
	assert_int_equal(b.status, DNS_TEMPFAIL);
	assert_true(took >= 900 && took < 1600);
	assert_true(ticks >= 7);		/* the loop kept running */

	/* the hole did receive the query (and both tries at most) */
	char buf[512];
	assert_true(recv(hole_fd, buf, sizeof(buf), MSG_DONTWAIT) > 12);

	/* kept 10 s: a restarted evaluation finds it at once */
	memset(&a, 0, sizeof(a));
	assert_int_equal(dns_lookup("slow.example", DNS_A, on_answer, &a), 0);
	assert_int_equal(a.ran, 1);
	assert_int_equal(a.status, DNS_TEMPFAIL);

	init_dnsmasq();				/* back to the real server */
	struct answer c;
	ask("a.test", DNS_A, &c);
	assert_int_equal(c.status, DNS_OK);
}

static void test_reverse_names(void **state)
{
	char out[128];
	assert_int_equal(dns_reverse_name("192.0.2.1", out, sizeof(out)), 0);
	assert_string_equal(out, "1.2.0.192.in-addr.arpa");
	assert_int_equal(dns_reverse_name("::ffff:192.0.2.1", out, sizeof(out)), 0);
	assert_string_equal(out, "1.2.0.192.in-addr.arpa");
	assert_int_equal(dns_reverse_name("2001:db8::1", out, sizeof(out)), 0);
	assert_string_equal(out, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
	    "0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
	assert_int_equal(dns_reverse_name("::1", out, sizeof(out)), 0);
	assert_string_equal(out, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
	    "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa");
	assert_int_equal(dns_reverse_name("not-an-address", out, sizeof(out)), -1);
	assert_int_equal(dns_reverse_name("1.2.3", out, sizeof(out)), -1);
	assert_int_equal(dns_reverse_name("192.0.2.1", out, 10), -1);

	assert_int_equal(dns_rbl_name("127.0.0.2", "zen.example", out, sizeof(out)), 0);
	assert_string_equal(out, "2.0.0.127.zen.example");
	assert_int_equal(dns_rbl_name("::ffff:127.0.0.2", "zen.example.", out, sizeof(out)), 0);
	assert_string_equal(out, "2.0.0.127.zen.example");
	assert_int_equal(dns_rbl_name("2001:db8::abcd", "v6.example", out, sizeof(out)), 0);
	assert_string_equal(out, "d.c.b.a.0.0.0.0.0.0.0.0.0.0.0.0."
	    "0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.v6.example");
	assert_int_equal(dns_rbl_name("x", "zen.example", out, sizeof(out)), -1);
	assert_int_equal(dns_rbl_name("127.0.0.2", "", out, sizeof(out)), -1);
	assert_int_equal(dns_rbl_name("127.0.0.2", "zen.example", out, 12), -1);
}

static void test_soa_servfail(void **state)
{
	char text[256];
	struct answer a;
	snprintf(text, sizeof(text), "dns_servers = [::ffff:127.0.0.1]:%d, 127.0.0.1:%d\n"
	    "dns_timeout = 2s\ndns_tries = 1\n", fake_port, fake_port);
	init_with(text);
	ask("soa.example", DNS_A, &a);		/* negative TTL from the SOA */
	assert_int_equal(a.status, DNS_NOTFOUND);
	assert_int_equal(a.nxdomain, 1);
	assert_int_equal(a.ttl, 120);
	ask("soa.example", DNS_MX, &a);
	assert_int_equal(a.ttl, 120);
	ask("fail.example", DNS_TXT, &a);	/* SERVFAIL */
	assert_int_equal(a.status, DNS_TEMPFAIL);
	assert_int_equal(a.ttl, 10);
	init_dnsmasq();
}

static void test_bad_servers(void **state)
{
	char path[] = "/tmp/mw_dns_test_XXXXXX", err[512];
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *fp = fdopen(fd, "w");
	fputs("dns_servers = 127.0.0.1:5353, nonsense\n", fp);
	fclose(fp);
	struct config *cfg = config_load(path, err, sizeof(err));
	unlink(path);
	assert_non_null(cfg);
	assert_int_equal(dns_init(cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "nonsense"));
	config_free(cfg);
	init_dnsmasq();
}

static int group_setup(void **state)
{
	loop_init();
	start_dnsmasq();
	start_hole();
	start_fake();
	init_dnsmasq();
	return 0;
}

static int group_teardown(void **state)
{
	dns_close();
	if (dnsmasq_pid > 0) {
		kill(dnsmasq_pid, SIGTERM);
		waitpid(dnsmasq_pid, NULL, 0);
	}
	if (hole_fd >= 0)
		close(hole_fd);
	if (fake_fd >= 0) {
		loop_unwatch(fake_fd);
		close(fake_fd);
	}
	return 0;
}

int main(void)
{
	if (access(DNSMASQ, X_OK) != 0) {
		fprintf(stderr, "dns_test: %s missing (dnsmasq-base), skipped\n", DNSMASQ);
		return 0;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reverse_names),
		cmocka_unit_test(test_a_aaaa),
		cmocka_unit_test(test_mx_txt_ptr),
		cmocka_unit_test(test_notfound),
		cmocka_unit_test(test_refused_is_tempfail),
		cmocka_unit_test(test_cache_ttl),
		cmocka_unit_test(test_cache_bound),
		cmocka_unit_test(test_coalesce_cancel),
		cmocka_unit_test(test_reentrant),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_soa_servfail),
		cmocka_unit_test(test_bad_servers),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
