/*
 * config_fuzz — main.cf as the admin writes it (or pastes from Postfix):
 * keys, continuation lines, $macro expansion, per-role keys, type checks,
 * includes, and the fail2ban-style [jail] sections read by jailconf
 * (times, refs with options, ignoreip, prefixes).
 */
#include <stdlib.h>

#include "common/config.h"
#include "warden/jail.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_quiet();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[1024];
	const char *path = fz_file("main.cf", data, size);
	struct config *cfg = config_load(path, err, sizeof(err));
	if (cfg == NULL)
		return 0;
	config_get(cfg, "myhostname");
	config_get(cfg, "mydestination");
	config_get_time(cfg, "smtpd_timeout");
	config_get_size(cfg, "message_size_limit");
	char **l = config_list(config_get(cfg, "mynetworks"));
	config_list_free(l);
	struct jailconf jc = { 0 };
	if (jailconf_load(cfg, &jc, err, sizeof(err)) == 0)
		jailconf_free(&jc);
	config_free(cfg);
	/* the same text as a client config (sendmail, mailq) */
	cfg = config_load_client(path, err, sizeof(err));
	if (cfg)
		config_free(cfg);
	return 0;
}
