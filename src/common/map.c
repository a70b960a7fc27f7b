/*
 * map — Postfix-style "type:name" lookup tables, read completely at open
 * into one hash table (open addressing, keys lowercased), so a lookup is
 * O(1) and works after chroot. Text sources: texthash:, and hash:/lmdb:/
 * btree:/dbm:/cdb:/sdbm: read their text source file (binary Postfix
 * databases are refused). Also unix:passwd.byname, static:, inline:{}.
 * cidr:/path holds cidr_table(5) lines ("192.0.2.0/24 REJECT", IPv4 and
 * IPv6, first match wins); map_lookup() on it matches an address key.
 * regexp:/pcre: tables are map_regexp.c's.
 * Also the ordered map lists (maplist) and domain lists (domlist) that
 * Postfix parameters such as alias_maps and mydestination are made of.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/map.h"
#include "common/map_regexp.h"
#include "common/util.h"

#define MAP_LINE_MAX	(64 * 1024)	/* longest physical line */
#define MAP_VALUE_MAX	(1024 * 1024)	/* longest logical line */

struct map_ent {
	char *key;		/* lowercased; NULL = empty slot */
	char *value;
};

/* One cidr: table entry: network/prefix and its value. */
struct cidr_ent {
	int family;
	unsigned char net[16];
	unsigned prefix;
	char *value;
};

#define MAP_CIDR_SYNTAX 0x100	/* internal: cidr_table(5) lines */

struct map {
	char *spec;
	struct cidr_ent *cidr;	/* cidr: maps, in file order (first match wins) */
	size_t ncidr;
	int is_cidr;
	struct mapre *re;	/* regexp: and pcre: maps (map_regexp.c) */
	char *static_value;	/* static:VALUE, else NULL */
	struct map_ent *slots;
	size_t cap;		/* power of two */
	size_t n;
};

/* FNV-1a over the lowercased key. */
static uint64_t key_hash(const char *key)
{
	uint64_t h = 1469598103934665603ULL;

	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		h ^= (uint64_t)tolower(*p);
		h *= 1099511628211ULL;
	}
	return h;
}

static struct map *map_new(const char *spec)
{
	struct map *m = xcalloc(1, sizeof(*m));

	m->spec = xstrdup(spec);
	m->cap = 16;
	m->slots = xcalloc(m->cap, sizeof(*m->slots));
	return m;
}

static struct map_ent *table_slot(struct map_ent *slots, size_t cap, const char *key)
{
	size_t i = (size_t)key_hash(key) & (cap - 1);

	while (slots[i].key != NULL && strcasecmp(slots[i].key, key) != 0)
		i = (i + 1) & (cap - 1);
	return &slots[i];
}

static void table_grow(struct map *m)
{
	size_t ncap = m->cap * 2;
	struct map_ent *ns = xcalloc(ncap, sizeof(*ns));

	for (size_t i = 0; i < m->cap; i++) {
		if (m->slots[i].key != NULL)
			*table_slot(ns, ncap, m->slots[i].key) = m->slots[i];
	}
	free(m->slots);
	m->slots = ns;
	m->cap = ncap;
}

/* Insert key (lowercased copy) unless present: the first definition wins. */
static void table_put(struct map *m, const char *key, const char *value)
{
	if ((m->n + 1) * 4 > m->cap * 3)
		table_grow(m);
	struct map_ent *e = table_slot(m->slots, m->cap, key);
	if (e->key != NULL)
		return;
	e->key = str_lower(xstrdup(key));
	e->value = xstrdup(value);
	m->n++;
}

/* Parse "addr" (optionally [addr]) into family and bytes; 0 or -1. */
static int parse_addr(const char *s, int *family, unsigned char out[16])
{
	char buf[64];
	size_t len = strlen(s);

	if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
		s++;
		len -= 2;
	}
	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (strncasecmp(buf, "IPv6:", 5) == 0)
		memmove(buf, buf + 5, len - 4);
	if (inet_pton(AF_INET, buf, out) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, buf, out) == 1) {
		*family = AF_INET6;
		return 0;
	}
	return -1;
}

static int prefix_match(const unsigned char *a, const unsigned char *net, unsigned prefix)
{
	unsigned bytes = prefix / 8, bits = prefix % 8;

	if (memcmp(a, net, bytes) != 0)
		return 0;
	if (bits == 0)
		return 1;
	unsigned char mask = (unsigned char)(0xff << (8 - bits));
	return (a[bytes] & mask) == (net[bytes] & mask);
}

