/*
 * check — `mailwarden check-config` and the check before start and
 * reload: main.cf itself is checked as it loads (common/config.c, the
 * parameter table); then each subsystem checks what only it can, one
 * table row each, in order, the first failure reported.
 */
#include <stddef.h>

#include "common/config.h"
#include "master/master.h"
#include "policy/restrict.h"
#include "queue/nexthop.h"
#include "smtp/engine.h"
#include "warden/warden.h"

typedef int check_fn(const struct config *cfg, char *err, size_t errlen);

static const struct {
	const char *what;
	check_fn *fn;
} checks[] = {
	{ "restriction lists", restrict_lists_check },	/* policy/restrict_lists.c */
	{ "queue manager next hops", nexthop_check },	/* queue/nexthop.c */
	{ "smtp engine TLS and AUTH", engine_check },	/* smtp/engine_check.c */
	{ "ban engine jails", warden_check },		/* warden/warden.c */
};

int master_check(const struct config *cfg, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(checks) / sizeof(*checks); i++)
		if (checks[i].fn(cfg, err, errlen) < 0)
			return -1;
	return 0;
}
