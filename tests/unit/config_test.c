/*
 * config_test — mailwarden.conf loading: syntax, continuation, expansion,
 * per-listener overrides, sections, typed getters, and golden error
 * messages (data/bad/NAME.conf must fail with exactly data/bad/NAME.ref).
 * Run with tests/unit as the working directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "common/config.h"
#include "common/map.h"
#include "common/util.h"

static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *data = NULL;
	size_t len = 0;

	if (fp == NULL)
		return NULL;
	FILE *mem = open_memstream(&data, &len);
	int c;
	while ((c = fgetc(fp)) != EOF)
		fputc(c, mem);
	fclose(mem);
	fclose(fp);
	return data;
}

static struct config *load_good(void)
{
	char err[1024] = "";
	struct config *cfg = config_load("data/good.conf", err, sizeof(err));
	if (cfg == NULL)
		fail_msg("good.conf: %s", err);
	return cfg;
}

static void test_values_and_expansion(void **state)
{
	struct config *cfg = load_good();

	assert_string_equal(config_path(cfg), "data/good.conf");
	assert_string_equal(config_get(cfg, "myhostname"), "Mail.Example.COM");
	/* dynamic default: myhostname minus the first label */
	assert_string_equal(config_get(cfg, "mydomain"), "Example.COM");
	/* defined after its use: expansion is order independent */
	assert_string_equal(config_get(cfg, "smtpd_banner"), "Mail.Example.COM ESMTP Warden");
	assert_string_equal(config_get(cfg, "mydestination"),
	    "Mail.Example.COM, localhost.Example.COM example.org .sub.example.net");
	assert_string_equal(config_get(cfg, "myorigin"), "Mail.Example.COM");
	assert_string_equal(config_get(cfg, "virtual_mailbox_base"), "set");
	assert_string_equal(config_get(cfg, "recipient_delimiter"), "$+");
	assert_string_equal(config_get(cfg, "syslog_name"), "Warden-log");
	assert_string_equal(config_get(cfg, "smtpd_tls_key_file"), "data/cert.pem");
	/* the last definition wins */
	assert_int_equal(config_get_time(cfg, "smtpd_timeout"), 600);
	assert_int_equal(config_line(cfg, "smtpd_timeout"), 26);
	assert_int_equal(config_get_size(cfg, "message_size_limit"), 20L * 1024 * 1024);
	assert_int_equal(config_get_bool(cfg, "disable_vrfy_command"), 0);
	assert_int_equal(config_get_int(cfg, "smtpd_recipient_limit"), 500);
	assert_true(config_is_set(cfg, "mail_name"));
	assert_false(config_is_set(cfg, "queue_directory"));
	assert_int_equal(config_line(cfg, "queue_directory"), 0);
	assert_string_equal(config_get(cfg, "queue_directory"), "/var/spool/mailwarden");
	assert_int_equal(config_get_time(cfg, "maximal_queue_lifetime"), 5 * 86400);
	assert_int_equal(config_get_time(cfg, "maximal_backoff_time"), 4000);
	assert_int_equal(config_get_bool(cfg, "smtpd_peername_lookup"), 1);
	assert_string_equal(config_get(cfg, "smtpd_forbid_bare_newline_exclusions"),
	    "192.0.2.0/24, [2001:db8::]/32");
	assert_string_equal(config_get(cfg, "virtual_alias_domains"), "hash:data/virtual");
	assert_string_equal(config_get(cfg, "virtual_mailbox_domains"), "");
	config_free(cfg);
}

