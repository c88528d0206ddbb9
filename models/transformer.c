/* models/transformer.c — the Llama-style Transformer (models/transformer.h):
 * weights allocation, the KV cache and scratch, the prefill and decode
 * forward passes on a pool, and the single-threaded reference forward.
 *
 * Each forward pass is a list of commented steps; each step is one pool_run
 * of a worker function below (or, for the one-row steps of decode, the same
 * function called inline on the caller's thread: dispatching 1 row to the
 * pool costs more than computing it), timed into the breakdown when
 * m->timing is set.
 * The timed step, its accounting and the RMSNorm, projection and transpose
 * workers are shared with the other stacks (models/exec.h).
 *
 * Prefill activation layouts (N = max_prefill, n = prompt length):
 *   x, xb   (n, d)         residual stream and its RMSNorm
 *   xt      (d | H*D, n)   transposed GEMM input (B of op_gemm_part)
 *   qt, kt, vt (H*D | Hkv*D, n)  projections out of the GEMM, transposed
 *   q, o    (H, n, D)      head-major, as the flash kernel takes them
 *   k, v    (Hkv, n, D)
 *   gt, ut  (ffn, n)       SwiGLU gate and up, transposed
 *   yt      (d, n)         output projection / down projection, transposed
 * Decode uses row 0 of the same buffers: x (d), q (H, D), k, v (Hkv, D)...
 * KV cache: k_cache, v_cache (n_layers, Hkv, max_context, D).
 *
 * Never: print, exit, start threads; no allocation inside a forward pass
 * except growing the kernel scratch when a wider partition first runs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "models/exec.h"
#include "models/transformer.h"
#include "operators/attention.h"
#include "operators/elementwise.h"
#include "operators/gemm.h"
#include "util/clock.h"

struct tf_state {
    float *k_cache, *v_cache; /* (n_layers, Hkv, max_context, D) each */
    float *x, *xb;            /* (N, d) */
    float *xt;                /* (max(d, H*D), N) */
    float *qt, *q, *o;        /* (H*D, N), (H, N, D), (H, N, D) */
    float *kt, *vt, *k, *v;   /* (Hkv*D, N), (Hkv*D, N), (Hkv, N, D), (Hkv, N, D) */
    float *gt, *ut;           /* (ffn, N) */
    float *yt;                /* (d, N) */
    float *cos_t, *sin_t;     /* (N, D/2) RoPE tables of the current pass */
    float *inv_freq;          /* (D/2) */
    size_t act_bytes;         /* the buffers above except the cache */
    size_t region;            /* kernel scratch region of the current pass's steps */
    void *kscr;               /* kernel scratch (gemm, flash, decode), grown on demand */
    size_t kscr_bytes;
};

/* ---- weights -------------------------------------------------------------------------- */

/* Takes a 64-byte-aligned region of bytes from *at. */
size_t tf_layer_bytes(const model_config *c)
{
    size_t d = (size_t)c->d_model, qd = (size_t)c->n_heads * c->head_dim,
           kvd = (size_t)c->n_kv_heads * c->head_dim, f = (size_t)c->ffn_dim;
    op_wtype wt = c->wtype;
    size_t n = 2 * mx_round64(d * sizeof(float)) + mx_round64(mx_matrix_bytes(qd, d, wt)) +
               2 * mx_round64(mx_matrix_bytes(kvd, d, wt)) +
               mx_round64(mx_matrix_bytes(d, qd, wt)) + 3 * mx_round64(mx_matrix_bytes(f, d, wt));
    if (c->qkv_bias)
        n += mx_round64(qd * sizeof(float)) + 2 * mx_round64(kvd * sizeof(float));
    return n;
}

size_t tf_weight_bytes(const model_config *c)
{
    size_t emb =
        mx_round64(mx_matrix_bytes((size_t)c->vocab, (size_t)c->d_model, c->emb_wtype));
    size_t n = emb + (size_t)c->n_layers * tf_layer_bytes(c) +
               mx_round64((size_t)c->d_model * sizeof(float));
    if (!c->tied_embeddings)
        n += emb;
    return n;
}

void tf_layer_carve(const model_config *c, char **at, tf_layer_weights *L)
{
    size_t d = (size_t)c->d_model, qd = (size_t)c->n_heads * c->head_dim,
           kvd = (size_t)c->n_kv_heads * c->head_dim, f = (size_t)c->ffn_dim;
    op_wtype wt = c->wtype;
    L->attn_norm = mx_take(at, d * sizeof(float));
    L->wq = mx_take(at, mx_matrix_bytes(qd, d, wt));
    L->wk = mx_take(at, mx_matrix_bytes(kvd, d, wt));
    L->wv = mx_take(at, mx_matrix_bytes(kvd, d, wt));
    if (c->qkv_bias) {
        L->bq = mx_take(at, qd * sizeof(float));
        L->bk = mx_take(at, kvd * sizeof(float));
        L->bv = mx_take(at, kvd * sizeof(float));
    }
    L->wo = mx_take(at, mx_matrix_bytes(d, qd, wt));
    L->ffn_norm = mx_take(at, d * sizeof(float));
    L->w_gate = mx_take(at, mx_matrix_bytes(f, d, wt));
    L->w_up = mx_take(at, mx_matrix_bytes(f, d, wt));
    L->w_down = mx_take(at, mx_matrix_bytes(d, f, wt));
}

