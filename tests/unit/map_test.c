/*
 * map_test — lookup tables: texthash, hash: read from its text source,
 * aliases(5) syntax and its refusals, unix:passwd.byname, static:,
 * inline:{}, map lists, domain lists, and a 100k-entry table.
 * Run with tests/unit as the working directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/map.h"

static void test_texthash(void **state)
{
	char err[512];
	struct map *m = map_open("texthash:data/virtual", 0, err, sizeof(err));

	assert_non_null(m);
	assert_string_equal(map_spec(m), "texthash:data/virtual");
	assert_string_equal(map_lookup(m, "info@example.com"), "alice");
	assert_string_equal(map_lookup(m, "INFO@EXAMPLE.COM"), "alice");	/* first wins */
	assert_string_equal(map_lookup(m, "@example.org"), "bob, carol");	/* continuation */
	assert_string_equal(map_lookup(m, "info@example.net"), "dave");	/* key lowercased */
	assert_null(map_lookup(m, "# text source of a Postfix hash: map"));
	assert_null(map_lookup(m, "nobody@example.com"));
	assert_null(map_lookup(m, ""));
	map_free(m);
}

static void test_hash_text_source(void **state)
{
	char err[512];
	struct map *m = map_open("hash:data/virtual", 0, err, sizeof(err));

	assert_non_null(m);
	assert_string_equal(map_lookup(m, "info@example.com"), "alice");
	map_free(m);
	m = map_open("lmdb:data/virtual", 0, err, sizeof(err));
	assert_non_null(m);
	map_free(m);

	assert_null(map_open("hash:/etc/postfix/nonexistent-virtual", 0, err, sizeof(err)));
	assert_string_equal(err, "hash:/etc/postfix/nonexistent-virtual: cannot open text "
	    "source /etc/postfix/nonexistent-virtual (binary Postfix maps are not supported; "
	    "keep the text file)");
	assert_null(map_open("texthash:/x/y", 0, err, sizeof(err)));
	assert_string_equal(err, "texthash:/x/y: cannot open /x/y: No such file or directory");
}

static void test_bad_specs(void **state)
{
	char err[512];

	assert_null(map_open("nocolon", 0, err, sizeof(err)));
	assert_string_equal(err, "'nocolon' is not a type:name map");
	assert_null(map_open("hash:", 0, err, sizeof(err)));
	assert_string_equal(err, "'hash:' is not a type:name map");
	assert_null(map_open("ldap:/etc/x", 0, err, sizeof(err)));
	assert_string_equal(err, "ldap:/etc/x: unsupported map type 'ldap'");
	assert_null(map_open("unix:group.byname", 0, err, sizeof(err)));
	assert_string_equal(err, "unix:group.byname: unsupported unix map (only unix:passwd.byname)");
	assert_null(map_open("texthash:data/keyonly", 0, err, sizeof(err)));
	assert_string_equal(err, "data/keyonly, line 2: expected format: key whitespace value");
	assert_null(map_open("inline:{ a=1, b }", 0, err, sizeof(err)));
	assert_string_equal(err, "inline:{ a=1, b }: expected key=value, got 'b'");
	assert_null(map_open("inline:a=1", 0, err, sizeof(err)));
	assert_string_equal(err, "inline:a=1: expected inline:{ key=value, ... }");
}

static void test_aliases(void **state)
{
	char err[512];
	struct map *m = map_open("texthash:data/aliases", MAP_ALIASES, err, sizeof(err));

	if (m == NULL)
		fail_msg("%s", err);
	assert_string_equal(map_lookup(m, "postmaster"), "root");
	assert_string_equal(map_lookup(m, "root"), "alice, bob");
	assert_string_equal(map_lookup(m, "ROOT"), "alice, bob");
	assert_string_equal(map_lookup(m, "abuse"), "\"postmaster\"");
	map_free(m);

	assert_null(map_open("texthash:data/aliases_pipe", MAP_ALIASES, err, sizeof(err)));
	assert_string_equal(err, "data/aliases_pipe, line 4: alias foo: |command delivery is not supported");
	assert_null(map_open("hash:data/aliases_include", MAP_ALIASES, err, sizeof(err)));
	assert_string_equal(err, "data/aliases_include, line 1: alias list: :include: is not supported");
	/* without MAP_ALIASES the same file is a plain "key value" table */
	m = map_open("texthash:data/aliases_pipe", 0, err, sizeof(err));
	assert_non_null(m);
	assert_string_equal(map_lookup(m, "foo:"), "bar, \"|/usr/bin/procmail\"");
	map_free(m);
	assert_null(map_open("texthash:data/keyonly", MAP_ALIASES, err, sizeof(err)));
	assert_string_equal(err, "data/keyonly, line 1: expected format: name: value");
}

static void test_passwd(void **state)
{
	char err[512], want[512];
	struct map *m = map_open("unix:passwd.byname", 0, err, sizeof(err));
	struct passwd *pw = getpwuid(0);

	assert_non_null(m);
	assert_non_null(pw);
	snprintf(want, sizeof(want), "0:%lu:%s", (unsigned long)pw->pw_gid, pw->pw_dir);
	assert_string_equal(map_lookup(m, pw->pw_name), want);
	assert_null(map_lookup(m, "no-such-user-here"));
	map_free(m);
}

