/*
 * selftest_warden — the ban engine's side of `mailwarden selftest`: would
 * the admin's own address (--admin, else $SSH_CLIENT) be banned by a
 * jail, i.e. is it outside every jail's ignoreip (and ignoreself); and
 * can each jail's firewall back end act: nftables accepts a dry-run
 * transaction (as root), an action.d file loads.
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/selftest.h"
#include "common/config.h"
#include "common/net.h"
#include "common/util.h"
#include "warden/firewall/actions.h"
#include "warden/jail.h"
#include "warden/jailtree.h"

/* Whether a is one of this host's addresses (fail2ban's ignoreself). */
static int is_self(const struct net *a)
{
	struct ifaddrs *ifs, *i;
	int hit = 0;
	if (getifaddrs(&ifs) < 0)
		return 0;
	for (i = ifs; i && !hit; i = i->ifa_next) {
		struct net n;
		if (i->ifa_addr && net_from_sockaddr(i->ifa_addr, &n) == 0)
			hit = n.family == a->family && memcmp(n.a, a->a, a->family == AF_INET ? 4 : 16) == 0;
	}
	freeifaddrs(ifs);
	return hit;
}

void st_admin(struct selftest *t)
{
	struct jailconf jc;
	char err[512];
	if (jailconf_load(t->cfg, &jc, err, sizeof(err)) < 0) {
		st_report(t, ST_FAIL, "admin", "jails: %s", err);
		return;
	}
	if (jc.njails == 0) {
		jailconf_free(&jc);
		return;		/* no ban engine: nobody is banned */
	}
	struct net a;
	if (t->admin == NULL || net_parse(t->admin, &a) < 0) {
		st_report(t, ST_WARN, "admin", "your address is unknown (no $SSH_CLIENT): give it "
		    "with --admin ADDR to check it is in ignoreip");
		jailconf_free(&jc);
		return;
	}
	for (size_t i = 0; i < jc.njails; i++) {
		const struct jail *j = jc.jails[i];
		if (banprefix_ignored(j->ignore, j->nignore, &a))
			st_report(t, ST_PASS, "admin", "jail %s: %s is in ignoreip", j->name, t->admin);
		else if (j->ignoreself && is_self(&a))
			st_report(t, ST_PASS, "admin", "jail %s: %s is this host (ignoreself)", j->name,
			    t->admin);
		else if (j->nignore_hosts)
			st_report(t, ST_WARN, "admin", "jail %s: %s is not in ignoreip's addresses; its "
			    "host names (%s ...) are not resolved here", j->name, t->admin,
			    j->ignore_hosts[0]);
		else
			st_report(t, ST_FAIL, "admin", "jail %s: YOUR ADDRESS %s CAN BE BANNED: add it "
			    "to ignoreip", j->name, t->admin);
	}
	jailconf_free(&jc);
}

/* nftables: a dry-run transaction the kernel checks and discards. */
static void nft_usable(struct selftest *t, const char *jails)
{
	if (geteuid() != 0) {
		st_report(t, ST_WARN, "firewall", "nft (jails%s): not checked, needs root", jails);
		return;
	}
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	if (ctx == NULL) {
		st_report(t, ST_FAIL, "firewall", "nft: cannot create a libnftables context");
		return;
	}
	nft_ctx_set_dry_run(ctx, true);
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	if (nft_run_cmd_from_buffer(ctx, "add table inet mailwarden_selftest") == 0) {
		st_report(t, ST_PASS, "firewall", "nft (jails%s): the kernel accepts nftables "
		    "transactions", jails);
	} else {
		char msg[300];
		str_copy(msg, sizeof(msg), nft_ctx_get_error_buffer(ctx));
		msg[strcspn(msg, "\n")] = '\0';
		st_report(t, ST_FAIL, "firewall", "nft (jails%s): nftables refuses: %s", jails, msg);
	}
	nft_ctx_free(ctx);
}

void st_firewall(struct selftest *t)
{
	struct jailconf jc;
	char err[512], nftjails[512] = "";
	if (jailconf_load(t->cfg, &jc, err, sizeof(err)) < 0)
		return;		/* reported by the admin check */
	char **cdirs = config_list(config_get(t->cfg, "warden_action_path"));
	for (size_t i = 0; i < jc.njails; i++) {
		const struct jail *j = jc.jails[i];
		char **adirs = jailtree_dirs(j, "action.d", (const char *const *)cdirs);
		for (size_t k = 0; k < j->nactions; k++) {
			const struct jail_ref *ref = &j->actions[k];
			if (!action_is_command(ref)) {
				size_t l = strlen(nftjails);
				snprintf(nftjails + l, sizeof(nftjails) - l, " %s", j->name);
				continue;
			}
			struct action *a = action_new(j, ref, (const char *const *)adirs, NULL, err,
			    sizeof(err));
			if (a == NULL) {
				st_report(t, ST_FAIL, "firewall", "jail %s: action %s: %s", j->name,
				    ref->text, err);
				continue;
			}
			st_report(t, ST_PASS, "firewall", "jail %s: action %s loads (its commands: "
			    "mailwarden action-test %s)", j->name, ref->text, j->name);
			action_free(a);
		}
		config_list_free(adirs);
	}
	config_list_free(cdirs);
	if (*nftjails)
		nft_usable(t, nftjails);
	jailconf_free(&jc);
}
