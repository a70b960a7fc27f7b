/*
 * anvil — what Postfix's anvil server counts for the smtp engine, per
 * client network: open sessions and rates over anvil_rate_time_unit.
 * The table is the engine's (struct engine's anvil); tests make their own.
 */
#ifndef MW_SMTP_ANVIL_H
#define MW_SMTP_ANVIL_H
#include <stddef.h>
#include <stdint.h>

/* The counters of one engine (see anvil_key). */
#define ANVIL_BUCKETS	16384
struct anvil_ent;
struct anvil_table {
	struct anvil_ent *bucket[ANVIL_BUCKETS];
	uint64_t seed;
	size_t nents;
	uint64_t last_sweep;
	int full_logged;
	long v4_prefix, v6_prefix;	/* smtpd_client_ipv{4,6}_prefix_length */
	long unit_ms;			/* anvil_rate_time_unit */
};


/* Per client network (see anvil_key). Open sessions: +1 at
 * accept, -1 at the end of the session. */
enum anvil_rate { ANVIL_CONN, ANVIL_MAIL, ANVIL_RCPT, ANVIL_NEWTLS, ANVIL_NRATES };
/* The client's network as text ("192.0.2.1", "2001:db8::/64"). */
void anvil_key(const struct anvil_table *a, const char *addr, char *key, size_t len);
unsigned anvil_open(struct anvil_table *a, const char *key);
unsigned anvil_count(struct anvil_table *a, const char *key);
void anvil_close(struct anvil_table *a, const char *key);
/* Rate in the current anvil_rate_time_unit, after adding one if add. */
unsigned anvil_rate(struct anvil_table *a, const char *key, enum anvil_rate r, int add);
/* Clients in the table (for tests and logs). */
size_t anvil_clients(const struct anvil_table *a);
/* Free every entry (tests). */
void anvil_clear(struct anvil_table *a);
#endif
