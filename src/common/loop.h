/*
 * loop — the one event loop of a process: epoll for descriptors, a timer
 * heap for timeouts, and signals delivered as ordinary events (signalfd).
 * No threads. Time comes from clock_mono_ms() (common/clock.h), which
 * tests may replace.
 */
#ifndef MW_LOOP_H
#define MW_LOOP_H
#include <stdint.h>

#define LOOP_READ  0x01
#define LOOP_WRITE 0x02

typedef void loop_io_fn(int fd, int events, void *arg);
typedef void loop_timer_fn(void *arg);
typedef void loop_signal_fn(int signo, void *arg);
typedef void loop_idle_fn(void *arg);

struct loop_timer {
	uint64_t when;		/* ms, clock_mono_ms() clock */
	size_t slot;		/* position in the heap, (size_t)-1 if idle */
	loop_timer_fn *fn;
	void *arg;
};

/* Create the process's loop (once per process; after fork call again). */
void loop_init(void);
/* Watch fd for events (LOOP_READ|LOOP_WRITE); replaces a previous watch. */
void loop_watch(int fd, int events, loop_io_fn *fn, void *arg);
/* Stop watching fd (call before close). */
void loop_unwatch(int fd);
/* Arm a timer to fire after ms milliseconds (re-arms if already armed). */
void loop_timer_set(struct loop_timer *t, uint64_t ms, loop_timer_fn *fn, void *arg);
/* Disarm a timer; harmless when not armed. */
void loop_timer_clear(struct loop_timer *t);
/* Deliver signo through the loop instead of asynchronously. */
void loop_signal(int signo, loop_signal_fn *fn, void *arg);
/* Call fn once after the current batch of events (group commit hook). */
void loop_at_idle(loop_idle_fn *fn, void *arg);
/* Forget a pending loop_at_idle(fn, arg) (its object is going away). */
void loop_cancel_idle(loop_idle_fn *fn, void *arg);
/* Run until loop_exit(). */
void loop_run(void);
/* Make loop_run() return after the current iteration. */
void loop_exit(void);
#endif
