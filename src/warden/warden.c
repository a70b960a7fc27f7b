/*
 * warden — the ban engine's process. Started by the master when the
 * config has an enabled jail; it opens what needs root (warden_logtarget,
 * the queue_directory/warden directory) and then runs as warden_owner
 * with no capability (privsep.c). It is not network-facing: its inputs
 * are the smtp engine's MSG_WARDEN_EVENT datagrams on the event
 * socketpair the master hands down (checked with msg_end()), the log
 * lines of followed files, and the root-only control socket the master
 * bound. It counts failures (jailrt.c), keeps state in the store (in
 * data_directory), writes warden/bans for the engine (banfile.c), asks
 * the firewall process for every firewall change (fw_proto.h) and logs
 * in fail2ban's format to warden_logtarget.
 */
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "common/priv.h"
#include "common/sandbox.h"
#include "common/loop.h"
#include "common/msg.h"
#include "common/util.h"
#include "warden/actions.h"
#include "warden/banfile.h"
#include "warden/control.h"
#include "warden/filter.h"
#include "warden/follow.h"
#include "warden/fw_proto.h"
#include "warden/jailrt.h"
#include "warden/privsep.h"
#include "warden/store.h"
#include "warden/warden.h"

struct warden warden;

static struct config *cfg;
static const char *cfg_path;
static struct jailconf jc;
static int ev_fd = -1;		/* the event socketpair's read end (master) */
static int bans_fd = -1;	/* queue_directory/warden, for the bans file */
static int log_fd_f = -1;	/* warden_logtarget file, -1 = maillog */
static int in_txn;		/* failures batched until the loop is idle */
static struct loop_timer tick;
static long last_purge;
static struct net selfs[64];
static size_t nself;

long warden_now(void)
{
	return (long)time(NULL);
}

/* One line in fail2ban's layout: "%(asctime)s %(name)-24s[%(process)d]:
 * %(levelname)-7s %(message)s", asctime with ",mmm". */
void warden_log(const char *level, const char *logger, const char *fmt, ...)
{
	char msg[2048], line[2400], stamp[32];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (log_fd_f < 0) {
		log_info("%s %s", level, msg);
		return;
	}
	struct timeval tv;
	struct tm tm;
	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
	int n = snprintf(line, sizeof(line), "%s,%03d %-24s[%d]: %-7s %s\n", stamp,
	    (int)(tv.tv_usec / 1000), logger, (int)getpid(), level, msg);
	if (n > 0 && write(log_fd_f, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1) < 0)
		log_warn("warden_logtarget: %s", strerror(errno));
}

static void txn_commit(void *arg)
{
	/* the followed files' positions in the same transaction as the
	 * failures read from them: after a crash, a line is either counted
	 * and past the saved position, or neither (never counted twice) */
	for (size_t i = 0; in_txn && i < warden.njails; i++) {
		if (warden.jails[i].fol)
			follow_save(warden.jails[i].fol);
		if (warden.jails[i].journal)
			journal_save(warden.jails[i].journal);
	}
	if (in_txn && store_commit(warden.st) < 0)
		log_warn("store: %s", store_error(warden.st));
	in_txn = 0;
}

static void txn_need(void)
{
	if (in_txn)
		return;
	if (store_begin(warden.st) == 0) {
		in_txn = 1;
		loop_at_idle(txn_commit, NULL);
	}
}

/* Write warden/bans from every jail's bans in force. */
static void write_bans(void)
{
	size_t n = 0, k = 0;
	for (size_t i = 0; i < warden.njails; i++)
		n += warden.jails[i].rt->nbans;
	struct banfile_entry *e = xcalloc(n ? n : 1, sizeof(*e));
	for (size_t i = 0; i < warden.njails; i++) {
		struct jailrt *rt = warden.jails[i].rt;
		for (size_t b = 0; b < rt->nbans; b++, k++) {
			e[k].net = rt->bans[b].net;
			e[k].expires = rt->bans[b].bantime == JAIL_FOREVER ? 0 :
			    rt->bans[b].start + rt->bans[b].bantime;
			str_copy(e[k].jail, sizeof(e[k].jail), warden.jails[i].j->name);
		}
	}
	if (bans_fd >= 0 && banfile_write(bans_fd, "bans", e, n) < 0)
		log_warn("cannot write the bans file: %s", strerror(errno));
	free(e);
}

