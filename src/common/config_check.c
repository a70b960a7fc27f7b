/*
 * config_check — main.cf's vocabulary: what each parameter type accepts
 * (one check function per type, a table row each, run through
 * param_check() of param.c), the checks some parameters need beyond
 * their type (files readable, option words), and config_check_value(),
 * which config.c runs on every expanded global value at load.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/cidr.h"
#include "common/config.h"
#include "common/log.h"
#include "common/map.h"
#include "common/useracl.h"
#include "common/util.h"

static int check_readable(const char *what, const char *v, char *msg, size_t len)
{
	if (*v == '\0')
		return 0;
	int fd = open(v, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(msg, len, "cannot open %s file %s: %s", what, v, strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

static int check_cert(const char *v, char *msg, size_t len)
{
	return check_readable("certificate", v, msg, len);
}

static int check_key(const char *v, char *msg, size_t len)
{
	return check_readable("key", v, msg, len);
}

static int check_mynetworks_style(const char *v, char *msg, size_t len)
{
	if (strcmp(v, "host") == 0)
		return 0;
	snprintf(msg, len, "'%s' is not supported (only 'host' is implemented)", v);
	return -1;
}

/* smtp_sasl_*security_options: Postfix's (Cyrus) option names. */
static int check_sasl_opts(const char *v, char *msg, size_t len)
{
	static const char *const ok[] = { "noplaintext", "noactive", "nodictionary",
	    "noanonymous", "mutual_auth" };
	while (*v) {
		size_t n = strcspn(v, ", \t\n"), i;
		for (i = 0; n > 0 && i < sizeof(ok) / sizeof(*ok); i++)
			if (strlen(ok[i]) == n && strncmp(v, ok[i], n) == 0)
				break;
		if (n > 0 && i == sizeof(ok) / sizeof(*ok)) {
			snprintf(msg, len, "unknown option '%.*s' (use noplaintext, noactive, "
			    "nodictionary, noanonymous, mutual_auth)", (int)(n > 64 ? 64 : n), v);
			return -1;
		}
		v += n;
		v += strspn(v, ", \t\n");
	}
	return 0;
}

static int check_useracl(const char *v, char *msg, size_t len)
{
	struct useracl *acl = useracl_open(v, msg, len);
	useracl_free(acl);
	return acl ? 0 : -1;
}

static int check_facility(const char *v, char *msg, size_t len)
{
	if (log_facility_parse(v) >= 0)
		return 0;
	snprintf(msg, len, "'%s' is not a syslog facility (mail, daemon, user, auth, "
	    "authpriv, local0 .. local7)", v);
	return -1;
}

/* virtual_uid_maps / virtual_gid_maps: a static: result is a number, as
 * Postfix's virtual(8) needs one (static:vmail is refused there too, at
 * delivery; here at load). */
static int check_static_id(const char *v, char *msg, size_t len)
{
	char **items = config_list(v);
	int rc = 0;

	for (size_t i = 0; rc == 0 && items[i] != NULL; i++) {
		const char *id = items[i] + 7;
		long n;
		if (strncmp(items[i], "static:", 7) == 0 &&
		    (config_parse_int(id, &n) < 0 || n < 0)) {
			snprintf(msg, len, "'%s': a uid or gid must be a number (static:5000, "
			    "as Postfix needs; not a user or group name)", items[i]);
			rc = -1;
		}
	}
	config_list_free(items);
	return rc;
}

/* content_filter: empty, or transport:destination with transport smtp or
 * lmtp (FILTER_README's amavis pattern). */
static int check_content_filter(const char *v, char *msg, size_t len)
{
	while (*v == ' ' || *v == '\t')
		v++;
	if (*v == '\0')
		return 0;
	const char *colon = strchr(v, ':');
	if (colon == NULL || colon[1] == '\0' || (strncmp(v, "smtp:", 5) != 0 &&
	    strncmp(v, "lmtp:", 5) != 0)) {
		snprintf(msg, len, "'%s': expected smtp:[host]:port or lmtp:[host]:port "
		    "(lmtp:unix:/path)", v);
		return -1;
	}
	return 0;
}

/* receive_override_options: Postfix's words. */
static int check_receive_override(const char *v, char *msg, size_t len)
{
	static const char *const words[] = { "no_unknown_recipient_checks",
	    "no_address_mappings", "no_header_body_checks", "no_milters" };
	char **items = config_list(v);
	int rc = 0;
	for (size_t i = 0; rc == 0 && items[i]; i++) {
		size_t k = 0;
		while (k < sizeof(words) / sizeof(*words) && strcmp(items[i], words[k]) != 0)
			k++;
		if (k == sizeof(words) / sizeof(*words)) {
			snprintf(msg, len, "unknown option '%s' (use no_unknown_recipient_checks, "
			    "no_address_mappings, no_header_body_checks, no_milters)", items[i]);
			rc = -1;
		}
	}
	config_list_free(items);
	return rc;
}

/* Checks beyond the type, one row per parameter that needs one. */
static const struct {
	const char *name;
	int (*check_fn)(const char *v, char *msg, size_t len);
} extra_checks[] = {
	{ "mynetworks_style", check_mynetworks_style },
	{ "authorized_mailq_users", check_useracl },
	{ "syslog_facility", check_facility },
	{ "smtp_sasl_security_options", check_sasl_opts },
	{ "smtp_sasl_tls_security_options", check_sasl_opts },
	{ "smtpd_tls_cert_file", check_cert },
	{ "smtpd_tls_key_file", check_key },
	{ "virtual_uid_maps", check_static_id },
	{ "virtual_gid_maps", check_static_id },
	{ "content_filter", check_content_filter },
	{ "receive_override_options", check_receive_override },
};

