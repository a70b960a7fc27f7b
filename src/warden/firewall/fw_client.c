/*
 * fw_client — the warden's side of the firewall process (see fw_proto.h):
 * requests go out in order on the socketpair the master made; answers
 * come back as MSG_FW_REPLY and failures are logged in fail2ban's format
 * ("[jail] ban failed: ..."), as the actions' own errors used to be.
 * Only MSG_FW_START is waited for (a jail that cannot set up its firewall
 * does not start); bans and unbans never block the loop for an answer.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/msg.h"
#include "common/util.h"
#include "warden/f2blog.h"
#include "warden/firewall/actcmd.h"
#include "warden/firewall/fw_proto.h"

static int fw_fd = -1;

/* Failed commands per (jail, action), for status --json. */
static struct acterr {
	char *jail, *action, *last;
	unsigned long n;
} *acterrs;
static size_t nacterrs;

unsigned long fwc_action_errors(const char *jail, const char *action, const char **last)
{
	*last = NULL;
	for (size_t i = 0; i < nacterrs; i++)
		if (strcmp(acterrs[i].jail, jail) == 0 && strcmp(acterrs[i].action, action) == 0) {
			*last = acterrs[i].last;
			return acterrs[i].n;
		}
	return 0;
}

static void count(const char *jail, const char *action, const char *summary)
{
	size_t i = 0;
	while (i < nacterrs && (strcmp(acterrs[i].jail, jail) != 0 ||
	    strcmp(acterrs[i].action, action) != 0))
		i++;
	if (i == nacterrs) {
		acterrs = xrealloc(acterrs, (nacterrs + 1) * sizeof(*acterrs));
		acterrs[nacterrs++] = (struct acterr){ xstrdup(jail), xstrdup(action), NULL, 0 };
	}
	acterrs[i].n++;
	free(acterrs[i].last);
	acterrs[i].last = xstrdup(summary);
}

void fwc_status_json(const struct jail *j, struct buf *o)
{
	buf_puts(o, ",\"actions\":[");
	for (size_t i = 0; i < j->nactions; i++) {
		char name[256];
		const char *last;
		actcmd_actname(j, &j->actions[i], name, sizeof(name));
		unsigned long n = fwc_action_errors(j->name, name, &last);
		buf_puts(o, i ? ",{\"name\":" : "{\"name\":");
		buf_json_str(o, name);
		buf_printf(o, ",\"errors\":%lu,\"last_error\":", n);
		if (last)
			buf_json_str(o, last);
		else
			buf_puts(o, "null");
		buf_puts(o, "}");
	}
	buf_puts(o, "]");
}

/* One FW_REQ_ACTLOG line: to fail2ban's log; a failure is counted. Its
 * first four fields hold no US (fw_send_actlog escapes them: a command's
 * stderr in the summary cannot move the split); the message may. */
static void actlog(const char *jail, const char *text)
{
	char *t = xstrdup(text), *f[5] = { 0 }, *p = t;
	for (int i = 0; i < 5 && p; i++) {
		f[i] = p;
		p = i < 4 ? strchr(p, '\x1f') : NULL;
		if (p)
			*p++ = '\0';
	}
	if (f[4] == NULL) {
		log_warn("warden: malformed action log line from the firewall process ignored");
		free(t);
		return;
	}
	f2blog_log(f[1], f[2], "%s", f[4]);
	if (*f[3])
		count(jail, f[0], f[3]);
	free(t);
}

void fwc_act(const char *jail, int ban, const struct action_ban *b, size_t n)
{
	int rc = 0;
	if (ban && n > 1)
		rc = fw_send_restore(fw_fd, jail, b, n);
	for (size_t i = 0; rc == 0 && i < n && !(ban && n > 1); i++)
		rc = fw_send_ban(fw_fd, ban ? MSG_FW_BAN : MSG_FW_UNBAN, jail, &b[i]);
	if (rc < 0)
		f2blog_log("ERROR", "fail2ban.actions", "[%s] %s failed: firewall process: %s",
		    jail, ban ? "ban" : "unban", strerror(errno));
}

/* One answer of the firewall: 1 if it is the MSG_FW_START reply for jail
 * (*ok set), else 0 (a failure is logged as the actions' used to be). */
static int fw_answer(struct msg *m, const char *jail, int *ok, char *err, size_t errlen)
{
	uint32_t req = msg_get_u32(m), st = msg_get_u32(m);
	const char *j = msg_get_str(m), *text = msg_get_str(m);
	if (m->type != MSG_FW_REPLY || msg_end(m) < 0) {
		log_warn("warden: malformed answer from the firewall process ignored");
		return 0;
	}
	if (req == FW_REQ_ACTLOG) {
		actlog(j, text);
		return 0;
	}
	if (req == MSG_FW_START && jail && strcmp(j, jail) == 0) {
		*ok = st == FW_OK;
		snprintf(err, errlen, "%s", text);
		return 1;
	}
	if (st == FW_FAILED && req != MSG_FW_START)	/* only the nft action fails so */
		count(j, "nft", text);
	if (st != FW_OK)
		f2blog_log("ERROR", "fail2ban.actions", "[%s] %s %s: %s", j,
		    req == MSG_FW_RESTORE ? "ban" : fw_type_name(req),
		    st == FW_REFUSED ? "refused" : "failed", text);
	return 0;
}

static void on_fw(int fd, int events, void *arg)
{
	char err[256];
	int ok;
	for (int i = 0; i < 64; i++) {
		struct msg m;
		int rc = msg_recv(fd, &m);
		if (rc == 0 || (rc < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
			/* the master restarts the pair: stop as on SIGTERM */
			log_warn("warden: the firewall process is gone; stopping");
			loop_unwatch(fd);
			loop_exit();
			return;
		}
		if (rc < 0)
			return;
		fw_answer(&m, NULL, &ok, err, sizeof(err));
		msg_free(&m);
	}
}

int fwc_start(const char *jail, char *err, size_t errlen)
{
	if (fw_send_jail(fw_fd, MSG_FW_START, jail) < 0) {
		snprintf(err, errlen, "[%s] firewall process: %s", jail, strerror(errno));
		return -1;
	}
	for (int waited = 0; waited < 60000; waited += 100) {
		struct pollfd p = { .fd = fw_fd, .events = POLLIN };
		if (poll(&p, 1, 100) <= 0)
			continue;
		struct msg m;
		int rc = msg_recv(fw_fd, &m), ok = 0;
		if (rc == 0) {	/* stopping, or it died: the master restarts the pair */
			log_warn("warden: [%s] the firewall process is gone; stopping", jail);
			exit(1);
		}
		if (rc < 0)
			continue;
		char why[1024];
		int got = fw_answer(&m, jail, &ok, why, sizeof(why));
		msg_free(&m);
		if (got) {
			if (!ok)
				snprintf(err, errlen, "%s", why);
			return ok ? 0 : -1;
		}
	}
	snprintf(err, errlen, "[%s] the firewall process did not answer", jail);
	return -1;
}

void fwc_stop(const char *jail)
{
	if (fw_send_jail(fw_fd, MSG_FW_STOP, jail) < 0)
		log_warn("[%s] cannot stop the jail's actions: firewall process: %s", jail,
		    strerror(errno));
}

void fwc_reload(void)
{
	if (fw_send_jail(fw_fd, MSG_FW_RELOAD, NULL) < 0)
		log_warn("warden reload: firewall process: %s", strerror(errno));
}

void fwc_init(int fd)
{
	fw_fd = fd;
	loop_watch(fw_fd, LOOP_READ, on_fw, NULL);
}
