/* operators/quant.h — ggml's quantised tensor types: block layouts,
 * dequantisation of a row, reference quantisation, and GEMV with the weight
 * matrix stored quantised (the "native" path that streams the quantised bytes,
 * and a dequantise-then-fp32 path to measure it against).
 *
 * Types carry their GGUF / ggml type ids.  A row of k elements of a block type
 * is k / block_elems blocks stored back to back, exactly as ggml stores them
 * (little-endian; "f16" is an IEEE binary16 bit pattern):
 *
 *   Q4_0 (2)   32 elems, 18 B:  f16 d, u8 qs[16]            x = (q - 8) d
 *   Q4_1 (3)   32 elems, 20 B:  f16 d, f16 m, u8 qs[16]     x = q d + m
 *              (qs[j] low nibble = element j, high nibble = element j + 16)
 *   Q5_0 (6)   32 elems, 22 B:  f16 d, u8 qh[4], u8 qs[16]  x = (q - 16) d
 *   Q5_1 (7)   32 elems, 24 B:  f16 d, f16 m, u8 qh[4], qs  x = q d + m
 *              (q = nibble as Q4_x | bit e of the little-endian u32 qh << 4)
 *   Q8_0 (8)   32 elems, 34 B:  f16 d, i8 qs[32]            x = q d
 *   Q2_K (10)  256 elems, 84 B: u8 scales[16], u8 qs[64], f16 d, f16 dmin
 *   Q3_K (11)  256 elems, 110 B: u8 hmask[32], u8 qs[64], u8 scales[12], f16 d
 *   Q4_K (12)  256 elems, 144 B: f16 d, f16 dmin, u8 scales[12], u8 qs[128]
 *   Q5_K (13)  256 elems, 176 B: f16 d, f16 dmin, u8 scales[12], u8 qh[32], qs[128]
 *   Q6_K (14)  256 elems, 210 B: u8 ql[128], u8 qh[64], i8 scales[16], f16 d
 *   Q8_K (15)  256 elems, 292 B: f32 d, i8 qs[256], i16 bsums[16]   x = q d
 *   F32 (0), F16 (1), BF16 (30): 1 element per "block" of 4, 2, 2 bytes.
 * The K-quant formulas (sub-block scales and mins, 6-bit packed scales of
 * Q4_K/Q5_K, Q3_K's 6-bit signed scales, Q6_K's ql/qh split) are ggml's; see
 * quant.c beside each dequantiser.
 *
 * GEMV y = W x, W (m, k) stored as t (row i at W + i * op_qtype_row_bytes(t, k)),
 * x (k) and y (m) fp32:
 *
 *   op_gemv_q_ref          dequantise each row exactly, double accumulation.
 *   op_gemv_q_part         native, Q8_0 / Q4_0 / Q4_1: x is quantised to int8
 *                          per block of 32 (d_x = max|x_b| / 127, q = round to
 *                          nearest, |x_j - q_j d_x| <= d_x / 2), then each
 *                          block's integer dot product (exact in int32) is
 *                          scaled by d_w d_x and summed in fp32; Q4_1 adds
 *                          m_w d_x (sum of the block's quants), as ggml
 *                          does, so every type computes the dot product of
 *                          the exactly dequantised row with the quantised x.
 *                          Kernels: AVX-512 VNNI+BW (two blocks per 512-bit
 *                          vpdpbusd: Q4_1's nibbles are unsigned as they
 *                          are; signed weights as |w| with x negated where
 *                          w < 0), AVX2 (vpmaddubsw the same way, one block
 *                          at a time), portable C.  All exact in int32.
 *   op_gemv_q_dequant_part any type: each row dequantised into a k-float
 *                          buffer, then the fp32 GEMV kernel of gemm.h.
 * Both fast paths compute one worker's rows (op_gemv_rows); each row is
 * computed by the same code whatever the split, so results are bit-identical
 * for every worker count.
 *
 * Numerics of the native path.  Against the reference (exact dequantised W,
 * fp32 x), row i differs by the x-quantisation error plus fp32 rounding:
 *     |y_i - ref_i| <= sum_b (d_x,b / 2) sum_{j in b} |w_ij| + 1e-4 sum_j |w_ij x_j|
 * with w the dequantised weight, Q4_1's offset included (taking the offset
 * term from the quantised x as well, rather than from the exact sum of x,
 * keeps the coefficients of the x errors centred on zero instead of all >= 0,
 * which made the model-level error several times larger);
 * op_gemv_q_bound computes it.  Each x_j moves by at most max|x_b| / 254,
 * so the first term is at most sum_j |w_j| max|x| / 254 (0.4 % of that
 * worst case); the actual error is far smaller (signs are random).  This is
 * the tolerance the tests and the registry entries check, row by row.  The
 * dequant path is within gemm.h's tolerance, 1e-4 sum |w x|.
 *
 * x quantisation happens once per call, two ways (choose one):
 *   - op_gemv_q_part: each worker quantises x itself into its own region of
 *     scratch (k elements: cheap next to m k weights); scratch holds
 *     n_workers regions of op_gemv_q_scratch_bytes(t, k) bytes.  This is what
 *     the registry entries do (run() is the only parallel hook).
 *   - op_gemv_q_prepare once (one thread) then op_gemv_q_part_prepared on
 *     every worker, all reading the one shared region.
 *
 * Never: allocate, do I/O, start threads (kernels are leaves). */
