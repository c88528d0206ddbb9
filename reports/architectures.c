/* reports/architectures.c — the report section for whole-model sweeps (the
 * "models" runner, experiments/architectures.ini and weights_dtype.ini).
 *
 * Architectures (for every weight type and thread count with two or more
 * contexts): time to first token and time per output token against context
 * per model (medians with the 95% CI of the median), throughput, where each
 * SSM or hybrid overtakes the Transformer (the log-log interpolation between
 * the measured contexts around the crossing) and the largest ratio each way,
 * the memory split at the longest common context, the SSM scan's share of
 * latency, and the per-op-class breakdown; beside them the paper's figures,
 * quoted and labelled as the paper's.
 *
 * Figures (per weight type and thread count): TTFT and TPOT against context
 * (log-log, the stored CIs as error bars, the interpolated crossings
 * marked), the Transformer's latency over each model's, the per-op-class
 * breakdown stacked per model, phase and context, and the memory split
 * stacked per model and context.
 *
 * Weight types (when the group has several weight types or thread counts):
 * decode weight bytes per second against the measured triad bandwidth, and
 * prefill FLOP/s (the runner's estimate of the FLOPs over the measured
 * median) against the measured FMA peak.
 *
 * Real or synthetic: every model is labelled by its weights — "NAME
 * (synthetic)" or "NAME (real: CHECKPOINT)" from the point's `weights`
 * parameter (absent in old runs: synthetic) — in every table, the same
 * catalogue model with both kinds of weights being two rows, and the
 * section opens with a sentence saying which rows are real.  The
 * crossovers compare against the first synthetic Transformer (the matched
 * baseline), else the first Transformer.
 *
 * Reads only the store's JSON; a model's architecture comes from the
 * catalogue (models/catalogue.h) by name, so a model this build does not
 * know is shown but left out of the crossovers.  Never measures. */
#include "reports/architectures.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/catalogue.h"
#include "models/exec.h"
#include "reports/format.h"
#include "reports/report.h"

#define RARCH_MAX_MODELS 16
#define RARCH_MAX_CONTEXTS 32
#define RARCH_MAX_THREADS 16

static const char *const rarch_phases[] = {"prefill", "decode"};

/* The paper's headline figures (seeds/001), quoted, never computed here. */
static const char rarch_paper[] =
    "Transformers up to 1.9x faster below 8K tokens, SSMs up to 4x faster near 57K tokens, "
    "about 64% less memory, SSM scan above 55% of latency on the embedded board";

/* One measured point, parsed from its parameters. */
typedef struct rarch_pt {
    const char *model, *wtype, *phase;
    const char *weights;    /* "synthetic" or the checkpoint's manifest name */
    char label[192];        /* "model (synthetic)" / "model (real: weights)": its row */
    int threads;
    int64_t context;
    int64_t gen;            /* decode tokens per repetition; 1 for prefill */
    const json_t *m;
} rarch_pt;

typedef struct rarch_set {
    rarch_pt *p;
    int n;
} rarch_set;

/* The points of one (weight type, threads) view. */
typedef struct rarch_view {
    const rarch_set *s;
    const char *wtype;
    int threads;
    const char *models[RARCH_MAX_MODELS]; /* labels (rarch_pt.label) */
    const char *names[RARCH_MAX_MODELS];  /* their catalogue names */
    int n_models;
    int64_t contexts[RARCH_MAX_CONTEXTS];
    int n_contexts;
} rarch_view;

static int rarch_is_real(const rarch_pt *p)
{
    return strcmp(p->weights, "synthetic") != 0;
}

static int rarch_parse(const json_t *m, rarch_pt *pt)
{
    const json_t *params = json_object_get(m, "params");
    const json_t *model = json_object_get(params, "model");
    const json_t *context = json_object_get(params, "context");
    const json_t *wtype = json_object_get(params, "wtype");
    if (!json_is_string(model) || !json_is_integer(context) || !json_is_string(wtype))
        return 0;
    int decode = strcmp(report_str(m, "phase"), "decode") == 0;
    const json_t *gen = json_object_get(params, "gen");
    const json_t *weights = json_object_get(params, "weights");
    *pt = (rarch_pt){
        .model = json_string_value(model), .wtype = json_string_value(wtype),
        .phase = decode ? "decode" : "prefill",
        .threads = (int)json_integer_value(json_object_get(m, "threads")),
        .context = json_integer_value(context),
        .gen = decode && json_integer_value(gen) > 0 ? json_integer_value(gen) : 1, .m = m,
        .weights = json_is_string(weights) ? json_string_value(weights) : "synthetic",
    };
    if (rarch_is_real(pt))
        snprintf(pt->label, sizeof pt->label, "%s (real: %s)", pt->model, pt->weights);
    else
        snprintf(pt->label, sizeof pt->label, "%s (synthetic)", pt->model);
    return 1;
}

int report_is_models_sweep(const json_t *group)
{
    const json_t *ms = json_object_get(group, "measurements");
    rarch_pt pt;
    return json_array_size(ms) > 0 && rarch_parse(json_array_get(ms, 0), &pt);
}

/* ---- reading points ------------------------------------------------------------------ */

/* A metric of a measurement by name, NAN when absent. */
static double rarch_metric(const json_t *m, const char *name)
{
    size_t i;
    const json_t *x;
    json_array_foreach(json_object_get(m, "metrics"), i, x)
        if (strcmp(report_str(x, "name"), name) == 0)
            return report_num(x, "value");
    return NAN;
}