static void act_all(struct wjail *w, int ban, const struct action_ban *b, size_t n)
{
	if (w->j->nactions)
		fwc_act(w->j->name, ban, b, n);
}

/* Ban net in w now after `failures` failures. */
static void do_ban(struct wjail *w, const struct net *net, long failures, const char *user,
    const char *matched)
{
	long now = warden_now(), count = 0, last = 0;
	char key[NET_STRLEN];
	net_format(net, net->plen != (net->family == AF_INET ? 32 : 128), key, sizeof(key));
	if (jailrt_is_ignored(w->rt, net))
		return;
	if (w->j->dryrun) {
		warden_log("NOTICE", "fail2ban.actions", "[%s] Would ban %s (dry-run)", w->j->name, key);
		return;
	}
	if (store_ban_count(warden.st, w->j->overalljails ? NULL : w->j->name, key, &count,
	    &last) < 0)
		log_warn("store: %s", store_error(warden.st));
	long bt = bantime_next(w->j, count, (double)random() / ((double)RAND_MAX + 1));
	if (net->plen < (net->family == AF_INET ? w->j->prefix4 : w->j->prefix6)) {
		/* a network wider than the jail's prefix (maxbanned's aggregate,
		 * a manual ban): it takes over the bans inside it and lasts at
		 * least as long as each, so none of them is lifted early */
		long end = jailrt_ban_absorb(w->rt, net);
		if (end == JAIL_FOREVER)
			bt = JAIL_FOREVER;
		else if (bt != JAIL_FOREVER && end - now > bt)
			bt = end - now;
	}
	struct jailrt_ban *b = jailrt_ban_add(w->rt, net, now, bt, count + 1, 0);
	struct store_ban sb = { w->j->name, key, now, bt, count + 1 };
	txn_need();
	if (store_ban_add(warden.st, &sb) < 0)
		log_warn("store: %s", store_error(warden.st));
	warden_log("NOTICE", "fail2ban.actions", "[%s] Ban %s", w->j->name, key);
	/* the smtp engine's accept check first: it does not wait for the
	 * firewall (a change to a large nft set can take most of a second) */
	write_bans();
	struct action_ban ab = { *net, jailrt_ban_left(b, now), bt, failures, user, matched };
	act_all(w, 1, &ab, 1);
}

static void unban_at(struct wjail *w, size_t i, int forget);

