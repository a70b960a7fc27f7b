/*
 * fuzz.h — helpers shared by the libFuzzer harnesses in tests/fuzz/
 * (one static copy per harness; see tests/fuzz/README.md). Inputs are
 * copied to exact-size heap blocks so ASan sees any read past the end;
 * config readers that take a path get the input through a file in a
 * private directory under /dev/shm.
 */
#ifndef MW_FUZZ_H
#define MW_FUZZ_H
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A NUL-terminated heap copy of the input (exact size + 1). */
static inline char *fz_str(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* The same, cut at the first NUL (what a C-string parser would see). */
static inline char *fz_cstr(const uint8_t *data, size_t size)
{
	const uint8_t *z = memchr(data, '\0', size);
	return fz_str(data, z ? (size_t)(z - data) : size);
}

/* This process's scratch directory, /dev/shm/mwfuzz.PID (made once,
 * removed at exit with what fz_file wrote into it; after a crash
 * scripts/fuzz-run.sh removes those of dead processes). */
static char fz_dirbuf[64];
static char fz_names[16][128];
static int fz_nnames;

static void fz_cleanup(void)
{
	for (int i = 0; i < fz_nnames; i++)
		unlink(fz_names[i]);
	if (fz_dirbuf[0])
		rmdir(fz_dirbuf);
}

static inline const char *fz_dir(void)
{
	if (fz_dirbuf[0] == '\0') {
		snprintf(fz_dirbuf, sizeof(fz_dirbuf), "/dev/shm/mwfuzz.%ld", (long)getpid());
		if (mkdir(fz_dirbuf, 0700) < 0 && errno != EEXIST) {
			perror(fz_dirbuf);
			abort();
		}
		atexit(fz_cleanup);
	}
	return fz_dirbuf;
}

/* Remove path at exit (once; files made in fz_dir() by other means). */
static inline void fz_track(const char *path)
{
	int known = 0;
	for (int i = 0; i < fz_nnames; i++)
		known |= strcmp(fz_names[i], path) == 0;
	if (!known && fz_nnames < 16)
		snprintf(fz_names[fz_nnames++], sizeof(fz_names[0]), "%s", path);
}

/* Write data into fz_dir()/name (replaced each call); the full path. */
static inline const char *fz_file(const char *name, const void *data, size_t size)
{
	static char path[128];
	snprintf(path, sizeof(path), "%s/%s", fz_dir(), name);
	fz_track(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size) || close(fd) < 0) {
		perror(path);
		abort();
	}
	return path;
}

/* Send the program's log lines to /dev/null (a fuzzer prints enough). */
static inline void fz_quiet(void)
{
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		abort();
	log_open("fuzz", "localhost", fd);
}
#endif
