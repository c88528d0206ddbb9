/* operators/linear_attention.h — causal linear attention (Katharopoulos et al.,
 * arXiv:2006.16236) and retention (RetNet, arXiv:2307.08621): fp32 kernels,
 * their plain references and their cost model.
 *
 * Shapes (batch 1): n_heads H heads of head_dim D; keys and values are both
 * D wide.  Prefill buffers are head-major: Q, K, V, O (n_heads, seq_len,
 * head_dim), row t of head h at ((h * L) + t) * D.  The recurrent state of a
 * head is S (D, D), S[i][j] with i the key (feature) index and j the value
 * index, and for linear attention also z (D); all heads' states are
 * S (n_heads, D, D) and z (n_heads, D).  Decode buffers q, k, v, o are
 * (n_heads, head_dim): one token.  (Grouped KV heads do not exist here: every
 * head has its own keys and values.)
 *
 * Linear attention, the normalised form with phi(x) = elu(x) + 1
 * (= x + 1 for x > 0, exp(x) otherwise), per head:
 *     S_t = S_{t-1} + phi(k_t) v_t^T        z_t = z_{t-1} + phi(k_t)
 *     o_t = S_t^T phi(q_t) / (phi(q_t)^T z_t)
 * i.e. o_t = sum_{j<=t} w_tj v_j / sum_{j<=t} w_tj with w_tj = phi(q_t).phi(k_j) > 0:
 * a convex combination of the values, so |o_t| <= max |v| whatever t.
 *
 * Retention, per head h with decay gamma_h, no feature map, no normaliser:
 *     S_t = gamma S_{t-1} + k_t v_t^T        o_t = S_t^T (q_t / sqrt(D))
 * whose parallel form is O = ((Q K^T / sqrt(D)) .* W) V with the Toeplitz
 * mask W[i][j] = gamma^(i-j) for j <= i, else 0 (no softmax).  The decay
 * schedule (op_retention_gamma): gamma_h = 1 - 2^(-5 - 7 h / (H - 1)) (and
 * 1 - 2^-5 for H = 1), i.e. RetNet's 1 - 2^(-5 - arange(H)) for its H = 8
 * heads, stretched over any H so the decays always span [1 - 2^-5,
 * 1 - 2^-12]: RetNet's unscaled form would give gamma = 1 in fp32 from head
 * 19 on (1 - 2^-24 and closer round to 1), i.e. no decay at all.  The kernels
 * take gamma per head as an argument (n_heads of them), so any schedule works.
 *
 * Forms:
 *   recurrent  token by token.  The state of a head stays in registers in
 *              blocks of 4 rows x 64 columns while a tile of OP_LA_TILE tokens
 *              streams through (loop interchange; each token still updates S
 *              and then reads it).  For retention the decay inside a tile is
 *              factored out: S'_t = S'_{t-1} + gamma^-(t+1) k_t v_t^T from the
 *              tile's incoming S, o_t = S'^T (gamma^(t+1) q_t / sqrt(D)), and
 *              S = gamma^n S' at the tile's end (n <= OP_LA_TILE tokens, so the
 *              factors stay within gamma^-32 <= 2.8 for gamma >= 1 - 2^-5).
 *   chunked    chunks of C tokens (GEMM-shaped):
 *                O_c = (Q_c .* g_row) S_{c-1} + ((Q_c K_c^T) .* M) V_c
 *                S_c = gamma^c S_{c-1} + (K_c .* g_col)^T V_c
 *              with M[i][j] = gamma^(i-j) for j <= i (1 for linear attention,
 *              diagonal included), else 0; g_row[i] = gamma^(i+1),
 *              g_col[j] = gamma^(c-1-j) (all 1 for linear attention, where Q
 *              and K are phi(Q), phi(K) and the normaliser is carried alike:
 *              den_c = phi(Q_c) z_{c-1} + rowsum(phi(Q_c) phi(K_c)^T .* M),
 *              z_c = z_{c-1} + sum_j phi(k_j)).  A last chunk may be shorter.
 *              Default C = 32: per token the form costs 4 D^2 + 2 (C + 1) D
 *              flops, and at D = 64 the flops a longer chunk adds outweigh the
 *              GEMM efficiency it buys (one Zen 5 core, H 32, L 8192: C = 16,
 *              32, 64, 128 took 40.6, 39.4, 45.2, 57.7 ms).
 *   parallel   (retention) the L x L Toeplitz-masked form, in 64 x 64 blocks
 *              of the lower triangle: O(L^2 D), never materialising L x L.
 *   step       one decode token against the state S (and z), updated in place.
 *
 * Work split: each fast kernel computes the heads [h0, h1) op_la_heads()
 * gives its worker; workers never write the same memory, and every head is
 * computed the same way whatever the split, so the result is bit-identical
 * for any n_workers.  (With fewer heads than workers some workers idle.)
 *
 * Tolerance against the reference (double accumulation, quadratic form per
 * row): each output element within OP_LA_TOL x mag + 1e-30, where mag is the
 * same sum with absolute values: sum_j w_tj |v_jd| / sum_j w_tj for linear
 * attention, sum_{j<=t} gamma^(t-j) (|q_t|.|k_j|) |v_jd| / sqrt(D) for
 * retention.
 *
 * Fast exp: phi uses a degree-7 polynomial exp on AVX-512 (relative error
 * ~1e-7), with its argument clamped at -80 (exp(-80) = 1.8e-35 instead of
 * smaller values, so no denormals); decay factors below 1e-30 are stored as 0
 * for the same reason.
 *
 * Cost convention: a multiply-add counts 2 flops, an add, multiply, exp or
 * division 1.  Flops count the arithmetic the form does on real (not padded)
 * data: the causal half of a chunk's or the parallel form's Q K^T and A V
 * (j <= i), the masks, feature maps, decays and normalisers included.
 *
 * Never: allocate, do I/O, or read anything but their arguments (kernels are
 * leaves; scratch comes from the caller); no threads here (the caller's pool
 * runs the workers' shares). */
