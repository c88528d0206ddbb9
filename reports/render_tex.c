/* reports/render_tex.c — the LaTeX rendering of a report document (see
 * render.h): booktabs tables whose plain-number columns are siunitx S columns
 * (aligned on the decimal point, table-format from the values), columns whose
 * cells carry an interval or an annotation right-aligned with fixed decimals,
 * units in the headers, the provenance under each table; and a complete
 * document per experiment that \inputs the tables and includes the figures'
 * PDFs.  Text is escaped, and the few non-ASCII symbols the report uses are
 * mapped to LaTeX.  Never: no store or file system access. */
#include "reports/render.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* The non-ASCII symbols of the report and their LaTeX. */
static const struct {
    const char *utf8, *tex;
} rtex_symbols[] = {
    {"–", "--"},          {"—", "---"},         {"≈", "$\\approx$"}, {"≤", "$\\le$"},
    {"≥", "$\\ge$"},      {"µ", "\\textmu{}"},  {"·", "$\\cdot$"},   {"×", "$\\times$"},
    {"→", "$\\to$"},
};

static void rtex_escape_n(const char *s, size_t n, FILE *out)
{
    for (size_t i = 0; i < n;) {
        const char *c = s + i;
        size_t k;
        for (k = 0; k < sizeof rtex_symbols / sizeof rtex_symbols[0]; k++) {
            size_t len = strlen(rtex_symbols[k].utf8);
            if (len <= n - i && memcmp(c, rtex_symbols[k].utf8, len) == 0) {
                fputs(rtex_symbols[k].tex, out);
                i += len;
                break;
            }
        }
        if (k < sizeof rtex_symbols / sizeof rtex_symbols[0])
            continue;
        switch (*c) {
        case '\\': fputs("\\textbackslash{}", out); break;
        case '~': fputs("\\textasciitilde{}", out); break;
        case '^': fputs("\\textasciicircum{}", out); break;
        case '&': case '%': case '$': case '#': case '_': case '{': case '}':
            fputc('\\', out);
            fputc(*c, out);
            break;
        case '\n': fputc(' ', out); break;
        default: fputc(*c, out);
        }
        i++;
    }
}

static void rtex_escape(const char *s, FILE *out)
{
    rtex_escape_n(s, strlen(s), out);
}

static void rtex_code(const char *s, size_t n, FILE *out)
{
    fputs("\\texttt{", out);
    rtex_escape_n(s, n, out);
    fputc('}', out);
}

/* Text with its code spans as \texttt. */
static void rtex_text(const char *s, FILE *out)
{
    rrender_spans(s, out, rtex_escape_n, rtex_code);
}

/* Tables with more columns than this are scaled to the text width. */
#define RTEX_WIDE 6

/* How one column is printed. */
typedef struct rtex_col {
    int s_column;      /* 1: siunitx S column; 0: l (text) or r (interval, annotation) */
    int text;          /* 1: a text column (l) */
    const char *unit;  /* the unit in the header */
    double scale;      /* TIME: factor from seconds */
    int decimals;
    int int_digits;    /* S: the widest integer part */
    int sign;          /* print the sign of positive numbers too (an r column) */
} rtex_col;

static int rtex_int_digits(double v)
{
    return v >= 1 ? (int)floor(log10(v)) + 1 : 1;
}

static void rtex_plan(const rtab *t, int c, rtex_col *p)
{
    rtab_kind kind = rrender_col_kind(t, c);
    *p = (rtex_col){.text = kind == RTAB_TEXT || kind == RTAB_EMPTY, .unit = t->cols[c].unit,
                    .scale = 1, .decimals = t->cols[c].decimals};
    if (kind == RTAB_INT)
        p->decimals = 0;
    if (kind == RTAB_TIME)
        rrender_time_unit(t, c, &p->unit, &p->scale, &p->decimals);
    if (kind == RTAB_PCT)
        p->unit = "%";
    p->sign = t->cols[c].sign;
    p->s_column = !p->text && !p->sign && !rrender_col_has_ci(t, c) &&
                  !rrender_col_has_note(t, c) && !rrender_col_has_negative(t, c);
    p->int_digits = 1;
    for (int r = 0; r < t->n_rows; r++) {
        const rtab_cell *cell = rtab_at(t, r, c);
        if (cell->kind != RTAB_TEXT && cell->kind != RTAB_EMPTY) {
            int d = rtex_int_digits(fabs(cell->v * p->scale));
            if (d > p->int_digits)
                p->int_digits = d;
        }
    }
}

