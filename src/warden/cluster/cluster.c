/*
 * cluster — the cluster's state and its two Redis connections (see
 * cluster.h, docs/cluster.md): "cmd" keeps the ban keys, publishes and
 * resyncs (push then pull at every connection), "sub" receives the
 * channel. Received messages are dispatched from a verb table to the
 * ban path's remote entries (ban.c), which apply this node's own rules.
 * The pull is in cluster_pull.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/net.h"
#include "common/util.h"
#include "warden/ban.h"
#include "warden/cluster/cluster_int.h"
#include "warden/cluster/resp.h"
#include "warden/jailrt.h"
#include "warden/warden_int.h"

/* ---- settings ---- */

/* The password file: "user password" or "password". */
static int read_password(struct cluster *cl, const char *path, char *err, size_t errlen)
{
	char line[700];
	struct stat st;
	/* read as root: a regular file (a FIFO must not block the start),
	 * not readable by others; checked on the file read */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "warden_cluster_password_file %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 007)) {
		snprintf(err, errlen, "warden_cluster_password_file %s: %s", path,
		    S_ISREG(st.st_mode) ? "readable by others (chmod 600)" : "not a regular file");
		close(fd);
		return -1;
	}
	ssize_t n = read(fd, line, sizeof(line) - 1);
	close(fd);
	if (n <= 0) {
		snprintf(err, errlen, "warden_cluster_password_file %s: empty", path);
		return -1;
	}
	line[n] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	char *sp = strchr(line, ' ');
	if (sp) {
		*sp = '\0';
		str_copy(cl->user, sizeof(cl->user), line);
		str_copy(cl->password, sizeof(cl->password), sp + 1);
	} else {
		str_copy(cl->password, sizeof(cl->password), line);
	}
	explicit_bzero(line, sizeof(line));
	cl->has_password = 1;
	return 0;
}

/* rediss://: a client context that verifies the server against
 * warden_cluster_ca_file (empty: the system's CA store). */
static int tls_ctx(const struct config *cfg, struct caddr *a, char *err, size_t errlen)
{
	const char *ca = config_get(cfg, "warden_cluster_ca_file");
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    (*ca ? SSL_CTX_load_verify_locations(ctx, ca, NULL) :
	    SSL_CTX_set_default_verify_paths(ctx)) != 1) {
		snprintf(err, errlen, "warden_cluster_ca_file %s: %s", *ca ? ca : "(system store)",
		    ERR_error_string(ERR_get_error(), NULL));
		SSL_CTX_free(ctx);
		return -1;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	a->ssl_ctx = ctx;
	return 0;
}

/* Parse the settings into cl: 0, or -1 and err. */
static int load(const struct config *cfg, struct cluster *cl, char *err, size_t errlen)
{
	const char *url = config_get(cfg, "warden_cluster");
	const char *pw = config_get(cfg, "warden_cluster_password_file");
	if (cconn_parse(url, &cl->addr, err, errlen) < 0)
		return -1;
	if (cl->addr.tls && tls_ctx(cfg, &cl->addr, err, errlen) < 0)
		return -1;
	if (*pw && read_password(cl, pw, err, errlen) < 0)
		return -1;
	str_copy(cl->node, sizeof(cl->node), config_get(cfg, "warden_cluster_node"));
	if (cl->node[0] == '\0' || strpbrk(cl->node, " :\"\\\r\n")) {
		snprintf(err, errlen, "warden_cluster_node '%s': empty, or a space or ':' in it", cl->node);
		return -1;
	}
	return 0;
}

