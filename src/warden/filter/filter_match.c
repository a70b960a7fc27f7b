/*
 * filter_match — match log lines one at a time against a loaded filter,
 * as fail2ban 1.0's Filter.processLine/findFailure do with checkAllRegex
 * off: the date is cut out, the line joins a buffer of the last maxlines
 * lines, ignoreregex / prefregex / failregex run on that buffer, the lines
 * a failregex used (less <SKIPLINES>) leave it, and <F-MLFID> groups
 * merge the lines of one connection: <F-NOFAIL> holds an address until a
 * failure comes, <F-MLFFORGET> drops the connection, <F-MLFGAINED> (a
 * login) clears what was pending. All state lives in struct filter, so a
 * caller feeding a followed log line by line gets the same answers.
 * Once the date is found, a single-line filter's line without the literals
 * its regexes need (filter_lit.c) is a miss without running any regex.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "warden/filter/filter.h"
#include "warden/filter/filter_impl.h"

/* ---- group dictionaries (fail2ban's groupdict, None = absent value) ---- */

static void fd_clear(struct fdict *d)
{
	d->n = 0;
	d->used = 0;
	d->nusers = 0;
	d->user1[0] = '\0';
}

static int fd_find(const struct fdict *d, const char *name)
{
	for (int i = 0; i < d->n; i++)	/* the first byte first: no call for most */
		if (d->name[i][0] == name[0] && strcmp(d->name[i], name) == 0)
			return i;
	return -1;
}

/* Value of name, or NULL when absent or None. */
static const char *fd_get(const struct fdict *d, const char *name)
{
	int i = fd_find(d, name);
	return i < 0 || d->vo[i] < 0 ? NULL : d->arena + d->vo[i];
}

/* Python truth of d.get(name). */
static int fd_true(const struct fdict *d, const char *name)
{
	const char *v = fd_get(d, name);
	return v && *v;
}

static void fd_compact(struct fdict *d)
{
	char tmp[FD_ARENA];
	size_t used = 0;
	for (int i = 0; i < d->n; i++) {
		if (d->vo[i] < 0)
			continue;
		size_t l = strlen(d->arena + d->vo[i]) + 1;
		memcpy(tmp + used, d->arena + d->vo[i], l);
		d->vo[i] = (int)used;
		used += l;
	}
	memcpy(d->arena, tmp, used);
	d->used = used;
}

/* d[name] = v[0..len) (v NULL: None). name must outlive d. */
static void fd_put(struct fdict *d, const char *name, const char *v, size_t len)
{
	int i = fd_find(d, name);
	if (i < 0) {
		if (d->n >= FD_MAX)
			return;
		i = d->n++;
		d->name[i] = name;
	}
	d->vo[i] = -1;
	if (v == NULL)
		return;
	if (len > 1023)
		len = 1023;
	if (d->used + len + 1 > FD_ARENA)
		fd_compact(d);
	if (d->used + len + 1 > FD_ARENA)
		len = d->used + 1 >= FD_ARENA ? 0 : FD_ARENA - d->used - 1;
	if (d->used + len + 1 > FD_ARENA)
		return;
	memcpy(d->arena + d->used, v, len);
	d->arena[d->used + len] = '\0';
	d->vo[i] = (int)d->used;
	d->used += len + 1;
}

static void fd_puts(struct fdict *d, const char *name, const char *v)
{
	fd_put(d, name, v, v ? strlen(v) : 0);
}

/* d.pop(name): Python truth of the removed value. */
static int fd_pop(struct fdict *d, const char *name)
{
	int i = fd_find(d, name);
	if (i < 0)
		return 0;
	int truth = d->vo[i] >= 0 && d->arena[d->vo[i]] != '\0';
	d->n--;
	d->name[i] = d->name[d->n];
	d->vo[i] = d->vo[d->n];
	return truth;
}

