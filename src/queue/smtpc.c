/*
 * smtpc — SMTP/LMTP client connections of the queue process (see
 * smtpc.h). A connection is a small state machine fed by loop events;
 * replies are matched to the commands sent, in order, so PIPELINING is
 * only a matter of how many commands go out before the first reply.
 * Callbacks are always the last thing a handler does: the owner may
 * reuse or free the connection from inside them. This file is the
 * connection side (settings, sockets, TLS, timers, events, public API);
 * the dialogue (EHLO/STARTTLS/AUTH, one message) is smtpc_proto.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/clock.h"
#include "common/buf.h"
#include "common/config.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/util.h"
#include "queue/smtpc_int.h"

/* ---- settings ---- */

int smtpc_conf_init(struct smtpc_conf *sc, const struct config *cfg, char *err, size_t errlen)
{
	static const char *const levels[] = { "none", "may", "encrypt", "verify" };
	const char *lv = config_get(cfg, "smtp_tls_security_level");
	const char *ca = config_get(cfg, "smtp_tls_CAfile");

	memset(sc, 0, sizeof(*sc));
	str_copy(sc->helo, sizeof(sc->helo), config_get(cfg, "smtp_helo_name"));
	sc->t_connect = config_get_time(cfg, "smtp_connect_timeout");
	sc->t_helo = config_get_time(cfg, "smtp_helo_timeout");
	sc->t_starttls = config_get_time(cfg, "smtp_starttls_timeout");
	sc->t_mail = config_get_time(cfg, "smtp_mail_timeout");
	sc->t_rcpt = config_get_time(cfg, "smtp_rcpt_timeout");
	sc->t_data_init = config_get_time(cfg, "smtp_data_init_timeout");
	sc->t_data_xfer = config_get_time(cfg, "smtp_data_xfer_timeout");
	sc->t_data_done = config_get_time(cfg, "smtp_data_done_timeout");
	sc->t_quit = config_get_time(cfg, "smtp_quit_timeout");
	sc->tls_loglevel = (int)config_get_int(cfg, "smtp_tls_loglevel");
	sc->sasl_plain_ok = smtpc_sasl_plain_ok(config_get(cfg, "smtp_sasl_security_options"));
	sc->sasl_tls_plain_ok = smtpc_sasl_plain_ok(config_get(cfg, "smtp_sasl_tls_security_options"));
	smtpc_conf_warn(cfg);
	for (int i = 0; i < 4; i++)
		if (strcmp(lv, levels[i]) == 0)
			sc->tls_level = i;
	if (sc->tls_level == SMTPC_TLS_NONE)
		return 0;
	sc->ssl_ctx = SSL_CTX_new(TLS_client_method());
	if (sc->ssl_ctx == NULL) {
		snprintf(err, errlen, "smtp TLS: cannot create context");
		return -1;
	}
	SSL_CTX_set_min_proto_version(sc->ssl_ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(sc->ssl_ctx, SSL_VERIFY_NONE, NULL);
	if (ca[0] != '\0' ? SSL_CTX_load_verify_locations(sc->ssl_ctx, ca, NULL) != 1 :
	    SSL_CTX_set_default_verify_paths(sc->ssl_ctx) != 1) {
		snprintf(err, errlen, "smtp_tls_CAfile: cannot load \"%s\": %s", ca,
		    ERR_reason_error_string(ERR_get_error()));
		SSL_CTX_free(sc->ssl_ctx);
		sc->ssl_ctx = NULL;
		return -1;
	}
	return 0;
}

void smtpc_conf_warn(const struct config *cfg)
{
	const char *o = config_get(cfg, "smtp_sasl_security_options");
	if (config_get_bool(cfg, "smtp_sasl_auth_enable") && smtpc_sasl_plain_ok(o))
		log_warn("%s, line %d: smtp_sasl_security_options = %s lets AUTH PLAIN/LOGIN "
		    "send relay passwords in clear to servers without STARTTLS (add noplaintext; "
		    "smtp_sasl_tls_security_options covers TLS sessions)", config_path(cfg),
		    config_line(cfg, "smtp_sasl_security_options"), o);
}

void smtpc_conf_free(struct smtpc_conf *sc)
{
	if (sc->ssl_ctx)
		SSL_CTX_free(sc->ssl_ctx);
	sc->ssl_ctx = NULL;
}

/* ---- plumbing ---- */

static void on_io(int fd, int events, void *arg);
static void on_timeout(void *arg);
static void start_connect(void *arg);

void smtpc_set_timer(struct smtpc *c, long secs)
{
	loop_timer_set(&c->timer, (uint64_t)secs * 1000, on_timeout, c);
}

void smtpc_update_watch(struct smtpc *c)
{
	if (c->fd >= 0)
		loop_watch(c->fd, LOOP_READ | (c->out.len > 0 || c->st == ST_CONNECT ? LOOP_WRITE : 0),
		    on_io, c);
}

static void close_fd(struct smtpc *c)
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
	buf_reset(&c->in);
	buf_reset(&c->out);
}

