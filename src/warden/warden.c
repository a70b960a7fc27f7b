/*
 * warden — the ban engine's process: set-up, the jails' start and stop,
 * and the loop. Started by the master when the config has an enabled
 * jail; it opens what needs root (warden_logtarget, the
 * queue_directory/warden directory) and then runs as warden_owner with
 * no capability (privsep.c). It is not network-facing: its inputs
 * (input.c) are the smtp engine's MSG_WARDEN_EVENT datagrams on the
 * event socketpair the master hands down, the log lines of followed
 * files, and the root-only control socket the master bound (control.c).
 * The ban path (ban.c) counts failures (jailrt.c), keeps state in the
 * store (in data_directory), appends to the bans journal warden/bans
 * the engine reads (mail/banfile.h) and asks the firewall process for
 * every firewall change (fw_proto.h); f2blog.c logs in fail2ban's format
 * to warden_logtarget (or, with warden_fail2ban_config, the tree's
 * logtarget; its dbfile's bans are imported once: tree_setup). The state
 * is one struct warden (warden_int.h), passed explicitly; module-level state is left only in f2blog.c (the
 * log target's fd), control.c (the listening socket and the warden it
 * serves) and fw_client.c (the firewall socket).
 */
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "common/priv.h"
#include "common/sandbox.h"
#include "common/loop.h"
#include "common/util.h"
#include "mail/banfile.h"
#include "warden/firewall/actions.h"
#include "warden/ban.h"
#include "warden/cluster/cluster.h"
#include "warden/control.h"
#include "warden/f2blog.h"
#include "warden/filter/filter.h"
#include "warden/source/follow.h"
#include "warden/firewall/fw_proto.h"
#include "warden/input.h"
#include "warden/jailrt.h"
#include "warden/jailtree.h"
#include "warden/logcheck.h"
#include "warden/privsep.h"
#include "warden/store/store.h"
#include "warden/warden.h"
#include "warden/warden_int.h"

struct wjail *warden_find_jail(struct warden *wd, const char *name)
{
	for (size_t i = 0; i < wd->njails; i++)
		if (strcmp(wd->jails[i].j->name, name) == 0)
			return &wd->jails[i];
	return NULL;
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
			f2blog_log("WARNING", "fail2ban.jail", "[%s] ignoreip %s: %s; not ignored",
			    w->j->name, h, gai_strerror(rc));
			continue;
		}
		for (p = res; p; p = p->ai_next) {
			char host[128];
			struct net a;
			if (sockaddr_net(p->ai_addr, p->ai_addrlen, host, sizeof(host), &a) == 0 &&
			    !banprefix_ignored(w->rt->ignore, w->rt->nignore, &a)) {
				jailrt_add_ignore(w->rt, &a, 1);
				f2blog_log("INFO", "fail2ban.jail", "[%s] ignoreip %s: %s", w->j->name, h, host);
			}
		}
		freeaddrinfo(res);
	}
}

static int start_jail(struct warden *wd, struct wjail *w, struct jail *j, char *err,
    size_t errlen)
{
	memset(w, 0, sizeof(*w));
	w->wd = wd;
	w->j = j;
	w->rt = jailrt_new(j, wd->selfs, wd->nself);
	resolve_ignore_hosts(w);
	w->events = input_jail_events(wd->cfg, j);
	if (w->events && j->tree_logpath && j->nlogpath)
		f2blog_log("INFO", "fail2ban.jail", "[%s] Jail is fed by the smtp engine's events "
		    "(the fail2ban tree's logpath %s is not followed)", j->name, j->logpath[0].pattern);
	else
		f2blog_log("INFO", "fail2ban.jail", "[%s] Jail is fed by %s", j->name, w->events ?
		    "the smtp engine's events (its own maillog is not followed)" : "its logs");
	/* the filter first: a jail that cannot read its logs sets up no firewall */
	if (w->events == 0 && (w->filter = input_filter_load(j, err, errlen)) == NULL)
		return -1;
	if (j->nactions && fwc_start(j->name, err, errlen) < 0)
		return -1;
	if (w->events == 0) {
		if (j->backend == JAIL_BACKEND_SYSTEMD) {
			char key[300];
			snprintf(key, sizeof(key), "journal:%s", j->name);
			w->journal = journal_new(j->journalmatch ? j->journalmatch : "", input_on_line,
			    w, wd->st, key, j->findtime, err, errlen);
			if (w->journal == NULL)
				return -1;
		} else {
			w->fol = follow_new(wd->st, input_on_line, w);
			for (size_t i = 0; i < j->nlogpath; i++)
				if (follow_add(w->fol, j->logpath[i].pattern, j->logpath[i].tail,
				    j->backend == JAIL_BACKEND_POLLING, err, errlen) < 0)
					return -1;
		}
	}
	ban_restore(w);
	f2blog_log("INFO", "fail2ban.jail", "Jail '%s' started", j->name);
	return 0;
}

