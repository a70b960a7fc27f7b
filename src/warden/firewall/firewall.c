/*
 * firewall — the root (or CAP_NET_ADMIN) half of banning (see
 * firewall.h). Everything it reads from the warden is untrusted: a
 * request must decode exactly (fw_proto.c) and then name a jail of the
 * config, an IPv4 or IPv6 network whose prefix is within the jail's
 * limits (never /0), whose host bits are clear and, for a ban, that
 * neither falls inside nor covers the jail's ignoreip; anything else is
 * refused, logged ("warning: firewall: refused ...") and answered with
 * FW_REFUSED. Only then does it reach an action: the nft set, or an
 * action.d command line whose untrusted tags (<F-USER>, <matches>) are
 * escaped as fail2ban escapes them (actions.c). Failures go back to the
 * warden, which logs them in fail2ban's format.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "common/priv.h"
#include "common/sandbox.h"
#include "common/loop.h"
#include "common/msg.h"
#include "common/util.h"
#include "warden/firewall/actions.h"
#include "warden/firewall/firewall.h"
#include "warden/firewall/fw_proto.h"
#include "warden/jail.h"
#include "warden/jailtree.h"
#include "warden/firewall/nft.h"
#include "warden/privsep.h"

/* The widest network any request may name, whatever the jail's prefix
 * (`mailwarden ban JAIL NET` may ban a network by hand). */
#define FW_FLOOR4 8
#define FW_FLOOR6 16

struct fwjail {
	struct jail *j;
	struct action **acts;
	size_t nacts;
	char *err;		/* why its actions did not load, or NULL */
	int started;
};

static struct config *cfg;
static const char *cfg_path;
static int peer = -1;
static struct nft *nft;
static struct jailconf jc;
static struct fwjail *jails;
static size_t njails;
static struct loop_timer tick;

/* Build every jail's actions (nothing runs yet). 1 if any is a command. */
static int load(void)
{
	char err[1024];
	int cmds = 0;
	if (jailconf_load(cfg, &jc, err, sizeof(err)) < 0) {
		log_warn("firewall: %s", err);
		memset(&jc, 0, sizeof(jc));
	}
	jails = xcalloc(jc.njails ? jc.njails : 1, sizeof(*jails));
	njails = jc.njails;
	char **adirs = config_list(config_get(cfg, "warden_action_path"));
	for (size_t i = 0; i < njails; i++) {
		struct fwjail *f = &jails[i];
		f->j = jc.jails[i];
		f->acts = xcalloc(f->j->nactions ? f->j->nactions : 1, sizeof(*f->acts));
		/* the fail2ban tree's action.d first, for its jails */
		char **jdirs = jailtree_dirs(f->j, "action.d", (const char *const *)adirs);
		for (size_t k = 0; k < f->j->nactions && f->err == NULL; k++) {
			f->acts[k] = action_new(f->j, &f->j->actions[k], (const char *const *)jdirs, nft,
			    err, sizeof(err));
			if (f->acts[k] == NULL)
				f->err = xstrdup(err);
			else
				f->nacts++;
			if (action_is_command(&f->j->actions[k]))
				cmds = 1;
		}
		config_list_free(jdirs);
	}
	config_list_free(adirs);
	return cmds;
}

/* <ip-host> through the loop's DNS (command actions only). */
static void host_init(void)
{
	char err[512];
	if (actions_host_init(cfg, err, sizeof(err)) < 0)
		log_warn("firewall: DNS for <ip-host> unavailable, the system resolver is used "
		    "(blocking): %s", err);
}

/* Stop the started jails' actions (their last commands are queued). */
static void stop_jails(void)
{
	for (size_t i = 0; i < njails; i++)
		for (size_t k = 0; jails[i].started && k < jails[i].nacts; k++)
			action_stop(jails[i].acts[k]);
}

/* Free the jails (a command still running is killed and logged). */
static void free_jails(void)
{
	for (size_t i = 0; i < njails; i++) {
		for (size_t k = 0; k < jails[i].nacts; k++)
			action_free(jails[i].acts[k]);
		free(jails[i].acts);
		free(jails[i].err);
	}
	free(jails);
	jails = NULL;
	njails = 0;
	jailconf_free(&jc);
}

