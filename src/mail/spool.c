/*
 * spool — write and read queue files (format in spool.h).
 * Writer: the smtp engine. Reader: the queue process.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/util.h"
#include "mail/spool.h"

#define SPOOL_HDR_MAX (1024 * 1024)	/* envelope records: 1 MiB is plenty */

int spool_valid_id(const char *id)
{
	size_t n = 0;
	for (; id[n]; n++)
		if (!((id[n] >= '0' && id[n] <= '9') || (id[n] >= 'A' && id[n] <= 'Z') ||
		    (id[n] >= 'a' && id[n] <= 'z')))
			return 0;
	return n > 0 && n < SPOOL_ID_MAX;
}

void spool_new_id(char *id, size_t len)
{
	static unsigned seq;
	struct timeval tv;
	gettimeofday(&tv, NULL);
	/* 5 hex digits of seconds, 5 of microseconds, 2 of sequence: 12 hex
	 * digits like Postfix's short IDs; O_EXCL catches the rare clash. */
	snprintf(id, len, "%05lX%05lX%02X", (unsigned long)tv.tv_sec & 0xFFFFF,
	    (unsigned long)tv.tv_usec & 0xFFFFF, (getpid() + seq++) & 0xFF);
}

static int spool_flush(struct spool_writer *w)
{
	int rc = fd_write_all(w->fd, w->wbuf, w->wlen);
	if (rc < 0 && !w->error)
		w->error = errno;
	w->wlen = 0;
	return rc;
}

static int spool_put(struct spool_writer *w, const char *p, size_t n)
{
	if (w->error)
		return -1;
	if (w->wlen + n > sizeof(w->wbuf) && spool_flush(w) < 0)
		return -1;
	if (n >= sizeof(w->wbuf)) {
		w->wlen = 0;
		if (fd_write_all(w->fd, p, n) < 0) {
			w->error = errno;
			return -1;
		}
		return 0;
	}
	memcpy(w->wbuf + w->wlen, p, n);
	w->wlen += n;
	return 0;
}

