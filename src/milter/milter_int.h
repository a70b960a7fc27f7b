/*
 * milter_int — the wire protocol's constants (libmilter's mfdef.h names
 * and values) and the packet codec of milter_proto.c, for the files of
 * src/milter/ and its unit test.
 */
#ifndef MW_MILTER_INT_H
#define MW_MILTER_INT_H
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/loop.h"
#include "milter/milter.h"

/* Commands, MTA to milter (SMFIC_*). */
#define SMFIC_ABORT	'A'
#define SMFIC_BODY	'B'
#define SMFIC_CONNECT	'C'
#define SMFIC_MACRO	'D'
#define SMFIC_BODYEOB	'E'
#define SMFIC_HELO	'H'
#define SMFIC_QUIT_NC	'K'
#define SMFIC_HEADER	'L'
#define SMFIC_MAIL	'M'
#define SMFIC_EOH	'N'
#define SMFIC_OPTNEG	'O'
#define SMFIC_QUIT	'Q'
#define SMFIC_RCPT	'R'
#define SMFIC_DATA	'T'
#define SMFIC_UNKNOWN	'U'

/* Replies, milter to MTA (SMFIR_*). */
#define SMFIR_ADDRCPT	'+'
#define SMFIR_DELRCPT	'-'
#define SMFIR_ADDRCPT_PAR '2'
#define SMFIR_SHUTDOWN	'4'
#define SMFIR_ACCEPT	'a'
#define SMFIR_REPLBODY	'b'
#define SMFIR_CONTINUE	'c'
#define SMFIR_DISCARD	'd'
#define SMFIR_CHGFROM	'e'
#define SMFIR_CONN_FAIL	'f'
#define SMFIR_ADDHEADER	'h'
#define SMFIR_INSHEADER	'i'
#define SMFIR_SETSYMLIST 'l'
#define SMFIR_CHGHEADER	'm'
#define SMFIR_PROGRESS	'p'
#define SMFIR_QUARANTINE 'q'
#define SMFIR_REJECT	'r'
#define SMFIR_SKIP	's'
#define SMFIR_TEMPFAIL	't'
#define SMFIR_REPLYCODE	'y'

/* Actions a milter may take (SMFIF_*), offered in OPTNEG. */
#define SMFIF_ADDHDRS	0x01
#define SMFIF_CHGBODY	0x02
#define SMFIF_ADDRCPT	0x04
#define SMFIF_DELRCPT	0x08
#define SMFIF_CHGHDRS	0x10
#define SMFIF_QUARANTINE 0x20
#define SMFIF_CHGFROM	0x40
#define SMFIF_ADDRCPT_PAR 0x80
#define SMFIF_SETSYMLIST 0x100
#define SMFIF_ALL	0x1ff

/* Protocol flags (SMFIP_*): stages to skip, replies not sent. */
#define SMFIP_NOCONNECT	0x01
#define SMFIP_NOHELO	0x02
#define SMFIP_NOMAIL	0x04
#define SMFIP_NORCPT	0x08
#define SMFIP_NOBODY	0x10
#define SMFIP_NOHDRS	0x20
#define SMFIP_NOEOH	0x40
#define SMFIP_NR_HDR	0x80
#define SMFIP_NOUNKNOWN	0x100
#define SMFIP_NODATA	0x200
#define SMFIP_SKIP	0x400
#define SMFIP_RCPT_REJ	0x800
#define SMFIP_NR_CONN	0x1000
#define SMFIP_NR_HELO	0x2000
#define SMFIP_NR_MAIL	0x4000
#define SMFIP_NR_RCPT	0x8000
#define SMFIP_NR_DATA	0x10000
#define SMFIP_NR_UNKN	0x20000
#define SMFIP_NR_EOH	0x40000
#define SMFIP_NR_BODY	0x80000
#define SMFIP_HDR_LEADSPC 0x100000

/* Connect families. */
#define SMFIA_UNKNOWN	'U'
#define SMFIA_UNIX	'L'
#define SMFIA_INET	'4'
#define SMFIA_INET6	'6'

#define MILTER_CHUNK	65535		/* body chunk, as libmilter's MILTER_CHUNK_SIZE */
#define MILTER_PKT_MAX	(2 * 1024 * 1024)	/* longest reply packet we read */
#define MILTER_OUT_HIGH	(4 * MILTER_CHUNK)	/* queued no-reply packets: wait for the socket */

/* A packet being built: the 4-byte length is filled in by milter_pkt_end. */
void milter_pkt_begin(struct buf *b, char cmd, size_t *start);
void milter_pkt_u32(struct buf *b, uint32_t v);
void milter_pkt_u16(struct buf *b, uint16_t v);
void milter_pkt_str(struct buf *b, const char *s);	/* with its NUL */
void milter_pkt_bytes(struct buf *b, const void *p, size_t n);
void milter_pkt_end(struct buf *b, size_t start);

