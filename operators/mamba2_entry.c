/* operators/mamba2_entry.c — registry entries of the Mamba-2 SSD operator
 * (op "mamba2_ssd"; kernels in ssd.h):
 *
 *   mamba2_ssd.recurrent  prefill, sub-quadratic: the token-by-token recurrence
 *   mamba2_ssd.chunked    prefill, sub-quadratic: the SSD chunked algorithm,
 *                         chunk = op_dims.chunk (0: M2_DEFAULT_CHUNK, clamped to L)
 *   mamba2_ssd.step       decode: one token from the state
 *
 * The operator is the SSM alone (y = SSM(x) + D x); the z gate, RMSNorm and
 * projections are the model's.  Inputs are drawn as a real checkpoint and
 * its activations would give them (ngroups 1):
 *   A_log  = log(U[1, 16])                        (Mamba-2's A init range)
 *   dt_bias = softplus^-1(delta0), delta0 log-uniform in [1e-3, 1e-1]
 *   dt (raw, from in_proj) U[-0.5, 0.5], so delta stays near delta0
 *   x, B, C U[-1, 1] (post-conv SiLU activations are O(1))
 *   D      = U[0.5, 1.5] (initialised to 1, spread by training)
 *
 * Prefill entries start from a zero state; run() leaves y and the final
 * state.  verify() runs the double reference for a spread of heads (all
 * heads when L H N P <= M2_VERIFY_BUDGET, else as many as the budget allows,
 * at least one: a head's reference costs L N P scalar double steps, a few
 * fast runs' worth at L = 8192) and checks y and the final state.
 *
 * The decode entry's create() fills the state by running the recurrence over
 * a prefix of min(L, 256) generated tokens (the state's size does not depend
 * on L, and a real state is such a decayed sum; longer prefixes only move
 * slow heads closer to their stationary spread).  Every run() feeds the same
 * token and updates the state in place (bounded: the decay is < 1).  Each
 * head counts its runs, so verify() checks the state and y against the
 * closed form of k identical steps in double:
 *   h_k = dA^k h_0 + (1 - dA^k) / (1 - dA) delta x B^T,  y = h_k C + D x.
 *
 * Never: print, time, or touch another family's entries. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "operators/op.h"
#include "operators/ssd.h"

/* The default chunk, measured among 64/128/256 (L 4096, 24 heads of 64, one
 * worker, thread CPU time): N 128: 22.5 / 24.9 / 29.8 ms; N 16: 9.7 / 11.5 /
 * 16.0 ms.  The intra-chunk work grows with the chunk, and a CPU has no
 * matrix unit to make it cheap. */
#define M2_DEFAULT_CHUNK 64
#define M2_MAX_SEQ (1 << 24)
#define M2_MAX_DIM 4096         /* n_heads, head_dim, d_state, chunk */
#define M2_VERIFY_BUDGET 67108864.0 /* reference state updates verify() may spend */
#define M2_STEP_PREFIX 256

enum m2_impl { M2_RECURRENT, M2_CHUNKED, M2_STEP };

/* One instance: shape, inputs, outputs, state and scratch (all owned). */
typedef struct m2_inst {
    enum m2_impl impl;
    op_ssd_shape s;  /* s.L = L for prefill; the step's x/dt/B/C hold one token */
    int q;           /* chunk length (chunked) */
    float *x;        /* (L, H, P) or (H, P) */
    float *dt;       /* (L, H) or (H) */
    float *dt_bias;  /* (H) */
    float *A_log;    /* (H) */
    float *B, *C;    /* (L, N) or (N) */
    float *D;        /* (H) */
    float *y;        /* (L, H, P) or (H, P) */
    float *state;    /* (H, N, P) */
    float *state0;   /* (H, N, P) step: the state create() made */
    uint64_t *runs;  /* (H) step: runs of each head since create() */
    void *scratch;   /* chunked: op_ssd_chunked_scratch_bytes */
} m2_inst;

/* ---- helpers ----------------------------------------------------------------------------- */

static void *m2_alloc(size_t bytes)
{
    size_t n = (bytes + 63) / 64 * 64;
    return aligned_alloc(64, n ? n : 64);
}

static op_ssd_in m2_in(const m2_inst *m)
{
    op_ssd_in in = {m->x, m->dt, m->dt_bias, m->A_log, m->B, m->C, m->D};
    return in;
}

static int m2_chunk(const op_dims *d)
{
    int q = d->chunk > 0 ? d->chunk : M2_DEFAULT_CHUNK;
    return (int64_t)q > d->seq_len ? (int)d->seq_len : q;
}

