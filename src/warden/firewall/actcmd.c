/*
 * actcmd — fail2ban 1.0.2's command action, its interpolation only (see
 * actcmd.h): the string map, helpers.py's substituteRecursiveTags
 * (actcmd_subst) and the server's CommandAction (server/action.py
 * replaceTag, replaceDynamicTags, escapeTag, Utils.buildShellCmd:
 * actcmd_build). The client's ActionReader is actcmd_read.c. Every value
 * is bounded (VAL_MAX); a value past it is an error, as a
 * self-referencing definition is in fail2ban.
 */
#include <ctype.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/net.h"
#include "common/util.h"
#include "warden/firewall/actcmd_int.h"

/* CommandAction._escapedTags */
static const char *const escaped_tags[] = { "matches", "ipmatches", "ipjailmatches", NULL };

int actcmd_in_list(const char *const *l, const char *s)
{
	for (; *l; l++)
		if (strcmp(*l, s) == 0)
			return 1;
	return 0;
}

/* ---- the map ---- */

const char *actcmd_get(const struct actcmd_map *m, const char *k)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->e[i].k, k) == 0)
			return m->e[i].v;
	return NULL;
}

void actcmd_set(struct actcmd_map *m, const char *k, const char *v)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->e[i].k, k) == 0) {
			char *nv = xstrdup(v);
			free(m->e[i].v);
			m->e[i].v = nv;
			return;
		}
	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 16;
		m->e = xrealloc(m->e, m->cap * sizeof(*m->e));
	}
	m->e[m->n].k = xstrdup(k);
	m->e[m->n].v = xstrdup(v);
	m->n++;
}

void actcmd_map_free(struct actcmd_map *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->e[i].k);
		free(m->e[i].v);
	}
	free(m->e);
	memset(m, 0, sizeof(*m));
}

void actcmd_map_copy(struct actcmd_map *dst, const struct actcmd_map *src)
{
	for (size_t i = 0; i < src->n; i++)
		actcmd_set(dst, src->e[i].k, src->e[i].v);
}

/* ---- TAG_CRE = <([^ <>]+)> ---- */

/* The next tag at or after from: 1 and [*ts, *te) (with the brackets).
 * A name longer than TAG_NAME_MAX is text, not a tag (every caller's
 * buffer holds a name). */
int actcmd_tag_find(const char *s, size_t from, size_t *ts, size_t *te)
{
	if (from > strlen(s))
		return 0;
	for (const char *p = strchr(s + from, '<'); p; p = strchr(p + 1, '<')) {
		size_t n = strcspn(p + 1, " <>");
		if (n > 0 && n <= TAG_NAME_MAX && p[1 + n] == '>') {
			*ts = (size_t)(p - s);
			*te = *ts + n + 2;
			return 1;
		}
	}
	return 0;
}

/* ^(\w+)(\?.+)$ : the length of the base name, or 0. */
size_t actcmd_conditional(const char *k)
{
	size_t n = 0;
	while (isalnum((unsigned char)k[n]) || k[n] == '_')
		n++;
	return n > 0 && k[n] == '?' && k[n + 1] ? n : 0;
}

/* ---- helpers.substituteRecursiveTags ---- */


/* Replace every "<tag>" of *v by repl (Python's str.replace). */
static int replace_all(char **v, const char *tag, const char *repl)
{
	char pat[300];
	if (snprintf(pat, sizeof(pat), "<%s>", tag) >= (int)sizeof(pat))
		return 0;
	struct buf b;
	buf_init(&b, VAL_MAX);
	const char *s = *v, *p;
	size_t pl = strlen(pat);
	int rc = 0;
	while ((p = strstr(s, pat)) != NULL) {
		buf_append(&b, s, (size_t)(p - s));
		if (buf_puts(&b, repl) < 0)
			rc = -1;
		s = p + pl;
	}
	if (buf_puts(&b, s) < 0)
		rc = -1;
	free(*v);
	*v = xstrdup(bstr(&b));
	buf_free(&b);
	return rc;
}

/* Replacements so far of each tag inside one value ("%d"). */
struct counts {
	struct actcmd_map m;
};

static int count_get(const struct actcmd_map *m, const char *k, int dflt)
{
	const char *v = actcmd_get(m, k);
	return v ? atoi(v) : dflt;
}

/* tags (modified in place) with tags inside values resolved from each
 * other, cond first ("family=inet6": <x?family=inet6> before <x>), then
 * addrepl. ignore(tag) names tags left alone. 0, or -1 and err. */