/* Seconds per repetition of an op class; 0 when the class did not run, NAN
 * when the measurement has no breakdown. */
static double rarch_class_seconds(const json_t *m, const char *op_class)
{
    const json_t *bd = json_object_get(m, "breakdown");
    if (json_array_size(bd) == 0)
        return NAN;
    size_t i;
    const json_t *x;
    json_array_foreach(bd, i, x)
        if (strcmp(report_str(x, "op_class"), op_class) == 0)
            return report_num(x, "seconds");
    return 0;
}

/* Latency per unit: the repetition for prefill (TTFT), per token for decode (TPOT). */
static double rarch_latency(const rarch_pt *p, const char *key)
{
    return report_num(p->m, key) / (double)p->gen;
}

/* The point of the row `label` (rarch_pt.label) in the view. */
static const rarch_pt *rarch_find(const rarch_view *v, const char *label, const char *phase,
                                  int64_t context)
{
    for (int i = 0; i < v->s->n; i++) {
        const rarch_pt *p = &v->s->p[i];
        if (!strcmp(p->label, label) && !strcmp(p->phase, phase) && !strcmp(p->wtype, v->wtype) &&
            p->threads == v->threads && p->context == context)
            return p;
    }
    return NULL;
}

static int rarch_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Fills the view's models (in order of appearance) and contexts (ascending). */
static void rarch_view_fill(rarch_view *v)
{
    v->n_models = v->n_contexts = 0;
    for (int i = 0; i < v->s->n; i++) {
        const rarch_pt *p = &v->s->p[i];
        if (strcmp(p->wtype, v->wtype) || p->threads != v->threads)
            continue;
        int seen = 0;
        for (int k = 0; k < v->n_models; k++)
            seen |= !strcmp(v->models[k], p->label);
        if (!seen && v->n_models < RARCH_MAX_MODELS) {
            v->names[v->n_models] = p->model;
            v->models[v->n_models++] = p->label;
        }
        seen = 0;
        for (int k = 0; k < v->n_contexts; k++)
            seen |= v->contexts[k] == p->context;
        if (!seen && v->n_contexts < RARCH_MAX_CONTEXTS)
            v->contexts[v->n_contexts++] = p->context;
    }
    qsort(v->contexts, (size_t)v->n_contexts, sizeof *v->contexts, rarch_cmp_i64);
}

/* The model's architecture from the catalogue, -1 when unknown. */
static int rarch_arch(const char *model)
{
    const catalogue_entry *e = catalogue_find(model);
    return e ? (int)e->cfg.arch : -1;
}

/* ---- latency and throughput tables ---------------------------------------------------- */

/* "f32-2t": the id suffix of a view. */
static void rarch_id(const rarch_view *v, const char *what, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s-%s-%dt", what, v->wtype, v->threads);
}

static const char *rarch_s(int n)
{
    return n == 1 ? "" : "s";
}

/* A table with a context key column and one column per model. */
static rtab *rarch_by_context(const rarch_view *v, const char *id, const char *unit,
                              const char *title)
{
    rtab *t = rtab_create(id, "%s", title);
    if (!t)
        return NULL;
    rtab_add_col(t, "context", "tokens", 0, 1);
    for (int k = 0; k < v->n_models; k++)
        rtab_add_col(t, v->models[k], unit, 0, 0);
    return t;
}

static void rarch_latency_table(const rarch_view *v, const char *phase, rdoc *doc)
{
    int decode = !strcmp(phase, "decode");
    char id[96], title[256];
    rarch_id(v, decode ? "tpot" : "ttft", id, sizeof id);
    snprintf(title, sizeof title, "%s against context (%s, %d thread%s)",
             decode ? "Time per output token (TPOT, decode)" : "Time to first token (TTFT, prefill)",
             v->wtype, v->threads, rarch_s(v->threads));
    rtab *t = rarch_by_context(v, id, "s", title);
    for (int c = 0; t && c < v->n_contexts; c++) {
        int r = rtab_row(t);
        rtab_int(t, r, 0, v->contexts[c]);
        for (int k = 0; k < v->n_models; k++) {
            const rarch_pt *p = rarch_find(v, v->models[k], phase, v->contexts[c]);
            if (p)
                rtab_time(t, r, k + 1, rarch_latency(p, "median_s"), rarch_latency(p, "ci_lo_s"),
                          rarch_latency(p, "ci_hi_s"));
        }
    }
    if (t)
        rtab_note(t, decode ? "Median per token of a repetition (snapshot restore + the decode "
                              "steps, see restore_s) over the tokens it decodes, with the 95%% CI "
                              "of the median; the context is held before the first step."
                            : "Median of the prefill of the whole context, with the 95%% CI of "
                              "the median.");
    rdoc_table(doc, t, 4);
}

