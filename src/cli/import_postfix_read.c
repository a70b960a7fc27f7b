/*
 * import_postfix_read — read Postfix's main.cf and master.cf as Postfix
 * does, for `mailwarden import-postfix`: logical lines (a line starting
 * with white space continues the previous one, # starts a comment),
 * main.cf's "key = value" with the last definition winning and $name
 * references kept as written (postconf -n), master.cf's eight columns
 * and its -o key=value overrides. Nothing is interpreted here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/import_postfix.h"
#include "common/buf.h"
#include "common/util.h"

#define IPF_VALUE_MAX	(256 * 1024)

/* A logical line and the number of its first physical line. */
typedef void ipf_line_fn(struct ipf *p, char *text, int line);

/* Call fn for each logical line of path; -1 (errno) if it cannot be read. */
static int read_logical(struct ipf *p, const char *path, ipf_line_fn *fn)
{
	FILE *fp = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	struct buf cur;
	int lineno = 0, first = 0;

	if (fp == NULL)
		return -1;
	buf_init(&cur, IPF_VALUE_MAX);
	buf_puts(&cur, "");
	while (getline(&line, &cap, fp) >= 0) {
		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		char *s = line + strspn(line, " \t");
		if (*s == '\0' || *s == '#')
			continue;
		if (s != line && cur.len > 0) {	/* continues the logical line */
			buf_puts(&cur, " ");
			buf_puts(&cur, str_trim(s));
			continue;
		}
		if (cur.len > 0)
			fn(p, cur.data, first);
		buf_reset(&cur);
		buf_puts(&cur, str_trim(s));
		first = lineno;
	}
	if (cur.len > 0)
		fn(p, cur.data, first);
	int rc = ferror(fp) ? -1 : 0;
	buf_free(&cur);
	free(line);
	fclose(fp);
	return rc;
}

/* main.cf: "key = value"; a later definition replaces an earlier one. */
static void main_line(struct ipf *p, char *text, int line)
{
	char *eq = strchr(text, '=');
	if (eq == NULL)
		return;		/* Postfix refuses it too; nothing to import */
	*eq = '\0';
	char *key = str_trim(text), *value = str_trim(eq + 1);
	for (size_t i = 0; i < p->nmain; i++) {
		if (strcmp(p->main[i].key, key) == 0) {
			free(p->main[i].value);
			p->main[i].value = xstrdup(value);
			p->main[i].line = line;
			return;
		}
	}
	p->main = xrealloc(p->main, (p->nmain + 1) * sizeof(*p->main));
	p->main[p->nmain++] = (struct ipf_kv){ xstrdup(key), xstrdup(value), line };
}

/* An -o key=value of a service (from -o { key = value }: white space
 * around the key and the value dropped, as Postfix does). */
static void add_opt(struct ipf_service *s, char *kv, int line)
{
	char *eq = strchr(kv, '=');
	if (eq != NULL)
		*eq = '\0';
	s->opts = xrealloc(s->opts, (s->nopts + 1) * sizeof(*s->opts));
	s->opts[s->nopts++] = (struct ipf_kv){ xstrdup(str_trim(kv)),
	    xstrdup(eq ? str_trim(eq + 1) : ""), line };
}

/* The next argument of a master.cf command at *pos: a word, or (Postfix
 * 3.0) { text } that keeps its white space, returned without the braces
 * and the space at its ends (*braced set); NULL at the end of the line. */
static char *next_arg(char **pos, int *braced)
{
	char *s = *pos + strspn(*pos, " \t");
	*braced = *s == '{';
	if (*s == '\0') {
		*pos = s;
		return NULL;
	}
	if (*braced) {
		int depth = 0;
		char *e = s;
		for (; *e; e++)
			if (*e == '{')
				depth++;
			else if (*e == '}' && --depth == 0)
				break;
		*pos = *e ? e + 1 : e;	/* an unclosed brace: the rest of the line */
		*e = '\0';
		return str_trim(s + 1);
	}
	char *e = s + strcspn(s, " \t");
	*pos = *e ? e + 1 : e;
	*e = '\0';
	return s;
}

