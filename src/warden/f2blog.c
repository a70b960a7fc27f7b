/*
 * f2blog — fail2ban-format log lines for the warden (see f2blog.h).
 * INFO lines to a file (the many Found lines) are gathered and written
 * together once per loop turn (one write(2) for a turn's Found lines), at
 * exit, and when the buffer fills; a NOTICE, WARNING or ERROR line (Ban,
 * Unban, a jail down) goes out at once with what was gathered before it.
 * The time stamp is formatted once per second.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/loop.h"
#include "common/net.h"
#include "warden/f2blog.h"

static int log_fd_f = -1;	/* warden_logtarget file, -1 = maillog */
static char log_path[1024];	/* its path, for f2blog_reopen() */

#define PEND_SIZE (64 * 1024)
static char pend[PEND_SIZE];	/* lines not written yet */
static size_t npend;
static pid_t self_pid;		/* getpid(), 0 = not asked yet (or forked) */
static time_t stamp_sec = -1;	/* the second stamp_text is for */
static char stamp_text[32];

/* A forked child writes none of its parent's pending lines. */
static void after_fork_child(void)
{
	npend = 0;
	self_pid = 0;
}

void f2blog_flush(void)
{
	size_t off = 0;
	while (off < npend && log_fd_f >= 0) {
		ssize_t n = write(log_fd_f, pend + off, npend - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_warn("warden_logtarget: %s", n < 0 ? strerror(errno) : "short write");
			break;
		}
		off += (size_t)n;
	}
	npend = 0;
}

static void flush_idle(void *arg)
{
	f2blog_flush();
}

int f2blog_open(const char *target)
{
	if (strcmp(target, "maillog") == 0)
		return 0;
	if (snprintf(log_path, sizeof(log_path), "%s", target) >= (int)sizeof(log_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	static int hooked;
	if (!hooked) {
		hooked = 1;
		pthread_atfork(NULL, NULL, after_fork_child);
		atexit(f2blog_flush);
	}
	log_fd_f = open(target, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (log_fd_f >= 0) {
		/* made now, by root: group adm as Debian's logrotate creates
		 * fail2ban.log, so the warden (in adm) can follow it for a
		 * recidive jail after its privilege drop */
		struct group *adm = geteuid() == 0 ? getgrnam("adm") : NULL;
		if (adm && fchown(log_fd_f, (uid_t)-1, adm->gr_gid) < 0)
			log_warn("warden_logtarget %s: chown to group adm: %s", target,
			    strerror(errno));
		return 0;
	}
	if (errno == EEXIST)
		log_fd_f = open(target, O_WRONLY | O_APPEND | O_CLOEXEC);
	return log_fd_f < 0 ? -1 : 0;
}

int f2blog_reopen(char *err, size_t errlen)
{
	struct stat a, b;
	if (log_fd_f < 0)
		return 1;
	f2blog_flush();
	if (fstat(log_fd_f, &a) < 0 || stat(log_path, &b) < 0 || a.st_dev != b.st_dev ||
	    a.st_ino != b.st_ino) {
		int fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (fd < 0) {
			snprintf(err, errlen, "cannot reopen %s: %s (the old file stays open; the "
			    "ban engine writes it as warden_owner)", log_path, strerror(errno));
			return -1;
		}
		close(log_fd_f);
		log_fd_f = fd;
	}	/* else not rotated (or copytruncate): the same file */
	f2blog_log("INFO", "fail2ban.server", "rollover performed on %s", log_path);
	return 0;
}

void f2blog_ban(const char *jail, const char *verb, const struct net *net)
{
	char host[NET_STRLEN], key[NET_STRLEN];
	if (inet_ntop(net->family, net->a, host, sizeof(host)) == NULL)
		return;		/* not AF_INET/AF_INET6: never a ban */
	f2blog_log("NOTICE", "fail2ban.actions", "[%s] %s %s", jail, verb, host);
	if (net->plen < net_family_bits(net->family) && strcmp(verb, "Ban") == 0) {
		net_format(net, 1, key, sizeof(key));
		f2blog_log("INFO", "fail2ban.actions", "[%s] the ban of %s covers %s", jail, host,
		    key);
	}
	f2blog_flush();	/* a Ban line is on disk when the ban is in force */
}

int f2blog_is_file(void)
{
	return log_fd_f >= 0;
}

void f2blog_log(const char *level, const char *logger, const char *fmt, ...)
{
	char msg[2048], line[2400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (log_fd_f < 0) {
		log_info("%s %s", level, msg);
		return;
	}
	struct timeval tv;
	gettimeofday(&tv, NULL);
	if (tv.tv_sec != stamp_sec) {
		struct tm tm;
		localtime_r(&tv.tv_sec, &tm);
		strftime(stamp_text, sizeof(stamp_text), "%Y-%m-%d %H:%M:%S", &tm);
		stamp_sec = tv.tv_sec;
	}
	if (self_pid == 0)
		self_pid = getpid();
	int n = snprintf(line, sizeof(line), "%s,%03d %-24s[%d]: %-7s %s\n", stamp_text,
	    (int)(tv.tv_usec / 1000), logger, (int)self_pid, level, msg);
	if (n <= 0)
		return;
	size_t len = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
	if (npend + len > sizeof(pend))
		f2blog_flush();
	if (npend == 0)
		loop_at_idle(flush_idle, NULL);
	memcpy(pend + npend, line, len);
	npend += len;
	if (strcmp(level, "INFO") != 0 && strcmp(level, "DEBUG") != 0)
		f2blog_flush();	/* only the many Found/INFO lines wait for the loop turn */
}
