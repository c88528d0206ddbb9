/* models/mamba2.c — the Mamba-2 language model and the hybrid stack
 * (models/mamba2.h): weights allocation, the recurrent state and scratch,
 * the prefill and decode forward passes on a pool, and the single-threaded
 * reference forward.
 *
 * Each forward pass is a list of commented steps; each step is one pool_run
 * of a worker function below (or, for the cheap one-row steps of decode, the
 * same function called inline on the caller's thread), timed into the
 * breakdown when m->timing is set.  A hybrid's attention blocks run through
 * the Transformer's layer-level entry points on an internal tf_model whose
 * layers are the hybrid's 'A' layers (the weights stay the hybrid's: the
 * sub-model owns only its layer array, its KV cache and its scratch).
 *
 * Prefill activation layouts (P = max_prefill, n = tokens of the pass,
 * di = d_inner = H hp, dc = di + 2N conv channels, nin = di + dc + H in_proj
 * rows):
 *   x, xb    (n, d)     residual stream and its RMSNorm
 *   xt       (max(d, di), n)  transposed GEMM input (B of the GEMM)
 *   projt    (nin, n)   in_proj output, transposed: z rows, xBC rows, dt rows
 *   z        (n, di)    gate
 *   xbc, xc  (n, dc)    conv input and output
 *   dt       (n, H)     raw dt (dt_bias and softplus are the SSD's)
 *   xs       (n, di)    SiLU'd x as (n, H, hp), the SSD's x
 *   Bm, Cm   (n, N)     SiLU'd B and C
 *   y        (n, di)    SSD output, then gated in place
 *   yn       (n, di)    gated RMSNorm output
 *   ot       (d, n)     out_proj output, transposed
 * Decode uses row 0 of the same buffers: projt as (nin) = (z, xBC, dt).
 *
 * Never: print, exit, start threads; no allocation inside a forward pass
 * except growing the kernel scratch when a wider partition first runs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "models/exec.h"
#include "models/mamba2.h"
#include "operators/conv1d.h"
#include "operators/elementwise.h"
#include "operators/gemm.h"
#include "operators/lowp.h"
#include "operators/ssd.h"
#include "util/clock.h"

#define KW OP_CONV1D_WIDTH /* conv width; the state keeps KW - 1 inputs */

/* The shapes every function below derives from the config. */
typedef struct dims {
    int d, di, N, hp, H, dc, nin;
} dims;

static dims dims_of(const model_config *c)
{
    dims s;
    s.d = c->d_model;
    s.di = c->expand * c->d_model;
    s.N = c->d_state;
    s.hp = c->ssm_head_dim;
    s.H = s.di / s.hp;
    s.dc = s.di + 2 * s.N;
    s.nin = s.di + s.dc + s.H;
    return s;
}

struct m2_state {
    float *conv_state;     /* (n_ssm, dc, KW - 1) */
    float *ssm_state;      /* (n_ssm, H, N, hp) */
    float *x, *xb;         /* (P, d) */
    float *xt;             /* (max(d, di), P) */
    float *projt;          /* (nin, P) */
    float *z;              /* (P, di) */
    float *xbc, *xc;       /* (P, dc) */
    float *dt;             /* (P, H) */
    float *xs;             /* (P, di) */
    float *Bm, *Cm;        /* (P, N) */
    float *y, *yn;         /* (P, di) */
    float *ot;             /* (d, P) */
    size_t act_bytes;      /* the activation buffers above */
    void *kscr;            /* kernel scratch (gemm, conv, SSD), grown on demand */
    size_t kscr_bytes;
    int n_ssm;             /* Mamba-2 layers */
    int slot[MODEL_MAX_LAYERS]; /* layer l's index among the layers of its kind */
    tf_model *attn;        /* a hybrid's 'A' layers; NULL without any */
};

/* ---- weights -------------------------------------------------------------------------- */

int m2_is_ssm_layer(const model_config *c, int l)
{
    return c->arch != MODEL_ARCH_HYBRID || c->pattern[l] == 'M';
}

/* Takes a 64-byte-aligned region of bytes from *at. */
/* Points L's fields into *at (struct order) and advances it; with at NULL
 * only sums the bytes that would be taken. */
static size_t layer_carve(const model_config *c, char **at, m2_layer_weights *L)
{
    dims s = dims_of(c);
    size_t d = (size_t)s.d, di = (size_t)s.di, dc = (size_t)s.dc, H = (size_t)s.H,
           f4 = sizeof(float);
    op_wtype wt = c->wtype;
    size_t sizes[] = {d * f4,  mx_matrix_bytes((size_t)s.nin, d, wt), dc * KW * f4, dc * f4,
                      H * f4,  H * f4, H * f4, di * f4, mx_matrix_bytes(d, di, wt)};
    void **fields[] = {(void **)&L->norm,    &L->in_proj,        (void **)&L->conv_w,
                       (void **)&L->conv_b,  (void **)&L->dt_bias, (void **)&L->A_log,
                       (void **)&L->D,       (void **)&L->gnorm, &L->out_proj};
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        total += mx_round64(sizes[i]);
        if (at)
            *fields[i] = mx_take(at, sizes[i]);
    }
    return total;
}

