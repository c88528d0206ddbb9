/* operators/lowp.c — 16-bit float weights (bf16, IEEE f16): type names,
 * exact conversions, bulk conversions, and the GEMV that converts W in
 * registers while streaming it (see lowp.h).  The GEMM with 16-bit A lives in
 * gemm.c, where its A panels are packed.
 *
 * The GEMV follows gemm.c's op_gemv_part: the same row split (op_gemv_rows),
 * four rows at a time sharing each load of x, two accumulators per row, and
 * each row's dot product summed in the same order whether its group has four
 * rows or one, so results do not depend on the worker count.
 *
 * Never: allocate, do I/O, start threads, or read outside the arguments.
 * Scalar conversions must stay exact (bit patterns in, bit patterns out): the
 * vector paths are checked against them. */
#include "operators/lowp.h"
#include "operators/gemm.h"
#include "operators/quant.h"
#include "operators/vmath.h"

#include <string.h>

#if defined(__AVX512F__) || defined(__AVX2__) || defined(__F16C__)
#include <immintrin.h>
#endif

#if defined(__GNUC__)
#define LOWP_INLINE static inline __attribute__((always_inline))
#else
#define LOWP_INLINE static inline
#endif

/* ---- type names ---------------------------------------------------------------------- */

const char *op_wtype_name(op_wtype t)
{
    switch (t) {
    case OP_W_F32: return "f32";
    case OP_W_BF16: return "bf16";
    case OP_W_F16: return "f16";
    case OP_W_Q8_0: return "q8_0";
    case OP_W_Q4_0: return "q4_0";
    case OP_W_Q4_1: return "q4_1";
    }
    return "?";
}

int op_wtype_parse(const char *s)
{
    for (int t = 0; s && t < OP_W_N; t++)
        if (strcmp(s, op_wtype_name((op_wtype)t)) == 0)
            return t;
    return -1;
}

size_t op_wtype_size(op_wtype t)
{
    switch (t) {
    case OP_W_F32: return 4;
    case OP_W_BF16:
    case OP_W_F16: return 2;
    case OP_W_Q8_0:
    case OP_W_Q4_0:
    case OP_W_Q4_1: return 0;
    }
    return 0;
}

int op_wtype_qtype(op_wtype t)
{
    switch (t) {
    case OP_W_F32: return OP_Q_F32;
    case OP_W_BF16: return OP_Q_BF16;
    case OP_W_F16: return OP_Q_F16;
    case OP_W_Q8_0: return OP_Q_Q8_0;
    case OP_W_Q4_0: return OP_Q_Q4_0;
    case OP_W_Q4_1: return OP_Q_Q4_1;
    }
    return -1;
}

int op_wtype_from_qtype(int qtype)
{
    for (int t = 0; t < OP_W_N; t++)
        if (op_wtype_qtype((op_wtype)t) == qtype)
            return t;
    return -1;
}

/* Whether t is one of the block types (quant.h's native GEMV types). */
static int is_block(op_wtype t) { return t == OP_W_Q8_0 || t == OP_W_Q4_0 || t == OP_W_Q4_1; }

int op_wtype_block(op_wtype t)
{
    int q = op_wtype_qtype(t);
    return q < 0 ? 0 : op_qtype_block_elems((op_qtype)q);
}

size_t op_wtype_row_bytes(op_wtype t, int64_t k)
{
    int q = op_wtype_qtype(t);
    return q < 0 ? 0 : op_qtype_row_bytes((op_qtype)q, k);
}

double op_gemv_w_bytes(int m, int k, op_wtype t)
{
    return (double)op_wtype_row_bytes(t, k) * m + 4.0 * ((double)k + m);
}

/* ---- scalar conversions -------------------------------------------------------------- */

