/*
 * nft_set — the elements of a jail's two sets: ban, unban, flush, and
 * reading them back (contains, count). The sets have flags interval,timeout
 * and nft refuses an element that overlaps one already there, so each
 * batch is planned against the set's listed content: overlapping networks
 * become one element, the widest, with the longest time left.
 *
 * libnftables 1.0.x deletes interval elements slowly (about 1.4 s to delete
 * one element from a set of 100,000, and O(deleted x size)), so whenever a
 * batch has to remove something the set is rewritten instead: `flush set`
 * and `add element` with everything that stays, in the same transaction,
 * which the kernel applies atomically (about 1 s for 100,000 elements).
 *
 * All that costs about 0.8 s for one ban into a set of 100,000 (listing
 * the set, and libnftables loading it into its cache again). So a call
 * with at most NFT_FAST_MAX networks first tries nft_fast.c: a ban looks
 * its networks up (nft_fast_reban, one GETSETELEM each): each exactly an
 * element already, it is a re-ban (rewritten with the longer timeout, or
 * left alone); none held by an element, their exact elements are added
 * over netlink in one batch that the kernel refuses as a whole if one
 * overlaps or equals an element present (an unban deletes them so,
 * refused if one is absent); then, and only then, the planning below
 * runs.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/util.h"
#include "warden/firewall/nft_priv.h"

/* A ban already in the set with this much less time left is not re-added,
 * so a restart restoring its bans writes nothing. */
#define NFT_SLACK_MS 5000

static int fam_bytes(int fam)
{
	return fam == AF_INET ? 4 : 16;
}

void nft_iv_from_net(const struct net *w, struct nft_iv *iv)
{
	int bytes = fam_bytes(w->family);

	memset(iv, 0, sizeof(*iv));
	memcpy(iv->lo, w->a, (size_t)bytes);
	memcpy(iv->hi, w->a, (size_t)bytes);
	for (int bit = w->plen; bit < bytes * 8; bit++)
		iv->hi[bit / 8] |= (unsigned char)(0x80 >> (bit % 8));
}

long long nft_timeout_ms(long t)
{
	if (t > NFT_TIMEOUT_MAX)
		t = NFT_TIMEOUT_MAX;
	return t > 0 ? t * 1000LL : -1;
}

/* Writers for the batch text: a batch holds up to millions of elements and
 * glibc's inet_ntop() and printf() were a third of the time of a ban. */
static char *put_dec(char *p, unsigned long long v)
{
	char t[24];
	int i = 0;

	do
		t[i++] = (char)('0' + v % 10);
	while (v /= 10);
	while (i)
		*p++ = t[--i];
	return p;
}

/* An address as inet_ntop() writes it (RFC 5952 for IPv6, without the
 * dotted form for mapped addresses, which nft reads as well). */
