/*
 * control — the warden's control socket and its commands (see
 * control.h). Requests are bounded (one line, 4 KiB) and answered
 * synchronously: every command only reads or changes the warden's memory
 * and the store, so no request waits on the network.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/util.h"
#include "warden/ban.h"
#include "warden/cluster/cluster.h"
#include "warden/control.h"
#include "warden/f2blog.h"
#include "warden/firewall/actcmd.h"
#include "warden/firewall/fw_proto.h"
#include "warden/source/follow.h"
#include "warden/jailrt.h"
#include "warden/store/store.h"
#include "warden/warden_int.h"

#define CTL_REQ_MAX 4096
#define CTL_OUT_MAX (16 * 1024 * 1024)
#define CTL_ARGS_MAX 64		/* words of a request, "json" not counted */

static int ctl_fd = -1;
static struct warden *ctl_wd;	/* the warden the commands work on */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A jail that stayed down, as JSON: name, state, error. */
static void jdown(struct buf *o, const struct wdown *d)
{
	buf_puts(o, "{\"jail\":");
	buf_json_str(o, d->j->name);
	buf_puts(o, ",\"state\":\"down\",\"error\":");
	buf_json_str(o, d->why);
	buf_puts(o, "}");
}

static int cmd_status_all(struct warden *wd, int json, struct buf *o)
{
	if (json) {
		buf_printf(o, "{\"jails\":[");
		for (size_t i = 0; i < wd->njails; i++) {
			buf_puts(o, i ? "," : "");
			buf_json_str(o, wd->jails[i].j->name);
		}
		buf_puts(o, "],\"down\":[");	/* not started: fail2ban has no such jail */
		for (size_t i = 0; i < wd->ndown; i++) {
			buf_puts(o, i ? "," : "");
			jdown(o, &wd->down[i]);
		}
		buf_puts(o, "]");
		cluster_status_json(wd, o);	/* "cluster": {...} when warden_cluster is set */
		buf_puts(o, "}\n");
		return 0;
	}
	/* fail2ban-client lists the names sorted */
	const char **names = xcalloc(wd->njails ? wd->njails : 1, sizeof(*names));
	for (size_t i = 0; i < wd->njails; i++)
		names[i] = wd->jails[i].j->name;
	qsort(names, wd->njails, sizeof(*names), cmp_str);
	buf_printf(o, "Status\n|- Number of jail:\t%zu\n`- Jail list:\t", wd->njails);
	for (size_t i = 0; i < wd->njails; i++)
		buf_printf(o, "%s%s", i ? ", " : "", names[i]);
	buf_puts(o, "\n");
	free(names);
	return 0;
}

/* The files a jail reads, as status shows them: the followed files, or
 * for a jail fed by engine events its logpath patterns (*given is then
 * allocated for the caller to free). */
static size_t jail_files(struct wjail *w, const char ***paths, const char ***given)
{
	size_t np = w->fol ? follow_files(w->fol, paths) : 0;
	*given = NULL;
	if (np == 0 && w->events && w->j->nlogpath > 0) {
		/* fed by engine events instead of its logpath (our own maillog):
		 * list that path, as fail2ban would show the file it reads */
		*given = xcalloc(w->j->nlogpath, sizeof(**given));
		for (size_t i = 0; i < w->j->nlogpath; i++)
			(*given)[i] = w->j->logpath[i].pattern;
		*paths = *given;
		np = w->j->nlogpath;
	}
	return np;
}