static float float_of(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

float op_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    if (exp == 0x1f) /* infinity or NaN, payload as it is */
        return float_of(sign | 0x7f800000u | (mant << 13));
    if (exp > 0) /* normal: rebias 15 -> 127 */
        return float_of(sign | ((exp + 112u) << 23) | (mant << 13));
    if (mant == 0)
        return float_of(sign);
    /* Subnormal mant x 2^-24: shift the leading one up to the hidden bit. */
    uint32_t e = 113;
    while (!(mant & 0x400u)) {
        mant <<= 1;
        e--;
    }
    return float_of(sign | (e << 23) | ((mant & 0x3ffu) << 13));
}

float op_bf16_to_f32(uint16_t b) { return float_of((uint32_t)b << 16); }

/* NaN -> quiet NaN keeping the top of the payload (what VCVTPS2PH does, so
 * the scalar and vector paths agree bit for bit). */
uint16_t op_f32_to_f16(float f)
{
    uint32_t u = bits_of(f), a = u & 0x7fffffffu;
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    if (a > 0x7f800000u)
        return sign | 0x7e00u | (uint16_t)((a >> 13) & 0x3ffu);
    if (a >= 0x477ff000u) /* 65520 and up (and infinity) round to infinity */
        return sign | 0x7c00u;
    if (a >= 0x38800000u) { /* normal f16 (>= 2^-14): rebias, round the 13 dropped bits */
        uint32_t h = a - 0x38000000u;
        return sign | (uint16_t)((h + 0x0fffu + ((h >> 13) & 1u)) >> 13);
    }
    if (a <= 0x33000000u) /* at most 2^-25: rounds to zero (the tie goes to even 0) */
        return sign;
    /* Subnormal f16: round (1.m x 2^(e-127)) x 2^24, i.e. mant >> (126 - e). */
    uint32_t e = a >> 23, mant = (a & 0x7fffffu) | 0x800000u, s = 126u - e;
    uint32_t q = mant >> s, rest = mant & ((1u << s) - 1u), half = 1u << (s - 1u);
    if (rest > half || (rest == half && (q & 1u)))
        q++;
    return sign | (uint16_t)q;
}

uint16_t op_f32_to_bf16(float f)
{
    uint32_t u = bits_of(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN: quiet it so truncation cannot make infinity */
        return (uint16_t)((u >> 16) | 0x40u);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

/* ---- bulk conversions ---------------------------------------------------------------- */

/* The vector paths convert 16 (8) at a time and leave the tail to the scalar
 * loop.  f16 through VCVTPH2PS quiets a signalling NaN (the scalar path keeps
 * it signalling); every other pattern converts identically. */
static void bf16_to_f32_n(const uint16_t *s, float *d, size_t n)
{
    size_t i = 0;
#if defined(__AVX512F__)
    for (; i + 16 <= n; i += 16) {
        __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(s + i)));
        _mm512_storeu_si512((void *)(d + i), _mm512_slli_epi32(w, 16));
    }
#elif defined(__AVX2__)
    for (; i + 8 <= n; i += 8) {
        __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(s + i)));
        _mm256_storeu_si256((__m256i *)(d + i), _mm256_slli_epi32(w, 16));
    }
#endif
    for (; i < n; i++)
        d[i] = op_bf16_to_f32(s[i]);
}

static void f16_to_f32_n(const uint16_t *s, float *d, size_t n)
{
    size_t i = 0;
#if defined(__AVX512F__)
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(d + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(s + i))));
#elif defined(__F16C__)
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(d + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(s + i))));
#endif
    for (; i < n; i++)
        d[i] = op_f16_to_f32(s[i]);
}

static void f32_to_bf16_n(const float *s, uint16_t *d, size_t n)
{
    size_t i = 0;
#if defined(__AVX512F__)
    /* Integer rounding as in op_f32_to_bf16 (VCVTNEPS2BF16 would flush
     * subnormal inputs to zero, so it is not exact). */
    const __m512i bias = _mm512_set1_epi32(0x7fff), one = _mm512_set1_epi32(1);
    const __m512i quiet = _mm512_set1_epi32(0x40);
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(s + i);
        __m512i u = _mm512_castps_si512(v);
        __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), one);
        __m512i r = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(bias, lsb)), 16);
        __m512i q = _mm512_or_si512(_mm512_srli_epi32(u, 16), quiet);
        r = _mm512_mask_blend_epi32(_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), r, q);
        _mm256_storeu_si256((__m256i *)(d + i), _mm512_cvtepi32_epi16(r));
    }
