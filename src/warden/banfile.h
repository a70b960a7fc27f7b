/*
 * banfile — the bans in force as a small text file the smtp engine reads
 * at accept time (<queue_directory>/warden/bans, a directory only the
 * warden's user may write). The warden writes it whole after every change
 * (a new temp file made with O_EXCL|O_NOFOLLOW, then rename, so a reader
 * never sees half a file); the engine keeps a directory fd (it works inside the chroot)
 * and re-reads the file only when its inode, mtime or size changed.
 * One ban a line: "NETWORK EXPIRES JAIL", EXPIRES in unix seconds, 0 =
 * forever; lines starting with '#' are comments.
 */
#ifndef MW_WARDEN_BANFILE_H
#define MW_WARDEN_BANFILE_H
#include <stddef.h>

#include "warden/jail.h"

struct banfile_entry {
	struct net net;
	long expires;		/* unix time, 0 forever */
	char jail[32];
};

/* Write all live bans atomically (stale temp unlinked, temp created with
 * O_EXCL|O_NOFOLLOW, renameat) into dirfd/name, mode 0644. 0, or -1 with
 * errno. */
int banfile_write(int dirfd, const char *name, const struct banfile_entry *e, size_t n);

struct banfile;
/* Reader for the engine: opened once (dirfd is dup'ed and kept, so it
 * works inside the chroot); the file may not exist yet (no bans). NULL
 * only if dirfd cannot be duplicated. */
struct banfile *banfile_open(int dirfd, const char *name);
/* 1 if addr (text) is inside a live ban (not expired at now), its jail
 * copied into jail; 0 if not (also for text that is not an address). */
int banfile_check(struct banfile *b, const char *addr, long now, char *jail, size_t jlen);
/* Number of entries last read (tests, `status`). */
size_t banfile_count(struct banfile *b);
void banfile_close(struct banfile *b);
#endif
