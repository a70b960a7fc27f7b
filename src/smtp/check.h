/*
 * check — the restriction lists a session runs at each command (check.c).
 */
#ifndef MW_SMTP_CHECK_H
#define MW_SMTP_CHECK_H
#include <stddef.h>

#include "policy/restrict.h"

struct session;
struct engine;

/* check.c: restriction lists for a command; 0 go on, -1 rejected (reply
 * queued and logged), 1 pending (session waits, the command runs again) */
int check_helo(struct session *s);
int check_mail(struct session *s);
int check_rcpt(struct session *s, const char *rcpt, int is_ours, int known,
    const char *table);
int check_data(struct session *s);
void check_end_transaction(struct session *s);
/* Park the command being run (it runs again after check_wake_later). */
void check_park(struct session *s);
/* What the parked command waited for is in: run it again after this event. */
void check_wake_later(struct session *s);
void check_cancel(struct session *s);
/* "NOQUEUE: ACTION: STAGE from host[addr]: REPLY; from=<..> to=<..> proto=.. helo=<..>" */
void check_log_reply(struct session *s, enum policy_stage st, const char *action,
    const char *reply, const char *rcpt);
#endif
