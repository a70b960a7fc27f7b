/*
 * jailrt — failure counting, ban decisions and the bans in force of one
 * jail (see jailrt.h). Nothing per event is a scan. Failures are found by
 * a hash of their prefix seeded per process (chains an attacker cannot
 * aim at) and kept in a least-recently-failed list, so that maxfailed
 * evicts in O(1); allowances by a hash of address and login; bans by an
 * open-addressing index by exact network, and the ban holding an address
 * by one lookup per prefix length in use (jailrt_ban_find). What still
 * walks a table: expiry each minute (failures, allowances), Currently
 * failed for status, and jailrt_ban_absorb when the networks inside an
 * aggregate outnumber an eighth of the bans.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/util.h"
#include "warden/jailrt.h"

struct jailrt *jailrt_new(const struct jail *j, const struct net *self, size_t nself)
{
	struct jailrt *r = xcalloc(1, sizeof(*r));
	r->jail = j;
	size_t n = j->nignore + (j->ignoreself ? nself : 0);
	r->ignore = xcalloc(n ? n : 1, sizeof(*r->ignore));
	if (j->nignore)
		memcpy(r->ignore, j->ignore, j->nignore * sizeof(*r->ignore));
	if (j->ignoreself && nself)
		memcpy(r->ignore + j->nignore, self, nself * sizeof(*r->ignore));
	r->nignore = n;
	r->seed = hash_seed();
	return r;
}

void jailrt_free(struct jailrt *r)
{
	if (r == NULL)
		return;
	for (struct jailrt_fail *f = r->oldest, *next; f; f = next) {
		next = f->newer;
		free(f->times);
		free(f);
	}
	free(r->fhash);
	for (size_t i = 0; i < r->capahash; i++) {
		for (struct jailrt_allow *al = r->ahash[i], *next; al; al = next) {
			next = al->hnext;
			free(al);
		}
	}
	free(r->ahash);
	free(r->bans);
	free(r->bidx);
	free(r->ignore);
	free(r);
}

int jailrt_is_ignored(const struct jailrt *r, const struct net *net)
{
	for (size_t i = 0; i < r->nignore; i++)
		if (net_contains(&r->ignore[i], net) || net_contains(net, &r->ignore[i]))
			return 1;
	return 0;
}

static int net_eq(const struct net *x, const struct net *y)
{
	return x->family == y->family && x->plen == y->plen && memcmp(x->a, y->a, 16) == 0;
}

static uint64_t net_hash(const struct net *n, uint64_t seed)
{
	unsigned char key[17];
	size_t len = n->family == AF_INET ? 4 : 16;
	memcpy(key, n->a, len);
	key[len] = (unsigned char)n->plen;
	return hash_bytes(key, len + 1, seed);
}

/* ---- failures: hash chains and the least-recently-failed list ---- */

static struct jailrt_fail **fail_slot(struct jailrt *r, const struct net *net)
{
	struct jailrt_fail **p = &r->fhash[net_hash(net, r->seed) & (r->capfhash - 1)];
	while (*p && !net_eq(&(*p)->net, net))
		p = &(*p)->hnext;
	return p;
}

static struct jailrt_fail *fail_find(struct jailrt *r, const struct net *net)
{
	return r->nfails ? *fail_slot(r, net) : NULL;
}

static void list_unlink(struct jailrt *r, struct jailrt_fail *f)
{
	*(f->older ? &f->older->newer : &r->oldest) = f->newer;
	*(f->newer ? &f->newer->older : &r->newest) = f->older;
	f->older = f->newer = NULL;
}

static void list_push(struct jailrt *r, struct jailrt_fail *f)
{
	f->older = r->newest;
	f->newer = NULL;
	*(r->newest ? &r->newest->newer : &r->oldest) = f;
	r->newest = f;
}

static void fail_del(struct jailrt *r, struct jailrt_fail *f)
{
	struct jailrt_fail **p = fail_slot(r, &f->net);
	*p = f->hnext;
	list_unlink(r, f);
	free(f->times);
	free(f);
	r->nfails--;
}

/* Double the chains when they would average more than one entry. */
static void fhash_grow(struct jailrt *r)
{
	if (r->nfails < r->capfhash)
		return;
	size_t cap = r->capfhash ? 2 * r->capfhash : 64;
	struct jailrt_fail **h = xcalloc(cap, sizeof(*h));
	for (struct jailrt_fail *f = r->oldest; f; f = f->newer) {
		struct jailrt_fail **b = &h[net_hash(&f->net, r->seed) & (cap - 1)];
		f->hnext = *b;
		*b = f;
	}
	free(r->fhash);
	r->fhash = h;
	r->capfhash = cap;
}

