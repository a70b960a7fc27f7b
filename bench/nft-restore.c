/*
 * nft-restore — how long the warden takes to put its bans back into the
 * kernel after a restart, against fail2ban's way (one `nft add element`
 * process per ban). Run as root: it works in a private network namespace
 * (unshare(CLONE_NEWNET)) and never touches the host's firewall.
 *
 *   make FLAVOUR=build-ban bench-nft          or
 *   build-ban/bench/nft-restore [BANS [F2B_BANS]]   (defaults 100000 1000)
 *
 * First fills a fresh SQLite store (warden_dbfile, in a temporary
 * directory) with BANS live bans of one jail, then times the warden's
 * restore path from it: store_open + store_ban_list (the bans in force),
 * net_parse_net + jailrt_ban_add (the jail's bookkeeping, as warden.c
 * does), nft_jail_setup + one nft_ban of every ban (one libnftables
 * transaction). Prints that time, the count read back from the kernel,
 * single bans and unbans on the full set (the netlink fast path) and
 * re-bans that extend a timeout (the netlink re-ban path), and then fail2ban's way timed
 * on F2B_BANS bans in its own table (`inet f2b-table`, plain sets as its
 * nftables action makes them, after ours is gone) and extrapolated.
 */
#include <errno.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "warden/jailrt.h"
#include "warden/firewall/nft.h"
#include "warden/store/store.h"

#define NFT_BIN "/usr/sbin/nft"

extern char **environ;

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* Deterministic xorshift, so runs are comparable. */
static unsigned long long rnd(void)
{
	static unsigned long long x = 88172645463325252ULL;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return x;
}

/* n distinct bans: even i an IPv4 /32 in 1.0.0.0-223.255.255.255, odd i an
 * IPv6 /64 in 2001:db8::/32; timeouts 1 h to 1 week. Distinct by i. */
static void make_bans(struct nft_ban *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct net *w = &b[i].net;
		unsigned long long r = rnd();
		size_t k = i / 2;

		memset(w, 0, sizeof(*w));
		if (i % 2 == 0) {	/* k spread over the space, kept distinct */
			unsigned v = (unsigned)(0x01000000u + (k * 2654435761u % 0xde000000u));
			w->family = AF_INET;
			w->a[0] = (unsigned char)(v >> 24);
			w->a[1] = (unsigned char)(v >> 16);
			w->a[2] = (unsigned char)(v >> 8);
			w->a[3] = (unsigned char)v;
			w->plen = 32;
		} else {
			w->family = AF_INET6;
			w->a[0] = 0x20, w->a[1] = 0x01, w->a[2] = 0x0d, w->a[3] = 0xb8;
			w->a[4] = (unsigned char)(k >> 24);
			w->a[5] = (unsigned char)(k >> 16);
			w->a[6] = (unsigned char)(k >> 8);
			w->a[7] = (unsigned char)k;
			w->plen = 64;
		}
		b[i].timeout = 3600 + (long)(r % (7 * 86400 - 3600));
	}
}

/* Run nft with argv; 0 if it exited 0. */
static int run_nft(char **argv)
{
	pid_t pid;
	int st;

	if ((errno = posix_spawn(&pid, NFT_BIN, NULL, NULL, argv, environ)) != 0)
		return -1;
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return -1;
	return 0;
}

/* fail2ban's nftables action, actionban: one nft process per ban,
 * `nft add element inet f2b-table addr-set-<jail> { <ip> }`. */
static int spawn_nft(const char *set, const char *addr)
{
	char elem[128];

	snprintf(elem, sizeof(elem), "{ %s }", addr);
	char *argv[] = { "nft", "add", "element", "inet", "f2b-table", (char *)set, elem, NULL };
	return run_nft(argv);
}

static void die(const char *what, const char *err)
{
	fprintf(stderr, "nft-restore: %s: %s\n", what, err);
	exit(1);
}

/* The warden's restore of one stored ban (warden.c restore_one). */
struct restore {
	struct jailrt *rt;
	struct nft_ban *b;
	size_t n;
	long now;
};

