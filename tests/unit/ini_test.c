/*
 * ini_test — the fail2ban INI module on its own: [INCLUDES] before/after
 * (a missing include skipped, as configparser does; an included X.conf
 * followed by its X.local, as fail2ban does), NAME.local over
 * NAME.conf with the old value kept as %(known/x)s, %(section/x)s, the
 * scope's lookup order and error kinds, loops reported by chain, the
 * budget, both <tag> substitutions (nested tags resolve inside out), and
 * reading one file whole (ini_read_file, also jailtree.c's).
 * Run with tests/unit as the working directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "warden/ini.h"

static char dir[] = "/tmp/mw_ini_test_XXXXXX";

static void write_file(const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
}

static void remove_file(const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
}

/* Interpolated value of sec/key in sc; NULL (and *e) on error. */
static char *value(const struct ini_scope *sc, const char *sec, const char *key,
    struct ini_err *e)
{
	const struct ini_opt *o = ini_get(sc->ini, sec, key);
	assert_non_null(o);
	struct buf b;
	buf_init(&b, 4096);
	char *r = NULL;
	if (ini_interp(sc, sec, o->val, o, &b, e) == 0)
		r = strdup(b.data ? b.data : "");
	buf_free(&b);
	return r;
}

static void test_read_includes_local_known(void **state)
{
	struct ini ini = { 0 };
	struct ini_src src = { (const char *const[]){ dir, NULL }, NULL };
	char where[256], err[512];

	write_file("common.conf", "[DEFAULT]\nport = 25\nproto = tcp\n");
	write_file("t.conf", "[INCLUDES]\nbefore = common.conf\nafter = t-missing.local\n"
	    "# comment\n[Definition]\nrule = a\n  b\n\n  ; comment\n  c\nname: x\n");
	write_file("t.local", "[Definition]\nname = y %(known/name)s\n");
	assert_int_equal(ini_read_name(&ini, &src, "t", where, sizeof(where), err, sizeof(err)), 1);
	assert_string_equal(where, dir);
	assert_string_equal(ini_get(&ini, "Definition", "rule")->val, "a\nb\nc");
	assert_int_equal(ini_get(&ini, "Definition", "rule")->line, 6);
	assert_string_equal(ini_get(&ini, "DEFAULT", "port")->val, "25");
	ini_free(&ini);

	/* an included X.conf brings its X.local after it (paths-debian.local) */
	write_file("common.local", "[DEFAULT]\nport = 2525\n");
	assert_int_equal(ini_read_name(&ini, &src, "t", where, sizeof(where), err, sizeof(err)), 1);
	assert_string_equal(ini_get(&ini, "DEFAULT", "port")->val, "2525");
	assert_string_equal(ini_get(&ini, "DEFAULT", "proto")->val, "tcp");
	remove_file("common.local");

	struct ini_scope sc = { .ini = &ini, .flags = INI_ERR_UNKNOWN, .maxdepth = 10 };
	struct ini_err e;
	char *v = value(&sc, "Definition", "name", &e);
	assert_string_equal(v, "y x");
	free(v);
	ini_free(&ini);

	/* a malformed line names file and line */
	write_file("bad.conf", "[Definition]\nok = 1\nno equals sign here\n");
	assert_int_equal(ini_read_name(&ini, &src, "bad", where, sizeof(where), err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "bad.conf:3: expected key = value"));
	ini_free(&ini);
	assert_int_equal(ini_read_name(&ini, &src, "nosuch", where, sizeof(where), err,
	    sizeof(err)), 0);
	remove_file("common.conf");
	remove_file("t.conf");
	remove_file("t.local");
	remove_file("bad.conf");
}

static const char *const *init_then(const char *sec)
{
	static const char *const order[] = { "Init", NULL };
	return order;
}

