/*
 * scan — `mailwarden scan LOG FILTER`: run a fail2ban filter over a log
 * and print what it found (lines, matched, ignored, missed, failures per
 * address), and with --maxretry/--findtime which addresses would be
 * banned. --json-lines (hidden, for the compat test) prints one JSON
 * object per line instead; --now EPOCH fixes the clock (else it is the
 * time the scan starts, read once).
 *
 * A regular file is read with mmap and, for a filter whose lines are
 * independent (filter_stateful() is 0), cut at line ends into one piece
 * per thread (--threads N; the CPUs by default): each thread runs its own
 * copy of the filter and keeps its failures, and they are counted here in
 * file order, so the output is the same as one thread's. A piece's first
 * lines without a date take the date of the last dated line before the
 * piece, as they would in one pass. --no-prefilter (for tests and
 * benches) runs every regex on every line.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "cli/cli.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/util.h"
#include "warden/filter/filter.h"

#define SCAN_MAXHOSTS 65536
#define SCAN_HASH0 1024			/* first hash size; doubles at half full */
#define SCAN_BLOCK (1 << 20)		/* read the log in blocks this big */
#define SCAN_MAXLINE 65536		/* longer lines are cut here */
#define SCAN_MAXTHREADS 16
#define SCAN_PIECE_MIN (256 * 1024)	/* no thread for less (unless --threads) */
#define SCAN_PRIME_LINES 1000		/* look back this far for a piece's date */

struct host_count {
	char *host;
	unsigned hash;
	int n;
	time_t *times;
	int cap;
	int banned;
};

/* A hash slot: the host's hash, and its index into h + 1 (0 = empty). */
struct scan_slot {
	unsigned hash;
	int idx;
};

struct scan {
	struct host_count *h;		/* in order of first failure */
	int nh, cap;
	struct scan_slot *slot;		/* open addressing, mask + 1 of them */
	unsigned mask;
};

static const char *const default_dirs[] = {
	"/etc/mailwarden/filter.d", "/etc/fail2ban/filter.d", NULL
};

static void usage(void)
{
	fprintf(stderr, "usage: mailwarden scan LOG FILTER[opt=val,...] "
	    "[--maxretry N --findtime SECONDS] [--filter-dir DIR] "
	    "[--builtin-only] [--journal] [--threads N]\n");
}

