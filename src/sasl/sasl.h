/*
 * sasl — SMTP AUTH password backends for the smtp engine. The engine
 * decodes PLAIN/LOGIN itself and hands user + password here; a backend
 * answers OK, FAIL or TEMPFAIL through a callback on the event loop.
 *
 *   passwd-file  a Dovecot passwd-file read once at open; hashes are
 *                verified by a small pool of worker threads (src/sasl/worker.c)
 *   dovecot      Dovecot's auth client protocol over a UNIX socket,
 *                non-blocking on the loop (src/sasl/dovecot.c)
 *
 * See docs/sasl.md.
 */
#ifndef MW_SASL_H
#define MW_SASL_H
#include <stddef.h>

enum sasl_result { SASL_OK, SASL_FAIL, SASL_TEMPFAIL };

struct sasl;			/* one backend instance, opened once per engine process */
struct sasl_req;		/* one verification in flight */

/* r is the answer; why a short reason for the log (never NULL); user, on
 * SASL_OK, the name the backend authenticated when it says (Dovecot's
 * user=, which may differ from the login), else NULL: use the login. */
typedef void sasl_done_fn(void *arg, enum sasl_result r, const char *why, const char *user);

/*
 * Open the backend named by type ("passwd-file" | "dovecot") with path.
 * Call before chroot and privilege drop. passwd-file reads the whole file
 * now; dovecot connects now and reconnects later on its own (a relative
 * path is tried against the cwd at open time, then as given, which works
 * after chroot(queue_directory)). NULL and a message in err on error.
 */
struct sasl *sasl_open(const char *type, const char *path, char *err, size_t errlen);
/* Close the backend; requests still in flight are dropped silently. */
void sasl_close(struct sasl *s);
/*
 * Verify user/password (mech "PLAIN" or "LOGIN", for logs). done(arg, ...)
 * runs later on the loop, never inside sasl_check. client_addr is the
 * client's IP text (may be NULL). The handle stays valid until done runs
 * or sasl_cancel is called.
 */
struct sasl_req *sasl_check(struct sasl *s, const char *mech, const char *user,
    const char *pass, const char *client_addr, sasl_done_fn *done, void *arg);
/*
 * The same with flags. SASL_SUSPECT: the client has failed recently; its
 * check waits until no check of a clean client is waiting, so a flood of
 * wrong passwords cannot delay a real user's login (passwd-file's workers
 * serve two lanes, clean first).
 */
#define SASL_SUSPECT 0x01
/* SASL_SECURED: the client's session is on TLS (Dovecot's "secured", which
 * its disable_plaintext_auth looks at; never claimed for plaintext). */
#define SASL_SECURED 0x02
struct sasl_req *sasl_check_flags(struct sasl *s, const char *mech, const char *user,
    const char *pass, const char *client_addr, int flags, sasl_done_fn *done, void *arg);
/* Cancel a request: its done never runs. The handle is invalid afterwards. */
void sasl_cancel(struct sasl_req *r);

/*
 * Hash pass with a Dovecot scheme (SHA512-CRYPT, SHA256-CRYPT, BLF-CRYPT,
 * CRYPT = yescrypt, MD5-CRYPT, PLAIN) into out as "{SCHEME}hash".
 * 0 ok, -1 with a message in err.
 */
int sasl_hash(const char *scheme, const char *pass, char *out, size_t outlen,
    char *err, size_t errlen);
/*
 * Synchronously check pass against a passwd-file password field
 * ("{SCHEME}hash" or a bare crypt string): 1 match, 0 no match,
 * -1 malformed field (message in err). Slow by design: not on the loop.
 */
int sasl_verify_field(const char *field, const char *pass, char *err, size_t errlen);
#endif
