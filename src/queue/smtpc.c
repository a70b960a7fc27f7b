/*
 * smtpc — SMTP/LMTP client connections of the queue process (see
 * smtpc.h). A connection is a small state machine fed by loop events;
 * replies are matched to the commands sent, in order, so PIPELINING is
 * only a matter of how many commands go out before the first reply.
 * Callbacks are always the last thing a handler does: the owner may
 * reuse or free the connection from inside them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
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
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/util.h"
#include "queue/smtpc.h"

#define IN_MAX		(1024 * 1024)		/* unanswered reply bytes */
#define OUT_MAX		(8 * 1024 * 1024)	/* queued command/body bytes */
#define BODY_CHUNK	32768
#define BODY_LOW	(256 * 1024)		/* refill the body below this */

enum cstate {
	ST_CONNECT, ST_BANNER, ST_EHLO, ST_HELO, ST_STARTTLS, ST_TLS, ST_AUTH,
	ST_AUTH_USER, ST_AUTH_PASS, ST_XACT, ST_BODY, ST_DOT, ST_IDLE, ST_DEAD,
};

enum cmd { CMD_RSET, CMD_MAIL, CMD_RCPT, CMD_DATA };

struct pcmd {
	enum cmd c;
	size_t i;
};

struct smtpc {
	const struct smtpc_conf *sc;
	struct nh_addr *addrs;
	size_t naddr, ai;
	int lmtp;
	char *user, *pass;
	int fd;
	SSL *ssl;
	struct buf in, out;
	enum cstate st;
	struct loop_timer timer;
	int esmtp, pipelining, size_ok, eightbit, starttls, auth_plain, auth_login, tls_done;
	int helo_fallback;
	char relay[640], host[640];	/* "name[ip]:port", "name[ip]" */
	char why[600];			/* last connection-level failure */
	const char *why_dsn;
	int why_perm;			/* the last failure was a 5xx greeting */
	struct smtpc_msg *msg;
	struct pcmd *cmds;
	size_t ncmd, csent, creply;
	int mail_failed, discard_dot, need_rset;
	size_t naccepted, dots;
	size_t body_pos;
	int bol;
	smtpc_fn *fn;
	void *arg;
	struct loop_timer cb_timer;	/* callbacks run from here, never nested */
	struct smtpc_msg *done_msg;
	int cb_pending;
};

static double now_wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- pure helpers ---- */

void smtpc_reply_dsn(const char *reply, char *dsn, size_t len)
{
	int a, b, c, n = 0;
	const char *t = strlen(reply) > 4 ? reply + 4 : "";

	if (sscanf(t, "%1d.%3d.%3d%n", &a, &b, &c, &n) == 3 && n > 0 &&
	    (t[n] == ' ' || t[n] == '\0') && a == reply[0] - '0') {
		snprintf(dsn, len, "%d.%d.%d", a, b, c);
		return;
	}
	snprintf(dsn, len, "%c.0.0", reply[0] >= '2' && reply[0] <= '5' ? reply[0] : '4');
}

size_t smtpc_stuff(const char *in, size_t n, char *out, int *bol)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char ch = in[i];
		if (*bol && ch == '.')
			out[o++] = '.';
		if (ch == '\n') {
			out[o++] = '\r';
			*bol = 1;
		} else {
			*bol = 0;
		}
		out[o++] = ch;
	}
	return o;
}

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

static void set_timer(struct smtpc *c, long secs)
{
	loop_timer_set(&c->timer, (uint64_t)secs * 1000, on_timeout, c);
}

static void update_watch(struct smtpc *c)
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

