/*
 * actions_test — the commands an action.d file gives for a ban, built
 * without running them: <tag> and %(x)s resolution, shell escaping of
 * values from the log, and bounded work for values that name each other
 * many times (found by tests/fuzz/action_fuzz: minutes of CPU, corpus
 * action/timeout-tag-fanout); and commands run for real when bans fail
 * while others wait. Run with tests/unit as the working directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/loop.h"
#include "common/util.h"
#include "warden/firewall/actions.h"
#include "warden/jail.h"

static char dir[] = "/tmp/mw_actions_test_XXXXXX";

static void write_file(const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
}

/* The command key of action file fz.conf (text) for a ban of 192.0.2.0/24
 * by user; the caller frees it. NULL and *why if the action is refused
 * (why may be NULL: then a refusal fails the test). */
static char *command_of_or(const char *text, const char *key, const char *user, char *why,
    size_t whylen)
{
	char path[256], err[512];
	write_file("fz.conf", text);
	snprintf(path, sizeof(path), "%s/jail.cf", dir);
	write_file("jail.cf", "[fz]\nenabled = true\nfilter = sshd\nlogpath = /dev/null\naction = fz\n");
	struct config *cfg = config_load(path, err, sizeof(err));
	assert_non_null(cfg);
	struct jailconf jc = { 0 };
	assert_int_equal(jailconf_load(cfg, &jc, err, sizeof(err)), 0);
	const char *dirs[] = { dir, NULL };
	struct action *a = action_new(jc.jails[0], &jc.jails[0]->actions[0], dirs, NULL, err,
	    sizeof(err));
	if (a == NULL && why == NULL)
		fail_msg("%s", err);
	if (a == NULL) {
		snprintf(why, whylen, "%s", err);
		jailconf_free(&jc);
		config_free(cfg);
		return NULL;
	}
	struct action_ban b;
	memset(&b, 0, sizeof(b));
	assert_int_equal(net_parse_net("192.0.2.0/24", &b.net, err, sizeof(err)), 0);
	b.bantime = 600;
	b.user = user;
	char *cmd = action_command_text(a, key, &b);
	action_free(a);
	jailconf_free(&jc);
	config_free(cfg);
	return cmd;
}

static char *command_of(const char *text, const char *key, const char *user)
{
	return command_of_or(text, key, user, NULL, 0);
}

/* A value from the log with shell-special characters never reaches the
 * command text: as fail2ban 1.0.2's replaceDynamicTags, it becomes a
 * variable set from an argument of sh -c ($0). */
static void test_tags_and_escaping(void **state)
{
	char *cmd = command_of("[Definition]\nactionban = echo <ip> <F-USER> %(x)s <name>\nx = <init>\n"
	    "[Init]\ninit = 123\n", "actionban", "bob'; rm -rf / #");
	assert_string_equal(cmd, "f2bV_F_user=$0 \necho 192.0.2.0/24 $f2bV_F_user 123 fz");
	free(cmd);
	cmd = command_of("[Definition]\nactionban = echo <F-USER>\n", "actionban", "bob");
	assert_string_equal(cmd, "echo bob");
	free(cmd);
}

/* Debian's stock actions: [INCLUDES] after = X-common.local, which does
 * not exist; skipped as fail2ban's configparser does (it was an error). */
static void test_missing_include_skipped(void **state)
{
	write_file("fz-common.conf", "[Definition]\nactionban = ban <ip> %(opt)s\n"
	    "[INCLUDES]\nafter = fz-common.local\n");
	char *cmd = command_of("[INCLUDES]\nbefore = fz-common.conf\n"
	    "[Definition]\nopt = -x\n", "actionban", NULL);
	assert_string_equal(cmd, "ban 192.0.2.0/24 -x");
	free(cmd);
	char path[256];
	snprintf(path, sizeof(path), "%s/fz-common.conf", dir);
	unlink(path);
}

