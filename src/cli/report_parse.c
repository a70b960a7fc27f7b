/*
 * report_parse — `mailwarden report`'s reading: each line of the mail
 * log (Postfix's format as mailwarden writes it: syslog or RFC 3339 time
 * stamps) and of the ban engine's fail2ban-format log becomes a count in
 * its hour: messages received (cleanup's message-id=), delivered
 * (status=sent), bounced, rejected (with the reason the metrics use and
 * the client's prefix), AUTH failures (login name, prefix), bans per
 * jail, and a running queue size (received minus removed).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/report.h"
#include "common/metrics.h"
#include "common/net.h"
#include "common/util.h"

void report_init(struct report *r, time_t now, long since)
{
	memset(r, 0, sizeof(*r));
	r->now = now;
	r->start = (now - since) / 3600 * 3600;
	r->nhours = (size_t)((now - r->start) / 3600 + 1);
	for (int s = 0; s < RS__N; s++)
		r->series[s] = xcalloc(r->nhours, sizeof(long));
	for (size_t h = 0; h < r->nhours; h++)
		r->series[RS_QUEUE][h] = -1;
}

static void tally_free(struct rp_tally *t)
{
	for (size_t i = 0; i < t->cap; i++)
		free(t->key[i]);
	free(t->key);
	free(t->n);
}

void report_free(struct report *r)
{
	for (int s = 0; s < RS__N; s++)
		free(r->series[s]);
	for (size_t j = 0; j < r->njails; j++) {
		free(r->jail[j]);
		free(r->bans[j]);
	}
	tally_free(&r->prefixes);
	tally_free(&r->logins);
	tally_free(&r->reasons);
}

void rp_tally_add(struct rp_tally *t, const char *key, long n)
{
	if (t->used * 2 >= t->cap) {	/* grow: open addressing stays half empty */
		struct rp_tally g = { xcalloc(t->cap ? t->cap * 2 : 64, sizeof(char *)),
		    xcalloc(t->cap ? t->cap * 2 : 64, sizeof(long)), t->cap ? t->cap * 2 : 64, 0 };
		for (size_t i = 0; i < t->cap; i++)
			if (t->key[i]) {
				rp_tally_add(&g, t->key[i], t->n[i]);
				free(t->key[i]);
			}
		free(t->key);
		free(t->n);
		*t = g;
	}
	size_t i = hash_bytes(key, strlen(key), 0) & (t->cap - 1);
	while (t->key[i] && strcmp(t->key[i], key) != 0)
		i = (i + 1) & (t->cap - 1);
	if (t->key[i] == NULL) {
		t->key[i] = xstrdup(key);
		t->used++;
	}
	t->n[i] += n;
}

static const struct rp_tally *sort_t;

static int by_count(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	if (sort_t->n[x] != sort_t->n[y])
		return sort_t->n[x] < sort_t->n[y] ? 1 : -1;
	return strcmp(sort_t->key[x], sort_t->key[y]);
}

size_t rp_tally_sorted(const struct rp_tally *t, size_t **order)
{
	size_t k = 0;
	*order = xcalloc(t->used ? t->used : 1, sizeof(size_t));
	for (size_t i = 0; i < t->cap; i++)
		if (t->key[i])
			(*order)[k++] = i;
	sort_t = t;
	qsort(*order, k, sizeof(size_t), by_count);
	return k;
}

/* The time stamp at the start of line (syslog "Dec  7 13:06:28", RFC 3339
 * "2026-12-07T13:06:28...", fail2ban "2026-12-07 13:06:28,074"), its
 * end in *rest; -1 if none. A syslog stamp has no year: the one that
 * puts it not after tomorrow. */
static time_t stamp(const struct report *r, const char *line, const char **rest)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	tm.tm_isdst = -1;
	const char *e = strptime(line, "%Y-%m-%d", &tm);
	if (e && (*e == 'T' || *e == ' ') && (e = strptime(e + 1, "%H:%M:%S", &tm)) != NULL) {
		*rest = e;
		return mktime(&tm);
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_isdst = -1;
	e = strptime(line, "%b %e %H:%M:%S", &tm);
	if (e == NULL)
		return -1;
	struct tm now;
	localtime_r(&r->now, &now);
	tm.tm_year = now.tm_year;
	time_t t = mktime(&tm);
	if (t > r->now + 86400) {
		tm.tm_year--;
		tm.tm_isdst = -1;
		t = mktime(&tm);
	}
	*rest = e;
	return t;
}

