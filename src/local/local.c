/*
 * local — the local delivery process's request loop (see local.h).
 * One batch at a time: MSG_LOCAL_ITEMs are checked and written to tmp/ as
 * they arrive (maildir_add_under), MSG_LOCAL_COMMIT makes them durable
 * (maildir_commit: one syncfs, renames, one syncfs) and is answered with a
 * MSG_LOCAL_RESULT per item and MSG_LOCAL_DONE. Every refused request is
 * logged as "local: refused ..." and answered as a temporary failure.
 * Blocking I/O on one socket: the queue manager is the only peer.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "common/sandbox.h"
#include "common/msg.h"
#include "common/util.h"
#include "local/local.h"
#include "local/maildir.h"
#include "mail/resolve.h"

#define LOCAL_BATCH_MAX		100000	/* items per batch (the qmgr sends <= 64 messages) */
#define LOCAL_NAME_MAX		256	/* a user name or path component */
#define LOCAL_SEND_WAIT_MS	60000	/* the qmgr reads our answers within this */

/* One answered-after-commit item. */
struct litem {
	uint32_t id;
	int md;			/* maildir item, or -1: refused (why) */
	char why[512];
};

static struct local {
	const struct config *cfg;
	struct resolver *res;
	const char *home_mailbox;
	int fd;
	struct maildir_batch *mb;
	struct litem *items;
	size_t n, cap;
} L;

static struct litem *item_new(uint32_t id)
{
	if (L.n == L.cap) {
		L.cap = L.cap ? L.cap * 2 : 64;
		L.items = xrealloc(L.items, L.cap * sizeof(*L.items));
	}
	struct litem *it = &L.items[L.n++];
	it->id = id;
	it->md = -1;
	it->why[0] = '\0';
	return it;
}

/* Control characters (from a request) become '?' before they are logged. */
static void printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static int refuse(struct litem *it, const char *rcpt_in, const char *fmt, const char *arg)
{
	char why[400], rcpt[320];
	snprintf(why, sizeof(why), fmt, arg);
	snprintf(rcpt, sizeof(rcpt), "%s", rcpt_in);
	printable(why);
	printable(rcpt);
	snprintf(it->why, sizeof(it->why), "local delivery refused: %s", why);
	log_warn("local: refused item %lu to=<%s>: %s", (unsigned long)it->id, rcpt, why);
	return -1;
}

