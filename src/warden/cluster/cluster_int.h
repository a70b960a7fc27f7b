/*
 * cluster_int — the cluster's state, shared by its two parts: cluster.c
 * (settings, publishing, received messages, the push at a connection)
 * and cluster_pull.c (the pull of the keys at a connection). Not for
 * use outside src/warden/cluster/.
 */
#ifndef MW_WARDEN_CLUSTER_CLUSTER_INT_H
#define MW_WARDEN_CLUSTER_CLUSTER_INT_H
#include <stddef.h>
#include <stdint.h>

#include "common/loop.h"
#include "warden/cluster/cluster.h"
#include "warden/cluster/cluster_conn.h"

struct resp_reply;
struct wjail;

#define CL_VERSION "1"
#define CL_PREFIX "mw:" CL_VERSION ":"
#define CL_CHANNEL CL_PREFIX "events"
#define CL_MAX_SKEW 2		/* seconds a remote time may be ahead of ours */
#define CL_NODES_MAX 64
#define CL_REPULL_MS 2000
#define CL_START_WAIT_MS 2000	/* the longest a start waits for the first pull */
#define CL_AWAY_MAX 10000	/* failures kept while Redis is away */
#define CL_FAIL_KEEP 256	/* values kept in a failure list (the newest) */
#define CL_PULLED_SLOTS 16384	/* pulled failures remembered (the live message is not counted again) */

struct cluster {
	struct warden *wd;
	struct caddr addr;
	char node[128];
	char user[128], password[512];
	int has_password;
	struct cconn cmd, sub;
	struct { char name[128]; long last; } seen[CL_NODES_MAX];
	size_t nseen;
	long last_sync;			/* wall time the last pull ended */
	long started;			/* wall time of cluster_start */
	long offset;			/* Redis's TIME minus this node's clock (s) */
	int synced;			/* offset measured on this cmd connection */
	struct loop_timer repull;	/* a second pull after a (re)connection */
	cluster_ready_fn *ready;	/* not yet called: the start waits */
	struct loop_timer start_wait;
	struct away {			/* failures made while Redis was away */
		char jail[64], addr[64];
		long t;
	} *away;
	size_t naway, lost_away;
	uint64_t *pulled;		/* fingerprints of failures counted by a pull */
	size_t npulled;
	struct loop_timer pulled_end;	/* forget them a while after the pull */
	unsigned long published, received, applied;
};

/* A ban from another node was taken by this one (counters). */
void cluster_applied(struct cluster *cl);
/* A message or key of node was seen (status --json's nodes_seen). */
void cluster_saw(struct cluster *cl, const char *node);
/* Pull the history, ban and failure keys (SCAN, then a read of each
 * page); the start's ready callback is called when the pull is done. */
void cluster_pull(struct cluster *cl);
/* The node may serve now (first pull done, or the wait is over). */
void cluster_ready_now(struct cluster *cl);
/* 1 if this failure of node was counted by a recent pull already (its
 * live message is then not counted again). */
int cluster_pulled(struct cluster *cl, const char *node, const char *jail, const char *addr,
    long t);
/* The fields of a history key (HGETALL's reply r: node, "<count>
 * <start>"), each of another node given to ban_remote_history. */
void cluster_hist_apply(struct cluster *cl, struct wjail *w, const char *net,
    const struct resp_reply *r);
/* The failure list key of addr in jail. */
void cluster_fail_key(char *key, size_t len, const char *jail, const char *addr);
/* The history key of net in jail. */
void cluster_hist_key(char *key, size_t len, const char *jail, const char *net);
#endif
