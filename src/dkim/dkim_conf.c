/*
 * dkim_conf — which keys sign which mail: the short form (dkim_selector
 * + dkim_key_directory: DIR/DOMAIN/SELECTOR.key) or OpenDKIM's KeyTable
 * and SigningTable as mailwarden maps. The master loads the keys (root,
 * before any child exists) with dkim_conf_load(); the smtp engine and
 * pickup are forked from it and inherit the loaded set in memory, so
 * they never open a key file (they run chrooted as mail_owner). A key
 * file readable by group or others is refused. Signing picks keys by
 * the From header's address, then its domain.
 */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "common/addrlist.h"
#include "common/config.h"
#include "common/map.h"
#include "common/util.h"
#include "dkim/dkim_conf.h"
#include "dkim/dkim_int.h"

#define KEYS_MAX 4096

struct dkim_keyset {
	struct dkim_key *k[KEYS_MAX];
	char *name[KEYS_MAX];	/* KeyTable name, or NULL in the short form */
	size_t n;
	struct maplist *signing;	/* SigningTable, or NULL: keys by domain */
};

static struct dkim_keyset *cur;

static void set_free(struct dkim_keyset *ks)
{
	if (ks == NULL)
		return;
	for (size_t i = 0; i < ks->n; i++) {
		dkim_key_free(ks->k[i]);
		free(ks->name[i]);
	}
	if (ks->signing)
		maplist_free(ks->signing);
	free(ks);
}

static int add_key(struct dkim_keyset *ks, const char *path, const char *dom,
    const char *sel, const char *name, char *err, size_t errlen)
{
	if (ks->n == KEYS_MAX) {
		snprintf(err, errlen, "more than %d DKIM keys", KEYS_MAX);
		return -1;
	}
	struct dkim_key *k = dkim_key_load(path, dom, sel, err, errlen);
	if (k == NULL)
		return -1;
	for (char *p = k->domain; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	ks->name[ks->n] = name ? xstrdup(name) : NULL;
	ks->k[ks->n++] = k;
	return 0;
}

/* The short form: every DIR/DOMAIN/SELECTOR.key. */
static int load_dir(struct dkim_keyset *ks, const char *dir, const char *sels, char *err,
    size_t errlen)
{
	DIR *d = opendir(dir);
	if (d == NULL) {
		snprintf(err, errlen, "dkim_key_directory %s: %m", dir);
		return -1;
	}
	struct dirent *de;
	int rc = 0;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		char *list = xstrdup(sels), *save = NULL;
		for (char *sel = strtok_r(list, ", \t", &save); rc == 0 && sel;
		    sel = strtok_r(NULL, ", \t", &save)) {
			char path[4096];
			struct stat st;
			if (snprintf(path, sizeof(path), "%s/%s/%s.key", dir, de->d_name, sel) >=
			    (int)sizeof(path))
				continue;
			if (stat(path, &st) == 0)
				rc = add_key(ks, path, de->d_name, sel, NULL, err, errlen);
		}
		free(list);
	}
	closedir(d);
	return rc;
}

struct kt_walk {
	struct dkim_keyset *ks;
	char *err;
	size_t errlen;
	int rc;
};

