/* operators/mamba1_entry.c — the Mamba-1 family's registry entries
 * (op_family_mamba1): the selective scan (sequential and chunked prefill, one
 * decode step) and the causal depthwise conv1d that precedes it (prefill,
 * decode step).  Kernels live in selective_scan.c and conv1d.c; this file
 * allocates and fills buffers (create), runs a worker's share (run), and
 * compares with the references (verify).
 *
 * Inputs are filled as a real checkpoint and its activations would give:
 * A_log[d,n] = log(n+1), D = 1, dt_bias = softplus^-1(dt) with dt log-uniform
 * in [1e-3, 1e-1] (Mamba's initialisation), delta_raw (the dt_proj output)
 * uniform in [-0.5, 0.5], x, z, B, C uniform in [-1, 1]; conv weights and bias
 * uniform in +-1/sqrt(4) (PyTorch's default for fan-in 4).
 *
 * Decode entries (mamba1_scan.step, conv1d.step): seq_len is the nominal
 * context only — the recurrent state has a fixed size whatever L is, so
 * create() draws it once (the scan state with the spread the recurrence
 * settles at for these inputs, Var h = delta E[(B x)^2] / (2 |A|); the conv
 * state as recent inputs) and L changes nothing else.  The state is kept in
 * two buffers per entry; each run reads one and writes the other, per group
 * of 16 channels (a parity byte per group, written only by the worker owning
 * the group), so verify() still has the state the last run started from.  The
 * memory traffic is that of an in-place update; the state stays bounded since
 * every decay exp(delta A) < 1 and the input token is the same each run.  The
 * step reads precomputed decay rates A2 = -exp(A_log) log2(e) (made once in
 * create(), as an engine would when loading weights) instead of two exps per
 * state per token.
 *
 * verify() of the prefill scans runs the double-precision reference for
 * every channel when that costs at most ~2^22 state updates, else for a
 * spread of 8 channels (first, last, both sides of a 16-channel group edge,
 * both sides of the middle, and two more) — each channel's recurrence is
 * independent, so this checks every code path at ~1% of a full reference.
 * conv1d.causal checks all rows of a spread of channels likewise.
 *
 * Never: time, print, or write outside the instance. */
#include "operators/op.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "operators/conv1d.h"
#include "operators/selective_scan.h"

#define MAX_SEQ ((int64_t)1 << 30)
#define MAX_D_INNER (1 << 20)
#define DEFAULT_CHUNK 256
#define FULL_VERIFY_UPDATES ((int64_t)1 << 22)
#define N_SPREAD 8

extern const op_entry *const op_family_mamba1[];

/* ---- shared helpers ----------------------------------------------------------------------- */

/* A 64-byte-aligned array of n floats (at least one), or NULL. */
static float *falloc(size_t n)
{
    size_t bytes = ((n ? n : 1) * sizeof(float) + 63) & ~(size_t)63;
    return aligned_alloc(64, bytes);
}

static void fill_nan(float *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = NAN;
}

/* Up to N_SPREAD distinct channels of d spread over [0, d); returns how many. */
static int spread_channels(int d, int *out)
{
    int cand[N_SPREAD] = {0, d - 1, 15, 16, d / 2 - 1, d / 2, d / 3, (2 * d) / 3 + 5};
    int n = 0;
    for (int i = 0; i < N_SPREAD; i++) {
        int c = cand[i] < 0 ? 0 : cand[i] >= d ? d - 1 : cand[i];
        int dup = 0;
        for (int j = 0; j < n; j++)
            dup |= out[j] == c;
        if (!dup)
            out[n++] = c;
    }
    return n;
}

/* |got - want| <= tol * mag (NaN fails). */
static int close_enough(float got, float want, float mag, double tol)
{
    return fabs((double)got - (double)want) <= tol * (double)mag + 1e-30;
}

/* ---- the scan entries ------------------------------------------------------------------------ */

enum { SCAN_SEQ, SCAN_CHUNKED, SCAN_STEP };

