/* operators/int8.c — int8 quantisation, GEMV and GEMM (see int8.h).
 *
 * GEMV streams W once against the quantised x (VNNI: one row at a time with
 * the next one prefetched; AVX2 and portable: four rows at a time).  GEMM
 * reads B from a layout packed once (op_gemm_int8_pack: NR-column panels over
 * the whole of k in groups of 4 consecutive k, one 32-bit lane holding the 4
 * bytes a dot-product instruction sums, and the column sums); per worker it
 * packs a block of MC rows of A into MR-row panels the same way, then a
 * register-tiled micro-kernel accumulates an (MR, NR) int32 tile over the
 * whole of k and scales it into C:
 *
 *   for ic (MC rows)    pack A[ic..] panels (VNNI: XOR 0x80, i.e. a + 128 as unsigned)
 *     for jr (NR)       the B panel (kp x NR bytes) stays in L2 while
 *       for ir (MR)     tile = sum_q a4[r] . b4[c]; C = (float)(tile - corr) * (s_a s_b)
 *
 * B is read from memory once per MC rows of A (MC is a few hundred rows at
 * k = 4096, so about one byte per hundred multiply-adds).
 * Integer sums are exact, so the order does not matter: every path equals the
 * references bit for bit (the VNNI lanes may wrap in between, but wrapping
 * arithmetic is exact modulo 2^32 and the true sum fits in int32).
 *
 * Never: allocate (scratch comes from the caller), do I/O, write outside the
 * worker's rows. */
#include "operators/int8.h"

#include <math.h>
#include <string.h>

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
#define INT8_VNNI 1
#define INT8_ISA "avx512vnni"
#define I8_MR 12 /* rows of a tile: one 4-byte broadcast each */
#define I8_NR 32 /* columns of a tile: two zmm of 16 int32 lanes */
#elif defined(__AVX2__)
#define INT8_AVX2 1
#define INT8_ISA "avx2"
#define I8_MR 4
#define I8_NR 16 /* two ymm of 8 int32 lanes */
#else
#define INT8_ISA "portable"
#define I8_MR 4
#define I8_NR 16
#endif

/* Bytes of the packed A block a worker keeps in L2 beside one B panel
 * (I8_NR x k bytes: 128 KiB at k = 4096); both stay well inside a 1 MiB L2. */
#define I8_BLOCK_BYTES (256 * 1024)

#if defined(__GNUC__)
#define I8_INLINE static inline __attribute__((always_inline))
#else
#define I8_INLINE static inline
#endif

const char *op_int8_isa(void) { return INT8_ISA; }

static int imin(int a, int b) { return a < b ? a : b; }
static int imax(int a, int b) { return a > b ? a : b; }

/* Rows [lo, hi) of worker among n_workers, in whole blocks of `block` rows. */
static void split_rows(int m, int block, int worker, int n_workers, int *lo, int *hi)
{
    int blocks = (m + block - 1) / block;
    int b0 = (int)((int64_t)blocks * worker / n_workers);
    int b1 = (int)((int64_t)blocks * (worker + 1) / n_workers);
    *lo = imin(b0 * block, m);
    *hi = imin(b1 * block, m);
}

/* acc - 128 * sum as int32, without signed overflow in C (exact modulo 2^32). */
static int32_t minus_offset(int32_t acc, int32_t sum)
{
    return (int32_t)((uint32_t)acc - 128u * (uint32_t)sum);
}

/* ---- quantisation ------------------------------------------------------------------------- */

static float absmax_ref(const float *x, int k)
{
    float a = 0.0f;
    for (int p = 0; p < k; p++)
        a = fmaxf(a, fabsf(x[p]));
    return a;
}

/* One value: x * inv rounded to nearest even, clamped to [-127, 127]. */
static int8_t quant1(float x, float inv)
{
    long q = lrintf(x * inv);
    return (int8_t)(q > 127 ? 127 : q < -127 ? -127 : q);
}

void op_quantize_rows_int8_ref(const float *X, int8_t *Q, float *scales, int m, int k)
{
    for (int i = 0; i < m; i++) {
        const float *x = X + (size_t)i * k;
        int8_t *q = Q + (size_t)i * k;
        float amax = absmax_ref(x, k);
        if (amax == 0.0f) {
            scales[i] = 0.0f;
            memset(q, 0, (size_t)k);
            continue;
        }
        float inv = 127.0f / amax;
        scales[i] = amax / 127.0f;
        for (int p = 0; p < k; p++)
            q[p] = quant1(x[p], inv);
    }
}

