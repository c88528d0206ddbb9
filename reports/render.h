/* reports/render.h — the output formats, each rendered from the one
 * document model (reports/doc.h): Markdown (render_md.c), LaTeX with
 * booktabs and siunitx (render_tex.c), CSV per RFC 4180 (render_csv.c) and
 * an HTML page (render_html.c); the helpers they share are in render.c.
 *
 * Units: Markdown and HTML print each time with the unit that suits it
 * ("3.42 ms"); LaTeX prints a time column in one unit named in its header;
 * CSV prints times in seconds and every number at full precision, with the
 * unit in the header.  Confidence intervals are the stored ones.
 *
 * Never: no store access, no file system access: everything is written to a
 * FILE the caller owns (write errors show in ferror). */
#ifndef CTXBENCH_REPORTS_RENDER_H
#define CTXBENCH_REPORTS_RENDER_H

#include <stdio.h>

#include "reports/doc.h"

/* What a page may link to beside itself (paths relative to the page). */
typedef struct rrender_links {
    const char *figures;  /* folder of the figure files, NULL: figures are not shown */
    const char *tables;   /* folder of the per-table files, NULL: none */
    int csv, tex;         /* 1 when tables/ID.csv, tables/ID.tex exist */
    const char *index;    /* the index page, NULL: none */
} rrender_links;

/* ---- Markdown ---- */

/* Writes the document's blocks as Markdown; figures (as PNG images) only
 * when links->figures is set. */
void rmd_doc(const rdoc *d, const rrender_links *links, FILE *out);

/* ---- LaTeX ---- */

/* A table environment (booktabs rules, siunitx S columns for plain numbers,
 * right-aligned fixed decimals where a cell carries an interval, units in
 * the headers, provenance under the tabular), labelled tab:PREFIX:ID. */
void rtex_table(const rtab *t, const char *label_prefix, FILE *out);

/* A complete LaTeX document for one experiment: its text, each table
 * \input from links->tables and each figure's PDF from links->figures. */
void rtex_doc(const rdoc *d, const char *title, const rrender_links *links, FILE *out);

/* ---- CSV ---- */

/* One table as CSV: a header row (column group, label and unit) and one
 * line per row, CRLF line ends, fields quoted when they must be.  A time
 * column with intervals gets two more columns (the CI bounds) and an
 * annotated column one more (the annotations). */
void rcsv_table(const rtab *t, FILE *out);

/* One CSV field: as it is, or quoted (quotes doubled) when it holds a comma,
 * a quote or a line break (RFC 4180). */
void rcsv_field(const char *s, FILE *out);

/* The provenance of every table of the document as CSV: file, title,
 * platform, fingerprint, machine, revision, scale, runs (one line per
 * table and platform). */
void rcsv_index(const rdoc *d, FILE *out);

/* ---- HTML ---- */

/* One self-contained HTML page (inline style, no script) with the
 * document's text, tables and figures (SVG images beside it, with links to
 * the PDF, PNG, data and gnuplot script). */
void rhtml_doc(const rdoc *d, const char *title, const rrender_links *links, FILE *out);

/* An index page linking each experiment's page (EXPERIMENT/report.html). */
void rhtml_index(const char *const *experiments, int n, FILE *out);

/* ---- shared by the formats (render.c) ---- */

/* Calls plain() on the runs of text outside `code spans` and code() on the
 * insides (without the backquotes). */
void rrender_spans(const char *text, FILE *out, void (*plain)(const char *s, size_t n, FILE *out),
                   void (*code)(const char *s, size_t n, FILE *out));

/* The kind of a column: that of its first number (a column of numbers may
 * hold a few words, "(baseline)"), else RTAB_TEXT, else RTAB_EMPTY. */
rtab_kind rrender_col_kind(const rtab *t, int col);

/* 1 when some cell of the column carries an interval / an annotation /
 * a negative number. */
int rrender_col_has_ci(const rtab *t, int col);
int rrender_col_has_note(const rtab *t, int col);
int rrender_col_has_negative(const rtab *t, int col);

/* The unit a time column is printed in (one for the whole column, from its
 * median value): its name ("s", "ms", "µs", "ns"), the factor from seconds,
 * and the decimals that give the smallest value three significant digits. */
void rrender_time_unit(const rtab *t, int col, const char **unit, double *scale, int *decimals);

/* A number, percent or time cell as Markdown and HTML print it ("12.3",
 * "+4.0%", "3.42 ms"); *ci gets its interval ("3.40 ms – 3.45 ms") when it is
 * a time with one, else "".  Text and empty cells give "". */
void rrender_value(const rtab_col *col, const rtab_cell *c, char *buf, size_t cap, char *ci,
                   size_t ci_cap);

/* The provenance of a table (or figure) as one line: each platform's
 * rprov_line (full: full UUIDs), separated by "; ". */
void rrender_prov(const rprov *p, int n, int full, char *buf, size_t cap);

#endif