/* Fills the inputs of L tokens (see the file comment). */
static void m2_fill(m2_inst *m, int64_t L, uint64_t seed)
{
    const op_ssd_shape *s = &m->s;
    op_fill_uniform(m->x, (size_t)L * s->H * s->P, seed + 1, -1.0f, 1.0f);
    op_fill_uniform(m->dt, (size_t)L * s->H, seed + 2, -0.5f, 0.5f);
    op_fill_uniform(m->B, (size_t)L * s->N, seed + 3, -1.0f, 1.0f);
    op_fill_uniform(m->C, (size_t)L * s->N, seed + 4, -1.0f, 1.0f);
}

static void m2_fill_params(m2_inst *m, uint64_t seed)
{
    const int H = m->s.H;
    op_fill_uniform(m->A_log, (size_t)H, seed + 5, 1.0f, 16.0f);
    op_fill_uniform(m->dt_bias, (size_t)H, seed + 6, logf(1e-3f), logf(1e-1f));
    op_fill_uniform(m->D, (size_t)H, seed + 7, 0.5f, 1.5f);
    for (int h = 0; h < H; h++) {
        m->A_log[h] = logf(m->A_log[h]);
        const double d0 = exp((double)m->dt_bias[h]);  /* delta0, log-uniform */
        m->dt_bias[h] = (float)(d0 + log(-expm1(-d0))); /* softplus^-1(delta0) */
    }
}

/* ---- check and cost ---------------------------------------------------------------------- */

static int m2_check_common(const op_dims *d, cb_err *err)
{
    if (op_check_range("seq_len", d->seq_len, M2_MAX_SEQ, err) ||
        op_check_range("n_heads", d->n_heads, M2_MAX_DIM, err) ||
        op_check_range("head_dim", d->head_dim, M2_MAX_DIM, err) ||
        op_check_range("d_state", d->d_state, M2_MAX_DIM, err))
        return -1;
    const int64_t x[] = {d->seq_len, d->n_heads, d->head_dim};
    const int64_t bc[] = {d->seq_len, d->d_state};
    const int64_t st[] = {d->n_heads, d->d_state, d->head_dim};
    if (op_check_bytes("x (seq_len, n_heads, head_dim)", 4, 3, x, err) ||
        op_check_bytes("B (seq_len, d_state)", 4, 2, bc, err) ||
        op_check_bytes("state (n_heads, d_state, head_dim)", 8, 3, st, err))
        return -1;
    return 0;
}

static int m2_check_prefill(const op_dims *d, cb_err *err) { return m2_check_common(d, err); }

static int m2_check_chunked(const op_dims *d, cb_err *err)
{
    if (m2_check_common(d, err))
        return -1;
    if (d->chunk < 0 || d->chunk > M2_MAX_DIM)
        return cb_fail(err, "chunk = %d is out of range (0 for the default, or 1 to %d)",
                       d->chunk, M2_MAX_DIM);
    return 0; /* the chunk scratch is O(chunk (chunk + head_dim + d_state)): bounded */
}

static int m2_check_step(const op_dims *d, cb_err *err) { return m2_check_common(d, err); }

static op_ssd_shape m2_shape(const op_dims *d)
{
    op_ssd_shape s = {d->seq_len, d->n_heads, d->head_dim, d->d_state};
    return s;
}

static op_cost m2_cost_recurrent(const op_dims *d)
{
    op_ssd_shape s = m2_shape(d);
    op_cost c = {op_ssd_recurrent_flops(&s), op_ssd_prefill_bytes(&s), op_ssd_state_bytes(&s)};
    return c;
}

static op_cost m2_cost_chunked(const op_dims *d)
{
    op_ssd_shape s = m2_shape(d);
    op_cost c = {op_ssd_chunked_flops(&s, m2_chunk(d), 1), op_ssd_prefill_bytes(&s),
                 op_ssd_state_bytes(&s)};
    return c;
}

static op_cost m2_cost_step(const op_dims *d)
{
    op_ssd_shape s = m2_shape(d);
    op_cost c = {op_ssd_step_flops(&s), op_ssd_step_bytes(&s), op_ssd_state_bytes(&s)};
    return c;
}

/* ---- create and destroy ------------------------------------------------------------------ */

static void m2_destroy(void *inst)
{
    m2_inst *m = inst;
    if (!m)
        return;
    free(m->x);
    free(m->dt);
    free(m->dt_bias);
    free(m->A_log);
    free(m->B);
    free(m->C);
    free(m->D);
    free(m->y);
    free(m->state);
    free(m->state0);
    free(m->runs);
    free(m->scratch);
    free(m);
}

