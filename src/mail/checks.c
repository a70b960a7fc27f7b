/*
 * checks — header_checks, mime_header_checks, nested_header_checks and
 * body_checks over a whole message, as Postfix's cleanup applies them
 * (cleanup_message.c): a logical header (folded lines joined, newlines
 * kept) or one body line is looked up in its table; the result's first
 * word is the action, the rest its text. MIME structure is followed far
 * enough to class headers: multipart boundaries open part headers (mime
 * table), a message/rfc822 part opens nested headers (nested table),
 * MIME-Version and Content-* headers always use the mime table.
 * Empty lines never match. REJECT and DISCARD end the inspection, as
 * does PASS (which also turns the milters off for the message).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/map.h"
#include "common/util.h"
#include "mail/checks.h"

#define CHK_BOUNDARIES	16	/* nesting of multipart parts followed */
#define CHK_HEADER_MAX	(100 * 1024)	/* Postfix's header_size_limit */

enum { CLS_PRIMARY, CLS_MULTIPART, CLS_NESTED, CLS_BODY };
enum { KEEP, DROP, STOP };

struct chk {
	const struct checks_tables *t;
	struct checks_result *r;
	struct buf *out;
	checks_log_fn *log;
	checks_warn_fn *warn;
	void *arg;
	const char *cls;	/* "header" or "body" */
	const char *content;
	const char *replace;	/* REPLACE text, else NULL */
	int full;		/* out overflowed */
};

static void out(struct chk *c, const char *p, size_t n)
{
	if (c->out && buf_append(c->out, p, n) < 0)
		c->full = 1;
}

/* "name: value": a printable name without space before the colon. */
static int is_header(const char *s)
{
	size_t n = 0;
	while (s[n] > ' ' && s[n] < 127 && s[n] != ':')
		n++;
	return n > 0 && s[n] == ':';
}

static void warn(struct chk *c, const char *fmt, const char *a, const char *b)
{
	char w[600];
	snprintf(w, sizeof(w), fmt, a, b);
	if (c->warn)
		c->warn(c->arg, w);
}

static void act_log(struct chk *c, const char *action, const char *text)
{
	if (c->log)
		c->log(c->arg, action, c->cls, c->content, text);
}

/* "d.d.d " at the start of s. */
static int has_dsn(const char *s)
{
	if (!isdigit((unsigned char)s[0]) || s[1] != '.')
		return 0;
	s += 2;
	for (int part = 0; part < 2; part++) {
		int n = 0;
		while (isdigit((unsigned char)*s) && n < 3) {
			s++;
			n++;
		}
		if (n == 0 || *s != (part == 0 ? '.' : ' '))
			return 0;
		s++;
	}
	return 1;
}

static int a_reject(struct chk *c, const char *text)
{
	struct checks_result *r = c->r;
	if (*text == '\0')
		snprintf(r->reply, sizeof(r->reply), "5.7.1 message content rejected");
	else
		snprintf(r->reply, sizeof(r->reply), "%s%s", has_dsn(text) ? "" : "5.7.1 ", text);
	if (r->reply[0] != '4' && r->reply[0] != '5') {
		warn(c, "bad DSN action in %s -- need 4.x.x or 5.x.x%s", text, "");
		r->reply[0] = '4';
	}
	r->reject = 1;
	act_log(c, "reject", r->reply);
	return STOP;
}

static int a_discard(struct chk *c, const char *text)
{
	c->r->discard = 1;
	act_log(c, "discard", text);
	return STOP;
}

static int a_pass(struct chk *c, const char *text)
{
	c->r->pass = 1;
	act_log(c, "pass", text);
	return STOP;
}

static int a_hold(struct chk *c, const char *text)
{
	if (!c->r->hold)
		act_log(c, "hold", text);
	c->r->hold = 1;
	return KEEP;
}

static int a_warn(struct chk *c, const char *text)
{
	act_log(c, "warning", text);
	return KEEP;
}

static int a_info(struct chk *c, const char *text)
{
	act_log(c, "info", text);
	return KEEP;
}

static int a_ignore(struct chk *c, const char *text)
{
	return DROP;
}

static int a_strip(struct chk *c, const char *text)
{
	act_log(c, "strip", text);
	return DROP;
}

static int a_dunno(struct chk *c, const char *text)
{
	return KEEP;
}

/* PREPEND and REPLACE: a header needs "name: value" text. */
static int edit_ok(struct chk *c, const char *what, const char *text)
{
	if (*text == '\0') {
		warn(c, "%s action without text in %s map", what, c->cls);
		return 0;
	}
	if (strcmp(c->cls, "header") == 0 && !is_header(text)) {
		warn(c, "bad %s header text \"%s\" -- need \"headername: headervalue\"", what, text);
		return 0;
	}
	return 1;
}

static int a_prepend(struct chk *c, const char *text)
{
	if (c->out == NULL) {
		warn(c, "PREPEND action is not supported with %s%s", "milter_header_checks", "");
		return KEEP;
	}
	if (edit_ok(c, "PREPEND", text)) {
		act_log(c, "prepend", text);
		out(c, text, strlen(text));
		out(c, "\n", 1);
		c->r->changed = 1;
	}
	return KEEP;
}

