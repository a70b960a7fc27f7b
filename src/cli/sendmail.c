/*
 * sendmail — `mailwarden sendmail` / `sendmail`: the command local
 * programs (cron, scripts) use to send mail, as any user. Reads the
 * message from stdin (or speaks minimal SMTP with -bs) and writes it into
 * queue_directory/maildrop/ (see queue/pickup.h); the queue process picks
 * it up. Installed setgid setgid_group (Postfix's postdrop): that group
 * is used only to create the maildrop file and given up right after,
 * never to read anything; a set-gid run is only sendmail or mailq, takes
 * -C/-c only from root or a listed directory, and reads its config with
 * config_load_client() (no keys, maps or password files opened).
 * Exit codes as sendmail(8): 0, EX_USAGE 64, EX_DATAERR 65,
 * EX_SOFTWARE 70, EX_TEMPFAIL 75, EX_NOPERM 77.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/buf.h"
#include "common/config.h"
#include "common/util.h"
#include "common/addrlist.h"
#include "mail/headers.h"
#include "queue/pickup.h"

#define EX_USAGE	64
#define EX_DATAERR	65
#define EX_SOFTWARE	70
#define EX_TEMPFAIL	75
#define EX_NOPERM	77
#define SM_LINE_MAX	(64 * 1024)

struct sendmail {
	const struct config *cfg;
	int extract, dot_ends;	/* -t; "." alone ends input (no -i) */
	const char *sender;	/* -f, NULL = default */
	const char *fullname;	/* -F */
	char **rcpt;
	size_t nrcpt, rcap;
	gid_t drop_gid;		/* the setgid group until given up, or (gid_t)-1 */
	int setgid;		/* run set-gid (by a user, for the group) */
	int fd;			/* the open drop file, or -1 */
	char name[32];		/* its name */
	long max;
};

static void sm_add_rcpt(const char *addr, void *arg)
{
	struct sendmail *sm = arg;
	if (sm->nrcpt == sm->rcap) {
		sm->rcap = sm->rcap ? sm->rcap * 2 : 8;
		sm->rcpt = xrealloc(sm->rcpt, sm->rcap * sizeof(*sm->rcpt));
	}
	sm->rcpt[sm->nrcpt++] = xstrdup(addr);
}

static void sm_clear_rcpt(struct sendmail *sm)
{
	for (size_t i = 0; i < sm->nrcpt; i++)
		free(sm->rcpt[i]);
	sm->nrcpt = 0;
}

/* Read one line (LF-terminated, CR before LF removed) into line. 1, 0 at
 * EOF, -1 too long. */
static int sm_getline(FILE *in, struct buf *line)
{
	int c;
	buf_reset(line);
	while ((c = getc(in)) != EOF) {
		if (c == '\n')
			break;
		char ch = (char)c;
		if (buf_append(line, &ch, 1) < 0)
			return -1;
	}
	if (c == EOF && line->len == 0)
		return 0;
	if (line->len > 0 && line->data[line->len - 1] == '\r')
		line->data[--line->len] = '\0';
	return 1;
}

/* With -t: recipients from To/Cc/Bcc; Bcc removed. Rewrites msg. */
static void sm_extract(struct sendmail *sm, struct buf *msg)
{
	struct buf out;
	struct header h;
	size_t off = 0, last = 0;

	buf_init(&out, msg->max);
	while (headers_next(msg->data, msg->len, &off, &h)) {
		int bcc = headers_is(&h, "Bcc");
		if (bcc || headers_is(&h, "To") || headers_is(&h, "Cc"))
			addrlist_each(h.value, h.valuelen, sm_add_rcpt, sm);
		if (!bcc)
			buf_append(&out, msg->data + h.off, h.len);
		last = off;
	}
	buf_append(&out, msg->data + last, msg->len - last);
	buf_free(msg);
	*msg = out;
}

/* Give up the setgid group for good (real, effective and saved). */
static int sm_drop_group(struct sendmail *sm)
{
	gid_t g = getgid();
	if (sm->drop_gid == (gid_t)-1)
		return 0;
	sm->drop_gid = (gid_t)-1;
	if (setresgid(g, g, g) < 0)
		return -1;
	prctl(PR_SET_DUMPABLE, 1);	/* unprivileged now (LeakSanitizer needs it) */
	return 0;
}

