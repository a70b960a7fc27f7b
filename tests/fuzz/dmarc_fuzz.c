/*
 * dmarc_fuzz — DMARC's outside input (src/dmarc): the _dmarc TXT records
 * (dmarc_parse on each input line, dmarc_pick over all of them), the
 * From domain of the input read as a message's header section
 * (dmarc_from_domain: quoted strings, comments, quoted-pairs, folding),
 * the organisational domain of each line and of the From domain under a
 * small Public Suffix List with wildcard, exception and UTF-8 rules,
 * alignment and the evaluation with the lines as the passing DKIM domains.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dmarc/dmarc.h"
#include "fuzz.h"

#define LINES 16

/* Whether org ends name (case-insensitive, a final dot aside). */
static int is_suffix(const char *org, const char *name)
{
	size_t o = strlen(org), n = strlen(name);
	if (n && name[n - 1] == '.')
		n--;
	return o > 0 && o <= n && strncasecmp(name + n - o, org, o) == 0 &&
	    (o == n || name[n - o - 1] == '.');
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char psl[] = "// test list\ncom\nuk\nco.uk\n*.ck\n!www.ck\n"
	    "*.kawasaki.jp\n!city.kawasaki.jp\nexample\ncn\n公司.cn\nрф\n";
	char err[256];
	fz_quiet();
	if (dmarc_psl_load(fz_file("psl.dat", psl, sizeof(psl) - 1), err, sizeof(err)) < 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *msg = fz_str(data, size), *lines = fz_cstr(data, size), *line[LINES];
	size_t n = 0;
	for (char *save = NULL, *l = strtok_r(lines, "\n", &save); l && n < LINES;
	    l = strtok_r(NULL, "\n", &save))
		line[n++] = l;
	struct dmarc_record rec;
	char org[256], from[256];
	for (size_t i = 0; i < n; i++) {
		int k = dmarc_parse(line[i], &rec);
		if (k == 1 && (rec.pct < 0 || rec.pct > 100 || rec.p > DMARC_P_REJECT ||
		    rec.sp > DMARC_P_REJECT))
			abort();
		if (dmarc_org_domain(line[i], org, sizeof(org)) == 0 && !is_suffix(org, line[i]))
			abort();
	}
	int found = dmarc_pick(line, n, &rec);
	if (dmarc_from_domain(msg, size, from, sizeof(from)) == 0) {
		(void)dmarc_org_domain(from, org, sizeof(org));
		if (found) {
			struct dmarc_input in = { from, (const char *const *)line, n,
			    n ? line[0] : NULL };
			struct dmarc_outcome out;
			dmarc_evaluate(&in, &rec, size & 1, (int)(size % 100), &out);
			(void)dmarc_result_name(out.result);
			(void)dmarc_policy_name(out.disposition);
		}
		for (size_t i = 0; i < n; i++)
			(void)dmarc_aligned(line[i], from, 0);
	}
	free(lines);
	free(msg);
	return 0;
}