int tf_weights_alloc(const model_config *c, tf_weights *w, cb_err *err)
{
    memset(w, 0, sizeof *w);
    if (model_config_check(c, err) != 0)
        return -1;
    if (c->arch != MODEL_ARCH_TRANSFORMER)
        return cb_fail(err, "transformer weights: arch = %d is not a Transformer", (int)c->arch);
    char *block = mx_weights_block(tf_weight_bytes(c), "transformer", err);
    if (!block)
        return -1;
    tf_layer_weights *layers = calloc((size_t)c->n_layers, sizeof *layers);
    if (!layers) {
        free(block);
        return cb_fail(err, "transformer weights: out of memory");
    }
    size_t emb = mx_matrix_bytes((size_t)c->vocab, (size_t)c->d_model, c->emb_wtype);
    char *at = block;
    w->tok_emb = mx_take(&at, emb);
    for (int l = 0; l < c->n_layers; l++)
        tf_layer_carve(c, &at, &layers[l]);
    w->final_norm = mx_take(&at, (size_t)c->d_model * sizeof(float));
    w->lm_head = c->tied_embeddings ? w->tok_emb : mx_take(&at, emb);
    w->layers = layers;
    w->owner = block;
    w->release = free;
    return 0;
}

void tf_weights_free(tf_weights *w)
{
    if (!w)
        return;
    if (w->release)
        w->release(w->owner);
    free(w->layers);
    memset(w, 0, sizeof *w);
}

/* ---- breakdown ------------------------------------------------------------------------ */

void tf_breakdown_clear(tf_model *m) { memset(&m->bd, 0, sizeof m->bd); }

/* The breakdown to time into, or NULL when timing is off. */
static mx_breakdown *bd_of(tf_model *m) { return m->timing ? &m->bd : NULL; }

/* One step of the forward pass, timed into class cls (models/exec.h). */
static int step(tf_model *m, pool *p, const pool_part *part, mx_op_class cls, pool_fn fn,
                void *ctx, cb_err *err)
{
    return mx_step(bd_of(m), cls, p, part, fn, ctx, err);
}

/* ---- worker functions (one per kind of step) -----------------------------------------
 * RMSNorm, projections and transposes are models/exec.h's mx_*_job. */

/* RoPE of heads laid out (heads, L, D) (prefill: one call per head, split over
 * positions) or (L = 1, heads, D) (decode: one call). */
typedef struct rope_job {
    float *q, *k;          /* (H, L, D), (Hkv, L, D); or (H, D), (Hkv, D) when L == 1 */
    const float *cos_t, *sin_t; /* (L, D/2) */
    int H, Hkv, L, D;
} rope_job;

static void rope_worker(void *ctx, int worker, int n_workers)
{
    rope_job *j = ctx;
    if (j->L == 1) {
        op_rope_part(j->q, j->q, 1, j->H, j->D, j->cos_t, j->sin_t, worker, n_workers);
        op_rope_part(j->k, j->k, 1, j->Hkv, j->D, j->cos_t, j->sin_t, worker, n_workers);
        return;
    }
    size_t hs = (size_t)j->L * j->D;
    for (int h = 0; h < j->H; h++)
        op_rope_part(j->q + h * hs, j->q + h * hs, j->L, 1, j->D, j->cos_t, j->sin_t, worker,
                     n_workers);
    for (int h = 0; h < j->Hkv; h++)
        op_rope_part(j->k + h * hs, j->k + h * hs, j->L, 1, j->D, j->cos_t, j->sin_t, worker,
                     n_workers);
}

/* Copy of prefill K and V (Hkv, n, D) into a layer's cache (Hkv, cap, D). */
typedef struct kvcopy_job {
    const float *k, *v;
    float *kc, *vc;
    int Hkv, n, cap, D;
} kvcopy_job;

static void kvcopy_worker(void *ctx, int worker, int n_workers)
{
    kvcopy_job *j = ctx;
    int lo, hi;
    op_ew_rows(2 * j->Hkv, worker, n_workers, &lo, &hi);
    for (int u = lo; u < hi; u++) {
        int h = u % j->Hkv;
        const float *src = (u < j->Hkv ? j->k : j->v) + (size_t)h * j->n * j->D;
        float *dst = (u < j->Hkv ? j->kc : j->vc) + (size_t)h * j->cap * j->D;
        memcpy(dst, src, (size_t)j->n * j->D * sizeof(float));
    }
}