static void test_roles(void **state)
{
	struct config *cfg = load_good();

	/* override */
	assert_int_equal(config_get_role_time(cfg, "submission", "smtpd_timeout"), 60);
	assert_string_equal(config_get_role(cfg, "smtps", "smtpd_tls_security_level"), "may");
	/* smtp is an alias of smtpd; overrides are expanded against globals */
	assert_string_equal(config_get_role(cfg, "smtpd", "smtpd_banner"), "Mail.Example.COM hello");
	assert_string_equal(config_get_role(cfg, "smtp", "smtpd_banner"), "Mail.Example.COM hello");
	/* role defaults */
	assert_string_equal(config_get_role(cfg, "submission", "smtpd_tls_security_level"), "encrypt");
	assert_int_equal(config_get_role_bool(cfg, "submission", "smtpd_sasl_auth_enable"), 1);
	assert_string_equal(config_get_role(cfg, "submission", "smtpd_relay_restrictions"),
	    "permit_sasl_authenticated, reject");
	assert_string_equal(config_get_role(cfg, "smtps", "smtpd_recipient_restrictions"), "");
	assert_int_equal(config_get_role_bool(cfg, "smtps", "smtpd_tls_wrappermode"), 1);
	assert_int_equal(config_get_role_bool(cfg, "submission", "smtpd_tls_wrappermode"), 0);
	/* no role default for smtpd: the global value */
	assert_string_equal(config_get_role(cfg, "smtpd", "smtpd_tls_security_level"), "none");
	assert_int_equal(config_get_role_bool(cfg, "smtpd", "smtpd_sasl_auth_enable"), 0);
	assert_int_equal(config_get_role_time(cfg, "smtpd", "smtpd_timeout"), 600);
	assert_int_equal(config_get_role_int(cfg, "smtps", "smtpd_recipient_limit"), 500);
	assert_int_equal(config_get_role_size(cfg, "smtps", "message_size_limit"), 20L * 1024 * 1024);
	/* and the global is untouched */
	assert_string_equal(config_get(cfg, "smtpd_banner"), "Mail.Example.COM ESMTP Warden");
	config_free(cfg);
}

/* listeners = NAME: each with NAME/inet/listen and its own overrides. */
static void test_named_listeners(void **state)
{
	char err[1024];
	struct config *cfg = config_load("data/named.conf", err, sizeof(err));
	if (cfg == NULL)
		fail_msg("%s", err);
	/* slots: the built-in three, then in order of first mention */
	assert_string_equal(config_role_name(cfg, 0), "smtpd");
	assert_string_equal(config_role_name(cfg, CONFIG_NBUILTIN), "reinject");
	assert_string_equal(config_role_name(cfg, CONFIG_NBUILTIN + 1), "other-2");
	assert_null(config_role_name(cfg, CONFIG_NBUILTIN + 2));
	assert_string_equal(config_get_role(cfg, "reinject", "smtpd_listen"), "127.0.0.1:10025");
	assert_string_equal(config_get_role(cfg, "other-2", "smtpd_listen"), "[::1]:10026");
	/* overrides, and the global where there is none */
	assert_string_equal(config_get_role(cfg, "reinject", "content_filter"), "");
	assert_string_equal(config_get_role(cfg, "other-2", "content_filter"), "smtp:[127.0.0.1]:10024");
	assert_string_equal(config_get_role(cfg, "smtpd", "content_filter"), "smtp:[127.0.0.1]:10024");
	assert_string_equal(config_get_role(cfg, "reinject", "receive_override_options"),
	    "no_unknown_recipient_checks, no_header_body_checks, no_milters");
	assert_string_equal(config_get_role(cfg, "smtpd", "receive_override_options"), "no_address_mappings");
	assert_int_equal(config_get_role_time(cfg, "other-2", "smtpd_timeout"), 5);
	assert_int_equal(config_get_role_time(cfg, "reinject", "smtpd_timeout"), 300);
	/* no built-in role default reaches a named listener */
	assert_string_equal(config_get_role(cfg, "reinject", "smtpd_tls_security_level"),
	    config_get(cfg, "smtpd_tls_security_level"));
	/* `params -n` prints them as written */
	char *out = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&out, &len);
	config_print_set(cfg, mem);
	fclose(mem);
	assert_non_null(strstr(out, "reinject/inet/listen = 127.0.0.1:10025\n"));
	assert_non_null(strstr(out, "other-2/inet/smtpd_timeout = 5s\n"));
	free(out);
	config_free(cfg);
}

