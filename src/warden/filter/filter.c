/*
 * filter — load a fail2ban filter: read it (ini.h: search path, includes,
 * .local, built-ins), resolve %(name)s and <name> (ini.h's interpolation
 * and substituteRecursiveTags, with a filter's scope: [Definition] sees
 * [Init], then [DEFAULT]), apply name[opt=val] options, compile its
 * regexes once. Matching is in filter_match.c.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/util.h"
#include "warden/filter/filter.h"
#include "warden/filter/filter_impl.h"

#define MAXDEPTH 32

void filter_set_err(char *err, size_t errlen, const char *fmt, const char *a,
    int line, const char *b)
{
	if (snprintf(err, errlen, fmt, a, line, b) >= (int)errlen)
		err[errlen - 1] = '\0';
}

/* [Definition] falls back on [Init] (then [DEFAULT], as every section). */
static const char *const *filter_fallback(const char *sec)
{
	static const char *const init[] = { "Init", NULL };
	return strcmp(sec, "Definition") == 0 ? init : NULL;
}

static struct ini_scope filter_scope(const struct filter *f)
{
	struct ini_scope sc = { .ini = &f->ini, .fallback = filter_fallback,
	    .flags = INI_ERR_UNKNOWN, .maxdepth = MAXDEPTH };
	return sc;
}

/* The option key resolves to from [Definition], or NULL. */
static const struct ini_opt *lookup(const struct filter *f, const char *key)
{
	struct ini_scope sc = filter_scope(f);
	char in[128];
	return ini_resolve(&sc, "Definition", key, in, sizeof(in));
}

/* %(x)s of v from sec into out; -1 and "FILE:LINE: message" in err. */
static int interp(const struct filter *f, const char *sec, const char *v,
    const struct ini_opt *where, struct buf *out, char *err, size_t errlen)
{
	struct ini_scope sc = filter_scope(f);
	struct ini_err e;
	if (ini_interp(&sc, sec, v, where, out, &e) == 0)
		return 0;
	char m[200];
	const char *msg = m;
	if (e.kind == INI_E_DEPTH)
		msg = "interpolation loop";
	else if (e.kind == INI_E_SYNTAX)
		msg = "bad %( interpolation";
	else if (snprintf(m, sizeof(m), "%%(%s)s is not defined", e.name) >= (int)sizeof(m))
		m[sizeof(m) - 1] = '\0';
	filter_set_err(err, errlen, "%s:%d: %s", e.where->file, e.where->line, msg);
	return -1;
}

/* Value of a resolved definition name, or NULL. */
static const char *def_get(struct filter *f, const char *name)
{
	for (int i = f->ndef - 1; i >= 0; i--)
		if (strcmp(f->defname[i], name) == 0)
			return f->defval[i];
	return NULL;
}

static void def_set(struct filter *f, const char *name, const char *val)
{
	for (int i = 0; i < f->ndef; i++)
		if (strcmp(f->defname[i], name) == 0) {
			free(f->defval[i]);
			f->defval[i] = xstrdup(val);
			return;
		}
	f->defname = xrealloc(f->defname, sizeof(char *) * (size_t)(f->ndef + 1));
	f->defval = xrealloc(f->defval, sizeof(char *) * (size_t)(f->ndef + 1));
	f->defname[f->ndef] = xstrdup(name);
	f->defval[f->ndef++] = xstrdup(val);
}

/* A <tag> of a definition: another resolved definition. */
static void def_tag(void *arg, const char *name, struct ini_tag *t)
{
	t->val = def_get(arg, name);
}

