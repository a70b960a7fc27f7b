/*
 * cleanup — the engine's part of Postfix's cleanup inspection: the
 * header_checks, mime_header_checks, nested_header_checks and body_checks
 * tables (opened at set-up, before chroot), a copy of the message as it
 * is written, and at the end of DATA, before the milters and the 250,
 * the checks' verdict (src/mail/checks.c) applied in one place: REJECT
 * answers the DATA, DISCARD answers 250 and drops the file, header and
 * body edits and REDIRECT/BCC/FILTER rewrite the queue file (same ID,
 * lock held), HOLD moves the file into hold/ after its end record, PASS
 * skips the milters. Log lines are cleanup's ("ID: reject: header ...").
 * The access-map and policy actions (HOLD, DISCARD, REDIRECT, BCC,
 * FILTER) of the transaction land here too (cleanup_policy_*).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/log.h"
#include "common/map.h"
#include "common/util.h"
#include "mail/checks.h"
#include "mail/spool.h"
#include "smtp/cleanup.h"
#include "smtp/data.h"
#include "smtp/engine_int.h"
#include "smtp/milters.h"
#include "smtp/session.h"

struct session_cleanup {
	int copying;
	struct buf copy;		/* the message as written into the queue file */
	struct checks_result pol;	/* actions from access maps and policy services */
	int hold;			/* into hold/ after the end record */
	int pass;			/* PASS: no milters for this message */
	char *filter;			/* a FILTER action's transport:destination */
};

void cleanup_setup(struct engine *e, const struct config *cfg)
{
	char err[600];
	if (checks_open(&e->checks, cfg, err, sizeof(err)) < 0)
		fatal("%s", err);
	e->milter_hbc = maplist_open(config_get(cfg, "milter_header_checks"), 0, err, sizeof(err));
	if (e->milter_hbc == NULL)
		fatal("milter_header_checks: %s", err);
}

/* The session's state, made on first use. */
static struct session_cleanup *get(struct session *s)
{
	if (s->cleanup == NULL)
		s->cleanup = xcalloc(1, sizeof(*s->cleanup));
	return s->cleanup;
}

/* Whether the transaction's policy actions change the queue file. */
static int pol_rewrites(const struct session_cleanup *c)
{
	return c && (c->pol.redirect || c->pol.nbcc || c->pol.filter);
}

/* Whether this listener runs the header and body checks
 * (receive_override_options = no_header_body_checks turns them off). */
static int hbc_on(const struct session *s)
{
	return checks_any(&s->eng->checks) && !s->eng->roles[s->role].no_header_body_checks;
}

void cleanup_begin(struct session *s)
{
	if (!hbc_on(s) && !pol_rewrites(s->cleanup))
		return;
	struct session_cleanup *c = get(s);
	long lim = s->eng->size_limit;
	buf_free(&c->copy);
	buf_init(&c->copy, lim > 0 ? (size_t)lim + 1024 * 1024 : SIZE_MAX / 2);
	c->copying = 1;
}

int cleanup_copy(struct session *s, const char *p, size_t n)
{
	if (s->cleanup == NULL || !s->cleanup->copying)
		return 0;
	buf_append(&s->cleanup->copy, p, n);
	return 1;
}

/* "ID: ACTION: CLASS CONTENT from host[addr]; from=<> to=<> proto=ESMTP
 * helo=<>: TEXT", cleanup_act_log()'s layout (content cut at 200). */
static void act_log(void *arg, const char *action, const char *cls, const char *content,
    const char *text)
{
	struct session *s = arg;
	char shown[201];
	str_copy(shown, sizeof(shown), content);
	str_printable(shown, '?');
	log_set_service("cleanup");
	log_info("%s: %s: %s %s from %s; from=<%s> to=<%s> proto=%s helo=<%s>%s%s", s->w->id,
	    action, cls, shown, session_client(s), s->sender ? s->sender : "",
	    s->nrcpt ? s->rcpt[0] : "", s->esmtp ? "ESMTP" : "SMTP", s->helo ? s->helo : "",
	    text && *text ? ": " : "", text ? text : "");
	log_set_service("smtpd");
}

static void act_warn(void *arg, const char *text)
{
	struct session *s = arg;
	log_set_service("cleanup");
	log_warn("%s: %s", s->w->id, text);
	log_set_service("smtpd");
}

/* Add a recipient to the session's envelope unless it is there. */
static void add_rcpt(struct session *s, const char *a)
{
	for (size_t i = 0; i < s->nrcpt; i++)
		if (strcasecmp(s->rcpt[i], a) == 0)
			return;
	if (s->nrcpt == s->rcpt_cap) {
		s->rcpt_cap = s->rcpt_cap ? s->rcpt_cap * 2 : 4;
		s->rcpt = xrealloc(s->rcpt, s->rcpt_cap * sizeof(*s->rcpt));
	}
	s->rcpt[s->nrcpt++] = xstrdup(a);
}