static struct jailrt_fail *fail_new(struct jailrt *r, const struct net *net)
{
	fhash_grow(r);
	struct jailrt_fail *f = xcalloc(1, sizeof(*f));
	f->net = *net;
	struct jailrt_fail **b = &r->fhash[net_hash(net, r->seed) & (r->capfhash - 1)];
	f->hnext = *b;
	*b = f;
	list_push(r, f);
	r->nfails++;
	return f;
}

/* Drop times at or before t - findtime. */
static void fail_window(struct jailrt_fail *f, long t, long findtime)
{
	size_t k = 0;
	while (k < f->n && f->times[k] <= t - findtime)
		k++;
	if (k == 0)
		return;		/* (times is NULL before the first) */
	memmove(f->times, f->times + k, (f->n - k) * sizeof(*f->times));
	f->n -= k;
}

/* ---- allowances: hash chains by (address, login) ---- */

static size_t allow_bucket(const struct jailrt *r, const struct net *a, const char *login)
{
	unsigned char key[17 + 128];
	size_t n = strnlen(login, 127);
	key[0] = (unsigned char)a->family;
	memcpy(key + 1, a->a, 16);
	memcpy(key + 17, login, n);
	return (size_t)hash_bytes(key, 17 + n, r->seed) & (r->capahash - 1);
}

static struct jailrt_allow *allow_find(const struct jailrt *r, const struct net *a,
    const char *login)
{
	if (r->nallows == 0)
		return NULL;
	for (struct jailrt_allow *al = r->ahash[allow_bucket(r, a, login)]; al; al = al->hnext)
		if (strcmp(al->login, login) == 0 && al->addr.family == a->family &&
		    memcmp(al->addr.a, a->a, 16) == 0)
			return al;
	return NULL;
}

static void allow_grow(struct jailrt *r)
{
	if (r->nallows < r->capahash)
		return;
	size_t oldcap = r->capahash, cap = oldcap ? 2 * oldcap : 64;
	struct jailrt_allow **old = r->ahash;
	r->ahash = xcalloc(cap, sizeof(*r->ahash));
	r->capahash = cap;
	for (size_t i = 0; i < oldcap; i++) {
		for (struct jailrt_allow *al = old[i], *next; al; al = next) {
			next = al->hnext;
			size_t b = allow_bucket(r, &al->addr, al->login);
			al->hnext = r->ahash[b];
			r->ahash[b] = al;
		}
	}
	free(old);
}

static int allowed(struct jailrt *r, const struct net *a, const char *login, long now)
{
	const struct jailrt_allow *al = allow_find(r, a, login);
	return al != NULL && al->until > now;
}

/* Near or at maxbanned: widen *net to the aggregate prefix, or refuse. */
static enum jailrt_result ban_cap(struct jailrt *r, const struct net *a, struct net *net)
{
	const struct jail *j = r->jail;
	if (j->maxbanned <= 0 || (long)r->nbans < j->maxbanned - j->maxbanned / 10)
		return JRT_BAN;
	if ((long)r->nbans >= j->maxbanned) {
		r->refused++;
		return JRT_FULL;
	}
	struct net wide;
	char why[128];
	int p = net->family == AF_INET ? j->maxbanned_prefix4 : j->maxbanned_prefix6;
	if (p <= 0 || p >= net->plen || banprefix_for(a, net->family == AF_INET ? p : 0,
	    net->family == AF_INET ? 0 : p, r->ignore, r->nignore, &wide, why, sizeof(why)) != 0 ||
	    wide.plen >= net->plen || wide.plen == 0)
		return JRT_BAN;	/* no wider prefix to take: the jail's own */
	*net = wide;
	r->aggregated++;
	return JRT_BAN;
}