static char *put_addr(char *p, int fam, const unsigned char *a)
{
	static const char hex[] = "0123456789abcdef";
	unsigned g[8];
	int best = -1, blen = 1;

	if (fam == AF_INET) {
		for (int i = 0; i < 4; i++) {
			p = put_dec(p, a[i]);
			if (i < 3)
				*p++ = '.';
		}
		return p;
	}
	for (int i = 0; i < 8; i++)
		g[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
	for (int i = 0; i < 8;) {	/* the longest run of 2+ zero groups */
		int j = i;
		while (j < 8 && g[j] == 0)
			j++;
		if (j - i > blen)
			best = i, blen = j - i;
		i = j > i ? j : i + 1;
	}
	for (int i = 0; i < 8; i++) {
		if (i == best) {
			*p++ = ':';
			if (i == 0)
				*p++ = ':';
			i += blen - 1;
			continue;
		}
		int started = 0;
		for (int sh = 12; sh >= 0; sh -= 4) {
			unsigned d = (g[i] >> sh) & 15;
			if (d || started || sh == 0)
				*p++ = hex[d], started = 1;
		}
		if (i < 7)
			*p++ = ':';
	}
	return p;
}

/* "lo/len" when the interval is a prefix (always, for what we add), else
 * "lo-hi"; buf holds at least NFT_ELEM_MAX bytes. Returns the end. */
#define NFT_ELEM_MAX 160
static char *put_iv(char *p, int fam, const struct nft_iv *iv)
{
	int bits = fam_bytes(fam) * 8, plen = 0, ok = 1;

	while (plen < bits && !((iv->lo[plen / 8] ^ iv->hi[plen / 8]) & (0x80 >> (plen % 8))))
		plen++;
	for (int bit = plen; bit < bits; bit++) {
		int m = 0x80 >> (bit % 8);
		if ((iv->lo[bit / 8] & m) || !(iv->hi[bit / 8] & m))
			ok = 0;
	}
	p = put_addr(p, fam, iv->lo);
	if (!ok) {
		*p++ = '-';
		p = put_addr(p, fam, iv->hi);
	} else if (plen < bits) {
		*p++ = '/';
		p = put_dec(p, (unsigned)plen);
	}
	return p;
}

/* nft's "6d23h59m59s988ms" in ms; -1 if malformed. */
static long long parse_duration(const char *s, size_t len)
{
	long long total = 0;
	size_t i = 0;

	while (i < len) {
		long long v = 0, unit;
		if (!isdigit((unsigned char)s[i]))
			return -1;
		while (i < len && isdigit((unsigned char)s[i]))
			v = v * 10 + (s[i++] - '0');
		if (i + 1 < len && s[i] == 'm' && s[i + 1] == 's')
			unit = 1, i += 2;
		else if (i < len && s[i] == 'd')
			unit = 86400000, i++;
		else if (i < len && s[i] == 'h')
			unit = 3600000, i++;
		else if (i < len && s[i] == 'm')
			unit = 60000, i++;
		else if (i < len && s[i] == 's')
			unit = 1000, i++;
		else
			return -1;
		total += v * unit;
	}
	return total;
}

/* One listed element: "addr", "addr/len" or "lo-hi". */
static int parse_elem_addr(int fam, const char *s, size_t len, struct nft_iv *iv)
{
	char txt[2 * INET6_ADDRSTRLEN + 8], *slash, *dash;
	struct net w = { .family = fam };

	if (len >= sizeof(txt))
		return -1;
	memcpy(txt, s, len);
	txt[len] = '\0';
	slash = strchr(txt, '/');
	dash = strchr(txt, '-');
	if (dash) {
		*dash = '\0';
		memset(iv, 0, sizeof(*iv));
		if (inet_pton(fam, txt, iv->lo) != 1 || inet_pton(fam, dash + 1, iv->hi) != 1)
			return -1;
		return 0;
	}
	w.plen = fam_bytes(fam) * 8;
	if (slash) {
		*slash = '\0';
		w.plen = atoi(slash + 1);
	}
	if (inet_pton(fam, txt, w.a) != 1 || w.plen < 0 || w.plen > fam_bytes(fam) * 8)
		return -1;
	net_mask(&w, w.plen);
	nft_iv_from_net(&w, iv);
	return 0;
}

/* Append the set's elements from a `list set` output to *v. */
static int parse_elements(int fam, const char *out, struct nft_iv **v, size_t *nv,
    size_t *cap)
{
	const char *p = strstr(out, "elements = {");

	if (p == NULL)
		return 0;	/* empty set */
	p += 12;
	for (;;) {
		struct nft_iv iv;
		long long timeout = -1, expires = -1;
		size_t l;

		p += strspn(p, " \t\n,");
		if (*p == '}' || *p == '\0')
			break;
		l = strcspn(p, " \t\n,}");
		if (parse_elem_addr(fam, p, l, &iv) < 0)
			return -1;
		p += l;
		/* attributes up to the next ',' or '}', quoted strings skipped */
		while (*p && *p != ',' && *p != '}') {
			p += strspn(p, " \t\n");
			if (*p == '"') {
				const char *q = strchr(p + 1, '"');
				if (q == NULL)
					return -1;
				p = q + 1;
				continue;
			}
			l = strcspn(p, " \t\n,}");
			int is_t = l == 7 && strncmp(p, "timeout", 7) == 0;
			int is_e = l == 7 && strncmp(p, "expires", 7) == 0;
			p += l;
			if (is_t || is_e) {
				p += strspn(p, " \t\n");
				l = strcspn(p, " \t\n,}");
				long long ms = parse_duration(p, l);
				if (ms < 0)
					return -1;
				*(is_t ? &timeout : &expires) = ms;
				p += l;
			}
		}
		iv.ms = expires >= 0 ? expires : timeout;
		iv.old = 1;
		if (*nv == *cap) {
			*cap = *cap ? *cap * 2 : 256;
			*v = xrealloc(*v, *cap * sizeof(**v));
		}
		(*v)[(*nv)++] = iv;
	}
	return 0;
}

/* Read the jail's set for fam into *v (appending). */
static int list_set(struct nft *n, const char *id, int fam, struct nft_iv **v,
    size_t *nv, size_t *cap, char *err, size_t errlen)
{
	char cmd[NFT_IDENT_MAX + 128];
	const char *out;

	snprintf(cmd, sizeof(cmd), "list set inet %s %s_v%d", n->table, id,
	    fam == AF_INET ? 4 : 6);
	if (nft_run(n, cmd, 0, &out, "list set", err, errlen) < 0)
		return -1;
	if (parse_elements(fam, out, v, nv, cap) < 0) {
		nft_seterr(err, errlen, "%s: cannot parse the listed elements", cmd);
		return -1;
	}
	return 0;
}

static int iv_cmp(const void *a, const void *b)
{
	const struct nft_iv *x = a, *y = b;
	int c = memcmp(x->lo, y->lo, 16);

	if (c == 0)
		c = -memcmp(x->hi, y->hi, 16);	/* wider first */
	return c ? c : x->old - y->old;		/* then new before old */
}

/* The longer of two times left (-1 is forever). */
static long long ms_max(long long a, long long b)
{
	return a < 0 || b < 0 ? -1 : a > b ? a : b;
}

/* Append ", elem timeout 1d2h3m4s5ms" (the first without ", "); nft
 * refuses big single units such as "315360000s", hence the split. */
static int put_elem(struct buf *b, int fam, const struct nft_iv *iv, long long ms)
{
	static const struct { long long ms; char u[3]; } units[] = {
		{ 86400000, "d" }, { 3600000, "h" }, { 60000, "m" }, { 1000, "s" }, { 1, "ms" },
	};
	char txt[NFT_ELEM_MAX + 64], *p = txt;

	if (b->len)
		*p++ = ',', *p++ = ' ';
	p = put_iv(p, fam, iv);
	if (ms >= 0) {
		if (ms == 0)
			ms = 1;
		if (ms > NFT_TIMEOUT_MAX * 1000LL)
			ms = NFT_TIMEOUT_MAX * 1000LL;
		memcpy(p, " timeout ", 9);
		p += 9;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			if (ms >= units[i].ms) {
				p = put_dec(p, (unsigned long long)(ms / units[i].ms));
				for (const char *u = units[i].u; *u; u++)
					*p++ = *u;
			}
			ms %= units[i].ms;
		}
	}
	return buf_append(b, txt, (size_t)(p - txt));
}