static const char *cidr_lookup(const struct map *m, const char *key)
{
	unsigned char a[16];
	int family;

	if (parse_addr(key, &family, a) < 0)
		return NULL;
	for (size_t i = 0; i < m->ncidr; i++) {
		const struct cidr_ent *e = &m->cidr[i];
		if (e->family == family && prefix_match(a, e->net, e->prefix))
			return e->value;
	}
	return NULL;
}

/* One cidr_table(5) entry "network/prefix value" (or "address value"). */
static int add_cidr(struct map *m, const char *path, int lineno, char *line,
    char *err, size_t errlen)
{
	size_t klen = strcspn(line, " \t");
	char *value = str_trim(line + klen);
	struct cidr_ent e = { 0 };
	char *slash;
	long prefix = -1;

	if (*value == '\0') {
		snprintf(err, errlen, "%s, line %d: expected format: network/prefix whitespace value",
		    path, lineno);
		return -1;
	}
	line[klen] = '\0';
	if ((slash = strrchr(line, '/')) != NULL) {
		char *end;
		*slash = '\0';
		prefix = strtol(slash + 1, &end, 10);
		if (end == slash + 1 || *end != '\0')
			prefix = -2;
	}
	if (parse_addr(line, &e.family, e.net) < 0 || prefix == -2) {
		snprintf(err, errlen, "%s, line %d: bad network \"%s%s%s\"", path, lineno, line,
		    slash ? "/" : "", slash ? slash + 1 : "");
		return -1;
	}
	unsigned maxbits = e.family == AF_INET ? 32 : 128;
	if (prefix < 0)
		prefix = maxbits;
	if (prefix > (long)maxbits) {
		snprintf(err, errlen, "%s, line %d: bad prefix length /%ld", path, lineno, prefix);
		return -1;
	}
	e.prefix = (unsigned)prefix;
	/* Postfix refuses host bits outside the prefix. */
	for (unsigned bit = e.prefix; bit < maxbits; bit++) {
		if (e.net[bit / 8] & (0x80 >> (bit % 8))) {
			snprintf(err, errlen, "%s, line %d: non-null host address bits in \"%s/%ld\"",
			    path, lineno, line, prefix);
			return -1;
		}
	}
	e.value = xstrdup(value);
	m->cidr = xrealloc(m->cidr, (m->ncidr + 1) * sizeof(*m->cidr));
	m->cidr[m->ncidr++] = e;
	return 0;
}

const char *map_lookup(const struct map *m, const char *key)
{
	if (m == NULL || key == NULL)
		return NULL;
	if (m->is_cidr)
		return cidr_lookup(m, key);
	if (m->re)
		return mapre_lookup(m->re, key);
	if (m->static_value != NULL)
		return m->static_value;
	const struct map_ent *e = table_slot(m->slots, m->cap, key);
	return e->key ? e->value : NULL;
}

void map_foreach(const struct map *m, map_each_fn *fn, void *arg)
{
	if (m == NULL || m->is_cidr || m->re || m->static_value != NULL)
		return;
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key != NULL)
			fn(m->slots[i].key, m->slots[i].value, arg);
}

const char *map_spec(const struct map *m)
{
	return m->spec;
}

void map_free(struct map *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->cap; i++) {
		free(m->slots[i].key);
		free(m->slots[i].value);
	}
	free(m->slots);
	for (size_t i = 0; i < m->ncidr; i++)
		free(m->cidr[i].value);
	free(m->cidr);
	mapre_free(m->re);
	free(m->static_value);
	free(m->spec);
	free(m);
}

/* Strip one pair of surrounding braces and white space: "{ a b }" -> "a b". */
static char *unbrace(char *s)
{
	s = str_trim(s);
	size_t len = strlen(s);
	if (len >= 2 && s[0] == '{' && s[len - 1] == '}') {
		s[len - 1] = '\0';
		s = str_trim(s + 1);
	}
	return s;
}

/* One aliases(5) entry "name: a, b" -> table; refuse |cmd and :include:. */
static int add_alias(struct map *m, const char *path, int lineno, char *line,
    char *err, size_t errlen)
{
	char *colon = strchr(line, ':');

	if (colon == NULL || colon == line) {
		snprintf(err, errlen, "%s, line %d: expected format: name: value", path, lineno);
		return -1;
	}
	*colon = '\0';
	char *name = str_lower(str_trim(line));
	char *value = str_trim(colon + 1);
	if (*name == '\0' || *value == '\0') {
		snprintf(err, errlen, "%s, line %d: expected format: name: value", path, lineno);
		return -1;
	}
	char *copy = xstrdup(value);
	char *save = NULL;
	int rc = 0;
	for (char *it = strtok_r(copy, ",", &save); it != NULL; it = strtok_r(NULL, ",", &save)) {
		it = str_trim(it);
		if (*it == '"')
			it++;
		if (*it == '|') {
			snprintf(err, errlen, "%s, line %d: alias %s: |command delivery is not supported",
			    path, lineno, name);
			rc = -1;
			break;
		}
		if (strncasecmp(it, ":include:", 9) == 0) {
			snprintf(err, errlen, "%s, line %d: alias %s: :include: is not supported",
			    path, lineno, name);
			rc = -1;
			break;
		}
	}
	free(copy);
	if (rc == 0)
		table_put(m, name, value);
	return rc;
}

