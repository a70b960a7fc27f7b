/*
 * data — message content after DATA (data.c).
 */
#ifndef MW_SMTP_DATA_H
#define MW_SMTP_DATA_H
#include <stddef.h>

struct session;
struct engine;
struct spool_env;
struct spool_rcpt;

int data_begin(struct session *s);
/* Feed raw bytes; returns bytes consumed (stops after end of data). */
size_t data_feed(struct session *s, const char *p, size_t n);
/* The end record and group commit of a message the milters let through. */
void data_commit(struct session *s);
/* The message's envelope as the session has it now (*rc: free it). */
void data_envelope(struct session *s, struct spool_env *env, struct spool_rcpt **rc);
#endif
