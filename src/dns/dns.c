/*
 * dns — asynchronous DNS for the smtp engine (contract in dns.h).
 *
 * One c-ares channel per process, driven by the event loop: c-ares tells
 * us which sockets it wants watched (ARES_OPT_SOCK_STATE_CB -> loop_watch),
 * and one loop timer follows ares_timeout(). Every query also has its own
 * deadline timer (dns_timeout): whatever c-ares's retry schedule, the
 * waiters get DNS_TEMPFAIL when it fires. A late answer still fills the
 * cache.
 *
 * Three tables: the cache (type + lower-cased name -> result, with an
 * expiry time and an insertion-order list for eviction; chains by a
 * hash seeded at random per process, so names a client makes us look up
 * cannot be chosen to fall into one chain, and at least as many chains as
 * the cache's size cap, resized with it); the queries in
 * flight (same key, so a second lookup joins the first); and, on every
 * query, its list of waiters (request id, callback), which dns_cancel()
 * edits. Callbacks get the query's own copy of the result, never a cache
 * entry, so a callback may flush or fill the cache.
 */
#include <arpa/inet.h>
#include <ares.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/loop.h"
#include "common/util.h"
#include "dns/dns.h"
#include "dns/dns_int.h"

#define DNS_CACHE_MAX		50000	/* entries */
#define DNS_FLIGHT_BUCKETS	1024	/* power of two */

struct dns_waiter {
	uint64_t id;
	dns_fn *fn;
	void *arg;
	struct dns_waiter *next;
};

enum query_state {
	Q_PENDING,		/* in the flight table; new lookups join it */
	Q_ORPHAN,		/* deadline passed, waiters answered; c-ares still owns it */
};

struct dns_query {
	enum dns_type type;
	enum query_state state;
	char *name;
	uint32_t hash;
	struct dns_waiter *waiters, **wtail;
	struct loop_timer deadline;
	int in_send;		/* inside ares_query(): answer is kept, not delivered */
	uint64_t sent_ms;	/* clock_mono_ms() when sent: the latency metric */
	int sync_done;
	struct dns_result sync_r;
	struct dns_query *fnext;		/* flight bucket chain */
	struct dns_query *prev, *next;		/* list of all live queries */
};

struct dns_entry {
	enum dns_type type;
	char *name;
	uint32_t hash;
	uint64_t expires;	/* clock_mono_ms() ms */
	struct dns_result r;
	struct dns_entry *hnext;		/* bucket chain */
	struct dns_entry *older, *newer;	/* insertion order */
};

static ares_channel channel;
static int have_channel;
static struct loop_timer ares_tm;
static long timeout_ms;
static uint64_t next_id = 1;
static unsigned long nsent;

static struct dns_entry **cache;
static size_t nbuckets;		/* a power of two, at least cache_max */
static uint64_t seed;
static int seeded;
static struct dns_entry *oldest, *newest;
static size_t ncache, cache_max = DNS_CACHE_MAX;
/* Entries dropped while a callback may still hold them: freed later. */
static struct dns_entry *graveyard;
static int in_callback;

static struct dns_query *flight[DNS_FLIGHT_BUCKETS];
static struct dns_query *queries;

static const struct {
	const char *name;
	int qtype;
} types[] = {
	[DNS_A] = { "A", 1 },
	[DNS_AAAA] = { "AAAA", 28 },
	[DNS_MX] = { "MX", 15 },
	[DNS_TXT] = { "TXT", 16 },
	[DNS_PTR] = { "PTR", 12 },
};

/* ---- names and keys ---- */

/* Lower-case name into out without a final dot; -1 if it is no valid
 * domain name (empty, too long, empty label, label over 63). */
static int name_norm(const char *name, char *out, size_t len)
{
	size_t n = strlen(name), label = 0;
	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n == 0 || n > 253 || n >= len)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (c == '.') {
			if (label == 0)
				return -1;
			label = 0;
		} else if (++label > 63)
			return -1;
		out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	out[n] = '\0';
	return 0;
}

