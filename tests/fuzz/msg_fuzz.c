/*
 * msg_fuzz — the typed message codec between processes (src/common/msg.c):
 * one datagram as a peer process sends it, received with msg_recv and read
 * field by field (u32 and string gets in an order the input chooses), then
 * msg_end. Input: first byte = 8 field kinds (bit set: string), the rest
 * is the datagram.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/msg.h"
#include "fuzz.h"

static int sv[2];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_quiet();
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	int big = 4 * MSG_MAX;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size - 1 > MSG_MAX)
		return 0;
	if (send(sv[0], data + 1, size - 1, MSG_DONTWAIT) != (ssize_t)(size - 1))
		return 0;
	struct msg m;
	if (msg_recv(sv[1], &m) != 1)
		abort();	/* a datagram was just sent */
	for (int i = 0; i < 8; i++) {
		if (data[0] & (1u << i)) {
			const char *s = msg_get_str(&m);
			if (strlen(s) > size)
				abort();
		} else {
			msg_get_u32(&m);
		}
	}
	msg_end(&m);
	msg_free(&m);
	/* and back: what was read can be written again */
	struct msg out;
	msg_init(&out, 7);
	msg_put_u32(&out, (uint32_t)size);
	msg_put_str(&out, "x");
	msg_free(&out);
	return 0;
}
