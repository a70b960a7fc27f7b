/*
 * local_priv — what the local delivery process may do: started as root by
 * the master, it becomes mail_owner keeping CAP_SETUID and CAP_SETGID only
 * (to switch its file-system uid/gid to a mailbox owner, as maildir.c
 * does), with the bounding set reduced to those two, NoNewPrivs, and
 * PR_SET_DUMPABLE 0 so that the queue manager (same uid) cannot ptrace it
 * or read its memory. Run as an ordinary user, it keeps that user.
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
#include "local/local.h"

void local_drop_privileges(const struct config *cfg)
{
	if (prctl(PR_SET_NAME, "local") < 0)
		fatal("prctl(PR_SET_NAME): %s", strerror(errno));
	if (geteuid() == 0) {
		const char *user = config_get(cfg, "mail_owner");
		struct passwd *pw = getpwnam(user);
		if (pw == NULL)
			fatal("mail_owner user '%s' does not exist", user);
		if (pw->pw_uid == 0)
			fatal("mail_owner %s: must not be uid 0", user);
		/* Bounding set: everything but the two kept (needs CAP_SETPCAP: now). */
		for (cap_value_t c = 0; c < 64; c++) {
			if (c == CAP_SETUID || c == CAP_SETGID)
				continue;
			if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
				fatal("prctl(PR_CAPBSET_DROP, %d): %s", (int)c, strerror(errno));
		}
		if (prctl(PR_SET_KEEPCAPS, 1) < 0)
			fatal("prctl(PR_SET_KEEPCAPS): %s", strerror(errno));
		if (setgroups(1, &pw->pw_gid) < 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
		    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
			fatal("cannot drop privileges to %s: %s", user, strerror(errno));
		cap_t caps = cap_init();
		cap_value_t keep[] = { CAP_SETUID, CAP_SETGID };
		if (caps == NULL || cap_set_flag(caps, CAP_PERMITTED, 2, keep, CAP_SET) < 0 ||
		    cap_set_flag(caps, CAP_EFFECTIVE, 2, keep, CAP_SET) < 0 || cap_set_proc(caps) < 0)
			fatal("cannot keep CAP_SETUID/CAP_SETGID: %s", strerror(errno));
		cap_free(caps);
		if (prctl(PR_SET_KEEPCAPS, 0) < 0)
			fatal("prctl(PR_SET_KEEPCAPS): %s", strerror(errno));
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		fatal("prctl(PR_CAP_AMBIENT): %s", strerror(errno));
	if (prctl(PR_SET_DUMPABLE, 0) < 0)
		fatal("prctl(PR_SET_DUMPABLE): %s", strerror(errno));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fatal("prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
}