/* The network an offence is counted under: IPv4 /24, IPv6 /64. */
static void prefix_of(struct report *r, const char *addr, size_t len)
{
	char a[64], out[NET_STRLEN];
	struct net n;
	if (len == 0 || len >= sizeof(a))
		return;
	memcpy(a, addr, len);
	a[len] = '\0';
	if (net_parse(a, &n) < 0)
		return;
	net_mask(&n, n.family == AF_INET ? 24 : 64);
	if (net_format(&n, 1, out, sizeof(out)) > 0)
		rp_tally_add(&r->prefixes, out, 1);
}

/* The address of " from host[addr]". */
static void client_of(struct report *r, const char *from)
{
	const char *lb = from ? strchr(from, '[') : NULL;
	const char *rb = lb ? strchr(lb, ']') : NULL;
	if (lb && rb)
		prefix_of(r, lb + 1, (size_t)(rb - lb - 1));
}

/* "warning: host[addr]: SASL ...": the address before ": SASL". */
static void auth_client(struct report *r, const char *rest)
{
	const char *sasl = strstr(rest, ": SASL ");
	if (sasl == NULL || sasl == rest || sasl[-1] != ']')
		return;
	const char *lb = sasl - 1;
	while (lb > rest && *lb != '[')
		lb--;
	if (*lb == '[')
		prefix_of(r, lb + 1, (size_t)(sasl - 1 - lb - 1));
}

static void count_ban(struct report *r, size_t h, const char *line)
{
	const char *ban = strstr(line, "] Ban ");
	const char *lb = ban;
	while (lb && lb > line && *lb != '[')
		lb--;
	if (lb == NULL || *lb != '[' || strstr(line, "Restore Ban"))
		return;
	char name[64];
	size_t n = (size_t)(ban - lb - 1);
	if (n == 0 || n >= sizeof(name))
		return;
	memcpy(name, lb + 1, n);
	name[n] = '\0';
	size_t j = 0;
	while (j < r->njails && strcmp(r->jail[j], name) != 0)
		j++;
	if (j == r->njails) {
		/* the last slot is "other": once it is reached (made by the
		 * RP_JAILS-th name), every further new name goes there */
		if (r->njails >= RP_JAILS - 1)
			str_copy(name, sizeof(name), "other");
		for (j = 0; j < r->njails && strcmp(r->jail[j], name) != 0; j++)
			;
		if (j == r->njails) {
			r->jail[j] = xstrdup(name);
			r->bans[j] = xcalloc(r->nhours, sizeof(long));
			r->njails++;
		}
	}
	r->bans[j][h]++;
	r->used++;
}

void report_line(struct report *r, const char *line)
{
	const char *rest = line, *p;
	r->lines++;
	time_t t = stamp(r, line, &rest);
	if (t < 0 || t < r->start || t > r->now + 3600)
		return;
	size_t h = (size_t)((t - r->start) / 3600);
	if (h >= r->nhours)
		h = r->nhours - 1;
	long *s[RS__N];
	for (int i = 0; i < RS__N; i++)
		s[i] = r->series[i];
	size_t len = strlen(rest);
	if (strstr(rest, "/cleanup[") && strstr(rest, ": message-id=<")) {
		s[RS_IN][h]++;
		s[RS_QUEUE][h] = ++r->queue;
	} else if (strstr(rest, ", status=sent (")) {
		s[RS_OUT][h]++;
	} else if (strstr(rest, ", status=bounced (")) {
		s[RS_BOUNCED][h]++;
	} else if (len > 9 && strcmp(rest + len - 9, ": removed") == 0) {
		r->queue -= r->queue > 0;
		s[RS_QUEUE][h] = r->queue;
	} else if ((p = strstr(rest, ": reject: ")) != NULL) {
		s[RS_REJECTED][h]++;
		rp_tally_add(&r->reasons, metrics_reject_reason(rest), 1);
		client_of(r, strstr(p, " from "));
	} else if ((p = strstr(rest, ": SASL ")) && strstr(p, " authentication failed: ") &&
	    (p = strstr(rest, ", sasl_username=")) != NULL) {
		s[RS_AUTH][h]++;
		rp_tally_add(&r->logins, *(p + 16) ? p + 16 : "(empty)", 1);
		auth_client(r, rest);
	} else if (strstr(rest, "NOTICE") && strstr(rest, "] Ban ")) {
		count_ban(r, h, rest);
		return;
	} else {
		return;
	}
	r->used++;
}

void report_read(struct report *r, FILE *f)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, f)) >= 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		report_line(r, line);
	}
	free(line);
}
