/*
 * actions_int — what actions.c (the back-end table, the nft back end,
 * the public calls) and actions_cmd.c (fail2ban's command actions: their
 * per-family state and the commands' runner) share: struct action and
 * the back-end table row. Not for other modules (they use actions.h).
 */
#ifndef MW_WARDEN_ACTIONS_INT_H
#define MW_WARDEN_ACTIONS_INT_H
#include <stddef.h>
#include <sys/types.h>

#include "common/buf.h"
#include "common/loop.h"
#include "warden/firewall/actcmd.h"
#include "warden/firewall/actions.h"
#include "warden/ini.h"

struct action;

/* A firewall back end: what an action does at each step. */
struct action_backend {
	const char *name;	/* the action name that selects it; NULL: any other */
	int commands;		/* runs programs (the firewall keeps root for it) */
	int (*open_fn)(struct action *a, const char *const *dirs, struct nft *n, char *err,
	    size_t errlen);
	int (*start_fn)(struct action *a, char *err, size_t errlen);
	int (*ban_fn)(struct action *a, const struct action_ban *b, size_t n, char *err,
	    size_t errlen);
	int (*unban_fn)(struct action *a, const struct action_ban *b, size_t n, char *err,
	    size_t errlen);
	void (*flush_fn)(struct action *a);
	void (*stop_fn)(struct action *a);
	int (*check_fn)(struct action *a, char *err, size_t errlen);
};

#define ACT_NFAM 3		/* families: "", "inet4", "inet6" */
#define ACT_NOPS 5		/* operations remembered per family */

/* One queued command. */
struct actjob {
	struct actcmd_cmd c;
	int op;			/* index in actions_cmd.c's operation names */
	int fam;
	char ip[64];		/* the ban's <ip>, "" for operations */
	int flags;		/* JOB_* of actions_cmd.c */
};

/* A ban or unban held until its <ip-host> name is known (its strings
 * copied: b's pointers point at them). */
struct actwait {
	int op;
	struct action_ban b;
	char *addr, *user, *matches;
};

struct action {
	const struct jail *jail;
	char *name;		/* the action.d file name */
	const struct action_backend *be;
	struct nft *nft;	/* the nft back end's context */
	const struct jail_ref *ref;
	struct ini ini;		/* the action file, with .local and includes */
	struct actcmd_map props;	/* its fail2ban properties */
	const char *fam[2];	/* the families it starts for */
	size_t nfam;
	int on_demand;		/* actionstart at a family's first ban */
	unsigned started[ACT_NFAM];	/* 1 started, 2 holds bans */
	char *done[ACT_NOPS][ACT_NFAM];	/* last command run per op and family */
	char **banned;		/* bans in force, "NET\0IP" (flush by unban) */
	size_t nbanned;
	/* the command queue */
	struct actjob *jobs;
	size_t njobs, capjobs;
	pid_t pid;
	int outfd, errfd;
	struct buf out, errout;
	unsigned long cmdid;	/* "%x -- exec:" of the running command */
	struct loop_timer timeout;
	struct actwait *waits;	/* bans and unbans waiting for <ip-host>, in order */
	size_t nwaits;
	struct buf *dry;	/* action-test: commands written here, never run */
	unsigned long errors;	/* commands that failed */
	char *last_error;
	struct action *next;	/* all command actions, for reaping */
};

/* The command back end (actions_cmd.c). */
extern const struct action_backend action_cmd_backend;
/* Free what the command back end holds of a. */
void action_cmd_free(struct action *a);
#endif
