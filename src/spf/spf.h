/*
 * spf — inbound SPF (RFC 7208): check_host() for the restrictions of
 * src/policy (reject_spf_fail, defer_spf_temperror), the `mailwarden
 * spf-test` command, the benchmark and, later, DMARC (which reads the
 * result and the domain it was evaluated for from struct spf_result).
 *
 * Asynchronous by restart: spf_check() asks its DNS function for each
 * answer; when that function has no answer yet it starts the lookup and
 * returns NULL, spf_check() returns 0 (pending), and the caller runs the
 * same check again from the start once the answer has arrived (the
 * "restart with cache" of docs/architecture.md). The evaluation is
 * deterministic, so every run asks the same questions in the same order
 * and gets one step further. Limits of RFC 7208 section 4.6.4: 10
 * DNS-querying terms, 2 void lookups, 10 MX names, 10 PTR names.
 */
#ifndef MW_SPF_H
#define MW_SPF_H
#include <stddef.h>

#include "dns/dns.h"

enum spf_res {
	SPF_NONE, SPF_NEUTRAL, SPF_PASS, SPF_FAIL, SPF_SOFTFAIL,
	SPF_TEMPERROR, SPF_PERMERROR,
};

/* The answer to name/type, or NULL when the lookup has been started and
 * the check must be run again later. Owned by the function's caller and
 * read by spf_check() only until its next call of the function. */
typedef const struct dns_result *spf_dns_fn(void *arg, const char *name, enum dns_type type);

/* What is checked: the client, its HELO and the MAIL FROM address. */
struct spf_request {
	const char *ip;		/* "192.0.2.1" / "2001:db8::1" */
	const char *sender;	/* MAIL FROM; "" or NULL for <> (then postmaster@helo) */
	const char *helo;	/* HELO/EHLO name, or NULL */
	const char *receiver;	/* our host name, for %{r} (NULL: "unknown") */
	long now;		/* %{t}; 0 = time(NULL) */
};

#define SPF_DOMAIN_MAX 256
#define SPF_TEXT_MAX 512

/* The outcome, kept for the Received-SPF header and for DMARC. */
struct spf_result {
	enum spf_res result;
	const char *identity;		/* "mailfrom" or "helo" */
	char sender[SPF_TEXT_MAX];	/* the checked identity, "postmaster@helo" for <> */
	char domain[SPF_DOMAIN_MAX];	/* the domain check_host() started with */
	char mechanism[SPF_TEXT_MAX];	/* the term that decided ("ip4:192.0.2.0/24"), or "" */
	char explanation[SPF_TEXT_MAX];	/* pyspf's texts; exp= for fail */
	int lookups, voids;		/* DNS-querying terms and void lookups used */
};

/* Run check_host() for the request: 1 done (out filled), 0 pending (a
 * lookup was started through dns; run again when it has answered). */
int spf_check(const struct spf_request *rq, spf_dns_fn *dns, void *arg,
    struct spf_result *out);
/* "pass", "fail", ... (RFC 7208 names, lower case). */
const char *spf_result_name(enum spf_res r);
/* The Received-SPF header line (RFC 7208 9.1, postfix-policyd-spf's
 * layout), ending in "\n"; receiver as in the header ("<UNKNOWN>" if
 * NULL). Length written, or -1 when out is too small. */
int spf_received_header(const struct spf_result *r, const struct spf_request *rq,
    const char *receiver, char *out, size_t len);
/* `mailwarden spf-test IP SENDER [HELO]`: one check over the configured
 * resolver (dns_servers), the result printed as "result: explanation". */
struct config;
int spf_cli_main(const struct config *cfg, int argc, char **argv);
#endif