static void test_sections(void **state)
{
	struct config *cfg = load_good();
	const struct config_section *s;

	assert_int_equal(config_nsections(cfg), 2);
	s = config_section(cfg, 0);
	assert_string_equal(s->name, "sshd");
	assert_string_equal(s->file, "data/good.conf");
	assert_int_equal(s->line, 27);
	assert_int_equal(s->nkv, 4);
	assert_string_equal(s->kv[0].key, "enabled");
	assert_string_equal(s->kv[0].value, "true");
	assert_int_equal(s->kv[0].line, 28);
	assert_string_equal(s->kv[1].key, "filter");
	assert_string_equal(s->kv[1].value, "sshd");
	assert_string_equal(s->kv[2].key, "logpath");
	assert_string_equal(s->kv[2].value, "/var/log/auth.log\n/var/log/secure");
	assert_int_equal(s->kv[2].line, 30);
	assert_string_equal(s->kv[3].key, "port");
	assert_int_equal(s->kv[3].line, 34);
	s = config_section(cfg, 1);
	assert_string_equal(s->name, "postfix");
	assert_int_equal(s->nkv, 1);
	/* no expansion: $value inside a section stays raw */
	assert_string_equal(s->kv[0].key, "action");
	assert_string_equal(s->kv[0].value, "raw $value, not expanded");
	assert_null(config_section(cfg, 2));
	config_free(cfg);
}

/* Load text from a temporary file; NULL + err (path replaced by "T") on error. */
static struct config *load_str(const char *text, char *err, size_t errlen)
{
	char path[] = "/tmp/mw_config_test_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *fp = fdopen(fd, "w");
	fputs(text, fp);
	fclose(fp);
	struct config *cfg = config_load(path, err, errlen);
	unlink(path);
	if (cfg == NULL && strncmp(err, path, strlen(path)) == 0) {
		size_t plen = strlen(path);
		memmove(err + 1, err + plen, strlen(err + plen) + 1);
		err[0] = 'T';
	}
	return cfg;
}

static void test_value_forms(void **state)
{
	char err[512] = "";
	struct config *cfg = load_str(
	    "smtpd_timeout = 2h\r\n"
	    "smtpd_error_sleep_time = 1w\n"
	    "queue_run_delay = 45\n"
	    "smtpd_helo_required = TRUE\n"
	    "smtpd_delay_reject = 0\n"
	    "smtpd_peername_lookup = 1\n"
	    "message_size_limit = 1g\n"
	    "virtual_mailbox_base = ${alias_maps:none}${mail_name?set}   \n"
	    "smtpd_banner = costs $ 5$\n"
	    "smtpd_client_restrictions = a,\n"
	    "        b ,\t\n"
	    "  \tc\n"
	    "smtpd/inet/smtpd_timeout = 7\n", err, sizeof(err));
	if (cfg == NULL)
		fail_msg("%s", err);
	assert_int_equal(config_get_time(cfg, "smtpd_timeout"), 7200);
	assert_int_equal(config_get_time(cfg, "smtpd_error_sleep_time"), 7 * 86400);
	assert_int_equal(config_get_time(cfg, "queue_run_delay"), 45);
	assert_int_equal(config_get_bool(cfg, "smtpd_helo_required"), 1);
	assert_int_equal(config_get_bool(cfg, "smtpd_delay_reject"), 0);
	assert_int_equal(config_get_bool(cfg, "smtpd_peername_lookup"), 1);
	assert_int_equal(config_get_size(cfg, "message_size_limit"), 1024L * 1024 * 1024);
	assert_string_equal(config_get(cfg, "virtual_mailbox_base"), "noneset");
	assert_string_equal(config_get(cfg, "smtpd_banner"), "costs $ 5$");
	assert_string_equal(config_get(cfg, "smtpd_client_restrictions"), "a, b , c");
	assert_int_equal(config_get_role_time(cfg, "smtp", "smtpd_timeout"), 7);
	assert_int_equal(config_get_role_time(cfg, "submission", "smtpd_timeout"), 7200);
	config_free(cfg);
}

