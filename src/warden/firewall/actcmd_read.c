/*
 * actcmd_read — the client half of fail2ban 1.0.2's command actions (see
 * actcmd.h): an action.d file's properties as fail2ban-client sends them
 * to the server, following client/configparserinc.py and configparser
 * (cp_get: %(x)s with the jail's values as vars, `known/`, `sec/opt`),
 * client/configreader.py DefinitionInitConfigReader.getOptions and
 * getCombined, and client/actionreader.py convert (actcmd_props).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/util.h"
#include "warden/firewall/actcmd_int.h"

#define CP_MAXDEPTH 10		/* configparser's MAX_INTERPOLATION_DEPTH */

/* ActionReader._configOpts, in order. */
static const char *const config_opts[] = {
	"actionstart", "actionstart_on_demand", "actionstop", "actionflush", "actionreload",
	"actioncheck", "actionrepair", "actionrepair_on_unban", "actionban", "actionprolong",
	"actionreban", "actionunban", "norestored", NULL,
};
/* Of those, the ones converted to bool. */
static const char *const bool_opts[] = {
	"actionstart_on_demand", "actionrepair_on_unban", "norestored", NULL,
};
/* ---- configparser (fail2ban's SafeConfigParserWithIncludes) ---- */

struct cp {
	const struct ini *ini;
	char *err;
	size_t errlen;
	int failed;
};

static int cp_fail(struct cp *c, const char *fmt, const char *a, const char *b)
{
	if (!c->failed)
		snprintf(c->err, c->errlen, fmt, a, b);
	c->failed = 1;
	return -1;
}

static const char *ini_val(const struct ini *ini, const char *sec, const char *key)
{
	const struct ini_opt *o = ini_get(ini, sec, key);
	return o ? o->val : NULL;
}

/* A section of the table (or a conditional one merged into it)? */
static int has_section(const struct ini *ini, const char *sec)
{
	for (int i = 0; i < ini->n; i++)
		if (strcmp(ini->o[i].sec, sec) == 0)
			return 1;
	return 0;
}

/* Raw option opt of sec, with vars first; "k?family=x" of Init is
 * k of [Init?family=x]. */
static const char *cp_raw(const struct cp *c, const char *sec, const char *opt,
    const struct actcmd_map *vars)
{
	const char *v = vars ? actcmd_get(vars, opt) : NULL;
	const char *q = strchr(opt, '?');
	if (v == NULL && q) {
		char s[256], k[256];
		if (snprintf(s, sizeof(s), "%s%s", sec, q) < (int)sizeof(s) &&
		    snprintf(k, sizeof(k), "%.*s", (int)(q - opt), opt) < (int)sizeof(k))
			v = ini_val(c->ini, s, k);
	}
	if (v == NULL)
		v = ini_val(c->ini, sec, opt);
	if (v == NULL)
		v = ini_val(c->ini, "DEFAULT", opt);
	return v;
}

/* %(name)s seen from sec: `known/x`, `sec/x`, `default/x`, __name__. */
static const char *cp_lookup(const struct cp *c, const char *sec, const char *name,
    const struct actcmd_map *vars)
{
	const char *sl = strchr(name, '/');
	const char *v = vars ? actcmd_get(vars, name) : NULL;
	if (v)
		return v;
	if (strcmp(name, "__name__") == 0)
		return sec;
	if (sl) {
		char s[256];
		if ((size_t)(sl - name) >= 200)
			return NULL;
		if (strncasecmp(name, "known/", 6) == 0) {
			snprintf(s, sizeof(s), "KNOWN/%s", sec);
			v = ini_val(c->ini, s, sl + 1);
		} else if (strncasecmp(name, "default/", 8) != 0) {
			snprintf(s, sizeof(s), "%.*s", (int)(sl - name), name);
			v = ini_val(c->ini, s, sl + 1);
		}
		return v ? v : ini_val(c->ini, "DEFAULT", sl + 1);
	}
	return cp_raw(c, sec, name, vars);
}

