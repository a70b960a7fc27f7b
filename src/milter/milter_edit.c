/*
 * milter_edit — the header and body changes of the milters applied to a
 * message (LF line endings, as the queue file keeps it), in the order the
 * milters asked: add a header at the end, insert one at a position (0 is
 * the top), change or delete the n-th header of a name (an index past the
 * last one adds the header, as Sendmail does), replace the body; and the
 * envelope changes (sender, recipients) applied to the caller's envelope
 * (the engine's src/smtp/milters.c, pickup's src/queue/pickup_milter.c).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"
#include "milter/milter.h"
#include "milter/milter_int.h"

void milter_split(const char *msg, size_t len, size_t *hdr_end, size_t *body)
{
	size_t i = 0;
	*hdr_end = *body = len;
	while (i < len) {
		const char *eol = memchr(msg + i, '\n', len - i);
		size_t ll = eol ? (size_t)(eol - (msg + i)) : len - i;
		if (ll == 0) {
			*hdr_end = i;
			*body = i + 1;
			return;
		}
		if (msg[i] != ' ' && msg[i] != '\t' && memchr(msg + i, ':', ll) == NULL) {
			*hdr_end = *body = i;
			return;
		}
		i += ll + (eol ? 1 : 0);
	}
}

int milter_header_next(const char *msg, size_t *off, size_t end, int leadspc,
    struct buf *name, struct buf *val)
{
	const char *p = msg + *off, *e = msg + end;
	if (p >= e)
		return -1;
	const char *colon = memchr(p, ':', (size_t)(e - p));
	const char *eol = memchr(p, '\n', (size_t)(e - p));
	if (eol == NULL)
		eol = e;	/* the last line without its newline */
	if (colon == NULL || colon > eol)
		return -1;
	/* The header ends where a line does not start with white space. */
	while (eol + 1 < e && (eol[1] == ' ' || eol[1] == '\t')) {
		const char *next = memchr(eol + 1, '\n', (size_t)(e - eol - 1));
		eol = next ? next : e;
	}
	buf_reset(name);
	buf_reset(val);
	buf_append(name, p, (size_t)(colon - p));
	const char *v = colon + 1;
	if (!leadspc)
		while (v < eol && (*v == ' ' || *v == '\t'))
			v++;
	buf_append(val, v, (size_t)(eol - v));
	*off = eol < e ? (size_t)(eol + 1 - msg) : end;
	return 0;
}

void milter_result_clear(struct milter_result *r)
{
	for (size_t i = 0; i < r->nedits; i++) {
		free(r->edits[i].name);
		free(r->edits[i].value);
	}
	free(r->edits);
	r->edits = NULL;
	r->nedits = r->edits_cap = 0;
	r->verdict = MILTER_CONTINUE;
	r->reply[0] = '\0';
	r->milter[0] = '\0';
	r->hold = 0;
	r->hold_reason[0] = '\0';
	r->body_replaced = 0;
	buf_reset(&r->body);
}

/* One header: a piece of the message, or a new text (owned). */
struct hdr {
	const char *p;
	size_t len;		/* with its final LF */
	char *own;
};

struct hdrs {
	struct hdr *v;
	size_t n, cap;
};

static void hdr_insert(struct hdrs *h, size_t at, struct hdr x)
{
	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 32;
		h->v = xrealloc(h->v, h->cap * sizeof(*h->v));
	}
	if (at > h->n)
		at = h->n;
	memmove(h->v + at + 1, h->v + at, (h->n - at) * sizeof(*h->v));
	h->v[at] = x;
	h->n++;
}

/* "Name: value\n" from a milter's name and value (CRLF made LF). */
static struct hdr hdr_make(const struct milter_edit *e)
{
	struct buf b;
	struct hdr x = { 0 };
	buf_init(&b, MILTER_PKT_MAX);
	buf_puts(&b, e->name);
	buf_puts(&b, e->leadspc ? ":" : ": ");
	for (const char *v = e->value; *v; v++)
		if (!(v[0] == '\r' && v[1] == '\n'))
			buf_append(&b, v, 1);
	buf_puts(&b, "\n");
	x.own = b.data ? b.data : xstrdup("\n");
	x.p = x.own;
	x.len = b.len;
	return x;
}

