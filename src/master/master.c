/*
 * master — the root parent process (see master.h). It never talks SMTP
 * and never touches a message; it only starts, watches and stops.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/metrics.h"
#include "common/msg.h"
#include "common/sandbox.h"
#include "common/util.h"
#include "dkim/dkim_conf.h"
#include "dmarc/dmarc.h"
#include "master/gate.h"
#include "master/listen.h"
#include "master/logrelay.h"
#include "master/metrics_http.h"
#include "master/notify.h"
#include "master/title.h"
#include "local/local.h"
#include "master/master.h"
#include "policy/restrict.h"
#include "queue/nexthop.h"
#include "queue/pickup.h"
#include "queue/qmgr.h"
#include "mail/spool.h"
#include "sasl/sasl.h"
#include "smtp/tls.h"
#include "smtp/engine.h"
#include "warden/control.h"
#include "warden/firewall/firewall.h"
#include "warden/jail.h"
#include "warden/privsep.h"
#include "warden/warden.h"

#define MAX_LISTENERS 32

enum child_kind { CHILD_ENGINE, CHILD_QMGR, CHILD_WARDEN, CHILD_FIREWALL, CHILD_LOCAL };
static const char *const child_names[] = { "smtpd", "qmgr", "warden", "firewall", "local" };
/* A child's channel knows whose it is: pid and kind in the loop's arg. */
#define CHAN_ARG(pid, kind)	((void *)(((intptr_t)(pid) << 3) | (kind)))
#define CHAN_PID(arg)		((int)((intptr_t)(arg) >> 3))
#define CHAN_KIND(arg)		((enum child_kind)((intptr_t)(arg) & 7))

static struct config *cur_cfg;
static const char *cfg_path;
static struct engine_listener lst[MAX_LISTENERS];
static size_t nlst;
static pid_t engine_pid, qmgr_pid, warden_pid, firewall_pid;
static pid_t local_pid;		/* the local delivery process, the qmgr's pair */
static int warden_wanted;	/* the config has an enabled jail */
static int warden_restart;	/* start a new warden when the old one is reaped */
static int firewall_restart;	/* the same for its firewall process */
/* The ban engine's fds, all made here and kept for the master's life:
 * the event socketpair (engines write [1], wardens read [0]), the bound
 * control socket, and the pair between a warden and its firewall (only
 * while the two are being spawned). */
static int ev_sv[2] = { -1, -1 };
static int ctl_fd = -1;
static char *ctl_path;
static int fw_sv[2] = { -1, -1 };
static int qmgr_fd = -1;	/* our end of the qmgr's socketpair */
static int qmgr_missed;		/* a hint could not be passed on: send MSG_SCAN */
static int stopping;
static int qmgr_restart;	/* start a new qmgr when the old one is reaped */
static struct loop_timer restart_timer;


static void mkdir_owned(const char *path, mode_t mode, const struct passwd *pw)
{
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		fatal("mkdir %s: %s", path, strerror(errno));
	if (pw && chown(path, pw->pw_uid, pw->pw_gid) < 0)
		fatal("chown %s: %s", path, strerror(errno));
}

/* The queue directory and its subdirectories, owned by mail_owner. */
static void prepare_dirs(const struct config *cfg)
{
	static const char *const sub[] = { "incoming", "deferred", "hold", "corrupt", "public" };
	const struct passwd *pw = NULL;
	char path[1024];
	const char *q = config_get(cfg, "queue_directory");
	if (geteuid() == 0) {
		pw = getpwnam(config_get(cfg, "mail_owner"));
		if (pw == NULL)
			fatal("mail_owner user '%s' does not exist (create it: useradd --system %s)",
			    config_get(cfg, "mail_owner"), config_get(cfg, "mail_owner"));
	}
	if (mkdir(q, 0755) < 0 && errno != EEXIST)
		fatal("mkdir %s: %s", q, strerror(errno));
	for (size_t i = 0; i < sizeof(sub) / sizeof(*sub); i++) {
		snprintf(path, sizeof(path), "%s/%s", q, sub[i]);
		mkdir_owned(path, strcmp(sub[i], "public") == 0 ? 0711 : 0700, pw);
	}
	pickup_prepare_dir(cfg, q, pw);	/* maildrop/: mode 1730, mail_owner:setgid_group */
	const char *vbase = config_get(cfg, "virtual_mailbox_base");
	if (*vbase && access(vbase, F_OK) < 0) {
		struct passwd *vpw = pw ? getpwnam(config_get(cfg, "mail_owner")) : NULL;
		mkdir_owned(vbase, 0755, vpw);
	}
}