int config_check_opens(const struct param *p)
{
	if (p->type == PT_MAPS || p->type == PT_DOMAINS || p->type == PT_CIDRS)
		return 1;
	for (size_t i = 0; i < sizeof(extra_checks) / sizeof(extra_checks[0]); i++)
		if ((extra_checks[i].check_fn == check_cert || extra_checks[i].check_fn == check_key) &&
		    strcmp(extra_checks[i].name, p->name) == 0)
			return 1;
	return 0;
}

static int check_range(const struct param *p, long n, const char *unit, char *msg, size_t len)
{
	if (n < p->min) {
		snprintf(msg, len, "value %ld%s is less than the minimum %ld%s", n, unit, p->min, unit);
		return -1;
	}
	if (n > p->max) {
		snprintf(msg, len, "value %ld%s is more than the maximum %ld%s", n, unit, p->max, unit);
		return -1;
	}
	return 0;
}

static int check_enum(const struct param *p, const char *v, char *msg, size_t len)
{
	size_t vlen = strlen(v);

	for (const char *c = p->choices; *c; ) {
		size_t wlen = strcspn(c, "|");
		if (wlen == vlen && strncmp(c, v, vlen) == 0)
			return 0;
		c += wlen;
		if (*c == '|')
			c++;
	}
	snprintf(msg, len, "bad value '%s' (use one of %s)", v, p->choices);
	return -1;
}

/* ---- main.cf's vocabulary: each type's check, one row per type ---- */

static int v_text(const struct param *p, const char *v, const void *ctx, long *num,
    char *msg, size_t len)
{
	return 0;
}

static int v_int(const struct param *p, const char *v, const void *ctx, long *num,
    char *msg, size_t len)
{
	int rc = config_parse_int(v, num);
	if (rc == -1)
		snprintf(msg, len, "bad numerical value '%s'", v);
	else if (rc == -2)
		snprintf(msg, len, "numerical value '%s' is too large", v);
	else
		rc = check_range(p, *num, "", msg, len);
	return rc;
}

static int v_time(const struct param *p, const char *v, const void *ctx, long *num,
    char *msg, size_t len)
{
	int rc = config_parse_time(v, num);
	if (rc == -1)
		snprintf(msg, len, "bad time value '%s'", v);
	else if (rc == -2)
		snprintf(msg, len, "time value '%s' is too large", v);
	else
		rc = check_range(p, *num, "s", msg, len);
	return rc;
}

static int v_size(const struct param *p, const char *v, const void *ctx, long *num,
    char *msg, size_t len)
{
	int rc = config_parse_size(v, num);
	if (rc == -1)
		snprintf(msg, len, "bad size value '%s'", v);
	else if (rc == -2)
		snprintf(msg, len, "size value '%s' is too large", v);
	else
		rc = check_range(p, *num, "", msg, len);
	return rc;
}

static int v_bool(const struct param *p, const char *v, const void *ctx, long *num,
    char *msg, size_t len)
{
	if ((*num = config_parse_bool(v)) >= 0)
		return 0;
	snprintf(msg, len, "bad boolean value '%s' (use yes or no)", v);
	return -1;
}

static int v_enum(const struct param *p, const char *v, const void *ctx, long *num,
    char *msg, size_t len)
{
	return check_enum(p, v, msg, len);
}

/* ctx: alias_maps's value, maps also read in aliases(5) syntax. */
static int v_maps(const struct param *p, const char *v, const void *ctx, long *num,
    char *msg, size_t len)
{
	struct maplist *ml = maplist_open_aliases(v, ctx ? ctx : "", msg, len);
	int rc = ml ? 0 : -1;
	maplist_free(ml);
	return rc;
}

static int v_domains(const struct param *p, const char *v, const void *ctx, long *num,
    char *msg, size_t len)
{
	struct domlist *dl = domlist_open(v, msg, len);
	int rc = dl ? 0 : -1;
	domlist_free(dl);
	return rc;
}

static int v_cidrs(const struct param *p, const char *v, const void *ctx, long *num,
    char *msg, size_t len)
{
	struct cidrlist *cl = cidrlist_parse(v, msg, len);
	int rc = cl ? 0 : -1;
	cidrlist_free(cl);
	return rc;
}

static int v_listen(const struct param *p, const char *v, const void *ctx, long *num,
    char *msg, size_t len)
{
	struct sockaddr_storage *ss;
	size_t cnt;
	int rc = config_listen_parse(v, &ss, &cnt, msg, len);
	if (rc == 0)
		free(ss);
	return rc;
}

static const struct param_vocab maincf_vocab[] = {
	{ PT_STR, v_text }, { PT_LIST, v_text }, { PT_TEMPLATE, v_text },
	{ PT_INT, v_int }, { PT_TIME, v_time }, { PT_SIZE, v_size },
	{ PT_BOOL, v_bool }, { PT_ENUM, v_enum }, { PT_MAPS, v_maps },
	{ PT_DOMAINS, v_domains }, { PT_CIDRS, v_cidrs }, { PT_LISTEN, v_listen },
	{ PT_STR, NULL }
};

/* Check an expanded value; -1 and msg (without location) if bad. */
int config_check_value(const struct param *p, const char *v, const char *aliases,
    char *msg, size_t len)
{
	int rc = param_check(maincf_vocab, p, v, aliases, NULL, msg, len);
	for (size_t i = 0; rc == 0 && i < sizeof(extra_checks) / sizeof(extra_checks[0]); i++) {
		if (strcmp(extra_checks[i].name, p->name) == 0)
			rc = extra_checks[i].check_fn(v, msg, len);
	}
	return rc;
}

