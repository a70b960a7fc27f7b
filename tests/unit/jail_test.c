/*
 * jail_test — jail configuration: the seed's [postfix-sasl], [DEFAULT] and
 * split sections, %(name)s interpolation and its loops, fail2ban time
 * values, filter/action references, and "FILE, line N: [jail] key: ..."
 * errors; warden_fail2ban_config's tree (Debian's own, and a small one
 * for the reading order). Run with tests/unit as the working directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "warden/jail.h"
#include "warden/jailtree.h"

static void load_file(const char *path, struct jailconf *jc)
{
	char err[512];
	struct config *cfg = config_load(path, err, sizeof(err));
	if (cfg == NULL)
		fail_msg("%s", err);
	if (jailconf_load(cfg, jc, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	config_free(cfg);
}

/* Load text as a config; 0 and jc, or -1 and err with the temporary
 * file name replaced by "T". */
static int load_str(const char *text, struct jailconf *jc, char *err, size_t errlen)
{
	char path[] = "/tmp/mw_jail_test_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *fp = fdopen(fd, "w");
	fputs(text, fp);
	fclose(fp);
	struct config *cfg = config_load(path, err, errlen);
	int rc = -1;
	if (cfg != NULL) {
		rc = jailconf_load(cfg, jc, err, errlen);
		config_free(cfg);
	}
	unlink(path);
	if (rc < 0 && strncmp(err, path, strlen(path)) == 0) {
		size_t plen = strlen(path);
		memmove(err + 1, err + plen, strlen(err + plen) + 1);
		err[0] = 'T';
	}
	return rc;
}

static void test_seed(void **state)
{
	struct jailconf jc;
	load_file("data/warden/seed.conf", &jc);
	assert_int_equal(jc.njails, 1);
	struct jail *j = jailconf_find(&jc, "postfix-sasl");
	assert_non_null(j);
	assert_string_equal(j->filter.text, "postfix[mode=auth]");
	assert_string_equal(j->filter.name, "postfix");
	assert_int_equal(j->filter.nopts, 1);
	assert_string_equal(jailconf_ref_opt(&j->filter, "mode"), "auth");
	assert_int_equal(j->maxretry, 2);
	assert_int_equal(j->maxmatches, 2);
	assert_int_equal(j->findtime, 86400);
	assert_int_equal(j->bantime, 604800);
	assert_int_equal(j->nactions, 1);
	assert_string_equal(j->actions[0].name, "iptables-multiport");
	assert_int_equal(j->actions[0].nopts, 3);
	assert_string_equal(jailconf_ref_opt(&j->actions[0], "name"), "postfix-sasl");
	assert_string_equal(jailconf_ref_opt(&j->actions[0], "port"), "smtp,smtps");
	assert_string_equal(jailconf_ref_opt(&j->actions[0], "protocol"), "tcp");
	/* fail2ban's defaults for what the jail leaves out */
	assert_int_equal(j->nlogpath, 0);
	assert_int_equal(j->backend, JAIL_BACKEND_INOTIFY);
	assert_string_equal(j->port, "0:65535");
	assert_string_equal(j->protocol, "tcp");
	assert_int_equal(j->ignoreself, 1);
	assert_int_equal(j->usedns, JAIL_USEDNS_WARN);
	assert_int_equal(j->nignore, 0);
	assert_int_equal(j->increment, 0);
	assert_int_equal(j->prefix4, 32);
	assert_int_equal(j->prefix6, 64);
	assert_int_equal(j->dryrun, 0);
	/* no increment: always the plain bantime */
	assert_int_equal(bantime_next(j, 0, 0), 604800);
	assert_int_equal(bantime_next(j, 5, 0), 604800);
	jailconf_free(&jc);
}