static uint32_t key_hash(const char *name, enum dns_type type)
{
	if (!seeded) {
		seed = hash_seed();
		seeded = 1;
	}
	return (uint32_t)hash_bytes(name, strlen(name), seed ^ (uint64_t)type);
}

/* Chains for the cap: the power of two at or above it (64 at least). */
static size_t buckets_for(size_t max)
{
	size_t n = 64;
	while (n < max && n < ((size_t)1 << 30))
		n *= 2;
	return n;
}

/* Allocate or resize the chains for cache_max, moving every entry. */
static void cache_buckets(void)
{
	size_t n = buckets_for(cache_max);
	if (cache != NULL && n == nbuckets)
		return;
	struct dns_entry **t = xcalloc(n, sizeof(*t));
	for (struct dns_entry *e = oldest; e; e = e->newer) {
		e->hnext = t[e->hash & (n - 1)];
		t[e->hash & (n - 1)] = e;
	}
	free(cache);
	cache = t;
	nbuckets = n;
}

/* ---- cache ---- */

static void entry_unlink(struct dns_entry *e)
{
	struct dns_entry **pp = &cache[e->hash & (nbuckets - 1)];
	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	if (e->older)
		e->older->newer = e->newer;
	else
		oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		newest = e->older;
	ncache--;
}

static void entry_free(struct dns_entry *e)
{
	dns_result_free(&e->r);
	free(e->name);
	free(e);
}

static void entry_drop(struct dns_entry *e)
{
	entry_unlink(e);
	if (in_callback) {
		e->hnext = graveyard;
		graveyard = e;
	} else
		entry_free(e);
}

static void graveyard_empty(void)
{
	while (graveyard) {
		struct dns_entry *e = graveyard;
		graveyard = e->hnext;
		entry_free(e);
	}
}

/* The fresh entry for (name, type), dropping a stale one. */
static struct dns_entry *cache_find(const char *name, enum dns_type type)
{
	if (cache == NULL)
		return NULL;
	uint32_t h = key_hash(name, type);
	for (struct dns_entry *e = cache[h & (nbuckets - 1)]; e; e = e->hnext) {
		if (e->hash != h || e->type != type || strcmp(e->name, name) != 0)
			continue;
		uint64_t now = clock_mono_ms();
		if (e->expires <= now) {
			entry_drop(e);
			return NULL;
		}
		e->r.ttl = (uint32_t)((e->expires - now + 999) / 1000);
		return e;
	}
	return NULL;
}

/* Make room for one entry: drop expired among the oldest, else the oldest. */
static void cache_make_room(void)
{
	uint64_t now = clock_mono_ms();
	struct dns_entry *e = oldest;
	for (int i = 0; e && i < 32 && ncache >= cache_max; i++) {
		struct dns_entry *nx = e->newer;
		if (e->expires <= now)
			entry_drop(e);
		e = nx;
	}
	while (ncache >= cache_max && oldest)
		entry_drop(oldest);
}

/* Store a copy of r for its TTL (r->ttl, already clamped). */
static void cache_put(const char *name, enum dns_type type, const struct dns_result *r)
{
	if (cache == NULL)
		cache_buckets();
	struct dns_entry *old = cache_find(name, type);
	if (old)
		entry_drop(old);
	if (cache_max == 0)
		return;
	cache_make_room();
	struct dns_entry *e = xcalloc(1, sizeof(*e));
	e->type = type;
	e->name = xstrdup(name);
	e->hash = key_hash(name, type);
	e->expires = clock_mono_ms() + (uint64_t)r->ttl * 1000;
	dns_result_copy(&e->r, r);
	struct dns_entry **b = &cache[e->hash & (nbuckets - 1)];
	e->hnext = *b;
	*b = e;
	e->older = newest;
	if (newest)
		newest->newer = e;
	else
		oldest = e;
	newest = e;
	ncache++;
}

