/*
 * jailval — fail2ban value syntax shared inside the warden's jail parser:
 * the vocabulary the jail option table is read with (PT_BOOL: true/on/1,
 * PT_TIME: 1h 30m, 1mo, and -1 when the row's min is -1; PT_INT, PT_ENUM,
 * PT_STR), booleans and lists of references such as
 *   action = nft[port="smtp,465", protocol=tcp]
 *            sendmail-whois[name=postfix]
 * (time values and single references are in jail.h: jailconf_parse_time,
 * jailconf_parse_ref).
 */
#ifndef MW_JAILVAL_H
#define MW_JAILVAL_H
#include <stddef.h>

struct jail_ref;
struct param_vocab;

/* fail2ban's vocabulary for param_check() (common/config.h). */
extern const struct param_vocab jailval_vocab[];

/* fail2ban's booleans (true/yes/on/1, false/no/off/0); -1 if neither. */
int jailval_bool(const char *v);
/* Split a value of one or more references (one per line or
 * space-separated); 0, or -1 with msg. */
int jailval_split_refs(const char *v, struct jail_ref **out, size_t *n, char *msg, size_t len);
#endif
