/*
 * milters — where an SMTP session meets its milters (src/milter): the
 * list of the session's listener (smtpd_milters, its per-listener
 * override, or smtpd_milter_maps by client address), the macro values,
 * one call per stage, and the verdicts handled in one place: a reject
 * becomes the reply and Postfix's "milter-reject" log line; at the end of
 * the message the changes are written into the queue file (same ID, lock
 * held) before group commit and the 250, a DISCARD drops the file, a
 * quarantine moves it into hold/. A stage that waits parks the session
 * as a restriction does (check_park) and the command runs again with the
 * answer in hand; only that command's re-run takes it (HELO's re-run
 * resets the transaction first), any other ask drops it. The end of
 * message waits in SMTP_ST_WAIT.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "common/config.h"
#include "common/log.h"
#include "common/map.h"
#include "common/util.h"
#include "mail/spool.h"
#include "milter/milter.h"
#include "smtp/check.h"
#include "smtp/cleanup.h"
#include "smtp/data.h"
#include "smtp/engine_int.h"
#include "smtp/milters.h"
#include "smtp/session.h"

enum { MS_NONE, MS_CONNECT, MS_HELO, MS_MAIL, MS_RCPT, MS_DATA, MS_UNKNOWN, MS_EOM };

struct session_milter {
	struct milter_sess *m;		/* NULL: no milters for this session */
	struct milter_list *own;	/* from smtpd_milter_maps */
	int connected;			/* the connect event was answered */
	int wait, ready;		/* stage asked / stage whose answer is in */
	unsigned ready_cmd;		/* ...for the command numbered so (cmd_seq) */
	char *reject;			/* a connect-time reject, for every command */
	/* The MAIL and RCPT addresses being asked, own copies: a later milter
	 * is asked after the command returned (parked) and freed its own. */
	char *mail, *rcpt;
	int copying;
	struct buf copy;		/* the message as written into the queue file */
	int hold;			/* quarantined: into hold/ after the end record */
	char hold_reason[256];
	char scratch[600];
};

void milters_setup(struct engine *e, const struct config *cfg, int chrooted)
{
	struct milter_params *p = &e->milter_params;
	char err[512];
	if (milter_params_read(p, cfg, err, sizeof(err)) < 0)
		fatal("%s", err);
	p->chrooted = chrooted;
	e->milter_v = config_get(cfg, "milter_macro_v");
	for (int r = 0; r < SMTP_NROLES; r++) {
		if (engine_role_name(cfg, r) == NULL)
			continue;	/* an unused named-listener slot */
		const char *v = config_get_role(cfg, engine_role_name(cfg, r), "smtpd_milters");
		err[0] = '\0';
		e->milters[r] = milter_list_parse(v, p, err, sizeof(err));
		if (e->milters[r] == NULL && err[0])
			fatal("%s/inet/smtpd_milters: %s", engine_role_name(cfg, r), err);
	}
	const char *maps = config_get(cfg, "smtpd_milter_maps");
	if (*maps) {
		e->milter_maps = maplist_open(maps, 0, err, sizeof(err));
		if (e->milter_maps == NULL)
			fatal("smtpd_milter_maps: %s", err);
	}
}

int milters_check(const struct config *cfg, char *err, size_t errlen)
{
	struct milter_params p = { 0 };
	char why[512];
	p.queue_dir = config_get(cfg, "queue_directory");
	p.chrooted = geteuid() == 0;
	char **defaults;
	if (milter_macro_defaults_parse(config_get(cfg, "milter_macro_defaults"), &defaults,
	    why, sizeof(why)) < 0) {
		snprintf(err, errlen, "%s, line %d: milter_macro_defaults: %s", config_path(cfg),
		    config_line(cfg, "milter_macro_defaults"), why);
		return -1;
	}
	milter_macro_defaults_free(defaults);
	for (int r = 0; r < SMTP_NROLES; r++) {
		if (!engine_role_used(cfg, r))
			continue;
		why[0] = '\0';
		struct milter_list *l = milter_list_parse(config_get_role(cfg, engine_role_name(cfg, r),
		    "smtpd_milters"), &p, why, sizeof(why));
		milter_list_free(l);
		if (l == NULL && why[0]) {
			snprintf(err, errlen, "%s, line %d: smtpd_milters: %s", config_path(cfg),
			    config_line(cfg, "smtpd_milters"), why);
			return -1;
		}
	}
	return 0;
}

