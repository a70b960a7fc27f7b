/*
 * jailconf — fail2ban jails from the [sections] of mailwarden.conf (over
 * fail2ban's own tree when warden_fail2ban_config is set: jailtree.c), with
 * jail.conf/jail.local semantics: a key is looked up in the jail's
 * sections (the last definition wins), then in [DEFAULT]; values are
 * %(name)s-interpolated from the jail, then [DEFAULT] (%(__name__)s is the
 * jail's name), with loop detection; every bad value is reported as
 * "FILE, line N: [jail] key: message". Only enabled jails are parsed, so a
 * pasted jail.conf with its many disabled jails loads.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/log.h"
#include "common/util.h"
#include "warden/ini.h"
#include "warden/jail.h"
#include "warden/jailtree.h"
#include "warden/jailval.h"

#define JC_MAXVALUE 65536	/* longest value after interpolation */
#define JC_MAXDEPTH 16		/* nested %(name)s */

struct ctx {
	const struct ini *ini;		/* every section, keys in any case */
	int p4, p6;			/* warden_prefix4, warden_prefix6 */
	const char *jail;
	const char *home_file;		/* where the jail's section starts */
	int home_line;
	const char *tree;		/* warden_fail2ban_config, or NULL */
	char *err;
	size_t errlen;
};

/* Where a value came from, for messages. */
struct loc {
	const char *file;
	int line;
};

/* The section holding fail2ban's jail.conf [DEFAULT] values that actions
 * interpolate even when mailwarden.conf does not set them (a name no
 * [section] line can give). */
#define BUILTIN_SEC " builtin"
static const char *const builtin_kv[][2] = {
	{ "port", "0:65535" }, { "protocol", "tcp" }, { "bantime", "600" },
	{ "findtime", "600" }, { "maxretry", "5" }, { "mode", "normal" },
	{ "banaction", "nft" }, { "banaction_allports", "nft" },	/* nft bans every port */
};

/* %(x)s: the jail, [DEFAULT], then the built-in defaults. */
static const char *const *jail_fallback(const char *sec)
{
	static const char *const order[] = { "DEFAULT", BUILTIN_SEC, NULL };
	return order;
}

/* The built-in defaults, after every section. */
static void add_builtins(struct ini *ini)
{
	for (size_t i = 0; i < sizeof(builtin_kv) / sizeof(builtin_kv[0]); i++)
		ini_set(ini, BUILTIN_SEC, builtin_kv[i][0], builtin_kv[i][1], "", 0);
}

