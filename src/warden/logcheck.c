/*
 * logcheck — a jail's log paths checked before it starts (see
 * logcheck.h). The rule is fail2ban 1.0.2's JailReader.convert(): each
 * logpath line is globbed, a dangling link does not count, and a jail
 * none of whose lines names a file is an error; a backend starting with
 * "systemd" reads no file. Jails fed by the smtp engine's events read
 * no file either (input_jail_events()). check-config also says when a
 * postfix jail or a recidive jail reads another file than the one
 * mailwarden writes its mail log or its Ban lines to.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/config.h"
#include "common/log.h"
#include "warden/input.h"
#include "warden/jail.h"
#include "warden/jailtree.h"
#include "warden/logcheck.h"
#include "warden/source/follow.h"

/* Does j read files at all (not events, not the journal)? */
static int reads_files(const struct config *cfg, const struct jail *j)
{
	return j->backend != JAIL_BACKEND_SYSTEMD && j->nlogpath > 0 &&
	    input_jail_events(cfg, j) == 0;
}

/* Why pattern names nothing when it is not simply absent (a directory
 * the warden's user may not search): "; PATH: reason", else "". */
static void why_missing(const char *pattern, char *out, size_t n)
{
	char dir[PATH_MAX];
	const char *path = pattern, *slash = strrchr(pattern, '/');
	struct stat sb;
	out[0] = '\0';
	if (strpbrk(pattern, "*?[")) {		/* a glob: its directory, if plain */
		if (slash == NULL || slash == pattern || (size_t)(slash - pattern) >= sizeof(dir))
			return;
		memcpy(dir, pattern, (size_t)(slash - pattern));
		dir[slash - pattern] = '\0';
		if (strpbrk(dir, "*?["))
			return;
		path = dir;
	}
	if (stat(path, &sb) < 0 && errno != ENOENT && errno != ENOTDIR)
		snprintf(out, n, "; %s: %s", path, strerror(errno));
}

int logcheck_jail(const struct config *cfg, const struct jail *j, char *err, size_t errlen)
{
	if (!reads_files(cfg, j))
		return 0;
	size_t found = 0;
	char why[PATH_MAX + 100] = "";
	for (size_t i = 0; i < j->nlogpath; i++) {
		found += follow_existing(j->logpath[i].pattern);
		if (why[0] == '\0')
			why_missing(j->logpath[i].pattern, why, sizeof(why));
	}
	if (found > 0)
		return 0;
	if (why[0])	/* fail2ban's message, then what stat() said */
		snprintf(err, errlen, "Have not found any log file for %s jail (%s)", j->name,
		    why + 2);
	else
		snprintf(err, errlen, "Have not found any log file for %s jail", j->name);
	return -1;
}

/* The logpath lines of j, space-separated, for messages. */
static void logpaths(const struct jail *j, char *out, size_t n)
{
	size_t len = 0;
	out[0] = '\0';
	for (size_t i = 0; i < j->nlogpath && len < n; i++) {
		int k = snprintf(out + len, n - len, "%s%s", i ? " " : "", j->logpath[i].pattern);
		if (k < 0)
			break;
		len += (size_t)k;
	}
}

/* A postfix jail following files: say which file mailwarden writes and
 * which ones the jail reads when they differ. */
static void warn_mail_jail(const struct config *cfg, const struct jail *j)
{
	if (strcmp(j->filter.name, "postfix") != 0 || !reads_files(cfg, j))
		return;
	const char *maillog = config_get(cfg, "maillog_file");
	char paths[1024];
	logpaths(j, paths, sizeof(paths));
	if (*maillog == '\0')
		log_warn("%s, line %d: [%s] reads %s; mailwarden writes no mail log file "
		    "(maillog_file is empty: syslog), so this jail counts only what syslog "
		    "or another program writes there", j->file, j->line, j->name, paths);
	else
		log_warn("%s, line %d: [%s] reads %s, but mailwarden writes its mail log to %s "
		    "(maillog_file): this jail counts only what another program writes there; "
		    "with logpath = %s it counts mailwarden's own failures (fed by the engine's "
		    "events)", j->file, j->line, j->name, paths, maillog, maillog);
}

/* A recidive jail: its Ban lines come from warden_logtarget, which must
 * be a file of its own (in the mail log they have mailwarden's syslog
 * prefix, which the recidive filter does not match). */
static void warn_recidive_jail(const struct config *cfg, const struct jail *j)
{
	if (strcmp(j->filter.name, "recidive") != 0 || !reads_files(cfg, j))
		return;
	const char *target = config_get(cfg, "warden_logtarget");
	const char *tree = config_get(cfg, "warden_fail2ban_config");
	struct jailtree_globals g = { 0 };
	char paths[1024], err[512];
	if (*tree && jailtree_globals(tree, &g, err, sizeof(err)) == 0 && g.logtarget &&
	    *g.logtarget)
		target = jailtree_logtarget(g.logtarget);	/* as the warden opens it */
	logpaths(j, paths, sizeof(paths));
	if (strcmp(target, "maillog") == 0)
		log_warn("%s, line %d: [%s] reads %s, but the ban engine writes its Ban lines to "
		    "the mail log (warden_logtarget = maillog), where the recidive filter does "
		    "not match them; set warden_logtarget to a file and logpath to it",
		    j->file, j->line, j->name, paths);
	else if (j->nlogpath != 1 || strcmp(j->logpath[0].pattern, target) != 0)
		log_warn("%s, line %d: [%s] reads %s; the ban engine writes its Ban lines to %s "
		    "(warden_logtarget)", j->file, j->line, j->name, paths, target);
	jailtree_globals_free(&g);
}

int logcheck_config(const struct config *cfg, char *err, size_t errlen)
{
	struct jailconf jc;
	if (jailconf_load(cfg, &jc, err, errlen) < 0)
		return -1;
	size_t down = 0;
	for (size_t i = 0; i < jc.njails; i++) {
		struct jail *j = jc.jails[i];
		char why[300], paths[1024];
		warn_mail_jail(cfg, j);
		warn_recidive_jail(cfg, j);
		if (logcheck_jail(cfg, j, why, sizeof(why)) == 0)
			continue;
		logpaths(j, paths, sizeof(paths));
		log_error("%s, line %d: %s (logpath = %s)", j->file, j->line, why, paths);
		down++;
	}
	jailconf_free(&jc);
	if (down == 0)
		return 0;
	snprintf(err, errlen, "%zu jail(s) without a log file to read (fail2ban 1.0.2 refuses "
	    "such a configuration; mailwarden would start without them)", down);
	return -1;
}
