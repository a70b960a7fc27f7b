/*
 * follow — log files followed with inotify or stat polling, for the ban
 * engine. Each followed path has a current source (the file now at the
 * path) and, after a rotation by rename or unlink, an old one that is
 * still read to its end for FOLLOW_OLD_GRACE_MS after its last write, so
 * lines a daemon writes before reopening its log are not lost. A file
 * shorter than what was read (copytruncate) is read again from 0. Reading
 * is bounded per file and loop turn; the rest waits for loop_at_idle.
 * A one-second tick re-checks every file (the polling backend, missing
 * directories, glob patterns in a directory part) and saves positions.
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/util.h"
#include "warden/source/follow.h"
#include "warden/store/store.h"

#define RBUF_SIZE	(64 * 1024)	/* one read() */
#define TURN_BUDGET	(256 * 1024)	/* bytes per file and loop turn */
#define TICK_MS		1000
#define FOLLOW_OLD_GRACE_MS 5000	/* keep reading a rotated file this long */
#define HASH_MAX	4096		/* first-line hash covers at most this */
#define HASH_KEY	"firstline-hash:"	/* logpos row holding the hash */
#define IN_FILE_MASK	(IN_MODIFY | IN_MOVE_SELF | IN_DELETE_SELF | IN_ATTRIB)
#define IN_DIR_MASK	(IN_CREATE | IN_MOVED_TO)

enum start { START_RESUME, START_ZERO };

/* One open file (inode). */
struct src {
	int fd, wd;
	dev_t dev;
	ino_t ino;
	off_t off;		/* bytes read */
	off_t done;		/* end of the last complete line */
	struct buf part;	/* partial line */
	int skipping;		/* in the rest of a cut line */
	uint64_t last;		/* old source: clock_mono_ms() of its last data */
};

struct pat {
	char *pattern;
	char *dir, *base;	/* split when the directory has no wildcard */
	char *prefix;		/* the pattern up to its last '/', or "" */
	int tail, poll, glob;
	int dirwd;		/* inotify watch on dir, -1 if none */
};

struct ffile {
	char *path;
	struct pat *pat;
	struct src cur, old;
	int pending;		/* needs a look this turn */
	int dirty;		/* position changed since saved */
	uint64_t hash;		/* of cur's first line, once known */
	int hashed;
};

struct follower {
	struct store *st;
	follow_line_fn *fn;
	void *arg;
	int ifd;
	struct pat **pats;
	size_t npats;
	struct ffile **files;
	size_t nfiles;
	const char **paths;
	struct loop_timer tick;
	unsigned long cut;
	char *rbuf;
};

static void on_idle(void *arg);

static void src_init(struct src *s)
{
	memset(s, 0, sizeof(*s));
	s->fd = s->wd = -1;
	buf_init(&s->part, FOLLOW_LINE_MAX);
}

static void src_close(struct follower *f, struct src *s)
{
	if (s->wd >= 0 && f->ifd >= 0)
		inotify_rm_watch(f->ifd, s->wd);	/* EINVAL if already gone */
	if (s->fd >= 0)
		close(s->fd);
	s->fd = s->wd = -1;
	buf_reset(&s->part);
	s->skipping = 0;
}

/* Hand one line to the callback; line[len] may be overwritten. */
static void deliver(struct follower *f, struct ffile *ff, char *line, size_t len)
{
	if (len > 0 && line[len - 1] == '\r')
		len--;
	line[len] = '\0';
	f->fn(f->arg, ff->path, line, len);
}

static void cut_line(struct follower *f, struct ffile *ff, struct src *s)
{
	if (f->cut++ == 0 || f->cut % 1000 == 0)
		log_warn("%s: line longer than %d bytes cut (%lu so far)", ff->path,
		    FOLLOW_LINE_MAX, f->cut);
	deliver(f, ff, s->part.data, s->part.len);
	buf_reset(&s->part);
	s->skipping = 1;
}

