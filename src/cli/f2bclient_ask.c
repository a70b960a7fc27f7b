/*
 * f2bclient_ask — fail2ban-client's messages (its log line on stderr,
 * Python's reprs, the NOK errors) and the requests to the warden's
 * control socket, for `mailwarden fail2ban-client` (f2bclient.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/f2bclient.h"
#include "common/buf.h"
#include "common/util.h"

/* ---- output as fail2ban-client's ---- */

/* A log line on stderr in fail2ban-client's default layout. */
void f2bclient_log(const char *level, const char *fmt, ...)
{
	char stamp[32], msg[4096];
	struct timeval tv;
	struct tm tm;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
	fprintf(stderr, "%s,%03d %-24s[%d]: %-7s %s\n", stamp, (int)(tv.tv_usec / 1000),
	    "fail2ban", (int)getpid(), level, msg);
}

/* Python's repr() of a str. */
void f2bclient_pyrepr(struct buf *o, const char *s)
{
	char q = strchr(s, '\'') && !strchr(s, '"') ? '"' : '\'';
	buf_append(o, &q, 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '\\' || *p == (unsigned char)q)
			buf_printf(o, "\\%c", *p);
		else if (*p == '\n')
			buf_puts(o, "\\n");
		else if (*p == '\t')
			buf_puts(o, "\\t");
		else if (*p == '\r')
			buf_puts(o, "\\r");
		else if (*p < 0x20 || *p == 0x7f)
			buf_printf(o, "\\x%02x", *p);
		else
			buf_append(o, p, 1);
	}
	buf_append(o, &q, 1);
}

/* A failed command: msg on stdout (the Beautifier's), and the server's
 * exception arguments (one string) in the NOK line. */
int f2bclient_nok(const char *msg, const char *arg)
{
	struct buf b;
	buf_init(&b, 64 * 1024);
	f2bclient_pyrepr(&b, arg);
	printf("%s\n", msg);
	fflush(stdout);
	f2bclient_log("ERROR", "NOK: (%s,)", b.data ? b.data : "");
	buf_free(&b);
	return F2B_ERR;
}

int f2bclient_invalid_index(void)
{
	return f2bclient_nok("Sorry but the command is invalid", "list index out of range");
}

static int no_jail(const char *name)
{
	char msg[1024];
	snprintf(msg, sizeof(msg), "Sorry but the jail '%s' does not exist", name);
	return f2bclient_nok(msg, name);
}

/* ---- the control socket ---- */

/* Ask the warden: 0 and *ans (the caller frees it); 1 and the warden's
 * error text in *ans; -1 after reporting as fail2ban-client would. */
int f2bclient_ask(const struct f2b *c, int n, char **words, struct buf *ans, int quiet)
{
	int rc = cli_warden_request(c->sock, n, words, 0, ans);
	if (rc == WREQ_OK || rc == WREQ_ERROR)
		return rc == WREQ_OK ? 0 : 1;
	int e = errno;
	buf_free(ans);
	if (quiet)
		return -1;
	if (rc == WREQ_BADARG)
		f2bclient_log("ERROR", "argument with a TAB or newline, or request too long");
	else if (rc == WREQ_NOANSWER)
		f2bclient_log("ERROR", "No answer from the ban engine at %s (is it starting? see the "
		    "mail log)", c->sock);
	else if (access(c->sock, F_OK) < 0)
		f2bclient_log("ERROR", "Failed to access socket path: %s. Is fail2ban running?", c->sock);
	else if (access(c->sock, W_OK) < 0)
		f2bclient_log("ERROR", "Permission denied to socket: %s, (you must be root)", c->sock);
	else if (strcmp(c->argv[0], "ping") == 0)
		f2bclient_log("ERROR", "[Errno %d] %s", e, strerror(e));
	else
		f2bclient_log("ERROR", "[[Errno %d] %s] Unable to contact server. Is it running?", e,
		    strerror(e));
	return -1;
}

/* f2bclient_ask() with the words as arguments (NULL-terminated). */
int f2bclient_ask_words(const struct f2b *c, struct buf *ans, ...)
{
	char *w[8];
	int n = 0;
	va_list ap;
	va_start(ap, ans);
	for (char *s; n < 8 && (s = va_arg(ap, char *)) != NULL;)
		w[n++] = s;
	va_end(ap);
	return f2bclient_ask(c, n, w, ans, 0);
}

/* The answer's lines, in place (the array is the caller's to free). */
size_t f2bclient_lines(struct buf *b, char ***out)
{
	size_t n = 0, cap = 8;
	char **v = xcalloc(cap, sizeof(*v));
	for (char *p = b->data ? b->data : NULL, *nl; p && *p; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL)
			break;
		*nl = '\0';
		if (n == cap)
			v = xrealloc(v, (cap *= 2) * sizeof(*v));
		v[n++] = p;
	}
	*out = v;
	return n;
}

/* An answer the warden sent as an error: it is fail2ban's message. */
int f2bclient_server_error(struct buf *ans)
{
	char *msg = ans->data ? ans->data : xstrdup("");
	size_t len = strlen(msg);
	while (len && msg[len - 1] == '\n')
		msg[--len] = '\0';
	int rc = f2bclient_nok(msg, msg);
	if (ans->data == NULL)
		free(msg);
	buf_free(ans);
	return rc;
}

/* 1 if the warden runs jail name, 0 if not (reported), -1 transport. */
int f2bclient_jail_ok(const struct f2b *c, const char *name)
{
	struct buf ans;
	char **v;
	int rc = f2bclient_ask_words(c, &ans, "jails", NULL);
	if (rc != 0) {
		if (rc == 1)
			f2bclient_server_error(&ans);
		return -1;
	}
	size_t n = f2bclient_lines(&ans, &v);
	int found = 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], name) == 0)
			found = 1;
	free(v);
	buf_free(&ans);
	if (!found)
		no_jail(name);
	return found;
}

/* Print an answer (0), or report the warden's error. */
int f2bclient_print_answer(int rc, struct buf *ans, const char *prefix)
{
	if (rc < 0)
		return F2B_ERR;
	if (rc == 1)
		return f2bclient_server_error(ans);
	printf("%s%s", prefix, ans->data ? ans->data : "");
	buf_free(ans);
	return 0;
}

