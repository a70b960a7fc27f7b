/*
 * anvil — what Postfix's anvil server counts for its smtpd processes, per
 * client network (smtpd_client_ipv4_prefix_length and
 * smtpd_client_ipv6_prefix_length): open sessions (for
 * smtpd_client_connection_count_limit) and, over anvil_rate_time_unit,
 * connections, MAIL and RCPT requests and new TLS sessions (for the
 * smtpd_client_*_rate_limit keys). One seeded chained hash; a fixed
 * window per client as Postfix's anvil (all of a client's rates restart
 * together when its window is older than the unit). An entry goes when
 * its last session has ended and its window has expired; a sweep runs
 * once per unit. At ANVIL_MAX entries new clients are not rate-counted
 * (logged once per unit); open-session counts are always kept, so the
 * table never holds more than ANVIL_MAX + open sessions entries.
 * The table is the engine's (struct anvil_table), passed by the caller.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/util.h"
#include "smtp/anvil.h"

#define ANVIL_MAX	100000		/* rate-counted clients; ~100 bytes each */

struct anvil_ent {
	struct anvil_ent *next;
	unsigned count;			/* open sessions */
	uint64_t start;			/* rate window start (clock_mono_ms) */
	unsigned rate[ANVIL_NRATES];
	char key[];
};


/* addr's network by the prefix lengths: "192.0.2.1", "2001:db8::/64". */
void anvil_key(const struct anvil_table *t, const char *addr, char *key, size_t len)
{
	unsigned char a[16];
	char text[INET6_ADDRSTRLEN];
	int v6 = strchr(addr, ':') != NULL;
	long plen = v6 ? t->v6_prefix : t->v4_prefix;
	long full = v6 ? 128 : 32;
	if (plen >= full || inet_pton(v6 ? AF_INET6 : AF_INET, addr, a) != 1) {
		str_copy(key, len, addr);
		return;
	}
	for (long bit = plen; bit < full; bit++)
		a[bit / 8] &= (unsigned char)~(0x80u >> (bit % 8));
	if (inet_ntop(v6 ? AF_INET6 : AF_INET, a, text, sizeof(text)) == NULL) {
		str_copy(key, len, addr);
		return;
	}
	if (snprintf(key, len, "%s/%ld", text, plen) >= (int)len)
		str_copy(key, len, addr);
}

static struct anvil_ent **slot(struct anvil_table *t, const char *key)
{
	if (t->seed == 0)
		t->seed = hash_seed() | 1;
	struct anvil_ent **pp = &t->bucket[hash_bytes(key, strlen(key), t->seed) % ANVIL_BUCKETS];
	while (*pp && strcmp((*pp)->key, key) != 0)
		pp = &(*pp)->next;
	return pp;
}

static int expired(const struct anvil_table *t, const struct anvil_ent *e, uint64_t now)
{
	return now - e->start >= (uint64_t)t->unit_ms;
}

/* Drop entries with no open session and an expired window. */
static void sweep(struct anvil_table *t, uint64_t now)
{
	if (now - t->last_sweep < (uint64_t)t->unit_ms && t->nents < ANVIL_MAX)
		return;
	t->last_sweep = now;
	t->full_logged = 0;
	for (size_t b = 0; b < ANVIL_BUCKETS; b++)
		for (struct anvil_ent **pp = &t->bucket[b]; *pp; ) {
			struct anvil_ent *e = *pp;
			if (e->count == 0 && expired(t, e, now)) {
				*pp = e->next;
				free(e);
				t->nents--;
			} else {
				pp = &e->next;
			}
		}
}

/* The entry of key; created if create (NULL when the table is full). */
static struct anvil_ent *get(struct anvil_table *t, const char *key, int create)
{
	uint64_t now = clock_mono_ms();
	struct anvil_ent **pp = slot(t, key);
	if (*pp == NULL && create) {
		sweep(t, now);
		pp = slot(t, key);
		if (t->nents >= ANVIL_MAX && create < 2) {
			if (!t->full_logged)
				log_warn("anvil: %d clients counted: new clients are not rate-counted "
				    "until older ones expire", ANVIL_MAX);
			t->full_logged = 1;
			return NULL;
		}
		size_t n = strlen(key) + 1;
		*pp = xcalloc(1, sizeof(**pp) + n);
		memcpy((*pp)->key, key, n);
		(*pp)->start = now;
		t->nents++;
	}
	struct anvil_ent *e = *pp;
	if (e && expired(t, e, now)) {
		e->start = now;
		memset(e->rate, 0, sizeof(e->rate));
	}
	return e;
}

/* A session of key opens: its open-session count. */
unsigned anvil_open(struct anvil_table *t, const char *key)
{
	return ++get(t, key, 2)->count;	/* 2: a session is always counted */
}

/* Sessions of key open now. */
unsigned anvil_count(struct anvil_table *t, const char *key)
{
	struct anvil_ent *e = *slot(t, key);
	return e ? e->count : 0;
}

/* A session of key ends. */
void anvil_close(struct anvil_table *t, const char *key)
{
	struct anvil_ent **pp = slot(t, key);
	if (*pp == NULL || (*pp)->count == 0)
		return;
	if (--(*pp)->count == 0 && expired(t, *pp, clock_mono_ms())) {
		struct anvil_ent *e = *pp;
		*pp = e->next;
		free(e);
		t->nents--;
	}
}

/* Rate r of key in its window, after adding one if add (0 if not counted). */
unsigned anvil_rate(struct anvil_table *t, const char *key, enum anvil_rate r, int add)
{
	struct anvil_ent *e = get(t, key, add);
	if (e == NULL)
		return 0;
	if (add)
		e->rate[r]++;
	return e->rate[r];
}

/* Client networks in the table. */
size_t anvil_clients(const struct anvil_table *t)
{
	return t->nents;
}

/* Free every entry (tests, the fuzzer between inputs). */
void anvil_clear(struct anvil_table *t)
{
	for (size_t b = 0; b < ANVIL_BUCKETS; b++)
		while (t->bucket[b]) {
			struct anvil_ent *e = t->bucket[b];
			t->bucket[b] = e->next;
			free(e);
		}
	t->nents = 0;
}
