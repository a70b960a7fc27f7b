/*
 * auth_fuzz — the SMTP engine's AUTH decoding: base64 (RFC 4954, padding
 * required), the PLAIN response split into authzid/authcid/password, and
 * LOGIN's user name check, as auth.c applies them to a client's line.
 */
#include <stdlib.h>
#include <string.h>

#include "smtp/auth.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_quiet();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = fz_cstr(data, size);
	size_t cap = 255 * 2 + 1024 + 8;	/* auth.c's PLAIN buffer */
	char *buf = malloc(cap);
	long n = auth_b64_decode(line, buf, cap);
	if (n >= 0) {
		const char *user, *pass;
		if (auth_plain_split(buf, (size_t)n, &user, &pass) == 0 &&
		    (strlen(user) + strlen(pass) + 2 > (size_t)n + 1))
			abort();	/* both must lie inside the decoded bytes */
	}
	free(buf);
	/* LOGIN: the user name fits AUTH_MAX_USER + 1 bytes */
	char *ubuf = malloc(256);
	n = auth_b64_decode(line, ubuf, 256);
	if (n > 0 && (size_t)n >= 256)
		abort();
	free(ubuf);
	free(line);
	return 0;
}