size_t m2_weight_bytes(const model_config *c)
{
    m2_layer_weights unused;
    size_t emb =
        mx_round64(mx_matrix_bytes((size_t)c->vocab, (size_t)c->d_model, c->emb_wtype));
    size_t n = emb + mx_round64((size_t)c->d_model * sizeof(float));
    if (!c->tied_embeddings)
        n += emb;
    for (int l = 0; l < c->n_layers; l++)
        n += m2_is_ssm_layer(c, l) ? layer_carve(c, NULL, &unused) : tf_layer_bytes(c);
    return n;
}

static int check_arch(const model_config *c, const char *who, cb_err *err)
{
    if (model_config_check(c, err) != 0)
        return -1;
    if (c->arch != MODEL_ARCH_MAMBA2 && c->arch != MODEL_ARCH_HYBRID)
        return cb_fail(err, "%s: arch = %d is neither Mamba-2 nor hybrid", who, (int)c->arch);
    return 0;
}

int m2_weights_alloc(const model_config *c, m2_weights *w, cb_err *err)
{
    memset(w, 0, sizeof *w);
    if (check_arch(c, "mamba2 weights", err) != 0)
        return -1;
    char *block = mx_weights_block(m2_weight_bytes(c), "mamba2", err);
    if (!block)
        return -1;
    int hybrid = c->arch == MODEL_ARCH_HYBRID;
    m2_layer_weights *ssm = calloc((size_t)c->n_layers, sizeof *ssm);
    tf_layer_weights *attn = hybrid ? calloc((size_t)c->n_layers, sizeof *attn) : NULL;
    if (!ssm || (hybrid && !attn)) {
        free(block), free(ssm), free(attn);
        return cb_fail(err, "mamba2 weights: out of memory");
    }
    size_t emb = mx_matrix_bytes((size_t)c->vocab, (size_t)c->d_model, c->emb_wtype);
    char *at = block;
    w->tok_emb = mx_take(&at, emb);
    for (int l = 0; l < c->n_layers; l++) {
        if (m2_is_ssm_layer(c, l))
            layer_carve(c, &at, &ssm[l]);
        else
            tf_layer_carve(c, &at, &attn[l]);
    }
    w->final_norm = mx_take(&at, (size_t)c->d_model * sizeof(float));
    w->lm_head = c->tied_embeddings ? w->tok_emb : mx_take(&at, emb);
    w->ssm = ssm;
    w->attn = attn;
    w->owner = block;
    w->release = free;
    return 0;
}

void m2_weights_free(m2_weights *w)
{
    if (!w)
        return;
    if (w->release)
        w->release(w->owner);
    free(w->ssm);
    free(w->attn);
    memset(w, 0, sizeof *w);
}

/* Whether layer l's tensors are all present.  Returns 0, or -1 with err. */
static int check_layer_tensors(const model_config *c, const m2_weights *w, int l, cb_err *err)
{
    if (m2_is_ssm_layer(c, l)) {
        const m2_layer_weights *L = &w->ssm[l];
        if (L->norm && L->in_proj && L->conv_w && L->conv_b && L->dt_bias && L->A_log && L->D &&
            L->gnorm && L->out_proj)
            return 0;
    } else {
        const tf_layer_weights *L = &w->attn[l];
        if (L->attn_norm && L->wq && L->wk && L->wv && L->wo && L->ffn_norm && L->w_gate &&
            L->w_up && L->w_down && (!c->qkv_bias || (L->bq && L->bk && L->bv)))
            return 0;
    }
    return cb_fail(err, "mamba2: weights of layer %d (%s) are missing a tensor", l,
                   m2_is_ssm_layer(c, l) ? "Mamba-2" : "attention");
}

/* ---- breakdown ------------------------------------------------------------------------ */

void m2_breakdown_clear(m2_model *m) { memset(&m->bd, 0, sizeof m->bd); }

/* The breakdown to time into, or NULL when timing is off. */
static mx_breakdown *bd_of(m2_model *m) { return m->timing ? &m->bd : NULL; }

/* One step of the forward pass, timed into class cls (models/exec.h). */
static int step(m2_model *m, pool *p, const pool_part *part, mx_op_class cls, pool_fn fn,
                void *ctx, cb_err *err)
{
    return mx_step(bd_of(m), cls, p, part, fn, ctx, err);
}

/* Before a pass: the attention sub-model times when the hybrid does. */
static void sub_timing_begin(m2_model *m)
{
    if (m->s->attn) {
        m->s->attn->timing = m->timing;
        tf_breakdown_clear(m->s->attn);
    }
}

/* After a pass (done or failed): the sub-model's steps move into m->bd. */
static void sub_timing_end(m2_model *m)
{
    tf_model *sub = m->s->attn;
    if (!sub)
        return;
    for (int k = 0; k < MX_OP_N; k++) {
        m->bd.sec[k] += sub->bd.sec[k];
        m->bd.runs[k] += sub->bd.runs[k];
    }
    tf_breakdown_clear(sub);
}

/* ---- worker functions -----------------------------------------------------------------
 * RMSNorm, projections and transposes are models/exec.h's mx_*_job. */

/* SiLU of the conv output, split into the SSD's inputs: per row,
 * (xs, B, C) = silu(xc) over its (di, N, N) columns. */
typedef struct split_job {
    const float *xc; /* (n, di + 2N) */
    float *xs, *B, *C; /* (n, di), (n, N), (n, N) */
    int n, di, N;
} split_job;

