/*
 * policyd — check_policy_service inet:HOST:PORT | unix:PATH: Postfix's
 * policy delegation protocol (SMTPD_POLICY_README), so postgrey,
 * policyd-spf and friends plug in. The request ("name=value" lines, an
 * empty line) and the reply ("action=...", an empty line) go over a
 * non-blocking socket driven by the event loop: the restriction returns
 * POLICY_PENDING, the answer is stored in the session cache under
 * stage + recipient + transaction, and the session is woken to evaluate
 * its list again, which then finds the answer. No answer within
 * smtpd_policy_service_timeout, or a broken one, means
 * smtpd_policy_service_default_action ("451 4.3.5 Server configuration
 * problem"). One connection per request.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/net.h"
#include "common/loop.h"
#include "common/util.h"
#include "policy/restrict_int.h"

#define POLICY_REQ_MAX	(64 * 1024)
#define POLICY_REPLY_MAX (64 * 1024)

#ifndef MAILWARDEN_VERSION
#define MAILWARDEN_VERSION "0"
#endif

struct policy_service {
	char *spec;
	struct sockaddr_storage sa;
	socklen_t salen;
	long timeout_ms;
	char *default_action;
};

struct preq {
	struct policy_service *svc;
	struct policy_ctx *c;
	char *key;
	int fd;
	struct buf out;
	size_t off;
	struct buf in;
	struct loop_timer timer;
	struct preq *next;
};

static struct preq *requests;	/* running, to find one by (ctx, key) */

struct policy_service *policyd_open(const char *spec, const struct rparams *p,
    char *err, size_t errlen)
{
	struct policy_service *svc = xcalloc(1, sizeof(*svc));

	svc->spec = xstrdup(spec);
	svc->timeout_ms = (p ? p->policy_timeout : 100) * 1000;
	svc->default_action = xstrdup(p ? p->policy_default_action
	    : "451 4.3.5 Server configuration problem");
	if (strncmp(spec, "unix:", 5) == 0) {
		struct sockaddr_un *un = (struct sockaddr_un *)&svc->sa;
		const char *path = spec + 5;
		if (*path == '\0' || strlen(path) >= sizeof(un->sun_path)) {
			snprintf(err, errlen, "bad unix socket path in \"%s\"", spec);
			goto fail;
		}
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, path, strlen(path) + 1);
		svc->salen = sizeof(*un);
		return svc;
	}
	if (strncmp(spec, "inet:", 5) == 0) {
		if (net_hostport(spec + 5, 0, spec, &svc->sa, &svc->salen, err, errlen) < 0)
			goto fail;
		return svc;
	}
	snprintf(err, errlen, "expected inet:host:port or unix:/path, got \"%s\"", spec);
fail:
	policyd_free(svc);
	return NULL;
}

void policyd_free(struct policy_service *svc)
{
	if (svc == NULL)
		return;
	free(svc->spec);
	free(svc->default_action);
	free(svc);
}

static void req_free(struct preq *q)
{
	for (struct preq **pp = &requests; *pp; pp = &(*pp)->next) {
		if (*pp == q) {
			*pp = q->next;
			break;
		}
	}
	if (q->fd >= 0) {
		loop_unwatch(q->fd);
		close(q->fd);
	}
	loop_timer_clear(&q->timer);
	buf_free(&q->out);
	buf_free(&q->in);
	free(q->key);
	free(q);
}

void policyd_cancel(void *req)
{
	req_free(req);
}

/* The request is answered (or failed): remember, wake the session. */
static void req_finish(struct preq *q, const char *action)
{
	struct policy_ctx *c = q->c;

	r_cache_put(c, q->key, action);
	r_cache_del_request(c, q);
	req_free(q);
	r_cache_done(c);	/* last: may re-enter the session */
}

static void req_fail(struct preq *q, const char *why)
{
	log_warn("problem talking to server %s: %s", q->svc->spec, why);
	req_finish(q, q->svc->default_action);
}

static void req_timeout(void *arg)
{
	req_fail(arg, "timeout");
}

