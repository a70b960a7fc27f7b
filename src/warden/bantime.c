/*
 * bantime — the ban time increment (bantime.increment): fail2ban's
 * evformula from server/jail.py rebuilt without eval(). The two formulas
 * of Debian's jail.conf are recognised as text; anything else must be
 * plain arithmetic, compiled here to a short postfix program.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "warden/jail.h"

enum {
	BT_OP_NUM, BT_OP_TIME, BT_OP_COUNT, BT_OP_FACTOR, BT_OP_MAXTIME,
	BT_OP_ADD, BT_OP_SUB, BT_OP_MUL, BT_OP_DIV, BT_OP_POW, BT_OP_NEG,
	BT_OP_MIN, BT_OP_MAX,	/* val = number of arguments */
};

#define BT_MAXTEXT 1000
#define BT_MAXDEPTH 40
#define BT_MAXSTACK 64
/* Results are clamped here (~31 million years) so they fit a long. */
#define BT_CEILING 1e15

static const char formula_pow2[] =
    "ban.Time * (1<<(ban.Count if ban.Count<20 else 20)) * banFactor";
static const char formula_exp[] =
    "ban.Time * math.exp(float(ban.Count+1)*banFactor)/math.exp(1*banFactor)";

/*
 * exp, log and pow without libm (the build links no -lm): range reduction
 * by powers of two and short series, accurate to about 1e-15 relative,
 * which is all a ban time in seconds needs.
 */
static double bt_exp(double x)
{
	static const double ln2 = 0.69314718055994530942;
	double scale = 1, term = 1, sum = 1;

	if (x != x)
		return x;
	if (x > 709)
		return HUGE_VAL;
	if (x < -745)
		return 0;
	long k = (long)(x / ln2 + (x < 0 ? -0.5 : 0.5));
	double r = x - (double)k * ln2;
	for (int i = 1; i < 30; i++) {
		term *= r / i;
		sum += term;
	}
	for (; k > 0; k--)
		scale *= 2;
	for (; k < 0; k++)
		scale /= 2;
	return sum * scale;
}

static double bt_log(double x)
{
	static const double ln2 = 0.69314718055994530942;
	int e = 0;

	if (!(x > 0) || x == HUGE_VAL)
		return x == HUGE_VAL ? x : NAN;
	while (x >= 2) {
		x /= 2;
		e++;
	}
	while (x < 1) {
		x *= 2;
		e--;
	}
	/* log(x) = 2 atanh(y), y = (x-1)/(x+1) in [0, 1/3) */
	double y = (x - 1) / (x + 1), y2 = y * y, t = y, sum = 0;
	for (int i = 1; i < 80; i += 2) {
		sum += t / i;
		t *= y2;
	}
	return 2 * sum + e * ln2;
}

static double bt_pow(double a, double b)
{
	if (b == (double)(long)b && b > -1024 && b < 1024) {
		long n = (long)b;
		double r = 1, base = a;
		for (long m = n < 0 ? -n : n; m > 0; m >>= 1) {
			if (m & 1)
				r *= base;
			base *= base;
		}
		return n < 0 ? 1 / r : r;
	}
	if (a < 0)
		return NAN;	/* Python gives a complex number */
	if (a == 0)
		return b > 0 ? 0 : NAN;
	return bt_exp(b * bt_log(a));
}

/* a equals b ignoring white space. */
static int same_text(const char *a, const char *b)
{
	for (;;) {
		while (isspace((unsigned char)*a))
			a++;
		while (isspace((unsigned char)*b))
			b++;
		if (*a != *b)
			return 0;
		if (*a == '\0')
			return 1;
		a++, b++;
	}
}

struct cc {
	const char *s, *p;
	int vars, depth;
	struct bt_formula *f;
	char *err;
	size_t errlen;
	int failed;
};

static void emit(struct cc *c, int op, double val)
{
	struct bt_formula *f = c->f;
	f->ops = xrealloc(f->ops, (f->nops + 1) * sizeof(*f->ops));
	f->ops[f->nops].op = op;
	f->ops[f->nops].val = val;
	f->nops++;
}

static int cfail(struct cc *c, const char *what)
{
	if (!c->failed)
		snprintf(c->err, c->errlen, "%s at '%.20s' (allowed: numbers, ban.Time, "
		    "ban.Count, banFactor, banMaxTime, + - * / ** ( ) min max)",
		    what, *c->p ? c->p : "end");
	c->failed = 1;
	return -1;
}

static void skip(struct cc *c)
{
	while (isspace((unsigned char)*c->p))
		c->p++;
}

