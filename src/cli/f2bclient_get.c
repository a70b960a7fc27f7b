/*
 * f2bclient_get — `get JAIL KEY` and `banned` of `mailwarden
 * fail2ban-client`: the warden's raw values printed as fail2ban-client
 * 1.0.2 prints them (trees, Python lists and dicts, bans ordered by their
 * end). f2bclient.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/f2bclient.h"
#include "common/buf.h"
#include "common/net.h"
#include "common/util.h"
#include "warden/jail.h"

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
	int rc = f2bclient_ask_words(c, &ans, "get", jail, "bans", NULL);
	if (rc != 0) {
		*err = rc == 1 ? f2bclient_server_error(&ans) : F2B_ERR;
		return 0;
	}
	size_t n = f2bclient_lines(&ans, &v);
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
	size_t n = f2bclient_lines(ans, &v);
	tree(v, n, "No file is currently monitored", "Current monitored log file(s):");
	free(v);
	return 0;
}

static int get_ignoreip(struct f2b *c, struct buf *ans)
{
	char **v;
	size_t n = f2bclient_lines(ans, &v);
	tree(v, n, "No IP address/network is ignored", "These IP addresses/networks are ignored:");
	free(v);
	return 0;
}

static int get_actions(struct f2b *c, struct buf *ans)
{
	char **v;
	size_t n = f2bclient_lines(ans, &v);
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
			f2bclient_pyrepr(&o, b[i].key);
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

int f2bclient_get(struct f2b *c)
{
	if (c->argc < 3)
		return f2bclient_invalid_index();
	for (size_t i = 0; i < sizeof(get_keys) / sizeof(*get_keys); i++) {
		if (strcmp(c->argv[2], get_keys[i].key) != 0)
			continue;
		int ok = f2bclient_jail_ok(c, c->argv[1]);
		if (ok <= 0)
			return F2B_ERR;
		struct buf ans = { 0 };
		if (get_keys[i].ask) {
			int rc = f2bclient_ask_words(c, &ans, "get", c->argv[1], (char *)get_keys[i].ask, NULL);
			if (rc != 0)
				return rc == 1 ? f2bclient_server_error(&ans) : F2B_ERR;
		}
		int rc = get_keys[i].fn(c, &ans);
		buf_free(&ans);
		return rc;
	}
	return f2bclient_nok("Invalid command (no get action or not yet implemented)",
	    "Invalid command (no get action or not yet implemented)");
}

/* banned [IP...]: every jail with its bans, or for each IP the jails
 * that ban it, as Python prints them. */
int f2bclient_banned(struct f2b *c)
{
	struct buf ans, o;
	char **jails;
	int rc = f2bclient_ask_words(c, &ans, "jails", NULL);
	if (rc != 0)
		return rc == 1 ? f2bclient_server_error(&ans) : F2B_ERR;
	size_t nj = f2bclient_lines(&ans, &jails);
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
			f2bclient_pyrepr(&o, jails[j]);
			first = 0;
		}
		buf_puts(&o, "]");
	}
	for (size_t j = 0; rc == 0 && c->argc == 1 && j < nj; j++) {
		buf_puts(&o, j ? ", {" : "{");
		f2bclient_pyrepr(&o, jails[j]);
		buf_puts(&o, ": [");
		for (size_t i = 0; i < nb[j]; i++) {
			buf_puts(&o, i ? ", " : "");
			f2bclient_pyrepr(&o, b[j][i].key);
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