/* The value of action= once the reply's empty line arrived; 1 done, 0 more, -1 bad. */
static int parse_reply(struct preq *q, char *action, size_t len)
{
	char *end = strstr(q->in.data, "\n\n");

	if (end == NULL)
		return 0;
	end[1] = '\0';
	for (char *line = q->in.data; *line; ) {
		char *nl = strchr(line, '\n');
		*nl = '\0';
		if (strncmp(line, "action=", 7) == 0) {
			str_copy(action, len, line + 7);
			return 1;
		}
		line = nl + 1;
	}
	return -1;
}

static void req_io(int fd, int events, void *arg)
{
	struct preq *q = arg;

	if (events & LOOP_WRITE) {
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		if (q->off == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr) {
			req_fail(q, strerror(soerr));
			return;
		}
		ssize_t n = send(fd, q->out.data + q->off, q->out.len - q->off, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0) {
			req_fail(q, strerror(errno));
			return;
		}
		q->off += (size_t)n;
		if (q->off == q->out.len)
			loop_watch(fd, LOOP_READ, req_io, q);
		return;
	}
	char tmp[4096];
	ssize_t n = read(fd, tmp, sizeof(tmp));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		req_fail(q, strerror(errno));
		return;
	}
	if (n == 0) {
		req_fail(q, "connection closed before the reply");
		return;
	}
	/* Tolerate CRLF line ends. */
	for (ssize_t i = 0; i < n; i++) {
		if (tmp[i] != '\r' && buf_append(&q->in, &tmp[i], 1) < 0) {
			req_fail(q, "reply too long");
			return;
		}
	}
	char action[2048];
	int rc = parse_reply(q, action, sizeof(action));
	if (rc < 0)
		req_fail(q, "reply without action=");
	else if (rc > 0)
		req_finish(q, action);
}

static const char *stage_name(const struct policy_ctx *c)
{
	switch (c->stage) {
	case STAGE_CONNECT: return "CONNECT";
	case STAGE_HELO: return c->proto && strcmp(c->proto, "ESMTP") == 0 ? "EHLO" : "HELO";
	case STAGE_MAIL: return "MAIL";
	case STAGE_RCPT: return "RCPT";
	case STAGE_DATA: return "DATA";
	}
	return "RCPT";
}

/* One "name=value\n" line; newlines in values become spaces. */
static int put_attr(struct buf *b, const char *name, const char *value)
{
	if (buf_printf(b, "%s=", name) < 0)
		return -1;
	for (const char *p = value ? value : ""; *p; p++) {
		char ch = (*p == '\n' || *p == '\r') ? ' ' : *p;
		if (buf_append(b, &ch, 1) < 0)
			return -1;
	}
	return buf_puts(b, "\n");
}

static int build_request(struct buf *b, const struct policy_ctx *c)
{
	char num[64], inst[64];
	int rc = 0;

	snprintf(inst, sizeof(inst), "%x.%x", (unsigned)getpid(), (unsigned)c->instance);
	rc |= put_attr(b, "request", "smtpd_access_policy");
	rc |= put_attr(b, "protocol_state", stage_name(c));
	rc |= put_attr(b, "protocol_name", c->proto ? c->proto : "SMTP");
	rc |= put_attr(b, "client_address", c->client_addr);
	rc |= put_attr(b, "client_name", c->client_name ? c->client_name : "unknown");
	snprintf(num, sizeof(num), "%u", c->client_port);
	rc |= put_attr(b, "client_port", num);
	rc |= put_attr(b, "reverse_client_name", c->reverse_name ? c->reverse_name : "unknown");
	rc |= put_attr(b, "server_address", "");
	rc |= put_attr(b, "server_port", "");
	rc |= put_attr(b, "helo_name", c->helo);
	rc |= put_attr(b, "sender", c->sender);
	rc |= put_attr(b, "recipient", c->rcpt);
	snprintf(num, sizeof(num), "%u", c->stage == STAGE_DATA ? c->nrcpt : 0);
	rc |= put_attr(b, "recipient_count", num);
	rc |= put_attr(b, "queue_id", c->queue_id && strcmp(c->queue_id, "NOQUEUE") ? c->queue_id : "");
	rc |= put_attr(b, "instance", inst);
	snprintf(num, sizeof(num), "%lu", c->size);
	rc |= put_attr(b, "size", num);
	rc |= put_attr(b, "etrn_domain", "");
	rc |= put_attr(b, "stress", "");
	rc |= put_attr(b, "sasl_method", "");
	rc |= put_attr(b, "sasl_username", c->sasl_username);
	rc |= put_attr(b, "sasl_sender", "");
	rc |= put_attr(b, "ccert_subject", "");
	rc |= put_attr(b, "ccert_issuer", "");
	rc |= put_attr(b, "ccert_fingerprint", "");
	rc |= put_attr(b, "ccert_pubkey_fingerprint", "");
	rc |= put_attr(b, "encryption_protocol", "");
	rc |= put_attr(b, "encryption_cipher", "");
	rc |= put_attr(b, "encryption_keysize", "0");
	rc |= put_attr(b, "policy_context", "");
	rc |= put_attr(b, "compatibility_level", "3.6");
	rc |= put_attr(b, "mail_version", MAILWARDEN_VERSION);
	rc |= buf_puts(b, "\n");
	return rc < 0 ? -1 : 0;
}

