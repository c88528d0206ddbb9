/* experiments/runner_gemm.c — the "gemm" runner: fp32 GEMV (decode-shaped) and
 * GEMM (prefill-shaped) with the built-in kernels on square sizes, spread over
 * the first N cores.  Before a case is timed, the fast kernel's output is
 * checked against the plain reference: every row for small sizes, a spread of
 * rows (first, last and evenly spaced) for large ones, where the reference
 * would take longer than the measurement. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/runner.h"
#include "operators/gemm.h"
#include "operators/op.h"

#define GEMM_FULL_CHECK_SIZE 512 /* verify every row up to this size */
#define GEMM_CHECK_ROWS 16       /* rows verified beyond it */
#define GEMM_TOLERANCE 1e-4      /* relative to sum |products|, as tests/test_gemm.c */

static const char *const gemm_kernels[] = {"gemv", "gemm", NULL};

static const exp_param gemm_params[] = {
    {.name = "kernel", .type = EXP_WORD, .def = "gemv, gemm", .allowed = gemm_kernels,
     .help = "gemv (y = W x) or gemm (C = A B)"},
    {.name = "size", .type = EXP_INT, .def = "1024", .min = 1, .max = 65536, .help = "m = n = k"},
    {.name = "threads", .type = EXP_INT, .def = "1", .min = 1, .max = 4096,
     .help = "worker threads (first N cores)"},
};

typedef struct gemm_case {
    int is_gemm;
    int n;             /* m = n = k */
    float *a;          /* gemv: W (n, n); gemm: A (n, n) */
    float *b;          /* gemv: x (n);    gemm: B (n, n) */
    float *c;          /* gemv: y (n);    gemm: C (n, n) */
    void *scratch;     /* gemm packing, op_gemm_scratch_bytes */
    pool *pool;
    pool_part part;
} gemm_case;

static void gemm_case_free(void *ctx)
{
    gemm_case *g = ctx;
    if (!g)
        return;
    free(g->a);
    free(g->b);
    free(g->c);
    free(g->scratch);
    free(g);
}

static void gemm_worker(void *ctx, int worker, int n_workers)
{
    gemm_case *g = ctx;
    if (g->is_gemm)
        op_gemm_part(g->a, g->b, g->c, g->n, g->n, g->n, g->scratch, worker, n_workers);
    else
        op_gemv_part(g->a, g->b, g->c, g->n, g->n, worker, n_workers);
}

static int gemm_rep(void *ctx, cb_err *err)
{
    gemm_case *g = ctx;
    return pool_run(g->pool, &g->part, gemm_worker, g, err);
}

/* Compares output row i with the reference row computed here. */
static int gemm_check_row(const gemm_case *g, int i, cb_err *err)
{
    int n = g->n, cols = g->is_gemm ? n : 1;
    for (int j = 0; j < cols; j++) {
        double ref = 0, mag = 0;
        for (int k = 0; k < n; k++) {
            double p = (double)g->a[(size_t)i * n + k] * (g->is_gemm ? g->b[(size_t)k * n + j] : g->b[k]);
            ref += p;
            mag += fabs(p);
        }
        double got = g->c[(size_t)i * cols + j];
        if (!(fabs(got - ref) <= GEMM_TOLERANCE * mag + 1e-30))
            return cb_fail(err, "%s size %d: element (%d, %d) is %.9g, reference %.9g",
                           g->is_gemm ? "gemm" : "gemv", n, i, j, got, ref);
    }
    return 0;
}

static int gemm_verify(const gemm_case *g, cb_err *err)
{
    int n = g->n;
    if (n <= GEMM_FULL_CHECK_SIZE) {
        for (int i = 0; i < n; i++)
            if (gemm_check_row(g, i, err) != 0)
                return -1;
        return 0;
    }
    for (int r = 0; r < GEMM_CHECK_ROWS; r++)
        if (gemm_check_row(g, (int)((int64_t)r * (n - 1) / (GEMM_CHECK_ROWS - 1)), err) != 0)
            return -1;
    return 0;
}

static int gemm_alloc(gemm_case *g, int threads, cb_err *err)
{
    size_t n = (size_t)g->n, mat = n * n;
    g->a = malloc(mat * sizeof *g->a);
    g->b = malloc((g->is_gemm ? mat : n) * sizeof *g->b);
    g->c = malloc((g->is_gemm ? mat : n) * sizeof *g->c);
    size_t scratch = g->is_gemm ? op_gemm_scratch_bytes(g->n, g->n, g->n, threads) : 0;
    g->scratch = scratch ? malloc(scratch) : NULL;
    if (!g->a || !g->b || !g->c || (scratch && !g->scratch))
        return cb_fail(err, "gemm size %d: out of memory", g->n);
    op_fill_uniform(g->a, mat, 1, -1.0f, 1.0f);
    op_fill_uniform(g->b, g->is_gemm ? mat : n, 2, -1.0f, 1.0f);
    return 0;
}

static int gemm_prepare(const exp_env *env, const exp_point *pt, exp_case *out, cb_err *err)
{
    const exp_runner *self = exp_runner_find("gemm");
    int threads = (int)exp_point_int(self, pt, "threads");
    gemm_case *g = calloc(1, sizeof *g);
    if (!g)
        return cb_fail(err, "out of memory");
    g->is_gemm = strcmp(exp_point_word(self, pt, "kernel"), "gemm") == 0;
    g->n = (int)exp_point_int(self, pt, "size");
    g->pool = env->pool;
    if (pool_part_first(env->pool, threads, &g->part, err) != 0 || gemm_alloc(g, threads, err) != 0 ||
        gemm_rep(g, err) != 0 || gemm_verify(g, err) != 0) {
        gemm_case_free(g);
        return -1;
    }
    out->subject = g->is_gemm ? "gemm" : "gemv";
    out->impl = "builtin";
    out->phase = g->is_gemm ? "prefill" : "decode";
    out->threads = threads;
    out->fn = gemm_rep;
    out->ctx = g;
    out->cleanup = gemm_case_free;
    out->flops = g->is_gemm ? op_gemm_flops(g->n, g->n, g->n) : op_gemv_flops(g->n, g->n);
    out->bytes = g->is_gemm ? op_gemm_bytes(g->n, g->n, g->n) : op_gemv_bytes(g->n, g->n);
    out->state_bytes = -1;
    return 0;
}

const exp_runner exp_runner_gemm = {
    .name = "gemm",
    .description = "fp32 GEMV and GEMM, built-in kernels, verified against the reference",
    .params = gemm_params,
    .n_params = sizeof gemm_params / sizeof gemm_params[0],
    .prepare = gemm_prepare,
};