#ifndef CTXBENCH_OPERATORS_LINEAR_ATTENTION_H
#define CTXBENCH_OPERATORS_LINEAR_ATTENTION_H

#include <stddef.h>
#include <stdint.h>

#define OP_LA_TOL 1e-4            /* relative to mag, see above */
#define OP_LA_MAX_HEAD_DIM 512    /* D supported by the kernels */
#define OP_LA_MAX_CHUNK 4096      /* largest chunk length of the chunked forms */
#define OP_LA_DEFAULT_CHUNK 32    /* chunk length when the caller passes 0 (see above) */
#define OP_LA_TILE 32             /* tokens per tile of the recurrent forms */
#define OP_LA_BLOCK 64            /* query and key block of retention.parallel */

/* The kernel variant compiled in: "avx512f" or "portable". */
const char *op_la_isa(void);

/* The heads [*h0, *h1) that worker (0..n_workers-1) computes: contiguous,
 * balanced, possibly empty. */
void op_la_heads(int n_heads, int worker, int n_workers, int *h0, int *h1);

/* The decay of head h (0..n_heads-1) among n_heads: 1 - 2^(-5 - 7 h / (n_heads - 1)),
 * 1 - 2^-5 when n_heads == 1 (see above).  In [1 - 2^-5, 1 - 2^-12]. */
float op_retention_gamma(int h, int n_heads);

/* The feature map phi(x) = elu(x) + 1 in double (the reference's). */
double op_la_phi(double x);

/* ---- references (double accumulation, obviously correct, O(t D) per row) ------------------- */

/* Row t of linear attention for one head: o[d] = sum_{j<=t} w_tj v_jd /
 * sum_{j<=t} w_tj, w_tj = phi(q_t).phi(k_j); mag[d] as o with |v_jd| (mag may
 * be NULL).  Requires 0 <= t < L. */
void op_linattn_ref_row(const float *Q, const float *K, const float *V /* (L, D) one head */,
                        int64_t L, int D, int64_t t, double *o /* (D) */, double *mag /* (D) */);

/* Row t of retention for one head with decay gamma: o[d] = sum_{j<=t}
 * gamma^(t-j) (q_t.k_j / sqrt(D)) v_jd; mag as described above (may be NULL). */
void op_retention_ref_row(const float *Q, const float *K, const float *V /* (L, D) one head */,
                          int64_t L, int D, float gamma, int64_t t, double *o /* (D) */,
                          double *mag /* (D) */);

/* Every row of every head (O(H L^2 D): for tests on small shapes). */
void op_linattn_ref(const float *Q, const float *K, const float *V /* (n_heads, L, D) */,
                    float *O /* (n_heads, L, D) */, int n_heads, int64_t L, int D);
void op_retention_ref(const float *Q, const float *K, const float *V /* (n_heads, L, D) */,
                      const float *gamma /* (n_heads) */, float *O /* (n_heads, L, D) */,
                      int n_heads, int64_t L, int D);

/* The output a decode step leaves, recomputed from the state after it (which
 * already holds the new token): linear o = S^T phi(q) / (phi(q).z), retention
 * o = S^T q / sqrt(D), with mag the same with |S| (mag may be NULL). */
