/*
 * outbound — smtp and lmtp deliveries of the queue process. Recipients
 * are routed (nexthop.c) and grouped per message and next hop into one
 * delivery (at most OUT_RCPT_MAX recipients); deliveries wait in a queue
 * per next hop, which opens at most default_destination_concurrency_limit
 * connections (smtpc.c). A connection that finished a message takes the
 * next one of its queue (RSET first) or stays idle for
 * smtp_connection_cache_time_limit. A next hop that cannot be reached
 * (DNS failure, no connection) defers everything waiting for it with the
 * same reason, as Postfix marks a destination dead. A message with a
 * content filter (F record) goes there whole, recipients unexpanded
 * (outbound_add_filter; docs/content-filter.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/map.h"
#include "common/util.h"
#include "queue/nexthop.h"
#include "queue/qmgr_int.h"
#include "mail/resolve.h"
#include "queue/smtpc.h"

#define OUT_RCPT_MAX	50	/* recipients per delivery (smtp_destination_recipient_limit) */
#define OUT_HASH	1024

struct dq;

/* One message to one next hop. */
struct odel {
	struct qmsg *m;
	struct dq *q;
	struct smtpc_msg sm;
	size_t *ri;
	char **addr, **orig;
	size_t cap;
	double t_start;
	struct odel *next;
};

/* One connection (or a connection being set up). */
struct oconn {
	struct dq *q;
	struct smtpc *c;
	struct odel *cur;
	struct loop_timer idle_timer;
	struct oconn *next_idle;
	int idle;
};

/* One next hop: its waiting deliveries and connections. */
struct dq {
	char key[600];
	struct nexthop nh;
	struct odel *head, *tail;
	size_t nconn;
	struct oconn *idle;
	struct dq *hnext;
};

static struct {
	const struct config *cfg;
	struct nh_router *router;
	struct smtpc_conf sc;
	struct maplist *sasl;
	int sasl_on;
	long limit;
	long cache_ms;
	struct dq *hash[OUT_HASH];
	/* deliveries collected by outbound_add() for one message */
	struct odel **coll;
	size_t ncoll, collcap;
} O;

int outbound_init(const struct config *cfg, char *err, size_t errlen)
{
	memset(&O, 0, sizeof(O));
	O.cfg = cfg;
	O.limit = config_get_int(cfg, "default_destination_concurrency_limit");
	O.cache_ms = config_get_time(cfg, "smtp_connection_cache_time_limit") * 1000;
	O.sasl_on = config_get_bool(cfg, "smtp_sasl_auth_enable");
	if ((O.router = nexthop_router_open(cfg, err, errlen)) == NULL)
		return -1;
	if ((O.sasl = maplist_open(config_get(cfg, "smtp_sasl_password_maps"), 0, err, errlen)) == NULL)
		return -1;
	return smtpc_conf_init(&O.sc, cfg, err, errlen);
}

static size_t key_hash(const char *s)
{
	size_t h = 5381;
	for (; *s; s++)
		h = h * 33 + (unsigned char)*s;
	return h % OUT_HASH;
}

static struct dq *dq_get(const struct nexthop *nh)
{
	char key[600];
	nexthop_key(nh, key, sizeof(key));
	size_t h = key_hash(key);
	for (struct dq *q = O.hash[h]; q; q = q->hnext)
		if (strcmp(q->key, key) == 0)
			return q;
	struct dq *q = xcalloc(1, sizeof(*q));
	str_copy(q->key, sizeof(q->key), key);
	q->nh = *nh;
	q->hnext = O.hash[h];
	O.hash[h] = q;
	return q;
}

/* ---- results ---- */

static void odel_free(struct odel *d)
{
	for (size_t i = 0; i < d->sm.nrcpt; i++) {
		free(d->addr[i]);
		free(d->orig[i]);
	}
	free(d->addr);
	free(d->orig);
	free(d->ri);
	free(d->sm.rcpt);
	free(d);
}

/* Report every recipient of d and release its message. The reply part of
 * "host X said: REPLY (in reply to ...)" goes into the DSN. */