/* 8^9 expansions without a bound: each <tag> level names the next 8 times. */
static void test_tag_fanout_bounded(void **state)
{
	static const char text[] =
	    "[Definition]\nactionban = <a>\nactionunban = %(p)s\n"
	    "p = %(q)s%(q)s%(q)s%(q)s%(q)s%(q)s%(q)s%(q)s\n"
	    "q = %(r)s%(r)s%(r)s%(r)s%(r)s%(r)s%(r)s%(r)s\n"
	    "r = %(s)s%(s)s%(s)s%(s)s%(s)s%(s)s%(s)s%(s)s\n"
	    "s = %(t)s%(t)s%(t)s%(t)s%(t)s%(t)s%(t)s%(t)s\n"
	    "t = %(u)s%(u)s%(u)s%(u)s%(u)s%(u)s%(u)s%(u)s\n"
	    "u = %(v)s%(v)s%(v)s%(v)s%(v)s%(v)s%(v)s%(v)s\n"
	    "v = %(w)s%(w)s%(w)s%(w)s%(w)s%(w)s%(w)s%(w)s\n"
	    "w = y\n"
	    "[Init]\n"
	    "a = <b><b><b><b><b><b><b><b>\n"
	    "b = <c><c><c><c><c><c><c><c>\n"
	    "c = <d><d><d><d><d><d><d><d>\n"
	    "d = <e><e><e><e><e><e><e><e>\n"
	    "e = <f><f><f><f><f><f><f><f>\n"
	    "f = <g><g><g><g><g><g><g><g>\n"
	    "g = <h><h><h><h><h><h><h><h>\n"
	    "h = <i><i><i><i><i><i><i><i>\n"
	    "i = <j><j><j><j><j><j><j><j>\n"
	    "j = x\n";
	const char *keys[] = { "actionban", "actionunban" };
	for (size_t k = 0; k < 2; k++) {
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		char why[512] = "";
		char *cmd = command_of_or(text, keys[k], NULL, why, sizeof(why));
		clock_gettime(CLOCK_MONOTONIC, &t1);
		double secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
		assert_true(secs < 2.0);
		/* either bounded, or refused as too long (fail2ban: unresolvable) */
		if (cmd == NULL)
			assert_non_null(strstr(why, "too long"));
		else
			assert_true(strlen(cmd) < 65536);
		free(cmd);
	}
}

/* The dry run of action file fz.conf (text) used as `action` (e.g.
 * "fz[chain=x]"): start, ban/unban 192.0.2.1 and 2001:db8::1, stop; the
 * command lines only, one string. NULL and why if refused. */
static char *dry_run(const char *text, const char *action, char *why, size_t whylen)
{
	char path[256], err[512], jail[512];
	write_file("fz.conf", text);
	snprintf(path, sizeof(path), "%s/jail.cf", dir);
	snprintf(jail, sizeof(jail), "[fz]\nenabled = true\nfilter = sshd\nlogpath = /dev/null\n"
	    "bantime = 600\naction = %s\n", action);
	write_file("jail.cf", jail);
	struct config *cfg = config_load(path, err, sizeof(err));
	assert_non_null(cfg);
	struct jailconf jc = { 0 };
	assert_int_equal(jailconf_load(cfg, &jc, err, sizeof(err)), 0);
	const char *dirs[] = { dir, NULL };
	struct action *a = action_new(jc.jails[0], &jc.jails[0]->actions[0], dirs, NULL, why,
	    whylen);
	char *res = NULL;
	if (a) {
		struct buf out, lines;
		buf_init(&out, 1 << 20);
		buf_init(&lines, 1 << 20);
		action_dry(a, &out);
		assert_int_equal(action_start(a, err, sizeof(err)), 0);
		const char *ips[] = { "192.0.2.1", "2001:db8::1" };
		for (int i = 0; i < 2; i++) {
			struct action_ban b;
			memset(&b, 0, sizeof(b));
			assert_int_equal(net_parse_net(ips[i], &b.net, err, sizeof(err)), 0);
			b.bantime = 600;
			action_ban(a, &b, 1, err, sizeof(err));
			action_unban(a, &b, 1, err, sizeof(err));
		}
		action_stop(a);
		for (char *l = out.data, *nl; l && *l; l = nl + 1) {	/* drop "# " headers */
			nl = strchr(l, '\n');
			if (strncmp(l, "# ", 2) != 0)
				buf_append(&lines, l, (size_t)(nl - l + 1));
		}
		res = xstrdup(lines.data ? lines.data : "");
		buf_free(&out);
		buf_free(&lines);
		action_free(a);
	}
	jailconf_free(&jc);
	config_free(cfg);
	return res;
}

/* [Init?family=inet6]: started per family at its first ban, stopped per
 * family after a flush of each, as fail2ban's CommandAction does. */
static void test_family_on_demand(void **state)
{
	char why[512];
	char *r = dry_run("[Definition]\nactionstart = start <cmd> <name>\nactionstop = stop <cmd>\n"
	    "actionban = <cmd> ban <ip> <family>\nactionunban = <cmd> unban <ip>\n"
	    "actionflush = flush <cmd>\n[Init]\ncmd = v4\n[Init?family=inet6]\ncmd = v6\n", "fz",
	    why, sizeof(why));
	assert_non_null(r);
	assert_string_equal(r, "start v4 fz\nv4 ban 192.0.2.1 inet4\nv4 unban 192.0.2.1\n"
	    "start v6 fz\nv6 ban 2001:db8::1 inet6\nv6 unban 2001:db8::1\n"
	    "flush v4\nflush v6\nstop v4\nstop v6\n");
	free(r);
}

