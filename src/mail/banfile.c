/*
 * banfile — the journal's writer (see banfile.h): a whole new file at
 * start, reload and compaction, one appended line per ban or unban in
 * between. An append is one write(2) of a whole line to an O_APPEND fd
 * kept from the compaction that made the file (never re-opened by name,
 * so never through a planted link); a short or failed write closes it,
 * and the caller's next reset replaces the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "mail/banfile.h"

/* Write e into a new temp file and rename it to name; if keep, *keep
 * gets a descriptor of the new file, positioned for appends. */
static int write_whole(int dirfd, const char *name, const struct banfile_entry *e, size_t n,
    int *keep)
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
	int kfd = -1;
	FILE *fp = NULL;
	/* the warden's umask is 077: the engine reads it */
	if (fchmod(fd, 0644) < 0 || (keep && (kfd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0) ||
	    (fp = fdopen(fd, "w")) == NULL) {
		int e2 = errno;
		close(fd);
		if (kfd >= 0)
			close(kfd);
		unlinkat(dirfd, tmp, 0);
		errno = e2;
		return -1;
	}
	fprintf(fp, "# mailwarden bans: network expires(unix, 0=forever) jail; - network jail\n");
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
		if (kfd >= 0)
			close(kfd);
		errno = e2;
		return -1;
	}
	if (keep) {
		int fl = fcntl(kfd, F_GETFL);
		if (fl < 0 || fcntl(kfd, F_SETFL, fl | O_APPEND) < 0) {
			e2 = errno;
			close(kfd);
			errno = e2;
			return -1;
		}
		*keep = kfd;
	}
	return 0;
}

int banfile_write(int dirfd, const char *name, const struct banfile_entry *e, size_t n)
{
	return write_whole(dirfd, name, e, n, NULL);
}

struct banfile_writer {
	int dirfd;
	char *name;
	int fd;			/* the journal, O_APPEND; -1 until a reset works */
	size_t records;		/* ban lines in it (additions and ends) */
};

struct banfile_writer *banfile_writer_new(int dirfd, const char *name)
{
	int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	struct banfile_writer *w = xcalloc(1, sizeof(*w));
	w->dirfd = fd;
	w->name = xstrdup(name);
	w->fd = -1;
	return w;
}

int banfile_writer_reset(struct banfile_writer *w, const struct banfile_entry *e, size_t n)
{
	int fd = -1;
	if (write_whole(w->dirfd, w->name, e, n, &fd) < 0)
		return -1;
	if (w->fd >= 0)
		close(w->fd);
	w->fd = fd;
	w->records = n;
	return 0;
}

/* Append one line; a failure closes the journal until the next reset. */
static int append(struct banfile_writer *w, const char *line, int len)
{
	if (w->fd < 0) {
		errno = EBADF;
		return -1;
	}
	if (len <= 0 || len > BANFILE_LINE_MAX) {
		errno = EINVAL;
		return -1;
	}
	ssize_t r = write(w->fd, line, (size_t)len);
	if (r != len) {
		int e2 = r < 0 ? errno : EIO;
		close(w->fd);
		w->fd = -1;
		errno = e2;
		return -1;
	}
	w->records++;
	return 0;
}

int banfile_writer_add(struct banfile_writer *w, const struct banfile_entry *e)
{
	char net[NET_STRLEN], line[BANFILE_LINE_MAX + 1];
	if (net_format(&e->net, 1, net, sizeof(net)) < 0) {
		errno = EINVAL;
		return -1;
	}
	int len = snprintf(line, sizeof(line), "%s %ld %s\n", net, e->expires,
	    *e->jail ? e->jail : "-");
	return append(w, line, len);
}

int banfile_writer_del(struct banfile_writer *w, const struct net *n, const char *jail)
{
	char net[NET_STRLEN], line[BANFILE_LINE_MAX + 1];
	if (net_format(n, 1, net, sizeof(net)) < 0) {
		errno = EINVAL;
		return -1;
	}
	int len = snprintf(line, sizeof(line), "- %s %s\n", net, jail && *jail ? jail : "-");
	return append(w, line, len);
}

int banfile_writer_full(const struct banfile_writer *w, size_t live)
{
	return w->fd < 0 || w->records > 2 * live;
}

void banfile_writer_free(struct banfile_writer *w)
{
	if (w == NULL)
		return;
	if (w->fd >= 0)
		close(w->fd);
	close(w->dirfd);
	free(w->name);
	free(w);
}
