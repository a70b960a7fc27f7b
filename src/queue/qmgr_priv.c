/*
 * qmgr_priv — what the queue manager may do: nothing beyond mail_owner.
 * It parses remote SMTP/LMTP replies, DNS answers, maildrop and queue
 * files, so it holds no capability at all (permitted, effective, ambient
 * and bounding sets empty) and runs with NoNewPrivs. Mailbox writes as
 * their owners are the local delivery process's job (src/local).
 */
#include <pwd.h>
#include <unistd.h>

#include "common/priv.h"
#include "queue/qmgr.h"

void qmgr_drop_privileges(const struct config *cfg)
{
	priv_name("qmgr");
	if (geteuid() == 0) {
		struct passwd *pw = priv_user(cfg, "mail_owner");
		priv_become("mail_owner", pw->pw_uid, pw->pw_gid, &pw->pw_gid, 1, NULL, 0);
	} else {
		priv_keep_only(NULL, 0);	/* e.g. started with file capabilities */
	}
}