/* Flash prefill over positions 0..L-1. */
typedef struct flash_job {
    const float *q, *k, *v;
    float *o;
    int H, Hkv, L, D;
    void *scratch;
} flash_job;

static void flash_worker(void *ctx, int worker, int n_workers)
{
    flash_job *j = ctx;
    op_attn_flash_part(j->q, j->k, j->v, j->o, j->H, j->Hkv, j->L, j->D, j->scratch, worker,
                       n_workers);
}

/* Decode attention, one kernel call per KV head (the kernel's caches have a
 * head stride of L + 1 rows; ours have max_context, so each KV head is given
 * to it as a single-head cache with its G = H / Hkv query heads). */
typedef struct dec_job {
    const float *q, *k, *v; /* (H, D), (Hkv, D), (Hkv, D) */
    float *kc, *vc;         /* (Hkv, cap, D) */
    float *o;               /* (H, D) */
    int G, Hkv, pos, cap, D;
    char *scratch;          /* Hkv regions of region bytes */
    size_t region;
} dec_job;

static void dec_worker(void *ctx, int worker, int n_workers)
{
    dec_job *j = ctx;
    size_t gd = (size_t)j->G * j->D;
    for (int h = 0; h < j->Hkv; h++)
        op_attn_decode_part(j->q + h * gd, j->kc + (size_t)h * j->cap * j->D,
                            j->vc + (size_t)h * j->cap * j->D, j->k + (size_t)h * j->D,
                            j->v + (size_t)h * j->D, j->o + h * gd, j->G, 1, j->pos, j->D,
                            j->scratch + (size_t)h * j->region, worker, n_workers);
}

/* SwiGLU: g = silu(g) * u over (rows, cols), split over rows. */
typedef struct swiglu_job {
    float *g;
    const float *u;
    int rows, cols;
} swiglu_job;

static void swiglu_worker(void *ctx, int worker, int n_workers)
{
    swiglu_job *j = ctx;
    op_silu_part(j->g, j->g, j->rows, j->cols, worker, n_workers);
    int lo, hi;
    op_ew_rows(j->rows, worker, n_workers, &lo, &hi);
    for (size_t i = (size_t)lo * j->cols; i < (size_t)hi * j->cols; i++)
        j->g[i] *= j->u[i];
}

/* ---- model ---------------------------------------------------------------------------- */

/* Makes the kernel scratch at least bytes long.  Returns 0, or -1 with err. */
static int ensure_scratch(tf_model *m, size_t bytes, cb_err *err)
{
    return mx_scratch_reserve(&m->s->kscr, &m->s->kscr_bytes, bytes, "transformer", err);
}

static void state_free(tf_state *s)
{
    if (!s)
        return;
    free(s->k_cache);
    free(s->v_cache);
    float **bufs[] = {&s->x,  &s->xb, &s->xt, &s->qt, &s->q,     &s->o,     &s->kt,
                      &s->vt, &s->k,  &s->v,  &s->gt, &s->ut,    &s->yt,    &s->cos_t,
                      &s->sin_t, &s->inv_freq};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        free(*bufs[i]);
    free(s->kscr);
    free(s);
}

int tf_create(const model_config *cfg, tf_weights *w, int max_prefill, tf_model **out,
              cb_err *err)
{
    *out = NULL;
    if (model_config_check(cfg, err) != 0)
        return -1;
    if (cfg->arch != MODEL_ARCH_TRANSFORMER)
        return cb_fail(err, "transformer: arch = %d is not a Transformer", (int)cfg->arch);
    if (max_prefill < 1 || max_prefill > cfg->max_context)
        return cb_fail(err, "transformer: max_prefill = %d must be in 1..max_context (%d)",
                       max_prefill, cfg->max_context);
    if (!w || !w->tok_emb || !w->layers || !w->final_norm || !w->lm_head)
        return cb_fail(err, "transformer: weights are missing a tensor");
    for (int l = 0; l < cfg->n_layers; l++) {
        const tf_layer_weights *L = &w->layers[l];
        if (!L->attn_norm || !L->wq || !L->wk || !L->wv || !L->wo || !L->ffn_norm ||
            !L->w_gate || !L->w_up || !L->w_down ||
            (cfg->qkv_bias && (!L->bq || !L->bk || !L->bv)))
            return cb_fail(err, "transformer: weights of layer %d are missing a tensor", l);
    }
    tf_model *m = calloc(1, sizeof *m);
    tf_state *s = calloc(1, sizeof *s);
    if (!m || !s)
        goto oom;
    m->s = s;
    size_t N = (size_t)max_prefill, d = (size_t)cfg->d_model, D = (size_t)cfg->head_dim,
           qd = (size_t)cfg->n_heads * D, kvd = (size_t)cfg->n_kv_heads * D,
           f = (size_t)cfg->ffn_dim;
    size_t cache = (size_t)cfg->n_layers * kvd * (size_t)cfg->max_context;
    s->k_cache = malloc(cache * sizeof(float));
    s->v_cache = malloc(cache * sizeof(float));
    struct {
        float **p;
        size_t n;
    } bufs[] = {{&s->x, N * d},     {&s->xb, N * d},     {&s->xt, N * (d > qd ? d : qd)},
                {&s->qt, N * qd},   {&s->q, N * qd},     {&s->o, N * qd},
                {&s->kt, N * kvd},  {&s->vt, N * kvd},   {&s->k, N * kvd},
                {&s->v, N * kvd},   {&s->gt, N * f},     {&s->ut, N * f},
                {&s->yt, N * d},    {&s->cos_t, N * D / 2}, {&s->sin_t, N * D / 2},
                {&s->inv_freq, D / 2}};
    if (!s->k_cache || !s->v_cache)
        goto oom;
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) {
        if (posix_memalign((void **)bufs[i].p, 64, mx_round64(bufs[i].n * sizeof(float))) != 0) {
            *bufs[i].p = NULL;
            goto oom;
        }
        s->act_bytes += mx_round64(bufs[i].n * sizeof(float));
    }
    op_rope_scaling sc = {OP_ROPE_LLAMA3, cfg->rope_factor, cfg->rope_low_freq_factor,
                          cfg->rope_high_freq_factor, cfg->rope_original_max_pos};
    if (op_rope_inv_freq(cfg->rope_theta, cfg->head_dim, cfg->rope_llama3 ? &sc : NULL,
                         s->inv_freq) != 0) {
        state_free(s);
        free(m);
        return cb_fail(err, "transformer: RoPE parameters refused by op_rope_inv_freq");
    }
    m->cfg = *cfg;
    m->w = *w;
    memset(w, 0, sizeof *w);
    m->max_prefill = max_prefill;
    *out = m;
    return 0;
