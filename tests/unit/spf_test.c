/*
 * spf_test — src/spf without a network: the macro expander (RFC 7208
 * section 7.4's examples), the record parser (good records and the
 * syntax errors that are permerrors), and check_host() over a fake DNS
 * table that answers only on the second ask, so every test also goes
 * through the restart-with-cache path of spf.h (pending, then done).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "spf/spf.h"
#include "spf/spf_int.h"

/* ---- macros: RFC 7208 7.4 ---- */

static const struct spf_macro_ctx rfc = {
	.s = "strong-bad@email.example.com", .l = "strong-bad", .o = "email.example.com",
	.d = "email.example.com", .i = "192.0.2.3", .p = "mx.example.org", .v = "in-addr",
	.h = "mx.example.org", .c = "192.0.2.3", .r = "mx.example.net", .t = 1200000000,
};

static void expands(const char *in, const char *want)
{
	char out[512];
	assert_int_equal(spf_macro_expand(in, &rfc, out, sizeof(out)), SPF_MACRO_OK);
	assert_string_equal(out, want);
}

static void test_macro_rfc_examples(void **state)
{
	expands("%{s}", "strong-bad@email.example.com");
	expands("%{o}", "email.example.com");
	expands("%{d}", "email.example.com");
	expands("%{d4}", "email.example.com");
	expands("%{d3}", "email.example.com");
	expands("%{d2}", "example.com");
	expands("%{d1}", "com");
	expands("%{dr}", "com.example.email");
	expands("%{d2r}", "example.email");
	expands("%{l}", "strong-bad");
	expands("%{l-}", "strong.bad");
	expands("%{lr}", "strong-bad");
	expands("%{lr-}", "bad.strong");
	expands("%{l1r-}", "strong");
	expands("%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com");
	expands("%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com");
	expands("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
	    "bad.strong.lp.3.2.0.192.in-addr._spf.example.com");
	expands("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
	    "3.2.0.192.in-addr.strong.lp._spf.example.com");
	expands("%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net");
	expands("%%%_%-", "% %20");
	expands("%{S}", "strong-bad%40email.example.com");	/* upper case: URL-escaped */
}

static void test_macro_errors(void **state)
{
	char out[64];
	struct spf_macro_ctx m = rfc;
	assert_int_equal(spf_macro_expand("%{x}", &m, out, sizeof(out)), SPF_MACRO_SYNTAX);
	assert_int_equal(spf_macro_expand("%{d", &m, out, sizeof(out)), SPF_MACRO_SYNTAX);
	assert_int_equal(spf_macro_expand("%{d0}", &m, out, sizeof(out)), SPF_MACRO_SYNTAX);
	assert_int_equal(spf_macro_expand("%{d2!}", &m, out, sizeof(out)), SPF_MACRO_SYNTAX);
	assert_int_equal(spf_macro_expand("%x", &m, out, sizeof(out)), SPF_MACRO_SYNTAX);
	assert_int_equal(spf_macro_expand("50%", &m, out, sizeof(out)), SPF_MACRO_SYNTAX);
	/* c, r, t only in explanations */
	assert_int_equal(spf_macro_expand("%{c}", &m, out, sizeof(out)), SPF_MACRO_SYNTAX);
	m.exp = 1;
	assert_int_equal(spf_macro_expand("%{c} at %{t}", &m, out, sizeof(out)), SPF_MACRO_OK);
	assert_string_equal(out, "192.0.2.3 at 1200000000");
	m.exp = 0;
	m.p = NULL;
	assert_int_equal(spf_macro_expand("%{p}", &m, out, sizeof(out)), SPF_MACRO_NEED_P);
	assert_int_equal(spf_macro_expand("%{s}%{s}%{s}", &m, out, 40), SPF_MACRO_TOO_LONG);
}

/* ---- record parser ---- */

