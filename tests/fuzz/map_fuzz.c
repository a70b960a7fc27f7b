/*
 * map_fuzz — lookup table files: texthash ("key value", # comments,
 * continuation lines), aliases(5) ("name: a, b", :include: and |command
 * refused), cidr_table(5), regexp_table(5) and pcre_table(5) (IF/ENDIF,
 * flags, $n in results; looked up with header lines as header_checks
 * does), and the config list values of networks and domains (mynetworks,
 * mydestination). Input: first byte picks the kind, the rest is the file
 * (or the list value).
 */
#include <stdlib.h>
#include <string.h>

#include "common/cidr.h"
#include "common/map.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_quiet();
	return 0;
}

static void each(const char *key, const char *value, void *arg)
{
	(*(size_t *)arg) += strlen(key) + strlen(value);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[] = {
		"root", "postmaster", "bob@example.com", "@example.com", "192.0.2.1", "2001:db8::1", "",
		"Subject: Make money fast", "From: \"Bob\" <bob@example.com>",
		"Received: from x (y [192.0.2.1]) by z",
	};
	static const char *const types[] = { "texthash", "texthash", "cidr", NULL, "regexp", "pcre" };
	if (size < 1)
		return 0;
	char err[1024], spec[256];
	int kind = data[0] % 6;
	if (kind == 3) {	/* list values */
		char *v = fz_cstr(data + 1, size - 1);
		struct cidrlist *cl = cidrlist_parse(v, err, sizeof(err));
		if (cl) {
			cidrlist_match_str(cl, "192.0.2.1");
			cidrlist_match_str(cl, "2001:db8::1");
			cidrlist_free(cl);
		}
		struct domlist *dl = domlist_open(v, err, sizeof(err));
		if (dl) {
			domlist_match(dl, "example.com");
			domlist_match(dl, "a.sub.example.net");
			domlist_free(dl);
		}
		free(v);
		return 0;
	}
	const char *path = fz_file("map", data + 1, size - 1);
	snprintf(spec, sizeof(spec), "%s:%s", types[kind], path);
	struct map *m = map_open(spec, kind == 1 ? MAP_ALIASES : 0, err, sizeof(err));
	if (m == NULL)
		return 0;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		map_lookup(m, keys[i]);
	size_t sum = 0;
	map_foreach(m, each, &sum);	/* nothing for cidr, regexp, pcre */
	map_free(m);
	return 0;
}