/* ---- c-ares and the loop ---- */

static void ares_timer_fire(void *arg);

/* Follow ares_timeout() with the one c-ares timer. */
static void ares_timer_update(void)
{
	struct timeval tv, *tvp;
	if (!have_channel)
		return;
	tvp = ares_timeout(channel, NULL, &tv);
	if (tvp == NULL) {
		loop_timer_clear(&ares_tm);
		return;
	}
	uint64_t ms = (uint64_t)tvp->tv_sec * 1000 + ((uint64_t)tvp->tv_usec + 999) / 1000;
	loop_timer_set(&ares_tm, ms, ares_timer_fire, NULL);
}

static void ares_timer_fire(void *arg)
{
	ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	ares_timer_update();
}

static void ares_io(int fd, int events, void *arg)
{
	ares_process_fd(channel, events & LOOP_READ ? fd : ARES_SOCKET_BAD,
	    events & LOOP_WRITE ? fd : ARES_SOCKET_BAD);
	ares_timer_update();
}

static void sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	if (readable || writable)
		loop_watch(fd, (readable ? LOOP_READ : 0) | (writable ? LOOP_WRITE : 0),
		    ares_io, NULL);
	else
		loop_unwatch(fd);
}

/* ---- queries ---- */

static struct dns_query *flight_find(const char *name, enum dns_type type)
{
	uint32_t h = key_hash(name, type);
	for (struct dns_query *q = flight[h & (DNS_FLIGHT_BUCKETS - 1)]; q; q = q->fnext)
		if (q->hash == h && q->type == type && strcmp(q->name, name) == 0)
			return q;
	return NULL;
}

static void flight_remove(struct dns_query *q)
{
	struct dns_query **pp = &flight[q->hash & (DNS_FLIGHT_BUCKETS - 1)];
	while (*pp && *pp != q)
		pp = &(*pp)->fnext;
	if (*pp)
		*pp = q->fnext;
	q->fnext = NULL;
}

static void query_free(struct dns_query *q)
{
	if (q->state == Q_PENDING)
		flight_remove(q);
	loop_timer_clear(&q->deadline);
	if (q->prev)
		q->prev->next = q->next;
	else
		queries = q->next;
	if (q->next)
		q->next->prev = q->prev;
	while (q->waiters) {
		struct dns_waiter *w = q->waiters;
		q->waiters = w->next;
		free(w);
	}
	dns_result_free(&q->sync_r);
	free(q->name);
	free(q);
}

/* Answer every waiter of q with r (q stays alive; it is no longer joinable). */
static void query_deliver(struct dns_query *q, const struct dns_result *r)
{
	if (q->state == Q_PENDING)
		flight_remove(q);
	q->state = Q_ORPHAN;
	in_callback++;
	while (q->waiters) {
		struct dns_waiter *w = q->waiters;
		q->waiters = w->next;
		if (q->waiters == NULL)
			q->wtail = &q->waiters;
		dns_fn *fn = w->fn;
		void *arg = w->arg;
		free(w);
		fn(r, arg);		/* may cancel or add lookups */
	}
	if (--in_callback == 0)
		graveyard_empty();
}

static void log_failure(const struct dns_query *q, int status)
{
	metrics_inc(M_DNS_ERRORS, status == ARES_ETIMEOUT ? "timeout" :
	    status == ARES_ESERVFAIL ? "servfail" : "other");
	log_warn("dns: %s/%s lookup failed: %s", q->name, types[q->type].name,
	    ares_strerror(status));
}

static void query_deadline(void *arg)
{
	struct dns_query *q = arg;
	struct dns_result r;
	dns_result_build(&r, q->type, ARES_ETIMEOUT, NULL, 0);
	log_failure(q, ARES_ETIMEOUT);
	cache_put(q->name, q->type, &r);
	query_deliver(q, &r);
	dns_result_free(&r);
}

