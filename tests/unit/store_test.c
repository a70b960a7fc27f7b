/*
 * store_test — the ban engine's SQLite state: schema creation and
 * version checks, WAL mode, bans (live list, history count, removal),
 * failures (queued inside a transaction), log positions, purge, errors
 * carrying SQLite's message, and the once-only import of fail2ban's dbfile.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "warden/store/store.h"

static char dir[] = "/tmp/mw_store_test_XXXXXX";
static char dbpath[256];

static int setup(void **state)
{
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(dbpath, sizeof(dbpath), "%s/warden.db", dir);
	return 0;
}

static int teardown(void **state)
{
	char p[300];
	static const char *sfx[] = { "", "-wal", "-shm" };
	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s%s", dbpath, sfx[i]);
		unlink(p);
	}
	snprintf(p, sizeof(p), "%s/other.db", dir);
	unlink(p);
	rmdir(dir);
	return 0;
}

static struct store *open_ok(const char *path)
{
	char err[512];
	struct store *st = store_open(path, err, sizeof(err));
	if (st == NULL)
		fail_msg("%s", err);
	return st;
}

struct seen {
	char text[2048];
	int n;
};

static int ban_cb(const struct store_ban *b, void *arg)
{
	struct seen *s = arg;
	size_t o = strlen(s->text);
	snprintf(s->text + o, sizeof(s->text) - o, "%s %s %ld %ld %ld;", b->jail, b->prefix,
	    b->start, b->bantime, b->count);
	s->n++;
	return 0;
}

static int fail_cb(const struct store_failure *f, void *arg)
{
	struct seen *s = arg;
	size_t o = strlen(s->text);
	snprintf(s->text + o, sizeof(s->text) - o, "%ld %s %s %s [%s];", f->time, f->jail,
	    f->address, f->source, f->matched);
	s->n++;
	return 0;
}

static int stop_cb(const struct store_ban *b, void *arg)
{
	return 7;
}

static void test_bans(void **state)
{
	struct store *st = open_ok(dbpath);
	struct seen s = { "", 0 };
	long n, count, last;

	struct store_ban b1 = { "postfix-sasl", "192.0.2.9", 1000, 604800, 1 };
	struct store_ban b2 = { "sshd", "2001:db8:1:2::/64", 1100, 600, 1 };
	struct store_ban b3 = { "sshd", "198.51.100.7", 1200, -1, 3 };
	assert_int_equal(store_begin(st), 0);
	assert_int_equal(store_ban_add(st, &b1), 0);
	assert_int_equal(store_ban_add(st, &b2), 0);
	assert_int_equal(store_ban_add(st, &b3), 0);
	assert_int_equal(store_commit(st), 0);

	/* at 1500 all three are in force */
	assert_int_equal(store_ban_list(st, NULL, 1500, ban_cb, &s), 0);
	assert_string_equal(s.text, "postfix-sasl 192.0.2.9 1000 604800 1;"
	    "sshd 2001:db8:1:2::/64 1100 600 1;sshd 198.51.100.7 1200 -1 3;");
	/* at 1700 the sshd /64 has ended; forever stays */
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_ban_list(st, "sshd", 1700, ban_cb, &s), 0);
	assert_string_equal(s.text, "sshd 198.51.100.7 1200 -1 3;");
	/* a callback stops the walk with its value */
	assert_int_equal(store_ban_list(st, NULL, 1500, stop_cb, NULL), 7);

	/* history for bantime.increment: the ended ban still counts */
	struct store_ban b4 = { "sshd", "2001:db8:1:2::/64", 5000, 1200, 2 };
	assert_int_equal(store_ban_add(st, &b4), 0);
	assert_int_equal(store_ban_count(st, "sshd", "2001:db8:1:2::/64", &count, &last), 0);
	assert_int_equal(count, 2);
	assert_int_equal(last, 5000);
	assert_int_equal(store_ban_count(st, "postfix-sasl", "2001:db8:1:2::/64", &count, &last), 0);
	assert_int_equal(count, 0);
	assert_int_equal(last, 0);
	/* overalljails */
	struct store_ban b5 = { "recidive", "192.0.2.9", 6000, 604800, 4 };
	assert_int_equal(store_ban_add(st, &b5), 0);
	assert_int_equal(store_ban_count(st, NULL, "192.0.2.9", &count, NULL), 0);
	assert_int_equal(count, 4);
	assert_int_equal(store_ban_count(st, "postfix-sasl", "192.0.2.9", &count, NULL), 0);
	assert_int_equal(count, 1);

	/* unban in one jail, then everywhere */
	assert_int_equal(store_ban_remove(st, "postfix-sasl", "192.0.2.9", &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_ban_count(st, NULL, "192.0.2.9", &count, NULL), 0);
	assert_int_equal(count, 4);
	assert_int_equal(store_ban_remove(st, NULL, "192.0.2.9", &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_ban_remove(st, NULL, "192.0.2.9", NULL), 0);

	/* survives close and reopen, in WAL mode */
	store_close(st);
	st = open_ok(dbpath);
	struct store_ban b6 = { "sshd", "203.0.113.5", 7000, 60, 1 };
	assert_int_equal(store_ban_add(st, &b6), 0);
	char wal[300];
	struct stat sb;
	snprintf(wal, sizeof(wal), "%s-wal", dbpath);
	assert_int_equal(stat(wal, &sb), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_ban_list(st, NULL, 7010, ban_cb, &s), 0);
	assert_string_equal(s.text, "sshd 198.51.100.7 1200 -1 3;sshd 203.0.113.5 7000 60 1;");

	/* purge (dbpurgeage 1000 at 8000): ended bans started before 7000
	 * go; forever stays, the running one stays */
	assert_int_equal(store_purge(st, 8000, 1000, &n), 0);
	assert_int_equal(n, 2);	/* the two ended sshd /64 bans */
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_ban_list(st, NULL, 0, ban_cb, &s), 0);
	assert_string_equal(s.text, "sshd 198.51.100.7 1200 -1 3;sshd 203.0.113.5 7000 60 1;");
	store_close(st);
}

