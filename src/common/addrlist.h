/*
 * addrlist — the addresses of an address-list header value (RFC 5322
 * 3.4: To, Cc, Bcc, From): mailboxes and groups, display names, comments
 * and quoted strings with their quoted-pairs. Pure functions; used by
 * the sendmail command (-t), DKIM signing (the From address) and tests
 * in tests/unit/headers_test.c.
 */
#ifndef MW_ADDRLIST_H
#define MW_ADDRLIST_H
#include <stddef.h>

/* Call fn for each address of val: its angle-addr ("Name <a@b>"), else
 * the addr-spec text ("a@b (Name)"), without comments or white space,
 * quoted local parts kept; groups "g: a@b, c@d;" give their members.
 * An escaped '"', '(' or ')' (a quoted-pair) never ends a quoted string
 * or a comment. Returns how many were found. */
size_t addrlist_each(const char *val, size_t n, void (*fn)(const char *addr, void *arg),
    void *arg);
#endif
