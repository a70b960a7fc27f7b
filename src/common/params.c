/*
 * params — the parameter table: every global mailwarden.conf key, its
 * type, default, limits and one line of help (Postfix names and defaults
 * unless the help says otherwise), the safe built-in defaults of the
 * submission and smtps listeners, how numbers, times, sizes, booleans,
 * lists and listen addresses parse, and the table printed for
 * `mailwarden params` and the man page. Checking a value against its
 * type (main.cf's vocabulary) is in config_check.c, the table machinery
 * any vocabulary uses in param.c. A default of NULL means "computed at load" (see config.c).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/util.h"

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
	  "Domain appended to locally posted mail without a domain (sender and recipients); an absolute path names a file whose first line is used (Debian: /etc/mailname)" },
	{ "mydestination", PT_DOMAINS, "$myhostname, localhost.$mydomain, localhost", 0, 0, NULL,
	  "Domains delivered locally (literal domains, .domain for subdomains, type:name maps, or /file/name: a file of domains)" },
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
	  "Tables giving the uid that owns a virtual mailbox (static:NNN is common; a number, as Postfix needs)" },
	{ "virtual_gid_maps", PT_MAPS, "", 0, 0, NULL,
	  "Tables giving the gid that owns a virtual mailbox (a number: static:NNN)" },
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
	{ "listeners", PT_LIST, "", 0, 0, NULL,
	  "Named extra smtpd listeners (as master.cf entries): each NAME needs NAME/inet/listen = ADDR:PORT and takes NAME/inet/KEY overrides" },
	{ "metrics_listen", PT_LISTEN, "", 0, 0, NULL,
	  "Address of the Prometheus metrics endpoint (plain HTTP, GET /metrics), e.g. 127.0.0.1:9154; empty = off (docs/metrics.md)" },
	{ "metrics_allow_remote", PT_BOOL, "no", 0, 0, NULL,
	  "Allow a metrics_listen address other than loopback (the endpoint has no authentication)" },

	/* SMTP server limits */
	{ "message_size_limit", PT_SIZE, "10240000", 0, S_MAX, NULL,
	  "Largest message accepted, in bytes (k, m, g suffixes accepted); 0 = no limit" },
	{ "smtpd_recipient_limit", PT_INT, "1000", 1, I_MAX, NULL,
	  "Most recipients accepted per message" },
	{ "smtpd_timeout", PT_TIME, "300s", 1, T_MAX, NULL,
	  "Time to wait for a client's command or data before disconnecting (10s in stress mode)" },
	{ "smtpd_hard_error_limit", PT_INT, "20", 1, I_MAX, NULL,
	  "Errors after which the session is disconnected (1 in stress mode)" },
	{ "smtpd_soft_error_limit", PT_INT, "10", 1, I_MAX, NULL,
	  "Errors after which each reply is delayed by smtpd_error_sleep_time" },
	{ "smtpd_error_sleep_time", PT_TIME, "1s", 0, T_MAX, NULL,
	  "Delay before each error reply once the soft error limit is reached" },
	{ "smtpd_junk_command_limit", PT_INT, "100", 1, I_MAX, NULL,
	  "Most NOOP, RSET, VRFY, ETRN commands per session (1 in stress mode)" },
	{ "line_length_limit", PT_INT, "2048", 512, I_MAX, NULL,
	  "Longest SMTP command or header line accepted, in bytes" },
	{ "smtpd_client_connection_count_limit", PT_INT, "50", 0, I_MAX, NULL,
	  "Most simultaneous connections from one client address; 0 = no limit" },
	{ "default_process_limit", PT_INT, "10000", 1, I_MAX, NULL,
	  "Most simultaneous SMTP sessions; more clients wait in the listen backlog, and stress mode starts (Postfix: 100 smtpd processes; a mailwarden session costs about 1 KiB)" },
	{ "smtpd_client_connection_rate_limit", PT_INT, "0", 0, I_MAX, NULL,
	  "Most connections per client (prefix) per anvil_rate_time_unit; 0 = no limit" },
	{ "smtpd_client_message_rate_limit", PT_INT, "0", 0, I_MAX, NULL,
	  "Most MAIL FROM requests per client (prefix) per anvil_rate_time_unit; 0 = no limit" },
	{ "smtpd_client_recipient_rate_limit", PT_INT, "0", 0, I_MAX, NULL,
	  "Most RCPT TO requests per client (prefix) per anvil_rate_time_unit; 0 = no limit" },
	{ "smtpd_client_new_tls_session_rate_limit", PT_INT, "0", 0, I_MAX, NULL,
	  "Most new TLS sessions (STARTTLS or smtps) per client (prefix) per anvil_rate_time_unit; 0 = no limit" },
	{ "smtpd_client_event_limit_exceptions", PT_CIDRS, "$mynetworks", 0, 0, NULL,
	  "Clients exempt from the smtpd_client_*_count/rate limits" },
	{ "smtpd_client_ipv4_prefix_length", PT_INT, "32", 0, 32, NULL,
	  "IPv4 clients are counted per network of this length (Postfix 3.8)" },
	{ "smtpd_client_ipv6_prefix_length", PT_INT, "64", 0, 128, NULL,
	  "IPv6 clients are counted per network of this length (Postfix: 84; mailwarden: 64, as the ban engine)" },
	{ "smtpd_per_request_deadline", PT_BOOL, "no", 0, 0, NULL,
	  "smtpd_timeout and smtpd_starttls_timeout limit a whole request and its reply, not each read (yes in stress mode)" },
	{ "smtpd_min_data_rate", PT_INT, "500", 1, I_MAX, NULL,
	  "With per-request deadlines: each DATA byte received extends the deadline by 1/rate s, up to smtpd_timeout" },
	{ "smtpd_starttls_timeout", PT_TIME, "300s", 1, T_MAX, NULL,
	  "Time limit of the server-side TLS handshake (10s in stress mode)" },

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
	{ "reject_code", PT_INT, "554", 400, 599, NULL,
	  "Reply code of the reject restriction" },
	{ "defer_code", PT_INT, "450", 400, 599, NULL,
	  "Reply code of the defer restriction and DEFER-like results" },
	{ "relay_domains_reject_code", PT_INT, "554", 400, 599, NULL,
	  "Reply code of reject_unauth_destination (minus 100 for defer_unauth_destination)" },
	{ "unknown_client_reject_code", PT_INT, "450", 400, 599, NULL,
	  "Reply code when the client has no (forward-confirmed) hostname" },
	{ "unknown_hostname_reject_code", PT_INT, "450", 400, 599, NULL,
	  "Reply code of reject_unknown_helo_hostname" },
	{ "unknown_address_reject_code", PT_INT, "450", 400, 599, NULL,
	  "Reply code of reject_unknown_sender_domain / reject_unknown_recipient_domain" },
	{ "unknown_local_recipient_reject_code", PT_INT, "550", 400, 599, NULL,
	  "Reply code of reject_unlisted_recipient" },
	{ "smtpd_reject_unlisted_recipient", PT_BOOL, "yes", 0, 0, NULL,
	  "Reject RCPT TO a recipient no table lists, whatever the restriction lists say (no: delivery decides)" },
	{ "invalid_hostname_reject_code", PT_INT, "501", 400, 599, NULL,
	  "Reply code of reject_invalid_helo_hostname" },
	{ "non_fqdn_reject_code", PT_INT, "504", 400, 599, NULL,
	  "Reply code of the reject_non_fqdn_* restrictions" },
	{ "maps_rbl_reject_code", PT_INT, "554", 400, 599, NULL,
	  "Reply code ($rbl_code) when a DNS blocklist lists the client or a domain" },
	{ "access_map_reject_code", PT_INT, "554", 400, 599, NULL,
	  "Reply code of a REJECT result in an access table" },
	{ "access_map_defer_code", PT_INT, "450", 400, 599, NULL,
	  "Reply code of a DEFER result in an access table" },
	{ "reject_tempfail_action", PT_ENUM, "defer_if_permit", 0, 0, "defer|defer_if_permit",
	  "Action after a temporary failure of a reject_* restriction" },
	{ "unknown_address_tempfail_action", PT_ENUM, "$reject_tempfail_action", 0, 0,
	  "defer|defer_if_permit",
	  "Action when reject_unknown_sender/recipient_domain fails temporarily" },
	{ "unknown_helo_hostname_tempfail_action", PT_ENUM, "$reject_tempfail_action", 0, 0,
	  "defer|defer_if_permit",
	  "Action when reject_unknown_helo_hostname fails temporarily" },
	{ "default_rbl_reply", PT_TEMPLATE,
	  "$rbl_code Service unavailable; $rbl_class [$rbl_what] blocked using "
	  "$rbl_domain${rbl_reason?; $rbl_reason}", 0, 0, NULL,
	  "Reply template for DNS blocklist rejects ($rbl_* are expanded at reply time)" },
	{ "rbl_reply_maps", PT_MAPS, "", 0, 0, NULL,
	  "Tables of reply templates per DNS list domain (as default_rbl_reply)" },
	{ "smtpd_null_access_lookup_key", PT_STR, "<>", 0, 0, NULL,
	  "Lookup key for the null sender in check_sender_access tables" },
	{ "smtpd_policy_service_timeout", PT_TIME, "100s", 1, T_MAX, NULL,
	  "Time a check_policy_service request may take" },
	{ "smtpd_policy_service_default_action", PT_STR, "451 4.3.5 Server configuration problem",
	  0, 0, NULL,
	  "Result used when the policy server does not answer (in time)" },

	/* DKIM (src/dkim, docs/sending.md) */
	{ "dkim_selector", PT_STR, "", 0, 0, NULL,
	  "Selectors of the short form: every $dkim_key_directory/DOMAIN/SELECTOR.key that exists signs mail From DOMAIN (RSA and Ed25519 keys both sign)" },
	{ "dkim_key_directory", PT_STR, "/etc/mailwarden/dkim", 0, 0, NULL,
	  "Directory of the short form's key files (root-only; read by the master)" },
	{ "dkim_key_table", PT_MAPS, "", 0, 0, NULL,
	  "OpenDKIM KeyTable: key name -> domain:selector:/path/to/key" },
	{ "dkim_signing_table", PT_MAPS, "", 0, 0, NULL,
	  "OpenDKIM SigningTable: From address, then its domain -> key names (comma or space separated)" },
	{ "dkim_verify", PT_BOOL, "no", 0, 0, NULL,
	  "Verify DKIM signatures of mail from other clients at end of DATA and add Authentication-Results (replaces a verifying milter's header with the same authserv_id)" },
	/* DMARC (src/dmarc, docs/sending.md): evaluated with dkim_verify */
	{ "dmarc_policy_enforce", PT_BOOL, "no", 0, 0, NULL,
	  "Act on DMARC failures (dkim_verify = yes): p=reject gets 550 5.7.1, p=quarantine goes to the hold queue; never for mynetworks or authenticated clients" },
	{ "dmarc_public_suffix_list", PT_STR, "/usr/share/publicsuffix/public_suffix_list.dat", 0, 0, NULL,
	  "Public Suffix List for DMARC's organisational domain (read by the master before the chroot)" },
	{ "authserv_id", PT_STR, "$myhostname", 0, 0, NULL,
	  "Authentication-Results authserv-id (RFC 8601); such headers claiming it are removed from incoming mail" },

	/* milters (src/milter, docs/milter.md) */
	{ "smtpd_milters", PT_STR, "", 0, 0, NULL,
	  "Milters for mail received over SMTP: inet:host:port, unix:path (under queue_directory), { endpoint, default_action=accept, command_timeout=10s, ... }" },
	{ "non_smtpd_milters", PT_STR, "", 0, 0, NULL,
	  "Milters for mail from the sendmail command (applied by pickup, emulating a connection from localhost)" },
	{ "smtpd_milter_maps", PT_MAPS, "", 0, 0, NULL,
	  "Client address -> milter list for that client (DISABLE: none), instead of smtpd_milters" },
	{ "milter_default_action", PT_ENUM, "tempfail", 0, 0, "accept|reject|tempfail|quarantine",
	  "What a milter that cannot be reached or fails means for the mail" },
	{ "milter_protocol", PT_INT, "6", 2, 6, NULL,
	  "Milter protocol version offered to milters" },
	{ "milter_connect_timeout", PT_TIME, "30s", 1, T_MAX, NULL,
	  "Time to connect to a milter and negotiate (and to wait for a free connection)" },
	{ "milter_command_timeout", PT_TIME, "30s", 1, T_MAX, NULL,
	  "Time a milter may take to answer a command other than message content" },
	{ "milter_content_timeout", PT_TIME, "300s", 1, T_MAX, NULL,
	  "Time a milter may take to answer a piece of message content" },
	{ "milter_connection_limit", PT_INT, "1000", 1, I_MAX, NULL,
	  "Most milter connections the smtp engine holds open at once; more sessions wait for one (mailwarden's own)" },
	{ "milter_macro_daemon_name", PT_STR, "$myhostname", 0, 0, NULL,
	  "The {daemon_name} macro sent to milters" },
	{ "milter_macro_v", PT_STR, "$mail_name " MAILWARDEN_VERSION, 0, 0, NULL,
	  "The v macro sent to milters" },
	{ "milter_macro_defaults", PT_STR, "", 0, 0, NULL,
	  "name=value (or { name = value }) defaults for macros a milter asks for that have no value" },
	{ "milter_connect_macros", PT_STR, "j {daemon_name} {daemon_addr} v _", 0, 0, NULL,
	  "Macros sent with the connect event" },
	{ "milter_helo_macros", PT_STR, "{tls_version} {cipher} {cipher_bits} {cert_subject} {cert_issuer}", 0, 0, NULL,
	  "Macros sent with HELO/EHLO" },
	{ "milter_mail_macros", PT_STR, "i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} {mail_mailer}", 0, 0, NULL,
	  "Macros sent with MAIL FROM" },
	{ "milter_rcpt_macros", PT_STR, "i {rcpt_addr} {rcpt_host} {rcpt_mailer}", 0, 0, NULL,
	  "Macros sent with RCPT TO" },
	{ "milter_data_macros", PT_STR, "i", 0, 0, NULL,
	  "Macros sent with DATA" },
	{ "milter_end_of_header_macros", PT_STR, "i", 0, 0, NULL,
	  "Macros sent at the end of the message headers" },
	{ "milter_end_of_data_macros", PT_STR, "i", 0, 0, NULL,
	  "Macros sent at the end of the message" },
	{ "milter_unknown_command_macros", PT_STR, "", 0, 0, NULL,
	  "Macros sent with an unknown command (the SMFIC_UNKNOWN event)" },

	/* header and body checks (src/mail/checks.c, src/smtp/cleanup.c, docs/content-checks.md) */
	{ "header_checks", PT_MAPS, "", 0, 0, NULL,
	  "regexp:/pcre: tables for the primary message headers (header_checks(5) actions)" },
	{ "mime_header_checks", PT_MAPS, "$header_checks", 0, 0, NULL,
	  "Tables for MIME headers (MIME-Version, Content-*) and the headers of MIME parts" },
	{ "nested_header_checks", PT_MAPS, "$header_checks", 0, 0, NULL,
	  "Tables for the headers of attached messages (message/rfc822)" },
	{ "body_checks", PT_MAPS, "", 0, 0, NULL,
	  "Tables for each message body line" },
	{ "body_checks_size_limit", PT_INT, "51200", 0, I_MAX, NULL,
	  "Bytes of each body segment (a MIME part's body, or the whole body) that body_checks inspects; the rest passes unchecked" },
	{ "milter_header_checks", PT_MAPS, "", 0, 0, NULL,
	  "Tables for headers added or changed by milters, before their changes are written (header_checks actions but PREPEND)" },

	/* after-queue content filter (docs/content-filter.md) */
	{ "content_filter", PT_STR, "", 0, 0, NULL,
	  "Where queued mail goes before delivery: smtp:[host]:port or lmtp:[host]:port (the filter re-injects it); per listener too" },
	{ "receive_override_options", PT_LIST, "", 0, 0, NULL,
	  "Features a listener leaves out: no_unknown_recipient_checks, no_address_mappings, no_header_body_checks, no_milters" },

	/* DNS (c-ares) */
	{ "dns_servers", PT_LIST, "", 0, 0, NULL,
	  "DNS servers as ADDR or ADDR:PORT ([v6]:PORT); empty = /etc/resolv.conf" },
	{ "dns_timeout", PT_TIME, "5s", 1, 300, NULL,
	  "Time one DNS query may take, all tries together, before it is a temporary failure" },
	{ "dns_tries", PT_INT, "2", 1, 10, NULL,
	  "How often a DNS query is sent before it times out" },

	/* pregreet and DNSBL scoring (what postscreen does, inside the engine) */
	{ "postscreen_greet_wait", PT_TIME, "6s", 0, 60, NULL,
	  "Time a new client on port 25 must stay silent after the teaser banner (test on when set, or when postscreen_greet_action is not ignore)" },
	{ "postscreen_greet_action", PT_ENUM, "ignore", 0, 0, "ignore|enforce|drop",
	  "Early talker: ignore (log only), enforce (reject its mail with 550), drop (521, close)" },
	{ "postscreen_greet_banner", PT_STR, "$smtpd_banner", 0, 0, NULL,
	  "Teaser banner sent as 220- before the wait; empty = no teaser" },
	{ "postscreen_greet_ttl", PT_TIME, "1d", 0, T_MAX, NULL,
	  "How long a client that passed the pregreet test skips it" },
	{ "postscreen_dnsbl_sites", PT_LIST, "", 0, 0, NULL,
	  "DNSBL/DNSWL sites with weights: zen.example*2, list.example=127.0.0.[2..4], wl.example*-2" },
	{ "postscreen_dnsbl_threshold", PT_INT, "1", -1000, 1000, NULL,
	  "Score at which a client is blocked by postscreen_dnsbl_sites" },
	{ "postscreen_dnsbl_allowlist_threshold", PT_INT, "0", -1000, 1000, NULL,
	  "Score at or below which a client skips the other tests (0: off)" },
	{ "postscreen_dnsbl_action", PT_ENUM, "ignore", 0, 0, "ignore|enforce|drop",
	  "Client over the threshold: ignore (log only), enforce (reject its mail), drop (521, close)" },

	/* TLS and AUTH */
	{ "smtpd_tls_security_level", PT_ENUM, "none", 0, 0, "none|may|encrypt",
	  "TLS: none, may (offer STARTTLS), encrypt (require TLS before MAIL)" },
	{ "smtpd_tls_wrappermode", PT_BOOL, "no", 0, 0, NULL,
	  "TLS from the first byte (smtps, port 465) instead of STARTTLS" },
	{ "smtpd_tls_cert_file", PT_STR, "", 0, 0, NULL,
	  "PEM certificate chain file; must be readable when set" },
	{ "smtpd_tls_key_file", PT_STR, "$smtpd_tls_cert_file", 0, 0, NULL,
	  "PEM private key file; must be readable when set" },
	{ "smtpd_tls_protocols", PT_STR, ">=TLSv1.2", 0, 0, NULL,
	  "TLS versions for opportunistic STARTTLS: >=TLSv1.2, or !SSLv3, !TLSv1, !TLSv1.1 (mailwarden: TLS 1.2+)" },
	{ "smtpd_tls_mandatory_protocols", PT_STR, ">=TLSv1.2", 0, 0, NULL,
	  "TLS versions where TLS is required (encrypt, smtps)" },
	{ "smtpd_tls_ciphers", PT_ENUM, "high", 0, 0, "medium|high",
	  "TLS 1.2 cipher grade: high (AEAD with forward secrecy) or medium (mailwarden default: high)" },
	{ "smtpd_tls_exclude_ciphers", PT_LIST, "", 0, 0, NULL,
	  "OpenSSL cipher names or patterns to exclude" },
	{ "tls_server_sni_maps", PT_MAPS, "", 0, 0, NULL,
	  "SNI name -> \"keyfile certfile\" or one PEM file with key and chain, per domain" },
	{ "smtpd_tls_received_header", PT_BOOL, "yes", 0, 0, NULL,
	  "Record TLS version and cipher in the Received header (mailwarden default: yes)" },
	{ "smtpd_tls_loglevel", PT_INT, "1", 0, 4, NULL,
	  "TLS logging: 0 none, 1 one line per handshake (mailwarden default: 1)" },
	{ "smtpd_tls_auth_only", PT_BOOL, "yes", 0, 0, NULL,
	  "Offer AUTH only after STARTTLS (mailwarden default: yes)" },
	{ "smtpd_sasl_auth_enable", PT_BOOL, "no", 0, 0, NULL,
	  "Offer SMTP AUTH" },
	{ "smtpd_sasl_type", PT_ENUM, "passwd-file", 0, 0, "passwd-file|dovecot",
	  "Password backend: passwd-file (Dovecot format file) or dovecot (auth socket)" },
	{ "smtpd_sasl_path", PT_STR, "", 0, 0, NULL,
	  "passwd-file: the password file (relative: to the directory mailwarden starts in); dovecot: the auth socket (relative: under queue_directory)" },
	{ "smtpd_sender_login_maps", PT_MAPS, "", 0, 0, NULL,
	  "Sender address -> login names that may use it (reject_sender_login_mismatch)" },
	{ "smtpd_client_auth_rate_limit", PT_INT, "0", 0, I_MAX, NULL,
	  "AUTH commands per client address per anvil_rate_time_unit (0: no limit)" },
	{ "anvil_rate_time_unit", PT_TIME, "60s", 1, T_MAX, NULL,
	  "Time unit of the smtpd_client_*_rate_limit counters" },
	{ "smtpd_sasl_failure_delay", PT_TIME, "1s", 0, 60, NULL,
	  "Delay before a 535 reply, doubled with each failure of the client, up to 8 times (mailwarden)" },

	/* ban engine (warden) */
	{ "warden_owner", PT_STR, "mwwarden", 0, 0, NULL,
	  "Unprivileged account the ban engine runs as (made by install-deps.sh; in groups adm and systemd-journal to read logs)" },
	{ "data_directory", PT_STR, "/var/lib/mailwarden", 0, 0, NULL,
	  "Directory of the ban engine's state, owned by warden_owner, mode 0700 (created by the master)" },
	{ "warden_dbfile", PT_STR, "$data_directory/warden.db", 0, 0, NULL,
	  "SQLite file of the ban engine's bans, failures and log positions (fail2ban's dbfile)" },
	{ "warden_dbpurgeage", PT_TIME, "1d", 60, T_MAX, NULL,
	  "Failures and ended bans older than this are deleted from warden_dbfile (fail2ban's dbpurgeage)" },
	{ "warden_prefix4", PT_INT, "32", 1, 32, NULL,
	  "Failures are counted and bans made per IPv4 network of this length (jail key prefix4 overrides)" },
	{ "warden_prefix6", PT_INT, "64", 1, 128, NULL,
	  "Failures are counted and bans made per IPv6 network of this length (jail key prefix6 overrides)" },
	{ "warden_socket", PT_STR, "$queue_directory/warden.sock", 0, 0, NULL,
	  "Control socket of the ban engine (root only) for mailwarden status, ban, unban, banned, why, reload" },
	{ "warden_logtarget", PT_STR, "maillog", 0, 0, NULL,
	  "Where the ban engine logs in fail2ban's format: a file path, or maillog (the mail log)" },
	{ "warden_login_allow_time", PT_TIME, "1h", 0, T_MAX, NULL,
	  "After a successful login, AUTH failures from that address with the same login are not counted for this long" },
	{ "warden_fail2ban_config", PT_STR, "", 0, 0, NULL,
	  "fail2ban's configuration directory (e.g. /etc/fail2ban) read as fail2ban-server does: its jails, filter.d, action.d, logtarget, dbpurgeage; its dbfile's bans imported once" },
	{ "warden_action_path", PT_LIST, "/etc/mailwarden/action.d /etc/fail2ban/action.d", 0, 0, NULL,
	  "Directories searched for fail2ban action.d files (NAME.conf and NAME.local), in order" },
	/* cluster: bans shared through Redis (docs/cluster.md) */
	{ "warden_cluster", PT_STR, "", 0, 0, NULL,
	  "Redis that shares bans and failures between nodes: redis://host:port/db (private link only), rediss://host:port/db (TLS) or unix:/path (empty: no cluster)" },
	{ "warden_cluster_password_file", PT_STR, "", 0, 0, NULL,
	  "File with the Redis ACL user and password (\"user password\" or \"password\"), read as root at start" },
	{ "warden_cluster_ca_file", PT_STR, "", 0, 0, NULL,
	  "CA certificates that verify the rediss:// server (empty: the system's store); its name or address must match warden_cluster's host" },
	{ "warden_cluster_node", PT_STR, "$myhostname", 0, 0, NULL,
	  "This node's name in the cluster's keys and messages" },

	/* queue */
	{ "queue_directory", PT_STR, "/var/spool/mailwarden", 0, 0, NULL,
	  "Spool directory for queued messages and state" },
	{ "mail_owner", PT_STR, "mailwarden", 0, 0, NULL,
	  "Unprivileged account that owns the queue and runs the SMTP engine" },
	{ "seccomp", PT_BOOL, "yes", 0, 0, NULL,
	  "Confine the unprivileged processes with seccomp allow-lists (no: for debugging only)" },
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

	/* outbound (smtp/lmtp client) */
	{ "relayhost", PT_STR, "", 0, 0, NULL,
	  "Next hop for mail to remote domains: host, [host], host:port or [host]:port ([] = no MX lookup); empty = MX" },
	{ "relay_domains", PT_DOMAINS, "", 0, 0, NULL,
	  "Remote domains this server accepts mail for and forwards (backup MX)" },
	{ "transport_maps", PT_MAPS, "", 0, 0, NULL,
	  "Per-address/domain routing: smtp:[host]:port, lmtp:unix:/path, lmtp:inet:host:port, local, virtual, error:text" },
	{ "mailbox_transport", PT_STR, "", 0, 0, NULL,
	  "Transport for local mailboxes after alias expansion, e.g. lmtp:unix:/path; empty = Maildir" },
	{ "virtual_transport", PT_STR, "virtual", 0, 0, NULL,
	  "Transport for virtual_mailbox_domains: virtual (Maildir) or lmtp:unix:/path, lmtp:inet:host:port" },
	{ "smtp_tcp_port", PT_INT, "25", 1, 65535, NULL,
	  "TCP port of next hops found by MX or A/AAAA lookup (and of a relayhost without :port)" },
	{ "lmtp_tcp_port", PT_INT, "24", 1, 65535, NULL,
	  "TCP port of lmtp:inet:host next hops without :port" },
	{ "smtp_helo_name", PT_STR, "$myhostname", 0, 0, NULL,
	  "Host name sent in EHLO/HELO/LHLO" },
	{ "default_destination_concurrency_limit", PT_INT, "20", 1, I_MAX, NULL,
	  "Most parallel connections to one next hop" },
	{ "smtp_connection_cache_time_limit", PT_TIME, "2s", 0, 300, NULL,
	  "How long an idle connection is kept for more mail to the same next hop" },
	{ "smtp_mx_address_limit", PT_INT, "5", 1, 100, NULL,
	  "Most addresses (MX hosts x A/AAAA) tried per delivery" },
	{ "smtp_connect_timeout", PT_TIME, "30s", 1, T_MAX, NULL,
	  "Time to wait for a TCP connection to complete" },
	{ "smtp_helo_timeout", PT_TIME, "300s", 1, T_MAX, NULL,
	  "Time to wait for the greeting and the EHLO/HELO/LHLO reply" },
	{ "smtp_starttls_timeout", PT_TIME, "300s", 1, T_MAX, NULL,
	  "Time for the STARTTLS reply and the TLS handshake" },
	{ "smtp_mail_timeout", PT_TIME, "300s", 1, T_MAX, NULL,
	  "Time to wait for the MAIL FROM (and RSET, AUTH) reply" },
	{ "smtp_rcpt_timeout", PT_TIME, "300s", 1, T_MAX, NULL,
	  "Time to wait for a RCPT TO reply" },
	{ "smtp_data_init_timeout", PT_TIME, "120s", 1, T_MAX, NULL,
	  "Time to wait for the DATA reply" },
	{ "smtp_data_xfer_timeout", PT_TIME, "180s", 1, T_MAX, NULL,
	  "Time the server may take to accept more message content" },
	{ "smtp_data_done_timeout", PT_TIME, "600s", 1, T_MAX, NULL,
	  "Time to wait for the reply to the final dot" },
	{ "smtp_quit_timeout", PT_TIME, "300s", 1, T_MAX, NULL,
	  "Time to wait for the QUIT reply" },
	{ "smtp_tls_security_level", PT_ENUM, "may", 0, 0, "none|may|encrypt|verify",
	  "Client TLS: none, may (STARTTLS when offered, unverified; Debian's main.cf setting), encrypt (required), verify (required, CA-verified name)" },
	{ "smtp_tls_CAfile", PT_STR, "", 0, 0, NULL,
	  "PEM file of trusted CAs for verifying next hops (level verify; may/encrypt log Trusted when it verifies)" },
	{ "smtp_tls_loglevel", PT_INT, "1", 0, 4, NULL,
	  "Client TLS logging: 0 none, 1 one line per handshake (mailwarden default: 1)" },
	{ "smtp_sasl_auth_enable", PT_BOOL, "no", 0, 0, NULL,
	  "Authenticate to next hops listed in smtp_sasl_password_maps (AUTH PLAIN or LOGIN)" },
	{ "smtp_sasl_password_maps", PT_MAPS, "", 0, 0, NULL,
	  "Next hop ([host]:port, [host], host) or domain -> user:password for client AUTH" },
	{ "smtp_sasl_security_options", PT_LIST, "noplaintext, noanonymous", 0, 0, NULL,
	  "Client AUTH without TLS: noplaintext (no PLAIN/LOGIN), noanonymous, noactive, nodictionary, mutual_auth; a server offering only what these forbid defers the mail (no mechanism available)" },
	{ "smtp_sasl_tls_security_options", PT_LIST, "noanonymous", 0, 0, NULL,
	  "Client AUTH over TLS, same options (Postfix default: $smtp_sasl_security_options; mailwarden: noanonymous, so PLAIN/LOGIN work over TLS)" },
	{ "delay_warning_time", PT_TIME, "0h", 0, T_MAX, NULL,
	  "Send the sender a delay notice once a message has waited this long (0 = never)" },

	/* local submission */
	{ "setgid_group", PT_STR, "mwdrop", 0, 0, NULL,
	  "Group of the setgid sendmail command; it may write, not read, queue_directory/maildrop (Postfix: postdrop)" },
	{ "alternate_config_directories", PT_LIST, "", 0, 0, NULL,
	  "Directories whose config files a non-root user may name with sendmail -C/-c (read from the default config)" },
	{ "multi_instance_directories", PT_LIST, "", 0, 0, NULL,
	  "Config directories of other instances; like alternate_config_directories for sendmail -C/-c" },
	{ "authorized_mailq_users", PT_LIST, "static:anyone", 0, 0, NULL,
	  "Who may list the queue through the queue manager (mailq): user names, !name, /file/name, type:table (static:anyone: everybody), first match decides; root and mail_owner always" },

	/* logging */
	{ "maillog_file", PT_STR, "", 0, 0, NULL,
	  "Log file (written by the master, reopened on SIGUSR1/SIGHUP); empty = syslog" },
	{ "maillog_file_rotate_suffix", PT_STR, "%Y%m%d-%H%M%S", 0, 0, NULL,
	  "mailwarden logrotate: strftime(3) suffix of the renamed maillog_file (Postfix's)" },
	{ "maillog_file_compressor", PT_STR, "gzip", 0, 0, NULL,
	  "mailwarden logrotate: program run on the renamed maillog_file; empty = none" },
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

