/*
 * addr_fuzz — the envelope address path: the SMTP engine's MAIL FROM:/
 * RCPT TO: parser (quoted local parts, source routes, SMTPUTF8 bytes),
 * @myorigin qualification, and the queue's resolver (local part,
 * extension, domain; aliases and virtual maps of the unit-test fixtures).
 * Input: first byte picks FROM:/TO:, the rest is the command argument.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/util.h"
#include "mail/resolve.h"
#include "smtp/cmd.h"
#include "fuzz.h"

static struct config *cfg;	/* kept: the resolver points into it */
static struct resolver *res;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[512], cwd[4096];
	fz_quiet();
	if (getcwd(cwd, sizeof(cwd)) == NULL || chdir("tests/unit") < 0) {
		perror("addr_fuzz: run from the source tree's top directory");
		abort();
	}
	cfg = config_load("data/queue/resolve.conf", err, sizeof(err));
	res = cfg ? resolve_open(cfg, err, sizeof(err)) : NULL;
	if (res == NULL || chdir(cwd) < 0) {
		fprintf(stderr, "addr_fuzz: %s\n", err);
		abort();
	}
	return 0;
}

static void resolve_one(const char *addr)
{
	const char *table = NULL;
	resolve_check(res, addr, &table);
	struct dest *d = NULL;
	size_t n = 0;
	if (resolve_expand(res, addr, &d, &n) == 0)
		resolve_dests_free(d, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	char *arg = fz_cstr(data + 1, size - 1);
	char *params = NULL;
	char *addr = cmd_parse_path(arg, data[0] & 1 ? "TO:" : "FROM:", &params);
	if (addr) {
		char *q = str_at_origin(addr, "example.org");
		resolve_one(q);
		free(q);
	}
	free(arg);
	return 0;
}
