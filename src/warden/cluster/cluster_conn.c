/*
 * cluster_conn — a Redis connection on the loop (see cluster_conn.h).
 * Nothing here blocks: connect is non-blocking, output is buffered
 * (at most CONN_OUT_MAX bytes: past it a command is dropped, the resync
 * at the next connection replaces it), input parsed as it comes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/util.h"
#include "warden/cluster/cluster_conn.h"
#include "warden/cluster/resp.h"

#define CONN_OUT_MAX (64u << 20)
#define CONN_IN_MAX (8u << 20)
#define BACKOFF_MIN 100
#define BACKOFF_MAX 5000
#define HEALTH_MS 1000
#define SILENT_MAX_MS 3000	/* a partition TCP has not noticed */

int cconn_parse(const char *url, struct caddr *a, char *err, size_t errlen)
{
	memset(a, 0, sizeof(*a));
	if (strncmp(url, "unix:", 5) == 0) {
		struct sockaddr_un *un = (struct sockaddr_un *)&a->sa;
		un->sun_family = AF_UNIX;
		if (url[5] != '/' || str_copy(un->sun_path, sizeof(un->sun_path), url + 5) < 0) {
			snprintf(err, errlen, "warden_cluster %s: not an absolute socket path", url);
			return -1;
		}
		a->salen = sizeof(*un);
		str_copy(a->text, sizeof(a->text), url + 5);
		return 0;
	}
	const char *p;
	if (strncmp(url, "redis://", 8) == 0)
		p = url + 8;
	else if (strncmp(url, "rediss://", 9) == 0)
		p = url + 9, a->tls = 1;
	else {
		snprintf(err, errlen, "warden_cluster %s: not redis://, rediss:// or unix:", url);
		return -1;
	}
	char host[256], port[16] = "6379";
	const char *hend, *rest;
	if (*p == '[') {		/* [2001:db8::1]:6379 */
		hend = strchr(p, ']');
		if (hend == NULL)
			goto bad;
		snprintf(host, sizeof(host), "%.*s", (int)(hend - p - 1), p + 1);
		rest = hend + 1;
	} else {
		hend = p + strcspn(p, ":/");
		snprintf(host, sizeof(host), "%.*s", (int)(hend - p), p);
		rest = hend;
	}
	if (*rest == ':') {
		size_t n = strspn(rest + 1, "0123456789");
		if (n == 0 || n > 5)
			goto bad;
		snprintf(port, sizeof(port), "%.*s", (int)n, rest + 1);
		rest += 1 + n;
	}
	if (*rest == '/' && rest[1]) {
		char *end;
		long db = strtol(rest + 1, &end, 10);
		if (*end || db < 0 || db > 1000)
			goto bad;
		a->db = (int)db;
	} else if (*rest && strcmp(rest, "/") != 0)
		goto bad;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	int rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "warden_cluster %s: %s: %s", url, host, gai_strerror(rc));
		return -1;
	}
	str_copy(a->host, sizeof(a->host), host);
	memcpy(&a->sa, res->ai_addr, res->ai_addrlen);
	a->salen = res->ai_addrlen;
	freeaddrinfo(res);
	snprintf(a->text, sizeof(a->text), "%s:%s", host, port);
	return 0;
bad:
	snprintf(err, errlen, "warden_cluster %s: expected redis://host:port/db", url);
	return -1;
}

static void on_io(int fd, int events, void *arg);

/* The oldest reply expected, taken off the queue: O(1) (a flood of
 * failures queues hundreds of thousands; a memmove each was quadratic). */
static struct cconn_wait wait_pop(struct cconn *c)
{
	struct cconn_wait w = c->wait[c->whead++];
	if (--c->nwait == 0)
		c->whead = 0;
	return w;
}

/* Answer every waiting callback with no reply (the connection is gone). */
static void fail_waits(struct cconn *c)
{
	while (c->nwait) {
		struct cconn_wait w = wait_pop(c);
		if (w.fn)
			w.fn(c, NULL, w.arg);
	}
}

static void try_connect(void *arg);

