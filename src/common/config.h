/*
 * config — mailwarden.conf: Postfix main.cf syntax for the global keys,
 * fail2ban jail.local sections for the ban engine, in one file.
 *
 *   key = value            global parameter (Postfix name, see params.c)
 *       continued          a line starting with white space continues
 *   # comment
 *   role/inet/key = value  per-listener override, as `postconf -P` names
 *                          master.cf overrides (role: smtpd, submission,
 *                          smtps; "smtp/inet/..." is accepted for smtpd)
 *   [section]              from here on fail2ban syntax: free keys, kept
 *                          raw for the ban engine, no $name expansion
 *
 * Values are expanded ($name, ${name}) when read, as Postfix does, so the
 * order of definitions does not matter. Every global key must be in the
 * parameter table (params.c); unknown keys and bad values make
 * config_load() fail with "FILE, line N: KEY: message".
 */
#ifndef MW_CONFIG_H
#define MW_CONFIG_H
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>

enum param_type {
	PT_STR,		/* free text */
	PT_INT,		/* integer within [min, max] */
	PT_BOOL,	/* yes/no */
	PT_TIME,	/* seconds; units s, m, h, d, w accepted (Postfix) */
	PT_SIZE,	/* bytes */
	PT_LIST,	/* list split on commas and white space */
	PT_MAPS,	/* list of type:name map references, checked at load */
	PT_DOMAINS,	/* list of domains and/or type:name maps */
	PT_CIDRS,	/* list of networks: 1.2.3.0/24, [::1]/128, type:name */
	PT_LISTEN,	/* list of ADDR:PORT, [v6addr]:PORT */
	PT_ENUM,	/* one of the words in param.choices ("a|b|c") */
	PT_TEMPLATE,	/* text kept as written: its $names are expanded by the
			 * code using it (default_rbl_reply's $rbl_code ...) */
};

/* One row of the parameter table: everything else comes from it. */
struct param {
	const char *name;
	enum param_type type;
	const char *def;	/* default, may use $name */
	long min, max;		/* for PT_INT / PT_TIME / PT_SIZE */
	const char *choices;	/* for PT_ENUM: "normalize|yes|no" */
	const char *help;	/* one line, for the man page and check-config */
};

/* The parameter table, terminated by a row with name == NULL. */
extern const struct param config_params[];

/*
 * A vocabulary: how each type's values are read. main.cf's is Postfix's
 * (params.c); the jails' options are a table of the same rows read with
 * fail2ban's (warden/jailval.c: 1h 30m, -1, true/on). check_fn gives
 * numbers, times, booleans and enum indexes in *num; ctx is the caller's
 * (main.cf: alias_maps's value). -1 and msg (no location) if bad.
 */
typedef int (*param_check_fn)(const struct param *p, const char *v, const void *ctx,
    long *num, char *msg, size_t len);
struct param_vocab {
	enum param_type type;
	param_check_fn check_fn;	/* NULL ends the vocabulary */
};
/* Check v against p's type in voc; 0 and *num (may be NULL), or -1 and msg. */
int param_check(const struct param_vocab *voc, const struct param *p, const char *v,
    const void *ctx, long *num, char *msg, size_t len);
/* The row of table named name (any case if icase), or NULL. */
const struct param *param_find(const struct param *table, const char *name, int icase);
/* The row whose name is a slip of name (a letter wrong, missing, extra or
 * two swapped; two such for names of 6 letters or more), or NULL. */
const struct param *param_near(const struct param *table, const char *name);

/* One raw key of a [section]. */
struct config_kv {
	char *key;
	char *value;		/* continuation lines joined with '\n' */
	int line;
};

/* One fail2ban-style [section] in file order. */
struct config_section {
	char *name;
	char *file;
	int line;
	struct config_kv *kv;
	size_t nkv;
};

struct config;
struct maplist;

/*
 * Load and check a config file. On error return NULL and put
 * "FILE, line N: KEY: what is wrong" (or "FILE: ..." without a line) into
 * err. Checks every value against its type, and opens every map named by
 * a PT_MAPS/PT_DOMAINS/PT_CIDRS key so a missing map file fails here.
 */
struct config *config_load(const char *path, char *err, size_t errlen);
/*
 * check-config's load: every error is printed to out ("mailwarden: error:
 * FILE, line N: KEY: message") and counted in *nerr, and the load goes on;
 * a bad value is dropped for its default. NULL only when nothing is left
 * to check (no file, or a default that does not check).
 */
struct config *config_load_report(const char *path, FILE *out, int *nerr);
/*
 * The same for the setgid sendmail and mailq: parse and check the types,
 * but open no file but path itself (no maps, TLS keys or certificates,
 * no jail includes); values that would need a file are not checked.
 */
struct config *config_load_client(const char *path, char *err, size_t errlen);
/* Free a config. */
void config_free(struct config *cfg);
/* Path the config was loaded from. */
const char *config_path(const struct config *cfg);

/* Expanded value of a global key (default when unset). Fatal if the key is
 * not in the parameter table (a programming error). */