static void split_worker(void *ctx, int worker, int n_workers)
{
    split_job *j = ctx;
    int lo, hi;
    op_ew_rows(j->n, worker, n_workers, &lo, &hi);
    size_t dc = (size_t)j->di + 2 * (size_t)j->N;
    for (int t = lo; t < hi; t++) {
        const float *row = j->xc + (size_t)t * dc;
        op_silu_part(row, j->xs + (size_t)t * j->di, 1, j->di, 0, 1);
        op_silu_part(row + j->di, j->B + (size_t)t * j->N, 1, j->N, 0, 1);
        op_silu_part(row + j->di + j->N, j->C + (size_t)t * j->N, 1, j->N, 0, 1);
    }
}

/* The SSD: chunked prefill over shape.L tokens from state0 (NULL: zeros),
 * or one decode step (is_step) with the state in place. */
typedef struct ssd_job {
    op_ssd_shape shape;
    op_ssd_in in;
    int q;
    const float *state0;
    float *y, *state;
    int is_step;
    void *scratch;
} ssd_job;

static void ssd_worker(void *ctx, int worker, int n_workers)
{
    ssd_job *j = ctx;
    if (j->is_step)
        op_ssd_step_part(&j->shape, &j->in, j->state, j->y, worker, n_workers);
    else
        op_ssd_chunked_part(&j->shape, &j->in, j->q, j->state0, j->y, j->state, j->scratch,
                            worker, n_workers);
}

/* The gate of the gated RMSNorm: z = silu(z), y *= z over (n, di) rows. */
typedef struct gate_job {
    float *y, *z; /* (n, di) */
    int n, di;
} gate_job;

static void gate_worker(void *ctx, int worker, int n_workers)
{
    gate_job *j = ctx;
    int lo, hi;
    op_ew_rows(j->n, worker, n_workers, &lo, &hi);
    size_t a = (size_t)lo * j->di, b = (size_t)hi * j->di;
    op_silu_part(j->z + a, j->z + a, hi - lo, j->di, 0, 1);
    for (size_t i = a; i < b; i++)
        j->y[i] *= j->z[i];
}

/* ---- model ---------------------------------------------------------------------------- */

/* Makes the kernel scratch at least bytes long.  Returns 0, or -1 with err. */
static int ensure_scratch(m2_model *m, size_t bytes, cb_err *err)
{
    return mx_scratch_reserve(&m->s->kscr, &m->s->kscr_bytes, bytes, "mamba2", err);
}

static void state_free(m2_state *s)
{
    if (!s)
        return;
    float **bufs[] = {&s->conv_state, &s->ssm_state, &s->x,  &s->xb, &s->xt,
                      &s->projt,      &s->z,         &s->xbc, &s->xc, &s->dt,
                      &s->xs,         &s->Bm,        &s->Cm, &s->y,  &s->yn, &s->ot};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        free(*bufs[i]);
    free(s->kscr);
    tf_free(s->attn);
    free(s);
}

/* Floats of one Mamba-2 layer's conv and SSM states. */
static size_t conv_floats(const model_config *c)
{
    return (size_t)dims_of(c).dc * (KW - 1);
}

static size_t ssm_floats(const model_config *c)
{
    dims s = dims_of(c);
    return (size_t)s.H * s.N * s.hp;
}

/* Allocates the recurrent state and the activation buffers of s.
 * Returns 0, or -1 (out of memory; the caller frees s). */
static int alloc_buffers(m2_state *s, const model_config *c, size_t P)
{
    dims k = dims_of(c);
    size_t d = (size_t)k.d, di = (size_t)k.di, dc = (size_t)k.dc, N = (size_t)k.N,
           ns = (size_t)s->n_ssm;
    struct {
        float **p;
        size_t n;
        int act; /* counted in act_bytes */
    } bufs[] = {{&s->conv_state, ns * conv_floats(c), 0},
                {&s->ssm_state, ns * ssm_floats(c), 0},
                {&s->x, P * d, 1},
                {&s->xb, P * d, 1},
                {&s->xt, P * (d > di ? d : di), 1},
                {&s->projt, P * (size_t)k.nin, 1},
                {&s->z, P * di, 1},
                {&s->xbc, P * dc, 1},
                {&s->xc, P * dc, 1},
                {&s->dt, P * (size_t)k.H, 1},
                {&s->xs, P * di, 1},
                {&s->Bm, P * N, 1},
                {&s->Cm, P * N, 1},
                {&s->y, P * di, 1},
                {&s->yn, P * di, 1},
                {&s->ot, P * d, 1}};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) {
        size_t b = mx_round64((bufs[i].n ? bufs[i].n : 1) * sizeof(float));
        if (posix_memalign((void **)bufs[i].p, 64, b) != 0) {
            *bufs[i].p = NULL;
            return -1;
        }
        if (bufs[i].act)
            s->act_bytes += b;
    }
    return 0;
}

/* The attention sub-model of a hybrid: a Transformer of its 'A' layers over
 * the hybrid's tensors (borrowed: owner and release NULL).  *out stays NULL
 * when there is no 'A' layer.  Returns 0, or -1 with err. */
static int create_attention(const model_config *c, const m2_weights *w, int max_prefill,
                            const int *slot, tf_model **out, cb_err *err)
{
    *out = NULL;
    int n_attn = 0;
    for (int l = 0; l < c->n_layers; l++)
        n_attn += !m2_is_ssm_layer(c, l);
    if (n_attn == 0)
        return 0;
    model_config sc = *c;
    sc.arch = MODEL_ARCH_TRANSFORMER;
    sc.n_layers = n_attn;
    sc.pattern[0] = '\0';
    tf_weights tw = {w->tok_emb, calloc((size_t)n_attn, sizeof(tf_layer_weights)),
                     w->final_norm, w->lm_head, NULL, NULL};
    if (!tw.layers)
        return cb_fail(err, "mamba2: out of memory for the attention layers");
    for (int l = 0; l < c->n_layers; l++)
        if (!m2_is_ssm_layer(c, l))
            tw.layers[slot[l]] = w->attn[l];
    if (tf_create(&sc, &tw, max_prefill, out, err) != 0) {
        free(tw.layers);
        return -1;
    }
    return 0;
}

