/*
 * cidr — network lists as in Postfix's mynetworks: "127.0.0.0/8",
 * "[::1]/128", "192.0.2.1" (a host), IPv4 and IPv6.
 */
#ifndef MW_CIDR_H
#define MW_CIDR_H
#include <stddef.h>
#include <sys/socket.h>

struct cidrlist;

/* Parse a list value; NULL + message naming the bad entry on error. */
struct cidrlist *cidrlist_parse(const char *value, char *err, size_t errlen);
/* 1 if the address is inside any network of the list. */
int cidrlist_match(const struct cidrlist *cl, const struct sockaddr *sa);
/* Same for an address in text form ("192.0.2.1", "::1"); 0 if unparsable. */
int cidrlist_match_str(const struct cidrlist *cl, const char *addr);
void cidrlist_free(struct cidrlist *cl);
#endif
