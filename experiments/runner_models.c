/* experiments/runner_models.c — the "models" runner (seed 001): a whole
 * language model of the catalogue (models/catalogue.h) with synthetic
 * weights or a real checkpoint's, through the one model interface
 * (models/lm.h), at a context length, in one phase:
 *
 *   prefill  one repetition = lm_prefill of `context` prompt tokens from an
 *            empty state: the time to first token (TTFT).
 *   decode   the context is prefilled once, untimed, and a snapshot taken;
 *            one repetition = lm_snapshot_restore + `gen` greedy decode
 *            steps (each step's argmax fed back).  TPOT = median / gen.  The
 *            restore (a copy of the recurrent state, a few MB for the 130M
 *            SSMs, a position reset for the Transformer) is inside the
 *            repetition; its own cost is measured apart as "restore_s".
 *
 * Weights: `weights` = synthetic (seeded, the catalogue shape) or a model
 * of models/manifest.json read from the fetch cache: safetensors with
 * ckpt_load, GGUF with gguf_model_load_from (matrices stored as wtype
 * names: an op_wtype, or "native" for the file's own types).  A checkpoint must have the shape of the catalogue entry
 * named by `model`.  So that one sweep can list both (real and synthetic
 * rows of the same shape side by side), a checkpoint whose catalogue shape
 * is known (mdr_ckpt_shapes) is applicable to that model only; the others'
 * points are left out.  Checkpoints not in that table go to every model and
 * the load-time shape check decides.
 *
 * Two parameters are sweep filters, never part of a point:
 * prefill_min_context and decode_max_context leave out prefill points below
 * and decode points above a context, so one cartesian sweep can pair each
 * phase with its own contexts.  Models with attention layers are left out
 * above MDR_ATTN_MAX_CONTEXT.
 *
 * Before anything is timed, the model's fast paths are checked against its
 * plain reference (lm_prefill's logits at every position, and one lm_decode
 * step, against lm_forward_ref on a short prompt); the verdict is kept per
 * (model, weights, wtype, seed) for the process, so a 130M model is verified
 * once, not per point.
 * A mismatch fails the point.
 *
 * The per-op-class breakdown (lm_set_timing) is on for every repetition and
 * kept per repetition, so extras() averages exactly the timed ones (the
 * warm-ups are the first calls, the timed ones the last meas_result.n).
 *
 * Never: touch the database or print; timing belongs to the run stage. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/runner.h"
#include "fetch/fetch_model.h"
#include "fetch/manifest.h"
#include "models/catalogue.h"
#include "models/checkpoint.h"
#include "models/gguf_model.h"
#include "models/lm.h"
#include "models/sample.h"
#include "operators/selective_scan.h"
#include "operators/ssd.h"
#include "util/clock.h"

/* Contexts above this are run only by models without attention layers (the
 * KV cache and the quadratic prefill of 131072 tokens are out of reach of
 * an edge machine's budget; the SSMs are not). */
#define MDR_ATTN_MAX_CONTEXT 65536

/* Tokens of the verification prompt (fewer when the context is shorter). */
#define MDR_VERIFY_TOKENS 8
/* The fast path's logits must match the reference within this x (max |ref|
 * + 1e-3) at every position: the model tests' tolerance (the 130M models of
 * the catalogue, synthetic weights, seed 1, any wtype, differ by <= 1.8e-6). */
#define MDR_VERIFY_TOL 1e-5
/* The same with block-type storage (Q8_0 / Q4_0 / Q4_1): each native GEMV
 * quantises x to int8 per block of 32 (its own error bound is checked by the
 * operator tests); through a whole model that moves the logits by up to 2.8%
 * of max |logit| (measured on 8 tokens: the synthetic 130M models stored as
 * q4_1, SmolLM2-135M's Q4_1 file; float storage stays under 2.3e-6), so this
 * catches a broken path, not the rounding. */
#define MDR_VERIFY_QTOL 0.1
/* Restores timed apart for restore_s (the median is reported). */
#define MDR_RESTORE_REPS 9

static const char *const mdr_phases[] = {"prefill", "decode", NULL};
static const char *const mdr_wtypes[] = {"f32", "bf16", "f16", "q8_0", "q4_0", "q4_1", "native",
                                         NULL};

/* The catalogue's names, for the `model` parameter. */
static const char *const *mdr_model_names(void)
{
    static const char *names[65];
    if (!names[0]) {
        int n = 0;
        const catalogue_entry *e = catalogue_entries(&n);
        for (int i = 0; i < n && i < 64; i++)
            names[i] = e[i].name;
    }
    return names;
}