static void sendf(struct smtpc *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sendf(struct smtpc *c, const char *fmt, ...)
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

static void flat(char *text)
{
	for (char *p = text; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
}

/* ---- results ---- */

static void rcpt_set(struct smtpc_rcpt *r, enum smtpc_status st, const char *dsn,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void rcpt_set(struct smtpc_rcpt *r, enum smtpc_status st, const char *dsn,
    const char *fmt, ...)
{
	va_list ap;
	r->st = st;
	str_copy(r->dsn, sizeof(r->dsn), dsn);
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
}

/* A reply to a command for recipient r. */
static void rcpt_reply(struct smtpc *c, struct smtpc_rcpt *r, int code, const char *text,
    const char *cmd)
{
	char dsn[16];
	smtpc_reply_dsn(text, dsn, sizeof(dsn));
	if (code / 100 == 2)
		rcpt_set(r, SMTPC_SENT, dsn, "%s", text);
	else
		rcpt_set(r, code / 100 == 5 ? SMTPC_BOUNCE : SMTPC_DEFER, dsn,
		    "host %s said: %s (in reply to %s)", c->host, text, cmd);
}

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
static void msg_done(struct smtpc *c)
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
		update_watch(c);
	}
	callback(c, m);
}

/* The connection failed (why = Postfix's text). Before any message was
 * started on it, the next address is tried; otherwise every unfinished
 * recipient is deferred. Last action of a handler. */
static void conn_fail(struct smtpc *c, const char *dsn, int perm, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void conn_fail(struct smtpc *c, const char *dsn, int perm, const char *fmt, ...)
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
			rcpt_set(r, perm ? SMTPC_BOUNCE : SMTPC_DEFER, dsn, "%s", c->why);
	}
	msg_done(c);
}

static const char *stage(const struct smtpc *c)
{
	switch (c->st) {
	case ST_CONNECT:
	case ST_BANNER: return "receiving the initial server greeting";
	case ST_EHLO:
	case ST_HELO: return "performing the EHLO handshake";
	case ST_STARTTLS:
	case ST_TLS: return "performing the STARTTLS handshake";
	case ST_AUTH:
	case ST_AUTH_USER:
	case ST_AUTH_PASS: return "authenticating";
	case ST_XACT:
		if (c->creply < c->ncmd)
			switch (c->cmds[c->creply].c) {
			case CMD_RSET: return "sending RSET";
			case CMD_MAIL: return "sending MAIL FROM";
			case CMD_RCPT: return "sending RCPT TO";
			case CMD_DATA: return "sending DATA command";
			}
		return "sending MAIL FROM";
	case ST_BODY: return "sending message body";
	case ST_DOT: return "sending end of data -- message may be sent more than once";
	default: return "waiting for a command";
	}
}

static void on_timeout(void *arg)
{
	struct smtpc *c = arg;
	if (c->st == ST_CONNECT)
		conn_fail(c, "4.4.1", 0, "connect to %s: Connection timed out", c->relay);
	else
		conn_fail(c, "4.4.2", 0, "conversation with %s timed out while %s", c->host, stage(c));
}

static void lost(struct smtpc *c)
{
	conn_fail(c, "4.4.2", 0, "lost connection with %s while %s", c->host, stage(c));
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
	c->auth_plain = c->auth_login = c->tls_done = c->helo_fallback = 0;
	if (a->ip[0] == '\0') {
		struct sockaddr_un *su = (struct sockaddr_un *)&ss;
		su->sun_family = AF_UNIX;
		snprintf(c->relay, sizeof(c->relay), "%s[%s]", c->sc->helo, a->name);
		snprintf(c->host, sizeof(c->host), "%s", c->relay);
		if (str_copy(su->sun_path, sizeof(su->sun_path), a->name) < 0) {
			conn_fail(c, "4.4.1", 0, "connect to %s: path too long", c->relay);
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
			conn_fail(c, "4.4.1", 0, "connect to %s: bad address", c->relay);
			return;
		}
	}
	c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		conn_fail(c, "4.4.1", 0, "connect to %s: %s", c->relay, strerror(errno));
		return;
	}
	c->st = ST_CONNECT;
	if (connect(c->fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
		conn_fail(c, "4.4.1", 0, "connect to %s: %s", c->relay, strerror(errno));
		return;
	}
	set_timer(c, c->sc->t_connect);
	update_watch(c);
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

static int send_ehlo(struct smtpc *c);

static void tls_step(struct smtpc *c)
{
	ERR_clear_error();
	int r = SSL_connect(c->ssl);
	if (r == 1) {
		if (c->sc->tls_level == SMTPC_TLS_VERIFY &&
		    SSL_get_verify_result(c->ssl) != X509_V_OK) {
			conn_fail(c, "4.7.5", 0, "Server certificate not verified: %s",
			    X509_verify_cert_error_string(SSL_get_verify_result(c->ssl)));
			return;
		}
		tls_log(c);
		c->tls_done = 1;
		c->esmtp = c->pipelining = c->size_ok = c->eightbit = c->starttls = 0;
		c->auth_plain = c->auth_login = 0;
		send_ehlo(c);
		if (flush_out(c) < 0) {
			lost(c);
			return;
		}
		update_watch(c);
		return;
	}
	int e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		loop_watch(c->fd, e == SSL_ERROR_WANT_READ ? LOOP_READ : LOOP_WRITE, on_io, c);
		return;
	}
	unsigned long le = ERR_peek_error();
	conn_fail(c, "4.7.5", 0, "Cannot start TLS: handshake failure%s%s", le ? ": " : "",
	    le ? ERR_reason_error_string(le) : "");
}

