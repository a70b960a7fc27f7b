/*
 * restrict_spf — reject_spf_fail and defer_spf_temperror: SPF (src/spf)
 * of the MAIL FROM identity (postmaster@HELO for <>), evaluated once per
 * transaction and kept in the session cache (policy_spf_result() gives it
 * to later readers such as DMARC). The replies are those of Postfix with
 * postfix-policyd-spf-python (its defaults, TempError_Defer = True):
 *   550 5.7.23 <rcpt>: Recipient address rejected: Message rejected due
 *     to: SPF fail - not authorized. Please see http://www.openspf.net/Why?...
 *   450 4.7.24 (defer_if_permit) ... Message deferred due to: ...
 * Every other finished result adds policyd-spf's Received-SPF: header to
 * the message. Skipped (DUNNO, no header) for SASL-authenticated clients
 * and mynetworks: their mail is ours, not the domain's (docs/spf.md), and
 * before MAIL FROM (no identity yet).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "policy/restrict_int.h"
#include "spf/spf.h"

struct spf_memo {
	char key[1024];			/* sender \t helo */
	struct spf_result res;
	int header_added;
	int fail_told;			/* policy_spf_fail_news() said 1 */
};

static const struct dns_result *spf_dns(void *arg, const char *name, enum dns_type type)
{
	return r_dns(arg, name, type);
}

const struct spf_result *policy_spf_result(struct policy_ctx *c)
{
	if (c->cache == NULL)
		return NULL;
	struct spf_memo *m = *r_cache_spf(c);
	return m ? &m->res : NULL;
}

int policy_spf_fail_news(struct policy_ctx *c)
{
	struct spf_memo *m = c->cache ? *r_cache_spf(c) : NULL;
	if (m == NULL || m->res.result != SPF_FAIL || m->fail_told)
		return 0;
	m->fail_told = 1;
	return 1;
}

/* This transaction's result, evaluated if needed; NULL when skipped or
 * pending (st->pending set then). */
static const struct spf_memo *evaluate(struct rstate *st)
{
	struct policy_ctx *c = st->c;
	char key[1024];

	if (c->sender == NULL || c->sasl_authenticated || c->in_mynetworks || c->client_addr == NULL)
		return NULL;
	snprintf(key, sizeof(key), "%s\t%s", c->sender, c->helo ? c->helo : "");
	struct spf_memo **slot = r_cache_spf(c);
	if (*slot && strcmp((*slot)->key, key) == 0)
		return *slot;
	struct spf_request rq = { c->client_addr, c->sender, c->helo, NULL, 0 };
	struct spf_result res;
	if (!spf_check(&rq, spf_dns, st, &res)) {
		st->pending = 1;
		return NULL;
	}
	if (st->prefetch)
		return NULL;
	if (*slot == NULL)
		*slot = xcalloc(1, sizeof(**slot));
	memset(*slot, 0, sizeof(**slot));
	str_copy((*slot)->key, sizeof((*slot)->key), key);
	(*slot)->res = res;
	return *slot;
}

/* policyd-spf's reason text: "Message rejected due to: ... Please see URL". */
static int reason(const struct rstate *st, const struct spf_memo *m, const char *action,
    const char *what, char *out, size_t len)
{
	const struct policy_ctx *c = st->c;
	int n = snprintf(out, len, "%s Message %s due to: %.200s. Please see "
	    "http://www.openspf.net/Why?s=%s;id=%.200s;ip=%s;r=%.200s", action, what,
	    m->res.explanation, m->res.identity[0] == 'm' ? "mfrom" : "helo", m->res.sender,
	    c->client_addr, c->rcpt ? c->rcpt : "<UNKNOWN>");
	return n < 0 || (size_t)n >= len ? -1 : 0;	/* cut short: still a reply */
}

/* Add the Received-SPF header once per transaction (not rejected). */
static void add_header(struct rstate *st, struct spf_memo *m)
{
	struct policy_ctx *c = st->c;
	struct spf_request rq = { c->client_addr, c->sender, c->helo, NULL, 0 };
	char h[1024];

	if (m->header_added || st->prefetch)
		return;
	int n = spf_received_header(&m->res, &rq, c->rcpt, h, sizeof(h));
	size_t used = strlen(c->prepend);
	if (n > 0 && used + (size_t)n < sizeof(c->prepend)) {
		memcpy(c->prepend + used, h, (size_t)n + 1);
		m->header_added = 1;
	}
}

/* Shared body: the result that makes this restriction act, and its reply. */
static enum policy_result spf_restriction(struct rstate *st, enum spf_res acts_on,
    const char *action, const char *what)
{
	struct spf_memo *m = (struct spf_memo *)evaluate(st);
	char value[1024];

	if (m == NULL)
		return st->pending ? POLICY_PENDING : POLICY_DUNNO;
	if (m->res.result == acts_on) {
		if (reason(st, m, action, what, value, sizeof(value)) < 0)
			log_warn("SPF reply for %s cut to %zu bytes", st->c->client_addr, sizeof(value));
		return r_table_result(st, "SPF", value);
	}
	if (m->res.result != SPF_FAIL && m->res.result != SPF_TEMPERROR)
		add_header(st, m);
	return POLICY_DUNNO;
}

enum policy_result r_spf_fail(struct rstate *st, const struct ritem *it)
{
	return spf_restriction(st, SPF_FAIL, "550 5.7.23", "rejected");
}

enum policy_result r_spf_temperror(struct rstate *st, const struct ritem *it)
{
	return spf_restriction(st, SPF_TEMPERROR, "DEFER_IF_PERMIT 4.7.24", "deferred");
}
