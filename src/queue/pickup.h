/*
 * pickup — local submission: `mailwarden sendmail` (setgid setgid_group)
 * drops a file into queue_directory/maildrop/; the queue process picks it
 * up, checks it, and turns it into a normal queue file in incoming/
 * (Postfix's postdrop + pickup + cleanup). See docs/local-submission.md.
 *
 * maildrop/ is mode 1730, owner mail_owner, group setgid_group: members
 * of the group (only the setgid sendmail) may create files but not list
 * the directory, others cannot even enter it. A file is written as
 * NAME mode 0600 and, once complete and fsync'ed, made 0644 (fchmod on
 * the open file: the setgid group is given up right after creating it,
 * so sendmail can neither rename nor remove it). Only files of mode 0644
 * are picked up; mode 0000 means abandoned (removed at once), others
 * are removed after a day. The submitting uid is the file's owner
 * (fstat), never anything in the file.
 *
 * Maildrop file format (text records, one a line):
 *   MWD1                 magic and version
 *   S <sender>           optional (-f); absent: login name @ myorigin
 *   N <full name>        optional (-F)
 *   R <recipient>        one or more
 *   B                    the message follows, LF line endings
 *   ...message...
 *   E <message length>   end record
 */
#ifndef MW_PICKUP_H
#define MW_PICKUP_H

#define PICKUP_DIR		"maildrop"
#define PICKUP_MAGIC		"MWD1"
#define PICKUP_MODE_BUSY	0600
#define PICKUP_MODE_READY	0644
#define PICKUP_MODE_ABANDONED	0000	/* sendmail gave up: removed at once */
#define PICKUP_ENV_MAX		(1024 * 1024)	/* envelope records, bytes */
#define PICKUP_RCPT_MAX		1000		/* recipients per message */
#define PICKUP_ADDR_MAX		1000		/* bytes per address */

struct config;
struct passwd;
typedef void pickup_queued_fn(const char *id);

/* Master, before the children start: create maildrop/ with its owner,
 * group (setgid_group, if it exists and we are root) and mode 1730; give
 * public/ that group and mode 2711 (its sockets inherit the group). */
void pickup_prepare_dir(const struct config *cfg, const char *qdir, const struct passwd *owner);
/* Queue process: watch qfd's maildrop/ (inotify and a 60 s timer) and
 * turn each ready file into incoming/ID; queued_fn(ID) after each. */
void pickup_init(const struct config *cfg, int qfd, pickup_queued_fn *queued_fn);
/* Scan maildrop/ now (also run by pickup's own timer). */
void pickup_scan(void);
/* The largest maildrop file accepted under cfg (message_size_limit plus
 * envelope), for sendmail and pickup. */
long pickup_max_size(const struct config *cfg);
/* An address record value (written by sendmail, read by pickup): one
 * line of printable text without spaces and "<>", at most
 * PICKUP_ADDR_MAX bytes. Refused, never rewritten. */
int pickup_addr_ok(const char *p, size_t n);
/* The end record of a maildrop file of len bytes whose message starts at
 * off: *mlen the recorded length, 0 when it is exactly the room between
 * off and the end record; -1 for a missing, malformed or mismatched one. */
int pickup_end_record(const char *buf, size_t len, size_t off, size_t *mlen);
/* Parse and check a whole maildrop file held in buf; 0 or -1 with err. */
int pickup_parse(const char *buf, size_t len, char *err, size_t errlen);
#endif