static void tls_begin(struct smtpc *c)
{
	const struct nh_addr *a = &c->addrs[c->ai];
	unsigned char tmp[16];

	c->ssl = SSL_new(c->sc->ssl_ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
		conn_fail(c, "4.7.5", 0, "Cannot start TLS: out of memory");
		return;
	}
	if (inet_pton(AF_INET, a->name, tmp) != 1 && inet_pton(AF_INET6, a->name, tmp) != 1) {
		SSL_set_tlsext_host_name(c->ssl, a->name);
		SSL_set1_host(c->ssl, a->name);
	}
	c->st = ST_TLS;
	set_timer(c, c->sc->t_starttls);
	tls_step(c);
}

/* ---- greeting, EHLO, STARTTLS, AUTH ---- */

static int send_ehlo(struct smtpc *c)
{
	c->st = ST_EHLO;
	sendf(c, "%s %s", c->lmtp ? "LHLO" : "EHLO", c->sc->helo);
	set_timer(c, c->sc->t_helo);
	return 0;
}

static void b64(const char *in, size_t n, char *out, size_t outlen)
{
	if (outlen < 4 * ((n + 2) / 3) + 1) {
		out[0] = '\0';
		return;
	}
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)in, (int)n);
}

static void xact_begin(struct smtpc *c);

/* After the (last) EHLO: STARTTLS, AUTH or the first message. */
static void after_ehlo(struct smtpc *c)
{
	int want_tls = c->sc->tls_level != SMTPC_TLS_NONE && c->sc->ssl_ctx != NULL && !c->lmtp;

	if (want_tls && !c->tls_done) {
		if (c->starttls) {
			c->st = ST_STARTTLS;
			sendf(c, "STARTTLS");
			set_timer(c, c->sc->t_starttls);
			return;
		}
		if (c->sc->tls_level >= SMTPC_TLS_ENCRYPT) {
			conn_fail(c, "4.7.4", 0, "TLS is required, but was not offered by host %s",
			    c->host);
			return;
		}
	}
	if (c->user != NULL && (c->auth_plain || c->auth_login)) {
		char raw[1024], enc[1400];
		if (c->auth_plain) {
			int n = snprintf(raw, sizeof(raw), "%c%s%c%s", 0, c->user, 0, c->pass);
			if (n < 0 || (size_t)n >= sizeof(raw))
				n = 0;
			b64(raw, (size_t)n, enc, sizeof(enc));
			sendf(c, "AUTH PLAIN %s", enc);
			c->st = ST_AUTH;
		} else {
			sendf(c, "AUTH LOGIN");
			c->st = ST_AUTH_USER;
		}
		set_timer(c, c->sc->t_mail);
		return;
	}
	xact_begin(c);
}

