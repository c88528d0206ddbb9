/* models/mamba1.c — the Mamba-1 language model (models/mamba1.h): weights
 * allocation, the recurrent state and scratch, the prefill and decode
 * forward passes on a pool, and the single-threaded reference forward.
 *
 * Each forward pass is a list of commented steps; each step is one pool_run
 * of a worker function below (or, for the cheap one-row steps of decode, the
 * same function called inline on the caller's thread), timed into the
 * breakdown when m->timing is set.
 * The timed step, its accounting and the RMSNorm, projection and transpose
 * workers are shared with the other stacks (models/exec.h).
 *
 * Prefill activation layouts (P = max_prefill, n = tokens of the pass,
 * di = d_inner, R = dt_rank, N = d_state):
 *   x, xb   (n, d)        residual stream and its RMSNorm
 *   xt      (max(d, di), n)  transposed GEMM input (B of op_gemm_part)
 *   xzt     (2 di, n)     in_proj output, transposed: x half, then z half
 *   xi, z   (n, di)       conv input and gate, row-major as the kernels take them
 *   xc      (n, di)       conv output, then SiLU'd in place (the scan's x)
 *   dbct    (R + 2N, n)   x_proj output, transposed: dt rows, B rows, C rows
 *   dtt     (di, n)       dt_proj output, transposed
 *   dl      (n, di)       delta_raw
 *   Bm, Cm  (n, N)
 *   y       (n, di)       scan output
 *   ot      (d, n)        out_proj output, transposed
 * Decode uses row 0 of the same buffers: xb (d), xzt as (2 di), xc (di),
 * dbct as (R + 2N), dl (di), y (di), ot as (d).
 *
 * Never: print, exit, start threads; no allocation inside a forward pass
 * except growing the kernel scratch when a wider partition first runs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "models/exec.h"
#include "models/mamba1.h"
#include "operators/conv1d.h"
#include "operators/elementwise.h"
#include "operators/gemm.h"
#include "operators/lowp.h"
#include "operators/selective_scan.h"
#include "util/clock.h"

#define KW OP_CONV1D_WIDTH /* conv width; the state keeps KW - 1 inputs */

struct m1_state {
    float *conv_state;  /* (n_layers, di, KW - 1) */
    float *ssm_state;   /* (n_layers, di, N) */
    float *A2;          /* (n_layers, di, N) decay rates for the decode step */
    float *x, *xb;      /* (P, d) */
    float *xt;          /* (max(d, di), P) */
    float *xzt;         /* (2 di, P) */
    float *xi, *z, *xc; /* (P, di) */
    float *dbct;        /* (R + 2N, P) */
    float *dtt, *dl;    /* (di, P), (P, di) */
    float *Bm, *Cm;     /* (P, N) */
    float *y;           /* (P, di) */
    float *ot;          /* (d, P) */
    size_t act_bytes;   /* the activation buffers above */
    void *kscr;         /* kernel scratch (gemm, conv, scan), grown on demand */
    size_t kscr_bytes;
};

/* ---- weights -------------------------------------------------------------------------- */

/* Takes a 64-byte-aligned region of bytes from *at. */
/* Points L's fields into *at (struct order) and advances it; with at NULL
 * only sums the bytes that would be taken. */
static size_t layer_carve(const model_config *c, char **at, m1_layer_weights *L)
{
    size_t d = (size_t)c->d_model, di = (size_t)c->expand * d, R = (size_t)c->dt_rank,
           N = (size_t)c->d_state, f4 = sizeof(float);
    op_wtype wt = c->wtype;
    size_t sizes[] = {d * f4,
                      mx_matrix_bytes(2 * di, d, wt),
                      di * KW * f4,
                      di * f4,
                      mx_matrix_bytes(R + 2 * N, di, wt),
                      mx_matrix_bytes(di, R, wt),
                      di * f4,
                      di * N * f4,
                      di * f4,
                      mx_matrix_bytes(d, di, wt)};
    void **fields[] = {(void **)&L->norm,      &L->in_proj,          (void **)&L->conv_w,
                       (void **)&L->conv_b,    &L->x_proj,           &L->dt_proj_w,
                       (void **)&L->dt_proj_b, (void **)&L->A_log,   (void **)&L->D,
                       &L->out_proj};
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        total += mx_round64(sizes[i]);
        if (at)
            *fields[i] = mx_take(at, sizes[i]);
    }
    return total;
}

