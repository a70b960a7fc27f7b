/*
 * resp_fuzz — the cluster client's reader of Redis replies (RESP2, what
 * a Redis server or anyone on its link sends the warden): the input
 * parsed reply after reply as the connection does, each reply checked
 * for consistency (a consumed length within the input; a bulk string's
 * length as said), and parsed again byte by byte (incomplete until the
 * same length).
 */
#include <stdlib.h>
#include <string.h>

#include "warden/cluster/resp.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_quiet();
	return 0;
}

static void check(const struct resp_reply *r)
{
	if ((r->type == RESP_BULK || r->type == RESP_STATUS || r->type == RESP_ERROR) &&
	    strlen(r->str) > r->len)
		abort();
	for (size_t i = 0; i < r->nelem; i++)
		check(&r->elem[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	size_t off = 0;
	while (off < size) {
		struct resp_reply r;
		size_t used = 0;
		int rc = resp_parse(p + off, size - off, &r, &used);
		if (rc <= 0)
			break;
		if (used == 0 || used > size - off)
			abort();
		check(&r);
		resp_free(&r);
		/* every shorter prefix of this reply is incomplete */
		size_t u2;
		if (used > 1 && resp_parse(p + off, used - 1, &r, &u2) == 1)
			abort();
		off += used;
	}
	return 0;
}