/* One texthash entry "key value" -> table. */
static int add_text(struct map *m, const char *path, int lineno, char *line,
    char *err, size_t errlen)
{
	size_t klen = strcspn(line, " \t");
	char *value = str_trim(line + klen);

	if (*value == '\0') {
		snprintf(err, errlen, "%s, line %d: expected format: key whitespace value",
		    path, lineno);
		return -1;
	}
	line[klen] = '\0';
	table_put(m, line, value);
	return 0;
}

/* Process one logical line. */
static int add_logical(struct map *m, const char *path, int lineno, struct buf *lb,
    int flags, char *err, size_t errlen)
{
	if (lb->len == 0)
		return 0;
	char *line = str_trim(lb->data);
	int rc = (flags & MAP_CIDR_SYNTAX) ? add_cidr(m, path, lineno, line, err, errlen)
	    : (flags & MAP_ALIASES) ? add_alias(m, path, lineno, line, err, errlen)
	    : add_text(m, path, lineno, line, err, errlen);
	buf_reset(lb);
	return rc;
}

/* Read a text table (texthash or aliases syntax) into m; fp is closed. */
static int load_text(struct map *m, FILE *fp, const char *path, int flags,
    char *err, size_t errlen)
{
	struct buf lb;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int lineno = 0, start = 0, rc = 0;

	buf_init(&lb, MAP_VALUE_MAX);
	while ((len = getline(&line, &cap, fp)) >= 0) {
		lineno++;
		if (len > MAP_LINE_MAX) {
			snprintf(err, errlen, "%s, line %d: line too long", path, lineno);
			rc = -1;
			break;
		}
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		const char *p = line + strspn(line, " \t");
		if (*p == '\0' || *p == '#')
			continue;
		if (p != line) {	/* continuation */
			if (lb.len == 0) {
				snprintf(err, errlen, "%s, line %d: continuation line "
				    "without a preceding entry", path, lineno);
				rc = -1;
				break;
			}
			if (buf_puts(&lb, " ") < 0 || buf_puts(&lb, p) < 0)
				goto toolong;
			continue;
		}
		if ((rc = add_logical(m, path, start, &lb, flags, err, errlen)) < 0)
			break;
		start = lineno;
		if (buf_puts(&lb, line) < 0)
			goto toolong;
	}
	if (rc == 0)
		rc = add_logical(m, path, start, &lb, flags, err, errlen);
	goto out;
toolong:
	snprintf(err, errlen, "%s, line %d: entry too long", path, lineno);
	rc = -1;
out:
	free(line);
	buf_free(&lb);
	fclose(fp);
	return rc;
}

static int open_unix(struct map *m, const char *name, char *err, size_t errlen)
{
	struct passwd *pw;
	char val[4200];

	if (strcmp(name, "passwd.byname") != 0) {
		snprintf(err, errlen, "%s: unsupported unix map (only unix:passwd.byname)", m->spec);
		return -1;
	}
	setpwent();
	errno = 0;
	while ((pw = getpwent()) != NULL) {
		int n = snprintf(val, sizeof(val), "%lu:%lu:%s", (unsigned long)pw->pw_uid,
		    (unsigned long)pw->pw_gid, pw->pw_dir ? pw->pw_dir : "");
		if (n > 0 && (size_t)n < sizeof(val))
			table_put(m, pw->pw_name, val);
	}
	endpwent();
	return 0;
}

static int open_inline(struct map *m, const char *name, char *err, size_t errlen)
{
	size_t len = strlen(name);
	int rc = 0;

	if (len < 2 || name[0] != '{' || name[len - 1] != '}') {
		snprintf(err, errlen, "%s: expected inline:{ key=value, ... }", m->spec);
		return -1;
	}
	char *inner = xstrndup(name + 1, len - 2);
	char **items = config_list(inner);
	for (size_t i = 0; items[i] != NULL; i++) {
		char *it = unbrace(items[i]);
		char *eq = strchr(it, '=');
		if (eq == NULL || eq == it) {
			snprintf(err, errlen, "%s: expected key=value, got '%s'", m->spec, it);
			rc = -1;
			break;
		}
		*eq = '\0';
		table_put(m, str_trim(it), str_trim(eq + 1));
	}
	config_list_free(items);
	free(inner);
	return rc;
}

