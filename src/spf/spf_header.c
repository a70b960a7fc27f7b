/*
 * spf_header — the Received-SPF header field of RFC 7208 section 9.1 in
 * postfix-policyd-spf-python's layout, so that filters written for a
 * Postfix + policyd-spf host read ours unchanged:
 *   Received-SPF: Pass (mailfrom) identity=mailfrom; client-ip=192.0.2.1;
 *    helo=mail.example.org; envelope-from=a@example.org; receiver=<UNKNOWN>
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "spf/spf.h"

/* Copy s into out without CR, LF or other controls (header safety). */
static void clean(char *out, size_t len, const char *s)
{
	size_t n = 0;
	for (; s && *s && n + 1 < len; s++)
		out[n++] = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;
	out[n] = '\0';
}

int spf_received_header(const struct spf_result *r, const struct spf_request *rq,
    const char *receiver, char *out, size_t len)
{
	char name[16], helo[256], from[SPF_TEXT_MAX], ip[64], rcv[SPF_TEXT_MAX];

	snprintf(name, sizeof(name), "%s", spf_result_name(r->result));
	name[0] = (char)toupper((unsigned char)name[0]);
	clean(helo, sizeof(helo), rq->helo ? rq->helo : "");
	clean(from, sizeof(from), rq->sender && *rq->sender ? rq->sender : "<>");
	clean(ip, sizeof(ip), rq->ip);
	clean(rcv, sizeof(rcv), receiver ? receiver : "<UNKNOWN>");
	int n = snprintf(out, len, "Received-SPF: %s (%s) identity=%s; client-ip=%s; helo=%s;"
	    " envelope-from=%s; receiver=%s \n", name, r->identity, r->identity, ip, helo, from, rcv);
	return n < 0 || (size_t)n >= len ? -1 : n;
}
