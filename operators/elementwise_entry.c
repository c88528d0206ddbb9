/* operators/elementwise_entry.c — the elementwise family's registry entries
 * (op.h), all prefill over L rows:
 *
 *   rmsnorm.builtin    x (L, d_model) -> y, weight w (d_model), eps 1e-5
 *   silu.builtin       x (L, d_model) -> y
 *   softplus.builtin   x (L, d_model) -> y
 *   rope.builtin       x (L, n_heads, head_dim) -> y at positions 0..L-1; theta 5e5
 *                      with the Llama 3 scaling (Llama-3.2-1B's); the cos/sin tables
 *                      are built in create(), as a model builds them once
 *   softmax.builtin    scores (n_heads, L) -> probabilities, one row of L per head
 *
 * Inputs are uniform at the scales these operators meet: hidden states in
 * [-2, 2) with norm weights in [0.5, 1.5); SiLU gate pre-activations in
 * [-8, 8); softplus inputs (dt + dt bias of an SSM) in [-7, 1), most of them
 * giving delta in [1e-3, 1e-1]; q/k vectors in [-2, 2); attention scores in
 * [-6, 6).
 *
 * Tolerances are elementwise.h's; the entry's `tolerance` is its factor.
 * verify() recomputes the reference for every row when the rows hold at most
 * 2^18 values, else for an even spread of rows holding about that many (first
 * and last included): a few runs' worth of time at most.
 *
 * Never: time, print, or run the reference inside run(). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "operators/elementwise.h"
#include "operators/op.h"

extern const op_entry *const op_family_elementwise[];

#define EW_MAX_L ((int64_t)1 << 30)
#define EW_MAX_DIM (1 << 20)
#define EW_MAX_HEADS (1 << 16)
#define EW_MAX_HEAD_DIM 4096 /* so n_heads x head_dim fits an int */
#define EW_CHECK_ELEMS (1 << 18)
#define EW_ABS_FLOOR 1e-37
#define EW_EPS 1e-5f
#define EW_ROPE_THETA 500000.0

typedef enum ew_kind { EW_RMSNORM, EW_SILU, EW_SOFTPLUS, EW_ROPE, EW_SOFTMAX } ew_kind;

typedef struct ew {
    ew_kind kind;
    const char *name;
    double tol;
    int L, d, H, D;
    int rows, cols;   /* the kernel's rows and their length: (L, d), (L, H D) or (H, L) */
    float *x;         /* (rows, cols) input */
    float *y;         /* (rows, cols) output */
    float *w;         /* rmsnorm: (d) weight */
    float *inv_freq;  /* rope: (D/2) */
    float *cos_t;     /* rope: (L, D/2) */
    float *sin_t;     /* rope: (L, D/2) */
} ew;

static void ew_destroy(void *inst)
{
    ew *e = inst;
    if (!e)
        return;
    free(e->x);
    free(e->y);
    free(e->w);
    free(e->inv_freq);
    free(e->cos_t);
    free(e->sin_t);
    free(e);
}

/* ---- checks and costs ------------------------------------------------------------------------------ */

static int check_seq(const op_dims *dm, cb_err *err)
{
    return op_check_range("seq_len", dm->seq_len, EW_MAX_L, err);
}

static int check_rows(const op_dims *dm, cb_err *err)
{
    if (check_seq(dm, err) != 0 || op_check_range("d_model", dm->d_model, EW_MAX_DIM, err) != 0)
        return -1;
    int64_t f[2] = {dm->seq_len, dm->d_model};
    return op_check_bytes("x (seq_len, d_model)", sizeof(float), 2, f, err);
}

static int check_rope(const op_dims *dm, cb_err *err)
{
    if (check_seq(dm, err) != 0 || op_check_range("n_heads", dm->n_heads, EW_MAX_HEADS, err) != 0 ||
        op_check_range("head_dim", dm->head_dim, EW_MAX_HEAD_DIM, err) != 0)
        return -1;
    if (dm->head_dim % 2 != 0)
        return cb_fail(err, "head_dim = %d must be even (rotate-half pairs i and i + D/2)",
                       dm->head_dim);
    int64_t f[3] = {dm->seq_len, dm->n_heads, dm->head_dim};
    return op_check_bytes("x (seq_len, n_heads, head_dim)", sizeof(float), 3, f, err);
}

