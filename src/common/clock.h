/*
 * clock — the one place mailwarden asks the time, so that tests can
 * replace it: monotonic milliseconds for timers, deadlines and rates;
 * wall-clock time for queue times, headers, ban expiry and log dates in
 * filters. Left on the system clock on purpose: the timestamps of our own
 * log lines (log.c, f2blog.c: when it really happened), unique names
 * (spool and Maildir file names), seeds, and sd-journal's own timeouts.
 */
#ifndef MW_COMMON_CLOCK_H
#define MW_COMMON_CLOCK_H
#include <stdint.h>
#include <time.h>

/* Monotonic milliseconds (timers, deadlines, rates). */
uint64_t clock_mono_ms(void);
/* Wall-clock time, seconds and nanoseconds since the epoch. */
struct timespec clock_wall_ts(void);
/* Wall-clock seconds. */
time_t clock_wall(void);
/* Wall-clock seconds with the fraction (delays, durations in logs). */
double clock_wall_f(void);
/* Tests: replace the monotonic clock (NULL: the system's again). */
void clock_set_mono(uint64_t (*fn)(void));
/* Tests and `scan --now`: stop the wall clock at t seconds (0: the
 * system's again). */
void clock_fix_wall(double t);
#endif