#ifndef CTXBENCH_OPERATORS_QUANT_H
#define CTXBENCH_OPERATORS_QUANT_H

#include <stddef.h>
#include <stdint.h>

/* The storage types, valued as ggml's / GGUF's type ids. */
typedef enum op_qtype {
    OP_Q_F32 = 0,
    OP_Q_F16 = 1,
    OP_Q_Q4_0 = 2,
    OP_Q_Q4_1 = 3,
    OP_Q_Q5_0 = 6,
    OP_Q_Q5_1 = 7,
    OP_Q_Q8_0 = 8,
    OP_Q_Q2_K = 10,
    OP_Q_Q3_K = 11,
    OP_Q_Q4_K = 12,
    OP_Q_Q5_K = 13,
    OP_Q_Q6_K = 14,
    OP_Q_Q8_K = 15,
    OP_Q_BF16 = 30,
} op_qtype;

/* ---- layout ---------------------------------------------------------------------------- */

/* Whether t is one of the types above (any int may be asked). */
int op_qtype_known(int t);

/* "f32", "f16", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q2_k" ... "q8_k",
 * "bf16"; "?" for an unknown id. */
const char *op_qtype_name(op_qtype t);

/* Elements per block: 32 (Q4_0..Q8_0), 256 (K-quants), 1 (F32/F16/BF16);
 * 0 for an unknown id. */
int op_qtype_block_elems(op_qtype t);

/* Bytes per block (see the table above); 0 for an unknown id. */
size_t op_qtype_block_bytes(op_qtype t);

/* Bytes of a row of k elements: (k / block_elems) x block_bytes.  0 when t is
 * unknown, k < 0, or k is not a multiple of the block (so 0 doubles as
 * "invalid" for k > 0). */
size_t op_qtype_row_bytes(op_qtype t, int64_t k);

/* ---- dequantisation and reference quantisation ------------------------------------------- */

/* dst[0..k) = the row src (k elements stored as t), dequantised exactly as
 * ggml does (fp32 products of the f16 scales and integer quants).  Returns 0,
 * or -1 (nothing written) when t is unknown or k is negative or not a multiple
 * of the block.  src needs no alignment. */
int op_dequant_row(op_qtype t, const void *src, float *dst, int64_t k);

/* dst = src (k elements) quantised to t, rounding as ggml's reference
 * quantize_row_*_ref: Q8_0 (d = max|x| / 127, q = round(x / d)), Q4_0
 * (d = -x_maxabs / 8 with the sign of the largest-magnitude element,
 * q = min(15, trunc(x / d + 8.5))), Q4_1 (d = (max - min) / 15, m = min,
 * q = min(15, trunc((x - m) / d + 0.5))), Q5_0 and Q5_1 likewise with 16 / 31
 * levels, and F32 / F16 / BF16 by rounding (16-bit dst 2-byte aligned).
 * Inputs must be finite.  Returns 0,
 * or -1 (nothing written) for another type or a bad k. */
