/*
 * restrict — restriction lists: the table of restriction names, parsing a
 * list once (arguments, maps and policy services opened at start-up), and
 * the evaluator with Postfix's generic_checks() semantics: first PERMIT /
 * REJECT / DEFER wins, warn_if_reject turns the next reject into a
 * "reject_warning" log line, defer_if_permit / defer_if_reject change the
 * outcome at the end. The restrictions themselves live in restrict_*.c
 * and policyd.c, one small function each (their replies are built in
 * restrict_reply.c); the session cache behind
 * policy_ctx.cache is in restrict_cache.c.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/config.h"
#include "common/log.h"
#include "common/map.h"
#include "common/util.h"
#include "policy/restrict_int.h"

/* ---- the simple restrictions ---- */

static enum policy_result r_permit(struct rstate *st, const struct ritem *it)
{
	return POLICY_PERMIT;
}

static enum policy_result r_reject(struct rstate *st, const struct ritem *it)
{
	return r_reply(st, st->p->reject_code, "5.7.1", "<%s>: %s rejected: Access denied",
	    st->name, st->cls_text);
}

static enum policy_result r_defer(struct rstate *st, const struct ritem *it)
{
	return r_reply(st, st->p->defer_code, "4.3.2", "<%s>: %s rejected: Try again later",
	    st->name, st->cls_text);
}

static enum policy_result r_defer_if_permit(struct rstate *st, const struct ritem *it)
{
	return r_defer_if(st, 1, 450, "4.7.0", "<%s>: %s rejected: defer_if_permit requested",
	    st->name, st->cls_text);
}

static enum policy_result r_defer_if_reject(struct rstate *st, const struct ritem *it)
{
	return r_defer_if(st, 0, 450, "4.7.0", "<%s>: %s rejected: defer_if_reject requested",
	    st->name, st->cls_text);
}

/* Handled by the evaluator; the row exists so the name parses. */
static enum policy_result r_warn_if_reject(struct rstate *st, const struct ritem *it)
{
	return POLICY_DUNNO;
}

static enum policy_result r_permit_mynetworks(struct rstate *st, const struct ritem *it)
{
	return st->c->in_mynetworks ? POLICY_PERMIT : POLICY_DUNNO;
}

static enum policy_result r_permit_sasl(struct rstate *st, const struct ritem *it)
{
	return st->c->sasl_authenticated ? POLICY_PERMIT : POLICY_DUNNO;
}

static enum policy_result r_permit_auth_destination(struct rstate *st, const struct ritem *it)
{
	return st->c->rcpt != NULL && st->c->rcpt_is_ours ? POLICY_PERMIT : POLICY_DUNNO;
}

static enum policy_result r_unauth_destination(struct rstate *st, const struct ritem *it)
{
	if (st->c->rcpt == NULL || st->c->rcpt_is_ours)
		return POLICY_DUNNO;
	st->relay = 1;
	enum policy_result res = r_reply(st, st->p->relay_code, "5.7.1", "<%s>: Relay access denied",
	    st->c->rcpt);
	st->relay = 0;
	return res;
}

static enum policy_result r_defer_unauth_destination(struct rstate *st, const struct ritem *it)
{
	if (st->c->rcpt == NULL || st->c->rcpt_is_ours)
		return POLICY_DUNNO;
	st->relay = 1;
	enum policy_result res = r_reply(st, st->p->relay_code - 100, "4.7.1",
	    "<%s>: Relay access denied", st->c->rcpt);
	st->relay = 0;
	return res;
}

static enum policy_result r_unlisted_recipient(struct rstate *st, const struct ritem *it)
{
	const struct policy_ctx *c = st->c;

	if (c->rcpt == NULL || *c->rcpt == '\0' || !c->rcpt_is_ours || c->rcpt_known)
		return POLICY_DUNNO;
	return r_reply(st, st->p->unlisted_rcpt_code, "5.1.1",
	    "<%s>: Recipient address rejected: User unknown in %s", c->rcpt,
	    c->rcpt_table ? c->rcpt_table : "local recipient table");
}

static enum policy_result r_unauth_pipelining(struct rstate *st, const struct ritem *it)
{
	if (!st->c->pipelined)
		return POLICY_DUNNO;
	return r_reply(st, 503, "5.5.0",
	    "<%s>: %s rejected: Improper use of SMTP command pipelining", st->name, st->cls_text);
}

static enum policy_result r_multi_rcpt_bounce(struct rstate *st, const struct ritem *it)
{
	const struct policy_ctx *c = st->c;