/* dst.update((k, v) for k, v in src if v is not None) */
static void fd_update(struct fdict *dst, const struct fdict *src, int with_none)
{
	for (int i = 0; i < src->n; i++)
		if (src->vo[i] >= 0)
			fd_puts(dst, src->name[i], src->arena + src->vo[i]);
		else if (with_none)
			fd_put(dst, src->name[i], NULL, 0);
}

/* The users set: add u (if true), return its size capped at 2. */
static int users_add(struct fdict *d, const char *u)
{
	if (u && *u) {
		if (d->nusers == 0) {
			str_copy(d->user1, sizeof(d->user1), u);
			d->nusers = 1;
		} else if (d->nusers == 1 && strcmp(d->user1, u) != 0)
			d->nusers = 2;
	}
	return d->nusers;
}

/* Names alt_X / alt_X_N fold into X for these X. */
static const char *const alt_base[] = { "user", "host", "fid", "ip4", "ip6", "dns" };

/* groupdict() of a match, alt_ groups folded in (FailRegex.getGroups). */
static void fd_from_match(struct fdict *d, pcre2_code *re, pcre2_match_data *md,
    const char *subj)
{
	uint32_t cnt = 0, esz = 0;
	PCRE2_SPTR tab;
	pcre2_pattern_info(re, PCRE2_INFO_NAMECOUNT, &cnt);
	pcre2_pattern_info(re, PCRE2_INFO_NAMEENTRYSIZE, &esz);
	pcre2_pattern_info(re, PCRE2_INFO_NAMETABLE, &tab);
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
	uint32_t ovc = pcre2_get_ovector_count(md);
	for (uint32_t i = 0; i < cnt; i++) {
		PCRE2_SPTR e = tab + i * esz;
		const char *n = (const char *)e + 2;
		uint32_t g = ((uint32_t)e[0] << 8) | e[1];
		int set = g < ovc && ov[2 * g] != PCRE2_UNSET;
		if (!set) {
			if (fd_find(d, n) < 0)
				fd_put(d, n, NULL, 0);
		} else if (fd_get(d, n) == NULL)	/* first set of dup names */
			fd_put(d, n, subj + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
	}
	for (uint32_t i = 0; i < cnt; i++) {
		const char *n = (const char *)(tab + i * esz) + 2;
		if (strncmp(n, "alt_", 4) != 0 || !fd_true(d, n))
			continue;
		for (size_t k = 0; k < sizeof(alt_base) / sizeof(alt_base[0]); k++) {
			size_t bl = strlen(alt_base[k]);
			if (strncmp(n + 4, alt_base[k], bl) == 0 &&
			    (n[4 + bl] == '\0' || n[4 + bl] == '_') &&
			    !fd_true(d, alt_base[k]))
				fd_puts(d, alt_base[k], fd_get(d, n));
		}
	}
}

/* ---- the multi-line failure-id cache ---- */

static struct mlf_entry *mlf_get(struct filter *f, const char *id)
{
	if (f->mlf == NULL)
		return NULL;
	for (int i = 0; i < MLF_MAX; i++) {
		struct mlf_entry *e = &f->mlf[i];
		if (e->id[0] == '\0' || strcmp(e->id, id) != 0)
			continue;
		if (e->expires > clock_wall())
			return e;
		e->id[0] = '\0';
		return NULL;
	}
	return NULL;
}

static struct mlf_entry *mlf_set(struct filter *f, const char *id,
    const struct fdict *d)
{
	if (f->mlf == NULL)
		f->mlf = xcalloc(MLF_MAX, sizeof(*f->mlf));
	time_t now = clock_wall();
	struct mlf_entry *slot = NULL;
	for (int i = 0; i < MLF_MAX; i++) {
		struct mlf_entry *e = &f->mlf[i];
		if (e->id[0] && e->expires <= now)
			e->id[0] = '\0';
		if (e->id[0] == '\0')
			slot = slot ? slot : e;
	}
	if (slot == NULL) {			/* full: drop the oldest */
		slot = &f->mlf[0];
		for (int i = 1; i < MLF_MAX; i++)
			if (f->mlf[i].seq < slot->seq)
				slot = &f->mlf[i];
	}
	str_copy(slot->id, sizeof(slot->id), id);
	slot->expires = now + MLF_TTL;
	slot->seq = ++f->seq;
	slot->d = *d;
	return slot;
}

/*
 * Filter._mergeFailure: fold the groups d of this line into what the
 * connection mlfid has so far; returns the merged groups and, in *live,
 * the cache entry they are kept in (NULL once forgotten).
 */
static struct fdict *mlf_merge(struct filter *f, const char *mlfid,
    struct fdict *d, struct mlf_entry **live)
{
	int nf = 0, users = 0;
	struct fdict *m;

	if (fd_true(d, "mlfgained")) {
		nf |= 8 | 1;
		if (!fd_true(d, "nofail"))
			fd_puts(d, "nofail", fd_get(d, "mlfgained"));
	} else if (fd_true(d, "nofail"))
		nf |= 1;
	if (fd_pop(d, "mlfforget"))
		nf |= 2;
	struct mlf_entry *e = mlf_get(f, mlfid);
	*live = NULL;
	if (e) {
		m = &e->d;
		users = users_add(m, fd_get(d, "user"));
		if (fd_pop(m, "nofail"))
			nf |= 4;
		if (fd_pop(m, "mlfgained"))
			nf |= 4;
		if (nf & 8)
			fd_pop(m, "mlfpending");
		fd_update(m, d, 0);
		if (nf & 2) {
			f->det = *m;
			e->id[0] = '\0';
			m = &f->det;
		} else
			*live = e;
	} else if (!(nf & 2)) {
		users = users_add(d, fd_get(d, "user"));
		e = mlf_set(f, mlfid, d);
		m = &e->d;
		*live = e;
	} else
		m = d;
	if (fd_pop(m, "mlfpending") || users > 1) {
		fd_pop(m, "nofail");
		fd_pop(m, "mlfgained");
	}
	return m;
}

/* ---- the line buffer ---- */

static void fline_set(struct fline *l, const char *a, size_t al, const char *b,
    size_t bl)
{
	if (al + bl + 1 > l->cap) {
		l->cap = al + bl + 64;
		l->text = xrealloc(l->text, l->cap);
	}
	memcpy(l->text, a, al);
	memcpy(l->text + al, b, bl);
	l->len = al + bl;
	l->text[l->len] = '\0';
}

/* Append a line (a + b) to the buffer, dropping the oldest past maxlines. */
static void lines_push(struct filter *f, const char *a, size_t al,
    const char *b, size_t bl)
{
	if (f->lines == NULL) {
		f->lines = xcalloc((size_t)f->maxlines + 1, sizeof(*f->lines));
		f->lines2 = xcalloc((size_t)f->maxlines + 1, sizeof(*f->lines));
	}
	if (f->nlines >= f->maxlines) {
		struct fline old = f->lines[0];
		memmove(f->lines, f->lines + 1, sizeof(*f->lines) * (size_t)(f->nlines - 1));
		f->lines[f->nlines - 1] = old;
		f->nlines--;
	}
	fline_set(&f->lines[f->nlines++], a, al, b, bl);
}

/* Keep only lines keep[0..n) (in that order); the rest become spare. */
static void lines_keep(struct filter *f, const int *keep, int n)
{
	int used[FILTER_MAXLINES + 1] = { 0 }, k = 0;
	for (int i = 0; i < n; i++) {
		f->lines2[k++] = f->lines[keep[i]];
		used[keep[i]] = 1;
	}
	for (int i = 0; i <= f->maxlines; i++)
		if (i >= f->nlines || !used[i])
			f->lines2[k++] = f->lines[i];
	struct fline *t = f->lines;
	f->lines = f->lines2;
	f->lines2 = t;
	f->nlines = n;
}

/* Regex._tupleLinesBuf: lines joined by \n, plus a final \n. */
static void join_lines(struct buf *out, const struct fline *l, const int *idx,
    int n)
{
	buf_reset(out);
	for (int i = 0; i < n; i++) {
		const struct fline *x = idx ? &l[idx[i]] : &l[i];
		if (i)
			buf_append(out, "\n", 1);
		buf_append(out, x->text, x->len);
	}
	buf_append(out, "\n", 1);
}

/* A bounded match of x (a failregex or ignoreregex). */
static int search(struct frx *x, const char *s, size_t len, pcre2_match_data *md)
{
	return regex_search(x->re, s, len, md, &x->limit_logged, x->file, x->line) >= 0;
}

static size_t count_nl(const char *s, size_t from, size_t to)
{
	size_t n = 0;
	for (size_t i = from; i < to; i++)
		n += s[i] == '\n';
	return n;
}

/*
 * Regex.search's bookkeeping: which buffered lines the match in subj
 * covered (matched) and which stay (unmatched: before, <SKIPLINES>, after).
 */
static void split_match(struct filter *f, pcre2_code *re, pcre2_match_data *md,
    const char *subj, size_t sl, int *matched, int *nm, int *unmatched, int *nu)
{
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
	size_t ms = ov[0], me = ov[1], ls = 0, le = sl;
	for (size_t i = ms + 1 < sl ? ms + 1 : sl; i > 0; i--)
		if (subj[i - 1] == '\n') {
			ls = i;
			break;
		}
	if (ls > ms + 1)
		ls = 0;
	for (size_t i = me ? me - 1 : 0; i < sl; i++)
		if (subj[i] == '\n') {
			le = i + 1;
			break;
		}
	int c1 = (int)count_nl(subj, 0, ls), c2 = (int)count_nl(subj, 0, le);
	if (c1 > f->nlines)
		c1 = f->nlines;
	if (c2 > f->nlines)
		c2 = f->nlines;
	*nm = *nu = 0;
	for (int i = 0; i < c1; i++)
		unmatched[(*nu)++] = i;
	for (int i = c1; i < c2; i++)
		matched[(*nm)++] = i;
	/* lines eaten by <SKIPLINES> go back to the buffer */
	struct fdict *d = &f->det;
	fd_clear(d);
	fd_from_match(d, re, md, subj);
	int from = 0;
	for (int g = 0; g < 16; g++) {
		char nm_[32];
		if (snprintf(nm_, sizeof(nm_), "skiplines%d", g) >= (int)sizeof(nm_))
			break;
		if (fd_find(d, nm_) < 0)
			break;
		const char *v = fd_get(d, nm_);
		while (v && *v) {
			size_t l = strcspn(v, "\n");
			for (int k = from; k < *nm; k++) {
				const struct fline *x = &f->lines[matched[k]];
				if (x->len == l && memcmp(x->text, v, l) == 0) {
					unmatched[(*nu)++] = matched[k];
					memmove(matched + k, matched + k + 1,
					    sizeof(int) * (size_t)(*nm - k - 1));
					(*nm)--;
					from = k;
					break;
				}
			}
			v += l + (v[l] == '\n');
		}
	}
	for (int i = c2; i < f->nlines; i++)
		unmatched[(*nu)++] = i;
}

/* ---- one line ---- */

static enum filter_result match_line(struct filter *f, const char *line,
    size_t len, size_t ds, size_t de, struct filter_hit *h);

/* Cut *len to FILTER_LINE_MAX (logged once per filter). */
static void cut_line(struct filter *f, size_t *len)
{
	if (*len <= FILTER_LINE_MAX)
		return;
	if (!f->cut_logged) {
		log_warn("%s: a %zu-byte log line cut to %d bytes before matching; "
		    "not logged again for this filter", f->file, *len, FILTER_LINE_MAX);
		f->cut_logged = 1;
	}
	*len = FILTER_LINE_MAX;
}

/* An empty hit (the strings' first bytes only: this runs for every line). */
static void hit_clear(struct filter_hit *h)
{
	h->result = FILTER_MISS;
	h->regex = -1;
	h->has_date = 0;
	h->time = 0;
	h->host[0] = h->user[0] = h->fid[0] = h->mlfid[0] = '\0';
	h->has_user = h->lines = h->nofail = h->pending = 0;
}

/* May the regexes be skipped for this line (subject line minus [ds, de))? */
static int prefilter_skips(struct filter *f, const char *line, size_t len,
    size_t ds, size_t de)
{
	if (!f->lits.ready)
		filter_lit_setup(f);
	if (!f->lits.on || f->lits.off)
		return 0;
	return !filter_lit_candidate(f, line, ds, line + de, len - de);
}

/* filter_match() of line[0..len) (no NUL in it). */
static enum filter_result match_dated(struct filter *f, const char *line,
    size_t len, struct filter_hit *h)
{
	size_t ds = 0, de = 0;
	time_t t;

	cut_line(f, &len);
	hit_clear(h);
	/* an empty date match ("^I\\(()**") means: no date, use the last */
	if (date_find(f->date, line, len, &ds, &de, &t) && de > ds) {
		h->has_date = 1;
		h->time = t;
		f->last_date = t;
	} else {
		ds = de = 0;
		h->time = f->last_date ? f->last_date : clock_wall();
	}
	if (prefilter_skips(f, line, len, ds, de))
		return h->result;
	return match_line(f, line, len, ds, de, h);
}

enum filter_result filter_match(struct filter *f, const char *line,
    struct filter_hit *h)
{
	return match_dated(f, line, strlen(line), h);
}

enum filter_result filter_match_len(struct filter *f, const char *line, size_t len,
    struct filter_hit *h)
{
	/* a NUL ends the line, as it does for filter_match() */
	return match_dated(f, line, strnlen(line, len), h);
}

enum filter_result filter_match_time(struct filter *f, const char *line,
    time_t t, struct filter_hit *h)
{
	memset(h, 0, sizeof(*h));
	h->regex = -1;
	h->has_date = 1;
	h->time = t;
	f->last_date = t;
	size_t len = strlen(line);
	cut_line(f, &len);
	if (prefilter_skips(f, line, len, 0, 0))
		return h->result;
	return match_line(f, line, len, 0, 0, h);
}

void filter_set_prefilter(struct filter *f, int on)
{
	f->lits.off = !on;
}

int filter_prefilter_on(struct filter *f)
{
	if (!f->lits.ready)
		filter_lit_setup(f);
	return f->lits.on && !f->lits.off;
}

int filter_stateful(struct filter *f)
{
	if (!f->lits.ready)
		filter_lit_setup(f);
	(void)regex_match_context();	/* made once, before a caller's threads */
	return f->lits.stateful;
}

/* The line without its date, line[ds..de), through the filter. */
static enum filter_result match_line(struct filter *f, const char *line,
    size_t len, size_t ds, size_t de, struct filter_hit *h)
{
	int multi = f->maxlines > 1;
	int matched[FILTER_MAXLINES + 1], unmatched[FILTER_MAXLINES + 1], nm = 0, nu = 0;

	struct buf *sb = &f->subj;
	if (multi) {
		lines_push(f, line, ds, line + de, len - de);
		join_lines(sb, f->lines, NULL, f->nlines);
	} else {
		buf_reset(sb);
		buf_append(sb, line, ds);
		buf_append(sb, line + de, len - de);
		buf_append(sb, "\n", 1);	/* fail2ban matches "line\n" */
	}
	const char *s = bstr(sb);
	size_t sl = sb->len;
	/* ignoreregex first only when there are far fewer of them */
	if (f->nign && f->nign < f->nfail - 2)
		for (int j = 0; j < f->nign; j++)
			if (search(&f->ign[j], s, sl, f->md2)) {
				h->result = FILTER_IGNORED;
				return h->result;
			}
	int have_pre = 0;
	if (f->pref) {
		if (regex_search(f->pref, s, sl, f->md2, &f->pref_logged, f->file, 0) < 0)
			return h->result;
		fd_clear(&f->pre);
		fd_from_match(&f->pre, f->pref, f->md2, s);
		have_pre = 1;
		const char *c = fd_get(&f->pre, "content");
		if (c && *c) {
			struct buf *b2 = &f->subj2;
			buf_reset(b2);
			buf_puts(b2, c);
			buf_append(b2, "\n", 1);
			if (multi) {
				fline_set(&f->lines[0], c, strlen(c), "", 0);
				lines_keep(f, (int[]){ 0 }, 1);
			}
			struct buf tb = *sb;	/* swap: subj now holds the content */
			*sb = *b2;
			*b2 = tb;
			s = bstr(sb);
			sl = sb->len;
		}
		fd_pop(&f->pre, "content");
	}
	for (int i = 0; i < f->nfail; i++) {
		if (!search(&f->fail[i], s, sl, f->md))
			continue;
		if (multi)
			split_match(f, f->fail[i].re, f->md, s, sl, matched, &nm,
			    unmatched, &nu);
		struct fdict *d = &f->work;
		fd_clear(d);
		fd_from_match(d, f->fail[i].re, f->md, s);
		if (f->nign) {
			const char *is = s;
			size_t il = sl;
			if (multi) {
				join_lines(&f->subj2, f->lines, matched, nm);
				is = bstr(&f->subj2);
				il = f->subj2.len;
			}
			for (int j = 0; j < f->nign; j++)
				if (search(&f->ign[j], is, il, f->md2)) {
					if (multi)
						lines_keep(f, unmatched, nu);
					h->result = FILTER_IGNORED;
					h->regex = i;
					return h->result;
				}
		}
		h->regex = i;
		if (multi) {
			h->lines = nm;
			lines_keep(f, unmatched, nu);
		} else
			h->lines = 1;
		if (have_pre) {
			fd_update(&f->pre, d, 1);
			d = &f->pre;
		}
		const char *mlfid = fd_get(d, "mlfid");
		struct mlf_entry *live = NULL;
		if (mlfid) {
			str_copy(h->mlfid, sizeof(h->mlfid), mlfid);
			d = mlf_merge(f, h->mlfid, d, &live);
		}
		if (fd_true(d, "nofail")) {
			h->nofail = 1;		/* matched, not (yet) a failure */
			return h->result;
		}
		const char *fid = fd_get(d, "fid"), *ip = fd_get(d, "ip4");
		if (ip == NULL)
			ip = fd_get(d, "ip6");
		if (ip == NULL)
			ip = fd_get(d, "dns");
		if (ip == NULL)
			ip = fid;
		if (ip == NULL) {		/* the address is still to come */
			if (live)
				fd_puts(&live->d, "mlfpending", "1");
			h->pending = 1;
			return h->result;
		}
		str_copy(h->host, sizeof(h->host),
		    fid == NULL || strcmp(fid, ip) == 0 ? ip : fid);
		if (fid)
			str_copy(h->fid, sizeof(h->fid), fid);
		const char *u = fd_get(d, "user");
		if (u) {
			str_copy(h->user, sizeof(h->user), u);
			h->has_user = 1;
		}
		h->result = FILTER_FAIL;
		break;
	}
	return h->result;
}

void filter_reset(struct filter *f)
{
	f->nlines = 0;
	if (f->mlf)
		for (int i = 0; i < MLF_MAX; i++)
			f->mlf[i].id[0] = '\0';
}

void filter_state_free(struct filter *f)
{
	for (int i = 0; f->lines && i <= f->maxlines; i++)
		free(f->lines[i].text);	/* lines2 only aliases these */
	free(f->lines);
	free(f->lines2);
	free(f->mlf);
	f->lines = f->lines2 = NULL;
	f->mlf = NULL;
}
