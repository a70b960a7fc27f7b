/*
 * headers — Message-ID/Date detection and creation and header iteration
 * (see headers.h). Pure functions, unit-tested in
 * tests/unit/headers_test.c.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mail/headers.h"

static int name_is(const char *line, size_t n, const char *name)
{
	size_t k = strlen(name);
	size_t i = k;
	if (n < k || strncasecmp(line, name, k) != 0)
		return 0;
	while (i < n && (line[i] == ' ' || line[i] == '\t'))
		i++;
	return i < n && line[i] == ':';
}

void headers_note(struct headers_seen *s, const char *line, size_t n)
{
	if (s->done)
		return;
	if (n > 0 && line[n - 1] == '\r')
		n--;
	if (n == 0) {
		s->done = 1;
		return;
	}
	if (line[0] == ' ' || line[0] == '\t')
		return;		/* continuation */
	if (name_is(line, n, "Message-ID"))
		s->msgid = 1;
	else if (name_is(line, n, "Date"))
		s->date = 1;
	else if (name_is(line, n, "From"))
		s->from = 1;
	else if (n > 7 && strncasecmp(line, "Resent-", 7) == 0)
		s->resent = 1;
}

/* End of the line at p (exclusive of the LF), and where the next starts. */
static size_t line_end(const char *msg, size_t len, size_t off, size_t *next)
{
	const char *nl = memchr(msg + off, '\n', len - off);
	size_t e = nl ? (size_t)(nl - msg) : len;
	*next = nl ? e + 1 : len;
	return e;
}

/* Whether the line is "name:" (a header start). */
static size_t header_name_len(const char *p, size_t n)
{
	size_t i = 0;
	while (i < n && p[i] > ' ' && p[i] < 127 && p[i] != ':')
		i++;
	size_t k = i;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	return k > 0 && i < n && p[i] == ':' ? k : 0;
}

int headers_next(const char *msg, size_t len, size_t *off, struct header *h)
{
	size_t next, e = line_end(msg, len, *off, &next);
	size_t n = e - *off;
	const char *p = msg + *off;

	if (*off >= len)
		return 0;
	if (n > 0 && p[n - 1] == '\r')
		n--;
	size_t nl = header_name_len(p, n);
	if (nl == 0)
		return 0;	/* blank line or not a header: the body starts */
	h->name = p;
	h->namelen = nl;
	h->off = *off;
	const char *colon = memchr(p, ':', n);
	h->value = colon + 1;
	/* continuation lines */
	size_t vend = e;
	while (next < len && (msg[next] == ' ' || msg[next] == '\t')) {
		vend = line_end(msg, len, next, &next);
	}
	if (vend > (size_t)(h->value - msg) && msg[vend - 1] == '\r')
		vend--;
	h->valuelen = vend - (size_t)(h->value - msg);
	h->len = next - *off;
	*off = next;
	return 1;
}

int headers_is(const struct header *h, const char *name)
{
	return strlen(name) == h->namelen && strncasecmp(h->name, name, h->namelen) == 0;
}

int headers_missing(const char *msg, size_t len, int *has_msgid, int *has_date)
{
	struct headers_seen s = { 0 };
	size_t off = 0;

	while (off < len && !s.done) {
		size_t next, e = line_end(msg, len, off, &next);
		if (!(msg[off] == ' ' || msg[off] == '\t') && e > off &&
		    header_name_len(msg + off, e - off) == 0 &&
		    !(e - off == 1 && msg[off] == '\r'))
			break;	/* not a header line: the body started */
		headers_note(&s, msg + off, e - off);
		off = next;
	}
	if (has_msgid)
		*has_msgid = s.msgid;
	if (has_date)
		*has_date = s.date;
	return !s.msgid + !s.date;
}

int headers_make_msgid(char *buf, size_t len, const char *id, const char *host, time_t now)
{
	struct tm tm;
	if (gmtime_r(&now, &tm) == NULL)
		return -1;
	int n = snprintf(buf, len, "<%04d%02d%02d%02d%02d%02d.%s@%s>", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, id, host);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int headers_make_date(char *buf, size_t len, time_t now)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	if (localtime_r(&now, &tm) == NULL)
		return -1;
	long off = tm.tm_gmtoff / 60;
	char sign = off < 0 ? '-' : '+';
	if (off < 0)
		off = -off;
	int n = snprintf(buf, len, "%s, %d %s %04d %02d:%02d:%02d %c%02ld%02ld (%s)",
	    days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900,
	    tm.tm_hour, tm.tm_min, tm.tm_sec, sign, off / 60, off % 60,
	    tm.tm_zone ? tm.tm_zone : "UTC");
	return n < 0 || (size_t)n >= len ? -1 : 0;
}
