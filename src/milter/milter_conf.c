/*
 * milter_conf — a milter list as Postfix writes it: endpoints separated by
 * commas or white space, each "inet:host:port" or "unix:path", or a group
 * "{ endpoint, name=value, ... }" with its own default_action,
 * connect_timeout, command_timeout, content_timeout and protocol. Where a
 * unix: path is from the chrooted engine is decided here (docs/milter.md):
 * a relative path is under queue_directory, as Postfix's; an absolute
 * path under queue_directory is made relative; any other absolute path
 * cannot be reached from the chroot and is an error. Also the global
 * milter_* parameters, milter_macro_defaults among them ("name=value" or
 * "{ name = value }" pairs: a macro's value when the session has none).
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "common/config.h"
#include "common/net.h"
#include "common/util.h"
#include "milter/milter.h"

static const char *const action_names[] = {
	[MILTER_ACT_TEMPFAIL] = "tempfail", [MILTER_ACT_REJECT] = "reject",
	[MILTER_ACT_ACCEPT] = "accept", [MILTER_ACT_QUARANTINE] = "quarantine",
};

static const char *const macro_keys[MILTER_M_COUNT] = {
	[MILTER_M_CONNECT] = "milter_connect_macros", [MILTER_M_HELO] = "milter_helo_macros",
	[MILTER_M_MAIL] = "milter_mail_macros", [MILTER_M_RCPT] = "milter_rcpt_macros",
	[MILTER_M_DATA] = "milter_data_macros", [MILTER_M_EOM] = "milter_end_of_data_macros",
	[MILTER_M_EOH] = "milter_end_of_header_macros",
	[MILTER_M_UNKNOWN] = "milter_unknown_command_macros",
};

/* The next pair of a milter_macro_defaults value at *vp into name and
 * value (own copies): 1, 0 at the end, -1 and err. */
static int macro_pair(const char **vp, char **name, char **value, char *err, size_t errlen)
{
	const char *v = *vp + strspn(*vp, " \t\r\n,");
	if (*v == '\0')
		return 0;
	const char *e = v;
	int depth = 0;
	for (; *e && (depth > 0 || strchr(" \t\r\n,", *e) == NULL); e++) {
		if (*e == '{')
			depth++;
		else if (*e == '}' && --depth < 0)
			break;
	}
	if (depth != 0) {
		snprintf(err, errlen, "unbalanced braces in \"%s\"", v);
		return -1;
	}
	char *tok = xstrndup(v, (size_t)(e - v));
	*vp = e;
	char *t = tok;
	size_t len = strlen(t);
	if (t[0] == '{' && t[len - 1] == '}') {	/* "{ name = value }" unless "{name}=v" */
		int d = 0;
		size_t i = 0;
		for (; i < len; i++) {
			d += t[i] == '{' ? 1 : t[i] == '}' ? -1 : 0;
			if (d == 0)
				break;	/* where the first '{' closes */
		}
		if (i == len - 1) {
			t[len - 1] = '\0';
			t++;
		}
	}
	char *eq = strchr(t, '=');
	if (eq)
		*eq = '\0';
	char *n = str_trim(t);
	if (eq == NULL || *n == '\0') {
		snprintf(err, errlen, "\"%s\" is not name=value", tok);
		free(tok);
		return -1;
	}
	*name = xstrdup(n);
	*value = xstrdup(str_trim(eq + 1));
	free(tok);
	return 1;
}

int milter_macro_defaults_parse(const char *value, char ***out, char *err, size_t errlen)
{
	char **v = NULL, *name, *val;
	size_t n = 0;
	int rc;
	*out = NULL;
	while ((rc = macro_pair(&value, &name, &val, err, errlen)) > 0) {
		v = xrealloc(v, (n + 3) * sizeof(*v));
		v[n++] = name;
		v[n++] = val;
		v[n] = NULL;
	}
	if (rc < 0) {
		milter_macro_defaults_free(v);
		return -1;
	}
	*out = v;
	return 0;
}

