/*
 * filter — read a fail2ban filter (INI dialect, includes, .local,
 * interpolation, options), compile its regexes once, match lines.
 * Lines go through: date found and cut out -> ignoreregex on the rest ->
 * prefregex (its F-CONTENT becomes the text) -> failregex in order.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/util.h"
#include "warden/filter.h"

#define MAXOPT 512
#define MAXDEPTH 32
#define bstr(b) ((b)->data ? (b)->data : "")

/* One option as read: section, key, raw value, where. */
struct opt {
	char *sec, *key, *val, *file;
	int line;
};

struct ini {
	struct opt o[MAXOPT];
	int n;
};

struct frx {
	pcre2_code *re;
	char *file;
	int line;
};

struct filter {
	char *file;
	struct ini ini;			/* kept for filter_option() */
	char **defname, **defval;	/* resolved definition */
	int ndef;
	struct frx fail[64], ign[64];
	int nfail, nign;
	pcre2_code *pref;
	struct date_detector *date;
	pcre2_match_data *md, *md2;
	time_t last_date;
};

static void set_err(char *err, size_t errlen, const char *fmt, const char *a,
    int line, const char *b)
{
	if (snprintf(err, errlen, fmt, a, line, b) >= (int)errlen)
		err[errlen - 1] = '\0';
}

static struct opt *ini_get(struct ini *ini, const char *sec, const char *key)
{
	for (int i = ini->n - 1; i >= 0; i--)
		if (strcmp(ini->o[i].sec, sec) == 0 && strcmp(ini->o[i].key, key) == 0)
			return &ini->o[i];
	return NULL;
}

static void ini_set(struct ini *ini, const char *sec, const char *key,
    const char *val, const char *file, int line)
{
	struct opt *o = ini_get(ini, sec, key);
	if (o == NULL) {
		if (ini->n >= MAXOPT)
			return;
		o = &ini->o[ini->n++];
		o->sec = xstrdup(sec);
		o->key = xstrdup(key);
	} else {
		free(o->val);
		free(o->file);
	}
	o->val = xstrdup(val);
	o->file = xstrdup(file);
	o->line = line;
}

static void ini_free(struct ini *ini)
{
	for (int i = 0; i < ini->n; i++) {
		free(ini->o[i].sec);
		free(ini->o[i].key);
		free(ini->o[i].val);
		free(ini->o[i].file);
	}
	ini->n = 0;
}

static int ini_read_file(struct ini *ini, const char *dir, const char *path,
    int depth, char *err, size_t errlen);

/* Read NAME.conf then NAME.local from dir (an include or the filter). */
static int ini_read_name(struct ini *ini, const char *dir, const char *name,
    int depth, int need, char *err, size_t errlen)
{
	char p[4096];
	size_t nl = strlen(name);
	int found = 0;

	if (nl > 5 && (strcmp(name + nl - 5, ".conf") == 0 || strcmp(name + nl - 6, ".local") == 0))
		nl -= name[nl - 1] == 'f' ? 5 : 6;
	const char *ext[] = { ".conf", ".local" };
	for (int i = 0; i < 2; i++) {
		int r = strchr(name, '/') ?
		    snprintf(p, sizeof(p), "%.*s%s", (int)nl, name, ext[i]) :
		    snprintf(p, sizeof(p), "%s/%.*s%s", dir, (int)nl, name, ext[i]);
		if (r < 0 || (size_t)r >= sizeof(p))
			continue;
		if (access(p, R_OK) != 0)
			continue;
		found = 1;
		if (ini_read_file(ini, dir, p, depth, err, errlen) < 0)
			return -1;
	}
	if (!found && need) {
		set_err(err, errlen, "%s:%d: cannot read filter %s", dir, 0, name);
		return -1;
	}
	return 0;
}

