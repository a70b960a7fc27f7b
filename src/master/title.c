/*
 * title — process titles for ps (see title.h), as setproctitle(3) does
 * it on Linux: argv[] and environ[] strings are contiguous at the top of
 * the stack; once copied away, that whole area is ours to write.
 */
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "master/title.h"

extern char **environ;

static char **volatile title_env;	/* the copies, kept reachable (for LSan) after unsetenv() */
static char *title_area;	/* the original argv[0] */
static size_t title_len;	/* bytes up to the end of the last contiguous string */

void title_init(int argc, char **argv)
{
	if (argc < 1 || argv[0] == NULL)
		return;
	char *end = argv[0] + strlen(argv[0]) + 1;
	for (int i = 1; i < argc; i++)
		if (argv[i] == end)
			end = argv[i] + strlen(argv[i]) + 1;
	size_t n = 0;
	while (environ && environ[n])
		n++;
	char **env = xmalloc((n + 1) * sizeof(*env));
	for (size_t i = 0; i < n; i++) {
		if (environ[i] == end)
			end = environ[i] + strlen(environ[i]) + 1;
		env[i] = xstrdup(environ[i]);
	}
	env[n] = NULL;
	title_env = xmalloc((n + 1) * sizeof(*title_env));
	memcpy(title_env, env, (n + 1) * sizeof(*title_env));
	environ = env;
	title_area = argv[0];
	title_len = (size_t)(end - argv[0]);
	for (int i = 0; i < argc; i++)
		argv[i] = xstrdup(argv[i]);
}

void title_set(const char *role, const char *conf)
{
	if (title_area == NULL || title_len < 2)
		return;
	int n = snprintf(title_area, title_len, "mailwarden: %s%s%s", role,
	    conf ? " -c " : "", conf ? conf : "");
	size_t used = n < 0 ? 0 : (size_t)n >= title_len ? title_len - 1 : (size_t)n;
	memset(title_area + used, '\0', title_len - used);
}
