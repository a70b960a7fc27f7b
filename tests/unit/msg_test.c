/* msg_test — typed messages round-trip over a seqpacket socketpair;
 * short, long and malformed messages are refused by msg_end(); a
 * descriptor travels with msg_send_fd/msg_recv_fd, extra ones are closed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdint.h>
#include <string.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/msg.h"

static void test_roundtrip(void **state)
{
	int sv[2];
	struct msg m, r;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	msg_init(&m, MSG_QUEUED);
	msg_put_str(&m, "ABCDEF012345");
	msg_put_u32(&m, 4242);
	assert_int_equal(msg_send(sv[0], &m), 0);
	assert_int_equal(msg_recv(sv[1], &r), 1);
	assert_int_equal(r.type, MSG_QUEUED);
	assert_string_equal(msg_get_str(&r), "ABCDEF012345");
	assert_int_equal(msg_get_u32(&r), 4242);
	assert_int_equal(msg_end(&r), 0);
	msg_free(&r);

	/* Reading fewer fields than sent: leftover bytes fail msg_end. */
	assert_int_equal(msg_send(sv[0], &m), 0);
	assert_int_equal(msg_recv(sv[1], &r), 1);
	msg_get_str(&r);
	assert_int_equal(msg_end(&r), -1);
	msg_free(&r);

	/* Reading more fields than sent fails too. */
	assert_int_equal(msg_send(sv[0], &m), 0);
	assert_int_equal(msg_recv(sv[1], &r), 1);
	msg_get_str(&r);
	msg_get_u32(&r);
	msg_get_u32(&r);
	assert_int_equal(msg_end(&r), -1);
	msg_free(&r);
	msg_free(&m);
	close(sv[0]);
	close(sv[1]);
}

static void test_malformed(void **state)
{
	int sv[2];
	struct msg r;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	/* A string whose length runs past the end. */
	const char bad[] = { 0, 1, 0, 0, 0, 0, 0, 100, 'x' };
	assert_int_equal(send(sv[0], bad, sizeof(bad), 0), (ssize_t)sizeof(bad));
	assert_int_equal(msg_recv(sv[1], &r), 1);
	assert_string_equal(msg_get_str(&r), "");
	assert_int_equal(msg_end(&r), -1);
	msg_free(&r);
	/* A header too short to hold a type. */
	assert_int_equal(send(sv[0], "x", 1, 0), 1);
	assert_int_equal(msg_recv(sv[1], &r), 1);
	assert_int_equal(msg_end(&r), -1);
	msg_free(&r);
	close(sv[0]);
	assert_int_equal(msg_recv(sv[1], &r), 0);	/* peer closed */
	close(sv[1]);
}

/* A message whose string field claims len bytes, followed by have bytes
 * of 'x' and a NUL: only len == have may be read. */
static void str_field(struct msg *m, uint32_t len, size_t have)
{
	msg_init(m, MSG_QUEUED);
	msg_put_u32(m, len);
	for (size_t i = 0; i < have; i++)
		buf_append(&m->b, "x", 1);
	buf_append(&m->b, "", 1);
	m->rpos = 4;
}

