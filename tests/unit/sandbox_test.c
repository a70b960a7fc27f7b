/* sandbox_test — the real filters in forked children: what each kind
 * allows works, what it does not traps (exit 128+SIGSYS) with one
 * MSG_SANDBOX_VIOLATION datagram naming the call; seccomp = no installs
 * nothing. Sanitizer builds allow execve/fork/PROT_EXEC (their runtime
 * needs them), so those checks are skipped there. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/config.h"
#include "common/msg.h"
#include "common/sandbox.h"

#define TRAPPED (128 + SIGSYS)

static struct config *load(const char *text)
{
	char path[] = "/tmp/mw_sandbox_test_XXXXXX", err[512];
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	struct config *cfg = config_load(path, err, sizeof(err));
	unlink(path);
	if (cfg == NULL)
		fail_msg("config: %s", err);
	return cfg;
}

typedef int child_fn(void);

/* Run fn in a child under the filter of kinds; its exit status, and the
 * system call it reported (-1: none). */
static int run(const char *conf, unsigned kinds, child_fn *fn, long *reported)
{
	struct config *cfg = load(conf);
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char err[256];
		close(sv[0]);
		if (sandbox_enter(cfg, kinds, sv[1], err, sizeof(err)) < 0) {
			fprintf(stderr, "sandbox_enter: %s\n", err);
			_exit(2);
		}
		_exit(fn());
	}
	close(sv[1]);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	*reported = -1;
	struct msg m;
	if (msg_recv(sv[0], &m) == 1) {
		assert_int_equal(m.type, MSG_SANDBOX_VIOLATION);
		uint32_t nr = msg_get_u32(&m), arch = msg_get_u32(&m);
		assert_int_equal(msg_end(&m), 0);
		assert_int_equal(arch, seccomp_arch_native());
		*reported = nr;
		msg_free(&m);
	}
	close(sv[0]);
	config_free(cfg);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static int do_execve(void)
{
	char *const argv[] = { "true", NULL }, *const envp[] = { NULL };
	execve("/bin/true", argv, envp);
	return 3;
}

static int do_inet(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	return fd >= 0 && close(fd) == 0 ? 0 : 1;
}

static int do_netlink(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW, 0);
	return fd >= 0 ? 0 : 1;
}

static int do_exec_mem(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
	    -1, 0);
	return p != MAP_FAILED ? 0 : 1;
}

static void *thread_fn(void *arg)
{
	return arg;
}

static int do_thread(void)
{
	pthread_t th;
	void *r = NULL;
	if (pthread_create(&th, NULL, thread_fn, (void *)7) != 0 || pthread_join(th, &r) != 0)
		return 1;
	return r == (void *)7 ? 0 : 1;
}

static int do_fork(void)
{
	pid_t p = fork();
	if (p == 0)
		_exit(0);
	return p > 0 ? 0 : 1;
}

static int do_setfsuid(void)
{
	setfsuid(getuid());
	return 0;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* glibc's qsort() of more than 1 KiB asks sysinfo(2) for the memory size
 * once per process (msort); libnftables sorts a set's elements with it. */
static int do_big_qsort(void)
{
	int v[4096];
	for (int i = 0; i < 4096; i++)
		v[i] = (i * 7919) % 4096;
	qsort(v, 4096, sizeof(int), cmp_int);
	return v[0] == 0 && v[4095] == 4095 ? 0 : 1;
}

static const char on[] = "seccomp = yes\n";

static void test_execve_traps_and_reports(void **state)
{
	if (sandbox_sanitizer_build())
		skip();
	static const unsigned kinds[] = { SANDBOX_ENGINE, SANDBOX_QMGR | SANDBOX_LOCAL,
		SANDBOX_WARDEN, SANDBOX_FIREWALL_NFT };
	for (size_t i = 0; i < sizeof(kinds) / sizeof(*kinds); i++) {
		long nr;
		assert_int_equal(run(on, kinds[i], do_execve, &nr), TRAPPED);
		assert_int_equal(nr, SCMP_SYS(execve));
		char name[64];
		assert_string_equal(sandbox_syscall_name(seccomp_arch_native(), (uint32_t)nr, name,
		    sizeof(name)), "execve");
	}
}

static void test_socket_families(void **state)
{
	long nr;
	assert_int_equal(run(on, SANDBOX_ENGINE, do_inet, &nr), 0);
	assert_int_equal(nr, -1);
	assert_int_equal(run(on, SANDBOX_ENGINE, do_netlink, &nr), TRAPPED);
	assert_int_equal(nr, SCMP_SYS(socket));
	assert_int_equal(run(on, SANDBOX_FIREWALL_NFT, do_netlink, &nr), 0);
	assert_int_equal(run(on, SANDBOX_FIREWALL_NFT, do_inet, &nr), TRAPPED);
}

static void test_exec_memory_only_for_the_warden(void **state)
{
	long nr;
	assert_int_equal(run(on, SANDBOX_WARDEN, do_exec_mem, &nr), 0);
	if (sandbox_sanitizer_build())
		skip();
	assert_int_equal(run(on, SANDBOX_ENGINE, do_exec_mem, &nr), TRAPPED);
	assert_int_equal(nr, SCMP_SYS(mmap));
}

static void test_threads_but_no_fork(void **state)
{
	long nr;
	assert_int_equal(run(on, SANDBOX_ENGINE, do_thread, &nr), 0);
	if (sandbox_sanitizer_build())
		skip();
	assert_int_equal(run(on, SANDBOX_ENGINE, do_fork, &nr), TRAPPED);
	assert_int_equal(nr, SCMP_SYS(clone));
}

static void test_local_switches_fsuid(void **state)
{
	long nr;
	assert_int_equal(run(on, SANDBOX_QMGR | SANDBOX_LOCAL, do_setfsuid, &nr), 0);
	assert_int_equal(run(on, SANDBOX_ENGINE, do_setfsuid, &nr), TRAPPED);
	assert_int_equal(nr, SCMP_SYS(setfsuid));
}

/* Reproduced by bench/flood_bench.py: the nft-only firewall was killed
 * (sysinfo) when libnftables sorted a set of 100 bans at stop and start. */
static void test_large_qsort_in_every_kind(void **state)
{
	static const unsigned kinds[] = { SANDBOX_ENGINE, SANDBOX_QMGR | SANDBOX_LOCAL,
		SANDBOX_WARDEN, SANDBOX_FIREWALL_NFT };
	for (size_t i = 0; i < sizeof(kinds) / sizeof(*kinds); i++) {
		long nr;
		assert_int_equal(run(on, kinds[i], do_big_qsort, &nr), 0);
		assert_int_equal(nr, -1);
	}
}

static void test_seccomp_no(void **state)
{
	long nr;
	assert_int_equal(run("seccomp = no\n", SANDBOX_ENGINE, do_execve, &nr), 0);
	assert_int_equal(nr, -1);
	assert_int_equal(run("seccomp = no\n", SANDBOX_ENGINE, do_netlink, &nr), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_execve_traps_and_reports),
		cmocka_unit_test(test_socket_families),
		cmocka_unit_test(test_exec_memory_only_for_the_warden),
		cmocka_unit_test(test_threads_but_no_fork),
		cmocka_unit_test(test_local_switches_fsuid),
		cmocka_unit_test(test_large_qsort_in_every_kind),
		cmocka_unit_test(test_seccomp_no),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
