/*
 * headers_test — Message-ID/Date detection and creation, header
 * iteration with folding, and To/Cc/Bcc address lists (sendmail -t).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/addrlist.h"
#include "mail/headers.h"

static void test_missing(void **state)
{
	int m, d;
	const char *both = "From: a@b\nMessage-Id: <x@y>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n\nbody\n";
	assert_int_equal(headers_missing(both, strlen(both), &m, &d), 0);
	assert_true(m && d);
	const char *none = "From: a@b\r\nSubject: hi\r\n\r\nMessage-ID: <in@body>\r\nDate: x\r\n";
	assert_int_equal(headers_missing(none, strlen(none), &m, &d), 2);
	assert_false(m || d);
	/* folded, odd case, space before the colon */
	const char *f = "Subject: a\n b\nmessage-id : <x>\nX-Date: no\n\n";
	assert_int_equal(headers_missing(f, strlen(f), &m, &d), 1);
	assert_true(m);
	assert_false(d);
	/* a body without any header line */
	const char *nb = "just text\nDate: x\n";
	assert_int_equal(headers_missing(nb, strlen(nb), NULL, NULL), 2);
	assert_int_equal(headers_missing("", 0, &m, &d), 2);
}

static void test_note(void **state)
{
	struct headers_seen s = { 0 };
	headers_note(&s, "From: x", 7);
	headers_note(&s, "DATE: y\r", 8);
	headers_note(&s, " Message-ID: <folded>", 21);
	headers_note(&s, "", 0);
	headers_note(&s, "Message-ID: <body>", 18);
	assert_true(s.from && s.date && s.done);
	assert_false(s.msgid);
}

static void test_make(void **state)
{
	char buf[128];
	assert_int_equal(headers_make_msgid(buf, sizeof(buf), "ABCDEF012345", "mx.example", 1700000000), 0);
	assert_string_equal(buf, "<20231114221320.ABCDEF012345@mx.example>");
	assert_int_equal(headers_make_msgid(buf, 10, "ABCDEF012345", "mx.example", 1700000000), -1);
	setenv("TZ", "UTC", 1);
	tzset();
	assert_int_equal(headers_make_date(buf, sizeof(buf), 1700000000), 0);
	assert_string_equal(buf, "Tue, 14 Nov 2023 22:13:20 +0000 (UTC)");
	setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3", 1);
	tzset();
	assert_int_equal(headers_make_date(buf, sizeof(buf), 1700000000), 0);
	assert_string_equal(buf, "Tue, 14 Nov 2023 23:13:20 +0100 (CET)");
	setenv("TZ", "<-0330>3:30", 1);
	tzset();
	assert_int_equal(headers_make_date(buf, sizeof(buf), 1700000000), 0);
	assert_string_equal(buf, "Tue, 14 Nov 2023 18:43:20 -0330 (-0330)");
	assert_int_equal(headers_make_date(buf, 8, 1700000000), -1);
}

static void test_next(void **state)
{
	const char *m = "To: a@b,\r\n c@d\r\nSubject: s\r\n\r\nbody\r\n";
	size_t off = 0;
	struct header h;
	assert_int_equal(headers_next(m, strlen(m), &off, &h), 1);
	assert_true(headers_is(&h, "to"));
	assert_int_equal(h.valuelen, strlen(" a@b,\r\n c@d"));
	assert_int_equal(h.off, 0);
	assert_int_equal(h.len, strlen("To: a@b,\r\n c@d\r\n"));
	assert_int_equal(headers_next(m, strlen(m), &off, &h), 1);
	assert_true(headers_is(&h, "Subject"));
	assert_false(headers_is(&h, "Subj"));
	assert_int_equal(headers_next(m, strlen(m), &off, &h), 0);
	assert_memory_equal(m + off, "\r\nbody", 6);
}

struct coll {
	char out[512];
};

static void collect(const char *addr, void *arg)
{
	struct coll *c = arg;
	size_t n = strlen(c->out);
	snprintf(c->out + n, sizeof(c->out) - n, "[%s]", addr);
}

static void test_addr_list(void **state)
{
	struct coll c = { "" };
	const char *v = " Alice <alice@example.com>, bob@example.net (Bob, Jr.),\n"
	    " \"Doe, John\" <john@x.org>, team: x@y.z, w@y.z;, plain";
	assert_int_equal(addrlist_each(v, strlen(v), collect, &c), 6);
	assert_string_equal(c.out, "[alice@example.com][bob@example.net][john@x.org][x@y.z][w@y.z][plain]");
	c.out[0] = '\0';
	assert_int_equal(addrlist_each(" ,, ;", 5, collect, &c), 0);
	assert_int_equal(addrlist_each("undisclosed-recipients:;", 24, collect, &c), 0);
	assert_string_equal(c.out, "");
	/* quoted-pairs and nested comments: a display name hides nothing */
	const char *w = "\"Smith <sales>\" <j@ours.example>, \"a\\\" <b@evil>\" <c@d.example>,"
	    " e@f.example (x \\) (y) <g@h>), \"q, r\"@s.example";
	assert_int_equal(addrlist_each(w, strlen(w), collect, &c), 4);
	assert_string_equal(c.out, "[j@ours.example][c@d.example][e@f.example][\"q, r\"@s.example]");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_note),
		cmocka_unit_test(test_make),
		cmocka_unit_test(test_next),
		cmocka_unit_test(test_addr_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
