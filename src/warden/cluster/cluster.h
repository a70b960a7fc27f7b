/*
 * cluster — bans and failures shared with the other mailwarden nodes
 * through Redis (docs/cluster.md): what this node does is published
 * (failures, logins, bans, unbans) and the ban keys kept; what the
 * others publish is taken as input (ban.c's ban_remote_*). Every
 * function is a no-op when warden_cluster is empty (wd->cl NULL).
 * Callers: warden.c (open, start, free), ban.c (publish), control.c
 * (status --json).
 */
#ifndef MW_WARDEN_CLUSTER_CLUSTER_H
#define MW_WARDEN_CLUSTER_CLUSTER_H
#include <stddef.h>

struct buf;
struct config;
struct jailrt_ban;
struct warden;

/* check-config: warden_cluster parses, the password file is readable.
 * 0, 1 and a warning in err (redis:// over TCP), or -1 and err. */
int cluster_check(const struct config *cfg, char *err, size_t errlen);
/* As root, before privileges go: parse the address, read the password
 * file into wd->cl (left NULL when warden_cluster is empty). Fatal on
 * a bad setting. */
void cluster_open(struct warden *wd);
/* Called once the node may serve: the first pull is done (or Redis did
 * not answer within 2 s, or there is no cluster). */
typedef void cluster_ready_fn(struct warden *wd);
/* Start connecting (after the sandbox is entered, before the loop);
 * ready is called from the loop, or at once when there is no cluster. */
void cluster_start(struct warden *wd, cluster_ready_fn *ready);
/* Publish a failure of addr in jail at time t. */
void cluster_failure(struct warden *wd, const char *jail, const char *addr, long t);
/* Publish a successful login of login from addr in jail. */
void cluster_auth_ok(struct warden *wd, const char *jail, const char *addr, const char *login);
/* Publish ban b of jail and keep its key for its remaining time. */
void cluster_ban(struct warden *wd, const char *jail, const struct jailrt_ban *b);
/* Publish the unban of net (text) in jail ("*": every jail), drop its key. */
void cluster_unban(struct warden *wd, const char *jail, const char *net);
/* The "cluster" member of status --json (nothing when off). */
void cluster_status_json(const struct warden *wd, struct buf *o);
/* Close the connections (exit). */
void cluster_free(struct warden *wd);
#endif