/* Files named by an [INCLUDES] value (white-space separated). */
static int ini_includes(struct ini *ini, const char *dir, const char *list,
    int depth, char *err, size_t errlen)
{
	char *copy = xstrdup(list), *save = NULL;
	int rc = 0;
	for (char *w = strtok_r(copy, " \t\n", &save); w && rc == 0;
	    w = strtok_r(NULL, " \t\n", &save)) {
		char p[4096];
		int r = w[0] == '/' ? snprintf(p, sizeof(p), "%s", w) :
		    snprintf(p, sizeof(p), "%s/%s", dir, w);
		if (r < 0 || (size_t)r >= sizeof(p) || access(p, R_OK) != 0)
			continue;	/* a missing include is skipped, as fail2ban */
		rc = ini_read_file(ini, dir, p, depth + 1, err, errlen);
	}
	free(copy);
	return rc;
}

static int ini_read_file(struct ini *ini, const char *dir, const char *path,
    int depth, char *err, size_t errlen)
{
	struct ini own = { .n = 0 };
	FILE *fp;
	char line[8192], sec[128] = "";
	struct buf val;
	char key[128] = "";
	int lno = 0, keyline = 0, rc = 0;

	if (depth > 8) {
		set_err(err, errlen, "%s:%d: %s", path, 0, "includes nested too deep");
		return -1;
	}
	if ((fp = fopen(path, "r")) == NULL) {
		set_err(err, errlen, "%s:%d: %s", path, 0, strerror(errno));
		return -1;
	}
	buf_init(&val, 1 << 20);
	for (;;) {
		char *got = fgets(line, sizeof(line), fp);
		int cont = 0;
		if (got) {
			lno++;
			line[strcspn(line, "\r\n")] = '\0';
			cont = (line[0] == ' ' || line[0] == '\t') && key[0];
			char *t = str_trim(line);
			if (*t == '#' || *t == ';')
				continue;
			if (cont && *t) {
				buf_puts(&val, "\n");
				buf_puts(&val, t);
				continue;
			}
			if (cont || *t == '\0')
				continue;
		}
		if (key[0]) {
			ini_set(&own, sec, key, bstr(&val), path, keyline);
			key[0] = '\0';
		}
		if (!got)
			break;
		char *t = str_trim(line);
		if (*t == '[') {
			char *e = strchr(t, ']');
			if (e == NULL) {
				set_err(err, errlen, "%s:%d: %s", path, lno, "section header without ]");
				rc = -1;
				break;
			}
			*e = '\0';
			str_copy(sec, sizeof(sec), t + 1);
			continue;
		}
		size_t kl = strcspn(t, "=:");
		if (t[kl] == '\0' || sec[0] == '\0') {
			set_err(err, errlen, "%s:%d: %s", path, lno, "expected key = value");
			rc = -1;
			break;
		}
		char *v = t + kl + 1;
		t[kl] = '\0';
		str_copy(key, sizeof(key), str_trim(t));
		buf_reset(&val);
		buf_puts(&val, str_trim(v));
		keyline = lno;
	}
	fclose(fp);
	buf_free(&val);
	if (rc == 0) {
		struct opt *b = ini_get(&own, "INCLUDES", "before");
		if (b)
			rc = ini_includes(ini, dir, b->val, depth, err, errlen);
	}
	for (int i = 0; rc == 0 && i < own.n; i++)
		if (strcmp(own.o[i].sec, "INCLUDES") != 0)
			ini_set(ini, own.o[i].sec, own.o[i].key, own.o[i].val,
			    own.o[i].file, own.o[i].line);
	if (rc == 0) {
		struct opt *a = ini_get(&own, "INCLUDES", "after");
		if (a)
			rc = ini_includes(ini, dir, a->val, depth, err, errlen);
	}
	ini_free(&own);
	return rc;
}

/* Raw value of key seen from section sec (then DEFAULT). */
static struct opt *lookup(struct ini *ini, const char *sec, const char *key)
{
	const char *sl = strchr(key, '/');
	if (sl) {
		char s[128];
		if ((size_t)(sl - key) >= sizeof(s))
			return NULL;
		memcpy(s, key, (size_t)(sl - key));
		s[sl - key] = '\0';
		struct opt *o = ini_get(ini, s, sl + 1);
		return o ? o : ini_get(ini, "DEFAULT", sl + 1);
	}
	struct opt *o = ini_get(ini, sec, key);
	if (o == NULL && strcmp(sec, "Definition") == 0)
		o = ini_get(ini, "Init", key);
	return o ? o : ini_get(ini, "DEFAULT", key);
}

