/*
 * passwd — `mailwarden passwd [-s SCHEME] [USER]`: make a password hash
 * for the passwd-file backend, as `doveadm pw` does. The password is read
 * twice from the terminal without echo, or once from stdin when that is
 * not a terminal. Prints {SCHEME}hash, or USER:{SCHEME}hash with USER.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "sasl/sasl.h"

#define PW_MAX 1024

/* Read one line from f into buf (without the newline); -1 at EOF/too long. */
static int read_line(FILE *f, char *buf, size_t size)
{
	if (fgets(buf, (int)size, f) == NULL)
		return -1;
	size_t n = strcspn(buf, "\n");
	if (buf[n] != '\n' && !feof(f))
		return -1;		/* longer than the buffer */
	buf[n] = '\0';
	if (n && buf[n - 1] == '\r')
		buf[n - 1] = '\0';
	return 0;
}

/* Prompt on the terminal and read without echo. */
static int read_noecho(FILE *tty, const char *prompt, char *buf, size_t size)
{
	struct termios old, raw;
	int fd = fileno(tty);
	fputs(prompt, stderr);
	fflush(stderr);
	if (tcgetattr(fd, &old) < 0) {
		fprintf(stderr, "mailwarden passwd: tcgetattr: %s\n", strerror(errno));
		return -1;
	}
	raw = old;
	raw.c_lflag &= ~(tcflag_t)ECHO;
	raw.c_lflag |= ECHONL;
	if (tcsetattr(fd, TCSAFLUSH, &raw) < 0) {
		fprintf(stderr, "mailwarden passwd: tcsetattr: %s\n", strerror(errno));
		return -1;
	}
	int rc = read_line(tty, buf, size);
	tcsetattr(fd, TCSAFLUSH, &old);
	return rc;
}

static int read_password(char *pw, size_t size)
{
	if (!isatty(STDIN_FILENO)) {
		if (read_line(stdin, pw, size) < 0) {
			fprintf(stderr, "mailwarden passwd: no password on stdin (or longer than %d)\n", PW_MAX);
			return -1;
		}
		return 0;
	}
	char again[PW_MAX + 2];
	if (read_noecho(stdin, "Enter new password: ", pw, size) < 0 ||
	    read_noecho(stdin, "Retype new password: ", again, sizeof(again)) < 0) {
		fprintf(stderr, "mailwarden passwd: cannot read the password\n");
		return -1;
	}
	int same = strcmp(pw, again) == 0;
	explicit_bzero(again, sizeof(again));
	if (!same) {
		fprintf(stderr, "mailwarden passwd: the passwords do not match\n");
		return -1;
	}
	return 0;
}

int cli_passwd(int argc, char **argv)
{
	const char *scheme = "SHA512-CRYPT";
	const char *user = NULL;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-s") == 0 && i + 1 < argc)
			scheme = argv[++i];
		else if (strncmp(argv[i], "-s", 2) == 0 && argv[i][2])
			scheme = argv[i] + 2;
		else if (argv[i][0] != '-' && user == NULL)
			user = argv[i];
		else {
			fprintf(stderr, "usage: mailwarden passwd [-s SCHEME] [USER]\n"
			    "  SCHEME: SHA512-CRYPT (default), SHA256-CRYPT, BLF-CRYPT, CRYPT (yescrypt), PLAIN\n");
			return 2;
		}
	}
	if (user && (strpbrk(user, ": \t\n") || *user == '\0')) {
		fprintf(stderr, "mailwarden passwd: user name may not contain ':' or white space\n");
		return 2;
	}
	char pw[PW_MAX + 2], out[PW_MAX + 256], err[256];
	if (read_password(pw, sizeof(pw)) < 0)
		return 1;
	if (*pw == '\0') {
		fprintf(stderr, "mailwarden passwd: empty password\n");
		return 1;
	}
	int rc = sasl_hash(scheme, pw, out, sizeof(out), err, sizeof(err));
	explicit_bzero(pw, sizeof(pw));
	if (rc < 0) {
		fprintf(stderr, "mailwarden passwd: %s\n", err);
		return 1;
	}
	if (user)
		printf("%s:%s\n", user, out);
	else
		printf("%s\n", out);
	explicit_bzero(out, sizeof(out));
	return 0;
}