/* ---- macros ---- */

static const char *domain_of(const char *a)
{
	const char *at = a ? strrchr(a, '@') : NULL;
	return at ? at + 1 : NULL;
}

static const char *macro(void *arg, const char *name)
{
	struct session *s = arg;
	struct session_milter *sm = s->milt;
	char *t = sm->scratch;
	size_t tl = sizeof(sm->scratch);
	int tls = s->tls == TLS_ON && s->ssl != NULL;

	if (strcmp(name, "j") == 0)
		return s->eng->myhostname;
	if (strcmp(name, "{daemon_name}") == 0)
		return s->eng->roles[s->role].milter_daemon_name;
	if (strcmp(name, "v") == 0)
		return s->eng->milter_v;
	if (strcmp(name, "_") == 0) {
		snprintf(t, tl, "%s [%s]", s->name, s->addr);
		return t;
	}
	if (strcmp(name, "{daemon_addr}") == 0 || strcmp(name, "{daemon_port}") == 0) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		if (s->fd < 0 || getsockname(s->fd, (struct sockaddr *)&ss, &sl) < 0)
			return NULL;
		int v6 = ss.ss_family == AF_INET6;
		const void *a = v6 ? (const void *)&((struct sockaddr_in6 *)&ss)->sin6_addr :
		    (const void *)&((struct sockaddr_in *)&ss)->sin_addr;
		if (name[2] == 'a')
			return inet_ntop(ss.ss_family, a, t, (socklen_t)tl);
		snprintf(t, tl, "%u", ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
		    ((struct sockaddr_in *)&ss)->sin_port));
		return t;
	}
	if (strcmp(name, "{client_addr}") == 0)
		return s->addr;
	if (strcmp(name, "{client_name}") == 0)
		return s->name;
	if (strcmp(name, "{client_ptr}") == 0)
		return s->rname;
	if (strcmp(name, "{client_port}") == 0) {
		snprintf(t, tl, "%u", s->port);
		return t;
	}
	if (strcmp(name, "i") == 0)
		return s->w ? s->w->id : NULL;
	if (strcmp(name, "{auth_type}") == 0)
		return s->sasl_username ? s->sasl_method : NULL;
	if (strcmp(name, "{auth_authen}") == 0)
		return s->sasl_username;
	if (strcmp(name, "{mail_addr}") == 0)
		return s->sender ? s->sender : sm->mail;
	if (strcmp(name, "{mail_host}") == 0)
		return domain_of(s->sender ? s->sender : sm->mail);
	if (strcmp(name, "{mail_mailer}") == 0 || strcmp(name, "{rcpt_mailer}") == 0)
		return "smtp";
	if (strcmp(name, "{rcpt_addr}") == 0)
		return sm->rcpt;
	if (strcmp(name, "{rcpt_host}") == 0)
		return domain_of(sm->rcpt);
	if (strcmp(name, "{tls_version}") == 0)
		return tls ? SSL_get_version(s->ssl) : NULL;
	if (strcmp(name, "{cipher}") == 0)
		return tls ? SSL_get_cipher_name(s->ssl) : NULL;
	if (strcmp(name, "{cipher_bits}") == 0 && tls) {
		snprintf(t, tl, "%d", SSL_get_cipher_bits(s->ssl, NULL));
		return t;
	}
	return NULL;
}

/* ---- waiting ---- */

static void eom_idle(void *arg);

/* The number of the command being run: a retry (check_park) keeps it. */
static unsigned cmd_seq(const struct session *s)
{
	unsigned n = 0;
	for (int i = 0; i < CMD_COUNT; i++)
		n += s->cmd_total[i];
	return n;
}

static void milt_done(void *arg)
{
	struct session *s = arg;
	struct session_milter *sm = s->milt;
	sm->ready = sm->wait;
	sm->wait = MS_NONE;
	if (sm->ready == MS_EOM)
		loop_at_idle(eom_idle, s);
	else
		check_wake_later(s);	/* the parked command runs again */
}

