/*
 * dkim_canon — the message as DKIM hashes it (RFC 6376 3.4): the header
 * fields split out, "simple" and "relaxed" canonicalisation of header
 * fields and body over LF or CRLF input, the body hash, the header hash
 * input with the signature's own field last and its b= emptied, base64.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "dkim/dkim_int.h"

static int wsp(char c)
{
	return c == ' ' || c == '\t';
}

int dkim_msg_split(const char *msg, size_t len, struct dkim_msg *m)
{
	size_t i = 0;
	m->nf = 0;
	while (i < len) {
		const char *nl = memchr(msg + i, '\n', len - i);
		size_t e = nl ? (size_t)(nl - msg) : len;
		size_t le = e > i && msg[e - 1] == '\r' ? e - 1 : e;
		if (le == i) {	/* the empty line */
			i = nl ? e + 1 : len;
			break;
		}
		if (wsp(msg[i]) && m->nf > 0) {	/* continuation */
			m->f[m->nf - 1].len = le - (size_t)(m->f[m->nf - 1].p - msg);
		} else {
			const char *c = memchr(msg + i, ':', le - i);
			if (c == NULL) {	/* not a header field: the body began */
				break;
			}
			if (m->nf == DKIM_MAX_FIELDS)
				return -1;
			struct dkim_field *f = &m->f[m->nf++];
			f->p = msg + i;
			f->len = le - i;
			f->nlen = (size_t)(c - (msg + i));
			while (f->nlen > 0 && wsp(f->p[f->nlen - 1]))
				f->nlen--;
		}
		i = nl ? e + 1 : len;
	}
	m->body = msg + i;
	m->blen = len - i;
	return 0;
}

void dkim_canon_header(struct buf *out, const char *p, size_t len, int relaxed, int crlf)
{
	if (!relaxed) {
		for (size_t i = 0; i < len; i++) {
			if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
				buf_append(out, "\r", 1);
			buf_append(out, p + i, 1);
		}
	} else {
		const char *c = memchr(p, ':', len);
		size_t nlen = c ? (size_t)(c - p) : len;
		size_t ne = nlen;
		while (ne > 0 && wsp(p[ne - 1]))
			ne--;
		for (size_t i = 0; i < ne; i++) {
			char l = (char)tolower((unsigned char)p[i]);
			buf_append(out, &l, 1);
		}
		buf_append(out, ":", 1);
		size_t i = nlen + 1;
		int space = 0, any = 0;
		for (; i < len; i++) {
			char ch = p[i];
			if (ch == '\r' || ch == '\n')
				continue;
			if (wsp(ch)) {
				space = 1;
				continue;
			}
			if (space && any)
				buf_append(out, " ", 1);
			space = 0;
			any = 1;
			buf_append(out, &ch, 1);
		}
	}
	if (crlf)
		buf_append(out, "\r\n", 2);
}

/* Feed n bytes into the hash within the l= limit. */
static void feed(EVP_MD_CTX *c, long *left, const char *p, size_t n)
{
	if (*left >= 0) {
		if ((long)n > *left)
			n = (size_t)*left;
		*left -= (long)n;
	}
	if (n)
		EVP_DigestUpdate(c, p, n);
}

int dkim_body_hash(const char *body, size_t len, int relaxed, long limit, unsigned char *md)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (c == NULL || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(c);
		return -1;
	}
	size_t empty = 0, i = 0;
	int any = 0;
	while (i < len && limit != 0) {	/* l= reached: the rest is not hashed */
		const char *nl = memchr(body + i, '\n', len - i);
		size_t e = nl ? (size_t)(nl - body) : len;
		size_t le = e > i && body[e - 1] == '\r' ? e - 1 : e;
		size_t next = nl ? e + 1 : len;
		if (relaxed)
			while (le > i && wsp(body[le - 1]))
				le--;
		if (le == i) {
			empty++;
			i = next;
			continue;
		}
		for (; empty > 0; empty--)
			feed(c, &limit, "\r\n", 2);
		if (!relaxed) {
			feed(c, &limit, body + i, le - i);
		} else {	/* runs of WSP become one SP (none are at the end) */
			size_t k = i;
			while (k < le) {
				if (wsp(body[k])) {
					while (wsp(body[k]))
						k++;
					feed(c, &limit, " ", 1);
					continue;
				}
				size_t j = k;
				while (j < le && !wsp(body[j]))
					j++;
				feed(c, &limit, body + k, j - k);
				k = j;
			}
		}
		feed(c, &limit, "\r\n", 2);
		any = 1;
		i = next;
	}
	if (!any && !relaxed)
		feed(c, &limit, "\r\n", 2);
	unsigned int mdlen = 0;
	int r = EVP_DigestFinal_ex(c, md, &mdlen) == 1 ? 0 : -1;
	EVP_MD_CTX_free(c);
	return r;
}