	if (c->sender == NULL || *c->sender != '\0'
	    || c->nrcpt <= (unsigned)(c->stage != STAGE_RCPT))
		return POLICY_DUNNO;
	return r_reply(st, 550, "5.5.3", "<%s>: %s rejected: Multi-recipient bounce",
	    st->name, st->cls_text);
}

/*
 * smtpd_sender_login_maps: the logins that own the MAIL FROM address,
 * looked up as user@domain, then @domain; the value lists logins
 * separated by commas or spaces. 1 if login owns it, 0 if not, -1 if the
 * address has no owner.
 */
static int sender_owned_by(const struct policy_ctx *c, const char *login)
{
	const char *sender = c->sender;
	const char *owners = maplist_lookup(c->sender_login_maps, sender);
	const char *at = strrchr(sender, '@');
	if (owners == NULL && at != NULL)
		owners = maplist_lookup(c->sender_login_maps, at);
	if (owners == NULL)
		return -1;
	if (login == NULL)
		return 0;
	size_t ln = strlen(login);
	for (const char *p = owners; *p;) {
		p += strspn(p, ", \t");
		size_t n = strcspn(p, ", \t");
		if (n == ln && strncasecmp(p, login, n) == 0)
			return 1;
		p += n;
	}
	return 0;
}

/* which: 1 authenticated clients only, 2 unauthenticated only, 3 both. */
static enum policy_result sender_login_mismatch(struct rstate *st, int which)
{
	const struct policy_ctx *c = st->c;
	if (c->sender == NULL || *c->sender == '\0' || c->sender_login_maps == NULL)
		return POLICY_DUNNO;
	if (c->sasl_username) {
		if ((which & 1) && sender_owned_by(c, c->sasl_username) != 1)
			return r_reply(st, 553, "5.7.1", "<%s>: Sender address rejected: not owned by user %s",
			    c->sender, c->sasl_username);
	} else if ((which & 2) && sender_owned_by(c, NULL) == 0)
		return r_reply(st, 553, "5.7.1", "<%s>: Sender address rejected: not logged in", c->sender);
	return POLICY_DUNNO;
}

static enum policy_result r_sender_login_mismatch(struct rstate *st, const struct ritem *it)
{
	return sender_login_mismatch(st, 3);
}

static enum policy_result r_auth_sender_login_mismatch(struct rstate *st, const struct ritem *it)
{
	return sender_login_mismatch(st, 1);
}

static enum policy_result r_unauth_sender_login_mismatch(struct rstate *st, const struct ritem *it)
{
	return sender_login_mismatch(st, 2);
}

