/*
 * warden_cli — `mailwarden status|ban|unban|banned|why|reload`: the
 * fail2ban-client of the ban engine. Sends one request line to the
 * warden's control socket (warden_socket of the config) and prints the
 * answer as it comes; `--json` asks for JSON.
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

int cli_warden(const struct config *cfg, int argc, char **argv)
{
	struct buf req;
	buf_init(&req, 4000);
	int json = 0;
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
	if (json)
		buf_puts(&req, "json\t");
	int first = 1;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			continue;
		if (strpbrk(argv[i], "\t\n") || (!first && buf_puts(&req, "\t") < 0) ||
		    buf_puts(&req, argv[i]) < 0) {
			fprintf(stderr, "mailwarden: bad or too long argument\n");
			buf_free(&req);
			return 2;
		}
		first = 0;
	}
	buf_puts(&req, "\n");
	const char *path = config_get(cfg, "warden_socket");
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	if (snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path) >= (int)sizeof(sun.sun_path)) {
		fprintf(stderr, "mailwarden: %s: path too long\n", path);
		buf_free(&req);
		return 1;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr, "mailwarden: cannot reach the ban engine at %s: %s "
		    "(is a jail enabled and the mail system running?)\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		buf_free(&req);
		return 1;
	}
	/* the master binds the socket: a warden that is restarting answers
	 * late, one that cannot start never does */
	struct timeval tv = { 60, 0 };
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		fprintf(stderr, "mailwarden: %s: SO_RCVTIMEO: %s\n", path, strerror(errno));
	ssize_t w = write(fd, req.data, req.len);
	buf_free(&req);
	if (w < 0) {
		fprintf(stderr, "mailwarden: %s: %s\n", path, strerror(errno));
		close(fd);
		return 1;
	}
	struct buf ans;
	buf_init(&ans, 64 * 1024 * 1024);
	char tmp[8192];
	ssize_t n;
	while ((n = read(fd, tmp, sizeof(tmp))) > 0)
		if (buf_append(&ans, tmp, (size_t)n) < 0)
			break;
	close(fd);
	const char *d = ans.data ? ans.data : "";
	int rc = 1;
	if (strncmp(d, "ok\n", 3) == 0) {
		fputs(d + 3, stdout);
		rc = 0;
	} else if (strncmp(d, "error\n", 6) == 0) {
		fprintf(stderr, "%s", d + 6);
	} else {
		fprintf(stderr, "mailwarden: no answer from the ban engine at %s (is it "
		    "running? see the mail log)\n", path);
	}
	buf_free(&ans);
	return rc;
}