static int check_softmax(const op_dims *dm, cb_err *err)
{
    if (check_seq(dm, err) != 0 || op_check_range("n_heads", dm->n_heads, EW_MAX_HEADS, err) != 0)
        return -1;
    int64_t f[2] = {dm->n_heads, dm->seq_len};
    return op_check_bytes("scores (n_heads, seq_len)", sizeof(float), 2, f, err);
}

static double elems(const op_dims *dm) { return (double)dm->seq_len * dm->d_model; }

static op_cost cost_rmsnorm(const op_dims *dm)
{
    /* x^2 summed (2), x r w (2) per value; mean, + eps, rsqrt per row. */
    return (op_cost){4.0 * elems(dm) + 3.0 * dm->seq_len,
                     4.0 * (2.0 * elems(dm) + dm->d_model), 0.0};
}

static op_cost cost_silu(const op_dims *dm)
{
    return (op_cost){4.0 * elems(dm), 8.0 * elems(dm), 0.0}; /* x / (1 + exp(-x)) */
}

static op_cost cost_softplus(const op_dims *dm)
{
    return (op_cost){5.0 * elems(dm), 8.0 * elems(dm), 0.0}; /* max(x,0) + log1p(exp(-|x|)) */
}

static op_cost cost_rope(const op_dims *dm)
{
    double n = (double)dm->seq_len * dm->n_heads * dm->head_dim;
    /* 4 multiplies and 2 adds per pair; x and y, and the (L, D/2) cos and sin tables. */
    return (op_cost){3.0 * n, 8.0 * n + 4.0 * (double)dm->seq_len * dm->head_dim, 0.0};
}

static op_cost cost_softmax(const op_dims *dm)
{
    double n = (double)dm->n_heads * dm->seq_len;
    /* max, subtract, exp, add, scale per value; one division per row. */
    return (op_cost){5.0 * n + dm->n_heads, 8.0 * n, 0.0};
}

/* ---- create ------------------------------------------------------------------------------------------ */

/* Allocates and fills e's buffers; 0, or -1 (out of memory). */
static int ew_fill(ew *e, uint64_t seed)
{
    size_t n = (size_t)e->rows * e->cols;
    e->x = malloc(n * sizeof(float));
    e->y = calloc(n ? n : 1, sizeof(float));
    if (!e->x || !e->y)
        return -1;
    switch (e->kind) {
    case EW_RMSNORM:
        if (!(e->w = malloc((size_t)e->d * sizeof(float))))
            return -1;
        op_fill_uniform(e->x, n, seed, -2.0f, 2.0f);
        op_fill_uniform(e->w, (size_t)e->d, seed + 1, 0.5f, 1.5f);
        break;
    case EW_SILU:
        op_fill_uniform(e->x, n, seed, -8.0f, 8.0f);
        break;
    case EW_SOFTPLUS:
        op_fill_uniform(e->x, n, seed, -7.0f, 1.0f);
        break;
    case EW_ROPE: {
        size_t half = (size_t)e->D / 2, tab = (size_t)e->L * half;
        op_rope_scaling sc = op_rope_llama3_scaling();
        e->inv_freq = malloc(half * sizeof(float));
        e->cos_t = malloc(tab * sizeof(float));
        e->sin_t = malloc(tab * sizeof(float));
        if (!e->inv_freq || !e->cos_t || !e->sin_t)
            return -1;
        (void)op_rope_inv_freq(EW_ROPE_THETA, e->D, &sc, e->inv_freq); /* D checked even */
        op_rope_tables(e->inv_freq, 0, e->L, e->D, e->cos_t, e->sin_t);
        op_fill_uniform(e->x, n, seed, -2.0f, 2.0f);
        break;
    }
    case EW_SOFTMAX:
        op_fill_uniform(e->x, n, seed, -6.0f, 6.0f);
        break;
    }
    return 0;
}

