/*
 * action_test — `mailwarden action-test JAIL [IP...]`: what the jail's
 * actions would run, nothing run: for each action.d command action the
 * commands of start, then ban and unban of each IP, check, flush and
 * stop, built exactly as the firewall builds them (actions.h, in dry
 * mode: fail2ban's per-family start on demand included). For admins who
 * want to see a pasted fail2ban action's shell lines before trusting it,
 * and for tests/integ/test_warden_actions_f2b.py, which compares them
 * with fail2ban's own expectations.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/buf.h"
#include "common/config.h"
#include "common/net.h"
#include "common/util.h"
#include "warden/firewall/actions.h"
#include "warden/jail.h"
#include "warden/jailtree.h"

/* What a ban carries besides its address (--failures, --match). */
struct ticket {
	long failures;		/* -1: the jail's maxretry */
	struct buf matches;
};

/* The steps, one "## STEP" header each, for action a and the IPs. */
static void steps(struct action *a, struct buf *out, int nip, char **ips,
    const struct ticket *t)
{
	char err[512];
	buf_puts(out, "## start\n");
	if (action_start(a, err, sizeof(err)) < 0)
		buf_printf(out, "# error: %s\n", err);
	for (int i = 0; i < nip; i++) {
		struct action_ban b;
		memset(&b, 0, sizeof(b));
		if (net_parse_net(ips[i], &b.net, err, sizeof(err)) < 0) {
			buf_printf(out, "# %s: %s\n", ips[i], err);
			continue;
		}
		b.bantime = action_jail(a)->bantime;
		b.timeout = b.bantime > 0 ? b.bantime : 0;
		b.failures = t->failures >= 0 ? t->failures : action_jail(a)->maxretry;
		b.matches = t->matches.len ? t->matches.data : NULL;
		char ip[NET_STRLEN];
		net_format(&b.net, 0, ip, sizeof(ip));
		buf_printf(out, "## ban %s\n", ip);
		action_ban(a, &b, 1, err, sizeof(err));
		buf_printf(out, "## unban %s\n", ip);
		action_unban(a, &b, 1, err, sizeof(err));
	}
	buf_puts(out, "## check\n");
	action_check(a, err, sizeof(err));
	buf_puts(out, "## flush\n");
	action_flush(a);
	buf_puts(out, "## stop\n");
	action_stop(a);
}

int cli_action_test(const struct config *cfg, int argc, char **argv)
{
	char err[1024];
	struct ticket t = { .failures = -1 };
	buf_init(&t.matches, 1 << 20);
	while (argc >= 2 && (strcmp(argv[0], "--failures") == 0 || strcmp(argv[0], "--match") == 0)) {
		if (argv[0][2] == 'f')
			t.failures = atol(argv[1]);
		else
			buf_printf(&t.matches, "%s%s", t.matches.len ? "\n" : "", argv[1]);
		argc -= 2;
		argv += 2;
	}
	if (argc < 1) {
		fprintf(stderr, "usage: mailwarden action-test [--failures N] [--match LINE]... "
		    "JAIL [IP...]\n");
		buf_free(&t.matches);
		return 2;
	}
	struct jailconf jc;
	if (jailconf_load(cfg, &jc, err, sizeof(err)) < 0) {
		fprintf(stderr, "mailwarden: %s\n", err);
		buf_free(&t.matches);
		return 1;
	}
	struct jail *j = jailconf_find(&jc, argv[0]);
	if (j == NULL) {
		fprintf(stderr, "mailwarden: no enabled jail '%s'\n", argv[0]);
		jailconf_free(&jc);
		buf_free(&t.matches);
		return 1;
	}
	char **cdirs = config_list(config_get(cfg, "warden_action_path"));
	char **adirs = jailtree_dirs(j, "action.d", (const char *const *)cdirs);	/* tree's first */
	config_list_free(cdirs);
	int rc = 0;
	for (size_t k = 0; k < j->nactions; k++) {
		const struct jail_ref *ref = &j->actions[k];
		if (!action_is_command(ref)) {
			printf("# %s: built-in, acts on the nftables sets of table inet mailwarden "
			    "(no commands)\n", ref->name);
			continue;
		}
		struct action *a = action_new(j, ref, (const char *const *)adirs, NULL, err,
		    sizeof(err));
		if (a == NULL) {
			fprintf(stderr, "mailwarden: %s\n", err);
			rc = 1;
			continue;
		}
		struct buf out;
		buf_init(&out, 1 << 24);
		action_dry(a, &out);
		printf("# action %s (%s)\n", action_name(a), ref->text);
		steps(a, &out, argc - 1, argv + 1, &t);
		fwrite(out.data ? out.data : "", 1, out.len, stdout);
		buf_free(&out);
		const char *last;
		if (action_errors(a, &last)) {
			fprintf(stderr, "mailwarden: [%s] %s: %s\n", j->name, action_name(a), last);
			rc = 1;
		}
		action_free(a);
	}
	config_list_free(adirs);
	jailconf_free(&jc);
	buf_free(&t.matches);
	return rc;
}