size_t m1_weight_bytes(const model_config *c)
{
    m1_layer_weights scratch;
    size_t emb =
        mx_round64(mx_matrix_bytes((size_t)c->vocab, (size_t)c->d_model, c->emb_wtype));
    size_t n = emb + (size_t)c->n_layers * layer_carve(c, NULL, &scratch) +
               mx_round64((size_t)c->d_model * sizeof(float));
    if (!c->tied_embeddings)
        n += emb;
    return n;
}

static int check_arch(const model_config *c, const char *who, cb_err *err)
{
    if (model_config_check(c, err) != 0)
        return -1;
    if (c->arch != MODEL_ARCH_MAMBA1)
        return cb_fail(err, "%s: arch = %d is not Mamba-1", who, (int)c->arch);
    return 0;
}

int m1_weights_alloc(const model_config *c, m1_weights *w, cb_err *err)
{
    memset(w, 0, sizeof *w);
    if (check_arch(c, "mamba1 weights", err) != 0)
        return -1;
    char *block = mx_weights_block(m1_weight_bytes(c), "mamba1", err);
    if (!block)
        return -1;
    m1_layer_weights *layers = calloc((size_t)c->n_layers, sizeof *layers);
    if (!layers) {
        free(block);
        return cb_fail(err, "mamba1 weights: out of memory");
    }
    size_t emb = mx_matrix_bytes((size_t)c->vocab, (size_t)c->d_model, c->emb_wtype);
    char *at = block;
    w->tok_emb = mx_take(&at, emb);
    for (int l = 0; l < c->n_layers; l++)
        layer_carve(c, &at, &layers[l]);
    w->final_norm = mx_take(&at, (size_t)c->d_model * sizeof(float));
    w->lm_head = c->tied_embeddings ? w->tok_emb : mx_take(&at, emb);
    w->layers = layers;
    w->owner = block;
    w->release = free;
    return 0;
}

void m1_weights_free(m1_weights *w)
{
    if (!w)
        return;
    if (w->release)
        w->release(w->owner);
    free(w->layers);
    memset(w, 0, sizeof *w);
}

/* ---- breakdown ------------------------------------------------------------------------ */

void m1_breakdown_clear(m1_model *m) { memset(&m->bd, 0, sizeof m->bd); }

/* The breakdown to time into, or NULL when timing is off. */
static mx_breakdown *bd_of(m1_model *m) { return m->timing ? &m->bd : NULL; }

/* One step of the forward pass, timed into class cls (models/exec.h). */
static int step(m1_model *m, pool *p, const pool_part *part, mx_op_class cls, pool_fn fn,
                void *ctx, cb_err *err)
{
    return mx_step(bd_of(m), cls, p, part, fn, ctx, err);
}

/* ---- worker functions -----------------------------------------------------------------
 * RMSNorm, projections and transposes are models/exec.h's mx_*_job; a
 * projection here is one product without bias, a transpose unbatched. */

/* SiLU in place over (rows, cols). */
typedef struct silu_job {
    float *x;
    int rows, cols;
} silu_job;

static void silu_worker(void *ctx, int worker, int n_workers)
{
    silu_job *j = ctx;
    op_silu_part(j->x, j->x, j->rows, j->cols, worker, n_workers);
}

/* The selective scan (prefill: in.L tokens, h0 in in) or its step (step 1:
 * h in place). */
typedef struct scan_job {
    op_mamba1_scan_in in;
    float *y, *h;
    int is_step;
    void *scratch;
} scan_job;

static void scan_worker(void *ctx, int worker, int n_workers)
{
    scan_job *j = ctx;
    if (j->is_step)
        op_mamba1_step_part(&j->in, j->h, j->h, j->y, worker, n_workers);
    else
        op_mamba1_scan_part(&j->in, j->y, j->h, j->scratch, worker, n_workers);
}

/* ---- model ---------------------------------------------------------------------------- */

