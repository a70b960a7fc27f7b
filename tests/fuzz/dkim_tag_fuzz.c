/*
 * dkim_tag_fuzz — DKIM's outside input (src/dkim): the tag=value parser
 * of DKIM-Signature fields and key records, then the whole verifier over
 * the input as a message (header split, canonicalisation, b= removal,
 * base64, key record parsing; the key lookup answers with the input's
 * last line as the record, or RFC 8463's key).
 */
#include <stdlib.h>
#include <string.h>

#include "dkim/dkim.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_quiet();
	return 0;
}

static const char *record;

static enum dkim_lookup lookup(void *arg, const char *name, char *txt, size_t txtlen)
{
	size_t n = strlen(record);
	if (n >= txtlen)
		n = txtlen - 1;
	memcpy(txt, record, n);
	txt[n] = '\0';
	return name[0] == 't' ? DKIM_LK_TEMP : DKIM_LK_FOUND;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fz_str(data, size);
	struct dkim_tag t[32];
	int n = dkim_tags_parse(s, size, t, 32);
	for (int i = 0; i < n; i++)
		if (t[i].name < s || t[i].val + t[i].vlen > s + size)
			abort();
	if (n > 0)
		(void)dkim_tag_find(t, n, "b");
	const char *last = strrchr(s, '\n');
	record = last && strstr(last, "p=") ? last + 1 :
	    "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
	struct dkim_sig_result r[4];
	(void)dkim_verify(s, size, 1528637909, lookup, NULL, r, 4);
	free(s);
	return 0;
}