static void query_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct dns_query *q = arg;
	struct dns_result r;

	if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED) {
		query_free(q);		/* channel going away: nobody is told */
		return;
	}
	int why = dns_result_build(&r, q->type, status, abuf, alen);
	if (q->state == Q_ORPHAN) {	/* late: keep it if it is an answer */
		if (r.status != DNS_TEMPFAIL)
			cache_put(q->name, q->type, &r);
		dns_result_free(&r);
		query_free(q);
		return;
	}
	loop_timer_clear(&q->deadline);
	metrics_observe(M_DNS_LATENCY, NULL, (double)(clock_mono_ms() - q->sent_ms) / 1000.0);
	if (r.status == DNS_TEMPFAIL)
		log_failure(q, why);
	cache_put(q->name, q->type, &r);
	if (q->in_send) {		/* dns_lookup() delivers it */
		q->sync_r = r;
		q->sync_done = 1;
		return;
	}
	query_deliver(q, &r);
	dns_result_free(&r);
	query_free(q);
}

/* ---- public ---- */

uint64_t dns_lookup(const char *name, enum dns_type type, dns_fn *fn, void *arg)
{
	char key[256];
	struct dns_entry *e;
	struct dns_query *q;

	if (name_norm(name, key, sizeof(key)) < 0) {
		struct dns_result r = { .status = DNS_NOTFOUND, .nxdomain = 1 };
		fn(&r, arg);
		return 0;
	}
	if ((e = cache_find(key, type)) != NULL) {
		in_callback++;
		fn(&e->r, arg);
		if (--in_callback == 0)
			graveyard_empty();
		return 0;
	}
	if (!have_channel)
		fatal("dns_lookup before dns_init");
	struct dns_waiter *w = xcalloc(1, sizeof(*w));
	w->id = next_id++;
	w->fn = fn;
	w->arg = arg;
	if ((q = flight_find(key, type)) != NULL) {
		*q->wtail = w;
		q->wtail = &w->next;
		return w->id;
	}
	uint64_t id = w->id;
	q = xcalloc(1, sizeof(*q));
	q->type = type;
	q->name = xstrdup(key);
	q->hash = key_hash(key, type);
	q->waiters = w;
	q->wtail = &w->next;
	q->deadline.slot = (size_t)-1;
	q->fnext = flight[q->hash & (DNS_FLIGHT_BUCKETS - 1)];
	flight[q->hash & (DNS_FLIGHT_BUCKETS - 1)] = q;
	q->next = queries;
	if (queries)
		queries->prev = q;
	queries = q;
	loop_timer_set(&q->deadline, (uint64_t)timeout_ms, query_deadline, q);
	nsent++;
	q->in_send = 1;
	q->sent_ms = clock_mono_ms();
	ares_query(channel, key, 1 /* C_IN */, types[type].qtype, query_answer, q);
	q->in_send = 0;
	if (q->sync_done) {		/* failed at once (no server, no socket) */
		struct dns_result r = q->sync_r;
		q->sync_r.items = NULL;
		q->sync_r.n = 0;
		query_deliver(q, &r);
		dns_result_free(&r);
		query_free(q);
		return 0;
	}
	ares_timer_update();
	return id;
}

const struct dns_result *dns_cached(const char *name, enum dns_type type)
{
	char key[256];
	if (name_norm(name, key, sizeof(key)) < 0)
		return NULL;
	struct dns_entry *e = cache_find(key, type);
	return e ? &e->r : NULL;
}

void dns_cancel(uint64_t id)
{
	if (id == 0)
		return;
	for (struct dns_query *q = queries; q; q = q->next) {
		for (struct dns_waiter **pp = &q->waiters; *pp; pp = &(*pp)->next) {
			struct dns_waiter *w = *pp;
			if (w->id != id)
				continue;
			*pp = w->next;
			if (q->wtail == &w->next)
				q->wtail = pp;
			free(w);
			return;
		}
	}
}