/* Makes the kernel scratch at least bytes long.  Returns 0, or -1 with err. */
static int ensure_scratch(m1_model *m, size_t bytes, cb_err *err)
{
    return mx_scratch_reserve(&m->s->kscr, &m->s->kscr_bytes, bytes, "mamba1", err);
}

static void state_free(m1_state *s)
{
    if (!s)
        return;
    float **bufs[] = {&s->conv_state, &s->ssm_state, &s->A2, &s->x,  &s->xb, &s->xt,
                      &s->xzt,        &s->xi,        &s->z,  &s->xc, &s->dbct, &s->dtt,
                      &s->dl,         &s->Bm,        &s->Cm, &s->y,  &s->ot};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        free(*bufs[i]);
    free(s->kscr);
    free(s);
}

int m1_create(const model_config *cfg, m1_weights *w, int max_prefill, m1_model **out,
              cb_err *err)
{
    *out = NULL;
    if (check_arch(cfg, "mamba1", err) != 0)
        return -1;
    size_t d = (size_t)cfg->d_model, di = (size_t)cfg->expand * d, R = (size_t)cfg->dt_rank,
           N = (size_t)cfg->d_state, nl = (size_t)cfg->n_layers;
    if (max_prefill < 1 || (int64_t)max_prefill * (int64_t)(2 * di) > INT32_MAX ||
        (int64_t)max_prefill * (int64_t)(d > di ? d : di) > INT32_MAX)
        return cb_fail(err, "mamba1: max_prefill = %d must be >= 1 and keep a pass's "
                            "buffers within int range", max_prefill);
    if (!w || !w->tok_emb || !w->layers || !w->final_norm || !w->lm_head)
        return cb_fail(err, "mamba1: weights are missing a tensor");
    for (int l = 0; l < cfg->n_layers; l++) {
        const m1_layer_weights *L = &w->layers[l];
        if (!L->norm || !L->in_proj || !L->conv_w || !L->conv_b || !L->x_proj ||
            !L->dt_proj_w || !L->dt_proj_b || !L->A_log || !L->D || !L->out_proj)
            return cb_fail(err, "mamba1: weights of layer %d are missing a tensor", l);
    }
    m1_model *m = calloc(1, sizeof *m);
    m1_state *s = calloc(1, sizeof *s);
    if (!m || !s)
        goto oom;
    m->s = s;
    size_t P = (size_t)max_prefill;
    struct {
        float **p;
        size_t n;
        int act; /* counted in act_bytes */
    } bufs[] = {{&s->conv_state, nl * di * (KW - 1), 0},
                {&s->ssm_state, nl * di * N, 0},
                {&s->A2, nl * di * N, 0},
                {&s->x, P * d, 1},
                {&s->xb, P * d, 1},
                {&s->xt, P * (d > di ? d : di), 1},
                {&s->xzt, P * 2 * di, 1},
                {&s->xi, P * di, 1},
                {&s->z, P * di, 1},
                {&s->xc, P * di, 1},
                {&s->dbct, P * (R + 2 * N), 1},
                {&s->dtt, P * di, 1},
                {&s->dl, P * di, 1},
                {&s->Bm, P * N, 1},
                {&s->Cm, P * N, 1},
                {&s->y, P * di, 1},
                {&s->ot, P * d, 1}};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) {
        if (posix_memalign((void **)bufs[i].p, 64, mx_round64(bufs[i].n * sizeof(float))) != 0) {
            *bufs[i].p = NULL;
            goto oom;
        }
        if (bufs[i].act)
            s->act_bytes += mx_round64(bufs[i].n * sizeof(float));
    }
    for (size_t l = 0; l < nl; l++)
        op_mamba1_decay_rates(w->layers[l].A_log, s->A2 + l * di * N, di * N);
    m->cfg = *cfg;
    m->w = *w;
    memset(w, 0, sizeof *w);
    m->max_prefill = max_prefill;
    *out = m;
    return 0;
oom:
    state_free(s);
    free(m);
    return cb_fail(err, "mamba1: out of memory for the state and scratch (max_prefill %d)",
                   max_prefill);
}

