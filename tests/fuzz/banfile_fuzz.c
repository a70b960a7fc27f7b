/*
 * banfile_fuzz — the SMTP engine's reader of the ban engine's bans
 * journal ("network expiry jail" and "- network jail" lines): the input's
 * first byte splits it into the file as first read and a later append
 * (the reader goes on from its offset, with half a line pending across
 * the split), with lookups of v4, v6 and mapped addresses after each.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "mail/banfile.h"
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

static void lookups(struct banfile *b)
{
	static const char *const addrs[] = {
		"192.0.2.9", "2001:db8:1:2::55", "::ffff:192.0.2.9", "10.0.0.1", "::", "garbage",
	};
	char jail[64];
	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++)
		banfile_check(b, addrs[i], 1000, jail, sizeof(jail));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t split = size;
	if (size > 0) {
		split = (size_t)data[0] * (size - 1) / 255;
		data++;
		size--;
	}
	const char *path = fz_file("bans", data, split);
	struct banfile *b = banfile_open(dirfd_, "bans");
	if (b == NULL)
		abort();
	lookups(b);
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0 || (size > split && write(fd, data + split, size - split) !=
	    (ssize_t)(size - split)) || close(fd) < 0)
		abort();
	lookups(b);
	banfile_count(b);
	banfile_close(b);
	return 0;
}
