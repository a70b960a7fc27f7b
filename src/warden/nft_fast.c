/*
 * nft_fast — the fast path of nft_ban() and nft_unban() for a few
 * networks: their set elements written straight over netlink with
 * libnftnl and libmnl, without libnftables. libnftables 1.0.x loads the
 * whole interval set into its cache for every element command (about
 * 0.8 s for one element added to a set of 100,000) and nft_set.c lists
 * the set to merge overlaps; here one ban is one small batch the kernel
 * checks itself.
 *
 * Encoding, as nft 1.0.6 writes an interval set's elements (`nft
 * --debug=netlink add element`, src/intervals.c set_to_intervals): the
 * network [lo, hi] is two elements, key lo with the timeout (none:
 * forever) and key hi + 1 with flag NFT_SET_ELEM_INTERVAL_END and no
 * timeout. nft also sends an interval-end element at key 0 when the set
 * is empty; it does not for a set that holds elements, nor do we (the
 * kernel's rbtree does not need it). hi = the top of the address space
 * has no hi + 1: left to libnftables.
 *
 * The batch (NFT_MSG_NEWSETELEM with NLM_F_CREATE | NLM_F_EXCL, or
 * NFT_MSG_DELSETELEM; one message per family) is atomic. The kernel
 * refuses an element equal to one present (EEXIST, with NLM_F_EXCL), one
 * overlapping one present or another of the batch (ENOTEMPTY), a delete
 * of an absent element (ENOENT), a missing set (ENOENT): on any error
 * nothing changed and the caller runs the general path (nft_set.c), which
 * merges, extends timeouts and removes what lies inside an unbanned
 * network. A deleted element equal to the network is all there was
 * inside it, since elements never overlap.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include "common/util.h"
#include "warden/nft_priv.h"

/* Per element: the two keys and their attributes (< 100 bytes). */
#define ELEM_ROOM 256
/* The kernel answers a batch of NFT_FAST_MAX elements at once. */
#define RECV_TIMEOUT_S 5

void nft_fast_stats(const struct nft *n, unsigned long *fast, unsigned long *fallback)
{
	*fast = n->fast;
	*fallback = n->fallback;
}

void nft_fast_close(struct nft *n)
{
	if (n->nl != NULL)
		mnl_socket_close(n->nl);
	n->nl = NULL;
}

static int fast_open(struct nft *n)
{
	struct timeval tv = { .tv_sec = RECV_TIMEOUT_S };

	if (n->nl != NULL)
		return 0;
	n->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);	/* not for action commands */
	if (n->nl == NULL)
		return -1;
	if (mnl_socket_bind(n->nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    setsockopt(mnl_socket_get_fd(n->nl), SOL_SOCKET, SO_RCVTIMEO, &tv,
	    sizeof(tv)) < 0) {
		nft_fast_close(n);
		return -1;
	}
	n->nl_portid = mnl_socket_get_portid(n->nl);
	return 0;
}

/* Add the two elements of network w (with ms of timeout, -1 forever) to s;
 * -1 if w reaches the top of the address space. */
static int add_elems(struct nftnl_set *s, const struct waddr *w, long long ms)
{
	int bytes = w->family == AF_INET ? 4 : 16, carry = 1;
	struct nft_iv iv;
	struct nftnl_set_elem *e;

	nft_iv_from_net(w, &iv);
	unsigned char *end = iv.hi;
	for (int i = bytes - 1; i >= 0 && carry; i--) {	/* hi + 1 */
		end[i] = (unsigned char)(end[i] + 1);
		carry = end[i] == 0;
	}
	if (carry)
		return -1;
	if ((e = nftnl_set_elem_alloc()) == NULL)
		return -1;
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, iv.lo, (uint32_t)bytes);
	if (ms >= 0)
		nftnl_set_elem_set_u64(e, NFTNL_SET_ELEM_TIMEOUT, (uint64_t)ms);
	nftnl_set_elem_add(s, e);
	if ((e = nftnl_set_elem_alloc()) == NULL)
		return -1;
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, end, (uint32_t)bytes);
	nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
	nftnl_set_elem_add(s, e);
	return 0;
}

