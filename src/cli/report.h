/*
 * report — `mailwarden report`'s parts (report.c runs them): the mail
 * log and the ban log read into hourly series and tallies
 * (report_parse.c), drawn as inline SVG in one HTML page (report_svg.c),
 * with the queue's real size at report time when its directory is
 * readable (report.c).
 * Internal to src/cli/report*.c.
 */
#ifndef MW_REPORT_H
#define MW_REPORT_H
#include <stddef.h>
#include <stdio.h>
#include <time.h>

enum rp_series { RS_IN, RS_OUT, RS_REJECTED, RS_BOUNCED, RS_AUTH, RS_QUEUE, RS__N };
#define RP_JAILS 16		/* jails drawn by name; more are summed as "other" */
#define RP_QDIRS 4		/* maildrop, incoming, deferred, hold */

/* Counts per key (prefixes, login names, reject reasons). */
struct rp_tally {
	char **key;
	long *n;
	size_t cap, used;
};

struct report {
	time_t start;		/* the first hour shown (on the hour) */
	time_t now;
	size_t nhours;
	long *series[RS__N];	/* per hour; RS_QUEUE: -1 = no event that hour */
	char *jail[RP_JAILS];
	long *bans[RP_JAILS];
	size_t njails;
	struct rp_tally prefixes, logins, reasons;
	long queue;		/* running queue size (log-derived) */
	/* the queue directory read at report time (not from the log) */
	int qstate;		/* 0 not tried, 1 read, -1 not readable (qwhy) */
	long qnow[RP_QDIRS];	/* messages per directory of rp_qdirs */
	char qdir[256], qwhy[300];
	long lines, used;	/* lines read, lines counted */
};

/* Set up the hours from now - since to now. */
void report_init(struct report *r, time_t now, long since);
void report_free(struct report *r);
/* Count one log line (mail log or fail2ban log format). */
void report_line(struct report *r, const char *line);
/* Read every line of f. */
void report_read(struct report *r, FILE *f);
/* Add n to key in t. */
void rp_tally_add(struct rp_tally *t, const char *key, long n);
/* The keys of t sorted by count, most first (the caller frees the array). */
size_t rp_tally_sorted(const struct rp_tally *t, size_t **order);
/* The queue's directories, in rp_qdirs order (report.c). */
extern const char *const rp_qdirs[RP_QDIRS];
/* The whole page on out. */
void report_html(const struct report *r, const char *title, FILE *out);
#endif
