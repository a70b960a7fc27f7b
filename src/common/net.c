/*
 * net — IPv4 and IPv6 addresses and networks, the one type every part of
 * mailwarden uses for them: parsing (IPv4, IPv6, IPv4-mapped IPv6 as
 * IPv4, "[v6]", "/len", "a.b.c.d/mask"), masking, containment, text form.
 * Lists with Postfix's syntax are in cidr.c; the ban engine's prefix rule
 * is in warden/banprefix.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/util.h"
#include "common/net.h"

int net_family_bits(int family)
{
	return family == AF_INET ? 32 : 128;
}

void net_mask(struct net *w, int plen)
{
	int bits = net_family_bits(w->family);

	if (plen < 0)
		plen = 0;
	if (plen > bits)
		plen = bits;
	for (int i = 0; i < 16; i++) {
		int keep = plen - i * 8;
		if (keep >= 8)
			continue;
		w->a[i] &= keep <= 0 ? 0 : (unsigned char)(0xff << (8 - keep));
	}
	w->plen = plen;
}

/* Parse a bare address (no brackets, no prefix) into a host net. */
static int parse_host(const char *s, struct net *out)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	struct in_addr v4;
	struct in6_addr v6;

	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, s, &v4) == 1) {
		out->family = AF_INET;
		memcpy(out->a, &v4, 4);
		out->plen = 32;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &v6) == 1) {
		if (memcmp(&v6, mapped, 12) == 0) {
			out->family = AF_INET;
			memcpy(out->a, (unsigned char *)&v6 + 12, 4);
			out->plen = 32;
			return 0;
		}
		out->family = AF_INET6;
		memcpy(out->a, &v6, 16);
		out->plen = 128;
		return 0;
	}
	return -1;
}

/* Copy s (without surrounding [ ]) into buf; -1 if too long or unbalanced. */
static int unbracket(const char *s, size_t n, char *buf, size_t len)
{
	if (n > 0 && s[0] == '[') {
		if (n < 2 || s[n - 1] != ']')
			return -1;
		s++;
		n -= 2;
	}
	if (n == 0 || n >= len)
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return 0;
}

int net_parse(const char *s, struct net *out)
{
	char buf[INET6_ADDRSTRLEN + 8];

	if (unbracket(s, strlen(s), buf, sizeof(buf)) < 0)
		return -1;
	return parse_host(buf, out);
}

/* Prefix length of a dotted IPv4 netmask, -1 if not contiguous. */
static int mask_len(const char *s)
{
	struct in_addr m;
	if (inet_pton(AF_INET, s, &m) != 1)
		return -1;
	unsigned long v = ntohl(m.s_addr);
	int n = 0;
	while (n < 32 && (v & (0x80000000UL >> n)))
		n++;
	if (n < 32 && (v & (0xffffffffUL >> n)) != 0)
		return -1;
	return n;
}

int net_parse_net(const char *s, struct net *out, char *err, size_t errlen)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	int plen;

	if (unbracket(s, n, buf, sizeof(buf)) < 0 || parse_host(buf, out) < 0)
		goto bad;
	if (slash == NULL)
		return 0;
	if (slash[1] >= '0' && slash[1] <= '9' && strspn(slash + 1, "0123456789") == strlen(slash + 1)) {
		char *end;
		errno = 0;
		long l = strtol(slash + 1, &end, 10);
		int bits = net_family_bits(out->family);
		/* an IPv4-mapped network's length counts the 96 mapped bits */
		if (out->family == AF_INET && strchr(buf, ':') != NULL)
			l -= 96;
		if (errno != 0 || l < 0 || l > bits)
			goto bad;
		plen = (int)l;
	} else if (out->family == AF_INET && (plen = mask_len(slash + 1)) >= 0) {
		/* a.b.c.d/255.255.255.0 */
	} else {
		goto bad;
	}
	net_mask(out, plen);
	return 0;
bad:
	snprintf(err, errlen, "bad address or network '%s'", s);
	return -1;
}

int net_contains(const struct net *n, const struct net *a)
{
	if (n->family != a->family || a->plen < n->plen)
		return 0;
	struct net t = *a;
	net_mask(&t, n->plen);
	return memcmp(t.a, n->a, 16) == 0;
}

int net_format(const struct net *w, int withlen, char *buf, size_t len)
{
	char txt[INET6_ADDRSTRLEN];
	int n;

	if (inet_ntop(w->family, w->a, txt, sizeof(txt)) == NULL)
		return -1;
	if (withlen || w->plen != net_family_bits(w->family))
		n = snprintf(buf, len, "%s/%d", txt, w->plen);
	else
		n = snprintf(buf, len, "%s", txt);
	if (n < 0 || (size_t)n >= len)
		return -1;
	return n;
}


int net_from_sockaddr(const struct sockaddr *sa, struct net *out)
{
	char txt[INET6_ADDRSTRLEN];
	const void *raw;

	if (sa->sa_family == AF_INET)
		raw = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		raw = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	else
		return -1;
	if (inet_ntop(sa->sa_family, raw, txt, sizeof(txt)) == NULL)
		return -1;
	return parse_host(txt, out);
}

int net_hostport(const char *hp, int numeric, const char *spec, struct sockaddr_storage *sa,
    socklen_t *len, char *err, size_t errlen)
{
	char host[256];
	const char *colon = strrchr(hp, ':');
	if (colon == NULL || colon == hp || colon[1] == '\0' || (size_t)(colon - hp) >= sizeof(host)) {
		snprintf(err, errlen, "expected inet:host:port, got \"%s\"", spec);
		return -1;
	}
	memcpy(host, hp, (size_t)(colon - hp));
	host[colon - hp] = '\0';
	char *h = host;
	size_t hl = strlen(h);
	if (hl > 2 && h[0] == '[' && h[hl - 1] == ']') {
		h[hl - 1] = '\0';
		h++;
	}
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
	    .ai_flags = numeric ? AI_NUMERICHOST | AI_NUMERICSERV : 0 }, *res = NULL;
	int rc = getaddrinfo(h, colon + 1, &hints, &res);
	if (rc != 0 || res == NULL) {
		snprintf(err, errlen, "cannot resolve \"%s\": %s%s", spec, gai_strerror(rc),
		    numeric ? " (an address and port number are needed here)" : "");
		return -1;
	}
	memcpy(sa, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}