/* %(name)s interpolation as configparser does it, from section sec. */
static int interp(struct ini *ini, const char *sec, const char *v, struct buf *out,
    int depth, const struct opt *where, char *err, size_t errlen)
{
	if (depth > MAXDEPTH) {
		set_err(err, errlen, "%s:%d: %s", where->file, where->line,
		    "interpolation loop");
		return -1;
	}
	while (*v) {
		if (v[0] == '%' && v[1] == '%') {
			buf_puts(out, "%");
			v += 2;
		} else if (v[0] == '%' && v[1] == '(') {
			const char *e = strstr(v, ")s");
			if (e == NULL) {
				set_err(err, errlen, "%s:%d: %s", where->file, where->line,
				    "bad %( interpolation");
				return -1;
			}
			char name[128];
			size_t nl = (size_t)(e - v - 2);
			if (nl >= sizeof(name))
				nl = sizeof(name) - 1;
			memcpy(name, v + 2, nl);
			name[nl] = '\0';
			struct opt *o = lookup(ini, sec, name);
			if (o == NULL) {
				char m[200];
				if (snprintf(m, sizeof(m), "%%(%s)s is not defined", name) >= (int)sizeof(m))
					m[sizeof(m) - 1] = '\0';
				set_err(err, errlen, "%s:%d: %s", where->file, where->line, m);
				return -1;
			}
			const char *sl = strchr(name, '/');
			char s2[128];
			if (sl) {
				if (snprintf(s2, sizeof(s2), "%.*s", (int)(sl - name), name) >= (int)sizeof(s2))
					return -1;
			}
			if (interp(ini, sl ? s2 : sec, o->val, out, depth + 1, o, err, errlen) < 0)
				return -1;
			v = e + 2;
		} else {
			buf_append(out, v, 1);
			v++;
		}
	}
	return 0;
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

/* <name> substitution (fail2ban's substituteRecursiveTags), innermost first. */
static char *subst_recursive(struct filter *f, const char *v, const char *self)
{
	char *cur = xstrdup(v);
	for (int pass = 0; pass < MAXDEPTH; pass++) {
		struct buf out;
		int changed = 0;
		buf_init(&out, 1 << 20);
		for (const char *p = cur; *p;) {
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
					const char *r = strcmp(name, self) == 0 ? NULL : def_get(f, name);
					if (r != NULL) {
						buf_puts(&out, r);
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
			if (interp(ini, s == 1 ? "Init" : "Definition", ini->o[i].val,
			    &out, 0, &ini->o[i], err, errlen) < 0) {
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
		    !strcmp(sec, "Definition") || !strcmp(sec, "INCLUDES"))
			continue;
		char name[256];
		struct buf out;
		if (snprintf(name, sizeof(name), "%s/%s", sec, ini->o[i].key) >= (int)sizeof(name))
			continue;
		buf_init(&out, 1 << 20);
		if (interp(ini, sec, ini->o[i].val, &out, 0, &ini->o[i], err, errlen) < 0) {
			buf_free(&out);
			return -1;
		}
		def_set(f, name, bstr(&out));
		buf_free(&out);
	}
	for (int i = 0; i < f->ndef; i++) {
		char *r = subst_recursive(f, f->defval[i], f->defname[i]);
		free(f->defval[i]);
		f->defval[i] = r;
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
		set_err(err, errlen, "%s:%d: %s", spec, 0, "filter name too long");
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
			set_err(err, errlen, "%s:%d: %s", spec, 0, "option name too long");
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

static int compile_list(struct filter *f, const char *key, struct frx *arr, int *n,
    char *err, size_t errlen)
{
	const char *v = def_get(f, key);
	struct opt *o = lookup(&f->ini, "Definition", key);
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
		if (*n >= 64) {
			set_err(err, errlen, "%s:%d: %s", file, line + idx, "too many regexes");
			rc = -1;
			break;
		}
		char *tr = regex_translate(l, file, line + idx, err, errlen);
		if (tr == NULL) {
			rc = -1;
			break;
		}
		char e2[256];
		arr[*n].re = regex_compile(tr, 0, e2, sizeof(e2));
		free(tr);
		if (arr[*n].re == NULL) {
			char m[600];
			if (snprintf(m, sizeof(m), "%s: %s", key, e2) >= (int)sizeof(m))
				m[sizeof(m) - 1] = '\0';
			set_err(err, errlen, "%s:%d: %s", file, line + idx, m);
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

struct filter *filter_load(const char *spec, const char *const *dirs, char *err,
    size_t errlen)
{
	struct filter *f = xcalloc(1, sizeof(*f));
	struct ini opts = { .n = 0 };
	char name[1024], dir[1024];

	if (parse_spec(spec, name, sizeof(name), &opts, err, errlen) < 0)
		goto fail;
	if (strchr(name, '/')) {
		const char *sl = strrchr(name, '/');
		if (snprintf(dir, sizeof(dir), "%.*s", (int)(sl - name), name) >= (int)sizeof(dir)) {
			set_err(err, errlen, "%s:%d: %s", spec, 0, "path too long");
			goto fail;
		}
		if (ini_read_name(&f->ini, dir, name, 0, 1, err, errlen) < 0)
			goto fail;
	} else {
		int found = 0;
		for (int i = 0; dirs && dirs[i] && !found; i++) {
			char p[2048];
			int r = snprintf(p, sizeof(p), "%s/%s.conf", dirs[i], name);
			if (r < 0 || (size_t)r >= sizeof(p) || access(p, R_OK) != 0)
				continue;
			str_copy(dir, sizeof(dir), dirs[i]);
			found = 1;
		}
		if (!found) {
			set_err(err, errlen, "%s:%d: %s", name, 0,
			    "filter not found in the filter.d search path");
			goto fail;
		}
		if (ini_read_name(&f->ini, dir, name, 0, 1, err, errlen) < 0)
			goto fail;
	}
	f->file = xstrdup(name);
	for (int i = 0; i < opts.n; i++)
		ini_set(&f->ini, "Definition", opts.o[i].key, opts.o[i].val, spec, 0);
	if (resolve(f, err, errlen) < 0)
		goto fail;
	const char *ml = def_get(f, "maxlines");
	if (ml && atoi(ml) > 1) {
		struct opt *o = lookup(&f->ini, "Definition", "maxlines");
		set_err(err, errlen, "%s:%d: %s", o ? o->file : name, o ? o->line : 0,
		    "maxlines > 1 (multi-line filters) is not supported yet");
		goto fail;
	}
	if (compile_list(f, "failregex", f->fail, &f->nfail, err, errlen) < 0 ||
	    compile_list(f, "ignoreregex", f->ign, &f->nign, err, errlen) < 0)
		goto fail;
	const char *pr = def_get(f, "prefregex");
	if (pr && *pr) {
		struct frx one[1];
		int n1 = 0;
		if (compile_list(f, "prefregex", one, &n1, err, errlen) < 0)
			goto fail;
		if (n1) {
			f->pref = one[0].re;
			free(one[0].file);
		}
	}
	if (f->nfail == 0) {
		set_err(err, errlen, "%s:%d: %s", name, 0, "no failregex");
		goto fail;
	}
	f->date = date_new(def_get(f, "datepattern"), err, errlen);
	if (f->date == NULL)
		goto fail;
	f->md = pcre2_match_data_create(256, NULL);
	f->md2 = pcre2_match_data_create(256, NULL);
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
	pcre2_match_data_free(f->md);
	pcre2_match_data_free(f->md2);
	ini_free(&f->ini);
	free(f->file);
	free(f);
}

int filter_nfail(const struct filter *f) { return f->nfail; }
int filter_nignore(const struct filter *f) { return f->nign; }
const char *filter_file(const struct filter *f) { return f->file; }

const char *filter_option(const struct filter *f, const char *name)
{
	return def_get((struct filter *)f, name);
}

/* Group `name` (or alt_name, alt_name_N) of a match into out; 1 if set. */
static int group(pcre2_code *re, pcre2_match_data *md, const char *subj,
    const char *name, char *out, size_t outlen)
{
	uint32_t cnt = 0, esz = 0;
	PCRE2_SPTR tab;
	pcre2_pattern_info(re, PCRE2_INFO_NAMECOUNT, &cnt);
	pcre2_pattern_info(re, PCRE2_INFO_NAMEENTRYSIZE, &esz);
	pcre2_pattern_info(re, PCRE2_INFO_NAMETABLE, &tab);
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
	uint32_t ovc = pcre2_get_ovector_count(md);
	size_t nl = strlen(name);
	for (int alt = 0; alt < 2; alt++)
		for (uint32_t i = 0; i < cnt; i++) {
			PCRE2_SPTR e = tab + i * esz;
			const char *n = (const char *)e + 2;
			int ok = alt == 0 ? strcmp(n, name) == 0 :
			    (strncmp(n, "alt_", 4) == 0 && strncmp(n + 4, name, nl) == 0 &&
			    (n[4 + nl] == '\0' || n[4 + nl] == '_'));
			if (!ok)
				continue;
			uint32_t g = ((uint32_t)e[0] << 8) | e[1];
			if (g >= ovc || ov[2 * g] == PCRE2_UNSET)
				continue;
			size_t l = ov[2 * g + 1] - ov[2 * g];
			if (l >= outlen)
				l = outlen - 1;
			memcpy(out, subj + ov[2 * g], l);
			out[l] = '\0';
			return 1;
		}
	return 0;
}

static void take_groups(pcre2_code *re, pcre2_match_data *md, const char *s,
    struct filter_hit *h)
{
	const char *hostgrp[] = { "ip4", "ip6", "dns" };
	char v[256];
	for (int i = 0; i < 3 && !h->host[0]; i++)
		if (group(re, md, s, hostgrp[i], v, sizeof(v)))
			str_copy(h->host, sizeof(h->host), v);
	if (group(re, md, s, "fid", v, sizeof(v)))
		str_copy(h->fid, sizeof(h->fid), v);
	if (group(re, md, s, "user", v, sizeof(v)))
		str_copy(h->user, sizeof(h->user), v);
}

static int rx_search(pcre2_code *re, const char *s, size_t len, pcre2_match_data *md)
{
	return pcre2_match(re, (PCRE2_SPTR)s, len, 0, 0, md, NULL) >= 0;
}

enum filter_result filter_match(struct filter *f, const char *line,
    struct filter_hit *h)
{
	size_t len = strlen(line), ds = 0, de = 0;
	time_t t;
	struct buf text;

	memset(h, 0, sizeof(*h));
	h->regex = -1;
	buf_init(&text, len + 2);
	if (date_find(f->date, line, len, &ds, &de, &t)) {
		h->has_date = 1;
		h->time = t;
		f->last_date = t;
		buf_append(&text, line, ds);
		buf_append(&text, line + de, len - de);
	} else {
		h->time = f->last_date ? f->last_date : date_now();
		buf_append(&text, line, len);
	}
	buf_puts(&text, "\n");	/* fail2ban matches "line\n" */
	const char *s = bstr(&text);
	size_t sl = text.len;
	char *content = NULL;
	if (f->pref) {
		if (!rx_search(f->pref, s, sl, f->md2))
			goto out;
		char c[8192];
		if (group(f->pref, f->md2, s, "content", c, sizeof(c))) {
			size_t cl = strlen(c);
			content = xmalloc(cl + 2);
			memcpy(content, c, cl);
			content[cl] = '\n';
			content[cl + 1] = '\0';
		}
		take_groups(f->pref, f->md2, s, h);
	}
	const char *fs = content ? content : s;
	for (int i = 0; i < f->nfail; i++) {
		if (!rx_search(f->fail[i].re, fs, strlen(fs), f->md))
			continue;
		for (int j = 0; j < f->nign; j++)
			if (rx_search(f->ign[j].re, s, sl, f->md2)) {
				h->result = FILTER_IGNORED;
				h->regex = i;
				goto out;
			}
		h->regex = i;
		char nf[8];
		if (group(f->fail[i].re, f->md, fs, "nofail", nf, sizeof(nf)))
			goto out;	/* <F-NOFAIL>: matched, but not a failure */
		take_groups(f->fail[i].re, f->md, fs, h);
		if (!h->host[0] && h->fid[0])
			str_copy(h->host, sizeof(h->host), h->fid);
		h->result = FILTER_FAIL;
		break;
	}
out:
	free(content);
	buf_free(&text);
	return h->result;
}
