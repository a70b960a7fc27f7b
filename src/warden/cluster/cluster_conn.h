/*
 * cluster_conn — one connection to Redis on the warden's event loop:
 * non-blocking connect (TCP or unix), AUTH and SELECT pipelined first,
 * commands with a reply callback each (FIFO), pushed pub/sub messages
 * to a message callback, reconnect with backoff (100 ms doubling to
 * 5 s) and the outage logged once. Used by cluster.c only.
 */
#ifndef MW_WARDEN_CLUSTER_CONN_H
#define MW_WARDEN_CLUSTER_CONN_H
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/buf.h"
#include "common/loop.h"

struct resp_reply;
struct cconn;

/* Where Redis is (warden_cluster parsed). */
struct caddr {
	struct sockaddr_storage sa;
	socklen_t salen;
	int tls;		/* rediss:// */
	char host[256];		/* the name (or address) the certificate must match */
	void *ssl_ctx;		/* SSL_CTX for rediss://, made by cluster.c */
	int db;
	char text[300];		/* for messages: host:port or the socket path */
};

typedef void cconn_reply_fn(struct cconn *c, const struct resp_reply *r, void *arg);
typedef void cconn_up_fn(struct cconn *c, void *arg);
typedef void cconn_msg_fn(const char *payload, size_t len, void *arg);

struct cconn_wait {
	cconn_reply_fn *fn;
	void *arg;
};

struct cconn {
	const struct caddr *addr;
	const char *user, *password;	/* NULL: no AUTH */
	const char *name;		/* "cmd", "sub" */
	int quiet;			/* the outage is logged by another connection */
	cconn_up_fn *on_up;
	cconn_msg_fn *on_msg;
	void *arg;
	int fd;
	int up;				/* AUTH and SELECT answered */
	void *ssl;			/* SSL over fd (rediss://) */
	int handshaking;		/* TLS handshake not finished */
	struct buf in, out;
	struct cconn_wait *wait;	/* replies expected, oldest first */
	size_t whead, nwait, capwait;	/* wait[whead .. whead + nwait) */
	uint64_t backoff;		/* ms before the next try */
	struct loop_timer retry;
	struct loop_timer health;	/* PING each second; no byte for 3 s: lost */
	uint64_t last_rx;		/* clock_mono_ms() of the last byte read */
	int down_told;			/* the outage was logged */
	uint64_t down_since;		/* clock_mono_ms() */
	long down_wall;			/* wall time it went down (0: never up yet) */
	unsigned long connects;		/* successful connections */
};

/* Parse warden_cluster (redis://host:port/db, rediss://..., unix:/path)
 * into a; host must be an address or resolve now. 0, or -1 and err. */
int cconn_parse(const char *url, struct caddr *a, char *err, size_t errlen);
/* Start connecting c (fields above set by the caller, fd = -1). */
void cconn_start(struct cconn *c);
/* Send a command; fn (may be NULL) gets its reply. -1 (nothing sent)
 * when c is not up or its output is full. */
int cconn_send(struct cconn *c, int argc, const char *const *argv, cconn_reply_fn *fn, void *arg);
/* Close c for good (at exit). */
void cconn_close(struct cconn *c);
#endif
