/*
 * metrics_http — the master's Prometheus endpoint: metrics_listen
 * (plain HTTP, loopback unless metrics_allow_remote) answers
 * GET /metrics with the shared counter page (common/metrics.h), on the
 * master's loop; docs/metrics.md.
 */
#ifndef MW_METRICS_HTTP_H
#define MW_METRICS_HTTP_H
#include <stddef.h>

struct config;

/* check-config row: metrics_listen parses and is loopback (or allowed). */
int metrics_http_check(const struct config *cfg, char *err, size_t errlen);
/* Bind metrics_listen (again, when it changed at reload); 0 or -1 + err. */
int metrics_http_start(const struct config *cfg, char *err, size_t errlen);
/* Close the listeners and open scrapes: at exit, or in a child right
 * after fork (in_child: only the descriptors, the loop is the master's). */
void metrics_http_close(int in_child);
#endif
