/*
 * engine_int — the smtp engine's own state (struct engine: config values
 * read once, per-role settings, the tables every session shares) and the
 * engine-wide functions of engine.c and commit.c. For the files of
 * src/smtp/ (and its tests); the master sees only engine.h.
 */
#ifndef MW_SMTP_ENGINE_INT_H
#define MW_SMTP_ENGINE_INT_H
#include <stddef.h>
#include <stdint.h>

#include "common/loop.h"
#include "mail/checks.h"
#include "milter/milter.h"
#include "policy/restrict.h"
#include "smtp/anvil.h"
#include "smtp/engine.h"

struct config;
struct resolver;
struct cidrlist;
struct restrictions;
struct sasl;
struct maplist;
struct banfile;
struct tls_server;

/* Per-role settings, read once from the config. */
struct role_cfg {
	const char *name;		/* "smtp", "submission", "smtps", a named listener's */
	/* one per row of policy's restriction_lists (RL_CLIENT ...) */
	struct restrictions *lists[RL_COUNT];
	int delay_reject;		/* smtpd_delay_reject */
	int pregreet;			/* pregreet test on this listener (port 25 only) */
	int require_helo;		/* smtpd_helo_required */
	int tls_encrypt;		/* smtpd_tls_security_level = encrypt */
	int tls_may;			/* STARTTLS offered (may or encrypt, with a certificate) */
	int wrappermode;		/* smtpd_tls_wrappermode: TLS from the first byte */
	int sasl_enable;		/* smtpd_sasl_auth_enable */
	int auth_required;		/* MAIL needs AUTH first (submission, smtps) */
	const char *content_filter;	/* content_filter: "" or transport:destination */
	/* receive_override_options */
	int no_unknown_rcpt;		/* no_unknown_recipient_checks */
	int no_address_mappings;	/* aliases/virtual not applied (see qmgr) */
	int no_header_body_checks;	/* no header_checks, body_checks */
	int no_milters;			/* no smtpd_milters */
	int tls_auth_only;		/* smtpd_tls_auth_only */
	int reject_unlisted;		/* smtpd_reject_unlisted_recipient */
	long hard_error_limit;		/* smtpd_hard_error_limit */
	long soft_error_limit;		/* smtpd_soft_error_limit */
	long error_sleep_ms;		/* smtpd_error_sleep_time */
	long conn_count_limit;		/* smtpd_client_connection_count_limit, 0 = none */
	long conn_rate_limit;		/* smtpd_client_connection_rate_limit, 0 = none */
	const char *milter_daemon_name;	/* milter_macro_daemon_name ({daemon_name}) */
	struct cidrlist *mynetworks;	/* mynetworks (the engine's unless overridden) */
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

struct auth_client;
struct greet_pass;
struct session;
struct session_io;

/* Engine-wide state: config values read once at start, and the tables
 * every session shares. A session reaches it as s->eng. */
struct engine {
	const struct config *cfg;
	struct resolver *resolver;
	struct cidrlist *mynetworks;
	struct cidrlist *bare_lf_exclusions;
	struct role_cfg roles[SMTP_NROLES];
	const char *myhostname;
	const char *banner;
	long size_limit;
	long rcpt_limit;
	long timeout_ms;
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
	struct tls_server *tls;		/* certificates (tls.c), read before chroot */
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
	/* header/body checks (cleanup.c) */
	struct checks_tables checks;
	struct maplist *milter_hbc;	/* milter_header_checks */
	/* milters (milters.c) */
	struct milter_params milter_params;
	struct milter_list *milters[SMTP_NROLES];	/* smtpd_milters per listener */
	struct maplist *milter_maps;	/* smtpd_milter_maps */
	const char *milter_v;		/* milter_macro_v */
};

#define ACTION_IGNORE  0
#define ACTION_ENFORCE 1
#define ACTION_DROP    2

#define BARE_LF_NORMALIZE 0
#define BARE_LF_REJECT    1
#define BARE_LF_ALLOW     2


/* engine.c: the engine's state from the config, the queue directory and
 * the listeners, without privileges, DNS or signals (engine_main does
 * those; tests and the fuzzer stop here). fatal() on a bad config. */
void engine_setup(struct engine *e, const struct config *cfg,
    const struct engine_listener *l, size_t n, int master_fd, int warden_fd);
/* Host name of an address from /etc/hosts, or "unknown". */
const char *engine_hostname(const struct engine *e, const char *addr);
/* 1 if the ban engine has banned addr; jail gets the jail's name. */
int engine_banned(struct engine *e, const char *addr, char *jail, size_t jlen);
/* At default_process_limit: stop accepting (clients wait in the listen
 * backlog, as with Postfix's process limit); resume below it. */
void engine_accept_pause(struct engine *e);
void engine_accept_resume(struct engine *e);

/* commit.c: group commit of queue files. */
void commit_add(struct session *s);
void commit_forget(struct session *s);
void commit_notify_qmgr(struct engine *e, const char *id);
#endif
