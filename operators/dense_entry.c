/* operators/dense_entry.c — the dense family's registry entries (op.h):
 * projections as fp32 GEMM / GEMV with the built-in kernels (gemm.h) or
 * OpenBLAS (blas.h), and as int8 GEMM / GEMV with per-row scales (int8.h).
 *
 *   gemm.builtin, gemm.openblas   prefill  C (L, d) = A (L, d) B (d, d)
 *   gemv.builtin, gemv.openblas   decode   y (d) = W (d, d) x (d); seq_len unused
 *   gemm_int8.builtin             prefill  C (L, d) = quant(A) quant(W)^T, W (d, d)
 *                                          quantised per row in create(), A per row in run()
 *   gemv_int8.builtin             decode   y (d) = quant(W) quant(x); seq_len unused
 *
 * d is d_model.  Inputs are uniform: activations in [-1, 1), weights in
 * [-1/sqrt(d), 1/sqrt(d)) (a fan-in initialisation, so outputs are O(1)).
 * Large buffers are allocated 2 MiB-aligned and advised as huge pages
 * (streaming a weight matrix far larger than the L3 otherwise pays a TLB miss
 * every 4 KiB).
 *
 * Tolerance (what verify() accepts): fp32 entries, each output element within
 * 1e-4 x sum_k |a_ik b_kj| (+1e-30) of the double-accumulating reference
 * (gemm.h); int8 entries, bit-identical to the int8 reference (int8.h) — the
 * quantised activations included.  verify() checks every row when the
 * reference is cheap, else an even spread of rows (first and last included:
 * about 2^26 multiply-adds for a GEMM, 256 rows for a GEMV), which costs a few
 * runs at most.
 *
 * The OpenBLAS entries set OpenBLAS's own threading to 1 in create(), so the
 * pool partition decides the cores (process-wide: see blas.h).
 *
 * Never: time, print, or run the reference inside run(). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "operators/blas.h"
#include "operators/gemm.h"
#include "operators/int8.h"
#include "operators/op.h"

extern const op_entry *const op_family_dense[];

#define DENSE_MAX_L ((int64_t)1 << 30)
#define DENSE_MAX_D OP_INT8_MAX_K
#define DENSE_TOL_FP32 1e-4
#define DENSE_CHECK_MACS ((double)(1 << 26)) /* GEMM verify budget */
#define DENSE_CHECK_GEMV_ROWS 256
#define DENSE_HUGE ((size_t)2 << 20)

typedef enum dense_kind {
    GEMM_BUILTIN,
    GEMM_BLAS,
    GEMV_BUILTIN,
    GEMV_BLAS,
    GEMM_INT8,
    GEMV_INT8,
} dense_kind;

typedef struct dense {
    dense_kind kind;
    const char *name;
    int L, d, max_workers;
    float *a;        /* GEMM: A (L, d); GEMV: W (d, d) */
    float *b;        /* GEMM: B (d, d) (int8: W (d, d), the weights, as Bt); GEMV: x (d) */
    float *c;        /* GEMM: C (L, d); GEMV: y (d) */
    void *scratch;   /* GEMM packing space for max_workers (fp32 builtin, int8) */
    int8_t *wq;      /* int8: the weights quantised per row (d, d) */
    float *sw;       /* int8: their row scales (d) */
    void *packed;    /* int8 GEMM: wq packed (op_gemm_int8_pack) */
    int8_t *xq;      /* int8 GEMM: A quantised (L, d); GEMV: x quantised per worker (max_workers, d) */
    float *sx;       /* int8 GEMM: A's row scales (L); GEMV: x's scale per worker (max_workers) */
} dense;

static int is_gemm(dense_kind k) { return k == GEMM_BUILTIN || k == GEMM_BLAS || k == GEMM_INT8; }

/* ---- memory ------------------------------------------------------------------------------------- */