/* Split n bytes read at offset base into lines; p[n] must be writable. */
static void scan(struct follower *f, struct ffile *ff, struct src *s, char *p, size_t n,
    off_t base)
{
	size_t i = 0;
	while (i < n) {
		char *nl = memchr(p + i, '\n', n - i);
		size_t end = nl ? (size_t)(nl - p) : n, len = end - i;
		if (s->skipping) {
			;	/* the rest of a cut line is dropped */
		} else if (s->part.len == 0 && nl && len <= FOLLOW_LINE_MAX) {
			deliver(f, ff, p + i, len);
		} else {
			size_t room = FOLLOW_LINE_MAX - s->part.len;
			size_t take = len < room ? len : room;
			buf_append(&s->part, p + i, take);	/* fits: take <= room */
			if (take < len)
				cut_line(f, ff, s);
			else if (nl) {
				deliver(f, ff, s->part.data, s->part.len);
				buf_reset(&s->part);
			}
		}
		if (nl == NULL)
			break;
		s->skipping = 0;
		s->done = base + (off_t)end + 1;
		if (s == &ff->cur)
			ff->dirty = 1;
		i = end + 1;
	}
}

/* Read up to budget bytes (unbounded if 0). 1 if more may be waiting. */
static int src_read(struct follower *f, struct ffile *ff, struct src *s, size_t budget)
{
	size_t got = 0;
	while (s->fd >= 0 && (budget == 0 || got < budget)) {
		ssize_t n = read(s->fd, f->rbuf, RBUF_SIZE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errno != EAGAIN)
				log_error("read %s: %s", ff->path, strerror(errno));
			return 0;
		}
		if (n == 0)
			return 0;
		off_t base = s->off;
		s->off += n;
		s->last = clock_mono_ms();
		got += (size_t)n;
		scan(f, ff, s, f->rbuf, (size_t)n, base);
	}
	return s->fd >= 0;
}

/* FNV-1a of the file's first line (at most HASH_MAX bytes); 0 if none. */
static int first_line_hash(int fd, uint64_t *h)
{
	char b[HASH_MAX];
	ssize_t n = pread(fd, b, sizeof(b), 0);
	if (n <= 0)
		return 0;
	char *nl = memchr(b, '\n', (size_t)n);
	if (nl == NULL && n < (ssize_t)sizeof(b))
		return 0;	/* first line not complete yet */
	size_t len = nl ? (size_t)(nl - b) + 1 : (size_t)n;
	uint64_t x = 14695981039346656037ULL;
	for (size_t i = 0; i < len; i++)
		x = (x ^ (unsigned char)b[i]) * 1099511628211ULL;
	*h = x & INT64_MAX;	/* fits SQLite's signed integer */
	return 1;
}

/* Where a file present at start resumes: saved position if it is still
 * the same file (inode, not shorter, same first line), else 0 or end. */
static off_t resume_at(struct follower *f, struct ffile *ff, const struct stat *sb)
{
	if (ff->pat->tail)
		return sb->st_size;
	unsigned long long ino, off, h, hlen;
	if (f->st == NULL || store_logpos_get(f->st, ff->path, &ino, &off) != 1)
		return 0;
	if (ino != (unsigned long long)sb->st_ino || off > (unsigned long long)sb->st_size)
		return 0;
	char key[PATH_MAX + 32];
	if (snprintf(key, sizeof(key), "%s%s", HASH_KEY, ff->path) >= (int)sizeof(key))
		return 0;
	if (off > 0 && store_logpos_get(f->st, key, &h, &hlen) == 1) {
		uint64_t now;
		if (!first_line_hash(ff->cur.fd, &now) || now != h)
			return 0;
	}
	return (off_t)off;
}

static void file_rotated(struct follower *f, struct ffile *ff);

/* A file that appears at a new path may be one already being read under
 * another (mail.log renamed to mail.log.1 with logpath mail.log*): the
 * new path takes it over where the other stopped, so no line is seen
 * twice. The offset to start at, 0 if the inode is not being read. */
