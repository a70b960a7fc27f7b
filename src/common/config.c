/*
 * config — load mailwarden.conf: Postfix main.cf syntax for the global
 * keys and per-listener overrides (ROLE/inet/KEY; the listeners' slots
 * and named listeners in config_named.c), fail2ban-style raw
 * [sections] after them. At load every value is expanded ($name,
 * ${name}, $(name), ${name?text}, ${name:text}, $$; the order of
 * definitions does not matter) and checked against its type in the
 * parameter table (params.c), so every later get is a lookup that cannot
 * fail. Errors read "FILE, line N: KEY: message".
 */
#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <ifaddrs.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/config_int.h"
#include "common/log.h"
#include "common/map.h"
#include "common/util.h"

/* Expansion state: the chain of parameters being expanded, for loops. */
struct xctx {
	struct config *cfg;
	int *stack;
	size_t depth;
	char msg[512];		/* error text without location */
	int failed;
	int located;		/* err already holds "FILE, line N: KEY: msg" */
	int alias_idx;		/* index of alias_maps */
	char *err;
	size_t errlen;
};

int config_param_index(const char *name)
{
	for (int i = 0; config_params[i].name != NULL; i++) {
		if (strcmp(config_params[i].name, name) == 0)
			return i;
	}
	return -1;
}

/* Index of a parameter that must exist (a programming error if not). */
int config_must_index(const char *name)
{
	int i = config_param_index(name);
	if (i < 0)
		fatal("config: no parameter named %s", name);
	return i;
}

/* ---- expansion ---- */

