/*
 * log — mail log lines in Postfix's format:
 *   "Mmm dd hh:mm:ss HOST NAME/SERVICE[pid]: text"
 * NAME is syslog_name (default "mailwarden"), SERVICE the Postfix service
 * name of the calling part (smtpd, cleanup, qmgr, local, virtual, ...).
 * Output goes to a file descriptor (maillog_file, opened O_APPEND by the
 * parent and inherited) or to syslog(3) when no file is set. Before
 * log_open() lines go to stderr.
 */
#ifndef MW_LOG_H
#define MW_LOG_H
#include <stdarg.h>
#include <stddef.h>

/* Log to fd (or syslog when fd < 0) as NAME on HOST. */
void log_open(const char *name, const char *host, int fd);
/* Also copy every line to stderr (foreground runs and check-config). */
void log_set_stderr(int on);
/* syslog_facility: "mail", "daemon", "local0".."local7", ...; -1 if unknown */
int log_facility_parse(const char *name);
void log_set_facility(int fac);
/* Set the Postfix service name used from now on in this process. */
void log_set_service(const char *service);
/* Have fn see the text of every line this process logs from now on
 * (NULL: none); fn must not log. */
typedef void log_tap_fn(const char *text);
void log_set_tap(log_tap_fn *fn);
/* Have fn write each formatted line (with its newline) instead of the
 * log fd (NULL: the fd again): the master's maillog_file relay. */
typedef void log_sink_fn(const char *line, size_t len);
void log_set_sink(log_sink_fn *fn);
/* Current log fd (-1 for syslog), e.g. to hand to a child. */
int log_fd(void);
/* An informational line. */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A "warning: " line. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* An "error: " line. */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A "fatal: " line, then exit(1). Start-up errors and broken invariants only. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
#endif
