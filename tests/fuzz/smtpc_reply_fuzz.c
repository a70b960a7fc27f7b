/*
 * smtpc_reply_fuzz — the SMTP/LMTP client's reading of a server: replies
 * split off the input buffer (multi-line, CRLF or LF), the EHLO/LHLO
 * extension list, and the enhanced status code taken from a reply.
 */
#include <stdlib.h>
#include <string.h>

#include "queue/smtpc_int.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_quiet();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtpc *c = calloc(1, sizeof(*c));
	buf_init(&c->in, IN_MAX);
	if (buf_append(&c->in, data, size) < 0) {
		buf_free(&c->in);
		free(c);
		return 0;
	}
	for (;;) {
		int code = 0;
		char text[4096];	/* smtpc.c's reply buffer */
		int r = smtpc_get_reply(c, &code, text, sizeof(text));
		if (r <= 0)
			break;
		if (code < 100 || code > 599)
			abort();
		/* exact-size copies: a read past the text's end is caught */
		char *t = strdup(text);
		smtpc_ehlo_features(c, t);
		char dsn[16];
		smtpc_reply_dsn(t, dsn, sizeof(dsn));
		smtpc_flat(t);
		free(t);
	}
	buf_free(&c->in);
	free(c);
	return 0;
}