void dns_flush(void)
{
	while (oldest)
		entry_drop(oldest);
}

void dns_set_cache_max(size_t max)
{
	cache_max = max;
	while (ncache > cache_max && oldest)
		entry_drop(oldest);
	if (cache != NULL)
		cache_buckets();
}

size_t dns_cache_buckets(void)
{
	return cache != NULL ? nbuckets : buckets_for(cache_max);
}

size_t dns_cache_count(void)
{
	return ncache;
}

unsigned long dns_queries_sent(void)
{
	return nsent;
}

void dns_close(void)
{
	if (have_channel) {
		ares_destroy(channel);	/* frees every query via query_answer */
		have_channel = 0;
	}
	while (queries)
		query_free(queries);
	loop_timer_clear(&ares_tm);
	dns_flush();
	free(cache);
	cache = NULL;
	nbuckets = 0;
}

/* ---- set-up ---- */

/* One dns_servers item: "192.0.2.1", "192.0.2.1:5353", "::1", "[::1]:53". */
static int server_parse(const char *s, struct ares_addr_port_node *n, char *err, size_t errlen)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *orig = s, *port = NULL, *colon = strchr(s, ':');
	size_t hl;

	memset(n, 0, sizeof(*n));
	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (end == NULL || (end[1] != '\0' && end[1] != ':'))
			goto bad;
		hl = (size_t)(end - s - 1);
		s++;
		port = end[1] == ':' ? end + 2 : NULL;
	} else if (colon && strchr(colon + 1, ':') == NULL) {
		hl = (size_t)(colon - s);
		port = colon + 1;
	} else
		hl = strlen(s);
	if (hl == 0 || hl >= sizeof(host))
		goto bad;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (inet_pton(AF_INET, host, &n->addr.addr4) == 1)
		n->family = AF_INET;
	else if (inet_pton(AF_INET6, host, &n->addr.addr6) == 1)
		n->family = AF_INET6;
	else
		goto bad;
	long p = 53;
	if (port && (config_parse_int(port, &p) < 0 || p < 1 || p > 65535))
		goto bad;
	n->udp_port = n->tcp_port = (int)p;
	return 0;
bad:
	snprintf(err, errlen, "dns_servers: bad server address \"%s\"", orig);
	return -1;
}

static int channel_open(ares_channel *ch, long per_try_ms, int tries, char *err, size_t errlen)
{
	struct ares_options o;
	memset(&o, 0, sizeof(o));
	o.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
	o.timeout = (int)per_try_ms;
	o.tries = tries;
	o.ndomains = 0;
	o.domains = NULL;
	o.sock_state_cb = sock_state;
	o.sock_state_cb_data = NULL;
	int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
	    ARES_OPT_DOMAINS | ARES_OPT_SOCK_STATE_CB;
	int st = ares_init_options(ch, &o, mask);
	if (st != ARES_SUCCESS) {
		snprintf(err, errlen, "ares_init_options: %s", ares_strerror(st));
		return -1;
	}
	return 0;
}

