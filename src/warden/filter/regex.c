/*
 * regex — fail2ban's Python regexes in PCRE2 terms. Tags become groups
 * (one table row per tag), Python-only syntax is rewritten, and what has
 * no PCRE2 meaning is refused naming file and line.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "warden/filter/filter.h"
#include "warden/filter/filter_impl.h"

#define IP4 "(?:::f{4,6}:)?(?P<ip4>(?:\\d{1,3}\\.){3}\\d{1,3})"
#define IP6 "(?P<ip6>(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|(?<=:):))"
#define DNS "(?P<dns>[\\w\\-.^_]*\\w)"
#define ADDR "\\[?(?:" IP4 "|" IP6 ")\\]?"
#define CIDR "(?P<cidr>\\d+)"

/* fail2ban's RH4TAG: a tag, and its regex. */
static const struct { const char *tag, *re; } tags[] = {
	{ "HOST",	"(?:" ADDR "|" DNS ")" },
	{ "IP4",	IP4 },	{ "F-IP4/",	IP4 },
	{ "IP6",	IP6 },	{ "F-IP6/",	IP6 },
	{ "ADDR",	ADDR },	{ "F-ADDR/",	ADDR },
	{ "CIDR",	CIDR },	{ "F-CIDR/",	CIDR },
	{ "SUBNET",	"\\[?(?:" IP4 "|" IP6 ")(?:/" CIDR ")?\\]?" },
	{ "F-SUBNET/",	"\\[?(?:" IP4 "|" IP6 ")(?:/" CIDR ")?\\]?" },
	{ "DNS",	DNS },	{ "F-DNS/",	DNS },
	{ "F-ID/",	"(?P<fid>\\S+)" },
	{ "F-PORT/",	"(?P<fport>\\w+)" },
};

static int refuse(char *err, size_t errlen, const char *file, int line,
    const char *what)
{
	if (snprintf(err, errlen, "%s:%d: %s", file ? file : "-", line, what) >= (int)errlen)
		err[errlen - 1] = '\0';
	return -1;
}

/* Replace <TAG>s (fail2ban's FTAG_CRE </?[\w\-]+/?>) into out. */
static int subst_tags(const char *p, struct buf *out, const char *file,
    int line, char *err, size_t errlen)
{
	char open[16][32];
	int nopen = 0, nskip = 0;

	while (*p) {
		const char *q = p + 1;
		if (*p != '<') {
			buf_append(out, p, 1);
			p++;
			continue;
		}
		if (*q == '/')
			q++;
		const char *nb = q;
		while (isalnum((unsigned char)*q) || *q == '_' || *q == '-')
			q++;
		size_t nl = (size_t)(q - nb);
		if (*q == '/')
			q++;
		if (nl == 0 || *q != '>' || (size_t)(q - p) > 40) {
			buf_append(out, p, 1);
			p++;
			continue;
		}
		char tag[48];
		memcpy(tag, p + 1, (size_t)(q - p - 1));
		tag[q - p - 1] = '\0';
		size_t i;
		for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
			if (strcmp(tags[i].tag, tag) == 0)
				break;
		if (i < sizeof(tags) / sizeof(tags[0])) {
			buf_puts(out, tags[i].re);
		} else if (strcmp(tag, "SKIPLINES") == 0) {
			/* fail2ban: lines in between, given back to the buffer */
			buf_printf(out, "\\n(?<skiplines%d>(?:(?:.*\\n)*?))", nskip++);
		} else if (strncmp(tag, "F-", 2) == 0 || strncmp(tag, "/F-", 3) == 0) {
			int close = tag[0] == '/';
			char name[32];
			const char *n = tag + (close ? 3 : 2);
			size_t k;
			for (k = 0; n[k] && k < sizeof(name) - 1; k++)
				name[k] = (char)tolower((unsigned char)n[k]);
			name[k] = '\0';
			if (strcmp(name, "id") == 0)
				str_copy(name, sizeof(name), "fid");
			else if (strcmp(name, "port") == 0)
				str_copy(name, sizeof(name), "fport");
			for (k = 0; name[k]; k++)
				if (name[k] == '-')
					name[k] = '_';
			if (close) {
				int found = 0;
				for (int j = 0; j < nopen; j++)
					if (strcmp(open[j], name) == 0)
						found = 1;
				if (found)
					buf_puts(out, ")");
				else
					buf_append(out, p, (size_t)(q - p + 1));
			} else {
				if (nopen < 16)
					str_copy(open[nopen++], sizeof(open[0]), name);
				buf_printf(out, "(?<%s>", name);
			}
		} else {
			buf_append(out, p, (size_t)(q - p + 1));
		}
		p = q + 1;
	}
	return 0;
}

