/* operators/linear_entry.c — the registry entries of the linear-attention
 * family (op_family_linear): causal linear attention and retention, prefill
 * (recurrent, chunked, and retention's quadratic parallel form) and decode
 * (step), over the kernels of linear_attention.h.
 *
 * Shapes: seq_len L, n_heads H, head_dim D (keys and values both D wide);
 * n_kv_heads must be 0 or equal n_heads (no grouped heads here); chunk
 * (chunked entries) 0 = OP_LA_DEFAULT_CHUNK.  Inputs are uniform in [-1, 1)
 * from the seed: q, k, v of every token (retention scales q by 1/sqrt(D), so
 * q.k/sqrt(D) has a standard deviation of 1/3).  Retention's decays follow
 * op_retention_gamma (RetNet's schedule stretched over H heads).
 *
 * Decode (step) entries: create() builds each head's state from L random
 * tokens (the chunked kernel in state-only mode), so S and z are exactly "as
 * if L tokens had been processed"; run() appends ONE token (the same q, k, v
 * every time) and updates the state in place.  Repeated runs keep it bounded:
 * retention's state tends to k v^T / (1 - gamma) geometrically; linear
 * attention's S and z grow by phi(k) v^T and phi(k) (|.| <= e^1 * 1) per run,
 * linearly: after a million runs that is ~1e6, far from fp32's 3e38, and the
 * output stays a convex combination of values (|o| <= max |v|), so the growth
 * is harmless for any number of runs a measurement makes (the state is never
 * reset inside run()).
 *
 * verify(): prefill entries compare with the per-row double reference: every
 * row of every head when that costs at most ~3e7 multiply-adds, otherwise
 * (the reference is O(L^2 D) per head, far more than one sub-quadratic run) a
 * spread of heads (first, middle, last) and rows (the first ones, around the
 * 16/32/64 block and chunk boundaries, a third, half, the last two), which
 * costs a few runs at most.  Step entries recompute the last output from the
 * state after it (all heads) and check the state itself against its closed
 * form after n runs: S0 + n phi(k) v^T (z0 + n phi(k)) or gamma^n S0 +
 * (1 - gamma^n)/(1 - gamma) k v^T, within the float rounding of n updates.
 *
 * Never: print, time, or touch another family's entries. */
#include <assert.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "operators/linear_attention.h"
#include "operators/op.h"

#define LA_MAX_SEQ ((int64_t)1 << 40) /* beyond it buffers fail the byte checks anyway */
#define LA_MAX_HEADS 65536
#define LA_FULL_VERIFY 3e7            /* reference multiply-adds verify() spends on all rows */

typedef struct la_inst {
    int ret;              /* 0: linear attention, 1: retention */
    op_la_form form;
    const char *name;     /* entry name, for messages */
    int H, D, chunk;
    int64_t L;
    int max_workers;
    float *Q, *K, *V, *O; /* prefill (H, L, D); step q, k, v, o (H, D) */
    float *S, *z;         /* step: (H, D, D), (H, D) (z: linear attention) */
    float *S0, *z0;       /* step: the state create() built, for verify's closed form */
    float *gamma;         /* (H) retention decays */
    void *scratch;        /* the kernels' scratch for max_workers */
    long n_runs;          /* step: completed runs (counted by worker 0) */
} la_inst;

/* ---- check ---------------------------------------------------------------------------------- */

/* Shape checks shared by every entry; chunked: chunk is used; parallel: its
 * scratch grows as L D. */
static int la_check(const op_dims *d, int chunked, int parallel, cb_err *err)
{
    if (op_check_range("seq_len", d->seq_len, LA_MAX_SEQ, err) != 0 ||
        op_check_range("n_heads", d->n_heads, LA_MAX_HEADS, err) != 0)
        return -1;
    if (d->n_kv_heads != 0 && d->n_kv_heads != d->n_heads)
        return cb_fail(err,
                       "n_kv_heads = %d must be 0 or equal n_heads = %d (linear attention "
                       "and retention have one key/value head per head)",
                       d->n_kv_heads, d->n_heads);
    if (op_check_range("head_dim", d->head_dim, OP_LA_MAX_HEAD_DIM, err) != 0)
        return -1;
    if (chunked && d->chunk != 0 && op_check_range("chunk", d->chunk, OP_LA_MAX_CHUNK, err) != 0)
        return -1;
    const int64_t qkv[3] = {d->n_heads, d->seq_len, d->head_dim};
    if (op_check_bytes("Q, K, V, O (n_heads x seq_len x head_dim floats)", sizeof(float), 3, qkv,
                       err) != 0)
        return -1;
    const int64_t st[3] = {d->n_heads, d->head_dim, d->head_dim};
    if (op_check_bytes("state (n_heads x head_dim x head_dim floats)", sizeof(float), 3, st,
                       err) != 0)
        return -1;
    const int64_t par[3] = {4, d->seq_len + OP_LA_BLOCK, d->head_dim + 16};
    if (parallel && op_check_bytes("parallel scratch (4 x seq_len x head_dim floats)",
                                   sizeof(float), 3, par, err) != 0)
        return -1;
    return 0;
}