/* Create the maildrop file NAME, mode 0600 (not ready), with the setgid
 * group, and give the group up right after: writing and finishing need
 * only the open file. 0, or -1 with err. */
static int sm_open_drop(struct sendmail *sm, char *err, size_t errlen)
{
	const char *qdir = config_get(sm->cfg, "queue_directory");
	unsigned char rnd[8];
	char path[1024];
	int rc = -1;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		snprintf(err, errlen, "getrandom: %s", strerror(errno));
		goto out;
	}
	snprintf(sm->name, sizeof(sm->name), "%02X%02X%02X%02X%02X%02X%02X%02X", rnd[0], rnd[1],
	    rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	snprintf(path, sizeof(path), "%s/%s", qdir, PICKUP_DIR);
	/* the setgid group only for creating the file */
	if (sm->drop_gid != (gid_t)-1 && setegid(sm->drop_gid) < 0) {
		snprintf(err, errlen, "setegid: %s", strerror(errno));
		goto out;
	}
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_PATH);
	if (dfd >= 0) {
		sm->fd = openat(dfd, sm->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    PICKUP_MODE_BUSY);
		int e = errno;
		close(dfd);	/* nothing more to do in the directory */
		errno = e;
	}
	if (sm->fd < 0) {
		snprintf(err, errlen, "cannot create a file in %s: %s%s", path, strerror(errno),
		    errno == EACCES ? " (is mailwarden installed setgid to setgid_group?)" : "");
		goto out;
	}
	rc = 0;
out:
	if (sm_drop_group(sm) < 0) {
		snprintf(err, errlen, "setresgid: %s", strerror(errno));
		rc = -1;
	}
	return rc;
}

/* Give up an open drop file that will not be finished: emptied and made
 * mode 0000, which pickup removes (we may no longer unlink it). */
static void sm_abandon(struct sendmail *sm)
{
	if (sm->fd < 0)
		return;
	if (ftruncate(sm->fd, 0) < 0 || fchmod(sm->fd, PICKUP_MODE_ABANDONED) < 0)
		fprintf(stderr, "sendmail: warning: %s/%s: %s\n", PICKUP_DIR, sm->name, strerror(errno));
	close(sm->fd);
	sm->fd = -1;
}

/* Write the envelope, message and end record into the open drop file,
 * then fsync and make it 0644 (ready). 0, or -1 with err. */
static int sm_finish_drop(struct sendmail *sm, const struct buf *msg, char *err, size_t errlen)
{
	struct buf env;
	char end[64];
	int rc = -1;

	buf_init(&env, PICKUP_ENV_MAX);
	buf_puts(&env, PICKUP_MAGIC "\n");
	if (sm->sender)
		buf_printf(&env, "S %s\n", sm->sender);
	if (sm->fullname) {
		buf_puts(&env, "N ");
		for (const char *p = sm->fullname; *p; p++)
			if ((unsigned char)*p >= ' ' && *p != 127)
				buf_append(&env, p, 1);
		buf_puts(&env, "\n");
	}
	for (size_t i = 0; i < sm->nrcpt; i++)
		if (buf_printf(&env, "R %s\n", sm->rcpt[i]) < 0)
			break;
	if (buf_puts(&env, "B\n") < 0) {
		snprintf(err, errlen, "too many recipients");
		goto out;
	}
	snprintf(end, sizeof(end), "\nE %zu\n", msg->len);
	const struct { const char *p; size_t n; } parts[] = {
		{ env.data, env.len }, { msg->data, msg->len }, { end, strlen(end) },
	};
	for (size_t i = 0; i < 3; i++) {
		size_t off = 0;
		while (off < parts[i].n) {
			ssize_t n = write(sm->fd, parts[i].p + off, parts[i].n - off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				snprintf(err, errlen, "write %s/%s: %s", PICKUP_DIR, sm->name, strerror(errno));
				goto out;
			}
			off += (size_t)n;
		}
	}
	/* ready: 0644 before close, so pickup's IN_CLOSE_WRITE sees it done */
	if (fsync(sm->fd) < 0 || fchmod(sm->fd, PICKUP_MODE_READY) < 0) {
		snprintf(err, errlen, "finish %s/%s: %s", PICKUP_DIR, sm->name, strerror(errno));
		goto out;
	}
	if (close(sm->fd) < 0) {
		sm->fd = -1;
		snprintf(err, errlen, "close %s/%s: %s", PICKUP_DIR, sm->name, strerror(errno));
		goto out;
	}
	sm->fd = -1;
	rc = 0;
out:
	buf_free(&env);
	if (rc < 0)
		sm_abandon(sm);
	return rc;
}