static int cmd_status(struct warden *wd, const char *name, int shortform, int json, struct buf *o)
{
	struct wjail *w = warden_find_jail(wd, name);
	for (size_t i = 0; w == NULL && json && i < wd->ndown; i++)
		if (strcmp(wd->down[i].j->name, name) == 0) {
			jdown(o, &wd->down[i]);
			buf_puts(o, "\n");
			return 0;
		}
	if (w == NULL) {
		buf_printf(o, "Sorry but the jail '%s' does not exist\n", name);
		return -1;
	}
	long now = (long)clock_wall();
	struct jailrt *rt = w->rt;
	const char **paths = NULL, **given;
	size_t np = jail_files(w, &paths, &given);
	if (json) {
		buf_printf(o, "{\"jail\":");
		buf_json_str(o, name);
		buf_printf(o, ",\"state\":\"running\",\"currently_failed\":%zu,\"total_failed\":%lu,\"files\":[",
		    jailrt_current_failed(rt, now), rt->total_failed);
		for (size_t i = 0; i < np; i++) {
			buf_puts(o, i ? "," : "");
			buf_json_str(o, paths[i]);
		}
		buf_printf(o, "],\"currently_banned\":%zu,\"total_banned\":%lu", rt->nbans,
		    rt->total_banned);
		fwc_status_json(w->j, o);
		if (!shortform) {
			buf_puts(o, ",\"banned\":[");
			for (size_t i = 0; i < rt->nbans; i++) {
				buf_puts(o, i ? "," : "");
				buf_json_str(o, rt->bans[i].key);
			}
			buf_puts(o, "]");
		}
		buf_puts(o, "}\n");
		free(given);
		return 0;
	}
	buf_printf(o, "Status for the jail: %s\n|- Filter\n", name);
	buf_printf(o, "|  |- Currently failed:\t%zu\n|  |- Total failed:\t%lu\n",
	    jailrt_current_failed(rt, now), rt->total_failed);
	if (w->journal) {
		buf_printf(o, "|  `- Journal matches:\t%s\n", w->j->journalmatch ? w->j->journalmatch : "");
	} else {
		buf_puts(o, "|  `- File list:\t");
		for (size_t i = 0; i < np; i++)
			buf_printf(o, "%s%s", i ? " " : "", paths[i]);
		buf_puts(o, "\n");
	}
	buf_printf(o, "`- Actions\n   |- Currently banned:\t%zu\n   %s Total banned:\t%lu\n",
	    rt->nbans, shortform ? "`-" : "|-", rt->total_banned);
	if (!shortform) {
		buf_puts(o, "   `- Banned IP list:\t");
		for (size_t i = 0; i < rt->nbans; i++)
			buf_printf(o, "%s%s", i ? " " : "", rt->bans[i].key);
		buf_puts(o, "\n");
	}
	free(given);
	return 0;
}

static int cmd_banned(struct warden *wd, const char *ip, int json, struct buf *o)
{
	struct net a;
	char err[128];
	if (ip && net_parse_net(ip, &a, err, sizeof(err)) < 0) {
		buf_printf(o, "%s\n", err);
		return -1;
	}
	long now = (long)clock_wall();
	int first = 1;
	if (json)
		buf_puts(o, "[");
	for (size_t j = 0; j < wd->njails; j++) {
		struct jailrt *rt = wd->jails[j].rt;
		for (size_t i = 0; i < rt->nbans; i++) {
			struct jailrt_ban *b = &rt->bans[i];
			if (ip && !net_contains(&b->net, &a))
				continue;
			long left = b->bantime == JAIL_FOREVER ? -1 : jailrt_ban_left(b, now);
			if (json) {
				buf_puts(o, first ? "{\"jail\":" : ",{\"jail\":");
				buf_json_str(o, wd->jails[j].j->name);
				buf_puts(o, ",\"ip\":");
				buf_json_str(o, b->key);
				buf_printf(o, ",\"start\":%ld,\"bantime\":%ld,\"left\":%ld,\"count\":%ld}",
				    b->start, b->bantime, left, b->count);
			} else {
				char lt[32] = "forever";
				if (left >= 0)
					snprintf(lt, sizeof(lt), "%lds", left);
				buf_printf(o, "%s\t%s\t%s\n", wd->jails[j].j->name, b->key, lt);
			}
			first = 0;
		}
	}
	if (json)
		buf_puts(o, "]\n");
	if (ip && first && !json)
		buf_printf(o, "%s is not banned\n", ip);
	return 0;
}

struct why {
	struct buf *o;
	int json, n;
};

