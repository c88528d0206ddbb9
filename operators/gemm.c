/* operators/gemm.c — fp32 GEMV and GEMM: references, fast slices, cost model (see gemm.h);
 * also op_gemm_w_part (lowp.h), the same GEMM with A stored as bf16 or f16 and
 * converted while its panels are packed.
 *
 * GEMM follows the Goto/BLIS loop nest over one worker's rows:
 *
 *   for jc (NC columns of B and C)
 *     for pc (KC of the inner dimension)      pack B[pc.., jc..] into NR-wide panels
 *       for ic (MC rows of A and C)           pack A[ic.., pc..] into MR-tall panels
 *         for jr (NR), for ir (MR)            micro-kernel: C tile (MR, NR) += Ap Bp
 *
 * The B micro-panel (KC x NR) stays in L1 while the A panels stream from L2;
 * packing pads short panels with zeros so the micro-kernel always runs a full
 * tile, and a tile that overhangs C goes through a small buffer.  Every
 * output element is summed in the same order whatever the worker split, so
 * the result is bit-identical for any n_workers.
 *
 * Never: allocate (scratch comes from the caller), do I/O, touch rows outside
 * the worker's slice. */
#include "operators/gemm.h"
#include "operators/lowp.h"
#include "operators/vmath.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#elif defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#endif

/* ---- kernel shapes and blocking, per ISA ------------------------------------------------ */

#if defined(__AVX512F__)
#define GEMM_ISA "avx512f"
#define MR 12   /* rows of a C tile: one broadcast each */
#define NR 32   /* columns of a C tile: two zmm */
#elif defined(__AVX2__) && defined(__FMA__)
#define GEMM_ISA "avx2+fma"
#define MR 6
#define NR 16   /* two ymm */
#elif defined(__ARM_NEON) && defined(__aarch64__)
#define GEMM_ISA "neon"
#define MR 8    /* two q registers of A lanes */
#define NR 12   /* three q registers */
#else
#define GEMM_ISA "portable"
#define MR 4
#define NR 16
#endif
/* Blocking (overridable at compile time for tuning). */
#ifndef KC
#define KC 256  /* inner-dimension block: a B micro-panel is KC x NR x 4 bytes (32 KiB at NR 32) */
#endif
#ifndef MC
#define MC (MR * 16)  /* rows of A packed at once (L2) */
#endif
#ifndef NC
#define NC 2048 /* columns of B packed at once (L3) */
#endif

const char *op_gemm_isa(void) { return GEMM_ISA; }

static int imin(int a, int b) { return a < b ? a : b; }
static int round_up(int a, int b) { return (a + b - 1) / b * b; }

/* ---- references ------------------------------------------------------------------------ */

void op_gemv_ref(const float *W, const float *x, float *y, int m, int k)
{
    for (int i = 0; i < m; i++) {
        double s = 0.0;
        for (int j = 0; j < k; j++)
            s += (double)W[(size_t)i * k + j] * x[j];
        y[i] = (float)s;
    }
}

void op_gemm_ref(const float *A, const float *B, float *C, int m, int n, int k)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0.0;
            for (int p = 0; p < k; p++)
                s += (double)A[(size_t)i * k + p] * B[(size_t)p * n + j];
            C[(size_t)i * n + j] = (float)s;
        }
}

/* ---- worker slices --------------------------------------------------------------------- */

/* Rows [lo, hi) of worker among n_workers, in whole blocks of `block` rows. */
static void split_rows(int m, int block, int worker, int n_workers, int *lo, int *hi)
{
    int blocks = (m + block - 1) / block;
    int b0 = (int)((int64_t)blocks * worker / n_workers);
    int b1 = (int)((int64_t)blocks * (worker + 1) / n_workers);
    *lo = imin(b0 * block, m);
    *hi = imin(b1 * block, m);
}

void op_gemv_rows(int m, int worker, int n_workers, int *lo, int *hi)
{
    split_rows(m, 4, worker, n_workers, lo, hi);
}