/* The manifest the `weights` parameter names checkpoints from. */
#define MDR_MANIFEST "models/manifest.json"

/* "synthetic" and the manifest's models, for the `weights` parameter (just
 * "synthetic" when the manifest cannot be read: the sweep then refuses any
 * other name with the file and line). */
static const char *const *mdr_weight_names(void)
{
    static char names[33][64];
    static const char *list[34];
    if (!list[0]) {
        snprintf(names[0], sizeof names[0], "synthetic");
        list[0] = names[0];
        mf_manifest m;
        cb_err ignored;
        if (mf_load(MDR_MANIFEST, &m, &ignored) == 0) {
            for (int i = 0; i < m.n && i < 32; i++) {
                snprintf(names[i + 1], sizeof names[i + 1], "%s", m.models[i].name);
                list[i + 1] = names[i + 1];
            }
            mf_free(&m);
        }
    }
    return list;
}

enum {
    MDR_MODEL, MDR_CONTEXT, MDR_PHASE, MDR_GEN, MDR_WTYPE, MDR_THREADS, MDR_SEED, MDR_WEIGHTS,
    MDR_PREFILL_MIN_CONTEXT, MDR_DECODE_MAX_CONTEXT
};

static const exp_param mdr_params[] = {
    [MDR_MODEL] = {.name = "model", .type = EXP_WORD, .def = "tiny-transformer",
                   .allowed_fn = mdr_model_names, .help = "catalogue name, e.g. mamba-130m"},
    [MDR_CONTEXT] = {.name = "context", .type = EXP_INT, .def = "256", .min = 1, .max = 1 << 20,
                     .help = "prompt tokens: prefilled (prefill) or held before decoding (decode)"},
    [MDR_PHASE] = {.name = "phase", .type = EXP_WORD, .def = "prefill", .allowed = mdr_phases,
                   .help = "prefill (TTFT) or decode (TPOT)"},
    [MDR_GEN] = {.name = "gen", .type = EXP_INT, .def = "64", .min = 1, .max = 1 << 16,
                 .help = "decode tokens per repetition (decode only)"},
    [MDR_WTYPE] = {.name = "wtype", .type = EXP_WORD, .def = "f32", .allowed = mdr_wtypes,
                   .help = "how the weight matrices are stored: f32, bf16, f16, q8_0, q4_0, "
                           "q4_1, or native (a GGUF checkpoint's matrices as the file holds "
                           "them, e.g. Q4_1 layers and a Q8_0 embedding)"},
    [MDR_THREADS] = {.name = "threads", .type = EXP_INT, .def = "1", .min = 1, .max = 4096,
                     .help = "worker threads (first N cores)"},
    [MDR_SEED] = {.name = "seed", .type = EXP_INT, .def = "1", .min = 0, .max = INT64_MAX,
                  .help = "seed of the synthetic weights and the prompt"},
    [MDR_WEIGHTS] = {.name = "weights", .type = EXP_WORD, .def = "synthetic",
                     .allowed_fn = mdr_weight_names,
                     .help = "synthetic, or a checkpoint of models/manifest.json shaped like "
                             "`model` (fetched first: make fetch MODELS=NAME)"},
    /* Sweep filters, not part of a point: they pair phases with contexts
     * in one cartesian sweep (e.g. decode at 256, prefill at 2048). */
    [MDR_PREFILL_MIN_CONTEXT] = {.name = "prefill_min_context", .type = EXP_INT, .def = "1",
                                 .min = 1, .max = 1 << 20,
                                 .help = "one value: prefill points below it are left out"},
    [MDR_DECODE_MAX_CONTEXT] = {.name = "decode_max_context", .type = EXP_INT,
                                .def = "1048576", .min = 1, .max = 1 << 20,
                                .help = "one value: decode points above it are left out"},
};

static int mdr_is_decode(const exp_point *pt)
{
    return strcmp(pt->sval[MDR_PHASE], "decode") == 0;
}

static int mdr_param_used(const exp_runner *self, const exp_point *pt, int param)
{
    if (param == MDR_PREFILL_MIN_CONTEXT || param == MDR_DECODE_MAX_CONTEXT)
        return 0;
    return param != MDR_GEN || mdr_is_decode(pt);
}

/* Layers of each kind in cfg. */
static int mdr_attention_layers(const model_config *c)
{
    if (c->arch == MODEL_ARCH_TRANSFORMER)
        return c->n_layers;
    if (c->arch != MODEL_ARCH_HYBRID)
        return 0;
    int n = 0;
    for (const char *p = c->pattern; *p; p++)
        n += *p == 'A';
    return n;
}

