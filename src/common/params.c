/*
 * params — the parameter table: every global mailwarden.conf key, its
 * type, default, limits and one line of help (Postfix names and defaults
 * unless the help says otherwise), and the safe built-in defaults of the
 * submission and smtps listeners. Parsing, checking, `mailwarden params`
 * and the man page's list all come from these two tables.
 * A default of NULL means "computed at load" (see config.c).
 */
#include <limits.h>
#include <stddef.h>
#include <stdio.h>

#include "common/config.h"

#define I_MAX	INT_MAX
#define T_MAX	(10L * 365 * 86400)	/* ten years, in seconds */
#define S_MAX	LONG_MAX

const struct param config_params[] = {
	/* identity and addresses */
	{ "myhostname", PT_STR, NULL, 0, 0, NULL,
	  "Internet host name of this mail system (default: gethostname(), lowercased)" },
	{ "mydomain", PT_STR, NULL, 0, 0, NULL,
	  "Internet domain name (default: $myhostname minus its first label, or localdomain)" },
	{ "myorigin", PT_STR, "$myhostname", 0, 0, NULL,
	  "Domain appended to locally posted mail without a domain" },
	{ "mydestination", PT_DOMAINS, "$myhostname, localhost.$mydomain, localhost", 0, 0, NULL,
	  "Domains delivered locally (literal domains, .domain for subdomains, or type:name maps)" },
	{ "mynetworks", PT_CIDRS, NULL, 0, 0, NULL,
	  "Trusted client networks (default: 127.0.0.0/8 [::1]/128 and this host's own addresses)" },
	{ "mynetworks_style", PT_ENUM, "host", 0, 0, "host|subnet",
	  "How to compute the mynetworks default; only host is supported" },

	/* local and virtual delivery */
	{ "local_recipient_maps", PT_MAPS, "unix:passwd.byname $alias_maps", 0, 0, NULL,
	  "Tables of valid local recipients; unknown local users are rejected at RCPT" },
	{ "alias_maps", PT_MAPS, "", 0, 0, NULL,
	  "aliases(5) tables for local delivery (Postfix default hash:/etc/aliases is not assumed)" },
	{ "alias_database", PT_STR, "$alias_maps", 0, 0, NULL,
	  "Accepted for compatibility and unused (no newaliases step: text maps are read directly)" },
	{ "virtual_alias_maps", PT_MAPS, "", 0, 0, NULL,
	  "Address rewriting tables: address or @domain to one or more addresses" },
	{ "virtual_alias_domains", PT_DOMAINS, "$virtual_alias_maps", 0, 0, NULL,
	  "Domains whose every address is rewritten by virtual_alias_maps" },
	{ "virtual_mailbox_domains", PT_DOMAINS, "$virtual_mailbox_maps", 0, 0, NULL,
	  "Domains delivered to virtual mailboxes under virtual_mailbox_base" },
	{ "virtual_mailbox_maps", PT_MAPS, "", 0, 0, NULL,
	  "Tables mapping a virtual address to its mailbox path (ending in / for Maildir)" },
	{ "virtual_mailbox_base", PT_STR, "", 0, 0, NULL,
	  "Directory prepended to every virtual_mailbox_maps result" },
	{ "virtual_uid_maps", PT_MAPS, "", 0, 0, NULL,
	  "Tables giving the uid that owns a virtual mailbox (static:NNN is common)" },
	{ "virtual_gid_maps", PT_MAPS, "", 0, 0, NULL,
	  "Tables giving the gid that owns a virtual mailbox" },
	{ "virtual_minimum_uid", PT_INT, "100", 1, I_MAX, NULL,
	  "Smallest uid that virtual_uid_maps may return" },
	{ "home_mailbox", PT_STR, "Maildir/", 0, 0, NULL,
	  "Mailbox path relative to a local user's home directory (trailing / means Maildir)" },
	{ "recipient_delimiter", PT_STR, "", 0, 0, NULL,
	  "Characters separating a user name from an address extension (user+ext)" },

	/* listeners */
	{ "smtpd_listen", PT_LISTEN, "0.0.0.0:25, [::]:25", 0, 0, NULL,
	  "Addresses of the SMTP (port 25) listener: ADDR:PORT, [V6ADDR]:PORT, *:PORT" },
	{ "submission_listen", PT_LISTEN, "", 0, 0, NULL,
	  "Addresses of the submission listener (STARTTLS + AUTH), e.g. *:587; empty = off" },
	{ "smtps_listen", PT_LISTEN, "", 0, 0, NULL,
	  "Addresses of the smtps listener (TLS wrapper + AUTH), e.g. *:465; empty = off" },

	/* SMTP server limits */
	{ "message_size_limit", PT_SIZE, "10240000", 0, S_MAX, NULL,
	  "Largest message accepted, in bytes (k, m, g suffixes accepted); 0 = no limit" },
	{ "smtpd_recipient_limit", PT_INT, "1000", 1, I_MAX, NULL,
	  "Most recipients accepted per message" },
	{ "smtpd_timeout", PT_TIME, "300s", 1, T_MAX, NULL,
	  "Time to wait for a client's command or data before disconnecting" },
	{ "smtpd_hard_error_limit", PT_INT, "20", 1, I_MAX, NULL,
	  "Errors after which the session is disconnected" },
	{ "smtpd_soft_error_limit", PT_INT, "10", 1, I_MAX, NULL,
	  "Errors after which each reply is delayed by smtpd_error_sleep_time" },
	{ "smtpd_error_sleep_time", PT_TIME, "1s", 0, T_MAX, NULL,
	  "Delay before each error reply once the soft error limit is reached" },
	{ "smtpd_junk_command_limit", PT_INT, "100", 1, I_MAX, NULL,
	  "Most NOOP, RSET, VRFY, ETRN commands per session" },
	{ "line_length_limit", PT_INT, "2048", 512, I_MAX, NULL,
	  "Longest SMTP command or header line accepted, in bytes" },
	{ "smtpd_client_connection_count_limit", PT_INT, "50", 0, I_MAX, NULL,
	  "Most simultaneous connections from one client address; 0 = no limit" },
	{ "default_process_limit", PT_INT, "100", 1, I_MAX, NULL,
	  "Most simultaneous SMTP sessions" },

	/* SMTP server behaviour */
	{ "smtpd_banner", PT_STR, "$myhostname ESMTP $mail_name", 0, 0, NULL,
	  "Text after the 220 code in the greeting" },
	{ "mail_name", PT_STR, "mailwarden", 0, 0, NULL,
	  "Name of the mail system in the greeting and in bounces" },
	{ "disable_vrfy_command", PT_BOOL, "yes", 0, 0, NULL,
	  "Refuse VRFY so that addresses cannot be harvested" },
	{ "smtpd_forbid_bare_newline", PT_ENUM, "normalize", 0, 0, "normalize|yes|no",
	  "Bare LF in SMTP input: normalize (accept as CRLF), yes (reject; SMTP smuggling), no" },
	{ "smtpd_forbid_bare_newline_exclusions", PT_CIDRS, "$mynetworks", 0, 0, NULL,
	  "Clients exempt from smtpd_forbid_bare_newline" },
	{ "smtpd_peername_lookup", PT_BOOL, "yes", 0, 0, NULL,
	  "Look up the client's reverse DNS name (and verify it forward)" },
	{ "smtpd_delay_reject", PT_BOOL, "yes", 0, 0, NULL,
	  "Apply client, HELO and sender restrictions at RCPT time" },
	{ "smtpd_helo_required", PT_BOOL, "no", 0, 0, NULL,
	  "Require HELO or EHLO before MAIL FROM" },

	/* restrictions */
	{ "smtpd_relay_restrictions", PT_LIST,
	  "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination", 0, 0, NULL,
	  "Relay control at RCPT TO, evaluated before smtpd_recipient_restrictions" },
	{ "smtpd_recipient_restrictions", PT_LIST, "", 0, 0, NULL,
	  "Spam restrictions at RCPT TO" },
	{ "smtpd_client_restrictions", PT_LIST, "", 0, 0, NULL,
	  "Restrictions on the client address and name" },
	{ "smtpd_helo_restrictions", PT_LIST, "", 0, 0, NULL,
	  "Restrictions on the HELO/EHLO name" },
	{ "smtpd_sender_restrictions", PT_LIST, "", 0, 0, NULL,
	  "Restrictions on the MAIL FROM address" },
	{ "smtpd_data_restrictions", PT_LIST, "", 0, 0, NULL,
	  "Restrictions applied at the DATA command" },

	/* TLS and AUTH */
	{ "smtpd_tls_security_level", PT_ENUM, "none", 0, 0, "none|may|encrypt",
	  "TLS: none, may (offer STARTTLS), encrypt (require TLS before MAIL)" },
	{ "smtpd_tls_wrappermode", PT_BOOL, "no", 0, 0, NULL,
	  "TLS from the first byte (smtps, port 465) instead of STARTTLS" },
	{ "smtpd_tls_cert_file", PT_STR, "", 0, 0, NULL,
	  "PEM certificate chain file; must be readable when set" },
	{ "smtpd_tls_key_file", PT_STR, "$smtpd_tls_cert_file", 0, 0, NULL,
	  "PEM private key file; must be readable when set" },
	{ "smtpd_sasl_auth_enable", PT_BOOL, "no", 0, 0, NULL,
	  "Offer SMTP AUTH" },

	/* queue */
	{ "queue_directory", PT_STR, "/var/spool/mailwarden", 0, 0, NULL,
	  "Spool directory for queued messages and state" },
	{ "mail_owner", PT_STR, "mailwarden", 0, 0, NULL,
	  "Unprivileged account that owns the queue and runs the SMTP engine" },
	{ "minimal_backoff_time", PT_TIME, "300s", 1, T_MAX, NULL,
	  "Shortest wait before retrying a deferred message" },
	{ "maximal_backoff_time", PT_TIME, "4000s", 1, T_MAX, NULL,
	  "Longest wait between retries of a deferred message" },
	{ "queue_run_delay", PT_TIME, "300s", 1, T_MAX, NULL,
	  "How often the deferred queue is scanned" },
	{ "maximal_queue_lifetime", PT_TIME, "5d", 0, T_MAX, NULL,
	  "Age after which an undeliverable message is bounced" },
	{ "bounce_queue_lifetime", PT_TIME, "5d", 0, T_MAX, NULL,
	  "Age after which an undeliverable bounce is dropped" },

	/* logging */
	{ "maillog_file", PT_STR, "", 0, 0, NULL,
	  "Log file (opened by the parent, O_APPEND); empty = syslog" },
	{ "syslog_name", PT_STR, "mailwarden", 0, 0, NULL,
	  "Program name in log lines (mailwarden/smtpd[pid])" },
	{ "syslog_facility", PT_STR, "mail", 0, 0, NULL,
	  "Syslog facility when logging to syslog" },

	{ NULL, PT_STR, NULL, 0, 0, NULL, NULL }
};