/* The table: one row per restriction (aliases are rows too). */
static const struct restriction restriction_table[] = {
	{ "permit",				r_permit, ARG_NONE, 0 },
	{ "reject",				r_reject, ARG_NONE, 0 },
	{ "defer",				r_defer, ARG_NONE, 0 },
	{ "defer_if_permit",			r_defer_if_permit, ARG_NONE, 0 },
	{ "defer_if_reject",			r_defer_if_reject, ARG_NONE, 0 },
	{ "warn_if_reject",			r_warn_if_reject, ARG_NONE, 0 },
	{ "permit_mynetworks",			r_permit_mynetworks, ARG_NONE, 0 },
	{ "permit_sasl_authenticated",		r_permit_sasl, ARG_NONE, 0 },
	{ "permit_auth_destination",		r_permit_auth_destination, ARG_NONE, 0 },
	{ "reject_unauth_destination",		r_unauth_destination, ARG_NONE, 0 },
	{ "defer_unauth_destination",		r_defer_unauth_destination, ARG_NONE, 0 },
	{ "reject_unlisted_recipient",		r_unlisted_recipient, ARG_NONE, 0 },
	{ "check_recipient_maps",		r_unlisted_recipient, ARG_NONE, 0 },
	{ "reject_unauth_pipelining",		r_unauth_pipelining, ARG_NONE, 0 },
	{ "reject_multi_recipient_bounce",	r_multi_rcpt_bounce, ARG_NONE, 0 },
	{ "reject_sender_login_mismatch",	r_sender_login_mismatch, ARG_NONE, 0 },
	{ "reject_authenticated_sender_login_mismatch", r_auth_sender_login_mismatch, ARG_NONE, 0 },
	{ "reject_unauthenticated_sender_login_mismatch", r_unauth_sender_login_mismatch, ARG_NONE, 0 },
	/* restrict_client.c */
	{ "reject_unknown_client_hostname",	r_unknown_client, ARG_NONE, 0 },
	{ "reject_unknown_client",		r_unknown_client, ARG_NONE, 0 },
	{ "reject_unknown_reverse_client_hostname", r_unknown_reverse_client, ARG_NONE, 0 },
	/* restrict_address.c */
	{ "reject_invalid_helo_hostname",	r_invalid_helo, ARG_NONE, 0 },
	{ "reject_invalid_hostname",		r_invalid_helo, ARG_NONE, 0 },
	{ "reject_non_fqdn_helo_hostname",	r_non_fqdn_helo, ARG_NONE, 0 },
	{ "reject_non_fqdn_hostname",		r_non_fqdn_helo, ARG_NONE, 0 },
	{ "reject_unknown_helo_hostname",	r_unknown_helo, ARG_NONE, R_DNS },
	{ "reject_unknown_hostname",		r_unknown_helo, ARG_NONE, R_DNS },
	{ "reject_non_fqdn_sender",		r_non_fqdn_sender, ARG_NONE, 0 },
	{ "reject_non_fqdn_recipient",		r_non_fqdn_recipient, ARG_NONE, 0 },
	{ "reject_unknown_sender_domain",	r_unknown_sender_domain, ARG_NONE, R_DNS },
	{ "reject_unknown_recipient_domain",	r_unknown_recipient_domain, ARG_NONE, R_DNS },
	/* restrict_rbl.c */
	{ "reject_rbl_client",			r_rbl_client, ARG_DNSXL, R_DNS },
	{ "reject_rbl",				r_rbl_client, ARG_DNSXL, R_DNS },
	{ "reject_rhsbl_client",		r_rhsbl_client, ARG_DNSXL, R_DNS },
	{ "reject_rhsbl_reverse_client",	r_rhsbl_reverse_client, ARG_DNSXL, R_DNS },
	{ "reject_rhsbl_sender",		r_rhsbl_sender, ARG_DNSXL, R_DNS },
	{ "reject_rhsbl_helo",			r_rhsbl_helo, ARG_DNSXL, R_DNS },
	{ "reject_rhsbl_recipient",		r_rhsbl_recipient, ARG_DNSXL, R_DNS },
	{ "permit_dnswl_client",		r_dnswl_client, ARG_DNSXL, R_DNS },
	/* restrict_spf.c */
	{ "reject_spf_fail",			r_spf_fail, ARG_NONE, R_DNS },
	{ "defer_spf_temperror",		r_spf_temperror, ARG_NONE, R_DNS },
	/* restrict_access.c */
	{ "check_client_access",		r_client_access, ARG_MAP, 0 },
	{ "check_helo_access",			r_helo_access, ARG_MAP, 0 },
	{ "check_sender_access",		r_sender_access, ARG_MAP, 0 },
	{ "check_recipient_access",		r_recipient_access, ARG_MAP, 0 },
	/* policyd.c */
	{ "check_policy_service",		r_policy_service, ARG_SERVICE, 0 },
	{ NULL, NULL, ARG_NONE, 0 },
};

/* Postfix's check_table_result(): what an access map or policy server said. */
enum policy_result r_table_result(struct rstate *st, const char *where, const char *value)
{
	size_t cmd_len = strcspn(value, " \t");
	const char *text = value + cmd_len;
	char dsn[16];

