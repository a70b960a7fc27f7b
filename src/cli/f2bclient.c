/*
 * f2bclient — `mailwarden fail2ban-client ...` (or the program run under
 * the name fail2ban-client): the commands scripts give fail2ban-client
 * 1.0.2, answered by the ban engine with fail2ban-client's output and
 * exit codes (0, or 255 with the message on stdout and fail2ban's
 * "ERROR   NOK: (...)" log line on stderr). The options, the command
 * table and the commands that change state are here; get and banned in
 * f2bclient_get.c, the messages and socket requests in f2bclient_ask.c
 * (f2bclient.h). The values come from the warden's control socket as raw
 * lines (control.h: jails, get, banip, unbanip, flushlogs, ping, status,
 * unban, reload); the printing is fail2ban's Beautifier's.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/f2bclient.h"
#include "common/buf.h"
#include "common/config.h"
#include "common/util.h"
#include "warden/jail.h"

#define F2B_VERSION "1.0.2"	/* the fail2ban whose client this is */

/* ---- the commands ---- */

static int c_ping(struct f2b *c)
{
	struct buf ans;
	int rc = f2bclient_ask_words(c, &ans, "ping", NULL);
	return f2bclient_print_answer(rc, &ans, "Server replied: ");
}

static int c_version(struct f2b *c)
{
	struct buf ans;
	int rc = f2bclient_ask_words(c, &ans, "ping", NULL);
	if (rc != 0)
		return rc == 1 ? f2bclient_server_error(&ans) : F2B_ERR;
	buf_free(&ans);
	printf("%s\n", F2B_VERSION);
	return 0;
}

static int c_status(struct f2b *c)
{
	struct buf ans;
	if (c->argc == 1)
		return f2bclient_print_answer(f2bclient_ask_words(c, &ans, "status", NULL), &ans, "");
	if (c->argc > 3)
		return f2bclient_nok("Invalid command (no status)", "Invalid command (no status)");
	int ok = f2bclient_jail_ok(c, c->argv[1]);
	if (ok <= 0)
		return F2B_ERR;
	/* fail2ban's flavors: short, basic and anything else as basic */
	int shortform = c->argc == 3 && strcmp(c->argv[2], "short") == 0;
	int rc = f2bclient_ask_words(c, &ans, "status", c->argv[1], shortform ? "short" : NULL,
	    NULL);
	return f2bclient_print_answer(rc, &ans, "");
}

static int c_flushlogs(struct f2b *c)
{
	struct buf ans;
	return f2bclient_print_answer(f2bclient_ask_words(c, &ans, "flushlogs", NULL), &ans, "logs: ");
}

/* unbanip over the addresses in chunks: *total and, per address, whether
 * it lifted anything. */
static int unban_chunks(const struct f2b *c, const char *jail, char **ips, int n,
    size_t *total, char *hit)
{
	*total = 0;
	for (int i = 0; i < n; i += F2B_CHUNK) {
		char *w[F2B_CHUNK + 2] = { "unbanip", (char *)jail };
		int k = n - i < F2B_CHUNK ? n - i : F2B_CHUNK;
		memcpy(w + 2, ips + i, (size_t)k * sizeof(*w));
		struct buf ans;
		char **v;
		int rc = f2bclient_ask(c, k + 2, w, &ans, 0);
		if (rc != 0)
			return rc == 1 ? f2bclient_server_error(&ans) : F2B_ERR;
		size_t nl = f2bclient_lines(&ans, &v);
		for (int j = 0; j < k; j++) {
			size_t got = (size_t)j < nl ? strtoul(v[j], NULL, 10) : 0;
			*total += got;
			hit[i + j] = got > 0;
		}
		free(v);
		buf_free(&ans);
	}
	return 0;
}

