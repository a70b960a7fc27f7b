/*
 * bans-bench — the cost of the bans journal between the warden and the
 * smtp engine (src/mail/banfile.h) with many bans in force (issue 11):
 * the time to write it whole (start, reload, compaction), the engine's
 * first read, an accept check with nothing new, one ban (the warden's
 * append, with the compactions it leads to amortized in), and the
 * engine's next accept check after a ban (it learns one line). No root,
 * no network; the file is in a temporary directory.
 *
 *   make bench-bans          or
 *   build/bench/bans-bench [BANS]       (default 100000)
 *
 * Before the journal (the whole file rewritten per ban, re-read and
 * scanned linearly by the engine), on the 2-core machine, 100,000 bans:
 * one ban 52.8 ms (writer), accept check 1.66 ms with no change and
 * 29.8 ms after a change.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mail/banfile.h"

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

/* Ban i: 10.0.0.0 + 7 i, a host. */
static void entry(struct banfile_entry *e, size_t i)
{
	uint32_t a = 0x0a000000u + (uint32_t)i * 7;
	memset(e, 0, sizeof(*e));
	e->net.family = AF_INET;
	e->net.plen = 32;
	e->net.a[0] = (unsigned char)(a >> 24);
	e->net.a[1] = (unsigned char)(a >> 16);
	e->net.a[2] = (unsigned char)(a >> 8);
	e->net.a[3] = (unsigned char)a;
	snprintf(e->jail, sizeof(e->jail), "sasl");
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000, k = 1000000, m = 20000;
	char dir[] = "/tmp/bans-bench.XXXXXX", jail[32], addr[64];
	if (n == 0 || mkdtemp(dir) == NULL)
		return 1;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct banfile_entry *e = calloc(n + m, sizeof(*e));
	struct banfile_writer *w = dfd < 0 ? NULL : banfile_writer_new(dfd, "bans");
	if (e == NULL || w == NULL)
		return 1;
	for (size_t i = 0; i < n + m; i++)
		entry(&e[i], i);

	double t = now_ns();
	if (banfile_writer_reset(w, e, n) < 0)
		return 1;
	double whole = now_ns() - t;
	struct banfile *b = banfile_open(dfd, "bans");
	t = now_ns();
	size_t count = banfile_count(b);
	double first = now_ns() - t;

	/* accept checks, nothing new: 1 in 14 addresses is banned */
	int hits = 0;
	srandom(1);
	t = now_ns();
	for (size_t i = 0; i < k; i++) {
		uint32_t a = 0x0a000000u + (uint32_t)((size_t)random() % (n * 14));
		snprintf(addr, sizeof(addr), "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255,
		    a & 255);
		hits += banfile_check(b, addr, 100, jail, sizeof(jail));
	}
	double check = (now_ns() - t) / (double)k;

	/* m more bans, then every ban lifted (`unban --all`), last first so
	 * that the live bans are always e[0..live): each followed by the
	 * engine's next check; the warden compacts at twice the live bans */
	double ban = 0, bannext = 0, unban = 0, unbannext = 0;
	size_t live = n, resets = 0;
	for (size_t i = 0; i < m + n + m; i++) {
		t = now_ns();
		int rc = i < m ? banfile_writer_add(w, &e[live]) :
		    banfile_writer_del(w, &e[live - 1].net, "sasl");
		live = i < m ? live + 1 : live - 1;
		if (rc < 0 || banfile_writer_full(w, live)) {
			if (banfile_writer_reset(w, e, live) < 0)
				return 1;
			resets++;
		}
		*(i < m ? &ban : &unban) += now_ns() - t;
		t = now_ns();
		banfile_check(b, "192.0.2.1", 100, jail, sizeof(jail));
		*(i < m ? &bannext : &unbannext) += now_ns() - t;
	}
	size_t left = banfile_count(b);
	printf("bans journal, %zu bans in force (%zu read by the engine):\n", n, count);
	printf("  written whole (start, reload, compaction): %8.1f ms\n", whole / 1e6);
	printf("  engine's first read:                       %8.1f ms\n", first / 1e6);
	printf("  accept check, nothing new:                 %8.0f ns  (%d of %zu banned)\n",
	    check, hits, k);
	printf("  one ban (warden's append):                 %8.2f us\n", ban / (double)m / 1e3);
	printf("  accept check after a ban (learns it):      %8.2f us\n", bannext / (double)m / 1e3);
	printf("  one unban of all %zu, compactions in:  %8.2f us  (%zu compactions)\n", n + m,
	    unban / (double)(n + m) / 1e3, resets);
	printf("  accept check after an unban:               %8.2f us  (%zu bans left)\n",
	    unbannext / (double)(n + m) / 1e3, left);
	printf("before (whole file per ban, linear scan): one ban 52.8 ms, accept check "
	    "1.66 ms, 29.8 ms after a change\n");
	banfile_close(b);
	banfile_writer_free(w);
	unlinkat(dfd, "bans", 0);
	rmdir(dir);
	free(e);
	return 0;
}