int m2_create(const model_config *cfg, m2_weights *w, int max_prefill, m2_model **out,
              cb_err *err)
{
    *out = NULL;
    if (check_arch(cfg, "mamba2", err) != 0)
        return -1;
    dims k = dims_of(cfg);
    int widest = k.nin > k.d ? k.nin : k.d;
    int hybrid = cfg->arch == MODEL_ARCH_HYBRID;
    if (max_prefill < 1 || (int64_t)max_prefill * widest > INT32_MAX)
        return cb_fail(err, "mamba2: max_prefill = %d must be >= 1 and keep a pass's buffers "
                            "within int range", max_prefill);
    if (hybrid && max_prefill > cfg->max_context)
        return cb_fail(err, "mamba2: max_prefill = %d exceeds max_context = %d (the KV cache "
                            "of the attention layers)", max_prefill, cfg->max_context);
    if (!w || !w->tok_emb || !w->ssm || !w->final_norm || !w->lm_head || (hybrid && !w->attn))
        return cb_fail(err, "mamba2: weights are missing a tensor");
    for (int l = 0; l < cfg->n_layers; l++)
        if (check_layer_tensors(cfg, w, l, err) != 0)
            return -1;
    m2_model *m = calloc(1, sizeof *m);
    m2_state *s = calloc(1, sizeof *s);
    if (!m || !s) {
        free(m), free(s);
        return cb_fail(err, "mamba2: out of memory");
    }
    m->s = s;
    int counts[2] = {0, 0}; /* attention, Mamba-2 */
    for (int l = 0; l < cfg->n_layers; l++) {
        int is_ssm = m2_is_ssm_layer(cfg, l);
        s->slot[l] = counts[is_ssm]++;
    }
    s->n_ssm = counts[1];
    if (alloc_buffers(s, cfg, (size_t)max_prefill) != 0) {
        state_free(s);
        free(m);
        return cb_fail(err, "mamba2: out of memory for the state and scratch (max_prefill %d)",
                       max_prefill);
    }
    if (create_attention(cfg, w, max_prefill, s->slot, &s->attn, err) != 0) {
        state_free(s);
        free(m);
        return -1;
    }
    m->cfg = *cfg;
    m->w = *w;
    memset(w, 0, sizeof *w);
    m->max_prefill = max_prefill;
    *out = m;
    return 0;
}

void m2_free(m2_model *m)
{
    if (!m)
        return;
    state_free(m->s);
    m2_weights_free(&m->w);
    free(m);
}

void m2_reset(m2_model *m) { m->n_pos = 0; }

size_t m2_state_bytes(const m2_model *m)
{
    return (size_t)m->s->n_ssm * (conv_floats(&m->cfg) + ssm_floats(&m->cfg)) * sizeof(float);
}

m2_memory m2_memory_use(const m2_model *m)
{
    m2_memory r;
    r.weights = m2_weight_bytes(&m->cfg);
    r.kv_cache = 0;
    r.state = m2_state_bytes(m);
    r.scratch = m->s->act_bytes + m->s->kscr_bytes;
    if (m->s->attn) {
        tf_memory t = tf_memory_use(m->s->attn);
        r.kv_cache = t.kv_cache;
        r.scratch += t.scratch;
    }
    r.total = r.weights + r.kv_cache + r.state + r.scratch;
    return r;
}

void m2_state_save(const m2_model *m, void *buf)
{
    size_t cf = (size_t)m->s->n_ssm * conv_floats(&m->cfg);
    memcpy(buf, m->s->conv_state, cf * sizeof(float));
    memcpy((float *)buf + cf, m->s->ssm_state,
           (size_t)m->s->n_ssm * ssm_floats(&m->cfg) * sizeof(float));
}

void m2_state_load(m2_model *m, const void *buf, long n_pos)
{
    size_t cf = (size_t)m->s->n_ssm * conv_floats(&m->cfg);
    memcpy(m->s->conv_state, buf, cf * sizeof(float));
    memcpy(m->s->ssm_state, (const float *)buf + cf,
           (size_t)m->s->n_ssm * ssm_floats(&m->cfg) * sizeof(float));
    m->n_pos = n_pos;
}

static int check_token(const m2_model *m, int t, long i, cb_err *err)
{
    if (t < 0 || t >= m->cfg.vocab)
        return cb_fail(err, "mamba2: token %d at position %ld is outside 0..%d", t, i,
                       m->cfg.vocab - 1);
    return 0;
}

/* Zeroes the state when n_pos == 0 (an empty model's state is undefined:
 * a prefill from empty passes NULL initial states instead). */
static void zero_state_if_empty(m2_model *m)
{
    if (m->n_pos != 0)
        return;
    size_t ns = (size_t)m->s->n_ssm;
    memset(m->s->conv_state, 0, ns * conv_floats(&m->cfg) * sizeof(float));
    memset(m->s->ssm_state, 0, ns * ssm_floats(&m->cfg) * sizeof(float));
}

