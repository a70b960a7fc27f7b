/*
 * resolve_test — recipient classification and expansion: aliases(5) with
 * self-reference, loops and nesting depth, recipient_delimiter, virtual
 * alias order and catch-all, virtual mailbox paths and owners, relay.
 * Fixtures: data/queue/resolve.conf and its maps. Run in tests/unit.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "mail/resolve.h"

static struct config *cfg;
static struct resolver *res;

static int setup(void **state)
{
	char err[512];
	cfg = config_load("data/queue/resolve.conf", err, sizeof(err));
	if (cfg == NULL) {
		fprintf(stderr, "config: %s\n", err);
		return -1;
	}
	res = resolve_open(cfg, err, sizeof(err));
	if (res == NULL) {
		fprintf(stderr, "resolve_open: %s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	resolve_free(res);
	config_free(cfg);
	return 0;
}

static int expand_flags;	/* resolve_expand_flags() flags for expand() */

/* Expansion as one line: "KIND addr [path uid:gid | (reason)]; ..." */
static const char *expand(const char *addr)
{
	static char out[4096];
	static const char *const kinds[] = { "MAILDIR", "MBOX", "RELAY", "BOUNCE", "DEFER" };
	struct dest *d;
	size_t n, o = 0;

	out[0] = '\0';
	assert_int_equal(resolve_expand_flags(res, addr, expand_flags, &d, &n), 0);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(d[i].orig, addr);
		if (d[i].kind == DEST_MAILDIR || d[i].kind == DEST_MBOX)
			o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%s %s %s %ld:%ld %s",
			    i ? "; " : "", kinds[d[i].kind], d[i].addr, d[i].path, d[i].uid,
			    d[i].gid, d[i].service);
		else if (d[i].kind == DEST_RELAY)
			o += (size_t)snprintf(out + o, sizeof(out) - o, "%sRELAY %s", i ? "; " : "",
			    d[i].addr);
		else
			o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%s %s (%s)", i ? "; " : "",
			    kinds[d[i].kind], d[i].addr, d[i].reason);
	}
	resolve_dests_free(d, n);
	return out;
}

static void test_check(void **state)
{
	const char *t = NULL;

	assert_int_equal(resolve_check(res, "root@localhost", &t), RESOLVE_LOCAL);
	assert_int_equal(resolve_check(res, "ROOT@MX.Example.ORG", &t), RESOLVE_LOCAL);
	assert_int_equal(resolve_check(res, "root+folder@mx.example.org", &t), RESOLVE_LOCAL);
	assert_int_equal(resolve_check(res, "team@localhost", &t), RESOLVE_LOCAL);	/* alias */
	assert_int_equal(resolve_check(res, "postmaster@localhost", &t), RESOLVE_LOCAL);
	assert_int_equal(resolve_check(res, "nosuchuser@localhost", &t), RESOLVE_UNKNOWN);
	assert_string_equal(t, "local recipient table");
	assert_int_equal(resolve_check(res, "alice@example.com", &t), RESOLVE_VIRTUAL);
	assert_int_equal(resolve_check(res, "alice+x@example.com", &t), RESOLVE_VIRTUAL);
	assert_int_equal(resolve_check(res, "anyone@example.net", &t), RESOLVE_VIRTUAL);
	assert_int_equal(resolve_check(res, "nobody@example.com", &t), RESOLVE_UNKNOWN);
	assert_string_equal(t, "virtual mailbox table");
	assert_int_equal(resolve_check(res, "info@example.com", &t), RESOLVE_ALIAS);
	assert_int_equal(resolve_check(res, "x@alias.test", &t), RESOLVE_ALIAS);	/* catch-all */
	assert_int_equal(resolve_check(res, "support@localhost", &t), RESOLVE_ALIAS);
	assert_int_equal(resolve_check(res, "support@example.com", &t), RESOLVE_UNKNOWN);
	assert_int_equal(resolve_check(res, "someone@elsewhere.example", &t), RESOLVE_RELAY);
}

static void test_local_user(void **state)
{
	assert_string_equal(expand("daemon@localhost"),
	    "MAILDIR daemon@localhost /usr/sbin/Maildir/ 1:1 local");
	/* Delimiter: the user's mailbox, to= keeps the extension. */
	assert_string_equal(expand("Daemon+Lists@MX.example.org"),
	    "MAILDIR daemon+lists@mx.example.org /usr/sbin/Maildir/ 1:1 local");
	assert_string_equal(expand("nosuchuser@localhost"),
	    "BOUNCE nosuchuser@localhost (unknown user: \"nosuchuser\")");
}

static void test_aliases(void **state)
{
	/* root: root, daemon -> root's own mailbox plus daemon. */
	assert_string_equal(expand("root@localhost"),
	    "MAILDIR root@localhost /root/Maildir/ 0:0 local; "
	    "MAILDIR daemon@localhost /usr/sbin/Maildir/ 1:1 local");
	/* postmaster -> root -> (root, daemon); extension lookup falls back. */
	assert_string_equal(expand("postmaster+x@localhost"),
	    "MAILDIR root@localhost /root/Maildir/ 0:0 local; "
	    "MAILDIR daemon@localhost /usr/sbin/Maildir/ 1:1 local");
	/* Continuation line, bare names stay local, a file is deferred. */
	assert_string_equal(expand("team@mx.example.org"),
	    "MAILDIR daemon@mx.example.org /usr/sbin/Maildir/ 1:1 local; "
	    "MAILDIR bob@example.com /tmp/mw-vmail/example.com/bob/ 4242:4343 virtual; "
	    "MBOX /var/spool/carol.mbox /var/spool/carol.mbox -1:-1 local");
}

