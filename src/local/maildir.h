/*
 * maildir — batched, durable Maildir delivery for the local delivery
 * process (src/local).
 *
 * A batch is delivered in three steps so that many messages share two
 * file-system flushes instead of one fsync each:
 *   maildir_add()     write tmp/UNIQUE (Return-Path, Delivered-To, body)
 *                     for each message of the batch (no fsync);
 *   maildir_commit()  one syncfs(2) per mailbox file system, rename every
 *                     tmp file into new/, one more syncfs;
 *   then the caller marks recipients done and removes queue files.
 * Only items whose maildir_ok() is true after maildir_commit() are durable
 * in new/. Deliveries for another uid need root: the process's fs uid/gid
 * (setfsuid, setfsgid, setgroups) is switched around the file operations.
 */
#ifndef MW_MAILDIR_H
#define MW_MAILDIR_H
#include <stddef.h>
#include <sys/types.h>

struct maildir_batch;

/* A new, empty batch. */
struct maildir_batch *maildir_batch_new(void);

/* One message to one mailbox: path is the Maildir (ending in '/'), uid/gid
 * the owner (-1 = this process's own); the body is body_len bytes at
 * body_off in body_fd. Returns the item index (>= 0), or -1 with a
 * temporary-failure reason in why (nothing is left behind). */
int maildir_add(struct maildir_batch *b, const char *path, long uid, long gid,
    const char *sender, const char *rcpt, int body_fd, off_t body_off,
    size_t body_len, char *why, size_t whylen);

/* maildir_add() for the Maildir base/rel: base is trusted (symlinks
 * followed); rel, owned by the mailbox owner, is walked component by
 * component with O_NOFOLLOW (a symlink or ".." fails the item) and the
 * Maildir it names must belong to uid (or to this process when uid < 0). */
int maildir_add_under(struct maildir_batch *b, const char *base, const char *rel, long uid,
    long gid, const char *sender, const char *rcpt, int body_fd, off_t body_off,
    size_t body_len, char *why, size_t whylen);

/* Make every added item durable in new/. Returns the number of items that
 * failed; see maildir_ok()/maildir_why() for each. */
size_t maildir_commit(struct maildir_batch *b);

/* Number of items added. */
size_t maildir_count(const struct maildir_batch *b);
/* Whether item i is durably in new/ (after maildir_commit()). */
int maildir_ok(const struct maildir_batch *b, size_t i);
/* Failure reason of item i ("" when ok). */
const char *maildir_why(const struct maildir_batch *b, size_t i);
/* File name of item i under new/ (for tests and logs). */
const char *maildir_name(const struct maildir_batch *b, size_t i);

/* Free a batch; tmp files of uncommitted items are removed. */
void maildir_batch_free(struct maildir_batch *b);
#endif
