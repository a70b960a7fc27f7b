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

/* Copy s into out without CR, LF or other controls (header safety); a
 * value that is not dot-atom text (and '@') becomes a quoted-string (RFC
 * 7208 9.1), so a MAIL FROM such as <"x; identity=helo"@a.example> or a
 * HELO with ';' cannot add key=value pairs of its own. */
static void clean(char *out, size_t len, const char *s)
{
	size_t n = 0;
	int plain = s && *s;
	for (const char *p = s; plain && *p; p++)
		if ((unsigned char)*p > 0x20 && *p != 0x7f && !isalnum((unsigned char)*p) &&
		    strchr("!#$%&'*+-/=?^_`{|}~.@<>", *p) == NULL)
			plain = 0;
	if (!plain && len > 2)
		out[n++] = '"';
	for (; s && *s && n + 3 < len; s++) {
		if (!plain && (*s == '"' || *s == '\\'))
			out[n++] = '\\';
		out[n++] = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;
	}
	if (!plain && len > 2)
		out[n++] = '"';
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