static void test_loops(void **state)
{
	assert_string_equal(expand("ping@localhost"),
	    "BOUNCE ping@localhost (mail forwarding loop for ping@localhost)");
	assert_string_equal(expand("selfloop@localhost"),
	    "BOUNCE selfloop@localhost (mail forwarding loop for selfloop@localhost)");
	/* 22 levels: too deep; 2 levels: fine. */
	assert_string_equal(expand("d0@localhost"),
	    "BOUNCE d21@localhost (mail forwarding loop for d21@localhost (alias nesting too deep))");
	assert_string_equal(expand("d2b@localhost"),
	    "MAILDIR root@localhost /root/Maildir/ 0:0 local; "
	    "MAILDIR daemon@localhost /usr/sbin/Maildir/ 1:1 local");
	/* Virtual alias loop between addresses that have a (catch-all) mailbox. */
	assert_string_equal(expand("va1@example.net"),
	    "MAILDIR va1@example.net /tmp/mw-vmail/example.net/catchall/ 4242:4343 virtual");
}

static void test_virtual_alias(void **state)
{
	assert_string_equal(expand("INFO@example.com"),
	    "MAILDIR bob@example.com /tmp/mw-vmail/example.com/bob/ 4242:4343 virtual; "
	    "MAILDIR alice@example.com /tmp/mw-vmail/example.com/alice/ 4242:4343 virtual");
	/* Expands to itself: delivered as itself, once. */
	assert_string_equal(expand("sales@example.com"),
	    "MAILDIR sales@example.com /tmp/mw-vmail/example.com/sales/ 4242:4343 virtual; "
	    "MAILDIR bob@example.com /tmp/mw-vmail/example.com/bob/ 4242:4343 virtual");
	/* Unmatched extension is propagated (propagate_unmatched_extensions). */
	assert_string_equal(expand("ext+tag@example.com"),
	    "MAILDIR alice+tag@example.com /tmp/mw-vmail/example.com/alice/ 4242:4343 virtual");
	/* Catch-all only when no exact address matches. */
	assert_string_equal(expand("known@alias.test"),
	    "MAILDIR alice@example.com /tmp/mw-vmail/example.com/alice/ 4242:4343 virtual");
	assert_string_equal(expand("whoever@alias.test"),
	    "MAILDIR bob@example.com /tmp/mw-vmail/example.com/bob/ 4242:4343 virtual");
	/* Bare "user" key: only for local domains. */
	assert_string_equal(expand("support@localhost"),
	    "MAILDIR root@localhost /root/Maildir/ 0:0 local; "
	    "MAILDIR daemon@localhost /usr/sbin/Maildir/ 1:1 local");
	assert_string_equal(expand("out@example.com"), "RELAY someone@elsewhere.example");
}

/* no_address_mappings: virtual_alias_maps left out, aliases(5) kept. */
static void test_no_virtual_alias(void **state)
{
	expand_flags = RESOLVE_NO_VIRTUAL_ALIAS;
	assert_string_equal(expand("known@alias.test"),
	    "BOUNCE known@alias.test (User unknown in virtual alias table)");
	assert_string_equal(expand("alice@example.com"),
	    "MAILDIR alice@example.com /tmp/mw-vmail/example.com/alice/ 4242:4343 virtual");
	assert_true(strncmp(expand("out@example.com"), "RELAY", 5) != 0);
	assert_string_equal(expand("root@localhost"),
	    "MAILDIR root@localhost /root/Maildir/ 0:0 local; "
	    "MAILDIR daemon@localhost /usr/sbin/Maildir/ 1:1 local");
	expand_flags = 0;
	assert_string_equal(expand("out@example.com"), "RELAY someone@elsewhere.example");
}

static void test_virtual_mailbox(void **state)
{
	assert_string_equal(expand("alice@example.com"),
	    "MAILDIR alice@example.com /tmp/mw-vmail/example.com/alice/ 4242:4343 virtual");
	assert_string_equal(expand("Alice+Spam@Example.COM"),
	    "MAILDIR alice+spam@example.com /tmp/mw-vmail/example.com/alice/ 4242:4343 virtual");
	assert_string_equal(expand("mbox@example.com"),
	    "MBOX mbox@example.com /tmp/mw-vmail/example.com/mbox 4242:4343 virtual");
	assert_string_equal(expand("x@example.net"),
	    "MAILDIR x@example.net /tmp/mw-vmail/example.net/catchall/ 4242:4343 virtual");
	assert_string_equal(expand("nobody@example.com"),
	    "BOUNCE nobody@example.com (unknown user: \"nobody@example.com\")");
	assert_string_equal(expand("a@relay.example"), "RELAY a@relay.example");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_local_user),
		cmocka_unit_test(test_aliases),
		cmocka_unit_test(test_loops),
		cmocka_unit_test(test_virtual_alias),
		cmocka_unit_test(test_no_virtual_alias),
		cmocka_unit_test(test_virtual_mailbox),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