/* The session's milters, made at the first stage; NULL if none. */
static struct session_milter *get(struct session *s)
{
	struct engine *e = s->eng;
	if (s->milt)
		return s->milt->m ? s->milt : NULL;
	if ((e->milters[s->role] == NULL && e->milter_maps == NULL) || e->roles[s->role].no_milters)
		return NULL;	/* no milters here (or no_milters): nothing allocated */
	struct session_milter *sm = xcalloc(1, sizeof(*sm));
	const struct milter_list *l = e->milters[s->role];
	s->milt = sm;
	if (e->milter_maps) {
		const char *v = maplist_lookup(e->milter_maps, s->addr);
		if (v && strcasecmp(v, "DISABLE") == 0)
			l = NULL;
		else if (v) {
			char err[512];
			struct milter_params p = e->milter_params;
			p.numeric_only = 1;	/* no name lookup while serving */
			err[0] = '\0';
			sm->own = milter_list_parse(v, &p, err, sizeof(err));
			if (sm->own == NULL && err[0])
				log_warn("smtpd_milter_maps: %s: %s", s->addr, err);
			l = sm->own;
		}
	}
	if (l == NULL)
		return NULL;
	sm->m = milter_sess_new(l, &e->milter_params, macro, milt_done, s);
	return sm;
}

static enum policy_stage policy_stage_of(int st)
{
	static const enum policy_stage map[] = {
		[MS_CONNECT] = STAGE_CONNECT, [MS_HELO] = STAGE_HELO, [MS_MAIL] = STAGE_MAIL,
		[MS_RCPT] = STAGE_RCPT, [MS_DATA] = STAGE_DATA,
	};
	return map[st];
}

/* The one place a verdict before the message becomes a reply. A reject
 * at connect or HELO is Sendmail's and Postfix's way: HELO still gets its
 * 250 (unless 421) and the reply answers MAIL from then on. */
static int verdict(struct session *s, int st, int v, const char *rcpt)
{
	struct session_milter *sm = s->milt;
	const char *reply = milter_result(sm->m)->reply;
	if (v != MILTER_REJECT)
		return 0;
	if (st == MS_UNKNOWN)	/* no restriction stage: Postfix's "UNKNOWN from" */
		log_info("NOQUEUE: milter-reject: UNKNOWN from %s: %s;%s%s%s proto=%s%s%s%s",
		    session_client(s), reply, s->sender ? " from=<" : "", s->sender ? s->sender : "",
		    s->sender ? ">" : "", s->esmtp ? "ESMTP" : "SMTP", s->helo ? " helo=<" : "",
		    s->helo ? s->helo : "", s->helo ? ">" : "");
	else
		check_log_reply(s, policy_stage_of(st), "milter-reject", reply, rcpt);
	if ((st == MS_CONNECT || st == MS_HELO) && strncmp(reply, "421", 3) != 0) {
		free(sm->reject);
		sm->reject = xstrdup(reply);
		return 0;
	}
	session_reply(s, "%s", reply);
	if (strncmp(reply, "421", 3) == 0)
		s->state = SMTP_ST_CLOSING;
	return -1;
}

/* Ask the milters about stage st, or take the answer that came in. */
static int ask(struct session *s, int st, const char *arg)
{
	struct session_milter *sm = s->milt;
	int v;
	int mine = sm->ready == st && sm->ready_cmd == cmd_seq(s);
	sm->ready = MS_NONE;	/* an answer not taken now is stale: never reused */
	if (mine) {
		v = (int)milter_result(sm->m)->verdict;
	} else {
		switch (st) {
		case MS_CONNECT: v = milter_connect(sm->m, s->name, s->addr, s->port); break;
		case MS_HELO: v = milter_helo(sm->m, arg); break;
		case MS_MAIL:
			free(sm->mail);
			sm->mail = xstrdup(arg);
			v = milter_mail(sm->m, arg);
			break;
		case MS_RCPT:
			free(sm->rcpt);
			sm->rcpt = xstrdup(arg);
			v = milter_rcpt(sm->m, arg);
			break;
		case MS_UNKNOWN: v = milter_unknown(sm->m, arg); break;
		default: v = milter_data(sm->m); break;
		}
		if (v == MILTER_PENDING) {
			sm->wait = st;
			sm->ready_cmd = cmd_seq(s);
			check_park(s);
			return 1;
		}
	}
	if (st == MS_CONNECT)
		sm->connected = 1;
	return verdict(s, st, v, st == MS_RCPT ? arg : NULL);
}