/* The wait for the stopped jails' commands, at a stop or a reload, is
 * part of the loop: their output is read and their timeouts fire while
 * they finish. After DRAIN_TICKS ticks of DRAIN_MS (5 s) the unload
 * ends anyway (what still runs is killed). Requests wait in the socket
 * meanwhile, as they did behind the blocking wait. */
#define DRAIN_MS 50
#define DRAIN_TICKS 100
static struct loop_timer drain_timer;
static int drain_ticks = -1;	/* -1: no unload under way */
static int stopping;		/* the unload ends the process */
static struct config *next_cfg;	/* else the config the reload loads */

static void on_request(int fd, int events, void *arg);

static void drain_end(void)
{
	loop_timer_clear(&drain_timer);
	drain_ticks = -1;
	free_jails();
	if (stopping) {
		config_free(next_cfg);
		next_cfg = NULL;
		loop_exit();
		return;
	}
	config_free(cfg);
	cfg = next_cfg;
	next_cfg = NULL;
	if (load()) {
		host_init();
		if (geteuid() == 0 && prctl(PR_CAPBSET_READ, CAP_SETUID) != 1)
			log_warn("firewall: command actions added by reload run without root: "
			    "restart mailwarden");
	}
	loop_watch(peer, LOOP_READ, on_request, NULL);
}

/* End the unload if its commands are done or its time is up. */
static void drain_check(void)
{
	if (drain_ticks >= 0 && (actions_pending() == 0 || drain_ticks >= DRAIN_TICKS))
		drain_end();
}

static void on_drain(void *arg)
{
	actions_reap();
	drain_ticks++;
	if (drain_ticks >= 0 && actions_pending() > 0 && drain_ticks < DRAIN_TICKS)
		loop_timer_set(&drain_timer, DRAIN_MS, on_drain, NULL);
	else
		drain_check();
}

/* Unload the jails, then reload with nc (NULL: stop the process). */
static void unload(struct config *nc)
{
	if (nc == NULL)
		stopping = 1;
	else
		next_cfg = nc;
	if (drain_ticks >= 0)	/* one under way: a stop overrides a reload */
		return;
	loop_unwatch(peer);
	stop_jails();
	drain_ticks = 0;
	actions_reap();
	if (actions_pending() > 0)
		loop_timer_set(&drain_timer, DRAIN_MS, on_drain, NULL);
	else
		drain_check();
}

static struct fwjail *find(const char *name)
{
	for (size_t i = 0; i < njails; i++)
		if (strcmp(jails[i].j->name, name) == 0)
			return &jails[i];
	return NULL;
}

/* May jail f ban or unban net? 0, or -1 and why. */
static int net_ok(const struct fwjail *f, const struct net *n, char *why, size_t len)
{
	int full = n->family == AF_INET ? 32 : 128;
	int floor = n->family == AF_INET ? f->j->prefix4 : f->j->prefix6;
	int cap = n->family == AF_INET ? FW_FLOOR4 : FW_FLOOR6;
	if (n->family != AF_INET && n->family != AF_INET6) {
		snprintf(why, len, "address family is neither IPv4 nor IPv6");
		return -1;
	}
	if (floor > cap)
		floor = cap;
	if (n->plen <= 0 || n->plen < floor || n->plen > full) {
		snprintf(why, len, "prefix length /%d outside /%d../%d", n->plen, floor, full);
		return -1;
	}
	int bytes = n->family == AF_INET ? 4 : 16;
	for (int b = 0; b < 16; b++) {
		int keep = n->plen - 8 * b;
		unsigned char mask = keep >= 8 ? 0xff : keep <= 0 ? 0 : (unsigned char)(0xff << (8 - keep));
		if (b >= bytes ? n->a[b] != 0 : (n->a[b] & (unsigned char)~mask) != 0) {
			snprintf(why, len, "host bits set past /%d", n->plen);
			return -1;
		}
	}
	return 0;
}

