/*
 * session — one SMTP client connection: accept, input framing, replies,
 * timeouts, error counting and the "disconnect from" summary. Commands
 * are dispatched to cmd.c, message content to data.c. Bytes come and go
 * through the engine's struct session_io (sock.c: sockets and TLS; a
 * test's fake I/O), never through a descriptor here.
 *
 * Memory: an idle session holds only struct session; the input buffer is
 * allocated when a partial line must be kept, and freed when drained.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "common/clock.h"
#include "common/cidr.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/util.h"
#include "mail/spool.h"
#include "smtp/auth.h"
#include "smtp/check.h"
#include "smtp/cleanup.h"
#include "smtp/cmd.h"
#include "smtp/connect.h"
#include "smtp/data.h"
#include "smtp/dkimverify.h"
#include "smtp/engine_int.h"
#include "smtp/event.h"
#include "smtp/limits.h"
#include "smtp/milters.h"
#include "smtp/session.h"

#define READ_CHUNK 16384
/* Back-pressure: with this much output not yet written, input waits
 * (stashed, at most one read chunk) until the client has read it all. */
#define OUT_HIGH 16384
#define OUT_MAX (1024 * 1024)	/* a longer reply backlog closes the session */

static const char *const cmd_names[CMD_COUNT] = {
	"helo", "ehlo", "starttls", "auth", "mail", "rcpt", "data", "rset",
	"noop", "vrfy", "quit", "help", "unknown",
};

static void session_unblock(void *arg);
static void set_unknown_name(struct session *s);
static void session_process(struct session *s, const char *p, size_t n);
static void session_read(struct session *s);

/* "name[addr]", formatted into the session (valid until the next call). */
const char *session_client(struct session *s)
{
	snprintf(s->client, sizeof(s->client), "%s[%s]", s->name, s->addr);
	return s->client;
}

static void session_track(struct session *s)
{
	struct engine *e = s->eng;
	if (e->nall == e->all_cap) {
		e->all_cap = e->all_cap ? e->all_cap * 2 : 256;
		e->all = xrealloc(e->all, e->all_cap * sizeof(*e->all));
	}
	e->all[e->nall++] = s;
}

static void session_untrack(struct session *s)
{
	struct engine *e = s->eng;
	for (size_t i = 0; i < e->nall; i++)
		if (e->all[i] == s) {
			e->all[i] = e->all[--e->nall];
			return;
		}
}

static void peer_text(const struct sockaddr_storage *ss, char *addr, size_t len, unsigned *port)
{
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		*port = ntohs(s6->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], addr, (socklen_t)len);
			return;
		}
		inet_ntop(AF_INET6, &s6->sin6_addr, addr, (socklen_t)len);
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		*port = ntohs(s4->sin_port);
		inet_ntop(AF_INET, &s4->sin_addr, addr, (socklen_t)len);
	}
}

void session_accept(struct engine *e, int lfd, enum smtp_role role)
{
	for (int i = 0; i < 64 && !e->draining && !e->accept_paused; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("accept: %s", strerror(errno));
			return;
		}
		char addr[INET6_ADDRSTRLEN], jail[32];
		unsigned port;
		peer_text(&ss, addr, sizeof(addr), &port);
		if (engine_banned(e, addr, jail, sizeof(jail))) {
			/* Refused before any byte, firewall or not. */
			log_info("reject: connect from %s[%s]: banned by the ban engine (jail %s)",
			    engine_hostname(e, addr), addr, jail);
			metrics_inc(M_REJECTS, "banned");
			close(fd);
			continue;
		}
		metrics_inc(M_CONNECTIONS, e->roles[role].name);
		session_open(e, fd, role, addr, port);
	}
}

