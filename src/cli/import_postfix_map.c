/*
 * import_postfix_map — what becomes of each Postfix key in
 * `mailwarden import-postfix`: one table row per key that is harmless
 * (dropped, with why) or a lost feature (not supported, with what the
 * admin loses); a key mailwarden knows is written as it is ($name kept);
 * master.cf's smtpd/postscreen listeners become smtpd_listen,
 * submission_listen and smtps_listen with their -o overrides as
 * ROLE/inet/KEY, an smtpd on a further port with -o settings (a content
 * filter's re-injection) a named listener smtpd-PORT (listeners =,
 * smtpd-PORT/inet/listen, smtpd-PORT/inet/KEY); Postfix's own daemons
 * are built in. What a written line
 * still fails in check-config is handled by import_postfix.c.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/import_postfix.h"
#include "common/buf.h"
#include "common/config.h"
#include "common/util.h"

#define MILTER	"mail is not passed to the milters (DKIM signing and checking, DMARC, " \
		"rspamd or other filters lose their hook)"
#define CHECKS	"no header or body checks: what they rejected, discarded or changed passes"
#define CCERT	"client certificates are never asked for nor checked"
#define TLSV	"outgoing TLS is never verified against these CAs (smtp_tls_security_level " \
		"may or encrypt only: no verify or secure level)"
#define BCC	"no automatic blind copies"
#define BUILTIN	"built into mailwarden"

/* A main.cf key and what happens to it; a name ending in '*' is a prefix. */
struct keyrow {
	const char *key;
	const char *why;
};

/* Harmless: left out, nothing changes for the admin. */
static const struct keyrow dropped[] = {
	{ "biff", "no biff/comsat notification in mailwarden (Debian sets it to no)" },
	{ "append_dot_mydomain", "mailwarden never appends .$mydomain (the MUA's job, "
	  "Postfix 3's default)" },
	{ "compatibility_level", "mailwarden has Postfix 3's defaults; no older behaviour to keep" },
	{ "readme_directory", "a Postfix documentation path" },
	{ "html_directory", "a Postfix documentation path" },
	{ "manpage_directory", "a Postfix documentation path" },
	{ "sample_directory", "a Postfix documentation path" },
	{ "command_directory", "a Postfix program path" },
	{ "daemon_directory", "a Postfix program path" },
	{ "meta_directory", "a Postfix program path" },
	{ "shlib_directory", "a Postfix program path" },
	{ "sendmail_path", "a Postfix program path (mailwarden's sendmail is sbin/sendmail)" },
	{ "newaliases_path", "a Postfix program path" },
	{ "mailq_path", "a Postfix program path" },
	{ "queue_directory", "Postfix's queue: mailwarden keeps its own (queue_directory = "
	  "/var/spool/mailwarden); flush Postfix's queue (postqueue -f) before the switch" },
	{ "data_directory", "Postfix's caches; mailwarden's data_directory is the ban "
	  "engine's state" },
	{ "mail_owner", "Postfix's account; mailwarden runs as its own (mail_owner)" },
	{ "setgid_group", "postdrop: mailwarden's sendmail has its own group (setgid_group)" },
	{ "smtp_tls_session_cache_database", "no TLS session cache: a full handshake each time" },
	{ "smtpd_tls_session_cache_database", "no TLS session resumption in mailwarden's server" },
	{ "smtp_tls_session_cache_timeout", "no TLS session cache" },
	{ "smtpd_tls_session_cache_timeout", "no TLS session cache" },
	{ "smtputf8_enable", "mailwarden always offers SMTPUTF8" },
	{ "tls_random_source", "OpenSSL 3 seeds itself" },
	{ "smtpd_tls_dh1024_param_file", "OpenSSL 3's built-in groups, no DH file" },
	{ "smtpd_tls_eecdh_grade", "OpenSSL 3's built-in groups" },
	{ "tls_preempt_cipherlist", "mailwarden's TLS: TLS 1.2 and later, its own cipher order" },
	{ "tls_ssl_options", "mailwarden's TLS: no renegotiation, no tickets, fixed options" },
	{ "smtp_tls_note_starttls_offer", "a log detail" },
	{ "smtpd_sasl_security_options", "AUTH is offered only over TLS (smtpd_tls_auth_only) "
	  "and never anonymous" },
	{ "smtpd_sasl_tls_security_options", "AUTH is never anonymous" },
	{ "policyd-spf_time_limit", "a spawn(8) setting; mailwarden starts no policy server" },
	{ "*_destination_recipient_limit", "a setting of a master.cf pipe transport" },
	{ NULL, NULL }
};