int dns_init(const struct config *cfg, char *err, size_t errlen)
{
	static int lib_done;
	struct ares_addr_port_node *nodes = NULL;
	size_t nservers = 0;
	int st;

	if (!lib_done) {
		if ((st = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS) {
			snprintf(err, errlen, "ares_library_init: %s", ares_strerror(st));
			return -1;
		}
		lib_done = 1;
	}
	dns_close();
	char **list = config_list(config_get(cfg, "dns_servers"));
	for (char **p = list; *p; p++)
		nservers++;
	if (nservers) {
		nodes = xcalloc(nservers, sizeof(*nodes));
		for (size_t i = 0; i < nservers; i++) {
			if (server_parse(list[i], &nodes[i], err, errlen) < 0) {
				free(nodes);
				config_list_free(list);
				return -1;
			}
			nodes[i].next = i + 1 < nservers ? &nodes[i + 1] : NULL;
		}
	}
	config_list_free(list);

	timeout_ms = config_get_time(cfg, "dns_timeout") * 1000;
	int tries = (int)config_get_int(cfg, "dns_tries");
	if (nservers == 0) {		/* count resolv.conf's servers */
		struct ares_addr_port_node *have = NULL;
		ares_channel probe;
		if (channel_open(&probe, 1000, 1, err, errlen) < 0)
			return -1;
		if (ares_get_servers_ports(probe, &have) == ARES_SUCCESS)
			for (struct ares_addr_port_node *n = have; n; n = n->next)
				nservers++;
		ares_free_data(have);
		ares_destroy(probe);
		if (nservers == 0)
			nservers = 1;
	}
	/* c-ares sends up to tries * nservers times (then doubles the wait per
	 * round); the per-query deadline bounds the whole at dns_timeout. */
	long per_try = timeout_ms / (long)((size_t)tries * nservers);
	if (per_try < 100)
		per_try = 100;
	if (channel_open(&channel, per_try, tries, err, errlen) < 0) {
		free(nodes);
		return -1;
	}
	if (nodes && (st = ares_set_servers_ports(channel, nodes)) != ARES_SUCCESS) {
		snprintf(err, errlen, "ares_set_servers_ports: %s", ares_strerror(st));
		ares_destroy(channel);
		free(nodes);
		return -1;
	}
	free(nodes);
	have_channel = 1;
	ares_tm.slot = (size_t)-1;
	return 0;
}

/* ---- reverse and DNSBL names ---- */

/* The reversed labels of addr ("4.3.2.1" or 32 nibbles) into out;
 * *v4 tells which. -1 if addr is no address or out is too small. */
static int rev_labels(const char *addr, char *out, size_t len, int *v4)
{
	unsigned char b[16];
	static const char hex[] = "0123456789abcdef";
	int w;

	if (inet_pton(AF_INET, addr, b) == 1) {
		*v4 = 1;
	} else if (inet_pton(AF_INET6, addr, b) == 1) {
		struct in6_addr a6;
		memcpy(&a6, b, 16);
		if (IN6_IS_ADDR_V4MAPPED(&a6)) {
			memmove(b, b + 12, 4);
			*v4 = 1;
		} else
			*v4 = 0;
	} else
		return -1;
	if (*v4) {
		w = snprintf(out, len, "%u.%u.%u.%u", b[3], b[2], b[1], b[0]);
		return w < 0 || (size_t)w >= len ? -1 : 0;
	}
	if (len < 64)
		return -1;
	char *p = out;
	for (int i = 15; i >= 0; i--) {
		*p++ = hex[b[i] & 0xf];
		*p++ = '.';
		*p++ = hex[b[i] >> 4];
		*p++ = i ? '.' : '\0';
	}
	return 0;
}

int dns_reverse_name(const char *addr, char *out, size_t len)
{
	char labels[64];
	int v4;
	if (rev_labels(addr, labels, sizeof(labels), &v4) < 0)
		return -1;
	int w = snprintf(out, len, "%s.%s", labels, v4 ? "in-addr.arpa" : "ip6.arpa");
	return w < 0 || (size_t)w >= len ? -1 : 0;
}

int dns_rbl_name(const char *addr, const char *zone, char *out, size_t len)
{
	char labels[64];
	int v4;
	size_t zl = strlen(zone);
	if (zl && zone[zl - 1] == '.')
		zl--;
	if (zl == 0 || rev_labels(addr, labels, sizeof(labels), &v4) < 0)
		return -1;
	int w = snprintf(out, len, "%s.%.*s", labels, (int)zl, zone);
	return w < 0 || (size_t)w >= len ? -1 : 0;
}
