/*
 * useracl — user access lists in Postfix's syntax (see useracl.h), as
 * Postfix's match_list with MATCH_FLAG_RETURN: a "!" item that matches
 * denies, a plain one allows, the first match decides.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/map.h"
#include "common/useracl.h"
#include "common/util.h"

#define USERACL_FILE_DEPTH 2	/* /file/name inside /file/name */

struct acl_item {
	int negate;
	char *name;		/* a login name, or NULL: */
	struct map *map;	/* a lookup table */
};

struct useracl {
	struct acl_item *items;
	size_t n;
};

static int add_items(struct useracl *acl, const char *value, int depth, char *err, size_t errlen);

/* "/file/name": every item of the file, in order. */
static int add_file(struct useracl *acl, const char *path, int negate, int depth,
    char *err, size_t errlen)
{
	char line[1024];
	FILE *fp;
	int rc = 0;

	if (negate) {	/* "!/file" would negate each item: keep it simple, refuse */
		snprintf(err, errlen, "'!%s': negated files are not supported", path);
		return -1;
	}
	if (depth >= USERACL_FILE_DEPTH) {
		snprintf(err, errlen, "%s: files nested too deep", path);
		return -1;
	}
	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	while (rc == 0 && fgets(line, sizeof(line), fp) != NULL) {
		char *s = str_trim(line);
		if (*s != '\0' && *s != '#')
			rc = add_items(acl, s, depth + 1, err, errlen);
	}
	fclose(fp);
	return rc;
}

static int add_item(struct useracl *acl, const char *tok, int depth, char *err, size_t errlen)
{
	struct acl_item it = { 0 };

	if (*tok == '!') {
		it.negate = 1;
		tok++;
	}
	if (*tok == '/')
		return add_file(acl, tok, it.negate, depth, err, errlen);
	if (*tok == '\0') {
		snprintf(err, errlen, "'!' without a name");
		return -1;
	}
	if (strchr(tok, ':') != NULL) {
		char why[512];
		if ((it.map = map_open(tok, 0, why, sizeof(why))) == NULL) {
			snprintf(err, errlen, "%s", why);
			return -1;
		}
	} else {
		it.name = xstrdup(tok);
	}
	acl->items = xrealloc(acl->items, (acl->n + 1) * sizeof(*acl->items));
	acl->items[acl->n++] = it;
	return 0;
}

static int add_items(struct useracl *acl, const char *value, int depth, char *err, size_t errlen)
{
	char **toks = config_list(value);
	int rc = 0;

	for (size_t i = 0; rc == 0 && toks[i] != NULL; i++)
		rc = add_item(acl, toks[i], depth, err, errlen);
	config_list_free(toks);
	return rc;
}

struct useracl *useracl_open(const char *value, char *err, size_t errlen)
{
	struct useracl *acl = xcalloc(1, sizeof(*acl));

	if (add_items(acl, value, 0, err, errlen) < 0) {
		useracl_free(acl);
		return NULL;
	}
	return acl;
}

int useracl_match(const struct useracl *acl, const char *name)
{
	for (size_t i = 0; acl != NULL && i < acl->n; i++) {
		const struct acl_item *it = &acl->items[i];
		int hit = it->name ? strcmp(it->name, name) == 0 : map_lookup(it->map, name) != NULL;
		if (hit)
			return !it->negate;
	}
	return 0;
}

void useracl_free(struct useracl *acl)
{
	if (acl == NULL)
		return;
	for (size_t i = 0; i < acl->n; i++) {
		free(acl->items[i].name);
		map_free(acl->items[i].map);
	}
	free(acl->items);
	free(acl);
}