/* queue_directory/pid/master.pid, as Postfix keeps it: how `mailwarden
 * logrotate` (src/cli/logrotate.c) finds the master to signal. */
static char pid_path[1024];

static void write_pid(const struct config *cfg)
{
	char dir[1024];
	const char *q = config_get(cfg, "queue_directory");
	if (snprintf(dir, sizeof(dir), "%s/pid", q) >= (int)sizeof(dir) ||
	    snprintf(pid_path, sizeof(pid_path), "%s/master.pid", dir) >= (int)sizeof(pid_path))
		fatal("queue_directory %s: path too long", q);
	mkdir_owned(dir, 0755, NULL);
	FILE *fp = fopen(pid_path, "we");
	if (fp == NULL || fprintf(fp, "%ld\n", (long)getpid()) < 0 || fclose(fp) != 0)
		fatal("%s: %s", pid_path, strerror(errno));
}

/* Close and remove the control socket (warden_socket is in a root-owned
 * directory; only a socket is removed). */
static void close_control(void)
{
	struct stat st;
	if (ctl_fd < 0)
		return;
	close(ctl_fd);
	ctl_fd = -1;
	if (lstat(ctl_path, &st) == 0 && S_ISSOCK(st.st_mode) && unlink(ctl_path) < 0)
		log_warn("unlink %s: %s", ctl_path, strerror(errno));
	free(ctl_path);
	ctl_path = NULL;
}

/* maillog_file: the master writes it; the children write into the
 * relay's pipe (logrelay.h), which they inherit across fork. */
static void open_log(const struct config *cfg)
{
	const char *file = config_get(cfg, "maillog_file");
	int fd = -1;
	if (*file) {
		fd = logrelay_open(file);
		if (fd < 0)
			fatal("maillog_file %s: %s", file, strerror(errno));
	}
	log_set_facility(log_facility_parse(config_get(cfg, "syslog_facility")));
	log_open(config_get(cfg, "syslog_name"), config_get(cfg, "myhostname"), fd);
}

/* The named listeners as "slot name addresses;" (the engine finds a
 * socket's listener by slot: a reload must not move them). */
static void named_signature(const struct config *cfg, char *out, size_t len)
{
	size_t n = 0;
	out[0] = '\0';
	for (int r = CONFIG_NBUILTIN; r < CONFIG_NROLES; r++) {
		const char *name = config_role_name(cfg, r);
		if (name == NULL)
			continue;
		int k = snprintf(out + n, len - n, "%d %s %s;", r, name,
		    config_get_role(cfg, name, "smtpd_listen"));
		if (k < 0 || (size_t)k >= len - n)
			return;
		n += (size_t)k;
	}
}

static char bound_named[4096];	/* named_signature() of the bound listeners */

static void bind_listeners(const struct config *cfg)
{
	named_signature(cfg, bound_named, sizeof(bound_named));
	char err[512];
	for (int role = 0; role < CONFIG_NROLES; role++) {
		const char *name = config_role_name(cfg, role);
		if (name == NULL)
			continue;	/* an unused named-listener slot */
		/* built-in roles: smtpd_listen ...; named ones: NAME/inet/listen */
		char **items = config_list(role < CONFIG_NBUILTIN ?
		    config_get(cfg, engine_role_listen_key(role)) :
		    config_get_role(cfg, name, "smtpd_listen"));
		for (char **it = items; *it; it++) {
			int fds[2];
			int n = listen_open(*it, fds, 2, err, sizeof(err));
			if (n < 0)
				fatal("%s: %s", role < CONFIG_NBUILTIN ?
				    engine_role_listen_key(role) : name, err);
			for (int i = 0; i < n; i++) {
				if (nlst == MAX_LISTENERS)
					fatal("too many listeners");
				lst[nlst].fd = fds[i];
				lst[nlst].role = role;
				nlst++;
			}
		}
		config_list_free(items);
	}
	if (nlst == 0)
		fatal("no listeners: set smtpd_listen");
}

