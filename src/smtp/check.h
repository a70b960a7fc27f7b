/*
 * check — the restriction lists a session runs at each command (check.c).
 */
#ifndef MW_SMTP_CHECK_H
#define MW_SMTP_CHECK_H
#include <stddef.h>

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
void check_cancel(struct session *s);
#endif
