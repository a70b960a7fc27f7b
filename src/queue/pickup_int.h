/*
 * pickup_int — what pickup.c and pickup_milter.c share: the queue
 * directories pickup works in, the DSN for a rejected local message, and
 * the non_smtpd_milters calls.
 */
#ifndef MW_PICKUP_INT_H
#define MW_PICKUP_INT_H
#include <stddef.h>

#include "queue/pickup.h"

struct config;
struct spool_env;
struct spool_writer;

/* pickup's directories and its "queued" callback. */
struct pickup_fds {
	int infd, dropfd, holdfd;
	pickup_queued_fn *queued_fn;
};

/* pickup.c: return the finished queue file id (in incoming/) to its
 * sender as a DSN with reply ("5.7.1 text") and remove it; *id becomes
 * the DSN's ID. 0, 1 nothing to return (null sender), -1 error (the
 * file is removed all the same: it was rejected). */
int pickup_bounce(char *id, size_t idlen, const char *reply);

struct spool_writer;
/* pickup_dkim.c: DKIM-sign the message written so far (keys by its
 * From), before its end record. 0, or -1 on a queue file error. */
int pickup_dkim_sign(struct spool_writer *w);

/* pickup_milter.c: read non_smtpd_milters; 1 if there are milters. */
int pmilt_init(const struct config *cfg, const struct pickup_fds *fds);
/* Whether non_smtpd_milters are in use. */
int pmilt_enabled(void);
/* Whether the maildrop file name is with the milters now. */
int pmilt_busy(const char *name);
/* Hand a written (not finished) queue file to the milters; they finish
 * it, sync it and remove the maildrop file name (or leave it for the
 * next scan on a temporary failure). msg: its content as written. */
void pmilt_start(const char *name, const struct spool_writer *w, const struct spool_env *env,
    const char *msg, size_t len, int hold, const char *msgid);
#endif
