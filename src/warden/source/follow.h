/*
 * follow — the ban engine's log sources. Files (paths or glob patterns)
 * are followed with inotify, or by stat polling once a second
 * (backend = polling); they survive rotation by rename and by
 * copytruncate. A jail starts only if one of its paths names a file now
 * (follow_existing(), fail2ban's "Have not found any log file"); a
 * further path missing at start is followed when it appears. Where each file was left (inode, offset) is kept in the store
 * so that a restart resumes there. The systemd journal is the other
 * source (journal.c). Both hand complete lines to a callback on the loop
 * thread; skipping lines older than findtime is the caller's business.
 * Notes: docs/follow.md.
 */
#ifndef MW_WARDEN_FOLLOW_H
#define MW_WARDEN_FOLLOW_H
#include <stddef.h>
#include <stdint.h>

/* Longest line delivered; longer ones are cut here and counted. */
#define FOLLOW_LINE_MAX (64 * 1024)

struct store;
struct follower;
struct journal_src;

/* Called for each complete line (without the '\n'; line[len] is '\0'), on
 * the loop thread. path is the file's path, or "journal" for the journal
 * source. */
typedef void follow_line_fn(void *arg, const char *path, const char *line, size_t len);

/* A follower delivering to fn. st may be NULL (no saved positions).
 * Registers its inotify fd with the event loop itself (loop_init first). */
struct follower *follow_new(struct store *st, follow_line_fn *fn, void *arg);
/* Follow a path or glob pattern. Files present now resume at their saved
 * position; without one they start at the beginning, or at the end when
 * tail is set (tail also ignores a saved position, as fail2ban 1.0.2
 * does). Files appearing later are read from their start. poll: stat
 * polling instead of inotify. A missing file is a log_warn and is picked
 * up when it appears (the caller starts a jail only when
 * follow_existing() found a file for one of its paths). -1 and a message
 * only for a bad pattern. */
int follow_add(struct follower *f, const char *pattern, int tail, int poll,
    char *err, size_t errlen);
/* How many files (not directories) pattern names now, globs expanded as
 * fail2ban's jailreader does: a dangling symlink is not counted (and is
 * a log_warn, fail2ban's message). */
size_t follow_existing(const char *pattern);
/* Read everything available now, rotations included (tests, start-up). */
void follow_poll(struct follower *f);
/* Save every file's position (inode, offset) to the store now. The
 * follower also does this itself about once a second after reading. */
void follow_save(struct follower *f);
/* 1 if a file has more to read than this loop turn took (a flood). */
int follow_busy(const struct follower *f);
/* Paths followed, open or waiting to appear (for `status`: File list);
 * *paths lives until the next call or follow_free(). */
size_t follow_files(struct follower *f, const char ***paths);
/* Lines cut at FOLLOW_LINE_MAX so far, all files together. */
unsigned long follow_cut_lines(const struct follower *f);
/* Save positions, close everything, unwatch. Before store_close(). */
void follow_free(struct follower *f);

/* Journal source: journalmatch as in fail2ban (FIELD=value terms
 * separated by spaces, "+" or a new line for OR). Lines are formatted
 * like syslog, "Mon DD HH:MM:SS host ident[pid]: message", so fail2ban
 * filters match. With a store (st, key), reading starts at now - findtime
 * as fail2ban's does, or just after the last entry read before a restart
 * if that is later; without one, only entries written from now on are
 * delivered. NULL and a message if the match is bad or the journal cannot
 * be opened. */
struct journal_src *journal_new(const char *match, follow_line_fn *fn, void *arg,
    struct store *st, const char *key, long findtime, char *err, size_t errlen);
/* Save the realtime of the last entry delivered in st under key (the
 * next start reads on from there, or from now - findtime if later). */
void journal_save(struct journal_src *j);
/* Read entries available now (also used by tests without a loop). */
void journal_poll(struct journal_src *j);
/* Stop watching and close the journal. */
void journal_free(struct journal_src *j);

/* One journal entry's fields, for journal_format(); NULL if absent. */
struct journal_fields {
	const char *hostname;	/* _HOSTNAME */
	const char *ident;	/* SYSLOG_IDENTIFIER, else _COMM */
	const char *pid;	/* SYSLOG_PID, else _PID */
	const char *message;	/* MESSAGE */
	size_t message_len;
	uint64_t realtime_usec;	/* _SOURCE_REALTIME_TIMESTAMP or the entry's */
};
/* Format an entry as a syslog line into out (local time, newlines in the
 * message as "\n"); the length, truncated to n - 1. */
size_t journal_format(char *out, size_t n, const struct journal_fields *e);
/* Check a journalmatch and split it: calls fn(term) for each FIELD=value
 * and fn(NULL) for each OR. -1 and a message if a term is malformed. */
int journal_parse_match(const char *match, int (*fn)(void *arg, const char *term),
    void *arg, char *err, size_t errlen);
#endif