static void rarch_throughput_table(const rarch_view *v, rdoc *doc)
{
    char id[96];
    rarch_id(v, "throughput", id, sizeof id);
    rtab *t = rtab_create(id, "Throughput against context (%s, %d thread%s)", v->wtype,
                          v->threads, rarch_s(v->threads));
    if (!t) {
        rdoc_table(doc, NULL, 4);
        return;
    }
    rtab_add_col(t, "context", "tokens", 0, 1);
    for (int k = 0; k < v->n_models; k++)
        for (int ph = 0; ph < 2; ph++) {
            char label[256];
            snprintf(label, sizeof label, "%s %s", v->models[k], rarch_phases[ph]);
            rtab_add_col(t, label, "tokens/s", ph ? 1 : 0, 0);
        }
    for (int c = 0; c < v->n_contexts; c++) {
        int r = rtab_row(t);
        rtab_int(t, r, 0, v->contexts[c]);
        for (int k = 0; k < v->n_models; k++)
            for (int ph = 0; ph < 2; ph++) {
                const rarch_pt *p = rarch_find(v, v->models[k], rarch_phases[ph], v->contexts[c]);
                rtab_num(t, r, 1 + 2 * k + ph, p ? rarch_metric(p->m, "tokens_per_s") : NAN);
            }
    }
    rtab_note(t, "Tokens per second as stored with each point: the context's tokens over the "
                 "prefill median, and the decoded tokens over the decode median.");
    rdoc_table(doc, t, 4);
}

/* ---- crossovers ------------------------------------------------------------------------- */

/* The Transformer's latency over the model's (> 1: the model is faster) at
 * the contexts both measured, ascending, with the ratio of the CI bounds
 * (lo/hi may be NULL); returns how many. */
static int rarch_ratios(const rarch_view *v, const char *base, const char *model,
                        const char *phase, int64_t *ctx, double *ratio, double *lo, double *hi)
{
    int n = 0;
    for (int c = 0; c < v->n_contexts; c++) {
        const rarch_pt *b = rarch_find(v, base, phase, v->contexts[c]);
        const rarch_pt *p = rarch_find(v, model, phase, v->contexts[c]);
        double r = b && p ? rarch_latency(b, "median_s") / rarch_latency(p, "median_s") : NAN;
        if (!(r > 0 && isfinite(r)))
            continue;
        ctx[n] = v->contexts[c];
        if (lo && hi) {
            lo[n] = rarch_latency(b, "ci_lo_s") / rarch_latency(p, "ci_hi_s");
            hi[n] = rarch_latency(b, "ci_hi_s") / rarch_latency(p, "ci_lo_s");
        }
        ratio[n++] = r;
    }
    return n;
}

/* Where the ratio first rises through 1, interpolated linearly in (log
 * context, log ratio) between the two measured contexts around it: the
 * context, or -1 (and *at_index the index of the context after it). */
static double rarch_crossing_at(const int64_t *ctx, const double *r, int n, int *at_index)
{
    for (int i = 1; i < n; i++) {
        if (r[i] < 1 || r[i - 1] >= 1)
            continue;
        double t = -log(r[i - 1]) / (log(r[i]) - log(r[i - 1]));
        *at_index = i;
        return exp(log((double)ctx[i - 1]) + t * (log((double)ctx[i]) - log((double)ctx[i - 1])));
    }
    return -1;
}

static void rarch_crossing(const int64_t *ctx, const double *r, int n, rtab *t, int row, int col)
{
    if (r[0] >= 1) {
        rtab_text(t, row, col, "faster from the shortest measured context (%lld)", (long long)ctx[0]);
        return;
    }
    int i = 0;
    double at = rarch_crossing_at(ctx, r, n, &i);
    if (at < 0) {
        rtab_text(t, row, col, "not within the measured range (to %lld)", (long long)ctx[n - 1]);
        return;
    }
    int stays = 1;
    for (int j = i; j < n; j++)
        stays &= r[j] >= 1;
    rtab_text(t, row, col, "≈ %.0f (between %lld and %lld)%s", at, (long long)ctx[i - 1],
              (long long)ctx[i], stays ? "" : ", slower again later");
}

/* "1.93x at 2048", the largest of r (or of 1/r when inverse), or "never". */
static void rarch_largest(const int64_t *ctx, const double *r, int n, int inverse, rtab *t,
                          int row, int col)
{
    double best = 1;
    int at = -1;
    for (int i = 0; i < n; i++) {
        double x = inverse ? 1 / r[i] : r[i];
        if (x > best) {
            best = x;
            at = i;
        }
    }
    if (at < 0)
        rtab_text(t, row, col, "never");
    else
        rtab_text(t, row, col, "%.2fx at %lld", best, (long long)ctx[at]);
}

/* The row the others are compared with: the first synthetic Transformer
 * (the matched baseline), else the first Transformer; -1 when none. */
static int rarch_base(const rarch_view *v)
{
    int any = -1;
    for (int k = 0; k < v->n_models; k++) {
        if (rarch_arch(v->names[k]) != MODEL_ARCH_TRANSFORMER)
            continue;
        if (strstr(v->models[k], " (synthetic)"))
            return k;
        if (any < 0)
            any = k;
    }
    return any;
}

/* 1 for the models compared with the Transformer: SSMs and hybrids. */
static int rarch_is_ssm(const rarch_view *v, int k)
{
    int arch = rarch_arch(v->names[k]);
    return arch == MODEL_ARCH_MAMBA1 || arch == MODEL_ARCH_MAMBA2 || arch == MODEL_ARCH_HYBRID;
}

static void rarch_crossover_rows(const rarch_view *v, const char *base, rtab *t)
{
    for (int k = 0; k < v->n_models; k++) {
        if (!rarch_is_ssm(v, k))
            continue;
        for (int ph = 0; ph < 2; ph++) {
            int64_t ctx[RARCH_MAX_CONTEXTS];
            double r[RARCH_MAX_CONTEXTS];
            int n = rarch_ratios(v, base, v->models[k], rarch_phases[ph], ctx, r, NULL, NULL);
            if (n == 0)
                continue;
            int row = rtab_row(t);
            rtab_text(t, row, 0, "%s", v->models[k]);
            rtab_text(t, row, 1, "%s (%s)", rarch_phases[ph], ph ? "TPOT" : "TTFT");
            rarch_crossing(ctx, r, n, t, row, 2);
            rarch_largest(ctx, r, n, 1, t, row, 3);
            rarch_largest(ctx, r, n, 0, t, row, 4);
        }
    }
}