/* ---- prefill -------------------------------------------------------------------------- */

/* Kernel scratch of a prefill of n tokens on nw workers: the largest of the
 * GEMMs', the conv's and the SSD's. */
static size_t prefill_scratch_bytes(const model_config *c, int n, int nw)
{
    dims k = dims_of(c);
    op_ssd_shape sh = {n, k.H, k.hp, k.N};
    size_t need = op_conv1d_scratch_bytes(k.dc);
    size_t b[] = {op_ssd_chunked_scratch_bytes(&sh, c->chunk, nw),
                  op_gemm_scratch_bytes(k.nin, n, k.d, nw), op_gemm_scratch_bytes(k.d, n, k.di, nw)};
    for (size_t i = 0; i < sizeof b / sizeof *b; i++)
        need = b[i] > need ? b[i] : need;
    return need;
}

/* One Mamba-2 block over x (n, d) in place, continuing the state of its
 * layer (from zeros when fresh).  Returns 0, or -1 with err. */
static int ssm_block_prefill(m2_model *m, pool *p, const pool_part *part, int l, int n,
                             int fresh, cb_err *err)
{
    const model_config *c = &m->cfg;
    m2_state *s = m->s;
    const m2_layer_weights *L = &m->w.ssm[l];
    dims k = dims_of(c);
    int d = k.d, di = k.di, N = k.N, dc = k.dc;
    float *cs = s->conv_state + (size_t)s->slot[l] * conv_floats(c);
    float *hs = s->ssm_state + (size_t)s->slot[l] * ssm_floats(c);

    /* RMSNorm: xb = rmsnorm(x) * norm; xt (d, n) = xb^T for the GEMM. */
    mx_norm_job nj = {s->x, L->norm, s->xb, n, d, c->rms_eps};
    if (step(m, p, part, MX_OP_NORM, mx_norm_worker, &nj, err))
        return -1;
    mx_transp_job tj = {{MX_TR(s->xb, s->xt, n, d, 0)}, 1};
    if (step(m, p, part, MX_OP_OTHER, mx_transp_worker, &tj, err))
        return -1;
    /* in_proj: projt (nin, n) = W_in xt. */
    mx_proj_job ij = MX_PROJ1(L->in_proj, s->xt, s->projt, k.nin, d, n, s->kscr, c->wtype);
    if (step(m, p, part, MX_OP_GEMM, mx_proj_worker, &ij, err))
        return -1;
    /* Row-major parts: z (n, di), xbc (n, dc), dt (n, H) from projt's rows. */
    mx_transp_job hj = {{MX_TR(s->projt, s->z, di, n, 0),
                         MX_TR(s->projt + (size_t)di * n, s->xbc, dc, n, 0),
                         MX_TR(s->projt + (size_t)(di + dc) * n, s->dt, k.H, n, 0)},
                        3};
    if (step(m, p, part, MX_OP_OTHER, mx_transp_worker, &hj, err))
        return -1;
    /* Causal conv1d + bias over the dc channels of xBC from the layer's conv
     * state (none when fresh); the state after the last token back into it. */
    mx_conv_job cj = {s->xbc, L->conv_w, L->conv_b, fresh ? NULL : cs, s->xc, cs, n, dc, s->kscr};
    if (step(m, p, part, MX_OP_CONV, mx_conv_worker, &cj, err))
        return -1;
    /* SiLU and split: (xs, Bm, Cm) = silu(xc). */
    split_job sj = {s->xc, s->xs, s->Bm, s->Cm, n, di, N};
    if (step(m, p, part, MX_OP_ELEMWISE, split_worker, &sj, err))
        return -1;
    /* SSD, chunked (chunk cfg.chunk), from the layer's SSM state (none when
     * fresh), the final state back into it: y (n, H, hp). */
    ssd_job qj = {{n, k.H, k.hp, N},
                  {s->xs, s->dt, L->dt_bias, L->A_log, s->Bm, s->Cm, L->D},
                  c->chunk, fresh ? NULL : hs, s->y, hs, 0, s->kscr};
    if (step(m, p, part, MX_OP_SCAN, ssd_worker, &qj, err))
        return -1;
    /* Gated RMSNorm: y *= silu(z); yn = rmsnorm(y) * gnorm. */
    gate_job gj = {s->y, s->z, n, di};
    if (step(m, p, part, MX_OP_ELEMWISE, gate_worker, &gj, err))
        return -1;
    mx_norm_job gn = {s->y, L->gnorm, s->yn, n, di, c->rms_eps};
    if (step(m, p, part, MX_OP_NORM, mx_norm_worker, &gn, err))
        return -1;
    /* out_proj: ot (d, n) = W_out yn^T; residual x += ot^T. */
    mx_transp_job yj = {{MX_TR(s->yn, s->xt, n, di, 0)}, 1};
    if (step(m, p, part, MX_OP_OTHER, mx_transp_worker, &yj, err))
        return -1;
    mx_proj_job oj = MX_PROJ1(L->out_proj, s->xt, s->ot, d, di, n, s->kscr, c->wtype);
    if (step(m, p, part, MX_OP_GEMM, mx_proj_worker, &oj, err))
        return -1;
    mx_transp_job rj = {{MX_TR(s->ot, s->x, d, n, 1)}, 1};
    return step(m, p, part, MX_OP_OTHER, mx_transp_worker, &rj, err);
}

/* Final RMSNorm and LM head of x (n, d): logits of the last position and,
 * when logits_all is not NULL, of every position. */
