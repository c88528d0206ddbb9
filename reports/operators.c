/* reports/operators.c — the report section for operator sweeps (seed 000):
 * operator x context tables of latency, percent of the attainable roofline and
 * bound class, per phase, dimension class and thread count; and, for each
 * sub-quadratic operator, the context length from which it is faster than
 * softmax attention (its best implementation against attention's best, at
 * every measured context from there on).
 *
 * Reads the store's JSON of one experiment on one platform; the operator's
 * family comes from the registry (operators/op.h) by name, so rows of an
 * operator this build does not know are shown but left out of crossovers. */
#include "reports/operators.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "operators/op.h"
#include "reports/format.h"

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

static void ropr_table(const ropr_set *s, const json_t *platform, const char *phase,
                       const char *dims, int threads, FILE *out)
{
    int64_t ctx[ROPR_MAX_COLS];
    int nc = ropr_contexts(s, phase, dims, threads, ctx, ROPR_MAX_COLS);
    fprintf(out, "#### %s, dims %s, %d thread%s\n\n| operator |", phase, dims, threads,
            threads == 1 ? "" : "s");
    for (int c = 0; c < nc; c++)
        fprintf(out, " L=%lld |", (long long)ctx[c]);
    fprintf(out, "\n|---|");
    for (int c = 0; c < nc; c++)
        fprintf(out, "--:|");
    fprintf(out, "\n");
    for (int i = 0; i < s->n; i++) {
        const ropr_point *p = &s->p[i];
        if (strcmp(p->phase, phase) || strcmp(p->dims, dims) || p->threads != threads ||
            ropr_find(s, p->row, phase, dims, threads, p->context) != p)
            continue;
        int first = 1; /* print each row once: at its first point */
        for (int j = 0; j < i && first; j++)
            first = !(strcmp(s->p[j].row, p->row) == 0 && strcmp(s->p[j].phase, phase) == 0 &&
                      strcmp(s->p[j].dims, dims) == 0 && s->p[j].threads == threads);
        if (!first)
            continue;
        fprintf(out, "| %s |", p->row);
        for (int c = 0; c < nc; c++) {
            const ropr_point *q = ropr_find(s, p->row, phase, dims, threads, ctx[c]);
            char t[32], bound[16], pct[16];
            if (!q) {
                fprintf(out, " – |");
                continue;
            }
            report_time(q->median, t, sizeof t);
            report_bound(platform, q->m, bound, sizeof bound, pct, sizeof pct);
            fprintf(out, " %s · %s %s |", t, pct, bound[0] == 'm' ? "M" : bound[0] == 'c' ? "C" : "");
        }
        fprintf(out, "\n");
    }
    fprintf(out, "\n");
}

/* The best (lowest) median of an operator variant at one context, NAN if none. */
static double ropr_best(const ropr_set *s, const char *variant, const char *phase, const char *dims,
                        int threads, int64_t context)
{
    double best = NAN;
    for (int i = 0; i < s->n; i++) {
        const ropr_point *p = &s->p[i];
        if (!strcmp(p->variant, variant) && !strcmp(p->phase, phase) && !strcmp(p->dims, dims) &&
            p->threads == threads && p->context == context && !(p->median >= best))
            best = p->median;
    }
    return best;
}

/* The crossover cell of one variant against attention: the smallest context
 * from which it is faster at every measured context, and the ratio at the
 * largest context both have. */
static void ropr_crossover(const ropr_set *s, const char *variant, const char *phase,
                           const char *dims, int threads, char *buf, size_t cap)
{
    int64_t ctx[ROPR_MAX_COLS];
    int nc = ropr_contexts(s, phase, dims, threads, ctx, ROPR_MAX_COLS);
    int64_t from = -1, last = -1, first_common = -1;
    double ratio = NAN;
    for (int c = 0; c < nc; c++) {
        double a = ropr_best(s, "attention", phase, dims, threads, ctx[c]);
        double v = ropr_best(s, variant, phase, dims, threads, ctx[c]);
        if (isnan(a) || isnan(v))
            continue;
        if (first_common < 0)
            first_common = ctx[c];
        if (v < a && from < 0)
            from = ctx[c];
        else if (v >= a)
            from = -1;
        last = ctx[c];
        ratio = a / v;
    }
    if (last < 0)
        snprintf(buf, cap, "–");
    else if (from < 0)
        snprintf(buf, cap, "not by L=%lld (%.2fx)", (long long)last, ratio);
    else if (from == first_common)
        snprintf(buf, cap, "≤ %lld (faster throughout; %.2fx at L=%lld)", (long long)from, ratio,
                 (long long)last);
    else
        snprintf(buf, cap, "%lld (%.2fx at L=%lld)", (long long)from, ratio, (long long)last);
}