static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_warn("cannot raise open file limit: %s", strerror(errno));
	}
}

/* In a child: close every inherited descriptor but keep[] (the
 * master's ends of other children's socketpairs above all). The syslog
 * socket, if any, is closed properly; glibc reopens it on use. */
static void close_other_fds(int *keep, size_t n)
{
	if (log_fd() < 0)
		closelog();
	if (fd_close_except(keep, n) < 0)
		fatal("close_range: %s", strerror(errno));
}

/* In a child right after fork: its signals, its log, its ps title. */
static void child_reset_signals(enum child_kind kind)
{
	logrelay_child();
	notify_child();
	metrics_http_close(1);
	title_set(child_names[kind], cfg_path);
	if (kind != CHILD_ENGINE && kind != CHILD_QMGR)
		dkim_conf_forget();	/* only the engine and pickup sign */
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGHUP, SIG_IGN);	/* the master reloads by replacing children */
}

/* A child's SIGSYS handler reported a system call outside its seccomp
 * allow-list; it has exited, and on_chld restarts it. */
static void sandbox_violation(struct msg *m, void *arg)
{
	uint32_t nr = msg_get_u32(m), arch = msg_get_u32(m);
	char name[64];
	if (msg_end(m) < 0) {
		log_warn("malformed seccomp report from process %s pid %d",
		    child_names[CHAN_KIND(arg)], CHAN_PID(arg));
		return;
	}
	log_warn("process %s pid %d: seccomp violation: system call %s (%u); restarting",
	    child_names[CHAN_KIND(arg)], CHAN_PID(arg),
	    sandbox_syscall_name(arch, nr, name, sizeof(name)), (unsigned)nr);
}

/* An engine's MSG_QUEUED: exactly one string, a queue id as the spool
 * names them (no path, no dots): checked before it is passed on. */
static int queued_ok(struct msg *m)
{
	const char *id = msg_get_str(m);
	return msg_end(m) == 0 && spool_valid_id(id);
}

/* Messages from a child: engine hints go on to the queue manager. */
static void on_child_msg(int fd, int events, void *arg)
{
	struct msg m;
	for (int i = 0; i < 256; i++) {
		int r = msg_recv(fd, &m);
		if (r <= 0) {
			if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
				loop_unwatch(fd);
				close(fd);
				if (fd == qmgr_fd)
					qmgr_fd = -1;
			}
			return;
		}
		if (m.type == MSG_QUEUED && CHAN_KIND(arg) != CHILD_ENGINE) {
			log_warn("process %s pid %d: unexpected message type %u ignored",
			    child_names[CHAN_KIND(arg)], CHAN_PID(arg), m.type);
		} else if (m.type == MSG_QUEUED && !queued_ok(&m)) {
			log_warn("process %s pid %d: malformed queue id hint ignored",
			    child_names[CHAN_KIND(arg)], CHAN_PID(arg));
		} else if (m.type == MSG_QUEUED && qmgr_fd >= 0) {
			if (qmgr_missed) {
				struct msg scan;
				msg_init(&scan, MSG_SCAN);
				if (msg_send(qmgr_fd, &scan) == 0)
					qmgr_missed = 0;
				msg_free(&scan);
			}
			if (msg_send(qmgr_fd, &m) < 0)
				qmgr_missed = 1;	/* it scans incoming/ on its own */
		} else if (m.type == MSG_QUEUED) {
			qmgr_missed = 1;
		} else if (m.type == MSG_SANDBOX_VIOLATION) {
			sandbox_violation(&m, arg);
		} else {
			log_warn("process %s pid %d: unexpected message type %u ignored",
			    child_names[CHAN_KIND(arg)], CHAN_PID(arg), m.type);
		}
		msg_free(&m);
	}
}