/* Lost features: left out, with what the admin loses (unless this build
 * has the parameter: then it is mapped). */
static const struct keyrow unsupported[] = {
	{ "smtpd_milters", MILTER }, { "non_smtpd_milters", MILTER }, { "milter_*", MILTER },
	{ "content_filter", "mail is not handed to the content filter (amavis, spamd): it "
	  "passes unscanned" },
	{ "header_checks", CHECKS }, { "body_checks", CHECKS }, { "mime_header_checks", CHECKS },
	{ "nested_header_checks", CHECKS }, { "smtp_header_checks", CHECKS },
	{ "canonical_maps", "addresses are not rewritten" },
	{ "sender_canonical_maps", "sender addresses are not rewritten" },
	{ "recipient_canonical_maps", "recipient addresses are not rewritten" },
	{ "smtp_generic_maps", "outgoing addresses are not rewritten" },
	{ "relocated_maps", "no 'user has moved' replies" },
	{ "mailbox_command", "local mail goes to ~/Maildir/ (home_mailbox), not through the "
	  "command: its filtering (procmail, sieve) is lost unless mailbox_transport = "
	  "lmtp:... reaches Dovecot" },
	{ "smtp_tls_CApath", TLSV }, { "smtp_tls_CAfile", TLSV },
	{ "smtpd_tls_CApath", CCERT }, { "smtpd_tls_CAfile", CCERT },
	{ "smtpd_tls_ask_ccert", CCERT }, { "smtpd_tls_req_ccert", CCERT },
	{ "relay_clientcerts", CCERT },
	{ "smtpd_tls_chain_files", "one certificate: use smtpd_tls_cert_file and "
	  "smtpd_tls_key_file (tls_server_sni_maps for more)" },
	{ "always_bcc", BCC }, { "sender_bcc_maps", BCC }, { "recipient_bcc_maps", BCC },
	{ "notify_classes", "the postmaster gets no copies of errors and bounces" },
	{ "soft_bounce", "permanent errors bounce at once" },
	{ "broken_sasl_auth_clients", "clients that only know 'AUTH=LOGIN' (Outlook Express "
	  "4, Office 2003) do not see AUTH" },
	{ "smtpd_sasl_local_domain", "logins are not qualified with this realm" },
	{ NULL, NULL }
};

/* The row of table that key matches, or NULL. */
static const struct keyrow *row_of(const struct keyrow *table, const char *key)
{
	for (const struct keyrow *r = table; r->key != NULL; r++) {
		size_t n = strlen(r->key);
		if (r->key[0] == '*' && strlen(key) >= n - 1 &&
		    strcmp(key + strlen(key) - (n - 1), r->key + 1) == 0)
			return r;
		if (r->key[n - 1] == '*' && strncmp(key, r->key, n - 1) == 0)
			return r;
		if (strcmp(key, r->key) == 0)
			return r;
	}
	return NULL;
}

/* 1 if mailwarden has a parameter of that name. */
static int known(const char *name)
{
	return param_find(config_params, name, 0) != NULL;
}

static int is_name_char(int c)
{
	return isalnum(c) || c == '_' || c == '-';
}

/* 1 if value uses $key, ${key} or $(key). */
static int refers(const char *value, const char *key)
{
	size_t n = strlen(key);
	for (const char *d = strchr(value, '$'); d; d = strchr(d + 1, '$')) {
		const char *s = d + 1 + (d[1] == '{' || d[1] == '(');
		if (strncmp(s, key, n) == 0 && !is_name_char((unsigned char)s[n]))
			return 1;
	}
	return 0;
}

/* 1 if main.cf or a master.cf override uses $key. */
static int used_anywhere(const struct ipf *p, const char *key)
{
	for (size_t i = 0; i < p->nmain; i++)
		if (refers(p->main[i].value, key))
			return 1;
	for (size_t i = 0; i < p->nsvc; i++)
		for (size_t k = 0; k < p->svc[i].nopts; k++)
			if (refers(p->svc[i].opts[k].value, key))
				return 1;
	return 0;
}

/* value with $name of a parameter mailwarden does not have replaced by
 * main.cf's value of it (an admin's own parameter, as Debian's
 * $mua_client_restrictions); $config_directory is the Postfix directory. */
