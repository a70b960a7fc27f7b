/*
 * selftest_dns — the DNS side of `mailwarden selftest`: does the resolver
 * answer; does each DNS blocklist of the configuration list its test
 * point 127.0.0.2 and not 127.0.0.1 (and is the answer Spamhaus's
 * 127.255.255.254 "query through a public resolver refused"); and the
 * MX, PTR, SPF, DKIM and DMARC records of each domain (warnings only).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/selftest.h"
#include "common/buf.h"
#include "common/config.h"
#include "common/util.h"
#include "policy/restrict.h"

void st_resolver(struct selftest *t)
{
	struct st_answer a;
	if (!t->dns_ready)
		return;
	/* any answer, even "no such name", proves a resolver is there */
	st_lookup(t, config_get(t->cfg, "myhostname"), DNS_A, &a);
	t->dns_up = a.status != DNS_TEMPFAIL;
	if (t->dns_up)
		st_report(t, ST_PASS, "resolver", "answers (%s A: %s)",
		    config_get(t->cfg, "myhostname"), a.status == DNS_OK ? a.items[0] : "no address");
	else
		st_report(t, ST_WARN, "resolver", "no answer for %s: DNS unreachable (DNSBL and "
		    "record checks skipped)", config_get(t->cfg, "myhostname"));
}

/* The DNSBL zones of every restriction list and postscreen_dnsbl_sites,
 * space-separated in *b ("zone=filter" and "*weight" cut off). */
static void dnsbl_zones(const struct config *cfg, struct buf *b)
{
	for (int k = 0; k < RL_COUNT; k++) {
		for (int r = 0; r < ST_NROLES; r++) {
			char **it = config_list(config_get_role(cfg, config_role_names[r],
			    restriction_lists[k].key));
			for (size_t i = 0; it[i]; i++)
				if (strcmp(it[i], "reject_rbl_client") == 0 && it[i + 1])
					buf_printf(b, " %s ", it[i + 1]);
			config_list_free(it);
		}
	}
	char **it = config_list(config_get(cfg, "postscreen_dnsbl_sites"));
	for (size_t i = 0; it[i]; i++)
		buf_printf(b, " %s ", it[i]);
	config_list_free(it);
}

static int is_public_resolver_answer(const struct st_answer *a)
{
	for (size_t i = 0; i < a->n; i++)
		if (strncmp(a->items[i], "127.255.255.", 12) == 0)
			return 1;	/* Spamhaus: 252 typo, 254 public resolver, 255 excess */
	return 0;
}

static void dnsbl_one(struct selftest *t, const char *zone)
{
	char name[300];
	struct st_answer yes, no;
	snprintf(name, sizeof(name), "2.0.0.127.%s", zone);
	st_lookup(t, name, DNS_A, &yes);
	snprintf(name, sizeof(name), "1.0.0.127.%s", zone);
	st_lookup(t, name, DNS_A, &no);
	if (is_public_resolver_answer(&yes) || is_public_resolver_answer(&no))
		st_report(t, ST_FAIL, "dnsbl", "%s answers %s: the list refuses queries through "
		    "this resolver (a public resolver?); every client would look listed", zone,
		    is_public_resolver_answer(&yes) ? yes.items[0] : no.items[0]);
	else if (no.status == DNS_OK)
		st_report(t, ST_FAIL, "dnsbl", "%s lists 127.0.0.1 (answer %s): it would refuse "
		    "every client", zone, no.items[0]);
	else if (yes.status == DNS_TEMPFAIL)
		st_report(t, ST_WARN, "dnsbl", "%s: no answer for the test point 127.0.0.2", zone);
	else if (yes.status != DNS_OK)
		st_report(t, ST_WARN, "dnsbl", "%s does not list its test point 127.0.0.2: the "
		    "list is dead or the name is wrong", zone);
	else
		st_report(t, ST_PASS, "dnsbl", "%s lists 127.0.0.2 (%s) and not 127.0.0.1", zone,
		    yes.items[0]);
}

