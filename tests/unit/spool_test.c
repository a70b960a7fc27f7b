/*
 * spool_test — queue files: write, read back, mark done, and reject
 * files whose end record is missing or wrong (never acknowledged).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mail/spool.h"

static int tmpdir(char *path, size_t len)
{
	snprintf(path, len, "/tmp/spool_test.XXXXXX");
	if (mkdtemp(path) == NULL)
		return -1;
	return open(path, O_RDONLY | O_DIRECTORY);
}

static void write_msg(int dfd, char *id, const char *body)
{
	struct spool_rcpt rc[2] = { { .addr = "a@example.com" }, { .addr = "b@example.net" } };
	struct spool_env env = {
		.arrival_sec = 1700000000, .arrival_usec = 42,
		.client_name = "localhost", .client_addr = "127.0.0.1",
		.helo = "client.example", .proto = "ESMTP", .sender = "s@example.org",
		.rcpt = rc, .nrcpt = 2,
	};
	struct spool_writer w;
	assert_int_equal(spool_create(&w, dfd, &env), 0);
	assert_int_equal(spool_write(&w, body, strlen(body)), 0);
	assert_int_equal(spool_finish(&w), 0);
	assert_int_equal(spool_sync(dfd), 0);
	snprintf(id, SPOOL_ID_MAX, "%s", w.id);
}

/* A link or a FIFO planted where a queue file should be is refused, and
 * the FIFO does not block the reader (queue show runs as root). */
static void test_not_a_regular_file(void **state)
{
	char dir[64], id[SPOOL_ID_MAX], err[128];
	struct spool_env env;
	int dfd = tmpdir(dir, sizeof(dir));
	assert_true(dfd >= 0);
	write_msg(dfd, id, "Subject: x\n\nbody\n");
	assert_int_equal(symlinkat(id, dfd, "ABCDEF000001"), 0);
	assert_int_equal(spool_read(dfd, "ABCDEF000001", &env, err, sizeof(err)), -1);
	spool_env_free(&env);
	assert_int_equal(mkfifoat(dfd, "ABCDEF000002", 0600), 0);
	assert_int_equal(spool_read(dfd, "ABCDEF000002", &env, err, sizeof(err)), -1);
	assert_string_equal(err, "not a regular file");
	spool_env_free(&env);
	unlinkat(dfd, "ABCDEF000001", 0);
	unlinkat(dfd, "ABCDEF000002", 0);
	unlinkat(dfd, id, 0);
	close(dfd);
	rmdir(dir);
}

static void test_roundtrip(void **state)
{
	char dir[64], id[SPOOL_ID_MAX], err[128];
	int dfd = tmpdir(dir, sizeof(dir));
	assert_true(dfd >= 0);
	const char *body = "Subject: hi\n\nline one\nE 5\nlast";
	write_msg(dfd, id, body);
	assert_int_equal(strlen(id), 12);

	struct spool_env env;
	assert_int_equal(spool_read(dfd, id, &env, err, sizeof(err)), 0);
	assert_string_equal(env.sender, "s@example.org");
	assert_string_equal(env.client_name, "localhost");
	assert_string_equal(env.client_addr, "127.0.0.1");
	assert_string_equal(env.helo, "client.example");
	assert_int_equal(env.arrival_sec, 1700000000);
	assert_int_equal(env.nrcpt, 2);
	assert_string_equal(env.rcpt[1].addr, "b@example.net");
	assert_int_equal(env.rcpt[0].status, SPOOL_ST_PENDING);
	assert_int_equal(env.body_len, strlen(body));
	char got[128] = { 0 };
	assert_int_equal(pread(env.fd, got, env.body_len, env.body_off), (ssize_t)strlen(body));
	assert_string_equal(got, body);
	assert_int_equal(spool_mark_done(&env, 1), 0);
	spool_env_free(&env);

	assert_int_equal(spool_read(dfd, id, &env, err, sizeof(err)), 0);
	assert_int_equal(env.rcpt[0].status, SPOOL_ST_PENDING);
	assert_int_equal(env.rcpt[1].status, SPOOL_ST_DONE);
	spool_env_free(&env);
	unlinkat(dfd, id, 0);
	close(dfd);
	rmdir(dir);
}

