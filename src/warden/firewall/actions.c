/*
 * actions — the firewall back ends of a jail's actions (see actions.h),
 * one table row each, {open, start, ban, unban, stop, check}: the
 * built-in nft sets, and fail2ban action.d command actions. An action file is read by the INI module (ini.h) into a
 * table of (section, key, value); values are resolved when a command is
 * built: %(x)s from the same section, then [DEFAULT], [Init],
 * [Definition]; <tag> from the run-time values (ip, failures, F-USER
 * ...), the jail's action options, [Init], [Definition], then
 * name/port/protocol/bantime of the jail.
 * Values that come from the outside (F-USER, matches) are shell-escaped
 * as fail2ban's escapeTag does. Each action runs its commands one at a
 * time, in order, in a child (/bin/sh -c) whose output is logged.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/util.h"
#include "warden/firewall/actions.h"
#include "warden/ini.h"
#include "warden/firewall/nft.h"

#define ACT_RETRY_MS 30000
#define ACT_ATTEMPTS 3
#define ACT_OUT_MAX 2048
#define ACT_EXPAND_MAX 4096	/* %(x)s and <tag> expansions per command */
#define ACT_MAXDEPTH 10		/* nested %(x)s, and nested <tag> */

struct action;

/* A firewall back end: what an action does at each step. */
struct action_backend {
	const char *name;	/* the action name that selects it; NULL: any other */
	int commands;		/* runs programs (the firewall keeps root for it) */
	int (*open_fn)(struct action *a, const char *const *dirs, struct nft *n, char *err,
	    size_t errlen);
	int (*start_fn)(struct action *a, char *err, size_t errlen);
	int (*ban_fn)(struct action *a, const struct action_ban *b, size_t n, char *err,
	    size_t errlen);
	int (*unban_fn)(struct action *a, const struct action_ban *b, size_t n, char *err,
	    size_t errlen);
	void (*stop_fn)(struct action *a);
	int (*check_fn)(struct action *a, char *err, size_t errlen);
};

struct action {
	const struct jail *jail;
	char *name;
	const struct action_backend *be;
	struct nft *nft;	/* the nft back end's context */
	const struct jail_ref *ref;
	struct ini ini;		/* the action file, with .local and includes */
	/* command queue */
	char **cmds;
	size_t ncmds, capcmds;
	pid_t pid;
	int attempts;
	int outfd;
	struct buf out;
	struct loop_timer retry;
	int retrying;		/* retry timer armed */
	struct action *next;	/* all command actions, for reaping */
};

static struct action *all;
/* Expansions left for the command being built: values that name each
 * other several times would otherwise take exponential time. */
static unsigned expand_left = ACT_EXPAND_MAX;

static const char *kv_get(const struct action *a, const char *sec, const char *key)
{
	const struct ini_opt *o = ini_get(&a->ini, sec, key);
	return o ? o->val : NULL;
}

/* %(x)s from the same section, then [DEFAULT], [Init], [Definition]. */
static const char *const *action_fallback(const char *sec)
{
	static const char *const order[] = { "DEFAULT", "Init", "Definition", NULL };
	return order;
}

/* Unknown names and loops are kept as written; bounded by expand_left. */
static struct ini_scope action_scope(const struct action *a)
{
	struct ini_scope sc = { .ini = &a->ini, .fallback = action_fallback,
	    .name = a->name, .maxdepth = ACT_MAXDEPTH, .budget = &expand_left };
	return sc;
}

/* fail2ban's escapeTag: backslash before shell-special characters. */
static void escaped(struct buf *out, const char *s)
{
	for (; *s; s++) {
		if (strchr("\\#&;`|*?~<>^()[]{}$'\"\n\r", *s))
			buf_append(out, "\\", 1);
		buf_append(out, s, 1);
	}
}

/* Run-time tags of one ban. */
struct tags {
	const struct action_ban *b;
	char ip[NET_STRLEN];
	char num[4][32];
};

/* What one <tag> means for a command. */
struct tagctx {
	const struct action *a;
	const struct tags *tg;	/* NULL: no run-time tags */
};