void op_linattn_step_out_ref(const float *S /* (D, D) */, const float *z /* (D) */,
                             const float *q /* (D) */, int D, double *o /* (D) */,
                             double *mag /* (D) */);
void op_retention_step_out_ref(const float *S /* (D, D) */, const float *q /* (D) */, int D,
                               double *o /* (D) */, double *mag /* (D) */);

/* ---- fast kernels, one worker's heads ------------------------------------------------------- */
/* Common arguments: Q, K, V (n_heads, L, D) inputs; O (n_heads, L, D) output,
 * overwritten; S (n_heads, D, D) and z (n_heads, D) (z: linear attention only)
 * the state: NULL starts every head from zero and drops the final state;
 * non-NULL is read as the state before token 0 and overwritten with the state
 * after token L-1 (so a prefill can continue, or feed a decode step).  Both or
 * neither of S and z for linear attention.  gamma (n_heads) the decays.
 * Requires n_heads >= 1, L >= 1, 1 <= D <= OP_LA_MAX_HEAD_DIM,
 * 0 <= worker < n_workers, scratch of the size its function gives for
 * n_workers (any alignment; each worker uses its own region).  Cannot fail. */

/* Scratch bytes of the recurrent forms for n_workers together. */
size_t op_la_recurrent_scratch_bytes(int D, int n_workers);

void op_linattn_recurrent_part(const float *Q, const float *K, const float *V, float *O,
                               float *S, float *z, int n_heads, int64_t L, int D,
                               void *scratch, int worker, int n_workers);
void op_retention_recurrent_part(const float *Q, const float *K, const float *V, float *O,
                                 float *S, const float *gamma, int n_heads, int64_t L, int D,
                                 void *scratch, int worker, int n_workers);

/* Scratch bytes of the chunked forms with chunk length chunk (1..OP_LA_MAX_CHUNK;
 * a chunk longer than L behaves as L) for n_workers together. */
size_t op_la_chunked_scratch_bytes(int D, int chunk, int n_workers);

/* As above; O may also be NULL: then only the final state is computed (S
 * must then be non-NULL, and Q is not read: it may be NULL), e.g. to build a
 * decode state from L tokens. */
void op_linattn_chunked_part(const float *Q, const float *K, const float *V, float *O,
                             float *S, float *z, int n_heads, int64_t L, int D, int chunk,
                             void *scratch, int worker, int n_workers);
void op_retention_chunked_part(const float *Q, const float *K, const float *V, float *O,
                               float *S, const float *gamma, int n_heads, int64_t L, int D,
                               int chunk, void *scratch, int worker, int n_workers);

/* Scratch bytes of retention.parallel for n_workers together (grows as L D). */
size_t op_retention_parallel_scratch_bytes(int64_t L, int D, int n_workers);

/* The quadratic form: no state. */
void op_retention_parallel_part(const float *Q, const float *K, const float *V, float *O,
                                const float *gamma, int n_heads, int64_t L, int D,
                                void *scratch, int worker, int n_workers);

/* One decode token: q, k, v (n_heads, D) in, o (n_heads, D) out; S, z (not
 * NULL) updated in place.  No scratch. */
void op_linattn_step_part(const float *q, const float *k, const float *v, float *o, float *S,
                          float *z, int n_heads, int D, int worker, int n_workers);
void op_retention_step_part(const float *q, const float *k, const float *v, float *o,
                            float *S, const float *gamma, int n_heads, int D, int worker,
                            int n_workers);

/* ---- cost model (all heads; see the convention above) --------------------------------------- */

typedef enum op_la_form {
    OP_LA_RECURRENT,
    OP_LA_CHUNKED,
    OP_LA_PARALLEL, /* retention only */
    OP_LA_STEP,
} op_la_form;

/* Flops of one run of a form.  L is the prefill length (ignored by
 * OP_LA_STEP); chunk only for OP_LA_CHUNKED (0 = default; clamped to L). */
double op_linattn_flops(op_la_form form, int n_heads, int64_t L, int D, int chunk);
double op_retention_flops(op_la_form form, int n_heads, int64_t L, int D, int chunk);

/* Resident state: n_heads D D floats (+ n_heads D for z when with_z). */
double op_la_state_bytes(int n_heads, int D, int with_z);

/* Minimum bytes moved: prefill Q, K, V read and O written once (4 H L D
 * floats; the parallel form likewise); step q, k, v, o (4 H D floats) plus
 * the state read and written. */
double op_la_bytes(op_la_form form, int n_heads, int64_t L, int D, int with_z);

#endif
