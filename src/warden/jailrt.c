/*
 * jailrt — failure counting, ban decisions and the bans in force of one
 * jail (see jailrt.h). Tables are small arrays searched linearly: a jail
 * holds the prefixes that failed within findtime, which stays in the
 * thousands even under a spray; expired entries are pruned each minute.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/util.h"
#include "warden/jailrt.h"

struct jailrt *jailrt_new(const struct jail *j, const struct waddr *self, size_t nself)
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
	return r;
}

void jailrt_free(struct jailrt *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->nfails; i++)
		free(r->fails[i].times);
	free(r->fails);
	free(r->allows);
	free(r->bans);
	free(r->ignore);
	free(r);
}

int jailrt_is_ignored(const struct jailrt *r, const struct waddr *net)
{
	for (size_t i = 0; i < r->nignore; i++)
		if (waddr_contains(&r->ignore[i], net) || waddr_contains(net, &r->ignore[i]))
			return 1;
	return 0;
}

static struct jailrt_fail *fail_find(struct jailrt *r, const struct waddr *net)
{
	for (size_t i = 0; i < r->nfails; i++)
		if (r->fails[i].net.family == net->family && r->fails[i].net.plen == net->plen &&
		    memcmp(r->fails[i].net.a, net->a, 16) == 0)
			return &r->fails[i];
	return NULL;
}

static void fail_del(struct jailrt *r, struct jailrt_fail *f)
{
	free(f->times);
	*f = r->fails[--r->nfails];
}

/* Drop times at or before t - findtime. */
static void fail_window(struct jailrt_fail *f, long t, long findtime)
{
	size_t k = 0;
	while (k < f->n && f->times[k] <= t - findtime)
		k++;
	memmove(f->times, f->times + k, (f->n - k) * sizeof(*f->times));
	f->n -= k;
}

static int allowed(struct jailrt *r, const struct waddr *a, const char *login, long now)
{
	for (size_t i = 0; i < r->nallows; i++) {
		struct jailrt_allow *al = &r->allows[i];
		if (al->until > now && strcmp(al->login, login) == 0 &&
		    al->addr.family == a->family && memcmp(al->addr.a, a->a, 16) == 0)
			return 1;
	}
	return 0;
}

enum jailrt_result jailrt_failure(struct jailrt *r, const char *addr, const char *login,
    int auth, long t, long now, struct waddr *net, long *count, char *err, size_t errlen)
{
	const struct jail *j = r->jail;
	struct waddr a;
	if (waddr_parse(addr, &a) < 0) {
		snprintf(err, errlen, "not an IP address: %s", addr);
		return JRT_ERROR;
	}
	if (t <= now - j->findtime)
		return JRT_OLD;
	if (waddr_list_match(r->ignore, r->nignore, &a))
		return JRT_IGNORED;
	if (auth && login && *login && allowed(r, &a, login, now))
		return JRT_ALLOWED;
	int rc = waddr_ban_prefix(&a, j->prefix4, j->prefix6, r->ignore, r->nignore, net,
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
	struct jailrt_fail *f = fail_find(r, net);
	if (f == NULL) {
		if (r->nfails == r->capfails) {
			r->capfails = r->capfails ? 2 * r->capfails : 16;
			r->fails = xrealloc(r->fails, r->capfails * sizeof(*r->fails));
		}
		f = &r->fails[r->nfails++];
		memset(f, 0, sizeof(*f));
		f->net = *net;
		waddr_format(net, net->plen != (net->family == AF_INET ? 32 : 128),
		    f->key, sizeof(f->key));
		f->times = xcalloc((size_t)(j->maxretry > 0 ? j->maxretry : 1), sizeof(long));
	}
	fail_window(f, t, j->findtime);
	size_t cap = (size_t)(j->maxretry > 0 ? j->maxretry : 1);
	if (f->n == cap) {	/* full: keep the newest cap - 1 */
		memmove(f->times, f->times + 1, (cap - 1) * sizeof(long));
		f->n--;
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
	return JRT_BAN;
}

int jailrt_auth_ok(struct jailrt *r, const char *addr, const char *login, long now,
    long allow_time)
{
	struct waddr a, net;
	char err[128];
	if (waddr_parse(addr, &a) < 0)
		return 0;
	int cleared = 0;
	if (waddr_ban_prefix(&a, r->jail->prefix4, r->jail->prefix6, r->ignore, r->nignore,
	    &net, err, sizeof(err)) == 0) {
		struct jailrt_fail *f = fail_find(r, &net);
		if (f) {
			fail_del(r, f);
			cleared = 1;
		}
	}
	if (allow_time <= 0 || login == NULL || *login == '\0')
		return cleared;
	for (size_t i = 0; i < r->nallows; i++) {
		struct jailrt_allow *al = &r->allows[i];
		if (strcmp(al->login, login) == 0 && al->addr.family == a.family &&
		    memcmp(al->addr.a, a.a, 16) == 0) {
			al->until = now + allow_time;
			return cleared;
		}
	}
	r->allows = xrealloc(r->allows, (r->nallows + 1) * sizeof(*r->allows));
	struct jailrt_allow *al = &r->allows[r->nallows++];
	al->addr = a;
	str_copy(al->login, sizeof(al->login), login);
	al->until = now + allow_time;
	return cleared;
}

size_t jailrt_current_failed(struct jailrt *r, long now)
{
	size_t n = 0;
	for (size_t i = 0; i < r->nfails; i++)
		if (r->fails[i].n > 0 && r->fails[i].times[r->fails[i].n - 1] > now - r->jail->findtime)
			n++;
	return n;
}

void jailrt_expire_failures(struct jailrt *r, long now)
{
	for (size_t i = 0; i < r->nfails;) {
		fail_window(&r->fails[i], now, r->jail->findtime);
		if (r->fails[i].n == 0)
			fail_del(r, &r->fails[i]);
		else
			i++;
	}
	for (size_t i = 0; i < r->nallows;) {
		if (r->allows[i].until <= now)
			r->allows[i] = r->allows[--r->nallows];
		else
			i++;
	}
}

struct jailrt_ban *jailrt_ban_add(struct jailrt *r, const struct waddr *net, long start,
    long bantime, long count, int restored)
{
	struct jailrt_ban *b = NULL;
	for (size_t i = 0; i < r->nbans; i++)
		if (r->bans[i].net.family == net->family && r->bans[i].net.plen == net->plen &&
		    memcmp(r->bans[i].net.a, net->a, 16) == 0)
			b = &r->bans[i];
	if (b == NULL) {
		if (r->nbans == r->capbans) {
			r->capbans = r->capbans ? 2 * r->capbans : 16;
			r->bans = xrealloc(r->bans, r->capbans * sizeof(*r->bans));
		}
		b = &r->bans[r->nbans++];
	}
	memset(b, 0, sizeof(*b));
	b->net = *net;
	waddr_format(net, net->plen != (net->family == AF_INET ? 32 : 128), b->key, sizeof(b->key));
	b->start = start;
	b->bantime = bantime;
	b->count = count;
	if (!restored)
		r->total_banned++;
	return b;
}

struct jailrt_ban *jailrt_ban_find(struct jailrt *r, const struct waddr *addr)
{
	for (size_t i = 0; i < r->nbans; i++)
		if (waddr_contains(&r->bans[i].net, addr))
			return &r->bans[i];
	return NULL;
}

void jailrt_ban_del(struct jailrt *r, size_t i)
{
	if (i < r->nbans)
		r->bans[i] = r->bans[--r->nbans];
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
