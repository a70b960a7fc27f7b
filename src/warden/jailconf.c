/*
 * jailconf — fail2ban jails from the [sections] of mailwarden.conf, with
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
#include "common/util.h"
#include "warden/ini.h"
#include "warden/jail.h"
#include "warden/jailval.h"

#define JC_MAXVALUE 65536	/* longest value after interpolation */
#define JC_MAXDEPTH 16		/* nested %(name)s */

struct ctx {
	const struct ini *ini;		/* every section, keys in any case */
	const char *jail;
	const struct config_section *home;	/* the jail's first section */
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
	{ "banaction", "nft" },
};

/* %(x)s: the jail, [DEFAULT], then the built-in defaults. */
static const char *const *jail_fallback(const char *sec)
{
	static const char *const order[] = { "DEFAULT", BUILTIN_SEC, NULL };
	return order;
}

/* The sections as one table, the built-in defaults after them. */
static void sections_ini(const struct config_section *const *secs, size_t nsecs,
    struct ini *ini)
{
	memset(ini, 0, sizeof(*ini));
	ini->max = -1;
	ini->icase = 1;
	for (size_t i = 0; i < nsecs; i++)
		for (size_t k = 0; k < secs[i]->nkv; k++)
			ini_set(ini, secs[i]->name, secs[i]->kv[k].key, secs[i]->kv[k].value,
			    secs[i]->file, secs[i]->kv[k].line);
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
	l->file = o ? o->file : c->home->file;
	l->line = o ? o->line : c->home->line;
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
	free(j);
}

/* Time key: def if unset or empty; forever allowed if forever. */
static int get_time(const struct ctx *c, const char *key, long def, int forever, long *out)
{
	char *v;
	struct loc l;
	int rc = get(c, key, &v, &l);

	*out = def;
	if (rc <= 0 || *v == '\0') {
		free(v);
		return rc < 0 ? -1 : 0;
	}
	if (jailconf_parse_time(v, out) < 0)
		rc = jerr(c, &l, key, "bad time '%s' (seconds, or units s m h d w mo y as in 1h 30m%s)",
		    v, forever ? ", or -1 for forever" : "");
	else if (*out == JAIL_FOREVER && !forever)
		rc = jerr(c, &l, key, "-1 (forever) is not allowed here");
	else if (*out == 0 && forever)
		rc = jerr(c, &l, key, "must be more than 0 seconds, or -1 for forever");
	free(v);
	return rc < 0 ? -1 : 0;
}

static int get_int(const struct ctx *c, const char *key, long def, long min, long max, long *out)
{
	char *v;
	struct loc l;
	int rc = get(c, key, &v, &l);

	*out = def;
	if (rc <= 0 || *v == '\0') {
		free(v);
		return rc < 0 ? -1 : 0;
	}
	if (config_parse_int(v, out) < 0 || *out < min || *out > max)
		rc = jerr(c, &l, key, "'%s' is not a number from %ld to %ld", v, min, max);
	free(v);
	return rc < 0 ? -1 : 0;
}

static int get_bool(const struct ctx *c, const char *key, int def, int *out)
{
	char *v;
	struct loc l;
	int rc = get(c, key, &v, &l);

	*out = def;
	if (rc <= 0 || *v == '\0') {
		free(v);
		return rc < 0 ? -1 : 0;
	}
	if ((*out = jailval_bool(v)) < 0)
		rc = jerr(c, &l, key, "'%s' is not a boolean (true/false, yes/no, on/off, 1/0)", v);
	free(v);
	return rc < 0 ? -1 : 0;
}

