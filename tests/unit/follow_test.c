/*
 * follow_test — log following on real files in a temporary directory:
 * appends, partial lines, rotation by rename and by copytruncate, a file
 * that appears later, globs, tail, resuming from positions saved in a
 * real store, the polling backend, long lines, inotify driven by the real
 * loop, journalmatch parsing and journal line formatting. Also prints the
 * lines per second read from a 1,000,000-line file.
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
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/loop.h"
#include "warden/source/follow.h"
#include "warden/store/store.h"

static char dir[] = "/tmp/mw_follow_test_XXXXXX";

/* Delivered lines, each followed by '\n'. */
struct got {
	char *text;
	size_t len, cap, n;
	size_t maxlen;
};

static struct got got;

static void on_line(void *arg, const char *path, const char *line, size_t len)
{
	struct got *g = arg;
	assert_int_equal(line[len], '\0');
	if (g->len + len + 2 > g->cap) {	/* doubling: ASan's realloc copies */
		g->cap = (g->len + len + 2) * 2;
		g->text = realloc(g->text, g->cap);
		assert_non_null(g->text);
	}
	memcpy(g->text + g->len, line, len);
	g->len += len;
	g->text[g->len++] = '\n';
	g->text[g->len] = '\0';
	g->n++;
	if (len > g->maxlen)
		g->maxlen = len;
}

static void got_reset(void)
{
	free(got.text);
	memset(&got, 0, sizeof(got));
	got.text = calloc(1, 1);
	got.cap = 1;
}

static const char *P(const char *name)
{
	static char b[4][512];
	static int i;
	i = (i + 1) % 4;
	snprintf(b[i], sizeof(b[i]), "%s/%s", dir, name);
	return b[i];
}

static void put(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
	close(fd);
}

static void rm_all(void)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf %s/*", dir);
	assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
	if (mkdtemp(dir) == NULL)
		return -1;
	loop_init();
	return 0;
}

static int teardown(void **state)
{
	rm_all();
	rmdir(dir);
	free(got.text);
	return 0;
}

static int each_setup(void **state)
{
	rm_all();
	got_reset();
	return 0;
}

static struct follower *start(struct store *st, const char *pattern, int tail, int poll)
{
	char err[256];
	struct follower *f = follow_new(st, on_line, &got);
	assert_int_equal(follow_add(f, pattern, tail, poll, err, sizeof(err)), 0);
	return f;
}

#define EXPECT(s) do { assert_string_equal(got.text, (s)); got_reset(); } while (0)

static void test_append(void **state)
{
	put(P("a.log"), "one\ntwo\n");
	struct follower *f = start(NULL, P("a.log"), 0, 0);
	follow_poll(f);
	EXPECT("one\ntwo\n");
	put(P("a.log"), "three\r\n");
	follow_poll(f);
	follow_poll(f);
	EXPECT("three\n");	/* a CR before the LF is dropped */
	follow_free(f);
}

static void test_partial(void **state)
{
	struct follower *f = start(NULL, P("p.log"), 0, 0);	/* missing first */
	put(P("p.log"), "par");
	follow_poll(f);
	EXPECT("");
	put(P("p.log"), "tial\nx");
	follow_poll(f);
	EXPECT("partial\n");
	put(P("p.log"), "y\n");
	follow_poll(f);
	EXPECT("xy\n");
	follow_free(f);
}

static void test_rename_rotation(void **state)
{
	put(P("r.log"), "1\n2\n");
	struct follower *f = start(NULL, P("r.log"), 0, 0);
	follow_poll(f);
	EXPECT("1\n2\n");
	assert_int_equal(rename(P("r.log"), P("r.log.1")), 0);
	put(P("r.log.1"), "3 old after rename\n");
	follow_poll(f);		/* rotated, new file not there yet */
	EXPECT("3 old after rename\n");
	put(P("r.log.1"), "4 old\n");
	put(P("r.log"), "5 new\n");
	follow_poll(f);
	EXPECT("4 old\n5 new\n");
	put(P("r.log.1"), "6 old, late\n");
	put(P("r.log"), "7 new\n");
	follow_poll(f);
	EXPECT("6 old, late\n7 new\n");
	/* rotated twice before a look: both files drained, none twice */
	assert_int_equal(rename(P("r.log"), P("r.log.2")), 0);
	put(P("r.log"), "8 newest\n");
	put(P("r.log.2"), "9 middle\n");
	follow_poll(f);
	assert_non_null(strstr(got.text, "8 newest\n"));
	assert_non_null(strstr(got.text, "9 middle\n"));
	assert_int_equal(got.n, 2);
	got_reset();
	follow_free(f);
}