/* Start a request; NULL (and the reason logged) if it failed at once. */
static struct preq *req_start(struct policy_service *svc, struct policy_ctx *c, const char *key)
{
	struct preq *q = xcalloc(1, sizeof(*q));

	q->svc = svc;
	q->c = c;
	q->key = xstrdup(key);
	q->fd = -1;
	q->timer.slot = (size_t)-1;
	buf_init(&q->out, POLICY_REQ_MAX);
	buf_init(&q->in, POLICY_REPLY_MAX);
	buf_puts(&q->in, "");
	if (build_request(&q->out, c) < 0) {
		log_warn("policy server %s: request too long", svc->spec);
		goto fail;
	}
	q->fd = socket(svc->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (q->fd < 0) {
		log_warn("policy server %s: socket: %s", svc->spec, strerror(errno));
		goto fail;
	}
	if (connect(q->fd, (struct sockaddr *)&svc->sa, svc->salen) < 0
	    && errno != EINPROGRESS && errno != EAGAIN) {
		log_warn("problem talking to server %s: %s", svc->spec, strerror(errno));
		goto fail;
	}
	q->next = requests;
	requests = q;
	loop_watch(q->fd, LOOP_WRITE, req_io, q);
	loop_timer_set(&q->timer, (uint64_t)svc->timeout_ms, req_timeout, q);
	return q;
fail:
	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
	buf_free(&q->out);
	buf_free(&q->in);
	free(q->key);
	free(q);
	return NULL;
}

enum policy_result r_policy_service(struct rstate *st, const struct ritem *it)
{
	struct policy_ctx *c = st->c;
	struct buf key;
	const char *v;
	enum policy_result res;

	buf_init(&key, 4096);
	if (buf_printf(&key, "policy %s %s %d %s", it->arg, stage_name(c), c->instance,
	    c->rcpt ? c->rcpt : "") < 0) {
		buf_free(&key);
		return r_table_result(st, it->arg, it->svc->default_action);
	}
	if ((v = r_cache_get(c, key.data)) != NULL) {
		res = r_table_result(st, it->arg, v);
		buf_free(&key);
		return res;
	}
	if (st->prefetch) {
		buf_free(&key);
		return POLICY_DUNNO;
	}
	for (struct preq *q = requests; q; q = q->next) {
		if (q->c == c && strcmp(q->key, key.data) == 0) {
			buf_free(&key);
			st->pending = 1;
			return POLICY_PENDING;
		}
	}
	struct preq *q = req_start(it->svc, c, key.data);
	buf_free(&key);
	if (q == NULL)
		return r_table_result(st, it->arg, it->svc->default_action);
	r_cache_add_request(c, it->svc, q);
	st->pending = 1;
	return POLICY_PENDING;
}

int policyd_parse_reply(struct buf *in, char *action, size_t len)
{
	struct preq q = { .in = *in };
	return parse_reply(&q, action, len);
}
