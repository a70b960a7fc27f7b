/*
 * banfile — the bans in force, shared by the ban engine (the warden
 * writes) and the smtp engine (reads at accept): the journal
 * <queue_directory>/warden/bans, in a directory only the warden's user
 * may write; the chrooted engine reads it through a directory fd.
 *
 * One record a line, at most BANFILE_LINE_MAX bytes with its newline:
 *   NETWORK EXPIRES JAIL     a ban in force, added or its expiry changed
 *   - NETWORK JAIL           that ban lifted
 *   # text                   a comment
 * A ban is keyed by (NETWORK, JAIL); EXPIRES is unix seconds, 0 forever.
 * The whole-file format of earlier versions is a journal of additions.
 *
 * Why a journal: a ban or an unban is one appended line (O(1)), and the
 * engine reads only the bytes past its last offset, so neither side
 * rewrites or re-reads the whole list per ban. The warden compacts it
 * (the live bans written whole to a new file made with
 * O_EXCL|O_NOFOLLOW, then renamed over it) when it holds more than twice
 * as many records as live bans, and at every start and reload: the
 * amortized cost per ban stays O(1). The engine sees the new inode and
 * reads the new file from its start; a new engine generation, or one
 * restarted, reads it from the start too, so every engine learns all the
 * bans in force. A reader acts on a line only once its newline is there
 * (never on half an append). The engine keeps the bans in a hash keyed
 * by network, and looks an address up once per prefix length in use:
 * O(1) per accept whatever the number of bans.
 * Why not deltas over a socket: the engine's generations come and go
 * (reload, restart) and so does the warden; a file needs no handshake
 * nor replay between them, and keeps today's privilege model (the
 * warden's user writes, the engine only reads).
 */
#ifndef MW_MAIL_BANFILE_H
#define MW_MAIL_BANFILE_H
#include <stddef.h>

#include "common/net.h"

/* Longest record, newline included; a longer line is skipped whole. */
#define BANFILE_LINE_MAX 511

struct banfile_entry {
	struct net net;
	long expires;		/* unix time, 0 forever */
	char jail[32];
};

/* Write the bans e (n of them) as a new journal, atomically (stale temp
 * unlinked, temp created with O_EXCL|O_NOFOLLOW, renameat) into
 * dirfd/name, mode 0644. 0, or -1 with errno. */
int banfile_write(int dirfd, const char *name, const struct banfile_entry *e, size_t n);

/* ---- the writer (the warden) ---- */

struct banfile_writer;
/* A writer of dirfd/name (dirfd is dup'ed and kept). Nothing is written
 * until banfile_writer_reset(). NULL if dirfd cannot be duplicated. */
struct banfile_writer *banfile_writer_new(int dirfd, const char *name);
/* Compact: write the live bans e as a new journal (banfile_write) and
 * append to it from now on. 0, or -1 with errno (appends then fail until
 * a reset works). */
int banfile_writer_reset(struct banfile_writer *w, const struct banfile_entry *e, size_t n);
/* Append a ban in force (new, or its expiry changed). 0, or -1 with
 * errno: the caller resets (a failed append leaves the journal closed). */
int banfile_writer_add(struct banfile_writer *w, const struct banfile_entry *e);
/* Append the end of jail's ban of net. 0, or -1 as for add. */
int banfile_writer_del(struct banfile_writer *w, const struct net *net, const char *jail);
/* 1 if the journal holds more than twice `live` records (time to reset),
 * or has no open file. */
int banfile_writer_full(const struct banfile_writer *w, size_t live);
void banfile_writer_free(struct banfile_writer *w);

/* ---- the reader (the smtp engine) ---- */

struct banfile;
/* Reader for the engine: opened once (dirfd is dup'ed and kept, so it
 * works inside the chroot); the file may not exist yet (no bans). NULL
 * only if dirfd cannot be duplicated. */
struct banfile *banfile_open(int dirfd, const char *name);
/* 1 if addr (text) is inside a live ban (not expired at now), its jail
 * copied into jail; 0 if not (also for text that is not an address).
 * Reads the records appended since the last call first. */
int banfile_check(struct banfile *b, const char *addr, long now, char *jail, size_t jlen);
/* Number of bans known after reading what is new (tests, `status`). */
size_t banfile_count(struct banfile *b);
void banfile_close(struct banfile *b);
#endif
