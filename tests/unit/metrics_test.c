/* metrics_test — the shared counter page: counters, labels, gauges,
 * histograms, hostile label bytes, and adds from forked children. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/metrics.h"

static char *render(void)
{
	struct buf b;
	buf_init(&b, 1 << 22);
	assert_int_equal(metrics_render(&b), 0);
	return b.data;
}

static int has(const char *text, const char *line)
{
	char want[512];
	snprintf(want, sizeof(want), "\n%s\n", line);
	return strstr(text, want) != NULL;
}

static void test_disabled_is_noop(void **state)
{
	/* before metrics_init: nothing to do, nothing rendered */
	metrics_inc(M_AUTH_FAILURES, NULL);
	struct buf b;
	buf_init(&b, 100);
	assert_int_equal(metrics_render(&b), 0);
	assert_int_equal(b.len, 0);
	buf_free(&b);
	assert_int_equal(metrics_init(), 0);
	assert_true(metrics_enabled());
}

static void test_counters_and_labels(void **state)
{
	metrics_inc(M_AUTH_FAILURES, NULL);
	metrics_add(M_AUTH_FAILURES, NULL, 4);
	metrics_inc(M_REJECTS, "relay");
	metrics_inc(M_REJECTS, "relay");
	metrics_inc(M_REJECTS, "dnsbl");
	metrics_set(M_QUEUE_SIZE, "active", 7);
	metrics_gauge_add(M_QUEUE_SIZE, "active", -2);
	char *t = render();
	assert_true(has(t, "# TYPE mailwarden_smtpd_auth_failures_total counter"));
	assert_true(has(t, "mailwarden_smtpd_auth_failures_total 5"));
	assert_true(has(t, "mailwarden_smtpd_rejects_total{reason=\"relay\"} 2"));
	assert_true(has(t, "mailwarden_smtpd_rejects_total{reason=\"dnsbl\"} 1"));
	assert_true(has(t, "mailwarden_queue_messages{queue=\"active\"} 5"));
	assert_true(has(t, "# TYPE mailwarden_queue_messages gauge"));
	assert_null(strstr(t, "reason=\"other\""));	/* unused overflow slot: not shown */
	free(t);
}

static void test_histogram(void **state)
{
	metrics_observe(M_DNS_LATENCY, NULL, 0.003);
	metrics_observe(M_DNS_LATENCY, NULL, 0.2);
	metrics_observe(M_DNS_LATENCY, NULL, 60);
	char *t = render();
	assert_true(has(t, "# TYPE mailwarden_dns_query_duration_seconds histogram"));
	assert_true(has(t, "mailwarden_dns_query_duration_seconds_bucket{le=\"0.001\"} 0"));
	assert_true(has(t, "mailwarden_dns_query_duration_seconds_bucket{le=\"0.005\"} 1"));
	assert_true(has(t, "mailwarden_dns_query_duration_seconds_bucket{le=\"0.25\"} 2"));
	assert_true(has(t, "mailwarden_dns_query_duration_seconds_bucket{le=\"10\"} 2"));
	assert_true(has(t, "mailwarden_dns_query_duration_seconds_bucket{le=\"+Inf\"} 3"));
	assert_true(has(t, "mailwarden_dns_query_duration_seconds_count 3"));
	assert_true(has(t, "mailwarden_dns_query_duration_seconds_sum 60.203000"));
	free(t);
}

static void test_hostile_labels(void **state)
{
	metrics_inc(M_FAILURES, "a\"b\\c\nd\xff");
	char *t = render();
	assert_true(has(t, "mailwarden_jail_failures_total{jail=\"a\\\"b\\\\c_d_\"} 1"));
	free(t);
	/* more label values than slots: the rest are counted as "other" */
	char name[32];
	for (int i = 0; i < METRIC_SLOTS + 10; i++) {
		snprintf(name, sizeof(name), "jail%d", i);
		metrics_inc(M_BANS_TOTAL, name);
	}
	t = render();
	assert_true(has(t, "mailwarden_bans_total{jail=\"jail0\"} 1"));
	assert_true(has(t, "mailwarden_bans_total{jail=\"other\"} 11"));
	free(t);
}

static void test_children_share_the_page(void **state)
{
	for (int c = 0; c < 4; c++) {
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			for (int i = 0; i < 10000; i++)
				metrics_inc(M_CONNECTIONS, c % 2 ? "smtp" : "submission");
			_exit(0);
		}
	}
	int st;
	while (wait(&st) > 0)
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	char *t = render();
	assert_true(has(t, "mailwarden_smtpd_connections_total{listener=\"smtp\"} 20000"));
	assert_true(has(t, "mailwarden_smtpd_connections_total{listener=\"submission\"} 20000"));
	free(t);
}

static void test_reject_reasons(void **state)
{
	assert_string_equal(metrics_reject_reason("554 5.7.1 <a@b.example>: Relay access denied"),
	    "relay");
	assert_string_equal(metrics_reject_reason("554 5.7.1 Service unavailable; Client host "
	    "[192.0.2.1] blocked using zen.example"), "dnsbl");
	assert_string_equal(metrics_reject_reason("550 5.1.1 <x@example.com>: Recipient address "
	    "rejected: User unknown"), "recipient");
	assert_string_equal(metrics_reject_reason("4ABC: reject: header Subject: spam from "
	    "h[192.0.2.1]; from=<> to=<x@y>"), "content");
	assert_string_equal(metrics_reject_reason("421 4.3.2 something else"), "other");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_disabled_is_noop),
		cmocka_unit_test(test_counters_and_labels),
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_hostile_labels),
		cmocka_unit_test(test_children_share_the_page),
		cmocka_unit_test(test_reject_reasons),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