static int why_one(const struct store_failure *f, void *arg)
{
	struct why *w = arg;
	char when[32];
	struct tm tm;
	time_t t = f->time;
	localtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	if (w->json) {
		buf_puts(w->o, w->n ? ",{\"time\":" : "{\"time\":");
		buf_printf(w->o, "%ld,\"jail\":", f->time);
		buf_json_str(w->o, f->jail);
		buf_puts(w->o, ",\"source\":");
		buf_json_str(w->o, f->source ? f->source : "");
		buf_puts(w->o, ",\"matched\":");
		buf_json_str(w->o, f->matched ? f->matched : "");
		buf_puts(w->o, "}");
	} else {
		buf_printf(w->o, "%s\t%s\t%s\t%s\n", when, f->jail, f->source ? f->source : "",
		    f->matched ? f->matched : "");
	}
	w->n++;
	return 0;
}

static int cmd_why(struct warden *wd, const char *ip, int json, struct buf *o)
{
	struct why w = { o, json, 0 };
	if (json)
		buf_puts(o, "[");
	if (store_failure_list(wd->st, ip, why_one, &w) < 0) {
		buf_printf(o, "%s\n", store_error(wd->st));
		return -1;
	}
	if (json)
		buf_puts(o, "]\n");
	else if (w.n == 0)
		buf_printf(o, "no recorded failures for %s\n", ip);
	return 0;
}

/* ---- the requests of `mailwarden fail2ban-client` (raw values; the
 * client prints them as fail2ban-client does) ---- */

static struct wjail *need_jail(struct warden *wd, const char *name, struct buf *o)
{
	struct wjail *w = warden_find_jail(wd, name);
	if (w == NULL)
		buf_printf(o, "Sorry but the jail '%s' does not exist\n", name);
	return w;
}

static void get_bantime(struct wjail *w, struct buf *o)
{
	buf_printf(o, "%ld\n", w->j->bantime);
}

static void get_findtime(struct wjail *w, struct buf *o)
{
	buf_printf(o, "%ld\n", w->j->findtime);
}

static void get_maxretry(struct wjail *w, struct buf *o)
{
	buf_printf(o, "%ld\n", w->j->maxretry);
}

static void get_logpath(struct wjail *w, struct buf *o)
{
	const char **paths = NULL, **given;
	size_t np = w->journal ? 0 : jail_files(w, &paths, &given);
	for (size_t i = 0; i < np; i++)
		buf_printf(o, "%s\n", paths[i]);
	if (np)
		free(given);
}

static void get_ignoreip(struct wjail *w, struct buf *o)
{
	char t[NET_STRLEN];
	for (size_t i = 0; i < w->j->nignore; i++) {
		const struct net *n = &w->j->ignore[i];
		if (net_format(n, n->plen != net_family_bits(n->family), t, sizeof(t)) >= 0)
			buf_printf(o, "%s\n", t);
	}
	for (size_t i = 0; i < w->j->nignore_hosts; i++)
		buf_printf(o, "%s\n", w->j->ignore_hosts[i]);
}

static void get_actions(struct wjail *w, struct buf *o)
{
	for (size_t i = 0; i < w->j->nactions; i++) {	/* fail2ban's action names */
		char n[256];
		actcmd_actname(w->j, &w->j->actions[i], n, sizeof(n));
		buf_printf(o, "%s\n", n);
	}
}

static void get_bans(struct wjail *w, struct buf *o)
{
	for (size_t i = 0; i < w->rt->nbans; i++)
		buf_printf(o, "%s\t%ld\t%ld\n", w->rt->bans[i].key, w->rt->bans[i].start,
		    w->rt->bans[i].bantime);
}

static const struct {
	const char *key;
	void (*fn)(struct wjail *w, struct buf *o);
} get_keys[] = {
	{ "bantime", get_bantime },
	{ "findtime", get_findtime },
	{ "maxretry", get_maxretry },
	{ "logpath", get_logpath },
	{ "ignoreip", get_ignoreip },
	{ "actions", get_actions },
	{ "bans", get_bans },	/* KEY TAB start TAB bantime, in status order */
};

