/*
 * checks — Postfix's cleanup header and body checks, as a pure function
 * of the message: header_checks (primary headers), mime_header_checks
 * (MIME headers anywhere, headers of MIME parts), nested_header_checks
 * (headers of attached message/rfc822), body_checks (every body line),
 * with header_checks(5)'s actions. The caller (the smtp engine, pickup)
 * applies the envelope results and logs through a callback with
 * cleanup's wording. No I/O, no clock.
 */
#ifndef MW_CHECKS_H
#define MW_CHECKS_H
#include <stddef.h>

struct buf;
struct maplist;

struct config;

/* The tables; a NULL or empty list checks nothing. body_limit: bytes of
 * each body segment (a MIME part's body, or the whole body) that
 * body_checks sees, Postfix's body_checks_size_limit; 0 = no limit. */
struct checks_tables {
	struct maplist *header, *mime, *nested, *body;
	size_t body_limit;
};

/* Open header_checks, mime_header_checks, nested_header_checks and
 * body_checks of cfg, and read body_checks_size_limit. 0, or -1 and
 * "KEY: why" in err for the first table that cannot be opened (it stays
 * NULL; the others are open). */
int checks_open(struct checks_tables *t, const struct config *cfg, char *err, size_t errlen);

/* What the checks decided for the whole message. */
struct checks_result {
	int reject;		/* reply holds "5.7.1 text" (or a 4.x.x one) */
	char reply[600];
	int discard, hold, pass;
	int changed;		/* out differs from the input */
	char *redirect;		/* REDIRECT user@domain (the last one) */
	char *filter;		/* FILTER transport:destination (the last one) */
	char **bcc;		/* BCC user@domain, in order */
	size_t nbcc;
};

/* Log one action: action ("reject", "warning", "hold", ...), class
 * ("header" or "body"), the inspected text, the optional text. */
typedef void checks_log_fn(void *arg, const char *action, const char *cls,
    const char *content, const char *text);
/* Warn about a table result that cannot be used (bad REDIRECT, ...). */
typedef void checks_warn_fn(void *arg, const char *text);

/* Run the tables over msg (LF line endings) into out (the message as it
 * is to be queued) and r. 0, or -1 when out is full. */
int checks_run(const struct checks_tables *t, const char *msg, size_t len,
    struct buf *out, struct checks_result *r, checks_log_fn *log,
    checks_warn_fn *warn, void *arg);
/* One header looked up in table alone (milter_header_checks): the
 * actions as checks_run's but PREPEND; *replace gets a REPLACE's text
 * (allocated) or NULL. */
enum { CHECKS_KEEP, CHECKS_DROP, CHECKS_STOP };
int checks_one(struct maplist *table, const char *content, struct checks_result *r,
    char **replace, checks_log_fn *log, checks_warn_fn *warn, void *arg);
/* Whether any table is configured. */
int checks_any(const struct checks_tables *t);
/* Free what r holds and zero it. */
void checks_result_free(struct checks_result *r);
#endif
