/*
 * store — SQLite state of the ban engine: schema, versioning, and one
 * small function per query. Statements are prepared once and cached.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/util.h"
#include "warden/store/store.h"

enum {
	Q_BAN_ADD, Q_BAN_DEL, Q_BAN_LIVE, Q_BAN_COUNT,
	Q_FAIL_ADD, Q_FAIL_ADDR, Q_FAIL_SINCE, Q_FAIL_CLEAR,
	Q_POS_SET, Q_POS_GET, Q_PURGE_FAIL, Q_PURGE_BANS,
	Q_BEGIN, Q_COMMIT, Q_ROLLBACK,
	Q_N
};

static const char *const queries[Q_N] = {
	[Q_BAN_ADD] = "INSERT INTO bans(jail, prefix, start, bantime, count) VALUES (?1, ?2, ?3, ?4, ?5)",
	[Q_BAN_DEL] = "DELETE FROM bans WHERE prefix = ?2 AND (?1 IS NULL OR jail = ?1)",
	[Q_BAN_LIVE] = "SELECT jail, prefix, start, bantime, count FROM bans"
	    " WHERE (bantime < 0 OR start + bantime > ?2) AND (?1 IS NULL OR jail = ?1)"
	    " ORDER BY start, rowid",
	[Q_BAN_COUNT] = "SELECT coalesce(max(count), 0), coalesce(max(start), 0) FROM bans"
	    " WHERE prefix = ?2 AND (?1 IS NULL OR jail = ?1)",
	[Q_FAIL_ADD] = "INSERT INTO failures(time, jail, address, source, matched) VALUES (?1, ?2, ?3, ?4, ?5)",
	[Q_FAIL_ADDR] = "SELECT time, jail, address, source, matched FROM failures"
	    " WHERE address = ?1 ORDER BY time, rowid",
	[Q_FAIL_SINCE] = "SELECT time, jail, address, source, matched FROM failures"
	    " WHERE jail = ?1 AND time >= ?2 ORDER BY time, rowid",
	[Q_FAIL_CLEAR] = "DELETE FROM failures WHERE address = ?2 AND (?1 IS NULL OR jail = ?1)",
	[Q_POS_SET] = "INSERT INTO logpos(path, inode, offset) VALUES (?1, ?2, ?3)"
	    " ON CONFLICT(path) DO UPDATE SET inode = excluded.inode, offset = excluded.offset",
	[Q_POS_GET] = "SELECT inode, offset FROM logpos WHERE path = ?1",
	[Q_PURGE_FAIL] = "DELETE FROM failures WHERE time < ?1",
	[Q_PURGE_BANS] = "DELETE FROM bans WHERE bantime >= 0 AND start + bantime <= ?2 AND start < ?1",
	[Q_BEGIN] = "BEGIN IMMEDIATE",
	[Q_COMMIT] = "COMMIT",
	[Q_ROLLBACK] = "ROLLBACK",
};

static const char schema[] =
    "CREATE TABLE bans(jail TEXT NOT NULL, prefix TEXT NOT NULL,"
    "  start INTEGER NOT NULL, bantime INTEGER NOT NULL, count INTEGER NOT NULL);"
    "CREATE INDEX bans_prefix ON bans(prefix, jail);"
    "CREATE INDEX bans_start ON bans(start);"
    "CREATE TABLE failures(time INTEGER NOT NULL, jail TEXT NOT NULL,"
    "  address TEXT NOT NULL, source TEXT NOT NULL, matched TEXT NOT NULL);"
    "CREATE INDEX failures_address ON failures(address, time);"
    "CREATE INDEX failures_jail ON failures(jail, time);"
    "CREATE TABLE logpos(path TEXT PRIMARY KEY, inode INTEGER NOT NULL,"
    "  offset INTEGER NOT NULL);";

#define STORE_QUEUE_MAX 262144	/* queued failures at most (~50 MB of lines) */

/* A failure added inside a transaction, waiting to be inserted: its
 * strings are offsets into the store's queue arena. */
struct qfail {
	long time;
	size_t jail, address, source, matched;
};

struct store {
	sqlite3 *db;
	sqlite3_stmt *q[Q_N];
	char err[512];
	struct qfail *qf;		/* queued failures; [qdone, nqf) not inserted */
	size_t nqf, qdone, capqf;
	struct buf qa;			/* their strings */
};

static int serr(struct store *st, const char *what)
{
	snprintf(st->err, sizeof(st->err), "%s: %s", what, sqlite3_errmsg(st->db));
	return -1;
}

const char *store_error(const struct store *st)
{
	return st->err;
}

