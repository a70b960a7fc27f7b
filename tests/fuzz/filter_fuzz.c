/*
 * filter_fuzz — a fail2ban filter.d file through the INI reader
 * ([INCLUDES] before/after, [Init], [Definition], %(name)s interpolation,
 * continuation lines), Python-regex translation and compilation, then a
 * few log lines matched. The built-in common.conf is found by its name.
 * Input: the .conf text; after a line "#---local---", the .local text.
 */
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "warden/filter/filter.h"
#include "fuzz.h"

static char fdir[128];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_quiet();
	clock_fix_wall(1764000000);
	snprintf(fdir, sizeof(fdir), "%s", fz_dir());
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char sep[] = "#---local---\n";
	static const char *const lines[] = {
		"Nov 28 20:57:02 mx postfix/smtpd[123]: warning: unknown[192.0.2.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username=bob",
		"2026-11-28 20:57:02 sshd[99]: Failed password for root from 2001:db8::7 port 22 ssh2",
		"Nov 28 20:57:03 mx sshd[99]: Invalid user admin from 198.51.100.4 port 5555",
		"no date here at all 192.0.2.1",
	};
	char *s = fz_str(data, size);
	char *loc = strstr(s, sep);
	if (loc) {
		*loc = '\0';
		loc += sizeof(sep) - 1;
		fz_file("fz.local", loc, strlen(loc));
	} else {
		fz_file("fz.local", "", 0);
	}
	fz_file("fz.conf", s, strlen(s));
	const char *dirs[] = { fdir, NULL };
	char err[1024];
	struct filter *f = filter_load("fz[mode=aggressive]", dirs, err, sizeof(err));
	if (f) {
		struct filter_hit hit;
		for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
			filter_match(f, lines[i], &hit);
		filter_option(f, "failregex");
		filter_free(f);
	}
	free(s);
	return 0;
}
