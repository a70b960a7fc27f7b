/*
 * actcmd — the command lines of a fail2ban action.d command action,
 * built exactly as fail2ban 1.0.2 builds them (actcmd_read.c: the client
 * side, actcmd.c: the server side), for actions.c
 * and `mailwarden action-test`: the client's ActionReader (configparser
 * %(x)s with the jail's values as vars, [Init] and [Init?family=inet6]
 * options, `known/` values, substituteRecursiveTags with section/option
 * look-ups such as <ipt_<type>/_chain_rule>) gives the action's
 * properties; the server's CommandAction then resolves a command's
 * static tags for an address family (replaceTag) and its dynamic ones
 * (replaceDynamicTags: a value with a shell-special character becomes a
 * $f2bV_tag variable, passed as an argument of sh -c, never as text).
 */
#ifndef MW_WARDEN_ACTCMD_H
#define MW_WARDEN_ACTCMD_H
#include <stddef.h>

#include "warden/ini.h"
#include "warden/jail.h"

/* A string map in insertion order (a Python dict of str). */
struct actcmd_map {
	struct actcmd_kv {
		char *k, *v;
	} *e;
	size_t n, cap;
};

/* Value of key k, or NULL. */
const char *actcmd_get(const struct actcmd_map *m, const char *k);
/* Set k (replacing its value in place, or appended). */
void actcmd_set(struct actcmd_map *m, const char *k, const char *v);
void actcmd_map_free(struct actcmd_map *m);

/* fail2ban's name of action ref in jail j (ActionReader: actname, else
 * the file name, with name's suffix when name is not the jail's). */
void actcmd_actname(const struct jail *j, const struct jail_ref *ref, char *out, size_t len);
/* The properties of the action ref of jail j read from ini (what
 * fail2ban-client sends the server). 0, or -1 and err (a %(x)s that
 * names nothing, tags that name themselves). */
int actcmd_props(const struct ini *ini, const struct jail *j, const struct jail_ref *ref,
    struct actcmd_map *props, char *err, size_t errlen);

/* The run-time values of one ban (fail2ban's ActionInfo). */
struct actcmd_info {
	const char *ip;		/* "" for start/stop */
	const char *family;	/* "inet4", "inet6" or "" */
	long failures, bantime, bancount;
	double time;		/* <time>: seconds, as Python's float */
	int restored;
	const char *matches;	/* may be NULL */
	const char *user;	/* <F-USER>, may be NULL */
};

/* One command to run: /bin/sh -c text with argv[0..nargv) after it. */
struct actcmd_cmd {
	char *text;
	char **argv;
	size_t nargv;
};

/* The command of property key ("actionban") for family ("" none), with
 * info's dynamic tags (info NULL: only <family>, as fail2ban's check).
 * 0 and cmd (text NULL when the command is empty), or -1 and err. */
int actcmd_build(const struct actcmd_map *props, const char *key, const char *family,
    const struct actcmd_info *info, struct actcmd_cmd *cmd, char *err, size_t errlen);
void actcmd_cmd_free(struct actcmd_cmd *cmd);
/* <ip-host>'s resolver: 1 and ip's name in out ("None" if it has none),
 * or 0 while it is being looked up (out holds "None" then). */
typedef int actcmd_host_fn(const char *ip, char *out, size_t len);
/* Resolve <ip-host> with fn (NULL: getnameinfo, blocking). */
void actcmd_set_host(actcmd_host_fn *fn);
/* How many <ip-host> names were not ready so far (a build that raised it
 * holds "None" for one: the caller builds it again once resolved). */
unsigned long actcmd_host_waits(void);
/* The families the action's commands differ for: {"inet4", "inet6"} if
 * it has [Init?family=...] options, else {""}; *on_demand: start per
 * family at its first ban (actionstart_on_demand, or the same default). */
size_t actcmd_families(const struct actcmd_map *props, const char *fam[2], int *on_demand);
/* Tags left in text that nothing resolves ("<x>", space separated) into
 * out; 0 if none. For check-config. */
int actcmd_unresolved(const char *text, char *out, size_t outlen);
#endif