/* Without family sections: started at once; a command the same for every
 * family runs once (flush, stop). */
static void test_no_family_once(void **state)
{
	char why[512];
	char *r = dry_run("[Definition]\nactionstart = start\nactionstop = stop\n"
	    "actionban = ban <ip>\nactionunban = unban <ip>\nactionflush = flush\n", "fz", why,
	    sizeof(why));
	assert_non_null(r);
	assert_string_equal(r, "start\nban 192.0.2.1\nunban 192.0.2.1\nban 2001:db8::1\n"
	    "unban 2001:db8::1\nflush\nstop\n");
	free(r);
}

/* known/, a nested tag naming a section's option, jail options over
 * [Init], %(x)s, <br>. */
static void test_known_and_nested(void **state)
{
	char why[512];
	char *r = dry_run("[Definition]\nactionban = <x_<type>/y> <chain> %(z)s<br>end\nz = zz\n"
	    "[x_a]\ny = ok-<type>\n[Init]\ntype = b\nchain = INPUT\n",
	    "fz[type=a, chain=\"<known/chain>-2\"]", why, sizeof(why));
	assert_non_null(r);
	assert_string_equal(r, "ok-a INPUT-2 zz\nend\nok-a INPUT-2 zz\nend\n");
	free(r);
}

/* A tag that names itself is refused when the action is read. */
static void test_self_reference_refused(void **state)
{
	char why[512] = "";
	char *r = dry_run("[Definition]\nactionban = <a>\n[Init]\na = x<a>\n", "fz", why,
	    sizeof(why));
	assert_null(r);
	assert_non_null(strstr(why, "self referencing"));
}

/* Commands really run: every ban fails, with an actioncheck, while 7
 * more bans wait, so the retry and the check the first failure queues
 * grow the queue (jobs[] moves); the failure's own job must not be read
 * through a pointer into the old array (ASan: heap-use-after-free in
 * failed(), before the fix). Each ban fails twice (ban, its retry). */
static void test_failures_while_queued(void **state)
{
	char path[256], err[512];
	write_file("fz.conf", "[Definition]\nactionban = exit 1\nactioncheck = true\n");
	snprintf(path, sizeof(path), "%s/jail.cf", dir);
	write_file("jail.cf", "[fz]\nenabled = true\nfilter = sshd\nlogpath = /dev/null\n"
	    "bantime = 600\naction = fz\n");
	struct config *cfg = config_load(path, err, sizeof(err));
	assert_non_null(cfg);
	struct jailconf jc = { 0 };
	assert_int_equal(jailconf_load(cfg, &jc, err, sizeof(err)), 0);
	const char *dirs[] = { dir, NULL };
	loop_init();
	struct action *a = action_new(jc.jails[0], &jc.jails[0]->actions[0], dirs, NULL, err,
	    sizeof(err));
	assert_non_null(a);
	assert_int_equal(action_start(a, err, sizeof(err)), 0);
	for (int i = 1; i <= 8; i++) {
		struct action_ban b;
		char ip[32];
		memset(&b, 0, sizeof(b));
		snprintf(ip, sizeof(ip), "192.0.2.%d", i);
		assert_int_equal(net_parse_net(ip, &b.net, err, sizeof(err)), 0);
		b.bantime = 600;
		action_ban(a, &b, 1, err, sizeof(err));
	}
	for (int i = 0; i < 3000 && actions_pending(); i++) {	/* 30 s at most */
		usleep(10000);
		actions_reap();
	}
	assert_int_equal(actions_pending(), 0);
	const char *last;
	assert_int_equal(action_errors(a, &last), 16);
	assert_non_null(strstr(last, "actionban inet4: exit 1 -- returned 1"));
	action_free(a);
	jailconf_free(&jc);
	config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tags_and_escaping),
		cmocka_unit_test(test_tag_fanout_bounded),
		cmocka_unit_test(test_missing_include_skipped),
		cmocka_unit_test(test_family_on_demand),
		cmocka_unit_test(test_no_family_once),
		cmocka_unit_test(test_known_and_nested),
		cmocka_unit_test(test_self_reference_refused),
		cmocka_unit_test(test_failures_while_queued),
	};
	if (mkdtemp(dir) == NULL)
		return 1;
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	char path[256];
	snprintf(path, sizeof(path), "%s/fz.conf", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/jail.cf", dir);
	unlink(path);
	rmdir(dir);
	return rc;
}
