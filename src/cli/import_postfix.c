/*
 * import_postfix — `mailwarden import-postfix [-o FILE] [DIR]`: turn a
 * Postfix configuration (DIR/main.cf and master.cf, default /etc/postfix)
 * into a mailwarden.conf, with a report that says of every key whether it
 * was mapped, dropped as harmless (why) or is not supported (what the
 * admin loses). The written file is run through this program's own
 * check-config; a line it refuses is kept as a comment and reported as
 * not supported (an unknown restriction is taken out of its list alone),
 * until the file passes. The file goes to FILE (never over an existing
 * one) or stdout; the report to stdout with -o, else stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/import_postfix.h"
#include "common/buf.h"
#include "common/config.h"
#include "common/util.h"

#define CHECK_OUT_MAX	(1024 * 1024)

/* The configuration's text: 4 lines of header, then p's lines. */
static void conf_text(const struct ipf *p, struct buf *b)
{
	buf_init(b, 64 * 1024 * 1024);
	buf_printf(b, "# Written by `mailwarden import-postfix %s` from main.cf and master.cf.\n"
	    "# Each key's fate is in the report printed with it; a line mailwarden\n"
	    "# refuses is kept as a comment.\n\n", p->dir);
	for (size_t i = 0; i < p->nlines; i++)
		buf_printf(b, "%s\n", p->lines[i].text);
}

/* Write the configuration to fd (from the start, truncated). -1 on error. */
static int write_conf(const struct ipf *p, int fd)
{
	struct buf b;
	conf_text(p, &b);
	int rc = ftruncate(fd, 0) == 0 && lseek(fd, 0, SEEK_SET) == 0 &&
	    fd_write_all(fd, b.data, b.len) == 0 ? 0 : -1;
	buf_free(&b);
	return rc;
}

/* Run this program's check-config on path; its stderr into out. The
 * exit status, or -1 if it could not run. */
