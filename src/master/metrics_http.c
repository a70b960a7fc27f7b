/*
 * metrics_http — a minimal HTTP/1.0 responder for Prometheus scrapes, on
 * the master's event loop. Each connection reads one bounded request
 * (4 KiB, 10 s), renders the counter page once into its own buffer and
 * writes it as the socket allows: a slow or stuck scraper holds only its
 * own buffer and one of MH_CONNS slots, never the loop. Out of file
 * descriptors (EMFILE, ENFILE) the listeners are not watched for
 * MH_PAUSE ms, logged once until an accept works again: a pending
 * connection would otherwise wake the loop at once, every time.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/metrics.h"
#include "common/util.h"
#include "master/listen.h"
#include "master/metrics_http.h"

#define MH_FDS      4		/* listening sockets ("*:port" makes two) */
#define MH_CONNS    16		/* scrapes at once; more are closed at accept */
#define MH_REQ_MAX  4096	/* request head */
#define MH_OUT_MAX  (4 << 20)	/* one rendered page */
#define MH_TIMEOUT  10000	/* ms for a whole exchange */
#define MH_PAUSE    1000	/* ms without accepting when out of descriptors */

struct mh_conn {
	int fd;			/* -1: free */
	struct buf in, out;
	size_t sent;
	struct loop_timer timer;
};

static int lfd[MH_FDS];
static size_t nlfd;
static char *bound_spec;	/* what lfd[] listen on */
static struct mh_conn conns[MH_CONNS];
static struct loop_timer pause_timer = { 0, (size_t)-1, NULL, NULL };
static int short_logged;	/* EMFILE logged; again after an accept worked */

/* Whether one metrics_listen item names only loopback addresses. */
static int spec_is_loopback(const char *spec)
{
	const char *colon = strrchr(spec, ':');
	char host[128];
	if (colon == NULL || (size_t)(colon - spec) >= sizeof(host))
		return 0;
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	struct in_addr a4;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	return strcmp(host, "[::1]") == 0;
}

int metrics_http_check(const struct config *cfg, char *err, size_t errlen)
{
	char **items = config_list(config_get(cfg, "metrics_listen"));
	int rc = 0;
	for (char **it = items; *it && rc == 0; it++) {
		if (!spec_is_loopback(*it) && !config_get_bool(cfg, "metrics_allow_remote")) {
			snprintf(err, errlen, "metrics_listen = %s: not a loopback address; the "
			    "metrics are plain HTTP without authentication (set "
			    "metrics_allow_remote = yes to serve them anyway)", *it);
			rc = -1;
		}
	}
	config_list_free(items);
	return rc;
}

static void conn_close(struct mh_conn *c)
{
	loop_timer_clear(&c->timer);
	loop_unwatch(c->fd);
	close(c->fd);
	c->fd = -1;
	buf_free(&c->in);
	buf_free(&c->out);
}

static void on_timeout(void *arg)
{
	conn_close(arg);
}

/* The reply to one request head: the page for GET /metrics, else 404/405. */
static void respond(struct mh_conn *c)
{
	struct buf body;
	const char *status = "200 OK";
	buf_init(&body, MH_OUT_MAX - 512);
	int get = strncmp(c->in.data, "GET ", 4) == 0;
	int head = strncmp(c->in.data, "HEAD ", 5) == 0;
	const char *path = c->in.data + (get ? 4 : 5);
	if (!get && !head) {
		status = "405 Method Not Allowed";
		buf_puts(&body, "only GET\n");
	} else if (strncmp(path, "/metrics ", 9) != 0 && strncmp(path, "/metrics?", 9) != 0) {
		status = "404 Not Found";
		buf_puts(&body, "see /metrics\n");
	} else if (metrics_render(&body) < 0) {
		status = "500 Internal Server Error";
		buf_reset(&body);
		buf_puts(&body, "metrics page too large\n");
		log_warn("metrics: page larger than %d bytes", MH_OUT_MAX);
	}
	buf_printf(&c->out, "HTTP/1.0 %s\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n", status, body.len);
	if (!head)
		buf_append(&c->out, body.data, body.len);
	buf_free(&body);
	c->sent = 0;
}

