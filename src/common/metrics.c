/*
 * metrics — the shared counter page and its Prometheus text rendering
 * (see metrics.h, docs/metrics.md). The page is written by every child
 * with atomics and read by the master; what the master reads is treated
 * as untrusted (a child may be compromised): label values are bounded
 * and escaped before they reach a scraper.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "common/buf.h"
#include "common/metrics.h"

struct metric_def {
	const char *name;
	enum metric_kind kind;
	const char *label;	/* label name, NULL: no label */
	enum metric_buckets buckets;
	const char *help;
};

#define METRIC_DEF_(id, name, kind, label, buckets, help) [id] = { name, kind, label, buckets, help },
static const struct metric_def defs[M__COUNT] = { METRICS(METRIC_DEF_) };
#undef METRIC_DEF_

/* Upper bounds of each bucket set, in seconds (+Inf is implicit). */
static const double bucket_bounds[][METRIC_BUCKETS_MAX] = {
	[MB_NONE] = { 0 },
	[MB_DNS] = { 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 },
	[MB_DELAY] = { 1, 5, 10, 30, 60, 300, 900, 1800, 3600, 14400, 86400, 432000 },
};
static const size_t bucket_count[] = { [MB_NONE] = 0, [MB_DNS] = 12, [MB_DELAY] = 12 };

enum { SLOT_EMPTY, SLOT_WRITING, SLOT_READY };
#define SLOT_OTHER (METRIC_SLOTS - 1)	/* where label values go once the rest are taken */

struct metric_slot {
	_Atomic uint32_t state;
	char label[METRIC_LABEL_MAX + 1];
	_Atomic int64_t value;		/* counter, gauge, or histogram count */
	_Atomic uint64_t sum_us;	/* histogram: sum of observations, microseconds */
	_Atomic uint64_t bucket[METRIC_BUCKETS_MAX];	/* histogram: per bucket, not cumulative */
};

struct metrics_page {
	struct metric_slot slot[M__COUNT][METRIC_SLOTS];
};

static struct metrics_page *page;

