/* reports/figure.c — the figure model (see figure.h): building series,
 * marks, ceilings and stacked bars, and overlaying the figures of several
 * platforms.  Never: no file or process I/O, no store access. */
#include "reports/figure.h"

#include "reports/format.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Grows *arr (of *n elements of size sz) by one zeroed element; returns it or NULL. */
static void *rfig_grow(void **arr, int *n, size_t sz, int *oom)
{
    void *a = realloc(*arr, (size_t)(*n + 1) * sz);
    if (!a) {
        *oom = 1;
        return NULL;
    }
    *arr = a;
    void *e = (char *)a + (size_t)(*n)++ * sz;
    memset(e, 0, sz);
    return e;
}

rfig *rfig_create(rfig_kind kind, const char *id, const char *xlabel, const char *ylabel,
                  const char *fmt, ...)
{
    rfig *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    f->title = report_vfmt(&f->oom, fmt, ap);
    va_end(ap);
    f->kind = kind;
    f->id = report_dup(id, &f->oom);
    f->xlabel = report_dup(xlabel, &f->oom);
    f->ylabel = report_dup(ylabel, &f->oom);
    f->logx = f->logy = kind == RFIG_ROOFLINE;
    f->ref_y = NAN;
    report_safe_id(f->id);
    if (f->oom) {
        rfig_free(f);
        return NULL;
    }
    return f;
}

void rfig_free(rfig *f)
{
    if (!f)
        return;
    for (int i = 0; i < f->n_series; i++) {
        free(f->series[i].label);
        free(f->series[i].p);
    }
    for (int i = 0; i < f->n_marks; i++)
        free(f->marks[i].label);
    for (int i = 0; i < f->n_bars; i++) {
        free(f->bars[i].group);
        free(f->bars[i].label);
    }
    free(f->series);
    free(f->marks);
    free(f->ceilings);
    free(f->bars);
    free(f->prov);
    free(f->id);
    free(f->title);
    free(f->xlabel);
    free(f->ylabel);
    free(f->note);
    free(f);
}

void rfig_note(rfig *f, const char *fmt, ...)
{
    if (f->oom)
        return;
    va_list ap;
    va_start(ap, fmt);
    free(f->note);
    f->note = report_vfmt(&f->oom, fmt, ap);
    va_end(ap);
}

/* The series of that label and source, added when new; -1 on oom. */
static int rfig_series_of(rfig *f, const char *label, int source)
{
    for (int i = 0; i < f->n_series; i++)
        if (f->series[i].source == source && strcmp(f->series[i].label, label) == 0)
            return i;
    rfig_series *s = rfig_grow((void **)&f->series, &f->n_series, sizeof *s, &f->oom);
    if (!s)
        return -1;
    s->label = report_dup(label, &f->oom);
    s->source = source;
    return f->n_series - 1;
}

int rfig_add_series(rfig *f, const char *label)
{
    return f->oom ? -1 : rfig_series_of(f, label, 0);
}

void rfig_add_point(rfig *f, int series, double x, double y, double lo, double hi)
{
    if (series < 0 || f->oom || !isfinite(x) || !isfinite(y) || (f->logx && !(x > 0)) ||
        (f->logy && !(y > 0)))
        return;
    rfig_series *s = &f->series[series];
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 8;
        rfig_point *p = realloc(s->p, (size_t)cap * sizeof *p);
        if (!p) {
            f->oom = 1;
            return;
        }
        s->p = p;
        s->cap = cap;
    }
    int ci = isfinite(lo) && isfinite(hi) && (!f->logy || (lo > 0 && hi > 0));
    s->p[s->n++] = (rfig_point){x, y, ci ? lo : NAN, ci ? hi : NAN};
}

void rfig_add_mark(rfig *f, double x, const char *fmt, ...)
{
    if (f->oom || !isfinite(x))
        return;
    rfig_mark *m = rfig_grow((void **)&f->marks, &f->n_marks, sizeof *m, &f->oom);
    if (!m)
        return;
    va_list ap;
    va_start(ap, fmt);
    m->label = report_vfmt(&f->oom, fmt, ap);
    va_end(ap);
    m->x = x;
}

