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

#include "cli/cli.h"
#include "common/util.h"
#include "warden/filter.h"

#define SCAN_MAXHOSTS 65536

struct host_count {
	char *host;
	int n;
	time_t *times;
	int cap;
	int banned;
};

struct scan {
	struct host_count *h;
	int nh;
};

static const char *const default_dirs[] = {
	"/etc/mailwarden/filter.d", "/etc/fail2ban/filter.d", NULL
};

static void usage(void)
{
	fprintf(stderr, "usage: mailwarden scan LOG FILTER[opt=val,...] "
	    "[--maxretry N --findtime SECONDS] [--filter-dir DIR]\n");
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

static struct host_count *count_host(struct scan *sc, const char *host)
{
	for (int i = 0; i < sc->nh; i++)
		if (strcmp(sc->h[i].host, host) == 0)
			return &sc->h[i];
	if (sc->nh >= SCAN_MAXHOSTS)
		return NULL;
	sc->h = xrealloc(sc->h, sizeof(*sc->h) * (size_t)(sc->nh + 1));
	struct host_count *hc = &sc->h[sc->nh++];
	memset(hc, 0, sizeof(*hc));
	hc->host = xstrdup(host);
	return hc;
}

/* Would maxretry failures fall within findtime? (times are in log order) */
static void check_ban(struct host_count *hc, time_t t, int maxretry, long findtime)
{
	if (hc->n >= hc->cap) {
		hc->cap = hc->cap ? hc->cap * 2 : 8;
		hc->times = xrealloc(hc->times, sizeof(time_t) * (size_t)hc->cap);
	}
	hc->times[hc->n - 1] = t;
	if (maxretry <= 0 || hc->n < maxretry)
		return;
	int in = 0;
	for (int i = 0; i < hc->n; i++)
		if (hc->times[i] > t - findtime && hc->times[i] <= t)
			in++;
	if (in >= maxretry)
		hc->banned = 1;
}

int cli_scan(int argc, char **argv)
{
	const char *log = NULL, *spec = NULL;
	const char *dirs[8];
	int nd = 0, json = 0, maxretry = 0, rc = 0;
	long findtime = 600;
	char err[1024], line[65536];

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--json-lines") == 0)
			json = 1;
		else if (strcmp(a, "--maxretry") == 0 && i + 1 < argc)
			maxretry = atoi(argv[++i]);
		else if (strcmp(a, "--findtime") == 0 && i + 1 < argc)
			findtime = atol(argv[++i]);
		else if (strcmp(a, "--now") == 0 && i + 1 < argc)
			date_set_now((time_t)atoll(argv[++i]));
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
	for (int i = 0; default_dirs[i]; i++)
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
	struct scan sc = { NULL, 0 };
	long nlines = 0, nmatch = 0, nign = 0, nmiss = 0;
	while (fgets(line, sizeof(line), fp)) {
		struct filter_hit h;
		line[strcspn(line, "\r\n")] = '\0';
		nlines++;
		filter_match(f, line, &h);
		if (json) {
			printf("{\"line\": %ld, \"match\": %s", nlines,
			    h.result == FILTER_FAIL ? "true" : "false");
			if (h.result == FILTER_FAIL) {
				printf(", \"host\": ");
				json_str(h.host);
				printf(", \"time\": %lld", (long long)h.time);
				if (h.user[0]) {
					printf(", \"user\": ");
					json_str(h.user);
				}
			}
			printf("}\n");
		}
		if (h.result == FILTER_FAIL) {
			nmatch++;
			struct host_count *hc = count_host(&sc, h.host);
			if (hc) {
				hc->n++;
				check_ban(hc, h.time, maxretry, findtime);
			}
		} else if (h.result == FILTER_IGNORED)
			nign++;
		else
			nmiss++;
	}
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
		    nlines, nmatch, nign, nmiss);
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
	filter_free(f);
	return rc;
}
