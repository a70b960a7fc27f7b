/*
 * banfile_read — the smtp engine's reader of the bans journal (see
 * banfile.h). Each check costs one fstatat(): the same inode read on
 * from the last offset (only whole lines), another inode (the warden
 * compacted or restarted) or a shorter file read from the start, no
 * file means no bans. The bans sit in a hash keyed by network (seeded:
 * the addresses banned are the attackers' choice); an address is looked
 * up once per prefix length in use, longest first. Malformed lines are
 * skipped, never fatal: the engine must keep accepting mail whatever the
 * file holds.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "mail/banfile.h"

#define BANFILE_MAX (64L * 1024 * 1024)	/* bytes read of one journal */
#define BANFILE_MAX_BANS (1u << 22)		/* bans kept; more are ignored */

struct ban {
	struct banfile_entry e;
	struct ban *next;	/* hash chain */
};

struct banfile {
	int dirfd;
	char *name;
	int fd;			/* the journal being read, -1 none */
	dev_t dev;
	ino_t ino;
	off_t off;		/* bytes consumed: whole lines only */
	int skipping;		/* inside a line longer than BANFILE_LINE_MAX */
	struct ban **hash;
	size_t cap, n;		/* cap a power of two, grown at n > cap */
	uint64_t seed;
	size_t nplen[2][129];	/* bans per family (v4, v6) and prefix length */
};

struct banfile *banfile_open(int dirfd, const char *name)
{
	int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	struct banfile *b = xcalloc(1, sizeof(*b));
	b->dirfd = fd;
	b->name = xstrdup(name);
	b->fd = -1;
	b->seed = hash_seed();
	return b;
}

static size_t slot(const struct banfile *b, const struct net *n)
{
	unsigned char key[18];
	key[0] = (unsigned char)n->family;
	key[1] = (unsigned char)n->plen;
	memcpy(key + 2, n->a, 16);
	return (size_t)(hash_bytes(key, sizeof(key), b->seed) & (b->cap - 1));
}

static int same_net(const struct net *x, const struct net *y)
{
	return x->family == y->family && x->plen == y->plen && memcmp(x->a, y->a, 16) == 0;
}

static void clear(struct banfile *b)
{
	for (size_t i = 0; i < b->cap; i++)
		for (struct ban *p = b->hash[i], *next; p; p = next) {
			next = p->next;
			free(p);
		}
	free(b->hash);
	b->hash = NULL;
	b->cap = b->n = 0;
	memset(b->nplen, 0, sizeof(b->nplen));
}

static void grow(struct banfile *b)
{
	size_t old = b->cap, cap = old ? 2 * old : 64;
	struct ban **h = b->hash;
	b->hash = xcalloc(cap, sizeof(*b->hash));
	b->cap = cap;
	for (size_t i = 0; i < old; i++)
		for (struct ban *p = h[i], *next; p; p = next) {
			next = p->next;
			size_t s = slot(b, &p->e.net);
			p->next = b->hash[s];
			b->hash[s] = p;
		}
	free(h);
}

/* The ban of (net, jail): its link in its chain, or NULL. */
static struct ban **find(struct banfile *b, const struct net *net, const char *jail)
{
	if (b->cap == 0)
		return NULL;
	for (struct ban **pp = &b->hash[slot(b, net)]; *pp; pp = &(*pp)->next)
		if (same_net(&(*pp)->e.net, net) && strcmp((*pp)->e.jail, jail) == 0)
			return pp;
	return NULL;
}

static void ban_set(struct banfile *b, const struct banfile_entry *e)
{
	struct ban **pp = find(b, &e->net, e->jail);
	if (pp) {
		(*pp)->e.expires = e->expires;
		return;
	}
	if (b->n >= BANFILE_MAX_BANS)
		return;
	if (b->n >= b->cap)
		grow(b);
	struct ban *p = xcalloc(1, sizeof(*p));
	p->e = *e;
	size_t s = slot(b, &e->net);
	p->next = b->hash[s];
	b->hash[s] = p;
	b->n++;
	b->nplen[e->net.family == AF_INET6][e->net.plen]++;
}

static void ban_unset(struct banfile *b, const struct net *net, const char *jail)
{
	struct ban **pp = find(b, net, jail);
	if (pp == NULL)
		return;
	struct ban *p = *pp;
	*pp = p->next;
	b->n--;
	b->nplen[net->family == AF_INET6][net->plen]--;
	free(p);
}

