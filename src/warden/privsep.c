/*
 * privsep — the ban engine's privileged set-up, next to the process it is
 * for (see privsep.h): the directories the master makes for it as root,
 * and the privilege drop of the warden and the firewall through
 * common/priv.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "common/priv.h"
#include "common/util.h"
#include "warden/privsep.h"

/* Make directory name in the directory parentfd (shown as path) if
 * missing, owned by uid:gid with mode; everything through fds opened with
 * O_NOFOLLOW, the result checked (a directory, owned by root or uid).
 * 0, or -1 and err. */
static int mkdir_at(int parentfd, const char *name, const char *path, mode_t mode, uid_t uid,
    gid_t gid, char *err, size_t errlen)
{
	struct stat st;
	if (mkdirat(parentfd, name, mode) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "mkdir %s: %s", path, strerror(errno));
		return -1;
	}
	int fd = openat(parentfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "open %s: %s (it must be a directory, not a symbolic link)",
		    path, strerror(errno));
		return -1;
	}
	int rc = -1;
	if (fstat(fd, &st) < 0)
		snprintf(err, errlen, "fstat %s: %s", path, strerror(errno));
	else if (!S_ISDIR(st.st_mode) || (st.st_uid != 0 && st.st_uid != uid))
		snprintf(err, errlen, "%s: not a directory owned by root or uid %d: refusing to "
		    "use it", path, (int)uid);
	else if (geteuid() == 0 && (fchown(fd, uid, gid) < 0 || fchmod(fd, mode) < 0))
		snprintf(err, errlen, "fchown/fchmod %s: %s", path, strerror(errno));
	else
		rc = 0;
	close(fd);
	return rc;
}

/* The directory holding path's last part, opened (its name in name); a
 * relative path is taken from the working directory, as the other paths
 * of the config. As root it must not be writable by any other uid (or a
 * group other than root's). The fd, or -1 and err. */
static int open_parent(const char *key, const char *path, char *name, size_t len, char *err,
    size_t errlen)
{
	char dir[1024];
	struct stat st;
	const char *slash = strrchr(path, '/');	/* relative: to the working directory */
	const char *last = slash ? slash + 1 : path;
	if (*last == '\0' || strcmp(last, ".") == 0 || strcmp(last, "..") == 0 ||
	    str_copy(name, len, last) < 0) {
		snprintf(err, errlen, "%s: %s: not a directory path ending in a name", key, path);
		return -1;
	}
	if (slash == NULL)
		str_copy(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s: open %s: %s", key, dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (geteuid() == 0 && (st.st_uid != 0 || (st.st_mode & S_IWOTH) ||
	    ((st.st_mode & S_IWGRP) && st.st_gid != 0))) {
		snprintf(err, errlen, "%s: %s, the parent of %s, is writable by a user other than "
		    "root: refusing to create it there", key, dir, path);
		close(fd);
		return -1;
	}
	return fd;
}

/* Move one file name from directory ofd (root's) to dfd (warden_owner's,
 * so never touched by name after the move): the old file is opened
 * without following links, must be a regular file with one link, and is
 * given to uid:gid, mode 0600, through its fd before it moves; the move
 * never replaces a name in dfd (RENAME_NOREPLACE); across file systems
 * the copy is created O_EXCL|O_NOFOLLOW, fsynced, then the old name is
 * removed. 1 moved, 0 nothing to move, -1 and err. */
