/* operators/lowp.h — weights stored as 16-bit floats (bf16, IEEE f16):
 * conversions, and the GEMV and GEMM of operators/gemm.h with the weight
 * matrix in any storage type, converted to fp32 on the fly.
 *
 * Edge deployments and checkpoints ship bf16 or f16 weights; decode is bound
 * by streaming them, so a GEMV that reads 2 bytes per weight instead of 4
 * halves its traffic.  Activations (x, B, y, C) stay fp32 and every product
 * accumulates in fp32, so a 16-bit product equals the fp32 product of the
 * converted matrix within gemm.h's tolerance.
 *
 *   op_gemv_w_part   y = W x, W (m, k) stored as wtype, one worker's rows
 *                    (op_gemv_rows): bf16 widens with a shift, f16 with the
 *                    F16C / AVX-512 conversion instructions where present
 *   op_gemm_w_part   C = A B, A (m, k) stored as wtype, converted while it is
 *                    packed (gemm.c's A panels), same scratch as op_gemm_part
 * Both are op_gemv_part / op_gemm_part when wtype is OP_W_F32 (and for any
 * value that is not OP_W_BF16 or OP_W_F16).  16-bit matrices must be 2-byte
 * aligned.
 *
 * Never: allocate, do I/O, start threads (kernels are leaves). */
#ifndef CTXBENCH_OPERATORS_LOWP_H
#define CTXBENCH_OPERATORS_LOWP_H

#include <stddef.h>
#include <stdint.h>

/* How a weight matrix is stored. */
typedef enum op_wtype {
    OP_W_F32 = 0,
    OP_W_BF16 = 1, /* bfloat16: the top 16 bits of an fp32 */
    OP_W_F16 = 2,  /* IEEE 754 binary16 */
} op_wtype;

/* "f32", "bf16", "f16" ("?" for anything else). */
const char *op_wtype_name(op_wtype t);

/* The type named s ("f32", "bf16", "f16"); -1 when s names none. */
int op_wtype_parse(const char *s);

/* Bytes per element: 4, 2, 2 (0 for anything else). */
size_t op_wtype_size(op_wtype t);

/* Exact conversions of one bit pattern (subnormals, infinities, NaN kept). */
float op_f16_to_f32(uint16_t h);
float op_bf16_to_f32(uint16_t b);
/* Round-to-nearest-even conversions back (overflow to infinity, NaN kept
 * a NaN). */
uint16_t op_f32_to_f16(float f);
uint16_t op_f32_to_bf16(float f);

/* dst[0..n) = src[0..n) converted from wtype to fp32, bit for bit as the
 * scalar conversions except that the f16 vector path (F16C / AVX-512) makes a
 * signalling NaN quiet.  16-bit data must be 2-byte aligned. */
void op_w_to_f32(const void *src, op_wtype t, float *dst, size_t n);
/* dst[0..n) = src[0..n) rounded to wtype (a copy for OP_W_F32). */
void op_f32_to_w(const float *src, op_wtype t, void *dst, size_t n);

/* Reference: y = W x with W converted exactly and double accumulation. */
void op_gemv_w_ref(const void *W, op_wtype t, const float *x, float *y, int m, int k);

/* Fast: y[lo..hi) = W[lo..hi) x for this worker's rows (op_gemv_rows). */
void op_gemv_w_part(const void *W, op_wtype t, const float *x, float *y, int m, int k,
                    int worker, int n_workers);

/* Fast: C[lo..hi) = A[lo..hi) B for this worker's rows (op_gemm_rows), C
 * overwritten; scratch as for op_gemm_part (op_gemm_scratch_bytes). */
void op_gemm_w_part(const void *A, op_wtype t, const float *B, float *C, int m, int n, int k,
                    void *scratch, int worker, int n_workers);

/* Minimum traffic of a GEMV with W stored as t: size(t) m k + 4 (k + m). */
double op_gemv_w_bytes(int m, int k, op_wtype t);

#endif
