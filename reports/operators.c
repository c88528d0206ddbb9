/* reports/operators.c — the report section for operator sweeps (seed 000):
 * operator x context tables of latency and of percent of the attainable
 * roofline with the bound class, per phase, dimension class and thread
 * count; for each sub-quadratic operator, the context length from which it
 * is faster than softmax attention (its best implementation against
 * attention's best, at every measured context from there on); and the
 * figures: latency against context (log-log, the stored CIs as error bars,
 * the crossovers marked), attention's latency over each operator's against
 * context, and the roofline chart (the platform's measured ceilings, one
 * point per operator and context).
 *
 * Reads the store's JSON of one experiment on one platform; the operator's
 * family comes from the registry (operators/op.h) by name, so rows of an
 * operator this build does not know are shown but left out of crossovers. */
#include "reports/operators.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operators/op.h"
#include "reports/format.h"
#include "reports/report.h"

/* One measured point of the sweep, parsed from its parameters. */
typedef struct ropr_point {
    char name[64];      /* registry name "op.impl" */
    char op[48];        /* the operator, e.g. "mamba1_scan" */
    char row[80];       /* table row label: name, with N=d_state when it matters */
    char variant[80];   /* crossover group: op, with N=d_state when it matters */
    char phase[16];
    char dims[16];
    int threads;
    int64_t context;
    double median;
    const json_t *m;
} ropr_point;

typedef struct ropr_set {
    ropr_point *p;
    int n;
} ropr_set;

static int ropr_parse(const json_t *m, ropr_point *pt)
{
    json_t *params = json_loads(report_str(m, "params_json"), 0, NULL);
    const char *name = json_string_value(json_object_get(params, "operator"));
    json_t *ctx = json_object_get(params, "context");
    json_t *dstate = json_object_get(params, "d_state");
    int ok = name && json_is_integer(ctx);
    if (ok) {
        memset(pt, 0, sizeof *pt);
        snprintf(pt->name, sizeof pt->name, "%s", name);
        snprintf(pt->op, sizeof pt->op, "%s", report_str(m, "subject"));
        snprintf(pt->phase, sizeof pt->phase, "%s", report_str(m, "phase"));
        snprintf(pt->dims, sizeof pt->dims, "%s", json_string_value(json_object_get(params, "dims")) ?
                 json_string_value(json_object_get(params, "dims")) : "");
        pt->threads = (int)json_integer_value(json_object_get(m, "threads"));
        pt->context = json_integer_value(ctx);
        pt->median = report_num(m, "median_s");
        pt->m = m;
        if (json_is_integer(dstate)) {
            snprintf(pt->row, sizeof pt->row, "%s N=%lld", name, json_integer_value(dstate));
            snprintf(pt->variant, sizeof pt->variant, "%s N=%lld", pt->op, json_integer_value(dstate));
        } else {
            snprintf(pt->row, sizeof pt->row, "%s", name);
            snprintf(pt->variant, sizeof pt->variant, "%s", pt->op);
        }
    }
    json_decref(params);
    return ok;
}

int report_is_operator_sweep(const json_t *group)
{
    const json_t *ms = json_object_get(group, "measurements");
    ropr_point pt;
    return json_array_size(ms) > 0 && ropr_parse(json_array_get(ms, 0), &pt);
}