/* Python regex syntax -> PCRE2, in place into out. */
static int py_to_pcre(const char *p, struct buf *out, const char *file,
    int line, char *err, size_t errlen)
{
	int in_class = 0;

	while (*p) {
		if (*p == '\\') {
			if (p[1] == '\0')
				return refuse(err, errlen, file, line, "regex ends in a backslash");
			if (p[1] == 'Z' && !in_class) {
				buf_puts(out, "\\z");
			} else if (p[1] == 'u' || p[1] == 'U') {
				size_t n = p[1] == 'u' ? 4 : 8, k;
				for (k = 0; k < n && isxdigit((unsigned char)p[2 + k]); k++)
					;
				if (k != n)
					return refuse(err, errlen, file, line, "bad \\u escape");
				buf_puts(out, "\\x{");
				buf_append(out, p + 2, n);
				buf_puts(out, "}");
				p += 2 + n;
				continue;
			} else if (p[1] == 'N' && p[2] == '{') {
				return refuse(err, errlen, file, line,
				    "\\N{name} escapes are not supported");
			} else {
				buf_append(out, p, 2);
			}
			p += 2;
			continue;
		}
		if (in_class) {
			if (*p == '[' && p[1] == ':')
				buf_puts(out, "\\[");	/* Python: literal [ */
			else {
				if (*p == ']')
					in_class = 0;
				buf_append(out, p, 1);
			}
			p++;
			continue;
		}
		if (*p == '[') {
			in_class = 1;
			buf_append(out, p, 1);
			p++;
			if (*p == '^') {
				buf_append(out, p, 1);
				p++;
			}
			if (*p == ']') {	/* literal ] first in class */
				buf_puts(out, "\\]");
				p++;
			}
			continue;
		}
		if (strncmp(p, "(?P<", 4) == 0) {
			buf_puts(out, "(?<");
			p += 4;
			continue;
		}
		if (strncmp(p, "(?P=", 4) == 0) {
			const char *e = strchr(p, ')');
			if (e == NULL)
				return refuse(err, errlen, file, line, "unterminated (?P=name)");
			buf_puts(out, "\\k<");
			buf_append(out, p + 4, (size_t)(e - p - 4));
			buf_puts(out, ">");
			p = e + 1;
			continue;
		}
		if (p[0] == '(' && p[1] == '?' && p[2] && strchr("aiLmsux", p[2])) {
			/* inline flags: drop u (default here), refuse L and a */
			const char *q = p + 2;
			buf_puts(out, "(?");
			while (isalpha((unsigned char)*q)) {
				if (*q == 'L' || *q == 'a')
					return refuse(err, errlen, file, line,
					    "regex flag (?L)/(?a) has no PCRE2 equivalent");
				if (*q != 'u')
					buf_append(out, q, 1);
				q++;
			}
			if (*q == ')' && out->data[out->len - 1] == '?') {
				out->len -= 2;		/* "(?u)" alone: nothing left */
				out->data[out->len] = '\0';
				p = q + 1;
				continue;
			}
			p = q;
			continue;
		}
		if (p[0] == '{' && p[1] == ',' && isdigit((unsigned char)p[2])) {
			buf_puts(out, "{0,");
			p += 2;
			continue;
		}
		buf_append(out, p, 1);
		p++;
	}
	return 0;
}

char *regex_translate(const char *py, const char *file, int line, char *err,
    size_t errlen)
{
	struct buf a, b;
	char *res = NULL;

	buf_init(&a, 1 << 20);
	buf_init(&b, 1 << 20);
	if (subst_tags(py, &a, file, line, err, errlen) == 0 &&
	    py_to_pcre(a.data ? a.data : "", &b, file, line, err, errlen) == 0)
		res = xstrdup(b.data ? b.data : "");
	buf_free(&a);
	buf_free(&b);
	return res;
}

void *regex_compile(const char *pcre, unsigned flags, char *err, size_t errlen)
{
	int ec;
	PCRE2_SIZE eo;
	uint32_t opt = PCRE2_DUPNAMES | PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_UCP;

	if (flags & REGEX_CASELESS)
		opt |= PCRE2_CASELESS;
	if (flags & REGEX_MULTILINE)
		opt |= PCRE2_MULTILINE;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)pcre, PCRE2_ZERO_TERMINATED,
	    opt, &ec, &eo, NULL);
	if (re == NULL) {
		char msg[256];
		pcre2_get_error_message(ec, (PCRE2_UCHAR *)msg, sizeof(msg));
		if (snprintf(err, errlen, "%s at offset %zu", msg, (size_t)eo) >= (int)errlen)
			err[errlen - 1] = '\0';
		return NULL;
	}
	int rc = pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
	(void)rc;	/* no JIT on this CPU: the interpreter still works */
	return re;
}

pcre2_match_context *regex_match_context(void)
{
	static pcre2_match_context *mc;
	if (mc == NULL) {
		mc = pcre2_match_context_create(NULL);
		if (mc == NULL)
			fatal("pcre2_match_context_create: out of memory");
		pcre2_set_match_limit(mc, FILTER_MATCH_LIMIT);
		pcre2_set_depth_limit(mc, FILTER_DEPTH_LIMIT);
		pcre2_set_heap_limit(mc, FILTER_HEAP_LIMIT);
	}
	return mc;
}

int regex_search(pcre2_code *re, const char *s, size_t len, pcre2_match_data *md,
    int *logged, const char *file, int line)
{
	int rc = pcre2_match(re, (PCRE2_SPTR)s, len, 0, 0, md, regex_match_context());
	if (rc >= 0 || rc == PCRE2_ERROR_NOMATCH)
		return rc;
	if (logged != NULL && !*logged) {
		char msg[128];
		pcre2_get_error_message(rc, (PCRE2_UCHAR *)msg, sizeof(msg));
		log_warn("%s:%d: regex gave up on a %zu-byte subject (%s): treated as no match; "
		    "not logged again for this regex", file ? file : "-", line, len, msg);
		*logged = 1;
	}
	return -1;
}

void regex_free(void *re)
{
	pcre2_code_free(re);
}