static void test_failures(void **state)
{
	struct store *st = open_ok(dbpath);
	struct seen s = { "", 0 };
	long n;

	struct store_failure f[] = {
		{ 100, "postfix-sasl", "192.0.2.9", "event:auth", "AUTH LOGIN failed user=bob" },
		{ 200, "postfix-sasl", "192.0.2.9", "/var/log/mail.log",
		  "warning: unknown[192.0.2.9]: SASL LOGIN authentication failed" },
		{ 150, "sshd", "192.0.2.9", "journal", "Failed password for root" },
		{ 300, "postfix-sasl", "198.51.100.1", "event:auth", "x" },
	};
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(store_failure_add(st, &f[i]), 0);
	assert_int_equal(store_failure_list(st, "192.0.2.9", fail_cb, &s), 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.text, "100 postfix-sasl 192.0.2.9 event:auth [AUTH LOGIN failed user=bob];"
	    "150 sshd 192.0.2.9 journal [Failed password for root];"
	    "200 postfix-sasl 192.0.2.9 /var/log/mail.log "
	    "[warning: unknown[192.0.2.9]: SASL LOGIN authentication failed];");
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_failure_since(st, "postfix-sasl", 150, fail_cb, &s), 0);
	assert_int_equal(s.n, 2);
	/* a successful login clears that address in that jail */
	assert_int_equal(store_failure_clear(st, "postfix-sasl", "192.0.2.9"), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_failure_list(st, "192.0.2.9", fail_cb, &s), 0);
	assert_string_equal(s.text, "150 sshd 192.0.2.9 journal [Failed password for root];");
	/* purge by age */
	assert_int_equal(store_purge(st, 400, 200, &n), 0);
	assert_int_equal(n, 1);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_failure_since(st, "postfix-sasl", 0, fail_cb, &s), 0);
	assert_string_equal(s.text, "300 postfix-sasl 198.51.100.1 event:auth [x];");
	store_close(st);
}

/* A row counted from the database on a second connection (committed only). */
static int committed_failures(void)
{
	sqlite3 *db;
	sqlite3_stmt *q;
	int n = -1;
	assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM failures", -1, &q, NULL),
	    SQLITE_OK);
	if (sqlite3_step(q) == SQLITE_ROW)
		n = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	return n;
}

