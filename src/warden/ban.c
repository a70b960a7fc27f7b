/*
 * ban — the ban path (see ban.h): from a counted failure to a ban in
 * force, its end, and its restore. The order of a ban is fixed here:
 * the store, the fail2ban log line, the engine's bans file (the smtp
 * engine refuses the client at its next connection without waiting for
 * the firewall), then the firewall.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/util.h"
#include "mail/banfile.h"
#include "warden/ban.h"
#include "warden/cluster/cluster.h"
#include "warden/f2blog.h"
#include "warden/source/follow.h"
#include "warden/firewall/fw_proto.h"
#include "warden/jailrt.h"
#include "warden/store/store.h"
#include "warden/warden_int.h"

static struct loop_timer quiet;	/* commit_idle()'s wait for a quiet moment */
static int from_cluster;	/* applying another node's message: not published again */

void ban_commit(void *arg)
{
	struct warden *wd = arg;
	/* the followed files' positions in the same transaction as the
	 * failures read from them: after a crash, a line is either counted
	 * and past the saved position, or neither (never counted twice) */
	for (size_t i = 0; wd->in_txn && i < wd->njails; i++) {
		if (wd->jails[i].fol)
			follow_save(wd->jails[i].fol);
		if (wd->jails[i].journal)
			journal_save(wd->jails[i].journal);
	}
	if (wd->in_txn && store_commit(wd->st) < 0)
		log_warn("store: %s", store_error(wd->st));
	wd->in_txn = 0;
	loop_timer_clear(&quiet);
}

/*
 * While a followed file still has lines waiting (a flood), the turn's
 * transaction stays open for up to BAN_TXN_MAX_MS: each commit rewrites
 * every index page the turn touched, so 200 failures a commit cost three
 * times what 100,000 do. A crash loses no line: the positions roll back
 * with the failures. The failures are counted at once, their rows queued
 * in the store. A few are committed as soon as the file is read (as
 * before: counted means stored by the next loop turn). A flood's
 * (BAN_FLUSH_ROWS or more) wait until no failure came for BAN_QUIET_MS
 * (the writer may be slower than us: between its writes), then go
 * BAN_FLUSH_ROWS a loop turn (a few ms: `status` and the engine's events
 * are not held up), then the commit.
 */
#define BAN_TXN_MAX_MS 3000
#define BAN_QUIET_MS 100
#define BAN_FLUSH_ROWS 2048
static uint64_t txn_began;	/* clock_mono_ms() at store_begin */
static uint64_t last_fail;	/* ... at the last failure queued */
static size_t txn_fails;	/* failures queued in this transaction */
static struct loop_timer quiet = { 0, (size_t)-1, NULL, NULL };	/* (declared above) */

/* Does a followed file of wd have more to read (its turn's budget ran out)? */
static int reading(const struct warden *wd)
{
	for (size_t i = 0; i < wd->njails; i++)
		if (wd->jails[i].fol && follow_busy(wd->jails[i].fol))
			return 1;
	return 0;
}

/* The open transaction's hook (at idle, or its quiet timer). */
static void commit_idle(void *arg)
{
	struct warden *wd = arg;
	uint64_t now = clock_mono_ms();
	if (!wd->in_txn)
		return;
	if (now - txn_began < BAN_TXN_MAX_MS) {
		if (reading(wd)) {
			loop_at_idle(commit_idle, wd);	/* after the follower's next turn */
			return;
		}
		if (txn_fails >= BAN_FLUSH_ROWS) {	/* a flood: else commit now */
			if (now - last_fail < BAN_QUIET_MS) {
				loop_timer_set(&quiet, BAN_QUIET_MS - (now - last_fail), commit_idle,
				    wd);
				return;
			}
			if (store_failure_flush(wd->st, BAN_FLUSH_ROWS) > 0) {
				loop_at_idle(commit_idle, wd);
				return;
			}
		}
	}
	ban_commit(wd);
}

static void txn_need(struct warden *wd)
{
	if (wd->in_txn)
		return;
	if (store_begin(wd->st) == 0) {
		wd->in_txn = 1;
		txn_began = clock_mono_ms();
		txn_fails = 0;
		loop_at_idle(commit_idle, wd);
	}
}

/* The bans file's record of a ban in force of w. */
static void entry_of(const struct wjail *w, const struct jailrt_ban *b, struct banfile_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->net = b->net;
	e->expires = b->bantime == JAIL_FOREVER ? 0 : b->start + b->bantime;
	str_copy(e->jail, sizeof(e->jail), w->j->name);
}