enum jailrt_result jailrt_failure(struct jailrt *r, const char *addr, const char *login,
    int auth, long t, long now, struct net *net, long *count, char *err, size_t errlen)
{
	const struct jail *j = r->jail;
	struct net a;
	if (errlen)
		*err = '\0';
	if (net_parse(addr, &a) < 0) {
		snprintf(err, errlen, "not an IP address: %s", addr);
		return JRT_ERROR;
	}
	if (t <= now - j->findtime)
		return JRT_OLD;
	if (banprefix_ignored(r->ignore, r->nignore, &a))
		return JRT_IGNORED;
	if (auth && login && *login && allowed(r, &a, login, now))
		return JRT_ALLOWED;
	int rc = banprefix_for(&a, j->prefix4, j->prefix6, r->ignore, r->nignore, net,
	    err, errlen);
	if (rc == 1)
		return JRT_IGNORED;
	if (rc < 0)
		return JRT_ERROR;
	if (net->plen == 0) {	/* belt and braces: never 0.0.0.0/0 or ::/0 */
		snprintf(err, errlen, "refusing to ban a /0 for %s", addr);
		return JRT_ERROR;
	}
	if (jailrt_ban_find(r, &a))
		return JRT_BANNED;
	r->total_failed++;
	size_t cap = (size_t)(j->maxretry > 0 ? j->maxretry : 1);
	struct jailrt_fail *f = fail_find(r, net);
	if (f == NULL) {
		if (j->maxfailed > 0 && (long)r->nfails >= j->maxfailed && r->oldest) {
			char old[NET_STRLEN];
			net_format(&r->oldest->net, 1, old, sizeof(old));
			snprintf(err, errlen, "maxfailed (%ld) reached: forgetting the failures "
			    "of %s, the least recently failed", j->maxfailed, old);
			fail_del(r, r->oldest);
			r->evicted++;
		}
		f = fail_new(r, net);
	} else if (f != r->newest) {
		list_unlink(r, f);
		list_push(r, f);
	}
	fail_window(f, t, j->findtime);
	if (f->n == cap) {	/* full: keep the newest cap - 1 */
		memmove(f->times, f->times + 1, (cap - 1) * sizeof(long));
		f->n--;
	}
	if (f->n == f->cap) {	/* room for one more, doubling up to cap */
		f->cap = f->cap ? (2 * f->cap < cap ? 2 * f->cap : cap) : (cap < 4 ? cap : 4);
		f->times = xrealloc(f->times, f->cap * sizeof(*f->times));
	}
	/* Keep the times in order even when a log line arrives late. */
	size_t k = f->n;
	while (k > 0 && f->times[k - 1] > t) {
		f->times[k] = f->times[k - 1];
		k--;
	}
	f->times[k] = t;
	f->n++;
	if ((long)f->n < j->maxretry)
		return JRT_COUNTED;
	*count = (long)f->n;
	fail_del(r, f);
	rc = ban_cap(r, &a, net);
	if (rc == JRT_FULL)
		snprintf(err, errlen, "maxbanned (%ld) reached: not banning %s", j->maxbanned,
		    addr);
	return (enum jailrt_result)rc;
}

void jailrt_add_ignore(struct jailrt *r, const struct net *nets, size_t n)
{
	if (n == 0)
		return;
	r->ignore = xrealloc(r->ignore, (r->nignore + n) * sizeof(*r->ignore));
	memcpy(r->ignore + r->nignore, nets, n * sizeof(*nets));
	r->nignore += n;
}

void jailrt_replay(struct jailrt *r, const char *addr, long t, long now)
{
	struct net net;
	long count;
	char err[128];
	unsigned long total = r->total_failed;
	enum jailrt_result rc = jailrt_failure(r, addr, "", 0, t, now, &net, &count, err,
	    sizeof(err));
	r->total_failed = total;
	if (rc == JRT_COUNTED || rc == JRT_BAN)
		r->nreplayed++;
}

int jailrt_auth_ok(struct jailrt *r, const char *addr, const char *login, long now,
    long allow_time)
{
	struct net a, net;
	char err[128];
	if (net_parse(addr, &a) < 0)
		return 0;
	int cleared = 0;
	if (banprefix_for(&a, r->jail->prefix4, r->jail->prefix6, r->ignore, r->nignore,
	    &net, err, sizeof(err)) == 0) {
		struct jailrt_fail *f = fail_find(r, &net);
		if (f) {
			fail_del(r, f);
			cleared = 1;
		}
	}
	if (allow_time <= 0 || login == NULL || *login == '\0')
		return cleared;
	struct jailrt_allow *al = allow_find(r, &a, login);
	if (al == NULL) {
		allow_grow(r);
		al = xcalloc(1, sizeof(*al));
		al->addr = a;
		str_copy(al->login, sizeof(al->login), login);
		size_t b = allow_bucket(r, &a, al->login);
		al->hnext = r->ahash[b];
		r->ahash[b] = al;
		r->nallows++;
	}
	al->until = now + allow_time;
	return cleared;
}

