/*
 * actions_int — what actions.c (the back-end table, the nft back end,
 * the public calls), actions_cmd.c (fail2ban's command actions: their
 * per-family state and steps) and actions_run.c (the commands' queue and
 * runner) share: struct action and the back-end table row. Not for other modules (they use actions.h).
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
	int op;			/* OP_*: index in actions_opnames */
	int fam;
	char ip[64];		/* the ban's <ip>, "" for operations */
	int flags;		/* JOB_* */
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
/* A command of a failed (jobs[0], its status): fail2ban's lines, then
 * CommandAction's invariant check steps queued (actions_cmd.c). */
void actions_cmd_failed(struct action *a, struct actjob *j, int status);

/* The operations of a command action (actions_opnames: their property
 * names) and the families (actions_famnames: "", "inet4", "inet6"). */
enum { OP_START, OP_STOP, OP_FLUSH, OP_CHECK, OP_REPAIR, OP_BAN, OP_UNBAN };
extern const char *const actions_opnames[];
extern const char *const actions_famnames[ACT_NFAM];

enum {
	JOB_RETRY = 1,		/* a ban or unban run again after a failure */
	JOB_INVARIANT = 2,	/* the check after a failed ban or unban */
	JOB_FINAL = 4,		/* the check after a repair */
};

/* The runner (actions_run.c). */
/* One line of fail2ban's log for action a; summary marks a failure. */
void actions_say(struct action *a, const char *level, const char *logger, const char *summary,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Each line of b as "%x -- NAME: %r" (the running command's output). */
void actions_say_lines(struct action *a, const char *name, const struct buf *b);
/* Queue cmd (taken over) at position at (-1: the end) and run the queue;
 * action-test: written out instead. */
void actions_queue(struct action *a, long at, int op, int fam, const char *ip,
    struct actcmd_cmd *c, int flags);
/* Insert j at position at of a's queue (not run). */
void actions_job_insert(struct action *a, size_t at, struct actjob *j);
/* Drop the job at position at of a's queue. */
void actions_job_drop(struct action *a, size_t at);
/* Make a's queue and output buffers ready; a is reaped from now on. */
void actions_run_add(struct action *a);
/* The first command action (then ->next), for going through them all. */
struct action *actions_run_first(void);
/* Forget a's queue: a command still running is killed and logged. */
void actions_run_free(struct action *a);
#endif
