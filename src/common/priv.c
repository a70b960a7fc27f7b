/*
 * priv — privilege drop shared by the engine, the queue manager, local
 * delivery, the warden and the firewall (see priv.h).
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "common/priv.h"

struct passwd *priv_user(const struct config *cfg, const char *key)
{
	const char *user = config_get(cfg, key);
	struct passwd *pw = getpwnam(user);
	if (pw == NULL)
		fatal("%s user '%s' does not exist (create it: groupadd --system %s; useradd "
		    "--system --gid %s --no-create-home --shell /usr/sbin/nologin %s -- or run "
		    "scripts/install-deps.sh)", key, user, user, user, user);
	if (pw->pw_uid == 0 || pw->pw_gid == 0)
		fatal("%s user '%s' has uid or gid 0: name an unprivileged account", key, user);
	return pw;
}

static int kept(cap_value_t c, const cap_value_t *keep, size_t nkeep)
{
	for (size_t i = 0; i < nkeep; i++)
		if (keep[i] == c)
			return 1;
	return 0;
}

/* Empty the bounding set but keep[] (needs CAP_SETPCAP: before the uid change). */
static void drop_bounding(const cap_value_t *keep, size_t nkeep)
{
	for (cap_value_t c = 0; c <= CAP_LAST_CAP; c++)
		if (!kept(c, keep, nkeep) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 &&
		    errno != EINVAL)
			fatal("prctl(PR_CAPBSET_DROP, %d): %s", (int)c, strerror(errno));
}

/* Permitted and effective = keep[]; inheritable and ambient empty; NoNewPrivs. */
static void set_caps(const cap_value_t *keep, size_t nkeep)
{
	cap_t caps = cap_init();
	if (caps == NULL || (nkeep && (cap_set_flag(caps, CAP_PERMITTED, (int)nkeep, keep,
	    CAP_SET) < 0 || cap_set_flag(caps, CAP_EFFECTIVE, (int)nkeep, keep, CAP_SET) < 0)) ||
	    cap_set_proc(caps) < 0)
		fatal("cannot set capabilities: %s", strerror(errno));
	cap_free(caps);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		fatal("prctl(PR_CAP_AMBIENT_CLEAR_ALL): %s", strerror(errno));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fatal("prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
}

void priv_become(const char *what, uid_t uid, gid_t gid, const gid_t *groups, size_t ngroups,
    const cap_value_t *keep, size_t nkeep)
{
	/* The uid change clears the parent-death signal the master set at
	 * fork: armed again after it, so a child never outlives its master. */
	int pdeath = 0;
	pid_t parent = getppid();
	if (prctl(PR_GET_PDEATHSIG, &pdeath) < 0)
		pdeath = 0;
	drop_bounding(keep, nkeep);
	if (prctl(PR_SET_KEEPCAPS, nkeep > 0) < 0)
		fatal("prctl(PR_SET_KEEPCAPS): %s", strerror(errno));
	if (setgroups(ngroups, groups) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(uid, uid, uid) < 0)
		fatal("cannot switch to %s: %s", what, strerror(errno));
	if (prctl(PR_SET_KEEPCAPS, 0) < 0)
		fatal("prctl(PR_SET_KEEPCAPS): %s", strerror(errno));
	if (pdeath && (prctl(PR_SET_PDEATHSIG, pdeath) < 0 || getppid() != parent))
		_exit(1);	/* the master is gone already */
	set_caps(keep, nkeep);
	if (!kept(CAP_SETUID, keep, nkeep) && (setuid(0) == 0 || geteuid() == 0))
		fatal("privileges were not dropped: uid 0 is reachable");
}

void priv_keep_only(const cap_value_t *keep, size_t nkeep)
{
	if (geteuid() == 0)
		drop_bounding(keep, nkeep);
	set_caps(keep, nkeep);
}

void priv_name(const char *name)
{
	if (prctl(PR_SET_NAME, name, 0, 0, 0) < 0)
		log_warn("prctl(PR_SET_NAME %s): %s", name, strerror(errno));
}
