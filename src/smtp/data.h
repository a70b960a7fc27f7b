/*
 * data — message content after DATA (data.c).
 */
#ifndef MW_SMTP_DATA_H
#define MW_SMTP_DATA_H
#include <stddef.h>

struct session;
struct engine;

int data_begin(struct session *s);
/* Feed raw bytes; returns bytes consumed (stops after end of data). */
size_t data_feed(struct session *s, const char *p, size_t n);
#endif