/* The local delivery process, before its qmgr: lp is their socketpair.
 * The two are started and restarted as a pair (see on_chld). */
static pid_t spawn_local(const struct config *cfg, int lp[2])
{
	int mp[2];		/* its channel to us: seccomp reports */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, mp) < 0) {
		log_warn("socketpair: %s", strerror(errno));
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		log_warn("fork: %s", strerror(errno));
		close(mp[0]);
		close(mp[1]);
		return -1;
	}
	if (pid > 0) {
		close(mp[1]);
		loop_watch(mp[0], LOOP_READ, on_child_msg, CHAN_ARG(pid, CHILD_LOCAL));
		return pid;
	}
	close(lp[0]);
	close(mp[0]);
	child_reset_signals(CHILD_LOCAL);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	int keep[] = { log_fd(), lp[1], mp[1] };
	close_other_fds(keep, sizeof(keep) / sizeof(*keep));
	local_main(cfg, lp[1], mp[1]);
}

static pid_t spawn(enum child_kind kind, const struct config *cfg)
{
	int sv[2], lp[2] = { -1, -1 };
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0) {
		log_warn("socketpair: %s", strerror(errno));
		return -1;
	}
	if (kind == CHILD_QMGR &&
	    (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, lp) < 0 ||
	    (local_pid = spawn_local(cfg, lp)) < 0)) {
		log_warn("local delivery process: %s", strerror(errno));
		local_pid = 0;
		close(sv[0]);
		close(sv[1]);
		if (lp[0] >= 0) {
			close(lp[0]);
			close(lp[1]);
		}
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		log_warn("fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		if (lp[0] >= 0) {	/* the local process sees EOF and exits */
			close(lp[0]);
			close(lp[1]);
		}
		return -1;
	}
	if (pid > 0) {
		close(sv[1]);
		if (lp[0] >= 0) {
			close(lp[0]);
			close(lp[1]);
		}
		if (kind == CHILD_QMGR) {
			if (qmgr_fd >= 0) {
				loop_unwatch(qmgr_fd);
				close(qmgr_fd);
			}
			qmgr_fd = sv[0];
			qmgr_missed = 0;
		}
		loop_watch(sv[0], LOOP_READ, on_child_msg, CHAN_ARG(pid, kind));
		return pid;
	}
	close(sv[0]);
	child_reset_signals(kind);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	/* each child keeps only its own end of the ban engine's fds */
	/* no ban engine, no events: none pile up for a later one to count */
	int keep_ev = kind == CHILD_ENGINE && warden_wanted ? ev_sv[1] :
	    kind == CHILD_WARDEN ? ev_sv[0] : -1;
	int keep_fw = kind == CHILD_WARDEN ? fw_sv[0] : kind == CHILD_FIREWALL ? fw_sv[1] : -1;
	for (int i = 0; i < 2; i++) {
		if (ev_sv[i] >= 0 && ev_sv[i] != keep_ev)
			close(ev_sv[i]);
		if (fw_sv[i] >= 0 && fw_sv[i] != keep_fw)
			close(fw_sv[i]);
	}
	if (ctl_fd >= 0 && kind != CHILD_WARDEN)
		close(ctl_fd);
	if (kind == CHILD_WARDEN || kind == CHILD_FIREWALL) {
		int keep[] = { log_fd(), sv[1], keep_ev, keep_fw, kind == CHILD_WARDEN ? ctl_fd : -1 };
		close_other_fds(keep, sizeof(keep) / sizeof(*keep));
	}
	if (kind == CHILD_ENGINE)
		engine_main(cfg, lst, nlst, sv[1], keep_ev);
	for (size_t i = 0; i < nlst; i++)
		close(lst[i].fd);
	if (kind == CHILD_WARDEN) {
		warden_main((struct config *)cfg, cfg_path, keep_ev, ctl_fd, keep_fw, sv[1]);
	}
	if (kind == CHILD_FIREWALL) {
		firewall_main((struct config *)cfg, cfg_path, keep_fw, sv[1]);
	}
	close(lp[1]);
	qmgr_drop_privileges(cfg);
	qmgr_main(cfg, sv[1], lp[0]);
	exit(0);
}

