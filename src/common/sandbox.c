/*
 * sandbox — the seccomp allow-lists of mailwarden's processes (see
 * sandbox.h), one table per kind of work, and the SIGSYS handler that
 * reports a violation. Everything not listed traps (SCMP_ACT_TRAP).
 *
 * How the lists were found: each process was run through the whole
 * integration suite (normal and ASan builds) with the filter in place;
 * a missing call shows up as "seccomp violation: system call NAME" in
 * the master's log and tests/integ/conftest.py fails any test whose log
 * has one. Keep them tight: add a call only with the reason next to it.
 *
 * Arguments are checked where libseccomp can (it compares registers,
 * not memory): socket() families per kind, mmap/mprotect never with
 * PROT_EXEC except for the ban engine (PCRE2 JIT), clone() only with
 * CLONE_THREAD (threads, never fork), ioctl() only FIONREAD/FIONBIO/
 * TCGETS. clone3() passes its flags in memory, so it fails with ENOSYS
 * and glibc falls back to clone().
 *
 * Sanitizer builds (ASan/UBSan): the runtime needs more at run time and
 * at exit (LeakSanitizer stops the world with clone+ptrace; a report
 * runs the symbolizer with fork+execve). Those calls are added only
 * when compiled with -fsanitize=address (san_extra below), so a
 * sanitizer build does not prove that execve traps; the normal build
 * does (tests/integ/test_seccomp.py).
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/sandbox.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_SAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_SAN 1
#endif
#endif
#ifndef SANDBOX_SAN
#define SANDBOX_SAN 0
#endif

/* Exit status of a process killed by its filter (128 + SIGSYS, as a shell). */
#define SANDBOX_EXIT (128 + SIGSYS)

/* Every process: memory, the event loop (epoll, signalfd, timers through
 * epoll_wait's timeout), plain I/O on descriptors it holds, time, exit,
 * abort(), the log (a file, or syslog over AF_UNIX), sysinfo (glibc's
 * qsort() of more than 1 KiB asks it for the memory size; libnftables
 * sorts set elements with it). mmap/mprotect are added separately with
 * their PROT_EXEC check. */
static const char *const base_list[] = {
	"read", "write", "readv", "writev", "pread64", "pwrite64", "close", "lseek",
	"fstat", "newfstatat", "statx", "fcntl", "dup", "dup2", "dup3",
	"brk", "munmap", "mremap", "madvise",
	"epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2",
	"signalfd4", "eventfd2", "poll", "ppoll",
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "restart_syscall",
	"clock_gettime", "clock_getres", "gettimeofday", "time", "nanosleep", "clock_nanosleep",
	"getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid", "getgroups",
	"uname", "sysinfo", "futex", "set_robust_list", "rseq", "sched_yield", "getrandom",
	"exit", "exit_group", "tgkill",
	/* sockets it already has or makes (families limited per kind) */
	"connect", "sendto", "sendmsg", "sendmmsg", "recvfrom", "recvmsg", "recvmmsg",
	"getsockopt", "setsockopt", "getsockname", "getpeername", "shutdown",
	NULL,
};

/* smtp engine, chrooted into queue_directory: accepts on the listeners
 * the master bound; writes queue files in incoming/ and syncs them
 * (group commit, a sync worker thread); reads private/bans; c-ares DNS
 * over UDP/TCP, policy servers, Dovecot's auth socket and the ban
 * engine's socket (all connect/sendto); TLS (OpenSSL: getrandom); the
 * password-hash worker threads (src/sasl/worker.c). */
static const char *const engine_list[] = {
	"accept", "accept4",
	"openat", "unlinkat", "renameat", "renameat2", "fsync", "fdatasync", "syncfs",
	"ftruncate", "fchmod", "flock",
	NULL,
};

/* queue manager: files in the spool (scan, rename, link, unlink,
 * sync), pickup of maildrop/ (inotify), the SMTP/LMTP client (TCP and
 * unix connects, TLS), c-ares DNS, bounces, its lock on the spool. */
static const char *const qmgr_list[] = {
	"accept", "accept4",	/* public/showq: mailq for ordinary users */
	"openat", "unlinkat", "renameat", "renameat2", "linkat", "mkdirat", "getdents64",
	"fsync", "fdatasync", "syncfs", "ftruncate", "fchmod", "fchown", "flock",
	"utimensat",		/* futimens: a deferred message's next try */
	"inotify_init1", "inotify_add_watch", "inotify_rm_watch",
	NULL,
};