static int c_unban(struct f2b *c)
{
	struct buf ans;
	if (c->argc < 2)
		return f2bclient_nok("Invalid command", "Invalid command");
	if (c->argc == 2 && strcmp(c->argv[1], "--all") == 0)
		return f2bclient_print_answer(f2bclient_ask_words(c, &ans, "unban", "--all", NULL), &ans, "");
	size_t total;
	char *hit = xcalloc((size_t)c->argc, 1);
	int rc = unban_chunks(c, "--all", c->argv + 1, c->argc - 1, &total, hit);
	free(hit);
	if (rc == 0)
		printf("%zu\n", total);
	return rc;
}

static int set_banip(struct f2b *c, const char *jail, char **ips, int n)
{
	size_t total = 0;
	for (int i = 0; i < n; i += F2B_CHUNK) {
		char *w[F2B_CHUNK + 2] = { "banip", (char *)jail };
		int k = n - i < F2B_CHUNK ? n - i : F2B_CHUNK;
		memcpy(w + 2, ips + i, (size_t)k * sizeof(*w));
		struct buf ans;
		int rc = f2bclient_ask(c, k + 2, w, &ans, 0);
		if (rc != 0)
			return rc == 1 ? f2bclient_server_error(&ans) : F2B_ERR;
		total += strtoul(ans.data ? ans.data : "0", NULL, 10);
		buf_free(&ans);
	}
	printf("%zu\n", total);
	return 0;
}

static int set_unbanip(struct f2b *c, const char *jail, char **ips, int n)
{
	int report = n > 0 && strcmp(ips[0], "--report-absent") == 0;
	if (report) {
		ips++;
		n--;
	}
	size_t total = 0;
	char *hit = xcalloc((size_t)n + 1, 1);
	int rc = n ? unban_chunks(c, jail, ips, n, &total, hit) : 0;
	struct buf miss;
	buf_init(&miss, 1024 * 1024);
	for (int i = 0; rc == 0 && report && i < n; i++) {
		if (hit[i])
			continue;
		buf_puts(&miss, miss.len ? ", " : "not banned: [");
		f2bclient_pyrepr(&miss, ips[i]);
	}
	free(hit);
	if (rc == 0 && miss.len) {
		buf_puts(&miss, "]");
		rc = f2bclient_nok(miss.data, miss.data);
	} else if (rc == 0) {
		printf("%zu\n", total);
	}
	buf_free(&miss);
	return rc;
}

static int c_set(struct f2b *c)
{
	if (c->argc < 3)
		return f2bclient_invalid_index();
	const char *jail = c->argv[1], *key = c->argv[2];
	int ban = strcmp(key, "banip") == 0, unban = strcmp(key, "unbanip") == 0;
	if (!ban && !unban) {
		char msg[512];
		struct buf r;
		buf_init(&r, 400);
		f2bclient_pyrepr(&r, key);
		snprintf(msg, sizeof(msg), "Invalid command %s (no set action or not yet implemented)",
		    r.data ? r.data : "");
		buf_free(&r);
		return f2bclient_nok(msg, msg);
	}
	if (unban && c->argc < 4)
		return f2bclient_invalid_index();
	int ok = f2bclient_jail_ok(c, jail);
	if (ok <= 0)
		return F2B_ERR;
	return ban ? set_banip(c, jail, c->argv + 3, c->argc - 3) :
	    set_unbanip(c, jail, c->argv + 3, c->argc - 3);
}


