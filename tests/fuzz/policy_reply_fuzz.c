/*
 * policy_reply_fuzz — a check_policy_service server's reply: the
 * "name=value" lines up to the empty line (policyd.c), then the action=
 * value as Postfix's check_table_result reads it (OK, REJECT text, 4xx/5xx
 * with an enhanced status code, DEFER_IF_*, PREPEND, WARN, restriction
 * names). Restriction names that would start DNS lookups (R_DNS in
 * restrict.c's table: reject_unknown_*, reject_spf_fail, ...) are skipped:
 * no resolver runs in the harness.
 */
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "policy/restrict_int.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_quiet();
	return 0;
}

static void log_fn(struct policy_ctx *c, const char *action, const char *reply)
{
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf in;
	buf_init(&in, 64 * 1024);
	/* policyd.c drops CRs and appends the rest as it comes */
	for (size_t i = 0; i < size; i++)
		if (data[i] != '\r' && buf_append(&in, &data[i], 1) < 0)
			goto out;
	if (in.data == NULL)
		goto out;
	char action[2048];
	if (policyd_parse_reply(&in, action, sizeof(action)) != 1 || r_name_uses_dns(action))
		goto out;
	struct policy_ctx c;
	memset(&c, 0, sizeof(c));
	c.stage = STAGE_RCPT;
	c.client_addr = "192.0.2.1";
	c.client_port = 4242;
	c.client_name = "client.example.org";
	c.reverse_name = "client.example.org";
	c.helo = "client.example.org";
	c.sender = "s@example.org";
	c.rcpt = "r@example.com";
	c.proto = "ESMTP";
	c.queue_id = "NOQUEUE";
	c.log = log_fn;
	struct rparams p = {
		.reject_code = 554, .defer_code = 450, .relay_code = 554,
		.unknown_client_code = 450, .unknown_hostname_code = 450,
		.unknown_address_code = 450, .invalid_hostname_code = 501,
		.non_fqdn_code = 504, .rbl_code = 554, .map_reject_code = 554,
		.map_defer_code = 450, .unlisted_rcpt_code = 550,
		.null_key = "<>", .policy_timeout = 100, .policy_default_action = "451 4.3.5 x",
	};
	char reply[R_REPLY_MAX];
	struct rstate st;
	memset(&st, 0, sizeof(st));
	st.c = &c;
	st.p = &p;
	st.cls = RC_RECIPIENT;
	st.name = "r@example.com";
	st.cls_text = "Recipient address";
	st.reply = reply;
	st.len = sizeof(reply);
	reply[0] = '\0';
	r_table_result(&st, "check_policy_service inet:127.0.0.1:10023", action);
	policy_ctx_clear(&c);
out:
	buf_free(&in);
	return 0;
}
