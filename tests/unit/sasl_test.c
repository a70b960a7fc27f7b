/* sasl_test — the SMTP AUTH password backends with the real libxcrypt:
 * every scheme against hashes made by doveadm pw (committed fixtures and,
 * when /usr/bin/doveadm exists, fresh ones), malformed passwd-file lines
 * reported with file:line, unknown users, answers only through the loop,
 * cancel, a flood answered TEMPFAIL; the dovecot client against a fake
 * auth server on the loop, and against a real Dovecot when
 * MW_DOVECOT_AUTH=/path/to/auth-socket is set (tests/integ/test_sasl_dovecot.py). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <crypt.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/loop.h"
#include "sasl/sasl.h"
#include "sasl/sasl_int.h"

#define DATA "data/sasl/"
#define MAXR 256

/* -- collecting answers ------------------------------------------------ */
struct answer {
	int done;
	int order;			/* 1 = answered first */
	enum sasl_result r;
	char why[128];
	char user[128];			/* the backend's name on OK ("" if none) */
};
static struct answer ans[MAXR];
static int nwant, ngot, in_check;

static void on_done(void *arg, enum sasl_result r, const char *why, const char *user)
{
	struct answer *a = arg;
	assert_false(in_check);		/* never from inside sasl_check */
	assert_int_equal(a->done, 0);
	a->done = 1;
	a->order = ngot + 1;
	a->r = r;
	snprintf(a->why, sizeof(a->why), "%s", why);
	snprintf(a->user, sizeof(a->user), "%s", user ? user : "");
	if (r != SASL_OK)
		assert_null(user);
	if (++ngot == nwant)
		loop_exit();
}

static struct loop_timer guard;
static void guard_fired(void *arg) { fail_msg("no answer within 20 s"); }

static struct sasl_req *ask(struct sasl *s, int i, const char *user, const char *pass)
{
	memset(&ans[i], 0, sizeof(ans[i]));
	in_check = 1;
	struct sasl_req *r = sasl_check(s, "PLAIN", user, pass, "192.0.2.1", on_done, &ans[i]);
	in_check = 0;
	assert_non_null(r);
	assert_int_equal(ans[i].done, 0);
	return r;
}

static void run_until(int want)
{
	nwant = want;
	if (ngot < nwant) {
		loop_timer_set(&guard, 20000, guard_fired, NULL);
		loop_run();
		loop_timer_clear(&guard);
	}
	assert_int_equal(ngot, want);
}

static int setup(void **state)
{
	loop_init();
	ngot = 0;
	nwant = -1;
	return 0;
}

/* -- passwd-file -------------------------------------------------------- */
static const struct { const char *user, *pass; enum sasl_result want; } cases[] = {
	{ "sha512crypt@example.com", "sha512cryptpw", SASL_OK },
	{ "sha512crypt@example.com", "sha512cryptPW", SASL_FAIL },
	{ "sha256crypt@example.com", "sha256cryptpw", SASL_OK },
	{ "sha256crypt@example.com", "", SASL_FAIL },
	{ "blfcrypt@example.com", "blfcryptpw", SASL_OK },
	{ "blfcrypt@example.com", "blfcryptp", SASL_FAIL },
	{ "crypt@example.com", "cryptpw", SASL_OK },
	{ "crypt@example.com", "cryptpw ", SASL_FAIL },
	{ "md5crypt@example.com", "md5cryptpw", SASL_OK },
	{ "md5crypt@example.com", "x", SASL_FAIL },
	{ "yescrypt@example.com", "yescryptpw", SASL_OK },
	{ "yescrypt@example.com", "yescryptpwx", SASL_FAIL },
	{ "plain@example.com", "plainpw", SASL_OK },
	{ "plain@example.com", "second", SASL_FAIL },	/* the first entry wins */
	{ "plain@example.com", "plainp", SASL_FAIL },
	{ "clear@example.com", "clearpw", SASL_OK },
	{ "CLEAR@Example.com", "clearpw", SASL_OK },	/* %Lu: lowercased */
	{ "bare@example.com", "barepw", SASL_OK },	/* bare crypt, mixed case in file */
	{ "BARE@EXAMPLE.COM", "barepw", SASL_OK },
	{ "bare@example.com", "Barepw", SASL_FAIL },
	{ "nobody@example.com", "sha512cryptpw", SASL_FAIL },
	{ "", "", SASL_FAIL },
};
#define NCASES (int)(sizeof(cases) / sizeof(cases[0]))

