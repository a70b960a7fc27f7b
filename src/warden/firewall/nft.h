/*
 * nft — the built-in `nft` ban action: the warden's firewall back end,
 * driven in-process through libnftables. One table (`inet mailwarden` by
 * default) holds, per jail, two sets `<jail>_v4` and `<jail>_v6` (flags
 * interval,timeout: a ban is an element and the kernel expires it) and two
 * rules in the base chain `input` that drop or reject what the sets hold.
 * Used by the warden's action code and by `mailwarden banned`; see
 * docs/nft.md for the ruleset, the jail name mapping and the merge rules.
 */
#ifndef MW_WARDEN_NFT_H
#define MW_WARDEN_NFT_H
#include <stddef.h>

#include "warden/jail.h"	/* struct net */

struct nft;

/* One ban: a network and the seconds it has left (0 or negative: forever). */
struct nft_ban {
	struct net net;
	long timeout;
};

/* Longest jail name accepted (bytes, without the NUL). */
#define NFT_JAIL_MAX 64
/* Longest nft identifier nft_jail_ident() writes, with the NUL. */
#define NFT_IDENT_MAX (1 + 3 * NFT_JAIL_MAX + 1)
/* Longest timeout given to the kernel; longer bans are cut to this. */
#define NFT_TIMEOUT_MAX (3650L * 86400)

/* Open a libnftables context for table `inet <table>` (NULL: "mailwarden").
 * NULL and a message if the name is not a plain nft identifier. */
struct nft *nft_open(const char *table, char *err, size_t errlen);
/* Free the context; the kernel's table stays. */
void nft_close(struct nft *n);
/* The nft identifier used for jail's sets and rule comments ("sshd",
 * ".3proxy", ".a_20b"); -1 if the name is empty or too long. */
int nft_jail_ident(const char *jail, char *out, size_t len);
/*
 * Create the table, chain, the jail's sets and rules if missing. Idempotent
 * and keeps the sets' elements; the jail's rules are replaced only when
 * port, protocol or blocktype changed. port is fail2ban's syntax
 * ("smtp,465,submission", "1000:2000", "0:65535" or NULL: all ports);
 * protocol tcp, udp, sctp, dccp or all (NULL: tcp); blocktype drop, reject
 * or "reject with ..." (NULL: drop).
 */
int nft_jail_setup(struct nft *n, const char *jail, const char *port,
    const char *protocol, const char *blocktype, char *err, size_t errlen);
/* Remove the jail's rules and sets (actionstop); 0 if they are gone already. */
int nft_jail_teardown(struct nft *n, const char *jail, char *err, size_t errlen);
/*
 * Ban nb networks in one transaction. Overlapping networks (in the batch
 * or already in the set) are merged: the widest one is kept with the
 * longest timeout, so a ban never shortens or narrows a ban already there.
 * Returns the number of elements written (0 if all were present already).
 */
int nft_ban(struct nft *n, const char *jail, const struct nft_ban *b, size_t nb,
    char *err, size_t errlen);
/* Remove the elements equal to or inside the given networks, in one
 * transaction; absent ones are no error. Returns the number removed. */
int nft_unban(struct nft *n, const char *jail, const struct net *nets, size_t nn,
    char *err, size_t errlen);
/* Remove every element of the jail's sets (unban --all). */
int nft_flush(struct nft *n, const char *jail, char *err, size_t errlen);
/* 1 if exactly net is an element of the jail's set, 0 if not, -1 on error. */
int nft_contains(struct nft *n, const char *jail, const struct net *net);
/* Number of elements in the jail's two sets, -1 on error. */
long nft_count(struct nft *n, const char *jail, char *err, size_t errlen);
/* How many nft_ban/nft_unban calls took the netlink fast path (a few
 * networks new to the set, or unbans of elements present as such) and how
 * many fell back from it to the general path, since nft_open. */
void nft_fast_stats(const struct nft *n, unsigned long *fast, unsigned long *fallback);
/* Of the fast ones, how many were re-bans of networks present as elements
 * (timeout extended, or kept when as long already). */
unsigned long nft_reban_count(const struct nft *n);
/* Drop the whole table (tests, uninstall); 0 if it does not exist. */
int nft_destroy(struct nft *n, char *err, size_t errlen);
#endif