/* Inside a transaction failures are queued: reads see them, flush and
 * commit write them, a rollback drops them. */
static void test_failure_queue(void **state)
{
	struct store *st = open_ok(dbpath);
	struct seen s = { "", 0 };
	char addr[32], line[64];

	int base = committed_failures();
	assert_int_equal(store_begin(st), 0);
	for (int i = 0; i < 5; i++) {
		snprintf(addr, sizeof(addr), "203.0.113.%d", i % 2);
		snprintf(line, sizeof(line), "line %d", i);
		struct store_failure f = { 1000 + i, "queue", addr, "/var/log/q.log", line };
		assert_int_equal(store_failure_add(st, &f), 0);
	}
	assert_int_equal(store_failure_flush(st, 2), 1);	/* 2 written, 3 queued */
	assert_int_equal(store_failure_list(st, "203.0.113.1", fail_cb, &s), 0);
	assert_string_equal(s.text, "1001 queue 203.0.113.1 /var/log/q.log [line 1];"
	    "1003 queue 203.0.113.1 /var/log/q.log [line 3];");
	assert_int_equal(store_failure_flush(st, 0), 0);	/* the read flushed all */
	assert_int_equal(store_commit(st), 0);
	assert_int_equal(committed_failures(), base + 5);

	/* rolled back: neither the written nor the queued rows stay */
	assert_int_equal(store_begin(st), 0);
	struct store_failure g = { 2000, "queue", "203.0.113.9", "journal", "x" };
	assert_int_equal(store_failure_add(st, &g), 0);
	assert_int_equal(store_failure_flush(st, 0), 0);
	assert_int_equal(store_failure_add(st, &g), 0);
	assert_int_equal(store_rollback(st), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_failure_list(st, "203.0.113.9", fail_cb, &s), 0);
	assert_int_equal(s.n, 0);

	/* committed: stays; queued in a transaction still open at close: gone,
	 * as an uncommitted row always was */
	assert_int_equal(store_begin(st), 0);
	assert_int_equal(store_failure_add(st, &g), 0);
	assert_int_equal(store_commit(st), 0);
	assert_int_equal(store_begin(st), 0);
	struct store_failure h = { 2001, "queue", "203.0.113.9", "journal", "y" };
	assert_int_equal(store_failure_add(st, &h), 0);
	assert_int_equal(committed_failures(), base + 6);
	store_close(st);
	assert_int_equal(committed_failures(), base + 6);
}

static void test_logpos(void **state)
{
	struct store *st = open_ok(":memory:");
	unsigned long long ino = 0, off = 0;

	assert_int_equal(store_logpos_get(st, "/var/log/mail.log", &ino, &off), 0);
	assert_int_equal(store_logpos_set(st, "/var/log/mail.log", 1234, 5678), 0);
	assert_int_equal(store_logpos_get(st, "/var/log/mail.log", &ino, &off), 1);
	assert_true(ino == 1234 && off == 5678);
	assert_int_equal(store_logpos_set(st, "/var/log/mail.log", 99, 10), 0);
	assert_int_equal(store_logpos_get(st, "/var/log/mail.log", &ino, &off), 1);
	assert_true(ino == 99 && off == 10);
	store_close(st);
}

