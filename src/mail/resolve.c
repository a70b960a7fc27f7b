/*
 * resolve — recipient classification (RCPT time, smtp engine) and alias
 * expansion (delivery time, queue process), with Postfix's semantics:
 *   - addresses are case-insensitive; recipient_delimiter splits user+ext
 *     and lookups try the full local part first, then the base;
 *   - virtual_alias_maps are tried for every address, in Postfix order:
 *     user+ext@dom, user@dom, (local domains only) user+ext, user, @dom;
 *     an unmatched extension is propagated into the result;
 *   - local domains (mydestination, "localhost") use alias_maps (aliases(5))
 *     then the passwd user (HOME/home_mailbox, as that user);
 *   - virtual_mailbox_domains use virtual_mailbox_maps under
 *     virtual_mailbox_base, owner from virtual_uid_maps/virtual_gid_maps.
 * Expansion is recursive (depth <= RESOLVE_MAX_DEPTH). An address that comes
 * back in its own ancestry is not expanded again: it is delivered to its own
 * mailbox when it has one (root: root, alice), else bounced as a "mail
 * forwarding loop". Identical final destinations are delivered once.
 * All maps are read into memory by resolve_open(), so this works after
 * chroot and costs no I/O per message.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "common/map.h"
#include "common/util.h"
#include "mail/resolve.h"

#define RESOLVE_MAX_DEPTH	20	/* alias nesting, as the brief and Postfix */
#define RESOLVE_MAX_DESTS	1000	/* expansion size: more is a config error */
#define ADDR_MAX		1024

struct resolver {
	struct domlist *mydest;		/* mydestination (+ "localhost") */
	struct domlist *valias_dom;	/* virtual_alias_domains */
	struct domlist *vmbox_dom;	/* virtual_mailbox_domains */
	struct domlist *relay_dom;	/* relay_domains */
	char *mbox_transport;		/* mailbox_transport "lmtp:..." or "" */
	char *virt_transport;		/* virtual_transport "lmtp:..." or "" (= virtual) */
	struct map **lrcpt;		/* local_recipient_maps, one map each */
	size_t nlrcpt;
	int lrcpt_set;			/* local_recipient_maps non-empty */
	struct maplist *aliases;	/* alias_maps (aliases(5) syntax) */
	struct maplist *valias;		/* virtual_alias_maps */
	struct maplist *vmbox;		/* virtual_mailbox_maps */
	struct maplist *vuid, *vgid;	/* virtual_uid_maps, virtual_gid_maps */
	struct map *passwd;		/* unix:passwd.byname: "uid:gid:home" */
	char *delim;			/* recipient_delimiter characters */
	char *home_mailbox;
	char *vbase;			/* absolute virtual_mailbox_base, no trailing '/' */
	long vmin_uid;
};

/* A parsed, lowercased address: local part, its base (no extension),
 * the extension (with its delimiter) and the domain. */
struct addr {
	char full[ADDR_MAX];
	char local[ADDR_MAX];
	char base[ADDR_MAX];
	char ext[ADDR_MAX];
	char domain[ADDR_MAX];
};

static int addr_parse(const struct resolver *r, const char *in, struct addr *a)
{
	if (str_copy(a->full, sizeof(a->full), in) < 0)
		return -1;
	str_lower(a->full);
	char *at = strrchr(a->full, '@');
	size_t llen = at ? (size_t)(at - a->full) : strlen(a->full);
	if (llen >= sizeof(a->local))
		return -1;
	memcpy(a->local, a->full, llen);
	a->local[llen] = '\0';
	str_copy(a->domain, sizeof(a->domain), at ? at + 1 : "");
	size_t dl = strlen(a->domain);
	if (dl > 1 && a->domain[dl - 1] == '.')
		a->domain[dl - 1] = '\0';
	str_copy(a->base, sizeof(a->base), a->local);
	a->ext[0] = '\0';
	if (r->delim[0] != '\0' && a->local[0] != '\0') {
		size_t n = strcspn(a->local + 1, r->delim) + 1;
		if (a->local[n] != '\0') {
			str_copy(a->ext, sizeof(a->ext), a->local + n);
			a->base[n] = '\0';
		}
	}
	return 0;
}

