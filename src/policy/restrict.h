/*
 * restrict — Postfix-style restriction lists (smtpd_*_restrictions):
 * evaluated in order, the first permit/reject/defer wins, DUNNO goes on.
 * Each restriction is one table row in restrict.c. This first version has
 * the relay-control set; the spam-control set (DNSBL, reverse DNS, ...)
 * plugs into the same table.
 */
#ifndef MW_RESTRICT_H
#define MW_RESTRICT_H
#include <stddef.h>

enum policy_result { POLICY_DUNNO, POLICY_PERMIT, POLICY_REJECT, POLICY_DEFER };

/* What a restriction may look at. */
struct policy_ctx {
	const char *client;		/* "name[addr]" */
	int in_mynetworks;
	int sasl_authenticated;
	const char *rcpt;		/* RCPT address (no brackets) */
	int rcpt_is_ours;		/* local, virtual or alias domain */
};

struct restrictions;

/* Parse a list value ("permit_mynetworks, reject_unauth_destination");
 * NULL + "unknown restriction 'x'" on error. */
struct restrictions *restrictions_parse(const char *value, char *err, size_t errlen);
/* Evaluate; on REJECT/DEFER the full SMTP reply goes into reply. */
enum policy_result restrictions_eval(const struct restrictions *r,
    const struct policy_ctx *c, char *reply, size_t len);
void restrictions_free(struct restrictions *r);
#endif