typedef struct scan_inst {
    int kind, max_workers, chunk;
    const char *name;
    int64_t L;               /* prefill tokens, or the step's nominal context */
    int d_inner, N;
    float *x, *dr, *z;       /* (rows, d_inner); rows = L, or 1 for the step */
    float *B, *C;            /* (rows, N) */
    float *dt_bias, *D;      /* (d_inner) */
    float *A_log;            /* (d_inner, N) */
    float *A2;               /* step: (d_inner, N) decay rates, precomputed once */
    float *y;                /* (rows, d_inner) */
    float *h;                /* prefill: (d_inner, N) final state; step: (2, d_inner, N) */
    unsigned char *parity;   /* step: per 16-channel group, the buffer of h holding the state */
    void *scratch;           /* prefill: op_mamba1_scan_scratch_bytes */
    op_mamba1_scan_in in;
} scan_inst;

static int check_scan_shape(const op_dims *d, int64_t rows, int state_copies, cb_err *err)
{
    if (op_check_range("seq_len", d->seq_len, MAX_SEQ, err) != 0 ||
        op_check_range("d_inner", d->d_inner, MAX_D_INNER, err) != 0 ||
        op_check_range("d_state", d->d_state, OP_MAMBA1_MAX_STATE, err) != 0)
        return -1;
    int64_t xs[2] = {rows, d->d_inner}, bs[2] = {rows, d->d_state};
    int64_t hs[3] = {state_copies, d->d_inner, d->d_state};
    if (op_check_bytes("x (seq_len, d_inner)", sizeof(float), 2, xs, err) != 0 ||
        op_check_bytes("B (seq_len, d_state)", sizeof(float), 2, bs, err) != 0 ||
        op_check_bytes("h (d_inner, d_state)", sizeof(float), 3, hs, err) != 0)
        return -1;
    return 0;
}

static int check_seq(const op_dims *d, cb_err *err)
{
    return check_scan_shape(d, d->seq_len, 1, err);
}

static int check_chunked(const op_dims *d, cb_err *err)
{
    if (check_scan_shape(d, d->seq_len, 1, err) != 0)
        return -1;
    if (d->chunk < 0 || d->chunk > MAX_SEQ)
        return cb_fail(err, "chunk = %d is out of range (0 for the default %d, or 1 to %lld)",
                       d->chunk, DEFAULT_CHUNK, (long long)MAX_SEQ);
    return 0;
}

static int check_step(const op_dims *d, cb_err *err) { return check_scan_shape(d, 1, 2, err); }

static op_cost cost_prefill(const op_dims *d)
{
    op_cost c = {op_mamba1_scan_flops(d->seq_len, d->d_inner, d->d_state),
                 op_mamba1_scan_bytes(d->seq_len, d->d_inner, d->d_state),
                 op_mamba1_scan_state_bytes(d->d_inner, d->d_state)};
    return c;
}

static op_cost cost_step(const op_dims *d)
{
    op_cost c = {op_mamba1_scan_flops(1, d->d_inner, d->d_state) - (double)d->d_inner * d->d_state,
                 op_mamba1_scan_bytes(1, d->d_inner, d->d_state),
                 op_mamba1_scan_state_bytes(d->d_inner, d->d_state)};
    return c;
}

static void scan_destroy(void *p)
{
    scan_inst *s = p;
    if (!s)
        return;
    free(s->x);
    free(s->dr);
    free(s->z);
    free(s->B);
    free(s->C);
    free(s->dt_bias);
    free(s->D);
    free(s->A_log);
    free(s->A2);
    free(s->y);
    free(s->h);
    free(s->parity);
    free(s->scratch);
    free(s);
}