static int ew_create(ew_kind kind, const char *name, double tol,
                     int (*check)(const op_dims *, cb_err *), const op_dims *dm, uint64_t seed,
                     int max_workers, void **inst, cb_err *err)
{
    *inst = NULL;
    if (check(dm, err) != 0)
        return cb_wrap(err, "%s", name);
    if (max_workers < 1)
        return cb_fail(err, "%s: max_workers = %d must be at least 1", name, max_workers);
    ew *e = calloc(1, sizeof *e);
    if (!e)
        return cb_fail(err, "%s: out of memory", name);
    e->kind = kind;
    e->name = name;
    e->tol = tol;
    e->L = (int)dm->seq_len;
    e->d = dm->d_model;
    e->H = dm->n_heads;
    e->D = dm->head_dim;
    e->rows = kind == EW_SOFTMAX ? e->H : e->L;
    e->cols = kind == EW_SOFTMAX ? e->L : kind == EW_ROPE ? e->H * e->D : e->d;
    if (ew_fill(e, seed) != 0) {
        ew_destroy(e);
        return cb_fail(err, "%s: out of memory (seq_len %lld)", name, (long long)dm->seq_len);
    }
    *inst = e;
    return 0;
}

/* ---- run ------------------------------------------------------------------------------------------- */

static void ew_run(void *inst, int worker, int n_workers)
{
    ew *e = inst;
    switch (e->kind) {
    case EW_RMSNORM:
        op_rmsnorm_part(e->x, e->w, e->y, e->L, e->d, EW_EPS, worker, n_workers);
        break;
    case EW_SILU:
        op_silu_part(e->x, e->y, e->L, e->d, worker, n_workers);
        break;
    case EW_SOFTPLUS:
        op_softplus_part(e->x, e->y, e->L, e->d, worker, n_workers);
        break;
    case EW_ROPE:
        op_rope_part(e->x, e->y, e->L, e->H, e->D, e->cos_t, e->sin_t, worker, n_workers);
        break;
    case EW_SOFTMAX:
        op_softmax_part(e->x, e->y, e->H, e->L, worker, n_workers);
        break;
    }
}

/* ---- verify ---------------------------------------------------------------------------------------- */

/* The reference of row r into ref (cols values). */
static void ew_ref_row(const ew *e, int r, float *ref)
{
    const float *x = e->x + (size_t)r * e->cols;
    switch (e->kind) {
    case EW_RMSNORM:
        op_rmsnorm_ref(x, e->w, ref, 1, e->d, EW_EPS);
        break;
    case EW_SILU:
        op_silu_ref(x, ref, 1, e->cols);
        break;
    case EW_SOFTPLUS:
        op_softplus_ref(x, ref, 1, e->cols);
        break;
    case EW_ROPE:
        op_rope_ref(x, ref, 1, e->H, e->D, e->inv_freq, r);
        break;
    case EW_SOFTMAX:
        op_softmax_ref(x, ref, 1, e->cols);
        break;
    }
}

/* What element j of row r may differ by, per elementwise.h. */
static double ew_allowed(const ew *e, const float *x, float ref, int j, float row_max)
{
    if (e->kind == EW_ROPE) {
        int half = e->D / 2, i = j % e->D, base = j - i, p = i < half ? i : i - half;
        return e->tol * (fabs(x[base + p]) + fabs(x[base + p + half])) + EW_ABS_FLOOR;
    }
    double scale = fabs(ref);
    if (e->kind == EW_SOFTMAX && ref != 0.0f) /* (x = -inf gives ref 0 and an infinite factor) */
        scale *= 1.0 + fabs((double)x[j] - row_max);
    return e->tol * scale + EW_ABS_FLOOR;
}