/* Text key, trimmed; def (may be NULL) if unset or empty. */
static int get_str(const struct ctx *c, const char *key, const char *def, char **out)
{
	struct loc l;
	int rc = get(c, key, out, &l);

	if (rc < 0)
		return -1;
	if (rc == 0 || **out == '\0') {
		free(*out);
		*out = def ? xstrdup(def) : NULL;
	}
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

static int get_enum(const struct ctx *c, const char *key, const char *const *words,
    int def, int *out)
{
	char *v;
	struct loc l;
	int rc = get(c, key, &v, &l);

	*out = def;
	if (rc > 0 && *v != '\0') {
		int i;
		for (i = 0; words[i]; i++)
			if (str_ieq(v, words[i]))
				break;
		if (words[i] == NULL)
			rc = jerr(c, &l, key, "'%s' is not one of yes, warn, no, raw", v);
		else
			*out = i;
	}
	free(v);
	return rc < 0 ? -1 : 0;
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

/* bantime.factor, .formula, .multipliers (after maxtime is known). */
static int get_increment(const struct ctx *c, struct jail *j)
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
	if (rc < 0)
		return -1;

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
	if (rc < 0)
		return -1;

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

static int parse_jail(const struct ctx *c, struct jail *j, int p4, int p6)
{
	static const char *const usedns[] = { "yes", "warn", "no", "raw", NULL };
	long n;
	int b;

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
	if (rc < 0)
		return jerr(c, &l, "filter", "%s", msg);

	if (get_logpath(c, j) < 0 || get_backend(c, j) < 0
	    || get_str(c, "journalmatch", NULL, &j->journalmatch) < 0
	    || get_str(c, "port", "0:65535", &j->port) < 0
	    || get_str(c, "protocol", "tcp", &j->protocol) < 0
	    || get_refs(c, "action", "nft", &j->actions, &j->nactions) < 0)
		return -1;
	if (get_time(c, "bantime", 600, 1, &j->bantime) < 0
	    || get_time(c, "findtime", 600, 0, &j->findtime) < 0
	    || get_int(c, "maxretry", 5, 1, 1000000, &j->maxretry) < 0
	    || get_int(c, "maxmatches", j->maxretry, 0, 1000000, &j->maxmatches) < 0
	    || get_ignoreip(c, j) < 0
	    || get_bool(c, "ignoreself", 1, &j->ignoreself) < 0
	    || get_enum(c, "usedns", usedns, JAIL_USEDNS_WARN, &b) < 0)
		return -1;
	j->usedns = (enum jail_usedns)b;
	if (get_bool(c, "dry-run", 0, &j->dryrun) < 0
	    || (!j->dryrun && get_bool(c, "dryrun", 0, &j->dryrun) < 0))
		return -1;
	if (get_int(c, "prefix4", p4, 1, 32, &n) < 0)
		return -1;
	j->prefix4 = (int)n;
	if (get_int(c, "prefix6", p6, 1, 128, &n) < 0)
		return -1;
	j->prefix6 = (int)n;
	if (get_int(c, "maxfailed", 100000, 0, 100000000, &j->maxfailed) < 0
	    || get_int(c, "maxbanned", 100000, 0, 100000000, &j->maxbanned) < 0
	    || get_int(c, "maxbanned.prefix4", 24, 1, 32, &n) < 0)
		return -1;
	j->maxbanned_prefix4 = (int)n;
	if (get_int(c, "maxbanned.prefix6", 48, 1, 128, &n) < 0)
		return -1;
	j->maxbanned_prefix6 = (int)n;
	if (j->findtime == 0) {
		struct loc home = { j->file, j->line };
		return jerr(c, &home, "findtime", "must be more than 0 seconds");
	}

	if (get_bool(c, "bantime.increment", 0, &j->increment) < 0
	    || get_time(c, "bantime.maxtime", 0, 0, &j->maxtime) < 0
	    || get_time(c, "bantime.rndtime", 0, 0, &j->rndtime) < 0
	    || get_bool(c, "bantime.overalljails", 0, &j->overalljails) < 0
	    || get_increment(c, j) < 0)
		return -1;
	return 0;
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

int jailconf_parse(const struct config_section *const *secs, size_t nsecs,
    int prefix4, int prefix6, struct jailconf *out, char *err, size_t errlen)
{
	struct ini ini;

	memset(out, 0, sizeof(*out));
	if (errlen > 0)
		err[0] = '\0';
	sections_ini(secs, nsecs, &ini);
	for (size_t i = 0; i < nsecs; i++) {
		const struct config_section *s = secs[i];
		size_t k;

		if (strcmp(s->name, "DEFAULT") == 0 || strcmp(s->name, "INCLUDES") == 0)
			continue;
		for (k = 0; k < i; k++)
			if (strcmp(secs[k]->name, s->name) == 0)
				break;
		if (k < i)
			continue;	/* seen: merged into its first section */
		struct ctx c = { &ini, s->name, s, err, errlen };
		int enabled;
		if (get_bool(&c, "enabled", 0, &enabled) < 0)
			goto fail;
		if (!enabled)
			continue;
		struct jail *j = xcalloc(1, sizeof(*j));
		j->name = xstrdup(s->name);
		j->file = xstrdup(s->file);
		j->line = s->line;
		out->jails = xrealloc(out->jails, (out->njails + 1) * sizeof(*out->jails));
		out->jails[out->njails++] = j;
		if (parse_jail(&c, j, prefix4, prefix6) < 0)
			goto fail;
	}
	ini_free(&ini);
	return 0;
fail:
	ini_free(&ini);
	jailconf_free(out);
	return -1;
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
	int rc = jailconf_parse(secs, n, global_int(cfg, "warden_prefix4", 32),
	    global_int(cfg, "warden_prefix6", 64), out, err, errlen);
	free(secs);
	return rc;
}