static void action_tag(void *arg, const char *tag, struct ini_tag *t)
{
	const struct tagctx *c = arg;
	const struct action *a = c->a;
	const struct tags *tg = c->tg;
	const struct jail *j = a->jail;
	const char *val = NULL;
	int outside = 0;

	if (tg && strcmp(tag, "ip") == 0)
		val = tg->ip;
	else if (tg && strcmp(tag, "failures") == 0)
		val = tg->num[0];
	else if (tg && strcmp(tag, "bantime") == 0)
		val = tg->num[1];
	else if (tg && strcmp(tag, "time") == 0)
		val = tg->num[2];
	else if (tg && strcmp(tag, "ip-timeout") == 0)
		val = tg->num[3];
	else if (tg && (strcmp(tag, "F-USER") == 0 || strcmp(tag, "user") == 0))
		val = tg->b->user ? tg->b->user : "", outside = 1;
	else if (tg && strcmp(tag, "matches") == 0)
		val = tg->b->matches ? tg->b->matches : "", outside = 1;
	if (val == NULL)
		val = jailconf_ref_opt(a->ref, tag);
	if (val == NULL)
		val = kv_get(a, "Init", tag);
	if (val == NULL)
		val = kv_get(a, "Definition", tag);
	if (val == NULL && strcmp(tag, "name") == 0)
		val = j->name;
	if (val == NULL && strcmp(tag, "port") == 0)
		val = j->port;
	if (val == NULL && strcmp(tag, "protocol") == 0)
		val = j->protocol;
	if (val != NULL && outside) {
		struct buf e;
		buf_init(&e, 65536);
		escaped(&e, val);
		t->owned = xstrdup(e.data ? e.data : "");
		buf_free(&e);
		t->final = 1;
		val = t->owned;
	}
	t->val = val;
}

/* The command of [Definition] key for ban b (NULL: no run-time tags);
 * NULL if the key is unset or empty. */
static char *command(const struct action *a, const char *key, const struct action_ban *b)
{
	const char *raw = kv_get(a, "Definition", key);
	if (raw == NULL || *raw == '\0')
		return NULL;
	struct tags tg, *tp = NULL;
	if (b) {
		tg.b = b;
		net_format(&b->net, b->net.plen != (b->net.family == 2 ? 32 : 128), tg.ip,
		    sizeof(tg.ip));
		snprintf(tg.num[0], sizeof(tg.num[0]), "%ld", b->failures);
		snprintf(tg.num[1], sizeof(tg.num[1]), "%ld", b->bantime);
		snprintf(tg.num[2], sizeof(tg.num[2]), "%ld", (long)clock_wall());
		snprintf(tg.num[3], sizeof(tg.num[3]), "%ld", b->timeout);
		tp = &tg;
	}
	struct buf i, o;
	struct ini_err e;
	struct ini_scope sc = action_scope(a);
	struct tagctx tc = { a, tp };
	buf_init(&i, 65536);
	buf_init(&o, 65536);
	expand_left = ACT_EXPAND_MAX;
	(void)ini_interp(&sc, "Definition", raw, NULL, &i, &e);	/* no errors: kept */
	ini_tags(i.data ? i.data : "", action_tag, &tc, &sc, "Definition", ACT_MAXDEPTH, &o);
	buf_free(&i);
	char *s = xstrdup(o.data ? o.data : "");
	buf_free(&o);
	if (*str_trim(s) == '\0') {
		free(s);
		return NULL;
	}
	return s;
}

static void run_next(struct action *a);

static void on_retry(void *arg)
{
	struct action *a = arg;
	a->retrying = 0;
	run_next(a);
}

