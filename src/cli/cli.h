/*
 * cli — mailwarden's administrative subcommands, each driven from a shell
 * on its own. main() hands over argv after the subcommand word.
 */
#ifndef MW_CLI_H
#define MW_CLI_H

/*
 * `mailwarden scan LOG FILTER[opts] [--maxretry N --findtime T]
 * [--filter-dir DIR]`: fail2ban-regex's equivalent; 0 ok, 1 error.
 */
int cli_scan(int argc, char **argv);
#endif