static int jerr(const struct ctx *c, const struct loc *l, const char *key,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int jerr(const struct ctx *c, const struct loc *l, const char *key,
    const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(c->err, c->errlen, "%s, line %d: [%s] %s: %s", l->file, l->line,
	    c->jail, key, msg);
	return -1;
}

/* The message for a failed interpolation. */
static int interp_err(const struct ctx *c, const struct loc *l, const char *key,
    const struct ini_err *e)
{
	switch (e->kind) {
	case INI_E_LOOP:
		return jerr(c, l, key, "interpolation loop: %s", e->chain);
	case INI_E_DEPTH:
		return jerr(c, l, key, "interpolation nested deeper than %d", JC_MAXDEPTH);
	case INI_E_UNKNOWN:
		return jerr(c, l, key, "%%(%s)s is not set in [%s] or [DEFAULT]", e->name, c->jail);
	case INI_E_SYNTAX:
		return jerr(c, l, key, "bad interpolation '%s' (use %%(name)s, or %%%% for %%)",
		    e->at);
	case INI_E_BADNAME:
		return jerr(c, l, key, "bad interpolation '%s'", e->at);
	case INI_E_TOOLONG:
		break;
	}
	return jerr(c, l, key, "value longer than %d bytes after interpolation", JC_MAXVALUE);
}

/* Interpolated, trimmed value of key: 1 and *val (free it) if set, 0 if
 * not, -1 on error. l is where it was set, or the jail's section. */
static int get(const struct ctx *c, const char *key, char **val, struct loc *l)
{
	const struct ini_opt *o = ini_get(c->ini, c->jail, key);
	struct ini_scope sc = { .ini = c->ini, .fallback = jail_fallback, .name = c->jail,
	    .flags = INI_ERR_UNKNOWN | INI_ERR_LONE_PCT | INI_ERR_TOOLONG | INI_LOOP_CHAIN,
	    .maxdepth = JC_MAXDEPTH };
	struct ini_err e;
	struct buf b;

	if (o == NULL)
		o = ini_get(c->ini, "DEFAULT", key);
	l->file = o ? o->file : c->home_file;
	l->line = o ? o->line : c->home_line;
	*val = NULL;
	if (o == NULL)
		return 0;
	buf_init(&b, JC_MAXVALUE);
	if (ini_interp(&sc, c->jail, o->val, o, &b, &e) < 0) {
		buf_free(&b);
		return interp_err(c, l, key, &e);
	}
	char *raw = xstrdup(b.data ? b.data : "");
	*val = xstrdup(str_trim(raw));
	free(raw);
	buf_free(&b);
	return 1;
}

/* ---- one jail ---- */

static void jail_free(struct jail *j)
{
	if (j == NULL)
		return;
	free(j->name);
	free(j->file);
	jailconf_ref_free(&j->filter);
	for (size_t i = 0; i < j->nlogpath; i++)
		free(j->logpath[i].pattern);
	free(j->logpath);
	jailconf_ref_free(&j->backend_ref);
	free(j->journalmatch);
	free(j->port);
	free(j->protocol);
	for (size_t i = 0; i < j->nactions; i++)
		jailconf_ref_free(&j->actions[i]);
	free(j->actions);
	free(j->ignore);
	for (size_t i = 0; i < j->nignore_hosts; i++)
		free(j->ignore_hosts[i]);
	free(j->ignore_hosts);
	bantime_formula_free(&j->formula);
	free(j->multipliers);
	free(j->tree);
	free(j);
}

/* ---- the option table: main.cf's machinery, fail2ban's vocabulary ---- */

#define JOPT_FOREVER (-1)	/* min of a time that may be -1 */
static const struct param jail_params[] = {
	{ "enabled", PT_BOOL, "false", 0, 0, NULL, "Whether the jail runs" },
	{ "filter", PT_STR, NULL, 0, 0, NULL,
	  "Filter name[options] in filter.d or built in (default: the jail's name)" },
	{ "logpath", PT_STR, "", 0, 0, NULL, "Log files (globs), one a line; \"tail\" after one" },
	{ "backend", PT_STR, "auto", 0, 0, NULL, "auto, pyinotify, gamin, polling or systemd" },
	{ "journalmatch", PT_STR, NULL, 0, 0, NULL, "systemd journal matches" },
	{ "port", PT_STR, "0:65535", 0, 0, NULL, "Ports for the actions' <port>" },
	{ "protocol", PT_STR, "tcp", 0, 0, NULL, "Protocol for the actions' <protocol>" },
	{ "action", PT_STR, "nft", 0, 0, NULL, "Actions name[options], one a line; empty: none; unset: banaction[port, protocol] or nft" },
	{ "bantime", PT_TIME, "600", JOPT_FOREVER, 0, NULL, "Ban length, -1 forever" },
	{ "findtime", PT_TIME, "600", 0, 0, NULL, "Window in which maxretry failures ban" },
	{ "maxretry", PT_INT, "5", 1, 1000000, NULL, "Failures that ban" },
	{ "maxmatches", PT_INT, NULL, 0, 1000000, NULL, "Matches kept per ban (default: maxretry)" },
	{ "ignoreip", PT_STR, "", 0, 0, NULL, "Addresses, networks and host names never banned" },
	{ "ignoreself", PT_BOOL, "true", 0, 0, NULL, "Never ban this host's own addresses" },
	{ "usedns", PT_ENUM, "warn", 0, 0, "yes|warn|no|raw", "Host names in log lines" },
	{ "dry-run", PT_BOOL, "false", 0, 0, NULL, "Log would-be bans, do not act" },
	{ "dryrun", PT_BOOL, "false", 0, 0, NULL, "Same as dry-run" },
	{ "prefix4", PT_INT, NULL, 1, 32, NULL, "IPv4 prefix counted and banned (warden_prefix4)" },
	{ "prefix6", PT_INT, NULL, 1, 128, NULL, "IPv6 prefix counted and banned (warden_prefix6)" },
	{ "maxfailed", PT_INT, "100000", 0, 100000000, NULL, "Prefixes with failures kept; 0 no cap" },
	{ "maxbanned", PT_INT, "100000", 0, 100000000, NULL, "Bans in force; 0 no cap" },
	{ "maxbanned.prefix4", PT_INT, "24", 1, 32, NULL, "IPv4 prefix bans widen to near maxbanned" },
	{ "maxbanned.prefix6", PT_INT, "48", 1, 128, NULL, "IPv6 prefix bans widen to near maxbanned" },
	{ "bantime.increment", PT_BOOL, "false", 0, 0, NULL, "Longer bans for repeat offenders" },
	{ "bantime.maxtime", PT_TIME, "0", 0, 0, NULL, "Longest increased ban; 0 no cap" },
	{ "bantime.rndtime", PT_TIME, "0", 0, 0, NULL, "Random seconds added to a ban" },
	{ "bantime.overalljails", PT_BOOL, "false", 0, 0, NULL, "Count bans in every jail" },
	{ "bantime.factor", PT_STR, "1", 0, 0, NULL, "banFactor of the formula" },
	{ "bantime.formula", PT_STR, "", 0, 0, NULL, "Increased ban time formula" },
	{ "bantime.multipliers", PT_STR, "", 0, 0, NULL, "Increased ban time multipliers" },
	{ NULL, PT_STR, NULL, 0, 0, NULL, NULL }
};

/* fail2ban jail keys read elsewhere or not used, and jail.conf's common
 * variables: never taken for a slip of an option above. */
static const char *const jail_other_keys[] = {
	"action_", "banaction", "banaction_allports", "chain", "mta", "destemail", "sender",
	"sendername", "logencoding", "ignorecommand", "ignorecache", "datepattern",
	"logtimezone", "maxlines", "failregex", "ignoreregex", "prefregex", "mode",
	"fail2ban_agent", "known", "__name__",
};

/* Where a typed option is kept in struct jail. */
enum jo_store { JO_LONG, JO_INT, JO_STR };
static const struct {
	const char *name;
	enum jo_store store;
	size_t off;
} jail_fields[] = {
	{ "journalmatch", JO_STR, offsetof(struct jail, journalmatch) },
	{ "port", JO_STR, offsetof(struct jail, port) },
	{ "protocol", JO_STR, offsetof(struct jail, protocol) },
	{ "bantime", JO_LONG, offsetof(struct jail, bantime) },
	{ "findtime", JO_LONG, offsetof(struct jail, findtime) },
	{ "maxretry", JO_LONG, offsetof(struct jail, maxretry) },
	{ "ignoreself", JO_INT, offsetof(struct jail, ignoreself) },
	{ "usedns", JO_INT, offsetof(struct jail, usedns) },
	{ "dry-run", JO_INT, offsetof(struct jail, dryrun) },
	{ "maxfailed", JO_LONG, offsetof(struct jail, maxfailed) },
	{ "maxbanned", JO_LONG, offsetof(struct jail, maxbanned) },
	{ "maxbanned.prefix4", JO_INT, offsetof(struct jail, maxbanned_prefix4) },
	{ "maxbanned.prefix6", JO_INT, offsetof(struct jail, maxbanned_prefix6) },
	{ "bantime.increment", JO_INT, offsetof(struct jail, increment) },
	{ "bantime.maxtime", JO_LONG, offsetof(struct jail, maxtime) },
	{ "bantime.rndtime", JO_LONG, offsetof(struct jail, rndtime) },
	{ "bantime.overalljails", JO_INT, offsetof(struct jail, overalljails) },
};

/* Number (time, integer, boolean, enum index) of option p, def (the
 * row's default unless given) if unset or empty. */
static int get_num(const struct ctx *c, const struct param *p, const char *def, long *out)
{
	char *v, msg[512];
	struct loc l;
	int rc = get(c, p->name, &v, &l);

	if (rc < 0)
		return -1;
	if (rc == 0 || *v == '\0') {	/* defaults are valid values */
		free(v);
		return param_check(jailval_vocab, p, def ? def : p->def, NULL, out, msg,
		    sizeof(msg));
	}
	rc = param_check(jailval_vocab, p, v, NULL, out, msg, sizeof(msg));
	free(v);
	return rc < 0 ? jerr(c, &l, p->name, "%s", msg) : 0;
}

/* Text option, trimmed; the row's default (may be NULL) if unset or empty. */
static int get_str(const struct ctx *c, const struct param *p, char **out)
{
	struct loc l;
	int rc = get(c, p->name, out, &l);

	if (rc < 0)
		return -1;
	if (rc == 0 || **out == '\0') {
		free(*out);
		*out = p->def ? xstrdup(p->def) : NULL;
	}
	return 0;
}

/* A typed option into its field of j. */
static int set_field(const struct ctx *c, struct jail *j, const struct param *p, size_t f)
{
	char *base = (char *)j + jail_fields[f].off;
	long n;

	if (jail_fields[f].store == JO_STR)
		return get_str(c, p, (char **)(void *)base);
	if (get_num(c, p, NULL, &n) < 0)
		return -1;
	if (jail_fields[f].store == JO_LONG)
		*(long *)(void *)base = n;
	else
		*(int *)(void *)base = (int)n;
	return 0;
}

static int get_refs(const struct ctx *c, const char *key, const char *def,
    struct jail_ref **refs, size_t *n)
{
	char *v;
	char msg[512];
	struct loc l;

	if (get(c, key, &v, &l) < 0)
		return -1;
	if (v == NULL)		/* not set: the default; set empty: none (fail2ban) */
		v = def ? xstrdup(def) : xstrdup("");
	int rc = jailval_split_refs(v, refs, n, msg, sizeof(msg));
	free(v);
	return rc < 0 ? jerr(c, &l, key, "%s", msg) : 0;
}

static int get_logpath(const struct ctx *c, struct jail *j)
{
	char *v;
	struct loc l;

	int rc = get(c, "logpath", &v, &l);
	if (rc <= 0)
		return rc;
	size_t tl = c->tree ? strlen(c->tree) : 0;
	j->tree_logpath = tl && strncmp(l.file, c->tree, tl) == 0 && l.file[tl] == '/';
	for (char *line = v, *next; line != NULL; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		line = str_trim(line);
		if (*line == '\0')
			continue;
		int tail = 0;
		char *sp = strrchr(line, ' ');
		if (sp == NULL)
			sp = strrchr(line, '\t');
		if (sp && (strcmp(sp + 1, "tail") == 0 || strcmp(sp + 1, "head") == 0)) {
			tail = strcmp(sp + 1, "tail") == 0;
			*sp = '\0';
			line = str_trim(line);
		}
		j->logpath = xrealloc(j->logpath, (j->nlogpath + 1) * sizeof(*j->logpath));
		j->logpath[j->nlogpath].pattern = xstrdup(line);
		j->logpath[j->nlogpath].tail = tail;
		j->nlogpath++;
	}
	free(v);
	return 0;
}

/* A host name as ignoreip may hold it (resolved later). */
static int is_hostname(const char *s)
{
	if (*s == '\0' || *s == '.' || *s == '-' || strlen(s) > 253)
		return 0;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '_')
			return 0;
	return strspn(s, "0123456789.") != strlen(s);	/* not a bad dotted quad */
}

