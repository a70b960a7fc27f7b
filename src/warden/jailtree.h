/*
 * jailtree — the one ini table the jails are parsed from (jailconf.c):
 * fail2ban's own configuration tree when warden_fail2ban_config names it
 * (jail.conf, jail.d/ *.conf, jail.local, jail.d/ *.local, in that order,
 * with [INCLUDES] at any depth, as fail2ban-server 1.0.2 reads them), and
 * mailwarden.conf's [sections] merged over it key by key, as a .local
 * over a .conf. Also the tree's fail2ban.conf/fail2ban.local/fail2ban.d
 * [Definition] logtarget, dbfile and dbpurgeage, for the warden.
 */
#ifndef MW_WARDEN_JAILTREE_H
#define MW_WARDEN_JAILTREE_H
#include <stddef.h>

struct ini;
struct jail;
struct config;
struct config_section;

/* The key a section's header is kept under (file, line); never a key a
 * file can hold (keys are trimmed). */
#define JAILTREE_HEADER " header"

/* fail2ban.conf's [Definition] values the warden takes (NULL: unset). */
struct jailtree_globals {
	char *logtarget;
	char *dbfile;
	char *dbpurgeage;
};

/* Merge sections over ini key by key (an overridden value stays
 * reachable as %(known/key)s), each section's header kept as
 * JAILTREE_HEADER. */
void jailtree_sections(const struct config_section *const *secs, size_t nsecs,
    struct ini *ini);
/* Read dir's jail.conf, jail.d/ *.conf, jail.local, jail.d/ *.local
 * into ini. 0, or -1 and "FILE:LINE: message" in err. */
int jailtree_read(const char *dir, struct ini *ini, char *err, size_t errlen);
/* The ini of cfg: the tree of warden_fail2ban_config (if set) then cfg's
 * sections. *tree gets the tree's directory (free it) or NULL. 0, or -1
 * and err. */
int jailtree_load(const struct config *cfg, const struct config_section *const *secs,
    size_t nsecs, struct ini *ini, char **tree, char *err, size_t errlen);
/* Read dir's fail2ban.conf, fail2ban.d/ *.conf, fail2ban.local,
 * fail2ban.d/ *.local [Definition] (over [DEFAULT]) into g (free with
 * jailtree_globals_free). 0, or -1 and err. */
int jailtree_globals(const char *dir, struct jailtree_globals *g, char *err, size_t errlen);
/* Free g's strings. */
void jailtree_globals_free(struct jailtree_globals *g);
/* warden_logtarget for fail2ban's logtarget t: a file path as is;
 * SYSLOG, SYSTEMD-JOURNAL, STDOUT, STDERR (the warden has no terminal)
 * "maillog", the mail log. */
const char *jailtree_logtarget(const char *t);
/* The directories to look sub ("filter.d", "action.d") up in for j:
 * the tree's first when j has one, then rest (NULL-terminated). Free
 * with config_list_free(). */
char **jailtree_dirs(const struct jail *j, const char *sub, const char *const *rest);
#endif