void st_dnsbl(struct selftest *t)
{
	struct buf b;
	buf_init(&b, 1 << 16);
	dnsbl_zones(t->cfg, &b);
	char **zones = config_list(b.data ? b.data : "");
	buf_free(&b);
	for (size_t i = 0; zones[i]; i++) {
		int dup = 0;
		zones[i][strcspn(zones[i], "=*")] = '\0';
		for (size_t j = 0; j < i; j++)
			dup |= strcmp(zones[i], zones[j]) == 0;
		if (dup || zones[i][0] == '\0')
			continue;
		if (!t->dns_up)
			st_report(t, ST_WARN, "dnsbl", "%s: not checked, DNS unreachable", zones[i]);
		else
			dnsbl_one(t, zones[i]);
	}
	config_list_free(zones);
}

/* The first TXT record of name that starts with prefix, or NULL. */
static const char *txt_with(struct selftest *t, const char *name, const char *prefix,
    struct st_answer *a)
{
	st_lookup(t, name, DNS_TXT, a);
	for (size_t i = 0; a->status == DNS_OK && i < a->n; i++)
		if (strncasecmp(a->items[i], prefix, strlen(prefix)) == 0)
			return a->items[i];
	return NULL;
}

/* Does the host's own name have an address whose PTR names it again? */
static void ptr_check(struct selftest *t)
{
	const char *me = config_get(t->cfg, "myhostname");
	struct st_answer a, p;
	char rev[300];
	st_lookup(t, me, DNS_A, &a);
	if (a.status != DNS_OK) {
		st_report(t, ST_WARN, "records", "PTR: myhostname %s has no address", me);
		return;
	}
	if (dns_reverse_name(a.items[0], rev, sizeof(rev)) < 0)
		return;
	st_lookup(t, rev, DNS_PTR, &p);
	if (p.status == DNS_OK && str_ieq(p.items[0], me))
		st_report(t, ST_PASS, "records", "PTR: %s -> %s -> %s", me, a.items[0], p.items[0]);
	else
		st_report(t, ST_WARN, "records", "PTR: %s has address %s whose PTR is %s (receivers "
		    "want it to name %s)", me, a.items[0], p.status == DNS_OK ? p.items[0] : "missing",
		    me);
}

static void domain_records(struct selftest *t, const char *d)
{
	struct st_answer a;
	char name[300];
	const char *v;
	st_lookup(t, d, DNS_MX, &a);
	if (a.status == DNS_OK)
		st_report(t, ST_PASS, "records", "%s MX: %s", d, a.items[0]);
	else
		st_report(t, ST_WARN, "records", "%s has no MX record", d);
	if ((v = txt_with(t, d, "v=spf1", &a)) != NULL)
		st_report(t, ST_PASS, "records", "%s SPF: %s", d, v);
	else
		st_report(t, ST_WARN, "records", "%s has no SPF record (TXT v=spf1)", d);
	static const char *const guesses[] = { "default", "mail", "dkim", "selector1" };
	const char *found = NULL;
	for (size_t i = 0; found == NULL && i < (t->selector ? 1 : 4); i++) {
		const char *sel = t->selector ? t->selector : guesses[i];
		snprintf(name, sizeof(name), "%s._domainkey.%s", sel, d);
		if (txt_with(t, name, "v=DKIM1", &a) || (a.status == DNS_OK && strstr(a.items[0], "p=")))
			found = sel;
	}
	if (found)
		st_report(t, ST_PASS, "records", "%s DKIM: key at %s._domainkey.%s", d, found, d);
	else
		st_report(t, ST_WARN, "records", "%s: no DKIM key found (selectors tried: %s)", d,
		    t->selector ? t->selector : "default mail dkim selector1; give --dkim-selector");
	snprintf(name, sizeof(name), "_dmarc.%s", d);
	if ((v = txt_with(t, name, "v=DMARC1", &a)) != NULL)
		st_report(t, ST_PASS, "records", "%s DMARC: %s", d, v);
	else
		st_report(t, ST_WARN, "records", "%s has no DMARC record (TXT at _dmarc.%s)", d, d);
}

void st_records(struct selftest *t)
{
	if (!t->dns_up) {
		st_report(t, ST_WARN, "records", "MX/PTR/SPF/DKIM/DMARC not checked: DNS unreachable");
		return;
	}
	ptr_check(t);
	char **doms = st_domains(t->cfg);
	for (size_t i = 0; doms[i]; i++)
		domain_records(t, doms[i]);
	config_list_free(doms);
}
