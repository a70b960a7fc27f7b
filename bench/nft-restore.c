/*
 * nft-restore — how long the warden takes to put its bans back into the
 * kernel after a restart, against fail2ban's way (one `nft add element`
 * process per ban). Run as root: it works in a private network namespace
 * (unshare(CLONE_NEWNET)) and never touches the host's firewall.
 *
 *   make FLAVOUR=build-nft bench-nft          or
 *   build-nft/bench/nft-restore [BANS [F2B_BANS]]   (defaults 100000 1000)
 *
 * Prints the restore time (nft_jail_setup + one nft_ban of every ban), the
 * count read back from the kernel, a few single operations on the full set,
 * and the fail2ban way timed on F2B_BANS bans and extrapolated.
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

#include "warden/nft.h"

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
		struct waddr *w = &b[i].net;
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

/* fail2ban's actionban: one nft process per ban. */
static int spawn_nft(const char *table, const char *set, const char *addr, long timeout)
{
	char elem[128];
	pid_t pid;
	int st;

	snprintf(elem, sizeof(elem), "{ %s timeout %lds }", addr, timeout);
	char *argv[] = { "nft", "add", "element", "inet", (char *)table, (char *)set, elem, NULL };
	if ((errno = posix_spawn(&pid, NFT_BIN, NULL, NULL, argv, environ)) != 0)
		return -1;
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return -1;
	return 0;
}

static void die(const char *what, const char *err)
{
	fprintf(stderr, "nft-restore: %s: %s\n", what, err);
	exit(1);
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
	size_t nf = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000;
	struct nft_ban *b;
	struct nft *nf_ctx;
	char err[512], addr[WADDR_STRLEN];
	double t0, t1, t2;
	long count;

	if (geteuid() != 0 || unshare(CLONE_NEWNET) != 0) {
		fprintf(stderr, "nft-restore: needs root and unshare(CLONE_NEWNET): %s\n",
		    strerror(errno));
		return 1;
	}
	b = calloc(n ? n : 1, sizeof(*b));
	if (b == NULL)
		die("calloc", strerror(errno));
	make_bans(b, n);
	if ((nf_ctx = nft_open("mailwarden", err, sizeof(err))) == NULL)
		die("nft_open", err);

	t0 = now_ms();
	if (nft_jail_setup(nf_ctx, "bench", "smtp,465,submission", "tcp", NULL, err,
	    sizeof(err)) < 0)
		die("setup", err);
	t1 = now_ms();
	if (nft_ban(nf_ctx, "bench", b, n, err, sizeof(err)) < 0)
		die("ban", err);
	t2 = now_ms();
	printf("restore %zu bans: %.0f ms (setup %.1f ms, nft_ban %.0f ms)\n", n, t2 - t0,
	    t1 - t0, t2 - t1);
	t0 = now_ms();
	if ((count = nft_count(nf_ctx, "bench", err, sizeof(err))) < 0)
		die("count", err);
	printf("read back from the kernel: %ld elements (listing took %.0f ms)\n", count,
	    now_ms() - t0);

	/* single operations on the full set */
	struct nft_ban one = { .timeout = 600 };
	waddr_parse("192.0.2.1", &one.net);
	t0 = now_ms();
	if (nft_ban(nf_ctx, "bench", &one, 1, err, sizeof(err)) < 0)
		die("ban one", err);
	t1 = now_ms();
	if (nft_unban(nf_ctx, "bench", &one.net, 1, err, sizeof(err)) != 1)
		die("unban one", err);
	t2 = now_ms();
	printf("one more ban into the full set: %.0f ms; one unban: %.0f ms\n", t1 - t0, t2 - t1);
	t0 = now_ms();
	if (nft_ban(nf_ctx, "bench", b, n, err, sizeof(err)) != 0)
		die("re-ban", "expected nothing to write");
	printf("restore again after a restart (all present): %.0f ms\n", now_ms() - t0);

	/* fail2ban: one process per ban, into a fresh jail of the same shape */
	if (nft_jail_setup(nf_ctx, "f2b", "smtp,465,submission", "tcp", NULL, err,
	    sizeof(err)) < 0)
		die("setup f2b", err);
	if (nf > n)
		nf = n;
	t0 = now_ms();
	for (size_t i = 0; i < nf; i++) {
		if (waddr_format(&b[i].net, 0, addr, sizeof(addr)) < 0 ||
		    spawn_nft("mailwarden", b[i].net.family == AF_INET ? "f2b_v4" : "f2b_v6",
		    addr, b[i].timeout) < 0)
			die("fail2ban way", NFT_BIN " add element failed");
	}
	t1 = now_ms();
	printf("fail2ban way, %zu x `nft add element`: %.0f ms (%.2f ms each, "
	    "%zu bans would take about %.0f s)\n", nf, t1 - t0, (t1 - t0) / (double)nf, n,
	    (t1 - t0) / (double)nf * (double)n / 1e3);
	if ((count = nft_count(nf_ctx, "f2b", err, sizeof(err))) != (long)nf)
		die("count f2b", err);
	nft_destroy(nf_ctx, err, sizeof(err));
	nft_close(nf_ctx);
	free(b);
	return 0;
}