/* The connect event first (once); from MAIL on, a reject said at connect
 * or HELO. */
static int connect_first(struct session *s, int apply_reject)
{
	struct session_milter *sm = s->milt;
	if (!sm->connected) {
		int r = ask(s, MS_CONNECT, NULL);
		if (r != 0)
			return r;
	}
	if (apply_reject && sm->reject) {
		session_reply(s, "%s", sm->reject);
		return -1;
	}
	return 0;
}

int milters_helo(struct session *s)
{
	if (get(s) == NULL)
		return 0;
	int r = connect_first(s, 0);
	return r != 0 ? r : ask(s, MS_HELO, s->helo);
}

int milters_mail(struct session *s)
{
	if (get(s) == NULL)
		return 0;
	int r = connect_first(s, 1);
	return r != 0 ? r : ask(s, MS_MAIL, s->sender);
}

int milters_rcpt(struct session *s, const char *rcpt)
{
	if (get(s) == NULL)
		return 0;
	int r = connect_first(s, 1);
	return r != 0 ? r : ask(s, MS_RCPT, rcpt);
}

int milters_data(struct session *s)
{
	if (get(s) == NULL)
		return 0;
	int r = connect_first(s, 1);
	return r != 0 ? r : ask(s, MS_DATA, NULL);
}

int milters_unknown(struct session *s, const char *command)
{
	if (get(s) == NULL)
		return 0;
	int r = connect_first(s, 0);
	return r != 0 ? r : ask(s, MS_UNKNOWN, command);
}

/* ---- the message ---- */

void milters_copy_begin(struct session *s)
{
	struct session_milter *sm = get(s);
	if (sm == NULL)
		return;
	long lim = s->eng->size_limit;
	buf_free(&sm->copy);
	buf_init(&sm->copy, lim > 0 ? (size_t)lim + 1024 * 1024 : SIZE_MAX / 2);
	sm->copying = 1;
}

void milters_copy(struct session *s, const char *p, size_t n)
{
	if (s->milt && s->milt->copying)
		buf_append(&s->milt->copy, p, n);
}

/* "ID: milter-ACTION: END-OF-MESSAGE from host[addr]: TEXT; from=<..> to=<..> proto=.. helo=<..>" */
static void eom_log(struct session *s, const char *action, const char *text)
{
	log_info("%s: milter-%s: END-OF-MESSAGE from %s: %s; from=<%s> to=<%s> proto=%s helo=<%s>",
	    s->w->id, action, session_client(s), text, s->sender ? s->sender : "",
	    s->nrcpt ? s->rcpt[0] : "", s->esmtp ? "ESMTP" : "SMTP", s->helo ? s->helo : "");
}

/* Write the changed message over the queue file. 0 or -1. */
static int eom_rewrite(struct session *s, const struct milter_result *r)
{
	struct session_milter *sm = s->milt;
	int env = milter_edit_envelope(r, &s->sender, &s->rcpt, &s->nrcpt, &s->rcpt_cap);
	if (!env && !r->body_replaced && r->nedits == 0)
		return 0;
	struct buf out;
	struct spool_env e;
	struct spool_rcpt *rc;
	buf_init(&out, SIZE_MAX / 2);
	int rv = milter_edit_message(r, sm->copy.data ? sm->copy.data : "", sm->copy.len, &out);
	data_envelope(s, &e, &rc);
	if (rv == 0)
		rv = spool_rewrite(s->w, &e);
	if (rv == 0 && out.len)
		rv = spool_write(s->w, out.data, out.len);
	free(rc);
	buf_free(&out);
	return rv;
}

