/*
 * actions_run — the runner of the command actions' commands (actions_cmd.c
 * decides what runs): each action's queue of built commands, run one at
 * a time in a child (/bin/sh -c, its own session, killed after
 * <timeout> seconds), never blocking the loop, its stdout and stderr
 * read into bounded buffers; a command's end handed back to
 * actions_cmd_failed when it failed; action-test's dry output; the log
 * lines in fail2ban's words through the report function (the firewall
 * sends them to the warden's fail2ban log).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/util.h"
#include "warden/firewall/actions_int.h"

#define OUT_MAX 4096		/* output kept per command and stream */

const char *const actions_opnames[] = {
	"actionstart", "actionstop", "actionflush", "actioncheck", "actionrepair", "actionban",
	"actionunban",
};
const char *const actions_famnames[ACT_NFAM] = { "", "inet4", "inet6" };

static struct action *all;
static action_report_fn *report;
static unsigned long next_cmdid = 0x7f0000001000UL;

void action_set_report(action_report_fn *fn)
{
	report = fn;
}

void actions_say(struct action *a, const char *level, const char *logger, const char *summary,
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

/* ---- the queue and the runner ---- */

static void run_next(struct action *a);

void actions_job_insert(struct action *a, size_t at, struct actjob *j)
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

void actions_job_drop(struct action *a, size_t at)
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
	buf_printf(a->dry, "# %s %s %s%s%s\n", a->name, actions_opnames[j->op], *actions_famnames[j->fam] ?
	    actions_famnames[j->fam] : "-", *j->ip ? " " : "", j->ip);
	for (size_t i = 0; i < j->c.nargv; i++) {	/* one line: \\ and \n escaped */
		buf_printf(a->dry, "#  $%zu = ", i);
		for (const char *p = j->c.argv[i]; *p; p++)
			buf_puts(a->dry, *p == '\n' ? "\\n" : *p == '\\' ? "\\\\" : (char[2]){ *p, 0 });
		buf_puts(a->dry, "\n");
	}
	buf_printf(a->dry, "%s\n", j->c.text);
}

/* Queue cmd (taken over) at position at (-1: the end). */
void actions_queue(struct action *a, long at, int op, int fam, const char *ip,
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
	actions_job_insert(a, at < 0 ? a->njobs : (size_t)at, &j);
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
	actions_say(a, "ERROR", "fail2ban.utils", NULL, "%lx -- timed out after %s seconds.", a->cmdid,
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
		actions_say(a, "ERROR", "fail2ban.utils", "pipe failed", "pipe: %s", strerror(errno));
		return;
	}
	if (pipe2(pe, O_CLOEXEC | O_NONBLOCK) < 0) {
		actions_say(a, "ERROR", "fail2ban.utils", "pipe failed", "pipe: %s", strerror(errno));
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
		actions_say(a, "ERROR", "fail2ban.utils", "fork failed", "%s -- failed with %s", j->c.text,
		    strerror(errno));
		close(po[0]);
		close(pe[0]);
		actions_job_drop(a, 0);
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
void actions_say_lines(struct action *a, const char *name, const struct buf *b)
{
	const char *s = b->data ? b->data : "", *end = s + b->len;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
		struct buf r;
		buf_init(&r, 2 * OUT_MAX);
		pyrepr(&r, s, n);
		actions_say(a, "ERROR", "fail2ban.utils", NULL, "%lx -- %s: %s", a->cmdid, name,
		    r.data ? r.data : "''");
		buf_free(&r);
		s += n + 1;
	}
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
		actions_cmd_failed(a, &a->jobs[0], status);
	actions_job_drop(a, 0);
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

struct action *actions_run_first(void)
{
	return all;
}

void actions_run_add(struct action *a)
{
	a->outfd = a->errfd = -1;
	buf_init(&a->out, OUT_MAX + 1024);
	buf_init(&a->errout, OUT_MAX + 1024);
	a->next = all;
	all = a;
}

void actions_run_free(struct action *a)
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
		    a->name, actions_opnames[a->jobs[0].op]);
		kill(-a->pid, SIGKILL);
		waitpid(a->pid, NULL, 0);
		a->pid = 0;
	}
	while (a->njobs)
		actions_job_drop(a, a->njobs - 1);
	free(a->jobs);
	buf_free(&a->out);
	buf_free(&a->errout);
}