static int check_plain(const op_dims *d, cb_err *err) { return la_check(d, 0, 0, err); }
static int check_chunked(const op_dims *d, cb_err *err) { return la_check(d, 1, 0, err); }
static int check_parallel(const op_dims *d, cb_err *err) { return la_check(d, 0, 1, err); }

/* ---- cost ------------------------------------------------------------------------------------ */

static op_cost la_cost(int ret, op_la_form form, const op_dims *d)
{
    op_cost c;
    int chunk = form == OP_LA_CHUNKED ? d->chunk : 0;
    c.flops = ret ? op_retention_flops(form, d->n_heads, d->seq_len, d->head_dim, chunk)
                  : op_linattn_flops(form, d->n_heads, d->seq_len, d->head_dim, chunk);
    c.bytes = op_la_bytes(form, d->n_heads, d->seq_len, d->head_dim, !ret);
    c.state_bytes = form == OP_LA_PARALLEL ? 0.0 : op_la_state_bytes(d->n_heads, d->head_dim, !ret);
    return c;
}

static op_cost cost_lin_rec(const op_dims *d) { return la_cost(0, OP_LA_RECURRENT, d); }
static op_cost cost_lin_chunk(const op_dims *d) { return la_cost(0, OP_LA_CHUNKED, d); }
static op_cost cost_lin_step(const op_dims *d) { return la_cost(0, OP_LA_STEP, d); }
static op_cost cost_ret_rec(const op_dims *d) { return la_cost(1, OP_LA_RECURRENT, d); }
static op_cost cost_ret_par(const op_dims *d) { return la_cost(1, OP_LA_PARALLEL, d); }
static op_cost cost_ret_chunk(const op_dims *d) { return la_cost(1, OP_LA_CHUNKED, d); }
static op_cost cost_ret_step(const op_dims *d) { return la_cost(1, OP_LA_STEP, d); }

/* ---- create / destroy ------------------------------------------------------------------------ */

static void la_destroy(void *p)
{
    la_inst *x = p;
    if (!x)
        return;
    free(x->Q);
    free(x->K);
    free(x->V);
    free(x->O);
    free(x->S);
    free(x->z);
    free(x->S0);
    free(x->z0);
    free(x->gamma);
    free(x->scratch);
    free(x);
}

static float *alloc_floats(size_t n)
{
    return malloc((n ? n : 1) * sizeof(float));
}

/* Each head's state as if L tokens had been processed: random k, v of L
 * tokens through the chunked kernel (state only).  Returns 0 or -1 (memory). */
static int build_state(la_inst *x, uint64_t seed)
{
    const size_t n = (size_t)x->L * x->D;
    float *Kh = alloc_floats(n), *Vh = alloc_floats(n);
    void *scr = malloc(op_la_chunked_scratch_bytes(x->D, 0, 1));
    int rc = Kh && Vh && scr ? 0 : -1;
    for (int h = 0; rc == 0 && h < x->H; h++) {
        op_fill_uniform(Kh, n, seed + 101 + 2 * (uint64_t)h, -1.0f, 1.0f);
        op_fill_uniform(Vh, n, seed + 102 + 2 * (uint64_t)h, -1.0f, 1.0f);
        float *S = x->S + (size_t)h * x->D * x->D;
        if (x->ret)
            op_retention_chunked_part(NULL, Kh, Vh, NULL, S, x->gamma + h, 1, x->L, x->D, 0,
                                      scr, 0, 1);
        else
            op_linattn_chunked_part(NULL, Kh, Vh, NULL, S, x->z + (size_t)h * x->D, 1, x->L,
                                    x->D, 0, scr, 0, 1);
    }
    free(Kh);
    free(Vh);
    free(scr);
    return rc;
}

static size_t la_scratch_bytes(const la_inst *x)
{
    switch (x->form) {
    case OP_LA_RECURRENT: return op_la_recurrent_scratch_bytes(x->D, x->max_workers);
    case OP_LA_CHUNKED: return op_la_chunked_scratch_bytes(x->D, x->chunk, x->max_workers);
    case OP_LA_PARALLEL: return op_retention_parallel_scratch_bytes(x->L, x->D, x->max_workers);
    case OP_LA_STEP: return 0;
    }
    return 0;
}

