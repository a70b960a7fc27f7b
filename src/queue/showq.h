/*
 * showq — the queue listing (Postfix's showq): the text of `postqueue -p`
 * for maildrop/, incoming/, deferred/ and hold/, and the queue manager's
 * public/showq socket that hands it to `mailq` run by an ordinary user,
 * so the spool stays closed to them (as Postfix's showq service).
 *
 * public/showq is a unix stream socket, mode 0666 inside public/ (0711).
 * One request per connection and nothing to read: on accept the server
 * checks the peer (SO_PEERCRED) against authorized_mailq_users, then
 * writes one status line and the listing, and closes:
 *   "OK\n" listing...            allowed
 *   "DENIED <text>\n"            not allowed (text for the user)
 * The listing is bounded (SHOWQ_OUT_MAX bytes, at most SHOWQ_CONN_MAX
 * connections at a time, SHOWQ_TIMEOUT_MS each) and written without
 * blocking the queue manager's loop.
 */
#ifndef MW_SHOWQ_H
#define MW_SHOWQ_H
#include <stdio.h>
#include <sys/types.h>

#define SHOWQ_SOCKET	"showq"			/* in queue_directory/public/ */
#define SHOWQ_OUT_MAX	(16L * 1024 * 1024)	/* bytes of listing per request */
#define SHOWQ_CONN_MAX	8
#define SHOWQ_TIMEOUT_MS 30000

struct config;

/* Print the queue under qfd in postqueue -p layout to out, at most max
 * bytes (then a truncation line); deferral reasons from the tail of
 * maillog (may be "" or unreadable). 0, or -1 if out failed. */
int showq_list(FILE *out, int qfd, const char *maillog, long max);
/* The queue IDs in qfd's directory dir, sorted; *dfd is left open on
 * the directory (-1 if it cannot be opened), *n names. */
char **showq_names(int qfd, const char *dir, int *dfd, size_t *n);
/* Free what showq_names() returned. */
void showq_names_free(char **names, size_t n);
/* Queue manager: bind public/showq (pubfd is public/, qfd the queue
 * directory) and serve it on the loop. Logs and carries on without it
 * when it cannot bind. */
void showq_open(const struct config *cfg, int qfd, int pubfd);
/* Queue manager: stop serving; drop open requests. */
void showq_close(void);
/* Set mode (and, when group is not "", the group) of the socket name in
 * public/; 0, or -1 and a logged warning. */
int showq_sock_mode(int pubfd, const char *name, mode_t mode, const char *group);
/* Client: ask the queue manager under qdir and copy the listing to out.
 * 0, or -1 with err (not running, not allowed...). */
int showq_query(const char *qdir, FILE *out, char *err, size_t errlen);
#endif