static int run_check(const char *path, struct buf *out)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(fds[1], 2) < 0)
			_exit(127);
		execl("/proc/self/exe", "mailwarden", "-c", path, "check-config", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	char chunk[4096];
	ssize_t n;
	while ((n = read(fds[0], chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		buf_append(out, chunk, (size_t)n);	/* past the maximum: cut */
	}
	close(fds[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Take restriction name (and an argument after it) out of a list line. */
static void drop_restriction(struct ipf_line *l, const char *name)
{
	char *eq = strstr(l->text, " = ");
	if (eq == NULL)
		return;
	char **items = config_list(eq + 3);
	struct buf b;
	buf_init(&b, 2 * 1024 * 1024);
	buf_printf(&b, "%.*s = ", (int)(eq - l->text), l->text);
	int first = 1;
	for (size_t i = 0; items[i] != NULL; i++) {
		if (strcmp(items[i], name) == 0) {
			if (items[i + 1] != NULL && strpbrk(items[i + 1], ".:/") != NULL)
				i++;	/* its argument: a domain or a map */
			continue;
		}
		buf_printf(&b, "%s%s", first ? "" : ", ", items[i]);
		first = 0;
	}
	config_list_free(items);
	free(l->text);
	l->text = xstrdup(b.data);
	buf_free(&b);
}

/* Act on check-config's "TMP, line N: KEY: message" errors; how many. */
static int fix_errors(struct ipf *p, const char *tmp, const char *out)
{
	char prefix[4300];
	int fixed = 0;
	snprintf(prefix, sizeof(prefix), "%s, line ", tmp);
	for (const char *s = strstr(out, prefix); s; s = strstr(s + 1, prefix)) {
		char *end;
		long n = strtol(s + strlen(prefix), &end, 10);
		if (n < 5 || (size_t)n - 5 >= p->nlines || strncmp(end, ": ", 2) != 0)
			continue;	/* 4 lines of header come first */
		struct ipf_line *l = &p->lines[n - 5];
		const char *msg = end + 2, *eol = strchr(msg, '\n');
		int mlen = eol ? (int)(eol - msg) : (int)strlen(msg);
		if (l->rep < 0 || l->text[0] == '#')
			continue;
		struct ipf_rep *r = &p->reps[l->rep];
		const char *ur = strstr(msg, "unknown restriction '");
		if (ur != NULL && ur < msg + mlen) {
			char name[128], what[400];
			snprintf(name, sizeof(name), "%.*s", (int)strcspn(ur + 21, "'"), ur + 21);
			snprintf(what, sizeof(what), "%.*s: %s", (int)strcspn(l->text, " "), l->text, name);
			drop_restriction(l, name);
			free(r->what);
			r->what = xstrdup(l->text);
			ipf_report(p, IPF_UNSUPPORTED, r->where, what, "a restriction mailwarden does "
			    "not have: taken out of the list, its check is lost");
		} else {
			char *text, why[1200];
			size_t tl = strlen(l->text) + 32;
			text = xmalloc(tl);
			snprintf(text, tl, "# not supported: %s", l->text);
			free(l->text);
			l->text = text;
			snprintf(why, sizeof(why), "mailwarden refuses it: %.*s", mlen, msg);
			free(r->why);
			r->why = xstrdup(why);
			r->verdict = IPF_UNSUPPORTED;
		}
		fixed++;
	}
	return fixed;
}

/* The report: one line per key, then the counts. */
static void print_report(const struct ipf *p, FILE *f, int rc, const char *left)
{
	static const char *const words[] = { [IPF_MAPPED] = "mapped", [IPF_DROPPED] = "dropped",
	    [IPF_UNSUPPORTED] = "not supported" };
	size_t count[3] = { 0 };
	for (size_t i = 0; i < p->nreps; i++) {
		const struct ipf_rep *r = &p->reps[i];
		count[r->verdict]++;
		fprintf(f, "%-13s  %-36s  %s%s%s\n", words[r->verdict], r->where, r->what,
		    r->why[0] ? "  -- " : "", r->why);
	}
	fprintf(f, "import-postfix: %zu mapped, %zu dropped (harmless), %zu not supported\n",
	    count[IPF_MAPPED], count[IPF_DROPPED], count[IPF_UNSUPPORTED]);
	if (rc == 0)
		fprintf(f, "import-postfix: the written configuration passes check-config\n");
	else
		fprintf(f, "import-postfix: check-config still fails:\n%s", left);
}

int cli_import_postfix(int argc, char **argv)
{
	const char *out = NULL;
	struct ipf p = { .dir = "/etc/postfix" };
	char err[4200], tmp[4200];
	int opt;

	optind = 0;	/* GNU: start over (main() used getopt) */
	while ((opt = getopt(argc, argv, "+o:")) != -1) {
		if (opt != 'o') {
			fprintf(stderr, "usage: mailwarden import-postfix [-o FILE] [DIR]\n");
			return 2;
		}
		out = optarg;
	}
	if (optind < argc)
		p.dir = argv[optind];
	if (ipf_read(&p, err, sizeof(err)) < 0) {
		fprintf(stderr, "mailwarden: fatal: %s\n", err);
		ipf_free(&p);
		return 1;
	}
	ipf_map(&p);
	/* next to FILE, so check-config reads its jail.d/ as it will later */
	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", out ? out : "/tmp/mailwarden-import");
	int fd = mkstemp(tmp);
	if (fd < 0 || fchmod(fd, 0644) < 0) {
		fprintf(stderr, "mailwarden: fatal: %s: %s\n", tmp, strerror(errno));
		if (fd >= 0) {	/* made, but not ours to keep */
			close(fd);
			unlink(tmp);
		}
		ipf_free(&p);
		return 1;
	}
	struct buf check;
	buf_init(&check, CHECK_OUT_MAX);
	buf_puts(&check, "");
	int rc = -1;
	for (int round = 0; round < 20; round++) {
		buf_reset(&check);
		buf_puts(&check, "");
		if (write_conf(&p, fd) < 0 || (rc = run_check(tmp, &check)) < 0) {
			fprintf(stderr, "mailwarden: fatal: %s: %s\n", tmp, strerror(errno));
			break;
		}
		if (rc == 0 || fix_errors(&p, tmp, check.data) == 0)
			break;
	}
	close(fd);
	int ok = rc >= 0;
	if (ok && out != NULL && link(tmp, out) < 0) {	/* never over an existing file */
		fprintf(stderr, "mailwarden: fatal: %s: %s\n", out, strerror(errno));
		ok = 0;
	} else if (ok && out == NULL) {
		struct buf b;
		conf_text(&p, &b);
		fputs(b.data, stdout);
		buf_free(&b);
	}
	unlink(tmp);
	if (ok)
		print_report(&p, out ? stdout : stderr, rc, check.data);
	buf_free(&check);
	ipf_free(&p);
	return ok && rc == 0 ? 0 : 1;
}
