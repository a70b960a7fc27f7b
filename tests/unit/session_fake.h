/*
 * session_fake — drive one SMTP session of a real engine with fake I/O:
 * the client's bytes come from a string, cut into reads where the caller
 * says (pipelining, partial lines), replies are collected, the clock is
 * replaced, and no socket, TLS or DNS is used (src/smtp's struct
 * session_io seam). For session_test.c and tests/fuzz/session_fuzz.c
 * (one static copy each, like fuzz.h).
 *
 * The engine is built by engine_setup() from a config written into a
 * private queue directory (/tmp/mwsession.XXXXXX, with incoming/); maps
 * and the password file are the unit tests' fixtures under tests/unit.
 * Waits of the engine (group commit's sync thread, the password worker,
 * error sleeps) are driven by short runs of the event loop while the
 * fake clock moves on.
 */
#ifndef MW_SESSION_FAKE_H
#define MW_SESSION_FAKE_H
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "common/loop.h"
#include "smtp/engine_int.h"
#include "smtp/session.h"

#define FK_MAX_CUTS 64

static struct {
	struct engine eng;
	struct config *cfg;
	char qdir[128];
	struct session *s;	/* NULL once closed */
	int closed;
	int watch;		/* LOOP_* the session waits for */
	int tls_started;	/* io's starttls() was called */
	int eof;		/* recv() returns 0 once the input is used up */
	char *in;
	size_t inlen, pos;
	size_t cuts[FK_MAX_CUTS];	/* offsets where one read ends */
	size_t ncuts;
	struct buf out;		/* everything the session sent */
	struct buf log;		/* every log line's text, one per line */
	uint64_t now;
} fk;

static inline uint64_t fk_clock(void)
{
	return fk.now;
}

static inline void fk_tap(const char *text)
{
	if (buf_append(&fk.log, text, strlen(text)) == 0)
		buf_append(&fk.log, "\n", 1);
}

static inline ssize_t fk_recv(struct session *s, char *buf, size_t len)
{
	if (fk.pos >= fk.inlen) {
		if (fk.eof)
			return 0;
		errno = EAGAIN;
		return -1;
	}
	size_t end = fk.inlen;
	for (size_t i = 0; i < fk.ncuts; i++)
		if (fk.cuts[i] > fk.pos && fk.cuts[i] < end)
			end = fk.cuts[i];
	size_t n = end - fk.pos;
	if (n > len)
		n = len;
	memcpy(buf, fk.in + fk.pos, n);
	fk.pos += n;
	return (ssize_t)n;
}

static inline ssize_t fk_send(struct session *s, const char *buf, size_t len)
{
	if (buf_append(&fk.out, buf, len) < 0) {
		errno = EPIPE;
		return -1;
	}
	return (ssize_t)len;
}

static inline void fk_watch(struct session *s, int events)
{
	fk.watch = events;
}

static inline void fk_close(struct session *s)
{
	fk.closed = 1;
	fk.s = NULL;
	fk.watch = 0;
}

/* No TLS here: the handshake "fails" at once, as a client that hangs up. */
static inline void fk_starttls(struct session *s)
{
	fk.tls_started = 1;
	session_close(s, "lost connection");
}

static const struct session_io fk_io = {
	fk_recv, fk_send, fk_watch, fk_close, fk_starttls,
};

/* Remove the queue files the engine wrote (between sessions). */
static inline void fk_clear_queue(void)
{
	char path[160];
	snprintf(path, sizeof(path), "%s/incoming", fk.qdir);
	DIR *d = opendir(path);
	struct dirent *de;
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
}

