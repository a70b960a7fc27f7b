/*
 * data — message content after DATA: line framing, dot-unstuffing, the
 * only valid end <CR><LF>.<CR><LF> (no SMTP smuggling), bare <LF> policy
 * (smtpd_forbid_bare_newline), size limit, Received header, Message-ID,
 * and streaming into the queue file. Submitted mail (AUTH or mynetworks
 * clients) without Message-ID or Date gets them at the end of its header
 * section, as Postfix's cleanup does; other mail is never changed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/util.h"
#include "policy/restrict.h"
#include "mail/headers.h"
#include "mail/spool.h"
#include "smtp/cleanup.h"
#include "smtp/data.h"
#include "smtp/dkimsign.h"
#include "smtp/dkimverify.h"
#include "smtp/engine_int.h"
#include "smtp/milters.h"
#include "smtp/session.h"

#define DATA_LINE_MAX 4096	/* longer lines are written in pieces */

/* s->data_in_headers holds these flags while the header section is read. */
enum { DH_IN = 1, DH_DATE = 2, DH_MSGID = 4, DH_SUBMIT = 8 };

/* RFC 3848: ESMTP plus S for TLS and A for AUTH. */
static const char *data_proto(const struct session *s)
{
	if (!s->esmtp)
		return "SMTP";
	if (s->tls == TLS_ON)
		return s->sasl_username ? "ESMTPSA" : "ESMTPS";
	return s->sasl_username ? "ESMTPA" : "ESMTP";
}

/* Content into the queue file, and into the milters' copy when they
 * will see the message. */
static void data_out(struct session *s, const char *p, size_t n)
{
	spool_write(s->w, p, n);
	if (!cleanup_copy(s, p, n))
		milters_copy(s, p, n);
}