/* Record an error; the innermost explicitly set key will locate it. */
static int xfail(struct xctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int xfail(struct xctx *x, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(x->msg, sizeof(x->msg), fmt, ap);
	va_end(ap);
	x->failed = 1;
	x->located = 0;
	return -1;
}

/* Put the location of a set key in front of an unlocated error. */
static void xlocate(struct xctx *x, const struct setting *s)
{
	if (x->located || s == NULL || s->raw == NULL)
		return;
	snprintf(x->err, x->errlen, "%s, line %d: %s: %s", x->cfg->path, s->line, s->key, x->msg);
	x->located = 1;
}

static int expand_str(struct xctx *x, const char *s, struct buf *out);

/* Replace a value naming a file with the file's first line, trimmed (as
 * Postfix reads myorigin = /etc/mailname). */
static int read_first_line(struct xctx *x, struct buf *b)
{
	char line[1024];
	FILE *fp = fopen(b->data, "r");

	if (fp == NULL)
		return xfail(x, "cannot open %s: %s", b->data, strerror(errno));
	if (fgets(line, sizeof(line), fp) == NULL)
		line[0] = '\0';
	fclose(fp);
	char *v = str_trim(line);
	if (*v == '\0')
		return xfail(x, "%s: no name on its first line", b->data);
	buf_reset(b);
	return buf_puts(b, v) < 0 ? xfail(x, "value too long") : 0;
}

/* Expanded value of global parameter i (cached), or NULL on error. */
static const char *expand_param(struct xctx *x, int i)
{
	struct config *cfg = x->cfg;
	struct buf b;
	int rc;

	if (cfg->val[i] != NULL)
		return cfg->val[i];
	for (size_t d = 0; d < x->depth; d++) {
		if (x->stack[d] == i) {
			xfail(x, "recursive expansion of $%s", config_params[i].name);
			return NULL;
		}
	}
	x->stack[x->depth++] = i;
	buf_init(&b, CONF_VALUE_MAX);
	buf_puts(&b, "");
	if (cfg->set[i].raw == NULL && strcmp(config_params[i].name, "mydomain") == 0) {
		/* dynamic default: $myhostname minus its first label */
		rc = expand_str(x, "$myhostname", &b);
		if (rc == 0) {
			const char *dot = strchr(b.data, '.');
			char *d = xstrdup(dot && dot[1] ? dot + 1 : "localdomain");
			buf_reset(&b);
			buf_puts(&b, d);
			free(d);
		}
	} else if (config_params[i].type == PT_TEMPLATE) {
		/* expanded later by its user, with its own $names */
		rc = buf_puts(&b, cfg->set[i].raw ? cfg->set[i].raw : cfg->defval[i]) < 0
		    ? xfail(x, "value too long") : 0;
	} else {
		rc = expand_str(x, cfg->set[i].raw ? cfg->set[i].raw : cfg->defval[i], &b);
	}
	x->depth--;
	if (rc == 0 && b.data[0] == '/' && strcmp(config_params[i].name, "myorigin") == 0)
		rc = read_first_line(x, &b);	/* Debian's myorigin = /etc/mailname */
	if (rc < 0) {
		xlocate(x, &cfg->set[i]);
		buf_free(&b);
		return NULL;
	}
	cfg->val[i] = xstrdup(b.data);
	buf_free(&b);
	return cfg->val[i];
}

/* Expand ${name?text} / ${name:text}: text if name is (non-)empty. */
static int expand_cond(struct xctx *x, const char *v, char op, const char *text,
    size_t tlen, struct buf *out)
{
	if ((op == '?') != (*v != '\0'))
		return 0;
	char *t = xstrndup(text, tlen);
	int rc = expand_str(x, t, out);
	free(t);
	return rc;
}

static int is_name_char(int c)
{
	return isalnum(c) || c == '_';
}

/* Expand every $ expression of s into out. */
static int expand_str(struct xctx *x, const char *s, struct buf *out)
{
	char name[128];

	while (*s) {
		const char *dollar = strchr(s, '$');
		size_t lit = dollar ? (size_t)(dollar - s) : strlen(s);
		if (buf_append(out, s, lit) < 0)
			return xfail(x, "value too long after expansion");
		if (dollar == NULL)
			break;
		const char *p = dollar + 1;
		char open = 0, op = 0;
		const char *text = NULL;
		size_t tlen = 0;
		if (*p == '$') {
			if (buf_puts(out, "$") < 0)
				return xfail(x, "value too long after expansion");
			s = p + 1;
			continue;
		}
		if (*p == '{' || *p == '(')
			open = *p++;
		size_t nlen = 0;
		while (is_name_char((unsigned char)p[nlen]))
			nlen++;
		if (nlen == 0 && open == 0) {	/* a lone '$' stays literal */
			if (buf_puts(out, "$") < 0)
				return xfail(x, "value too long after expansion");
			s = p;
			continue;
		}
		if (nlen == 0 || nlen >= sizeof(name))
			return xfail(x, "bad parameter name after '$' in '%s'", dollar);
		memcpy(name, p, nlen);
		name[nlen] = '\0';
		p += nlen;
		if (open == '{' && (*p == '?' || *p == ':')) {
			int depth = 1;
			op = *p++;
			text = p;
			for (; *p && depth > 0; p++) {
				if (*p == '{')
					depth++;
				else if (*p == '}')
					depth--;
			}
			if (depth > 0)
				return xfail(x, "missing '}' in '%s'", dollar);
			tlen = (size_t)(p - 1 - text);
		} else if (open != 0) {
			if (*p != (open == '{' ? '}' : ')'))
				return xfail(x, "missing '%c' in '%s'", open == '{' ? '}' : ')', dollar);
			p++;
		}
		int j = config_param_index(name);
		if (j < 0)
			return xfail(x, "unknown parameter $%s", name);
		const char *v = expand_param(x, j);
		if (v == NULL)
			return -1;
		if (op != 0) {
			if (expand_cond(x, v, op, text, tlen, out) < 0)
				return -1;
		} else if (buf_puts(out, v) < 0) {
			return xfail(x, "value too long after expansion");
		}
		s = p;
	}
	return 0;
}

/* ---- dynamic defaults ---- */

static char *default_myhostname(void)
{
	char host[256];

	if (gethostname(host, sizeof(host)) < 0 || host[0] == '\0')
		return xstrdup("localhost");
	host[sizeof(host) - 1] = '\0';
	return str_lower(xstrdup(host));
}

/* 127.0.0.0/8 [::1]/128 and every address of this host (mynetworks_style=host). */
static char *default_mynetworks(void)
{
	struct ifaddrs *ifs, *ifa;
	struct buf b;
	char addr[INET6_ADDRSTRLEN];

	buf_init(&b, CONF_VALUE_MAX);
	buf_puts(&b, "127.0.0.0/8 [::1]/128");
	if (getifaddrs(&ifs) < 0) {
		log_warn("getifaddrs: %s; mynetworks defaults to loopback only", strerror(errno));
		return b.data;
	}
	for (ifa = ifs; ifa != NULL; ifa = ifa->ifa_next) {
		const struct sockaddr *sa = ifa->ifa_addr;
		if (sa == NULL)
			continue;
		if (sa->sa_family == AF_INET) {
			const struct sockaddr_in *sin = (const void *)sa;
			if ((ntohl(sin->sin_addr.s_addr) >> 24) == 127)
				continue;
			if (inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof(addr)) != NULL)
				buf_printf(&b, " %s/32", addr);
		} else if (sa->sa_family == AF_INET6) {
			const struct sockaddr_in6 *sin6 = (const void *)sa;
			if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
				continue;
			if (inet_ntop(AF_INET6, &sin6->sin6_addr, addr, sizeof(addr)) != NULL)
				buf_printf(&b, " [%s]/128", addr);
		}
	}
	freeifaddrs(ifs);
	return b.data;
}