oom:
    state_free(s);
    free(m);
    return cb_fail(err, "transformer: out of memory for the KV cache and scratch "
                        "(max_context %d, max_prefill %d)",
                   cfg->max_context, max_prefill);
}

void tf_free(tf_model *m)
{
    if (!m)
        return;
    state_free(m->s);
    tf_weights_free(&m->w);
    free(m);
}

void tf_reset(tf_model *m) { m->n_pos = 0; }

tf_memory tf_memory_use(const tf_model *m)
{
    tf_memory r;
    const model_config *c = &m->cfg;
    r.weights = tf_weight_bytes(c);
    r.kv_cache = 2 * (size_t)c->n_layers * c->n_kv_heads * c->head_dim * (size_t)c->max_context *
                 sizeof(float);
    r.scratch = m->s->act_bytes + m->s->kscr_bytes;
    r.total = r.weights + r.kv_cache + r.scratch;
    return r;
}

static int check_token(const tf_model *m, int t, int i, cb_err *err)
{
    if (t < 0 || t >= m->cfg.vocab)
        return cb_fail(err, "transformer: token %d at position %d is outside 0..%d", t, i,
                       m->cfg.vocab - 1);
    return 0;
}

/* ---- prefill -------------------------------------------------------------------------- */

int tf_layers_prefill_begin(tf_model *m, int n, int n_workers, cb_err *err)
{
    const model_config *c = &m->cfg;
    tf_state *s = m->s;
    int d = c->d_model, D = c->head_dim, F = c->ffn_dim;
    int qd = c->n_heads * D, kvd = c->n_kv_heads * D;
    if (n < 1 || n > m->max_prefill)
        return cb_fail(err, "transformer: prefill of %d tokens (must be 1..%d)", n,
                       m->max_prefill);
    /* Kernel scratch: three GEMM regions (one per product of a step) or the
     * flash tiles, whichever is larger. */
    size_t region = 0;
    int shapes[][2] = {{qd, d}, {kvd, d}, {d, qd}, {F, d}, {d, F}};
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        size_t b = mx_round64(op_gemm_scratch_bytes(shapes[i][0], n, shapes[i][1], n_workers));
        region = b > region ? b : region;
    }
    size_t need = 3 * region, fl = op_attn_flash_scratch_bytes(D, n_workers);
    if (ensure_scratch(m, need > fl ? need : fl, err) != 0)
        return -1;
    s->region = region;
    /* RoPE tables for positions 0..n-1. */
    op_rope_tables(s->inv_freq, 0, n, D, s->cos_t, s->sin_t);
    return 0;
}