/* One KeyTable row: name -> domain:selector:path. */
static void kt_row(const char *key, const char *value, void *arg)
{
	struct kt_walk *w = arg;
	if (w->rc < 0)
		return;
	char *v = xstrdup(value);
	char *c1 = strchr(v, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	if (c2 == NULL) {
		snprintf(w->err, w->errlen, "dkim_key_table %s: not domain:selector:path", key);
		w->rc = -1;
	} else {
		*c1 = *c2 = '\0';
		w->rc = add_key(w->ks, c2 + 1, v, c1 + 1, key, w->err, w->errlen);
	}
	free(v);
}

/* The set a config describes; NULL with err. */
static struct dkim_keyset *set_load(const struct config *cfg, char *err, size_t errlen)
{
	struct dkim_keyset *ks = xcalloc(1, sizeof(*ks));
	const char *kt = config_get(cfg, "dkim_key_table");
	const char *sel = config_get(cfg, "dkim_selector");
	int rc = 0;
	if (kt && *kt) {
		struct map *m = map_open(kt, 0, err, errlen);
		if (m == NULL) {
			set_free(ks);
			return NULL;
		}
		struct kt_walk w = { ks, err, errlen, 0 };
		map_foreach(m, kt_row, &w);
		map_free(m);
		rc = w.rc;
		ks->signing = rc == 0 ? maplist_open(config_get(cfg, "dkim_signing_table"), 0,
		    err, errlen) : NULL;
		if (rc == 0 && ks->signing == NULL)
			rc = -1;
	} else if (sel && *sel) {
		rc = load_dir(ks, config_get(cfg, "dkim_key_directory"), sel, err, errlen);
	}
	if (rc < 0) {
		set_free(ks);
		return NULL;
	}
	return ks;
}

int dkim_conf_check(const struct config *cfg, char *err, size_t errlen)
{
	struct dkim_keyset *ks = set_load(cfg, err, errlen);
	set_free(ks);
	return ks ? 0 : -1;
}

int dkim_conf_load(const struct config *cfg, char *err, size_t errlen)
{
	struct dkim_keyset *ks = set_load(cfg, err, errlen);
	if (ks == NULL)
		return -1;
	set_free(cur);
	cur = ks;
	return 0;
}

void dkim_conf_forget(void)
{
	set_free(cur);
	cur = NULL;
}

size_t dkim_conf_nkeys(void)
{
	return cur ? cur->n : 0;
}

const struct dkim_key *dkim_conf_key(size_t i)
{
	return cur && i < cur->n ? cur->k[i] : NULL;
}

struct first_addr {
	char *a;
	size_t cap;
};

static void take_first(const char *addr, void *arg)
{
	struct first_addr *f = arg;
	if (f->a[0] == '\0')
		snprintf(f->a, f->cap, "%s", addr);
}

/* The From header's (first) address, lowercased, into a (empty when
 * none): display names, quotes and comments as RFC 5322 has them. */
static void from_address(const char *msg, size_t len, char *a, size_t cap)
{
	static struct dkim_msg m;
	a[0] = '\0';
	if (dkim_msg_split(msg, len, &m) < 0)
		return;
	for (size_t i = 0; i < m.nf; i++) {
		if (m.f[i].nlen != 4 || strncasecmp(m.f[i].p, "From", 4) != 0)
			continue;
		struct first_addr f = { a, cap };
		addrlist_each(m.f[i].p + 5, m.f[i].len - 5, take_first, &f);
		str_lower(a);
		return;
	}
}

/* Whether key i signs for address addr (domain dom). */
static int key_wanted(const struct dkim_keyset *ks, size_t i, const char *addr, const char *dom)
{
	if (ks->signing == NULL)
		return strcmp(ks->k[i]->domain, dom) == 0;
	const char *v = maplist_lookup(ks->signing, addr);
	if (v == NULL)
		v = maplist_lookup(ks->signing, dom);
	if (v == NULL || ks->name[i] == NULL)
		return 0;
	size_t nl = strlen(ks->name[i]);
	for (const char *p = v; (p = strstr(p, ks->name[i])) != NULL; p += nl)
		if ((p == v || p[-1] == ',' || p[-1] == ' ') &&
		    (p[nl] == '\0' || p[nl] == ',' || p[nl] == ' '))
			return 1;
	return 0;
}

int dkim_conf_sign(const char *msg, size_t len, time_t now, struct buf *out, char *err,
    size_t errlen)
{
	char addr[512];
	if (cur == NULL || cur->n == 0)
		return 0;
	from_address(msg, len, addr, sizeof(addr));
	const char *at = strrchr(addr, '@');
	if (at == NULL)
		return 0;
	int n = 0;
	for (size_t i = 0; i < cur->n; i++) {
		if (!key_wanted(cur, i, addr, at + 1))
			continue;
		if (dkim_sign(cur->k[i], msg, len, now, out, err, errlen) < 0)
			return -1;
		n++;
	}
	return n;
}
