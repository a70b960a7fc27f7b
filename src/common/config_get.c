/*
 * config_get — lookups in a loaded configuration. Values were expanded and
 * type-checked at load (config.c), so a getter cannot fail; asking for a
 * parameter that does not exist is a programming error (fatal).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/config_int.h"
#include "common/log.h"
#include "common/map.h"
#include "common/util.h"

const char *config_path(const struct config *cfg)
{
	return cfg->path;
}

const char *config_get(const struct config *cfg, const char *name)
{
	return cfg->val[config_must_index(name)];
}

const char *config_get_role(const struct config *cfg, const char *role, const char *name)
{
	int i = config_must_index(name);
	int r = config_role_index(cfg, role);

	if (r < 0)
		fatal("config: no listener role named %s", role);
	return cfg->rval[r][i] ? cfg->rval[r][i] : cfg->val[i];
}

static long to_int(const char *v)
{
	long n = 0;
	config_parse_int(v, &n);
	return n;
}

static long to_time(const char *v)
{
	long n = 0;
	config_parse_time(v, &n);
	return n;
}

static long to_size(const char *v)
{
	long n = 0;
	config_parse_size(v, &n);
	return n;
}

long config_get_int(const struct config *cfg, const char *name)
{
	return to_int(config_get(cfg, name));
}

int config_get_bool(const struct config *cfg, const char *name)
{
	return config_parse_bool(config_get(cfg, name)) == 1;
}

long config_get_time(const struct config *cfg, const char *name)
{
	return to_time(config_get(cfg, name));
}

long config_get_size(const struct config *cfg, const char *name)
{
	return to_size(config_get(cfg, name));
}

long config_get_role_int(const struct config *cfg, const char *role, const char *name)
{
	return to_int(config_get_role(cfg, role, name));
}

int config_get_role_bool(const struct config *cfg, const char *role, const char *name)
{
	return config_parse_bool(config_get_role(cfg, role, name)) == 1;
}

long config_get_role_time(const struct config *cfg, const char *role, const char *name)
{
	return to_time(config_get_role(cfg, role, name));
}

long config_get_role_size(const struct config *cfg, const char *role, const char *name)
{
	return to_size(config_get_role(cfg, role, name));
}

int config_line(const struct config *cfg, const char *name)
{
	return cfg->set[config_must_index(name)].line;
}

int config_role_line(const struct config *cfg, int r, size_t i)
{
	if (r < 0 || r >= NROLES || i >= cfg->nparams || cfg->rset[r][i].raw == NULL)
		return 0;
	return cfg->rset[r][i].line;
}

int config_is_set(const struct config *cfg, const char *name)
{
	return cfg->set[config_must_index(name)].raw != NULL;
}

struct maplist *config_maplist(const struct config *cfg, const char *name,
    char *err, size_t errlen)
{
	return maplist_open_aliases(config_get(cfg, name), config_get(cfg, "alias_maps"),
	    err, errlen);
}

size_t config_nsections(const struct config *cfg)
{
	return cfg->nsections;
}

const struct config_section *config_section(const struct config *cfg, size_t i)
{
	return i < cfg->nsections ? &cfg->sections[i] : NULL;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(config_params[*(const int *)a].name, config_params[*(const int *)b].name);
}

void config_print_set(const struct config *cfg, FILE *fp)
{
	int *idx = xcalloc(cfg->nparams + 1, sizeof(*idx));
	for (size_t i = 0; i < cfg->nparams; i++)
		idx[i] = (int)i;
	qsort(idx, cfg->nparams, sizeof(*idx), name_cmp);
	for (size_t k = 0; k < cfg->nparams; k++)
		if (cfg->set[idx[k]].raw != NULL)
			fprintf(fp, "%s = %s\n", config_params[idx[k]].name, cfg->set[idx[k]].raw);
	for (int r = 0; r < NROLES; r++)
		for (size_t k = 0; k < cfg->nparams; k++)
			if (cfg->rset[r][idx[k]].raw != NULL)
				fprintf(fp, "%s/inet/%s = %s\n", config_role_name(cfg, r),
				    r >= CONFIG_NBUILTIN && idx[k] == config_must_index("smtpd_listen") ?
				    "listen" : config_params[idx[k]].name, cfg->rset[r][idx[k]].raw);
	free(idx);
}
