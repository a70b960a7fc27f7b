/*
 * ini — fail2ban's INI dialect, one module for filter.d, action.d and the
 * jail sections: a table of (section, key, value, file, line); files read
 * as fail2ban's configparser reads them (sections, continuation lines,
 * `#`/`;` comments, [INCLUDES] before/after, NAME.conf then NAME.local
 * along a list of directories (an included X.conf followed by its
 * X.local), an overridden value kept as
 * %(known/key)s); configparser's %(name)s interpolation with fail2ban's
 * `section/name` and `known/name` forms; `<tag>` substitution, single
 * pass with run-time values or fail2ban's substituteRecursiveTags, always
 * bounded. What a caller differs in (where a name is looked up, what is an
 * error) is given in a struct ini_scope, not coded in another reader.
 */
#ifndef MW_WARDEN_INI_H
#define MW_WARDEN_INI_H
#include <stddef.h>

#include "common/buf.h"

#define INI_MAXOPT 512		/* options kept per table read from files
				 * (unless max says otherwise); more are dropped */

/* One option as read: section, key, raw value, where. */
struct ini_opt {
	char *sec, *key, *val, *file;
	int line;
};

/* A table; all zero is an empty one. */
struct ini {
	struct ini_opt *o;
	int n, cap;
	int max;		/* options kept: 0 = INI_MAXOPT, -1 = no bound */
	int icase;		/* keys compared ignoring case (jail sections) */
};

/* Where files and their includes are looked for: dirs in order, then
 * (if builtin is set) the texts it returns ("common.conf" -> text). */
struct ini_src {
	const char *const *dirs;	/* NULL-terminated, may be NULL */
	const char *(*builtin)(const char *file);	/* NULL: none */
};

/* Last value of key in section sec, or NULL. */
struct ini_opt *ini_get(const struct ini *ini, const char *sec, const char *key);
/* Set sec/key (replacing a value, keeping its place). */
void ini_set(struct ini *ini, const char *sec, const char *key,
    const char *val, const char *file, int line);
/* Free the options (the table may be reused, empty). */
void ini_free(struct ini *ini);
/* Read NAME.conf and NAME.local (includes resolved along src). 1 read,
 * 0 not found, -1 and "FILE:LINE: message" in err. *where gets the dir
 * used ("" for a built-in). */
int ini_read_name(struct ini *ini, const struct ini_src *src, const char *name,
    char *where, size_t wlen, char *err, size_t errlen);
/* The text of the file path (at most 4 MiB) into *text (malloc'ed): 1,
 * 0 no such file, -1 and "FILE:0: message" in err. */
int ini_read_file(const char *path, char **text, char *err, size_t errlen);
/* Parse one file's text (path names it in messages) into ini, with its
 * [INCLUDES] along src; text is modified. 0, or -1 and err. */
int ini_read_text(struct ini *ini, const struct ini_src *src, const char *path,
    char *text, char *err, size_t errlen);

/* ---- %(name)s interpolation (ini_interp.c) ---- */

/* What is an error rather than text kept as written. */
#define INI_ERR_UNKNOWN	 0x01	/* undefined name, unterminated or bad %( */
#define INI_ERR_LONE_PCT 0x02	/* a % not followed by ( or % */
#define INI_ERR_TOOLONG	 0x04	/* the result over the buffer's maximum */
#define INI_LOOP_CHAIN	 0x08	/* a name met again while expanding: loop */

/* Where %(name)s is looked up from section sec, and the bounds. */
struct ini_scope {
	const struct ini *ini;
	/* sections searched after sec (NULL-terminated list, or NULL) */
	const char *const *(*fallback)(const char *sec);
	const char *name;	/* %(__name__)s when not an option, or NULL */
	unsigned flags;		/* INI_ERR_*, INI_LOOP_CHAIN */
	int maxdepth;		/* nested expansions before INI_E_DEPTH */
	unsigned *budget;	/* expansions left (NULL: no bound); at 0 the
				 * rest is kept as written */
};

enum ini_errkind {
	INI_E_UNKNOWN = 1,	/* %(name)s not defined */
	INI_E_SYNTAX,		/* unterminated %(, or a lone % (at) */
	INI_E_BADNAME,		/* empty or overlong name (at) */
	INI_E_LOOP,		/* chain: "a -> b -> a" */
	INI_E_DEPTH,		/* deeper than maxdepth */
	INI_E_TOOLONG,
};

/* Why an interpolation failed, for the caller's own message. */
struct ini_err {
	enum ini_errkind kind;
	char name[128];		/* the name concerned */
	char at[512];		/* the text where the syntax broke */
	char chain[400];	/* INI_E_LOOP: "x -> y -> x" */
	const struct ini_opt *where;	/* the value being expanded, or NULL */
};

/* The option name resolves to from sec: `s/x` (section s, then DEFAULT),
 * `known/x` (the value before sec's last override, then DEFAULT), else
 * sec, sc->fallback(sec), DEFAULT. *in gets the section to go on
 * expanding in. NULL if none. */
const struct ini_opt *ini_resolve(const struct ini_scope *sc, const char *sec,
    const char *name, char *in, size_t inlen);
/* Interpolate v (as seen from sec) into out; 0, or -1 and *e. where
 * names the option v came from (may be NULL). */
int ini_interp(const struct ini_scope *sc, const char *sec, const char *v,
    const struct ini_opt *where, struct buf *out, struct ini_err *e);

/* ---- <tag> substitution (ini_interp.c) ---- */

/* What a tag resolves to: val (NULL: unknown, kept as written). */
struct ini_tag {
	const char *val;
	char *owned;		/* val if allocated: freed after use */
	int final;		/* insert as is (no tags substituted inside) */
};
typedef void (*ini_tag_fn)(void *arg, const char *name, struct ini_tag *t);

/* Single pass, each value substituted recursively (action commands):
 * a tag is `<` up to the next `>`, at most 64 bytes; a value not final is
 * first %(x)s-interpolated in sc (may be NULL) from sec, each counting
 * against sc->budget. Beyond maxdepth, or once the budget is spent, tags
 * are kept as written. */
void ini_tags(const char *v, ini_tag_fn fn, void *arg, const struct ini_scope *sc,
    const char *sec, int maxdepth, struct buf *out);
/* fail2ban's substituteRecursiveTags for one value: passes until nothing
 * changes (at most maxpass), tags of [A-Za-z0-9_/-] only, never `self`;
 * nested tags such as <a_<b>> resolve inside out. Returns a new string. */
char *ini_tags_recursive(const char *v, const char *self, ini_tag_fn fn, void *arg,
    int maxpass);
#endif
