/*
 * local_priv — what the local delivery process may do: started as root by
 * the master, it becomes mail_owner keeping CAP_SETUID and CAP_SETGID only
 * (to switch its file-system uid/gid to a mailbox owner, as maildir.c
 * does), with the bounding set reduced to those two, NoNewPrivs, and
 * PR_SET_DUMPABLE 0 so that the queue manager (same uid) cannot ptrace it
 * or read its memory. Run as an ordinary user, it keeps that user.
 */
#include <errno.h>
#include <pwd.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "common/log.h"
#include "common/priv.h"
#include "local/local.h"

void local_drop_privileges(const struct config *cfg)
{
	static const cap_value_t keep[] = { CAP_SETUID, CAP_SETGID };
	priv_name("local");
	if (geteuid() == 0) {
		struct passwd *pw = priv_user(cfg, "mail_owner");
		priv_become("mail_owner", pw->pw_uid, pw->pw_gid, &pw->pw_gid, 1, keep, 2);
	} else {
		priv_keep_only(NULL, 0);
	}
	if (prctl(PR_SET_DUMPABLE, 0) < 0)
		fatal("prctl(PR_SET_DUMPABLE): %s", strerror(errno));
}
