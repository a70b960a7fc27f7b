/*
 * qmgr — the queue process: picks up queue files (MSG_QUEUED hints from
 * the master, "ID" datagrams on public/qmgr, periodic scans of incoming/
 * and deferred/),
 * expands recipients (resolve), delivers into Maildirs in durable batches
 * (maildir), logs each recipient Postfix-style, retries with backoff.
 */
#ifndef MW_QMGR_H
#define MW_QMGR_H

struct config;

/* Run the queue process until SIGTERM/SIGINT or EOF on master_fd (the
 * batch in progress is finished first), then exit(0). Called by the
 * master in its child with privileges already dropped; master_fd is the
 * SOCK_SEQPACKET socketpair carrying MSG_QUEUED/MSG_SCAN (common/msg.h),
 * or -1. Does not return. */
void qmgr_main(const struct config *cfg, int master_fd) __attribute__((noreturn));
#endif
