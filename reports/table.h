/* reports/table.h — the table model every output format is rendered from.
 *
 * A table is a caption, columns (a label, a unit, decimals, whether the
 * column names the row), rows of typed cells (text, integer, number,
 * percent, a time with its stored confidence interval), an optional
 * column group per platform when several are side by side, a note on how
 * to read it, and the provenance of its numbers.  Sections build tables
 * with the rtab_* calls; reports/render_*.c turn them into Markdown, LaTeX,
 * CSV and HTML.
 *
 * Memory: a table owns everything in it.  Allocation failures latch
 * `oom` (later calls do nothing) and are reported once by the document
 * (rdoc_check), so that section code stays a list of cells.
 * Never: no formatting for one output, no store access. */
#ifndef CTXBENCH_REPORTS_TABLE_H
#define CTXBENCH_REPORTS_TABLE_H

#include "reports/prov.h"

typedef enum rtab_kind {
    RTAB_EMPTY = 0, /* not measured / not applicable: printed as a dash */
    RTAB_TEXT,
    RTAB_INT,
    RTAB_NUM,
    RTAB_PCT,       /* percent, 0..100 */
    RTAB_TIME,      /* seconds, with the 95% CI of the median when lo/hi are finite */
} rtab_kind;

typedef struct rtab_cell {
    rtab_kind kind;
    double v;       /* INT, NUM, PCT, TIME */
    double lo, hi;  /* TIME: the stored CI bounds, NAN when none */
    char *text;     /* TEXT: the text; other kinds: a short annotation ("M"), or NULL */
} rtab_cell;

typedef struct rtab_col {
    char *label;
    char *unit;     /* "" for none; TIME columns are in seconds */
    int decimals;   /* NUM and PCT: digits after the decimal point */
    int key;        /* 1: the column names the row (matched across platforms) */
    int group;      /* index into groups, -1 outside every group */
    int sign;       /* 1: a change, printed with its sign (+28%) */
} rtab_col;

typedef struct rtab {
    char *id;       /* file-name stem, unique within an experiment ([A-Za-z0-9._-]) */
    char *title;
    char *note;     /* how to read it; may be NULL */
    rtab_col *cols;
    int n_cols;
    rtab_cell *cells; /* (n_rows, n_cols), row-major */
    int n_rows, cap_rows;
    char **groups;  /* column-group labels (platforms), n_groups of them */
    int n_groups;
    rprov *prov;    /* one per platform the numbers come from */
    int n_prov;
    int oom;
} rtab;

/* A new empty table; id is made file-name safe.  NULL when out of memory.
 * Free with rtab_free (NULL is a no-op). */
rtab *rtab_create(const char *id, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rtab_free(rtab *t);

/* Sets the note printed under the table (replacing any). */
void rtab_note(rtab *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Adds a column; all columns come before the first row.  Returns its index. */
int rtab_add_col(rtab *t, const char *label, const char *unit, int decimals, int key);

/* Marks a column as holding changes (printed with their sign, "+28%"). */
void rtab_col_signed(rtab *t, int col);

/* Adds a row of empty cells; returns its index (-1 when out of memory, and
 * the cell setters ignore row -1). */
int rtab_row(rtab *t);

/* Cell setters: non-finite numbers leave the cell empty. */
void rtab_text(rtab *t, int row, int col, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void rtab_int(rtab *t, int row, int col, long long v);
void rtab_num(rtab *t, int row, int col, double v);
void rtab_pct(rtab *t, int row, int col, double pct);
void rtab_time(rtab *t, int row, int col, double seconds, double lo, double hi);
/* A short annotation after a number ("M" for memory-bound). */
void rtab_annotate(rtab *t, int row, int col, const char *text);

/* The cell at (row, col); programmer error outside the table. */
const rtab_cell *rtab_at(const rtab *t, int row, int col);

/* Appends a copy of p to the table's provenance. */
void rtab_add_prov(rtab *t, const rprov *p);

/* Puts src's value columns beside dst's, as a new column group labelled with
 * src's platform (dst's own value columns become the first group, labelled
 * with its platform, if they are in none yet); rows are matched by their key
 * cells, rows only one side has are kept with the other side empty.  Returns
 * 0; 1 when the two tables do not have the same key columns (nothing
 * changes); -1 when out of memory (dst->oom is set). */
int rtab_side_by_side(rtab *dst, const rtab *src);

#endif
