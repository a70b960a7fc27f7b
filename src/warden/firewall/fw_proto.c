/*
 * fw_proto — encode and decode the warden -> firewall requests (see
 * fw_proto.h). A send waits up to a few seconds for room in the socket
 * (the firewall may be busy with a large nft batch); nothing is dropped
 * silently: a failed send returns -1 for the caller to log.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/buf.h"
#include "common/util.h"
#include "warden/firewall/fw_proto.h"

#define FW_SEND_WAIT_MS 5000
#define FW_FOREVER 0xffffffffu

static int send_wait(int fd, struct msg *m)
{
	for (int waited = 0;; waited += 100) {
		if (msg_send(fd, m) == 0)
			return 0;
		if ((errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS) ||
		    waited >= FW_SEND_WAIT_MS)
			return -1;
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		if (poll(&p, 1, 100) < 0 && errno != EINTR)
			return -1;
	}
}

static void put_net(struct msg *m, const struct net *n)
{
	msg_put_u32(m, n->family == AF_INET ? 4 : n->family == AF_INET6 ? 6 : 0);
	for (int i = 0; i < 16; i += 4)
		msg_put_u32(m, (uint32_t)n->a[i] << 24 | (uint32_t)n->a[i + 1] << 16 |
		    (uint32_t)n->a[i + 2] << 8 | n->a[i + 3]);
	msg_put_u32(m, (uint32_t)n->plen);
}

/* A NET field. Shape only: family 4/6 and a prefix length 0..128; the
 * firewall checks the rest. */
static void get_net(struct msg *m, struct net *n)
{
	uint32_t fam = msg_get_u32(m);
	memset(n, 0, sizeof(*n));
	n->family = fam == 4 ? AF_INET : fam == 6 ? AF_INET6 : -1;
	for (int i = 0; i < 16; i += 4) {
		uint32_t w = msg_get_u32(m);
		n->a[i] = (unsigned char)(w >> 24);
		n->a[i + 1] = (unsigned char)(w >> 16);
		n->a[i + 2] = (unsigned char)(w >> 8);
		n->a[i + 3] = (unsigned char)w;
	}
	uint32_t plen = msg_get_u32(m);
	if (plen > 128)
		m->bad = 1;
	n->plen = plen > 128 ? -1 : (int)plen;
}

static uint32_t put_secs(long v)
{
	return v < 0 ? FW_FOREVER : v > 0x7fffffffL ? 0x7fffffffu : (uint32_t)v;
}

static long get_secs(uint32_t v)
{
	return v == FW_FOREVER ? -1 : (long)(v & 0x7fffffffu);
}

int fw_send_jail(int fd, uint16_t type, const char *jail)
{
	struct msg m;
	msg_init(&m, type);
	if (type != MSG_FW_RELOAD)
		msg_put_str(&m, jail);
	int rc = send_wait(fd, &m);
	msg_free(&m);
	return rc;
}

int fw_send_ban(int fd, uint16_t type, const char *jail, const struct action_ban *b)
{
	struct msg m;
	msg_init(&m, type);
	msg_put_str(&m, jail);
	put_net(&m, &b->net);
	if (type == MSG_FW_BAN) {
		msg_put_u32(&m, put_secs(b->timeout));
		msg_put_u32(&m, put_secs(b->bantime));
		msg_put_u32(&m, put_secs(b->failures));
		/* bounded here too, so a long login or line never loses the ban */
		char user[FW_USER_MAX + 1], match[FW_MATCH_MAX + 1];
		str_copy(user, sizeof(user), b->user ? b->user : "");
		str_copy(match, sizeof(match), b->matches ? b->matches : "");
		msg_put_str(&m, user);
		msg_put_str(&m, match);
		char addr[NET_STRLEN];	/* "" = the net's own */
		str_copy(addr, sizeof(addr), b->addr ? b->addr : "");
		msg_put_str(&m, addr);
	}
	int rc = send_wait(fd, &m);
	msg_free(&m);
	return rc;
}

int fw_send_restore(int fd, const char *jail, const struct action_ban *b, size_t n)
{
	for (size_t off = 0; off < n; off += FW_BATCH_MAX) {
		size_t k = n - off < FW_BATCH_MAX ? n - off : FW_BATCH_MAX;
		struct msg m;
		msg_init(&m, MSG_FW_RESTORE);
		msg_put_str(&m, jail);
		msg_put_u32(&m, (uint32_t)k);
		for (size_t i = 0; i < k; i++) {
			put_net(&m, &b[off + i].net);
			msg_put_u32(&m, put_secs(b[off + i].timeout));
			msg_put_u32(&m, put_secs(b[off + i].bantime));
		}
		int rc = send_wait(fd, &m);
		msg_free(&m);
		if (rc < 0)
			return -1;
	}
	return 0;
}

