/*
 * dovecot — the Dovecot auth client protocol (v1.x, doc.dovecot.org
 * "Dovecot Authentication Protocol") over one UNIX socket, non-blocking
 * on the event loop. Handshake: we send VERSION and CPID, the server
 * VERSION, MECH..., SPID, CUID, COOKIE, DONE. Each check is one
 *   AUTH <id> PLAIN service=smtp [secured] [rip=ADDR] resp=BASE64(\0user\0pass)
 * ("secured" only when the SMTP session is on TLS, as Postfix's client)
 * answered by OK/FAIL <id> (FAIL with "temp" or code=temp_fail is
 * temporary; OK's user= is the authenticated name handed back).
 * Requests are multiplexed on the connection by id. When the connection
 * is lost, every open request gets TEMPFAIL; the next check reconnects
 * (at most once a second). Every answer reaches the caller
 * through a timer, so never inside sasl_check and never re-entrantly.
 */
#include <errno.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "sasl/sasl_int.h"

#define DC_MAX_LINE 16384
#define DC_BACKOFF_MS 1000
#define DC_TIMEOUT_MS 30000

enum dc_state { DC_DOWN, DC_HANDSHAKE, DC_READY };

struct dovecot {
	char *abs;			/* path made absolute at open time */
	char *rel;			/* the relative path as given, or NULL */
	int fd;
	enum dc_state state;
	int watched;			/* events we asked the loop for, -1 none */
	int have_plain;
	struct buf in, out;
	struct sasl_req *reqs;		/* unanswered requests */
	struct sasl_req *answered;	/* answered, callback due on a 0 ms timer */
	unsigned next_id;
	uint64_t down_at;		/* clock_mono_ms() of the last failure, 0 none */
};

static void dc_io(int fd, int events, void *arg);

static void dc_watch(struct dovecot *dc)
{
	if (dc->fd < 0)
		return;
	int ev = LOOP_READ | (dc->out.len ? LOOP_WRITE : 0);
	if (ev != dc->watched) {
		loop_watch(dc->fd, ev, dc_io, dc);
		dc->watched = ev;
	}
}

static void dc_unlink(struct sasl_req **list, struct sasl_req *r)
{
	for (struct sasl_req **pp = list; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			r->next = NULL;
			return;
		}
}

/* The request timer: deliver an answer, or time the request out. */
static void dc_timer(void *arg)
{
	struct sasl_req *r = arg;
	struct dovecot *dc = r->s->impl;
	if (r->sent == 2)
		dc_unlink(&dc->answered, r);
	else {
		dc_unlink(&dc->reqs, r);
		sasl_req_answer(r, SASL_TEMPFAIL, "no answer from the dovecot auth server");
	}
	sasl_req_finish(r);
}

/* Answer r (taken off the open list); the callback runs from the loop. */
static void dc_answer(struct dovecot *dc, struct sasl_req *r, enum sasl_result res, const char *why)
{
	if (r->sent != 2)
		dc_unlink(&dc->reqs, r);
	r->sent = 2;
	sasl_req_answer(r, res, why);
	r->next = dc->answered;
	dc->answered = r;
	loop_timer_set(&r->timer, 0, dc_timer, r);
}

static void dc_disconnect(struct dovecot *dc, const char *why)
{
	if (dc->fd >= 0) {
		if (dc->watched >= 0)
			loop_unwatch(dc->fd);
		close(dc->fd);
		log_warn("dovecot auth %s: %s", dc->abs, why);
	}
	dc->fd = -1;
	dc->watched = -1;
	dc->state = DC_DOWN;
	dc->down_at = clock_mono_ms();
	if (dc->down_at == 0)
		dc->down_at = 1;
	buf_reset(&dc->in);
	explicit_bzero(dc->out.data, dc->out.len);
	buf_reset(&dc->out);
	while (dc->reqs)
		dc_answer(dc, dc->reqs, SASL_TEMPFAIL, why);
}

static int dc_try(int fd, const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	if (str_copy(sun.sun_path, sizeof(sun.sun_path), path) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return connect(fd, (struct sockaddr *)&sun, sizeof(sun));
}

/* Connect and queue our half of the handshake; -1 with err. */
static int dc_connect(struct dovecot *dc, char *err, size_t errlen)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	int rc = dc_try(fd, dc->abs);
	int e = errno;
	if (rc < 0 && dc->rel && (e == ENOENT || e == ENAMETOOLONG)) {
		rc = dc_try(fd, dc->rel);	/* after chroot(queue_directory) */
		e = errno;
	}
	if (rc < 0) {
		snprintf(err, errlen, "connect %s: %s", dc->abs, strerror(e));
		close(fd);
		dc->down_at = clock_mono_ms() ? clock_mono_ms() : 1;
		return -1;
	}
	dc->fd = fd;
	dc->watched = -1;
	dc->state = DC_HANDSHAKE;
	dc->have_plain = 0;
	buf_printf(&dc->out, "VERSION\t1\t2\nCPID\t%ld\n", (long)getpid());
	return 0;
}