void smtpc_sendf(struct smtpc *c, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 2)
		n = (int)strlen(line);
	line[n++] = '\r';
	line[n++] = '\n';
	if (buf_append(&c->out, line, (size_t)n) < 0)
		log_warn("%s: output buffer full", c->relay);
}

/* Write what is queued; -1 on a write error. */
static int flush_out(struct smtpc *c)
{
	while (c->out.len > 0) {
		ssize_t n;
		if (c->ssl) {
			ERR_clear_error();
			int r = SSL_write(c->ssl, c->out.data, (int)(c->out.len > 65536 ? 65536 : c->out.len));
			if (r <= 0) {
				int e = SSL_get_error(c->ssl, r);
				if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
					return 0;
				return -1;
			}
			n = r;
		} else {
			n = send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL);
			if (n < 0)
				return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
		}
		buf_consume(&c->out, (size_t)n);
	}
	return 0;
}

/* Read what is there: 1 ok, 0 EOF, -1 error. */
static int read_in(struct smtpc *c)
{
	char tmp[16384];
	for (;;) {
		ssize_t n;
		if (c->ssl) {
			ERR_clear_error();
			int r = SSL_read(c->ssl, tmp, sizeof(tmp));
			if (r <= 0) {
				int e = SSL_get_error(c->ssl, r);
				if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
					return 1;
				return e == SSL_ERROR_ZERO_RETURN ? 0 : -1;
			}
			n = r;
		} else {
			n = recv(c->fd, tmp, sizeof(tmp), 0);
			if (n < 0)
				return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 1 : -1;
			if (n == 0)
				return 0;
		}
		if (buf_append(&c->in, tmp, (size_t)n) < 0)
			return -1;
	}
}

/* Take one complete reply off the input: 1 (code, text with lines joined
 * by '\n'), 0 when incomplete, -1 when malformed. */
static int get_reply(struct smtpc *c, int *code, char *text, size_t len)
{
	size_t pos = 0, tl = 0;
	text[0] = '\0';
	for (;;) {
		char *nl = memchr(c->in.data + pos, '\n', c->in.len - pos);
		if (nl == NULL)
			return 0;
		size_t ll = (size_t)(nl - (c->in.data + pos));
		const char *line = c->in.data + pos;
		if (ll > 0 && line[ll - 1] == '\r')
			ll--;
		if (ll < 3 || line[0] < '1' || line[0] > '5' || line[1] < '0' || line[1] > '9' ||
		    line[2] < '0' || line[2] > '9')
			return -1;
		if (tl + ll + 2 < len) {
			if (tl > 0)
				text[tl++] = '\n';
			memcpy(text + tl, line, ll);
			tl += ll;
			text[tl] = '\0';
		}
		pos = (size_t)(nl - c->in.data) + 1;
		if (ll == 3 || line[3] != '-') {
			*code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
			buf_consume(&c->in, pos);
			return 1;
		}
	}
}