/* reload [--restart] [--unban] [--if-exists] [--all|JAIL] */
static int c_reload(struct f2b *c)
{
	int unban = 0, i = 1;
	for (; i < c->argc; i++) {
		if (strcmp(c->argv[i], "--unban") == 0)
			unban = 1;
		else if (strcmp(c->argv[i], "--restart") != 0 && strcmp(c->argv[i], "--if-exists") != 0)
			break;
	}
	if (c->argc - i > 1) {
		struct buf r;
		buf_init(&r, 64 * 1024);
		for (int k = i; k < c->argc; k++) {
			buf_puts(&r, k > i ? ", " : "[");
			f2bclient_pyrepr(&r, c->argv[k]);
		}
		f2bclient_log("ERROR", "Unexpected argument(s) for reload: %s]", r.data);
		buf_free(&r);
		return F2B_ERR;
	}
	const char *jail = i < c->argc && strcmp(c->argv[i], "--all") != 0 ? c->argv[i] : NULL;
	struct buf ans;
	char *w[2] = { "ping", NULL };
	if (f2bclient_ask(c, 1, w, &ans, 1) != 0) {
		f2bclient_log("ERROR", "Could not find server");
		return F2B_ERR;
	}
	buf_free(&ans);
	w[0] = "reload";
	w[1] = (char *)jail;
	int rc = f2bclient_ask(c, jail ? 2 : 1, w, &ans, 0);
	if (rc < 0)
		return F2B_ERR;
	if (rc == 1) {
		size_t len = ans.len;
		while (len && ans.data[len - 1] == '\n')
			ans.data[--len] = '\0';
		f2bclient_log("ERROR", "Failed during configuration: %s", ans.data ? ans.data : "");
		buf_free(&ans);
		return F2B_ERR;
	}
	buf_free(&ans);
	if (unban) {	/* after the reload, which restores bans from the store */
		char *u[2] = { "unbanip", jail ? (char *)jail : "--all" };
		if ((rc = f2bclient_ask(c, 2, u, &ans, 0)) != 0)
			return rc == 1 ? f2bclient_server_error(&ans) : F2B_ERR;
		buf_free(&ans);
	}
	printf("OK\n");
	return 0;
}

/* start, stop, restart, add: the ban engine is part of the mail system */
static int c_server(struct f2b *c)
{
	f2bclient_log("ERROR", "mailwarden's ban engine starts and stops with the mail system "
	    "(systemctl start|stop|reload mailwarden); '%s' is not available", c->argv[0]);
	return F2B_ERR;
}

static const struct {
	const char *name;
	int (*fn)(struct f2b *c);
} commands[] = {
	{ "ping", c_ping },
	{ "version", c_version },
	{ "status", c_status },
	{ "set", c_set },
	{ "get", f2bclient_get },
	{ "unban", c_unban },
	{ "banned", f2bclient_banned },
	{ "reload", c_reload },
	{ "flushlogs", c_flushlogs },
	{ "start", c_server },
	{ "stop", c_server },
	{ "restart", c_server },
	{ "add", c_server },
};

/* ---- options ---- */

static void usage(const char *name)
{
	printf("Usage: %s [OPTIONS] <COMMAND>\n\n"
	    "fail2ban-client 1.0.2's commands, answered by mailwarden's ban engine.\n\n"
	    "Options:\n"
	    "    -s, --socket <FILE>     the ban engine's control socket (warden_socket)\n"
	    "    --config <FILE>         mailwarden's configuration (else $MAILWARDEN_CONFIG)\n"
	    "    -c, --conf <DIR>        fail2ban's configuration directory: ignored\n"
	    "    -p, -x, -b, -f, --pname, --loglevel, --logtarget, --syslogsocket,\n"
	    "    --timeout               accepted and ignored\n"
	    "    -q, -v                  accepted (errors are always shown)\n"
	    "    --str2sec <STRING>      convert a time abbreviation to seconds\n"
	    "    -h, --help              this help\n"
	    "    -V, --version           print the version of fail2ban this client speaks\n\n"
	    "Command:\n"
	    "    ping | version | status [<JAIL> [short]] | flushlogs\n"
	    "    reload [--restart] [--unban] [--if-exists] [--all|<JAIL>]\n"
	    "    unban --all | unban <IP> ... <IP> | banned [<IP> ... <IP>]\n"
	    "    set <JAIL> banip <IP> ... <IP> | set <JAIL> unbanip [--report-absent] <IP> ...\n"
	    "    get <JAIL> bantime|findtime|maxretry|logpath|ignoreip|actions\n"
	    "    get <JAIL> banip [<SEP>|--with-time] | get <JAIL> banned [<IP> ...]\n", name);
}

