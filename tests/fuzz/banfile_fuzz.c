/*
 * banfile_fuzz — the SMTP engine's reader of the ban engine's bans file
 * ("network expiry jail" lines), then lookups of v4, v6 and mapped addresses.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "warden/banfile.h"
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
	static const char *const addrs[] = {
		"192.0.2.9", "2001:db8:1:2::55", "::ffff:192.0.2.9", "10.0.0.1", "::", "garbage",
	};
	fz_file("bans", data, size);
	struct banfile *b = banfile_open(dirfd_, "bans");
	if (b == NULL)
		abort();
	char jail[64];
	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++)
		banfile_check(b, addrs[i], 1000, jail, sizeof(jail));
	banfile_count(b);
	banfile_close(b);
	return 0;
}
