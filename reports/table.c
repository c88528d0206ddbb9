/* reports/table.c — the table model (see table.h): building tables cell by
 * cell and putting the tables of several platforms side by side.
 * Never: no output formatting, no store access. */
#include "reports/table.h"

#include "reports/format.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

rtab *rtab_create(const char *id, const char *fmt, ...)
{
    rtab *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    t->title = report_vfmt(&t->oom, fmt, ap);
    va_end(ap);
    t->id = report_dup(id, &t->oom);
    report_safe_id(t->id);
    if (t->oom) {
        rtab_free(t);
        return NULL;
    }
    return t;
}

static void rtab_cell_clear(rtab_cell *c)
{
    free(c->text);
    *c = (rtab_cell){.kind = RTAB_EMPTY, .v = NAN, .lo = NAN, .hi = NAN};
}

void rtab_free(rtab *t)
{
    if (!t)
        return;
    for (int i = 0; i < t->n_rows * t->n_cols; i++)
        free(t->cells[i].text);
    for (int c = 0; c < t->n_cols; c++) {
        free(t->cols[c].label);
        free(t->cols[c].unit);
    }
    for (int g = 0; g < t->n_groups; g++)
        free(t->groups[g]);
    free(t->groups);
    free(t->cells);
    free(t->cols);
    free(t->prov);
    free(t->id);
    free(t->title);
    free(t->note);
    free(t);
}

void rtab_note(rtab *t, const char *fmt, ...)
{
    if (!t || t->oom)
        return;
    va_list ap;
    va_start(ap, fmt);
    free(t->note);
    t->note = report_vfmt(&t->oom, fmt, ap);
    va_end(ap);
}

int rtab_add_col(rtab *t, const char *label, const char *unit, int decimals, int key)
{
    assert(t->n_rows == 0); /* columns first */
    if (t->oom)
        return -1;
    rtab_col *cols = realloc(t->cols, (size_t)(t->n_cols + 1) * sizeof *cols);
    if (!cols) {
        t->oom = 1;
        return -1;
    }
    t->cols = cols;
    cols[t->n_cols] = (rtab_col){.label = report_dup(label, &t->oom),
                                 .unit = report_dup(unit ? unit : "", &t->oom),
                                 .decimals = decimals, .key = key, .group = -1};
    return t->n_cols++;
}

void rtab_col_signed(rtab *t, int col)
{
    if (col >= 0 && !t->oom)
        t->cols[col].sign = 1;
}

int rtab_row(rtab *t)
{
    if (t->oom)
        return -1;
    if (t->n_rows == t->cap_rows) {
        int cap = t->cap_rows ? 2 * t->cap_rows : 16;
        rtab_cell *cells = realloc(t->cells, (size_t)cap * (size_t)t->n_cols * sizeof *cells);
        if (!cells) {
            t->oom = 1;
            return -1;
        }
        t->cells = cells;
        t->cap_rows = cap;
    }
    for (int c = 0; c < t->n_cols; c++) {
        t->cells[t->n_rows * t->n_cols + c].text = NULL;
        rtab_cell_clear(&t->cells[t->n_rows * t->n_cols + c]);
    }
    return t->n_rows++;
}

/* The cell to set, cleared; NULL for row -1 (a failed rtab_row) or after oom. */
static rtab_cell *rtab_slot(rtab *t, int row, int col)
{
    if (row < 0 || t->oom)
        return NULL;
    assert(row < t->n_rows && col >= 0 && col < t->n_cols);
    rtab_cell *c = &t->cells[row * t->n_cols + col];
    rtab_cell_clear(c);
    return c;
}

void rtab_text(rtab *t, int row, int col, const char *fmt, ...)
{
    rtab_cell *c = rtab_slot(t, row, col);
    if (!c)
        return;
    va_list ap;
    va_start(ap, fmt);
    c->text = report_vfmt(&t->oom, fmt, ap);
    va_end(ap);
    c->kind = c->text ? RTAB_TEXT : RTAB_EMPTY;
}

/* Sets a numeric cell of the kind, or leaves it empty when v is not finite. */
static void rtab_number(rtab *t, int row, int col, rtab_kind kind, double v)
{
    rtab_cell *c = rtab_slot(t, row, col);
    if (c && isfinite(v)) {
        c->kind = kind;
        c->v = v;
    }
}

void rtab_int(rtab *t, int row, int col, long long v)
{
    rtab_number(t, row, col, RTAB_INT, (double)v);
}

void rtab_num(rtab *t, int row, int col, double v)
{
    rtab_number(t, row, col, RTAB_NUM, v);
}

void rtab_pct(rtab *t, int row, int col, double pct)
{
    rtab_number(t, row, col, RTAB_PCT, pct);
}

void rtab_time(rtab *t, int row, int col, double seconds, double lo, double hi)
{
    rtab_number(t, row, col, RTAB_TIME, seconds);
    if (row >= 0 && !t->oom && isfinite(seconds) && isfinite(lo) && isfinite(hi)) {
        t->cells[row * t->n_cols + col].lo = lo;
        t->cells[row * t->n_cols + col].hi = hi;
    }
}

void rtab_annotate(rtab *t, int row, int col, const char *text)
{
    if (row < 0 || t->oom)
        return;
    rtab_cell *c = &t->cells[row * t->n_cols + col];
    if (c->kind == RTAB_EMPTY || c->kind == RTAB_TEXT)
        return;
    free(c->text);
    c->text = report_dup(text, &t->oom);
}

const rtab_cell *rtab_at(const rtab *t, int row, int col)
{
    assert(row >= 0 && row < t->n_rows && col >= 0 && col < t->n_cols);
    return &t->cells[row * t->n_cols + col];
}