/* Old element o is the whole cluster c and lasts at least as long as the
 * new bans in it (less NFT_SLACK_MS). */
static int covers(const struct nft_iv *o, const struct nft_iv *c, long long tnew)
{
	if (memcmp(o->lo, c->lo, 16) != 0 || memcmp(o->hi, c->hi, 16) != 0)
		return 0;
	if (o->ms < 0)
		return 1;
	return tnew >= 0 && o->ms + NFT_SLACK_MS >= tnew;
}

/*
 * Append to n->cmd the commands for set "<id>_v4|6": add elems, or with
 * rewrite flush the set and add elems (then everything that stays).
 */
static int emit(struct nft *n, const char *id, int fam, int rewrite, const struct buf *elems)
{
	const char *t = n->table;
	int v = fam == AF_INET ? 4 : 6;

	if (rewrite && buf_printf(&n->cmd, "flush set inet %s %s_v%d\n", t, id, v) < 0)
		return -1;
	if (elems->len == 0)
		return 0;
	if (buf_printf(&n->cmd, "add element inet %s %s_v%d { ", t, id, v) < 0 ||
	    buf_append(&n->cmd, elems->data, elems->len) < 0)
		return -1;
	return buf_puts(&n->cmd, " }\n");
}

/*
 * One pass over the clusters of overlapping intervals in v (the listed
 * elements and the new bans, sorted). A cluster that holds a new ban
 * becomes one element: their union, with the longest time left; unless one
 * listed element is the whole cluster already and lasts long enough.
 * With out == NULL, only returns 1 if a listed element has to go. Else
 * appends the new elements to out, and with rewrite the ones that stay too.
 */