static int ew_check_row(const ew *e, int r, float *ref, cb_err *err)
{
    const float *x = e->x + (size_t)r * e->cols, *y = e->y + (size_t)r * e->cols;
    ew_ref_row(e, r, ref);
    float row_max = -INFINITY;
    if (e->kind == EW_SOFTMAX)
        for (int j = 0; j < e->cols; j++)
            row_max = x[j] > row_max ? x[j] : row_max;
    for (int j = 0; j < e->cols; j++) {
        double diff = fabs((double)y[j] - ref[j]);
        if (!(diff <= ew_allowed(e, x, ref[j], j, row_max)))
            return cb_fail(err, "%s: row %d element %d is %.9g, reference %.9g (|diff| %.3g)",
                           e->name, r, j, y[j], ref[j], diff);
    }
    return 0;
}

static int ew_verify(void *inst, cb_err *err)
{
    ew *e = inst;
    float *ref = malloc((size_t)e->cols * sizeof(float));
    if (!ref)
        return cb_fail(err, "%s: out of memory verifying", e->name);
    int n = EW_CHECK_ELEMS / e->cols;
    n = n < 2 ? 2 : n > e->rows ? e->rows : n;
    int rc = 0;
    for (int t = 0; t < n && rc == 0; t++) {
        int r = n <= 1 ? 0 : (int)((int64_t)t * (e->rows - 1) / (n - 1));
        rc = ew_check_row(e, r, ref, err);
    }
    free(ref);
    return rc;
}

/* ---- the entries ------------------------------------------------------------------------------------ */

#define EW_TOL_RMSNORM 1e-6
#define EW_TOL_SILU 2e-6
#define EW_TOL_SOFTPLUS 2e-6
#define EW_TOL_ROPE 1e-6
#define EW_TOL_SOFTMAX 1e-6

#define EW_CREATE(fn, kind, name, tol, check)                                                  \
    static int fn(const op_dims *dm, uint64_t seed, int max_workers, void **inst, cb_err *err) \
    {                                                                                          \
        return ew_create(kind, name, tol, check, dm, seed, max_workers, inst, err);            \
    }

EW_CREATE(create_rmsnorm, EW_RMSNORM, "rmsnorm.builtin", EW_TOL_RMSNORM, check_rows)
EW_CREATE(create_silu, EW_SILU, "silu.builtin", EW_TOL_SILU, check_rows)
EW_CREATE(create_softplus, EW_SOFTPLUS, "softplus.builtin", EW_TOL_SOFTPLUS, check_rows)
EW_CREATE(create_rope, EW_ROPE, "rope.builtin", EW_TOL_ROPE, check_rope)
EW_CREATE(create_softmax, EW_SOFTMAX, "softmax.builtin", EW_TOL_SOFTMAX, check_softmax)

static const op_entry e_rmsnorm = {
    "rmsnorm.builtin", "rmsnorm", "builtin", "elementwise", "prefill", "seq_len d_model",
    EW_TOL_RMSNORM, check_rows, cost_rmsnorm, create_rmsnorm, ew_run, ew_verify, ew_destroy,
};
static const op_entry e_silu = {
    "silu.builtin", "silu", "builtin", "elementwise", "prefill", "seq_len d_model",
    EW_TOL_SILU, check_rows, cost_silu, create_silu, ew_run, ew_verify, ew_destroy,
};
static const op_entry e_softplus = {
    "softplus.builtin", "softplus", "builtin", "elementwise", "prefill", "seq_len d_model",
    EW_TOL_SOFTPLUS, check_rows, cost_softplus, create_softplus, ew_run, ew_verify, ew_destroy,
};
static const op_entry e_rope = {
    "rope.builtin", "rope", "builtin", "elementwise", "prefill", "seq_len n_heads head_dim",
    EW_TOL_ROPE, check_rope, cost_rope, create_rope, ew_run, ew_verify, ew_destroy,
};
static const op_entry e_softmax = {
    "softmax.builtin", "softmax", "builtin", "elementwise", "prefill", "seq_len n_heads",
    EW_TOL_SOFTMAX, check_softmax, cost_softmax, create_softmax, ew_run, ew_verify, ew_destroy,
};

const op_entry *const op_family_elementwise[] = {
    &e_rmsnorm, &e_silu, &e_softplus, &e_rope, &e_softmax, NULL,
};
