/*
 * qmgr_priv — what the queue manager may do: nothing beyond mail_owner.
 * It parses remote SMTP/LMTP replies, DNS answers, maildrop and queue
 * files, so it holds no capability at all (permitted, effective, ambient
 * and bounding sets empty) and runs with NoNewPrivs. Mailbox writes as
 * their owners are the local delivery process's job (src/local).
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "queue/qmgr.h"

void qmgr_drop_privileges(const struct config *cfg)
{
	if (prctl(PR_SET_NAME, "qmgr") < 0)
		fatal("prctl(PR_SET_NAME): %s", strerror(errno));
	if (geteuid() == 0) {
		const char *user = config_get(cfg, "mail_owner");
		struct passwd *pw = getpwnam(user);
		if (pw == NULL)
			fatal("mail_owner user '%s' does not exist", user);
		if (pw->pw_uid == 0)
			fatal("mail_owner %s: must not be uid 0", user);
		for (cap_value_t c = 0; c < 64; c++)
			if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
				fatal("prctl(PR_CAPBSET_DROP, %d): %s", (int)c, strerror(errno));
		if (prctl(PR_SET_KEEPCAPS, 0) < 0)
			fatal("prctl(PR_SET_KEEPCAPS): %s", strerror(errno));
		if (setgroups(1, &pw->pw_gid) < 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
		    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
			fatal("cannot drop privileges to %s: %s", user, strerror(errno));
	}
	/* Whatever was left (e.g. started with file capabilities): clear it. */
	cap_t none = cap_init();
	if (none == NULL || cap_set_proc(none) < 0)
		fatal("cannot clear capabilities: %s", strerror(errno));
	cap_free(none);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		fatal("prctl(PR_CAP_AMBIENT): %s", strerror(errno));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fatal("prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
}