static int get_ignoreip(const struct ctx *c, struct jail *j)
{
	char *v;
	struct loc l;
	int rc = get(c, "ignoreip", &v, &l);

	if (rc <= 0)
		return rc;
	rc = 0;
	for (char *tok = strtok(v, " \t\n,"); tok; tok = strtok(NULL, " \t\n,")) {
		struct net w;
		char msg[256];
		if (net_parse_net(tok, &w, msg, sizeof(msg)) == 0) {
			j->ignore = xrealloc(j->ignore, (j->nignore + 1) * sizeof(*j->ignore));
			j->ignore[j->nignore++] = w;
		} else if (strchr(tok, '/') == NULL && strchr(tok, ':') == NULL && is_hostname(tok)) {
			j->ignore_hosts = xrealloc(j->ignore_hosts, (j->nignore_hosts + 1) * sizeof(char *));
			j->ignore_hosts[j->nignore_hosts++] = xstrdup(tok);
		} else {
			rc = jerr(c, &l, "ignoreip", "%s", msg);
			break;
		}
	}
	free(v);
	return rc;
}

static int get_backend(const struct ctx *c, struct jail *j)
{
	static const struct {
		const char *name;
		enum jail_backend b;
	} backends[] = {
		{ "auto", JAIL_BACKEND_INOTIFY }, { "pyinotify", JAIL_BACKEND_INOTIFY },
		{ "gamin", JAIL_BACKEND_INOTIFY }, { "inotify", JAIL_BACKEND_INOTIFY },
		{ "polling", JAIL_BACKEND_POLLING }, { "systemd", JAIL_BACKEND_SYSTEMD },
	};
	char *v, msg[512];
	struct loc l;

	if (get(c, "backend", &v, &l) < 0)
		return -1;
	if (v == NULL || *v == '\0') {
		free(v);
		v = xstrdup("auto");
	}
	int rc = jailconf_parse_ref(v, &j->backend_ref, msg, sizeof(msg));
	free(v);
	if (rc < 0)
		return jerr(c, &l, "backend", "%s", msg);
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
		if (str_ieq(j->backend_ref.name, backends[i].name)) {
			j->backend = backends[i].b;
			return 0;
		}
	}
	return jerr(c, &l, "backend", "unknown backend '%s' (auto, pyinotify, gamin, polling, systemd)",
	    j->backend_ref.name);
}

