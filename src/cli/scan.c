/*
 * scan — `mailwarden scan LOG FILTER`: run a fail2ban filter over a log
 * and print what it found (lines, matched, ignored, missed, failures per
 * address), and with --maxretry/--findtime which addresses would be
 * banned. --json-lines (hidden, for the compat test) prints one JSON
 * object per line instead; --now EPOCH fixes the clock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "cli/cli.h"
#include "common/util.h"
#include "warden/filter/filter.h"

#define SCAN_MAXHOSTS 65536
#define SCAN_HASH (SCAN_MAXHOSTS * 2)	/* open addressing, power of 2 */
#define SCAN_BLOCK (1 << 20)		/* read the log in blocks this big */
#define SCAN_MAXLINE 65536		/* longer lines are cut here */

struct host_count {
	char *host;
	int n;
	time_t *times;
	int cap;
	int banned;
};

struct scan {
	struct host_count *h;		/* in order of first failure */
	int nh, cap;
	int *slot;			/* hash: index into h + 1, 0 = empty */
};

static const char *const default_dirs[] = {
	"/etc/mailwarden/filter.d", "/etc/fail2ban/filter.d", NULL
};

static void usage(void)
{
	fprintf(stderr, "usage: mailwarden scan LOG FILTER[opt=val,...] "
	    "[--maxretry N --findtime SECONDS] [--filter-dir DIR] "
	    "[--builtin-only] [--journal]\n");
}

