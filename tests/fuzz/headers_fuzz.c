/*
 * headers_fuzz — the queue's header parser (src/mail/headers.c): the
 * header section split into (folded) headers, Message-ID/Date detection,
 * the line-by-line observer the SMTP engine feeds during DATA, and the
 * address lists of To/Cc/Bcc (display names, comments, groups).
 */
#include <stdlib.h>
#include <string.h>

#include "common/addrlist.h"
#include "mail/headers.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_quiet();
	return 0;
}

static void on_addr(const char *addr, void *arg)
{
	(*(size_t *)arg) += strlen(addr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *msg = fz_str(data, size);
	int has_msgid, has_date;
	headers_missing(msg, size, &has_msgid, &has_date);
	size_t off = 0, sum = 0;
	struct header h;
	while (headers_next(msg, size, &off, &h) == 1) {
		if (off > size)
			abort();
		if (headers_is(&h, "to") || headers_is(&h, "cc") || headers_is(&h, "bcc")) {
			char *v = malloc(h.valuelen + 1);
			memcpy(v, h.value, h.valuelen);
			v[h.valuelen] = '\0';
			addrlist_each(v, h.valuelen, on_addr, &sum);
			free(v);
		}
	}
	/* the SMTP engine's view: one physical line at a time */
	struct headers_seen seen;
	memset(&seen, 0, sizeof(seen));
	size_t p = 0;
	while (p <= size) {
		const char *nl = memchr(msg + p, '\n', size - p);
		size_t l = nl ? (size_t)(nl - (msg + p)) : size - p;
		char *line = malloc(l ? l : 1);
		memcpy(line, msg + p, l);
		headers_note(&seen, line, l);
		free(line);
		if (nl == NULL || l == 0)
			break;
		p += l + 1;
	}
	free(msg);
	return 0;
}