/* Bytes rounded up to whole huge pages when large (aligned_alloc needs a multiple). */
static void *dense_alloc(size_t bytes)
{
    if (bytes < DENSE_HUGE)
        return malloc(bytes ? bytes : 1);
    size_t rounded = (bytes + DENSE_HUGE - 1) / DENSE_HUGE * DENSE_HUGE;
    void *p = aligned_alloc(DENSE_HUGE, rounded);
#ifdef MADV_HUGEPAGE
    if (p)
        (void)madvise(p, rounded, MADV_HUGEPAGE); /* advice only: refusal is harmless */
#endif
    return p;
}

static void dense_destroy(void *inst)
{
    dense *g = inst;
    if (!g)
        return;
    free(g->a);
    free(g->b);
    free(g->c);
    free(g->scratch);
    free(g->wq);
    free(g->sw);
    free(g->packed);
    free(g->xq);
    free(g->sx);
    free(g);
}

/* ---- shape checks and cost -------------------------------------------------------------------- */

static int check_d(const op_dims *dm, cb_err *err)
{
    if (op_check_range("d_model", dm->d_model, DENSE_MAX_D, err) != 0)
        return -1;
    int64_t dd[2] = {dm->d_model, dm->d_model};
    return op_check_bytes("W (d_model, d_model)", sizeof(float), 2, dd, err);
}

static int check_gemm(const op_dims *dm, cb_err *err)
{
    if (op_check_range("seq_len", dm->seq_len, DENSE_MAX_L, err) != 0 || check_d(dm, err) != 0)
        return -1;
    int64_t ld[2] = {dm->seq_len, dm->d_model};
    return op_check_bytes("A (seq_len, d_model)", sizeof(float), 2, ld, err);
}

static int check_gemv(const op_dims *dm, cb_err *err) { return check_d(dm, err); }

static op_cost cost_gemm(const op_dims *dm)
{
    int L = (int)dm->seq_len, d = dm->d_model;
    return (op_cost){op_gemm_flops(L, d, d), op_gemm_bytes(L, d, d), 0.0};
}

static op_cost cost_gemv(const op_dims *dm)
{
    int d = dm->d_model;
    return (op_cost){op_gemv_flops(d, d), op_gemv_bytes(d, d), 0.0};
}

static op_cost cost_gemm_int8(const op_dims *dm)
{
    int L = (int)dm->seq_len, d = dm->d_model;
    return (op_cost){op_gemm_int8_flops(L, d, d), op_gemm_int8_bytes(L, d, d), 0.0};
}

static op_cost cost_gemv_int8(const op_dims *dm)
{
    int d = dm->d_model;
    return (op_cost){op_gemv_int8_flops(d, d), op_gemv_int8_bytes(d, d), 0.0};
}

/* ---- create ---------------------------------------------------------------------------------------- */

/* Allocates every buffer kind g needs; 0 or -1 (out of memory). */
static int dense_alloc_all(dense *g)
{
    size_t L = (size_t)g->L, d = (size_t)g->d, nw = (size_t)g->max_workers;
    int gemm = is_gemm(g->kind), i8 = g->kind == GEMM_INT8 || g->kind == GEMV_INT8;
    g->a = dense_alloc((gemm ? L * d : d * d) * sizeof(float));
    g->b = dense_alloc((gemm ? d * d : d) * sizeof(float));
    g->c = dense_alloc((gemm ? L * d : d) * sizeof(float));
    if (!g->a || !g->b || !g->c)
        return -1;
    size_t scratch = g->kind == GEMM_BUILTIN ? op_gemm_scratch_bytes(g->L, g->d, g->d, g->max_workers)
                     : g->kind == GEMM_INT8 ? op_gemm_int8_scratch_bytes(g->L, g->d, g->d,
                                                                         g->max_workers)
                                            : 0;
    if (scratch && !(g->scratch = malloc(scratch)))
        return -1;
    if (!i8)
        return 0;
    g->wq = dense_alloc(d * d);
    g->sw = malloc(d * sizeof(float));
    g->xq = dense_alloc(gemm ? L * d : nw * d);
    g->sx = malloc((gemm ? L : nw) * sizeof(float));
    if (!g->wq || !g->sw || !g->xq || !g->sx)
        return -1;
    if (g->kind == GEMM_INT8 && !(g->packed = dense_alloc(op_gemm_int8_packed_bytes(g->d, g->d))))
        return -1;
    return 0;
}

