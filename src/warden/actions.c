/*
 * actions — the nft action and fail2ban action.d command actions (see
 * actions.h). An action file is read into a small table of (section,
 * key, value); values are resolved when a command is built: %(x)s from
 * the same section, then [DEFAULT], [Init], [Definition]; <tag> from the
 * run-time values (ip, failures, F-USER ...), the jail's action options,
 * [Init], [Definition], then name/port/protocol/bantime of the jail.
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

#include "common/buf.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/util.h"
#include "warden/actions.h"
#include "warden/nft.h"

#define ACT_MAXKV 256
#define ACT_RETRY_MS 30000
#define ACT_ATTEMPTS 3
#define ACT_OUT_MAX 2048
#define ACT_EXPAND_MAX 4096	/* %(x)s and <tag> expansions per command */

struct kv {
	char *sec, *key, *val;
};

struct action {
	const struct jail *jail;
	char *name;
	struct nft *nft;	/* built-in nft action, else NULL */
	const struct jail_ref *ref;
	struct kv kv[ACT_MAXKV];
	int nkv;
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
	for (int i = a->nkv - 1; i >= 0; i--)	/* later (.local, after) wins */
		if (strcmp(a->kv[i].sec, sec) == 0 && strcmp(a->kv[i].key, key) == 0)
			return a->kv[i].val;
	return NULL;
}

static void kv_set(struct action *a, const char *sec, const char *key, const char *val)
{
	if (a->nkv == ACT_MAXKV)
		return;
	a->kv[a->nkv].sec = xstrdup(sec);
	a->kv[a->nkv].key = xstrdup(key);
	a->kv[a->nkv].val = xstrdup(val);
	a->nkv++;
}

static int read_file(struct action *a, const char *dir, const char *file, int depth,
    int must, char *err, size_t errlen);

/* Read the files named in [INCLUDES] key (before/after) of path. */
static int includes(struct action *a, const char *dir, const struct kv *inc, int ninc,
    const char *which, int depth, char *err, size_t errlen)
{
	for (int i = 0; i < ninc; i++) {
		if (strcmp(inc[i].key, which) != 0)
			continue;
		char *list = xstrdup(inc[i].val), *save = NULL;
		for (char *f = strtok_r(list, " \t\n", &save); f; f = strtok_r(NULL, " \t\n", &save))
			if (read_file(a, dir, f, depth + 1, 1, err, errlen) < 0) {
				free(list);
				return -1;
			}
		free(list);
	}
	return 0;
}