int cluster_check(const struct config *cfg, char *err, size_t errlen)
{
	if (*config_get(cfg, "warden_cluster") == '\0')
		return 0;
	struct cluster *cl = xcalloc(1, sizeof(*cl));
	int rc = load(cfg, cl, err, errlen);
	if (rc == 0 && cl->addr.sa.ss_family != AF_UNIX && !cl->addr.tls) {
		snprintf(err, errlen, "warden_cluster %s: redis:// sends bans and the password in "
		    "clear: only on a private link (rediss:// verifies the server)",
		    config_get(cfg, "warden_cluster"));
		rc = 1;
	}
	explicit_bzero(cl->password, sizeof(cl->password));
	SSL_CTX_free(cl->addr.ssl_ctx);
	free(cl);
	return rc;
}

/* ---- publishing ---- */

static int cl_up(const struct cluster *cl)
{
	return cl && cl->cmd.up;
}

void cluster_applied(struct cluster *cl)
{
	cl->applied++;
	metrics_inc(M_CLUSTER_MSGS, "applied");
}

static void publish(struct cluster *cl, const char *msg)
{
	const char *argv[3] = { "PUBLISH", CL_CHANNEL, msg };
	if (cconn_send(&cl->cmd, 3, argv, NULL, NULL) == 0) {
		cl->published++;
		metrics_inc(M_CLUSTER_MSGS, "published");
	}
}

/* A failure (t >= 0) or an unban (t -1, addr the net) while Redis is
 * away: kept (up to CL_AWAY_MAX) for the return. */
static void keep_away(struct cluster *cl, const char *jail, const char *addr, long t)
{
	if (cl->naway >= CL_AWAY_MAX) {
		cl->lost_away++;
		return;
	}
	if (cl->away == NULL)
		cl->away = xcalloc(CL_AWAY_MAX, sizeof(*cl->away));
	struct away *a = &cl->away[cl->naway++];
	str_copy(a->jail, sizeof(a->jail), jail);
	str_copy(a->addr, sizeof(a->addr), addr);
	a->t = t;
}

void cluster_fail_key(char *key, size_t len, const char *jail, const char *addr)
{
	snprintf(key, len, CL_PREFIX "fail:%s:%s", jail, addr);
}

/* RPUSH's reply (the list's length; arg the key): past CL_FAIL_KEEP,
 * the oldest values go (a command only then, not with each failure). */
static void on_pushed(struct cconn *c, const struct resp_reply *r, void *arg)
{
	char keep[32];
	if (r && r->type == RESP_INT && r->num > CL_FAIL_KEEP) {
		snprintf(keep, sizeof(keep), "%d", -CL_FAIL_KEEP);
		const char *trim[4] = { "LTRIM", arg, keep, "-1" };
		cconn_send(c, 4, trim, NULL, NULL);
	}
	free(arg);
}

/* A failure of this node: its message, and its value in the failure
 * list of jail+addr (for a node that starts or comes back later; TTL
 * the jail's findtime, renewed by each failure; the newest
 * CL_FAIL_KEEP kept). */
static void send_failure(struct cluster *cl, const char *jail, const char *addr, long t)
{
	char msg[512], key[300], val[200], ttl[32];
	struct wjail *w = warden_find_jail(cl->wd, jail);
	cluster_fail_key(key, sizeof(key), jail, addr);
	t += cl->offset;	/* on Redis's clock */
	snprintf(val, sizeof(val), "%ld %s", t, cl->node);
	snprintf(ttl, sizeof(ttl), "%ld", w ? w->j->findtime : 600);
	const char *push[3] = { "RPUSH", key, val };
	const char *exp[3] = { "EXPIRE", key, ttl };
	char *k = xstrdup(key);
	if (cconn_send(&cl->cmd, 3, push, on_pushed, k) < 0)
		free(k);
	cconn_send(&cl->cmd, 3, exp, NULL, NULL);
	snprintf(msg, sizeof(msg), CL_VERSION " fail %s %s %s %ld", cl->node, jail, addr, t);
	publish(cl, msg);
}

void cluster_failure(struct warden *wd, const char *jail, const char *addr, long t)
{
	struct cluster *cl = wd->cl;
	if (cl && (!cl->cmd.up || !cl->synced))	/* sent once the clock is read */
		keep_away(cl, jail, addr, t);
	else if (cl)
		send_failure(cl, jail, addr, t);
}