int actcmd_subst(struct actcmd_map *tags, const char *cond,
    int (*ignore)(void *, const char *), void *iarg, actcmd_repl_fn *addrepl, void *rarg,
    char *err, size_t errlen)
{
	size_t n = tags->n;
	char *done = xcalloc(n ? n : 1, 1);
	struct counts *rep = xcalloc(n ? n : 1, sizeof(*rep));
	char *kept = xcalloc(n ? n : 1, 1);	/* rep[i] kept from the last pass */
	int rc = 0;
	for (int pass = 0; rc == 0; pass++) {
		int again = 0;
		for (size_t i = 0; i < n && rc == 0; i++) {
			const char *tag = tags->e[i].k;
			if (done[i] || ignore(iarg, tag))
				continue;
			if (!kept[i])	/* repCounts.get(tag, {}): a fresh count */
				actcmd_map_free(&rep[i].m);
			char *value = xstrdup(tags->e[i].v);
			size_t ts, te;
			int found = actcmd_tag_find(value, 0, &ts, &te);
			while (found && rc == 0) {
				char rtag[256];
				snprintf(rtag, sizeof(rtag), "%.*s", (int)(te - ts - 2), value + ts + 1);
				if (ignore(iarg, rtag)) {
					found = actcmd_tag_find(value, te, &ts, &te);
					continue;
				}
				if (strcmp(rtag, tag) == 0 || count_get(&rep[i].m, rtag, 1) > MAX_TAG_REPLACE) {
					snprintf(err, errlen, "properties contain self referencing definitions "
					    "and cannot be resolved, fail tag: %s, found: %s", tag, rtag);
					rc = -1;
					break;
				}
				const char *repl = NULL;
				char *owned = NULL, ck[300];
				if (*cond && snprintf(ck, sizeof(ck), "%s?%s", rtag, cond) < (int)sizeof(ck))
					repl = actcmd_get(tags, ck);
				if (repl == NULL)
					repl = actcmd_get(tags, rtag);
				if (repl == NULL && addrepl)
					repl = owned = addrepl(rarg, rtag);
				if (repl == NULL) {
					found = actcmd_tag_find(value, te, &ts, &te);
					continue;
				}
				if (replace_all(&value, rtag, repl) < 0) {
					snprintf(err, errlen, "tag <%s> of %s: value too long", rtag, tag);
					rc = -1;
				}
				free(owned);
				char num[16];
				snprintf(num, sizeof(num), "%d", count_get(&rep[i].m, rtag, 0) + 1);
				actcmd_set(&rep[i].m, rtag, num);
				found = actcmd_tag_find(value, ts, &ts, &te);
			}
			if (rc == 0 && strcmp(value, tags->e[i].v) != 0) {
				if (actcmd_tag_find(value, 0, &ts, &te)) {
					kept[i] = 1;
					again = 1;
				}
				free(tags->e[i].v);
				tags->e[i].v = value;
				value = NULL;
			}
			if (strchr(tags->e[i].v, '<') == NULL)
				done[i] = 1;
			free(value);
		}
		if (!again)
			break;
	}
	for (size_t i = 0; i < n; i++)
		actcmd_map_free(&rep[i].m);
	free(rep);
	free(kept);
	free(done);
	return rc;
}

/* ---- the server: CommandAction ---- */

static int server_ignore(void *arg, const char *tag)
{
	return actcmd_in_list(escaped_tags, tag);
}

#define FQ_CACHE_MS (5 * 60 * 1000)	/* DNSUtils.CACHE_ipToName's maxTime */

/* ADD_REPL_TAGS (br, sp, fq-hostname, sh-hostname), or NULL. The fully
 * qualified name is looked up (a resolver call that may block the
 * firewall's loop) once per FQ_CACHE_MS, as fail2ban's getHostname caches
 * it, not for every command built (a restore with action_mw ...). */
static const char *add_repl(const char *tag, char *tmp, size_t len)
{
	static char fqname[256], fqhost[256];	/* the answer, for that gethostname() */
	static uint64_t fq_at;
	if (strcmp(tag, "br") == 0)
		return "\n";
	if (strcmp(tag, "sp") == 0)
		return " ";
	int fq = strcmp(tag, "fq-hostname") == 0;
	if (!fq && strcmp(tag, "sh-hostname") != 0)
		return NULL;
	if (gethostname(tmp, len) < 0)
		return NULL;
	tmp[len - 1] = '\0';
	if (!fq) {
		tmp[strcspn(tmp, ".")] = '\0';
		return tmp;
	}
	uint64_t now = clock_mono_ms();
	if (fq_at == 0 || now - fq_at >= FQ_CACHE_MS || strcmp(fqhost, tmp) != 0) {
		struct addrinfo hints = { .ai_flags = AI_CANONNAME }, *res = NULL;
		str_copy(fqhost, sizeof(fqhost), tmp);
		str_copy(fqname, sizeof(fqname), tmp);
		if (getaddrinfo(tmp, NULL, &hints, &res) == 0 && res && res->ai_canonname)
			str_copy(fqname, sizeof(fqname), res->ai_canonname);
		if (res)
			freeaddrinfo(res);
		fq_at = now ? now : 1;
	}
	str_copy(tmp, len, fqname);
	return tmp;
}