static void test_limits(void **state)
{
	char err[512];
	size_t n = 70 * 1024;
	char *big = malloc(n + 64);

	snprintf(big, n + 64, "mail_name = x\nsmtpd_banner = ");
	size_t len = strlen(big);
	memset(big + len, 'a', n);
	big[len + n] = '\0';
	assert_null(load_str(big, err, sizeof(err)));
	assert_string_equal(err, "T, line 2: line too long");
	free(big);
	assert_null(load_str("smtpd_timeout = 99999999999999999999\n", err, sizeof(err)));
	assert_string_equal(err, "T, line 1: smtpd_timeout: time value '99999999999999999999' is too large");
	assert_null(load_str("smtpd_timeout = 999999999w\n", err, sizeof(err)));
	assert_string_equal(err, "T, line 1: smtpd_timeout: value 604799999395200s is more "
	    "than the maximum 315360000s");
	assert_null(load_str("smtpd_timeout = 0\n", err, sizeof(err)));
	assert_string_equal(err, "T, line 1: smtpd_timeout: value 0s is less than the minimum 1s");
	assert_null(load_str("smtpd_timeout = -5\n", err, sizeof(err)));
	assert_string_equal(err, "T, line 1: smtpd_timeout: bad time value '-5'");
}

/* Maps named in alias_maps are aliases(5) files also in local_recipient_maps. */
static void test_alias_maps_in_local_recipients(void **state)
{
	struct config *cfg = load_good();
	char err[512];
	struct maplist *ml = config_maplist(cfg, "local_recipient_maps", err, sizeof(err));

	if (ml == NULL)
		fail_msg("%s", err);
	assert_int_equal(maplist_count(ml), 2);
	assert_string_equal(maplist_lookup(ml, "nospace"), "postmaster");
	assert_string_equal(maplist_lookup(ml, "postmaster"), "root");
	assert_non_null(maplist_lookup(ml, "root"));	/* from unix:passwd.byname */
	maplist_free(ml);
	config_free(cfg);
}

static void test_defaults(void **state)
{
	char path[] = "/tmp/mw_config_test_XXXXXX";
	char err[512];
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *fp = fdopen(fd, "w");
	fputs("# empty config\n\n", fp);
	fclose(fp);

	struct config *cfg = config_load(path, err, sizeof(err));
	assert_non_null(cfg);
	const char *host = config_get(cfg, "myhostname");
	assert_true(host[0] != '\0');
	for (const char *p = host; *p; p++)
		assert_false(*p >= 'A' && *p <= 'Z');
	const char *dom = config_get(cfg, "mydomain");
	const char *dot = strchr(host, '.');
	assert_string_equal(dom, dot && dot[1] ? dot + 1 : "localdomain");
	assert_non_null(strstr(config_get(cfg, "mynetworks"), "127.0.0.0/8 [::1]/128"));
	assert_string_equal(config_get(cfg, "smtpd_listen"), "0.0.0.0:25, [::]:25");
	assert_int_equal(config_get_time(cfg, "smtpd_timeout"), 300);
	assert_int_equal(config_get_size(cfg, "message_size_limit"), 10240000);
	assert_string_equal(config_get(cfg, "smtpd_forbid_bare_newline"), "normalize");
	assert_string_equal(config_get(cfg, "smtpd_forbid_bare_newline_exclusions"),
	    config_get(cfg, "mynetworks"));
	assert_string_equal(config_get(cfg, "local_recipient_maps"), "unix:passwd.byname ");
	assert_string_equal(config_get(cfg, "smtpd_tls_key_file"), "");
	assert_int_equal(config_nsections(cfg), 0);
	config_free(cfg);
	unlink(path);
}

static void test_missing_file(void **state)
{
	char err[512];

	assert_null(config_load("data/does-not-exist.conf", err, sizeof(err)));
	assert_string_equal(err, "data/does-not-exist.conf: cannot open: No such file or directory");
}

