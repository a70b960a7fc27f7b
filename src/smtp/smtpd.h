/*
 * smtpd — internals shared by the files of the smtp engine (engine.c,
 * session.c, cmd.c, data.c, commit.c). Not included outside src/smtp/.
 */
#ifndef MW_SMTPD_H
#define MW_SMTPD_H
#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>

#include <stdint.h>
#include <sys/types.h>

#include "common/buf.h"
#include "common/loop.h"
#include "mail/spool.h"

struct config;
struct resolver;
struct cidrlist;
struct restrictions;
struct policy_ctx;
struct dnsbl_q;
struct ssl_st;
struct sasl;
struct sasl_req;
struct maplist;
struct banfile;
struct engine_listener;
struct session;

/* Listener roles, as master.cf service names. */
enum smtp_role { ROLE_SMTP, ROLE_SUBMISSION, ROLE_SMTPS };

/* Per-role settings, read once from the config. */
struct role_cfg {
	const char *name;		/* "smtp", "submission", "smtps" */
	struct restrictions *relay;	/* smtpd_relay_restrictions */
	struct restrictions *client;	/* smtpd_client_restrictions */
	struct restrictions *helo;	/* smtpd_helo_restrictions */
	struct restrictions *sender;	/* smtpd_sender_restrictions */
	struct restrictions *recipient;	/* smtpd_recipient_restrictions */
	struct restrictions *data;	/* smtpd_data_restrictions */
	int delay_reject;		/* smtpd_delay_reject */
	int pregreet;			/* pregreet test on this listener (port 25 only) */
	int require_helo;		/* smtpd_helo_required */
	int tls_encrypt;		/* smtpd_tls_security_level = encrypt */
	int tls_may;			/* STARTTLS offered (may or encrypt, with a certificate) */
	int wrappermode;		/* smtpd_tls_wrappermode: TLS from the first byte */
	int sasl_enable;		/* smtpd_sasl_auth_enable */
	int auth_required;		/* MAIL needs AUTH first (submission, smtps) */
};

/* A listener of the engine, the argument of its accept callback. */
struct engine_port {
	struct engine *eng;
	int fd;
	enum smtp_role role;
};

/* /etc/hosts: address -> first name. */
struct engine_host {
	char *addr, *name;
};

/* Group commit (commit.c): sessions whose file waits for the sync. */
struct commit_state {
	struct session *pending;	/* the next batch */
	struct session *inflight;	/* the batch the worker is flushing */
	int scheduled, syncing;
	int qmgr_missed;		/* a hint was lost: ask for a full scan */
	int efd_req, efd_done;		/* eventfds to and from the worker, -1 before */
	volatile int sync_rc, sync_errno;
};

/* anvil.c: per client network counters (see anvil_key). */
#define ANVIL_BUCKETS	16384
struct anvil_ent;
struct anvil_table {
	struct anvil_ent *bucket[ANVIL_BUCKETS];
	uint64_t seed;
	size_t nents;
	uint64_t last_sweep;
	int full_logged;
	long v4_prefix, v6_prefix;	/* smtpd_client_ipv{4,6}_prefix_length */
	long unit_ms;			/* anvil_rate_time_unit */
};

struct auth_client;
struct greet_pass;

/* Engine-wide state: config values read once at start, and the tables
 * every session shares. A session reaches it as s->eng. */
