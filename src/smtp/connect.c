/*
 * connect — what happens between accept() and the 220 greeting:
 *  - the client's name: /etc/hosts, else reverse DNS (PTR) verified by a
 *    forward lookup, as Postfix's smtpd does ("unknown" otherwise, and
 *    for a PTR name that is not a valid host name);
 *  - the pregreet test of postscreen on the port-25 listener: a teaser
 *    "220-" banner, then postscreen_greet_wait of silence; a client that
 *    talks first is logged (PREGREET) and handled by postscreen_greet_action;
 *    clients that passed are remembered for postscreen_greet_ttl;
 *  - weighted DNSBL/DNSWL scoring (postscreen_dnsbl_sites), all lists
 *    queried in parallel while the other checks run.
 * All of it asynchronous: other sessions never wait for this one.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/util.h"
#include "dns/dns.h"
#include "policy/restrict.h"
#include "smtp/connect.h"
#include "smtp/engine_int.h"
#include "smtp/event.h"
#include "smtp/limits.h"
#include "smtp/session.h"

/* Clients that passed the pregreet test: address -> expiry (clock_mono_ms),
 * the engine's greet_cache. */
struct greet_pass {
	char addr[INET6_ADDRSTRLEN];
	uint64_t until;
};
#define GREET_SLOTS 8192

static unsigned greet_hash(const char *a)
{
	unsigned h = 2166136261u;
	for (; *a; a++)
		h = (h ^ (unsigned char)*a) * 16777619u;
	return h % GREET_SLOTS;
}

static int greet_cached(const struct engine *e, const char *addr)
{
	if (e->greet_cache == NULL)
		return 0;
	const struct greet_pass *g = &e->greet_cache[greet_hash(addr)];
	return strcmp(g->addr, addr) == 0 && g->until > clock_mono_ms();
}

static void greet_remember(struct engine *e, const char *addr)
{
	if (e->greet_ttl_ms <= 0)
		return;
	if (e->greet_cache == NULL)
		e->greet_cache = xcalloc(GREET_SLOTS, sizeof(*e->greet_cache));
	struct greet_pass *g = &e->greet_cache[greet_hash(addr)];
	str_copy(g->addr, sizeof(g->addr), addr);
	g->until = clock_mono_ms() + (uint64_t)e->greet_ttl_ms;
}

/* One DNSBL query of this session. */
struct dnsbl_q {
	struct session *s;
	int site;
	uint64_t id;
};

static void maybe_greet(struct session *s);

/* "list.example=127.0.0.[2..4]*3" -> domain, pattern, weight */
static void site_parse(const char *spec, char *domain, size_t dlen, char *pat, size_t plen, int *weight)
{
	char tmp[256];
	str_copy(tmp, sizeof(tmp), spec);
	*weight = 1;
	char *star = strchr(tmp, '*');
	if (star) {
		*star = '\0';
		*weight = atoi(star + 1);
	}
	char *eq = strchr(tmp, '=');
	pat[0] = '\0';
	if (eq) {
		*eq = '\0';
		str_copy(pat, plen, eq + 1);
	}
	str_copy(domain, dlen, tmp);
}

/* Does one octet match "5", "[2..4]" or "[2;4;9]"? */
static int octet_match(const char *pat, size_t len, int v)
{
	char buf[64];
	if (len >= sizeof(buf))
		return 0;
	memcpy(buf, pat, len);
	buf[len] = '\0';
	if (buf[0] != '[')
		return atoi(buf) == v;
	char *dots = strstr(buf, "..");
	if (dots)
		return v >= atoi(buf + 1) && v <= atoi(dots + 2);
	for (char *p = buf + 1; *p; ) {
		if (atoi(p) == v)
			return 1;
		p += strcspn(p, ";]");
		if (*p)
			p++;
	}
	return 0;
}

