/* reports/render_html.c — one HTML page per experiment (see render.h):
 * self-contained apart from the figure files beside it (inline style, no
 * script, no external resource), its tables with captions, notes and
 * provenance, its figures as SVG images with links to the PDF, PNG, data
 * and gnuplot script; and an index page linking the experiments.
 * Never: no store or file system access. */
#include "reports/render.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "reports/format.h"

static const char rhtml_style[] =
    "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:80em;padding:0 1em;"
    "color:#222;line-height:1.45}\n"
    "table{border-collapse:collapse;margin:.5em 0;font-size:.9em}\n"
    "caption{text-align:left;font-weight:600;padding:.3em 0}\n"
    "th,td{padding:.2em .6em;border-bottom:1px solid #ddd;vertical-align:top}\n"
    "thead th{border-bottom:2px solid #444;text-align:left}\n"
    "td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\n"
    "th.g{text-align:center;border-bottom:1px solid #444}\n"
    ".ci{color:#666;font-size:.85em}\n"
    ".src,.links{color:#555;font-size:.85em}\n"
    ".scroll{overflow-x:auto}\n"
    "figure{margin:1.5em 0}\nfigure img{max-width:100%;height:auto;border:1px solid #eee}\n"
    "figcaption{font-size:.9em}\nblockquote{border-left:3px solid #bbb;margin:1em 0;"
    "padding:0 1em;color:#444}\ncode{font-size:.9em}\n";

static void rhtml_escape_n(const char *s, size_t n, FILE *out)
{
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        default: fputc(s[i], out);
        }
    }
}

static void rhtml_escape(const char *s, FILE *out)
{
    rhtml_escape_n(s, strlen(s), out);
}

static void rhtml_code(const char *s, size_t n, FILE *out)
{
    fputs("<code>", out);
    rhtml_escape_n(s, n, out);
    fputs("</code>", out);
}

static void rhtml_text(const char *s, FILE *out)
{
    rrender_spans(s, out, rhtml_escape_n, rhtml_code);
}

static void rhtml_cell(const rtab_col *col, const rtab_cell *c, FILE *out)
{
    char v[48], ci[100];
    fputs(c->kind == RTAB_TEXT ? "<td>" : "<td class=\"n\">", out);
    rrender_value(col, c, v, sizeof v, ci, sizeof ci);
    if (c->kind == RTAB_EMPTY)
        fputs("–", out);
    else if (c->kind == RTAB_TEXT)
        rhtml_text(c->text, out);
    else
        fputs(v, out);
    if (ci[0])
        fprintf(out, " <span class=\"ci\">[%s]</span>", ci);
    if (c->kind != RTAB_TEXT && c->text) {
        fputc(' ', out);
        rhtml_escape(c->text, out);
    }
    fputs("</td>", out);
}

static void rhtml_group_row(const rtab *t, FILE *out)
{
    if (t->n_groups == 0)
        return;
    fputs("<tr>", out);
    for (int c = 0; c < t->n_cols;) {
        int g = t->cols[c].group, span = 1;
        while (c + span < t->n_cols && t->cols[c + span].group == g)
            span++;
        fprintf(out, "<th colspan=\"%d\"%s>", span, g >= 0 ? " class=\"g\"" : "");
        if (g >= 0)
            rhtml_escape(t->groups[g], out);
        fputs("</th>", out);
        c += span;
    }
    fputs("</tr>\n", out);
}

static void rhtml_header(const rtab *t, FILE *out)
{
    fputs("<thead>\n", out);
    rhtml_group_row(t, out);
    fputs("<tr>", out);
    for (int c = 0; c < t->n_cols; c++) {
        rtab_kind kind = rrender_col_kind(t, c);
        fputs(kind == RTAB_TEXT || kind == RTAB_EMPTY ? "<th>" : "<th class=\"n\">", out);
        rhtml_escape(t->cols[c].label, out);
        if (t->cols[c].unit[0] && kind == RTAB_NUM) {
            fputs(" (", out);
            rhtml_escape(t->cols[c].unit, out);
            fputc(')', out);
        }
        fputs("</th>", out);
    }
    fputs("</tr>\n</thead>\n", out);
}

static void rhtml_source(const rprov *p, int n, FILE *out)
{
    char prov[4096];
    rrender_prov(p, n, 1, prov, sizeof prov);
    fputs("<p class=\"src\">Source: ", out);
    rhtml_escape(prov, out);
    fputs(".</p>\n", out);
}

