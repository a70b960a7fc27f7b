/*
 * session_fuzz — the SMTP session state machine (src/smtp: commands,
 * DATA, AUTH exchanges, the STARTTLS boundary) fed the fuzzer's bytes as
 * the client's stream, through the session_io seam of a real engine
 * (tests/unit/session_fake.h): fake clock, no network, no TLS, no DNS;
 * queue files go to a queue directory in the harness's scratch directory
 * and are removed after each input; AUTH is checked against the
 * passwd-file fixture by the real worker threads.
 *
 * Input: byte 0 flags (bit 0: submission listener instead of smtp;
 * bit 1: STARTTLS offered, as with a certificate; bit 2: the client
 * hangs up right after its last byte instead of after the session
 * waited), byte 1: number of read cuts n (low 4 bits), then n 16-bit
 * little-endian offsets where a read ends (pipelining and partial lines),
 * then the client's bytes. SESSION_FUZZ_SHOW=1 in the environment
 * prints the server's replies (to check what a corpus file reaches).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "../unit/session_fake.h"
#include "smtp/anvil.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_quiet();
	fk_engine("tests/unit", fz_dir(), NULL);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	unsigned flags = data[0];
	size_t ncuts = data[1] & 15;
	size_t off = 2 + 2 * ncuts;
	if (size < off)
		return 0;
	size_t cuts[16];
	size_t len = size - off;
	for (size_t i = 0; i < ncuts; i++)
		cuts[i] = len ? ((size_t)data[2 + 2 * i] | (size_t)data[3 + 2 * i] << 8) % len : 0;

	fk.eng.roles[ROLE_SMTP].tls_may = (flags & 2) != 0;
	fk.eng.roles[ROLE_SUBMISSION].tls_may = (flags & 2) != 0;
	fk_start(flags & 1 ? ROLE_SUBMISSION : ROLE_SMTP, "192.0.2.10");
	if (!fk.closed) {
		fk_input((const char *)data + off, len, cuts, ncuts);
		fk_run(flags & 4 ? 1 : 0);
		if (!fk.closed)
			fk_run(1);	/* the client goes away: the session must end */
		if (!fk.closed)
			abort();	/* a session that never ends */
	}
	if (getenv("SESSION_FUZZ_SHOW"))
		fprintf(stderr, "%.*s", (int)fk.out.len, fk.out.data ? fk.out.data : "");
	/* forget what this client left in the engine's tables */
	fk_clear_queue();
	anvil_clear(&fk.eng.anvil);
	free(fk.eng.auth_clients);
	fk.eng.auth_clients = NULL;
	if (fk.eng.nsessions != 0)
		abort();
	return 0;
}
