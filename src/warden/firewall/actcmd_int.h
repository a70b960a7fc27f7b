/*
 * actcmd_int — what actcmd.c (the map, substituteRecursiveTags, the
 * server's CommandAction) and actcmd_read.c (the client's ActionReader)
 * share. Not for other modules (they use actcmd.h).
 */
#ifndef MW_WARDEN_ACTCMD_INT_H
#define MW_WARDEN_ACTCMD_INT_H
#include <stddef.h>

#include "warden/firewall/actcmd.h"

#define VAL_MAX 65536		/* longest value or command */
#define MAX_TAG_REPLACE 25	/* helpers.MAX_TAG_REPLACE_COUNT */
#define TAG_NAME_MAX 200	/* longest <tag> name; longer is text */
#define bstr(b) ((b)->data ? (b)->data : "")

/* 1 if s is one of the NULL-terminated list l. */
int actcmd_in_list(const char *const *l, const char *s);
/* Set every key of src in dst. */
void actcmd_map_copy(struct actcmd_map *dst, const struct actcmd_map *src);
/* TAG_CRE <([^ <>]+)>: the next tag at or after from, 1 and [*ts, *te)
 * (the brackets included), or 0; names up to TAG_NAME_MAX. */
int actcmd_tag_find(const char *s, size_t from, size_t *ts, size_t *te);
/* ^(\w+)(\?.+)$: the length of a conditional key's base name, or 0. */
size_t actcmd_conditional(const char *k);
/* A look-up for tags nothing else names (allocated, or NULL). */
typedef char *actcmd_repl_fn(void *arg, const char *tag);
/* helpers.substituteRecursiveTags on tags, in place: <x?cond> before <x>,
 * then addrepl; ignore(iarg, tag) names tags left alone. 0, or -1 and
 * err (a tag naming itself, a value past VAL_MAX). */
int actcmd_subst(struct actcmd_map *tags, const char *cond,
    int (*ignore)(void *, const char *), void *iarg, actcmd_repl_fn *addrepl, void *rarg,
    char *err, size_t errlen);
#endif