/* Postfix's reply filter: "127.0.0.2", "127.0.0.[2..4]", "127.0.[0;1].2". */
static int rbl_match(const char *pat, const char *ip)
{
	if (*pat == '\0')
		return 1;
	struct in_addr a;
	if (inet_pton(AF_INET, ip, &a) != 1)
		return 0;
	const unsigned char *o = (const unsigned char *)&a;
	const char *p = pat;
	for (int i = 0; i < 4; i++) {
		size_t len = p[0] == '[' ? strcspn(p, "]") + 1 : strcspn(p, ".");
		if (!octet_match(p, len, o[i]))
			return 0;
		p += len;
		if (i < 3) {
			if (*p != '.')
				return 0;
			p++;
		}
	}
	return *p == '\0';
}

static void on_dnsbl(const struct dns_result *r, void *arg)
{
	struct dnsbl_q *q = arg;
	struct session *s = q->s;
	q->id = 0;
	char domain[200], pat[64];
	int weight;
	site_parse(s->eng->dnsbl_sites[q->site], domain, sizeof(domain), pat, sizeof(pat), &weight);
	if (r->status == DNS_OK) {
		for (size_t i = 0; i < r->n; i++)
			if (rbl_match(pat, r->items[i])) {
				s->dnsbl_score += weight;
				if (weight > 0 && s->dnsbl_site[0] == '\0')
					str_copy(s->dnsbl_site, sizeof(s->dnsbl_site), domain);
				break;
			}
	}
	if (--s->dnsbl_pending == 0)
		maybe_greet(s);
}

static void dnsbl_start(struct session *s)
{
	size_t n = 0;
	while (s->eng->dnsbl_sites[n])
		n++;
	if (n == 0)
		return;
	struct dnsbl_q *qs = xcalloc(n, sizeof(*qs));
	s->dnsbl_q = qs;	/* freed in connect_cancel */
	s->dnsbl_pending = (int)n + 1;	/* +1 until all are started */
	for (size_t i = 0; i < n; i++) {
		char domain[200], pat[64], qname[300];
		int weight;
		site_parse(s->eng->dnsbl_sites[i], domain, sizeof(domain), pat, sizeof(pat), &weight);
		qs[i].s = s;
		qs[i].site = (int)i;
		if (dns_rbl_name(s->addr, domain, qname, sizeof(qname)) < 0) {
			s->dnsbl_pending--;
			continue;
		}
		qs[i].id = dns_lookup(qname, DNS_A, on_dnsbl, &qs[i]);
	}
	s->dnsbl_pending--;
}

static void set_name(char *dst, const char *src)
{
	str_copy(dst, 256, src);
}

static void on_forward(const struct dns_result *r, void *arg)
{
	struct session *s = arg;
	s->dns_id = 0;
	if (r->status == DNS_OK) {
		for (size_t i = 0; i < r->n; i++)
			if (strcmp(r->items[i], s->addr) == 0) {
				set_name(s->name, s->rname);
				s->name_status = NAME_OK;
				break;
			}
		if (s->name_status != NAME_OK)
			s->name_status = NAME_NOTFOUND;
	} else {
		s->name_status = r->status == DNS_TEMPFAIL ? NAME_TEMPFAIL : NAME_NOTFOUND;
	}
	s->rdns_done = 1;
	maybe_greet(s);
}

static void on_ptr(const struct dns_result *r, void *arg)
{
	struct session *s = arg;
	s->dns_id = 0;
	if (r->status != DNS_OK || r->n == 0) {
		s->rname_status = s->name_status = r->status == DNS_TEMPFAIL ? NAME_TEMPFAIL : NAME_NOTFOUND;
		s->rdns_done = 1;
		maybe_greet(s);
		return;
	}
	if (!restrict_valid_hostname(r->items[0])) {
		/* As Postfix: a malformed name is no name ("unknown"). */
		char shown[256];
		str_copy(shown, sizeof(shown), r->items[0]);
		log_warn("%s: PTR name is not a valid host name: %s", s->addr,
		    str_printable(shown, '?'));
		s->rname_status = s->name_status = NAME_NOTFOUND;
		s->rdns_done = 1;
		maybe_greet(s);
		return;
	}
	set_name(s->rname, r->items[0]);
	s->rname_status = NAME_OK;
	/* Forward-confirm: the name must resolve back to the address. */
	enum dns_type t = strchr(s->addr, ':') ? DNS_AAAA : DNS_A;
	s->dns_id = dns_lookup(s->rname, t, on_forward, s);
}