/* The message's verdict: 0 commit it, 1 answered here. */
static int eom_apply(struct session *s, int v)
{
	struct session_milter *sm = s->milt;
	struct milter_result *r = milter_result(sm->m);
	const char *why = NULL;
	char reply[1100];

	v = cleanup_milter_headers(s, r, v);	/* milter_header_checks */
	if (v == MILTER_CONTINUE && s->nrcpt == 0)
		v = MILTER_DISCARD;	/* every recipient was deleted */
	if (v == MILTER_CONTINUE) {
		if (eom_rewrite(s, r) == 0) {
			sm->hold = r->hold;
			str_copy(sm->hold_reason, sizeof(sm->hold_reason), r->hold_reason);
			return 0;
		}
		log_warn("%s: cannot write the milters' changes: %s", s->w->id, strerror(s->w->error));
		why = "451 4.3.0 Error: queue file write error";
	}
	if (v == MILTER_DISCARD) {
		eom_log(s, "discard", "milter triggers DISCARD action");
		snprintf(reply, sizeof(reply), "250 2.0.0 Ok: queued as %s", s->w->id);
		s->cmd_ok[CMD_DATA]++;	/* as a message that was queued */
	} else if (why == NULL) {
		why = r->reply;
		eom_log(s, "reject", strlen(why) > 4 ? why + 4 : why);
	}
	if (why)
		str_copy(reply, sizeof(reply), why);
	spool_abort(s->w);
	free(s->w);
	s->w = NULL;
	session_reply(s, "%s", reply);
	s->cmd_ok[CMD_DATA]--;
	s->state = strncmp(reply, "421", 3) == 0 ? SMTP_ST_CLOSING : SMTP_ST_CMD;
	session_reset_transaction(s);
	return 1;
}

int milters_message(struct session *s)
{
	struct session_milter *sm = s->milt;
	if (sm == NULL || sm->m == NULL || !sm->copying)
		return 0;
	sm->copying = 0;
	int v = milter_message(sm->m, sm->copy.data ? sm->copy.data : "", sm->copy.len);
	if (v == MILTER_PENDING) {
		sm->wait = MS_EOM;
		s->state = SMTP_ST_WAIT;
		return 1;
	}
	return eom_apply(s, v);
}

/* The milters answered the end of message. */
static void eom_idle(void *arg)
{
	struct session *s = arg;
	struct session_milter *sm = s->milt;
	sm->ready = MS_NONE;
	if (s->w == NULL || s->state != SMTP_ST_WAIT)
		return;
	if (eom_apply(s, (int)milter_result(sm->m)->verdict) == 0) {
		data_commit(s);
		if (s->state == SMTP_ST_COMMIT || s->state == SMTP_ST_WAIT)
			return;		/* commit_done (or DKIM's DNS) answers and resumes */
	}
	session_resume(s);	/* may free s */
}

void milters_after_finish(struct session *s)
{
	struct session_milter *sm = s->milt;
	char to[SPOOL_ID_MAX + 8];
	if (sm == NULL || !sm->hold)
		return;
	sm->hold = 0;
	snprintf(to, sizeof(to), "hold/%s", s->w->id);
	if (renameat(s->eng->incoming_fd, s->w->id, s->eng->spool_dirfd, to) < 0) {
		log_warn("%s: cannot move into the hold queue: %m", s->w->id);
		return;
	}
	/* Postfix's cleanup logs no reason; ours is on the line before. */
	if (sm->hold_reason[0])
		log_info("%s: quarantine reason: %s", s->w->id, sm->hold_reason);
	eom_log(s, "hold", "milter triggers HOLD action");
}

void milters_end_transaction(struct session *s)
{
	struct session_milter *sm = s->milt;
	if (sm == NULL || sm->m == NULL)
		return;
	if (sm->wait == MS_NONE)
		milter_abort(sm->m);
	sm->copying = 0;
	sm->hold = 0;
	buf_free(&sm->copy);
}

void milters_free(struct session *s)
{
	struct session_milter *sm = s->milt;
	if (sm == NULL)
		return;
	loop_cancel_idle(eom_idle, s);
	milter_sess_free(sm->m);
	milter_list_free(sm->own);
	buf_free(&sm->copy);
	free(sm->reject);
	free(sm->mail);
	free(sm->rcpt);
	free(sm);
	s->milt = NULL;
}
