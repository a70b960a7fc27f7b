/*
 * actions_check — check-config for a jail's actions (actions.h): each
 * action.d command action is read and its commands built, nothing run
 * (start, ban and unban of an IPv4 and an IPv6 address, check, flush,
 * stop, in action-test's dry mode); a command the shell cannot parse
 * (`sh -n`), or whose program is not installed, makes the jail fail,
 * with the tags left unresolved named: what fail2ban would only find out
 * at the first ban ("Syntax error: redirection unexpected").
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/net.h"
#include "common/util.h"
#include "warden/firewall/actcmd.h"
#include "warden/firewall/actions.h"

/* Words that are not programs to look for. */
static const char *const shell_words[] = {
	"if", "then", "else", "elif", "fi", "for", "in", "do", "done", "while", "until", "case",
	"esac", "function", "!", "[", "[[", "test", "echo", "printf", "true", "false", "exit",
	"return", "local", "export", "set", "unset", "read", "cd", "eval", "exec", "shift",
	"break", "continue", ":", ".", "source", "trap", "wait", "kill", "command", "type",
	"umask", "ulimit", "alias", "let", "declare", "readonly", NULL,
};

static const char *const path_dirs[] = {
	"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin", NULL,
};

/* Is program w installed (a path, or found along path_dirs)? */
static int installed(const char *w)
{
	struct stat st;
	if (strchr(w, '/'))
		return stat(w, &st) == 0;
	for (size_t i = 0; path_dirs[i]; i++) {
		char p[512];
		snprintf(p, sizeof(p), "%s/%s", path_dirs[i], w);
		if (stat(p, &st) == 0 && (st.st_mode & 0111))
			return 1;
	}
	return 0;
}

/* "prog ... || other" on the rest of the line: prog may be missing. */
static int has_fallback(const char *rest)
{
	size_t n = strcspn(rest, "\n;");
	const char *f = strstr(rest, "||");
	return f && (size_t)(f - rest) < n;
}

/* The programs a command starts (first word of each command, outside
 * quotes, `...` and $(...)) that are not installed, into out. */