/* Stop every jail: actionstop (waiting a few seconds for the commands),
 * then free. */
static void stop_jails(struct warden *wd)
{
	for (size_t j = 0; j < wd->njails; j++) {
		struct wjail *w = &wd->jails[j];
		if (w->fol)
			follow_free(w->fol);
		if (w->journal)
			journal_free(w->journal);
		w->fol = NULL;
		w->journal = NULL;
		if (w->j->nactions)
			fwc_stop(w->j->name);
	}
	for (size_t j = 0; j < wd->njails; j++) {
		struct wjail *w = &wd->jails[j];
		input_free_filters(w);
		jailrt_free(w->rt);
		f2blog_log("INFO", "fail2ban.jail", "Jail '%s' stopped", w->j->name);
	}
	free(wd->jails);
	wd->jails = NULL;
	wd->njails = 0;
	for (size_t i = 0; i < wd->ndown; i++)
		free(wd->down[i].why);
	free(wd->down);
	wd->down = NULL;
	wd->ndown = 0;
	jailconf_free(&wd->jc);
}

/* A jail whose logpath names no file stays down, as fail2ban would not
 * start it; the other jails and mail go on. 1 if j is down. */
static int jail_down(struct warden *wd, struct jail *j)
{
	char why[300];
	if (logcheck_jail(wd->cfg, j, why, sizeof(why)) == 0)
		return 0;
	f2blog_log("ERROR", "fail2ban.jail", "%s (%s, line %d); jail '%s' not started, "
	    "reload when its log exists", why, j->file, j->line, j->name);
	if (f2blog_is_file())
		log_error("%s (%s, line %d); jail '%s' not started, reload when its log exists",
		    why, j->file, j->line, j->name);
	wd->down = xrealloc(wd->down, (wd->ndown + 1) * sizeof(*wd->down));
	wd->down[wd->ndown++] = (struct wdown){ j, xstrdup(why) };
	return 1;
}

static int start_jails(struct warden *wd, char *err, size_t errlen)
{
	if (jailconf_load(wd->cfg, &wd->jc, err, errlen) < 0)
		return -1;
	wd->jails = xcalloc(wd->jc.njails ? wd->jc.njails : 1, sizeof(*wd->jails));
	for (size_t i = 0; i < wd->jc.njails; i++) {
		if (jail_down(wd, wd->jc.jails[i]))
			continue;
		wd->njails++;
		if (start_jail(wd, &wd->jails[wd->njails - 1], wd->jc.jails[i], err, errlen) < 0)
			return -1;
	}
	ban_publish(wd);
	return 0;
}

/* check-config and reload: every enabled jail parses, its filter loads
 * and compiles, its command actions can run (actions_check_jail; nft is
 * assumed to be there). */
int warden_check(const struct config *c, char *err, size_t errlen)
{
	struct jailconf check;
	if (jailconf_load(c, &check, err, errlen) < 0)
		return -1;
	char **adirs = config_list(config_get(c, "warden_action_path"));
	int rc = cluster_check(c, err, errlen);
	if (rc > 0)
		log_warn("%s", err);	/* redis:// over TCP: a warning, as smtpc_conf_warn's */
	if (rc > 0)
		rc = 0;
	for (size_t i = 0; i < check.njails && rc == 0; i++) {
		struct jail *j = check.jails[i];
		char why[512];
		struct filter *f = input_filter_load(j, why, sizeof(why));
		if (f == NULL) {
			snprintf(err, errlen, "%s, line %d: [%s] filter: %s", j->file, j->line, j->name, why);
			rc = -1;
			break;
		}
		filter_free(f);
		char **jdirs = jailtree_dirs(j, "action.d", (const char *const *)adirs);
		if ((rc = actions_check_jail(j, (const char *const *)jdirs, why, sizeof(why))) < 0)
			snprintf(err, errlen, "%s, line %d: %s", j->file, j->line, why);
		config_list_free(jdirs);
	}
	config_list_free(adirs);
	jailconf_free(&check);
	return rc;
}

