/*
 * util — allocation that cannot fail half-way, and small string helpers.
 * Allocation failure aborts the process (via fatal()), so callers never
 * handle NULL from these.
 */
#ifndef MW_UTIL_H
#define MW_UTIL_H
#include <stddef.h>
#include <stdint.h>

/* malloc() that aborts on failure. */
void *xmalloc(size_t n);
/* calloc() that aborts on failure. */
void *xcalloc(size_t n, size_t size);
/* realloc() that aborts on failure. */
void *xrealloc(void *p, size_t n);
/* strdup() that aborts on failure. */
char *xstrdup(const char *s);
/* strndup() that aborts on failure. */
char *xstrndup(const char *s, size_t n);
/* Lowercase an ASCII string in place; returns s. */
char *str_lower(char *s);
/* Postfix's printable(): every byte that is neither printable ASCII nor
 * part of a valid UTF-8 sequence becomes repl, in place; returns s. */
char *str_printable(char *s, int repl);
/* Copy src into dst of size n, always NUL-terminated; -1 if truncated. */
int str_copy(char *dst, size_t n, const char *src);
/* Trim leading and trailing white space in place; returns the new start. */
char *str_trim(char *s);
/* Case-insensitive ASCII equality. */
int str_ieq(const char *a, const char *b);
/* A bare local part gets "@origin" (Postfix's append_at_myorigin); an
 * empty address or one with '@' is copied as it is. Allocated. */
char *str_at_origin(const char *addr, const char *origin);
/* A hash for in-memory tables: FNV-1a over n bytes from seed (0, or a
 * random value so that clients cannot aim at one bucket), with a final
 * mix so that the low bits are usable as a table index. */
uint64_t hash_bytes(const void *p, size_t n, uint64_t seed);
/* A random seed for hash_bytes() (getrandom; time and pid if that fails). */
uint64_t hash_seed(void);
/* Close every descriptor from 3 up but those in keep[] (sorted in
 * place; -1 entries ignored): 0, or -1 with errno from close_range. */
int fd_close_except(int *keep, size_t n);
/* write(2) all n bytes (blocking fd), retrying on EINTR; 0, or -1 and errno. */
int fd_write_all(int fd, const void *buf, size_t n);
#endif
