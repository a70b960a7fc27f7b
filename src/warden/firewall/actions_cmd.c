/*
 * actions_cmd — fail2ban's action.d command actions as fail2ban 1.0.2's
 * CommandAction runs them (server/action.py), for the firewall process
 * and `mailwarden action-test`: commands built by actcmd.c; per address
 * family a started/holds-bans state, actionstart at a family's first ban
 * when the action has [Init?family=...] options (actionstart_on_demand),
 * a command already run for the other family not run twice; no
 * actioncheck before a ban, only after a failed ban or unban (then
 * actionrepair, or actionstop + actionstart, and one retry); at stop,
 * actionflush (or an unban of each ban) then actionstop.
 * The commands are queued and run by actions_run.c (one at a time per
 * action, never blocking the loop); a failed one comes back here
 * (actions_cmd_failed) and is reported with fail2ban.utils' lines
 * ("%x -- exec:", "-- stdout:", "-- stderr:", "-- returned N").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/net.h"
#include "common/util.h"
#include "warden/firewall/actions_int.h"

static int fam_of(const struct net *n)
{
	return n->family == AF_INET6 ? 2 : 1;
}

/* actions.py's message when a ban or unban could not be done. */
static void give_up(struct action *a, const struct actjob *j)
{
	int ban = j->op == OP_BAN;
	actions_say(a, "ERROR", "fail2ban.actions", NULL, "Failed to execute %s jail '%s' action '%s' "
	    "info 'ActionInfo({'ip': '%s', 'family': '%s'})': Error %s %s", ban ? "ban" : "unban",
	    a->jail->name, a->name, j->ip, actions_famnames[j->fam], ban ? "banning" : "unbanning", j->ip);
}

static int has_op(const struct action *a, const char *key)
{
	const char *v = actcmd_get(&a->props, key);
	while (v && (*v == ' ' || *v == '\t' || *v == '\n'))
		v++;
	return v && *v;
}

static int is_true(const struct action *a, const char *key)
{
	const char *v = actcmd_get(&a->props, key);
	return v && strcmp(v, "True") == 0;
}

/* The empty ticket's values for an operation of family fam. */
static void op_info(const struct action *a, int fam, struct actcmd_info *in)
{
	memset(in, 0, sizeof(*in));
	in->ip = "";
	in->family = actions_famnames[fam];
	in->bantime = a->jail->bantime;
	in->time = clock_wall_f();
}

/* Build and queue operation op for family fam at position at. */
static int queue_op(struct action *a, long at, int op, int fam, int flags)
{
	struct actcmd_info in;
	struct actcmd_cmd c;
	char err[512];
	op_info(a, fam, &in);
	if (actcmd_build(&a->props, actions_opnames[op], actions_famnames[fam], op == OP_CHECK ? NULL : &in, &c,
	    err, sizeof(err)) < 0) {
		actions_say(a, "ERROR", "fail2ban.actions", err, "Error %s action %s/%s: %s", actions_opnames[op] + 6,
		    a->jail->name, a->name, err);
		return -1;
	}
	if (c.text == NULL)
		return 0;
	actions_queue(a, at, op, fam, "", &c, flags);
	return 1;
}

/* A command failed (the runner calls it): fail2ban's lines, then its
 * invariant check steps.
 * j is jobs[0]: what is queued here may move jobs[], so j is not used
 * after the first insert (op, fam, flags are kept). */
