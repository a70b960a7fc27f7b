/*
 * ban — the warden's ban path in one place: a failure counted
 * (jailrt.c decides, from the jail's counters, whether it bans), the ban
 * made (ban time from the store's history, aggregates, the store, the
 * fail2ban log line, the engine's bans file, the firewall), lifted
 * (expiry on the tick, `unban`), and restored at start. Its callers:
 * input.c (failures, successful logins), control.c (ban, unban),
 * warden.c (jail start, the tick, the end of each loop turn).
 */
#ifndef MW_WARDEN_BAN_H
#define MW_WARDEN_BAN_H
#include <stddef.h>

struct net;
struct warden;
struct wjail;

/* One failure of addr (text) for jail w at time t: counted, stored,
 * logged ("Found"), and banned at maxretry. auth: an AUTH failure of
 * login user (the allowance after a successful login applies). source
 * and text go to the store (`mailwarden why`). */
void ban_failure(struct wjail *w, const char *addr, const char *user, int auth, long t,
    const char *source, const char *text);
/* A successful login of user from addr: the jail forgets its failures
 * (in memory and in the store). */
void ban_auth_ok(struct wjail *w, const char *addr, const char *user);
/* Whether ip can be banned in w by hand: 0 and *net (the jail's prefix
 * of an address, or the network as given); 1 if it is banned already;
 * -1 and err if it is not an address or network, or ignored. */
int ban_ip_check(struct wjail *w, const char *ip, struct net *net, char *err, size_t errlen);
/* Ban ip (an address: the jail's prefix; or a network, as given) in w by
 * hand (`mailwarden ban`). 0, or -1 and err. */
int ban_ip(struct wjail *w, const char *ip, char *err, size_t errlen);
/* Unban ip from jail w (NULL: all its bans), forgetting its history;
 * *n gets how many bans were lifted. 0, or -1 and err. */
int ban_unban_jail_ip(struct wjail *w, const char *ip, size_t *n, char *err, size_t errlen);
/* Unban ip from every jail (NULL: everything), forgetting its history;
 * *n gets how many bans were lifted. 0, or -1 and err. */
int ban_unban_ip(struct warden *wd, const char *ip, size_t *n, char *err, size_t errlen);
/* A starting jail: its bans in force restored from the store (and given
 * to the firewall in one batch), then its failures within findtime. */
void ban_restore(struct wjail *w);
/* Write the engine's bans file whole from every jail's bans in force
 * (start, reload, compaction). */
void ban_publish(struct warden *wd);
/* Once a second: lift the bans that ended; each minute, expire failures
 * and log what the caps did; each hour, purge the store. */
void ban_tick(struct warden *wd);
/* Another node's failure of addr at t (cluster.c): counted as a local
 * one (banning at maxretry), stored with source "cluster:NODE". */
void ban_remote_failure(struct wjail *w, const char *addr, long t, const char *node);
/* Another node's successful login of login from addr. */
void ban_remote_ok(struct wjail *w, const char *addr, const char *login);
/* Another node's ban of ip (start, bantime, count as it made it): applied
 * under this node's ignoreip, prefix, 0/0, dryrun and maxbanned rules;
 * 1 if applied. */
int ban_remote(struct wjail *w, const char *ip, long start, long bantime, long count,
    const char *node);
/* The fleet's history of net in w (cluster.c): its highest ban count
 * and last ban start, kept in the store as an ended ban when higher than
 * this node's (bantime.increment counts it); a ban of net in force that
 * started after last and was made without it (its count not higher) is
 * lengthened as bantime.increment says, and published. 1 if kept. */
int ban_remote_history(struct wjail *w, const char *net, long count, long last);
/* Another node's unban of ip in jail ("*": every jail). */
void ban_remote_unban(struct warden *wd, const char *jail, const char *ip, const char *node);
/* Commit the store transaction the failures of this loop turn opened,
 * with the followed files' positions (the loop's at-idle hook; at exit). */
void ban_commit(void *wd);
#endif