static void test_static_inline(void **state)
{
	char err[512];
	struct map *m = map_open("static:5000", 0, err, sizeof(err));

	assert_string_equal(map_lookup(m, "anything"), "5000");
	assert_string_equal(map_lookup(m, "else"), "5000");
	map_free(m);
	m = map_open("static:{ two words }", 0, err, sizeof(err));
	assert_string_equal(map_lookup(m, "x"), "two words");
	map_free(m);

	m = map_open("inline:{ a@x.org=alice, B@X.ORG=bob, { c@x.org = carol and dave } }", 0,
	    err, sizeof(err));
	if (m == NULL)
		fail_msg("%s", err);
	assert_string_equal(map_lookup(m, "a@x.org"), "alice");
	assert_string_equal(map_lookup(m, "b@x.org"), "bob");
	assert_string_equal(map_lookup(m, "C@x.org"), "carol and dave");
	assert_null(map_lookup(m, "d@x.org"));
	map_free(m);
}

static void test_maplist(void **state)
{
	char err[512];
	struct maplist *ml = maplist_open("inline:{ info@example.com=override }, "
	    "texthash:data/virtual static:fallback", 0, err, sizeof(err));

	assert_non_null(ml);
	assert_int_equal(maplist_count(ml), 3);
	assert_string_equal(maplist_lookup(ml, "info@example.com"), "override");
	assert_string_equal(maplist_lookup(ml, "info@example.net"), "dave");
	assert_string_equal(maplist_lookup(ml, "x@y"), "fallback");
	maplist_free(ml);

	ml = maplist_open("", 0, err, sizeof(err));
	assert_non_null(ml);
	assert_int_equal(maplist_count(ml), 0);
	assert_null(maplist_lookup(ml, "x"));
	maplist_free(ml);

	assert_null(maplist_open("texthash:data/virtual, texthash:/nonexistent", 0, err, sizeof(err)));
	assert_string_equal(err, "texthash:/nonexistent: cannot open /nonexistent: No such file or directory");
}

static void test_domlist(void **state)
{
	char err[512];
	struct domlist *dl = domlist_open("Example.COM, .sub.example.net localhost. "
	    "inline:{ virtual.example=1 }", err, sizeof(err));

	if (dl == NULL)
		fail_msg("%s", err);
	assert_true(domlist_match(dl, "example.com"));
	assert_true(domlist_match(dl, "EXAMPLE.com."));
	assert_false(domlist_match(dl, "mail.example.com"));	/* exact only */
	assert_true(domlist_match(dl, "a.sub.example.net"));	/* .domain = subdomains */
	assert_true(domlist_match(dl, "b.a.sub.example.net"));
	assert_false(domlist_match(dl, "sub.example.net"));
	assert_true(domlist_match(dl, "localhost"));
	assert_true(domlist_match(dl, "Virtual.Example"));
	assert_false(domlist_match(dl, "other.example"));
	assert_false(domlist_match(dl, ""));
	domlist_free(dl);

	assert_null(domlist_open("example.com, bad/domain", err, sizeof(err)));
	assert_string_equal(err, "bad domain 'bad/domain'");
	assert_null(domlist_open("hash:/nonexistent/d", err, sizeof(err)));
	assert_string_equal(err, "hash:/nonexistent/d: cannot open text source /nonexistent/d "
	    "(binary Postfix maps are not supported; keep the text file)");
}

/* 100k entries: all found, lookups fast. */
static void test_big(void **state)
{
	char path[] = "/tmp/mw_map_test_XXXXXX";
	char spec[64], key[64], want[64], err[512];
	int fd = mkstemp(path);
	const int n = 100000;

	assert_true(fd >= 0);
	FILE *fp = fdopen(fd, "w");
	for (int i = 0; i < n; i++)
		fprintf(fp, "User%d@Example.com u%d\n", i, i);
	fclose(fp);
	snprintf(spec, sizeof(spec), "texthash:%s", path);
	struct map *m = map_open(spec, 0, err, sizeof(err));
	unlink(path);
	assert_non_null(m);
	clock_t t0 = clock();
	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "user%d@example.COM", i);
		snprintf(want, sizeof(want), "u%d", i);
		const char *v = map_lookup(m, key);
		if (v == NULL || strcmp(v, want) != 0)
			fail_msg("lookup %s", key);
	}
	assert_null(map_lookup(m, "user100000@example.com"));
	double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	assert_true(secs < 2.0);	/* generous for sanitizer builds */
	map_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_texthash),
		cmocka_unit_test(test_hash_text_source),
		cmocka_unit_test(test_bad_specs),
		cmocka_unit_test(test_aliases),
		cmocka_unit_test(test_passwd),
		cmocka_unit_test(test_static_inline),
		cmocka_unit_test(test_maplist),
		cmocka_unit_test(test_domlist),
		cmocka_unit_test(test_big),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
