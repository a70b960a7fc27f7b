/*
 * cleanup — the smtp engine's header/body checks and message actions
 * (cleanup.c): Postfix's cleanup inspection run at the end of DATA,
 * before the milters and the 250, and the access-map actions of the
 * transaction (HOLD, DISCARD, REDIRECT, BCC, FILTER).
 */
#ifndef MW_SMTP_CLEANUP_H
#define MW_SMTP_CLEANUP_H
#include <stddef.h>

struct session;
struct engine;
struct config;

/* engine set-up: open the four check tables (fatal on a bad table). */
void cleanup_setup(struct engine *e, const struct config *cfg);
/* DATA began: keep a copy of the content when there is anything to check. */
void cleanup_begin(struct session *s);
/* Content written to the queue file; 1 if kept here (the milters then
 * get the checked copy from cleanup_message), 0 if not. */
int cleanup_copy(struct session *s, const char *p, size_t n);
/* End of message, before the milters: 0 go on, 1 answered here (REJECT,
 * DISCARD, write error: reply queued, transaction ended). */
int cleanup_message(struct session *s);
struct milter_result;
/* milter_header_checks on the headers the milters add or change, before
 * their changes are written: drops and replaces edits, adds BCC and
 * REDIRECT recipients, turns v into MILTER_REJECT (reply set, 4xx or 5xx)
 * or MILTER_DISCARD. Returns the verdict. */
int cleanup_milter_headers(struct session *s, struct milter_result *r, int v);
/* Whether a PASS action turned the milters off for this message. */
int cleanup_pass(struct session *s);
/* The FILTER action of the message's checks (it replaces content_filter
 * in every envelope written from then on), or NULL. */
const char *cleanup_filter(const struct session *s);
/* After the end record: a held message goes to hold/. */
void cleanup_after_finish(struct session *s);
/* An access-map or policy action for the transaction; 0, or -1 unknown. */
int cleanup_policy_action(struct session *s, const char *action, const char *text);
/* The transaction ended (RSET, message done). */
void cleanup_end_transaction(struct session *s);
/* The session goes away. */
void cleanup_free(struct session *s);
#endif