static void greet_timeout(void *arg)
{
	struct session *s = arg;
	s->greet_done = 1;
	if (s->pregreet == 0)
		greet_remember(s->eng, s->addr);
	maybe_greet(s);
}

/* Everything known: decide, then send the 220 (or 521 and close). */
static void maybe_greet(struct session *s)
{
	if (s->state != SMTP_ST_CONNECT || !s->rdns_done || !s->greet_done || s->dnsbl_pending > 0)
		return;
	char reject[300];
	s->connect_reject = NULL;
	/* A client on DNS allowlists (score at or below a negative
	 * postscreen_dnsbl_allowlist_threshold) is excused the pregreet test. */
	if (s->eng->dnsbl_allow_threshold < 0 && s->dnsbl_score <= s->eng->dnsbl_allow_threshold)
		s->pregreet = 0;
	if (s->dnsbl_score != 0 || s->dnsbl_site[0]) {
		log_set_service("postscreen");
		if (s->dnsbl_score >= s->eng->dnsbl_threshold)
			log_info("DNSBL rank %d for [%s]:%u", s->dnsbl_score, s->addr, s->port);
		log_set_service("smtpd");
	}
	if (s->dnsbl_site[0] && s->dnsbl_score >= s->eng->dnsbl_threshold &&
	    s->eng->dnsbl_action != ACTION_IGNORE) {
		if (s->eng->dnsbl_action == ACTION_DROP) {
			session_reply(s, "521 5.7.1 Service unavailable; client [%s] blocked using %s",
			    s->addr, s->dnsbl_site);
			s->state = SMTP_ST_CLOSING;
			session_flush(s);
			return;
		}
		snprintf(reject, sizeof(reject), "550 5.7.1 Service unavailable; client [%s] blocked using %s",
		    s->addr, s->dnsbl_site);
		s->connect_reject = xstrdup(reject);
	} else if (s->pregreet > 0 && s->eng->greet_action != ACTION_IGNORE) {
		if (s->eng->greet_action == ACTION_DROP) {
			session_reply(s, "521 5.5.1 Protocol error");
			s->state = SMTP_ST_CLOSING;
			session_flush(s);
			return;
		}
		s->connect_reject = xstrdup("550 5.5.1 Protocol error");
	}
	log_info("connect from %s", session_client(s));
	s->state = SMTP_ST_CMD;
	session_reply(s, "220 %s", s->eng->banner);
	session_resume(s);
}

