/*
 * cluster_pull — the pull at every (re)connection of cmd (see
 * cluster_int.h, docs/cluster.md "Outage, resync and start"): one SCAN
 * per kind of key, in the order of the stage table (the ban history
 * first, so that a ban the pull makes counts it; bans before failures,
 * so a failure of an address banned elsewhere is not counted), each page read with one command (MGET) or one per key
 * (HGETALL, LRANGE), pipelined. What is read is applied through the same paths
 * as the messages (ban.c's ban_remote_*), under this node's rules.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/util.h"
#include "warden/ban.h"
#include "warden/cluster/cluster_int.h"
#include "warden/cluster/resp.h"
#include "warden/store/store.h"
#include "warden/warden_int.h"

#define PULLED_KEEP_MS 10000	/* a pulled failure's live message comes within this */

/* A page of keys being read; jail and the rest split from each key. */
struct page {
	struct cluster *cl;
	int stage;
	size_t n;
	char **keys;
	size_t sent, key;	/* per-key stages: commands sent, replies had */
};

/* "mw:1:<kind>:<jail>:<rest>": the jail (a copy, free it) and rest. */
static char *split_key(const char *key, const char *kind, const char **rest)
{
	const char *jail = key + strlen(CL_PREFIX) + strlen(kind) + 1;
	const char *colon = strchr(jail, ':');
	if (strlen(key) <= strlen(CL_PREFIX) + strlen(kind) + 1 || colon == NULL)
		return NULL;
	*rest = colon + 1;
	return xstrndup(jail, (size_t)(colon - jail));
}

/* ---- bans ---- */

/* One value "<node> <start> <bantime> <count>" of ban key key. */
static void pull_ban(struct cluster *cl, const char *key, const struct resp_reply *v)
{
	char node[128];
	long start, bantime, count;
	const char *net;
	if (v->type != RESP_BULK ||
	    sscanf(v->str, "%127s %ld %ld %ld", node, &start, &bantime, &count) != 4)
		return;
	char *jail = split_key(key, "ban", &net);
	if (jail == NULL || strcmp(node, cl->node) == 0) {
		free(jail);
		return;
	}
	struct wjail *w = warden_find_jail(cl->wd, jail);
	if (w && ban_remote(w, net, start, bantime, count, node) == 1)
		cluster_applied(cl);
	cluster_saw(cl, node);
	free(jail);
}

/* ---- the fleet's ban history ---- */

void cluster_hist_apply(struct cluster *cl, struct wjail *w, const char *net,
    const struct resp_reply *r)
{
	for (size_t i = 0; r->type == RESP_ARRAY && i + 1 < r->nelem; i += 2) {
		long count, last;
		const struct resp_reply *f = &r->elem[i], *v = &r->elem[i + 1];
		if (f->type != RESP_BULK || v->type != RESP_BULK || strcmp(f->str, cl->node) == 0 ||
		    sscanf(v->str, "%ld %ld", &count, &last) != 2)
			continue;
		cluster_saw(cl, f->str);
		ban_remote_history(w, net, count, last);
	}
}

/* HGETALL's reply for history key key. */
static void pull_hist(struct cluster *cl, const char *key, const struct resp_reply *r)
{
	const char *net;
	char *jail = split_key(key, "hist", &net);
	struct wjail *w = jail ? warden_find_jail(cl->wd, jail) : NULL;
	if (w)
		cluster_hist_apply(cl, w, net, r);
	free(jail);
}

/* ---- failures ---- */