static size_t live_bans(const struct warden *wd)
{
	size_t n = 0;
	for (size_t i = 0; i < wd->njails; i++)
		n += wd->jails[i].rt->nbans;
	return n;
}

void ban_publish(struct warden *wd)
{
	size_t n = live_bans(wd), k = 0;
	struct banfile_entry *e = xcalloc(n ? n : 1, sizeof(*e));
	for (size_t i = 0; i < wd->njails; i++) {
		struct jailrt *rt = wd->jails[i].rt;
		for (size_t b = 0; b < rt->nbans; b++)
			entry_of(&wd->jails[i], &rt->bans[b], &e[k++]);
	}
	if (wd->bans && banfile_writer_reset(wd->bans, e, n) < 0)
		log_warn("cannot write the bans file: %s", strerror(errno));
	free(e);
}

/* After one appended record (rc its result): compact the journal when
 * the append failed or it holds more than twice the live bans. */
static void publish_after(struct warden *wd, int rc)
{
	if (wd->bans && (rc < 0 || banfile_writer_full(wd->bans, live_bans(wd))))
		ban_publish(wd);
}

/* Tell the engine about ban b of w: new, or a new expiry. */
static void publish_ban(struct wjail *w, const struct jailrt_ban *b)
{
	struct banfile_entry e;
	entry_of(w, b, &e);
	metrics_set(M_BANS_ACTIVE, w->j->name, (int64_t)w->rt->nbans);
	publish_after(w->wd, w->wd->bans ? banfile_writer_add(w->wd->bans, &e) : 0);
}

/* Tell the engine that w's ban of net ended. */
static void publish_unban(struct wjail *w, const struct net *net)
{
	struct warden *wd = w->wd;
	metrics_set(M_BANS_ACTIVE, w->j->name, (int64_t)w->rt->nbans);
	publish_after(wd, wd->bans ? banfile_writer_del(wd->bans, net, w->j->name) : 0);
}

/* A ban an aggregate takes over (jailrt_ban_absorb_each). */
static void absorbed(const struct jailrt_ban *b, void *arg)
{
	publish_unban(arg, &b->net);
}

static void act_all(struct wjail *w, int ban, const struct action_ban *b, size_t n)
{
	if (w->j->nactions)
		fwc_act(w->j->name, ban, b, n);
}

/* Ban net in w now after `failures` failures. */
static void do_ban(struct wjail *w, const struct net *net, long failures, const char *user,
    const char *matched, const char *addr)
{
	struct warden *wd = w->wd;
	long now = (long)clock_wall(), count = 0, last = 0;
	char key[NET_STRLEN];
	net_format(net, net->plen != (net->family == AF_INET ? 32 : 128), key, sizeof(key));
	if (jailrt_is_ignored(w->rt, net))
		return;
	if (w->j->dryrun) {
		f2blog_log("NOTICE", "fail2ban.actions", "[%s] Would ban %s (dry-run)", w->j->name, key);
		return;
	}
	if (store_ban_count(wd->st, w->j->overalljails ? NULL : w->j->name, key, &count,
	    &last) < 0)
		log_warn("store: %s", store_error(wd->st));
	long bt = bantime_next(w->j, count, (double)random() / ((double)RAND_MAX + 1));
	if (net->plen < (net->family == AF_INET ? w->j->prefix4 : w->j->prefix6)) {
		/* a network wider than the jail's prefix (maxbanned's aggregate,
		 * a manual ban): it takes over the bans inside it and lasts at
		 * least as long as each, so none of them is lifted early */
		long end = jailrt_ban_absorb_each(w->rt, net, absorbed, w);
		if (end == JAIL_FOREVER)
			bt = JAIL_FOREVER;
		else if (bt != JAIL_FOREVER && end - now > bt)
			bt = end - now;
	}
	struct jailrt_ban *b = jailrt_ban_add(w->rt, net, now, bt, count + 1, 0);
	struct store_ban sb = { w->j->name, key, now, bt, count + 1 };
	txn_need(wd);
	if (store_ban_add(wd->st, &sb) < 0)
		log_warn("store: %s", store_error(wd->st));
	f2blog_ban(w->j->name, "Ban", net);	/* recidive's Ban <HOST>: an address */
	metrics_inc(M_BANS_TOTAL, w->j->name);
	/* the smtp engine's accept check first: it does not wait for the
	 * firewall (a change to a large nft set can take most of a second) */
	publish_ban(w, b);
	cluster_ban(wd, w->j->name, b);
	struct action_ban ab = { *net, jailrt_ban_left(b, now), bt, failures, user, matched, addr };
	act_all(w, 1, &ab, 1);
}