size_t jailrt_current_failed(struct jailrt *r, long now)
{
	size_t n = 0;
	for (const struct jailrt_fail *f = r->oldest; f; f = f->newer)
		if (f->n > 0 && f->times[f->n - 1] > now - r->jail->findtime)
			n++;
	return n;
}

void jailrt_expire_failures(struct jailrt *r, long now)
{
	for (struct jailrt_fail *f = r->oldest, *next; f; f = next) {
		next = f->newer;
		fail_window(f, now, r->jail->findtime);
		if (f->n == 0)
			fail_del(r, f);
	}
	for (size_t i = 0; i < r->capahash; i++) {
		for (struct jailrt_allow **p = &r->ahash[i]; *p;) {
			struct jailrt_allow *al = *p;
			if (al->until <= now) {
				*p = al->hnext;
				free(al);
				r->nallows--;
			} else {
				p = &al->hnext;
			}
		}
	}
}

/* ---- the index of bans by exact network ---- */

/* The slot holding net, or the empty slot where it would go. */
static size_t bidx_slot(const struct jailrt *r, const struct net *net)
{
	size_t mask = r->capbidx - 1, s = (size_t)net_hash(net, r->seed) & mask;
	while (r->bidx[s] && !net_eq(&r->bans[r->bidx[s] - 1].net, net))
		s = (s + 1) & mask;
	return s;
}

static void bidx_rebuild(struct jailrt *r, size_t cap)
{
	free(r->bidx);
	r->capbidx = cap;
	r->bidx = xcalloc(cap, sizeof(*r->bidx));
	for (size_t i = 0; i < r->nbans; i++)
		r->bidx[bidx_slot(r, &r->bans[i].net)] = i + 1;
}

/* Empty slot s, moving later entries of its cluster back (linear probing
 * deletion without tombstones). */
static void bidx_remove(struct jailrt *r, size_t s)
{
	size_t mask = r->capbidx - 1, j = s;
	r->bidx[s] = 0;
	for (;;) {
		j = (j + 1) & mask;
		if (r->bidx[j] == 0)
			return;
		size_t home = (size_t)net_hash(&r->bans[r->bidx[j] - 1].net, r->seed) & mask;
		/* move j to s unless its home lies cyclically in (s, j] */
		if (s <= j ? (s < home && home <= j) : (s < home || home <= j))
			continue;
		r->bidx[s] = r->bidx[j];
		r->bidx[j] = 0;
		s = j;
	}
}

struct jailrt_ban *jailrt_ban_add(struct jailrt *r, const struct net *net, long start,
    long bantime, long count, int restored)
{
	struct jailrt_ban *b = NULL;
	if (r->capbidx < 2 * (r->nbans + 1)) {
		size_t cap = r->capbidx ? r->capbidx : 32;
		while (cap < 2 * (r->nbans + 1))
			cap *= 2;
		bidx_rebuild(r, cap);
	}
	size_t s = bidx_slot(r, net);
	if (r->bidx[s]) {
		b = &r->bans[r->bidx[s] - 1];
	} else {
		if (r->nbans == r->capbans) {
			r->capbans = r->capbans ? 2 * r->capbans : 16;
			r->bans = xrealloc(r->bans, r->capbans * sizeof(*r->bans));
		}
		b = &r->bans[r->nbans++];
		r->bidx[s] = r->nbans;
		r->nplen[net->family == AF_INET6][net->plen]++;
	}
	memset(b, 0, sizeof(*b));
	b->net = *net;
	net_format(net, net->plen != (net->family == AF_INET ? 32 : 128), b->key, sizeof(b->key));
	b->start = start;
	b->bantime = bantime;
	b->count = count;
	if (!restored)
		r->total_banned++;
	return b;
}

struct jailrt_ban *jailrt_ban_find(struct jailrt *r, const struct net *addr)
{
	int v6 = addr->family == AF_INET6;
	if (r->nbans == 0 || (addr->family != AF_INET && !v6))
		return NULL;
	for (int plen = addr->plen; plen >= 0; plen--) {	/* narrowest first */
		if (r->nplen[v6][plen] == 0)
			continue;
		struct net n = *addr;
		net_mask(&n, plen);
		size_t s = bidx_slot(r, &n);
		if (r->bidx[s])
			return &r->bans[r->bidx[s] - 1];
	}
	return NULL;
}

