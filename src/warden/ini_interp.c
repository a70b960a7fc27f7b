/*
 * ini_interp — values of a fail2ban INI table (ini.h): configparser's
 * %(name)s interpolation with fail2ban's `section/name` and `known/name`
 * forms, and `<tag>` substitution (a single pass for action commands,
 * fail2ban's substituteRecursiveTags for filter definitions). Where a
 * name is looked up and what counts as an error come from the caller's
 * struct ini_scope; every expansion is bounded in depth, and optionally
 * in count, so values that name each other cannot take exponential time.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/util.h"
#include "warden/ini.h"

#define TAG_MAXLEN 64		/* "<...>" longer than this is text */
#define CHAIN_MAX 64		/* names tracked for INI_LOOP_CHAIN */
#define bstr(b) ((b)->data ? (b)->data : "")

const struct ini_opt *ini_resolve(const struct ini_scope *sc, const char *sec,
    const char *name, char *in, size_t inlen)
{
	const struct ini *ini = sc->ini;
	const char *sl = strchr(name, '/');
	char s[128];

	str_copy(in, inlen, sec);
	if (sl) {
		const struct ini_opt *o = NULL;
		if ((size_t)(sl - name) >= sizeof(s))
			return NULL;
		memcpy(s, name, (size_t)(sl - name));
		s[sl - name] = '\0';
		if (strcasecmp(s, "known") == 0) {	/* the value sec had before */
			char ks[160];
			if (snprintf(ks, sizeof(ks), "KNOWN/%s", sec) < (int)sizeof(ks))
				o = ini_get(ini, ks, sl + 1);
		} else {
			o = ini_get(ini, s, sl + 1);
			str_copy(in, inlen, s);
		}
		return o ? o : ini_get(ini, "DEFAULT", sl + 1);
	}
	const struct ini_opt *o = ini_get(ini, sec, name);
	const char *const *fb = sc->fallback ? sc->fallback(sec) : NULL;
	for (size_t i = 0; o == NULL && fb && fb[i]; i++)
		o = ini_get(ini, fb[i], name);
	return o ? o : ini_get(ini, "DEFAULT", name);
}

/* One expansion in progress. */
struct ix {
	const struct ini_scope *sc;
	struct ini_err *e;
	const char *chain[CHAIN_MAX + 1];
	struct ini_opt name_opt;	/* %(__name__)s */
};

static int fail(struct ix *x, enum ini_errkind kind, const char *name,
    const struct ini_opt *where)
{
	x->e->kind = kind;
	str_copy(x->e->name, sizeof(x->e->name), name ? name : "");
	x->e->where = where;
	return -1;
}

/* Append; a failure (past the buffer's maximum) counts only if asked. */
static int put(struct ix *x, struct buf *out, const char *s, size_t n)
{
	if (buf_append(out, s, n) < 0 && (x->sc->flags & INI_ERR_TOOLONG))
		return fail(x, INI_E_TOOLONG, "", NULL);
	return 0;
}

/* 1 if name is already being expanded (e->chain says how), else 0. */
static int looped(struct ix *x, int depth, const char *name)
{
	for (int i = 0; i < depth; i++) {
		if (strcasecmp(x->chain[i], name) != 0)
			continue;
		size_t o = 0;
		char *p = x->e->chain;
		for (int k = i; k < depth && o < sizeof(x->e->chain); k++) {
			int w = snprintf(p + o, sizeof(x->e->chain) - o, "%s -> ", x->chain[k]);
			if (w < 0)
				break;
			o += (size_t)w;
		}
		if (o >= sizeof(x->e->chain))
			o = sizeof(x->e->chain) - 1;
		snprintf(p + o, sizeof(x->e->chain) - o, "%s", name);
		return 1;
	}
	return 0;
}

/* v from sec into out; depth names are being expanded (x->chain). */
static int interp(struct ix *x, const char *sec, const char *v,
    const struct ini_opt *where, struct buf *out, int depth)
{
	const struct ini_scope *sc = x->sc;
	int strict = (sc->flags & INI_ERR_UNKNOWN) != 0;

	while (*v) {
		const char *pct = strchr(v, '%');
		if (pct == NULL)
			return put(x, out, v, strlen(v));
		if (put(x, out, v, (size_t)(pct - v)) < 0)
			return -1;
		v = pct;
		if (v[1] == '%') {
			if (put(x, out, "%", 1) < 0)
				return -1;
			v += 2;
			continue;
		}
		const char *close = v[1] == '(' ? strstr(v, ")s") : NULL;
		if (close == NULL && (v[1] == '(' ? strict : (sc->flags & INI_ERR_LONE_PCT) != 0)) {
			snprintf(x->e->at, sizeof(x->e->at), "%.30s", v);
			return fail(x, INI_E_SYNTAX, "", where);
		}
		int keep = close == NULL || (sc->budget && *sc->budget == 0);
		size_t n = close ? (size_t)(close - v - 2) : 0;
		char name[128], in[256];
		const struct ini_opt *o = NULL;
		if (!keep && (n == 0 || n >= sizeof(name))) {
			if (strict) {
				snprintf(x->e->at, sizeof(x->e->at), "%.*s", (int)(close - v + 2), v);
				return fail(x, INI_E_BADNAME, "", where);
			}
			keep = 1;
		}
		if (!keep) {
			memcpy(name, v + 2, n);
			name[n] = '\0';
			int chained = (sc->flags & INI_LOOP_CHAIN) != 0;
			if (chained) {	/* loop, then depth, then the name */
				if (looped(x, depth, name))
					return fail(x, INI_E_LOOP, name, where);
				if (depth >= sc->maxdepth || depth >= CHAIN_MAX)
					return fail(x, INI_E_DEPTH, name, where);
				x->chain[depth] = name;
			}
			o = ini_resolve(sc, sec, name, in, sizeof(in));
			if (o == NULL && sc->name && strcmp(name, "__name__") == 0) {
				x->name_opt.val = (char *)sc->name;
				o = &x->name_opt;
			}
			if (o == NULL && strict)
				return fail(x, INI_E_UNKNOWN, name, where);
			if (o && depth >= sc->maxdepth) {
				if (strict)
					return fail(x, INI_E_DEPTH, name, o);
				o = NULL;
			}
			keep = o == NULL;
		}
		if (keep) {	/* kept as written: the '%', then go on scanning */
			if (put(x, out, "%", 1) < 0)
				return -1;
			v++;
			continue;
		}
		if (sc->budget)
			(*sc->budget)--;
		if (interp(x, in, o->val, o, out, depth + 1) < 0)
			return -1;
		v = close + 2;
	}
	return 0;
}