/* One failure of addr for jail w. */
static void failure(struct wjail *w, const char *addr, const char *user, int auth, long t,
    const char *source, const char *text)
{
	struct net net, a;
	long count = 0, now = warden_now();
	char err[256], when[32];
	struct jailrt_ban *old;
	enum jailrt_result r = jailrt_failure(w->rt, addr, user, auth, t, now, &net, &count,
	    err, sizeof(err));
	if (r == JRT_BANNED && net_parse(addr, &a) == 0 &&
	    (old = jailrt_ban_find(w->rt, &a)) != NULL && jailrt_ban_ended(old, now)) {
		/* the ban ended (the kernel let it go) before the one-second
		 * tick lifted it here: lift it now, so this failure counts */
		unban_at(w, (size_t)(old - w->rt->bans), 0);
		write_bans();
		r = jailrt_failure(w->rt, addr, user, auth, t, now, &net, &count, err, sizeof(err));
	}
	if (r == JRT_ERROR) {
		warden_log("WARNING", "fail2ban.filter", "[%s] %s", w->j->name, err);
		return;
	}
	if (r == JRT_IGNORED) {
		warden_log("INFO", "fail2ban.filter", "[%s] Ignore %s by ip", w->j->name, addr);
		return;
	}
	if (r != JRT_COUNTED && r != JRT_BAN && r != JRT_FULL)
		return;
	int full = r == JRT_FULL;
	if (err[0] && !(full ? w->refuse_warned : w->evict_warned)) {
		/* a cap's first warning this minute; cap_summary() counts the rest */
		warden_log("WARNING", "fail2ban.filter", "[%s] %s", w->j->name, err);
		*(full ? &w->refuse_warned : &w->evict_warned) = 1;
		*(full ? &w->refused_told : &w->evicted_told) += 1;
	}
	struct tm tm;
	time_t tt = t;
	localtime_r(&tt, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	warden_log("INFO", "fail2ban.filter", "[%s] Found %s - %s", w->j->name, addr, when);
	struct store_failure f = { t, w->j->name, addr, source, text };
	txn_need();
	if (store_failure_add(warden.st, &f) < 0)
		log_warn("store: %s", store_error(warden.st));
	if (r == JRT_BAN)
		do_ban(w, &net, count, user, text);
}

/* ---- inputs ---- */

static void on_event(int fd, int events, void *arg)
{
	static const char *const kinds[] = { "", "auth", "auth-ok", "relay", "reject",
		"pregreet", "protocol", "rate" };
	for (int i = 0; i < 256; i++) {
		struct msg m;
		if (msg_recv(fd, &m) <= 0)
			return;
		uint32_t kind = msg_get_u32(&m);
		const char *addr = msg_get_str(&m), *user = msg_get_str(&m);
		const char *text = msg_get_str(&m);
		if (m.type != MSG_WARDEN_EVENT || msg_end(&m) < 0 || kind < WEV_AUTH_FAIL ||
		    kind > WEV_RATE) {
			log_warn("warden: malformed event datagram ignored");
			msg_free(&m);
			continue;
		}
		char source[32];
		snprintf(source, sizeof(source), "event:%s", kinds[kind]);
		long now = warden_now();
		for (size_t j = 0; j < warden.njails; j++) {
			struct wjail *w = &warden.jails[j];
			if (kind == WEV_AUTH_OK) {
				if (jailrt_auth_ok(w->rt, addr, user, now,
				    config_get_time(cfg, "warden_login_allow_time")) &&
				    store_failure_clear(warden.st, w->j->name, addr) < 0)
					log_warn("store: %s", store_error(warden.st));
			} else if (w->events & (1u << kind)) {
				failure(w, addr, user, kind == WEV_AUTH_FAIL, now, source, text);
			}
		}
		msg_free(&m);
	}
}

static const char *const filter_dirs[] = { "/etc/mailwarden/filter.d", "/etc/fail2ban/filter.d", NULL };

/* The filter for lines of path: the jail's own for the first path seen,
 * a copy per further path, so a multi-line filter's buffered lines and
 * connections never mix two files. */
static struct filter *path_filter(struct wjail *w, const char *path)
{
	if (w->npf == 0 || strcmp(w->pf[0].path, path) == 0) {
		if (w->npf == 0) {
			w->pf = xcalloc(1, sizeof(*w->pf));
			w->pf[0].path = xstrdup(path);
			w->pf[0].f = w->filter;
			w->npf = 1;
		}
		return w->filter;
	}
	for (size_t i = 1; i < w->npf; i++)
		if (strcmp(w->pf[i].path, path) == 0)
			return w->pf[i].f;
	char err[512];
	struct filter *f = filter_load(w->j->filter.text, filter_dirs, err, sizeof(err));
	if (f == NULL) {	/* it loaded once already: not expected */
		log_warn("[%s] filter for %s: %s", w->j->name, path, err);
		return w->filter;
	}
	w->pf = xrealloc(w->pf, (w->npf + 1) * sizeof(*w->pf));
	w->pf[w->npf].path = xstrdup(path);
	w->pf[w->npf].f = f;
	w->npf++;
	return f;
}

static void on_line(void *arg, const char *path, const char *line, size_t len)
{
	struct wjail *w = arg;
	struct filter_hit hit;
	char *l = xstrndup(line, len);
	if (filter_match(path_filter(w, path), l, &hit) == FILTER_FAIL && *hit.host)
		failure(w, hit.host, hit.user, 0, hit.time, path, l);
	free(l);
}

/* ---- jails ---- */

/* Which events a jail fed by the engine counts; 0 if it reads logs. */
static unsigned jail_events(const struct jail *j)
{
	const char *name = j->filter.name, *mode = jailconf_ref_opt(&j->filter, "mode");
	const char *maillog = config_get(cfg, "maillog_file");
	unsigned A = 1u << WEV_AUTH_FAIL, R = 1u << WEV_RELAY_DENIED, J = 1u << WEV_REJECT,
	    P = 1u << WEV_PREGREET, X = 1u << WEV_PROTOCOL, T = 1u << WEV_RATE;
	int ours = strcmp(name, "mailwarden") == 0;
	if (!ours && strcmp(name, "postfix") == 0) {
		ours = 1;	/* only when it reads nothing but our own maillog */
		for (size_t i = 0; i < j->nlogpath; i++)
			if (*maillog == '\0' || strcmp(j->logpath[i].pattern, maillog) != 0)
				ours = 0;
	}
	if (!ours)
		return 0;
	if (mode == NULL)
		mode = strcmp(name, "postfix") == 0 ? "more" : "aggressive";
	static const struct { const char *mode; unsigned pf, mw; } map[] = {
		{ "auth", 0, 0 }, { "relay", 0, 0 }, { "reject", 0, 0 }, { "pregreet", 0, 0 },
		{ "protocol", 0, 0 }, { "normal", 0, 0 }, { "more", 0, 0 }, { "rbl", 0, 0 },
		{ "ddos", 0, 0 }, { "extra", 0, 0 }, { "aggressive", 0, 0 }, { "rate", 0, 0 },
	};
	unsigned masks[] = { A, R, J, P, X, J | R, J | R, J, P | X, J | R | A, A | R | J | P | X, T };
	/* mailwarden's aggressive also has the rate lines; postfix's does not */
	unsigned rate = strcmp(name, "mailwarden") == 0 ? T : 0;
	for (size_t i = 0; i < sizeof(map) / sizeof(*map); i++)
		if (strcmp(map[i].mode, mode) == 0)
			return masks[i] | (strcmp(mode, "aggressive") == 0 ? rate : 0);
	return A | R | J | P | X | rate;
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
	long now = warden_now();
	if (net_parse_net(sb->prefix, &net, err, sizeof(err)) < 0 || net.plen == 0)
		return 0;
	if (jailrt_is_ignored(r->w->rt, &net)) {
		warden_log("NOTICE", "fail2ban.actions", "[%s] Not restoring ban of %s: ignoreip",
		    r->w->j->name, sb->prefix);
		return 0;
	}
	struct jailrt_ban *b = jailrt_ban_add(r->w->rt, &net, sb->start, sb->bantime, sb->count, 1);
	if ((r->n & (r->n - 1)) == 0)	/* 0, 1, 2, 4 ...: double */
		r->b = xrealloc(r->b, (r->n ? 2 * r->n : 1) * sizeof(*r->b));
	struct action_ban ab = { net, jailrt_ban_left(b, now), sb->bantime, 0, NULL, NULL };
	r->b[r->n++] = ab;
	warden_log("NOTICE", "fail2ban.actions", "[%s] Restore Ban %s", r->w->j->name, sb->prefix);
	return 0;
}

static int replay_one(const struct store_failure *f, void *arg)
{
	struct wjail *w = arg;
	jailrt_replay(w->rt, f->address, f->time, warden_now());
	return 0;
}

/* A socket address as a struct net (scope id dropped); host gets its text. */
static int sockaddr_net(const struct sockaddr *sa, socklen_t len, char *host, size_t hlen,
    struct net *w)
{
	struct sockaddr_storage ss;
	if (len > sizeof(ss))
		return -1;
	memcpy(&ss, sa, len);
	/* no scope id: getnameinfo() would look the interface name up with
	 * an ioctl, which the warden's seccomp list does not allow */
	if (ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&ss)->sin6_scope_id = 0;
	if (getnameinfo((struct sockaddr *)&ss, len, host, (socklen_t)hlen, NULL, 0,
	    NI_NUMERICHOST) != 0)
		return -1;
	return net_parse(host, w);
}

/* ignoreip host names, resolved at start and reload (getaddrinfo may
 * wait on DNS: never while counting failures). One that does not resolve
 * is a warning; the jail starts without it. */
static void resolve_ignore_hosts(struct wjail *w)
{
	for (size_t i = 0; i < w->j->nignore_hosts; i++) {
		const char *h = w->j->ignore_hosts[i];
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *p;
		int rc = getaddrinfo(h, NULL, &hints, &res);
		if (rc != 0) {
			warden_log("WARNING", "fail2ban.jail", "[%s] ignoreip %s: %s; not ignored",
			    w->j->name, h, gai_strerror(rc));
			continue;
		}
		for (p = res; p; p = p->ai_next) {
			char host[128];
			struct net a;
			if (sockaddr_net(p->ai_addr, p->ai_addrlen, host, sizeof(host), &a) == 0 &&
			    !banprefix_ignored(w->rt->ignore, w->rt->nignore, &a)) {
				jailrt_add_ignore(w->rt, &a, 1);
				warden_log("INFO", "fail2ban.jail", "[%s] ignoreip %s: %s", w->j->name, h, host);
			}
		}
		freeaddrinfo(res);
	}
}

static int start_jail(struct wjail *w, struct jail *j, char *err, size_t errlen)
{
	const char *const *fdirs = filter_dirs;
	memset(w, 0, sizeof(*w));
	w->j = j;
	w->rt = jailrt_new(j, selfs, nself);
	resolve_ignore_hosts(w);
	w->events = jail_events(j);
	warden_log("INFO", "fail2ban.jail", "[%s] Jail is fed by %s", j->name,
	    w->events ? "the smtp engine's events (its own maillog is not followed)" : "its logs");
	/* the filter first: a jail that cannot read its logs sets up no firewall */
	if (w->events == 0 && (w->filter = filter_load(j->filter.text, fdirs, err, errlen)) == NULL)
		return -1;
	if (j->nactions && fwc_start(j->name, err, errlen) < 0)
		return -1;
	if (w->events == 0) {
		if (j->backend == JAIL_BACKEND_SYSTEMD) {
			char key[300];
			snprintf(key, sizeof(key), "journal:%s", j->name);
			w->journal = journal_new(j->journalmatch ? j->journalmatch : "", on_line, w,
			    warden.st, key, j->findtime, err, errlen);
			if (w->journal == NULL)
				return -1;
		} else {
			w->fol = follow_new(warden.st, on_line, w);
			for (size_t i = 0; i < j->nlogpath; i++)
				if (follow_add(w->fol, j->logpath[i].pattern, j->logpath[i].tail,
				    j->backend == JAIL_BACKEND_POLLING, err, errlen) < 0)
					return -1;
		}
	}
	struct restore r = { w, NULL, 0 };
	if (store_ban_list(warden.st, j->name, warden_now(), restore_one, &r) < 0)
		log_warn("store: %s", store_error(warden.st));
	if (r.n)
		act_all(w, 1, r.b, r.n);
	free(r.b);
	/* failure counters too, after the bans (failures that led to a ban
	 * in force count for nothing): replayed from the store */
	if (store_failure_since(warden.st, j->name, warden_now() - j->findtime + 1, replay_one,
	    w) < 0)
		log_warn("store: %s", store_error(warden.st));
	if (w->rt->nreplayed)
		warden_log("INFO", "fail2ban.jail", "[%s] Restored %zu failure(s) of %zu address(es)",
		    j->name, w->rt->nreplayed, jailrt_current_failed(w->rt, warden_now()));
	warden_log("INFO", "fail2ban.jail", "Jail '%s' started", j->name);
	return 0;
}

/* Stop every jail: actionstop (waiting a few seconds for the commands),
 * then free. */
static void stop_jails(void)
{
	for (size_t j = 0; j < warden.njails; j++) {
		struct wjail *w = &warden.jails[j];
		if (w->fol)
			follow_free(w->fol);
		if (w->journal)
			journal_free(w->journal);
		w->fol = NULL;
		w->journal = NULL;
		if (w->j->nactions)
			fwc_stop(w->j->name);
	}
	for (size_t j = 0; j < warden.njails; j++) {
		struct wjail *w = &warden.jails[j];
		for (size_t i = 0; i < w->npf; i++) {
			if (w->pf[i].f != w->filter)
				filter_free(w->pf[i].f);
			free(w->pf[i].path);
		}
		free(w->pf);
		filter_free(w->filter);
		jailrt_free(w->rt);
		warden_log("INFO", "fail2ban.jail", "Jail '%s' stopped", w->j->name);
	}
	free(warden.jails);
	warden.jails = NULL;
	warden.njails = 0;
	jailconf_free(&jc);
}

static int start_jails(char *err, size_t errlen)
{
	if (jailconf_load(cfg, &jc, err, errlen) < 0)
		return -1;
	warden.jails = xcalloc(jc.njails ? jc.njails : 1, sizeof(*warden.jails));
	for (size_t i = 0; i < jc.njails; i++) {
		warden.njails++;
		if (start_jail(&warden.jails[i], jc.jails[i], err, errlen) < 0)
			return -1;
	}
	write_bans();
	return 0;
}

/* check-config and reload: every enabled jail parses, its filter loads
 * and compiles, its actions are found (nft is assumed to be there). */
int warden_check(const struct config *c, char *err, size_t errlen)
{
	const char *const *fdirs = filter_dirs;
	struct jailconf check;
	if (jailconf_load(c, &check, err, errlen) < 0)
		return -1;
	char **adirs = config_list(config_get(c, "warden_action_path"));
	int rc = 0;
	for (size_t i = 0; i < check.njails && rc == 0; i++) {
		struct jail *j = check.jails[i];
		char why[512];
		struct filter *f = filter_load(j->filter.text, fdirs, why, sizeof(why));
		if (f == NULL) {
			snprintf(err, errlen, "%s, line %d: [%s] filter: %s", j->file, j->line, j->name, why);
			rc = -1;
			break;
		}
		filter_free(f);
		for (size_t k = 0; k < j->nactions; k++) {
			if (strcmp(j->actions[k].name, "nft") == 0)
				continue;
			struct action *a = action_new(j, &j->actions[k], (const char *const *)adirs, NULL,
			    why, sizeof(why));
			if (a == NULL) {
				snprintf(err, errlen, "%s, line %d: %s", j->file, j->line, why);
				rc = -1;
				break;
			}
			action_free(a);
		}
	}
	config_list_free(adirs);
	jailconf_free(&check);
	return rc;
}

/* ---- commands (control.c) ---- */

int warden_ban_ip(struct wjail *w, const char *ip, char *err, size_t errlen)
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
		return -1;
	}
	do_ban(w, &net, 0, NULL, "manual ban");
	return 0;
}

