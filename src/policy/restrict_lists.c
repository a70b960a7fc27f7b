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

int restrict_lists_check(const struct config *cfg, char *err, size_t errlen)
{
	char why[512];

	for (size_t k = 0; k < RL_COUNT; k++) {
		const char *key = restriction_lists[k].key;
		for (int r = 0; r < CONFIG_NROLES; r++) {
			struct restrictions *rs = restrictions_parse(cfg, key,
			    config_get_role(cfg, config_role_names[r], key), why, sizeof(why));
			if (rs == NULL) {
				snprintf(err, errlen, "%s, line %d: %s: %s", config_path(cfg),
				    config_line(cfg, key), key, why);
				return -1;
			}
			restrictions_free(rs);
			/* SPF needs MAIL FROM: too early in these lists unless delayed */
			const char *v = config_get_role(cfg, config_role_names[r], key);
			if (restriction_lists[k].stage < STAGE_MAIL && !config_get_bool(cfg, "smtpd_delay_reject")
			    && v && (strstr(v, "reject_spf_fail") || strstr(v, "defer_spf_temperror"))) {
				snprintf(err, errlen, "%s, line %d: %s: SPF restrictions need MAIL FROM: use them"
				    " here only with smtpd_delay_reject = yes", config_path(cfg),
				    config_line(cfg, key), key);
				return -1;
			}
		}
	}
	return 0;
}
