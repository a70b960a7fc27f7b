/*
 * headers — small pure helpers for the header section of a message, for
 * mail submitted locally (sendmail/pickup) and by AUTH or mynetworks
 * clients: which of Message-ID/Date/From are missing, the values Postfix's
 * cleanup would add (the addresses of To/Cc/Bcc: common/addrlist.h).
 * Lines may end in LF or CRLF; a header may be folded. No I/O, no clock:
 * the caller passes the time.
 */
#ifndef MW_HEADERS_H
#define MW_HEADERS_H
#include <stddef.h>
#include <time.h>

/* What the header lines seen so far contain (zero it before the first). */
struct headers_seen {
	int msgid, date, from, resent;
	int done;		/* the header section has ended */
};

/* One header of a message: name and unfolded-raw value spans. */
struct header {
	const char *name;	/* not NUL-terminated */
	size_t namelen;
	const char *value;	/* after the colon, folding kept, no final EOL */
	size_t valuelen;
	size_t off, len;	/* the whole header in the message, EOLs included */
};

/* Feed one physical header line (no EOL; empty = end of headers) to s. */
void headers_note(struct headers_seen *s, const char *line, size_t n);
/* Scan the header section of msg; set *has_msgid and *has_date (either
 * may be NULL). Returns how many of the two are missing (0..2). */
int headers_missing(const char *msg, size_t len, int *has_msgid, int *has_date);
/* The next header of msg at *off: 1 and h filled, 0 at the end of the
 * header section (*off is then where the body or the blank line starts). */
int headers_next(const char *msg, size_t len, size_t *off, struct header *h);
/* Whether h is named name (case-insensitive). */
int headers_is(const struct header *h, const char *name);
/* Message-ID value as Postfix's cleanup makes it: "<YYYYMMDDhhmmss.ID@host>"
 * (UTC). 0, or -1 when buf is too small. */
int headers_make_msgid(char *buf, size_t len, const char *id, const char *host, time_t now);
/* RFC 5322 Date value in local time: "Sat, 28 Nov 2026 20:57:02 +0100 (CET)".
 * 0, or -1 when buf is too small. */
int headers_make_date(char *buf, size_t len, time_t now);
#endif
