/*
 * input — what the warden reads: the smtp engine's MSG_WARDEN_EVENT
 * datagrams (checked with msg_end(); a jail counts the kinds its filter
 * mode names, a table below) and the lines of followed logs and the
 * journal (matched by the jail's filter, a copy per further path). Both
 * end in the ban path (ban.h). Used by warden.c when jails start.
 */
#ifndef MW_WARDEN_INPUT_H
#define MW_WARDEN_INPUT_H
#include <stddef.h>

struct config;
struct filter;
struct jail;
struct wjail;

/* Where filter.d files are looked up (fail2ban's own tree second). */
extern const char *const input_filter_dirs[];

/* Load j's filter: the fail2ban tree's filter.d first (if j has one),
 * then input_filter_dirs, then the built-in filters. NULL and err. */
struct filter *input_filter_load(const struct jail *j, char *err, size_t errlen);
/* The loop callback for the event socket; arg is the struct warden. */
void input_on_event(int fd, int events, void *arg);
/* The follow/journal callback for one log line; arg is the struct wjail. */
void input_on_line(void *arg, const char *path, const char *line, size_t len);
/* Which events (1 << enum warden_event) jail j counts when the engine
 * feeds it (filter mailwarden; postfix reading only our own
 * maillog_file, or with its logpath from warden_fail2ban_config's tree,
 * whose mail.log mailwarden does not write); 0 if it reads its logs. */
unsigned input_jail_events(const struct config *cfg, const struct jail *j);
/* Free the per-path filter copies of w and its filter. */
void input_free_filters(struct wjail *w);
#endif
