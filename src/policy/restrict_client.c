/*
 * restrict_client — restrictions on the client's reverse DNS, which the
 * engine looked up at connect (policy_ctx.client_name / reverse_name and
 * their statuses): reject_unknown_client_hostname (forward-confirmed name;
 * old name reject_unknown_client) and reject_unknown_reverse_client_hostname.
 * A temporary failure always gives 450, a missing name
 * unknown_client_reject_code.
 */
#include "policy/restrict_int.h"

enum policy_result r_unknown_client(struct rstate *st, const struct ritem *it)
{
	const struct policy_ctx *c = st->c;

	if (c->client_name_status == NAME_OK)
		return POLICY_DUNNO;
	return r_reply(st, c->client_name_status == NAME_NOTFOUND ?
	    st->p->unknown_client_code : 450, "4.7.25",
	    "Client host rejected: cannot find your hostname, [%s]", c->client_addr);
}

enum policy_result r_unknown_reverse_client(struct rstate *st, const struct ritem *it)
{
	const struct policy_ctx *c = st->c;

	if (c->reverse_name_status == NAME_OK)
		return POLICY_DUNNO;
	return r_reply(st, c->reverse_name_status == NAME_NOTFOUND ?
	    st->p->unknown_client_code : 450, "4.7.1",
	    "Client host rejected: cannot find your reverse hostname, [%s]", c->client_addr);
}