int tf_layer_prefill(tf_model *m, pool *p, const pool_part *part, int l, float *x, int n,
                     cb_err *err)
{
    const model_config *c = &m->cfg;
    tf_state *s = m->s;
    const tf_layer_weights *L = &m->w.layers[l];
    int d = c->d_model, H = c->n_heads, Hkv = c->n_kv_heads, D = c->head_dim, F = c->ffn_dim;
    int qd = H * D, kvd = Hkv * D;
    size_t cap = (size_t)c->max_context, region = s->region;
    op_wtype wt = c->wtype;
    float *kc = s->k_cache + (size_t)l * kvd * cap, *vc = s->v_cache + (size_t)l * kvd * cap;

    /* Attention RMSNorm: xb = rmsnorm(x) * attn_norm. */
    mx_norm_job nj = {x, L->attn_norm, s->xb, n, d, c->rms_eps};
    if (step(m, p, part, MX_OP_NORM, mx_norm_worker, &nj, err))
        return -1;
    /* Transpose for the GEMM: xt (d, n) = xb^T. */
    mx_transp_job tj = {{{s->xb, s->xt, 1, n, d, 0, 0, 0}}, 1};
    if (step(m, p, part, MX_OP_OTHER, mx_transp_worker, &tj, err))
        return -1;
    /* QKV projections (+ biases): qt = Wq xt + bq, kt = Wk xt + bk, vt = Wv xt + bv. */
    mx_proj_job pj = {{{L->wq, L->bq, s->xt, s->qt, qd, d},
                       {L->wk, L->bk, s->xt, s->kt, kvd, d},
                       {L->wv, L->bv, s->xt, s->vt, kvd, d}},
                      3, n, s->kscr, region, wt};
    if (step(m, p, part, MX_OP_GEMM, mx_proj_worker, &pj, err))
        return -1;
    /* Head-major: q (H, n, D) from qt (H, D, n); k, v (Hkv, n, D) likewise. */
    size_t hs = (size_t)n * D;
    mx_transp_job hj = {{{s->qt, s->q, H, D, n, hs, hs, 0},
                         {s->kt, s->k, Hkv, D, n, hs, hs, 0},
                         {s->vt, s->v, Hkv, D, n, hs, hs, 0}},
                        3};
    if (step(m, p, part, MX_OP_OTHER, mx_transp_worker, &hj, err))
        return -1;
    /* RoPE on q and k at positions 0..n-1. */
    rope_job rj = {s->q, s->k, s->cos_t, s->sin_t, H, Hkv, n, D};
    if (step(m, p, part, MX_OP_ELEMWISE, rope_worker, &rj, err))
        return -1;
    /* Write K and V into the cache, positions 0..n-1. */
    kvcopy_job cj = {s->k, s->v, kc, vc, Hkv, n, (int)cap, D};
    if (step(m, p, part, MX_OP_OTHER, kvcopy_worker, &cj, err))
        return -1;
    /* Causal attention (flash): o (H, n, D). */
    flash_job fj = {s->q, s->k, s->v, s->o, H, Hkv, n, D, s->kscr};
    if (step(m, p, part, MX_OP_ATTN, flash_worker, &fj, err))
        return -1;
    /* Transpose for the GEMM: xt (H*D, n) = o as (n, D) per head, transposed. */
    mx_transp_job oj = {{{s->o, s->xt, H, n, D, hs, hs, 0}}, 1};
    if (step(m, p, part, MX_OP_OTHER, mx_transp_worker, &oj, err))
        return -1;
    /* Output projection: yt (d, n) = Wo xt. */
    mx_proj_job wj = {{{L->wo, NULL, s->xt, s->yt, d, qd}}, 1, n, s->kscr, region, wt};
    if (step(m, p, part, MX_OP_GEMM, mx_proj_worker, &wj, err))
        return -1;
    /* Residual: x += yt^T. */
    mx_transp_job rsj = {{{s->yt, x, 1, d, n, 0, 0, 1}}, 1};
    if (step(m, p, part, MX_OP_OTHER, mx_transp_worker, &rsj, err))
        return -1;
    /* MLP RMSNorm: xb = rmsnorm(x) * ffn_norm, and xt = xb^T. */
    mx_norm_job fnj = {x, L->ffn_norm, s->xb, n, d, c->rms_eps};
    if (step(m, p, part, MX_OP_NORM, mx_norm_worker, &fnj, err))
        return -1;
    if (step(m, p, part, MX_OP_OTHER, mx_transp_worker, &tj, err))
        return -1;
    /* Gate and up projections: gt = Wg xt, ut = Wu xt (ffn, n). */
    mx_proj_job gj = {{{L->w_gate, NULL, s->xt, s->gt, F, d}, {L->w_up, NULL, s->xt, s->ut, F, d}},
                      2, n, s->kscr, region, wt};
    if (step(m, p, part, MX_OP_GEMM, mx_proj_worker, &gj, err))
        return -1;
    /* SwiGLU: gt = silu(gt) * ut. */
    swiglu_job sj = {s->gt, s->ut, F, n};
    if (step(m, p, part, MX_OP_ELEMWISE, swiglu_worker, &sj, err))
        return -1;
    /* Down projection: yt (d, n) = Wd gt. */
    mx_proj_job dj = {{{L->w_down, NULL, s->gt, s->yt, d, F}}, 1, n, s->kscr, region, wt};
    if (step(m, p, part, MX_OP_GEMM, mx_proj_worker, &dj, err))
        return -1;
    /* Residual: x += yt^T. */
    return step(m, p, part, MX_OP_OTHER, mx_transp_worker, &rsj, err);
}

