/*
 * queue_show — `mailwarden queue show ID` (cli_queue_show): print one
 * queued message as Postfix's `postcat -q ID` does: the envelope
 * records, the message contents, the end marker, each section headed
 * with its queue and ID.
 * The file is looked up in incoming/, deferred/ and hold/ (root or
 * mail_owner: the spool is closed to others).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "mail/spool.h"

/* "Mon Dec  7 12:00:00 2026", as postcat prints times. */
static void show_time(FILE *out, const char *label, long sec)
{
	char t[64];
	time_t tt = (time_t)sec;
	struct tm tm;
	if (localtime_r(&tt, &tm) == NULL || strftime(t, sizeof(t), "%a %b %e %H:%M:%S %Y", &tm) == 0)
		snprintf(t, sizeof(t), "%ld", sec);
	fprintf(out, "%s: %s\n", label, t);
}

/* The body, copied from the file as it is (LF line endings). */
static int show_body(FILE *out, const struct spool_env *env)
{
	char b[65536];
	size_t left = env->body_len;
	off_t off = env->body_off;
	while (left > 0) {
		ssize_t n = pread(env->fd, b, left < sizeof(b) ? left : sizeof(b), off);
		if (n <= 0)
			return -1;
		fwrite(b, 1, (size_t)n, out);
		left -= (size_t)n;
		off += n;
	}
	return 0;
}

int cli_queue_show(int qfd, const char *id, FILE *out)
{
	static const char *const queues[] = { "incoming", "deferred", "hold" };
	char err[256];
	if (!spool_valid_id(id)) {
		fprintf(stderr, "mailwarden: bad queue ID: %s\n", id);
		return 1;
	}
	for (size_t q = 0; q < sizeof(queues) / sizeof(queues[0]); q++) {
		struct spool_env env;
		int dfd = openat(qfd, queues[q], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			continue;
		if (faccessat(dfd, id, F_OK, 0) < 0) {
			close(dfd);
			continue;
		}
		int rc = spool_read(dfd, id, &env, err, sizeof(err));
		close(dfd);
		if (rc < 0) {
			fprintf(stderr, "mailwarden: %s/%s: %s\n", queues[q], id, err);
			spool_env_free(&env);
			return 1;
		}
		const char *qn = queues[q];
		fprintf(out, "*** ENVELOPE RECORDS %s/%s ***\n", qn, id);
		fprintf(out, "message_size: %16zu %15ld %15zu\n", env.body_len, (long)env.body_off,
		    env.nrcpt);
		show_time(out, "message_arrival_time", env.arrival_sec);
		fprintf(out, "named_attribute: log_client_name=%s\n", env.client_name ? env.client_name : "");
		fprintf(out, "named_attribute: log_client_address=%s\n", env.client_addr ? env.client_addr : "");
		fprintf(out, "named_attribute: log_helo_name=%s\n", env.helo ? env.helo : "");
		fprintf(out, "named_attribute: log_protocol_name=%s\n", env.proto ? env.proto : "");
		if (env.sasl_user)
			fprintf(out, "named_attribute: sasl_username=%s\n", env.sasl_user);
		if (env.filter)
			fprintf(out, "content_filter: %s\n", env.filter);
		fprintf(out, "sender: %s\n", env.sender ? env.sender : "");
		for (size_t i = 0; i < env.nrcpt; i++)
			fprintf(out, "%s: %s\n", env.rcpt[i].status == SPOOL_ST_DONE ? "done_recipient" :
			    "recipient", env.rcpt[i].addr);
		fprintf(out, "*** MESSAGE CONTENTS %s/%s ***\n", qn, id);
		rc = show_body(out, &env);
		fprintf(out, "*** HEADER EXTRACTED %s/%s ***\n", qn, id);
		fprintf(out, "*** MESSAGE FILE END %s/%s ***\n", qn, id);
		spool_env_free(&env);
		if (rc < 0) {
			fprintf(stderr, "mailwarden: %s/%s: read error\n", qn, id);
			return 1;
		}
		return 0;
	}
	fprintf(stderr, "mailwarden: %s: no such queue file\n", id);
	return 1;
}
