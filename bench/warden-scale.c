/*
 * warden-scale — the ban engine's bookkeeping under 100,000 distinct
 * attacking addresses (issue 11): memory and time per event of the jail
 * runtime (src/warden/jailrt.c) and of the failure store it writes
 * (src/warden/store/store.c, SQLite in a temporary directory, one transaction
 * per 256 events as the warden's loop turns batch them), and the cost of
 * finding the ban that holds an address. No network, no firewall, no
 * root: the nft side is bench/nft-restore.c.
 *
 *   make bench-warden          or
 *   build/bench/warden-scale [ADDRESSES [MAXRETRY]]   (defaults 100000 5)
 *
 * Phases, each printed with heap growth (mallinfo2), RSS and ns/event:
 *  1. every address fails once (counted, none banned): the failure table
 *     at its largest, under the default maxfailed (100,000);
 *  2. every address fails until banned: ADDRESSES bans requested against
 *     the default maxbanned (100,000): aggregated from 90,000 on, refused
 *     at the cap;
 *  3. 1,000,000 lookups of random addresses among the banned and not
 *     banned (jailrt_ban_find: one hash probe per prefix length in use);
 *  4. a spray of 10 x ADDRESSES new addresses, one failure each: memory
 *     stays at maxfailed, the least recently failed evicted;
 *  5. the same first phase with every failure also written to the store.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "warden/jailrt.h"
#include "warden/store/store.h"

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static size_t heap(void)
{
	struct mallinfo2 m = mallinfo2();
	return m.uordblks + m.hblkhd;
}

static long rss_kb(void)
{
	long pages = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f == NULL)
		return -1;
	if (fscanf(f, "%ld %ld", &pages, &res) != 2)
		res = -1;
	fclose(f);
	return res < 0 ? -1 : res * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Address i as text: even i IPv4 spread over 1.0.0.0-223.255.255.255
 * (distinct for i < 2^31), odd i an IPv6 host in its own /64 of 2001:db8::/32. */
static void addr_of(unsigned long i, char *out, size_t len)
{
	unsigned long k = i / 2;
	if (i % 2 == 0) {
		unsigned v = (unsigned)(0x01000000u + (k * 2654435761u % 0xde000000u));
		snprintf(out, len, "%u.%u.%u.%u", v >> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255);
	} else {
		snprintf(out, len, "2001:db8:%lx:%lx::%lx", (k >> 16) & 0xffff, k & 0xffff,
		    (k % 65535) + 1);
	}
}

static void report(const char *what, unsigned long events, double ns, size_t heap0,
    const struct jailrt *r)
{
	printf("%-58s %9lu events  %7.0f ns/event  heap %+8.1f MB  RSS %6.1f MB  "
	    "tracked %zu  bans %zu  evicted %lu  aggregated %lu  refused %lu\n", what, events,
	    events ? ns / (double)events : 0, ((double)heap() - (double)heap0) / 1048576.0,
	    (double)rss_kb() / 1024.0, r->nfails, r->nbans, r->evicted, r->aggregated,
	    r->refused);
}

static void die(const char *what, const char *err)
{
	fprintf(stderr, "warden-scale: %s: %s\n", what, err);
	exit(1);
}

/* One failure of address i at t; a ban is recorded as warden.c does,
 * an aggregate taking over the bans inside it (a scan of the bans). */
static enum jailrt_result fail(struct jailrt *r, unsigned long i, long t)
{
	char a[NET_STRLEN], err[256];
	struct net net;
	long count = 0;
	addr_of(i, a, sizeof(a));
	enum jailrt_result rc = jailrt_failure(r, a, "", 0, t, t, &net, &count, err, sizeof(err));
	if (rc == JRT_BAN) {
		if (net.plen < (net.family == AF_INET ? 32 : 64))
			jailrt_ban_absorb(r, &net);	/* an aggregate, as do_ban() */
		jailrt_ban_add(r, &net, t, 3600, 1, 0);
	}
	else if (rc == JRT_ERROR)
		die("jailrt_failure", err);
	return rc;
}