static int is_local_domain(const struct resolver *r, const char *domain)
{
	if (domain[0] == '\0' || strcmp(domain, "localhost") == 0)
		return 1;
	if (!domlist_match(r->mydest, domain))
		return 0;
	/* mydestination wins, with Postfix's (trivial-rewrite's) warnings */
	if (domlist_match(r->valias_dom, domain))
		log_warn("do not list domain %s in BOTH mydestination and virtual_alias_domains",
		    domain);
	if (domlist_match(r->vmbox_dom, domain))
		log_warn("do not list domain %s in BOTH mydestination and virtual_mailbox_domains",
		    domain);
	return 1;
}

int resolve_is_final(const struct resolver *r, const char *addr)
{
	struct addr a;

	if (r == NULL || addr == NULL || addr_parse(r, addr, &a) < 0)
		return 0;
	return is_local_domain(r, a.domain) || domlist_match(r->valias_dom, a.domain) ||
	    domlist_match(r->vmbox_dom, a.domain);
}

/* Lookup "local@domain" in a map list. */
static const char *lookup_at(const struct maplist *ml, const char *local,
    const char *domain)
{
	char key[2 * ADDR_MAX + 2];
	int n = snprintf(key, sizeof(key), "%s@%s", local, domain);
	if (n < 0 || (size_t)n >= sizeof(key))
		return NULL;
	return maplist_lookup(ml, key);
}

/* Postfix mail_addr_find() order. *unmatched_ext is set when the hit was on
 * a key without the extension (the extension is then propagated). */
static const char *addr_find(const struct resolver *r, const struct maplist *ml,
    const struct addr *a, int localpart_too, int *unmatched_ext)
{
	const char *v;

	*unmatched_ext = 0;
	if (maplist_count(ml) == 0)
		return NULL;
	if ((v = lookup_at(ml, a->local, a->domain)) != NULL)
		return v;
	*unmatched_ext = a->ext[0] != '\0';
	if (a->ext[0] && (v = lookup_at(ml, a->base, a->domain)) != NULL)
		return v;
	if (localpart_too) {
		*unmatched_ext = 0;
		if ((v = maplist_lookup(ml, a->local)) != NULL)
			return v;
		*unmatched_ext = a->ext[0] != '\0';
		if (a->ext[0] && (v = maplist_lookup(ml, a->base)) != NULL)
			return v;
	}
	*unmatched_ext = a->ext[0] != '\0';
	return lookup_at(ml, "", a->domain);
}

static int local_rcpt_known(const struct resolver *r, const struct addr *a)
{
	char key[2 * ADDR_MAX + 2];
	const char *keys[4];
	size_t nk = 0;

	if (!r->lrcpt_set)
		return 1;	/* local_recipient_maps = (empty): accept all */
	/* Postfix accepts these even when no table lists them. */
	if (strcmp(a->base, "postmaster") == 0 || strcmp(a->base, "mailer-daemon") == 0)
		return 1;
	keys[nk++] = a->local;
	if (a->ext[0])
		keys[nk++] = a->base;
	if (snprintf(key, sizeof(key), "%s@%s", a->local, a->domain) < (int)sizeof(key))
		keys[nk++] = key;
	for (size_t m = 0; m < r->nlrcpt; m++)
		for (size_t k = 0; k < nk; k++)
			if (map_lookup(r->lrcpt[m], keys[k]) != NULL)
				return 1;
	return 0;
}

/* The virtual mailbox of a: the map value, or NULL. */
static const char *vmbox_find(const struct resolver *r, const struct addr *a)
{
	int unm;
	return addr_find(r, r->vmbox, a, 0, &unm);
}

