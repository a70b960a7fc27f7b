/*
 * useracl_test — Postfix's user lists (authorized_mailq_users): names,
 * "!name", first match decides, static:anyone, texthash: tables (key
 * matched, value ignored), /file/name, and the errors.
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

#include "common/useracl.h"

static struct useracl *open_ok(const char *v)
{
	char err[256];
	struct useracl *acl = useracl_open(v, err, sizeof(err));
	if (acl == NULL)
		fail_msg("%s: %s", v, err);
	return acl;
}

static void test_names_and_negation(void **state)
{
	struct useracl *acl = open_ok("alice, !bob bob carol");

	assert_true(useracl_match(acl, "alice"));
	assert_false(useracl_match(acl, "bob"));	/* !bob comes first */
	assert_true(useracl_match(acl, "carol"));
	assert_false(useracl_match(acl, "dave"));	/* no match denies */
	useracl_free(acl);

	acl = open_ok("");
	assert_false(useracl_match(acl, "alice"));	/* empty list: nobody */
	useracl_free(acl);
}

static void test_static_anyone(void **state)
{
	struct useracl *acl = open_ok("!mallory static:anyone");

	assert_true(useracl_match(acl, "alice"));
	assert_true(useracl_match(acl, "unknown"));
	assert_false(useracl_match(acl, "mallory"));
	useracl_free(acl);
}

static void test_table_and_file(void **state)
{
	char dir[] = "/tmp/useracl_test.XXXXXX";
	char tab[64], lst[64], spec[96], val[160];
	FILE *fp;

	assert_non_null(mkdtemp(dir));
	snprintf(tab, sizeof(tab), "%s/users", dir);
	snprintf(lst, sizeof(lst), "%s/list", dir);
	fp = fopen(tab, "w");
	assert_non_null(fp);
	fputs("# queue viewers\nalice ok\nbob REJECT\n", fp);	/* value ignored */
	fclose(fp);
	fp = fopen(lst, "w");
	assert_non_null(fp);
	fputs("# more\ncarol\n!dave\n", fp);
	fclose(fp);
	snprintf(spec, sizeof(spec), "texthash:%s", tab);
	snprintf(val, sizeof(val), "%s %s", spec, lst);
	struct useracl *acl = open_ok(val);
	assert_true(useracl_match(acl, "alice"));
	assert_true(useracl_match(acl, "bob"));
	assert_true(useracl_match(acl, "carol"));
	assert_false(useracl_match(acl, "dave"));
	assert_false(useracl_match(acl, "eve"));
	useracl_free(acl);
	unlink(tab);
	unlink(lst);
	rmdir(dir);
}

static void test_errors(void **state)
{
	char err[256];

	assert_null(useracl_open("alice texthash:/nonexistent/users", err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/users"));
	assert_null(useracl_open("/nonexistent/list", err, sizeof(err)));
	assert_non_null(strstr(err, "cannot open /nonexistent/list"));
	assert_null(useracl_open("alice !", err, sizeof(err)));
	assert_non_null(strstr(err, "'!' without a name"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_and_negation),
		cmocka_unit_test(test_static_anyone),
		cmocka_unit_test(test_table_and_file),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