static void test_parse_good(void **state)
{
	static struct spf_record rec;
	char err[256];
	assert_int_equal(spf_parse("v=spf1 +a mx/24//64 -ptr:%{d}.x.org ~ip4:192.0.2.0/24 "
	    "?ip6:2001:db8::/32 include:_spf.example.com exists:%{i}.bl.example "
	    "redirect=_spf.example.org exp=why.example.org unknown=%{d} -all",
	    &rec, err, sizeof(err)), 0);
	assert_int_equal(rec.n, 8);
	assert_int_equal(rec.terms[0].mech, SPF_M_A);
	assert_int_equal(rec.terms[0].qual, '+');
	assert_int_equal(rec.terms[1].mech, SPF_M_MX);
	assert_int_equal(rec.terms[1].cidr4, 24);
	assert_int_equal(rec.terms[1].cidr6, 64);
	assert_null(rec.terms[1].spec);
	assert_int_equal(rec.terms[2].qual, '-');
	assert_string_equal(rec.terms[2].spec, "%{d}.x.org");
	assert_int_equal(rec.terms[3].mech, SPF_M_IP4);
	assert_string_equal(rec.terms[3].text, "~ip4:192.0.2.0/24");
	assert_string_equal(rec.terms[1].text, "mx/24//64");
	assert_int_equal(rec.terms[3].cidr4, 24);
	assert_int_equal(rec.terms[3].addr[0], 192);
	assert_int_equal(rec.terms[4].cidr6, 32);
	assert_string_equal(rec.terms[5].spec, "_spf.example.com");
	assert_string_equal(rec.redirect, "_spf.example.org");
	assert_string_equal(rec.exp, "why.example.org");
	assert_int_equal(rec.terms[7].mech, SPF_M_ALL);
	assert_int_equal(rec.terms[7].qual, '-');
	assert_int_equal(spf_parse("V=SPF1   MX   -ALL ", &rec, err, sizeof(err)), 0);
	assert_int_equal(rec.n, 2);
	assert_int_equal(spf_parse("v=spf1", &rec, err, sizeof(err)), 0);
	assert_int_equal(rec.n, 0);
}

static void test_parse_errors(void **state)
{
	static const char *const bad[] = {
		"v=spf1 ip4:192.0.2.300",	/* bad address */
		"v=spf1 ip4:192.0.2.0/33",	/* bad prefix */
		"v=spf1 ip4:192.0.2.0/024",	/* leading zero */
		"v=spf1 ip6:2001:db8::/129",
		"v=spf1 ip4",			/* no address */
		"v=spf1 a/33",
		"v=spf1 mx//129",
		"v=spf1 include",		/* include needs a domain */
		"v=spf1 exists",
		"v=spf1 foo:bar.example",	/* unknown mechanism */
		"v=spf1 -all:x",
		"v=spf1 a:example",		/* no top label after a dot */
		"v=spf1 a:example.123",		/* numeric top label */
		"v=spf1 a:%{z}.example.com",	/* bad macro */
		"v=spf1 redirect=a.example redirect=b.example",
		"v=spf1 exp=a.example exp=b.example",
		"v=spf1 ptr/24",		/* no CIDR for ptr */
		"v=spf1 *all",
		"v=spf1 x=%{q}",		/* unknown modifier with a bad macro */
		"v=spf10 -all",
	};
	static struct spf_record rec;
	char err[256];
	for (size_t k = 0; k < sizeof(bad) / sizeof(*bad); k++) {
		if (spf_parse(bad[k], &rec, err, sizeof(err)) != -1)
			fail_msg("accepted: %s", bad[k]);
	}
	assert_int_equal(spf_is_record("v=spf10 -all"), 0);
	assert_int_equal(spf_is_record("v=spf1 -all"), 1);
	assert_int_equal(spf_is_record("v=spf1"), 1);
}

/* ---- check_host over a fake DNS ---- */

struct rr {
	const char *name;
	enum dns_type type;
	const char *items[4];	/* NULL-terminated; "TEMPFAIL" = temporary failure */
};

static const struct rr zone[] = {
	{ "ex.test", DNS_TXT, { "v=spf1 a mx include:inc.test -all" } },
	{ "ex.test", DNS_A, { "192.0.2.1" } },
	{ "ex.test", DNS_MX, { "10 mx.ex.test" } },
	{ "mx.ex.test", DNS_A, { "192.0.2.2" } },
	{ "inc.test", DNS_TXT, { "spam", "v=spf1 ip4:198.51.100.0/24 ?all" } },
	{ "two.test", DNS_TXT, { "v=spf1 -all", "v=spf1 +all" } },
	{ "tmp.test", DNS_TXT, { "TEMPFAIL" } },
	{ "redir.test", DNS_TXT, { "v=spf1 redirect=ex.test" } },
	{ "exp.test", DNS_TXT, { "v=spf1 -all exp=why.exp.test" } },
	{ "why.exp.test", DNS_TXT, { "%{i} may not send for %{d} (%{c})" } },
	{ "loop.test", DNS_TXT, { "v=spf1 include:loop.test" } },
	{ "ptr.test", DNS_TXT, { "v=spf1 ptr -all" } },
	{ "1.2.0.192.in-addr.arpa", DNS_PTR, { "host.ptr.test", "other.example" } },
	{ "host.ptr.test", DNS_A, { "192.0.2.1" } },
	{ NULL, DNS_A, { NULL } },
};

struct fake {
	int asked[64];		/* per row: asked once already */
	int queries;
	struct dns_result res;
	char *items[4];
};