static int lm_head(m2_model *m, pool *p, const pool_part *part, int n, float *logits,
                   float *logits_all, cb_err *err)
{
    const model_config *c = &m->cfg;
    m2_state *s = m->s;
    int d = c->d_model;
    /* Final RMSNorm: of the last position (of all of them for logits_all). */
    int first = logits_all ? 0 : n - 1;
    mx_norm_job nj = {s->x + (size_t)first * d, m->w.final_norm, s->xb + (size_t)first * d,
                      n - first, d, c->rms_eps};
    if (step(m, p, part, MX_OP_NORM, mx_norm_worker, &nj, err))
        return -1;
    /* LM head (GEMV per position): logits = lm_head xb. */
    for (int i = first; i < n; i++) {
        float *dst = logits_all ? logits_all + (size_t)i * c->vocab : logits;
        if (!dst)
            continue;
        mx_proj_job lj = MX_PROJ1(m->w.lm_head, s->xb + (size_t)i * d, dst, c->vocab, d, 0, NULL,
                                  c->emb_wtype);
        if (step(m, p, part, MX_OP_GEMM, mx_proj_worker, &lj, err))
            return -1;
    }
    if (logits_all && logits)
        memcpy(logits, logits_all + (size_t)(n - 1) * c->vocab, (size_t)c->vocab * sizeof(float));
    return 0;
}

/* The layers and the head of a prefill pass over x (already embedded). */
static int prefill_layers(m2_model *m, pool *p, const pool_part *part, int n, int fresh,
                          float *logits, float *logits_all, cb_err *err)
{
    for (int l = 0; l < m->cfg.n_layers; l++) {
        int rc = m2_is_ssm_layer(&m->cfg, l)
                     ? ssm_block_prefill(m, p, part, l, n, fresh, err)
                     : tf_layer_prefill(m->s->attn, p, part, m->s->slot[l], m->s->x, n, err);
        if (rc != 0)
            return -1;
    }
    return lm_head(m, p, part, n, logits, logits_all, err);
}

/* The prefill pass over tokens[0..n) from the state of m (empty or not).
 * Validates first (nothing changes on a bad n or token); a pool_run refusal
 * empties the state. */
static int prefill(m2_model *m, pool *p, const pool_part *part, const int *tokens, int n,
                   float *logits, float *logits_all, cb_err *err)
{
    const model_config *c = &m->cfg;
    if (n < 1 || n > m->max_prefill)
        return cb_fail(err, "mamba2: prefill of %d tokens (must be 1..%d)", n, m->max_prefill);
    for (int i = 0; i < n; i++)
        if (check_token(m, tokens[i], m->n_pos + i, err) != 0)
            return -1;
    if (ensure_scratch(m, prefill_scratch_bytes(c, n, part->n), err) != 0)
        return -1;
    if (m->s->attn && tf_layers_prefill_begin(m->s->attn, n, part->n, err) != 0)
        return -1;
    int fresh = m->n_pos == 0;
    long pos0 = m->n_pos;
    m->n_pos = 0; /* until the pass completes */

    /* Embedding lookup: x[i] = tok_emb[tokens[i]]. */
    int64_t t0 = mx_start(bd_of(m));
    mx_embed(m->w.tok_emb, c->emb_wtype, tokens, n, c->d_model, m->s->x);
    mx_account(bd_of(m), MX_OP_OTHER, t0);
    /* The layers, the final norm and the LM head. */
    sub_timing_begin(m);
    int rc = prefill_layers(m, p, part, n, fresh, logits, logits_all, err);
    sub_timing_end(m);
    if (rc != 0)
        return -1;
    m->n_pos = pos0 + n;
    return 0;
}

int m2_prefill(m2_model *m, pool *p, const pool_part *part, const int *tokens, int n,
               float *logits, float *logits_all, cb_err *err)
{
    m->n_pos = 0;
    return prefill(m, p, part, tokens, n, logits, logits_all, err);
}

int m2_prefill_more(m2_model *m, pool *p, const pool_part *part, const int *tokens, int n,
                    float *logits, float *logits_all, cb_err *err)
{
    if (m->cfg.arch == MODEL_ARCH_HYBRID)
        return cb_fail(err, "mamba2: a hybrid cannot continue a prefill (its attention blocks "
                            "prefill from position 0 only); use m2_prefill or m2_decode");
    return prefill(m, p, part, tokens, n, logits, logits_all, err);
}

/* ---- decode --------------------------------------------------------------------------- */

/* One Mamba-2 block over x (d) in place, one token, states in place.
 * Returns 0, or -1 with err. */
