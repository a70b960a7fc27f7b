/*
 * input — events from the smtp engine and lines from followed logs (see
 * input.h). The event-mode table is data: one row per filter mode, the
 * event kinds it counts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/util.h"
#include "warden/ban.h"
#include "warden/filter/filter.h"
#include "warden/firewall/fw_proto.h"
#include "warden/input.h"
#include "warden/jailtree.h"
#include "warden/warden_int.h"

const char *const input_filter_dirs[] = { "/etc/mailwarden/filter.d", "/etc/fail2ban/filter.d",
	NULL };

void input_on_event(int fd, int events, void *arg)
{
	static const char *const kinds[] = { "", "auth", "auth-ok", "relay", "reject",
		"pregreet", "protocol", "rate", "spf", "dmarc" };
	struct warden *wd = arg;
	for (int i = 0; i < 256; i++) {
		struct msg m;
		if (msg_recv(fd, &m) <= 0)
			return;
		uint32_t kind = msg_get_u32(&m);
		const char *addr = msg_get_str(&m), *user = msg_get_str(&m);
		const char *text = msg_get_str(&m);
		if (m.type != MSG_WARDEN_EVENT || msg_end(&m) < 0 || kind < WEV_AUTH_FAIL ||
		    kind > WEV_DMARC_FAIL) {
			log_warn("warden: malformed event datagram ignored");
			msg_free(&m);
			continue;
		}
		char source[32];
		snprintf(source, sizeof(source), "event:%s", kinds[kind]);
		long now = (long)clock_wall();
		for (size_t j = 0; j < wd->njails; j++) {
			struct wjail *w = &wd->jails[j];
			if (kind == WEV_AUTH_OK)
				ban_auth_ok(w, addr, user);
			else if (w->events & (1u << kind))
				ban_failure(w, addr, user, kind == WEV_AUTH_FAIL, now, source, text);
		}
		msg_free(&m);
	}
}

/* The filter for lines of path: the jail's own for the first path seen,
 * a copy per further path, so a multi-line filter's buffered lines and
 * connections never mix two files. */
static struct filter *path_filter(struct wjail *w, const char *path)
{
	if (w->npf == 0 || strcmp(w->pf[0].path, path) == 0) {
		if (w->npf == 0) {
			w->pf = xcalloc(1, sizeof(*w->pf));
			w->pf[0].path = xstrdup(path);
			w->pf[0].f = w->filter;
			w->npf = 1;
		}
		return w->filter;
	}
	for (size_t i = 1; i < w->npf; i++)
		if (strcmp(w->pf[i].path, path) == 0)
			return w->pf[i].f;
	char err[512];
	struct filter *f = input_filter_load(w->j, err, sizeof(err));
	if (f == NULL) {	/* it loaded once already: not expected */
		log_warn("[%s] filter for %s: %s", w->j->name, path, err);
		return w->filter;
	}
	w->pf = xrealloc(w->pf, (w->npf + 1) * sizeof(*w->pf));
	w->pf[w->npf].path = xstrdup(path);
	w->pf[w->npf].f = f;
	w->npf++;
	return f;
}

struct filter *input_filter_load(const struct jail *j, char *err, size_t errlen)
{
	char **dirs = jailtree_dirs(j, "filter.d", input_filter_dirs);
	struct filter *f = filter_load(j->filter.text, (const char *const *)dirs, err, errlen);
	config_list_free(dirs);
	return f;
}

void input_on_line(void *arg, const char *path, const char *line, size_t len)
{
	struct wjail *w = arg;
	struct filter_hit hit;
	/* both sources end the line with a NUL (follow.h): no copy */
	if (filter_match_len(path_filter(w, path), line, len, &hit) == FILTER_FAIL && *hit.host)
		ban_failure(w, hit.host, hit.user, 0, hit.time, path, line);
}

void input_free_filters(struct wjail *w)
{
	for (size_t i = 0; i < w->npf; i++) {
		if (w->pf[i].f != w->filter)
			filter_free(w->pf[i].f);
		free(w->pf[i].path);
	}
	free(w->pf);
	filter_free(w->filter);
}

enum {
	IN_AUTH = 1u << WEV_AUTH_FAIL, IN_RELAY = 1u << WEV_RELAY_DENIED,
	IN_REJECT = 1u << WEV_REJECT, IN_PREGREET = 1u << WEV_PREGREET,
	IN_PROTOCOL = 1u << WEV_PROTOCOL, IN_RATE = 1u << WEV_RATE, IN_SPF = 1u << WEV_SPF_FAIL,
	IN_DMARC = 1u << WEV_DMARC_FAIL,
	IN_ALL = IN_AUTH | IN_RELAY | IN_REJECT | IN_PREGREET | IN_PROTOCOL,
};

/* The filter modes (fail2ban's postfix.conf, plus rate) and the events
 * each counts; aggressive has the rate lines too in our own filter. */
static const struct {
	const char *mode;
	unsigned events;
} modes[] = {
	{ "auth",       IN_AUTH },
	{ "relay",      IN_RELAY },
	{ "reject",     IN_REJECT },
	{ "pregreet",   IN_PREGREET },
	{ "protocol",   IN_PROTOCOL },
	{ "normal",     IN_REJECT | IN_RELAY },
	{ "more",       IN_REJECT | IN_RELAY },
	{ "rbl",        IN_REJECT },
	{ "ddos",       IN_PREGREET | IN_PROTOCOL },
	{ "extra",      IN_REJECT | IN_RELAY | IN_AUTH },
	{ "aggressive", IN_ALL },
	{ "rate",       IN_RATE },
	{ "spf",        IN_SPF },	/* optional: in no other mode */
	{ "dmarc",      IN_DMARC },	/* optional: in no other mode */
};

unsigned input_jail_events(const struct config *cfg, const struct jail *j)
{
	const char *name = j->filter.name, *mode = jailconf_ref_opt(&j->filter, "mode");
	const char *maillog = config_get(cfg, "maillog_file");
	int ours = strcmp(name, "mailwarden") == 0;
	if (!ours && strcmp(name, "postfix") == 0 && j->tree_logpath) {
		ours = 1;	/* from fail2ban's tree: its mail.log is not ours */
	} else if (!ours && strcmp(name, "postfix") == 0) {
		ours = 1;	/* only when it reads nothing but our own maillog */
		for (size_t i = 0; i < j->nlogpath; i++)
			if (*maillog == '\0' || strcmp(j->logpath[i].pattern, maillog) != 0)
				ours = 0;
	}
	if (!ours)
		return 0;
	if (mode == NULL)
		mode = strcmp(name, "postfix") == 0 ? "more" : "aggressive";
	/* mailwarden's aggressive also has the rate lines; postfix's does not */
	unsigned rate = strcmp(name, "mailwarden") == 0 ? IN_RATE : 0;
	for (size_t i = 0; i < sizeof(modes) / sizeof(*modes); i++)
		if (strcmp(modes[i].mode, mode) == 0)
			return modes[i].events | (strcmp(mode, "aggressive") == 0 ? rate : 0);
	return IN_ALL | rate;
}