void op_gemm_rows(int m, int worker, int n_workers, int *lo, int *hi)
{
    split_rows(m, MR, worker, n_workers, lo, hi);
}

/* ---- GEMV ------------------------------------------------------------------------------ */

/* gemv_rows(W, x, y, R, k): y[0..R) = W[0..R) x for R = 4 or 1 rows of stride
 * k, R constant at each call so the accumulators stay in registers.  Each
 * row's dot product uses the same accumulators and reduction whether it is
 * computed in a group of four rows or alone, so results do not depend on the
 * split. */
#if defined(__GNUC__)
#define GEMV_INLINE static inline __attribute__((always_inline))
#else
#define GEMV_INLINE static inline
#endif

#if defined(__AVX512F__)

GEMV_INLINE void gemv_rows(const float *W, const float *x, float *y, int R, int k)
{
    __m512 lo[4], hi[4];
    for (int r = 0; r < 4; r++)
        lo[r] = hi[r] = _mm512_setzero_ps();
    int j = 0;
    for (; j + 32 <= k; j += 32) {
        __m512 x0 = _mm512_loadu_ps(x + j), x1 = _mm512_loadu_ps(x + j + 16);
        for (int r = 0; r < R; r++) {
            lo[r] = _mm512_fmadd_ps(_mm512_loadu_ps(W + (size_t)r * k + j), x0, lo[r]);
            hi[r] = _mm512_fmadd_ps(_mm512_loadu_ps(W + (size_t)r * k + j + 16), x1, hi[r]);
        }
    }
    for (; j < k; j += 16) {
        __mmask16 mk = k - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (k - j)) - 1);
        __m512 x0 = _mm512_maskz_loadu_ps(mk, x + j);
        for (int r = 0; r < R; r++)
            lo[r] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, W + (size_t)r * k + j), x0, lo[r]);
    }
    for (int r = 0; r < R; r++)
        y[r] = _mm512_reduce_add_ps(_mm512_add_ps(lo[r], hi[r]));
}

#elif defined(__AVX2__) && defined(__FMA__)