/* escapeTag: a backslash before each shell-special character. */
static void escape_tag(struct buf *out, const char *s)
{
	for (; *s; s++) {
		if (strchr("\\#&;`|*?~<>^()[]{}$'\"\n\r", *s)) {
			buf_append(out, "\\", 1);
			buf_append(out, *s == '\n' ? "n" : *s == '\r' ? "r" : s, 1);
		} else {
			buf_append(out, s, 1);
		}
	}
}

/* replaceTag(query, properties, conditional): a new string, or NULL. */
static char *replace_tag(const struct actcmd_map *props, const char *query, const char *cond,
    char *err, size_t errlen)
{
	if (strchr(query, '<') == NULL)
		return xstrdup(query);
	struct actcmd_map sub = { 0 };
	actcmd_map_copy(&sub, props);
	if (actcmd_subst(&sub, cond, server_ignore, NULL, NULL, NULL, err, errlen) < 0) {
		actcmd_map_free(&sub);
		return NULL;
	}
	char *q = xstrdup(query), tmp[256];
	for (int count = MAX_TAG_REPLACE + 1;; count--) {
		struct buf b;
		size_t pos = 0, ts, te;
		buf_init(&b, VAL_MAX);
		while (actcmd_tag_find(q, pos, &ts, &te)) {
			char tag[256], ck[300];
			snprintf(tag, sizeof(tag), "%.*s", (int)(te - ts - 2), q + ts + 1);
			buf_append(&b, q + pos, ts - pos);
			const char *v = NULL;
			if (*cond && snprintf(ck, sizeof(ck), "%s?%s", tag, cond) < (int)sizeof(ck))
				v = actcmd_get(&sub, ck);
			if (v == NULL && (v = actcmd_get(&sub, tag)) == NULL)
				v = add_repl(tag, tmp, sizeof(tmp));
			if (v == NULL)
				buf_append(&b, q + ts, te - ts);
			else if (actcmd_in_list(escaped_tags, tag))
				escape_tag(&b, v);
			else
				buf_puts(&b, v);
			pos = te;
		}
		buf_puts(&b, q + pos);
		int full = b.len >= b.max;
		char *v = xstrdup(bstr(&b));
		buf_free(&b);
		int same = strcmp(v, q) == 0;
		free(q);
		q = v;
		if (full) {
			snprintf(err, errlen, "command longer than %d bytes", VAL_MAX);
			break;
		}
		if (same || strchr(q, '<') == NULL) {
			actcmd_map_free(&sub);
			return q;
		}
		if (count <= 1) {
			snprintf(err, errlen, "unexpected too long replacement interpolation, "
			    "possible self referencing definitions in query");
			break;
		}
	}
	free(q);
	actcmd_map_free(&sub);
	return NULL;
}

/* IPAddr.getPTR(''): "4.3.2.1." or the nibbles of an IPv6 address. */
static void ptr_of(const char *ip, char *out, size_t len)
{
	struct net n;
	char e[64];
	*out = '\0';
	if (*ip == '\0' || net_parse_net(ip, &n, e, sizeof(e)) < 0)
		return;
	size_t o = 0;
	if (n.family == AF_INET) {
		snprintf(out, len, "%u.%u.%u.%u.", n.a[3], n.a[2], n.a[1], n.a[0]);
		return;
	}
	for (int i = 15; i >= 0 && o + 4 < len; i--) {
		static const char hx[] = "0123456789abcdef";
		out[o++] = hx[n.a[i] & 15];
		out[o++] = '.';
		out[o++] = hx[n.a[i] >> 4];
		out[o++] = '.';
	}
	out[o] = '\0';
}

/* One dynamic value: escapeVal (a $f2bV_ variable if shell-special). */
static void dyn_put(struct buf *b, struct actcmd_map *vars, const char *tag, const char *v)
{
	if (strpbrk(v, "\\#&;`|*?~<>^()[]{}$'\"\n\r") == NULL) {
		buf_puts(b, v);
		return;
	}
	char name[300];
	size_t o = (size_t)snprintf(name, sizeof(name), "f2bV_");
	for (const char *p = tag; *p && o + 1 < sizeof(name); p++)
		name[o++] = isalnum((unsigned char)*p) || *p == '_' ? *p : '_';
	name[o] = '\0';
	actcmd_set(vars, name, v);
	buf_printf(b, "$%s", name);
}

