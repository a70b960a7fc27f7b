/*
 * restrict_access — check_client_access, check_helo_access,
 * check_sender_access, check_recipient_access: look the client, HELO name
 * or address up in a type:name table (texthash:, cidr:, ...) with Postfix's
 * search order, and turn the value into a decision (r_table_result: OK,
 * REJECT text, DEFER text, DUNNO, 4xx/5xx text, WARN, restriction names).
 *   client:    name, its parent domains, then the address and its parent
 *              networks (1.2.3.4, 1.2.3, 1.2, 1; cidr: maps match the address)
 *   helo:      name and its parent domains
 *   addresses: user@domain, domain, parent domains, user@ ("<>" for the
 *              null sender: smtpd_null_access_lookup_key)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/map.h"
#include "common/util.h"
#include "policy/restrict_int.h"

/* name, then its parent domains (not for numerical names). */
static const char *domain_find(const struct map *m, const char *name)
{
	const char *v;

	for (const char *p = name; *p; ) {
		if ((v = map_lookup(m, p)) != NULL)
			return v;
		if (r_valid_hostaddr(name))
			break;
		const char *next = strchr(p + 1, '.');
		if (next == NULL)
			break;
		p = next + 1;
	}
	return NULL;
}

/* the address, then its parent networks by octets / groups. */
static const char *addr_find(const struct map *m, const char *addr)
{
	char buf[128];
	const char *v;
	char delim = strchr(addr, ':') ? ':' : '.';

	if (str_copy(buf, sizeof(buf), addr) < 0)
		return NULL;
	for (;;) {
		if ((v = map_lookup(m, buf)) != NULL)
			return v;
		char *cut = strrchr(buf, delim);
		if (cut == NULL)
			return NULL;
		*cut = '\0';
	}
}

/* user@domain, domain and parents, user@. */
static const char *mail_find(const struct map *m, const char *addr)
{
	const char *v;
	const char *at = strrchr(addr, '@');

	if ((v = map_lookup(m, addr)) != NULL)
		return v;
	if (at == NULL)
		return NULL;
	if (at[1] != '\0' && (v = domain_find(m, at + 1)) != NULL)
		return v;
	char *local = xstrndup(addr, (size_t)(at - addr) + 1);
	v = map_lookup(m, local);
	free(local);
	return v;
}

/*
 * An access-map result judged as list class cls (replies say "Client
 * host", "Helo command", "Sender address" whatever list holds the
 * restriction), with the defer_if_* state and any pending lookup carried
 * back to the caller's evaluation.
 */
static enum policy_result table_result_as(struct rstate *st, enum rclass cls,
    const char *where, const char *v)
{
	struct rstate sub = *st;
	sub.cls = cls;
	r_class_name(&sub);
	enum policy_result res = r_table_result(&sub, where, v);
	st->dip = sub.dip;
	st->dir = sub.dir;
	memcpy(st->dip_reply, sub.dip_reply, sizeof(st->dip_reply));
	memcpy(st->dir_reply, sub.dir_reply, sizeof(st->dir_reply));
	st->pending |= sub.pending;
	return res;
}

enum policy_result r_client_access(struct rstate *st, const struct ritem *it)
{
	const struct policy_ctx *c = st->c;
	const char *v = NULL;
	const char *name = c->client_name ? c->client_name : "unknown";

	v = domain_find(it->map, name);
	if (v == NULL && c->client_addr != NULL)
		v = addr_find(it->map, c->client_addr);
	if (v == NULL)
		return POLICY_DUNNO;
	/* Replies name the client whatever list this is in. */
	return table_result_as(st, RC_CLIENT, it->arg, v);
}

enum policy_result r_helo_access(struct rstate *st, const struct ritem *it)
{
	const char *helo = st->c->helo;
	const char *v;

	if (helo == NULL || *helo == '\0' || (v = domain_find(it->map, helo)) == NULL)
		return POLICY_DUNNO;
	return table_result_as(st, RC_HELO, it->arg, v);
}

static enum policy_result mail_access(struct rstate *st, const struct ritem *it,
    const char *addr, enum rclass cls, const char *null_key)
{
	const char *v = *addr == '\0' ? map_lookup(it->map, null_key) : mail_find(it->map, addr);

	if (v == NULL)
		return POLICY_DUNNO;
	return table_result_as(st, cls, it->arg, v);
}

enum policy_result r_sender_access(struct rstate *st, const struct ritem *it)
{
	const char *s = st->c->sender;

	return s == NULL ? POLICY_DUNNO : mail_access(st, it, s, RC_SENDER, st->p->null_key);
}

enum policy_result r_recipient_access(struct rstate *st, const struct ritem *it)
{
	const char *r = st->c->rcpt;

	return r == NULL || *r == '\0' ? POLICY_DUNNO
	    : mail_access(st, it, r, RC_RECIPIENT, st->p->null_key);
}