static int ssm_block_decode(m2_model *m, pool *p, const pool_part *part, int l, cb_err *err)
{
    const model_config *c = &m->cfg;
    m2_state *s = m->s;
    const m2_layer_weights *L = &m->w.ssm[l];
    dims k = dims_of(c);
    int d = k.d, di = k.di, N = k.N, dc = k.dc;
    float *cs = s->conv_state + (size_t)s->slot[l] * conv_floats(c);
    float *hs = s->ssm_state + (size_t)s->slot[l] * ssm_floats(c);
    float *z = s->projt, *xbc = s->projt + di, *dt = s->projt + di + dc;

    /* RMSNorm (one row, inline): xb = rmsnorm(x) * norm. */
    mx_norm_job nj = {s->x, L->norm, s->xb, 1, d, c->rms_eps};
    step(m, p, NULL, MX_OP_NORM, mx_norm_worker, &nj, err);
    /* in_proj (GEMV): (z, xBC, dt) (nin) = W_in xb. */
    mx_proj_job ij = MX_PROJ1(L->in_proj, s->xb, s->projt, k.nin, d, 0, NULL, c->wtype);
    if (step(m, p, part, MX_OP_GEMM, mx_proj_worker, &ij, err))
        return -1;
    /* Conv step (inline): xc = conv(state, xBC) + bias, state shifted. */
    mx_conv_job cj = {xbc, L->conv_w, L->conv_b, cs, s->xc, cs, 0, dc, NULL};
    step(m, p, NULL, MX_OP_CONV, mx_conv_worker, &cj, err);
    /* SiLU and split (inline): (xs, Bm, Cm) = silu(xc). */
    split_job sj = {s->xc, s->xs, s->Bm, s->Cm, 1, di, N};
    step(m, p, NULL, MX_OP_ELEMWISE, split_worker, &sj, err);
    /* SSD step, state in place: y (H, hp). */
    ssd_job qj = {{1, k.H, k.hp, N},
                  {s->xs, dt, L->dt_bias, L->A_log, s->Bm, s->Cm, L->D},
                  1, NULL, s->y, hs, 1, NULL};
    if (step(m, p, part, MX_OP_SCAN, ssd_worker, &qj, err))
        return -1;
    /* Gated RMSNorm (inline): y *= silu(z); yn = rmsnorm(y) * gnorm. */
    gate_job gj = {s->y, z, 1, di};
    step(m, p, NULL, MX_OP_ELEMWISE, gate_worker, &gj, err);
    mx_norm_job gn = {s->y, L->gnorm, s->yn, 1, di, c->rms_eps};
    step(m, p, NULL, MX_OP_NORM, mx_norm_worker, &gn, err);
    /* out_proj (GEMV): o (d) = W_out yn; residual (inline) x += o. */
    mx_proj_job oj = MX_PROJ1(L->out_proj, s->yn, s->ot, d, di, 0, NULL, c->wtype);
    if (step(m, p, part, MX_OP_GEMM, mx_proj_worker, &oj, err))
        return -1;
    int64_t t0 = mx_start(bd_of(m));
    for (int i = 0; i < d; i++)
        s->x[i] += s->ot[i];
    mx_account(bd_of(m), MX_OP_OTHER, t0);
    return 0;
}

/* The layers and the head of a decode step at position pos over x. */
static int decode_layers(m2_model *m, pool *p, const pool_part *part, int pos, float *logits,
                         cb_err *err)
{
    const model_config *c = &m->cfg;
    m2_state *s = m->s;
    for (int l = 0; l < c->n_layers; l++) {
        int rc = m2_is_ssm_layer(c, l)
                     ? ssm_block_decode(m, p, part, l, err)
                     : tf_layer_decode(s->attn, p, part, s->slot[l], s->x, pos, err);
        if (rc != 0)
            return -1;
    }
    /* Final RMSNorm (inline), then the LM head: logits = lm_head xb. */
    mx_norm_job nj = {s->x, m->w.final_norm, s->xb, 1, c->d_model, c->rms_eps};
    step(m, p, NULL, MX_OP_NORM, mx_norm_worker, &nj, err);
    mx_proj_job lj =
        MX_PROJ1(m->w.lm_head, s->xb, logits, c->vocab, c->d_model, 0, NULL, c->emb_wtype);
    return step(m, p, part, MX_OP_GEMM, mx_proj_worker, &lj, err);
}

int m2_decode(m2_model *m, pool *p, const pool_part *part, int token, float *logits,
              cb_err *err)
{
    const model_config *c = &m->cfg;
    if (check_token(m, token, m->n_pos, err) != 0)
        return -1;
    if (m->s->attn && m->n_pos >= c->max_context)
        return cb_fail(err, "mamba2: decode at position %ld: the KV cache of the attention "
                            "layers is full (max_context %d)", m->n_pos, c->max_context);
    if (m->s->attn && tf_layers_decode_begin(m->s->attn, (int)m->n_pos, part->n, err) != 0)
        return -1;
    zero_state_if_empty(m);
    long pos0 = m->n_pos;
    m->n_pos = 0; /* until the step completes */

    /* Embedding lookup: x = tok_emb[token]. */
    int64_t t0 = mx_start(bd_of(m));
    mx_embed(m->w.tok_emb, c->emb_wtype, &token, 1, c->d_model, m->s->x);
    mx_account(bd_of(m), MX_OP_OTHER, t0);
    /* The layers, the final norm and the LM head. */
    sub_timing_begin(m);
    int rc = decode_layers(m, p, part, (int)pos0, logits, err);
    sub_timing_end(m);
    if (rc != 0)
        return -1;
    m->n_pos = pos0 + 1;
    return 0;
}

/* ---- reference forward ---------------------------------------------------------------- */

/* The reference's buffers (n positions). */
typedef struct ref_bufs {
    float *xb, *proj, *xbc, *xc, *z, *dt, *xs, *Bm, *Cm, *y, *o;
    void *ssd_scratch;
} ref_bufs;

static void ref_bufs_free(ref_bufs *b)
{
    free(b->xb), free(b->proj), free(b->xbc), free(b->xc), free(b->z), free(b->dt);
    free(b->xs), free(b->Bm), free(b->Cm), free(b->y), free(b->o), free(b->ssd_scratch);
}

