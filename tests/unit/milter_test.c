/*
 * milter_test — the milter client's pieces without a milter: the packet
 * codec (lengths, bounded getters), milter lists in Postfix's syntax
 * (groups, settings, unix: paths from the chroot, errors), where a
 * message's headers end, and the header/body edits applied to a message.
 * Run with tests/unit as the working directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "common/util.h"
#include "milter/milter.h"
#include "milter/milter_int.h"

static const struct milter_params params = {
	.protocol = 6, .default_action = MILTER_ACT_TEMPFAIL, .connect_ms = 30000,
	.command_ms = 30000, .content_ms = 300000, .conn_limit = 10,
	.queue_dir = "/var/spool/mw", .chrooted = 1,
};

static void test_codec(void **state)
{
	struct buf b;
	size_t start, used;
	struct milter_pkt pk;
	uint32_t v;
	const char *s;

	buf_init(&b, 1024);
	milter_pkt_begin(&b, SMFIC_HEADER, &start);
	milter_pkt_str(&b, "Subject");
	milter_pkt_str(&b, "hi");
	milter_pkt_u32(&b, 7);
	milter_pkt_end(&b, start);
	assert_int_equal(b.len, 4 + 1 + 8 + 3 + 4);
	assert_int_equal(ntohl(*(uint32_t *)b.data), 1 + 8 + 3 + 4);
	/* A short buffer needs more bytes; the whole packet parses. */
	assert_int_equal(milter_pkt_parse(b.data, b.len - 1, &pk, &used), 0);
	assert_int_equal(milter_pkt_parse(b.data, b.len, &pk, &used), 1);
	assert_int_equal(used, b.len);
	assert_int_equal(pk.cmd, 'L');
	assert_int_equal(milter_pkt_get_str(&pk, &s), 0);
	assert_string_equal(s, "Subject");
	assert_int_equal(milter_pkt_get_str(&pk, &s), 0);
	assert_string_equal(s, "hi");
	assert_int_equal(milter_pkt_get_u32(&pk, &v), 0);
	assert_int_equal(v, 7);
	/* Past the end: refused, never read. */
	assert_int_equal(milter_pkt_get_u32(&pk, &v), -1);
	assert_int_equal(milter_pkt_get_str(&pk, &s), -1);
	buf_free(&b);
	/* Lengths 0 and past MILTER_PKT_MAX are bad. */
	assert_int_equal(milter_pkt_parse("\0\0\0\0c", 5, &pk, &used), -1);
	assert_int_equal(milter_pkt_parse("\xff\xff\xff\xff" "c", 5, &pk, &used), -1);
	/* A string without its NUL is refused. */
	assert_int_equal(milter_pkt_parse("\0\0\0\3yab", 7, &pk, &used), 1);
	assert_int_equal(milter_pkt_get_str(&pk, &s), -1);
	assert_string_equal(milter_cmd_name(SMFIC_BODYEOB), "SMFIC_BODYEOB");
}

static struct milter_list *parse_ok(const char *v)
{
	char err[512];
	err[0] = '\0';
	struct milter_list *l = milter_list_parse(v, &params, err, sizeof(err));
	if (l == NULL)
		fail_msg("%s: %s", v, err);
	return l;
}

static void test_lists(void **state)
{
	struct milter_list *l = parse_ok("inet:127.0.0.1:8891, { inet:[::1]:12345, "
	    "default_action=accept, command_timeout=5s, content_timeout=1m, protocol=4 } "
	    "unix:opendkim/opendkim.sock");
	assert_int_equal(l->n, 3);
	assert_string_equal(l->v[0].name, "inet:127.0.0.1:8891");
	assert_int_equal(l->v[0].default_action, MILTER_ACT_TEMPFAIL);
	assert_int_equal(l->v[0].command_ms, 30000);
	assert_int_equal(l->v[1].sa.ss_family, AF_INET6);
	assert_int_equal(l->v[1].default_action, MILTER_ACT_ACCEPT);
	assert_int_equal(l->v[1].command_ms, 5000);
	assert_int_equal(l->v[1].content_ms, 60000);
	assert_int_equal(l->v[1].protocol, 4);
	/* Chrooted: a relative unix: path stays relative (the chroot is the
	 * queue directory). */
	struct sockaddr_un *un = (struct sockaddr_un *)&l->v[2].sa;
	assert_string_equal(un->sun_path, "opendkim/opendkim.sock");
	milter_list_free(l);

	/* An absolute path under queue_directory is made relative. */
	l = parse_ok("unix:/var/spool/mw/private/dkim");
	assert_string_equal(((struct sockaddr_un *)&l->v[0].sa)->sun_path, "private/dkim");
	milter_list_free(l);

	/* Not chrooted: relative to queue_directory, absolute as it is. */
	struct milter_params p = params;
	p.chrooted = 0;
	char err[512];
	l = milter_list_parse("unix:dkim.sock unix:/run/opendkim/opendkim.sock", &p, err, sizeof(err));
	assert_non_null(l);
	assert_string_equal(((struct sockaddr_un *)&l->v[0].sa)->sun_path, "/var/spool/mw/dkim.sock");
	assert_string_equal(((struct sockaddr_un *)&l->v[1].sa)->sun_path, "/run/opendkim/opendkim.sock");
	milter_list_free(l);

	/* Empty: no list and no error. */
	err[0] = 'x';
	assert_null(milter_list_parse("  ", &params, err, sizeof(err)));
	assert_string_equal(err, "");
}

