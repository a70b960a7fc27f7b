/*
 * sandbox — seccomp allow-lists per process (libseccomp). A process that
 * has finished its set-up calls sandbox_enter() with the kinds of work it
 * does; from then on every system call outside the union of those lists
 * traps: a SIGSYS handler reports the call to the master as one
 * MSG_SANDBOX_VIOLATION datagram (or, without a channel, a line on
 * stderr) and the process exits; the master logs it and restarts the
 * process. None of the lists allows execve, execveat, ptrace or
 * process_vm_*; socket() is limited to the families each kind needs.
 * The lists themselves, one per kind, are documented in sandbox.c.
 */
#ifndef MW_SANDBOX_H
#define MW_SANDBOX_H
#include <stddef.h>
#include <stdint.h>

struct config;

/* Kinds of work; or them together for a process that still does two
 * (today's queue manager: SANDBOX_QMGR | SANDBOX_LOCAL). */
enum sandbox_kind {
	SANDBOX_ENGINE = 1 << 0,	/* smtp engine, chrooted */
	SANDBOX_QMGR = 1 << 1,		/* queue manager: spool, SMTP/LMTP client, DNS, pickup */
	SANDBOX_WARDEN = 1 << 2,	/* ban engine: files, SQLite, inotify, journal, PCRE2 JIT */
	SANDBOX_LOCAL = 1 << 3,		/* local delivery: setfsuid/setfsgid/setgroups, Maildir */
	SANDBOX_FIREWALL_NFT = 1 << 4,	/* firewall, nftables over netlink (no command actions) */
};

/* Set NoNewPrivs and install the allow-list of `kinds`, unless the config
 * says seccomp = no. Violations are reported on report_fd (the process's
 * socketpair to the master; -1: stderr). 0, or -1 with err. With
 * MAILWARDEN_TEST_HOOKS=1 in the environment, SIGUSR2 makes the process
 * call execve("/bin/true") (tests/integ/test_seccomp.py). */
int sandbox_enter(const struct config *cfg, unsigned kinds, int report_fd, char *err,
    size_t errlen);
/* The name of system call nr on audit architecture arch ("execve"), or
 * "unknown"; copied into buf. */
const char *sandbox_syscall_name(uint32_t arch, uint32_t nr, char *buf, size_t len);
/* Whether this is a sanitizer build, whose lists are wider (sandbox.c). */
int sandbox_sanitizer_build(void);
#endif
