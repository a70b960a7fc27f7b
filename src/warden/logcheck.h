/*
 * logcheck — does a jail have a log file to read, as fail2ban 1.0.2's
 * jailreader asks before it starts a jail ("Have not found any log file
 * for JAIL jail"), and does a mail jail read the file mailwarden writes.
 * Used by the warden when jails start (a jail without a file stays down,
 * the others run) and by `mailwarden check-config` (an error there).
 */
#ifndef MW_WARDEN_LOGCHECK_H
#define MW_WARDEN_LOGCHECK_H
#include <stddef.h>

struct config;
struct jail;

/* 0 if jail j has a file to read now or reads none (fed by the engine's
 * events, backend systemd, no logpath); -1 and fail2ban's message "Have
 * not found any log file for JAIL jail" if no logpath pattern names a
 * file (with "(PATH: reason)" when a path could not be looked at, e.g.
 * a directory the warden's user may not search). */
int logcheck_jail(const struct config *cfg, const struct jail *j, char *err, size_t errlen);
/* check-config's part: every enabled jail without a log file is an
 * error line (file, line, fail2ban's message), a postfix jail that
 * follows another file than maillog_file (a recidive jail another
 * than warden_logtarget) a warning line saying which file mailwarden
 * writes and which one the jail reads. 0, or -1 and err if a jail has
 * no log file. */
int logcheck_config(const struct config *cfg, char *err, size_t errlen);
#endif
