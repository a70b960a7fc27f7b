/*
 * actions_cmd — fail2ban's action.d command actions as fail2ban 1.0.2's
 * CommandAction runs them (server/action.py), for the firewall process
 * and `mailwarden action-test`: commands built by actcmd.c; per address
 * family a started/holds-bans state, actionstart at a family's first ban
 * when the action has [Init?family=...] options (actionstart_on_demand),
 * a command already run for the other family not run twice; no
 * actioncheck before a ban, only after a failed ban or unban (then
 * actionrepair, or actionstop + actionstart, and one retry); at stop,
 * actionflush (or an unban of each ban) then actionstop.
 * Commands run one at a time per action in a child (/bin/sh -c, its own
 * session, killed after <timeout> seconds), never blocking the loop. A
 * failed command is reported with fail2ban.utils' lines ("%x -- exec:",
 * "-- stdout:", "-- stderr:", "-- returned N") through the report
 * function (the firewall sends them to the warden's fail2ban log).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/net.h"
#include "common/util.h"
#include "warden/firewall/actions_int.h"

#define OUT_MAX 4096		/* output kept per command and stream */

enum { OP_START, OP_STOP, OP_FLUSH, OP_CHECK, OP_REPAIR, OP_BAN, OP_UNBAN };
static const char *const opnames[] = {
	"actionstart", "actionstop", "actionflush", "actioncheck", "actionrepair", "actionban",
	"actionunban",
};
static const char *const famnames[ACT_NFAM] = { "", "inet4", "inet6" };

enum {
	JOB_RETRY = 1,		/* a ban or unban run again after a failure */
	JOB_INVARIANT = 2,	/* the check after a failed ban or unban */
	JOB_FINAL = 4,		/* the check after a repair */
};

static struct action *all;
static action_report_fn *report;
static unsigned long next_cmdid = 0x7f0000001000UL;

void action_set_report(action_report_fn *fn)
{
	report = fn;
}

/* One line of fail2ban's log for action a; summary marks a failure. */
static void say(struct action *a, const char *level, const char *logger, const char *summary,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void say(struct action *a, const char *level, const char *logger, const char *summary,
    const char *fmt, ...)
{
	char msg[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (summary) {
		a->errors++;
		free(a->last_error);
		a->last_error = xstrdup(summary);
	}
	if (report)
		report(a, level, logger, msg, summary);
	else
		log_error("[%s] %s: %s", a->jail->name, a->name, msg);
}

static int fam_of(const struct net *n)
{
	return n->family == AF_INET6 ? 2 : 1;
}

/* ---- the queue and the runner ---- */

static void run_next(struct action *a);

static void job_insert(struct action *a, size_t at, struct actjob *j)
{
	if (a->njobs == a->capjobs) {
		a->capjobs = a->capjobs ? 2 * a->capjobs : 8;
		a->jobs = xrealloc(a->jobs, a->capjobs * sizeof(*a->jobs));
	}
	if (at > a->njobs)
		at = a->njobs;
	memmove(a->jobs + at + 1, a->jobs + at, (a->njobs - at) * sizeof(*a->jobs));
	a->jobs[at] = *j;
	a->njobs++;
}

static void job_drop(struct action *a, size_t at)
{
	if (at >= a->njobs)
		return;
	actcmd_cmd_free(&a->jobs[at].c);
	memmove(a->jobs + at, a->jobs + at + 1, (a->njobs - at - 1) * sizeof(*a->jobs));
	a->njobs--;
}

/* action-test: "# actionban inet4 192.0.2.1" then the command. */
static void dry_write(struct action *a, const struct actjob *j)
{
	buf_printf(a->dry, "# %s %s %s%s%s\n", a->name, opnames[j->op], *famnames[j->fam] ?
	    famnames[j->fam] : "-", *j->ip ? " " : "", j->ip);
	for (size_t i = 0; i < j->c.nargv; i++) {	/* one line: \\ and \n escaped */
		buf_printf(a->dry, "#  $%zu = ", i);
		for (const char *p = j->c.argv[i]; *p; p++)
			buf_puts(a->dry, *p == '\n' ? "\\n" : *p == '\\' ? "\\\\" : (char[2]){ *p, 0 });
		buf_puts(a->dry, "\n");
	}
	buf_printf(a->dry, "%s\n", j->c.text);
}

/* Queue cmd (taken over) at position at (-1: the end). */
static void queue_at(struct action *a, long at, int op, int fam, const char *ip,
    struct actcmd_cmd *c, int flags)
{
	struct actjob j = { .c = *c, .op = op, .fam = fam, .flags = flags };
	memset(c, 0, sizeof(*c));
	snprintf(j.ip, sizeof(j.ip), "%s", ip ? ip : "");
	if (a->dry) {
		dry_write(a, &j);
		actcmd_cmd_free(&j.c);
		return;
	}
	job_insert(a, at < 0 ? a->njobs : (size_t)at, &j);
	run_next(a);
}

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		loop_unwatch(*fd);
		close(*fd);
		*fd = -1;
	}
}

