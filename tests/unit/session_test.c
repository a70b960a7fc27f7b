/*
 * session_test — the SMTP session state machine of src/smtp driven with
 * fake I/O (session_fake.h): client bytes from strings, replies
 * collected, a fake clock, no sockets, TLS or DNS. Greeting, EHLO's
 * lines, a message through MAIL/RCPT/DATA into a queue file, pipelined
 * commands and partial lines, bad commands and the error limit, BDAT
 * (not offered), AUTH PLAIN and LOGIN against the passwd-file fixture,
 * the STARTTLS boundary, and the kind of the events the ban engine gets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/socket.h>

#include "common/msg.h"
#include "session_fake.h"

#define CLIENT "192.0.2.10"

/* The replies so far as one string (CRLF kept). */
static const char *out(void)
{
	buf_append(&fk.out, "", 1);	/* NUL-terminate, then drop it again */
	fk.out.len--;
	return fk.out.data ? fk.out.data : "";
}

static int has_log(const char *text)
{
	buf_append(&fk.log, "", 1);
	fk.log.len--;
	return fk.log.data && strstr(fk.log.data, text) != NULL;
}

/* Start a session and check its greeting; fk.out is empty afterwards. */
static void start(enum smtp_role role)
{
	fk_start(role, CLIENT);
	assert_false(fk.closed);
	assert_string_equal(out(), "220 mx.example.org ESMTP mailwarden\r\n");
	buf_reset(&fk.out);
}

/* Send text, expect exactly want as the replies, forget them. */
static void expect(const char *text, const char *want)
{
	fk_say(text);
	assert_string_equal(out(), want);
	buf_reset(&fk.out);
}

/* EHLO, its reply forgotten. */
static void ehlo(void)
{
	fk_say("EHLO client.example\r\n");
	assert_non_null(strstr(out(), "250 SMTPUTF8\r\n"));
	buf_reset(&fk.out);
}

static void end(void)
{
	if (!fk.closed) {
		fk_say("QUIT\r\n");
		assert_true(fk.closed);
	}
	fk_clear_queue();
}

static int setup(void **state)
{
	fk_engine(".", "/tmp", NULL);
	return 0;
}

static void test_greeting_and_ehlo(void **state)
{
	start(ROLE_SMTP);
	expect("EHLO client.example\r\n",
	    "250-mx.example.org\r\n"
	    "250-PIPELINING\r\n"
	    "250-SIZE 10240000\r\n"
	    "250-AUTH PLAIN LOGIN\r\n"
	    "250-ENHANCEDSTATUSCODES\r\n"
	    "250-8BITMIME\r\n"
	    "250 SMTPUTF8\r\n");
	expect("HELO client.example\r\n", "250 mx.example.org\r\n");
	fk_say("QUIT\r\n");
	assert_string_equal(out(), "221 2.0.0 Bye\r\n");
	assert_true(fk.closed);
	assert_true(has_log("disconnect from unknown[" CLIENT "] helo=1 ehlo=1 quit=1 commands=3"));
}

/* The queue file of the last "queued as ID" reply, as text. */
static char *queued_file(const char *replies)
{
	const char *q = strstr(replies, "queued as ");
	assert_non_null(q);
	char id[64], path[256];
	size_t n = strcspn(q + 10, "\r");
	assert_true(n > 0 && n < sizeof(id));
	memcpy(id, q + 10, n);
	id[n] = '\0';
	snprintf(path, sizeof(path), "%s/incoming/%s", fk.qdir, id);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char *text = calloc(1, 65536);
	size_t got = fread(text, 1, 65535, f);
	fclose(f);
	text[got] = '\0';
	/* records are binary; NULs would end the string early */
	for (size_t i = 0; i < got; i++)
		if (text[i] == '\0')
			text[i] = '.';
	return text;
}

