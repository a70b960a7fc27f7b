/* restrict_test — restriction lists: first permit/reject wins; replies are
 * Postfix's; unknown names and missing maps are refused at parse time;
 * warn_if_reject / defer_if_permit; access maps (texthash:, cidr:); DNS
 * restrictions against a fake DNS (POLICY_PENDING, wake, re-evaluation);
 * check_policy_service against a policy server forked by the test. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/loop.h"
#include "dns/dns.h"
#include "policy/restrict.h"

#define DEFAULT "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination"

/* ---- a fake DNS: answers set by the test, delivered when it says ---- */

struct fake {
	char name[256];
	enum dns_type type;
	struct dns_result res;
	char *items[4];
	dns_fn *fn;		/* a query waiting for fake_deliver() */
	void *arg;
	uint64_t id;
};
static struct fake fakes[16];
static size_t nfakes;
static uint64_t next_id = 1;
static int lookups;

static void fake_add(const char *name, enum dns_type type, enum dns_status st, const char *item)
{
	struct fake *f = &fakes[nfakes++];
	memset(f, 0, sizeof(*f));
	snprintf(f->name, sizeof(f->name), "%s", name);
	f->type = type;
	f->res.status = st;
	f->res.nxdomain = st == DNS_NOTFOUND;
	f->res.items = f->items;
	if (item) {
		f->items[0] = (char *)item;
		f->res.n = 1;
	}
}

uint64_t dns_lookup(const char *name, enum dns_type type, dns_fn *fn, void *arg)
{
	lookups++;
	for (size_t i = 0; i < nfakes; i++) {
		if (fakes[i].type == type && strcmp(fakes[i].name, name) == 0) {
			fakes[i].fn = fn;
			fakes[i].arg = arg;
			fakes[i].id = next_id++;
			return fakes[i].id;
		}
	}
	/* Unknown names: NXDOMAIN at once, from "the cache". */
	struct dns_result r = { .status = DNS_NOTFOUND, .nxdomain = 1 };
	fn(&r, arg);
	return 0;
}

const struct dns_result *dns_cached(const char *name, enum dns_type type)
{
	return NULL;
}

void dns_cancel(uint64_t id)
{
	for (size_t i = 0; i < nfakes; i++) {
		if (fakes[i].id == id)
			fakes[i].fn = NULL;
	}
}

