/*
 * spf_fuzz — SPF records from DNS (outside input): the record parser
 * (spf_parse), the macro expander over the same text (as a domain-spec
 * and as an exp= explanation), and a whole check_host() in which every
 * TXT query answers the input itself (so include:/redirect= recurse into
 * it until a limit stops them) and A/AAAA/MX/PTR answer fixed data.
 */
#include <stdlib.h>
#include <string.h>

#include "spf/spf.h"
#include "spf/spf_int.h"
#include "fuzz.h"

static char *input;
static struct dns_result res;
static char *items[2];

static const struct dns_result *fake_dns(void *arg, const char *name, enum dns_type type)
{
	static char a[] = "192.0.2.1", aaaa[] = "2001:db8::1", mx[] = "10 mx.fuzz.test",
	    ptr[] = "host.fuzz.test";
	memset(&res, 0, sizeof(res));
	res.items = items;
	res.n = 1;
	switch (type) {
	case DNS_TXT: items[0] = input; break;
	case DNS_A: items[0] = a; break;
	case DNS_AAAA: items[0] = aaaa; break;
	case DNS_MX: items[0] = mx; break;
	case DNS_PTR: items[0] = ptr; break;
	}
	if (strstr(name, "void") != NULL) {	/* names with "void" do not exist */
		res.status = DNS_NOTFOUND;
		res.nxdomain = 1;
		res.n = 0;
	}
	return &res;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_quiet();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct spf_record rec;
	static const struct spf_macro_ctx m = {
		"a.b@fuzz.test", "a.b", "fuzz.test", "fuzz.test", "192.0.2.1", NULL, "in-addr",
		"helo.fuzz.test", "192.0.2.1", "mx.local", 1200000000, 1,
	};
	char err[256], out[1024];
	struct spf_result r;

	input = fz_cstr(data, size);
	(void)spf_parse(input, &rec, err, sizeof(err));
	(void)spf_macro_check(input, 0);
	(void)spf_macro_expand(input, &m, out, sizeof(out));
	const char *ip = size > 0 && (data[0] & 1) ? "2001:db8::1" : "192.0.2.1";
	struct spf_request rq = { ip, "a.b@fuzz.test", "helo.fuzz.test", "mx.local", 1 };
	if (spf_check(&rq, fake_dns, NULL, &r) != 1)
		abort();		/* the fake answers everything at once */
	free(input);
	return 0;
}
