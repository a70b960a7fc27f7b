/*
 * warden_cli — `mailwarden status|ban|unban|banned|why|reload`: the
 * ban engine's own command line. Sends one request line to the warden's
 * control socket (warden_socket of the config) and prints the answer as
 * it comes; `--json` asks for JSON. cli_warden_request() is the one
 * socket exchange, shared with `mailwarden fail2ban-client` (f2bclient.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/buf.h"
#include "common/config.h"

int cli_warden_request(const char *path, int argc, char *const *argv, int json,
    struct buf *ans)
{
	struct buf req;
	buf_init(&req, 4000);
	buf_init(ans, 64 * 1024 * 1024);
	if (json)
		buf_puts(&req, "json\t");
	for (int i = 0; i < argc; i++) {
		if (strpbrk(argv[i], "\t\n") || (i && buf_puts(&req, "\t") < 0) ||
		    buf_puts(&req, argv[i]) < 0) {
			buf_free(&req);
			return WREQ_BADARG;
		}
	}
	if (buf_puts(&req, "\n") < 0) {
		buf_free(&req);
		return WREQ_BADARG;
	}
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	if (snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path) >= (int)sizeof(sun.sun_path)) {
		buf_free(&req);
		errno = ENAMETOOLONG;
		return WREQ_CONNECT;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		buf_free(&req);
		errno = e;
		return WREQ_CONNECT;
	}
	/* the master binds the socket: a warden that is restarting answers
	 * late, one that cannot start never does */
	struct timeval tv = { 60, 0 };
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		fprintf(stderr, "mailwarden: %s: SO_RCVTIMEO: %s\n", path, strerror(errno));
	ssize_t w = write(fd, req.data, req.len);
	buf_free(&req);
	if (w < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return WREQ_CONNECT;
	}
	struct buf raw;
	buf_init(&raw, 64 * 1024 * 1024);
	char tmp[8192];
	ssize_t n;
	while ((n = read(fd, tmp, sizeof(tmp))) > 0)
		if (buf_append(&raw, tmp, (size_t)n) < 0)
			break;
	close(fd);
	const char *d = raw.data ? raw.data : "";
	int rc = WREQ_NOANSWER;
	if (strncmp(d, "ok\n", 3) == 0) {
		buf_puts(ans, d + 3);
		rc = WREQ_OK;
	} else if (strncmp(d, "error\n", 6) == 0) {
		buf_puts(ans, d + 6);
		rc = WREQ_ERROR;
	}
	buf_free(&raw);
	return rc;
}

int cli_warden(const struct config *cfg, int argc, char **argv)
{
	char *words[64];
	int n = 0, json = 0;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = 1;
		} else if (n == (int)(sizeof(words) / sizeof(*words))) {
			fprintf(stderr, "mailwarden: too many arguments\n");
			return 2;
		} else {
			words[n++] = argv[i];
		}
	}
	const char *path = config_get(cfg, "warden_socket");
	struct buf ans;
	int rc = cli_warden_request(path, n, words, json, &ans);
	switch (rc) {
	case WREQ_OK:
		fputs(ans.data ? ans.data : "", stdout);
		break;
	case WREQ_ERROR:
		fputs(ans.data ? ans.data : "", stderr);
		break;
	case WREQ_BADARG:
		fprintf(stderr, "mailwarden: bad or too long argument\n");
		break;
	case WREQ_CONNECT:
		fprintf(stderr, "mailwarden: cannot reach the ban engine at %s: %s "
		    "(is a jail enabled and the mail system running?)\n", path, strerror(errno));
		break;
	default:
		fprintf(stderr, "mailwarden: no answer from the ban engine at %s (is it "
		    "running? see the mail log)\n", path);
	}
	buf_free(&ans);
	return rc == WREQ_OK ? 0 : rc == WREQ_BADARG ? 2 : 1;
}
