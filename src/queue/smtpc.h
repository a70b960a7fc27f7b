/*
 * smtpc — the SMTP and LMTP client of the queue process, one connection
 * per object, driven by the event loop, never blocking:
 *   connect (next address on failure) -> banner -> EHLO (HELO after a
 *   5xx; LHLO for LMTP) -> STARTTLS when offered and wanted (a server
 *   that sends anything after its 220 before the handshake is refused:
 *   response injection) -> EHLO -> AUTH PLAIN/LOGIN when credentials
 *   are given and smtp_sasl_[tls_]security_options allow them (else the
 *   mail is deferred, never sent in clear) -> messages:
 *   [RSET] MAIL FROM (SIZE=, BODY=8BITMIME when offered) RCPT... DATA
 *   (pipelined when PIPELINING is offered) -> body (LF, bare CR -> CRLF,
 *   dot-stuffed, streamed from the queue file) -> "." -> one reply (SMTP)
 *   or one reply per accepted recipient (LMTP, RFC 2033).
 * A connection stays open after a message, so the owner can send the
 * next one (smtpc_send) or close it (smtpc_quit). Each stage has its own
 * timeout (Postfix's smtp_*_timeout).
 */
#ifndef MW_SMTPC_H
#define MW_SMTPC_H
#include <stddef.h>
#include <sys/types.h>

#include "queue/nexthop.h"

struct config;
struct smtpc;

/* Settings shared by every connection (read once). */
struct smtpc_conf {
	char helo[256];
	long t_connect, t_helo, t_starttls, t_mail, t_rcpt, t_data_init, t_data_xfer,
	    t_data_done, t_quit;
	int tls_level;			/* SMTPC_TLS_* */
	int tls_loglevel;
	int sasl_plain_ok;		/* smtp_sasl_security_options allow PLAIN/LOGIN */
	int sasl_tls_plain_ok;		/* smtp_sasl_tls_security_options allow them */
	struct ssl_ctx_st *ssl_ctx;	/* NULL when TLS is off */
};

enum { SMTPC_TLS_NONE, SMTPC_TLS_MAY, SMTPC_TLS_ENCRYPT, SMTPC_TLS_VERIFY };

enum smtpc_status { SMTPC_SENT, SMTPC_DEFER, SMTPC_BOUNCE };

/* One recipient of a message and, afterwards, its result. */
struct smtpc_rcpt {
	const char *addr;
	enum smtpc_status st;
	char dsn[16];
	char why[600];			/* Postfix's text inside "status=... (...)" */
	int accepted;			/* RCPT got 2xx */
};

/* One message to deliver over a connection. */
struct smtpc_msg {
	const char *sender;
	struct smtpc_rcpt *rcpt;
	size_t nrcpt;
	int body_fd;
	off_t body_off;
	size_t body_len;
	double t_conn, t_xfer;		/* when connecting began / MAIL FROM was sent */
	int remote;			/* the server answered: Remote-MTA is known */
};

/* Called when a message is finished (every recipient has a result) or,
 * with msg == NULL, when an idle connection went away. */
typedef void smtpc_fn(struct smtpc *c, struct smtpc_msg *msg, void *arg);

/* Read settings and make the TLS context; -1 + err on error. */
int smtpc_conf_init(struct smtpc_conf *sc, const struct config *cfg, char *err, size_t errlen);
void smtpc_conf_free(struct smtpc_conf *sc);
/* Warn (check-config, start) when AUTH PLAIN/LOGIN may go out without TLS. */
void smtpc_conf_warn(const struct config *cfg);

/* Open a connection to the first address that answers and deliver msg.
 * user/pass (may be NULL): AUTH to this next hop. lmtp: LHLO and LMTP
 * replies. fn runs once per message. Never NULL. */
struct smtpc *smtpc_open(const struct smtpc_conf *sc, const struct nh_addr *addrs, size_t n,
    int lmtp, const char *user, const char *pass, struct smtpc_msg *msg,
    smtpc_fn *fn, void *arg);
/* Deliver another message over an idle connection (RSET first). */
void smtpc_send(struct smtpc *c, struct smtpc_msg *msg);
/* Whether an idle connection can take another message. */
int smtpc_usable(const struct smtpc *c);
/* QUIT (no wait for the reply) and free. */
void smtpc_quit(struct smtpc *c);
/* "mx.example[192.0.2.1]:25" of the current peer ("none" before any). */
const char *smtpc_relay(const struct smtpc *c);
/* The host name of the current peer (Remote-MTA). */
const char *smtpc_peer_name(const struct smtpc *c);

/* Pure helpers (unit tests): enhanced status code in a reply text or
 * derived from the reply code ("550" -> "5.0.0"); LF, CRLF and bare CR
 * -> CRLF with dot-stuffing of a chunk (*st carried over: 1 at the
 * beginning of a line; start with 1; out needs 2 * n + 2 bytes); the
 * end of the body (CRLF unless at the beginning of a line; out: 2 bytes);
 * and whether smtp_sasl_*security_options let PLAIN/LOGIN out. */
void smtpc_reply_dsn(const char *reply, char *dsn, size_t len);
size_t smtpc_stuff(const char *in, size_t n, char *out, int *st);
size_t smtpc_stuff_end(char *out, int *st);
int smtpc_sasl_plain_ok(const char *opts);
#endif