/* sigfield with the value of its b= tag removed (RFC 6376 3.7). */
static void strip_b(const char *p, size_t len, struct buf *out)
{
	const char *c = memchr(p, ':', len);
	size_t i = c ? (size_t)(c - p) + 1 : len;
	buf_append(out, p, i);
	while (i < len) {
		size_t ts = i;
		while (i < len && p[i] != ';')
			i++;
		size_t k = ts;	/* is this tag "b"? */
		while (k < i && (wsp(p[k]) || p[k] == '\r' || p[k] == '\n'))
			k++;
		int isb = k < i && p[k] == 'b';
		if (isb) {
			k++;
			while (k < i && (wsp(p[k]) || p[k] == '\r' || p[k] == '\n'))
				k++;
			isb = k < i && p[k] == '=';
		}
		buf_append(out, p + ts, isb ? k + 1 - ts : i - ts);
		if (i < len) {
			buf_append(out, ";", 1);
			i++;
		}
	}
}

int dkim_header_input(const struct dkim_msg *m, const char *h, size_t hlen,
    const char *sigfield, size_t siglen, int relaxed, struct buf *out)
{
	unsigned char used[DKIM_MAX_FIELDS] = { 0 };
	size_t i = 0;
	while (i < hlen) {
		while (i < hlen && (wsp(h[i]) || h[i] == '\r' || h[i] == '\n'))
			i++;
		size_t ns = i;
		while (i < hlen && h[i] != ':')
			i++;
		size_t ne = i;
		while (ne > ns && (wsp(h[ne - 1]) || h[ne - 1] == '\r' || h[ne - 1] == '\n'))
			ne--;
		if (i < hlen)
			i++;
		if (ne == ns)
			return -1;
		for (size_t k = m->nf; k-- > 0;) {
			if (used[k] || m->f[k].nlen != ne - ns ||
			    strncasecmp(m->f[k].p, h + ns, ne - ns) != 0)
				continue;
			used[k] = 1;
			dkim_canon_header(out, m->f[k].p, m->f[k].len, relaxed, 1);
			break;
		}
	}
	struct buf s;
	buf_init(&s, (size_t)-1 / 2);
	strip_b(sigfield, siglen, &s);
	dkim_canon_header(out, s.data ? s.data : "", s.len, relaxed, 0);
	buf_free(&s);
	return 0;
}

void dkim_b64_encode(const unsigned char *p, size_t n, struct buf *out)
{
	size_t cap = 4 * ((n + 2) / 3) + 1;
	unsigned char *t = OPENSSL_malloc(cap);
	if (t == NULL)
		return;
	int k = EVP_EncodeBlock(t, p, (int)n);
	buf_append(out, t, (size_t)k);
	OPENSSL_free(t);
}

long dkim_b64_decode(const char *s, size_t n, unsigned char *out, size_t cap)
{
	static const char alpha[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned long acc = 0;
	int bits = 0, pad = 0;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (wsp(c) || c == '\r' || c == '\n')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		const char *q = c ? strchr(alpha, c) : NULL;
		if (q == NULL || pad)
			return -1;
		acc = (acc << 6) | (unsigned long)(q - alpha);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == cap)
				return -1;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	if (pad > 2)
		return -1;
	return (long)o;
}