/* The F (content filter) and O (receive options) records read back. */
static void test_filter_and_options(void **state)
{
	char dir[64], err[128];
	int dfd = tmpdir(dir, sizeof(dir));
	assert_true(dfd >= 0);
	struct spool_rcpt rc[1] = { { .addr = "a@example.com" } };
	struct spool_env env = {
		.client_name = "localhost", .client_addr = "127.0.0.1", .helo = "h",
		.proto = "ESMTP", .sender = "s@example.org", .rcpt = rc, .nrcpt = 1,
		.filter = "smtp:[127.0.0.1]:10024", .no_address_mappings = 1,
	};
	struct spool_writer w;
	assert_int_equal(spool_create(&w, dfd, &env), 0);
	assert_int_equal(spool_write(&w, "x\n", 2), 0);
	assert_int_equal(spool_finish(&w), 0);
	struct spool_env got;
	assert_int_equal(spool_read(dfd, w.id, &got, err, sizeof(err)), 0);
	assert_string_equal(got.filter, "smtp:[127.0.0.1]:10024");
	assert_int_equal(got.no_address_mappings, 1);
	spool_env_free(&got);
	unlinkat(dfd, w.id, 0);
	/* without them: neither */
	env.filter = NULL;
	env.no_address_mappings = 0;
	assert_int_equal(spool_create(&w, dfd, &env), 0);
	assert_int_equal(spool_finish(&w), 0);
	assert_int_equal(spool_read(dfd, w.id, &got, err, sizeof(err)), 0);
	assert_null(got.filter);
	assert_int_equal(got.no_address_mappings, 0);
	spool_env_free(&got);
	unlinkat(dfd, w.id, 0);
	close(dfd);
	rmdir(dir);
}

static void test_truncated_is_refused(void **state)
{
	char dir[64], id[SPOOL_ID_MAX], err[128], path[128];
	int dfd = tmpdir(dir, sizeof(dir));
	write_msg(dfd, id, "Subject: x\n\nbody\n");
	snprintf(path, sizeof(path), "%s/%s", dir, id);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	/* Every strict prefix of the file must be refused. */
	for (off_t cut = st.st_size - 1; cut >= 0; cut -= 3) {
		assert_int_equal(truncate(path, cut), 0);
		struct spool_env env;
		assert_int_equal(spool_read(dfd, id, &env, err, sizeof(err)), -1);
	}
	unlinkat(dfd, id, 0);
	close(dfd);
	rmdir(dir);
}

/* Found by tests/fuzz/spool_fuzz (corpus spool/leak-repeated-client): a
 * second C record leaked the first one's strings (the build-san unit run
 * reports the leak); the last record wins, as for H, P, A and S. */
static void test_repeated_client_record(void **state)
{
	static const char text[] = "MW1\nT 1.0\nC first.example 192.0.2.1\nH h\nP SMTP\n"
	    "C second.example 192.0.2.2\nS \nR- a@b\nB\nx\nE 1\n";
	char dir[64], err[128];
	int dfd = tmpdir(dir, sizeof(dir));
	assert_true(dfd >= 0);
	int fd = openat(dfd, "A1", O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
	close(fd);
	struct spool_env env;
	assert_int_equal(spool_read(dfd, "A1", &env, err, sizeof(err)), 0);
	assert_string_equal(env.client_name, "second.example");
	assert_string_equal(env.client_addr, "192.0.2.2");
	spool_env_free(&env);
	unlinkat(dfd, "A1", 0);
	close(dfd);
	rmdir(dir);
}

static void test_record_injection(void **state)
{
	char dir[64], err[128];
	int dfd = tmpdir(dir, sizeof(dir));
	struct spool_rcpt rc[1] = { { .addr = "a@example.com\nR- evil@example.org" } };
	struct spool_env env = { .client_addr = "::1", .helo = "x\nS evil", .proto = "SMTP",
		.sender = "", .rcpt = rc, .nrcpt = 1 };
	struct spool_writer w;
	assert_int_equal(spool_create(&w, dfd, &env), 0);
	assert_int_equal(spool_finish(&w), 0);
	struct spool_env back;
	assert_int_equal(spool_read(dfd, w.id, &back, err, sizeof(err)), 0);
	assert_int_equal(back.nrcpt, 1);
	assert_string_equal(back.sender, "");
	assert_int_equal(back.body_len, 0);
	spool_env_free(&back);
	unlinkat(dfd, w.id, 0);
	close(dfd);
	rmdir(dir);
}

/* A hand-made queue file: envelope, body, then end record text as given. */
static void write_raw(int dfd, const char *id, const char *body, const char *end)
{
	char buf[512];
	int n = snprintf(buf, sizeof(buf), "MW1\nT 1700000000.0\nS s@example.org\nR- a@example.com\n"
	    "B\n%s%s", body, end);
	assert_true(n > 0 && (size_t)n < sizeof(buf));
	int fd = openat(dfd, id, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, (size_t)n), n);
	close(fd);
}