static void on_conn(int fd, int events, void *arg)
{
	struct mh_conn *c = arg;
	if (c->out.len == 0) {
		char tmp[1024];
		ssize_t n = read(fd, tmp, sizeof(tmp));
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0 || buf_append(&c->in, tmp, (size_t)n) < 0) {
			conn_close(c);	/* closed early, or a head past MH_REQ_MAX */
			return;
		}
		if (strstr(c->in.data, "\r\n\r\n") == NULL && strstr(c->in.data, "\n\n") == NULL)
			return;
		respond(c);
		loop_watch(fd, LOOP_WRITE, on_conn, c);
		return;
	}
	while (c->sent < c->out.len) {
		ssize_t n = write(fd, c->out.data + c->sent, c->out.len - c->sent);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			conn_close(c);
			return;
		}
		c->sent += (size_t)n;
	}
	shutdown(fd, SHUT_WR);
	conn_close(c);
}

static void on_accept(int fd, int events, void *arg);

static void watch_listeners(void)
{
	for (size_t i = 0; i < nlfd; i++)
		loop_watch(lfd[i], LOOP_READ, on_accept, NULL);
}

static void on_pause_end(void *arg)
{
	watch_listeners();
}

/* Out of descriptors: stop watching the listeners for MH_PAUSE ms. */
static void pause_listeners(int err)
{
	if (!short_logged)
		log_warn("metrics: accept: %s: not accepting for %d ms", strerror(err), MH_PAUSE);
	short_logged = 1;
	for (size_t i = 0; i < nlfd; i++)
		loop_unwatch(lfd[i]);
	loop_timer_set(&pause_timer, MH_PAUSE, on_pause_end, NULL);
}

static void on_accept(int fd, int events, void *arg)
{
	for (;;) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0 && (errno == EMFILE || errno == ENFILE)) {
			pause_listeners(errno);
			return;
		}
		if (cfd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("metrics: accept: %s", strerror(errno));
			return;
		}
		short_logged = 0;
		struct mh_conn *c = NULL;
		for (size_t i = 0; i < MH_CONNS && c == NULL; i++)
			if (conns[i].fd < 0)
				c = &conns[i];
		if (c == NULL) {	/* every slot busy: this scrape fails, nothing waits */
			close(cfd);
			continue;
		}
		c->fd = cfd;
		buf_init(&c->in, MH_REQ_MAX);
		buf_init(&c->out, MH_OUT_MAX);
		loop_watch(cfd, LOOP_READ, on_conn, c);
		loop_timer_set(&c->timer, MH_TIMEOUT, on_timeout, c);
	}
}

static void close_listeners(void)
{
	loop_timer_clear(&pause_timer);
	for (size_t i = 0; i < nlfd; i++) {
		loop_unwatch(lfd[i]);	/* harmless when paused */
		close(lfd[i]);
	}
	nlfd = 0;
	free(bound_spec);
	bound_spec = NULL;
}

int metrics_http_start(const struct config *cfg, char *err, size_t errlen)
{
	static int conns_ready;
	const char *spec = config_get(cfg, "metrics_listen");
	if (!conns_ready) {
		for (size_t i = 0; i < MH_CONNS; i++)
			conns[i].fd = -1;
		conns_ready = 1;
	}
	if (bound_spec && strcmp(bound_spec, spec) == 0)
		return 0;
	close_listeners();
	if (*spec == '\0')
		return 0;
	if (metrics_http_check(cfg, err, errlen) < 0)
		return -1;
	char **items = config_list(spec);
	int rc = 0;
	for (char **it = items; *it && rc == 0; it++) {
		int n = listen_open(*it, lfd + nlfd, MH_FDS - nlfd, err, errlen);
		if (n < 0)
			rc = -1;
		else
			nlfd += (size_t)n;
		if (nlfd == MH_FDS && it[1]) {
			snprintf(err, errlen, "metrics_listen: at most %d sockets", MH_FDS);
			rc = -1;
		}
	}
	config_list_free(items);
	if (rc < 0) {
		close_listeners();
		return -1;
	}
	watch_listeners();
	bound_spec = xstrdup(spec);
	return 0;
}

void metrics_http_close(int in_child)
{
	for (size_t i = 0; i < MH_CONNS; i++) {
		if (conns[i].fd < 0)
			continue;
		if (in_child) {	/* the loop is still the master's: only close */
			close(conns[i].fd);
			conns[i].fd = -1;
		} else {
			conn_close(&conns[i]);
		}
	}
	if (in_child) {
		for (size_t i = 0; i < nlfd; i++)
			close(lfd[i]);
		nlfd = 0;	/* a pause's timer finds no listener to watch */
		return;
	}
	close_listeners();
}
