/*
 * auth — SMTP AUTH for a session, and its decoders (auth.c).
 */
#ifndef MW_SMTP_AUTH_H
#define MW_SMTP_AUTH_H
#include <stddef.h>

struct session;
struct engine;

/* auth.c: the AUTH command and its exchange */
int auth_cmd(struct session *s, char *arg);
/* A response line during an exchange (s->auth_step != AUTH_NONE). */
void auth_input(struct session *s, char *line, size_t len);
/* AUTH offered to this session now? */
int auth_offered(const struct session *s);
void auth_cancel(struct session *s);
/* AUTH's base64 decoder (padding required); decoded length or -1 (fuzzing). */
long auth_b64_decode(const char *in, char *out, size_t outlen);
/* Split a decoded PLAIN response (n bytes, NUL-terminated at buf[n])
 * "[authzid] NUL authcid NUL passwd" into *user and *pass; -1 if malformed. */
int auth_plain_split(const char *buf, size_t n, const char **user, const char **pass);
#endif
