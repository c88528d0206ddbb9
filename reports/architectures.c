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
#include <stdlib.h>
#include <string.h>

#include "models/catalogue.h"
#include "models/exec.h"
#include "reports/format.h"
#include "reports/report.h"

#define RARCH_MAX_MODELS 16
#define RARCH_MAX_CONTEXTS 32
#define RARCH_MAX_THREADS 16

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

static void rarch_header(const rarch_view *v, const char *first, FILE *out)
{
    fprintf(out, "| %s |", first);
    for (int k = 0; k < v->n_models; k++)
        fprintf(out, " %s |", v->models[k]);
    fprintf(out, "\n|--:|");
    for (int k = 0; k < v->n_models; k++)
        fprintf(out, "--:|");
    fprintf(out, "\n");
}

static void rarch_latency_table(const rarch_view *v, const char *phase, FILE *out)
{
    int decode = !strcmp(phase, "decode");
    fprintf(out, "#### %s against context (%s, %d thread%s)\n\n",
            decode ? "Time per output token (TPOT, decode)" : "Time to first token (TTFT, prefill)",
            v->wtype, v->threads, v->threads == 1 ? "" : "s");
    rarch_header(v, "context", out);
    for (int c = 0; c < v->n_contexts; c++) {
        fprintf(out, "| %lld |", (long long)v->contexts[c]);
        for (int k = 0; k < v->n_models; k++) {
            const rarch_pt *p = rarch_find(v, v->models[k], phase, v->contexts[c]);
            char med[32], lo[32], hi[32];
            if (!p) {
                fprintf(out, " – |");
                continue;
            }
            report_time(rarch_latency(p, "median_s"), med, sizeof med);
            report_time(rarch_latency(p, "ci_lo_s"), lo, sizeof lo);
            report_time(rarch_latency(p, "ci_hi_s"), hi, sizeof hi);
            fprintf(out, " %s [%s – %s] |", med, lo, hi);
        }
        fprintf(out, "\n");
    }
    fprintf(out, decode ? "\nMedian per token of a repetition (snapshot restore + the decode "
                          "steps, see restore_s) over the tokens it decodes, with the 95%% CI of "
                          "the median; the context is held before the first step.\n\n"
                        : "\nMedian of the prefill of the whole context, with the 95%% CI of "
                          "the median.\n\n");
}

static void rarch_throughput_table(const rarch_view *v, FILE *out)
{
    fprintf(out, "#### Throughput, tokens/s: prefill · decode (%s, %d thread%s)\n\n", v->wtype,
            v->threads, v->threads == 1 ? "" : "s");
    rarch_header(v, "context", out);
    for (int c = 0; c < v->n_contexts; c++) {
        fprintf(out, "| %lld |", (long long)v->contexts[c]);
        for (int k = 0; k < v->n_models; k++) {
            const rarch_pt *pre = rarch_find(v, v->models[k], "prefill", v->contexts[c]);
            const rarch_pt *dec = rarch_find(v, v->models[k], "decode", v->contexts[c]);
            char a[32], b[32];
            report_value(pre ? rarch_metric(pre->m, "tokens_per_s") : NAN, "%.0f", a, sizeof a);
            report_value(dec ? rarch_metric(dec->m, "tokens_per_s") : NAN, "%.1f", b, sizeof b);
            fprintf(out, " %s · %s |", a, b);
        }
        fprintf(out, "\n");
    }
    fprintf(out, "\n");
}

/* ---- crossovers ------------------------------------------------------------------------- */

/* The Transformer's latency over the model's (> 1: the model is faster) at
 * the contexts both measured, ascending; returns how many. */
static int rarch_ratios(const rarch_view *v, const char *base, const char *model,
                        const char *phase, int64_t *ctx, double *ratio)
{
    int n = 0;
    for (int c = 0; c < v->n_contexts; c++) {
        const rarch_pt *b = rarch_find(v, base, phase, v->contexts[c]);
        const rarch_pt *p = rarch_find(v, model, phase, v->contexts[c]);
        double r = b && p ? rarch_latency(b, "median_s") / rarch_latency(p, "median_s") : NAN;
        if (r > 0 && isfinite(r)) {
            ctx[n] = v->contexts[c];
            ratio[n++] = r;
        }
    }
    return n;
}