/* repr() of a Python float: the shortest text that reads back as x. */
static void pyfloat(double x, char *out, size_t len)
{
	for (int n = 1; n <= 17; n++) {
		snprintf(out, len, "%.*g", n, x);
		if (strtod(out, NULL) == x)
			break;
	}
	char *e = strchr(out, 'e');
	if (e) {
		int ex = atoi(e + 1);
		if (ex >= -4 && ex < 16) {
			int digits = (int)strcspn(out, "e") - (strchr(out, '.') ? 1 : 0) - (*out == '-');
			int prec = digits - 1 - ex;
			snprintf(out, len, "%.*f", prec > 0 ? prec : 0, x);
		}
	}
	size_t ol = strlen(out);
	if (strpbrk(out, ".en") == NULL && ol + 2 < len)
		memcpy(out + ol, ".0", 3);
}

/* <ip-host>: the address's name, "None" when it has none (as fail2ban's
 * DNSUtils.ipToName): the resolver set by actcmd_set_host, else
 * getnameinfo (blocking: action-test, check-config). */
static actcmd_host_fn *host_fn;
static unsigned long host_waits;

void actcmd_set_host(actcmd_host_fn *fn)
{
	host_fn = fn;
}

unsigned long actcmd_host_waits(void)
{
	return host_waits;
}

static void host_of(const char *ip, char *out, size_t len)
{
	if (host_fn && *ip) {
		if (host_fn(ip, out, len) == 0)
			host_waits++;
		return;
	}
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST }, *res = NULL;
	snprintf(out, len, "None");
	if (*ip == '\0' || getaddrinfo(ip, NULL, &hints, &res) != 0)
		return;
	char host[NI_MAXHOST];
	if (getnameinfo(res->ai_addr, res->ai_addrlen, host, sizeof(host), NULL, 0,
	    NI_NAMEREQD) == 0)
		str_copy(out, len, host);
	freeaddrinfo(res);
}

/* The dynamic tag of info, or NULL (info NULL: <family> only). */
static const char *dyn_val(const struct actcmd_info *info, const char *family, const char *tag,
    char *tmp, size_t len)
{
	if (strcmp(tag, "family") == 0)
		return family;
	if (info == NULL)
		return NULL;
	static const char *const num[] = { "failures", "ipfailures", "ipjailfailures", "bantime",
	    "bancount", "restored", NULL };
	const long nv[] = { info->failures, info->failures, info->failures, info->bantime,
	    info->bancount, info->restored };
	for (size_t i = 0; num[i]; i++)
		if (strcmp(tag, num[i]) == 0) {
			snprintf(tmp, len, "%ld", nv[i]);
			return tmp;
		}
	if (strcmp(tag, "time") == 0) {
		pyfloat(info->time, tmp, len);
		return tmp;
	}
	if (strcmp(tag, "ip") == 0 || strcmp(tag, "fid") == 0)
		return info->ip;
	if (strcmp(tag, "ip-host") == 0) {
		host_of(info->ip, tmp, len);
		return tmp;
	}
	if (strcmp(tag, "ip-rev") == 0) {
		ptr_of(info->ip, tmp, len);
		return tmp;
	}
	if (actcmd_in_list(escaped_tags, tag))
		return info->matches ? info->matches : "";
	return NULL;
}