/* The inputs described at the top of the file. */
static void fill_scan_inputs(scan_inst *s, int64_t rows, uint64_t seed)
{
    size_t nx = (size_t)rows * s->d_inner, nb = (size_t)rows * s->N;
    op_fill_uniform(s->x, nx, seed * 16 + 1, -1.0f, 1.0f);
    op_fill_uniform(s->dr, nx, seed * 16 + 2, -0.5f, 0.5f);
    op_fill_uniform(s->z, nx, seed * 16 + 3, -1.0f, 1.0f);
    op_fill_uniform(s->B, nb, seed * 16 + 4, -1.0f, 1.0f);
    op_fill_uniform(s->C, nb, seed * 16 + 5, -1.0f, 1.0f);
    op_fill_uniform(s->dt_bias, (size_t)s->d_inner, seed * 16 + 6, 0.0f, 1.0f);
    for (int d = 0; d < s->d_inner; d++) {
        double dt = exp(log(1e-3) + s->dt_bias[d] * (log(1e-1) - log(1e-3)));
        s->dt_bias[d] = (float)(dt + log(-expm1(-dt))); /* softplus^-1(dt) */
        s->D[d] = 1.0f;
        for (int n = 0; n < s->N; n++)
            s->A_log[(size_t)d * s->N + n] = logf((float)(n + 1));
    }
}

/* The step's state: uniform with the recurrence's stationary variance. */
static void fill_step_state(scan_inst *s, uint64_t seed)
{
    size_t n = (size_t)s->d_inner * s->N;
    op_fill_uniform(s->h, n, seed * 16 + 7, -1.0f, 1.0f);
    for (int d = 0; d < s->d_inner; d++) {
        double v = (double)s->dt_bias[d] + s->dr[d];
        double delta = v < 20.0 ? log1p(exp(v)) : v;
        for (int k = 0; k < s->N; k++) {
            double var = delta * (1.0 / 9.0) / (2.0 * exp(s->A_log[(size_t)d * s->N + k]));
            s->h[(size_t)d * s->N + k] *= (float)sqrt(3.0 * var);
        }
    }
    memcpy(s->h + n, s->h, n * sizeof(float));
}

static int scan_create(int kind, const char *name, const op_dims *d, uint64_t seed,
                       int max_workers, void **out, cb_err *err)
{
    *out = NULL;
    int rc = kind == SCAN_STEP ? check_step(d, err)
             : kind == SCAN_CHUNKED ? check_chunked(d, err) : check_seq(d, err);
    if (rc != 0)
        return cb_wrap(err, "%s", name);
    if (max_workers < 1)
        return cb_fail(err, "%s: max_workers = %d (need >= 1)", name, max_workers);
    scan_inst *s = calloc(1, sizeof *s);
    if (!s)
        return cb_fail(err, "%s: out of memory", name);
    s->kind = kind;
    s->name = name;
    s->max_workers = max_workers;
    s->L = d->seq_len;
    s->d_inner = d->d_inner;
    s->N = d->d_state;
    s->chunk = d->chunk ? d->chunk : DEFAULT_CHUNK;
    int64_t rows = kind == SCAN_STEP ? 1 : s->L;
    size_t nx = (size_t)rows * s->d_inner, nb = (size_t)rows * s->N, nh = (size_t)s->d_inner * s->N;
    int groups = (s->d_inner + OP_MAMBA1_GROUP - 1) / OP_MAMBA1_GROUP;
    s->x = falloc(nx);
    s->dr = falloc(nx);
    s->z = falloc(nx);
    s->y = falloc(nx);
    s->B = falloc(nb);
    s->C = falloc(nb);
    s->dt_bias = falloc((size_t)s->d_inner);
    s->D = falloc((size_t)s->d_inner);
    s->A_log = falloc(nh);
    s->h = falloc(kind == SCAN_STEP ? 2 * nh : nh);
    if (kind == SCAN_STEP) {
        s->parity = calloc((size_t)groups, 1);
        s->A2 = falloc(nh);
    } else {
        s->scratch = aligned_alloc(64, op_mamba1_scan_scratch_bytes(s->d_inner, s->N, max_workers));
    }
    if (!s->x || !s->dr || !s->z || !s->y || !s->B || !s->C || !s->dt_bias || !s->D ||
        !s->A_log || !s->h || (kind == SCAN_STEP ? !s->parity || !s->A2 : !s->scratch)) {
        scan_destroy(s);
        return cb_fail(err, "%s: out of memory", name);
    }
    fill_scan_inputs(s, rows, seed);
    fill_nan(s->y, nx); /* so an output no run wrote fails verify */
    if (kind == SCAN_STEP)
        fill_step_state(s, seed);
    else
        fill_nan(s->h, nh);
    if (kind == SCAN_STEP) /* the weight transform a decoding engine does at load */
        op_mamba1_decay_rates(s->A_log, s->A2, nh);
    op_mamba1_scan_in in = {rows, s->d_inner, s->N, s->x, s->dr, s->dt_bias, s->A_log,
                            s->B, s->C, s->D, s->z, NULL, s->A2};
    s->in = in;
    *out = s;
    return 0;
}