static void missing_programs(const char *s, char *out, size_t len)
{
	int start = 1, depth = 0;
	size_t o = strlen(out);
	while (*s) {
		char c = *s;
		if (c == '\'' || c == '"') {	/* quoted: skipped */
			const char *e = strchr(s + 1, c);
			s = e ? e + 1 : s + strlen(s);
			start = 0;
			continue;
		}
		if (c == '`') {
			const char *e = strchr(s + 1, '`');
			s = e ? e + 1 : s + strlen(s);
			continue;
		}
		if (c == '$' && s[1] == '(') {
			depth++;
			s += 2;
			continue;
		}
		if (c == ')' && depth > 0) {
			depth--;
			s++;
			continue;
		}
		if (strchr("\n;|&{}()", c)) {
			start = 1;
			s++;
			continue;
		}
		if (c == '\\') {	/* an escaped character is text */
			s += s[1] ? 2 : 1;
			start = 0;
			continue;
		}
		if (c == ' ' || c == '\t') {
			s++;
			continue;
		}
		size_t n = strcspn(s, " \t\n;|&(){}<>'\"`$");
		if (start && depth == 0 && n > 0 && n < 200) {
			char w[200];
			snprintf(w, sizeof(w), "%.*s", (int)n, s);
			int assign = strchr(w, '=') != NULL;
			/* a name or a path; not a number, glob or word with a fallback */
			int skip = assign || strspn(w, "0123456789.") == n ||
			    strspn(w, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./+-")
			    != n || !(isalnum((unsigned char)*w) || *w == '/') || has_fallback(s + n);
			for (size_t i = 0; !skip && shell_words[i]; i++)
				skip = strcmp(w, shell_words[i]) == 0;
			if (!skip && !installed(w) && strstr(out, w) == NULL && o + n + 3 < len)
				o += (size_t)snprintf(out + o, len - o, "%s%s", o ? ", " : "", w);
			start = assign;	/* VAR=x prog: prog is next */
		}
		s += n ? n : 1;
	}
}

/* Does sh -n accept text? 0, or -1 and the shell's complaint in why. */
static int parses(const char *text, char *why, size_t len)
{
	int p[2];
	*why = '\0';
	if (pipe(p) < 0)
		return 0;	/* cannot tell */
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], 2);
		dup2(p[1], 1);
		close(p[0]);
		execl("/bin/sh", "sh", "-n", "-c", text, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	size_t n = 0;
	ssize_t r;
	while (pid > 0 && n + 1 < len && (r = read(p[0], why + n, len - n - 1)) > 0)
		n += (size_t)r;
	why[n] = '\0';
	close(p[0]);
	int status = 0;
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return 0;
	why[strcspn(why, "\n")] = '\0';
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* Each command of a dry run's text (dry) parses and finds its programs:
 * 0, or -1 and err naming the command (what: the jail and action). */
static int each_command(const char *dry, char *err, size_t errlen, const char *what)
{
	const char *p = dry;
	while (*p) {
		const char *line_end = strchr(p, '\n');
		if (strncmp(p, "# ", 2) != 0 || line_end == NULL) {
			p = line_end ? line_end + 1 : p + strlen(p);
			continue;
		}
		/* "# ACTION OP FAM [IP]" then args, then the command up to the next "# " */
		char head[256];
		snprintf(head, sizeof(head), "%.*s", (int)(line_end - p - 2), p + 2);
		p = line_end + 1;
		while (strncmp(p, "#  $", 4) == 0 && strchr(p, '\n'))
			p = strchr(p, '\n') + 1;
		const char *end = p;
		while (*end && !(end[0] == '#' && end[1] == ' ' && (end == dry || end[-1] == '\n')))
			end = strchr(end, '\n') ? strchr(end, '\n') + 1 : end + strlen(end);
		char *text = xstrndup(p, (size_t)(end - p));
		size_t tl = strlen(text);
		if (tl && text[tl - 1] == '\n')
			text[tl - 1] = '\0';
		char why[512], tags[512], miss[512] = "";
		int bad = parses(text, why, sizeof(why));
		missing_programs(text, miss, sizeof(miss));
		actcmd_unresolved(text, tags, sizeof(tags));
		if (bad < 0 || *miss) {
			const char *op = strchr(head, ' ') ? strchr(head, ' ') + 1 : head;
			snprintf(err, errlen, "%s: %s cannot run: %s%s%s%s%s", what, op,
			    bad < 0 ? "the shell cannot parse it (" : "", bad < 0 ? why : "",
			    bad < 0 ? ")" : "", *miss ? (bad < 0 ? "; not installed: " : "not installed: ")
			    : "", miss);
			if (bad < 0 && *tags && strlen(err) + strlen(tags) + 24 < errlen)
				snprintf(err + strlen(err), errlen - strlen(err), "; unresolved tags: %s",
				    tags);
			free(text);
			return -1;
		}
		free(text);
		p = end;
	}
	return 0;
}

int actions_check_jail(const struct jail *j, const char *const *dirs, char *err, size_t errlen)
{
	static const char *const ips[] = { "192.0.2.1", "2001:db8::1" };
	for (size_t k = 0; k < j->nactions; k++) {
		const struct jail_ref *ref = &j->actions[k];
		if (!action_is_command(ref))	/* in-process: nothing to build */
			continue;
		char why[1024];
		struct action *a = action_new(j, ref, dirs, NULL, why, sizeof(why));
		if (a == NULL) {
			snprintf(err, errlen, "%s", why);
			return -1;
		}
		struct buf dry;
		buf_init(&dry, 1 << 22);
		action_dry(a, &dry);
		action_start(a, why, sizeof(why));
		for (size_t i = 0; i < 2; i++) {
			struct action_ban b;
			memset(&b, 0, sizeof(b));
			net_parse_net(ips[i], &b.net, why, sizeof(why));
			b.bantime = j->bantime;
			b.failures = j->maxretry;
			action_ban(a, &b, 1, why, sizeof(why));
			action_unban(a, &b, 1, why, sizeof(why));
		}
		action_check(a, why, sizeof(why));
		action_stop(a);
		const char *last;
		char what[300];
		snprintf(what, sizeof(what), "[%s] action %s", j->name, action_name(a));
		int rc = 0;
		if (action_errors(a, &last)) {
			snprintf(err, errlen, "%s: %s", what, last);
			rc = -1;
		} else {
			rc = each_command(dry.data ? dry.data : "", err, errlen, what);
		}
		buf_free(&dry);
		action_free(a);
		if (rc < 0)
			return -1;
	}
	return 0;
}
