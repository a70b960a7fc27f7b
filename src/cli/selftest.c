/*
 * selftest — `mailwarden selftest [--json] [--client ADDR] [--admin ADDR]
 * [--dkim-selector S]`: checks the live configuration the way an
 * attacker or a receiving site would see it, one line per check (pass,
 * warn, fail) or a JSON document; exit 0 unless a check failed. The
 * checks are one table row each; their code is in selftest_*.c.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/selftest.h"
#include "common/buf.h"
#include "common/config.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/util.h"

static const char *const status_names[] = { "pass", "warn", "fail" };

static const struct {
	const char *name;
	void (*fn)(struct selftest *t);
} checks[] = {
	{ "relay", st_relay },
	{ "auth", st_auth_tls },
	{ "certificate", st_certs },
	{ "resolver", st_resolver },
	{ "dnsbl", st_dnsbl },
	{ "records", st_records },
	{ "admin", st_admin },
	{ "firewall", st_firewall },
};

void st_report(struct selftest *t, enum st_status s, const char *check, const char *fmt, ...)
{
	char detail[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	t->n[s]++;
	if (!t->json) {
		printf("%s  %s: %s\n", status_names[s], check, detail);
		fflush(stdout);
		return;
	}
	printf("%s\n    {\"check\": ", t->nlines++ ? "," : "");
	json_str_fput(stdout, check);
	printf(", \"status\": \"%s\", \"detail\": ", status_names[s]);
	json_str_fput(stdout, detail);
	printf("}");
}

struct wait {
	int done;
	struct st_answer *a;
};

static void got_answer(const struct dns_result *r, void *arg)
{
	struct wait *w = arg;
	w->a->status = r->status;
	w->a->n = 0;
	for (size_t i = 0; i < r->n && w->a->n < sizeof(w->a->items) / sizeof(*w->a->items); i++)
		str_copy(w->a->items[w->a->n++], sizeof(w->a->items[0]), r->items[i]);
	w->done = 1;
	loop_exit();
}

void st_lookup(struct selftest *t, const char *name, enum dns_type type, struct st_answer *a)
{
	struct wait w = { 0, a };
	memset(a, 0, sizeof(*a));
	a->status = DNS_TEMPFAIL;
	if (!t->dns_ready)
		return;
	dns_lookup(name, type, got_answer, &w);
	while (!w.done)		/* the resolver's own deadline ends each query */
		loop_run();
}

char **st_domains(const struct config *cfg)
{
	static const char *const keys[] = { "mydestination", "virtual_mailbox_domains",
	    "virtual_alias_domains" };
	struct buf b;
	buf_init(&b, 1 << 16);
	for (size_t k = 0; k < sizeof(keys) / sizeof(*keys); k++) {
		char **items = config_list(config_get(cfg, keys[k]));
		for (char **it = items; *it; it++) {
			/* maps and files are not walked; localhost is nobody's MX */
			if (strchr(*it, ':') || strchr(*it, '/') || **it == '.' ||
			    strncmp(*it, "localhost", 9) == 0 || strchr(*it, '.') == NULL)
				continue;
			char pad[300];
			snprintf(pad, sizeof(pad), " %s ", *it);
			if (b.data == NULL || strstr(b.data, pad) == NULL)
				buf_printf(&b, " %s ", *it);
		}
		config_list_free(items);
	}
	char **out = config_list(b.data ? b.data : "");
	buf_free(&b);
	return out;
}

/* The resolver's own warnings: each check reports what it found. */
static void quiet(const char *line, size_t len)
{
}

static const struct option longopts[] = {
	{ "json", no_argument, NULL, 'j' },
	{ "client", required_argument, NULL, 'C' },
	{ "admin", required_argument, NULL, 'a' },
	{ "dkim-selector", required_argument, NULL, 'k' },
	{ NULL, 0, NULL, 0 },
};

int cli_selftest(const struct config *cfg, int argc, char **argv)
{
	struct selftest t = { .cfg = cfg, .client = "192.0.2.1" };
	static char admin[64];
	int opt;
	optind = 0;
	while ((opt = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		switch (opt) {
		case 'j': t.json = 1; break;
		case 'C': t.client = optarg; break;
		case 'a': t.admin = optarg; break;
		case 'k': t.selector = optarg; break;
		default:
			fprintf(stderr, "usage: mailwarden selftest [--json] [--client ADDR] "
			    "[--admin ADDR] [--dkim-selector SELECTOR]\n");
			return 2;
		}
	}
	const char *ssh = getenv("SSH_CLIENT");	/* "ADDR PORT PORT" */
	if (t.admin == NULL && ssh && sscanf(ssh, "%63s", admin) == 1)
		t.admin = admin;
	char err[512];
	log_set_sink(quiet);
	loop_init();
	t.dns_ready = dns_init(cfg, err, sizeof(err)) == 0;
	if (t.json)
		printf("{\n  \"checks\": [");
	if (!t.dns_ready)
		st_report(&t, ST_WARN, "resolver", "cannot set up the resolver: %s", err);
	for (size_t i = 0; i < sizeof(checks) / sizeof(*checks); i++)
		checks[i].fn(&t);
	if (t.json)
		printf("\n  ],\n  \"pass\": %d, \"warn\": %d, \"fail\": %d\n}\n", t.n[ST_PASS],
		    t.n[ST_WARN], t.n[ST_FAIL]);
	else
		printf("%d passed, %d warnings, %d failed\n", t.n[ST_PASS], t.n[ST_WARN],
		    t.n[ST_FAIL]);
	if (t.dns_ready)
		dns_close();
	log_set_sink(NULL);
	return t.n[ST_FAIL] ? 1 : 0;
}
