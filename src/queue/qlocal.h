/*
 * qlocal — the queue manager's side of local delivery: Maildir copies are
 * handed to the local delivery process (src/local) over the socketpair the
 * master made, with the queue file's descriptor, instead of being written
 * here (the queue manager holds no privilege to write as a mailbox owner).
 * Same shape as maildir.h: add items, commit once, read each outcome.
 */
#ifndef MW_QLOCAL_H
#define MW_QLOCAL_H
#include <stddef.h>
#include <sys/types.h>

struct dest;
struct qlocal_batch;

/* A new batch on fd (the local process's socket). */
struct qlocal_batch *qlocal_batch_new(int fd);
/* Send one Maildir copy of d (DEST_MAILDIR with d->box set). Returns the
 * item index, or -1 with why (the link is broken: see qlocal_broken()). */
int qlocal_add(struct qlocal_batch *b, const struct dest *d, const char *sender,
    int body_fd, off_t body_off, size_t body_len, char *why, size_t whylen);
/* Ask the local process to make the batch durable and wait for every
 * answer. Returns the number of failed items. */
size_t qlocal_commit(struct qlocal_batch *b);
/* Why the link to the local process failed ("" while it works). */
const char *qlocal_broken(const struct qlocal_batch *b);
/* Whether item i was delivered durably; its failure reason. */
int qlocal_ok(const struct qlocal_batch *b, size_t i);
const char *qlocal_why(const struct qlocal_batch *b, size_t i);
void qlocal_batch_free(struct qlocal_batch *b);
#endif