/* Start the work before the greeting (called once, right after accept). */
void connect_start(struct session *s)
{
	const char *h = engine_hostname(s->eng, s->addr);
	long count_limit = s->eng->roles[s->role].conn_count_limit;
	unsigned open_now = count_limit > 0 && !s->limit_exempt ?
	    anvil_count(&s->eng->anvil, s->akey) : 0;
	if (open_now > (unsigned long)count_limit) {
		/* Postfix's words (smtpd via anvil), before any lookup */
		set_name(s->name, h);
		if (!s->limit_exempt)
			(void)anvil_rate(&s->eng->anvil, s->akey, ANVIL_CONN, 1);	/* counted all the same */
		log_info("connect from %s", session_client(s));
		log_warn("Connection concurrency limit exceeded: %u from %s for service %s",
		    open_now, session_client(s), s->eng->roles[s->role].name);
		session_reply(s, "421 4.7.0 %s Error: too many connections from %s",
		    s->eng->myhostname, s->addr);
		char line[400];
		snprintf(line, sizeof(line), "Connection concurrency limit exceeded: %u from %s for service %s",
		    open_now, session_client(s), s->eng->roles[s->role].name);
		event_send(s, WEV_RATE, NULL, line);
		s->state = SMTP_ST_CLOSING;
		session_flush(s);
		return;
	}
	set_name(s->name, h);
	if (limit_connect(s) < 0) {
		log_info("connect from %s", session_client(s));
		session_flush(s);
		return;
	}
	s->state = SMTP_ST_CONNECT;
	s->rdns_done = 1;		/* set again below when a lookup runs */
	s->greet_done = 1;
	set_name(s->name, "unknown");
	set_name(s->rname, "unknown");
	s->name_status = s->rname_status = NAME_NOTFOUND;
	if (strcmp(h, "unknown") != 0) {
		set_name(s->name, h);
		set_name(s->rname, h);
		s->name_status = s->rname_status = NAME_OK;
	} else if (s->eng->peername_lookup) {
		s->rdns_done = 0;
	}
	int pregreet = s->eng->roles[s->role].pregreet && s->eng->greet_wait_ms > 0 &&
	    !s->in_mynetworks && !greet_cached(s->eng, s->addr);
	if (pregreet) {
		s->greet_done = 0;
		s->greet_wait = 1;
		s->greet_start = clock_mono_ms();
		if (*s->eng->greet_banner) {
			session_reply(s, "220-%s", s->eng->greet_banner);
			session_flush(s);
		}
		loop_timer_set(&s->greet_timer, (uint64_t)s->eng->greet_wait_ms, greet_timeout, s);
	}
	/* The state is CONNECT from here: callbacks may complete synchronously. */
	if (s->eng->dnsbl_sites && s->eng->roles[s->role].pregreet && !s->in_mynetworks)
		dnsbl_start(s);
	if (!s->rdns_done) {
		char rev[128];
		if (dns_reverse_name(s->addr, rev, sizeof(rev)) < 0) {
			s->rdns_done = 1;
		} else {
			s->dns_id = dns_lookup(rev, DNS_PTR, on_ptr, s);
		}
	}
	maybe_greet(s);
}

/* Bytes from the client before our greeting. */
void connect_input(struct session *s, const char *p, size_t n)
{
	if (s->greet_wait && !s->greet_done && s->pregreet == 0) {
		char shown[256];
		size_t o = 0;
		for (size_t i = 0; i < n && o + 5 < sizeof(shown); i++) {
			unsigned char c = (unsigned char)p[i];
			if (c == '\r') { shown[o++] = '\\'; shown[o++] = 'r'; }
			else if (c == '\n') { shown[o++] = '\\'; shown[o++] = 'n'; }
			else if (c < 0x20 || c >= 0x7f) shown[o++] = '?';
			else shown[o++] = (char)c;
		}
		shown[o] = '\0';
		uint64_t ms = clock_mono_ms() - s->greet_start;
		char line[400];
		snprintf(line, sizeof(line), "PREGREET %zu after %lu.%02lu from [%s]:%u: %s", n,
		    (unsigned long)(ms / 1000), (unsigned long)(ms % 1000) / 10, s->addr, s->port, shown);
		log_set_service("postscreen");
		log_info("%s", line);
		log_set_service("smtpd");
		event_send(s, WEV_PREGREET, NULL, line);
	}
	if (s->greet_wait && !s->greet_done)
		s->pregreet += (int)n;
}

/* The session is going away: no callback may reach it any more. */
void connect_cancel(struct session *s)
{
	if (s->dns_id)
		dns_cancel(s->dns_id);
	s->dns_id = 0;
	loop_timer_clear(&s->greet_timer);
	struct dnsbl_q *qs = s->dnsbl_q;
	if (qs) {
		for (size_t i = 0; s->eng->dnsbl_sites && s->eng->dnsbl_sites[i]; i++)
			if (qs[i].id)
				dns_cancel(qs[i].id);
		free(qs);
		s->dnsbl_q = NULL;
	}
	free((char *)s->connect_reject);
	s->connect_reject = NULL;
}