void smtpc_flat(char *text)
{
	for (char *p = text; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
}

/* ---- results ---- */

static void run_cb(void *arg)
{
	struct smtpc *c = arg;
	struct smtpc_msg *m = c->done_msg;
	c->done_msg = NULL;
	c->cb_pending = 0;
	c->fn(c, m, c->arg);	/* may reuse or free c */
}

/* Hand m back (NULL: the idle connection went away) from a fresh loop
 * turn, so the owner may free c. */
static void callback(struct smtpc *c, struct smtpc_msg *m)
{
	if (c->cb_pending)
		return;		/* a finished message is on its way; it sees ST_DEAD */
	c->cb_pending = 1;
	c->done_msg = m;
	loop_timer_set(&c->cb_timer, 0, run_cb, c);
}

/* The message is finished: hand it back. */
void smtpc_msg_done(struct smtpc *c)
{
	struct smtpc_msg *m = c->msg;
	c->msg = NULL;
	c->need_rset = 1;
	free(c->cmds);
	c->cmds = NULL;
	c->ncmd = c->csent = c->creply = 0;
	if (c->st != ST_DEAD) {
		c->st = ST_IDLE;
		loop_timer_clear(&c->timer);
		smtpc_update_watch(c);
	}
	callback(c, m);
}

/* The connection failed (why = Postfix's text). Before any message was
 * started on it, the next address is tried; otherwise every unfinished
 * recipient is deferred. Last action of a handler. */
void smtpc_conn_fail(struct smtpc *c, const char *dsn, int perm, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
	close_fd(c);
	loop_timer_clear(&c->timer);
	int early = c->st < ST_XACT && !c->need_rset;
	if (early && c->ai + 1 < c->naddr && c->msg != NULL) {
		c->ai++;
		c->st = ST_CONNECT;
		loop_timer_set(&c->timer, 0, start_connect, c);
		return;
	}
	enum cstate was = c->st;
	c->st = ST_DEAD;
	if (c->msg == NULL || was == ST_IDLE) {
		callback(c, NULL);
		return;
	}
	for (size_t i = 0; i < c->msg->nrcpt; i++) {
		struct smtpc_rcpt *r = &c->msg->rcpt[i];
		if (r->why[0] == '\0' || r->accepted)
			smtpc_rcpt_set(r, perm ? SMTPC_BOUNCE : SMTPC_DEFER, dsn, "%s", c->why);
	}
	smtpc_msg_done(c);
}

static void on_timeout(void *arg)
{
	struct smtpc *c = arg;
	if (c->st == ST_CONNECT)
		smtpc_conn_fail(c, "4.4.1", 0, "connect to %s: Connection timed out", c->relay);
	else
		smtpc_conn_fail(c, "4.4.2", 0, "conversation with %s timed out while %s", c->host, smtpc_stage(c));
}

static void lost(struct smtpc *c)
{
	smtpc_conn_fail(c, "4.4.2", 0, "lost connection with %s while %s", c->host, smtpc_stage(c));
}

/* ---- connect ---- */

static void start_connect(void *arg)
{
	struct smtpc *c = arg;
	const struct nh_addr *a = &c->addrs[c->ai];
	struct sockaddr_storage ss;
	socklen_t sl;

	memset(&ss, 0, sizeof(ss));
	c->esmtp = c->pipelining = c->size_ok = c->eightbit = c->starttls = 0;
	c->auth_plain = c->auth_login = c->tls_done = c->helo_fallback = c->auth_offered = 0;
	if (a->ip[0] == '\0') {
		struct sockaddr_un *su = (struct sockaddr_un *)&ss;
		su->sun_family = AF_UNIX;
		snprintf(c->relay, sizeof(c->relay), "%s[%s]", c->sc->helo, a->name);
		snprintf(c->host, sizeof(c->host), "%s", c->relay);
		if (str_copy(su->sun_path, sizeof(su->sun_path), a->name) < 0) {
			smtpc_conn_fail(c, "4.4.1", 0, "connect to %s: path too long", c->relay);
			return;
		}
		sl = sizeof(*su);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		snprintf(c->relay, sizeof(c->relay), "%s[%s]:%d", a->name, a->ip, a->port);
		snprintf(c->host, sizeof(c->host), "%s[%s]", a->name, a->ip);
		if (inet_pton(AF_INET, a->ip, &s4->sin_addr) == 1) {
			s4->sin_family = AF_INET;
			s4->sin_port = htons((uint16_t)a->port);
			sl = sizeof(*s4);
		} else if (inet_pton(AF_INET6, a->ip, &s6->sin6_addr) == 1) {
			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons((uint16_t)a->port);
			sl = sizeof(*s6);
		} else {
			smtpc_conn_fail(c, "4.4.1", 0, "connect to %s: bad address", c->relay);
			return;
		}
	}
	c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		smtpc_conn_fail(c, "4.4.1", 0, "connect to %s: %s", c->relay, strerror(errno));
		return;
	}
	c->st = ST_CONNECT;
	if (connect(c->fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
		smtpc_conn_fail(c, "4.4.1", 0, "connect to %s: %s", c->relay, strerror(errno));
		return;
	}
	smtpc_set_timer(c, c->sc->t_connect);
	smtpc_update_watch(c);
}

/* ---- TLS ---- */

static void tls_log(struct smtpc *c)
{
	X509 *peer = SSL_get1_peer_certificate(c->ssl);
	const char *trust = "Anonymous";
	int bits, alg = 0;

	if (peer != NULL) {
		if (SSL_get_verify_result(c->ssl) == X509_V_OK)
			trust = c->sc->tls_level == SMTPC_TLS_VERIFY ? "Verified" : "Trusted";
		else
			trust = "Untrusted";
		X509_free(peer);
	}
	bits = SSL_get_cipher_bits(c->ssl, &alg);
	if (c->sc->tls_loglevel >= 1) {
		log_set_service(c->lmtp ? "lmtp" : "smtp");
		log_info("%s TLS connection established to %s: %s with cipher %s (%d/%d bits)",
		    trust, c->relay, SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl), bits, alg);
		log_set_service("qmgr");
	}
}

