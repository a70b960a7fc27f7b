/*
 * jailrt — one jail at run time: failures counted per address prefix
 * within findtime, the ban decision at maxretry, the lockout-proof
 * allowance after a successful login, and the jail's current bans.
 * Pure bookkeeping: no I/O, no clock (every time is passed in), so that
 * tests drive it directly. ban.c does the acting, storing and logging.
 */
#ifndef MW_WARDEN_JAILRT_H
#define MW_WARDEN_JAILRT_H
#include <stddef.h>
#include <stdint.h>

#include "warden/jail.h"

/* One ban in force. */
struct jailrt_ban {
	struct net net;
	char key[NET_STRLEN];	/* net as text: the store's prefix */
	long start;
	long bantime;		/* seconds, JAIL_FOREVER = -1 */
	long count;		/* 1 for a first ban, 2 for the next ... */
};

/* Failures of one prefix within findtime: in a hash chain, and in a list
 * from the least recently failed (evicted first at maxfailed) to the
 * most recently failed. */
struct jailrt_fail {
	struct net net;
	struct jailrt_fail *hnext, *older, *newer;
	size_t n, cap;		/* times used, allocated (grows up to maxretry) */
	long *times;		/* oldest first, at most maxretry */
};

/* Lockout-proof allowance: AUTH failures of addr with login not counted
 * until `until`. */
struct jailrt_allow {
	struct net addr;
	char login[128];
	long until;
	struct jailrt_allow *hnext;	/* chain by (addr, login) */
};

struct jailrt {
	const struct jail *jail;
	struct net *ignore;	/* ignoreip, plus this host's own with ignoreself */
	size_t nignore;
	struct jailrt_fail **fhash;	/* chains by net, capfhash of them */
	size_t capfhash;	/* a power of two, at least nfails */
	size_t nfails;
	struct jailrt_fail *oldest, *newest;
	uint64_t seed;		/* hash_seed(): chains an attacker cannot aim at */
	struct jailrt_allow **ahash;	/* chains, capahash of them */
	size_t capahash, nallows;
	struct jailrt_ban *bans;
	size_t nbans, capbans;
	size_t *bidx;		/* open-addressing index of bans by exact net:
				 * ban index + 1, 0 empty; a restore of 100,000
				 * bans stays linear */
	size_t capbidx;		/* a power of two, at least 2 x capbans */
	size_t nplen[2][129];	/* bans per family (v4, v6) and prefix length:
				 * jailrt_ban_find() looks up only those */
	unsigned long total_failed, total_banned;
	size_t nreplayed;	/* failures replayed at start and counted */
	unsigned long evicted;	/* prefixes forgotten at maxfailed */
	unsigned long refused;	/* bans refused at maxbanned */
	unsigned long aggregated;	/* bans widened near maxbanned */
};

/* What one failure led to. */
enum jailrt_result {
	JRT_COUNTED,		/* counted, below maxretry */
	JRT_BAN,		/* maxretry reached: ban *net now */
	JRT_IGNORED,		/* ignoreip / ignoreself */
	JRT_ALLOWED,		/* same login as a recent successful one */
	JRT_OLD,		/* older than findtime */
	JRT_BANNED,		/* its prefix is banned already */
	JRT_ERROR,		/* not an address, or no bannable prefix: err */
	JRT_FULL,		/* maxretry reached but the jail holds maxbanned
				 * bans: nothing banned, nothing lifted */
};

/* Runtime for jail j; self (n of them) are this host's addresses, added
 * to the ignore list when the jail has ignoreself. */
struct jailrt *jailrt_new(const struct jail *j, const struct net *self, size_t nself);
void jailrt_free(struct jailrt *r);
/*
 * A failure of addr (text) at time t, seen at now. auth: an AUTH failure
 * with login (may be ""), subject to the allowance. On JRT_BAN *net is
 * the prefix to ban and *count the failures that led to it (the counter
 * is then cleared); on JRT_ERROR err says why. Caps (jail maxfailed,
 * maxbanned): a new prefix beyond maxfailed evicts the least recently
 * failed one (r->evicted counts them; err names it, with JRT_COUNTED);
 * from nine tenths of maxbanned bans on, *net is the address's wider
 * maxbanned.prefix4/prefix6 network (r->aggregated); at maxbanned,
 * JRT_FULL and nothing is banned (r->refused). A ban in force is never
 * lifted by a cap.
 */
enum jailrt_result jailrt_failure(struct jailrt *r, const char *addr, const char *login,
    int auth, long t, long now, struct net *net, long *count, char *err, size_t errlen);
/* Add networks to the jail's ignore list (ignoreip host names resolved
 * by the caller at start or reload). */
void jailrt_add_ignore(struct jailrt *r, const struct net *nets, size_t n);
/*
 * Replay a failure from the store at start (oldest first), so failure
 * counters survive a restart as bans do: counted as it was live, except
 * that reaching maxretry bans nothing (that ban was made, or refused,
 * when the failure was live; the counter is cleared as it was then) and
 * Total failed is not raised. (A log line is never counted twice: the
 * warden commits the followed files' positions in the same transaction
 * as the failures read from them.)
 */
void jailrt_replay(struct jailrt *r, const char *addr, long t, long now);
/* A successful login of login from addr at now: forget the failures of
 * its prefix and allow its AUTH failures with the same login for
 * allow_time seconds. 1 if anything was cleared. */
int jailrt_auth_ok(struct jailrt *r, const char *addr, const char *login, long now,
    long allow_time);
/* 1 if net overlaps an ignored network (either contains the other):
 * such a ban is never made nor restored. */
int jailrt_is_ignored(const struct jailrt *r, const struct net *net);
/* Prefixes with failures within findtime of now (`Currently failed`). */
size_t jailrt_current_failed(struct jailrt *r, long now);
/* Forget failures older than findtime and allowances that ended. */
void jailrt_expire_failures(struct jailrt *r, long now);

/* Record a ban in force (replacing one of the same net); it counts in
 * total_banned unless restored. Returns the entry. */
struct jailrt_ban *jailrt_ban_add(struct jailrt *r, const struct net *net, long start,
    long bantime, long count, int restored);
/* The ban whose network contains addr (a host or a network), or NULL. */
struct jailrt_ban *jailrt_ban_find(struct jailrt *r, const struct net *addr);
/* Remove every ban strictly inside net (an aggregate that covers them
 * now); returns the latest end among them (JAIL_FOREVER if one is
 * forever, 0 if none). Looks up the networks inside net of each prefix
 * length in use when they are few, else scans the bans. */
long jailrt_ban_absorb(struct jailrt *r, const struct net *net);
/* Called with (a copy of) each ban an absorb removed, once it is gone. */
typedef void jailrt_ban_fn(const struct jailrt_ban *b, void *arg);
/* jailrt_ban_absorb(), calling fn (if not NULL) with each ban removed
 * (the ban path tells the engine's bans file). */
long jailrt_ban_absorb_each(struct jailrt *r, const struct net *net, jailrt_ban_fn *fn,
    void *arg);
/* Remove the ban at index i (order is not kept). */
void jailrt_ban_del(struct jailrt *r, size_t i);
/* 1 if b has ended at now. */
int jailrt_ban_ended(const struct jailrt_ban *b, long now);
/* Seconds left of b at now: 0 for forever, at least 1 otherwise. */
long jailrt_ban_left(const struct jailrt_ban *b, long now);
/* Earliest end of a ban (unix time), 0 if none ends. */
long jailrt_next_end(const struct jailrt *r);
#endif