/* Open, write and finish one drop file (-bs: per message). */
static int sm_drop(struct sendmail *sm, const struct buf *msg, char *err, size_t errlen)
{
	if (sm->fd < 0 && sm_open_drop(sm, err, errlen) < 0)
		return -1;
	return sm_finish_drop(sm, msg, err, errlen);
}

/* Read a message from stdin (sendmail mode) into msg. 0 or an exit code. */
static int sm_read(struct sendmail *sm, FILE *in, struct buf *msg, int smtp)
{
	struct buf line;
	int r;

	buf_init(&line, SM_LINE_MAX);
	buf_init(msg, (size_t)sm->max);
	while ((r = sm_getline(in, &line)) > 0) {
		const char *p = line.data;
		if ((smtp || sm->dot_ends) && line.len == 1 && p[0] == '.')
			break;
		if (smtp && p[0] == '.')
			p++;	/* dot-unstuffing */
		if (buf_append(msg, p, line.len - (size_t)(p - line.data)) < 0 ||
		    buf_append(msg, "\n", 1) < 0) {
			r = -2;
			break;
		}
	}
	buf_free(&line);
	if (r == -1) {
		fprintf(stderr, "sendmail: fatal: line longer than %d bytes\n", SM_LINE_MAX);
		return EX_DATAERR;
	}
	if (r == -2) {
		fprintf(stderr, "sendmail: fatal: message file too big\n");
		return EX_DATAERR;
	}
	return 0;
}

static int sm_send(struct sendmail *sm, struct buf *msg)
{
	char err[1200];
	if (sm->extract)
		sm_extract(sm, msg);
	if (sm->nrcpt == 0) {
		fprintf(stderr, "sendmail: fatal: %s\n", sm->extract ?
		    "No recipient addresses found in message header" : "no recipients specified");
		return EX_USAGE;
	}
	for (size_t i = 0; i < sm->nrcpt; i++)
		if (!pickup_addr_ok(sm->rcpt[i], strlen(sm->rcpt[i]))) {
			fprintf(stderr, "sendmail: fatal: bad recipient address: %s\n", sm->rcpt[i]);
			return EX_DATAERR;
		}
	if (sm_drop(sm, msg, err, sizeof(err)) < 0) {
		fprintf(stderr, "sendmail: fatal: %s\n", err);
		return EX_TEMPFAIL;
	}
	return 0;
}

/* Strip <> and an SMTP parameter tail from "MAIL FROM:<a> SIZE=1". */
static char *sm_path(const char *arg)
{
	while (*arg == ' ')
		arg++;
	const char *s = arg, *e;
	if (*s == '<') {
		s++;
		e = strchr(s, '>');
		if (e == NULL)
			return NULL;
	} else {
		e = s + strcspn(s, " ");
	}
	return xstrndup(s, (size_t)(e - s));
}

