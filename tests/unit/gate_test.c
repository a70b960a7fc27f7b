/* gate_test — the first engine's wait for the warden (src/master/gate.c):
 * open at once without a cluster; open when the control socket answers
 * (wake called from the loop); open without calling wake when its own
 * call finds the wait ran out (the caller starts the engine itself).
 * The gate's state is the process's: each case runs in a fork. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/loop.h"
#include "master/gate.h"

static uint64_t now_ms = 1000000;
static int wakes;

static uint64_t fake_mono(void)
{
	return now_ms;
}

static void wake(void *arg)
{
	wakes++;
	loop_exit();
}

/* Run fn in a child; its exit status (0: every check held). */
static int in_child(int (*fn)(void))
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0)
		_exit(fn());
	int st = -1;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100;
}

static int no_cluster(void)
{
	loop_init();
	if (gate_open("", "/nonexistent/ctl", wake) != 1 || gate_open(NULL, "/x", wake) != 1)
		return 1;
	return wakes == 0 ? 0 : 2;
}

static void test_no_cluster(void **state)
{
	assert_int_equal(in_child(no_cluster), 0);
}

/* No socket to probe, and the wait runs out on a later call from the
 * master's restart timer: the gate opens, that call says so, and wake
 * is not called from inside it (start_children would run nested and
 * start a second engine). */
static int ran_out(void)
{
	loop_init();
	clock_set_mono(fake_mono);
	if (gate_open("redis://127.0.0.1:6379", "/nonexistent/ctl", wake) != 0)
		return 1;
	now_ms += 2000;
	if (gate_open("redis://127.0.0.1:6379", "/nonexistent/ctl", wake) != 0)
		return 2;
	now_ms += 4000;
	if (gate_open("redis://127.0.0.1:6379", "/nonexistent/ctl", wake) != 1)
		return 3;
	if (wakes != 0)
		return 4;
	if (gate_open("redis://127.0.0.1:6379", "/nonexistent/ctl", wake) != 1)
		return 5;	/* stays open */
	return 0;
}

static void test_ran_out_opens_without_wake(void **state)
{
	assert_int_equal(in_child(ran_out), 0);
}

/* The warden answers: the loop calls wake once, the gate is open. */
static int answered(void)
{
	char dir[] = "/tmp/gate_test.XXXXXX", path[108];
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/ctl", dir);
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(l, 4) < 0)
		return 2;
	loop_init();
	int rc = 0;
	if (gate_open("redis://127.0.0.1:6379", path, wake) != 0)
		rc = 3;
	int c = accept(l, NULL, NULL);
	char req[16] = "";
	if (rc == 0 && (c < 0 || read(c, req, sizeof(req) - 1) != 5 || strcmp(req, "ping\n") != 0 ||
	    write(c, "ok\n", 3) != 3))
		rc = 4;
	if (rc == 0) {
		loop_run();	/* until wake's loop_exit */
		if (wakes != 1 || gate_open("redis://127.0.0.1:6379", path, wake) != 1)
			rc = 5;
	}
	unlink(path);
	rmdir(dir);
	return rc;
}

static void test_answer_wakes(void **state)
{
	assert_int_equal(in_child(answered), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_cluster),
		cmocka_unit_test(test_ran_out_opens_without_wake),
		cmocka_unit_test(test_answer_wakes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