/* Resolve every option visible from [Definition] (and sec/opt names). */
static int resolve(struct filter *f, char *err, size_t errlen)
{
	struct ini *ini = &f->ini;
	const char *secs[] = { "DEFAULT", "Init", "Definition" };
	for (int s = 0; s < 3; s++)
		for (int i = 0; i < ini->n; i++) {
			if (strcmp(ini->o[i].sec, secs[s]) != 0)
				continue;
			struct buf out;
			buf_init(&out, 1 << 20);
			if (interp(f, s == 1 ? "Init" : "Definition", ini->o[i].val,
			    &ini->o[i], &out, err, errlen) < 0) {
				buf_free(&out);
				return -1;
			}
			def_set(f, ini->o[i].key, bstr(&out));
			buf_free(&out);
		}
	/* other sections' options as sec/opt, for <lt_file/__prefix_line> */
	for (int i = 0; i < ini->n; i++) {
		const char *sec = ini->o[i].sec;
		if (!strcmp(sec, "DEFAULT") || !strcmp(sec, "Init") ||
		    !strcmp(sec, "Definition") || !strcmp(sec, "INCLUDES") ||
		    !strncmp(sec, "KNOWN/", 6))
			continue;
		char name[256];
		struct buf out;
		if (snprintf(name, sizeof(name), "%s/%s", sec, ini->o[i].key) >= (int)sizeof(name))
			continue;
		buf_init(&out, 1 << 20);
		if (interp(f, sec, ini->o[i].val, &ini->o[i], &out, err, errlen) < 0) {
			buf_free(&out);
			return -1;
		}
		def_set(f, name, bstr(&out));
		buf_free(&out);
	}
	for (int i = 0; i < f->ndef; i++) {
		char *r = ini_tags_recursive(f->defval[i], f->defname[i], def_tag, f, MAXDEPTH);
		free(f->defval[i]);
		f->defval[i] = r;
	}
	return 0;
}

/*
 * A mode the filter does not define (postfix[mode=nosuch]) leaves a tag
 * such as <mdre-nosuch> unresolved in failregex, which would then match
 * nothing, silently: refused, naming the modes there are.
 */
static int check_mode(struct filter *f, char *err, size_t errlen)
{
	static const char *const keys[] = { "failregex", "ignoreregex", "prefregex" };
	const char *mode = def_get(f, "mode");
	size_t ml = mode ? strlen(mode) : 0;
	if (ml == 0)
		return 0;
	for (size_t k = 0; k < sizeof(keys) / sizeof(*keys); k++) {
		const char *v = def_get(f, keys[k]);
		for (const char *p = v ? strchr(v, '<') : NULL; p; p = strchr(p + 1, '<')) {
			const char *q = p + 1;
			while (isalnum((unsigned char)*q) || *q == '_' || *q == '-')
				q++;
			size_t nl = (size_t)(q - p - 1);
			if (*q != '>' || nl <= ml + 1 || q[-(long)ml - 1] != '-' ||
			    strncmp(q - ml, mode, ml) != 0)
				continue;
			/* <prefix-MODE> left: list the prefix-* names defined */
			size_t pl = nl - ml;	/* "prefix-" */
			struct buf known;
			buf_init(&known, 4096);
			for (int i = 0; i < f->ndef; i++)
				if (strncmp(f->defname[i], p + 1, pl) == 0 && f->defname[i][pl] &&
				    !strpbrk(f->defname[i] + pl, "<-"))
					buf_printf(&known, "%s%s", known.len ? ", " : "",
					    f->defname[i] + pl);
			const struct ini_opt *o = lookup(f, keys[k]);
			char m[1024];
			if (snprintf(m, sizeof(m), "mode=%s: no such mode in this filter (its modes: "
			    "%s)", mode, known.len ? bstr(&known) : "none") >= (int)sizeof(m))
				m[sizeof(m) - 1] = '\0';
			filter_set_err(err, errlen, "%s:%d: %s", o ? o->file : f->file,
			    o ? o->line : 0, m);
			buf_free(&known);
			return -1;
		}
	}
	return 0;
}