void rtab_add_prov(rtab *t, const rprov *p)
{
    if (t->oom)
        return;
    rprov *prov = realloc(t->prov, (size_t)(t->n_prov + 1) * sizeof *prov);
    if (!prov) {
        t->oom = 1;
        return;
    }
    t->prov = prov;
    prov[t->n_prov++] = *p;
}

/* ---- side by side ------------------------------------------------------------------ */

/* The number of leading key columns; -1 when a key column follows a value column. */
static int rtab_n_keys(const rtab *t)
{
    int n = 0;
    while (n < t->n_cols && t->cols[n].key)
        n++;
    for (int c = n; c < t->n_cols; c++)
        if (t->cols[c].key)
            return -1;
    return n;
}

/* A cell's identity for matching rows: its kind and text or value. */
static int rtab_same_cell(const rtab_cell *a, const rtab_cell *b)
{
    if (a->kind != b->kind)
        return 0;
    if (a->kind == RTAB_TEXT)
        return strcmp(a->text, b->text) == 0;
    return a->kind == RTAB_EMPTY || a->v == b->v;
}

/* The row of dst whose first n key cells equal src's row r, or -1. */
static int rtab_find_row(const rtab *dst, const rtab *src, int r, int n)
{
    for (int d = 0; d < dst->n_rows; d++) {
        int same = 1;
        for (int c = 0; c < n && same; c++)
            same = rtab_same_cell(rtab_at(dst, d, c), rtab_at(src, r, c));
        if (same)
            return d;
    }
    return -1;
}

/* Copies a cell (its text too) into an empty slot. */
static void rtab_copy_cell(rtab *t, rtab_cell *to, const rtab_cell *from)
{
    *to = *from;
    to->text = report_dup(from->text, &t->oom);
}

/* Adds a column group labelled label; returns its index or -1. */
static int rtab_group(rtab *t, const char *label)
{
    char **groups = realloc(t->groups, (size_t)(t->n_groups + 1) * sizeof *groups);
    if (!groups) {
        t->oom = 1;
        return -1;
    }
    t->groups = groups;
    groups[t->n_groups] = report_dup(label, &t->oom);
    return t->n_groups++;
}

/* Widens every row of t by `extra` empty cells at the right. */
static int rtab_widen(rtab *t, int extra)
{
    int w = t->n_cols + extra, cap = t->cap_rows > 0 ? t->cap_rows : 1;
    rtab_cell *cells = calloc((size_t)cap * (size_t)w, sizeof *cells);
    rtab_col *cols = realloc(t->cols, (size_t)w * sizeof *cols);
    if (!cells || !cols) {
        free(cells);
        if (cols)
            t->cols = cols;
        t->oom = 1;
        return -1;
    }
    t->cols = cols;
    for (int r = 0; r < t->n_rows; r++) {
        memcpy(&cells[r * w], &t->cells[r * t->n_cols], (size_t)t->n_cols * sizeof *cells);
        for (int c = t->n_cols; c < w; c++)
            rtab_cell_clear(&cells[r * w + c]);
    }
    free(t->cells);
    t->cells = cells;
    t->cap_rows = cap;
    t->n_cols = w;
    return 0;
}

/* 1 when both tables have the same key columns (labels and count). */
static int rtab_same_keys(const rtab *a, const rtab *b, int *n_keys)
{
    int na = rtab_n_keys(a), nb = rtab_n_keys(b);
    if (na < 0 || na != nb)
        return 0;
    for (int c = 0; c < na; c++)
        if (strcmp(a->cols[c].label, b->cols[c].label) != 0)
            return 0;
    *n_keys = na;
    return 1;
}

/* Makes dst's own value columns its first group when it has none yet. */
static int rtab_first_group(rtab *dst)
{
    if (dst->n_groups > 0)
        return 0;
    int g = rtab_group(dst, dst->n_prov > 0 ? dst->prov[0].label : "");
    if (g < 0)
        return -1;
    for (int c = 0; c < dst->n_cols; c++)
        if (!dst->cols[c].key)
            dst->cols[c].group = g;
    return 0;
}

int rtab_side_by_side(rtab *dst, const rtab *src)
{
    int nk = 0;
    if (dst->oom)
        return -1;
    if (!rtab_same_keys(dst, src, &nk))
        return 1;
    int old = dst->n_cols, extra = src->n_cols - nk;
    if (rtab_first_group(dst) != 0)
        return -1;
    int g = rtab_group(dst, src->n_prov > 0 ? src->prov[0].label : "");
    if (g < 0 || rtab_widen(dst, extra) != 0)
        return -1;
    for (int c = 0; c < extra; c++) {
        const rtab_col *from = &src->cols[nk + c];
        dst->cols[old + c] = (rtab_col){.label = report_dup(from->label, &dst->oom),
                                        .unit = report_dup(from->unit, &dst->oom),
                                        .decimals = from->decimals, .key = 0, .group = g,
                                        .sign = from->sign};
    }
    for (int r = 0; r < src->n_rows && !dst->oom; r++) {
        int d = rtab_find_row(dst, src, r, nk);
        if (d < 0 && (d = rtab_row(dst)) >= 0)
            for (int c = 0; c < nk; c++)
                rtab_copy_cell(dst, &dst->cells[d * dst->n_cols + c], rtab_at(src, r, c));
        for (int c = 0; c < extra && d >= 0; c++)
            rtab_copy_cell(dst, &dst->cells[d * dst->n_cols + old + c], rtab_at(src, r, nk + c));
    }
    for (int p = 0; p < src->n_prov; p++)
        rtab_add_prov(dst, &src->prov[p]);
    return dst->oom ? -1 : 0;
}