static void rarch_crossovers(const rarch_view *v, rdoc *doc)
{
    int b = rarch_base(v);
    const char *base = b >= 0 ? v->models[b] : NULL;
    char id[96], label[256];
    rarch_id(v, "crossovers", id, sizeof id);
    if (!base) {
        rdoc_heading(doc, 4, "Where each SSM or hybrid overtakes the Transformer (%s, %d thread%s)",
                     v->wtype, v->threads, rarch_s(v->threads));
        rdoc_keyed_text(doc, id, "No Transformer in this sweep: no crossovers.");
        return;
    }
    rtab *t = rtab_create(id, "Where each SSM or hybrid overtakes the Transformer (%s, %d thread%s)",
                          v->wtype, v->threads, rarch_s(v->threads));
    if (!t) {
        rdoc_table(doc, NULL, 4);
        return;
    }
    rtab_add_col(t, "model", "", 0, 1);
    rtab_add_col(t, "phase", "", 0, 1);
    snprintf(label, sizeof label, "overtakes %s at context", base);
    rtab_add_col(t, label, "", 0, 0);
    snprintf(label, sizeof label, "%s faster by up to", base);
    rtab_add_col(t, label, "", 0, 0);
    rtab_add_col(t, "model faster by up to", "", 0, 0);
    rarch_crossover_rows(v, base, t);
    rtab_note(t, "From the measured medians: the crossing is interpolated on log scale between "
                 "the two measured contexts around it (an interpolation, not a measurement); a "
                 "ratio is the slower median over the faster at the same context.");
    rdoc_table(doc, t, 4);
    rdoc_quote(doc, "The paper's figures (seed 001, on consumer and embedded GPUs; quoted, not "
                    "measured here)", "%s.", rarch_paper);
}

/* ---- memory ------------------------------------------------------------------------------ */

/* The longest context every model of the view measured (in some phase), or -1. */
static int64_t rarch_longest_common(const rarch_view *v)
{
    for (int c = v->n_contexts - 1; c >= 0; c--) {
        int all = 1;
        for (int k = 0; k < v->n_models && all; k++)
            all = rarch_find(v, v->models[k], "decode", v->contexts[c]) ||
                  rarch_find(v, v->models[k], "prefill", v->contexts[c]);
        if (all)
            return v->contexts[c];
    }
    return -1;
}

/* The point memory is read from at a context: decode (the context and the
 * decoded tokens held) when measured, else prefill. */
static const rarch_pt *rarch_memory_point(const rarch_view *v, const char *model, int64_t c)
{
    const rarch_pt *p = rarch_find(v, model, "decode", c);
    return p ? p : rarch_find(v, model, "prefill", c);
}

/* The memory parts stored with each point, in bytes. */
static const char *const rarch_mem_metrics[] = {"mem_weights_bytes", "mem_kv_cache_bytes",
                                                "mem_state_bytes", "mem_scratch_bytes"};
static const char *const rarch_mem_labels[] = {"weights", "KV cache", "state", "scratch"};

static double rarch_memory_total(const rarch_pt *p)
{
    double total = 0;
    for (int i = 0; i < 4; i++)
        total += rarch_metric(p->m, rarch_mem_metrics[i]);
    return total;
}

static double rarch_mib(double bytes)
{
    return bytes / (1024.0 * 1024.0);
}

static void rarch_memory(const rarch_view *v, rdoc *doc)
{
    int64_t c = rarch_longest_common(v);
    if (c < 0)
        return;
    int b = rarch_base(v);
    const rarch_pt *base = b >= 0 ? rarch_memory_point(v, v->models[b], c) : NULL;
    char id[96], vs[256];
    snprintf(id, sizeof id, "memory-%s-%dt-%lld", v->wtype, v->threads, (long long)c);
    rtab *t = rtab_create(id, "Memory at context %lld, the longest all models ran (%s)",
                          (long long)c, v->wtype);
    if (!t) {
        rdoc_table(doc, NULL, 4);
        return;
    }
    rtab_add_col(t, "model", "", 0, 1);
    rtab_add_col(t, "phase", "", 0, 1);
    for (int i = 0; i < 4; i++)
        rtab_add_col(t, rarch_mem_labels[i], "MiB", 1, 0);
    rtab_add_col(t, "total", "MiB", 1, 0);
    snprintf(vs, sizeof vs, "vs %s", base ? base->label : "the Transformer");
    rtab_col_signed(t, rtab_add_col(t, vs, "%", 0, 0));
    rtab_add_col(t, "process peak RSS", "MiB", 1, 0);
    for (int k = 0; k < v->n_models; k++) {
        const rarch_pt *p = rarch_memory_point(v, v->models[k], c);
        int r = rtab_row(t);
        rtab_text(t, r, 0, "%s", p->label);
        rtab_text(t, r, 1, "%s", p->phase);
        for (int i = 0; i < 4; i++)
            rtab_num(t, r, 2 + i, rarch_mib(rarch_metric(p->m, rarch_mem_metrics[i])));
        rtab_num(t, r, 6, rarch_mib(rarch_memory_total(p)));
        if (p == base)
            rtab_text(t, r, 7, "(baseline)");
        else if (base)
            rtab_pct(t, r, 7, 100 * (rarch_memory_total(p) / rarch_memory_total(base) - 1));
        rtab_num(t, r, 8, rarch_mib(rarch_metric(p->m, "peak_rss_bytes")));
    }
    rtab_note(t, "Sizes of the model's buffers as allocated (stored with each point): the KV "
                 "cache is the part the held tokens occupy (the context, plus the decoded tokens "
                 "for decode); scratch is sized for a prefill of the whole context.  The peak RSS "
                 "is the process's peak so far (getrusage), measured, so it also counts models "
                 "measured before this one in the same process.");
    rdoc_table(doc, t, 4);
}

