/*
 * tls — server TLS contexts for the smtp engine. See tls.h.
 *
 * Safe defaults: TLS 1.2 and later, AEAD ciphers with forward secrecy
 * ("high"), no session tickets (none sent in TLS 1.3 either) and no
 * server session cache (nothing to rotate, nothing that outlives a key
 * file), no renegotiation, no compression. The same protocol and cipher
 * settings apply to every SNI certificate: the servername callback swaps
 * only the certificate.
 *
 * The contexts live in a struct tls_server, loaded once before the chroot
 * and read-only afterwards: the engine keeps its own, check-config in the
 * master loads one and frees it; OpenSSL's servername callback gets it
 * as its argument.
 */
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/log.h"
#include "common/map.h"
#include "common/util.h"
#include "smtp/tls.h"

/* TLS 1.2 suites; TLS 1.3 suites are OpenSSL's (all AEAD). */
#define CIPHERS_HIGH "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL:!SHA1"
#define CIPHERS_MEDIUM "HIGH:MEDIUM:!aNULL:!eNULL:!RC4:!3DES:!MD5:!EXPORT"

/* SNI: lowercased server name -> a context holding that certificate. */
struct sni_ent {
	char *name;
	SSL_CTX *ctx;
};

struct tls_server {
	SSL_CTX *ctx_may;	/* smtpd_tls_protocols; NULL: TLS off */
	SSL_CTX *ctx_must;	/* smtpd_tls_mandatory_protocols */
	struct sni_ent *sni;
	size_t nsni;
};

const char *tls_error(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();
	if (e == 0)
		snprintf(buf, len, "unknown error");
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}

static const struct {
	const char *name;
	int version;
} versions[] = {
	{ "SSLv2", 0x0200 }, { "SSLv3", SSL3_VERSION }, { "TLSv1", TLS1_VERSION },
	{ "TLSv1.1", TLS1_1_VERSION }, { "TLSv1.2", TLS1_2_VERSION },
	{ "TLSv1.3", TLS1_3_VERSION },
};
#define NVERSIONS (sizeof(versions) / sizeof(versions[0]))

static int version_index(const char *name)
{
	for (size_t i = 0; i < NVERSIONS; i++)
		if (strcasecmp(versions[i].name, name) == 0)
			return (int)i;
	return -1;
}

int tls_parse_protocols(const char *text, int *min, int *max, char *err, size_t errlen)
{
	int lo = version_index("TLSv1.2"), hi = (int)NVERSIONS - 1;
	int excluded[NVERSIONS] = { 0 }, included[NVERSIONS] = { 0 };
	int any_excl = 0, any_incl = 0;
	char **words = config_list(text);
	int rc = 0;

	for (char **w = words; *w; w++) {
		const char *p = *w;
		if (strncmp(p, ">=", 2) == 0 || strncmp(p, "<=", 2) == 0) {
			int i = version_index(p + 2);
			if (i < 0)
				goto bad;
			if (p[0] == '>')
				lo = i;
			else
				hi = i;
			continue;
		}
		int neg = p[0] == '!';
		int i = version_index(p + neg);
		if (i < 0)
			goto bad;
		if (neg) {
			excluded[i] = 1;
			any_excl = 1;
		} else {
			included[i] = 1;
			any_incl = 1;
		}
		continue;
bad:
		snprintf(err, errlen, "unknown TLS protocol '%s' (use >=TLSv1.2, or a list "
		    "like !SSLv3, !TLSv1, !TLSv1.1)", p);
		rc = -1;
		break;
	}
	config_list_free(words);
	if (rc < 0)
		return -1;
	if (any_incl || any_excl) {
		/* A list: the span from the first to the last version allowed,
		 * which never goes below TLS 1.0 (SSLv2/v3 are not built). */
		int first = -1, last = -1;
		for (int i = version_index("TLSv1"); i < (int)NVERSIONS; i++) {
			if (excluded[i] || (any_incl && !included[i]))
				continue;
			if (first < 0)
				first = i;
			last = i;
		}
		if (first < 0) {
			snprintf(err, errlen, "the protocol list '%s' excludes every TLS version", text);
			return -1;
		}
		lo = first;
		hi = last < hi ? last : hi;
	}
	if (lo > hi) {
		snprintf(err, errlen, "the protocol list '%s' allows no TLS version", text);
		return -1;
	}
	*min = versions[lo].version;
	*max = versions[hi].version;
	return 0;
}