int fw_send_reply(int fd, uint16_t req, enum fw_status st, const char *jail, const char *text)
{
	struct msg m;
	msg_init(&m, MSG_FW_REPLY);
	msg_put_u32(&m, req);
	msg_put_u32(&m, (uint32_t)st);
	char j[FW_JAIL_MAX + 1], t[2048];
	str_copy(j, sizeof(j), jail ? jail : "");
	str_copy(t, sizeof(t), text ? text : "");
	msg_put_str(&m, j);
	msg_put_str(&m, t);
	int rc = send_wait(fd, &m);
	msg_free(&m);
	return rc;
}

/* s (at most max bytes of it) into b, a control character (a US above
 * all: the field separator; a newline of a command's stderr) as \xNN. */
static void put_field(struct buf *b, const char *s, size_t max)
{
	for (size_t i = 0; s[i] && i < max; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			buf_printf(b, "\\x%02x", c);
		else
			buf_append(b, s + i, 1);
	}
	buf_append(b, "\x1f", 1);
}

int fw_send_actlog(int fd, const char *jail, const char *action, const char *level,
    const char *logger, const char *summary, const char *text)
{
	struct msg m;
	struct buf f;
	char j[FW_JAIL_MAX + 1], *t = xmalloc(FW_ACTLOG_MAX + 1);
	str_copy(j, sizeof(j), jail);
	/* action, level, logger, summary, message: US-separated, bounded;
	 * the first four cannot hold a US (the message, last, may) */
	buf_init(&f, 4 * 1024 + 4 * 1024 * 4);
	put_field(&f, action, 1024);
	put_field(&f, level, 1024);
	put_field(&f, logger, 1024);
	put_field(&f, summary, 1024);
	snprintf(t, FW_ACTLOG_MAX + 1, "%.*s%s", (int)f.len, f.data, text);
	buf_free(&f);
	msg_init(&m, MSG_FW_REPLY);
	msg_put_u32(&m, FW_REQ_ACTLOG);
	msg_put_u32(&m, FW_FAILED);
	msg_put_str(&m, j);
	msg_put_str(&m, t);
	int rc = send_wait(fd, &m);
	msg_free(&m);
	free(t);
	return rc;
}

static const char *get_bounded(struct msg *m, size_t max)
{
	const char *s = msg_get_str(m);
	if (strlen(s) > max)
		m->bad = 1;
	return s;
}

int fw_req_decode(struct msg *m, struct fw_req *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	r->type = m->type;
	r->jail = "";
	switch (m->type) {
	case MSG_FW_RELOAD:
		break;
	case MSG_FW_START:
	case MSG_FW_STOP:
		r->jail = get_bounded(m, FW_JAIL_MAX);
		break;
	case MSG_FW_BAN:
	case MSG_FW_UNBAN:
		r->jail = get_bounded(m, FW_JAIL_MAX);
		r->b = xcalloc(1, sizeof(*r->b));
		r->n = 1;
		get_net(m, &r->b->net);
		if (m->type == MSG_FW_BAN) {
			r->b->timeout = get_secs(msg_get_u32(m));
			r->b->bantime = get_secs(msg_get_u32(m));
			r->b->failures = get_secs(msg_get_u32(m));
			r->b->user = get_bounded(m, FW_USER_MAX);
			r->b->matches = get_bounded(m, FW_MATCH_MAX);
			r->b->addr = get_bounded(m, NET_STRLEN);
			if (r->b->addr && *r->b->addr == '\0')
				r->b->addr = NULL;
		}
		break;
	case MSG_FW_RESTORE: {
		r->jail = get_bounded(m, FW_JAIL_MAX);
		uint32_t n = msg_get_u32(m);
		if (m->bad || n == 0 || n > FW_BATCH_MAX) {
			snprintf(err, errlen, "restore of %u bans (1..%d)", n, FW_BATCH_MAX);
			return -1;
		}
		r->b = xcalloc(n, sizeof(*r->b));
		r->n = n;
		for (uint32_t i = 0; i < n && !m->bad; i++) {
			get_net(m, &r->b[i].net);
			r->b[i].timeout = get_secs(msg_get_u32(m));
			r->b[i].bantime = get_secs(msg_get_u32(m));
		}
		break;
	}
	default:
		snprintf(err, errlen, "unknown request type %u", (unsigned)m->type);
		return -1;
	}
	if (msg_end(m) < 0) {
		snprintf(err, errlen, "malformed %s request (%zu bytes)", fw_type_name(m->type),
		    m->b.len);
		return -1;
	}
	return 0;
}

void fw_req_free(struct fw_req *r)
{
	free(r->b);
	r->b = NULL;
	r->n = 0;
}

const char *fw_type_name(uint32_t type)
{
	switch (type) {
	case MSG_FW_START: return "start";
	case MSG_FW_STOP: return "stop";
	case MSG_FW_BAN: return "ban";
	case MSG_FW_UNBAN: return "unban";
	case MSG_FW_RESTORE: return "restore";
	case MSG_FW_RELOAD: return "reload";
	case MSG_FW_REPLY: return "reply";
	default: return "unknown";
	}
}
