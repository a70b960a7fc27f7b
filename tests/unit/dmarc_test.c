/*
 * dmarc_test — src/dmarc without a network: the record parser (tags,
 * defaults, v= first, bad p= with and without rua=), the choice among
 * TXT answers, the organisational domain from Debian's Public Suffix
 * List (multi-label suffixes, wildcards, exceptions), the alignment
 * table (relaxed / strict) and the evaluation (p=, sp=, pct=).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "dmarc/dmarc.h"

#define PSL "/usr/share/publicsuffix/public_suffix_list.dat"

static int setup(void **st)
{
	char err[256];
	return dmarc_psl_load(PSL, err, sizeof(err));
}

/* Debian's list writes internationalised suffixes in UTF-8 ("公司.cn");
 * mail and DNS carry them as A-labels ("xn--55qx5d.cn"). Two owners
 * under such a suffix are two organisations. */
static void org_domain_idn(void **st)
{
	char o[256];
	assert_int_equal(dmarc_org_domain("mail.shop.xn--55qx5d.cn", o, sizeof(o)), 0);
	assert_string_equal(o, "shop.xn--55qx5d.cn");
	assert_int_equal(dmarc_org_domain("xn--55qx5d.cn", o, sizeof(o)), -1);	/* a suffix */
	assert_false(dmarc_aligned("evil.xn--55qx5d.cn", "bank.xn--55qx5d.cn", 0));
	assert_int_equal(dmarc_org_domain("a.b.xn--p1ai", o, sizeof(o)), 0);	/* рф */
	assert_string_equal(o, "b.xn--p1ai");
}

static void parse_tags(void **st)
{
	struct dmarc_record r;
	assert_int_equal(dmarc_parse("v=DMARC1; p=reject; sp=none; adkim=s; aspf=s; pct=20; "
	    "rua=mailto:d@example.com", &r), 1);
	assert_int_equal(r.p, DMARC_P_REJECT);
	assert_int_equal(r.sp, DMARC_P_NONE);
	assert_true(r.adkim_strict && r.aspf_strict);
	assert_int_equal(r.pct, 20);
	assert_int_equal(dmarc_parse("v=DMARC1;p=quarantine", &r), 1);
	assert_int_equal(r.p, DMARC_P_QUARANTINE);
	assert_int_equal(r.sp, DMARC_P_QUARANTINE);	/* sp defaults to p */
	assert_false(r.adkim_strict || r.aspf_strict);
	assert_int_equal(r.pct, 100);
	assert_int_equal(dmarc_parse("v=DMARC1; p=none; pct=200", &r), 1);
	assert_int_equal(r.pct, 100);			/* out of range: ignored */
}

static void parse_bad(void **st)
{
	struct dmarc_record r;
	assert_int_equal(dmarc_parse("v=spf1 -all", &r), 0);
	assert_int_equal(dmarc_parse("p=reject; v=DMARC1", &r), 0);	/* v= not first */
	assert_int_equal(dmarc_parse("v=DMARC2; p=reject", &r), 0);
	assert_int_equal(dmarc_parse("v=DMARC1; p=bogus", &r), -1);
	assert_int_equal(dmarc_parse("v=DMARC1", &r), -1);
	assert_int_equal(dmarc_parse("v=DMARC1; p=bogus; rua=mailto:a@b.example", &r), 1);
	assert_int_equal(r.p, DMARC_P_NONE);	/* 6.6.3 */
}

/* A record longer than 1 KiB (many report addresses) is still read:
 * DNS joins a TXT record's strings, RFC 7489 sets no length. */
static void parse_long(void **st)
{
	struct dmarc_record r;
	char rec[3000];
	size_t n = (size_t)snprintf(rec, sizeof(rec), "v=DMARC1; rua=");
	for (int i = 0; i < 60; i++)
		n += (size_t)snprintf(rec + n, sizeof(rec) - n, "%smailto:reports%02d@example.com",
		    i ? "," : "", i);
	snprintf(rec + n, sizeof(rec) - n, "; p=reject; sp=quarantine; pct=50");
	assert_true(strlen(rec) > 1500);
	assert_int_equal(dmarc_parse(rec, &r), 1);
	assert_int_equal(r.p, DMARC_P_REJECT);
	assert_int_equal(r.sp, DMARC_P_QUARANTINE);
	assert_int_equal(r.pct, 50);
}