static void rtex_colspec(const rtex_col *p, FILE *out)
{
    if (p->s_column)
        fprintf(out, "S[table-format=%d.%d]", p->int_digits, p->decimals);
    else
        fputc(p->text ? 'l' : 'r', out);
}

/* The group row (\multicolumn per platform, \cmidrule under each). */
static void rtex_group_row(const rtab *t, FILE *out)
{
    if (t->n_groups == 0)
        return;
    int c = 0;
    while (c < t->n_cols) {
        int g = t->cols[c].group, span = 1;
        while (c + span < t->n_cols && t->cols[c + span].group == g)
            span++;
        if (c > 0)
            fputs(" & ", out);
        if (g >= 0) {
            fprintf(out, "\\multicolumn{%d}{c}{", span);
            rtex_escape(t->groups[g], out);
            fputc('}', out);
        } else if (span > 1) {
            fprintf(out, "\\multicolumn{%d}{c}{}", span);
        }
        c += span;
    }
    fputs(" \\\\\n", out);
    for (c = 0; c < t->n_cols; c++)
        if (t->cols[c].group >= 0 && (c == 0 || t->cols[c - 1].group != t->cols[c].group)) {
            int end = c;
            while (end + 1 < t->n_cols && t->cols[end + 1].group == t->cols[c].group)
                end++;
            fprintf(out, "\\cmidrule(lr){%d-%d}", c + 1, end + 1);
        }
    fputc('\n', out);
}

static void rtex_header(const rtab *t, const rtex_col *plan, FILE *out)
{
    for (int c = 0; c < t->n_cols; c++) {
        fputs(c ? " & {" : "{", out);
        rtex_escape(t->cols[c].label, out);
        if (plan[c].unit[0]) {
            fputs(" (", out);
            rtex_escape(plan[c].unit, out);
            fputc(')', out);
        }
        fputc('}', out);
    }
    fputs(" \\\\\n", out);
}

static void rtex_cell(const rtab_cell *cell, const rtex_col *p, FILE *out)
{
    int brace = p->s_column && (cell->kind == RTAB_EMPTY || cell->kind == RTAB_TEXT);
    if (brace)
        fputc('{', out);
    if (cell->kind == RTAB_EMPTY)
        fputs("--", out);
    else if (cell->kind == RTAB_TEXT)
        rtex_text(cell->text, out);
    else
        fprintf(out, p->sign ? "%+.*f" : "%.*f", p->decimals, cell->v * p->scale);
    if (cell->kind != RTAB_TEXT && isfinite(cell->lo))
        fprintf(out, "\\,{\\scriptsize[%.*f, %.*f]}", p->decimals, cell->lo * p->scale,
                p->decimals, cell->hi * p->scale);
    if (cell->kind != RTAB_TEXT && cell->text) {
        fputs("\\,", out);
        rtex_escape(cell->text, out);
    }
    if (brace)
        fputc('}', out);
}

