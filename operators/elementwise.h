/* operators/elementwise.h — the row-wise and elementwise operators of a
 * Transformer / SSM layer: RMSNorm, SiLU, softplus, rotary position
 * embedding (RoPE) and the softmax of attention scores.
 *
 * Every operator has a plain reference (double arithmetic, libm) and a fast
 * version that computes one worker's share of whole rows (op_ew_rows), so the
 * result never depends on n_workers.  The fast versions use AVX-512F where it
 * is compiled in, else portable C; their transcendental functions are built
 * on one vectorised exp (op_exp_fast):
 *
 *   exp(x) = 2^n p(r), n = rint(x log2 e), r = x - n ln2 (ln2 in two parts,
 *   Cody-Waite), p a degree-6 relative minimax polynomial: the exp every
 *   operator shares (operators/vmath.h).
 *   Relative error below 2e-7 against libm's expf on [-87.3, 88.7] (results
 *   that are normal floats; tests/test_op_elementwise.c measures it); above
 *   88.72 it gives +inf, below -87.3 denormals with absolute error < 1e-44
 *   and 0 below -103.9; NaN gives NaN.
 *
 * Tolerances (what verify() accepts and the tests check), element by element
 * against the reference, with an absolute floor of 1e-37 for results near or
 * below FLT_MIN:
 *   rmsnorm   |y - ref| <= 1e-6 |ref|   (sum of squares accumulated in double)
 *   silu      |y - ref| <= 2e-6 |ref|
 *   softplus  |y - ref| <= 2e-6 |ref|
 *   rope      |y - ref| <= 1e-6 (|x_i| + |x_{i+D/2}|) of the rotated pair
 *   softmax   |y - ref| <= 1e-6 |ref| (1 + |x - max|): x - max is rounded to
 *             float before the exp, as every fp32 softmax does (the reference
 *             subtracts in double), and exp turns its absolute rounding into a
 *             relative one.
 *
 * Cost convention: a multiply-add counts 2 flops, an exp, log, sqrt or
 * division 1, other arithmetic 1 each; bytes are inputs read once plus
 * outputs written once.
 *
 * Never: allocate, do I/O, start threads (kernels are leaves; the caller's
 * pool runs the shares). */
#ifndef CTXBENCH_OPERATORS_ELEMENTWISE_H
#define CTXBENCH_OPERATORS_ELEMENTWISE_H

#include <stddef.h>

/* The vector ISA of the fast versions: "avx512f" or "portable". */
const char *op_ew_isa(void);

/* Rows [*lo, *hi) of `rows` that worker computes among n_workers: contiguous,
 * disjoint, together covering every row (empty when there are more workers
 * than rows). */
void op_ew_rows(int rows, int worker, int n_workers, int *lo, int *hi);

/* y[i] = exp(x[i]) with the fast exp above, for n values (y may be x). */
void op_exp_fast(const float *x /* (n) */, float *y /* (n) */, size_t n);

/* ---- RMSNorm: y = x / sqrt(mean(x^2) + eps) * w, per row ------------------------------ */

void op_rmsnorm_ref(const float *x /* (L, d) */, const float *w /* (d) */, float *y /* (L, d) */,
                    int L, int d, float eps);
void op_rmsnorm_part(const float *x /* (L, d) */, const float *w /* (d) */,
                     float *y /* (L, d) */, int L, int d, float eps, int worker, int n_workers);

/* ---- SiLU: y = x sigmoid(x) ----------------------------------------------------------- */

void op_silu_ref(const float *x /* (L, d) */, float *y /* (L, d) */, int L, int d);
void op_silu_part(const float *x /* (L, d) */, float *y /* (L, d) */, int L, int d, int worker,
                  int n_workers);

/* ---- softplus: y = log(1 + exp(x)), without overflow or loss at large |x| -------------- */

void op_softplus_ref(const float *x /* (L, d) */, float *y /* (L, d) */, int L, int d);
void op_softplus_part(const float *x /* (L, d) */, float *y /* (L, d) */, int L, int d,
                      int worker, int n_workers);

/* ---- RoPE, rotate-half layout (Hugging Face Llama) -------------------------------------
 *
 * For position pos and i < D/2, with angle a = pos inv_freq[i]:
 *   y[i]       = x[i] cos a - x[i + D/2] sin a
 *   y[i + D/2] = x[i + D/2] cos a + x[i] sin a
 * inv_freq[i] = theta^(-2i/D), optionally rescaled as Llama 3 does (below). */

typedef enum op_rope_kind { OP_ROPE_DEFAULT = 0, OP_ROPE_LLAMA3 = 1 } op_rope_kind;

/* Llama 3 frequency scaling, per inverse frequency f with wavelength 2 pi / f:
 * longer than original_max_position / low_freq_factor: f / factor; shorter than
 * original_max_position / high_freq_factor: f unchanged; in between:
 * (1 - s) f / factor + s f with s = (original_max_position / wavelength -
 * low_freq_factor) / (high_freq_factor - low_freq_factor). */
typedef struct op_rope_scaling {
    op_rope_kind kind;
    double factor;              /* 32 for Llama 3.2 */
    double low_freq_factor;     /* 1 */
    double high_freq_factor;    /* 4 */
    double original_max_position; /* 8192 */
} op_rope_scaling;

/* The Llama 3.2 scaling: factor 32, low 1, high 4, original max position 8192. */
op_rope_scaling op_rope_llama3_scaling(void);

/* out[i] = the inverse frequency of pair i, i < D/2, computed in double and
 * rounded once; scaling NULL or kind OP_ROPE_DEFAULT: theta^(-2i/D).  D even
 * and >= 2, theta > 1.  Returns 0, or -1 (nothing written) for a bad argument
 * (odd or non-positive D, theta <= 1, scaling with factor < 1 or
 * high_freq_factor <= low_freq_factor). */
int op_rope_inv_freq(double theta, int D, const op_rope_scaling *scaling,
                     float *out /* (D/2) */);

/* cos and sin of (pos0 + l) inv_freq[i] for l < L, in double then rounded:
 * the tables op_rope_part applies (a model computes them once per length). */
void op_rope_tables(const float *inv_freq /* (D/2) */, long pos0, int L, int D,
                    float *cos_t /* (L, D/2) */, float *sin_t /* (L, D/2) */);

/* Reference: positions pos0 + l, angles and their cos/sin in double.  y may be x. */
void op_rope_ref(const float *x /* (L, H, D) */, float *y /* (L, H, D) */, int L, int H, int D,
                 const float *inv_freq /* (D/2) */, long pos0);

/* Fast: this worker's positions (op_ew_rows over L) with the tables.  y may be x. */
void op_rope_part(const float *x /* (L, H, D) */, float *y /* (L, H, D) */, int L, int H, int D,
                  const float *cos_t /* (L, D/2) */, const float *sin_t /* (L, D/2) */,
                  int worker, int n_workers);

/* ---- softmax over rows: y = exp(x - max) / sum exp(x - max) ----------------------------
 * A row whose values are all -inf gives NaN (as the reference and PyTorch). */

void op_softmax_ref(const float *x /* (R, n) */, float *y /* (R, n) */, int R, int n);
void op_softmax_part(const float *x /* (R, n) */, float *y /* (R, n) */, int R, int n,
                     int worker, int n_workers);

#endif
