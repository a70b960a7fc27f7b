/*
 * spf_macro — the macro language of RFC 7208 section 7: %{s l o d i p h
 * v} (and c r t in explanations), a digit and 'r' transformer, the
 * delimiters ".-+,/_=", %% %_ %-, upper-case letters URL-escaped. Used by
 * the evaluation for every domain-spec and for exp= texts; the parser
 * calls spf_macro_check() so a bad macro is a permerror before any
 * mechanism runs.
 */
#include <ctype.h>
#include <string.h>

#include "spf/spf_int.h"

#define DELIMS ".-+,/_="
#define PART_MAX 128

struct out {
	char *p;
	size_t len, n;
	int over;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->n + n >= o->len) {
		o->over = 1;
		return;
	}
	memcpy(o->p + o->n, s, n);
	o->n += n;
	o->p[o->n] = '\0';
}

/* The value of a macro letter, or NULL if the letter is not allowed. */
static const char *letter_value(const struct spf_macro_ctx *m, int c, int *need_p)
{
	static char tbuf[32];
	*need_p = 0;
	switch (tolower(c)) {
	case 's': return m->s;
	case 'l': return m->l;
	case 'o': return m->o;
	case 'd': return m->d;
	case 'i': return m->i;
	case 'v': return m->v;
	case 'h': return m->h;
	case 'p':
		if (m->p == NULL)
			*need_p = 1;
		return m->p;
	case 'c': return m->exp ? m->c : NULL;
	case 'r': return m->exp ? m->r : NULL;
	case 't':
		if (!m->exp)
			return NULL;
		{
			long t = m->t;
			char rev[32];
			size_t k = 0, j = 0;
			do {
				rev[k++] = (char)('0' + (t % 10));
				t /= 10;
			} while (t > 0 && k < sizeof(rev));
			while (k > 0)
				tbuf[j++] = rev[--k];
			tbuf[j] = '\0';
			return tbuf;
		}
	default: return NULL;
	}
}

/* Apply transformers to value: split on delims, reverse, keep the
 * rightmost keep parts (0 = all), join with '.'. */
static void transform(struct out *o, const char *value, long keep, int reverse,
    const char *delims, int escape)
{
	const char *part[PART_MAX];
	size_t plen[PART_MAX], n = 0;
	const char *p = value;

	for (;;) {
		size_t k = strcspn(p, delims);
		if (n < PART_MAX) {
			part[n] = p;
			plen[n] = k;
			n++;
		}
		if (p[k] == '\0')
			break;
		p += k + 1;
	}
	if (reverse) {
		for (size_t a = 0, b = n - 1; a < b; a++, b--) {
			const char *tp = part[a]; part[a] = part[b]; part[b] = tp;
			size_t tl = plen[a]; plen[a] = plen[b]; plen[b] = tl;
		}
	}
	size_t first = (keep > 0 && (size_t)keep < n) ? n - (size_t)keep : 0;
	for (size_t k = first; k < n; k++) {
		if (k > first)
			put(o, ".", 1);
		for (size_t j = 0; j < plen[k]; j++) {
			unsigned char ch = (unsigned char)part[k][j];
			if (escape && !(isalnum(ch) || strchr("-._~", ch))) {
				static const char hex[] = "0123456789ABCDEF";
				char e[3] = { '%', hex[ch >> 4], hex[ch & 15] };
				put(o, e, 3);
			} else
				put(o, (const char *)&ch, 1);
		}
	}
}

int spf_macro_expand(const char *in, const struct spf_macro_ctx *m, char *out, size_t len)
{
	struct out o = { out, len, 0, 0 };

	if (len == 0)
		return SPF_MACRO_TOO_LONG;
	out[0] = '\0';
	for (const char *p = in; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch != '%') {
			if (ch < (m->exp ? 0x20 : 0x21) || ch > 0x7e)
				return SPF_MACRO_SYNTAX;
			put(&o, (const char *)&ch, 1);
			continue;
		}
		p++;
		if (*p == '%')
			put(&o, "%", 1);
		else if (*p == '_')
			put(&o, " ", 1);
		else if (*p == '-')
			put(&o, "%20", 3);
		else if (*p == '{') {
			int letter = (unsigned char)p[1], need_p;
			if (letter == '\0')
				return SPF_MACRO_SYNTAX;
			const char *value = letter_value(m, letter, &need_p);
			if (value == NULL && !need_p)
				return SPF_MACRO_SYNTAX;
			const char *q = p + 2;
			long keep = 0;
			int digits = 0;
			while (isdigit((unsigned char)*q)) {
				if (keep < 1000)
					keep = keep * 10 + (*q - '0');
				q++;
				digits = 1;
			}
			if (digits && keep == 0)
				return SPF_MACRO_SYNTAX;
			int reverse = 0;
			if (*q == 'r' || *q == 'R') {
				reverse = 1;
				q++;
			}
			char delims[8] = "";
			size_t nd = 0;
			while (*q && *q != '}') {
				if (strchr(DELIMS, *q) == NULL)
					return SPF_MACRO_SYNTAX;
				if (strchr(delims, *q) == NULL || nd == 0) {
					if (nd < sizeof(delims) - 1)
						delims[nd++] = *q;
				}
				delims[nd] = '\0';
				q++;
			}
			if (*q != '}')
				return SPF_MACRO_SYNTAX;
			if (need_p)
				return SPF_MACRO_NEED_P;
			if (nd == 0) {
				delims[0] = '.';
				delims[1] = '\0';
			} else
				delims[nd] = '\0';
			transform(&o, value, keep, reverse, delims, isupper(letter));
			p = q;
		} else
			return SPF_MACRO_SYNTAX;
	}
	return o.over ? SPF_MACRO_TOO_LONG : SPF_MACRO_OK;
}

int spf_macro_check(const char *in, int exp)
{
	static const struct spf_macro_ctx dummy_m = {
		"l@o", "l", "o", "d", "i", "p", "v", "h", "c", "r", 0, 0,
	};
	struct spf_macro_ctx m = dummy_m;
	char buf[8192];

	m.exp = exp;
	int rc = spf_macro_expand(in, &m, buf, sizeof(buf));
	return rc == SPF_MACRO_SYNTAX ? -1 : 0;
}
