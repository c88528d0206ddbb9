/* operators/attention.c — causal softmax attention kernels: reference, naive,
 * flash, KV-cache decode, vectorised exp, cost model (see attention.h).
 *
 * The vector code is written once against a tiny set of inline helpers
 * (vf = one vector of VL floats: vld, vst, vfma, vmax, vexp, masked loads)
 * implemented for AVX-512F (VL 16), AVX2+FMA (VL 8) and portable C (VL 1).
 *
 * Flash, one query block of BR rows q0.. of head h (scratch: Qt, S, Oa, m, l,
 * alpha):
 *
 *   Qt = (Q_blk * scale)^T                 (D, BR), zero columns past L
 *   for each key block k0 < q0 + BR       (BC keys; blocks above the diagonal skipped)
 *     for each group of QG query vectors  (columns of the S^T tile)
 *       S^T[j][c] = K[k0+j] . Qt[:, c]    micro-kernel: RK keys x QG vectors of accumulators
 *                                         masked (-inf) where key > query, column max kept
 *       m' = max(m, colmax); alpha = e^(m - m'); P = e^(S - m'); l = alpha l + sum P; m = m'
 *     Oa = alpha Oa + P^T V_blk           micro-kernel: RR rows x NV vectors of Oa in registers
 *   O_blk = Oa / l
 *
 * Everything softmax does runs down the columns of S^T (one query per lane),
 * so it needs no horizontal reduction.  The decode step uses the same P V
 * micro-kernel, with the query heads of a KV head as its rows; its scores
 * are dot products of one query with VL cached rows, whose VL accumulators
 * one transposing tree (vsum_lanes) sums into a vector of VL scores.
 *
 * Never: allocate, do I/O, write outside the worker's share of the output
 * and its own scratch region (and, for decode, slot L of the KV heads whose
 * position L it owns). */
#include "operators/attention.h"
#include "operators/vmath.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

#if defined(__GNUC__)
#define ATTN_INLINE static inline __attribute__((always_inline))
#else
#define ATTN_INLINE static inline
#endif

/* ---- vector helpers, per ISA --------------------------------------------------------------
 * vf: VL floats; vmask: which lanes of a partial load/store. */

#if defined(__AVX512F__)

#define ATTN_ISA "avx512f"
#define VL 16
#define QG 4      /* query vectors per S^T micro-tile */
#define RK 6      /* keys per S^T micro-tile: 24 accumulators */
#define RR 6      /* output rows per P V micro-tile */
#define NV 4      /* output vectors per P V micro-tile: 24 accumulators */
typedef __m512 vf;
typedef __mmask16 vmask;

ATTN_INLINE vf vzero(void) { return _mm512_setzero_ps(); }
ATTN_INLINE vf vset(float x) { return _mm512_set1_ps(x); }
ATTN_INLINE vf vld(const float *p) { return _mm512_loadu_ps(p); }
ATTN_INLINE void vst(float *p, vf v) { _mm512_storeu_ps(p, v); }
ATTN_INLINE vmask vmask_first(int n)
{
    return n >= 16 ? (vmask)0xffff : (vmask)((1u << (n > 0 ? n : 0)) - 1u);
}
ATTN_INLINE vf vldm(const float *p, vmask m) { return _mm512_maskz_loadu_ps(m, p); }
ATTN_INLINE void vstm(float *p, vf v, vmask m) { _mm512_mask_storeu_ps(p, m, v); }
ATTN_INLINE vf vadd(vf a, vf b) { return _mm512_add_ps(a, b); }
ATTN_INLINE vf vsub(vf a, vf b) { return _mm512_sub_ps(a, b); }
ATTN_INLINE vf vmul(vf a, vf b) { return _mm512_mul_ps(a, b); }
ATTN_INLINE vf vfma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
ATTN_INLINE vf vmax(vf a, vf b) { return _mm512_max_ps(a, b); }
ATTN_INLINE float vhsum(vf v) { return _mm512_reduce_add_ps(v); }
ATTN_INLINE float vhmax(vf v) { return _mm512_reduce_max_ps(v); }
/* Lanes whose index is below thr become -inf (the causal mask). */
ATTN_INLINE vf vmask_below(vf v, float thr)
{
    const vf iota = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __mmask16 m = _mm512_cmp_ps_mask(iota, _mm512_set1_ps(thr), _CMP_LT_OQ);
    return _mm512_mask_mov_ps(v, m, _mm512_set1_ps(-INFINITY));
}
/* Lanes whose index is thr or more become -inf (past the last position). */
ATTN_INLINE vf vmask_from(vf v, float thr)
{
    const vf iota = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __mmask16 m = _mm512_cmp_ps_mask(iota, _mm512_set1_ps(thr), _CMP_GE_OQ);
    return _mm512_mask_mov_ps(v, m, _mm512_set1_ps(-INFINITY));
}
/* Lane k of the result = the sum of the lanes of a[k], k < 16: a transposing
 * tree of adds (15 adds, 30 shuffles).  The tree leaves sums in the lane
 * order 0 2 1 3 8 10 9 11 4 6 5 7 12 14 13 15, an involution, so reading the
 * inputs in that order puts them back. */