/* A printable string without line breaks (it goes into a header). */
static int header_safe(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* A virtual mailbox path: relative, no "..", no empty or odd components. */
static int rel_path_ok(const char *p)
{
	if (p[0] == '\0' || p[0] == '/' || strlen(p) >= 1024 || !header_safe(p))
		return 0;
	while (*p) {
		size_t n = strcspn(p, "/");
		if (n == 0 || n >= LOCAL_NAME_MAX || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		p += n;
		if (*p == '/')
			p++;
	}
	return 1;
}

/* Where a local user's mail goes, decided here: base (home) + rel. */
static int target_user(struct litem *it, const char *user, const char *rcpt,
    char *base, size_t baselen, const char **rel, long *uid, long *gid)
{
	if (user[0] == '\0' || strlen(user) >= LOCAL_NAME_MAX || strchr(user, '/') ||
	    !header_safe(user) || strcmp(user, ".") == 0 || strcmp(user, "..") == 0)
		return refuse(it, rcpt, "bad user name \"%.200s\"", user);
	errno = 0;
	struct passwd *pw = getpwnam(user);
	if (pw == NULL)
		return refuse(it, rcpt, "no such user \"%.200s\"", user);
	if (pw->pw_uid == 0 || pw->pw_gid == 0)
		return refuse(it, rcpt, "user \"%.200s\" has uid or gid 0", user);
	if (pw->pw_dir == NULL || pw->pw_dir[0] != '/')
		return refuse(it, rcpt, "user \"%.200s\" has no absolute home directory", user);
	const char *hm = L.home_mailbox;
	size_t hl = strlen(hm);
	if (hl == 0 || hm[hl - 1] != '/' || hm[0] == '/' || !rel_path_ok(hm))
		return refuse(it, rcpt, "home_mailbox \"%.200s\" is not a Maildir under the home "
		    "directory", hm);
	if (str_copy(base, baselen, pw->pw_dir) < 0)
		return refuse(it, rcpt, "home directory of \"%.200s\" too long", user);
	*rel = hm;
	*uid = (long)pw->pw_uid;
	*gid = (long)pw->pw_gid;
	return 0;
}

/* Where a virtual mailbox's mail goes: it must be what our own maps say
 * for the recipient, under virtual_mailbox_base, not owned by uid 0. */
static int target_virtual(struct litem *it, const char *path, const char *rcpt,
    char *base, size_t baselen, const char **rel, long *uid, long *gid)
{
	char why[512];
	const char *mine;

	if (!rel_path_ok(path) || path[strlen(path) - 1] != '/')
		return refuse(it, rcpt, "bad virtual mailbox path \"%.200s\"", path);
	if (resolve_virtual_box(L.res, rcpt, &mine, uid, gid, why, sizeof(why)) < 0)
		return refuse(it, rcpt, "%s", why);
	if (strcmp(mine, path) != 0)
		return refuse(it, rcpt, "mailbox \"%.200s\" is not the recipient's in "
		    "virtual_mailbox_maps", path);
	if (*uid == 0 || *gid == 0)
		return refuse(it, rcpt, "virtual_uid_maps/virtual_gid_maps give uid or gid 0%s", "");
	const char *vb = resolve_vbase(L.res);
	if (vb[0] != '/' || str_copy(base, baselen, vb) < 0)
		return refuse(it, rcpt, "virtual_mailbox_base \"%.200s\" is not absolute", vb);
	*rel = path;
	return 0;
}

/* MSG_LOCAL_ITEM: check everything, then write the tmp/ file. */
static void on_item(struct msg *m, int body_fd)
{
	uint32_t id = msg_get_u32(m);
	uint32_t kind = msg_get_u32(m);
	const char *box = msg_get_str(m);
	const char *sender = msg_get_str(m);
	const char *rcpt = msg_get_str(m);
	uint64_t off = msg_get_u64(m);
	uint64_t len = msg_get_u64(m);
	int whole = msg_end(m) == 0;
	if (L.n >= LOCAL_BATCH_MAX) {	/* memory stays bounded: the pair restarts */
		log_warn("local: refused: more than %d items without a commit; exiting",
		    LOCAL_BATCH_MAX);
		exit(1);
	}
	struct litem *it = item_new(m->b.len >= 8 ? id : UINT32_MAX);
	char base[4096];
	const char *rel = "";
	long uid = -1, gid = -1;
	struct stat st;

	if (!whole) {
		refuse(it, "", "malformed item request%s", "");
		return;
	}
	if (!header_safe(sender) || !header_safe(rcpt)) {
		refuse(it, "", "control characters in sender or recipient%s", "");
		return;
	}
	if (body_fd < 0) {
		refuse(it, rcpt, "no message file descriptor%s", "");
		return;
	}
	if (fstat(body_fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		refuse(it, rcpt, "message descriptor is not a regular file%s", "");
		return;
	}
	if (off > (uint64_t)st.st_size || len > (uint64_t)st.st_size - off) {
		refuse(it, rcpt, "body offset/length past the end of the message file%s", "");
		return;
	}
	int rc;
	if (kind == LOCAL_USER)
		rc = target_user(it, box, rcpt, base, sizeof(base), &rel, &uid, &gid);
	else if (kind == LOCAL_VIRTUAL)
		rc = target_virtual(it, box, rcpt, base, sizeof(base), &rel, &uid, &gid);
	else
		rc = refuse(it, rcpt, "unknown mailbox kind%s", "");
	if (rc < 0)
		return;
	char why[512];
	it->md = maildir_add_under(L.mb, base, rel, uid, gid, sender, rcpt, body_fd, (off_t)off,
	    (size_t)len, why, sizeof(why));
	if (it->md < 0)
		refuse(it, rcpt, "%s", why);
}

/* Send one answer, waiting while the socket is full. */
static void send_wait(struct msg *m)
{
	for (;;) {
		if (msg_send(L.fd, m) == 0)
			return;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			break;
		struct pollfd p = { L.fd, POLLOUT, 0 };
		if (poll(&p, 1, LOCAL_SEND_WAIT_MS) <= 0)
			break;
	}
	log_warn("local: cannot answer the queue manager: %s; exiting", strerror(errno));
	exit(1);
}

/* MSG_LOCAL_COMMIT: make the batch durable and answer every item. */
static void on_commit(void)
{
	maildir_commit(L.mb);
	for (size_t i = 0; i < L.n; i++) {
		struct litem *it = &L.items[i];
		int ok = it->md >= 0 && maildir_ok(L.mb, (size_t)it->md);
		const char *text = it->why;
		if (it->md >= 0)
			text = ok ? maildir_name(L.mb, (size_t)it->md) : maildir_why(L.mb, (size_t)it->md);
		if (it->md >= 0 && !ok)
			log_warn("local: item %lu: %s", (unsigned long)it->id, text);
		struct msg r;
		msg_init(&r, MSG_LOCAL_RESULT);
		msg_put_u32(&r, it->id);
		msg_put_u32(&r, (uint32_t)ok);
		msg_put_str(&r, text);
		send_wait(&r);
		msg_free(&r);
	}
	struct msg d;
	msg_init(&d, MSG_LOCAL_DONE);
	msg_put_u32(&d, (uint32_t)L.n);
	send_wait(&d);
	msg_free(&d);
	maildir_batch_free(L.mb);
	L.mb = maildir_batch_new();
	L.n = 0;
}

/* Close every inherited descriptor but the socket and the log. */
void local_main(const struct config *cfg, int fd, int report_fd)
{
	char err[512];

	log_set_service("local");
	int keep[] = { fd, report_fd, log_fd() };
	if (fd_close_except(keep, sizeof(keep) / sizeof(*keep)) < 0)
		fatal("close_range: %s", strerror(errno));
	/* The queue manager's EOF ends us, after the batch in progress. */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	local_drop_privileges(cfg);
	memset(&L, 0, sizeof(L));
	L.cfg = cfg;
	L.fd = fd;
	L.home_mailbox = config_get(cfg, "home_mailbox");
	if ((L.res = resolve_open(cfg, err, sizeof(err))) == NULL)
		fatal("%s", err);
	L.mb = maildir_batch_new();
	/* the allow-list is in src/common/sandbox.c (SANDBOX_LOCAL) */
	if (sandbox_enter(cfg, SANDBOX_LOCAL, report_fd, err, sizeof(err)) < 0)
		fatal("%s", err);
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			fatal("poll: %s", strerror(errno));
		}
		struct msg m;
		int body_fd;
		int r = msg_recv_fd(fd, &m, &body_fd);
		if (r == 0 || (r < 0 && errno == ECONNRESET))
			break;		/* the queue manager is gone */
		if (r < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				continue;
			log_warn("local: read from the queue manager: %s", strerror(errno));
			exit(1);
		}
		if (m.type == MSG_LOCAL_ITEM && m.b.len >= 4) {
			on_item(&m, body_fd);
		} else if (m.type == MSG_LOCAL_COMMIT) {
			if (msg_end(&m) < 0)
				log_warn("local: commit request with %zu extra bytes", m.b.len - 4);
			on_commit();	/* the peer waits for the answers either way */
		} else {
			log_warn("local: refused message type %u (%zu bytes)", m.type, m.b.len);
		}
		if (body_fd >= 0)
			close(body_fd);
		msg_free(&m);
	}
	maildir_batch_free(L.mb);	/* uncommitted tmp files go */
	free(L.items);
	resolve_free(L.res);
	exit(0);
}
