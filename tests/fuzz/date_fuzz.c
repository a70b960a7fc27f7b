/*
 * date_fuzz — the fail2ban date parser (src/warden/filter/date.c): the default
 * detectors searched anywhere in a log line and anchored at its start, a
 * filter's own datepattern, and one strftime-style pattern applied to text.
 * Input: "pattern NUL text"; without a NUL the whole input is the line.
 */
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "warden/filter/filter.h"
#include "fuzz.h"

static struct date_detector *any, *begin;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];
	fz_quiet();
	setenv("TZ", "Europe/Berlin", 1);
	clock_fix_wall(1764000000);
	any = date_new(NULL, err, sizeof(err));
	begin = date_new("{^LN-BEG}", err, sizeof(err));
	if (any == NULL || begin == NULL)
		abort();
	return 0;
}

static void find(struct date_detector *d, const char *line, size_t len)
{
	size_t s, e;
	time_t t;
	if (date_find(d, line, len, &s, &e, &t) == 1 && (s > e || e > len))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *z = memchr(data, '\0', size);
	if (z == NULL) {
		char *line = fz_str(data, size);
		find(any, line, size);
		find(begin, line, size);
		free(line);
		return 0;
	}
	char *pat = fz_str(data, (size_t)(z - data));
	size_t tl = size - (size_t)(z - data) - 1;
	char *text = fz_cstr(z + 1, tl);
	time_t t;
	date_parse(pat, text, &t);
	char err[256];
	struct date_detector *d = date_new(pat, err, sizeof(err));
	if (d) {
		find(d, text, strlen(text));
		date_free(d);
	}
	free(pat);
	free(text);
	return 0;
}
