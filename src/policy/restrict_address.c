/*
 * restrict_address — the HELO name and the envelope addresses: syntax
 * (reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname,
 * reject_non_fqdn_sender / _recipient) and existence in the DNS
 * (reject_unknown_helo_hostname: A, AAAA or MX; reject_unknown_sender_domain
 * / _recipient_domain: MX, else A or AAAA, nullMX refused; not for the
 * domains we are the final destination for, as Postfix). Texts and codes
 * as Postfix's smtpd_check.c; a temporary DNS failure gives 450 through the
 * *_tempfail_action (defer_if_permit by default), never a 5xx.
 */
#include <string.h>

#include "common/util.h"
#include "policy/restrict_int.h"

enum { HOST_OK, HOST_NOTFOUND, HOST_TEMPFAIL, HOST_NULLMX, HOST_PENDING };

/* name without one final dot (not "..") into buf. */
static const char *truncate_dot(const char *name, char *buf, size_t len)
{
	size_t n = strlen(name);

	if (n > 1 && name[n - 1] == '.' && name[n - 2] != '.' && n - 1 < len) {
		memcpy(buf, name, n - 1);
		buf[n - 1] = '\0';
		return buf;
	}
	return name;
}

/* The first answer of types[0], else any of the others (asked together). */
static int lookup_any(struct rstate *st, const char *name, const enum dns_type *types, size_t n)
{
	const struct dns_result *r = r_dns(st, name, types[0]);
	int tempfail, pending = 0;

	if (r == NULL)
		return HOST_PENDING;
	if (r->status == DNS_OK) {
		if (types[0] == DNS_MX && r->n == 1 && (strcmp(r->items[0], "0 .") == 0
		    || strcmp(r->items[0], "0 ") == 0 || strcmp(r->items[0], "0") == 0))
			return HOST_NULLMX;
		return HOST_OK;
	}
	if (r->nxdomain)
		return HOST_NOTFOUND;
	tempfail = r->status == DNS_TEMPFAIL;
	for (size_t i = 1; i < n; i++) {
		r = r_dns(st, name, types[i]);
		if (r == NULL)
			pending = 1;
		else if (r->status == DNS_OK)
			return HOST_OK;
		else if (r->status == DNS_TEMPFAIL)
			tempfail = 1;
	}
	if (pending)
		return HOST_PENDING;
	return tempfail ? HOST_TEMPFAIL : HOST_NOTFOUND;
}

/* reject_invalid_hostaddr: "[addr]" HELO. */
static enum policy_result invalid_hostaddr(struct rstate *st, const char *helo)
{
	char buf[300];
	size_t len = strlen(helo);

	if (len > 2 && helo[len - 1] == ']' && len - 2 < sizeof(buf)) {
		memcpy(buf, helo + 1, len - 2);
		buf[len - 2] = '\0';
		if (r_valid_hostaddr(buf))
			return POLICY_DUNNO;
	}
	return r_reply(st, st->p->invalid_hostname_code, "5.5.2",
	    "<%s>: %s rejected: invalid ip address", helo, "Helo command");
}

enum policy_result r_invalid_helo(struct rstate *st, const struct ritem *it)
{
	const char *helo = st->c->helo;
	char buf[300];

	if (helo == NULL)
		return POLICY_DUNNO;
	if (*helo == '[')
		return invalid_hostaddr(st, helo);
	const char *name = truncate_dot(helo, buf, sizeof(buf));
	if (r_valid_hostname(name) || r_valid_hostaddr(name))
		return POLICY_DUNNO;
	return r_reply(st, st->p->invalid_hostname_code, "5.5.2",
	    "<%s>: %s rejected: Invalid name", helo, "Helo command");
}

enum policy_result r_non_fqdn_helo(struct rstate *st, const struct ritem *it)
{
	const char *helo = st->c->helo;
	char buf[300];

	if (helo == NULL)
		return POLICY_DUNNO;
	if (*helo == '[')
		return invalid_hostaddr(st, helo);
	const char *name = truncate_dot(helo, buf, sizeof(buf));
	if (r_valid_hostname(name) && strchr(name, '.') != NULL)
		return POLICY_DUNNO;
	return r_reply(st, st->p->non_fqdn_code, "5.5.2",
	    "<%s>: %s rejected: need fully-qualified hostname", helo, "Helo command");
}

enum policy_result r_unknown_helo(struct rstate *st, const struct ritem *it)
{
	static const enum dns_type types[] = { DNS_A, DNS_AAAA, DNS_MX };
	const char *helo = st->c->helo;
	char buf[300];