static void test_pwfile_schemes(void **state)
{
	char err[512];
	struct sasl *s = sasl_open("passwd-file", DATA "doveadm.passwd", err, sizeof(err));
	assert_non_null(s);
	for (int i = 0; i < NCASES; i++)
		ask(s, i, cases[i].user, cases[i].pass);
	run_until(NCASES);
	for (int i = 0; i < NCASES; i++) {
		if (ans[i].r != cases[i].want)
			fail_msg("%s/%s: got %d want %d (%s)", cases[i].user, cases[i].pass,
			    ans[i].r, cases[i].want, ans[i].why);
	}
	assert_string_equal(ans[20].why, "unknown user");
	assert_string_equal(ans[1].why, "password mismatch");
	sasl_close(s);
}

/* Hashes doveadm makes right now, and ours checked by doveadm pw -t. */
static void test_doveadm_roundtrip(void **state)
{
	static const char *schemes[] = { "SHA512-CRYPT", "SHA256-CRYPT", "BLF-CRYPT", "CRYPT", "PLAIN" };
	char cmd[1024], line[512], err[256], out[512];
	if (access("/usr/bin/doveadm", X_OK) != 0)
		skip();
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		snprintf(cmd, sizeof(cmd), "/usr/bin/doveadm pw -s %s -p 's3cr3t:x'", schemes[i]);
		FILE *p = popen(cmd, "r");
		assert_non_null(p);
		assert_non_null(fgets(line, sizeof(line), p));
		assert_int_equal(pclose(p), 0);
		line[strcspn(line, "\n")] = '\0';
		assert_int_equal(sasl_verify_field(line, "s3cr3t:x", err, sizeof(err)), 1);
		assert_int_equal(sasl_verify_field(line, "s3cr3t:y", err, sizeof(err)), 0);

		assert_int_equal(sasl_hash(schemes[i], "s3cr3t", out, sizeof(out), err, sizeof(err)), 0);
		snprintf(cmd, sizeof(cmd), "/usr/bin/doveadm pw -t '%s' -p s3cr3t >/dev/null 2>&1", out);
		if (system(cmd) != 0)
			fail_msg("doveadm pw -t rejects our %s", out);
		snprintf(cmd, sizeof(cmd), "/usr/bin/doveadm pw -t '%s' -p s3cr3T >/dev/null 2>&1", out);
		assert_int_not_equal(system(cmd), 0);
	}
	assert_int_equal(sasl_hash("CRYPT", "x", out, sizeof(out), err, sizeof(err)), 0);
	assert_memory_equal(out, "{CRYPT}$y$", 10);
	assert_int_equal(sasl_hash("MD4", "x", out, sizeof(out), err, sizeof(err)), -1);
}