static int mdr_ssm_layers(const model_config *c)
{
    if (c->arch == MODEL_ARCH_MAMBA1 || c->arch == MODEL_ARCH_MAMBA2)
        return c->n_layers;
    if (c->arch != MODEL_ARCH_HYBRID)
        return 0;
    return c->n_layers - mdr_attention_layers(c);
}

/* The catalogue shape of the manifest's checkpoints (models/manifest.json
 * descriptions; the load checks it again).  A checkpoint listed here is
 * applicable to its model only. */
static const struct {
    const char *weights, *model;
} mdr_ckpt_shapes[] = {
    {"smollm2-135m-instruct-q4_1", "smollm2-135m"},
    {"smollm2-135m", "smollm2-135m"},
    {"mamba-130m-hf", "mamba-130m"},
    {"mamba2-130m-hf", "mamba2-130m"},
    {"qwen2.5-0.5b", "qwen2.5-0.5b"},
    {"llama-3.2-1b", "llama-3.2-1b"},
};

/* The catalogue model the checkpoint `weights` is shaped like, NULL when
 * not known here (or synthetic). */
static const char *mdr_ckpt_model(const char *weights)
{
    for (size_t i = 0; i < sizeof mdr_ckpt_shapes / sizeof mdr_ckpt_shapes[0]; i++)
        if (!strcmp(mdr_ckpt_shapes[i].weights, weights))
            return mdr_ckpt_shapes[i].model;
    return NULL;
}

static int mdr_applicable(const exp_runner *self, const exp_point *pt, char *why, size_t cap)
{
    int64_t context = pt->ival[MDR_CONTEXT];
    const char *paired = mdr_ckpt_model(pt->sval[MDR_WEIGHTS]);
    if (paired && strcmp(paired, pt->sval[MDR_MODEL]) != 0) {
        snprintf(why, cap, "weights = %s is a checkpoint of %s's shape, not %s",
                 pt->sval[MDR_WEIGHTS], paired, pt->sval[MDR_MODEL]);
        return 0;
    }
    if (mdr_is_decode(pt) && context > pt->ival[MDR_DECODE_MAX_CONTEXT]) {
        snprintf(why, cap, "decode above decode_max_context = %lld",
                 (long long)pt->ival[MDR_DECODE_MAX_CONTEXT]);
        return 0;
    }
    if (!mdr_is_decode(pt) && context < pt->ival[MDR_PREFILL_MIN_CONTEXT]) {
        snprintf(why, cap, "prefill below prefill_min_context = %lld",
                 (long long)pt->ival[MDR_PREFILL_MIN_CONTEXT]);
        return 0;
    }
    if (!strcmp(pt->sval[MDR_WTYPE], "native") && !strcmp(pt->sval[MDR_WEIGHTS], "synthetic")) {
        snprintf(why, cap, "wtype = native keeps a GGUF checkpoint's stored types; synthetic "
                 "weights have none");
        return 0;
    }
    const catalogue_entry *e = catalogue_find(pt->sval[MDR_MODEL]);
    if (!e || mdr_attention_layers(&e->cfg) == 0 || context <= MDR_ATTN_MAX_CONTEXT)
        return 1;
    snprintf(why, cap, "%s has attention layers: contexts above %d are run by SSMs only",
             e->name, MDR_ATTN_MAX_CONTEXT);
    return 0;
}

/* ---- cost estimates -------------------------------------------------------------------
 * Estimates from the configuration, per repetition, stored as the case's
 * flops and bytes (the report labels rates derived from them as estimates).
 * With P = lm_param_count, V vocab, d d_model, E = (tied ? 1 : 2) V d the
 * embedding and LM head, body = P - E the layers' parameters (every one
 * counted as a matrix weight: norms, biases, conv and SSM vectors are under
 * 1% and are counted too), W = lm_weight_bytes, H x D the query heads x
 * head_dim, A the attention layers, KV(n) = lm_kv_bytes(n), S the recurrent
 * state bytes (lm_memory_use.state):
 *   prefill of L tokens:
 *     flops = 2 body L + 2 V d (LM head, last position)
 *             + A x 2 L^2 H D        (QK^T and PV, 4 L^2 H D, causal half)
 *             + scan flops x SSM layers (op_mamba1_scan_flops(L, d_inner, N),
 *               op_ssd_chunked_flops(L, H_ssm, P_ssm, N; chunk, zero state))
 *     bytes = W + KV(L) written + scan bytes x SSM layers
 *               (op_mamba1_scan_bytes, op_ssd_prefill_bytes)
 *   decode of g tokens after a context of L (positions t = L .. L+g-1):
 *     flops = sum_t [2 (body + V d) + A x 4 (t+1) H D + step flops x SSM layers]
 *     bytes = sum_t [W + KV(t + 1) read + 2 S (state read and written)]
 *             + 2 S (the restore's copy) */
