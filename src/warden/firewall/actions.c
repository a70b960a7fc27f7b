/*
 * actions — the firewall back ends of a jail's actions (see actions.h),
 * one table row each, {open, start, ban, unban, flush, stop, check}: the
 * built-in nft sets (here), and fail2ban's action.d command actions
 * (actions_cmd.c, their commands built by actcmd.c exactly as fail2ban
 * 1.0.2 builds them).
 */
#include <stdio.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "warden/firewall/actions_int.h"
#include "warden/firewall/nft.h"

/* ---- back end: the built-in nft sets (nft.h) ---- */

static int nft_be_open(struct action *a, const char *const *dirs, struct nft *n, char *err,
    size_t errlen)
{
	if (n == NULL) {
		snprintf(err, errlen, "[%s] action nft: nftables is not available", a->jail->name);
		return -1;
	}
	a->nft = n;
	return 0;
}

/* Jails with the nft sets set up: the last one's stop drops the table. */
static int nft_jails;

static int nft_be_start(struct action *a, char *err, size_t errlen)
{
	const char *bt = jailconf_ref_opt(a->ref, "blocktype");
	int rc = nft_jail_setup(a->nft, a->jail->name, a->jail->port, a->jail->protocol,
	    bt, err, errlen);
	if (rc == 0)
		nft_jails++;
	return rc;
}

static int nft_be_ban(struct action *a, const struct action_ban *b, size_t n, char *err,
    size_t errlen)
{
	struct nft_ban *nb = xcalloc(n ? n : 1, sizeof(*nb));
	for (size_t i = 0; i < n; i++) {
		nb[i].net = b[i].net;
		nb[i].timeout = b[i].timeout;
	}
	int rc = nft_ban(a->nft, a->jail->name, nb, n, err, errlen);
	free(nb);
	return rc;
}

static int nft_be_unban(struct action *a, const struct action_ban *b, size_t n, char *err,
    size_t errlen)
{
	struct net *nets = xcalloc(n ? n : 1, sizeof(*nets));
	for (size_t i = 0; i < n; i++)
		nets[i] = b[i].net;
	int rc = nft_unban(a->nft, a->jail->name, nets, n, err, errlen);
	free(nets);
	return rc;
}

static void nft_be_stop(struct action *a)
{
	char err[512];
	if (nft_jail_teardown(a->nft, a->jail->name, err, sizeof(err)) < 0)
		log_warn("[%s] nft teardown: %s", a->jail->name, err);
	if (nft_jails > 0 && --nft_jails == 0 && nft_destroy(a->nft, err, sizeof(err)) < 0)
		log_warn("[%s] nft: dropping the table: %s", a->jail->name, err);
}

/* Bans go with the sets at stop. */
static void nft_be_flush(struct action *a)
{
}

/* The jail's sets are there (it was started and not torn down). */
static int nft_be_check(struct action *a, char *err, size_t errlen)
{
	return nft_count(a->nft, a->jail->name, err, errlen) < 0 ? -1 : 0;
}

/* ---- the table, and the steps through it ---- */

static const struct action_backend backends[] = {
	{ "nft", 0, nft_be_open, nft_be_start, nft_be_ban, nft_be_unban, nft_be_flush,
	  nft_be_stop, nft_be_check },
};

static const struct action_backend *backend_for(const char *name)
{
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (strcmp(backends[i].name, name) == 0)
			return &backends[i];
	return &action_cmd_backend;
}

int action_is_command(const struct jail_ref *ref)
{
	return backend_for(ref->name)->commands;
}

struct action *action_new(const struct jail *j, const struct jail_ref *ref,
    const char *const *dirs, struct nft *n, char *err, size_t errlen)
{
	struct action *a = xcalloc(1, sizeof(*a));
	a->jail = j;
	a->ref = ref;
	a->name = xstrdup(ref->name);
	a->outfd = a->errfd = -1;
	a->be = backend_for(ref->name);
	if (a->be->open_fn(a, dirs, n, err, errlen) < 0) {
		action_free(a);
		return NULL;
	}
	return a;
}

int action_start(struct action *a, char *err, size_t errlen)
{
	return a->be->start_fn(a, err, errlen);
}

int action_ban(struct action *a, const struct action_ban *b, size_t n, char *err, size_t errlen)
{
	return a->be->ban_fn(a, b, n, err, errlen);
}

int action_unban(struct action *a, const struct action_ban *b, size_t n, char *err,
    size_t errlen)
{
	return a->be->unban_fn(a, b, n, err, errlen);
}

void action_flush(struct action *a)
{
	a->be->flush_fn(a);
}

void action_stop(struct action *a)
{
	a->be->stop_fn(a);
}

int action_check(struct action *a, char *err, size_t errlen)
{
	return a->be->check_fn(a, err, errlen);
}

void action_free(struct action *a)
{
	if (a == NULL)
		return;
	if (a->be && a->be->commands)
		action_cmd_free(a);
	ini_free(&a->ini);
	free(a->name);
	free(a);
}

const struct jail *action_jail(const struct action *a)
{
	return a->jail;
}

void action_dry(struct action *a, struct buf *out)
{
	a->dry = out;
}

const char *action_name(const struct action *a)
{
	const char *n = actcmd_get(&a->props, "actname");
	return n ? n : a->name;
}

unsigned long action_errors(const struct action *a, const char **last)
{
	*last = a->last_error;
	return a->errors;
}

char *action_command_text(const struct action *a, const char *key, const struct action_ban *b)
{
	struct actcmd_info in;
	struct actcmd_cmd c;
	char ip[NET_STRLEN], err[256];
	const char *fam = "";
	memset(&in, 0, sizeof(in));
	in.ip = "";
	in.bantime = a->jail->bantime;
	if (b) {
		int full = b->net.plen == (b->net.family == AF_INET ? 32 : 128);
		net_format(&b->net, !full, ip, sizeof(ip));
		fam = b->net.family == AF_INET ? "inet4" : "inet6";
		in.ip = ip;
		in.failures = b->failures;
		in.bantime = b->bantime;
		in.matches = b->matches;
		in.user = b->user;
	}
	in.family = fam;
	if (actcmd_build(&a->props, key, fam, &in, &c, err, sizeof(err)) < 0 || c.text == NULL)
		return NULL;
	char *s = c.text;
	c.text = NULL;
	actcmd_cmd_free(&c);
	return s;
}