/* Unban the ban at index i of w; forget it in the store if forget. */
static void unban_at(struct wjail *w, size_t i, int forget)
{
	struct jailrt_ban b = w->rt->bans[i];
	struct action_ban ab = { b.net, 0, b.bantime, 0, NULL, NULL };
	jailrt_ban_del(w->rt, i);
	act_all(w, 0, &ab, 1);
	if (forget && store_ban_remove(warden.st, w->j->name, b.key, NULL) < 0)
		log_warn("store: %s", store_error(warden.st));
	warden_log("NOTICE", "fail2ban.actions", "[%s] Unban %s", w->j->name, b.key);
}

int warden_unban_ip(const char *ip, size_t *n, char *err, size_t errlen)
{
	struct net a;
	*n = 0;
	if (ip && net_parse_net(ip, &a, err, errlen) < 0)
		return -1;
	for (size_t j = 0; j < warden.njails; j++) {
		struct wjail *w = &warden.jails[j];
		for (size_t i = 0; i < w->rt->nbans;) {
			struct jailrt_ban *b = &w->rt->bans[i];
			if (ip == NULL || net_contains(&b->net, &a) || net_contains(&a, &b->net)) {
				unban_at(w, i, 1);
				(*n)++;
			} else {
				i++;
			}
		}
	}
	write_bans();
	return 0;
}