/* A warden and its firewall, started together once both of the last
 * pair are gone (the firewall tears its jails down as it exits). */
static void start_warden_pair(const struct config *cfg)
{
	char err[4096];
	if (warden_pid > 0 || firewall_pid > 0)
		return;
	if (ctl_fd < 0) {
		ctl_fd = control_bind(config_get(cfg, "warden_socket"), err, sizeof(err));
		if (ctl_fd < 0) {
			log_warn("warden_socket: %s", err);
			return;
		}
		ctl_path = xstrdup(config_get(cfg, "warden_socket"));
	}
	if (privsep_prepare_dirs(cfg, err, sizeof(err)) < 0) {
		log_warn("ban engine not started: %s", err);
		return;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fw_sv) < 0) {
		log_warn("socketpair: %s", strerror(errno));
		return;
	}
	firewall_pid = spawn(CHILD_FIREWALL, cfg);
	if (firewall_pid > 0)
		warden_pid = spawn(CHILD_WARDEN, cfg);
	if (firewall_pid > 0 && warden_pid <= 0)
		kill(firewall_pid, SIGTERM);	/* it exits when its peer is gone anyway */
	for (int i = 0; i < 2; i++) {
		close(fw_sv[i]);
		fw_sv[i] = -1;
	}
}

static void start_children(void *arg)
{
	if (stopping)
		return;
	if (warden_wanted)
		start_warden_pair(cur_cfg);
	/* with a cluster, the first engine waits for the warden's first pull */
	if (engine_pid <= 0 && gate_open(config_get(cur_cfg, "warden_cluster"),
	    warden_wanted && warden_pid > 0 ? config_get(cur_cfg, "warden_socket") : NULL,
	    start_children))
		engine_pid = spawn(CHILD_ENGINE, cur_cfg);
	if (qmgr_pid <= 0 && local_pid <= 0)	/* a pair: both gone first */
		qmgr_pid = spawn(CHILD_QMGR, cur_cfg);
	if (engine_pid <= 0 || qmgr_pid <= 0 || local_pid <= 0 || (warden_wanted && warden_pid <= 0))
		loop_timer_set(&restart_timer, 1000, start_children, NULL);
}

/* Whether cfg enables a jail: only then is the warden started. */
static int wants_warden(const struct config *cfg)
{
	struct jailconf jc;
	char err[512];
	if (jailconf_load(cfg, &jc, err, sizeof(err)) < 0) {
		log_warn("ban engine not started: %s", err);
		return 0;
	}
	int n = jc.njails > 0;
	jailconf_free(&jc);
	return n;
}

static void describe_exit(char *buf, size_t len, int status)
{
	if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, len, "status %d", WEXITSTATUS(status));
}

static void on_chld(int signo, void *arg)
{
	int status;
	pid_t pid;
	char how[64];
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		describe_exit(how, sizeof(how), status);
		int clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
		if (pid == engine_pid) {
			engine_pid = 0;
			if (!stopping)
				log_warn("process smtpd pid %d exit %s", (int)pid, how);
		} else if (pid == qmgr_pid) {
			qmgr_pid = 0;
			if (!stopping && !qmgr_restart)
				log_warn("process qmgr pid %d exit %s", (int)pid, how);
			qmgr_restart = 0;
		} else if (pid == local_pid) {
			/* Its qmgr goes too (it sees EOF mid-batch, or gets SIGTERM
			 * when idle) and the two are started again together. A
			 * clean exit is local's answer to its qmgr's EOF. */
			local_pid = 0;
			if (!stopping && qmgr_pid > 0 && !qmgr_restart && !clean) {
				log_warn("process local pid %d exit %s", (int)pid, how);
				qmgr_restart = 1;
				kill(qmgr_pid, SIGTERM);
			}
		} else if (pid == warden_pid) {
			warden_pid = 0;
			if (!stopping && !warden_restart)
				log_warn("process warden pid %d exit %s", (int)pid, how);
			warden_restart = 0;
			if (firewall_pid > 0) {	/* a pair: the firewall goes too */
				firewall_restart = 1;
				kill(firewall_pid, SIGTERM);
			}
		} else if (pid == firewall_pid) {
			firewall_pid = 0;
			if (!stopping && !firewall_restart)
				log_warn("process firewall pid %d exit %s", (int)pid, how);
			firewall_restart = 0;
			if (warden_pid > 0) {
				warden_restart = 1;
				kill(warden_pid, SIGTERM);
			}
		} else if (!clean) {
			log_warn("process pid %d (old generation) exit %s", (int)pid, how);
		}
	}
	if (stopping) {
		if (engine_pid <= 0 && qmgr_pid <= 0 && local_pid <= 0 && warden_pid <= 0 &&
		    firewall_pid <= 0)
			loop_exit();
		return;
	}
	/* Throttle restarts, as Postfix's master does. */
	if ((engine_pid <= 0 || qmgr_pid <= 0 || local_pid <= 0 ||
	    (warden_wanted && warden_pid <= 0)) &&
	    !qmgr_restart)
		loop_timer_set(&restart_timer, 1000, start_children, NULL);
}

