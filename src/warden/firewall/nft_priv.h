/*
 * nft_priv — what nft.c (context, table, rules) and nft_set.c (set
 * elements) share. Not for use outside src/warden/nft*.c.
 */
#ifndef MW_WARDEN_NFT_PRIV_H
#define MW_WARDEN_NFT_PRIV_H
#include <stddef.h>

#include <nftables/libnftables.h>

#include "common/buf.h"
#include "warden/firewall/nft.h"

/* Largest generated command: about 60 bytes a ban, so ~4 million bans. */
#define NFT_CMD_MAX (256u << 20)

struct mnl_socket;

struct nft {
	struct nft_ctx *ctx;
	char table[NFT_JAIL_MAX + 1];
	struct buf cmd;		/* the transaction being built */
	struct mnl_socket *nl;	/* nft_fast.c's netlink socket, opened on first use */
	unsigned nl_portid, nl_seq;
	unsigned long fast, fallback;	/* nft_fast_stats() */
	unsigned long reban;	/* of fast: re-bans (nft_fast_reban) */
};

/* Most bans or unbans in one call that nft_fast_change() is tried on;
 * bigger batches (a restore) go to libnftables in one transaction. */
#define NFT_FAST_MAX 64

/* A network as the interval [lo, hi] it covers; IPv4 uses 4 bytes. */
struct nft_iv {
	unsigned char lo[16], hi[16];
	long long ms;		/* time left in ms, -1 forever */
	int old;		/* listed from the kernel's set */
};
/* w's interval (ms and old zero). */
void nft_iv_from_net(const struct net *w, struct nft_iv *iv);
/* A ban's timeout in seconds as an element timeout in ms: capped at
 * NFT_TIMEOUT_MAX, -1 (forever) for 0 or less. */
long long nft_timeout_ms(long t);

/* snprintf into err (if not NULL). */
void nft_seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Run cmd as one transaction with output flags; *out (if asked) is the
 * output until the next run; -1 and "what: <libnftables error>" in err. */
int nft_run(struct nft *n, const char *cmd, unsigned flags, const char **out,
    const char *what, char *err, size_t errlen);
/* nft_run() of n->cmd, which is emptied. */
int nft_run_cmd(struct nft *n, const char *what, char *err, size_t errlen);
/* nft_jail_ident() into id[NFT_IDENT_MAX], or -1 and a message. */
int nft_ident(const char *jail, char *id, char *err, size_t errlen);
/*
 * nft_fast.c: add (or with unban, delete) exactly the elements of the nb
 * networks in the sets "<id>_v4|6", straight over netlink in one batch
 * with NLM_F_EXCL, as nft encodes interval elements. 0 if the kernel took
 * the whole batch; -1 on any error or refusal (overlap, already present,
 * absent, no set, top of the address space), and then nothing changed
 * and the caller falls back to libnftables. nb <= NFT_FAST_MAX, networks
 * checked by the caller.
 */
int nft_fast_change(struct nft *n, const char *id, const struct nft_ban *b, size_t nb,
    int unban);
/*
 * nft_fast.c: look the nb networks up (one GETSETELEM each). When each is
 * exactly an element, re-ban them: an element with less time left than
 * b[i].timeout (less slack_ms) is deleted and added back with it in one
 * atomic batch, one with as long or forever is kept; returns how many
 * were rewritten. -2 if no element holds any of them (new: the caller
 * tries nft_fast_change, without a batch the kernel would refuse and
 * abort, which costs a synchronize_rcu); -1 otherwise (overlaps, new and
 * present mixed, errors: nothing changed, the general path decides).
 */
int nft_fast_reban(struct nft *n, const char *id, const struct nft_ban *b, size_t nb,
    long long slack_ms);
/* Close the socket of nft_fast_change(), if open. */
void nft_fast_close(struct nft *n);
#endif