void cluster_auth_ok(struct warden *wd, const char *jail, const char *addr, const char *login)
{
	char msg[700], key[300];
	if (!cl_up(wd->cl))
		return;
	cluster_fail_key(key, sizeof(key), jail, addr);	/* cleared: not pulled later */
	const char *del[2] = { "DEL", key };
	cconn_send(&wd->cl->cmd, 2, del, NULL, NULL);
	snprintf(msg, sizeof(msg), CL_VERSION " ok %s %s %s %s", wd->cl->node, jail, addr,
	    login ? login : "");
	publish(wd->cl, msg);
}

void cluster_hist_key(char *key, size_t len, const char *jail, const char *net)
{
	snprintf(key, len, CL_PREFIX "hist:%s:%s", jail, net);
}

/* A history key read at a ban decision: the ban it was read for. */
struct hist_read {
	char jail[128], net[64];
};

static void on_hist_read(struct cconn *c, const struct resp_reply *r, void *arg)
{
	struct hist_read *h = arg;
	struct cluster *cl = c->arg;
	struct wjail *w = r ? warden_find_jail(cl->wd, h->jail) : NULL;
	if (w)
		cluster_hist_apply(cl, w, h->net, r);
	free(h);
}

/* A ban this node made: its entry in the fleet's history of its net
 * (field: this node, value "<count> <start>", TTL dbpurgeage). With
 * bantime.increment the key is read first (HGETALL before the HSET,
 * pipelined): the ban is made at once from what this node knows, and
 * lengthened when the reply shows an earlier ban it did not know of. */
static void send_history(struct cluster *cl, const char *jail, const struct jailrt_ban *b)
{
	char key[400], val[100], ttl[32];
	struct wjail *w = warden_find_jail(cl->wd, jail);
	cluster_hist_key(key, sizeof(key), jail, b->key);
	if (w && w->j->increment) {
		struct hist_read *h = xcalloc(1, sizeof(*h));
		str_copy(h->jail, sizeof(h->jail), jail);
		str_copy(h->net, sizeof(h->net), b->key);
		const char *get[2] = { "HGETALL", key };
		if (cconn_send(&cl->cmd, 2, get, on_hist_read, h) < 0)
			free(h);
	}
	snprintf(val, sizeof(val), "%ld %ld", b->count, b->start);
	snprintf(ttl, sizeof(ttl), "%ld", cl->wd->dbpurgeage > 0 ? cl->wd->dbpurgeage : 86400);
	const char *set[4] = { "HSET", key, cl->node, val };
	const char *exp[3] = { "EXPIRE", key, ttl };
	cconn_send(&cl->cmd, 4, set, NULL, NULL);
	cconn_send(&cl->cmd, 3, exp, NULL, NULL);
}

/* A ban of a network wider than an address: its jail's failure lists
 * are scanned (MATCH narrowed to the net's whole IPv4 octets) and those
 * of the addresses inside it deleted, whichever node pushed them, so a
 * node starting after the ban ended does not count them. */
struct sweep {
	struct cluster *cl;
	struct net net;
	char match[400];
	size_t skip;		/* the key's length before the address */
};

static void sweep_scan(struct sweep *s, const char *cursor);

static void on_sweep(struct cconn *c, const struct resp_reply *r, void *arg)
{
	struct sweep *s = arg;
	if (r == NULL || r->type != RESP_ARRAY || r->nelem != 2 || r->elem[0].type != RESP_BULK ||
	    r->elem[1].type != RESP_ARRAY) {
		free(s);
		return;
	}
	const struct resp_reply *ks = &r->elem[1];
	for (size_t i = 0; i < ks->nelem; i++) {
		struct net a;
		const char *key = ks->elem[i].str;
		if (ks->elem[i].type != RESP_BULK || strlen(key) <= s->skip ||
		    net_parse(key + s->skip, &a) < 0 || !net_contains(&s->net, &a))
			continue;
		const char *del[2] = { "DEL", key };
		cconn_send(&s->cl->cmd, 2, del, NULL, NULL);
	}
	if (strcmp(r->elem[0].str, "0") == 0)
		free(s);
	else
		sweep_scan(s, r->elem[0].str);
}