static char *subst(const struct ipf *p, const char *value, int depth)
{
	struct buf b;
	buf_init(&b, 1024 * 1024);
	buf_puts(&b, "");
	while (*value) {
		const char *d = strchr(value, '$');
		if (d == NULL) {
			buf_puts(&b, value);
			break;
		}
		buf_append(&b, value, (size_t)(d - value));
		char open = (d[1] == '{' || d[1] == '(') ? d[1] : 0;
		const char *s = d + 1 + (open != 0);
		size_t n = 0;
		while (is_name_char((unsigned char)s[n]) && s[n] != '-')
			n++;
		const char *end = s + n + (open && (s[n] == '}' || s[n] == ')'));
		char name[128];
		snprintf(name, sizeof(name), "%.*s", (int)(n < 127 ? n : 127), s);
		const char *v = NULL;
		if (n > 0 && (!open || end > s + n) && !known(name))
			v = strcmp(name, "config_directory") == 0 ? p->dir : ipf_main_get(p, name);
		if (v != NULL && depth < 8) {
			char *x = subst(p, v, depth + 1);
			buf_puts(&b, x);
			free(x);
			value = end;
		} else {
			buf_append(&b, d, (size_t)(end - d > 0 ? end - d : 1));
			value = end > d ? end : d + 1;
		}
	}
	return b.data;
}

/* Write "name = value" (value substituted) as mapped. */
static void emit_kv(struct ipf *p, const char *where, const char *name, const char *value,
    const char *note)
{
	char *v = subst(p, value, 0);
	struct buf line;
	buf_init(&line, 2 * 1024 * 1024);
	buf_printf(&line, "%s = %s", name, v);
	ipf_emit(p, line.data, ipf_report(p, IPF_MAPPED, where, line.data, note));
	buf_free(&line);
	free(v);
}

/* A relative socket path is now under mailwarden's queue_directory. */
static const char *path_note(const char *key, const char *value)
{
	if (strcmp(key, "smtpd_sasl_path") == 0 && value[0] != '/' && value[0] != '\0')
		return "relative: under mailwarden's queue_directory (the engine is chrooted "
		    "there): move Dovecot's auth listener from /var/spool/postfix/ to "
		    "/var/spool/mailwarden/ (user mailwarden)";
	if (strstr(value, "lmtp:unix:$queue_directory/") != NULL)
		return "Postfix reads lmtp:unix:PATH under its queue_directory: written under "
		    "mailwarden's; move Dovecot's lmtp listener from /var/spool/postfix/ to "
		    "/var/spool/mailwarden/ (user mailwarden)";
	return NULL;
}

/* "lmtp:unix:private/x" is under Postfix's queue_directory: in mailwarden
 * a relative path is not, so it becomes "lmtp:unix:$queue_directory/private/x". */
static char *lmtp_absolute(const char *value)
{
	struct buf b;
	buf_init(&b, 1024 * 1024);
	buf_puts(&b, "");
	for (const char *f; (f = strstr(value, "lmtp:unix:")) != NULL; value = f + 10) {
		buf_append(&b, value, (size_t)(f - value) + 10);
		if (f[10] != '/' && f[10] != '$' && f[10] != '\0')
			buf_puts(&b, "$queue_directory/");
	}
	buf_puts(&b, value);
	return b.data;
}

/* One main.cf key other than the listeners'. */
/* content_filter = smtp-amavis:[127.0.0.1]:10024 names a master.cf smtp
 * or lmtp transport: mailwarden writes its command (smtp:, lmtp:). A new
 * value (free it), or NULL when it names no such transport. */
static char *filter_transport(const struct ipf *p, const char *value)
{
	const char *colon = strchr(value, ':');
	if (colon == NULL)
		return NULL;
	for (size_t i = 0; i < p->nsvc; i++) {
		const struct ipf_service *s = &p->svc[i];
		if (strlen(s->name) == (size_t)(colon - value) &&
		    strncmp(s->name, value, (size_t)(colon - value)) == 0 &&
		    strcmp(s->type, "unix") == 0 &&
		    (strcmp(s->command, "smtp") == 0 || strcmp(s->command, "lmtp") == 0)) {
			struct buf b;
			buf_init(&b, 64 * 1024);
			buf_printf(&b, "%s%s", s->command, colon);
			return b.data;
		}
	}
	return NULL;
}

