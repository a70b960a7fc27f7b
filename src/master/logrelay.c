/*
 * logrelay — the pipe from every child to maillog_file (see logrelay.h).
 * Whole lines only reach the file: a read that ends inside a line keeps
 * the rest for the next one, so the master's own lines (written through
 * the log sink, after a drain) never land in the middle of a child's.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/loop.h"
#include "common/util.h"
#include "master/logrelay.h"

#define RELAY_PIPE_SIZE	(1024 * 1024)	/* room for bursts while the master is busy */

static char *relay_path;
static int relay_file = -1;	/* maillog_file, O_APPEND */
static int relay_rd = -1, relay_wr = -1;
static char relay_part[4096];	/* a line begun in one read, ended in the next */
static size_t relay_npart;

static void file_write(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(relay_file, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {	/* the log itself failed: stderr is all that is left */
			(void)!write(2, p, n);
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

/* Hold the unfinished tail of a read (more than a line: pass it on). */
static void keep_part(const char *p, size_t k)
{
	if (relay_npart + k > sizeof(relay_part)) {
		file_write(relay_part, relay_npart);
		relay_npart = 0;
		if (k > sizeof(relay_part)) {
			file_write(p, k);
			return;
		}
	}
	memcpy(relay_part + relay_npart, p, k);
	relay_npart += k;
}

void logrelay_drain(void)
{
	char buf[65536];
	if (relay_rd < 0)
		return;
	for (;;) {
		ssize_t n = read(relay_rd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		char *end = memrchr(buf, '\n', (size_t)n);
		if (end == NULL) {
			keep_part(buf, (size_t)n);
			continue;
		}
		if (relay_npart) {
			file_write(relay_part, relay_npart);
			relay_npart = 0;
		}
		size_t whole = (size_t)(end - buf) + 1;
		file_write(buf, whole);
		keep_part(end + 1, (size_t)n - whole);
	}
}

/* The master's own lines: after what the children wrote before them. */
static void relay_sink(const char *line, size_t len)
{
	logrelay_drain();
	file_write(line, len);
}

static void on_pipe(int fd, int events, void *arg)
{
	logrelay_drain();
}

static int open_file(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

int logrelay_open(const char *path)
{
	int p[2];
	relay_file = open_file(path);
	if (relay_file < 0)
		return -1;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	relay_rd = p[0];
	relay_wr = p[1];
	relay_path = xstrdup(path);
	(void)fcntl(relay_wr, F_SETPIPE_SZ, RELAY_PIPE_SIZE);	/* a smaller pipe works too */
	if (fcntl(relay_rd, F_SETFL, O_NONBLOCK) < 0)
		return -1;
	log_set_sink(relay_sink);
	return relay_wr;
}

void logrelay_watch(void)
{
	if (relay_rd >= 0)
		loop_watch(relay_rd, LOOP_READ, on_pipe, NULL);
}

void logrelay_child(void)
{
	log_set_sink(NULL);
	if (relay_rd >= 0)
		close(relay_rd);
	if (relay_file >= 0)
		close(relay_file);
	relay_rd = relay_file = -1;
}

int logrelay_reopen(void)
{
	if (relay_file < 0)
		return 0;
	logrelay_drain();
	int fd = open_file(relay_path);
	if (fd < 0)
		return -1;
	if (relay_npart) {	/* an unfinished line stays with the old file */
		file_write(relay_part, relay_npart);
		relay_npart = 0;
	}
	if (dup3(fd, relay_file, O_CLOEXEC) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	close(fd);
	return 0;
}
