/*
 * privsep — how the ban engine's two processes give up privilege
 * (privsep.c): the warden becomes warden_owner with no capability at
 * all; the firewall keeps root for action.d commands or only
 * CAP_NET_ADMIN for nft. Both are no-ops when not started as root.
 */
#ifndef MW_WARDEN_PRIVSEP_H
#define MW_WARDEN_PRIVSEP_H

struct config;

/* Look up warden_owner; fatal naming the key if it does not exist (as
 * root only). Called by the master at start and by the warden. */
void privsep_check_owner(const struct config *cfg);
/* As the master (root): the ban engine's directories, data_directory
 * (warden_owner, 0700; an old $queue_directory/warden.db moved in) and
 * queue_directory/warden for the bans file (warden_owner, 0755), made and
 * checked through O_NOFOLLOW directory fds. 0, or -1 and err. */
int privsep_prepare_dirs(const struct config *cfg, char *err, size_t errlen);
/* The warden: setgroups(owner's gid, adm, systemd-journal),
 * setresgid/setresuid to warden_owner, every capability dropped (bounding
 * set too), NoNewPrivs, umask 077. */
void privsep_warden(const struct config *cfg);
/* The firewall: keep_root (command actions) leaves it root, else only
 * CAP_NET_ADMIN stays (uid 0, empty bounding set otherwise, NoNewPrivs). */
void privsep_firewall(int keep_root);
#endif