/* bantime.factor: a number (or arithmetic on numbers). */
static int set_factor(const struct ctx *c, struct jail *j)
{
	char *v, msg[512];
	struct loc l;
	struct bt_formula f;
	int rc;

	j->factor = 1;
	if ((rc = get(c, "bantime.factor", &v, &l)) < 0)
		return -1;
	if (rc > 0 && *v != '\0') {
		rc = bantime_compile(v, 0, &f, msg, sizeof(msg));
		if (rc == 0) {
			j->factor = bantime_eval(&f, 0, 0, 0, 0);
			bantime_formula_free(&f);
			if (!(j->factor > 0) || !isfinite(j->factor))
				rc = jerr(c, &l, "bantime.factor", "'%s' must be more than 0", v);
		} else {
			rc = jerr(c, &l, "bantime.factor", "%s", msg);
		}
	}
	free(v);
	return rc < 0 ? -1 : 0;
}

/* bantime.formula (after maxtime is known). */
static int set_formula(const struct ctx *c, struct jail *j)
{
	char *v, msg[512];
	struct loc l;
	int rc;

	if ((rc = get(c, "bantime.formula", &v, &l)) < 0)
		return -1;
	if (rc > 0 && *v != '\0') {
		if (bantime_compile(v, 1, &j->formula, msg, sizeof(msg)) < 0)
			rc = jerr(c, &l, "bantime.formula", "%s", msg);
		else if (j->formula.uses_maxtime && j->maxtime == 0)
			rc = jerr(c, &l, "bantime.formula", "banMaxTime is used but bantime.maxtime is not set");
	} else {
		j->formula.kind = BT_FORMULA_POW2;
	}
	free(v);
	return rc < 0 ? -1 : 0;
}

