/*
 * milters — the smtp engine's hook points for milters (milters.c): one
 * call at each stage of a session, the results handled in one place.
 */
#ifndef MW_SMTP_MILTERS_H
#define MW_SMTP_MILTERS_H
#include <stddef.h>

struct session;
struct engine;
struct config;

/* engine set-up: the milter parameters and each listener's list (fatal on
 * a bad list). chrooted: the engine will chroot into queue_directory. */
void milters_setup(struct engine *e, const struct config *cfg, int chrooted);
/* check-config: every listener's smtpd_milters parses and its unix:
 * sockets can be reached from the engine's chroot. 0 or -1 and err. */
int milters_check(const struct config *cfg, char *err, size_t errlen);
/* The stages: 0 go on, -1 rejected (reply queued and logged), 1 waiting
 * for the milters (the command runs again when they answered). */
int milters_helo(struct session *s);
int milters_mail(struct session *s);
int milters_rcpt(struct session *s, const char *rcpt);
int milters_data(struct session *s);
/* A command the engine does not know (its verb): the milters' unknown
 * event; as the stages (0: the usual 500 reply is the caller's). */
int milters_unknown(struct session *s, const char *command);
/* End of message, before the end record: 0 commit now, 1 the milters
 * answered (reply queued) or will (the session waits). */
int milters_message(struct session *s);
/* After the end record (data_commit): a quarantined message goes to hold/. */
void milters_after_finish(struct session *s);
/* Keep a copy of the message content for the end of message. */
void milters_copy_begin(struct session *s);
void milters_copy(struct session *s, const char *p, size_t n);
/* The transaction ended (RSET, HELO, message done). */
void milters_end_transaction(struct session *s);
/* The session goes away. */
void milters_free(struct session *s);
#endif