int warden_reload(char *err, size_t errlen)
{
	struct config *nc = config_load(cfg_path, err, errlen);
	if (nc == NULL)
		return -1;
	stop_jails();
	config_free(cfg);
	cfg = nc;
	fwc_reload();
	if (start_jails(err, errlen) < 0) {
		log_warn("warden reload: %s", err);
		return -1;
	}
	warden_log("INFO", "fail2ban.server", "Reload finished");
	return 0;
}

/* ---- timers, signals, set-up ---- */

/* Once a minute: what the caps did since their first warning. */
static void cap_summary(struct wjail *w)
{
	if (w->rt->evicted > w->evicted_told)
		warden_log("WARNING", "fail2ban.filter", "[%s] maxfailed (%ld) reached: the "
		    "failures of %lu more least recently failed prefixes forgotten", w->j->name,
		    w->j->maxfailed, w->rt->evicted - w->evicted_told);
	if (w->rt->refused > w->refused_told)
		warden_log("WARNING", "fail2ban.filter", "[%s] maxbanned (%ld) reached: %lu more "
		    "bans refused (no ban in force is lifted)", w->j->name, w->j->maxbanned,
		    w->rt->refused - w->refused_told);
	w->evicted_told = w->rt->evicted;
	w->refused_told = w->rt->refused;
	w->evict_warned = w->refuse_warned = 0;
}