static uint64_t fingerprint(const char *node, const char *jail, const char *addr, long t)
{
	char s[600];
	uint64_t h = 1469598103934665603ull;
	snprintf(s, sizeof(s), "%s %s %s %ld", node, jail, addr, t);
	for (const char *p = s; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	return h ? h : 1;
}

static void pulled_forget(void *arg)
{
	struct cluster *cl = arg;
	if (cl->pulled)
		memset(cl->pulled, 0, CL_PULLED_SLOTS * sizeof(*cl->pulled));
	cl->npulled = 0;
}

/* Remember a failure counted by the pull (open addressing; full: not kept). */
static void pulled_add(struct cluster *cl, uint64_t h)
{
	if (cl->pulled == NULL)
		cl->pulled = xcalloc(CL_PULLED_SLOTS, sizeof(*cl->pulled));
	if (cl->npulled >= CL_PULLED_SLOTS / 2)
		return;
	for (size_t i = h % CL_PULLED_SLOTS;; i = (i + 1) % CL_PULLED_SLOTS)
		if (cl->pulled[i] == 0 || cl->pulled[i] == h) {
			cl->npulled += cl->pulled[i] == 0;
			cl->pulled[i] = h;
			break;
		}
	loop_timer_set(&cl->pulled_end, PULLED_KEEP_MS, pulled_forget, cl);
}

int cluster_pulled(struct cluster *cl, const char *node, const char *jail, const char *addr,
    long t)
{
	if (cl->npulled == 0)
		return 0;
	uint64_t h = fingerprint(node, jail, addr, t);
	for (size_t i = h % CL_PULLED_SLOTS; cl->pulled[i]; i = (i + 1) % CL_PULLED_SLOTS)
		if (cl->pulled[i] == h)
			return 1;
	return 0;
}

/* The failures of an address already in the store (counted here). */
struct known {
	const char *jail;
	size_t n, cap;
	struct { long t; char source[160]; } *f;
};

static int known_one(const struct store_failure *f, void *arg)
{
	struct known *k = arg;
	if (strcmp(f->jail, k->jail) != 0 || strncmp(f->source, "cluster:", 8) != 0)
		return 0;
	if (k->n == k->cap) {
		k->cap = k->cap ? 2 * k->cap : 8;
		k->f = xrealloc(k->f, k->cap * sizeof(*k->f));
	}
	k->f[k->n].t = f->time;
	str_copy(k->f[k->n++].source, sizeof(k->f[0].source), f->source);
	return 0;
}

static int known_has(const struct known *k, long t, const char *node)
{
	for (size_t i = 0; i < k->n; i++)
		if (k->f[i].t == t && strcmp(k->f[i].source + 8, node) == 0)
			return 1;
	return 0;
}

/* LRANGE's reply for failure key key: values "<time> <node>" (time on
 * Redis's clock), oldest first; each one of another node, within
 * findtime and not counted here yet (not in the store, which keeps the
 * messages received and survives a restart) is counted as its `fail`
 * message would be. */
static void pull_fails(struct cluster *cl, const char *key, const struct resp_reply *r)
{
	const char *addr;
	char *jail = split_key(key, "fail", &addr);
	struct wjail *w = jail ? warden_find_jail(cl->wd, jail) : NULL;
	long now = (long)clock_wall();
	struct known k = { jail, 0, 0, NULL };
	if (w && r->type == RESP_ARRAY && r->nelem &&
	    store_failure_list(cl->wd->st, addr, known_one, &k) < 0)
		log_warn("store: %s", store_error(cl->wd->st));
	for (size_t i = 0; w && r->type == RESP_ARRAY && i < r->nelem; i++) {
		char node[128];
		long t;
		const struct resp_reply *v = &r->elem[i];
		if (v->type != RESP_BULK || sscanf(v->str, "%ld %127s", &t, node) != 2 ||
		    strcmp(node, cl->node) == 0)
			continue;
		uint64_t h = fingerprint(node, jail, addr, t);	/* as its message says it */
		t -= cl->offset;	/* from Redis's clock */
		if (t > now + CL_MAX_SKEW)
			t = now;
		cluster_saw(cl, node);
		if (t <= now - w->j->findtime || known_has(&k, t, node))
			continue;
		pulled_add(cl, h);
		ban_remote_failure(w, addr, t, node);
	}
	free(k.f);
	free(jail);
}

/* ---- the stages ---- */

typedef void pull_fn(struct cluster *cl, const char *key, const struct resp_reply *v);

static const struct stage {
	const char *match;	/* SCAN MATCH */
	const char *cmd;	/* MGET (a page at once) or a command per key */
	const char *args[2];	/* a per-key command's arguments after the key */
	pull_fn *fn;		/* one key's value */
} stages[] = {
	{ CL_PREFIX "hist:*", "HGETALL", { NULL, NULL }, pull_hist },
	{ CL_PREFIX "ban:*", "MGET", { NULL, NULL }, pull_ban },
	{ CL_PREFIX "fail:*", "LRANGE", { "0", "-1" }, pull_fails },
};
#define NSTAGES (sizeof(stages) / sizeof(*stages))

static void scan_from(struct cluster *cl, int stage, const char *cursor);

static void page_free(struct page *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->keys[i]);
	free(p->keys);
	free(p);
}

