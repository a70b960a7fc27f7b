/*
 * anvil — open sessions per client address, for
 * smtpd_client_connection_count_limit (what Postfix's anvil server counts
 * for its smtpd processes). A chained hash of the addresses that have a
 * session open; an entry goes when its last session ends, so the table
 * holds at most one entry per open session.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "smtp/smtpd.h"

#define ANVIL_BUCKETS	4096

struct conn_count {
	struct conn_count *next;
	unsigned count;
	char addr[];
};

static struct conn_count *bucket[ANVIL_BUCKETS];
static uint64_t seed;

static struct conn_count **slot(const char *addr)
{
	struct conn_count **pp = &bucket[hash_bytes(addr, strlen(addr), seed) % ANVIL_BUCKETS];
	while (*pp && strcmp((*pp)->addr, addr) != 0)
		pp = &(*pp)->next;
	return pp;
}

unsigned anvil_open(const char *addr)
{
	if (seed == 0)
		seed = hash_seed() | 1;
	struct conn_count **pp = slot(addr);
	if (*pp == NULL) {
		size_t n = strlen(addr) + 1;
		*pp = xcalloc(1, sizeof(**pp) + n);
		memcpy((*pp)->addr, addr, n);
	}
	return ++(*pp)->count;
}

unsigned anvil_count(const char *addr)
{
	struct conn_count **pp = slot(addr);
	return *pp ? (*pp)->count : 0;
}

void anvil_close(const char *addr)
{
	struct conn_count **pp = slot(addr);
	if (*pp == NULL)
		return;
	if (--(*pp)->count == 0) {
		struct conn_count *e = *pp;
		*pp = e->next;
		free(e);
	}
}
