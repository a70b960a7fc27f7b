/*
 * banprefix — which network the ban engine bans for an address: its
 * /prefix4 or /prefix6 (maxretry counted per prefix), narrowed so that a
 * ban never covers an ignoreip network; and the ignoreip match.
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "common/net.h"
#include "warden/jail.h"

int banprefix_ignored(const struct net *list, size_t n, const struct net *a)
{
	for (size_t i = 0; i < n; i++)
		if (net_contains(&list[i], a))
			return 1;
	return 0;
}

/* Number of leading bits a and b have in common (same family). */
static int common_bits(const struct net *a, const struct net *b)
{
	int bits = net_family_bits(a->family);
	int n = 0;

	while (n < bits) {
		unsigned char m = (unsigned char)(0x80 >> (n % 8));
		if ((a->a[n / 8] & m) != (b->a[n / 8] & m))
			break;
		n++;
	}
	return n;
}

int banprefix_for(const struct net *a, int prefix4, int prefix6,
    const struct net *ignore, size_t nignore, struct net *out,
    char *err, size_t errlen)
{
	int plen = a->family == AF_INET ? prefix4 : prefix6;
	int bits = net_family_bits(a->family);
	struct net host = *a;

	net_mask(&host, bits);
	if (plen < 1 || plen > bits) {
		snprintf(err, errlen, "ban prefix /%d out of range for %s", plen,
		    a->family == AF_INET ? "IPv4 (1-32)" : "IPv6 (1-128)");
		return -1;
	}
	for (size_t i = 0; i < nignore; i++) {
		const struct net *ig = &ignore[i];
		if (ig->family != host.family)
			continue;
		if (net_contains(ig, &host))
			return 1;
		/* The ban /plen covers ig when ig lies inside it: the first
		 * bit where host and ig's network differ must be inside the
		 * ban prefix, so the ban is at least that long. */
		int c = common_bits(&host, ig);
		if (c >= plen && c < ig->plen)
			plen = c + 1;
	}
	*out = host;
	net_mask(out, plen);
	if (out->plen == 0) {
		snprintf(err, errlen, "refusing to ban %s",
		    a->family == AF_INET ? "0.0.0.0/0" : "::/0");
		return -1;
	}
	return 0;
}