static inline void fk_remove_dir(void)
{
	char path[160];
	if (fk.qdir[0] == '\0')
		return;
	fk_clear_queue();
	snprintf(path, sizeof(path), "%s/incoming", fk.qdir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/main.cf", fk.qdir);
	unlink(path);
	rmdir(fk.qdir);
	fk.qdir[0] = '\0';
}

/*
 * Build the engine (once per process). unit_dir: the tests/unit directory
 * (fixtures); parent: where the queue directory is made; extra: more
 * main.cf lines. The base config: no DNS, no
 * pregreet, no error sleeps, virtual mailboxes of example.com/.net,
 * AUTH (PLAIN, LOGIN) from the passwd-file fixture on every listener
 * without TLS.
 */
static inline struct engine *fk_engine(const char *unit_dir, const char *parent, const char *extra)
{
	char err[512], cwd[4096], path[160];
	FILE *f;

	loop_init();
	clock_set_mono(fk_clock);
	fk.now = 1000000;
	buf_init(&fk.out, 1 << 20);
	buf_init(&fk.log, 1 << 20);
	log_set_tap(fk_tap);
	int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (devnull < 0)
		abort();
	log_open("mailwarden", "localhost", devnull);
	log_set_service("smtpd");
	snprintf(fk.qdir, sizeof(fk.qdir), "%s/mwsession.XXXXXX", parent);
	if (mkdtemp(fk.qdir) == NULL) {
		perror("mkdtemp");
		abort();
	}
	snprintf(path, sizeof(path), "%s/incoming", fk.qdir);
	if (mkdir(path, 0700) < 0) {
		perror(path);
		abort();
	}
	atexit(fk_remove_dir);
	snprintf(path, sizeof(path), "%s/main.cf", fk.qdir);
	f = fopen(path, "w");
	if (f == NULL)
		abort();
	fprintf(f,
	    "myhostname = mx.example.org\n"
	    "mydestination = localhost\n"
	    "queue_directory = %s\n"
	    "virtual_mailbox_domains = example.com, example.net\n"
	    "virtual_mailbox_base = /tmp/mw-vmail\n"
	    "virtual_mailbox_maps = texthash:data/queue/vmailbox\n"
	    "mynetworks = 127.0.0.0/8\n"
	    "smtpd_peername_lookup = no\n"
	    "smtpd_error_sleep_time = 0\n"
	    "smtpd_sasl_failure_delay = 0\n"
	    "smtpd_sasl_auth_enable = yes\n"
	    "smtpd_sasl_type = passwd-file\n"
	    "smtpd_sasl_path = data/sasl/doveadm.passwd\n"
	    "smtpd_tls_auth_only = no\n"
	    "submission/inet/smtpd_tls_security_level = may\n"
	    "%s\n", fk.qdir, extra ? extra : "");
	fclose(f);
	if (getcwd(cwd, sizeof(cwd)) == NULL || chdir(unit_dir) < 0) {
		perror(unit_dir);
		abort();
	}
	fk.cfg = config_load(path, err, sizeof(err));
	if (fk.cfg == NULL) {
		fprintf(stderr, "session_fake: %s\n", err);
		abort();
	}
	/* one smtp and one submission listener, no descriptors */
	static const struct engine_listener l[] = { { -1, ROLE_SMTP }, { -1, ROLE_SUBMISSION } };
	engine_setup(&fk.eng, fk.cfg, l, 2, -1, -1);
	if (chdir(cwd) < 0)
		abort();
	fk.eng.io = &fk_io;
	return &fk.eng;
}

/* One short turn of the event loop: ready descriptors (sync thread,
 * password worker), due timers, idle callbacks. */
static inline void fk_exit_cb(void *arg)
{
	loop_exit();
}

static inline void fk_loop_once(void)
{
	static struct loop_timer t;
	loop_timer_set(&t, 0, fk_exit_cb, NULL);
	loop_run();
	loop_timer_clear(&t);
}

/* The session waits for the engine, not for the client. */
static inline int fk_busy(const struct session *s)
{
	return s->state == SMTP_ST_CONNECT || s->state == SMTP_ST_WAIT ||
	    s->state == SMTP_ST_COMMIT || s->sleeping || s->auth_step == AUTH_CHECKING ||
	    s->out_blocked || s->stash.len > 0;
}

/* A new session of role from addr; the 220 (or a refusal) is in fk.out. */
static inline void fk_start(enum smtp_role role, const char *addr)
{
	buf_reset(&fk.out);
	buf_reset(&fk.log);
	free(fk.in);
	fk.in = NULL;
	fk.inlen = fk.pos = 0;
	fk.ncuts = 0;
	fk.closed = 0;
	fk.tls_started = 0;
	fk.eof = 0;
	fk.s = NULL;
	fk.s = session_open(&fk.eng, -1, role, addr, 40000);
	if (fk.closed)
		fk.s = NULL;
}

/* More client input; cuts (offsets into data) end reads early. */
static inline void fk_input(const char *data, size_t n, const size_t *cuts, size_t ncuts)
{
	size_t base = fk.inlen;
	fk.in = realloc(fk.in, fk.inlen + n + 1);
	if (fk.in == NULL)
		abort();
	memcpy(fk.in + fk.inlen, data, n);
	fk.inlen += n;
	for (size_t i = 0; i < ncuts && fk.ncuts < FK_MAX_CUTS; i++)
		fk.cuts[fk.ncuts++] = base + cuts[i];
}

/* Run the session until it has read all input and waits for more (or,
 * with eof, until the client's end of input closes it), or it closed. */
static inline void fk_run(int eof)
{
	fk.eof = eof;
	int idle = 0;
	for (int steps = 0; steps < 100000 && !fk.closed && idle < 100; steps++) {
		struct session *s = fk.s;
		/* what epoll would report for what the session watches */
		if ((fk.watch & LOOP_WRITE) && s->out.len > 0) {
			session_event(s, LOOP_WRITE);
			continue;
		}
		if ((fk.watch & LOOP_READ) && (fk.pos < fk.inlen || fk.eof)) {
			session_event(s, LOOP_READ);
			continue;
		}
		if (!fk_busy(s) && fk.pos >= fk.inlen && (fk.watch & LOOP_READ))
			break;		/* waits for the client */
		fk_loop_once();
		idle = fk.s && !fk_busy(fk.s) ? idle + 1 : 0;	/* nothing left to do */
		if (fk.s && fk_busy(fk.s)) {
			fk.now += 50;	/* sleeps and delays pass */
			if (fk.s->state == SMTP_ST_COMMIT || fk.s->auth_step == AUTH_CHECKING)
				usleep(100);	/* a thread is working */
		}
	}
	fk_loop_once();		/* what the close left for the loop */
}

/* A string of input, all in one read, then run. */
static inline void fk_say(const char *text)
{
	fk_input(text, strlen(text), NULL, 0);
	fk_run(0);
}
#endif