void m1_free(m1_model *m)
{
    if (!m)
        return;
    state_free(m->s);
    m1_weights_free(&m->w);
    free(m);
}

void m1_reset(m1_model *m) { m->n_pos = 0; }

m1_memory m1_memory_use(const m1_model *m)
{
    m1_memory r;
    const model_config *c = &m->cfg;
    size_t di = (size_t)c->expand * c->d_model, nl = (size_t)c->n_layers;
    r.weights = m1_weight_bytes(c);
    r.derived = nl * di * (size_t)c->d_state * sizeof(float);
    r.state = nl * di * ((size_t)(KW - 1) + (size_t)c->d_state) * sizeof(float);
    r.scratch = m->s->act_bytes + m->s->kscr_bytes;
    r.total = r.weights + r.derived + r.state + r.scratch;
    return r;
}

static int check_token(const m1_model *m, int t, long i, cb_err *err)
{
    if (t < 0 || t >= m->cfg.vocab)
        return cb_fail(err, "mamba1: token %d at position %ld is outside 0..%d", t, i,
                       m->cfg.vocab - 1);
    return 0;
}

/* Floats of the conv and SSM states. */
static size_t conv_floats(const model_config *c)
{
    return (size_t)c->n_layers * c->expand * c->d_model * (KW - 1);
}

static size_t ssm_floats(const model_config *c)
{
    return (size_t)c->n_layers * c->expand * c->d_model * c->d_state;
}

size_t m1_state_bytes(const m1_model *m)
{
    return (conv_floats(&m->cfg) + ssm_floats(&m->cfg)) * sizeof(float);
}

void m1_state_save(const m1_model *m, void *buf)
{
    size_t cf = conv_floats(&m->cfg);
    memcpy(buf, m->s->conv_state, cf * sizeof(float));
    memcpy((float *)buf + cf, m->s->ssm_state, ssm_floats(&m->cfg) * sizeof(float));
}

void m1_state_load(m1_model *m, const void *buf, long n_pos)
{
    size_t cf = conv_floats(&m->cfg);
    memcpy(m->s->conv_state, buf, cf * sizeof(float));
    memcpy(m->s->ssm_state, (const float *)buf + cf, ssm_floats(&m->cfg) * sizeof(float));
    m->n_pos = n_pos;
}

/* Zeroes the state when n_pos == 0 (an empty model's state is undefined:
 * a prefill from empty passes NULL initial states instead). */
static void zero_state_if_empty(m1_model *m)
{
    if (m->n_pos != 0)
        return;
    size_t di = (size_t)m->cfg.expand * m->cfg.d_model, nl = (size_t)m->cfg.n_layers;
    memset(m->s->conv_state, 0, nl * di * (KW - 1) * sizeof(float));
    memset(m->s->ssm_state, 0, nl * di * (size_t)m->cfg.d_state * sizeof(float));
}

/* ---- prefill -------------------------------------------------------------------------- */

/* The prefill pass over tokens[0..n) from the state of m (empty or not).
 * Validates first (nothing changes on a bad n or token); a pool_run refusal
 * empties the state. */
