/*
 * control — the warden's control socket (warden_socket): a SOCK_STREAM
 * UNIX socket, mode 0600, bound by the master and served by the warden, peers checked with SO_PEERCRED (root or the
 * warden's own uid). One request a connection: a line of TAB-separated
 * words ("status\tJAIL", "ban\tJAIL\tIP", "unban\tIP", "unban\t--all",
 * "banned[\tIP]", "why\tIP", "reload[\tJAIL]"; and the raw values
 * `mailwarden fail2ban-client` prints in fail2ban's words: "ping",
 * "jails", "get\tJAIL\tKEY", "banip\tJAIL\tIP...",
 * "unbanip\tJAIL|--all[\tIP...]", "flushlogs"; docs/warden.md has the
 * table), optionally preceded by the word
 * "json"; the answer is "ok\n" or "error\n" and then the text, and the
 * server closes. The commands read the warden's state (warden_int.h,
 * given to control_listen()) and change it only through the ban path's
 * functions (ban.h) and warden_reload().
 */
#ifndef MW_WARDEN_CONTROL_H
#define MW_WARDEN_CONTROL_H
#include <stddef.h>

#include "common/buf.h"

struct warden;

/* Bind and listen on the control socket at path (the master, as root:
 * umask 077, mode 0600; a stale socket there is replaced). The listening
 * fd, or -1 and err. */
int control_bind(const char *path, char *err, size_t errlen);
/* Serve the listening socket fd for the warden wd (the master keeps the
 * path). */
void control_listen(int fd, struct warden *wd);
/* Stop serving it. */
void control_close(void);
/* Run one request (argv words) into out; 0 ok, -1 error (text in out).
 * Exposed for tests. */
int control_run(struct warden *wd, int argc, char **argv, int json, struct buf *out);
#endif
