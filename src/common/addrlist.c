/*
 * addrlist — address-list header values cut into addresses (see
 * addrlist.h). One lexer state (quoted string, comment depth, angle) is
 * kept while scanning, with quoted-pairs skipped inside quotes and
 * comments, so a display name cannot hide or fake an address.
 */
#include <stdio.h>
#include <string.h>

#include "common/addrlist.h"

#define ADDR_MAX 1024

/* Scanner state over one header value: in a quoted string, and how
 * deep in (nested) comments. */
struct lex {
	int quoted, depth;
};

enum { L_PLAIN, L_QUOTED, L_COMMENT };

/* What val[*i] is part of: plain text, a quoted string (its quotes
 * included) or a comment (its parentheses included). A quoted-pair in
 * either is consumed whole (*i moves past it). */
static int lex_step(struct lex *x, const char *val, size_t n, size_t *i)
{
	char c = val[*i];
	if (x->depth) {
		if (c == '\\' && *i + 1 < n)
			(*i)++;
		else if (c == '(')
			x->depth++;
		else if (c == ')')
			x->depth--;
		return L_COMMENT;
	}
	if (x->quoted) {
		if (c == '\\' && *i + 1 < n)
			(*i)++;
		else if (c == '"')
			x->quoted = 0;
		return L_QUOTED;
	}
	if (c == '"') {
		x->quoted = 1;
		return L_QUOTED;
	}
	if (c == '(') {
		x->depth = 1;
		return L_COMMENT;
	}
	return L_PLAIN;
}

/* One element of a list: the part in <>, else all of it; comments and
 * white space outside quotes dropped, quoted text kept as written. */
static int one_addr(const char *p, size_t n, char *out, size_t outlen)
{
	struct lex x = { 0, 0 };
	size_t lt = n, gt = n;
	for (size_t i = 0; i < n; i++)
		if (lex_step(&x, p, n, &i) == L_PLAIN) {
			if (p[i] == '<' && lt == n)
				lt = i;
			else if (p[i] == '>' && lt < n && gt == n)
				gt = i;
		}
	size_t from = 0, to = n, o = 0;
	if (lt < n && gt < n) {
		from = lt + 1;
		to = gt;
	}
	x = (struct lex){ 0, 0 };
	for (size_t i = from; i < to; i++) {
		size_t s = i;
		int k = lex_step(&x, p, to, &i);
		if (k == L_COMMENT || (k == L_PLAIN &&
		    (p[s] == ' ' || p[s] == '\t' || p[s] == '\r' || p[s] == '\n')))
			continue;
		for (size_t j = s; j <= i; j++) {	/* a quoted-pair is two bytes */
			if (o + 1 >= outlen)
				return -1;
			out[o++] = p[j];
		}
	}
	out[o] = '\0';
	return o > 0 ? 0 : -1;
}

size_t addrlist_each(const char *val, size_t n, void (*fn)(const char *addr, void *arg),
    void *arg)
{
	char addr[ADDR_MAX];
	size_t found = 0, start = 0;
	struct lex x = { 0, 0 };
	int angle = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i < n && lex_step(&x, val, n, &i) != L_PLAIN)
			continue;
		char c = i < n ? val[i] : ',';
		if (c == '<')
			angle = 1;
		else if (c == '>')
			angle = 0;
		else if (!angle && c == ':')
			start = i + 1;	/* group name */
		else if (!angle && (c == ',' || c == ';')) {
			if (i > start && one_addr(val + start, i - start, addr, sizeof(addr)) == 0) {
				fn(addr, arg);
				found++;
			}
			start = i + 1;
		}
	}
	return found;
}