/* -bs: a minimal SMTP server on stdin/stdout. */
static int sm_smtp(struct sendmail *sm)
{
	const char *host = config_get(sm->cfg, "myhostname");
	struct buf line, msg;
	char *from = NULL;
	int have_from = 0, r, rc = 0;

	buf_init(&line, SM_LINE_MAX);
	printf("220 %s ESMTP mailwarden\r\n", host);
	fflush(stdout);
	while ((r = sm_getline(stdin, &line)) > 0) {
		const char *c = line.data;
		if (strncasecmp(c, "EHLO", 4) == 0)
			printf("250-%s\r\n250-8BITMIME\r\n250 SIZE %ld\r\n", host, sm->max - PICKUP_ENV_MAX);
		else if (strncasecmp(c, "HELO", 4) == 0)
			printf("250 %s\r\n", host);
		else if (strncasecmp(c, "MAIL FROM:", 10) == 0) {
			free(from);
			from = sm_path(c + 10);
			have_from = from != NULL && pickup_addr_ok(from, strlen(from));
			sm_clear_rcpt(sm);
			printf(have_from ? "250 2.1.0 Ok\r\n" : "501 5.1.7 Bad sender address syntax\r\n");
		} else if (strncasecmp(c, "RCPT TO:", 8) == 0) {
			char *to = sm_path(c + 8);
			if (!have_from)
				printf("503 5.5.1 Error: need MAIL command\r\n");
			else if (to == NULL || !*to || !pickup_addr_ok(to, strlen(to)))
				printf("501 5.1.3 Bad recipient address syntax\r\n");
			else {
				sm_add_rcpt(to, sm);
				printf("250 2.1.5 Ok\r\n");
			}
			free(to);
		} else if (strncasecmp(c, "DATA", 4) == 0) {
			if (sm->nrcpt == 0) {
				printf("554 5.5.1 Error: no valid recipients\r\n");
				continue;
			}
			if (sm->setgid && sm->drop_gid == (gid_t)-1) {
				/* the group went with the first message's file */
				printf("452 4.3.0 Error: one message per session; connect again\r\n");
				fflush(stdout);
				continue;
			}
			printf("354 End data with <CR><LF>.<CR><LF>\r\n");
			fflush(stdout);
			int ex = sm_read(sm, stdin, &msg, 1);
			char err[1200];
			sm->sender = from;
			if (ex == 0 && sm_drop(sm, &msg, err, sizeof(err)) == 0)
				printf("250 2.0.0 Ok: queued\r\n");
			else
				printf("451 4.3.0 Error: queue file write error\r\n");
			buf_free(&msg);
			sm_clear_rcpt(sm);
			have_from = 0;
		} else if (strncasecmp(c, "RSET", 4) == 0) {
			sm_clear_rcpt(sm);
			have_from = 0;
			printf("250 2.0.0 Ok\r\n");
		} else if (strncasecmp(c, "NOOP", 4) == 0) {
			printf("250 2.0.0 Ok\r\n");
		} else if (strncasecmp(c, "QUIT", 4) == 0) {
			printf("221 2.0.0 Bye\r\n");
			break;
		} else {
			printf("502 5.5.2 Error: command not recognized\r\n");
		}
		fflush(stdout);
	}
	fflush(stdout);
	sm->sender = NULL;
	free(from);
	buf_free(&line);
	return rc;
}

/* The argument of -fX / -f X; advances *i. */
static const char *sm_optarg(int argc, char **argv, int *i)
{
	if (argv[*i][2])
		return argv[*i] + 2;
	if (*i + 1 < argc)
		return argv[++*i];
	return NULL;
}

/* -C/-c from a user who is not root (Postfix's rule for its set-gid
 * commands): only a file in a directory listed in alternate_config_directories
 * or multi_instance_directories of the default config. 0, or an exit code. */