/* 1 if the variant's operator is a token mixer other than softmax attention. */
static int ropr_is_mixer(const ropr_point *p)
{
    const op_entry *e = op_find(p->name);
    return e && strcmp(p->op, "attention") != 0 &&
           (strcmp(e->family, "sub-quadratic") == 0 || strcmp(e->family, "quadratic") == 0);
}

static void ropr_crossovers(const ropr_set *s, const char *dims, int threads, FILE *out)
{
    fprintf(out, "#### Where each operator overtakes softmax attention (dims %s, %d thread%s)\n\n"
                 "| operator | prefill | decode |\n|---|---|---|\n",
            dims, threads, threads == 1 ? "" : "s");
    for (int i = 0; i < s->n; i++) {
        const ropr_point *p = &s->p[i];
        int first = ropr_is_mixer(p) && !strcmp(p->dims, dims) && p->threads == threads;
        for (int j = 0; j < i && first; j++)
            first = !(strcmp(s->p[j].variant, p->variant) == 0 && !strcmp(s->p[j].dims, dims) &&
                      s->p[j].threads == threads);
        if (!first)
            continue;
        char pre[96], dec[96];
        ropr_crossover(s, p->variant, "prefill", dims, threads, pre, sizeof pre);
        ropr_crossover(s, p->variant, "decode", dims, threads, dec, sizeof dec);
        fprintf(out, "| %s | %s | %s |\n", p->variant, pre, dec);
    }
    fprintf(out, "\nEach cell: the smallest measured context from which the operator's fastest "
                 "implementation beats attention's fastest at every larger measured context, and "
                 "attention's latency over the operator's at the largest context.\n\n");
}

/* Writes the tables and crossovers of every distinct (dims, threads) of the set. */
static void ropr_each_config(const ropr_set *s, const json_t *platform, FILE *out)
{
    static const char *const phases[] = {"prefill", "decode"};
    for (int i = 0; i < s->n; i++) {
        int first = 1;
        for (int j = 0; j < i && first; j++)
            first = !(strcmp(s->p[j].dims, s->p[i].dims) == 0 && s->p[j].threads == s->p[i].threads);
        if (!first)
            continue;
        for (int ph = 0; ph < 2; ph++) {
            int any = 0;
            for (int k = 0; k < s->n && !any; k++)
                any = !strcmp(s->p[k].phase, phases[ph]) && !strcmp(s->p[k].dims, s->p[i].dims) &&
                      s->p[k].threads == s->p[i].threads;
            if (any)
                ropr_table(s, platform, phases[ph], s->p[i].dims, s->p[i].threads, out);
        }
        ropr_crossovers(s, s->p[i].dims, s->p[i].threads, out);
    }
}

int report_operators_section(const json_t *group, FILE *out, cb_err *err)
{
    const json_t *ms = json_object_get(group, "measurements");
    ropr_set s = {.p = calloc(json_array_size(ms) + 1, sizeof *s.p)};
    if (!s.p)
        return cb_fail(err, "report: out of memory");
    size_t i;
    json_t *m;
    json_array_foreach(ms, i, m)
        s.n += ropr_parse(m, &s.p[s.n]);
    fprintf(out, "### Operators against context length\n\nEach cell: median latency · percent of "
                 "the attainable roofline · M(emory) or C(ompute) bound.\n\n");
    ropr_each_config(&s, json_object_get(group, "platform"), out);
    free(s.p);
    return 0;
}