static void on_term(int signo, void *arg)
{
	if (stopping)
		return;
	stopping = 1;
	notify_stopping();
	log_info("terminating on signal %d", signo);
	if (engine_pid > 0)
		kill(engine_pid, SIGTERM);
	if (qmgr_pid > 0)
		kill(qmgr_pid, SIGTERM);
	if (warden_pid > 0)	/* its firewall stops when it is gone (on_chld) */
		kill(warden_pid, SIGTERM);
	else if (firewall_pid > 0)
		kill(firewall_pid, SIGTERM);
	/* the local process ends when its qmgr has gone (EOF) */
	if (engine_pid <= 0 && qmgr_pid <= 0 && local_pid <= 0 && warden_pid <= 0 &&
	    firewall_pid <= 0)
		loop_exit();
}

/* The mail log after a rotation: the relay opens maillog_file again by
 * its name (SIGUSR1, SIGHUP, `mailwarden logrotate`). */
static void reopen_log(void)
{
	if (logrelay_reopen() < 0)
		log_warn("maillog_file %s: reopen: %s", config_get(cur_cfg, "maillog_file"),
		    strerror(errno));
}

/* The ban engine's socket that READY=1 and STATUS= wait for, or NULL. */
static const char *notify_warden(void)
{
	return warden_wanted ? config_get(cur_cfg, "warden_socket") : NULL;
}

/* DMARC's Public Suffix List, read here (before the chroot) and
 * inherited by the engine; only when inbound verification is on. */
static int psl_load(const struct config *cfg, char *err, size_t errlen)
{
	if (!config_get_bool(cfg, "dkim_verify"))
		return 0;
	return dmarc_psl_load(config_get(cfg, "dmarc_public_suffix_list"), err, errlen);
}

/* SIGHUP: read the config again; a new engine generation takes over the
 * listeners while the old one finishes its sessions; the queue manager
 * is restarted once the old one has stopped. */
