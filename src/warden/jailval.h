/*
 * jailval — fail2ban value syntax shared inside the warden's jail parser:
 * booleans and lists of references such as
 *   action = nft[port="smtp,465", protocol=tcp]
 *            sendmail-whois[name=postfix]
 * (time values and single references are in jail.h: jailconf_parse_time,
 * jailconf_parse_ref).
 */
#ifndef MW_JAILVAL_H
#define MW_JAILVAL_H
#include <stddef.h>

struct jail_ref;

/* fail2ban's booleans (true/yes/on/1, false/no/off/0); -1 if neither. */
int jailval_bool(const char *v);
/* Split a value of one or more references (one per line or
 * space-separated); 0, or -1 with msg. */
int jailval_split_refs(const char *v, struct jail_ref **out, size_t *n, char *msg, size_t len);
#endif
