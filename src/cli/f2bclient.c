/*
 * f2bclient — `mailwarden fail2ban-client ...` (or the program run under
 * the name fail2ban-client): the commands scripts give fail2ban-client
 * 1.0.2, answered by the ban engine with fail2ban-client's output and
 * exit codes (0, or 255 with the message on stdout and fail2ban's
 * "ERROR   NOK: (...)" log line on stderr). Parsing and printing live
 * here (fail2ban's Beautifier); the values come from the warden's
 * control socket as raw lines (control.h: jails, get, banip, unbanip,
 * flushlogs, ping, status, unban, reload).
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/buf.h"
#include "common/config.h"
#include "common/net.h"
#include "common/util.h"
#include "warden/jail.h"

#define F2B_VERSION "1.0.2"	/* the fail2ban whose client this is */
#define F2B_ERR 255
#define F2B_CHUNK 32		/* addresses per control request */

struct f2b {
	const char *sock;	/* the control socket */
	char **argv;		/* the command's words */
	int argc;
};

/* ---- output as fail2ban-client's ---- */

/* A log line on stderr in fail2ban-client's default layout. */
static void f2b_log(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void f2b_log(const char *level, const char *fmt, ...)
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
static void pyrepr(struct buf *o, const char *s)
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
static int nok(const char *msg, const char *arg)
{
	struct buf b;
	buf_init(&b, 64 * 1024);
	pyrepr(&b, arg);
	printf("%s\n", msg);
	fflush(stdout);
	f2b_log("ERROR", "NOK: (%s,)", b.data ? b.data : "");
	buf_free(&b);
	return F2B_ERR;
}

static int invalid_index(void)
{
	return nok("Sorry but the command is invalid", "list index out of range");
}

static int no_jail(const char *name)
{
	char msg[1024];
	snprintf(msg, sizeof(msg), "Sorry but the jail '%s' does not exist", name);
	return nok(msg, name);
}

/* ---- the control socket ---- */

/* Ask the warden: 0 and *ans (the caller frees it); 1 and the warden's
 * error text in *ans; -1 after reporting as fail2ban-client would. */
static int ask(const struct f2b *c, int n, char **words, struct buf *ans, int quiet)
{
	int rc = cli_warden_request(c->sock, n, words, 0, ans);
	if (rc == WREQ_OK || rc == WREQ_ERROR)
		return rc == WREQ_OK ? 0 : 1;
	int e = errno;
	buf_free(ans);
	if (quiet)
		return -1;
	if (rc == WREQ_BADARG)
		f2b_log("ERROR", "argument with a TAB or newline, or request too long");
	else if (rc == WREQ_NOANSWER)
		f2b_log("ERROR", "No answer from the ban engine at %s (is it starting? see the "
		    "mail log)", c->sock);
	else if (access(c->sock, F_OK) < 0)
		f2b_log("ERROR", "Failed to access socket path: %s. Is fail2ban running?", c->sock);
	else if (access(c->sock, W_OK) < 0)
		f2b_log("ERROR", "Permission denied to socket: %s, (you must be root)", c->sock);
	else if (strcmp(c->argv[0], "ping") == 0)
		f2b_log("ERROR", "[Errno %d] %s", e, strerror(e));
	else
		f2b_log("ERROR", "[[Errno %d] %s] Unable to contact server. Is it running?", e,
		    strerror(e));
	return -1;
}

/* ask() with the words as arguments (NULL-terminated). */
static int ask_words(const struct f2b *c, struct buf *ans, ...)
{
	char *w[8];
	int n = 0;
	va_list ap;
	va_start(ap, ans);
	for (char *s; n < 8 && (s = va_arg(ap, char *)) != NULL;)
		w[n++] = s;
	va_end(ap);
	return ask(c, n, w, ans, 0);
}

/* The answer's lines, in place (the array is the caller's to free). */
static size_t lines(struct buf *b, char ***out)
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
static int server_error(struct buf *ans)
{
	char *msg = ans->data ? ans->data : xstrdup("");
	size_t len = strlen(msg);
	while (len && msg[len - 1] == '\n')
		msg[--len] = '\0';
	int rc = nok(msg, msg);
	if (ans->data == NULL)
		free(msg);
	buf_free(ans);
	return rc;
}

/* 1 if the warden runs jail name, 0 if not (reported), -1 transport. */
static int jail_ok(const struct f2b *c, const char *name)
{
	struct buf ans;
	char **v;
	int rc = ask_words(c, &ans, "jails", NULL);
	if (rc != 0) {
		if (rc == 1)
			server_error(&ans);
		return -1;
	}
	size_t n = lines(&ans, &v);
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
static int print_answer(int rc, struct buf *ans, const char *prefix)
{
	if (rc < 0)
		return F2B_ERR;
	if (rc == 1)
		return server_error(ans);
	printf("%s%s", prefix, ans->data ? ans->data : "");
	buf_free(ans);
	return 0;
}

/* ---- bans as the warden lists them: KEY TAB start TAB bantime ---- */

struct ban {
	char *key;
	long start, bantime, end;
	size_t order;
};

static size_t jail_bans(const struct f2b *c, const char *jail, struct ban **out, int *err)
{
	struct buf ans;
	char **v;
	*out = NULL;
	int rc = ask_words(c, &ans, "get", jail, "bans", NULL);
	if (rc != 0) {
		*err = rc == 1 ? server_error(&ans) : F2B_ERR;
		return 0;
	}
	size_t n = lines(&ans, &v);
	struct ban *b = xcalloc(n ? n : 1, sizeof(*b));
	for (size_t i = 0; i < n; i++) {
		char *t1 = strchr(v[i], '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
		if (t1)
			*t1 = '\0';
		b[i].key = xstrdup(v[i]);
		b[i].start = t1 ? strtol(t1 + 1, NULL, 10) : 0;
		b[i].bantime = t2 ? strtol(t2 + 1, NULL, 10) : 0;
		b[i].end = b[i].bantime == JAIL_FOREVER ? 0x7FFFFFFFFFFFL : b[i].start + b[i].bantime;
		b[i].order = i;
	}
	free(v);
	buf_free(&ans);
	*out = b;
	*err = 0;
	return n;
}

static void bans_free(struct ban *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(b[i].key);
	free(b);
}

/* 1 if ip (text) is in one of the bans (a ban of a network holds its
 * addresses: mailwarden bans IPv6 by /64). */
static int ip_banned(const char *ip, const struct ban *b, size_t n)
{
	struct net a, bn;
	char err[128];
	if (net_parse_net(ip, &a, err, sizeof(err)) < 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (net_parse_net(b[i].key, &bn, err, sizeof(err)) == 0 && net_contains(&bn, &a))
			return 1;
	return 0;
}

static int by_end(const void *x, const void *y)
{
	const struct ban *a = x, *b = y;
	if (a->end != b->end)
		return a->end < b->end ? -1 : 1;
	return a->order < b->order ? -1 : a->order > b->order;
}

/* ---- the commands ---- */

static int c_ping(struct f2b *c)
{
	struct buf ans;
	return print_answer(ask_words(c, &ans, "ping", NULL), &ans, "Server replied: ");
}

static int c_version(struct f2b *c)
{
	struct buf ans;
	int rc = ask_words(c, &ans, "ping", NULL);
	if (rc != 0)
		return rc == 1 ? server_error(&ans) : F2B_ERR;
	buf_free(&ans);
	printf("%s\n", F2B_VERSION);
	return 0;
}

static int c_status(struct f2b *c)
{
	struct buf ans;
	if (c->argc == 1)
		return print_answer(ask_words(c, &ans, "status", NULL), &ans, "");
	if (c->argc > 3)
		return nok("Invalid command (no status)", "Invalid command (no status)");
	int ok = jail_ok(c, c->argv[1]);
	if (ok <= 0)
		return F2B_ERR;
	/* fail2ban's flavors: short, basic and anything else as basic */
	int shortform = c->argc == 3 && strcmp(c->argv[2], "short") == 0;
	return print_answer(ask_words(c, &ans, "status", c->argv[1], shortform ? "short" : NULL,
	    NULL), &ans, "");
}

static int c_flushlogs(struct f2b *c)
{
	struct buf ans;
	return print_answer(ask_words(c, &ans, "flushlogs", NULL), &ans, "logs: ");
}

/* unbanip over the addresses in chunks: *total and, per address, whether
 * it lifted anything. */
static int unban_chunks(const struct f2b *c, const char *jail, char **ips, int n,
    size_t *total, char *hit)
{
	*total = 0;
	for (int i = 0; i < n; i += F2B_CHUNK) {
		char *w[F2B_CHUNK + 2] = { "unbanip", (char *)jail };
		int k = n - i < F2B_CHUNK ? n - i : F2B_CHUNK;
		memcpy(w + 2, ips + i, (size_t)k * sizeof(*w));
		struct buf ans;
		char **v;
		int rc = ask(c, k + 2, w, &ans, 0);
		if (rc != 0)
			return rc == 1 ? server_error(&ans) : F2B_ERR;
		size_t nl = lines(&ans, &v);
		for (int j = 0; j < k; j++) {
			size_t got = (size_t)j < nl ? strtoul(v[j], NULL, 10) : 0;
			*total += got;
			hit[i + j] = got > 0;
		}
		free(v);
		buf_free(&ans);
	}
	return 0;
}

static int c_unban(struct f2b *c)
{
	struct buf ans;
	if (c->argc < 2)
		return nok("Invalid command", "Invalid command");
	if (c->argc == 2 && strcmp(c->argv[1], "--all") == 0)
		return print_answer(ask_words(c, &ans, "unban", "--all", NULL), &ans, "");
	size_t total;
	char *hit = xcalloc((size_t)c->argc, 1);
	int rc = unban_chunks(c, "--all", c->argv + 1, c->argc - 1, &total, hit);
	free(hit);
	if (rc == 0)
		printf("%zu\n", total);
	return rc;
}

static int set_banip(struct f2b *c, const char *jail, char **ips, int n)
{
	size_t total = 0;
	for (int i = 0; i < n; i += F2B_CHUNK) {
		char *w[F2B_CHUNK + 2] = { "banip", (char *)jail };
		int k = n - i < F2B_CHUNK ? n - i : F2B_CHUNK;
		memcpy(w + 2, ips + i, (size_t)k * sizeof(*w));
		struct buf ans;
		int rc = ask(c, k + 2, w, &ans, 0);
		if (rc != 0)
			return rc == 1 ? server_error(&ans) : F2B_ERR;
		total += strtoul(ans.data ? ans.data : "0", NULL, 10);
		buf_free(&ans);
	}
	printf("%zu\n", total);
	return 0;
}

static int set_unbanip(struct f2b *c, const char *jail, char **ips, int n)
{
	int report = n > 0 && strcmp(ips[0], "--report-absent") == 0;
	if (report) {
		ips++;
		n--;
	}
	size_t total = 0;
	char *hit = xcalloc((size_t)n + 1, 1);
	int rc = n ? unban_chunks(c, jail, ips, n, &total, hit) : 0;
	struct buf miss;
	buf_init(&miss, 1024 * 1024);
	for (int i = 0; rc == 0 && report && i < n; i++) {
		if (hit[i])
			continue;
		buf_puts(&miss, miss.len ? ", " : "not banned: [");
		pyrepr(&miss, ips[i]);
	}
	free(hit);
	if (rc == 0 && miss.len) {
		buf_puts(&miss, "]");
		rc = nok(miss.data, miss.data);
	} else if (rc == 0) {
		printf("%zu\n", total);
	}
	buf_free(&miss);
	return rc;
}

static int c_set(struct f2b *c)
{
	if (c->argc < 3)
		return invalid_index();
	const char *jail = c->argv[1], *key = c->argv[2];
	int ban = strcmp(key, "banip") == 0, unban = strcmp(key, "unbanip") == 0;
	if (!ban && !unban) {
		char msg[512];
		struct buf r;
		buf_init(&r, 400);
		pyrepr(&r, key);
		snprintf(msg, sizeof(msg), "Invalid command %s (no set action or not yet implemented)",
		    r.data ? r.data : "");
		buf_free(&r);
		return nok(msg, msg);
	}
	if (unban && c->argc < 4)
		return invalid_index();
	int ok = jail_ok(c, jail);
	if (ok <= 0)
		return F2B_ERR;
	return ban ? set_banip(c, jail, c->argv + 3, c->argc - 3) :
	    set_unbanip(c, jail, c->argv + 3, c->argc - 3);
}

/* get JAIL bantime|findtime|maxretry: the number as it comes. */
static int get_value(struct f2b *c, struct buf *ans)
{
	printf("%s", ans->data ? ans->data : "\n");
	return 0;
}

/* A list in fail2ban's tree: "|- a" ... "`- last", or the empty text. */
static void tree(char **v, size_t n, const char *empty, const char *head)
{
	if (n == 0) {
		printf("%s\n", empty);
		return;
	}
	printf("%s\n", head);
	for (size_t i = 0; i < n; i++)
		printf("%s %s\n", i + 1 == n ? "`-" : "|-", v[i]);
}

static int get_logpath(struct f2b *c, struct buf *ans)
{
	char **v;
	size_t n = lines(ans, &v);
	tree(v, n, "No file is currently monitored", "Current monitored log file(s):");
	free(v);
	return 0;
}

static int get_ignoreip(struct f2b *c, struct buf *ans)
{
	char **v;
	size_t n = lines(ans, &v);
	tree(v, n, "No IP address/network is ignored", "These IP addresses/networks are ignored:");
	free(v);
	return 0;
}

static int get_actions(struct f2b *c, struct buf *ans)
{
	char **v;
	size_t n = lines(ans, &v);
	if (n == 0)
		printf("No actions for jail %s\n", c->argv[1]);
	else
		printf("The jail %s has the following actions:\n", c->argv[1]);
	for (size_t i = 0; i < n; i++)
		printf("%s%s", i ? ", " : "", v[i]);
	if (n)
		printf("\n");
	free(v);
	return 0;
}

/* get JAIL banip [SEP|--with-time]: ordered by end of ban. */
static int get_banip(struct f2b *c, struct buf *ans)
{
	int err;
	struct ban *b;
	size_t n = jail_bans(c, c->argv[1], &b, &err);
	if (err)
		return err;
	qsort(b, n, sizeof(*b), by_end);
	int with_time = c->argc > 3 && strcmp(c->argv[3], "--with-time") == 0;
	const char *sep = with_time ? "\n" : c->argc > 3 ? c->argv[3] : " ";
	for (size_t i = 0; i < n; i++) {
		printf("%s%s", i ? sep : "", b[i].key);
		if (with_time) {
			char t1[32], t2[32];
			struct tm tm;
			time_t s = b[i].start, e = b[i].end;
			strftime(t1, sizeof(t1), "%Y-%m-%d %H:%M:%S", localtime_r(&s, &tm));
			if (b[i].bantime == JAIL_FOREVER)
				snprintf(t2, sizeof(t2), "9999-12-31 23:59:59");
			else
				strftime(t2, sizeof(t2), "%Y-%m-%d %H:%M:%S", localtime_r(&e, &tm));
			printf(" \t%s + %ld = %s", t1, b[i].bantime, t2);
		}
	}
	printf("\n");
	bans_free(b, n);
	return 0;
}

/* get JAIL banned [IP...]: the list, 1/0, or a list of 1/0. */
static int get_banned(struct f2b *c, struct buf *ans)
{
	int err;
	struct ban *b;
	size_t n = jail_bans(c, c->argv[1], &b, &err);
	if (err)
		return err;
	struct buf o;
	buf_init(&o, 64 * 1024 * 1024);
	if (c->argc == 4) {
		buf_printf(&o, "%d", ip_banned(c->argv[3], b, n));
	} else if (c->argc > 4) {
		for (int i = 3; i < c->argc; i++)
			buf_printf(&o, "%s%d", i > 3 ? ", " : "[", ip_banned(c->argv[i], b, n));
		buf_puts(&o, "]");
	} else {
		buf_puts(&o, "[");
		for (size_t i = 0; i < n; i++) {
			buf_puts(&o, i ? ", " : "");
			pyrepr(&o, b[i].key);
		}
		buf_puts(&o, "]");
	}
	printf("%s\n", o.data ? o.data : "");
	buf_free(&o);
	bans_free(b, n);
	return 0;
}

typedef int get_fn(struct f2b *c, struct buf *ans);

/* get's keys: the warden's key for the value (NULL: the bans). */
static const struct {
	const char *key;
	const char *ask;
	get_fn *fn;
} get_keys[] = {
	{ "bantime", "bantime", get_value },
	{ "findtime", "findtime", get_value },
	{ "maxretry", "maxretry", get_value },
	{ "logpath", "logpath", get_logpath },
	{ "ignoreip", "ignoreip", get_ignoreip },
	{ "actions", "actions", get_actions },
	{ "banip", NULL, get_banip },
	{ "banned", NULL, get_banned },
};

static int c_get(struct f2b *c)
{
	if (c->argc < 3)
		return invalid_index();
	for (size_t i = 0; i < sizeof(get_keys) / sizeof(*get_keys); i++) {
		if (strcmp(c->argv[2], get_keys[i].key) != 0)
			continue;
		int ok = jail_ok(c, c->argv[1]);
		if (ok <= 0)
			return F2B_ERR;
		struct buf ans = { 0 };
		if (get_keys[i].ask) {
			int rc = ask_words(c, &ans, "get", c->argv[1], (char *)get_keys[i].ask, NULL);
			if (rc != 0)
				return rc == 1 ? server_error(&ans) : F2B_ERR;
		}
		int rc = get_keys[i].fn(c, &ans);
		buf_free(&ans);
		return rc;
	}
	return nok("Invalid command (no get action or not yet implemented)",
	    "Invalid command (no get action or not yet implemented)");
}

/* banned [IP...]: every jail with its bans, or for each IP the jails
 * that ban it, as Python prints them. */
static int c_banned(struct f2b *c)
{
	struct buf ans, o;
	char **jails;
	int rc = ask_words(c, &ans, "jails", NULL);
	if (rc != 0)
		return rc == 1 ? server_error(&ans) : F2B_ERR;
	size_t nj = lines(&ans, &jails);
	struct ban **b = xcalloc(nj ? nj : 1, sizeof(*b));
	size_t *nb = xcalloc(nj ? nj : 1, sizeof(*nb));
	for (size_t j = 0; j < nj && rc == 0; j++)
		nb[j] = jail_bans(c, jails[j], &b[j], &rc);
	buf_init(&o, 64 * 1024 * 1024);
	buf_puts(&o, "[");
	for (int i = 1; rc == 0 && i < c->argc; i++) {
		buf_puts(&o, i > 1 ? ", [" : "[");
		int first = 1;
		for (size_t j = 0; j < nj; j++) {
			if (!ip_banned(c->argv[i], b[j], nb[j]))
				continue;
			buf_puts(&o, first ? "" : ", ");
			pyrepr(&o, jails[j]);
			first = 0;
		}
		buf_puts(&o, "]");
	}
	for (size_t j = 0; rc == 0 && c->argc == 1 && j < nj; j++) {
		buf_puts(&o, j ? ", {" : "{");
		pyrepr(&o, jails[j]);
		buf_puts(&o, ": [");
		for (size_t i = 0; i < nb[j]; i++) {
			buf_puts(&o, i ? ", " : "");
			pyrepr(&o, b[j][i].key);
		}
		buf_puts(&o, "]}");
	}
	buf_puts(&o, "]");
	if (rc == 0)
		printf("%s\n", o.data);
	for (size_t j = 0; j < nj; j++)
		bans_free(b[j], nb[j]);
	free(b);
	free(nb);
	free(jails);
	buf_free(&ans);
	buf_free(&o);
	return rc;
}

/* reload [--restart] [--unban] [--if-exists] [--all|JAIL] */
static int c_reload(struct f2b *c)
{
	int unban = 0, i = 1;
	for (; i < c->argc; i++) {
		if (strcmp(c->argv[i], "--unban") == 0)
			unban = 1;
		else if (strcmp(c->argv[i], "--restart") != 0 && strcmp(c->argv[i], "--if-exists") != 0)
			break;
	}
	if (c->argc - i > 1) {
		struct buf r;
		buf_init(&r, 64 * 1024);
		for (int k = i; k < c->argc; k++) {
			buf_puts(&r, k > i ? ", " : "[");
			pyrepr(&r, c->argv[k]);
		}
		f2b_log("ERROR", "Unexpected argument(s) for reload: %s]", r.data);
		buf_free(&r);
		return F2B_ERR;
	}
	const char *jail = i < c->argc && strcmp(c->argv[i], "--all") != 0 ? c->argv[i] : NULL;
	struct buf ans;
	char *w[2] = { "ping", NULL };
	if (ask(c, 1, w, &ans, 1) != 0) {
		f2b_log("ERROR", "Could not find server");
		return F2B_ERR;
	}
	buf_free(&ans);
	w[0] = "reload";
	w[1] = (char *)jail;
	int rc = ask(c, jail ? 2 : 1, w, &ans, 0);
	if (rc < 0)
		return F2B_ERR;
	if (rc == 1) {
		size_t len = ans.len;
		while (len && ans.data[len - 1] == '\n')
			ans.data[--len] = '\0';
		f2b_log("ERROR", "Failed during configuration: %s", ans.data ? ans.data : "");
		buf_free(&ans);
		return F2B_ERR;
	}
	buf_free(&ans);
	if (unban) {	/* after the reload, which restores bans from the store */
		char *u[2] = { "unbanip", jail ? (char *)jail : "--all" };
		if ((rc = ask(c, 2, u, &ans, 0)) != 0)
			return rc == 1 ? server_error(&ans) : F2B_ERR;
		buf_free(&ans);
	}
	printf("OK\n");
	return 0;
}

/* start, stop, restart, add: the ban engine is part of the mail system */
static int c_server(struct f2b *c)
{
	f2b_log("ERROR", "mailwarden's ban engine starts and stops with the mail system "
	    "(systemctl start|stop|reload mailwarden); '%s' is not available", c->argv[0]);
	return F2B_ERR;
}

static const struct {
	const char *name;
	int (*fn)(struct f2b *c);
} commands[] = {
	{ "ping", c_ping },
	{ "version", c_version },
	{ "status", c_status },
	{ "set", c_set },
	{ "get", c_get },
	{ "unban", c_unban },
	{ "banned", c_banned },
	{ "reload", c_reload },
	{ "flushlogs", c_flushlogs },
	{ "start", c_server },
	{ "stop", c_server },
	{ "restart", c_server },
	{ "add", c_server },
};

/* ---- options ---- */

static void usage(const char *name)
{
	printf("Usage: %s [OPTIONS] <COMMAND>\n\n"
	    "fail2ban-client 1.0.2's commands, answered by mailwarden's ban engine.\n\n"
	    "Options:\n"
	    "    -s, --socket <FILE>     the ban engine's control socket (warden_socket)\n"
	    "    --config <FILE>         mailwarden's configuration (else $MAILWARDEN_CONFIG)\n"
	    "    -c, --conf <DIR>        fail2ban's configuration directory: ignored\n"
	    "    -p, -x, -b, -f, --pname, --loglevel, --logtarget, --syslogsocket,\n"
	    "    --timeout               accepted and ignored\n"
	    "    -q, -v                  accepted (errors are always shown)\n"
	    "    --str2sec <STRING>      convert a time abbreviation to seconds\n"
	    "    -h, --help              this help\n"
	    "    -V, --version           print the version of fail2ban this client speaks\n\n"
	    "Command:\n"
	    "    ping | version | status [<JAIL> [short]] | flushlogs\n"
	    "    reload [--restart] [--unban] [--if-exists] [--all|<JAIL>]\n"
	    "    unban --all | unban <IP> ... <IP> | banned [<IP> ... <IP>]\n"
	    "    set <JAIL> banip <IP> ... <IP> | set <JAIL> unbanip [--report-absent] <IP> ...\n"
	    "    get <JAIL> bantime|findtime|maxretry|logpath|ignoreip|actions\n"
	    "    get <JAIL> banip [<SEP>|--with-time] | get <JAIL> banned [<IP> ...]\n", name);
}

/* Options: -1 to go on with the command, else the exit code. */
static int options(int argc, char **argv, const char **sock, const char **config)
{
	static const struct option longopts[] = {
		{ "conf", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "config", required_argument, NULL, 'C' },
		{ "str2sec", required_argument, NULL, 'T' },
		{ "pname", required_argument, NULL, 'I' },
		{ "loglevel", required_argument, NULL, 'I' },
		{ "logtarget", required_argument, NULL, 'I' },
		{ "syslogsocket", required_argument, NULL, 'I' },
		{ "timeout", required_argument, NULL, 'I' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'L' },
		{ "test", no_argument, NULL, 't' },
		{ "async", no_argument, NULL, 'A' },
		{ "dp", no_argument, NULL, 'd' },
		{ "dump-pretty", no_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	int opt;
	long secs;
	optind = 0;	/* GNU: start over (main() used getopt) */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+hc:s:p:xfbdtviqV", longopts, NULL)) != -1) {
		switch (opt) {
		case 's': *sock = optarg; break;
		case 'C': *config = optarg; break;
		case 'c': case 'p': case 'I': case 'x': case 'f': case 'b': case 'v': case 'q':
			break;
		case 'h': usage(name); return 0;
		case 'V': printf("%s\n", F2B_VERSION); return 0;
		case 'L': printf("Fail2Ban v%s\n", F2B_VERSION); return 0;
		case 'T':
			if (jailconf_parse_time(optarg, &secs) < 0) {
				printf("ERROR: cannot convert '%s' to seconds\n", optarg);
				return F2B_ERR;
			}
			printf("%ld\n", secs);
			return 0;
		case 'd': case 't': case 'i': case 'A':
			f2b_log("ERROR", "option -%c is fail2ban-server's; mailwarden checks its "
			    "configuration with `mailwarden check-config`", opt < 128 ? opt : '-');
			return F2B_ERR;
		default: usage(name); return F2B_ERR;
		}
	}
	if (optind >= argc) {
		usage(name);
		return F2B_ERR;
	}
	return -1;
}

int cli_f2bclient(const char *config, const char *def_config, int argc, char **argv)
{
	const char *sock = NULL, *opt_config = NULL;
	int rc = options(argc, argv, &sock, &opt_config);
	if (rc >= 0)
		return rc;
	struct f2b c = { sock, argv + optind, argc - optind };
	struct config *cfg = NULL;
	if (c.sock == NULL) {
		const char *path = opt_config ? opt_config : config ? config :
		    getenv("MAILWARDEN_CONFIG") && *getenv("MAILWARDEN_CONFIG") ?
		    getenv("MAILWARDEN_CONFIG") : def_config;
		char err[2048];
		if ((cfg = config_load_client(path, err, sizeof(err))) == NULL) {
			f2b_log("ERROR", "mailwarden configuration: %s", err);
			return F2B_ERR;
		}
		c.sock = config_get(cfg, "warden_socket");
	}
	rc = -1;
	for (size_t i = 0; i < sizeof(commands) / sizeof(*commands); i++)
		if (strcmp(c.argv[0], commands[i].name) == 0)
			rc = commands[i].fn(&c);
	if (rc < 0) {		/* not a command we know: the server's answer */
		struct buf ans;
		char *w[1] = { "ping" };
		int r = ask(&c, 1, w, &ans, 0);
		if (r >= 0) {
			buf_free(&ans);
			nok("Invalid command", "Invalid command");
		}
		rc = F2B_ERR;
	}
	fflush(stdout);
	if (cfg)
		config_free(cfg);
	return rc;
}