/* Fills the inputs from seed and prepares the int8 weights. */
static void dense_fill(dense *g, uint64_t seed)
{
    size_t L = (size_t)g->L, d = (size_t)g->d;
    float w = 1.0f / sqrtf((float)g->d);
    if (is_gemm(g->kind)) {
        op_fill_uniform(g->a, L * d, seed, -1.0f, 1.0f);    /* activations */
        op_fill_uniform(g->b, d * d, seed + 1, -w, w);      /* weights */
        memset(g->c, 0, L * d * sizeof(float));
    } else {
        op_fill_uniform(g->a, d * d, seed, -w, w);          /* weights */
        op_fill_uniform(g->b, d, seed + 1, -1.0f, 1.0f);    /* activations */
        memset(g->c, 0, d * sizeof(float));
    }
    if (g->kind == GEMM_INT8) {
        op_quantize_rows_int8(g->b, g->wq, g->sw, g->d, g->d);
        op_gemm_int8_pack(g->wq, g->d, g->d, g->packed);
    } else if (g->kind == GEMV_INT8) {
        op_quantize_rows_int8(g->a, g->wq, g->sw, g->d, g->d);
    }
}

static int dense_create(dense_kind kind, const char *name, int (*check)(const op_dims *, cb_err *),
                        const op_dims *dm, uint64_t seed, int max_workers, void **inst,
                        cb_err *err)
{
    *inst = NULL;
    if (check(dm, err) != 0)
        return cb_wrap(err, "%s", name);
    if (max_workers < 1)
        return cb_fail(err, "%s: max_workers = %d must be at least 1", name, max_workers);
    dense *g = calloc(1, sizeof *g);
    if (!g)
        return cb_fail(err, "%s: out of memory", name);
    g->kind = kind;
    g->name = name;
    g->L = is_gemm(kind) ? (int)dm->seq_len : 1;
    g->d = dm->d_model;
    g->max_workers = max_workers;
    if (dense_alloc_all(g) != 0) {
        dense_destroy(g);
        return cb_fail(err, "%s: out of memory (seq_len %lld, d_model %d)", name,
                       (long long)dm->seq_len, dm->d_model);
    }
    dense_fill(g, seed);
    if (kind == GEMM_BLAS || kind == GEMV_BLAS)
        op_blas_single_thread();
    *inst = g;
    return 0;
}

/* ---- run ---------------------------------------------------------------------------------------- */

static void dense_run(void *inst, int worker, int n_workers)
{
    dense *g = inst;
    int L = g->L, d = g->d;
    switch (g->kind) {
    case GEMM_BUILTIN:
        op_gemm_part(g->a, g->b, g->c, L, d, d, g->scratch, worker, n_workers);
        break;
    case GEMM_BLAS:
        op_blas_gemm_part(g->a, g->b, g->c, L, d, d, worker, n_workers);
        break;
    case GEMV_BUILTIN:
        op_gemv_part(g->a, g->b, g->c, d, d, worker, n_workers);
        break;
    case GEMV_BLAS:
        op_blas_gemv_part(g->a, g->b, g->c, d, d, worker, n_workers);
        break;
    case GEMM_INT8: {
        /* Quantise this worker's rows of A, then multiply them. */
        int lo, hi;
        op_gemm_int8_rows(L, worker, n_workers, &lo, &hi);
        if (lo < hi)
            op_quantize_rows_int8(g->a + (size_t)lo * d, g->xq + (size_t)lo * d, g->sx + lo,
                                  hi - lo, d);
        op_gemm_int8_part(g->xq, g->sx, g->packed, g->sw, g->c, L, d, d, g->scratch, worker,
                          n_workers);
        break;
    }
    case GEMV_INT8: {
        /* Every worker quantises x into its own slot (d values: cheap beside
         * its share of W), so no worker waits for another. */
        int8_t *xq = g->xq + (size_t)worker * d;
        op_quantize_rows_int8(g->b, xq, g->sx + worker, 1, d);
        op_gemv_int8_part(g->wq, g->sw, xq, g->sx[worker], g->c, d, d, worker, n_workers);
        break;
    }
    }
}

