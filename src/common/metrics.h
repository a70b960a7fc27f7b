/*
 * metrics — the counters every process keeps for the Prometheus
 * exporter (docs/metrics.md). The master maps one shared anonymous page
 * before it forks its children (metrics_init); each child adds to it
 * with atomic operations and no system call, and the master's HTTP
 * responder (src/master/metrics_http.c) reads it. Outside a master (the
 * command-line tools, unit tests without metrics_init) every call is a
 * no-op.
 *
 * Adding a metric is one METRICS() line: its enum name, its Prometheus
 * name, kind, label name (NULL: none), bucket set and help text.
 */
#ifndef MW_METRICS_H
#define MW_METRICS_H
#include <stddef.h>
#include <stdint.h>

struct buf;

enum metric_kind { MK_COUNTER, MK_GAUGE, MK_HISTOGRAM };
enum metric_buckets { MB_NONE, MB_DNS, MB_DELAY };

#define METRICS(X) \
	X(M_CONNECTIONS,    "mailwarden_smtpd_connections_total",        MK_COUNTER,   "listener", MB_NONE,  "SMTP connections accepted, by listener role") \
	X(M_REJECTS,        "mailwarden_smtpd_rejects_total",            MK_COUNTER,   "reason",   MB_NONE,  "SMTP commands and connections refused, by reason") \
	X(M_AUTH_FAILURES,  "mailwarden_smtpd_auth_failures_total",      MK_COUNTER,   NULL,       MB_NONE,  "Failed SMTP AUTH attempts") \
	X(M_TLS_SESSIONS,   "mailwarden_smtpd_tls_sessions_total",       MK_COUNTER,   NULL,       MB_NONE,  "Completed TLS handshakes (STARTTLS and smtps)") \
	X(M_MSG_RECEIVED,   "mailwarden_messages_received_total",        MK_COUNTER,   "source",   MB_NONE,  "Messages queued, by source (smtpd, pickup)") \
	X(M_MSG_DELIVERED,  "mailwarden_messages_delivered_total",       MK_COUNTER,   NULL,       MB_NONE,  "Recipients delivered (local, LMTP or relayed)") \
	X(M_MSG_DEFERRED,   "mailwarden_messages_deferred_total",        MK_COUNTER,   NULL,       MB_NONE,  "Recipients deferred for a later retry") \
	X(M_MSG_BOUNCED,    "mailwarden_messages_bounced_total",         MK_COUNTER,   NULL,       MB_NONE,  "Recipients bounced (permanent failure or expired)") \
	X(M_QUEUE_SIZE,     "mailwarden_queue_messages",                 MK_GAUGE,     "queue",    MB_NONE,  "Messages in the queue, by queue (active, deferred)") \
	X(M_DELIVERY_DELAY, "mailwarden_delivery_delay_seconds",         MK_HISTOGRAM, NULL,       MB_DELAY, "Time from arrival to final delivery of a recipient") \
	X(M_BANS_ACTIVE,    "mailwarden_bans_active",                    MK_GAUGE,     "jail",     MB_NONE,  "Addresses banned now, by jail") \
	X(M_BANS_TOTAL,     "mailwarden_bans_total",                     MK_COUNTER,   "jail",     MB_NONE,  "Bans made since start, by jail") \
	X(M_FAILURES,       "mailwarden_jail_failures_total",            MK_COUNTER,   "jail",     MB_NONE,  "Failures counted by the ban engine, by jail") \
	X(M_DNS_LATENCY,    "mailwarden_dns_query_duration_seconds",     MK_HISTOGRAM, NULL,       MB_DNS,   "DNS query latency (answers from the network, not the cache)") \
	X(M_DNS_ERRORS,     "mailwarden_dns_errors_total",               MK_COUNTER,   "error",    MB_NONE,  "DNS queries that failed, by error (timeout, servfail, other)") \
	X(M_CLUSTER_UP,     "mailwarden_cluster_connected",              MK_GAUGE,     "connection", MB_NONE, "Redis cluster connections up (1) or down (0), by connection (cmd, sub)") \
	X(M_CLUSTER_MSGS,   "mailwarden_cluster_messages_total",         MK_COUNTER,   "kind",     MB_NONE,  "Cluster messages: published, received (from other nodes), applied (bans taken)") \
	X(M_CLUSTER_NODES,  "mailwarden_cluster_nodes_seen",             MK_GAUGE,     NULL,       MB_NONE,  "Other cluster nodes seen (a message or key of theirs) since start") \
	X(M_CLUSTER_SYNC,   "mailwarden_cluster_last_sync_timestamp_seconds", MK_GAUGE, NULL,      MB_NONE,  "Unix time the last pull of the cluster's keys from Redis ended") \
	X(M_CLUSTER_CLOCK,  "mailwarden_cluster_clock_offset_seconds",   MK_GAUGE,     NULL,       MB_NONE,  "Redis's clock (TIME) minus this node's, in seconds")

#define METRIC_ENUM_(id, name, kind, label, buckets, help) id,
enum metric_id { METRICS(METRIC_ENUM_) M__COUNT };
#undef METRIC_ENUM_

#define METRIC_LABEL_MAX   47	/* bytes of one label value */
#define METRIC_SLOTS       64	/* label values per metric; more go to "other" */
#define METRIC_BUCKETS_MAX 12

/* Map the shared page (master, once, before forking); 0 or -1. */
int metrics_init(void);
/* Whether the page exists (this process was forked by a master). */
int metrics_enabled(void);
/* Add n to a counter (label NULL for an unlabelled metric). */
void metrics_add(enum metric_id id, const char *label, uint64_t n);
/* Add one to a counter. */
void metrics_inc(enum metric_id id, const char *label);
/* Set a gauge. */
void metrics_set(enum metric_id id, const char *label, int64_t v);
/* Add delta (may be negative) to a gauge. */
void metrics_gauge_add(enum metric_id id, const char *label, int64_t delta);
/* Record one observation of a histogram, in seconds. */
void metrics_observe(enum metric_id id, const char *label, double seconds);
/* The reject reason label of an SMTP reply or reject log line ("relay",
 * "dnsbl", "recipient", ...; "other"): shared by the engine and `report`. */
const char *metrics_reject_reason(const char *reply);
/* Append the Prometheus text exposition of every metric; -1 past b's max. */
int metrics_render(struct buf *b);
#endif