static void test_interp_scope_and_errors(void **state)
{
	struct ini ini = { .icase = 1 };
	ini_set(&ini, "DEFAULT", "d", "D", "f", 1);
	ini_set(&ini, "Init", "i", "I%(d)s", "f", 2);
	ini_set(&ini, "other", "o", "O", "f", 3);
	ini_set(&ini, "Definition", "a", "%(i)s %(other/o)s %(D)s %%", "f", 4);
	ini_set(&ini, "Definition", "loop", "%(x)s", "f", 5);
	ini_set(&ini, "Definition", "x", "%(y)s", "f", 6);
	ini_set(&ini, "Definition", "y", "%(x)s", "f", 7);
	ini_set(&ini, "Definition", "u", "a %(nope)s b", "f", 8);
	ini_set(&ini, "Definition", "pct", "100%", "f", 9);
	ini_set(&ini, "Definition", "n", "%(__name__)s", "f", 10);

	struct ini_scope sc = { .ini = &ini, .fallback = init_then, .name = "jail",
	    .flags = INI_ERR_UNKNOWN | INI_LOOP_CHAIN, .maxdepth = 16 };
	struct ini_err e;
	char *v = value(&sc, "Definition", "a", &e);
	assert_string_equal(v, "ID O D %");
	free(v);
	v = value(&sc, "Definition", "n", &e);
	assert_string_equal(v, "jail");
	free(v);
	assert_null(value(&sc, "Definition", "loop", &e));
	assert_int_equal(e.kind, INI_E_LOOP);
	assert_string_equal(e.chain, "x -> y -> x");
	assert_null(value(&sc, "Definition", "u", &e));
	assert_int_equal(e.kind, INI_E_UNKNOWN);
	assert_string_equal(e.name, "nope");
	v = value(&sc, "Definition", "pct", &e);	/* a lone % is text unless asked */
	assert_string_equal(v, "100%");
	free(v);
	sc.flags |= INI_ERR_LONE_PCT;
	assert_null(value(&sc, "Definition", "pct", &e));
	assert_int_equal(e.kind, INI_E_SYNTAX);
	assert_string_equal(e.at, "%");

	/* lenient: unknown kept as written, loops end at maxdepth */
	sc.flags = 0;
	sc.maxdepth = 3;
	v = value(&sc, "Definition", "u", &e);
	assert_string_equal(v, "a %(nope)s b");
	free(v);
	v = value(&sc, "Definition", "loop", &e);
	assert_string_equal(v, "%(y)s");
	free(v);
	/* the budget: once spent, the rest is kept as written */
	unsigned budget = 1;
	sc.budget = &budget;
	v = value(&sc, "Definition", "a", &e);
	assert_string_equal(v, "I%(d)s %(other/o)s %(D)s %");
	free(v);
	ini_free(&ini);
}

static void tag_fn(void *arg, const char *name, struct ini_tag *t)
{
	static const char *const kv[][2] = {
		{ "type", "multiport" }, { "ipt_multiport/_chain_rule", "-p <proto> -m multiport" },
		{ "proto", "tcp" }, { "self", "<self>!" }, { "user", "<ip>" },
	};
	for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
		if (strcmp(name, kv[i][0]) == 0)
			t->val = kv[i][1];
	if (strcmp(name, "user") == 0)
		t->final = 1;	/* a value from outside: no tags inside it */
}

static void test_tags(void **state)
{
	char *r = ini_tags_recursive("<ipt_<type>/_chain_rule> <unknown>", "x", tag_fn, NULL, 32);
	assert_string_equal(r, "-p tcp -m multiport <unknown>");
	free(r);
	r = ini_tags_recursive("<self>", "self", tag_fn, NULL, 32);	/* never itself */
	assert_string_equal(r, "<self>");
	free(r);

	struct buf out;
	buf_init(&out, 4096);
	ini_tags("<proto> <user> <nope> <self>", tag_fn, NULL, NULL, "Definition", 3, &out);
	/* <self> expands into itself until the depth bound */
	assert_string_equal(out.data, "tcp <ip> <nope> <self>!!!!");
	buf_free(&out);
}

/* ini_read_file: 1 and the text, 0 for no such file, -1 and
 * "FILE:0: message" for one it cannot read (a directory here). */
static void test_read_file(void **state)
{
	char path[256], err[512], *text = NULL;
	write_file("whole.conf", "[Definition]\nx = 1\n");
	snprintf(path, sizeof(path), "%s/whole.conf", dir);
	assert_int_equal(ini_read_file(path, &text, err, sizeof(err)), 1);
	assert_string_equal(text, "[Definition]\nx = 1\n");
	free(text);
	remove_file("whole.conf");
	assert_int_equal(ini_read_file(path, &text, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/", dir);
	assert_int_equal(ini_read_file(path, &text, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":0: "));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_includes_local_known),
		cmocka_unit_test(test_interp_scope_and_errors),
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_read_file),
	};
	if (mkdtemp(dir) == NULL)
		return 1;
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	rmdir(dir);
	return rc;
}