static int create_seq(const op_dims *d, uint64_t seed, int mw, void **out, cb_err *err)
{
    return scan_create(SCAN_SEQ, "mamba1_scan.sequential", d, seed, mw, out, err);
}
static int create_chunked(const op_dims *d, uint64_t seed, int mw, void **out, cb_err *err)
{
    return scan_create(SCAN_CHUNKED, "mamba1_scan.chunked", d, seed, mw, out, err);
}
static int create_step(const op_dims *d, uint64_t seed, int mw, void **out, cb_err *err)
{
    return scan_create(SCAN_STEP, "mamba1_scan.step", d, seed, mw, out, err);
}

/* Prefill runs start from the zero state (in.h0 = NULL) and leave the final
 * state in h. */
static void run_seq(void *p, int worker, int n_workers)
{
    scan_inst *s = p;
    if (worker < s->max_workers)
        op_mamba1_scan_part(&s->in, s->y, s->h, s->scratch, worker, n_workers);
}

static void run_chunked(void *p, int worker, int n_workers)
{
    scan_inst *s = p;
    if (worker < s->max_workers)
        op_mamba1_chunked_part(&s->in, s->chunk, s->y, s->h, s->scratch, worker, n_workers);
}

static void run_step(void *p, int worker, int n_workers)
{
    scan_inst *s = p;
    int lo, hi;
    size_t nh = (size_t)s->d_inner * s->N;
    op_mamba1_channels(s->d_inner, worker, n_workers, &lo, &hi);
    for (int d0 = lo; d0 < hi; d0 += OP_MAMBA1_GROUP) {
        int g = d0 / OP_MAMBA1_GROUP, cur = s->parity[g];
        int d1 = d0 + OP_MAMBA1_GROUP < hi ? d0 + OP_MAMBA1_GROUP : hi;
        op_mamba1_step_range(&s->in, s->h + cur * nh, s->h + (1 - cur) * nh, s->y, d0, d1);
        s->parity[g] = (unsigned char)(1 - cur);
    }
}

/* Channel d against the reference started from h0: y column (rows) and
 * final state h (N).  y_ref, y_mag: rows floats of workspace. */
static int verify_channel(const scan_inst *s, int d, const float *h0, const float *h,
                          float *y_ref, float *y_mag, cb_err *err)
{
    float h_ref[OP_MAMBA1_MAX_STATE], h_mag[OP_MAMBA1_MAX_STATE];
    op_mamba1_scan_in in = s->in;
    in.h0 = h0;
    op_mamba1_scan_ref_channel(&in, d, y_ref, 1, y_mag, h_ref, h_mag);
    for (int64_t t = 0; t < in.L; t++) {
        float got = s->y[t * s->d_inner + d];
        if (!close_enough(got, y_ref[t], y_mag[t], OP_MAMBA1_TOL))
            return cb_fail(err,
                           "%s: y[t=%lld, d=%d] = %.9g, reference %.9g (tolerance %.3g x %.3g)",
                           s->name, (long long)t, d, got, y_ref[t], OP_MAMBA1_TOL, y_mag[t]);
    }
    for (int n = 0; n < s->N; n++) {
        float got = h[(size_t)d * s->N + n];
        if (!close_enough(got, h_ref[n], h_mag[n], OP_MAMBA1_TOL))
            return cb_fail(err, "%s: h[d=%d, n=%d] = %.9g, reference %.9g (tolerance %.3g x %.3g)",
                           s->name, d, n, got, h_ref[n], OP_MAMBA1_TOL, h_mag[n]);
    }
    return 0;
}

