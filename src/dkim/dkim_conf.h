/*
 * dkim_conf — the signing keys of a configuration (dkim_conf.c): loaded
 * by the master as root, inherited by the engine and pickup (qmgr) across
 * fork; the other children drop them (dkim_conf_forget).
 */
#ifndef MW_DKIM_CONF_H
#define MW_DKIM_CONF_H
#include <stddef.h>
#include <time.h>

struct config;
struct buf;

/* check-config: the keys of cfg load (files root-only). 0 or -1 (err). */
int dkim_conf_check(const struct config *cfg, char *err, size_t errlen);
/* Load cfg's keys as this process's set (start, reload). 0 or -1. */
int dkim_conf_load(const struct config *cfg, char *err, size_t errlen);
/* Drop this process's set (a child that never signs: the warden, the
 * firewall, local must not hold the private keys). */
void dkim_conf_forget(void);
/* How many keys the set holds (0: signing is off). */
size_t dkim_conf_nkeys(void);
struct dkim_key;
/* Key i of the set (the dkim check command), or NULL. */
const struct dkim_key *dkim_conf_key(size_t i);
/* Sign msg with every key for its From address or domain: the fields
 * are appended to out. The number of signatures, or -1 (err). */
int dkim_conf_sign(const char *msg, size_t len, time_t now, struct buf *out, char *err,
    size_t errlen);
#endif
