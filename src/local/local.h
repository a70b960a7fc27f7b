/*
 * local — the local delivery process: the only part of mailwarden that
 * writes into mailboxes as their owners. Spawned by the master next to the
 * queue manager, with a SOCK_SEQPACKET socketpair between the two; it reads
 * nothing but typed MSG_LOCAL_* requests (common/msg.h) and trusts none of
 * their claims: it finds the owner of every mailbox itself (getpwnam for a
 * local user, its own virtual_mailbox_maps/virtual_uid_maps view for a
 * virtual one), refuses uid 0, unknown users and paths that leave
 * virtual_mailbox_base, and delivers with maildir.c's fd-relative
 * O_EXCL/O_NOFOLLOW discipline, a whole batch per two syncfs.
 * Privileges (local_priv.c): mail_owner with only CAP_SETUID/CAP_SETGID
 * (permitted, effective and bounding set), NoNewPrivs, not dumpable.
 */
#ifndef MW_LOCAL_H
#define MW_LOCAL_H

struct config;

/* Drop to the local process's privileges (no-op parts when not root),
 * name it "local"; then serve requests on fd until EOF and exit(0).
 * Does not return. */
void local_main(const struct config *cfg, int fd, int report_fd) __attribute__((noreturn));

/* The local process's privileges: see the contract above. */
void local_drop_privileges(const struct config *cfg);
#endif