/* Where the ratio first rises through 1, interpolated linearly in
 * (log context, log ratio) between the two measured contexts around it. */
static void rarch_crossing(const int64_t *ctx, const double *r, int n, char *buf, size_t cap)
{
    if (r[0] >= 1) {
        snprintf(buf, cap, "faster from the shortest measured context (%lld)", (long long)ctx[0]);
        return;
    }
    for (int i = 1; i < n; i++) {
        if (r[i] < 1)
            continue;
        double t = -log(r[i - 1]) / (log(r[i]) - log(r[i - 1]));
        double at = exp(log((double)ctx[i - 1]) + t * (log((double)ctx[i]) - log((double)ctx[i - 1])));
        int stays = 1;
        for (int j = i; j < n; j++)
            stays &= r[j] >= 1;
        snprintf(buf, cap, "≈ %.0f (between %lld and %lld)%s", at, (long long)ctx[i - 1],
                 (long long)ctx[i], stays ? "" : ", slower again later");
        return;
    }
    snprintf(buf, cap, "not within the measured range (to %lld)", (long long)ctx[n - 1]);
}

/* "1.93x at 2048", the largest of r (or of 1/r when inverse), or "never". */
static void rarch_largest(const int64_t *ctx, const double *r, int n, int inverse, char *buf,
                          size_t cap)
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
        snprintf(buf, cap, "never");
    else
        snprintf(buf, cap, "%.2fx at %lld", best, (long long)ctx[at]);
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

static void rarch_crossovers(const rarch_view *v, FILE *out)
{
    int b = rarch_base(v);
    const char *base = b >= 0 ? v->models[b] : NULL;
    fprintf(out, "#### Where each SSM or hybrid overtakes the Transformer (%s, %d thread%s)\n\n",
            v->wtype, v->threads, v->threads == 1 ? "" : "s");
    if (!base) {
        fprintf(out, "No Transformer in this sweep: no crossovers.\n\n");
        return;
    }
    fprintf(out, "| model | phase | overtakes %s at context | %s faster by up to | model faster "
                 "by up to |\n|---|---|---|--:|--:|\n", base, base);
    static const char *const phases[] = {"prefill", "decode"};
    for (int k = 0; k < v->n_models; k++) {
        int arch = rarch_arch(v->names[k]);
        if (arch != MODEL_ARCH_MAMBA1 && arch != MODEL_ARCH_MAMBA2 && arch != MODEL_ARCH_HYBRID)
            continue;
        for (int ph = 0; ph < 2; ph++) {
            int64_t ctx[RARCH_MAX_CONTEXTS];
            double r[RARCH_MAX_CONTEXTS];
            int n = rarch_ratios(v, base, v->models[k], phases[ph], ctx, r);
            if (n == 0)
                continue;
            char cross[128], tf[48], ssm[48];
            rarch_crossing(ctx, r, n, cross, sizeof cross);
            rarch_largest(ctx, r, n, 1, tf, sizeof tf);
            rarch_largest(ctx, r, n, 0, ssm, sizeof ssm);
            fprintf(out, "| %s | %s (%s) | %s | %s | %s |\n", v->models[k], phases[ph],
                    ph ? "TPOT" : "TTFT", cross, tf, ssm);
        }
    }
    fprintf(out, "\nFrom the measured medians: the crossing is interpolated on log scale between "
                 "the two measured contexts around it (an interpolation, not a measurement); a "
                 "ratio is the slower median over the faster at the same context.\n\n"
                 "> **The paper's figures (seed 001, on consumer and embedded GPUs; quoted, not "
                 "measured here):** %s.\n\n", rarch_paper);
}

/* ---- memory ------------------------------------------------------------------------------ */

static void rarch_mib(double bytes, char *buf, size_t cap)
{
    report_value(bytes / (1024.0 * 1024.0), "%.1f MiB", buf, cap);
}

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