/* Unban the ban at index i of w; forget it in the store if forget. */
static void unban_at(struct wjail *w, size_t i, int forget)
{
	struct jailrt_ban b = w->rt->bans[i];
	struct action_ban ab = { b.net, 0, b.bantime, 0, NULL, NULL, NULL };
	jailrt_ban_del(w->rt, i);
	publish_unban(w, &b.net);
	act_all(w, 0, &ab, 1);
	if (forget && store_ban_remove(w->wd->st, w->j->name, b.key, NULL) < 0)
		log_warn("store: %s", store_error(w->wd->st));
	if (forget && !from_cluster)
		cluster_unban(w->wd, w->j->name, b.key);
	f2blog_ban(w->j->name, "Unban", &b.net);
}

/* fail2ban's word for why addr is ignored (filter.py's _inIgnoreIPList
 * order): "ignoreself rule", "ip" (ignoreip), "dns" (an ignoreip name). */
static const char *ignore_source(const struct wjail *w, const char *addr)
{
	struct net a;
	char why[64];

	if (net_parse_net(addr, &a, why, sizeof(why)) < 0)
		return "ip";
	for (size_t i = 0; w->j->ignoreself && i < w->wd->nself; i++)
		if (net_contains(&w->wd->selfs[i], &a))
			return "ignoreself rule";
	for (size_t i = 0; i < w->j->nignore; i++)
		if (net_contains(&w->j->ignore[i], &a) || net_contains(&a, &w->j->ignore[i]))
			return "ip";
	return jailrt_is_ignored(w->rt, &a) ? "dns" : "ip";
}

