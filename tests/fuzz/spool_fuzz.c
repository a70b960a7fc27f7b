/*
 * spool_fuzz — the queue file reader (spool_read): envelope records,
 * recipient status bytes, body offset and end record of incoming/ID.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "mail/spool.h"
#include "fuzz.h"

static int dirfd_;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_quiet();
	dirfd_ = open(fz_dir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd_ < 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_file("A1B2C3D4E5F6", data, size);
	struct spool_env env;
	char err[256];
	if (spool_read(dirfd_, "A1B2C3D4E5F6", &env, err, sizeof(err)) == 0)
		spool_env_free(&env);
	size_t len;
	spool_parse_len((const char *)data, size, &len);
	return 0;
}