/* Every data/bad/NAME.conf fails with exactly the text of NAME.ref. */
static void test_golden_errors(void **state)
{
	DIR *d = opendir("data/bad");
	struct dirent *de;
	int count = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		char conf[512], ref[512], err[1024];
		if (len < 6 || strcmp(de->d_name + len - 5, ".conf") != 0)
			continue;
		snprintf(conf, sizeof(conf), "data/bad/%s", de->d_name);
		snprintf(ref, sizeof(ref), "data/bad/%.*s.ref", (int)(len - 5), de->d_name);
		char *want = slurp(ref);
		if (want == NULL)
			fail_msg("%s: no .ref file", conf);
		want[strcspn(want, "\n")] = '\0';
		err[0] = '\0';
		struct config *cfg = config_load(conf, err, sizeof(err));
		if (cfg != NULL)
			fail_msg("%s: loaded, expected: %s", conf, want);
		if (strcmp(err, want) != 0)
			fail_msg("%s:\n  got:  %s\n  want: %s", conf, err, want);
		free(want);
		count++;
	}
	closedir(d);
	assert_true(count >= 30);
}

static void test_list(void **state)
{
	char **l = config_list(" a, b\tc ,, inline:{ k1=v1, k2=v2 }  static:{x y},d ");

	assert_string_equal(l[0], "a");
	assert_string_equal(l[1], "b");
	assert_string_equal(l[2], "c");
	assert_string_equal(l[3], "inline:{ k1=v1, k2=v2 }");
	assert_string_equal(l[4], "static:{x y}");
	assert_string_equal(l[5], "d");
	assert_null(l[6]);
	config_list_free(l);
	l = config_list("");
	assert_null(l[0]);
	config_list_free(l);
}