/* The connection is lost (or never made): log once, retry later. */
static void lost(struct cconn *c, const char *why)
{
	if (c->ssl) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0) {
		loop_unwatch(c->fd);
		close(c->fd);
		c->fd = -1;
	}
	if (c->up)
		c->down_wall = (long)clock_wall();
	c->up = 0;
	metrics_set(M_CLUSTER_UP, c->name, 0);
	loop_timer_clear(&c->health);
	buf_reset(&c->in);
	buf_reset(&c->out);
	fail_waits(c);
	if (!c->down_told) {
		c->down_told = 1;
		c->down_since = clock_mono_ms();
		if (!c->quiet)
			log_warn("cluster: redis %s unreachable (%s connection): %s; banning locally",
			    c->addr->text, c->name, why);
	}
	loop_timer_set(&c->retry, c->backoff, try_connect, c);
	c->backoff = c->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : c->backoff * 2;
}

static int queue_cmd(struct cconn *c, int argc, const char *const *argv, cconn_reply_fn *fn,
    void *arg)
{
	if (resp_cmd(&c->out, argc, argv, NULL) < 0)
		return -1;
	if (c->whead + c->nwait == c->capwait) {
		if (c->whead > 0 && c->whead >= c->capwait / 2) {	/* half free in front: compact */
			memmove(c->wait, c->wait + c->whead, c->nwait * sizeof(*c->wait));
			c->whead = 0;
		} else {
			c->capwait = c->capwait ? 2 * c->capwait : 16;
			c->wait = xrealloc(c->wait, c->capwait * sizeof(*c->wait));
		}
	}
	c->wait[c->whead + c->nwait++] = (struct cconn_wait){ fn, arg };
	loop_watch(c->fd, LOOP_READ | LOOP_WRITE, on_io, c);
	return 0;
}

int cconn_send(struct cconn *c, int argc, const char *const *argv, cconn_reply_fn *fn, void *arg)
{
	if (!c->up || c->fd < 0)
		return -1;
	return queue_cmd(c, argc, argv, fn, arg);
}

/* AUTH's and SELECT's reply: an error ends the connection. */
static void on_setup(struct cconn *c, const struct resp_reply *r, void *arg)
{
	if (r && r->type == RESP_ERROR) {
		char why[300];
		snprintf(why, sizeof(why), "%s: %s", (const char *)arg, r->str);
		lost(c, why);
	}
}

/* Each second while up: a PING (its reply, or a pushed message, is a
 * sign of life); nothing read for SILENT_MAX_MS with replies due: lost. */
static void health(void *arg)
{
	struct cconn *c = arg;
	if (c->nwait && clock_mono_ms() - c->last_rx > SILENT_MAX_MS) {
		lost(c, "no answer for 3 s");
		return;
	}
	const char *ping[1] = { "PING" };
	if (c->nwait < 64)
		queue_cmd(c, 1, ping, NULL, NULL);
	loop_timer_set(&c->health, HEALTH_MS, health, c);
}

/* SELECT's reply: the connection is up. */
static void on_selected(struct cconn *c, const struct resp_reply *r, void *arg)
{
	if (r == NULL)
		return;
	if (r->type == RESP_ERROR) {
		on_setup(c, r, arg);
		return;
	}
	c->up = 1;
	metrics_set(M_CLUSTER_UP, c->name, 1);
	c->connects++;
	c->backoff = BACKOFF_MIN;
	if (c->down_told && !c->quiet)
		log_info("cluster: redis %s back after %llu s", c->addr->text,
		    (unsigned long long)((clock_mono_ms() - c->down_since) / 1000));
	c->down_told = 0;
	c->last_rx = clock_mono_ms();
	loop_timer_set(&c->health, HEALTH_MS, health, c);
	if (c->on_up)
		c->on_up(c, c->arg);
}

/* Connected: AUTH, SELECT, pipelined. */
static void handshake(struct cconn *c)
{
	char db[16];
	snprintf(db, sizeof(db), "%d", c->addr->db);
	if (c->password) {
		const char *auth[3] = { "AUTH", c->user ? c->user : c->password, c->password };
		queue_cmd(c, c->user ? 3 : 2, auth, on_setup, "AUTH");
	}
	const char *sel[2] = { "SELECT", db };
	queue_cmd(c, 2, sel, on_selected, "SELECT");
}