/* Final RMSNorm and LM head of x (n, d): logits of the last position and,
 * when logits_all is not NULL, of every position. */
static int lm_head(tf_model *m, pool *p, const pool_part *part, const float *x, int n,
                   float *logits, float *logits_all, cb_err *err)
{
    const model_config *c = &m->cfg;
    tf_state *s = m->s;
    int d = c->d_model, first = logits_all ? 0 : n - 1;
    mx_norm_job nj = {x + (size_t)first * d, m->w.final_norm, s->xb + (size_t)first * d,
                      n - first, d, c->rms_eps};
    if (step(m, p, n - first > 1 ? part : NULL, MX_OP_NORM, mx_norm_worker, &nj, err))
        return -1;
    for (int i = first; i < n; i++) {
        float *dst = i == n - 1 && logits ? logits
                     : logits_all        ? logits_all + (size_t)i * c->vocab
                                         : NULL;
        if (!dst)
            continue;
        mx_proj_job lj = {{{m->w.lm_head, NULL, s->xb + (size_t)i * d, dst, c->vocab, d}},
                          1, 0, NULL, 0, c->emb_wtype};
        if (step(m, p, part, MX_OP_GEMM, mx_proj_worker, &lj, err))
            return -1;
    }
    if (logits_all && logits)
        memcpy(logits_all + (size_t)(n - 1) * c->vocab, logits, (size_t)c->vocab * sizeof(float));
    return 0;
}

int tf_prefill(tf_model *m, pool *p, const pool_part *part, const int *tokens, int n,
               float *logits, float *logits_all, cb_err *err)
{
    const model_config *c = &m->cfg;
    tf_state *s = m->s;
    m->n_pos = 0;
    if (tf_layers_prefill_begin(m, n, part->n, err) != 0)
        return -1;
    for (int i = 0; i < n; i++)
        if (check_token(m, tokens[i], i, err) != 0)
            return -1;
    /* Embedding lookup: x[i] = tok_emb[tokens[i]]. */
    int64_t t0 = mx_start(bd_of(m));
    mx_embed(m->w.tok_emb, c->emb_wtype, tokens, n, c->d_model, s->x);
    mx_account(bd_of(m), MX_OP_OTHER, t0);
    for (int l = 0; l < c->n_layers; l++)
        if (tf_layer_prefill(m, p, part, l, s->x, n, err) != 0)
            return -1;
    if (lm_head(m, p, part, s->x, n, logits, logits_all, err) != 0)
        return -1;
    m->n_pos = n;
    return 0;
}

/* ---- decode --------------------------------------------------------------------------- */

int tf_layers_decode_begin(tf_model *m, int pos, int n_workers, cb_err *err)
{
    const model_config *c = &m->cfg;
    int H = c->n_heads, Hkv = c->n_kv_heads, D = c->head_dim;
    if (pos < 0 || pos >= c->max_context)
        return cb_fail(err, "transformer: decode at position %d (capacity %d)", pos,
                       c->max_context);
    size_t region = mx_round64(op_attn_decode_scratch_bytes(H / Hkv, 1, D, n_workers));
    if (ensure_scratch(m, (size_t)Hkv * region, err) != 0)
        return -1;
    m->s->region = region;
    /* RoPE table of position pos. */
    op_rope_tables(m->s->inv_freq, pos, 1, D, m->s->cos_t, m->s->sin_t);
    return 0;
}

/* x += y over d elements, timed as "other". */
static void residual_add(tf_model *m, float *x, const float *y, int d)
{
    int64_t t0 = mx_start(bd_of(m));
    for (int i = 0; i < d; i++)
        x[i] += y[i];
    mx_account(bd_of(m), MX_OP_OTHER, t0);
}

