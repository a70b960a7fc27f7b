/*
 * config_int.h — what config.c (loading) and config_get.c (getters) share:
 * the loaded configuration's layout. Not for other modules.
 */
#ifndef MW_CONFIG_INT_H
#define MW_CONFIG_INT_H

#include <stddef.h>
#include <stdio.h>

#include "common/config.h"

#define CONF_LINE_MAX	(64 * 1024)	/* longest physical line */
#define CONF_VALUE_MAX	(1024 * 1024)	/* longest value, raw or expanded */
#define NROLES		CONFIG_NROLES

/* One explicitly set value: a global key or a per-listener override. */
struct setting {
	char *raw;		/* NULL = not set */
	char *key;		/* as written, for messages */
	int line;
};

struct config {
	char *path;
	const char *cur;		/* file being read: path or an included file */
	size_t nparams;
	char **defval;			/* [nparams] default before expansion */
	struct setting *set;		/* [nparams] global keys */
	struct setting *rset[NROLES];	/* [nparams] overrides per role */
	char **val;			/* [nparams] expanded global values */
	char **rval[NROLES];		/* [nparams] expanded override or role default */
	char *rname[NROLES];		/* named listeners' names (slots >= CONFIG_NBUILTIN) */
	struct config_section *sections;
	size_t nsections;
	int client;			/* config_load_client(): no file opened */
	FILE *report;			/* config_load_report(): errors go here */
	int nerr;			/* and are counted, the load goes on */
};

int config_param_index(const char *name);	/* -1 if unknown */
int config_must_index(const char *name);	/* fatal if unknown */
/* Slot of a role or named listener ("smtp" = smtpd); -1 if unknown. */
int config_role_index(const struct config *cfg, const char *role);

/* config_named.c: the slot of a named listener, made on its first
 * NAME/inet/KEY line; -1 with why (bad name, too many). */
int config_named_slot(struct config *cfg, const char *name, char *why, size_t whylen);
/* After the load: every named listener declared in `listeners` and with
 * NAME/inet/listen. 0, or -1 and err (report mode: printed, goes on). */
int config_check_named(struct config *cfg, char *err, size_t errlen);

/* "FILE, line N: message" into err (FILE: the file being read); -1. */
int config_err(const struct config *cfg, int line, char *err, size_t errlen,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Read one file's lines into cfg->set, cfg->rset and cfg->sections. */
int config_read_file(struct config *cfg, FILE *fp, char *err, size_t errlen);
/* [INCLUDES] and jail.d/ files, after the main file (config_include.c). */
int config_read_includes(struct config *cfg, char *err, size_t errlen);
/* In report mode an error (rc < 0, text in err) is printed, counted and
 * the load goes on (0); otherwise rc is passed through. */
int config_keep_going(struct config *cfg, int rc, const char *err);

#endif
