/*
 * import_postfix — what the three parts of `mailwarden import-postfix`
 * share: Postfix's main.cf and master.cf as read (import_postfix_read.c),
 * the mailwarden.conf being written with one report entry per key
 * (import_postfix_map.c decides, import_postfix.c writes and checks).
 * Not for other modules.
 */
#ifndef MW_IMPORT_POSTFIX_H
#define MW_IMPORT_POSTFIX_H

#include <stddef.h>

#include "common/buf.h"

/* One main.cf key or one master.cf -o override. */
struct ipf_kv {
	char *key;
	char *value;		/* as written: $name references kept */
	int line;
};

/* One master.cf service entry. */
struct ipf_service {
	char *name;		/* [host:]port or a unix service name */
	char *type;		/* inet, unix, unix-dgram, fifo, pass */
	char *command;		/* smtpd, postscreen, pipe, ... */
	char *args;		/* the rest after -o options: flags=... argv=... */
	int line;
	struct ipf_kv *opts;	/* -o key=value */
	size_t nopts;
};

/* What the report says of a key. */
enum ipf_verdict {
	IPF_MAPPED,		/* written to mailwarden.conf */
	IPF_DROPPED,		/* harmless, left out (why) */
	IPF_UNSUPPORTED,	/* left out: what the admin loses */
};

struct ipf_rep {
	enum ipf_verdict verdict;
	char *where;		/* "main.cf line 12", "master.cf line 20 (submission)" */
	char *what;		/* the key, or "key = value" */
	char *why;		/* reason, loss, or note ("" for none) */
};

/* One line of the mailwarden.conf being written. */
struct ipf_line {
	char *text;
	int rep;		/* index into reps, or -1 (comments, blank lines) */
};

struct ipf {
	const char *dir;		/* the Postfix configuration directory */
	struct ipf_kv *main;		/* main.cf, the last definition of each key */
	size_t nmain;
	struct ipf_service *svc;	/* master.cf in file order */
	size_t nsvc;
	struct ipf_rep *reps;
	size_t nreps;
	struct ipf_line *lines;
	size_t nlines;
};

/* Read DIR/main.cf and DIR/master.cf into p; -1 and err if one cannot be
 * read (a missing master.cf is Postfix's defaults: an smtp listener). */
int ipf_read(struct ipf *p, char *err, size_t errlen);
/* The value main.cf gives key (last definition), or NULL. */
const char *ipf_main_get(const struct ipf *p, const char *key);
/* Decide every key of main.cf and master.cf: add report entries and the
 * lines of mailwarden.conf. */
void ipf_map(struct ipf *p);
/* Add a report entry; its index. why may be NULL. */
int ipf_report(struct ipf *p, enum ipf_verdict v, const char *where, const char *what,
    const char *why);
/* Add a line of mailwarden.conf tied to report entry rep (-1: none). */
void ipf_emit(struct ipf *p, const char *text, int rep);
/* Free everything p holds. */
void ipf_free(struct ipf *p);

#endif