/* ---- breakdown ---------------------------------------------------------------------------- */

/* The scan's share of each SSM or hybrid's latency, per phase and context. */
static void rarch_scan_share(const rarch_view *v, rdoc *doc)
{
    rdoc_heading(doc, 4, "The SSM scan's share of latency (%s, %d thread%s)", v->wtype, v->threads,
                 rarch_s(v->threads));
    int any = 0;
    for (int k = 0; k < v->n_models; k++) {
        if (!rarch_is_ssm(v, k))
            continue;
        for (int ph = 0; ph < 2; ph++) {
            char line[1024], key[256];
            size_t used = 0;
            for (int c = 0; c < v->n_contexts && used < sizeof line; c++) {
                const rarch_pt *p = rarch_find(v, v->models[k], rarch_phases[ph], v->contexts[c]);
                double share = p ? rarch_class_seconds(p->m, "ssm_scan") / report_num(p->m, "mean_s")
                                 : NAN;
                if (isfinite(share))
                    used += (size_t)snprintf(line + used, sizeof line - used, "%s %.1f%% at %lld",
                                             used ? "," : "", 100 * share,
                                             (long long)v->contexts[c]);
            }
            if (!used)
                continue;
            snprintf(key, sizeof key, "scan %s %s %s %d", v->models[k], rarch_phases[ph], v->wtype,
                     v->threads);
            rdoc_item(doc, key, "%s, %s:%s", v->models[k], rarch_phases[ph], line);
            any = 1;
        }
    }
    rdoc_text(doc, any ? "Mean time per timed repetition in ssm_scan sections (the model's "
                         "section timers) over the mean repetition time, both measured."
                       : "No SSM scan was timed in this sweep.");
}

/* The share of a repetition of each op class (and outside them), percent;
 * returns 0 when the point has no breakdown. */
static int rarch_shares(const rarch_pt *p, double share[MX_OP_N + 1])
{
    if (json_array_size(json_object_get(p->m, "breakdown")) == 0)
        return 0;
    double mean = report_num(p->m, "mean_s"), inside = 0;
    for (int cls = 0; cls < MX_OP_N; cls++) {
        double sec = rarch_class_seconds(p->m, mx_op_class_name((mx_op_class)cls));
        share[cls] = 100 * sec / mean;
        inside += sec;
    }
    share[MX_OP_N] = 100 * (1 - inside / mean);
    return 1;
}

static void rarch_breakdown_table(const rarch_view *v, rdoc *doc)
{
    char id[96];
    rarch_id(v, "breakdown", id, sizeof id);
    rtab *t = rtab_create(id, "Where the time goes: share of a repetition per op class (%s, %d "
                              "thread%s)", v->wtype, v->threads, rarch_s(v->threads));
    if (!t) {
        rdoc_table(doc, NULL, 4);
        return;
    }
    rtab_add_col(t, "model", "", 0, 1);
    rtab_add_col(t, "phase", "", 0, 1);
    rtab_add_col(t, "context", "tokens", 0, 1);
    for (int c = 0; c < MX_OP_N; c++)
        rtab_add_col(t, mx_op_class_name((mx_op_class)c), "%", 1, 0);
    rtab_add_col(t, "outside the classes", "%", 1, 0);
    for (int k = 0; k < v->n_models; k++)
        for (int ph = 0; ph < 2; ph++)
            for (int c = 0; c < v->n_contexts; c++) {
                const rarch_pt *p = rarch_find(v, v->models[k], rarch_phases[ph], v->contexts[c]);
                double share[MX_OP_N + 1];
                if (!p || !rarch_shares(p, share))
                    continue;
                int r = rtab_row(t);
                rtab_text(t, r, 0, "%s", p->label);
                rtab_text(t, r, 1, "%s", p->phase);
                rtab_int(t, r, 2, p->context);
                for (int cls = 0; cls <= MX_OP_N; cls++)
                    rtab_pct(t, r, 3 + cls, cls == MX_OP_N || share[cls] > 0 ? share[cls] : NAN);
            }
    rtab_note(t, "Mean time per timed repetition in each class's timed sections over the mean "
                 "repetition time (both measured); \"outside\" is the rest: sampling, the "
                 "snapshot restore, and the timers themselves.");
    rdoc_table(doc, t, 4);
}

/* ---- figures ------------------------------------------------------------------------------ */

