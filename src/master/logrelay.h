/*
 * logrelay — the master's side of maillog_file. The children write their
 * log lines into a pipe (one write per line, under PIPE_BUF: atomic) and
 * the master alone writes them to the file, so that one open(2) in the
 * master is enough to reopen the log after a rotation (SIGUSR1, SIGHUP,
 * `mailwarden logrotate`): children that dropped root never need to
 * reopen a file in a root-owned directory.
 */
#ifndef MW_LOGRELAY_H
#define MW_LOGRELAY_H

/* Open path and the pipe; returns the pipe's write end for log_open()
 * (the children inherit it), or -1 and errno. */
int logrelay_open(const char *path);
/* Watch the pipe's read end in the master's loop (after loop_init()). */
void logrelay_watch(void);
/* In a child right after fork: close the file and the read end, write
 * to the pipe from now on. */
void logrelay_child(void);
/* Reopen the file by its name (after a rename); 0, or -1 and errno (the
 * old file is kept). Lines already in the pipe go to the old file. */
int logrelay_reopen(void);
/* Copy what is in the pipe to the file now (at exit). */
void logrelay_drain(void);
#endif
