/*
 * f2bclient — the parts of `mailwarden fail2ban-client` (f2bclient.c:
 * options and commands; f2bclient_ask.c: fail2ban-client's messages and
 * the control socket; f2bclient_get.c: get and banned, the bans as
 * fail2ban prints them). Internal to src/cli; cli.h has the entry point.
 */
#ifndef MW_CLI_F2BCLIENT_H
#define MW_CLI_F2BCLIENT_H
#include <stddef.h>

struct buf;

#define F2B_ERR 255		/* fail2ban-client's exit status on error */
#define F2B_CHUNK 32		/* addresses per control request */

/* One command being run. */
struct f2b {
	const char *sock;	/* the control socket */
	char **argv;		/* the command's words */
	int argc;
};

/* A log line on stderr in fail2ban-client's default layout. */
void f2bclient_log(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Python's repr() of a str, appended to o. */
void f2bclient_pyrepr(struct buf *o, const char *s);
/* A failed command: msg on stdout, the NOK line with arg on stderr; 255. */
int f2bclient_nok(const char *msg, const char *arg);
/* fail2ban's IndexError: "Sorry but the command is invalid"; 255. */
int f2bclient_invalid_index(void);
/* Ask the warden (n words): 0 and *ans (the caller frees it); 1 and the
 * warden's error text in *ans; -1 after reporting (unless quiet). */
int f2bclient_ask(const struct f2b *c, int n, char **words, struct buf *ans, int quiet);
/* f2bclient_ask() with the words as arguments, NULL-terminated (at most 8). */
int f2bclient_ask_words(const struct f2b *c, struct buf *ans, ...);
/* The answer's lines, split in place (the array is the caller's to free). */
size_t f2bclient_lines(struct buf *b, char ***out);
/* Report an error answer as fail2ban's message; frees ans; 255. */
int f2bclient_server_error(struct buf *ans);
/* 1 if the warden runs jail name; 0 if not (reported); -1 transport. */
int f2bclient_jail_ok(const struct f2b *c, const char *name);
/* Print an answer after prefix (0), or report the error (255). */
int f2bclient_print_answer(int rc, struct buf *ans, const char *prefix);
/* get JAIL KEY ... (f2bclient_get.c). */
int f2bclient_get(struct f2b *c);
/* banned [IP...] (f2bclient_get.c). */
int f2bclient_banned(struct f2b *c);
#endif