struct session *session_open(struct engine *e, int fd, enum smtp_role role,
    const char *addr, unsigned port)
{
	struct session *s = xcalloc(1, sizeof(*s));
	s->eng = e;
	s->fd = fd;
	s->role = role;
	s->state = SMTP_ST_CMD;
	str_copy(s->addr, sizeof(s->addr), addr);
	s->port = port;
	s->in_mynetworks = cidrlist_match_str(e->roles[role].mynetworks, s->addr);
	s->limit_exempt = cidrlist_match_str(e->limit_exceptions, s->addr);
	anvil_key(&e->anvil, s->addr, s->akey, sizeof(s->akey));
	s->bare_lf_ok = e->bare_lf_exclusions && cidrlist_match_str(e->bare_lf_exclusions, s->addr);
	buf_init(&s->in, (size_t)e->line_limit + 2);
	buf_init(&s->out, OUT_MAX);
	buf_init(&s->hdrline, 1000);
	buf_init(&s->stash, 4 * READ_CHUNK);
	e->nsessions++;
	anvil_open(&e->anvil, s->akey);
	session_track(s);
	if (e->nsessions >= e->session_limit)
		engine_accept_pause(e);
	limit_stress_check(e);
	e->io->watch(s, LOOP_READ);
	limit_arm_timer(s, 0);
	if (e->roles[role].wrappermode) {
		/* Implicit TLS (RFC 8314): handshake first, greet after. */
		s->tls_wrapper = 1;
		set_unknown_name(s);
		if (limit_tls_wrapper(s) < 0) {
			session_close(s, NULL);
			return s;
		}
		e->io->starttls(s);
		return s;
	}
	connect_start(s);	/* may greet, or close s, at once */
	return s;
}

void session_reply(struct session *s, const char *fmt, ...)
{
	va_list ap;
	char line[1024];
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line) - 2)
		n = (int)sizeof(line) - 3;
	line[n++] = '\r';
	line[n++] = '\n';
	if (buf_append(&s->out, line, (size_t)n) < 0) {
		/* A client that never reads its replies: stop talking to it. */
		s->state = SMTP_ST_CLOSING;
	}
}


/* A session closed before connect_start() still logs a name. */
static void set_unknown_name(struct session *s)
{
	str_copy(s->name, sizeof(s->name), engine_hostname(s->eng, s->addr));
}

static void session_free(struct session *s)
{
	struct engine *e = s->eng;
	loop_cancel_idle(sock_pending, s);
	loop_cancel_idle(session_unblock, s);
	auth_cancel(s);
	if (s->ssl) {
		SSL_free(s->ssl);
		s->ssl = NULL;
	}
	free(s->tls_info);
	free(s->sasl_username);
	commit_forget(s);
	connect_cancel(s);
	check_cancel(s);
	milters_free(s);
	cleanup_free(s);
	dkimverify_free(s);
	if (s->w) {
		spool_abort(s->w);
		free(s->w);
	}
	loop_timer_clear(&s->timer);
	loop_timer_clear(&s->sleep);
	e->io->close(s);
	session_reset_transaction(s);
	free(s->helo);
	buf_free(&s->in);
	buf_free(&s->out);
	buf_free(&s->hdrline);
	buf_free(&s->dline);	/* a client gone in the middle of DATA */
	buf_free(&s->stash);
	session_untrack(s);
	anvil_close(&e->anvil, s->akey);
	e->nsessions--;
	free(s);
	limit_stress_check(e);
	if (e->accept_paused && e->nsessions < e->session_limit)
		engine_accept_resume(e);
	if (e->draining && e->nsessions == 0)
		loop_exit();
}

/* "disconnect from host[addr] ehlo=1 mail=1 rcpt=0/1 ... commands=4/5" */
static void session_log_disconnect(struct session *s)
{
	char line[600];
	size_t off = 0;
	unsigned ok = 0, total = 0;
	int n = snprintf(line, sizeof(line), "disconnect from %s", session_client(s));
	off = n > 0 ? (size_t)n : 0;
	for (int i = 0; i < CMD_COUNT && off < sizeof(line); i++) {
		if (s->cmd_total[i] == 0)
			continue;
		ok += s->cmd_ok[i];
		total += s->cmd_total[i];
		if (s->cmd_ok[i] == s->cmd_total[i])
			n = snprintf(line + off, sizeof(line) - off, " %s=%u", cmd_names[i], s->cmd_total[i]);
		else
			n = snprintf(line + off, sizeof(line) - off, " %s=%u/%u", cmd_names[i], s->cmd_ok[i], s->cmd_total[i]);
		if (n > 0)
			off += (size_t)n;
	}
	if (off < sizeof(line)) {
		if (ok == total)
			snprintf(line + off, sizeof(line) - off, " commands=%u", total);
		else
			snprintf(line + off, sizeof(line) - off, " commands=%u/%u", ok, total);
	}
	log_info("%s", line);
}