typedef struct mdr_cost {
    double flops, bytes;
} mdr_cost;

static double mdr_body_params(const model_config *c)
{
    double embed = (double)c->vocab * c->d_model;
    return (double)lm_param_count(c) - (c->tied_embeddings ? 1 : 2) * embed;
}

static op_ssd_shape mdr_ssd_shape(const model_config *c, int64_t L)
{
    int d_inner = c->expand * c->d_model;
    return (op_ssd_shape){.L = L, .H = d_inner / c->ssm_head_dim, .P = c->ssm_head_dim,
                          .N = c->d_state};
}

static mdr_cost mdr_prefill_cost(const model_config *c, int64_t L)
{
    double attn = 2.0 * (double)L * (double)L * c->n_heads * c->head_dim;
    double scan_f = 0, scan_b = 0;
    int d_inner = c->expand * c->d_model;
    if (c->arch == MODEL_ARCH_MAMBA1) {
        scan_f = op_mamba1_scan_flops(L, d_inner, c->d_state);
        scan_b = op_mamba1_scan_bytes(L, d_inner, c->d_state);
    } else if (c->arch == MODEL_ARCH_MAMBA2 || c->arch == MODEL_ARCH_HYBRID) {
        op_ssd_shape s = mdr_ssd_shape(c, L);
        scan_f = op_ssd_chunked_flops(&s, c->chunk, 1);
        scan_b = op_ssd_prefill_bytes(&s);
    }
    mdr_cost r;
    r.flops = 2 * mdr_body_params(c) * (double)L + 2.0 * c->vocab * c->d_model +
              mdr_attention_layers(c) * attn + mdr_ssm_layers(c) * scan_f;
    r.bytes = (double)lm_weight_bytes(c) + (double)lm_kv_bytes(c, (long)L) +
              mdr_ssm_layers(c) * scan_b;
    return r;
}

static mdr_cost mdr_decode_cost(const model_config *c, int64_t L, int gen, double state_bytes)
{
    double step_f = 0;
    int d_inner = c->expand * c->d_model;
    if (c->arch == MODEL_ARCH_MAMBA1) {
        step_f = op_mamba1_scan_flops(1, d_inner, c->d_state);
    } else if (c->arch == MODEL_ARCH_MAMBA2 || c->arch == MODEL_ARCH_HYBRID) {
        op_ssd_shape s = mdr_ssd_shape(c, 1);
        step_f = op_ssd_step_flops(&s);
    }
    double per_token = 2 * (mdr_body_params(c) + (double)c->vocab * c->d_model) +
                       mdr_ssm_layers(c) * step_f;
    mdr_cost r = {0, 2 * state_bytes};
    for (int64_t t = L; t < L + gen; t++) {
        r.flops += per_token + mdr_attention_layers(c) * 4.0 * (double)(t + 1) * c->n_heads *
                                   c->head_dim;
        r.bytes += (double)lm_weight_bytes(c) + (double)lm_kv_bytes(c, (long)(t + 1)) +
                   2 * state_bytes;
    }
    return r;
}

/* ---- the case ------------------------------------------------------------------------- */

typedef struct mdr_case {
    lm *model;
    pool *pool;
    pool_part part;
    const char *model_name;
    int decode;            /* 1: decode case */
    int context, gen;
    int *tokens;           /* (context) the prompt */
    float *logits;         /* (vocab) */
    lm_snapshot *snap;     /* decode: the state after the context */
    int first_token;       /* decode: the argmax after the context */
    char impl[40];         /* the storage measured: "q4_1", or "q4_1+emb_q8_0" */
    /* (n_reps, MX_OP_N) seconds per class of every repetition run so far */
    double *rep_sec;
    int n_reps, cap_reps;
} mdr_case;

static void mdr_free(void *ctx)
{
    mdr_case *c = ctx;
    if (!c)
        return;
    lm_snapshot_free(c->snap);
    lm_free(c->model);
    free(c->tokens);
    free(c->logits);
    free(c->rep_sec);
    free(c);
}

/* Appends the breakdown of the repetition that just ran. */
static int mdr_keep_breakdown(mdr_case *c, cb_err *err)
{
    if (c->n_reps == c->cap_reps) {
        int cap = c->cap_reps ? 2 * c->cap_reps : 64;
        double *grown = realloc(c->rep_sec, (size_t)cap * MX_OP_N * sizeof *grown);
        if (!grown)
            return cb_fail(err, "%s: out of memory for the breakdown", c->model_name);
        c->rep_sec = grown;
        c->cap_reps = cap;
    }
    const mx_breakdown *bd = lm_breakdown(c->model);
    memcpy(c->rep_sec + (size_t)c->n_reps * MX_OP_N, bd->sec, MX_OP_N * sizeof(double));
    c->n_reps++;
    return 0;
}

