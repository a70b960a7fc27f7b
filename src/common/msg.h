/*
 * msg — small typed messages between mailwarden's processes, one message
 * per SOCK_SEQPACKET datagram on a socketpair made by the master:
 *   u16 type | u16 reserved | fields...
 * Fields are written with msg_put_*() and read back in the same order with
 * msg_get_*(); msg_end() fails on leftover bytes or on any short read, so a
 * malformed message is rejected whole (after OpenSMTPD's imsg codec).
 * The message kinds are all listed here; keep them few.
 */
#ifndef MW_MSG_H
#define MW_MSG_H
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define MSG_MAX 65536

enum msg_type {
	MSG_QUEUED = 1,		/* engine -> master -> qmgr: str queue ID in incoming/ */
	MSG_SCAN,		/* -> qmgr: scan incoming/ and deferred/ now */
	MSG_WARDEN_EVENT,	/* engine -> warden (datagram to private/warden):
				 * u32 enum warden_event, str client address,
				 * str login name ("" if none), str the log line's
				 * text (for `mailwarden why`) */
	MSG_SANDBOX_VIOLATION,	/* any child -> master, from its SIGSYS handler:
				 * u32 system call number, u32 audit arch */
};

/* What the smtp engine reports to the ban engine, one datagram each.
 * A jail with filter = mailwarden[mode=...] counts these. */
enum warden_event {
	WEV_AUTH_FAIL = 1,	/* SASL authentication failed (535) */
	WEV_AUTH_OK,		/* SASL login succeeded: clears, allows */
	WEV_RELAY_DENIED,	/* 454/554 Relay access denied */
	WEV_REJECT,		/* any other NOQUEUE reject (client, helo, sender, rcpt) */
	WEV_PREGREET,		/* talked before the greeting */
	WEV_PROTOCOL,		/* too many errors, unknown commands, bad syntax */
};

struct msg {
	uint16_t type;
	struct buf b;		/* the wire bytes, header included */
	size_t rpos;		/* read position */
	int bad;		/* a get ran past the end or found a bad field */
};

/* Start a message of the given type (for sending). */
void msg_init(struct msg *m, uint16_t type);
void msg_put_u32(struct msg *m, uint32_t v);
void msg_put_str(struct msg *m, const char *s);
/* Send as one datagram: 0, or -1 with errno (EAGAIN when the peer is busy). */
int msg_send(int fd, struct msg *m);
/* Receive one datagram: 1 got one, 0 peer closed, -1 errno (EAGAIN: none). */
int msg_recv(int fd, struct msg *m);
uint32_t msg_get_u32(struct msg *m);
/* A string field; points into the message, valid until msg_free(). */
const char *msg_get_str(struct msg *m);
/* 0 if every byte was read and nothing was bad; -1 otherwise. */
int msg_end(struct msg *m);
void msg_free(struct msg *m);
#endif
