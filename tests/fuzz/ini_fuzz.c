/*
 * ini_fuzz — the fail2ban INI module on its own (ini.h): a file's text
 * read (sections, continuation lines, comments, [INCLUDES] naming files
 * that are absent), then every option interpolated in a strict scope
 * (errors by kind, loops by chain) and a lenient one (kept as written,
 * bounded by a budget), and its tags substituted both ways: single pass
 * and fail2ban's substituteRecursiveTags, with tags naming options.
 * Input: the file's text.
 */
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "warden/ini.h"
#include "fuzz.h"

static const struct ini *cur;
static int escape_final;	/* its address: option "final" is a value from outside */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_quiet();
	return 0;
}

static const char *const *fallback(const char *sec)
{
	static const char *const order[] = { "Init", "Definition", NULL };
	return order;
}

/* <x>: option x of [Definition], or of [sec] for <sec/x>. */
static void tag(void *arg, const char *name, struct ini_tag *t)
{
	const struct ini_opt *o = ini_get(cur, "Definition", name);
	if (o == NULL && strchr(name, '/')) {
		char sec[128];
		size_t n = (size_t)(strchr(name, '/') - name);
		if (n < sizeof(sec)) {
			memcpy(sec, name, n);
			sec[n] = '\0';
			o = ini_get(cur, sec, name + n + 1);
		}
	}
	t->val = o ? o->val : NULL;
	t->final = arg != NULL && o && strcmp(o->key, "final") == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fz_str(data, size);
	struct ini ini = { .icase = size & 1 };
	struct ini_src src = { NULL, NULL };
	char err[1024];
	if (ini_read_text(&ini, &src, "fz.conf", s, err, sizeof(err)) == 0) {
		cur = &ini;
		unsigned budget = 4096;
		struct ini_scope strict = { .ini = &ini, .fallback = fallback, .name = "fz",
		    .flags = INI_ERR_UNKNOWN | INI_ERR_LONE_PCT | INI_ERR_TOOLONG | INI_LOOP_CHAIN,
		    .maxdepth = 16 };
		struct ini_scope lenient = { .ini = &ini, .fallback = fallback, .maxdepth = 10,
		    .budget = &budget };
		for (int i = 0; i < ini.n && i < 16; i++) {	/* each with a fresh budget */
			const struct ini_opt *o = &ini.o[i];
			struct buf b;
			struct ini_err e;
			buf_init(&b, 65536);
			(void)ini_interp(&strict, o->sec, o->val, o, &b, &e);
			buf_reset(&b);
			budget = 4096;
			(void)ini_interp(&lenient, o->sec, o->val, o, &b, &e);
			char *r = ini_tags_recursive(b.data ? b.data : "", o->key, tag, NULL, 32);
			free(r);
			buf_reset(&b);
			budget = 4096;
			ini_tags(o->val, tag, &escape_final, &lenient, o->sec, 10, &b);
			buf_free(&b);
		}
	}
	ini_free(&ini);
	free(s);
	return 0;
}