/* Allocates the buffers for inputs of `tokens` tokens (1 for the step). */
static int m2_alloc_all(m2_inst *m, int64_t tokens, cb_err *err)
{
    const op_ssd_shape *s = &m->s;
    const size_t T = (size_t)tokens, H = (size_t)s->H, P = (size_t)s->P, N = (size_t)s->N;
    m->x = m2_alloc(4 * T * H * P);
    m->dt = m2_alloc(4 * T * H);
    m->dt_bias = m2_alloc(4 * H);
    m->A_log = m2_alloc(4 * H);
    m->B = m2_alloc(4 * T * N);
    m->C = m2_alloc(4 * T * N);
    m->D = m2_alloc(4 * H);
    m->y = m2_alloc(4 * T * H * P);
    m->state = m2_alloc(4 * H * N * P);
    if (!m->x || !m->dt || !m->dt_bias || !m->A_log || !m->B || !m->C || !m->D || !m->y ||
        !m->state)
        return cb_fail(err, "mamba2_ssd: out of memory for L = %lld", (long long)tokens);
    for (size_t i = 0; i < T * H * P; i++)
        m->y[i] = NAN; /* a row no worker writes shows in verify() */
    return 0;
}

/* The decode state: the recurrence over a generated prefix of min(L, 256). */
static int m2_step_state(m2_inst *m, int64_t L, uint64_t seed, cb_err *err)
{
    const int64_t T = L < M2_STEP_PREFIX ? L : M2_STEP_PREFIX;
    const size_t H = (size_t)m->s.H;
    m2_inst *pre = calloc(1, sizeof *pre);
    if (!pre)
        return cb_fail(err, "mamba2_ssd: out of memory");
    pre->s = m->s;
    pre->s.L = T;
    int rc = m2_alloc_all(pre, T, err);
    if (rc == 0) {
        m2_fill(pre, T, seed + 100);
        memcpy(pre->A_log, m->A_log, 4 * H);
        memcpy(pre->dt_bias, m->dt_bias, 4 * H);
        memcpy(pre->D, m->D, 4 * H);
        op_ssd_in in = m2_in(pre);
        op_ssd_recurrent_part(&pre->s, &in, NULL, pre->y, m->state, 0, 1);
    }
    m2_destroy(pre);
    return rc;
}

static int m2_create(enum m2_impl impl, const op_dims *d, uint64_t seed, int max_workers,
                     void **inst, cb_err *err)
{
    *inst = NULL;
    int rc = impl == M2_CHUNKED ? m2_check_chunked(d, err) : m2_check_common(d, err);
    if (rc)
        return -1;
    if (max_workers < 1)
        return cb_fail(err, "mamba2_ssd: max_workers = %d (must be at least 1)", max_workers);
    m2_inst *m = calloc(1, sizeof *m);
    if (!m)
        return cb_fail(err, "mamba2_ssd: out of memory");
    m->impl = impl;
    m->s = m2_shape(d);
    m->q = m2_chunk(d);
    const int64_t tokens = impl == M2_STEP ? 1 : d->seq_len;
    if (m2_alloc_all(m, tokens, err))
        goto fail;
    m2_fill_params(m, seed);
    m2_fill(m, tokens, seed);
    if (impl == M2_CHUNKED) {
        m->scratch = m2_alloc(op_ssd_chunked_scratch_bytes(&m->s, m->q, max_workers));
        if (!m->scratch) {
            cb_fail(err, "mamba2_ssd: out of memory for the chunk scratch");
            goto fail;
        }
    }
    if (impl == M2_STEP) {
        const size_t n = (size_t)m->s.H * m->s.N * m->s.P;
        m->state0 = m2_alloc(4 * n);
        m->runs = calloc((size_t)m->s.H, sizeof *m->runs);
        if (!m->state0 || !m->runs) {
            cb_fail(err, "mamba2_ssd: out of memory");
            goto fail;
        }
        if (m2_step_state(m, d->seq_len, seed, err))
            goto fail;
        memcpy(m->state0, m->state, 4 * n);
    }
    *inst = m;
    return 0;
fail:
    m2_destroy(m);
    return -1;
}

static int m2_create_recurrent(const op_dims *d, uint64_t seed, int max_workers, void **inst,
                               cb_err *err)
{
    return m2_create(M2_RECURRENT, d, seed, max_workers, inst, err);
}

