/*
 * spf_bench — CPU per SPF check (src/spf, issue 14) with every DNS answer
 * already cached: the answers come from an in-memory table that hands
 * them over at once (as the session cache of src/policy does on the last
 * run of a restarted check), so what is timed is check_host() itself:
 * record parsing, macro expansion, address matching, include/redirect
 * recursion. Four record shapes; also the restart cost (the check run
 * once per lookup, as in the engine, the lookups answered one by one).
 *   make bench-spf            (no root, no network)
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "spf/spf.h"

struct rr {
	const char *name;
	enum dns_type type;
	const char *items[12];
};

static const struct rr zone[] = {
	/* ip4 only: one TXT */
	{ "simple.test", DNS_TXT, { "v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.0/24 -all" } },
	/* typical: mx, a, two providers' includes; the client is in the 2nd */
	{ "typical.test", DNS_TXT, { "google-site-verification=abc", "v=spf1 mx a "
	    "include:_spf.prov1.test include:_spf.prov2.test ~all" } },
	{ "typical.test", DNS_MX, { "10 mx1.typical.test", "20 mx2.typical.test" } },
	{ "typical.test", DNS_A, { "192.0.2.10" } },
	{ "mx1.typical.test", DNS_A, { "192.0.2.11" } },
	{ "mx2.typical.test", DNS_A, { "192.0.2.12" } },
	{ "_spf.prov1.test", DNS_TXT, { "v=spf1 ip4:10.1.0.0/16 ip4:10.2.0.0/16 ip4:10.3.0.0/16 "
	    "ip6:2001:db8:1::/48 ip6:2001:db8:2::/48 ip4:10.4.0.0/16 ip4:10.5.0.0/16 ~all" } },
	{ "_spf.prov2.test", DNS_TXT, { "v=spf1 include:_netblocks.prov2.test ~all" } },
	{ "_netblocks.prov2.test", DNS_TXT, { "v=spf1 ip4:172.16.0.0/16 ip4:172.17.0.0/16 "
	    "ip4:203.0.113.0/24 ip6:2001:db8:3::/48 ~all" } },
	/* limit: 10 includes, the client in none (fail after 10 lookups) */
	{ "ten.test", DNS_TXT, { "v=spf1 include:i1.test include:i2.test include:i3.test "
	    "include:i4.test include:i5.test include:i6.test include:i7.test include:i8.test "
	    "include:i9.test include:i10.test -all" } },
	/* macros: exists with %{ir}.%{l1r-}.%{d2} and a redirect */
	{ "macro.test", DNS_TXT, { "v=spf1 exists:%{ir}.%{l1r-}.%{d2}.allow.test redirect=simple.test" } },
	{ "1.113.0.203.first.macro.test.allow.test", DNS_A, { "127.0.0.2" } },
	{ NULL, DNS_A, { NULL } },
};

static struct dns_result res;
static char *items[12];
static int restart_mode, answered_upto, asked;

static const struct dns_result *table(void *arg, const char *name, enum dns_type type)
{
	static const char *const inc = "v=spf1 ip4:10.9.0.0/16 ip4:10.10.0.0/16 ?all";
	if (restart_mode && ++asked > answered_upto)
		return NULL;		/* "lookup started": the check is run again */
	memset(&res, 0, sizeof(res));
	res.items = items;
	if (type == DNS_TXT && name[0] == 'i' && strchr(name, '.') && strcmp(strchr(name, '.'), ".test") == 0) {
		items[res.n++] = (char *)inc;	/* i1.test .. i10.test */
		return &res;
	}
	for (size_t k = 0; zone[k].name; k++) {
		if (zone[k].type != type || strcmp(zone[k].name, name) != 0)
			continue;
		for (size_t j = 0; j < 12 && zone[k].items[j]; j++)
			items[res.n++] = (char *)zone[k].items[j];
		return &res;
	}
	res.status = DNS_NOTFOUND;
	res.nxdomain = 1;
	return &res;
}

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
	static const struct { const char *what, *ip, *sender; } cases[] = {
		{ "ip4 only, pass (1 TXT)", "198.51.100.7", "a@simple.test" },
		{ "typical: mx a 2 includes, pass in the nested one", "203.0.113.5", "a@typical.test" },
		{ "10 includes, fail (lookup limit reached)", "192.0.2.99", "a@ten.test" },
		{ "macros: exists %{ir}.%{l1r-}.%{d2}, pass", "203.0.113.1", "first-last@macro.test" },
	};
	const int n = 200000;
	printf("%-52s %8s %12s %16s\n", "record", "result", "us/check", "us/check+restarts");
	for (size_t c = 0; c < sizeof(cases) / sizeof(*cases); c++) {
		struct spf_request rq = { cases[c].ip, cases[c].sender, "helo.test", "mx.local", 1 };
		struct spf_result r;
		restart_mode = 0;
		double t0 = cpu_now();
		for (int i = 0; i < n; i++)
			spf_check(&rq, table, NULL, &r);
		double per = (cpu_now() - t0) / n * 1e6;
		/* as in the engine: one run per lookup, each answer arriving in turn */
		restart_mode = 1;
		int runs = 0, m = n / 10;
		t0 = cpu_now();
		for (int i = 0; i < m; i++) {
			for (answered_upto = 0; ; answered_upto++) {
				asked = 0;
				runs++;
				if (spf_check(&rq, table, NULL, &r))
					break;
			}
		}
		double per_r = (cpu_now() - t0) / m * 1e6;
		printf("%-52s %8s %12.2f %10.2f (%d runs)\n", cases[c].what, spf_result_name(r.result),
		    per, per_r, runs / m);
	}
	return 0;
}
