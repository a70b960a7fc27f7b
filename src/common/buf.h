/*
 * buf — growable byte buffer with a hard maximum. buf_append() refuses to
 * grow past max instead of overflowing or eating all memory; the data is
 * always NUL-terminated for convenience.
 */
#ifndef MW_BUF_H
#define MW_BUF_H
#include <stddef.h>
#include <stdio.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
};

/* Initialise an empty buffer that may hold at most max bytes. */
void buf_init(struct buf *b, size_t max);
/* Append n bytes; -1 (and nothing appended) if that would pass max. */
int buf_append(struct buf *b, const void *p, size_t n);
/* Append a NUL-terminated string; -1 past max. */
int buf_puts(struct buf *b, const char *s);
/* Append formatted text; -1 past max. */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s as a JSON string, quotes included (", \\ and control bytes
 * escaped); -1 past the maximum. */
int buf_json_str(struct buf *b, const char *s);
/* Write s as a JSON string, quotes included, to fp. */
void json_str_fput(FILE *fp, const char *s);
/* Drop the first n bytes. */
void buf_consume(struct buf *b, size_t n);
/* Empty the buffer, keep its memory. */
void buf_reset(struct buf *b);
/* Release the memory; the buffer may be re-initialised. */
void buf_free(struct buf *b);
#endif