static int sweep(int fam, const struct nft_iv *v, size_t nv, struct buf *out,
    int rewrite, int *written)
{
	for (size_t i = 0, j; i < nv; i = j) {
		struct nft_iv c = v[i];
		size_t nold = 0, nnew = 0, lastold = 0;
		long long tnew = 0;

		for (j = i; j < nv && (j == i || memcmp(v[j].lo, c.hi, 16) <= 0); j++) {
			if (memcmp(v[j].hi, c.hi, 16) > 0)
				memcpy(c.hi, v[j].hi, 16);
			c.ms = ms_max(c.ms, v[j].ms);
			if (v[j].old)
				nold++, lastold = j;
			else
				tnew = nnew++ ? ms_max(tnew, v[j].ms) : v[j].ms;
		}
		if (nnew == 0 || (nold == 1 && covers(&v[lastold], &c, tnew))) {
			for (size_t k = i; k < j && rewrite; k++)	/* stays */
				if (v[k].old && put_elem(out, fam, &v[k], v[k].ms) < 0)
					return -1;
			continue;
		}
		if (out == NULL) {
			if (nold > 0)
				return 1;
			continue;
		}
		if (put_elem(out, fam, &c, c.ms) < 0)
			return -1;
		(*written)++;
	}
	return 0;
}

/*
 * Plan one set's bans: add the new elements, or when a listed element has
 * to go, rewrite the set (see the top of this file).
 */
static int plan_ban(struct nft *n, const char *id, int fam, const struct nft_iv *v,
    size_t nv, int *written)
{
	struct buf out;
	int rewrite = sweep(fam, v, nv, NULL, 0, written), rc;

	if (rewrite < 0)
		return -1;
	buf_init(&out, NFT_CMD_MAX);
	rc = sweep(fam, v, nv, &out, rewrite, written);
	if (rc == 0)
		rc = emit(n, id, fam, rewrite, &out);
	buf_free(&out);
	return rc;
}

/*
 * Plan one set's unban: v holds the listed elements and the networks to
 * unban, sorted; a listed element inside one of them goes (the set is
 * rewritten without it).
 */
static int plan_unban(struct nft *n, const char *id, int fam, const struct nft_iv *v,
    size_t nv, int *removed)
{
	struct buf keep;
	struct nft_iv cover;
	int have = 0, gone = 0, rc = -1;

	buf_init(&keep, NFT_CMD_MAX);
	for (size_t i = 0; i < nv; i++) {
		if (!v[i].old) {	/* the request reaching furthest so far */
			if (!have || memcmp(v[i].hi, cover.hi, 16) > 0)
				cover = v[i];
			have = 1;
		} else if (have && memcmp(v[i].hi, cover.hi, 16) <= 0)
			gone++;		/* starts after cover.lo, ends inside */
		else if (put_elem(&keep, fam, &v[i], v[i].ms) < 0)
			goto out;
	}
	*removed += gone;
	rc = gone ? emit(n, id, fam, 1, &keep) : 0;
out:
	buf_free(&keep);
	return rc;
}

/*
 * The common frame of ban and unban: per family, list the set, add the
 * given networks (old = 0), sort, plan; then one transaction for both
 * families. Returns the number of elements written or removed.
 */