#define AUTH_ONLY_RELAY "permit_sasl_authenticated, reject"

const struct role_default config_role_defaults[] = {
	{ "submission", "smtpd_tls_security_level", "encrypt" },
	{ "submission", "smtpd_sasl_auth_enable", "yes" },
	{ "submission", "smtpd_relay_restrictions", AUTH_ONLY_RELAY },
	{ "submission", "smtpd_recipient_restrictions", "" },
	{ "smtps", "smtpd_tls_security_level", "encrypt" },
	{ "smtps", "smtpd_sasl_auth_enable", "yes" },
	{ "smtps", "smtpd_relay_restrictions", AUTH_ONLY_RELAY },
	{ "smtps", "smtpd_recipient_restrictions", "" },
	{ "smtps", "smtpd_tls_wrappermode", "yes" },
	{ NULL, NULL, NULL }
};

static const char *const type_names[] = {
	[PT_STR] = "text", [PT_INT] = "integer", [PT_BOOL] = "yes|no",
	[PT_TIME] = "time", [PT_SIZE] = "bytes", [PT_LIST] = "list",
	[PT_MAPS] = "maps", [PT_DOMAINS] = "domains", [PT_CIDRS] = "networks",
	[PT_LISTEN] = "listen addresses", [PT_ENUM] = "enum",
};

