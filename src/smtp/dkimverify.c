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
 * DMARC (RFC 7489, src/dmarc) follows in the same restartable way: the
 * transaction's SPF result (policy_spf_result(), or spf_check() run here
 * when no SPF restriction ran), the From domain, the _dmarc TXT record
 * of the From domain then of its organisational domain (Public Suffix
 * List); "dmarc=... header.from=" joins the header (written for signed
 * mail and whenever a DMARC record was found). With dmarc_policy_enforce
 * a p=reject failure is refused (550 5.7.1) and a p=quarantine one goes
 * to the hold queue. libopendmarc was not used: it wants the record
 * fetched by itself (synchronous res_query) or handed in, and our own
 * evaluation is smaller than the glue.
 */
#include <errno.h>
#include <fcntl.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/metrics.h"
#include "common/util.h"
#include "dkim/dkim.h"
#include "dmarc/dmarc.h"
#include "dns/dns.h"
#include "mail/spool.h"
#include "policy/restrict.h"
#include "spf/spf.h"
#include "smtp/data.h"
#include "smtp/dkimverify.h"
#include "smtp/engine_int.h"
#include "smtp/event.h"
#include "smtp/session.h"

#define VQ_MAX 8		/* signatures checked per message */
/* DNS answers kept per transaction: SPF at its RFC 7208 limits (10
 * lookup terms, each mx up to 10 address lookups: 110), the DKIM keys (8)
 * and DMARC (2): past it a lookup is a temporary error. */
#define Q_MAX 128

struct vq {
	struct session_dkim *owner;
	char *name;
	enum dns_type type;
	uint64_t id;
	int done;
	struct dns_result r;	/* a copy of the answer */
};

enum dm_stage { DM_SPF, DM_FROM, DM_ORG, DM_DONE };

struct session_dkim {
	struct session *s;
	struct vq *q[Q_MAX];
	size_t nq;
	int waiting;
	struct dkim_sig_result res[VQ_MAX];
	int nres;		/* -1: not verified yet */
	int spf_done;		/* own SPF check finished (or not needed) */
	struct spf_result spf;	/* own SPF check, when no restriction ran one */
	int dm_done;
	char from[256], org[256];
	struct dmarc_outcome dm;
	enum dmarc_policy dm_p;	/* the record's p= (for the header comment) */
	int dm_found;		/* a DMARC record was found */
};

static int verify_on, enforce;
static char *authserv;

void dkimverify_setup(const struct config *cfg)
{
	verify_on = config_get_bool(cfg, "dkim_verify");
	enforce = config_get_bool(cfg, "dmarc_policy_enforce");
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
	q->r.status = r->status;
	q->r.nxdomain = r->nxdomain;
	q->r.ttl = r->ttl;
	q->r.n = r->status == DNS_OK ? r->n : 0;
	q->r.items = q->r.n ? xcalloc(q->r.n, sizeof(char *)) : NULL;
	for (size_t i = 0; i < q->r.n; i++)
		q->r.items[i] = xstrdup(r->items[i]);
	if (!sd->waiting)
		return;
	for (size_t i = 0; i < sd->nq; i++)
		if (!sd->q[i]->done)
			return;
	sd->waiting = 0;
	loop_at_idle(resume_idle, sd->s);
}

/* The answer to name/type kept for this transaction, or NULL when the
 * lookup has been started now (or is under way). */
static const struct dns_result *answer(struct session_dkim *sd, const char *name,
    enum dns_type type)
{
	struct vq *q = NULL;
	for (size_t i = 0; i < sd->nq && q == NULL; i++)
		if (sd->q[i]->type == type && strcasecmp(sd->q[i]->name, name) == 0)
			q = sd->q[i];
	if (q == NULL) {
		static struct dns_result temp = { DNS_TEMPFAIL, 0, 0, NULL, 0 };
		if (sd->nq == Q_MAX)
			return &temp;
		q = xcalloc(1, sizeof(*q));
		q->owner = sd;
		q->name = xstrdup(name);
		q->type = type;
		sd->q[sd->nq++] = q;
		q->id = dns_lookup(name, type, on_answer, q);	/* may answer at once */
	}
	return q->done ? &q->r : NULL;
}

