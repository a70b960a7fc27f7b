/*
 * banfile_test — the bans journal: written whole atomically, appended
 * to, compacted, read back by the engine's reader from its last offset
 * (from the start after a compaction), expiry, networks and jails.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mail/banfile.h"

static void test_roundtrip(void **state)
{
	char dir[] = "/tmp/banfile_test.XXXXXX";
	assert_non_null(mkdtemp(dir));
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	struct banfile *b = banfile_open(dfd, "bans");
	char jail[32];
	assert_int_equal(banfile_check(b, "192.0.2.9", 100, jail, sizeof(jail)), 0);

	struct banfile_entry e[3];
	memset(e, 0, sizeof(e));
	char err[64];
	net_parse_net("192.0.2.9", &e[0].net, err, sizeof(err));
	e[0].expires = 200;
	snprintf(e[0].jail, sizeof(e[0].jail), "%s", "sasl");
	net_parse_net("2001:db8:1:2::/64", &e[1].net, err, sizeof(err));
	e[1].expires = 0;
	snprintf(e[1].jail, sizeof(e[1].jail), "%s", "v6");
	net_parse_net("198.51.100.0/24", &e[2].net, err, sizeof(err));
	e[2].expires = 50;
	snprintf(e[2].jail, sizeof(e[2].jail), "%s", "old");
	assert_int_equal(banfile_write(dfd, "bans", e, 3), 0);

	assert_int_equal(banfile_check(b, "192.0.2.9", 100, jail, sizeof(jail)), 1);
	assert_string_equal(jail, "sasl");
	assert_int_equal(banfile_check(b, "192.0.2.9", 200, jail, sizeof(jail)), 0);
	assert_int_equal(banfile_check(b, "192.0.2.10", 100, jail, sizeof(jail)), 0);
	assert_int_equal(banfile_check(b, "2001:db8:1:2::55", 1L << 40, jail, sizeof(jail)), 1);
	assert_string_equal(jail, "v6");
	assert_int_equal(banfile_check(b, "::ffff:192.0.2.9", 100, jail, sizeof(jail)), 1);
	assert_int_equal(banfile_check(b, "198.51.100.1", 100, jail, sizeof(jail)), 0);
	assert_int_equal(banfile_check(b, "garbage", 100, jail, sizeof(jail)), 0);
	assert_int_equal(banfile_count(b), 3);

	/* rewritten: the reader sees the change */
	assert_int_equal(banfile_write(dfd, "bans", e + 1, 1), 0);
	assert_int_equal(banfile_check(b, "192.0.2.9", 100, jail, sizeof(jail)), 0);
	assert_int_equal(banfile_count(b), 1);
	/* no file: no bans */
	unlinkat(dfd, "bans", 0);
	assert_int_equal(banfile_count(b), 0);
	banfile_close(b);
	close(dfd);
	rmdir(dir);
}

/* The reader's line lengths: an empty line, a line that just fits, one
 * byte more (skipped whole: its tail is not a ban of its own), a huge
 * one; expiry values negative or past LONG_MAX; over-long jail names. */
static void test_line_lengths(void **state)
{
	char dir[] = "/tmp/banfile_test.XXXXXX";
	assert_non_null(mkdtemp(dir));
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	char path[64];
	snprintf(path, sizeof(path), "%s/bans", dir);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "\n");						/* 0 */
	fprintf(fp, "192.0.2.1 0 fits%*s\n", 510 - 16, "");		/* 510 + LF: fits */
	fprintf(fp, "192.0.2.2 0 long%*s10.0.0.0/8 0 evil\n", 511 - 16, "");	/* room + 1 */
	fprintf(fp, "192.0.2.3 0 huge");
	for (int i = 0; i < 5000; i++)
		fprintf(fp, " 10.%d.0.0/16 0 x", i % 250);
	fprintf(fp, "\n");
	fprintf(fp, "192.0.2.4 -1 neg\n");
	fprintf(fp, "192.0.2.5 99999999999999999999 wrap\n");
	fprintf(fp, "192.0.2.6 9223372036854775807 max\n");
	fprintf(fp, "192.0.2.7 0 %040d\n", 7);			/* jail name too long */
	fprintf(fp, "192.0.2.8 0 last");		/* no final newline (yet) */
	assert_int_equal(fflush(fp), 0);

	struct banfile *b = banfile_open(dfd, "bans");
	char jail[32];
	assert_int_equal(banfile_check(b, "192.0.2.1", 100, jail, sizeof(jail)), 1);
	assert_string_equal(jail, "fits");
	assert_int_equal(banfile_check(b, "10.1.2.3", 100, jail, sizeof(jail)), 0);
	assert_int_equal(banfile_check(b, "192.0.2.3", 100, jail, sizeof(jail)), 0);
	assert_int_equal(banfile_check(b, "192.0.2.4", 100, jail, sizeof(jail)), 0);
	assert_int_equal(banfile_check(b, "192.0.2.5", 100, jail, sizeof(jail)), 0);
	assert_int_equal(banfile_check(b, "192.0.2.6", 100, jail, sizeof(jail)), 1);
	assert_int_equal(banfile_check(b, "192.0.2.7", 100, jail, sizeof(jail)), 0);
	/* half an append is never acted on: the line counts with its newline */
	assert_int_equal(banfile_check(b, "192.0.2.8", 100, jail, sizeof(jail)), 0);
	assert_int_equal(banfile_count(b), 2);
	fprintf(fp, "er\n");
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(banfile_check(b, "192.0.2.8", 100, jail, sizeof(jail)), 1);
	assert_string_equal(jail, "laster");
	assert_int_equal(banfile_count(b), 3);
	banfile_close(b);
	unlink(path);
	close(dfd);
	rmdir(dir);
}

