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
#include "common/net.h"
#include "common/util.h"

struct cidr_item {
	struct net net;
	int negate;		/* "!net": matching means "not in list" */
};

struct cidrlist {
	struct cidr_item *nets;
	size_t n, cap;
};

#define CIDR_MAX_FILE_DEPTH 2

static int parse_items(struct cidrlist *cl, const char *value, int depth,
    char *err, size_t errlen);

/* Parse one network item ("!net", "[v6]/len", "v6/len", "v4/len", host).
 * As Postfix, a network with host bits set is an error, not masked. */
static int parse_net(const char *item, struct cidr_item *it, char *err, size_t errlen)
{
	char addr[NET_STRLEN];
	const char *p = item;
	struct net host;

	memset(it, 0, sizeof(*it));
	if (*p == '!') {
		it->negate = 1;
		p++;
	}
	size_t alen = strcspn(p, "/");
	if (alen >= sizeof(addr) || net_parse_net(p, &it->net, err, errlen) < 0) {
		snprintf(err, errlen, "bad network '%s'", item);
		return -1;
	}
	memcpy(addr, p, alen);
	addr[alen] = '\0';
	if (net_parse(addr, &host) == 0 && memcmp(host.a, it->net.a, sizeof(host.a)) != 0) {
		snprintf(err, errlen, "non-null host address bits in '%s'", item);
		return -1;
	}
	return 0;
}

static void add_net(struct cidrlist *cl, const struct cidr_item *n)
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
	struct cidr_item n;

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

/* The first item containing a decides (a "!" item: not in the list). */
static int match_net(const struct cidrlist *cl, const struct net *a)
{
	for (size_t i = 0; i < cl->n; i++) {
		if (net_contains(&cl->nets[i].net, a))
			return cl->nets[i].negate ? 0 : 1;
	}
	return 0;
}

int cidrlist_match(const struct cidrlist *cl, const struct sockaddr *sa)
{
	struct net a;

	if (cl == NULL || sa == NULL || net_from_sockaddr(sa, &a) < 0)
		return 0;
	return match_net(cl, &a);
}

int cidrlist_match_str(const struct cidrlist *cl, const char *addr)
{
	struct net a;

	if (cl == NULL || addr == NULL || net_parse(addr, &a) < 0)
		return 0;
	return match_net(cl, &a);
}

void cidrlist_free(struct cidrlist *cl)
{
	if (cl == NULL)
		return;
	free(cl->nets);
	free(cl);
}