static void tls_step(struct smtpc *c)
{
	ERR_clear_error();
	int r = SSL_connect(c->ssl);
	if (r == 1) {
		if (c->sc->tls_level == SMTPC_TLS_VERIFY &&
		    SSL_get_verify_result(c->ssl) != X509_V_OK) {
			smtpc_conn_fail(c, "4.7.5", 0, "Server certificate not verified: %s",
			    X509_verify_cert_error_string(SSL_get_verify_result(c->ssl)));
			return;
		}
		tls_log(c);
		c->tls_done = 1;
		c->esmtp = c->pipelining = c->size_ok = c->eightbit = c->starttls = 0;
		c->auth_plain = c->auth_login = c->auth_offered = 0;
		smtpc_send_ehlo(c);
		if (flush_out(c) < 0) {
			lost(c);
			return;
		}
		smtpc_update_watch(c);
		return;
	}
	int e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		loop_watch(c->fd, e == SSL_ERROR_WANT_READ ? LOOP_READ : LOOP_WRITE, on_io, c);
		return;
	}
	unsigned long le = ERR_peek_error();
	smtpc_conn_fail(c, "4.7.5", 0, "Cannot start TLS: handshake failure%s%s", le ? ": " : "",
	    le ? ERR_reason_error_string(le) : "");
}

void smtpc_tls_begin(struct smtpc *c)
{
	const struct nh_addr *a = &c->addrs[c->ai];
	unsigned char tmp[16];

	buf_reset(&c->in);	/* nothing from before the handshake is read */
	c->ssl = SSL_new(c->sc->ssl_ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
		smtpc_conn_fail(c, "4.7.5", 0, "Cannot start TLS: out of memory");
		return;
	}
	if (inet_pton(AF_INET, a->name, tmp) != 1 && inet_pton(AF_INET6, a->name, tmp) != 1) {
		SSL_set_tlsext_host_name(c->ssl, a->name);
		SSL_set1_host(c->ssl, a->name);
	} else {	/* [address]: only a certificate for that address matches */
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), a->name);
	}
	c->st = ST_TLS;
	smtpc_set_timer(c, c->sc->t_starttls);
	tls_step(c);
}

/* ---- events ---- */