/* A symlink planted at the temp name (or a stale temp file) is removed,
 * never written through; the rename replaces a symlink at the final name
 * instead of following it. */
static void test_planted_symlinks_are_not_followed(void **state)
{
	char dir[] = "/tmp/banfile_test.XXXXXX", target[] = "/tmp/banfile_canary.XXXXXX";
	char path[256];
	assert_non_null(mkdtemp(dir));
	int tfd = mkstemp(target);
	assert_true(tfd >= 0);
	assert_int_equal(write(tfd, "canary\n", 7), 7);
	close(tfd);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	assert_int_equal(symlinkat(target, dfd, ".bans.tmp"), 0);
	assert_int_equal(symlinkat(target, dfd, "bans"), 0);
	struct banfile_entry e;
	memset(&e, 0, sizeof(e));
	char err[64];
	net_parse_net("192.0.2.9", &e.net, err, sizeof(err));
	assert_int_equal(banfile_write(dfd, "bans", &e, 1), 0);
	struct stat st;
	assert_int_equal(stat(target, &st), 0);
	assert_int_equal(st.st_size, 7);	/* the canary is untouched */
	assert_int_equal(fstatat(dfd, "bans", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISREG(st.st_mode));	/* the link was replaced, not followed */
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(fstatat(dfd, ".bans.tmp", &st, AT_SYMLINK_NOFOLLOW), -1);
	unlinkat(dfd, "bans", 0);
	close(dfd);
	rmdir(dir);
	snprintf(path, sizeof(path), "%s", target);
	unlink(path);
}

static void entry(struct banfile_entry *e, const char *net, long expires, const char *jail)
{
	char err[64];
	memset(e, 0, sizeof(*e));
	assert_int_equal(net_parse_net(net, &e->net, err, sizeof(err)), 0);
	e->expires = expires;
	snprintf(e->jail, sizeof(e->jail), "%s", jail);
}

static ino_t inode(int dfd)
{
	struct stat st;
	assert_int_equal(fstatat(dfd, "bans", &st, 0), 0);
	return st.st_ino;
}

/* Appends reach a reader that already read the file, without a rewrite;
 * an end lifts only that jail's ban; an expiry change is an addition
 * again; a compaction (new inode) is read from its start, also by a
 * reader opened after it (a new engine generation). */
static void test_journal(void **state)
{
	char dir[] = "/tmp/banfile_test.XXXXXX";
	assert_non_null(mkdtemp(dir));
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	struct banfile_writer *w = banfile_writer_new(dfd, "bans");
	assert_non_null(w);
	struct banfile *b = banfile_open(dfd, "bans");
	char jail[32];
	struct banfile_entry e[3];
	entry(&e[0], "192.0.2.9", 0, "sasl");
	entry(&e[1], "2001:db8:1:2::/64", 0, "v6");
	assert_int_equal(banfile_writer_full(w, 0), 1);	/* nothing open yet */
	assert_int_equal(banfile_writer_add(w, &e[0]), -1);
	assert_int_equal(banfile_writer_reset(w, e, 1), 0);
	ino_t first = inode(dfd);
	assert_int_equal(banfile_check(b, "192.0.2.9", 100, jail, sizeof(jail)), 1);
	assert_int_equal(banfile_count(b), 1);

	/* appended: same file, the reader learns it */
	assert_int_equal(banfile_writer_add(w, &e[1]), 0);
	entry(&e[2], "192.0.2.9", 0, "recidive");
	assert_int_equal(banfile_writer_add(w, &e[2]), 0);
	assert_true(inode(dfd) == first);
	assert_int_equal(banfile_check(b, "2001:db8:1:2::55", 100, jail, sizeof(jail)), 1);
	assert_string_equal(jail, "v6");
	assert_int_equal(banfile_count(b), 3);
	assert_int_equal(banfile_writer_full(w, 3), 0);

	/* sasl's ban of 192.0.2.9 ends: recidive's still holds it */
	assert_int_equal(banfile_writer_del(w, &e[0].net, "sasl"), 0);
	assert_int_equal(banfile_check(b, "192.0.2.9", 100, jail, sizeof(jail)), 1);
	assert_string_equal(jail, "recidive");
	assert_int_equal(banfile_count(b), 2);
	/* recidive's gets an expiry, then passes it */
	e[2].expires = 150;
	assert_int_equal(banfile_writer_add(w, &e[2]), 0);
	assert_int_equal(banfile_count(b), 2);
	assert_int_equal(banfile_check(b, "192.0.2.9", 100, jail, sizeof(jail)), 1);
	assert_int_equal(banfile_check(b, "192.0.2.9", 150, jail, sizeof(jail)), 0);
	assert_int_equal(banfile_writer_del(w, &e[2].net, "recidive"), 0);
	assert_int_equal(banfile_writer_del(w, &e[1].net, "v6"), 0);
	assert_int_equal(banfile_count(b), 0);
	/* 7 records (1 written whole, 6 appended): more than twice 3 live
	 * bans, not than twice 4 */
	assert_int_equal(banfile_writer_full(w, 0), 1);
	assert_int_equal(banfile_writer_full(w, 3), 1);
	assert_int_equal(banfile_writer_full(w, 4), 0);

	/* compaction: a new file, read from its start */
	entry(&e[0], "198.51.100.0/24", 0, "agg");
	assert_int_equal(banfile_writer_reset(w, e, 1), 0);
	assert_true(inode(dfd) != first);
	assert_int_equal(banfile_check(b, "198.51.100.7", 100, jail, sizeof(jail)), 1);
	assert_string_equal(jail, "agg");
	assert_int_equal(banfile_count(b), 1);
	entry(&e[1], "203.0.113.5", 0, "sasl");
	assert_int_equal(banfile_writer_add(w, &e[1]), 0);
	struct banfile *b2 = banfile_open(dfd, "bans");	/* a new generation */
	assert_int_equal(banfile_check(b2, "203.0.113.5", 100, jail, sizeof(jail)), 1);
	assert_int_equal(banfile_check(b2, "198.51.100.1", 100, jail, sizeof(jail)), 1);
	assert_int_equal(banfile_count(b2), 2);
	banfile_close(b2);
	assert_int_equal(banfile_check(b, "203.0.113.5", 100, jail, sizeof(jail)), 1);
	banfile_close(b);
	banfile_writer_free(w);
	unlinkat(dfd, "bans", 0);
	close(dfd);
	rmdir(dir);
}

/* Many bans of several prefix lengths: each found, its neighbours not. */
static void test_many(void **state)
{
	char dir[] = "/tmp/banfile_test.XXXXXX";
	assert_non_null(mkdtemp(dir));
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	struct banfile_writer *w = banfile_writer_new(dfd, "bans");
	assert_int_equal(banfile_writer_reset(w, NULL, 0), 0);
	struct banfile *b = banfile_open(dfd, "bans");
	char net[64], jail[32];
	struct banfile_entry e;
	for (int i = 0; i < 3000; i++) {
		snprintf(net, sizeof(net), "10.%d.%d.%d", i / 256, i % 256, 1);
		entry(&e, net, 0, "h");
		assert_int_equal(banfile_writer_add(w, &e), 0);
		if (i % 7 == 0) {
			snprintf(net, sizeof(net), "2001:db8:%x::/48", i);
			entry(&e, net, 0, "n");
			assert_int_equal(banfile_writer_add(w, &e), 0);
		}
	}
	assert_int_equal(banfile_count(b), 3000 + 429);
	assert_int_equal(banfile_check(b, "10.11.183.1", 100, jail, sizeof(jail)), 1);
	assert_string_equal(jail, "h");
	assert_int_equal(banfile_check(b, "10.0.0.1", 100, jail, sizeof(jail)), 1);
	assert_int_equal(banfile_check(b, "10.11.183.2", 100, jail, sizeof(jail)), 0);
	assert_int_equal(banfile_check(b, "10.11.184.1", 100, jail, sizeof(jail)), 0);
	assert_int_equal(banfile_check(b, "2001:db8:7:ffff::1", 100, jail, sizeof(jail)), 1);
	assert_string_equal(jail, "n");
	assert_int_equal(banfile_check(b, "2001:db8:8::1", 100, jail, sizeof(jail)), 0);
	banfile_close(b);
	banfile_writer_free(w);
	unlinkat(dfd, "bans", 0);
	close(dfd);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_line_lengths),
		cmocka_unit_test(test_planted_symlinks_are_not_followed),
		cmocka_unit_test(test_journal),
		cmocka_unit_test(test_many),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