/* MGET's reply: each value with its key. */
static void on_mget(struct cconn *c, const struct resp_reply *r, void *arg)
{
	struct page *p = arg;
	for (size_t i = 0; r && r->type == RESP_ARRAY && i < p->n && i < r->nelem; i++)
		stages[p->stage].fn(p->cl, p->keys[i], &r->elem[i]);
	page_free(p);
}

/* A per-key command's reply (the replies come in order); the page is
 * freed with the last one (or at a lost connection, r NULL each). */
static void on_key(struct cconn *c, const struct resp_reply *r, void *arg)
{
	struct page *p = arg;
	if (r)
		stages[p->stage].fn(p->cl, p->keys[p->key], r);
	if (++p->key == p->sent)
		page_free(p);
}

/* Read the keys of a SCAN page with the stage's command. */
static void read_page(struct cluster *cl, int stage, const struct resp_reply *ks)
{
	const struct stage *s = &stages[stage];
	struct page *p = xcalloc(1, sizeof(*p));
	p->cl = cl;
	p->stage = stage;
	p->keys = xcalloc(ks->nelem, sizeof(*p->keys));
	for (size_t i = 0; i < ks->nelem; i++)
		if (ks->elem[i].type == RESP_BULK)
			p->keys[p->n++] = xstrdup(ks->elem[i].str);
	if (p->n == 0) {
		page_free(p);
		return;
	}
	if (strcmp(s->cmd, "MGET") == 0) {
		const char **argv = xcalloc(p->n + 1, sizeof(*argv));
		argv[0] = "MGET";
		for (size_t i = 0; i < p->n; i++)
			argv[1 + i] = p->keys[i];
		if (cconn_send(&cl->cmd, (int)p->n + 1, argv, on_mget, p) < 0)
			on_mget(&cl->cmd, NULL, p);
		free(argv);
		return;
	}
	for (size_t i = 0; i < p->n; i++) {	/* replies come later, never in the loop */
		const char *argv[4] = { s->cmd, p->keys[i], s->args[0], s->args[1] };
		if (cconn_send(&cl->cmd, s->args[1] ? 4 : s->args[0] ? 3 : 2, argv, on_key, p) < 0)
			break;
		p->sent++;
	}
	if (p->sent == 0)
		page_free(p);
}

/* SCAN's reply: [cursor, [keys]]: read them, go on until cursor 0,
 * then the next stage; after the last, the pull is done. */
static void on_scan(struct cconn *c, const struct resp_reply *r, void *arg)
{
	struct cluster *cl = c->arg;
	int stage = (int)(intptr_t)arg;
	if (r == NULL || r->type != RESP_ARRAY || r->nelem != 2 || r->elem[0].type != RESP_BULK ||
	    r->elem[1].type != RESP_ARRAY)
		return;
	if (r->elem[1].nelem)
		read_page(cl, stage, &r->elem[1]);
	if (strcmp(r->elem[0].str, "0") != 0) {
		scan_from(cl, stage, r->elem[0].str);
		return;
	}
	if ((size_t)stage + 1 < NSTAGES) {
		scan_from(cl, stage + 1, "0");
		return;
	}
	cl->last_sync = (long)clock_wall();
	metrics_set(M_CLUSTER_SYNC, NULL, cl->last_sync);
	cluster_ready_now(cl);
}

static void scan_from(struct cluster *cl, int stage, const char *cursor)
{
	const char *argv[6] = { "SCAN", cursor, "MATCH", stages[stage].match, "COUNT", "1000" };
	cconn_send(&cl->cmd, 6, argv, on_scan, (void *)(intptr_t)stage);
}

void cluster_ready_now(struct cluster *cl)
{
	cluster_ready_fn *fn = cl->ready;
	cl->ready = NULL;
	loop_timer_clear(&cl->start_wait);
	if (fn)
		fn(cl->wd);
}

/* The second pull, CL_REPULL_MS after a connection: the keys others
 * pushed when they came back at the same time as this node. */
static void repull(void *arg)
{
	struct cluster *cl = arg;
	if (cl->cmd.up)
		scan_from(cl, 0, "0");
}

void cluster_pull(struct cluster *cl)
{
	scan_from(cl, 0, "0");
	loop_timer_set(&cl->repull, CL_REPULL_MS, repull, cl);
}