/* ---- values: numbers, times, sizes, booleans ---- */

/* Parse a decimal number with an optional one-letter unit from units
 * (multipliers in mults); -1 if malformed, -2 if it overflows. */
static int parse_scaled(const char *s, const char *units, const long *mults, long *out)
{
	char *end;
	long n, mult = 1;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	n = strtol(s, &end, 10);
	if (errno == ERANGE)
		return -2;
	if (*end != '\0') {
		const char *u = strchr(units, tolower((unsigned char)*end));
		if (u == NULL || end[1] != '\0')
			return -1;
		mult = mults[u - units];
	}
	if (n > LONG_MAX / mult)
		return -2;
	*out = n * mult;
	return 0;
}

int config_parse_time(const char *s, long *out)
{
	static const long mults[] = { 1, 60, 3600, 86400, 7 * 86400 };
	return parse_scaled(s, "smhdw", mults, out);
}

int config_parse_size(const char *s, long *out)
{
	static const long mults[] = { 1024L, 1024L * 1024, 1024L * 1024 * 1024 };
	return parse_scaled(s, "kmg", mults, out);
}

int config_parse_int(const char *s, long *out)
{
	char *end;

	if (*s == '\0' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	*out = strtol(s, &end, 10);
	if (*end != '\0')
		return -1;
	return errno == ERANGE ? -2 : 0;
}

int config_parse_bool(const char *s)
{
	if (str_ieq(s, "yes") || str_ieq(s, "true") || strcmp(s, "1") == 0)
		return 1;
	if (str_ieq(s, "no") || str_ieq(s, "false") || strcmp(s, "0") == 0)
		return 0;
	return -1;
}

/* ---- lists ---- */

char **config_list(const char *value)
{
	size_t n = 0, cap = 8;
	char **list = xmalloc(cap * sizeof(*list));
	const char *p = value ? value : "";

	for (;;) {
		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			break;
		const char *start = p;
		int depth = 0;
		for (; *p; p++) {
			if (*p == '{')
				depth++;
			else if (*p == '}' && depth > 0)
				depth--;
			else if (depth == 0 && (*p == ',' || isspace((unsigned char)*p)))
				break;
		}
		if (n + 2 > cap) {
			cap *= 2;
			list = xrealloc(list, cap * sizeof(*list));
		}
		list[n++] = xstrndup(start, (size_t)(p - start));
	}
	list[n] = NULL;
	return list;
}

void config_list_free(char **list)
{
	if (list == NULL)
		return;
	for (size_t i = 0; list[i] != NULL; i++)
		free(list[i]);
	free(list);
}

/* ---- listen addresses ---- */

static int parse_port(const char *s, in_port_t *port)
{
	long n;

	if (config_parse_int(s, &n) < 0 || !isdigit((unsigned char)*s) || n < 1 || n > 65535)
		return -1;
	*port = htons((in_port_t)n);
	return 0;
}

static void add_addr(struct sockaddr_storage **out, size_t *n, int family,
    const void *addr, in_port_t port)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_port = port;
		memcpy(&sin->sin_addr, addr, sizeof(sin->sin_addr));
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = port;
		memcpy(&sin6->sin6_addr, addr, sizeof(sin6->sin6_addr));
	}
	*out = xrealloc(*out, (*n + 1) * sizeof(**out));
	(*out)[(*n)++] = ss;
}