static void read_into(int *fd, struct buf *b)
{
	char tmp[1024];
	for (;;) {
		ssize_t n = read(*fd, tmp, sizeof(tmp));
		if (n > 0) {
			if (b->len < OUT_MAX)
				buf_append(b, tmp, (size_t)n);
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		close_fd(fd);
		return;
	}
}

static void on_out(int fd, int events, void *arg)
{
	struct action *a = arg;
	read_into(&a->outfd, &a->out);
}

static void on_err(int fd, int events, void *arg)
{
	struct action *a = arg;
	read_into(&a->errfd, &a->errout);
}

static void on_timeout(void *arg)
{
	struct action *a = arg;
	if (a->pid <= 0)
		return;
	say(a, "ERROR", "fail2ban.utils", NULL, "%lx -- timed out after %s seconds.", a->cmdid,
	    actcmd_get(&a->props, "timeout"));
	kill(-a->pid, SIGKILL);
}

/* In the command's child: its own session, stdin /dev/null, stdout and
 * stderr the pipes, no other descriptor of the firewall (its socket to
 * the warden), every signal at its default and none blocked (the loop
 * blocks those of its signalfd, the master ignores SIGPIPE and SIGHUP:
 * fail2ban's commands start as Python's subprocess starts them), and
 * stdout and stderr blocking. */
static void child_setup(int out, int errfd)
{
	sigset_t none;
	setsid();
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			signal(s, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nul >= 0)
		dup2(nul, 0);
	/* a full pipe blocks the writer (as a shell's stdout), never EAGAIN */
	fcntl(out, F_SETFL, fcntl(out, F_GETFL) & ~O_NONBLOCK);
	fcntl(errfd, F_SETFL, fcntl(errfd, F_GETFL) & ~O_NONBLOCK);
	dup2(out, 1);
	dup2(errfd, 2);
	fd_close_except(NULL, 0);	/* all but 0, 1, 2 */
}

static void run_next(struct action *a)
{
	if (a->pid != 0 || a->njobs == 0)	/* -1: done() is at work on jobs[0] */
		return;
	int po[2], pe[2];
	if (pipe2(po, O_CLOEXEC | O_NONBLOCK) < 0) {
		say(a, "ERROR", "fail2ban.utils", "pipe failed", "pipe: %s", strerror(errno));
		return;
	}
	if (pipe2(pe, O_CLOEXEC | O_NONBLOCK) < 0) {
		say(a, "ERROR", "fail2ban.utils", "pipe failed", "pipe: %s", strerror(errno));
		close(po[0]);
		close(po[1]);
		return;
	}
	struct actjob *j = &a->jobs[0];
	pid_t pid = fork();
	if (pid == 0) {
		child_setup(po[1], pe[1]);
		char **argv = xcalloc(j->c.nargv + 4, sizeof(*argv));
		argv[0] = (char *)"/bin/sh";
		argv[1] = (char *)"-c";
		argv[2] = j->c.text;
		for (size_t i = 0; i < j->c.nargv; i++)
			argv[3 + i] = j->c.argv[i];
		execv("/bin/sh", argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	if (pid < 0) {
		say(a, "ERROR", "fail2ban.utils", "fork failed", "%s -- failed with %s", j->c.text,
		    strerror(errno));
		close(po[0]);
		close(pe[0]);
		job_drop(a, 0);
		return;
	}
	a->pid = pid;
	a->cmdid = next_cmdid += 0x38;
	a->outfd = po[0];
	a->errfd = pe[0];
	buf_reset(&a->out);
	buf_reset(&a->errout);
	loop_watch(po[0], LOOP_READ, on_out, a);
	loop_watch(pe[0], LOOP_READ, on_err, a);
	long secs = atol(actcmd_get(&a->props, "timeout") ? actcmd_get(&a->props, "timeout") : "60");
	loop_timer_set(&a->timeout, (uint64_t)(secs > 0 ? secs : 60) * 1000, on_timeout, a);
}

/* Python's repr() of a str, for "-- stderr: %r". */
static void pyrepr(struct buf *o, const char *s, size_t n)
{
	char q = memchr(s, '\'', n) && !memchr(s, '"', n) ? '"' : '\'';
	buf_append(o, &q, 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\\' || c == (unsigned char)q)
			buf_printf(o, "\\%c", c);
		else if (c == '\n' || c == '\r' || c == '\t')
			buf_puts(o, c == '\n' ? "\\n" : c == '\r' ? "\\r" : "\\t");
		else if (c < 0x20 || c == 0x7f)
			buf_printf(o, "\\x%02x", c);
		else
			buf_append(o, s + i, 1);
	}
	buf_append(o, &q, 1);
}

/* Each line of b as "%x -- NAME: %r". */
static void say_lines(struct action *a, const char *name, const struct buf *b)
{
	const char *s = b->data ? b->data : "", *end = s + b->len;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
		struct buf r;
		buf_init(&r, 2 * OUT_MAX);
		pyrepr(&r, s, n);
		say(a, "ERROR", "fail2ban.utils", NULL, "%lx -- %s: %s", a->cmdid, name,
		    r.data ? r.data : "''");
		buf_free(&r);
		s += n + 1;
	}
}

/* actions.py's message when a ban or unban could not be done. */
static void give_up(struct action *a, const struct actjob *j)
{
	int ban = j->op == OP_BAN;
	say(a, "ERROR", "fail2ban.actions", NULL, "Failed to execute %s jail '%s' action '%s' "
	    "info 'ActionInfo({'ip': '%s', 'family': '%s'})': Error %s %s", ban ? "ban" : "unban",
	    a->jail->name, a->name, j->ip, famnames[j->fam], ban ? "banning" : "unbanning", j->ip);
}

static int has_op(const struct action *a, const char *key)
{
	const char *v = actcmd_get(&a->props, key);
	while (v && (*v == ' ' || *v == '\t' || *v == '\n'))
		v++;
	return v && *v;
}

static int is_true(const struct action *a, const char *key)
{
	const char *v = actcmd_get(&a->props, key);
	return v && strcmp(v, "True") == 0;
}

/* The empty ticket's values for an operation of family fam. */
static void op_info(const struct action *a, int fam, struct actcmd_info *in)
{
	memset(in, 0, sizeof(*in));
	in->ip = "";
	in->family = famnames[fam];
	in->bantime = a->jail->bantime;
	in->time = clock_wall_f();
}

/* Build and queue operation op for family fam at position at. */
static int queue_op(struct action *a, long at, int op, int fam, int flags)
{
	struct actcmd_info in;
	struct actcmd_cmd c;
	char err[512];
	op_info(a, fam, &in);
	if (actcmd_build(&a->props, opnames[op], famnames[fam], op == OP_CHECK ? NULL : &in, &c,
	    err, sizeof(err)) < 0) {
		say(a, "ERROR", "fail2ban.actions", err, "Error %s action %s/%s: %s", opnames[op] + 6,
		    a->jail->name, a->name, err);
		return -1;
	}
	if (c.text == NULL)
		return 0;
	queue_at(a, at, op, fam, "", &c, flags);
	return 1;
}

/* A command failed: fail2ban's lines, then its invariant check steps.
 * j is jobs[0]: what is queued here may move jobs[], so j is not used
 * after the first insert (op, fam, flags are kept). */
static void failed(struct action *a, struct actjob *j, int status)
{
	char summary[600];
	const int op = j->op, fam = j->fam, flags = j->flags;
	int sig = WIFSIGNALED(status), rc = sig ? -WTERMSIG(status) : WEXITSTATUS(status);
	say(a, "ERROR", "fail2ban.utils", NULL, "%lx -- exec: %s", a->cmdid, j->c.text);
	say_lines(a, "stdout", &a->out);
	say_lines(a, "stderr", &a->errout);
	const char *first = a->errout.data ? a->errout.data : "";
	snprintf(summary, sizeof(summary), "%s%s%s: %.200s -- returned %d%s%.*s", opnames[j->op],
	    *famnames[j->fam] ? " " : "", famnames[j->fam], j->c.text, rc, *first ? ": " : "",
	    (int)strcspn(first, "\n"), first);
	if (sig || rc > 128)
		say(a, "ERROR", "fail2ban.utils", summary, "%lx -- killed with %s (return code: %d)",
		    a->cmdid, strsignal(sig ? WTERMSIG(status) : rc - 128), rc);
	else
		say(a, "ERROR", "fail2ban.utils", summary, "%lx -- returned %d", a->cmdid, rc);

	if ((op == OP_BAN || op == OP_UNBAN) && !(flags & JOB_RETRY)) {
		if (!has_op(a, "actioncheck")) {
			give_up(a, j);
			return;
		}
		struct actjob r = *j;
		r.flags = JOB_RETRY;
		r.c.text = xstrdup(j->c.text);
		r.c.argv = xcalloc(j->c.nargv ? j->c.nargv : 1, sizeof(char *));
		for (size_t i = 0; i < j->c.nargv; i++)
			r.c.argv[i] = xstrdup(j->c.argv[i]);
		job_insert(a, 1, &r);
		if (queue_op(a, 1, OP_CHECK, fam, JOB_INVARIANT) <= 0)
			job_drop(a, 1);	/* no check: the retry goes alone */
		return;
	}
	if (op == OP_BAN || op == OP_UNBAN) {
		give_up(a, j);
		return;
	}
	struct actjob *next = a->njobs > 1 ? &a->jobs[1] : NULL;
	if (flags & JOB_INVARIANT && next) {
		if (next->op == OP_UNBAN && !is_true(a, "actionrepair_on_unban")) {
			say(a, "ERROR", "fail2ban.CommandAction", NULL,
			    "Invariant check failed. Unban is impossible.");
			give_up(a, next);
			job_drop(a, 1);
			return;
		}
		say(a, "ERROR", "fail2ban.CommandAction", NULL,
		    "Invariant check failed. Trying to restore a sane environment");
		long at = 1;
		if (has_op(a, "actionrepair")) {
			at += queue_op(a, at, OP_REPAIR, fam, 0) > 0;
		} else {
			at += queue_op(a, at, OP_STOP, fam, 0) > 0;
			at += queue_op(a, at, OP_START, fam, 0) > 0;
			a->started[fam] = 1;
		}
		queue_op(a, at, OP_CHECK, fam, JOB_FINAL);
		return;
	}
	if ((flags & JOB_FINAL) || op == OP_REPAIR) {
		say(a, "CRITICAL", "fail2ban.CommandAction", NULL, "Unable to restore environment");
		if (op == OP_REPAIR) {
			a->started[fam] = 0;
			job_drop(a, 1);	/* the final check */
		}
		if (a->njobs > 1 && (a->jobs[1].flags & JOB_RETRY)) {
			give_up(a, &a->jobs[1]);
			job_drop(a, 1);
		}
		return;
	}
	say(a, "ERROR", "fail2ban.actions", NULL, "Failed to %s jail '%s' action '%s': "
	    "Error %s action Jail('%s')/%s: 'Script error'", op == OP_STOP ? "stop" :
	    op == OP_START ? "start" : "execute", a->jail->name, a->name, opnames[op] + 6,
	    a->jail->name, a->name);
}

/* The running command ended with status. */
static void done(struct action *a, int status)
{
	a->pid = -1;
	loop_timer_clear(&a->timeout);
	if (a->outfd >= 0)
		read_into(&a->outfd, &a->out);
	if (a->errfd >= 0)
		read_into(&a->errfd, &a->errout);
	close_fd(&a->outfd);
	close_fd(&a->errfd);
	if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		failed(a, &a->jobs[0], status);
	job_drop(a, 0);
	a->pid = 0;
	run_next(a);
}

void actions_reap(void)
{
	int status;
	for (struct action *a = all; a; a = a->next)
		if (a->pid > 0 && waitpid(a->pid, &status, WNOHANG) == a->pid)
			done(a, status);
		else if (a->pid == 0 && a->njobs > 0)
			run_next(a);	/* after a pipe or fork failure: the queue goes on */
}

size_t actions_pending(void)
{
	size_t n = 0;
	for (struct action *a = all; a; a = a->next)
		n += a->njobs + a->nwaits;
	return n;
}

/* ---- CommandAction's steps ---- */

/* _operationExecuted(op, fam, None): forget fam's command and any other
 * family's equal one. */
static void forget(struct action *a, int op, int fam)
{
	char *cmd = a->done[op][fam];
	if (cmd == NULL)
		return;
	for (int f = 0; f < ACT_NFAM; f++)
		if (f != fam && a->done[op][f] && strcmp(a->done[op][f], cmd) == 0) {
			free(a->done[op][f]);
			a->done[op][f] = NULL;
		}
	free(cmd);
	a->done[op][fam] = NULL;
}

/* _executeOperation(op) for the families fams[0..n). */
static void operation(struct action *a, int op, const int *fams, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int f = fams[i];
		struct actcmd_info in;
		struct actcmd_cmd c;
		char err[512];
		op_info(a, f, &in);
		if (actcmd_build(&a->props, opnames[op], famnames[f], &in, &c, err, sizeof(err)) < 0) {
			say(a, "ERROR", "fail2ban.actions", err, "Error %s action %s/%s: %s",
			    opnames[op] + 6, a->jail->name, a->name, err);
			continue;
		}
		int twice = 0;	/* the same command already run for another family */
		for (int g = 0; c.text && g < ACT_NFAM; g++)
			twice |= g != f && a->done[op][g] && strcmp(a->done[op][g], c.text) == 0;
		if (op == OP_START) {
			forget(a, OP_STOP, f);
			a->started[f] = 1;
		} else if (op == OP_STOP) {
			forget(a, OP_START, f);
		} else if (op == OP_FLUSH && a->started[f]) {
			a->started[f] &= ~2u;
		}
		if (c.text == NULL)
			continue;
		free(a->done[op][f]);
		a->done[op][f] = xstrdup(c.text);
		if (twice)
			actcmd_cmd_free(&c);
		else
			queue_at(a, -1, op, f, "", &c, 0);
	}
}

static void start_fams(struct action *a, int fam, int force)
{
	if (a->on_demand && !force)
		return;
	int fams[2];
	size_t n = 0;
	if (fam >= 0)
		fams[n++] = fam;
	else
		for (size_t i = 0; i < a->nfam; i++)
			fams[n++] = *a->fam[i] ? (strcmp(a->fam[i], "inet6") == 0 ? 2 : 1) : 0;
	operation(a, OP_START, fams, n);
}

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
	char where[1024], why[512];
	int r = ini_read_name(&a->ini, &src, ref->name, where, sizeof(where), err, errlen);
	if (r == 0)
		snprintf(err, errlen, "[%s] action %s: no %s.conf in the action directories",
		    a->jail->name, ref->name, ref->name);
	if (r <= 0)
		return -1;
	if (actcmd_props(&a->ini, a->jail, ref, &a->props, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "[%s] action %s: %s", a->jail->name, ref->name, why);
		return -1;
	}
	a->nfam = actcmd_families(&a->props, a->fam, &a->on_demand);
	a->outfd = a->errfd = -1;
	buf_init(&a->out, OUT_MAX + 1024);
	buf_init(&a->errout, OUT_MAX + 1024);
	a->next = all;
	all = a;
	return 0;
}