void rfig_add_ceiling(rfig *f, double gbps, double gflops, int threads)
{
    if (f->oom || !(gbps > 0) || !(gflops > 0))
        return;
    rfig_ceiling *c = rfig_grow((void **)&f->ceilings, &f->n_ceilings, sizeof *c, &f->oom);
    if (c)
        *c = (rfig_ceiling){gbps, gflops, threads, 0};
}

int rfig_add_bar(rfig *f, const char *group, const char *label)
{
    if (f->oom)
        return -1;
    rfig_bar *b = rfig_grow((void **)&f->bars, &f->n_bars, sizeof *b, &f->oom);
    if (!b)
        return -1;
    b->group = report_dup(group, &f->oom);
    b->label = report_dup(label, &f->oom);
    return f->n_bars - 1;
}

void rfig_add_prov(rfig *f, const rprov *p)
{
    rprov *e = f->oom ? NULL : rfig_grow((void **)&f->prov, &f->n_prov, sizeof *e, &f->oom);
    if (e)
        *e = *p;
}

int rfig_is_empty(const rfig *f)
{
    for (int i = 0; i < f->n_series; i++)
        if (f->series[i].n > 0)
            return 0;
    return 1;
}

/* ---- overlay ----------------------------------------------------------------------- */

/* Appends src's bars to dst, each group suffixed with its platform; returns
 * the index of the first. */
static int rfig_overlay_bars(rfig *dst, const rfig *src, const char *platform)
{
    int first = dst->n_bars;
    for (int b = 0; b < src->n_bars; b++) {
        char *group = NULL;
        if (asprintf(&group, "%s (%s)", src->bars[b].group, platform) < 0) {
            dst->oom = 1;
            return first;
        }
        rfig_add_bar(dst, group, src->bars[b].label);
        free(group);
    }
    return first;
}

int rfig_overlay(rfig *dst, const rfig *src)
{
    int base = dst->n_prov;
    const char *platform = src->n_prov > 0 ? src->prov[0].label : "";
    if (dst->kind == RFIG_STACKED && base == 1 && dst->n_bars > 0 && dst->n_prov > 0)
        for (int b = 0; b < dst->n_bars; b++) { /* name dst's own bars' platform too */
            char *group = NULL;
            if (asprintf(&group, "%s (%s)", dst->bars[b].group, dst->prov[0].label) < 0) {
                dst->oom = 1;
                return -1;
            }
            free(dst->bars[b].group);
            dst->bars[b].group = group;
        }
    int bar0 = dst->kind == RFIG_STACKED ? rfig_overlay_bars(dst, src, platform) : 0;
    for (int p = 0; p < src->n_prov; p++)
        rfig_add_prov(dst, &src->prov[p]);
    for (int i = 0; i < src->n_series && !dst->oom; i++) {
        const rfig_series *s = &src->series[i];
        int stacked = dst->kind == RFIG_STACKED;
        /* stacked components keep one series per label: bars tell platforms apart */
        int d = rfig_series_of(dst, s->label, stacked ? 0 : base + s->source);
        for (int k = 0; k < s->n && d >= 0; k++)
            rfig_add_point(dst, d, stacked ? s->p[k].x + bar0 : s->p[k].x, s->p[k].y, s->p[k].lo,
                       s->p[k].hi);
    }
    for (int i = 0; i < src->n_marks && !dst->oom; i++) {
        rfig_add_mark(dst, src->marks[i].x, "%s", src->marks[i].label);
        if (!dst->oom)
            dst->marks[dst->n_marks - 1].source = base + src->marks[i].source;
    }
    for (int i = 0; i < src->n_ceilings && !dst->oom; i++) {
        rfig_add_ceiling(dst, src->ceilings[i].gbps, src->ceilings[i].gflops, src->ceilings[i].threads);
        if (!dst->oom)
            dst->ceilings[dst->n_ceilings - 1].source = base + src->ceilings[i].source;
    }
    return dst->oom ? -1 : 0;
}
