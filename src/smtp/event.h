/*
 * event — what the smtp engine tells the ban engine: one datagram per
 * event (enum warden_event in common/msg.h) with the client's address,
 * the user name if any and the log line. The caller, which decided the
 * reply, names the kind.
 */
#ifndef MW_SMTP_EVENT_H
#define MW_SMTP_EVENT_H
#include "common/msg.h"

struct session;

/* Send an event about s's client (best effort: dropped if the ban
 * engine is not running or its socket is full). user, text may be NULL. */
void event_send(struct session *s, enum warden_event kind, const char *user, const char *text);
#endif