static int cmd_get(struct warden *wd, int argc, char **argv, int json, struct buf *o)
{
	for (size_t i = 0; i < sizeof(get_keys) / sizeof(*get_keys); i++) {
		if (strcmp(argv[2], get_keys[i].key) != 0)
			continue;
		struct wjail *w = need_jail(wd, argv[1], o);
		if (w == NULL)
			return -1;
		get_keys[i].fn(w, o);
		return 0;
	}
	buf_printf(o, "Invalid command (no get action or not yet implemented)\n");
	return -1;
}

static int cmd_ping(struct warden *wd, int argc, char **argv, int json, struct buf *o)
{
	buf_puts(o, "pong\n");
	return 0;
}

static int cmd_jails(struct warden *wd, int argc, char **argv, int json, struct buf *o)
{
	for (size_t i = 0; i < wd->njails; i++)
		buf_printf(o, "%s\n", wd->jails[i].j->name);
	return 0;
}

/* banip JAIL IP...: every IP is checked first (none banned if one is not
 * an address or is ignored); the answer is how many were newly banned. */
static int cmd_banip(struct warden *wd, int argc, char **argv, int json, struct buf *o)
{
	char err[512];
	struct net net;
	struct wjail *w = need_jail(wd, argv[1], o);
	if (w == NULL)
		return -1;
	for (int i = 2; i < argc; i++)
		if (ban_ip_check(w, argv[i], &net, err, sizeof(err)) < 0) {
			buf_printf(o, "%s\n", err);
			return -1;
		}
	size_t n = 0;
	for (int i = 2; i < argc; i++)
		if (ban_ip_check(w, argv[i], &net, err, sizeof(err)) == 0 &&
		    ban_ip(w, argv[i], err, sizeof(err)) == 0)
			n++;
	buf_printf(o, "%zu\n", n);
	return 0;
}

/* unbanip JAIL|--all [IP...]: one line per IP with the bans it lifted (0
 * for one that is not an address); without IP every ban of the jail. */
static int cmd_unbanip(struct warden *wd, int argc, char **argv, int json, struct buf *o)
{
	char err[512];
	size_t n;
	struct wjail *w = NULL;
	if (strcmp(argv[1], "--all") != 0 && (w = need_jail(wd, argv[1], o)) == NULL)
		return -1;
	if (argc == 2) {
		if ((w ? ban_unban_jail_ip(w, NULL, &n, err, sizeof(err)) :
		    ban_unban_ip(wd, NULL, &n, err, sizeof(err))) < 0)
			n = 0;
		buf_printf(o, "%zu\n", n);
		return 0;
	}
	for (int i = 2; i < argc; i++) {
		if ((w ? ban_unban_jail_ip(w, argv[i], &n, err, sizeof(err)) :
		    ban_unban_ip(wd, argv[i], &n, err, sizeof(err))) < 0)
			n = 0;
		buf_printf(o, "%zu\n", n);
	}
	return 0;
}

static int cmd_flushlogs(struct warden *wd, int argc, char **argv, int json, struct buf *o)
{
	char err[1200];
	int rc = f2blog_reopen(err, sizeof(err));
	if (rc < 0) {
		buf_printf(o, "%s\n", err);
		return -1;
	}
	buf_puts(o, rc == 0 ? "rolled over\n" : "flushed\n");
	return 0;
}

/* ---- `mailwarden status|ban|unban|banned|why|reload` ---- */

static int cmd_status_any(struct warden *wd, int argc, char **argv, int json, struct buf *o)
{
	if (argc == 1)
		return cmd_status_all(wd, json, o);
	if (argc == 3 && strcmp(argv[2], "short") != 0) {
		buf_puts(o, "Sorry but the command is invalid\n");
		return -1;
	}
	return cmd_status(wd, argv[1], argc == 3, json, o);
}

