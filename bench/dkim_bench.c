/*
 * dkim_bench — CPU per message for DKIM (src/dkim), no network: signing
 * a 4 KB message with RSA-2048 and with Ed25519 (what the engine does at
 * the end of DATA for submitted mail, canonicalisation included), and
 * verifying it (both signatures; key records from memory, i.e. the DNS
 * cache's case), then the whole inbound check of the end of DATA:
 * verify + SPF (a record with ip4: and include:, answers from memory) +
 * DMARC (From domain, _dmarc record parse, alignment against the Public
 * Suffix List, loaded once as the master does). Prints microseconds of
 * process CPU time per message. `make bench-dkim`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "dkim/dkim.h"
#include "dmarc/dmarc.h"
#include "spf/spf.h"

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *rec_rsa, *rec_ed;

static enum dkim_lookup lookup(void *arg, const char *name, char *txt, size_t txtlen)
{
	snprintf(txt, txtlen, "%s", strncmp(name, "r1.", 3) == 0 ? rec_rsa : rec_ed);
	return DKIM_LK_FOUND;
}

/* SPF answers from memory (the DNS cache's case). */
static const struct dns_result *spf_table(void *arg, const char *name, enum dns_type type)
{
	static char *rec[] = { "v=spf1 ip4:198.51.100.0/24 include:_spf.example.com -all" };
	static char *inc[] = { "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 ~all" };
	static struct dns_result ok = { DNS_OK, 0, 1, NULL, 300 }, none = { DNS_NOTFOUND, 1, 0, NULL, 300 };
	if (type != DNS_TXT)
		return &none;
	ok.items = strcmp(name, "example.com") == 0 ? rec : strcmp(name, "_spf.example.com") == 0 ?
	    inc : NULL;
	return ok.items ? &ok : &none;
}

/* One message's verify + SPF + DMARC; 0 when all pass. */
static int inbound(const struct buf *m, struct dkim_sig_result *res)
{
	int got = dkim_verify(m->data, m->len, 1800000000, lookup, NULL, res, 4);
	struct spf_request rq = { "192.0.2.10", "bounce@example.com", "mail.example.com", NULL, 1 };
	struct spf_result sr;
	if (got != 2 || spf_check(&rq, spf_table, NULL, &sr) != 1 || sr.result != SPF_PASS)
		return -1;
	char from[256];
	char *txt[] = { "v=DMARC1; p=reject; rua=mailto:dmarc@example.com" };
	struct dmarc_record rec;
	if (dmarc_from_domain(m->data, m->len, from, sizeof(from)) < 0 || !dmarc_pick(txt, 1, &rec))
		return -1;
	const char *pass[] = { res[0].domain, res[1].domain };
	struct dmarc_input in = { from, pass, 2, sr.domain };
	struct dmarc_outcome o;
	dmarc_evaluate(&in, &rec, 0, 0, &o);
	return o.result == DMARC_PASS ? 0 : -1;
}

static void message(struct buf *m)
{
	buf_puts(m, "From: Alice Example <alice@example.com>\nTo: Bob <bob@example.net>\n"
	    "Cc: carol@example.org\nSubject: The quarterly report, with a longer subject line\n"
	    "Date: Mon, 7 Dec 2026 12:00:00 +0000\nMessage-ID: <20261207120000.1234@example.com>\n"
	    "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n");
	while (m->len < 4096)
		buf_puts(m, "Lorem ipsum dolor sit amet,  consectetur adipiscing elit, sed do \n");
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 2000;
	char err[256];
	struct dkim_key *rsa = dkim_key_generate(DKIM_RSA_SHA256, "example.com", "r1", err,
	    sizeof(err));
	struct dkim_key *ed = dkim_key_generate(DKIM_ED25519_SHA256, "example.com", "e1", err,
	    sizeof(err));
	if (rsa == NULL || ed == NULL) {
		fprintf(stderr, "keygen: %s\n", err);
		return 1;
	}
	struct buf r1, e1, msg, sig, signed_msg;
	buf_init(&r1, 8192);
	buf_init(&e1, 8192);
	buf_init(&msg, 1 << 20);
	buf_init(&sig, 1 << 20);
	buf_init(&signed_msg, 1 << 20);
	dkim_key_record(rsa, &r1);
	dkim_key_record(ed, &e1);
	rec_rsa = r1.data;
	rec_ed = e1.data;
	message(&msg);
	struct dkim_key *keys[] = { rsa, ed };
	const char *names[] = { "sign RSA-2048", "sign Ed25519" };
	printf("message: %zu bytes, %d rounds each\n", msg.len, n);
	for (int k = 0; k < 2; k++) {
		double t0 = cpu_now();
		for (int i = 0; i < n; i++) {
			buf_reset(&sig);
			if (dkim_sign(keys[k], msg.data, msg.len, 1800000000, &sig, err, sizeof(err)) < 0) {
				fprintf(stderr, "sign: %s\n", err);
				return 1;
			}
		}
		printf("%-28s %8.1f us CPU per message\n", names[k], (cpu_now() - t0) * 1e6 / n);
	}
	for (int k = 0; k < 2; k++)
		dkim_sign(keys[k], msg.data, msg.len, 1800000000, &signed_msg, err, sizeof(err));
	buf_append(&signed_msg, msg.data, msg.len);
	struct dkim_sig_result res[4];
	double t0 = cpu_now();
	for (int i = 0; i < n; i++) {
		int got = dkim_verify(signed_msg.data, signed_msg.len, 1800000000, lookup, NULL, res, 4);
		if (got != 2 || res[0].result != DKIM_PASS || res[1].result != DKIM_PASS) {
			fprintf(stderr, "verify failed\n");
			return 1;
		}
	}
	printf("%-28s %8.1f us CPU per message\n", "verify RSA-2048 + Ed25519", (cpu_now() - t0) * 1e6 / n);
	if (dmarc_psl_load("/usr/share/publicsuffix/public_suffix_list.dat", err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	t0 = cpu_now();
	for (int i = 0; i < n; i++)
		if (inbound(&signed_msg, res) < 0) {
			fprintf(stderr, "verify+SPF+DMARC failed\n");
			return 1;
		}
	printf("%-28s %8.1f us CPU per message\n", "verify + SPF + DMARC", (cpu_now() - t0) * 1e6 / n);
	dkim_key_free(rsa);
	dkim_key_free(ed);
	buf_free(&r1);
	buf_free(&e1);
	buf_free(&msg);
	buf_free(&sig);
	buf_free(&signed_msg);
	return 0;
}
