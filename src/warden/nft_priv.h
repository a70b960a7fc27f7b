/*
 * nft_priv — what nft.c (context, table, rules) and nft_set.c (set
 * elements) share. Not for use outside src/warden/nft*.c.
 */
#ifndef MW_WARDEN_NFT_PRIV_H
#define MW_WARDEN_NFT_PRIV_H
#include <stddef.h>

#include <nftables/libnftables.h>

#include "common/buf.h"
#include "warden/nft.h"

/* Largest generated command: about 60 bytes a ban, so ~4 million bans. */
#define NFT_CMD_MAX (256u << 20)

struct nft {
	struct nft_ctx *ctx;
	char table[NFT_JAIL_MAX + 1];
	struct buf cmd;		/* the transaction being built */
};

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
#endif