static void on_tick(void *arg)
{
	long now = warden_now();
	int changed = 0;
	for (size_t j = 0; j < warden.njails; j++) {
		struct wjail *w = &warden.jails[j];
		for (size_t i = 0; i < w->rt->nbans;) {
			if (jailrt_ban_ended(&w->rt->bans[i], now)) {
				unban_at(w, i, 0);
				changed = 1;
			} else {
				i++;
			}
		}
		if (now % 60 == 0) {
			jailrt_expire_failures(w->rt, now);
			cap_summary(w);
		}
	}
	if (changed)
		write_bans();
	if (now - last_purge >= 3600) {
		long n = 0;
		last_purge = now;
		if (store_purge(warden.st, now, config_get_time(cfg, "warden_dbpurgeage"), &n) < 0)
			log_warn("store purge: %s", store_error(warden.st));
	}
	loop_timer_set(&tick, 1000, on_tick, NULL);
}

static void on_term(int signo, void *arg)
{
	loop_exit();
}

static void find_self(void)
{
	static const char *const fixed[] = { "127.0.0.0/8", "::1" };
	char err[128];
	for (size_t i = 0; i < 2; i++)
		if (net_parse_net(fixed[i], &selfs[nself], err, sizeof(err)) == 0)
			nself++;
	struct ifaddrs *ifa, *p;
	if (getifaddrs(&ifa) < 0)
		return;
	for (p = ifa; p && nself < sizeof(selfs) / sizeof(*selfs); p = p->ifa_next) {
		char host[128];
		if (p->ifa_addr == NULL || (p->ifa_addr->sa_family != AF_INET &&
		    p->ifa_addr->sa_family != AF_INET6))
			continue;
		if (sockaddr_net(p->ifa_addr, p->ifa_addr->sa_family == AF_INET ?
		    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6), host, sizeof(host),
		    &selfs[nself]) == 0)
			nself++;
	}
	freeifaddrs(ifa);
}

