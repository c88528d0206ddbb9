/* operators/quant_entry.c — registry entries (op.h) for the GEMV with weights
 * in ggml's quantised block types (quant.h), in the dense family:
 *
 *   gemv_q8_0.builtin   decode   y (d) = W (d, d) x (d), W Q8_0, native int8 dots
 *   gemv_q4_0.builtin   decode   the same, W Q4_0
 *   gemv_q4_1.builtin   decode   the same, W Q4_1
 *   gemv_q4_1.dequant   decode   W Q4_1, each row dequantised then fp32 GEMV
 *
 * d is d_model (any size); seq_len unused.  The inner dimension is k = d
 * rounded up to the 32-element block: W is (d, k) and x's padding (k - d
 * elements) is zero, so y is the d x d product of W's first d columns.
 * Inputs: x uniform in [-1, 1) (then the zero padding), W uniform in
 * [-1/sqrt(d), 1/sqrt(d)) over all k columns, quantised row by row with
 * op_quant_row_ref.  The native entries quantise x inside run() (each worker
 * into its own scratch region).  Tolerance, against op_gemv_q_ref (exactly
 * dequantised W, double accumulation), checked on every row up to 256 rows,
 * else an even spread of 256 (first and last included):
 *   native:  op_gemv_q_bound (the x-quantisation bound + 1e-4 sum |w x|)
 *   dequant: 1e-4 sum |w x| (+1e-30), gemm.h's tolerance.
 * The entries' tolerance field holds 1e-4, the relative part both share.
 * Cost: 2 d k operations; bytes = quantised W (d, k) + 4 k (x) + 4 d (y).
 *
 * Never: time, print, or run the reference inside run(). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "operators/gemm.h"
#include "operators/int8.h"
#include "operators/op.h"
#include "operators/quant.h"

extern const op_entry *const op_family_quant[];

#define QE_MAX_D OP_INT8_MAX_K /* the same range as the other dense entries */
#define QE_TOL 1e-4
#define QE_CHECK_ROWS 256

typedef struct quant_gemv {
    const char *name;
    op_qtype t;
    int native; /* 1: op_gemv_q_part, 0: op_gemv_q_dequant_part */
    int d;
    int k;         /* d rounded up to the block */
    size_t rb;     /* bytes of one row of W */
    void *w;       /* W (d, k) stored as t */
    float *x;      /* (k), zero beyond d */
    float *y;      /* (d) */
    void *scratch; /* max_workers regions */
} quant_gemv;

static void qe_destroy(void *inst)
{
    quant_gemv *g = inst;
    if (!g)
        return;
    free(g->w);
    free(g->x);
    free(g->y);
    free(g->scratch);
    free(g);
}

/* d rounded up to the 32-element block. */
static int qe_k(int d) { return (d + 31) / 32 * 32; }

static int qe_check(const op_dims *dm, cb_err *err)
{
    if (op_check_range("d_model", dm->d_model, QE_MAX_D, err) != 0)
        return -1;
    int64_t dd[2] = {dm->d_model, qe_k(dm->d_model)};
    return op_check_bytes("W (d_model, d_model rounded to 32)", sizeof(float), 2, dd, err);
}

static op_cost qe_cost_t(op_qtype t, const op_dims *dm)
{
    int d = dm->d_model, k = qe_k(d);
    return (op_cost){op_gemv_flops(d, k), op_gemv_q_bytes(t, d, k), 0.0};
}

static op_cost cost_q8_0(const op_dims *dm) { return qe_cost_t(OP_Q_Q8_0, dm); }
static op_cost cost_q4_0(const op_dims *dm) { return qe_cost_t(OP_Q_Q4_0, dm); }
static op_cost cost_q4_1(const op_dims *dm) { return qe_cost_t(OP_Q_Q4_1, dm); }

/* W filled one row at a time through a row of floats (no full fp32 copy). */
static void qe_fill(quant_gemv *g, uint64_t seed, float *row)
{
    size_t d = (size_t)g->d, k = (size_t)g->k;
    float w = 1.0f / sqrtf((float)g->d);
    for (size_t i = 0; i < d; i++) {
        op_fill_uniform(row, k, seed * 0x100000001b3ULL + i, -w, w);
        (void)op_quant_row_ref(g->t, row, (uint8_t *)g->w + i * g->rb, g->k);
    }
    memset(g->x, 0, k * sizeof(float));
    op_fill_uniform(g->x, d, seed + 1, -1.0f, 1.0f);
    memset(g->y, 0, d * sizeof(float));
}

