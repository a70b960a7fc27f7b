/*
 * listen — bind one listener spec ("127.0.0.1:25", "[::1]:2525", "*:25").
 */
#ifndef MW_LISTEN_H
#define MW_LISTEN_H
#include <stddef.h>

/* Bind and listen; fills up to max fds (2 for "*"). Count, or -1 + err. */
int listen_open(const char *spec, int *fds, size_t max, char *err, size_t errlen);
#endif