	while (*text == ' ' || *text == '\t')
		text++;
#define IS(word) (cmd_len == strlen(word) && strncasecmp(value, word, cmd_len) == 0)
	/* An optional enhanced status code at the start of the text. */
	const char *own_dsn = NULL;
	size_t dl = r_dsn_len(text);
	if (dl > 0 && dl < sizeof(dsn)) {
		memcpy(dsn, text, dl);
		dsn[dl] = '\0';
		own_dsn = dsn;
		text += dl;
		while (*text == ' ')
			text++;
	}
	if (IS("DUNNO"))
		return POLICY_DUNNO;
	if (IS("OK") || IS("RELAY") || (cmd_len > 0 && strspn(value, "0123456789") == cmd_len
	    && value[cmd_len] == '\0'))
		return POLICY_PERMIT;
	if (IS("REJECT"))
		return r_reply(st, st->p->map_reject_code, own_dsn ? own_dsn : "5.7.1",
		    "<%s>: %s rejected: %s", st->name, st->cls_text, *text ? text : "Access denied");
	if (IS("DEFER"))
		return r_reply(st, st->p->map_defer_code, own_dsn ? own_dsn : "4.7.1",
		    "<%s>: %s rejected: %s", st->name, st->cls_text, *text ? text : "Access denied");
	if (IS("DEFER_IF_PERMIT") || IS("DEFER_IF_REJECT"))
		return r_defer_if(st, IS("DEFER_IF_PERMIT"), st->p->map_defer_code,
		    own_dsn ? own_dsn : "4.7.1", "<%s>: %s rejected: %s", st->name, st->cls_text,
		    *text ? text : "Service unavailable");
	if (IS("PREPEND")) {
		/* A header for the message (postgrey's X-Greylist): the engine
		 * writes ctx->prepend above its Received header at DATA. */
		size_t used = strlen(st->c->prepend);
		size_t tl = strlen(text);
		if (!st->prefetch && *text && strchr(text, ':') && used + tl + 2 <= sizeof(st->c->prepend)) {
			memcpy(st->c->prepend + used, text, tl);
			st->c->prepend[used + tl] = '\n';
			st->c->prepend[used + tl + 1] = '\0';
		}
		return POLICY_DUNNO;
	}
	if (IS("WARN") || IS("INFO")) {
		if (!st->prefetch && st->c->log)
			st->c->log(st->c, IS("WARN") ? "warn" : "info", text);
		return POLICY_DUNNO;
	}
	/* access(5)'s actions on the whole message: handed to the engine
	 * (ctx->action) and logged as smtpd does; DISCARD permits. */
	static const struct { const char *name; char need; enum policy_result res; } msg_act[] = {
		{ "HOLD", 0, POLICY_DUNNO }, { "DISCARD", 0, POLICY_PERMIT },
		{ "REDIRECT", '@', POLICY_DUNNO }, { "BCC", '@', POLICY_DUNNO },
		{ "FILTER", ':', POLICY_DUNNO },
	};
	for (size_t k = 0; k < sizeof(msg_act) / sizeof(msg_act[0]); k++) {
		char what[600];
		if (!IS(msg_act[k].name))
			continue;
		if (msg_act[k].need && strchr(text, msg_act[k].need) == NULL) {
			if (!st->prefetch)
				log_warn("%s: bad %s argument \"%s\" in access table result", where,
				    msg_act[k].name, text);
			return POLICY_DUNNO;
		}
		if (st->prefetch)
			return POLICY_DUNNO;
		if (msg_act[k].need)
			snprintf(what, sizeof(what), "<%s>: %s triggers %s %s", st->name, st->cls_text,
			    msg_act[k].name, text);
		else
			snprintf(what, sizeof(what), "<%s>: %s %s", st->name, st->cls_text, *text ? text :
			    k == 0 ? "triggers HOLD action" : "triggers DISCARD action");
		if (st->c->log)
			st->c->log(st->c, k == 0 ? "hold" : k == 1 ? "discard" : k == 2 ? "redirect" :
			    k == 3 ? "bcc" : "filter", what);
		if (st->c->action)
			st->c->action(st->c, msg_act[k].name, text);
		return msg_act[k].res;
	}
	if (cmd_len == 3 && *text != '\0' && (value[0] == '4' || value[0] == '5')
	    && isdigit((unsigned char)value[1]) && isdigit((unsigned char)value[2])) {
		char def[6] = "x.7.1";
		def[0] = value[0];
		return r_reply(st, atoi(value), own_dsn ? own_dsn : def, "<%s>: %s rejected: %s",
		    st->name, st->cls_text, *text ? text : "Access denied");
	}
	/* Restriction names as values (permit_mynetworks, reject, ...). */
	if (cmd_len > 0 && !st->prefetch) {
		char word[64];
		if (cmd_len < sizeof(word) && value[cmd_len] == '\0') {
			memcpy(word, value, cmd_len);
			word[cmd_len] = '\0';
			for (const struct restriction *t = restriction_table; t->name; t++) {
				if (strcasecmp(t->name, word) == 0 && t->arg == ARG_NONE
				    && t->fn != r_warn_if_reject) {
					struct ritem it = { .row = t };
					return t->fn(st, &it);
				}
			}
		}
	}
	if (st->prefetch)
		return POLICY_DUNNO;
	log_warn("%s: unsupported access table result \"%s\"", where, value);
	return r_reply(st, 451, "4.3.5", "Server configuration error");
}

/* ---- parameters ---- */

static int get_int(const struct config *cfg, const char *name, int def)
{
	return cfg ? (int)config_get_int(cfg, name) : def;
}

