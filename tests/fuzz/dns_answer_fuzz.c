/*
 * dns_answer_fuzz — the resolver's answer-to-result code
 * (src/dns/dns_answer.c): a raw DNS answer packet, as a server or an
 * attacker on the path sends it, parsed for A, AAAA, MX, TXT and PTR
 * (names, TTLs, RCODE, SOA minimum for negative caching).
 * Input: first byte picks the type and c-ares status, the rest is the packet.
 */
#include <ares.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns_int.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_quiet();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 65536)
		return 0;
	static const int statuses[] = { ARES_SUCCESS, ARES_ENODATA, ARES_ENOTFOUND, ARES_ETIMEOUT };
	enum dns_type type = (enum dns_type)(data[0] % 5);
	int status = statuses[(data[0] / 5) % 4];
	unsigned char *pkt = malloc(size - 1 ? size - 1 : 1);
	memcpy(pkt, data + 1, size - 1);
	struct dns_result r, copy;
	memset(&r, 0, sizeof(r));
	memset(&copy, 0, sizeof(copy));
	dns_result_build(&r, type, status, pkt, (int)(size - 1));
	for (size_t i = 0; i < r.n; i++)
		if (r.items[i] == NULL)
			abort();
	dns_result_copy(&copy, &r);
	dns_result_free(&copy);
	dns_result_free(&r);
	free(pkt);
	return 0;
}