/* Sum of the 8 lanes of v. */
static inline float hsum256(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

GEMV_INLINE void gemv_rows(const float *W, const float *x, float *y, int R, int k)
{
    __m256 lo[4], hi[4];
    for (int r = 0; r < 4; r++)
        lo[r] = hi[r] = _mm256_setzero_ps();
    int j = 0;
    for (; j + 16 <= k; j += 16) {
        __m256 x0 = _mm256_loadu_ps(x + j), x1 = _mm256_loadu_ps(x + j + 8);
        for (int r = 0; r < R; r++) {
            lo[r] = _mm256_fmadd_ps(_mm256_loadu_ps(W + (size_t)r * k + j), x0, lo[r]);
            hi[r] = _mm256_fmadd_ps(_mm256_loadu_ps(W + (size_t)r * k + j + 8), x1, hi[r]);
        }
    }
    for (int r = 0; r < R; r++) {
        float s = hsum256(_mm256_add_ps(lo[r], hi[r]));
        for (int t = j; t < k; t++)
            s = VM_FMAF(W[(size_t)r * k + t], x[t], s);
        y[r] = s;
    }
}

#elif defined(__ARM_NEON) && defined(__aarch64__)

/* Row r's dot product finished from its two partial vectors and the scalar tail. */
static inline float neon_finish(float32x4_t lo, float32x4_t hi, const float *w, const float *x,
                                int j, int k)
{
    float s = vaddvq_f32(vaddq_f32(lo, hi));
    for (int t = j; t < k; t++)
        s = fmaf(w[t], x[t], s);
    return s;
}

/* Named accumulators (not arrays): GCC for aarch64 keeps arrays of them in memory. */
GEMV_INLINE void gemv_rows(const float *W, const float *x, float *y, int R, int k)
{
    const float *w0 = W, *w1 = W + (size_t)k, *w2 = W + 2 * (size_t)k, *w3 = W + 3 * (size_t)k;
    float32x4_t l0 = vdupq_n_f32(0.0f), h0 = l0, l1 = l0, h1 = l0, l2 = l0, h2 = l0, l3 = l0,
                h3 = l0;
    int j = 0;
    for (; j + 8 <= k; j += 8) {
        float32x4_t x0 = vld1q_f32(x + j), x1 = vld1q_f32(x + j + 4);
        l0 = vfmaq_f32(l0, vld1q_f32(w0 + j), x0);
        h0 = vfmaq_f32(h0, vld1q_f32(w0 + j + 4), x1);
        if (R == 4) {
            l1 = vfmaq_f32(l1, vld1q_f32(w1 + j), x0);
            h1 = vfmaq_f32(h1, vld1q_f32(w1 + j + 4), x1);
            l2 = vfmaq_f32(l2, vld1q_f32(w2 + j), x0);
            h2 = vfmaq_f32(h2, vld1q_f32(w2 + j + 4), x1);
            l3 = vfmaq_f32(l3, vld1q_f32(w3 + j), x0);
            h3 = vfmaq_f32(h3, vld1q_f32(w3 + j + 4), x1);
        }
    }
    y[0] = neon_finish(l0, h0, w0, x, j, k);
    if (R == 4) {
        y[1] = neon_finish(l1, h1, w1, x, j, k);
        y[2] = neon_finish(l2, h2, w2, x, j, k);
        y[3] = neon_finish(l3, h3, w3, x, j, k);
    }
}

#else

/* Portable: 16 partial sums per row, which compilers map onto vector lanes. */
GEMV_INLINE void gemv_rows(const float *W, const float *x, float *y, int R, int k)
{
    float acc[4][16];
    memset(acc, 0, sizeof acc);
    int j = 0;
    for (; j + 16 <= k; j += 16)
        for (int r = 0; r < R; r++)
            for (int l = 0; l < 16; l++)
                acc[r][l] = VM_FMAF(W[(size_t)r * k + j + l], x[j + l], acc[r][l]);
    for (int r = 0; r < R; r++) {
        float s = 0.0f;
        for (int l = 0; l < 16; l++)
            s += acc[r][l];
        for (int t = j; t < k; t++)
            s = VM_FMAF(W[(size_t)r * k + t], x[t], s);
        y[r] = s;
    }
}

#endif

void op_gemv_part(const float *W, const float *x, float *y, int m, int k, int worker,
                  int n_workers)
{
    int lo, hi;
    op_gemv_rows(m, worker, n_workers, &lo, &hi);
    int i = lo;
    /* Constant row counts, so each call is specialised with its accumulators in registers. */
    for (; i + 4 <= hi; i += 4)
        gemv_rows(W + (size_t)i * k, x, y + i, 4, k);
    for (; i < hi; i++)
        gemv_rows(W + (size_t)i * k, x, y + i, 1, k);
}

/* ---- GEMM: micro-kernels ------------------------------------------------------------------ */

/* C tile (MR, NR) of stride ldc = (accumulate ? C : 0) + sum_p a[p] (x) b[p],
 * a: (kc, MR) packed column of A, b: (kc, NR) packed row panel of B. */
#if defined(__AVX512F__)

static void gemm_tile(int kc, const float *restrict a, const float *restrict b,
                      float *restrict c, size_t ldc, int accumulate)
{
    __m512 c0[MR], c1[MR];
    for (int r = 0; r < MR; r++) {
        c0[r] = c1[r] = _mm512_setzero_ps();
        if (accumulate) { /* the C tile arrives while the products are summed */
            _mm_prefetch((const char *)(c + (size_t)r * ldc), _MM_HINT_T0);
            _mm_prefetch((const char *)(c + (size_t)r * ldc + 16), _MM_HINT_T0);
        }
    }
    for (int p = 0; p < kc; p++) {
        const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
        for (int r = 0; r < MR; r++) {
            const __m512 ar = _mm512_set1_ps(a[r]);
            c0[r] = _mm512_fmadd_ps(ar, b0, c0[r]);
            c1[r] = _mm512_fmadd_ps(ar, b1, c1[r]);
        }
        a += MR;
        b += NR;
    }
    for (int r = 0; r < MR; r++) {
        float *cr = c + (size_t)r * ldc;
        if (accumulate) {
            c0[r] = _mm512_add_ps(c0[r], _mm512_loadu_ps(cr));
            c1[r] = _mm512_add_ps(c1[r], _mm512_loadu_ps(cr + 16));
        }
        _mm512_storeu_ps(cr, c0[r]);
        _mm512_storeu_ps(cr + 16, c1[r]);
    }
}

#elif defined(__AVX2__) && defined(__FMA__)

static void gemm_tile(int kc, const float *restrict a, const float *restrict b,
                      float *restrict c, size_t ldc, int accumulate)
{
    __m256 c0[MR], c1[MR];
    for (int r = 0; r < MR; r++) {
        c0[r] = c1[r] = _mm256_setzero_ps();
        if (accumulate)
            _mm_prefetch((const char *)(c + (size_t)r * ldc), _MM_HINT_T0);
    }
    for (int p = 0; p < kc; p++) {
        const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
        for (int r = 0; r < MR; r++) {
            const __m256 ar = _mm256_broadcast_ss(a + r);
            c0[r] = _mm256_fmadd_ps(ar, b0, c0[r]);
            c1[r] = _mm256_fmadd_ps(ar, b1, c1[r]);
        }
        a += MR;
        b += NR;
    }
    for (int r = 0; r < MR; r++) {
        float *cr = c + (size_t)r * ldc;
        if (accumulate) {
            c0[r] = _mm256_add_ps(c0[r], _mm256_loadu_ps(cr));
            c1[r] = _mm256_add_ps(c1[r], _mm256_loadu_ps(cr + 8));
        }
        _mm256_storeu_ps(cr, c0[r]);
        _mm256_storeu_ps(cr + 8, c1[r]);
    }
}

#elif defined(__ARM_NEON) && defined(__aarch64__)

/* Row r of the tile takes lane l of the A vector av (the lane must be a constant). */
#define NEON_ROW(r, av, l)                               \
    do {                                                 \
        c0[r] = vfmaq_laneq_f32(c0[r], b0, (av), (l));   \
        c1[r] = vfmaq_laneq_f32(c1[r], b1, (av), (l));   \
        c2[r] = vfmaq_laneq_f32(c2[r], b2, (av), (l));   \
    } while (0)

static void gemm_tile(int kc, const float *restrict a, const float *restrict b,
                      float *restrict c, size_t ldc, int accumulate)
{
    float32x4_t c0[MR], c1[MR], c2[MR];
    for (int r = 0; r < MR; r++)
        c0[r] = c1[r] = c2[r] = vdupq_n_f32(0.0f);
    for (int p = 0; p < kc; p++) {
        const float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8);
        const float32x4_t a0 = vld1q_f32(a), a1 = vld1q_f32(a + 4);
        NEON_ROW(0, a0, 0);
        NEON_ROW(1, a0, 1);
        NEON_ROW(2, a0, 2);
        NEON_ROW(3, a0, 3);
        NEON_ROW(4, a1, 0);
        NEON_ROW(5, a1, 1);
        NEON_ROW(6, a1, 2);
        NEON_ROW(7, a1, 3);
        a += MR;
        b += NR;
    }
    for (int r = 0; r < MR; r++) {
        float *cr = c + (size_t)r * ldc;
        if (accumulate) {
            c0[r] = vaddq_f32(c0[r], vld1q_f32(cr));
            c1[r] = vaddq_f32(c1[r], vld1q_f32(cr + 4));
            c2[r] = vaddq_f32(c2[r], vld1q_f32(cr + 8));
        }
        vst1q_f32(cr, c0[r]);
        vst1q_f32(cr + 4, c1[r]);
        vst1q_f32(cr + 8, c2[r]);
    }
}