static void test_message_queued(void **state)
{
	start(ROLE_SMTP);
	ehlo();
	expect("MAIL FROM:<sender@outside.example>\r\n", "250 2.1.0 Ok\r\n");
	expect("RCPT TO:<alice@example.com>\r\n", "250 2.1.5 Ok\r\n");
	expect("DATA\r\n", "354 End data with <CR><LF>.<CR><LF>\r\n");
	fk_say("Subject: hello\r\n\r\nbody line\r\n..dot line\r\n.\r\n");
	assert_true(strncmp(out(), "250 2.0.0 Ok: queued as ", 24) == 0);
	char *file = queued_file(out());
	assert_non_null(strstr(file, "Received: from client.example (unknown [" CLIENT "])"));
	assert_non_null(strstr(file, "for <alice@example.com>"));
	assert_non_null(strstr(file, "body line"));
	assert_non_null(strstr(file, ".dot line"));	/* unstuffed */
	assert_null(strstr(file, "..dot line"));
	free(file);
	buf_reset(&fk.out);
	/* the next transaction starts clean */
	expect("RCPT TO:<alice@example.com>\r\n", "503 5.5.1 Error: need MAIL command\r\n");
	end();
}

/* Several commands in one read: the replies come in order, the message
 * after DATA in the same read too. */
static void test_pipelining(void **state)
{
	start(ROLE_SMTP);
	fk_say("EHLO client.example\r\nMAIL FROM:<s@outside.example>\r\n"
	    "RCPT TO:<alice@example.com>\r\nRCPT TO:<nobody@example.com>\r\n"
	    "RCPT TO:<anyone@example.net>\r\nDATA\r\nSubject: x\r\n\r\nhi\r\n.\r\nNOOP\r\n");
	const char *o = out();
	const char *want[] = {
		"250-mx.example.org\r\n", "250 SMTPUTF8\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
		"550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in virtual mailbox table\r\n"
		"250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok: queued as ",
		"\r\n250 2.0.0 Ok\r\n",
	};
	const char *p = o;
	for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++) {
		p = strstr(p, want[i]);
		if (p == NULL)
			fail_msg("missing, in order: %s\nreplies:\n%s", want[i], o);
		p += strlen(want[i]);
	}
	assert_true(has_log("NOQUEUE: reject: RCPT from unknown[" CLIENT "]: 550 5.1.1 <nobody@example.com>"));
	end();
}

/* Lines cut anywhere between reads, even between CR and LF. */
static void test_partial_lines(void **state)
{
	static const char text[] = "EHLO a.example\r\nMAIL FROM:<s@outside.example>\r\nNOOP\r\n";
	size_t cuts[] = { 2, 15, 16, 30, 45 };
	start(ROLE_SMTP);
	fk_input(text, strlen(text), cuts, 5);
	fk_run(0);
	const char *o = out();
	assert_non_null(strstr(o, "250 SMTPUTF8\r\n250 2.1.0 Ok\r\n250 2.0.0 Ok\r\n"));
	end();
}

/* A bad command gets its 5xx and the session goes on. */
static void test_bad_commands(void **state)
{
	start(ROLE_SMTP);
	expect("FOO bar\r\n", "500 5.5.2 Error: command not recognized\r\n");
	ehlo();
	expect("MAIL FROM:<s@outside.example> FOO=1\r\n", "555 5.5.4 Unsupported option: FOO=1\r\n");
	expect("MAIL FROM:<s@outside.example\r\n", "501 5.1.7 Bad sender address syntax\r\n");
	expect("MAIL TO:<s@outside.example>\r\n", "501 5.5.4 Syntax: MAIL FROM:<address>\r\n");
	expect("RCPT TO:<alice@example.com>\r\n", "503 5.5.1 Error: need MAIL command\r\n");
	expect("DATA\r\n", "503 5.5.1 Error: need RCPT command\r\n");
	expect(" \r\n", "500 5.5.2 Error: command not recognized\r\n");
	expect("NOOP\r\n", "250 2.0.0 Ok\r\n");
	assert_false(fk.closed);
	end();
}