static void sweep_scan(struct sweep *s, const char *cursor)
{
	const char *argv[6] = { "SCAN", cursor, "MATCH", s->match, "COUNT", "1000" };
	if (cconn_send(&s->cl->cmd, 6, argv, on_sweep, s) < 0)
		free(s);
}

static void sweep_net(struct cluster *cl, const char *jail, const char *netstr)
{
	char e[128], key[300], oct[64] = "";
	struct sweep *s = xcalloc(1, sizeof(*s));
	if (net_parse_net(netstr, &s->net, e, sizeof(e)) < 0 ||
	    s->net.plen >= (s->net.family == AF_INET ? 32 : 128)) {
		free(s);	/* an address: its list went with the ban */
		return;
	}
	s->cl = cl;
	cluster_fail_key(key, sizeof(key), jail, "");
	s->skip = strlen(key);
	size_t o = 0;	/* a glob: the jail's name escaped */
	for (const char *p = key; *p && o + 3 < sizeof(s->match); p++) {
		if (strchr("*?[]\\", *p))
			s->match[o++] = '\\';
		s->match[o++] = *p;
	}
	for (int b = 0; s->net.family == AF_INET && b < s->net.plen / 8; b++) {
		size_t l = strlen(oct);
		snprintf(oct + l, sizeof(oct) - l, "%u.", s->net.a[b]);
	}
	snprintf(s->match + o, sizeof(s->match) - o, "%s*", oct);
	sweep_scan(s, "0");
}

/* SET the key of ban b (TTL: what is left of it); PUBLISH it if pub
 * (a ban this node made: its history entry too). */
static void send_ban(struct cluster *cl, const char *jail, const struct jailrt_ban *b, int pub)
{
	char key[400], val[300], ttl[32], msg[600];
	long now = (long)clock_wall();
	long left = b->bantime < 0 ? 0 : b->start + b->bantime - now;
	if (b->bantime >= 0 && left <= 0)
		return;
	snprintf(key, sizeof(key), CL_PREFIX "ban:%s:%s", jail, b->key);
	snprintf(val, sizeof(val), "%s %ld %ld %ld", cl->node, b->start, b->bantime, b->count);
	snprintf(ttl, sizeof(ttl), "%ld", left);
	const char *argv[5] = { "SET", key, val, "EX", ttl };
	cconn_send(&cl->cmd, b->bantime < 0 ? 3 : 5, argv, NULL, NULL);
	if (pub) {
		/* the failures that led to it are not pulled later */
		cluster_fail_key(key, sizeof(key), jail, b->key);
		const char *del[2] = { "DEL", key };
		cconn_send(&cl->cmd, 2, del, NULL, NULL);
		sweep_net(cl, jail, b->key);	/* a network: the lists inside it */
		send_history(cl, jail, b);
		snprintf(msg, sizeof(msg), CL_VERSION " ban %s %s %s %ld %ld %ld", cl->node, jail,
		    b->key, b->start, b->bantime, b->count);
		publish(cl, msg);
	}
}

void cluster_ban(struct warden *wd, const char *jail, const struct jailrt_ban *b)
{
	if (cl_up(wd->cl))
		send_ban(wd->cl, jail, b, 1);
}