/* ---- reading the file ---- */

/* A logical line being assembled: key, value, first line. */
struct pending {
	char *key;
	struct buf val;
	int line;
	int in_section;
	int skip;		/* in a bad [section] header's body (report mode) */
};

int config_err(const struct config *cfg, int line, char *err, size_t errlen,
    const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "%s, line %d: %s", cfg->cur ? cfg->cur : cfg->path, line, msg);
	return -1;
}

int config_keep_going(struct config *cfg, int rc, const char *err)
{
	if (rc == 0 || cfg->report == NULL)
		return rc;
	fprintf(cfg->report, "mailwarden: error: %s\n", err);
	cfg->nerr++;
	return 0;
}

/* Store a global key or ROLE/inet/KEY override; unknown names fail. */
static int store_global(struct config *cfg, struct pending *pd, char *err, size_t errlen)
{
	const char *key = pd->key;
	const char *slash = strchr(key, '/');
	struct setting *s;
	int i;

	if (cfg->cur && strcmp(cfg->cur, cfg->path) != 0)
		return config_err(cfg, pd->line, err, errlen, "%s: an included file holds only "
		    "[sections] (jails); main.cf keys belong in %s", key, cfg->path);
	if (slash == NULL) {
		if ((i = config_param_index(key)) < 0)
			return config_err(cfg, pd->line, err, errlen, "%s: unknown parameter", key);
		s = &cfg->set[i];
	} else {
		char role[32];
		size_t rlen = (size_t)(slash - key);
		if (rlen >= sizeof(role) || strncmp(slash, "/inet/", 6) != 0)
			return config_err(cfg, pd->line, err, errlen, "%s: bad per-listener "
			    "override (use smtpd/inet/NAME, submission/inet/NAME or "
			    "smtps/inet/NAME)", key);
		memcpy(role, key, rlen);
		role[rlen] = '\0';
		char why[128];
		int r = config_named_slot(cfg, role, why, sizeof(why));
		if (r < 0)
			return config_err(cfg, pd->line, err, errlen, "%s: %s", key, why);
		/* a named listener's address: NAME/inet/listen (kept as its
		 * smtpd_listen override) */
		if (r >= CONFIG_NBUILTIN && strcmp(slash + 6, "listen") == 0)
			i = config_must_index("smtpd_listen");
		else if ((i = config_param_index(slash + 6)) < 0)
			return config_err(cfg, pd->line, err, errlen, "%s: unknown parameter", key);
		s = &cfg->rset[r][i];
	}
	free(s->raw);	/* the last definition wins, as in Postfix */
	free(s->key);
	s->raw = xstrdup(str_trim(pd->val.data));
	s->key = xstrdup(key);
	s->line = pd->line;
	return 0;
}

static void store_section_kv(struct config *cfg, struct pending *pd)
{
	struct config_section *sec = &cfg->sections[cfg->nsections - 1];

	sec->kv = xrealloc(sec->kv, (sec->nkv + 1) * sizeof(*sec->kv));
	sec->kv[sec->nkv].key = xstrdup(pd->key);
	sec->kv[sec->nkv].value = xstrdup(pd->val.data);
	sec->kv[sec->nkv].line = pd->line;
	sec->nkv++;
}

