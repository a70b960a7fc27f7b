/*
 * map — Postfix-style lookup tables named "type:name".
 *   texthash:/path    "key value" lines, # comments, continuation lines
 *   hash:/path, lmdb:/path, btree:/path
 *                     pasted from Postfix: read the text source /path
 *                     if present, else refuse naming the file
 *   unix:passwd.byname the system's accounts (read once at open, so it
 *                     works after chroot)
 *   cidr:/path        cidr_table(5): "192.0.2.0/24 value", "2001:db8::/32
 *                     value" or a bare address; first match in file order;
 *                     map_lookup() with an address key ("192.0.2.1")
 *   regexp:/path, pcre:/path
 *                     regexp_table(5)/pcre_table(5): ordered /pattern/flags
 *                     rules, if/endif, $1 substitution (map_regexp.c); the
 *                     key is matched as given; the result is valid until
 *                     the next lookup in the same map
 *   static:value      every key maps to value
 *   inline:{ k1=v1, k2=v2 }
 * Keys are matched case-insensitively (lowercased), as Postfix does.
 * With MAP_ALIASES the file is in aliases(5) syntax ("name: a, b",
 * continuation lines); "|command" and ":include:" are refused at open
 * with FILE, line N.
 * Maps are immutable once opened; reload means open again and swap.
 */
#ifndef MW_MAP_H
#define MW_MAP_H
#include <stddef.h>

#define MAP_ALIASES 0x01	/* aliases(5) syntax */

struct map;

/* Open a map; NULL and a message naming the file (and line) on error. */
struct map *map_open(const char *spec, int flags, char *err, size_t errlen);
/* Value for key (lowercased internally), or NULL. */
const char *map_lookup(const struct map *m, const char *key);
/* Call fn for every key of a table map (texthash, hash, inline; not
 * cidr:, regexp:, pcre: or static:), in no particular order. */
typedef void map_each_fn(const char *key, const char *value, void *arg);
void map_foreach(const struct map *m, map_each_fn *fn, void *arg);
/* The "type:name" this map was opened from. */
const char *map_spec(const struct map *m);
/* Free a map. */
void map_free(struct map *m);

/* An ordered list of maps, searched first to last (alias_maps etc.). */
struct maplist;
/* Open every type:name in a config list value; NULL + err on failure.
 * An empty value gives an empty list. */
struct maplist *maplist_open(const char *value, int flags, char *err, size_t errlen);
/* Same, but flags are per map: MAP_ALIASES for the maps that are also
 * items of aliases (alias_maps's value), 0 for the others. */
struct maplist *maplist_open_aliases(const char *value, const char *aliases,
    char *err, size_t errlen);
/* First hit in the list, or NULL. */
const char *maplist_lookup(const struct maplist *ml, const char *key);
/* Number of maps in the list. */
size_t maplist_count(const struct maplist *ml);
void maplist_free(struct maplist *ml);

/* A domain list as mydestination/virtual_mailbox_domains: literal domains
 * and type:name maps mixed. Matching is case-insensitive. */
struct domlist;
struct domlist *domlist_open(const char *value, char *err, size_t errlen);
/* 1 if domain is in the list. */
int domlist_match(const struct domlist *dl, const char *domain);
void domlist_free(struct domlist *dl);
#endif