static void ehlo_features(struct smtpc *c, const char *text)
{
	const char *p = text;
	c->esmtp = 1;
	while (p && *p) {
		const char *kw = p + 4;
		const char *e = strchr(p, '\n');
		size_t l = e ? (size_t)(e - kw) : strlen(kw);
		if (strlen(p) > 4) {
			if (l >= 10 && strncasecmp(kw, "PIPELINING", 10) == 0)
				c->pipelining = 1;
			else if (l >= 4 && strncasecmp(kw, "SIZE", 4) == 0)
				c->size_ok = 1;
			else if (l >= 8 && strncasecmp(kw, "8BITMIME", 8) == 0)
				c->eightbit = 1;
			else if (l >= 8 && strncasecmp(kw, "STARTTLS", 8) == 0)
				c->starttls = 1;
			else if (l >= 5 && strncasecmp(kw, "AUTH", 4) == 0 &&
			    (kw[4] == ' ' || kw[4] == '=')) {
				char mechs[512];
				snprintf(mechs, sizeof(mechs), " %.*s ", (int)(l - 5), kw + 5);
				str_lower(mechs);
				c->auth_plain |= strstr(mechs, " plain ") != NULL;
				c->auth_login |= strstr(mechs, " login ") != NULL;
			}
		}
		p = e ? e + 1 : NULL;
	}
}

/* A reply before the first message. Returns after at most one state change. */
static void setup_reply(struct smtpc *c, int code, char *text)
{
	char enc[1400];

	switch (c->st) {
	case ST_BANNER:
		if (code / 100 != 2) {
			flat(text);
			conn_fail(c, code / 100 == 5 ? "5.0.0" : "4.0.0", code / 100 == 5,
			    "host %s refused to talk to me: %s", c->host, text);
			return;
		}
		send_ehlo(c);
		return;
	case ST_EHLO:
		if (code / 100 == 2) {
			ehlo_features(c, text);
			after_ehlo(c);
			return;
		}
		if (code / 100 == 5 && !c->lmtp && !c->helo_fallback) {
			c->helo_fallback = 1;
			c->st = ST_HELO;
			sendf(c, "HELO %s", c->sc->helo);
			return;
		}
		flat(text);
		conn_fail(c, code / 100 == 5 ? "5.0.0" : "4.0.0", code / 100 == 5,
		    "host %s said: %s (in reply to %s command)", c->host, text,
		    c->lmtp ? "LHLO" : "EHLO");
		return;
	case ST_HELO:
		if (code / 100 != 2) {
			flat(text);
			conn_fail(c, code / 100 == 5 ? "5.0.0" : "4.0.0", code / 100 == 5,
			    "host %s said: %s (in reply to HELO command)", c->host, text);
			return;
		}
		after_ehlo(c);
		return;
	case ST_STARTTLS:
		if (code == 220) {
			tls_begin(c);
			return;
		}
		if (c->sc->tls_level >= SMTPC_TLS_ENCRYPT) {
			flat(text);
			conn_fail(c, "4.7.5", 0, "TLS is required, but host %s refused to start TLS: %s",
			    c->host, text);
			return;
		}
		c->tls_done = 1;	/* may: go on in plain text */
		after_ehlo(c);
		return;
	case ST_AUTH_USER:
	case ST_AUTH_PASS:
		if (code == 334) {
			const char *v = c->st == ST_AUTH_USER ? c->user : c->pass;
			b64(v, strlen(v), enc, sizeof(enc));
			sendf(c, "%s", enc);
			c->st = c->st == ST_AUTH_USER ? ST_AUTH_PASS : ST_AUTH;
			return;
		}
		/* FALLTHROUGH */
	case ST_AUTH:
		if (code == 235) {
			xact_begin(c);
			return;
		}
		flat(text);
		conn_fail(c, "4.7.0", 0, "SASL authentication failed; server %s said: %s",
		    c->host, text);
		return;
	default:
		return;
	}
}

/* ---- one message ---- */

static void push_cmd(struct smtpc *c, enum cmd cmd, size_t i)
{
	c->cmds[c->ncmd].c = cmd;
	c->cmds[c->ncmd].i = i;
	c->ncmd++;
}

