/* msg_test — typed messages round-trip over a seqpacket socketpair;
 * short, long and malformed messages are refused by msg_end(). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include <sys/socket.h>
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