static char *get_str(const struct config *cfg, const char *name, const char *def)
{
	return xstrdup(cfg ? config_get(cfg, name) : def);
}

#define DEF_RBL_REPLY "$rbl_code Service unavailable; $rbl_class [$rbl_what] blocked " \
	"using $rbl_domain${rbl_reason?; $rbl_reason}"

static struct rparams *params_load(const struct config *cfg, char *err, size_t errlen)
{
	struct rparams *p = xcalloc(1, sizeof(*p));

	p->reject_code = get_int(cfg, "reject_code", 554);
	p->defer_code = get_int(cfg, "defer_code", 450);
	p->relay_code = get_int(cfg, "relay_domains_reject_code", 554);
	p->unknown_client_code = get_int(cfg, "unknown_client_reject_code", 450);
	p->unknown_hostname_code = get_int(cfg, "unknown_hostname_reject_code", 450);
	p->unknown_address_code = get_int(cfg, "unknown_address_reject_code", 450);
	p->invalid_hostname_code = get_int(cfg, "invalid_hostname_reject_code", 501);
	p->non_fqdn_code = get_int(cfg, "non_fqdn_reject_code", 504);
	p->rbl_code = get_int(cfg, "maps_rbl_reject_code", 554);
	p->map_reject_code = get_int(cfg, "access_map_reject_code", 554);
	p->map_defer_code = get_int(cfg, "access_map_defer_code", 450);
	p->unlisted_rcpt_code = get_int(cfg, "unknown_local_recipient_reject_code", 550);
	char *a = get_str(cfg, "unknown_address_tempfail_action", "defer_if_permit");
	char *h = get_str(cfg, "unknown_helo_hostname_tempfail_action", "defer_if_permit");
	p->addr_tempfail_defer = strcmp(a, "defer") == 0;
	p->helo_tempfail_defer = strcmp(h, "defer") == 0;
	free(a);
	free(h);
	p->rbl_reply = get_str(cfg, "default_rbl_reply", DEF_RBL_REPLY);
	p->null_key = get_str(cfg, "smtpd_null_access_lookup_key", "<>");
	p->policy_timeout = cfg ? config_get_time(cfg, "smtpd_policy_service_timeout") : 100;
	p->policy_default_action = get_str(cfg, "smtpd_policy_service_default_action",
	    "451 4.3.5 Server configuration problem");
	if (cfg && *config_get(cfg, "rbl_reply_maps")) {
		p->rbl_reply_maps = maplist_open(config_get(cfg, "rbl_reply_maps"), 0, err, errlen);
		if (p->rbl_reply_maps == NULL) {
			free(p->rbl_reply);
			free(p->null_key);
			free(p->policy_default_action);
			free(p);
			return NULL;
		}
	}
	return p;
}

static void params_free(struct rparams *p)
{
	if (p == NULL)
		return;
	free(p->rbl_reply);
	free(p->null_key);
	free(p->policy_default_action);
	maplist_free(p->rbl_reply_maps);
	free(p);
}

/* ---- parsing ---- */

static enum rclass class_of(const char *key)
{
	if (key == NULL)
		return RC_BY_STAGE;
	if (strstr(key, "client"))
		return RC_CLIENT;
	if (strstr(key, "helo"))
		return RC_HELO;
	if (strstr(key, "sender"))
		return RC_SENDER;
	if (strstr(key, "recipient") || strstr(key, "relay"))
		return RC_RECIPIENT;
	if (strstr(key, "data"))
		return RC_DATA;
	return RC_BY_STAGE;
}

static const struct restriction *find_row(const char *name)
{
	for (const struct restriction *t = restriction_table; t->name; t++) {
		if (strcasecmp(t->name, name) == 0)
			return t;
	}
	return NULL;
}

int r_name_uses_dns(const char *name)
{
	const struct restriction *t = find_row(name);
	return t != NULL && (t->flags & R_DNS) != 0;
}

/* The check_*_access of a list, for a bare "type:name" item. */
static const char *default_access(enum rclass cls)
{
	switch (cls) {
	case RC_CLIENT: return "check_client_access";
	case RC_HELO: return "check_helo_access";
	case RC_SENDER: return "check_sender_access";
	case RC_RECIPIENT: return "check_recipient_access";
	default: return NULL;
	}
}

