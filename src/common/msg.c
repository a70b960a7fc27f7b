/*
 * msg — typed message codec over SOCK_SEQPACKET socketpairs.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/msg.h"
#include "common/util.h"

void msg_init(struct msg *m, uint16_t type)
{
	uint8_t hdr[4] = { (uint8_t)(type >> 8), (uint8_t)type, 0, 0 };
	m->type = type;
	buf_init(&m->b, MSG_MAX);
	buf_append(&m->b, hdr, sizeof(hdr));
	m->rpos = sizeof(hdr);
	m->bad = 0;
}

void msg_put_u32(struct msg *m, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	if (buf_append(&m->b, b, 4) < 0)
		m->bad = 1;
}

void msg_put_u64(struct msg *m, uint64_t v)
{
	msg_put_u32(m, (uint32_t)(v >> 32));
	msg_put_u32(m, (uint32_t)v);
}

void msg_put_str(struct msg *m, const char *s)
{
	size_t n = strlen(s);
	if (n > UINT32_MAX) {
		m->bad = 1;
		return;
	}
	msg_put_u32(m, (uint32_t)n);
	/* The terminating NUL travels too, so a get can point into the buffer. */
	if (buf_append(&m->b, s, n + 1) < 0)
		m->bad = 1;
}

int msg_send(int fd, struct msg *m)
{
	if (m->bad) {
		errno = EMSGSIZE;
		return -1;
	}
	ssize_t n;
	do
		n = send(fd, m->b.data, m->b.len, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)m->b.len ? 0 : -1;
}

int msg_send_fd(int fd, struct msg *m, int pass_fd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cb;
	struct iovec iov = { m->b.data, m->b.len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = cb.buf, .msg_controllen = sizeof(cb.buf) };
	ssize_t n;

	if (m->bad) {
		errno = EMSGSIZE;
		return -1;
	}
	memset(&cb, 0, sizeof(cb));
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
	do
		n = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)m->b.len ? 0 : -1;
}

static void msg_take(struct msg *m, const char *data, ssize_t n)
{
	buf_init(&m->b, MSG_MAX);
	buf_append(&m->b, data, (size_t)n);
	m->rpos = 4;
	m->bad = n < 4;
	m->type = n >= 4 ? (uint16_t)(((uint8_t)data[0] << 8) | (uint8_t)data[1]) : 0;
}

int msg_recv(int fd, struct msg *m)
{
	char tmp[MSG_MAX];
	ssize_t n;
	do
		n = recv(fd, tmp, sizeof(tmp), MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return n == 0 ? 0 : -1;
	msg_take(m, tmp, n);
	return 1;
}

int msg_recv_fd(int fd, struct msg *m, int *fdp)
{
	char tmp[MSG_MAX];
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} cb;
	struct iovec iov = { tmp, sizeof(tmp) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = cb.buf, .msg_controllen = sizeof(cb.buf) };
	ssize_t n;

	*fdp = -1;
	do
		n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	int extra = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
		    c->cmsg_len < CMSG_LEN(0))
			continue;
		size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < nfd; i++) {
			int got;
			memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*fdp < 0) {
				*fdp = got;
			} else {
				close(got);
				extra = 1;
			}
		}
	}
	if (n == 0 && *fdp < 0)
		return 0;
	msg_take(m, tmp, n);
	if (extra || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
		m->bad = 1;
	return 1;
}

uint32_t msg_get_u32(struct msg *m)
{
	if (m->bad || m->rpos > m->b.len || m->b.len - m->rpos < 4) {
		m->bad = 1;
		return 0;
	}
	const uint8_t *p = (const uint8_t *)m->b.data + m->rpos;
	m->rpos += 4;
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint64_t msg_get_u64(struct msg *m)
{
	uint64_t hi = msg_get_u32(m);
	uint64_t v = hi << 32 | msg_get_u32(m);
	return m->bad ? 0 : v;
}

const char *msg_get_str(struct msg *m)
{
	uint32_t n = msg_get_u32(m);
	/* n bytes and a NUL must fit in what remains: compare, never add */
	if (m->bad || n >= m->b.len - m->rpos || m->b.data[m->rpos + n] != '\0' ||
	    memchr(m->b.data + m->rpos, '\0', n) != NULL) {
		m->bad = 1;
		return "";
	}
	const char *s = m->b.data + m->rpos;
	m->rpos += (size_t)n + 1;
	return s;
}

int msg_end(struct msg *m)
{
	return m->bad || m->rpos != m->b.len ? -1 : 0;
}

void msg_free(struct msg *m)
{
	buf_free(&m->b);
}