/* A received packet: command byte and data. */
struct milter_pkt {
	char cmd;
	const char *data;
	size_t len;
	size_t off;		/* read position for the getters */
};
/* One whole packet at the front of in: 1 (pkt set, *used its size), 0 need
 * more bytes, -1 bad length. */
int milter_pkt_parse(const char *in, size_t len, struct milter_pkt *pkt, size_t *used);
/* Getters: 0, or -1 past the end / no NUL. */
int milter_pkt_get_u32(struct milter_pkt *p, uint32_t *v);
int milter_pkt_get_str(struct milter_pkt *p, const char **s);
/* Where a message's header section ends (hdr_end: the empty line or the
 * first line that is no header) and its body starts (body: after the
 * empty line). LF line endings, as the queue file keeps them. */
void milter_split(const char *msg, size_t len, size_t *hdr_end, size_t *body);
/* The header at msg + *off (before end): name and value (its leading
 * white space kept only if leadspc), *off past it; a last line without
 * its newline ends at end. 0, or -1 at the end of the header section. */
int milter_header_next(const char *msg, size_t *off, size_t end, int leadspc,
    struct buf *name, struct buf *val);
/* Name of a command or reply byte, for logs ("SMFIC_MAIL"). */
const char *milter_cmd_name(char cmd);

/* ---- a session's milters, shared by milter.c, milter_conn.c and
 * milter_reply.c ---- */

enum mc_state { MC_NEW, MC_WAITSLOT, MC_CONNECTING, MC_NEGOTIATE, MC_READY, MC_FAILED };
enum ev_kind { EV_NONE, EV_CONNECT, EV_HELO, EV_MAIL, EV_RCPT, EV_DATA, EV_UNKNOWN, EV_MSG };
enum cstep { CS_HDR, CS_EOH, CS_BODY, CS_EOM, CS_DONE };

/* One milter connection of a session. */
struct mconn {
	struct milter_sess *ms;
	const struct milter_spec *spec;
	int fd;
	enum mc_state st;
	uint32_t actions, pflags;
	uint32_t version;		/* the milter's, from its OPTNEG */
	char **mlist[MILTER_M_COUNT];	/* macro lists the milter asked for */
	int accepted;			/* 1: this transaction, 2: this session */
	int in_tx;			/* MAIL was sent: ABORT at the end */
	int waiting;			/* a reply is due */
	int sending;			/* no-reply packets queued: go on once written */
	struct buf out, in;
	struct loop_timer timer;
	struct mconn *wnext;		/* the wait list for a free slot */
	int handed;			/* MC_WAITSLOT: a slot is reserved, starts next turn */
};

/* A session's milters and the event in progress. */
struct milter_sess {
	const struct milter_list *l;
	const struct milter_params *p;
	milter_macro_fn *macro;
	milter_done_fn *done;
	void *arg;
	struct mconn *c;
	size_t n;
	enum ev_kind ev;
	size_t cur;			/* the milter being asked */
	int async;			/* the caller got MILTER_PENDING */
	char *a1, *a2;
	unsigned port;
	const char *msg;		/* EV_MSG: the message as the milter sees it */
	size_t msglen, hdr_end, body_start;
	const char *orig;		/* EV_MSG: the message, the caller's */
	size_t origlen;
	struct buf view;		/* orig with the earlier milters' changes */
	size_t view_edits;		/* res.nedits that view holds */
	int in_run;			/* ev_run is on the stack */
	enum cstep cstep;
	size_t coff;			/* next header or body byte */
	int discard;			/* DISCARD before the end of the message */
	const struct mconn *body_by;	/* whose SMFIR_REPLBODY res.body holds */
	struct milter_result res;
};

/* milter_conn.c: connections (connect, negotiate, write, read, close,
 * fail), within milter_connection_limit. */
void milter_conn_start(struct mconn *c);
void milter_conn_close(struct mconn *c);
/* Write what the socket takes now. 0, or -1 (c failed and is closed). */
int milter_conn_flush(struct mconn *c);
/* A reply is due within ms. */
void milter_conn_expect(struct mconn *c, long ms);
/* Packets that want no reply wait in c->out: the event goes on once they
 * are written, within ms. */
void milter_conn_sending(struct mconn *c, long ms);
/* Log, close, mark failed; the waiting event goes on with its default. */
void milter_conn_fail(struct mconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* milter_reply.c: one packet from the milter. 0 read on, 1 the event
 * moved on, -1 c failed. */
int milter_conn_reply(struct mconn *c, struct milter_pkt *pk);
/* milter.c: a reply came or a milter failed: go on with the event. */
void milter_ev_continue(struct milter_sess *ms);
/* The event's verdict is this SMTP reply, from c. */
void milter_set_reply(struct milter_sess *ms, const struct mconn *c, const char *reply);
#endif
