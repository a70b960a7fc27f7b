/*
 * restrict_lists — the SMTP server's restriction lists, one table row
 * each: the main.cf key and the stage where the list runs when
 * smtpd_delay_reject is off. The smtp engine parses one list per row and
 * role; check-config checks the same rows (restrict_lists_check).
 */
#include <stdio.h>
#include <string.h>

#include "common/config.h"
#include "policy/restrict.h"

const struct restriction_list restriction_lists[RL_COUNT] = {
	{ RL_CLIENT,    "smtpd_client_restrictions",    STAGE_CONNECT },
	{ RL_HELO,      "smtpd_helo_restrictions",      STAGE_HELO },
	{ RL_SENDER,    "smtpd_sender_restrictions",    STAGE_MAIL },
	{ RL_RELAY,     "smtpd_relay_restrictions",     STAGE_RCPT },
	{ RL_RECIPIENT, "smtpd_recipient_restrictions", STAGE_RCPT },
	{ RL_DATA,      "smtpd_data_restrictions",      STAGE_DATA },
};

/* Parse every list of every role; each failure goes to out (if not NULL,
 * and the walk goes on) or err (and it stops). The number of failures. */
static int walk(const struct config *cfg, FILE *out, char *err, size_t errlen)
{
	char why[512], msg[1024];
	int n = 0;

	for (size_t k = 0; k < RL_COUNT; k++) {
		const char *key = restriction_lists[k].key;
		for (int r = 0; r < CONFIG_NROLES; r++) {
			if (config_role_name(cfg, r) == NULL)
				continue;	/* an unused named-listener slot */
			const char *v = config_get_role(cfg, config_role_name(cfg, r), key);
			if (r > 0 && v == config_get(cfg, key))
				continue;	/* the global list again: checked */
			struct restrictions *rs = restrictions_parse(cfg, key, v, why, sizeof(why));
			if (rs != NULL) {
				restrictions_free(rs);
				/* SPF needs MAIL FROM: too early in these lists unless delayed */
				if (restriction_lists[k].stage >= STAGE_MAIL ||
				    config_get_bool(cfg, "smtpd_delay_reject") || v == NULL ||
				    (!strstr(v, "reject_spf_fail") && !strstr(v, "defer_spf_temperror")))
					continue;
				snprintf(why, sizeof(why), "SPF restrictions need MAIL FROM: use them"
				    " here only with smtpd_delay_reject = yes");
			}
			if (v == config_get(cfg, key))
				snprintf(msg, sizeof(msg), "%s, line %d: %s: %s", config_path(cfg),
				    config_line(cfg, key), key, why);
			else	/* an override or a role's default */
				snprintf(msg, sizeof(msg), "%s: %s/inet/%s: %s", config_path(cfg),
				    config_role_name(cfg, r), key, why);
			n++;
			if (out == NULL) {
				snprintf(err, errlen, "%s", msg);
				return n;
			}
			fprintf(out, "mailwarden: error: %s\n", msg);
		}
	}
	return n;
}

int restrict_lists_check(const struct config *cfg, char *err, size_t errlen)
{
	return walk(cfg, NULL, err, errlen) > 0 ? -1 : 0;
}

int restrict_lists_report(const struct config *cfg, FILE *out)
{
	return walk(cfg, out, NULL, 0);
}
