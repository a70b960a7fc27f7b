/*
 * net — one type for an IPv4 or IPv6 address or network, used by the
 * restrictions (cidr lists), the smtp engine and the ban engine.
 */
#ifndef MW_COMMON_NET_H
#define MW_COMMON_NET_H
#include <stddef.h>
#include <sys/socket.h>

/* An IPv4 or IPv6 network; a host address has plen 32 or 128. The bits
 * past plen are always zero. IPv4-mapped IPv6 (::ffff:a.b.c.d) is IPv4. */
struct net {
	int family;		/* AF_INET or AF_INET6 */
	unsigned char a[16];	/* IPv4 uses a[0..3] */
	int plen;
};

/* Longest text net_format() writes, with the NUL. */
#define NET_STRLEN 64

/* Address width of a family in bits: 32 for AF_INET, else 128. */
int net_family_bits(int family);
/* Parse a host address ("192.0.2.1", "2001:db8::1", "[::1]"); -1 if not. */
int net_parse(const char *s, struct net *out);
/* Parse a network: an address, "addr/len", "[v6]/len" or "a.b.c.d/mask";
 * host bits are cleared. -1 and a message naming s if malformed. */
int net_parse_net(const char *s, struct net *out, char *err, size_t errlen);
/* Clear the bits past plen and set plen (clamped to the family's width). */
void net_mask(struct net *w, int plen);
/* 1 if network n contains network or address a (same family). */
int net_contains(const struct net *n, const struct net *a);
/* "192.0.2.0/24", "2001:db8::/64"; a host without "/len" unless
 * withlen. Returns the length written, -1 if buf is too small. */
int net_format(const struct net *w, int withlen, char *buf, size_t len);
struct sockaddr;
/* The host address of an AF_INET/AF_INET6 socket address (IPv4-mapped
 * IPv6 as IPv4, scope id dropped); -1 for other families. */
int net_from_sockaddr(const struct sockaddr *sa, struct net *out);
/* "host:port" ("[v6]:port"; a name too unless numeric) of spec into sa
 * and len for a stream connection: 0, or -1 and err naming spec. The
 * inet: endpoints of policy services and milters. */
int net_hostport(const char *hp, int numeric, const char *spec, struct sockaddr_storage *sa,
    socklen_t *len, char *err, size_t errlen);
#endif