void milter_macro_defaults_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

const char *milter_macro_default(const struct milter_params *p, const char *name)
{
	for (char **d = p->macro_defaults; d && d[0]; d += 2)
		if (strcmp(d[0], name) == 0)
			return d[1];
	return NULL;
}

int milter_params_read(struct milter_params *p, const struct config *cfg, char *err, size_t errlen)
{
	p->protocol = (int)config_get_int(cfg, "milter_protocol");
	p->default_action = (enum milter_action)milter_action_parse(config_get(cfg, "milter_default_action"));
	p->connect_ms = config_get_time(cfg, "milter_connect_timeout") * 1000;
	p->command_ms = config_get_time(cfg, "milter_command_timeout") * 1000;
	p->content_ms = config_get_time(cfg, "milter_content_timeout") * 1000;
	p->conn_limit = (size_t)config_get_int(cfg, "milter_connection_limit");
	p->queue_dir = config_get(cfg, "queue_directory");
	for (int i = 0; i < MILTER_M_COUNT; i++)
		p->macros[i] = config_list(config_get(cfg, macro_keys[i]));
	if (milter_macro_defaults_parse(config_get(cfg, "milter_macro_defaults"),
	    &p->macro_defaults, err, errlen) < 0) {
		char why[512];
		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "milter_macro_defaults: %s", why);
		return -1;
	}
	return 0;
}

int milter_action_parse(const char *s)
{
	for (size_t i = 0; i < sizeof(action_names) / sizeof(action_names[0]); i++)
		if (strcmp(s, action_names[i]) == 0)
			return (int)i;
	return -1;
}

static int set_unix(struct milter_spec *m, const char *path, const struct milter_params *p,
    char *err, size_t errlen)
{
	struct sockaddr_un *un = (struct sockaddr_un *)&m->sa;
	char full[1024];
	const char *qd = p->queue_dir ? p->queue_dir : ".";
	size_t ql = strlen(qd);
	int n;

	if (*path == '\0') {
		snprintf(err, errlen, "empty unix socket path in \"%s\"", m->name);
		return -1;
	}
	if (path[0] == '/' && strncmp(path, qd, ql) == 0 && path[ql] == '/')
		path += ql + 1;		/* under queue_directory: relative */
	else if (path[0] == '/' && p->chrooted) {
		snprintf(err, errlen, "%s: the smtp engine runs chrooted in %s and cannot "
		    "reach %s; put the milter's socket under %s (unix:NAME is "
		    "%s/NAME) or use inet:host:port", m->name, qd, path, qd, qd);
		return -1;
	}
	if (path[0] == '/' || p->chrooted)
		n = snprintf(full, sizeof(full), "%s", path);
	else
		n = snprintf(full, sizeof(full), "%s/%s", qd, path);
	if (n < 0 || (size_t)n >= sizeof(un->sun_path)) {
		snprintf(err, errlen, "unix socket path too long in \"%s\"", m->name);
		return -1;
	}
	un->sun_family = AF_UNIX;
	memcpy(un->sun_path, full, (size_t)n + 1);
	m->salen = sizeof(*un);
	return 0;
}

static int set_inet(struct milter_spec *m, const char *hp, int numeric, char *err, size_t errlen)
{
	return net_hostport(hp, numeric, m->name, &m->sa, &m->salen, err, errlen);
}

