/* operators/blas.h — fp32 GEMV and GEMM through OpenBLAS (CBLAS), as a
 * backend selectable beside the built-in kernels of operators/gemm.h.
 *
 * The products and layouts are those of gemm.h (row-major; y = W x with W
 * (m, k); C = A B with A (m, k), B (k, n)), and so is the split: each worker
 * computes the output rows op_gemv_rows / op_gemm_rows give it, with one
 * cblas_sgemv / cblas_sgemm call on its own row slice.  OpenBLAS's own
 * threading must then be off (op_blas_single_thread()), so that the pool
 * partition, not OpenBLAS, decides which cores work.
 *
 * Tolerance against the references of gemm.h: as the built-in kernels, each
 * output element within 1e-4 x sum_k |a_ik b_kj| (+1e-30); OpenBLAS's
 * summation order differs from the built-in one, so results differ in the
 * last bits (and may differ with n_workers: OpenBLAS blocks each slice as it
 * likes).
 *
 * Never: allocate (OpenBLAS allocates its own buffers inside its calls), do
 * I/O, or start threads of its own once op_blas_single_thread() was called. */
#ifndef CTXBENCH_OPERATORS_BLAS_H
#define CTXBENCH_OPERATORS_BLAS_H

/* Sets OpenBLAS's own thread count to 1 (process-wide: every later OpenBLAS
 * call runs on its caller's thread).  Idempotent; cannot fail. */
void op_blas_single_thread(void);

/* Sets OpenBLAS's own thread count (n >= 1; process-wide), for comparing its
 * threading with the pool's; the entries always use op_blas_single_thread(). */
void op_blas_set_threads(int n);

/* OpenBLAS's build description (openblas_get_config(): version, target core,
 * threading), e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64".
 * Static string owned by OpenBLAS. */
const char *op_blas_config(void);

/* y[lo..hi) = W[lo..hi) x for this worker's rows (op_gemv_rows), through
 * cblas_sgemv.  m, k >= 0 (k == 0 gives zeros). */
void op_blas_gemv_part(const float *W /* (m, k) */, const float *x /* (k) */,
                       float *y /* (m) */, int m, int k, int worker, int n_workers);

/* C[lo..hi) = A[lo..hi) B for this worker's rows (op_gemm_rows), through
 * cblas_sgemm, C overwritten.  m, n, k >= 0 (k == 0 gives zeros). */
void op_blas_gemm_part(const float *A /* (m, k) */, const float *B /* (k, n) */,
                       float *C /* (m, n) */, int m, int n, int k, int worker, int n_workers);

/* The fp32 GEMM backend to use by default, chosen by measurement: "builtin"
 * (op_gemm_part) or "openblas" (op_blas_gemm_part).  The figures behind the
 * choice are in the comment above its definition in blas.c. */
const char *op_gemm_default_backend(void);

#endif