/* Send the next command(s): all of them when pipelining. */
static void send_cmds(struct smtpc *c)
{
	struct smtpc_msg *m = c->msg;
	while (c->csent < c->ncmd && (c->pipelining || c->csent == c->creply)) {
		const struct pcmd *p = &c->cmds[c->csent++];
		switch (p->c) {
		case CMD_RSET:
			sendf(c, "RSET");
			break;
		case CMD_MAIL: {
			char size[48] = "";
			if (c->size_ok)
				snprintf(size, sizeof(size), " SIZE=%zu", m->body_len);
			sendf(c, "MAIL FROM:<%s>%s%s", m->sender, size,
			    c->eightbit ? " BODY=8BITMIME" : "");
			break;
		}
		case CMD_RCPT:
			sendf(c, "RCPT TO:<%s>", m->rcpt[p->i].addr);
			break;
		case CMD_DATA:
			sendf(c, "DATA");
			break;
		}
	}
	if (c->creply < c->ncmd) {
		enum cmd w = c->cmds[c->creply].c;
		set_timer(c, w == CMD_RCPT ? c->sc->t_rcpt : w == CMD_DATA ? c->sc->t_data_init :
		    c->sc->t_mail);
	}
}

static void xact_begin(struct smtpc *c)
{
	struct smtpc_msg *m = c->msg;

	c->st = ST_XACT;
	c->cmds = xcalloc(m->nrcpt + 3, sizeof(*c->cmds));
	c->ncmd = c->csent = c->creply = 0;
	c->mail_failed = c->discard_dot = 0;
	c->naccepted = c->dots = 0;
	if (c->need_rset)
		push_cmd(c, CMD_RSET, 0);
	push_cmd(c, CMD_MAIL, 0);
	for (size_t i = 0; i < m->nrcpt; i++)
		push_cmd(c, CMD_RCPT, i);
	push_cmd(c, CMD_DATA, 0);
	m->t_xfer = now_wall();
	m->remote = 1;
	send_cmds(c);
}

static void body_fill(struct smtpc *c)
{
	struct smtpc_msg *m = c->msg;
	char in[BODY_CHUNK], out[2 * BODY_CHUNK + 8];

	while (c->st == ST_BODY && c->out.len < BODY_LOW) {
		if (c->body_pos >= m->body_len) {
			if (!c->bol)
				buf_append(&c->out, "\r\n", 2);
			buf_append(&c->out, ".\r\n", 3);
			c->st = ST_DOT;
			set_timer(c, c->sc->t_data_done);
			return;
		}
		size_t want = m->body_len - c->body_pos;
		if (want > BODY_CHUNK)
			want = BODY_CHUNK;
		ssize_t n = pread(m->body_fd, in, want, m->body_off + (off_t)c->body_pos);
		if (n <= 0) {
			conn_fail(c, "4.3.0", 0, "error reading queue file: %s",
			    n < 0 ? strerror(errno) : "unexpected end of file");
			return;
		}
		c->body_pos += (size_t)n;
		size_t o = smtpc_stuff(in, (size_t)n, out, &c->bol);
		if (buf_append(&c->out, out, o) < 0) {
			conn_fail(c, "4.3.0", 0, "output buffer full");
			return;
		}
	}
}

/* Every remaining accepted recipient gets this reply. */
static void accepted_reply(struct smtpc *c, int code, const char *text, const char *cmd)
{
	struct smtpc_msg *m = c->msg;
	for (size_t i = 0; i < m->nrcpt; i++)
		if (m->rcpt[i].accepted) {
			m->rcpt[i].accepted = 0;
			rcpt_reply(c, &m->rcpt[i], code, text, cmd);
		}
}

/* A reply while a message is in progress. 1: go on, 0: the handler must
 * return at once (the message was handed back). */
