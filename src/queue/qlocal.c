/*
 * qlocal — MSG_LOCAL_* requests to the local delivery process (qlocal.h).
 * Items stream to it while the batch is planned (it writes tmp/ files as
 * they come); the commit waits on the socket for the answers, which is
 * the two syncfs the queue manager used to wait for itself. A broken link
 * (EOF, timeout, a malformed answer) fails the whole batch: the caller
 * then leaves the queue files as they are.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/msg.h"
#include "common/util.h"
#include "queue/qlocal.h"
#include "mail/resolve.h"

#define QLOCAL_WAIT_MS	300000	/* a commit (two syncfs) answers within this */

struct qlocal_item {
	int state;		/* 0 waiting, 1 ok, -1 failed */
	char why[512];
};

struct qlocal_batch {
	int fd;
	struct qlocal_item *items;
	size_t n, cap;
	char broken[256];
};

struct qlocal_batch *qlocal_batch_new(int fd)
{
	struct qlocal_batch *b = xcalloc(1, sizeof(*b));
	b->fd = fd;
	if (fd < 0)
		snprintf(b->broken, sizeof(b->broken), "no local delivery process");
	return b;
}

static void set_broken(struct qlocal_batch *b, const char *what, int err)
{
	if (b->broken[0] == '\0')
		snprintf(b->broken, sizeof(b->broken), "local delivery process: %s%s%s", what,
		    err ? ": " : "", err ? strerror(err) : "");
}

/* Wait for the socket (POLLIN or POLLOUT); 0 ready, -1 timeout or error. */
static int wait_fd(struct qlocal_batch *b, short ev)
{
	struct pollfd p = { b->fd, ev, 0 };
	int r;
	do
		r = poll(&p, 1, QLOCAL_WAIT_MS);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		set_broken(b, "no answer", ETIMEDOUT);
	else if (r < 0)
		set_broken(b, "poll", errno);
	return r > 0 ? 0 : -1;
}

static int send_wait(struct qlocal_batch *b, struct msg *m, int pass_fd)
{
	while (b->broken[0] == '\0') {
		int r = pass_fd >= 0 ? msg_send_fd(b->fd, m, pass_fd) : msg_send(b->fd, m);
		if (r == 0)
			return 0;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			set_broken(b, "send", errno);
			break;
		}
		if (wait_fd(b, POLLOUT) < 0)
			break;
	}
	return -1;
}

int qlocal_add(struct qlocal_batch *b, const struct dest *d, const char *sender,
    int body_fd, off_t body_off, size_t body_len, char *why, size_t whylen)
{
	struct msg m;

	if (d->box == NULL) {
		snprintf(why, whylen, "no mailbox for the local delivery process");
		return -1;
	}
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 64;
		b->items = xrealloc(b->items, b->cap * sizeof(*b->items));
	}
	msg_init(&m, MSG_LOCAL_ITEM);
	msg_put_u32(&m, (uint32_t)b->n);
	msg_put_u32(&m, strcmp(d->service, "virtual") == 0 ? LOCAL_VIRTUAL : LOCAL_USER);
	msg_put_str(&m, d->box);
	msg_put_str(&m, sender);
	msg_put_str(&m, d->addr);
	msg_put_u64(&m, (uint64_t)body_off);
	msg_put_u64(&m, (uint64_t)body_len);
	int rc = send_wait(b, &m, body_fd);
	msg_free(&m);
	if (rc < 0) {
		snprintf(why, whylen, "%s", b->broken[0] ? b->broken : "request too long");
		return -1;
	}
	struct qlocal_item *it = &b->items[b->n];
	it->state = 0;
	it->why[0] = '\0';
	return (int)b->n++;
}

/* One answer; 1 more to come, 0 done, -1 broken. */
static int read_answer(struct qlocal_batch *b)
{
	struct msg m;
	int r;

	for (;;) {
		r = msg_recv(b->fd, &m);
		if (r > 0)
			break;
		if (r == 0) {
			set_broken(b, "connection closed", 0);
			return -1;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			set_broken(b, "receive", errno);
			return -1;
		}
		if (wait_fd(b, POLLIN) < 0)
			return -1;
	}
	int more = -1;
	if (m.type == MSG_LOCAL_RESULT) {
		uint32_t id = msg_get_u32(&m);
		uint32_t ok = msg_get_u32(&m);
		const char *text = msg_get_str(&m);
		if (msg_end(&m) == 0 && id < b->n && b->items[id].state == 0) {
			b->items[id].state = ok == 1 ? 1 : -1;
			snprintf(b->items[id].why, sizeof(b->items[id].why), "%s", text);
			more = 1;
		} else if (msg_end(&m) == 0 && id == UINT32_MAX) {
			more = 1;	/* an answer to nothing we sent */
		}
	} else if (m.type == MSG_LOCAL_DONE) {
		msg_get_u32(&m);
		if (msg_end(&m) == 0)
			more = 0;
	}
	if (more < 0)
		set_broken(b, "malformed answer", 0);
	msg_free(&m);
	return more;
}

size_t qlocal_commit(struct qlocal_batch *b)
{
	size_t failed = 0;

	if (b->n > 0 && b->broken[0] == '\0') {
		struct msg m;
		msg_init(&m, MSG_LOCAL_COMMIT);
		int rc = send_wait(b, &m, -1);
		msg_free(&m);
		if (rc == 0)
			while (read_answer(b) > 0)
				;
	}
	for (size_t i = 0; i < b->n; i++) {
		if (b->items[i].state == 0) {
			b->items[i].state = -1;
			snprintf(b->items[i].why, sizeof(b->items[i].why), "%s",
			    b->broken[0] ? b->broken : "no answer from the local delivery process");
		}
		failed += b->items[i].state != 1;
	}
	return failed;
}

const char *qlocal_broken(const struct qlocal_batch *b)
{
	return b->broken;
}

int qlocal_ok(const struct qlocal_batch *b, size_t i)
{
	return i < b->n && b->items[i].state == 1;
}

const char *qlocal_why(const struct qlocal_batch *b, size_t i)
{
	return i < b->n ? b->items[i].why : "";
}

void qlocal_batch_free(struct qlocal_batch *b)
{
	if (b == NULL)
		return;
	free(b->items);
	free(b);
}
