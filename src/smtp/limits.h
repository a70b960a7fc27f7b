/*
 * limits — per-client rate limits and stress mode (limits.c).
 */
#ifndef MW_SMTP_LIMITS_H
#define MW_SMTP_LIMITS_H
#include <stddef.h>

struct session;
struct engine;

/* limits.c: the smtpd_client_*_rate_limit checks (0 go on; -1 refused:
 * warning logged, event sent, reply queued, CLOSING where Postfix
 * disconnects), stress mode and the values it changes. */
int limit_connect(struct session *s);
int limit_mail(struct session *s);
int limit_rcpt(struct session *s);
int limit_starttls(struct session *s);
int limit_tls_handshake(struct session *s);
int limit_tls_wrapper(struct session *s);
void limit_stress_check(struct engine *e);
long limit_timeout_ms(const struct engine *e);
/* The session's request timeout: 2 s in stress mode before its first
 * command, else limit_timeout_ms(). */
long limit_session_timeout_ms(const struct session *s);
long limit_hard_errors(const struct session *s);
long limit_junk(const struct engine *e);
long limit_starttls_timeout_ms(const struct engine *e);
int limit_deadline(const struct engine *e);
/* The idle/deadline timer of a session after n bytes of input (n = 0:
 * a new request begins). */
void limit_arm_timer(struct session *s, size_t n);
#endif