int tf_layer_decode(tf_model *m, pool *p, const pool_part *part, int l, float *x, int pos,
                    cb_err *err)
{
    const model_config *c = &m->cfg;
    tf_state *s = m->s;
    const tf_layer_weights *L = &m->w.layers[l];
    int d = c->d_model, H = c->n_heads, Hkv = c->n_kv_heads, D = c->head_dim, F = c->ffn_dim;
    int qd = H * D, kvd = Hkv * D, nw = part->n;
    size_t cap = (size_t)c->max_context, region = s->region;
    op_wtype wt = c->wtype;
    float *kc = s->k_cache + (size_t)l * kvd * cap, *vc = s->v_cache + (size_t)l * kvd * cap;

    /* Attention RMSNorm (one row, inline): xb = rmsnorm(x) * attn_norm. */
    mx_norm_job nj = {x, L->attn_norm, s->xb, 1, d, c->rms_eps};
    step(m, p, NULL, MX_OP_NORM, mx_norm_worker, &nj, err);
    /* QKV projections (GEMV) + biases: q (H, D), k, v (Hkv, D). */
    mx_proj_job pj = {{{L->wq, L->bq, s->xb, s->q, qd, d},
                       {L->wk, L->bk, s->xb, s->k, kvd, d},
                       {L->wv, L->bv, s->xb, s->v, kvd, d}},
                      3, 0, NULL, 0, wt};
    if (step(m, p, part, MX_OP_GEMM, mx_proj_worker, &pj, err))
        return -1;
    /* RoPE on q and k at position pos (inline). */
    rope_job rj = {s->q, s->k, s->cos_t, s->sin_t, H, Hkv, 1, D};
    step(m, p, NULL, MX_OP_ELEMWISE, rope_worker, &rj, err);
    /* Attention over the cache: writes k, v into slot pos, o (H, D);
     * then the merge of KV heads split between workers. */
    dec_job aj = {s->q, s->k, s->v, kc, vc, s->o, H / Hkv, Hkv, pos, (int)cap, D, s->kscr, region};
    if (step(m, p, part, MX_OP_ATTN, dec_worker, &aj, err))
        return -1;
    if (op_attn_decode_needs_merge(1, nw)) {
        int64_t t0 = mx_start(bd_of(m));
        for (int h = 0; h < Hkv; h++)
            op_attn_decode_merge(s->o + (size_t)h * (H / Hkv) * D, H / Hkv, 1, pos, D,
                                 (char *)s->kscr + (size_t)h * region, nw);
        mx_account(bd_of(m), MX_OP_ATTN, t0);
    }
    /* Output projection: y = Wo o (d); residual x += y. */
    mx_proj_job wj = {{{L->wo, NULL, s->o, s->yt, d, qd}}, 1, 0, NULL, 0, wt};
    if (step(m, p, part, MX_OP_GEMM, mx_proj_worker, &wj, err))
        return -1;
    residual_add(m, x, s->yt, d);
    /* MLP RMSNorm (inline): xb = rmsnorm(x) * ffn_norm. */
    mx_norm_job fnj = {x, L->ffn_norm, s->xb, 1, d, c->rms_eps};
    step(m, p, NULL, MX_OP_NORM, mx_norm_worker, &fnj, err);
    /* Gate and up projections: g = Wg xb, u = Wu xb (ffn). */
    mx_proj_job gj = {{{L->w_gate, NULL, s->xb, s->gt, F, d}, {L->w_up, NULL, s->xb, s->ut, F, d}},
                      2, 0, NULL, 0, wt};
    if (step(m, p, part, MX_OP_GEMM, mx_proj_worker, &gj, err))
        return -1;
    /* SwiGLU (inline): g = silu(g) * u. */
    swiglu_job sj = {s->gt, s->ut, 1, F};
    step(m, p, NULL, MX_OP_ELEMWISE, swiglu_worker, &sj, err);
    /* Down projection: y = Wd g (d); residual x += y. */
    mx_proj_job dj = {{{L->w_down, NULL, s->gt, s->yt, d, F}}, 1, 0, NULL, 0, wt};
    if (step(m, p, part, MX_OP_GEMM, mx_proj_worker, &dj, err))
        return -1;
    residual_add(m, x, s->yt, d);
    return 0;
}

int tf_decode(tf_model *m, pool *p, const pool_part *part, int token, int pos, float *logits,
              cb_err *err)
{
    const model_config *c = &m->cfg;
    tf_state *s = m->s;
    if (pos < 0 || pos > m->n_pos || pos >= c->max_context)
        return cb_fail(err, "transformer: decode at position %d (cache holds %d of %d)", pos,
                       m->n_pos, c->max_context);
    if (check_token(m, token, pos, err) != 0)
        return -1;
    m->n_pos = pos; /* positions after pos are dropped; pos itself is written below */
    if (tf_layers_decode_begin(m, pos, part->n, err) != 0)
        return -1;
    /* Embedding lookup: x = tok_emb[token]. */
    int64_t t0 = mx_start(bd_of(m));
    mx_embed(m->w.tok_emb, c->emb_wtype, &token, 1, c->d_model, s->x);
    mx_account(bd_of(m), MX_OP_OTHER, t0);
    for (int l = 0; l < c->n_layers; l++)
        if (tf_layer_decode(m, p, part, l, s->x, pos, err) != 0)
            return -1;
    if (lm_head(m, p, part, s->x, 1, logits, NULL, err) != 0)
        return -1;
    m->n_pos = pos + 1;
    return 0;
}

/* ---- reference forward ---------------------------------------------------------------- */

/* dst (heads, n, D) <- src (n, heads, D), or back when back. */
static void ref_heads(float *pm, float *hm, int n, int heads, int D, int back)
{
    for (int i = 0; i < n; i++)
        for (int h = 0; h < heads; h++) {
            float *a = pm + ((size_t)i * heads + h) * D, *b = hm + ((size_t)h * n + i) * D;
            if (back)
                memcpy(a, b, (size_t)D * sizeof(float));
            else
                memcpy(b, a, (size_t)D * sizeof(float));
        }
}