static int hdr_is(const struct hdr *x, const char *name)
{
	size_t nl = strlen(name);
	return x->len > nl && x->p[nl] == ':' && strncasecmp(x->p, name, nl) == 0;
}

static void apply(struct hdrs *h, const struct milter_edit *e)
{
	switch (e->type) {
	case MILTER_E_ADDHDR:
		hdr_insert(h, h->n, hdr_make(e));
		return;
	case MILTER_E_INSHDR:
		hdr_insert(h, e->index, hdr_make(e));
		return;
	case MILTER_E_CHGHDR: {
		uint32_t seen = 0;
		uint32_t want = e->index ? e->index : 1;
		for (size_t i = 0; i < h->n; i++) {
			if (!hdr_is(&h->v[i], e->name) || ++seen != want)
				continue;
			free(h->v[i].own);
			if (e->value == NULL) {
				memmove(h->v + i, h->v + i + 1, (h->n - i - 1) * sizeof(*h->v));
				h->n--;
			} else
				h->v[i] = hdr_make(e);
			return;
		}
		if (e->value)
			hdr_insert(h, h->n, hdr_make(e));
		return;
	}
	default:
		return;		/* envelope changes: not here */
	}
}

/* An address as a milter gives it: without its angle brackets. */
static char *bare_addr(const char *a)
{
	size_t n = strlen(a);
	if (n >= 2 && a[0] == '<' && a[n - 1] == '>')
		return xstrndup(a + 1, n - 2);
	return xstrdup(a);
}

int milter_edit_envelope(const struct milter_result *r, char **sender, char ***rcpt,
    size_t *nrcpt, size_t *cap)
{
	int changed = 0;
	for (size_t i = 0; i < r->nedits; i++) {
		const struct milter_edit *e = &r->edits[i];
		if (e->type != MILTER_E_CHGFROM && e->type != MILTER_E_ADDRCPT &&
		    e->type != MILTER_E_DELRCPT)
			continue;
		char *a = bare_addr(e->name);
		if (e->type == MILTER_E_CHGFROM) {
			free(*sender);
			*sender = a;
			changed = 1;
			continue;
		}
		if (e->type == MILTER_E_ADDRCPT) {
			if (*nrcpt == *cap) {
				*cap = *cap ? *cap * 2 : 4;
				*rcpt = xrealloc(*rcpt, *cap * sizeof(**rcpt));
			}
			(*rcpt)[(*nrcpt)++] = a;
			changed = 1;
			continue;
		}
		for (size_t k = 0; k < *nrcpt; k++)
			if (strcasecmp((*rcpt)[k], a) == 0) {
				free((*rcpt)[k]);
				memmove(*rcpt + k, *rcpt + k + 1, (*nrcpt - k - 1) * sizeof(**rcpt));
				(*nrcpt)--;
				changed = 1;
				break;
			}
		free(a);
	}
	return changed;
}

int milter_edit_message(const struct milter_result *r, const char *msg, size_t len,
    struct buf *out)
{
	struct hdrs h = { 0 };
	size_t hdr_end, body, i = 0;
	int rc = 0;

	milter_split(msg, len, &hdr_end, &body);
	while (i < hdr_end) {
		size_t s = i;
		const char *eol = memchr(msg + i, '\n', hdr_end - i);
		i = eol ? (size_t)(eol - msg) + 1 : hdr_end;
		while (i < hdr_end && (msg[i] == ' ' || msg[i] == '\t')) {
			eol = memchr(msg + i, '\n', hdr_end - i);
			i = eol ? (size_t)(eol - msg) + 1 : hdr_end;
		}
		hdr_insert(&h, h.n, (struct hdr){ msg + s, i - s, NULL });
	}
	for (size_t k = 0; k < r->nedits; k++)
		apply(&h, &r->edits[k]);
	for (size_t k = 0; k < h.n; k++) {
		if (buf_append(out, h.v[k].p, h.v[k].len) < 0)
			rc = -1;
		free(h.v[k].own);
	}
	free(h.v);
	if (buf_append(out, "\n", 1) < 0)
		rc = -1;
	if (r->body_replaced) {
		if (r->body.len && buf_append(out, r->body.data, r->body.len) < 0)
			rc = -1;
	} else if (body < len && buf_append(out, msg + body, len - body) < 0)
		rc = -1;
	return rc;
}