/* The cached, reset statement for query i; NULL (error set) on failure. */
static sqlite3_stmt *prep(struct store *st, int i)
{
	if (st->q[i] == NULL) {
		if (sqlite3_prepare_v3(st->db, queries[i], -1, SQLITE_PREPARE_PERSISTENT,
		    &st->q[i], NULL) != SQLITE_OK) {
			serr(st, "prepare");
			return NULL;
		}
	} else {
		sqlite3_reset(st->q[i]);
		sqlite3_clear_bindings(st->q[i]);
	}
	return st->q[i];
}

/* Bind text or NULL. */
static int bind_text(sqlite3_stmt *s, int i, const char *v)
{
	return v ? sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(s, i);
}

/* Run a statement that returns no rows; -1 with "what: message". */
static int run(struct store *st, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);
	if (rc != SQLITE_DONE) {
		serr(st, what);
		sqlite3_reset(s);
		return -1;
	}
	sqlite3_reset(s);
	return 0;
}

/* One integer from a pragma or query; -1 on error. */
static int query_int(struct store *st, const char *sql, long *out)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return serr(st, sql);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*out = (long)sqlite3_column_int64(s, 0);
	else
		serr(st, sql);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : -1;
}

static int set_wal(struct store *st, const char *path)
{
	sqlite3_stmt *s;
	int ok = 0;

	if (sqlite3_prepare_v2(st->db, "PRAGMA journal_mode=WAL", -1, &s, NULL) != SQLITE_OK)
		return serr(st, "PRAGMA journal_mode=WAL");
	if (sqlite3_step(s) == SQLITE_ROW) {
		const char *mode = (const char *)sqlite3_column_text(s, 0);
		ok = mode && (strcmp(mode, "wal") == 0
		    || (strcmp(mode, "memory") == 0 && strcmp(path, ":memory:") == 0));
		if (!ok)
			snprintf(st->err, sizeof(st->err), "PRAGMA journal_mode=WAL: got '%s'",
			    mode ? mode : "?");
	} else {
		serr(st, "PRAGMA journal_mode=WAL");
	}
	sqlite3_finalize(s);
	return ok ? 0 : -1;
}

static int check_schema(struct store *st)
{
	long version, tables;
	char *msg = NULL;

	if (query_int(st, "PRAGMA user_version", &version) < 0
	    || query_int(st, "SELECT count(*) FROM sqlite_master WHERE type = 'table'", &tables) < 0)
		return -1;
	if (version == STORE_SCHEMA)
		return 0;
	if (version > STORE_SCHEMA) {
		snprintf(st->err, sizeof(st->err),
		    "schema version %ld is newer than this mailwarden's (%d)", version, STORE_SCHEMA);
		return -1;
	}
	if (tables > 0) {
		snprintf(st->err, sizeof(st->err),
		    "not a mailwarden database (%ld tables, no schema version)", tables);
		return -1;
	}
	char sql[sizeof(schema) + 64];
	int n = snprintf(sql, sizeof(sql), "BEGIN;%sPRAGMA user_version = %d;COMMIT;", schema, STORE_SCHEMA);
	if (n < 0 || (size_t)n >= sizeof(sql))
		return -1;
	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(st->err, sizeof(st->err), "creating the schema: %s", msg ? msg : sqlite3_errmsg(st->db));
		sqlite3_free(msg);
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}

struct store *store_open(const char *path, char *err, size_t errlen)
{
	struct store *st = xcalloc(1, sizeof(*st));
	int rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);

	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
		store_close(st);
		return NULL;
	}
	sqlite3_extended_result_codes(st->db, 1);
	if (sqlite3_busy_timeout(st->db, 5000) != SQLITE_OK) {
		serr(st, "busy_timeout");
		goto fail;
	}
	if (set_wal(st, path) < 0 || check_schema(st) < 0)
		goto fail;
	if (sqlite3_exec(st->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL) != SQLITE_OK) {
		serr(st, "PRAGMA synchronous=NORMAL");
		goto fail;
	}
	return st;
fail:
	snprintf(err, errlen, "%s: %s", path, st->err);
	store_close(st);
	return NULL;
}

void store_close(struct store *st)
{
	if (st == NULL)
		return;
	(void)store_failure_flush(st, 0);
	for (int i = 0; i < Q_N; i++)
		sqlite3_finalize(st->q[i]);
	sqlite3_close(st->db);
	free(st->qf);
	buf_free(&st->qa);
	free(st);
}

static int simple(struct store *st, int q, const char *what)
{
	sqlite3_stmt *s = prep(st, q);
	return s ? run(st, s, what) : -1;
}

int store_begin(struct store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		return 1;	/* inside the caller's transaction already */
	return simple(st, Q_BEGIN, "BEGIN");
}

int store_commit(struct store *st)
{
	int rc = store_failure_flush(st, 0);
	return simple(st, Q_COMMIT, "COMMIT") < 0 || rc < 0 ? -1 : 0;
}