static void pick(void **st)
{
	struct dmarc_record r;
	char *one[] = { "v=spf1 -all", "v=DMARC1; p=reject" };
	char *two[] = { "v=DMARC1; p=reject", "v=DMARC1; p=none" };
	assert_int_equal(dmarc_pick(one, 2, &r), 1);
	assert_int_equal(r.p, DMARC_P_REJECT);
	assert_int_equal(dmarc_pick(two, 2, &r), 0);
	assert_int_equal(dmarc_pick(one, 1, &r), 0);
}

static void org(const char *name, const char *want)
{
	char out[256];
	if (want == NULL) {
		assert_int_equal(dmarc_org_domain(name, out, sizeof(out)), -1);
		return;
	}
	assert_int_equal(dmarc_org_domain(name, out, sizeof(out)), 0);
	assert_string_equal(out, want);
}

static void org_domain(void **st)
{
	assert_true(dmarc_psl_count() > 5000);
	org("example.com", "example.com");
	org("a.b.mail.example.com", "example.com");
	org("mail.example.co.uk", "example.co.uk");	/* multi-label suffix */
	org("example.co.uk", "example.co.uk");
	org("MAIL.Example.CO.UK.", "example.co.uk");
	org("x.y.example.kawasaki.jp", "y.example.kawasaki.jp");	/* *.kawasaki.jp */
	org("a.city.kawasaki.jp", "city.kawasaki.jp");	/* !city.kawasaki.jp */
	org("foo.bar.example", "bar.example");		/* unknown TLD: the "*" rule */
	org("co.uk", NULL);				/* a public suffix */
	org("", NULL);
}