static void test_string_lengths(void **state)
{
	struct msg m;
	const struct { uint32_t len; size_t have; int ok; } cases[] = {
		{ 0, 0, 1 },			/* empty string */
		{ 5, 5, 1 },			/* exactly what remains */
		{ 6, 5, 0 },			/* remaining + 1 */
		{ 4, 5, 0 },			/* NUL not where it says */
		{ UINT32_MAX, 5, 0 },		/* largest value */
		{ UINT32_MAX - 1, 0, 0 },
		{ (uint32_t)-1, 0, 0 },		/* "negative" */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		str_field(&m, cases[i].len, cases[i].have);
		const char *s = msg_get_str(&m);
		if (cases[i].ok) {
			assert_int_equal(strlen(s), cases[i].len);
			assert_int_equal(msg_end(&m), 0);
		} else {
			assert_string_equal(s, "");
			assert_int_equal(msg_end(&m), -1);
		}
		msg_free(&m);
	}
	/* a u32 with 0..3 bytes left, and a read position past the end */
	for (size_t have = 0; have < 4; have++) {
		msg_init(&m, MSG_QUEUED);
		buf_append(&m.b, "\1\2\3", have);
		m.rpos = 4;
		assert_int_equal(msg_get_u32(&m), 0);
		assert_int_equal(msg_end(&m), -1);
		msg_free(&m);
	}
	msg_init(&m, MSG_QUEUED);
	m.rpos = SIZE_MAX;
	assert_int_equal(msg_get_u32(&m), 0);
	assert_string_equal(msg_get_str(&m), "");
	assert_int_equal(msg_end(&m), -1);
	msg_free(&m);
}

static void test_fd_passing(void **state)
{
	int sv[2], fd, got;
	struct msg m, r;
	struct stat a, b;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	fd = open("/dev/null", O_RDONLY);
	assert_true(fd >= 0);
	msg_init(&m, MSG_LOCAL_ITEM);
	msg_put_u64(&m, UINT64_MAX - 1);
	msg_put_u64(&m, 5);
	assert_int_equal(msg_send_fd(sv[0], &m, fd), 0);
	msg_free(&m);
	assert_int_equal(msg_recv_fd(sv[1], &r, &got), 1);
	assert_int_equal(r.type, MSG_LOCAL_ITEM);
	assert_true(msg_get_u64(&r) == UINT64_MAX - 1);
	assert_true(msg_get_u64(&r) == 5);
	assert_int_equal(msg_end(&r), 0);
	msg_free(&r);
	assert_true(got >= 0 && got != fd);
	assert_int_equal(fstat(fd, &a), 0);
	assert_int_equal(fstat(got, &b), 0);
	assert_true(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	assert_true(fcntl(got, F_GETFD) & FD_CLOEXEC);
	close(got);
	/* No descriptor: -1. */
	msg_init(&m, MSG_LOCAL_COMMIT);
	assert_int_equal(msg_send(sv[0], &m), 0);
	msg_free(&m);
	assert_int_equal(msg_recv_fd(sv[1], &r, &got), 1);
	assert_int_equal(got, -1);
	assert_int_equal(msg_end(&r), 0);
	msg_free(&r);
	/* Two descriptors: the first kept, the second closed, message bad. */
	{
		int two[2] = { fd, fd };
		char cbuf[CMSG_SPACE(sizeof(two))];
		char hdr[4] = { 0, MSG_LOCAL_COMMIT, 0, 0 };
		struct iovec iov = { hdr, sizeof(hdr) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
		    .msg_controllen = sizeof(cbuf) };
		memset(cbuf, 0, sizeof(cbuf));
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(two));
		memcpy(CMSG_DATA(c), two, sizeof(two));
		assert_int_equal(sendmsg(sv[0], &mh, 0), 4);
	}
	assert_int_equal(msg_recv_fd(sv[1], &r, &got), 1);
	assert_true(got >= 0);
	assert_int_equal(msg_end(&r), -1);
	msg_free(&r);
	close(got);
	/* A u64 past the end is bad. */
	msg_init(&m, MSG_LOCAL_DONE);
	msg_put_u32(&m, 1);
	assert_int_equal(msg_send(sv[0], &m), 0);
	msg_free(&m);
	assert_int_equal(msg_recv_fd(sv[1], &r, &got), 1);
	assert_true(msg_get_u64(&r) == 0);
	assert_int_equal(msg_end(&r), -1);
	msg_free(&r);
	close(fd);
	close(sv[0]);
	assert_int_equal(msg_recv_fd(sv[1], &r, &got), 0);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_string_lengths),
		cmocka_unit_test(test_fd_passing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