static int set_multipliers(const struct ctx *c, struct jail *j)
{
	char *v;
	struct loc l;
	int rc;

	if ((rc = get(c, "bantime.multipliers", &v, &l)) < 0)
		return -1;
	if (rc > 0) {
		for (char *tok = strtok(v, " \t\n"); tok; tok = strtok(NULL, " \t\n")) {
			long m;
			if (config_parse_int(tok, &m) < 0 || m < 0 || m > 1000000000L) {
				rc = jerr(c, &l, "bantime.multipliers", "'%s' is not a whole number", tok);
				break;
			}
			j->multipliers = xrealloc(j->multipliers, (j->nmultipliers + 1) * sizeof(long));
			j->multipliers[j->nmultipliers++] = m;
		}
	}
	free(v);
	return rc < 0 ? -1 : 0;
}

/* filter: the jail's name unless set. */
static int set_filter(const struct ctx *c, struct jail *j)
{
	char *v, msg[512];
	struct loc l;
	int rc = get(c, "filter", &v, &l);
	if (rc < 0)
		return -1;
	if (rc == 0 || *v == '\0') {
		free(v);
		v = xstrdup(c->jail);
	}
	rc = jailconf_parse_ref(v, &j->filter, msg, sizeof(msg));
	free(v);
	return rc < 0 ? jerr(c, &l, "filter", "%s", msg) : 0;
}