/* Merge the policy actions into r (the checks' own come last and win). */
static void merge_policy(struct checks_result *r, const struct checks_result *pol)
{
	r->hold |= pol->hold;
	r->discard |= pol->discard;
	if (pol->redirect && r->redirect == NULL)
		r->redirect = xstrdup(pol->redirect);
	if (pol->filter && r->filter == NULL)
		r->filter = xstrdup(pol->filter);
	for (size_t i = 0; i < pol->nbcc; i++) {
		r->bcc = xrealloc(r->bcc, (r->nbcc + 1) * sizeof(*r->bcc));
		r->bcc[r->nbcc++] = xstrdup(pol->bcc[i]);
	}
}

/* REDIRECT replaces every recipient; BCC adds. 1 if the envelope changed. */
static int envelope(struct session *s, const struct checks_result *r)
{
	if (r->redirect) {
		for (size_t i = 0; i < s->nrcpt; i++)
			free(s->rcpt[i]);
		s->nrcpt = 0;
		add_rcpt(s, r->redirect);
	}
	for (size_t i = 0; i < r->nbcc; i++)
		add_rcpt(s, r->bcc[i]);
	return r->redirect || r->nbcc || r->filter;
}

/* Answer the DATA here: reply, drop the file, end the transaction. */
static int answer(struct session *s, const char *reply, int queued)
{
	spool_abort(s->w);
	free(s->w);
	s->w = NULL;
	session_reply(s, "%s", reply);
	if (!queued)
		s->cmd_ok[CMD_DATA]--;
	s->state = SMTP_ST_CMD;
	session_reset_transaction(s);
	return 1;
}

int cleanup_message(struct session *s)
{
	struct session_cleanup *c = s->cleanup;
	struct checks_result r = { 0 };
	struct buf out;
	char reply[700];
	int rc = 0;
	if (c == NULL)
		return 0;
	buf_init(&out, SIZE_MAX / 2);
	if (c->copying) {
		c->copying = 0;
		if (hbc_on(s) && checks_run(&s->eng->checks, c->copy.data ? c->copy.data : "", c->copy.len,
		    &out, &r, act_log, act_warn, s) < 0)
			r.changed = 0;	/* cannot happen below SIZE_MAX/2: keep the file */
	}
	merge_policy(&r, &c->pol);
	if (r.reject) {
		snprintf(reply, sizeof(reply), "%s %s", r.reply[0] == '4' ? "451" : "550", r.reply);
		rc = answer(s, reply, 0);
		goto out;
	}
	if (r.discard) {
		snprintf(reply, sizeof(reply), "250 2.0.0 Ok: queued as %s", s->w->id);
		rc = answer(s, reply, 1);
		goto out;
	}
	c->hold = r.hold;
	c->pass = r.pass;
	if (r.filter) {			/* FILTER wins over content_filter */
		free(c->filter);
		c->filter = xstrdup(r.filter);
	}
	int env = envelope(s, &r);
	const char *body = r.changed ? out.data : c->copy.data;
	size_t blen = r.changed ? out.len : c->copy.len;
	if (env || r.changed) {
		struct spool_env e;
		struct spool_rcpt *rcp;
		data_envelope(s, &e, &rcp);
		int w = spool_rewrite(s->w, &e);
		if (w == 0 && body && blen)
			w = spool_write(s->w, body, blen);
		free(rcp);
		if (w < 0) {
			log_warn("%s: cannot write the checks' changes: %s", s->w->id,
			    strerror(s->w->error));
			rc = answer(s, "451 4.3.0 Error: queue file write error", 0);
			goto out;
		}
	}
	if (!c->pass && body)
		milters_copy(s, body, blen);	/* the milters see the checked message */
out:
	checks_result_free(&r);
	buf_free(&out);
	buf_free(&c->copy);
	return rc;
}

int cleanup_pass(struct session *s)
{
	return s->cleanup && s->cleanup->pass;
}

const char *cleanup_filter(const struct session *s)
{
	return s->cleanup ? s->cleanup->filter : NULL;
}

void cleanup_after_finish(struct session *s)
{
	struct session_cleanup *c = s->cleanup;
	char to[SPOOL_ID_MAX + 8];
	if (c == NULL || !c->hold)
		return;
	c->hold = 0;
	snprintf(to, sizeof(to), "hold/%s", s->w->id);
	if (renameat(s->eng->incoming_fd, s->w->id, s->eng->spool_dirfd, to) < 0 && errno != ENOENT)
		log_warn("%s: cannot move into the hold queue: %m", s->w->id);	/* ENOENT: held already */
}