static void test_copytruncate(void **state)
{
	put(P("c.log"), "first line\nsecond line\n");
	struct follower *f = start(NULL, P("c.log"), 0, 0);
	follow_poll(f);
	EXPECT("first line\nsecond line\n");
	assert_int_equal(truncate(P("c.log"), 0), 0);
	put(P("c.log"), "after\n");
	follow_poll(f);
	EXPECT("after\n");
	put(P("c.log"), "more\n");
	follow_poll(f);
	EXPECT("more\n");
	follow_free(f);
}

static void test_missing_then_created(void **state)
{
	struct follower *f = start(NULL, P("sub/m.log"), 0, 0);	/* dir missing too */
	follow_poll(f);
	EXPECT("");
	const char **paths;
	assert_int_equal(follow_files(f, &paths), 1);
	assert_string_equal(paths[0], P("sub/m.log"));
	assert_int_equal(mkdir(P("sub"), 0755), 0);
	put(P("sub/m.log"), "hello\n");
	follow_poll(f);
	EXPECT("hello\n");
	follow_free(f);
}

static void test_glob(void **state)
{
	put(P("g1.log"), "from one\n");
	put(P("g2.log"), "from two\n");
	put(P("other.txt"), "not me\n");
	struct follower *f = start(NULL, P("g*.log"), 0, 0);
	follow_poll(f);
	assert_int_equal(got.n, 2);
	assert_non_null(strstr(got.text, "from one\n"));
	assert_non_null(strstr(got.text, "from two\n"));
	got_reset();
	const char **paths;
	assert_int_equal(follow_files(f, &paths), 2);
	put(P("g3.log"), "late file\n");	/* appears later: from its start */
	follow_poll(f);
	EXPECT("late file\n");
	assert_int_equal(follow_files(f, &paths), 3);
	follow_free(f);

	char err[256];
	f = follow_new(NULL, on_line, &got);
	assert_int_equal(follow_add(f, "", 0, 0, err, sizeof(err)), -1);
	assert_int_equal(follow_add(f, dir, 0, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "is a directory"));
	follow_free(f);
}

/* What a jail needs to start (fail2ban's "Have not found any log file"):
 * files a pattern names now; dangling links and directories not counted. */
static void test_existing(void **state)
{
	assert_int_equal(follow_existing(P("none.log")), 0);
	assert_int_equal(follow_existing(P("sub/none.log")), 0);
	assert_int_equal(follow_existing(P("*.log")), 0);
	put(P("a.log"), "x\n");
	put(P("b.log"), "");
	assert_int_equal(follow_existing(P("a.log")), 1);
	assert_int_equal(follow_existing(P("*.log")), 2);
	assert_int_equal(follow_existing(P("[ab].lo?")), 2);
	assert_int_equal(symlink(P("gone.log"), P("c.log")), 0);	/* dangling */
	assert_int_equal(follow_existing(P("c.log")), 0);
	assert_int_equal(follow_existing(P("*.log")), 2);
	assert_int_equal(mkdir(P("d.log"), 0755), 0);		/* a directory */
	assert_int_equal(follow_existing(P("d.log")), 0);
	assert_int_equal(follow_existing(P("*.log")), 2);
	assert_int_equal(follow_existing("/dev/null"), 1);
}

/* logpath mail.log*: the rotated file is the one already read under the
 * other name; its lines must not come again. */
static void test_glob_rotation(void **state)
{
	put(P("m.log"), "1\n2\n");
	struct follower *f = start(NULL, P("m.log*"), 0, 0);
	follow_poll(f);
	EXPECT("1\n2\n");
	assert_int_equal(rename(P("m.log"), P("m.log.1")), 0);
	put(P("m.log.1"), "3 old\n");
	put(P("m.log"), "4 new\n");
	follow_poll(f);
	assert_int_equal(got.n, 2);
	assert_non_null(strstr(got.text, "3 old\n"));
	assert_non_null(strstr(got.text, "4 new\n"));
	got_reset();
	put(P("m.log.1"), "5 old\n");
	follow_poll(f);
	follow_poll(f);
	EXPECT("5 old\n");
	const char **paths;
	assert_int_equal(follow_files(f, &paths), 2);
	follow_free(f);
}

/* Two matched paths for one inode (a hard link): no take-over ping-pong;
 * its new lines come once per path (a documented limitation). */
