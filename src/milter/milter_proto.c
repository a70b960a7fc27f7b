/*
 * milter_proto — the milter wire format: packets are a 4-byte length in
 * network order (counting the command byte), one command byte, and data;
 * strings end in NUL, numbers are 32-bit big-endian. Builders for what
 * we send and bounded getters for what a milter answers (never trusted).
 */
#include <arpa/inet.h>
#include <string.h>

#include "milter/milter_int.h"

void milter_pkt_begin(struct buf *b, char cmd, size_t *start)
{
	static const char zero[4];
	*start = b->len;
	buf_append(b, zero, 4);
	buf_append(b, &cmd, 1);
}

void milter_pkt_u32(struct buf *b, uint32_t v)
{
	uint32_t n = htonl(v);
	buf_append(b, &n, 4);
}

void milter_pkt_u16(struct buf *b, uint16_t v)
{
	uint16_t n = htons(v);
	buf_append(b, &n, 2);
}

void milter_pkt_str(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s) + 1);
}

void milter_pkt_bytes(struct buf *b, const void *p, size_t n)
{
	buf_append(b, p, n);
}

void milter_pkt_end(struct buf *b, size_t start)
{
	uint32_t n = htonl((uint32_t)(b->len - start - 4));
	if (b->len >= start + 5)
		memcpy(b->data + start, &n, 4);
}

int milter_pkt_parse(const char *in, size_t len, struct milter_pkt *pkt, size_t *used)
{
	uint32_t n;
	if (len < 4)
		return 0;
	memcpy(&n, in, 4);
	n = ntohl(n);
	if (n < 1 || n > MILTER_PKT_MAX)
		return -1;
	if (len < 4 + (size_t)n)
		return 0;
	pkt->cmd = in[4];
	pkt->data = in + 5;
	pkt->len = n - 1;
	pkt->off = 0;
	*used = 4 + (size_t)n;
	return 1;
}

int milter_pkt_get_u32(struct milter_pkt *p, uint32_t *v)
{
	if (p->len - p->off < 4)
		return -1;
	memcpy(v, p->data + p->off, 4);
	*v = ntohl(*v);
	p->off += 4;
	return 0;
}

int milter_pkt_get_str(struct milter_pkt *p, const char **s)
{
	const char *nul = memchr(p->data + p->off, '\0', p->len - p->off);
	if (nul == NULL)
		return -1;
	*s = p->data + p->off;
	p->off = (size_t)(nul - p->data) + 1;
	return 0;
}

static const struct {
	char cmd;
	const char *name;
} cmd_names[] = {
	{ SMFIC_ABORT, "SMFIC_ABORT" }, { SMFIC_BODY, "SMFIC_BODY" },
	{ SMFIC_CONNECT, "SMFIC_CONNECT" }, { SMFIC_BODYEOB, "SMFIC_BODYEOB" },
	{ SMFIC_HELO, "SMFIC_HELO" }, { SMFIC_HEADER, "SMFIC_HEADER" },
	{ SMFIC_MAIL, "SMFIC_MAIL" }, { SMFIC_EOH, "SMFIC_EOH" },
	{ SMFIC_OPTNEG, "SMFIC_OPTNEG" }, { SMFIC_QUIT, "SMFIC_QUIT" },
	{ SMFIC_RCPT, "SMFIC_RCPT" }, { SMFIC_DATA, "SMFIC_DATA" },
};

const char *milter_cmd_name(char cmd)
{
	for (size_t i = 0; i < sizeof(cmd_names) / sizeof(cmd_names[0]); i++)
		if (cmd_names[i].cmd == cmd)
			return cmd_names[i].name;
	return "SMFIC_UNKNOWN";
}