/* One milter header edit as checks_one() sees it: "Name: value". */
static char *edit_text(const struct milter_edit *ed)
{
	struct buf b;
	buf_init(&b, 1024 * 1024);
	buf_printf(&b, "%s:%s%s", ed->name, ed->leadspc ? "" : " ", ed->value);
	return b.data ? b.data : xstrdup("");
}

/* Add an address edit (BCC, REDIRECT) to the milters' result. */
static void edit_rcpt(struct milter_result *r, enum milter_edit_type type, const char *a)
{
	if (r->nedits == r->edits_cap) {
		r->edits_cap = r->edits_cap ? r->edits_cap * 2 : 8;
		r->edits = xrealloc(r->edits, r->edits_cap * sizeof(*r->edits));
	}
	struct milter_edit *ed = &r->edits[r->nedits++];
	memset(ed, 0, sizeof(*ed));
	ed->type = type;
	ed->name = xstrdup(a);
}

int cleanup_milter_headers(struct session *s, struct milter_result *mr, int v)
{
	struct maplist *t = s->eng->milter_hbc;
	struct checks_result r = { 0 };
	if (maplist_count(t) == 0 || v != MILTER_CONTINUE)
		return v;
	for (size_t i = 0; i < mr->nedits && !r.reject && !r.discard; i++) {
		struct milter_edit *ed = &mr->edits[i];
		if ((ed->type != MILTER_E_ADDHDR && ed->type != MILTER_E_INSHDR &&
		    ed->type != MILTER_E_CHGHDR) || ed->value == NULL)
			continue;
		char *text = edit_text(ed), *rep = NULL;
		int rc = checks_one(t, text, &r, &rep, act_log, act_warn, s);
		free(text);
		if (rep) {		/* "Name: value" (checked by checks_one) */
			char *colon = strchr(rep, ':');
			*colon = '\0';
			free(ed->name);
			free(ed->value);
			ed->name = xstrdup(rep);
			ed->value = xstrdup(colon + 1 + strspn(colon + 1, " \t"));
			ed->leadspc = 0;
			free(rep);
		} else if (rc == CHECKS_DROP) {
			free(ed->name);
			free(ed->value);
			memmove(ed, ed + 1, (mr->nedits - i - 1) * sizeof(*ed));
			mr->nedits--;
			i--;
		}
	}
	if (r.reject) {
		snprintf(mr->reply, sizeof(mr->reply), "%s %s", r.reply[0] == '4' ? "451" : "550",
		    r.reply);
		v = MILTER_REJECT;	/* the reply says 4xx or 5xx */
	} else if (r.discard) {
		v = MILTER_DISCARD;
	} else {
		if (r.hold && !mr->hold) {
			mr->hold = 1;
			mr->hold_reason[0] = '\0';
		}
		if (r.redirect) {
			for (size_t i = 0; i < s->nrcpt; i++)
				edit_rcpt(mr, MILTER_E_DELRCPT, s->rcpt[i]);
			edit_rcpt(mr, MILTER_E_ADDRCPT, r.redirect);
		}
		for (size_t i = 0; i < r.nbcc; i++)
			edit_rcpt(mr, MILTER_E_ADDRCPT, r.bcc[i]);
	}
	checks_result_free(&r);
	return v;
}

/* The policy result named by action, with its text; 0, or -1 unknown. */
int cleanup_policy_action(struct session *s, const char *action, const char *text)
{
	static const char *const names[] = { "HOLD", "DISCARD", "REDIRECT", "BCC", "FILTER" };
	struct checks_result *p = &get(s)->pol;
	size_t k;
	for (k = 0; k < 5 && strcasecmp(names[k], action) != 0; k++)
		;
	switch (k) {
	case 0: p->hold = 1; break;
	case 1: p->discard = 1; break;
	case 2:
		free(p->redirect);
		p->redirect = xstrdup(text);
		break;
	case 3:
		p->bcc = xrealloc(p->bcc, (p->nbcc + 1) * sizeof(*p->bcc));
		p->bcc[p->nbcc++] = xstrdup(text);
		break;
	case 4:
		free(p->filter);
		p->filter = xstrdup(text);
		break;
	default: return -1;
	}
	return 0;
}

void cleanup_end_transaction(struct session *s)
{
	struct session_cleanup *c = s->cleanup;
	if (c == NULL)
		return;
	checks_result_free(&c->pol);
	buf_free(&c->copy);
	free(c->filter);
	c->filter = NULL;
	c->copying = c->hold = c->pass = 0;
}

void cleanup_free(struct session *s)
{
	cleanup_end_transaction(s);
	free(s->cleanup);
	s->cleanup = NULL;
}
