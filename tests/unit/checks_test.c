/*
 * checks_test — header/body checks over whole messages (src/mail/checks.c):
 * each action's effect on the output and the result, MIME classing
 * (primary, part and nested headers, body lines), folded headers, and
 * what is logged. Run with tests/unit as the working directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/map.h"
#include "mail/checks.h"

static struct checks_tables T;
static char logged[4096], warned[1024];

static void log_fn(void *arg, const char *action, const char *cls, const char *content,
    const char *text)
{
	size_t n = strlen(logged);
	snprintf(logged + n, sizeof(logged) - n, "%s: %s %s: %s|", action, cls, content, text);
}

static void warn_fn(void *arg, const char *text)
{
	size_t n = strlen(warned);
	snprintf(warned + n, sizeof(warned) - n, "%s|", text);
}

static int setup(void **state)
{
	char err[512];
	T.header = maplist_open("regexp:data/checks_header.regexp", 0, err, sizeof(err));
	T.mime = maplist_open("regexp:data/checks_mime.regexp", 0, err, sizeof(err));
	T.nested = maplist_open("regexp:data/checks_nested.regexp", 0, err, sizeof(err));
	T.body = maplist_open("regexp:data/checks_body.regexp", 0, err, sizeof(err));
	return T.header && T.mime && T.nested && T.body ? 0 : -1;
}

static int teardown(void **state)
{
	maplist_free(T.header);
	maplist_free(T.mime);
	maplist_free(T.nested);
	maplist_free(T.body);
	return 0;
}

/* Run the tables over msg; out gets the result text. */
static void run(const char *msg, struct checks_result *r, struct buf *out)
{
	logged[0] = warned[0] = '\0';
	memset(r, 0, sizeof(*r));
	buf_init(out, 1 << 20);
	assert_int_equal(checks_run(&T, msg, strlen(msg), out, r, log_fn, warn_fn, NULL), 0);
}

static void test_edits(void **state)
{
	struct checks_result r;
	struct buf out;
	run("Subject: tag me\nX-Drop: 1\nX-Old: v\n  folded\nX-Keep: k\n\nbody\nchange me\n",
	    &r, &out);
	assert_true(r.changed);
	assert_string_equal(out.data, "X-Tag: yes\nSubject: tag me\nX-New: v\n  folded\n"
	    "X-Keep: k\n\nbody\nchanged\n");
	assert_string_equal(logged, "prepend: header Subject: tag me: X-Tag: yes|"
	    "replace: header X-Old: v\n  folded: X-New: v\n  folded|"
	    "replace: body change me: changed|");
	checks_result_free(&r);
	buf_free(&out);
}

static void test_reject_and_stop(void **state)
{
	struct checks_result r;
	struct buf out;
	run("Subject: reject me\nX-Old: v\n\nchange me\n", &r, &out);
	assert_true(r.reject);
	assert_string_equal(r.reply, "5.7.1 message content rejected");
	assert_string_equal(logged, "reject: header Subject: reject me: 5.7.1 message content rejected|");
	checks_result_free(&r);
	buf_free(&out);
	run("Subject: defer me\n\nx\n", &r, &out);
	assert_string_equal(r.reply, "4.7.1 later");
	checks_result_free(&r);
	buf_free(&out);
	run("Subject: x\n\nline\nstop here\nchange me\n", &r, &out);
	assert_true(r.discard);
	assert_string_equal(logged, "discard: body stop here: |");
	checks_result_free(&r);
	buf_free(&out);
}

static void test_envelope_actions(void **state)
{
	struct checks_result r;
	struct buf out;
	run("Subject: hold me\nSubject: redirect\nSubject: bcc\nSubject: filter\n"
	    "Subject: bad\nSubject: unknown\n\n", &r, &out);
	assert_true(r.hold);
	assert_false(r.changed);
	assert_string_equal(r.redirect, "a@example.org");
	assert_int_equal(r.nbcc, 1);	/* the duplicate is ignored */
	assert_string_equal(r.bcc[0], "b@example.org");
	assert_string_equal(r.filter, "smtp:[127.0.0.1]:10025");
	assert_string_equal(warned, "bad REDIRECT target \"nobody\" in header map -- need user@domain|"
	    "unknown command in header map: FROBNICATE|");
	checks_result_free(&r);
	buf_free(&out);
}

