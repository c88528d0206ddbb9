/* operators/int8.h — symmetric int8 quantisation and int8 GEMV / GEMM with
 * int32 accumulation.
 *
 * Quantisation is symmetric per row: for a row x of length k,
 *     s = max_p |x_p| / 127,   q_p = round_to_nearest_even(x_p * (127 / max_p |x_p|))
 * so q is in [-127, 127] and |x_p - q_p s| <= s / 2 (up to float rounding of
 * s and of the product); an all-zero row gets s = 0 and q = 0.  A vector is a
 * matrix of one row.  Inputs must be finite.
 *
 * Products (row-major; every int8 operand in [-127, 127], as the quantisers
 * produce — -128 is not allowed):
 *
 *   GEMV  y_i  = (float)acc_i  * (s_w[i] * s_x),    acc_i  = sum_p W[i][p] x[p]
 *         W (m, k) int8 with row scales s_w (m); x (k) int8 with one scale s_x
 *   GEMM  C_ij = (float)acc_ij * (s_a[i] * s_b[j]), acc_ij = sum_p A[i][p] B[p][j]
 *         A (m, k) int8 with row scales s_a (m) (activations, per token);
 *         B (k, n) given TRANSPOSED as Bt (n, k) int8 with row scales s_b (n):
 *         the weights W (n, k) of a projection as stored, so C = A W^T
 *
 * acc is exact in int32 for k <= OP_INT8_MAX_K (127 x 127 x k < 2^31), so the
 * fast kernels equal the references bit for bit whatever the ISA and the
 * number of workers (the tolerance of the int8 entries is 0).  Against the
 * fp32 product of the unquantised operands, element i differs by at most
 * sum_p (|w_ip| s_x + |x'_p| s_w[i]) / 2 (x' = dequantised x) plus float
 * rounding.
 *
 * Fast kernels: AVX-512 VNNI (vpdpbusd multiplies unsigned by signed bytes:
 * the signed operand is offset by +128 with an XOR of 0x80 and the exact
 * correction 128 x sum of the other operand is subtracted), AVX2 (vpmaddubsw
 * after moving the sign of one operand onto the other, so no pair sum can
 * saturate), or portable C.  They compute one worker's slice of output rows.
 *
 * Cost convention: one integer multiply-add counts 2 operations; bytes count
 * int8 weights at 1 byte plus their fp32 scales, and the fp32 activations read
 * (quantised on the fly) and fp32 outputs written once.
 *
 * Never: allocate, do I/O, start threads (kernels are leaves). */
#ifndef CTXBENCH_OPERATORS_INT8_H
#define CTXBENCH_OPERATORS_INT8_H

#include <stddef.h>
#include <stdint.h>

/* The largest inner dimension k the products accept (int32 exactness). */
#define OP_INT8_MAX_K 131072

/* The kernel variant compiled in: "avx512vnni", "avx2", or "portable". */
const char *op_int8_isa(void);

/* ---- quantisation ---------------------------------------------------------------------- */

/* Quantises each row of X: Q = round(X / s), scales[i] = s of row i (see
 * above).  Plain reference.  m, k >= 0. */
void op_quantize_rows_int8_ref(const float *X /* (m, k) */, int8_t *Q /* (m, k) */,
                               float *scales /* (m) */, int m, int k);

/* The same, vectorised; bit-identical to op_quantize_rows_int8_ref. */
void op_quantize_rows_int8(const float *X /* (m, k) */, int8_t *Q /* (m, k) */,
                           float *scales /* (m) */, int m, int k);

/* X = Q s row by row (the inverse, up to the rounding error).  m, k >= 0. */
void op_dequantize_rows_int8(const int8_t *Q /* (m, k) */, const float *scales /* (m) */,
                             float *X /* (m, k) */, int m, int k);

/* ---- GEMV: y = (W x) s_w s_x ------------------------------------------------------------ */

/* Plain reference (int64 accumulation).  0 <= k <= OP_INT8_MAX_K. */
void op_gemv_int8_ref(const int8_t *W /* (m, k) */, const float *s_w /* (m) */,
                      const int8_t *x /* (k) */, float s_x, float *y /* (m) */, int m, int k);

/* The output rows [*lo, *hi) of worker among n_workers (blocks of 4 rows). */
void op_gemv_int8_rows(int m, int worker, int n_workers, int *lo, int *hi);

/* y[lo..hi) for this worker's rows; bit-identical to the reference. */
void op_gemv_int8_part(const int8_t *W /* (m, k) */, const float *s_w /* (m) */,
                       const int8_t *x /* (k) */, float s_x, float *y /* (m) */, int m, int k,
                       int worker, int n_workers);

/* ---- GEMM: C = (A B) s_a s_b, B given as Bt (n, k) -------------------------------------- */

/* Plain reference (int64 accumulation).  m, n >= 0, 0 <= k <= OP_INT8_MAX_K. */
void op_gemm_int8_ref(const int8_t *A /* (m, k) */, const float *s_a /* (m) */,
                      const int8_t *Bt /* (n, k) */, const float *s_b /* (n) */,
                      float *C /* (m, n) */, int m, int n, int k);

/* The fast GEMM reads B in a packed layout made once (weights are packed when
 * they are loaded, not at every product): panels of the kernel's column width
 * over the whole of k in groups of 4 bytes, then the column sums.  Bytes of
 * the packed form of Bt (n, k); 0 when n or k is 0. */
size_t op_gemm_int8_packed_bytes(int n, int k);

/* Writes the packed form of Bt (n, k) into packed (op_gemm_int8_packed_bytes
 * bytes, 4-byte aligned as malloc's are; the caller owns it).  n >= 0, 0 <= k <= OP_INT8_MAX_K. */
void op_gemm_int8_pack(const int8_t *Bt /* (n, k) */, int n, int k, void *packed);

/* The output rows [*lo, *hi) of worker among n_workers. */
void op_gemm_int8_rows(int m, int worker, int n_workers, int *lo, int *hi);

/* Bytes of scratch op_gemm_int8_part needs for n_workers workers together
 * (packed panels of A; each worker uses its own region; any alignment).  0
 * when m, n or k is 0. */
size_t op_gemm_int8_scratch_bytes(int m, int n, int k, int n_workers);

/* C[lo..hi) for this worker's rows (op_gemm_int8_rows), C overwritten;
 * bit-identical to op_gemm_int8_ref with the Bt that was packed.  packed:
 * op_gemm_int8_pack of Bt (n, k); scratch: op_gemm_int8_scratch_bytes(m, n,
 * k, n_workers) bytes shared by the workers of the run. */
void op_gemm_int8_part(const int8_t *A /* (m, k) */, const float *s_a /* (m) */,
                       const void *packed /* Bt (n, k) packed */, const float *s_b /* (n) */,
                       float *C /* (m, n) */, int m, int n, int k, void *scratch, int worker,
                       int n_workers);

/* ---- cost model (entries that quantise fp32 activations inside the run) ----------------- */

double op_gemv_int8_flops(int m, int k);        /* 2 m k */
double op_gemv_int8_bytes(int m, int k);        /* m k + 4 m (W, s_w) + 4 k (x fp32) + 4 m (y) */
double op_gemm_int8_flops(int m, int n, int k); /* 2 m n k */
double op_gemm_int8_bytes(int m, int n, int k); /* n k + 4 n (Bt, s_b) + 4 m k (A fp32) + 4 m n (C) */

#endif