static int xact_reply(struct smtpc *c, int code, char *text)
{
	struct smtpc_msg *m = c->msg;

	flat(text);
	if (c->st == ST_DOT) {
		if (c->discard_dot) {
			msg_done(c);
			return 0;
		}
		if (!c->lmtp) {
			accepted_reply(c, code, text, "end of DATA command");
			msg_done(c);
			return 0;
		}
		for (size_t i = 0; i < m->nrcpt; i++)	/* LMTP: the next accepted one */
			if (m->rcpt[i].accepted) {
				m->rcpt[i].accepted = 0;
				rcpt_reply(c, &m->rcpt[i], code, text, "end of DATA command");
				break;
			}
		if (++c->dots >= c->naccepted) {
			msg_done(c);
			return 0;
		}
		return 1;
	}
	if (c->st != ST_XACT || c->creply >= c->ncmd) {
		conn_fail(c, "4.4.2", 0, "unexpected reply from %s: %s", c->host, text);
		return 0;
	}
	const struct pcmd *p = &c->cmds[c->creply++];
	switch (p->c) {
	case CMD_RSET:
		break;
	case CMD_MAIL:
		if (code / 100 != 2) {
			c->mail_failed = 1;
			for (size_t i = 0; i < m->nrcpt; i++)
				rcpt_reply(c, &m->rcpt[i], code, text, "MAIL FROM command");
		}
		break;
	case CMD_RCPT:
		if (c->mail_failed)
			break;
		if (code / 100 == 2) {
			m->rcpt[p->i].accepted = 1;
			c->naccepted++;
		} else {
			rcpt_reply(c, &m->rcpt[p->i], code, text, "RCPT TO command");
		}
		break;
	case CMD_DATA:
		if (code == 354 && (c->mail_failed || c->naccepted == 0)) {
			buf_append(&c->out, ".\r\n", 3);	/* nothing to send: end it */
			c->st = ST_DOT;
			c->discard_dot = 1;
			set_timer(c, c->sc->t_data_done);
			return 1;
		}
		if (code == 354) {
			c->st = ST_BODY;
			c->body_pos = 0;
			c->bol = 1;
			set_timer(c, c->sc->t_data_xfer);
			body_fill(c);
			return c->st != ST_DEAD;
		}
		if (!c->mail_failed)
			accepted_reply(c, code, text, "DATA command");
		msg_done(c);
		return 0;
	}
	/* Without pipelining, stop early when nothing can be delivered. */
	if (!c->pipelining && c->csent == c->creply) {
		int last_rcpt = c->creply < c->ncmd && c->cmds[c->creply].c == CMD_DATA;
		if (c->mail_failed || (last_rcpt && c->naccepted == 0)) {
			msg_done(c);
			return 0;
		}
	}
	send_cmds(c);
	return 1;
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
			conn_fail(c, "4.4.1", 0, "connect to %s: %s", c->relay, strerror(err));
			return;
		}
		c->st = ST_BANNER;
		set_timer(c, c->sc->t_helo);
		update_watch(c);
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
		set_timer(c, c->sc->t_data_xfer);	/* progress */
		body_fill(c);
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
			conn_fail(c, "4.4.2", 0, "malformed reply from %s while %s", c->host, stage(c));
			return;
		}
		if (c->st == ST_IDLE) {		/* e.g. 421 on an idle connection */
			close_fd(c);
			c->st = ST_DEAD;
			callback(c, NULL);
			return;
		}
		if (c->st < ST_XACT) {
			setup_reply(c, code, text);
			if (c->fd < 0 || c->st == ST_TLS)
				return;	/* failed, next address, or TLS handshake */
			continue;
		}
		if (!xact_reply(c, code, text))
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
	update_watch(c);
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
		msg->t_conn = now_wall();
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
	msg->t_conn = now_wall();
	for (size_t i = 0; i < msg->nrcpt; i++) {
		msg->rcpt[i].why[0] = '\0';
		msg->rcpt[i].accepted = 0;
	}
	xact_begin(c);
	if (flush_out(c) < 0) {
		lost(c);
		return;
	}
	update_watch(c);
}

int smtpc_usable(const struct smtpc *c)
{
	return c->st == ST_IDLE && c->fd >= 0;
}

void smtpc_quit(struct smtpc *c)
{
	if (c->st == ST_IDLE && c->fd >= 0) {
		sendf(c, "QUIT");
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