/* A jail value or def when unset; NULL only on error. */
static char *get_or(const struct ctx *c, const char *key, const char *def)
{
	char *v;
	struct loc l;
	int rc = get(c, key, &v, &l);
	if (rc < 0)
		return NULL;
	return rc == 0 ? xstrdup(def) : v;
}

/* action; unset, it is jail.conf's action_ over the jail's banaction
 * (`banaction = iptables-multiport` alone bans with iptables, as in
 * fail2ban), the built-in nft when banaction is unset or nft. */
static int set_action(const struct ctx *c, struct jail *j)
{
	char *ba = get_or(c, "banaction", "nft");
	if (ba == NULL)
		return -1;
	char *port = get_or(c, "port", "0:65535"), *proto = get_or(c, "protocol", "tcp");
	char def[1024];
	if (*ba == '\0' || strcmp(ba, "nft") == 0 || port == NULL || proto == NULL ||
	    snprintf(def, sizeof(def), "%s[port=\"%s\", protocol=\"%s\"]", ba, port, proto) >=
	    (int)sizeof(def))
		snprintf(def, sizeof(def), "%s", *ba ? ba : "nft");
	free(ba);
	free(port);
	free(proto);
	return get_refs(c, "action", def, &j->actions, &j->nactions);
}

/* maxmatches: maxretry unless set. */
static int set_maxmatches(const struct ctx *c, struct jail *j)
{
	char def[32];
	snprintf(def, sizeof(def), "%ld", j->maxretry);
	return get_num(c, param_find(jail_params, "maxmatches", 0), def, &j->maxmatches);
}

/* dryrun: only when dry-run did not say yes. */
static int set_dryrun(const struct ctx *c, struct jail *j)
{
	long n;
	if (j->dryrun)
		return 0;
	if (get_num(c, param_find(jail_params, "dryrun", 0), NULL, &n) < 0)
		return -1;
	j->dryrun = (int)n;
	return 0;
}

/* prefix4, prefix6: warden_prefix4/6 unless set. */
static int set_prefix(const struct ctx *c, struct jail *j, const char *key, int def, int *out)
{
	char d[16];
	long n;
	snprintf(d, sizeof(d), "%d", def);
	if (get_num(c, param_find(jail_params, key, 0), d, &n) < 0)
		return -1;
	*out = (int)n;
	return 0;
}

static int set_prefix4(const struct ctx *c, struct jail *j)
{
	return set_prefix(c, j, "prefix4", c->p4, &j->prefix4);
}

static int set_prefix6(const struct ctx *c, struct jail *j)
{
	return set_prefix(c, j, "prefix6", c->p6, &j->prefix6);
}

/* Options that are not one typed field. */
static const struct {
	const char *name;
	int (*set_fn)(const struct ctx *c, struct jail *j);
} jail_setters[] = {
	{ "filter", set_filter }, { "logpath", get_logpath }, { "backend", get_backend },
	{ "action", set_action }, { "maxmatches", set_maxmatches },
	{ "ignoreip", get_ignoreip }, { "dryrun", set_dryrun },
	{ "prefix4", set_prefix4 }, { "prefix6", set_prefix6 },
	{ "bantime.factor", set_factor }, { "bantime.formula", set_formula },
	{ "bantime.multipliers", set_multipliers },
};