static int cmd_be_start(struct action *a, char *err, size_t errlen)
{
	start_fams(a, -1, 0);
	return 0;
}

/* <ip>: the address that made the ban (as fail2ban's), else the
 * network's ("net/len" for a prefix ban) or, for an unban, the one its
 * ban used. */
static void ban_info(const struct action *a, const struct action_ban *b, char *ip, size_t iplen,
    struct actcmd_info *in)
{
	struct net n;
	int full = b->net.plen == (b->net.family == AF_INET ? 32 : 128);
	char key[NET_STRLEN];
	net_format(&b->net, !full, key, sizeof(key));
	snprintf(ip, iplen, "%s", key);
	if (b->addr && net_parse(b->addr, &n) == 0)
		net_format(&n, 0, ip, iplen);
	for (size_t i = 0; !b->addr && i < a->nbanned; i++)
		if (strcmp(a->banned[i], key) == 0 && a->banned[i][strlen(key) + 1])
			snprintf(ip, iplen, "%s", a->banned[i] + strlen(key) + 1);
	memset(in, 0, sizeof(*in));
	in->ip = ip;
	in->family = famnames[fam_of(&b->net)];
	in->failures = b->failures;
	in->bantime = b->bantime;
	in->time = clock_wall_f();
	in->matches = b->matches;
	in->user = b->user;
}