/* TTFT or TPOT against context, one series per model, crossings marked. */
static void rarch_latency_figure(const rarch_view *v, int ph, rdoc *doc)
{
    char id[96];
    rarch_id(v, ph ? "tpot" : "ttft", id, sizeof id);
    rfig *f = rfig_create(RFIG_LINES, id, "context length (tokens)",
                          ph ? "time per output token (s)" : "time to first token (s)",
                          "%s against context (%s, %d thread%s)", ph ? "TPOT" : "TTFT", v->wtype,
                          v->threads, rarch_s(v->threads));
    if (!f) {
        rdoc_figure(doc, NULL);
        return;
    }
    f->logx = f->logy = 1;
    int b = rarch_base(v);
    for (int k = 0; k < v->n_models; k++) {
        int series = rfig_add_series(f, v->models[k]);
        for (int c = 0; c < v->n_contexts; c++) {
            const rarch_pt *p = rarch_find(v, v->models[k], rarch_phases[ph], v->contexts[c]);
            if (p)
                rfig_add_point(f, series, (double)p->context, rarch_latency(p, "median_s"),
                           rarch_latency(p, "ci_lo_s"), rarch_latency(p, "ci_hi_s"));
        }
        int64_t ctx[RARCH_MAX_CONTEXTS];
        double r[RARCH_MAX_CONTEXTS];
        int n = b >= 0 && rarch_is_ssm(v, k)
                    ? rarch_ratios(v, v->models[b], v->models[k], rarch_phases[ph], ctx, r, NULL, NULL)
                    : 0;
        int at = 0;
        double x = n > 1 ? rarch_crossing_at(ctx, r, n, &at) : -1;
        if (x > 0)
            rfig_add_mark(f, x, "%s overtakes (≈ %.0f, interpolated)", v->models[k], x);
    }
    rfig_note(f, "Error bars: the stored 95%% CI of each median (per token for TPOT).  A dashed "
                 "vertical line marks where an SSM or hybrid overtakes the Transformer, "
                 "interpolated on log scale between the measured contexts around it.");
    rdoc_figure(doc, f);
}

/* The Transformer's latency over each SSM's or hybrid's, per phase. */
static void rarch_speedup_figure(const rarch_view *v, rdoc *doc)
{
    int b = rarch_base(v);
    char id[96];
    rarch_id(v, "speedup", id, sizeof id);
    if (b < 0)
        return;
    rfig *f = rfig_create(RFIG_LINES, id, "context length (tokens)",
                          "Transformer latency / model latency",
                          "Speedup over %s (%s, %d thread%s)", v->models[b], v->wtype, v->threads,
                          rarch_s(v->threads));
    if (!f) {
        rdoc_figure(doc, NULL);
        return;
    }
    f->logx = f->logy = 1;
    f->ref_y = 1;
    for (int k = 0; k < v->n_models; k++)
        for (int ph = 0; rarch_is_ssm(v, k) && ph < 2; ph++) {
            int64_t ctx[RARCH_MAX_CONTEXTS];
            double r[RARCH_MAX_CONTEXTS], lo[RARCH_MAX_CONTEXTS], hi[RARCH_MAX_CONTEXTS];
            int n = rarch_ratios(v, v->models[b], v->models[k], rarch_phases[ph], ctx, r, lo, hi);
            char label[256];
            snprintf(label, sizeof label, "%s %s", v->models[k], ph ? "TPOT" : "TTFT");
            int series = n > 0 ? rfig_add_series(f, label) : -1;
            for (int i = 0; i < n; i++)
                rfig_add_point(f, series, (double)ctx[i], r[i], lo[i], hi[i]);
        }
    rfig_note(f, "Above 1 the model is faster than the Transformer at that context.  Error bars: "
                 "the ratio of the CI bounds (a conservative interval from the stored CIs).");
    rdoc_figure(doc, f);
}

/* The op-class shares stacked per model (groups) and context (bars), per phase. */
static void rarch_breakdown_figure(const rarch_view *v, int ph, rdoc *doc)
{
    char id[96], what[64];
    snprintf(what, sizeof what, "breakdown-%s", rarch_phases[ph]);
    rarch_id(v, what, id, sizeof id);
    rfig *f = rfig_create(RFIG_STACKED, id, "context length (tokens), per model",
                          "share of a repetition (%)", "Where the time goes, %s (%s, %d thread%s)",
                          rarch_phases[ph], v->wtype, v->threads, rarch_s(v->threads));
    if (!f) {
        rdoc_figure(doc, NULL);
        return;
    }
    int series[MX_OP_N + 1];
    for (int cls = 0; cls < MX_OP_N; cls++)
        series[cls] = rfig_add_series(f, mx_op_class_name((mx_op_class)cls));
    series[MX_OP_N] = rfig_add_series(f, "outside the classes");
    for (int k = 0; k < v->n_models; k++)
        for (int c = 0; c < v->n_contexts; c++) {
            const rarch_pt *p = rarch_find(v, v->models[k], rarch_phases[ph], v->contexts[c]);
            double share[MX_OP_N + 1];
            if (!p || !rarch_shares(p, share))
                continue;
            char label[32];
            snprintf(label, sizeof label, "%lld", (long long)p->context);
            int bar = rfig_add_bar(f, v->models[k], label);
            for (int cls = 0; cls <= MX_OP_N; cls++)
                rfig_add_point(f, series[cls], bar, share[cls] > 0 ? share[cls] : 0, NAN, NAN);
        }
    rfig_note(f, "Mean time in each op class's timed sections over the mean repetition time, "
                 "both measured, per model and context.");
    rdoc_figure(doc, f);
}

