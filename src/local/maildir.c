/*
 * maildir — batched Maildir delivery (see maildir.h for the protocol).
 * File names are Dovecot-style: tmp/SEC.M<usec>P<pid>Q<n>.HOST, renamed
 * to new/SEC.M<usec>P<pid>Q<n>.HOST,S=<size>. Missing Maildir directories
 * (the path and cur/ new/ tmp/) are created mode 0700 as the owner.
 * Every failure here is temporary for the caller (deferred, retried).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "local/maildir.h"

#define MD_SMALL_BODY	(64 * 1024)	/* bodies up to this go in one write */
#define MD_NAME_MAX	256

enum md_state { MD_TMP, MD_NEW, MD_FAILED };

struct md_dir {
	char *path;		/* the Maildir, ending in '/' */
	long uid, gid;
	int tmpfd, newfd;	/* its tmp/ and new/ directories */
	dev_t dev;
};

struct md_item {
	size_t dir;
	enum md_state state;
	char name[MD_NAME_MAX];		/* under tmp/ */
	char newname[MD_NAME_MAX + 32];	/* under new/ */
	char why[512];
};

struct maildir_batch {
	struct md_dir *dirs;
	size_t ndirs, dircap;
	struct md_item *items;
	size_t nitems, itemcap;
};

/* ---- credentials: the fs uid/gid of the mailbox owner ---- */

static long cur_uid = -1, cur_gid = -1;	/* switched-to identity, -1 = self */
static gid_t *self_groups;
static int self_ngroups = -1;

static void as_self(void)
{
	if (cur_uid == -1 && cur_gid == -1)
		return;
	setfsuid(geteuid());
	setfsgid(getegid());
	if (self_ngroups >= 0 && setgroups((size_t)self_ngroups, self_groups) < 0)
		fatal("setgroups (restore): %s", strerror(errno));
	cur_uid = cur_gid = -1;
}

/* Act as uid/gid for file operations; -1 with a reason if impossible.
 * Needs root or CAP_SETUID+CAP_SETGID (the master leaves the queue
 * process those two) unless the owner is this process's own uid. */
static int as_user(long uid, long gid, char *why, size_t whylen)
{
	uid_t euid = geteuid();
	gid_t egid = getegid();

	if (uid < 0 || (uid_t)uid == euid) {
		if (gid < 0 || (gid_t)gid == egid || (gid == cur_gid && uid == cur_uid)) {
			if (gid < 0 || (gid_t)gid == egid)
				as_self();
			return 0;
		}
		/* Our own uid, another group: use it if we may, else ours. */
		as_self();
		setfsgid((gid_t)gid);
		if ((gid_t)setfsgid((gid_t)-1) == (gid_t)gid) {
			cur_uid = uid;
			cur_gid = gid;
		}
		return 0;
	}
	if (uid == cur_uid && gid == cur_gid)
		return 0;
	if (self_ngroups < 0) {
		int n = getgroups(0, NULL);
		if (n < 0)
			fatal("getgroups: %s", strerror(errno));
		self_groups = xcalloc((size_t)n + 1, sizeof(gid_t));
		if ((n = getgroups(n, self_groups)) < 0)
			fatal("getgroups: %s", strerror(errno));
		self_ngroups = n;
	}
	gid_t g = gid >= 0 ? (gid_t)gid : egid;
	uid_t u = (uid_t)uid;
	if (setgroups(1, &g) < 0) {
		if (errno == EPERM)
			snprintf(why, whylen, "cannot deliver as uid %ld when not running as root", uid);
		else
			snprintf(why, whylen, "setgroups(%ld): %s", (long)g, strerror(errno));
		return -1;
	}
	cur_uid = uid;
	cur_gid = gid;
	setfsgid(g);
	setfsuid(u);
	/* setfsuid() reports no errors: read the values back. */
	if ((uid_t)setfsuid((uid_t)-1) != u || (gid_t)setfsgid((gid_t)-1) != g) {
		as_self();
		snprintf(why, whylen, "cannot deliver as uid %ld when not running as root", uid);
		return -1;
	}
	return 0;
}

/* ---- names ---- */

static const char *host_part(void)
{
	static char host[128];
	char raw[64];

	if (host[0])
		return host;
	if (gethostname(raw, sizeof(raw)) < 0)
		str_copy(raw, sizeof(raw), "localhost");
	raw[sizeof(raw) - 1] = '\0';
	size_t o = 0;
	for (const char *p = raw; *p && o + 5 < sizeof(host); p++) {
		/* Maildir: '/' and ':' (and Dovecot's ',') are escaped as \ooo. */
		if (*p == '/' || *p == ':' || *p == ',') {
			snprintf(host + o, sizeof(host) - o, "\\%03o", (unsigned char)*p);
			o += 4;
		} else {
			host[o++] = *p;
		}
	}
	host[o] = '\0';
	return host;
}

