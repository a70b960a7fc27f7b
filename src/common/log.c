/*
 * log — Postfix-format log lines to a file, syslog, or stderr.
 * Each line is written with a single write(2) on an O_APPEND descriptor,
 * so lines from several processes never interleave.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

static char log_name[64] = "mailwarden";
static char log_host[256] = "localhost";
static char log_service[32] = "master";
static int log_fdesc = 2;	/* stderr until log_open() */
static int log_use_syslog;
static int log_stderr_too;
static int log_facility = LOG_MAIL;
static log_tap_fn *log_tap;	/* sees every line's text (showq's reasons) */
static log_sink_fn *log_sink;	/* takes the formatted line instead of log_fdesc */

static const struct { const char *name; int fac; } facilities[] = {
	{ "mail", LOG_MAIL }, { "daemon", LOG_DAEMON }, { "user", LOG_USER },
	{ "auth", LOG_AUTH }, { "authpriv", LOG_AUTHPRIV },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 },
	{ "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
};

int log_facility_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
		if (strcasecmp(facilities[i].name, name) == 0)
			return facilities[i].fac;
	return -1;
}

void log_set_facility(int fac)
{
	log_facility = fac;
}

void log_open(const char *name, const char *host, int fd)
{
	str_copy(log_name, sizeof(log_name), name);
	str_copy(log_host, sizeof(log_host), host);
	if (fd < 0) {
		if (log_use_syslog)
			closelog();
		log_use_syslog = 1;
		openlog(log_name, LOG_PID | LOG_NDELAY, log_facility);
		log_fdesc = -1;
	} else {
		log_use_syslog = 0;
		log_fdesc = fd;
	}
}

void log_set_stderr(int on)
{
	log_stderr_too = on;
}

void log_set_service(const char *service)
{
	str_copy(log_service, sizeof(log_service), service);
}

void log_set_tap(log_tap_fn *fn)
{
	log_tap = fn;
}

void log_set_sink(log_sink_fn *fn)
{
	log_sink = fn;
}

int log_fd(void)
{
	return log_fdesc;
}

static void log_write(int prio, const char *prefix, const char *fmt, va_list ap)
{
	char text[2048];
	char line[2400];
	int saved = errno;

	int n = vsnprintf(text, sizeof(text), fmt, ap);
	if (n < 0)
		str_copy(text, sizeof(text), "(log format error)");
	/* Never let control characters from clients into the log. */
	for (char *p = text; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	if (log_tap)
		log_tap(text);
	if (log_use_syslog) {
		char tag[128];
		snprintf(tag, sizeof(tag), "%s/%s", log_name, log_service);
		openlog(tag, LOG_PID, log_facility);
		syslog(prio, "%s%s", prefix, text);
	}
	if (!log_use_syslog || log_stderr_too) {
		time_t now = time(NULL);
		struct tm tm;
		char stamp[32];
		localtime_r(&now, &tm);
		if (strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm) == 0)
			stamp[0] = '\0';
		n = snprintf(line, sizeof(line), "%s %s %s/%s[%ld]: %s%s\n",
		    stamp, log_host, log_name, log_service, (long)getpid(),
		    prefix, text);
		if (n < 0)
			return;
		if ((size_t)n >= sizeof(line)) {
			n = sizeof(line) - 1;
			line[n - 1] = '\n';
		}
		if (log_sink)
			log_sink(line, (size_t)n);
		else if (log_fdesc >= 0 && write(log_fdesc, line, (size_t)n) < 0 &&
		    log_fdesc != 2) {
			/* The log itself failed: stderr is all that is left. */
			(void)!write(2, line, (size_t)n);
		}
		if (log_stderr_too && log_fdesc != 2)
			(void)!write(2, line, (size_t)n);
	}
	errno = saved;
}

static void __attribute__((format(printf, 3, 4)))
log_error_text(int prio, const char *prefix, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_write(prio, prefix, fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_write(LOG_INFO, "", fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_write(LOG_WARNING, "warning: ", fmt, ap);
	va_end(ap);
}

void log_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_write(LOG_ERR, "error: ", fmt, ap);
	va_end(ap);
}

/* fatal() also tells the terminal (or systemd's journal) when the log
 * goes elsewhere: a failed start is never silent. */
void fatal(const char *fmt, ...)
{
	va_list ap;
	char text[2048];
	va_start(ap, fmt);
	int n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0)
		str_copy(text, sizeof(text), "(log format error)");
	log_error_text(LOG_CRIT, "fatal: ", "%s", text);
	if ((log_use_syslog || log_fdesc != 2) && !log_stderr_too)
		dprintf(2, "%s: fatal: %s\n", log_name, text);
	exit(1);
}