static void test_jails(void **state)
{
	struct jailconf jc;
	char buf[NET_STRLEN];

	load_file("data/warden/jails.conf", &jc);
	/* postfix is disabled: its undefined %(undefined_var)s never matters */
	assert_int_equal(jc.njails, 3);
	assert_string_equal(jc.jails[0]->name, "sshd");
	assert_string_equal(jc.jails[1]->name, "dovecot");
	assert_string_equal(jc.jails[2]->name, "recidive");
	assert_null(jailconf_find(&jc, "postfix"));

	struct jail *j = jailconf_find(&jc, "sshd");
	assert_string_equal(j->filter.text, "sshd[mode=normal]");
	assert_int_equal(j->maxretry, 4);	/* the later [sshd] wins */
	assert_int_equal(j->maxmatches, 4);	/* %(maxretry)s seen from the jail */
	assert_int_equal(j->bantime, JAIL_FOREVER);
	assert_int_equal(j->findtime, 600);
	assert_int_equal(j->nlogpath, 2);
	assert_string_equal(j->logpath[0].pattern, "/var/log/auth.log");
	assert_int_equal(j->logpath[0].tail, 0);
	assert_string_equal(j->logpath[1].pattern, "/var/log/secure*");
	assert_int_equal(j->logpath[1].tail, 1);
	assert_int_equal(j->backend, JAIL_BACKEND_POLLING);
	assert_int_equal(j->nactions, 1);
	assert_string_equal(j->actions[0].text, "nft[name=sshd, port=\"ssh\", protocol=\"tcp\"]");
	assert_string_equal(jailconf_ref_opt(&j->actions[0], "port"), "ssh");
	assert_int_equal(j->nignore, 2);
	assert_int_equal(net_format(&j->ignore[0], 1, buf, sizeof(buf)) > 0, 1);
	assert_string_equal(buf, "127.0.0.0/8");
	assert_int_equal(net_format(&j->ignore[1], 0, buf, sizeof(buf)) > 0, 1);
	assert_string_equal(buf, "::1");
	assert_int_equal(j->increment, 1);
	assert_int_equal(j->maxtime, 5 * 604800);
	assert_int_equal(j->formula.kind, BT_FORMULA_POW2);
	assert_true(j->factor == 1.0);
	/* forever stays forever */
	assert_int_equal(bantime_next(j, 3, 0), JAIL_FOREVER);

	j = jailconf_find(&jc, "dovecot");
	assert_string_equal(j->filter.text, "dovecot[mode=aggressive]");
	assert_string_equal(j->port, "pop3,pop3s,imap,imaps,submission,465,sieve");
	assert_string_equal(j->protocol, "udp");
	assert_int_equal(j->nactions, 2);
	assert_string_equal(j->actions[0].name, "nft");
	assert_string_equal(jailconf_ref_opt(&j->actions[0], "protocol"), "udp");
	assert_string_equal(j->actions[1].name, "sendmail-whois");
	assert_string_equal(jailconf_ref_opt(&j->actions[1], "dest"), "root@example.org");
	assert_string_equal(jailconf_ref_opt(&j->actions[1], "sender"), "f2b@example.org");
	assert_int_equal(j->bantime, 5400);
	assert_int_equal(j->findtime, 129600);
	assert_int_equal(j->maxretry, 3);
	assert_int_equal(j->maxmatches, 3);
	assert_int_equal(j->nignore, 3);
	assert_int_equal(net_format(&j->ignore[0], 1, buf, sizeof(buf)) > 0, 1);
	assert_string_equal(buf, "192.0.2.0/24");
	assert_int_equal(net_format(&j->ignore[1], 1, buf, sizeof(buf)) > 0, 1);
	assert_string_equal(buf, "2001:db8::/32");
	assert_int_equal(j->nignore_hosts, 1);
	assert_string_equal(j->ignore_hosts[0], "gw.example.net");
	assert_int_equal(j->ignoreself, 0);
	assert_int_equal(j->usedns, JAIL_USEDNS_NO);
	assert_int_equal(j->prefix4, 24);
	assert_int_equal(j->prefix6, 56);
	assert_int_equal(j->dryrun, 1);
	assert_int_equal(j->backend, JAIL_BACKEND_SYSTEMD);
	assert_string_equal(jailconf_ref_opt(&j->backend_ref, "journalflags"), "1");
	assert_string_equal(j->journalmatch, "_SYSTEMD_UNIT=dovecot.service");
	assert_true(j->factor > 0.693148 && j->factor < 0.693149);	/* 2.0 / 2.885385 */
	assert_int_equal(j->formula.kind, BT_FORMULA_EXP);
	assert_int_equal(j->rndtime, 300);
	assert_int_equal(j->overalljails, 1);

	j = jailconf_find(&jc, "recidive");
	assert_int_equal(j->nmultipliers, 8);
	assert_int_equal(j->multipliers[7], 2880);
	jailconf_free(&jc);
}