static int mdr_prefill_rep(void *ctx, cb_err *err)
{
    mdr_case *c = ctx;
    lm_breakdown_clear(c->model);
    if (lm_prefill(c->model, c->pool, &c->part, c->tokens, c->context, c->logits, NULL, err) != 0)
        return cb_wrap(err, "%s: prefill of %d tokens", c->model_name, c->context);
    return mdr_keep_breakdown(c, err);
}

static int mdr_decode_rep(void *ctx, cb_err *err)
{
    mdr_case *c = ctx;
    lm_breakdown_clear(c->model);
    if (lm_snapshot_restore(c->model, c->snap, err) != 0)
        return cb_wrap(err, "%s", c->model_name);
    int vocab = lm_config(c->model)->vocab;
    int token = c->first_token;
    for (int i = 0; i < c->gen; i++) {
        if (lm_decode(c->model, c->pool, &c->part, token, c->logits, err) != 0)
            return cb_wrap(err, "%s: decode step %d after %d tokens", c->model_name, i,
                           c->context);
        token = sample_argmax(c->logits, vocab);
    }
    return mdr_keep_breakdown(c, err);
}

/* n prompt tokens below vocab, deterministic from seed. */
static void mdr_prompt(int *tokens, int n, int vocab, uint64_t seed)
{
    sample_rng r = sample_rng_seed(seed ^ 0x70726f6d7074ULL); /* "prompt" */
    for (int i = 0; i < n; i++) {
        int t = (int)(sample_rng_uniform(&r) * vocab);
        tokens[i] = t < vocab ? t : vocab - 1;
    }
}

/* ---- verification, once per (model, wtype, seed) ------------------------------------- */

#define MDR_MAX_VERDICTS 64

typedef struct mdr_verdict {
    char model[200]; /* model@weights/wtype */
    int64_t seed;
} mdr_verdict;

static mdr_verdict mdr_verified[MDR_MAX_VERDICTS];
static int mdr_n_verified;

static int mdr_already_verified(const char *model, int64_t seed)
{
    for (int i = 0; i < mdr_n_verified; i++)
        if (!strcmp(mdr_verified[i].model, model) && mdr_verified[i].seed == seed)
            return 1;
    return 0;
}

static void mdr_remember_verified(const char *model, int64_t seed)
{
    if (mdr_n_verified == MDR_MAX_VERDICTS)
        return; /* the table is full: later models are verified at every point */
    mdr_verdict *v = &mdr_verified[mdr_n_verified++];
    snprintf(v->model, sizeof v->model, "%s", model);
    v->seed = seed;
}

/* The verification tolerance (x (max |ref| + 1e-3)) of a model's storage:
 * MDR_VERIFY_TOL when every matrix holds floats, MDR_VERIFY_QTOL when some
 * are block types (their GEMVs quantise x to int8 by design). */
static double mdr_verify_tol(const model_config *cfg)
{
    return op_wtype_block(cfg->wtype) > 1 || op_wtype_block(cfg->emb_wtype) > 1
               ? MDR_VERIFY_QTOL
               : MDR_VERIFY_TOL;
}

/* The worst |fast - ref| of n logits, and max |ref|; *at gets its index. */
static double mdr_worst(const float *fast, const float *ref, size_t n, double *mag, size_t *at)
{
    double worst = 0;
    *mag = 0;
    *at = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)fast[i] - ref[i]);
        *mag = fmax(*mag, fabs(ref[i]));
        if (!(d <= worst)) { /* NaN counts as worst */
            worst = d;
            *at = i;
        }
    }
    return worst;
}

/* Checks n_pos rows of vocab logits of `path` against the reference's. */
static int mdr_check_logits(const char *path, const float *fast, const float *ref, int n_pos,
                            int vocab, int first_pos, double tol, cb_err *err)
{
    double mag;
    size_t at;
    double worst = mdr_worst(fast, ref, (size_t)n_pos * (size_t)vocab, &mag, &at);
    if (worst <= tol * (mag + 1e-3))
        return 0;
    return cb_fail(err, "%s disagrees with the reference: logit %zu of position %zu is %g, "
                   "reference %g (tolerance %g x max |logit| %g)", path, at % (size_t)vocab,
                   first_pos + at / (size_t)vocab, fast[at], ref[at], tol, mag);
}