/* JSON string body with escapes. */
static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static unsigned hash_str(const char *s)
{
	unsigned h = 2166136261u;	/* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static struct host_count *count_host(struct scan *sc, const char *host)
{
	unsigned i = hash_str(host) & (SCAN_HASH - 1);
	for (; sc->slot[i]; i = (i + 1) & (SCAN_HASH - 1))
		if (strcmp(sc->h[sc->slot[i] - 1].host, host) == 0)
			return &sc->h[sc->slot[i] - 1];
	if (sc->nh >= SCAN_MAXHOSTS)
		return NULL;
	if (sc->nh >= sc->cap) {
		sc->cap = sc->cap ? sc->cap * 2 : 256;
		sc->h = xrealloc(sc->h, sizeof(*sc->h) * (size_t)sc->cap);
	}
	struct host_count *hc = &sc->h[sc->nh++];
	memset(hc, 0, sizeof(*hc));
	hc->host = xstrdup(host);
	sc->slot[i] = sc->nh;
	return hc;
}

/* Would maxretry failures fall within findtime? (times are in log order) */
static void check_ban(struct host_count *hc, time_t t, int maxretry, long findtime)
{
	if (maxretry <= 0)
		return;
	if (hc->n >= hc->cap) {
		hc->cap = hc->cap ? hc->cap * 2 : 8;
		hc->times = xrealloc(hc->times, sizeof(time_t) * (size_t)hc->cap);
	}
	hc->times[hc->n - 1] = t;
	if (hc->n < maxretry)
		return;
	int in = 0;
	for (int i = 0; i < hc->n; i++)
		if (hc->times[i] > t - findtime && hc->times[i] <= t)
			in++;
	if (in >= maxretry)
		hc->banned = 1;
}

/* One run over a log: the filter, the tallies, the output mode. */
struct scan_run {
	struct filter *f;
	struct scan *sc;
	int json, journal, maxretry;
	long findtime;
	long nlines, nmatch, nign, nmiss;
};

/* One line (no newline) through the filter; tally and maybe print. */
static void scan_line(struct scan_run *r, const char *line)
{
	struct filter_hit h;

	r->nlines++;
	if (r->journal)
		filter_match_time(r->f, line, clock_wall(), &h);
	else
		filter_match(r->f, line, &h);
	if (r->json) {
		printf("{\"line\": %ld, \"match\": %s", r->nlines,
		    h.result == FILTER_FAIL ? "true" : "false");
		if (h.result == FILTER_FAIL) {
			printf(", \"host\": ");
			json_str(h.host);
			printf(", \"time\": %lld", (long long)h.time);
			if (h.has_user) {
				printf(", \"user\": ");
				json_str(h.user);
			}
		}
		printf("}\n");
	}
	if (h.result == FILTER_FAIL) {
		r->nmatch++;
		struct host_count *hc = count_host(r->sc, h.host);
		if (hc) {
			hc->n++;
			check_ban(hc, h.time, r->maxretry, r->findtime);
		}
	} else if (h.result == FILTER_IGNORED)
		r->nign++;
	else
		r->nmiss++;
}

/* Read fp in big blocks and hand each line to scan_line (\r\n or \n). */
static void scan_read(FILE *fp, struct scan_run *r)
{
	char *blk = xmalloc(SCAN_BLOCK + 1);
	size_t have = 0, n;
	int skipping = 0;	/* the rest of an over-long line */

	while ((n = fread(blk + have, 1, SCAN_BLOCK - have, fp)) > 0 || have) {
		have += n;
		int eof = n == 0;
		char *p = blk, *end = blk + have;
		for (;;) {
			char *nl = memchr(p, '\n', (size_t)(end - p));
			if (nl == NULL) {
				if (!eof && end - p < SCAN_MAXLINE)
					break;
				nl = end;	/* last line, or too long: cut */
			}
			char *e = nl;
			if (e > p && e[-1] == '\r')
				e--;
			char save = *e;
			*e = '\0';
			if (!skipping)
				scan_line(r, p);
			*e = save;
			skipping = nl == end && !eof;
			p = nl < end ? nl + 1 : end;
			if (p >= end)
				break;
		}
		have = (size_t)(end - p);
		memmove(blk, p, have);
		if (eof)
			break;
	}
	free(blk);
}

int cli_scan(int argc, char **argv)
{
	const char *log = NULL, *spec = NULL;
	const char *dirs[8];
	int nd = 0, json = 0, maxretry = 0, rc = 0, journal = 0, builtin_only = 0;
	long findtime = 600;
	char err[1024];

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--json-lines") == 0)
			json = 1;
		else if (strcmp(a, "--journal") == 0)
			journal = 1;
		else if (strcmp(a, "--builtin-only") == 0)
			builtin_only = 1;
		else if (strcmp(a, "--maxretry") == 0 && i + 1 < argc)
			maxretry = atoi(argv[++i]);
		else if (strcmp(a, "--findtime") == 0 && i + 1 < argc)
			findtime = atol(argv[++i]);
		else if (strcmp(a, "--now") == 0 && i + 1 < argc)
			clock_fix_wall((time_t)atoll(argv[++i]));
		else if (strcmp(a, "--filter-dir") == 0 && i + 1 < argc) {
			if (nd < 5)
				dirs[nd++] = argv[++i];
			else
				i++;
		} else if (a[0] == '-' && a[1] == '-') {
			usage();
			return 1;
		} else if (log == NULL)
			log = a;
		else if (spec == NULL)
			spec = a;
		else {
			usage();
			return 1;
		}
	}
	if (log == NULL || spec == NULL) {
		usage();
		return 1;
	}
	for (int i = 0; default_dirs[i] && !builtin_only; i++)
		dirs[nd++] = default_dirs[i];
	dirs[nd] = NULL;
	struct filter *f = filter_load(spec, dirs, err, sizeof(err));
	if (f == NULL) {
		fprintf(stderr, "mailwarden scan: %s\n", err);
		return 1;
	}
	FILE *fp = strcmp(log, "-") == 0 ? stdin : fopen(log, "r");
	if (fp == NULL) {
		perror(log);
		filter_free(f);
		return 1;
	}
	struct scan sc = { NULL, 0, 0, xcalloc(SCAN_HASH, sizeof(int)) };
	struct scan_run r = { f, &sc, json, journal, maxretry, findtime, 0, 0, 0, 0 };
	scan_read(fp, &r);
	if (ferror(fp)) {
		perror(log);
		rc = 1;
	}
	if (fp != stdin)
		fclose(fp);
	if (!json) {
		printf("Filter: %s (%d failregex, %d ignoreregex)\n", filter_file(f),
		    filter_nfail(f), filter_nignore(f));
		printf("Lines: %ld, matched: %ld, ignored: %ld, missed: %ld\n",
		    r.nlines, r.nmatch, r.nign, r.nmiss);
		for (int i = 0; i < sc.nh; i++)
			printf("  %s %d\n", sc.h[i].host, sc.h[i].n);
		if (maxretry > 0) {
			printf("Would ban (maxretry %d, findtime %ld):\n", maxretry, findtime);
			for (int i = 0; i < sc.nh; i++)
				if (sc.h[i].banned)
					printf("  %s\n", sc.h[i].host);
		}
	}
	for (int i = 0; i < sc.nh; i++) {
		free(sc.h[i].host);
		free(sc.h[i].times);
	}
	free(sc.h);
	free(sc.slot);
	filter_free(f);
	return rc;
}
