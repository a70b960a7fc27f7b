/*
 * f2blog — the warden's own log in fail2ban's layout (warden_logtarget),
 * so that fail2ban's recidive filter and people's habits read it as they
 * read fail2ban.log. Used by every part of the warden process (ban path,
 * input, jails, firewall client). One module-level state: the target's
 * fd, opened once by f2blog_open() before the privilege drop.
 */
#ifndef MW_WARDEN_F2BLOG_H
#define MW_WARDEN_F2BLOG_H
#include <stddef.h>

struct net;

/* Open warden_logtarget: "maillog" (lines go to the mail log) or a file
 * path, opened for append (0640). 0, or -1 with errno. */
int f2blog_open(const char *target);
/* Reopen the target file by its path if it was moved away (log rotation:
 * fail2ban-client flushlogs), as the warden's user now. 0 done (or the
 * path is still the open file), then fail2ban's "rollover performed on
 * PATH" in it; 1 the target is the mail log (nothing to reopen); -1 and
 * err (the old file stays open). */
int f2blog_reopen(char *err, size_t errlen);
/* fail2ban.actions' "[JAIL] Ban HOST" (verb "Ban" or "Unban") for net:
 * HOST is an address, as fail2ban's <HOST> in the recidive filter
 * matches it (an address, never ADDR/LEN); a network wider than one
 * address is named by its first address, and a following INFO line
 * "[JAIL] the ban of ADDR covers NET/LEN" says what the ban covers. */
void f2blog_ban(const char *jail, const char *verb, const struct net *net);
/* 1 if the target is a file of its own, 0 if lines go to the mail log. */
int f2blog_is_file(void);
/* One line "%(asctime)s %(name)-24s[%(process)d]: %(levelname)-7s
 * %(message)s" (asctime with ",mmm") to the target: INFO and DEBUG at the
 * end of the loop turn for a file, other levels (and everything to the
 * mail log) at once. */
void f2blog_log(const char *level, const char *logger, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Write the lines f2blog_log() gathered (it also runs once per loop turn,
 * at exit, and before a reopen). */
void f2blog_flush(void);
#endif
