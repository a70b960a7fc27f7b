/*
 * store_f2b — the bans in force in fail2ban's own database (its dbfile,
 * fail2ban.conf's), imported once into the ban engine's store when
 * warden_fail2ban_config is set. fail2ban's file is only read: opened
 * SQLITE_OPEN_READONLY (as root, before the warden drops privileges:
 * Debian keeps it 0600), its `bans` table (jail, ip, timeofban, bantime,
 * bancount; the latest row of each jail and address) queried, nothing
 * written. That the import happened is a row of our own logpos table
 * ("fail2ban-dbfile:PATH"), so a restart does not import again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "common/util.h"
#include "warden/store/store.h"

#define F2B_MAXBANS 1000000	/* bans read from fail2ban's file at most */

/* The latest ban of each (jail, ip); bantime -1 (or less) is forever. */
static const char f2b_sql[] =
    "SELECT jail, ip, MAX(timeofban), bantime, bancount FROM bans"
    " WHERE ip IS NOT NULL GROUP BY jail, ip ORDER BY 3";

int store_f2b_read(const char *path, long now, struct store_f2b *out, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	struct stat sb;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (stat(path, &sb) < 0)
		return 0;	/* fail2ban never ran: nothing to import */
	out->inode = (unsigned long long)sb.st_ino;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, f2b_sql, -1, &s, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
		goto done;
	}
	int step;
	size_t cap = 0;
	while ((step = sqlite3_step(s)) == SQLITE_ROW && out->n < F2B_MAXBANS) {
		const char *jail = (const char *)sqlite3_column_text(s, 0);
		const char *ip = (const char *)sqlite3_column_text(s, 1);
		long start = (long)sqlite3_column_int64(s, 2), bt = (long)sqlite3_column_int64(s, 3);
		if (jail == NULL || ip == NULL || (bt >= 0 && start + bt <= now))
			continue;	/* ended */
		if (out->n == cap) {	/* geometric: up to F2B_MAXBANS rows */
			cap = cap ? 2 * cap : 64;
			out->b = xrealloc(out->b, cap * sizeof(*out->b));
		}
		out->b[out->n] = (struct store_ban){ xstrdup(jail), xstrdup(ip), start,
		    bt < 0 ? -1 : bt, (long)sqlite3_column_int64(s, 4) };
		out->n++;
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
		store_f2b_free(out);
		goto done;
	}
	out->found = 1;
	rc = 1;
done:
	sqlite3_finalize(s);
	sqlite3_close(db);
	return rc;
}

void store_f2b_free(struct store_f2b *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free((char *)f->b[i].jail);
		free((char *)f->b[i].prefix);
	}
	free(f->b);
	f->b = NULL;
	f->n = 0;
}

int store_f2b_import(struct store *st, const char *path, const struct store_f2b *f,
    long *n)
{
	char key[4200];
	unsigned long long ino, off;

	*n = -1;
	if (!f->found)
		return 0;
	if (snprintf(key, sizeof(key), "fail2ban-dbfile:%s", path) >= (int)sizeof(key))
		return 0;
	int rc = store_logpos_get(st, key, &ino, &off);
	if (rc != 0)
		return rc < 0 ? -1 : 0;	/* imported before */
	int own = store_begin(st);
	if (own < 0)
		return -1;
	for (size_t i = 0; i < f->n; i++)
		if (store_ban_add(st, &f->b[i]) < 0)
			goto fail;
	if (store_logpos_set(st, key, f->inode, (unsigned long long)f->n) < 0)
		goto fail;
	if (own == 0 && store_commit(st) < 0)
		return -1;
	*n = (long)f->n;
	return 0;
fail:
	if (own == 0)
		store_rollback(st);
	return -1;
}
