/*
 * restrict — restriction lists: parse once into an array of table rows,
 * evaluate per RCPT.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/util.h"
#include "policy/restrict.h"

typedef enum policy_result restriction_fn(const struct policy_ctx *c,
    char *reply, size_t len);

struct restriction {
	const char *name;
	restriction_fn *fn;
};

static enum policy_result r_permit(const struct policy_ctx *c, char *reply, size_t len)
{
	return POLICY_PERMIT;
}

static enum policy_result r_reject(const struct policy_ctx *c, char *reply, size_t len)
{
	snprintf(reply, len, "554 5.7.1 <%s>: Recipient address rejected: Access denied", c->rcpt);
	return POLICY_REJECT;
}

static enum policy_result r_defer(const struct policy_ctx *c, char *reply, size_t len)
{
	snprintf(reply, len, "450 4.7.1 <%s>: Recipient address rejected: Access denied", c->rcpt);
	return POLICY_DEFER;
}

static enum policy_result r_permit_mynetworks(const struct policy_ctx *c, char *reply, size_t len)
{
	return c->in_mynetworks ? POLICY_PERMIT : POLICY_DUNNO;
}

static enum policy_result r_permit_sasl(const struct policy_ctx *c, char *reply, size_t len)
{
	return c->sasl_authenticated ? POLICY_PERMIT : POLICY_DUNNO;
}

static enum policy_result r_unauth_destination(const struct policy_ctx *c, char *reply, size_t len)
{
	if (c->rcpt == NULL || c->rcpt_is_ours)
		return POLICY_DUNNO;
	snprintf(reply, len, "554 5.7.1 <%s>: Relay access denied", c->rcpt);
	return POLICY_REJECT;
}

static enum policy_result r_defer_unauth_destination(const struct policy_ctx *c, char *reply, size_t len)
{
	if (c->rcpt == NULL || c->rcpt_is_ours)
		return POLICY_DUNNO;
	snprintf(reply, len, "454 4.7.1 <%s>: Relay access denied", c->rcpt);
	return POLICY_DEFER;
}

static const struct restriction restriction_table[] = {
	{ "permit",				r_permit },
	{ "reject",				r_reject },
	{ "defer",				r_defer },
	{ "permit_mynetworks",			r_permit_mynetworks },
	{ "permit_sasl_authenticated",		r_permit_sasl },
	{ "reject_unauth_destination",		r_unauth_destination },
	{ "defer_unauth_destination",		r_defer_unauth_destination },
	{ NULL, NULL },
};

struct restrictions {
	const struct restriction **list;
	size_t n;
};

struct restrictions *restrictions_parse(const struct config *cfg, const char *key,
    const char *value, char *err, size_t errlen)
{
	char **items = config_list(value);
	struct restrictions *r = xcalloc(1, sizeof(*r));
	size_t n = 0;
	while (items[n])
		n++;
	r->list = xcalloc(n + 1, sizeof(*r->list));
	for (size_t i = 0; i < n; i++) {
		const struct restriction *row = NULL;
		for (const struct restriction *t = restriction_table; t->name; t++)
			if (strcmp(t->name, items[i]) == 0)
				row = t;
		if (row == NULL) {
			snprintf(err, errlen, "unknown restriction '%s'", items[i]);
			config_list_free(items);
			restrictions_free(r);
			return NULL;
		}
		r->list[r->n++] = row;
	}
	config_list_free(items);
	return r;
}

enum policy_result restrictions_eval(const struct restrictions *r,
    struct policy_ctx *c, char *reply, size_t len)
{
	for (size_t i = 0; i < r->n; i++) {
		enum policy_result res = r->list[i]->fn(c, reply, len);
		if (res != POLICY_DUNNO)
			return res;
	}
	return POLICY_DUNNO;
}

size_t restrictions_count(const struct restrictions *r)
{
	return r->n;
}

void policy_ctx_clear(struct policy_ctx *c)
{
	c->cache = NULL;
}

void restrictions_free(struct restrictions *r)
{
	if (r == NULL)
		return;
	free(r->list);
	free(r);
}
