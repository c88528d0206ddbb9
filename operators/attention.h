/* operators/attention.h — causal softmax attention, fp32, batch 1, with
 * grouped-query attention (GQA): a double-accumulating reference, the naive
 * prefill (materialised score matrix), the fused flash prefill (tiled online
 * softmax), the KV-cache decode step, a vectorised exp, and the cost model.
 *
 *   O = softmax(Q K^T * scale + M) V,  scale = 1/sqrt(D),
 *   M[i][j] = 0 for j <= i, -inf otherwise (causal).
 *
 * Layouts (head-major, row-major inside a head):
 *   prefill  Q, O  (n_heads, L, D)        K, V (n_kv_heads, L, D)
 *   decode   q, o  (n_heads, D)           k_new, v_new (n_kv_heads, D)
 *            Kc, Vc (n_kv_heads, L + 1, D): the cache, positions 0..L-1
 *            already filled, slot L written with k_new, v_new by each step.
 * Query head h reads KV head h / (n_heads / n_kv_heads); n_kv_heads divides
 * n_heads (callers check; the kernels assume it).
 *
 * Implementations:
 *   naive   per (head, block of rows): the scores of all the rows (a slice of
 *           the L x L matrix, up to L x L floats of scratch per worker), then
 *           the masked softmax of each row, then P V.  Loops are plain C the
 *           compiler vectorises (exp: op_attn_exp's kernel).
 *   flash   per (head, block of ATTN_BR query rows): key blocks of ATTN_BC
 *           keys, scores S^T = K_blk Q_blk^T computed into a small tile by a
 *           register-blocked micro-kernel (K broadcast, Q transposed once per
 *           query block), the online-softmax update (running max m, sum l and
 *           unnormalised output, REFERENCES.md) done down the tile's columns
 *           (no horizontal reductions), and P V by a second micro-kernel that
 *           keeps a tile of the output in registers.  Key blocks above the
 *           diagonal are never visited; the diagonal block is masked by lane
 *           compares (no per-element branches).  Never materialises L x L.
 *   decode  per KV head: the scores of its query heads against the cache,
 *           in blocks of positions with the same online softmax, reading
 *           each cached K and V row once for all the query heads of the group
 *           (16 positions' dot products summed across lanes by one transposing
 *           tree of shuffles; K and V rows software-prefetched a few positions
 *           ahead, which the hardware prefetcher alone does not sustain).
 *
 * Work split (one worker's share; shares are disjoint and cover everything):
 *   naive, flash  items (head, block of rows) in head-major order, split into
 *           contiguous ranges of equal causal cost (a block's cost is the
 *           number of key blocks it visits).  Every item is computed the same
 *           way whatever the split: the output is bit-identical for any
 *           n_workers.
 *   decode  the (KV head, position) pairs in order, split into n_workers equal
 *           contiguous ranges: when n_kv_heads is a multiple of n_workers the
 *           ranges are whole KV heads; otherwise a KV head may be split
 *           between workers, each leaving a partial (m, l, o) in the shared
 *           scratch, and op_attn_decode_merge combines them once every worker
 *           is done.  Merging changes float rounding only (~1e-7 relative).
 *
 * Accuracy (what verify() and the tests accept): every output element within
 * ATTN_TOL x max|V| (the largest |value| of the query head's KV head) of the
 * double reference.  Float sums of up to L terms and the exp's 1e-7 relative
 * error stay far below it at the lengths tested (L up to 65536).
 *
 * The vector ISA is chosen at compile time: AVX-512F, AVX2+FMA, or portable C
 * (scalar "vectors" of one lane and libm expf).
 *
 * Never: allocate, do I/O, or read anything but their arguments (kernels are
 * leaves); no threads here (the caller's pool runs the shares). */
#ifndef CTXBENCH_OPERATORS_ATTENTION_H
#define CTXBENCH_OPERATORS_ATTENTION_H

#include <stddef.h>

/* What verify() accepts: |o - o_ref| <= ATTN_TOL x max|V| per element. */
#define ATTN_TOL 1e-4

/* The largest head_dim the kernels take (D <= ATTN_MAX_D; callers check). */
#define ATTN_MAX_D 1024

/* The naive prefill's limit: its per-worker score scratch (L x L floats)
 * must not exceed 2 GiB, i.e. L <= 23170. */
#define ATTN_NAIVE_MAX_L 23170

/* The kernel variant compiled in: "avx512f", "avx2+fma" or "portable". */
const char *op_attn_isa(void);

/* ---- vectorised exp ---------------------------------------------------------------- */

/* y[i] = e^x[i] for i < n (x and y may be the same array; n = 0 does nothing).
 * Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2 (ln2 split in a 9-bit high
 * part, so n ln2_hi is exact), e^r by a degree-6 polynomial (a relative
 * minimax fit, 1.9e-9 approximation error), then x 2^n.  Accuracy: relative
 * error below 2e-7 (measured ~1e-7) for results in the normal range
 * (x >= -87.33); smaller results are rounded to the subnormal grid (absolute
 * error <= 2^-149) and x < -103.9 gives 0, exp(-inf) = 0; x > 88.72 gives
 * +inf; NaN stays NaN.  No branches per element.  Cannot fail. */
void op_attn_exp(const float *x, float *y, size_t n);

/* ---- references (double accumulation) ---------------------------------------------- */

/* o = row i of query head h of the causal attention (the softmax over keys
 * 0..i).  0 <= h < H, 0 <= i < L. */
void op_attn_ref_row(const float *Q /* (H, L, D) */, const float *K /* (Hkv, L, D) */,
                     const float *V /* (Hkv, L, D) */, float *o /* (D) */, int H, int Hkv,
                     int L, int D, int h, int i);