static int la_create(int ret, op_la_form form, const char *name, const op_dims *d,
                     uint64_t seed, int max_workers, void **out, cb_err *err)
{
    *out = NULL;
    if (la_check(d, form == OP_LA_CHUNKED, form == OP_LA_PARALLEL, err) != 0)
        return cb_wrap(err, "%s", name);
    if (max_workers < 1)
        return cb_fail(err, "%s: max_workers = %d must be at least 1", name, max_workers);
    la_inst *x = calloc(1, sizeof *x);
    if (!x)
        return cb_fail(err, "%s: out of memory", name);
    x->ret = ret;
    x->form = form;
    x->name = name;
    x->H = d->n_heads;
    x->D = d->head_dim;
    x->L = d->seq_len;
    x->chunk = form == OP_LA_CHUNKED ? d->chunk : 0;
    x->max_workers = max_workers;
    const int step = form == OP_LA_STEP;
    const size_t n_io = (size_t)x->H * (step ? 1 : (size_t)x->L) * x->D;
    const size_t n_state = (size_t)x->H * x->D * x->D, n_z = (size_t)x->H * x->D;
    int ok = (x->Q = alloc_floats(n_io)) && (x->K = alloc_floats(n_io)) &&
             (x->V = alloc_floats(n_io)) && (x->O = alloc_floats(n_io)) &&
             (x->gamma = alloc_floats((size_t)x->H));
    size_t scr = la_scratch_bytes(x);
    if (ok && scr)
        ok = (x->scratch = malloc(scr)) != NULL;
    if (ok && step)
        ok = (x->S = alloc_floats(n_state)) && (x->z = alloc_floats(n_z)) &&
             (x->S0 = alloc_floats(n_state)) && (x->z0 = alloc_floats(n_z));
    if (!ok) {
        la_destroy(x);
        return cb_fail(err, "%s: out of memory", name);
    }
    for (int h = 0; h < x->H; h++)
        x->gamma[h] = ret ? op_retention_gamma(h, x->H) : 1.0f;
    op_fill_uniform(x->Q, n_io, seed * 16 + 1, -1.0f, 1.0f);
    op_fill_uniform(x->K, n_io, seed * 16 + 2, -1.0f, 1.0f);
    op_fill_uniform(x->V, n_io, seed * 16 + 3, -1.0f, 1.0f);
    for (size_t i = 0; i < n_io; i++) /* nothing computed yet: verify() must fail */
        x->O[i] = NAN;
    if (step) {
        memset(x->S, 0, n_state * sizeof(float));
        memset(x->z, 0, n_z * sizeof(float));
        if (build_state(x, seed * 16) != 0) {
            la_destroy(x);
            return cb_fail(err, "%s: out of memory", name);
        }
        memcpy(x->S0, x->S, n_state * sizeof(float));
        memcpy(x->z0, x->z, n_z * sizeof(float));
    }
    *out = x;
    return 0;
}

#define LA_CREATE(fn, ret, form, name)                                                    \
    static int fn(const op_dims *d, uint64_t seed, int max_workers, void **inst, cb_err *err) \
    {                                                                                     \
        return la_create(ret, form, name, d, seed, max_workers, inst, err);              \
    }
LA_CREATE(create_lin_rec, 0, OP_LA_RECURRENT, "linear_attention.recurrent")
LA_CREATE(create_lin_chunk, 0, OP_LA_CHUNKED, "linear_attention.chunked")
LA_CREATE(create_lin_step, 0, OP_LA_STEP, "linear_attention.step")
LA_CREATE(create_ret_rec, 1, OP_LA_RECURRENT, "retention.recurrent")
LA_CREATE(create_ret_par, 1, OP_LA_PARALLEL, "retention.parallel")
LA_CREATE(create_ret_chunk, 1, OP_LA_CHUNKED, "retention.chunked")
LA_CREATE(create_ret_step, 1, OP_LA_STEP, "retention.step")

/* ---- run ------------------------------------------------------------------------------------- */