static void on_output(int fd, int events, void *arg)
{
	struct action *a = arg;
	char tmp[512];
	ssize_t n = read(fd, tmp, sizeof(tmp));
	if (n > 0) {
		if (a->out.len < ACT_OUT_MAX)
			buf_append(&a->out, tmp, (size_t)n);
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	loop_unwatch(fd);
	close(fd);
	a->outfd = -1;
}

static void enqueue(struct action *a, char *cmd)
{
	if (cmd == NULL)
		return;
	if (a->ncmds == a->capcmds) {
		a->capcmds = a->capcmds ? 2 * a->capcmds : 8;
		a->cmds = xrealloc(a->cmds, a->capcmds * sizeof(*a->cmds));
	}
	a->cmds[a->ncmds++] = cmd;
	run_next(a);
}

static void run_next(struct action *a)
{
	if (a->pid > 0 || a->ncmds == 0 || a->retrying)
		return;
	int p[2];
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) {
		log_warn("[%s] action %s: pipe: %s", a->jail->name, a->name, strerror(errno));
		return;
	}
	pid_t pid = fork();
	if (pid < 0) {
		log_warn("[%s] action %s: fork: %s", a->jail->name, a->name, strerror(errno));
		close(p[0]);
		close(p[1]);
		a->retrying = 1;
		loop_timer_set(&a->retry, ACT_RETRY_MS, on_retry, a);
		return;
	}
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);
		if (nul >= 0)
			dup2(nul, 0);
		dup2(p[1], 1);
		dup2(p[1], 2);
		execl("/bin/sh", "sh", "-c", a->cmds[0], (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	a->pid = pid;
	a->outfd = p[0];
	buf_reset(&a->out);
	loop_watch(p[0], LOOP_READ, on_output, a);
}

/* A command finished with status. */
static void done(struct action *a, int status)
{
	a->pid = 0;
	if (a->outfd >= 0) {	/* drain what is left */
		on_output(a->outfd, LOOP_READ, a);
		if (a->outfd >= 0) {
			loop_unwatch(a->outfd);
			close(a->outfd);
			a->outfd = -1;
		}
	}
	int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	if (!ok) {
		a->attempts++;
		log_warn("[%s] action %s: command failed (%s %d, attempt %d of %d): %s -- output: %s",
		    a->jail->name, a->name, WIFEXITED(status) ? "exit" : "signal",
		    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), a->attempts,
		    ACT_ATTEMPTS, a->cmds[0], a->out.data ? a->out.data : "");
		if (a->attempts < ACT_ATTEMPTS) {
			a->retrying = 1;
			loop_timer_set(&a->retry, ACT_RETRY_MS, on_retry, a);
			return;
		}
		log_error("[%s] action %s: giving up on: %s", a->jail->name, a->name, a->cmds[0]);
	}
	a->attempts = 0;
	free(a->cmds[0]);
	memmove(a->cmds, a->cmds + 1, (a->ncmds - 1) * sizeof(*a->cmds));
	a->ncmds--;
	run_next(a);
}

void actions_reap(void)
{
	int status;
	for (struct action *a = all; a; a = a->next) {
		if (a->pid > 0 && waitpid(a->pid, &status, WNOHANG) == a->pid)
			done(a, status);
	}
}

size_t actions_pending(void)
{
	size_t n = 0;
	for (struct action *a = all; a; a = a->next)
		n += a->ncmds;
	return n;
}

/* ---- back end: the built-in nft sets (nft.h) ---- */

static int nft_be_open(struct action *a, const char *const *dirs, struct nft *n, char *err,
    size_t errlen)
{
	if (n == NULL) {
		snprintf(err, errlen, "[%s] action nft: nftables is not available", a->jail->name);
		return -1;
	}
	a->nft = n;
	return 0;
}

static int nft_be_start(struct action *a, char *err, size_t errlen)
{
	const char *bt = jailconf_ref_opt(a->ref, "blocktype");
	return nft_jail_setup(a->nft, a->jail->name, a->jail->port, a->jail->protocol,
	    bt, err, errlen);
}

static int nft_be_ban(struct action *a, const struct action_ban *b, size_t n, char *err,
    size_t errlen)
{
	struct nft_ban *nb = xcalloc(n ? n : 1, sizeof(*nb));
	for (size_t i = 0; i < n; i++) {
		nb[i].net = b[i].net;
		nb[i].timeout = b[i].timeout;
	}
	int rc = nft_ban(a->nft, a->jail->name, nb, n, err, errlen);
	free(nb);
	return rc;
}

static int nft_be_unban(struct action *a, const struct action_ban *b, size_t n, char *err,
    size_t errlen)
{
	struct net *nets = xcalloc(n ? n : 1, sizeof(*nets));
	for (size_t i = 0; i < n; i++)
		nets[i] = b[i].net;
	int rc = nft_unban(a->nft, a->jail->name, nets, n, err, errlen);
	free(nets);
	return rc;
}

static void nft_be_stop(struct action *a)
{
	char err[512];
	if (nft_jail_teardown(a->nft, a->jail->name, err, sizeof(err)) < 0)
		log_warn("[%s] nft teardown: %s", a->jail->name, err);
}

/* The jail's sets are there (it was started and not torn down). */
static int nft_be_check(struct action *a, char *err, size_t errlen)
{
	return nft_count(a->nft, a->jail->name, err, errlen) < 0 ? -1 : 0;
}

/* ---- back end: fail2ban action.d commands ---- */