/* Compares with lm_forward_ref on the first tokens of the prompt: lm_prefill's
 * logits at every position, then one lm_decode step after a prefill of all
 * but the last token (the decode path: GEMVs and the KV cache or the
 * recurrent step).  Returns 0, or -1 with err naming the worst logit. */
static int mdr_verify(mdr_case *c, cb_err *err)
{
    const model_config *cfg = lm_config(c->model);
    int vocab = cfg->vocab;
    int n = c->context < MDR_VERIFY_TOKENS ? c->context : MDR_VERIFY_TOKENS;
    size_t count = (size_t)n * (size_t)vocab;
    float *fast = malloc(count * sizeof *fast), *ref = malloc(count * sizeof *ref);
    double tol = mdr_verify_tol(cfg);
    int rc = -1;
    if (!fast || !ref) {
        cb_fail(err, "out of memory for the verification logits");
        goto done;
    }
    if (lm_prefill(c->model, c->pool, &c->part, c->tokens, n, NULL, fast, err) != 0 ||
        lm_forward_ref(c->model, c->tokens, n, ref, err) != 0 ||
        mdr_check_logits("prefill", fast, ref, n, vocab, 0, tol, err) != 0)
        goto done;
    if (n > 1) {
        lm_reset(c->model);
        if (lm_prefill(c->model, c->pool, &c->part, c->tokens, n - 1, fast, NULL, err) != 0 ||
            lm_decode(c->model, c->pool, &c->part, c->tokens[n - 1], fast, err) != 0 ||
            mdr_check_logits("decode", fast, ref + (size_t)(n - 1) * vocab, 1, vocab, n - 1, tol,
                             err) != 0)
            goto done;
    }
    rc = 0;
done:
    free(fast);
    free(ref);
    lm_reset(c->model);
    return rc;
}

/* ---- extras ----------------------------------------------------------------------------- */

static void mdr_metric(exp_extras *x, const char *name, double value, const char *unit)
{
    if (x->n_metrics < EXP_MAX_EXTRAS)
        x->metrics[x->n_metrics++] = (exp_metric_item){name, value, unit};
}

/* The median of MDR_RESTORE_REPS restores, timed one by one. */
static int mdr_restore_seconds(mdr_case *c, double *out, cb_err *err)
{
    double t[MDR_RESTORE_REPS];
    for (int i = 0; i < MDR_RESTORE_REPS; i++) {
        int64_t t0 = cb_now_ns();
        if (lm_snapshot_restore(c->model, c->snap, err) != 0)
            return cb_wrap(err, "%s", c->model_name);
        t[i] = (double)(cb_now_ns() - t0) * 1e-9;
    }
    for (int i = 1; i < MDR_RESTORE_REPS; i++) /* insertion sort of a handful */
        for (int j = i; j > 0 && t[j] < t[j - 1]; j--) {
            double s = t[j];
            t[j] = t[j - 1];
            t[j - 1] = s;
        }
    *out = t[MDR_RESTORE_REPS / 2];
    return 0;
}

/* The mean seconds per class over the last n_timed repetitions (the timed
 * ones: meas_run runs the warm-ups first), classes that ran only. */
static int mdr_breakdown(const mdr_case *c, int n_timed, exp_extras *x, cb_err *err)
{
    if (n_timed < 1 || n_timed > c->n_reps)
        return cb_fail(err, "%s: %d timed repetitions but %d breakdowns kept", c->model_name,
                       n_timed, c->n_reps);
    for (int k = 0; k < MX_OP_N; k++) {
        double sum = 0;
        for (int r = c->n_reps - n_timed; r < c->n_reps; r++)
            sum += c->rep_sec[(size_t)r * MX_OP_N + k];
        if (sum > 0 && x->n_breakdown < EXP_MAX_EXTRAS)
            x->breakdown[x->n_breakdown++] =
                (exp_breakdown_item){mx_op_class_name((mx_op_class)k), sum / n_timed};
    }
    return 0;
}