/* Consume tok if it is next. */
static int eat(struct cc *c, const char *tok)
{
	skip(c);
	size_t n = strlen(tok);
	if (strncmp(c->p, tok, n) != 0)
		return 0;
	c->p += n;
	return 1;
}

static int expr(struct cc *c);
static int unary(struct cc *c);

static const struct {
	const char *name;
	int op;
} bt_vars[] = {
	{ "ban.Time", BT_OP_TIME },
	{ "ban.Count", BT_OP_COUNT },
	{ "banFactor", BT_OP_FACTOR },
	{ "banMaxTime", BT_OP_MAXTIME },
};

static int atom(struct cc *c)
{
	skip(c);
	if (isdigit((unsigned char)*c->p) || (*c->p == '.' && isdigit((unsigned char)c->p[1]))) {
		char *end;
		double v = strtod(c->p, &end);
		if (isalpha((unsigned char)*end) || *end == '.' || !isfinite(v))
			return cfail(c, "bad number");
		c->p = end;
		emit(c, BT_OP_NUM, v);
		return 0;
	}
	if (eat(c, "(")) {
		if (expr(c) < 0)
			return -1;
		return eat(c, ")") ? 0 : cfail(c, "missing ')'");
	}
	size_t n = 0;
	while (isalnum((unsigned char)c->p[n]) || c->p[n] == '_' || c->p[n] == '.')
		n++;
	if (n == 0)
		return cfail(c, "unexpected text");
	for (size_t i = 0; i < sizeof(bt_vars) / sizeof(bt_vars[0]); i++) {
		if (strlen(bt_vars[i].name) == n && strncmp(c->p, bt_vars[i].name, n) == 0) {
			if (!c->vars)
				return cfail(c, "a number is expected");
			c->p += n;
			emit(c, bt_vars[i].op, 0);
			if (bt_vars[i].op == BT_OP_MAXTIME)
				c->f->uses_maxtime = 1;
			return 0;
		}
	}
	int fn = n == 3 && strncmp(c->p, "min", 3) == 0 ? BT_OP_MIN
	    : n == 3 && strncmp(c->p, "max", 3) == 0 ? BT_OP_MAX : -1;
	if (fn < 0)
		return cfail(c, "unknown name");
	c->p += n;
	if (!eat(c, "("))
		return cfail(c, "'(' expected");
	int nargs = 0;
	do {
		if (expr(c) < 0)
			return -1;
		nargs++;
	} while (eat(c, ","));
	if (!eat(c, ")"))
		return cfail(c, "missing ')'");
	emit(c, fn, nargs);
	return 0;
}

/* power := atom ['**' unary], right associative through unary. */
static int power(struct cc *c)
{
	if (atom(c) < 0)
		return -1;
	if (eat(c, "**")) {
		if (unary(c) < 0)
			return -1;
		emit(c, BT_OP_POW, 0);
	}
	return 0;
}

static int unary(struct cc *c)
{
	if (++c->depth > BT_MAXDEPTH)
		return cfail(c, "nested too deeply");
	int rc;
	if (eat(c, "-")) {
		rc = unary(c);
		if (rc == 0)
			emit(c, BT_OP_NEG, 0);
	} else if (eat(c, "+")) {
		rc = unary(c);
	} else {
		rc = power(c);
	}
	c->depth--;
	return rc;
}

static int term(struct cc *c)
{
	if (unary(c) < 0)
		return -1;
	for (;;) {
		skip(c);
		if (c->p[0] == '*' && c->p[1] != '*') {
			c->p++;
			if (unary(c) < 0)
				return -1;
			emit(c, BT_OP_MUL, 0);
		} else if (c->p[0] == '/' && c->p[1] != '/') {
			c->p++;
			if (unary(c) < 0)
				return -1;
			emit(c, BT_OP_DIV, 0);
		} else {
			return 0;
		}
	}
}

static int expr(struct cc *c)
{
	if (++c->depth > BT_MAXDEPTH)
		return cfail(c, "nested too deeply");
	if (term(c) < 0)
		return -1;
	for (;;) {
		int op = eat(c, "+") ? BT_OP_ADD : eat(c, "-") ? BT_OP_SUB : -1;
		if (op < 0)
			break;
		if (term(c) < 0)
			return -1;
		emit(c, op, 0);
	}
	c->depth--;
	return 0;
}

