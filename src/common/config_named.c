/*
 * config_named — the listener slots of a loaded configuration: the
 * built-in roles (smtpd, submission, smtps) and the named listeners
 * (`listeners = NAME`, NAME/inet/listen, NAME/inet/KEY; what a master.cf
 * smtpd entry with -o gives Postfix, docs/content-filter.md). config.c
 * makes a slot at a NAME/inet/KEY line and checks them all after the load.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "common/config.h"
#include "common/config_int.h"
#include "common/util.h"

const char *const config_role_names[CONFIG_NBUILTIN] = { "smtpd", "submission", "smtps" };

int config_role_index(const struct config *cfg, const char *role)
{
	if (strcmp(role, "smtp") == 0)
		return 0;
	for (int r = 0; r < NROLES; r++) {
		const char *n = config_role_name(cfg, r);
		if (n != NULL && strcmp(role, n) == 0)
			return r;
	}
	return -1;
}

const char *config_role_name(const struct config *cfg, int r)
{
	if (r < 0 || r >= NROLES)
		return NULL;
	return r < CONFIG_NBUILTIN ? config_role_names[r] : cfg->rname[r];
}

/* A named listener's slot, made on its first NAME/inet/KEY line: 0..,
 * or -1 with why (bad name, too many). */
int config_named_slot(struct config *cfg, const char *name, char *why, size_t whylen)
{
	int r = config_role_index(cfg, name);
	if (r >= 0)
		return r;
	for (const char *p = name; *p; p++) {
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '-' && *p != '_') {
			snprintf(why, whylen, "bad listener name '%s' (lower-case letters, "
			    "digits, - and _)", name);
			return -1;
		}
	}
	for (r = CONFIG_NBUILTIN; r < NROLES; r++) {
		if (cfg->rname[r] == NULL) {
			cfg->rname[r] = xstrdup(name);
			return r;
		}
	}
	snprintf(why, whylen, "more than %d named listeners", CONFIG_MAX_NAMED);
	return -1;
}

/* Every named listener is declared in `listeners` and has its
 * NAME/inet/listen; every declared one was given an address. */
int config_check_named(struct config *cfg, char *err, size_t errlen)
{
	int li = config_must_index("listeners"), si = config_must_index("smtpd_listen");
	char **names = config_list(cfg->val[li] ? cfg->val[li] : "");
	int rc = 0;

	for (int r = CONFIG_NBUILTIN; rc == 0 && r < NROLES; r++) {
		if (cfg->rname[r] == NULL)
			continue;
		int declared = 0;
		for (char **n = names; *n; n++)
			declared |= strcmp(*n, cfg->rname[r]) == 0;
		const struct setting *first = NULL;	/* the first line naming it */
		for (size_t i = 0; i < cfg->nparams; i++)
			if (cfg->rset[r][i].raw && (first == NULL || cfg->rset[r][i].line < first->line))
				first = &cfg->rset[r][i];
		if (!declared && first != NULL)
			rc = config_keep_going(cfg, config_err(cfg, first->line, err, errlen, "%s: "
			    "unknown listener '%s' (use smtpd, submission, smtps or a name "
			    "declared in listeners)", first->key, cfg->rname[r]), err);
	}
	for (char **n = names; rc == 0 && *n; n++) {
		int r = config_role_index(cfg, *n);
		if (r >= 0 && r < CONFIG_NBUILTIN)
			rc = config_keep_going(cfg, config_err(cfg, cfg->set[li].line, err, errlen,
			    "listeners: '%s' is a built-in listener (set %s_listen)", *n,
			    r == 0 ? "smtpd" : config_role_names[r]), err);
		else if (r < 0 || cfg->rset[r][si].raw == NULL)
			rc = config_keep_going(cfg, config_err(cfg, cfg->set[li].line, err, errlen,
			    "listeners: '%s' has no address: set %s/inet/listen = ADDR:PORT",
			    *n, *n), err);
	}
	config_list_free(names);
	return rc;
}

/* The keys the smtp engine reads per listener (smtp/engine.c's
 * engine_init, smtpd_milters in smtp/milters.c, the restriction lists
 * of policy/restrict_lists.c; a named listener's address is kept as its
 * smtpd_listen). A ROLE/inet/KEY of any other key does nothing:
 * check-config warns, import-postfix does not write it. Add a key here
 * when the engine starts reading it per listener. */
static const char *const listener_keys[] = {
	"smtpd_listen",
	"smtpd_client_restrictions", "smtpd_helo_restrictions", "smtpd_sender_restrictions",
	"smtpd_relay_restrictions", "smtpd_recipient_restrictions", "smtpd_data_restrictions",
	"smtpd_delay_reject", "smtpd_helo_required", "smtpd_tls_security_level",
	"smtpd_tls_wrappermode", "smtpd_sasl_auth_enable", "smtpd_milters", "content_filter",
	"receive_override_options", "smtpd_tls_auth_only", "smtpd_reject_unlisted_recipient",
	"smtpd_hard_error_limit", "smtpd_soft_error_limit", "smtpd_error_sleep_time",
	"smtpd_client_connection_count_limit", "smtpd_client_connection_rate_limit",
	"mynetworks", "milter_macro_daemon_name",
};

int config_listener_key(const char *name)
{
	for (size_t i = 0; i < sizeof(listener_keys) / sizeof(*listener_keys); i++)
		if (strcmp(name, listener_keys[i]) == 0)
			return 1;
	return 0;
}