void rtex_table(const rtab *t, const char *label_prefix, FILE *out)
{
    rtex_col plan[t->n_cols > 0 ? t->n_cols : 1];
    for (int c = 0; c < t->n_cols; c++)
        rtex_plan(t, c, &plan[c]);
    fprintf(out, "%% ctxbench table %s (generated by ctxbench report; needs booktabs and siunitx)\n"
                 "\\begin{table}[htbp]\n\\centering\n\\small\n\\caption{",
            t->id);
    rtex_escape(t->title, out);
    /* a wide table is scaled to the text width rather than running off the page */
    int wide = t->n_cols > RTEX_WIDE;
    fprintf(out, "}\n\\label{tab:%s:%s}\n%s\\begin{tabular}{", label_prefix, t->id,
            wide ? "\\resizebox{\\linewidth}{!}{%\n" : "");
    for (int c = 0; c < t->n_cols; c++)
        rtex_colspec(&plan[c], out);
    fputs("}\n\\toprule\n", out);
    rtex_group_row(t, out);
    rtex_header(t, plan, out);
    fputs("\\midrule\n", out);
    for (int r = 0; r < t->n_rows; r++) {
        for (int c = 0; c < t->n_cols; c++) {
            if (c)
                fputs(" & ", out);
            rtex_cell(rtab_at(t, r, c), &plan[c], out);
        }
        fputs(" \\\\\n", out);
    }
    fprintf(out, "\\bottomrule\n\\end{tabular}%s\n\\par\\smallskip\\footnotesize ", wide ? "}" : "");
    if (t->note) {
        rtex_text(t->note, out);
        fputc(' ', out);
    }
    char prov[4096];
    rrender_prov(t->prov, t->n_prov, 1, prov, sizeof prov);
    fputs("Source: ", out);
    rtex_escape(prov, out);
    fputs(".\n\\end{table}\n", out);
}

static void rtex_figure(const rfig *f, const rrender_links *links, FILE *out)
{
    char prov[4096];
    rrender_prov(f->prov, f->n_prov, 1, prov, sizeof prov);
    fprintf(out, "\\begin{figure}[htbp]\n\\centering\n"
                 "\\includegraphics[width=\\linewidth]{%s/%s.pdf}\n\\caption{",
            links->figures, f->id);
    rtex_escape(f->title, out);
    fputs(". ", out);
    if (f->note) {
        rtex_text(f->note, out);
        fputc(' ', out);
    }
    fputs("Source: ", out);
    rtex_escape(prov, out);
    fprintf(out, ".}\n\\label{fig:%s}\n\\end{figure}\n\n", f->id);
}

static void rtex_block(const rdoc_block *b, const rrender_links *links, FILE *out)
{
    static const char *const sections[] = {"section", "section", "section", "subsection",
                                           "subsubsection", "paragraph", "paragraph"};
    switch (b->kind) {
    case RDOC_HEADING:
        fprintf(out, "\\%s*{", sections[b->level >= 0 && b->level <= 6 ? b->level : 6]);
        rtex_escape(b->text, out);
        fputs("}\n\n", out);
        break;
    case RDOC_TEXT:
    case RDOC_ITEM:
    case RDOC_QUOTE:
        if (b->kind == RDOC_ITEM)
            fputs("\\textbullet{} ", out);
        if (b->lead) {
            fputs("\\textbf{", out);
            rtex_escape(b->lead, out);
            fputs(":} ", out);
        }
        rtex_text(b->text, out);
        fputs("\n\n", out);
        break;
    case RDOC_TABLE:
        fprintf(out, "\\input{%s/%s.tex}\n\n", links->tables, b->table->id);
        break;
    case RDOC_FIGURE:
        if (links->figures)
            rtex_figure(b->fig, links, out);
        break;
    }
}

void rtex_doc(const rdoc *d, const char *title, const rrender_links *links, FILE *out)
{
    fputs("% ctxbench report (generated by ctxbench report): pdflatex report.tex\n"
          "\\documentclass[10pt]{article}\n\\usepackage[margin=2cm]{geometry}\n"
          "\\usepackage[T1]{fontenc}\n\\usepackage{booktabs,siunitx,graphicx,textcomp}\n"
          "\\sisetup{group-digits=false}\n\\begin{document}\n\\title{", out);
    rtex_escape(title, out);
    fputs("}\n\\date{}\n\\maketitle\n\n", out);
    for (int i = 0; i < d->n; i++)
        rtex_block(&d->b[i], links, out);
    fputs("\\end{document}\n", out);
}
