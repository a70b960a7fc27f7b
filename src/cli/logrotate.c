/*
 * logrotate — `mailwarden logrotate`, Postfix's `postfix logrotate`:
 * rename maillog_file with maillog_file_rotate_suffix, have the running
 * master open a new one (SIGUSR1 to the pid in queue_directory/pid/
 * master.pid, the file the master writes), then compress the old one
 * with maillog_file_compressor once no line can go to it any more.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/config.h"

#define REOPEN_WAIT_MS	5000

/* The running master's pid (its ps title checked), or 0. */
static pid_t master_pid(const struct config *cfg)
{
	char path[4096], title[64] = "";
	long pid = 0;
	if (snprintf(path, sizeof(path), "%s/pid/master.pid", config_get(cfg, "queue_directory")) >=
	    (int)sizeof(path))
		return 0;
	FILE *fp = fopen(path, "re");
	if (fp == NULL)
		return 0;
	if (fscanf(fp, "%ld", &pid) != 1)
		pid = 0;
	fclose(fp);
	if (pid <= 1 || kill((pid_t)pid, 0) < 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
	fp = fopen(path, "re");
	if (fp == NULL)
		return 0;
	size_t n = fread(title, 1, sizeof(title) - 1, fp);
	title[n] = '\0';
	fclose(fp);
	return strncmp(title, "mailwarden: master", 18) == 0 ? (pid_t)pid : 0;
}

/* maillog_file_compressor FILE; 0, or -1 (told on stderr). */
static int compress(const char *prog, const char *file)
{
	char **words = config_list(prog);
	size_t n = 0;
	while (words[n])
		n++;
	if (n == 0) {
		config_list_free(words);
		return 0;
	}
	char **argv = calloc(n + 2, sizeof(*argv));
	if (argv == NULL)
		abort();
	for (size_t i = 0; i < n; i++)
		argv[i] = words[i];
	argv[n] = (char *)file;
	pid_t pid = fork();
	if (pid == 0) {
		execvp(argv[0], argv);
		fprintf(stderr, "mailwarden: logrotate: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	int st = 0, rc = -1;
	if (pid < 0)
		fprintf(stderr, "mailwarden: logrotate: fork: %s\n", strerror(errno));
	else if (waitpid(pid, &st, 0) < 0)
		fprintf(stderr, "mailwarden: logrotate: waitpid: %s\n", strerror(errno));
	else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fprintf(stderr, "mailwarden: logrotate: %s %s failed (status %d)\n", argv[0], file,
		    WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	else
		rc = 0;
	free(argv);
	config_list_free(words);
	return rc;
}

int cli_logrotate(const struct config *cfg, int argc, char **argv)
{
	const char *file = config_get(cfg, "maillog_file");
	char suffix[256], rotated[4096];
	struct stat st;
	if (argc > 0) {
		fprintf(stderr, "usage: mailwarden logrotate\n");
		return 2;
	}
	if (*file == '\0') {
		fprintf(stderr, "mailwarden: logrotate: maillog_file is not set (the mail log "
		    "goes to syslog: rotate it with the system's logrotate)\n");
		return 1;
	}
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	if (strftime(suffix, sizeof(suffix), config_get(cfg, "maillog_file_rotate_suffix"), &tm) == 0 ||
	    snprintf(rotated, sizeof(rotated), "%s.%s", file, suffix) >= (int)sizeof(rotated)) {
		fprintf(stderr, "mailwarden: logrotate: bad maillog_file_rotate_suffix\n");
		return 1;
	}
	if (lstat(rotated, &st) == 0) {
		fprintf(stderr, "mailwarden: logrotate: %s exists: not overwritten\n", rotated);
		return 1;
	}
	if (rename(file, rotated) < 0) {
		fprintf(stderr, "mailwarden: logrotate: rename %s to %s: %s\n", file, rotated,
		    strerror(errno));
		return 1;
	}
	pid_t pid = master_pid(cfg);
	if (pid > 0 && kill(pid, SIGUSR1) == 0) {
		/* the master creates the new file as it reopens: from then on
		 * nothing more goes to the rotated one */
		int waited = 0;
		while (stat(file, &st) < 0 && waited < REOPEN_WAIT_MS) {
			usleep(20 * 1000);
			waited += 20;
		}
		if (waited >= REOPEN_WAIT_MS) {
			fprintf(stderr, "mailwarden: logrotate: the master (pid %ld) did not reopen "
			    "%s; %s left uncompressed\n", (long)pid, file, rotated);
			return 1;
		}
	} else {
		fprintf(stderr, "mailwarden: logrotate: no running master found (%s/pid/master.pid): "
		    "nothing to reopen\n", config_get(cfg, "queue_directory"));
	}
	printf("mailwarden: logrotate: %s renamed to %s\n", file, rotated);
	return compress(config_get(cfg, "maillog_file_compressor"), rotated) == 0 ? 0 : 1;
}
