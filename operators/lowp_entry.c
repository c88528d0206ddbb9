/* operators/lowp_entry.c — registry entries (op.h) for the GEMV with 16-bit
 * weights (lowp.h), in the dense family beside gemv.builtin:
 *
 *   gemv_bf16.builtin   decode   y (d) = W (d, d) x (d), W stored as bfloat16
 *   gemv_f16.builtin    decode   y (d) = W (d, d) x (d), W stored as IEEE f16
 *
 * d is d_model; seq_len unused.  Inputs as in dense_entry.c: x uniform in
 * [-1, 1), W uniform in [-1/sqrt(d), 1/sqrt(d)) rounded to the storage type
 * in create().  W is allocated 2 MiB-aligned and advised as huge pages when
 * large.  Tolerance: each output within 1e-4 x sum_k |w_ik x_k| (+1e-30) of
 * op_gemv_w_ref (the exactly converted W, double accumulation), on every row
 * up to 256 rows, else an even spread of 256 (first and last included).
 *
 * Never: time, print, or run the reference inside run(). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "operators/gemm.h"
#include "operators/int8.h"
#include "operators/lowp.h"
#include "operators/op.h"

extern const op_entry *const op_family_lowp[];

#define LOWP_MAX_D OP_INT8_MAX_K /* the same range as the other dense entries */
#define LOWP_TOL 1e-4
#define LOWP_CHECK_ROWS 256
#define LOWP_HUGE ((size_t)2 << 20)

typedef struct lowp_gemv {
    const char *name;
    op_wtype t;
    int d;
    void *w;  /* W (d, d) stored as t */
    float *x; /* (d) */
    float *y; /* (d) */
} lowp_gemv;

/* Bytes, 2 MiB-aligned and advised as huge pages when large. */
static void *lowp_alloc(size_t bytes)
{
    if (bytes < LOWP_HUGE)
        return malloc(bytes ? bytes : 1);
    size_t rounded = (bytes + LOWP_HUGE - 1) / LOWP_HUGE * LOWP_HUGE;
    void *p = aligned_alloc(LOWP_HUGE, rounded);
#ifdef MADV_HUGEPAGE
    if (p)
        (void)madvise(p, rounded, MADV_HUGEPAGE); /* advice only */
#endif
    return p;
}

static void lowp_destroy(void *inst)
{
    lowp_gemv *g = inst;
    if (!g)
        return;
    free(g->w);
    free(g->x);
    free(g->y);
    free(g);
}

static int lowp_check(const op_dims *dm, cb_err *err)
{
    if (op_check_range("d_model", dm->d_model, LOWP_MAX_D, err) != 0)
        return -1;
    int64_t dd[2] = {dm->d_model, dm->d_model};
    return op_check_bytes("W (d_model, d_model)", sizeof(uint16_t), 2, dd, err);
}

static op_cost cost_bf16(const op_dims *dm)
{
    int d = dm->d_model;
    return (op_cost){op_gemv_flops(d, d), op_gemv_w_bytes(d, d, OP_W_BF16), 0.0};
}

static op_cost cost_f16(const op_dims *dm)
{
    int d = dm->d_model;
    return (op_cost){op_gemv_flops(d, d), op_gemv_w_bytes(d, d, OP_W_F16), 0.0};
}

/* W filled one row at a time through a row of floats (no full fp32 copy). */
static void lowp_fill(lowp_gemv *g, uint64_t seed, float *row)
{
    size_t d = (size_t)g->d, es = op_wtype_size(g->t);
    float w = 1.0f / sqrtf((float)g->d);
    for (size_t i = 0; i < d; i++) {
        op_fill_uniform(row, d, seed * 0x100000001b3ULL + i, -w, w);
        op_f32_to_w(row, g->t, (char *)g->w + i * d * es, d);
    }
    op_fill_uniform(g->x, d, seed + 1, -1.0f, 1.0f);
    memset(g->y, 0, d * sizeof(float));
}

