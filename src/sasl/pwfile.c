/*
 * pwfile — the passwd-file backend: a Dovecot passwd-file
 * (user:{SCHEME}hash[:uid:gid:gecos:home:shell:extra]) read whole at
 * open, before chroot, into a sorted table. Logins are lowercased before
 * the lookup (Dovecot's default auth_username_format = %Lu); the file's
 * names are lowercased too. Verification runs on the worker pool; an
 * unknown user is checked against a dummy hash so that the answer takes
 * as long as for a real one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "sasl/sasl_int.h"

#define PWFILE_MAX_LINE 4096

int sasl_pwfile_threads = 2;
size_t sasl_pwfile_max_pending = 1024;

struct pwentry {
	char *user;
	char *field;			/* the password field as written */
	const struct pwscheme *sc;
	const char *hash;		/* inside field */
	size_t lineno;
};

struct pwfile {
	struct pwentry *e;
	size_t n;
	const struct pwscheme *dummy_sc;
	const char *dummy_hash;
	struct sasl_pool *pool;
};

static int entry_cmp(const void *a, const void *b)
{
	const struct pwentry *x = a, *y = b;
	int c = strcmp(x->user, y->user);
	if (c)
		return c;
	return x->lineno < y->lineno ? -1 : x->lineno > y->lineno;
}

static void pwfile_free(struct pwfile *pf)
{
	sasl_pool_free(pf->pool);	/* first: its workers read the table */
	for (size_t i = 0; i < pf->n; i++) {
		free(pf->e[i].user);
		explicit_bzero(pf->e[i].field, strlen(pf->e[i].field));
		free(pf->e[i].field);
	}
	free(pf->e);
	free(pf);
}

/* Parse one non-comment line into pf; -1 with a message. */
static int parse_line(struct pwfile *pf, char *line, size_t lineno, char *msg, size_t msglen)
{
	char *colon = strchr(line, ':');
	if (colon == NULL) {
		snprintf(msg, msglen, "missing ':' after the user name");
		return -1;
	}
	*colon = '\0';
	char *user = line, *field = colon + 1;
	field[strcspn(field, ":")] = '\0';	/* uid, gid, ... are not used */
	if (*user == '\0' || strlen(user) > SASL_MAX_USER) {
		snprintf(msg, msglen, "empty or overlong user name");
		return -1;
	}
	if (strpbrk(user, " \t") != NULL) {
		snprintf(msg, msglen, "white space in user name '%.64s'", user);
		return -1;
	}
	const struct pwscheme *sc;
	const char *hash;
	char why[160];
	if (pwscheme_parse(field, &sc, &hash, why, sizeof(why)) < 0) {
		snprintf(msg, msglen, "user %.64s: %.160s", user, why);
		return -1;
	}
	pf->e = xrealloc(pf->e, (pf->n + 1) * sizeof(*pf->e));
	struct pwentry *e = &pf->e[pf->n++];
	e->user = str_lower(xstrdup(user));
	e->field = xstrdup(field);
	e->sc = sc;
	e->hash = e->field + (hash - field);
	e->lineno = lineno;
	return 0;
}

static int pwfile_load(struct pwfile *pf, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t len;
	int rc = 0;
	while ((len = getline(&line, &cap, f)) >= 0) {
		char msg[320];
		lineno++;
		if (len > PWFILE_MAX_LINE) {
			snprintf(err, errlen, "%s:%zu: line longer than %d bytes", path, lineno, PWFILE_MAX_LINE);
			rc = -1;
			break;
		}
		line[strcspn(line, "\r\n")] = '\0';
		char *p = str_trim(line);
		if (*p == '\0' || *p == '#')
			continue;
		if (parse_line(pf, p, lineno, msg, sizeof(msg)) < 0) {
			snprintf(err, errlen, "%s:%zu: %s", path, lineno, msg);
			rc = -1;
			break;
		}
	}
	if (rc == 0 && ferror(f)) {
		snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
		rc = -1;
	}
	if (line) {
		explicit_bzero(line, cap);
		free(line);
	}
	fclose(f);
	return rc;
}

static const struct pwentry *pwfile_find(const struct pwfile *pf, const char *user)
{
	size_t lo = 0, hi = pf->n;
	while (lo < hi) {		/* the first entry of that name */
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(pf->e[mid].user, user) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < pf->n && strcmp(pf->e[lo].user, user) == 0 ? &pf->e[lo] : NULL;
}

/* Worker thread: the table is read-only after open. */
static void pwfile_work(struct sasl_req *r, void *ctx, void *work)
{
	const struct pwfile *pf = ctx;
	const struct pwentry *e = pwfile_find(pf, r->user);
	if (e == NULL) {
		pwscheme_verify(pf->dummy_sc, pf->dummy_hash, r->pass, work);
		sasl_req_answer(r, SASL_FAIL, "unknown user");
	} else if (pwscheme_verify(e->sc, e->hash, r->pass, work))
		sasl_req_answer(r, SASL_OK, "");
	else
		sasl_req_answer(r, SASL_FAIL, "password mismatch");
}

static struct sasl *pwfile_open(const char *path, char *err, size_t errlen)
{
	struct pwfile *pf = xcalloc(1, sizeof(*pf));
	if (pwfile_load(pf, path, err, errlen) < 0) {
		pwfile_free(pf);
		return NULL;
	}
	qsort(pf->e, pf->n, sizeof(*pf->e), entry_cmp);
	pf->dummy_sc = pwscheme_find("PLAIN");
	pf->dummy_hash = "";
	for (size_t i = 0; i < pf->n; i++)	/* the first crypt hash of the file */
		if (pf->e[i].sc->is_crypt) {
			pf->dummy_sc = pf->e[i].sc;
			pf->dummy_hash = pf->e[i].hash;
			break;
		}
	pf->pool = sasl_pool_new(sasl_pwfile_threads, sasl_pwfile_max_pending, pwfile_work, pf);
	struct sasl *s = xcalloc(1, sizeof(*s));
	s->be = &sasl_pwfile_backend;
	s->impl = pf;
	return s;
}

static void pwfile_check(struct sasl *s, struct sasl_req *r)
{
	struct pwfile *pf = s->impl;
	str_lower(r->user);
	if (strlen(r->user) > SASL_MAX_USER || strlen(r->pass) > SASL_MAX_PASS)
		r->user[0] = '\0';	/* no such user; still costs a hash */
	sasl_pool_submit(pf->pool, r);
}

static void pwfile_cancel(struct sasl *s, struct sasl_req *r)
{
	sasl_pool_cancel(((struct pwfile *)s->impl)->pool, r);
}

static void pwfile_close(struct sasl *s)
{
	pwfile_free(s->impl);
	free(s);
}

const struct sasl_backend sasl_pwfile_backend = {
	"passwd-file", pwfile_open, pwfile_check, pwfile_cancel, pwfile_close,
};