/* DEL the ban and history keys of net in jail ("*": every jail), PUBLISH the unban. */
static void send_unban(struct cluster *cl, const char *jail, const char *net)
{
	struct warden *wd = cl->wd;
	char key[400], msg[600];
	for (size_t i = 0; i < wd->njails; i++) {
		const char *name = wd->jails[i].j->name;
		if (strcmp(jail, "*") != 0 && strcmp(jail, name) != 0)
			continue;
		char hist[400];	/* unban forgets the history, as fail2ban's */
		snprintf(key, sizeof(key), CL_PREFIX "ban:%s:%s", name, net);
		cluster_hist_key(hist, sizeof(hist), name, net);
		const char *argv[3] = { "DEL", key, hist };
		cconn_send(&cl->cmd, 3, argv, NULL, NULL);
	}
	snprintf(msg, sizeof(msg), CL_VERSION " unban %s %s %s", cl->node, jail, net);
	publish(cl, msg);
}

void cluster_unban(struct warden *wd, const char *jail, const char *net)
{
	if (wd->cl && !wd->cl->cmd.up)	/* else the pull at the return would bring it back */
		keep_away(wd->cl, jail, net, -1);
	if (cl_up(wd->cl))
		send_unban(wd->cl, jail, net);
}

/* ---- receiving ---- */

void cluster_saw(struct cluster *cl, const char *node)
{
	long now = (long)clock_wall();
	for (size_t i = 0; i < cl->nseen; i++)
		if (strcmp(cl->seen[i].name, node) == 0) {
			cl->seen[i].last = now;
			return;
		}
	if (cl->nseen < CL_NODES_MAX) {
		str_copy(cl->seen[cl->nseen].name, sizeof(cl->seen[0].name), node);
		cl->seen[cl->nseen++].last = now;
		metrics_set(M_CLUSTER_NODES, NULL, (int64_t)cl->nseen);
	}
}

static long num(const char *s)
{
	return strtol(s, NULL, 10);
}

static void m_fail(struct cluster *cl, char **a)
{
	struct wjail *w = warden_find_jail(cl->wd, a[2]);
	long t = num(a[4]), now = (long)clock_wall(), here = t - cl->offset;
	if (w && !cluster_pulled(cl, a[0], a[2], a[3], t))
		ban_remote_failure(w, a[3], here > now + CL_MAX_SKEW ? now : here, a[0]);
}

static void m_ok(struct cluster *cl, char **a)
{
	struct wjail *w = warden_find_jail(cl->wd, a[2]);
	if (w)
		ban_remote_ok(w, a[3], a[4] ? a[4] : "");
}

static void m_ban(struct cluster *cl, char **a)
{
	struct wjail *w = warden_find_jail(cl->wd, a[2]);
	if (w && ban_remote(w, a[3], num(a[4]), num(a[5]), num(a[6]), a[0]) == 1)
		cluster_applied(cl);
}

static void m_unban(struct cluster *cl, char **a)
{
	ban_remote_unban(cl->wd, a[2], a[3], a[0]);
}

/* Message verbs: name, words at least (node and verb included), handler
 * (a[0] is the node, a[1] the verb, a[2]... the rest; NULL after). */
static const struct verb {
	const char *name;
	int nargs;
	void (*fn)(struct cluster *cl, char **a);
} verbs[] = {
	{ "fail", 5, m_fail },
	{ "ok", 4, m_ok },
	{ "ban", 7, m_ban },
	{ "unban", 4, m_unban },
};

static void on_msg(const char *payload, size_t len, void *arg)
{
	struct cluster *cl = arg;
	char line[1024], *a[9] = { 0 }, *save = NULL;
	if (len >= sizeof(line))
		return;
	memcpy(line, payload, len);
	line[len] = '\0';
	char *ver = strtok_r(line, " ", &save);
	char *verb = strtok_r(NULL, " ", &save);
	if (ver == NULL || verb == NULL || strcmp(ver, CL_VERSION) != 0)
		return;
	int n = 0;
	a[n++] = strtok_r(NULL, " ", &save);	/* node */
	a[n++] = verb;
	while (n < 8 && (a[n] = strtok_r(NULL, " ", &save)) != NULL)
		n++;
	if (a[0] == NULL || strcmp(a[0], cl->node) == 0)
		return;
	cl->received++;
	metrics_inc(M_CLUSTER_MSGS, "received");
	cluster_saw(cl, a[0]);
	for (size_t i = 0; i < sizeof(verbs) / sizeof(*verbs); i++)
		if (strcmp(verbs[i].name, verb) == 0 && n >= verbs[i].nargs)
			verbs[i].fn(cl, a);
}