#if defined(__AVX512F__)

/* One row, vectorised: the same max, the same products and the same
 * round-to-nearest-even conversion (MXCSR default) as the reference. */
static void quantize_row(const float *x, int8_t *q, float *scale, int k)
{
    __m512 vmax = _mm512_setzero_ps();
    int p = 0;
    for (; p + 16 <= k; p += 16)
        vmax = _mm512_max_ps(vmax, _mm512_abs_ps(_mm512_loadu_ps(x + p)));
    if (p < k)
        vmax = _mm512_max_ps(vmax, _mm512_abs_ps(_mm512_maskz_loadu_ps(
                                       (__mmask16)((1u << (k - p)) - 1), x + p)));
    float amax = _mm512_reduce_max_ps(vmax);
    if (amax == 0.0f) {
        *scale = 0.0f;
        memset(q, 0, (size_t)k);
        return;
    }
    float inv = 127.0f / amax;
    *scale = amax / 127.0f;
    const __m512 vinv = _mm512_set1_ps(inv);
    const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
    for (p = 0; p < k; p += 16) {
        __mmask16 mk = k - p >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (k - p)) - 1);
        __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(mk, x + p), vinv));
        v = _mm512_min_epi32(_mm512_max_epi32(v, lo), hi);
        _mm512_mask_cvtepi32_storeu_epi8(q + p, mk, v);
    }
}

void op_quantize_rows_int8(const float *X, int8_t *Q, float *scales, int m, int k)
{
    for (int i = 0; i < m; i++)
        quantize_row(X + (size_t)i * k, Q + (size_t)i * k, scales + i, k);
}

#else

/* Without AVX-512 the reference is the fast version (quantisation is O(m k)
 * beside the O(m n k) products it feeds). */
void op_quantize_rows_int8(const float *X, int8_t *Q, float *scales, int m, int k)
{
    op_quantize_rows_int8_ref(X, Q, scales, m, k);
}

#endif

void op_dequantize_rows_int8(const int8_t *Q, const float *scales, float *X, int m, int k)
{
    for (int i = 0; i < m; i++)
        for (int p = 0; p < k; p++)
            X[(size_t)i * k + p] = (float)Q[(size_t)i * k + p] * scales[i];
}

/* ---- references ---------------------------------------------------------------------------- */

static int64_t dot_ref(const int8_t *a, const int8_t *b, int k)
{
    int64_t s = 0;
    for (int p = 0; p < k; p++)
        s += (int64_t)a[p] * b[p];
    return s;
}

void op_gemv_int8_ref(const int8_t *W, const float *s_w, const int8_t *x, float s_x, float *y,
                      int m, int k)
{
    for (int i = 0; i < m; i++)
        y[i] = (float)dot_ref(W + (size_t)i * k, x, k) * (s_w[i] * s_x);
}

void op_gemm_int8_ref(const int8_t *A, const float *s_a, const int8_t *Bt, const float *s_b,
                      float *C, int m, int n, int k)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
            C[(size_t)i * n + j] =
                (float)dot_ref(A + (size_t)i * k, Bt + (size_t)j * k, k) * (s_a[i] * s_b[j]);
}

/* ---- GEMV ------------------------------------------------------------------------------------ */

void op_gemv_int8_rows(int m, int worker, int n_workers, int *lo, int *hi)
{
    split_rows(m, 4, worker, n_workers, lo, hi);
}

/* gemv8_rows(W, x, acc, R, k, end): acc[r] = the dot product of row r (R = 4
 * or 1 rows of stride k) with x, in the form the ISA's finish step expects
 * (VNNI: offset by 128 sum(x), see op_gemv_int8_part); end: the end of the
 * worker's rows, which prefetching does not pass. */
#if defined(INT8_VNNI)

/* Sum of the 16 lanes, wrapping (the VNNI lanes may wrap before the offset
 * correction; _mm512_reduce_add_epi32 would add them as signed C ints). */