/* A ban may neither fall inside nor cover a network of the jail's
 * ignoreip: the warden checks this too, but its word is not taken. (Host
 * names in ignoreip and ignoreself are the warden's alone: the firewall
 * resolves nothing.) 0, or -1 and why. */
static int ignore_ok(const struct fwjail *f, const struct net *n, char *why, size_t len)
{
	char a[NET_STRLEN], b[NET_STRLEN];
	for (size_t i = 0; i < f->j->nignore; i++) {
		const struct net *ig = &f->j->ignore[i];
		int inside = net_contains(ig, n), covers = net_contains(n, ig);
		if (!inside && !covers)
			continue;
		net_format(n, 0, a, sizeof(a));
		net_format(ig, 1, b, sizeof(b));
		snprintf(why, len, "%s %s ignoreip %s", a, inside ? "is inside" : "covers", b);
		return -1;
	}
	return 0;
}

/* May jail f apply ban b (request type): the network, then for a ban the
 * jail's ignoreip? 0; -1 and why for a bad request; 1 and why for a ban
 * that ignoreip forbids. */
static int ban_ok(const struct fwjail *f, uint16_t type, const struct action_ban *b, char *why,
    size_t len)
{
	if (net_ok(f, &b->net, why, len) < 0)
		return -1;
	if (b->timeout < 0) {	/* 0 is forever; the wire's "forever" is for bantime */
		snprintf(why, len, "a negative time left");
		return -1;
	}
	struct net a;
	if (b->addr && (net_parse(b->addr, &a) < 0 || !net_contains(&b->net, &a))) {
		snprintf(why, len, "address %.64s is not inside the banned network", b->addr);
		return -1;
	}
	if (type != MSG_FW_UNBAN && ignore_ok(f, &b->net, why, len) < 0)
		return 1;
	return 0;
}

static void refuse(uint16_t type, const char *jail, const char *why)
{
	log_warn("firewall: refused %s request%s%s%s: %s", fw_type_name(type), *jail ? " for [" : "",
	    jail, *jail ? "]" : "", why);
	if (fw_send_reply(peer, type, FW_REFUSED, jail, why) < 0)
		log_warn("firewall: cannot answer the warden: %s", strerror(errno));
}

static void reply(uint16_t type, enum fw_status st, const char *jail, const char *text)
{
	if (fw_send_reply(peer, type, st, jail, text) < 0)
		log_warn("firewall: cannot answer the warden: %s", strerror(errno));
}

/* Act on one checked request. */
static void act(struct fwjail *f, const struct fw_req *r)
{
	char err[1024];
	if (r->type == MSG_FW_START) {
		if (f->err) {
			reply(r->type, FW_FAILED, f->j->name, f->err);
			return;
		}
		for (size_t k = 0; !f->started && k < f->nacts; k++)
			if (action_start(f->acts[k], err, sizeof(err)) < 0) {
				reply(r->type, FW_FAILED, f->j->name, err);
				return;
			}
		f->started = 1;
		reply(r->type, FW_OK, f->j->name, "");
		return;
	}
	if (r->type == MSG_FW_STOP) {
		for (size_t k = 0; f->started && k < f->nacts; k++)
			action_stop(f->acts[k]);
		f->started = 0;
		return;
	}
	if (!f->started) {
		refuse(r->type, f->j->name, "the jail is not started");
		return;
	}
	for (size_t k = 0; k < f->nacts; k++) {
		int rc = r->type == MSG_FW_UNBAN ?
		    action_unban(f->acts[k], r->b, r->n, err, sizeof(err)) :
		    action_ban(f->acts[k], r->b, r->n, err, sizeof(err));
		if (rc < 0)
			reply(r->type, FW_FAILED, f->j->name, err);
	}
}

