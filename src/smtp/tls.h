/*
 * tls — the smtp engine's server side of TLS (OpenSSL 3): contexts built
 * once at start (before chroot, so key files may be root-only), one per
 * protocol policy (opportunistic STARTTLS and mandatory TLS), SNI
 * certificates from tls_server_sni_maps, and the Postfix-style summary
 * of a finished handshake for the log and the Received header.
 * A SIGHUP starts a new engine process, which reads every file again.
 */
#ifndef MW_SMTP_TLS_H
#define MW_SMTP_TLS_H
#include <stddef.h>

struct config;
struct ssl_st;
struct tls_server;

/* Read certificates and settings into a new struct tls_server; NULL and
 * a message naming the key on error. With no smtpd_tls_cert_file and no
 * SNI map, TLS stays off (a server without contexts). */
struct tls_server *tls_init(const struct config *cfg, char *err, size_t errlen);
/* Free what tls_init() loaded (NULL: nothing). */
void tls_free(struct tls_server *t);
/* 1 if a server certificate is loaded (STARTTLS can be offered). */
int tls_available(const struct tls_server *t);
/* A new server TLS object on fd; mandatory selects
 * smtpd_tls_mandatory_protocols. NULL if TLS is off or out of memory. */
struct ssl_st *tls_new(const struct tls_server *t, int fd, int mandatory);
/* "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)" plus, when
 * known, " key-exchange X25519 server-signature RSA-PSS (2048 bits)
 * server-digest SHA256", as Postfix writes it. */
void tls_summary(struct ssl_st *ssl, char *buf, size_t len);
/* Protocol and cipher alone (for the Received header's first line). */
void tls_version_cipher(struct ssl_st *ssl, char *buf, size_t len);
/* The most recent OpenSSL error as text, and clear the queue. */
const char *tls_error(char *buf, size_t len);
/* Translate a Postfix protocol list (">=TLSv1.2", "!SSLv3, !TLSv1") into
 * OpenSSL version numbers; -1 and a message if malformed. */
int tls_parse_protocols(const char *text, int *min, int *max, char *err, size_t errlen);
#endif
