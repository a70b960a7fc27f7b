/*
 * selftest_smtp — the SMTP side of `mailwarden selftest`: relay probes
 * for a synthetic outside client judged by the real restriction code
 * (as an XCLIENT session from that address would be: a loopback test
 * connection is usually in mynetworks and proves nothing), AUTH offered
 * without TLS, and the expiry of each listener's certificate. The relay
 * and AUTH checks cover the built-in listeners and the named ones
 * (`listeners = NAME`), each with its NAME/inet/KEY overrides.
 */
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/selftest.h"
#include "common/cidr.h"
#include "common/config.h"
#include "common/loop.h"
#include "common/util.h"
#include "mail/resolve.h"
#include "policy/restrict.h"

/* The listen key of each role of config_role_names. */
static const char *const listen_keys[3] = { "smtpd_listen", "submission_listen",
    "smtps_listen" };
_Static_assert(sizeof(listen_keys) / sizeof(*listen_keys) == ST_NROLES, "one key per role");

/* The name of listener slot r (0..CONFIG_NROLES-1) if it listens: a
 * built-in role with its *_listen set, or a declared named listener
 * (check-config makes sure it has NAME/inet/listen); else NULL. */
static const char *role_listening(const struct config *cfg, int r)
{
	if (r < ST_NROLES)
		return *config_get(cfg, listen_keys[r]) ? config_role_names[r] : NULL;
	return config_role_name(cfg, r);
}

/* Relay probes: %s is one of our domains. Each names a mailbox outside. */
static const char *const probes[] = {
	"relay-probe@relay-test.invalid",
	"relay-probe%%relay-test.invalid@%s",
	"relay-test.invalid!relay-probe@%s",
	"relay-probe@[192.0.2.2]",
};

static void woke(void *arg)
{
	*(int *)arg = 1;
	loop_exit();
}

/* The lists Postfix runs at RCPT (client .. recipient) for one probe:
 * the result, with the reply and whether it was the relay check's. */
static enum policy_result judge(struct restrictions *const *lists,
    struct policy_ctx *c, char *reply, size_t len)
{
	for (int id = RL_CLIENT; id <= RL_RECIPIENT; id++) {
		enum policy_result r;
		int tries = 0;
		for (;;) {
			int woken = 0;
			c->wake = woke;
			c->wake_arg = &woken;
			r = restrictions_eval(lists[id], c, reply, len);
			if (r != POLICY_PENDING || ++tries > 20)
				break;
			while (!woken)
				loop_run();
		}
		if (r == POLICY_REJECT || r == POLICY_DEFER || r == POLICY_PENDING)
			return r == POLICY_PENDING ? POLICY_DEFER : r;
		/* as the engine (smtp/check.c): PERMIT ends only its own list */
	}
	return POLICY_DUNNO;
}

static void no_log(struct policy_ctx *c, const char *action, const char *reply)
{
}

static void no_action(struct policy_ctx *c, const char *action, const char *text)
{
}

/* One RCPT for the outside client: the lists' verdict (DUNNO: accepted),
 * the reply in reply, and whether the relay check gave it. */
static enum policy_result probe(struct selftest *t, struct restrictions *const *lists,
    struct resolver *res, struct cidrlist *mynets, const char *sender, const char *rcpt,
    int ours, char *reply, size_t len, int *relay_check)
{
	struct policy_ctx c = {
		.stage = STAGE_RCPT, .client_addr = t->client, .client_port = 40000,
		.client_name = "unknown", .client_name_status = NAME_NOTFOUND,
		.reverse_name = "unknown", .reverse_name_status = NAME_NOTFOUND,
		.in_mynetworks = cidrlist_match_str(mynets, t->client),
		.helo = "selftest.example", .sender = sender, .rcpt = rcpt,
		.rcpt_is_ours = ours, .rcpt_is_final = ours ? resolve_is_final(res, rcpt) : 0,
		.rcpt_known = 1, .proto = "ESMTP", .queue_id = "NOQUEUE", .instance = 1,
		.sender_is_final = resolve_is_final(res, sender),
		.log = no_log, .action = no_action,
	};
	reply[0] = '\0';
	enum policy_result r = judge(lists, &c, reply, len);
	if (relay_check)
		*relay_check = c.reply_relay;
	policy_ctx_clear(&c);
	return r == POLICY_PERMIT ? POLICY_DUNNO : r;
}