/* The last OpenSSL error, or the certificate's verification result. */
static void tls_why(struct cconn *c, char *why, size_t len)
{
	long v = c->ssl ? SSL_get_verify_result(c->ssl) : X509_V_OK;
	unsigned long e = ERR_get_error();
	if (v != X509_V_OK)
		snprintf(why, len, "TLS: certificate verification failed: %s",
		    X509_verify_cert_error_string(v));
	else if (e)
		snprintf(why, len, "TLS: %s", ERR_error_string(e, NULL));
	else
		snprintf(why, len, "TLS: connection closed in the handshake");
	ERR_clear_error();
}

/* TLS over the connecting socket: the name (or address) verified. */
static int tls_begin(struct cconn *c)
{
	SSL *ssl = SSL_new(c->addr->ssl_ctx);
	struct in6_addr a6;
	struct in_addr a4;
	int ip = inet_pton(AF_INET, c->addr->host, &a4) == 1 ||
	    inet_pton(AF_INET6, c->addr->host, &a6) == 1;
	if (ssl == NULL || SSL_set_fd(ssl, c->fd) != 1 ||
	    (ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), c->addr->host) != 1 :
	    (SSL_set1_host(ssl, c->addr->host) != 1 ||
	    SSL_set_tlsext_host_name(ssl, c->addr->host) != 1))) {
		char why[300];
		SSL_free(ssl);
		tls_why(c, why, sizeof(why));
		lost(c, why);
		return -1;
	}
	SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
	SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_set_connect_state(ssl);
	c->ssl = ssl;
	c->handshaking = 1;
	return 0;
}

/* One step of the handshake: 1 done, 0 wait (watch set), -1 lost. */
static int tls_step(struct cconn *c)
{
	int rc = SSL_do_handshake(c->ssl);
	if (rc == 1) {
		c->handshaking = 0;
		return 1;
	}
	int e = SSL_get_error(c->ssl, rc);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		loop_watch(c->fd, e == SSL_ERROR_WANT_READ ? LOOP_READ : LOOP_READ | LOOP_WRITE,
		    on_io, c);
		return 0;
	}
	char why[300];
	tls_why(c, why, sizeof(why));
	lost(c, why);
	return -1;
}

/* read(2) or SSL_read: bytes, 0 closed, -1 with errno (EAGAIN: wait). */
static ssize_t conn_read(struct cconn *c, char *p, size_t n)
{
	if (c->ssl == NULL)
		return read(c->fd, p, n);
	int rc = SSL_read(c->ssl, p, (int)n);
	if (rc > 0)
		return rc;
	int e = SSL_get_error(c->ssl, rc);
	if (e == SSL_ERROR_ZERO_RETURN)
		return 0;
	errno = e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? EAGAIN : EPROTO;
	return -1;
}

/* write(2) or SSL_write, as conn_read. */
static ssize_t conn_write(struct cconn *c, const char *p, size_t n)
{
	if (c->ssl == NULL)
		return write(c->fd, p, n);
	int rc = SSL_write(c->ssl, p, (int)(n > 1u << 30 ? 1u << 30 : n));
	if (rc > 0)
		return rc;
	int e = SSL_get_error(c->ssl, rc);
	errno = e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? EAGAIN : EPIPE;
	return -1;
}

/* Not up SILENT_MAX_MS after the connect began: a partition drops the
 * SYN (or the TLS handshake, or AUTH's reply) and TCP would wait two
 * minutes; retried with the backoff instead. */
static void connect_timeout(void *arg)
{
	struct cconn *c = arg;
	if (!c->up)
		lost(c, "no answer for 3 s (connecting)");
}

static void try_connect(void *arg)
{
	struct cconn *c = arg;
	loop_timer_set(&c->health, SILENT_MAX_MS, connect_timeout, c);	/* health's, once up */
	c->fd = socket(c->addr->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		lost(c, strerror(errno));
		return;
	}
	if (connect(c->fd, (const struct sockaddr *)&c->addr->sa, c->addr->salen) < 0 &&
	    errno != EINPROGRESS) {
		lost(c, strerror(errno));
		return;
	}
	if (c->addr->tls && tls_begin(c) < 0)
		return;
	loop_watch(c->fd, LOOP_READ | LOOP_WRITE, on_io, c);
	handshake(c);
}