enum resolve_class resolve_check(const struct resolver *r, const char *addr,
    const char **table)
{
	struct addr a;
	int unm;

	*table = "local recipient table";
	if (addr_parse(r, addr, &a) < 0)
		return RESOLVE_UNKNOWN;
	int local = is_local_domain(r, a.domain);
	if (addr_find(r, r->valias, &a, local, &unm) != NULL)
		return RESOLVE_ALIAS;
	if (local)
		return local_rcpt_known(r, &a) ? RESOLVE_LOCAL : RESOLVE_UNKNOWN;
	if (domlist_match(r->valias_dom, a.domain)) {
		*table = "virtual alias table";
		return RESOLVE_UNKNOWN;
	}
	if (domlist_match(r->vmbox_dom, a.domain)) {
		*table = "virtual mailbox table";
		return vmbox_find(r, &a) ? RESOLVE_VIRTUAL : RESOLVE_UNKNOWN;
	}
	if (domlist_match(r->relay_dom, a.domain))
		return RESOLVE_RELAY_DOMAIN;
	return RESOLVE_RELAY;
}

/* ---- expansion ---- */

struct expansion {
	const struct resolver *r;
	const char *orig;
	struct dest *d;
	size_t n, cap;
	const char *stack[RESOLVE_MAX_DEPTH + 2];	/* ancestry keys */
	size_t depth;
	int overflow;
	int flags;		/* RESOLVE_NO_VIRTUAL_ALIAS */
};

static struct dest *dest_add(struct expansion *x, enum dest_kind kind, const char *addr,
    const char *path, const char *service, long uid, long gid, const char *reason)
{
	/* Identical destinations are delivered once. */
	for (size_t i = 0; i < x->n; i++) {
		const struct dest *o = &x->d[i];
		if (o->kind == kind && strcmp(o->addr, addr) == 0 &&
		    strcmp(o->path ? o->path : "", path ? path : "") == 0)
			return NULL;
	}
	if (x->n >= RESOLVE_MAX_DESTS) {
		x->overflow = 1;
		return NULL;
	}
	if (x->n == x->cap) {
		x->cap = x->cap ? x->cap * 2 : 4;
		x->d = xrealloc(x->d, x->cap * sizeof(*x->d));
	}
	struct dest *d = &x->d[x->n++];
	d->kind = kind;
	d->addr = xstrdup(addr);
	d->orig = xstrdup(x->orig);
	d->path = path ? xstrdup(path) : NULL;
	d->service = xstrdup(service);
	d->uid = uid;
	d->gid = gid;
	d->reason = reason ? xstrdup(reason) : NULL;
	d->box = NULL;
	return d;
}

static void dest_addf(struct expansion *x, enum dest_kind kind, const char *addr,
    const char *service, const char *fmt, const char *arg)
{
	char why[ADDR_MAX + 128];
	snprintf(why, sizeof(why), fmt, arg);
	dest_add(x, kind, addr, NULL, service, -1, -1, why);
}

static int in_ancestry(const struct expansion *x, const char *key)
{
	for (size_t i = 0; i < x->depth; i++)
		if (strcmp(x->stack[i], key) == 0)
			return 1;
	return 0;
}

static long num_value(const char *v, long dflt)
{
	if (v == NULL)
		return dflt;
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || end == v || n < 0)
		return -2;	/* bad value: caller defers */
	return n;
}

