/*
 * spf_cli — `mailwarden spf-test IP SENDER [HELO]`: one check_host() over
 * the configured resolver (dns_servers, dns_timeout), printed as
 * "RESULT: explanation" plus the Received-SPF line, exit 0. The
 * restart-with-cache loop of spf.h on the process's own event loop:
 * answers are kept here for the whole check, so each restart gets one
 * lookup further. tests/integ/test_spf.py compares it with pyspf.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/loop.h"
#include "common/util.h"
#include "spf/spf.h"

struct ans {
	char *name;
	enum dns_type type;
	int done;
	struct dns_result res;
	struct ans *next;
};

struct cli {
	struct ans *list;
	int waiting;
};

static void answered(const struct dns_result *r, void *arg)
{
	struct ans *a = arg;

	a->res.status = r->status;
	a->res.nxdomain = r->nxdomain;
	a->res.n = r->n;
	a->res.items = xcalloc(r->n + 1, sizeof(char *));
	for (size_t k = 0; k < r->n; k++)
		a->res.items[k] = xstrdup(r->items[k] ? r->items[k] : "");
	a->done = 1;
	loop_exit();
}

static const struct dns_result *lookup(void *arg, const char *name, enum dns_type type)
{
	struct cli *c = arg;
	struct ans *a;

	for (a = c->list; a; a = a->next)
		if (a->type == type && strcmp(a->name, name) == 0)
			return a->done ? &a->res : NULL;
	a = xcalloc(1, sizeof(*a));
	a->name = xstrdup(name);
	a->type = type;
	a->next = c->list;
	c->list = a;
	dns_lookup(name, type, answered, a);
	return a->done ? &a->res : NULL;
}

int spf_cli_main(const struct config *cfg, int argc, char **argv)
{
	char err[512], hdr[2048];
	struct cli c = { NULL, 0 };
	struct spf_result r;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: mailwarden spf-test IP SENDER [HELO]\n");
		return 2;
	}
	struct spf_request rq = { argv[0], argv[1], argc > 2 ? argv[2] : NULL, NULL, 0 };
	loop_init();
	if (dns_init(cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "mailwarden: fatal: %s\n", err);
		return 1;
	}
	while (!spf_check(&rq, lookup, &c, &r))
		loop_run();	/* until the lookup just started has answered */
	printf("%s: %s\n", spf_result_name(r.result), r.explanation);
	if (spf_received_header(&r, &rq, NULL, hdr, sizeof(hdr)) > 0)
		fputs(hdr, stdout);
	printf("domain=%s mechanism=%s lookups=%d voids=%d\n", r.domain,
	    r.mechanism[0] ? r.mechanism : "-", r.lookups, r.voids);
	while (c.list) {
		struct ans *a = c.list;
		c.list = a->next;
		for (size_t k = 0; a->done && k < a->res.n; k++)
			free(a->res.items[k]);
		free(a->res.items);
		free(a->name);
		free(a);
	}
	dns_close();
	return 0;
}