static off_t take_over(struct follower *f, struct ffile *self, dev_t dev, ino_t ino)
{
	for (size_t i = 0; i < f->nfiles; i++) {
		struct ffile *o = f->files[i];
		if (o == self)
			continue;
		struct src *s = o->cur.fd >= 0 && o->cur.dev == dev && o->cur.ino == ino ?
		    &o->cur : o->old.fd >= 0 && o->old.dev == dev && o->old.ino == ino ?
		    &o->old : NULL;
		if (s == NULL)
			continue;
		struct stat pb;
		if (s == &o->cur && stat(o->path, &pb) == 0 && pb.st_dev == dev &&
		    pb.st_ino == ino)
			return s->done;		/* a hard link: both read it */
		if (s == &o->cur) {
			file_rotated(f, o);
			s = &o->old;
		}
		off_t at = s->done;
		src_close(f, s);
		o->pending = 1;
		return at;
	}
	return 0;
}

/* Open the file now at ff->path as the current source. */
static int file_open(struct follower *f, struct ffile *ff, enum start how)
{
	struct src *s = &ff->cur;
	struct stat sb;
	int fd = open(ff->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &sb) < 0 || S_ISDIR(sb.st_mode)) {
		int e = S_ISDIR(sb.st_mode) ? EISDIR : errno;
		close(fd);
		errno = e;
		return -1;
	}
	s->fd = fd;
	s->dev = sb.st_dev;
	s->ino = sb.st_ino;
	ff->hashed = 0;
	off_t at = how == START_RESUME ? resume_at(f, ff, &sb) :
	    take_over(f, ff, sb.st_dev, sb.st_ino);
	if (at > 0 && lseek(fd, at, SEEK_SET) < 0) {
		log_error("lseek %s: %s", ff->path, strerror(errno));
		at = 0;
	}
	s->off = s->done = at;
	if (!ff->pat->poll && f->ifd >= 0) {
		s->wd = inotify_add_watch(f->ifd, ff->path, IN_FILE_MASK);
		if (s->wd < 0)
			log_warn("inotify %s: %s; polling it", ff->path, strerror(errno));
		else if (s->wd == ff->old.wd)
			ff->old.wd = -1;	/* same inode again: one watch */
	}
	ff->dirty = 1;
	log_info("following %s from offset %lld", ff->path, (long long)at);
	return 0;
}

/* The current source was moved away or unlinked: keep it as old. */
static void file_rotated(struct follower *f, struct ffile *ff)
{
	if (ff->old.fd >= 0) {		/* a second rotation meanwhile */
		src_read(f, ff, &ff->old, 0);
		src_close(f, &ff->old);
	}
	struct buf b = ff->old.part;
	ff->old = ff->cur;
	ff->old.last = clock_mono_ms();
	ff->cur.part = b;
	ff->cur.fd = ff->cur.wd = -1;
	ff->cur.skipping = 0;
	log_info("%s: rotated", ff->path);
}

/* Close the old source once it has been quiet long enough; a final
 * unterminated line is delivered, it can no longer be completed. */
static void old_expire(struct follower *f, struct ffile *ff)
{
	struct src *o = &ff->old;
	if (o->fd < 0 || clock_mono_ms() - o->last < FOLLOW_OLD_GRACE_MS)
		return;
	src_read(f, ff, o, 0);
	if (o->part.len > 0 && !o->skipping)
		deliver(f, ff, o->part.data, o->part.len);
	src_close(f, o);
}

/* Look at one file: old source first, truncation, rotation, new data.
 * 1 if its budget ran out with data left. */
static int file_check(struct follower *f, struct ffile *ff, size_t budget)
{
	struct stat sb, pb;
	int more = 0;
	if (ff->old.fd >= 0)
		more |= src_read(f, ff, &ff->old, budget);
	if (ff->cur.fd < 0) {
		if (file_open(f, ff, START_ZERO) < 0)
			return more;
	}
	struct src *s = &ff->cur;
	if (fstat(s->fd, &sb) == 0 && sb.st_size < s->off) {
		log_info("%s: truncated, reading from the start", ff->path);
		if (lseek(s->fd, 0, SEEK_SET) < 0)
			log_error("lseek %s: %s", ff->path, strerror(errno));
		s->off = s->done = 0;
		buf_reset(&s->part);
		s->skipping = 0;
		ff->hashed = 0;
		ff->dirty = 1;
	}
	more |= src_read(f, ff, s, budget);
	if (stat(ff->path, &pb) < 0 || pb.st_ino != s->ino || pb.st_dev != s->dev) {
		file_rotated(f, ff);
		if (file_open(f, ff, START_ZERO) == 0)
			more |= src_read(f, ff, &ff->cur, budget);
	}
	return more;
}