int store_rollback(struct store *st)
{
	st->nqf = st->qdone = 0;	/* the queued failures were part of it */
	buf_reset(&st->qa);
	return simple(st, Q_ROLLBACK, "ROLLBACK");
}

int store_ban_add(struct store *st, const struct store_ban *b)
{
	sqlite3_stmt *s = prep(st, Q_BAN_ADD);
	if (s == NULL)
		return -1;
	bind_text(s, 1, b->jail);
	bind_text(s, 2, b->prefix);
	sqlite3_bind_int64(s, 3, b->start);
	sqlite3_bind_int64(s, 4, b->bantime);
	sqlite3_bind_int64(s, 5, b->count);
	return run(st, s, "adding a ban");
}

int store_ban_remove(struct store *st, const char *jail, const char *prefix, long *n)
{
	sqlite3_stmt *s = prep(st, Q_BAN_DEL);
	if (s == NULL)
		return -1;
	bind_text(s, 1, jail);
	bind_text(s, 2, prefix);
	if (run(st, s, "removing a ban") < 0)
		return -1;
	if (n)
		*n = (long)sqlite3_changes(st->db);
	return 0;
}

/* Walk rows of s; row_fn turns each into the caller's callback. */
static int walk(struct store *st, sqlite3_stmt *s, const char *what,
    int (*row_fn)(sqlite3_stmt *s, void *ctx), void *ctx)
{
	int rc, ret = 0;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((ret = row_fn(s, ctx)) != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = serr(st, what);
	sqlite3_reset(s);
	return ret;
}

static const char *col(sqlite3_stmt *s, int i)
{
	const char *t = (const char *)sqlite3_column_text(s, i);
	return t ? t : "";
}

struct ban_walk {
	store_ban_fn fn;
	void *arg;
};

struct failure_walk {
	store_failure_fn fn;
	void *arg;
};

static int ban_row(sqlite3_stmt *s, void *ctx)
{
	const struct ban_walk *w = ctx;
	struct store_ban b = {
		.jail = col(s, 0), .prefix = col(s, 1),
		.start = (long)sqlite3_column_int64(s, 2),
		.bantime = (long)sqlite3_column_int64(s, 3),
		.count = (long)sqlite3_column_int64(s, 4),
	};
	return w->fn(&b, w->arg);
}

static int failure_row(sqlite3_stmt *s, void *ctx)
{
	const struct failure_walk *w = ctx;
	struct store_failure f = {
		.time = (long)sqlite3_column_int64(s, 0),
		.jail = col(s, 1), .address = col(s, 2), .source = col(s, 3), .matched = col(s, 4),
	};
	return w->fn(&f, w->arg);
}

int store_ban_list(struct store *st, const char *jail, long now, store_ban_fn fn, void *arg)
{
	sqlite3_stmt *s = prep(st, Q_BAN_LIVE);
	struct ban_walk w = { fn, arg };
	if (s == NULL)
		return -1;
	bind_text(s, 1, jail);
	sqlite3_bind_int64(s, 2, now);
	return walk(st, s, "listing bans", ban_row, &w);
}

int store_ban_count(struct store *st, const char *jail, const char *prefix,
    long *count, long *last)
{
	sqlite3_stmt *s = prep(st, Q_BAN_COUNT);
	if (s == NULL)
		return -1;
	bind_text(s, 1, jail);
	bind_text(s, 2, prefix);
	if (sqlite3_step(s) != SQLITE_ROW) {
		serr(st, "counting bans");
		sqlite3_reset(s);
		return -1;
	}
	*count = (long)sqlite3_column_int64(s, 0);
	if (last)
		*last = (long)sqlite3_column_int64(s, 1);
	sqlite3_reset(s);
	return 0;
}

/* Insert one failure (strings stay valid until the statement's next use). */
static int failure_insert(struct store *st, long t, const char *jail, const char *address,
    const char *source, const char *matched)
{
	sqlite3_stmt *s = prep(st, Q_FAIL_ADD);
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, t);
	sqlite3_bind_text(s, 2, jail, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, address, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, source ? source : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, matched ? matched : "", -1, SQLITE_STATIC);
	int rc = run(st, s, "adding a failure");
	sqlite3_clear_bindings(s);	/* no pointer into the queue stays bound */
	return rc;
}

/* Copy s (NULL: "") to the queue arena: its offset; prev (an offset, or
 * (size_t)-1) is reused when it holds the same text (jail, source). */
static size_t queue_str(struct store *st, const char *s, size_t prev)
{
	size_t off = st->qa.len;
	s = s ? s : "";
	if (prev != (size_t)-1 && strcmp(st->qa.data + prev, s) == 0)
		return prev;
	buf_append(&st->qa, s, strlen(s) + 1);
	return off;
}

