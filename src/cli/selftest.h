/*
 * selftest — the parts of `mailwarden selftest` (selftest.c runs them):
 * each check reports pass, warn or fail lines through st_report(); DNS
 * questions go through st_lookup(), which drives this process's loop
 * until the answer is in. Internal to src/cli/selftest*.c.
 */
#ifndef MW_SELFTEST_H
#define MW_SELFTEST_H
#include <stddef.h>

#include "dns/dns.h"

struct config;

enum st_status { ST_PASS, ST_WARN, ST_FAIL };

/* The built-in listener roles (smtpd, submission, smtps): the entries of
 * config_role_names, whatever further roles the config may know. */
#define ST_NROLES ((int)(sizeof(config_role_names) / sizeof(*config_role_names)))

struct selftest {
	const struct config *cfg;
	const char *client;	/* the synthetic outside client (--client) */
	const char *admin;	/* the admin's address (--admin, $SSH_CLIENT), or NULL */
	const char *selector;	/* DKIM selector (--dkim-selector), or NULL */
	int json;
	int dns_ready;		/* dns_init worked */
	int dns_up;		/* the resolver answered (set by the resolver check) */
	int n[3];		/* lines per status */
	int nlines;
};

/* An answer copied out of the resolver's callback. */
struct st_answer {
	enum dns_status status;
	size_t n;
	char items[8][256];
};

/* One result line: "pass  check: detail" (or a JSON object). */
void st_report(struct selftest *t, enum st_status s, const char *check, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Look name/type up, waiting on the loop; the answer in *a. */
void st_lookup(struct selftest *t, const char *name, enum dns_type type, struct st_answer *a);
/* The domains this host receives mail for (mydestination, virtual_*
 * domains; literal names only), NULL-terminated; free with config_list_free. */
char **st_domains(const struct config *cfg);

/* selftest_smtp.c: relay probes, AUTH without TLS, certificates. */
void st_relay(struct selftest *t);
void st_auth_tls(struct selftest *t);
void st_certs(struct selftest *t);
/* selftest_dns.c: resolver, DNSBL test points, each domain's records. */
void st_resolver(struct selftest *t);
void st_dnsbl(struct selftest *t);
void st_records(struct selftest *t);
/* selftest_warden.c: the admin's address and ignoreip, the firewall. */
void st_admin(struct selftest *t);
void st_firewall(struct selftest *t);
#endif
