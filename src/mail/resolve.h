/*
 * resolve — where a recipient address goes (Postfix's trivial-rewrite and
 * the alias expansion of local(8)/cleanup(8), in one place).
 *
 * Classes, in Postfix's order of address classes:
 *   domain in mydestination (or localhost)   -> local: local part (minus
 *        the recipient_delimiter extension) must be in local_recipient_maps
 *        (default "unix:passwd.byname $alias_maps")
 *   address/domain in virtual_alias_maps      -> virtual alias
 *   domain in virtual_mailbox_domains         -> virtual mailbox: address in
 *        virtual_mailbox_maps (value = path under virtual_mailbox_base,
 *        trailing '/' = Maildir) or in virtual_alias_maps
 *   anything else                             -> relay (outbound queue)
 *
 * The smtp engine uses resolve_check() at RCPT time; the queue process uses
 * resolve_expand() at delivery time. Both see the same maps. Maps are opened
 * in resolve_open() (before chroot), so both work after chroot.
 */
#ifndef MW_RESOLVE_H
#define MW_RESOLVE_H
#include <stddef.h>

struct config;
struct resolver;

enum resolve_class {
	RESOLVE_LOCAL,		/* local user or alias in mydestination */
	RESOLVE_VIRTUAL,	/* virtual mailbox */
	RESOLVE_ALIAS,		/* virtual alias (expands to others) */
	RESOLVE_RELAY,		/* not ours: outbound */
	RESOLVE_UNKNOWN,	/* ours, but no such user: reject 550 5.1.1 */
	RESOLVE_RELAY_DOMAIN,	/* relay_domains: accepted, forwarded (backup MX) */
};

/* Open every map the resolver needs; NULL + message on error. */
struct resolver *resolve_open(const struct config *cfg, char *err, size_t errlen);
void resolve_free(struct resolver *r);

/*
 * Classify a recipient for RCPT. For RESOLVE_UNKNOWN, *table is set to the
 * Postfix table name for the reply text: "local recipient table",
 * "virtual mailbox table" or "virtual alias table", giving
 * "550 5.1.1 <a@b>: Recipient address rejected: User unknown in TABLE".
 */
enum resolve_class resolve_check(const struct resolver *r, const char *addr,
    const char **table);

/* 1 if addr's domain is one mailwarden is the final destination for
 * (mydestination or localhost, virtual_alias_domains,
 * virtual_mailbox_domains: Postfix's RESOLVE_CLASS_FINAL), else 0. */
int resolve_is_final(const struct resolver *r, const char *addr);

/* One final destination after alias expansion. */
enum dest_kind {
	DEST_MAILDIR,		/* deliver into path (a Maildir, ends in '/') */
	DEST_MBOX,		/* path is an mbox file (virtual map without '/'): deferred for now */
	DEST_RELAY,		/* outbound: smtp via transport_maps/relayhost/MX */
	DEST_BOUNCE,		/* no such user / loop: bounce reason in .reason */
	DEST_DEFER,		/* cannot deliver now (config problem): .reason */
	DEST_LMTP,		/* mailbox_transport/virtual_transport: .path = "lmtp:..." */
};

struct dest {
	enum dest_kind kind;
	char *addr;		/* final address, for "to=<...>" */
	char *orig;		/* original recipient, for "orig_to=<...>" */
	char *path;		/* absolute mailbox path */
	char *box;		/* DEST_MAILDIR: the local user's name, or the
				 * virtual mailbox path under virtual_mailbox_base;
				 * what the local delivery process is asked for */
	char *service;		/* "local" or "virtual": log name and relay= */
	long uid, gid;		/* deliver as this user; -1 = the process's own */
	char *reason;		/* for DEST_BOUNCE and DEST_DEFER */
};

/* Expand one recipient through aliases and virtual aliases (loops are
 * detected and give DEST_BOUNCE) into *out (an array of *n entries; free
 * with resolve_dests_free). 0 ok, -1 temporary error. */
int resolve_expand(const struct resolver *r, const char *addr,
    struct dest **out, size_t *n);
/* The same with flags: RESOLVE_NO_VIRTUAL_ALIAS leaves virtual_alias_maps
 * out (receive_override_options = no_address_mappings, as Postfix's
 * cleanup; aliases(5) still apply, as in Postfix's local delivery). */
#define RESOLVE_NO_VIRTUAL_ALIAS	1
int resolve_expand_flags(const struct resolver *r, const char *addr, int flags,
    struct dest **out, size_t *n);
void resolve_dests_free(struct dest *d, size_t n);

/* The virtual mailbox of addr as this process's maps give it (the local
 * delivery process checks a request with it): *rel is the map value
 * without leading '/', *uid and *gid its owner (-1: the process's own).
 * 0 ok; -1 with why (not a virtual mailbox, bad map values, uid below
 * virtual_minimum_uid). */
int resolve_virtual_box(const struct resolver *r, const char *addr, const char **rel,
    long *uid, long *gid, char *why, size_t whylen);
/* virtual_mailbox_base, absolute, without trailing '/' ("" if unset). */
const char *resolve_vbase(const struct resolver *r);
#endif