/* Deepest stack the program needs; -1 if it is malformed. */
static int stack_need(const struct bt_formula *f)
{
	int sp = 0, most = 0;
	for (size_t i = 0; i < f->nops; i++) {
		int op = f->ops[i].op;
		if (op <= BT_OP_MAXTIME)
			sp++;
		else if (op == BT_OP_NEG)
			;
		else if (op == BT_OP_MIN || op == BT_OP_MAX)
			sp -= (int)f->ops[i].val - 1;
		else
			sp--;
		if (sp < 1)
			return -1;
		if (sp > most)
			most = sp;
	}
	return sp == 1 ? most : -1;
}

int bantime_compile(const char *text, int vars, struct bt_formula *f,
    char *err, size_t errlen)
{
	memset(f, 0, sizeof(*f));
	if (strlen(text) > BT_MAXTEXT) {
		snprintf(err, errlen, "formula longer than %d characters", BT_MAXTEXT);
		return -1;
	}
	if (vars && same_text(text, formula_pow2)) {
		f->kind = BT_FORMULA_POW2;
		return 0;
	}
	if (vars && same_text(text, formula_exp)) {
		f->kind = BT_FORMULA_EXP;
		return 0;
	}
	struct cc c = { .s = text, .p = text, .vars = vars, .f = f, .err = err, .errlen = errlen };
	f->kind = BT_FORMULA_EXPR;
	if (expr(&c) == 0) {
		skip(&c);
		if (*c.p != '\0')
			cfail(&c, "unexpected text");
	}
	if (!c.failed && stack_need(f) > BT_MAXSTACK)
		cfail(&c, "formula too complex");
	if (c.failed) {
		bantime_formula_free(f);
		return -1;
	}
	return 0;
}

void bantime_formula_free(struct bt_formula *f)
{
	free(f->ops);
	f->ops = NULL;
	f->nops = 0;
}

double bantime_eval(const struct bt_formula *f, double time, double count,
    double factor, double maxtime)
{
	double st[BT_MAXSTACK];
	int sp = 0;

	if (f->kind == BT_FORMULA_POW2)
		return time * (double)(1L << (count < 20 ? (long)count : 20)) * factor;
	if (f->kind == BT_FORMULA_EXP)
		return time * bt_exp((count + 1) * factor) / bt_exp(1 * factor);
	for (size_t i = 0; i < f->nops; i++) {
		const struct bt_op *o = &f->ops[i];
		double b;
		switch (o->op) {
		case BT_OP_NUM: st[sp++] = o->val; break;
		case BT_OP_TIME: st[sp++] = time; break;
		case BT_OP_COUNT: st[sp++] = count; break;
		case BT_OP_FACTOR: st[sp++] = factor; break;
		case BT_OP_MAXTIME: st[sp++] = maxtime; break;
		case BT_OP_NEG: st[sp - 1] = -st[sp - 1]; break;
		case BT_OP_MIN:
		case BT_OP_MAX: {
			int n = (int)o->val;
			double r = st[sp - n];
			for (int k = sp - n + 1; k < sp; k++)
				r = o->op == BT_OP_MIN ? (st[k] < r ? st[k] : r) : (st[k] > r ? st[k] : r);
			sp -= n;
			st[sp++] = r;
			break;
		}
		default:
			b = st[--sp];
			switch (o->op) {
			case BT_OP_ADD: st[sp - 1] += b; break;
			case BT_OP_SUB: st[sp - 1] -= b; break;
			case BT_OP_MUL: st[sp - 1] *= b; break;
			case BT_OP_DIV: st[sp - 1] = b == 0 ? NAN : st[sp - 1] / b; break;
			case BT_OP_POW: st[sp - 1] = bt_pow(st[sp - 1], b); break;
			}
		}
	}
	return sp == 1 ? st[0] : NAN;
}

long bantime_next(const struct jail *j, long count, double rnd)
{
	double t = (double)j->bantime;
	double r;

	if (!j->increment || j->bantime <= 0 || count <= 0)
		return j->bantime;
	if (j->nmultipliers > 0) {
		size_t i = (size_t)count < j->nmultipliers ? (size_t)count : j->nmultipliers - 1;
		r = t * j->factor * (double)j->multipliers[i];
	} else {
		r = bantime_eval(&j->formula, t, (double)count, j->factor, (double)j->maxtime);
		/* fail2ban: max(ban.Time, formula); an error keeps ban.Time */
		if (!(r >= t))
			r = t;
	}
	if (j->maxtime > 0 && r > (double)j->maxtime)
		r = (double)j->maxtime;
	if (j->rndtime > 0)
		r += rnd * (double)j->rndtime;
	if (!(r < BT_CEILING))
		r = BT_CEILING;
	if (r < 1)
		r = 1;
	return (long)r;
}
