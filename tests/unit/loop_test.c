/* loop_test — timers fire in order on a replaceable clock; idle hooks
 * run after the events of one iteration; descriptors are dispatched. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/loop.h"

static uint64_t fake_now;
static uint64_t fake_clock(void) { return fake_now; }

static char order[16];
static size_t norder;

static void fire(void *arg)
{
	order[norder++] = *(const char *)arg;
	if (norder == 3)
		loop_exit();
}

static void test_timer_order(void **state)
{
	static struct loop_timer a, b, c, d;
	loop_init();
	clock_set_mono(fake_clock);
	fake_now = 1000;
	norder = 0;
	loop_timer_set(&a, 30, fire, "a");
	loop_timer_set(&b, 10, fire, "b");
	loop_timer_set(&c, 20, fire, "c");
	loop_timer_set(&d, 5, fire, "d");
	loop_timer_clear(&d);		/* a cleared timer never fires */
	fake_now = 2000;		/* all due at once */
	loop_run();
	assert_int_equal(norder, 3);
	assert_memory_equal(order, "bca", 3);
	clock_set_mono(NULL);
}

static int idle_ran, io_ran;

static void on_idle(void *arg)
{
	idle_ran = 1;
	assert_int_equal(io_ran, 1);	/* after the I/O of this iteration */
	loop_exit();
}

static void on_read(int fd, int events, void *arg)
{
	char c;
	assert_true(events & LOOP_READ);
	assert_int_equal(read(fd, &c, 1), 1);
	io_ran = 1;
	loop_at_idle(on_idle, NULL);
	loop_at_idle(on_idle, NULL);	/* registered once */
}

static void test_io_then_idle(void **state)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	loop_init();
	loop_watch(p[0], LOOP_READ, on_read, NULL);
	assert_int_equal(write(p[1], "x", 1), 1);
	loop_run();
	assert_int_equal(idle_ran, 1);
	loop_unwatch(p[0]);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timer_order),
		cmocka_unit_test(test_io_then_idle),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
