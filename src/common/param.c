/*
 * param — the table machinery shared by every table of options: a row
 * (struct param: name, type, default, range, choices, help) is checked
 * through a vocabulary (a row per type -> check function; main.cf's in
 * config_check.c, the jails' fail2ban one in warden/jailval.c), found by
 * name, or found as the option a mistyped name was meant to be.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "common/config.h"
#include "common/util.h"

int param_check(const struct param_vocab *voc, const struct param *p, const char *v,
    const void *ctx, long *num, char *msg, size_t len)
{
	long dummy;
	for (; voc->check_fn != NULL; voc++)
		if (voc->type == p->type)
			return voc->check_fn(p, v, ctx, num ? num : &dummy, msg, len);
	snprintf(msg, len, "%s: no check for this type", p->name);
	return -1;
}

const struct param *param_find(const struct param *table, const char *name, int icase)
{
	for (; table->name != NULL; table++)
		if (icase ? str_ieq(table->name, name) : strcmp(table->name, name) == 0)
			return table;
	return NULL;
}

/* Optimal string alignment distance of a and b (case ignored), or a
 * number above max as soon as it must be. */
static size_t slips(const char *a, const char *b, size_t max)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64 || (la > lb ? la - lb : lb - la) > max)
		return max + 1;
	size_t d[65][65];
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t k = 0; k <= lb; k++)
		d[0][k] = k;
	for (size_t i = 1; i <= la; i++)
		for (size_t k = 1; k <= lb; k++) {
			size_t cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[k - 1]);
			size_t m = d[i - 1][k] + 1;
			if (d[i][k - 1] + 1 < m)
				m = d[i][k - 1] + 1;
			if (d[i - 1][k - 1] + cost < m)
				m = d[i - 1][k - 1] + cost;
			if (i > 1 && k > 1 && tolower((unsigned char)a[i - 1]) ==
			    tolower((unsigned char)b[k - 2]) && tolower((unsigned char)a[i - 2]) ==
			    tolower((unsigned char)b[k - 1]) && d[i - 2][k - 2] + 1 < m)
				m = d[i - 2][k - 2] + 1;
			d[i][k] = m;
		}
	return d[la][lb];
}

const struct param *param_near(const struct param *table, const char *name)
{
	const struct param *best = NULL;
	size_t bestd = 3;
	for (; table->name != NULL; table++) {
		size_t max = strlen(table->name) < 6 ? 1 : 2;
		size_t dist = slips(table->name, name, max);
		if (dist > 0 && dist <= max && dist < bestd) {
			best = table;
			bestd = dist;
		}
	}
	return best;
}