/* The verifier's key lookup: answered, or started now. */
static enum dkim_lookup lookup(void *arg, const char *name, char *txt, size_t txtlen)
{
	const struct dns_result *r = answer(arg, name, DNS_TXT);
	if (r == NULL)
		return DKIM_LK_PENDING;
	if (r->status == DNS_OK && r->n > 0) {
		snprintf(txt, txtlen, "%s", r->items[0]);
		return DKIM_LK_FOUND;
	}
	return r->status == DNS_NOTFOUND ? DKIM_LK_NONE : DKIM_LK_TEMP;
}

/* SPF's resolver when we run the check ourselves. */
static const struct dns_result *spf_dns(void *arg, const char *name, enum dns_type type)
{
	return answer(arg, name, type);
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

/* This transaction's SPF result: the restrictions' (policy_spf_result)
 * or our own check's; NULL when there is none. */
static const struct spf_result *spf_of(const struct session *s, const struct session_dkim *sd)
{
	const struct spf_result *r = s->pctx ? policy_spf_result(s->pctx) : NULL;
	if (r == NULL && sd->spf_done && sd->spf.identity)
		r = &sd->spf;
	return r;
}

/* spf= of this transaction (RFC 8601's smtp.mailfrom / smtp.helo). */
/* Whether v can stand unquoted as an RFC 8601 pvalue: dot-atom text and
 * '@' only (no ';', space, quote or comment that would let a client's
 * MAIL FROM or HELO write results of its own into our header). */
static int ar_plain(const char *v)
{
	if (*v == '\0')
		return 0;
	for (; *v; v++)
		if (!isalnum((unsigned char)*v) && strchr("!#$%&'*+-/=?^_`{|}~.@", *v) == NULL)
			return 0;
	return 1;
}

static void ar_spf(const struct session *s, const struct session_dkim *sd, struct buf *h)
{
	const struct spf_result *r = spf_of(s, sd);
	if (r == NULL)
		return;
	int helo = r->identity && strcmp(r->identity, "helo") == 0;
	const char *v = r->sender;
	buf_printf(h, ";\n\tspf=%s", spf_result_name(r->result));
	if (!ar_plain(v) && !helo && strrchr(v, '@'))
		v = strrchr(v, '@') + 1;	/* RFC 8601 2.7.2: the domain alone will do */
	if (ar_plain(v))
		buf_printf(h, " smtp.%s=%s", helo ? "helo" : "mailfrom", v);
}

/* dmarc= as OpenDMARC writes it: "dmarc=fail (p=reject dis=reject)
 * header.from=example.com". */
static void ar_dmarc(const struct session_dkim *sd, struct buf *h)
{
	if (sd->from[0] == '\0')
		return;
	buf_printf(h, ";\n\tdmarc=%s", dmarc_result_name(sd->dm.result));
	if (sd->dm_found)
		buf_printf(h, " (p=%s dis=%s)", dmarc_policy_name(sd->dm_p),
		    dmarc_policy_name(sd->dm.disposition));
	buf_printf(h, " header.from=%s", sd->from);
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
	ar_spf(s, sd, h);
	ar_dmarc(sd, h);
	buf_puts(h, "\n");
}

/* Our own SPF check when no restriction ran one: 1 done, 0 pending. */
static int spf_step(struct session *s, struct session_dkim *sd)
{
	if (sd->spf_done)
		return 1;
	if ((s->pctx && policy_spf_result(s->pctx)) || s->sender == NULL) {
		sd->spf_done = 1;
		return 1;
	}
	struct spf_request rq = { s->addr, s->sender, s->helo, NULL, 0 };
	if (!spf_check(&rq, spf_dns, sd, &sd->spf))
		return 0;
	sd->spf_done = 1;
	return 1;
}

/* The DMARC record of name: 1 found (rec), 0 none, -1 temperror,
 * 2 pending. */
static int record_of(struct session_dkim *sd, const char *domain, struct dmarc_record *rec)
{
	char name[300];
	snprintf(name, sizeof(name), "_dmarc.%s", domain);
	const struct dns_result *r = answer(sd, name, DNS_TXT);
	if (r == NULL)
		return 2;
	if (r->status == DNS_TEMPFAIL)
		return -1;
	return r->status == DNS_OK && dmarc_pick(r->items, r->n, rec) ? 1 : 0;
}

/* DMARC of the message m (its headers): 1 done (sd->dm), 0 pending. */
static int dmarc_step(struct session *s, struct session_dkim *sd, const char *m, size_t len)
{
	if (sd->dm_done)
		return 1;
	if (dmarc_from_domain(m, len, sd->from, sizeof(sd->from)) < 0) {
		sd->from[0] = '\0';	/* no single From domain: no DMARC */
		sd->dm_done = 1;
		return 1;
	}
	struct dmarc_record rec;
	int at_org = 0;
	int k = record_of(sd, sd->from, &rec);
	if (k == 0 && dmarc_org_domain(sd->from, sd->org, sizeof(sd->org)) == 0 &&
	    strcmp(sd->org, sd->from) != 0) {
		k = record_of(sd, sd->org, &rec);
		at_org = 1;
	}
	if (k == 2)
		return 0;
	sd->dm_done = 1;
	memset(&sd->dm, 0, sizeof(sd->dm));
	if (k <= 0) {
		sd->dm.result = k < 0 ? DMARC_TEMPERROR : DMARC_NONE;
		return 1;
	}
	const char *pass[VQ_MAX];
	size_t np = 0;
	for (int i = 0; i < sd->nres; i++)
		if (sd->res[i].result == DKIM_PASS && sd->res[i].domain[0])
			pass[np++] = sd->res[i].domain;
	const struct spf_result *sr = spf_of(s, sd);
	struct dmarc_input in = { sd->from, pass, np,
	    sr && sr->result == SPF_PASS ? sr->domain : NULL };
	sd->dm_found = 1;
	sd->dm_p = at_org ? rec.sp : rec.p;
	dmarc_evaluate(&in, &rec, at_org, (int)(random() % 100), &sd->dm);
	return 1;
}

/* "warning: DMARC fail from host[addr]: ..." and its event (jail mode dmarc). */
static void fail_event(struct session *s, const struct session_dkim *sd)
{
	char line[1024];
	snprintf(line, sizeof(line), "warning: DMARC fail from %s: header.from=%s; "
	    "envelope-from=<%.300s>; p=%s; dis=%s", session_client(s), sd->from,
	    s->sender ? s->sender : "", dmarc_policy_name(sd->dm_p),
	    dmarc_policy_name(sd->dm.disposition));
	log_info("%s", line);
	event_send(s, WEV_DMARC_FAIL, s->sasl_username, line);
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
	if (sd->dm_done)
		return 0;	/* done (a later restart) */
	struct buf body;
	buf_init(&body, (size_t)-1 / 2);
	if (spool_body_read(s->w, &body) < 0) {
		buf_free(&body);
		log_warn("%s: dkim: queue file read error: %m", s->w->id);
		return -1;
	}
	const char *m = body.data ? body.data : "";
	if (sd->nres < 0) {
		int n = dkim_verify(m, body.len, clock_wall(), lookup, sd, sd->res, VQ_MAX);
		if (n >= 0)
			sd->nres = n;
	}
	int ready = sd->nres >= 0;
	ready &= spf_step(s, sd);	/* all three stages start their lookups at once */
	if (ready)
		ready = dmarc_step(s, sd, m, body.len);
	if (!ready) {
		buf_free(&body);
		sd->waiting = 1;
		s->state = SMTP_ST_WAIT;
		return 1;
	}
	int n = sd->nres;
	struct buf h, rest;
	buf_init(&h, 1 << 16);
	buf_init(&rest, (size_t)-1 / 2);
	int write_ar = n > 0 || sd->dm_found;	/* unsigned mail without DMARC gets none */
	if (write_ar)
		ar_header(s, sd, &h);
	int removed = strip_ours(m, body.len, &rest);
	int rc = 0;
	if (write_ar || removed > 0)
		rc = spool_body_replace(s->w, h.data ? h.data : "", h.len,
		    rest.data ? rest.data : "", rest.len);
	if (rc < 0)
		log_warn("%s: dkim: queue file write error", s->w->id);
	for (int i = 0; i < n; i++)
		log_info("%s: dkim=%s d=%s s=%s%s%s", s->w->id, dkim_result_name(sd->res[i].result),
		    sd->res[i].domain, sd->res[i].selector, sd->res[i].why[0] ? " reason=" : "",
		    sd->res[i].why);
	if (sd->dm_found || sd->dm.result == DMARC_TEMPERROR)
		log_info("%s: dmarc=%s header.from=%s p=%s dis=%s", s->w->id,
		    dmarc_result_name(sd->dm.result), sd->from, dmarc_policy_name(sd->dm_p),
		    dmarc_policy_name(sd->dm.disposition));
	if (sd->dm.result == DMARC_FAIL)
		fail_event(s, sd);
	if (removed)
		log_info("%s: removed %d Authentication-Results header%s claiming %s", s->w->id,
		    removed, removed == 1 ? "" : "s", authserv);
	buf_free(&h);
	buf_free(&rest);
	buf_free(&body);
	return rc < 0 ? -1 : 0;
}

/* The DMARC disposition to act on (dmarc_policy_enforce), or NONE. */
static enum dmarc_policy acting(const struct session *s)
{
	const struct session_dkim *sd = s->dkim;
	if (!enforce || sd == NULL || !sd->dm_done || sd->dm.result != DMARC_FAIL)
		return DMARC_P_NONE;
	return sd->dm.disposition;
}

int dkimverify_dmarc_reject(struct session *s)
{
	if (acting(s) != DMARC_P_REJECT)
		return 0;
	const char *from = s->dkim->from;
	log_info("%s: reject: END-OF-MESSAGE from %s: 550 5.7.1 Rejected by DMARC policy for %s; "
	    "from=<%s> to=<%s> proto=%s helo=<%s>", s->w->id, session_client(s), from,
	    s->sender, s->rcpt[0], s->esmtp ? "ESMTP" : "SMTP", s->helo ? s->helo : "");
	spool_abort(s->w);
	free(s->w);
	s->w = NULL;
	session_reply(s, "550 5.7.1 Rejected by DMARC policy for %s", from);
	metrics_inc(M_REJECTS, "dmarc");
	session_reset_transaction(s);
	s->state = SMTP_ST_CMD;
	s->cmd_ok[CMD_DATA]--;
	return 1;
}

void dkimverify_after_finish(struct session *s)
{
	if (acting(s) != DMARC_P_QUARANTINE)
		return;
	char to[SPOOL_ID_MAX + 8];
	snprintf(to, sizeof(to), "hold/%s", s->w->id);
	if (renameat(s->eng->incoming_fd, s->w->id, s->eng->spool_dirfd, to) < 0) {
		if (errno != ENOENT)	/* ENOENT: held already (a milter, header_checks) */
			log_warn("%s: cannot move into the hold queue: %m", s->w->id);
		return;
	}
	log_info("%s: hold: DMARC policy quarantine for %s", s->w->id, s->dkim->from);
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
		for (size_t j = 0; j < sd->q[i]->r.n; j++)
			free(sd->q[i]->r.items[j]);
		free(sd->q[i]->r.items);
		free(sd->q[i]);
	}
	free(sd);
	s->dkim = NULL;
}