static int prefill(m1_model *m, pool *p, const pool_part *part, const int *tokens, int n,
                   float *logits, float *logits_all, cb_err *err)
{
    const model_config *c = &m->cfg;
    m1_state *s = m->s;
    const m1_weights *w = &m->w;
    int d = c->d_model, di = c->expand * c->d_model, R = c->dt_rank, N = c->d_state;
    int nx = R + 2 * N, nw = part->n;
    if (n < 1 || n > m->max_prefill)
        return cb_fail(err, "mamba1: prefill of %d tokens (must be 1..%d)", n, m->max_prefill);
    for (int i = 0; i < n; i++)
        if (check_token(m, tokens[i], m->n_pos + i, err) != 0)
            return -1;

    /* Kernel scratch: the largest of the GEMMs', the conv's and the scan's. */
    size_t need = op_conv1d_scratch_bytes(di);
    size_t sc = op_mamba1_scan_scratch_bytes(di, N, nw);
    need = sc > need ? sc : need;
    int shapes[][2] = {{2 * di, d}, {nx, di}, {di, R}, {d, di}};
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        size_t b = op_gemm_scratch_bytes(shapes[i][0], n, shapes[i][1], nw);
        need = b > need ? b : need;
    }
    if (ensure_scratch(m, need, err) != 0)
        return -1;
    int fresh = m->n_pos == 0;
    long pos0 = m->n_pos;
    m->n_pos = 0; /* until the pass completes */

    /* Embedding lookup: x[i] = tok_emb[tokens[i]]. */
    int64_t t0 = mx_start(bd_of(m));
    mx_embed(w->tok_emb, c->emb_wtype, tokens, n, d, s->x);
    mx_account(bd_of(m), MX_OP_OTHER, t0);

    for (int l = 0; l < c->n_layers; l++) {
        const m1_layer_weights *L = &w->layers[l];
        float *cs = s->conv_state + (size_t)l * di * (KW - 1);
        float *hs = s->ssm_state + (size_t)l * di * N;

        /* RMSNorm: xb = rmsnorm(x) * norm; xt (d, n) = xb^T for the GEMM. */
        mx_norm_job nj = {s->x, L->norm, s->xb, n, d, c->rms_eps};
        if (step(m, p, part, MX_OP_NORM, mx_norm_worker, &nj, err))
            return -1;
        mx_transp_job tj = {{MX_TR(s->xb, s->xt, n, d, 0)}, 1};
        if (step(m, p, part, MX_OP_OTHER, mx_transp_worker, &tj, err))
            return -1;
        /* in_proj: xzt (2 di, n) = W_in xt. */
        mx_proj_job ij = MX_PROJ1(L->in_proj, s->xt, s->xzt, 2 * di, d, n, s->kscr, c->wtype);
        if (step(m, p, part, MX_OP_GEMM, mx_proj_worker, &ij, err))
            return -1;
        /* Row-major halves: xi (n, di) = xzt[0:di]^T, z (n, di) = xzt[di:2di]^T. */
        mx_transp_job hj = {{MX_TR(s->xzt, s->xi, di, n, 0),
                             MX_TR(s->xzt + (size_t)di * n, s->z, di, n, 0)},
                            2};
        if (step(m, p, part, MX_OP_OTHER, mx_transp_worker, &hj, err))
            return -1;
        /* Causal conv1d + bias from the layer's conv state (none when
         * fresh); the state after the last token back into it. */
        mx_conv_job cj = {s->xi, L->conv_w, L->conv_b, fresh ? NULL : cs, s->xc, cs, n, di,
                       s->kscr};
        if (step(m, p, part, MX_OP_CONV, mx_conv_worker, &cj, err))
            return -1;
        /* SiLU: xc = silu(xc). */
        silu_job sj = {s->xc, n, di};
        if (step(m, p, part, MX_OP_ELEMWISE, silu_worker, &sj, err))
            return -1;
        /* x_proj: dbct (R + 2N, n) = W_x xc^T. */
        mx_transp_job cxj = {{MX_TR(s->xc, s->xt, n, di, 0)}, 1};
        if (step(m, p, part, MX_OP_OTHER, mx_transp_worker, &cxj, err))
            return -1;
        mx_proj_job xj = MX_PROJ1(L->x_proj, s->xt, s->dbct, nx, di, n, s->kscr, c->wtype);
        if (step(m, p, part, MX_OP_GEMM, mx_proj_worker, &xj, err))
            return -1;
        /* dt_proj (bias left to the scan): dtt (di, n) = W_dt dbct[0:R]. */
        mx_proj_job dj = MX_PROJ1(L->dt_proj_w, s->dbct, s->dtt, di, R, n, s->kscr, c->wtype);
        if (step(m, p, part, MX_OP_GEMM, mx_proj_worker, &dj, err))
            return -1;
        /* Row-major: dl (n, di) = dtt^T, Bm (n, N), Cm (n, N) from dbct. */
        mx_transp_job bj = {{MX_TR(s->dtt, s->dl, di, n, 0),
                             MX_TR(s->dbct + (size_t)R * n, s->Bm, N, n, 0),
                             MX_TR(s->dbct + (size_t)(R + N) * n, s->Cm, N, n, 0)},
                            3};
        if (step(m, p, part, MX_OP_OTHER, mx_transp_worker, &bj, err))
            return -1;
        /* Selective scan from the layer's SSM state (none when fresh), the
         * final state back into it: y (n, di). */
        scan_job qj = {{n, di, N, s->xc, s->dl, L->dt_proj_b, L->A_log, s->Bm, s->Cm, L->D, s->z,
                        fresh ? NULL : hs, NULL},
                       s->y, hs, 0, s->kscr};
        if (step(m, p, part, MX_OP_SCAN, scan_worker, &qj, err))
            return -1;
        /* out_proj: ot (d, n) = W_out y^T; residual x += ot^T. */
        mx_transp_job yj = {{MX_TR(s->y, s->xt, n, di, 0)}, 1};
        if (step(m, p, part, MX_OP_OTHER, mx_transp_worker, &yj, err))
            return -1;
        mx_proj_job oj = MX_PROJ1(L->out_proj, s->xt, s->ot, d, di, n, s->kscr, c->wtype);
        if (step(m, p, part, MX_OP_GEMM, mx_proj_worker, &oj, err))
            return -1;
        mx_transp_job rj = {{MX_TR(s->ot, s->x, d, n, 1)}, 1};
        if (step(m, p, part, MX_OP_OTHER, mx_transp_worker, &rj, err))
            return -1;
    }

    /* Final RMSNorm: of the last position (of all of them for logits_all). */
    int first = logits_all ? 0 : n - 1;
    mx_norm_job nj = {s->x + (size_t)first * d, w->final_norm, s->xb + (size_t)first * d,
                      n - first, d, c->rms_eps};
    if (step(m, p, part, MX_OP_NORM, mx_norm_worker, &nj, err))
        return -1;
    /* LM head: logits = lm_head xb[n-1] (and every position's for logits_all). */
    for (int i = first; i < n; i++) {
        float *dst = logits_all ? logits_all + (size_t)i * c->vocab : logits;
        if (!dst)
            continue;
        mx_proj_job lj =
            MX_PROJ1(w->lm_head, s->xb + (size_t)i * d, dst, c->vocab, d, 0, NULL, c->emb_wtype);
        if (step(m, p, part, MX_OP_GEMM, mx_proj_worker, &lj, err))
            return -1;
    }
    if (logits_all && logits)
        memcpy(logits, logits_all + (size_t)(n - 1) * c->vocab, (size_t)c->vocab * sizeof(float));
    m->n_pos = pos0 + n;
    return 0;
}