static void map_main_key(struct ipf *p, const struct ipf_kv *kv)
{
	char *fv;
	char where[64], what[512];
	const struct keyrow *r;

	snprintf(where, sizeof(where), "main.cf line %d", kv->line);
	snprintf(what, sizeof(what), "%s = %.400s", kv->key, kv->value);
	if ((r = row_of(dropped, kv->key)) != NULL) {
		ipf_report(p, IPF_DROPPED, where, what, r->why);
	} else if ((r = row_of(unsupported, kv->key)) != NULL && !known(kv->key)) {
		ipf_report(p, IPF_UNSUPPORTED, where, what, r->why);
	} else if (strcmp(kv->key, "smtpd_use_tls") == 0 || strcmp(kv->key, "smtpd_enforce_tls") == 0 ||
	    strcmp(kv->key, "smtp_use_tls") == 0) {
		/* Postfix 2's switches: their security_level, unless that is set */
		const char *level = kv->key[4] == 'd' ? "smtpd_tls_security_level" : "smtp_tls_security_level";
		if (ipf_main_get(p, level) != NULL || config_parse_bool(kv->value) != 1)
			ipf_report(p, IPF_DROPPED, where, what, "obsolete; the security level decides");
		else
			emit_kv(p, where, level, strstr(kv->key, "enforce") ? "encrypt" : "may",
			    "Postfix 2's switch, as its security level");
	} else if (strcmp(kv->key, "content_filter") == 0 &&
	    (fv = filter_transport(p, kv->value)) != NULL) {
		emit_kv(p, where, kv->key, fv, "its master.cf transport as the smtp or lmtp "
		    "client it runs (that entry's -o settings are not carried over)");
		free(fv);
	} else if (strcmp(kv->key, "mailbox_size_limit") == 0) {
		if (strcmp(kv->value, "0") == 0)
			ipf_report(p, IPF_DROPPED, where, what, "0: no limit, as mailwarden");
		else
			ipf_report(p, IPF_UNSUPPORTED, where, what, "mailboxes have no size limit");
	} else if (known(kv->key)) {
		char *v = lmtp_absolute(kv->value);
		emit_kv(p, where, kv->key, v, path_note(kv->key, v));
		free(v);
	} else if (used_anywhere(p, kv->key)) {
		ipf_report(p, IPF_DROPPED, where, what, "a parameter of your own: its value is "
		    "written where $name uses it");
	} else if (kv->value[0] == '\0') {
		ipf_report(p, IPF_DROPPED, where, what, "set to nothing");
	} else {
		ipf_report(p, IPF_UNSUPPORTED, where, what, "no such parameter in mailwarden: "
		    "what it does in Postfix is lost");
	}
}

/* ---- master.cf ---- */

/* The listener roles and their ports. */
static const struct {
	const char *service;
	const char *port;
	const char *role;
	const char *param;
} roles[] = {
	{ "smtp", "25", "smtpd", "smtpd_listen" },
	{ "submission", "587", "submission", "submission_listen" },
	{ "smtps", "465", "smtps", "smtps_listen" },
	{ "submissions", "465", "smtps", "smtps_listen" },
};
#define NROLES	(sizeof(roles) / sizeof(*roles))

/* Postfix's own daemons: what they do is built in. */
static const char *const daemons[] = {
	"pickup", "cleanup", "qmgr", "oqmgr", "tlsmgr", "trivial-rewrite", "bounce", "verify",
	"flush", "proxymap", "smtp", "lmtp", "showq", "error", "discard", "local", "virtual",
	"anvil", "scache", "postlogd", "dnsblog", "tlsproxy", "postscreen", "smtpd", NULL
};