struct map *map_open(const char *spec, int flags, char *err, size_t errlen)
{
	static const char *const binary_types[] = {
		"hash", "lmdb", "btree", "dbm", "cdb", "sdbm", NULL
	};
	const char *colon = strchr(spec, ':');
	struct map *m;
	char type[32];
	int rc = -1;

	if (colon == NULL || colon == spec || (size_t)(colon - spec) >= sizeof(type)
	    || colon[1] == '\0') {
		snprintf(err, errlen, "'%s' is not a type:name map", spec);
		return NULL;
	}
	memcpy(type, spec, (size_t)(colon - spec));
	type[colon - spec] = '\0';
	const char *name = colon + 1;
	m = map_new(spec);

	if (strcmp(type, "cidr") == 0) {
		FILE *fp = fopen(name, "r");
		m->is_cidr = 1;
		if (fp == NULL)
			snprintf(err, errlen, "%s: cannot open %s: %s", spec, name, strerror(errno));
		else
			rc = load_text(m, fp, name, MAP_CIDR_SYNTAX, err, errlen);
		goto done;
	}
	if (strcmp(type, "regexp") == 0 || strcmp(type, "pcre") == 0) {
		m->re = mapre_open(name, type[0] == 'p', err, errlen);
		rc = m->re ? 0 : -1;
		goto done;
	}
	if (strcmp(type, "texthash") == 0) {
		FILE *fp = fopen(name, "r");
		if (fp == NULL)
			snprintf(err, errlen, "%s: cannot open %s: %s", spec, name, strerror(errno));
		else
			rc = load_text(m, fp, name, flags, err, errlen);
		goto done;
	}
	for (size_t i = 0; binary_types[i] != NULL; i++) {
		if (strcmp(type, binary_types[i]) != 0)
			continue;
		FILE *fp = fopen(name, "r");
		if (fp == NULL && errno == ENOENT)
			snprintf(err, errlen, "%s: cannot open text source %s (binary Postfix "
			    "maps are not supported; keep the text file)", spec, name);
		else if (fp == NULL)
			snprintf(err, errlen, "%s: cannot open text source %s: %s", spec, name,
			    strerror(errno));
		else
			rc = load_text(m, fp, name, flags, err, errlen);
		goto done;
	}
	if (strcmp(type, "unix") == 0) {
		rc = open_unix(m, name, err, errlen);
	} else if (strcmp(type, "static") == 0) {
		char *v = xstrdup(name);
		m->static_value = xstrdup(unbrace(v));
		free(v);
		rc = 0;
	} else if (strcmp(type, "inline") == 0) {
		rc = open_inline(m, name, err, errlen);
	} else {
		snprintf(err, errlen, "%s: unsupported map type '%s'", spec, type);
	}
done:
	if (rc < 0) {
		map_free(m);
		return NULL;
	}
	return m;
}

/* ---- maplist ---- */

struct maplist {
	struct map **maps;
	size_t n;
};

/* Whether item is one of the items of list. */
static int in_list(char **list, const char *item)
{
	for (size_t i = 0; list != NULL && list[i] != NULL; i++) {
		if (strcmp(list[i], item) == 0)
			return 1;
	}
	return 0;
}

/* Open every map of value; flags, or MAP_ALIASES for items of aliases. */
static struct maplist *open_list(const char *value, int flags, char **aliases,
    char *err, size_t errlen)
{
	struct maplist *ml = xcalloc(1, sizeof(*ml));
	char **items = config_list(value ? value : "");
	size_t count = 0;

	while (items[count] != NULL)
		count++;
	ml->maps = xcalloc(count, sizeof(*ml->maps));
	for (size_t i = 0; i < count; i++) {
		int f = in_list(aliases, items[i]) ? MAP_ALIASES : flags;
		struct map *m = map_open(items[i], f, err, errlen);
		if (m == NULL) {
			config_list_free(items);
			maplist_free(ml);
			return NULL;
		}
		ml->maps[ml->n++] = m;
	}
	config_list_free(items);
	return ml;
}

struct maplist *maplist_open(const char *value, int flags, char *err, size_t errlen)
{
	return open_list(value, flags, NULL, err, errlen);
}

struct maplist *maplist_open_aliases(const char *value, const char *aliases,
    char *err, size_t errlen)
{
	char **al = config_list(aliases);
	struct maplist *ml = open_list(value, 0, al, err, errlen);

	config_list_free(al);
	return ml;
}