int dns_rbl_name(const char *addr, const char *zone, char *out, size_t len)
{
	unsigned a, b, c, d;
	if (sscanf(addr, "%u.%u.%u.%u", &a, &b, &c, &d) != 4)
		return -1;
	int n = snprintf(out, len, "%u.%u.%u.%u.%s", d, c, b, a, zone);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* Answer every waiting query. */
static void fake_deliver(void)
{
	for (size_t i = 0; i < nfakes; i++) {
		if (fakes[i].fn) {
			dns_fn *fn = fakes[i].fn;
			fakes[i].fn = NULL;
			fn(&fakes[i].res, fakes[i].arg);
		}
	}
}

static int wakes;
static void on_wake(void *arg)
{
	wakes++;
	if (arg)
		loop_exit();
}

static char logged[512];
static void on_log(struct policy_ctx *c, const char *action, const char *reply)
{
	snprintf(logged, sizeof(logged), "%s: %s", action, reply);
}

/* ---- helpers ---- */

static struct policy_ctx base_ctx(void)
{
	struct policy_ctx c = {
		.stage = STAGE_RCPT, .client_addr = "192.0.2.1", .client_name = "unknown",
		.client_name_status = NAME_NOTFOUND, .reverse_name = "unknown",
		.reverse_name_status = NAME_NOTFOUND, .helo = "mail.example.com",
		.sender = "a@b.example", .rcpt = "u@outside.example", .proto = "ESMTP",
		.queue_id = "NOQUEUE", .instance = 7, .wake = on_wake, .log = on_log,
	};
	return c;
}

static enum policy_result run(const char *key, const char *list, struct policy_ctx *c, char *reply)
{
	char err[256];
	struct restrictions *r = restrictions_parse(NULL, key, list, err, sizeof(err));
	if (r == NULL)
		fail_msg("parse '%s': %s", list, err);
	reply[0] = '\0';
	enum policy_result res = restrictions_eval(r, c, reply, 512);
	restrictions_free(r);
	return res;
}

static enum policy_result eval(const char *list, int mynet, int sasl, int ours, char *reply)
{
	struct policy_ctx c = { .client_addr = "192.0.2.1", .in_mynetworks = mynet,
		.sasl_authenticated = sasl, .rcpt = "u@outside.example", .rcpt_is_ours = ours };
	return run("smtpd_relay_restrictions", list, &c, reply);
}

static void test_relay_default(void **state)
{
	char reply[512];
	assert_int_equal(eval(DEFAULT, 0, 0, 0, reply), POLICY_REJECT);
	assert_string_equal(reply, "554 5.7.1 <u@outside.example>: Relay access denied");
	assert_int_equal(eval(DEFAULT, 1, 0, 0, reply), POLICY_PERMIT);
	assert_int_equal(eval(DEFAULT, 0, 1, 0, reply), POLICY_PERMIT);
	assert_int_equal(eval(DEFAULT, 0, 0, 1, reply), POLICY_DUNNO);
}

/* The table of lists: rows indexed by their id (the engine's lists[]),
 * each key a parameter restrictions_parse accepts, stages as Postfix's. */
static void test_list_table(void **state)
{
	char err[256];
	for (int i = 0; i < RL_COUNT; i++) {
		assert_int_equal(restriction_lists[i].id, i);
		struct restrictions *r = restrictions_parse(NULL, restriction_lists[i].key,
		    "permit", err, sizeof(err));
		assert_non_null(r);
		restrictions_free(r);
	}
	assert_string_equal(restriction_lists[RL_RELAY].key, "smtpd_relay_restrictions");
	assert_int_equal(restriction_lists[RL_CLIENT].stage, STAGE_CONNECT);
	assert_int_equal(restriction_lists[RL_SENDER].stage, STAGE_MAIL);
	assert_int_equal(restriction_lists[RL_RECIPIENT].stage, STAGE_RCPT);
	assert_int_equal(restriction_lists[RL_DATA].stage, STAGE_DATA);
}

/* The reply says itself whether it refuses relaying (the engine's event
 * kind for the ban engine), whatever its text. */
static void test_reply_relay_kind(void **state)
{
	char reply[512];
	struct policy_ctx c = { .client_addr = "192.0.2.1", .rcpt = "u@outside.example" };
	assert_int_equal(run("smtpd_relay_restrictions", DEFAULT, &c, reply), POLICY_REJECT);
	assert_int_equal(c.reply_relay, 1);
	assert_int_equal(run("smtpd_relay_restrictions", "defer_unauth_destination", &c, reply),
	    POLICY_DEFER);
	assert_int_equal(c.reply_relay, 1);
	assert_int_equal(run("smtpd_relay_restrictions", "reject", &c, reply), POLICY_REJECT);
	assert_int_equal(c.reply_relay, 0);
	/* warned only: no reply, no relay refusal */
	assert_int_equal(run("smtpd_relay_restrictions", "warn_if_reject, reject_unauth_destination",
	    &c, reply), POLICY_DUNNO);
	assert_int_equal(c.reply_relay, 0);
	/* defer_if_reject: the reply is its 4xx, not the relay refusal */
	assert_int_equal(run("smtpd_relay_restrictions",
	    "defer_if_reject, reject_unauth_destination", &c, reply), POLICY_REJECT);
	assert_null(strstr(reply, "Relay access denied"));
	assert_int_equal(c.reply_relay, 0);
}

static void test_defer_and_order(void **state)
{
	char reply[512];
	assert_int_equal(eval("defer_unauth_destination", 0, 0, 0, reply), POLICY_DEFER);
	assert_string_equal(reply, "454 4.7.1 <u@outside.example>: Relay access denied");
	assert_int_equal(eval("reject, permit", 1, 1, 1, reply), POLICY_REJECT);
	assert_string_equal(reply, "554 5.7.1 <u@outside.example>: Recipient address rejected: Access denied");
	assert_int_equal(eval("defer", 1, 1, 1, reply), POLICY_DEFER);
	assert_string_equal(reply, "450 4.3.2 <u@outside.example>: Recipient address rejected: Try again later");
	assert_int_equal(eval("permit, reject", 0, 0, 0, reply), POLICY_PERMIT);
	assert_int_equal(eval("", 0, 0, 0, reply), POLICY_DUNNO);
}

static void test_parse_errors(void **state)
{
	char err[256];
	assert_null(restrictions_parse(NULL, "x", "permit_mynetworks, reject_everything", err, sizeof(err)));
	assert_string_equal(err, "unknown restriction 'reject_everything'");
	assert_null(restrictions_parse(NULL, "smtpd_client_restrictions",
	    "check_client_access texthash:/nonexistent/access", err, sizeof(err)));
	assert_non_null(strstr(err, "check_client_access: texthash:/nonexistent/access: cannot open"));
	assert_null(restrictions_parse(NULL, "x", "reject_rbl_client", err, sizeof(err)));
	assert_string_equal(err, "restriction reject_rbl_client requires a domain name argument");
	assert_null(restrictions_parse(NULL, "x", "reject_rbl_client zen.test=127.0.0.[2..", err, sizeof(err)));
	assert_non_null(strstr(err, "bad DNS list"));
	assert_null(restrictions_parse(NULL, "x", "check_policy_service foo:bar", err, sizeof(err)));
	assert_non_null(strstr(err, "check_policy_service: expected inet:host:port"));
}

static void test_helo_syntax(void **state)
{
	char reply[512];
	struct policy_ctx c = base_ctx();
	const char *key = "smtpd_helo_restrictions";

	c.helo = "x_y.example";		/* Postfix allows '_' */
	assert_int_equal(run(key, "reject_invalid_helo_hostname", &c, reply), POLICY_DUNNO);
	c.helo = "bad..name";
	assert_int_equal(run(key, "reject_invalid_helo_hostname", &c, reply), POLICY_REJECT);
	assert_string_equal(reply, "501 5.5.2 <bad..name>: Helo command rejected: Invalid name");
	c.helo = "x$y";
	assert_int_equal(run(key, "reject_invalid_helo_hostname", &c, reply), POLICY_REJECT);
	assert_string_equal(reply, "501 5.5.2 <x$y>: Helo command rejected: Invalid name");
	c.helo = "[192.0.2.300]";
	assert_int_equal(run(key, "reject_invalid_helo_hostname", &c, reply), POLICY_REJECT);
	assert_string_equal(reply, "501 5.5.2 <[192.0.2.300]>: Helo command rejected: invalid ip address");
	c.helo = "[192.0.2.1]";
	assert_int_equal(run(key, "reject_non_fqdn_helo_hostname", &c, reply), POLICY_DUNNO);
	c.helo = "x";
	assert_int_equal(run(key, "reject_non_fqdn_helo_hostname", &c, reply), POLICY_REJECT);
	assert_string_equal(reply, "504 5.5.2 <x>: Helo command rejected: need fully-qualified hostname");
	c.helo = "host.example.";
	assert_int_equal(run(key, "reject_non_fqdn_helo_hostname", &c, reply), POLICY_DUNNO);
	c.helo = NULL;
	assert_int_equal(run(key, "reject_non_fqdn_helo_hostname, reject_invalid_helo_hostname",
	    &c, reply), POLICY_DUNNO);
}

static void test_fqdn_addresses_and_client(void **state)
{
	char reply[512];
	struct policy_ctx c = base_ctx();

	c.sender = "a@b";
	assert_int_equal(run("smtpd_sender_restrictions", "reject_non_fqdn_sender", &c, reply), POLICY_REJECT);
	assert_string_equal(reply, "504 5.5.2 <a@b>: Sender address rejected: need fully-qualified address");
	c.sender = "";
	assert_int_equal(run("smtpd_sender_restrictions", "reject_non_fqdn_sender", &c, reply), POLICY_DUNNO);
	c.rcpt = "postmaster";
	assert_int_equal(run("smtpd_recipient_restrictions", "reject_non_fqdn_recipient", &c, reply), POLICY_REJECT);
	assert_string_equal(reply, "504 5.5.2 <postmaster>: Recipient address rejected: need fully-qualified address");
	c.rcpt = "u@[192.0.2.9]";
	assert_int_equal(run("smtpd_recipient_restrictions", "reject_non_fqdn_recipient", &c, reply), POLICY_DUNNO);

	c.client_addr = "127.0.0.5";
	assert_int_equal(run("smtpd_client_restrictions", "reject_unknown_client", &c, reply), POLICY_DEFER);
	assert_string_equal(reply, "450 4.7.25 Client host rejected: cannot find your hostname, [127.0.0.5]");
	assert_int_equal(run("smtpd_client_restrictions", "reject_unknown_reverse_client_hostname", &c, reply), POLICY_DEFER);
	assert_string_equal(reply, "450 4.7.1 Client host rejected: cannot find your reverse hostname, [127.0.0.5]");
	c.client_name_status = NAME_OK;
	c.client_name = "h.example";
	assert_int_equal(run("smtpd_client_restrictions", "reject_unknown_client_hostname", &c, reply), POLICY_DUNNO);

	/* unlisted recipient, pipelining, null sender to many */
	c.rcpt = "nobody@example.com";
	c.rcpt_is_ours = 1;
	c.rcpt_table = "virtual mailbox table";
	assert_int_equal(run("smtpd_recipient_restrictions", "reject_unlisted_recipient", &c, reply), POLICY_REJECT);
	assert_string_equal(reply, "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in virtual mailbox table");
	c.pipelined = 1;
	c.stage = STAGE_DATA;
	assert_int_equal(run("smtpd_data_restrictions", "reject_unauth_pipelining", &c, reply), POLICY_REJECT);
	assert_string_equal(reply, "503 5.5.0 <DATA>: Data command rejected: Improper use of SMTP command pipelining");
}

static void test_warn_and_defer_if(void **state)
{
	char reply[512];
	struct policy_ctx c = base_ctx();

	logged[0] = '\0';
	c.helo = "x";
	assert_int_equal(run("smtpd_helo_restrictions",
	    "warn_if_reject reject_non_fqdn_helo_hostname", &c, reply), POLICY_DUNNO);
	assert_string_equal(logged, "reject_warning: 504 5.5.2 <x>: Helo command rejected: need fully-qualified hostname");
	/* only the next restriction is affected */
	assert_int_equal(run("smtpd_helo_restrictions",
	    "warn_if_reject permit_mynetworks reject_non_fqdn_helo_hostname", &c, reply), POLICY_REJECT);

	assert_int_equal(run("smtpd_recipient_restrictions", "defer_if_permit, permit", &c, reply), POLICY_REJECT);
	assert_string_equal(reply, "450 4.7.0 <u@outside.example>: Recipient address rejected: defer_if_permit requested");
	assert_int_equal(run("smtpd_recipient_restrictions", "defer_if_permit", &c, reply), POLICY_REJECT);
	assert_int_equal(run("smtpd_recipient_restrictions", "defer_if_permit, reject", &c, reply), POLICY_REJECT);
	assert_string_equal(reply, "554 5.7.1 <u@outside.example>: Recipient address rejected: Access denied");
	assert_int_equal(run("smtpd_recipient_restrictions", "defer_if_reject, reject", &c, reply), POLICY_REJECT);
	assert_string_equal(reply, "450 4.7.0 <u@outside.example>: Recipient address rejected: defer_if_reject requested");
	assert_int_equal(run("smtpd_recipient_restrictions", "defer_if_reject, permit", &c, reply), POLICY_PERMIT);
}

static char dir[] = "/tmp/restrict_testXXXXXX";

static void write_file(const char *name, const char *text, char *path, size_t len)
{
	snprintf(path, len, "%s/%s", dir, name);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void test_access_maps(void **state)
{
	char reply[512], path[300], list[400];
	struct policy_ctx c = base_ctx();

	write_file("cidr", "# comment\n192.0.2.0/25 REJECT go away\n192.0.2.0/24 OK\n"
	    "2001:db8::/32 DEFER 4.7.9 slow down\n10.0.0.1 554 5.7.0 one host\n", path, sizeof(path));
	snprintf(list, sizeof(list), "check_client_access cidr:%s", path);
	c.client_addr = "192.0.2.1";
	assert_int_equal(run("smtpd_client_restrictions", list, &c, reply), POLICY_REJECT);
	assert_string_equal(reply, "554 5.7.1 <unknown[192.0.2.1]>: Client host rejected: go away");
	c.client_addr = "192.0.2.200";
	assert_int_equal(run("smtpd_client_restrictions", list, &c, reply), POLICY_PERMIT);
	c.client_addr = "2001:db8::5";
	assert_int_equal(run("smtpd_client_restrictions", list, &c, reply), POLICY_DEFER);
	assert_string_equal(reply, "450 4.7.9 <unknown[2001:db8::5]>: Client host rejected: slow down");
	c.client_addr = "10.0.0.1";
	assert_int_equal(run("smtpd_client_restrictions", list, &c, reply), POLICY_REJECT);
	assert_string_equal(reply, "554 5.7.0 <unknown[10.0.0.1]>: Client host rejected: one host");
	c.client_addr = "10.0.0.2";
	assert_int_equal(run("smtpd_client_restrictions", list, &c, reply), POLICY_DUNNO);
	write_file("badcidr", "192.0.2.1/24 OK\n", path, sizeof(path));
	snprintf(list, sizeof(list), "check_client_access cidr:%s", path);
	char err[256];
	assert_null(restrictions_parse(NULL, "smtpd_client_restrictions", list, err, sizeof(err)));
	assert_non_null(strstr(err, "line 1: non-null host address bits"));

	write_file("access", "spam.example REJECT\nfriend@b.example OK\n"
	    "b.example DUNNO\nexample DEFER\npostmaster@ OK\n<> 550 no bounces here\n"
	    "192.0.2 REJECT net\nhelo.example WARN odd helo\n", path, sizeof(path));
	c.sender = "x@mail.spam.example";
	snprintf(list, sizeof(list), "check_sender_access texthash:%s", path);
	assert_int_equal(run("smtpd_sender_restrictions", list, &c, reply), POLICY_REJECT);
	assert_string_equal(reply, "554 5.7.1 <x@mail.spam.example>: Sender address rejected: Access denied");
	c.sender = "friend@b.example";
	assert_int_equal(run("smtpd_sender_restrictions", list, &c, reply), POLICY_PERMIT);
	c.sender = "other@b.example";
	assert_int_equal(run("smtpd_sender_restrictions", list, &c, reply), POLICY_DUNNO);
	c.sender = "other@c.example";
	assert_int_equal(run("smtpd_sender_restrictions", list, &c, reply), POLICY_DEFER);
	assert_string_equal(reply, "450 4.7.1 <other@c.example>: Sender address rejected: Access denied");
	c.sender = "postmaster@nowhere.test";
	assert_int_equal(run("smtpd_sender_restrictions", list, &c, reply), POLICY_PERMIT);
	c.sender = "";
	assert_int_equal(run("smtpd_sender_restrictions", list, &c, reply), POLICY_REJECT);
	assert_string_equal(reply, "550 5.7.1 <>: Sender address rejected: no bounces here");
	/* client by address prefix; the short-hand type:name in a client list */
	snprintf(list, sizeof(list), "texthash:%s", path);
	c.client_addr = "192.0.2.77";
	assert_int_equal(run("smtpd_client_restrictions", list, &c, reply), POLICY_REJECT);
	assert_string_equal(reply, "554 5.7.1 <unknown[192.0.2.77]>: Client host rejected: net");
	/* helo by parent domain, WARN logs and goes on */
	snprintf(list, sizeof(list), "check_helo_access texthash:%s", path);
	c.helo = "mx.spam.example";
	assert_int_equal(run("smtpd_recipient_restrictions", list, &c, reply), POLICY_REJECT);
	assert_string_equal(reply, "554 5.7.1 <mx.spam.example>: Helo command rejected: Access denied");
	c.helo = "helo.example";
	logged[0] = '\0';
	assert_int_equal(run("smtpd_recipient_restrictions", list, &c, reply), POLICY_DUNNO);
	assert_string_equal(logged, "warn: odd helo");
	/* recipient */
	c.rcpt = "u@spam.example";
	snprintf(list, sizeof(list), "check_recipient_access texthash:%s", path);
	assert_int_equal(run("smtpd_recipient_restrictions", list, &c, reply), POLICY_REJECT);
	assert_string_equal(reply, "554 5.7.1 <u@spam.example>: Recipient address rejected: Access denied");
}

/* ---- DNS restrictions with the fake DNS ---- */

static void test_dns_pending(void **state)
{
	char reply[512];
	struct policy_ctx c = base_ctx();
	char err[256];

	nfakes = 0;
	wakes = 0;
	c.client_addr = "127.0.0.5";
	fake_add("5.0.0.127.dnsbl.test", DNS_A, DNS_OK, "127.0.0.2");
	fake_add("5.0.0.127.dnsbl.test", DNS_TXT, DNS_OK, "listed for testing");
	fake_add("5.0.0.127.other.test", DNS_A, DNS_OK, "127.0.0.4");
	struct restrictions *r = restrictions_parse(NULL, "smtpd_client_restrictions",
	    "reject_rbl_client other.test=127.0.0.[2;3], reject_rbl_client dnsbl.test", err, sizeof(err));
	assert_non_null(r);
	lookups = 0;
	assert_int_equal(restrictions_eval(r, &c, reply, sizeof(reply)), POLICY_PENDING);
	assert_int_equal(lookups, 2);	/* both lists asked at once */
	fake_deliver();
	assert_int_equal(wakes, 1);
	/* A answered: now the TXT record */
	assert_int_equal(restrictions_eval(r, &c, reply, sizeof(reply)), POLICY_PENDING);
	fake_deliver();
	assert_int_equal(wakes, 2);
	assert_int_equal(restrictions_eval(r, &c, reply, sizeof(reply)), POLICY_REJECT);
	assert_string_equal(reply, "554 5.7.1 Service unavailable; Client host [127.0.0.5] "
	    "blocked using dnsbl.test; listed for testing");
	policy_ctx_clear(&c);
	restrictions_free(r);

	/* unknown sender domain: NXDOMAIN -> 450 4.1.8; tempfail -> defer_if_permit */
	nfakes = 0;
	c.sender = "a@nx.test";
	assert_int_equal(run("smtpd_sender_restrictions", "reject_unknown_sender_domain", &c, reply), POLICY_DEFER);
	assert_string_equal(reply, "450 4.1.8 <a@nx.test>: Sender address rejected: Domain not found");
	policy_ctx_clear(&c);
	fake_add("slow.test", DNS_MX, DNS_TEMPFAIL, NULL);
	fake_add("slow.test", DNS_A, DNS_TEMPFAIL, NULL);
	fake_add("slow.test", DNS_AAAA, DNS_TEMPFAIL, NULL);
	c.sender = "a@slow.test";
	r = restrictions_parse(NULL, "smtpd_sender_restrictions",
	    "reject_unknown_sender_domain, permit", err, sizeof(err));
	assert_int_equal(restrictions_eval(r, &c, reply, sizeof(reply)), POLICY_PENDING);
	fake_deliver();
	assert_int_equal(restrictions_eval(r, &c, reply, sizeof(reply)), POLICY_PENDING);
	fake_deliver();
	assert_int_equal(restrictions_eval(r, &c, reply, sizeof(reply)), POLICY_REJECT);
	assert_string_equal(reply, "450 4.1.8 <a@slow.test>: Sender address rejected: Domain not found");
	restrictions_free(r);
	policy_ctx_clear(&c);
	/* our own (final destination) domain: no lookup, whatever the DNS says */
	lookups = 0;
	c.sender_is_final = 1;
	assert_int_equal(run("smtpd_sender_restrictions", "reject_unknown_sender_domain", &c, reply), POLICY_DUNNO);
	c.sender_is_final = 0;
	c.rcpt = "b@slow.test";
	c.rcpt_is_final = 1;
	assert_int_equal(run("smtpd_recipient_restrictions", "reject_unknown_recipient_domain", &c, reply), POLICY_DUNNO);
	assert_int_equal(lookups, 0);
	c.rcpt_is_final = 0;
	c.rcpt_is_ours = 1;	/* relay_domains: accepted, not final: looked up */
	assert_int_equal(run("smtpd_recipient_restrictions", "reject_unknown_recipient_domain", &c, reply), POLICY_PENDING);
	c.rcpt = NULL;
	c.rcpt_is_ours = 0;
	policy_ctx_clear(&c);
	/* helo that does not resolve */
	c.helo = "nx.test";
	assert_int_equal(run("smtpd_helo_restrictions", "reject_unknown_helo_hostname", &c, reply), POLICY_DEFER);
	assert_string_equal(reply, "450 4.7.1 <nx.test>: Helo command rejected: Host not found");
	policy_ctx_clear(&c);
	/* a pending lookup is cancelled when the session goes away */
	nfakes = 0;
	fake_add("5.0.0.127.dnsbl.test", DNS_A, DNS_OK, "127.0.0.2");
	assert_int_equal(run("smtpd_client_restrictions", "reject_rbl_client dnsbl.test", &c, reply), POLICY_PENDING);
	policy_ctx_clear(&c);
	wakes = 0;
	fake_deliver();
	assert_int_equal(wakes, 0);
}

/* ---- check_policy_service against a forked policy server ---- */

static pid_t start_server(const char *path, const char *reply, int delay)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	snprintf(un.sun_path, sizeof(un.sun_path), "%s", path);
	unlink(path);
	int ls = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(ls >= 0);
	assert_int_equal(bind(ls, (struct sockaddr *)&un, sizeof(un)), 0);
	assert_int_equal(listen(ls, 5), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		for (;;) {
			int fd = accept(ls, NULL, NULL);
			if (fd < 0)
				_exit(1);
			char req[8192];
			size_t n = 0;
			while (n < sizeof(req) - 1) {
				ssize_t r = read(fd, req + n, sizeof(req) - 1 - n);
				if (r <= 0)
					break;
				n += (size_t)r;
				req[n] = '\0';
				if (strstr(req, "\n\n"))
					break;
			}
			req[n] = '\0';
			if (delay)
				sleep((unsigned)delay);
			char out[512];
			/* echo what we check in the request into the reply */
			int ok = strstr(req, "request=smtpd_access_policy\n") && strstr(req,
			    "protocol_state=RCPT\n") && strstr(req, "recipient=u@outside.example\n")
			    && strstr(req, "client_address=192.0.2.1\n") && strstr(req, "instance=");
			snprintf(out, sizeof(out), "action=%s\n\n", ok ? reply : "REJECT bad request");
			if (write(fd, out, strlen(out)) < 0)
				_exit(1);
			close(fd);
		}
	}
	close(ls);
	return pid;
}

static void stop_server(pid_t pid)
{
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

static void test_policy_service(void **state)
{
	char reply[512], path[300], list[400], err[256];
	struct policy_ctx c = base_ctx();

	loop_init();
	c.wake_arg = &c;	/* on_wake: loop_exit */
	snprintf(path, sizeof(path), "%s/policy", dir);
	pid_t pid = start_server(path, "REJECT go away", 0);
	snprintf(list, sizeof(list), "check_policy_service unix:%s", path);
	struct restrictions *r = restrictions_parse(NULL, "smtpd_recipient_restrictions", list, err, sizeof(err));
	assert_non_null(r);
	wakes = 0;
	assert_int_equal(restrictions_eval(r, &c, reply, sizeof(reply)), POLICY_PENDING);
	loop_run();
	assert_int_equal(wakes, 1);
	assert_int_equal(restrictions_eval(r, &c, reply, sizeof(reply)), POLICY_REJECT);
	assert_string_equal(reply, "554 5.7.1 <u@outside.example>: Recipient address rejected: go away");
	policy_ctx_clear(&c);
	restrictions_free(r);
	stop_server(pid);

	/* greylisting-style answer: a 4xx text */
	pid = start_server(path, "DEFER_IF_PERMIT Greylisted, see http://x", 0);
	r = restrictions_parse(NULL, "smtpd_recipient_restrictions", list, err, sizeof(err));
	assert_int_equal(restrictions_eval(r, &c, reply, sizeof(reply)), POLICY_PENDING);
	loop_run();
	assert_int_equal(restrictions_eval(r, &c, reply, sizeof(reply)), POLICY_REJECT);
	assert_string_equal(reply, "450 4.7.1 <u@outside.example>: Recipient address rejected: Greylisted, see http://x");
	policy_ctx_clear(&c);
	restrictions_free(r);
	stop_server(pid);

	/* no server: the default action at once */
	unlink(path);
	r = restrictions_parse(NULL, "smtpd_recipient_restrictions", list, err, sizeof(err));
	assert_int_equal(restrictions_eval(r, &c, reply, sizeof(reply)), POLICY_DEFER);
	assert_string_equal(reply, "451 4.3.5 <u@outside.example>: Recipient address rejected: Server configuration problem");
	policy_ctx_clear(&c);
	restrictions_free(r);
}

static int setup(void **state)
{
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_relay_default),
		cmocka_unit_test(test_reply_relay_kind),
		cmocka_unit_test(test_list_table),
		cmocka_unit_test(test_defer_and_order),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_helo_syntax),
		cmocka_unit_test(test_fqdn_addresses_and_client),
		cmocka_unit_test(test_warn_and_defer_if),
		cmocka_unit_test(test_access_maps),
		cmocka_unit_test(test_dns_pending),
		cmocka_unit_test(test_policy_service),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