const char *config_get(const struct config *cfg, const char *name);
/* Listener roles that may override a key (role/inet/key): "smtpd" (also
 * spelled "smtp"), "submission", "smtps", then up to CONFIG_MAX_NAMED
 * named listeners (`listeners = NAME`, NAME/inet/listen = ADDR:PORT;
 * docs/content-filter.md). Slots 0..2 are the built-in roles. */
#define CONFIG_NBUILTIN		3
#define CONFIG_MAX_NAMED	8
#define CONFIG_NROLES		(CONFIG_NBUILTIN + CONFIG_MAX_NAMED)
extern const char *const config_role_names[CONFIG_NBUILTIN];
/* Name of role slot r ("smtpd", ..., or a named listener's), NULL if the
 * slot is unused. */
const char *config_role_name(const struct config *cfg, int r);
/* Same, with the per-listener override role/inet/name taking precedence,
 * then the role's built-in default (see params.c), then the global. */
const char *config_get_role(const struct config *cfg, const char *role,
    const char *name);
/* Typed getters (values were checked at load, so these cannot fail). */
long config_get_int(const struct config *cfg, const char *name);
int config_get_bool(const struct config *cfg, const char *name);
long config_get_time(const struct config *cfg, const char *name);
long config_get_role_int(const struct config *cfg, const char *role, const char *name);
int config_get_role_bool(const struct config *cfg, const char *role, const char *name);
long config_get_role_time(const struct config *cfg, const char *role, const char *name);
/* Split a list value into a NULL-terminated array; free with
 * config_list_free(). Commas and white space separate items. */
char **config_list(const char *value);
void config_list_free(char **list);
/* Line number where a global key was set (0 if defaulted), for messages. */
int config_line(const struct config *cfg, const char *name);
/* Whether a global key was set explicitly in the file. */
int config_is_set(const struct config *cfg, const char *name);
/* Whether the smtp engine reads key name per listener, so that a
 * ROLE/inet/name override takes effect (docs/content-filter.md). */
int config_listener_key(const char *name);
/* Line of role slot r's override of parameter number i (config_params[i]),
 * 0 if that listener does not override it. */
int config_role_line(const struct config *cfg, int r, size_t i);

/* The [sections], in file order. */
size_t config_nsections(const struct config *cfg);
const struct config_section *config_section(const struct config *cfg, size_t i);

/* A built-in default of one listener role (params.c), e.g. submission's
 * smtpd_tls_security_level = encrypt. */
struct role_default {
	const char *role;	/* "submission", "smtps" ("smtpd" has none) */
	const char *name;
	const char *value;
};
/* Role defaults, terminated by a row with role == NULL. */
extern const struct role_default config_role_defaults[];

/* Byte-size getters (PT_SIZE; k, m, g suffixes were accepted at load). */
long config_get_size(const struct config *cfg, const char *name);
long config_get_role_size(const struct config *cfg, const char *role, const char *name);
/* Parse a PT_LISTEN value into addresses (port set; "*:25" gives 0.0.0.0
 * and [::]); *out is xmalloc'ed, free() it. -1 + message on error. */
int config_listen_parse(const char *value, struct sockaddr_storage **out,
    size_t *n, char *err, size_t errlen);
/* Parse a PT_TIME value ("300", "300s", "5m", "1d", "2w") into seconds;
 * -1 if malformed, -2 if too large. Also for fail2ban times. */
int config_parse_time(const char *s, long *out);
/* Parse a PT_SIZE value (bytes, optional k/m/g suffix); -1 bad, -2 too large. */
int config_parse_size(const char *s, long *out);
/* Parse a decimal integer; -1 if malformed, -2 if out of range of long. */
int config_parse_int(const char *s, long *out);
/* 1 for yes/true/1, 0 for no/false/0 (any case), -1 for anything else. */
int config_parse_bool(const char *s);
/* Check an expanded value against p's type and extra checks (maps are
 * opened, those also in aliases (alias_maps's value) in aliases(5)
 * syntax; files tested); -1 and msg (without location) if bad. */
int config_check_value(const struct param *p, const char *v, const char *aliases,
    char *msg, size_t len);
/* 1 if checking p's value opens a file (maps, key, certificate). */
int config_check_opens(const struct param *p);
/* Open a PT_MAPS global (e.g. "local_recipient_maps"), maps that are also
 * in alias_maps in aliases(5) syntax, as the load check did. */
struct maplist *config_maplist(const struct config *cfg, const char *name,
    char *err, size_t errlen);
/* Print the parameter table as "name = default" with help, for
 * `mailwarden params`. */
void config_print_params(FILE *fp);
/* Print the explicitly set globals as written ($names kept), sorted by
 * name, then the per-listener overrides: `mailwarden params -n`
 * (postconf -n, then postconf -P's overrides). */
void config_print_set(const struct config *cfg, FILE *fp);
/* Print the parameter table as roff for mailwarden.conf(5). */
void config_print_man(FILE *fp);
#endif
