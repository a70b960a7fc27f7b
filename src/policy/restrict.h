/*
 * restrict — Postfix-style restriction lists (smtpd_*_restrictions):
 * evaluated in order, the first PERMIT/REJECT/DEFER wins, DUNNO goes on.
 * Each restriction is one table row (restrict.c) plus one small function
 * (in a file per family: restrict_*.c). Replies and their codes are
 * Postfix's (reject_code, unknown_client_reject_code, ...).
 *
 * Asynchronous lookups (DNS, policy service): a restriction that needs an
 * answer it does not have yet starts the lookup and returns POLICY_PENDING.
 * The caller then pauses the session; when ctx->wake(ctx->wake_arg) runs,
 * the caller evaluates the SAME list(s) again from the start. Answers are
 * cached (DNS cache, ctx->cache for policy-service replies), so the second
 * evaluation gets past the point where the first stopped. A lookup that
 * fails temporarily gives a 4xx (never a 5xx) according to the
 * *_tempfail_action parameters.
 */
#ifndef MW_RESTRICT_H
#define MW_RESTRICT_H
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

struct config;

enum policy_result {
	POLICY_DUNNO,
	POLICY_PERMIT,
	POLICY_REJECT,		/* reply holds a 5xx (or a 4xx for defer_if_*) */
	POLICY_DEFER,		/* reply holds a 4xx */
	POLICY_PENDING,		/* a lookup is running: wait for ctx->wake */
};

/* Where a list is evaluated; some restrictions need a stage's data. */
enum policy_stage {
	STAGE_CONNECT, STAGE_HELO, STAGE_MAIL, STAGE_RCPT, STAGE_DATA,
};

/* The restriction lists of the SMTP server (restrict_lists.c), in the
 * order Postfix evaluates them at RCPT with smtpd_delay_reject. */
enum restriction_list_id {
	RL_CLIENT, RL_HELO, RL_SENDER, RL_RELAY, RL_RECIPIENT, RL_DATA, RL_COUNT
};
struct restriction_list {
	enum restriction_list_id id;	/* the row's index */
	const char *key;		/* "smtpd_client_restrictions" */
	enum policy_stage stage;	/* where it runs without smtpd_delay_reject */
};
extern const struct restriction_list restriction_lists[RL_COUNT];
/* check-config: every list of the table parses for every listener role;
 * 0, or -1 and "FILE, line N: key: why". */
int restrict_lists_check(const struct config *cfg, char *err, size_t errlen);
/* check-config's report: every list that does not parse, as
 * "mailwarden: error: ..." lines on out; their number. */
int restrict_lists_report(const struct config *cfg, FILE *out);

/* rDNS state of the client, computed by the engine at connect. */
enum policy_name_status { NAME_OK, NAME_NOTFOUND, NAME_TEMPFAIL };

/* What a restriction may look at. The engine fills it for each command. */
struct policy_ctx {
	enum policy_stage stage;
	const char *client_addr;	/* "192.0.2.1" / "2001:db8::1" */
	unsigned client_port;
	const char *client_name;	/* forward-confirmed name, or "unknown" */
	enum policy_name_status client_name_status;
	const char *reverse_name;	/* PTR name even if not confirmed, or "unknown" */
	enum policy_name_status reverse_name_status;
	int in_mynetworks;
	int sasl_authenticated;
	const char *sasl_username;	/* NULL unless authenticated */
	const struct maplist *sender_login_maps;	/* smtpd_sender_login_maps, or NULL */
	const char *helo;		/* NULL before HELO/EHLO */
	const char *sender;		/* NULL before MAIL; "" for <> */
	const char *rcpt;		/* NULL before RCPT */
	int rcpt_is_ours;		/* local, virtual or alias domain */
	int sender_is_final;		/* we are the final destination of the */
	int rcpt_is_final;		/* domain (reject_unknown_*_domain skip it) */
	int rcpt_known;			/* resolve says it exists (reject_unlisted_recipient) */
	const char *rcpt_table;		/* "virtual mailbox table" etc. for the 550 text */
	const char *proto;		/* "SMTP" / "ESMTP" */
	const char *queue_id;		/* "NOQUEUE" until DATA */
	unsigned nrcpt;			/* accepted recipients so far */
	int pipelined;			/* the client sent before our reply (reject_unauth_pipelining) */
	int instance;			/* changes per transaction (policy protocol "instance") */
	/* Set by the caller: how to resume after POLICY_PENDING. */
	void (*wake)(void *arg);
	void *wake_arg;
	/* Set by the caller: log a line such as warn_if_reject's
	 * "reject_warning: ..." in the caller's NOQUEUE format. */
	void (*log)(struct policy_ctx *c, const char *action, const char *reply);
	/* Set by the caller: an access(5) action on the whole message
	 * (HOLD, DISCARD, REDIRECT addr, BCC addr, FILTER transport:dest). */
	void (*action)(struct policy_ctx *c, const char *action, const char *text);
	/* Headers to add to the message (access map / policy PREPEND),
	 * each ending in "\n"; written by the engine at DATA. */
	char prepend[1024];
	/* Owned by the restriction code (cached policy replies, pending
	 * lookups); released by policy_ctx_clear(). Zero-initialise. */
	void *cache;
	/* Added for check_policy_service (zero = unknown). */
	unsigned long size;		/* MAIL FROM SIZE= */
	/* Set by restrictions_eval() with its reply: 1 if the reply refuses
	 * relaying (reject_unauth_destination, defer_unauth_destination). */
	int reply_relay;
};

struct restrictions;

/*
 * Parse a list value for the parameter `key` (for messages), opening the
 * access maps it names (check_client_access cidr:/path ...). NULL + an
 * error such as "unknown restriction 'x'" or "check_client_access: ..."
 * on failure.
 */
struct restrictions *restrictions_parse(const struct config *cfg, const char *key,
    const char *value, char *err, size_t errlen);
/* Evaluate; on REJECT/DEFER the full SMTP reply ("554 5.7.1 ...") is in reply. */
enum policy_result restrictions_eval(const struct restrictions *r,
    struct policy_ctx *c, char *reply, size_t len);
/* Number of restrictions in the list (0 = empty list). */
size_t restrictions_count(const struct restrictions *r);
void restrictions_free(struct restrictions *r);
/* Postfix's valid_hostname(): a name a PTR record may give the client
 * (labels of letters, digits, '-', '_'; not all numeric). */
int restrict_valid_hostname(const char *name);
/* The SPF result of this transaction (reject_spf_fail or
 * defer_spf_temperror ran and finished), or NULL: for DMARC. */
struct spf_result;
const struct spf_result *policy_spf_result(struct policy_ctx *c);
/* 1 once per transaction when that result is an SPF fail (for the
 * ban engine's event), else 0. */
int policy_spf_fail_news(struct policy_ctx *c);
/* Free ctx->cache and cancel its pending lookups (session end, RSET). */
void policy_ctx_clear(struct policy_ctx *c);
#endif
