/*
 * cidr — network lists as in Postfix's mynetworks. Items are separated by
 * commas and white space: "127.0.0.0/8", "[::1]/128", "::1/128",
 * "192.0.2.1" (a host: /32 or /128), "!192.0.2.7" (excluded: the first
 * matching item decides, as in Postfix), "/path" or "cidr:/path" (a file
 * whose lines start with a network; # comments). IPv4-mapped IPv6
 * addresses (::ffff:192.0.2.1) match IPv4 networks.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cidr.h"
#include "common/util.h"

struct net {
	int family;		/* AF_INET or AF_INET6 */
	uint8_t addr[16];	/* network address, host bits zero */
	int len;		/* prefix length */
	int negate;		/* "!net": matching means "not in list" */
};

struct cidrlist {
	struct net *nets;
	size_t n, cap;
};

#define CIDR_MAX_FILE_DEPTH 2

static int parse_items(struct cidrlist *cl, const char *value, int depth,
    char *err, size_t errlen);

/* Whether prefix bits beyond len are zero in addr. */
static int host_bits_zero(const uint8_t *addr, int bytes, int len)
{
	for (int i = 0; i < bytes * 8; i++) {
		if (i < len)
			continue;
		if (addr[i / 8] & (0x80 >> (i % 8)))
			return 0;
	}
	return 1;
}