static void test_times(void **state)
{
	static const struct {
		const char *in;
		long out;
	} ok[] = {
		{ "600", 600 }, { "10m", 600 }, { "1h", 3600 }, { "1d", 86400 },
		{ "1w", 604800 }, { "1h 30m", 5400 }, { "1d12h", 129600 },
		{ "0d 1h 30m", 5400 }, { "1hour+30min", 5400 }, { "2 days", 172800 },
		{ "1mo", 2629800 }, { "6 months", 15778800 }, { "1y", 31557600 },
		{ "1year-6mo", 15778800 }, { "-1", -1 }, { " 90s ", 90 },
		{ "1.5h", 5400 }, { "10M", 600 }, { "3 weeks", 1814400 },
	};
	static const char *bad[] = {
		"", "abc", "10x", "-5", "1h -2h", "1e5", "--1", "1h+", "5 mins", ". ",
	};
	long v;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		v = -99;
		if (jailconf_parse_time(ok[i].in, &v) < 0 || v != ok[i].out)
			fail_msg("'%s': %ld, expected %ld", ok[i].in, v, ok[i].out);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (jailconf_parse_time(bad[i], &v) == 0)
			fail_msg("'%s' accepted as %ld", bad[i], v);
}

static void test_refs(void **state)
{
	struct jail_ref r;
	char err[256];

	assert_int_equal(jailconf_parse_ref("nft", &r, err, sizeof(err)), 0);
	assert_string_equal(r.name, "nft");
	assert_int_equal(r.nopts, 0);
	jailconf_ref_free(&r);
	assert_int_equal(jailconf_parse_ref("nft[port=\"smtp,465\", protocol=tcp, x='a]b', e=]",
	    &r, err, sizeof(err)), 0);
	assert_int_equal(r.nopts, 4);
	assert_string_equal(jailconf_ref_opt(&r, "port"), "smtp,465");
	assert_string_equal(jailconf_ref_opt(&r, "protocol"), "tcp");
	assert_string_equal(jailconf_ref_opt(&r, "x"), "a]b");
	assert_string_equal(jailconf_ref_opt(&r, "e"), "");
	assert_null(jailconf_ref_opt(&r, "nope"));
	jailconf_ref_free(&r);
	assert_int_equal(jailconf_parse_ref("nft[port=\"smtp", &r, err, sizeof(err)), -1);
	assert_string_equal(err, "unterminated \" in 'nft[port=\"smtp'");
	assert_int_equal(jailconf_parse_ref("nft[port]", &r, err, sizeof(err)), -1);
	/* as fail2ban: an unquoted value runs to the next ',' or ']' */
	assert_int_equal(jailconf_parse_ref("nft[a=1 b=2]", &r, err, sizeof(err)), 0);
	assert_string_equal(jailconf_ref_opt(&r, "a"), "1 b=2");
	jailconf_ref_free(&r);
	assert_int_equal(jailconf_parse_ref("nft[a=1] junk", &r, err, sizeof(err)), -1);
	assert_int_equal(jailconf_parse_ref("", &r, err, sizeof(err)), -1);
}

/* Keys that are no slip: free variables used in interpolation, fail2ban's
 * own jail.conf variables, other words, and a disabled jail's keys. */