/* Split "name[a=b, c="d,e"]" into name and options set into [Init]. */
static int parse_spec(const char *spec, char *name, size_t nlen, struct ini *opts,
    char *err, size_t errlen)
{
	const char *br = strchr(spec, '[');
	size_t nl = br ? (size_t)(br - spec) : strlen(spec);
	if (nl >= nlen) {
		filter_set_err(err, errlen, "%s:%d: %s", spec, 0, "filter name too long");
		return -1;
	}
	memcpy(name, spec, nl);
	name[nl] = '\0';
	if (br == NULL)
		return 0;
	const char *p = br + 1;
	while (*p && *p != ']') {
		while (*p == ' ' || *p == ',')
			p++;
		const char *eq = strchr(p, '=');
		if (eq == NULL)
			break;
		char k[128], v[1024];
		if (snprintf(k, sizeof(k), "%.*s", (int)(eq - p), p) >= (int)sizeof(k)) {
			filter_set_err(err, errlen, "%s:%d: %s", spec, 0, "option name too long");
			return -1;
		}
		p = eq + 1;
		size_t vl = 0;
		char q = (*p == '"' || *p == '\'') ? *p++ : 0;
		while (*p && (q ? *p != q : (*p != ',' && *p != ']')) && vl < sizeof(v) - 1)
			v[vl++] = *p++;
		v[vl] = '\0';
		if (q && *p == q)
			p++;
		ini_set(opts, "Definition", str_trim(k), str_trim(v), spec, 0);
	}
	return 0;
}

/* Compile key's lines into arr (room for max entries) from arr[*n] on. */
static int compile_list(struct filter *f, const char *key, struct frx *arr, int *n, int max,
    unsigned flags, char *err, size_t errlen)
{
	const char *v = def_get(f, key);
	const struct ini_opt *o = lookup(f, key);
	int line = o ? o->line : 0;
	const char *file = o ? o->file : f->file;
	if (v == NULL)
		return 0;
	char *copy = xstrdup(v), *save = NULL;
	int idx = 0, rc = 0;
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save), idx++) {
		l = str_trim(l);
		if (*l == '\0')
			continue;
		if (*n >= max) {
			filter_set_err(err, errlen, "%s:%d: %s", file, line + idx,
			    max == 1 ? "prefregex must be a single regex" : "too many regexes");
			rc = -1;
			break;
		}
		char *tr = regex_translate(l, file, line + idx, err, errlen);
		if (tr == NULL) {
			rc = -1;
			break;
		}
		char e2[256];
		arr[*n].re = regex_compile(tr, flags, e2, sizeof(e2));
		free(tr);
		if (arr[*n].re == NULL) {
			char m[600];
			if (snprintf(m, sizeof(m), "%s: %s", key, e2) >= (int)sizeof(m))
				m[sizeof(m) - 1] = '\0';
			filter_set_err(err, errlen, "%s:%d: %s", file, line + idx, m);
			rc = -1;
			break;
		}
		arr[*n].file = xstrdup(file);
		arr[*n].line = line + idx;
		(*n)++;
	}
	free(copy);
	return rc;
}

/* Read the filter named in spec from src (a path: from its own dir). */
static int read_filter(struct filter *f, const char *name,
    const char *const *dirs, char *err, size_t errlen)
{
	char where[1024];
	int r;

	if (strchr(name, '/')) {
		const char *sl = strrchr(name, '/');
		char dir[1024];
		if (snprintf(dir, sizeof(dir), "%.*s", (int)(sl - name), name) >= (int)sizeof(dir)) {
			filter_set_err(err, errlen, "%s:%d: %s", name, 0, "path too long");
			return -1;
		}
		const char *one[] = { dir, NULL };
		struct ini_src src = { one, NULL };
		r = ini_read_name(&f->ini, &src, sl + 1, where, sizeof(where), err, errlen);
		if (r == 0)
			filter_set_err(err, errlen, "%s:%d: %s", name, 0, "cannot read filter");
		if (r <= 0)
			return -1;
		f->file = xstrdup(name);
		return 0;
	}
	struct ini_src src = { dirs, builtin_filter_text };
	r = ini_read_name(&f->ini, &src, name, where, sizeof(where), err, errlen);
	if (r == 0)
		filter_set_err(err, errlen, "%s:%d: %s", name, 0,
		    "filter not found in the filter.d search path nor built in");
	if (r <= 0)
		return -1;
	char p[2200];
	if (where[0] == '\0')
		r = snprintf(p, sizeof(p), "built-in:%s", name);
	else
		r = snprintf(p, sizeof(p), "%s/%s.conf", where, name);
	f->file = xstrdup(r > 0 && (size_t)r < sizeof(p) ? p : name);
	return 0;
}

