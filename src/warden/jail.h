/*
 * jail — the ban engine's jails as configured: fail2ban's jail.conf /
 * jail.local [DEFAULT] and [name] sections read from mailwarden.conf,
 * over fail2ban's own tree when warden_fail2ban_config is set (jailconf.c,
 * jailtree.c), the ban-time increment (bantime.c) and the addresses and
 * ban prefixes (banprefix.c). Nothing here touches the network, the firewall or
 * the database; the runtime side (counting failures, banning) uses these.
 */
#ifndef MW_WARDEN_JAIL_H
#define MW_WARDEN_JAIL_H
#include <stddef.h>

#include "common/net.h"

struct config;
struct config_section;

/* ---- ban prefixes (banprefix.c; addresses are common/net.h) ---- */

/* 1 if any network of the list (ignoreip) contains a. */
int banprefix_ignored(const struct net *list, size_t n, const struct net *a);
/*
 * The network to ban for host address a: a's /prefix4 or /prefix6,
 * narrowed so that it covers none of the ignored networks (the narrowest
 * prefix that still contains a and excludes every one of them).
 * Returns 0 with *out set; 1 if a itself is ignored (ban nothing);
 * -1 with a message if the result would be 0.0.0.0/0 or ::/0, or a prefix
 * length is out of range.
 */
int banprefix_for(const struct net *a, int prefix4, int prefix6,
    const struct net *ignore, size_t nignore, struct net *out,
    char *err, size_t errlen);

/* ---- ban time increment (bantime.c) ---- */

enum bt_kind {
	BT_FORMULA_POW2,	/* jail.conf's default: ban.Time *
				 * (1<<(ban.Count if ban.Count<20 else 20)) * banFactor */
	BT_FORMULA_EXP,		/* jail.conf's example: ban.Time *
				 * math.exp(float(ban.Count+1)*banFactor)/math.exp(1*banFactor) */
	BT_FORMULA_EXPR,	/* plain arithmetic, compiled below */
};

/* One step of a compiled arithmetic formula (postfix order). */
struct bt_op {
	int op;			/* BT_OP_* in bantime.c */
	double val;		/* for a number */
};

/* A bantime.formula (or bantime.factor) as compiled. */
struct bt_formula {
	enum bt_kind kind;
	struct bt_op *ops;	/* BT_FORMULA_EXPR only */
	size_t nops;
	int uses_maxtime;	/* mentions banMaxTime */
};

/*
 * Compile text: one of the two jail.conf formulas, or arithmetic on
 * ban.Time, ban.Count, banFactor, banMaxTime and numbers with + - * / **,
 * parentheses, min(a, b, ...) and max(a, b, ...). With vars == 0 only
 * numbers are allowed (bantime.factor = 2.0 / 2.885385). -1 and a message
 * on anything else.
 */
int bantime_compile(const char *text, int vars, struct bt_formula *f,
    char *err, size_t errlen);
/* Value of a compiled formula. */
double bantime_eval(const struct bt_formula *f, double time, double count,
    double factor, double maxtime);
/* Free what bantime_compile() allocated. */
void bantime_formula_free(struct bt_formula *f);

struct jail;
/*
 * Ban time in seconds (-1 = forever) for a new ban of an address that was
 * banned `count` times before (in this jail, or in all of them with
 * bantime.overalljails), computed as fail2ban does: without
 * bantime.increment, or for a first ban, the jail's bantime; otherwise
 * the multipliers (bantime * factor * multipliers[min(count, n-1)]) or the
 * formula (at least bantime), capped at bantime.maxtime, plus
 * rnd * bantime.rndtime. rnd in [0, 1) is the caller's random number.
 */
long bantime_next(const struct jail *j, long count, double rnd);

/* ---- jail configuration (jailconf.c) ---- */

/* One option of `name[key=value, ...]`. */
struct jail_opt {
	char *key;
	char *value;		/* quotes removed */
};

/* A filter, action or backend reference: `postfix[mode=auth]`. */
struct jail_ref {
	char *text;		/* as written, after interpolation */
	char *name;		/* "postfix" */
	struct jail_opt *opts;
	size_t nopts;
};

/* One logpath line: a path or glob pattern, kept unexpanded. */
struct jail_logpath {
	char *pattern;
	int tail;		/* "tail" suffix: start at the end of the file */
};

enum jail_backend {
	JAIL_BACKEND_INOTIFY,	/* auto, pyinotify, gamin */
	JAIL_BACKEND_POLLING,
	JAIL_BACKEND_SYSTEMD,
};