void actions_cmd_failed(struct action *a, struct actjob *j, int status)
{
	char summary[600];
	const int op = j->op, fam = j->fam, flags = j->flags;
	int sig = WIFSIGNALED(status), rc = sig ? -WTERMSIG(status) : WEXITSTATUS(status);
	actions_say(a, "ERROR", "fail2ban.utils", NULL, "%lx -- exec: %s", a->cmdid, j->c.text);
	actions_say_lines(a, "stdout", &a->out);
	actions_say_lines(a, "stderr", &a->errout);
	const char *first = a->errout.data ? a->errout.data : "";
	snprintf(summary, sizeof(summary), "%s%s%s: %.200s -- returned %d%s%.*s", actions_opnames[j->op],
	    *actions_famnames[j->fam] ? " " : "", actions_famnames[j->fam], j->c.text, rc, *first ? ": " : "",
	    (int)strcspn(first, "\n"), first);
	if (sig || rc > 128)
		actions_say(a, "ERROR", "fail2ban.utils", summary, "%lx -- killed with %s (return code: %d)",
		    a->cmdid, strsignal(sig ? WTERMSIG(status) : rc - 128), rc);
	else
		actions_say(a, "ERROR", "fail2ban.utils", summary, "%lx -- returned %d", a->cmdid, rc);

	if ((op == OP_BAN || op == OP_UNBAN) && !(flags & JOB_RETRY)) {
		if (!has_op(a, "actioncheck")) {
			give_up(a, j);
			return;
		}
		struct actjob r = *j;
		r.flags = JOB_RETRY;
		r.c.text = xstrdup(j->c.text);
		r.c.argv = xcalloc(j->c.nargv ? j->c.nargv : 1, sizeof(char *));
		for (size_t i = 0; i < j->c.nargv; i++)
			r.c.argv[i] = xstrdup(j->c.argv[i]);
		actions_job_insert(a, 1, &r);
		if (queue_op(a, 1, OP_CHECK, fam, JOB_INVARIANT) <= 0)
			actions_job_drop(a, 1);	/* no check: the retry goes alone */
		return;
	}
	if (op == OP_BAN || op == OP_UNBAN) {
		give_up(a, j);
		return;
	}
	struct actjob *next = a->njobs > 1 ? &a->jobs[1] : NULL;
	if (flags & JOB_INVARIANT && next) {
		if (next->op == OP_UNBAN && !is_true(a, "actionrepair_on_unban")) {
			actions_say(a, "ERROR", "fail2ban.CommandAction", NULL,
			    "Invariant check failed. Unban is impossible.");
			give_up(a, next);
			actions_job_drop(a, 1);
			return;
		}
		actions_say(a, "ERROR", "fail2ban.CommandAction", NULL,
		    "Invariant check failed. Trying to restore a sane environment");
		long at = 1;
		if (has_op(a, "actionrepair")) {
			at += queue_op(a, at, OP_REPAIR, fam, 0) > 0;
		} else {
			at += queue_op(a, at, OP_STOP, fam, 0) > 0;
			at += queue_op(a, at, OP_START, fam, 0) > 0;
			a->started[fam] = 1;
		}
		queue_op(a, at, OP_CHECK, fam, JOB_FINAL);
		return;
	}
	if ((flags & JOB_FINAL) || op == OP_REPAIR) {
		actions_say(a, "CRITICAL", "fail2ban.CommandAction", NULL, "Unable to restore environment");
		if (op == OP_REPAIR) {
			a->started[fam] = 0;
			actions_job_drop(a, 1);	/* the final check */
		}
		if (a->njobs > 1 && (a->jobs[1].flags & JOB_RETRY)) {
			give_up(a, &a->jobs[1]);
			actions_job_drop(a, 1);
		}
		return;
	}
	actions_say(a, "ERROR", "fail2ban.actions", NULL, "Failed to %s jail '%s' action '%s': "
	    "Error %s action Jail('%s')/%s: 'Script error'", op == OP_STOP ? "stop" :
	    op == OP_START ? "start" : "execute", a->jail->name, a->name, actions_opnames[op] + 6,
	    a->jail->name, a->name);
}

/* ---- CommandAction's steps ---- */

/* _operationExecuted(op, fam, None): forget fam's command and any other
 * family's equal one. */