/* Addresses to listen on for a service with no host part. */
static void wildcard_addrs(const struct ipf *p, struct buf *out, const char *port)
{
	const char *ifs = ipf_main_get(p, "inet_interfaces");
	const char *protos = ipf_main_get(p, "inet_protocols");
	int v4 = protos == NULL || strstr(protos, "all") || strstr(protos, "ipv4");
	int v6 = protos == NULL || strstr(protos, "all") || strstr(protos, "ipv6");

	if (ifs == NULL || strcmp(ifs, "all") == 0) {
		buf_printf(out, "%s%s:%s", out->len ? ", " : "",
		    v4 && v6 ? "*" : v4 ? "0.0.0.0" : "[::]", port);
		return;
	}
	char **items = config_list(strcmp(ifs, "loopback-only") == 0 ? "127.0.0.1 ::1" : ifs);
	for (size_t i = 0; items[i] != NULL; i++) {
		const char *a = items[i];
		int six = strchr(a, ':') != NULL;
		if (strcmp(a, "localhost") == 0)
			a = "127.0.0.1";
		if ((six && !v6) || (!six && !v4))
			continue;
		if (six && a[0] != '[')
			buf_printf(out, "%s[%s]:%s", out->len ? ", " : "", a, port);
		else
			buf_printf(out, "%s%s:%s", out->len ? ", " : "", a, port);
	}
	config_list_free(items);
}

/* 1 if name is one of the names made so far ("smtpd-10025, ..."): a
 * whole name, smtpd-1002 is not smtpd-10025. */
static int named_taken(const char *made, const char *name)
{
	char **items = config_list(made);
	int hit = 0;
	for (size_t i = 0; items[i] != NULL && !hit; i++)
		hit = strcmp(items[i], name) == 0;
	config_list_free(items);
	return hit;
}

/* An -o of a key mailwarden has but reads only globally (smtp/engine.c):
 * not written (check-config would warn that it does nothing); harmless
 * when main.cf (or the default) gives the same value. */
static void not_per_listener(struct ipf *p, const char *where, const char *what,
    const struct ipf_kv *o)
{
	const char *g = ipf_main_get(p, o->key);
	const struct param *pd = param_find(config_params, o->key, 0);
	if (g == NULL && pd != NULL)
		g = pd->def;
	if (g != NULL && strcmp(g, o->value) == 0)
		ipf_report(p, IPF_DROPPED, where, what, "not applied per listener in mailwarden; "
		    "the global value is the same");
	else
		ipf_report(p, IPF_UNSUPPORTED, where, what, "not applied per listener in "
		    "mailwarden: this listener has the global value (main.cf's or the default)");
}

/* An smtpd or postscreen inet service: listener addresses and overrides. */
static void map_listener(struct ipf *p, const struct ipf_service *s, struct buf *addrs,
    struct buf *nnamed, const char *where)
{
	const char *colon = strrchr(s->name, ':');
	const char *port = colon ? colon + 1 : s->name;
	size_t r;

	for (r = 0; r < NROLES; r++)
		if (strcmp(port, roles[r].service) == 0 || strcmp(port, roles[r].port) == 0)
			break;
	while (r > 0 && r < NROLES && strcmp(roles[r].param, roles[r - 1].param) == 0)
		r--;		/* submissions is smtps */
	char named[64] = "";	/* a further listener with -o: a named one */
	if (r == NROLES && s->nopts > 0) {
		size_t count = 0;
		for (size_t i = 0; i < nnamed->len; i++)
			count += nnamed->data[i] == ',';
		count += nnamed->len > 0;
		if (port[strspn(port, "0123456789")] != '\0' || *port == '\0' ||
		    count >= CONFIG_MAX_NAMED) {
			ipf_report(p, IPF_UNSUPPORTED, where, s->name, "a further smtpd listener "
			    "with its own -o settings but no numeric port (or too many of them): "
			    "mail received there (a content filter's re-injection, another port) "
			    "is lost");
			return;
		}
		snprintf(named, sizeof(named), "smtpd-%s", port);
		if (named_taken(nnamed->data, named)) {
			ipf_report(p, IPF_UNSUPPORTED, where, s->name, "a second entry for this "
			    "port with -o settings: only the first is kept");
			return;
		}
		buf_printf(nnamed, "%s%s", nnamed->len ? ", " : "", named);
		struct buf a;
		buf_init(&a, 64 * 1024);
		buf_puts(&a, "");
		if (colon != NULL)
			buf_printf(&a, "%.*s:%s", (int)(colon - s->name), s->name, port);
		else
			wildcard_addrs(p, &a, port);
		char key[128];
		snprintf(key, sizeof(key), "%s/inet/listen", named);
		ipf_report(p, IPF_MAPPED, where, s->name, "a named listener (listeners = ...)");
		emit_kv(p, where, key, a.data, NULL);
		buf_free(&a);
	}
	size_t slot = r == NROLES ? 0 : r;
	const char *num = r == NROLES ? port : roles[r].port;
	if (named[0] != '\0')
		;	/* its own address, above */
	else if (colon != NULL)
		buf_printf(&addrs[slot], "%s%.*s:%s", addrs[slot].len ? ", " : "",
		    (int)(colon - s->name), s->name, num);
	else
		wildcard_addrs(p, &addrs[slot], num);
	if (named[0] == '\0')
		ipf_report(p, IPF_MAPPED, where, s->name, strcmp(s->command, "postscreen") == 0 ?
		    "postscreen: the engine does its pregreet test and DNSBL scoring itself "
		    "(postscreen_* parameters)" : r == NROLES ? "another smtpd port: one more "
		    "address of smtpd_listen" : NULL);
	for (size_t k = 0; k < s->nopts; k++) {
		const struct ipf_kv *o = &s->opts[k];
		char w[400], what[512], name[256];
		snprintf(w, sizeof(w), "%s -o", where);
		snprintf(what, sizeof(what), "%s=%.400s", o->key, o->value);
		const struct keyrow *kr;
		if (strcmp(o->key, "syslog_name") == 0)
			ipf_report(p, IPF_DROPPED, w, what, "mailwarden names its log lines itself: "
			    "main.cf's syslog_name for every listener (fail2ban's postfix filters "
			    "match NAME/smtpd as NAME/submission/smtpd)");
		else if ((kr = row_of(unsupported, o->key)) != NULL && !known(o->key))
			ipf_report(p, IPF_UNSUPPORTED, w, what, kr->why);
		else if (known(o->key) && !config_listener_key(o->key))
			not_per_listener(p, w, what, o);
		else if (known(o->key)) {
			snprintf(name, sizeof(name), "%s/inet/%s", named[0] ? named :
			    roles[slot].role, o->key);
			emit_kv(p, w, name, o->value, path_note(o->key, o->value));
		} else
			ipf_report(p, IPF_UNSUPPORTED, w, what, "no such parameter in mailwarden: "
			    "what it does for this listener is lost");
	}
}

