/*
 * firewall — the ban engine's only privileged part (firewall.c): a
 * process the master starts beside each warden generation, with a
 * SOCK_SEQPACKET socketpair between them. It loads the jails and their
 * actions from the config itself and acts only on typed MSG_FW_* requests
 * (fw_proto.h) that pass its checks; see docs/security.md.
 */
#ifndef MW_WARDEN_FIREWALL_H
#define MW_WARDEN_FIREWALL_H

struct config;

/* Serve requests on fd (the warden's peer) until it closes; then stop the
 * jails and exit. cfg was read from path (MSG_FW_RELOAD reads it again). */
void firewall_main(struct config *cfg, const char *path, int fd, int master_fd) __attribute__((noreturn));
#endif