static int restore_one(const struct store_ban *sb, void *arg)
{
	struct restore *r = arg;
	struct net net;
	char err[128];

	if (net_parse_net(sb->prefix, &net, err, sizeof(err)) < 0 || net.plen == 0)
		return 0;
	if (jailrt_is_ignored(r->rt, &net))
		return 0;
	struct jailrt_ban *b = jailrt_ban_add(r->rt, &net, sb->start, sb->bantime, sb->count, 1);
	r->b[r->n].net = net;
	r->b[r->n].timeout = jailrt_ban_left(b, r->now);
	r->n++;
	return 0;
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static char dir[] = "/tmp/nft-restore.XXXXXX";	/* the store's, removed at exit */

static void rm_store(void)
{
	char p[512];
	static const char *const sfx[] = { "", "-wal", "-shm" };

	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/warden.db%s", dir, sfx[i]);
		unlink(p);
	}
	rmdir(dir);
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
	size_t nf = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000;
	struct nft_ban *b;
	struct nft *nf_ctx;
	struct store *st;
	char err[512], addr[NET_STRLEN], db[512];
	double t0, t1, t2, t3;
	long count, now = (long)time(NULL);

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid() != 0 || unshare(CLONE_NEWNET) != 0) {
		fprintf(stderr, "nft-restore: needs root and unshare(CLONE_NEWNET): %s\n",
		    strerror(errno));
		return 1;
	}
	b = calloc(n ? n : 1, sizeof(*b));
	if (b == NULL)
		die("calloc", strerror(errno));
	make_bans(b, n);

	/* the store as a warden that banned n addresses leaves it */
	if (mkdtemp(dir) == NULL)
		die("mkdtemp", strerror(errno));
	atexit(rm_store);	/* die() included */
	snprintf(db, sizeof(db), "%s/warden.db", dir);
	if ((st = store_open(db, err, sizeof(err))) == NULL)
		die("store_open", err);
	t0 = now_ms();
	if (store_begin(st) < 0)
		die("store_begin", store_error(st));
	for (size_t i = 0; i < n; i++) {
		long ago = (long)(rnd() % 3600);
		struct store_ban sb = { "bench", addr, now - ago, b[i].timeout + ago, 1 };
		net_format(&b[i].net, b[i].net.family == AF_INET6, addr, sizeof(addr));
		if (store_ban_add(st, &sb) < 0)
			die("store_ban_add", store_error(st));
	}
	if (store_commit(st) < 0)
		die("store_commit", store_error(st));
	store_close(st);
	printf("store filled with %zu live bans in %.0f ms (not part of the restore)\n", n,
	    now_ms() - t0);

	/* the restore: what the warden does at start for a jail with action nft */
	struct jail j;
	memset(&j, 0, sizeof(j));
	j.name = "bench";
	j.prefix4 = 32;
	j.prefix6 = 64;
	struct restore r = { jailrt_new(&j, NULL, 0), calloc(n ? n : 1, sizeof(*r.b)), 0, now };
	if (r.b == NULL)
		die("calloc", strerror(errno));
	if ((nf_ctx = nft_open("mailwarden", err, sizeof(err))) == NULL)
		die("nft_open", err);
	t0 = now_ms();
	if ((st = store_open(db, err, sizeof(err))) == NULL)
		die("store_open", err);
	if (store_ban_list(st, "bench", now, restore_one, &r) < 0)
		die("store_ban_list", store_error(st));
	t1 = now_ms();
	if (nft_jail_setup(nf_ctx, "bench", "smtp,465,submission", "tcp", NULL, err,
	    sizeof(err)) < 0)
		die("setup", err);
	t2 = now_ms();
	if (nft_ban(nf_ctx, "bench", r.b, r.n, err, sizeof(err)) < 0)
		die("ban", err);
	t3 = now_ms();
	if (r.n != n)
		die("restore", "not every stored ban was read back");
	printf("RESTORE %zu bans from the store into the kernel: %.0f ms "
	    "(store read + jail bookkeeping %.0f ms, nft setup %.1f ms, "
	    "one nft_ban transaction %.0f ms)\n", n, t3 - t0, t1 - t0, t2 - t1, t3 - t2);
	t0 = now_ms();
	if ((count = nft_count(nf_ctx, "bench", err, sizeof(err))) < 0)
		die("count", err);
	printf("read back from the kernel: %ld elements (listing took %.0f ms)\n", count,
	    now_ms() - t0);
	if (count != (long)n)
		die("count", "the kernel set does not hold every ban");

	/* single operations on the full set: SINGLE new addresses banned one
	 * nft_ban each (the fast path, nft_fast.c), then unbanned one nft_unban
	 * each; then re-bans of present addresses with a longer timeout
	 * (nft_fast_reban: the element looked up and rewritten over netlink) */
	enum { SINGLE = 21 };
	double tb[SINGLE], tu[SINGLE];
	struct nft_ban one[SINGLE];
	unsigned long fast0, fb0, fast1, fb1;
	nft_fast_stats(nf_ctx, &fast0, &fb0);
	for (int i = 0; i < SINGLE; i++) {
		char txt[32];
		snprintf(txt, sizeof(txt), "192.0.2.%d", i + 1);
		one[i].timeout = 600;
		net_parse(txt, &one[i].net);
		t0 = now_ms();
		if (nft_ban(nf_ctx, "bench", &one[i], 1, err, sizeof(err)) != 1)
			die("ban one", err);
		tb[i] = now_ms() - t0;
	}
	for (int i = 0; i < SINGLE; i++) {
		t0 = now_ms();
		if (nft_unban(nf_ctx, "bench", &one[i].net, 1, err, sizeof(err)) != 1)
			die("unban one", err);
		tu[i] = now_ms() - t0;
	}
	nft_fast_stats(nf_ctx, &fast1, &fb1);
	qsort(tb, SINGLE, sizeof(tb[0]), dbl_cmp);
	qsort(tu, SINGLE, sizeof(tu[0]), dbl_cmp);
	printf("single ban into a full set (%zu elements), %d new addresses one at a time: "
	    "median %.2f ms, min %.2f, max %.2f\n", n, SINGLE, tb[SINGLE / 2], tb[0],
	    tb[SINGLE - 1]);
	printf("single unban from a full set, the same %d one at a time: median %.2f ms, "
	    "min %.2f, max %.2f (fast path taken %lu times, fell back %lu times)\n",
	    SINGLE, tu[SINGLE / 2], tu[0], tu[SINGLE - 1], fast1 - fast0, fb1 - fb0);
	/* re-bans of banned addresses (bantime.increment, recidive): the
	 * timeout extended, SINGLE of them one at a time */
	double tr[SINGLE];
	int nre = r.n < SINGLE ? (int)r.n : SINGLE;
	unsigned long rb0 = nft_reban_count(nf_ctx);
	nft_fast_stats(nf_ctx, &fast0, &fb0);
	for (int i = 0; i < nre; i++) {
		struct nft_ban again = r.b[(size_t)i * (r.n / (size_t)nre)];
		again.timeout += 86400;
		t0 = now_ms();
		if (nft_ban(nf_ctx, "bench", &again, 1, err, sizeof(err)) != 1)
			die("re-ban one", err);
		tr[i] = now_ms() - t0;
	}
	nft_fast_stats(nf_ctx, &fast1, &fb1);
	if (nre == 0)
		die("re-ban", "no bans");
	qsort(tr, (size_t)nre, sizeof(tr[0]), dbl_cmp);
	printf("re-ban of a banned address, timeout extended, %d one at a time: median "
	    "%.2f ms, min %.2f, max %.2f (re-ban fast path taken %lu times, fell back to the "
	    "general path %lu times)\n", nre, tr[nre / 2], tr[0], tr[nre - 1],
	    nft_reban_count(nf_ctx) - rb0, fb1 - fb0);
	if ((count = nft_count(nf_ctx, "bench", err, sizeof(err))) != (long)n)
		die("count after re-bans", count < 0 ? err : "the set lost or gained elements");
	/* the warden restarted: the same bans with the time they have left now */
	now = (long)time(NULL);
	for (size_t i = 0; i < r.n; i++)
		r.b[i].timeout = jailrt_ban_left(&r.rt->bans[i], now);
	t0 = now_ms();
	int wrote = nft_ban(nf_ctx, "bench", r.b, r.n, err, sizeof(err));
	if (wrote < 0)
		die("re-ban", err);
	printf("restore again after a restart (all present): %.0f ms, %d element(s) "
	    "rewritten\n", now_ms() - t0, wrote);
	store_close(st);
	jailrt_free(r.rt);
	free(r.b);
	if (nft_destroy(nf_ctx, err, sizeof(err)) < 0)
		die("destroy", err);
	nft_close(nf_ctx);

	/* fail2ban: its own table and plain sets (action.d/nftables.conf),
	 * one process per ban, as its restore calls actionban per ban */
	char *mk[] = { "nft", "add table inet f2b-table; "
	    "add set inet f2b-table addr-set-bench { type ipv4_addr; }; "
	    "add set inet f2b-table addr6-set-bench { type ipv6_addr; }", NULL };
	if (run_nft(mk) < 0)
		die("fail2ban table", NFT_BIN " failed");
	if (nf > n)
		nf = n;
	t0 = now_ms();
	for (size_t i = 0; i < nf; i++) {
		struct net host = b[i].net;	/* fail2ban bans the address */
		host.plen = host.family == AF_INET ? 32 : 128;
		if (net_format(&host, 0, addr, sizeof(addr)) < 0 ||
		    spawn_nft(b[i].net.family == AF_INET ? "addr-set-bench" : "addr6-set-bench",
		    addr) < 0)
			die("fail2ban way", NFT_BIN " add element failed");
	}
	t1 = now_ms();
	printf("FAIL2BAN WAY, %zu x `nft add element` (one process per ban): %.0f ms "
	    "(%.2f ms each; %zu bans would take about %.0f s at that rate, more as the "
	    "set grows)\n", nf, t1 - t0, (t1 - t0) / (double)nf, n,
	    (t1 - t0) / (double)nf * (double)n / 1e3);
	char *del[] = { "nft", "delete table inet f2b-table", NULL };
	run_nft(del);
	free(b);
	return 0;
}
