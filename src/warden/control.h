/*
 * control — the warden's control socket (warden_socket): a SOCK_STREAM
 * UNIX socket, mode 0600, bound by the master and served by the warden, peers checked with SO_PEERCRED (root or the
 * warden's own uid). One request a connection: a line of TAB-separated
 * words ("status\tJAIL", "ban\tJAIL\tIP", "unban\tIP", "unban\t--all",
 * "banned[\tIP]", "why\tIP", "reload"), optionally preceded by the word
 * "json"; the answer is "ok\n" or "error\n" and then the text, and the
 * server closes. Also declares the warden state the commands work on
 * (warden.c).
 */
#ifndef MW_WARDEN_CONTROL_H
#define MW_WARDEN_CONTROL_H
#include <stddef.h>

#include "common/buf.h"
#include "warden/jail.h"

struct jailrt;
struct filter;
struct follower;
struct journal_src;
struct action;
struct store;

/* One running jail of the warden. */
struct wjail {
	struct jail *j;
	struct jailrt *rt;
	struct filter *filter;		/* NULL for a jail fed by events */
	struct wpath_filter {		/* one more filter per further log path: */
		char *path;		/* multi-line state must not mix files */
		struct filter *f;
	} *pf;
	size_t npf;
	struct follower *fol;
	struct journal_src *journal;
	unsigned events;		/* 1 << enum warden_event it counts */
	unsigned long evicted_told, refused_told;	/* caps: counts logged */
	int evict_warned, refuse_warned;	/* a warning this minute */
};

/* The running warden (warden.c). */
struct warden {
	struct wjail *jails;
	size_t njails;
	struct store *st;
};
extern struct warden warden;

/* One line in fail2ban's layout to warden_logtarget (or the mail log). */
void warden_log(const char *level, const char *logger, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Now (unix seconds): the warden's one clock. */
long warden_now(void);
/* Ban ip in jail by hand (`mailwarden ban`). 0, or -1 and err. */
int warden_ban_ip(struct wjail *w, const char *ip, char *err, size_t errlen);
/* Unban ip from every jail (NULL: everything); *n gets how many. */
int warden_unban_ip(const char *ip, size_t *n, char *err, size_t errlen);
/* Re-read the config and the jails (stopping and restarting them, bans
 * restored from the store). 0, or -1 and err: a config that does not
 * load keeps the old jails; a jail that fails to start is logged. */
int warden_reload(char *err, size_t errlen);

/* Bind and listen on the control socket at path (the master, as root:
 * umask 077, mode 0600; a stale socket there is replaced). The listening
 * fd, or -1 and err. */
int control_bind(const char *path, char *err, size_t errlen);
/* Serve the listening socket fd (the warden; the master keeps the path). */
void control_listen(int fd);
/* Stop serving it. */
void control_close(void);
/* Run one request (argv words) into out; 0 ok, -1 error (text in out).
 * Exposed for tests. */
int control_run(int argc, char **argv, int json, struct buf *out);
#endif