static struct ffile *file_find(struct follower *f, const char *path)
{
	for (size_t i = 0; i < f->nfiles; i++)
		if (strcmp(f->files[i]->path, path) == 0)
			return f->files[i];
	return NULL;
}

/* Start following path (from pattern p); how: at start or appeared later. */
static struct ffile *file_add(struct follower *f, struct pat *p, const char *path,
    enum start how)
{
	struct ffile *ff = file_find(f, path);
	if (ff)
		return ff;
	ff = xcalloc(1, sizeof(*ff));
	ff->path = xstrdup(path);
	ff->pat = p;
	src_init(&ff->cur);
	src_init(&ff->old);
	f->files = xrealloc(f->files, (f->nfiles + 1) * sizeof(*f->files));
	f->files[f->nfiles++] = ff;
	if (file_open(f, ff, how) < 0) {
		if (errno == ENOENT)
			log_warn("%s: no such file now; the jail reads its other log paths"
			    " and this one when it appears", path);
		else
			log_warn("%s: %s; will retry every second", path, strerror(errno));
	}
	ff->pending = 1;
	loop_at_idle(on_idle, f);
	return ff;
}

/* Expand a glob pattern; new matches are added. */
static void pat_expand(struct follower *f, struct pat *p, enum start how)
{
	glob_t g;
	int rc = glob(p->pattern, GLOB_NOSORT, NULL, &g);
	if (rc == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++) {
			struct stat sb;
			if (stat(g.gl_pathv[i], &sb) == 0 && S_ISREG(sb.st_mode))
				file_add(f, p, g.gl_pathv[i], how);
		}
	} else if (rc != GLOB_NOMATCH) {
		log_warn("glob %s: error %d", p->pattern, rc);
	}
	globfree(&g);
}

static void pat_watch_dir(struct follower *f, struct pat *p)
{
	if (p->poll || p->dir == NULL || p->dirwd >= 0 || f->ifd < 0)
		return;
	p->dirwd = inotify_add_watch(f->ifd, p->dir, IN_DIR_MASK | IN_ONLYDIR);
}

/* Look at pending files once, each within its budget (0: unbounded). */
static int run_pending(struct follower *f, size_t budget)
{
	int more = 0;
	for (size_t i = 0; i < f->nfiles; i++) {
		struct ffile *ff = f->files[i];
		if (!ff->pending)
			continue;
		ff->pending = file_check(f, ff, budget);
	}
	for (size_t i = 0; i < f->nfiles; i++)	/* take_over() may set others */
		more |= f->files[i]->pending;
	return more;
}

static void on_idle(void *arg)
{
	struct follower *f = arg;
	if (run_pending(f, TURN_BUDGET))
		loop_at_idle(on_idle, f);
}

static void schedule(struct follower *f)
{
	if (run_pending(f, TURN_BUDGET))
		loop_at_idle(on_idle, f);
}

/* A new name in a watched directory. */
static void dir_event(struct follower *f, int wd, const char *name)
{
	char path[PATH_MAX];
	for (size_t i = 0; i < f->npats; i++) {
		struct pat *p = f->pats[i];
		if (p->dirwd != wd || fnmatch(p->base, name, FNM_PERIOD) != 0)
			continue;
		if (snprintf(path, sizeof(path), "%s%s", p->prefix, name) >= (int)sizeof(path))
			continue;
		struct stat sb;
		if (stat(path, &sb) < 0 || !S_ISREG(sb.st_mode))
			continue;
		struct ffile *ff = file_find(f, path);
		if (ff == NULL)
			ff = file_add(f, p, path, START_ZERO);
		ff->pending = 1;
	}
}

