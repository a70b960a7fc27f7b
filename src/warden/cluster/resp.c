/*
 * resp — RESP2 writer and reader (see resp.h). Limits: a bulk string
 * of at most RESP_BULK_MAX bytes, arrays of at most RESP_ARRAY_MAX
 * elements, nested at most RESP_DEPTH_MAX deep (SCAN's reply is two).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/util.h"
#include "warden/cluster/resp.h"

#define RESP_BULK_MAX (1 << 20)
#define RESP_ARRAY_MAX 100000
#define RESP_DEPTH_MAX 4

int resp_cmd(struct buf *o, int argc, const char *const *argv, const size_t *lens)
{
	size_t start = o->len;
	if (buf_printf(o, "*%d\r\n", argc) < 0)
		goto full;
	for (int i = 0; i < argc; i++) {
		size_t n = lens ? lens[i] : strlen(argv[i]);
		if (buf_printf(o, "$%zu\r\n", n) < 0 || buf_append(o, argv[i], n) < 0 ||
		    buf_append(o, "\r\n", 2) < 0)
			goto full;
	}
	return 0;
full:
	o->len = start;
	if (o->data)
		o->data[start] = '\0';
	return -1;
}

/* The line at p (up to CRLF): 1 and its length, 0 incomplete, -1 bad. */
static int line_at(const char *p, size_t n, size_t *len)
{
	const char *cr = memchr(p, '\r', n);
	if (cr == NULL)
		return n > RESP_BULK_MAX ? -1 : 0;
	if ((size_t)(cr - p) + 1 >= n)
		return 0;
	if (cr[1] != '\n')
		return -1;
	*len = (size_t)(cr - p);
	return 1;
}

/* A decimal number of the line p[0..len). */
static int number(const char *p, size_t len, long long *v)
{
	char tmp[32];
	char *end;
	if (len == 0 || len >= sizeof(tmp))
		return -1;
	memcpy(tmp, p, len);
	tmp[len] = '\0';
	*v = strtoll(tmp, &end, 10);
	return *end ? -1 : 0;
}

static int parse(const char *p, size_t n, struct resp_reply *r, size_t *used, int depth)
{
	size_t len;
	long long v;
	int rc;
	memset(r, 0, sizeof(*r));
	if (n < 1)
		return 0;
	if ((rc = line_at(p + 1, n - 1, &len)) <= 0)
		return rc;
	size_t head = 1 + len + 2;
	switch (p[0]) {
	case '+':
	case '-':
		r->type = p[0] == '+' ? RESP_STATUS : RESP_ERROR;
		r->str = xstrndup(p + 1, len);
		r->len = len;
		*used = head;
		return 1;
	case ':':
		r->type = RESP_INT;
		if (number(p + 1, len, &r->num) < 0)
			return -1;
		*used = head;
		return 1;
	case '$':
		if (number(p + 1, len, &v) < 0 || v < -1 || v > RESP_BULK_MAX)
			return -1;
		if (v == -1) {
			r->type = RESP_NIL;
			*used = head;
			return 1;
		}
		if (n < head + (size_t)v + 2)
			return 0;
		if (p[head + v] != '\r' || p[head + v + 1] != '\n')
			return -1;
		r->type = RESP_BULK;
		r->str = xstrndup(p + head, (size_t)v);
		r->len = (size_t)v;
		*used = head + (size_t)v + 2;
		return 1;
	case '*':
		if (number(p + 1, len, &v) < 0 || v < -1 || v > RESP_ARRAY_MAX ||
		    depth >= RESP_DEPTH_MAX)
			return -1;
		if (v == -1) {
			r->type = RESP_NIL;
			*used = head;
			return 1;
		}
		r->type = RESP_ARRAY;
		r->elem = xcalloc(v ? (size_t)v : 1, sizeof(*r->elem));
		size_t off = head;
		for (r->nelem = 0; r->nelem < (size_t)v; r->nelem++) {
			size_t u;
			rc = parse(p + off, n - off, &r->elem[r->nelem], &u, depth + 1);
			if (rc <= 0) {
				resp_free(r);
				return rc;
			}
			off += u;
		}
		*used = off;
		return 1;
	default:
		return -1;
	}
}

int resp_parse(const char *p, size_t n, struct resp_reply *r, size_t *used)
{
	return parse(p, n, r, used, 0);
}

void resp_free(struct resp_reply *r)
{
	for (size_t i = 0; i < r->nelem; i++)
		resp_free(&r->elem[i]);
	free(r->elem);
	free(r->str);
	memset(r, 0, sizeof(*r));
}
