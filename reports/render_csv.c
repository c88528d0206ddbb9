/* reports/render_csv.c — tables as CSV (RFC 4180: CRLF line ends, a field
 * quoted when it holds a comma, a quote or a line break, quotes doubled),
 * one file per table, and an index with every table's provenance (see
 * render.h).  Numbers are printed at full precision in the unit of their
 * header: times in seconds, percents in percent.
 * Never: no store or file system access. */
#include "reports/render.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void rcsv_field(const char *s, FILE *out)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

/* A header field: "group: label suffix (unit)". */
static void rcsv_header_field(const rtab *t, int c, const char *suffix, const char *unit, FILE *out)
{
    char buf[512];
    const rtab_col *col = &t->cols[c];
    snprintf(buf, sizeof buf, "%s%s%s%s%s%s%s", col->group >= 0 ? t->groups[col->group] : "",
             col->group >= 0 ? ": " : "", col->label, suffix, unit[0] ? " (" : "", unit,
             unit[0] ? ")" : "");
    rcsv_field(buf, out);
}

static void rcsv_number(double v, FILE *out)
{
    if (isfinite(v))
        fprintf(out, "%.10g", v);
}

static void rcsv_header(const rtab *t, FILE *out)
{
    for (int c = 0; c < t->n_cols; c++) {
        rtab_kind kind = rrender_col_kind(t, c);
        const char *unit = kind == RTAB_TIME ? "s" : kind == RTAB_PCT ? "%" : t->cols[c].unit;
        if (c)
            fputc(',', out);
        rcsv_header_field(t, c, "", unit, out);
        if (rrender_col_has_ci(t, c)) {
            fputc(',', out);
            rcsv_header_field(t, c, " 95% CI low", unit, out);
            fputc(',', out);
            rcsv_header_field(t, c, " 95% CI high", unit, out);
        }
        if (rrender_col_has_note(t, c)) {
            fputc(',', out);
            rcsv_header_field(t, c, " note", "", out);
        }
    }
    fputs("\r\n", out);
}

void rcsv_table(const rtab *t, FILE *out)
{
    rcsv_header(t, out);
    for (int r = 0; r < t->n_rows; r++) {
        for (int c = 0; c < t->n_cols; c++) {
            const rtab_cell *cell = rtab_at(t, r, c);
            if (c)
                fputc(',', out);
            if (cell->kind == RTAB_TEXT)
                rcsv_field(cell->text, out);
            else if (cell->kind != RTAB_EMPTY)
                rcsv_number(cell->v, out);
            if (rrender_col_has_ci(t, c)) {
                fputc(',', out);
                rcsv_number(cell->lo, out);
                fputc(',', out);
                rcsv_number(cell->hi, out);
            }
            if (rrender_col_has_note(t, c)) {
                fputc(',', out);
                if (cell->kind != RTAB_TEXT && cell->text)
                    rcsv_field(cell->text, out);
            }
        }
        fputs("\r\n", out);
    }
}

void rcsv_index(const rdoc *d, FILE *out)
{
    fputs("file,title,platform,fingerprint,machine,revision,scale,runs\r\n", out);
    for (int i = 0; i < d->n; i++) {
        const rtab *t = d->b[i].table;
        if (!t)
            continue;
        for (int p = 0; p < t->n_prov; p++) {
            const rprov *v = &t->prov[p];
            const char *fields[] = {t->title, v->label, v->fingerprint, v->machine, v->revision,
                                    v->scale, v->runs};
            fprintf(out, "%s.csv", t->id);
            for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++) {
                fputc(',', out);
                rcsv_field(fields[k], out);
            }
            fputs("\r\n", out);
        }
    }
}