static void data_received_header(struct session *s, const char *id)
{
	char date[64];
	time_t now = clock_wall();
	struct tm tm;
	localtime_r(&now, &tm);
	if (strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z (%Z)", &tm) == 0)
		date[0] = '\0';
	struct buf h;
	buf_init(&h, 4096);
	int v6 = strchr(s->addr, ':') != NULL;
	buf_printf(&h, "Received: from %s (%s [%s%s])\n", s->helo ? s->helo : s->addr,
	    s->name, v6 ? "IPv6:" : "", s->addr);
	if (s->tls == TLS_ON && s->tls_info && s->eng->tls_received_header) {
		/* Postfix's layout: version and cipher, then the key exchange
		 * on its own line. */
		const char *kx = strstr(s->tls_info, " key-exchange ");
		if (kx)
			buf_printf(&h, "\t(using %.*s\n\t %s)\n", (int)(kx - s->tls_info),
			    s->tls_info, kx + 1);
		else
			buf_printf(&h, "\t(using %s)\n", s->tls_info);
		buf_printf(&h, "\t(No client certificate requested)\n");
	}
	buf_printf(&h, "\tby %s (%s) with %s id %s", s->eng->myhostname,
	    s->eng->mail_name, data_proto(s), id);
	if (s->nrcpt == 1)
		buf_printf(&h, "\n\tfor <%s>; %s\n", s->rcpt[0], date);
	else
		buf_printf(&h, ";\n\t%s\n", date);
	data_out(s, h.data, h.len);
	buf_free(&h);
}

/* The envelope of the message from what the session knows (rc: the
 * recipients, freed by the caller). */
void data_envelope(struct session *s, struct spool_env *env, struct spool_rcpt **rcp)
{
	struct spool_env *envp = env;
	struct spool_rcpt *rc;
	memset(envp, 0, sizeof(*envp));
	envp->arrival_sec = s->data_arrival.tv_sec;
	envp->arrival_usec = s->data_arrival.tv_nsec / 1000;
	envp->client_name = s->name;
	envp->client_addr = s->addr;
	envp->helo = s->helo ? s->helo : "";
	envp->proto = (char *)data_proto(s);
	envp->sender = s->sender;
	/* the listener's content_filter (a FILTER action replaces it) and
	 * receive_override_options = no_address_mappings */
	const struct role_cfg *role = &s->eng->roles[s->role];
	if (role->content_filter && *role->content_filter)
		envp->filter = (char *)role->content_filter;
	if (cleanup_filter(s))
		envp->filter = (char *)cleanup_filter(s);	/* a FILTER action wins */
	envp->no_address_mappings = role->no_address_mappings;
	rc = xcalloc(s->nrcpt ? s->nrcpt : 1, sizeof(*rc));
	for (size_t i = 0; i < s->nrcpt; i++)
		rc[i].addr = s->rcpt[i];
	envp->rcpt = rc;
	envp->nrcpt = s->nrcpt;
	*rcp = rc;
}

int data_begin(struct session *s)
{
	struct spool_env env;
	struct spool_rcpt *rc;

	s->data_arrival = clock_wall_ts();
	data_envelope(s, &env, &rc);
	s->w = xmalloc(sizeof(*s->w));
	int r = spool_create(s->w, s->eng->incoming_fd, &env);
	free(rc);
	if (r < 0) {
		log_warn("cannot create queue file: %m");
		free(s->w);
		s->w = NULL;
		return -1;
	}
	if (s->sasl_username)
		log_info("%s: client=%s, sasl_method=%s, sasl_username=%s", s->w->id,
		    session_client(s), s->sasl_method, s->sasl_username);
	else
		log_info("%s: client=%s", s->w->id, session_client(s));
	milters_copy_begin(s);
	cleanup_begin(s);
	if (s->pctx && s->pctx->prepend[0])
		data_out(s, s->pctx->prepend, strlen(s->pctx->prepend));
	data_received_header(s, s->w->id);
	s->state = SMTP_ST_DATA;
	s->data_size = 0;
	s->data_too_big = 0;
	s->data_bare_lf = 0;
	s->data_bol = 1;
	s->data_prev_crlf = 1;
	s->data_in_headers = DH_IN | (s->sasl_username || s->in_mynetworks ? DH_SUBMIT : 0);
	s->last_cmd = "DATA";
	buf_init(&s->dline, DATA_LINE_MAX);
	return 0;
}

static void data_emit(struct session *s, const char *p, size_t n)
{
	s->data_size += n;
	if (s->eng->size_limit > 0 && s->data_size > (size_t)s->eng->size_limit)
		s->data_too_big = 1;
	if (!s->data_too_big)
		data_out(s, p, n);
}

/* The header section ended: add the Date and Message-Id a submitted
 * message lacks (Postfix's cleanup layout), then stop looking. blank:
 * the body began without the empty line; write one after what we add. */
static void data_headers_done(struct session *s, int blank)
{
	int f = s->data_in_headers;
	char v[300];
	time_t now = clock_wall();

	s->data_in_headers = 0;
	if (!(f & DH_SUBMIT) || s->data_too_big || s->w == NULL || (f & (DH_DATE | DH_MSGID)) ==
	    (DH_DATE | DH_MSGID))
		return;
	if (!(f & DH_DATE) && headers_make_date(v, sizeof(v), now) == 0) {
		data_out(s, "Date: ", 6);
		data_out(s, v, strlen(v));
		data_out(s, "\n", 1);
	}
	if (!(f & DH_MSGID) &&
	    headers_make_msgid(v, sizeof(v), s->w->id, s->eng->myhostname, now) == 0) {
		data_out(s, "Message-Id: ", 12);
		data_out(s, v, strlen(v));
		data_out(s, "\n", 1);
		free(s->message_id);
		s->message_id = xstrndup(v + 1, strlen(v) - 2);	/* for the log, no <> */
	}
	if (blank)
		data_out(s, "\n", 1);
}

/* One line (no EOL) while in the header section. */
static void data_header(struct session *s, const char *p, size_t n)
{
	struct headers_seen seen = { 0 };
	struct header h;
	size_t off = 0;

	if (n == 0 || (p[0] != ' ' && p[0] != '\t' && headers_next(p, n, &off, &h) == 0)) {
		data_headers_done(s, n != 0);	/* blank line, or the body began without one */
		return;
	}
	headers_note(&seen, p, n);
	if (seen.date)
		s->data_in_headers |= DH_DATE;
	if (seen.msgid)
		s->data_in_headers |= DH_MSGID;
	if (s->message_id == NULL && n > 11 && strncasecmp(p, "Message-ID:", 11) == 0) {
		const char *v = p + 11;
		const char *e = p + n;
		while (v < e && (*v == ' ' || *v == '\t'))
			v++;
		while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e > v && *v == '<' && e[-1] == '>') {
			v++;
			e--;
		}
		s->message_id = xstrndup(v, (size_t)(e - v));
	}
}