const char *maplist_lookup(const struct maplist *ml, const char *key)
{
	if (ml == NULL)
		return NULL;
	for (size_t i = 0; i < ml->n; i++) {
		const char *v = map_lookup(ml->maps[i], key);
		if (v != NULL)
			return v;
	}
	return NULL;
}

size_t maplist_count(const struct maplist *ml)
{
	return ml ? ml->n : 0;
}

void maplist_free(struct maplist *ml)
{
	if (ml == NULL)
		return;
	for (size_t i = 0; i < ml->n; i++)
		map_free(ml->maps[i]);
	free(ml->maps);
	free(ml);
}

/* ---- domlist ---- */

struct domlist {
	struct map *literal;	/* "example.com" and ".example.com" (subdomains) */
	struct maplist maps;	/* type:name tables, domain looked up as key */
};

/* Whether item looks like type:name (letters, then ':'). */
static int is_map_spec(const char *item)
{
	size_t i = 0;

	while (isalpha((unsigned char)item[i]))
		i++;
	return i > 0 && item[i] == ':';
}

/* Whether s is a plausible domain name (optionally with a leading '.'). */
static int valid_domain(const char *s)
{
	if (*s == '.')
		s++;
	if (*s == '\0')
		return 0;
	for (; *s; s++) {
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.' && *s != '_')
			return 0;
	}
	return 1;
}

/* The names of a "/file/name" list item (white space or commas between
 * them, # comments), added as literal domains. */
static int domlist_file(struct domlist *dl, const char *path, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	int rc = 0;

	if (fp == NULL) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	while (rc == 0 && getline(&line, &cap, fp) >= 0) {
		line[strcspn(line, "#")] = '\0';
		char **items = config_list(line);
		for (size_t i = 0; rc == 0 && items[i] != NULL; i++) {
			char *it = items[i];
			size_t len = strlen(it);
			if (len > 1 && it[len - 1] == '.')
				it[len - 1] = '\0';
			if (!valid_domain(it)) {
				snprintf(err, errlen, "%s: bad domain '%s'", path, items[i]);
				rc = -1;
			} else {
				table_put(dl->literal, str_lower(it), "");
			}
		}
		config_list_free(items);
	}
	free(line);
	fclose(fp);
	return rc;
}

struct domlist *domlist_open(const char *value, char *err, size_t errlen)
{
	struct domlist *dl = xcalloc(1, sizeof(*dl));
	char **items = config_list(value ? value : "");
	size_t count = 0;

	while (items[count] != NULL)
		count++;
	dl->literal = map_new("literal");
	dl->maps.maps = xcalloc(count, sizeof(*dl->maps.maps));
	for (size_t i = 0; i < count; i++) {
		char *it = items[i];
		if (it[0] == '/') {	/* a file of names, as Postfix's match lists */
			if (domlist_file(dl, it, err, errlen) < 0)
				goto fail;
			continue;
		}
		if (is_map_spec(it)) {
			struct map *m = map_open(it, 0, err, errlen);
			if (m == NULL)
				goto fail;
			dl->maps.maps[dl->maps.n++] = m;
			continue;
		}
		size_t len = strlen(it);
		if (len > 1 && it[len - 1] == '.')
			it[len - 1] = '\0';
		if (!valid_domain(it)) {
			snprintf(err, errlen, "bad domain '%s'", items[i]);
			goto fail;
		}
		table_put(dl->literal, it, "");
	}
	config_list_free(items);
	return dl;
fail:
	config_list_free(items);
	domlist_free(dl);
	return NULL;
}

int domlist_match(const struct domlist *dl, const char *domain)
{
	char name[256];
	size_t len;

	if (dl == NULL || domain == NULL)
		return 0;
	if (str_copy(name, sizeof(name), domain) < 0)
		return 0;
	len = strlen(name);
	if (len > 1 && name[len - 1] == '.')
		name[len - 1] = '\0';
	if (name[0] == '\0')
		return 0;
	if (map_lookup(dl->literal, name) != NULL)
		return 1;
	for (const char *p = strchr(name + 1, '.'); p != NULL; p = strchr(p + 1, '.')) {
		if (map_lookup(dl->literal, p) != NULL)
			return 1;
	}
	return maplist_lookup(&dl->maps, name) != NULL;
}

void domlist_free(struct domlist *dl)
{
	if (dl == NULL)
		return;
	map_free(dl->literal);
	for (size_t i = 0; i < dl->maps.n; i++)
		map_free(dl->maps.maps[i]);
	free(dl->maps.maps);
	free(dl);
}
