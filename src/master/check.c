/*
 * check — `mailwarden check-config` and the check before start and
 * reload: main.cf itself is checked as it loads (common/config.c, the
 * parameter table); then each subsystem checks what only it can, one
 * table row each, in order, the first failure reported. check-config
 * itself reports every error in one run and counts them.
 */
#include <stddef.h>
#include <stdio.h>

#include "common/config.h"
#include "dkim/dkim_conf.h"
#include "dmarc/dmarc.h"
#include "master/master.h"
#include "master/metrics_http.h"
#include "policy/restrict.h"
#include "queue/nexthop.h"
#include "queue/smtpc.h"
#include "smtp/engine.h"
#include "warden/logcheck.h"
#include "warden/warden.h"

typedef int check_fn(const struct config *cfg, char *err, size_t errlen);
/* check-config: every error to out, their number (NULL: fn's first). */
typedef int report_fn(const struct config *cfg, FILE *out);

/* DMARC's Public Suffix List readable when inbound verification is on. */
static int psl_check(const struct config *cfg, char *err, size_t errlen)
{
	if (!config_get_bool(cfg, "dkim_verify"))
		return 0;
	return dmarc_psl_check(config_get(cfg, "dmarc_public_suffix_list"), err, errlen);
}

static const struct {
	const char *what;
	check_fn *fn;
	report_fn *report;
} checks[] = {
	/* policy/restrict_lists.c, queue/nexthop.c, smtp/engine_check.c, warden/warden.c */
	{ "restriction lists", restrict_lists_check, restrict_lists_report },
	{ "queue manager next hops", nexthop_check, NULL },
	{ "smtp engine TLS and AUTH", engine_check, NULL },
	{ "ban engine jails", warden_check, NULL },
	{ "metrics listener", metrics_http_check, NULL },
	{ "DKIM signing keys", dkim_conf_check, NULL },	/* dkim/dkim_conf.c */
	{ "DMARC public suffix list", psl_check, NULL },	/* dmarc/dmarc_psl.c */
};

int master_check(const struct config *cfg, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(checks) / sizeof(*checks); i++)
		if (checks[i].fn(cfg, err, errlen) < 0)
			return -1;
	return 0;
}

int master_check_config(const char *path)
{
	char err[2048];
	int nerr = 0;
	struct config *cfg = config_load_report(path, stderr, &nerr);

	for (size_t i = 0; cfg != NULL && i < sizeof(checks) / sizeof(*checks); i++) {
		if (checks[i].report != NULL)
			nerr += checks[i].report(cfg, stderr);
		else if (checks[i].fn(cfg, err, sizeof(err)) < 0) {
			fprintf(stderr, "mailwarden: error: %s\n", err);
			nerr++;
		}
	}
	if (cfg != NULL) {
		smtpc_conf_warn(cfg);	/* warnings go to stderr before log_open() */
		/* check-config only: at start such a jail stays down, mail runs */
		if (logcheck_config(cfg, err, sizeof(err)) < 0) {
			fprintf(stderr, "mailwarden: error: %s\n", err);
			nerr++;
		}
		config_free(cfg);
	}
	if (nerr > 0) {
		fprintf(stderr, "mailwarden: %d error%s in %s\n", nerr, nerr == 1 ? "" : "s", path);
		return 1;
	}
	printf("mailwarden: configuration %s is valid\n", path);
	return 0;
}
