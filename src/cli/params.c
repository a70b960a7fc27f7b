/*
 * params — `mailwarden params [-n]`, postconf's two everyday views for
 * the admin: without -n every parameter with its default and help (the
 * table of params.c); with -n only what the configuration file sets, as
 * written ($name references kept), as `postconf -n` prints main.cf.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "common/config.h"

int cli_params(const char *path, int argc, char **argv)
{
	if (argc == 0) {
		config_print_params(stdout);
		return 0;
	}
	if (argc != 1 || strcmp(argv[0], "-n") != 0) {
		fprintf(stderr, "usage: mailwarden [-c FILE] params [-n]\n");
		return 2;
	}
	char err[2048];
	/* parsed and type-checked, but no map or key opened: like postconf,
	 * -n shows a configuration whose files are not in place yet */
	struct config *cfg = config_load_client(path, err, sizeof(err));
	if (cfg == NULL) {
		fprintf(stderr, "mailwarden: fatal: %s\n", err);
		return 1;
	}
	config_print_set(cfg, stdout);
	config_free(cfg);
	return 0;
}
