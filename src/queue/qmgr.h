/*
 * qmgr — the queue process: picks up queue files (MSG_QUEUED hints from
 * the master, "ID" datagrams on public/qmgr, periodic scans of incoming/
 * and deferred/),
 * expands recipients (resolve), has Maildir copies delivered in durable
 * batches by the local delivery process (qlocal, src/local), logs each
 * recipient Postfix-style, retries with backoff.
 */
#ifndef MW_QMGR_H
#define MW_QMGR_H

struct config;

/* Run the queue process until SIGTERM/SIGINT or EOF on master_fd (the
 * batch in progress is finished first), then exit(0). Called by the
 * master in its child with privileges already dropped; master_fd is the
 * SOCK_SEQPACKET socketpair carrying MSG_QUEUED/MSG_SCAN (common/msg.h),
 * or -1; local_fd the socketpair to the local delivery process
 * (MSG_LOCAL_*). Does not return. */
void qmgr_main(const struct config *cfg, int master_fd, int local_fd)
    __attribute__((noreturn));

/* The queue manager's privileges (qmgr_priv.c): mail_owner, no
 * capabilities (bounding set empty too), NoNewPrivs, named "qmgr". */
void qmgr_drop_privileges(const struct config *cfg);
#endif