static inline int32_t hsum512_epi32(__m512i v)
{
    __m256i h = _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

/* One row at a time (a single linear stream through W, which the prefetchers
 * follow best), two accumulators, and a software prefetch of the same stretch
 * of the next row (k bytes ahead), so two rows are in flight: measured 10-15%
 * more bandwidth than four interleaved rows at d = 8192 and 16384. */
I8_INLINE int32_t gemv8_row(const int8_t *w, const int8_t *next, const int8_t *x, int k)
{
    const __m512i off = _mm512_set1_epi8((char)0x80);
    __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
    int j = 0;
    for (; j + 128 <= k; j += 128) {
        _mm_prefetch((const char *)(next + j), _MM_HINT_T0);
        _mm_prefetch((const char *)(next + j + 64), _MM_HINT_T0);
        __m512i w0 = _mm512_xor_si512(_mm512_loadu_si512(w + j), off);
        __m512i w1 = _mm512_xor_si512(_mm512_loadu_si512(w + j + 64), off);
        s0 = _mm512_dpbusd_epi32(s0, w0, _mm512_loadu_si512(x + j));
        s1 = _mm512_dpbusd_epi32(s1, w1, _mm512_loadu_si512(x + j + 64));
    }
    for (; j < k; j += 64) { /* masked tail: W lanes read as 0 become 128, times x lanes read as 0 */
        __mmask64 mk = k - j >= 64 ? ~(__mmask64)0 : ~(__mmask64)0 >> (64 - (k - j));
        __m512i wv = _mm512_xor_si512(_mm512_maskz_loadu_epi8(mk, w + j), off);
        s0 = _mm512_dpbusd_epi32(s0, wv, _mm512_maskz_loadu_epi8(mk, x + j));
    }
    return hsum512_epi32(_mm512_add_epi32(s0, s1));
}

/* The 4-row interface of the other ISAs, one row after another. */
I8_INLINE void gemv8_rows(const int8_t *W, const int8_t *x, int32_t *acc, int R, int k,
                          const int8_t *end)
{
    for (int r = 0; r < R; r++) {
        const int8_t *w = W + (size_t)r * k, *next = w + k < end ? w + k : w;
        acc[r] = gemv8_row(w, next, x, k);
    }
}

#elif defined(INT8_AVX2)

static int32_t hsum256_epi32(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

I8_INLINE void gemv8_rows(const int8_t *W, const int8_t *x, int32_t *acc, int R, int k,
                          const int8_t *end)
{
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i s[4];
    for (int r = 0; r < 4; r++)
        s[r] = _mm256_setzero_si256();
    int j = 0;
    for (; j + 32 <= k; j += 32) {
        __m256i xv = _mm256_loadu_si256((const __m256i *)(x + j));
        __m256i ax = _mm256_abs_epi8(xv);
        for (int r = 0; r < R; r++) {
            __m256i wv = _mm256_loadu_si256((const __m256i *)(W + (size_t)r * k + j));
            __m256i p = _mm256_maddubs_epi16(ax, _mm256_sign_epi8(wv, xv));
            s[r] = _mm256_add_epi32(s[r], _mm256_madd_epi16(p, ones));
        }
    }
    for (int r = 0; r < R; r++) {
        int32_t t = hsum256_epi32(s[r]);
        for (int p = j; p < k; p++)
            t += (int32_t)W[(size_t)r * k + p] * x[p];
        acc[r] = t;
    }
}

#else

I8_INLINE void gemv8_rows(const int8_t *W, const int8_t *x, int32_t *acc, int R, int k,
                          const int8_t *end)
{
    for (int r = 0; r < R; r++) {
        int32_t t = 0;
        for (int p = 0; p < k; p++)
            t += (int32_t)W[(size_t)r * k + p] * x[p];
        acc[r] = t;
    }
}

#endif

void op_gemv_int8_part(const int8_t *W, const float *s_w, const int8_t *x, float s_x, float *y,
                       int m, int k, int worker, int n_workers)
{
    int lo, hi;
    op_gemv_int8_rows(m, worker, n_workers, &lo, &hi);
    int32_t xsum = 0; /* the VNNI offset's correction: 128 sum(x) per row */
#if defined(INT8_VNNI)
    for (int p = 0; p < k; p++)
        xsum += x[p];
#endif
    const int8_t *end = W + (size_t)hi * k; /* prefetch no further than the worker's rows */
    int32_t acc[4];
    int i = lo;
    for (; i + 4 <= hi; i += 4) {
        gemv8_rows(W + (size_t)i * k, x, acc, 4, k, end);
        for (int r = 0; r < 4; r++)
            y[i + r] = (float)minus_offset(acc[r], xsum) * (s_w[i + r] * s_x);
    }
    for (; i < hi; i++) {
        gemv8_rows(W + (size_t)i * k, x, acc, 1, k, end);
        y[i] = (float)minus_offset(acc[0], xsum) * (s_w[i] * s_x);
    }
}

/* ---- GEMM: blocking and packing ------------------------------------------------------------- */

void op_gemm_int8_rows(int m, int worker, int n_workers, int *lo, int *hi)
{
    split_rows(m, I8_MR, worker, n_workers, lo, hi);
}

/* k padded to whole groups of 4. */
static size_t k_padded(int k) { return ((size_t)k + 3) / 4 * 4; }

/* Columns padded to whole panels. */
static size_t n_padded(int n) { return ((size_t)n + I8_NR - 1) / I8_NR * I8_NR; }

/* Rows of A packed at once: as many whole panels as fit in I8_BLOCK_BYTES, at
 * least one, at most what the matrix has. */
static int block_rows(int m, int k)
{
    int fit = (int)(I8_BLOCK_BYTES / k_padded(k)) / I8_MR * I8_MR;
    return imin(imax(fit, I8_MR), (m + I8_MR - 1) / I8_MR * I8_MR);
}

/* One worker's region (its packed A block), rounded to whole cache lines. */
static size_t region_bytes(int m, int k)
{
    return ((size_t)block_rows(m, k) * k_padded(k) + 63) / 64 * 64;
}

size_t op_gemm_int8_scratch_bytes(int m, int n, int k, int n_workers)
{
    if (m <= 0 || n <= 0 || k <= 0 || n_workers <= 0)
        return 0;
    return (size_t)n_workers * region_bytes(m, k) + 64;
}

size_t op_gemm_int8_packed_bytes(int n, int k)
{
    if (n <= 0 || k <= 0)
        return 0;
    return n_padded(n) * k_padded(k) + n_padded(n) * sizeof(int32_t);
}

/* Group p..p+3 of a row of length k (bytes past k read as 0) as one word. */
static uint32_t group4(const int8_t *row, size_t p, int k)
{
    uint32_t v = 0;
    if ((int)p + 4 <= k) {
        memcpy(&v, row + p, 4);
        return v;
    }
    uint8_t b[4] = {0, 0, 0, 0};
    for (int t = 0; (int)p + t < k && t < 4; t++)
        b[t] = (uint8_t)row[p + t];
    memcpy(&v, b, 4);
    return v;
}

void op_gemm_int8_pack(const int8_t *Bt, int n, int k, void *packed)
{
    if (n <= 0 || k <= 0)
        return;
    size_t kp = k_padded(k), np = n_padded(n);
    uint8_t *out = packed;
    int32_t colsum[I8_NR];
    for (size_t j0 = 0; j0 < np; j0 += I8_NR) {
        uint8_t *panel = out + j0 * kp; /* (kp / 4, I8_NR, 4) */
        for (int c = 0; c < I8_NR; c++) {
            size_t j = j0 + (size_t)c;
            int32_t sum = 0;
            if (j < (size_t)n) {
                const int8_t *row = Bt + j * k;
                for (int p = 0; p < k; p++)
                    sum += row[p];
                for (size_t p = 0; p < kp; p += 4) {
                    uint32_t v = group4(row, p, k);
                    memcpy(panel + p * I8_NR + (size_t)c * 4, &v, 4);
                }
            } else {
                for (size_t p = 0; p < kp; p += 4)
                    memset(panel + p * I8_NR + (size_t)c * 4, 0, 4);
            }
            colsum[c] = sum;
        }
        memcpy(out + np * kp + j0 * sizeof(int32_t), colsum, sizeof colsum);
    }
}

/* Packs h (<= I8_MR) rows of A (stride k) into one panel of (kp/4, I8_MR, 4)
 * bytes, each byte XORed with the flip in every byte of `flip4` (0x80 for the
 * VNNI offset); the k tail and missing rows hold zeros before the flip (they
 * meet zero columns of B, or are never stored). */
static void pack_a(const int8_t *A, int k, int h, uint32_t flip4, uint8_t *restrict out)
{
    size_t kp = k_padded(k);
    for (int r = 0; r < I8_MR; r++) {
        const int8_t *row = A + (size_t)r * k;
        uint8_t *dst = out + (size_t)r * 4;
        for (size_t p = 0; p < kp; p += 4) {
            uint32_t v = (r < h ? group4(row, p, k) : 0) ^ flip4;
            memcpy(dst + p * I8_MR, &v, 4);
        }
    }
}

/* ---- GEMM: micro-kernels ---------------------------------------------------------------------- */

/* The C tile (h <= I8_MR rows, w <= I8_NR columns, stride ldc) of the packed
 * panels a (kq groups) and b, scaled by s_a[r] s_b[c]. */
#if defined(INT8_VNNI)

static const uint32_t PACK_FLIP4 = 0x80808080u;

static void tile(int kq, const uint8_t *restrict a, const int8_t *restrict b,
                 const int32_t *colsum, const float *s_a, const float *s_b, float *c, size_t ldc,
                 int h, int w)
{
    __m512i c0[I8_MR], c1[I8_MR];
    for (int r = 0; r < I8_MR; r++)
        c0[r] = c1[r] = _mm512_setzero_si512();
    for (int q = 0; q < kq; q++) {
        const __m512i b0 = _mm512_loadu_si512(b), b1 = _mm512_loadu_si512(b + 64);
        for (int r = 0; r < I8_MR; r++) {
            int32_t a4;
            memcpy(&a4, a + 4 * r, 4);
            const __m512i ar = _mm512_set1_epi32(a4);
            c0[r] = _mm512_dpbusd_epi32(c0[r], ar, b0);
            c1[r] = _mm512_dpbusd_epi32(c1[r], ar, b1);
        }
        a += 4 * I8_MR;
        b += 4 * I8_NR;
    }
    /* (a + 128) . b = a . b + 128 sum(b): take the column sums back off. */
    const __m512i k0 = _mm512_slli_epi32(_mm512_loadu_si512(colsum), 7);
    const __m512i k1 = _mm512_slli_epi32(_mm512_loadu_si512(colsum + 16), 7);
    const __mmask16 m0 = w >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << w) - 1);
    const __mmask16 m1 = w >= 32 ? (__mmask16)0xffff
                         : w > 16 ? (__mmask16)((1u << (w - 16)) - 1)
                                  : (__mmask16)0;
    const __m512 sb0 = _mm512_maskz_loadu_ps(m0, s_b), sb1 = _mm512_maskz_loadu_ps(m1, s_b + 16);
    for (int r = 0; r < I8_MR; r++) {
        if (r >= h)
            break;
        const __m512 sa = _mm512_set1_ps(s_a[r]);
        __m512 f0 = _mm512_cvtepi32_ps(_mm512_sub_epi32(c0[r], k0));
        __m512 f1 = _mm512_cvtepi32_ps(_mm512_sub_epi32(c1[r], k1));
        _mm512_mask_storeu_ps(c + (size_t)r * ldc, m0, _mm512_mul_ps(f0, _mm512_mul_ps(sa, sb0)));
        _mm512_mask_storeu_ps(c + (size_t)r * ldc + 16, m1,
                              _mm512_mul_ps(f1, _mm512_mul_ps(sa, sb1)));
    }
}

