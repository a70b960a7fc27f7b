/*
 * banfile — write and read the bans file (see banfile.h). The reader
 * re-reads only when fstatat() shows another inode, mtime or size; a
 * missing file means no bans. A malformed line is skipped, never fatal:
 * the engine must keep accepting mail whatever the file holds.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "warden/banfile.h"

#define BANFILE_MAX (64L * 1024 * 1024)

int banfile_write(int dirfd, const char *name, const struct banfile_entry *e, size_t n)
{
	char tmp[256];
	if (snprintf(tmp, sizeof(tmp), ".%s.tmp", name) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* A stale temp file (a crash between open and rename) goes first;
	 * then the temp is made new: never opened through a planted link. */
	if (unlinkat(dirfd, tmp, 0) < 0 && errno != ENOENT)
		return -1;
	int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	if (fchmod(fd, 0644) < 0) {	/* the warden's umask is 077: the engine reads it */
		int e2 = errno;
		close(fd);
		unlinkat(dirfd, tmp, 0);
		errno = e2;
		return -1;
	}
	FILE *fp = fdopen(fd, "w");
	if (fp == NULL) {
		int e2 = errno;
		close(fd);
		unlinkat(dirfd, tmp, 0);
		errno = e2;
		return -1;
	}
	fprintf(fp, "# mailwarden bans: network expires(unix, 0=forever) jail\n");
	for (size_t i = 0; i < n; i++) {
		char net[NET_STRLEN];
		if (net_format(&e[i].net, 1, net, sizeof(net)) < 0)
			continue;
		fprintf(fp, "%s %ld %s\n", net, e[i].expires, *e[i].jail ? e[i].jail : "-");
	}
	int bad = fflush(fp) != 0 || ferror(fp);
	int e2 = errno;
	if (fclose(fp) != 0 && !bad) {
		bad = 1;
		e2 = errno;
	}
	if (bad || renameat(dirfd, tmp, dirfd, name) < 0) {
		if (!bad)
			e2 = errno;
		unlinkat(dirfd, tmp, 0);
		errno = e2;
		return -1;
	}
	return 0;
}

struct banfile {
	int dirfd;
	char *name;
	dev_t dev;
	ino_t ino;
	struct timespec mtime;
	off_t size;
	int seen;		/* a stat result is cached */
	struct banfile_entry *e;
	size_t n;
};

struct banfile *banfile_open(int dirfd, const char *name)
{
	int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	struct banfile *b = xcalloc(1, sizeof(*b));
	b->dirfd = fd;
	b->name = xstrdup(name);
	return b;
}

static void parse_line(struct banfile *b, char *line, size_t *cap)
{
	char *save = NULL;
	char *net = strtok_r(line, " \t", &save);
	char *exp = strtok_r(NULL, " \t", &save);
	char *jail = strtok_r(NULL, " \t", &save);
	if (net == NULL || *net == '#' || exp == NULL)
		return;
	struct banfile_entry e;
	memset(&e, 0, sizeof(e));
	char err[128];
	char *end;
	if (net_parse_net(net, &e.net, err, sizeof(err)) < 0 || e.net.plen == 0)
		return;
	errno = 0;
	e.expires = strtol(exp, &end, 10);
	if (*end != '\0' || end == exp || e.expires < 0 || errno == ERANGE)
		return;
	if (jail && strlen(jail) >= sizeof(e.jail))
		return;		/* never truncated into another jail's name */
	str_copy(e.jail, sizeof(e.jail), jail ? jail : "-");
	if (b->n == *cap) {
		*cap = *cap ? 2 * *cap : 64;
		b->e = xrealloc(b->e, *cap * sizeof(*b->e));
	}
	b->e[b->n++] = e;
}

/* Re-read the file if it changed since the last look. */
static void refresh(struct banfile *b)
{
	struct stat st;
	if (fstatat(b->dirfd, b->name, &st, 0) < 0) {
		b->n = 0;	/* no file: no bans */
		b->seen = 0;
		return;
	}
	if (b->seen && st.st_ino == b->ino && st.st_dev == b->dev && st.st_size == b->size &&
	    st.st_mtim.tv_sec == b->mtime.tv_sec && st.st_mtim.tv_nsec == b->mtime.tv_nsec)
		return;
	int fd = openat(b->dirfd, b->name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;		/* keep what we had */
	if (fstat(fd, &st) < 0 || st.st_size > BANFILE_MAX) {
		close(fd);
		return;
	}
	FILE *fp = fdopen(fd, "r");
	if (fp == NULL) {
		close(fd);
		return;
	}
	b->n = 0;
	size_t cap = 0;
	free(b->e);
	b->e = NULL;
	/* A line that does not fit in line[] is skipped whole: its tail must
	 * never be read as a line of its own. Only the size seen by fstat
	 * is read. */
	char line[512];
	off_t left = st.st_size;
	int skipping = 0;
	while (left > 0 && fgets(line, sizeof(line), fp)) {
		size_t len = strlen(line);
		if ((off_t)len > left)
			break;
		left -= (off_t)len;
		int whole = len > 0 && line[len - 1] == '\n';
		if (whole)
			line[len - 1] = '\0';
		if (!skipping && (whole || left == 0))
			parse_line(b, line, &cap);
		skipping = !whole;
	}
	fclose(fp);
	b->dev = st.st_dev;
	b->ino = st.st_ino;
	b->size = st.st_size;
	b->mtime = st.st_mtim;
	b->seen = 1;
}

int banfile_check(struct banfile *b, const char *addr, long now, char *jail, size_t jlen)
{
	struct net a;
	if (b == NULL || net_parse(addr, &a) < 0)
		return 0;
	refresh(b);
	for (size_t i = 0; i < b->n; i++) {
		const struct banfile_entry *e = &b->e[i];
		if ((e->expires == 0 || e->expires > now) && net_contains(&e->net, &a)) {
			if (jail && jlen)
				str_copy(jail, jlen, e->jail);
			return 1;
		}
	}
	return 0;
}

size_t banfile_count(struct banfile *b)
{
	refresh(b);
	return b->n;
}

void banfile_close(struct banfile *b)
{
	if (b == NULL)
		return;
	close(b->dirfd);
	free(b->name);
	free(b->e);
	free(b);
}
