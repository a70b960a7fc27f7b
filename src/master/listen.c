/*
 * listen — parse "ADDR:PORT", "[v6]:PORT", "*:PORT" and bind listeners
 * with the system's maximum backlog.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "master/listen.h"

static int listen_backlog(void)
{
	int n = 4096;
	FILE *f = fopen("/proc/sys/net/core/somaxconn", "r");
	if (f) {
		if (fscanf(f, "%d", &n) != 1 || n <= 0)
			n = 4096;
		fclose(f);
	}
	return n;
}

static int bind_one(const struct sockaddr *sa, socklen_t sl, char *err, size_t errlen, const char *spec)
{
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0) {
		snprintf(err, errlen, "%s: socket: %s", spec, strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (sa->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, sa, sl) < 0 || listen(fd, listen_backlog()) < 0) {
		snprintf(err, errlen, "%s: cannot listen: %s", spec, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int listen_open(const char *spec, int *fds, size_t max, char *err, size_t errlen)
{
	char host[256];
	const char *colon = strrchr(spec, ':');
	if (colon == NULL || colon == spec) {
		snprintf(err, errlen, "%s: expected ADDR:PORT", spec);
		return -1;
	}
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || colon[1] == '\0' || port < 0 || port > 65535) {
		snprintf(err, errlen, "%s: bad port", spec);
		return -1;
	}
	size_t hl = (size_t)(colon - spec);
	if (hl >= sizeof(host)) {
		snprintf(err, errlen, "%s: address too long", spec);
		return -1;
	}
	memcpy(host, spec, hl);
	host[hl] = '\0';
	int n = 0;
	struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port) };
	if (strcmp(host, "*") == 0 || host[0] == '\0') {
		s4.sin_addr.s_addr = htonl(INADDR_ANY);
		s6.sin6_addr = in6addr_any;
		if ((fds[n] = bind_one((struct sockaddr *)&s4, sizeof(s4), err, errlen, spec)) < 0)
			return -1;
		n++;
		int fd6 = bind_one((struct sockaddr *)&s6, sizeof(s6), err, errlen, spec);
		if (fd6 >= 0 && (size_t)n < max)
			fds[n++] = fd6;	/* no IPv6 on this host is fine for "*" */
		return n;
	}
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &s6.sin6_addr) != 1) {
			snprintf(err, errlen, "%s: bad IPv6 address", spec);
			return -1;
		}
		fds[0] = bind_one((struct sockaddr *)&s6, sizeof(s6), err, errlen, spec);
		return fds[0] < 0 ? -1 : 1;
	}
	if (inet_pton(AF_INET, host, &s4.sin_addr) != 1) {
		snprintf(err, errlen, "%s: bad IPv4 address (write IPv6 as [addr]:port)", spec);
		return -1;
	}
	fds[0] = bind_one((struct sockaddr *)&s4, sizeof(s4), err, errlen, spec);
	return fds[0] < 0 ? -1 : 1;
}