/* What an absorb tells about each ban it takes over. */
struct absorb {
	long end;
	jailrt_ban_fn *fn;
	void *arg;
};

/* Add ban b's end to the absorb's end (JAIL_FOREVER wins), delete it,
 * then tell the callback (which sees the bans without it). */
static void absorb_one(struct jailrt *r, size_t i, struct absorb *ab)
{
	const struct jailrt_ban b = r->bans[i];
	if (b.bantime == JAIL_FOREVER)
		ab->end = JAIL_FOREVER;
	else if (ab->end != JAIL_FOREVER && b.start + b.bantime > ab->end)
		ab->end = b.start + b.bantime;
	jailrt_ban_del(r, i);
	if (ab->fn)
		ab->fn(&b, ab->arg);
}

/* Set the d bits of w from bit `from` on to k (most significant first). */
static void set_bits(struct net *w, int from, int d, unsigned long k)
{
	for (int i = 0; i < d; i++) {
		int bit = from + i;
		unsigned char m = (unsigned char)(0x80 >> (bit % 8));
		if ((k >> (d - 1 - i)) & 1)
			w->a[bit / 8] |= m;
		else
			w->a[bit / 8] &= (unsigned char)~m;
	}
}

long jailrt_ban_absorb(struct jailrt *r, const struct net *net)
{
	return jailrt_ban_absorb_each(r, net, NULL, NULL);
}

long jailrt_ban_absorb_each(struct jailrt *r, const struct net *net, jailrt_ban_fn *fn,
    void *arg)
{
	int v6 = net->family == AF_INET6, bits = v6 ? 128 : 32;
	unsigned long cand = 0;
	struct absorb ab = { 0, fn, arg };

	/* the networks inside net of each prefix length in use, looked up
	 * one by one when they are few (a /24 over /32 bans: 256), else a
	 * scan of the bans (a /48 over /64 bans: 65,536) */
	for (int plen = net->plen + 1; plen <= bits && cand < r->nbans; plen++)
		if (r->nplen[v6][plen])
			cand += plen - net->plen >= 24 ? r->nbans : 1UL << (plen - net->plen);
	if (r->nbans > 0 && cand * 8 < r->nbans) {
		for (int plen = net->plen + 1; plen <= bits; plen++) {
			int d = plen - net->plen;
			for (unsigned long k = 0; r->nplen[v6][plen] && k < (1UL << d); k++) {
				struct net w = *net;
				set_bits(&w, net->plen, d, k);
				w.plen = plen;
				size_t s = bidx_slot(r, &w);
				if (r->bidx[s])
					absorb_one(r, r->bidx[s] - 1, &ab);
			}
		}
		return ab.end;
	}
	for (size_t i = 0; i < r->nbans;) {
		const struct jailrt_ban *b = &r->bans[i];
		if (b->net.family == net->family && b->net.plen > net->plen &&
		    net_contains(net, &b->net))
			absorb_one(r, i, &ab);
		else
			i++;
	}
	return ab.end;
}

void jailrt_ban_del(struct jailrt *r, size_t i)
{
	if (i >= r->nbans)
		return;
	r->nplen[r->bans[i].net.family == AF_INET6][r->bans[i].net.plen]--;
	bidx_remove(r, bidx_slot(r, &r->bans[i].net));
	if (i != r->nbans - 1) {	/* the last ban moves to i */
		r->bidx[bidx_slot(r, &r->bans[r->nbans - 1].net)] = i + 1;
		r->bans[i] = r->bans[r->nbans - 1];
	}
	r->nbans--;
}

int jailrt_ban_ended(const struct jailrt_ban *b, long now)
{
	return b->bantime != JAIL_FOREVER && b->start + b->bantime <= now;
}

long jailrt_ban_left(const struct jailrt_ban *b, long now)
{
	if (b->bantime == JAIL_FOREVER)
		return 0;
	long left = b->start + b->bantime - now;
	return left > 0 ? left : 1;
}

long jailrt_next_end(const struct jailrt *r)
{
	long next = 0;
	for (size_t i = 0; i < r->nbans; i++) {
		const struct jailrt_ban *b = &r->bans[i];
		if (b->bantime == JAIL_FOREVER)
			continue;
		if (next == 0 || b->start + b->bantime < next)
			next = b->start + b->bantime;
	}
	return next;
}
