/*
 * restrict_cache — what policy_ctx.cache points to: the DNS answers this
 * session's restrictions received (copied, so a re-evaluation after
 * POLICY_PENDING finds them even when the DNS cache has already dropped a
 * short-lived negative or temporary answer), the running DNS queries and
 * policy requests (cancelled by policy_ctx_clear), cached policy-service
 * replies, and whether the session waits for a wake.
 */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "policy/restrict_int.h"

struct dns_ent {
	struct rcache *owner;
	char *name;
	enum dns_type type;
	int done;
	int starting;		/* inside dns_lookup(): do not wake */
	uint64_t id;
	struct dns_result res;
	struct dns_ent *next;
};

struct kv {
	char *key;
	char *value;
	struct kv *next;
};

struct req {
	void *req;
	struct req *next;
};

struct rcache {
	struct policy_ctx *c;
	struct spf_memo *spf;	/* restrict_spf.c's result of this transaction */
	struct dns_ent *dns;
	struct kv *kv;
	struct req *reqs;
	int waiting;
};

static struct rcache *cache_of(struct policy_ctx *c)
{
	if (c->cache == NULL) {
		struct rcache *rc = xcalloc(1, sizeof(*rc));
		rc->c = c;
		c->cache = rc;
	}
	((struct rcache *)c->cache)->c = c;
	return c->cache;
}

static void copy_result(struct dns_result *dst, const struct dns_result *src)
{
	dst->status = src->status;
	dst->nxdomain = src->nxdomain;
	dst->ttl = src->ttl;
	dst->n = src->n;
	dst->items = xcalloc(src->n + 1, sizeof(char *));
	for (size_t i = 0; i < src->n; i++)
		dst->items[i] = xstrdup(src->items[i] ? src->items[i] : "");
}

static void dns_answer(const struct dns_result *r, void *arg)
{
	struct dns_ent *e = arg;

	copy_result(&e->res, r);
	e->done = 1;
	e->id = 0;
	if (!e->starting)
		r_cache_done(e->owner->c);
}

const struct dns_result *r_dns(struct rstate *st, const char *name, enum dns_type type)
{
	struct rcache *rc = cache_of(st->c);
	struct dns_ent *e;

	for (e = rc->dns; e != NULL; e = e->next) {
		if (e->type == type && strcmp(e->name, name) == 0)
			break;
	}
	if (e != NULL && e->done)
		return &e->res;
	if (e != NULL) {		/* already asked */
		st->pending = 1;
		return NULL;
	}
	const struct dns_result *cached = dns_cached(name, type);
	if (cached != NULL)
		return cached;
	e = xcalloc(1, sizeof(*e));
	e->owner = rc;
	e->name = xstrdup(name);
	e->type = type;
	e->next = rc->dns;
	rc->dns = e;
	e->starting = 1;
	e->id = dns_lookup(name, type, dns_answer, e);
	e->starting = 0;
	if (e->done)
		return &e->res;
	st->pending = 1;
	return NULL;
}

const char *r_cache_get(struct policy_ctx *c, const char *key)
{
	if (c->cache == NULL)
		return NULL;
	for (struct kv *k = ((struct rcache *)c->cache)->kv; k != NULL; k = k->next) {
		if (strcmp(k->key, key) == 0)
			return k->value;
	}
	return NULL;
}

void r_cache_put(struct policy_ctx *c, const char *key, const char *value)
{
	struct rcache *rc = cache_of(c);
	struct kv *k = xcalloc(1, sizeof(*k));

	k->key = xstrdup(key);
	k->value = xstrdup(value);
	k->next = rc->kv;
	rc->kv = k;
}

void r_cache_add_request(struct policy_ctx *c, struct policy_service *svc, void *req)
{
	struct rcache *rc = cache_of(c);
	struct req *q = xcalloc(1, sizeof(*q));

	q->req = req;
	q->next = rc->reqs;
	rc->reqs = q;
}

void r_cache_del_request(struct policy_ctx *c, void *req)
{
	if (c->cache == NULL)
		return;
	for (struct req **qp = &((struct rcache *)c->cache)->reqs; *qp; qp = &(*qp)->next) {
		if ((*qp)->req == req) {
			struct req *q = *qp;
			*qp = q->next;
			free(q);
			return;
		}
	}
}

struct spf_memo **r_cache_spf(struct policy_ctx *c)
{
	return &cache_of(c)->spf;
}

void r_cache_wait(struct policy_ctx *c, int waiting)
{
	if (waiting || c->cache != NULL)
		cache_of(c)->waiting = waiting;
}

void r_cache_done(struct policy_ctx *c)
{
	struct rcache *rc = c->cache;

	if (rc == NULL || !rc->waiting)
		return;
	rc->waiting = 0;
	if (c->wake)
		c->wake(c->wake_arg);	/* last: the session may go away */
}

void policy_ctx_clear(struct policy_ctx *c)
{
	struct rcache *rc = c->cache;

	if (rc == NULL)
		return;
	while (rc->dns) {
		struct dns_ent *e = rc->dns;
		rc->dns = e->next;
		if (!e->done && e->id != 0)
			dns_cancel(e->id);
		if (e->done) {
			for (size_t i = 0; i < e->res.n; i++)
				free(e->res.items[i]);
			free(e->res.items);
		}
		free(e->name);
		free(e);
	}
	while (rc->kv) {
		struct kv *k = rc->kv;
		rc->kv = k->next;
		free(k->key);
		free(k->value);
		free(k);
	}
	while (rc->reqs) {
		struct req *q = rc->reqs;
		rc->reqs = q->next;
		policyd_cancel(q->req);
		free(q);
	}
	free(rc->spf);
	free(rc);
	c->cache = NULL;
}
