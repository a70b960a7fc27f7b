/*
 * pickup_test — the maildrop file's end record: the recorded message
 * length is compared with the room between the "B" record and the end
 * record, never added to an offset (E 18446744073709551615 used to wrap
 * into a match and make the queue manager read past its buffer).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "queue/pickup.h"

#define ENV "MWD1\nR a@example.com\nB\n"

/* pickup_end_record over ENV + tail; *mlen on success. */
static int end_of(const char *tail, size_t *mlen)
{
	char buf[256];
	int n = snprintf(buf, sizeof(buf), "%s%s", ENV, tail);
	assert_true(n > 0 && (size_t)n < sizeof(buf));
	return pickup_end_record(buf, (size_t)n, strlen(ENV), mlen);
}

static void test_end_record_lengths(void **state)
{
	size_t mlen = 99;
	assert_int_equal(end_of("hello\nE 5\n", &mlen), 0);		/* remaining */
	assert_int_equal(mlen, 5);
	assert_int_equal(end_of("\nE 0\n", &mlen), 0);			/* 0 */
	assert_int_equal(mlen, 0);
	assert_int_equal(end_of("hello\nE 0\n", &mlen), -1);
	assert_int_equal(end_of("hello\nE 4\n", &mlen), -1);
	assert_int_equal(end_of("hello\nE 6\n", &mlen), -1);		/* remaining + 1 */
	assert_int_equal(end_of("E 18446744073709551615\n", &mlen), -1);	/* wrapped */
	assert_int_equal(end_of("hello\nE 18446744073709551615\n", &mlen), -1);
	assert_int_equal(end_of("hello\nE 18446744073709551616\n", &mlen), -1);
	assert_int_equal(end_of("hello\nE 18446744073709551611\n", &mlen), -1);
	assert_int_equal(end_of("E -1\n", &mlen), -1);			/* negative */
	assert_int_equal(end_of("hello\nE -1\n", &mlen), -1);
	assert_int_equal(end_of("hello\nE +5\n", &mlen), -1);
	assert_int_equal(end_of("hello\nE 5", &mlen), -1);		/* no newline */
	assert_int_equal(end_of("hello\nE \n", &mlen), -1);
	assert_int_equal(end_of("hello\n", &mlen), -1);			/* no end record */
	assert_int_equal(end_of("", &mlen), -1);
}

static void test_bad_offsets(void **state)
{
	const char *f = ENV "hello\nE 5\n";
	size_t len = strlen(f), mlen;
	assert_int_equal(pickup_end_record(f, len, strlen(ENV), &mlen), 0);
	assert_int_equal(pickup_end_record(f, len, len, &mlen), -1);
	assert_int_equal(pickup_end_record(f, len, len + 1, &mlen), -1);
	assert_int_equal(pickup_end_record(f, len, SIZE_MAX, &mlen), -1);
	assert_int_equal(pickup_end_record(f, 0, 0, &mlen), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_end_record_lengths),
		cmocka_unit_test(test_bad_offsets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