/* master.cf: service type private unpriv chroot wakeup maxproc command args. */
static void master_line(struct ipf *p, char *text, int line)
{
	char *save = NULL, *col[8];
	int n = 0;

	char *t = strtok_r(text, " \t", &save);
	while (t != NULL && n < 8) {
		col[n++] = t;
		if (n < 8)
			t = strtok_r(NULL, " \t", &save);
	}
	if (n < 8)
		return;		/* not a service entry Postfix would run */
	p->svc = xrealloc(p->svc, (p->nsvc + 1) * sizeof(*p->svc));
	struct ipf_service *s = &p->svc[p->nsvc++];
	memset(s, 0, sizeof(*s));
	s->name = xstrdup(col[0]);
	s->type = xstrdup(col[1]);
	s->command = xstrdup(col[7]);
	s->line = line;
	struct buf args;
	buf_init(&args, IPF_VALUE_MAX);
	buf_puts(&args, "");
	char *pos = save != NULL ? save : text + strlen(text);
	int braced;
	while ((t = next_arg(&pos, &braced)) != NULL) {
		if (!braced && strcmp(t, "-o") == 0) {
			char *kv = next_arg(&pos, &braced);
			if (kv != NULL)
				add_opt(s, kv, line);
		} else if (!braced && strncmp(t, "-o", 2) == 0) {
			add_opt(s, t + 2, line);
		} else {
			buf_printf(&args, braced ? "%s{ %s }" : "%s%s", args.len ? " " : "", t);
		}
	}
	s->args = xstrdup(args.data);
	buf_free(&args);
}

int ipf_read(struct ipf *p, char *err, size_t errlen)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/main.cf", p->dir);
	if (read_logical(p, path, main_line) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/master.cf", p->dir);
	if (read_logical(p, path, master_line) < 0) {
		if (errno != ENOENT) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			return -1;
		}
		char smtp[] = "smtp inet n - y - - smtpd";	/* Postfix without master.cf */
		master_line(p, smtp, 0);
	}
	return 0;
}

const char *ipf_main_get(const struct ipf *p, const char *key)
{
	for (size_t i = 0; i < p->nmain; i++)
		if (strcmp(p->main[i].key, key) == 0)
			return p->main[i].value;
	return NULL;
}

int ipf_report(struct ipf *p, enum ipf_verdict v, const char *where, const char *what,
    const char *why)
{
	p->reps = xrealloc(p->reps, (p->nreps + 1) * sizeof(*p->reps));
	p->reps[p->nreps] = (struct ipf_rep){ v, xstrdup(where), xstrdup(what),
	    xstrdup(why ? why : "") };
	return (int)p->nreps++;
}

void ipf_emit(struct ipf *p, const char *text, int rep)
{
	p->lines = xrealloc(p->lines, (p->nlines + 1) * sizeof(*p->lines));
	p->lines[p->nlines++] = (struct ipf_line){ xstrdup(text), rep };
}

void ipf_free(struct ipf *p)
{
	for (size_t i = 0; i < p->nmain; i++) {
		free(p->main[i].key);
		free(p->main[i].value);
	}
	for (size_t i = 0; i < p->nsvc; i++) {
		struct ipf_service *s = &p->svc[i];
		for (size_t k = 0; k < s->nopts; k++) {
			free(s->opts[k].key);
			free(s->opts[k].value);
		}
		free(s->opts);
		free(s->name);
		free(s->type);
		free(s->command);
		free(s->args);
	}
	for (size_t i = 0; i < p->nreps; i++) {
		free(p->reps[i].where);
		free(p->reps[i].what);
		free(p->reps[i].why);
	}
	for (size_t i = 0; i < p->nlines; i++)
		free(p->lines[i].text);
	free(p->main);
	free(p->svc);
	free(p->reps);
	free(p->lines);
}