#else

static void gemm_tile(int kc, const float *restrict a, const float *restrict b,
                      float *restrict c, size_t ldc, int accumulate)
{
    float t[MR][NR];
    memset(t, 0, sizeof t);
    for (int p = 0; p < kc; p++, a += MR, b += NR)
        for (int r = 0; r < MR; r++)
            for (int j = 0; j < NR; j++)
                t[r][j] = VM_FMAF(a[r], b[j], t[r][j]);
    for (int r = 0; r < MR; r++)
        for (int j = 0; j < NR; j++)
            c[(size_t)r * ldc + j] = accumulate ? c[(size_t)r * ldc + j] + t[r][j] : t[r][j];
}

#endif

/* ---- GEMM: packing and the loop nest ----------------------------------------------------- */

/* Packs B[0..kc, 0..nc) (row stride ldb) into ceil(nc/NR) panels of (kc, NR),
 * zero-padding the last panel's missing columns. */
static void pack_b(const float *B, size_t ldb, int kc, int nc, float *restrict out)
{
    for (int j0 = 0; j0 < nc; j0 += NR) {
        int w = imin(NR, nc - j0);
        for (int p = 0; p < kc; p++, out += NR) {
            const float *src = B + (size_t)p * ldb + j0;
            for (int j = 0; j < w; j++)
                out[j] = src[j];
            for (int j = w; j < NR; j++)
                out[j] = 0.0f;
        }
    }
}

