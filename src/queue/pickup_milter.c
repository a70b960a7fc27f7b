/*
 * pickup_milter — non_smtpd_milters for mail from the sendmail command,
 * as Postfix's cleanup does it (cleanup_milter_emul_*): the milters see
 * a connection from localhost [127.0.0.1], HELO localhost, the envelope
 * and the message, on the queue process's event loop, while pickup holds
 * the queue file open (written, no end record, locked). Their verdict is
 * applied here: changes rewrite the file, a reject returns the message to
 * its sender (a DSN), a temporary failure leaves the maildrop file for
 * the next scan, discard drops it, quarantine queues it into hold/. Then
 * the end record, the sync, and the maildrop file goes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/util.h"
#include "mail/spool.h"
#include "milter/milter.h"
#include "queue/pickup_int.h"

enum { ST_CONNECT, ST_HELO, ST_MAIL, ST_RCPT, ST_DATA, ST_EOM, ST_DONE };

struct pmilt_job {
	struct pmilt_job *next;
	char name[64];			/* the maildrop file */
	struct spool_writer w;
	char *sender, **rcpt, *filter;
	size_t nrcpt, rcpt_cap;
	struct spool_env env;		/* client fields (static strings) and arrival */
	struct buf msg;			/* the message as written */
	int hold;			/* HOLD from the header/body checks */
	char msgid[1000];
	int stage;
	size_t ri;
	struct milter_sess *ms;
};

static struct {
	const struct config *cfg;
	struct milter_params p;
	struct milter_list *list;
	const struct pickup_fds *fds;
	struct pmilt_job *jobs;
} M;

int pmilt_init(const struct config *cfg, const struct pickup_fds *fds)
{
	char err[512];
	M.cfg = cfg;
	M.fds = fds;
	if (milter_params_read(&M.p, cfg, err, sizeof(err)) < 0) {
		log_warn("%s (non_smtpd_milters not applied)", err);
		return 0;
	}
	err[0] = '\0';
	M.list = milter_list_parse(config_get(cfg, "non_smtpd_milters"), &M.p, err, sizeof(err));
	if (M.list == NULL && err[0]) {
		log_warn("non_smtpd_milters: %s (not applied)", err);
		return 0;
	}
	return M.list != NULL;
}

int pmilt_enabled(void)
{
	return M.list != NULL;
}

int pmilt_busy(const char *name)
{
	for (struct pmilt_job *j = M.jobs; j; j = j->next)
		if (strcmp(j->name, name) == 0)
			return 1;
	return 0;
}

static const char *domain_of(const char *a)
{
	const char *at = a ? strrchr(a, '@') : NULL;
	return at ? at + 1 : NULL;
}

/* Postfix's emulated values: localhost [127.0.0.1], daemon name, queue ID. */
static const char *macro(void *arg, const char *name)
{
	static const struct { const char *name, *value; } fixed[] = {
		{ "_", "localhost [127.0.0.1]" }, { "{client_addr}", "127.0.0.1" },
		{ "{client_name}", "localhost" }, { "{client_ptr}", "localhost" },
		{ "{mail_mailer}", "local" }, { "{rcpt_mailer}", "local" },
	};
	struct pmilt_job *j = arg;
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (strcmp(fixed[i].name, name) == 0)
			return fixed[i].value;
	if (strcmp(name, "j") == 0)
		return config_get(M.cfg, "myhostname");
	if (strcmp(name, "{daemon_name}") == 0)
		return config_get(M.cfg, "milter_macro_daemon_name");
	if (strcmp(name, "v") == 0)
		return config_get(M.cfg, "milter_macro_v");
	if (strcmp(name, "i") == 0)
		return j->w.id;
	if (strcmp(name, "{mail_addr}") == 0)
		return j->sender;
	if (strcmp(name, "{mail_host}") == 0)
		return domain_of(j->sender);
	if (strcmp(name, "{rcpt_addr}") == 0)
		return j->ri < j->nrcpt ? j->rcpt[j->ri] : NULL;
	if (strcmp(name, "{rcpt_host}") == 0)
		return j->ri < j->nrcpt ? domain_of(j->rcpt[j->ri]) : NULL;
	return NULL;
}