static int change(struct nft *n, const char *jail, const struct nft_ban *b, size_t nb,
    int unban, char *err, size_t errlen)
{
	static const int fams[2] = { AF_INET, AF_INET6 };
	char id[NFT_IDENT_MAX];
	int count = 0;

	if (nft_ident(jail, id, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < nb; i++) {
		const struct net *w = &b[i].net;
		if ((w->family != AF_INET && w->family != AF_INET6) || w->plen < 1 ||
		    w->plen > fam_bytes(w->family) * 8) {
			nft_seterr(err, errlen, "ban %zu: not an IPv4 or IPv6 network with a "
			    "prefix length of 1 or more", i);
			return -1;
		}
	}
	/* the common case first: a few networks new to the set, or unbans of
	 * elements present as such (nft_fast.c); else everything below */
	if (nb > 0 && nb <= NFT_FAST_MAX) {
		int rc = unban ? -2 : nft_fast_reban(n, id, b, nb, NFT_SLACK_MS);
		if (rc >= 0) {	/* each an element already: timeouts extended */
			n->fast++;
			n->reban++;
			return rc;
		}
		if (rc == -2 && nft_fast_change(n, id, b, nb, unban) == 0) {
			n->fast++;
			return (int)nb;
		}
		n->fallback++;
	}
	buf_reset(&n->cmd);
	for (int f = 0; f < 2; f++) {
		struct nft_iv *v = NULL;
		size_t nv = 0, cap = 0, nreq = 0;
		int rc;

		for (size_t i = 0; i < nb; i++)
			nreq += b[i].net.family == fams[f];
		if (nreq == 0)
			continue;
		if (list_set(n, id, fams[f], &v, &nv, &cap, err, errlen) < 0) {
			free(v);
			return -1;
		}
		v = xrealloc(v, (nv + nreq) * sizeof(*v));
		for (size_t i = 0; i < nb; i++) {
			if (b[i].net.family != fams[f])
				continue;
			nft_iv_from_net(&b[i].net, &v[nv]);
			v[nv++].ms = nft_timeout_ms(b[i].timeout);
		}
		qsort(v, nv, sizeof(*v), iv_cmp);
		rc = unban ? plan_unban(n, id, fams[f], v, nv, &count) :
		    plan_ban(n, id, fams[f], v, nv, &count);
		free(v);
		if (rc < 0) {
			buf_reset(&n->cmd);
			nft_seterr(err, errlen, "batch larger than %u bytes", NFT_CMD_MAX);
			return -1;
		}
	}
	if (n->cmd.len == 0)
		return 0;
	if (nft_run_cmd(n, unban ? "delete elements" : "add elements", err, errlen) < 0)
		return -1;
	return count;
}

int nft_ban(struct nft *n, const char *jail, const struct nft_ban *b, size_t nb,
    char *err, size_t errlen)
{
	return change(n, jail, b, nb, 0, err, errlen);
}

int nft_unban(struct nft *n, const char *jail, const struct net *nets, size_t nn,
    char *err, size_t errlen)
{
	struct nft_ban *b = xcalloc(nn ? nn : 1, sizeof(*b));
	int rc;

	for (size_t i = 0; i < nn; i++)
		b[i].net = nets[i];
	rc = change(n, jail, b, nn, 1, err, errlen);
	free(b);
	return rc;
}

int nft_flush(struct nft *n, const char *jail, char *err, size_t errlen)
{
	char id[NFT_IDENT_MAX];

	if (nft_ident(jail, id, err, errlen) < 0)
		return -1;
	buf_reset(&n->cmd);
	if (buf_printf(&n->cmd, "flush set inet %s %s_v4\nflush set inet %s %s_v6\n",
	    n->table, id, n->table, id) < 0)
		return -1;
	return nft_run_cmd(n, "flush sets", err, errlen);
}

int nft_contains(struct nft *n, const char *jail, const struct net *net)
{
	char id[NFT_IDENT_MAX];
	struct nft_iv *v = NULL, want;
	size_t nv = 0, cap = 0;
	int found = 0;

	if (nft_ident(jail, id, NULL, 0) < 0 ||
	    list_set(n, id, net->family, &v, &nv, &cap, NULL, 0) < 0) {
		free(v);
		return -1;
	}
	nft_iv_from_net(net, &want);
	for (size_t i = 0; i < nv && !found; i++)
		found = memcmp(v[i].lo, want.lo, 16) == 0 && memcmp(v[i].hi, want.hi, 16) == 0;
	free(v);
	return found;
}

long nft_count(struct nft *n, const char *jail, char *err, size_t errlen)
{
	char id[NFT_IDENT_MAX];
	struct nft_iv *v = NULL;
	size_t nv = 0, cap = 0;

	if (nft_ident(jail, id, err, errlen) < 0)
		return -1;
	if (list_set(n, id, AF_INET, &v, &nv, &cap, err, errlen) < 0 ||
	    list_set(n, id, AF_INET6, &v, &nv, &cap, err, errlen) < 0) {
		free(v);
		return -1;
	}
	free(v);
	return (long)nv;
}
