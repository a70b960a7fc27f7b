/*
 * ini — reading fail2ban's INI files (see ini.h): sections, continued
 * values, comments, [INCLUDES] before/after, NAME.conf then NAME.local,
 * looked up along a list of directories and then among built-in texts.
 * Used for filter.d and action.d files; interpolation and tags are in
 * ini_interp.c.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/util.h"
#include "warden/ini.h"

#define MAXFILE (4 << 20)
#define MAXINCLUDE 8		/* nested [INCLUDES] */
#define bstr(b) ((b)->data ? (b)->data : "")

/* "path:line: msg" into err. */
static void ini_fail(char *err, size_t errlen, const char *path, int line, const char *msg)
{
	if (snprintf(err, errlen, "%s:%d: %s", path, line, msg) >= (int)errlen)
		err[errlen - 1] = '\0';
}

struct ini_opt *ini_get(const struct ini *ini, const char *sec, const char *key)
{
	for (int i = ini->n - 1; i >= 0; i--)
		if (strcmp(ini->o[i].sec, sec) == 0 && (ini->icase ?
		    strcasecmp(ini->o[i].key, key) : strcmp(ini->o[i].key, key)) == 0)
			return (struct ini_opt *)&ini->o[i];
	return NULL;
}

void ini_set(struct ini *ini, const char *sec, const char *key,
    const char *val, const char *file, int line)
{
	struct ini_opt *o = ini_get(ini, sec, key);
	if (o == NULL) {
		int max = ini->max == 0 ? INI_MAXOPT : ini->max;
		if (max > 0 && ini->n >= max)
			return;
		if (ini->n == ini->cap) {
			ini->cap = ini->cap ? 2 * ini->cap : 32;
			ini->o = xrealloc(ini->o, (size_t)ini->cap * sizeof(*ini->o));
		}
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

void ini_free(struct ini *ini)
{
	for (int i = 0; i < ini->n; i++) {
		free(ini->o[i].sec);
		free(ini->o[i].key);
		free(ini->o[i].val);
		free(ini->o[i].file);
	}
	free(ini->o);
	ini->o = NULL;
	ini->n = ini->cap = 0;
}

int ini_read_file(const char *path, char **text, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "r");
	if (fp == NULL) {
		if (errno == ENOENT)
			return 0;
		ini_fail(err, errlen, path, 0, strerror(errno));
		return -1;
	}
	struct buf b;
	char chunk[8192];
	size_t n;
	buf_init(&b, MAXFILE);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		if (buf_append(&b, chunk, n) < 0) {
			ini_fail(err, errlen, path, 0, "file too large");
			fclose(fp);
			buf_free(&b);
			return -1;
		}
	int bad = ferror(fp);
	fclose(fp);
	if (bad) {
		ini_fail(err, errlen, path, 0, "read error");
		buf_free(&b);
		return -1;
	}
	*text = xstrdup(bstr(&b));
	buf_free(&b);
	return 1;
}

/* The text of dir/file (dir NULL: built-in) into *text; 1, 0 absent, -1. */
static int fetch(const char *(*builtin)(const char *), const char *dir, const char *file,
    char **text, char *path, size_t plen, char *err, size_t errlen)
{
	if (dir == NULL) {
		const char *t = builtin(file);
		if (t == NULL)
			return 0;
		if (snprintf(path, plen, "built-in:%s", file) >= (int)plen)
			return 0;
		*text = xstrdup(t);
		return 1;
	}
	int r = file[0] == '/' ? snprintf(path, plen, "%s", file) :
	    snprintf(path, plen, "%s/%s", dir, file);
	if (r < 0 || (size_t)r >= plen || access(path, R_OK) != 0)
		return 0;
	return ini_read_file(path, text, err, errlen);
}

static int read_text(struct ini *ini, const struct ini_src *src, int from,
    const char *path, char *text, int depth, char *err, size_t errlen);

/* After an included X.conf, its X.local when that file exists, as
 * fail2ban's _expandConfFilesWithLocal does (Debian's paths-debian.local). */
static int include_local(struct ini *ini, const struct ini_src *src, int from,
    const char *path, int depth, char *err, size_t errlen)
{
	size_t n = strlen(path);
	char local[4096], lpath[4096], *text = NULL;
	if (n < 5 || strcmp(path + n - 5, ".conf") != 0 ||
	    snprintf(local, sizeof(local), "%.*s.local", (int)(n - 5), path) >= (int)sizeof(local))
		return 0;
	int r = fetch(src->builtin, "/", local, &text, lpath, sizeof(lpath), err, errlen);
	if (r <= 0)
		return r;
	r = read_text(ini, src, from, lpath, text, depth + 1, err, errlen);
	free(text);
	return r;
}

/* An include: looked up from dir index `from` on, then built-in. */
static int include_one(struct ini *ini, const struct ini_src *src, int from,
    const char *file, int depth, char *err, size_t errlen)
{
	int nd = 0;
	while (src->dirs && src->dirs[nd])
		nd++;
	for (int i = from; i <= nd; i++) {
		const char *dir = i < nd ? src->dirs[i] : NULL;
		char path[4096], *text = NULL;
		if (dir == NULL && src->builtin == NULL)
			break;
		int r = fetch(src->builtin, dir, file, &text, path, sizeof(path), err, errlen);
		if (r < 0)
			return -1;
		if (r == 0)
			continue;
		r = read_text(ini, src, i, path, text, depth + 1, err, errlen);
		free(text);
		if (r == 0 && dir != NULL)
			r = include_local(ini, src, i, path, depth, err, errlen);
		return r;
	}
	const char *base = strrchr(file, '/');
	if (base && base[1])	/* "../../config/filter.d/common.conf" */
		return include_one(ini, src, from, base + 1, depth, err, errlen);
	return 0;	/* a missing include is skipped, as fail2ban does */
}

static int includes(struct ini *ini, const struct ini_src *src, int from,
    const char *list, int depth, char *err, size_t errlen)
{
	char *copy = xstrdup(list), *save = NULL;
	int rc = 0;
	for (char *w = strtok_r(copy, " \t\n", &save); w && rc == 0;
	    w = strtok_r(NULL, " \t\n", &save))
		rc = include_one(ini, src, from, w, depth, err, errlen);
	free(copy);
	return rc;
}

/* Parse one file's text (modified in place) into ini, with its includes. */
static int read_text(struct ini *ini, const struct ini_src *src, int from,
    const char *path, char *text, int depth, char *err, size_t errlen)
{
	struct ini own = { .max = ini->max, .icase = ini->icase };
	char sec[128] = "", key[128] = "";
	struct buf val;
	int lno = 0, keyline = 0, rc = 0;
	char *next = text;

	if (depth > MAXINCLUDE) {
		ini_fail(err, errlen, path, 0, "includes nested too deep");
		return -1;
	}
	buf_init(&val, 1 << 20);
	for (;;) {
		char *line = NULL;
		int cont = 0;
		if (next) {
			line = next;
			next = strchr(next, '\n');
			if (next)
				*next++ = '\0';
			else if (*line == '\0')
				line = NULL;
		}
		if (line) {
			lno++;
			line[strcspn(line, "\r")] = '\0';
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
		if (!line)
			break;
		char *t = str_trim(line);
		if (*t == '[') {
			char *e = strchr(t, ']');
			if (e == NULL) {
				ini_fail(err, errlen, path, lno, "section header without ]");
				rc = -1;
				break;
			}
			*e = '\0';
			str_copy(sec, sizeof(sec), t + 1);
			continue;
		}
		size_t kl = strcspn(t, "=:");
		if (t[kl] == '\0' || sec[0] == '\0') {
			ini_fail(err, errlen, path, lno, "expected key = value");
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
	buf_free(&val);
	if (rc == 0) {
		struct ini_opt *b = ini_get(&own, "INCLUDES", "before");
		if (b)
			rc = includes(ini, src, from, b->val, depth, err, errlen);
	}
	for (int i = 0; rc == 0 && i < own.n; i++) {
		struct ini_opt *o = &own.o[i], *old;
		if (strcmp(o->sec, "INCLUDES") == 0)
			continue;
		/* an overridden value stays reachable as %(known/key)s */
		if ((old = ini_get(ini, o->sec, o->key)) != NULL &&
		    strncmp(o->sec, "KNOWN/", 6) != 0) {
			char ks[160];
			if (snprintf(ks, sizeof(ks), "KNOWN/%s", o->sec) < (int)sizeof(ks))
				ini_set(ini, ks, o->key, old->val, old->file, old->line);
		}
		ini_set(ini, o->sec, o->key, o->val, o->file, o->line);
	}
	if (rc == 0) {
		struct ini_opt *a = ini_get(&own, "INCLUDES", "after");
		if (a)
			rc = includes(ini, src, from, a->val, depth, err, errlen);
	}
	ini_free(&own);
	return rc;
}

int ini_read_name(struct ini *ini, const struct ini_src *src, const char *name,
    char *where, size_t wlen, char *err, size_t errlen)
{
	size_t nl = strlen(name);
	int nd = 0;

	if (nl > 5 && strcmp(name + nl - 5, ".conf") == 0)
		nl -= 5;
	else if (nl > 6 && strcmp(name + nl - 6, ".local") == 0)
		nl -= 6;
	while (src->dirs && src->dirs[nd])
		nd++;
	for (int i = 0; i <= nd; i++) {
		const char *dir = i < nd ? src->dirs[i] : NULL;
		char file[1100], path[4096], *text = NULL;
		if (dir == NULL && src->builtin == NULL)
			break;
		if (snprintf(file, sizeof(file), "%.*s.conf", (int)nl, name) >= (int)sizeof(file))
			return 0;
		int r = fetch(src->builtin, dir, file, &text, path, sizeof(path), err, errlen);
		if (r <= 0) {
			if (r < 0)
				return -1;
			continue;
		}
		str_copy(where, wlen, dir ? dir : "");
		r = read_text(ini, src, i, path, text, 0, err, errlen);
		free(text);
		if (r < 0)
			return -1;
		if (snprintf(file, sizeof(file), "%.*s.local", (int)nl, name) >= (int)sizeof(file))
			return 1;
		r = fetch(src->builtin, dir, file, &text, path, sizeof(path), err, errlen);
		if (r < 0)
			return -1;
		if (r > 0) {
			r = read_text(ini, src, i, path, text, 0, err, errlen);
			free(text);
			if (r < 0)
				return -1;
		}
		return 1;
	}
	return 0;
}

int ini_read_text(struct ini *ini, const struct ini_src *src, const char *path,
    char *text, char *err, size_t errlen)
{
	return read_text(ini, src, 0, path, text, 0, err, errlen);
}
