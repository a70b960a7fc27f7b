/*
 * addr — addresses and networks for the ban engine: parsing (IPv4, IPv6,
 * IPv4-mapped IPv6 as IPv4), containment, text form, and the prefix to ban
 * for an address: its /prefix4 or /prefix6, narrowed so that a ban never
 * covers an ignoreip network.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/util.h"
#include "warden/jail.h"

static int family_bits(int family)
{
	return family == AF_INET ? 32 : 128;
}

void waddr_mask(struct waddr *w, int plen)
{
	int bits = family_bits(w->family);

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

/* Parse a bare address (no brackets, no prefix) into a host waddr. */
static int parse_host(const char *s, struct waddr *out)
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

int waddr_parse(const char *s, struct waddr *out)
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

int waddr_parse_net(const char *s, struct waddr *out, char *err, size_t errlen)
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
		int bits = family_bits(out->family);
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
	waddr_mask(out, plen);
	return 0;
bad:
	snprintf(err, errlen, "bad address or network '%s'", s);
	return -1;
}

int waddr_contains(const struct waddr *n, const struct waddr *a)
{
	if (n->family != a->family || a->plen < n->plen)
		return 0;
	struct waddr t = *a;
	waddr_mask(&t, n->plen);
	return memcmp(t.a, n->a, 16) == 0;
}

int waddr_list_match(const struct waddr *list, size_t n, const struct waddr *a)
{
	for (size_t i = 0; i < n; i++)
		if (waddr_contains(&list[i], a))
			return 1;
	return 0;
}

int waddr_format(const struct waddr *w, int withlen, char *buf, size_t len)
{
	char txt[INET6_ADDRSTRLEN];
	int n;

	if (inet_ntop(w->family, w->a, txt, sizeof(txt)) == NULL)
		return -1;
	if (withlen || w->plen != family_bits(w->family))
		n = snprintf(buf, len, "%s/%d", txt, w->plen);
	else
		n = snprintf(buf, len, "%s", txt);
	if (n < 0 || (size_t)n >= len)
		return -1;
	return n;
}

/* Number of leading bits a and b have in common (same family). */
static int common_bits(const struct waddr *a, const struct waddr *b)
{
	int bits = family_bits(a->family);
	int n = 0;

	while (n < bits) {
		unsigned char m = (unsigned char)(0x80 >> (n % 8));
		if ((a->a[n / 8] & m) != (b->a[n / 8] & m))
			break;
		n++;
	}
	return n;
}

int waddr_ban_prefix(const struct waddr *a, int prefix4, int prefix6,
    const struct waddr *ignore, size_t nignore, struct waddr *out,
    char *err, size_t errlen)
{
	int plen = a->family == AF_INET ? prefix4 : prefix6;
	int bits = family_bits(a->family);
	struct waddr host = *a;

	waddr_mask(&host, bits);
	if (plen < 1 || plen > bits) {
		snprintf(err, errlen, "ban prefix /%d out of range for %s", plen,
		    a->family == AF_INET ? "IPv4 (1-32)" : "IPv6 (1-128)");
		return -1;
	}
	for (size_t i = 0; i < nignore; i++) {
		const struct waddr *ig = &ignore[i];
		if (ig->family != host.family)
			continue;
		if (waddr_contains(ig, &host))
			return 1;
		/* The ban /plen covers ig when ig lies inside it: the first
		 * bit where host and ig's network differ must be inside the
		 * ban prefix, so the ban is at least that long. */
		int c = common_bits(&host, ig);
		if (c >= plen && c < ig->plen)
			plen = c + 1;
	}
	*out = host;
	waddr_mask(out, plen);
	if (out->plen == 0) {
		snprintf(err, errlen, "refusing to ban %s",
		    a->family == AF_INET ? "0.0.0.0/0" : "::/0");
		return -1;
	}
	return 0;
}