static int verify_prefill(void *p, cb_err *err)
{
    scan_inst *s = p;
    float *y_ref = falloc((size_t)s->L), *y_mag = falloc((size_t)s->L);
    if (!y_ref || !y_mag) {
        free(y_ref);
        free(y_mag);
        return cb_fail(err, "%s: verify: out of memory", s->name);
    }
    int ch[N_SPREAD], n_ch = 0, rc = 0;
    int all = (int64_t)s->d_inner * s->N * s->L <= FULL_VERIFY_UPDATES;
    if (!all)
        n_ch = spread_channels(s->d_inner, ch);
    for (int i = 0; rc == 0 && i < (all ? s->d_inner : n_ch); i++)
        rc = verify_channel(s, all ? i : ch[i], NULL, s->h, y_ref, y_mag, err);
    free(y_ref);
    free(y_mag);
    return rc;
}

/* Every channel, from the state its group's last run started from. */
static int verify_step(void *p, cb_err *err)
{
    scan_inst *s = p;
    size_t nh = (size_t)s->d_inner * s->N;
    for (int d = 0; d < s->d_inner; d++) {
        int cur = s->parity[d / OP_MAMBA1_GROUP];
        float y_ref, y_mag;
        if (verify_channel(s, d, s->h + (1 - cur) * nh, s->h + cur * nh, &y_ref, &y_mag, err) != 0)
            return -1;
    }
    return 0;
}

/* ---- the conv1d entries ---------------------------------------------------------------------- */

#define KW OP_CONV1D_WIDTH

typedef struct conv_inst {
    int step, max_workers;
    const char *name;
    int64_t L;              /* prefill tokens, or the step's nominal context */
    int C;
    float *x;               /* (rows, C); rows = L, or 1 for the step */
    float *w, *b;           /* (C, K), (C) */
    float *out;             /* (rows, C) */
    float *s;               /* prefill: (C, K-1) final state; step: (2, C, K-1) */
    unsigned char *parity;  /* step: per 16-channel group, the buffer of s holding the state */
    void *scratch;          /* prefill: op_conv1d_scratch_bytes */
} conv_inst;

static int check_conv_shape(const op_dims *d, int64_t rows, cb_err *err)
{
    if (op_check_range("seq_len", d->seq_len, MAX_SEQ, err) != 0 ||
        op_check_range("d_inner", d->d_inner, MAX_D_INNER, err) != 0)
        return -1;
    int64_t xs[2] = {rows, d->d_inner};
    return op_check_bytes("x (seq_len, d_inner)", sizeof(float), 2, xs, err);
}

static int check_conv(const op_dims *d, cb_err *err)
{
    return check_conv_shape(d, d->seq_len, err);
}
static int check_conv_step(const op_dims *d, cb_err *err) { return check_conv_shape(d, 1, err); }

static op_cost cost_conv(const op_dims *d)
{
    op_cost c = {op_conv1d_flops(d->seq_len, d->d_inner), op_conv1d_bytes(d->seq_len, d->d_inner),
                 op_conv1d_state_bytes(d->d_inner)};
    return c;
}

static op_cost cost_conv_step(const op_dims *d)
{
    op_cost c = {op_conv1d_flops(1, d->d_inner), op_conv1d_bytes(1, d->d_inner),
                 op_conv1d_state_bytes(d->d_inner)};
    return c;
}

static void conv_destroy(void *p)
{
    conv_inst *s = p;
    if (!s)
        return;
    free(s->x);
    free(s->w);
    free(s->b);
    free(s->out);
    free(s->s);
    free(s->parity);
    free(s->scratch);
    free(s);
}

