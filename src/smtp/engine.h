/*
 * engine — the smtp engine process: all SMTP sessions of all listeners,
 * one event loop, unprivileged and chrooted into queue_directory when
 * started as root.
 */
#ifndef MW_ENGINE_H
#define MW_ENGINE_H
#include <stddef.h>

#include "common/config.h"

/* Listener roles, as master.cf service names. */
enum smtp_role { ROLE_SMTP, ROLE_SUBMISSION, ROLE_SMTPS, ROLE_NAMED };
/* Built-in roles, then the named listeners (config.h's role slots). */
#define SMTP_NROLES	CONFIG_NROLES

/* A listening socket handed over by the parent, with its role. */
struct engine_listener {
	int fd;
	int role;		/* 0 smtp (25), 1 submission (587), 2 smtps (465),
				 * ROLE_NAMED.. the named listeners */
};

/* Run the engine until SIGTERM has drained all sessions; never returns.
 * warden_fd: write end of the ban engine's event socketpair (-1: none). */
void engine_main(const struct config *cfg, const struct engine_listener *l, size_t n,
    int master_fd, int warden_fd)
    __attribute__((noreturn));
/* Role name for a role number ("smtp", "submission", "smtps", a named
 * listener's name); NULL for an unused named slot. */
const char *engine_role_name(const struct config *cfg, int role);
/* Whether a role has listen addresses (a listener in use). */
int engine_role_used(const struct config *cfg, int role);
/* The main.cf key of a role's listen addresses ("smtpd_listen", ...). */
const char *engine_role_listen_key(int role);
/* check-config's part for the engine (engine_check.c): the TLS and AUTH
 * settings of the listeners in use. 0, or -1 and "FILE, line N: ...". */
int engine_check(const struct config *cfg, char *err, size_t errlen);
#endif
