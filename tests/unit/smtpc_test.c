/*
 * smtpc_test — the pure parts of the SMTP/LMTP client: the DSN status of
 * a reply (enhanced code in the text, or derived from the reply code),
 * and LF -> CRLF with dot-stuffing across chunk boundaries.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "queue/smtpc.h"
#include "queue/smtpc_int.h"

static void test_reply_dsn(void **state)
{
	char d[16];

	smtpc_reply_dsn("250 2.0.0 Ok: queued as X", d, sizeof(d));
	assert_string_equal(d, "2.0.0");
	smtpc_reply_dsn("550 5.1.1 <a@b>: Recipient address rejected", d, sizeof(d));
	assert_string_equal(d, "5.1.1");
	smtpc_reply_dsn("450 4.7.25 Client host rejected", d, sizeof(d));
	assert_string_equal(d, "4.7.25");
	smtpc_reply_dsn("550 no enhanced code", d, sizeof(d));
	assert_string_equal(d, "5.0.0");
	smtpc_reply_dsn("421", d, sizeof(d));
	assert_string_equal(d, "4.0.0");
	/* a class that disagrees with the reply code is not trusted */
	smtpc_reply_dsn("550 2.0.0 odd", d, sizeof(d));
	assert_string_equal(d, "5.0.0");
	smtpc_reply_dsn("250 2.0.0x", d, sizeof(d));
	assert_string_equal(d, "2.0.0");
}

/* Found by tests/fuzz/smtpc_reply_fuzz (corpus smtpc_reply/crash-ehlo-bare-code):
 * a bare "250" line read the extension keyword past the reply's end. */
static void test_ehlo_bare_code(void **state)
{
	static const char *const texts[] = { "250", "250-mx.example.org\n250", "250 ", "122\n22:" };
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct smtpc c;
		memset(&c, 0, sizeof(c));
		char *t = strdup(texts[i]);	/* exact size: ASan sees an overread */
		smtpc_ehlo_features(&c, t);
		assert_int_equal(c.esmtp, 1);
		assert_int_equal(c.pipelining + c.starttls + c.auth_plain + c.size_ok, 0);
		free(t);
	}
	struct smtpc c;
	memset(&c, 0, sizeof(c));
	char *t = strdup("250-mx\n250-PIPELINING\n250-AUTH PLAIN LOGIN\n250 STARTTLS");
	smtpc_ehlo_features(&c, t);
	assert_int_equal(c.pipelining, 1);
	assert_int_equal(c.auth_plain, 1);
	assert_int_equal(c.auth_login, 1);
	assert_int_equal(c.starttls, 1);
	free(t);
}

static void test_stuff(void **state)
{
	char out[64];
	int bol = 1;
	size_t n;

	n = smtpc_stuff(".a\nb.\n..c\n", 10, out, &bol);
	out[n] = '\0';
	assert_string_equal(out, "..a\r\nb.\r\n...c\r\n");
	assert_true(bol);
	/* a line split over two chunks: the dot after the split is not at bol */
	bol = 1;
	n = smtpc_stuff("ab", 2, out, &bol);
	assert_false(bol);
	n += smtpc_stuff(".c\n.", 4, out + n, &bol);
	out[n] = '\0';
	assert_string_equal(out, "ab.c\r\n..");
	assert_false(bol);
}

/* Relayed bodies leave with CRLF only: a bare CR becomes CRLF, a CR already
 * before LF (a queue line that ended in CR) is not doubled, and a CR at the
 * end of a chunk waits for the next one. A dot after a bare CR is at the
 * beginning of a line for the receiver, so it is stuffed. */
static void test_stuff_bare_cr(void **state)
{
	char out[64];
	int bol = 1;
	size_t n;

	n = smtpc_stuff("a\rb\n", 4, out, &bol);
	out[n] = '\0';
	assert_string_equal(out, "a\r\nb\r\n");
	bol = 1;
	n = smtpc_stuff("x\r\ny\r.\n", 8, out, &bol);
	out[n] = '\0';
	assert_string_equal(out, "x\r\ny\r\n..\r\n");
	bol = 1;
	n = smtpc_stuff("a\r", 2, out, &bol);
	n += smtpc_stuff("\nb\r", 3, out + n, &bol);
	n += smtpc_stuff_end(out + n, &bol);
	out[n] = '\0';
	assert_string_equal(out, "a\r\nb\r\n");
	/* the end of the body always closes the last line */
	bol = 1;
	n = smtpc_stuff("tail", 4, out, &bol);
	n += smtpc_stuff_end(out + n, &bol);
	out[n] = '\0';
	assert_string_equal(out, "tail\r\n");
	n = smtpc_stuff_end(out, &bol);
	assert_int_equal(n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reply_dsn),
		cmocka_unit_test(test_stuff),
		cmocka_unit_test(test_stuff_bare_cr),
		cmocka_unit_test(test_ehlo_bare_code),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
