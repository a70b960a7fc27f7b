/*
 * store — the ban engine's state in SQLite (warden_dbfile): bans with
 * their history (for bantime.increment), the failures that led to them
 * (for `mailwarden why IP`), and how far each log file was read. Opened
 * in WAL mode with a schema version; every error carries sqlite3_errmsg()
 * and is returned to the caller (store_error()), never only logged.
 * Times are Unix seconds passed in by the caller (one replaceable clock).
 */
#ifndef MW_WARDEN_STORE_H
#define MW_WARDEN_STORE_H
#include <stddef.h>

/* The schema version this code writes (PRAGMA user_version). */
#define STORE_SCHEMA 1

struct store;

/* One ban as stored; bantime -1 is forever. */
struct store_ban {
	const char *jail;
	const char *prefix;	/* "192.0.2.9", "2001:db8:1:2::/64" */
	long start;
	long bantime;
	long count;		/* 1 for a first ban, 2 for the next ... */
};

/* One recorded failure. */
struct store_failure {
	long time;
	const char *jail;
	const char *address;
	const char *source;	/* "event:auth", a log path, "journal" */
	const char *matched;	/* the matched line or event text */
};

/* Callbacks for the list functions; a non-zero return stops the walk
 * and is returned by the list function. Strings live for the call only. */
typedef int (*store_ban_fn)(const struct store_ban *b, void *arg);
typedef int (*store_failure_fn)(const struct store_failure *f, void *arg);

/* Open or create the database at path (":memory:" for tests), WAL mode,
 * schema created or checked. NULL and a message on error. */
struct store *store_open(const char *path, char *err, size_t errlen);
/* Close (checkpoints the WAL). */
void store_close(struct store *st);
/* Text of the last error: "what: sqlite message". */
const char *store_error(const struct store *st);

/* Group several writes into one transaction (restore, bulk bans).
 * store_begin: 0 when it began one, 1 when one is open already (its
 * owner commits it), -1 on error. */
int store_begin(struct store *st);
int store_commit(struct store *st);
int store_rollback(struct store *st);

/* Record a ban. -1 on error. */
int store_ban_add(struct store *st, const struct store_ban *b);
/* Forget prefix's bans (history included, as fail2ban's unban does), in
 * jail or in every jail if jail is NULL; *n (may be NULL) gets the number
 * of rows removed. -1 on error. */
int store_ban_remove(struct store *st, const char *jail, const char *prefix, long *n);
/* Walk the bans in force at now (start + bantime > now, or forever), of
 * jail or of all jails if NULL, oldest first. -1 on error. */
int store_ban_list(struct store *st, const char *jail, long now, store_ban_fn fn, void *arg);
/* How many times prefix was banned before (the highest count) and when
 * last (*last, 0 if never), in jail or in every jail if NULL
 * (bantime.overalljails). -1 on error. */
int store_ban_count(struct store *st, const char *jail, const char *prefix,
    long *count, long *last);

/* Record a failure. Inside a transaction it is queued (strings copied)
 * and inserted by store_failure_flush(), at the latest by store_commit()
 * or the next read of failures (a rollback drops it); outside one, now.
 * -1 on error. */
int store_failure_add(struct store *st, const struct store_failure *f);
/* Insert up to max queued failures (0: all): 1 if some are still queued,
 * 0 if none, -1 on an error (the row is dropped, the rest go on). */
int store_failure_flush(struct store *st, size_t max);
/* Walk the failures of address (all jails), oldest first. */
int store_failure_list(struct store *st, const char *address, store_failure_fn fn, void *arg);
/* Walk a jail's failures with time >= since, oldest first (restoring the
 * counters at start). */
int store_failure_since(struct store *st, const char *jail, long since,
    store_failure_fn fn, void *arg);
/* Forget address's failures in jail (a successful login), NULL = all. */
int store_failure_clear(struct store *st, const char *jail, const char *address);

/* Remember how far path was read. */
int store_logpos_set(struct store *st, const char *path, unsigned long long inode,
    unsigned long long offset);
/* 1 and *inode, *offset if known, 0 if not, -1 on error. */
int store_logpos_get(struct store *st, const char *path, unsigned long long *inode,
    unsigned long long *offset);

/* ---- fail2ban's dbfile, imported once (store_f2b.c) ---- */

/* The bans in force read from fail2ban's database. */
struct store_f2b {
	struct store_ban *b;	/* strings owned */
	size_t n;
	unsigned long long inode;	/* of the file, remembered with the import */
	int found;		/* the file existed and was read */
};

/* Read the bans in force at now from fail2ban's dbfile path, opened
 * read-only (nothing is written to it). 1 read, 0 no such file, -1 and
 * err. */
int store_f2b_read(const char *path, long now, struct store_f2b *out, char *err,
    size_t errlen);
/* Free what store_f2b_read() filled in. */
void store_f2b_free(struct store_f2b *f);
/* Add f's bans to st unless path was imported before (a logpos row
 * "fail2ban-dbfile:PATH" says so, written with them). *n gets the bans
 * imported, -1 if none were this time. 0, or -1 (store_error()). */
int store_f2b_import(struct store *st, const char *path, const struct store_f2b *f,
    long *n);

/* Delete failures and ended bans older than now - age (dbpurgeage);
 * bans in force are kept. *n (may be NULL) gets the rows removed. */
int store_purge(struct store *st, long now, long age, long *n);
#endif