static void la_run(void *p, int worker, int n_workers)
{
    la_inst *x = p;
    assert(n_workers >= 1 && n_workers <= x->max_workers && worker >= 0 && worker < n_workers);
    switch (x->form) {
    case OP_LA_RECURRENT:
        if (x->ret)
            op_retention_recurrent_part(x->Q, x->K, x->V, x->O, NULL, x->gamma, x->H, x->L,
                                        x->D, x->scratch, worker, n_workers);
        else
            op_linattn_recurrent_part(x->Q, x->K, x->V, x->O, NULL, NULL, x->H, x->L, x->D,
                                      x->scratch, worker, n_workers);
        break;
    case OP_LA_CHUNKED:
        if (x->ret)
            op_retention_chunked_part(x->Q, x->K, x->V, x->O, NULL, x->gamma, x->H, x->L, x->D,
                                      x->chunk, x->scratch, worker, n_workers);
        else
            op_linattn_chunked_part(x->Q, x->K, x->V, x->O, NULL, NULL, x->H, x->L, x->D,
                                    x->chunk, x->scratch, worker, n_workers);
        break;
    case OP_LA_PARALLEL:
        op_retention_parallel_part(x->Q, x->K, x->V, x->O, x->gamma, x->H, x->L, x->D,
                                   x->scratch, worker, n_workers);
        break;
    case OP_LA_STEP:
        if (x->ret)
            op_retention_step_part(x->Q, x->K, x->V, x->O, x->S, x->gamma, x->H, x->D, worker,
                                   n_workers);
        else
            op_linattn_step_part(x->Q, x->K, x->V, x->O, x->S, x->z, x->H, x->D, worker,
                                 n_workers);
        if (worker == 0)
            x->n_runs++;
        break;
    }
}

/* ---- verify ---------------------------------------------------------------------------------- */

/* Compares n fast values with the reference; -1 with err naming the first bad one. */
static int compare(const la_inst *x, const char *what, int h, int64_t t, const float *got,
                   const double *want, const double *mag, int n, cb_err *err)
{
    for (int d = 0; d < n; d++) {
        double diff = fabs((double)got[d] - want[d]), tol = OP_LA_TOL * mag[d] + 1e-30;
        if (!(diff <= tol))
            return cb_fail(err,
                           "%s: %s[head %d][token %lld][%d] = %.9g, reference %.9g "
                           "(|diff| %.3g > tolerance %.3g)",
                           x->name, what, h, (long long)t, d, got[d], want[d], diff, tol);
    }
    return 0;
}

/* Checks row t of head h of a prefill output. */
static int verify_row(const la_inst *x, int h, int64_t t, cb_err *err)
{
    double o[OP_LA_MAX_HEAD_DIM], mag[OP_LA_MAX_HEAD_DIM];
    const size_t off = (size_t)h * x->L * x->D;
    if (x->ret)
        op_retention_ref_row(x->Q + off, x->K + off, x->V + off, x->L, x->D, x->gamma[h], t, o,
                             mag);
    else
        op_linattn_ref_row(x->Q + off, x->K + off, x->V + off, x->L, x->D, t, o, mag);
    return compare(x, "O", h, t, x->O + off + (size_t)t * x->D, o, mag, x->D, err);
}

static int verify_prefill(const la_inst *x, cb_err *err)
{
    const double L = (double)x->L;
    if (x->H * L * (L + 1) / 2 * x->D <= LA_FULL_VERIFY) {
        for (int h = 0; h < x->H; h++)
            for (int64_t t = 0; t < x->L; t++)
                if (verify_row(x, h, t, err) != 0)
                    return -1;
        return 0;
    }
    const int heads[3] = {0, x->H / 2, x->H - 1};
    const int64_t rows[] = {0, 1, 2, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128,
                            x->L / 3, x->L / 2, x->L - 2, x->L - 1};
    for (int i = 0; i < 3; i++)
        for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++)
            if (rows[r] >= 0 && rows[r] < x->L && verify_row(x, heads[i], rows[r], err) != 0)
                return -1;
    return 0;
}

/* Element e of a head's state against its closed form after n runs (in double). */
static int check_state_elem(const la_inst *x, const char *what, int h, size_t e, double got,
                            double want, double tol, cb_err *err)
{
    double diff = fabs(got - want);
    if (!(diff <= tol))
        return cb_fail(err,
                       "%s: %s[head %d][%zu] = %.9g after %ld runs, closed form %.9g "
                       "(|diff| %.3g > %.3g)",
                       x->name, what, h, e, got, x->n_runs, want, diff, tol);
    return 0;
}

/* The state after n runs against S0 + n a (linear) or gamma^n S0 + (1 - gamma^n)/(1 - gamma) a
 * (retention), a = phi(k) v^T or k v^T, within the float rounding of n updates. */