int warden_reload(struct warden *wd, char *err, size_t errlen)
{
	struct config *nc = config_load(wd->cfg_path, err, errlen);
	if (nc == NULL)
		return -1;
	/* a jail that stays keeps its totals, as fail2ban's reload does */
	struct totals {
		char *name;
		unsigned long failed, banned;
	} *keep = xcalloc(wd->njails ? wd->njails : 1, sizeof(*keep));
	size_t nkeep = wd->njails;
	for (size_t i = 0; i < nkeep; i++)
		keep[i] = (struct totals){ xstrdup(wd->jails[i].j->name),
		    wd->jails[i].rt->total_failed, wd->jails[i].rt->total_banned };
	stop_jails(wd);
	config_free(wd->cfg);
	wd->cfg = nc;
	fwc_reload();
	int rc = start_jails(wd, err, errlen);
	for (size_t i = 0; i < nkeep; i++) {
		struct wjail *w = rc == 0 ? warden_find_jail(wd, keep[i].name) : NULL;
		if (w) {
			w->rt->total_failed += keep[i].failed;
			w->rt->total_banned += keep[i].banned;
		}
		free(keep[i].name);
	}
	free(keep);
	if (rc < 0) {
		log_warn("warden reload: %s", err);
		return -1;
	}
	f2blog_log("INFO", "fail2ban.server", "Reload finished");
	return 0;
}

/* ---- signals, set-up ---- */

static void on_tick(void *arg)
{
	struct warden *wd = arg;
	ban_tick(wd);
	loop_timer_set(&wd->tick, 1000, on_tick, wd);
}

static void on_term(int signo, void *arg)
{
	loop_exit();
}

/* SIGUSR1: reopen the fail2ban-format log after a rotation, as
 * fail2ban-client flushlogs does (the control socket's flushlogs). */
static void on_usr1(int signo, void *arg)
{
	char err[1200];
	if (f2blog_reopen(err, sizeof(err)) < 0)
		log_error("SIGUSR1: %s", err);
}

static void find_self(struct warden *wd)
{
	static const char *const fixed[] = { "127.0.0.0/8", "::1" };
	char err[128];
	for (size_t i = 0; i < 2; i++)
		if (net_parse_net(fixed[i], &wd->selfs[wd->nself], err, sizeof(err)) == 0)
			wd->nself++;
	struct ifaddrs *ifa, *p;
	if (getifaddrs(&ifa) < 0)
		return;
	for (p = ifa; p && wd->nself < sizeof(wd->selfs) / sizeof(*wd->selfs); p = p->ifa_next) {
		char host[128];
		if (p->ifa_addr == NULL || (p->ifa_addr->sa_family != AF_INET &&
		    p->ifa_addr->sa_family != AF_INET6))
			continue;
		if (sockaddr_net(p->ifa_addr, p->ifa_addr->sa_family == AF_INET ?
		    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6), host, sizeof(host),
		    &wd->selfs[wd->nself]) == 0)
			wd->nself++;
	}
	freeifaddrs(ifa);
}

/* queue_directory/warden, where the bans file goes: made by the master,
 * owned by warden_owner; opened without following a symlink, and kept
 * (as a directory fd) by the bans file's writer. */
static void open_bans_dir(struct warden *wd)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/warden", config_get(wd->cfg, "queue_directory"));
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || (wd->bans = banfile_writer_new(fd, "bans")) == NULL)
		fatal("open %s: %s", path, strerror(errno));
	close(fd);
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

/* With warden_fail2ban_config: the tree's logtarget replaces
 * warden_logtarget, its dbpurgeage warden_dbpurgeage, and the bans in
 * force in its dbfile are read (as root: Debian keeps it 0600) into *f.
 * Opens the log target either way. Returns the dbfile's path (static)
 * or NULL. */