#else

static const uint32_t PACK_FLIP4 = 0;

/* t[r][c] = the int32 dot products of the tile. */
#if defined(INT8_AVX2)

static void tile_acc(int kq, const uint8_t *restrict a, const int8_t *restrict b,
                     int32_t t[I8_MR][I8_NR])
{
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i c0[I8_MR], c1[I8_MR];
    for (int r = 0; r < I8_MR; r++)
        c0[r] = c1[r] = _mm256_setzero_si256();
    for (int q = 0; q < kq; q++) {
        const __m256i b0 = _mm256_loadu_si256((const __m256i *)b);
        const __m256i b1 = _mm256_loadu_si256((const __m256i *)(b + 32));
        for (int r = 0; r < I8_MR; r++) {
            int32_t a4;
            memcpy(&a4, a + 4 * r, 4);
            const __m256i ar = _mm256_set1_epi32(a4), aa = _mm256_abs_epi8(ar);
            __m256i p0 = _mm256_maddubs_epi16(aa, _mm256_sign_epi8(b0, ar));
            __m256i p1 = _mm256_maddubs_epi16(aa, _mm256_sign_epi8(b1, ar));
            c0[r] = _mm256_add_epi32(c0[r], _mm256_madd_epi16(p0, ones));
            c1[r] = _mm256_add_epi32(c1[r], _mm256_madd_epi16(p1, ones));
        }
        a += 4 * I8_MR;
        b += 4 * I8_NR;
    }
    for (int r = 0; r < I8_MR; r++) {
        _mm256_storeu_si256((__m256i *)t[r], c0[r]);
        _mm256_storeu_si256((__m256i *)(t[r] + 8), c1[r]);
    }
}