static void on_inotify(int fd, int events, void *arg)
{
	struct follower *f = arg;
	char b[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	for (;;) {
		ssize_t n = read(fd, b, sizeof(b));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN)
				log_error("inotify read: %s", strerror(errno));
			break;
		}
		for (char *p = b; p < b + n; ) {
			struct inotify_event *ev = (struct inotify_event *)(void *)p;
			p += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				for (size_t i = 0; i < f->nfiles; i++)
					f->files[i]->pending = 1;
				continue;
			}
			if ((ev->mask & IN_DIR_MASK) && ev->len > 0) {
				dir_event(f, ev->wd, ev->name);
				continue;
			}
			for (size_t i = 0; i < f->nfiles; i++) {
				struct ffile *ff = f->files[i];
				struct src *s = ff->cur.wd == ev->wd ? &ff->cur :
				    ff->old.wd == ev->wd ? &ff->old : NULL;
				if (s == NULL)
					continue;
				ff->pending = 1;
				if (ev->mask & IN_IGNORED)
					s->wd = -1;	/* the kernel dropped it */
			}
			for (size_t i = 0; i < f->npats; i++)
				if ((ev->mask & IN_IGNORED) && f->pats[i]->dirwd == ev->wd)
					f->pats[i]->dirwd = -1;
		}
	}
	schedule(f);
}

/* Once a second: every file is looked at (polling, and a safety net for
 * inotify), globs re-expanded, quiet old sources closed, positions saved. */
static void on_tick(void *arg)
{
	struct follower *f = arg;
	for (size_t i = 0; i < f->npats; i++) {
		struct pat *p = f->pats[i];
		pat_watch_dir(f, p);
		if (p->glob)
			pat_expand(f, p, START_ZERO);
	}
	for (size_t i = 0; i < f->nfiles; i++) {
		f->files[i]->pending = 1;
		old_expire(f, f->files[i]);
	}
	schedule(f);
	follow_save(f);
	loop_timer_set(&f->tick, TICK_MS, on_tick, f);
}

struct follower *follow_new(struct store *st, follow_line_fn *fn, void *arg)
{
	struct follower *f = xcalloc(1, sizeof(*f));
	f->st = st;
	f->fn = fn;
	f->arg = arg;
	f->rbuf = xmalloc(RBUF_SIZE + 1);
	f->tick.slot = (size_t)-1;
	f->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (f->ifd < 0)
		log_warn("inotify_init1: %s; polling log files", strerror(errno));
	else
		loop_watch(f->ifd, LOOP_READ, on_inotify, f);
	loop_timer_set(&f->tick, TICK_MS, on_tick, f);
	return f;
}

int follow_add(struct follower *f, const char *pattern, int tail, int poll,
    char *err, size_t errlen)
{
	size_t len = strlen(pattern);
	if (len == 0 || len >= PATH_MAX - 1 || strchr(pattern, '\n')) {
		snprintf(err, errlen, "bad log path \"%.100s\"", pattern);
		return -1;
	}
	struct stat sb;
	if (stat(pattern, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "%s: is a directory", pattern);
		return -1;
	}
	struct pat *p = xcalloc(1, sizeof(*p));
	p->pattern = xstrdup(pattern);
	p->tail = tail;
	p->poll = poll || f->ifd < 0;
	p->glob = strpbrk(pattern, "*?[") != NULL;
	p->dirwd = -1;
	const char *slash = strrchr(pattern, '/');
	p->dir = slash == NULL ? xstrdup(".") : slash == pattern ? xstrdup("/") :
	    xstrndup(pattern, (size_t)(slash - pattern));
	p->base = xstrdup(slash ? slash + 1 : pattern);
	p->prefix = xstrndup(pattern, slash ? (size_t)(slash - pattern) + 1 : 0);
	if (strpbrk(p->dir, "*?[")) {		/* found by the tick's glob */
		free(p->dir);
		p->dir = NULL;
	}
	f->pats = xrealloc(f->pats, (f->npats + 1) * sizeof(*f->pats));
	f->pats[f->npats++] = p;
	pat_watch_dir(f, p);
	if (!p->glob) {
		file_add(f, p, pattern, START_RESUME);
	} else {
		size_t before = f->nfiles;
		pat_expand(f, p, START_RESUME);
		if (f->nfiles == before)
			log_warn("%s: no file matches now; the jail reads its other log paths"
			    " and files that match later", pattern);
	}
	return 0;
}