/*
 * Read the kernel's answers to the batch sent with sequence numbers
 * seq0 (batch begin) to seq0 + nmsg + 1 (batch end): an acknowledgement of
 * each of the nmsg messages between (all sent with NLM_F_ACK), or an error
 * (naming the failing message, or the batch header when the batch as a
 * whole failed). 0 if all nmsg were acknowledged, -1 at the first error.
 */
static int read_acks(struct nft *n, uint32_t seq0, unsigned nmsg)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	unsigned acked = 0;

	while (acked < nmsg) {
		ssize_t len = mnl_socket_recvfrom(n->nl, buf, sizeof(buf));
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
		int left = (int)len;

		if (len <= 0)
			return -1;
		for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
			const struct nlmsgerr *e;
			if (nlh->nlmsg_pid != n->nl_portid || nlh->nlmsg_seq - seq0 > nmsg + 1 ||
			    nlh->nlmsg_type != NLMSG_ERROR)
				continue;	/* not an answer to this batch */
			e = mnl_nlmsg_get_payload(nlh);
			if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e)) || e->error != 0)
				return -1;
			acked++;
		}
	}
	return 0;
}

int nft_fast_change(struct nft *n, const char *id, const struct nft_ban *b, size_t nb,
    int unban)
{
	static const int fams[2] = { AF_INET, AF_INET6 };
	struct nftnl_set *sets[2] = { NULL, NULL };
	size_t cap = 3 * MNL_NLMSG_HDRLEN + 2 * (512 + NFT_IDENT_MAX) + nb * ELEM_ROOM;
	char *buf = NULL, name[NFT_IDENT_MAX + 4];
	size_t off = 0;
	unsigned nmsg = 0;
	uint32_t seq0;
	int rc = -1;

	if (nb == 0 || nb > NFT_FAST_MAX || fast_open(n) < 0)
		return -1;
	for (int f = 0; f < 2; f++) {
		for (size_t i = 0; i < nb; i++) {
			if (b[i].net.family != fams[f])
				continue;
			if (sets[f] == NULL) {
				if ((sets[f] = nftnl_set_alloc()) == NULL)
					goto out;
				snprintf(name, sizeof(name), "%s_v%d", id, f == 0 ? 4 : 6);
				nftnl_set_set_str(sets[f], NFTNL_SET_TABLE, n->table);
				nftnl_set_set_str(sets[f], NFTNL_SET_NAME, name);
				nftnl_set_set_u32(sets[f], NFTNL_SET_FAMILY, NFPROTO_INET);
			}
			long long ms = unban ? -1 : nft_timeout_ms(b[i].timeout);
			if (add_elems(sets[f], &b[i].net, ms) < 0)
				goto out;
		}
	}
	buf = xcalloc(1, cap);
	seq0 = ++n->nl_seq;
	nftnl_batch_begin(buf, seq0);
	off += NLMSG_ALIGN(((struct nlmsghdr *)buf)->nlmsg_len);
	for (int f = 0; f < 2; f++) {
		struct nlmsghdr *nlh;
		if (sets[f] == NULL)
			continue;
		nlh = nftnl_nlmsg_build_hdr(buf + off,
		    unban ? NFT_MSG_DELSETELEM : NFT_MSG_NEWSETELEM, NFPROTO_INET,
		    (uint16_t)(unban ? NLM_F_ACK : NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK),
		    ++n->nl_seq);
		nftnl_set_elems_nlmsg_build_payload(nlh, sets[f]);
		off += NLMSG_ALIGN(nlh->nlmsg_len);
		nmsg++;
	}
	nftnl_batch_end(buf + off, ++n->nl_seq);
	off += NLMSG_ALIGN(((struct nlmsghdr *)(buf + off))->nlmsg_len);
	if (off > cap)		/* cannot happen with ELEM_ROOM; never send it */
		abort();
	if (mnl_socket_sendto(n->nl, buf, off) != (ssize_t)off)
		goto out;
	rc = read_acks(n, seq0, nmsg);
out:
	if (rc < 0)
		nft_fast_close(n);	/* no stale answer read as the next one's */
	free(buf);
	for (int f = 0; f < 2; f++)
		if (sets[f] != NULL)
			nftnl_set_free(sets[f]);
	return rc;
}
