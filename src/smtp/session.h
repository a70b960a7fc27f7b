/*
 * session — one SMTP client connection as the engine's files see it:
 * struct session, its states, the I/O seam (struct session_io) and the
 * functions of session.c (replies, flushing, errors, closing).
 */
#ifndef MW_SMTP_SESSION_H
#define MW_SMTP_SESSION_H
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "common/buf.h"
#include "common/loop.h"
#include "smtp/engine.h"

struct engine;
struct policy_ctx;
struct dnsbl_q;
struct ssl_st;
struct sasl_req;
struct spool_writer;
struct session_milter;
struct session_cleanup;
struct session_dkim;

/* Command counters for the "disconnect from" line, in Postfix's order. */
enum smtp_cmd_id {
	CMD_HELO, CMD_EHLO, CMD_STARTTLS, CMD_AUTH, CMD_MAIL, CMD_RCPT, CMD_DATA,
	CMD_RSET, CMD_NOOP, CMD_VRFY, CMD_QUIT, CMD_HELP, CMD_UNKNOWN, CMD_COUNT
};

enum smtp_state {
	SMTP_ST_CONNECT,	/* before the greeting: rDNS, pregreet wait, DNSBL */
	SMTP_ST_WAIT,		/* a restriction is waiting for DNS or a policy server */
	SMTP_ST_CMD,		/* reading commands */
	SMTP_ST_DATA,		/* reading message content */
	SMTP_ST_COMMIT,		/* message written, waiting for the group sync */
	SMTP_ST_CLOSING,	/* flushing the last reply, then close */
};

struct session {
	struct engine *eng;
	int fd;
	enum smtp_role role;
	enum smtp_state state;
	char addr[INET6_ADDRSTRLEN];	/* client address text */
	char akey[INET6_ADDRSTRLEN + 5];	/* anvil key: the client's network */
	int limit_exempt;		/* in smtpd_client_event_limit_exceptions */
	int out_blocked;		/* output over its high-water mark: input waits */
	uint64_t deadline;		/* per-request deadline in DATA (clock_mono_ms) */
	char name[256];			/* client host name or "unknown" */
	char client[256 + INET6_ADDRSTRLEN + 3];	/* session_client()'s text */
	char rname[256];		/* reverse (PTR) name, even unconfirmed, or "unknown" */
	int name_status, rname_status;	/* enum policy_name_status */
	uint64_t dns_id;		/* rDNS lookup in flight, 0 if none */
	int rdns_done;
	int greet_wait;			/* pregreet test running */
	int greet_done;
	uint64_t greet_start;		/* clock_mono_ms() when the teaser went out */
	int pregreet;			/* bytes received before the greeting */
	struct loop_timer greet_timer;
	int dnsbl_pending;		/* postscreen_dnsbl_sites queries in flight */
	int dnsbl_score;
	char dnsbl_site[128];		/* the listing site with the largest weight */
	struct dnsbl_q *dnsbl_q;	/* connect.c */
	const char *connect_reject;	/* enforce: reject mail with this reply */
	struct policy_ctx *pctx;	/* restriction state of this transaction */
	const char *cur_line;		/* the command being run (cmd_dispatch), kept
					 * as retry_line if a restriction waits */
	char *retry_line;		/* command to run again after POLICY_PENDING */
	int retrying;			/* re-running retry_line: do not count it again */
	int input_pending;		/* more client input was waiting (pipelining) */
	int pipelining_violation;	/* sticky: see cmd_dispatch */
	unsigned port;
	int in_mynetworks;
	int bare_lf_ok;			/* in smtpd_forbid_bare_newline_exclusions */
	int skipping;			/* discarding the rest of an overlong line */
	char *helo;
	int esmtp;			/* EHLO was used */
	char *sender;			/* NULL: no MAIL yet */
	char **rcpt;
	size_t nrcpt, rcpt_cap;
	long declared_size;
	unsigned errors;		/* error counter (soft/hard limits) */
	unsigned junk;			/* NOOP/VRFY/RSET count */
	unsigned cmd_ok[CMD_COUNT], cmd_total[CMD_COUNT];
	const char *last_cmd;		/* for "timeout after X" */
	struct buf in;			/* unparsed input (allocated lazily) */
	struct buf out;			/* pending output */
	struct buf stash;		/* input read while waiting (commit, sleep) */
	struct loop_timer timer;	/* idle timeout */
	struct loop_timer sleep;	/* error sleep before next reply */
	int sleeping;
	/* DATA state. */
	struct spool_writer *w;
	size_t data_size;
	int data_too_big;
	int data_bare_lf;
	int data_bol;			/* at the beginning of a line */
	int data_prev_crlf;		/* the previous line ended in CRLF */
	struct buf dline;		/* the current content line */
	int data_in_headers;
	char *message_id;
	struct buf hdrline;		/* current header line, for Message-ID */
	struct session *commit_next;	/* group-commit list */
	struct timespec data_arrival;	/* when DATA began (the queue file's T) */
	struct session_milter *milt;	/* milters.c, NULL without milters */
	struct session_cleanup *cleanup;	/* cleanup.c: checks and message actions */
	struct session_dkim *dkim;	/* dkimverify.c: inbound DKIM results, NULL before */
	/* TLS */
	struct ssl_st *ssl;
	int tls;			/* TLS_OFF, TLS_HANDSHAKE, TLS_ON */
	int tls_start;			/* STARTTLS answered 220: handshake once it is out */
	int tls_wrapper;		/* implicit TLS: greet after the handshake */
	char *tls_info;			/* tls_summary(), for the Received header */
	/* AUTH (auth.c) */
	int auth_step;			/* AUTH_* exchange in progress */
	char *auth_mech;		/* "PLAIN" or "LOGIN" during an exchange */
	char *auth_login;		/* LOGIN: user name given, password pending */
	char *sasl_username;		/* after 235 */
	const char *sasl_method;
	struct sasl_req *auth_req;	/* password check in flight */
	unsigned auth_failures;		/* this session's 535 count */
};