/* The end record's length is compared with the body there is: 0,
 * exactly the body, one more, SIZE_MAX (which wrapped into a match),
 * off_t's maximum, negative and malformed values. A refused complete
 * file is corrupt, not "incomplete" (the queue manager then moves it to
 * corrupt/ instead of retrying or removing it). */
static void test_end_record_lengths(void **state)
{
	char dir[64], err[128];
	int dfd = tmpdir(dir, sizeof(dir));
	const struct { const char *body, *end; int ok; } cases[] = {
		{ "hello", "\nE 5\n", 1 },
		{ "", "\nE 0\n", 1 },
		{ "hello", "\nE 0\n", 0 },
		{ "hello", "\nE 4\n", 0 },
		{ "hello", "\nE 6\n", 0 },			/* remaining + 1 */
		{ "", "E 18446744073709551615\n", 0 },	/* SIZE_MAX: wrapped to a match */
		{ "hello", "\nE 18446744073709551615\n", 0 },
		{ "hello", "\nE 18446744073709551616\n", 0 },	/* past SIZE_MAX */
		{ "hello", "\nE 9223372036854775807\n", 0 },	/* off_t max */
		{ "hello", "\nE 9223372036854775808\n", 0 },	/* (off_t) negative */
		{ "", "E -1\n", 0 },				/* negative */
		{ "hello", "\nE -1\n", 0 },
		{ "hello", "\nE +5\n", 0 },
		{ "hello", "\nE  5\n", 0 },
		{ "hello", "\nE 5x\n", 0 },
		{ "hello", "\nE \n", 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct spool_env env;
		write_raw(dfd, "AAAA00000001", cases[i].body, cases[i].end);
		int rc = spool_read(dfd, "AAAA00000001", &env, err, sizeof(err));
		if (cases[i].ok) {
			assert_int_equal(rc, 0);
			assert_int_equal(env.body_len, strlen(cases[i].body));
			spool_env_free(&env);
		} else {
			assert_int_equal(rc, -1);
			assert_null(strstr(err, "incomplete"));
		}
	}
	unlinkat(dfd, "AAAA00000001", 0);
	close(dfd);
	rmdir(dir);
}

static void test_parse_len(void **state)
{
	size_t v;
	assert_int_equal(spool_parse_len("0", 1, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(spool_parse_len("18446744073709551615", 20, &v), 0);
	assert_true(v == SIZE_MAX);
	assert_int_equal(spool_parse_len("18446744073709551616", 20, &v), -1);
	assert_int_equal(spool_parse_len("99999999999999999999", 20, &v), -1);
	assert_int_equal(spool_parse_len("000000000000000000001", 21, &v), -1);
	assert_int_equal(spool_parse_len("", 0, &v), -1);
	assert_int_equal(spool_parse_len("-1", 2, &v), -1);
	assert_int_equal(spool_parse_len(" 1", 2, &v), -1);
	assert_int_equal(spool_parse_len("12", 1, &v), 0);	/* only n bytes */
	assert_int_equal(v, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_not_a_regular_file),
		cmocka_unit_test(test_filter_and_options),
		cmocka_unit_test(test_truncated_is_refused),
		cmocka_unit_test(test_record_injection),
		cmocka_unit_test(test_repeated_client_record),
		cmocka_unit_test(test_end_record_lengths),
		cmocka_unit_test(test_parse_len),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
