/* notify_test — the master's sd_notify messages (src/master/notify.c)
 * against a datagram socket standing for systemd and a fake warden
 * answering "count" on a unix socket: READY=1 once it answers, STATUS=
 * with the number of bans, and "unknown" when the answer is not one
 * number (too long, or not a number). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/loop.h"
#include "master/notify.h"

static char dir[] = "/tmp/notify_test.XXXXXX";
static char sys_path[108], ctl_path[108];

static int unix_socket(const char *path, int type)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	unlink(path);
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	if (type == SOCK_STREAM)
		assert_int_equal(listen(fd, 4), 0);
	return fd;
}

/* The fake warden: one connection, "count\n" read, "ok\n" and the
 * answer written, then width bytes of 'x' (a line) when width > 0. */
static pid_t fake_warden(int lfd, const char *answer, size_t width)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid > 0)
		return pid;
	int c = accept(lfd, NULL, NULL);
	char req[16] = "";
	if (c < 0 || read(c, req, sizeof(req) - 1) <= 0 || strcmp(req, "count\n") != 0)
		_exit(1);
	if (write(c, "ok\n", 3) != 3 || write(c, answer, strlen(answer)) != (ssize_t)strlen(answer))
		_exit(2);
	if (width > 0) {
		char *line = malloc(width);
		memset(line, 'x', width - 1);
		line[width - 1] = '\n';
		for (size_t off = 0; off < width;) {
			ssize_t n = write(c, line + off, width - off);
			if (n <= 0)
				_exit(0);	/* the master stopped reading */
			off += (size_t)n;
		}
	}
	close(c);
	_exit(0);
}

static void stop(void *arg)
{
	loop_exit();
}

/* Every message systemd got, "|"-separated. */
static void received(int sfd, char *out, size_t len)
{
	char msg[512];
	ssize_t n;
	out[0] = '\0';
	while ((n = recv(sfd, msg, sizeof(msg) - 1, MSG_DONTWAIT)) > 0) {
		msg[n] = '\0';
		size_t l = strlen(out);
		snprintf(out + l, len - l, "%s|", msg);
	}
}

/* Start the master's side with a warden answering answer (and width
 * bytes more); what systemd got within 1.5 s. */
static void run(const char *answer, size_t width, char *got, size_t len)
{
	int sfd = unix_socket(sys_path, SOCK_DGRAM);
	int lfd = unix_socket(ctl_path, SOCK_STREAM);
	setenv("NOTIFY_SOCKET", sys_path, 1);
	unsetenv("WATCHDOG_USEC");
	pid_t w = fake_warden(lfd, answer, width);
	loop_init();
	notify_init();
	notify_started(ctl_path);
	struct loop_timer t = { 0, (size_t)-1, NULL, NULL };
	loop_timer_set(&t, 1500, stop, NULL);
	loop_run();
	received(sfd, got, len);
	kill(w, SIGKILL);
	waitpid(w, NULL, 0);
	close(sfd);
	close(lfd);
}

static void test_ready_and_ban_count(void **state)
{
	char got[4096];
	run("3\n", 0, got, sizeof(got));
	assert_non_null(strstr(got, "READY=1|"));
	assert_non_null(strstr(got, "STATUS=0 session(s), 3 ban(s) in force|"));
}

static int setup(void **state)
{
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(sys_path, sizeof(sys_path), "%s/notify", dir);
	snprintf(ctl_path, sizeof(ctl_path), "%s/ctl", dir);
	return 0;
}

static int teardown(void **state)
{
	unlink(sys_path);
	unlink(ctl_path);
	rmdir(dir);
	return 0;
}

/* An answer longer than a count (a list, say) and one that is not a
 * number: the warden answered (READY=1 was the first test's: once a
 * process), but the count is unknown. */
static void test_long_answer_is_unknown(void **state)
{
	char got[4096];
	run("3\n", 1024 * 1024, got, sizeof(got));
	assert_non_null(strstr(got, "STATUS=0 session(s), bans in force unknown|"));
	assert_null(strstr(got, " ban(s) in force|"));
}

static void test_not_a_number_is_unknown(void **state)
{
	char got[4096];
	run("sshd\t192.0.2.7\t600s\n", 0, got, sizeof(got));
	assert_non_null(strstr(got, "STATUS=0 session(s), bans in force unknown|"));
	assert_null(strstr(got, " ban(s) in force|"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ready_and_ban_count),
		cmocka_unit_test(test_long_answer_is_unknown),
		cmocka_unit_test(test_not_a_number_is_unknown),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