/* Packs A[0..mc, 0..kc) (row stride row_bytes, stored as t) into
 * ceil(mc/MR) panels of (kc, MR), zero-padding the last panel's missing rows.
 * A 16-bit or block-type row segment is first converted into a small buffer
 * (op_w_to_f32: vectorised widening, exact dequantisation of whole blocks,
 * since KC and every pc are multiples of 32), then scattered like an fp32 row;
 * fp32 rows are read in place. */
_Static_assert(KC % 32 == 0, "KC must hold whole quantisation blocks");
static void pack_a(const void *A, op_wtype t, size_t row_bytes, int mc, int kc,
                   float *restrict out)
{
    _Alignas(64) float row[KC];
    for (int i0 = 0; i0 < mc; i0 += MR, out += (size_t)kc * MR) {
        int h = imin(MR, mc - i0);
        for (int r = 0; r < h; r++) {
            const void *at = (const char *)A + (size_t)(i0 + r) * row_bytes;
            const float *src = at;
            if (t != OP_W_F32) {
                op_w_to_f32(at, t, row, (size_t)kc);
                src = row;
            }
            for (int p = 0; p < kc; p++)
                out[(size_t)p * MR + r] = src[p];
        }
        for (int r = h; r < MR; r++)
            for (int p = 0; p < kc; p++)
                out[(size_t)p * MR + r] = 0.0f;
    }
}

/* Runs one tile into C (h rows, w columns valid, row stride ldc). */
static void gemm_tile_edge(int kc, const float *a, const float *b, float *c, size_t ldc, int h,
                           int w, int accumulate)
{
    if (h == MR && w == NR) {
        gemm_tile(kc, a, b, c, ldc, accumulate);
        return;
    }
    _Alignas(64) float t[MR * NR];
    gemm_tile(kc, a, b, t, NR, 0);
    for (int r = 0; r < h; r++)
        for (int j = 0; j < w; j++)
            c[(size_t)r * ldc + j] = accumulate ? c[(size_t)r * ldc + j] + t[r * NR + j]
                                                : t[r * NR + j];
}

/* Floats of one worker's scratch region (packed B block + packed A block),
 * rounded to whole cache lines. */
static size_t scratch_floats(int m, int n, int k)
{
    size_t kc = (size_t)imin(KC, k), nc = (size_t)round_up(imin(NC, n), NR);
    size_t mc = (size_t)round_up(imin(MC, m), MR);
    return (kc * nc + mc * kc + 15) / 16 * 16;
}