/* One ADDR:PORT item. */
static int listen_item(const char *item, struct sockaddr_storage **out, size_t *n)
{
	char host[INET6_ADDRSTRLEN + 1];
	unsigned char raw[16];
	const char *colon;
	size_t hlen;
	in_port_t port;

	if (item[0] == '[') {
		const char *close = strchr(item, ']');
		if (close == NULL || close[1] != ':')
			return -1;
		hlen = (size_t)(close - item - 1);
		if (hlen >= sizeof(host))
			return -1;
		memcpy(host, item + 1, hlen);
		host[hlen] = '\0';
		if (parse_port(close + 2, &port) < 0 || inet_pton(AF_INET6, host, raw) != 1)
			return -1;
		add_addr(out, n, AF_INET6, raw, port);
		return 0;
	}
	if ((colon = strrchr(item, ':')) == NULL || strchr(item, ':') != colon)
		return -1;
	hlen = (size_t)(colon - item);
	if (hlen >= sizeof(host) || parse_port(colon + 1, &port) < 0)
		return -1;
	memcpy(host, item, hlen);
	host[hlen] = '\0';
	if (strcmp(host, "*") == 0) {
		add_addr(out, n, AF_INET, &(struct in_addr){ htonl(INADDR_ANY) }, port);
		add_addr(out, n, AF_INET6, &in6addr_any, port);
		return 0;
	}
	if (inet_pton(AF_INET, host, raw) != 1)
		return -1;
	add_addr(out, n, AF_INET, raw, port);
	return 0;
}

int config_listen_parse(const char *value, struct sockaddr_storage **out,
    size_t *n, char *err, size_t errlen)
{
	char **items = config_list(value);
	int rc = 0;

	*out = NULL;
	*n = 0;
	for (size_t i = 0; items[i] != NULL; i++) {
		if (listen_item(items[i], out, n) < 0) {
			snprintf(err, errlen, "bad listen address '%s' (use ADDR:PORT, "
			    "[IPV6ADDR]:PORT or *:PORT)", items[i]);
			free(*out);
			*out = NULL;
			*n = 0;
			rc = -1;
			break;
		}
	}
	config_list_free(items);
	return rc;
}

static const char *const type_names[] = {
	[PT_STR] = "text", [PT_INT] = "integer", [PT_BOOL] = "yes|no",
	[PT_TIME] = "time", [PT_SIZE] = "bytes", [PT_LIST] = "list",
	[PT_MAPS] = "maps", [PT_DOMAINS] = "domains", [PT_CIDRS] = "networks",
	[PT_LISTEN] = "listen addresses", [PT_ENUM] = "enum", [PT_TEMPLATE] = "template",
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
		fputs(")\n.br\n", fp);
		roff_text(fp, p->help);
		fputs(".\n", fp);
	}
}