static int qe_create(op_qtype t, int native, const char *name, const op_dims *dm, uint64_t seed,
                     int max_workers, void **inst, cb_err *err)
{
    *inst = NULL;
    if (qe_check(dm, err) != 0)
        return cb_wrap(err, "%s", name);
    if (max_workers < 1)
        return cb_fail(err, "%s: max_workers = %d must be at least 1", name, max_workers);
    quant_gemv *g = calloc(1, sizeof *g);
    size_t d = (size_t)dm->d_model, k = (size_t)qe_k(dm->d_model);
    float *row = malloc(k * sizeof(float));
    if (g) {
        g->name = name;
        g->t = t;
        g->native = native;
        g->d = dm->d_model;
        g->k = (int)k;
        g->rb = op_qtype_row_bytes(t, g->k);
        size_t region = native ? op_gemv_q_scratch_bytes(t, g->k)
                               : op_gemv_q_dequant_scratch_bytes(g->k);
        g->w = malloc(d * g->rb);
        g->x = malloc(k * sizeof(float));
        g->y = malloc(d * sizeof(float));
        g->scratch = malloc(region * (size_t)max_workers);
    }
    if (!g || !row || !g->w || !g->x || !g->y || !g->scratch) {
        free(row);
        qe_destroy(g);
        return cb_fail(err, "%s: out of memory (d_model %d)", name, dm->d_model);
    }
    qe_fill(g, seed, row);
    free(row);
    *inst = g;
    return 0;
}

static int create_q8_0(const op_dims *dm, uint64_t seed, int mw, void **inst, cb_err *err)
{
    return qe_create(OP_Q_Q8_0, 1, "gemv_q8_0.builtin", dm, seed, mw, inst, err);
}

static int create_q4_0(const op_dims *dm, uint64_t seed, int mw, void **inst, cb_err *err)
{
    return qe_create(OP_Q_Q4_0, 1, "gemv_q4_0.builtin", dm, seed, mw, inst, err);
}

static int create_q4_1(const op_dims *dm, uint64_t seed, int mw, void **inst, cb_err *err)
{
    return qe_create(OP_Q_Q4_1, 1, "gemv_q4_1.builtin", dm, seed, mw, inst, err);
}

static int create_q4_1_dq(const op_dims *dm, uint64_t seed, int mw, void **inst, cb_err *err)
{
    return qe_create(OP_Q_Q4_1, 0, "gemv_q4_1.dequant", dm, seed, mw, inst, err);
}

static void qe_run(void *inst, int worker, int n_workers)
{
    quant_gemv *g = inst;
    if (g->native)
        (void)op_gemv_q_part(g->t, g->w, g->x, g->y, g->d, g->k, g->scratch, worker, n_workers);
    else
        (void)op_gemv_q_dequant_part(g->t, g->w, g->x, g->y, g->d, g->k, g->scratch, worker,
                                     n_workers);
}

/* Row i of y against op_gemv_q_ref, within the entry's bound. */
static int verify_row(const quant_gemv *g, int i, float *tmp, cb_err *err)
{
    const void *w = (const uint8_t *)g->w + (size_t)i * g->rb;
    float ref;
    op_gemv_q_ref(g->t, w, g->x, &ref, 1, g->k, tmp);
    double tol;
    if (g->native) {
        tol = op_gemv_q_bound(g->t, w, g->x, g->k, tmp);
    } else {
        double mag = 0.0;
        op_dequant_row(g->t, w, tmp, g->k);
        for (int j = 0; j < g->k; j++)
            mag += fabs((double)tmp[j] * g->x[j]);
        tol = QE_TOL * mag + 1e-30;
    }
    if (!(fabs((double)g->y[i] - ref) <= tol))
        return cb_fail(err, "%s: output %d is %.9g, reference %.9g (tolerance %.3g)", g->name, i,
                       g->y[i], ref, tol);
    return 0;
}

static int qe_verify(void *inst, cb_err *err)
{
    quant_gemv *g = inst;
    int n = g->d < QE_CHECK_ROWS ? g->d : QE_CHECK_ROWS, rc = 0;
    float *tmp = malloc((size_t)g->k * sizeof(float));
    if (!tmp)
        return cb_fail(err, "%s: out of memory verifying", g->name);
    for (int r = 0; r < n && rc == 0; r++) {
        int i = n <= 1 ? 0 : (int)((int64_t)r * (g->d - 1) / (n - 1));
        rc = verify_row(g, i, tmp, err);
    }
    free(tmp);
    return rc;
}

#define USES_GEMV "d_model (L unused: one token's projection)"

static const op_entry e_q8_0 = {
    "gemv_q8_0.builtin", "gemv_q8_0", "builtin", "dense", "decode", USES_GEMV, QE_TOL,
    qe_check, cost_q8_0, create_q8_0, qe_run, qe_verify, qe_destroy,
};
static const op_entry e_q4_0 = {
    "gemv_q4_0.builtin", "gemv_q4_0", "builtin", "dense", "decode", USES_GEMV, QE_TOL,
    qe_check, cost_q4_0, create_q4_0, qe_run, qe_verify, qe_destroy,
};
static const op_entry e_q4_1 = {
    "gemv_q4_1.builtin", "gemv_q4_1", "builtin", "dense", "decode", USES_GEMV, QE_TOL,
    qe_check, cost_q4_1, create_q4_1, qe_run, qe_verify, qe_destroy,
};
static const op_entry e_q4_1_dq = {
    "gemv_q4_1.dequant", "gemv_q4_1", "dequant", "dense", "decode", USES_GEMV, QE_TOL,
    qe_check, cost_q4_1, create_q4_1_dq, qe_run, qe_verify, qe_destroy,
};

const op_entry *const op_family_quant[] = {&e_q8_0, &e_q4_0, &e_q4_1, &e_q4_1_dq, NULL};
