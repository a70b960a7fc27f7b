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
	MSG_WARDEN_EVENT,	/* engine -> warden, one SOCK_DGRAM datagram on the
				 * event socketpair the master made (no path):
				 * u32 enum warden_event, str client address,
				 * str login name ("" if none), str the log line's
				 * text (for `mailwarden why`) */
	/* warden -> firewall (src/warden/fw_proto.h): the only requests the
	 * root firewall process acts on. NET is u32 family (4 or 6), four
	 * u32 holding the 16 address bytes, u32 prefix length. */
	MSG_FW_START,		/* str jail: actionstart / nft set-up */
	MSG_FW_STOP,		/* str jail: actionstop / nft teardown */
	MSG_FW_BAN,		/* str jail, NET, u32 seconds left (0 forever),
				 * u32 bantime (0xffffffff forever), u32 failures,
				 * str user, str matched text, str address
				 * inside NET ("" none: <ip> of command actions) */
	MSG_FW_UNBAN,		/* str jail, NET */
	MSG_FW_RESTORE,		/* str jail, u32 n, n x (NET, u32 left, u32 bantime) */
	MSG_FW_RELOAD,		/* (no fields) re-read the jails and actions */
	MSG_FW_REPLY,		/* firewall -> warden: u32 request type, u32 0 ok /
				 * 1 failed / 2 refused, str jail, str error text */
	/* qmgr <-> local delivery process (src/local), on the socketpair the
	 * master makes between them. A batch is: MSG_LOCAL_ITEM per mailbox
	 * copy, each with the queue file's fd (SCM_RIGHTS, msg_send_fd), then
	 * MSG_LOCAL_COMMIT; the local process answers MSG_LOCAL_RESULT for
	 * every item it got (parsable or not) and then MSG_LOCAL_DONE.
	 * Fixed numbers 16..19 (tests/integ/test_local.py speaks them). */
	MSG_LOCAL_ITEM = 16,	/* qmgr -> local: u32 item id, u32 enum local_kind,
				 * str user name (LOCAL_USER) or mailbox path
				 * relative to virtual_mailbox_base (LOCAL_VIRTUAL),
				 * str sender, str recipient, u64 body offset,
				 * u64 body length; + the queue file's fd */
	MSG_LOCAL_COMMIT,	/* qmgr -> local: make the batch durable, answer */
	MSG_LOCAL_RESULT,	/* local -> qmgr: u32 item id (UINT32_MAX when the
				 * item was too short to hold one), u32 1 ok / 0
				 * temporary failure, str reason or new/ file name */
	MSG_LOCAL_DONE,		/* local -> qmgr: u32 number of results sent */
	MSG_SANDBOX_VIOLATION = 24,	/* any child -> master, from its SIGSYS handler:
				 * u32 system call number, u32 audit arch */
};

/* MSG_LOCAL_ITEM kinds: who owns the mailbox is decided by the local
 * process itself (getpwnam, virtual_uid_maps), never by the qmgr. */
enum local_kind {
	LOCAL_USER = 1,		/* a passwd account: HOME/home_mailbox */
	LOCAL_VIRTUAL,		/* virtual_mailbox_base/PATH */
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
	WEV_RATE,		/* a smtpd_client_*_limit hit (anvil's count and rates) */
	WEV_SPF_FAIL,		/* SPF fail for the client's MAIL FROM (mode spf only) */
	WEV_DMARC_FAIL,		/* DMARC fail of a message's From domain (mode dmarc only) */
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
void msg_put_u64(struct msg *m, uint64_t v);
void msg_put_str(struct msg *m, const char *s);
/* Send as one datagram: 0, or -1 with errno (EAGAIN when the peer is busy). */
int msg_send(int fd, struct msg *m);
/* msg_send() with one descriptor attached (SCM_RIGHTS); pass_fd stays open. */
int msg_send_fd(int fd, struct msg *m, int pass_fd);
/* Receive one datagram: 1 got one, 0 peer closed, -1 errno (EAGAIN: none). */
int msg_recv(int fd, struct msg *m);
/* msg_recv() that also takes a descriptor: *fdp is the first one sent
 * (close-on-exec, the caller closes it) or -1; extra ones are closed, and
 * a truncated datagram or control part marks the message bad. */
int msg_recv_fd(int fd, struct msg *m, int *fdp);
uint32_t msg_get_u32(struct msg *m);
uint64_t msg_get_u64(struct msg *m);
/* A string field; points into the message, valid until msg_free(). */
const char *msg_get_str(struct msg *m);
/* 0 if every byte was read and nothing was bad; -1 otherwise. */
int msg_end(struct msg *m);
void msg_free(struct msg *m);
#endif