static void test_glob_hardlink(void **state)
{
	put(P("h1.log"), "a\n");
	struct follower *f = start(NULL, P("h*.log"), 0, 0);
	follow_poll(f);
	EXPECT("a\n");
	assert_int_equal(link(P("h1.log"), P("h2.log")), 0);
	follow_poll(f);			/* must return */
	EXPECT("");
	put(P("h1.log"), "b\n");
	follow_poll(f);
	EXPECT("b\nb\n");
	follow_free(f);
}

static void test_tail(void **state)
{
	put(P("t.log"), "old 1\nold 2\n");
	struct follower *f = start(NULL, P("t.log"), 1, 0);
	follow_poll(f);
	EXPECT("");
	put(P("t.log"), "new\n");
	follow_poll(f);
	EXPECT("new\n");
	follow_free(f);
}

static struct store *store_tmp(void)
{
	char err[256];
	struct store *st = store_open(P("pos.db"), err, sizeof(err));
	if (st == NULL)
		fail_msg("%s", err);
	return st;
}

static void test_resume(void **state)
{
	struct store *st = store_tmp();
	put(P("s.log"), "1\n2\npart");
	struct follower *f = start(st, P("s.log"), 0, 0);
	follow_poll(f);
	EXPECT("1\n2\n");
	follow_free(f);				/* saves (inode, 4) */
	unsigned long long ino, off;
	assert_int_equal(store_logpos_get(st, P("s.log"), &ino, &off), 1);
	assert_int_equal(off, 4);

	put(P("s.log"), "ial\n3\n");		/* written while "down" */
	f = start(st, P("s.log"), 0, 0);
	follow_poll(f);
	EXPECT("partial\n3\n");			/* nothing twice */
	put(P("s.log"), "4\n");
	follow_poll(f);
	EXPECT("4\n");
	follow_free(f);

	/* tail ignores the saved position, as fail2ban 1.0.2 does */
	put(P("s.log"), "5\n");
	f = start(st, P("s.log"), 1, 0);
	follow_poll(f);
	EXPECT("");
	follow_free(f);

	/* same inode, not shorter, but another first line: from the start */
	int fd = open(P("s.log"), O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	const char *other = "X other first line\nY\nZ\n";
	assert_int_equal(write(fd, other, strlen(other)), (ssize_t)strlen(other));
	close(fd);
	f = start(st, P("s.log"), 0, 0);
	follow_poll(f);
	EXPECT("X other first line\nY\nZ\n");
	follow_free(f);

	/* another inode (rotated while down): from the start */
	assert_int_equal(unlink(P("s.log")), 0);
	put(P("s.log"), "fresh 1\nfresh 2\nfresh 3\nfresh 4\nfresh 5\n");
	f = start(st, P("s.log"), 0, 0);
	follow_poll(f);
	assert_int_equal(got.n, 5);
	got_reset();
	follow_free(f);
	store_close(st);
}

static void test_long_line(void **state)
{
	size_t big = 100 * 1024;
	char *s = malloc(big + 1);
	memset(s, 'x', big);
	s[big] = '\0';
	struct follower *f = start(NULL, P("l.log"), 0, 0);
	put(P("l.log"), s);
	put(P("l.log"), "\nshort\n");
	memset(s, 'y', FOLLOW_LINE_MAX);	/* exactly the limit: not cut */
	s[FOLLOW_LINE_MAX] = '\0';
	put(P("l.log"), s);
	put(P("l.log"), "\n");
	follow_poll(f);
	assert_int_equal(got.n, 3);
	assert_int_equal(got.maxlen, FOLLOW_LINE_MAX);
	assert_non_null(strstr(got.text, "\nshort\n"));
	assert_int_equal(follow_cut_lines(f), 1);
	got_reset();
	follow_free(f);
	free(s);
}

/* The real loop and real inotify: all before the first 1 s tick. */
static int step;

static void script(void *arg)
{
	static struct loop_timer t;
	switch (step++) {
	case 0:
		put(P("i.log"), "a\n");
		put(P("later.log"), "created later\n");
		break;
	case 1:
		assert_int_equal(rename(P("i.log"), P("i.log.1")), 0);
		put(P("i.log.1"), "b old after rename\n");
		break;
	case 2:
		put(P("i.log"), "c new\n");
		put(P("i.log.1"), "d old, late\n");
		break;
	case 3:
		put(P("i.log"), "e new\n");
		break;
	default:
		loop_exit();
		return;
	}
	loop_timer_set(&t, 40, script, NULL);
}

static void test_inotify_loop(void **state)
{
	char err[256];
	static struct loop_timer t;
	put(P("i.log"), "0\n");
	struct follower *f = follow_new(NULL, on_line, &got);
	assert_int_equal(follow_add(f, P("i.log"), 0, 0, err, sizeof(err)), 0);
	assert_int_equal(follow_add(f, P("later.log"), 0, 0, err, sizeof(err)), 0);
	step = 0;
	loop_timer_set(&t, 40, script, NULL);
	uint64_t t0 = clock_mono_ms();
	loop_run();
	assert_true(clock_mono_ms() - t0 < 900);	/* no help from the tick */
	assert_string_equal(got.text,
	    "0\na\ncreated later\nb old after rename\nd old, late\nc new\ne new\n");
	got_reset();
	follow_free(f);
}

/* A big file is read a slice per loop turn: timers still fire meanwhile. */
static size_t bounded_total, bounded_mid, bounded_last;

static void bounded_timer(void *arg)
{
	static struct loop_timer t;
	if (got.n == bounded_total) {
		loop_exit();
		return;
	}
	if (got.n > 0 && got.n != bounded_last)	/* a slice was read */
		bounded_mid++;
	bounded_last = got.n;
	loop_timer_set(&t, 0, bounded_timer, NULL);
}

static void test_bounded(void **state)
{
	char err[256];
	static struct loop_timer t;
	FILE *fp = fopen(P("b.log"), "w");
	bounded_total = 100000;
	for (size_t i = 0; i < bounded_total; i++)
		fprintf(fp, "line %zu of a big file\n", i);
	assert_int_equal(fclose(fp), 0);
	bounded_mid = bounded_last = 0;
	struct follower *f = follow_new(NULL, on_line, &got);
	assert_int_equal(follow_add(f, P("b.log"), 0, 0, err, sizeof(err)), 0);
	loop_timer_set(&t, 0, bounded_timer, NULL);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	loop_run();
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_int_equal(got.n, bounded_total);
	assert_true(bounded_mid >= 5);	/* ~2.3 MB in 256 KiB slices */
	double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	print_message("loop: %zu lines in %.3f s, a timer ran between %zu slices\n",
	    got.n, s, bounded_mid);
	got_reset();
	follow_free(f);
}

static void stop(void *arg)
{
	loop_exit();
}

static void test_polling(void **state)
{
	char err[256];
	static struct loop_timer t;
	put(P("poll.log"), "x\n");
	struct follower *f = follow_new(NULL, on_line, &got);
	assert_int_equal(follow_add(f, P("poll.log"), 0, 1, err, sizeof(err)), 0);
	loop_timer_set(&t, 50, stop, NULL);
	loop_run();			/* the first read happens at once */
	EXPECT("x\n");
	put(P("poll.log"), "y\n");
	assert_int_equal(rename(P("poll.log"), P("poll.log.1")), 0);
	put(P("poll.log"), "z\n");
	loop_timer_set(&t, 300, stop, NULL);
	loop_run();
	EXPECT("");			/* no inotify: nothing before the tick */
	loop_timer_set(&t, 1000, stop, NULL);
	loop_run();
	EXPECT("y\nz\n");
	follow_free(f);
}

static int collect(void *arg, const char *term)
{
	char *s = arg;
	size_t o = strlen(s);
	snprintf(s + o, 512 - o, "%s|", term ? term : "OR");
	return 0;
}

static void test_journal_match(void **state)
{
	char s[512] = "", err[256];
	assert_int_equal(journal_parse_match("_SYSTEMD_UNIT=sshd.service + _COMM=sshd",
	    collect, s, err, sizeof(err)), 0);
	assert_string_equal(s, "_SYSTEMD_UNIT=sshd.service|OR|_COMM=sshd|");
	s[0] = '\0';
	assert_int_equal(journal_parse_match("A=1 B=\"two words\"\nC=3", collect, s,
	    err, sizeof(err)), 0);
	assert_string_equal(s, "A=1|B=two words|OR|C=3|");
	s[0] = '\0';
	assert_int_equal(journal_parse_match("", collect, s, err, sizeof(err)), 0);
	assert_string_equal(s, "");
	assert_int_equal(journal_parse_match("_comm=sshd", collect, s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not FIELD=value"));
	assert_int_equal(journal_parse_match("+ A=1", collect, s, err, sizeof(err)), -1);
	assert_int_equal(journal_parse_match("A=\"x", collect, s, err, sizeof(err)), -1);
	assert_int_equal(journal_parse_match("NOEQUALS", collect, s, err, sizeof(err)), -1);

	assert_null(journal_new("bad term", on_line, &got, NULL, NULL, 0, err, sizeof(err)));
	struct journal_src *j = journal_new("_SYSTEMD_UNIT=mailwarden-test.service",
	    on_line, &got, NULL, NULL, 0, err, sizeof(err));
	if (j == NULL) {
		print_message("journal_new: %s (no journal here)\n", err);
	} else {
		journal_poll(j);	/* a unit that never logs: nothing */
		EXPECT("");
		journal_free(j);
	}
}

static void test_journal_format(void **state)
{
	char out[256];
	setenv("TZ", "UTC", 1);
	tzset();
	struct journal_fields e = { "mx1", "sshd", "1234",
	    "Failed password for root\nfrom 192.0.2.9", 40, 1700000000ULL * 1000000 };
	journal_format(out, sizeof(out), &e);
	assert_string_equal(out,
	    "Nov 14 22:13:20 mx1 sshd[1234]: Failed password for root\\nfrom 192.0.2.9");
	struct journal_fields k = { NULL, "kernel", NULL, "oops", 4, 1700000000ULL * 1000000 };
	journal_format(out, sizeof(out), &k);
	assert_string_equal(out, "Nov 14 22:13:20 kernel: oops");
	assert_int_equal(journal_format(out, 10, &e), 9);	/* truncated */
	assert_string_equal(out, "Nov 14 22");
}

static void count_line(void *arg, const char *path, const char *line, size_t len)
{
	(*(size_t *)arg)++;
}

static size_t *bench_n, bench_total;

static void bench_timer(void *arg)
{
	static struct loop_timer t;
	if (*bench_n == bench_total)
		loop_exit();
	else
		loop_timer_set(&t, 1, bench_timer, NULL);
}

/* Lines per second from a 1,000,000-line file (docs/follow.md). */
static void test_bench(void **state)
{
	const size_t lines = 1000000;
	FILE *fp = fopen(P("big.log"), "w");
	assert_non_null(fp);
	for (size_t i = 0; i < lines; i++)
		fprintf(fp, "Nov 14 22:13:20 mx1 mailwarden/smtpd[4242]: warning: unknown[192.0.2.%zu]:"
		    " SASL LOGIN authentication failed: auth failure %zu\n", i % 256, i);
	assert_int_equal(fclose(fp), 0);
	size_t n = 0;
	struct follower *f = follow_new(NULL, count_line, &n);
	char err[256];
	assert_int_equal(follow_add(f, P("big.log"), 0, 0, err, sizeof(err)), 0);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	follow_poll(f);
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_int_equal(n, lines);
	double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	struct stat sb;
	assert_int_equal(stat(P("big.log"), &sb), 0);
	print_message("bench: %zu lines (%lld bytes) in %.3f s = %.0f lines/s\n", n,
	    (long long)sb.st_size, s, (double)n / s);
	follow_free(f);

	/* the same through the loop, a 256 KiB slice per turn */
	n = 0;
	f = follow_new(NULL, count_line, &n);
	assert_int_equal(follow_add(f, P("big.log"), 0, 0, err, sizeof(err)), 0);
	bench_n = &n;
	bench_total = lines;
	static struct loop_timer t;
	loop_timer_set(&t, 1, bench_timer, NULL);
	clock_gettime(CLOCK_MONOTONIC, &a);
	loop_run();
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_int_equal(n, lines);
	s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	print_message("bench (loop): %zu lines in %.3f s = %.0f lines/s\n", n, s,
	    (double)n / s);
	follow_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_append, each_setup),
		cmocka_unit_test_setup(test_partial, each_setup),
		cmocka_unit_test_setup(test_rename_rotation, each_setup),
		cmocka_unit_test_setup(test_copytruncate, each_setup),
		cmocka_unit_test_setup(test_missing_then_created, each_setup),
		cmocka_unit_test_setup(test_glob, each_setup),
		cmocka_unit_test_setup(test_existing, each_setup),
		cmocka_unit_test_setup(test_glob_rotation, each_setup),
		cmocka_unit_test_setup(test_glob_hardlink, each_setup),
		cmocka_unit_test_setup(test_tail, each_setup),
		cmocka_unit_test_setup(test_resume, each_setup),
		cmocka_unit_test_setup(test_long_line, each_setup),
		cmocka_unit_test_setup(test_inotify_loop, each_setup),
		cmocka_unit_test_setup(test_polling, each_setup),
		cmocka_unit_test_setup(test_bounded, each_setup),
		cmocka_unit_test_setup(test_journal_match, each_setup),
		cmocka_unit_test_setup(test_journal_format, each_setup),
		cmocka_unit_test_setup(test_bench, each_setup),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