static void test_pwfile_malformed(void **state)
{
	static const struct { const char *file, *msg; } bad[] = {
		{ DATA "bad_nocolon.passwd", DATA "bad_nocolon.passwd:4: missing ':'" },
		{ DATA "bad_scheme.passwd", DATA "bad_scheme.passwd:2: user u@example.com: unknown password scheme {ROT13}" },
		{ DATA "bad_prefix.passwd", DATA "bad_prefix.passwd:3: user u@example.com: {SHA512-CRYPT} hash does not start with $6$" },
		{ DATA "bad_empty.passwd", DATA "bad_empty.passwd:1: user u@example.com: empty password" },
		{ DATA "does-not-exist", DATA "does-not-exist: No such file or directory" },
	};
	char err[512];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_null(sasl_open("passwd-file", bad[i].file, err, sizeof(err)));
		if (strncmp(err, bad[i].msg, strlen(bad[i].msg)) != 0)
			fail_msg("%s: got '%s'", bad[i].file, err);
	}
	assert_null(sasl_open("ldap", "x", err, sizeof(err)));
	assert_non_null(strstr(err, "unknown sasl type 'ldap'"));
	assert_int_equal(sasl_verify_field("{SHA512-CRYPT}", "x", err, sizeof(err)), -1);
	assert_int_equal(sasl_verify_field("{BLF-CRYPT}$6$abc$def", "x", err, sizeof(err)), -1);
	assert_int_equal(sasl_verify_field("{PLAIN", "x", err, sizeof(err)), -1);
}

/* Cancelled requests never call back, whether queued or being hashed. */
static void test_pwfile_cancel(void **state)
{
	char err[512];
	struct sasl_req *r[40];
	struct sasl *s = sasl_open("passwd-file", DATA "doveadm.passwd", err, sizeof(err));
	assert_non_null(s);
	for (int i = 0; i < 40; i++)
		r[i] = ask(s, i, "sha512crypt@example.com", i % 3 ? "no" : "sha512cryptpw");
	for (int i = 0; i < 40; i += 2)
		sasl_cancel(r[i]);
	run_until(20);
	for (int i = 0; i < 40; i++) {
		assert_int_equal(ans[i].done, i % 2);
		if (i % 2)
			assert_int_equal(ans[i].r, i % 3 ? SASL_FAIL : SASL_OK);
	}
	/* cancel one more and close with requests still in flight */
	r[0] = ask(s, 0, "sha512crypt@example.com", "x");
	ask(s, 1, "sha512crypt@example.com", "x");
	sasl_cancel(r[0]);
	sasl_close(s);
	assert_int_equal(ans[0].done + ans[1].done, 0);
}

static int ticks;
static struct loop_timer tick;
static void on_tick(void *arg) { ticks++; }

/* Past the queue bound: TEMPFAIL at once (but through the loop), no hang. */
static void test_pwfile_flood(void **state)
{
	char err[512], path[] = "/tmp/sasl_test_flood.XXXXXX", setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data cd = { 0 };
	/* a slow hash (bcrypt cost 11): the workers take at most two requests
	 * while the loop queues all 200 */
	assert_non_null(crypt_gensalt_rn("$2b$", 11, NULL, 0, setting, sizeof(setting)));
	const char *h = crypt_rn("right", setting, &cd, sizeof(cd));
	assert_non_null(h);
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	fprintf(f, "slow@example.com:{BLF-CRYPT}%s\n", h);
	fclose(f);
	size_t saved = sasl_pwfile_max_pending;
	sasl_pwfile_max_pending = 8;
	struct sasl *s = sasl_open("passwd-file", path, err, sizeof(err));
	sasl_pwfile_max_pending = saved;
	unlink(path);
	assert_non_null(s);
	for (int i = 0; i < 200; i++)
		ask(s, i, "slow@example.com", "wrong");
	loop_timer_set(&tick, 0, on_tick, NULL);
	run_until(200);
	int temp = 0, failed = 0;
	for (int i = 0; i < 200; i++) {
		temp += ans[i].r == SASL_TEMPFAIL;
		failed += ans[i].r == SASL_FAIL;
	}
	assert_true(temp >= 200 - 8 - 2);	/* two workers may have taken one each */
	assert_true(failed >= 8);
	assert_int_equal(temp + failed, 200);
	assert_int_equal(ticks, 1);		/* the loop kept running meanwhile */
	assert_string_equal(ans[199].why, "too many authentications in progress");
	sasl_close(s);
}