static void on_io(int fd, int events, void *arg)
{
	struct smtpc *c = arg;
	char text[4096];
	int code;

	if (c->st == ST_CONNECT) {
		int err = 0;
		socklen_t el = sizeof(err);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
			err = errno;
		if (err != 0) {
			smtpc_conn_fail(c, "4.4.1", 0, "connect to %s: %s", c->relay, strerror(err));
			return;
		}
		c->st = ST_BANNER;
		smtpc_set_timer(c, c->sc->t_helo);
		smtpc_update_watch(c);
		return;
	}
	if (c->st == ST_TLS) {
		tls_step(c);
		return;
	}
	if (flush_out(c) < 0) {
		lost(c);
		return;
	}
	if (c->st == ST_BODY) {
		smtpc_set_timer(c, c->sc->t_data_xfer);	/* progress */
		smtpc_body_fill(c);
		if (c->st == ST_DEAD)
			return;
		if (flush_out(c) < 0) {
			lost(c);
			return;
		}
	}
	int r = read_in(c);
	for (;;) {
		int g = get_reply(c, &code, text, sizeof(text));
		if (g == 0)
			break;
		if (g < 0) {
			smtpc_conn_fail(c, "4.4.2", 0, "malformed reply from %s while %s", c->host, smtpc_stage(c));
			return;
		}
		if (c->st == ST_IDLE) {		/* e.g. 421 on an idle connection */
			close_fd(c);
			c->st = ST_DEAD;
			callback(c, NULL);
			return;
		}
		if (c->st < ST_XACT) {
			smtpc_setup_reply(c, code, text);
			if (c->fd < 0 || c->st == ST_TLS)
				return;	/* failed, next address, or TLS handshake */
			continue;
		}
		if (!smtpc_xact_reply(c, code, text))
			return;
	}
	if (r <= 0) {
		if (c->st == ST_IDLE) {
			close_fd(c);
			c->st = ST_DEAD;
			callback(c, NULL);
			return;
		}
		lost(c);
		return;
	}
	if (flush_out(c) < 0) {
		lost(c);
		return;
	}
	smtpc_update_watch(c);
}

/* ---- public ---- */

struct smtpc *smtpc_open(const struct smtpc_conf *sc, const struct nh_addr *addrs, size_t n,
    int lmtp, const char *user, const char *pass, struct smtpc_msg *msg,
    smtpc_fn *fn, void *arg)
{
	struct smtpc *c = xcalloc(1, sizeof(*c));

	c->sc = sc;
	c->addrs = xcalloc(n ? n : 1, sizeof(*addrs));
	memcpy(c->addrs, addrs, n * sizeof(*addrs));
	c->naddr = n;
	c->lmtp = lmtp;
	c->user = user ? xstrdup(user) : NULL;
	c->pass = pass ? xstrdup(pass) : NULL;
	c->fd = -1;
	c->timer.slot = (size_t)-1;
	c->cb_timer.slot = (size_t)-1;
	buf_init(&c->in, IN_MAX);
	buf_init(&c->out, OUT_MAX);
	c->fn = fn;
	c->arg = arg;
	c->msg = msg;
	if (msg->t_conn == 0)
		msg->t_conn = clock_wall_f();
	snprintf(c->relay, sizeof(c->relay), "none");
	snprintf(c->host, sizeof(c->host), "none");
	for (size_t i = 0; i < msg->nrcpt; i++) {
		msg->rcpt[i].why[0] = '\0';
		msg->rcpt[i].accepted = 0;
	}
	c->st = ST_CONNECT;
	loop_timer_set(&c->timer, 0, start_connect, c);
	return c;
}

void smtpc_send(struct smtpc *c, struct smtpc_msg *msg)
{
	c->msg = msg;
	msg->t_conn = clock_wall_f();
	for (size_t i = 0; i < msg->nrcpt; i++) {
		msg->rcpt[i].why[0] = '\0';
		msg->rcpt[i].accepted = 0;
	}
	smtpc_xact_begin(c);
	if (flush_out(c) < 0) {
		lost(c);
		return;
	}
	smtpc_update_watch(c);
}

int smtpc_usable(const struct smtpc *c)
{
	return c->st == ST_IDLE && c->fd >= 0;
}

void smtpc_quit(struct smtpc *c)
{
	if (c->st == ST_IDLE && c->fd >= 0) {
		smtpc_sendf(c, "QUIT");
		flush_out(c);		/* best effort: the reply is not awaited */
		if (c->ssl)
			SSL_shutdown(c->ssl);
	}
	close_fd(c);
	loop_timer_clear(&c->timer);
	loop_timer_clear(&c->cb_timer);
	buf_free(&c->in);
	buf_free(&c->out);
	free(c->cmds);
	free(c->addrs);
	free(c->user);
	if (c->pass) {
		explicit_bzero(c->pass, strlen(c->pass));
		free(c->pass);
	}
	free(c);
}

const char *smtpc_relay(const struct smtpc *c)
{
	return c->relay;
}

const char *smtpc_peer_name(const struct smtpc *c)
{
	return c->naddr > 0 ? c->addrs[c->ai].name : "none";
}

int smtpc_get_reply(struct smtpc *c, int *code, char *text, size_t len)
{
	return get_reply(c, code, text, len);
}