static void resume(void *arg);

static void job_free(struct pmilt_job *j)
{
	for (struct pmilt_job **pp = &M.jobs; *pp; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	loop_cancel_idle(resume, j);
	milter_sess_free(j->ms);
	free(j->sender);
	for (size_t i = 0; i < j->nrcpt; i++)
		free(j->rcpt[i]);
	free(j->rcpt);
	free(j->filter);
	buf_free(&j->msg);
	free(j);
}

/* "ID: milter-ACTION: END-OF-MESSAGE from localhost[127.0.0.1]: TEXT; from=<> to=<>" */
static void eom_log(struct pmilt_job *j, const char *action, const char *text)
{
	log_set_service("cleanup");
	log_info("%s: milter-%s: END-OF-MESSAGE from localhost[127.0.0.1]: %s; from=<%s> to=<%s>",
	    j->w.id, action, text, j->sender, j->nrcpt ? j->rcpt[0] : "");
	log_set_service("qmgr");
}

/* Rewrite the queue file with the milters' changes. 0 or -1. */
static int rewrite(struct pmilt_job *j, const struct milter_result *r)
{
	struct spool_env env = j->env;
	struct spool_rcpt *rc = xcalloc(j->nrcpt ? j->nrcpt : 1, sizeof(*rc));
	struct buf out;
	milter_edit_envelope(r, &j->sender, &j->rcpt, &j->nrcpt, &j->rcpt_cap);
	for (size_t i = 0; i < j->nrcpt; i++)
		rc[i].addr = j->rcpt[i];
	env.sender = j->sender;
	env.rcpt = rc;
	env.nrcpt = j->nrcpt;
	env.filter = j->filter;
	buf_init(&out, SIZE_MAX / 2);
	int rv = milter_edit_message(r, j->msg.data ? j->msg.data : "", j->msg.len, &out);
	if (rv == 0)
		rv = spool_rewrite(&j->w, &env);
	if (rv == 0 && out.len)
		rv = spool_write(&j->w, out.data, out.len);
	buf_free(&out);
	free(rc);
	return rv;
}

/* The verdict: finish, bounce, drop or leave for the next scan. */
static void finish(struct pmilt_job *j, int v)
{
	struct milter_result *r = milter_result(j->ms);
	const struct pickup_fds *f = M.fds;
	char id[SPOOL_ID_MAX];
	str_copy(id, sizeof(id), j->w.id);
	if (v == MILTER_CONTINUE && r->nedits + (size_t)r->body_replaced > 0 && rewrite(j, r) < 0) {
		log_warn("%s: cannot write the milters' changes: %s", id, strerror(j->w.error));
		v = MILTER_REJECT;
		snprintf(r->reply, sizeof(r->reply), "451 4.3.0 queue file write error");
	}
	if (v == MILTER_CONTINUE && j->nrcpt == 0)
		v = MILTER_DISCARD;
	if (v == MILTER_DISCARD || (v == MILTER_REJECT && r->reply[0] == '4')) {
		eom_log(j, v == MILTER_DISCARD ? "discard" : "reject", v == MILTER_DISCARD ?
		    "milter triggers DISCARD action" : r->reply + 4);
		spool_abort(&j->w);
		if (v == MILTER_DISCARD)
			unlinkat(f->dropfd, j->name, 0);	/* else: tried again at the next scan */
		job_free(j);
		return;
	}
	int hold = j->hold || (v == MILTER_CONTINUE && r->hold);
	if (v == MILTER_REJECT)
		eom_log(j, "reject", strlen(r->reply) > 4 ? r->reply + 4 : r->reply);
	if (v != MILTER_REJECT && pickup_dkim_sign(&j->w) < 0) {
		spool_abort(&j->w);	/* the maildrop file stays: tried again later */
		job_free(j);
		return;
	}
	if (spool_finish(&j->w) < 0) {
		log_warn("%s: queue file write error: %s", id, strerror(errno));
		job_free(j);
		return;
	}
	if (v == MILTER_REJECT) {
		int b = pickup_bounce(id, sizeof(id), r->reply + 4);
		if (b < 0) {	/* no DSN written: the maildrop file stays for the next scan */
			log_warn("%s: cannot return the rejected message; maildrop/%s is kept", id, j->name);
			job_free(j);
			return;
		}
		if (b > 0)
			id[0] = '\0';	/* nothing to return it to */
	}
	if (v != MILTER_REJECT && hold) {
		if (renameat(f->infd, id, f->holdfd, id) < 0)
			log_warn("%s: cannot move into the hold queue: %s", id, strerror(errno));
		else if (r->hold)
			eom_log(j, "hold", "milter triggers HOLD action");
	}
	if (spool_sync(f->infd) < 0) {
		log_warn("sync incoming: %s", strerror(errno));
		if (id[0])
			unlinkat(f->infd, id, 0);
		job_free(j);
		return;
	}
	if (unlinkat(f->dropfd, j->name, 0) < 0)
		log_warn("remove maildrop/%s: %s", j->name, strerror(errno));
	if (v != MILTER_REJECT) {
		log_set_service("cleanup");
		log_info("%s: message-id=<%s>", id, j->msgid);
		log_set_service("qmgr");
	}
	if (id[0] && f->queued_fn)
		f->queued_fn(id);
	job_free(j);
}

/* Run the stages from j->stage until one waits or all are done. */
static void step(struct pmilt_job *j)
{
	int v = MILTER_CONTINUE;
	while (j->stage != ST_DONE) {
		switch (j->stage) {
		case ST_CONNECT: v = milter_connect(j->ms, "localhost", "127.0.0.1", 0); break;
		case ST_HELO: v = milter_helo(j->ms, "localhost"); break;
		case ST_MAIL: v = milter_mail(j->ms, j->sender); break;
		case ST_RCPT:
			v = j->ri < j->nrcpt ? milter_rcpt(j->ms, j->rcpt[j->ri]) : MILTER_CONTINUE;
			break;
		case ST_DATA: v = milter_data(j->ms); break;
		default: v = milter_message(j->ms, j->msg.data ? j->msg.data : "", j->msg.len); break;
		}
		if (v == MILTER_PENDING)
			return;		/* done() calls back */
		if (v != MILTER_CONTINUE)
			break;
		if (j->stage == ST_RCPT && ++j->ri < j->nrcpt)
			continue;
		j->stage++;
	}
	finish(j, v);
}

/* An event that waited has its answer (run from the loop, not from
 * inside the milter code that called done()). */
static void resume(void *arg)
{
	struct pmilt_job *j = arg;
	int v = (int)milter_result(j->ms)->verdict;
	if (v != MILTER_CONTINUE) {
		finish(j, v);
		return;
	}
	if (j->stage == ST_RCPT && ++j->ri < j->nrcpt) {
		step(j);
		return;
	}
	if (j->stage == ST_EOM) {
		finish(j, v);
		return;
	}
	j->stage++;
	step(j);
}

static void done(void *arg)
{
	loop_at_idle(resume, arg);
}

void pmilt_start(const char *name, const struct spool_writer *w, const struct spool_env *env,
    const char *msg, size_t len, int hold, const char *msgid)
{
	struct pmilt_job *j = xcalloc(1, sizeof(*j));
	str_copy(j->name, sizeof(j->name), name);
	j->w = *w;
	j->env = *env;
	j->sender = xstrdup(env->sender ? env->sender : "");
	j->rcpt_cap = env->nrcpt ? env->nrcpt : 1;
	j->rcpt = xcalloc(j->rcpt_cap, sizeof(*j->rcpt));
	for (size_t i = 0; i < env->nrcpt; i++)
		j->rcpt[j->nrcpt++] = xstrdup(env->rcpt[i].addr);
	j->filter = env->filter ? xstrdup(env->filter) : NULL;
	j->env.sender = NULL;
	j->env.rcpt = NULL;
	j->env.filter = NULL;
	buf_init(&j->msg, SIZE_MAX / 2);
	buf_append(&j->msg, msg, len);
	j->hold = hold;
	str_copy(j->msgid, sizeof(j->msgid), msgid);
	j->next = M.jobs;
	M.jobs = j;
	j->ms = milter_sess_new(M.list, &M.p, macro, done, j);
	step(j);
}