int tf_layer_ref(const tf_model *m, int l, float *x, int n, cb_err *err)
{
    const model_config *c = &m->cfg;
    const tf_layer_weights *L = &m->w.layers[l];
    int d = c->d_model, H = c->n_heads, Hkv = c->n_kv_heads, D = c->head_dim, F = c->ffn_dim;
    int qd = H * D, kvd = Hkv * D, rc = -1;
    op_wtype wt = c->wtype;
    size_t N = (size_t)n;
    float *xb = malloc(N * d * sizeof(float)), *q = malloc(N * qd * sizeof(float)),
          *k = malloc(N * kvd * sizeof(float)), *v = malloc(N * kvd * sizeof(float)),
          *qh = malloc(N * qd * sizeof(float)), *kh = malloc(N * kvd * sizeof(float)),
          *vh = malloc(N * kvd * sizeof(float)), *oh = malloc(N * qd * sizeof(float)),
          *y = malloc(N * d * sizeof(float)), *g = malloc(N * F * sizeof(float)),
          *u = malloc(N * F * sizeof(float));
    if (!xb || !q || !k || !v || !qh || !kh || !vh || !oh || !y || !g || !u) {
        cb_fail(err, "transformer reference: out of memory");
        goto out;
    }
    /* RMSNorm, QKV projections and biases, position-major (n, heads, D). */
    op_rmsnorm_ref(x, L->attn_norm, xb, n, d, c->rms_eps);
    mx_ref_linear(L->wq, wt, L->bq, xb, q, n, qd, d);
    mx_ref_linear(L->wk, wt, L->bk, xb, k, n, kvd, d);
    mx_ref_linear(L->wv, wt, L->bv, xb, v, n, kvd, d);
    /* RoPE at positions 0..n-1. */
    op_rope_ref(q, q, n, H, D, m->s->inv_freq, 0);
    op_rope_ref(k, k, n, Hkv, D, m->s->inv_freq, 0);
    /* Causal attention on head-major copies. */
    ref_heads(q, qh, n, H, D, 0);
    ref_heads(k, kh, n, Hkv, D, 0);
    ref_heads(v, vh, n, Hkv, D, 0);
    op_attn_ref(qh, kh, vh, oh, H, Hkv, n, D);
    ref_heads(q, oh, n, H, D, 1); /* q now holds o (n, H*D) */
    /* Output projection and residual. */
    mx_ref_linear(L->wo, wt, NULL, q, y, n, d, qd);
    for (size_t i = 0; i < N * d; i++)
        x[i] += y[i];
    /* RMSNorm, SwiGLU MLP, residual. */
    op_rmsnorm_ref(x, L->ffn_norm, xb, n, d, c->rms_eps);
    mx_ref_linear(L->w_gate, wt, NULL, xb, g, n, F, d);
    mx_ref_linear(L->w_up, wt, NULL, xb, u, n, F, d);
    op_silu_ref(g, g, n, F);
    for (size_t i = 0; i < N * F; i++)
        g[i] *= u[i];
    mx_ref_linear(L->w_down, wt, NULL, g, y, n, d, F);
    for (size_t i = 0; i < N * d; i++)
        x[i] += y[i];
    rc = 0;
out:
    free(xb), free(q), free(k), free(v), free(qh), free(kh), free(vh), free(oh);
    free(y), free(g), free(u);
    return rc;
}

int tf_forward_ref(const tf_model *m, const int *tokens, int n, float *logits_all,
                   double *layer_rms, cb_err *err)
{
    const model_config *c = &m->cfg;
    const tf_weights *w = &m->w;
    int d = c->d_model, rc = -1;
    if (n < 1 || n > c->max_context)
        return cb_fail(err, "transformer reference: %d tokens (must be 1..%d)", n, c->max_context);
    for (int i = 0; i < n; i++)
        if (check_token(m, tokens[i], i, err) != 0)
            return -1;
    size_t N = (size_t)n;
    float *x = malloc(N * d * sizeof(float)), *xb = malloc(N * d * sizeof(float));
    if (!x || !xb) {
        cb_fail(err, "transformer reference: out of memory");
        goto out;
    }
    mx_embed(w->tok_emb, c->emb_wtype, tokens, n, d, x);
    if (layer_rms)
        layer_rms[0] = mx_rms(x, N * d);
    for (int l = 0; l < c->n_layers; l++) {
        if (tf_layer_ref(m, l, x, n, err) != 0)
            goto out;
        if (layer_rms)
            layer_rms[l + 1] = mx_rms(x, N * d);
    }
    /* Final RMSNorm and LM head at every position. */
    op_rmsnorm_ref(x, w->final_norm, xb, n, d, c->rms_eps);
    mx_ref_linear(w->lm_head, c->emb_wtype, NULL, xb, logits_all, n, c->vocab, d);
    rc = 0;
out:
    free(x), free(xb);
    return rc;
}
