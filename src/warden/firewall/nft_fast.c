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
 *
 * Re-ban (nft_fast_reban: a ban whose network is an element already, its
 * timeout extended by bantime.increment or a restart): one
 * NFT_MSG_GETSETELEM per network, for its last address, which the kernel
 * answers with the start of the interval holding it; when that start is
 * the network's first address the interval runs from there past the last
 * address, and the batch deletes its start and the end after the network
 * (ENOENT, nothing changed, unless the element is exactly the network)
 * and adds both back with the new timeout. An element with as much time
 * left (or forever) is left alone. A few netlink messages, whatever the
 * set's size, where the general path lists and rewrites the set.
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
#include "warden/firewall/nft_priv.h"

/* Per element: the two keys and their attributes (< 100 bytes). */
#define ELEM_ROOM 256
/* The kernel answers a batch of NFT_FAST_MAX elements at once. */
#define RECV_TIMEOUT_S 5

void nft_fast_stats(const struct nft *n, unsigned long *fast, unsigned long *fallback)
{
	*fast = n->fast;
	*fallback = n->fallback;
}

unsigned long nft_reban_count(const struct nft *n)
{
	return n->reban;
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
static int add_elems(struct nftnl_set *s, const struct net *w, long long ms)
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

/* A set object naming "<id>_v4|6" of n's table, without elements. */
static struct nftnl_set *set_new(const struct nft *n, const char *id, int v6)
{
	char name[NFT_IDENT_MAX + 4];
	struct nftnl_set *s = nftnl_set_alloc();

	if (s == NULL)
		return NULL;
	snprintf(name, sizeof(name), "%s_v%d", id, v6 ? 6 : 4);
	nftnl_set_set_str(s, NFTNL_SET_TABLE, n->table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	return s;
}

/* One batch of element messages: msg[i] of set[i] (NULL: skipped), each
 * NFT_MSG_NEWSETELEM (with NLM_F_CREATE | NLM_F_EXCL) or
 * NFT_MSG_DELSETELEM. 0 if the kernel took it all, -1 otherwise. */
static int send_batch(struct nft *n, struct nftnl_set *const *set, const int *msg, int k,
    size_t nelem)
{
	size_t cap = 3 * MNL_NLMSG_HDRLEN + (size_t)k * (512 + NFT_IDENT_MAX) +
	    nelem * ELEM_ROOM;
	char *buf = xcalloc(1, cap);
	size_t off = 0;
	unsigned nmsg = 0;
	uint32_t seq0 = ++n->nl_seq;
	int rc = -1;

	nftnl_batch_begin(buf, seq0);
	off += NLMSG_ALIGN(((struct nlmsghdr *)buf)->nlmsg_len);
	for (int i = 0; i < k; i++) {
		struct nlmsghdr *nlh;
		if (set[i] == NULL)
			continue;
		nlh = nftnl_nlmsg_build_hdr(buf + off, (uint16_t)msg[i], NFPROTO_INET,
		    (uint16_t)(msg[i] == NFT_MSG_DELSETELEM ? NLM_F_ACK :
		    NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK), ++n->nl_seq);
		nftnl_set_elems_nlmsg_build_payload(nlh, set[i]);
		off += NLMSG_ALIGN(nlh->nlmsg_len);
		nmsg++;
	}
	nftnl_batch_end(buf + off, ++n->nl_seq);
	off += NLMSG_ALIGN(((struct nlmsghdr *)(buf + off))->nlmsg_len);
	if (off > cap)		/* cannot happen with ELEM_ROOM; never send it */
		abort();
	if (mnl_socket_sendto(n->nl, buf, off) == (ssize_t)off)
		rc = read_acks(n, seq0, nmsg);
	free(buf);
	return rc;
}

int nft_fast_change(struct nft *n, const char *id, const struct nft_ban *b, size_t nb,
    int unban)
{
	static const int fams[2] = { AF_INET, AF_INET6 };
	struct nftnl_set *sets[2] = { NULL, NULL };
	int msg[2] = { unban ? NFT_MSG_DELSETELEM : NFT_MSG_NEWSETELEM,
	    unban ? NFT_MSG_DELSETELEM : NFT_MSG_NEWSETELEM };
	int rc = -1;

	if (nb == 0 || nb > NFT_FAST_MAX || fast_open(n) < 0)
		return -1;
	for (int f = 0; f < 2; f++) {
		for (size_t i = 0; i < nb; i++) {
			if (b[i].net.family != fams[f])
				continue;
			if (sets[f] == NULL && (sets[f] = set_new(n, id, f)) == NULL)
				goto out;
			long long ms = unban ? -1 : nft_timeout_ms(b[i].timeout);
			if (add_elems(sets[f], &b[i].net, ms) < 0)
				goto out;
		}
	}
	rc = send_batch(n, sets, msg, 2, 2 * nb);
out:
	if (rc < 0)
		nft_fast_close(n);	/* no stale answer read as the next one's */
	for (int f = 0; f < 2; f++)
		if (sets[f] != NULL)
			nftnl_set_free(sets[f]);
	return rc;
}

/*
 * The element holding the last address of w, asked of the kernel with
 * NFT_MSG_GETSETELEM (an interval set answers with the start element of
 * the interval holding it). 1 if it starts at w's first address, *ms its
 * time left (-1 forever); 0 if no element holds it; 2 if one starting
 * elsewhere does; -1 on error.
 */
static int get_start(struct nft *n, const char *id, const struct net *w, long long *ms)
{
	int bytes = w->family == AF_INET ? 4 : 16, found = 0, rc = -1, done = 0;
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nftnl_set *s = set_new(n, id, w->family == AF_INET6);
	struct nftnl_set_elem *e;
	struct nft_iv iv;
	uint32_t seq;

	if (s == NULL || (e = nftnl_set_elem_alloc()) == NULL) {
		if (s)
			nftnl_set_free(s);
		return -1;
	}
	nft_iv_from_net(w, &iv);
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, iv.hi, (uint32_t)bytes);
	nftnl_set_elem_add(s, e);
	seq = ++n->nl_seq;
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, NFPROTO_INET,
	    NLM_F_ACK, seq);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	if (mnl_socket_sendto(n->nl, buf, nlh->nlmsg_len) != (ssize_t)nlh->nlmsg_len)
		return -1;
	while (!done) {
		ssize_t len = mnl_socket_recvfrom(n->nl, buf, sizeof(buf));
		int left = (int)len;
		if (len <= 0)
			return -1;
		for (nlh = (struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, left);
		    nlh = mnl_nlmsg_next(nlh, &left)) {
			if (nlh->nlmsg_pid != n->nl_portid || nlh->nlmsg_seq != seq)
				continue;
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
				if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*err)))
					return -1;
				if (err->error == -ENOENT)
					rc = 0;
				else if (err->error == 0)
					rc = found;
				done = 1;
				break;
			}
			if ((nlh->nlmsg_type & 0xff) != NFT_MSG_NEWSETELEM)
				continue;
			struct nftnl_set *r = nftnl_set_alloc();
			struct nftnl_set_elems_iter *it;
			if (r == NULL)
				return -1;
			if (nftnl_set_elems_nlmsg_parse(nlh, r) == 0 &&
			    (it = nftnl_set_elems_iter_create(r)) != NULL) {
				struct nftnl_set_elem *x = nftnl_set_elems_iter_next(it);
				uint32_t klen = 0;
				const void *key = x ? nftnl_set_elem_get(x, NFTNL_SET_ELEM_KEY, &klen) : NULL;
				uint32_t fl = x && nftnl_set_elem_is_set(x, NFTNL_SET_ELEM_FLAGS) ?
				    nftnl_set_elem_get_u32(x, NFTNL_SET_ELEM_FLAGS) : 0;
				found = 2;
				if (key && klen == (uint32_t)bytes && memcmp(key, iv.lo, klen) == 0 &&
				    !(fl & NFT_SET_ELEM_INTERVAL_END)) {
					found = 1;
					*ms = nftnl_set_elem_is_set(x, NFTNL_SET_ELEM_TIMEOUT) ?
					    (long long)nftnl_set_elem_get_u64(x, NFTNL_SET_ELEM_EXPIRATION) : -1;
				}
				nftnl_set_elems_iter_destroy(it);
			}
			nftnl_set_free(r);
		}
	}
	return rc;
}