static void exec_sql(const char *path, const char *sql)
{
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void test_errors(void **state)
{
	char err[512], path[300], want[700];

	/* a directory that does not exist */
	assert_null(store_open("/nonexistent/dir/warden.db", err, sizeof(err)));
	assert_string_equal(err, "/nonexistent/dir/warden.db: unable to open database file");

	/* not a mailwarden database (fail2ban's, say) */
	snprintf(path, sizeof(path), "%s/other.db", dir);
	exec_sql(path, "CREATE TABLE fail2banDb(version INTEGER)");
	assert_null(store_open(path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s: not a mailwarden database (1 tables, no schema version)", path);
	assert_string_equal(err, want);
	unlink(path);

	/* a newer schema */
	exec_sql(path, "PRAGMA user_version = 99");
	assert_null(store_open(path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s: schema version 99 is newer than this mailwarden's (1)", path);
	assert_string_equal(err, want);
	unlink(path);

	/* not a database at all */
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("this is not an SQLite file, it is long enough to have a header page......\n", fp);
	fclose(fp);
	assert_null(store_open(path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s: PRAGMA journal_mode=WAL: file is not a database", path);
	assert_string_equal(err, want);
	unlink(path);

	/* an error on a live handle: a table dropped behind our back */
	struct store *st = open_ok(dbpath);
	exec_sql(dbpath, "DROP TABLE logpos");
	assert_int_equal(store_logpos_set(st, "/x", 1, 2), -1);
	assert_string_equal(store_error(st), "saving a log position: no such table: logpos");
	/* COMMIT without BEGIN */
	assert_int_equal(store_commit(st), -1);
	assert_string_equal(store_error(st), "COMMIT: cannot commit - no transaction is active");
	store_close(st);
}

/* fail2ban's dbfile (store_f2b.c): bans in force (the latest row of each
 * jail and address), read-only, imported once. */
static void test_f2b_import(void **state)
{
	char f2b[300], err[512], other[320];
	struct store_f2b f;
	struct stat before, after;
	long n;

	snprintf(f2b, sizeof(f2b), "%s/fail2ban.sqlite3", dir);
	exec_sql(f2b, "CREATE TABLE bans(jail TEXT NOT NULL, ip TEXT, timeofban INTEGER NOT NULL,"
	    " bantime INTEGER NOT NULL, bancount INTEGER NOT NULL default 1, data JSON);"
	    "INSERT INTO bans VALUES ('sshd', '192.0.2.1', 1000, 600, 1, '{}');"	/* ended */
	    "INSERT INTO bans VALUES ('sshd', '192.0.2.1', 5000, 600, 2, '{}');"	/* in force */
	    "INSERT INTO bans VALUES ('sshd', '192.0.2.2', 100, -1, 1, '{}');"	/* forever */
	    "INSERT INTO bans VALUES ('postfix', '2001:db8::1', 4000, 600, 1, NULL);"	/* ended */
	    "INSERT INTO bans VALUES ('postfix', NULL, 5000, 600, 1, NULL);");
	assert_int_equal(chmod(f2b, 0400), 0);
	assert_int_equal(stat(f2b, &before), 0);
	assert_int_equal(store_f2b_read(f2b, 5100, &f, err, sizeof(err)), 1);
	assert_int_equal(f.n, 2);
	char own[320];
	snprintf(own, sizeof(own), "%s/import.db", dir);
	struct store *st = open_ok(own);
	assert_int_equal(store_f2b_import(st, f2b, &f, &n), 0);
	assert_int_equal(n, 2);
	struct seen s = { "", 0 };
	assert_int_equal(store_ban_list(st, NULL, 5100, ban_cb, &s), 0);
	assert_string_equal(s.text, "sshd 192.0.2.2 100 -1 1;sshd 192.0.2.1 5000 600 2;");
	/* once: the second import adds nothing */
	assert_int_equal(store_f2b_import(st, f2b, &f, &n), 0);
	assert_int_equal(n, -1);
	s = (struct seen){ "", 0 };
	assert_int_equal(store_ban_list(st, NULL, 5100, ban_cb, &s), 0);
	assert_int_equal(s.n, 2);
	store_f2b_free(&f);
	store_close(st);
	/* fail2ban's file untouched, no journal next to it */
	assert_int_equal(stat(f2b, &after), 0);
	assert_true(before.st_size == after.st_size && before.st_mtime == after.st_mtime);
	snprintf(other, sizeof(other), "%s-journal", f2b);
	assert_int_equal(access(other, F_OK), -1);
	/* no such file: nothing to import, not an error */
	snprintf(other, sizeof(other), "%s/none.sqlite3", dir);
	assert_int_equal(store_f2b_read(other, 5100, &f, err, sizeof(err)), 0);
	assert_int_equal(f.found, 0);
	/* not a fail2ban database: the error names the file */
	exec_sql(other, "CREATE TABLE x(y)");
	assert_int_equal(store_f2b_read(other, 5100, &f, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "none.sqlite3: no such table: bans"));
	unlink(other);
	unlink(f2b);
	unlink(own);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bans),
		cmocka_unit_test(test_failures),
		cmocka_unit_test(test_failure_queue),
		cmocka_unit_test(test_logpos),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_f2b_import),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