#define TLS_OFF 0
#define TLS_HANDSHAKE 1
#define TLS_ON 2

#define AUTH_NONE 0
#define AUTH_PLAIN_RESP 1		/* sent "334 ", waiting for the PLAIN response */
#define AUTH_LOGIN_USER 2		/* sent "334 VXNlcm5hbWU6" */
#define AUTH_LOGIN_PASS 3		/* sent "334 UGFzc3dvcmQ6" */
#define AUTH_CHECKING 4			/* the backend is checking */

/* How a session reads, writes and waits: the sockets and TLS of
 * sock.c (sock_session_io), or a test's fake I/O. */
struct session_io {
	/* >0 bytes, 0 end of input, -1 and errno (EAGAIN: nothing now) */
	ssize_t (*recv)(struct session *s, char *buf, size_t len);
	ssize_t (*send)(struct session *s, const char *buf, size_t len);
	/* Wait for LOOP_READ|LOOP_WRITE (0: for nothing); session_event() then. */
	void (*watch)(struct session *s, int events);
	void (*close)(struct session *s);
	/* Begin the TLS handshake (after STARTTLS's 220 is out, or at accept). */
	void (*starttls)(struct session *s);
};
extern const struct session_io sock_session_io;
/* sock.c: one step of the TLS handshake (session_event while TLS_HANDSHAKE). */
void sock_tls_step(struct session *s);
/* sock.c: idle callback for input OpenSSL has decrypted but epoll cannot
 * see: read it as if the socket fired. */
void sock_pending(void *arg);

/* session.c */
void session_accept(struct engine *e, int lfd, enum smtp_role role);
/* A new session on fd (accepted, or a test's): greets, starts the TLS
 * handshake (implicit TLS) or is refused. Returns s, which is already
 * freed if the io's close() was called meanwhile. */
struct session *session_open(struct engine *e, int fd, enum smtp_role role,
    const char *addr, unsigned port);
/* The session's descriptor is ready (LOOP_READ/LOOP_WRITE); may free s. */
void session_event(struct session *s, int events);
void session_reply(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void session_flush(struct session *s);
void session_close(struct session *s, const char *why);
void session_resume(struct session *s);
void session_error(struct session *s);
const char *session_client(struct session *s);
void session_reset_transaction(struct session *s);
void session_drain_all(struct engine *e);
/* Hold replies and input for ms, then go on (error sleep, AUTH delay). */
void session_sleep_then_resume(struct session *s, long ms);
/* The idle timer's callback: 421 timeout and close. */
void session_timeout(void *arg);
/* Stress mode began: no session waits longer than its new timeout. */
void session_stress_all(struct engine *e);

#endif