static int ropr_cmp_context(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The distinct contexts of the points of one table, ascending; returns how many. */
static int ropr_contexts(const ropr_set *s, const char *phase, const char *dims, int threads,
                         int64_t *out, int cap)
{
    int n = 0;
    for (int i = 0; i < s->n; i++) {
        const ropr_point *p = &s->p[i];
        if (strcmp(p->phase, phase) || strcmp(p->dims, dims) || p->threads != threads)
            continue;
        int seen = 0;
        for (int j = 0; j < n; j++)
            seen |= out[j] == p->context;
        if (!seen && n < cap)
            out[n++] = p->context;
    }
    qsort(out, (size_t)n, sizeof *out, ropr_cmp_context);
    return n;
}

static const ropr_point *ropr_find(const ropr_set *s, const char *row, const char *phase,
                                   const char *dims, int threads, int64_t context)
{
    for (int i = 0; i < s->n; i++) {
        const ropr_point *p = &s->p[i];
        if (!strcmp(p->row, row) && !strcmp(p->phase, phase) && !strcmp(p->dims, dims) &&
            p->threads == threads && p->context == context)
            return p;
    }
    return NULL;
}

#define ROPR_MAX_COLS 32

/* The points of one table or figure: a phase ("" for both), dims, threads. */
typedef struct ropr_view {
    const ropr_set *s;
    const json_t *platform;
    const char *phase, *dims;
    int threads;
} ropr_view;

static int ropr_in_view(const ropr_view *v, const ropr_point *p)
{
    return (!v->phase[0] || !strcmp(p->phase, v->phase)) && !strcmp(p->dims, v->dims) &&
           p->threads == v->threads;
}

/* 1 when point i is the first of the view with its row label (or, by_variant, its variant). */
static int ropr_first_of(const ropr_view *v, int i, int by_variant)
{
    const ropr_point *p = &v->s->p[i];
    if (!ropr_in_view(v, p))
        return 0;
    for (int j = 0; j < i; j++) {
        const ropr_point *q = &v->s->p[j];
        if (ropr_in_view(v, q) &&
            !strcmp(by_variant ? q->variant : q->row, by_variant ? p->variant : p->row))
            return 0;
    }
    return 1;
}

/* "prefill-130m-1t": the id suffix of a view. */
static void ropr_id(const ropr_view *v, const char *what, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s%s%s-%s-%dt", what, v->phase[0] ? "-" : "", v->phase, v->dims, v->threads);
}

/* ", dims 130m, 2 threads" */
static void ropr_where(const ropr_view *v, char *buf, size_t cap)
{
    snprintf(buf, cap, "dims %s, %d thread%s", v->dims, v->threads, v->threads == 1 ? "" : "s");
}

/* The latency table (medians) and the roofline table (percent, bound) of a phase. */
static void ropr_tables(const ropr_view *v, rdoc *doc)
{
    int64_t ctx[ROPR_MAX_COLS];
    int nc = ropr_contexts(v->s, v->phase, v->dims, v->threads, ctx, ROPR_MAX_COLS);
    char id_lat[96], id_roof[96], where[64];
    ropr_id(v, "latency", id_lat, sizeof id_lat);
    ropr_id(v, "roofline", id_roof, sizeof id_roof);
    ropr_where(v, where, sizeof where);
    rtab *lat = rtab_create(id_lat, "Median latency: %s, %s", v->phase, where);
    rtab *roof = rtab_create(id_roof, "Percent of the attainable roofline: %s, %s", v->phase, where);
    if (!lat || !roof) {
        rdoc_table(doc, lat, 4);
        rdoc_table(doc, roof, 4);
        return;
    }
    rtab_add_col(lat, "operator", "", 0, 1);
    rtab_add_col(roof, "operator", "", 0, 1);
    for (int c = 0; c < nc; c++) {
        char label[32];
        snprintf(label, sizeof label, "L=%lld", (long long)ctx[c]);
        rtab_add_col(lat, label, "s", 0, 0);
        rtab_add_col(roof, label, "%", 0, 0);
    }
    for (int i = 0; i < v->s->n; i++) {
        if (!ropr_first_of(v, i, 0))
            continue;
        int rl = rtab_row(lat), rr = rtab_row(roof);
        rtab_text(lat, rl, 0, "%s", v->s->p[i].row);
        rtab_text(roof, rr, 0, "%s", v->s->p[i].row);
        for (int c = 0; c < nc; c++) {
            const ropr_point *q = ropr_find(v->s, v->s->p[i].row, v->phase, v->dims, v->threads, ctx[c]);
            int memory;
            if (!q)
                continue;
            rtab_time(lat, rl, c + 1, q->median, NAN, NAN);
            rtab_pct(roof, rr, c + 1, report_bound(v->platform, q->m, &memory));
            if (memory >= 0)
                rtab_annotate(roof, rr, c + 1, memory ? "M" : "C");
        }
    }
    rtab_note(lat, "The stored median of each point; its 95%% CI is in the table of every point "
                   "and drawn as error bars in the figure.");
    rtab_note(roof, "Achieved FLOP/s over the attainable min(peak, intensity x bandwidth) from the "
                    "platform's probe figures at the same thread count; M: memory-bound, C: "
                    "compute-bound.  The bandwidth ceiling is main memory's, so a working set "
                    "that stays in cache can exceed 100%%.");
    rdoc_table(doc, lat, 4);
    rdoc_table(doc, roof, 4);
}

/* The point with the best (lowest) median of an operator variant at one context, or NULL. */
static const ropr_point *ropr_best(const ropr_view *v, const char *variant, int64_t context)
{
    const ropr_point *best = NULL;
    for (int i = 0; i < v->s->n; i++) {
        const ropr_point *p = &v->s->p[i];
        if (!strcmp(p->variant, variant) && ropr_in_view(v, p) && p->context == context &&
            (!best || p->median < best->median))
            best = p;
    }
    return best;
}

/* Where a variant overtakes attention in one phase. */
typedef struct ropr_cross {
    int64_t from;          /* the smallest context from which it is faster throughout, -1 none */
    int64_t first_common;  /* the smallest context both measured, -1 none */
    int64_t last;          /* the largest, -1 none */
    double ratio;          /* attention over the variant at `last` */
} ropr_cross;

static ropr_cross ropr_crossing(const ropr_view *v, const char *variant)
{
    int64_t ctx[ROPR_MAX_COLS];
    int nc = ropr_contexts(v->s, v->phase, v->dims, v->threads, ctx, ROPR_MAX_COLS);
    ropr_cross x = {-1, -1, -1, NAN};
    for (int c = 0; c < nc; c++) {
        const ropr_point *a = ropr_best(v, "attention", ctx[c]), *p = ropr_best(v, variant, ctx[c]);
        if (!a || !p)
            continue;
        if (x.first_common < 0)
            x.first_common = ctx[c];
        if (p->median < a->median && x.from < 0)
            x.from = ctx[c];
        else if (p->median >= a->median)
            x.from = -1;
        x.last = ctx[c];
        x.ratio = a->median / p->median;
    }
    return x;
}

static void ropr_cross_text(const ropr_cross *x, rtab *t, int row, int col)
{
    if (x->last < 0)
        return;
    if (x->from < 0)
        rtab_text(t, row, col, "not by L=%lld (%.2fx)", (long long)x->last, x->ratio);
    else if (x->from == x->first_common)
        rtab_text(t, row, col, "≤ %lld (faster throughout; %.2fx at L=%lld)", (long long)x->from,
                  x->ratio, (long long)x->last);
    else
        rtab_text(t, row, col, "%lld (%.2fx at L=%lld)", (long long)x->from, x->ratio,
                  (long long)x->last);
}

/* 1 if the variant's operator is a token mixer other than softmax attention. */
static int ropr_is_mixer(const ropr_point *p)
{
    const op_entry *e = op_find(p->name);
    return e && strcmp(p->op, "attention") != 0 &&
           (strcmp(e->family, "sub-quadratic") == 0 || strcmp(e->family, "quadratic") == 0);
}

static void ropr_crossovers(const ropr_view *all, rdoc *doc)
{
    char id[96], where[64];
    ropr_id(all, "crossovers", id, sizeof id);
    ropr_where(all, where, sizeof where);
    rtab *t = rtab_create(id, "Where each operator overtakes softmax attention (%s)", where);
    if (!t) {
        rdoc_table(doc, NULL, 4);
        return;
    }
    rtab_add_col(t, "operator", "", 0, 1);
    rtab_add_col(t, "prefill", "", 0, 0);
    rtab_add_col(t, "decode", "", 0, 0);
    for (int i = 0; i < all->s->n; i++) {
        if (!ropr_first_of(all, i, 1) || !ropr_is_mixer(&all->s->p[i]))
            continue;
        int r = rtab_row(t);
        rtab_text(t, r, 0, "%s", all->s->p[i].variant);
        static const char *const phases[] = {"prefill", "decode"};
        for (int ph = 0; ph < 2; ph++) {
            ropr_view v = *all;
            v.phase = phases[ph];
            ropr_cross x = ropr_crossing(&v, all->s->p[i].variant);
            ropr_cross_text(&x, t, r, ph + 1);
        }
    }
    rtab_note(t, "Each cell: the smallest measured context from which the operator's fastest "
                 "implementation beats attention's fastest at every larger measured context, and "
                 "attention's latency over the operator's at the largest context.");
    rdoc_table(doc, t, 4);
}

/* Latency against context, one series per operator implementation, the
 * crossovers of the phase marked. */
static void ropr_latency_figure(const ropr_view *v, rdoc *doc)
{
    char id[96], where[64];
    ropr_id(v, "latency", id, sizeof id);
    ropr_where(v, where, sizeof where);
    rfig *f = rfig_create(RFIG_LINES, id, "context length (tokens)", "median latency (s)",
                          "Latency against context: %s, %s", v->phase, where);
    if (!f) {
        rdoc_figure(doc, NULL);
        return;
    }
    f->logx = f->logy = 1;
    for (int i = 0; i < v->s->n; i++) {
        const ropr_point *p = &v->s->p[i];
        if (ropr_in_view(v, p))
            rfig_add_point(f, rfig_add_series(f, p->row), (double)p->context, p->median,
                       report_num(p->m, "ci_lo_s"), report_num(p->m, "ci_hi_s"));
        if (ropr_first_of(v, i, 1) && ropr_is_mixer(p)) {
            ropr_cross x = ropr_crossing(v, p->variant);
            if (x.from > x.first_common)
                rfig_add_mark(f, (double)x.from, "%s overtakes attention", p->variant);
        }
    }
    rfig_note(f, "Error bars: the stored 95%% CI of each median.  A dashed vertical line marks "
                 "the measured context from which an operator stays faster than attention.");
    rdoc_figure(doc, f);
}

/* Attention's best latency over each operator's best, against context. */
static void ropr_speedup_figure(const ropr_view *v, rdoc *doc)
{
    char id[96], where[64];
    ropr_id(v, "speedup", id, sizeof id);
    ropr_where(v, where, sizeof where);
    rfig *f = rfig_create(RFIG_LINES, id, "context length (tokens)",
                          "attention latency / operator latency",
                          "Speedup over softmax attention: %s, %s", v->phase, where);
    if (!f) {
        rdoc_figure(doc, NULL);
        return;
    }
    f->logx = f->logy = 1;
    f->ref_y = 1;
    int64_t ctx[ROPR_MAX_COLS];
    int nc = ropr_contexts(v->s, v->phase, v->dims, v->threads, ctx, ROPR_MAX_COLS);
    for (int i = 0; i < v->s->n; i++) {
        if (!ropr_first_of(v, i, 1) || !ropr_is_mixer(&v->s->p[i]))
            continue;
        int series = rfig_add_series(f, v->s->p[i].variant);
        for (int c = 0; c < nc; c++) {
            const ropr_point *a = ropr_best(v, "attention", ctx[c]);
            const ropr_point *p = ropr_best(v, v->s->p[i].variant, ctx[c]);
            if (a && p)
                rfig_add_point(f, series, (double)ctx[c], a->median / p->median,
                           report_num(a->m, "ci_lo_s") / report_num(p->m, "ci_hi_s"),
                           report_num(a->m, "ci_hi_s") / report_num(p->m, "ci_lo_s"));
        }
    }
    rfig_note(f, "Each operator's fastest implementation against attention's fastest at the same "
                 "context; above 1 the operator is faster.  Error bars: the ratio of the CI bounds "
                 "(attention's low over the operator's high, and high over low), a conservative "
                 "interval from the stored CIs.");
    rdoc_figure(doc, f);
}

/* The roofline chart of a dims and thread count: every point of both phases. */
static void ropr_roofline_figure(const ropr_view *all, rdoc *doc)
{
    char id[96], where[64];
    ropr_id(all, "roofline", id, sizeof id);
    ropr_where(all, where, sizeof where);
    rfig *f = rfig_create(RFIG_ROOFLINE, id, "arithmetic intensity (FLOP/byte)", "GFLOP/s",
                          "Roofline: %s", where);
    if (!f) {
        rdoc_figure(doc, NULL);
        return;
    }
    report_roof roof = report_roof_for(all->platform, all->threads);
    rfig_add_ceiling(f, roof.gbps, roof.gflops, roof.threads);
    for (int i = 0; i < all->s->n; i++) {
        const ropr_point *p = &all->s->p[i];
        double flops = report_num(p->m, "flops"), bytes = report_num(p->m, "bytes");
        if (!ropr_in_view(all, p) || !(flops > 0) || !(bytes > 0))
            continue;
        rfig_add_point(f, rfig_add_series(f, p->row), flops / bytes, flops / p->median / 1e9,
                   flops / report_num(p->m, "ci_hi_s") / 1e9, flops / report_num(p->m, "ci_lo_s") / 1e9);
    }
    rfig_note(f, "One point per operator implementation and context (both phases): achieved "
                 "GFLOP/s from the stored FLOP count and median (error bars from the stored CI) "
                 "at its arithmetic intensity, under the platform's measured ceilings (STREAM "
                 "triad bandwidth, FMA peak).");
    rdoc_figure(doc, f);
}

/* The tables and figures of every distinct (dims, threads) of the set. */
static void ropr_each_config(const ropr_set *s, const json_t *platform, rdoc *doc)
{
    static const char *const phases[] = {"prefill", "decode"};
    for (int i = 0; i < s->n; i++) {
        ropr_view all = {s, platform, "", s->p[i].dims, s->p[i].threads};
        int first = 1;
        for (int j = 0; j < i && first; j++)
            first = !ropr_in_view(&all, &s->p[j]);
        if (!first)
            continue;
        for (int ph = 0; ph < 2; ph++) {
            ropr_view v = all;
            v.phase = phases[ph];
            int any = 0;
            for (int k = 0; k < s->n && !any; k++)
                any = ropr_in_view(&v, &s->p[k]);
            if (!any)
                continue;
            ropr_tables(&v, doc);
            ropr_latency_figure(&v, doc);
            ropr_speedup_figure(&v, doc);
        }
        ropr_crossovers(&all, doc);
        ropr_roofline_figure(&all, doc);
    }
}

int report_operators_section(const json_t *group, rdoc *doc, cb_err *err)
{
    const json_t *ms = json_object_get(group, "measurements");
    ropr_set s = {.p = calloc(json_array_size(ms) + 1, sizeof *s.p)};
    if (!s.p)
        return cb_fail(err, "report: out of memory");
    size_t i;
    json_t *m;
    json_array_foreach(ms, i, m)
        s.n += ropr_parse(m, &s.p[s.n]);
    rdoc_heading(doc, 3, "Operators against context length");
    ropr_each_config(&s, json_object_get(group, "platform"), doc);
    free(s.p);
    return 0;
}