/* local delivery: switches its file-system identity to the recipient
 * (setfsuid/setfsgid/setgroups) and writes Maildir files fd-relative. */
static const char *const local_list[] = {
	"setfsuid", "setfsgid", "setgroups",
	"openat", "mkdir", "mkdirat", "renameat", "renameat2", "linkat", "unlinkat",
	"getdents64", "fsync", "fdatasync", "syncfs", "fchown", "fchmod",
	"copy_file_range",	/* the message into the Maildir file */
	"readlink", "readlinkat",	/* getpwnam() of an unknown user (NSS) */
	NULL,
};

/* ban engine: followed logs (inotify, rotation: stat by path, reopen),
 * the journal (libsystemd: mmap of journal files, inotify, directory
 * reads, fstatfs), SQLite (warden_dbfile with its WAL: fcntl locks,
 * pread/pwrite, fsync, unlink of the journal), its control socket
 * (bind/listen/accept), PCRE2 JIT (PROT_EXEC, added separately). */
static const char *const warden_list[] = {
	"bind", "listen", "accept", "accept4",
	"openat", "unlink", "unlinkat", "renameat", "renameat2", "mkdirat", "getdents64",
	"fsync", "fdatasync", "ftruncate", "fallocate", "fchmod", "fchown", "flock",
	"inotify_init1", "inotify_add_watch", "inotify_rm_watch",
	"fstatfs", "statfs", "faccessat", "faccessat2", "access", "readlink", "readlinkat",
	"getcwd", "umask", "memfd_create",
	NULL,
};

/* firewall with nftables over netlink (libnftables/libmnl): no command
 * actions, so no fork and no execve. */
static const char *const firewall_nft_list[] = {
	"bind", "openat", "getdents64", "select", "pselect6",
	NULL,
};

/* Sanitizer runtimes only (see the contract above). */
static const char *const san_extra[] = {
	"clone", "fork", "vfork", "execve", "wait4", "waitid", "ptrace", "prctl",
	"pipe", "pipe2", "kill", "openat", "readlink", "readlinkat", "getdents64",
	"sched_getaffinity", "getrlimit", "prlimit64", "setrlimit", "ioctl", "mmap",
	"mprotect", "faccessat", "access",
	/* sanitizer_common's raw calls on x86_64 (LeakSanitizer reads /proc/self/task) */
	"open", "getdents", "stat", "lstat",
	NULL,
};

struct kind_list {
	unsigned kind;
	const char *name;
	const char *const *calls;
	unsigned families;	/* bit n: socket(AF n) allowed */
	int exec_mem;		/* mmap/mprotect with PROT_EXEC */
	int threads;		/* clone(CLONE_THREAD) */
};

#define FAM(f) (1u << (f))
#define NET (FAM(AF_UNIX) | FAM(AF_INET) | FAM(AF_INET6))

static const struct kind_list kinds_tab[] = {
	{ SANDBOX_ENGINE, "smtpd", engine_list, NET, 0, 1 },
	{ SANDBOX_QMGR, "qmgr", qmgr_list, NET, 0, 0 },
	{ SANDBOX_LOCAL, "local", local_list, FAM(AF_UNIX), 0, 0 },
	/* the warden's AF_NETLINK: glibc's getaddrinfo() reads this host's
	 * addresses over NETLINK_ROUTE to sort the answers (ignoreip names,
	 * resolved at reload); with no capability it can change nothing */
	{ SANDBOX_WARDEN, "warden", warden_list, NET | FAM(AF_NETLINK), 1, 0 },
	{ SANDBOX_FIREWALL_NFT, "firewall", firewall_nft_list, FAM(AF_UNIX) | FAM(AF_NETLINK), 0, 0 },
};

static int report_fd = -1;

/* The first kind's name, for messages. */
static const char *kind_name(unsigned kinds)
{
	for (size_t i = 0; i < sizeof(kinds_tab) / sizeof(*kinds_tab); i++)
		if (kinds & kinds_tab[i].kind)
			return kinds_tab[i].name;
	return "none";
}

/* SIGSYS from the filter: one datagram to the master (or a line on
 * stderr), then exit. Only async-signal-safe calls, all on every list. */