/* 1 if a main.cf value names service s (a transport, a policy socket). */
static int service_used(const struct ipf *p, const struct ipf_service *s)
{
	size_t n = strlen(s->name);
	for (size_t i = 0; i < p->nmain; i++) {
		const char *v = p->main[i].value;
		for (const char *f = strstr(v, s->name); f; f = strstr(f + 1, s->name))
			if ((f == v || !is_name_char((unsigned char)f[-1])) &&
			    !is_name_char((unsigned char)f[n]))
				return 1;
	}
	return 0;
}

/* A pipe or spawn service: lost if main.cf uses it, else unused. */
static void map_command(struct ipf *p, const struct ipf_service *s, const char *where, int used)
{
	char what[512];
	snprintf(what, sizeof(what), "%s (%s %.400s)", s->name, s->command, s->args);
	if (!used)
		ipf_report(p, IPF_DROPPED, where, what, "main.cf does not use it (check that no "
		    "transport_maps entry does)");
	else if (strcmp(s->command, "spawn") == 0)
		ipf_report(p, IPF_UNSUPPORTED, where, what, "mailwarden starts no policy server: "
		    "run it as a daemon and name it in check_policy_service inet:HOST:PORT; "
		    "until then its check is removed from the restriction lists");
	else
		ipf_report(p, IPF_UNSUPPORTED, where, what, "delivery through this command is "
		    "lost (mailwarden delivers to Maildir, over LMTP or SMTP)");
}

/* Remove "check_policy_service X" naming a spawn service from a list. */
static void drop_spawned_policy(struct ipf *p, struct ipf_kv *kv)
{
	if (strstr(kv->key, "_restrictions") == NULL)
		return;
	for (size_t i = 0; i < p->nsvc; i++) {
		const struct ipf_service *s = &p->svc[i];
		char target[300];
		if (strcmp(s->command, "spawn") != 0)
			continue;
		snprintf(target, sizeof(target), "unix:private/%s", s->name);
		char *at = strstr(kv->value, target);
		char *cps = at ? at - 1 : NULL;
		while (cps && cps > kv->value && isspace((unsigned char)*cps))
			cps--;
		size_t kw = strlen("check_policy_service");
		if (cps == NULL || cps + 1 < kv->value + kw ||
		    strncmp(cps + 1 - kw, "check_policy_service", kw) != 0)
			continue;
		char *from = cps + 1 - kw, *to = at + strlen(target);
		to += strspn(to, ", \t");
		memmove(from, to, strlen(to) + 1);
		size_t len = strlen(kv->value);	/* it was the last: no ", " left at the end */
		while (len > 0 && strchr(", \t", kv->value[len - 1]) != NULL)
			kv->value[--len] = '\0';
		char where[64], what[400];
		snprintf(where, sizeof(where), "main.cf line %d", kv->line);
		snprintf(what, sizeof(what), "%s: check_policy_service %s", kv->key, target);
		ipf_report(p, IPF_UNSUPPORTED, where, what, "a policy server master.cf spawns "
		    "(see that entry): removed from the list");
	}
}