#endif
    for (; i < n; i++)
        d[i] = op_f32_to_bf16(s[i]);
}

static void f32_to_f16_n(const float *s, uint16_t *d, size_t n)
{
    size_t i = 0;
#if defined(__AVX512F__)
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(d + i),
                            _mm512_cvtps_ph(_mm512_loadu_ps(s + i),
                                            _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
#elif defined(__F16C__)
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(d + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(s + i),
                                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
#endif
    for (; i < n; i++)
        d[i] = op_f32_to_f16(s[i]);
}

void op_w_to_f32(const void *src, op_wtype t, float *dst, size_t n)
{
    if (n == 0)
        return;
    if (t == OP_W_BF16)
        bf16_to_f32_n(src, dst, n);
    else if (t == OP_W_F16)
        f16_to_f32_n(src, dst, n);
    else if (is_block(t))
        op_dequant_row((op_qtype)op_wtype_qtype(t), src, dst, (int64_t)n);
    else
        memmove(dst, src, n * sizeof(float));
}

void op_f32_to_w(const float *src, op_wtype t, void *dst, size_t n)
{
    if (n == 0)
        return;
    if (t == OP_W_BF16)
        f32_to_bf16_n(src, dst, n);
    else if (t == OP_W_F16)
        f32_to_f16_n(src, dst, n);
    else if (is_block(t))
        op_quant_row_ref((op_qtype)op_wtype_qtype(t), src, dst, (int64_t)n);
    else
        memmove(dst, src, n * sizeof(float));
}

/* ---- GEMV: reference ------------------------------------------------------------------- */

/* y[lo..hi) = W[lo..hi) x with each row converted exactly, 32 elements at a
 * time (one block of the block types), and double accumulation: the
 * reference, and the fallback of a block-type GEMV too long for its stack. */
static void gemv_exact_rows(const void *W, op_wtype t, const float *x, float *y, int k, int lo,
                            int hi)
{
    size_t rb = op_wtype_row_bytes(t, k);
    float part[32];
    for (int i = lo; i < hi; i++) {
        const char *row = (const char *)W + (size_t)i * rb;
        double s = 0.0;
        for (int j0 = 0; j0 < k; j0 += 32) {
            int n = k - j0 < 32 ? k - j0 : 32;
            op_w_to_f32(row + op_wtype_row_bytes(t, j0), t, part, (size_t)n);
            for (int j = 0; j < n; j++)
                s += (double)part[j] * x[j0 + j];
        }
        y[i] = (float)s;
    }
}

void op_gemv_w_ref(const void *W, op_wtype t, const float *x, float *y, int m, int k)
{
    gemv_exact_rows(W, t, x, y, k, 0, m);
}

/* ---- GEMV: fast 16-bit rows ------------------------------------------------------------- */

/* gemv16_rows(W, f16, x, y, R, k): y[0..R) = W[0..R) x for R = 4 or 1 rows of
 * 16-bit weights (f16 when f16, else bf16), row stride k; R and f16 are
 * constants at each call, so each specialisation keeps its accumulators in
 * registers and its conversion inline. */

/* n (<= 16) weights of a row as floats, zero-padded to 16. */
static void tail16(const uint16_t *w, int f16, int n, float *out)
{
    for (int l = 0; l < 16; l++)
        out[l] = l >= n ? 0.0f : f16 ? op_f16_to_f32(w[l]) : op_bf16_to_f32(w[l]);
}

/* Software prefetch distance along each row, in weights (2 KiB of 16-bit
 * weights): the conversion makes the loop several instructions per cache
 * line, too few lines in flight for the hardware prefetcher alone (measured
 * on Zen 5: ~28 GB/s without, ~33 GB/s with, on one core).  Prefetches past
 * the end of W are harmless (they never fault). */
#define LOWP_PREFETCH 1024

#if defined(__AVX512F__)
#define LOWP_GEMV_ISA 1

/* 16 weights at p as 16 floats. */
LOWP_INLINE __m512 load16(const uint16_t *p, int f16)
{
    __m256i h = _mm256_loadu_si256((const __m256i *)p);
    if (f16)
        return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

LOWP_INLINE void gemv16_rows(const uint16_t *W, int f16, const float *x, float *y, int R, int k)
{
    __m512 lo[4], hi[4];
    for (int r = 0; r < 4; r++)
        lo[r] = hi[r] = _mm512_setzero_ps();
    int j = 0;
    for (; j + 32 <= k; j += 32) {
        __m512 x0 = _mm512_loadu_ps(x + j), x1 = _mm512_loadu_ps(x + j + 16);
        for (int r = 0; r < R; r++) {
            const uint16_t *w = W + (size_t)r * k + j;
            _mm_prefetch((const char *)(w + LOWP_PREFETCH), _MM_HINT_T0);
            lo[r] = _mm512_fmadd_ps(load16(w, f16), x0, lo[r]);
            hi[r] = _mm512_fmadd_ps(load16(w + 16, f16), x1, hi[r]);
        }
    }
    for (; j < k; j += 16) {
        int n = k - j < 16 ? k - j : 16;
        __mmask16 mk = n == 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1);
        __m512 x0 = _mm512_maskz_loadu_ps(mk, x + j);
        for (int r = 0; r < R; r++) {
            const uint16_t *w = W + (size_t)r * k + j;
            __m512 wv;
            if (n == 16) {
                wv = load16(w, f16);
            } else {
                _Alignas(64) float t[16];
                tail16(w, f16, n, t);
                wv = _mm512_load_ps(t);
            }
            lo[r] = _mm512_fmadd_ps(wv, x0, lo[r]);
        }
    }
    for (int r = 0; r < R; r++)
        y[r] = _mm512_reduce_add_ps(_mm512_add_ps(lo[r], hi[r]));
}

#elif defined(__AVX2__) && defined(__FMA__)
#define LOWP_GEMV_ISA 1

/* 8 weights at p as 8 floats (f16 needs F16C: see LOWP_VECTOR_F16). */
LOWP_INLINE __m256 load8(const uint16_t *p, int f16)
{
    __m128i h = _mm_loadu_si128((const __m128i *)p);
#if defined(__F16C__)
    if (f16)
        return _mm256_cvtph_ps(h);
#endif
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

static inline float hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

LOWP_INLINE void gemv16_rows(const uint16_t *W, int f16, const float *x, float *y, int R, int k)
{
    __m256 lo[4], hi[4];
    for (int r = 0; r < 4; r++)
        lo[r] = hi[r] = _mm256_setzero_ps();
    int j = 0;
    for (; j + 16 <= k; j += 16) {
        __m256 x0 = _mm256_loadu_ps(x + j), x1 = _mm256_loadu_ps(x + j + 8);
        for (int r = 0; r < R; r++) {
            const uint16_t *w = W + (size_t)r * k + j;
            if (!(j & 31)) /* one prefetch per 64-byte line */
                _mm_prefetch((const char *)(w + LOWP_PREFETCH), _MM_HINT_T0);
            lo[r] = _mm256_fmadd_ps(load8(w, f16), x0, lo[r]);
            hi[r] = _mm256_fmadd_ps(load8(w + 8, f16), x1, hi[r]);
        }
    }
    for (int r = 0; r < R; r++) {
        float s = hsum8(_mm256_add_ps(lo[r], hi[r]));
        if (j < k) {
            float t[16];
            tail16(W + (size_t)r * k + j, f16, k - j, t);
            for (int l = 0; l < k - j; l++)
                s = VM_FMAF(t[l], x[j + l], s);
        }
        y[r] = s;
    }
}

#else
#define LOWP_GEMV_ISA 0
#endif

/* Whether the vector path above handles f16 (AVX2 without F16C does not). */
#if defined(__AVX512F__) || defined(__F16C__)
#define LOWP_VECTOR_F16 LOWP_GEMV_ISA
#else
#define LOWP_VECTOR_F16 0
#endif

/* Portable: 16 partial sums per row over blocks of 16 weights converted into
 * a small buffer (R and f16 constant per call, as above). */
LOWP_INLINE void gemv16_rows_portable(const uint16_t *W, int f16, const float *x, float *y,
                                      int R, int k)
{
    float acc[4][16], t[16];
    memset(acc, 0, sizeof acc);
    int j = 0;
    for (; j + 16 <= k; j += 16)
        for (int r = 0; r < R; r++) {
            tail16(W + (size_t)r * k + j, f16, 16, t);
            for (int l = 0; l < 16; l++)
                acc[r][l] = VM_FMAF(t[l], x[j + l], acc[r][l]);
        }
    for (int r = 0; r < R; r++) {
        float s = 0.0f;
        for (int l = 0; l < 16; l++)
            s += acc[r][l];
        if (j < k) {
            tail16(W + (size_t)r * k + j, f16, k - j, t);
            for (int l = 0; l < k - j; l++)
                s = VM_FMAF(t[l], x[j + l], s);
        }
        y[r] = s;
    }
}

/* Rows [lo, hi) of a 16-bit W: groups of four, then single rows. */
static void gemv16_range(const uint16_t *W, int f16, const float *x, float *y, int k, int lo,
                         int hi)
{
    int i = lo;
#if LOWP_GEMV_ISA
    if (f16 ? LOWP_VECTOR_F16 : 1) {
        /* Four specialisations: f16 and R constant at each call. */
        if (f16) {
            for (; i + 4 <= hi; i += 4)
                gemv16_rows(W + (size_t)i * k, 1, x, y + i, 4, k);
            for (; i < hi; i++)
                gemv16_rows(W + (size_t)i * k, 1, x, y + i, 1, k);
        } else {
            for (; i + 4 <= hi; i += 4)
                gemv16_rows(W + (size_t)i * k, 0, x, y + i, 4, k);
            for (; i < hi; i++)
                gemv16_rows(W + (size_t)i * k, 0, x, y + i, 1, k);
        }
        return;
    }
#endif
    for (; i + 4 <= hi; i += 4)
        gemv16_rows_portable(W + (size_t)i * k, f16, x, y + i, 4, k);
    for (; i < hi; i++)
        gemv16_rows_portable(W + (size_t)i * k, f16, x, y + i, 1, k);
}

/* A block-type GEMV: x quantised into this worker's stack, then quant.h's
 * native rows. */
static void gemv_block_part(const void *W, op_wtype t, const float *x, float *y, int m, int k,
                            int worker, int n_workers)
{
    op_qtype q = (op_qtype)op_wtype_qtype(t);
    if (k > OP_W_QMAX_K) {
        int lo, hi;
        op_gemv_rows(m, worker, n_workers, &lo, &hi);
        gemv_exact_rows(W, t, x, y, k, lo, hi);
        return;
    }
    _Alignas(64) char xq[OP_W_QMAX_K / 32 * 48];
    op_gemv_q_prepare(q, x, k, xq);
    op_gemv_q_part_prepared(q, W, xq, y, m, k, worker, n_workers);
}

void op_gemv_w_part(const void *W, op_wtype t, const float *x, float *y, int m, int k,
                    int worker, int n_workers)
{
    if (is_block(t)) {
        gemv_block_part(W, t, x, y, m, k, worker, n_workers);
        return;
    }
    if (t != OP_W_BF16 && t != OP_W_F16) {
        op_gemv_part(W, x, y, m, k, worker, n_workers);
        return;
    }
    int lo, hi;
    op_gemv_rows(m, worker, n_workers, &lo, &hi);
    gemv16_range(W, t == OP_W_F16, x, y, k, lo, hi);
}
