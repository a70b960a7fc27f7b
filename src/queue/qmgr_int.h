/*
 * qmgr_int — what the parts of the queue process share: a message being
 * delivered (struct qmsg), one recipient's result (struct qres) and the
 * calls that log a result Postfix-style and record it for the DSN.
 *   qmgr.c      the process: job queue, scans, batches, finishing files
 *   qmsg.c      result logging and bookkeeping (delays, DSN records)
 *   outbound.c  smtp/lmtp deliveries: next-hop queues, concurrency, reuse
 *   bounce.c    RFC 3464 delivery status notifications
 */
#ifndef MW_QMGR_INT_H
#define MW_QMGR_INT_H
#include <stddef.h>

#include "mail/spool.h"

struct config;

/* A recipient that failed (permanently, or temporarily: used when the
 * message expires), for the DSN. */
struct qfail {
	size_t ri;
	char *addr, *orig;	/* final and original recipient */
	char dsn[16];
	char *mta;		/* Remote-MTA host name, or NULL */
	char *diag;		/* the remote reply (smtp) or our reason */
	int smtp;		/* diag is an SMTP reply */
	int perm;		/* permanent failure */
};

/* A message in delivery. Freed by qmgr when its last reference goes. */
struct qmsg {
	struct spool_env env;
	int dir;			/* enum qdir of qmgr.c */
	double t_active;
	char *pending;			/* per recipient: temporary failure this time */
	struct qfail *fails;
	size_t nfail;
	int refs;			/* the batch + deliveries in flight */
};

enum qres_status { QR_SENT, QR_DEFER, QR_BOUNCE };

/* One recipient's result of one delivery. */
struct qres {
	const char *addr, *orig;	/* to=, orig_to= */
	const char *service;		/* log service: smtp, lmtp, local, virtual, error */
	const char *relay;		/* "mx[1.2.3.4]:25", "local", "none" */
	enum qres_status status;
	const char *dsn;
	const char *why;		/* text inside "status=X (...)" */
	const char *mta;		/* Remote-MTA, or NULL */
	const char *reply;		/* the remote reply alone, for Diagnostic-Code */
	double t_start, t_xfer, t_done;	/* delivery start, transfer start, end */
};

/* Log r for recipient ri of m and remember what the DSN needs. */
void qmsg_result(struct qmsg *m, size_t ri, const struct qres *r);
/* Drop a reference; the last one finishes the message (qmgr.c). */
void qmsg_unref(struct qmsg *m);
/* Free a message's DSN records. */
void qmsg_free_fails(struct qmsg *m);
/* Postfix delay format ("0.12", "1.5", "42"). */
void qmsg_fmt_delay(char *out, size_t len, double s);

/* qmgr.c: the message is done: mark, bounce, remove or defer, free. */
void qmgr_finish(struct qmsg *m);

/* outbound.c */
struct dest;
int outbound_init(const struct config *cfg, char *err, size_t errlen);
/* Take recipient ri of m (final address d) for smtp/lmtp/error delivery
 * when it is outbound's: relay, lmtp, or a local/virtual mailbox that
 * transport_maps sends elsewhere. 1 taken, 0 a mailbox to deliver here. */
int outbound_add(struct qmsg *m, size_t ri, const struct dest *d);
/* Take recipient ri of m, unexpanded, for m's content filter
 * ("smtp:[host]:port", "lmtp:..."): delivered there or deferred. */
void outbound_add_filter(struct qmsg *m, size_t ri, const char *filter);
/* Start what outbound_add() collected for m. */
void outbound_dispatch(struct qmsg *m);
/* Close idle connections and free everything (at exit). */
void outbound_shutdown(void);

/* bounce.c: which failures a DSN reports. */
enum bounce_kind {
	BOUNCE_FAILED,		/* permanent failures: "Undelivered Mail" */
	BOUNCE_EXPIRED,		/* every failure, the message expired */
	BOUNCE_DELAYED,		/* temporary ones not yet warned about: "Delayed Mail" */
};
/* Write a DSN for m's failures (see kind) into incoming/ with null
 * sender; newid gets its queue ID. 0 or -1 (errno; logged by the caller). */
int bounce_create(const struct config *cfg, int incoming_fd, const struct qmsg *m,
    enum bounce_kind kind, char *newid, size_t len);
/* 1 if a DSN of kind reports failure f of m. */
int bounce_reported(const struct qmsg *m, const struct qfail *f, enum bounce_kind kind);
#endif