static int cmd_banned_any(struct warden *wd, int argc, char **argv, int json, struct buf *o)
{
	return cmd_banned(wd, argc == 2 ? argv[1] : NULL, json, o);
}

/* count: the number of bans in force in every jail (the master's STATUS=
 * line asks it every 5 s instead of the whole "banned" list). */
static int cmd_count(struct warden *wd, int argc, char **argv, int json, struct buf *o)
{
	size_t n = 0;
	for (size_t j = 0; j < wd->njails; j++)
		n += wd->jails[j].rt->nbans;
	buf_printf(o, json ? "{\"banned\":%zu}\n" : "%zu\n", n);
	return 0;
}

static int cmd_why_any(struct warden *wd, int argc, char **argv, int json, struct buf *o)
{
	return cmd_why(wd, argv[1], json, o);
}

static int cmd_ban(struct warden *wd, int argc, char **argv, int json, struct buf *o)
{
	char err[1024];
	struct wjail *w = need_jail(wd, argv[1], o);
	if (w == NULL)
		return -1;
	if (ban_ip(w, argv[2], err, sizeof(err)) < 0) {
		buf_printf(o, "%s\n", err);
		return -1;
	}
	buf_puts(o, json ? "{\"banned\":1}\n" : "1\n");
	return 0;
}

static int cmd_unban(struct warden *wd, int argc, char **argv, int json, struct buf *o)
{
	char err[1024];
	size_t n;
	const char *ip = strcmp(argv[1], "--all") == 0 ? NULL : argv[1];
	if (ban_unban_ip(wd, ip, &n, err, sizeof(err)) < 0) {
		buf_printf(o, "%s\n", err);
		return -1;
	}
	buf_printf(o, json ? "{\"unbanned\":%zu}\n" : "%zu\n", n);
	return 0;
}

/* reload [JAIL]: the whole ban engine is re-read (bans restored); with a
 * JAIL, only if the new configuration has it enabled. */
static int cmd_reload(struct warden *wd, int argc, char **argv, int json, struct buf *o)
{
	char err[1024];
	if (argc == 2) {
		struct config *nc = config_load(wd->cfg_path, err, sizeof(err));
		struct jailconf jc = { 0 };
		int found = nc && jailconf_load(nc, &jc, err, sizeof(err)) == 0 &&
		    jailconf_find(&jc, argv[1]) != NULL;
		if (nc) {
			jailconf_free(&jc);
			config_free(nc);
		}
		if (!found) {
			buf_printf(o, "No section: '%s'\n", argv[1]);
			return -1;
		}
	}
	if (warden_reload(wd, err, sizeof(err)) < 0) {
		buf_printf(o, "%s\n", err);
		return -1;
	}
	for (size_t i = 0; argc == 2 && i < wd->ndown; i++)
		if (strcmp(wd->down[i].j->name, argv[1]) == 0) {
			buf_printf(o, "%s\n", wd->down[i].why);	/* fail2ban's error too */
			return -1;
		}
	buf_puts(o, json ? "{\"reloaded\":true}\n" : "OK\n");
	return 0;
}

typedef int control_fn(struct warden *wd, int argc, char **argv, int json, struct buf *o);

/* Every request: its word, the number of words it takes (with itself). */
static const struct {
	const char *name;
	int min, max;
	control_fn *fn;
} commands[] = {
	{ "status", 1, 3, cmd_status_any },
	{ "banned", 1, 2, cmd_banned_any },
	{ "count", 1, 1, cmd_count },
	{ "why", 2, 2, cmd_why_any },
	{ "ban", 3, 3, cmd_ban },
	{ "unban", 2, 2, cmd_unban },
	{ "reload", 1, 2, cmd_reload },
	{ "ping", 1, 1, cmd_ping },
	{ "jails", 1, 1, cmd_jails },
	{ "get", 3, 3, cmd_get },
	{ "banip", 2, CTL_ARGS_MAX, cmd_banip },
	{ "unbanip", 2, CTL_ARGS_MAX, cmd_unbanip },
	{ "flushlogs", 1, 1, cmd_flushlogs },
};

