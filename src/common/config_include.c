/*
 * config_include — the jail files mailwarden.conf pulls in, as fail2ban
 * splits jails over files: [INCLUDES] before/after and jail.d/. For
 * config.c's load only; these files hold [sections], never main.cf keys.
 */
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/config.h"
#include "common/config_int.h"
#include "common/util.h"


/* Read one included file's sections (appended to cfg->sections). */
static int read_included(struct config *cfg, const char *file, char *err, size_t errlen)
{
	FILE *fp = fopen(file, "r");
	if (fp == NULL) {
		snprintf(err, errlen, "%s: cannot open: %s", file, strerror(errno));
		return -1;
	}
	char *name = xstrdup(file);
	cfg->cur = name;
	int rc = config_read_file(cfg, fp, err, errlen);
	fclose(fp);
	cfg->cur = cfg->path;
	free(name);
	return rc;
}

/* Read the files a pattern names (glob, sorted; relative to the main
 * file's directory). A pattern without glob characters must exist. */
static int read_pattern(struct config *cfg, const char *pat, int must, char *err,
    size_t errlen)
{
	char path[4096];
	const char *slash = strrchr(cfg->path, '/');
	if (pat[0] == '/' || slash == NULL)
		snprintf(path, sizeof(path), "%s", pat);
	else
		snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - cfg->path), cfg->path, pat);
	glob_t g;
	int grc = glob(path, 0, NULL, &g);
	if (grc == GLOB_NOMATCH) {
		globfree(&g);
		if (must && strpbrk(pat, "*?[") == NULL) {
			snprintf(err, errlen, "%s: cannot open: %s", path, strerror(ENOENT));
			return -1;
		}
		return 0;
	}
	int rc = grc == 0 ? 0 : -1;
	if (rc < 0)
		snprintf(err, errlen, "%s: cannot read the directory", path);
	for (size_t i = 0; rc == 0 && i < g.gl_pathc; i++)
		rc = read_included(cfg, g.gl_pathv[i], err, errlen);
	globfree(&g);
	return rc;
}

/* The patterns of [INCLUDES] KEY (before or after) in the main file. */
static int read_includes_key(struct config *cfg, size_t nmain, const char *key, char *err,
    size_t errlen)
{
	/* reading a file grows cfg->sections: index it afresh each time */
	for (size_t i = 0; i < nmain; i++) {
		if (strcmp(cfg->sections[i].name, "INCLUDES") != 0)
			continue;
		for (size_t k = 0; k < cfg->sections[i].nkv; k++) {
			const struct config_kv *e = &cfg->sections[i].kv[k];
			if (strcasecmp(e->key, key) != 0)
				continue;
			char *v = xstrdup(e->value), *save = NULL;
			int rc = 0;
			for (char *t = strtok_r(v, " \t\n", &save); t && rc == 0;
			    t = strtok_r(NULL, " \t\n", &save))
				rc = read_pattern(cfg, t, 1, err, errlen);
			free(v);
			if (rc < 0)
				return -1;
		}
	}
	return 0;
}

/*
 * fail2ban's way of splitting jails over files: [INCLUDES] before = and
 * after = in the main file (globs allowed, relative to its directory),
 * then jail.d/ *.conf and jail.d/ *.local next to it, as fail2ban reads
 * jail.d. Sections from "before" files come first, so the main file's
 * definitions win over them; the others come after and win.
 */
int config_read_includes(struct config *cfg, char *err, size_t errlen)
{
	size_t nmain = cfg->nsections;
	cfg->cur = cfg->path;
	if (config_keep_going(cfg, read_includes_key(cfg, nmain, "before", err, errlen), err) < 0)
		return -1;
	size_t nbefore = cfg->nsections - nmain;
	if (config_keep_going(cfg, read_includes_key(cfg, nmain, "after", err, errlen), err) < 0 ||
	    config_keep_going(cfg, read_pattern(cfg, "jail.d/*.conf", 0, err, errlen), err) < 0 ||
	    config_keep_going(cfg, read_pattern(cfg, "jail.d/*.local", 0, err, errlen), err) < 0)
		return -1;
	if (nbefore > 0) {	/* rotate: before-files' sections ahead of the main file's */
		struct config_section *tmp = xmalloc(nmain * sizeof(*tmp));
		memcpy(tmp, cfg->sections, nmain * sizeof(*tmp));
		memmove(cfg->sections, cfg->sections + nmain, nbefore * sizeof(*tmp));
		memcpy(cfg->sections + nbefore, tmp, nmain * sizeof(*tmp));
		free(tmp);
	}
	return 0;
}
