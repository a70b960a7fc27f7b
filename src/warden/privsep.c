/*
 * privsep — privilege drop of the warden and the firewall (see
 * privsep.h). Order matters: the bounding set is emptied while the
 * process still has CAP_SETPCAP, then the ids change (which clears the
 * permitted and effective sets: PR_SET_KEEPCAPS is off), then
 * NoNewPrivs. Every step is checked; a failure is fatal, since running
 * on with more privilege than designed is the one thing not to do.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "warden/privsep.h"

static struct passwd *owner(const struct config *cfg)
{
	const char *user = config_get(cfg, "warden_owner");
	struct passwd *pw = getpwnam(user);
	if (pw == NULL)
		fatal("warden_owner user '%s' does not exist (create it: groupadd --system %s; "
		    "useradd --system --gid %s --no-create-home --shell /usr/sbin/nologin %s; "
		    "usermod -a -G adm,systemd-journal %s -- or run scripts/install-deps.sh)",
		    user, user, user, user, user);
	if (pw->pw_uid == 0)
		fatal("warden_owner user '%s' is root: name an unprivileged account", user);
	return pw;
}

void privsep_check_owner(const struct config *cfg)
{
	if (geteuid() == 0)
		(void)owner(cfg);
}

/* Empty the bounding set except keep (-1: keep none). */
static void drop_bounding(int keep)
{
	for (int c = 0; c <= CAP_LAST_CAP; c++)
		if (c != keep && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			fatal("prctl(PR_CAPBSET_DROP, %d): %s", c, strerror(errno));
}

static void no_new_privs(void)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fatal("prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
}

void privsep_warden(const struct config *cfg)
{
	umask(077);
	if (geteuid() != 0)
		return;		/* an unprivileged run (tests): nothing to switch */
	struct passwd *pw = owner(cfg);
	const char *user = config_get(cfg, "warden_owner");
	uid_t uid = pw->pw_uid;
	gid_t groups[3];
	int ng = 0;
	groups[ng++] = pw->pw_gid;
	static const char *const extra[] = { "adm", "systemd-journal" };
	for (size_t i = 0; i < 2; i++) {
		struct group *gr = getgrnam(extra[i]);
		if (gr && gr->gr_gid != pw->pw_gid)
			groups[ng++] = gr->gr_gid;
	}
	drop_bounding(-1);
	if (prctl(PR_SET_KEEPCAPS, 0) < 0 || setgroups((size_t)ng, groups) < 0 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 || setresuid(uid, uid, uid) < 0)
		fatal("cannot switch to warden_owner %s: %s", user, strerror(errno));
	cap_t caps = cap_init();	/* all clear, inheritable and ambient too */
	if (caps == NULL || cap_set_proc(caps) < 0)
		fatal("cannot clear capabilities: %s", strerror(errno));
	cap_free(caps);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		fatal("prctl(PR_CAP_AMBIENT_CLEAR_ALL): %s", strerror(errno));
	no_new_privs();
	if (setuid(0) == 0 || getuid() != uid)
		fatal("privileges were not dropped: uid 0 is reachable");
}

void privsep_firewall(int keep_root)
{
	if (geteuid() != 0 || keep_root)
		return;		/* fail2ban's actions run as root: so do ours */
	drop_bounding(CAP_NET_ADMIN);
	cap_t caps = cap_init();
	cap_value_t keep[] = { CAP_NET_ADMIN };
	if (caps == NULL || cap_set_flag(caps, CAP_PERMITTED, 1, keep, CAP_SET) < 0 ||
	    cap_set_flag(caps, CAP_EFFECTIVE, 1, keep, CAP_SET) < 0 || cap_set_proc(caps) < 0)
		fatal("cannot keep only CAP_NET_ADMIN: %s", strerror(errno));
	cap_free(caps);
	no_new_privs();
}