/* 1 if %(key)s appears in any value (a free variable, as fail2ban allows). */
static int referenced(const struct ini *ini, const char *key)
{
	char ref[160];
	if (snprintf(ref, sizeof(ref), "%%(%s)s", key) >= (int)sizeof(ref))
		return 0;
	for (int i = 0; i < ini->n; i++)
		if (strcasestr(ini->o[i].val, ref))
			return 1;
	return 0;
}

/* 1 if o is from one of the tree's .conf files (fail2ban's own, as
 * shipped: jail.conf's [DEFAULT] holds many variables no jail uses). */
static int stock(const struct ctx *c, const struct ini_opt *o)
{
	size_t tl = c->tree ? strlen(c->tree) : 0, fl = strlen(o->file);
	return tl && strncmp(o->file, c->tree, tl) == 0 && o->file[tl] == '/' &&
	    fl > 5 && strcmp(o->file + fl - 5, ".conf") == 0;
}

/* A key of the jail or [DEFAULT] that is a slip of an option's name
 * (maxretyr) and no variable used elsewhere: a warning naming both (jail
 * sections may hold free variables, as in fail2ban, so not an error).
 * Always 0. */
static int check_slips(const struct ctx *c)
{
	for (int i = 0; i < c->ini->n; i++) {
		const struct ini_opt *o = &c->ini->o[i];
		if ((strcmp(o->sec, c->jail) != 0 && strcmp(o->sec, "DEFAULT") != 0) ||
		    o->key[0] == ' ' || stock(c, o))
			continue;
		if (param_find(jail_params, o->key, 1) || referenced(c->ini, o->key))
			continue;
		size_t k;
		for (k = 0; k < sizeof(jail_other_keys) / sizeof(*jail_other_keys); k++)
			if (str_ieq(jail_other_keys[k], o->key))
				break;
		const struct param *near = param_near(jail_params, o->key);
		if (k == sizeof(jail_other_keys) / sizeof(*jail_other_keys) && near)
			log_warn("%s, line %d: [%s] %s: unknown option, ignored; did you mean %s?",
			    o->file, o->line, c->jail, o->key, near->name);
	}
	return 0;
}

/* Every option of the table, in its order, then the checks across them. */
static int parse_jail(const struct ctx *c, struct jail *j)
{
	for (const struct param *p = jail_params + 1; p->name; p++) {	/* after enabled */
		size_t k;
		int rc = 0, done = 0;
		for (k = 0; !done && k < sizeof(jail_setters) / sizeof(*jail_setters); k++)
			if (strcmp(jail_setters[k].name, p->name) == 0) {
				rc = jail_setters[k].set_fn(c, j);
				done = 1;
			}
		for (k = 0; !done && k < sizeof(jail_fields) / sizeof(*jail_fields); k++)
			if (strcmp(jail_fields[k].name, p->name) == 0) {
				rc = set_field(c, j, p, k);
				done = 1;
			}
		if (rc < 0)
			return -1;
	}
	if (j->findtime == 0) {
		struct loc home = { j->file, j->line };
		return jerr(c, &home, "findtime", "must be more than 0 seconds");
	}
	return check_slips(c);
}

/* ---- the whole config ---- */

void jailconf_free(struct jailconf *jc)
{
	for (size_t i = 0; i < jc->njails; i++)
		jail_free(jc->jails[i]);
	free(jc->jails);
	jc->jails = NULL;
	jc->njails = 0;
}

struct jail *jailconf_find(const struct jailconf *jc, const char *name)
{
	for (size_t i = 0; i < jc->njails; i++)
		if (strcmp(jc->jails[i]->name, name) == 0)
			return jc->jails[i];
	return NULL;
}