static int read_file(struct action *a, const char *dir, const char *file, int depth,
    int must, char *err, size_t errlen)
{
	char path[1024];
	if (depth > 8) {
		snprintf(err, errlen, "%s/%s: include loop", dir, file);
		return -1;
	}
	if (snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int)sizeof(path)) {
		snprintf(err, errlen, "%s: path too long", file);
		return -1;
	}
	FILE *fp = fopen(path, "r");
	if (fp == NULL) {
		if (!must && errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	/* Read into a private table first: [INCLUDES] before goes first. */
	struct kv *t = xcalloc(ACT_MAXKV, sizeof(*t));
	int nt = 0;
	char sec[128] = "", line[4096];
	while (fgets(line, sizeof(line), fp)) {
		line[strcspn(line, "\r\n")] = '\0';
		if ((line[0] == ' ' || line[0] == '\t') && nt > 0 && *str_trim(line) &&
		    strcmp(t[nt - 1].sec, sec) == 0) {
			char *v = str_trim(line);
			if (*v == '#' || *v == ';')
				continue;
			size_t n = strlen(t[nt - 1].val) + strlen(v) + 2;
			char *nv = xmalloc(n);
			snprintf(nv, n, "%s%s%s", t[nt - 1].val, *t[nt - 1].val ? "\n" : "", v);
			free(t[nt - 1].val);
			t[nt - 1].val = nv;
			continue;
		}
		char *s = str_trim(line);
		if (*s == '\0' || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *e = strchr(s, ']');
			if (e) {
				*e = '\0';
				str_copy(sec, sizeof(sec), s + 1);
			}
			continue;
		}
		char *eq = strpbrk(s, "=:");
		if (eq == NULL || nt == ACT_MAXKV)
			continue;
		*eq = '\0';
		t[nt].sec = xstrdup(sec);
		t[nt].key = xstrdup(str_trim(s));
		t[nt].val = xstrdup(str_trim(eq + 1));
		nt++;
	}
	fclose(fp);
	int rc = includes(a, dir, t, nt, "before", depth, err, errlen);
	for (int i = 0; i < nt && rc == 0; i++)
		if (strcmp(t[i].sec, "INCLUDES") != 0)
			kv_set(a, t[i].sec, t[i].key, t[i].val);
	if (rc == 0)
		rc = includes(a, dir, t, nt, "after", depth, err, errlen);
	for (int i = 0; i < nt; i++) {
		free(t[i].sec);
		free(t[i].key);
		free(t[i].val);
	}
	free(t);
	return rc;
}

/* %(x)s interpolation of v (from section sec) into out. */
static void interp(const struct action *a, const char *sec, const char *v, struct buf *out,
    int depth)
{
	static const char *const order[] = { NULL, "DEFAULT", "Init", "Definition" };
	while (*v) {
		if (v[0] == '%' && v[1] == '%') {
			buf_append(out, "%", 1);
			v += 2;
			continue;
		}
		const char *e;
		if (v[0] == '%' && v[1] == '(' && (e = strstr(v, ")s")) && depth < 10 &&
		    expand_left > 0) {
			char key[128];
			snprintf(key, sizeof(key), "%.*s", (int)(e - v - 2), v + 2);
			const char *val = NULL;
			for (size_t i = 0; i < 4 && val == NULL; i++)
				val = kv_get(a, order[i] ? order[i] : sec, key);
			if (val == NULL && strcmp(key, "__name__") == 0)
				val = a->name;
			if (val) {
				expand_left--;
				interp(a, sec, val, out, depth + 1);
				v = e + 2;
				continue;
			}
		}
		buf_append(out, v, 1);
		v++;
	}
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

/* <tag> substitution of v into out. */
static void subst(const struct action *a, const struct tags *tg, const char *v,
    struct buf *out, int depth)
{
	const struct jail *j = a->jail;
	while (*v) {
		const char *e = v[0] == '<' ? strchr(v + 1, '>') : NULL;
		if (e == NULL || e - v > 64 || depth > 10 || expand_left == 0) {
			buf_append(out, v, 1);
			v++;
			continue;
		}
		char tag[80];
		snprintf(tag, sizeof(tag), "%.*s", (int)(e - v - 1), v + 1);
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
		if (val == NULL) {	/* unknown: kept as written */
			buf_append(out, v, (size_t)(e - v + 1));
		} else if (outside) {
			escaped(out, val);
		} else {
			struct buf t;
			buf_init(&t, 65536);
			expand_left--;
			interp(a, "Definition", val, &t, 0);
			subst(a, tg, t.data ? t.data : "", out, depth + 1);
			buf_free(&t);
		}
		v = e + 1;
	}
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
		snprintf(tg.num[2], sizeof(tg.num[2]), "%ld", (long)time(NULL));
		snprintf(tg.num[3], sizeof(tg.num[3]), "%ld", b->timeout);
		tp = &tg;
	}
	struct buf i, o;
	buf_init(&i, 65536);
	buf_init(&o, 65536);
	expand_left = ACT_EXPAND_MAX;
	interp(a, "Definition", raw, &i, 0);
	subst(a, tp, i.data ? i.data : "", &o, 0);
	buf_free(&i);
	char *s = xstrdup(o.data ? o.data : "");
	buf_free(&o);
	if (*str_trim(s) == '\0') {
		free(s);
		return NULL;
	}
	return s;
}

struct action *action_new(const struct jail *j, const struct jail_ref *ref,
    const char *const *dirs, struct nft *n, char *err, size_t errlen)
{
	struct action *a = xcalloc(1, sizeof(*a));
	a->jail = j;
	a->ref = ref;
	a->name = xstrdup(ref->name);
	a->outfd = -1;
	if (strcmp(ref->name, "nft") == 0) {
		if (n == NULL) {
			snprintf(err, errlen, "[%s] action nft: nftables is not available", j->name);
			action_free(a);
			return NULL;
		}
		a->nft = n;
		return a;
	}
	size_t len = strlen(ref->name);
	if (len > 3 && strcmp(ref->name + len - 3, ".py") == 0) {
		snprintf(err, errlen, "[%s] action %s: Python actions are not supported; "
		    "use an action.d .conf file or nft", j->name, ref->name);
		action_free(a);
		return NULL;
	}
	char conf[512], local[512];
	snprintf(conf, sizeof(conf), "%s.conf", ref->name);
	snprintf(local, sizeof(local), "%s.local", ref->name);
	for (size_t i = 0; dirs && dirs[i]; i++) {
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s", dirs[i], conf);
		if (access(path, R_OK) != 0)
			continue;
		if (read_file(a, dirs[i], conf, 0, 1, err, errlen) < 0 ||
		    read_file(a, dirs[i], local, 0, 0, err, errlen) < 0) {
			action_free(a);
			return NULL;
		}
		a->next = all;
		all = a;
		return a;
	}
	snprintf(err, errlen, "[%s] action %s: no %s in the action directories", j->name,
	    ref->name, conf);
	action_free(a);
	return NULL;
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

int action_start(struct action *a, char *err, size_t errlen)
{
	if (a->nft) {
		const char *bt = jailconf_ref_opt(a->ref, "blocktype");
		return nft_jail_setup(a->nft, a->jail->name, a->jail->port, a->jail->protocol,
		    bt, err, errlen);
	}
	enqueue(a, command(a, "actionstart", NULL));
	return 0;
}

int action_ban(struct action *a, const struct action_ban *b, size_t n, char *err, size_t errlen)
{
	if (a->nft) {
		struct nft_ban *nb = xcalloc(n ? n : 1, sizeof(*nb));
		for (size_t i = 0; i < n; i++) {
			nb[i].net = b[i].net;
			nb[i].timeout = b[i].timeout;
		}
		int rc = nft_ban(a->nft, a->jail->name, nb, n, err, errlen);
		free(nb);
		return rc;
	}
	for (size_t i = 0; i < n; i++) {
		enqueue(a, command(a, "actioncheck", &b[i]));
		enqueue(a, command(a, "actionban", &b[i]));
	}
	return 0;
}

int action_unban(struct action *a, const struct action_ban *b, size_t n, char *err,
    size_t errlen)
{
	if (a->nft) {
		struct net *nets = xcalloc(n ? n : 1, sizeof(*nets));
		for (size_t i = 0; i < n; i++)
			nets[i] = b[i].net;
		int rc = nft_unban(a->nft, a->jail->name, nets, n, err, errlen);
		free(nets);
		return rc;
	}
	for (size_t i = 0; i < n; i++)
		enqueue(a, command(a, "actionunban", &b[i]));
	return 0;
}

void action_stop(struct action *a)
{
	char err[512];
	if (a->nft) {
		if (nft_jail_teardown(a->nft, a->jail->name, err, sizeof(err)) < 0)
			log_warn("[%s] nft teardown: %s", a->jail->name, err);
		return;
	}
	enqueue(a, command(a, "actionstop", NULL));
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
	for (int i = 0; i < a->nkv; i++) {
		free(a->kv[i].sec);
		free(a->kv[i].key);
		free(a->kv[i].val);
	}
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
