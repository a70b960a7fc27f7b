/* restrict_test — relay control: first permit/reject wins; replies are
 * Postfix's; unknown names are refused at parse time. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "policy/restrict.h"

#define DEFAULT "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination"

static enum policy_result eval(const char *list, int mynet, int sasl, int ours, char *reply)
{
	char err[128];
	struct restrictions *r = restrictions_parse(NULL, "smtpd_relay_restrictions", list, err, sizeof(err));
	assert_non_null(r);
	struct policy_ctx c = { .client_addr = "192.0.2.1", .in_mynetworks = mynet,
		.sasl_authenticated = sasl, .rcpt = "u@outside.example", .rcpt_is_ours = ours };
	reply[0] = '\0';
	enum policy_result res = restrictions_eval(r, &c, reply, 256);
	restrictions_free(r);
	return res;
}

static void test_relay_default(void **state)
{
	char reply[256];
	assert_int_equal(eval(DEFAULT, 0, 0, 0, reply), POLICY_REJECT);
	assert_string_equal(reply, "554 5.7.1 <u@outside.example>: Relay access denied");
	assert_int_equal(eval(DEFAULT, 1, 0, 0, reply), POLICY_PERMIT);
	assert_int_equal(eval(DEFAULT, 0, 1, 0, reply), POLICY_PERMIT);
	assert_int_equal(eval(DEFAULT, 0, 0, 1, reply), POLICY_DUNNO);
}

static void test_defer_and_order(void **state)
{
	char reply[256];
	assert_int_equal(eval("defer_unauth_destination", 0, 0, 0, reply), POLICY_DEFER);
	assert_string_equal(reply, "454 4.7.1 <u@outside.example>: Relay access denied");
	assert_int_equal(eval("reject, permit", 1, 1, 1, reply), POLICY_REJECT);
	assert_int_equal(eval("permit, reject", 0, 0, 0, reply), POLICY_PERMIT);
	assert_int_equal(eval("", 0, 0, 0, reply), POLICY_DUNNO);
}

static void test_unknown_name(void **state)
{
	char err[128];
	assert_null(restrictions_parse(NULL, "x", "permit_mynetworks, reject_everything", err, sizeof(err)));
	assert_string_equal(err, "unknown restriction 'reject_everything'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_relay_default),
		cmocka_unit_test(test_defer_and_order),
		cmocka_unit_test(test_unknown_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
