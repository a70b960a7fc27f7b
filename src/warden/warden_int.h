/*
 * warden_int — the warden process's state, shared by its parts: set-up
 * and loop (warden.c), input (input.c: engine events, followed logs),
 * the ban path (ban.c) and the control socket (control.c). One struct
 * warden, made by warden_main() and passed explicitly to each of them
 * (loop and follow callbacks get it, or a jail that points back to it,
 * as their argument); there is no global of it.
 */
#ifndef MW_WARDEN_WARDEN_INT_H
#define MW_WARDEN_WARDEN_INT_H
#include <stddef.h>

#include "common/loop.h"
#include "common/net.h"
#include "warden/jail.h"

struct config;
struct jailrt;
struct filter;
struct follower;
struct journal_src;
struct banfile_writer;
struct store;
struct warden;
struct cluster;

/* One running jail of the warden. */
struct wjail {
	struct warden *wd;		/* the warden it runs in */
	struct jail *j;
	struct jailrt *rt;
	struct filter *filter;		/* NULL for a jail fed by events */
	struct wpath_filter {		/* one more filter per further log path: */
		char *path;		/* multi-line state must not mix files */
		struct filter *f;
	} *pf;
	size_t npf;
	struct follower *fol;
	struct journal_src *journal;
	unsigned events;		/* 1 << enum warden_event it counts */
	unsigned long evicted_told, refused_told;	/* caps: counts logged */
	int evict_warned, refuse_warned;	/* a warning this minute */
};

/* A jail that did not start because its logpath names no file (fail2ban
 * would not have it): not in the jails list, shown by status --json. */
struct wdown {
	struct jail *j;			/* owned by the warden's jailconf */
	char *why;			/* "Have not found any log file for X jail" */
};

/* The running warden. */
struct warden {
	struct config *cfg;
	const char *cfg_path;		/* re-read on reload */
	struct jailconf jc;
	struct wjail *jails;
	size_t njails;
	struct wdown *down;		/* jails that stay down until a reload */
	size_t ndown;
	struct store *st;
	struct banfile_writer *bans;	/* queue_directory/warden/bans, the engine's */
	int in_txn;			/* failures batched until the loop is idle */
	long last_purge;
	long dbpurgeage;		/* warden_dbpurgeage, or the fail2ban tree's */
	struct loop_timer tick;
	struct net selfs[64];		/* this host's addresses (ignoreself) */
	size_t nself;
	struct cluster *cl;		/* warden_cluster: NULL when off (cluster/) */
};

/* The jail named name, or NULL (warden.c). */
struct wjail *warden_find_jail(struct warden *wd, const char *name);
/* Re-read the config and the jails (stopping and restarting them, bans
 * restored from the store). 0, or -1 and err: a config that does not
 * load keeps the old jails; a jail that fails to start is logged
 * (warden.c). */
int warden_reload(struct warden *wd, char *err, size_t errlen);
#endif