int m1_prefill(m1_model *m, pool *p, const pool_part *part, const int *tokens, int n,
               float *logits, float *logits_all, cb_err *err)
{
    m->n_pos = 0;
    return prefill(m, p, part, tokens, n, logits, logits_all, err);
}

int m1_prefill_more(m1_model *m, pool *p, const pool_part *part, const int *tokens, int n,
                    float *logits, float *logits_all, cb_err *err)
{
    return prefill(m, p, part, tokens, n, logits, logits_all, err);
}

/* ---- decode --------------------------------------------------------------------------- */

int m1_decode(m1_model *m, pool *p, const pool_part *part, int token, float *logits,
              cb_err *err)
{
    const model_config *c = &m->cfg;
    m1_state *s = m->s;
    const m1_weights *w = &m->w;
    int d = c->d_model, di = c->expand * c->d_model, R = c->dt_rank, N = c->d_state;
    int nx = R + 2 * N;
    if (check_token(m, token, m->n_pos, err) != 0)
        return -1;
    zero_state_if_empty(m);
    long pos0 = m->n_pos;
    m->n_pos = 0; /* until the step completes */

    /* Embedding lookup: x = tok_emb[token]. */
    int64_t t0 = mx_start(bd_of(m));
    mx_embed(w->tok_emb, c->emb_wtype, &token, 1, d, s->x);
    mx_account(bd_of(m), MX_OP_OTHER, t0);

    for (int l = 0; l < c->n_layers; l++) {
        const m1_layer_weights *L = &w->layers[l];
        float *cs = s->conv_state + (size_t)l * di * (KW - 1);
        float *hs = s->ssm_state + (size_t)l * di * N;
        const float *A2 = s->A2 + (size_t)l * di * N;

        /* RMSNorm (one row, inline): xb = rmsnorm(x) * norm. */
        mx_norm_job nj = {s->x, L->norm, s->xb, 1, d, c->rms_eps};
        step(m, p, NULL, MX_OP_NORM, mx_norm_worker, &nj, err);
        /* in_proj (GEMV): xz (2 di) = W_in xb; x half then z half. */
        float *xz = s->xzt;
        mx_proj_job ij = MX_PROJ1(L->in_proj, s->xb, xz, 2 * di, d, 0, NULL, c->wtype);
        if (step(m, p, part, MX_OP_GEMM, mx_proj_worker, &ij, err))
            return -1;
        /* Conv step (inline): xc = conv(state, xz[0:di]) + bias, state shifted. */
        mx_conv_job cj = {xz, L->conv_w, L->conv_b, cs, s->xc, cs, 0, di, NULL};
        step(m, p, NULL, MX_OP_CONV, mx_conv_worker, &cj, err);
        /* SiLU (inline). */
        silu_job sj = {s->xc, 1, di};
        step(m, p, NULL, MX_OP_ELEMWISE, silu_worker, &sj, err);
        /* x_proj (GEMV): dbc (R + 2N) = W_x xc; then dt_proj: dl (di) = W_dt dbc[0:R]. */
        mx_proj_job xj = MX_PROJ1(L->x_proj, s->xc, s->dbct, nx, di, 0, NULL, c->wtype);
        if (step(m, p, part, MX_OP_GEMM, mx_proj_worker, &xj, err))
            return -1;
        mx_proj_job dj = MX_PROJ1(L->dt_proj_w, s->dbct, s->dl, di, R, 0, NULL, c->wtype);
        if (step(m, p, part, MX_OP_GEMM, mx_proj_worker, &dj, err))
            return -1;
        /* Scan step, state in place: y (di). */
        scan_job qj = {{1, di, N, s->xc, s->dl, L->dt_proj_b, L->A_log, s->dbct + R,
                        s->dbct + R + N, L->D, xz + di, NULL, A2},
                       s->y, hs, 1, NULL};
        if (step(m, p, part, MX_OP_SCAN, scan_worker, &qj, err))
            return -1;
        /* out_proj (GEMV): o (d) = W_out y; residual (inline) x += o. */
        mx_proj_job oj = MX_PROJ1(L->out_proj, s->y, s->ot, d, di, 0, NULL, c->wtype);
        if (step(m, p, part, MX_OP_GEMM, mx_proj_worker, &oj, err))
            return -1;
        t0 = m->timing ? cb_now_ns() : 0;
        for (int i = 0; i < d; i++)
            s->x[i] += s->ot[i];
        mx_account(bd_of(m), MX_OP_OTHER, t0);
    }

    /* Final RMSNorm (inline), then the LM head: logits = lm_head xb. */
    mx_norm_job nj = {s->x, w->final_norm, s->xb, 1, d, c->rms_eps};
    step(m, p, NULL, MX_OP_NORM, mx_norm_worker, &nj, err);
    mx_proj_job lj = MX_PROJ1(w->lm_head, s->xb, logits, c->vocab, d, 0, NULL, c->emb_wtype);
    if (step(m, p, part, MX_OP_GEMM, mx_proj_worker, &lj, err))
        return -1;
    m->n_pos = pos0 + 1;
    return 0;
}

