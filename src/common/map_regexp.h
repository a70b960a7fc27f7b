/*
 * map_regexp — the regexp: and pcre: map types (Postfix's regexp_table(5)
 * and pcre_table(5)), for map.c: the table is read at open into an
 * ordered list of rules; a lookup runs the rules in file order and
 * returns the first matching rule's result with $1 substitution.
 * Internal to src/common (map.c is the public face).
 */
#ifndef MW_MAP_REGEXP_H
#define MW_MAP_REGEXP_H
#include <stddef.h>

struct mapre;

/* Read path as a regexp (pcre = 0) or pcre (pcre = 1) table; NULL and a
 * message "path, line N: ..." on error. */
struct mapre *mapre_open(const char *path, int pcre, char *err, size_t errlen);
/* The result of the first rule matching key (substituted into the
 * table's own scratch buffer, valid until the next lookup), or NULL. */
const char *mapre_lookup(struct mapre *re, const char *key);
/* Free a table. */
void mapre_free(struct mapre *re);
#endif