static void on_sigsys(int sig, siginfo_t *si, void *ctx)
{
	uint32_t nr = (uint32_t)si->si_syscall, arch = si->si_arch;
	unsigned char d[12] = {
		MSG_SANDBOX_VIOLATION >> 8, MSG_SANDBOX_VIOLATION & 0xff, 0, 0,
		nr >> 24, nr >> 16, nr >> 8, nr, arch >> 24, arch >> 16, arch >> 8, arch,
	};
	if (report_fd < 0 || write(report_fd, d, sizeof(d)) != (ssize_t)sizeof(d)) {
		char line[80] = "seccomp violation: system call ";
		size_t n = strlen(line);
		char digits[12];
		int k = 0;
		do
			digits[k++] = (char)('0' + nr % 10);
		while ((nr /= 10) != 0 && k < (int)sizeof(digits));
		while (k > 0 && n < sizeof(line) - 1)
			line[n++] = digits[--k];
		line[n++] = '\n';
		if (write(STDERR_FILENO, line, n) < 0)
			_exit(SANDBOX_EXIT);
	}
	_exit(SANDBOX_EXIT);
}

/* MAILWARDEN_TEST_HOOKS=1: SIGUSR2 attempts an execve, which must trap. */
static void on_test_exec(int sig)
{
	char *const argv[] = { "true", NULL }, *const envp[] = { NULL };
	execve("/bin/true", argv, envp);
	_exit(127);
}

static int add(scmp_filter_ctx ctx, const char *name, char *err, size_t errlen)
{
	int nr = seccomp_syscall_resolve_name(name);
	if (nr == __NR_SCMP_ERROR)
		return 0;	/* not on this architecture */
	int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
	if (rc < 0 && rc != -EEXIST) {
		snprintf(err, errlen, "seccomp: allow %s: %s", name, strerror(-rc));
		return -1;
	}
	return 0;
}

static int add_arg(scmp_filter_ctx ctx, int nr, const char *name, struct scmp_arg_cmp cmp,
    char *err, size_t errlen)
{
	int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1, cmp);
	if (rc < 0 && rc != -EEXIST) {
		snprintf(err, errlen, "seccomp: allow %s with an argument check: %s", name,
		    strerror(-rc));
		return -1;
	}
	return 0;
}

/* One argument comparison, every field set (libseccomp's SCMP_An()
 * macros leave datum_b out, which clang's -Wmissing-field-initializers
 * refuses). */
static struct scmp_arg_cmp arg_cmp(unsigned arg, enum scmp_compare op, scmp_datum_t a,
    scmp_datum_t b)
{
	struct scmp_arg_cmp c = { arg, op, a, b };
	return c;
}

/* Rules with argument checks: the union over the kinds chosen. */
static int add_checked(scmp_filter_ctx ctx, unsigned families, int exec_mem, int threads,
    char *err, size_t errlen)
{
	for (int f = 0; f < 32; f++)
		if ((families & FAM(f)) && add_arg(ctx, SCMP_SYS(socket), "socket",
		    arg_cmp(0, SCMP_CMP_EQ, (scmp_datum_t)f, 0), err, errlen) < 0)
			return -1;
	if (exec_mem) {
		if (add(ctx, "mmap", err, errlen) < 0 || add(ctx, "mprotect", err, errlen) < 0)
			return -1;
	} else if (add_arg(ctx, SCMP_SYS(mmap), "mmap", arg_cmp(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0),
	    err, errlen) < 0 || add_arg(ctx, SCMP_SYS(mprotect), "mprotect",
	    arg_cmp(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0), err, errlen) < 0) {
		return -1;
	}
	if (threads) {
		if (add_arg(ctx, SCMP_SYS(clone), "clone", arg_cmp(0, SCMP_CMP_MASKED_EQ,
		    CLONE_THREAD, CLONE_THREAD), err, errlen) < 0)
			return -1;
	}
	int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (rc < 0 && rc != -EEXIST) {
		snprintf(err, errlen, "seccomp: clone3: %s", strerror(-rc));
		return -1;
	}
	static const unsigned long ioctls[] = { FIONREAD, FIONBIO, TCGETS };
	for (size_t i = 0; i < sizeof(ioctls) / sizeof(*ioctls); i++)
		if (add_arg(ctx, SCMP_SYS(ioctl), "ioctl", arg_cmp(1, SCMP_CMP_EQ, ioctls[i], 0),
		    err, errlen) < 0)
			return -1;
	return 0;
}

