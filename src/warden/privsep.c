/*
 * privsep — privilege drop of the warden and the firewall (see
 * privsep.h), through common/priv.c.
 */
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/config.h"
#include "common/priv.h"
#include "warden/privsep.h"

void privsep_check_owner(const struct config *cfg)
{
	if (geteuid() == 0)
		(void)priv_user(cfg, "warden_owner");
}

void privsep_warden(const struct config *cfg)
{
	umask(077);
	if (geteuid() != 0) {
		priv_keep_only(NULL, 0);	/* an unprivileged run (tests) */
		return;
	}
	struct passwd *pw = priv_user(cfg, "warden_owner");
	gid_t groups[3];
	size_t ng = 0;
	groups[ng++] = pw->pw_gid;
	static const char *const extra[] = { "adm", "systemd-journal" };
	for (size_t i = 0; i < 2; i++) {
		struct group *gr = getgrnam(extra[i]);
		if (gr && gr->gr_gid != pw->pw_gid)
			groups[ng++] = gr->gr_gid;
	}
	priv_become("warden_owner", pw->pw_uid, pw->pw_gid, groups, ng, NULL, 0);
}

void privsep_firewall(int keep_root)
{
	static const cap_value_t net_admin[] = { CAP_NET_ADMIN };
	if (geteuid() != 0 || keep_root)
		return;		/* fail2ban's actions run as root: so do ours */
	priv_keep_only(net_admin, 1);
}
