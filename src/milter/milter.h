/*
 * milter — the client side of the Sendmail milter protocol (version 6, as
 * Postfix speaks it) for the smtp engine: the list of milters of a
 * listener (smtpd_milters), one set of connections per SMTP session,
 * each event (connect, helo, mail, rcpt, data, the message) sent to every
 * milter in turn on the engine's event loop, and the verdict and the
 * message changes the milters asked for. Knows no SMTP session: the
 * engine gives the values of the macros through a callback and applies
 * the result itself (docs/milter.md).
 */
#ifndef MW_MILTER_H
#define MW_MILTER_H
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/buf.h"

/* Macro stages, numbered as libmilter's SMFIM_* (the OPTNEG lists). */
enum milter_mstage {
	MILTER_M_CONNECT, MILTER_M_HELO, MILTER_M_MAIL, MILTER_M_RCPT,
	MILTER_M_DATA, MILTER_M_EOM, MILTER_M_EOH,
	MILTER_M_UNKNOWN,	/* ours (milter_unknown_command_macros): no SMFIM_ number */
	MILTER_M_COUNT
};

/* What a milter failure (no connection, timeout, garbage) does. */
enum milter_action {
	MILTER_ACT_TEMPFAIL, MILTER_ACT_REJECT, MILTER_ACT_ACCEPT, MILTER_ACT_QUARANTINE
};

/* The global milter_* parameters, read once by the engine. */
struct milter_params {
	int protocol;			/* milter_protocol, 2..6 */
	enum milter_action default_action;	/* milter_default_action */
	long connect_ms, command_ms, content_ms;
	char **macros[MILTER_M_COUNT];	/* milter_*_macros lists */
	char **macro_defaults;		/* milter_macro_defaults: name, value, ..., NULL */
	size_t conn_limit;		/* milter_connection_limit */
	const char *queue_dir;		/* queue_directory: unix: paths under it */
	int chrooted;			/* the engine runs chrooted in queue_dir */
	int numeric_only;		/* inet: addresses only (a list parsed while
					 * serving: no blocking name lookup) */
};

/* One milter of a list: where it listens and its own settings. */
struct milter_spec {
	char *name;			/* "inet:127.0.0.1:8891", "unix:path" */
	struct sockaddr_storage sa;
	socklen_t salen;
	enum milter_action default_action;
	long connect_ms, command_ms, content_ms;
	int protocol;
};

/* A parsed smtpd_milters / non_smtpd_milters value. */
struct milter_list {
	struct milter_spec *v;
	size_t n;
};

/* The verdict of an event over all milters. */
enum milter_verdict {
	MILTER_CONTINUE,	/* go on (accept, continue, or nothing to ask) */
	MILTER_REJECT,		/* reply (4xx or 5xx) in result.reply */
	MILTER_DISCARD,		/* accept the message and throw it away */
	MILTER_PENDING,		/* asked; the done callback comes later */
};

/* One change a milter asked for at the end of the message. */
enum milter_edit_type {
	MILTER_E_ADDHDR, MILTER_E_INSHDR, MILTER_E_CHGHDR, MILTER_E_ADDRCPT,
	MILTER_E_DELRCPT, MILTER_E_CHGFROM,
};
struct milter_edit {
	enum milter_edit_type type;
	uint32_t index;			/* INSHDR: position; CHGHDR: n-th of that name */
	char *name;			/* header name, or the address */
	char *value;			/* header value (NULL: delete) */
	int leadspc;			/* value came with its own leading space */
};

/* What the milters said about the current event. */
struct milter_result {
	enum milter_verdict verdict;
	char reply[1024];		/* MILTER_REJECT: the whole SMTP reply */
	char milter[128];		/* the milter that decided, for the log */
	int hold;			/* quarantine: into the hold queue */
	char hold_reason[256];
	struct milter_edit *edits;	/* end of message: the changes, in order */
	size_t nedits, edits_cap;
	int body_replaced;		/* body holds the new body (LF endings) */
	struct buf body;
};

/* The value of a macro ("i", "{client_addr}") now, or NULL if unknown. */
typedef const char *milter_macro_fn(void *arg, const char *name);
/* An event that returned MILTER_PENDING has its result. */
typedef void milter_done_fn(void *arg);

struct milter_sess;

struct config;
/* milter_conf.c: the milter_* parameters of cfg into p (chrooted and
 * numeric_only are left to the caller). 0, or -1 and err (a bad
 * milter_macro_defaults). */
int milter_params_read(struct milter_params *p, const struct config *cfg, char *err, size_t errlen);
/* milter_macro_defaults ("a=b, { c = d e }") into name, value, ..., NULL
 * (*out NULL when empty). 0, or -1 and err. */
int milter_macro_defaults_parse(const char *value, char ***out, char *err, size_t errlen);
void milter_macro_defaults_free(char **v);
/* The milter_macro_defaults value of macro name, or NULL. */
const char *milter_macro_default(const struct milter_params *p, const char *name);
/* Parse a list ("inet:h:p, { unix:p, default_action=accept }").
 * NULL (empty list) or the list; on error NULL and err set. */
struct milter_list *milter_list_parse(const char *value, const struct milter_params *p,
    char *err, size_t errlen);
void milter_list_free(struct milter_list *l);
/* "tempfail" -> MILTER_ACT_TEMPFAIL ...; -1 if unknown. */
int milter_action_parse(const char *s);

/* milter.c */
/* Start a session's milters (nothing is connected until the first event). */
struct milter_sess *milter_sess_new(const struct milter_list *l, const struct milter_params *p,
    milter_macro_fn *macro, milter_done_fn *done, void *arg);
/* QUIT to every connected milter, close, forget the callbacks. */
void milter_sess_free(struct milter_sess *ms);
/* The events. Each returns MILTER_CONTINUE, MILTER_REJECT or MILTER_DISCARD
 * at once, or MILTER_PENDING and calls done later; then milter_result(). */
int milter_connect(struct milter_sess *ms, const char *host, const char *addr, unsigned port);
int milter_helo(struct milter_sess *ms, const char *helo);
int milter_mail(struct milter_sess *ms, const char *sender);
int milter_rcpt(struct milter_sess *ms, const char *rcpt);
int milter_data(struct milter_sess *ms);
/* A command the server does not know (SMFIC_UNKNOWN, protocol 3 and up;
 * not sent to a milter that set SMFIP_NOUNKNOWN). */
int milter_unknown(struct milter_sess *ms, const char *command);
/* The whole message (headers, empty line, body; LF line endings):
 * headers, end of headers, body, end of message. */
int milter_message(struct milter_sess *ms, const char *msg, size_t len);
/* The transaction ended (RSET, message done): ABORT where one is open. */
void milter_abort(struct milter_sess *ms);
/* The result of the last finished event (valid until the next one). */
struct milter_result *milter_result(struct milter_sess *ms);
/* Open milter connections of the whole process (for tests and status). */
size_t milter_open_connections(void);

/* milter_edit.c: the message with the header and body edits applied
 * (LF endings, headers then empty line then body) into out. 0 or -1. */
int milter_edit_message(const struct milter_result *r, const char *msg, size_t len,
    struct buf *out);
void milter_result_clear(struct milter_result *r);
/* The envelope changes (sender, added and deleted recipients, angle
 * brackets taken off) applied to a sender and a recipient array of
 * *nrcpt entries and room for *cap (grown here). 1 if any changed. */
int milter_edit_envelope(const struct milter_result *r, char **sender, char ***rcpt,
    size_t *nrcpt, size_t *cap);
#endif