static void dc_send(struct dovecot *dc, struct sasl_req *r)
{
	size_t ul = strlen(r->user), pl = strlen(r->pass), n = ul + pl + 2;
	unsigned char *raw = xmalloc(n);
	raw[0] = '\0';
	memcpy(raw + 1, r->user, ul);
	raw[1 + ul] = '\0';
	memcpy(raw + 2 + ul, r->pass, pl);
	size_t blen = 4 * ((n + 2) / 3) + 1;
	unsigned char *b64 = xmalloc(blen);
	EVP_EncodeBlock(b64, raw, (int)n);
	r->id = ++dc->next_id;
	if (dc->next_id >= UINT_MAX - 1)
		dc->next_id = 0;
	/* "secured" only for a TLS session, as Postfix's client: Dovecot's
	 * disable_plaintext_auth must see plaintext sessions as they are. */
	int rc = buf_printf(&dc->out, "AUTH\t%u\tPLAIN\tservice=smtp%s%s%s\tresp=%s\n",
	    r->id, r->secured ? "\tsecured" : "", r->rip[0] ? "\trip=" : "", r->rip, (char *)b64);
	explicit_bzero(raw, n);
	explicit_bzero(b64, blen);
	free(raw);
	free(b64);
	if (rc < 0) {
		dc_answer(dc, r, SASL_TEMPFAIL, "dovecot auth output buffer full");
		return;
	}
	r->sent = 1;
}

/* The user= value of an OK: Dovecot's escapes (\001 + '1', 't', 'r', 'n')
 * undone, then printable only (it reaches logs and Received-less
 * session state), at most SASL_MAX_USER - 1 bytes. Allocated. */
static char *dc_user(const char *v)
{
	char *u = xmalloc(SASL_MAX_USER);
	size_t o = 0;
	for (; *v && o + 1 < SASL_MAX_USER; v++) {
		char ch = *v;
		if (ch == '\001' && v[1] != '\0') {
			v++;
			ch = *v == '1' ? '\001' : *v == 't' ? '\t' : *v == 'r' ? '\r' :
			    *v == 'n' ? '\n' : *v;
		}
		u[o++] = ch;
	}
	u[o] = '\0';
	return str_printable(u, '?');
}

/* One line from the server (tab-separated, without the LF). */
static void dc_line(struct dovecot *dc, char *line)
{
	char *f[32];
	size_t nf = 0;
	for (char *p = line; nf < 32; ) {
		f[nf++] = p;
		p = strchr(p, '\t');
		if (p == NULL)
			break;
		*p++ = '\0';
	}
	if (dc->state == DC_HANDSHAKE) {
		if (strcmp(f[0], "VERSION") == 0 && (nf < 2 || strcmp(f[1], "1") != 0))
			dc_disconnect(dc, "unsupported protocol version");
		else if (strcmp(f[0], "MECH") == 0 && nf >= 2 && strcmp(f[1], "PLAIN") == 0)
			dc->have_plain = 1;
		else if (strcmp(f[0], "DONE") == 0) {
			if (!dc->have_plain) {
				dc_disconnect(dc, "server does not offer PLAIN");
				return;
			}
			dc->state = DC_READY;
			for (struct sasl_req *r = dc->reqs, *n; r; r = n) {
				n = r->next;
				if (!r->sent)
					dc_send(dc, r);
			}
		}
		return;
	}
	if (nf < 2 || (strcmp(f[0], "OK") && strcmp(f[0], "FAIL") && strcmp(f[0], "CONT")))
		return;			/* unknown lines are ignored */
	char *end;
	unsigned long id = strtoul(f[1], &end, 10);
	struct sasl_req *r = dc->reqs;
	while (r && !(r->sent == 1 && r->id == id))
		r = r->next;
	if (r == NULL || *end != '\0')
		return;			/* timed out or cancelled meanwhile */
	if (strcmp(f[0], "OK") == 0) {
		for (size_t i = 2; i < nf; i++)
			if (strncmp(f[i], "user=", 5) == 0 && f[i][5] != '\0') {
				free(r->authuser);
				r->authuser = dc_user(f[i] + 5);
			}
		dc_answer(dc, r, SASL_OK, "");
		return;
	}
	if (strcmp(f[0], "CONT") == 0) {
		dc_answer(dc, r, SASL_FAIL, "unexpected CONT from the dovecot auth server");
		return;
	}
	enum sasl_result res = SASL_FAIL;
	const char *why = "authentication failed";
	for (size_t i = 2; i < nf; i++) {
		if (strcmp(f[i], "temp") == 0 || strcmp(f[i], "code=temp_fail") == 0)
			res = SASL_TEMPFAIL;
		else if (strncmp(f[i], "reason=", 7) == 0 && f[i][7])
			why = f[i] + 7;
	}
	dc_answer(dc, r, res, why);
}