size_t op_gemm_scratch_bytes(int m, int n, int k, int n_workers)
{
    if (m <= 0 || n <= 0 || k <= 0 || n_workers <= 0)
        return 0;
    return (size_t)n_workers * scratch_floats(m, n, k) * sizeof(float) + 64;
}

/* C[lo..hi) = A[lo..hi) B through the blocked loop nest, A stored as t;
 * bp, ap: packing space. */
static void gemm_rows(const void *A, op_wtype t, const float *B, float *C, int n, int k, int lo,
                      int hi, float *bp, float *ap)
{
    size_t rb = op_wtype_row_bytes(t, k);
    for (int jc = 0; jc < n; jc += NC) {
        int nc = imin(NC, n - jc);
        for (int pc = 0; pc < k; pc += KC) {
            int kc = imin(KC, k - pc);
            pack_b(B + (size_t)pc * n + jc, (size_t)n, kc, nc, bp);
            for (int ic = lo; ic < hi; ic += MC) {
                int mc = imin(MC, hi - ic);
                pack_a((const char *)A + (size_t)ic * rb + op_wtype_row_bytes(t, pc), t, rb, mc,
                       kc, ap);
                for (int jr = 0; jr < nc; jr += NR)
                    for (int ir = 0; ir < mc; ir += MR)
                        gemm_tile_edge(kc, ap + (size_t)ir * kc, bp + (size_t)jr * kc,
                                       C + (size_t)(ic + ir) * n + jc + jr, (size_t)n,
                                       imin(MR, mc - ir), imin(NR, nc - jr), pc > 0);
            }
        }
    }
}

int op_gemm_part_rows(float *C, int m, int n, int k, int worker, int n_workers, int *lo, int *hi)
{
    op_gemm_rows(m, worker, n_workers, lo, hi);
    if (*lo >= *hi || n <= 0)
        return 0;
    if (k <= 0) {
        memset(C + (size_t)*lo * n, 0, (size_t)(*hi - *lo) * n * sizeof(float));
        return 0;
    }
    return 1;
}

/* The shared body of op_gemm_part and op_gemm_w_part: this worker's rows,
 * its region of scratch, the loop nest. */
static void gemm_part_typed(const void *A, op_wtype t, const float *B, float *C, int m, int n,
                            int k, void *scratch, int worker, int n_workers)
{
    int lo, hi;
    if (!op_gemm_part_rows(C, m, n, k, worker, n_workers, &lo, &hi))
        return;
    uintptr_t base = ((uintptr_t)scratch + 63) & ~(uintptr_t)63;
    float *mine = (float *)base + (size_t)worker * scratch_floats(m, n, k);
    size_t kc = (size_t)imin(KC, k), nc = (size_t)round_up(imin(NC, n), NR);
    gemm_rows(A, t, B, C, n, k, lo, hi, mine, mine + kc * nc);
}

void op_gemm_part(const float *A, const float *B, float *C, int m, int n, int k, void *scratch,
                  int worker, int n_workers)
{
    gemm_part_typed(A, OP_W_F32, B, C, m, n, k, scratch, worker, n_workers);
}

/* Declared in lowp.h: A converted while its panels are packed. */
void op_gemm_w_part(const void *A, op_wtype t, const float *B, float *C, int m, int n, int k,
                    void *scratch, int worker, int n_workers)
{
    if (op_wtype_block(t) == 0)
        t = OP_W_F32;
    gemm_part_typed(A, t, B, C, m, n, k, scratch, worker, n_workers);
}

/* ---- cost model ------------------------------------------------------------------------------ */

double op_gemv_flops(int m, int k) { return 2.0 * m * k; }
double op_gemv_bytes(int m, int k) { return 4.0 * ((double)m * k + k + m); }
double op_gemm_flops(int m, int n, int k) { return 2.0 * m * n * (double)k; }
double op_gemm_bytes(int m, int n, int k)
{
    return 4.0 * ((double)m * k + (double)k * n + (double)m * n);
}