/* smtpd_hard_error_limit (20): the 20th error ends the session. */
static void test_too_many_errors(void **state)
{
	start(ROLE_SMTP);
	for (int i = 0; i < 19; i++)
		expect("BOGUS\r\n", "500 5.5.2 Error: command not recognized\r\n");
	assert_false(fk.closed);
	fk_say("BOGUS\r\nNOOP\r\n");
	assert_string_equal(out(), "500 5.5.2 Error: command not recognized\r\n"
	    "421 4.7.0 mx.example.org Error: too many errors\r\n");
	assert_true(fk.closed);
	assert_true(has_log("too many errors after UNKNOWN from unknown[" CLIENT "]"));
	fk_clear_queue();
}

/* BDAT (RFC 3030) is not offered: an unknown command, the session goes on. */
static void test_bdat_not_supported(void **state)
{
	start(ROLE_SMTP);
	fk_say("EHLO a.example\r\n");
	assert_null(strstr(out(), "CHUNKING"));
	buf_reset(&fk.out);
	expect("MAIL FROM:<s@outside.example>\r\n", "250 2.1.0 Ok\r\n");
	expect("BDAT 5 LAST\r\n", "500 5.5.2 Error: command not recognized\r\n");
	expect("NOOP\r\n", "250 2.0.0 Ok\r\n");
	end();
}

static void test_auth_plain(void **state)
{
	start(ROLE_SUBMISSION);
	ehlo();
	expect("MAIL FROM:<plain@example.com>\r\n", "530 5.7.0 Authentication required\r\n");
	expect("AUTH PLAIN AHBsYWluQGV4YW1wbGUuY29tAHdyb25n\r\n",
	    "535 5.7.8 Error: authentication failed: authentication failure\r\n");
	assert_true(has_log("SASL PLAIN authentication failed: authentication failure, "
	    "sasl_username=plain@example.com"));
	/* without initial response: 334, then the response */
	expect("AUTH PLAIN\r\n", "334 \r\n");
	expect("AHBsYWluQGV4YW1wbGUuY29tAHBsYWlucHc=\r\n", "235 2.7.0 Authentication successful\r\n");
	expect("AUTH PLAIN AHBsYWluQGV4YW1wbGUuY29tAHBsYWlucHc=\r\n",
	    "503 5.5.1 Error: already authenticated\r\n");
	expect("MAIL FROM:<plain@example.com>\r\n", "250 2.1.0 Ok\r\n");
	expect("RCPT TO:<someone@outside.example>\r\n", "250 2.1.5 Ok\r\n");	/* relay */
	expect("DATA\r\n", "354 End data with <CR><LF>.<CR><LF>\r\n");
	fk_say("Subject: x\r\n\r\nhi\r\n.\r\n");
	assert_true(strncmp(out(), "250 2.0.0 Ok: queued as ", 24) == 0);
	assert_true(has_log("sasl_method=PLAIN, sasl_username=plain@example.com"));
	buf_reset(&fk.out);
	end();
}

static void test_auth_login_and_junk(void **state)
{
	start(ROLE_SMTP);
	ehlo();
	expect("AUTH LOGIN\r\n", "334 VXNlcm5hbWU6\r\n");
	expect("!!!\r\n", "501 5.5.2 Cannot decode response\r\n");
	expect("AUTH LOGIN\r\n", "334 VXNlcm5hbWU6\r\n");
	expect("*\r\n", "501 5.7.0 Authentication aborted\r\n");
	expect("AUTH CRAM-MD5\r\n", "504 5.5.4 Unrecognized authentication type\r\n");
	expect("AUTH PLAIN ===\r\n", "501 5.5.2 Cannot decode response\r\n");
	/* the whole exchange pipelined in one read */
	expect("AUTH LOGIN\r\ncGxhaW5AZXhhbXBsZS5jb20=\r\ncGxhaW5wdw==\r\n",
	    "334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n235 2.7.0 Authentication successful\r\n");
	assert_true(has_log("disconnect") == 0);
	end();
	assert_true(has_log("ehlo=1 auth=1/5 quit=1 commands=3/7"));
}