static void dc_io(int fd, int events, void *arg)
{
	struct dovecot *dc = arg;
	if (events & LOOP_WRITE && dc->out.len) {
		ssize_t n = send(fd, dc->out.data, dc->out.len, MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			dc_disconnect(dc, strerror(errno));
			return;
		}
		if (n > 0) {
			explicit_bzero(dc->out.data, (size_t)n);
			buf_consume(&dc->out, (size_t)n);
		}
	}
	if (events & LOOP_READ) {
		char tmp[8192];
		ssize_t n = read(fd, tmp, sizeof(tmp));
		if (n == 0) {
			dc_disconnect(dc, "connection closed by the server");
			return;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			dc_disconnect(dc, strerror(errno));
			return;
		}
		if (n > 0 && buf_append(&dc->in, tmp, (size_t)n) < 0) {
			dc_disconnect(dc, "line from the server too long");
			return;
		}
		char *nl;
		while (dc->fd == fd && (nl = memchr(dc->in.data, '\n', dc->in.len)) != NULL) {
			*nl = '\0';
			size_t used = (size_t)(nl - dc->in.data) + 1;
			dc_line(dc, dc->in.data);
			if (dc->fd != fd)
				return;	/* disconnected by that line */
			buf_consume(&dc->in, used);
		}
	}
	dc_watch(dc);
}

static struct sasl *dc_open(const char *path, char *err, size_t errlen)
{
	struct dovecot *dc = xcalloc(1, sizeof(*dc));
	dc->fd = -1;
	dc->watched = -1;
	buf_init(&dc->in, 2 * DC_MAX_LINE);
	buf_init(&dc->out, 1024 * 1024);
	char cwd[PATH_MAX];
	if (getcwd(cwd, sizeof(cwd)) == NULL) {
		snprintf(err, errlen, "getcwd: %s", strerror(errno));
		goto fail;
	}
	size_t cl = strlen(cwd);
	if (path[0] == '/') {
		dc->abs = xstrdup(path);
		/* under the cwd (queue_directory): reachable after the chroot too */
		if (cl > 1 && strncmp(path, cwd, cl) == 0 && path[cl] == '/')
			dc->rel = xstrdup(path + cl + 1);
	} else {
		size_t n = cl + strlen(path) + 2;
		dc->abs = xmalloc(n);
		snprintf(dc->abs, n, "%s/%s", cwd, path);
		dc->rel = xstrdup(path);
	}
	/* Dovecot may start after us: answer 454 until it is there, never
	 * refuse to receive mail because of it. */
	if (dc_connect(dc, err, errlen) < 0)
		log_warn("dovecot auth: %s (AUTH gets 454 until it answers)", err);
	struct sasl *s = xcalloc(1, sizeof(*s));
	s->be = &sasl_dovecot_backend;
	s->impl = dc;
	return s;
fail:
	buf_free(&dc->in);
	buf_free(&dc->out);
	free(dc->abs);
	free(dc->rel);
	free(dc);
	return NULL;
}

static void dc_check(struct sasl *s, struct sasl_req *r)
{
	struct dovecot *dc = s->impl;
	char err[256];
	r->next = NULL;
	if (strlen(r->user) > SASL_MAX_USER || strlen(r->pass) > SASL_MAX_PASS) {
		dc_answer(dc, r, SASL_FAIL, "user name or password too long");
		return;
	}
	if (dc->state == DC_DOWN) {
		uint64_t now = clock_mono_ms();
		if (dc->down_at && now >= dc->down_at && now - dc->down_at < DC_BACKOFF_MS) {
			dc_answer(dc, r, SASL_TEMPFAIL, "dovecot auth server unavailable");
			return;
		}
		if (dc_connect(dc, err, sizeof(err)) < 0) {
			log_warn("dovecot auth: %s", err);
			dc_answer(dc, r, SASL_TEMPFAIL, "dovecot auth server unavailable");
			return;
		}
	}
	r->next = dc->reqs;
	dc->reqs = r;
	loop_timer_set(&r->timer, DC_TIMEOUT_MS, dc_timer, r);
	if (dc->state == DC_READY)
		dc_send(dc, r);
	dc_watch(dc);
}

static void dc_cancel(struct sasl *s, struct sasl_req *r)
{
	struct dovecot *dc = s->impl;
	dc_unlink(r->sent == 2 ? &dc->answered : &dc->reqs, r);
	loop_timer_clear(&r->timer);
	sasl_req_free(r);
}

static void dc_close(struct sasl *s)
{
	struct dovecot *dc = s->impl;
	if (dc->fd >= 0) {
		if (dc->watched >= 0)
			loop_unwatch(dc->fd);
		close(dc->fd);
	}
	struct sasl_req *lists[] = { dc->reqs, dc->answered };
	for (int i = 0; i < 2; i++)
		for (struct sasl_req *r = lists[i], *n; r; r = n) {
			n = r->next;
			loop_timer_clear(&r->timer);
			sasl_req_free(r);
		}
	buf_free(&dc->in);
	if (dc->out.data)
		explicit_bzero(dc->out.data, dc->out.len);
	buf_free(&dc->out);
	free(dc->abs);
	free(dc->rel);
	free(dc);
	free(s);
}

const struct sasl_backend sasl_dovecot_backend = {
	"dovecot", dc_open, dc_check, dc_cancel, dc_close,
};