static unsigned hash_str(const char *s)
{
	unsigned h = 2166136261u;	/* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* Double the hash (it stays small enough for the cache: a probe is a
 * miss otherwise, and the merge of the threads' failures is serial). */
static void hash_grow(struct scan *sc)
{
	unsigned mask = sc->mask ? sc->mask * 2 + 1 : SCAN_HASH0 - 1;
	struct scan_slot *slot = xcalloc((size_t)mask + 1, sizeof(*slot));
	for (unsigned i = 0; sc->slot && i <= sc->mask; i++) {
		if (sc->slot[i].idx == 0)
			continue;
		unsigned j = sc->slot[i].hash & mask;
		while (slot[j].idx)
			j = (j + 1) & mask;
		slot[j] = sc->slot[i];
	}
	free(sc->slot);
	sc->slot = slot;
	sc->mask = mask;
}

static struct host_count *count_host(struct scan *sc, const char *host)
{
	unsigned hv = hash_str(host), i = hv & sc->mask;
	for (; sc->slot[i].idx; i = (i + 1) & sc->mask) {
		if (sc->slot[i].hash != hv)
			continue;
		struct host_count *hc = &sc->h[sc->slot[i].idx - 1];
		if (strcmp(hc->host, host) == 0)
			return hc;
	}
	if (sc->nh >= SCAN_MAXHOSTS)
		return NULL;
	if ((unsigned)(sc->nh + 1) * 2 > sc->mask + 1) {
		hash_grow(sc);
		for (i = hv & sc->mask; sc->slot[i].idx; i = (i + 1) & sc->mask)
			;
	}
	if (sc->nh >= sc->cap) {
		sc->cap = sc->cap ? sc->cap * 2 : 256;
		sc->h = xrealloc(sc->h, sizeof(*sc->h) * (size_t)sc->cap);
	}
	struct host_count *hc = &sc->h[sc->nh++];
	memset(hc, 0, sizeof(*hc));
	hc->host = xstrdup(host);
	hc->hash = hv;
	sc->slot[i] = (struct scan_slot){ hv, sc->nh };
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

/* A failure as a thread found it: host and user in its arena. */
struct scan_hit {
	long line;		/* in its piece, from 1 */
	time_t time;
	size_t host, user;	/* offsets into the arena; user (size_t)-1: none */
};

/* One thread's piece of the log: whole lines [beg, end). */
struct piece {
	const char *beg, *end, *file_beg;
	const char *spec, *const *dirs;
	int journal, prefilter;
	struct filter *f;
	long nlines, nign, nmiss;
	struct scan_hit *hits;
	size_t nhits, cap;
	struct buf arena;
	int failed;		/* no filter, or no date found to start from */
	char err[512];
};

/* Count one failure (and maybe print it) for line number `line`. */
static void tally_fail(struct scan_run *r, long line, const char *host,
    const char *user, time_t t)
{
	if (r->json) {
		printf("{\"line\": %ld, \"match\": true, \"host\": ", line);
		json_str_fput(stdout, host);
		printf(", \"time\": %lld", (long long)t);
		if (user) {
			printf(", \"user\": ");
			json_str_fput(stdout, user);
		}
		printf("}\n");
	}
	r->nmatch++;
	struct host_count *hc = count_host(r->sc, host);
	if (hc) {
		hc->n++;
		check_ban(hc, t, r->maxretry, r->findtime);
	}
}

static void match_one(struct filter *f, int journal, const char *line, size_t len,
    struct filter_hit *h)
{
	if (journal) {
		char *l = xstrndup(line, len);
		filter_match_time(f, l, clock_wall(), h);
		free(l);
	} else
		filter_match_len(f, line, len, h);
}

/* One line (no newline) through the filter; tally and maybe print. */
static void scan_line(struct scan_run *r, const char *line, size_t len)
{
	struct filter_hit h;

	r->nlines++;
	match_one(r->f, r->journal, line, len, &h);
	if (h.result == FILTER_FAIL)
		tally_fail(r, r->nlines, h.host, h.has_user ? h.user : NULL, h.time);
	else {
		if (r->json)
			printf("{\"line\": %ld, \"match\": false}\n", r->nlines);
		if (h.result == FILTER_IGNORED)
			r->nign++;
		else
			r->nmiss++;
	}
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
				scan_line(r, p, (size_t)(e - p));
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

/* The line [p, nl) without its \r, cut at SCAN_MAXLINE. */
static size_t line_len(const char *p, const char *nl)
{
	size_t len = (size_t)(nl - p);
	if (len > 0 && p[len - 1] == '\r')
		len--;
	return len > SCAN_MAXLINE ? SCAN_MAXLINE : len;
}

/*
 * Give back the mapped pages of [*done, p) once they are SCAN_DROP bytes
 * behind: the page cache keeps them, the process's memory stays small.
 */
#define SCAN_DROP (8 << 20)
static void drop_behind(const char **done, const char *p)
{
	if (p - *done < SCAN_DROP)
		return;
	uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t a = ((uintptr_t)*done + pg - 1) & ~(pg - 1), b = (uintptr_t)p & ~(pg - 1);
	if (b <= a)
		return;
	(void)madvise((void *)a, b - a, MADV_DONTNEED);
	*done = p;
}

/* Start of the line before the one starting at p (p > beg). */
static const char *prev_line(const char *beg, const char *p)
{
	p--;	/* its '\n' */
	while (p > beg && p[-1] != '\n')
		p--;
	return p;
}

/*
 * The date a piece starts with: the last dated line before it, fed to the
 * piece's filter (which keeps it as the date of undated lines; the filter
 * has no other state across lines). 0 if none within SCAN_PRIME_LINES.
 */
static int piece_prime(struct piece *pc)
{
	struct filter_hit h;
	const char *p = pc->beg;
	for (int i = 0; i < SCAN_PRIME_LINES; i++) {
		if (p == pc->file_beg)
			return 1;	/* none before: as in one pass */
		p = prev_line(pc->file_beg, p);
		const char *nl = memchr(p, '\n', (size_t)(pc->beg - p));
		match_one(pc->f, pc->journal, p, line_len(p, nl), &h);
		if (h.has_date || pc->journal)
			return 1;
	}
	return 0;
}

/* Keep line pc->nlines's result h (a failure: its host and user). */
static void piece_tally(struct piece *pc, const struct filter_hit *h)
{
	if (h->result == FILTER_IGNORED) {
		pc->nign++;
		return;
	}
	if (h->result != FILTER_FAIL) {
		pc->nmiss++;
		return;
	}
	if (pc->nhits >= pc->cap) {
		pc->cap = pc->cap ? pc->cap * 2 : 1024;
		pc->hits = xrealloc(pc->hits, sizeof(*pc->hits) * pc->cap);
	}
	struct scan_hit *x = &pc->hits[pc->nhits++];
	x->line = pc->nlines;
	x->time = h->time;
	x->host = pc->arena.len;
	buf_append(&pc->arena, h->host, strlen(h->host) + 1);
	x->user = (size_t)-1;
	if (h->has_user) {
		x->user = pc->arena.len;
		buf_append(&pc->arena, h->user, strlen(h->user) + 1);
	}
}

/* Number of '\n' in [p, e): 16 bytes at a time (SSE2), then bytes. */
static long count_lines(const char *p, const char *e)
{
	long n = 0;
#if defined(__SSE2__)
	const __m128i nl = _mm_set1_epi8('\n');
	for (; e - p >= 16; p += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
		n += __builtin_popcount((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, nl)));
	}
#endif
	for (; p < e; p++)
		n += *p == '\n';
	return n;
}

/*
 * The date a line at ls without its own takes: the nearest dated line
 * before it, back to from (the lines before from are done), fed to the
 * filter, which keeps it. Those lines lack the scan key: misses, whose
 * date is all the filter keeps of them.
 */
static void date_before(struct piece *pc, const char *from, const char *ls)
{
	struct filter_hit h;
	while (ls > from) {
		const char *p = prev_line(from, ls);
		match_one(pc->f, pc->journal, p, line_len(p, ls - 1), &h);
		if (h.has_date)
			return;
		ls = p;
	}
}

/*
 * The piece's lines through the filter, only those holding the scan key
 * (searched for over the whole piece); the others are misses, and
 * their dates are read only when a candidate without its own needs one.
 * Same results as feeding every line (filter_scan_key()).
 */
static void piece_scan_key(struct piece *pc, const char *key, size_t klen)
{
	struct filter_hit h;
	const char *p = pc->beg, *done = pc->beg;
	while (p < pc->end) {
		const char *k = filter_lit_search(p, (size_t)(pc->end - p), key, klen);
		const char *ls = k ? k : pc->end;
		while (ls > p && ls[-1] != '\n')
			ls--;
		long skipped = count_lines(p, ls);
		pc->nlines += skipped;
		pc->nmiss += skipped;
		if (k == NULL)
			break;
		const char *nl = memchr(k, '\n', (size_t)(pc->end - k));	/* whole lines */
		pc->nlines++;
		match_one(pc->f, pc->journal, ls, line_len(ls, nl), &h);
		if (!h.has_date && ls > p) {	/* the skipped lines' last date, then again */
			date_before(pc, p, ls);
			match_one(pc->f, pc->journal, ls, line_len(ls, nl), &h);
		}
		piece_tally(pc, &h);
		p = nl + 1;
		drop_behind(&done, p);
	}
}

static void *piece_run(void *arg)
{
	struct piece *pc = arg;
	struct filter_hit h;
	size_t klen;
	const char *key;

	pc->f = filter_load(pc->spec, pc->dirs, pc->err, sizeof(pc->err));
	if (pc->f == NULL) {
		pc->failed = 1;
		return NULL;
	}
	filter_set_prefilter(pc->f, pc->prefilter);
	if (!piece_prime(pc)) {
		pc->failed = 1;
		return NULL;
	}
	if (!pc->journal && (key = filter_scan_key(pc->f, &klen)) != NULL) {
		piece_scan_key(pc, key, klen);
		return NULL;
	}
	const char *done = pc->beg;
	for (const char *p = pc->beg; p < pc->end;) {
		const char *nl = memchr(p, '\n', (size_t)(pc->end - p));
		drop_behind(&done, p);
		pc->nlines++;
		match_one(pc->f, pc->journal, p, line_len(p, nl), &h);
		p = nl + 1;
		piece_tally(pc, &h);
	}
	return NULL;
}

/* Number of threads for a log of size bytes: --threads, else the CPUs. */
static int scan_nthreads(int asked, size_t size)
{
	long n = asked;
	if (n <= 0) {
		n = sysconf(_SC_NPROCESSORS_ONLN);
		if ((size_t)n > size / SCAN_PIECE_MIN)
			n = (long)(size / SCAN_PIECE_MIN);
	}
	if (n > SCAN_MAXTHREADS)
		n = SCAN_MAXTHREADS;
	if ((size_t)n > size)
		n = (long)size;
	return n < 1 ? 1 : (int)n;
}

/* Count the pieces' results in file order. */
static void pieces_merge(struct scan_run *r, struct piece *pc, int n)
{
	for (int i = 0; i < n; i++) {
		long base = r->nlines, next = 1;
		for (size_t k = 0; k < pc[i].nhits; k++) {
			const struct scan_hit *x = &pc[i].hits[k];
			for (; r->json && next < x->line; next++)
				printf("{\"line\": %ld, \"match\": false}\n", base + next);
			next = x->line + 1;
			const char *a = pc[i].arena.data;
			tally_fail(r, base + x->line, a + x->host,
			    x->user == (size_t)-1 ? NULL : a + x->user, x->time);
		}
		for (; r->json && next <= pc[i].nlines; next++)
			printf("{\"line\": %ld, \"match\": false}\n", base + next);
		r->nlines += pc[i].nlines;
		r->nign += pc[i].nign;
		r->nmiss += pc[i].nmiss;
	}
}

/*
 * Scan the mapped log [map, map + size) in nt pieces. 0 done, 1 a piece
 * could not start (its filter, or no date to start from: the caller
 * scans in one pass instead).
 */
static int scan_pieces(struct scan_run *r, const char *map, size_t size, int nt,
    const char *spec, const char *const *dirs, int prefilter)
{
	struct piece pc[SCAN_MAXTHREADS];
	pthread_t tid[SCAN_MAXTHREADS];
	int started[SCAN_MAXTHREADS] = { 0 }, n = 0, rc = 0;
	const char *p = map, *end = map + size;

	for (int i = 0; i < nt && p < end; i++) {
		const char *e = i == nt - 1 ? end : map + size / (size_t)nt * (size_t)(i + 1);
		if (e < p)
			e = p;
		const char *nl = e < end ? memchr(e, '\n', (size_t)(end - e)) : NULL;
		e = nl ? nl + 1 : end;
		memset(&pc[n], 0, sizeof(pc[n]));
		pc[n] = (struct piece){ .beg = p, .end = e, .file_beg = map, .spec = spec,
			.dirs = dirs, .journal = r->journal, .prefilter = prefilter };
		buf_init(&pc[n].arena, (size_t)1 << 40);
		n++;
		p = e;
	}
	for (int i = 0; i < n; i++)
		started[i] = pthread_create(&tid[i], NULL, piece_run, &pc[i]) == 0;
	for (int i = 0; i < n; i++) {
		if (started[i])
			pthread_join(tid[i], NULL);
		else
			piece_run(&pc[i]);
		rc |= pc[i].failed;
	}
	if (rc == 0)
		pieces_merge(r, pc, n);
	for (int i = 0; i < n; i++) {
		filter_free(pc[i].f);
		free(pc[i].hits);
		buf_free(&pc[i].arena);
	}
	return rc;
}

/* Scan the mapped log [map, map + size) in one pass. */
static void scan_map(struct scan_run *r, const char *map, size_t size)
{
	const char *p = map, *end = map + size, *done = map;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		drop_behind(&done, p);
		if (nl == NULL) {	/* the last line has no '\n': a NUL-ended copy */
			size_t n = (size_t)(end - p) > SCAN_MAXLINE ? SCAN_MAXLINE : (size_t)(end - p);
			char *l = xstrndup(p, n);
			scan_line(r, l, line_len(l, l + n));
			free(l);
			break;
		}
		scan_line(r, p, line_len(p, nl));
		p = nl + 1;
	}
}

/*
 * Scan the regular file fd (of size bytes): mapped, in pieces when the
 * filter allows. -1 if it cannot be mapped (read it instead).
 */
static int scan_file(struct scan_run *r, int fd, size_t size, int threads,
    const char *spec, const char *const *dirs, int prefilter)
{
	char *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		return -1;
	(void)madvise(map, size, MADV_SEQUENTIAL);
	(void)madvise(map, size, MADV_WILLNEED);
	/* the pieces read whole lines: a last line without '\n' goes alone */
	size_t whole = size;
	while (whole > 0 && map[whole - 1] != '\n')
		whole--;
	/* one piece too goes through scan_pieces (its whole-piece search) */
	int nt = filter_stateful(r->f) ? 0 : scan_nthreads(threads, whole);
	if (nt < 1 || whole == 0 || scan_pieces(r, map, whole, nt, spec, dirs, prefilter) != 0)
		scan_map(r, map, whole);
	scan_map(r, map + whole, size - whole);
	munmap(map, size);
	return 0;
}

int cli_scan(int argc, char **argv)
{
	const char *log = NULL, *spec = NULL;
	const char *dirs[8];
	int nd = 0, json = 0, maxretry = 0, rc = 0, journal = 0, builtin_only = 0;
	int threads = 0, prefilter = 1, now_fixed = 0;
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
		else if (strcmp(a, "--no-prefilter") == 0)
			prefilter = 0;
		else if (strcmp(a, "--maxretry") == 0 && i + 1 < argc)
			maxretry = atoi(argv[++i]);
		else if (strcmp(a, "--findtime") == 0 && i + 1 < argc)
			findtime = atol(argv[++i]);
		else if (strcmp(a, "--threads") == 0 && i + 1 < argc)
			threads = atoi(argv[++i]);
		else if (strcmp(a, "--now") == 0 && i + 1 < argc) {
			clock_fix_wall((time_t)atoll(argv[++i]));
			now_fixed = 1;
		}
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
	/* one "now" for the whole scan, its start (the dates without a year
	 * or day are placed by it): read once, not once a line */
	if (!now_fixed)
		clock_fix_wall((double)clock_wall());
	for (int i = 0; default_dirs[i] && !builtin_only; i++)
		dirs[nd++] = default_dirs[i];
	dirs[nd] = NULL;
	struct filter *f = filter_load(spec, dirs, err, sizeof(err));
	if (f == NULL) {
		fprintf(stderr, "mailwarden scan: %s\n", err);
		return 1;
	}
	filter_set_prefilter(f, prefilter);
	FILE *fp = strcmp(log, "-") == 0 ? stdin : fopen(log, "r");
	if (fp == NULL) {
		perror(log);
		filter_free(f);
		return 1;
	}
	struct scan sc = { NULL, 0, 0, NULL, 0 };
	hash_grow(&sc);
	struct scan_run r = { f, &sc, json, journal, maxretry, findtime, 0, 0, 0, 0 };
	struct stat sb;
	if (fp == stdin || fstat(fileno(fp), &sb) < 0 || !S_ISREG(sb.st_mode) ||
	    sb.st_size == 0 ||
	    scan_file(&r, fileno(fp), (size_t)sb.st_size, threads, spec, dirs, prefilter) < 0)
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