static void test_listen(void **state)
{
	struct sockaddr_storage *ss;
	size_t n;
	char err[256];
	char text[64];

	assert_int_equal(config_listen_parse("*:587, 127.0.0.1:2525 [::1]:25", &ss, &n,
	    err, sizeof(err)), 0);
	assert_int_equal(n, 4);
	assert_int_equal(ss[0].ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&ss[0])->sin_port), 587);
	assert_int_equal(((struct sockaddr_in *)&ss[0])->sin_addr.s_addr, htonl(INADDR_ANY));
	assert_int_equal(ss[1].ss_family, AF_INET6);
	assert_int_equal(ntohs(((struct sockaddr_in6 *)&ss[1])->sin6_port), 587);
	inet_ntop(AF_INET, &((struct sockaddr_in *)&ss[2])->sin_addr, text, sizeof(text));
	assert_string_equal(text, "127.0.0.1");
	assert_int_equal(ntohs(((struct sockaddr_in *)&ss[2])->sin_port), 2525);
	inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss[3])->sin6_addr, text, sizeof(text));
	assert_string_equal(text, "::1");
	free(ss);

	assert_int_equal(config_listen_parse("", &ss, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	free(ss);
	const char *bad[] = { "::1:25", "1.2.3.4:0", "1.2.3.4:", "host.example:25",
	    "[::1]25", "*:-1", "1.2.3.4:25x", NULL };
	for (int i = 0; bad[i] != NULL; i++) {
		if (config_listen_parse(bad[i], &ss, &n, err, sizeof(err)) != -1)
			fail_msg("accepted %s", bad[i]);
		assert_null(ss);
	}
}

/* Every parameter has help, a valid type, and a default that checks. */
static void test_table(void **state)
{
	for (const struct param *p = config_params; p->name != NULL; p++) {
		assert_non_null(p->help);
		assert_true(strlen(p->help) > 10);
		if (p->type == PT_ENUM)
			assert_non_null(p->choices);
		if (p->type == PT_INT || p->type == PT_TIME || p->type == PT_SIZE)
			assert_true(p->max > p->min);
		for (const struct param *q = p + 1; q->name != NULL; q++)
			assert_string_not_equal(p->name, q->name);
	}
}

#define MAN_PAGE	"../../man/mailwarden.conf.5"
#define MAN_BEGIN	".\\\" BEGIN PARAMETERS (generated by config_print_man(); do not edit)\n"
#define MAN_END		".\\\" END PARAMETERS\n"

/* Put gen between the BEGIN/END PARAMETERS markers of the man page. */
static void regen_man(const char *man, const char *gen)
{
	const char *b = strstr(man, MAN_BEGIN);
	const char *e = strstr(man, MAN_END);
	if (b == NULL || e == NULL || e < b)
		fail_msg("%s: PARAMETERS markers missing", MAN_PAGE);
	FILE *fp = fopen(MAN_PAGE, "w");
	assert_non_null(fp);
	fwrite(man, 1, (size_t)(b - man) + strlen(MAN_BEGIN), fp);
	fputs(gen, fp);
	fputs(e, fp);
	assert_int_equal(fclose(fp), 0);
}

/* man/mailwarden.conf.5 contains the list generated from the table.
 * MW_REGEN_MAN=1 in the environment rewrites it instead. */
static void put(const char *dir, const char *name, const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static const char *kv(const struct config_section *s, const char *key)
{
	for (size_t i = 0; i < s->nkv; i++)
		if (strcmp(s->kv[i].key, key) == 0)
			return s->kv[i].value;
	return NULL;
}

/* [INCLUDES] before/after and jail.d/ *.conf, *.local, in fail2ban's order. */
static void test_includes(void **state)
{
	char dir[] = "/tmp/config_test.XXXXXX", path[512], err[1024] = "";
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/jail.d", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	put(dir, "main.conf", "myhostname = mx.example.com\n"
	    "[INCLUDES]\nbefore = base.conf\nafter = extra/*.local\n"
	    "[sshd]\nenabled = true\nmaxretry = 3\n");
	put(dir, "base.conf", "[DEFAULT]\nbantime = 1h\n[sshd]\nmaxretry = 9\n");
	snprintf(path, sizeof(path), "%s/extra", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	put(dir, "extra/a.local", "[dovecot]\nenabled = true\n");
	put(dir, "jail.d/b.conf", "[postfix-sasl]\nenabled = false\n");
	put(dir, "jail.d/b.local", "[postfix-sasl]\nenabled = true\n");
	snprintf(path, sizeof(path), "%s/main.conf", dir);
	struct config *cfg = config_load(path, err, sizeof(err));
	if (cfg == NULL)
		fail_msg("%s", err);
	const char *want[] = { "DEFAULT", "sshd", "INCLUDES", "sshd", "dovecot",
	    "postfix-sasl", "postfix-sasl" };
	assert_int_equal(config_nsections(cfg), 7);
	for (size_t i = 0; i < 7; i++)
		assert_string_equal(config_section(cfg, i)->name, want[i]);
	assert_string_equal(kv(config_section(cfg, 1), "maxretry"), "9");	/* base first */
	assert_string_equal(kv(config_section(cfg, 3), "maxretry"), "3");	/* main wins */
	assert_non_null(strstr(config_section(cfg, 0)->file, "base.conf"));
	assert_non_null(strstr(config_section(cfg, 6)->file, "jail.d/b.local"));
	assert_int_equal(config_section(cfg, 6)->line, 1);
	config_free(cfg);

	/* a main.cf key in an included file, and a missing named file */
	/* a main.cf key in an included file is refused; in a section it is a jail key */
	put(dir, "jail.d/c.local", "[x]\nenabled = false\nmyhostname = y\n");
	cfg = config_load(path, err, sizeof(err));
	if (cfg == NULL)
		fail_msg("%s", err);
	config_free(cfg);
	put(dir, "jail.d/c.local", "myhostname = y\n");
	assert_null(config_load(path, err, sizeof(err)));
	assert_non_null(strstr(err, "jail.d/c.local, line 1: myhostname: an included file holds only"));
	snprintf(path, sizeof(path), "%s/jail.d/c.local", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/main.conf", dir);
	put(dir, "main.conf", "[INCLUDES]\nbefore = nosuch.conf\n");
	assert_null(config_load(path, err, sizeof(err)));
	assert_non_null(strstr(err, "nosuch.conf: cannot open"));
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* check-config's load: every error printed and counted, a bad value
 * replaced by its default, a file of names and myorigin's file read. */
static void test_report_and_files(void **state)
{
	char dir[] = "/tmp/config_test.XXXXXX", path[512], err[1024] = "";
	assert_non_null(mkdtemp(dir));
	put(dir, "mailname", "mx.example.org\nignored\n");
	put(dir, "domains", "# ours\nexample.org, example.net\nEXAMPLE.info.\n");
	char text[2048];
	snprintf(text, sizeof(text), "biff = no\nsmtpd_timeout = soon\n"
	    "bogus/inet/smtpd_timeout = 1\nmyorigin = %s/mailname\n"
	    "mydestination = localhost, %s/domains\nsmtpd_recipient_limit = -5\n"
	    "virtual_uid_maps = static:vmail\n[bad\nx = 1\n[ok]\ny = 2\n", dir, dir);
	put(dir, "main.conf", text);
	snprintf(path, sizeof(path), "%s/main.conf", dir);
	assert_null(config_load(path, err, sizeof(err)));	/* the server: the first */
	assert_non_null(strstr(err, "line 1: biff: unknown parameter"));
	char *out = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&out, &len);
	int nerr = 0;
	struct config *cfg = config_load_report(path, mem, &nerr);
	fclose(mem);
	assert_non_null(cfg);
	assert_int_equal(nerr, 6);
	const char *want[] = { "line 1: biff:", "line 2: smtpd_timeout:", "line 3: bogus/inet",
	    "line 6: smtpd_recipient_limit:", "line 7: virtual_uid_maps: 'static:vmail'",
	    "line 8: bad section header" };
	for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++)
		if (strstr(out, want[i]) == NULL)
			fail_msg("%s missing from:\n%s", want[i], out);
	assert_int_equal(config_get_time(cfg, "smtpd_timeout"), 300);	/* the default */
	assert_string_equal(config_get(cfg, "myorigin"), "mx.example.org");
	struct domlist *dl = domlist_open(config_get(cfg, "mydestination"), err, sizeof(err));
	assert_non_null(dl);
	assert_true(domlist_match(dl, "example.net") && domlist_match(dl, "example.info"));
	assert_false(domlist_match(dl, "ours"));
	domlist_free(dl);
	assert_int_equal(config_nsections(cfg), 1);	/* [ok]; the bad one's body is skipped */
	config_free(cfg);
	free(out);
	put(dir, "domains", "not_a domain!\n");
	char v[600];
	snprintf(v, sizeof(v), "%s/domains", dir);
	assert_null(domlist_open(v, err, sizeof(err)));
	assert_non_null(strstr(err, "bad domain"));
	snprintf(v, sizeof(v), "rm -rf %s", dir);
	assert_int_equal(system(v), 0);
}

static void test_man_page_in_sync(void **state)
{
	char *gen = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&gen, &len);

	config_print_man(mem);
	fclose(mem);
	char *man = slurp(MAN_PAGE);
	if (man == NULL)
		fail_msg("man/mailwarden.conf.5 missing");
	if (getenv("MW_REGEN_MAN") != NULL) {
		regen_man(man, gen);
		free(man);
		man = slurp(MAN_PAGE);
	}
	if (strstr(man, gen) == NULL)
		fail_msg("man/mailwarden.conf.5 is out of date: regenerate its parameter list "
		    "with config_print_man()");
	free(man);
	free(gen);

	mem = open_memstream(&gen, &len);
	config_print_params(mem);
	fclose(mem);
	assert_non_null(strstr(gen, "\nsmtpd_timeout = 300s\n"));
	assert_non_null(strstr(gen, "#myhostname = (computed at start-up)\n"));
	free(gen);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values_and_expansion),
		cmocka_unit_test(test_roles),
		cmocka_unit_test(test_named_listeners),
		cmocka_unit_test(test_sections),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_value_forms),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_alias_maps_in_local_recipients),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_golden_errors),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_listen),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_includes),
		cmocka_unit_test(test_report_and_files),
		cmocka_unit_test(test_man_page_in_sync),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