static int conv_create(int step, const op_dims *d, uint64_t seed, int max_workers, void **out,
                       cb_err *err)
{
    const char *name = step ? "conv1d.step" : "conv1d.causal";
    *out = NULL;
    if ((step ? check_conv_step(d, err) : check_conv(d, err)) != 0)
        return cb_wrap(err, "%s", name);
    if (max_workers < 1)
        return cb_fail(err, "%s: max_workers = %d (need >= 1)", name, max_workers);
    conv_inst *s = calloc(1, sizeof *s);
    if (!s)
        return cb_fail(err, "%s: out of memory", name);
    s->step = step;
    s->name = name;
    s->max_workers = max_workers;
    s->L = d->seq_len;
    s->C = d->d_inner;
    int64_t rows = step ? 1 : s->L;
    size_t nx = (size_t)rows * s->C, ns = (size_t)s->C * (KW - 1);
    int groups = (s->C + OP_CONV1D_GROUP - 1) / OP_CONV1D_GROUP;
    s->x = falloc(nx);
    s->out = falloc(nx);
    s->w = falloc((size_t)s->C * KW);
    s->b = falloc((size_t)s->C);
    s->s = falloc(step ? 2 * ns : ns);
    if (step)
        s->parity = calloc((size_t)groups, 1);
    else
        s->scratch = malloc(op_conv1d_scratch_bytes(s->C));
    if (!s->x || !s->out || !s->w || !s->b || !s->s || (step ? !s->parity : !s->scratch)) {
        conv_destroy(s);
        return cb_fail(err, "%s: out of memory", name);
    }
    op_fill_uniform(s->x, nx, seed * 16 + 8, -1.0f, 1.0f);
    op_fill_uniform(s->w, (size_t)s->C * KW, seed * 16 + 9, -0.5f, 0.5f);
    op_fill_uniform(s->b, (size_t)s->C, seed * 16 + 10, -0.5f, 0.5f);
    fill_nan(s->out, nx);
    if (step) { /* the last K-1 inputs of a context: input-scale values */
        op_fill_uniform(s->s, ns, seed * 16 + 11, -1.0f, 1.0f);
        memcpy(s->s + ns, s->s, ns * sizeof(float));
    } else {
        fill_nan(s->s, ns);
    }
    *out = s;
    return 0;
}

static int create_conv(const op_dims *d, uint64_t seed, int mw, void **out, cb_err *err)
{
    return conv_create(0, d, seed, mw, out, err);
}
static int create_conv_step(const op_dims *d, uint64_t seed, int mw, void **out, cb_err *err)
{
    return conv_create(1, d, seed, mw, out, err);
}

/* A fresh sequence (zero history); the final state goes to s. */
static void run_conv(void *p, int worker, int n_workers)
{
    conv_inst *s = p;
    op_conv1d_causal_part(s->x, s->w, s->b, NULL, s->out, s->s, s->L, s->C, s->scratch, worker,
                          n_workers);
}

static void run_conv_step(void *p, int worker, int n_workers)
{
    conv_inst *s = p;
    int lo, hi;
    size_t ns = (size_t)s->C * (KW - 1);
    op_conv1d_channels(s->C, worker, n_workers, &lo, &hi);
    for (int c0 = lo; c0 < hi; c0 += OP_CONV1D_GROUP) {
        int g = c0 / OP_CONV1D_GROUP, cur = s->parity[g];
        int c1 = c0 + OP_CONV1D_GROUP < hi ? c0 + OP_CONV1D_GROUP : hi;
        op_conv1d_step_range(s->x, s->w, s->b, s->s + cur * ns, s->out, s->s + (1 - cur) * ns,
                             c0, c1);
        s->parity[g] = (unsigned char)(1 - cur);
    }
}

/* Channel c's outputs (all rows, stride C) and state against ref / mag / s_ref. */
static int conv_compare(const conv_inst *s, int c, int64_t rows, const float *ref,
                        const float *mag, const float *s_got, const float *s_ref, cb_err *err)
{
    for (int64_t t = 0; t < rows; t++) {
        float got = s->out[t * s->C + c];
        if (!close_enough(got, ref[t], mag[t], OP_CONV1D_TOL))
            return cb_fail(err,
                           "%s: out[t=%lld, c=%d] = %.9g, reference %.9g (tolerance %.3g x %.3g)",
                           s->name, (long long)t, c, got, ref[t], OP_CONV1D_TOL, mag[t]);
    }
    for (int k = 0; k < KW - 1; k++)
        if (!(s_got[k] == s_ref[k]))
            return cb_fail(err, "%s: state[c=%d, %d] = %.9g, reference %.9g", s->name, c, k,
                           s_got[k], s_ref[k]);
    return 0;
}

