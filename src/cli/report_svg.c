/*
 * report_svg — `mailwarden report`'s page: one self-contained HTML file
 * (inline CSS and SVG, no script, no outside reference) with hourly line
 * charts (mail in/out/rejected/bounced, AUTH failures and bans per jail,
 * queue size) and bar charts (offending prefixes, guessed login names,
 * reject reasons). Every drawn value carries data-series/data-t/data-v
 * (or data-label/data-v) so a test can read the numbers back from the
 * rendered DOM.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/report.h"

#define W 960		/* chart width, px */
#define H 240
#define ML 56		/* margins */
#define MR 16
#define MT 16
#define MB 36

static const char *const colours[] = { "#1f77b4", "#2ca02c", "#d62728", "#ff7f0e", "#9467bd",
    "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f" };

struct line {
	const char *name;
	const long *v;		/* r->nhours values; -1: none (carried forward) */
};

/* Text for HTML and SVG: & < > " escaped, control bytes dropped. */
static void esc(FILE *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		default:
			if ((unsigned char)*s >= 0x20)
				fputc(*s, out);
		}
	}
}

/* A round axis maximum at or above m. */
static long nice_max(long m)
{
	long step = 1;
	while (step * 10 <= m)
		step *= 10;
	for (long k = 1; k <= 10; k++)
		if (k * step >= m)
			return k * step < 4 ? 4 : k * step;
	return m;
}

static void hour_text(const struct report *r, size_t h, const char *fmt, char *buf, size_t len)
{
	time_t t = r->start + (time_t)h * 3600;
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(buf, len, fmt, &tm);
}

