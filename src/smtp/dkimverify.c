/*
 * dkimverify — inbound DKIM at the end of DATA (RFC 6376, RFC 8601): for
 * mail from clients that neither authenticated nor are in mynetworks
 * (dkim_verify = yes), the message as queued is verified with the
 * verifier of src/dkim; key records come from the engine's asynchronous
 * resolver (src/dns): a lookup that has not answered parks the session
 * (state WAIT) and data_commit() runs again when all have (restart with
 * cache: the answers are kept here). Then Authentication-Results
 * headers claiming our authserv_id are removed and, for signed mail
 * (unsigned mail gets none, as OpenDKIM's default), ours is put first:
 * "authserv_id; dkim=pass header.d=... header.s=... header.b=...". The
 * per-signature results stay with the session for DMARC
 * (dkimverify_results()). libopendkim was not used: its DNS hook
 * (dkim_dns_set_query_start & co.) can be made asynchronous only by
 * driving its own waits; our verifier is about 250 lines over OpenSSL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/util.h"
#include "dkim/dkim.h"
#include "dns/dns.h"
#include "mail/spool.h"
#include "policy/restrict.h"
#include "spf/spf.h"
#include "smtp/data.h"
#include "smtp/dkimverify.h"
#include "smtp/engine_int.h"
#include "smtp/session.h"

#define VQ_MAX 8		/* signatures checked per message (and key lookups) */

struct vq {
	struct session_dkim *owner;
	char *name;
	uint64_t id;
	int done;
	enum dkim_lookup st;
	char *txt;
};

struct session_dkim {
	struct session *s;
	struct vq *q[VQ_MAX];
	size_t nq;
	int waiting;
	struct dkim_sig_result res[VQ_MAX];
	int nres;		/* -1: not verified yet */
};

static int verify_on;
static char *authserv;

void dkimverify_setup(const struct config *cfg)
{
	verify_on = config_get_bool(cfg, "dkim_verify");
	free(authserv);
	authserv = xstrdup(config_get(cfg, "authserv_id"));
}

static void resume_idle(void *arg)
{
	struct session *s = arg;
	if (s->w == NULL || s->state != SMTP_ST_WAIT)
		return;
	data_commit(s);
	if (s->state == SMTP_ST_COMMIT)
		return;		/* commit_done answers and resumes */
	session_resume(s);	/* may free s */
}

static void on_answer(const struct dns_result *r, void *arg)
{
	struct vq *q = arg;
	struct session_dkim *sd = q->owner;
	q->id = 0;
	q->done = 1;
	q->st = r->status == DNS_OK && r->n > 0 ? DKIM_LK_FOUND :
	    r->status == DNS_NOTFOUND ? DKIM_LK_NONE : DKIM_LK_TEMP;
	if (q->st == DKIM_LK_FOUND)
		q->txt = xstrdup(r->items[0]);
	if (!sd->waiting)
		return;
	for (size_t i = 0; i < sd->nq; i++)
		if (!sd->q[i]->done)
			return;
	sd->waiting = 0;
	loop_at_idle(resume_idle, sd->s);
}

/* The verifier's key lookup: answered, or started now. */
static enum dkim_lookup lookup(void *arg, const char *name, char *txt, size_t txtlen)
{
	struct session_dkim *sd = arg;
	struct vq *q = NULL;
	for (size_t i = 0; i < sd->nq && q == NULL; i++)
		if (strcasecmp(sd->q[i]->name, name) == 0)
			q = sd->q[i];
	if (q == NULL) {
		if (sd->nq == VQ_MAX)
			return DKIM_LK_TEMP;
		q = xcalloc(1, sizeof(*q));
		q->owner = sd;
		q->name = xstrdup(name);
		sd->q[sd->nq++] = q;
		q->id = dns_lookup(name, DNS_TXT, on_answer, q);	/* may answer at once */
	}
	if (!q->done)
		return DKIM_LK_PENDING;
	if (q->st == DKIM_LK_FOUND)
		snprintf(txt, txtlen, "%s", q->txt);
	return q->st;
}

/* Whether the field at p (an Authentication-Results) claims id. */
static int claims_us(const char *p, size_t n, const char *id)
{
	const char *v = p + 23, *e = p + n;	/* after "Authentication-Results:" */
	while (v < e && (*v == ' ' || *v == '\t' || *v == '\n'))
		v++;
	size_t l = strlen(id);
	return (size_t)(e - v) >= l && strncasecmp(v, id, l) == 0 &&
	    (v + l == e || v[l] == ';' || v[l] == ' ' || v[l] == '\t' || v[l] == '\n');
}

/* The header section without Authentication-Results fields claiming
 * our authserv-id (RFC 8601 5), then the body, into out. */
static int strip_ours(const char *m, size_t len, struct buf *out)
{
	size_t i = 0;
	int removed = 0;
	while (i < len && m[i] != '\n') {
		size_t e = i;	/* the end of this field, continuation lines included */
		do {
			const char *nl = memchr(m + e, '\n', len - e);
			e = nl ? (size_t)(nl - m) + 1 : len;
		} while (e < len && (m[e] == ' ' || m[e] == '\t'));
		if (e - i > 23 && strncasecmp(m + i, "Authentication-Results:", 23) == 0 &&
		    claims_us(m + i, e - i - 1, authserv)) {
			removed++;
		} else {
			buf_append(out, m + i, e - i);
		}
		i = e;
	}
	buf_append(out, m + i, len - i);
	return removed;
}