void config_print_params(FILE *fp)
{
	for (const struct param *p = config_params; p->name != NULL; p++) {
		fprintf(fp, "# %s (%s", p->help, type_names[p->type]);
		if (p->type == PT_ENUM)
			fprintf(fp, ": %s", p->choices);
		fprintf(fp, ")\n");
		if (p->def == NULL)
			fprintf(fp, "#%s = (computed at start-up)\n", p->name);
		else
			fprintf(fp, "%s = %s\n", p->name, p->def);
	}
}

/* Write s as roff text: backslashes escaped, no control character at the start. */
static void roff_text(FILE *fp, const char *s)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", fp);
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\e", fp);
		else if (*s == '-')
			fputs("\\-", fp);
		else
			fputc(*s, fp);
	}
}

void config_print_man(FILE *fp)
{
	for (const struct param *p = config_params; p->name != NULL; p++) {
		fprintf(fp, ".TP\n.B %s\n", p->name);
		fprintf(fp, "(%s", type_names[p->type]);
		if (p->type == PT_ENUM)
			fprintf(fp, ": %s", p->choices);
		if (p->type == PT_INT || p->type == PT_TIME || p->type == PT_SIZE) {
			if (p->max == LONG_MAX || p->max == INT_MAX)
				fprintf(fp, ", at least %ld", p->min);
			else
				fprintf(fp, ", %ld..%ld", p->min, p->max);
			if (p->type == PT_TIME)
				fputs(" s", fp);
		}
		fputs("; default: ", fp);
		if (p->def == NULL)
			fputs("computed at start-up", fp);
		else if (*p->def == '\0')
			fputs("empty", fp);
		else {
			fputs("\\fB", fp);
			roff_text(fp, p->def);
			fputs("\\fR", fp);
		}
		fputs(")\n", fp);
		roff_text(fp, p->help);
		fputs(".\n", fp);
	}
}
