/*
 * spool_test — queue files: write, read back, mark done, and reject
 * files whose end record is missing or wrong (never acknowledged).
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

#include "queue/spool.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_truncated_is_refused),
		cmocka_unit_test(test_record_injection),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