static int verify_conv(void *p, cb_err *err)
{
    conv_inst *s = p;
    float *ref = falloc((size_t)s->L), *mag = falloc((size_t)s->L), s_ref[KW - 1];
    int ch[N_SPREAD], rc = 0;
    if (!ref || !mag) {
        free(ref);
        free(mag);
        return cb_fail(err, "%s: verify: out of memory", s->name);
    }
    int all = (int64_t)s->C * s->L <= FULL_VERIFY_UPDATES;
    int n_ch = all ? s->C : spread_channels(s->C, ch);
    for (int i = 0; rc == 0 && i < n_ch; i++) {
        int c = all ? i : ch[i];
        op_conv1d_causal_ref_channel(s->x, s->w, s->b, NULL, s->L, s->C, c, ref, 1, mag, s_ref);
        rc = conv_compare(s, c, s->L, ref, mag, s->s + (size_t)c * (KW - 1), s_ref, err);
    }
    free(ref);
    free(mag);
    return rc;
}

static int verify_conv_step(void *p, cb_err *err)
{
    conv_inst *s = p;
    size_t ns = (size_t)s->C * (KW - 1);
    for (int c = 0; c < s->C; c++) {
        int cur = s->parity[c / OP_CONV1D_GROUP];
        const float *prev = s->s + (1 - cur) * ns + (size_t)c * (KW - 1);
        float ref, mag, s_ref[KW - 1];
        /* one token from the previous state = a prefill of one row */
        op_conv1d_causal_ref_channel(s->x + c, s->w + (size_t)c * KW, s->b + c, prev, 1, 1, 0,
                                     &ref, 1, &mag, s_ref);
        if (conv_compare(s, c, 1, &ref, &mag, s->s + cur * ns + (size_t)c * (KW - 1), s_ref, err))
            return -1;
    }
    return 0;
}

/* ---- the family ------------------------------------------------------------------------------ */

static const op_entry e_seq = {
    .name = "mamba1_scan.sequential", .op = "mamba1_scan", .impl = "sequential",
    .family = "sub-quadratic", .phase = "prefill", .uses = "seq_len d_inner d_state",
    .tolerance = OP_MAMBA1_TOL, .check = check_seq, .cost = cost_prefill, .create = create_seq,
    .run = run_seq, .verify = verify_prefill, .destroy = scan_destroy,
};

static const op_entry e_chunked = {
    .name = "mamba1_scan.chunked", .op = "mamba1_scan", .impl = "chunked",
    .family = "sub-quadratic", .phase = "prefill", .uses = "seq_len d_inner d_state chunk",
    .tolerance = OP_MAMBA1_TOL, .check = check_chunked, .cost = cost_prefill,
    .create = create_chunked, .run = run_chunked, .verify = verify_prefill, .destroy = scan_destroy,
};

static const op_entry e_step = {
    .name = "mamba1_scan.step", .op = "mamba1_scan", .impl = "step",
    .family = "sub-quadratic", .phase = "decode", .uses = "seq_len d_inner d_state",
    .tolerance = OP_MAMBA1_TOL, .check = check_step, .cost = cost_step, .create = create_step,
    .run = run_step, .verify = verify_step, .destroy = scan_destroy,
};

static const op_entry e_conv = {
    .name = "conv1d.causal", .op = "conv1d", .impl = "causal",
    .family = "sub-quadratic", .phase = "prefill", .uses = "seq_len d_inner",
    .tolerance = OP_CONV1D_TOL, .check = check_conv, .cost = cost_conv, .create = create_conv,
    .run = run_conv, .verify = verify_conv, .destroy = conv_destroy,
};

static const op_entry e_conv_step = {
    .name = "conv1d.step", .op = "conv1d", .impl = "step",
    .family = "sub-quadratic", .phase = "decode", .uses = "seq_len d_inner",
    .tolerance = OP_CONV1D_TOL, .check = check_conv_step, .cost = cost_conv_step,
    .create = create_conv_step, .run = run_conv_step, .verify = verify_conv_step,
    .destroy = conv_destroy,
};

const op_entry *const op_family_mamba1[] = {&e_seq, &e_chunked, &e_step, &e_conv, &e_conv_step,
                                            NULL};