/* The probes against one listener (rname: its role or name); one line. */
static void relay_role(struct selftest *t, const char *rname, struct resolver *res,
    struct cidrlist *mynets, const char *ours)
{
	struct restrictions *lists[RL_COUNT] = { 0 };
	char err[512], reply[512], breply[512], rcpt[300], sender[300], bad[1024] = "", soft[1024] = "";
	for (int id = RL_CLIENT; id <= RL_RECIPIENT; id++) {
		const char *key = restriction_lists[id].key;
		lists[id] = restrictions_parse(t->cfg, key, config_get_role(t->cfg, rname, key),
		    err, sizeof(err));
		if (lists[id] == NULL) {
			st_report(t, ST_FAIL, "relay", "%s: %s: %s", rname, key, err);
			goto out;
		}
	}
	snprintf(sender, sizeof(sender), "selftest@%s", ours);
	size_t nprobes = 0;
	/* a refusal for our own postmaster too: this client may send nothing */
	snprintf(rcpt, sizeof(rcpt), "postmaster@%s", ours);
	int blanket = probe(t, lists, res, mynets, sender, rcpt, 1, breply, sizeof(breply), NULL) !=
	    POLICY_DUNNO;
	for (size_t i = 0; i < sizeof(probes) / sizeof(*probes); i++) {
		snprintf(rcpt, sizeof(rcpt), probes[i], ours);
		const char *table = NULL;
		enum resolve_class cls = resolve_check(res, rcpt, &table);
		if (cls != RESOLVE_RELAY)
			continue;	/* ours (delivered or refused here): not relayed */
		nprobes++;
		int relay_check = 0;
		enum policy_result r = probe(t, lists, res, mynets, sender, rcpt, 0, reply,
		    sizeof(reply), &relay_check);
		if (r == POLICY_REJECT || r == POLICY_DEFER) {
			if (!relay_check && !blanket &&
			    strlen(soft) + strlen(rcpt) + strlen(reply) + 8 < sizeof(soft))
				snprintf(soft + strlen(soft), sizeof(soft) - strlen(soft), "%s<%s> (%s)",
				    *soft ? ", " : "", rcpt, reply);
			continue;
		}
		if (strlen(bad) + strlen(rcpt) + 4 < sizeof(bad))
			snprintf(bad + strlen(bad), sizeof(bad) - strlen(bad), "%s<%s>",
			    *bad ? ", " : "", rcpt);
	}
	if (*bad)
		st_report(t, ST_FAIL, "relay", "%s: OPEN RELAY: client %s (not authenticated) may "
		    "send to %s", rname, t->client, bad);
	else if (*soft)
		st_report(t, ST_WARN, "relay", "%s: client %s refused, but not by the relay check "
		    "(another client or sender may pass): %s", rname, t->client, soft);
	else if (blanket)
		st_report(t, ST_PASS, "relay", "%s: client %s may not relay (refused for every "
		    "recipient, ours too: %s)", rname, t->client, breply);
	else
		st_report(t, ST_PASS, "relay", "%s: client %s may not relay (%zu probes refused "
		    "by the relay check)", rname, t->client, nprobes);
out:
	for (int id = 0; id < RL_COUNT; id++)
		if (lists[id])
			restrictions_free(lists[id]);
}