static double rarch_memory_total(const rarch_pt *p)
{
    return rarch_metric(p->m, "mem_weights_bytes") + rarch_metric(p->m, "mem_kv_cache_bytes") +
           rarch_metric(p->m, "mem_state_bytes") + rarch_metric(p->m, "mem_scratch_bytes");
}

static void rarch_memory(const rarch_view *v, FILE *out)
{
    int64_t c = rarch_longest_common(v);
    if (c < 0)
        return;
    int b = rarch_base(v);
    const rarch_pt *base = b >= 0 ? rarch_memory_point(v, v->models[b], c) : NULL;
    fprintf(out, "#### Memory at context %lld, the longest all models ran (%s)\n\n"
                 "| model | phase | weights | KV cache | state | scratch | total | vs %s | "
                 "process peak RSS |\n|---|---|--:|--:|--:|--:|--:|--:|--:|\n",
            (long long)c, v->wtype, base ? base->label : "the Transformer");
    for (int k = 0; k < v->n_models; k++) {
        const rarch_pt *p = rarch_memory_point(v, v->models[k], c);
        char w[32], kv[32], st[32], sc[32], tot[32], rss[32], vs[32];
        rarch_mib(rarch_metric(p->m, "mem_weights_bytes"), w, sizeof w);
        rarch_mib(rarch_metric(p->m, "mem_kv_cache_bytes"), kv, sizeof kv);
        rarch_mib(rarch_metric(p->m, "mem_state_bytes"), st, sizeof st);
        rarch_mib(rarch_metric(p->m, "mem_scratch_bytes"), sc, sizeof sc);
        rarch_mib(rarch_memory_total(p), tot, sizeof tot);
        rarch_mib(rarch_metric(p->m, "peak_rss_bytes"), rss, sizeof rss);
        double change = base ? rarch_memory_total(p) / rarch_memory_total(base) - 1 : NAN;
        if (p == base)
            snprintf(vs, sizeof vs, "(baseline)");
        else
            report_value(100 * change, "%+.0f%%", vs, sizeof vs);
        fprintf(out, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", p->label, p->phase, w, kv,
                st, sc, tot, vs, rss);
    }
    fprintf(out, "\nSizes of the model's buffers as allocated (stored with each point): the KV "
                 "cache is the part the held tokens occupy (the context, plus the decoded tokens "
                 "for decode); scratch is sized for a prefill of the whole context.  The peak RSS "
                 "is the process's peak so far (getrusage), measured, so it also counts models "
                 "measured before this one in the same process.\n\n");
}

/* ---- breakdown ---------------------------------------------------------------------------- */

/* The scan's share of each SSM or hybrid's latency, per phase and context. */
static void rarch_scan_share(const rarch_view *v, FILE *out)
{
    static const char *const phases[] = {"prefill", "decode"};
    fprintf(out, "#### The SSM scan's share of latency (%s, %d thread%s)\n\n", v->wtype, v->threads,
            v->threads == 1 ? "" : "s");
    int any = 0;
    for (int k = 0; k < v->n_models; k++) {
        int arch = rarch_arch(v->names[k]);
        if (arch != MODEL_ARCH_MAMBA1 && arch != MODEL_ARCH_MAMBA2 && arch != MODEL_ARCH_HYBRID)
            continue;
        for (int ph = 0; ph < 2; ph++) {
            int first = 1;
            for (int c = 0; c < v->n_contexts; c++) {
                const rarch_pt *p = rarch_find(v, v->models[k], phases[ph], v->contexts[c]);
                double share = p ? rarch_class_seconds(p->m, "ssm_scan") / report_num(p->m, "mean_s")
                                 : NAN;
                if (!isfinite(share))
                    continue;
                if (first)
                    fprintf(out, "- %s, %s:", v->models[k], phases[ph]);
                fprintf(out, "%s %.1f%% at %lld", first ? "" : ",", 100 * share,
                        (long long)v->contexts[c]);
                first = 0;
                any = 1;
            }
            if (!first)
                fprintf(out, "\n");
        }
    }
    fprintf(out, any ? "\nMean time per timed repetition in ssm_scan sections (the model's section "
                       "timers) over the mean repetition time, both measured.\n\n"
                     : "No SSM scan was timed in this sweep.\n\n");
}

