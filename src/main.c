/*
 * main — the mailwarden command line: `mailwarden [-c FILE] [COMMAND]`.
 * Without a command the mail system runs in the foreground.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/config.h"
#include "common/log.h"
#include "local/local.h"
#include "master/master.h"
#include "master/title.h"
#include "queue/smtpc.h"
#include "spf/spf.h"
#include "warden/firewall/firewall.h"

#define DEFAULT_CONFIG "/etc/mailwarden/mailwarden.conf"

static void usage(FILE *f)
{
	fprintf(f,
	    "usage: mailwarden [-c FILE] [COMMAND]\n"
	    "  (no command)   run the mail system in the foreground\n"
	    "  check-config   check the configuration and exit\n"
	    "  import-postfix [-o FILE] [DIR]  mailwarden.conf from Postfix's main.cf + master.cf\n"
	    "  params [-n]    every parameter with its default (-n: what the file sets)\n"
	    "  scan LOG FILTER[mode=...] [--maxretry N --findtime T]\n"
	    "                 run a fail2ban filter over a log (fail2ban-regex)\n"
	    "  passwd [-s SCHEME] [USER]  print a passwd-file password hash\n"
	    "  spf-test IP SENDER [HELO]  evaluate SPF (RFC 7208) and print the result\n"
	    "  action-test JAIL [IP...]  print the jail's action commands, run nothing\n"
	    "  status [JAIL [short]]  ban engine status (fail2ban-client layout)\n"
	    "  ban JAIL IP | unban IP | unban --all | banned [IP] | why IP | reload\n"
	    "                 ban engine commands; add --json for JSON\n"
	    "  fail2ban-client [OPTIONS] COMMAND...  fail2ban-client 1.0.2's commands\n"
	    "  sendmail [-t] [-i] [-f SENDER] [-F NAME] [-bs] [RCPT...]  local submission\n"
	    "  queue [list|flush|delete ID|ALL|hold ID|ALL|release ID|ALL]  (mailq: list)\n"
	    "  dkim keygen DOMAIN [-s SELECTOR] [--ed25519] | dkim check DOMAIN\n"
	    "                 write a DKIM key and print its DNS record; check the record\n"
	    "  logrotate      rename maillog_file, reopen it, compress the old one\n"
	    "  selftest [--json] [--client ADDR] [--admin ADDR] [--dkim-selector S]\n"
	    "                 check relaying, AUTH, certificates, DNSBLs, DNS records, bans\n"
	    "  report [--since 7d] [-o FILE] [--log FILE]...  HTML charts of the mail and ban logs\n"
	    "  help           this text (also -h, --help)\n"
	    "  -c FILE        configuration file (default " DEFAULT_CONFIG ")\n"
	    "  -V             print the version\n");
}

int main(int argc, char **argv)
{
	const char *path = DEFAULT_CONFIG;
	int opt;
	char err[2048];

	/* A set-gid copy (sbin/sendmail, group setgid_group) is only ever
	 * sendmail or mailq, whatever argv[0] or the subcommand says. */
	if (getegid() != getgid())
		return cli_setgid(DEFAULT_CONFIG, argc, argv);
	title_init(argc, argv);	/* argv[] now point to copies: ps titles later */
	const char *base = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	if (strcmp(base, "sendmail") == 0)	/* installed as sendmail: its flags */
		return cli_sendmail(DEFAULT_CONFIG, argc - 1, argv + 1);
	if (strcmp(base, "newaliases") == 0) {	/* sendmail -bi: texthash, nothing to build */
		char *bi[] = { "-bi", NULL };
		return cli_sendmail(DEFAULT_CONFIG, 1, bi);
	}
	if (strcmp(base, "fail2ban-client") == 0)	/* run under that name: its options */
		return cli_f2bclient(NULL, DEFAULT_CONFIG, argc, argv);
	int given = 0;		/* -c given: fail2ban-client uses it */
	for (int i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(argv[i], "-c") == 0)
			i++;
	}
	while ((opt = getopt(argc, argv, "+c:hV")) != -1) {
		switch (opt) {
		case 'c': path = optarg; given = 1; break;
		case 'V': printf("mailwarden %s\n", MAILWARDEN_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	const char *cmd = optind < argc ? argv[optind] : NULL;
	if (cmd && strcmp(cmd, "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (cmd && strcmp(cmd, "logrotate") == 0) {
		struct config *rc = config_load(path, err, sizeof(err));
		if (rc == NULL) {
			fprintf(stderr, "mailwarden: fatal: %s\n", err);
			return 1;
		}
		int r = cli_logrotate(rc, argc - optind - 1, argv + optind + 1);
		config_free(rc);
		return r;
	}
	if (cmd && strcmp(cmd, "dkim") == 0) {
		struct config *dc = config_load_client(path, err, sizeof(err));
		if (dc == NULL) {
			fprintf(stderr, "mailwarden: fatal: %s\n", err);
			return 1;
		}
		int r = cli_dkim(dc, argc - optind - 1, argv + optind + 1);
		config_free(dc);
		return r;
	}
	if (cmd && strcmp(cmd, "scan") == 0)
		return cli_scan(argc - optind - 1, argv + optind + 1);
	if (cmd && strcmp(cmd, "fail2ban-client") == 0)
		return cli_f2bclient(given ? path : NULL, DEFAULT_CONFIG, argc - optind, argv + optind);
	if (cmd && strcmp(cmd, "passwd") == 0)
		return cli_passwd(argc - optind - 1, argv + optind + 1);
	if (cmd && strcmp(cmd, "sendmail") == 0)
		return cli_sendmail(path, argc - optind - 1, argv + optind + 1);
	if (strcmp(base, "mailq") == 0 || (cmd && (strcmp(cmd, "queue") == 0 || strcmp(cmd, "mailq") == 0))) {
		struct config *qc = config_load_client(path, err, sizeof(err));
		if (qc == NULL) {
			fprintf(stderr, "mailwarden: fatal: %s\n", err);
			return 1;
		}
		int rc = cmd && strcmp(cmd, "queue") == 0 ? cli_queue(qc, argc - optind - 1, argv + optind + 1) : cli_queue(qc, 0, NULL);
		config_free(qc);
		return rc;
	}
	if (cmd && strcmp(cmd, "local-peer") == 0) {
		/* Hidden test seam: the local delivery process on fd 0, which is
		 * a SOCK_SEQPACKET socket (tests/integ/test_local.py). */
		struct config *lc = config_load(path, err, sizeof(err));
		if (lc == NULL) {
			fprintf(stderr, "mailwarden: fatal: %s\n", err);
			return 1;
		}
		local_main(lc, 0, -1);
	}
	if (cmd && strcmp(cmd, "firewall-peer") == 0) {
		/* hidden test seam: the firewall process on fd 0 (a SOCK_SEQPACKET
		 * socketpair end), exactly as the master would start it */
		struct config *fc = config_load(path, err, sizeof(err));
		if (fc == NULL) {
			fprintf(stderr, "mailwarden: fatal: %s\n", err);
			return 1;
		}
		firewall_main(fc, path, 0, -1);
	}
	if (cmd && strcmp(cmd, "import-postfix") == 0)
		return cli_import_postfix(argc - optind, argv + optind);
	if (cmd && strcmp(cmd, "params") == 0)
		return cli_params(path, argc - optind - 1, argv + optind + 1);
	if (cmd && strcmp(cmd, "spf-test") == 0) {
		struct config *sc = config_load(path, err, sizeof(err));
		if (sc == NULL) {
			fprintf(stderr, "mailwarden: fatal: %s\n", err);
			return 1;
		}
		int rc = spf_cli_main(sc, argc - optind - 1, argv + optind + 1);
		config_free(sc);
		return rc;
	}
	static const char *const wcmds[] = { "status", "ban", "unban", "banned", "why", "reload",
	    "action-test", "selftest", "report" };
	int wcmd = 0;
	for (size_t i = 0; cmd && i < sizeof(wcmds) / sizeof(*wcmds); i++)
		if (strcmp(cmd, wcmds[i]) == 0)
			wcmd = 1;
	if (wcmd) {
		struct config *wc = config_load(path, err, sizeof(err));
		if (wc == NULL) {
			fprintf(stderr, "mailwarden: fatal: %s\n", err);
			return 1;
		}
		int rc = strcmp(cmd, "action-test") == 0 ?
		    cli_action_test(wc, argc - optind - 1, argv + optind + 1) :
		    strcmp(cmd, "selftest") == 0 ?
		    cli_selftest(wc, argc - optind, argv + optind) :
		    strcmp(cmd, "report") == 0 ? cli_report(wc, argc - optind, argv + optind) :
		    cli_warden(wc, argc - optind, argv + optind);
		config_free(wc);
		return rc;
	}
	if (cmd && strcmp(cmd, "check-config") == 0)
		return master_check_config(path);
	if (cmd && strcmp(cmd, "check-config") != 0) {
		fprintf(stderr, "mailwarden: unknown command '%s'\n", cmd);
		usage(stderr);
		return 2;
	}
	struct config *cfg = config_load(path, err, sizeof(err));
	if (cfg == NULL || master_check(cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "mailwarden: fatal: %s\n", err);
		if (cfg)
			config_free(cfg);
		return 1;
	}
	return master_run(cfg, path);
}