static void unique_name(char *name, size_t len)
{
	static unsigned long seq;
	struct timeval tv;

	gettimeofday(&tv, NULL);
	snprintf(name, len, "%ld.M%06ldP%ldQ%lu.%s", (long)tv.tv_sec, (long)tv.tv_usec,
	    (long)getpid(), ++seq, host_part());
}

/* ---- directories ---- */

/* mkdir -p path (mode 0700 for what we create). */
static int mkdir_p(const char *path)
{
	char tmp[4096];

	if (str_copy(tmp, sizeof(tmp), path) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *p = tmp + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
			return -1;
		*p = c;
		if (c == '\0' || p[1] == '\0')
			break;
	}
	return 0;
}

/* dfd's subdirectory sub, not through a symlink; created 0700 if missing. */
static int open_dir_at(int dfd, const char *sub, int create)
{
	int fd = openat(dfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && create) {
		if (mkdirat(dfd, sub, 0700) < 0 && errno != EEXIST)
			return -1;
		fd = openat(dfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	return fd;
}

static void dir_err(char *why, size_t whylen, const char *what, const char *path,
    const char *sub, int err)
{
	if (err == ELOOP || err == ENOTDIR)
		snprintf(why, whylen, "%s %s%s: a symlink or not a directory", what, path, sub);
	else
		snprintf(why, whylen, "%s %s%s: %s", what, path, sub, strerror(err));
}

/* The Maildir base/rel opened as a directory fd: base is trusted (the
 * configuration's path, a home directory: symlinks followed, created with
 * mkdir -p when rel is empty); every component of rel is walked with
 * O_NOFOLLOW and created 0700 if missing, and the Maildir must then be
 * owned by fsuid (when fsuid >= 0). -1 with why. */
static int open_maildir(const char *base, const char *rel, const char *path, long fsuid,
    char *why, size_t whylen)
{
	int dfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 && errno == ENOENT && rel[0] == '\0') {
		if (mkdir_p(base) < 0) {
			snprintf(why, whylen, "create maildir %s: %s", path, strerror(errno));
			return -1;
		}
		dfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (dfd < 0) {
		snprintf(why, whylen, "open maildir %s: %s", base, strerror(errno));
		return -1;
	}
	char comp[MD_NAME_MAX];
	for (const char *p = rel; *p; ) {
		size_t n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.')) {
			p += n + (p[n] == '/');
			continue;
		}
		if (n >= sizeof(comp) || (n == 2 && p[0] == '.' && p[1] == '.')) {
			snprintf(why, whylen, "bad maildir path %s", path);
			close(dfd);
			return -1;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		int nfd = open_dir_at(dfd, comp, 1);
		int e = errno;
		close(dfd);
		if (nfd < 0) {
			dir_err(why, whylen, "open maildir", path, "", e);
			return -1;
		}
		dfd = nfd;
		p += n + (p[n] == '/');
	}
	struct stat st;
	if (rel[0] != '\0' && fsuid >= 0 && (fstat(dfd, &st) < 0 || st.st_uid != (uid_t)fsuid)) {
		snprintf(why, whylen, "maildir %s is not owned by uid %ld", path, fsuid);
		close(dfd);
		return -1;
	}
	return dfd;
}

/* The tmp/ and new/ fds of a Maildir, created if missing (as its owner). */
static long dir_get(struct maildir_batch *b, const char *base, const char *rel, long uid,
    long gid, char *why, size_t whylen)
{
	static const char *const subs[] = { "cur", "new", "tmp" };
	char path[4096];
	int n = snprintf(path, sizeof(path), "%s%s%s", base,
	    rel[0] && base[0] && base[strlen(base) - 1] != '/' ? "/" : "", rel);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		snprintf(why, whylen, "maildir path too long");
		return -1;
	}
	for (size_t i = 0; i < b->ndirs; i++)
		if (b->dirs[i].uid == uid && b->dirs[i].gid == gid && strcmp(b->dirs[i].path, path) == 0)
			return (long)i;
	int dfd = open_maildir(base, rel, path, uid >= 0 ? uid : (long)geteuid(), why, whylen);
	if (dfd < 0)
		return -1;
	int fds[3];
	for (size_t i = 0; i < 3; i++) {
		fds[i] = open_dir_at(dfd, subs[i], 1);
		if (fds[i] < 0) {
			dir_err(why, whylen, "open maildir", path, subs[i], errno);
			while (i-- > 0)
				close(fds[i]);
			close(dfd);
			return -1;
		}
	}
	close(dfd);
	close(fds[0]);
	int newfd = fds[1], tmpfd = fds[2];
	struct stat st;
	if (fstat(newfd, &st) < 0) {
		snprintf(why, whylen, "stat maildir %s: %s", path, strerror(errno));
		close(tmpfd);
		close(newfd);
		return -1;
	}
	if (b->ndirs == b->dircap) {
		b->dircap = b->dircap ? b->dircap * 2 : 8;
		b->dirs = xrealloc(b->dirs, b->dircap * sizeof(*b->dirs));
	}
	struct md_dir *d = &b->dirs[b->ndirs];
	d->path = xstrdup(path);
	d->uid = uid;
	d->gid = gid;
	d->tmpfd = tmpfd;
	d->newfd = newfd;
	d->dev = st.st_dev;
	return (long)b->ndirs++;
}

/* ---- writing ---- */

/* Copy len bytes at off of in to out's current position. */
static int copy_body(int out, int in, off_t off, size_t len)
{
	int use_cfr = 1;
	char buf[65536];

	while (len > 0) {
		if (use_cfr) {
			off_t o = off;
			ssize_t k = copy_file_range(in, &o, out, NULL, len, 0);
			if (k > 0) {
				off += k;
				len -= (size_t)k;
				continue;
			}
			if (k == 0) {
				errno = EIO;	/* spool file shorter than its end record */
				return -1;
			}
			if (errno != EXDEV && errno != EINVAL && errno != ENOSYS &&
			    errno != EOPNOTSUPP && errno != EBADF)
				return -1;
			use_cfr = 0;
		}
		ssize_t k = pread(in, buf, len < sizeof(buf) ? len : sizeof(buf), off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			if (k == 0)
				errno = EIO;
			return -1;
		}
		if (fd_write_all(out, buf, (size_t)k) < 0)
			return -1;
		off += k;
		len -= (size_t)k;
	}
	return 0;
}

static int write_msg(int fd, const char *hdr, size_t hlen, int body_fd, off_t body_off,
    size_t body_len)
{
	if (body_len <= MD_SMALL_BODY) {
		char *m = xmalloc(hlen + body_len);
		size_t got = 0;
		memcpy(m, hdr, hlen);
		while (got < body_len) {
			ssize_t k = pread(body_fd, m + hlen + got, body_len - got, body_off + (off_t)got);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) {
				if (k == 0)
					errno = EIO;
				free(m);
				return -1;
			}
			got += (size_t)k;
		}
		int rc = fd_write_all(fd, m, hlen + body_len);
		free(m);
		return rc;
	}
	if (fd_write_all(fd, hdr, hlen) < 0)
		return -1;
	return copy_body(fd, body_fd, body_off, body_len);
}