int store_failure_add(struct store *st, const struct store_failure *f)
{
	if (sqlite3_get_autocommit(st->db))	/* no transaction: now */
		return failure_insert(st, f->time, f->jail, f->address, f->source, f->matched);
	if (st->qa.max == 0)
		buf_init(&st->qa, (size_t)1 << 40);
	if (st->nqf - st->qdone >= STORE_QUEUE_MAX && store_failure_flush(st, 0) < 0)
		return -1;
	if (st->nqf == st->capqf) {
		st->capqf = st->capqf ? 2 * st->capqf : 256;
		st->qf = xrealloc(st->qf, st->capqf * sizeof(*st->qf));
	}
	const struct qfail *last = st->nqf > st->qdone ? &st->qf[st->nqf - 1] : NULL;
	struct qfail *q = &st->qf[st->nqf++];
	q->time = f->time;
	q->jail = queue_str(st, f->jail, last ? last->jail : (size_t)-1);
	q->address = queue_str(st, f->address, (size_t)-1);
	q->source = queue_str(st, f->source, last ? last->source : (size_t)-1);
	q->matched = queue_str(st, f->matched, (size_t)-1);
	return 0;
}

int store_failure_flush(struct store *st, size_t max)
{
	int rc = 0;
	for (size_t n = 0; st->qdone < st->nqf && (max == 0 || n < max); n++) {
		const struct qfail *q = &st->qf[st->qdone++];
		const char *a = st->qa.data;
		if (failure_insert(st, q->time, a + q->jail, a + q->address, a + q->source,
		    a + q->matched) < 0)
			rc = -1;
	}
	if (st->qdone == st->nqf) {
		st->nqf = st->qdone = 0;
		buf_reset(&st->qa);
	}
	return rc < 0 ? -1 : st->qdone < st->nqf;
}

int store_failure_list(struct store *st, const char *address, store_failure_fn fn, void *arg)
{
	if (store_failure_flush(st, 0) < 0)
		return -1;
	sqlite3_stmt *s = prep(st, Q_FAIL_ADDR);
	struct failure_walk w = { fn, arg };
	if (s == NULL)
		return -1;
	bind_text(s, 1, address);
	return walk(st, s, "listing failures", failure_row, &w);
}

int store_failure_since(struct store *st, const char *jail, long since,
    store_failure_fn fn, void *arg)
{
	if (store_failure_flush(st, 0) < 0)
		return -1;
	sqlite3_stmt *s = prep(st, Q_FAIL_SINCE);
	struct failure_walk w = { fn, arg };
	if (s == NULL)
		return -1;
	bind_text(s, 1, jail);
	sqlite3_bind_int64(s, 2, since);
	return walk(st, s, "listing failures", failure_row, &w);
}

int store_failure_clear(struct store *st, const char *jail, const char *address)
{
	if (store_failure_flush(st, 0) < 0)
		return -1;
	sqlite3_stmt *s = prep(st, Q_FAIL_CLEAR);
	if (s == NULL)
		return -1;
	bind_text(s, 1, jail);
	bind_text(s, 2, address);
	return run(st, s, "clearing failures");
}

int store_logpos_set(struct store *st, const char *path, unsigned long long inode,
    unsigned long long offset)
{
	sqlite3_stmt *s = prep(st, Q_POS_SET);
	if (s == NULL)
		return -1;
	bind_text(s, 1, path);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)inode);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)offset);
	return run(st, s, "saving a log position");
}

int store_logpos_get(struct store *st, const char *path, unsigned long long *inode,
    unsigned long long *offset)
{
	sqlite3_stmt *s = prep(st, Q_POS_GET);
	if (s == NULL)
		return -1;
	bind_text(s, 1, path);
	int rc = sqlite3_step(s), ret = 0;
	if (rc == SQLITE_ROW) {
		*inode = (unsigned long long)sqlite3_column_int64(s, 0);
		*offset = (unsigned long long)sqlite3_column_int64(s, 1);
		ret = 1;
	} else if (rc != SQLITE_DONE) {
		ret = serr(st, "reading a log position");
	}
	sqlite3_reset(s);
	return ret;
}

int store_purge(struct store *st, long now, long age, long *n)
{
	sqlite3_stmt *s;
	long total = 0;

	if (store_failure_flush(st, 0) < 0 || (s = prep(st, Q_PURGE_FAIL)) == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, now - age);
	if (run(st, s, "purging failures") < 0)
		return -1;
	total += sqlite3_changes(st->db);
	if ((s = prep(st, Q_PURGE_BANS)) == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, now - age);
	sqlite3_bind_int64(s, 2, now);
	if (run(st, s, "purging bans") < 0)
		return -1;
	total += sqlite3_changes(st->db);
	if (n)
		*n = total;
	return 0;
}