static void test_free_variables(void **state)
{
	struct jailconf jc;
	char err[512];
	static const char text[] =
	    "[DEFAULT]\naction_ = nft\nmaxretri = 3\nmta = sendmail\n"
	    "[a]\nenabled = true\nmaxretry = %(maxretri)s\naction = %(action_)s\nmyport = 25\n"
	    "[b]\nenabled = false\nmaxretyr = 1\n";
	if (load_str(text, &jc, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_int_equal(jc.njails, 1);
	assert_int_equal(jc.jails[0]->maxretry, 3);
	jailconf_free(&jc);
}

/* Golden errors: config text -> message. */
static void test_errors(void **state)
{
	static const struct {
		const char *text, *err;
	} cases[] = {
		{ "[a]\nenabled = true\nbantime = 10 parsecs\n",
		  "T, line 3: [a] bantime: bad time '10 parsecs' (seconds, or units s m h d w mo y as in 1h 30m, or -1 for forever)" },
		{ "[a]\nenabled = true\nfindtime = -1\n",
		  "T, line 3: [a] findtime: -1 (forever) is not allowed here" },
		{ "[a]\nenabled = true\nbantime = 0\n",
		  "T, line 3: [a] bantime: must be more than 0 seconds, or -1 for forever" },
		{ "[a]\nenabled = maybe\n",
		  "T, line 2: [a] enabled: 'maybe' is not a boolean (true/false, yes/no, on/off, 1/0)" },
		{ "[a]\nenabled = true\nmaxretry = 0\n",
		  "T, line 3: [a] maxretry: '0' is not a number from 1 to 1000000" },
		{ "[DEFAULT]\nx = %(y)s\ny = %(x)s\n[a]\nenabled = true\nport = %(x)s\n",
		  "T, line 6: [a] port: interpolation loop: x -> y -> x" },
		{ "[a]\nenabled = true\nport = %(port)s\n",
		  "T, line 3: [a] port: interpolation loop: port -> port" },
		{ "[a]\nenabled = true\nport = %(nope)s\n",
		  "T, line 3: [a] port: %(nope)s is not set in [a] or [DEFAULT]" },
		{ "[a]\nenabled = true\nport = 100%\n",
		  "T, line 3: [a] port: bad interpolation '%' (use %(name)s, or %% for %)" },
		{ "[a]\nenabled = true\nbantime.formula = __import__('os').system('id')\n",
		  "T, line 3: [a] bantime.formula: unknown name at '__import__('os').sys' (allowed: numbers, ban.Time, ban.Count, banFactor, banMaxTime, + - * / ** ( ) min max)" },
		{ "[a]\nenabled = true\nbantime.formula = ban.Time * 2 if ban.Count else 1\n",
		  "T, line 3: [a] bantime.formula: unexpected text at 'if ban.Count else 1' (allowed: numbers, ban.Time, ban.Count, banFactor, banMaxTime, + - * / ** ( ) min max)" },
		{ "[a]\nenabled = true\nbantime.formula = min(ban.Time, banMaxTime)\n",
		  "T, line 3: [a] bantime.formula: banMaxTime is used but bantime.maxtime is not set" },
		{ "[a]\nenabled = true\nbantime.factor = ban.Count\n",
		  "T, line 3: [a] bantime.factor: a number is expected at 'ban.Count' (allowed: numbers, ban.Time, ban.Count, banFactor, banMaxTime, + - * / ** ( ) min max)" },
		{ "[a]\nenabled = true\nbantime.factor = 1 - 1\n",
		  "T, line 3: [a] bantime.factor: '1 - 1' must be more than 0" },
		{ "[a]\nenabled = true\nbantime.multipliers = 1 2 x\n",
		  "T, line 3: [a] bantime.multipliers: 'x' is not a whole number" },
		{ "[a]\nenabled = true\nignoreip = 192.0.2.0/33\n",
		  "T, line 3: [a] ignoreip: bad address or network '192.0.2.0/33'" },
		{ "[a]\nenabled = true\nbackend = magic\n",
		  "T, line 3: [a] backend: unknown backend 'magic' (auto, pyinotify, gamin, polling, systemd)" },
		{ "[a]\nenabled = true\nusedns = maybe\n",
		  "T, line 3: [a] usedns: 'maybe' is not one of yes, warn, no, raw" },
		{ "[a]\nenabled = true\nprefix6 = 0\n",
		  "T, line 3: [a] prefix6: '0' is not a number from 1 to 128" },
		{ "[a]\nenabled = true\nmaxbanned = -1\n",
		  "T, line 3: [a] maxbanned: '-1' is not a number from 0 to 100000000" },
		{ "[DEFAULT]\nmaxfailed = lots\n[a]\nenabled = true\n",
		  "T, line 2: [a] maxfailed: 'lots' is not a number from 0 to 100000000" },
		{ "[a]\nenabled = true\nmaxbanned.prefix4 = 33\n",
		  "T, line 3: [a] maxbanned.prefix4: '33' is not a number from 1 to 32" },
		{ "[a]\nenabled = true\nfilter = one two\n",
		  "T, line 3: [a] filter: unexpected 'two' after 'one'" },
		{ "[a]\nenabled = true\naction = nft[port=\"1\"\n",
		  "T, line 3: [a] action: unbalanced '[' in 'nft[port=\"1\"'" },
		{ "[DEFAULT]\nbantime = soon\n[a]\nenabled = true\n",
		  "T, line 2: [a] bantime: bad time 'soon' (seconds, or units s m h d w mo y as in 1h 30m, or -1 for forever)" },
	};
	struct jailconf jc;
	char err[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		if (load_str(cases[i].text, &jc, err, sizeof(err)) == 0) {
			jailconf_free(&jc);
			fail_msg("case %zu loaded", i);
		}
		if (strcmp(err, cases[i].err) != 0)
			fail_msg("case %zu:\n got  %s\n want %s", i, err, cases[i].err);
	}
}

static char slip_log[2048];

static void slip_tap(const char *text)
{
	size_t n = strlen(slip_log);
	snprintf(slip_log + n, sizeof(slip_log) - n, "%s\n", text);
}

/* A slip of an option's name (issue 12): the jail loads (fail2ban allows
 * free variables in a section) with a warning naming the known option;
 * a key used as %(key)s elsewhere is a variable, not a slip. */
static void test_option_slips_warn(void **state)
{
	static const struct { const char *text, *warn; } cases[] = {
		{ "[a]\nenabled = true\nmaxretyr = 5\n",
		  ", line 3: [a] maxretyr: unknown option, ignored; did you mean maxretry?" },
		{ "[DEFAULT]\nbantime.incremnt = true\n[a]\nenabled = true\n",
		  ", line 2: [a] bantime.incremnt: unknown option, ignored; did you mean bantime.increment?" },
		{ "[a]\nenabled = true\nenable = false\n",
		  ", line 3: [a] enable: unknown option, ignored; did you mean enabled?" },
		{ "[a]\nenabled = true\nmaxretyr = 5\nport = %(maxretyr)s\n", NULL },
	};
	struct jailconf jc;
	char err[512];

	log_set_tap(slip_tap);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		slip_log[0] = '\0';
		if (load_str(cases[i].text, &jc, err, sizeof(err)) != 0)
			fail_msg("case %zu: %s", i, err);
		assert_int_equal(jc.njails, 1);
		jailconf_free(&jc);
		if (cases[i].warn == NULL)
			assert_null(strstr(slip_log, "unknown option"));
		else if (strstr(slip_log, cases[i].warn) == NULL)
			fail_msg("case %zu:\n got  %s\n want %s", i, slip_log, cases[i].warn);
	}
	log_set_tap(NULL);
}

/* The warden_prefix defaults and jail keys; %% and __name__. */
static void test_misc(void **state)
{
	struct jailconf jc;
	char err[512];

	assert_int_equal(load_str("[DEFAULT]\nprefix6 = 48\n[a]\nenabled = on\n"
	    "port = 100%%\nprotocol = %(__name__)s\n[b]\nenabled = off\n", &jc, err, sizeof(err)), 0);
	assert_int_equal(jc.njails, 1);
	assert_string_equal(jc.jails[0]->port, "100%");
	assert_string_equal(jc.jails[0]->protocol, "a");
	assert_int_equal(jc.jails[0]->prefix6, 48);
	assert_int_equal(jc.jails[0]->prefix4, 32);
	assert_int_equal(jc.jails[0]->maxfailed, 100000);	/* the caps' defaults */
	assert_int_equal(jc.jails[0]->maxbanned, 100000);
	assert_int_equal(jc.jails[0]->maxbanned_prefix4, 24);
	assert_int_equal(jc.jails[0]->maxbanned_prefix6, 48);
	assert_string_equal(jc.jails[0]->filter.name, "a");
	assert_int_equal(jc.jails[0]->nactions, 1);
	assert_string_equal(jc.jails[0]->actions[0].name, "nft");
	jailconf_free(&jc);
	/* "action =" set but empty: no action at all (fail2ban), not the default */
	assert_int_equal(load_str("[a]\nenabled = on\naction =\n", &jc, err, sizeof(err)), 0);
	assert_int_equal(jc.jails[0]->nactions, 0);
	jailconf_free(&jc);
	/* the caps set in [DEFAULT] and per jail; 0 is no cap */
	assert_int_equal(load_str("[DEFAULT]\nmaxfailed = 0\n[a]\nenabled = on\nmaxbanned = 500\n"
	    "maxbanned.prefix6 = 56\n", &jc, err, sizeof(err)), 0);
	assert_int_equal(jc.jails[0]->maxfailed, 0);
	assert_int_equal(jc.jails[0]->maxbanned, 500);
	assert_int_equal(jc.jails[0]->maxbanned_prefix6, 56);
	jailconf_free(&jc);
	/* no sections at all */
	assert_int_equal(load_str("myhostname = x.example\n", &jc, err, sizeof(err)), 0);
	assert_int_equal(jc.njails, 0);
	jailconf_free(&jc);
}

/* warden_fail2ban_config: Debian's own tree (read only), mailwarden.conf's
 * sections merged over it key by key. */
static void test_fail2ban_tree(void **state)
{
	struct jailconf jc;
	char err[512], dirs[2][64];
	if (access("/etc/fail2ban/jail.conf", R_OK) != 0)
		skip();
	assert_int_equal(load_str("warden_fail2ban_config = /etc/fail2ban/\n"
	    "[sshd]\nlogpath = /tmp/auth.log\nmaxretry = 3\n"
	    "[postfix-sasl]\nenabled = true\n", &jc, err, sizeof(err)), 0);
	/* defaults-debian.conf enables sshd; postfix-sasl here: jail.conf's order */
	struct jail *s = jailconf_find(&jc, "sshd"), *p = jailconf_find(&jc, "postfix-sasl");
	assert_non_null(s);
	assert_non_null(p);
	assert_int_equal(jc.njails, 2);
	assert_ptr_equal(jc.jails[0], s);
	/* jail.conf's [DEFAULT]: %(__name__)s[mode=%(mode)s], %(action_)s */
	assert_string_equal(s->filter.text, "sshd[mode=normal]");
	assert_int_equal(s->nactions, 1);
	assert_string_equal(s->actions[0].text,
	    "iptables-multiport[port=\"ssh\", protocol=\"tcp\", chain=\"<known/chain>\"]");
	/* %(sshd_backend)s -> %(default_backend)s -> %(default/backend)s = auto */
	assert_string_equal(s->backend_ref.name, "auto");
	assert_int_equal(s->bantime, 600);
	assert_int_equal(s->maxretry, 3);	/* mailwarden.conf's key wins */
	assert_string_equal(s->logpath[0].pattern, "/tmp/auth.log");
	assert_int_equal(s->tree_logpath, 0);
	assert_string_equal(s->tree, "/etc/fail2ban");
	/* paths-debian.conf (included by jail.conf) over paths-common.conf */
	assert_string_equal(p->filter.text, "postfix[mode=auth]");
	assert_int_equal(p->nlogpath, 1);
	assert_string_equal(p->logpath[0].pattern, "/var/log/mail.log");
	assert_int_equal(p->tree_logpath, 1);
	assert_string_equal(p->port, "smtp,465,submission,imap,imaps,pop3,pop3s");
	/* the tree's filter.d first, then the given ones */
	const char *const rest[] = { "/x/filter.d", NULL };
	char **l = jailtree_dirs(p, "filter.d", rest);
	snprintf(dirs[0], sizeof(dirs[0]), "%s", l[0]);
	snprintf(dirs[1], sizeof(dirs[1]), "%s", l[1]);
	assert_null(l[2]);
	config_list_free(l);
	assert_string_equal(dirs[0], "/etc/fail2ban/filter.d");
	assert_string_equal(dirs[1], "/x/filter.d");
	jailconf_free(&jc);
	/* the key and nothing else: Debian's sshd as fail2ban runs it */
	assert_int_equal(load_str("warden_fail2ban_config = /etc/fail2ban\n", &jc, err,
	    sizeof(err)), 0);
	assert_int_equal(jc.njails, 1);
	assert_string_equal(jc.jails[0]->name, "sshd");
	assert_string_equal(jc.jails[0]->logpath[0].pattern, "/var/log/auth.log");
	assert_int_equal(jc.jails[0]->tree_logpath, 1);
	assert_int_equal(jc.jails[0]->backend, JAIL_BACKEND_INOTIFY);
	jailconf_free(&jc);
	/* a directory without jail.conf */
	assert_int_equal(load_str("warden_fail2ban_config = /nonexistent\n", &jc, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/jail.conf: No such file or directory"));
}

static void put(const char *dir, const char *name, const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

/* fail2ban's reading order: jail.conf < jail.d/ *.conf < jail.local <
 * jail.d/ *.local < mailwarden.conf; includes relative to the including
 * file; %(known/x)s is the value a later file replaced; fail2ban.conf's
 * [Definition] over [DEFAULT], fail2ban.local over fail2ban.conf. */
static void test_tree_order(void **state)
{
	char dir[] = "/tmp/mw_tree_test_XXXXXX", sub[64], conf[1024], err[512];
	struct jailconf jc;
	struct jailtree_globals g;

	assert_non_null(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/jail.d", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	put(dir, "jail.conf", "[DEFAULT]\nenabled = false\nbantime = 1\nfindtime = 1\n"
	    "maxretry = 1\nmaxmatches = 1\nbackend = polling\n[a]\nenabled = true\n");
	put(dir, "jail.d/10-x.conf", "[INCLUDES]\nbefore = inc.conf\n[a]\nbantime = 2\n"
	    "findtime = 2\n");
	put(dir, "jail.d/inc.conf", "[DEFAULT]\nport = %(fail2ban_version)s\n");
	put(dir, "jail.local", "[a]\nbantime = 3\nmaxretry = 3\n");
	put(dir, "jail.d/20-y.local", "[a]\nbantime = 4\nmaxmatches = 4\n"
	    "protocol = %(known/bantime)s\n");
	put(dir, "fail2ban.conf", "[DEFAULT]\nlogtarget = /var/log/fail2ban.log\n"
	    "dbfile = /a.sqlite3\n[Definition]\n");
	put(dir, "fail2ban.local", "[Definition]\ndbfile = /b.sqlite3\nlogtarget = SYSLOG\n");
	snprintf(conf, sizeof(conf), "warden_fail2ban_config = %s\n[a]\nmaxmatches = 5\n", dir);
	assert_int_equal(load_str(conf, &jc, err, sizeof(err)), 0);
	assert_int_equal(jc.njails, 1);
	struct jail *a = jc.jails[0];
	assert_int_equal(a->findtime, 2);	/* jail.d/ *.conf over jail.conf */
	assert_int_equal(a->maxretry, 3);	/* jail.local over jail.d/ *.conf */
	assert_int_equal(a->bantime, 4);	/* jail.d/ *.local over jail.local */
	assert_int_equal(a->maxmatches, 5);	/* mailwarden.conf last */
	assert_string_equal(a->protocol, "3");
	assert_string_equal(a->port, "1.0.2");	/* jail.d/inc.conf, beside its includer */
	jailconf_free(&jc);
	assert_int_equal(jailtree_globals(dir, &g, err, sizeof(err)), 0);
	assert_string_equal(g.dbfile, "/b.sqlite3");
	assert_string_equal(jailtree_logtarget(g.logtarget), "maillog");
	assert_string_equal(jailtree_logtarget("/var/log/fail2ban.log"), "/var/log/fail2ban.log");
	jailtree_globals_free(&g);
	/* a bad line in the tree names its file and line */
	put(dir, "jail.local", "[a]\nbantime = 3\nmaxretry\n");
	assert_int_equal(load_str(conf, &jc, err, sizeof(err)), -1);
	snprintf(conf, sizeof(conf), "%s/jail.local:3: expected key = value", dir);
	assert_string_equal(err, conf);
	static const char *const files[] = { "jail.conf", "jail.d/10-x.conf", "jail.d/inc.conf",
		"jail.local", "jail.d/20-y.local", "fail2ban.conf", "fail2ban.local" };
	for (size_t i = 0; i < sizeof(files) / sizeof(*files); i++) {
		snprintf(conf, sizeof(conf), "%s/%s", dir, files[i]);
		unlink(conf);
	}
	rmdir(sub);
	rmdir(dir);
}

/* banaction alone chooses the action, as jail.conf's action_ does; the
 * built-in nft when it is unset or nft; action, when set, wins. */
static void test_banaction(void **state)
{
	struct jailconf jc;
	char err[512];

	assert_int_equal(load_str("[DEFAULT]\nbanaction = iptables-multiport\n"
	    "[a]\nenabled = true\nfilter = sshd\nport = ssh\n"
	    "[b]\nenabled = true\nfilter = sshd\nbanaction = nft\n"
	    "[c]\nenabled = true\nfilter = sshd\naction = dummy\n", &jc, err, sizeof(err)), 0);
	const struct jail *a = jailconf_find(&jc, "a");
	assert_int_equal(a->nactions, 1);
	assert_string_equal(a->actions[0].name, "iptables-multiport");
	assert_string_equal(jailconf_ref_opt(&a->actions[0], "port"), "ssh");
	assert_string_equal(jailconf_ref_opt(&a->actions[0], "protocol"), "tcp");
	assert_string_equal(jailconf_find(&jc, "b")->actions[0].name, "nft");
	assert_string_equal(jailconf_find(&jc, "c")->actions[0].name, "dummy");
	jailconf_free(&jc);
	assert_int_equal(load_str("[d]\nenabled = true\nfilter = sshd\n", &jc, err, sizeof(err)), 0);
	assert_string_equal(jailconf_find(&jc, "d")->actions[0].name, "nft");
	jailconf_free(&jc);
	/* Debian's [recidive] pasted alone: banaction_allports is built in (nft) */
	assert_int_equal(load_str("[e]\nenabled = true\nfilter = sshd\n"
	    "banaction = %(banaction_allports)s\n", &jc, err, sizeof(err)), 0);
	assert_string_equal(jailconf_find(&jc, "e")->actions[0].name, "nft");
	jailconf_free(&jc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed),
		cmocka_unit_test(test_jails),
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_refs),
		cmocka_unit_test(test_banaction),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_free_variables),
		cmocka_unit_test(test_option_slips_warn),
		cmocka_unit_test(test_misc),
		cmocka_unit_test(test_fail2ban_tree),
		cmocka_unit_test(test_tree_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