static void odel_report(struct odel *d, struct smtpc *c)
{
	double now = clock_wall_f();
	const char *service = d->q->nh.transport == NH_LMTP ? "lmtp" : "smtp";
	for (size_t i = 0; i < d->sm.nrcpt; i++) {
		struct smtpc_rcpt *r = &d->sm.rcpt[i];
		char reply[600] = "";
		const char *said = strstr(r->why, " said: ");
		if (said != NULL && strncmp(r->why, "host ", 5) == 0) {
			str_copy(reply, sizeof(reply), said + 7);
			char *in = strstr(reply, " (in reply to ");
			if (in)
				*in = '\0';
		}
		struct qres q = {
			.addr = r->addr, .orig = d->orig[i], .service = service,
			.relay = c != NULL && d->sm.remote ? smtpc_relay(c) : "none",
			.status = r->st == SMTPC_SENT ? QR_SENT : r->st == SMTPC_BOUNCE ? QR_BOUNCE : QR_DEFER,
			.dsn = r->dsn[0] ? r->dsn : "4.0.0", .why = r->why[0] ? r->why : "unknown error",
			.mta = c != NULL && d->sm.remote ? smtpc_peer_name(c) : NULL,
			.reply = reply[0] ? reply : NULL,
			.t_start = d->t_start, .t_xfer = d->sm.t_xfer > 0 ? d->sm.t_xfer : d->sm.t_conn,
			.t_done = now,
		};
		if (q.t_xfer == 0)
			q.t_xfer = now;
		qmsg_result(d->m, d->ri[i], &q);
	}
	struct qmsg *m = d->m;
	odel_free(d);
	qmsg_unref(m);
}

/* Fail d with one reason for all its recipients. */
static void odel_fail(struct odel *d, enum smtpc_status st, const char *dsn, const char *why)
{
	for (size_t i = 0; i < d->sm.nrcpt; i++) {
		d->sm.rcpt[i].st = st;
		str_copy(d->sm.rcpt[i].dsn, sizeof(d->sm.rcpt[i].dsn), dsn);
		str_copy(d->sm.rcpt[i].why, sizeof(d->sm.rcpt[i].why), why);
	}
	d->sm.remote = 0;
	odel_report(d, NULL);
}

static struct odel *dq_pop(struct dq *q)
{
	struct odel *d = q->head;
	if (d) {
		q->head = d->next;
		if (q->head == NULL)
			q->tail = NULL;
		d->next = NULL;
	}
	return d;
}

/* Fail everything waiting for q. */
static void dq_fail_all(struct dq *q, enum smtpc_status st, const char *dsn, const char *why)
{
	for (struct odel *d; (d = dq_pop(q)) != NULL;)
		odel_fail(d, st, dsn, why);
}

/* ---- connections ---- */

static void dq_pump(struct dq *q);

static void oconn_close(struct oconn *oc)
{
	struct dq *q = oc->q;
	if (oc->idle) {
		struct oconn **pp = &q->idle;
		while (*pp && *pp != oc)
			pp = &(*pp)->next_idle;
		if (*pp)
			*pp = oc->next_idle;
	}
	loop_timer_clear(&oc->idle_timer);
	if (oc->c)
		smtpc_quit(oc->c);
	q->nconn--;
	free(oc);
}

static void idle_expired(void *arg)
{
	oconn_close(arg);
}

static void conn_cb(struct smtpc *c, struct smtpc_msg *msg, void *arg)
{
	struct oconn *oc = arg;
	struct dq *q = oc->q;

	if (msg != NULL) {
		struct odel *d = oc->cur;
		oc->cur = NULL;
		int unreachable = !d->sm.remote && !smtpc_usable(c);
		char why[700], dsn[16];
		enum smtpc_status st = d->sm.nrcpt ? d->sm.rcpt[0].st : SMTPC_DEFER;
		if (unreachable && d->sm.nrcpt > 0) {
			snprintf(why, sizeof(why), "delivery temporarily suspended: %s", d->sm.rcpt[0].why);
			str_copy(dsn, sizeof(dsn), d->sm.rcpt[0].dsn);
		}
		odel_report(d, c);
		if (unreachable && st == SMTPC_DEFER && q->nconn == 1)
			dq_fail_all(q, SMTPC_DEFER, dsn, why);
	}
	if (!smtpc_usable(c)) {
		oconn_close(oc);
		dq_pump(q);
		return;
	}
	struct odel *next = oc->idle ? NULL : dq_pop(q);
	if (next != NULL) {
		oc->cur = next;
		smtpc_send(c, &next->sm);	/* sets t_conn */
		return;
	}
	if (!oc->idle) {
		oc->idle = 1;
		oc->next_idle = q->idle;
		q->idle = oc;
		loop_timer_set(&oc->idle_timer, (uint64_t)O.cache_ms, idle_expired, oc);
	}
}

