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
/* Run the ban engine with cfg (read from path, for reload); never returns. */
void warden_main(struct config *cfg, const char *path) __attribute__((noreturn));
#endif