static void test_mime_classes(void **state)
{
	struct checks_result r;
	struct buf out;
	const char *part = "Subject: inner\nMIME-Version: 1.0\n"
	    "Content-Type: multipart/mixed; boundary=\"b1\"\n\npre\n--b1\nX-Part: 1\n\nx\n--b1--\n";
	run(part, &r, &out);	/* X-Part in a part header: the mime table */
	assert_true(r.reject);
	assert_string_equal(r.reply, "5.7.1 part header");
	checks_result_free(&r);
	buf_free(&out);
	const char *nested = "Subject: outer\nContent-Type: multipart/mixed; boundary=b2\n\n"
	    "--b2\nContent-Type: message/rfc822\n\nSubject: inner\n\nbody\n--b2--\n";
	run(nested, &r, &out);
	assert_string_equal(r.reply, "5.7.1 nested");
	checks_result_free(&r);
	buf_free(&out);
	run("Subject: inner\n\nplain body\n", &r, &out);	/* a primary Subject is not nested */
	assert_false(r.reject);
	checks_result_free(&r);
	buf_free(&out);
	run("Subject: s\nContent-Type: text/plain; name=\"evil.exe\"\n\nb\n", &r, &out);
	assert_string_equal(r.reply, "5.7.1 mime");	/* MIME header in the primary section */
	checks_result_free(&r);
	buf_free(&out);
}

static void test_folded_header_is_one(void **state)
{
	struct checks_result r;
	struct buf out;
	run("X-Folded: a\n\tb\n\nbody\n", &r, &out);	/* m: $ before the newline */
	assert_string_equal(logged, "warning: header X-Folded: a\n\tb: folded|");
	assert_string_equal(out.data, "X-Folded: a\n\tb\n\nbody\n");
	checks_result_free(&r);
	buf_free(&out);
}

/* A body line longer than the header size limit is still looked at (its
 * start) and written whole, in a message without a header section too. */
static void test_long_body_line(void **state)
{
	size_t n = 200 * 1024;
	char *msg = malloc(n + 64);
	struct checks_result r;
	struct buf out;
	assert_non_null(msg);
	memcpy(msg, "\nlong line start ", 17);
	memset(msg + 17, 'x', n);
	memcpy(msg + 17 + n, "\n", 2);
	run(msg, &r, &out);
	assert_true(r.discard);
	assert_int_equal(out.len, strlen(msg));
	checks_result_free(&r);
	buf_free(&out);
	free(msg);
}

/* body_checks_size_limit: a segment's lines past the limit are not
 * looked at (but kept); each MIME part's body is a segment of its own. */
static void test_body_size_limit(void **state)
{
	struct checks_result r;
	struct buf out;
	const char *late = "Subject: s\n\n0123456789\n0123456789\nchange me\n";
	T.body_limit = 20;
	run(late, &r, &out);
	assert_false(r.changed);
	assert_string_equal(out.data, late);
	checks_result_free(&r);
	buf_free(&out);
	run("Subject: s\nContent-Type: multipart/mixed; boundary=b3\n\n"
	    "0123456789\n0123456789\nchange me\n--b3\n\nchange me\n--b3--\n", &r, &out);
	assert_true(r.changed);	/* the part's first line: a new segment */
	assert_string_equal(logged, "replace: body change me: changed|");
	checks_result_free(&r);
	buf_free(&out);
	T.body_limit = 0;
	run(late, &r, &out);	/* 0: no limit */
	assert_true(r.changed);
	checks_result_free(&r);
	buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edits),
		cmocka_unit_test(test_reject_and_stop),
		cmocka_unit_test(test_envelope_actions),
		cmocka_unit_test(test_mime_classes),
		cmocka_unit_test(test_folded_header_is_one),
		cmocka_unit_test(test_long_body_line),
		cmocka_unit_test(test_body_size_limit),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