struct engine {
	const struct config *cfg;
	struct resolver *resolver;
	struct cidrlist *mynetworks;
	struct cidrlist *bare_lf_exclusions;
	struct role_cfg roles[3];
	const char *myhostname;
	const char *banner;
	long size_limit;
	long rcpt_limit;
	long timeout_ms;
	long hard_error_limit;
	long soft_error_limit;
	long error_sleep_ms;
	long junk_limit;
	long line_limit;
	int disable_vrfy;
	int bare_lf;			/* BARE_LF_NORMALIZE, _REJECT, _ALLOW */
	int incoming_fd;		/* queue_directory/incoming */
	int master_fd;			/* socketpair to the master (typed msg) */
	int draining;
	int peername_lookup;		/* smtpd_peername_lookup */
	long greet_wait_ms;		/* postscreen_greet_wait */
	int greet_action;		/* ACTION_* for postscreen_greet_action */
	const char *greet_banner;	/* postscreen_greet_banner */
	long greet_ttl_ms;
	char **dnsbl_sites;		/* postscreen_dnsbl_sites */
	long dnsbl_threshold;
	long dnsbl_allow_threshold;
	int dnsbl_action;
	size_t nsessions;
	size_t session_limit;		/* default_process_limit: most open sessions */
	long conn_count_limit;		/* smtpd_client_connection_count_limit, 0 = none */
	long conn_rate_limit;		/* smtpd_client_connection_rate_limit */
	long mail_rate_limit;		/* smtpd_client_message_rate_limit */
	long rcpt_rate_limit;		/* smtpd_client_recipient_rate_limit */
	long tls_rate_limit;		/* smtpd_client_new_tls_session_rate_limit */
	struct cidrlist *limit_exceptions;	/* smtpd_client_event_limit_exceptions */
	int per_request_deadline;	/* smtpd_per_request_deadline */
	long min_data_rate;		/* smtpd_min_data_rate, bytes/s */
	long starttls_timeout_ms;	/* smtpd_starttls_timeout */
	int stress;			/* stress mode (limits.c) */
	char smtp_port[16];		/* port of the smtp listener, for the stress warning */
	int accept_paused;		/* listeners unwatched at the limit */
	/* TLS and AUTH */
	int tls_auth_only;		/* smtpd_tls_auth_only */
	int tls_received_header;	/* smtpd_tls_received_header */
	int tls_loglevel;		/* smtpd_tls_loglevel */
	struct sasl *sasl;		/* password backend, NULL if AUTH is off everywhere */
	struct maplist *sender_login_maps;
	long auth_rate_limit;		/* smtpd_client_auth_rate_limit */
	long rate_unit_ms;		/* anvil_rate_time_unit */
	long auth_delay_ms;		/* smtpd_sasl_failure_delay */
	int warden_fd;			/* write end of the master's event socketpair, -1 if none */
	int spool_dirfd;		/* queue_directory, for warden/bans */
	struct banfile *bans;		/* the ban engine's list, checked at accept */
	const char *mail_name;		/* mail_name, for the Received header */
	/* Listeners handed over by the master (engine.c). */
	struct engine_port *ports;
	size_t nports;
	const struct session_io *io;	/* sockets, or a test's fake I/O */
	struct engine_host *hosts;	/* /etc/hosts, read before chroot */
	size_t nhosts;
	struct loop_timer stop_timer;	/* SIGTERM: cut what is left after 10 s */
	/* Every live session, for drain and stress mode (session.c). */
	struct session **all;
	size_t nall, all_cap;
	struct commit_state commit;	/* group commit (commit.c) */
	struct anvil_table anvil;	/* per client network counters (anvil.c) */
	struct auth_client *auth_clients;	/* AUTH rate and failures (auth.c) */
	uint64_t auth_seed;
	struct greet_pass *greet_cache;	/* pregreet passes (connect.c) */
	int policy_instances;		/* policy "instance" counter (check.c) */
};

#define ACTION_IGNORE  0
#define ACTION_ENFORCE 1
#define ACTION_DROP    2

#define BARE_LF_NORMALIZE 0
#define BARE_LF_REJECT    1
#define BARE_LF_ALLOW     2


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
	uint64_t deadline;		/* per-request deadline in DATA (loop_now ms) */
	char name[256];			/* client host name or "unknown" */
	char client[256 + INET6_ADDRSTRLEN + 3];	/* session_client()'s text */
	char rname[256];		/* reverse (PTR) name, even unconfirmed, or "unknown" */
	int name_status, rname_status;	/* enum policy_name_status */
	uint64_t dns_id;		/* rDNS lookup in flight, 0 if none */
	int rdns_done;
	int greet_wait;			/* pregreet test running */
	int greet_done;
	uint64_t greet_start;		/* loop_now() when the teaser went out */
	int pregreet;			/* bytes received before the greeting */
	struct loop_timer greet_timer;
	int dnsbl_pending;		/* postscreen_dnsbl_sites queries in flight */
	int dnsbl_score;
	char dnsbl_site[128];		/* the listing site with the largest weight */
	struct dnsbl_q *dnsbl_q;	/* connect.c */
	const char *connect_reject;	/* enforce: reject mail with this reply */
	struct policy_ctx *pctx;	/* restriction state of this transaction */
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
 * session.c (session_socket_io), or a test's fake I/O. */
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
extern const struct session_io session_socket_io;

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

/* connect.c: before the greeting */
void connect_start(struct session *s);
void connect_input(struct session *s, const char *p, size_t n);
void connect_cancel(struct session *s);

/* check.c: restriction lists for a command; 0 go on, -1 rejected (reply
 * queued and logged), 1 pending (session waits, the command runs again) */
int check_helo(struct session *s);
int check_mail(struct session *s);
int check_rcpt(struct session *s, const char *rcpt, int is_ours, int known,
    const char *table);
