/*
 * notify — the master's word to systemd (Type=notify): READY=1 once the
 * listeners are bound, the smtp engine started and, when a jail is on,
 * the ban engine answers on its control socket (its jails are up);
 * STATUS= with the sessions open and the bans in force, every few
 * seconds; WATCHDOG=1 at half of WatchdogSec; STOPPING=1. Without
 * NOTIFY_SOCKET in the environment every call does nothing.
 */
#ifndef MW_NOTIFY_H
#define MW_NOTIFY_H
#include <stddef.h>

/* After loop_init(): read NOTIFY_SOCKET/WATCHDOG_USEC, start the
 * watchdog timer. */
void notify_init(void);
/* The listening sockets whose established sessions STATUS= counts. */
void notify_listeners(const int *fds, size_t n);
/* Children started: READY=1 now (ctl_path NULL: no ban engine) or when
 * the warden answers on ctl_path. Again after each reload. */
void notify_started(const char *ctl_path);
/* STOPPING=1 (SIGTERM). */
void notify_stopping(void);
/* In a child right after fork: no notifications, nor for what it runs. */
void notify_child(void);
#endif