/* A clean client's check overtakes the queued checks of suspect ones. */
static void test_clean_lane_first(void **state)
{
	char path[] = "/tmp/sasl-lane-XXXXXX", err[256], setting[128];
	struct crypt_data cd;
	memset(&cd, 0, sizeof(cd));
	assert_non_null(crypt_gensalt_rn("$2b$", 10, NULL, 0, setting, sizeof(setting)));
	const char *h = crypt_rn("right", setting, &cd, sizeof(cd));
	assert_non_null(h);
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	fprintf(f, "u@example.com:{BLF-CRYPT}%s\n", h);
	fclose(f);
	int saved = sasl_pwfile_threads;
	sasl_pwfile_threads = 1;
	struct sasl *s = sasl_open("passwd-file", path, err, sizeof(err));
	sasl_pwfile_threads = saved;
	unlink(path);
	assert_non_null(s);
	for (int i = 0; i < 6; i++) {
		memset(&ans[i], 0, sizeof(ans[i]));
		assert_non_null(sasl_check_flags(s, "PLAIN", "u@example.com", "wrong", "192.0.2.9",
		    SASL_SUSPECT, on_done, &ans[i]));
	}
	memset(&ans[6], 0, sizeof(ans[6]));
	assert_non_null(sasl_check(s, "PLAIN", "u@example.com", "right", "192.0.2.1", on_done, &ans[6]));
	run_until(7);
	assert_int_equal(ans[6].r, SASL_OK);
	/* the worker may already hold the first suspect check, no more */
	assert_true(ans[6].order <= 2);
	for (int i = 0; i < 6; i++)
		assert_int_equal(ans[i].r, SASL_FAIL);
	sasl_close(s);
}

/* -- dovecot: a fake auth server on the same loop ------------------------ */
struct fake {
	int lfd, cfd;
	char in[32768];
	size_t len;
	int auths;			/* AUTH lines seen */
	char last_auth[1024];
};
static struct fake fk;

static void fk_send(const char *s)
{
	assert_int_equal(write(fk.cfd, s, strlen(s)), (ssize_t)strlen(s));
}

static void fk_close(void)
{
	loop_unwatch(fk.cfd);
	close(fk.cfd);
	fk.cfd = -1;
}

static void fk_line(char *line)
{
	char id[32], *resp, out[256];
	unsigned char raw[512];
	if (strncmp(line, "AUTH\t", 5) != 0)
		return;
	fk.auths++;
	snprintf(fk.last_auth, sizeof(fk.last_auth), "%.900s", line);
	snprintf(id, sizeof(id), "%.*s", (int)strcspn(line + 5, "\t"), line + 5);
	resp = strstr(line, "\tresp=");
	assert_non_null(resp);
	int n = EVP_DecodeBlock(raw, (unsigned char *)resp + 6, (int)strlen(resp + 6));
	assert_true(n > 2);
	const char *user = (char *)raw + 1, *pass = user + strlen(user) + 1;
	if (strcmp(user, "drop") == 0) {
		fk_close();
		return;
	}
	if (strcmp(user, "slow") == 0)
		return;
	if (strcmp(user, "temp") == 0)
		snprintf(out, sizeof(out), "FAIL\t%s\tuser=temp\ttemp\n", id);
	else if (strcmp(user, "Alias") == 0 && strcmp(pass, "pw") == 0)	/* Dovecot-escaped */
		snprintf(out, sizeof(out), "OK\t%s\tuser=real\001tname\033x@example.com\n", id);
	else if (strcmp(user, "good") == 0 && strcmp(pass, "pw") == 0)
		snprintf(out, sizeof(out), "OK\t%s\tuser=good\n", id);
	else
		snprintf(out, sizeof(out), "FAIL\t%s\tuser=%.64s\treason=nope\n", id, user);
	fk_send(out);
}

static void fk_read(int fd, int events, void *arg)
{
	ssize_t n = read(fd, fk.in + fk.len, sizeof(fk.in) - fk.len - 1);
	if (n <= 0) {
		fk_close();
		return;
	}
	fk.len += (size_t)n;
	char *nl;
	while (fk.cfd >= 0 && (nl = memchr(fk.in, '\n', fk.len)) != NULL) {
		*nl = '\0';
		size_t used = (size_t)(nl - fk.in) + 1;
		fk_line(fk.in);
		memmove(fk.in, fk.in + used, fk.len - used);
		fk.len -= used;
	}
}