/* The memory parts stacked per model (groups) and context (bars). */
static void rarch_memory_figure(const rarch_view *v, rdoc *doc)
{
    char id[96];
    rarch_id(v, "memory", id, sizeof id);
    rfig *f = rfig_create(RFIG_STACKED, id, "context length (tokens), per model",
                          "memory (MiB)", "Memory footprint against context (%s)", v->wtype);
    if (!f) {
        rdoc_figure(doc, NULL);
        return;
    }
    int series[4];
    for (int i = 0; i < 4; i++)
        series[i] = rfig_add_series(f, rarch_mem_labels[i]);
    for (int k = 0; k < v->n_models; k++)
        for (int c = 0; c < v->n_contexts; c++) {
            const rarch_pt *p = rarch_memory_point(v, v->models[k], v->contexts[c]);
            if (!p || !isfinite(rarch_memory_total(p)))
                continue;
            char label[32];
            snprintf(label, sizeof label, "%lld", (long long)p->context);
            int bar = rfig_add_bar(f, v->models[k], label);
            for (int i = 0; i < 4; i++)
                rfig_add_point(f, series[i], bar, rarch_mib(rarch_metric(p->m, rarch_mem_metrics[i])),
                           NAN, NAN);
        }
    rfig_note(f, "The model's buffers as allocated, stored with each point (decode when "
                 "measured: the context and the decoded tokens held; else prefill); scratch "
                 "stands for the activations.");
    rdoc_figure(doc, f);
}

/* ---- weight types ------------------------------------------------------------------------ */

/* The distinct thread counts of the set, ascending; returns how many. */
static int rarch_thread_counts(const rarch_set *s, int *out)
{
    int n = 0;
    for (int i = 0; i < s->n; i++) {
        int seen = 0;
        for (int k = 0; k < n; k++)
            seen |= out[k] == s->p[i].threads;
        if (!seen && n < RARCH_MAX_THREADS)
            out[n++] = s->p[i].threads;
    }
    for (int i = 1; i < n; i++) /* insertion sort of a handful */
        for (int j = i; j > 0 && out[j] < out[j - 1]; j--) {
            int t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return n;
}

/* The cells of one point: decode weight GB/s and % of triad, or prefill
 * estimated GFLOP/s and % of the FMA peak, at the point's thread count. */
static void rarch_rate_cells(const json_t *platform, const rarch_pt *p, rtab *t, int row, int col)
{
    report_roof roof = report_roof_for(platform, p->threads);
    int decode = !strcmp(p->phase, "decode");
    double rate = decode ? rarch_metric(p->m, "weight_bytes_per_s") / 1e9
                         : report_num(p->m, "flops") / report_num(p->m, "median_s") / 1e9;
    double ceiling = decode ? roof.gbps : roof.gflops;
    rtab_num(t, row, col, rate);
    rtab_pct(t, row, col + 1, ceiling > 0 ? 100 * rate / ceiling : NAN);
    if (ceiling > 0 && roof.threads != p->threads)
        rtab_annotate(t, row, col + 1, "(ceiling at other threads)");
}

static int rarch_same_row(const rarch_pt *a, const rarch_pt *b)
{
    return !strcmp(a->label, b->label) && !strcmp(a->wtype, b->wtype) &&
           !strcmp(a->phase, b->phase) && a->context == b->context;
}

static rtab *rarch_rate_columns(const int *threads, int nt, int decode)
{
    rtab *t = rtab_create(decode ? "weight-bandwidth" : "prefill-flops",
                          decode ? "Decode: weight bytes streamed per second against the "
                                   "measured triad bandwidth"
                                 : "Prefill: GFLOP/s (estimated FLOPs over the measured median) "
                                   "against the measured FMA peak");
    if (!t)
        return NULL;
    rtab_add_col(t, "model", "", 0, 1);
    rtab_add_col(t, "storage", "", 0, 1);
    rtab_add_col(t, "context", "tokens", 0, 1);
    for (int k = 0; k < nt; k++) {
        char label[64];
        snprintf(label, sizeof label, "%d thread%s", threads[k], rarch_s(threads[k]));
        rtab_add_col(t, label, decode ? "GB/s" : "GFLOP/s", 1, 0);
        snprintf(label, sizeof label, "%d thread%s, of %s", threads[k], rarch_s(threads[k]),
                 decode ? "triad" : "FMA peak");
        rtab_add_col(t, label, "%", 0, 0);
    }
    return t;
}

static void rarch_rate_table(const rarch_set *s, const json_t *platform, const char *phase,
                             rdoc *doc)
{
    int threads[RARCH_MAX_THREADS];
    int nt = rarch_thread_counts(s, threads);
    int decode = !strcmp(phase, "decode");
    rtab *t = rarch_rate_columns(threads, nt, decode);
    for (int i = 0; t && i < s->n; i++) {
        const rarch_pt *p = &s->p[i];
        int first = !strcmp(p->phase, phase);
        for (int j = 0; j < i && first; j++)
            first = !rarch_same_row(&s->p[j], p);
        if (!first)
            continue;
        int r = rtab_row(t);
        rtab_text(t, r, 0, "%s", p->label);
        rtab_text(t, r, 1, "%s", p->wtype);
        rtab_int(t, r, 2, p->context);
        for (int k = 0; k < nt; k++)
            for (int j = 0; j < s->n; j++)
                if (rarch_same_row(&s->p[j], p) && s->p[j].threads == threads[k]) {
                    rarch_rate_cells(platform, &s->p[j], t, r, 3 + 2 * k);
                    break;
                }
    }
    if (t)
        rtab_note(t, decode ? "Weight bytes as stored over the measured TPOT (every weight is "
                              "read once per token; the KV cache and state reads are not "
                              "counted), against the platform's STREAM triad figure at the same "
                              "thread count (triad also writes, so a read-only stream can pass "
                              "100%%)."
                            : "The FLOPs are the runner's estimate from the model's "
                              "configuration (experiments/runner_models.c), not counted; the "
                              "ceiling is the platform's measured FMA peak at the same thread "
                              "count.");
    rdoc_table(doc, t, 4);
}

static int rarch_has(const rarch_set *s, const char *phase)
{
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->p[i].phase, phase))
            return 1;
    return 0;
}