static int add_list(scmp_filter_ctx ctx, const char *const *l, char *err, size_t errlen)
{
	for (; *l; l++)
		if (add(ctx, *l, err, errlen) < 0)
			return -1;
	return 0;
}

/* Load what the C library loads lazily (NSS modules: dlopen needs
 * PROT_EXEC) while it still may. */
static void preload(void)
{
	(void)getpwuid(0);
	(void)getgrgid(0);
	(void)getpwnam("mailwarden-sandbox-preload");
}

static int install(unsigned kinds, int log_only, char *err, size_t errlen)
{
	scmp_filter_ctx ctx = seccomp_init(log_only ? SCMP_ACT_LOG : SCMP_ACT_TRAP);
	if (ctx == NULL) {
		snprintf(err, errlen, "seccomp_init failed");
		return -1;
	}
	unsigned families = 0;
	int exec_mem = 0, threads = 0, rc = -1;
	if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, log_only ? SCMP_ACT_LOG : SCMP_ACT_TRAP) < 0 ||
	    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) < 0) {
		snprintf(err, errlen, "seccomp: cannot set filter attributes");
		goto out;
	}
	if (add_list(ctx, base_list, err, errlen) < 0)
		goto out;
	for (size_t i = 0; i < sizeof(kinds_tab) / sizeof(*kinds_tab); i++) {
		const struct kind_list *k = &kinds_tab[i];
		if (!(kinds & k->kind))
			continue;
		if (add_list(ctx, k->calls, err, errlen) < 0)
			goto out;
		families |= k->families;
		exec_mem |= k->exec_mem;
		threads |= k->threads;
	}
	if (SANDBOX_SAN && add_list(ctx, san_extra, err, errlen) < 0)
		goto out;
	if (add_checked(ctx, families, exec_mem, threads, err, errlen) < 0)
		goto out;
	rc = seccomp_load(ctx);
	if (rc < 0) {
		snprintf(err, errlen, "seccomp_load: %s", strerror(-rc));
		rc = -1;
	}
out:
	seccomp_release(ctx);
	return rc;
}

int sandbox_enter(const struct config *cfg, unsigned kinds, int fd, char *err, size_t errlen)
{
	const char *hooks = getenv("MAILWARDEN_TEST_HOOKS");
	if (hooks && strcmp(hooks, "1") == 0 && signal(SIGUSR2, on_test_exec) == SIG_ERR) {
		snprintf(err, errlen, "test hook: signal: %s", strerror(errno));
		return -1;
	}
	if (!config_get_bool(cfg, "seccomp"))
		return 0;
	report_fd = fd;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigfillset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0) {
		snprintf(err, errlen, "sigaction SIGSYS: %s", strerror(errno));
		return -1;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		snprintf(err, errlen, "prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
		return -1;
	}
	preload();
	/* Developers: MAILWARDEN_SECCOMP_LOG=1 logs what would trap to the
	 * kernel's audit log (dmesg: type=1326, comm=mw-KIND) and goes on. */
	const char *log_only = getenv("MAILWARDEN_SECCOMP_LOG");
	int lo = log_only && strcmp(log_only, "1") == 0;
	if (lo) {
		char comm[16];
		snprintf(comm, sizeof(comm), "mw-%s", kind_name(kinds));
		if (prctl(PR_SET_NAME, comm, 0, 0, 0) < 0)
			log_warn("prctl(PR_SET_NAME): %s", strerror(errno));
	}
	if (install(kinds, lo, err, errlen) < 0)
		return -1;
	log_info("seccomp filter on%s%s", SANDBOX_SAN ? " (sanitizer build: wider lists)" : "",
	    lo ? " (MAILWARDEN_SECCOMP_LOG: logging, not trapping)" : "");
	return 0;
}

const char *sandbox_syscall_name(uint32_t arch, uint32_t nr, char *buf, size_t len)
{
	char *name = seccomp_syscall_resolve_num_arch(arch, (int)nr);
	snprintf(buf, len, "%s", name ? name : "unknown");
	free(name);
	return buf;
}

int sandbox_sanitizer_build(void)
{
	return SANDBOX_SAN;
}