/* Finish the pending logical line, if any. */
static int flush(struct config *cfg, struct pending *pd, char *err, size_t errlen)
{
	int rc = 0;

	if (pd->key == NULL)
		return 0;
	if (pd->skip) {
		;	/* the body of a bad header, already reported */
	} else if (pd->in_section && (cfg->cur == NULL || strcmp(cfg->cur, cfg->path) == 0) &&
	    (config_param_index(pd->key) >= 0 || strstr(pd->key, "/inet/") != NULL)) {
		/* main.cf's keys come before the first [section]: written after
		 * one, a key would silently become a jail's (issue 12) */
		rc = config_err(cfg, pd->line, err, errlen, "%s: a main.cf parameter inside the [%s] "
		    "section: move it above the first section", pd->key,
		    cfg->sections[cfg->nsections - 1].name);
	} else if (pd->in_section)
		store_section_kv(cfg, pd);
	else
		rc = store_global(cfg, pd, err, errlen);
	free(pd->key);
	pd->key = NULL;
	buf_reset(&pd->val);
	return rc;
}

static int start_section(struct config *cfg, char *line, int lineno, char *err, size_t errlen)
{
	char *s = str_trim(line);
	size_t len = strlen(s);

	if (len < 3 || s[len - 1] != ']')
		return config_err(cfg, lineno, err, errlen, "bad section header '%s'", s);
	s[len - 1] = '\0';
	char *name = str_trim(s + 1);
	if (*name == '\0' || strchr(name, '[') || strchr(name, ']'))
		return config_err(cfg, lineno, err, errlen, "bad section header '%s]'", s);
	cfg->sections = xrealloc(cfg->sections, (cfg->nsections + 1) * sizeof(*cfg->sections));
	struct config_section *sec = &cfg->sections[cfg->nsections++];
	memset(sec, 0, sizeof(*sec));
	sec->name = xstrdup(name);
	sec->file = xstrdup(cfg->cur ? cfg->cur : cfg->path);
	sec->line = lineno;
	return 0;
}

/* A new "key = value" line (also "key: value" in sections). */
static int start_entry(struct config *cfg, struct pending *pd, char *line, int lineno,
    char *err, size_t errlen)
{
	size_t klen = pd->in_section ? strcspn(line, "=:") : strcspn(line, "= \t");
	char *p = line + klen;

	if (pd->in_section) {
		while (klen > 0 && isspace((unsigned char)line[klen - 1]))
			klen--;
	} else {
		p += strspn(p, " \t");
	}
	if (*p != '=' && !(pd->in_section && *p == ':'))
		return config_err(cfg, lineno, err, errlen, "missing '=' after attribute name");
	if (klen == 0)
		return config_err(cfg, lineno, err, errlen, "missing attribute name");
	pd->key = xstrndup(line, klen);
	pd->line = lineno;
	buf_reset(&pd->val);
	if (buf_puts(&pd->val, str_trim(p + 1)) < 0)
		return config_err(cfg, lineno, err, errlen, "%s: value too long", pd->key);
	return 0;
}

int config_read_file(struct config *cfg, FILE *fp, char *err, size_t errlen)
{
	struct pending pd = { 0 };
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int lineno = 0, rc = 0;

	buf_init(&pd.val, CONF_VALUE_MAX);
	buf_puts(&pd.val, "");
	while (rc == 0 && (len = getline(&line, &cap, fp)) >= 0) {
		lineno++;
		if (len > CONF_LINE_MAX) {
			rc = config_keep_going(cfg, config_err(cfg, lineno, err, errlen, "line too long"), err);
			continue;
		}
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (memchr(line, '\0', (size_t)len) != NULL) {
			rc = config_keep_going(cfg, config_err(cfg, lineno, err, errlen, "NUL byte in line"), err);
			continue;
		}
		char *p = line + strspn(line, " \t");
		if (*p == '\0' || *p == '#' || (pd.in_section && *p == ';'))
			continue;
		if (p != line) {
			if (pd.key == NULL) {
				rc = config_err(cfg, lineno, err, errlen,
				    "logical line must not start with white space");
			} else if (buf_puts(&pd.val, pd.in_section ? "\n" : " ") < 0
			    || buf_puts(&pd.val, str_trim(p)) < 0) {
				rc = config_err(cfg, lineno, err, errlen, "%s: value too long", pd.key);
			}
			rc = config_keep_going(cfg, rc, err);
			continue;
		}
		if ((rc = config_keep_going(cfg, flush(cfg, &pd, err, errlen), err)) < 0)
			break;
		if (*p == '[') {
			rc = start_section(cfg, p, lineno, err, errlen);
			pd.in_section = 1;
			pd.skip = rc < 0;
		} else {
			rc = start_entry(cfg, &pd, p, lineno, err, errlen);
		}
		rc = config_keep_going(cfg, rc, err);
	}
	if (rc == 0 && ferror(fp))
		rc = config_keep_going(cfg, config_err(cfg, lineno, err, errlen, "read error: %s",
		    strerror(errno)), err);
	if (rc == 0)
		rc = config_keep_going(cfg, flush(cfg, &pd, err, errlen), err);
	free(pd.key);
	buf_free(&pd.val);
	free(line);
	return rc;
}