/* Mailbox delivery of a local user (no alias applies). */
static void deliver_local_user(struct expansion *x, const struct addr *a, int looped)
{
	const struct resolver *r = x->r;
	const char *pw = map_lookup(r->passwd, a->base);
	char path[PATH_MAX], fresh[PATH_MAX + 64];
	unsigned long uid, gid;
	int off = 0;

	if (pw == NULL) {
		/* An account made after start (the queue process can look). */
		struct passwd *p = getpwnam(a->base);
		if (p != NULL && snprintf(fresh, sizeof(fresh), "%lu:%lu:%s",
		    (unsigned long)p->pw_uid, (unsigned long)p->pw_gid,
		    p->pw_dir ? p->pw_dir : "") < (int)sizeof(fresh))
			pw = fresh;
	}
	if (pw == NULL) {
		if (looped)
			dest_addf(x, DEST_BOUNCE, a->full, "local", "mail forwarding loop for %s", a->full);
		else
			dest_addf(x, DEST_BOUNCE, a->full, "local", "unknown user: \"%s\"", a->base);
		return;
	}
	if (sscanf(pw, "%lu:%lu:%n", &uid, &gid, &off) != 2 || off == 0) {
		dest_addf(x, DEST_DEFER, a->full, "local", "bad passwd entry for %s", a->base);
		return;
	}
	const char *home = pw + off;
	int n;
	if (r->mbox_transport[0] != '\0') {	/* mailbox_transport = lmtp:... */
		dest_add(x, DEST_LMTP, a->full, r->mbox_transport, "lmtp", (long)uid, (long)gid, NULL);
		return;
	}
	if (r->home_mailbox[0] == '\0')
		n = snprintf(path, sizeof(path), "/var/mail/%s", a->base);
	else if (r->home_mailbox[0] == '/')
		n = snprintf(path, sizeof(path), "%s", r->home_mailbox);
	else
		n = snprintf(path, sizeof(path), "%s%s%s", home,
		    home[0] && home[strlen(home) - 1] == '/' ? "" : "/", r->home_mailbox);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		dest_addf(x, DEST_DEFER, a->full, "local", "mailbox path too long for %s", a->base);
		return;
	}
	enum dest_kind k = path[strlen(path) - 1] == '/' ? DEST_MAILDIR : DEST_MBOX;
	struct dest *d = dest_add(x, k, a->full, path, "local", (long)uid, (long)gid,
	    k == DEST_MBOX ? "mbox delivery is not implemented yet" : NULL);
	if (d != NULL)
		d->box = xstrdup(a->base);
}

/* The checks of a virtual mailbox shared by expansion and the local
 * delivery process: map value, owner, path. */
static int virtual_box(const struct resolver *r, const struct addr *a, const char **rel,
    long *uid, long *gid, char *why, size_t whylen)
{
	const char *v = vmbox_find(r, a);
	int unm;

	if (v == NULL) {
		snprintf(why, whylen, "%s is not in virtual_mailbox_maps", a->full);
		return -1;
	}
	*uid = num_value(addr_find(r, r->vuid, a, 0, &unm), -1);
	*gid = num_value(addr_find(r, r->vgid, a, 0, &unm), -1);
	if (*uid == -2 || *gid == -2 || (*uid >= 0 && *uid < r->vmin_uid)) {
		snprintf(why, whylen, "bad virtual_uid_maps/virtual_gid_maps result for %s", a->full);
		return -1;
	}
	while (*v == '/')
		v++;
	*rel = v;
	if (r->vbase[0] == '\0' || strstr(v, "..") ||
	    strlen(r->vbase) + strlen(v) + 2 > PATH_MAX) {
		snprintf(why, whylen, "bad virtual mailbox path for %s (check virtual_mailbox_base)",
		    a->full);
		return -1;
	}
	return 0;
}

int resolve_virtual_box(const struct resolver *r, const char *addr, const char **rel,
    long *uid, long *gid, char *why, size_t whylen)
{
	struct addr a;

	if (addr_parse(r, addr, &a) < 0) {
		snprintf(why, whylen, "address too long");
		return -1;
	}
	if (!domlist_match(r->vmbox_dom, a.domain)) {
		snprintf(why, whylen, "%s is not in virtual_mailbox_domains", a.full);
		return -1;
	}
	return virtual_box(r, &a, rel, uid, gid, why, whylen);
}

const char *resolve_vbase(const struct resolver *r)
{
	return r->vbase;
}