void ipf_map(struct ipf *p)
{
	struct buf addrs[NROLES];
	int any[NROLES] = { 0 };

	for (size_t r = 0; r < NROLES; r++) {
		buf_init(&addrs[r], 64 * 1024);
		buf_puts(&addrs[r], "");
	}
	struct buf named;	/* the named listeners made for master.cf entries */
	buf_init(&named, 64 * 1024);
	buf_puts(&named, "");
	int *used = xcalloc(p->nsvc + 1, sizeof(*used));
	for (size_t i = 0; i < p->nsvc; i++)	/* before a list loses a spawned policy */
		used[i] = service_used(p, &p->svc[i]);
	ipf_emit(p, "# main.cf", -1);
	for (size_t i = 0; i < p->nmain; i++) {
		struct ipf_kv *kv = &p->main[i];
		char where[64], what[512];
		snprintf(where, sizeof(where), "main.cf line %d", kv->line);
		snprintf(what, sizeof(what), "%s = %.400s", kv->key, kv->value);
		if (strcmp(kv->key, "inet_interfaces") == 0 || strcmp(kv->key, "inet_protocols") == 0) {
			ipf_report(p, IPF_MAPPED, where, what, "into the listeners' addresses");
			continue;
		}
		drop_spawned_policy(p, kv);
		map_main_key(p, kv);
	}
	if (ipf_main_get(p, "syslog_name") == NULL)
		emit_kv(p, "(added)", "syslog_name", "postfix", "Postfix's default: fail2ban's "
		    "postfix filters, pflogsumm and logwatch keep matching the log");
	ipf_emit(p, "", -1);
	ipf_emit(p, "# master.cf", -1);
	for (size_t i = 0; i < p->nsvc; i++) {
		const struct ipf_service *s = &p->svc[i];
		char where[300];
		snprintf(where, sizeof(where), "master.cf line %d (%s %s)", s->line, s->name, s->type);
		int listener = strcmp(s->type, "inet") == 0 &&
		    (strcmp(s->command, "smtpd") == 0 || strcmp(s->command, "postscreen") == 0);
		if (listener) {
			map_listener(p, s, addrs, &named, where);
			const char *c = strrchr(s->name, ':'), *port = c ? c + 1 : s->name;
			for (size_t r = 0; r < NROLES; r++)
				any[r] |= strcmp(port, roles[r].service) == 0 || strcmp(port, roles[r].port) == 0;
			continue;
		}
		size_t d;
		for (d = 0; daemons[d] != NULL && strcmp(daemons[d], s->command) != 0; d++)
			;
		if (daemons[d] != NULL)
			ipf_report(p, IPF_DROPPED, where, s->command, s->nopts ? BUILTIN
			    " (its -o overrides are not carried over: the global values apply)" : BUILTIN);
		else
			map_command(p, s, where, used[i]);
	}
	for (size_t r = 0; r < NROLES; r++) {
		if (addrs[r].len > 0 || (r == 0 && !any[0])) {
			char line[64 * 1024 + 64];
			snprintf(line, sizeof(line), "%s = %s", roles[r].param, addrs[r].data);
			ipf_emit(p, line, ipf_report(p, IPF_MAPPED, "master.cf", line, r == 0 &&
			    !any[0] ? "no smtp service in master.cf: no port 25 listener" : NULL));
		}
	}
	if (named.len > 0) {
		char line[64 * 1024 + 64];
		snprintf(line, sizeof(line), "listeners = %s", named.data);
		ipf_emit(p, line, ipf_report(p, IPF_MAPPED, "master.cf", line, "smtpd entries "
		    "with their own -o settings on further ports"));
	}
	buf_free(&named);
	for (size_t r = 0; r < NROLES; r++)
		buf_free(&addrs[r]);
	free(used);
}