void session_close(struct session *s, const char *why)
{
	if (why)
		log_info("%s after %s from %s", why, s->last_cmd ? s->last_cmd : "CONNECT",
		    session_client(s));
	session_log_disconnect(s);
	session_free(s);
}

/* Write what we can; on a full socket wait for LOOP_WRITE. */
void session_flush(struct session *s)
{
	while (s->out.len > 0) {
		ssize_t n = s->eng->io->send(s, s->out.data, s->out.len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				s->eng->io->watch(s, LOOP_READ | LOOP_WRITE);
				return;
			}
			session_close(s, "lost connection");
			return;
		}
		buf_consume(&s->out, (size_t)n);
	}
	if (s->out_blocked) {
		/* All written: the stashed input goes on (after this event). */
		loop_at_idle(session_unblock, s);
	}
	if (s->state == SMTP_ST_CLOSING) {
		if (s->ssl && s->tls == TLS_ON)
			SSL_shutdown(s->ssl);	/* close_notify, best effort */
		session_close(s, NULL);
		return;
	}
	if (s->tls_start) {
		/* "220 Ready to start TLS" is out: nothing more in clear text. */
		s->tls_start = 0;
		s->eng->io->starttls(s);
		return;
	}
	s->eng->io->watch(s, LOOP_READ);
	if (s->ssl && SSL_pending(s->ssl) > 0)
		loop_at_idle(sock_pending, s);	/* decrypted bytes epoll cannot see */
}

/* The client read our replies: go on with the input that waited. */
static void session_unblock(void *arg)
{
	struct session *s = arg;
	s->out_blocked = 0;
	session_resume(s);
}

void session_timeout(void *arg)
{
	struct session *s = arg;
	if (s->state == SMTP_ST_COMMIT || s->state == SMTP_ST_WAIT || s->sleeping ||
	    s->auth_step == AUTH_CHECKING) {
		/* Waiting on our own disk, lookups, password check or a
		 * deliberate delay, not on the client. */
		loop_timer_set(&s->timer, (uint64_t)limit_timeout_ms(s->eng), session_timeout, s);
		return;
	}
	log_info("timeout after %s from %s", s->last_cmd ? s->last_cmd : "CONNECT", session_client(s));
	session_reply(s, "421 4.4.2 %s Error: timeout exceeded", s->eng->myhostname);
	s->state = SMTP_ST_CLOSING;
	s->last_cmd = NULL;
	session_flush(s);
}

/* Count an error; past the hard limit say 421 and close. */
void session_error(struct session *s)
{
	s->errors++;
	if ((long)s->errors >= limit_hard_errors(s)) {
		char line[400];
		snprintf(line, sizeof(line), "too many errors after %s from %s",
		    s->last_cmd ? s->last_cmd : "CONNECT", session_client(s));
		log_info("%s", line);
		event_send(s, WEV_PROTOCOL, s->sasl_username, line);
		session_reply(s, "421 4.7.0 %s Error: too many errors", s->eng->myhostname);
		s->state = SMTP_ST_CLOSING;
	}
}

static void session_wake(void *arg)
{
	struct session *s = arg;
	s->sleeping = 0;
	limit_arm_timer(s, 0);	/* the delay was ours, not the client's */
	session_resume(s);
}

/* Continue with buffered input (after a commit or an error sleep). */
void session_resume(struct session *s)
{
	if (s->state == SMTP_ST_CLOSING || s->sleeping || s->auth_step == AUTH_CHECKING ||
	    s->out_blocked) {
		session_flush(s);
		return;
	}
	if (s->stash.len > 0) {
		/* Move pending bytes out: session_process may stash again. */
		struct buf pending = s->stash;
		buf_init(&s->stash, pending.max);
		session_process(s, pending.data, pending.len);
		buf_free(&pending);
		if (s->state == SMTP_ST_COMMIT || s->state == SMTP_ST_WAIT || s->sleeping ||
		    s->auth_step == AUTH_CHECKING)
			return;
	}
	session_flush(s);
}