static const char *tree_setup(struct warden *wd, struct store_f2b *f)
{
	static char dbfile[4096];
	const char *tree = config_get(wd->cfg, "warden_fail2ban_config");
	const char *target = config_get(wd->cfg, "warden_logtarget");
	struct jailtree_globals g = { 0 };
	char err[1024];
	long age;

	wd->dbpurgeage = config_get_time(wd->cfg, "warden_dbpurgeage");
	if (*tree && jailtree_globals(tree, &g, err, sizeof(err)) < 0)
		fatal("warden_fail2ban_config: %s", err);
	if (g.logtarget && *g.logtarget)
		target = jailtree_logtarget(g.logtarget);
	if (f2blog_open(target) < 0)
		fatal("%s %s: %s", g.logtarget ? "fail2ban logtarget" : "warden_logtarget", target,
		    strerror(errno));
	if (g.dbpurgeage && jailconf_parse_time(g.dbpurgeage, &age) == 0 && age > 0)
		wd->dbpurgeage = age;
	dbfile[0] = '\0';
	/* fail2ban's dbfile = None or :memory: keeps nothing to import */
	if (g.dbfile && g.dbfile[0] == '/') {
		str_copy(dbfile, sizeof(dbfile), g.dbfile);
		if (store_f2b_read(dbfile, (long)clock_wall(), f, err, sizeof(err)) < 0)
			log_warn("warden_fail2ban_config: dbfile %s", err);
	}
	jailtree_globals_free(&g);
	return dbfile[0] ? dbfile : NULL;
}

/* The bans read by tree_setup() into the store, once (store_f2b.c). */
static void tree_import(struct warden *wd, const char *path, struct store_f2b *f)
{
	long n;
	if (path && store_f2b_import(wd->st, path, f, &n) < 0)
		log_warn("warden_fail2ban_config: import of %s: %s", path, store_error(wd->st));
	else if (path && n >= 0)
		f2blog_log("INFO", "fail2ban.database", "Imported %ld ban(s) in force from "
		    "fail2ban's dbfile %s (read only)", n, path);
	store_f2b_free(f);
}

static int ctl_pending = -1;	/* the control socket, served once ready */

static void on_cluster_ready(struct warden *wd)
{
	control_listen(ctl_pending, wd);
}

void warden_main(struct config *c, const char *path, int events, int ctl, int fw, int master_fd)
{
	static struct warden wd;	/* the one warden of this process */
	char err[2048];
	wd.cfg = c;
	wd.cfg_path = path;
	log_set_service("warden");
	priv_name("warden");
	loop_init();
	srandom((unsigned)getpid() ^ (unsigned)time(NULL));
	struct store_f2b f2b = { 0 };
	const char *f2bdb = tree_setup(&wd, &f2b);
	open_bans_dir(&wd);
	cluster_open(&wd);	/* the password file, as root */
	privsep_warden(wd.cfg);	/* everything that needs root is open by now */
	find_self(&wd);		/* getifaddrs: netlink, before the allow-list */
	/* the allow-list is in src/common/sandbox.c (SANDBOX_WARDEN) */
	if (sandbox_enter(wd.cfg, SANDBOX_WARDEN, master_fd, err, sizeof(err)) < 0)
		fatal("%s", err);
	const char *db = config_get(wd.cfg, "warden_dbfile");
	wd.st = store_open(db, err, sizeof(err));
	if (wd.st == NULL)
		fatal("warden_dbfile: %s", err);
	db_private(db);
	loop_watch(events, LOOP_READ, input_on_event, &wd);
	fwc_init(fw);
	f2blog_log("INFO", "fail2ban.server", "Starting Fail2ban v1.0.2 (mailwarden warden)");
	tree_import(&wd, f2bdb, &f2b);	/* before the jails restore their bans */
	loop_signal(SIGTERM, on_term, NULL);
	loop_signal(SIGINT, on_term, NULL);
	loop_signal(SIGUSR1, on_usr1, NULL);
	if (start_jails(&wd, err, sizeof(err)) < 0)
		fatal("warden: %s", err);
	ctl_pending = ctl;
	/* the control socket (and so systemd's READY=1) once the bans in
	 * force in the cluster are pulled, or after 2 s without Redis */
	cluster_start(&wd, on_cluster_ready);
	wd.last_purge = 0;
	loop_timer_set(&wd.tick, 1000, on_tick, &wd);
	if (wd.ndown)
		log_info("warden started: %zu jail(s), %zu down", wd.njails, wd.ndown);
	else
		log_info("warden started: %zu jail(s)", wd.njails);
	loop_run();
	control_close();
	cluster_free(&wd);
	ban_commit(&wd);
	stop_jails(&wd);
	store_close(wd.st);
	banfile_writer_free(wd.bans);
	f2blog_log("INFO", "fail2ban.server", "Exiting Fail2ban");
	exit(0);
}
