/*
 * master — the root parent: prepares the queue directory, opens the log,
 * binds the listeners, starts the smtp engine and the queue manager,
 * restarts them when they die, reloads on SIGHUP, drains on SIGTERM.
 */
#ifndef MW_MASTER_H
#define MW_MASTER_H

struct config;

/* Run the mail system in the foreground until SIGTERM. Returns exit status. */
int master_run(struct config *cfg, const char *config_path);
/* check-config (check.c): each subsystem's checks beyond the config file's
 * own, from one table; 0, or -1 and err naming file, line and key. */
int master_check(const struct config *cfg, char *err, size_t errlen);
/* `mailwarden check-config`: every error of the file and of each
 * subsystem's checks to stderr, their count at the end; exit status. */
int master_check_config(const char *path);
#endif