/* The end of the message: check, then hand the file to group commit. */
static void data_end(struct session *s)
{
	buf_free(&s->dline);
	s->last_cmd = "END-OF-MESSAGE";
	if (s->data_bare_lf) {
		spool_abort(s->w);
		free(s->w);
		s->w = NULL;
		log_info("reject: bare <LF> received from %s", session_client(s));
		session_reply(s, "550 5.5.2 %s Error: bare <LF> received", s->eng->myhostname);
		session_reset_transaction(s);
		s->state = SMTP_ST_CLOSING;
		return;
	}
	if (s->data_too_big) {
		log_info("%s: reject: END-OF-MESSAGE from %s: 552 5.3.4 Message size exceeds fixed limit; from=<%s> to=<%s> proto=%s helo=<%s>",
		    s->w->id, session_client(s), s->sender, s->rcpt[0],
		    s->esmtp ? "ESMTP" : "SMTP", s->helo ? s->helo : "");
		spool_abort(s->w);
		free(s->w);
		s->w = NULL;
		session_reply(s, "552 5.3.4 Message size exceeds fixed limit");
		metrics_inc(M_REJECTS, "size");
		session_reset_transaction(s);
		s->state = SMTP_ST_CMD;
		s->cmd_ok[CMD_DATA]--;
		return;
	}
	if (s->data_in_headers)
		data_headers_done(s, 0);	/* a message that is all headers */
	if (cleanup_message(s) != 0)
		return;		/* header/body checks rejected or discarded it */
	if (!cleanup_pass(s) && milters_message(s) != 0)
		return;		/* the milters answer later, or rejected it */
	data_commit(s);
}

/* The message is final: DKIM-verify it (other clients' mail; may park
 * the session for DNS and run again) or sign it (submitted mail), write
 * its end record and wait for group commit. */
void data_commit(struct session *s)
{
	int v = dkimverify_message(s);	/* other clients' mail: Authentication-Results */
	if (v > 0)
		return;		/* waiting for DNS: runs again when answered */
	if (v == 0 && dkimverify_dmarc_reject(s))
		return;		/* dmarc_policy_enforce: p=reject failure */
	if (v == 0 && dkimsign_message(s) < 0)	/* submitted mail: DKIM-Signature */
		v = -1;
	if (v < 0) {
		spool_abort(s->w);
		errno = EIO;
	}
	if (v < 0 || spool_finish(s->w) < 0) {
		log_warn("%s: queue file write error: %m", s->w->id);
		free(s->w);
		s->w = NULL;
		session_reply(s, "451 4.3.0 Error: queue file write error");
		session_reset_transaction(s);
		s->state = SMTP_ST_CMD;
		s->cmd_ok[CMD_DATA]--;
		return;
	}
	milters_after_finish(s);
	cleanup_after_finish(s);	/* after: a milter's quarantine may have moved it */
	dkimverify_after_finish(s);	/* DMARC p=quarantine (enforced): hold/ */
	commit_add(s);
}

/* One complete line in s->dline (ends in LF). Returns 1 at end of data. */
static int data_line(struct session *s)
{
	char *p = s->dline.data;
	size_t len = s->dline.len;
	int crlf = len >= 2 && p[len - 2] == '\r';
	size_t clen = len - 1 - (crlf ? 1 : 0);
	int bol = s->data_bol;

	if (bol && crlf && s->data_prev_crlf && clen == 1 && p[0] == '.') {
		buf_reset(&s->dline);
		data_end(s);
		return 1;
	}
	if (!crlf && s->eng->bare_lf == BARE_LF_REJECT && !s->bare_lf_ok)
		s->data_bare_lf = 1;
	if (bol && clen > 0 && p[0] == '.') {
		p++;
		clen--;
	}
	if (bol && s->data_in_headers)
		data_header(s, p, clen);
	p[clen] = '\n';
	data_emit(s, p, clen + 1);
	s->data_bol = 1;
	s->data_prev_crlf = crlf;
	buf_reset(&s->dline);
	return 0;
}

/* A line longer than DATA_LINE_MAX: write what we have, keep a final CR. */
static void data_partial(struct session *s)
{
	char *p = s->dline.data;
	size_t len = s->dline.len;
	int keep_cr = len > 0 && p[len - 1] == '\r';
	size_t out = len - (keep_cr ? 1 : 0);
	if (s->data_bol && out > 0 && p[0] == '.') {
		p++;
		out--;
	}
	data_emit(s, p, out);
	s->data_bol = 0;
	buf_reset(&s->dline);
	if (keep_cr)
		buf_append(&s->dline, "\r", 1);
}

size_t data_feed(struct session *s, const char *p, size_t n)
{
	size_t used = 0;
	while (used < n) {
		const char *nl = memchr(p + used, '\n', n - used);
		size_t take = nl ? (size_t)(nl - (p + used)) + 1 : n - used;
		while (take > 0) {
			size_t room = s->dline.max - s->dline.len;
			if (room == 0) {
				data_partial(s);
				continue;
			}
			size_t k = take < room ? take : room;
			buf_append(&s->dline, p + used, k);
			used += k;
			take -= k;
		}
		if (nl && data_line(s))
			return used;
	}
	return used;
}
