/* reports/render_md.c — the Markdown rendering of a report document (see
 * render.h): headings, paragraphs, lists, quotes, pipe tables (each with its
 * title as a heading, its note and a source line), and figures as images.
 * Never: no store or file system access. */
#include "reports/render.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "reports/format.h"

/* Text is Markdown already (code spans included); inside a table a '|' is
 * escaped and a line break becomes a space. */
static void rmd_cell_text(const char *s, FILE *out)
{
    for (; *s; s++) {
        if (*s == '|')
            fputc('\\', out);
        fputc(*s == '\n' ? ' ' : *s, out);
    }
}

static void rmd_cell(const rtab_col *col, const rtab_cell *c, FILE *out)
{
    char v[48], ci[100];
    if (c->kind == RTAB_EMPTY || c->kind == RTAB_TEXT) {
        if (c->kind == RTAB_EMPTY)
            fputs("–", out);
        else
            rmd_cell_text(c->text, out);
        return;
    }
    rrender_value(col, c, v, sizeof v, ci, sizeof ci);
    fputs(v, out);
    if (ci[0])
        fprintf(out, " [%s]", ci);
    if (c->text) {
        fputc(' ', out);
        rmd_cell_text(c->text, out);
    }
}

/* "group: label (unit)"; the unit only where the cells do not carry it. */
static void rmd_header_cell(const rtab *t, int c, FILE *out)
{
    const rtab_col *col = &t->cols[c];
    if (col->group >= 0)
        fprintf(out, "%s: ", t->groups[col->group]);
    rmd_cell_text(col->label, out);
    if (col->unit[0] && rrender_col_kind(t, c) == RTAB_NUM)
        fprintf(out, " (%s)", col->unit);
}

static void rmd_table(const rdoc_block *b, FILE *out)
{
    const rtab *t = b->table;
    fprintf(out, "%.*s %s\n\n|", b->level > 0 && b->level <= 6 ? b->level : 4, "######", t->title);
    for (int c = 0; c < t->n_cols; c++) {
        fputc(' ', out);
        rmd_header_cell(t, c, out);
        fputs(" |", out);
    }
    fputs("\n|", out);
    for (int c = 0; c < t->n_cols; c++)
        fputs(rrender_col_kind(t, c) == RTAB_TEXT ? "---|" : "--:|", out);
    fputc('\n', out);
    for (int r = 0; r < t->n_rows; r++) {
        fputc('|', out);
        for (int c = 0; c < t->n_cols; c++) {
            fputc(' ', out);
            rmd_cell(&t->cols[c], rtab_at(t, r, c), out);
            fputs(" |", out);
        }
        fputc('\n', out);
    }
    fputc('\n', out);
    if (t->note)
        fprintf(out, "%s\n\n", t->note);
    char prov[4096];
    rrender_prov(t->prov, t->n_prov, 0, prov, sizeof prov);
    fprintf(out, "<sub>Source: %s.</sub>\n\n", prov);
}

static void rmd_figure(const rdoc_block *b, const rrender_links *links, FILE *out)
{
    const rfig *f = b->fig;
    if (!links || !links->figures)
        return;
    char prov[4096];
    rrender_prov(f->prov, f->n_prov, 0, prov, sizeof prov);
    fprintf(out, "![%s](%s/%s.png)\n\n**Figure: %s.**%s%s (PDF: `%s/%s.pdf`.)  \n"
                 "<sub>Source: %s.</sub>\n\n",
            f->title, links->figures, f->id, f->title, f->note ? " " : "", f->note ? f->note : "",
            links->figures, f->id, prov);
}

void rmd_doc(const rdoc *d, const rrender_links *links, FILE *out)
{
    for (int i = 0; i < d->n; i++) {
        const rdoc_block *b = &d->b[i];
        switch (b->kind) {
        case RDOC_HEADING:
            fprintf(out, "%.*s %s\n\n", b->level > 0 && b->level <= 6 ? b->level : 2, "######",
                    b->text);
            break;
        case RDOC_TEXT:
            if (b->lead)
                fprintf(out, "**%s:** ", b->lead);
            fprintf(out, "%s\n\n", b->text);
            break;
        case RDOC_ITEM:
            fputs("- ", out);
            if (b->lead)
                fprintf(out, "**%s:** ", b->lead);
            fprintf(out, "%s\n", b->text);
            if (i + 1 == d->n || d->b[i + 1].kind != RDOC_ITEM)
                fputc('\n', out);
            break;
        case RDOC_QUOTE: fprintf(out, "> **%s:** %s\n\n", b->lead, b->text); break;
        case RDOC_TABLE: rmd_table(b, out); break;
        case RDOC_FIGURE: rmd_figure(b, links, out); break;
        }
    }
}