struct maildir_batch *maildir_batch_new(void)
{
	return xcalloc(1, sizeof(struct maildir_batch));
}

int maildir_add(struct maildir_batch *b, const char *path, long uid, long gid,
    const char *sender, const char *rcpt, int body_fd, off_t body_off,
    size_t body_len, char *why, size_t whylen)
{
	return maildir_add_under(b, path, "", uid, gid, sender, rcpt, body_fd, body_off,
	    body_len, why, whylen);
}

int maildir_add_under(struct maildir_batch *b, const char *base, const char *rel, long uid,
    long gid, const char *sender, const char *rcpt, int body_fd, off_t body_off,
    size_t body_len, char *why, size_t whylen)
{
	char name[MD_NAME_MAX], hdr[2048];
	int hl = snprintf(hdr, sizeof(hdr), "Return-Path: <%s>\nDelivered-To: %s\n",
	    sender ? sender : "", rcpt);

	if (hl < 0 || (size_t)hl >= sizeof(hdr)) {
		snprintf(why, whylen, "address too long");
		return -1;
	}
	if (as_user(uid, gid, why, whylen) < 0)
		return -1;
	long di = dir_get(b, base, rel, uid, gid, why, whylen);
	if (di < 0) {
		as_self();
		return -1;
	}
	struct md_dir *d = &b->dirs[di];
	unique_name(name, sizeof(name));
	int fd = openat(d->tmpfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(why, whylen, "create maildir file %stmp/%s: %s", d->path, name,
		    strerror(errno));
		as_self();
		return -1;
	}
	if (write_msg(fd, hdr, (size_t)hl, body_fd, body_off, body_len) < 0 || close(fd) < 0) {
		int e = errno;
		close(fd);	/* harmless EBADF after a failed close */
		unlinkat(d->tmpfd, name, 0);
		snprintf(why, whylen, "write maildir file %stmp/%s: %s", d->path, name, strerror(e));
		as_self();
		return -1;
	}
	as_self();
	if (b->nitems == b->itemcap) {
		b->itemcap = b->itemcap ? b->itemcap * 2 : 64;
		b->items = xrealloc(b->items, b->itemcap * sizeof(*b->items));
	}
	struct md_item *it = &b->items[b->nitems];
	memset(it, 0, sizeof(*it));
	it->dir = (size_t)di;
	it->state = MD_TMP;
	str_copy(it->name, sizeof(it->name), name);
	snprintf(it->newname, sizeof(it->newname), "%s,S=%zu", name, (size_t)hl + body_len);
	return (int)b->nitems++;
}

