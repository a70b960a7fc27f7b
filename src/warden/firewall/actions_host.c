/*
 * actions_host — <ip-host> for the firewall's command actions without
 * blocking its loop: the address's PTR through the asynchronous DNS
 * (dns.h: dns_servers, dns_timeout, dns_tries; its bounded cache keeps
 * answers for their TTL and failures briefly, as fail2ban caches
 * ipToName). A name not cached yet holds that action's ban (its own
 * queue, in order) until the answer or the timeout ("None"); the other
 * actions and jails go on. action-test and check-config keep
 * getnameinfo (actcmd.c).
 */
#include <stdio.h>

#include "common/loop.h"
#include "common/util.h"
#include "dns/dns.h"
#include "warden/firewall/actcmd.h"
#include "warden/firewall/actions.h"

#define HOST_CACHE_MAX 4096	/* names kept (the firewall does no other DNS) */

static int ready_queued;

static void on_idle(void *arg)
{
	ready_queued = 0;
	actions_host_ready();
}

/* An answer: the held bans go on after this batch of events (never from
 * inside a build, where a cached answer calls back at once). */
static void on_ptr(const struct dns_result *r, void *arg)
{
	if (!ready_queued) {
		ready_queued = 1;
		loop_at_idle(on_idle, NULL);
	}
}

/* The cached name of rev: 1 (out set), or 0 if none is cached. */
static int cached(const char *rev, char *out, size_t len)
{
	const struct dns_result *r = dns_cached(rev, DNS_PTR);
	if (r == NULL)
		return 0;
	if (r->status == DNS_OK && r->n > 0)
		str_copy(out, len, r->items[0]);
	return 1;
}

static int host(const char *ip, char *out, size_t len)
{
	char rev[128];
	snprintf(out, len, "None");
	if (dns_reverse_name(ip, rev, sizeof(rev)) < 0)
		return 1;
	if (cached(rev, out, len))
		return 1;
	dns_lookup(rev, DNS_PTR, on_ptr, NULL);	/* queries in flight are shared */
	return cached(rev, out, len);
}

int actions_host_init(const struct config *cfg, char *err, size_t errlen)
{
	static int done;
	if (done)
		return 0;
	if (dns_init(cfg, err, errlen) < 0)
		return -1;
	dns_set_cache_max(HOST_CACHE_MAX);
	actcmd_set_host(host);
	done = 1;
	return 0;
}
