/*
 * f2blog — fail2ban-format log lines for the warden (see f2blog.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/net.h"
#include "warden/f2blog.h"

static int log_fd_f = -1;	/* warden_logtarget file, -1 = maillog */
static char log_path[1024];	/* its path, for f2blog_reopen() */

int f2blog_open(const char *target)
{
	if (strcmp(target, "maillog") == 0)
		return 0;
	if (snprintf(log_path, sizeof(log_path), "%s", target) >= (int)sizeof(log_path)) {
		errno = ENAMETOOLONG;
		return -1;
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
}

int f2blog_is_file(void)
{
	return log_fd_f >= 0;
}

void f2blog_log(const char *level, const char *logger, const char *fmt, ...)
{
	char msg[2048], line[2400], stamp[32];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (log_fd_f < 0) {
		log_info("%s %s", level, msg);
		return;
	}
	struct timeval tv;
	struct tm tm;
	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
	int n = snprintf(line, sizeof(line), "%s,%03d %-24s[%d]: %-7s %s\n", stamp,
	    (int)(tv.tv_usec / 1000), logger, (int)getpid(), level, msg);
	if (n > 0 && write(log_fd_f, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1) < 0)
		log_warn("warden_logtarget: %s", strerror(errno));
}