/* Load key and certificate chain. One file may hold both. */
static int load_pair(SSL_CTX *ctx, const char *key, const char *cert, char *err, size_t errlen)
{
	char why[256];
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		snprintf(err, errlen, "cannot load certificate chain %s: %s", cert,
		    tls_error(why, sizeof(why)));
		return -1;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		snprintf(err, errlen, "cannot load private key %s: %s", key, tls_error(why, sizeof(why)));
		return -1;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "private key %s does not match certificate %s", key, cert);
		ERR_clear_error();
		return -1;
	}
	return 0;
}

static SSL_CTX *ctx_new(const struct config *cfg, const char *protocols_key, char *err,
    size_t errlen)
{
	char why[256];
	int min, max;
	if (tls_parse_protocols(config_get(cfg, protocols_key), &min, &max, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "%s: %s", protocols_key, why);
		return NULL;
	}
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		snprintf(err, errlen, "SSL_CTX_new: %s", tls_error(why, sizeof(why)));
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, min);
	SSL_CTX_set_max_proto_version(ctx, max);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	/* TLS 1.3 sends NewSessionTicket messages after the handshake even
	 * with SSL_OP_NO_TICKET (stateful tickets then): useless without a
	 * cache, and costly: written on their own just before the first
	 * reply, they made that reply wait for the client's delayed ACK
	 * (Nagle), 40 ms per session. None at all. */
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	    SSL_MODE_RELEASE_BUFFERS);
	/* Idle sessions keep no 34 KiB record buffers (SSL_MODE_RELEASE_BUFFERS). */
	struct buf list;
	buf_init(&list, 8192);
	buf_printf(&list, "%s", strcmp(config_get(cfg, "smtpd_tls_ciphers"), "medium") == 0 ?
	    CIPHERS_MEDIUM : CIPHERS_HIGH);
	char **excl = config_list(config_get(cfg, "smtpd_tls_exclude_ciphers"));
	for (char **x = excl; *x; x++)
		buf_printf(&list, ":!%s", *x);
	config_list_free(excl);
	int ok = SSL_CTX_set_cipher_list(ctx, list.data);
	buf_free(&list);
	if (ok != 1) {
		snprintf(err, errlen, "smtpd_tls_ciphers/smtpd_tls_exclude_ciphers: no cipher left: %s",
		    tls_error(why, sizeof(why)));
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static int sni_cb(SSL *ssl, int *alert, void *arg)
{
	const struct tls_server *t = arg;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	if (name == NULL)
		return SSL_TLSEXT_ERR_NOACK;
	for (size_t i = 0; i < t->nsni; i++)
		if (strcasecmp(t->sni[i].name, name) == 0) {
			SSL_set_SSL_CTX(ssl, t->sni[i].ctx);
			return SSL_TLSEXT_ERR_OK;
		}
	/* Unknown name: the default certificate, as Postfix does. */
	return SSL_TLSEXT_ERR_NOACK;
}

struct sni_load {
	struct tls_server *t;
	char *err;
	size_t errlen;
	int failed;
};

static void sni_add(const char *key, const char *value, void *arg)
{
	struct sni_load *ld = arg;
	if (ld->failed)
		return;
	char **files = config_list(value);
	char why[512];
	SSL_CTX *ctx = NULL;
	size_t n = 0;
	while (files[n])
		n++;
	if (n == 0 || n > 2) {
		snprintf(ld->err, ld->errlen, "tls_server_sni_maps: %s: expected \"keyfile certfile\" "
		    "or one file with key and chain, got \"%s\"", key, value);
		goto fail;
	}
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL || load_pair(ctx, files[0], files[n - 1], why, sizeof(why)) < 0) {
		snprintf(ld->err, ld->errlen, "tls_server_sni_maps: %s: %s", key,
		    ctx ? why : "out of memory");
		goto fail;
	}
	struct tls_server *t = ld->t;
	t->sni = xrealloc(t->sni, (t->nsni + 1) * sizeof(*t->sni));
	t->sni[t->nsni].name = xstrdup(key[0] == '.' ? key + 1 : key);
	t->sni[t->nsni].ctx = ctx;
	t->nsni++;
	config_list_free(files);
	return;
fail:
	SSL_CTX_free(ctx);
	config_list_free(files);
	ld->failed = 1;
}