void session_event(struct session *s, int events)
{
	if (s->tls == TLS_HANDSHAKE) {
		sock_tls_step(s);
		return;		/* s may be gone */
	}
	/* A socket in error (EPOLLERR: the client reset the connection)
	 * reports LOOP_READ|LOOP_WRITE, level-triggered, until someone reads
	 * or writes it. Flush only when there is something to send; with
	 * nothing to send the read below meets the error and closes. (A
	 * flush of nothing here used to return at once, and the loop got the
	 * same event again: one core at 100 % per reset idle session.) */
	if ((events & LOOP_WRITE) && s->out.len > 0 && !s->sleeping) {
		session_flush(s);
		return;		/* s may be gone */
	}
	if (s->state == SMTP_ST_COMMIT || s->state == SMTP_ST_WAIT ||
	    s->state == SMTP_ST_CLOSING || s->sleeping || s->auth_step == AUTH_CHECKING ||
	    s->out_blocked) {
		/* Do not read more until the pending reply is out. A reply
		 * held on purpose (error sleep, AUTH failure delay) stays held.
		 * Nothing to write: stop watching the socket altogether, as
		 * epoll reports a hang-up or an error even for a watch of no
		 * events; session_flush() watches it again when we go on. */
		s->eng->io->watch(s, s->out.len > 0 && !s->sleeping ? LOOP_WRITE : 0);
		return;
	}
	session_read(s);
}

static void session_read(struct session *s)
{
	char chunk[READ_CHUNK];
	for (;;) {
		ssize_t n = s->eng->io->recv(s, chunk, sizeof(chunk));
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			session_close(s, "lost connection");
			return;
		}
		if (n == 0) {
			session_close(s, s->last_cmd && strcmp(s->last_cmd, "QUIT") == 0 ? NULL :
			    "lost connection");
			return;
		}
		limit_arm_timer(s, (size_t)n);
		session_process(s, chunk, (size_t)n);
		if (s->state == SMTP_ST_COMMIT || s->state == SMTP_ST_WAIT)
			return;
		if (s->out_blocked)
			break;
		if (s->sleeping || s->auth_step == AUTH_CHECKING)
			return;
		/* TLS may hold more decrypted input than one chunk. */
		if (s->ssl == NULL || s->tls != TLS_ON || SSL_pending(s->ssl) <= 0 ||
		    s->state == SMTP_ST_CLOSING || s->tls_start)
			break;
	}
	session_flush(s);
}

/* Keep unprocessed bytes for later (commit wait, error sleep). */
static void session_stash(struct session *s, const char *p, size_t n)
{
	if (n == 0)
		return;
	/* We stop reading while waiting, so this is at most one read chunk. */
	if (buf_append(&s->stash, p, n) < 0)
		s->state = SMTP_ST_CLOSING;
}