static void item_fail(struct maildir_batch *b, struct md_item *it, const char *what, int err)
{
	struct md_dir *d = &b->dirs[it->dir];
	char why[256];

	if (it->state == MD_TMP && as_user(d->uid, d->gid, why, sizeof(why)) == 0)
		unlinkat(d->tmpfd, it->name, 0);
	snprintf(it->why, sizeof(it->why), "%s %s: %s", what, d->path, strerror(err));
	it->state = MD_FAILED;
}

/* One syncfs per file system holding items in state st; failures fail them. */
static void sync_state(struct maildir_batch *b, enum md_state st, const char *what)
{
	dev_t done[16];
	size_t ndone = 0;

	for (size_t i = 0; i < b->nitems; i++) {
		if (b->items[i].state != st)
			continue;
		struct md_dir *d = &b->dirs[b->items[i].dir];
		size_t k;
		for (k = 0; k < ndone; k++)
			if (done[k] == d->dev)
				break;
		if (k < ndone)
			continue;
		if (ndone < sizeof(done) / sizeof(done[0]))
			done[ndone++] = d->dev;
		if (syncfs(d->newfd) == 0)
			continue;
		int e = errno;
		for (size_t j = i; j < b->nitems; j++)
			if (b->items[j].state == st && b->dirs[b->items[j].dir].dev == d->dev)
				item_fail(b, &b->items[j], what, e);
	}
	as_self();
}

size_t maildir_commit(struct maildir_batch *b)
{
	char why[256];
	size_t failed = 0;

	/* 1: the tmp files' data and inodes reach the disk. */
	sync_state(b, MD_TMP, "syncfs (tmp)");
	/* 2: publish them. */
	for (size_t i = 0; i < b->nitems; i++) {
		struct md_item *it = &b->items[i];
		if (it->state != MD_TMP)
			continue;
		struct md_dir *d = &b->dirs[it->dir];
		if (as_user(d->uid, d->gid, why, sizeof(why)) < 0) {
			snprintf(it->why, sizeof(it->why), "%s", why);
			it->state = MD_FAILED;
			continue;
		}
		if (renameat(d->tmpfd, it->name, d->newfd, it->newname) < 0)
			item_fail(b, it, "rename tmp to new in", errno);
		else
			it->state = MD_NEW;
	}
	as_self();
	/* 3: the renames reach the disk; only then may queue files go. */
	sync_state(b, MD_NEW, "syncfs (new)");
	for (size_t i = 0; i < b->nitems; i++)
		if (b->items[i].state != MD_NEW)
			failed++;
	return failed;
}

size_t maildir_count(const struct maildir_batch *b)
{
	return b->nitems;
}

int maildir_ok(const struct maildir_batch *b, size_t i)
{
	return i < b->nitems && b->items[i].state == MD_NEW;
}

const char *maildir_why(const struct maildir_batch *b, size_t i)
{
	return i < b->nitems ? b->items[i].why : "";
}

const char *maildir_name(const struct maildir_batch *b, size_t i)
{
	return i < b->nitems ? b->items[i].newname : "";
}

void maildir_batch_free(struct maildir_batch *b)
{
	char why[256];

	if (b == NULL)
		return;
	for (size_t i = 0; i < b->nitems; i++) {
		struct md_item *it = &b->items[i];
		struct md_dir *d = &b->dirs[it->dir];
		if (it->state == MD_TMP && as_user(d->uid, d->gid, why, sizeof(why)) == 0)
			unlinkat(d->tmpfd, it->name, 0);
	}
	as_self();
	for (size_t i = 0; i < b->ndirs; i++) {
		close(b->dirs[i].tmpfd);
		close(b->dirs[i].newfd);
		free(b->dirs[i].path);
	}
	free(b->dirs);
	free(b->items);
	free(b);
}