static void rhtml_table(const rtab *t, const rrender_links *links, FILE *out)
{
    fprintf(out, "<section id=\"tab-%s\">\n<div class=\"scroll\"><table>\n<caption>", t->id);
    rhtml_escape(t->title, out);
    fputs("</caption>\n", out);
    rhtml_header(t, out);
    fputs("<tbody>\n", out);
    for (int r = 0; r < t->n_rows; r++) {
        fputs("<tr>", out);
        for (int c = 0; c < t->n_cols; c++)
            rhtml_cell(&t->cols[c], rtab_at(t, r, c), out);
        fputs("</tr>\n", out);
    }
    fputs("</tbody>\n</table></div>\n", out);
    if (t->note) {
        fputs("<p class=\"src\">", out);
        rhtml_text(t->note, out);
        fputs("</p>\n", out);
    }
    rhtml_source(t->prov, t->n_prov, out);
    if (links->tables && (links->csv || links->tex)) {
        fputs("<p class=\"links\">This table as", out);
        if (links->csv)
            fprintf(out, " <a href=\"%s/%s.csv\">CSV</a>", links->tables, t->id);
        if (links->tex)
            fprintf(out, "%s <a href=\"%s/%s.tex\">LaTeX</a>", links->csv ? " or" : "",
                    links->tables, t->id);
        fputs(".</p>\n", out);
    }
    fputs("</section>\n", out);
}

static void rhtml_figure(const rfig *f, const rrender_links *links, FILE *out)
{
    const char *dir = links->figures;
    fprintf(out, "<figure id=\"fig-%s\">\n<img src=\"%s/%s.svg\" alt=\"", f->id, dir, f->id);
    rhtml_escape(f->title, out);
    fputs("\">\n<figcaption><strong>", out);
    rhtml_escape(f->title, out);
    fputs(".</strong> ", out);
    if (f->note)
        rhtml_text(f->note, out);
    fprintf(out, "\n<span class=\"links\">Also as <a href=\"%s/%s.pdf\">PDF</a> and "
                 "<a href=\"%s/%s.png\">PNG</a>; its <a href=\"%s/%s.dat\">data</a> and "
                 "<a href=\"%s/%s.gp\">gnuplot script</a>.</span>\n",
            dir, f->id, dir, f->id, dir, f->id, dir, f->id);
    rhtml_source(f->prov, f->n_prov, out);
    fputs("</figcaption>\n</figure>\n", out);
}

static void rhtml_lead(const rdoc_block *b, FILE *out)
{
    if (!b->lead)
        return;
    fputs("<strong>", out);
    rhtml_escape(b->lead, out);
    fputs(":</strong> ", out);
}

static void rhtml_block(const rdoc *d, int i, const rrender_links *links, FILE *out)
{
    const rdoc_block *b = &d->b[i];
    int level = b->level >= 1 && b->level <= 6 ? b->level : 2;
    switch (b->kind) {
    case RDOC_HEADING:
        fprintf(out, "<h%d>", level);
        rhtml_escape(b->text, out);
        fprintf(out, "</h%d>\n", level);
        break;
    case RDOC_TEXT:
        fputs("<p>", out);
        rhtml_lead(b, out);
        rhtml_text(b->text, out);
        fputs("</p>\n", out);
        break;
    case RDOC_ITEM:
        fputs(i == 0 || d->b[i - 1].kind != RDOC_ITEM ? "<ul>\n<li>" : "<li>", out);
        rhtml_lead(b, out);
        rhtml_text(b->text, out);
        fputs(i + 1 == d->n || d->b[i + 1].kind != RDOC_ITEM ? "</li>\n</ul>\n" : "</li>\n", out);
        break;
    case RDOC_QUOTE:
        fputs("<blockquote><p>", out);
        rhtml_lead(b, out);
        rhtml_text(b->text, out);
        fputs("</p></blockquote>\n", out);
        break;
    case RDOC_TABLE: rhtml_table(b->table, links, out); break;
    case RDOC_FIGURE:
        if (links->figures)
            rhtml_figure(b->fig, links, out);
        break;
    }
}

/* The page's head and opening body, titled title. */
static void rhtml_open(const char *title, FILE *out)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
          "<meta name=\"generator\" content=\"ctxbench report\">\n<title>", out);
    rhtml_escape(title, out);
    fprintf(out, "</title>\n<style>\n%s</style>\n</head>\n<body>\n", rhtml_style);
}

void rhtml_doc(const rdoc *d, const char *title, const rrender_links *links, FILE *out)
{
    rhtml_open(title, out);
    if (links->index)
        fprintf(out, "<nav class=\"links\"><a href=\"%s\">All experiments</a></nav>\n", links->index);
    for (int i = 0; i < d->n; i++)
        rhtml_block(d, i, links, out);
    fputs("</body>\n</html>\n", out);
}

void rhtml_index(const char *const *experiments, int n, FILE *out)
{
    rhtml_open("ctxbench report", out);
    fputs("<h1>ctxbench report</h1>\n<p>One page per experiment, rendered from the results "
          "database alone; each holds its tables and figures with their provenance.</p>\n<ul>\n",
          out);
    for (int i = 0; i < n; i++) {
        fputs("<li><a href=\"", out);
        rhtml_escape(experiments[i], out);
        fputs("/report.html\">", out);
        rhtml_escape(experiments[i], out);
        fputs("</a></li>\n", out);
    }
    fputs("</ul>\n</body>\n</html>\n", out);
}