static void rarch_breakdown_table(const rarch_view *v, FILE *out)
{
    static const char *const phases[] = {"prefill", "decode"};
    fprintf(out, "#### Where the time goes: share of a repetition per op class (%s, %d thread%s)"
                 "\n\n| model | phase | context |",
            v->wtype, v->threads, v->threads == 1 ? "" : "s");
    for (int c = 0; c < MX_OP_N; c++)
        fprintf(out, " %s |", mx_op_class_name((mx_op_class)c));
    fprintf(out, " outside the classes |\n|---|---|--:|");
    for (int c = 0; c <= MX_OP_N; c++)
        fprintf(out, "--:|");
    fprintf(out, "\n");
    for (int k = 0; k < v->n_models; k++)
        for (int ph = 0; ph < 2; ph++)
            for (int c = 0; c < v->n_contexts; c++) {
                const rarch_pt *p = rarch_find(v, v->models[k], phases[ph], v->contexts[c]);
                if (!p || json_array_size(json_object_get(p->m, "breakdown")) == 0)
                    continue;
                double mean = report_num(p->m, "mean_s"), inside = 0;
                fprintf(out, "| %s | %s | %lld |", p->label, p->phase, (long long)p->context);
                for (int cls = 0; cls < MX_OP_N; cls++) {
                    double sec = rarch_class_seconds(p->m, mx_op_class_name((mx_op_class)cls));
                    char cell[16];
                    report_value(sec > 0 ? 100 * sec / mean : NAN, "%.1f%%", cell, sizeof cell);
                    fprintf(out, " %s |", cell);
                    inside += sec;
                }
                fprintf(out, " %.1f%% |\n", 100 * (1 - inside / mean));
            }
    fprintf(out, "\nMean time per timed repetition in each class's timed sections over the mean "
                 "repetition time (both measured); \"outside\" is the rest: sampling, the "
                 "snapshot restore, and the timers themselves.\n\n");
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

/* The cell of one point: decode weight GB/s and % of triad, or prefill
 * estimated GFLOP/s and % of the FMA peak, at the point's thread count. */
static void rarch_rate_cell(const json_t *platform, const rarch_pt *p, char *buf, size_t cap)
{
    report_roof roof = report_roof_for(platform, p->threads);
    int decode = !strcmp(p->phase, "decode");
    double rate = decode ? rarch_metric(p->m, "weight_bytes_per_s") / 1e9
                         : report_num(p->m, "flops") / report_num(p->m, "median_s") / 1e9;
    double ceiling = decode ? roof.gbps : roof.gflops;
    char r[32], pct[32];
    report_value(rate, "%.1f", r, sizeof r);
    report_value(ceiling > 0 ? 100 * rate / ceiling : NAN, "%.0f%%", pct, sizeof pct);
    snprintf(buf, cap, "%s · %s%s", r, pct,
             ceiling > 0 && roof.threads != p->threads ? " (ceiling at other threads)" : "");
}

static int rarch_same_row(const rarch_pt *a, const rarch_pt *b)
{
    return !strcmp(a->label, b->label) && !strcmp(a->wtype, b->wtype) &&
           !strcmp(a->phase, b->phase) && a->context == b->context;
}

static void rarch_rate_table(const rarch_set *s, const json_t *platform, const char *phase,
                             FILE *out)
{
    int threads[RARCH_MAX_THREADS];
    int nt = rarch_thread_counts(s, threads);
    int decode = !strcmp(phase, "decode");
    fprintf(out, decode ? "#### Decode: weight bytes streamed per second, GB/s · %% of the "
                          "measured triad bandwidth\n\n"
                        : "#### Prefill: GFLOP/s (estimated FLOPs over the measured median) · %% "
                          "of the measured FMA peak\n\n");
    fprintf(out, "| model | storage | context |");
    for (int t = 0; t < nt; t++)
        fprintf(out, " %d thread%s |", threads[t], threads[t] == 1 ? "" : "s");
    fprintf(out, "\n|---|---|--:|");
    for (int t = 0; t < nt; t++)
        fprintf(out, "--:|");
    fprintf(out, "\n");
    for (int i = 0; i < s->n; i++) {
        const rarch_pt *p = &s->p[i];
        int first = !strcmp(p->phase, phase);
        for (int j = 0; j < i && first; j++)
            first = !rarch_same_row(&s->p[j], p);
        if (!first)
            continue;
        fprintf(out, "| %s | %s | %lld |", p->label, p->wtype, (long long)p->context);
        for (int t = 0; t < nt; t++) {
            const rarch_pt *q = NULL;
            for (int j = 0; j < s->n && !q; j++)
                if (rarch_same_row(&s->p[j], p) && s->p[j].threads == threads[t])
                    q = &s->p[j];
            char cell[96] = "–";
            if (q)
                rarch_rate_cell(platform, q, cell, sizeof cell);
            fprintf(out, " %s |", cell);
        }
        fprintf(out, "\n");
    }
    fprintf(out, decode ? "\nWeight bytes as stored over the measured TPOT (every weight is read "
                          "once per token; the KV cache and state reads are not counted), against "
                          "the platform's STREAM triad figure at the same thread count (triad "
                          "also writes, so a read-only stream can pass 100%%).\n\n"
                        : "\nThe FLOPs are the runner's estimate from the model's configuration "
                          "(experiments/runner_models.c), not counted; the ceiling is the "
                          "platform's measured FMA peak at the same thread count.\n\n");
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
static void rarch_weights_note(const rarch_set *s, FILE *out)
{
    int n_real = 0, k = 0;
    for (int i = 0; i < s->n; i++)
        n_real += rarch_is_real(&s->p[i]) && rarch_first_of_row(s, i);
    if (n_real == 0) {
        fprintf(out, "Every row runs synthetic weights (seeded random, the catalogue shape): "
                     "none is a real checkpoint.\n\n");
        return;
    }
    fprintf(out, "Real weights: the row%s ", n_real == 1 ? "" : "s");
    for (int i = 0; i < s->n; i++)
        if (rarch_is_real(&s->p[i]) && rarch_first_of_row(s, i))
            fprintf(out, "%s%s", k++ ? ", " : "", s->p[i].label);
    fprintf(out, " run%s %s of models/manifest.json, read from the fetch cache and dequantised "
                 "into the storage type of the table; every row marked (synthetic) runs seeded "
                 "random weights of its catalogue shape (the same arithmetic and bytes as real "
                 "weights of that shape, but no trained model).\n\n",
            n_real == 1 ? "s" : "", n_real == 1 ? "a real checkpoint" : "real checkpoints");
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
static void rarch_architectures(rarch_view *v, FILE *out)
{
    rarch_view_fill(v);
    if (rarch_phase_contexts(v, "prefill") < 2 && rarch_phase_contexts(v, "decode") < 2)
        return;
    fprintf(out, "### Whole models against context length (%s weights, %d thread%s)\n\n",
            v->wtype, v->threads, v->threads == 1 ? "" : "s");
    rarch_latency_table(v, "prefill", out);
    rarch_latency_table(v, "decode", out);
    rarch_throughput_table(v, out);
    rarch_crossovers(v, out);
    rarch_memory(v, out);
    rarch_scan_share(v, out);
    rarch_breakdown_table(v, out);
}

int report_architectures_section(const json_t *group, FILE *out, cb_err *err)
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
        rarch_weights_note(&s, out);
    for (int k = 0; k < s.n; k++) {
        int first = 1;
        for (int j = 0; j < k && first; j++)
            first = strcmp(s.p[j].wtype, s.p[k].wtype) || s.p[j].threads != s.p[k].threads;
        if (first) {
            rarch_view v = {.s = &s, .wtype = s.p[k].wtype, .threads = s.p[k].threads};
            rarch_architectures(&v, out);
        }
    }
    if (rarch_varies(&s)) {
        const json_t *platform = json_object_get(group, "platform");
        fprintf(out, "### Weight storage types against the platform's ceilings\n\n");
        if (rarch_has(&s, "decode"))
            rarch_rate_table(&s, platform, "decode", out);
        if (rarch_has(&s, "prefill"))
            rarch_rate_table(&s, platform, "prefill", out);
    }
    free(s.p);
    return 0;
}