#else

static void tile_acc(int kq, const uint8_t *restrict a, const int8_t *restrict b,
                     int32_t t[I8_MR][I8_NR])
{
    memset(t, 0, sizeof(int32_t) * I8_MR * I8_NR);
    for (int q = 0; q < kq; q++, a += 4 * I8_MR, b += 4 * I8_NR)
        for (int r = 0; r < I8_MR; r++)
            for (int c = 0; c < I8_NR; c++)
                for (int s = 0; s < 4; s++)
                    t[r][c] += (int32_t)(int8_t)a[4 * r + s] * b[4 * c + s];
}

#endif

static void tile(int kq, const uint8_t *restrict a, const int8_t *restrict b,
                 const int32_t *colsum, const float *s_a, const float *s_b, float *c, size_t ldc,
                 int h, int w)
{
    int32_t t[I8_MR][I8_NR];
    tile_acc(kq, a, b, t);
    for (int r = 0; r < h; r++)
        for (int j = 0; j < w; j++)
            c[(size_t)r * ldc + j] = (float)t[r][j] * (s_a[r] * s_b[j]);
}

#endif

/* ---- GEMM: the loop nest ---------------------------------------------------------------------- */

void op_gemm_int8_part(const int8_t *A, const float *s_a, const void *packed, const float *s_b,
                       float *C, int m, int n, int k, void *scratch, int worker, int n_workers)
{
    int lo, hi;
    op_gemm_int8_rows(m, worker, n_workers, &lo, &hi);
    if (lo >= hi || n <= 0)
        return;
    if (k <= 0) { /* empty sums: the reference's 0 x scales */
        for (int i = lo; i < hi; i++)
            for (int j = 0; j < n; j++)
                C[(size_t)i * n + j] = 0.0f * (s_a[i] * s_b[j]);
        return;
    }
    size_t kp = k_padded(k);
    int kq = (int)(kp / 4), MC = block_rows(m, k);
    const int8_t *bp = packed;
    const int32_t *colsum = (const int32_t *)(const void *)(bp + n_padded(n) * kp);
    uintptr_t base = ((uintptr_t)scratch + 63) & ~(uintptr_t)63;
    uint8_t *ap = (uint8_t *)base + (size_t)worker * region_bytes(m, k);

    for (int ic = lo; ic < hi; ic += MC) {
        int mc = imin(MC, hi - ic);
        for (int ir = 0; ir < mc; ir += I8_MR)
            pack_a(A + (size_t)(ic + ir) * k, k, imin(I8_MR, mc - ir), PACK_FLIP4,
                   ap + (size_t)ir * kp);
        for (int jr = 0; jr < n; jr += I8_NR)
            for (int ir = 0; ir < mc; ir += I8_MR)
                tile(kq, ap + (size_t)ir * kp, bp + (size_t)jr * kp, colsum + jr, s_a + ic + ir,
                     s_b + jr, C + (size_t)(ic + ir) * n + jr, (size_t)n, imin(I8_MR, mc - ir),
                     imin(I8_NR, n - jr));
    }
}

/* ---- cost model -------------------------------------------------------------------------------- */

double op_gemv_int8_flops(int m, int k) { return 2.0 * m * k; }
double op_gemv_int8_bytes(int m, int k) { return (double)m * k + 4.0 * m + 4.0 * k + 4.0 * m; }
double op_gemm_int8_flops(int m, int n, int k) { return 2.0 * m * n * (double)k; }
double op_gemm_int8_bytes(int m, int n, int k)
{
    return (double)n * k + 4.0 * n + 4.0 * (double)m * k + 4.0 * (double)m * n;
}
