/*
 * priv — giving up privilege, one way for every process (priv.c). A
 * child started as root by the master calls priv_become() once its
 * set-up that needs root is done; the order inside is fixed: the
 * bounding set is emptied while CAP_SETPCAP is still held, then the
 * groups and ids change, then only the capabilities asked for are
 * raised again, the ambient set is cleared and NoNewPrivs is set. Every
 * step is checked and a failure is fatal: running on with more privilege
 * than designed is the one thing not to do. docs/security.md has the
 * table of who keeps what.
 */
#ifndef MW_PRIV_H
#define MW_PRIV_H
#include <stddef.h>
#include <sys/capability.h>
#include <sys/types.h>

struct config;
struct passwd;

/* The account named by config key `key` (mail_owner, warden_owner);
 * fatal, saying how to create it, when it does not exist or is uid 0. */
struct passwd *priv_user(const struct config *cfg, const char *key);
/* As root: become uid/gid with the supplementary groups[], keeping only
 * keep[] in the permitted, effective and bounding sets (nkeep 0: none);
 * NoNewPrivs. `what` names the account in messages. */
void priv_become(const char *what, uid_t uid, gid_t gid, const gid_t *groups, size_t ngroups,
    const cap_value_t *keep, size_t nkeep);
/* Stay this uid, keeping only keep[] (permitted, effective, bounding);
 * NoNewPrivs. */
void priv_keep_only(const cap_value_t *keep, size_t nkeep);
/* The process name /proc/PID/comm and ps show ("qmgr", "warden"). */
void priv_name(const char *name);
#endif