/* ---- load: read, expand, check ---- */

/* An explicitly set item, for checking in file order. */
struct item {
	int line;
	int role;		/* -1 = global */
	int idx;
};

static int item_cmp(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	return (x->line > y->line) - (x->line < y->line);
}

/* Expand and check one set item or one defaulted global. */
static int check_item(struct xctx *x, int role, int i)
{
	struct config *cfg = x->cfg;
	const struct setting *s = role < 0 ? &cfg->set[i] : &cfg->rset[role][i];
	const char *v;
	char msg[512];

	if (role < 0) {
		v = expand_param(x, i);
	} else {
		struct buf b;
		buf_init(&b, CONF_VALUE_MAX);
		buf_puts(&b, "");
		if (expand_str(x, s->raw, &b) < 0) {
			buf_free(&b);
			v = NULL;
		} else {
			cfg->rval[role][i] = b.data;
			v = b.data;
		}
	}
	/* maps listed in alias_maps are aliases(5) files wherever they appear */
	const char *aliases = NULL;
	if (v != NULL && config_params[i].type == PT_MAPS) {
		aliases = expand_param(x, x->alias_idx);
		if (aliases == NULL)
			v = NULL;
	}
	if (v != NULL && cfg->client && config_check_opens(&config_params[i]))
		return 0;	/* a client load opens no map, key or certificate */
	if (v != NULL && config_check_value(&config_params[i], v, aliases, msg, sizeof(msg)) < 0)
		xfail(x, "%s", msg);
	else if (v != NULL)
		return 0;
	if (s->raw != NULL)
		xlocate(x, s);
	if (!x->located)
		snprintf(x->err, x->errlen, "%s: %s: %s", cfg->path, config_params[i].name, x->msg);
	return -1;
}

/* check_item(); in report mode a bad setting is reported and dropped (its
 * default is checked and used instead), so later checks still run. */
static int check_report(struct xctx *x, int role, int i)
{
	struct config *cfg = x->cfg;

	x->failed = x->located = 0;
	x->depth = 0;
	if (check_item(x, role, i) == 0)
		return 0;
	if (cfg->report == NULL)
		return -1;
	config_keep_going(cfg, -1, x->err);
	struct setting *s = role < 0 ? &cfg->set[i] : &cfg->rset[role][i];
	char **v = role < 0 ? &cfg->val[i] : &cfg->rval[role][i];
	if (s->raw == NULL)
		return -1;	/* a default that does not check: nothing to fall back on */
	free(s->raw);
	free(s->key);
	s->raw = s->key = NULL;
	s->line = 0;
	free(*v);
	*v = NULL;
	return role < 0 ? check_report(x, -1, i) : 0;
}

static int check_all(struct config *cfg, char *err, size_t errlen)
{
	struct xctx x = { .cfg = cfg, .err = err, .errlen = errlen,
	    .alias_idx = config_must_index("alias_maps") };
	struct item *items = xcalloc(cfg->nparams * (NROLES + 1), sizeof(*items));
	size_t n = 0;
	int rc = 0;

	x.stack = xcalloc(cfg->nparams + 1, sizeof(*x.stack));
	for (size_t i = 0; i < cfg->nparams; i++) {
		if (cfg->set[i].raw)
			items[n++] = (struct item){ cfg->set[i].line, -1, (int)i };
		for (int r = 0; r < NROLES; r++) {
			if (cfg->rset[r][i].raw)
				items[n++] = (struct item){ cfg->rset[r][i].line, r, (int)i };
		}
	}
	qsort(items, n, sizeof(*items), item_cmp);
	for (size_t k = 0; rc == 0 && k < n; k++)
		rc = check_report(&x, items[k].role, items[k].idx);
	for (size_t i = 0; rc == 0 && i < cfg->nparams; i++) {
		if (cfg->set[i].raw == NULL)
			rc = check_report(&x, -1, (int)i);
	}
	/* built-in role defaults where no override was given */
	for (size_t k = 0; rc == 0 && config_role_defaults[k].role != NULL; k++) {
		const struct role_default *rd = &config_role_defaults[k];
		int r = config_role_index(cfg, rd->role), i = config_param_index(rd->name);
		if (r < 0 || i < 0)
			fatal("params.c: bad role default %s/inet/%s", rd->role, rd->name);
		if (cfg->rval[r][i] == NULL)
			cfg->rval[r][i] = xstrdup(rd->value);
	}
	free(x.stack);
	free(items);
	if (rc == 0)
		rc = config_check_named(cfg, err, errlen);
	return rc;
}