/* Options: -1 to go on with the command, else the exit code. */
static int options(int argc, char **argv, const char **sock, const char **config)
{
	static const struct option longopts[] = {
		{ "conf", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "config", required_argument, NULL, 'C' },
		{ "str2sec", required_argument, NULL, 'T' },
		{ "pname", required_argument, NULL, 'I' },
		{ "loglevel", required_argument, NULL, 'I' },
		{ "logtarget", required_argument, NULL, 'I' },
		{ "syslogsocket", required_argument, NULL, 'I' },
		{ "timeout", required_argument, NULL, 'I' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'L' },
		{ "test", no_argument, NULL, 't' },
		{ "async", no_argument, NULL, 'A' },
		{ "dp", no_argument, NULL, 'd' },
		{ "dump-pretty", no_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	int opt;
	long secs;
	optind = 0;	/* GNU: start over (main() used getopt) */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+hc:s:p:xfbdtviqV", longopts, NULL)) != -1) {
		switch (opt) {
		case 's': *sock = optarg; break;
		case 'C': *config = optarg; break;
		case 'c': case 'p': case 'I': case 'x': case 'f': case 'b': case 'v': case 'q':
			break;
		case 'h': usage(name); return 0;
		case 'V': printf("%s\n", F2B_VERSION); return 0;
		case 'L': printf("Fail2Ban v%s\n", F2B_VERSION); return 0;
		case 'T':
			if (jailconf_parse_time(optarg, &secs) < 0) {
				printf("ERROR: cannot convert '%s' to seconds\n", optarg);
				return F2B_ERR;
			}
			printf("%ld\n", secs);
			return 0;
		case 'd': case 't': case 'i': case 'A':
			f2bclient_log("ERROR", "option -%c is fail2ban-server's; mailwarden checks its "
			    "configuration with `mailwarden check-config`", opt < 128 ? opt : '-');
			return F2B_ERR;
		default: usage(name); return F2B_ERR;
		}
	}
	if (optind >= argc) {
		usage(name);
		return F2B_ERR;
	}
	return -1;
}

int cli_f2bclient(const char *config, const char *def_config, int argc, char **argv)
{
	const char *sock = NULL, *opt_config = NULL;
	int rc = options(argc, argv, &sock, &opt_config);
	if (rc >= 0)
		return rc;
	struct f2b c = { sock, argv + optind, argc - optind };
	struct config *cfg = NULL;
	if (c.sock == NULL) {
		const char *path = opt_config ? opt_config : config ? config :
		    getenv("MAILWARDEN_CONFIG") && *getenv("MAILWARDEN_CONFIG") ?
		    getenv("MAILWARDEN_CONFIG") : def_config;
		char err[2048];
		if ((cfg = config_load_client(path, err, sizeof(err))) == NULL) {
			f2bclient_log("ERROR", "mailwarden configuration: %s", err);
			return F2B_ERR;
		}
		c.sock = config_get(cfg, "warden_socket");
	}
	rc = -1;
	for (size_t i = 0; i < sizeof(commands) / sizeof(*commands); i++)
		if (strcmp(c.argv[0], commands[i].name) == 0)
			rc = commands[i].fn(&c);
	if (rc < 0) {		/* not a command we know: the server's answer */
		struct buf ans;
		char *w[1] = { "ping" };
		int r = f2bclient_ask(&c, 1, w, &ans, 0);
		if (r >= 0) {
			buf_free(&ans);
			f2bclient_nok("Invalid command", "Invalid command");
		}
		rc = F2B_ERR;
	}
	fflush(stdout);
	if (cfg)
		config_free(cfg);
	return rc;
}