static int parse_arg(struct ritem *it, const struct rparams *p, const char *arg,
    char *err, size_t errlen)
{
	const char *name = it->row->name;

	if (arg == NULL) {
		snprintf(err, errlen, "restriction %s requires %s", name,
		    it->row->arg == ARG_DNSXL ? "a domain name argument" :
		    it->row->arg == ARG_MAP ? "a type:name table argument" :
		    "a transport:server argument");
		return -1;
	}
	it->arg = xstrdup(arg);
	switch (it->row->arg) {
	case ARG_DNSXL:
		if (r_parse_dnsxl(it, arg, err, errlen) < 0)
			return -1;
		break;
	case ARG_MAP: {
		char merr[512];
		if (strchr(arg, ':') == NULL) {
			snprintf(err, errlen, "%s: bad argument \"%s\": need maptype:mapname",
			    name, arg);
			return -1;
		}
		it->map = map_open(arg, 0, merr, sizeof(merr));
		if (it->map == NULL) {
			snprintf(err, errlen, "%s: %s", name, merr);
			return -1;
		}
		break;
	}
	case ARG_SERVICE: {
		char perr[512];
		it->svc = policyd_open(arg, p, perr, sizeof(perr));
		if (it->svc == NULL) {
			snprintf(err, errlen, "%s: %s", name, perr);
			return -1;
		}
		break;
	}
	case ARG_NONE:
		break;
	}
	return 0;
}

struct restrictions *restrictions_parse(const struct config *cfg, const char *key,
    const char *value, char *err, size_t errlen)
{
	char **items = config_list(value ? value : "");
	struct restrictions *r = xcalloc(1, sizeof(*r));
	size_t n = 0;

	while (items[n])
		n++;
	r->items = xcalloc(n + 1, sizeof(*r->items));
	r->cls = class_of(key);
	r->p = params_load(cfg, err, errlen);
	if (r->p == NULL)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		const char *name = items[i];
		const char *arg = NULL;
		const struct restriction *row = find_row(name);
		if (row == NULL && strchr(name, ':') != NULL && default_access(r->cls) != NULL) {
			row = find_row(default_access(r->cls));	/* Postfix short-hand */
			arg = name;
		} else if (row == NULL) {
			snprintf(err, errlen, "unknown restriction '%s'", name);
			goto fail;
		} else if (row->arg != ARG_NONE) {
			arg = items[i + 1];
			if (arg != NULL)
				i++;
		}
		struct ritem *it = &r->items[r->n++];
		it->row = row;
		if (row->arg != ARG_NONE && parse_arg(it, r->p, arg, err, errlen) < 0)
			goto fail;
	}
	config_list_free(items);
	return r;
fail:
	config_list_free(items);
	restrictions_free(r);
	return NULL;
}

/* ---- evaluation ---- */

enum policy_result restrictions_eval(const struct restrictions *r,
    struct policy_ctx *c, char *reply, size_t len)
{
	struct rstate st = { .c = c, .p = r->p, .cls = r->cls, .reply = reply, .len = len };
	enum policy_result res = POLICY_DUNNO;
	int warn_next = 0;
	size_t i;

	c->reply_relay = 0;
	r_class_name(&st);
	for (i = 0; i < r->n; i++) {
		const struct ritem *it = &r->items[i];
		if (it->row->fn == r_warn_if_reject) {
			warn_next = 1;
			continue;
		}
		st.warn = warn_next;
		warn_next = 0;
		res = it->row->fn(&st, it);
		st.warn = 0;
		if (res != POLICY_DUNNO)
			break;
		if (st.dip && st.dir)
			break;
	}
	if (res == POLICY_PENDING) {
		/* Start the later lookups now so they run in parallel. */
		struct rstate pre = st;
		char scratch[R_REPLY_MAX];
		pre.prefetch = 1;
		pre.reply = scratch;
		pre.len = sizeof(scratch);
		for (size_t j = i + 1; j < r->n; j++) {
			if (r->items[j].row->flags & R_DNS)
				(void)r->items[j].row->fn(&pre, &r->items[j]);
		}
		r_cache_wait(c, 1);
		return POLICY_PENDING;
	}
	r_cache_wait(c, 0);
	if (res != POLICY_REJECT && res != POLICY_DEFER && st.dip) {
		str_copy(reply, len, st.dip_reply);
		c->reply_relay = 0;
		return POLICY_REJECT;
	}
	return res;
}

size_t restrictions_count(const struct restrictions *r)
{
	return r ? r->n : 0;
}

void restrictions_free(struct restrictions *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n; i++) {
		free(r->items[i].arg);
		free(r->items[i].dnsxl);
		map_free(r->items[i].map);
		policyd_free(r->items[i].svc);
	}
	free(r->items);
	params_free(r->p);
	free(r);
}