static void handle(struct msg *m)
{
	struct fw_req r;
	char why[256];
	if (fw_req_decode(m, &r, why, sizeof(why)) < 0) {
		refuse(m->type, "", why);
		fw_req_free(&r);
		return;
	}
	if (r.type == MSG_FW_RELOAD) {
		struct config *nc = config_load(cfg_path, why, sizeof(why));
		if (nc == NULL) {
			log_warn("firewall: reload: %s; keeping the old jails", why);
			fw_req_free(&r);
			return;
		}
		fw_req_free(&r);
		unload(nc);	/* the new jails load once the old ones' commands end */
		return;
	}
	struct fwjail *f = find(r.jail);
	if (f == NULL) {
		snprintf(why, sizeof(why), "unknown jail");
		refuse(r.type, r.jail, why);
		fw_req_free(&r);
		return;
	}
	size_t kept = 0;
	for (size_t i = 0; i < r.n; i++) {
		int rc = ban_ok(f, r.type, &r.b[i], why, sizeof(why));
		if (rc > 0 && r.n > 1) {	/* a restore: the others still go in */
			log_warn("firewall: [%s] not restoring a ban: %s", r.jail, why);
			continue;
		}
		if (rc != 0) {
			refuse(r.type, r.jail, why);
			fw_req_free(&r);
			return;
		}
		r.b[kept++] = r.b[i];
	}
	size_t had = r.n;
	r.n = kept;
	if (kept > 0 || had == 0)	/* start and stop carry no bans */
		act(f, &r);
	fw_req_free(&r);
}

static void on_request(int fd, int events, void *arg)
{
	for (int i = 0; i < 64; i++) {
		struct msg m;
		int rc = msg_recv(fd, &m);
		if (rc == 0 || (rc < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
			loop_unwatch(fd);
			unload(NULL);	/* the warden is gone: so is this generation */
			return;
		}
		if (rc < 0)
			return;
		handle(&m);
		msg_free(&m);
		if (drain_ticks >= 0)	/* a reload: the rest waits for the new jails */
			return;
	}
}

/* A command action's log line: to the warden, which writes fail2ban's
 * log and counts the failures for `status --json`. */
static void report(const struct action *a, const char *level, const char *logger,
    const char *msg, const char *summary)
{
	const struct jail *j = action_jail(a);
	if (fw_send_actlog(peer, j->name, action_name(a), level, logger, summary ? summary : "",
	    msg) < 0)
		log_warn("firewall: [%s] %s: %s (cannot tell the warden: %s)", j->name,
		    action_name(a), msg, strerror(errno));
}

static void on_tick(void *arg)
{
	actions_reap();
	loop_timer_set(&tick, 1000, on_tick, NULL);
}

static void on_chld(int signo, void *arg)
{
	actions_reap();
	drain_check();
}

static void on_term(int signo, void *arg)
{
	unload(NULL);
}

void firewall_main(struct config *c, const char *path, int fd, int master_fd)
{
	char err[1024];
	cfg = c;
	cfg_path = path;
	peer = fd;
	log_set_service("firewall");
	priv_name("firewall");
	loop_init();
	nft = nft_open(NULL, err, sizeof(err));
	if (nft == NULL)
		log_warn("nftables unavailable, the nft action cannot be used: %s", err);
	action_set_report(report);
	int cmds = load();
	if (cmds)
		host_init();
	privsep_firewall(cmds);
	/* With command actions it runs action.d commands as root (execve):
	 * no seccomp then; with nft only, SANDBOX_FIREWALL_NFT (sandbox.c). */
	if (!cmds && sandbox_enter(cfg, SANDBOX_FIREWALL_NFT, master_fd, err, sizeof(err)) < 0)
		fatal("%s", err);
	loop_signal(SIGCHLD, on_chld, NULL);
	loop_signal(SIGTERM, on_term, NULL);
	loop_signal(SIGINT, on_term, NULL);
	loop_watch(fd, LOOP_READ, on_request, NULL);
	loop_timer_set(&tick, 1000, on_tick, NULL);
	log_info("firewall started: %zu jail(s), %s", njails, geteuid() != 0 ? "unprivileged run" :
	    cmds ? "root (command actions)" : "CAP_NET_ADMIN only");
	loop_run();
	if (jails)	/* not unloaded by the loop */
		free_jails();
	if (nft)
		nft_close(nft);
	exit(0);
}