static void line_chart(const struct report *r, FILE *out, const char *id, const char *title,
    const struct line *ls, size_t nl)
{
	long max = 0;
	for (size_t i = 0; i < nl; i++)
		for (size_t h = 0; h < r->nhours; h++)
			if (ls[i].v[h] > max)
				max = ls[i].v[h];
	max = nice_max(max);
	double xs = (double)(W - ML - MR) / (double)(r->nhours > 1 ? r->nhours - 1 : 1);
	double ys = (double)(H - MT - MB) / (double)max;
	fprintf(out, "<h2>");
	esc(out, title);
	fprintf(out, "</h2>\n<svg id=\"%s\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" "
	    "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">\n", id, W, H, W, H);
	for (int g = 0; g <= 4; g++) {	/* grid and y labels */
		double y = H - MB - (double)g * (H - MT - MB) / 4;
		fprintf(out, "<line class=\"grid\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/>"
		    "<text class=\"ylab\" x=\"%d\" y=\"%.1f\">%ld</text>\n", ML, W - MR, y, y, ML - 6,
		    y + 4, max * g / 4);
	}
	size_t every = r->nhours > 48 ? 24 : r->nhours > 12 ? 6 : 1;
	for (size_t h = 0; h < r->nhours; h += every) {	/* x labels */
		char lab[32];
		hour_text(r, h, every >= 24 ? "%b %d" : "%H:00", lab, sizeof(lab));
		fprintf(out, "<text class=\"xlab\" x=\"%.1f\" y=\"%d\">%s</text>\n", ML + xs * (double)h,
		    H - MB + 16, lab);
	}
	for (size_t i = 0; i < nl; i++) {
		const char *c = colours[i % (sizeof(colours) / sizeof(*colours))];
		long prev = 0;
		/* every other series dashed: equal values stay visible */
		fprintf(out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%s\"%s points=\"",
		    c, i % 2 ? "2" : "1.5", i % 2 ? " stroke-dasharray=\"5 3\"" : "");
		for (size_t h = 0; h < r->nhours; h++) {
			long v = ls[i].v[h] < 0 ? prev : ls[i].v[h];
			prev = v;
			fprintf(out, "%.1f,%.1f ", ML + xs * (double)h, H - MB - ys * (double)v);
		}
		fprintf(out, "\"/>\n");
		for (size_t h = 0; h < r->nhours; h++) {
			if (ls[i].v[h] <= 0)
				continue;
			char iso[32];
			hour_text(r, h, "%Y-%m-%dT%H:00", iso, sizeof(iso));
			fprintf(out, "<circle class=\"pt\" data-series=\"");
			esc(out, ls[i].name);
			fprintf(out, "\" data-t=\"%s\" data-v=\"%ld\" cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" "
			    "fill=\"%s\"><title>", iso, ls[i].v[h], ML + xs * (double)h,
			    H - MB - ys * (double)ls[i].v[h], c);
			esc(out, ls[i].name);
			fprintf(out, " %s: %ld</title></circle>\n", iso, ls[i].v[h]);
		}
	}
	fprintf(out, "</svg>\n<p class=\"legend\">");
	for (size_t i = 0; i < nl; i++) {
		fprintf(out, "<span style=\"color:%s\">&#9632;</span> ",
		    colours[i % (sizeof(colours) / sizeof(*colours))]);
		esc(out, ls[i].name);
		fprintf(out, " &nbsp; ");
	}
	fprintf(out, "</p>\n");
}

static void bar_chart(FILE *out, const char *id, const char *title, const struct rp_tally *t)
{
	size_t *order, n = rp_tally_sorted(t, &order);
	if (n > 15)
		n = 15;
	fprintf(out, "<h2>");
	esc(out, title);
	fprintf(out, "</h2>\n");
	if (n == 0) {
		fprintf(out, "<p class=\"none\">none in this period</p>\n");
		free(order);
		return;
	}
	long max = t->n[order[0]];
	int bh = 18, hgt = (int)n * (bh + 4) + 8;
	fprintf(out, "<svg id=\"%s\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" "
	    "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">\n", id, W, hgt, W, hgt);
	for (size_t i = 0; i < n; i++) {
		size_t k = order[i];
		double w = (double)(W - 320) * (double)t->n[k] / (double)max;
		int y = 4 + (int)i * (bh + 4);
		fprintf(out, "<text class=\"blab\" x=\"236\" y=\"%d\">", y + 13);
		esc(out, t->key[k]);
		fprintf(out, "</text><rect class=\"bar\" data-label=\"");
		esc(out, t->key[k]);
		fprintf(out, "\" data-v=\"%ld\" x=\"244\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
		    "fill=\"%s\"/><text class=\"bval\" x=\"%.1f\" y=\"%d\">%ld</text>\n", t->n[k], y,
		    w < 1 ? 1 : w, bh, colours[0], 250 + w, y + 13, t->n[k]);
	}
	fprintf(out, "</svg>\n");
	free(order);
}

static long sum(const long *v, size_t n)
{
	long s = 0;
	for (size_t i = 0; i < n; i++)
		s += v[i] > 0 ? v[i] : 0;
	return s;
}

/* The queue counted in its directory at report time, apart from the
 * chart's log-derived estimate; nothing when it was not tried. */
static void queue_now(const struct report *r, FILE *out)
{
	if (r->qstate == 0)
		return;
	if (r->qstate < 0) {
		fprintf(out, "<p id=\"queue-now\" class=\"none\">Queue now: not counted (");
		esc(out, r->qwhy);
		fprintf(out, "; run the report as root or mail_owner to count it).</p>\n");
		return;
	}
	long total = 0;
	for (int i = 0; i < RP_QDIRS; i++)
		total += r->qnow[i];
	fprintf(out, "<p id=\"queue-now\" data-queue-now=\"%ld\">Queue now: <b>%ld</b> "
	    "message%s, counted in ", total, total, total == 1 ? "" : "s");
	esc(out, r->qdir);
	fprintf(out, " when this report was made (not from the log):");
	for (int i = 0; i < RP_QDIRS; i++)
		fprintf(out, "%s %s <span data-queue-dir=\"%s\">%ld</span>", i ? "," : "",
		    rp_qdirs[i], rp_qdirs[i], r->qnow[i]);
	fprintf(out, ".</p>\n");
}

void report_html(const struct report *r, const char *title, FILE *out)
{
	char from[64], to[64];
	struct tm tm;
	localtime_r(&r->start, &tm);
	strftime(from, sizeof(from), "%Y-%m-%d %H:00", &tm);
	localtime_r(&r->now, &tm);
	strftime(to, sizeof(to), "%Y-%m-%d %H:%M", &tm);
	fprintf(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	    "<title>");
	esc(out, title);
	fprintf(out, "</title>\n<style>\nbody{font:14px sans-serif;margin:24px;color:#222}"
	    "h1{font-size:20px}h2{font-size:16px;margin:28px 0 6px}"
	    ".grid{stroke:#ddd}.ylab{font-size:11px;text-anchor:end;fill:#555}"
	    ".xlab{font-size:11px;text-anchor:middle;fill:#555}.blab{font-size:12px;"
	    "text-anchor:end}.bval{font-size:11px;fill:#333}table{border-collapse:collapse}"
	    "td,th{padding:2px 12px;text-align:right;border-bottom:1px solid #eee}"
	    "th:first-child,td:first-child{text-align:left}.none{color:#777}\n</style></head>\n"
	    "<body>\n<h1>");
	esc(out, title);
	fprintf(out, "</h1>\n<p>%s to %s, %zu hours; %ld log lines read, %ld counted.</p>\n", from,
	    to, r->nhours, r->lines, r->used);
	static const char *const names[RS__N] = { "in", "out", "rejected", "bounced",
	    "auth failures", "queue" };
	fprintf(out, "<table id=\"totals\"><tr><th>total</th><th>count</th></tr>\n");
	for (int s = 0; s < RS_QUEUE; s++)
		fprintf(out, "<tr><td>%s</td><td data-total=\"%s\">%ld</td></tr>\n", names[s],
		    names[s], sum(r->series[s], r->nhours));
	for (size_t j = 0; j < r->njails; j++) {
		fprintf(out, "<tr><td>bans ");
		esc(out, r->jail[j]);
		fprintf(out, "</td><td>%ld</td></tr>\n", sum(r->bans[j], r->nhours));
	}
	fprintf(out, "</table>\n");
	struct line mail[] = { { "in", r->series[RS_IN] }, { "out", r->series[RS_OUT] },
	    { "rejected", r->series[RS_REJECTED] }, { "bounced", r->series[RS_BOUNCED] } };
	line_chart(r, out, "mail", "Mail per hour: in, out, rejected, bounced", mail, 4);
	struct line ab[RP_JAILS + 1] = { { "auth failures", r->series[RS_AUTH] } };
	char names_b[RP_JAILS][80];
	for (size_t j = 0; j < r->njails; j++) {
		snprintf(names_b[j], sizeof(names_b[j]), "bans %s", r->jail[j]);
		ab[j + 1].name = names_b[j];
		ab[j + 1].v = r->bans[j];
	}
	line_chart(r, out, "abuse", "AUTH failures and bans per hour, per jail", ab,
	    1 + r->njails);
	struct line q[] = { { "queue", r->series[RS_QUEUE] } };
	line_chart(r, out, "queue", "Queue size, estimated from the log (messages received and "
	    "not yet removed)", q, 1);
	queue_now(r, out);
	bar_chart(out, "prefixes", "Top offending prefixes (rejects and AUTH failures)",
	    &r->prefixes);
	bar_chart(out, "logins", "Most-guessed login names", &r->logins);
	bar_chart(out, "reasons", "Reject reasons", &r->reasons);
	fprintf(out, "<p class=\"none\">mailwarden %s report</p>\n</body></html>\n",
	    MAILWARDEN_VERSION);
}