/* SASL credentials of a next hop: "user:password" or NULL. */
static const char *sasl_lookup(const struct nexthop *nh)
{
	char key[300];
	const char *v = NULL;
	if (!O.sasl_on || maplist_count(O.sasl) == 0)
		return NULL;
	if (nh->port && snprintf(key, sizeof(key), "[%s]:%d", nh->host, nh->port) < (int)sizeof(key))
		v = maplist_lookup(O.sasl, key);
	if (v == NULL && nh->no_mx && snprintf(key, sizeof(key), "[%s]", nh->host) < (int)sizeof(key))
		v = maplist_lookup(O.sasl, key);
	if (v == NULL && nh->port && snprintf(key, sizeof(key), "%s:%d", nh->host, nh->port) < (int)sizeof(key))
		v = maplist_lookup(O.sasl, key);
	if (v == NULL)
		v = maplist_lookup(O.sasl, nh->host);
	return v;
}

static void on_resolved(void *arg, enum nh_status st, const struct nh_addr *a, size_t n,
    const char *dsn, const char *why)
{
	struct oconn *oc = arg;
	struct dq *q = oc->q;

	if (st != NH_OK) {
		struct odel *d = oc->cur;
		oc->cur = NULL;
		q->nconn--;
		free(oc);
		enum smtpc_status s = st == NH_BOUNCE ? SMTPC_BOUNCE : SMTPC_DEFER;
		odel_fail(d, s, dsn, why);
		dq_fail_all(q, s, dsn, why);
		return;
	}
	const char *cred = sasl_lookup(&q->nh);
	char user[512] = "", *pass = NULL;
	if (cred != NULL) {
		str_copy(user, sizeof(user), cred);
		pass = strchr(user, ':');
		if (pass)
			*pass++ = '\0';
	}
	oc->c = smtpc_open(&O.sc, a, n, q->nh.transport == NH_LMTP, cred ? user : NULL,
	    cred ? (pass ? pass : "") : NULL, &oc->cur->sm, conn_cb, oc);
	explicit_bzero(user, sizeof(user));
}

static void dq_pump(struct dq *q)
{
	while (q->head != NULL) {
		struct oconn *oc = q->idle;
		if (oc != NULL) {
			q->idle = oc->next_idle;
			oc->idle = 0;
			loop_timer_clear(&oc->idle_timer);
			if (!smtpc_usable(oc->c)) {
				oconn_close(oc);
				continue;
			}
			oc->cur = dq_pop(q);
			smtpc_send(oc->c, &oc->cur->sm);
			continue;
		}
		if ((long)q->nconn >= O.limit)
			return;
		oc = xcalloc(1, sizeof(*oc));
		oc->q = q;
		oc->idle_timer.slot = (size_t)-1;
		oc->cur = dq_pop(q);
		oc->cur->sm.t_conn = clock_wall_f();
		q->nconn++;
		nexthop_resolve(O.router, &q->nh, on_resolved, oc);
	}
}

/* ---- adding work ---- */

static void error_result(struct qmsg *m, size_t ri, const struct dest *d, const char *service,
    enum qres_status st, const char *dsn, const char *why)
{
	double now = clock_wall_f();
	struct qres q = {
		.addr = d->addr, .orig = d->orig, .service = service, .relay = "none",
		.status = st, .dsn = dsn, .why = why, .t_start = now, .t_xfer = now, .t_done = now,
	};
	qmsg_result(m, ri, &q);
}

/* Join recipient ri (final address d) to m's delivery to next hop nh. */
static void collect(struct qmsg *m, size_t ri, const struct dest *d, const struct nexthop *nh)
{
	struct dq *q = dq_get(nh);
	struct odel *o = NULL;
	for (size_t i = 0; i < O.ncoll; i++)
		if (O.coll[i]->m == m && O.coll[i]->q == q && O.coll[i]->sm.nrcpt < OUT_RCPT_MAX)
			o = O.coll[i];
	if (o == NULL) {
		o = xcalloc(1, sizeof(*o));
		o->m = m;
		o->q = q;
		o->sm.sender = m->env.sender;
		o->sm.body_fd = m->env.fd;
		o->sm.body_off = m->env.body_off;
		o->sm.body_len = m->env.body_len;
		o->t_start = clock_wall_f();
		if (O.ncoll == O.collcap) {
			O.collcap = O.collcap ? O.collcap * 2 : 16;
			O.coll = xrealloc(O.coll, O.collcap * sizeof(*O.coll));
		}
		O.coll[O.ncoll++] = o;
		m->refs++;
	}
	if (o->sm.nrcpt == o->cap) {
		o->cap = o->cap ? o->cap * 2 : 4;
		o->sm.rcpt = xrealloc(o->sm.rcpt, o->cap * sizeof(*o->sm.rcpt));
		o->ri = xrealloc(o->ri, o->cap * sizeof(*o->ri));
		o->addr = xrealloc(o->addr, o->cap * sizeof(*o->addr));
		o->orig = xrealloc(o->orig, o->cap * sizeof(*o->orig));
	}
	size_t k = o->sm.nrcpt++;
	memset(&o->sm.rcpt[k], 0, sizeof(o->sm.rcpt[k]));
	o->addr[k] = xstrdup(d->addr);	/* outlives the resolver's dest array */
	o->orig[k] = xstrdup(d->orig);
	o->sm.rcpt[k].addr = o->addr[k];
	o->ri[k] = ri;
}