/* One "name=value" of a { } group. */
static int set_option(struct milter_spec *m, const char *opt, char *err, size_t errlen)
{
	const char *eq = strchr(opt, '=');
	long v;
	if (eq == NULL) {
		snprintf(err, errlen, "expected name=value in milter settings, got \"%s\"", opt);
		return -1;
	}
	size_t nl = (size_t)(eq - opt);
	const char *val = eq + 1;
	struct { const char *name; long *dst; } times[] = {
		{ "connect_timeout", &m->connect_ms }, { "command_timeout", &m->command_ms },
		{ "content_timeout", &m->content_ms },
	};
	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++)
		if (nl == strlen(times[i].name) && strncmp(opt, times[i].name, nl) == 0) {
			if (config_parse_time(val, &v) < 0 || v < 1) {
				snprintf(err, errlen, "bad time \"%s\" for %s", val, times[i].name);
				return -1;
			}
			*times[i].dst = v * 1000;
			return 0;
		}
	if (nl == 14 && strncmp(opt, "default_action", 14) == 0) {
		int a = milter_action_parse(val);
		if (a < 0) {
			snprintf(err, errlen, "bad default_action \"%s\" (accept, reject, tempfail or quarantine)", val);
			return -1;
		}
		m->default_action = (enum milter_action)a;
		return 0;
	}
	if (nl == 8 && strncmp(opt, "protocol", 8) == 0) {
		if (config_parse_int(val, &v) < 0 || v < 2 || v > 6) {
			snprintf(err, errlen, "bad milter protocol \"%s\" (2 to 6)", val);
			return -1;
		}
		m->protocol = (int)v;
		return 0;
	}
	snprintf(err, errlen, "unknown milter setting \"%.*s\" (default_action, "
	    "connect_timeout, command_timeout, content_timeout, protocol)", (int)nl, opt);
	return -1;
}

/* Split the value into words; "{" and "}" are words of their own. */
static char **tokens(const char *v, size_t *n)
{
	char **t = NULL;
	size_t cap = 0;
	*n = 0;
	while (*v) {
		while (*v == ' ' || *v == '\t' || *v == ',' || *v == '\n')
			v++;
		if (*v == '\0')
			break;
		size_t len = (*v == '{' || *v == '}') ? 1 : strcspn(v, " \t,\n{}");
		if (*n + 1 >= cap) {
			cap = cap ? cap * 2 : 8;
			t = xrealloc(t, cap * sizeof(*t));
		}
		t[(*n)++] = xstrndup(v, len);
		v += len;
	}
	return t;
}

struct milter_list *milter_list_parse(const char *value, const struct milter_params *p,
    char *err, size_t errlen)
{
	size_t nt, i = 0;
	char **t = tokens(value ? value : "", &nt);
	struct milter_list *l = xcalloc(1, sizeof(*l));
	int ok = 1;

	l->v = xcalloc(nt ? nt : 1, sizeof(*l->v));
	while (ok && i < nt) {
		int group = strcmp(t[i], "{") == 0;
		if (group && ++i >= nt) {
			snprintf(err, errlen, "milter list: \"{\" without an endpoint");
			ok = 0;
			break;
		}
		struct milter_spec *m = &l->v[l->n++];
		m->name = xstrdup(t[i]);
		m->default_action = p->default_action;
		m->connect_ms = p->connect_ms;
		m->command_ms = p->command_ms;
		m->content_ms = p->content_ms;
		m->protocol = p->protocol;
		if (strncmp(t[i], "unix:", 5) == 0)
			ok = set_unix(m, t[i] + 5, p, err, errlen) == 0;
		else if (strncmp(t[i], "inet:", 5) == 0)
			ok = set_inet(m, t[i] + 5, p->numeric_only, err, errlen) == 0;
		else {
			snprintf(err, errlen, "milter \"%s\": expected inet:host:port or unix:path", t[i]);
			ok = 0;
		}
		i++;
		if (!group)
			continue;
		for (; ok && i < nt && strcmp(t[i], "}") != 0; i++)
			ok = set_option(m, t[i], err, errlen) == 0;
		if (ok && i >= nt) {
			snprintf(err, errlen, "milter list: \"{\" without \"}\"");
			ok = 0;
		}
		i++;
	}
	for (size_t k = 0; k < nt; k++)
		free(t[k]);
	free(t);
	if (!ok || l->n == 0) {
		milter_list_free(l);
		if (ok)
			err[0] = '\0';
		return NULL;
	}
	return l;
}

void milter_list_free(struct milter_list *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].name);
	free(l->v);
	free(l);
}