static void alignment(void **st)
{
	static const struct {
		const char *a, *b;
		int strict, want;
	} t[] = {
		{ "example.com", "example.com", 1, 1 },
		{ "example.com", "EXAMPLE.com", 1, 1 },
		{ "mail.example.com", "example.com", 1, 0 },
		{ "mail.example.com", "example.com", 0, 1 },
		{ "a.example.com", "b.example.com", 0, 1 },
		{ "mail.example.co.uk", "example.co.uk", 0, 1 },
		{ "mail.example.co.uk", "example.co.uk", 1, 0 },
		{ "example.co.uk", "other.co.uk", 0, 0 },	/* not "the last two labels" */
		{ "example.com", "example.net", 0, 0 },
		{ "", "example.com", 0, 0 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_int_equal(dmarc_aligned(t[i].a, t[i].b, t[i].strict), t[i].want);
}

static void evaluate(void **st)
{
	struct dmarc_record r;
	struct dmarc_outcome o;
	const char *d[] = { "mail.example.com" };
	struct dmarc_input in = { "example.com", d, 1, NULL };
	dmarc_parse("v=DMARC1; p=reject; sp=quarantine", &r);
	dmarc_evaluate(&in, &r, 0, 0, &o);
	assert_int_equal(o.result, DMARC_PASS);		/* relaxed DKIM alignment */
	assert_true(o.dkim_aligned && !o.spf_aligned);
	dmarc_parse("v=DMARC1; p=reject; adkim=s", &r);
	dmarc_evaluate(&in, &r, 0, 0, &o);
	assert_int_equal(o.result, DMARC_FAIL);		/* strict: no */
	assert_int_equal(o.disposition, DMARC_P_REJECT);
	in.spf_pass = "example.com";
	dmarc_evaluate(&in, &r, 0, 0, &o);
	assert_int_equal(o.result, DMARC_PASS);		/* SPF aligned */
	assert_int_equal(o.disposition, DMARC_P_NONE);
	in.spf_pass = NULL;
	in.ndkim = 0;
	in.from_domain = "sub.example.com";
	dmarc_parse("v=DMARC1; p=reject; sp=quarantine", &r);
	dmarc_evaluate(&in, &r, 1, 0, &o);		/* found at the org domain: sp= */
	assert_int_equal(o.result, DMARC_FAIL);
	assert_int_equal(o.policy, DMARC_P_QUARANTINE);
	dmarc_parse("v=DMARC1; p=reject; pct=30", &r);
	dmarc_evaluate(&in, &r, 0, 29, &o);
	assert_int_equal(o.disposition, DMARC_P_REJECT);	/* sampled */
	dmarc_evaluate(&in, &r, 0, 30, &o);
	assert_int_equal(o.disposition, DMARC_P_QUARANTINE);	/* not: one down */
}

static void from_domain(void **st)
{
	char d[256];
	const char *m1 = "Subject: x\r\nFrom: \"A, B\" <a@Mail.Example.COM>\r\nTo: b@c\r\n\r\nbody\r\n";
	assert_int_equal(dmarc_from_domain(m1, strlen(m1), d, sizeof(d)), 0);
	assert_string_equal(d, "mail.example.com");
	const char *m2 = "From: a@x.example (comment)\n\nbody\n";
	assert_int_equal(dmarc_from_domain(m2, strlen(m2), d, sizeof(d)), 0);
	assert_string_equal(d, "x.example");
	const char *m3 = "From: a@x.example, b@y.example\n\n";
	assert_int_equal(dmarc_from_domain(m3, strlen(m3), d, sizeof(d)), -1);
	const char *m4 = "From: a@x.example\nFrom: b@y.example\n\n";
	assert_int_equal(dmarc_from_domain(m4, strlen(m4), d, sizeof(d)), -1);
	const char *m5 = "Subject: no from\n\nFrom: a@x.example\n";
	assert_int_equal(dmarc_from_domain(m5, strlen(m5), d, sizeof(d)), -1);
	const char *m6 = "From: Someone\n <a@folded.example>\n\n";
	assert_int_equal(dmarc_from_domain(m6, strlen(m6), d, sizeof(d)), 0);
	assert_string_equal(d, "folded.example");
}

/* The From domain is the address a reader sees, whatever the display
 * name holds: quoted-pairs in quoted strings and comments, a long
 * display name or padding, obs-from's "From :" (RFC 5322 3.2.1, 4.5.1). */
static void from_domain_tricks(void **st)
{
	char d[256];
	/* the display name is '" <b@evil.example>' (an escaped quote) */
	const char *m1 = "From: \"\\\" <b@evil.example>\" <ceo@bank.example>\n\n";
	assert_int_equal(dmarc_from_domain(m1, strlen(m1), d, sizeof(d)), 0);
	assert_string_equal(d, "bank.example");
	/* the comment is '\(' (an escaped parenthesis), then the address */
	const char *m2 = "From: (\\() <ceo@bank.example>\n\n";
	assert_int_equal(dmarc_from_domain(m2, strlen(m2), d, sizeof(d)), 0);
	assert_string_equal(d, "bank.example");
	/* 2000 spaces of padding before the address */
	char m3[2100];
	snprintf(m3, sizeof(m3), "From: %2000s<ceo@bank.example>\n\n", "");
	assert_int_equal(dmarc_from_domain(m3, strlen(m3), d, sizeof(d)), 0);
	assert_string_equal(d, "bank.example");
	/* obs-from: white space before the colon; two of them are two */
	const char *m4 = "From : <ceo@bank.example>\n\n";
	assert_int_equal(dmarc_from_domain(m4, strlen(m4), d, sizeof(d)), 0);
	assert_string_equal(d, "bank.example");
	const char *m5 = "From: a@x.example\nFROM\t: b@y.example\n\n";
	assert_int_equal(dmarc_from_domain(m5, strlen(m5), d, sizeof(d)), -1);
	const char *m6 = "From-X: a@x.example\nFrom: b@y.example\n\n";
	assert_int_equal(dmarc_from_domain(m6, strlen(m6), d, sizeof(d)), 0);
	assert_string_equal(d, "y.example");
}

/* The From domain goes into Authentication-Results (header.from=) and
 * names the policy: it ends where a domain name's characters end, so a
 * ';' cannot add a result and "bank.example;x" is bank.example's mail. */
static void from_domain_chars(void **st)
{
	char d[256];
	const char *m1 = "From: ceo@bank.example;dkim=pass header.d=bank.example\n\n";
	assert_int_equal(dmarc_from_domain(m1, strlen(m1), d, sizeof(d)), 0);
	assert_string_equal(d, "bank.example");
	const char *m2 = "From: <ceo@Bank.Example dmarc=pass>\n\n";
	assert_int_equal(dmarc_from_domain(m2, strlen(m2), d, sizeof(d)), 0);
	assert_string_equal(d, "bank.example");
	const char *m3 = "From: a@[192.0.2.1]\n\n";
	assert_int_equal(dmarc_from_domain(m3, strlen(m3), d, sizeof(d)), -1);
	const char *m4 = "From: a@xn--bcher-kva.example\n\n";
	assert_int_equal(dmarc_from_domain(m4, strlen(m4), d, sizeof(d)), 0);
	assert_string_equal(d, "xn--bcher-kva.example");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_tags), cmocka_unit_test(parse_bad),
		cmocka_unit_test(parse_long), cmocka_unit_test(pick),
		cmocka_unit_test(org_domain), cmocka_unit_test(org_domain_idn), cmocka_unit_test(alignment),
		cmocka_unit_test(evaluate), cmocka_unit_test(from_domain),
		cmocka_unit_test(from_domain_tricks),
		cmocka_unit_test(from_domain_chars),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
