/*
 * clock — monotonic and wall-clock time through one module, each
 * replaceable for tests (see clock.h).
 */
#include "common/clock.h"

static uint64_t mono_system(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t (*mono_fn)(void) = mono_system;
static double wall_fixed;	/* 0: the system clock */

uint64_t clock_mono_ms(void)
{
	return mono_fn();
}

void clock_set_mono(uint64_t (*fn)(void))
{
	mono_fn = fn ? fn : mono_system;
}

struct timespec clock_wall_ts(void)
{
	struct timespec ts;
	if (wall_fixed > 0) {
		ts.tv_sec = (time_t)wall_fixed;	/* positive: truncation is floor */
		ts.tv_nsec = (long)((wall_fixed - (double)ts.tv_sec) * 1e9);
		return ts;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts;
}

time_t clock_wall(void)
{
	return clock_wall_ts().tv_sec;
}

double clock_wall_f(void)
{
	struct timespec ts = clock_wall_ts();
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void clock_fix_wall(double t)
{
	wall_fixed = t > 0 ? t : 0;
}