int metrics_init(void)
{
	if (page)
		return 0;
	void *p = mmap(NULL, sizeof(*page), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	page = p;
	for (int id = 0; id < M__COUNT; id++) {
		struct metric_slot *s = page->slot[id];
		if (defs[id].label == NULL) {
			atomic_store(&s[0].state, SLOT_READY);
		} else {
			memcpy(s[SLOT_OTHER].label, "other", 6);
			atomic_store(&s[SLOT_OTHER].state, SLOT_READY);
		}
	}
	return 0;
}

int metrics_enabled(void)
{
	return page != NULL;
}

/* The slot of label value v of metric id, claimed when new. */
static struct metric_slot *slot_for(enum metric_id id, const char *v)
{
	if (page == NULL || (unsigned)id >= M__COUNT)
		return NULL;
	struct metric_slot *s = page->slot[id];
	if (defs[id].label == NULL)
		return &s[0];
	if (v == NULL || *v == '\0')
		v = "none";
	size_t n = strnlen(v, METRIC_LABEL_MAX);
	for (int i = 0; i < SLOT_OTHER; i++) {
		uint32_t st = atomic_load_explicit(&s[i].state, memory_order_acquire);
		if (st == SLOT_EMPTY) {
			uint32_t want = SLOT_EMPTY;
			if (atomic_compare_exchange_strong(&s[i].state, &want, SLOT_WRITING)) {
				memcpy(s[i].label, v, n);
				s[i].label[n] = '\0';
				atomic_store_explicit(&s[i].state, SLOT_READY, memory_order_release);
				return &s[i];
			}
			st = want;
		}
		/* another process is naming it: a few stores away, unless it
		 * died right there; then this count goes to "other" */
		for (long spin = 0; st == SLOT_WRITING; spin++) {
			if (spin > (1L << 22))
				return &s[SLOT_OTHER];
			st = atomic_load_explicit(&s[i].state, memory_order_acquire);
		}
		if (strncmp(s[i].label, v, n) == 0 && s[i].label[n] == '\0')
			return &s[i];
	}
	return &s[SLOT_OTHER];
}

void metrics_add(enum metric_id id, const char *label, uint64_t n)
{
	struct metric_slot *s = slot_for(id, label);
	if (s)
		atomic_fetch_add_explicit(&s->value, (int64_t)n, memory_order_relaxed);
}

void metrics_inc(enum metric_id id, const char *label)
{
	metrics_add(id, label, 1);
}

void metrics_set(enum metric_id id, const char *label, int64_t v)
{
	struct metric_slot *s = slot_for(id, label);
	if (s)
		atomic_store_explicit(&s->value, v, memory_order_relaxed);
}

void metrics_gauge_add(enum metric_id id, const char *label, int64_t delta)
{
	struct metric_slot *s = slot_for(id, label);
	if (s)
		atomic_fetch_add_explicit(&s->value, delta, memory_order_relaxed);
}

void metrics_observe(enum metric_id id, const char *label, double seconds)
{
	struct metric_slot *s = slot_for(id, label);
	if (s == NULL)
		return;
	if (!(seconds >= 0))
		seconds = 0;
	enum metric_buckets b = defs[id].buckets;
	size_t i = 0;
	while (i < bucket_count[b] && seconds > bucket_bounds[b][i])
		i++;
	if (i < bucket_count[b])
		atomic_fetch_add_explicit(&s->bucket[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->sum_us, (uint64_t)(seconds * 1e6), memory_order_relaxed);
	atomic_fetch_add_explicit(&s->value, 1, memory_order_relaxed);
}

/* A label value as Prometheus quotes it: printable ASCII, \ and " escaped. */
static void label_escape(const char *raw, char *out, size_t outlen)
{
	size_t o = 0;
	for (size_t i = 0; i < METRIC_LABEL_MAX && raw[i] && o + 3 < outlen; i++) {
		unsigned char c = (unsigned char)raw[i];
		if (c == '\\' || c == '"')
			out[o++] = '\\';
		out[o++] = c >= 0x20 && c < 0x7f ? (char)c : '_';
	}
	out[o] = '\0';
}

/* One histogram's _bucket, _sum and _count lines. */
static int render_histogram(struct buf *b, const struct metric_def *d, struct metric_slot *s,
    const char *lbl)
{
	char sep[METRIC_LABEL_MAX * 2 + 64] = "";
	if (*lbl && snprintf(sep, sizeof(sep), "%s,", lbl) >= (int)sizeof(sep))
		return -1;
	uint64_t cum = 0;
	for (size_t i = 0; i < bucket_count[d->buckets]; i++) {
		cum += atomic_load_explicit(&s->bucket[i], memory_order_relaxed);
		if (buf_printf(b, "%s_bucket{%sle=\"%g\"} %llu\n", d->name, sep,
		    bucket_bounds[d->buckets][i], (unsigned long long)cum) < 0)
			return -1;
	}
	uint64_t count = (uint64_t)atomic_load_explicit(&s->value, memory_order_relaxed);
	if (count < cum)	/* a reader between two adds: keep +Inf the largest */
		count = cum;
	double sum = (double)atomic_load_explicit(&s->sum_us, memory_order_relaxed) / 1e6;
	const char *br = *lbl ? "{" : "", *ket = *lbl ? "}" : "";
	if (buf_printf(b, "%s_bucket{%sle=\"+Inf\"} %llu\n", d->name, sep, (unsigned long long)count) < 0 ||
	    buf_printf(b, "%s_sum%s%s%s %.6f\n", d->name, br, lbl, ket, sum) < 0 ||
	    buf_printf(b, "%s_count%s%s%s %llu\n", d->name, br, lbl, ket, (unsigned long long)count) < 0)
		return -1;
	return 0;
}

/* Postfix's reply wording names the restriction family that refused. */
static const struct {
	const char *text, *reason;
} reject_reasons[] = {
	{ "Relay access denied", "relay" },
	{ "blocked using", "dnsbl" },
	{ "Client host rejected", "client" },
	{ "Helo command rejected", "helo" },
	{ "Sender address rejected", "sender" },
	{ "Recipient address rejected", "recipient" },
	{ "Data command rejected", "data" },
	{ "Message size exceeds", "size" },
	{ "banned by the ban engine", "banned" },
	{ ": reject: header ", "content" },	/* header_checks and body_checks */
	{ ": reject: body ", "content" },
};

const char *metrics_reject_reason(const char *reply)
{
	for (size_t i = 0; i < sizeof(reject_reasons) / sizeof(*reject_reasons); i++)
		if (strstr(reply, reject_reasons[i].text))
			return reject_reasons[i].reason;
	return "other";
}

static const char *const kind_names[] = { "counter", "gauge", "histogram" };

int metrics_render(struct buf *b)
{
	if (page == NULL)
		return 0;
	for (int id = 0; id < M__COUNT; id++) {
		const struct metric_def *d = &defs[id];
		if (buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", d->name, d->help, d->name,
		    kind_names[d->kind]) < 0)
			return -1;
		for (int i = 0; i < METRIC_SLOTS; i++) {
			struct metric_slot *s = &page->slot[id][i];
			if (atomic_load_explicit(&s->state, memory_order_acquire) != SLOT_READY)
				continue;
			char esc[METRIC_LABEL_MAX * 2 + 1], lbl[METRIC_LABEL_MAX * 2 + 40] = "";
			if (d->label) {
				int64_t v = atomic_load_explicit(&s->value, memory_order_relaxed);
				if (i == SLOT_OTHER && v == 0)
					continue;
				label_escape(s->label, esc, sizeof(esc));
				snprintf(lbl, sizeof(lbl), "%s=\"%s\"", d->label, esc);
			}
			if (d->kind == MK_HISTOGRAM) {
				if (render_histogram(b, d, s, lbl) < 0)
					return -1;
				continue;
			}
			int64_t v = atomic_load_explicit(&s->value, memory_order_relaxed);
			if (d->kind == MK_COUNTER && v < 0)
				v = 0;
			if (buf_printf(b, "%s%s%s%s %lld\n", d->name, *lbl ? "{" : "", lbl,
			    *lbl ? "}" : "", (long long)v) < 0)
				return -1;
		}
	}
	return 0;
}
