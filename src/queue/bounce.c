/*
 * bounce — delivery status notifications (RFC 3464) for the queue
 * process: a multipart/report with
 *   1. text/plain: Postfix's "This is the mail system at host ..." text
 *      and one line per failed recipient;
 *   2. message/delivery-status: Reporting-MTA, Arrival-Date, then per
 *      recipient Final-Recipient, Original-Recipient, Action, Status,
 *      Remote-MTA, Diagnostic-Code;
 *   3. text/rfc822-headers: the headers of the original message.
 * A delay warning (delay_warning_time) has the same parts with Postfix's
 * "Delayed Mail (still being retried)" text and Action: delayed.
 * The DSN is written as a new queue file in incoming/ from
 * MAILER-DAEMON (null envelope sender) to the original sender; the
 * caller makes it durable and queues it. Never called for a message
 * that itself has a null sender.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/buf.h"
#include "common/config.h"
#include "common/util.h"
#include "queue/qmgr_int.h"
#include "mail/spool.h"

#define BOUNCE_HDR_MAX	(64 * 1024)	/* original headers copied at most */

static void rfc822_date(time_t t, char *out, size_t len)
{
	struct tm tm;
	localtime_r(&t, &tm);
	if (strftime(out, len, "%a, %d %b %Y %H:%M:%S %z (%Z)", &tm) == 0)
		out[0] = '\0';
}

/* The original message's header block (up to the first empty line). */
static void copy_headers(struct buf *b, const struct qmsg *m)
{
	size_t want = m->env.body_len < BOUNCE_HDR_MAX ? m->env.body_len : BOUNCE_HDR_MAX;
	char *h = xmalloc(want + 1);
	ssize_t n = pread(m->env.fd, h, want, m->env.body_off);
	if (n < 0)
		n = 0;
	h[n] = '\0';
	char *end = strstr(h, "\n\n");
	size_t hl = end ? (size_t)(end - h) + 1 : (size_t)n;
	buf_append(b, h, hl);
	if (hl > 0 && h[hl - 1] != '\n')
		buf_puts(b, "\n");
	free(h);
}

/* Whether failure f belongs in a DSN of this kind. */
int bounce_reported(const struct qmsg *m, const struct qfail *f, enum bounce_kind kind)
{
	switch (kind) {
	case BOUNCE_FAILED:
		return f->perm;
	case BOUNCE_EXPIRED:
		return 1;
	case BOUNCE_DELAYED:
		return !f->perm && m->env.rcpt[f->ri].status == SPOOL_ST_PENDING;
	}
	return 0;
}

/* "4.0 hours", "5.0 days": Postfix's wording of a time span. */
static void span(char *out, size_t len, long secs, long unit, const char *name)
{
	double v = (double)secs / (double)unit;
	snprintf(out, len, "%.1f %s%s", v, name, v == 1.0 ? "" : "s");
}

static void text_failed(struct buf *b, const char *host)
{
	buf_printf(b, "This is the mail system at host %s.\n\n"
	    "I'm sorry to have to inform you that your message could not\n"
	    "be delivered to one or more recipients. It's attached below.\n\n"
	    "For further assistance, please send mail to postmaster.\n\n"
	    "If you do so, please include this problem report. You can\n"
	    "delete your own text from the attached returned message.\n\n"
	    "                   The mail system\n\n", host);
}

static void text_delayed(struct buf *b, const char *host, const struct config *cfg)
{
	char waited[64], until[64];

	span(waited, sizeof(waited), config_get_time(cfg, "delay_warning_time"), 3600, "hour");
	span(until, sizeof(until), config_get_time(cfg, "maximal_queue_lifetime"), 86400, "day");
	buf_printf(b, "This is the mail system at host %s.\n\n"
	    "####################################################################\n"
	    "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\n"
	    "####################################################################\n\n"
	    "Your message could not be delivered for %s.\n"
	    "It will be retried until it is %s old.\n\n"
	    "For further assistance, please send mail to postmaster.\n\n"
	    "If you do so, please include this problem report. You can\n"
	    "delete your own text from the attached returned message.\n\n"
	    "                   The mail system\n\n", host, waited, until);
}

int bounce_create(const struct config *cfg, int incoming_fd, const struct qmsg *m,
    enum bounce_kind kind, char *newid, size_t len)
{
	int expired = kind == BOUNCE_EXPIRED, delayed = kind == BOUNCE_DELAYED;
	const char *host = config_get(cfg, "myhostname");
	const char *name = config_get(cfg, "mail_name");
	char date[80], arrival[80], boundary[96], retry[80];
	struct buf b;
	struct timespec now;
	struct spool_env env;
	struct spool_rcpt rc;
	struct spool_writer w;

	now = clock_wall_ts();
	rfc822_date(now.tv_sec, date, sizeof(date));
	rfc822_date((time_t)m->env.arrival_sec, arrival, sizeof(arrival));
	rfc822_date((time_t)(m->env.arrival_sec + config_get_time(cfg, "maximal_queue_lifetime")),
	    retry, sizeof(retry));
	snprintf(boundary, sizeof(boundary), "%s.%ld/%s", m->env.id, (long)now.tv_sec, host);