/* ---- resync: push (the pull is cluster_pull.c) ---- */

static void start_waited(void *arg)
{
	struct cluster *cl = arg;
	if (cl->ready)
		log_warn("cluster: no bans pulled from redis %s within %d ms; serving with this "
		    "node's own", cl->addr.text, CL_START_WAIT_MS);
	cluster_ready_now(cl);
}

/* cmd is up and Redis's clock read: send what was done while away
 * (unbans first: a ban made again after one is pushed next), push this
 * node's bans (refills an empty Redis; those made while away are
 * published too), then pull the others'. */
static void push_pull(struct cluster *cl)
{
	struct cconn *c = &cl->cmd;
	struct warden *wd = cl->wd;
	char key[300], val[64];
	size_t unbans = 0;
	for (size_t i = 0; i < cl->naway; i++) {	/* what was made while away, in order */
		struct away *a = &cl->away[i];
		if (a->t < 0)
			send_unban(cl, a->jail, a->addr), unbans++;
		else
			send_failure(cl, a->jail, a->addr, a->t);
	}
	if (cl->naway || cl->lost_away)
		log_info("cluster: %zu failure(s) made while redis was away sent (%zu not kept), "
		    "%zu unban(s)", cl->naway - unbans, cl->lost_away, unbans);
	cl->naway = cl->lost_away = 0;
	/* away since it went down, or since the start if it never was up
	 * (a node partitioned from its start: its bans reach the others) */
	long since = c->down_wall ? c->down_wall - 1 : cl->started;
	for (size_t i = 0; i < wd->njails; i++) {
		struct jailrt *rt = wd->jails[i].rt;
		for (size_t b = 0; b < rt->nbans; b++)
			send_ban(cl, wd->jails[i].j->name, &rt->bans[b], rt->bans[b].start >= since);
	}
	snprintf(key, sizeof(key), CL_PREFIX "node:%s", cl->node);
	snprintf(val, sizeof(val), "%ld " CL_VERSION, (long)clock_wall());
	const char *argv[5] = { "SET", key, val, "EX", "86400" };
	cconn_send(c, 5, argv, NULL, NULL);
	cluster_pull(cl);
}

/* TIME's reply: the offset of Redis's clock, on which failure times
 * travel (findtime measured on one clock); changed only when it moved
 * by more than 1 s, so a failure's time read back is the one stored.
 * Then the push and the pull. */
static void on_time(struct cconn *c, const struct resp_reply *r, void *arg)
{
	struct cluster *cl = c->arg;
	if (r == NULL)
		return;
	if (r->type == RESP_ARRAY && r->nelem == 2 && r->elem[0].type == RESP_BULK &&
	    r->elem[1].type == RESP_BULK) {
		double redis = strtod(r->elem[0].str, NULL) + strtod(r->elem[1].str, NULL) / 1e6;
		double d = redis - clock_wall_f();
		long off = (long)(d < 0 ? d - 0.5 : d + 0.5);
		if (labs(off - cl->offset) > 1) {
			if (labs(off) > CL_MAX_SKEW)
				log_warn("cluster: this node's clock is %ld s %s redis %s's; failure "
				    "times are exchanged on redis's clock", labs(off),
				    off > 0 ? "behind" : "ahead of", cl->addr.text);
			cl->offset = off;
			metrics_set(M_CLUSTER_CLOCK, NULL, off);
		}
	}
	cl->synced = 1;
	push_pull(cl);
}