static int m2_create_chunked(const op_dims *d, uint64_t seed, int max_workers, void **inst,
                             cb_err *err)
{
    return m2_create(M2_CHUNKED, d, seed, max_workers, inst, err);
}

static int m2_create_step(const op_dims *d, uint64_t seed, int max_workers, void **inst,
                          cb_err *err)
{
    return m2_create(M2_STEP, d, seed, max_workers, inst, err);
}

/* ---- run --------------------------------------------------------------------------------- */

static void m2_run_recurrent(void *inst, int worker, int n_workers)
{
    m2_inst *m = inst;
    op_ssd_in in = m2_in(m);
    op_ssd_recurrent_part(&m->s, &in, NULL, m->y, m->state, worker, n_workers);
}

static void m2_run_chunked(void *inst, int worker, int n_workers)
{
    m2_inst *m = inst;
    op_ssd_in in = m2_in(m);
    op_ssd_chunked_part(&m->s, &in, m->q, NULL, m->y, m->state, m->scratch, worker, n_workers);
}

static void m2_run_step(void *inst, int worker, int n_workers)
{
    m2_inst *m = inst;
    op_ssd_in in = m2_in(m);
    op_ssd_step_part(&m->s, &in, m->state, m->y, worker, n_workers);
    int lo, hi;
    op_ssd_heads(m->s.H, worker, n_workers, &lo, &hi);
    for (int h = lo; h < hi; h++)
        m->runs[h]++;
}

/* ---- verify ------------------------------------------------------------------------------ */

static const char *m2_name(const m2_inst *m)
{
    return m->impl == M2_RECURRENT ? "mamba2_ssd.recurrent"
           : m->impl == M2_CHUNKED ? "mamba2_ssd.chunked"
                                   : "mamba2_ssd.step";
}

/* 1 when got is within SSD_TOL x scale of want (NaN fails). */
static int m2_close(double got, double want, double scale)
{
    return fabs(got - want) <= SSD_TOL * scale + 1e-30;
}

/* Compares head h's state with the reference's, scaled by the largest
 * reference magnitude of that head (plus the absolute bound scale0). */
static int m2_cmp_state(const m2_inst *m, const float *ref, int h, cb_err *err)
{
    const size_t NP = (size_t)m->s.N * m->s.P;
    const float *got = m->state + h * NP, *want = ref + h * NP;
    double big = 0.0;
    for (size_t i = 0; i < NP; i++)
        big = fmax(big, fabs(want[i]));
    for (size_t i = 0; i < NP; i++)
        if (!m2_close(got[i], want[i], big))
            return cb_fail(err, "%s: state[h=%d, n=%zu, p=%zu] = %.9g, reference %.9g "
                           "(tolerance %.3g)", m2_name(m), h, i / (size_t)m->s.P,
                           i % (size_t)m->s.P, got[i], want[i], SSD_TOL * big);
    return 0;
}

/* The heads verify() checks: all when affordable, else an even spread
 * (always including the last head) within M2_VERIFY_BUDGET. */
static int m2_pick_heads(const op_ssd_shape *s, int *heads)
{
    const double per_head = (double)s->L * s->N * s->P;
    int n = (int)fmin((double)s->H, fmax(1.0, M2_VERIFY_BUDGET / per_head));
    for (int i = 0; i < n; i++)
        heads[i] = n == 1 ? s->H - 1 : (int)((int64_t)i * (s->H - 1) / (n - 1));
    return n;
}

static int m2_verify_prefill(m2_inst *m, cb_err *err)
{
    const op_ssd_shape *s = &m->s;
    const size_t rows = (size_t)s->L * s->H * s->P;
    float *yr = m2_alloc(4 * rows), *mag = m2_alloc(4 * rows);
    float *sr = m2_alloc(4 * (size_t)s->H * s->N * s->P);
    void *scr = m2_alloc(op_ssd_ref_scratch_bytes(s));
    int *heads = malloc(sizeof(int) * (size_t)s->H);
    int rc = 0;
    if (!yr || !mag || !sr || !scr || !heads) {
        rc = cb_fail(err, "%s: verify: out of memory", m2_name(m));
        goto done;
    }
    op_ssd_in in = m2_in(m);
    const int nh = m2_pick_heads(s, heads);
    for (int k = 0; k < nh && rc == 0; k++) {
        const int h = heads[k];
        op_ssd_ref(s, &in, NULL, h, h + 1, yr, mag, sr, scr);
        for (int64_t t = 0; t < s->L && rc == 0; t++)
            for (int p = 0; p < s->P; p++) {
                const size_t o = ((size_t)t * s->H + h) * s->P + p;
                if (!m2_close(m->y[o], yr[o], mag[o])) {
                    rc = cb_fail(err, "%s: y[t=%lld, h=%d, p=%d] = %.9g, reference %.9g "
                                 "(tolerance %.3g)", m2_name(m), (long long)t, h, p, m->y[o],
                                 yr[o], SSD_TOL * mag[o]);
                    break;
                }
            }
        if (rc == 0)
            rc = m2_cmp_state(m, sr, h, err);
    }
done:
    free(yr), free(mag), free(sr), free(scr), free(heads);
    return rc;
}