static const struct dns_result *fake_dns(void *arg, const char *name, enum dns_type type)
{
	struct fake *f = arg;
	size_t k;
	for (k = 0; zone[k].name; k++)
		if (zone[k].type == type && strcmp(zone[k].name, name) == 0)
			break;
	if (!f->asked[k]) {		/* the first ask "starts a lookup" */
		f->asked[k] = 1;
		f->queries++;
		return NULL;
	}
	memset(&f->res, 0, sizeof(f->res));
	f->res.items = f->items;
	if (zone[k].name == NULL) {
		f->res.status = DNS_NOTFOUND;
		f->res.nxdomain = 1;
		return &f->res;
	}
	if (strcmp(zone[k].items[0], "TEMPFAIL") == 0) {
		f->res.status = DNS_TEMPFAIL;
		return &f->res;
	}
	for (size_t j = 0; j < 4 && zone[k].items[j]; j++)
		f->items[f->res.n++] = (char *)zone[k].items[j];
	return &f->res;
}

static enum spf_res run(const char *ip, const char *sender, struct spf_result *r)
{
	static struct fake f;
	struct spf_request rq = { ip, sender, "helo.test", "mx.local", 1200000000 };
	int rounds = 0;
	memset(&f, 0, sizeof(f));
	while (!spf_check(&rq, fake_dns, &f, r))
		assert_true(++rounds < 100);
	assert_int_equal(rounds, f.queries);	/* one restart per lookup */
	return r->result;
}

static void test_check_host(void **state)
{
	struct spf_result r;
	assert_int_equal(run("192.0.2.1", "a@ex.test", &r), SPF_PASS);
	assert_string_equal(r.mechanism, "a");
	assert_string_equal(r.domain, "ex.test");
	assert_string_equal(r.identity, "mailfrom");
	assert_int_equal(run("192.0.2.2", "a@ex.test", &r), SPF_PASS);		/* mx */
	assert_int_equal(run("198.51.100.7", "a@EX.test", &r), SPF_PASS);	/* include */
	assert_int_equal(r.lookups, 3);
	assert_int_equal(run("203.0.113.1", "a@ex.test", &r), SPF_FAIL);
	assert_string_equal(r.explanation, "SPF fail - not authorized");
	assert_int_equal(run("203.0.113.1", "a@redir.test", &r), SPF_FAIL);
	assert_int_equal(run("203.0.113.1", "a@two.test", &r), SPF_PERMERROR);
	assert_int_equal(run("203.0.113.1", "a@tmp.test", &r), SPF_TEMPERROR);
	assert_int_equal(run("203.0.113.1", "a@none.test", &r), SPF_NONE);
	assert_int_equal(run("203.0.113.1", "a@nodot", &r), SPF_NONE);
	assert_int_equal(run("203.0.113.1", "a@loop.test", &r), SPF_PERMERROR);
	assert_int_equal(run("203.0.113.1", "a@exp.test", &r), SPF_FAIL);
	assert_string_equal(r.explanation, "203.0.113.1 may not send for exp.test (203.0.113.1)");
	assert_int_equal(run("192.0.2.1", "a@ptr.test", &r), SPF_PASS);
	assert_int_equal(run("::ffff:192.0.2.1", "a@ptr.test", &r), SPF_PASS);	/* mapped = v4 */
	assert_int_equal(run("2001:db8::1", "a@ex.test", &r), SPF_FAIL);
	assert_int_equal(run("192.0.2.9", "", &r), SPF_NONE);			/* <>: helo */
	assert_string_equal(r.identity, "helo");
	assert_string_equal(r.sender, "postmaster@helo.test");
	assert_int_equal(run("not-an-ip", "a@ex.test", &r), SPF_PERMERROR);
}

static void test_received_header(void **state)
{
	struct spf_result r;
	struct spf_request rq = { "192.0.2.1", "a@ex.test", "he\r\nlo", NULL, 0 };
	char h[512];
	run("192.0.2.1", "a@ex.test", &r);
	assert_true(spf_received_header(&r, &rq, "b@ours.test", h, sizeof(h)) > 0);
	assert_string_equal(h, "Received-SPF: Pass (mailfrom) identity=mailfrom; "
	    "client-ip=192.0.2.1; helo=he??lo; envelope-from=a@ex.test; receiver=b@ours.test \n");
	assert_int_equal(spf_received_header(&r, &rq, NULL, h, 20), -1);
	/* not dot-atom text: a quoted-string, so no key=value of the client's own */
	struct spf_request q2 = { "192.0.2.1", "\"x; identity=helo\\\"\"@ex.test", "a b;c", NULL, 0 };
	assert_true(spf_received_header(&r, &q2, NULL, h, sizeof(h)) > 0);
	assert_string_equal(h, "Received-SPF: Pass (mailfrom) identity=mailfrom; "
	    "client-ip=192.0.2.1; helo=\"a b;c\"; "
	    "envelope-from=\"\\\"x; identity=helo\\\\\\\"\\\"@ex.test\"; receiver=<UNKNOWN> \n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_macro_rfc_examples),
		cmocka_unit_test(test_macro_errors),
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_check_host),
		cmocka_unit_test(test_received_header),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
