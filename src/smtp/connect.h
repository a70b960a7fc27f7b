/*
 * connect — a session between accept() and the 220 greeting (connect.c).
 */
#ifndef MW_SMTP_CONNECT_H
#define MW_SMTP_CONNECT_H
#include <stddef.h>

struct session;
struct engine;

/* connect.c: before the greeting */
void connect_start(struct session *s);
void connect_input(struct session *s, const char *p, size_t n);
void connect_cancel(struct session *s);
#endif
