/*
 * journal — the systemd journal as a log source for the ban engine
 * (backend = systemd). journalmatch is parsed as fail2ban does: terms
 * FIELD=value separated by white space are ANDed (the same field twice
 * is an OR, journald's rule), "+" or a new line starts an alternative.
 * Entries are formatted as syslog lines so that fail2ban's filters match
 * them, and delivered through the same callback as file lines, with
 * "journal" as the path. Only entries added after journal_new() are read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-journal.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/util.h"
#include "warden/source/follow.h"
#include "warden/store/store.h"

#define JOURNAL_BATCH	1000	/* entries per loop turn */
#define FIELD_MAX	256	/* host, ident, pid */

struct journal_src {
	sd_journal *j;
	int fd;
	follow_line_fn *fn;
	void *arg;
	struct loop_timer timer;	/* sd_journal_get_timeout */
	struct loop_timer recheck;	/* while a journal directory is missing */
	char *match;
	unsigned dirs;			/* journal_dirs present at the last open */
	struct store *st;		/* where the position is kept, or NULL */
	char *key;			/* its name there: "journal:JAIL" */
	uint64_t last_usec;		/* realtime of the last entry delivered */
	int dirty;			/* last_usec not saved yet */
	char msg[FOLLOW_LINE_MAX + 1];
	char line[FOLLOW_LINE_MAX + 3 * FIELD_MAX + 32];
};

static int field_ok(const char *t)
{
	const char *eq = strchr(t, '=');
	if (eq == NULL || eq == t || (*t >= '0' && *t <= '9'))
		return 0;
	for (const char *p = t; p < eq; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return 0;
	return 1;
}

int journal_parse_match(const char *match, int (*fn)(void *arg, const char *term),
    void *arg, char *err, size_t errlen)
{
	size_t n = strlen(match);
	char *tok = xmalloc(n + 1);
	int terms = 0, rc = 0;		/* terms in the current alternative */
	const char *p = match;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r')
			p++;
		if (*p == '\0' || *p == '\n' || (*p == '+' && (p[1] == '\0' ||
		    strchr(" \t\r\n", p[1])))) {
			if (*p != '\0' && terms == 0 && *p == '+') {
				snprintf(err, errlen, "journalmatch: \"+\" without a term before it");
				rc = -1;
				break;
			}
			if (*p == '\0')
				break;
			p++;
			if (terms > 0 && (rc = fn(arg, NULL)) < 0)
				break;
			terms = 0;
			continue;
		}
		size_t len = 0;
		char q = 0;
		for (; *p && (q || !strchr(" \t\r\n", *p)); p++) {
			if (q == 0 && (*p == '"' || *p == '\'')) {
				q = *p;
			} else if (q && *p == q) {
				q = 0;
			} else {
				tok[len++] = *p;
			}
		}
		tok[len] = '\0';
		if (q) {
			snprintf(err, errlen, "journalmatch: unterminated quote");
			rc = -1;
			break;
		}
		if (!field_ok(tok)) {
			snprintf(err, errlen, "journalmatch: \"%.100s\" is not FIELD=value"
			    " (FIELD: A-Z, 0-9, _)", tok);
			rc = -1;
			break;
		}
		if ((rc = fn(arg, tok)) < 0) {
			snprintf(err, errlen, "journalmatch: cannot add \"%.100s\"", tok);
			break;
		}
		terms++;
	}
	free(tok);
	return rc < 0 ? -1 : 0;
}

static size_t put(char *out, size_t n, size_t o, const char *s, size_t len)
{
	for (size_t i = 0; i < len && o + 1 < n; i++)
		out[o++] = s[i];
	return o;
}

