/*
 * engine_check — check-config's part for the smtp engine: the TLS and
 * AUTH settings of the listeners in use (certificates load, the protocol
 * list parses, a password backend is named and, for a password file,
 * reads; a Dovecot socket the chroot cannot reach again is warned
 * about), the milter lists parse and can be reached from the chroot. Runs in the master or the command, never in the engine.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "sasl/sasl.h"
#include "smtp/engine.h"
#include "smtp/milters.h"
#include "smtp/tls.h"

/* Dovecot's auth socket outside queue_directory: the engine connects to
 * it before its chroot, so that first connection works, but a reconnect
 * (Dovecot restarted) cannot reach it from inside. Works until then: a
 * warning, naming where to put it. */
static void dovecot_path_check(const struct config *cfg, const char *path)
{
	const char *qd = config_get(cfg, "queue_directory");
	size_t ql = strlen(qd);
	while (ql > 1 && qd[ql - 1] == '/')
		ql--;
	if (path[0] != '/' || geteuid() != 0 ||
	    (strncmp(path, qd, ql) == 0 && path[ql] == '/'))
		return;
	log_warn("%s, line %d: smtpd_sasl_path: %s is outside queue_directory %.*s, where the "
	    "smtp engine runs chrooted: once Dovecot restarts, AUTH answers 454 until "
	    "mailwarden reloads; make Dovecot listen under %.*s (smtpd_sasl_path = private/auth "
	    "is %.*s/private/auth)", config_path(cfg), config_line(cfg, "smtpd_sasl_path"), path,
	    (int)ql, qd, (int)ql, qd, (int)ql, qd);
}

/* A ROLE/inet/KEY override of a key the engine reads only globally
 * (master.cf's -o syslog_name=..., -o mynetworks=...): accepted, as
 * Postfix's names are, but said so rather than silently doing nothing. */
static void override_check(const struct config *cfg)
{
	for (int r = 0; r < SMTP_NROLES; r++) {
		const char *rn = config_role_name(cfg, r);
		if (rn == NULL)
			continue;
		for (size_t i = 0; config_params[i].name != NULL; i++) {
			int line = config_role_line(cfg, r, i);
			if (line > 0 && !config_listener_key(config_params[i].name))
				log_warn("%s, line %d: %s/inet/%s: not applied per listener here; "
				    "the global value applies (docs/content-filter.md lists the "
				    "per-listener keys)", config_path(cfg), line, rn,
				    config_params[i].name);
		}
	}
}

int engine_check(const struct config *cfg, char *err, size_t errlen)
{
	char why[512];
	override_check(cfg);
	int need_cert = 0, need_sasl = 0;
	const char *key = NULL;
	for (int r = 0; r < SMTP_NROLES; r++) {
		if (!engine_role_used(cfg, r))
			continue;
		int wrapper = config_get_role_bool(cfg, engine_role_name(cfg, r), "smtpd_tls_wrappermode");
		if (wrapper || strcmp(config_get_role(cfg, engine_role_name(cfg, r), "smtpd_tls_security_level"),
		    "encrypt") == 0) {
			need_cert = 1;
			if (key == NULL)
				key = r == 0 || strcmp(config_get(cfg, "smtpd_tls_security_level"),
				    "encrypt") == 0 ? "smtpd_tls_security_level" : engine_role_listen_key(r);
		}
		if (config_get_role_bool(cfg, engine_role_name(cfg, r), "smtpd_sasl_auth_enable"))
			need_sasl = 1;
	}
	if (need_cert && !*config_get(cfg, "smtpd_tls_cert_file")) {
		snprintf(err, errlen, "%s, line %d: %s: TLS is required there but "
		    "smtpd_tls_cert_file is not set", config_path(cfg), config_line(cfg, key), key);
		return -1;
	}
	struct tls_server *tls = tls_init(cfg, why, sizeof(why));
	if (tls == NULL) {
		/* Every tls_init() message starts with the key it is about. */
		char name[64];
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(why, ":/ "), why);
		snprintf(err, errlen, "%s, line %d: %s", config_path(cfg), config_line(cfg, name), why);
		return -1;
	}
	tls_free(tls);
	if (need_sasl) {
		const char *type = config_get(cfg, "smtpd_sasl_type");
		const char *path = config_get(cfg, "smtpd_sasl_path");
		if (!*path) {
			snprintf(err, errlen, "%s, line %d: smtpd_sasl_auth_enable: AUTH is on but "
			    "smtpd_sasl_path is not set (the password file or Dovecot's auth socket)",
			    config_path(cfg), config_line(cfg, "smtpd_sasl_auth_enable"));
			return -1;
		}
		if (strcmp(type, "passwd-file") == 0) {
			struct sasl *sa = sasl_open(type, path, why, sizeof(why));
			if (sa == NULL) {
				snprintf(err, errlen, "%s, line %d: smtpd_sasl_path: %s", config_path(cfg),
				    config_line(cfg, "smtpd_sasl_path"), why);
				return -1;
			}
			sasl_close(sa);
		} else if (strcmp(type, "dovecot") == 0) {
			dovecot_path_check(cfg, path);
		}
	}
	return milters_check(cfg, err, errlen);
}