int nft_fast_reban(struct nft *n, const char *id, const struct nft_ban *b, size_t nb,
    long long slack_ms)
{
	struct nftnl_set *sets[4] = { NULL, NULL, NULL, NULL };	/* del v4 v6, new v4 v6 */
	static const int msg[4] = { NFT_MSG_DELSETELEM, NFT_MSG_DELSETELEM,
	    NFT_MSG_NEWSETELEM, NFT_MSG_NEWSETELEM };
	size_t todo = 0, absent = 0;
	int rc = -1;

	if (nb == 0 || nb > NFT_FAST_MAX || fast_open(n) < 0)
		return -1;
	for (size_t i = 0; i < nb; i++) {
		long long old = -1, want = nft_timeout_ms(b[i].timeout);
		int v6 = b[i].net.family == AF_INET6, g = get_start(n, id, &b[i].net, &old);
		if (g == 0 && ++absent == i + 1)
			continue;	/* none present so far: perhaps all new */
		if (g != 1 || absent > 0)
			goto out;	/* overlaps, or present and new mixed */
		if (old < 0 || (want >= 0 && old + slack_ms >= want))
			continue;	/* lasts long enough already: never shortened */
		if ((sets[v6] == NULL && (sets[v6] = set_new(n, id, v6)) == NULL) ||
		    (sets[2 + v6] == NULL && (sets[2 + v6] = set_new(n, id, v6)) == NULL) ||
		    add_elems(sets[v6], &b[i].net, -1) < 0 ||
		    add_elems(sets[2 + v6], &b[i].net, want) < 0)
			goto out;
		todo++;
	}
	/* the old interval's two elements deleted and the new ones added in
	 * one atomic batch: refused as a whole if the start and end found are
	 * not one element's (ENOENT), as the fast ban is */
	if (absent == nb) {
		rc = -2;
		goto out;
	}
	rc = todo ? send_batch(n, sets, msg, 4, 4 * todo) : 0;
	if (rc == 0)
		rc = (int)todo;
out:
	if (rc == -1)
		nft_fast_close(n);
	for (int k = 0; k < 4; k++)
		if (sets[k] != NULL)
			nftnl_set_free(sets[k]);
	return rc;
}
