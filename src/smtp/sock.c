/*
 * sock — the socket and TLS side of an SMTP session: the struct session_io
 * of real connections (recv/send or SSL_read/SSL_write, epoll watches,
 * close), the non-blocking TLS handshake after STARTTLS's 220 or at
 * accept on an implicit-TLS listener, and what RFC 3207 makes a session
 * forget once TLS is on. session.c never touches a descriptor; tests and
 * the fuzzer replace this table (tests/unit/session_fake.h).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/log.h"
#include "common/metrics.h"
#include "common/loop.h"
#include "common/util.h"
#include "smtp/auth.h"
#include "smtp/connect.h"
#include "smtp/engine_int.h"
#include "smtp/limits.h"
#include "smtp/session.h"
#include "smtp/tls.h"

static void sock_tls_done(struct session *s);
static void sock_starttls(struct session *s);

/* The descriptor's loop callback. */
static void sock_event(int fd, int events, void *arg)
{
	session_event(arg, events);
}

/* Plain recv() or SSL_read(): >0 bytes, 0 end of input, -1 errno (EAGAIN). */
static ssize_t sock_recv(struct session *s, char *buf, size_t len)
{
	if (s->ssl == NULL)
		return recv(s->fd, buf, len, 0);
	ERR_clear_error();
	int r = SSL_read(s->ssl, buf, (int)len);
	if (r > 0)
		return r;
	int e = SSL_get_error(s->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		errno = EAGAIN;
		return -1;
	}
	if (e == SSL_ERROR_ZERO_RETURN)
		return 0;
	if (e == SSL_ERROR_SSL) {
		char why[256];
		log_warn("TLS library problem: %s", tls_error(why, sizeof(why)));
	}
	errno = ECONNRESET;
	return -1;
}

static ssize_t sock_send(struct session *s, const char *buf, size_t len)
{
	if (s->ssl && s->tls == TLS_ON) {
		ERR_clear_error();
		int r = SSL_write(s->ssl, buf, (int)(len > INT32_MAX ? INT32_MAX : len));
		if (r > 0)
			return r;
		int e = SSL_get_error(s->ssl, r);
		errno = e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ ? EAGAIN : EPIPE;
		return -1;
	}
	return send(s->fd, buf, len, MSG_NOSIGNAL);
}

static void sock_watch(struct session *s, int events)
{
	if (events)
		loop_watch(s->fd, events, sock_event, s);
	else
		loop_unwatch(s->fd);
}

static void sock_close(struct session *s)
{
	loop_unwatch(s->fd);
	close(s->fd);
}

const struct session_io sock_session_io = {
	sock_recv, sock_send, sock_watch, sock_close, sock_starttls,
};

/* Input already decrypted inside OpenSSL: read it as if the socket fired. */
void sock_pending(void *arg)
{
	session_event(arg, LOOP_READ);
}

/* Begin the TLS handshake (after STARTTLS's 220, or at accept on 465). */
static void sock_starttls(struct session *s)
{
	s->ssl = tls_new(s->eng->tls, s->fd, s->eng->roles[s->role].tls_encrypt || s->tls_wrapper);
	if (s->ssl == NULL) {
		log_warn("cannot start TLS for %s: out of memory or no certificate", session_client(s));
		session_close(s, "lost connection");
		return;
	}
	s->tls = TLS_HANDSHAKE;
	loop_timer_set(&s->timer, (uint64_t)limit_starttls_timeout_ms(s->eng), session_timeout, s);
	sock_tls_step(s);
}

static void sock_tls_done(struct session *s)
{
	char info[400];
	s->tls = TLS_ON;
	metrics_inc(M_TLS_SESSIONS, NULL);
	tls_summary(s->ssl, info, sizeof(info));
	free(s->tls_info);
	s->tls_info = xstrdup(info);
	if (s->eng->tls_loglevel >= 1)
		log_info("Anonymous TLS connection established from %s: %s", session_client(s), info);
	limit_arm_timer(s, 0);
	if (limit_tls_handshake(s) < 0) {
		session_flush(s);	/* the 421, encrypted, then close */
		return;
	}
	if (s->tls_wrapper) {
		connect_start(s);	/* the greeting, now encrypted */
		return;
	}
	/* After STARTTLS the client speaks first (EHLO), but its TLS stack
	 * has just written its Finished record, which we read and do not
	 * answer: the kernel delays that ACK (up to 40 ms), and the client's
	 * Nagle holds the small EHLO until it comes. Postfix hides this
	 * behind the session tickets it sends at this point; we send none,
	 * so send the ACK now instead. Best effort (no TCP, no matter). */
	int one = 1;
	(void)setsockopt(s->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
	/* RFC 3207: forget everything learnt before; EHLO again. */
	free(s->helo);
	s->helo = NULL;
	s->esmtp = 0;
	session_reset_transaction(s);
	auth_cancel(s);
	free(s->sasl_username);
	s->sasl_username = NULL;
	s->sasl_method = NULL;
	s->eng->io->watch(s, LOOP_READ);
	if (SSL_pending(s->ssl) > 0)
		loop_at_idle(sock_pending, s);
}

/* One step of a non-blocking handshake; never waits. */
void sock_tls_step(struct session *s)
{
	char why[256];
	ERR_clear_error();
	int r = SSL_accept(s->ssl);
	if (r == 1) {
		sock_tls_done(s);
		return;
	}
	int e = SSL_get_error(s->ssl, r);
	if (e == SSL_ERROR_WANT_READ) {
		s->eng->io->watch(s, LOOP_READ);
		return;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		s->eng->io->watch(s, LOOP_WRITE);
		return;
	}
	if (e == SSL_ERROR_SSL)
		log_warn("TLS library problem: %s", tls_error(why, sizeof(why)));
	log_info("SSL_accept error from %s: %s", session_client(s),
	    e == SSL_ERROR_SSL ? "-1" : "lost connection");
	ERR_clear_error();
	SSL_free(s->ssl);
	s->ssl = NULL;
	s->tls = TLS_OFF;
	session_close(s, "lost connection");
}