static int cp_interp(struct cp *c, const char *sec, const char *v,
    const struct actcmd_map *vars, struct buf *out, int depth)
{
	while (*v) {
		const char *p = strchr(v, '%');
		if (p == NULL)
			return buf_puts(out, v) < 0 ? cp_fail(c, "value too long%s%s", "", "") : 0;
		buf_append(out, v, (size_t)(p - v));
		if (p[1] == '%') {
			buf_append(out, "%", 1);
			v = p + 2;
			continue;
		}
		const char *close = p[1] == '(' ? strchr(p + 2, ')') : NULL;
		if (close == NULL || close[1] != 's') {
			cp_fail(c, "bad interpolation syntax at '%.30s'%s", p, "");
			buf_append(out, "%", 1);
			v = p + 1;
			continue;
		}
		char name[256];
		snprintf(name, sizeof(name), "%.*s", (int)(close - p - 2), p + 2);
		const char *val = cp_lookup(c, sec, name, vars);
		if (val == NULL) {
			cp_fail(c, "%%(%s)s names no option (section [%s])", name, sec);
			buf_append(out, p, (size_t)(close + 2 - p));
		} else if (depth >= CP_MAXDEPTH) {
			cp_fail(c, "%%(%s)s: interpolation deeper than 10 (section [%s])", name, sec);
		} else if (cp_interp(c, sec, val, vars, out, depth + 1) < 0) {
			return -1;
		}
		v = close + 2;
	}
	return out->len >= out->max ? cp_fail(c, "value too long%s%s", "", "") : 0;
}

/* configparser's get(sec, opt, vars=vars): NULL if no such option. */
static char *cp_get(struct cp *c, const char *sec, const char *opt,
    const struct actcmd_map *vars)
{
	const char *raw = cp_raw(c, sec, opt, vars);
	if (raw == NULL)
		return NULL;
	struct buf b;
	buf_init(&b, VAL_MAX);
	cp_interp(c, sec, raw, vars, &b, 1);
	char *s = xstrdup(bstr(&b));
	buf_free(&b);
	return s;
}

/* ---- the client: ActionReader ---- */

struct client {
	struct cp cp;
	struct actcmd_map popts;	/* the jail's values and the action's */
	struct actcmd_map ignore;
};

static int client_ignore(void *arg, const char *tag)
{
	struct client *cl = arg;
	return actcmd_get(&cl->ignore, tag) != NULL;
}

/* DefinitionInitConfigReader.getCombOption: get_ex("Definition", name). */
static char *comb_option(void *arg, const char *name)
{
	struct client *cl = arg;
	struct cp *c = &cl->cp;
	const char *sl = strchr(name, '/');
	if (sl && sl > name && strchr(sl + 1, '/') == NULL && sl[1]) {
		char sec[256], opt[256];
		snprintf(sec, sizeof(sec), "%.*s", (int)(sl - name), name);
		snprintf(opt, sizeof(opt), "%s", sl + 1);
		const char *secs[2] = { sec, NULL };
		if (strcasecmp(sec, "known") == 0)
			secs[0] = "KNOWN/Definition", secs[1] = "Definition";
		else if (strcasecmp(sec, "default") == 0)
			secs[0] = "DEFAULT";
		for (int i = 0; i < 2 && secs[i]; i++) {
			if (!has_section(c->ini, secs[i]) && strcmp(secs[i], "DEFAULT") != 0)
				continue;
			char *v = cp_get(c, secs[i], opt, NULL);
			if (v)
				return v;
		}
	}
	return cp_get(c, "Definition", name, &cl->popts);
}

void actcmd_actname(const struct jail *j, const struct jail_ref *ref, char *out, size_t len)
{
	const char *n = NULL, *an = NULL;
	for (size_t i = 0; i < ref->nopts; i++) {
		if (strcmp(ref->opts[i].key, "name") == 0)
			n = ref->opts[i].value;
		if (strcmp(ref->opts[i].key, "actname") == 0)
			an = ref->opts[i].value;
	}
	size_t jl = strlen(j->name);
	if (an)
		snprintf(out, len, "%s", an);
	else if (n == NULL || strcmp(n, j->name) == 0)
		snprintf(out, len, "%s", ref->name);
	else if (strncmp(n, j->name, jl) == 0)
		snprintf(out, len, "%s%s", ref->name, n + jl);
	else
		snprintf(out, len, "%s-%s", ref->name, n);
}

int actcmd_props(const struct ini *ini, const struct jail *j, const struct jail_ref *ref,
    struct actcmd_map *props, char *err, size_t errlen)
{
	struct client cl = { .cp = { .ini = ini, .err = err, .errlen = errlen } };
	struct actcmd_map init = { 0 }, opts = { 0 }, comb = { 0 };
	char buf[512];