int check_data(struct session *s);
void check_end_transaction(struct session *s);
void check_cancel(struct session *s);
void check_set_line(const char *line);

/* cmd.c */
void cmd_dispatch(struct session *s, char *line, size_t len);
/* MAIL FROM:/RCPT TO: path parser (in place); the address or NULL (fuzzing). */
char *cmd_parse_path(char *arg, const char *prefix, char **params);
/* "250-" capability lines after EHLO (cmd.c) */
void cmd_ehlo_reply(struct session *s);

/* auth.c: the AUTH command and its exchange */
int auth_cmd(struct session *s, char *arg);
/* A response line during an exchange (s->auth_step != AUTH_NONE). */
void auth_input(struct session *s, char *line, size_t len);
/* AUTH offered to this session now? */
int auth_offered(const struct session *s);
void auth_cancel(struct session *s);
/* AUTH's base64 decoder (padding required); decoded length or -1 (fuzzing). */
long auth_b64_decode(const char *in, char *out, size_t outlen);
/* Split a decoded PLAIN response (n bytes, NUL-terminated at buf[n])
 * "[authzid] NUL authcid NUL passwd" into *user and *pass; -1 if malformed. */
int auth_plain_split(const char *buf, size_t n, const char **user, const char **pass);
/* Tell the ban engine (datagram; dropped if it is not running). */
void warden_event(struct session *s, int kind, const char *user, const char *text);

/* session.c: TLS */
void session_starttls(struct session *s);

/* data.c */
int data_begin(struct session *s);
/* Feed raw bytes; returns bytes consumed (stops after end of data). */
size_t data_feed(struct session *s, const char *p, size_t n);

/* commit.c */
void commit_add(struct session *s);
void commit_forget(struct session *s);
void commit_notify_qmgr(struct engine *e, const char *id);

/* engine.c: the engine's state from the config, the queue directory and
 * the listeners, without privileges, DNS or signals (engine_main does
 * those; tests and the fuzzer stop here). fatal() on a bad config. */
void engine_setup(struct engine *e, const struct config *cfg,
    const struct engine_listener *l, size_t n, int master_fd, int warden_fd);
/* engine.c: host name of an address from /etc/hosts, or "unknown". */
const char *engine_hostname(const struct engine *e, const char *addr);
/* 1 if the ban engine has banned addr; jail gets the jail's name. */
int engine_banned(struct engine *e, const char *addr, char *jail, size_t jlen);
/* At default_process_limit: stop accepting (clients wait in the listen
 * backlog, as with Postfix's process limit); resume below it. */
void engine_accept_pause(struct engine *e);
void engine_accept_resume(struct engine *e);
/* anvil.c: per client network (see anvil_key). Open sessions: +1 at
 * accept, -1 at the end of the session. */
enum anvil_rate { ANVIL_CONN, ANVIL_MAIL, ANVIL_RCPT, ANVIL_NEWTLS, ANVIL_NRATES };
/* The client's network as text ("192.0.2.1", "2001:db8::/64"). */
void anvil_key(const struct anvil_table *a, const char *addr, char *key, size_t len);
unsigned anvil_open(struct anvil_table *a, const char *key);
unsigned anvil_count(struct anvil_table *a, const char *key);
void anvil_close(struct anvil_table *a, const char *key);
/* Rate in the current anvil_rate_time_unit, after adding one if add. */
unsigned anvil_rate(struct anvil_table *a, const char *key, enum anvil_rate r, int add);
/* Clients in the table (for tests and logs). */
size_t anvil_clients(const struct anvil_table *a);
/* Free every entry (tests). */
void anvil_clear(struct anvil_table *a);

/* limits.c: the smtpd_client_*_rate_limit checks (0 go on; -1 refused:
 * warning logged, event sent, reply queued, CLOSING where Postfix
 * disconnects), stress mode and the values it changes. */
int limit_connect(struct session *s);
int limit_mail(struct session *s);
int limit_rcpt(struct session *s);
int limit_starttls(struct session *s);
int limit_tls_handshake(struct session *s);
int limit_tls_wrapper(struct session *s);
void limit_stress_check(struct engine *e);
long limit_timeout_ms(const struct engine *e);
long limit_hard_errors(const struct engine *e);
long limit_junk(const struct engine *e);
long limit_starttls_timeout_ms(const struct engine *e);
int limit_deadline(const struct engine *e);
/* The idle/deadline timer of a session after n bytes of input (n = 0:
 * a new request begins). */
void limit_arm_timer(struct session *s, size_t n);
#endif