static int mdr_extras(void *ctx, const meas_result *res, exp_extras *x, cb_err *err)
{
    mdr_case *c = ctx;
    const model_config *cfg = lm_config(c->model);
    if (mdr_breakdown(c, res->n, x, err) != 0)
        return -1;
    lm_memory mem = lm_memory_use(c->model);
    long held = c->context + (c->decode ? c->gen : 0);
    double median = res->stats.median;
    mdr_metric(x, "params", (double)lm_param_count(cfg), "count");
    mdr_metric(x, "mem_weights_bytes", (double)mem.weights, "bytes");
    mdr_metric(x, "mem_kv_cache_bytes", (double)lm_kv_bytes(cfg, held), "bytes");
    mdr_metric(x, "mem_state_bytes", (double)mem.state, "bytes");
    mdr_metric(x, "mem_scratch_bytes", (double)mem.scratch, "bytes");
    if (res->peak_rss_kb > 0)
        mdr_metric(x, "peak_rss_bytes", 1024.0 * (double)res->peak_rss_kb, "bytes");
    if (!c->decode) {
        mdr_metric(x, "ttft_s", median, "s");
        mdr_metric(x, "tokens_per_s", c->context / median, "tok/s");
        return 0;
    }
    double tpot = median / c->gen, restore = 0;
    if (mdr_restore_seconds(c, &restore, err) != 0)
        return -1;
    mdr_metric(x, "tpot_s", tpot, "s");
    mdr_metric(x, "tokens_per_s", c->gen / median, "tok/s");
    mdr_metric(x, "weight_bytes_per_s", (double)mem.weights / tpot, "B/s");
    mdr_metric(x, "restore_s", restore, "s");
    return 0;
}

/* ---- prepare ------------------------------------------------------------------------------ */

/* Reads the cached checkpoint mod (format safetensors: the folder; gguf:
 * its first file) into *cfg and *w, its matrices stored as wname names
 * (an op_wtype, or "native": a GGUF file's own types). */
static int mdr_read_cached(const char *cache, const mf_model *mod, const model_config *shape,
                           const char *wname, model_config *cfg, lm_weights *w, cb_err *err)
{
    char path[4400];
    if (!strcmp(mod->format, "safetensors")) {
        if (!strcmp(wname, "native"))
            return cb_fail(err, "weights = %s: wtype = native applies to GGUF checkpoints",
                           mod->name);
        snprintf(path, sizeof path, "%s/%s", cache, mod->name);
        return ckpt_load(path, shape->wtype, shape->max_context, cfg, w, err);
    }
    if (mod->n_files < 1)
        return cb_fail(err, "weights = %s: no file listed in %s", mod->name, MDR_MANIFEST);
    if (fm_file_path(cache, mod, &mod->files[0], path, sizeof path, err) != 0)
        return cb_wrap(err, "weights = %s", mod->name);
    gguf_file *f = gguf_open(path, err);
    op_wtype wt, emb_wt;
    int rc = f && gguf_model_storage_named(f, wname, &wt, &emb_wt, err) == 0 &&
                     gguf_model_load_from(f, wt, emb_wt, shape->max_context, cfg, w, err) == 0
                 ? 0
                 : -1;
    gguf_close(f);
    return rc == 0 ? 0 : cb_wrap(err, "weights = %s", mod->name);
}

/* Loads the checkpoint `name` of the manifest from the cache into *cfg and
 * *w, checking that it has the catalogue shape `shape`.  A checkpoint not
 * in the cache is an error giving the command that fetches it. */
static int mdr_load_checkpoint(const char *name, const model_config *shape, const char *wname,
                               model_config *cfg, lm_weights *w, cb_err *err)
{
    mf_model mod;
    char cache[4096];
    if (fm_find_cached(MDR_MANIFEST, name, &mod, cache, sizeof cache, err) != 0)
        return cb_wrap(err, "weights = %s", name);
    if (strcmp(mod.format, "safetensors") != 0 && strcmp(mod.format, "gguf") != 0)
        return cb_fail(err, "weights = %s: a %s checkpoint; this runner reads safetensors and gguf",
                       name, mod.format);
    int rc = mdr_read_cached(cache, &mod, shape, wname, cfg, w, err);
    if (rc == 0 && (cfg->arch != shape->arch || cfg->d_model != shape->d_model ||
                    cfg->n_layers != shape->n_layers || cfg->vocab != shape->vocab)) {
        lm_weights_free(w);
        rc = cb_fail(err, "weights = %s: a %s of d_model %d, %d layers, vocab %d is not shaped "
                          "like the model named (%s, d_model %d, %d layers, vocab %d)",
                     name, model_arch_name(cfg->arch), cfg->d_model, cfg->n_layers, cfg->vocab,
                     model_arch_name(shape->arch), shape->d_model, shape->n_layers,
                     shape->vocab);
    }
    return rc;
}

/* Builds the model of the point (synthetic or checkpoint weights, KV
 * capacity context + gen, prefill scratch for the context) and the prompt. */