/* The step's reference: k identical steps from state0 in closed form (see the
 * file comment), for every head. */
static int m2_verify_step(m2_inst *m, cb_err *err)
{
    const int H = m->s.H, P = m->s.P, N = m->s.N;
    const size_t NP = (size_t)N * P;
    for (int h = 0; h < H; h++) {
        const uint64_t k = m->runs[h];
        if (k == 0)
            return cb_fail(err, "%s: head %d has not been run", m2_name(m), h);
        const double v = (double)m->dt[h] + m->dt_bias[h];
        const double delta = v > 30.0 ? v : log1p(exp(v));
        const double dA = exp(-exp((double)m->A_log[h]) * delta);
        const double dk = pow(dA, (double)k);
        const double geo = dA < 1.0 ? (1.0 - dk) / (1.0 - dA) : (double)k;
        const float *h0 = m->state0 + h * NP, *hs = m->state + h * NP;
        for (int p = 0; p < P; p++) {
            const double xp = m->x[(size_t)h * P + p], Dx = (double)m->D[h] * xp;
            double acc = Dx, mag = fabs(Dx);
            for (int n = 0; n < N; n++) {
                const size_t i = (size_t)n * P + p;
                const double u = delta * xp * m->B[n];
                const double want = dk * h0[i] + geo * u;
                const double scale = dk * fabs(h0[i]) + geo * fabs(u);
                if (!m2_close(hs[i], want, scale))
                    return cb_fail(err, "%s: state[h=%d, n=%d, p=%d] = %.9g after %llu runs, "
                                   "reference %.9g (tolerance %.3g)", m2_name(m), h, n, p,
                                   hs[i], (unsigned long long)k, want, SSD_TOL * scale);
                acc += want * m->C[n];
                mag += scale * fabs((double)m->C[n]);
            }
            const float got = m->y[(size_t)h * P + p];
            if (!m2_close(got, acc, mag))
                return cb_fail(err, "%s: y[h=%d, p=%d] = %.9g, reference %.9g (tolerance %.3g)",
                               m2_name(m), h, p, got, acc, SSD_TOL * mag);
        }
    }
    return 0;
}

static int m2_verify(void *inst, cb_err *err)
{
    m2_inst *m = inst;
    return m->impl == M2_STEP ? m2_verify_step(m, err) : m2_verify_prefill(m, err);
}

/* ---- the entries ------------------------------------------------------------------------- */

static const op_entry m2_recurrent = {
    .name = "mamba2_ssd.recurrent", .op = "mamba2_ssd", .impl = "recurrent",
    .family = "sub-quadratic", .phase = "prefill", .uses = "seq_len n_heads head_dim d_state",
    .tolerance = SSD_TOL, .check = m2_check_prefill, .cost = m2_cost_recurrent,
    .create = m2_create_recurrent, .run = m2_run_recurrent, .verify = m2_verify,
    .destroy = m2_destroy,
};

static const op_entry m2_chunked = {
    .name = "mamba2_ssd.chunked", .op = "mamba2_ssd", .impl = "chunked",
    .family = "sub-quadratic", .phase = "prefill",
    .uses = "seq_len n_heads head_dim d_state chunk", .tolerance = SSD_TOL,
    .check = m2_check_chunked, .cost = m2_cost_chunked, .create = m2_create_chunked,
    .run = m2_run_chunked, .verify = m2_verify, .destroy = m2_destroy,
};

static const op_entry m2_step = {
    .name = "mamba2_ssd.step", .op = "mamba2_ssd", .impl = "step", .family = "sub-quadratic",
    .phase = "decode", .uses = "seq_len n_heads head_dim d_state", .tolerance = SSD_TOL,
    .check = m2_check_step, .cost = m2_cost_step, .create = m2_create_step, .run = m2_run_step,
    .verify = m2_verify, .destroy = m2_destroy,
};

const op_entry *const op_family_mamba2[] = {&m2_recurrent, &m2_chunked, &m2_step, NULL};
