/*
 * nft — the built-in `nft` ban action through libnftables: the context,
 * jail names, the table, chain, per-jail sets and rules (setup, teardown,
 * destroy). Set elements are in nft_set.c. Every change is generated nft
 * syntax given to nft_run_cmd_from_buffer(); one call is one netlink
 * transaction (except the fast path of a few bans or unbans, nft_fast.c,
 * which writes set elements over netlink itself). What the kernel holds is
 * read back by listing (text output) and parsed; nothing is cached between
 * calls.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/util.h"
#include "warden/firewall/nft_priv.h"

#define CHAIN_SPEC "{ type filter hook input priority filter - 1; policy accept; }"
#define SET_SPEC_V4 "{ type ipv4_addr; flags interval,timeout; }"
#define SET_SPEC_V6 "{ type ipv6_addr; flags interval,timeout; }"
#define COMMENT_TAG "mailwarden:"

void nft_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* The first line of libnftables' error only: the rest echoes the whole
 * command, which may be megabytes. */
int nft_run(struct nft *n, const char *cmd, unsigned flags, const char **out,
    const char *what, char *err, size_t errlen)
{
	const char *o, *e;
	int rc;

	nft_ctx_output_set_flags(n->ctx, flags);
	rc = nft_run_cmd_from_buffer(n->ctx, cmd);
	o = nft_ctx_get_output_buffer(n->ctx);	/* also rewinds the buffers */
	e = nft_ctx_get_error_buffer(n->ctx);
	if (rc != 0) {
		if (e == NULL || *e == '\0')
			e = "libnftables failed without a message";
		if (strncmp(e, "Error: ", 7) == 0)
			e += 7;
		nft_seterr(err, errlen, "%s: %.*s", what, (int)strcspn(e, "\n"), e);
		return -1;
	}
	if (out)
		*out = o ? o : "";
	return 0;
}

int nft_run_cmd(struct nft *n, const char *what, char *err, size_t errlen)
{
	int rc = nft_run(n, n->cmd.data ? n->cmd.data : "", 0, NULL, what, err, errlen);
	buf_reset(&n->cmd);
	return rc;
}

static int plain_ident(const char *s, size_t max)
{
	size_t len = strlen(s);

	if (len == 0 || len > max || !isalpha((unsigned char)s[0]))
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
			return 0;
	return 1;
}

int nft_jail_ident(const char *jail, char *out, size_t len)
{
	size_t o = 0;

	if (jail == NULL || *jail == '\0' || strlen(jail) > NFT_JAIL_MAX)
		return -1;
	if (plain_ident(jail, NFT_JAIL_MAX))
		return str_copy(out, len, jail);
	/* ".": never a plain name; every byte but [A-Za-z0-9-] as _hh */
	if (len < 2)
		return -1;
	out[o++] = '.';
	for (const unsigned char *p = (const unsigned char *)jail; *p; p++) {
		int w;
		if (isalnum(*p) || *p == '-')
			w = snprintf(out + o, len - o, "%c", *p);
		else
			w = snprintf(out + o, len - o, "_%02x", *p);
		if (w < 0 || (size_t)w >= len - o)
			return -1;
		o += (size_t)w;
	}
	return 0;
}

int nft_ident(const char *jail, char *id, char *err, size_t errlen)
{
	if (nft_jail_ident(jail, id, NFT_IDENT_MAX) < 0) {
		nft_seterr(err, errlen, "jail name '%s': empty or longer than %d bytes",
		    jail ? jail : "", NFT_JAIL_MAX);
		return -1;
	}
	return 0;
}

struct nft *nft_open(const char *table, char *err, size_t errlen)
{
	struct nft *n;

