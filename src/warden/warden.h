/*
 * warden — the ban engine's process (warden.c), started by the master
 * when the config has at least one enabled jail. See docs/warden.md.
 */
#ifndef MW_WARDEN_WARDEN_H
#define MW_WARDEN_WARDEN_H

struct config;

/* Check what the ban engine would load: 0, or -1 and "FILE, line N:
 * [jail] ..." (check-config, start, reload). */
int warden_check(const struct config *cfg, char *err, size_t errlen);
/* Run the ban engine with cfg (read from path, for reload) on the fds the
 * master made: events (read end of the engine's event socketpair), ctl
 * (the listening control socket), fw (the firewall process); never
 * returns. */
void warden_main(struct config *cfg, const char *path, int events, int ctl, int fw, int master_fd)
    __attribute__((noreturn));
#endif
