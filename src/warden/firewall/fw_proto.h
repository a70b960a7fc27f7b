/*
 * fw_proto — the typed requests between the warden (unprivileged) and
 * the firewall process (root or CAP_NET_ADMIN), over the SOCK_SEQPACKET
 * socketpair the master makes for the pair. Message layouts are in
 * common/msg.h (MSG_FW_*). Decoding checks the shape only (every field
 * there, nothing left over, strings within their bounds); what a request
 * may ask is checked by the firewall (firewall.c).
 */
#ifndef MW_WARDEN_FW_PROTO_H
#define MW_WARDEN_FW_PROTO_H
#include <stddef.h>
#include <stdint.h>

#include "common/msg.h"
#include "warden/firewall/actions.h"

#define FW_JAIL_MAX 64		/* longest jail name on the wire */
#define FW_USER_MAX 512		/* longest <F-USER> */
#define FW_MATCH_MAX 8192	/* longest <matches> */
#define FW_BATCH_MAX 1024	/* bans in one MSG_FW_RESTORE */

enum fw_status { FW_OK = 0, FW_FAILED = 1, FW_REFUSED = 2 };

/* The request type of a MSG_FW_REPLY that carries one line of a command
 * action's fail2ban log (fw_send_actlog), not an answer. */
#define FW_REQ_ACTLOG 0xac71
#define FW_ACTLOG_MAX 8192	/* longest such line */

/* One decoded request; pointers into the message (valid until msg_free). */
struct fw_req {
	uint16_t type;
	const char *jail;
	struct action_ban *b;	/* xmalloc'ed: 1 for BAN/UNBAN, n for RESTORE */
	size_t n;
};

/* Send a request carrying only a jail name (START, STOP) or none (RELOAD). */
int fw_send_jail(int fd, uint16_t type, const char *jail);
/* Send MSG_FW_BAN or MSG_FW_UNBAN of b in jail. */
int fw_send_ban(int fd, uint16_t type, const char *jail, const struct action_ban *b);
/* Send MSG_FW_RESTORE of n bans, split in batches of FW_BATCH_MAX. */
int fw_send_restore(int fd, const char *jail, const struct action_ban *b, size_t n);
/* Send MSG_FW_REPLY. */
int fw_send_reply(int fd, uint16_t req, enum fw_status st, const char *jail, const char *text);
/* Send one line of action's log for jail (FW_REQ_ACTLOG): level, logger,
 * summary ("" unless the line ends a failed command), the message; the
 * control characters of the first four (US, the separator) go as \xNN. */
int fw_send_actlog(int fd, const char *jail, const char *action, const char *level,
    const char *logger, const char *summary, const char *text);
/* Decode a request; -1 and err when it is malformed (fw_req_free either way). */
int fw_req_decode(struct msg *m, struct fw_req *r, char *err, size_t errlen);
void fw_req_free(struct fw_req *r);
/* Name of a request type for logs ("ban", "unban", ...; "unknown"). */
const char *fw_type_name(uint32_t type);

/* ---- the warden's side (fw_client.c) ---- */

/* Serve answers from the firewall on fd (the warden's end). */
void fwc_init(int fd);
/* MSG_FW_START of jail, waiting for the answer: 0, or -1 and err. */
int fwc_start(const char *jail, char *err, size_t errlen);
/* MSG_FW_STOP of jail. */
void fwc_stop(const char *jail);
/* MSG_FW_RELOAD: the firewall reads the config again. */
void fwc_reload(void);
/* Commands of action (fail2ban's action name) of jail that failed so far,
 * as the firewall reported them; *last the last one's summary or NULL. */
unsigned long fwc_action_errors(const char *jail, const char *action, const char **last);
struct buf;
/* `,"actions":[{"name":..,"errors":N,"last_error":..|null}]` of jail j
 * for status --json. */
void fwc_status_json(const struct jail *j, struct buf *o);
/* Ban (one MSG_FW_BAN each, MSG_FW_RESTORE for a batch) or unban b[0..n). */
void fwc_act(const char *jail, int ban, const struct action_ban *b, size_t n);
#endif