int ini_interp(const struct ini_scope *sc, const char *sec, const char *v,
    const struct ini_opt *where, struct buf *out, struct ini_err *e)
{
	struct ix x = { .sc = sc, .e = e };
	int depth = 0;

	memset(e, 0, sizeof(*e));
	if ((sc->flags & INI_LOOP_CHAIN) && where)	/* the key itself is in the chain */
		x.chain[depth++] = where->key;
	x.name_opt.key = (char *)"__name__";
	x.name_opt.sec = (char *)sec;
	x.name_opt.file = where ? where->file : (char *)"";
	return interp(&x, sec, v, where, out, depth);
}

/* ---- <tag> ---- */

/* Append what fits of s[0..n) (text past the buffer's maximum is cut). */
static void append_fit(struct buf *out, const char *s, size_t n)
{
	if (buf_append(out, s, n) < 0 && out->len < out->max)
		buf_append(out, s, out->max - out->len);
}

static void tags(const char *v, ini_tag_fn fn, void *arg, const struct ini_scope *sc,
    const char *sec, int maxdepth, struct buf *out, int depth)
{
	unsigned *budget = sc ? sc->budget : NULL;

	while (*v) {
		if (*v != '<') {	/* text up to the next tag at once */
			size_t n = strcspn(v, "<");
			append_fit(out, v, n);
			v += n;
			continue;
		}
		const char *e = strchr(v + 1, '>');
		if (e == NULL || e - v > TAG_MAXLEN || depth > maxdepth ||
		    (budget && *budget == 0)) {
			buf_append(out, v, 1);
			v++;
			continue;
		}
		char name[TAG_MAXLEN + 1];
		snprintf(name, sizeof(name), "%.*s", (int)(e - v - 1), v + 1);
		struct ini_tag t = { 0 };
		fn(arg, name, &t);
		if (t.val == NULL) {	/* unknown: kept as written */
			buf_append(out, v, (size_t)(e - v + 1));
		} else if (t.final) {
			buf_puts(out, t.val);
		} else {
			struct buf b;
			struct ini_err ie;
			buf_init(&b, out->max);
			if (budget)
				(*budget)--;
			if (sc)
				(void)ini_interp(sc, sec, t.val, NULL, &b, &ie);
			else
				buf_puts(&b, t.val);
			tags(bstr(&b), fn, arg, sc, sec, maxdepth, out, depth + 1);
			buf_free(&b);
		}
		free(t.owned);
		v = e + 1;
	}
}

void ini_tags(const char *v, ini_tag_fn fn, void *arg, const struct ini_scope *sc,
    const char *sec, int maxdepth, struct buf *out)
{
	tags(v, fn, arg, sc, sec, maxdepth, out, 0);
}

char *ini_tags_recursive(const char *v, const char *self, ini_tag_fn fn, void *arg,
    int maxpass)
{
	char *cur = xstrdup(v);
	for (int pass = 0; pass < maxpass; pass++) {
		struct buf out;
		int changed = 0;
		buf_init(&out, 1 << 20);
		for (const char *p = cur; *p;) {
			if (*p != '<') {
				size_t n = strcspn(p, "<");
				append_fit(&out, p, n);
				p += n;
				continue;
			}
			const char *q = p + 1;
			if (*p == '<') {
				while (isalnum((unsigned char)*q) || *q == '_' || *q == '-' || *q == '/')
					q++;
			}
			if (*p == '<' && *q == '>' && q > p + 1) {
				char name[128];
				size_t nl = (size_t)(q - p - 1);
				if (nl < sizeof(name)) {
					memcpy(name, p + 1, nl);
					name[nl] = '\0';
					struct ini_tag t = { 0 };
					if (strcmp(name, self) != 0)
						fn(arg, name, &t);
					if (t.val != NULL) {
						buf_puts(&out, t.val);
						free(t.owned);
						p = q + 1;
						changed = 1;
						continue;
					}
				}
			}
			buf_append(&out, p, 1);
			p++;
		}
		free(cur);
		cur = xstrdup(bstr(&out));
		buf_free(&out);
		if (!changed)
			break;
	}
	return cur;
}