static void fk_accept(int fd, int events, void *arg)
{
	int c = accept(fd, NULL, NULL);
	assert_true(c >= 0);
	if (fk.cfd >= 0)
		fk_close();
	fk.cfd = c;
	fk.len = 0;
	fk_send("VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nMECH\tLOGIN\tplaintext\n"
	    "SPID\t1\nCUID\t7\nCOOKIE\t0123456789abcdef\nDONE\n");
	loop_watch(c, LOOP_READ, fk_read, NULL);
}

static char fkdir[64];

static void fk_start(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	snprintf(fkdir, sizeof(fkdir), "/tmp/sasl_test.XXXXXX");
	assert_non_null(mkdtemp(fkdir));
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/auth", fkdir);
	fk.cfd = -1;
	fk.auths = 0;
	fk.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fk.lfd >= 0);
	assert_int_equal(bind(fk.lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(fk.lfd, 8), 0);
	loop_watch(fk.lfd, LOOP_READ, fk_accept, NULL);
}

static void fk_stop(void)
{
	char p[128];
	if (fk.cfd >= 0)
		fk_close();
	loop_unwatch(fk.lfd);
	close(fk.lfd);
	snprintf(p, sizeof(p), "%s/auth", fkdir);
	unlink(p);
	rmdir(fkdir);
}

static uint64_t fake_now = 100000;
static uint64_t fake_clock(void) { return fake_now; }

static void test_dovecot_fake(void **state)
{
	char err[512], cwd[4096];
	fk_start();
	/* a relative path, resolved against the cwd at open time */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(fkdir), 0);
	struct sasl *s = sasl_open("dovecot", "auth", err, sizeof(err));
	assert_int_equal(chdir(cwd), 0);
	assert_non_null(s);
	/* several requests multiplexed, sent before the handshake finished */
	ask(s, 0, "good", "pw");
	ask(s, 1, "good", "bad");
	ask(s, 2, "temp", "x");
	ask(s, 3, "someone", "pw");
	struct sasl_req *c = ask(s, 4, "good", "pw");
	sasl_cancel(c);
	run_until(4);
	assert_int_equal(ans[0].r, SASL_OK);
	assert_int_equal(ans[1].r, SASL_FAIL);
	assert_string_equal(ans[1].why, "nope");
	assert_int_equal(ans[2].r, SASL_TEMPFAIL);
	assert_int_equal(ans[3].r, SASL_FAIL);
	assert_int_equal(ans[4].done, 0);
	assert_string_equal(ans[0].user, "good");
	/* "secured" only when the caller says the session is on TLS */
	assert_non_null(strstr(fk.last_auth, "\tPLAIN\tservice=smtp\trip=192.0.2.1\tresp="));
	assert_null(strstr(fk.last_auth, "secured"));
	ngot = 0;
	memset(&ans[0], 0, sizeof(ans[0]));
	assert_non_null(sasl_check_flags(s, "PLAIN", "Alias", "pw", "192.0.2.1", SASL_SECURED,
	    on_done, &ans[0]));
	run_until(1);
	assert_non_null(strstr(fk.last_auth, "\tPLAIN\tservice=smtp\tsecured\trip=192.0.2.1\tresp="));
	/* the authenticated name is Dovecot's user=, unescaped, printable only */
	assert_int_equal(ans[0].r, SASL_OK);
	assert_string_equal(ans[0].user, "real?name?x@example.com");

	/* the connection drops: everything open gets TEMPFAIL */
	ngot = 0;
	ask(s, 0, "slow", "x");
	ask(s, 1, "drop", "x");
	run_until(2);
	assert_int_equal(ans[0].r, SASL_TEMPFAIL);
	assert_int_equal(ans[1].r, SASL_TEMPFAIL);

	/* within the backoff: TEMPFAIL without trying; after it, reconnects */
	fake_now = clock_mono_ms() + 10;
	clock_set_mono(fake_clock);
	ngot = 0;
	int before = fk.auths;
	ask(s, 0, "good", "pw");
	run_until(1);
	assert_int_equal(ans[0].r, SASL_TEMPFAIL);
	assert_int_equal(fk.auths, before);
	clock_set_mono(NULL);
	usleep(1100 * 1000);
	ngot = 0;
	ask(s, 0, "good", "pw");
	run_until(1);
	assert_int_equal(ans[0].r, SASL_OK);

	/* the server is gone entirely */
	fk_stop();
	ngot = 0;
	usleep(1100 * 1000);
	ask(s, 0, "good", "pw");
	run_until(1);
	assert_int_equal(ans[0].r, SASL_TEMPFAIL);
	/* a request left open at close is dropped silently */
	ask(s, 1, "good", "pw");
	sasl_close(s);
	/* Dovecot not there at start: open anyway (mail keeps flowing),
	 * every check answers TEMPFAIL until it appears. */
	s = sasl_open("dovecot", "/nonexistent/auth", err, sizeof(err));
	assert_non_null(s);
	ngot = 0;
	ask(s, 0, "good", "pw");
	run_until(1);
	assert_int_equal(ans[0].r, SASL_TEMPFAIL);
	sasl_close(s);
}