int control_run(struct warden *wd, int argc, char **argv, int json, struct buf *o)
{
	const char *c = argc > 0 ? argv[0] : "";
	for (size_t i = 0; i < sizeof(commands) / sizeof(*commands); i++)
		if (strcmp(c, commands[i].name) == 0 && argc >= commands[i].min &&
		    argc <= commands[i].max)
			return commands[i].fn(wd, argc, argv, json, o);
	buf_puts(o, "Sorry but the command is invalid\n");
	return -1;
}

static void on_client(int fd, int events, void *arg)
{
	/* One request, read with a short blocking timeout: the peer is a
	 * local root client that writes its line at once. */
	char req[CTL_REQ_MAX + 1];
	size_t len = 0;
	struct timeval tv = { 2, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (len < CTL_REQ_MAX && memchr(req, '\n', len) == NULL) {
		ssize_t n = read(fd, req + len, CTL_REQ_MAX - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	req[len] = '\0';
	struct buf o;
	buf_init(&o, CTL_OUT_MAX);
	char *nl = strchr(req, '\n');
	if (nl == NULL) {
		buf_puts(&o, "error\nrequest too long or incomplete\n");
	} else {
		*nl = '\0';
		char *argv[CTL_ARGS_MAX + 2], *save = NULL;
		int argc = 0, json = 0;
		for (char *w = strtok_r(req, "\t", &save); w && argc < CTL_ARGS_MAX + 2;
		    w = strtok_r(NULL, "\t", &save))
			argv[argc++] = w;
		if (argc > 0 && strcmp(argv[0], "json") == 0) {
			json = 1;
			memmove(argv, argv + 1, (size_t)--argc * sizeof(*argv));
		}
		struct buf body;
		buf_init(&body, CTL_OUT_MAX - 16);
		int rc = -1;
		if (argc > CTL_ARGS_MAX)
			buf_printf(&body, "more than %d words in a request\n", CTL_ARGS_MAX);
		else
			rc = control_run(ctl_wd, argc, argv, json, &body);
		buf_puts(&o, rc == 0 ? "ok\n" : "error\n");
		buf_append(&o, body.data ? body.data : "", body.len);
		buf_free(&body);
	}
	for (size_t off = 0; off < o.len;) {
		ssize_t n = write(fd, o.data + off, o.len - off);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	buf_free(&o);
}

static void on_accept(int lfd, int events, void *arg)
{
	for (int i = 0; i < 16; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct ucred cr;
		socklen_t cl = sizeof(cr);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0 ||
		    (cr.uid != 0 && cr.uid != geteuid())) {
			static const char msg[] = "error\npermission denied: the warden's control "
			    "socket is for root only\n";
			if (write(fd, msg, sizeof(msg) - 1) < 0)
				log_warn("control: refusing uid %d: %s", (int)cr.uid, strerror(errno));
			log_warn("control: refused a client with uid %d", (int)cr.uid);
			close(fd);
			continue;
		}
		on_client(fd, LOOP_READ, NULL);
		close(fd);
	}
}

int control_bind(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	if (snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path) >= (int)sizeof(sun.sun_path)) {
		snprintf(err, errlen, "%s: path too long for a socket", path);
		return -1;
	}
	/* only a stale socket is replaced, never another kind of file */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && unlink(path) < 0) {
		snprintf(err, errlen, "unlink %s: %s", path, strerror(errno));
		return -1;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	mode_t old = umask(0177);	/* the socket is made 0600: never a moment wider */
	int rc = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc < 0 || listen(fd, 16) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

void control_listen(int fd, struct warden *wd)
{
	ctl_fd = fd;
	ctl_wd = wd;
	loop_watch(ctl_fd, LOOP_READ, on_accept, NULL);
}

void control_close(void)
{
	if (ctl_fd < 0)
		return;
	loop_unwatch(ctl_fd);
	close(ctl_fd);
	ctl_fd = -1;
}