/* ---- verify ---------------------------------------------------------------------------------------- */

/* The r-th of n rows spread evenly over [0, m), first and last included. */
static int spread_row(int r, int n, int m)
{
    return n <= 1 ? 0 : (int)((int64_t)r * (m - 1) / (n - 1));
}

/* Rows verify() checks: all when affordable, else an even spread. */
static int rows_to_check(const dense *g)
{
    int m = is_gemm(g->kind) ? g->L : g->d;
    int n = is_gemm(g->kind) ? (int)(DENSE_CHECK_MACS / ((double)g->d * g->d))
                             : DENSE_CHECK_GEMV_ROWS;
    n = n < 8 ? 8 : n;
    return n < m ? n : m;
}

/* fp32: row i of the output against the double reference, within
 * DENSE_TOL_FP32 x sum |products|.  ref, mag: (d) doubles of workspace (the
 * GEMM row is summed over rows of B, so B is read contiguously). */
static int verify_fp32_row(const dense *g, int i, double *ref, double *mag, cb_err *err)
{
    int d = g->d, gemm = is_gemm(g->kind), cols = gemm ? d : 1;
    const float *a = g->a + (size_t)i * d;
    for (int j = 0; j < cols; j++)
        ref[j] = mag[j] = 0.0;
    for (int p = 0; p < d; p++) {
        if (!gemm) {
            ref[0] += (double)a[p] * g->b[p];
            mag[0] += fabs((double)a[p] * g->b[p]);
            continue;
        }
        const float *brow = g->b + (size_t)p * d;
        for (int j = 0; j < d; j++) {
            double prod = (double)a[p] * brow[j];
            ref[j] += prod;
            mag[j] += fabs(prod);
        }
    }
    for (int j = 0; j < cols; j++) {
        float got = gemm ? g->c[(size_t)i * d + j] : g->c[i];
        if (!(fabs((double)got - ref[j]) <= DENSE_TOL_FP32 * mag[j] + 1e-30))
            return cb_fail(err, "%s: output (%d, %d) is %.9g, reference %.9g (tolerance %.3g)",
                           g->name, i, j, got, ref[j], DENSE_TOL_FP32 * mag[j]);
    }
    return 0;
}

/* int8 GEMM: row i's quantisation and outputs, bit for bit. */
static int verify_int8_gemm_row(const dense *g, int i, int8_t *q, float *out, cb_err *err)
{
    int d = g->d;
    float s;
    op_quantize_rows_int8_ref(g->a + (size_t)i * d, q, &s, 1, d);
    if (s != g->sx[i] || memcmp(q, g->xq + (size_t)i * d, (size_t)d) != 0)
        return cb_fail(err, "%s: row %d of A quantised differently from the reference", g->name,
                       i);
    op_gemm_int8_ref(q, &s, g->wq, g->sw, out, 1, d, d);
    for (int j = 0; j < d; j++)
        if (memcmp(&out[j], &g->c[(size_t)i * d + j], sizeof(float)) != 0)
            return cb_fail(err, "%s: output (%d, %d) is %.9g, reference %.9g (must be equal)",
                           g->name, i, j, g->c[(size_t)i * d + j], out[j]);
    return 0;
}

/* int8 GEMV: output row i against the reference on the reference's quantised x. */
static int verify_int8_gemv_row(const dense *g, int i, const int8_t *q, float s, cb_err *err)
{
    float ref;
    op_gemv_int8_ref(g->wq + (size_t)i * g->d, g->sw + i, q, s, &ref, 1, g->d);
    if (memcmp(&ref, &g->c[i], sizeof(float)) != 0)
        return cb_fail(err, "%s: output %d is %.9g, reference %.9g (must be equal)", g->name, i,
                       g->c[i], ref);
    return 0;
}