static void forget(struct action *a, int op, int fam)
{
	char *cmd = a->done[op][fam];
	if (cmd == NULL)
		return;
	for (int f = 0; f < ACT_NFAM; f++)
		if (f != fam && a->done[op][f] && strcmp(a->done[op][f], cmd) == 0) {
			free(a->done[op][f]);
			a->done[op][f] = NULL;
		}
	free(cmd);
	a->done[op][fam] = NULL;
}

/* _executeOperation(op) for the families fams[0..n). */
static void operation(struct action *a, int op, const int *fams, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int f = fams[i];
		struct actcmd_info in;
		struct actcmd_cmd c;
		char err[512];
		op_info(a, f, &in);
		if (actcmd_build(&a->props, actions_opnames[op], actions_famnames[f], &in, &c, err, sizeof(err)) < 0) {
			actions_say(a, "ERROR", "fail2ban.actions", err, "Error %s action %s/%s: %s",
			    actions_opnames[op] + 6, a->jail->name, a->name, err);
			continue;
		}
		int twice = 0;	/* the same command already run for another family */
		for (int g = 0; c.text && g < ACT_NFAM; g++)
			twice |= g != f && a->done[op][g] && strcmp(a->done[op][g], c.text) == 0;
		if (op == OP_START) {
			forget(a, OP_STOP, f);
			a->started[f] = 1;
		} else if (op == OP_STOP) {
			forget(a, OP_START, f);
		} else if (op == OP_FLUSH && a->started[f]) {
			a->started[f] &= ~2u;
		}
		if (c.text == NULL)
			continue;
		free(a->done[op][f]);
		a->done[op][f] = xstrdup(c.text);
		if (twice)
			actcmd_cmd_free(&c);
		else
			actions_queue(a, -1, op, f, "", &c, 0);
	}
}

static void start_fams(struct action *a, int fam, int force)
{
	if (a->on_demand && !force)
		return;
	int fams[2];
	size_t n = 0;
	if (fam >= 0)
		fams[n++] = fam;
	else
		for (size_t i = 0; i < a->nfam; i++)
			fams[n++] = *a->fam[i] ? (strcmp(a->fam[i], "inet6") == 0 ? 2 : 1) : 0;
	operation(a, OP_START, fams, n);
}

static int cmd_be_open(struct action *a, const char *const *dirs, struct nft *n, char *err,
    size_t errlen)
{
	const struct jail_ref *ref = a->ref;
	size_t len = strlen(ref->name);
	if (len > 3 && strcmp(ref->name + len - 3, ".py") == 0) {
		snprintf(err, errlen, "[%s] action %s: Python actions are not supported; "
		    "use an action.d .conf file or nft", a->jail->name, ref->name);
		return -1;
	}
	const struct ini_src src = { dirs, NULL };
	char where[1024], why[512];
	int r = ini_read_name(&a->ini, &src, ref->name, where, sizeof(where), err, errlen);
	if (r == 0)
		snprintf(err, errlen, "[%s] action %s: no %s.conf in the action directories",
		    a->jail->name, ref->name, ref->name);
	if (r <= 0)
		return -1;
	if (actcmd_props(&a->ini, a->jail, ref, &a->props, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "[%s] action %s: %s", a->jail->name, ref->name, why);
		return -1;
	}
	a->nfam = actcmd_families(&a->props, a->fam, &a->on_demand);
	actions_run_add(a);
	return 0;
}

static int cmd_be_start(struct action *a, char *err, size_t errlen)
{
	start_fams(a, -1, 0);
	return 0;
}

/* <ip>: the address that made the ban (as fail2ban's), else the
 * network's ("net/len" for a prefix ban) or, for an unban, the one its
 * ban used. */
