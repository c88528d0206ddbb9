/* operators/blas.c — fp32 GEMV and GEMM slices through OpenBLAS (see blas.h).
 *
 * The only file of operators/ that includes cblas.h.  Each worker hands its
 * own row slice to one CBLAS call; with OpenBLAS's threading set to 1 the
 * call runs on the worker's thread, so the pool partition decides the cores.
 *
 * Never: call OpenBLAS with more than one thread on the entries' behalf,
 * allocate, or do I/O. */
#include "operators/blas.h"

#include <stddef.h>
#include <string.h>

#include <cblas.h>

#include "operators/gemm.h"

void op_blas_single_thread(void) { openblas_set_num_threads(1); }

void op_blas_set_threads(int n) { openblas_set_num_threads(n < 1 ? 1 : n); }

const char *op_blas_config(void) { return openblas_get_config(); }

void op_blas_gemv_part(const float *W, const float *x, float *y, int m, int k, int worker,
                       int n_workers)
{
    int lo, hi;
    op_gemv_rows(m, worker, n_workers, &lo, &hi);
    if (lo >= hi)
        return;
    if (k <= 0) {
        memset(y + lo, 0, (size_t)(hi - lo) * sizeof(float));
        return;
    }
    cblas_sgemv(CblasRowMajor, CblasNoTrans, hi - lo, k, 1.0f, W + (size_t)lo * k, k, x, 1, 0.0f,
                y + lo, 1);
}

void op_blas_gemm_part(const float *A, const float *B, float *C, int m, int n, int k, int worker,
                       int n_workers)
{
    int lo, hi;
    if (!op_gemm_part_rows(C, m, n, k, worker, n_workers, &lo, &hi))
        return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, hi - lo, n, k, 1.0f,
                A + (size_t)lo * k, k, B, n, 0.0f, C + (size_t)lo * n, n);
}

/* Chosen by measurement: "builtin".  fp32 GEMM, GFLOP/s at 1 | 2 workers
 * (AMD Zen 5, 2 cores; OpenBLAS 0.3.21, which runs its Haswell AVX2 kernels
 * here; median of 3 rounds of medians of 3-5 repetitions):
 *
 *   C (L, d) = A (L, d) B (d, d)   builtin        OpenBLAS (our partition)  OpenBLAS own 2 threads
 *   L 768,  d 768                  201 | 420      118 | 238
 *   L 1024, d 1024                 224 | 407      121 | 235                 224
 *   L 2048, d 2048                 219 | 394      122 | 242                 237
 *   L 1024, d 2048                 207 | 399      121 | 239                 226
 *   L 4096, d 2048                 214 | 419      121 | 238                 228
 *   L 1024, d 4096                 217 | 410      127 | 242                 236
 *   L 4096, d 768                  218 | 355      119 | 235
 *
 * so the built-in kernel is 1.6-1.8x OpenBLAS at every shape and both worker
 * counts (OpenBLAS's own threading is no faster than our partition).
 * Measured with a throwaway driver timing the entries gemm.builtin and
 * gemm.openblas (create, then run() on every worker through pool_run on
 * pool_part_first(pool, 1 or 2), clock_gettime medians, a round repeated
 * while other processes used over 3% of the machine), and cblas_sgemm with
 * openblas_set_num_threads(2) for the last column.  The pipeline repeats the
 * comparison once the dense family is linked into the registry:
 * `ctxbench run` of an `operators`-runner sweep with operator = gemm.builtin,
 * gemm.openblas; dims = 130m, 1b; context = 768, 2048, 4096; threads = 1, 2. */
const char *op_gemm_default_backend(void) { return "builtin"; }
