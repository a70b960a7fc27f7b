/*
 * cmd — the SMTP command table and dispatch (cmd.c).
 */
#ifndef MW_SMTP_CMD_H
#define MW_SMTP_CMD_H
#include <stddef.h>

struct session;
struct engine;

void cmd_dispatch(struct session *s, char *line, size_t len);
/* MAIL FROM:/RCPT TO: path parser (in place); the address or NULL (fuzzing). */
char *cmd_parse_path(char *arg, const char *prefix, char **params);
#endif