/* Load into t; 0, or -1 and err (t then holds what was loaded). */
static int tls_load(struct tls_server *t, const struct config *cfg, char *err, size_t errlen)
{
	const char *cert = config_get(cfg, "smtpd_tls_cert_file");
	const char *key = config_get(cfg, "smtpd_tls_key_file");
	const char *snimaps = config_get(cfg, "tls_server_sni_maps");
	char why[512];

	if (*cert == '\0' && *snimaps == '\0')
		return 0;
	t->ctx_may = ctx_new(cfg, "smtpd_tls_protocols", err, errlen);
	t->ctx_must = t->ctx_may ? ctx_new(cfg, "smtpd_tls_mandatory_protocols", err, errlen) : NULL;
	if (t->ctx_must == NULL)
		return -1;
	if (*cert) {
		if (load_pair(t->ctx_may, *key ? key : cert, cert, why, sizeof(why)) < 0 ||
		    load_pair(t->ctx_must, *key ? key : cert, cert, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "smtpd_tls_cert_file: %s", why);
			return -1;
		}
	}
	if (*snimaps) {
		char **specs = config_list(snimaps);
		struct sni_load ld = { t, err, errlen, 0 };
		for (char **sp = specs; *sp && !ld.failed; sp++) {
			struct map *m = map_open(*sp, 0, why, sizeof(why));
			if (m == NULL) {
				snprintf(err, errlen, "tls_server_sni_maps: %s", why);
				ld.failed = 1;
				break;
			}
			map_foreach(m, sni_add, &ld);
			map_free(m);
		}
		config_list_free(specs);
		if (ld.failed)
			return -1;
		SSL_CTX_set_tlsext_servername_callback(t->ctx_may, sni_cb);
		SSL_CTX_set_tlsext_servername_arg(t->ctx_may, t);
		SSL_CTX_set_tlsext_servername_callback(t->ctx_must, sni_cb);
		SSL_CTX_set_tlsext_servername_arg(t->ctx_must, t);
		if (*cert == '\0') {
			snprintf(err, errlen, "tls_server_sni_maps needs smtpd_tls_cert_file too "
			    "(the certificate for clients without SNI)");
			return -1;
		}
	}
	return 0;
}

struct tls_server *tls_init(const struct config *cfg, char *err, size_t errlen)
{
	struct tls_server *t = xcalloc(1, sizeof(*t));
	if (tls_load(t, cfg, err, errlen) < 0) {
		tls_free(t);
		return NULL;
	}
	return t;
}

void tls_free(struct tls_server *t)
{
	if (t == NULL)
		return;
	SSL_CTX_free(t->ctx_may);
	SSL_CTX_free(t->ctx_must);
	for (size_t i = 0; i < t->nsni; i++) {
		free(t->sni[i].name);
		SSL_CTX_free(t->sni[i].ctx);
	}
	free(t->sni);
	free(t);
}

int tls_available(const struct tls_server *t)
{
	return t != NULL && t->ctx_may != NULL;
}

struct ssl_st *tls_new(const struct tls_server *t, int fd, int mandatory)
{
	SSL_CTX *ctx = t == NULL ? NULL : mandatory ? t->ctx_must : t->ctx_may;
	if (ctx == NULL)
		return NULL;
	SSL *ssl = SSL_new(ctx);
	if (ssl == NULL)
		return NULL;
	if (SSL_set_fd(ssl, fd) != 1) {
		SSL_free(ssl);
		return NULL;
	}
	return ssl;
}

void tls_version_cipher(struct ssl_st *ssl, char *buf, size_t len)
{
	int alg = 0;
	int bits = SSL_get_cipher_bits(ssl, &alg);
	snprintf(buf, len, "%s with cipher %s (%d/%d bits)", SSL_get_version(ssl),
	    SSL_get_cipher_name(ssl), bits, alg);
}

void tls_summary(struct ssl_st *ssl, char *buf, size_t len)
{
	size_t off;
	tls_version_cipher(ssl, buf, len);
	off = strlen(buf);
	int group = SSL_get_negotiated_group(ssl);
	const char *gname = group ? SSL_group_to_name(ssl, group) : NULL;
	if (gname && off < len)
		off += (size_t)snprintf(buf + off, len - off, " key-exchange %s", gname);
	int sig = 0;
	EVP_PKEY *pk = SSL_get_privatekey(ssl);
	if (SSL_get_signature_type_nid(ssl, &sig) == 1 && pk && off < len) {
		const char *sn = sig == EVP_PKEY_RSA_PSS ? "RSA-PSS" : OBJ_nid2sn(sig);
		off += (size_t)snprintf(buf + off, len - off, " server-signature %s (%d bits)",
		    sn ? sn : "unknown", EVP_PKEY_get_bits(pk));
		int md = 0;
		if (SSL_get_signature_nid(ssl, &md) == 1 && md != NID_undef && off < len)
			snprintf(buf + off, len - off, " server-digest %s", OBJ_nid2sn(md));
	}
}