ATTN_INLINE vf vsum_lanes(const vf *a)
{
    static const int ord[16] = {0, 2, 1, 3, 8, 10, 9, 11, 4, 6, 5, 7, 12, 14, 13, 15};
    vf x[8], y[4], z[2];
    for (int i = 0; i < 8; i++) {
        vf p = a[ord[i]], q = a[ord[i + 8]];
        x[i] = _mm512_add_ps(_mm512_shuffle_f32x4(p, q, _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_f32x4(p, q, _MM_SHUFFLE(3, 2, 3, 2)));
    }
    for (int i = 0; i < 4; i++)
        y[i] = _mm512_add_ps(_mm512_shuffle_f32x4(x[i], x[i + 4], _MM_SHUFFLE(2, 0, 2, 0)),
                             _mm512_shuffle_f32x4(x[i], x[i + 4], _MM_SHUFFLE(3, 1, 3, 1)));
    for (int i = 0; i < 2; i++)
        z[i] = _mm512_add_ps(_mm512_shuffle_ps(y[i], y[i + 2], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_ps(y[i], y[i + 2], _MM_SHUFFLE(3, 2, 3, 2)));
    return _mm512_add_ps(_mm512_shuffle_ps(z[0], z[1], _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_ps(z[0], z[1], _MM_SHUFFLE(3, 1, 3, 1)));
}

#elif defined(__AVX2__) && defined(__FMA__)

#define ATTN_ISA "avx2+fma"
#define VL 8
#define QG 2
#define RK 6      /* 12 accumulators of 16 ymm */
#define RR 6
#define NV 2
typedef __m256 vf;
typedef __m256i vmask;

ATTN_INLINE vf vzero(void) { return _mm256_setzero_ps(); }
ATTN_INLINE vf vset(float x) { return _mm256_set1_ps(x); }
ATTN_INLINE vf vld(const float *p) { return _mm256_loadu_ps(p); }
ATTN_INLINE void vst(float *p, vf v) { _mm256_storeu_ps(p, v); }
ATTN_INLINE vmask vmask_first(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
ATTN_INLINE vf vldm(const float *p, vmask m) { return _mm256_maskload_ps(p, m); }
ATTN_INLINE void vstm(float *p, vf v, vmask m) { _mm256_maskstore_ps(p, m, v); }
ATTN_INLINE vf vadd(vf a, vf b) { return _mm256_add_ps(a, b); }
ATTN_INLINE vf vsub(vf a, vf b) { return _mm256_sub_ps(a, b); }
ATTN_INLINE vf vmul(vf a, vf b) { return _mm256_mul_ps(a, b); }
ATTN_INLINE vf vfma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
ATTN_INLINE vf vmax(vf a, vf b) { return _mm256_max_ps(a, b); }
ATTN_INLINE float vhsum(vf v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
ATTN_INLINE float vhmax(vf v)
{
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
ATTN_INLINE vf vmask_below(vf v, float thr)
{
    const vf iota = _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7);
    vf m = _mm256_cmp_ps(iota, _mm256_set1_ps(thr), _CMP_LT_OQ);
    return _mm256_blendv_ps(v, _mm256_set1_ps(-INFINITY), m);
}
ATTN_INLINE vf vmask_from(vf v, float thr)
{
    const vf iota = _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7);
    vf m = _mm256_cmp_ps(iota, _mm256_set1_ps(thr), _CMP_GE_OQ);
    return _mm256_blendv_ps(v, _mm256_set1_ps(-INFINITY), m);
}
/* Lane k of the result = the sum of the lanes of a[k], k < 8 (as the
 * AVX-512 version: the tree's lane order 0 2 1 3 4 6 5 7 is an involution). */
ATTN_INLINE vf vsum_lanes(const vf *a)
{
    static const int ord[8] = {0, 2, 1, 3, 4, 6, 5, 7};
    vf x[4], y[2];
    for (int i = 0; i < 4; i++) {
        vf p = a[ord[i]], q = a[ord[i + 4]];
        x[i] = _mm256_add_ps(_mm256_permute2f128_ps(p, q, 0x20), _mm256_permute2f128_ps(p, q, 0x31));
    }
    for (int i = 0; i < 2; i++)
        y[i] = _mm256_add_ps(_mm256_shuffle_ps(x[i], x[i + 2], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm256_shuffle_ps(x[i], x[i + 2], _MM_SHUFFLE(3, 2, 3, 2)));
    return _mm256_add_ps(_mm256_shuffle_ps(y[0], y[1], _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm256_shuffle_ps(y[0], y[1], _MM_SHUFFLE(3, 1, 3, 1)));
}

#else

#define ATTN_ISA "portable"
#define VL 1
#define QG 4
#define RK 4
#define RR 4
#define NV 4
typedef float vf;
typedef int vmask;

ATTN_INLINE vf vzero(void) { return 0.0f; }
ATTN_INLINE vf vset(float x) { return x; }
ATTN_INLINE vf vld(const float *p) { return *p; }
ATTN_INLINE void vst(float *p, vf v) { *p = v; }
ATTN_INLINE vmask vmask_first(int n) { return n > 0; }
ATTN_INLINE vf vldm(const float *p, vmask m) { return m ? *p : 0.0f; }
ATTN_INLINE void vstm(float *p, vf v, vmask m)
{
    if (m)
        *p = v;
}
ATTN_INLINE vf vadd(vf a, vf b) { return a + b; }
ATTN_INLINE vf vsub(vf a, vf b) { return a - b; }
ATTN_INLINE vf vmul(vf a, vf b) { return a * b; }
ATTN_INLINE vf vfma(vf a, vf b, vf c) { return a * b + c; }
ATTN_INLINE vf vmax(vf a, vf b) { return a > b ? a : b; }
ATTN_INLINE float vhsum(vf v) { return v; }
ATTN_INLINE float vhmax(vf v) { return v; }
ATTN_INLINE vf vsum_lanes(const vf *a) { return a[0]; }
ATTN_INLINE vf vmask_below(vf v, float thr) { return 0.0f < thr ? -INFINITY : v; }
ATTN_INLINE vf vmask_from(vf v, float thr) { return 0.0f >= thr ? -INFINITY : v; }

#endif

/* e^x per lane: the shared exp (accuracy: operators/vmath.h). */
ATTN_INLINE vf vexp(vf x)
{
#if VL == 16
    return vm_exp512(x);
#elif VL == 8
    return vm_exp256(x);
#else
    return expf(x);
#endif
}

/* ---- blocking ---------------------------------------------------------------------------- */

#ifndef ATTN_BR
#define ATTN_BR 64   /* query rows per flash block: columns of the S^T tile */
#endif
#ifndef ATTN_BC
#define ATTN_BC 64   /* keys per flash block: rows of the S^T tile */
#endif
#ifndef ATTN_PB
#define ATTN_PB 32   /* cache positions per decode block */
#endif
#ifndef ATTN_PFD
#define ATTN_PFD 16  /* decode: positions ahead that K and V are prefetched */
#endif
#define NAIVE_NB 64  /* rows per naive work item */
#define BR ATTN_BR
#define BC ATTN_BC
#define PB ATTN_PB

_Static_assert(BR % (VL * QG) == 0, "a flash block is whole groups of query vectors");
_Static_assert(RK <= 6 && RR <= 6 && NV <= 4, "micro-tile dispatch covers up to 6 x 4");
_Static_assert(PB % VL == 0, "decode blocks are whole vectors");

const char *op_attn_isa(void) { return ATTN_ISA; }

static int imin(int a, int b) { return a < b ? a : b; }
static int round_up(int a, int b) { return (a + b - 1) / b * b; }
static size_t round_up_z(size_t a, size_t b) { return (a + b - 1) / b * b; }

/* The 64-byte aligned start of worker's region of a shared scratch whose
 * regions are `region` bytes (a multiple of 64) after the aligned base. */
static void *worker_region(void *scratch, size_t region, int worker)
{
    uintptr_t base = ((uintptr_t)scratch + 63) & ~(uintptr_t)63;
    return (void *)(base + region * (size_t)worker);
}

/* ---- exp ----------------------------------------------------------------------------------- */

void op_attn_exp(const float *x, float *y, size_t n)
{
    size_t i = 0;
    for (; i + VL <= n; i += VL)
        vst(y + i, vexp(vld(x + i)));
    if (i < n) {
        vmask m = vmask_first((int)(n - i));
        vstm(y + i, vexp(vldm(x + i, m)), m);
    }
}

/* ---- references ---------------------------------------------------------------------------- */

/* Softmax-weighted sum of rows 0..n-1 of V for scores s (double), into o. */
static void ref_softmax_pv(double *s, const float *V, float *o, int n, int D)
{
    double mx = -INFINITY, sum = 0.0;
    for (int j = 0; j < n; j++)
        mx = s[j] > mx ? s[j] : mx;
    for (int j = 0; j < n; j++) {
        s[j] = exp(s[j] - mx);
        sum += s[j];
    }
    for (int d = 0; d < D; d++) {
        double acc = 0.0;
        for (int j = 0; j < n; j++)
            acc += s[j] * V[(size_t)j * D + d];
        o[d] = (float)(acc / sum);
    }
}

/* Scores q . K[j] / sqrt(D) in double for j < n into s. */
static void ref_scores(const float *q, const float *K, double *s, int n, int D)
{
    double scale = 1.0 / sqrt((double)D);
    for (int j = 0; j < n; j++) {
        double acc = 0.0;
        for (int d = 0; d < D; d++)
            acc += (double)q[d] * K[(size_t)j * D + d];
        s[j] = acc * scale;
    }
}

/* o = attention of q over rows 0..n-1 of K and V, in double.  Up to CHUNK
 * scores live on the stack; longer rows are streamed in chunks, computing
 * the scores twice (a max pass, then a sum and output pass), so that the
 * reference never allocates. */
static void ref_attend(const float *q, const float *K, const float *V, float *o, int n, int D)
{
    enum { CHUNK = 4096 };
    double s[CHUNK];
    if (n <= CHUNK) {
        ref_scores(q, K, s, n, D);
        ref_softmax_pv(s, V, o, n, D);
        return;
    }
    double mx = -INFINITY, sum = 0.0;
    for (int j0 = 0; j0 < n; j0 += CHUNK) {
        int c = imin(CHUNK, n - j0);
        ref_scores(q, K + (size_t)j0 * D, s, c, D);
        for (int j = 0; j < c; j++)
            mx = s[j] > mx ? s[j] : mx;
    }
    double acc[ATTN_MAX_D] = {0};
    for (int j0 = 0; j0 < n; j0 += CHUNK) {
        int c = imin(CHUNK, n - j0);
        ref_scores(q, K + (size_t)j0 * D, s, c, D);
        for (int j = 0; j < c; j++) {
            double p = exp(s[j] - mx);
            sum += p;
            for (int d = 0; d < D; d++)
                acc[d] += p * V[(size_t)(j0 + j) * D + d];
        }
    }
    for (int d = 0; d < D; d++)
        o[d] = (float)(acc[d] / sum);
}

void op_attn_ref_row(const float *Q, const float *K, const float *V, float *o, int H, int Hkv,
                     int L, int D, int h, int i)
{
    int kv = h / (H / Hkv);
    const float *q = Q + ((size_t)h * L + i) * D;
    size_t kv_off = (size_t)kv * L * D;
    ref_attend(q, K + kv_off, V + kv_off, o, i + 1, D);
}

void op_attn_ref(const float *Q, const float *K, const float *V, float *O, int H, int Hkv, int L,
                 int D)
{
    for (int h = 0; h < H; h++)
        for (int i = 0; i < L; i++)
            op_attn_ref_row(Q, K, V, O + ((size_t)h * L + i) * D, H, Hkv, L, D, h, i);
}

void op_attn_decode_ref_head(const float *q, const float *Kc, const float *Vc, float *o, int H,
                             int Hkv, int n_pos, int cap, int D, int h)
{
    int kv = h / (H / Hkv);
    size_t kv_off = (size_t)kv * cap * D;
    ref_attend(q + (size_t)h * D, Kc + kv_off, Vc + kv_off, o, n_pos, D);
}

/* ---- work split (prefill) ------------------------------------------------------------------ */

/* The first item (h, b) -> h nb + b whose causal prefix cost (items before it,
 * item (h, b) costing b + 1) is at least target. */
static int64_t item_at_cost(int64_t target, int nb)
{
    int64_t per_head = (int64_t)nb * (nb + 1) / 2;
    int64_t h = target / per_head, rem = target - h * per_head;
    int64_t b = (int64_t)sqrt(2.0 * (double)rem);
    while (b > 0 && (b - 1) * b / 2 >= rem)
        b--;
    while (b * (b + 1) / 2 < rem)
        b++;
    return h * nb + b;
}

/* Items [*lo, *hi) of worker: H heads x nb blocks, contiguous ranges of equal cost. */
static void split_causal(int H, int nb, int worker, int n_workers, int64_t *lo, int64_t *hi)
{
    int64_t total = (int64_t)H * nb * (nb + 1) / 2;
    *lo = item_at_cost(total * worker / n_workers, nb);
    *hi = item_at_cost(total * (worker + 1) / n_workers, nb);
}

/* ---- naive ----------------------------------------------------------------------------------- */

size_t op_attn_naive_scratch_bytes(int L, int n_workers)
{
    size_t region = round_up_z((size_t)L * L * sizeof(float), 64);
    return region * (size_t)n_workers + 64;
}

/* a . b with 16 independent partial sums, added pairwise (the loops
 * vectorise without reassociating anything). */
static float naive_dot(const float *restrict a, const float *restrict b, int n)
{
    float acc[16] = {0};
    int d = 0;
    for (; d + 16 <= n; d += 16)
        for (int t = 0; t < 16; t++)
            acc[t] += a[d + t] * b[d + t];
    for (int t = 0; d < n; d++, t++)
        acc[t] += a[d] * b[d];
    float h[8], q[4];
    for (int t = 0; t < 8; t++)
        h[t] = acc[t] + acc[t + 8];
    for (int t = 0; t < 4; t++)
        q[t] = h[t] + h[t + 4];
    return (q[0] + q[2]) + (q[1] + q[3]);
}

/* Row p (n entries) becomes its softmax, in place. */
static void naive_softmax_row(float *p, int n)
{
    float mx = -INFINITY, sum = 0.0f;
    for (int j = 0; j < n; j++)
        mx = p[j] > mx ? p[j] : mx;
    for (int j = 0; j < n; j++)
        p[j] -= mx;
    op_attn_exp(p, p, (size_t)n);
    for (int j = 0; j < n; j++)
        sum += p[j];
    float inv = 1.0f / sum;
    for (int j = 0; j < n; j++)
        p[j] *= inv;
}

/* o = sum_j p[j] V[j] over j < n, four rows of V per pass over o. */
static void naive_pv_row(const float *restrict p, const float *restrict V, float *restrict o, int n,
                         int D)
{
    for (int d = 0; d < D; d++)
        o[d] = 0.0f;
    int j = 0;
    for (; j + 4 <= n; j += 4) {
        const float *v = V + (size_t)j * D;
        for (int d = 0; d < D; d++)
            o[d] += p[j] * v[d] + p[j + 1] * v[D + d] + p[j + 2] * v[2 * D + d] +
                    p[j + 3] * v[3 * D + d];
    }
    for (; j < n; j++)
        for (int d = 0; d < D; d++)
            o[d] += p[j] * V[(size_t)j * D + d];
}

/* Rows [r0, r1) of one head, in three passes over their slice of the score
 * matrix S (row i at S + (i - r0) L): scores, softmax, P V. */
static void naive_rows(const float *Qh, const float *Kh, const float *Vh, float *Oh, int L, int D,
                       int r0, int r1, float *S)
{
    float scale = 1.0f / sqrtf((float)D);
    for (int i = r0; i < r1; i++) {
        float *s = S + (size_t)(i - r0) * L;
        for (int j = 0; j <= i; j++)
            s[j] = scale * naive_dot(Qh + (size_t)i * D, Kh + (size_t)j * D, D);
    }
    for (int i = r0; i < r1; i++)
        naive_softmax_row(S + (size_t)(i - r0) * L, i + 1);
    for (int i = r0; i < r1; i++)
        naive_pv_row(S + (size_t)(i - r0) * L, Vh, Oh + (size_t)i * D, i + 1, D);
}

void op_attn_naive_part(const float *Q, const float *K, const float *V, float *O, int H, int Hkv,
                        int L, int D, void *scratch, int worker, int n_workers)
{
    int nb = (L + NAIVE_NB - 1) / NAIVE_NB, group = H / Hkv;
    float *S = worker_region(scratch, round_up_z((size_t)L * L * sizeof(float), 64), worker);
    int64_t lo, hi;
    split_causal(H, nb, worker, n_workers, &lo, &hi);
    /* One pass per head the range touches, over its rows in the range. */
    for (int64_t t = lo; t < hi;) {
        int h = (int)(t / nb);
        int64_t t_end = (int64_t)(h + 1) * nb < hi ? (int64_t)(h + 1) * nb : hi;
        int r0 = (int)(t - (int64_t)h * nb) * NAIVE_NB;
        int r1 = imin((int)(t_end - (int64_t)h * nb) * NAIVE_NB, L);
        size_t q_off = (size_t)h * L * D, kv_off = (size_t)(h / group) * L * D;
        naive_rows(Q + q_off, K + kv_off, V + kv_off, O + q_off, L, D, r0, r1, S);
        t = t_end;
    }
}

/* ---- shared micro-kernel: P V ------------------------------------------------------------
 * Oa rows r < R (stride ldo), vectors v < N of VL columns:
 *   Oa[r] = alpha[r] Oa[r] + sum_{j < n} P[j pj + r pr] V[j]    (V rows of stride ldv)
 * The accumulators stay in registers over all n positions; mk[v] masks the
 * columns of vector v that exist (the D tail).  R and N are constants at
 * each call (pv_dispatch), so the arrays become registers. */
ATTN_INLINE void pv_tile(const float *P, ptrdiff_t pj, ptrdiff_t pr, const float *V, ptrdiff_t ldv,
                         float *Oa, ptrdiff_t ldo, const float *alpha, int n, const vmask *mk,
                         const int R, const int N)
{
    vf acc[6][4];
    for (int r = 0; r < R; r++) {
        vf a = vset(alpha[r]);
        for (int v = 0; v < N; v++)
            acc[r][v] = vmul(vld(Oa + r * ldo + v * VL), a);
    }
    for (int j = 0; j < n; j++) {
        vf x[4];
        for (int v = 0; v < N; v++)
            x[v] = vldm(V + j * ldv + v * VL, mk[v]);
        for (int r = 0; r < R; r++) {
            vf p = vset(P[j * pj + r * pr]);
            for (int v = 0; v < N; v++)
                acc[r][v] = vfma(p, x[v], acc[r][v]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int v = 0; v < N; v++)
            vst(Oa + r * ldo + v * VL, acc[r][v]);
}

#define PV_CASE(R_, N_)                                                                        \
    case (R_) * 8 + (N_):                                                                      \
        pv_tile(P, pj, pr, V, ldv, Oa, ldo, alpha, n, mk, R_, N_);                             \
        break;
#define PV_ROW(R_) PV_CASE(R_, 1) PV_CASE(R_, 2) PV_CASE(R_, 3) PV_CASE(R_, 4)

/* pv_tile for R (1..6) rows and N (1..4) vectors. */
static void pv_dispatch(const float *P, ptrdiff_t pj, ptrdiff_t pr, const float *V, ptrdiff_t ldv,
                        float *Oa, ptrdiff_t ldo, const float *alpha, int n, const vmask *mk,
                        int R, int N)
{
    switch (R * 8 + N) {
        PV_ROW(1) PV_ROW(2) PV_ROW(3) PV_ROW(4) PV_ROW(5) PV_ROW(6)
    default:
        break;
    }
}

/* Oa (rows x Dp) = alpha Oa + P V for all rows, in tiles of RR rows and NV
 * vectors; V has n rows of D floats.  P[j pj + r pr] is position j of row r. */
static void pv_rows(const float *P, ptrdiff_t pj, ptrdiff_t pr, const float *V, int n, int D,
                    float *Oa, int Dp, const float *alpha, int rows)
{
    int nvt = Dp / VL;
    for (int v0 = 0; v0 < nvt; v0 += NV) {
        int nv = imin(NV, nvt - v0);
        vmask mk[4];
        for (int v = 0; v < nv; v++)
            mk[v] = vmask_first(D - (v0 + v) * VL);
        for (int r0 = 0; r0 < rows; r0 += RR)
            pv_dispatch(P + r0 * pr, pj, pr, V + v0 * VL, D, Oa + (size_t)r0 * Dp + v0 * VL, Dp,
                        alpha + r0, n, mk, imin(RR, rows - r0), nv);
    }
}

/* ---- flash ----------------------------------------------------------------------------------- */

/* One worker's tiles (each 64-byte aligned). */
typedef struct flash_ws {
    float *qt;    /* (D, BR) scaled queries, transposed */
    float *s;     /* (BC, BR) S^T, then P^T */
    float *oa;    /* (BR, Dp) unnormalised output */
    float *m;     /* (BR) running max */
    float *l;     /* (BR) running sum */
    float *alpha; /* (BR) this block's rescaling e^(m_old - m_new) */
} flash_ws;

static size_t flash_region_bytes(int D)
{
    size_t Dp = (size_t)round_up(D, VL);
    size_t f = round_up_z((size_t)D * BR, 16) + (size_t)BC * BR + Dp * BR + 3 * (size_t)BR;
    return round_up_z(f * sizeof(float), 64);
}

size_t op_attn_flash_scratch_bytes(int D, int n_workers)
{
    return flash_region_bytes(D) * (size_t)n_workers + 64;
}

static flash_ws flash_ws_of(void *scratch, int D, int worker)
{
    float *p = worker_region(scratch, flash_region_bytes(D), worker);
    size_t Dp = (size_t)round_up(D, VL);
    flash_ws w;
    w.qt = p;
    w.s = w.qt + round_up_z((size_t)D * BR, 16);
    w.oa = w.s + (size_t)BC * BR;
    w.m = w.oa + Dp * BR;
    w.l = w.m + BR;
    w.alpha = w.l + BR;
    return w;
}

/* S^T rows j < R of the tile at column c0 (QG vectors): S[j BR + c] =
 * K[j] . Qt[:, c].  When masked, lanes whose query precedes the key become
 * -inf: key j vs the query of lane x of vector g differ by koff + j - g VL - x
 * positions (koff = first key - first query of the columns).  mx[g] keeps the
 * column maxima. */
ATTN_INLINE void qk_tile(const float *K, const float *Qt, float *S, int D, int c0, int koff,
                         int masked, vf *mx, const int R)
{
    vf acc[6][QG];
    for (int j = 0; j < R; j++)
        for (int g = 0; g < QG; g++)
            acc[j][g] = vzero();
    for (int d = 0; d < D; d++) {
        vf q[QG];
        for (int g = 0; g < QG; g++)
            q[g] = vld(Qt + (size_t)d * BR + c0 + g * VL);
        for (int j = 0; j < R; j++) {
            vf k = vset(K[(size_t)j * D + d]);
            for (int g = 0; g < QG; g++)
                acc[j][g] = vfma(k, q[g], acc[j][g]);
        }
    }
    for (int j = 0; j < R; j++)
        for (int g = 0; g < QG; g++) {
            vf s = masked ? vmask_below(acc[j][g], (float)(koff + j - g * VL)) : acc[j][g];
            mx[g] = vmax(mx[g], s);
            vst(S + (size_t)j * BR + c0 + g * VL, s);
        }
}

#define QK_CASE(R_)                                                                            \
    case R_:                                                                                   \
        qk_tile(K, Qt, S, D, c0, koff, masked, mx, R_);                                        \
        break;

/* qk_tile for R = 1..6 keys. */
static void qk_dispatch(const float *K, const float *Qt, float *S, int D, int c0, int koff,
                        int masked, vf *mx, int R)
{
    switch (R) {
        QK_CASE(1) QK_CASE(2) QK_CASE(3) QK_CASE(4) QK_CASE(5) QK_CASE(6)
    default:
        break;
    }
}

/* The online-softmax update of the columns c0.. (QG vectors) over nk keys:
 * m' = max(m, mx); alpha = e^(m - m'); S = e^(S - m') (now P); l = alpha l + sum. */
ATTN_INLINE void softmax_cols(float *S, int nk, int c0, const vf *mx, const flash_ws *w)
{
    vf mn[QG], sum[QG];
    for (int g = 0; g < QG; g++) {
        int c = c0 + g * VL;
        vf mo = vld(w->m + c);
        mn[g] = vmax(mo, mx[g]);
        vst(w->alpha + c, vexp(vsub(mo, mn[g])));
        vst(w->m + c, mn[g]);
        sum[g] = vzero();
    }
    for (int j = 0; j < nk; j++)
        for (int g = 0; g < QG; g++) {
            float *s = S + (size_t)j * BR + c0 + g * VL;
            vf p = vexp(vsub(vld(s), mn[g]));
            vst(s, p);
            sum[g] = vadd(sum[g], p);
        }
    for (int g = 0; g < QG; g++) {
        int c = c0 + g * VL;
        vst(w->l + c, vfma(vld(w->l + c), vld(w->alpha + c), sum[g]));
    }
}

/* Scores, mask and softmax update of key block k0 (nk keys) for all columns. */
static void flash_scores(const float *Kb, int D, int nk, int koff, int masked, const flash_ws *w)
{
    for (int c0 = 0; c0 < BR; c0 += QG * VL) {
        vf mx[QG];
        for (int g = 0; g < QG; g++)
            mx[g] = vset(-INFINITY);
        int j0 = 0;
        for (; j0 + RK <= nk; j0 += RK)
            qk_dispatch(Kb + (size_t)j0 * D, w->qt, w->s + (size_t)j0 * BR, D, c0,
                        koff + j0 - c0, masked, mx, RK);
        if (j0 < nk)
            qk_dispatch(Kb + (size_t)j0 * D, w->qt, w->s + (size_t)j0 * BR, D, c0,
                        koff + j0 - c0, masked, mx, nk - j0);
        softmax_cols(w->s, nk, c0, mx, w);
    }
}

/* Qt = (rows q0..q0+nq of Qh) x scale, transposed, zero past nq; m = -inf, l = 0, Oa = 0. */
static void flash_begin(const float *Qh, int D, int Dp, int q0, int nq, const flash_ws *w)
{
    float scale = 1.0f / sqrtf((float)D);
    for (int d = 0; d < D; d++) {
        float *qt = w->qt + (size_t)d * BR;
        for (int r = 0; r < nq; r++)
            qt[r] = Qh[(size_t)(q0 + r) * D + d] * scale;
        for (int r = nq; r < BR; r++)
            qt[r] = 0.0f;
    }
    for (int r = 0; r < BR; r++) {
        w->m[r] = -INFINITY;
        w->l[r] = 0.0f;
    }
    memset(w->oa, 0, (size_t)BR * Dp * sizeof(float));
}

/* O rows q0.. = Oa / l for the nq real rows. */
static void flash_end(float *Oh, int D, int Dp, int q0, int nq, const flash_ws *w)
{
    for (int r = 0; r < nq; r++) {
        float inv = 1.0f / w->l[r];
        const float *a = w->oa + (size_t)r * Dp;
        float *o = Oh + (size_t)(q0 + r) * D;
        for (int d = 0; d < D; d++)
            o[d] = a[d] * inv;
    }
}

/* Query block q0 (BR rows, fewer at the end) of one head. */
static void flash_block(const float *Qh, const float *Kh, const float *Vh, float *Oh, int L,
                        int D, int q0, const flash_ws *w)
{
    int Dp = round_up(D, VL), nq = imin(BR, L - q0), q_end = q0 + nq;
    flash_begin(Qh, D, Dp, q0, nq, w);
    for (int k0 = 0; k0 < q_end; k0 += BC) {
        int nk = imin(BC, q_end - k0);
        int masked = k0 + nk - 1 > q0;  /* some key is after some query */
        flash_scores(Kh + (size_t)k0 * D, D, nk, k0 - q0, masked, w);
        pv_rows(w->s, BR, 1, Vh + (size_t)k0 * D, nk, D, w->oa, Dp, w->alpha, BR);
    }
    flash_end(Oh, D, Dp, q0, nq, w);
}

void op_attn_flash_part(const float *Q, const float *K, const float *V, float *O, int H, int Hkv,
                        int L, int D, void *scratch, int worker, int n_workers)
{
    int nb = (L + BR - 1) / BR, group = H / Hkv;
    flash_ws w = flash_ws_of(scratch, D, worker);
    int64_t lo, hi;
    split_causal(H, nb, worker, n_workers, &lo, &hi);
    for (int64_t t = lo; t < hi; t++) {
        int h = (int)(t / nb), qb = (int)(t % nb);
        size_t q_off = (size_t)h * L * D, kv_off = (size_t)(h / group) * L * D;
        flash_block(Q + q_off, K + kv_off, V + kv_off, O + q_off, L, D, qb * BR, &w);
    }
}

/* ---- decode ---------------------------------------------------------------------------------- */

/* One worker's region: two partial slots (tag = KV head or -1, then per query
 * head of the group m, l and Dp floats of o), and its working tiles. */
typedef struct dec_ws {
    int *tag;     /* (2) */
    float *slot[2]; /* (G, 2 + Dp) each */
    float *qs;    /* (G, Dp) queries x scale, zero-padded */
    float *s;     /* (G, PB) scores, then probabilities */
    float *oa;    /* (G, Dp) unnormalised output */
    float *m, *l, *alpha; /* (G) each */
    float *ktail; /* (VL, Dp) the last rows of a segment, zero-padded */
} dec_ws;

static size_t dec_floats_per_slot(int G, int Dp) { return round_up_z((size_t)G * (2 + Dp), 16); }

static size_t dec_region_bytes(int H, int Hkv, int D)
{
    int G = H / Hkv, Dp = round_up(D, VL);
    size_t f = 16 + 2 * dec_floats_per_slot(G, Dp) + 2 * round_up_z((size_t)G * Dp, 16) +
               round_up_z((size_t)G * PB, 16) + 3 * round_up_z((size_t)G, 16) +
               (size_t)VL * Dp;
    return round_up_z(f * sizeof(float), 64);
}

size_t op_attn_decode_scratch_bytes(int H, int Hkv, int D, int n_workers)
{
    return dec_region_bytes(H, Hkv, D) * (size_t)n_workers + 64;
}

static dec_ws dec_ws_of(void *scratch, int H, int Hkv, int D, int worker)
{
    int G = H / Hkv, Dp = round_up(D, VL);
    float *p = worker_region(scratch, dec_region_bytes(H, Hkv, D), worker);
    dec_ws w;
    w.tag = (int *)(void *)p;
    w.slot[0] = p + 16;
    w.slot[1] = w.slot[0] + dec_floats_per_slot(G, Dp);
    w.qs = w.slot[1] + dec_floats_per_slot(G, Dp);
    w.oa = w.qs + round_up_z((size_t)G * Dp, 16);
    w.s = w.oa + round_up_z((size_t)G * Dp, 16);
    w.m = w.s + round_up_z((size_t)G * PB, 16);
    w.l = w.m + round_up_z((size_t)G, 16);
    w.alpha = w.l + round_up_z((size_t)G, 16);
    w.ktail = w.alpha + round_up_z((size_t)G, 16);
    return w;
}

int op_attn_decode_needs_merge(int Hkv, int n_workers) { return Hkv % n_workers != 0; }

/* Asks for the cache lines of [p, p + bytes) ahead of use (a hint).  This
 * is worth ~2.5x to the decode step on the reference machine (Zen 5: the
 * hardware prefetchers alone sustain 11-18 GB/s for its two interleaved
 * streams).  Keep the loop plain: GCC 12 at -O3 silently dropped every
 * prefetch of a hand-unrolled version. */
static void prefetch_bytes(const float *p, size_t bytes)
{
#if defined(__GNUC__)
    for (size_t b = 0; b < bytes; b += 64)
        __builtin_prefetch((const char *)p + b, 0, 3);
#else
    (void)p, (void)bytes;
#endif
}

/* VL scores q . K[i] for rows i < VL of stride ld, as one vector: q's NQ
 * vectors (NQ constant, 1..8) held in registers, one accumulator per row,
 * summed across lanes by one transposing tree (vsum_lanes).  mk masks the
 * columns of each vector that exist (q is zero-padded, K rows are not). */
ATTN_INLINE vf dot_rows(const float *q, const float *K, ptrdiff_t ld, const vmask *mk,
                        const int NQ)
{
    vf qv[8], acc[VL];
    for (int v = 0; v < NQ; v++)
        qv[v] = vld(q + v * VL);
    for (int i = 0; i < VL; i++) {
        vf a = vzero();
        for (int v = 0; v < NQ; v++)
            a = vfma(qv[v], vldm(K + i * ld + v * VL, mk[v]), a);
        acc[i] = a;
    }
    return vsum_lanes(acc);
}

/* dot_rows for any number of vectors nvt: 8 at a time, partial sums added. */
static vf dot_rows_any(const float *q, const float *K, ptrdiff_t ld, const vmask *mk, int nvt)
{
    vf sum = vzero();
    for (int v0 = 0; v0 < nvt; v0 += 8) {
        const float *qq = q + v0 * VL, *kk = K + v0 * VL;
        const vmask *mm = mk + v0;
        switch (imin(8, nvt - v0)) {
        case 1: sum = vadd(sum, dot_rows(qq, kk, ld, mm, 1)); break;
        case 2: sum = vadd(sum, dot_rows(qq, kk, ld, mm, 2)); break;
        case 3: sum = vadd(sum, dot_rows(qq, kk, ld, mm, 3)); break;
        case 4: sum = vadd(sum, dot_rows(qq, kk, ld, mm, 4)); break;
        case 5: sum = vadd(sum, dot_rows(qq, kk, ld, mm, 5)); break;
        case 6: sum = vadd(sum, dot_rows(qq, kk, ld, mm, 6)); break;
        case 7: sum = vadd(sum, dot_rows(qq, kk, ld, mm, 7)); break;
        default: sum = vadd(sum, dot_rows(qq, kk, ld, mm, 8)); break;
        }
    }
    return sum;
}

/* s[g PB + i] = qs[g] . K[i] for i < n, g < G; the rest of each row up to a
 * whole vector is -inf.  K and V rows ATTN_PFD positions ahead are
 * prefetched, as far as the rest rows of the segment (from K) go.  A
 * last group of fewer than VL rows is copied, zero-padded, into ktail
 * (VL x Dp) so that no row past n is read. */
static void dec_scores(const float *qs, const float *K, const float *V, float *s, int n, int rest,
                       int G, int D, int Dp, float *ktail)
{
    int nvt = Dp / VL;
    vmask mk[ATTN_MAX_D / VL + 1], full[ATTN_MAX_D / VL + 1];
    for (int v = 0; v < nvt; v++) {
        mk[v] = vmask_first(D - v * VL);
        full[v] = vmask_first(VL);
    }
    for (int i0 = 0; i0 < n; i0 += VL) {
        int cnt = imin(VL, n - i0);
        const float *k = K + (size_t)i0 * D;
        ptrdiff_t ld = D;
        const vmask *m = mk;
        int ahead = imin(cnt, rest - (i0 + ATTN_PFD));
        if (ahead > 0) {
            prefetch_bytes(K + (size_t)(i0 + ATTN_PFD) * D, (size_t)ahead * D * sizeof(float));
            prefetch_bytes(V + (size_t)(i0 + ATTN_PFD) * D, (size_t)ahead * D * sizeof(float));
        }
        if (cnt < VL) {
            memset(ktail, 0, (size_t)VL * Dp * sizeof(float));
            for (int i = 0; i < cnt; i++)
                memcpy(ktail + (size_t)i * Dp, k + (size_t)i * D, (size_t)D * sizeof(float));
            k = ktail, ld = Dp, m = full;
        }
        for (int g = 0; g < G; g++) {
            vf r = nvt == 4 ? dot_rows(qs + (size_t)g * Dp, k, ld, m, 4)
                            : dot_rows_any(qs + (size_t)g * Dp, k, ld, m, nvt);
            vst(s + (size_t)g * PB + i0, vmask_from(r, (float)cnt));
        }
    }
}

/* Online-softmax update of the G rows of scores over n positions. */
static void dec_softmax(float *s, int n, int G, const dec_ws *w)
{
    int nr = round_up(n, VL);
    for (int g = 0; g < G; g++) {
        float *row = s + (size_t)g * PB;
        vf mx = vset(-INFINITY);
        for (int i = 0; i < nr; i += VL)
            mx = vmax(mx, vld(row + i));
        float mo = w->m[g], mn = fmaxf(mo, vhmax(mx));
        vf mnv = vset(mn), sum = vzero();
        for (int i = 0; i < nr; i += VL) {
            vf p = vexp(vsub(vld(row + i), mnv));
            vst(row + i, p);
            sum = vadd(sum, p);
        }
        float a = expf(mo - mn);
        w->alpha[g] = a;
        w->l[g] = a * w->l[g] + vhsum(sum);
        w->m[g] = mn;
    }
}

/* Attention of the G query heads q (H-row block of the group) over n cache
 * rows K, V: leaves m, l, oa in w. */
static void dec_segment(const float *q, const float *K, const float *V, int n, int G, int D,
                        const dec_ws *w)
{
    int Dp = round_up(D, VL);
    float scale = 1.0f / sqrtf((float)D);
    for (int g = 0; g < G; g++) {
        for (int d = 0; d < Dp; d++)
            w->qs[(size_t)g * Dp + d] = d < D ? q[(size_t)g * D + d] * scale : 0.0f;
        w->m[g] = -INFINITY;
        w->l[g] = 0.0f;
    }
    memset(w->oa, 0, (size_t)G * Dp * sizeof(float));
    for (int p0 = 0; p0 < n; p0 += PB) {
        int nb = imin(PB, n - p0);
        dec_scores(w->qs, K + (size_t)p0 * D, V + (size_t)p0 * D, w->s, nb, n - p0, G, D, Dp,
                   w->ktail);
        dec_softmax(w->s, nb, G, w);
        pv_rows(w->s, 1, PB, V + (size_t)p0 * D, nb, D, w->oa, Dp, w->alpha, G);
    }
}

/* o rows of the group = oa / l. */
static void dec_finish(float *o, int G, int D, const dec_ws *w)
{
    int Dp = round_up(D, VL);
    for (int g = 0; g < G; g++) {
        float inv = 1.0f / w->l[g];
        for (int d = 0; d < D; d++)
            o[(size_t)g * D + d] = w->oa[(size_t)g * Dp + d] * inv;
    }
}

/* Copies (m, l, oa) of the group into a partial slot. */
static void dec_save(float *slot, int G, int Dp, const dec_ws *w)
{
    for (int g = 0; g < G; g++) {
        float *e = slot + (size_t)g * (2 + Dp);
        e[0] = w->m[g];
        e[1] = w->l[g];
        memcpy(e + 2, w->oa + (size_t)g * Dp, (size_t)Dp * sizeof(float));
    }
}

void op_attn_decode_part(const float *q, float *Kc, float *Vc, const float *k_new,
                         const float *v_new, float *o, int H, int Hkv, int L, int D, void *scratch,
                         int worker, int n_workers)
{
    int G = H / Hkv, Dp = round_up(D, VL);
    int64_t P = (int64_t)L + 1, T = (int64_t)Hkv * P;
    int64_t lo = T * worker / n_workers, hi = T * (worker + 1) / n_workers;
    dec_ws w = dec_ws_of(scratch, H, Hkv, D, worker);
    int n_slots = 0;
    w.tag[0] = w.tag[1] = -1;
    /* One segment per KV head the range [lo, hi) touches. */
    for (int64_t t = lo; t < hi;) {
        int kv = (int)(t / P);
        int64_t pa = t - (int64_t)kv * P, pb = hi - (int64_t)kv * P < P ? hi - (int64_t)kv * P : P;
        float *Kh = Kc + (size_t)kv * P * D, *Vh = Vc + (size_t)kv * P * D;
        if (pb == P) { /* this worker owns slot L of the head */
            memcpy(Kh + (size_t)L * D, k_new + (size_t)kv * D, (size_t)D * sizeof(float));
            memcpy(Vh + (size_t)L * D, v_new + (size_t)kv * D, (size_t)D * sizeof(float));
        }
        dec_segment(q + (size_t)kv * G * D, Kh + (size_t)pa * D, Vh + (size_t)pa * D,
                    (int)(pb - pa), G, D, &w);
        if (pa == 0 && pb == P) {
            dec_finish(o + (size_t)kv * G * D, G, D, &w);
        } else {
            w.tag[n_slots] = kv;
            dec_save(w.slot[n_slots], G, Dp, &w);
            n_slots++;
        }
        t = (int64_t)kv * P + pb;
    }
}

/* o rows of KV head kv's group from every worker's partial slots tagged kv
 * (in worker order): m = max m_i, l = sum e^(m_i - m) l_i, o = sum e^(m_i - m) o_i / l. */
static void dec_merge_head(float *o, int kv, int H, int Hkv, int D, void *scratch, int n_workers)
{
    int G = H / Hkv, Dp = round_up(D, VL);
    for (int g = 0; g < G; g++) {
        float m = -INFINITY;
        for (int w = 0; w < n_workers; w++) {
            dec_ws ws = dec_ws_of(scratch, H, Hkv, D, w);
            for (int s = 0; s < 2; s++)
                if (ws.tag[s] == kv)
                    m = fmaxf(m, ws.slot[s][(size_t)g * (2 + Dp)]);
        }
        double l = 0.0;
        float *out = o + ((size_t)kv * G + g) * D;
        for (int d = 0; d < D; d++)
            out[d] = 0.0f;
        for (int w = 0; w < n_workers; w++) {
            dec_ws ws = dec_ws_of(scratch, H, Hkv, D, w);
            for (int s = 0; s < 2; s++) {
                if (ws.tag[s] != kv)
                    continue;
                const float *e = ws.slot[s] + (size_t)g * (2 + Dp);
                float a = expf(e[0] - m);
                l += (double)a * e[1];
                for (int d = 0; d < D; d++)
                    out[d] += a * e[2 + d];
            }
        }
        float inv = (float)(1.0 / l);
        for (int d = 0; d < D; d++)
            out[d] *= inv;
    }
}

void op_attn_decode_merge(float *o, int H, int Hkv, int L, int D, void *scratch, int n_workers)
{
    (void)L;
    if (!op_attn_decode_needs_merge(Hkv, n_workers))
        return;
    for (int kv = 0; kv < Hkv; kv++) {
        int found = 0;
        for (int w = 0; w < n_workers && !found; w++) {
            dec_ws ws = dec_ws_of(scratch, H, Hkv, D, w);
            found = ws.tag[0] == kv || ws.tag[1] == kv;
        }
        if (found)
            dec_merge_head(o, kv, H, Hkv, D, scratch, n_workers);
    }
}

/* ---- cost model ------------------------------------------------------------------------------- */

double op_attn_prefill_flops(int H, int L, int D)
{
    double T = (double)L * (L + 1) / 2.0;
    return (double)H * (4.0 * D * T + T);
}

double op_attn_prefill_bytes(int H, int Hkv, int L, int D)
{
    return 4.0 * (2.0 * H + 2.0 * Hkv) * (double)L * D;
}

double op_attn_naive_bytes(int H, int Hkv, int L, int D)
{
    double T = (double)L * (L + 1) / 2.0;
    return op_attn_prefill_bytes(H, Hkv, L, D) + 2.0 * 4.0 * H * T;
}

double op_attn_decode_flops(int H, int L, int D)
{
    return (double)H * (4.0 * D * ((double)L + 1) + ((double)L + 1));
}

double op_attn_decode_bytes(int H, int Hkv, int L, int D)
{
    return 4.0 * (2.0 * Hkv * ((double)L + 1) * D + 2.0 * Hkv * D + 2.0 * H * D);
}