void cconn_start(struct cconn *c)
{
	c->fd = -1;
	c->backoff = BACKOFF_MIN;
	c->retry = (struct loop_timer){ 0, (size_t)-1, NULL, NULL };
	c->health = c->retry;
	buf_init(&c->in, CONN_IN_MAX);
	buf_init(&c->out, CONN_OUT_MAX);
	try_connect(c);
}

/* A pushed pub/sub message: ["message", channel, payload]. */
static int pushed(struct cconn *c, const struct resp_reply *r)
{
	if (r->type != RESP_ARRAY || r->nelem != 3 || r->elem[0].type != RESP_BULK ||
	    strcmp(r->elem[0].str, "message") != 0 || r->elem[2].type != RESP_BULK)
		return 0;
	if (c->on_msg)
		c->on_msg(r->elem[2].str, r->elem[2].len, c->arg);
	return 1;
}

/* Parse and answer the complete replies in c->in: 0, or -1 when c was
 * lost (by a protocol error, or by a callback). */
static int parse_in(struct cconn *c)
{
	size_t off = 0;
	while (off < c->in.len) {
		struct resp_reply r;
		size_t used;
		int rc = resp_parse(c->in.data + off, c->in.len - off, &r, &used);
		if (rc == 0)
			break;
		if (rc < 0) {
			lost(c, "protocol error");
			return -1;
		}
		off += used;
		if (!pushed(c, &r) && c->nwait) {
			struct cconn_wait w = wait_pop(c);
			if (w.fn)
				w.fn(c, &r, w.arg);	/* may lose c: fd < 0 then */
		}
		resp_free(&r);
		if (c->fd < 0)
			return -1;
	}
	buf_consume(&c->in, off);
	return 0;
}

/* Read what is there, parsing after each read (so only an incomplete
 * reply is ever buffered, not a burst of pipelined ones). */
static void read_in(struct cconn *c)
{
	char tmp[65536];
	for (;;) {
		ssize_t n = conn_read(c, tmp, sizeof(tmp));
		if (n == 0) {
			lost(c, "closed by redis");
			return;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			lost(c, strerror(errno));
			return;
		}
		c->last_rx = clock_mono_ms();
		if (buf_append(&c->in, tmp, (size_t)n) < 0) {
			lost(c, "reply too large");
			return;
		}
		if (parse_in(c) < 0)
			return;
		if ((size_t)n < sizeof(tmp) && (c->ssl == NULL || SSL_pending(c->ssl) == 0))
			return;
	}
}

static void write_out(struct cconn *c)
{
	while (c->out.len) {
		ssize_t n = conn_write(c, c->out.data, c->out.len);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			lost(c, strerror(errno));
			return;
		}
		buf_consume(&c->out, (size_t)n);
	}
	loop_watch(c->fd, LOOP_READ, on_io, c);
}

static void on_io(int fd, int events, void *arg)
{
	struct cconn *c = arg;
	if (events & LOOP_WRITE) {
		int e = 0;
		socklen_t el = sizeof(e);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) == 0 && e != 0) {
			lost(c, strerror(e));
			return;
		}
	}
	if (c->handshaking) {
		if (tls_step(c) <= 0)
			return;
		write_out(c);	/* AUTH and SELECT waited for the handshake */
	} else if (events & LOOP_WRITE) {
		write_out(c);
	}
	if (c->fd >= 0 && (events & LOOP_READ))
		read_in(c);
}

void cconn_close(struct cconn *c)
{
	if (c->ssl)
		SSL_free(c->ssl);
	c->ssl = NULL;
	loop_timer_clear(&c->retry);
	loop_timer_clear(&c->health);
	if (c->fd >= 0) {
		loop_unwatch(c->fd);
		close(c->fd);
	}
	c->fd = -1;
	c->up = 0;
	fail_waits(c);
	free(c->wait);
	c->wait = NULL;
	c->capwait = c->whead = 0;
	buf_free(&c->in);
	buf_free(&c->out);
}
