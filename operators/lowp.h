/* operators/lowp.h — weights stored in fewer bits than fp32: 16-bit floats
 * (bf16, IEEE f16) and ggml's 8- and 4-bit block types (Q8_0, Q4_0, Q4_1;
 * layouts in operators/quant.h): conversions, and the GEMV and GEMM of
 * operators/gemm.h with the weight matrix in any storage type.
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
 *                    Block types run quant.h's native GEMV: x is
 *                    quantised to int8 per block of 32 by each worker (on
 *                    its stack: k <= OP_W_QMAX_K), then int8 x int4/int8
 *                    dot products; error bound op_gemv_q_bound.
 *   op_gemm_w_part   C = A B, A (m, k) stored as wtype, converted while it is
 *                    packed (gemm.c's A panels: 16-bit widened, blocks
 *                    dequantised exactly), same scratch as op_gemm_part
 * Both are op_gemv_part / op_gemm_part when wtype is OP_W_F32 (and for any
 * value that is not one of the types below).  16-bit matrices must be 2-byte
 * aligned; a block-type matrix has k a multiple of 32 (its rows are whole
 * blocks, row i at W + i op_wtype_row_bytes(t, k)).
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
    OP_W_Q8_0 = 3, /* ggml Q8_0: blocks of 32 int8 and an f16 scale */
    OP_W_Q4_0 = 4, /* ggml Q4_0: blocks of 32 4-bit, f16 scale, zero 8 */
    OP_W_Q4_1 = 5, /* ggml Q4_1: blocks of 32 4-bit, f16 scale and minimum */
} op_wtype;
#define OP_W_N 6

/* The largest k of a block-type GEMV (its x is quantised on the stack:
 * about 1.4 bytes per element). */
#define OP_W_QMAX_K 65536

/* "f32", "bf16", "f16", "q8_0", "q4_0", "q4_1" ("?" for anything else). */
const char *op_wtype_name(op_wtype t);

/* The type named s (one of the names above); -1 when s names none. */
int op_wtype_parse(const char *s);

/* Bytes per element of the element types: 4, 2, 2; 0 for block types and
 * anything else. */
size_t op_wtype_size(op_wtype t);

/* Elements per block: 1 for f32 / bf16 / f16, 32 for the block types, 0 for
 * anything else. */
int op_wtype_block(op_wtype t);

/* Bytes of a row of k elements stored as t; 0 when t is unknown or k is
 * negative or not a multiple of the block. */
size_t op_wtype_row_bytes(op_wtype t, int64_t k);

/* The ggml / GGUF type id of t (operators/quant.h's op_qtype), -1 for an
 * unknown t. */
int op_wtype_qtype(op_wtype t);

/* The op_wtype whose ggml type id is qtype, -1 when none is (K-quants, Q5_x). */
int op_wtype_from_qtype(int qtype);

/* Exact conversions of one bit pattern (subnormals, infinities, NaN kept). */
float op_f16_to_f32(uint16_t h);
float op_bf16_to_f32(uint16_t b);
/* Round-to-nearest-even conversions back (overflow to infinity, NaN kept
 * a NaN). */
uint16_t op_f32_to_f16(float f);
uint16_t op_f32_to_bf16(float f);

/* dst[0..n) = src[0..n) converted from wtype to fp32, bit for bit as the
 * scalar conversions except that the f16 vector path (F16C / AVX-512) makes a
 * signalling NaN quiet; block types dequantised exactly as ggml does (n a
 * multiple of 32: whole blocks).  16-bit data must be 2-byte aligned. */
void op_w_to_f32(const void *src, op_wtype t, float *dst, size_t n);
/* dst[0..n) = src[0..n) rounded to wtype (a copy for OP_W_F32); block types
 * quantised as ggml's reference quantisers (n a multiple of 32, src finite). */
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

/* Minimum traffic of a GEMV with W stored as t: row_bytes(t, k) m + 4 (k + m). */
double op_gemv_w_bytes(int m, int k, op_wtype t);

#endif