size_t journal_format(char *out, size_t n, const struct journal_fields *e)
{
	static const char mon[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
	    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	char head[64];
	struct tm tm;
	time_t t = (time_t)(e->realtime_usec / 1000000);
	size_t o = 0;
	if (n == 0)
		return 0;
	if (localtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	int h = snprintf(head, sizeof(head), "%s %2d %02d:%02d:%02d",
	    mon[tm.tm_mon % 12], tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	o = put(out, n, o, head, h > 0 ? (size_t)h : 0);
	if (e->hostname && *e->hostname) {
		o = put(out, n, o, " ", 1);
		o = put(out, n, o, e->hostname, strlen(e->hostname));
	}
	if (e->ident && *e->ident) {
		o = put(out, n, o, " ", 1);
		o = put(out, n, o, e->ident, strlen(e->ident));
		if (e->pid && *e->pid) {
			o = put(out, n, o, "[", 1);
			o = put(out, n, o, e->pid, strlen(e->pid));
			o = put(out, n, o, "]", 1);
		}
		o = put(out, n, o, ":", 1);
	}
	o = put(out, n, o, " ", 1);
	for (size_t i = 0; e->message && i < e->message_len; i++)
		o = e->message[i] == '\n' ? put(out, n, o, "\\n", 2) :
		    put(out, n, o, e->message + i, 1);
	out[o] = '\0';
	return o;
}

/* Copy field name's value of the current entry into b; 0 if absent. */
static int field(sd_journal *j, const char *name, char *b, size_t n, size_t *len)
{
	const void *d;
	size_t l, nl = strlen(name);
	if (sd_journal_get_data(j, name, &d, &l) < 0 || l <= nl)
		return 0;
	l -= nl + 1;
	if (l >= n)
		l = n - 1;
	memcpy(b, (const char *)d + nl + 1, l);
	b[l] = '\0';
	if (len)
		*len = l;
	return 1;
}

static void deliver_entry(struct journal_src *js)
{
	char host[FIELD_MAX], ident[FIELD_MAX], pid[FIELD_MAX], ts[32];
	struct journal_fields e = { 0 };
	if (field(js->j, "_HOSTNAME", host, sizeof(host), NULL))
		e.hostname = host;
	if (field(js->j, "SYSLOG_IDENTIFIER", ident, sizeof(ident), NULL) ||
	    field(js->j, "_COMM", ident, sizeof(ident), NULL))
		e.ident = ident;
	if (field(js->j, "SYSLOG_PID", pid, sizeof(pid), NULL) ||
	    field(js->j, "_PID", pid, sizeof(pid), NULL))
		e.pid = pid;
	if (field(js->j, "MESSAGE", js->msg, sizeof(js->msg), &e.message_len))
		e.message = js->msg;
	/* the entry's own time: the resume position; the line shows the
	 * sender's time when there is one */
	uint64_t at = 0;
	int have_at = sd_journal_get_realtime_usec(js->j, &at) >= 0;
	if (field(js->j, "_SOURCE_REALTIME_TIMESTAMP", ts, sizeof(ts), NULL))
		e.realtime_usec = strtoull(ts, NULL, 10);
	if (e.realtime_usec == 0)
		e.realtime_usec = at;
	size_t len = journal_format(js->line, sizeof(js->line), &e);
	if (have_at && at > js->last_usec) {
		js->last_usec = at;
		js->dirty = 1;
	}
	js->fn(js->arg, "journal", js->line, len);
}

/* Deliver up to max entries (0: all); 1 if more may be waiting. */
static int journal_read(struct journal_src *js, size_t max)
{
	size_t n = 0;
	int r;
	while ((max == 0 || n < max) && (r = sd_journal_next(js->j)) != 0) {
		if (r < 0) {
			log_error("journal: sd_journal_next: %s", strerror(-r));
			return 0;
		}
		deliver_entry(js);
		n++;
	}
	return max != 0 && n >= max;
}

static void on_idle(void *arg)
{
	struct journal_src *js = arg;
	if (journal_read(js, JOURNAL_BATCH))
		loop_at_idle(on_idle, js);
}

static void arm_timeout(struct journal_src *js);

static void on_event(int fd, int events, void *arg)
{
	struct journal_src *js = arg;
	int r = sd_journal_process(js->j);
	if (r < 0)
		log_error("journal: sd_journal_process: %s", strerror(-r));
	on_idle(js);
	arm_timeout(js);
}

static void on_timeout(void *arg)
{
	on_event(-1, 0, arg);
}

/* Some journal set-ups need a wake-up even without fd activity. */
static void arm_timeout(struct journal_src *js)
{
	uint64_t usec;
	if (sd_journal_get_timeout(js->j, &usec) < 0 || usec == (uint64_t)-1)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
	uint64_t ms = usec > now ? (usec - now) / 1000 + 1 : 0;
	loop_timer_set(&js->timer, ms > 60000 ? 60000 : ms, on_timeout, js);
}

static int add_term(void *arg, const char *term)
{
	sd_journal *j = arg;
	return term ? sd_journal_add_match(j, term, 0) : sd_journal_add_disjunction(j);
}

static int no_term(void *arg, const char *term)
{
	return 0;
}

/* The directories SD_JOURNAL_LOCAL_ONLY reads. libsystemd watches those
 * that exist when the journal is opened, never one created later (a
 * journald started after the warden creates /run/log/journal): while one
 * is missing, it is looked for every second and the journal opened again
 * when it appears. */
static const char *const journal_dirs[] = { "/run/log/journal", "/var/log/journal" };
#define JOURNAL_DIRS_ALL	3u
#define JOURNAL_RECHECK_MS	1000

static unsigned dirs_present(void)
{
	unsigned m = 0;
	for (size_t i = 0; i < sizeof(journal_dirs) / sizeof(*journal_dirs); i++)
		if (access(journal_dirs[i], F_OK) == 0)
			m |= 1u << i;
	return m;
}

/* Open the local journal with the match, placed so that next() returns
 * the entries to deliver. First open (reopen 0): only entries added from
 * now on. Reopen: after the entry at cursor, or from the head without one
 * (no matching entry had been seen: every one there now is new). */
static sd_journal *open_at(const char *match, int reopen, const char *cursor,
    uint64_t from_usec, char *err, size_t errlen)
{
	sd_journal *j;
	int r = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY);
	if (r < 0) {
		snprintf(err, errlen, "sd_journal_open: %s", strerror(-r));
		return NULL;
	}
	if (journal_parse_match(match, add_term, j, err, errlen) < 0)
		goto fail;
	if (reopen && cursor) {
		if ((r = sd_journal_seek_cursor(j, cursor)) < 0) {
			snprintf(err, errlen, "sd_journal_seek_cursor: %s", strerror(-r));
			goto fail;
		}
		/* on that entry, or before the first newer one if it is gone */
		if (sd_journal_next(j) > 0 && sd_journal_test_cursor(j, cursor) <= 0)
			(void)sd_journal_previous(j);
		return j;
	}
	if (reopen) {
		r = sd_journal_seek_head(j);
	} else if (from_usec > 0) {
		/* fail2ban's start: the last findtime, or after the last entry
		 * read before a restart if that is later */
		r = sd_journal_seek_realtime_usec(j, from_usec);
	} else if ((r = sd_journal_seek_tail(j)) >= 0) {
		/* On the last matching entry, next() returns only newer ones.
		 * With no matching entry (empty journal, or none matches yet)
		 * the journal stays at its tail, from where libsystemd's next()
		 * returns the LAST entry of the files (as of 252): of several
		 * entries that arrive together, only the last one would be
		 * read. Nothing matches yet, so every matching entry to come is
		 * new: read from the head. */
		r = sd_journal_previous(j);
		if (r == 0) {
			r = sd_journal_seek_head(j);
		} else if (r < 0) {
			log_warn("journal: sd_journal_previous: %s; reading entries from now on",
			    strerror(-r));
			struct timespec now = clock_wall_ts();
			r = sd_journal_seek_realtime_usec(j, (uint64_t)now.tv_sec * 1000000 +
			    (uint64_t)now.tv_nsec / 1000);
		}
	}
	if (r < 0) {
		snprintf(err, errlen, "sd_journal_seek: %s", strerror(-r));
		goto fail;
	}
	return j;
fail:
	sd_journal_close(j);
	return NULL;
}

static void on_recheck(void *arg)
{
	struct journal_src *js = arg;
	unsigned now = dirs_present(), appeared = now & ~js->dirs;
	js->dirs &= now;	/* one removed is looked for again */
	if (appeared) {
		char err[256], *cursor = NULL;
		/* what the old handle has, then open again after it */
		loop_cancel_idle(on_idle, js);
		(void)sd_journal_process(js->j);
		journal_read(js, 0);
		(void)sd_journal_get_cursor(js->j, &cursor);
		sd_journal *j = open_at(js->match, 1, cursor, 0, err, sizeof(err));
		free(cursor);
		int fd = j ? sd_journal_get_fd(j) : -1;
		if (j == NULL) {
			log_warn("journal: %s", err);
		} else if (fd < 0) {
			log_warn("journal: sd_journal_get_fd: %s", strerror(-fd));
			sd_journal_close(j);
		} else {
			loop_unwatch(js->fd);
			loop_timer_clear(&js->timer);
			sd_journal_close(js->j);
			js->j = j;
			js->fd = fd;
			for (size_t i = 0; i < sizeof(journal_dirs) / sizeof(*journal_dirs); i++)
				if (appeared & (1u << i))
					log_info("journal: %s appeared; journal opened again to read it",
					    journal_dirs[i]);
			js->dirs = now;
			loop_watch(fd, LOOP_READ, on_event, js);
			on_event(fd, 0, js);	/* entries already there */
		}
	}
	if (js->dirs != JOURNAL_DIRS_ALL)
		loop_timer_set(&js->recheck, JOURNAL_RECHECK_MS, on_recheck, js);
}

/* Where a jail's journal reading starts: now - findtime, or just after
 * the last entry read before (saved in st under key) if that is later;
 * 0 without a store (only entries from now on). */
static uint64_t start_usec(struct store *st, const char *key, long findtime,
    uint64_t *saved)
{
	unsigned long long ino = 0, off = 0;
	*saved = 0;
	if (st == NULL || key == NULL)
		return 0;
	struct timespec now = clock_wall_ts();
	uint64_t nowu = (uint64_t)now.tv_sec * 1000000 + (uint64_t)now.tv_nsec / 1000;
	uint64_t win = findtime > 0 ? (uint64_t)findtime * 1000000 : 0;
	uint64_t from = nowu > win ? nowu - win : 1;
	if (store_logpos_get(st, key, &ino, &off) == 1 && off > 0) {
		*saved = off;
		if (off + 1 > from)
			from = off + 1;
	}
	return from;
}

struct journal_src *journal_new(const char *match, follow_line_fn *fn, void *arg,
    struct store *st, const char *key, long findtime, char *err, size_t errlen)
{
	match = match ? match : "";
	if (journal_parse_match(match, no_term, NULL, err, errlen) < 0)
		return NULL;
	unsigned dirs = dirs_present();
	uint64_t saved;
	uint64_t from = start_usec(st, key, findtime, &saved);
	sd_journal *j = open_at(match, 0, NULL, from, err, errlen);
	if (j == NULL)
		return NULL;
	int fd = sd_journal_get_fd(j);
	if (fd < 0) {
		snprintf(err, errlen, "sd_journal_get_fd: %s", strerror(-fd));
		sd_journal_close(j);
		return NULL;
	}
	struct journal_src *js = xcalloc(1, sizeof(*js));
	js->j = j;
	js->fd = fd;
	js->fn = fn;
	js->arg = arg;
	js->match = xstrdup(match);
	js->dirs = dirs;
	js->st = st;
	js->key = key ? xstrdup(key) : NULL;
	js->last_usec = saved;
	js->timer.slot = (size_t)-1;
	js->recheck.slot = (size_t)-1;
	loop_watch(fd, LOOP_READ, on_event, js);
	arm_timeout(js);
	if (dirs != JOURNAL_DIRS_ALL)
		loop_timer_set(&js->recheck, JOURNAL_RECHECK_MS, on_recheck, js);
	return js;
}

void journal_poll(struct journal_src *js)
{
	sd_journal_process(js->j);
	journal_read(js, 0);
}

void journal_save(struct journal_src *js)
{
	if (js->st == NULL || js->key == NULL || !js->dirty)
		return;
	if (store_logpos_set(js->st, js->key, 0, js->last_usec) < 0)
		log_error("saving the journal position of %s: %s", js->key, store_error(js->st));
	else
		js->dirty = 0;
}

void journal_free(struct journal_src *js)
{
	if (js == NULL)
		return;
	journal_save(js);
	loop_unwatch(js->fd);
	loop_timer_clear(&js->timer);
	loop_timer_clear(&js->recheck);
	loop_cancel_idle(on_idle, js);
	sd_journal_close(js->j);
	free(js->match);
	free(js->key);
	free(js);
}
