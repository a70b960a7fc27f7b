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
#include "master/master.h"

#define DEFAULT_CONFIG "/etc/mailwarden/mailwarden.conf"

static void usage(FILE *f)
{
	fprintf(f,
	    "usage: mailwarden [-c FILE] [COMMAND]\n"
	    "  (no command)   run the mail system in the foreground\n"
	    "  check-config   check the configuration and exit\n"
	    "  params         list every parameter with its default\n"
	    "  scan LOG FILTER[mode=...] [--maxretry N --findtime T]\n"
	    "                 run a fail2ban filter over a log (fail2ban-regex)\n"
	    "  -c FILE        configuration file (default " DEFAULT_CONFIG ")\n"
	    "  -V             print the version\n");
}

int main(int argc, char **argv)
{
	const char *path = DEFAULT_CONFIG;
	int opt;
	char err[2048];

	while ((opt = getopt(argc, argv, "+c:hV")) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 'V': printf("mailwarden %s\n", MAILWARDEN_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	const char *cmd = optind < argc ? argv[optind] : NULL;
	if (cmd && strcmp(cmd, "scan") == 0)
		return cli_scan(argc - optind - 1, argv + optind + 1);
	if (cmd && strcmp(cmd, "params") == 0) {
		config_print_params(stdout);
		return 0;
	}
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
	if (cmd) {
		printf("mailwarden: configuration %s is valid\n", path);
		config_free(cfg);
		return 0;
	}
	return master_run(cfg, path);
}
