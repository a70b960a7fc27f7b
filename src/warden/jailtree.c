/*
 * jailtree — fail2ban's configuration tree as one ini table (see
 * jailtree.h), read in fail2ban-server 1.0.2's order (its
 * configreader.py ConfigReaderUnshared.read: NAME.conf, NAME.d/ *.conf
 * sorted, NAME.local, NAME.d/ *.local sorted; each file's [INCLUDES]
 * before/after read around it, configparserinc.py), and mailwarden.conf's
 * sections merged over it. Used by jailconf_load() (the jails) and the
 * warden's start (logtarget, dbfile, dbpurgeage).
 */
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/util.h"
#include "warden/ini.h"
#include "warden/jail.h"
#include "warden/jailtree.h"

void jailtree_sections(const struct config_section *const *secs, size_t nsecs,
    struct ini *ini)
{
	for (size_t i = 0; i < nsecs; i++) {
		const struct config_section *s = secs[i];
		if (ini_get(ini, s->name, JAILTREE_HEADER) == NULL)
			ini_set(ini, s->name, JAILTREE_HEADER, "", s->file, s->line);
		for (size_t k = 0; k < s->nkv; k++) {
			const struct ini_opt *old = ini_get(ini, s->name, s->kv[k].key);
			char ks[160];
			/* as a .local over a .conf: the tree's value is %(known/x)s */
			if (old && strcmp(old->file, s->file) != 0 &&
			    snprintf(ks, sizeof(ks), "KNOWN/%s", s->name) < (int)sizeof(ks))
				ini_set(ini, ks, old->key, old->val, old->file, old->line);
			ini_set(ini, s->name, s->kv[k].key, s->kv[k].value, s->file, s->kv[k].line);
		}
	}
}

/* One file of the tree into ini; its includes are looked up in its own
 * directory (fail2ban: relative to the including file), then in dir. */
static int read_one(const char *dir, const char *path, struct ini *ini, char *err,
    size_t errlen)
{
	const char *slash = strrchr(path, '/');
	char *own = slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup(".");
	const char *const dirs[] = { own, dir, NULL };
	const struct ini_src src = { dirs, NULL };
	char *text;
	int rc = ini_read_file(path, &text, err, errlen);
	if (rc > 0) {
		rc = ini_read_text(ini, &src, path, text, err, errlen);
		free(text);
	}
	free(own);
	return rc;
}

/* dir/NAME.d/ *.SFX, sorted (glob's order). */
static int read_glob(const char *dir, const char *name, const char *sfx, struct ini *ini,
    char *err, size_t errlen)
{
	char pat[4200];
	glob_t g;
	int rc = 0;
	if (snprintf(pat, sizeof(pat), "%s/%s.d/*%s", dir, name, sfx) >= (int)sizeof(pat)) {
		snprintf(err, errlen, "%s: path too long", dir);
		return -1;
	}
	if (glob(pat, 0, NULL, &g) != 0)
		return 0;	/* no match, or no such directory */
	for (size_t i = 0; i < g.gl_pathc && rc == 0; i++)
		rc = read_one(dir, g.gl_pathv[i], ini, err, errlen) < 0 ? -1 : 0;
	globfree(&g);
	return rc;
}

/* NAME.conf, NAME.d/ *.conf, NAME.local, NAME.d/ *.local; 0 or -1. */
static int read_name(const char *dir, const char *name, struct ini *ini, char *err,
    size_t errlen)
{
	static const char *const sfx[] = { ".conf", ".local" };
	for (size_t i = 0; i < 2; i++) {
		char path[4200];
		if (snprintf(path, sizeof(path), "%s/%s%s", dir, name, sfx[i]) >= (int)sizeof(path)) {
			snprintf(err, errlen, "%s: path too long", dir);
			return -1;
		}
		if (read_one(dir, path, ini, err, errlen) < 0 ||
		    read_glob(dir, name, sfx[i], ini, err, errlen) < 0)
			return -1;
	}
	return 0;
}

int jailtree_read(const char *dir, struct ini *ini, char *err, size_t errlen)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/jail.conf", dir);
	FILE *fp = fopen(path, "r");
	if (fp == NULL) {	/* fail2ban: "Found no accessible config files" */
		snprintf(err, errlen, "warden_fail2ban_config = %s: %s: %s", dir, path,
		    strerror(errno));
		return -1;
	}
	fclose(fp);
	return read_name(dir, "jail", ini, err, errlen);
}

int jailtree_load(const struct config *cfg, const struct config_section *const *secs,
    size_t nsecs, struct ini *ini, char **tree, char *err, size_t errlen)
{
	const char *dir = config_get(cfg, "warden_fail2ban_config");
	memset(ini, 0, sizeof(*ini));
	ini->max = -1;
	ini->icase = 1;
	*tree = NULL;
	if (dir && *dir) {
		size_t n = strlen(dir);
		while (n > 1 && dir[n - 1] == '/')
			n--;
		*tree = xstrndup(dir, n);
		if (jailtree_read(*tree, ini, err, errlen) < 0) {
			ini_free(ini);
			free(*tree);
			*tree = NULL;
			return -1;
		}
		/* as fail2ban's jailreader merges them into [DEFAULT] */
		char where[4200];
		snprintf(where, sizeof(where), "%s/jail.conf", *tree);
		ini_set(ini, "DEFAULT", "fail2ban_version", "1.0.2", where, 0);
		ini_set(ini, "DEFAULT", "fail2ban_confpath", *tree, where, 0);
	}
	jailtree_sections(secs, nsecs, ini);
	return 0;
}

int jailtree_globals(const char *dir, struct jailtree_globals *g, char *err, size_t errlen)
{
	static const char *const keys[] = { "logtarget", "dbfile", "dbpurgeage" };
	char **out[] = { &g->logtarget, &g->dbfile, &g->dbpurgeage };
	struct ini ini = { .max = -1 };

	memset(g, 0, sizeof(*g));
	if (read_name(dir, "fail2ban", &ini, err, errlen) < 0) {
		ini_free(&ini);
		return -1;
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++) {
		const struct ini_opt *o = ini_get(&ini, "Definition", keys[i]);
		if (o == NULL)
			o = ini_get(&ini, "DEFAULT", keys[i]);
		if (o) {
			char *v = xstrdup(o->val);
			*out[i] = xstrdup(str_trim(v));
			free(v);
		}
	}
	ini_free(&ini);
	return 0;
}

void jailtree_globals_free(struct jailtree_globals *g)
{
	free(g->logtarget);
	free(g->dbfile);
	free(g->dbpurgeage);
	memset(g, 0, sizeof(*g));
}

const char *jailtree_logtarget(const char *t)
{
	static const char *const names[] = { "SYSLOG", "SYSTEMD-JOURNAL", "STDOUT", "STDERR" };
	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
		if (str_ieq(t, names[i]))
			return "maillog";
	return t;
}

char **jailtree_dirs(const struct jail *j, const char *sub, const char *const *rest)
{
	size_t n = 0, k = 0;
	while (rest && rest[n])
		n++;
	char **l = xcalloc(n + 2, sizeof(*l));
	if (j->tree) {
		size_t len = strlen(j->tree) + strlen(sub) + 2;
		l[k] = xmalloc(len);
		snprintf(l[k++], len, "%s/%s", j->tree, sub);
	}
	for (size_t i = 0; i < n; i++)
		l[k++] = xstrdup(rest[i]);
	return l;
}