static int verify_state(const la_inst *x, int h, cb_err *err)
{
    const int D = x->D;
    const double n = (double)x->n_runs, eps = FLT_EPSILON;
    const float *k = x->K + (size_t)h * D, *v = x->V + (size_t)h * D;
    const size_t so = (size_t)h * D * D;
    double fk[OP_LA_MAX_HEAD_DIM];
    for (int i = 0; i < D; i++)
        fk[i] = x->ret ? k[i] : op_la_phi(k[i]);
    double g = x->gamma[h], gn = x->ret ? pow(g, n) : 1.0;
    double geo = x->ret ? (1.0 - gn) / (1.0 - g) : n;          /* sum of g^m, m < n */
    double reach = x->ret ? fmin(n, 1.0 / (1.0 - g)) : n + 1;   /* how far errors accumulate */
    for (int i = 0; i < D; i++) {
        for (int j = 0; j < D; j++) {
            size_t e = (size_t)i * D + j;
            double a = fk[i] * v[j], s0 = x->S0[so + e];
            double bound = fabs(s0) + fabs(a) * (x->ret ? 1.0 / (1.0 - g) : n);
            if (check_state_elem(x, "S", h, e, x->S[so + e], gn * s0 + geo * a,
                                 4 * eps * reach * bound + 1e-30, err) != 0)
                return -1;
        }
        if (!x->ret) {
            double z0 = x->z0[(size_t)h * D + i];
            if (check_state_elem(x, "z", h, (size_t)i, x->z[(size_t)h * D + i], z0 + n * fk[i],
                                 4 * eps * reach * (z0 + n * fk[i]) + 1e-30, err) != 0)
                return -1;
        }
    }
    return 0;
}

static int verify_step(const la_inst *x, cb_err *err)
{
    if (x->n_runs < 1)
        return cb_fail(err, "%s: verify before any run()", x->name);
    double o[OP_LA_MAX_HEAD_DIM], mag[OP_LA_MAX_HEAD_DIM];
    for (int h = 0; h < x->H; h++) {
        const size_t r = (size_t)h * x->D;
        const float *S = x->S + r * x->D;
        if (x->ret)
            op_retention_step_out_ref(S, x->Q + r, x->D, o, mag);
        else
            op_linattn_step_out_ref(S, x->z + r, x->Q + r, x->D, o, mag);
        if (compare(x, "o", h, x->L, x->O + r, o, mag, x->D, err) != 0 ||
            verify_state(x, h, err) != 0)
            return -1;
    }
    return 0;
}

static int la_verify(void *p, cb_err *err)
{
    const la_inst *x = p;
    return x->form == OP_LA_STEP ? verify_step(x, err) : verify_prefill(x, err);
}

/* ---- the family ------------------------------------------------------------------------------ */

#define LA_USES "seq_len n_heads n_kv_heads head_dim"

static const op_entry lin_recurrent = {
    "linear_attention.recurrent", "linear_attention", "recurrent", "sub-quadratic", "prefill",
    LA_USES, OP_LA_TOL, check_plain, cost_lin_rec, create_lin_rec, la_run, la_verify,
    la_destroy};
static const op_entry lin_chunked = {
    "linear_attention.chunked", "linear_attention", "chunked", "sub-quadratic", "prefill",
    LA_USES " chunk", OP_LA_TOL, check_chunked, cost_lin_chunk, create_lin_chunk, la_run,
    la_verify, la_destroy};
static const op_entry lin_step = {
    "linear_attention.step", "linear_attention", "step", "sub-quadratic", "decode",
    LA_USES, OP_LA_TOL, check_plain, cost_lin_step, create_lin_step, la_run, la_verify,
    la_destroy};
static const op_entry ret_recurrent = {
    "retention.recurrent", "retention", "recurrent", "sub-quadratic", "prefill",
    LA_USES, OP_LA_TOL, check_plain, cost_ret_rec, create_ret_rec, la_run, la_verify,
    la_destroy};
static const op_entry ret_parallel = {
    "retention.parallel", "retention", "parallel", "quadratic", "prefill",
    LA_USES, OP_LA_TOL, check_parallel, cost_ret_par, create_ret_par, la_run, la_verify,
    la_destroy};
static const op_entry ret_chunked = {
    "retention.chunked", "retention", "chunked", "sub-quadratic", "prefill",
    LA_USES " chunk", OP_LA_TOL, check_chunked, cost_ret_chunk, create_ret_chunk, la_run,
    la_verify, la_destroy};
static const op_entry ret_step = {
    "retention.step", "retention", "step", "sub-quadratic", "decode",
    LA_USES, OP_LA_TOL, check_plain, cost_ret_step, create_ret_step, la_run, la_verify,
    la_destroy};

const op_entry *const op_family_linear[] = {
    &lin_recurrent, &lin_chunked, &lin_step, &ret_recurrent,
    &ret_parallel,  &ret_chunked, &ret_step, NULL,
};