/* replaceDynamicTags(cmd, aInfo) into c (vars become sh -c arguments). */
static int replace_dynamic(const char *cmd, const char *family, const struct actcmd_info *info,
    struct actcmd_cmd *c, char *err, size_t errlen)
{
	struct actcmd_map vars = { 0 };
	struct buf b, f;
	char tmp[256];
	size_t pos = 0, ts, te;
	buf_init(&b, VAL_MAX);
	while (actcmd_tag_find(cmd, pos, &ts, &te)) {
		char tag[256];
		snprintf(tag, sizeof(tag), "%.*s", (int)(te - ts - 2), cmd + ts + 1);
		buf_append(&b, cmd + pos, ts - pos);
		const char *v = dyn_val(info, family, tag, tmp, sizeof(tmp));
		if (v)
			dyn_put(&b, &vars, tag, v);
		else if ((v = add_repl(tag, tmp, sizeof(tmp))) != NULL)
			buf_puts(&b, v);
		else
			buf_append(&b, cmd + ts, te - ts);
		pos = te;
	}
	buf_puts(&b, cmd + pos);
	/* <F-NAME> (FCUSTAG_CRE): the filter's captures; unknown ones are "" */
	buf_init(&f, VAL_MAX);
	const char *s = bstr(&b), *p;
	while ((p = strstr(s, "<F-")) != NULL) {
		size_t n = strspn(p + 3, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-");
		buf_append(&f, s, (size_t)(p - s));
		if (n == 0 || p[3 + n] != '>') {
			buf_append(&f, p, 1);
			s = p + 1;
			continue;
		}
		char tag[128];
		snprintf(tag, sizeof(tag), "F_%.*s", (int)n, p + 3);
		str_lower(tag + 2);
		if (strcmp(tag, "F_id") == 0)
			snprintf(tag, sizeof(tag), "F_fid");
		else if (strcmp(tag, "F_port") == 0)
			snprintf(tag, sizeof(tag), "F_fport");
		if (info && info->user && strcmp(tag, "F_user") == 0)
			dyn_put(&f, &vars, tag, info->user);
		s = p + 3 + n + 1;
	}
	buf_puts(&f, s);
	int full = b.len >= b.max || f.len >= f.max;
	memset(c, 0, sizeof(*c));
	if (vars.n) {	/* Utils.buildShellCmd */
		struct buf h;
		buf_init(&h, 2 * VAL_MAX);
		for (size_t i = 0; i < vars.n; i++)
			buf_printf(&h, "%s=$%zu ", vars.e[i].k, i);
		buf_printf(&h, "\n%s", bstr(&f));
		c->text = xstrdup(bstr(&h));
		buf_free(&h);
		c->argv = xcalloc(vars.n, sizeof(*c->argv));
		for (size_t i = 0; i < vars.n; i++)
			c->argv[i] = xstrdup(vars.e[i].v);
		c->nargv = vars.n;
	} else {
		c->text = xstrdup(bstr(&f));
	}
	buf_free(&b);
	buf_free(&f);
	actcmd_map_free(&vars);
	if (full) {
		actcmd_cmd_free(c);
		snprintf(err, errlen, "command longer than %d bytes", VAL_MAX);
		return -1;
	}
	return 0;
}

int actcmd_build(const struct actcmd_map *props, const char *key, const char *family,
    const struct actcmd_info *info, struct actcmd_cmd *cmd, char *err, size_t errlen)
{
	char q[300], cond[64] = "";
	memset(cmd, 0, sizeof(*cmd));
	snprintf(q, sizeof(q), "<%s>", key);
	if (*family)
		snprintf(cond, sizeof(cond), "family=%s", family);
	char *s = replace_tag(props, q, cond, err, errlen);
	if (s == NULL)
		return -1;
	/* an unset operation stays "<actionX>"; an empty one is nothing to do */
	if (strcmp(s, q) == 0 || s[strspn(s, " \t\r\n")] == '\0') {
		free(s);
		return 0;
	}
	int rc = replace_dynamic(s, family, info, cmd, err, errlen);
	free(s);
	return rc;
}

void actcmd_cmd_free(struct actcmd_cmd *cmd)
{
	free(cmd->text);
	for (size_t i = 0; i < cmd->nargv; i++)
		free(cmd->argv[i]);
	free(cmd->argv);
	memset(cmd, 0, sizeof(*cmd));
}

size_t actcmd_families(const struct actcmd_map *props, const char *fam[2], int *on_demand)
{
	int cond = 0;
	for (size_t i = 0; i < props->n && !cond; i++) {
		size_t bl = actcmd_conditional(props->e[i].k);
		cond = bl && strncmp(props->e[i].k + bl, "?family=", 8) == 0;
	}
	const char *od = actcmd_get(props, "actionstart_on_demand");
	*on_demand = od ? strcmp(od, "True") == 0 : cond;
	if (!cond) {
		fam[0] = "";
		return 1;
	}
	fam[0] = "inet4";
	fam[1] = "inet6";
	return 2;
}

int actcmd_unresolved(const char *text, char *out, size_t outlen)
{
	size_t pos = 0, ts, te, o = 0;
	int n = 0;
	*out = '\0';
	while (actcmd_tag_find(text, pos, &ts, &te)) {
		size_t len = te - ts;
		size_t ok = strspn(text + ts + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789_-/?=.");
		if (ok == len - 2 && o + len + 2 < outlen) {
			o += (size_t)snprintf(out + o, outlen - o, "%s%.*s", n ? " " : "", (int)len,
			    text + ts);
			n++;
		}
		pos = te;
	}
	return n;
}