static int move_file(int ofd, int dfd, const char *name, uid_t uid, gid_t gid,
    char *err, size_t errlen)
{
	struct stat st;
	int in = openat(ofd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (in < 0 && errno == ENOENT)
		return 0;
	if (in < 0 || fstat(in, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
		snprintf(err, errlen, "old %s is not a regular file with one link: not moved", name);
		if (in >= 0)
			close(in);
		return -1;
	}
	int rc = -1;
	if ((geteuid() == 0 && fchown(in, uid, gid) < 0) || fchmod(in, 0600) < 0) {
		snprintf(err, errlen, "chown/chmod %s: %s", name, strerror(errno));
	} else if (renameat2(ofd, name, dfd, name, RENAME_NOREPLACE) == 0) {
		rc = 1;
	} else if (errno != EXDEV) {
		snprintf(err, errlen, "rename %s: %s", name, strerror(errno));
	} else {
		int out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		char buf[65536];
		ssize_t n = 0;
		while (out >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
			if (fd_write_all(out, buf, (size_t)n) < 0) {
				n = -1;	/* (the loop's read would clear it) */
				break;
			}
		if (out >= 0 && n == 0 && (geteuid() != 0 || fchown(out, uid, gid) == 0) &&
		    fsync(out) == 0 && fsync(dfd) == 0) {
			unlinkat(ofd, name, 0);	/* the copy's name is on disk first */
			rc = 1;
		} else {
			snprintf(err, errlen, "copy %s: %s", name, strerror(errno));
			if (out >= 0)	/* no partial copy left to be taken for the file */
				unlinkat(dfd, name, 0);
		}
		if (out >= 0)
			close(out);
	}
	close(in);
	return rc;
}

/* Before data_directory existed the ban database defaulted to
 * $queue_directory/warden.db: with warden_dbfile at its default and no
 * database there yet, move the old one (and its -wal/-shm) over, only
 * from a queue_directory no other uid may write (as open_parent()). The
 * database itself moves last: its name in data_directory says the move
 * is done, so a move that failed half-way is taken up again at the next
 * start (and never leaves the WAL's transactions behind). */
static int migrate_db(const struct config *cfg, int pfd, const char *dname, uid_t uid,
    gid_t gid, char *err, size_t errlen)
{
	static const char *const parts[] = { "warden.db-wal", "warden.db-shm", "warden.db" };
	char want[1024];
	struct stat st;
	const char *data = config_get(cfg, "data_directory");
	const char *qdir = config_get(cfg, "queue_directory");
	int rc = 0, moved = 0;

	snprintf(want, sizeof(want), "%s/warden.db", data);
	if (strcmp(config_get(cfg, "warden_dbfile"), want) != 0)
		return 0;
	int ofd = open(qdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int dfd = openat(pfd, dname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (ofd < 0 || dfd < 0 || fstatat(dfd, "warden.db", &st, AT_SYMLINK_NOFOLLOW) == 0 ||
	    fstat(ofd, &st) < 0 || (st.st_uid != 0 && st.st_uid != geteuid()) ||
	    (st.st_mode & 022) != 0)
		goto done;	/* nothing to do, or not from a directory others may write */
	for (size_t i = 0; rc >= 0 && i < 3; i++) {
		rc = move_file(ofd, dfd, parts[i], uid, gid, err, errlen);
		moved += rc > 0;
	}
	if (moved > 0 && rc >= 0)
		log_info("ban database moved from %s/warden.db to %s (warden_dbfile's default "
		    "is now in data_directory)", qdir, want);
done:
	if (ofd >= 0)
		close(ofd);
	if (dfd >= 0)
		close(dfd);
	return rc < 0 ? -1 : 0;
}

int privsep_prepare_dirs(const struct config *cfg, char *err, size_t errlen)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	char name[256], path[1024];
	if (uid == 0) {
		const struct passwd *pw = getpwnam(config_get(cfg, "warden_owner"));
		if (pw == NULL) {
			snprintf(err, errlen, "warden_owner user '%s' does not exist",
			    config_get(cfg, "warden_owner"));
			return -1;
		}
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}
	const char *data = config_get(cfg, "data_directory");
	int pfd = open_parent("data_directory", data, name, sizeof(name), err, errlen);
	if (pfd < 0)
		return -1;
	int rc = mkdir_at(pfd, name, data, 0700, uid, gid, err, errlen);
	if (rc == 0)
		rc = migrate_db(cfg, pfd, name, uid, gid, err, errlen);
	close(pfd);
	if (rc < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/warden", config_get(cfg, "queue_directory"));
	pfd = open_parent("queue_directory", path, name, sizeof(name), err, errlen);
	if (pfd < 0)
		return -1;
	rc = mkdir_at(pfd, name, path, 0755, uid, gid, err, errlen);
	close(pfd);
	return rc;
}


void privsep_check_owner(const struct config *cfg)
{
	if (geteuid() == 0)
		(void)priv_user(cfg, "warden_owner");
}

void privsep_warden(const struct config *cfg)
{
	umask(077);
	if (geteuid() != 0) {
		priv_keep_only(NULL, 0);	/* an unprivileged run (tests) */
		return;
	}
	struct passwd *pw = priv_user(cfg, "warden_owner");
	gid_t groups[3];
	size_t ng = 0;
	groups[ng++] = pw->pw_gid;
	static const char *const extra[] = { "adm", "systemd-journal" };
	for (size_t i = 0; i < 2; i++) {
		struct group *gr = getgrnam(extra[i]);
		if (gr && gr->gr_gid != pw->pw_gid)
			groups[ng++] = gr->gr_gid;
	}
	priv_become("warden_owner", pw->pw_uid, pw->pw_gid, groups, ng, NULL, 0);
}

void privsep_firewall(int keep_root)
{
	static const cap_value_t net_admin[] = { CAP_NET_ADMIN };
	if (geteuid() != 0 || keep_root)
		return;		/* fail2ban's actions run as root: so do ours */
	priv_keep_only(net_admin, 1);
}
