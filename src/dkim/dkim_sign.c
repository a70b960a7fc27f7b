/*
 * dkim_sign — the signer: a DKIM-Signature field for a whole message,
 * relaxed/relaxed, with OpenDKIM's default header list (every instance
 * present signed) and From oversigned (one more "from" than there are
 * From fields, as Debian's opendkim.conf `OversignHeaders From`), so a
 * From added later breaks the signature.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dkim/dkim_int.h"

/* OpenDKIM's default signed headers (libopendkim's dkim_should_signhdrs,
 * RFC 6376 5.4.1's SHOULD list). */
static const char *const sign_headers[] = {
	"from", "reply-to", "subject", "date", "to", "cc", "resent-date", "resent-from",
	"resent-sender", "resent-to", "resent-cc", "in-reply-to", "references", "list-id",
	"list-help", "list-unsubscribe", "list-subscribe", "list-post", "list-owner",
	"list-archive",
};

int dkim_sign_field(const struct dkim_key *k, const char *field, size_t flen,
    const char *msg, size_t len, struct buf *b64, char *err, size_t errlen)
{
	static struct dkim_msg m;	/* large: one at a time per process */
	struct dkim_tag t[DKIM_MAX_TAGS];
	const char *c = memchr(field, ':', flen);
	if (c == NULL) {
		snprintf(err, errlen, "no field name");
		return -1;
	}
	int nt = dkim_tags_parse(c + 1, flen - (size_t)(c + 1 - field), t, DKIM_MAX_TAGS);
	const struct dkim_tag *h = nt > 0 ? dkim_tag_find(t, nt, "h") : NULL;
	const struct dkim_tag *cn = nt > 0 ? dkim_tag_find(t, nt, "c") : NULL;
	if (h == NULL || dkim_msg_split(msg, len, &m) < 0) {
		snprintf(err, errlen, "bad signature field or message");
		return -1;
	}
	int relaxed = cn && cn->vlen >= 7 && strncmp(cn->val, "relaxed", 7) == 0;
	struct buf in, sig;
	buf_init(&in, (size_t)-1 / 2);
	buf_init(&sig, 4096);
	int r = dkim_header_input(&m, h->val, h->vlen, field, flen, relaxed, &in);
	if (r == 0)
		r = dkim_pk_sign(k->pkey, k->alg, &in, &sig);
	if (r == 0)
		dkim_b64_encode((unsigned char *)sig.data, sig.len, b64);
	else
		snprintf(err, errlen, "signing failed");
	buf_free(&in);
	buf_free(&sig);
	return r;
}

/* Add ":name" (or "name" first) to the h= list, folding long lines. */
static void h_add(struct buf *f, size_t *col, const char *name, int first)
{
	size_t n = strlen(name) + 1;
	if (*col + n > 76) {
		buf_puts(f, "\n\t");
		*col = 8;
	}
	buf_printf(f, "%s%s", first ? "" : ":", name);
	*col += n;
}

int dkim_sign(const struct dkim_key *k, const char *msg, size_t len, time_t now,
    struct buf *out, char *err, size_t errlen)
{
	static struct dkim_msg m;
	unsigned char bh[32];
	if (dkim_msg_split(msg, len, &m) < 0) {
		snprintf(err, errlen, "too many header fields");
		return -1;
	}
	int relaxed = 1;
	if (dkim_body_hash(m.body, m.blen, relaxed, -1, bh) < 0) {
		snprintf(err, errlen, "body hash failed");
		return -1;
	}
	struct buf f;
	buf_init(&f, 65536);
	buf_printf(&f, "DKIM-Signature: v=1; a=%s; c=relaxed/relaxed; d=%s;\n\ts=%s; t=%lld;",
	    k->alg == DKIM_RSA_SHA256 ? "rsa-sha256" : "ed25519-sha256", k->domain,
	    k->selector, (long long)now);
	buf_puts(&f, "\n\th=");
	size_t col = 10;
	int first = 1;
	for (size_t i = 0; i < sizeof(sign_headers) / sizeof(*sign_headers); i++) {
		size_t l = strlen(sign_headers[i]), count = 0;
		for (size_t j = 0; j < m.nf; j++)
			if (m.f[j].nlen == l && strncasecmp(m.f[j].p, sign_headers[i], l) == 0)
				count++;
		if (i == 0)
			count++;	/* From oversigned */
		for (; count > 0; count--, first = 0)
			h_add(&f, &col, sign_headers[i], first);
	}
	buf_puts(&f, ";\n\tbh=");
	dkim_b64_encode(bh, sizeof(bh), &f);
	buf_puts(&f, ";\n\tb=");
	struct buf b64;
	buf_init(&b64, 8192);
	int r = dkim_sign_field(k, f.data, f.len, msg, len, &b64, err, errlen);
	if (r == 0) {
		buf_append(out, f.data, f.len);
		size_t c2 = 10;
		for (size_t i = 0; i < b64.len; i++, c2++) {
			if (c2 >= 76) {
				buf_puts(out, "\n\t ");
				c2 = 9;
			}
			buf_append(out, b64.data + i, 1);
		}
		buf_puts(out, "\n");
	}
	buf_free(&b64);
	buf_free(&f);
	return r;
}
