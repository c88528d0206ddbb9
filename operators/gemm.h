/* operators/gemm.h — fp32 matrix-vector (GEMV) and matrix-matrix (GEMM) products.
 *
 * Row-major throughout.  Each product has a plain reference (double
 * accumulation, obviously correct), a fast version, and its cost model:
 *
 *   GEMV  y = W x      W (m, k), x (k), y (m)         decode-time projections
 *   GEMM  C = A B      A (m, k), B (k, n), C (m, n)   prefill-time projections
 *
 * The fast versions compute one worker's slice of the output rows, so a
 * caller runs them on a pool partition (platforms/pool.h) with
 * worker = 0..n_workers-1; the slices are disjoint and together cover every
 * row, and the result does not depend on n_workers beyond float rounding of
 * the blocking (it does not: each output element is summed in the same order
 * whatever the split).  The GEMV streams W once, several rows at a time; the
 * GEMM is cache-blocked (panels of B and A packed into caller-provided
 * scratch) around a register-tiled micro-kernel.  The vector ISA is chosen at
 * compile time: AVX-512F, AVX2+FMA, NEON (aarch64), or portable C.
 *
 * OpenBLAS is the other fp32 backend (blas.h: the same slices through CBLAS);
 * op_gemm_default_backend() there names the one measured faster here.
 *
 * Tolerance against the reference: each fast output element is within
 * 1e-4 x sum_k |a_ik b_kj| (+1e-30) of the reference (float accumulation of
 * k terms; tests/test_gemm.c checks it on awkward shapes).
 *
 * Never: allocate, do I/O, or read anything but their arguments (kernels are
 * leaves); no threads here (the caller's pool runs the slices). */
#ifndef CTXBENCH_OPERATORS_GEMM_H
#define CTXBENCH_OPERATORS_GEMM_H

#include <stddef.h>

/* The kernel variant compiled in: "avx512f", "avx2+fma", "neon" or "portable". */
const char *op_gemm_isa(void);

/* ---- references ------------------------------------------------------------------- */

/* y = W x with double accumulation.  m, k >= 0 (k == 0 gives y = 0). */
void op_gemv_ref(const float *W /* (m, k) */, const float *x /* (k) */, float *y /* (m) */,
                 int m, int k);

/* C = A B with double accumulation (C overwritten).  m, n, k >= 0. */
void op_gemm_ref(const float *A /* (m, k) */, const float *B /* (k, n) */,
                 float *C /* (m, n) */, int m, int n, int k);

/* ---- fast, one worker's slice ----------------------------------------------------------- */

/* The output rows [*lo, *hi) that worker computes among n_workers (may be
 * empty when there are more workers than row blocks). */
void op_gemv_rows(int m, int worker, int n_workers, int *lo, int *hi);
void op_gemm_rows(int m, int worker, int n_workers, int *lo, int *hi);

/* y[lo..hi) = W[lo..hi) x for this worker's rows (op_gemv_rows). */
void op_gemv_part(const float *W /* (m, k) */, const float *x /* (k) */, float *y /* (m) */,
                  int m, int k, int worker, int n_workers);

/* Bytes of scratch op_gemm_part needs for n_workers workers together (each
 * uses its own region of it; any alignment).  0 when m, n or k is 0. */
size_t op_gemm_scratch_bytes(int m, int n, int k, int n_workers);

/* This worker's rows [*lo, *hi) of C (m, n) (op_gemm_rows), and whether
 * there is a product left to compute: 0 when the share is empty or n <= 0,
 * and 0 after zeroing those rows of C when k <= 0; else 1.  The prologue
 * of every gemm share (op_gemm_part, op_blas_gemm_part).  Cannot fail. */
int op_gemm_part_rows(float *C, int m, int n, int k, int worker, int n_workers, int *lo, int *hi);

/* C[lo..hi) = A[lo..hi) B for this worker's rows (op_gemm_rows), C
 * overwritten.  scratch: op_gemm_scratch_bytes(m, n, k, n_workers) bytes
 * shared by all workers of the run (each writes only its own region). */
void op_gemm_part(const float *A /* (m, k) */, const float *B /* (k, n) */,
                  float *C /* (m, n) */, int m, int n, int k, void *scratch, int worker,
                  int n_workers);

/* ---- cost model ------------------------------------------------------------------------- */

double op_gemv_flops(int m, int k);         /* 2 m k */
double op_gemv_bytes(int m, int k);         /* 4 (m k + k + m): W, x, y once each */
double op_gemm_flops(int m, int n, int k);  /* 2 m n k */
double op_gemm_bytes(int m, int n, int k);  /* 4 (m k + k n + m n): the minimum traffic */

#endif