void st_relay(struct selftest *t)
{
	char err[512];
	struct resolver *res = resolve_open(t->cfg, err, sizeof(err));
	if (res == NULL) {
		st_report(t, ST_FAIL, "relay", "cannot open the address tables: %s", err);
		return;
	}
	struct cidrlist *mynets = cidrlist_parse(config_get(t->cfg, "mynetworks"), err, sizeof(err));
	if (mynets == NULL) {
		st_report(t, ST_FAIL, "relay", "mynetworks: %s", err);
		resolve_free(res);
		return;
	}
	if (cidrlist_match_str(mynets, t->client))
		st_report(t, ST_WARN, "relay", "the probe client %s is in mynetworks: give an "
		    "outside address with --client", t->client);
	char **doms = st_domains(t->cfg);
	const char *ours = doms[0] ? doms[0] : config_get(t->cfg, "myhostname");
	for (int r = 0; r < CONFIG_NROLES; r++)
		if (role_listening(t->cfg, r))
			relay_role(t, role_listening(t->cfg, r), res, mynets, ours);
	config_list_free(doms);
	cidrlist_free(mynets);
	resolve_free(res);
}

void st_auth_tls(struct selftest *t)
{
	for (int r = 0; r < CONFIG_NROLES; r++) {
		const char *rn = role_listening(t->cfg, r);
		if (rn == NULL)
			continue;
		/* per listener, as the engine reads it (smtp/engine.c) */
		int auth_only = config_get_role_bool(t->cfg, rn, "smtpd_tls_auth_only");
		const char *level = config_get_role(t->cfg, rn, "smtpd_tls_security_level");
		if (!config_get_role_bool(t->cfg, rn, "smtpd_sasl_auth_enable"))
			st_report(t, ST_PASS, "auth", "%s: AUTH not offered", rn);
		else if (config_get_role_bool(t->cfg, rn, "smtpd_tls_wrappermode"))
			st_report(t, ST_PASS, "auth", "%s: TLS from the first byte (wrapper mode)", rn);
		else if (strcmp(level, "encrypt") == 0)
			st_report(t, ST_PASS, "auth", "%s: TLS required before any command", rn);
		else if (auth_only)
			st_report(t, ST_PASS, "auth", "%s: AUTH offered only after STARTTLS", rn);
		else
			st_report(t, ST_FAIL, "auth", "%s: AUTH offered without TLS (passwords in "
			    "clear): set smtpd_tls_auth_only = yes", rn);
	}
}

/* One certificate file: expired (fail), within 14 days (warn), or fine. */
static void cert_one(struct selftest *t, const char *rn, const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	if (x == NULL) {
		st_report(t, ST_FAIL, "certificate", "%s: %s: cannot read a certificate", rn, path);
		return;
	}
	int days = 0, secs = 0;
	const ASN1_TIME *end = X509_get0_notAfter(x);
	struct tm tm;
	char when[32] = "?";
	if (ASN1_TIME_to_tm(end, &tm) == 1)
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
	if (ASN1_TIME_diff(&days, &secs, NULL, end) != 1)
		st_report(t, ST_FAIL, "certificate", "%s: %s: unreadable expiry", rn, path);
	else if (days < 0 || (days == 0 && secs <= 0))
		st_report(t, ST_FAIL, "certificate", "%s: %s: EXPIRED on %s", rn, path, when);
	else if (days < 14)
		st_report(t, ST_WARN, "certificate", "%s: %s: expires in %d days (%s)", rn, path,
		    days, when);
	else
		st_report(t, ST_PASS, "certificate", "%s: %s: valid for %d more days (%s)", rn,
		    path, days, when);
	X509_free(x);
}

void st_certs(struct selftest *t)
{
	const char *seen[ST_NROLES] = { 0 };
	int any = 0;
	for (int role = 0; role < ST_NROLES; role++) {
		const char *rn = config_role_names[role];
		const char *path = config_get_role(t->cfg, rn, "smtpd_tls_cert_file");
		if (*config_get(t->cfg, listen_keys[role]) == '\0' || *path == '\0')
			continue;
		int dup = 0;
		for (int i = 0; i < role; i++)
			dup |= seen[i] && strcmp(seen[i], path) == 0;
		seen[role] = path;
		any = 1;
		if (!dup)
			cert_one(t, rn, path);
	}
	if (!any)
		st_report(t, ST_WARN, "certificate", "no smtpd_tls_cert_file: no listener offers TLS");
}