/* STARTTLS: bytes pipelined after it are never read as commands. */
static void test_starttls_boundary(void **state)
{
	start(ROLE_SMTP);
	ehlo();
	/* no certificate: not offered, refused, and the session goes on */
	expect("STARTTLS\r\nNOOP\r\n", "502 5.5.1 Error: command not implemented\r\n250 2.0.0 Ok\r\n");
	end();

	fk.eng.roles[ROLE_SMTP].tls_may = 1;	/* as with a certificate */
	start(ROLE_SMTP);
	fk_say("EHLO a.example\r\n");
	assert_non_null(strstr(out(), "250-STARTTLS\r\n"));
	buf_reset(&fk.out);
	expect("STARTTLS extra\r\n", "501 5.5.4 Syntax: STARTTLS\r\n");
	fk_say("STARTTLS\r\nMAIL FROM:<injected@outside.example>\r\n");
	assert_string_equal(out(), "220 2.0.0 Ready to start TLS\r\n");	/* nothing after */
	assert_true(fk.tls_started);
	assert_true(has_log("improper command pipelining after STARTTLS from unknown[" CLIENT "]"));
	assert_true(fk.closed);		/* our fake handshake fails */
	/* the same bytes in a later read are dropped too */
	start(ROLE_SMTP);
	size_t cut[] = { 10 };
	fk_input("STARTTLS\r\nNOOP\r\n", 16, cut, 1);
	fk_run(0);
	assert_string_equal(out(), "220 2.0.0 Ready to start TLS\r\n");
	fk.eng.roles[ROLE_SMTP].tls_may = 0;
	fk_clear_queue();
}

/* The incoming/ directory holds no file. */
static int queue_empty(void)
{
	char path[160];
	snprintf(path, sizeof(path), "%s/incoming", fk.qdir);
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n == 0;
}

/* A client gone in the middle of DATA: the session ends, its queue file
 * goes, and nothing of it stays allocated (session_fuzz found the content
 * line buffer leaked; the build-san run of this test sees a leak). */
static void test_hangup_in_data(void **state)
{
	start(ROLE_SMTP);
	ehlo();
	expect("MAIL FROM:<s@outside.example>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n",
	    "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n");
	static const char part[] = "Subject: s\r\n\r\nx\n.\nno end";
	fk_input(part, strlen(part), NULL, 0);
	fk_run(1);
	assert_true(fk.closed);
	assert_string_equal(out(), "");
	assert_true(has_log("lost connection after DATA from unknown[" CLIENT "]"));
	assert_true(queue_empty());
}

/* The events for the ban engine: the kind comes from where the reply
 * was made (a relay refusal, another reject, AUTH). */
static void test_event_kinds(void **state)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0);
	fk.eng.warden_fd = sv[0];
	start(ROLE_SMTP);
	ehlo();
	expect("MAIL FROM:<s@outside.example>\r\n", "250 2.1.0 Ok\r\n");
	expect("RCPT TO:<x@outside.example>\r\n", "554 5.7.1 <x@outside.example>: Relay access denied\r\n");
	expect("RCPT TO:<nobody@example.com>\r\n",
	    "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in virtual mailbox table\r\n");
	enum warden_event want[] = { WEV_RELAY_DENIED, WEV_REJECT };
	for (int i = 0; i < 2; i++) {
		struct msg m;
		assert_int_equal(msg_recv(sv[1], &m), 1);
		assert_int_equal(m.type, MSG_WARDEN_EVENT);
		assert_int_equal(msg_get_u32(&m), want[i]);
		assert_string_equal(msg_get_str(&m), CLIENT);
		msg_free(&m);
	}
	end();
	fk.eng.warden_fd = -1;
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_greeting_and_ehlo),
		cmocka_unit_test(test_message_queued),
		cmocka_unit_test(test_pipelining),
		cmocka_unit_test(test_partial_lines),
		cmocka_unit_test(test_bad_commands),
		cmocka_unit_test(test_too_many_errors),
		cmocka_unit_test(test_bdat_not_supported),
		cmocka_unit_test(test_auth_plain),
		cmocka_unit_test(test_auth_login_and_junk),
		cmocka_unit_test(test_starttls_boundary),
		cmocka_unit_test(test_event_kinds),
		cmocka_unit_test(test_hangup_in_data),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
