/*
 * maildir_test — batched Maildir delivery: directories created 0700, file
 * content (Return-Path, Delivered-To, body from an offset of the spool
 * file), Dovecot-style names with S=size, tmp/ -> new/ only on commit,
 * large bodies, failures, and delivery as another uid (root only);
 * maildir_add_under() walks its relative part without following symlinks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "local/maildir.h"

static char base[64];
static int body_fd = -1;
static const char prefix[] = "MW1\nS x\nR- y\nB\n";	/* junk before the body */
static const char body[] = "Received: from x\nSubject: hi\n\nhello\n";

static int setup(void **state)
{
	char tmpl[] = "/tmp/mw-maildir-XXXXXX";
	if (mkdtemp(tmpl) == NULL)
		return -1;
	str_copy(base, sizeof(base), tmpl);
	char p[128];
	snprintf(p, sizeof(p), "%s/spool", base);
	body_fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (body_fd < 0 || write(body_fd, prefix, strlen(prefix)) < 0 ||
	    write(body_fd, body, strlen(body)) < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	close(body_fd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	return system(cmd) == 0 ? 0 : -1;
}

/* Number of entries in dir (without . and ..); the last name in *name. */
static int count_dir(const char *dir, char *name, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		n++;
		if (name)
			str_copy(name, len, e->d_name);
	}
	closedir(d);
	return n;
}

static char *slurp(const char *path, size_t *len)
{
	static char buf[300000];
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	assert_true(n >= 0);
	close(fd);
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

static void test_deliver(void **state)
{
	char md[128], sub[512], name[256], path[1024], why[256];
	struct stat st;
	size_t len;

	snprintf(md, sizeof(md), "%s/home/u/Maildir/", base);
	struct maildir_batch *b = maildir_batch_new();
	int i = maildir_add(b, md, -1, -1, "s@example.org", "u@example.com", body_fd,
	    (off_t)strlen(prefix), strlen(body), why, sizeof(why));
	assert_int_equal(i, 0);
	/* Created, 0700, and only in tmp/ before the commit. */
	assert_int_equal(stat(md, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	for (int k = 0; k < 3; k++) {
		snprintf(sub, sizeof(sub), "%s%s", md, (const char *[]){ "cur", "new", "tmp" }[k]);
		assert_int_equal(stat(sub, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0700);
	}
	snprintf(sub, sizeof(sub), "%snew", md);
	assert_int_equal(count_dir(sub, NULL, 0), 0);
	snprintf(sub, sizeof(sub), "%stmp", md);
	assert_int_equal(count_dir(sub, NULL, 0), 1);

	assert_int_equal(maildir_commit(b), 0);
	assert_true(maildir_ok(b, 0));
	assert_string_equal(maildir_why(b, 0), "");
	assert_int_equal(count_dir(sub, NULL, 0), 0);
	snprintf(sub, sizeof(sub), "%snew", md);
	assert_int_equal(count_dir(sub, name, sizeof(name)), 1);
	assert_string_equal(name, maildir_name(b, 0));

	/* SEC.M<usec>P<pid>Q<n>.HOST,S=<size> */
	regex_t re;
	assert_int_equal(regcomp(&re, "^[0-9]+\\.M[0-9]{6}P[0-9]+Q[0-9]+\\.[^/:,]+,S=([0-9]+)$",
	    REG_EXTENDED), 0);
	regmatch_t mt[2];
	assert_int_equal(regexec(&re, name, 2, mt, 0), 0);
	regfree(&re);
	long size = atol(name + mt[1].rm_so);

	snprintf(path, sizeof(path), "%s/%s", sub, name);
	char *got = slurp(path, &len);
	const char *want = "Return-Path: <s@example.org>\nDelivered-To: u@example.com\n"
	    "Received: from x\nSubject: hi\n\nhello\n";
	assert_string_equal(got, want);
	assert_int_equal(size, (long)len);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	maildir_batch_free(b);
}

static void test_batch_many(void **state)
{
	char md[2][128], sub[512], why[256];
	struct maildir_batch *b = maildir_batch_new();

	for (int k = 0; k < 2; k++)
		snprintf(md[k], sizeof(md[k]), "%s/many%d/", base, k);
	for (int i = 0; i < 100; i++)
		assert_int_equal(maildir_add(b, md[i % 2], -1, -1, "", "r@x", body_fd,
		    (off_t)strlen(prefix), strlen(body), why, sizeof(why)), i);
	assert_int_equal(maildir_count(b), 100);
	assert_int_equal(maildir_commit(b), 0);
	for (int k = 0; k < 2; k++) {
		snprintf(sub, sizeof(sub), "%snew", md[k]);
		assert_int_equal(count_dir(sub, NULL, 0), 50);	/* names are unique */
		snprintf(sub, sizeof(sub), "%stmp", md[k]);
		assert_int_equal(count_dir(sub, NULL, 0), 0);
	}
	maildir_batch_free(b);
}

static void test_large_body(void **state)
{
	char md[128], p[128], path[512], why[256];
	size_t big = 200000, len;
	char *data = malloc(big);

	for (size_t i = 0; i < big; i++)
		data[i] = (i % 64 == 63) ? '\n' : (char)('a' + i % 26);
	snprintf(p, sizeof(p), "%s/bigspool", base);
	int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "HDR\n", 4), 4);
	assert_int_equal(write(fd, data, big), (ssize_t)big);
	snprintf(md, sizeof(md), "%s/big/", base);
	struct maildir_batch *b = maildir_batch_new();
	assert_int_equal(maildir_add(b, md, -1, -1, "", "r@x", fd, 4, big, why, sizeof(why)), 0);
	assert_int_equal(maildir_commit(b), 0);
	snprintf(path, sizeof(path), "%snew/%s", md, maildir_name(b, 0));
	char *got = slurp(path, &len);
	const char *h = "Return-Path: <>\nDelivered-To: r@x\n";
	assert_int_equal(len, strlen(h) + big);
	assert_memory_equal(got, h, strlen(h));
	assert_memory_equal(got + strlen(h), data, big);
	maildir_batch_free(b);
	close(fd);
	free(data);
}

static void test_failures(void **state)
{
	char md[128], p[128], why[256];

	/* A file where the Maildir should be. */
	snprintf(p, sizeof(p), "%s/plainfile", base);
	close(open(p, O_WRONLY | O_CREAT, 0600));
	snprintf(md, sizeof(md), "%s/plainfile/Maildir/", base);
	struct maildir_batch *b = maildir_batch_new();
	why[0] = '\0';
	assert_int_equal(maildir_add(b, md, -1, -1, "", "r@x", body_fd, 0, 10, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "Not a directory"));
	/* Body beyond the end of the spool file: EIO, tmp file removed. */
	snprintf(md, sizeof(md), "%s/short/", base);
	assert_int_equal(maildir_add(b, md, -1, -1, "", "r@x", body_fd, 0, 100000, why,
	    sizeof(why)), -1);
	assert_non_null(strstr(why, "Input/output error"));
	snprintf(p, sizeof(p), "%s/short/tmp", base);
	assert_int_equal(count_dir(p, NULL, 0), 0);
	/* Uncommitted items are removed with the batch. */
	assert_int_equal(maildir_add(b, md, -1, -1, "", "r@x", body_fd, 0, 5, why, sizeof(why)), 0);
	assert_int_equal(count_dir(p, NULL, 0), 1);
	maildir_batch_free(b);
	assert_int_equal(count_dir(p, NULL, 0), 0);
}

static void test_other_uid(void **state)
{
	char md[128], path[512], why[256];
	struct stat st;

	if (geteuid() != 0)
		skip();
	assert_int_equal(chmod(base, 0755), 0);
	snprintf(md, sizeof(md), "%s/nob", base);
	assert_int_equal(mkdir(md, 0755), 0);
	assert_int_equal(chown(md, 65534, 65534), 0);
	snprintf(md, sizeof(md), "%s/nob/Maildir/", base);
	struct maildir_batch *b = maildir_batch_new();
	assert_int_equal(maildir_add(b, md, 65534, 65534, "", "nobody@x", body_fd,
	    (off_t)strlen(prefix), strlen(body), why, sizeof(why)), 0);
	/* Our own identity is back for other work. */
	snprintf(path, sizeof(path), "%s/mine", base);
	close(open(path, O_WRONLY | O_CREAT, 0600));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(maildir_commit(b), 0);
	snprintf(path, sizeof(path), "%snew/%s", md, maildir_name(b, 0));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_uid, 65534);
	assert_int_equal(st.st_gid, 65534);
	assert_int_equal(stat(md, &st), 0);
	assert_int_equal(st.st_uid, 65534);
	maildir_batch_free(b);
	/* As nobody, root's mailbox is refused (a mistake of permissions is
	 * not enough: the uid check comes first). */
	snprintf(md, sizeof(md), "%s/nob/Maildir/", base);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (setresgid(65534, 65534, 65534) < 0 || setgroups(0, NULL) < 0 ||
		    setresuid(65534, 65534, 65534) < 0)
			_exit(2);
		struct maildir_batch *c = maildir_batch_new();
		int rc = maildir_add(c, md, 0, 0, "", "root@x", body_fd, 0, 5, why, sizeof(why));
		int ok = rc == -1 && strcmp(why, "cannot deliver as uid 0 when not running as root") == 0;
		/* Its own uid works. */
		rc = maildir_add(c, md, 65534, -1, "", "n@x", body_fd, 0, 5, why, sizeof(why));
		ok = ok && rc == 0 && maildir_commit(c) == 0;
		maildir_batch_free(c);
		_exit(ok ? 0 : 1);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_under_no_symlinks(void **state)
{
	char why[512], p[256], t[256];
	struct maildir_batch *b = maildir_batch_new();

	/* created component by component under the trusted base */
	assert_int_equal(maildir_add_under(b, base, "u/dom/box/", -1, -1, "", "r@x", body_fd,
	    0, 5, why, sizeof(why)), 0);
	/* a symlink as the Maildir, as a parent, as tmp/ */
	snprintf(t, sizeof(t), "%s/target", base);
	assert_int_equal(mkdir(t, 0700), 0);
	snprintf(p, sizeof(p), "%s/u/link", base);
	assert_int_equal(symlink(t, p), 0);
	assert_int_equal(maildir_add_under(b, base, "u/link/", -1, -1, "", "r@x", body_fd,
	    0, 5, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "a symlink or not a directory"));
	assert_int_equal(maildir_add_under(b, base, "u/link/box/", -1, -1, "", "r@x", body_fd,
	    0, 5, why, sizeof(why)), -1);
	snprintf(p, sizeof(p), "%s/u/t/", base);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/u/t/tmp", base);
	assert_int_equal(symlink(t, p), 0);
	assert_int_equal(maildir_add_under(b, base, "u/t/", -1, -1, "", "r@x", body_fd,
	    0, 5, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "tmp: a symlink or not a directory"));
	/* ".." is refused */
	assert_int_equal(maildir_add_under(b, base, "u/../u/dom/box/", -1, -1, "", "r@x",
	    body_fd, 0, 5, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "bad maildir path"));
	assert_int_equal(maildir_commit(b), 0);
	assert_int_equal(count_dir(t, NULL, 0), 0);	/* nothing went through a link */
	maildir_batch_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_under_no_symlinks),
		cmocka_unit_test(test_deliver),
		cmocka_unit_test(test_batch_many),
		cmocka_unit_test(test_large_body),
		cmocka_unit_test(test_failures),
		cmocka_unit_test(test_other_uid),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