struct filter *filter_load(const char *spec, const char *const *dirs, char *err,
    size_t errlen)
{
	struct filter *f = xcalloc(1, sizeof(*f));
	struct ini opts = { .n = 0 };
	char name[1024];

	if (parse_spec(spec, name, sizeof(name), &opts, err, errlen) < 0 ||
	    read_filter(f, name, dirs, err, errlen) < 0)
		goto fail;
	for (int i = 0; i < opts.n; i++)
		ini_set(&f->ini, "Definition", opts.o[i].key, opts.o[i].val, spec, 0);
	if (resolve(f, err, errlen) < 0 || check_mode(f, err, errlen) < 0)
		goto fail;
	const char *ml = def_get(f, "maxlines");
	f->maxlines = 1;
	if (ml && *ml) {
		char *e;
		long v = strtol(ml, &e, 10);
		if (*str_trim(e) != '\0' || v < 1 || v > FILTER_MAXLINES) {
			const struct ini_opt *o = lookup(f, "maxlines");
			filter_set_err(err, errlen, "%s:%d: %s", o ? o->file : name,
			    o ? o->line : 0, "maxlines must be a number from 1 to 1000");
			goto fail;
		}
		f->maxlines = (int)v;
	}
	unsigned ml_flag = f->maxlines > 1 ? REGEX_MULTILINE : 0;
	if (compile_list(f, "failregex", f->fail, &f->nfail, FILTER_MAXRX, ml_flag, err,
	    errlen) < 0 ||
	    compile_list(f, "ignoreregex", f->ign, &f->nign, FILTER_MAXRX, 0, err, errlen) < 0)
		goto fail;
	const char *pr = def_get(f, "prefregex");
	if (pr && *pr) {
		struct frx one[1];
		int n1 = 0;
		if (compile_list(f, "prefregex", one, &n1, 1, 0, err, errlen) < 0) {
			if (n1) {
				regex_free(one[0].re);
				free(one[0].file);
			}
			goto fail;
		}
		if (n1) {
			f->pref = one[0].re;
			free(one[0].file);
		}
	}
	if (f->nfail == 0) {
		filter_set_err(err, errlen, "%s:%d: %s", name, 0, "no failregex");
		goto fail;
	}
	f->date = date_new(def_get(f, "datepattern"), err, errlen);
	if (f->date == NULL)
		goto fail;
	f->md = pcre2_match_data_create(256, NULL);
	f->md2 = pcre2_match_data_create(256, NULL);
	buf_init(&f->subj, (size_t)1 << 24);
	buf_init(&f->subj2, (size_t)1 << 24);
	ini_free(&opts);
	return f;
fail:
	ini_free(&opts);
	filter_free(f);
	return NULL;
}

void filter_free(struct filter *f)
{
	if (f == NULL)
		return;
	for (int i = 0; i < f->nfail; i++) {
		regex_free(f->fail[i].re);
		free(f->fail[i].file);
	}
	for (int i = 0; i < f->nign; i++) {
		regex_free(f->ign[i].re);
		free(f->ign[i].file);
	}
	if (f->pref)
		regex_free(f->pref);
	for (int i = 0; i < f->ndef; i++) {
		free(f->defname[i]);
		free(f->defval[i]);
	}
	free(f->defname);
	free(f->defval);
	date_free(f->date);
	if (f->md)
		pcre2_match_data_free(f->md);
	if (f->md2)
		pcre2_match_data_free(f->md2);
	filter_state_free(f);
	buf_free(&f->subj);
	buf_free(&f->subj2);
	ini_free(&f->ini);
	free(f->file);
	free(f);
}

int filter_nfail(const struct filter *f) { return f->nfail; }
int filter_nignore(const struct filter *f) { return f->nign; }
int filter_maxlines(const struct filter *f) { return f->maxlines; }
const char *filter_file(const struct filter *f) { return f->file; }

const char *filter_option(const struct filter *f, const char *name)
{
	return def_get((struct filter *)f, name);
}