/* cmd is up: read Redis's clock (TIME), then push and pull. */
static void on_cmd_up(struct cconn *c, void *arg)
{
	struct cluster *cl = arg;
	const char *argv[1] = { "TIME" };
	cl->synced = 0;
	cconn_send(c, 1, argv, on_time, NULL);
}

static void on_sub_up(struct cconn *c, void *arg)
{
	const char *argv[2] = { "SUBSCRIBE", CL_CHANNEL };
	cconn_send(c, 2, argv, NULL, NULL);
}

/* ---- life ---- */

void cluster_open(struct warden *wd)
{
	char err[1024];
	if (*config_get(wd->cfg, "warden_cluster") == '\0')
		return;
	struct cluster *cl = xcalloc(1, sizeof(*cl));
	if (load(wd->cfg, cl, err, sizeof(err)) < 0)
		fatal("%s", err);
	cl->wd = wd;
	cl->repull = (struct loop_timer){ 0, (size_t)-1, NULL, NULL };
	cl->start_wait = cl->repull;
	cl->pulled_end = cl->repull;
	wd->cl = cl;
}

static void conn_init(struct cluster *cl, struct cconn *c, const char *name, int quiet,
    cconn_up_fn *up, cconn_msg_fn *msg)
{
	memset(c, 0, sizeof(*c));
	c->addr = &cl->addr;
	c->user = cl->user[0] ? cl->user : NULL;
	c->password = cl->has_password ? cl->password : NULL;
	c->name = name;
	c->quiet = quiet;
	c->on_up = up;
	c->on_msg = msg;
	c->arg = cl;
}

void cluster_start(struct warden *wd, cluster_ready_fn *ready)
{
	struct cluster *cl = wd->cl;
	if (cl == NULL) {
		ready(wd);
		return;
	}
	cl->ready = ready;
	cl->started = (long)clock_wall();
	loop_timer_set(&cl->start_wait, CL_START_WAIT_MS, start_waited, cl);
	conn_init(cl, &cl->sub, "sub", 1, on_sub_up, on_msg);
	conn_init(cl, &cl->cmd, "cmd", 0, on_cmd_up, NULL);
	cconn_start(&cl->sub);
	cconn_start(&cl->cmd);
	log_info("cluster: node %s, redis %s", cl->node, cl->addr.text);
}

void cluster_status_json(const struct warden *wd, struct buf *o)
{
	const struct cluster *cl = wd->cl;
	if (cl == NULL)
		return;
	buf_printf(o, ", \"cluster\": {\"node\": \"%s\", \"redis\": \"%s\", \"connected\": %s, "
	    "\"last_sync\": %ld, \"clock_offset\": %ld, \"published\": %lu, \"received\": %lu, "
	    "\"applied\": %lu, \"nodes_seen\": [", cl->node, cl->addr.text,
	    cl->cmd.up && cl->sub.up ? "true" : "false", cl->last_sync, cl->offset, cl->published,
	    cl->received, cl->applied);
	for (size_t i = 0; i < cl->nseen; i++)
		buf_printf(o, "%s{\"node\": \"%s\", \"last\": %ld}", i ? ", " : "",
		    cl->seen[i].name, cl->seen[i].last);
	buf_puts(o, "]}");
}

void cluster_free(struct warden *wd)
{
	struct cluster *cl = wd->cl;
	if (cl == NULL)
		return;
	loop_timer_clear(&cl->repull);
	loop_timer_clear(&cl->start_wait);
	loop_timer_clear(&cl->pulled_end);
	free(cl->away);
	free(cl->pulled);
	cconn_close(&cl->cmd);
	cconn_close(&cl->sub);
	explicit_bzero(cl->password, sizeof(cl->password));
	SSL_CTX_free(cl->addr.ssl_ctx);
	free(cl);
	wd->cl = NULL;
}