/* Copies columns [c0, c0 + w) of src (n, ld) into dst (n, w). */
static void ref_columns(const float *src, size_t ld, int c0, int w, float *dst, int n)
{
    for (int i = 0; i < n; i++)
        memcpy(dst + (size_t)i * w, src + (size_t)i * ld + c0, (size_t)w * sizeof(float));
}

/* Reference of Mamba-2 block l over x (n, d) in place, from zero states. */
static void ref_ssm_block(const m2_model *m, int l, float *x, int n, ref_bufs *b)
{
    const model_config *c = &m->cfg;
    const m2_layer_weights *L = &m->w.ssm[l];
    dims k = dims_of(c);
    size_t nd = (size_t)n * k.d, ndi = (size_t)n * k.di;
    /* RMSNorm, in_proj, split into z, xBC, dt. */
    op_rmsnorm_ref(x, L->norm, b->xb, n, k.d, c->rms_eps);
    mx_ref_linear(L->in_proj, c->wtype, NULL, b->xb, b->proj, n, k.nin, k.d);
    ref_columns(b->proj, (size_t)k.nin, 0, k.di, b->z, n);
    ref_columns(b->proj, (size_t)k.nin, k.di, k.dc, b->xbc, n);
    ref_columns(b->proj, (size_t)k.nin, k.di + k.dc, k.H, b->dt, n);
    /* Causal conv1d + bias from zero history, SiLU, split into x, B, C. */
    op_conv1d_causal_ref(b->xbc, L->conv_w, L->conv_b, NULL, b->xc, NULL, n, k.dc);
    op_silu_ref(b->xc, b->xc, n, k.dc);
    ref_columns(b->xc, (size_t)k.dc, 0, k.di, b->xs, n);
    ref_columns(b->xc, (size_t)k.dc, k.di, k.N, b->Bm, n);
    ref_columns(b->xc, (size_t)k.dc, k.di + k.N, k.N, b->Cm, n);
    /* SSD (double recurrence) from zero state, every head. */
    op_ssd_shape sh = {n, k.H, k.hp, k.N};
    op_ssd_in in = {b->xs, b->dt, L->dt_bias, L->A_log, b->Bm, b->Cm, L->D};
    op_ssd_ref(&sh, &in, NULL, 0, k.H, b->y, NULL, NULL, b->ssd_scratch);
    /* Gated RMSNorm: y = rmsnorm(y * silu(z)) * gnorm (into xs). */
    op_silu_ref(b->z, b->z, n, k.di);
    for (size_t i = 0; i < ndi; i++)
        b->y[i] *= b->z[i];
    op_rmsnorm_ref(b->y, L->gnorm, b->xs, n, k.di, c->rms_eps);
    /* out_proj and residual. */
    mx_ref_linear(L->out_proj, c->wtype, NULL, b->xs, b->o, n, k.d, k.di);
    for (size_t i = 0; i < nd; i++)
        x[i] += b->o[i];
}

int m2_forward_ref(const m2_model *m, const int *tokens, int n, float *logits_all,
                   double *layer_rms, cb_err *err)
{
    const model_config *c = &m->cfg;
    dims k = dims_of(c);
    int rc = -1;
    if (n < 1)
        return cb_fail(err, "mamba2 reference: %d tokens (must be >= 1)", n);
    for (int i = 0; i < n; i++)
        if (check_token(m, tokens[i], i, err) != 0)
            return -1;
    size_t N_ = (size_t)n, f4 = sizeof(float);
    op_ssd_shape sh = {n, k.H, k.hp, k.N};
    float *x = malloc(N_ * k.d * f4);
    ref_bufs b = {malloc(N_ * k.d * f4),  malloc(N_ * k.nin * f4), malloc(N_ * k.dc * f4),
                  malloc(N_ * k.dc * f4), malloc(N_ * k.di * f4),  malloc(N_ * k.H * f4),
                  malloc(N_ * k.di * f4), malloc(N_ * k.N * f4),   malloc(N_ * k.N * f4),
                  malloc(N_ * k.di * f4), malloc(N_ * k.d * f4),
                  malloc(op_ssd_ref_scratch_bytes(&sh))};
    if (!x || !b.xb || !b.proj || !b.xbc || !b.xc || !b.z || !b.dt || !b.xs || !b.Bm ||
        !b.Cm || !b.y || !b.o || !b.ssd_scratch) {
        cb_fail(err, "mamba2 reference: out of memory");
        goto out;
    }
    /* Embedding lookup. */
    mx_embed(m->w.tok_emb, c->emb_wtype, tokens, n, k.d, x);
    if (layer_rms)
        layer_rms[0] = mx_rms(x, N_ * k.d);
    /* The layers: Mamba-2 blocks, or the Transformer's reference block. */
    for (int l = 0; l < c->n_layers; l++) {
        if (m2_is_ssm_layer(c, l))
            ref_ssm_block(m, l, x, n, &b);
        else if (tf_layer_ref(m->s->attn, m->s->slot[l], x, n, err) != 0)
            goto out;
        if (layer_rms)
            layer_rms[l + 1] = mx_rms(x, N_ * k.d);
    }
    /* Final RMSNorm and LM head at every position. */
    op_rmsnorm_ref(x, m->w.final_norm, b.xb, n, k.d, c->rms_eps);
    mx_ref_linear(m->w.lm_head, c->emb_wtype, NULL, b.xb, logits_all, n, c->vocab, k.d);
    rc = 0;
out:
    free(x);
    ref_bufs_free(&b);
    return rc;
}