/* The whole output, row by row with op_attn_ref_row (cost ~ H L^2 D / 2
 * double multiply-adds: for tests and small shapes). */
void op_attn_ref(const float *Q /* (H, L, D) */, const float *K /* (Hkv, L, D) */,
                 const float *V /* (Hkv, L, D) */, float *O /* (H, L, D) */, int H, int Hkv,
                 int L, int D);

/* o = the decode output of query head h over cache positions 0..n_pos-1
 * (every position is visible to the new token).  The caches have rows of D
 * floats and cap rows per KV head (cap >= n_pos). */
void op_attn_decode_ref_head(const float *q /* (H, D) */, const float *Kc /* (Hkv, cap, D) */,
                             const float *Vc /* (Hkv, cap, D) */, float *o /* (D) */, int H,
                             int Hkv, int n_pos, int cap, int D, int h);

/* ---- naive prefill -------------------------------------------------------------------- */

/* Bytes of scratch op_attn_naive_part needs for n_workers workers together
 * (each uses its own region: up to L x L floats; any alignment). */
size_t op_attn_naive_scratch_bytes(int L, int n_workers);

/* Worker's share of O (see "Work split"); O rows outside it untouched.
 * L >= 1, D >= 1, L <= ATTN_NAIVE_MAX_L.  scratch: op_attn_naive_scratch_bytes
 * (L, n_workers) bytes shared by all workers of the run. */
void op_attn_naive_part(const float *Q /* (H, L, D) */, const float *K /* (Hkv, L, D) */,
                        const float *V /* (Hkv, L, D) */, float *O /* (H, L, D) */, int H,
                        int Hkv, int L, int D, void *scratch, int worker, int n_workers);

/* ---- flash prefill -------------------------------------------------------------------- */

/* Bytes of scratch op_attn_flash_part needs for n_workers workers together
 * (a few tiles per worker, ~50 KiB at D = 64; any alignment). */
size_t op_attn_flash_scratch_bytes(int D, int n_workers);

/* Worker's share of O (see "Work split"); O rows outside it untouched.
 * L >= 1, D >= 1.  scratch: op_attn_flash_scratch_bytes(D, n_workers) bytes
 * shared by all workers of the run. */
void op_attn_flash_part(const float *Q /* (H, L, D) */, const float *K /* (Hkv, L, D) */,
                        const float *V /* (Hkv, L, D) */, float *O /* (H, L, D) */, int H,
                        int Hkv, int L, int D, void *scratch, int worker, int n_workers);

/* ---- KV-cache decode ------------------------------------------------------------------ */

/* Bytes of scratch the decode step needs for n_workers workers together
 * (per worker: the scaled queries, a block of scores, the output
 * accumulators, and two partial (m, l, o) slots per query head of a group;
 * any alignment). */
size_t op_attn_decode_scratch_bytes(int H, int Hkv, int D, int n_workers);

/* 1 when a split over n_workers cuts a KV head (n_kv_heads not a multiple of
 * n_workers), so op_attn_decode_merge must run after every worker's part. */
int op_attn_decode_needs_merge(int Hkv, int n_workers);

/* One decode step, worker's share: writes k_new, v_new into slot L of the
 * caches for the KV heads whose position L it owns, then attends over
 * positions 0..L; writes o for the query heads of the KV heads it owns whole,
 * and partial results into scratch for a KV head it shares.  L >= 0 cached
 * positions (the caches hold L + 1 rows per head).  scratch:
 * op_attn_decode_scratch_bytes(H, Hkv, D, n_workers) bytes shared by the run. */
void op_attn_decode_part(const float *q /* (H, D) */, float *Kc /* (Hkv, L + 1, D) */,
                         float *Vc /* (Hkv, L + 1, D) */, const float *k_new /* (Hkv, D) */,
                         const float *v_new /* (Hkv, D) */, float *o /* (H, D) */, int H,
                         int Hkv, int L, int D, void *scratch, int worker, int n_workers);

/* Combines the partials every worker's op_attn_decode_part left in scratch
 * into o for the KV heads that were split (nothing when none were).  Call
 * once, after all n_workers parts of the step have returned. */
void op_attn_decode_merge(float *o /* (H, D) */, int H, int Hkv, int L, int D, void *scratch,
                          int n_workers);

/* ---- cost model ------------------------------------------------------------------------
 * Flops: a multiply-add counts 2, an exp 1; the final 1/l scaling (O(L D))
 * is not counted.  Bytes: the minimum traffic, inputs read once and outputs
 * written once (fp32). */

/* H x (4 D T + T), T = L (L + 1) / 2: causal Q K^T and P V, one exp per score. */
double op_attn_prefill_flops(int H, int L, int D);
/* 4 x (2 H L D + 2 Hkv L D): Q, K, V read and O written once. */
double op_attn_prefill_bytes(int H, int Hkv, int L, int D);
/* op_attn_prefill_bytes + 2 x 4 x H x T: the causal triangle of scores of
 * every head written once and read once (what makes naive memory-bound). */
double op_attn_naive_bytes(int H, int Hkv, int L, int D);
/* H x (4 D (L + 1) + (L + 1)): one query over L + 1 positions per head. */
double op_attn_decode_flops(int H, int L, int D);
/* 4 x (2 Hkv (L + 1) D + 2 Hkv D + 2 H D): the K and V cache read once, the
 * new K, V written, q read and o written. */
double op_attn_decode_bytes(int H, int Hkv, int L, int D);

#endif
