/*
 * cli — mailwarden's administrative subcommands, each driven from a shell
 * on its own. main() hands over argv after the subcommand word.
 */
#ifndef MW_CLI_H
#define MW_CLI_H
#include <stdio.h>

/*
 * `mailwarden scan LOG FILTER[opts] [--maxretry N --findtime T]
 * [--filter-dir DIR]`: fail2ban-regex's equivalent; 0 ok, 1 error.
 */
int cli_scan(int argc, char **argv);
/* `mailwarden passwd [-s SCHEME] [USER]`: print a password hash; 0 ok. */
int cli_passwd(int argc, char **argv);

/* `mailwarden params [-n]`: the parameter table, or with -n the settings
 * of the file at path as written (postconf -n); 0 ok, 1 error, 2 usage. */
int cli_params(const char *path, int argc, char **argv);

/* `mailwarden import-postfix [-o FILE] [DIR]`: a mailwarden.conf from
 * Postfix's main.cf and master.cf, with a report of every key (mapped,
 * dropped, not supported); 0 when the file passes check-config. */
int cli_import_postfix(int argc, char **argv);

struct config;
/* `mailwarden dkim keygen DOMAIN [-s SEL] [--ed25519] | check DOMAIN`
 * (dkim.c): 0 ok, 1 error or mismatch, 2 usage. */
int cli_dkim(const struct config *cfg, int argc, char **argv);
/* `mailwarden queue show ID`: the queued message as postcat -q prints
 * it, from queue_directory's fd qfd; 0, or 1 (message on stderr). */
int cli_queue_show(int qfd, const char *id, FILE *out);
/*
 * `mailwarden status [JAIL [short]] | ban JAIL IP | unban IP|--all |
 * banned [IP] | why IP | reload` [--json]: ask the ban engine through
 * warden_socket; prints the answer, 0 ok, 1 error, 2 usage.
 */
int cli_warden(const struct config *cfg, int argc, char **argv);

/*
 * `mailwarden action-test JAIL [IP...]`: the commands the jail's action.d
 * actions would run for start, ban/unban of each IP, check, flush, stop,
 * printed, never run (action_test.c). 0 ok, 1 error, 2 usage.
 */
int cli_action_test(const struct config *cfg, int argc, char **argv);

/*
 * `mailwarden selftest [--json] [--client ADDR] [--admin ADDR]
 * [--dkim-selector S]`: the live configuration checked (relay probes,
 * AUTH without TLS, certificates, DNSBL test points, resolver, records,
 * ignoreip, firewall), pass/warn/fail lines; 0 unless a check failed,
 * 2 usage (selftest*.c). argv[0] is "selftest".
 */
int cli_selftest(const struct config *cfg, int argc, char **argv);

/*
 * `mailwarden report [--since 7d] [-o FILE] [--log FILE]...`: one
 * self-contained HTML page (inline SVG) of the mail and ban logs per
 * hour (report*.c); 0, 1 when a log or the output failed, 2 usage.
 * argv[0] is "report".
 */
int cli_report(const struct config *cfg, int argc, char **argv);

struct buf;
/* What cli_warden_request() got. */
enum {
	WREQ_OK = 0,		/* "ok": *ans holds the text */
	WREQ_ERROR = 1,		/* "error": *ans holds the message */
	WREQ_NOANSWER = 2,	/* closed or timed out without an answer */
	WREQ_CONNECT = -1,	/* could not connect or write (errno kept) */
	WREQ_BADARG = -2,	/* a word with TAB/newline, or too long */
};
/* One request (argv words, "json" first if json) to the ban engine's
 * control socket at path; *ans is initialised here (the caller frees
 * it). A WREQ_* code. */
int cli_warden_request(const char *path, int argc, char *const *argv, int json,
    struct buf *ans);
/*
 * `mailwarden fail2ban-client [OPTIONS] COMMAND...` (also run as
 * `fail2ban-client`): fail2ban 1.0.2's client, its output and exit codes,
 * over the warden's control socket (-s SOCKET, or warden_socket of the
 * config: config if not NULL, else --config FILE, $MAILWARDEN_CONFIG or
 * def_config). argv[0] is the command's own name. 0 ok, 255 error.
 */
int cli_f2bclient(const char *config, const char *def_config, int argc, char **argv);
/*
 * `mailwarden sendmail [-t] [-i|-oi] [-f SENDER] [-F NAME] [-bs|-bm|-bp]
 * [RCPT...]` (also run as `sendmail`): local submission through
 * queue_directory/maildrop; loads config_path itself (after dropping the
 * setgid group). sendmail(8) exit codes.
 */
int cli_sendmail(const char *config_path, int argc, char **argv);
/*
 * The whole program when it runs set-gid (getegid() != getgid()): only
 * sendmail, or mailq when argv[0] is mailq (or -bp); other subcommands
 * are refused. -C/-c need root or a directory listed in the default
 * config's alternate_config_directories / multi_instance_directories.
 * The group serves only to create the maildrop file and is given up
 * right after. sendmail(8) exit codes.
 */
int cli_setgid(const char *def_config, int argc, char **argv);
/*
 * `mailwarden queue [list] | flush | delete ID...|ALL | hold ID...|ALL |
 * release ID...|ALL` (also `mailwarden mailq`): postqueue -p layout and
 * postsuper -d/-h/-H. 0 ok, 1 error, 2 usage.
 */
int cli_queue(const struct config *cfg, int argc, char **argv);
/*
 * `mailwarden logrotate` (Postfix's `postfix logrotate`): maillog_file
 * renamed with maillog_file_rotate_suffix, reopened by the running master,
 * the old one compressed with maillog_file_compressor. 0 ok, 1 error.
 */
int cli_logrotate(const struct config *cfg, int argc, char **argv);
#endif
