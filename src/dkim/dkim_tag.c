/*
 * dkim_tag — the tag=value lists of DKIM-Signature fields and key
 * records (RFC 6376 3.2): names ALPHA *(ALPHA / DIGIT / "_"), values
 * without surrounding whitespace, no duplicate names, an empty last tag
 * allowed. Outside input: fuzzed by tests/fuzz/dkim_tag_fuzz.c.
 */
#include <ctype.h>
#include <string.h>

#include "dkim/dkim.h"

static int wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int dkim_tags_parse(const char *s, size_t n, struct dkim_tag *tags, size_t max)
{
	size_t i = 0;
	int count = 0;
	while (i < n) {
		while (i < n && wsp(s[i]))
			i++;
		if (i == n)
			break;
		size_t ns = i;
		if (!isalpha((unsigned char)s[i]))
			return -1;
		while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '_'))
			i++;
		size_t ne = i;
		while (i < n && wsp(s[i]))
			i++;
		if (i == n || s[i] != '=')
			return -1;
		i++;
		while (i < n && wsp(s[i]))
			i++;
		size_t vs = i;
		while (i < n && s[i] != ';')
			i++;
		size_t ve = i;
		while (ve > vs && wsp(s[ve - 1]))
			ve--;
		for (size_t k = vs; k < ve; k++)
			if ((unsigned char)s[k] < 0x20 && !wsp(s[k]))
				return -1;
		if ((size_t)count == max)
			return -1;
		for (int k = 0; k < count; k++)
			if (tags[k].nlen == ne - ns && memcmp(tags[k].name, s + ns, ne - ns) == 0)
				return -1;
		tags[count].name = s + ns;
		tags[count].nlen = ne - ns;
		tags[count].val = s + vs;
		tags[count].vlen = ve - vs;
		count++;
		if (i < n)
			i++;	/* the ';' */
	}
	return count;
}

const struct dkim_tag *dkim_tag_find(const struct dkim_tag *tags, int n, const char *name)
{
	size_t l = strlen(name);
	for (int i = 0; i < n; i++)
		if (tags[i].nlen == l && memcmp(tags[i].name, name, l) == 0)
			return &tags[i];
	return NULL;
}