static void test_list_errors(void **state)
{
	static const struct { const char *v, *want; } bad[] = {
		{ "unix:/run/opendkim/opendkim.sock", "cannot reach /run/opendkim/opendkim.sock" },
		{ "tcp:1.2.3.4:5", "expected inet:host:port or unix:path" },
		{ "inet:127.0.0.1", "expected inet:host:port" },
		{ "{ inet:127.0.0.1:1, default_action=maybe }", "bad default_action" },
		{ "{ inet:127.0.0.1:1, colour=blue }", "unknown milter setting \"colour\"" },
		{ "{ inet:127.0.0.1:1, protocol=9 }", "bad milter protocol" },
		{ "{ inet:127.0.0.1:1, command_timeout=soon }", "bad time" },
		{ "{ inet:127.0.0.1:1", "without \"}\"" },
		{ "{", "without an endpoint" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[512];
		err[0] = '\0';
		assert_null(milter_list_parse(bad[i].v, &params, err, sizeof(err)));
		if (strstr(err, bad[i].want) == NULL)
			fail_msg("%s: got \"%s\", want \"%s\"", bad[i].v, err, bad[i].want);
	}
	assert_int_equal(milter_action_parse("quarantine"), MILTER_ACT_QUARANTINE);
	assert_int_equal(milter_action_parse("bounce"), -1);
}

static void test_split(void **state)
{
	size_t h, b;
	const char *m = "A: 1\n\tfolded\nB: 2\n\nbody\n";
	milter_split(m, strlen(m), &h, &b);
	assert_int_equal(h, 18);
	assert_int_equal(b, 19);
	/* The body began without an empty line. */
	m = "A: 1\nno header here\n";
	milter_split(m, strlen(m), &h, &b);
	assert_int_equal(h, 5);
	assert_int_equal(b, 5);
	/* All headers. */
	m = "A: 1\n";
	milter_split(m, strlen(m), &h, &b);
	assert_int_equal(h, 5);
	assert_int_equal(b, 5);
}

static void assert_buf(const struct buf *b, const char *want)
{
	assert_int_equal(b->len, strlen(want));
	assert_memory_equal(b->data, want, b->len);
}

/* The headers as sent to a milter, folded ones whole; a folded header on
 * the last line without its newline ends at the end (no NULL deref). */
static void test_header_next(void **state)
{
	struct buf name, val;
	size_t off = 0;
	buf_init(&name, 1000);
	buf_init(&val, 1000);
	const char *m = "A: 1\n\tfolded\nB:  2\n";
	assert_int_equal(milter_header_next(m, &off, strlen(m), 0, &name, &val), 0);
	assert_buf(&name, "A");
	assert_buf(&val, "1\n\tfolded");
	assert_int_equal(milter_header_next(m, &off, strlen(m), 1, &name, &val), 0);
	assert_buf(&name, "B");
	assert_buf(&val, "  2");	/* SMFIP_HDR_LEADSPC */
	assert_int_equal(milter_header_next(m, &off, strlen(m), 0, &name, &val), -1);

	m = "A: 1\nSubject: a\n b";	/* folded, last, no newline */
	off = 0;
	assert_int_equal(milter_header_next(m, &off, strlen(m), 0, &name, &val), 0);
	assert_int_equal(milter_header_next(m, &off, strlen(m), 0, &name, &val), 0);
	assert_buf(&name, "Subject");
	assert_buf(&val, "a\n b");
	assert_int_equal(off, strlen(m));
	assert_int_equal(milter_header_next(m, &off, strlen(m), 0, &name, &val), -1);

	m = "Subject: a\n\t";	/* folded onto an empty last line */
	off = 0;
	assert_int_equal(milter_header_next(m, &off, strlen(m), 0, &name, &val), 0);
	assert_buf(&val, "a\n\t");
	assert_int_equal(milter_header_next(m, &off, strlen(m), 0, &name, &val), -1);
	buf_free(&name);
	buf_free(&val);
}

/* milter_macro_defaults as postconf(5) writes it: name=value or
 * "{ name = value }" (white space and commas inside), braced macro names. */
static void test_macro_defaults(void **state)
{
	char **d, err[256];
	assert_int_equal(milter_macro_defaults_parse("", &d, err, sizeof(err)), 0);
	assert_null(d);
	assert_int_equal(milter_macro_defaults_parse(
	    "{auth_type}=none, { {auth_authen} = no one, really },\tj=mx b=", &d, err, sizeof(err)), 0);
	assert_non_null(d);
	struct milter_params mp = params;
	mp.macro_defaults = d;
	assert_string_equal(milter_macro_default(&mp, "{auth_type}"), "none");
	assert_string_equal(milter_macro_default(&mp, "{auth_authen}"), "no one, really");
	assert_string_equal(milter_macro_default(&mp, "j"), "mx");
	assert_string_equal(milter_macro_default(&mp, "b"), "");
	assert_null(milter_macro_default(&mp, "auth_type"));	/* names as the lists spell them */
	assert_null(milter_macro_default(&params, "j"));
	milter_macro_defaults_free(d);
	static const char *const bad[] = { "novalue", "{a=b", "a=b}", "=x", "{ = x }" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(milter_macro_defaults_parse(bad[i], &d, err, sizeof(err)), -1);
		assert_null(d);
		assert_true(err[0] != '\0');
	}
}

static void edit(struct milter_result *r, enum milter_edit_type t, uint32_t idx,
    const char *name, const char *value)
{
	if (r->nedits == r->edits_cap) {
		r->edits_cap = r->edits_cap ? r->edits_cap * 2 : 8;
		r->edits = xrealloc(r->edits, r->edits_cap * sizeof(*r->edits));
	}
	r->edits[r->nedits++] = (struct milter_edit){ t, idx, xstrdup(name),
	    value ? xstrdup(value) : NULL, 0 };
}

static void test_edits(void **state)
{
	const char *m = "Received: x\n\tby y\nSubject: old\nX-A: 1\nX-A: 2\n\nbody\n";
	struct milter_result r = { 0 };
	struct buf out;

	buf_init(&r.body, 1 << 20);
	buf_init(&out, 1 << 20);
	edit(&r, MILTER_E_ADDHDR, 0, "X-End", "last\r\n\tfolded");
	edit(&r, MILTER_E_INSHDR, 0, "X-Top", "first");
	edit(&r, MILTER_E_CHGHDR, 1, "subject", "new");
	edit(&r, MILTER_E_CHGHDR, 2, "X-A", NULL);		/* delete the second */
	edit(&r, MILTER_E_CHGHDR, 5, "X-New", "added");	/* past the last: added */
	edit(&r, MILTER_E_CHGHDR, 1, "X-Missing", NULL);	/* nothing to delete */
	edit(&r, MILTER_E_ADDRCPT, 0, "<x@y>", NULL);	/* envelope: not here */
	assert_int_equal(milter_edit_message(&r, m, strlen(m), &out), 0);
	assert_string_equal(out.data, "X-Top: first\nReceived: x\n\tby y\nsubject: new\n"
	    "X-A: 1\nX-End: last\n\tfolded\nX-New: added\n\nbody\n");
	buf_reset(&out);
	r.body_replaced = 1;
	buf_puts(&r.body, "new body\n");
	assert_int_equal(milter_edit_message(&r, m, strlen(m), &out), 0);
	assert_non_null(strstr(out.data, "\n\nnew body\n"));
	assert_null(strstr(out.data, "\nbody\n"));
	milter_result_clear(&r);
	assert_int_equal(r.nedits, 0);
	assert_int_equal(r.body_replaced, 0);
	buf_free(&r.body);
	buf_free(&out);
}

/* Sender and recipient changes on a caller's envelope. */
static void test_envelope_edits(void **state)
{
	struct milter_result r = { 0 };
	char *sender = xstrdup("old@example.org");
	size_t n = 2, cap = 2;
	char **rcpt = xcalloc(cap, sizeof(*rcpt));
	rcpt[0] = xstrdup("a@example.com");
	rcpt[1] = xstrdup("b@example.com");

	buf_init(&r.body, 1 << 20);
	edit(&r, MILTER_E_ADDHDR, 0, "X-H", "v");		/* not the envelope */
	assert_int_equal(milter_edit_envelope(&r, &sender, &rcpt, &n, &cap), 0);
	edit(&r, MILTER_E_CHGFROM, 0, "<new@example.org>", NULL);
	edit(&r, MILTER_E_DELRCPT, 0, "<A@Example.com>", NULL);
	edit(&r, MILTER_E_ADDRCPT, 0, "<c@example.com>", NULL);
	edit(&r, MILTER_E_ADDRCPT, 0, "d@example.com", NULL);
	edit(&r, MILTER_E_DELRCPT, 0, "<nobody@example.com>", NULL);
	assert_int_equal(milter_edit_envelope(&r, &sender, &rcpt, &n, &cap), 1);
	assert_string_equal(sender, "new@example.org");
	assert_int_equal(n, 3);
	assert_true(cap >= 3);
	assert_string_equal(rcpt[0], "b@example.com");
	assert_string_equal(rcpt[1], "c@example.com");
	assert_string_equal(rcpt[2], "d@example.com");
	for (size_t i = 0; i < n; i++)
		free(rcpt[i]);
	free(rcpt);
	free(sender);
	milter_result_clear(&r);
	buf_free(&r.body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codec),
		cmocka_unit_test(test_lists),
		cmocka_unit_test(test_list_errors),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_header_next),
		cmocka_unit_test(test_macro_defaults),
		cmocka_unit_test(test_edits),
		cmocka_unit_test(test_envelope_edits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