static void deliver_virtual(struct expansion *x, const struct addr *a, int looped)
{
	const struct resolver *r = x->r;
	char path[PATH_MAX], why[ADDR_MAX + 128];
	const char *v;
	long uid, gid;

	if (vmbox_find(r, a) == NULL) {
		if (looped)
			dest_addf(x, DEST_BOUNCE, a->full, "virtual", "mail forwarding loop for %s", a->full);
		else
			dest_addf(x, DEST_BOUNCE, a->full, "virtual", "unknown user: \"%s\"", a->full);
		return;
	}
	if (r->virt_transport[0] != '\0') {	/* virtual_transport = lmtp:... */
		dest_add(x, DEST_LMTP, a->full, r->virt_transport, "lmtp", -1, -1, NULL);
		return;
	}
	if (virtual_box(r, a, &v, &uid, &gid, why, sizeof(why)) < 0) {
		dest_add(x, DEST_DEFER, a->full, NULL, "virtual", -1, -1, why);
		return;
	}
	int n = snprintf(path, sizeof(path), "%s/%s", r->vbase, v);
	enum dest_kind k = path[n - 1] == '/' ? DEST_MAILDIR : DEST_MBOX;
	struct dest *d = dest_add(x, k, a->full, path, "virtual", uid, gid,
	    k == DEST_MBOX ? "mbox delivery is not implemented yet" : NULL);
	if (d != NULL)
		d->box = xstrdup(v);
}

static void expand(struct expansion *x, const char *addr);

/* Expand every item of an alias value ("a, b, user@other"). Bare names
 * stay in dom_for_bare (the alias's own local domain). */
static void expand_list(struct expansion *x, const char *value, const char *ext,
    const char *dom_for_bare)
{
	char *copy = xstrdup(value);
	char *save = NULL;

	for (char *it = strtok_r(copy, ", \t\r\n", &save); it != NULL;
	    it = strtok_r(NULL, ", \t\r\n", &save)) {
		size_t len = strlen(it);
		if (len >= 2 && it[0] == '"' && it[len - 1] == '"') {
			it[len - 1] = '\0';
			it++;
		}
		if (*it == '\0')
			continue;
		if (*it == '/') {
			dest_add(x, DEST_MBOX, it, it, "local", -1, -1,
			    "delivery to a file is not implemented yet");
			continue;
		}
		char target[ADDR_MAX];
		const char *at = strrchr(it, '@');
		int n;
		if (ext[0] != '\0') {	/* propagate the unmatched extension */
			size_t ll = at ? (size_t)(at - it) : strlen(it);
			n = snprintf(target, sizeof(target), "%.*s%s@%s", (int)ll, it, ext,
			    at ? at + 1 : dom_for_bare);
		} else {
			n = snprintf(target, sizeof(target), "%s%s%s", it, at ? "" : "@",
			    at ? "" : dom_for_bare);
		}
		if (n < 0 || (size_t)n >= sizeof(target)) {
			dest_addf(x, DEST_BOUNCE, it, "local", "address too long: %s", it);
			continue;
		}
		expand(x, target);
	}
	free(copy);
}

/* Deliver a to its own mailbox, without alias expansion (looped: a came
 * back in its own ancestry, so "no mailbox" means a forwarding loop). */
static void deliver_final(struct expansion *x, const struct addr *a, int local, int looped)
{
	const struct resolver *r = x->r;

	if (local)
		deliver_local_user(x, a, looped);
	else if (domlist_match(r->valias_dom, a->domain)) {
		if (looped)
			dest_addf(x, DEST_BOUNCE, a->full, "virtual", "mail forwarding loop for %s", a->full);
		else
			dest_addf(x, DEST_BOUNCE, a->full, "virtual",
			    "User unknown in virtual alias table%s", "");
	} else if (domlist_match(r->vmbox_dom, a->domain))
		deliver_virtual(x, a, looped);
	else
		dest_add(x, DEST_RELAY, a->full, NULL, "smtp", -1, -1, NULL);
}

