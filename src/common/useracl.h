/*
 * useracl — Postfix's user access lists (authorized_mailq_users,
 * authorized_submit_users): login names, "!name", "/file/name" (replaced
 * by its contents) and "type:table" (matched when the name is a key; the
 * value is ignored, so static:anyone matches everybody). Matched left to
 * right, the first match decides; no match denies.
 */
#ifndef MW_COMMON_USERACL_H
#define MW_COMMON_USERACL_H
#include <stddef.h>

struct useracl;

/* Parse a list value (maps are opened now, before any chroot or sandbox);
 * NULL and a message naming the bad item on error. */
struct useracl *useracl_open(const char *value, char *err, size_t errlen);
/* 1 if name is allowed by the list, 0 if not. */
int useracl_match(const struct useracl *acl, const char *name);
void useracl_free(struct useracl *acl);
#endif