static int a_replace(struct chk *c, const char *text)
{
	if (edit_ok(c, "REPLACE", text)) {
		act_log(c, "replace", text);
		c->replace = text;
		c->r->changed = 1;
	}
	return KEEP;
}

static int a_redirect(struct chk *c, const char *text)
{
	if (strchr(text, '@') == NULL) {
		warn(c, "bad REDIRECT target \"%s\" in %s map -- need user@domain", text, c->cls);
		return KEEP;
	}
	free(c->r->redirect);
	c->r->redirect = xstrdup(text);
	act_log(c, "redirect", text);
	return KEEP;
}

static int a_filter(struct chk *c, const char *text)
{
	if (strchr(text, ':') == NULL) {
		warn(c, "bad FILTER command %s in %s map -- need transport:destination", text, c->cls);
		return KEEP;
	}
	free(c->r->filter);
	c->r->filter = xstrdup(text);
	act_log(c, "filter", text);
	return KEEP;
}

static int a_bcc(struct chk *c, const char *text)
{
	struct checks_result *r = c->r;
	if (strchr(text, '@') == NULL) {
		warn(c, "bad BCC address \"%s\" in %s map -- need user@domain", text, c->cls);
		return KEEP;
	}
	for (size_t i = 0; i < r->nbcc; i++)
		if (strcasecmp(r->bcc[i], text) == 0)
			return KEEP;	/* duplicates are ignored */
	r->bcc = xrealloc(r->bcc, (r->nbcc + 1) * sizeof(*r->bcc));
	r->bcc[r->nbcc++] = xstrdup(text);
	act_log(c, "bcc", text);
	return KEEP;
}

static const struct action {
	const char *name;
	int (*fn)(struct chk *c, const char *text);
} actions[] = {
	{ "REJECT", a_reject }, { "DISCARD", a_discard }, { "HOLD", a_hold },
	{ "WARN", a_warn }, { "INFO", a_info }, { "IGNORE", a_ignore },
	{ "PASS", a_pass }, { "STRIP", a_strip }, { "PREPEND", a_prepend },
	{ "REPLACE", a_replace }, { "REDIRECT", a_redirect }, { "FILTER", a_filter },
	{ "BCC", a_bcc }, { "DUNNO", a_dunno }, { "OK", a_dunno },
};

/* Look content up in table and run the action: KEEP, DROP or STOP;
 * *replace gets a REPLACE's text (allocated) or NULL. */
static int act(struct chk *c, struct maplist *table, const char *cls, const char *content,
    char **replace)
{
	const char *v = *content ? maplist_lookup(table, content) : NULL;
	int rc = KEEP;
	c->cls = cls;
	c->content = content;
	c->replace = NULL;
	*replace = NULL;
	if (v == NULL)
		return KEEP;
	char *val = xstrdup(v);	/* the map's buffer is reused */
	size_t wl = strcspn(val, " \t");
	char *text = val + wl + strspn(val + wl, " \t");
	val[wl] = '\0';
	size_t k, na = sizeof(actions) / sizeof(actions[0]);
	for (k = 0; k < na && strcasecmp(actions[k].name, val) != 0; k++)
		;
	if (k == na)
		warn(c, "unknown command in %s map: %s", cls, val);
	else
		rc = actions[k].fn(c, text);
	if (c->replace)
		*replace = xstrdup(c->replace);
	free(val);
	return rc;
}

/* act(), then write the line (or its replacement) unless dropped.
 * line/n: the original text with its newline(s). KEEP or STOP. */
static int inspect(struct chk *c, struct maplist *table, const char *cls,
    const char *content, const char *line, size_t n)
{
	char *rep;
	int rc = act(c, table, cls, content, &rep);
	if (rep) {
		out(c, rep, strlen(rep));
		out(c, "\n", 1);
		free(rep);
	} else if (rc != DROP) {
		out(c, line, n);
	} else {
		c->r->changed = 1;
	}
	return rc == DROP ? KEEP : rc;
}

int checks_one(struct maplist *table, const char *content, struct checks_result *r,
    char **replace, checks_log_fn *log, checks_warn_fn *warnfn, void *arg)
{
	struct checks_tables none = { 0 };
	struct chk c = { &none, r, NULL, log, warnfn, arg, NULL, NULL, NULL, 0 };
	static const int map[] = { [KEEP] = CHECKS_KEEP, [DROP] = CHECKS_DROP, [STOP] = CHECKS_STOP };
	return map[act(&c, table, "header", content, replace)];
}

/* MIME headers go to mime_header_checks wherever they are (header_opts.c). */
static int is_mime_header(const char *h)
{
	return strncasecmp(h, "Content-", 8) == 0 || strncasecmp(h, "MIME-Version:", 13) == 0;
}