static void expand(struct expansion *x, const char *addrstr)
{
	const struct resolver *r = x->r;
	struct addr a;
	char vkey[ADDR_MAX + 3], akey[ADDR_MAX + 3];
	int unm;

	if (x->overflow)
		return;
	if (addr_parse(r, addrstr, &a) < 0) {
		dest_addf(x, DEST_BOUNCE, addrstr, "local", "address too long%s", "");
		return;
	}
	int local = is_local_domain(r, a.domain);
	if (a.domain[0] == '\0') {	/* bare name: a local user */
		str_copy(a.domain, sizeof(a.domain), "localhost");
		int n = snprintf(a.full, sizeof(a.full), "%s@localhost", a.local);
		if (n < 0 || (size_t)n >= sizeof(a.full)) {
			dest_addf(x, DEST_BOUNCE, addrstr, "local", "address too long%s", "");
			return;
		}
	}
	if (x->depth > RESOLVE_MAX_DEPTH) {
		dest_addf(x, DEST_BOUNCE, a.full, local ? "local" : "virtual",
		    "mail forwarding loop for %s (alias nesting too deep)", a.full);
		return;
	}
	snprintf(vkey, sizeof(vkey), "v:%s", a.full);
	snprintf(akey, sizeof(akey), "a:%s", a.base);
	int looped = in_ancestry(x, vkey) || (local && in_ancestry(x, akey));
	if (looped) {
		/* Seen before on this path: its own mailbox, or a loop. */
		deliver_final(x, &a, local, 1);
		return;
	}
	const char *v = x->flags & RESOLVE_NO_VIRTUAL_ALIAS ? NULL :
	    addr_find(r, r->valias, &a, local, &unm);
	if (v != NULL) {
		x->stack[x->depth++] = vkey;
		expand_list(x, v, unm ? a.ext : "", local ? a.domain : "localhost");
		x->depth--;
		return;
	}
	if (local) {
		const char *av = maplist_lookup(r->aliases, a.local);
		if (av == NULL && a.ext[0])
			av = maplist_lookup(r->aliases, a.base);
		if (av != NULL) {
			x->stack[x->depth++] = akey;
			expand_list(x, av, "", a.domain);
			x->depth--;
			return;
		}
	}
	deliver_final(x, &a, local, 0);
}

int resolve_expand(const struct resolver *r, const char *addr,
    struct dest **out, size_t *n)
{
	return resolve_expand_flags(r, addr, 0, out, n);
}

int resolve_expand_flags(const struct resolver *r, const char *addr, int flags,
    struct dest **out, size_t *n)
{
	struct expansion x;

	memset(&x, 0, sizeof(x));
	x.r = r;
	x.orig = addr;
	x.flags = flags;
	expand(&x, addr);
	if (x.overflow) {
		resolve_dests_free(x.d, x.n);
		x.d = NULL;
		x.n = x.cap = 0;
		x.overflow = 0;
		dest_addf(&x, DEST_DEFER, addr, "local",
		    "unreasonable alias expansion size for %s", addr);
	}
	*out = x.d;
	*n = x.n;
	return 0;
}

void resolve_dests_free(struct dest *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(d[i].addr);
		free(d[i].orig);
		free(d[i].path);
		free(d[i].box);
		free(d[i].service);
		free(d[i].reason);
	}
	free(d);
}

/* ---- open/free ---- */

/* Open each local_recipient_maps entry on its own: the alias_maps among
 * them are in aliases(5) syntax, the others are ordinary tables. */
static int open_lrcpt(struct resolver *r, const struct config *cfg, char *err, size_t errlen)
{
	char **items = config_list(config_get(cfg, "local_recipient_maps"));
	char **al = config_list(config_get(cfg, "alias_maps"));
	int rc = 0;
	size_t cnt = 0;

	while (items[cnt] != NULL)
		cnt++;
	r->lrcpt = xcalloc(cnt ? cnt : 1, sizeof(*r->lrcpt));
	r->lrcpt_set = cnt > 0;
	for (size_t i = 0; i < cnt; i++) {
		int flags = 0;
		for (size_t j = 0; al[j] != NULL; j++)
			if (strcmp(al[j], items[i]) == 0)
				flags = MAP_ALIASES;
		struct map *m = map_open(items[i], flags, err, errlen);
		if (m == NULL) {
			rc = -1;
			break;
		}
		r->lrcpt[r->nlrcpt++] = m;
	}
	config_list_free(items);
	config_list_free(al);
	return rc;
}

