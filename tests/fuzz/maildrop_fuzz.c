/*
 * maildrop_fuzz — pickup's reader of a maildrop file (written by the
 * setgid sendmail, so by any local user): magic, S/N/R records, B, the
 * message and the "E <length>" end record.
 */
#include <stdlib.h>

#include "queue/pickup.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_quiet();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = fz_str(data, size);
	char err[256];
	pickup_parse(buf, size, err, sizeof(err));
	size_t mlen;
	pickup_end_record(buf, size, size / 2, &mlen);
	pickup_addr_ok(buf, size);
	free(buf);
	return 0;
}