static void on_hup(int signo, void *arg)
{
	char err[1024];
	reopen_log();
	struct config *cfg = config_load(cfg_path, err, sizeof(err));
	char sig[sizeof(bound_named)];
	if (cfg != NULL) {
		named_signature(cfg, sig, sizeof(sig));
		if (strcmp(sig, bound_named) != 0) {
			snprintf(err, sizeof(err), "listeners: named listeners (names, order or "
			    "addresses) change only with a restart");
			config_free(cfg);
			cfg = NULL;
		}
	}
	/* the DKIM keys last: the set replaced is what every later child
	 * inherits, so only once nothing else of the reload can fail */
	if (cfg == NULL || master_check(cfg, err, sizeof(err)) < 0 ||
	    psl_load(cfg, err, sizeof(err)) < 0 || dkim_conf_load(cfg, err, sizeof(err)) < 0) {
		log_warn("reload failed, keeping the old configuration: %s", err);
		if (cfg)
			config_free(cfg);
		return;
	}
	log_info("reload -- version %s, configuration %s", MAILWARDEN_VERSION, cfg_path);
	if (metrics_http_start(cfg, err, sizeof(err)) < 0)
		log_warn("metrics endpoint off: %s", err);
	struct config *old = cur_cfg;
	cur_cfg = cfg;
	warden_wanted = wants_warden(cur_cfg);	/* before the engine: its event fd */
	pid_t old_engine = engine_pid;
	engine_pid = spawn(CHILD_ENGINE, cur_cfg);
	if (old_engine > 0)
		kill(old_engine, SIGUSR1);	/* retire: finish sessions, accept no more */
	if (qmgr_pid > 0) {
		qmgr_restart = 1;
		kill(qmgr_pid, SIGTERM);
	}
	if (ctl_fd >= 0 && (!warden_wanted ||
	    strcmp(ctl_path, config_get(cur_cfg, "warden_socket")) != 0))
		close_control();	/* bound again by the next pair if wanted */
	if (warden_pid > 0) {	/* a new pair reads the new jails */
		warden_restart = 1;
		kill(warden_pid, SIGTERM);
	}
	if (firewall_pid > 0)
		firewall_restart = 1;	/* it follows its warden */
	config_free(old);
	loop_timer_set(&restart_timer, 1000, start_children, NULL);
	notify_started(notify_warden());
}

/* SIGUSR1 (logrotate's postrotate): every log is reopened, the mail log
 * here and the ban engine's fail2ban-format log by the warden (as
 * warden_owner); before, the signal's default action stopped the master
 * and left its children running. */
static void on_usr1(int signo, void *arg)
{
	reopen_log();
	if (warden_pid > 0)
		kill(warden_pid, SIGUSR1);
}

int master_run(struct config *cfg, const char *config_path)
{
	cur_cfg = cfg;
	cfg_path = config_path;
	char kerr[1024];	/* DKIM keys: read here as root, inherited by the children */
	if (dkim_conf_load(cfg, kerr, sizeof(kerr)) < 0)
		fatal("%s", kerr);
	if (psl_load(cfg, kerr, sizeof(kerr)) < 0)
		fatal("%s", kerr);
	open_log(cfg);
	log_set_service("master");
	prepare_dirs(cfg);
	raise_nofile();
	bind_listeners(cfg);
	write_pid(cfg);		/* once bound: a second master has failed by now */
	loop_init();
	signal(SIGPIPE, SIG_IGN);
	loop_signal(SIGCHLD, on_chld, NULL);
	loop_signal(SIGTERM, on_term, NULL);
	loop_signal(SIGINT, on_term, NULL);
	loop_signal(SIGHUP, on_hup, NULL);
	loop_signal(SIGUSR1, on_usr1, NULL);
	logrelay_watch();
	notify_init();
	int lfds[MAX_LISTENERS];
	for (size_t i = 0; i < nlst; i++)
		lfds[i] = lst[i].fd;
	notify_listeners(lfds, nlst);
	title_set("master", config_path);
	log_info("daemon started -- version %s, configuration %s", MAILWARDEN_VERSION, config_path);
	warden_wanted = wants_warden(cfg);
	if (warden_wanted) {
		char err[4096];
		privsep_check_owner(cfg);
		if (privsep_prepare_dirs(cfg, err, sizeof(err)) < 0)
			fatal("%s", err);
	}
	/* events from every engine generation to every warden generation:
	 * no path, and what is sent while a warden restarts waits here */
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, ev_sv) < 0)
		fatal("socketpair: %s", strerror(errno));
	if (metrics_init() < 0)
		fatal("metrics: mmap: %s", strerror(errno));
	char merr[512];
	if (metrics_http_start(cfg, merr, sizeof(merr)) < 0)
		fatal("%s", merr);
	start_children(NULL);
	notify_started(notify_warden());
	loop_run();
	metrics_http_close(0);
	close_control();
	if (unlink(pid_path) < 0)
		log_warn("unlink %s: %s", pid_path, strerror(errno));
	log_info("daemon stopped");	/* after the children's last lines (the sink drains) */
	return 0;
}