enum jail_usedns {
	JAIL_USEDNS_YES,
	JAIL_USEDNS_WARN,	/* fail2ban's default */
	JAIL_USEDNS_NO,
	JAIL_USEDNS_RAW,
};

/* Time value meaning forever (bantime = -1). */
#define JAIL_FOREVER (-1L)

/* One enabled jail with every key resolved. */
struct jail {
	char *name;
	char *file;		/* where its section starts, for messages */
	int line;

	struct jail_ref filter;
	struct jail_logpath *logpath;
	size_t nlogpath;
	enum jail_backend backend;
	struct jail_ref backend_ref;	/* backend as written, with options */
	char *journalmatch;	/* NULL if unset; lines joined with '\n' */
	char *port;		/* "0:65535" unless set */
	char *protocol;		/* "tcp" unless set */
	struct jail_ref *actions;	/* at least one: "nft" by default */
	size_t nactions;

	long bantime;		/* seconds or JAIL_FOREVER */
	long findtime;
	long maxretry;
	long maxmatches;

	struct net *ignore;	/* ignoreip addresses and networks */
	size_t nignore;
	char **ignore_hosts;	/* ignoreip host names, resolved later */
	size_t nignore_hosts;
	int ignoreself;
	enum jail_usedns usedns;
	int dryrun;		/* log "would ban", do not act */
	int prefix4;		/* ban and count by /prefix4 (default 32) */
	int prefix6;		/* and /prefix6 (default 64) */
	long maxfailed;		/* prefixes with failures kept; 0 = no cap */
	long maxbanned;		/* bans in force; 0 = no cap */
	int maxbanned_prefix4;	/* bans widened to these from 9/10 of */
	int maxbanned_prefix6;	/* maxbanned on (24 / 48) */

	/* bantime.* */
	int increment;
	double factor;
	struct bt_formula formula;
	long *multipliers;	/* NULL unless bantime.multipliers is set */
	size_t nmultipliers;
	long maxtime;		/* 0 = no cap */
	long rndtime;		/* 0 = none */
	int overalljails;

	/* warden_fail2ban_config (jailtree.c) */
	char *tree;		/* its directory when set, else NULL: the
				 * jail's filter.d and action.d are looked
				 * up there first (jailtree_dirs) */
	int tree_logpath;	/* logpath was set in the tree's files, not
				 * in mailwarden.conf (a postfix[...] jail
				 * from the tree is fed by the engine's events) */
};

/* The enabled jails of a config. */
struct jailconf {
	struct jail **jails;
	size_t njails;
};

/*
 * Read the [DEFAULT] and [name] sections of cfg into *out (the enabled
 * jails, in the order their first section appears). A section name seen
 * twice is one jail, later keys winning, as with jail.conf + jail.local.
 * With warden_fail2ban_config set, fail2ban's jail.conf, jail.d/ *.conf,
 * jail.local, jail.d/ *.local come first and cfg's sections are merged
 * over them key by key (jailtree.c).
 * The global warden_prefix4/warden_prefix6 are the prefix defaults when
 * the parameter table has them. -1 and "FILE, line N: [jail] key:
 * message" on error.
 */
int jailconf_load(const struct config *cfg, struct jailconf *out,
    char *err, size_t errlen);
/* The same from sections given directly (tests, `mailwarden scan`). */
int jailconf_parse(const struct config_section *const *secs, size_t nsecs,
    int prefix4, int prefix6, struct jailconf *out, char *err, size_t errlen);
/* Free what jailconf_load()/jailconf_parse() filled in. */
void jailconf_free(struct jailconf *jc);
/* The jail named name, or NULL. */
struct jail *jailconf_find(const struct jailconf *jc, const char *name);
/*
 * A fail2ban time value: seconds ("600", "1.5h"), units s m h d w mo y
 * (and their long forms: min, hours, days, weeks, months, years), sums
 * ("1h 30m", "1d12h", "1y-6mo"); -1 is forever. 0 and *out on success,
 * -1 if malformed.
 */
int jailconf_parse_time(const char *s, long *out);
/* Parse `name[k=v, k2="a,b"]` into r; -1 and a message if malformed. */
int jailconf_parse_ref(const char *text, struct jail_ref *r, char *err, size_t errlen);
/* Free a reference's fields. */
void jailconf_ref_free(struct jail_ref *r);
/* Value of option key of r, or NULL. */
const char *jailconf_ref_opt(const struct jail_ref *r, const char *key);
#endif
