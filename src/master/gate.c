/*
 * gate — the first engine waits for the warden when a cluster is set
 * (gate.h). One non-blocking probe at a time: connect to the control
 * socket the master listens on (it succeeds before the warden accepts),
 * send "ping", wait for any answer.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/loop.h"
#include "master/gate.h"

#define GATE_MAX_MS 5000	/* the warden's own wait is 2 s */

static int opened;		/* stays open: later generations do not wait */
static int probe_fd = -1;
static uint64_t since;
static void (*wake_fn)(void *);
static struct loop_timer limit = { 0, (size_t)-1, NULL, NULL };

/* The gate opens; the caller goes on (gate_open returns 1), or the loop
 * calls wake: never both, or start_children() would run nested in
 * itself and start a second engine. */
static void finish(int answered)
{
	if (probe_fd >= 0) {
		loop_unwatch(probe_fd);
		close(probe_fd);
		probe_fd = -1;
	}
	loop_timer_clear(&limit);
	opened = 1;
	if (!answered)
		log_warn("ban engine did not answer within %d ms: the smtp engine starts "
		    "without the cluster's bans", GATE_MAX_MS);
}

/* From the loop (an answer, the time limit): open and tell the master. */
static void finish_wake(int answered)
{
	finish(answered);
	if (wake_fn)
		wake_fn(NULL);
}

static void on_answer(int fd, int events, void *arg)
{
	char tmp[256];
	ssize_t n = read(fd, tmp, sizeof(tmp));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	finish_wake(n > 0);
}

static void on_limit(void *arg)
{
	finish_wake(0);
}

/* Send "ping" on a new connection; -1 if the socket is not there yet. */
static int probe(const char *ctl_path)
{
	static const char req[] = "ping\n";
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	if (snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", ctl_path) >= (int)sizeof(sun.sun_path))
		return -1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    write(fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1)) {
		close(fd);
		return -1;
	}
	probe_fd = fd;
	loop_watch(fd, LOOP_READ, on_answer, NULL);
	return 0;
}

int gate_open(const char *cluster, const char *ctl_path, void (*wake)(void *))
{
	if (opened || cluster == NULL || *cluster == '\0' || ctl_path == NULL)
		return 1;
	wake_fn = wake;
	if (probe_fd >= 0)
		return 0;	/* under way */
	if (since == 0) {
		since = clock_mono_ms();
		loop_timer_set(&limit, GATE_MAX_MS, on_limit, NULL);
		log_info("smtp engine waits for the ban engine's first pull of the cluster's bans");
	}
	if (probe(ctl_path) < 0 && clock_mono_ms() - since >= GATE_MAX_MS)
		finish(0);
	return opened;
}