/* The boundary="..." parameter of a multipart Content-Type into b. */
static int boundary_of(const char *h, char *b, size_t blen)
{
	const char *p = strcasestr(h, "boundary=");
	if (p == NULL)
		return -1;
	p += 9;
	size_t n = *p == '"' ? strcspn(++p, "\"") : strcspn(p, " \t\r\n;");
	if (n == 0 || n + 1 > blen)
		return -1;
	memcpy(b, p, n);
	b[n] = '\0';
	return 0;
}

int checks_open(struct checks_tables *t, const struct config *cfg, char *err, size_t errlen)
{
	static const char *const keys[] = {
		"header_checks", "mime_header_checks", "nested_header_checks", "body_checks",
	};
	struct maplist **tab[] = { &t->header, &t->mime, &t->nested, &t->body };
	char why[512];
	int rc = 0;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		*tab[i] = maplist_open(config_get(cfg, keys[i]), 0, why, sizeof(why));
		if (*tab[i] == NULL && rc == 0) {
			snprintf(err, errlen, "%s: %s", keys[i], why);
			rc = -1;
		}
	}
	t->body_limit = (size_t)config_get_int(cfg, "body_checks_size_limit");
	return rc;
}

int checks_any(const struct checks_tables *t)
{
	return maplist_count(t->header) || maplist_count(t->mime) ||
	    maplist_count(t->nested) || maplist_count(t->body);
}

int checks_run(const struct checks_tables *t, const char *msg, size_t len,
    struct buf *outb, struct checks_result *r, checks_log_fn *log,
    checks_warn_fn *warnfn, void *arg)
{
	struct chk c = { t, r, outb, log, warnfn, arg, NULL, NULL, NULL, 0 };
	char bound[CHK_BOUNDARIES][200];
	int nb = 0, cls = CLS_PRIMARY, stop = 0;
	int multipart = 0, rfc822 = 0;	/* the current header section's type */
	size_t seg = 0;			/* body bytes of this segment so far */
	const char *p = msg, *end = msg + len;
	struct buf h;
	buf_init(&h, CHK_HEADER_MAX);
	while (p < end && !c.full) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl + 1 : end;
		if (stop) {
			out(&c, p, (size_t)(end - p));
			break;
		}
		if (cls != CLS_BODY && (p[0] == '\n' || !is_header(p))) {
			/* the end of a header section */
			cls = rfc822 ? CLS_NESTED : CLS_BODY;
			rfc822 = 0;
			seg = 0;
			if (cls == CLS_NESTED || p[0] == '\n') {
				out(&c, p, (size_t)(le - p));
				p = le;
				continue;
			}
		}
		if (cls != CLS_BODY) {
			/* one logical header: this line and its continuations */
			const char *q = le;
			while (q < end && (*q == ' ' || *q == '\t')) {
				const char *n2 = memchr(q, '\n', (size_t)(end - q));
				q = n2 ? n2 + 1 : end;
			}
			size_t n = (size_t)(q - p);
			buf_reset(&h);
			if (buf_append(&h, p, n > 0 && p[n - 1] == '\n' ? n - 1 : n) < 0)
				buf_append(&h, p, CHK_HEADER_MAX - 1);
			struct maplist *tab = is_mime_header(h.data) || cls == CLS_MULTIPART ? t->mime :
			    cls == CLS_NESTED ? t->nested : t->header;
			if (strncasecmp(h.data, "Content-Type:", 13) == 0) {
				const char *v = h.data + 13 + strspn(h.data + 13, " \t");
				multipart = strncasecmp(v, "multipart/", 10) == 0 && nb < CHK_BOUNDARIES &&
				    boundary_of(v, bound[nb], sizeof(bound[nb])) == 0;
				rfc822 = strncasecmp(v, "message/rfc822", 14) == 0;
				if (multipart)
					nb++;
			}
			stop = inspect(&c, tab, "header", h.data, p, n) == STOP;
			p = q;
			continue;
		}
		size_t n = (size_t)(le - p), ll = nl ? n - 1 : n;
		buf_reset(&h);
		/* a longer line is looked up by its start (bounds the regexp work) */
		buf_append(&h, p, ll < CHK_HEADER_MAX ? ll : CHK_HEADER_MAX - 1);
		if (h.len > 2 && h.data[0] == '-' && h.data[1] == '-') {
			for (int i = nb - 1; i >= 0; i--) {
				size_t bl = strlen(bound[i]);
				if (strncmp(h.data + 2, bound[i], bl) != 0)
					continue;
				int closing = strncmp(h.data + 2 + bl, "--", 2) == 0;
				nb = closing ? i : i + 1;
				cls = closing ? CLS_BODY : CLS_MULTIPART;
				seg = 0;
				break;
			}
		}
		if (t->body_limit && seg >= t->body_limit)
			out(&c, p, n);	/* past body_checks_size_limit: not inspected */
		else
			stop = inspect(&c, t->body, "body", h.data, p, n) == STOP;
		seg += n;
		p = le;
	}
	buf_free(&h);
	return c.full ? -1 : 0;
}

void checks_result_free(struct checks_result *r)
{
	free(r->redirect);
	free(r->filter);
	for (size_t i = 0; i < r->nbcc; i++)
		free(r->bcc[i]);
	free(r->bcc);
	memset(r, 0, sizeof(*r));
}
