/*
 * dkim — `mailwarden dkim keygen DOMAIN [-s SELECTOR] [--ed25519]` writes
 * a new signing key as $dkim_key_directory/DOMAIN/SELECTOR.key (0600,
 * never over an existing file) and prints the DNS TXT record to publish;
 * `mailwarden dkim check DOMAIN` loads the configured keys of DOMAIN,
 * looks each record up (dns_servers, through src/dns) and says whether
 * it is published and matches the key.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "common/buf.h"
#include "common/config.h"
#include "common/loop.h"
#include "dkim/dkim.h"
#include "dkim/dkim_conf.h"
#include "dns/dns.h"

/* The record as a zone-file line, split in 255-byte strings. */
static void print_record(const struct dkim_key *k, const struct buf *rec)
{
	printf("%s._domainkey.%s. IN TXT (", k->selector, k->domain);
	for (size_t i = 0; i < rec->len; i += 255)
		printf(" \"%.*s\"", (int)(rec->len - i < 255 ? rec->len - i : 255), rec->data + i);
	printf(" )\n");
}

static int keygen(const struct config *cfg, int argc, char **argv)
{
	const char *domain = NULL, *sel = NULL;
	int ed = 0;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--ed25519") == 0)
			ed = 1;
		else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc)
			sel = argv[++i];
		else if (argv[i][0] != '-' && domain == NULL)
			domain = argv[i];
		else
			domain = NULL, argc = -1;
	}
	if (domain == NULL || strchr(domain, '/') || domain[0] == '.' ||
	    (sel && (strchr(sel, '/') || sel[0] == '.'))) {
		fprintf(stderr, "usage: mailwarden dkim keygen DOMAIN [-s SELECTOR] [--ed25519]\n");
		return 2;
	}
	char defsel[64];
	if (sel == NULL) {	/* the first of dkim_selector, or "mail" */
		const char *ds = config_get(cfg, "dkim_selector");
		size_t n = ds ? strcspn(ds, ", \t") : 0;
		snprintf(defsel, sizeof(defsel), "%.*s", n ? (int)n : 4, n ? ds : "mail");
		sel = defsel;
	}
	const char *dir = config_get(cfg, "dkim_key_directory");
	char path[4096], err[512];
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "mailwarden: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, domain);
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "mailwarden: %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (snprintf(path, sizeof(path), "%s/%s/%s.key", dir, domain, sel) >= (int)sizeof(path)) {
		fprintf(stderr, "mailwarden: path too long\n");
		return 1;
	}
	struct dkim_key *k = dkim_key_generate(ed ? DKIM_ED25519_SHA256 : DKIM_RSA_SHA256, domain,
	    sel, err, sizeof(err));
	if (k == NULL || dkim_key_write(k, path, err, sizeof(err)) < 0) {
		fprintf(stderr, "mailwarden: %s\n", err);
		dkim_key_free(k);
		return 1;
	}
	struct buf rec;
	buf_init(&rec, 8192);
	dkim_key_record(k, &rec);
	fprintf(stderr, "mailwarden: wrote %s (%s); publish:\n", path, ed ? "Ed25519" : "RSA-2048");
	print_record(k, &rec);
	buf_free(&rec);
	dkim_key_free(k);
	return 0;
}

struct ask {
	const struct dkim_key *k;
	int rc;
};

static void answered(const struct dns_result *r, void *arg)
{
	struct ask *a = arg;
	const char *kind = a->k->alg == DKIM_RSA_SHA256 ? "rsa" : "ed25519";
	if (r->status == DNS_TEMPFAIL) {
		printf("%s._domainkey.%s (%s): DNS lookup failed (temporary)\n", a->k->selector,
		    a->k->domain, kind);
	} else if (r->status != DNS_OK || r->n == 0) {
		printf("%s._domainkey.%s (%s): no TXT record published\n", a->k->selector,
		    a->k->domain, kind);
	} else {
		int m = dkim_key_matches(a->k, r->items[0]);
		printf("%s._domainkey.%s (%s): %s\n", a->k->selector, a->k->domain, kind,
		    m == 1 ? "ok, the record matches the key" : m == 0 ?
		    "MISMATCH: the record is not this key" : "the record does not parse");
		if (m == 1)
			a->rc = 0;
	}
	loop_exit();
}

static int check(const struct config *cfg, int argc, char **argv)
{
	char err[1024];
	if (argc != 1) {
		fprintf(stderr, "usage: mailwarden dkim check DOMAIN\n");
		return 2;
	}
	if (dkim_conf_load(cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "mailwarden: %s\n", err);
		return 1;
	}
	loop_init();
	if (dns_init(cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "mailwarden: %s\n", err);
		return 1;
	}
	int found = 0, bad = 0;
	for (size_t i = 0; dkim_conf_key(i); i++) {
		const struct dkim_key *k = dkim_conf_key(i);
		if (strcasecmp(k->domain, argv[0]) != 0)
			continue;
		found++;
		char name[512];
		snprintf(name, sizeof(name), "%s._domainkey.%s", k->selector, k->domain);
		struct ask a = { k, 1 };
		if (dns_lookup(name, DNS_TXT, answered, &a) != 0)
			loop_run();
		bad |= a.rc;
	}
	dns_close();
	if (!found) {
		printf("%s: no DKIM key configured\n", argv[0]);
		return 1;
	}
	return bad;
}

int cli_dkim(const struct config *cfg, int argc, char **argv)
{
	if (argc >= 1 && strcmp(argv[0], "keygen") == 0)
		return keygen(cfg, argc - 1, argv + 1);
	if (argc >= 1 && strcmp(argv[0], "check") == 0)
		return check(cfg, argc - 1, argv + 1);
	fprintf(stderr, "usage: mailwarden dkim keygen DOMAIN [-s SELECTOR] [--ed25519]\n"
	    "       mailwarden dkim check DOMAIN\n");
	return 2;
}