static int cmd_be_open(struct action *a, const char *const *dirs, struct nft *n, char *err,
    size_t errlen)
{
	const struct jail_ref *ref = a->ref;
	size_t len = strlen(ref->name);
	if (len > 3 && strcmp(ref->name + len - 3, ".py") == 0) {
		snprintf(err, errlen, "[%s] action %s: Python actions are not supported; "
		    "use an action.d .conf file or nft", a->jail->name, ref->name);
		return -1;
	}
	const struct ini_src src = { dirs, NULL };
	char where[1024];
	int r = ini_read_name(&a->ini, &src, ref->name, where, sizeof(where), err, errlen);
	if (r == 0)
		snprintf(err, errlen, "[%s] action %s: no %s.conf in the action directories",
		    a->jail->name, ref->name, ref->name);
	if (r <= 0)
		return -1;
	a->next = all;
	all = a;
	return 0;
}

static int cmd_be_start(struct action *a, char *err, size_t errlen)
{
	enqueue(a, command(a, "actionstart", NULL));
	return 0;
}

/* actioncheck before each actionban, as fail2ban does. */
static int cmd_be_ban(struct action *a, const struct action_ban *b, size_t n, char *err,
    size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		enqueue(a, command(a, "actioncheck", &b[i]));
		enqueue(a, command(a, "actionban", &b[i]));
	}
	return 0;
}

static int cmd_be_unban(struct action *a, const struct action_ban *b, size_t n, char *err,
    size_t errlen)
{
	for (size_t i = 0; i < n; i++)
		enqueue(a, command(a, "actionunban", &b[i]));
	return 0;
}

static void cmd_be_stop(struct action *a)
{
	enqueue(a, command(a, "actionstop", NULL));
}

/* actioncheck without run-time tags, queued like the others. */
static int cmd_be_check(struct action *a, char *err, size_t errlen)
{
	enqueue(a, command(a, "actioncheck", NULL));
	return 0;
}

/* ---- the table, and the steps through it ---- */

static const struct action_backend backends[] = {
	{ "nft", 0, nft_be_open, nft_be_start, nft_be_ban, nft_be_unban, nft_be_stop,
	  nft_be_check },
	{ NULL, 1, cmd_be_open, cmd_be_start, cmd_be_ban, cmd_be_unban, cmd_be_stop,
	  cmd_be_check },
};

static const struct action_backend *backend_for(const char *name)
{
	const struct action_backend *be = backends;
	while (be->name && strcmp(be->name, name) != 0)
		be++;
	return be;
}

int action_is_command(const struct jail_ref *ref)
{
	return backend_for(ref->name)->commands;
}

struct action *action_new(const struct jail *j, const struct jail_ref *ref,
    const char *const *dirs, struct nft *n, char *err, size_t errlen)
{
	struct action *a = xcalloc(1, sizeof(*a));
	a->jail = j;
	a->ref = ref;
	a->name = xstrdup(ref->name);
	a->outfd = -1;
	a->be = backend_for(ref->name);
	if (a->be->open_fn(a, dirs, n, err, errlen) < 0) {
		action_free(a);
		return NULL;
	}
	return a;
}

int action_start(struct action *a, char *err, size_t errlen)
{
	return a->be->start_fn(a, err, errlen);
}

int action_ban(struct action *a, const struct action_ban *b, size_t n, char *err, size_t errlen)
{
	return a->be->ban_fn(a, b, n, err, errlen);
}

int action_unban(struct action *a, const struct action_ban *b, size_t n, char *err,
    size_t errlen)
{
	return a->be->unban_fn(a, b, n, err, errlen);
}

void action_stop(struct action *a)
{
	a->be->stop_fn(a);
}

int action_check(struct action *a, char *err, size_t errlen)
{
	return a->be->check_fn(a, err, errlen);
}

void action_free(struct action *a)
{
	if (a == NULL)
		return;
	for (struct action **p = &all; *p; p = &(*p)->next)
		if (*p == a) {
			*p = a->next;
			break;
		}
	loop_timer_clear(&a->retry);
	if (a->outfd >= 0) {
		loop_unwatch(a->outfd);
		close(a->outfd);
	}
	ini_free(&a->ini);
	for (size_t i = 0; i < a->ncmds; i++)
		free(a->cmds[i]);
	free(a->cmds);
	buf_free(&a->out);
	free(a->name);
	free(a);
}

char *action_command_text(const struct action *a, const char *key, const struct action_ban *b)
{
	return command(a, key, b);
}