/* Ban or unban b; 1 (nothing done) if its <ip-host> is still looked up
 * and not force (then "None" is used). */
static int ban_do(struct action *a, int op, const struct action_ban *b, int force)
{
	char ip[NET_STRLEN], err[512];
	struct actcmd_info in;
	struct actcmd_cmd c;
	int fam = fam_of(&b->net);
	ban_info(a, b, ip, sizeof(ip), &in);
	if (op == OP_BAN && a->on_demand && !a->started[fam])
		start_fams(a, fam, 1);
	if (op == OP_UNBAN && !(a->started[fam] & 2))
		return 0;
	unsigned long waits = actcmd_host_waits();
	if (actcmd_build(&a->props, opnames[op], famnames[fam], &in, &c, err, sizeof(err)) < 0) {
		say(a, "ERROR", "fail2ban.actions", err, "Failed to execute %s jail '%s' action '%s': %s",
		    op == OP_BAN ? "ban" : "unban", a->jail->name, a->name, err);
		return 0;
	}
	if (actcmd_host_waits() != waits && !force) {
		actcmd_cmd_free(&c);
		return 1;
	}
	if (c.text)
		queue_at(a, -1, op, fam, ip, &c, 0);
	/* the bans in force: "NET\0IP" (the net's text, the <ip> it used) */
	char key[NET_STRLEN];
	net_format(&b->net, b->net.plen != (b->net.family == AF_INET ? 32 : 128), key, sizeof(key));
	for (size_t i = 0; i < a->nbanned; i++)
		if (strcmp(a->banned[i], key) == 0) {
			free(a->banned[i]);
			a->banned[i] = a->banned[--a->nbanned];
			break;
		}
	if (op == OP_BAN) {
		size_t kl = strlen(key), il = strlen(ip);
		char *e = xmalloc(kl + il + 2);
		memcpy(e, key, kl + 1);
		memcpy(e + kl + 1, ip, il + 1);
		a->started[fam] |= 3;
		a->banned = xrealloc(a->banned, (a->nbanned + 1) * sizeof(*a->banned));
		a->banned[a->nbanned++] = e;
	}
	return 0;
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void wait_free(struct actwait *w)
{
	free(w->addr);
	free(w->user);
	free(w->matches);
}

/* Run the held bans and unbans in order while their names are known
 * (force: all, "None" for a name not yet known: a flush or stop). */
static void waits_run(struct action *a, int force)
{
	while (a->nwaits > 0) {
		if (ban_do(a, a->waits[0].op, &a->waits[0].b, force) > 0)
			return;
		wait_free(&a->waits[0]);
		memmove(a->waits, a->waits + 1, (a->nwaits - 1) * sizeof(*a->waits));
		a->nwaits--;
	}
}

/* Ban or unban b, after those held before it; held itself while its
 * <ip-host> is looked up (the loop and the other actions go on). */
static void ban_one(struct action *a, int op, const struct action_ban *b)
{
	if (a->nwaits == 0 && ban_do(a, op, b, 0) == 0)
		return;
	a->waits = xrealloc(a->waits, (a->nwaits + 1) * sizeof(*a->waits));
	struct actwait *w = &a->waits[a->nwaits++];
	w->op = op;
	w->b = *b;
	w->b.addr = w->addr = dup_or_null(b->addr);
	w->b.user = w->user = dup_or_null(b->user);
	w->b.matches = w->matches = dup_or_null(b->matches);
}

void actions_host_ready(void)
{
	for (struct action *a = all; a; a = a->next)
		waits_run(a, 0);
}

static int cmd_be_ban(struct action *a, const struct action_ban *b, size_t n, char *err,
    size_t errlen)
{
	for (size_t i = 0; i < n; i++)
		ban_one(a, OP_BAN, &b[i]);
	return 0;
}

static int cmd_be_unban(struct action *a, const struct action_ban *b, size_t n, char *err,
    size_t errlen)
{
	for (size_t i = 0; i < n; i++)
		ban_one(a, OP_UNBAN, &b[i]);
	return 0;
}

/* Actions.__flushBan: actionflush for the families holding bans, or an
 * unban of each ban when the action has no actionflush. */
static void cmd_be_flush(struct action *a)
{
	waits_run(a, 1);
	if (!has_op(a, "actionflush")) {
		while (a->nbanned > 0) {	/* each taken off first: always ends */
			struct action_ban b;
			char e[64], *key = a->banned[--a->nbanned];
			memset(&b, 0, sizeof(b));
			b.bantime = a->jail->bantime;
			b.addr = key + strlen(key) + 1;
			if (net_parse_net(key, &b.net, e, sizeof(e)) == 0)
				ban_one(a, OP_UNBAN, &b);
			free(key);
		}
		return;
	}
	int fams[ACT_NFAM];
	size_t n = 0;
	for (int f = 0; f < ACT_NFAM; f++)
		if ((a->started[f] & 3) == 3)
			fams[n++] = f;
	operation(a, OP_FLUSH, fams, n);
	for (size_t i = 0; i < a->nbanned; i++)
		free(a->banned[i]);
	a->nbanned = 0;
}

static void cmd_be_stop(struct action *a)
{
	cmd_be_flush(a);
	int fams[ACT_NFAM];
	size_t n = 0;
	for (int f = 0; f < ACT_NFAM; f++)
		if (a->started[f])
			fams[n++] = f;
	memset(a->started, 0, sizeof(a->started));
	operation(a, OP_STOP, fams, n);
}

/* _invariantCheck(family): actioncheck, with only <family> resolved, of
 * each address family started (each the action knows when none is). */
static int cmd_be_check(struct action *a, char *err, size_t errlen)
{
	int any = 0;
	for (int f = 1; f < ACT_NFAM; f++)
		if (a->started[f] && queue_op(a, -1, OP_CHECK, f, 0) >= 0)
			any = 1;
	for (size_t i = 0; !any && i < a->nfam; i++)
		queue_op(a, -1, OP_CHECK, *a->fam[i] ? (strcmp(a->fam[i], "inet6") == 0 ? 2 : 1) : 0, 0);
	return 0;
}

const struct action_backend action_cmd_backend = {
	NULL, 1, cmd_be_open, cmd_be_start, cmd_be_ban, cmd_be_unban, cmd_be_flush, cmd_be_stop,
	cmd_be_check,
};

void action_cmd_free(struct action *a)
{
	for (struct action **p = &all; *p; p = &(*p)->next)
		if (*p == a) {
			*p = a->next;
			break;
		}
	loop_timer_clear(&a->timeout);
	close_fd(&a->outfd);
	close_fd(&a->errfd);
	if (a->pid > 0) {	/* still running (the firewall's stop waited): not left behind */
		log_warn("firewall: [%s] %s: %s still running at stop: killed", a->jail->name,
		    a->name, opnames[a->jobs[0].op]);
		kill(-a->pid, SIGKILL);
		waitpid(a->pid, NULL, 0);
		a->pid = 0;
	}
	while (a->njobs)
		job_drop(a, a->njobs - 1);
	for (size_t i = 0; i < a->nwaits; i++)
		wait_free(&a->waits[i]);
	free(a->waits);
	free(a->jobs);
	for (int o = 0; o < ACT_NOPS; o++)
		for (int f = 0; f < ACT_NFAM; f++)
			free(a->done[o][f]);
	for (size_t i = 0; i < a->nbanned; i++)
		free(a->banned[i]);
	free(a->banned);
	buf_free(&a->out);
	buf_free(&a->errout);
	free(a->last_error);
	actcmd_map_free(&a->props);
}