/* queue_directory/warden, where the bans file goes: made by the master,
 * owned by warden_owner; opened without following a symlink. */
static void open_bans_dir(void)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/warden", config_get(cfg, "queue_directory"));
	bans_fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (bans_fd < 0)
		fatal("open %s: %s", path, strerror(errno));
}

/* warden.db and its -wal/-shm: 0600 whatever an older version left. */
static void db_private(const char *db)
{
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	for (size_t i = 0; i < 4; i++) {
		char path[1100];
		snprintf(path, sizeof(path), "%s%s", db, sfx[i]);
		int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (fchmod(fd, 0600) < 0)
			log_warn("warden_dbfile: fchmod %s: %s", path, strerror(errno));
		close(fd);
	}
}

void warden_main(struct config *c, const char *path, int events, int ctl, int fw, int master_fd)
{
	char err[2048];
	cfg = c;
	cfg_path = path;
	ev_fd = events;
	log_set_service("warden");
	priv_name("warden");
	loop_init();
	srandom((unsigned)getpid() ^ (unsigned)time(NULL));
	const char *target = config_get(cfg, "warden_logtarget");
	if (strcmp(target, "maillog") != 0) {
		log_fd_f = open(target, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (log_fd_f < 0)
			fatal("warden_logtarget %s: %s", target, strerror(errno));
	}
	open_bans_dir();
	privsep_warden(cfg);	/* everything that needs root is open by now */
	find_self();		/* getifaddrs: netlink, before the allow-list */
	/* the allow-list is in src/common/sandbox.c (SANDBOX_WARDEN) */
	if (sandbox_enter(cfg, SANDBOX_WARDEN, master_fd, err, sizeof(err)) < 0)
		fatal("%s", err);
	const char *db = config_get(cfg, "warden_dbfile");
	warden.st = store_open(db, err, sizeof(err));
	if (warden.st == NULL)
		fatal("warden_dbfile: %s", err);
	db_private(db);
	loop_watch(ev_fd, LOOP_READ, on_event, NULL);
	fwc_init(fw);
	warden_log("INFO", "fail2ban.server", "Starting Fail2ban v1.0.2 (mailwarden warden)");
	loop_signal(SIGTERM, on_term, NULL);
	loop_signal(SIGINT, on_term, NULL);
	if (start_jails(err, sizeof(err)) < 0)
		fatal("warden: %s", err);
	control_listen(ctl);
	last_purge = 0;
	loop_timer_set(&tick, 1000, on_tick, NULL);
	log_info("warden started: %zu jail(s)", warden.njails);
	loop_run();
	control_close();
	txn_commit(NULL);
	stop_jails();
	store_close(warden.st);
	warden_log("INFO", "fail2ban.server", "Exiting Fail2ban");
	exit(0);
}