static int sm_config_allowed(const char *def_config, const char *path)
{
	char err[2048], dir[PATH_MAX], real[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int ok = 0;

	if (getuid() == 0)
		return 0;
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	if (realpath(dir, real) == NULL)
		snprintf(real, sizeof(real), "%s", dir);
	struct config *def = config_load_client(def_config, err, sizeof(err));
	if (def != NULL) {
		static const char *const keys[] = { "alternate_config_directories",
		    "multi_instance_directories" };
		for (size_t k = 0; k < 2 && !ok; k++) {
			char **dirs = config_list(config_get(def, keys[k]));
			for (size_t i = 0; dirs[i] != NULL && !ok; i++) {
				char rd[PATH_MAX];
				ok = strcmp(dirs[i], real) == 0 ||
				    (realpath(dirs[i], rd) != NULL && strcmp(rd, real) == 0);
			}
			config_list_free(dirs);
		}
		config_free(def);
	}
	if (ok)
		return 0;
	fprintf(stderr, "sendmail: fatal: -C option requires root privileges: unauthorized "
	    "configuration directory name: %s (specify \"alternate_config_directories = %s\" or "
	    "\"multi_instance_directories = %s\" in %s)%s%s\n", real, real, real, def_config,
	    def ? "" : ": ", def ? "" : err);
	return EX_NOPERM;
}

/* mailq / sendmail -bp: root reads the queue, anybody else asks the
 * queue manager (queue/showq.h). */
static int sm_mailq(const struct config *cfg)
{
	char *list[] = { "list", NULL };
	return cli_queue(cfg, 1, list);
}

static int sm_main(struct sendmail *sm, const char *def_config, const char *config_path,
    int argc, char **argv)
{
	const char *mode = "m";
	int i, rc;
	char err[2048];

	for (i = 0; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		switch (a[1]) {
		case 't': sm->extract = 1; break;
		case 'i': sm->dot_ends = 0; break;
		case 'v': break;
		case 'o':
			if (strcmp(a, "-oi") == 0)
				sm->dot_ends = 0;
			else if ((a[2] == 'A' || a[2] == 'B' || a[2] == 'F' || a[2] == 'R') &&
			    !a[3] && i + 1 < argc)
				i++;	/* -oA file etc. take an argument */
			break;	/* other -oX: ignored */
		case 'f':
		case 'r':
		case 'F':
		case 'C':
		case 'N':
		case 'R':
		case 'X':
		case 'B':
		case 'L': {
			const char *v = sm_optarg(argc, argv, &i);
			if (v == NULL) {
				fprintf(stderr, "sendmail: fatal: option %s needs an argument\n", a);
				return EX_USAGE;
			}
			if (a[1] == 'f' || a[1] == 'r')
				sm->sender = strcmp(v, "<>") == 0 ? "" : v;
			else if (a[1] == 'F')
				sm->fullname = v;
			else if (a[1] == 'C')
				config_path = v;
			break;
		}
		case 'b':
			mode = a + 2;
			break;
		default:
			fprintf(stderr, "sendmail: fatal: unsupported option %s\n", a);
			return EX_USAGE;
		}
	}
	if (sm->sender && !pickup_addr_ok(sm->sender, strlen(sm->sender))) {
		fprintf(stderr, "sendmail: fatal: bad sender address: %s\n", sm->sender);
		return EX_USAGE;
	}
	/* a set-gid run trusts another config only from root or a listed directory */
	if (sm->setgid && strcmp(config_path, def_config) != 0 &&
	    (rc = sm_config_allowed(def_config, config_path)) != 0)
		return rc;
	if (strcmp(mode, "m") != 0 && strcmp(mode, "") != 0 && strcmp(mode, "s") != 0 &&
	    sm_drop_group(sm) < 0) {	/* only a message needs the group */
		fprintf(stderr, "sendmail: fatal: setresgid: %s\n", strerror(errno));
		return EX_SOFTWARE;
	}
	struct config *cfg = config_load_client(config_path, err, sizeof(err));
	if (cfg == NULL) {
		fprintf(stderr, "sendmail: fatal: %s\n", err);
		return EX_TEMPFAIL;
	}
	sm->cfg = cfg;
	sm->max = pickup_max_size(cfg);
	if (strcmp(mode, "s") == 0) {
		rc = sm_smtp(sm);
	} else if (strcmp(mode, "p") == 0) {
		rc = sm_mailq(cfg);
	} else if (strcmp(mode, "i") == 0) {
		rc = 0;		/* newaliases: nothing to build (texthash) */
	} else if (strcmp(mode, "m") == 0 || strcmp(mode, "") == 0) {
		struct buf msg;
		/* the drop file first, then the group is gone before any input is read */
		if (sm_open_drop(sm, err, sizeof(err)) < 0) {
			fprintf(stderr, "sendmail: fatal: %s\n", err);
			rc = EX_TEMPFAIL;
		} else {
			for (; i < argc; i++)
				sm_add_rcpt(argv[i], sm);
			rc = sm_read(sm, stdin, &msg, 0);
			if (rc == 0)
				rc = sm_send(sm, &msg);
			buf_free(&msg);
		}
	} else {
		fprintf(stderr, "sendmail: fatal: unsupported mode -b%s\n", mode);
		rc = EX_USAGE;
	}
	sm_abandon(sm);		/* an unfinished drop file, if any */
	config_free(cfg);
	return rc;
}

/* Run sendmail with flags argv; drop_gid the set-gid group or -1. */
static int sm_run(gid_t drop_gid, const char *def_config, const char *config_path,
    int argc, char **argv)
{
	struct sendmail sm = { .dot_ends = 1, .drop_gid = drop_gid, .fd = -1,
	    .setgid = drop_gid != (gid_t)-1 };
	int rc = sm_main(&sm, def_config, config_path, argc, argv);
	if (sm_drop_group(&sm) < 0 && rc == 0) {
		fprintf(stderr, "sendmail: fatal: setresgid: %s\n", strerror(errno));
		rc = EX_SOFTWARE;
	}
	sm_clear_rcpt(&sm);
	free(sm.rcpt);
	return rc;
}

int cli_sendmail(const char *config_path, int argc, char **argv)
{
	return sm_run((gid_t)-1, config_path, config_path, argc, argv);
}

/* The administrative subcommands a set-gid copy refuses to run. */
static const char *const sg_refused[] = {
	"check-config", "params", "scan", "passwd", "status", "ban", "unban", "banned", "why",
	"reload", "queue",
};

int cli_setgid(const char *def_config, int argc, char **argv)
{
	gid_t drop_gid = getegid();
	const char *base = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	const char *config_path = def_config;
	int i = 1;

	/* the group is used for nothing but creating the drop file */
	if (setegid(getgid()) < 0) {
		fprintf(stderr, "sendmail: fatal: setegid: %s\n", strerror(errno));
		return EX_SOFTWARE;
	}
	if (strcmp(base, "sendmail") == 0)
		return sm_run(drop_gid, def_config, def_config, argc - 1, argv + 1);
	int mailq = strcmp(base, "mailq") == 0;
	if (!mailq) {
		/* `mailwarden [-c FILE] sendmail|mailq ...`; -c is sendmail's -C */
		if (i < argc && strncmp(argv[i], "-c", 2) == 0) {
			config_path = argv[i][2] ? argv[i] + 2 : i + 1 < argc ? argv[++i] : NULL;
			i++;
			if (config_path == NULL) {
				fprintf(stderr, "sendmail: fatal: option -c needs an argument\n");
				return EX_USAGE;
			}
		}
		const char *cmd = i < argc ? argv[i] : "";
		for (size_t k = 0; k < sizeof(sg_refused) / sizeof(*sg_refused); k++) {
			if (strcmp(cmd, sg_refused[k]) != 0)
				continue;
			gid_t g = getgid();
			if (setresgid(g, g, g) < 0)
				return EX_SOFTWARE;
			fprintf(stderr, "sendmail: fatal: this copy of mailwarden is set-gid: it runs "
			    "only as sendmail or mailq, not '%s' (run the mailwarden binary)\n", cmd);
			return EX_USAGE;
		}
		if (strcmp(cmd, "mailq") == 0 || strcmp(cmd, "sendmail") == 0) {
			mailq = cmd[0] == 'm';
			i++;
		}
	}
	/* mailq is sendmail -bp; its own flags (-C) follow. -c FILE given
	 * before the subcommand is passed on as -C FILE. */
	char **args = xcalloc((size_t)(argc - i) + 4, sizeof(*args));
	int n = 0;
	if (mailq)
		args[n++] = "-bp";
	if (config_path != def_config) {
		args[n++] = "-C";
		args[n++] = (char *)config_path;
	}
	for (; i < argc; i++)
		args[n++] = argv[i];
	int rc = sm_run(drop_gid, def_config, def_config, n, args);
	free(args);
	return rc;
}