static int dense_verify(void *inst, cb_err *err)
{
    dense *g = inst;
    int n = rows_to_check(g), m = is_gemm(g->kind) ? g->L : g->d, rc = 0;
    size_t d = (size_t)g->d;
    int8_t *q = malloc(d);
    float *out = malloc(d * sizeof(float)), s = 0.0f;
    double *ref = malloc(2 * d * sizeof(double));
    if (!q || !out || !ref) {
        rc = cb_fail(err, "%s: out of memory verifying", g->name);
        goto done;
    }
    if (g->kind == GEMV_INT8)
        op_quantize_rows_int8_ref(g->b, q, &s, 1, g->d);
    for (int r = 0; r < n && rc == 0; r++) {
        int i = spread_row(r, n, m);
        if (g->kind == GEMM_INT8)
            rc = verify_int8_gemm_row(g, i, q, out, err);
        else if (g->kind == GEMV_INT8)
            rc = verify_int8_gemv_row(g, i, q, s, err);
        else
            rc = verify_fp32_row(g, i, ref, ref + d, err);
    }
done:
    free(q);
    free(out);
    free(ref);
    return rc;
}

/* ---- the entries ------------------------------------------------------------------------------------ */

#define DENSE_CREATE(fn, kind, name, check)                                                     \
    static int fn(const op_dims *dm, uint64_t seed, int max_workers, void **inst, cb_err *err) \
    {                                                                                           \
        return dense_create(kind, name, check, dm, seed, max_workers, inst, err);               \
    }

DENSE_CREATE(create_gemm_builtin, GEMM_BUILTIN, "gemm.builtin", check_gemm)
DENSE_CREATE(create_gemm_blas, GEMM_BLAS, "gemm.openblas", check_gemm)
DENSE_CREATE(create_gemv_builtin, GEMV_BUILTIN, "gemv.builtin", check_gemv)
DENSE_CREATE(create_gemv_blas, GEMV_BLAS, "gemv.openblas", check_gemv)
DENSE_CREATE(create_gemm_int8, GEMM_INT8, "gemm_int8.builtin", check_gemm)
DENSE_CREATE(create_gemv_int8, GEMV_INT8, "gemv_int8.builtin", check_gemv)

#define USES_GEMM "seq_len d_model"
#define USES_GEMV "d_model (L unused: one token's projection)"

static const op_entry e_gemm_builtin = {
    "gemm.builtin", "gemm", "builtin", "dense", "prefill", USES_GEMM, DENSE_TOL_FP32,
    check_gemm, cost_gemm, create_gemm_builtin, dense_run, dense_verify, dense_destroy,
};
static const op_entry e_gemm_blas = {
    "gemm.openblas", "gemm", "openblas", "dense", "prefill", USES_GEMM, DENSE_TOL_FP32,
    check_gemm, cost_gemm, create_gemm_blas, dense_run, dense_verify, dense_destroy,
};
static const op_entry e_gemv_builtin = {
    "gemv.builtin", "gemv", "builtin", "dense", "decode", USES_GEMV, DENSE_TOL_FP32,
    check_gemv, cost_gemv, create_gemv_builtin, dense_run, dense_verify, dense_destroy,
};
static const op_entry e_gemv_blas = {
    "gemv.openblas", "gemv", "openblas", "dense", "decode", USES_GEMV, DENSE_TOL_FP32,
    check_gemv, cost_gemv, create_gemv_blas, dense_run, dense_verify, dense_destroy,
};
static const op_entry e_gemm_int8 = {
    "gemm_int8.builtin", "gemm_int8", "builtin", "dense", "prefill", USES_GEMM, 0.0,
    check_gemm, cost_gemm_int8, create_gemm_int8, dense_run, dense_verify, dense_destroy,
};
static const op_entry e_gemv_int8 = {
    "gemv_int8.builtin", "gemv_int8", "builtin", "dense", "decode", USES_GEMV, 0.0,
    check_gemv, cost_gemv_int8, create_gemv_int8, dense_run, dense_verify, dense_destroy,
};

const op_entry *const op_family_dense[] = {
    &e_gemm_builtin, &e_gemm_blas, &e_gemv_builtin, &e_gemv_blas, &e_gemm_int8, &e_gemv_int8,
    NULL,
};