	*err = '\0';
	/* ActionReader.__init__: name and actname */
	for (size_t i = 0; i < ref->nopts; i++) {	/* extractOptions strips values */
		char *k = xstrdup(ref->opts[i].key), *v = xstrdup(ref->opts[i].value);
		actcmd_set(&init, str_trim(k), str_trim(v));
		free(k);
		free(v);
	}
	if (actcmd_get(&init, "name") == NULL)
		actcmd_set(&init, "name", j->name);
	if (actcmd_get(&init, "actname") == NULL) {
		actcmd_actname(j, ref, buf, sizeof(buf));
		actcmd_set(&init, "actname", buf);
	}
	/* getOptions: pOpts (the jail's) merged with the action's */
	actcmd_set(&cl.popts, "port", j->port ? j->port : "0:65535");
	actcmd_set(&cl.popts, "protocol", j->protocol ? j->protocol : "tcp");
	actcmd_map_copy(&cl.popts, &init);
	for (size_t i = 0; config_opts[i]; i++) {
		if (actcmd_get(&cl.popts, config_opts[i]))
			continue;
		char *v = cp_get(&cl.cp, "Definition", config_opts[i], &cl.popts);
		if (v)
			actcmd_set(&opts, config_opts[i], v);
		free(v);
	}
	/* [Init] own options (conditional sections merged as key?cond) */
	for (int i = 0; i < ini->n; i++) {
		const struct ini_opt *o = &ini->o[i];
		const char *q = strncmp(o->sec, "Init", 4) == 0 ? o->sec + 4 : NULL;
		if (q == NULL || (*q && *q != '?') || strcmp(o->key, "__name__") == 0)
			continue;
		char key[400];
		if (snprintf(key, sizeof(key), "%s%s", o->key, q) >= (int)sizeof(key))
			continue;
		char *v = NULL;
		if (strncmp(key, "known/", 6) != 0) {
			v = cp_get(&cl.cp, "Init", key, NULL);
			snprintf(buf, sizeof(buf), "known/%s", key);
			actcmd_set(&init, buf, v ? v : "");
		}
		if (actcmd_get(&init, key) == NULL) {
			if (v == NULL)
				v = cp_get(&cl.cp, "Init", key, NULL);
			actcmd_set(&init, key, v ? v : "");
		}
		free(v);
	}
	/* getCombined */
	actcmd_map_copy(&comb, &opts);
	actcmd_map_copy(&comb, &init);
	static const char *const ign[] = {
		"matches", "ipmatches", "ipjailmatches", "timeout", "bantime", NULL,
	};
	for (size_t i = 0; ign[i]; i++)
		actcmd_set(&cl.ignore, ign[i], "");
	for (size_t i = 0; i < comb.n; i++) {
		size_t bl = actcmd_conditional(comb.e[i].k);
		if (bl) {
			snprintf(buf, sizeof(buf), "%.*s", (int)bl, comb.e[i].k);
			actcmd_set(&cl.ignore, buf, "");
		}
	}
	char serr[512] = "";
	int rc = actcmd_subst(&comb, "", client_ignore, &cl, comb_option, &cl, serr,
	    sizeof(serr));
	if (rc < 0)
		snprintf(err, errlen, "%s", serr);
	/* convert: what the server gets, as CommandAction properties */
	for (size_t i = 0; rc == 0 && i < comb.n; i++) {
		const char *k = comb.e[i].k, *v = comb.e[i].v;
		if (!actcmd_in_list(config_opts, k))
			continue;
		if (actcmd_in_list(bool_opts, k)) {
			int t = strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0 ||
			    strcasecmp(v, "on") == 0 || strcmp(v, "1") == 0;
			v = t ? "True" : "False";
		}
		actcmd_set(props, k, v);
	}
	for (size_t i = 0; rc == 0 && i < init.n; i++) {
		const char *k = init.e[i].k;
		if (actcmd_in_list(config_opts, k) || strncmp(k, "known/", 6) == 0 || k[0] == '_' ||
		    strcmp(k, "bantime") == 0)
			continue;
		actcmd_set(props, k, init.e[i].v);
	}
	if (rc == 0 && actcmd_get(props, "timeout") == NULL)
		actcmd_set(props, "timeout", "60");
	actcmd_map_free(&init);
	actcmd_map_free(&opts);
	actcmd_map_free(&comb);
	actcmd_map_free(&cl.popts);
	actcmd_map_free(&cl.ignore);
	return rc == 0 && !cl.cp.failed ? 0 : -1;
}

