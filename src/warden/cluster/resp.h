/*
 * resp — Redis's RESP2 protocol, both directions, no I/O: a command
 * written as an array of bulk strings (resp_cmd), and a reply parsed
 * from bytes received so far (resp_parse). Used by the cluster client
 * (cluster_conn.c); driven directly by its unit test.
 */
#ifndef MW_WARDEN_CLUSTER_RESP_H
#define MW_WARDEN_CLUSTER_RESP_H
#include <stddef.h>

struct buf;

enum resp_type { RESP_STATUS, RESP_ERROR, RESP_INT, RESP_BULK, RESP_NIL, RESP_ARRAY };

/* One reply: strings are NUL-terminated copies; arrays own their elements. */
struct resp_reply {
	enum resp_type type;
	long long num;		/* RESP_INT */
	char *str;		/* STATUS, ERROR, BULK */
	size_t len;
	struct resp_reply *elem;	/* RESP_ARRAY */
	size_t nelem;
};

/* Append the command argv[0..argc) (lens[i] bytes each; NULL lens:
 * NUL-terminated) to o. 0, or -1 past o's maximum. */
int resp_cmd(struct buf *o, int argc, const char *const *argv, const size_t *lens);
/* Parse one reply from p (n bytes): 1 and *used bytes consumed, 0 when
 * more bytes are needed, -1 on a protocol error (or a reply larger or
 * deeper than the limits). *r is filled on 1 (resp_free it). */
int resp_parse(const char *p, size_t n, struct resp_reply *r, size_t *used);
/* Release what resp_parse() allocated in r. */
void resp_free(struct resp_reply *r);
#endif