	buf_init(&b, 16 * 1024 * 1024);
	buf_printf(&b, "Received: by %s (%s)\n\tid %s; %s\n", host, name, m->env.id, date);
	buf_printf(&b, "Date: %s\n", date);
	buf_printf(&b, "From: MAILER-DAEMON@%s (Mail Delivery System)\n", host);
	buf_printf(&b, "Subject: %s\n", delayed ? "Delayed Mail (still being retried)" :
	    "Undelivered Mail Returned to Sender");
	buf_printf(&b, "To: %s\n", m->env.sender);
	buf_printf(&b, "Auto-Submitted: auto-replied\n");
	buf_printf(&b, "MIME-Version: 1.0\n");
	buf_printf(&b, "Content-Type: multipart/report; report-type=delivery-status;\n"
	    "\tboundary=\"%s\"\n", boundary);
	buf_printf(&b, "Content-Transfer-Encoding: 8bit\n");
	buf_printf(&b, "Message-Id: <%ld.%s@%s>\n\n", (long)now.tv_sec, m->env.id, host);
	buf_printf(&b, "This is a MIME-encapsulated message.\n\n");

	/* 1. the human-readable part */
	buf_printf(&b, "--%s\nContent-Description: Notification\n"
	    "Content-Type: text/plain; charset=us-ascii\n\n", boundary);
	if (delayed)
		text_delayed(&b, host, cfg);
	else
		text_failed(&b, host);
	for (size_t i = 0; i < m->nfail; i++) {
		const struct qfail *f = &m->fails[i];
		if (!bounce_reported(m, f, kind))
			continue;
		buf_printf(&b, "<%s>%s%s%s: %s%s\n\n", f->addr,
		    strcmp(f->orig, f->addr) ? " (expanded from <" : "",
		    strcmp(f->orig, f->addr) ? f->orig : "", strcmp(f->orig, f->addr) ? ">)" : "",
		    f->perm || delayed ? "" : "delivery temporarily suspended or failed for too long: ",
		    f->smtp && f->mta ? "" : f->diag);
		if (f->smtp && f->mta)
			buf_printf(&b, "    host %s said: %s\n\n", f->mta, f->diag);
	}

	/* 2. the machine-readable part */
	buf_printf(&b, "--%s\nContent-Description: Delivery report\n"
	    "Content-Type: message/delivery-status\n\n", boundary);
	buf_printf(&b, "Reporting-MTA: dns; %s\nX-Postfix-Queue-ID: %s\n"
	    "X-Postfix-Sender: rfc822; %s\nArrival-Date: %s\n", host, m->env.id,
	    m->env.sender, arrival);
	for (size_t i = 0; i < m->nfail; i++) {
		const struct qfail *f = &m->fails[i];
		if (!bounce_reported(m, f, kind))
			continue;
		char st[16];
		str_copy(st, sizeof(st), f->dsn);
		if (expired && !f->perm)
			st[0] = '5';	/* expired: a failure now */
		buf_printf(&b, "\nFinal-Recipient: rfc822; %s\n", f->addr);
		if (strcmp(f->orig, f->addr) != 0)
			buf_printf(&b, "Original-Recipient: rfc822;%s\n", f->orig);
		buf_printf(&b, "Action: %s\nStatus: %s\n", delayed ? "delayed" : "failed", st);
		if (f->mta)
			buf_printf(&b, "Remote-MTA: dns; %s\n", f->mta);
		buf_printf(&b, "Diagnostic-Code: %s; %s\n", f->smtp ? "smtp" : "X-Postfix", f->diag);
		if (delayed)
			buf_printf(&b, "Will-Retry-Until: %s\n", retry);
	}
	buf_printf(&b, "\n");

	/* 3. the original headers */
	buf_printf(&b, "--%s\nContent-Description: %s\n"
	    "Content-Type: text/rfc822-headers\nContent-Transfer-Encoding: 8bit\n\n", boundary,
	    delayed ? "Delayed Message Headers" : "Undelivered Message Headers");
	copy_headers(&b, m);
	buf_printf(&b, "\n--%s--\n", boundary);

	memset(&env, 0, sizeof(env));
	env.arrival_sec = now.tv_sec;
	env.arrival_usec = now.tv_nsec / 1000;
	env.client_name = "localhost";
	env.client_addr = "127.0.0.1";
	env.helo = "";
	env.proto = "bounce";
	env.sender = "";
	rc.addr = m->env.sender;
	rc.status = SPOOL_ST_PENDING;
	rc.status_off = 0;
	env.rcpt = &rc;
	env.nrcpt = 1;
	int r = -1;
	if (spool_create(&w, incoming_fd, &env) == 0) {
		if (spool_write(&w, b.data, b.len) == 0 && spool_finish(&w) == 0) {
			str_copy(newid, len, w.id);
			r = 0;
		} else {
			int e = errno;
			spool_abort(&w);
			errno = e;
		}
	}
	buf_free(&b);
	return r;
}