/* ---- reference forward ---------------------------------------------------------------- */

/* y (n, mo) rows = W (mo, k) x rows (n, k) with op_gemv_ref; x rows ldx apart. */
static void ref_linear(const void *W, op_wtype wt, const float *x, size_t ldx, float *y, int n,
                       int mo, int k)
{
    for (int i = 0; i < n; i++)
        op_gemv_w_ref(W, wt, x + (size_t)i * ldx, y + (size_t)i * mo, mo, k);
}

int m1_forward_ref(const m1_model *m, const int *tokens, int n, float *logits_all,
                   double *layer_rms, cb_err *err)
{
    const model_config *c = &m->cfg;
    const m1_weights *w = &m->w;
    int d = c->d_model, di = c->expand * c->d_model, R = c->dt_rank, N = c->d_state;
    int nx = R + 2 * N, rc = -1;
    if (n < 1)
        return cb_fail(err, "mamba1 reference: %d tokens (must be >= 1)", n);
    for (int i = 0; i < n; i++)
        if (check_token(m, tokens[i], i, err) != 0)
            return -1;
    size_t L_ = (size_t)n;
    float *x = malloc(L_ * d * sizeof(float)), *xb = malloc(L_ * d * sizeof(float)),
          *xz = malloc(L_ * 2 * di * sizeof(float)), *xi = malloc(L_ * di * sizeof(float)),
          *z = malloc(L_ * di * sizeof(float)), *xc = malloc(L_ * di * sizeof(float)),
          *dbc = malloc(L_ * nx * sizeof(float)), *dl = malloc(L_ * di * sizeof(float)),
          *Bm = malloc(L_ * N * sizeof(float)), *Cm = malloc(L_ * N * sizeof(float)),
          *y = malloc(L_ * di * sizeof(float)), *o = malloc(L_ * d * sizeof(float));
    if (!x || !xb || !xz || !xi || !z || !xc || !dbc || !dl || !Bm || !Cm || !y || !o) {
        cb_fail(err, "mamba1 reference: out of memory");
        goto out;
    }
    /* Embedding lookup. */
    mx_embed(w->tok_emb, c->emb_wtype, tokens, n, d, x);
    if (layer_rms)
        layer_rms[0] = mx_rms(x, L_ * d);
    for (int l = 0; l < c->n_layers; l++) {
        const m1_layer_weights *Lw = &w->layers[l];
        /* RMSNorm, in_proj, split into x and z halves. */
        op_rmsnorm_ref(x, Lw->norm, xb, n, d, c->rms_eps);
        ref_linear(Lw->in_proj, c->wtype, xb, (size_t)d, xz, n, 2 * di, d);
        for (int i = 0; i < n; i++) {
            memcpy(xi + (size_t)i * di, xz + (size_t)i * 2 * di, (size_t)di * sizeof(float));
            memcpy(z + (size_t)i * di, xz + (size_t)i * 2 * di + di, (size_t)di * sizeof(float));
        }
        /* Causal conv1d + bias from zero history, SiLU. */
        op_conv1d_causal_ref(xi, Lw->conv_w, Lw->conv_b, NULL, xc, NULL, n, di);
        op_silu_ref(xc, xc, n, di);
        /* x_proj to (dt, B, C); dt_proj on dt. */
        ref_linear(Lw->x_proj, c->wtype, xc, (size_t)di, dbc, n, nx, di);
        ref_linear(Lw->dt_proj_w, c->wtype, dbc, (size_t)nx, dl, n, di, R);
        for (int i = 0; i < n; i++) {
            memcpy(Bm + (size_t)i * N, dbc + (size_t)i * nx + R, (size_t)N * sizeof(float));
            memcpy(Cm + (size_t)i * N, dbc + (size_t)i * nx + R + N, (size_t)N * sizeof(float));
        }
        /* Selective scan from zero state. */
        op_mamba1_scan_in in = {n, di, N, xc, dl, Lw->dt_proj_b, Lw->A_log, Bm, Cm, Lw->D, z,
                                NULL, NULL};
        op_mamba1_scan_ref(&in, y, NULL);
        /* out_proj and residual. */
        ref_linear(Lw->out_proj, c->wtype, y, (size_t)di, o, n, d, di);
        for (size_t i = 0; i < L_ * d; i++)
            x[i] += o[i];
        if (layer_rms)
            layer_rms[l + 1] = mx_rms(x, L_ * d);
    }
    /* Final RMSNorm and LM head at every position. */
    op_rmsnorm_ref(x, w->final_norm, xb, n, d, c->rms_eps);
    ref_linear(w->lm_head, c->emb_wtype, xb, (size_t)d, logits_all, n, c->vocab, d);
    rc = 0;
out:
    free(x), free(xb), free(xz), free(xi), free(z), free(xc), free(dbc), free(dl);
    free(Bm), free(Cm), free(y), free(o);
    return rc;
}