size_t follow_existing(const char *pattern)
{
	glob_t g;
	size_t n = 0;
	if (glob(pattern, GLOB_NOSORT, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++) {
			struct stat sb;
			if (stat(g.gl_pathv[i], &sb) < 0)
				log_warn("File %s is a dangling link, thus cannot be monitored",
				    g.gl_pathv[i]);
			else if (!S_ISDIR(sb.st_mode))
				n++;
		}
	}
	globfree(&g);
	return n;
}

void follow_poll(struct follower *f)
{
	for (size_t i = 0; i < f->npats; i++)
		if (f->pats[i]->glob)
			pat_expand(f, f->pats[i], START_ZERO);
	for (size_t i = 0; i < f->nfiles; i++)
		f->files[i]->pending = 1;
	while (run_pending(f, 0))
		;
}

void follow_save(struct follower *f)
{
	size_t dirty = 0;
	for (size_t i = 0; i < f->nfiles; i++)
		dirty += f->files[i]->dirty && f->files[i]->cur.fd >= 0;
	if (f->st == NULL || dirty == 0)
		return;
	int tx = store_begin(f->st) == 0;
	for (size_t i = 0; i < f->nfiles; i++) {
		struct ffile *ff = f->files[i];
		struct src *s = &ff->cur;
		if (!ff->dirty || s->fd < 0)
			continue;
		if (store_logpos_set(f->st, ff->path, (unsigned long long)s->ino,
		    (unsigned long long)s->done) < 0) {
			log_error("saving position of %s: %s", ff->path, store_error(f->st));
			continue;
		}
		if (!ff->hashed && s->done > 0)
			ff->hashed = first_line_hash(s->fd, &ff->hash);
		char key[PATH_MAX + 32];
		if (ff->hashed && snprintf(key, sizeof(key), "%s%s", HASH_KEY, ff->path) <
		    (int)sizeof(key) && store_logpos_set(f->st, key, ff->hash, 0) < 0)
			log_error("saving hash of %s: %s", ff->path, store_error(f->st));
		ff->dirty = 0;
	}
	if (tx && store_commit(f->st) < 0)
		log_error("saving log positions: %s", store_error(f->st));
}

int follow_busy(const struct follower *f)
{
	for (size_t i = 0; i < f->nfiles; i++)
		if (f->files[i]->pending)
			return 1;
	return 0;
}

size_t follow_files(struct follower *f, const char ***paths)
{
	free(f->paths);
	f->paths = xcalloc(f->nfiles + 1, sizeof(*f->paths));
	for (size_t i = 0; i < f->nfiles; i++)
		f->paths[i] = f->files[i]->path;
	*paths = f->paths;
	return f->nfiles;
}

unsigned long follow_cut_lines(const struct follower *f)
{
	return f->cut;
}

void follow_free(struct follower *f)
{
	if (f == NULL)
		return;
	follow_save(f);
	loop_timer_clear(&f->tick);
	loop_cancel_idle(on_idle, f);
	for (size_t i = 0; i < f->nfiles; i++) {
		struct ffile *ff = f->files[i];
		src_close(f, &ff->cur);
		src_close(f, &ff->old);
		buf_free(&ff->cur.part);
		buf_free(&ff->old.part);
		free(ff->path);
		free(ff);
	}
	for (size_t i = 0; i < f->npats; i++) {
		free(f->pats[i]->pattern);
		free(f->pats[i]->dir);
		free(f->pats[i]->base);
		free(f->pats[i]->prefix);
		free(f->pats[i]);
	}
	if (f->ifd >= 0) {
		loop_unwatch(f->ifd);
		close(f->ifd);
	}
	free(f->files);
	free(f->pats);
	free(f->paths);
	free(f->rbuf);
	free(f);
}