/* 1 when the set holds more than one weight type or thread count. */
static int rarch_varies(const rarch_set *s)
{
    for (int i = 1; i < s->n; i++)
        if (strcmp(s->p[i].wtype, s->p[0].wtype) || s->p[i].threads != s->p[0].threads)
            return 1;
    return 0;
}

/* ---- the section ---------------------------------------------------------------------------- */

/* 1 when p is the first point of its row (label) in the set. */
static int rarch_first_of_row(const rarch_set *s, int i)
{
    for (int j = 0; j < i; j++)
        if (!strcmp(s->p[j].label, s->p[i].label))
            return 0;
    return 1;
}

/* The sentence saying which rows are real checkpoints and which synthetic. */
static void rarch_weights_note(const rarch_set *s, rdoc *doc)
{
    int n_real = 0;
    char rows[1024] = "";
    size_t used = 0;
    for (int i = 0; i < s->n; i++)
        if (rarch_is_real(&s->p[i]) && rarch_first_of_row(s, i)) {
            if (used < sizeof rows)
                used += (size_t)snprintf(rows + used, sizeof rows - used, "%s%s",
                                         n_real ? ", " : "", s->p[i].label);
            n_real++;
        }
    if (n_real == 0) {
        rdoc_keyed_text(doc, "weights", "Every row runs synthetic weights (seeded random, the "
                                        "catalogue shape): none is a real checkpoint.");
        return;
    }
    rdoc_keyed_text(doc, "weights",
                    "Real weights: the row%s %s run%s %s of models/manifest.json, read from the "
                    "fetch cache and stored as the table's storage type says (native: the "
                    "file's own quantised bytes; any other type: dequantised, then converted); "
                    "every row "
                    "marked (synthetic) runs seeded random weights of its catalogue shape (the "
                    "same arithmetic and bytes as real weights of that shape, but no trained "
                    "model).",
                    rarch_s(n_real), rows, n_real == 1 ? "s" : "",
                    n_real == 1 ? "a real checkpoint" : "real checkpoints");
}

/* The number of the view's contexts measured in a phase (by any model). */
static int rarch_phase_contexts(const rarch_view *v, const char *phase)
{
    int n = 0;
    for (int c = 0; c < v->n_contexts; c++) {
        int any = 0;
        for (int k = 0; k < v->n_models && !any; k++)
            any = rarch_find(v, v->models[k], phase, v->contexts[c]) != NULL;
        n += any;
    }
    return n;
}

/* The architecture comparison of one view, when a phase has two or more
 * contexts (a sweep over context length). */
static void rarch_architectures(rarch_view *v, rdoc *doc)
{
    rarch_view_fill(v);
    if (rarch_phase_contexts(v, "prefill") < 2 && rarch_phase_contexts(v, "decode") < 2)
        return;
    rdoc_heading(doc, 3, "Whole models against context length (%s weights, %d thread%s)",
                 v->wtype, v->threads, rarch_s(v->threads));
    rarch_latency_table(v, "prefill", doc);
    rarch_latency_table(v, "decode", doc);
    rarch_latency_figure(v, 0, doc);
    rarch_latency_figure(v, 1, doc);
    rarch_throughput_table(v, doc);
    rarch_crossovers(v, doc);
    rarch_speedup_figure(v, doc);
    rarch_memory(v, doc);
    rarch_memory_figure(v, doc);
    rarch_scan_share(v, doc);
    rarch_breakdown_table(v, doc);
    rarch_breakdown_figure(v, 0, doc);
    rarch_breakdown_figure(v, 1, doc);
}

int report_architectures_section(const json_t *group, rdoc *doc, cb_err *err)
{
    const json_t *ms = json_object_get(group, "measurements");
    rarch_set s = {.p = calloc(json_array_size(ms) + 1, sizeof *s.p)};
    if (!s.p)
        return cb_fail(err, "report: out of memory");
    size_t i;
    json_t *m;
    json_array_foreach(ms, i, m)
        s.n += rarch_parse(m, &s.p[s.n]);
    if (s.n > 0)
        rarch_weights_note(&s, doc);
    for (int k = 0; k < s.n; k++) {
        int first = 1;
        for (int j = 0; j < k && first; j++)
            first = strcmp(s.p[j].wtype, s.p[k].wtype) || s.p[j].threads != s.p[k].threads;
        if (first) {
            rarch_view v = {.s = &s, .wtype = s.p[k].wtype, .threads = s.p[k].threads};
            rarch_architectures(&v, doc);
        }
    }
    if (rarch_varies(&s)) {
        const json_t *platform = json_object_get(group, "platform");
        rdoc_heading(doc, 3, "Weight storage types against the platform's ceilings");
        if (rarch_has(&s, "decode"))
            rarch_rate_table(&s, platform, "decode", doc);
        if (rarch_has(&s, "prefill"))
            rarch_rate_table(&s, platform, "prefill", doc);
    }
    free(s.p);
    return 0;
}