static struct config *config_read(const char *path, int client, FILE *report, int *nerr,
    char *err, size_t errlen)
{
	struct config *cfg = xcalloc(1, sizeof(*cfg));
	FILE *fp;

	cfg->client = client;
	cfg->report = report;
	cfg->path = xstrdup(path);
	while (config_params[cfg->nparams].name != NULL)
		cfg->nparams++;
	cfg->defval = xcalloc(cfg->nparams, sizeof(*cfg->defval));
	cfg->set = xcalloc(cfg->nparams, sizeof(*cfg->set));
	cfg->val = xcalloc(cfg->nparams, sizeof(*cfg->val));
	for (int r = 0; r < NROLES; r++) {
		cfg->rset[r] = xcalloc(cfg->nparams, sizeof(*cfg->rset[r]));
		cfg->rval[r] = xcalloc(cfg->nparams, sizeof(*cfg->rval[r]));
	}
	for (size_t i = 0; i < cfg->nparams; i++) {
		const char *name = config_params[i].name;
		if (config_params[i].def != NULL)
			cfg->defval[i] = xstrdup(config_params[i].def);
		else if (strcmp(name, "myhostname") == 0)
			cfg->defval[i] = default_myhostname();
		else if (strcmp(name, "mynetworks") == 0)
			cfg->defval[i] = default_mynetworks();
		else
			cfg->defval[i] = xstrdup("");	/* mydomain: see expand_param() */
	}
	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		config_keep_going(cfg, -1, err);
		if (nerr != NULL)
			*nerr = cfg->nerr;
		config_free(cfg);
		return NULL;
	}
	cfg->cur = cfg->path;
	int rc = config_read_file(cfg, fp, err, errlen);
	fclose(fp);
	if (rc == 0 && !client)
		rc = config_read_includes(cfg, err, errlen);
	if (rc == 0)
		rc = check_all(cfg, err, errlen);
	/* in report mode every error was printed as it came; one left here
	 * (a default that does not check) stops the load */
	if (nerr != NULL)
		*nerr = cfg->nerr;
	if (rc < 0) {
		config_free(cfg);
		return NULL;
	}
	cfg->report = NULL;
	return cfg;
}

struct config *config_load(const char *path, char *err, size_t errlen)
{
	return config_read(path, 0, NULL, NULL, err, errlen);
}

struct config *config_load_report(const char *path, FILE *out, int *nerr)
{
	char err[2048];
	return config_read(path, 0, out, nerr, err, sizeof(err));
}

struct config *config_load_client(const char *path, char *err, size_t errlen)
{
	return config_read(path, 1, NULL, NULL, err, errlen);
}

void config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < cfg->nparams; i++) {
		free(cfg->defval[i]);
		free(cfg->set[i].raw);
		free(cfg->set[i].key);
		free(cfg->val[i]);
		for (int r = 0; r < NROLES; r++) {
			free(cfg->rset[r][i].raw);
			free(cfg->rset[r][i].key);
			free(cfg->rval[r][i]);
		}
	}
	for (int r = 0; r < NROLES; r++) {
		free(cfg->rset[r]);
		free(cfg->rval[r]);
		free(cfg->rname[r]);
	}
	for (size_t s = 0; s < cfg->nsections; s++) {
		struct config_section *sec = &cfg->sections[s];
		for (size_t k = 0; k < sec->nkv; k++) {
			free(sec->kv[k].key);
			free(sec->kv[k].value);
		}
		free(sec->kv);
		free(sec->name);
		free(sec->file);
	}
	free(cfg->sections);
	free(cfg->defval);
	free(cfg->set);
	free(cfg->val);
	free(cfg->path);
	free(cfg);
}
