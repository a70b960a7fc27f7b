/*
 * restrict_lists — the SMTP server's restriction lists, one table row
 * each: the main.cf key and the stage where the list runs when
 * smtpd_delay_reject is off. The smtp engine parses one list per row and
 * role; check-config (master.c) checks the same rows.
 */
#include "policy/restrict.h"

const struct restriction_list restriction_lists[RL_COUNT] = {
	{ RL_CLIENT,    "smtpd_client_restrictions",    STAGE_CONNECT },
	{ RL_HELO,      "smtpd_helo_restrictions",      STAGE_HELO },
	{ RL_SENDER,    "smtpd_sender_restrictions",    STAGE_MAIL },
	{ RL_RELAY,     "smtpd_relay_restrictions",     STAGE_RCPT },
	{ RL_RECIPIENT, "smtpd_recipient_restrictions", STAGE_RCPT },
	{ RL_DATA,      "smtpd_data_restrictions",      STAGE_DATA },
};
