/*
 * qmsg — one recipient's delivery result: the Postfix log line
 *   ID: to=<rcpt>, orig_to=<alias>, relay=mx[ip]:25, delay=0.5,
 *       delays=a/b/c/d, dsn=2.0.0, status=sent (250 2.0.0 Ok)
 * (a: before the queue manager, b: in it, c: connection set-up, d: the
 * transfer) and the records a DSN needs for failed recipients.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/metrics.h"
#include "common/util.h"
#include "queue/qmgr_int.h"

void qmsg_fmt_delay(char *out, size_t len, double s)
{
	if (s < 0)
		s = 0;
	if (s >= 10)
		snprintf(out, len, "%ld", (long)s);
	else if (s >= 1)
		snprintf(out, len, "%.1f", (double)(long)(s * 10) / 10);
	else if (s >= 0.01)
		snprintf(out, len, "%.2f", (double)(long)(s * 100) / 100);
	else
		snprintf(out, len, "0");
	/* trim trailing zeros of a fraction: "0.10" -> "0.1", "1.0" -> "1" */
	char *dot = strchr(out, '.');
	if (dot) {
		char *end = out + strlen(out) - 1;
		while (end > dot && *end == '0')
			*end-- = '\0';
		if (end == dot)
			*end = '\0';
	}
}

static void record_fail(struct qmsg *m, size_t ri, const struct qres *r)
{
	struct qfail *f = NULL;
	for (size_t i = 0; i < m->nfail; i++)
		if (m->fails[i].ri == ri && strcmp(m->fails[i].addr, r->addr) == 0) {
			f = &m->fails[i];
			free(f->addr);
			free(f->orig);
			free(f->mta);
			free(f->diag);
			break;
		}
	if (f == NULL) {
		m->fails = xrealloc(m->fails, (m->nfail + 1) * sizeof(*m->fails));
		f = &m->fails[m->nfail++];
	}
	memset(f, 0, sizeof(*f));
	f->ri = ri;
	f->addr = xstrdup(r->addr);
	f->orig = xstrdup(r->orig ? r->orig : r->addr);
	str_copy(f->dsn, sizeof(f->dsn), r->dsn);
	f->mta = r->mta ? xstrdup(r->mta) : NULL;
	f->smtp = r->reply != NULL;
	f->diag = xstrdup(r->reply ? r->reply : r->why);
	f->perm = r->status == QR_BOUNCE;
}

void qmsg_result(struct qmsg *m, size_t ri, const struct qres *r)
{
	double arr = (double)m->env.arrival_sec + (double)m->env.arrival_usec / 1e6;
	char delay[32], a[32], b[32], c[32], d[32];
	const char *orig = r->orig ? r->orig : r->addr;
	int same = str_ieq(orig, r->addr);
	double t_xfer = r->t_xfer > 0 ? r->t_xfer : r->t_start;

	qmsg_fmt_delay(delay, sizeof(delay), r->t_done - arr);
	qmsg_fmt_delay(a, sizeof(a), m->t_active - arr);
	qmsg_fmt_delay(b, sizeof(b), r->t_start - m->t_active);
	qmsg_fmt_delay(c, sizeof(c), t_xfer - r->t_start);
	qmsg_fmt_delay(d, sizeof(d), r->t_done - t_xfer);
	log_set_service(r->service);
	log_info("%s: to=<%s>%s%s%s, relay=%s, delay=%s, delays=%s/%s/%s/%s, dsn=%s, status=%s (%s)",
	    m->env.id, r->addr, same ? "" : ", orig_to=<", same ? "" : orig, same ? "" : ">",
	    r->relay, delay, a, b, c, d, r->dsn,
	    r->status == QR_SENT ? "sent" : r->status == QR_BOUNCE ? "bounced" : "deferred", r->why);
	log_set_service("qmgr");
	metrics_inc(r->status == QR_SENT ? M_MSG_DELIVERED : r->status == QR_BOUNCE ?
	    M_MSG_BOUNCED : M_MSG_DEFERRED, NULL);
	if (r->status != QR_DEFER)
		metrics_observe(M_DELIVERY_DELAY, NULL, r->t_done - arr);
	if (r->status == QR_DEFER)
		m->pending[ri] = 1;
	if (r->status != QR_SENT)
		record_fail(m, ri, r);
}

void qmsg_free_fails(struct qmsg *m)
{
	for (size_t i = 0; i < m->nfail; i++) {
		free(m->fails[i].addr);
		free(m->fails[i].orig);
		free(m->fails[i].mta);
		free(m->fails[i].diag);
	}
	free(m->fails);
	m->fails = NULL;
	m->nfail = 0;
}

void qmsg_unref(struct qmsg *m)
{
	if (--m->refs == 0)
		qmgr_finish(m);
}