static int lowp_create(op_wtype t, const char *name, const op_dims *dm, uint64_t seed,
                       int max_workers, void **inst, cb_err *err)
{
    *inst = NULL;
    if (lowp_check(dm, err) != 0)
        return cb_wrap(err, "%s", name);
    if (max_workers < 1)
        return cb_fail(err, "%s: max_workers = %d must be at least 1", name, max_workers);
    lowp_gemv *g = calloc(1, sizeof *g);
    size_t d = (size_t)dm->d_model;
    float *row = malloc(d * sizeof(float));
    if (g) {
        g->name = name;
        g->t = t;
        g->d = dm->d_model;
        g->w = lowp_alloc(d * d * op_wtype_size(t));
        g->x = malloc(d * sizeof(float));
        g->y = malloc(d * sizeof(float));
    }
    if (!g || !row || !g->w || !g->x || !g->y) {
        free(row);
        lowp_destroy(g);
        return cb_fail(err, "%s: out of memory (d_model %d)", name, dm->d_model);
    }
    lowp_fill(g, seed, row);
    free(row);
    *inst = g;
    return 0;
}

static int create_bf16(const op_dims *dm, uint64_t seed, int max_workers, void **inst,
                       cb_err *err)
{
    return lowp_create(OP_W_BF16, "gemv_bf16.builtin", dm, seed, max_workers, inst, err);
}

static int create_f16(const op_dims *dm, uint64_t seed, int max_workers, void **inst,
                      cb_err *err)
{
    return lowp_create(OP_W_F16, "gemv_f16.builtin", dm, seed, max_workers, inst, err);
}

static void lowp_run(void *inst, int worker, int n_workers)
{
    lowp_gemv *g = inst;
    op_gemv_w_part(g->w, g->t, g->x, g->y, g->d, g->d, worker, n_workers);
}

/* Row i of y against op_gemv_w_ref, within LOWP_TOL x sum |w x|. */
static int verify_row(const lowp_gemv *g, int i, float *wrow, cb_err *err)
{
    size_t d = (size_t)g->d;
    const void *w = (const char *)g->w + (size_t)i * d * op_wtype_size(g->t);
    float ref;
    op_gemv_w_ref(w, g->t, g->x, &ref, 1, g->d);
    op_w_to_f32(w, g->t, wrow, d);
    double mag = 0.0;
    for (size_t j = 0; j < d; j++)
        mag += fabs((double)wrow[j] * g->x[j]);
    if (!(fabs((double)g->y[i] - ref) <= LOWP_TOL * mag + 1e-30))
        return cb_fail(err, "%s: output %d is %.9g, reference %.9g (tolerance %.3g)", g->name, i,
                       g->y[i], ref, LOWP_TOL * mag);
    return 0;
}

static int lowp_verify(void *inst, cb_err *err)
{
    lowp_gemv *g = inst;
    int n = g->d < LOWP_CHECK_ROWS ? g->d : LOWP_CHECK_ROWS, rc = 0;
    float *wrow = malloc((size_t)g->d * sizeof(float));
    if (!wrow)
        return cb_fail(err, "%s: out of memory verifying", g->name);
    for (int r = 0; r < n && rc == 0; r++) {
        int i = n <= 1 ? 0 : (int)((int64_t)r * (g->d - 1) / (n - 1));
        rc = verify_row(g, i, wrow, err);
    }
    free(wrow);
    return rc;
}

#define USES_GEMV "d_model (L unused: one token's projection)"

static const op_entry e_gemv_bf16 = {
    "gemv_bf16.builtin", "gemv_bf16", "builtin", "dense", "decode", USES_GEMV, LOWP_TOL,
    lowp_check, cost_bf16, create_bf16, lowp_run, lowp_verify, lowp_destroy,
};
static const op_entry e_gemv_f16 = {
    "gemv_f16.builtin", "gemv_f16", "builtin", "dense", "decode", USES_GEMV, LOWP_TOL,
    lowp_check, cost_f16, create_f16, lowp_run, lowp_verify, lowp_destroy,
};

const op_entry *const op_family_lowp[] = {&e_gemv_bf16, &e_gemv_f16, NULL};
