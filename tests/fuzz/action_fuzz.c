/*
 * action_fuzz — a fail2ban action.d file through the action reader
 * ([INCLUDES], [Init], [Definition], %(x)s and <tag> resolution) and the
 * commands it would build for a ban, with log-supplied values (<F-USER>,
 * <matches>) that must come out shell-escaped. Nothing is run.
 * Input: "action.d text NUL user-from-the-log".
 */
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "warden/firewall/actions.h"
#include "warden/jail.h"
#include "fuzz.h"

static struct config *cfg;	/* kept: the jails point into it */
static struct jailconf jc;
static struct jail_ref ref;
static char adir[128];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char conf[] =
	    "[fz]\nenabled = true\nfilter = sshd\nlogpath = /dev/null\nport = smtp,submission\n"
	    "action = fz[name=fz, blocktype=\"REJECT --reject-with icmp-port-unreachable\"]\n";
	char err[1024];
	fz_quiet();
	snprintf(adir, sizeof(adir), "%s", fz_dir());
	cfg = config_load(fz_file("jail.cf", conf, sizeof(conf) - 1), err, sizeof(err));
	if (cfg == NULL || jailconf_load(cfg, &jc, err, sizeof(err)) < 0 || jc.njails != 1 ||
	    jailconf_parse_ref("fz[name=fz, port=\"25,587\"]", &ref, err, sizeof(err)) < 0) {
		fprintf(stderr, "action_fuzz: %s\n", err);
		abort();
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[] = {
		"actionstart", "actionstop", "actioncheck", "actionban", "actionunban", "actionflush",
	};
	const uint8_t *z = memchr(data, '\0', size);
	size_t fl = z ? (size_t)(z - data) : size;
	char *user = z ? fz_cstr(z + 1, size - fl - 1) : fz_str((const uint8_t *)"", 0);
	fz_file("fz.conf", data, fl);
	const char *dirs[] = { adir, NULL };
	char err[1024];
	struct action *a = action_new(jc.jails[0], &ref, dirs, NULL, err, sizeof(err));
	if (a) {
		struct action_ban b;
		memset(&b, 0, sizeof(b));
		net_parse_net("192.0.2.0/24", &b.net, err, sizeof(err));
		b.bantime = 600;
		b.failures = 5;
		b.timeout = 600;
		b.user = user;
		b.matches = user;
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			free(action_command_text(a, keys[i], NULL));
			free(action_command_text(a, keys[i], &b));
		}
		action_free(a);
	}
	free(user);
	return 0;
}