static char dir[] = "/tmp/warden-scale.XXXXXX";

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
	unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
	long maxretry = argc > 2 ? strtol(argv[2], NULL, 10) : 5;
	long t = 1700000000;
	double t0;
	size_t h0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (maxretry < 1)
		die("usage", "MAXRETRY must be 1 or more");
	struct jail j;
	memset(&j, 0, sizeof(j));
	j.name = "bench";
	j.maxretry = maxretry;
	j.findtime = 86400;
	j.bantime = 3600;
	j.prefix4 = 32;
	j.prefix6 = 64;
	j.maxfailed = 100000;	/* the defaults of jailconf.c */
	j.maxbanned = 100000;
	j.maxbanned_prefix4 = 24;
	j.maxbanned_prefix6 = 48;
	printf("jail: maxretry %ld, findtime 1d, prefix4/6 32/64, maxfailed %ld, maxbanned %ld "
	    "(aggregating to /24, /48 from %ld)\n", j.maxretry, j.maxfailed, j.maxbanned,
	    j.maxbanned - j.maxbanned / 10);

	h0 = heap();
	struct jailrt *r = jailrt_new(&j, NULL, 0);
	t0 = now_ns();
	for (unsigned long i = 0; i < n; i++)
		fail(r, i, t);
	report("1. each address fails once", n, now_ns() - t0, h0, r);

	t0 = now_ns();
	unsigned long ev = 0;
	for (long k = 1; k < maxretry; k++)
		for (unsigned long i = 0; i < n; i++, ev++)
			fail(r, i, t + k);
	report("2. each fails until banned (maxretry)", ev, now_ns() - t0, h0, r);

	enum { LOOKUPS = 1000000 };
	unsigned long hits = 0;
	struct net *probe = calloc(4096, sizeof(*probe));
	if (probe == NULL)
		die("calloc", "out of memory");
	for (unsigned long i = 0; i < 4096; i++) {	/* half banned, half never seen */
		char a[NET_STRLEN];
		addr_of(i % 2 ? (i * 7919) % n : n + i, a, sizeof(a));
		net_parse(a, &probe[i]);
	}
	t0 = now_ns();
	for (unsigned long i = 0; i < LOOKUPS; i++)
		hits += jailrt_ban_find(r, &probe[i & 4095]) != NULL;
	double tl = now_ns() - t0;
	printf("3. jailrt_ban_find, %d lookups over %zu bans: %.0f ns each (%lu held by a ban)\n",
	    LOOKUPS, r->nbans, tl / LOOKUPS, hits);
	free(probe);

	t0 = now_ns();
	for (unsigned long i = 0; i < 10 * n; i++)
		fail(r, 2 * n + i, t + maxretry + 1);
	report("4. spray: 10 x ADDRESSES new addresses, one failure each", 10 * n,
	    now_ns() - t0, h0, r);
	jailrt_free(r);

	/* 5: phase 1 with the store, as the warden records each failure */
	char db[512], err[512];
	if (mkdtemp(dir) == NULL)
		die("mkdtemp", "failed");
	atexit(rm_store);
	snprintf(db, sizeof(db), "%s/warden.db", dir);
	struct store *st = store_open(db, err, sizeof(err));
	if (st == NULL)
		die("store_open", err);
	h0 = heap();
	r = jailrt_new(&j, NULL, 0);
	t0 = now_ns();
	for (unsigned long i = 0; i < n; i++) {
		char a[NET_STRLEN];
		if (i % 256 == 0 && store_begin(st) < 0)
			die("store_begin", store_error(st));
		fail(r, i, t);
		addr_of(i, a, sizeof(a));
		struct store_failure f = { t, "bench", a, "event:auth", "AUTH failed" };
		if (store_failure_add(st, &f) < 0)
			die("store_failure_add", store_error(st));
		if ((i % 256 == 255 || i == n - 1) && store_commit(st) < 0)
			die("store_commit", store_error(st));
	}
	report("5. phase 1 with each failure stored (SQLite, WAL)", n, now_ns() - t0, h0, r);
	jailrt_free(r);
	store_close(st);
	return 0;
}
