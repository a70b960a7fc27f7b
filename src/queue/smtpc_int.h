/*
 * smtpc_int — what smtpc.c (connection: sockets, TLS, timers, events,
 * public API) and smtpc_proto.c (the dialogue: replies, EHLO/STARTTLS/
 * AUTH, one message's commands and body) share. Private to those two.
 */
#ifndef MW_SMTPC_INT_H
#define MW_SMTPC_INT_H
#include <stddef.h>
#include <openssl/ssl.h>

#include "common/buf.h"
#include "common/loop.h"
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
	int auth_offered;		/* EHLO had AUTH (any mechanism) */
	int helo_fallback;
	char relay[640], host[640];	/* "name[ip]:port", "name[ip]" */
	char why[600];			/* last connection-level failure */
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

/* smtpc.c */
/* (Re)arm the stage timeout. */
void smtpc_set_timer(struct smtpc *c, long secs);
/* Watch the socket for reading, and writing while output is queued. */
void smtpc_update_watch(struct smtpc *c);
/* Queue one command line (CRLF added). */
void smtpc_sendf(struct smtpc *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Multi-line reply text to one line. */
void smtpc_flat(char *text);
/* The message is finished: hand it back to the owner. */
void smtpc_msg_done(struct smtpc *c);
/* The connection failed: next address, or defer/bounce what is left. */
void smtpc_conn_fail(struct smtpc *c, const char *dsn, int perm, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Start the TLS handshake after "220" to STARTTLS. */
void smtpc_tls_begin(struct smtpc *c);
/* Take one reply off c->in: 1 (code, lines joined by '\n'), 0 incomplete, -1 bad. */
int smtpc_get_reply(struct smtpc *c, int *code, char *text, size_t len);

/* smtpc_proto.c */
/* Set a recipient's result. */
void smtpc_rcpt_set(struct smtpc_rcpt *r, enum smtpc_status st, const char *dsn,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* What the client was doing, for "... while X" texts. */
const char *smtpc_stage(const struct smtpc *c);
/* Note the EHLO/LHLO reply text's extensions in c (fuzzing). */
void smtpc_ehlo_features(struct smtpc *c, const char *text);
/* Send EHLO (LHLO for LMTP). */
int smtpc_send_ehlo(struct smtpc *c);
/* A reply before the first message (greeting, EHLO, STARTTLS, AUTH). */
void smtpc_setup_reply(struct smtpc *c, int code, char *text);
/* Start the current message: [RSET] MAIL RCPT... DATA. */
void smtpc_xact_begin(struct smtpc *c);
/* Queue more of the body while the output buffer is low. */
void smtpc_body_fill(struct smtpc *c);
/* A reply during a message; 0 when the message was handed back. */
int smtpc_xact_reply(struct smtpc *c, int code, char *text);
#endif