int op_quant_row_ref(op_qtype t, const float *src, void *dst, int64_t k);

/* ---- GEMV ---------------------------------------------------------------------------------- */

/* Whether op_gemv_q_part supports t natively (Q8_0, Q4_0, Q4_1). */
int op_gemv_q_native(op_qtype t);

/* The native kernel compiled in: "avx512vnni", "avx2+vnni" (256-bit
 * vpdpbusd without AVX-512BW), "avx2" or "portable". */
const char *op_gemv_q_isa(void);

/* Reference: y = W x, each row dequantised into tmp (k floats, caller's) and
 * dotted with x in double.  Returns 0, or -1 for an unknown type or bad k
 * (y untouched).  m, k >= 0. */
int op_gemv_q_ref(op_qtype t, const void *W /* (m, k) as t */, const float *x /* (k) */,
                  float *y /* (m) */, int m, int k, float *tmp /* (k) */);

/* Bytes of one quantised copy of x (k elements) for the native path, a
 * multiple of 64; 0 when t is not native or k is not a multiple of 32. */
size_t op_gemv_q_scratch_bytes(op_qtype t, int64_t k);

/* Quantises x (k) into xq (op_gemv_q_scratch_bytes(t, k) bytes, 4-byte
 * aligned): per block of 32 the scale d_x, the fp32 sum of the block's x, the
 * int sum of its quants, and the 32 int8 quants.  x finite.  Returns 0, or -1
 * when t is not native or k is bad. */
int op_gemv_q_prepare(op_qtype t, const float *x /* (k) */, int k, void *xq);

/* Native: y[lo..hi) = W[lo..hi) x for this worker's rows (op_gemv_rows), from
 * xq prepared by op_gemv_q_prepare for this t and k (read only; shared by all
 * workers).  Returns 0, or -1 when t is not native or k is bad. */
int op_gemv_q_part_prepared(op_qtype t, const void *W /* (m, k) as t */, const void *xq,
                            float *y /* (m) */, int m, int k, int worker, int n_workers);

/* Native, x quantised by each worker into its own region: scratch holds
 * n_workers regions of op_gemv_q_scratch_bytes(t, k) bytes (16-byte aligned,
 * as malloc's); worker uses region [worker].  Same results as prepare +
 * part_prepared, whatever n_workers.  Returns 0, or -1 (t not native, bad k). */
int op_gemv_q_part(op_qtype t, const void *W /* (m, k) as t */, const float *x /* (k) */,
                   float *y /* (m) */, int m, int k, void *scratch, int worker, int n_workers);

/* Bytes of one worker's row buffer for op_gemv_q_dequant_part: 4 k rounded
 * up to 64. */
size_t op_gemv_q_dequant_scratch_bytes(int64_t k);

/* Dequantise-then-fp32: for this worker's rows (op_gemv_rows), each row is
 * dequantised into the worker's region [worker] of scratch (n_workers regions
 * of op_gemv_q_dequant_scratch_bytes(k), 16-byte aligned) and dotted with x by
 * op_gemv_part.  Any known t.  Returns 0, or -1 (unknown t, bad k). */
int op_gemv_q_dequant_part(op_qtype t, const void *W /* (m, k) as t */, const float *x /* (k) */,
                           float *y /* (m) */, int m, int k, void *scratch, int worker,
                           int n_workers);

/* The native path's error bound for one row (see the header comment):
 * sum_b (d_x,b / 2) sum_{j in b} |w_j| + 1e-4 sum_j |w_j x_j| (+1e-30), with
 * d_x,b computed from x exactly as op_gemv_q_prepare does.  tmp: k floats.
 * Returns -1.0 when t is not native or k is bad. */
double op_gemv_q_bound(op_qtype t, const void *wrow /* (k) as t */, const float *x /* (k) */,
                       int k, float *tmp /* (k) */);

/* Minimum traffic of one GEMV: row_bytes(t, k) m + 4 (k + m). */
double op_gemv_q_bytes(op_qtype t, int m, int k);

#endif