static char *abs_path(const char *p)
{
	char cwd[PATH_MAX], out[PATH_MAX];
	size_t len = strlen(p);

	while (len > 1 && p[len - 1] == '/')
		len--;
	if (p[0] == '/' || p[0] == '\0' || getcwd(cwd, sizeof(cwd)) == NULL)
		return xstrndup(p, len);
	if (p[0] == '.' && p[1] == '/') {
		p += 2;
		len -= 2;
	}
	int n = snprintf(out, sizeof(out), "%s/%.*s", cwd, (int)len, p);
	if (n < 0 || (size_t)n >= sizeof(out))
		return xstrndup(p, len);
	return xstrdup(out);
}

struct resolver *resolve_open(const struct config *cfg, char *err, size_t errlen)
{
	struct resolver *r = xcalloc(1, sizeof(*r));

	r->delim = xstrdup(config_get(cfg, "recipient_delimiter"));
	r->home_mailbox = xstrdup(config_get(cfg, "home_mailbox"));
	r->vbase = abs_path(config_get(cfg, "virtual_mailbox_base"));
	r->vmin_uid = config_get_int(cfg, "virtual_minimum_uid");
	r->mbox_transport = xstrdup(config_get(cfg, "mailbox_transport"));
	r->virt_transport = xstrdup(config_get(cfg, "virtual_transport"));
	if (strncmp(r->mbox_transport, "lmtp:", 5) != 0)
		r->mbox_transport[0] = '\0';	/* only lmtp: replaces Maildir delivery */
	if (strncmp(r->virt_transport, "lmtp:", 5) != 0)
		r->virt_transport[0] = '\0';
	if ((r->mydest = domlist_open(config_get(cfg, "mydestination"), err, errlen)) == NULL ||
	    (r->valias_dom = domlist_open(config_get(cfg, "virtual_alias_domains"), err, errlen)) == NULL ||
	    (r->vmbox_dom = domlist_open(config_get(cfg, "virtual_mailbox_domains"), err, errlen)) == NULL ||
	    (r->relay_dom = domlist_open(config_get(cfg, "relay_domains"), err, errlen)) == NULL ||
	    open_lrcpt(r, cfg, err, errlen) < 0 ||
	    (r->aliases = maplist_open(config_get(cfg, "alias_maps"), MAP_ALIASES, err, errlen)) == NULL ||
	    (r->valias = maplist_open(config_get(cfg, "virtual_alias_maps"), 0, err, errlen)) == NULL ||
	    (r->vmbox = maplist_open(config_get(cfg, "virtual_mailbox_maps"), 0, err, errlen)) == NULL ||
	    (r->vuid = maplist_open(config_get(cfg, "virtual_uid_maps"), 0, err, errlen)) == NULL ||
	    (r->vgid = maplist_open(config_get(cfg, "virtual_gid_maps"), 0, err, errlen)) == NULL ||
	    (r->passwd = map_open("unix:passwd.byname", 0, err, errlen)) == NULL) {
		resolve_free(r);
		return NULL;
	}
	return r;
}

void resolve_free(struct resolver *r)
{
	if (r == NULL)
		return;
	domlist_free(r->mydest);
	domlist_free(r->valias_dom);
	domlist_free(r->vmbox_dom);
	if (r->relay_dom)
		domlist_free(r->relay_dom);
	free(r->mbox_transport);
	free(r->virt_transport);
	for (size_t i = 0; i < r->nlrcpt; i++)
		map_free(r->lrcpt[i]);
	free(r->lrcpt);
	maplist_free(r->aliases);
	maplist_free(r->valias);
	maplist_free(r->vmbox);
	maplist_free(r->vuid);
	maplist_free(r->vgid);
	if (r->passwd)
		map_free(r->passwd);
	free(r->delim);
	free(r->home_mailbox);
	free(r->vbase);
	free(r);
}