/* -- dovecot: the real one (tests/integ/test_sasl_dovecot.py) ------------ */
static void test_dovecot_real(void **state)
{
	const char *sock = getenv("MW_DOVECOT_AUTH");
	const char *user = getenv("MW_DOVECOT_USER"), *pass = getenv("MW_DOVECOT_PASS");
	char err[512], line[64];
	if (sock == NULL || user == NULL || pass == NULL)
		skip();
	struct sasl *s = sasl_open("dovecot", sock, err, sizeof(err));
	if (s == NULL)
		fail_msg("%s", err);
	ask(s, 0, user, pass);
	ask(s, 1, user, "wrong-password");
	ask(s, 2, "nobody@example.com", pass);
	for (int i = 3; i < 13; i++)
		ask(s, i, user, pass);
	run_until(13);
	assert_int_equal(ans[0].r, SASL_OK);
	assert_int_equal(ans[1].r, SASL_FAIL);
	assert_int_equal(ans[2].r, SASL_FAIL);
	for (int i = 3; i < 13; i++)
		assert_int_equal(ans[i].r, SASL_OK);
	printf("dovecot: OK for the right password, FAIL for a wrong one\n");
	if (getenv("MW_DOVECOT_WAIT_STOP")) {
		/* the driver stops dovecot, then tells us to go on */
		printf("READY-FOR-STOP\n");
		fflush(stdout);
		assert_non_null(fgets(line, sizeof(line), stdin));
		ngot = 0;
		ask(s, 0, user, pass);
		run_until(1);
		assert_int_equal(ans[0].r, SASL_TEMPFAIL);
		usleep(1100 * 1000);	/* past the backoff: a reconnect that fails */
		ngot = 0;
		ask(s, 0, user, pass);
		run_until(1);
		assert_int_equal(ans[0].r, SASL_TEMPFAIL);
		printf("dovecot: TEMPFAIL after dovecot stopped\n");
	}
	sasl_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_pwfile_schemes, setup),
		cmocka_unit_test_setup(test_doveadm_roundtrip, setup),
		cmocka_unit_test_setup(test_pwfile_malformed, setup),
		cmocka_unit_test_setup(test_pwfile_cancel, setup),
		cmocka_unit_test_setup(test_pwfile_flood, setup),
		cmocka_unit_test_setup(test_clean_lane_first, setup),
		cmocka_unit_test_setup(test_dovecot_fake, setup),
		cmocka_unit_test_setup(test_dovecot_real, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