int outbound_add(struct qmsg *m, size_t ri, const struct dest *d)
{
	struct nexthop nh;
	int r;

	if (d->kind == DEST_RELAY)
		r = nexthop_route(O.router, d->addr, &nh);
	else if ((d->kind == DEST_LMTP || d->kind == DEST_MAILDIR) &&
	    nexthop_override(O.router, d->addr, &nh))
		r = 0;		/* transport_maps wins over the default transport */
	else if (d->kind == DEST_LMTP)
		r = nexthop_parse(d->path, NULL, &nh);
	else
		return 0;	/* a mailbox: the queue manager's own delivery */
	if (r < 0 && nh.transport != NH_ERROR) {
		error_result(m, ri, d, "smtp", QR_DEFER, "4.3.5", "mail transport unavailable");
		return 1;
	}
	if (nh.transport == NH_ERROR) {
		char dsn[16];
		const char *t = nh.text;
		int a, b, c, n = 0;
		if (sscanf(t, "%1d.%3d.%3d %n", &a, &b, &c, &n) == 3 && n > 0 && (a == 4 || a == 5)) {
			snprintf(dsn, sizeof(dsn), "%d.%d.%d", a, b, c);
			t += n;
		} else {
			snprintf(dsn, sizeof(dsn), "5.0.0");
		}
		error_result(m, ri, d, "error", dsn[0] == '4' ? QR_DEFER : QR_BOUNCE, dsn, t);
		return 1;
	}
	if (nh.transport == NH_LOCAL || nh.transport == NH_VIRTUAL) {
		error_result(m, ri, d, "smtp", QR_DEFER, "4.3.5",
		    "mail transport unavailable (local/virtual transport for a remote domain)");
		return 1;
	}
	collect(m, ri, d, &nh);
	return 1;
}

void outbound_add_filter(struct qmsg *m, size_t ri, const char *filter)
{
	struct nexthop nh;
	char *addr = m->env.rcpt[ri].addr;
	const struct dest d = { .kind = DEST_RELAY, .addr = addr, .orig = addr, .service = "smtp" };

	if (nexthop_parse(filter, NULL, &nh) < 0 || nh.transport == NH_ERROR ||
	    nh.transport == NH_LOCAL || nh.transport == NH_VIRTUAL || nh.host[0] == '\0') {
		log_warn("%s: bad content filter '%s': use smtp:[host]:port or lmtp:[host]:port",
		    m->env.id, filter);
		error_result(m, ri, &d, "smtp", QR_DEFER, "4.3.5", "mail transport unavailable");
		return;
	}
	nh.no_mx = 1;	/* a filter is a host, never a mail domain */
	collect(m, ri, &d, &nh);
}

void outbound_dispatch(struct qmsg *m)
{
	size_t keep = 0;
	for (size_t i = 0; i < O.ncoll; i++) {
		struct odel *o = O.coll[i];
		if (o->m != m) {
			O.coll[keep++] = o;
			continue;
		}
		struct dq *q = o->q;
		if (q->tail)
			q->tail->next = o;
		else
			q->head = o;
		q->tail = o;
		dq_pump(q);
	}
	O.ncoll = keep;
}

void outbound_shutdown(void)
{
	/* Idle connections get their QUIT; deliveries in flight are simply
	 * abandoned (their recipients are still pending in the queue file). */
	for (size_t h = 0; h < OUT_HASH; h++) {
		struct dq **pp = &O.hash[h];
		while (*pp) {
			struct dq *q = *pp;
			while (q->idle)
				oconn_close(q->idle);
			if (q->nconn == 0 && q->head == NULL) {
				*pp = q->hnext;
				free(q);
			} else {
				pp = &q->hnext;
			}
		}
	}
	free(O.coll);
	O.coll = NULL;
	smtpc_conf_free(&O.sc);
	if (O.sasl)
		maplist_free(O.sasl);
	nexthop_router_free(O.router);
}