	if (table == NULL)
		table = "mailwarden";
	if (!plain_ident(table, NFT_JAIL_MAX)) {
		nft_seterr(err, errlen, "nft table name '%s': use letters, digits, - and _",
		    table);
		return NULL;
	}
	n = xcalloc(1, sizeof(*n));
	n->ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	if (n->ctx == NULL) {
		nft_seterr(err, errlen, "nft_ctx_new failed");
		free(n);
		return NULL;
	}
	if (nft_ctx_buffer_output(n->ctx) != 0 || nft_ctx_buffer_error(n->ctx) != 0) {
		nft_seterr(err, errlen, "cannot buffer libnftables output");
		nft_ctx_free(n->ctx);
		free(n);
		return NULL;
	}
	str_copy(n->table, sizeof(n->table), table);
	buf_init(&n->cmd, NFT_CMD_MAX);
	return n;
}

void nft_close(struct nft *n)
{
	if (n == NULL)
		return;
	nft_fast_close(n);
	nft_ctx_free(n->ctx);
	buf_free(&n->cmd);
	free(n);
}

/* ---- rules: ports, protocol, blocktype ---- */

struct prange {
	unsigned lo, hi;
};

static int prange_cmp(const void *a, const void *b)
{
	const struct prange *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* One port: a number or a service name looked up for proto. */
static int port_value(const char *s, const char *proto, unsigned *out)
{
	struct servent *se;
	char *end;

	if (isdigit((unsigned char)*s)) {
		unsigned long v = strtoul(s, &end, 10);
		if (*end != '\0' || v > 65535)
			return -1;
		*out = (unsigned)v;
		return 0;
	}
	/* the protocol's own entry, else any (services lists http as tcp only) */
	se = getservbyname(s, strcmp(proto, "udp") == 0 ? "udp" : "tcp");
	if (se == NULL)
		se = getservbyname(s, NULL);
	if (se == NULL)
		return -1;
	*out = ntohs((uint16_t)se->s_port);
	return 0;
}

/*
 * fail2ban's port list into nft's "25, 465, 1000-2000" in dst. *all is set
 * (and dst empty) when the list covers every port.
 */
static int parse_ports(const char *port, const char *proto, char *dst, size_t dlen,
    int *all, char *err, size_t errlen)
{
	struct prange r[256];
	size_t nr = 0, o = 0;
	char *copy, *save = NULL;
	int rc = 0;

	*all = 0;
	dst[0] = '\0';
	if (port == NULL || *port == '\0') {
		*all = 1;
		return 0;
	}
	copy = xstrdup(port);
	for (char *t = strtok_r(copy, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
		char *colon = strchr(t, ':');
		if (nr == sizeof(r) / sizeof(r[0])) {
			nft_seterr(err, errlen, "port '%s': more than %zu entries", port, nr);
			rc = -1;
			break;
		}
		if (colon)
			*colon = '\0';
		if (port_value(t, proto, &r[nr].lo) < 0 ||
		    port_value(colon ? colon + 1 : t, proto, &r[nr].hi) < 0 ||
		    r[nr].hi < r[nr].lo) {
			nft_seterr(err, errlen, "port '%s': bad port or unknown service '%s%s%s'",
			    port, t, colon ? ":" : "", colon ? colon + 1 : "");
			rc = -1;
			break;
		}
		nr++;
	}
	free(copy);
	if (rc < 0)
		return -1;
	if (nr == 0) {
		*all = 1;
		return 0;
	}
	qsort(r, nr, sizeof(r[0]), prange_cmp);
	size_t m = 0;		/* merge overlapping or adjacent ranges */
	for (size_t i = 1; i < nr; i++) {
		if (r[i].lo <= r[m].hi + 1) {
			if (r[i].hi > r[m].hi)
				r[m].hi = r[i].hi;
		} else
			r[++m] = r[i];
	}
	nr = m + 1;
	if (nr == 1 && r[0].lo <= 1 && r[0].hi == 65535) {
		*all = 1;
		return 0;
	}
	for (size_t i = 0; i < nr; i++) {
		int w = r[i].lo == r[i].hi ?
		    snprintf(dst + o, dlen - o, "%s%u", i ? ", " : "", r[i].lo) :
		    snprintf(dst + o, dlen - o, "%s%u-%u", i ? ", " : "", r[i].lo, r[i].hi);
		if (w < 0 || (size_t)w >= dlen - o) {
			nft_seterr(err, errlen, "port '%s': list too long", port);
			return -1;
		}
		o += (size_t)w;
	}
	return 0;
}

static const char *const protocols[] = { "tcp", "udp", "sctp", "dccp", "all" };

static int check_blocktype(const char *b)
{
	if (strcmp(b, "drop") == 0 || strcmp(b, "reject") == 0)
		return 0;
	if (strncmp(b, "reject with ", 12) != 0)
		return -1;
	for (b += 12; *b; b++)
		if (!islower((unsigned char)*b) && !isdigit((unsigned char)*b) &&
		    *b != ' ' && *b != '-')
			return -1;
	return 0;
}

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 14695981039346656037ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* The jail's two rules (rules[0] v4, rules[1] v6) and their tag hash. */
static int make_rules(const char *id, const char *port, const char *protocol,
    const char *blocktype, char rules[2][2048], uint64_t *hash, char *err, size_t errlen)
{
	char ports[1536], l4[64] = "", dport[1600] = "", both[4200];
	int all, ok = 0;

	if (protocol == NULL || *protocol == '\0')
		protocol = "tcp";
	if (blocktype == NULL || *blocktype == '\0')
		blocktype = "drop";
	for (size_t i = 0; i < sizeof(protocols) / sizeof(protocols[0]); i++)
		ok |= strcmp(protocol, protocols[i]) == 0;
	if (!ok) {
		nft_seterr(err, errlen, "protocol '%s': use tcp, udp, sctp, dccp or all", protocol);
		return -1;
	}
	if (check_blocktype(blocktype) < 0) {
		nft_seterr(err, errlen, "blocktype '%s': use drop, reject or reject with ...",
		    blocktype);
		return -1;
	}
	if (parse_ports(port, protocol, ports, sizeof(ports), &all, err, errlen) < 0)
		return -1;
	if (!all)
		snprintf(dport, sizeof(dport), "th dport { %s } ", ports);
	if (strcmp(protocol, "all") != 0)
		snprintf(l4, sizeof(l4), "meta l4proto %s ", protocol);
	else if (!all)		/* ports only exist for these */
		snprintf(l4, sizeof(l4), "meta l4proto { tcp, udp, sctp, dccp } ");
	snprintf(rules[0], sizeof(rules[0]), "%s%sip saddr @%s_v4 %s", l4, dport, id, blocktype);
	snprintf(rules[1], sizeof(rules[1]), "%s%sip6 saddr @%s_v6 %s", l4, dport, id, blocktype);
	snprintf(both, sizeof(both), "%s\n%s", rules[0], rules[1]);
	*hash = fnv1a(both);
	return 0;
}

/* ---- reading the ruleset back ---- */

static int table_exists(struct nft *n, int *exists, char *err, size_t errlen)
{
	const char *out, *p;
	char want[128];
	size_t wl;

	if (nft_run(n, "list tables", 0, &out, "list tables", err, errlen) < 0)
		return -1;
	wl = (size_t)snprintf(want, sizeof(want), "table inet %s", n->table);
	*exists = 0;
	for (p = out; *p; p += strcspn(p, "\n"), p += *p == '\n') {
		if (strncmp(p, want, wl) == 0 && (p[wl] == '\n' || p[wl] == '\0'))
			*exists = 1;
	}
	return 0;
}

struct jrules {
	unsigned long handle[16];
	uint64_t hash[16];
	size_t n;
};

/* The jail's rules in the input chain: the ones tagged mailwarden:<id>:. */
static int find_rules(struct nft *n, const char *id, struct jrules *jr,
    char *err, size_t errlen)
{
	char cmd[256], tag[NFT_IDENT_MAX + 32];
	const char *out, *p;

	snprintf(cmd, sizeof(cmd), "list chain inet %s input", n->table);
	if (nft_run(n, cmd, NFT_CTX_OUTPUT_HANDLE, &out, "list chain", err, errlen) < 0)
		return -1;
	snprintf(tag, sizeof(tag), "comment \"" COMMENT_TAG "%s:", id);
	jr->n = 0;
	for (p = out; *p; p += strcspn(p, "\n"), p += *p == '\n') {
		size_t ll = strcspn(p, "\n");
		const char *t = strstr(p, tag), *h = strstr(p, "# handle ");
		if (t == NULL || t > p + ll || h == NULL || h > p + ll)
			continue;
		if (jr->n == sizeof(jr->handle) / sizeof(jr->handle[0])) {
			nft_seterr(err, errlen, "jail %s: too many tagged rules in chain input", id);
			return -1;
		}
		jr->hash[jr->n] = strtoull(t + strlen(tag), NULL, 16);
		jr->handle[jr->n++] = strtoul(h + 9, NULL, 10);
	}
	return 0;
}

static int add_skeleton(struct nft *n, const char *id)
{
	const char *t = n->table;
	return buf_printf(&n->cmd, "add table inet %s\n"
	    "add chain inet %s input " CHAIN_SPEC "\n"
	    "add set inet %s %s_v4 " SET_SPEC_V4 "\n"
	    "add set inet %s %s_v6 " SET_SPEC_V6 "\n", t, t, t, id, t, id);
}

int nft_jail_setup(struct nft *n, const char *jail, const char *port,
    const char *protocol, const char *blocktype, char *err, size_t errlen)
{
	char id[NFT_IDENT_MAX], rules[2][2048];
	uint64_t hash;
	struct jrules jr;
	size_t same = 0;

	if (nft_ident(jail, id, err, errlen) < 0 ||
	    make_rules(id, port, protocol, blocktype, rules, &hash, err, errlen) < 0)
		return -1;
	if (add_skeleton(n, id) < 0 || nft_run_cmd(n, "create table and sets", err, errlen) < 0)
		return -1;
	if (find_rules(n, id, &jr, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < jr.n; i++)
		same += jr.hash[i] == hash;
	if (jr.n == 2 && same == 2)
		return 0;
	for (size_t i = 0; i < jr.n; i++)
		buf_printf(&n->cmd, "delete rule inet %s input handle %lu\n", n->table,
		    jr.handle[i]);
	for (int i = 0; i < 2; i++)
		buf_printf(&n->cmd, "add rule inet %s input %s comment \"" COMMENT_TAG
		    "%s:%016llx\"\n", n->table, rules[i], id, (unsigned long long)hash);
	return nft_run_cmd(n, "add rules", err, errlen);
}

int nft_jail_teardown(struct nft *n, const char *jail, char *err, size_t errlen)
{
	char id[NFT_IDENT_MAX];
	struct jrules jr;
	int exists;

	if (nft_ident(jail, id, err, errlen) < 0 || table_exists(n, &exists, err, errlen) < 0)
		return -1;
	if (!exists)
		return 0;
	/* add-then-delete makes the deletes succeed whether or not they exist */
	if (add_skeleton(n, id) < 0 || nft_run_cmd(n, "create table and sets", err, errlen) < 0)
		return -1;
	if (find_rules(n, id, &jr, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < jr.n; i++)
		buf_printf(&n->cmd, "delete rule inet %s input handle %lu\n", n->table,
		    jr.handle[i]);
	buf_printf(&n->cmd, "delete set inet %s %s_v4\ndelete set inet %s %s_v6\n",
	    n->table, id, n->table, id);
	return nft_run_cmd(n, "remove rules and sets", err, errlen);
}

int nft_destroy(struct nft *n, char *err, size_t errlen)
{
	char cmd[128];
	int exists;

	if (table_exists(n, &exists, err, errlen) < 0)
		return -1;
	if (!exists)
		return 0;
	snprintf(cmd, sizeof(cmd), "delete table inet %s", n->table);
	return nft_run(n, cmd, 0, NULL, "delete table", err, errlen);
}
