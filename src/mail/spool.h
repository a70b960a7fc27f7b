/*
 * spool — the queue file: one file per message under queue_directory,
 * written by the smtp engine, read and consumed by the queue process.
 *
 * Layout of queue_directory:
 *   incoming/ID   new messages (complete once the end record is there)
 *   deferred/ID   waiting for a retry; the file's mtime is the time of
 *                 the next attempt (as Postfix does)
 *   hold/ID       put on hold by the operator (later issue)
 *   corrupt/ID    files that failed the integrity check, kept for a human
 *   public/qmgr   the queue process's unix datagram socket: "ID" hints
 *
 * File format, text records, one per line:
 *   MW1                          magic and version
 *   T <sec>.<usec>               arrival time
 *   C <name> <addr>              client host name ("unknown") and address
 *   H <helo>                     HELO/EHLO argument (may be empty)
 *   P <proto>                    SMTP / ESMTP / ESMTPA / ESMTPS ...
 *   A <sasl user>                optional
 *   S <sender>                   envelope sender, empty for <>
 *   F <transport:destination>    optional: the content filter the message
 *                                goes to instead of its recipients
 *                                (content_filter, or a FILTER action of
 *                                header/body checks or an access map)
 *   O <option ...>               optional: receive options the queue
 *                                manager honours (no_address_mappings)
 *   R<st> <recipient>            st is one byte: '-' pending, 'W' pending
 *                                and a delay warning was sent, 'D' done;
 *                                rewritten in place
 *   B                            the body follows: LF line endings,
 *                                dot-unstuffed, Received header first
 *   ...body...
 *   E <body length>              end record: the file is complete only
 *                                when this matches the body length
 *
 * Durability: the writer writes everything including the end record,
 * then the engine makes a batch of files durable with one syncfs(2) on the
 * queue file system (group commit) before any of them gets its 250. A
 * file without a valid end record was never acknowledged and is removed.
 */
#ifndef MW_SPOOL_H
#define MW_SPOOL_H
#include <stddef.h>
#include <sys/types.h>

#define SPOOL_ID_MAX 32
#define SPOOL_ST_PENDING '-'
#define SPOOL_ST_DONE    'D'
#define SPOOL_ST_WARNED  'W'	/* still pending; delay warning sent */

struct spool_rcpt {
	char *addr;
	char status;		/* SPOOL_ST_PENDING, SPOOL_ST_WARNED or SPOOL_ST_DONE */
	off_t status_off;	/* file offset of the status byte */
};

/* The envelope of one message, as read back from its queue file. */
struct spool_env {
	char id[SPOOL_ID_MAX];
	long arrival_sec, arrival_usec;
	char *client_name, *client_addr, *helo, *proto, *sasl_user, *sender;
	char *filter;		/* F record (content_filter, FILTER action), or NULL */
	int no_address_mappings;	/* O no_address_mappings: no virtual aliases */
	struct spool_rcpt *rcpt;
	size_t nrcpt;
	off_t body_off;		/* where the body starts in the file */
	size_t body_len;
	int fd;			/* open read-write, -1 when closed */
};

/* A queue file being written by the smtp engine. */
struct spool_writer {
	char id[SPOOL_ID_MAX];
	int fd;
	int dirfd;		/* the incoming/ directory */
	size_t body_len;
	int error;		/* errno of the first failed write, or 0 */
	char wbuf[8192];	/* small write-behind buffer */
	size_t wlen;
};

/* 1 if id can be a queue ID (1 to SPOOL_ID_MAX-1 ASCII letters and digits:
 * no path separator, no dot), else 0. */
int spool_valid_id(const char *id);
/* Make a new unique queue ID (12 upper-case hex digits, Postfix style). */
void spool_new_id(char *id, size_t len);

/* Create incoming/ID and write the envelope records and "B". 0 or -1 (errno). */
int spool_create(struct spool_writer *w, int incoming_dirfd,
    const struct spool_env *env);
/* Start the file over with a new envelope, same ID, lock kept (a milter
 * changed the message before it was acknowledged); the body follows
 * with spool_write(). 0 or -1 (errno in w->error). */
int spool_rewrite(struct spool_writer *w, const struct spool_env *env);
/* Append body bytes (already LF-terminated and dot-unstuffed). */
int spool_write(struct spool_writer *w, const char *p, size_t n);
struct buf;
/* The body written so far, appended to out (read back from the file).
 * 0 or -1. */
int spool_body_read(struct spool_writer *w, struct buf *out);
/* Replace the body written so far by p then p2 (DKIM-Signature or
 * Authentication-Results fields, then the message). 0 or -1 (errno in
 * w->error). */
int spool_body_replace(struct spool_writer *w, const char *p, size_t n, const char *p2,
    size_t n2);
/* Write the end record and close. The file is NOT durable yet: the caller
 * groups several and calls spool_sync(). 0 or -1 (errno; file removed). */
int spool_finish(struct spool_writer *w);
/* Abandon a file being written (client went away, too big...). */
void spool_abort(struct spool_writer *w);
/* Make everything written so far durable (syncfs on dirfd's file system). */
int spool_sync(int dirfd);

/* A record's length field: 1 to 20 decimal digits (no sign, no space)
 * that fit in a size_t, into *out. 0, or -1 for anything else. */
int spool_parse_len(const char *s, size_t n, size_t *out);
/* Open and parse dir/id. 0 ok; -1 with err: missing end record or bad
 * record (the caller moves it to corrupt/ or removes it). */
int spool_read(int dirfd, const char *id, struct spool_env *env,
    char *err, size_t errlen);
/* Mark recipient i delivered (pwrite of the status byte). */
int spool_mark_done(struct spool_env *env, size_t i);
/* Mark recipient i as warned about the delay (still pending). */
int spool_mark_warned(struct spool_env *env, size_t i);
/* Close and free an envelope read by spool_read(). */
void spool_env_free(struct spool_env *env);
#endif