static void ban_info(const struct action *a, const struct action_ban *b, char *ip, size_t iplen,
    struct actcmd_info *in)
{
	struct net n;
	int full = b->net.plen == (b->net.family == AF_INET ? 32 : 128);
	char key[NET_STRLEN];
	net_format(&b->net, !full, key, sizeof(key));
	snprintf(ip, iplen, "%s", key);
	if (b->addr && net_parse(b->addr, &n) == 0)
		net_format(&n, 0, ip, iplen);
	for (size_t i = 0; !b->addr && i < a->nbanned; i++)
		if (strcmp(a->banned[i], key) == 0 && a->banned[i][strlen(key) + 1])
			snprintf(ip, iplen, "%s", a->banned[i] + strlen(key) + 1);
	memset(in, 0, sizeof(*in));
	in->ip = ip;
	in->family = actions_famnames[fam_of(&b->net)];
	in->failures = b->failures;
	in->bantime = b->bantime;
	in->time = clock_wall_f();
	in->matches = b->matches;
	in->user = b->user;
}

/* Ban or unban b; 1 (nothing done) if its <ip-host> is still looked up
 * and not force (then "None" is used). */
static int ban_do(struct action *a, int op, const struct action_ban *b, int force)
{
	char ip[NET_STRLEN], err[512];
	struct actcmd_info in;
	struct actcmd_cmd c;
	int fam = fam_of(&b->net);
	ban_info(a, b, ip, sizeof(ip), &in);
	if (op == OP_BAN && a->on_demand && !a->started[fam])
		start_fams(a, fam, 1);
	if (op == OP_UNBAN && !(a->started[fam] & 2))
		return 0;
	unsigned long waits = actcmd_host_waits();
	if (actcmd_build(&a->props, actions_opnames[op], actions_famnames[fam], &in, &c, err, sizeof(err)) < 0) {
		actions_say(a, "ERROR", "fail2ban.actions", err, "Failed to execute %s jail '%s' action '%s': %s",
		    op == OP_BAN ? "ban" : "unban", a->jail->name, a->name, err);
		return 0;
	}
	if (actcmd_host_waits() != waits && !force) {
		actcmd_cmd_free(&c);
		return 1;
	}
	if (c.text)
		actions_queue(a, -1, op, fam, ip, &c, 0);
	/* the bans in force: "NET\0IP" (the net's text, the <ip> it used) */
	char key[NET_STRLEN];
	net_format(&b->net, b->net.plen != (b->net.family == AF_INET ? 32 : 128), key, sizeof(key));
	for (size_t i = 0; i < a->nbanned; i++)
		if (strcmp(a->banned[i], key) == 0) {
			free(a->banned[i]);
			a->banned[i] = a->banned[--a->nbanned];
			break;
		}
	if (op == OP_BAN) {
		size_t kl = strlen(key), il = strlen(ip);
		char *e = xmalloc(kl + il + 2);
		memcpy(e, key, kl + 1);
		memcpy(e + kl + 1, ip, il + 1);
		a->started[fam] |= 3;
		a->banned = xrealloc(a->banned, (a->nbanned + 1) * sizeof(*a->banned));
		a->banned[a->nbanned++] = e;
	}
	return 0;
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void wait_free(struct actwait *w)
{
	free(w->addr);
	free(w->user);
	free(w->matches);
}

/* Run the held bans and unbans in order while their names are known
 * (force: all, "None" for a name not yet known: a flush or stop). */
static void waits_run(struct action *a, int force)
{
	while (a->nwaits > 0) {
		if (ban_do(a, a->waits[0].op, &a->waits[0].b, force) > 0)
			return;
		wait_free(&a->waits[0]);
		memmove(a->waits, a->waits + 1, (a->nwaits - 1) * sizeof(*a->waits));
		a->nwaits--;
	}
}

/* Ban or unban b, after those held before it; held itself while its
 * <ip-host> is looked up (the loop and the other actions go on). */
static void ban_one(struct action *a, int op, const struct action_ban *b)
{
	if (a->nwaits == 0 && ban_do(a, op, b, 0) == 0)
		return;
	a->waits = xrealloc(a->waits, (a->nwaits + 1) * sizeof(*a->waits));
	struct actwait *w = &a->waits[a->nwaits++];
	w->op = op;
	w->b = *b;
	w->b.addr = w->addr = dup_or_null(b->addr);
	w->b.user = w->user = dup_or_null(b->user);
	w->b.matches = w->matches = dup_or_null(b->matches);
}

void actions_host_ready(void)
{
	for (struct action *a = actions_run_first(); a; a = a->next)
		waits_run(a, 0);
}

static int cmd_be_ban(struct action *a, const struct action_ban *b, size_t n, char *err,
    size_t errlen)
{
	for (size_t i = 0; i < n; i++)
		ban_one(a, OP_BAN, &b[i]);
	return 0;
}

static int cmd_be_unban(struct action *a, const struct action_ban *b, size_t n, char *err,
    size_t errlen)
{
	for (size_t i = 0; i < n; i++)
		ban_one(a, OP_UNBAN, &b[i]);
	return 0;
}

/* Actions.__flushBan: actionflush for the families holding bans, or an
 * unban of each ban when the action has no actionflush. */
static void cmd_be_flush(struct action *a)
{
	waits_run(a, 1);
	if (!has_op(a, "actionflush")) {
		while (a->nbanned > 0) {	/* each taken off first: always ends */
			struct action_ban b;
			char e[64], *key = a->banned[--a->nbanned];
			memset(&b, 0, sizeof(b));
			b.bantime = a->jail->bantime;
			b.addr = key + strlen(key) + 1;
			if (net_parse_net(key, &b.net, e, sizeof(e)) == 0)
				ban_one(a, OP_UNBAN, &b);
			free(key);
		}
		return;
	}
	int fams[ACT_NFAM];
	size_t n = 0;
	for (int f = 0; f < ACT_NFAM; f++)
		if ((a->started[f] & 3) == 3)
			fams[n++] = f;
	operation(a, OP_FLUSH, fams, n);
	for (size_t i = 0; i < a->nbanned; i++)
		free(a->banned[i]);
	a->nbanned = 0;
}

static void cmd_be_stop(struct action *a)
{
	cmd_be_flush(a);
	int fams[ACT_NFAM];
	size_t n = 0;
	for (int f = 0; f < ACT_NFAM; f++)
		if (a->started[f])
			fams[n++] = f;
	memset(a->started, 0, sizeof(a->started));
	operation(a, OP_STOP, fams, n);
}

/* _invariantCheck(family): actioncheck, with only <family> resolved, of
 * each address family started (each the action knows when none is). */
static int cmd_be_check(struct action *a, char *err, size_t errlen)
{
	int any = 0;
	for (int f = 1; f < ACT_NFAM; f++)
		if (a->started[f] && queue_op(a, -1, OP_CHECK, f, 0) >= 0)
			any = 1;
	for (size_t i = 0; !any && i < a->nfam; i++)
		queue_op(a, -1, OP_CHECK, *a->fam[i] ? (strcmp(a->fam[i], "inet6") == 0 ? 2 : 1) : 0, 0);
	return 0;
}

const struct action_backend action_cmd_backend = {
	NULL, 1, cmd_be_open, cmd_be_start, cmd_be_ban, cmd_be_unban, cmd_be_flush, cmd_be_stop,
	cmd_be_check,
};

void action_cmd_free(struct action *a)
{
	actions_run_free(a);
	for (size_t i = 0; i < a->nwaits; i++)
		wait_free(&a->waits[i]);
	free(a->waits);
	for (int o = 0; o < ACT_NOPS; o++)
		for (int f = 0; f < ACT_NFAM; f++)
			free(a->done[o][f]);
	for (size_t i = 0; i < a->nbanned; i++)
		free(a->banned[i]);
	free(a->banned);
	free(a->last_error);
	actcmd_map_free(&a->props);
}