	if (helo == NULL)
		return POLICY_DUNNO;
	if (*helo == '[')
		return invalid_hostaddr(st, helo);
	const char *name = truncate_dot(helo, buf, sizeof(buf));
	switch (lookup_any(st, name, types, 3)) {
	case HOST_PENDING:
		return POLICY_PENDING;
	case HOST_NOTFOUND:
		return r_reply(st, st->p->unknown_hostname_code, "4.7.1",
		    "<%s>: %s rejected: Host not found", helo, "Helo command");
	case HOST_TEMPFAIL:
		if (st->p->helo_tempfail_defer)
			return r_reply(st, 450, "4.7.1", "<%s>: %s rejected: Host not found",
			    helo, "Helo command");
		return r_defer_if(st, 1, 450, "4.7.1", "<%s>: %s rejected: Host not found",
		    helo, "Helo command");
	default:
		return POLICY_DUNNO;	/* found (a nullMX is fine for an MTA name) */
	}
}

/* reject_non_fqdn_address */
static enum policy_result non_fqdn_address(struct rstate *st, const char *addr,
    const char *cls)
{
	const char *at = strrchr(addr, '@');
	const char *domain = at ? at + 1 : "";
	char buf[300];
	size_t len = strlen(domain);

	if (domain[0] == '[' && len > 0 && domain[len - 1] == ']')
		return POLICY_DUNNO;
	const char *name = truncate_dot(domain, buf, sizeof(buf));
	if (*name != '\0' && r_valid_hostname(name) && strchr(name, '.') != NULL)
		return POLICY_DUNNO;
	return r_reply(st, st->p->non_fqdn_code, "4.5.2",
	    "<%s>: %s rejected: need fully-qualified address", addr, cls);
}

enum policy_result r_non_fqdn_sender(struct rstate *st, const struct ritem *it)
{
	const char *s = st->c->sender;

	return s == NULL || *s == '\0' ? POLICY_DUNNO : non_fqdn_address(st, s, "Sender address");
}

enum policy_result r_non_fqdn_recipient(struct rstate *st, const struct ritem *it)
{
	const char *r = st->c->rcpt;

	return r == NULL ? POLICY_DUNNO : non_fqdn_address(st, r, "Recipient address");
}

/* reject_unknown_address / reject_unknown_mailhost */
static enum policy_result unknown_address(struct rstate *st, const char *addr, int sender)
{
	static const enum dns_type types[] = { DNS_MX, DNS_A, DNS_AAAA };
	const char *cls = sender ? "Sender address" : "Recipient address";
	const char *dsn = sender ? "4.1.8" : "4.1.2";
	const char *at = strrchr(addr, '@');
	char buf[300];

	if (at == NULL || at[1] == '\0' || at[1] == '[')
		return POLICY_DUNNO;	/* local or address literal */
	const char *domain = truncate_dot(at + 1, buf, sizeof(buf));
	switch (lookup_any(st, domain, types, 3)) {
	case HOST_PENDING:
		return POLICY_PENDING;
	case HOST_NULLMX:
		return r_reply(st, sender ? 550 : 556, sender ? "4.7.27" : "4.1.10",
		    "<%s>: %s rejected: Domain %s does not accept mail (nullMX)", addr, cls, domain);
	case HOST_NOTFOUND:
		return r_reply(st, st->p->unknown_address_code, dsn,
		    "<%s>: %s rejected: Domain not found", addr, cls);
	case HOST_TEMPFAIL:
		if (st->p->addr_tempfail_defer)
			return r_reply(st, 450, dsn, "<%s>: %s rejected: Domain not found", addr, cls);
		return r_defer_if(st, 1, 450, dsn, "<%s>: %s rejected: Domain not found", addr, cls);
	default:
		return POLICY_DUNNO;
	}
}

enum policy_result r_unknown_sender_domain(struct rstate *st, const struct ritem *it)
{
	const char *s = st->c->sender;

	if (s == NULL || *s == '\0' || st->c->sender_is_final)
		return POLICY_DUNNO;
	return unknown_address(st, s, 1);
}

enum policy_result r_unknown_recipient_domain(struct rstate *st, const struct ritem *it)
{
	const struct policy_ctx *c = st->c;

	if (c->rcpt == NULL || *c->rcpt == '\0' || c->rcpt_is_final)
		return POLICY_DUNNO;
	return unknown_address(st, c->rcpt, 0);
}