/* spf= from the SPF check of the transaction. Hook for wip-spf (merged
 * into main after this branch began): there it is
 *   const struct spf_result *r = policy_spf_result(s->pctx);
 *   if (r) buf_printf(h, ";\n\tspf=%s smtp.%s=%s", spf_result_name(r->result),
 *       r->identity, r->sender);
 */
/* spf= from this transaction's SPF result (reject_spf_fail /
 * defer_spf_temperror ran), RFC 8601's smtp.mailfrom / smtp.helo. */
static void ar_spf(const struct session *s, struct buf *h)
{
	const struct spf_result *r = s->pctx ? policy_spf_result(s->pctx) : NULL;
	if (r == NULL)
		return;
	int helo = r->identity && strcmp(r->identity, "helo") == 0;
	buf_printf(h, ";\n\tspf=%s smtp.%s=%s", spf_result_name(r->result),
	    helo ? "helo" : "mailfrom", r->sender);
}

static void ar_header(struct session *s, struct session_dkim *sd, struct buf *h)
{
	buf_printf(h, "Authentication-Results: %s", authserv);
	for (int i = 0; i < sd->nres; i++) {
		const struct dkim_sig_result *r = &sd->res[i];
		buf_printf(h, ";\n\tdkim=%s", dkim_result_name(r->result));
		if (r->result != DKIM_PASS && r->why[0])
			buf_printf(h, " reason=\"%s\"", r->why);
		if (r->domain[0])
			buf_printf(h, " header.d=%s", r->domain);
		if (r->selector[0])
			buf_printf(h, " header.s=%s", r->selector);
		if (r->alg[0])
			buf_printf(h, " header.a=%s", r->alg);
		if (r->b8[0])
			buf_printf(h, " header.b=\"%s\"", r->b8);
	}
	ar_spf(s, h);
	buf_puts(h, "\n");
}

int dkimverify_message(struct session *s)
{
	if (!verify_on || s->sasl_username || s->in_mynetworks)
		return 0;
	struct session_dkim *sd = s->dkim;
	if (sd == NULL) {
		sd = s->dkim = xcalloc(1, sizeof(*sd));
		sd->s = s;
		sd->nres = -1;
	}
	if (sd->nres >= 0)
		return 0;	/* done (a later restart) */
	struct buf body;
	buf_init(&body, (size_t)-1 / 2);
	if (spool_body_read(s->w, &body) < 0) {
		buf_free(&body);
		log_warn("%s: dkim: queue file read error: %m", s->w->id);
		return -1;
	}
	int n = dkim_verify(body.data ? body.data : "", body.len, clock_wall(), lookup, sd,
	    sd->res, VQ_MAX);
	if (n < 0) {
		buf_free(&body);
		sd->waiting = 1;
		s->state = SMTP_ST_WAIT;
		return 1;
	}
	sd->nres = n;
	struct buf h, rest;
	buf_init(&h, 1 << 16);
	buf_init(&rest, (size_t)-1 / 2);
	if (n > 0)	/* unsigned mail gets none, as OpenDKIM's default */
		ar_header(s, sd, &h);
	int removed = strip_ours(body.data ? body.data : "", body.len, &rest);
	int rc = 0;
	if (n > 0 || removed > 0)
		rc = spool_body_replace(s->w, h.data ? h.data : "", h.len,
		    rest.data ? rest.data : "", rest.len);
	if (rc < 0)
		log_warn("%s: dkim: queue file write error", s->w->id);
	for (int i = 0; i < n; i++)
		log_info("%s: dkim=%s d=%s s=%s%s%s", s->w->id, dkim_result_name(sd->res[i].result),
		    sd->res[i].domain, sd->res[i].selector, sd->res[i].why[0] ? " reason=" : "",
		    sd->res[i].why);
	if (removed)
		log_info("%s: removed %d Authentication-Results header%s claiming %s", s->w->id,
		    removed, removed == 1 ? "" : "s", authserv);
	buf_free(&h);
	buf_free(&rest);
	buf_free(&body);
	return rc < 0 ? -1 : 0;
}

const struct dkim_sig_result *dkimverify_results(const struct session *s, size_t *n)
{
	*n = s->dkim && s->dkim->nres > 0 ? (size_t)s->dkim->nres : 0;
	return *n ? s->dkim->res : NULL;
}

void dkimverify_free(struct session *s)
{
	struct session_dkim *sd = s->dkim;
	if (sd == NULL)
		return;
	loop_cancel_idle(resume_idle, s);
	for (size_t i = 0; i < sd->nq; i++) {
		if (!sd->q[i]->done && sd->q[i]->id)
			dns_cancel(sd->q[i]->id);
		free(sd->q[i]->name);
		free(sd->q[i]->txt);
		free(sd->q[i]);
	}
	free(sd);
	s->dkim = NULL;
}
