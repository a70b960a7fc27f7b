/*
 * notify — sd_notify(3) for the master (see notify.h). The ban engine is
 * asked over its control socket, never blocking the master: connect,
 * write one request, read the answer when the loop says it is there
 * (the warden answers only once its jails are started). Sessions are
 * the ESTABLISHED TCP sockets on the listeners' ports (/proc/net/tcp*);
 * bans in force are the warden's "count" answer (one number, not the
 * whole "banned" list).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/util.h"
#include "master/notify.h"

#define NOTIFY_STATUS_MS	5000
#define NOTIFY_MAX_PORTS	32
#define NOTIFY_ANSWER_MAX	256	/* "ok\n" and the warden's count */

static int enabled;		/* NOTIFY_SOCKET is set */
static int ready;		/* READY=1 sent (for this generation) */
static char *warden_path;	/* NULL: no ban engine to wait for or ask */
static uint64_t watchdog_ms;
static struct loop_timer wd_timer, st_timer;
static unsigned ports[NOTIFY_MAX_PORTS];
static size_t nports;
static int ask_fd = -1;		/* a control request in flight */
static struct buf ask_ans;
static int ask_cut;		/* the answer was longer than ask_ans holds */
static long bans = -1;		/* from the last answer, -1 unknown */

static void send_state(const char *state)
{
	int r = sd_notify(0, state);
	if (r < 0)
		log_warn("sd_notify %s: %s", state, strerror(-r));
}

static void on_watchdog(void *arg)
{
	send_state("WATCHDOG=1");
	loop_timer_set(&wd_timer, watchdog_ms / 2, on_watchdog, NULL);
}

/* ESTABLISHED sockets in /proc/net/tcp or tcp6 whose local port is a listener's. */
static long count_sessions(void)
{
	static const char *const files[] = { "/proc/net/tcp", "/proc/net/tcp6" };
	long n = 0;
	char line[512];
	for (size_t f = 0; f < sizeof(files) / sizeof(*files); f++) {
		FILE *fp = fopen(files[f], "re");
		if (fp == NULL)
			continue;
		while (fgets(line, sizeof(line), fp)) {
			char local[128];
			unsigned st;
			if (sscanf(line, " %*d: %127s %*s %x", local, &st) != 2 || st != 1)
				continue;
			char *colon = strrchr(local, ':');
			unsigned port = colon ? (unsigned)strtoul(colon + 1, NULL, 16) : 0;
			for (size_t i = 0; i < nports; i++)
				if (ports[i] == port) {
					n++;
					break;
				}
		}
		fclose(fp);
	}
	return n;
}

static void send_status(void)
{
	char st[256];
	long s = count_sessions();
	if (!ready)
		snprintf(st, sizeof(st), "STATUS=Starting: waiting for the ban engine's jails");
	else if (warden_path == NULL)
		snprintf(st, sizeof(st), "STATUS=%ld session(s), ban engine off", s);
	else if (bans < 0)
		snprintf(st, sizeof(st), "STATUS=%ld session(s), bans in force unknown", s);
	else
		snprintf(st, sizeof(st), "STATUS=%ld session(s), %ld ban(s) in force", s, bans);
	send_state(st);
}

static void ask_done(void)
{
	loop_unwatch(ask_fd);
	close(ask_fd);
	ask_fd = -1;
	const char *d = ask_ans.data ? ask_ans.data : "";
	bans = -1;	/* anything but "ok", one number and its newline: unknown */
	if (strncmp(d, "ok\n", 3) == 0) {
		char *end = NULL;
		errno = 0;
		long n = d[3] >= '0' && d[3] <= '9' ? strtol(d + 3, &end, 10) : -1;
		if (!ask_cut && errno == 0 && end && strcmp(end, "\n") == 0)
			bans = n;
		if (!ready) {
			ready = 1;
			send_state("READY=1");
		}
	}
	buf_free(&ask_ans);
	send_status();
}

static void on_answer(int fd, int events, void *arg)
{
	char tmp[8192];
	for (;;) {
		ssize_t n = read(fd, tmp, sizeof(tmp));
		if (n > 0 && buf_append(&ask_ans, tmp, (size_t)n) == 0)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		ask_cut = n > 0;	/* past the maximum: not a count */
		ask_done();	/* EOF, error, or too long */
		return;
	}
}

/* "count" to the warden: its answer (the number of bans in force) is both
 * the sign that its jails are up and the count for STATUS=. */
static void ask_warden(void)
{
	static const char req[] = "count\n";
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	if (ask_fd >= 0 || warden_path == NULL ||
	    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", warden_path) >= (int)sizeof(sun.sun_path))
		return;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return;
	/* the master bound and listens on it: connect and a short write do
	 * not wait for the warden to accept */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    write(fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1)) {
		close(fd);
		return;
	}
	ask_fd = fd;
	ask_cut = 0;
	buf_init(&ask_ans, NOTIFY_ANSWER_MAX);
	loop_watch(fd, LOOP_READ, on_answer, NULL);
}

static void on_status(void *arg)
{
	if (warden_path && ask_fd < 0)
		ask_warden();	/* STATUS= when it answers */
	else
		send_status();
	loop_timer_set(&st_timer, NOTIFY_STATUS_MS, on_status, NULL);
}

void notify_init(void)
{
	uint64_t usec = 0;
	enabled = getenv("NOTIFY_SOCKET") != NULL;
	if (!enabled)
		return;
	if (sd_watchdog_enabled(0, &usec) > 0 && usec >= 2000) {
		watchdog_ms = usec / 1000;
		on_watchdog(NULL);
	}
}

void notify_listeners(const int *fds, size_t n)
{
	nports = 0;
	for (size_t i = 0; i < n && nports < NOTIFY_MAX_PORTS; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		if (getsockname(fds[i], (struct sockaddr *)&ss, &len) < 0)
			continue;
		if (ss.ss_family == AF_INET)
			ports[nports++] = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			ports[nports++] = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
}

void notify_started(const char *ctl_path)
{
	if (!enabled)
		return;
	free(warden_path);
	warden_path = ctl_path ? xstrdup(ctl_path) : NULL;
	if (warden_path == NULL && !ready) {
		ready = 1;
		send_state("READY=1");
	}
	on_status(NULL);
}

void notify_stopping(void)
{
	if (enabled)
		send_state("STOPPING=1");
}

void notify_child(void)
{
	enabled = 0;
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	if (ask_fd >= 0) {
		close(ask_fd);
		ask_fd = -1;
	}
}