static int mdr_build(const exp_env *env, const exp_point *pt, mdr_case *c, cb_err *err)
{
    const char *wname = pt->sval[MDR_WTYPE];
    int wtype = op_wtype_parse(wname); /* -1 for native: the shape is checked as f32 */
    model_config shape, cfg;
    lm_weights w = {0};
    const char *weights = pt->sval[MDR_WEIGHTS];
    if (catalogue_config(c->model_name, wtype < 0 ? OP_W_F32 : (op_wtype)wtype,
                         c->context + c->gen, &shape, err) != 0)
        return -1;
    cfg = shape;
    if (strcmp(weights, "synthetic") == 0
            ? lm_weights_synth(&cfg, (uint64_t)pt->ival[MDR_SEED], &w, err) != 0
            : mdr_load_checkpoint(weights, &shape, wname, &cfg, &w, err) != 0)
        return -1;
    if (lm_create(&cfg, &w, c->context, &c->model, err) != 0) {
        lm_weights_free(&w);
        return -1;
    }
    c->tokens = malloc((size_t)c->context * sizeof *c->tokens);
    c->logits = malloc((size_t)cfg.vocab * sizeof *c->logits);
    if (!c->tokens || !c->logits)
        return cb_fail(err, "out of memory for the prompt and logits");
    mdr_prompt(c->tokens, c->context, cfg.vocab, (uint64_t)pt->ival[MDR_SEED]);
    return pool_part_first(env->pool, (int)pt->ival[MDR_THREADS], &c->part, err);
}

/* Decode: prefills the context (untimed) and keeps the state to return to. */
static int mdr_hold_context(mdr_case *c, cb_err *err)
{
    if (lm_prefill(c->model, c->pool, &c->part, c->tokens, c->context, c->logits, NULL, err) != 0)
        return cb_wrap(err, "prefill of the %d-token context", c->context);
    c->first_token = sample_argmax(c->logits, lm_config(c->model)->vocab);
    return lm_snapshot_take(c->model, &c->snap, err);
}

static int mdr_prepare(const exp_env *env, const exp_point *pt, exp_case *out, cb_err *err)
{
    mdr_case *c = calloc(1, sizeof *c);
    if (!c)
        return cb_fail(err, "out of memory");
    c->model_name = pt->sval[MDR_MODEL];
    c->decode = mdr_is_decode(pt);
    c->context = (int)pt->ival[MDR_CONTEXT];
    c->gen = c->decode ? (int)pt->ival[MDR_GEN] : 0;
    c->pool = env->pool;
    int64_t seed = pt->ival[MDR_SEED];
    int rc = mdr_build(env, pt, c, err);
    char key[200]; /* what was verified: the model, its weights and their storage */
    snprintf(key, sizeof key, "%.63s@%.63s/%.15s", c->model_name, pt->sval[MDR_WEIGHTS],
             pt->sval[MDR_WTYPE]);
    if (rc == 0 && !mdr_already_verified(key, seed)) {
        rc = mdr_verify(c, err);
        if (rc == 0)
            mdr_remember_verified(key, seed);
    }
    if (rc == 0 && c->decode)
        rc = mdr_hold_context(c, err);
    if (rc != 0) {
        mdr_free(c);
        return cb_wrap(err, "%s (%s)", pt->sval[MDR_MODEL], pt->sval[MDR_WTYPE]);
    }
    const model_config *cfg = lm_config(c->model);
    lm_memory mem = lm_memory_use(c->model);
    mdr_cost cost = c->decode ? mdr_decode_cost(cfg, c->context, c->gen, (double)mem.state)
                              : mdr_prefill_cost(cfg, c->context);
    lm_set_timing(c->model, 1);
    snprintf(c->impl, sizeof c->impl, "%s%s%s", op_wtype_name(cfg->wtype),
             cfg->emb_wtype != cfg->wtype ? "+emb_" : "",
             cfg->emb_wtype != cfg->wtype ? op_wtype_name(cfg->emb_wtype) : "");
    *out = (exp_case){
        .subject = c->model_name, .impl = c->impl, .phase = pt->sval[MDR_PHASE],
        .threads = (int)pt->ival[MDR_THREADS],
        .fn = c->decode ? mdr_decode_rep : mdr_prefill_rep, .ctx = c, .cleanup = mdr_free,
        .flops = cost.flops, .bytes = cost.bytes,
        .state_bytes = (double)mem.state +
                       (double)lm_kv_bytes(cfg, c->context + c->gen),
        .extras = mdr_extras,
    };
    return 0;
}

const exp_runner exp_runner_models = {
    .name = "models",
    .description = "whole language models of the catalogue: prefill (TTFT) and decode (TPOT), "
                   "verified against their references",
    .params = mdr_params,
    .n_params = sizeof mdr_params / sizeof mdr_params[0],
    .prepare = mdr_prepare,
    .param_used = mdr_param_used,
    .applicable = mdr_applicable,
};