/* 1 if sec is a jail's section (not DEFAULT, INCLUDES, KNOWN/x, the
 * built-in one) met for the first time at option i. seen: the sections
 * of the options before i, an open-addressing set of cap slots (a power
 * of two, over twice the options): linear over a whole fail2ban tree. */
static int first_jail_sec(const struct ini *ini, int i, const char **seen, size_t cap)
{
	const char *sec = ini->o[i].sec;
	if (strcmp(sec, "DEFAULT") == 0 || strcmp(sec, "INCLUDES") == 0 ||
	    strncmp(sec, "KNOWN/", 6) == 0 || strcmp(sec, BUILTIN_SEC) == 0)
		return 0;
	size_t h = 2166136261u;
	for (const unsigned char *p = (const unsigned char *)sec; *p; p++)
		h = (h ^ *p) * 16777619u;
	for (h &= cap - 1; seen[h] != NULL; h = (h + 1) & (cap - 1))
		if (strcmp(seen[h], sec) == 0)
			return 0;
	seen[h] = sec;
	return 1;
}

/* The enabled jails of ini (the built-in defaults added), in the order
 * their sections first appear. */
static int parse_ini(struct ini *ini, int prefix4, int prefix6, const char *tree,
    struct jailconf *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (errlen > 0)
		err[0] = '\0';
	add_builtins(ini);
	size_t cap = 16;
	while (cap < 2 * (size_t)ini->n + 2)
		cap *= 2;
	const char **seen = xcalloc(cap, sizeof(*seen));
	for (int i = 0; i < ini->n; i++) {
		if (!first_jail_sec(ini, i, seen, cap))
			continue;
		const char *name = ini->o[i].sec;
		const struct ini_opt *h = ini_get(ini, name, JAILTREE_HEADER);
		if (h == NULL)
			h = &ini->o[i];
		struct ctx c = { ini, prefix4, prefix6, name, h->file, h->line, tree, err, errlen };
		long enabled;
		if (get_num(&c, jail_params, NULL, &enabled) < 0)
			goto fail;
		if (!enabled)
			continue;
		struct jail *j = xcalloc(1, sizeof(*j));
		j->name = xstrdup(name);
		j->file = xstrdup(h->file);
		j->line = h->line;
		j->tree = tree ? xstrdup(tree) : NULL;
		out->jails = xrealloc(out->jails, (out->njails + 1) * sizeof(*out->jails));
		out->jails[out->njails++] = j;
		if (parse_jail(&c, j) < 0)
			goto fail;
	}
	free(seen);
	return 0;
fail:
	free(seen);
	jailconf_free(out);
	return -1;
}

int jailconf_parse(const struct config_section *const *secs, size_t nsecs,
    int prefix4, int prefix6, struct jailconf *out, char *err, size_t errlen)
{
	struct ini ini = { .max = -1, .icase = 1 };

	jailtree_sections(secs, nsecs, &ini);
	int rc = parse_ini(&ini, prefix4, prefix6, NULL, out, err, errlen);
	ini_free(&ini);
	return rc;
}

/* Integer global from the parameter table, def if the table lacks it. */
static int global_int(const struct config *cfg, const char *name, int def)
{
	for (const struct param *p = config_params; p->name; p++)
		if (strcmp(p->name, name) == 0)
			return (int)config_get_int(cfg, name);
	return def;
}

int jailconf_load(const struct config *cfg, struct jailconf *out, char *err, size_t errlen)
{
	size_t n = config_nsections(cfg);
	const struct config_section **secs = xcalloc(n ? n : 1, sizeof(*secs));

	for (size_t i = 0; i < n; i++)
		secs[i] = config_section(cfg, i);
	struct ini ini;
	char *tree;
	int rc = jailtree_load(cfg, secs, n, &ini, &tree, err, errlen);
	free(secs);
	if (rc < 0) {
		memset(out, 0, sizeof(*out));
		return -1;
	}
	rc = parse_ini(&ini, global_int(cfg, "warden_prefix4", 32),
	    global_int(cfg, "warden_prefix6", 64), tree, out, err, errlen);
	ini_free(&ini);
	free(tree);
	return rc;
}
