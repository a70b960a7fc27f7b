/*
 * dovecot_fuzz — the Dovecot auth client protocol (src/sasl/dovecot.c)
 * driven through its real socket: a fake auth server on a unix socket in
 * /dev/shm accepts the client, three AUTH requests are queued, and the
 * server's side of the conversation is the input (handshake VERSION/MECH/
 * DONE, then OK/FAIL/CONT lines with ids and fields), followed by EOF.
 * The loop runs until every request got its answer. If the input's first
 * byte is odd a valid handshake is sent before it.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/loop.h"
#include "sasl/sasl.h"
#include "fuzz.h"

static int lfd;
static char path[128];
static int pending;
static struct loop_timer guard;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_quiet();
	loop_init();
	snprintf(path, sizeof(path), "%s/auth-client", fz_dir());
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(lfd, 8) < 0)
		abort();
	fz_track(path);
	return 0;
}

static void done(void *arg, enum sasl_result r, const char *why, const char *user)
{
	if (why == NULL)
		abort();
	if (--pending == 0)
		loop_exit();
}

static void timeout(void *arg)
{
	loop_exit();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char hs[] = "VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nSPID\t1\nCUID\t7\nCOOKIE\tab\nDONE\n";
	char err[256];
	struct sasl *s = sasl_open("dovecot", path, err, sizeof(err));
	if (s == NULL)
		abort();
	int fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		abort();
	pending = 3;
	struct sasl_req *r[3];
	r[0] = sasl_check(s, "PLAIN", "bob", "secret", "192.0.2.1", done, NULL);
	r[1] = sasl_check(s, "LOGIN", "alice", "pw", "2001:db8::1", done, NULL);
	r[2] = sasl_check(s, "PLAIN", "carol", "x", NULL, done, NULL);
	(void)r;
	if (size > 0 && (data[0] & 1))
		send(fd, hs, sizeof(hs) - 1, MSG_NOSIGNAL);
	/* a unix stream socket holds far more than one input: no deadlock */
	if (size > 1)
		send(fd, data + 1, size - 1, MSG_NOSIGNAL);
	shutdown(fd, SHUT_WR);
	loop_timer_set(&guard, 2000, timeout, NULL);
	loop_run();
	loop_timer_clear(&guard);
	if (pending != 0)
		abort();	/* a request left unanswered after EOF */
	sasl_close(s);
	close(fd);
	return 0;
}
