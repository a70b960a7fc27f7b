/*
 * actions — what a jail does to ban, through one table of firewall back
 * ends {open, start, ban, unban, flush, stop, check} (actions.c): the
 * built-in `nft` action (nft.h, one batched transaction per call; the
 * last jail's stop drops the table) or a fail2ban action.d file
 * (NAME.conf + NAME.local, [INCLUDES], [Definition], [Init],
 * [Init?family=inet6]) whose commands are built and run as fail2ban
 * 1.0.2's CommandAction builds and runs them (actions_cmd.c, actcmd.c,
 * actions_run.c),
 * with /bin/sh -c in a child, never blocking the loop. A failed command
 * is reported in fail2ban's words (action_set_report) and counted;
 * `.py` actions are refused.
 */
#ifndef MW_WARDEN_ACTIONS_H
#define MW_WARDEN_ACTIONS_H
#include <stddef.h>

#include "warden/jail.h"

struct nft;
struct action;
struct buf;
struct config;

/* One ban or unban handed to the actions. */
struct action_ban {
	struct net net;
	long timeout;		/* seconds left, 0 = forever */
	long bantime;		/* the ban's length, -1 forever (<bantime>) */
	long failures;		/* <failures> */
	const char *user;	/* <F-USER>, may be NULL */
	const char *matches;	/* <matches>, may be NULL */
	const char *addr;	/* the address whose failures made the ban, inside
				 * net: a command action's <ip> (NULL: net's) */
};

/* Build the action `ref` of jail j: "nft" (uses n, may not be NULL then)
 * or an action.d file looked up in dirs (NULL-terminated). NULL and a
 * message on error (missing file, .py action). */
struct action *action_new(const struct jail *j, const struct jail_ref *ref,
    const char *const *dirs, struct nft *n, char *err, size_t errlen);
/* 1 if action ref runs programs (an action.d command action), 0 if its
 * back end acts in-process (nft); for the firewall's privileges. */
int action_is_command(const struct jail_ref *ref);
/* actionstart / nft_jail_setup. -1 and err if the nft set-up failed
 * (commands run in the background and report themselves). */
int action_start(struct action *a, char *err, size_t errlen);
/* Ban nets (one nft transaction, or one actionban each). */
int action_ban(struct action *a, const struct action_ban *b, size_t n, char *err, size_t errlen);
/* Unban nets. */
int action_unban(struct action *a, const struct action_ban *b, size_t n, char *err,
    size_t errlen);
/* actionflush (or an unban of each ban) for the families holding bans;
 * nothing for nft. */
void action_flush(struct action *a);
/* Flush, then actionstop / nft_jail_teardown. */
void action_stop(struct action *a);
/* Whether the action can act: nft, the jail's sets exist (-1 and err if
 * not); a command action queues its actioncheck (it reports itself). */
int action_check(struct action *a, char *err, size_t errlen);
void action_free(struct action *a);
/* The shell command [Definition] key would run for b (NULL: no run-time
 * tags), tags resolved and outside values escaped; NULL if unset (fuzzing). */
char *action_command_text(const struct action *a, const char *key, const struct action_ban *b);
/* action-test: from now on a's commands are written to out (a header
 * line "# ACTION OPERATION FAMILY [IP]", "#  $N = VALUE" for each shell
 * argument, its \\ and newlines escaped, then the command), never run. */
void action_dry(struct action *a, struct buf *out);
/* fail2ban's name of the action (actname: the file name unless set). */
const char *action_name(const struct action *a);
/* Commands of a that failed so far; *last the last one's summary (NULL
 * if none). */
unsigned long action_errors(const struct action *a, const char **last);
/* Where the command actions' failures go: one call per line of
 * fail2ban's log (level "ERROR", logger "fail2ban.utils", message);
 * summary is non-NULL on the line that ends a failed command. NULL:
 * the process's own log. */
typedef void action_report_fn(const struct action *a, const char *level, const char *logger,
    const char *msg, const char *summary);
void action_set_report(action_report_fn *fn);
/* The jail of a. */
const struct jail *action_jail(const struct action *a);
/* check-config of jail j's command actions (actions_check.c): each read
 * and its commands built for start, ban/unban, check, flush, stop; -1
 * and err for one whose command the shell cannot parse or whose program
 * is not installed (naming the unresolved tags), 0 if all can run. */
int actions_check_jail(const struct jail *j, const char *const *dirs, char *err, size_t errlen);
/* Reap finished command children, and start the queue of an action whose
 * last start failed (pipe, fork) (call on SIGCHLD and once a second). */
void actions_reap(void);
/* Names for <ip-host> were looked up: run the bans and unbans that
 * waited for them (actions_host.c calls it). */
void actions_host_ready(void);
/* Resolve <ip-host> with the asynchronous DNS (dns.h, the cfg's
 * dns_servers, dns_timeout, its cache) from now on, in this process's
 * loop (the firewall's); once. -1 and err if DNS cannot start. */
int actions_host_init(const struct config *cfg, char *err, size_t errlen);
/* Command children still running or queued (tests, shutdown). */
size_t actions_pending(void);
#endif
