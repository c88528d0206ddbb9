/* reports/render.c — what the output formats share (see render.h): code
 * spans in text, the kind and traits of a column, the unit of a time column
 * and the provenance line.  Never: no store or file system access. */
#include "reports/render.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reports/format.h"

void rrender_spans(const char *text, FILE *out, void (*plain)(const char *s, size_t n, FILE *out),
                   void (*code)(const char *s, size_t n, FILE *out))
{
    const char *p = text;
    while (*p) {
        const char *tick = strchr(p, '`');
        const char *close = tick ? strchr(tick + 1, '`') : NULL;
        if (!close) {
            plain(p, strlen(p), out);
            return;
        }
        plain(p, (size_t)(tick - p), out);
        code(tick + 1, (size_t)(close - tick - 1), out);
        p = close + 1;
    }
}

rtab_kind rrender_col_kind(const rtab *t, int col)
{
    rtab_kind kind = RTAB_EMPTY;
    for (int r = 0; r < t->n_rows; r++) {
        rtab_kind k = rtab_at(t, r, col)->kind;
        if (k != RTAB_EMPTY && k != RTAB_TEXT)
            return k;
        if (k == RTAB_TEXT)
            kind = k;
    }
    return kind;
}

int rrender_col_has_ci(const rtab *t, int col)
{
    for (int r = 0; r < t->n_rows; r++)
        if (isfinite(rtab_at(t, r, col)->lo))
            return 1;
    return 0;
}

int rrender_col_has_note(const rtab *t, int col)
{
    for (int r = 0; r < t->n_rows; r++) {
        const rtab_cell *c = rtab_at(t, r, col);
        if (c->kind != RTAB_TEXT && c->text)
            return 1;
    }
    return 0;
}

int rrender_col_has_negative(const rtab *t, int col)
{
    for (int r = 0; r < t->n_rows; r++) {
        const rtab_cell *c = rtab_at(t, r, col);
        if (c->kind != RTAB_TEXT && c->kind != RTAB_EMPTY && c->v < 0)
            return 1;
    }
    return 0;
}

static int rrender_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void rrender_time_unit(const rtab *t, int col, const char **unit, double *scale, int *decimals)
{
    static const char *const names[] = {"s", "ms", "µs", "ns"};
    double *v = malloc((size_t)(t->n_rows > 0 ? t->n_rows : 1) * sizeof *v);
    int n = 0;
    for (int r = 0; v && r < t->n_rows; r++) {
        const rtab_cell *c = rtab_at(t, r, col);
        if (c->kind == RTAB_TIME && c->v > 0)
            v[n++] = c->v;
    }
    int u = 0;
    double smallest = 1;
    if (n > 0) {
        qsort(v, (size_t)n, sizeof *v, rrender_cmp_double);
        for (double median = v[n / 2]; u < 3 && median * pow(1e3, u) < 1; u++)
            ;
        smallest = v[0] * pow(1e3, u);
    }
    free(v);
    *unit = names[u];
    *scale = pow(1e3, u);
    int d = 2 - (int)floor(log10(smallest));
    *decimals = d < 0 ? 0 : d > 4 ? 4 : d;
}

void rrender_prov(const rprov *p, int n, int full, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && used + 1 < cap; i++) {
        char line[2048];
        rprov_line(&p[i], full, line, sizeof line);
        used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? "; " : "", line);
    }
}

void rrender_value(const rtab_col *col, const rtab_cell *c, char *buf, size_t cap, char *ci,
                   size_t ci_cap)
{
    buf[0] = ci[0] = '\0';
    switch (c->kind) {
    case RTAB_EMPTY:
    case RTAB_TEXT: return;
    case RTAB_INT: snprintf(buf, cap, "%.0f", c->v); return;
    case RTAB_NUM: snprintf(buf, cap, col->sign ? "%+.*f" : "%.*f", col->decimals, c->v); return;
    case RTAB_PCT: snprintf(buf, cap, col->sign ? "%+.*f%%" : "%.*f%%", col->decimals, c->v); return;
    case RTAB_TIME:
        report_time(c->v, buf, cap);
        if (isfinite(c->lo)) {
            char lo[48], hi[48];
            report_time(c->lo, lo, sizeof lo);
            report_time(c->hi, hi, sizeof hi);
            snprintf(ci, ci_cap, "%s – %s", lo, hi);
        }
        return;
    }
}