/* Whether the first len bits of a and b are equal. */
static int prefix_equal(const uint8_t *a, const uint8_t *b, int len)
{
	int full = len / 8, rest = len % 8;

	if (memcmp(a, b, (size_t)full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (a[full] & mask) == (b[full] & mask);
}

/* Parse one network item ("[v6]/len", "v6/len", "v4/len", host). */
static int parse_net(const char *item, struct net *n, char *err, size_t errlen)
{
	char addr[INET6_ADDRSTRLEN + 8];
	const char *slash;
	const char *p = item;
	size_t alen;
	long len = -1;

	memset(n, 0, sizeof(*n));
	if (*p == '!') {
		n->negate = 1;
		p++;
	}
	if (*p == '[') {
		const char *close = strchr(p, ']');
		if (close == NULL)
			goto bad;
		alen = (size_t)(close - p - 1);
		if (alen >= sizeof(addr))
			goto bad;
		memcpy(addr, p + 1, alen);
		addr[alen] = '\0';
		slash = close + 1;
		if (*slash != '\0' && *slash != '/')
			goto bad;
		if (*slash == '\0')
			slash = NULL;
	} else {
		slash = strchr(p, '/');
		alen = slash ? (size_t)(slash - p) : strlen(p);
		if (alen >= sizeof(addr))
			goto bad;
		memcpy(addr, p, alen);
		addr[alen] = '\0';
	}
	if (slash != NULL) {
		char *end;
		if (!isdigit((unsigned char)slash[1]))
			goto bad;
		errno = 0;
		len = strtol(slash + 1, &end, 10);
		if (*end != '\0' || errno != 0)
			goto bad;
	}
	if (inet_pton(AF_INET, addr, n->addr) == 1) {
		n->family = AF_INET;
		if (len < 0)
			len = 32;
		if (len > 32)
			goto bad;
		n->len = (int)len;
		if (!host_bits_zero(n->addr, 4, n->len))
			goto hostbits;
		return 0;
	}
	if (inet_pton(AF_INET6, addr, n->addr) == 1) {
		n->family = AF_INET6;
		if (len < 0)
			len = 128;
		if (len > 128)
			goto bad;
		n->len = (int)len;
		if (!host_bits_zero(n->addr, 16, n->len))
			goto hostbits;
		return 0;
	}
bad:
	snprintf(err, errlen, "bad network '%s'", item);
	return -1;
hostbits:
	snprintf(err, errlen, "non-null host address bits in '%s'", item);
	return -1;
}

static void add_net(struct cidrlist *cl, const struct net *n)
{
	if (cl->n == cl->cap) {
		cl->cap = cl->cap ? cl->cap * 2 : 8;
		cl->nets = xrealloc(cl->nets, cl->cap * sizeof(*cl->nets));
	}
	cl->nets[cl->n++] = *n;
}

/* Read a file of networks: first field of each non-comment line. */
static int parse_file(struct cidrlist *cl, const char *path, int depth,
    char *err, size_t errlen)
{
	char line[1024];
	char sub[512];
	int lineno = 0;
	FILE *fp;

	if (depth >= CIDR_MAX_FILE_DEPTH) {
		snprintf(err, errlen, "%s: network files nested too deep", path);
		return -1;
	}
	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		char *s = str_trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		s[strcspn(s, " \t")] = '\0';	/* cidr: tables: "net action" */
		if (parse_items(cl, s, depth + 1, sub, sizeof(sub)) < 0) {
			snprintf(err, errlen, "%s, line %d: %s", path, lineno, sub);
			fclose(fp);
			return -1;
		}
	}
	fclose(fp);
	return 0;
}

/* Parse one list item: network, or a file of networks. */
static int parse_item(struct cidrlist *cl, const char *item, int depth,
    char *err, size_t errlen)
{
	struct net n;

	if (item[0] == '/')
		return parse_file(cl, item, depth, err, errlen);
	if (strncmp(item, "cidr:", 5) == 0 && item[5] != '\0')
		return parse_file(cl, item + 5, depth, err, errlen);
	/* "type:name" other than cidr: (hash:/x, texthash:/x, ...) */
	size_t i = 0;
	while (isalpha((unsigned char)item[i]))
		i++;
	if (i > 0 && item[i] == ':' && (item[i + 1] == '/' || item[i + 1] == '{')) {
		snprintf(err, errlen, "'%s': only cidr:/path tables are supported "
		    "in network lists", item);
		return -1;
	}
	if (parse_net(item, &n, err, errlen) < 0)
		return -1;
	add_net(cl, &n);
	return 0;
}

static int parse_items(struct cidrlist *cl, const char *value, int depth,
    char *err, size_t errlen)
{
	char *copy = xstrdup(value);
	char *save = NULL;
	int rc = 0;

	for (char *tok = strtok_r(copy, ", \t\r\n", &save); tok != NULL;
	    tok = strtok_r(NULL, ", \t\r\n", &save)) {
		if ((rc = parse_item(cl, tok, depth, err, errlen)) < 0)
			break;
	}
	free(copy);
	return rc;
}

struct cidrlist *cidrlist_parse(const char *value, char *err, size_t errlen)
{
	struct cidrlist *cl = xcalloc(1, sizeof(*cl));

	if (parse_items(cl, value, 0, err, errlen) < 0) {
		cidrlist_free(cl);
		return NULL;
	}
	return cl;
}

/* Match a raw address of the given family against the list. */
static int match_raw(const struct cidrlist *cl, int family, const uint8_t *addr)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (family == AF_INET6 && memcmp(addr, mapped, sizeof(mapped)) == 0) {
		family = AF_INET;
		addr += 12;
	}
	for (size_t i = 0; i < cl->n; i++) {
		const struct net *n = &cl->nets[i];
		if (n->family != family)
			continue;
		if (prefix_equal(n->addr, addr, n->len))
			return n->negate ? 0 : 1;
	}
	return 0;
}

int cidrlist_match(const struct cidrlist *cl, const struct sockaddr *sa)
{
	if (cl == NULL || sa == NULL)
		return 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)sa;
		return match_raw(cl, AF_INET, (const uint8_t *)&sin->sin_addr);
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		return match_raw(cl, AF_INET6, sin6->sin6_addr.s6_addr);
	}
	return 0;
}

int cidrlist_match_str(const struct cidrlist *cl, const char *addr)
{
	uint8_t raw[16];
	char tmp[INET6_ADDRSTRLEN + 2];
	size_t len;

	if (cl == NULL || addr == NULL)
		return 0;
	len = strlen(addr);
	if (len >= 2 && addr[0] == '[' && addr[len - 1] == ']') {
		if (len - 2 >= sizeof(tmp))
			return 0;
		memcpy(tmp, addr + 1, len - 2);
		tmp[len - 2] = '\0';
		addr = tmp;
	}
	if (inet_pton(AF_INET, addr, raw) == 1)
		return match_raw(cl, AF_INET, raw);
	if (inet_pton(AF_INET6, addr, raw) == 1)
		return match_raw(cl, AF_INET6, raw);
	return 0;
}

void cidrlist_free(struct cidrlist *cl)
{
	if (cl == NULL)
		return;
	free(cl->nets);
	free(cl);
}