/* One record (NUL-terminated, no newline). */
static void parse_line(struct banfile *b, char *line)
{
	char *save = NULL, err[128], *end;
	char *w1 = strtok_r(line, " \t", &save);
	char *w2 = strtok_r(NULL, " \t", &save);
	char *w3 = strtok_r(NULL, " \t", &save);
	if (w1 == NULL || *w1 == '#' || w2 == NULL)
		return;
	struct banfile_entry e;
	memset(&e, 0, sizeof(e));
	int del = strcmp(w1, "-") == 0;
	const char *net = del ? w2 : w1, *jail = w3;
	if (net_parse_net(net, &e.net, err, sizeof(err)) < 0 || e.net.plen == 0)
		return;
	if (jail && strlen(jail) >= sizeof(e.jail))
		return;		/* never truncated into another jail's name */
	str_copy(e.jail, sizeof(e.jail), jail ? jail : "-");
	if (del) {
		ban_unset(b, &e.net, e.jail);
		return;
	}
	errno = 0;
	e.expires = strtol(w2, &end, 10);
	if (*end != '\0' || end == w2 || e.expires < 0 || errno == ERANGE)
		return;
	ban_set(b, &e);
}

/* Forget what was read and the file it came from. */
static void forget(struct banfile *b)
{
	clear(b);
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
	b->off = 0;
	b->skipping = 0;
}

/* Read the whole lines from b->off up to size. */
static void read_new(struct banfile *b, off_t size)
{
	char buf[65536];
	if (size > BANFILE_MAX)
		size = BANFILE_MAX;
	while (b->off < size) {
		size_t want = (size_t)(size - b->off) < sizeof(buf) - 1 ?
		    (size_t)(size - b->off) : sizeof(buf) - 1;
		ssize_t got = pread(b->fd, buf, want, b->off);
		if (got <= 0)
			return;
		size_t len = (size_t)got, pos = 0;
		while (pos < len) {
			char *nl = memchr(buf + pos, '\n', len - pos);
			size_t llen = nl ? (size_t)(nl - (buf + pos)) + 1 : len - pos;
			if (b->skipping) {	/* the rest of an over-long line */
				b->skipping = nl == NULL;
			} else if (nl == NULL) {
				if (llen < BANFILE_LINE_MAX) {
					if (b->off + (off_t)llen < size)
						break;	/* cut by buf: read again from it */
					return;	/* its newline is not there yet */
				}
				b->skipping = 1;	/* too long: skipped whole */
			} else if (llen <= BANFILE_LINE_MAX) {
				*nl = '\0';
				parse_line(b, buf + pos);
			}
			pos += llen;
			b->off += (off_t)llen;
		}
	}
}

/* Read what is new in the journal. */
static void refresh(struct banfile *b)
{
	struct stat st;
	if (fstatat(b->dirfd, b->name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode)) {
		forget(b);	/* no file: no bans */
		return;
	}
	if (b->fd < 0 || st.st_ino != b->ino || st.st_dev != b->dev || st.st_size < b->off) {
		forget(b);
		b->fd = openat(b->dirfd, b->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (b->fd < 0 || fstat(b->fd, &st) < 0) {
			forget(b);
			return;
		}
		b->dev = st.st_dev;
		b->ino = st.st_ino;
	}
	if (st.st_size > b->off)
		read_new(b, st.st_size);
}

int banfile_check(struct banfile *b, const char *addr, long now, char *jail, size_t jlen)
{
	struct net a;
	if (b == NULL || net_parse(addr, &a) < 0)
		return 0;
	refresh(b);
	int v6 = a.family == AF_INET6;
	for (int plen = net_family_bits(a.family); plen > 0 && b->n; plen--) {
		if (b->nplen[v6][plen] == 0)
			continue;
		struct net m = a;
		net_mask(&m, plen);
		for (struct ban *p = b->hash[slot(b, &m)]; p; p = p->next) {
			if (!same_net(&p->e.net, &m) || (p->e.expires != 0 && p->e.expires <= now))
				continue;
			if (jail && jlen)
				str_copy(jail, jlen, p->e.jail);
			return 1;
		}
	}
	return 0;
}

size_t banfile_count(struct banfile *b)
{
	refresh(b);
	return b->n;
}

void banfile_close(struct banfile *b)
{
	if (b == NULL)
		return;
	forget(b);
	close(b->dirfd);
	free(b->name);
	free(b);
}
