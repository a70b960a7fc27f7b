/*
 * fw_proto_test — the warden -> firewall codec: a ban and a restore
 * batch round-trip field for field; truncated, padded, oversized and
 * out-of-range messages are rejected whole; an action log line's
 * fields cannot be split by what they carry.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "warden/firewall/fw_proto.h"

static int pair[2];

static int setup(void **state)
{
	return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, pair);
}

static int teardown(void **state)
{
	close(pair[0]);
	close(pair[1]);
	return 0;
}

static void test_ban_roundtrip(void **state)
{
	struct action_ban b = { .timeout = 600, .bantime = -1, .failures = 5, .user = "bob",
	    .matches = "line; rm -rf /", .addr = "2001:db8:1:2::9" };
	char err[128];
	assert_int_equal(net_parse_net("2001:db8:1:2::/64", &b.net, err, sizeof(err)), 0);
	assert_int_equal(fw_send_ban(pair[0], MSG_FW_BAN, "sshd", &b), 0);
	struct msg m;
	struct fw_req r;
	assert_int_equal(msg_recv(pair[1], &m), 1);
	assert_int_equal(fw_req_decode(&m, &r, err, sizeof(err)), 0);
	assert_int_equal(r.type, MSG_FW_BAN);
	assert_string_equal(r.jail, "sshd");
	assert_int_equal(r.n, 1);
	assert_int_equal(r.b->net.family, AF_INET6);
	assert_int_equal(r.b->net.plen, 64);
	assert_memory_equal(r.b->net.a, b.net.a, 16);
	assert_int_equal(r.b->timeout, 600);
	assert_int_equal(r.b->bantime, -1);
	assert_int_equal(r.b->failures, 5);
	assert_string_equal(r.b->user, "bob");
	assert_string_equal(r.b->matches, "line; rm -rf /");
	assert_string_equal(r.b->addr, "2001:db8:1:2::9");
	fw_req_free(&r);
	msg_free(&m);
}

static void test_restore_batches(void **state)
{
	struct action_ban b[3];
	char err[128];
	memset(b, 0, sizeof(b));
	for (int i = 0; i < 3; i++) {
		char a[32];
		snprintf(a, sizeof(a), "192.0.2.%d", i + 1);
		assert_int_equal(net_parse_net(a, &b[i].net, err, sizeof(err)), 0);
		b[i].timeout = 10 * i;
		b[i].bantime = 100;
	}
	assert_int_equal(fw_send_restore(pair[0], "j", b, 3), 0);
	struct msg m;
	struct fw_req r;
	assert_int_equal(msg_recv(pair[1], &m), 1);
	assert_int_equal(fw_req_decode(&m, &r, err, sizeof(err)), 0);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.b[2].net.a[3], 3);
	assert_int_equal(r.b[2].timeout, 20);
	fw_req_free(&r);
	msg_free(&m);
}

/* Decode raw bytes as a received message. */
static int decode_raw(const void *data, size_t len, char *err, size_t errlen)
{
	struct msg m;
	struct fw_req r;
	assert_int_equal(send(pair[0], data, len, 0), (ssize_t)len);
	assert_int_equal(msg_recv(pair[1], &m), 1);
	int rc = fw_req_decode(&m, &r, err, errlen);
	fw_req_free(&r);
	msg_free(&m);
	return rc;
}

static void test_malformed_rejected(void **state)
{
	struct action_ban b = { .timeout = 1, .bantime = 1 };
	char err[128];
	assert_int_equal(net_parse_net("192.0.2.1", &b.net, err, sizeof(err)), 0);
	struct msg m;
	assert_int_equal(fw_send_ban(pair[0], MSG_FW_BAN, "j", &b), 0);
	char full[512];
	ssize_t n = recv(pair[1], full, sizeof(full), 0);
	assert_true(n > 20);
	/* every truncation fails, and so does one byte more */
	for (ssize_t k = 4; k < n; k++)
		assert_int_equal(decode_raw(full, (size_t)k, err, sizeof(err)), -1);
	full[n] = 'x';
	assert_int_equal(decode_raw(full, (size_t)n + 1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "malformed ban request"));
	assert_int_equal(decode_raw(full, (size_t)n, err, sizeof(err)), 0);
	/* unknown type, and a prefix length past 128 */
	static const unsigned char unknown[] = { 0, 99, 0, 0 };
	assert_int_equal(decode_raw(unknown, sizeof(unknown), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown request type 99"));
	msg_init(&m, MSG_FW_UNBAN);
	msg_put_str(&m, "j");
	msg_put_u32(&m, 4);
	for (int i = 0; i < 4; i++)
		msg_put_u32(&m, 0);
	msg_put_u32(&m, 129);
	assert_int_equal(decode_raw(m.b.data, m.b.len, err, sizeof(err)), -1);
	msg_free(&m);
	/* a jail name past its bound */
	char longname[FW_JAIL_MAX + 2];
	memset(longname, 'j', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	msg_init(&m, MSG_FW_START);
	msg_put_str(&m, longname);
	assert_int_equal(decode_raw(m.b.data, m.b.len, err, sizeof(err)), -1);
	msg_free(&m);
	/* a restore of more than FW_BATCH_MAX */
	msg_init(&m, MSG_FW_RESTORE);
	msg_put_str(&m, "j");
	msg_put_u32(&m, FW_BATCH_MAX + 1);
	assert_int_equal(decode_raw(m.b.data, m.b.len, err, sizeof(err)), -1);
	msg_free(&m);
}

/* The fields of an action's log line are split on US: a US (or another
 * control character) in the summary, from a command's stderr, is
 * escaped, never a field boundary. */
static void test_actlog_fields_sanitised(void **state)
{
	assert_int_equal(fw_send_actlog(pair[0], "sshd", "act\x1fx", "ERROR", "fail2ban.utils",
	    "actionban: cmd -- returned 1: bad\x1f\x01 stderr", "1 -- returned 1"), 0);
	struct msg m;
	assert_int_equal(msg_recv(pair[1], &m), 1);
	assert_int_equal(msg_get_u32(&m), FW_REQ_ACTLOG);
	assert_int_equal(msg_get_u32(&m), FW_FAILED);
	assert_string_equal(msg_get_str(&m), "sshd");
	assert_string_equal(msg_get_str(&m), "act\\x1fx\x1f" "ERROR\x1f" "fail2ban.utils\x1f"
	    "actionban: cmd -- returned 1: bad\\x1f\\x01 stderr\x1f" "1 -- returned 1");
	assert_int_equal(msg_end(&m), 0);
	msg_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ban_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_batches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_actlog_fields_sanitised, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