/* Record values are single lines: drop CR/LF so a client cannot forge records. */
static int spool_rec(struct spool_writer *w, const char *type, const char *val)
{
	char line[4096];
	int n = snprintf(line, sizeof(line), "%s%s", type, val ? val : "");
	if (n < 0 || (size_t)n >= sizeof(line) - 1) {
		w->error = ENAMETOOLONG;
		return -1;
	}
	for (char *p = line; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	line[n++] = '\n';
	return spool_put(w, line, (size_t)n);
}

/* The envelope records and "B": the start of every queue file. */
static void spool_envelope(struct spool_writer *w, const struct spool_env *env)
{
	char tmp[128];

	spool_rec(w, "MW1", NULL);
	snprintf(tmp, sizeof(tmp), "T %ld.%06ld", env->arrival_sec, env->arrival_usec);
	spool_rec(w, tmp, NULL);
	snprintf(tmp, sizeof(tmp), "C %s ", env->client_name ? env->client_name : "unknown");
	spool_rec(w, tmp, env->client_addr);
	spool_rec(w, "H ", env->helo);
	spool_rec(w, "P ", env->proto);
	if (env->sasl_user)
		spool_rec(w, "A ", env->sasl_user);
	spool_rec(w, "S ", env->sender);
	if (env->filter)
		spool_rec(w, "F ", env->filter);
	if (env->no_address_mappings)
		spool_rec(w, "O ", "no_address_mappings");
	for (size_t i = 0; i < env->nrcpt; i++)
		spool_rec(w, "R- ", env->rcpt[i].addr);
	spool_rec(w, "B", NULL);
}

int spool_create(struct spool_writer *w, int dirfd, const struct spool_env *env)
{
	memset(w, 0, sizeof(*w));
	w->dirfd = dirfd;
	for (int tries = 0; tries < 100; tries++) {
		spool_new_id(w->id, sizeof(w->id));
		w->fd = openat(dirfd, w->id, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
		if (w->fd >= 0 || errno != EEXIST)
			break;
	}
	if (w->fd < 0)
		return -1;
	/* Held until close: tells the queue manager this file is being written. */
	if (flock(w->fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		spool_abort(w);
		errno = e;
		return -1;
	}
	spool_envelope(w, env);
	if (w->error) {
		int e = w->error;
		spool_abort(w);
		errno = e;
		return -1;
	}
	return 0;
}

int spool_rewrite(struct spool_writer *w, const struct spool_env *env)
{
	w->wlen = 0;
	if (w->error)
		return -1;
	if (ftruncate(w->fd, 0) < 0 || lseek(w->fd, 0, SEEK_SET) < 0) {
		w->error = errno;
		return -1;
	}
	w->body_len = 0;
	spool_envelope(w, env);
	return w->error ? -1 : 0;
}

int spool_write(struct spool_writer *w, const char *p, size_t n)
{
	if (spool_put(w, p, n) < 0)
		return -1;
	w->body_len += n;
	return 0;
}

int spool_body_read(struct spool_writer *w, struct buf *out)
{
	if (w->error || spool_flush(w) < 0)
		return -1;
	off_t end = lseek(w->fd, 0, SEEK_CUR);
	if (end < 0 || (size_t)end < w->body_len)
		return -1;
	off_t at = end - (off_t)w->body_len;
	char tmp[65536];
	while (at < end) {
		size_t want = (size_t)(end - at) < sizeof(tmp) ? (size_t)(end - at) : sizeof(tmp);
		ssize_t n = pread(w->fd, tmp, want, at);
		if (n <= 0 || buf_append(out, tmp, (size_t)n) < 0) {
			w->error = n < 0 ? errno : EIO;
			return -1;
		}
		at += n;
	}
	return 0;
}

int spool_body_replace(struct spool_writer *w, const char *p, size_t n, const char *p2,
    size_t n2)
{
	if (w->error || spool_flush(w) < 0)
		return -1;
	off_t end = lseek(w->fd, 0, SEEK_CUR);
	if (end < 0 || (size_t)end < w->body_len) {
		w->error = EINVAL;
		return -1;
	}
	off_t start = end - (off_t)w->body_len;
	if (ftruncate(w->fd, start) < 0 || lseek(w->fd, start, SEEK_SET) < 0) {
		w->error = errno;
		return -1;
	}
	w->body_len = 0;
	if (spool_write(w, p, n) < 0 || spool_write(w, p2, n2) < 0)
		return -1;
	return 0;
}

int spool_finish(struct spool_writer *w)
{
	char end[64];
	snprintf(end, sizeof(end), "E %zu", w->body_len);
	/* The body may not end with a newline; the end record must start a line. */
	spool_put(w, "\n", 1);
	spool_rec(w, end, NULL);
	spool_flush(w);
	if (w->error) {
		int e = w->error;
		spool_abort(w);
		errno = e;
		return -1;
	}
	if (close(w->fd) < 0) {
		int e = errno;
		w->fd = -1;
		unlinkat(w->dirfd, w->id, 0);
		errno = e;
		return -1;
	}
	w->fd = -1;
	return 0;
}

void spool_abort(struct spool_writer *w)
{
	if (w->fd >= 0) {
		close(w->fd);
		w->fd = -1;
		unlinkat(w->dirfd, w->id, 0);
	}
}

int spool_sync(int dirfd)
{
	return syncfs(dirfd);
}

/* Reader. */

int spool_parse_len(const char *s, size_t n, size_t *out)
{
	size_t v = 0;

	if (n == 0 || n > 20)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		size_t d = (size_t)(s[i] - '0');
		if (v > (SIZE_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static char *rec_dup(const char *p, size_t n)
{
	return xstrndup(p, n);
}

int spool_read(int dirfd, const char *id, struct spool_env *env, char *err, size_t errlen)
{
	struct stat st;
	char *hdr = NULL;
	size_t cap = 0, len = 0;

	memset(env, 0, sizeof(*env));
	env->fd = -1;
	str_copy(env->id, sizeof(env->id), id);
	/* A queue file is a regular file, never a link: `mailwarden queue
	 * show` reads as root in directories mail_owner writes. O_NONBLOCK: a
	 * FIFO planted there must not block the open. */
	int fd = openat(dirfd, id, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		snprintf(err, errlen, "open: %s", strerror(errno));
		return -1;
	}
	env->fd = fd;
	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "fstat: %s", strerror(errno));
		goto bad;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "not a regular file");
		goto bad;
	}
	/* Read the envelope up to the "B" record. */
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			if (cap > SPOOL_HDR_MAX) {
				snprintf(err, errlen, "envelope too large");
				goto bad;
			}
			hdr = xrealloc(hdr, cap);
		}
		ssize_t n = pread(fd, hdr + len, cap - len - 1, (off_t)len);
		if (n < 0) {
			snprintf(err, errlen, "read: %s", strerror(errno));
			goto bad;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		hdr[len] = '\0';
		if (strstr(hdr, "\nB\n"))
			break;
	}
	if (hdr == NULL || len < 4 || memcmp(hdr, "MW1\n", 4) != 0) {
		snprintf(err, errlen, "bad magic");
		goto bad;
	}
	hdr[len] = '\0';
	char *p = hdr + 4;
	size_t rcap = 0;
	int body = 0;
	while (*p) {
		char *nl = strchr(p, '\n');
		if (nl == NULL)
			break;
		size_t l = (size_t)(nl - p);
		if (l == 1 && p[0] == 'B') {
			env->body_off = (off_t)(nl + 1 - hdr);
			body = 1;
			break;
		}
		if (l < 2) {
			snprintf(err, errlen, "bad record at offset %ld", (long)(p - hdr));
			goto bad;
		}
		const char *v = p + 2;
		size_t vl = l - 2;
		switch (p[0]) {
		case 'T':
			if (sscanf(v, "%ld.%ld", &env->arrival_sec, &env->arrival_usec) != 2) {
				snprintf(err, errlen, "bad time record");
				goto bad;
			}
			break;
		case 'C': {
			const char *sp = memchr(v, ' ', vl);
			if (sp == NULL) {
				snprintf(err, errlen, "bad client record");
				goto bad;
			}
			free(env->client_name);	/* a repeated record: the last wins */
			free(env->client_addr);
			env->client_name = rec_dup(v, (size_t)(sp - v));
			env->client_addr = rec_dup(sp + 1, vl - (size_t)(sp + 1 - v));
			break;
		}
		case 'H': free(env->helo); env->helo = rec_dup(v, vl); break;
		case 'P': free(env->proto); env->proto = rec_dup(v, vl); break;
		case 'A': free(env->sasl_user); env->sasl_user = rec_dup(v, vl); break;
		case 'S': free(env->sender); env->sender = rec_dup(v, vl); break;
		case 'F': free(env->filter); env->filter = rec_dup(v, vl); break;
		case 'O':	/* words; unknown ones are ignored */
			env->no_address_mappings |= vl >= 19 && memmem(v, vl, "no_address_mappings", 19) != NULL;
			break;
		case 'R':
			if (l < 3 || p[2] != ' ' || (p[1] != SPOOL_ST_PENDING && p[1] != SPOOL_ST_DONE &&
			    p[1] != SPOOL_ST_WARNED)) {
				snprintf(err, errlen, "bad recipient record");
				goto bad;
			}
			if (env->nrcpt == rcap) {
				rcap = rcap ? rcap * 2 : 4;
				env->rcpt = xrealloc(env->rcpt, rcap * sizeof(*env->rcpt));
			}
			env->rcpt[env->nrcpt].addr = rec_dup(p + 3, l - 3);
			env->rcpt[env->nrcpt].status = p[1];
			env->rcpt[env->nrcpt].status_off = (off_t)(p + 1 - hdr);
			env->nrcpt++;
			break;
		default:
			snprintf(err, errlen, "unknown record type '%c'", p[0]);
			goto bad;
		}
		p = nl + 1;
	}
	if (!body) {
		snprintf(err, errlen, "no body record (incomplete file)");
		goto bad;
	}
	/* The end record: "\nE <len>\n" at the very end of the file. */
	char tail[64];
	off_t toff = st.st_size > (off_t)sizeof(tail) - 1 ? st.st_size - (off_t)sizeof(tail) + 1 : 0;
	ssize_t tn = pread(fd, tail, (size_t)(st.st_size - toff), toff);
	if (tn <= 0) {
		snprintf(err, errlen, "no end record (incomplete file)");
		goto bad;
	}
	tail[tn] = '\0';
	char *e = NULL;
	for (char *q = tail; (q = strstr(q, "\nE ")) != NULL; q++)
		e = q;
	if (e == NULL || tail[tn - 1] != '\n') {
		snprintf(err, errlen, "no valid end record (incomplete file)");
		goto bad;
	}
	/* The body runs from body_off to the newline before 'E': compare the
	 * recorded length with that room, never add to it (a huge value must
	 * not wrap into a match). */
	size_t blen;
	off_t epos = toff + (off_t)(e - tail) + 1;	/* offset of the 'E' */
	char *nl = strchr(e + 3, '\n');
	if (nl == NULL || nl[1] != '\0' || spool_parse_len(e + 3, (size_t)(nl - (e + 3)), &blen) < 0 ||
	    epos <= env->body_off || blen != (size_t)(epos - env->body_off) - 1) {
		snprintf(err, errlen, "bad end record: length does not match the body");
		goto bad;
	}
	env->body_len = blen;
	if (env->sender == NULL)
		env->sender = xstrdup("");
	if (env->client_name == NULL) {
		env->client_name = xstrdup("unknown");
		env->client_addr = xstrdup("");
	}
	free(hdr);
	return 0;
bad:
	free(hdr);
	spool_env_free(env);
	return -1;
}

static int mark(struct spool_env *env, size_t i, char c)
{
	if (i >= env->nrcpt)
		return -1;
	if (pwrite(env->fd, &c, 1, env->rcpt[i].status_off) != 1)
		return -1;
	env->rcpt[i].status = c;
	return 0;
}

int spool_mark_done(struct spool_env *env, size_t i)
{
	return mark(env, i, SPOOL_ST_DONE);
}

int spool_mark_warned(struct spool_env *env, size_t i)
{
	return mark(env, i, SPOOL_ST_WARNED);
}

void spool_env_free(struct spool_env *env)
{
	if (env->fd >= 0)
		close(env->fd);
	env->fd = -1;
	for (size_t i = 0; i < env->nrcpt; i++)
		free(env->rcpt[i].addr);
	free(env->rcpt);
	free(env->client_name);
	free(env->client_addr);
	free(env->helo);
	free(env->proto);
	free(env->sasl_user);
	free(env->filter);
	free(env->sender);
	memset(env, 0, sizeof(*env));
	env->fd = -1;
}