static void session_process(struct session *s, const char *p, size_t n)
{
	while (n > 0) {
		if (s->state == SMTP_ST_CLOSING)
			return;
		if (s->state == SMTP_ST_CONNECT) {
			connect_input(s, p, n);
			session_stash(s, p, n);
			return;
		}
		if (s->state == SMTP_ST_COMMIT || s->state == SMTP_ST_WAIT || s->sleeping ||
		    s->auth_step == AUTH_CHECKING || s->out_blocked) {
			session_stash(s, p, n);
			return;
		}
		if (s->state == SMTP_ST_CMD && s->out.len >= OUT_HIGH) {
			/* The client does not read its replies: stop reading it. */
			s->out_blocked = 1;
			session_stash(s, p, n);
			return;
		}
		if (s->tls_start) {
			/* Bytes pipelined after STARTTLS came in clear text: never
			 * let them through as commands (CVE-2011-0411). */
			log_info("improper command pipelining after STARTTLS from %s", session_client(s));
			return;
		}
		if (s->state == SMTP_ST_DATA) {
			size_t k = data_feed(s, p, n);
			p += k;
			n -= k;
			if (s->state != SMTP_ST_DATA)
				limit_arm_timer(s, 0);	/* the next request */
			continue;
		}
		const char *nl = memchr(p, '\n', n);
		size_t limit = (size_t)s->eng->line_limit;
		if (nl == NULL) {
			if (!s->skipping) {
				size_t room = limit > s->in.len ? limit - s->in.len : 0;
				buf_append(&s->in, p, n < room ? n : room);
				if (n > room)
					s->skipping = 1;	/* overlong: skip to LF */
			}
			return;
		}
		size_t take = (size_t)(nl - p) + 1;
		int overlong = s->skipping;
		if (!s->skipping) {
			size_t room = limit + 1 > s->in.len ? limit + 1 - s->in.len : 0;
			if (take > room)
				overlong = 1;
			buf_append(&s->in, p, take < room ? take : room);
		}
		s->skipping = 0;
		p += take;
		n -= take;
		char *owned = s->in.data ? s->in.data : xstrdup("");
		size_t len = s->in.len;
		buf_init(&s->in, s->in.max);
		char *line = owned;
		if (overlong) {
			if (len > limit)
				len = limit;
			line[len] = '\0';
			log_warn("%s: request longer than %ld: %.30s...", session_client(s),
			    s->eng->line_limit, line);
		}
		/* Strip the line ending; note a bare LF. */
		int bare_lf = 0;
		if (len > 0 && line[len - 1] == '\n') {
			len--;
			if (len > 0 && line[len - 1] == '\r')
				len--;
			else
				bare_lf = 1;
		}
		line[len] = '\0';
		if (bare_lf && s->eng->bare_lf == BARE_LF_REJECT && !s->bare_lf_ok) {
			log_info("reject: bare <LF> received from %s", session_client(s));
			session_reply(s, "550 5.5.2 %s Error: bare <LF> received", s->eng->myhostname);
			s->state = SMTP_ST_CLOSING;
			free(owned);
			return;
		}
		s->input_pending = n > 0 || s->stash.len > 0;
		if (s->auth_step != AUTH_NONE)
			auth_input(s, line, len);
		else
			cmd_dispatch(s, line, len);
		free(owned);
		limit_arm_timer(s, 0);	/* the next request */
		if (s->tls_start && (n > 0 || s->stash.len > 0)) {
			log_info("improper command pipelining after STARTTLS from %s", session_client(s));
			buf_free(&s->stash);
			buf_init(&s->stash, 4 * READ_CHUNK);
			return;
		}
	}
}

void session_reset_transaction(struct session *s)
{
	free(s->sender);
	s->sender = NULL;
	for (size_t i = 0; i < s->nrcpt; i++)
		free(s->rcpt[i]);
	free(s->rcpt);
	s->rcpt = NULL;
	s->nrcpt = s->rcpt_cap = 0;
	s->declared_size = 0;
	free(s->message_id);
	s->message_id = NULL;
	check_end_transaction(s);
	milters_end_transaction(s);
	cleanup_end_transaction(s);
	dkimverify_free(s);
}

/* SIGTERM: stop accepting; idle sessions get 421 now, sessions in DATA
 * finish their message first (their 421 comes after the 250). */
void session_drain_all(struct engine *e)
{
	for (size_t i = e->nall; i-- > 0;) {
		struct session *s = e->all[i];
		if ((s->state == SMTP_ST_CMD && s->sender == NULL) || s->state == SMTP_ST_CONNECT ||
		    (s->state == SMTP_ST_WAIT && s->w == NULL)) {	/* a message at the milters finishes */
			session_reply(s, "421 4.3.2 %s Service shutting down, closing transmission channel",
			    s->eng->myhostname);
			s->state = SMTP_ST_CLOSING;
			session_flush(s);
		}
	}
	if (e->nsessions == 0)
		loop_exit();
}

void session_stress_all(struct engine *e)
{
	uint64_t now = clock_mono_ms();
	for (size_t i = 0; i < e->nall; i++) {
		struct session *s = e->all[i];
		uint64_t t = (uint64_t)limit_session_timeout_ms(s);
		if (s->deadline > now + t)
			s->deadline = now + t;
		if (s->timer.slot != (size_t)-1 && s->timer.when > now + t)
			loop_timer_set(&s->timer, t, session_timeout, s);
	}
}

void session_sleep_then_resume(struct session *s, long ms)
{
	s->sleeping = 1;
	loop_timer_set(&s->sleep, (uint64_t)ms, session_wake, s);
}