void ban_failure(struct wjail *w, const char *addr, const char *user, int auth, long t,
    const char *source, const char *text)
{
	struct net net, a;
	long count = 0, now = (long)clock_wall();
	char err[256];
	struct jailrt_ban *old;
	enum jailrt_result r = jailrt_failure(w->rt, addr, user, auth, t, now, &net, &count,
	    err, sizeof(err));
	if (r == JRT_BANNED && net_parse(addr, &a) == 0 &&
	    (old = jailrt_ban_find(w->rt, &a)) != NULL && jailrt_ban_ended(old, now)) {
		/* the ban ended (the kernel let it go) before the one-second
		 * tick lifted it here: lift it now, so this failure counts */
		unban_at(w, (size_t)(old - w->rt->bans), 0);
		r = jailrt_failure(w->rt, addr, user, auth, t, now, &net, &count, err, sizeof(err));
	}
	if (r == JRT_ERROR) {
		f2blog_log("WARNING", "fail2ban.filter", "[%s] %s", w->j->name, err);
		return;
	}
	if (r == JRT_IGNORED) {
		f2blog_log("INFO", "fail2ban.filter", "[%s] Ignore %s by %s", w->j->name, addr,
		    ignore_source(w, addr));
		return;
	}
	if (r != JRT_COUNTED && r != JRT_BAN && r != JRT_FULL)
		return;
	int full = r == JRT_FULL;
	if (err[0] && !(full ? w->refuse_warned : w->evict_warned)) {
		/* a cap's first warning this minute; cap_summary() counts the rest */
		f2blog_log("WARNING", "fail2ban.filter", "[%s] %s", w->j->name, err);
		*(full ? &w->refuse_warned : &w->evict_warned) = 1;
		*(full ? &w->refused_told : &w->evicted_told) += 1;
	}
	static long when_t = -1;	/* the second `when` holds (log lines come in order) */
	static char when[32];
	if (t != when_t) {
		struct tm tm;
		time_t tt = t;
		localtime_r(&tt, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		when_t = t;
	}
	f2blog_log("INFO", "fail2ban.filter", "[%s] Found %s - %s", w->j->name, addr, when);
	metrics_inc(M_FAILURES, w->j->name);
	struct store_failure f = { t, w->j->name, addr, source, text };
	txn_need(w->wd);
	if (store_failure_add(w->wd->st, &f) < 0)
		log_warn("store: %s", store_error(w->wd->st));
	last_fail = clock_mono_ms();
	txn_fails++;
	if (!from_cluster)
		cluster_failure(w->wd, w->j->name, addr, t);
	if (r == JRT_BAN)
		do_ban(w, &net, count, user, text, addr);
}

void ban_auth_ok(struct wjail *w, const char *addr, const char *user)
{
	struct warden *wd = w->wd;
	if (jailrt_auth_ok(w->rt, addr, user, (long)clock_wall(),
	    config_get_time(wd->cfg, "warden_login_allow_time")) &&
	    store_failure_clear(wd->st, w->j->name, addr) < 0)
		log_warn("store: %s", store_error(wd->st));
	if (!from_cluster)
		cluster_auth_ok(wd, w->j->name, addr, user);
}

/* ---- another node's messages (cluster.c): input, under this node's rules ---- */

void ban_remote_failure(struct wjail *w, const char *addr, long t, const char *node)
{
	char source[160];
	snprintf(source, sizeof(source), "cluster:%s", node);
	log_info("cluster: failure of %s in %s from node %s", addr, w->j->name, node);
	from_cluster = 1;
	ban_failure(w, addr, NULL, 0, t, source, "failure seen by another node");
	from_cluster = 0;
}

void ban_remote_ok(struct wjail *w, const char *addr, const char *login)
{
	from_cluster = 1;
	ban_auth_ok(w, addr, login);
	from_cluster = 0;
}

/* Ban b of w (in force) now lasts bantime from its start with count
 * (a longer history than it was made from): the store, the engine's
 * bans file, the firewall (a re-ban: the element's timeout is
 * lengthened), and the cluster if pub. 1 if it changed. */
static int lengthen(struct wjail *w, struct jailrt_ban *b, long bantime, long count, int pub)
{
	long now = (long)clock_wall();
	if (b->bantime == JAIL_FOREVER ||
	    (bantime != JAIL_FOREVER && b->start + bantime <= b->start + b->bantime))
		return 0;
	struct net net = b->net;	/* jailrt_ban_add clears the entry it replaces */
	b = jailrt_ban_add(w->rt, &net, b->start, bantime, count, 1);
	struct store_ban sb = { w->j->name, b->key, b->start, bantime, count };
	txn_need(w->wd);
	if (store_ban_add(w->wd->st, &sb) < 0)
		log_warn("store: %s", store_error(w->wd->st));
	log_info("cluster: ban of %s in %s lengthened to %ld s (ban %ld in the fleet's history)",
	    b->key, w->j->name, bantime, count);
	publish_ban(w, b);
	if (pub)
		cluster_ban(w->wd, w->j->name, b);
	struct action_ban ab = { b->net, jailrt_ban_left(b, now), bantime, 0, NULL,
	    "cluster ban", NULL };
	act_all(w, 1, &ab, 1);
	return 1;
}

int ban_remote_history(struct wjail *w, const char *net, long count, long last)
{
	long have = 0, at = 0;
	int kept = 0;
	char e[64];
	struct net a;
	struct jailrt_ban *b;
	if (count <= 0 || store_ban_count(w->wd->st, w->j->name, net, &have, &at) < 0)
		return 0;
	if (count > have) {
		struct store_ban sb = { w->j->name, net, last, 0, count };	/* ended: history only */
		txn_need(w->wd);
		if (store_ban_add(w->wd->st, &sb) < 0)
			log_warn("store: %s", store_error(w->wd->st));
		kept = 1;
	}
	if (w->j->increment && net_parse_net(net, &a, e, sizeof(e)) == 0 &&
	    (b = jailrt_ban_find(w->rt, &a)) != NULL && strcmp(b->key, net) == 0 &&
	    b->start > last && b->count <= count)	/* made without that earlier ban */
		lengthen(w, b, bantime_next(w->j, count, (double)random() / ((double)RAND_MAX + 1)),
		    count + 1, 1);
	return kept;
}

int ban_remote(struct wjail *w, const char *ip, long start, long bantime, long count,
    const char *node)
{
	struct warden *wd = w->wd;
	struct net net, a;
	struct jailrt_ban *old;
	char err[256];
	long now = (long)clock_wall();
	if (bantime != JAIL_FOREVER && (bantime <= 0 || start + bantime <= now))
		return 0;
	if (net_parse_net(ip, &a, err, sizeof(err)) == 0 &&
	    (old = jailrt_ban_find(w->rt, &a)) != NULL && strcmp(old->key, ip) == 0 &&
	    old->start == start)	/* the same ban, lengthened */
		return lengthen(w, old, bantime, count, 0);
	int rc = ban_ip_check(w, ip, &net, err, sizeof(err));
	if (rc < 0)
		log_info("cluster: ban of %s in %s from node %s not applied: %s", ip, w->j->name,
		    node, err);
	if (rc != 0)
		return 0;
	if (w->j->dryrun) {
		f2blog_log("NOTICE", "fail2ban.actions", "[%s] Would ban %s (dry-run; from node %s)",
		    w->j->name, ip, node);
		return 0;
	}
	if (w->j->maxbanned > 0 && w->rt->nbans >= (size_t)w->j->maxbanned) {
		w->rt->refused++;	/* cap_summary() says it, as for a local ban */
		return 0;
	}
	struct jailrt_ban *b = jailrt_ban_add(w->rt, &net, start, bantime, count, 0);
	struct store_ban sb = { w->j->name, b->key, start, bantime, count };
	txn_need(wd);
	if (store_ban_add(wd->st, &sb) < 0)
		log_warn("store: %s", store_error(wd->st));
	f2blog_ban(w->j->name, "Ban", &net);
	log_info("cluster: ban of %s in %s from node %s", b->key, w->j->name, node);
	publish_ban(w, b);
	struct action_ban ab = { net, jailrt_ban_left(b, now), bantime, 0, NULL, "cluster ban",
	    NULL };
	act_all(w, 1, &ab, 1);
	return 1;
}

void ban_remote_unban(struct warden *wd, const char *jail, const char *ip, const char *node)
{
	char err[256];
	size_t n = 0;
	struct wjail *w = strcmp(jail, "*") ? warden_find_jail(wd, jail) : NULL;
	from_cluster = 1;
	int rc = w ? ban_unban_jail_ip(w, ip, &n, err, sizeof(err)) :
	    strcmp(jail, "*") == 0 ? ban_unban_ip(wd, ip, &n, err, sizeof(err)) : 0;
	from_cluster = 0;
	if (rc == 0 && n)
		log_info("cluster: unban of %s in %s from node %s", ip, jail, node);
}

int ban_ip_check(struct wjail *w, const char *ip, struct net *out, char *err, size_t errlen)
{
	struct net a, net;
	char why[128];
	if (net_parse_net(ip, &a, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "not an IP address or network: %s", ip);
		return -1;
	}
	if (a.plen == 0) {
		snprintf(err, errlen, "refusing to ban %s: it is every %s address", ip,
		    a.family == AF_INET ? "IPv4" : "IPv6");
		return -1;
	}
	if (a.plen == (a.family == AF_INET ? 32 : 128)) {	/* an address: the jail's prefix */
		int rc = banprefix_for(&a, w->j->prefix4, w->j->prefix6, w->rt->ignore,
		    w->rt->nignore, &net, err, errlen);
		if (rc == 1)
			snprintf(err, errlen, "%s is in ignoreip of jail %s", ip, w->j->name);
		if (rc != 0)
			return -1;
	} else {		/* a network, as given: never over an ignored address */
		net = a;
		if (jailrt_is_ignored(w->rt, &net)) {
			snprintf(err, errlen, "%s overlaps ignoreip of jail %s", ip, w->j->name);
			return -1;
		}
	}
	if (net.plen == 0) {
		snprintf(err, errlen, "refusing to ban %s: the ban would cover every address", ip);
		return -1;
	}
	if (jailrt_ban_find(w->rt, &a)) {
		snprintf(err, errlen, "%s is already banned in %s", ip, w->j->name);
		return 1;
	}
	*out = net;
	return 0;
}

int ban_ip(struct wjail *w, const char *ip, char *err, size_t errlen)
{
	struct net net;
	if (ban_ip_check(w, ip, &net, err, errlen) != 0)
		return -1;
	do_ban(w, &net, 0, NULL, "manual ban", NULL);
	return 0;
}

int ban_unban_jail_ip(struct wjail *w, const char *ip, size_t *n, char *err, size_t errlen)
{
	struct net a;
	*n = 0;
	if (ip && net_parse_net(ip, &a, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < w->rt->nbans;) {
		struct jailrt_ban *b = &w->rt->bans[i];
		if (ip == NULL || net_contains(&b->net, &a) || net_contains(&a, &b->net)) {
			unban_at(w, i, 1);
			(*n)++;
		} else {
			i++;
		}
	}
	return 0;
}

int ban_unban_ip(struct warden *wd, const char *ip, size_t *n, char *err, size_t errlen)
{
	*n = 0;
	for (size_t j = 0; j < wd->njails; j++) {
		size_t k;
		if (ban_unban_jail_ip(&wd->jails[j], ip, &k, err, errlen) < 0)
			return -1;
		*n += k;
	}
	return 0;
}

struct restore {
	struct wjail *w;
	struct action_ban *b;
	size_t n;
};

static int restore_one(const struct store_ban *sb, void *arg)
{
	struct restore *r = arg;
	struct net net;
	char err[128];
	long now = (long)clock_wall();
	if (net_parse_net(sb->prefix, &net, err, sizeof(err)) < 0 || net.plen == 0)
		return 0;
	if (jailrt_is_ignored(r->w->rt, &net)) {
		/* fail2ban's restoreCurrentBans: inIgnoreIPList(log_ignore=True) */
		f2blog_log("INFO", "fail2ban.filter", "[%s] Ignore %s by %s", r->w->j->name,
		    sb->prefix, ignore_source(r->w, sb->prefix));
		return 0;
	}
	struct jailrt_ban *b = jailrt_ban_add(r->w->rt, &net, sb->start, sb->bantime, sb->count, 1);
	if ((r->n & (r->n - 1)) == 0)	/* 0, 1, 2, 4 ...: double */
		r->b = xrealloc(r->b, (r->n ? 2 * r->n : 1) * sizeof(*r->b));
	struct action_ban ab = { net, jailrt_ban_left(b, now), sb->bantime, 0, NULL, NULL, NULL };
	r->b[r->n++] = ab;
	f2blog_log("NOTICE", "fail2ban.actions", "[%s] Restore Ban %s", r->w->j->name, sb->prefix);
	return 0;
}

static int replay_one(const struct store_failure *f, void *arg)
{
	struct wjail *w = arg;
	jailrt_replay(w->rt, f->address, f->time, (long)clock_wall());
	return 0;
}

void ban_restore(struct wjail *w)
{
	struct store *st = w->wd->st;
	struct jail *j = w->j;
	struct restore r = { w, NULL, 0 };
	if (store_ban_list(st, j->name, (long)clock_wall(), restore_one, &r) < 0)
		log_warn("store: %s", store_error(st));
	if (r.n)
		act_all(w, 1, r.b, r.n);
	metrics_set(M_BANS_ACTIVE, j->name, (int64_t)w->rt->nbans);
	free(r.b);
	/* failure counters too, after the bans (failures that led to a ban
	 * in force count for nothing): replayed from the store */
	if (store_failure_since(st, j->name, (long)clock_wall() - j->findtime + 1, replay_one, w) < 0)
		log_warn("store: %s", store_error(st));
	/* fail2ban logs nothing of the kind (its counters do not survive a
	 * restart): a line in the mail log only, never a Found line */
	if (w->rt->nreplayed)
		log_info("warden: jail %s: %zu failure(s) within findtime restored from the store",
		    j->name, w->rt->nreplayed);
}

/* Once a minute: what the caps did since their first warning. */
static void cap_summary(struct wjail *w)
{
	if (w->rt->evicted > w->evicted_told)
		f2blog_log("WARNING", "fail2ban.filter", "[%s] maxfailed (%ld) reached: the "
		    "failures of %lu more least recently failed prefixes forgotten", w->j->name,
		    w->j->maxfailed, w->rt->evicted - w->evicted_told);
	if (w->rt->refused > w->refused_told)
		f2blog_log("WARNING", "fail2ban.filter", "[%s] maxbanned (%ld) reached: %lu more "
		    "bans refused (no ban in force is lifted)", w->j->name, w->j->maxbanned,
		    w->rt->refused - w->refused_told);
	w->evicted_told = w->rt->evicted;
	w->refused_told = w->rt->refused;
	w->evict_warned = w->refuse_warned = 0;
}

void ban_tick(struct warden *wd)
{
	long now = (long)clock_wall();
	for (size_t j = 0; j < wd->njails; j++) {
		struct wjail *w = &wd->jails[j];
		for (size_t i = 0; i < w->rt->nbans;) {
			if (jailrt_ban_ended(&w->rt->bans[i], now)) {
				unban_at(w, i, 0);
			} else {
				i++;
			}
		}
		if (now % 60 == 0) {
			jailrt_expire_failures(w->rt, now);
			cap_summary(w);
		}
	}
	if (now - wd->last_purge >= 3600) {
		long n = 0;
		wd->last_purge = now;
		if (store_purge(wd->st, now, wd->dbpurgeage, &n) < 0)
			log_warn("store purge: %s", store_error(wd->st));
	}
}
