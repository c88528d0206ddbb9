/* operators/quant.c — ggml's quantised block types (see quant.h): layout
 * table, dequantisers (one per block type, each written from the layout's
 * formula), the reference quantisers, and the GEMV with quantised weights
 * (native integer dot products, and dequantise-then-fp32).
 *
 * The native GEMV computes each output row by one function whatever the row
 * split, so its results do not depend on the worker count; x is quantised by
 * prepare_x, the one scalar routine every path uses.
 *
 * Never: allocate, do I/O, start threads, or read outside the arguments
 * (kernels are leaves). */
#include "operators/quant.h"
#include "operators/gemm.h"
#include "operators/lowp.h"

#include <math.h>
#include <string.h>

#if defined(__AVX2__) || defined(__AVX512F__) || defined(__F16C__)
#include <immintrin.h>
#endif

#if defined(__GNUC__)
#define Q_INLINE static inline __attribute__((always_inline))
#else
#define Q_INLINE static inline
#endif

#define QK 32   /* elements of a Q4_0 .. Q8_0 block */
#define QKK 256 /* elements of a K-quant super-block */

/* ---- layout ---------------------------------------------------------------------------- */

typedef struct qinfo {
    op_qtype t;
    const char *name;
    int elems;
    size_t bytes;
} qinfo;

static const qinfo q_table[] = {
    {OP_Q_F32, "f32", 1, 4},        {OP_Q_F16, "f16", 1, 2},        {OP_Q_Q4_0, "q4_0", QK, 18},
    {OP_Q_Q4_1, "q4_1", QK, 20},    {OP_Q_Q5_0, "q5_0", QK, 22},    {OP_Q_Q5_1, "q5_1", QK, 24},
    {OP_Q_Q8_0, "q8_0", QK, 34},    {OP_Q_Q2_K, "q2_k", QKK, 84},   {OP_Q_Q3_K, "q3_k", QKK, 110},
    {OP_Q_Q4_K, "q4_k", QKK, 144},  {OP_Q_Q5_K, "q5_k", QKK, 176},  {OP_Q_Q6_K, "q6_k", QKK, 210},
    {OP_Q_Q8_K, "q8_k", QKK, 292},  {OP_Q_BF16, "bf16", 1, 2},
};

static const qinfo *q_info(int t)
{
    for (size_t i = 0; i < sizeof q_table / sizeof q_table[0]; i++)
        if ((int)q_table[i].t == t)
            return &q_table[i];
    return NULL;
}

int op_qtype_known(int t) { return q_info(t) != NULL; }

const char *op_qtype_name(op_qtype t)
{
    const qinfo *q = q_info((int)t);
    return q ? q->name : "?";
}

int op_qtype_block_elems(op_qtype t)
{
    const qinfo *q = q_info((int)t);
    return q ? q->elems : 0;
}

size_t op_qtype_block_bytes(op_qtype t)
{
    const qinfo *q = q_info((int)t);
    return q ? q->bytes : 0;
}

size_t op_qtype_row_bytes(op_qtype t, int64_t k)
{
    const qinfo *q = q_info((int)t);
    if (!q || k < 0 || k % q->elems != 0)
        return 0;
    return (size_t)(k / q->elems) * q->bytes;
}

/* ---- little helpers -------------------------------------------------------------------- */

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* The f16 at p as fp32 (F16C when compiled in; exact either way). */
Q_INLINE float f16_at(const uint8_t *p)
{
#if defined(__F16C__)
    return _cvtsh_ss(rd16(p));
#else
    return op_f16_to_f32(rd16(p));
#endif
}

/* ---- dequantisers: one block of src into y ------------------------------------------- */

/* Q8_0: d, qs[32]; y = q d. */
static void deq_q8_0(const uint8_t *b, float *y)
{
    float d = f16_at(b);
    const int8_t *q = (const int8_t *)(b + 2);
    for (int j = 0; j < QK; j++)
        y[j] = (float)q[j] * d;
}

#if !defined(__AVX512F__) /* else deq_q4_x_avx512 */
/* Q4_0: d, qs[16]; element j is the low nibble of qs[j], j + 16 the high one. */
static void deq_q4_0(const uint8_t *b, float *y)
{
    float d = f16_at(b);
    const uint8_t *q = b + 2;
    for (int j = 0; j < QK / 2; j++) {
        y[j] = (float)((q[j] & 0x0f) - 8) * d;
        y[j + QK / 2] = (float)((q[j] >> 4) - 8) * d;
    }
}

/* Q4_1: d, m, qs[16]; y = q d + m. */
static void deq_q4_1(const uint8_t *b, float *y)
{
    float d = f16_at(b), m = f16_at(b + 2);
    const uint8_t *q = b + 4;
    for (int j = 0; j < QK / 2; j++) {
        y[j] = (float)(q[j] & 0x0f) * d + m;
        y[j + QK / 2] = (float)(q[j] >> 4) * d + m;
    }
}
#endif

/* The 5-bit quants of a Q5_x block: nibbles as Q4_x, fifth bit of element e
 * is bit e of the little-endian u32 qh. */
static void q5_quants(const uint8_t *qh4, const uint8_t *qs, int *q)
{
    uint32_t qh = rd32(qh4);
    for (int j = 0; j < QK / 2; j++) {
        q[j] = (qs[j] & 0x0f) | (int)(((qh >> j) & 1u) << 4);
        q[j + QK / 2] = (qs[j] >> 4) | (int)(((qh >> (j + QK / 2)) & 1u) << 4);
    }
}

/* Q5_0: d, qh[4], qs[16]; y = (q - 16) d. */
static void deq_q5_0(const uint8_t *b, float *y)
{
    float d = f16_at(b);
    int q[QK];
    q5_quants(b + 2, b + 6, q);
    for (int j = 0; j < QK; j++)
        y[j] = (float)(q[j] - 16) * d;
}

/* Q5_1: d, m, qh[4], qs[16]; y = q d + m. */
static void deq_q5_1(const uint8_t *b, float *y)
{
    float d = f16_at(b), m = f16_at(b + 2);
    int q[QK];
    q5_quants(b + 4, b + 8, q);
    for (int j = 0; j < QK; j++)
        y[j] = (float)q[j] * d + m;
}

/* Q2_K: scales[16] (low nibble scale, high nibble min of each 16 elements),
 * qs[64], d, dmin.  Each half of 128 elements uses 32 bytes of qs: 2-bit
 * field s (shift 2 s) of byte l gives element 32 s + l; the 16-element groups
 * take scales in order. */
static void deq_q2_k(const uint8_t *b, float *y)
{
    const uint8_t *sc = b, *qs = b + 16;
    float d = f16_at(b + 80), dmin = f16_at(b + 82);
    int is = 0;
    for (int half = 0; half < 2; half++, qs += 32)
        for (int shift = 0; shift < 8; shift += 2)
            for (int g = 0; g < 2; g++, is++) {
                float dl = d * (float)(sc[is] & 0x0f), ml = dmin * (float)(sc[is] >> 4);
                for (int l = 0; l < 16; l++)
                    *y++ = dl * (float)((qs[16 * g + l] >> shift) & 3) - ml;
            }
}

/* Q3_K's 16 scales: 6-bit values packed in 12 bytes (low nibbles of bytes
 * 0..7 for scales 0..7, high nibbles for 8..15; the top 2 bits from bytes
 * 8..11), stored with +32 offset. */
static void q3_k_scales(const uint8_t *p, int *s)
{
    for (int i = 0; i < 16; i++) {
        int low = i < 8 ? (p[i] & 0x0f) : (p[i - 8] >> 4);
        int high = (p[8 + (i & 3)] >> (2 * (i >> 2))) & 3;
        s[i] = (low | (high << 4)) - 32;
    }
}

/* Q3_K: hmask[32], qs[64], scales[12], d.  As Q2_K's 2-bit layout; the
 * third bit of element 32 s' + l (s' = 0..7 over both halves) is bit s' of
 * hmask[l]; a clear bit subtracts 4.  y = d scale (q - 4 [bit clear]). */
static void deq_q3_k(const uint8_t *b, float *y)
{
    const uint8_t *hm = b, *qs = b + 32;
    float d = f16_at(b + 108);
    int s[16], is = 0, bit = 0;
    q3_k_scales(b + 96, s);
    for (int half = 0; half < 2; half++, qs += 32)
        for (int shift = 0; shift < 8; shift += 2, bit++)
            for (int g = 0; g < 2; g++, is++) {
                float dl = d * (float)s[is];
                for (int l = 0; l < 16; l++) {
                    int q = (qs[16 * g + l] >> shift) & 3;
                    q -= (hm[16 * g + l] >> bit) & 1 ? 0 : 4;
                    *y++ = dl * (float)q;
                }
            }
}

/* The 6-bit scale and min of sub-block j (0..7) of Q4_K / Q5_K, packed in 12
 * bytes as ggml's get_scale_min_k4: j < 4 in the low 6 bits of bytes j and
 * j + 4; j >= 4 in the nibbles of byte j + 4 with the top 2 bits in the high
 * bits of bytes j - 4 (scale) and j (min). */
static void k4_scale_min(int j, const uint8_t *p, int *sc, int *mn)
{
    if (j < 4) {
        *sc = p[j] & 63;
        *mn = p[j + 4] & 63;
    } else {
        *sc = (p[j + 4] & 0x0f) | ((p[j - 4] >> 6) << 4);
        *mn = (p[j + 4] >> 4) | ((p[j] >> 6) << 4);
    }
}

/* Q4_K: d, dmin, scales[12], qs[128].  Each 64 elements use 32 bytes: low
 * nibbles (sub-block 2 g), then high nibbles (2 g + 1); y = d sc q - dmin mn. */
static void deq_q4_k(const uint8_t *b, float *y)
{
    float d = f16_at(b), dmin = f16_at(b + 2);
    const uint8_t *sc = b + 4, *qs = b + 16;
    for (int g = 0; g < 4; g++, qs += 32)
        for (int h = 0; h < 2; h++) {
            int s, mn;
            k4_scale_min(2 * g + h, sc, &s, &mn);
            float dl = d * (float)s, ml = dmin * (float)mn;
            for (int l = 0; l < 32; l++)
                *y++ = dl * (float)((qs[l] >> (4 * h)) & 0x0f) - ml;
        }
}

/* Q5_K: d, dmin, scales[12], qh[32], qs[128].  As Q4_K; the fifth bit of
 * sub-block s's element l is bit s of qh[l]. */
static void deq_q5_k(const uint8_t *b, float *y)
{
    float d = f16_at(b), dmin = f16_at(b + 2);
    const uint8_t *sc = b + 4, *qh = b + 16, *qs = b + 48;
    for (int g = 0; g < 4; g++, qs += 32)
        for (int h = 0; h < 2; h++) {
            int s, mn, sub = 2 * g + h;
            k4_scale_min(sub, sc, &s, &mn);
            float dl = d * (float)s, ml = dmin * (float)mn;
            for (int l = 0; l < 32; l++) {
                int q = ((qs[l] >> (4 * h)) & 0x0f) | (((qh[l] >> sub) & 1) << 4);
                *y++ = dl * (float)q - ml;
            }
        }
}

/* Q6_K: ql[128], qh[64], scales[16] (int8), d.  Per half of 128 elements
 * (64 bytes of ql, 32 of qh, 8 scales): for l in 0..31, element 32 r + l
 * (r = 0..3) has low nibble from ql[l + 32 (r & 1)] (low for r < 2, high
 * for r >= 2) and 2 high bits (qh[l] >> 2 r) & 3; q - 32, scale
 * scales[l / 16 + 2 r]. */
static void deq_q6_k(const uint8_t *b, float *y)
{
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t *sc = (const int8_t *)(b + 192);
    float d = f16_at(b + 208);
    for (int half = 0; half < 2; half++, ql += 64, qh += 32, sc += 8, y += 128)
        for (int r = 0; r < 4; r++)
            for (int l = 0; l < 32; l++) {
                int lo = (ql[l + 32 * (r & 1)] >> (4 * (r >> 1))) & 0x0f;
                int q = (lo | (((qh[l] >> (2 * r)) & 3) << 4)) - 32;
                y[32 * r + l] = d * (float)sc[l / 16 + 2 * r] * (float)q;
            }
}

/* Q8_K: f32 d, qs[256], bsums[16] (unused here); y = q d. */
static void deq_q8_k(const uint8_t *b, float *y)
{
    float d;
    memcpy(&d, b, sizeof d);
    const int8_t *q = (const int8_t *)(b + 4);
    for (int j = 0; j < QKK; j++)
        y[j] = d * (float)q[j];
}

#if defined(__AVX512F__)
/* Vector versions of the hot 32-element dequantisers (same fp32 products). */
static void deq_q4_x_avx512(const uint8_t *q, float d, float m, float off, float *y)
{
    __m128i v = _mm_loadu_si128((const __m128i *)q), mask = _mm_set1_epi8(0x0f);
    __m128i lo = _mm_and_si128(v, mask), hi = _mm_and_si128(_mm_srli_epi16(v, 4), mask);
    __m512 vd = _mm512_set1_ps(d), vm = _mm512_set1_ps(m), vo = _mm512_set1_ps(off);
    __m512 a = _mm512_sub_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(lo)), vo);
    __m512 c = _mm512_sub_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(hi)), vo);
    _mm512_storeu_ps(y, _mm512_fmadd_ps(a, vd, vm));
    _mm512_storeu_ps(y + 16, _mm512_fmadd_ps(c, vd, vm));
}
#endif

/* dst = n blocks of a block type t at src. */
static void deq_blocks(op_qtype t, const uint8_t *src, float *dst, int64_t n)
{
    size_t bb = op_qtype_block_bytes(t);
    int be = op_qtype_block_elems(t);
    for (int64_t i = 0; i < n; i++, src += bb, dst += be) {
        switch (t) {
#if defined(__AVX512F__)
        case OP_Q_Q4_0: deq_q4_x_avx512(src + 2, f16_at(src), 0.0f, 8.0f, dst); break;
        case OP_Q_Q4_1: deq_q4_x_avx512(src + 4, f16_at(src), f16_at(src + 2), 0.0f, dst); break;
#else
        case OP_Q_Q4_0: deq_q4_0(src, dst); break;
        case OP_Q_Q4_1: deq_q4_1(src, dst); break;
#endif
        case OP_Q_Q5_0: deq_q5_0(src, dst); break;
        case OP_Q_Q5_1: deq_q5_1(src, dst); break;
        case OP_Q_Q8_0: deq_q8_0(src, dst); break;
        case OP_Q_Q2_K: deq_q2_k(src, dst); break;
        case OP_Q_Q3_K: deq_q3_k(src, dst); break;
        case OP_Q_Q4_K: deq_q4_k(src, dst); break;
        case OP_Q_Q5_K: deq_q5_k(src, dst); break;
        case OP_Q_Q6_K: deq_q6_k(src, dst); break;
        case OP_Q_Q8_K: deq_q8_k(src, dst); break;
        default: break; /* scalar types: handled by op_dequant_row */
        }
    }
}

/* The 16-bit float row types, any alignment. */
static void deq_half(op_qtype t, const uint8_t *src, float *dst, int64_t k)
{
    if (((uintptr_t)src & 1u) == 0) {
        op_w_to_f32(src, t == OP_Q_F16 ? OP_W_F16 : OP_W_BF16, dst, (size_t)k);
        return;
    }
    for (int64_t i = 0; i < k; i++) {
        uint16_t h = rd16(src + 2 * i);
        dst[i] = t == OP_Q_F16 ? op_f16_to_f32(h) : op_bf16_to_f32(h);
    }
}

int op_dequant_row(op_qtype t, const void *src, float *dst, int64_t k)
{
    if (op_qtype_row_bytes(t, k) == 0 && k != 0)
        return -1;
    if (!q_info((int)t))
        return -1;
    if (t == OP_Q_F32)
        memcpy(dst, src, (size_t)k * sizeof(float));
    else if (t == OP_Q_F16 || t == OP_Q_BF16)
        deq_half(t, src, dst, k);
    else
        deq_blocks(t, src, dst, k / op_qtype_block_elems(t));
    return 0;
}

/* ---- reference quantisers ---------------------------------------------------------------- */

/* Q8_0: d = amax / 127, q = round(x / d) (halves away from zero, as roundf). */
static void quant_q8_0(const float *x, uint8_t *b)
{
    float amax = 0.0f;
    for (int j = 0; j < QK; j++)
        amax = fmaxf(amax, fabsf(x[j]));
    float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    wr16(b, op_f32_to_f16(d));
    for (int j = 0; j < QK; j++)
        b[2 + j] = (uint8_t)(int8_t)roundf(x[j] * id);
}

/* The element of largest magnitude (the first one on ties), with its sign. */
static float signed_absmax(const float *x, int n)
{
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++)
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    return max;
}

/* min(top, trunc(v)) for v >= 0 (ggml's (int8_t) cast then MIN). */
static int clamp_trunc(float v, int top)
{
    int q = (int)v;
    return q < top ? (q < 0 ? 0 : q) : top;
}

/* Q4_0: d = max / -8 (max the signed largest-magnitude), q = min(15, x/d + 8.5). */
static void quant_q4_0(const float *x, uint8_t *b)
{
    float d = signed_absmax(x, QK) / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    wr16(b, op_f32_to_f16(d));
    for (int j = 0; j < QK / 2; j++) {
        int q0 = clamp_trunc(x[j] * id + 8.5f, 15), q1 = clamp_trunc(x[j + QK / 2] * id + 8.5f, 15);
        b[2 + j] = (uint8_t)(q0 | (q1 << 4));
    }
}

/* Q4_1 / Q5_1 scale and offset: d = (max - min) / levels, m = min. */
static void min_max(const float *x, float *mn, float *mx)
{
    *mn = *mx = x[0];
    for (int j = 1; j < QK; j++) {
        *mn = fminf(*mn, x[j]);
        *mx = fmaxf(*mx, x[j]);
    }
}

static void quant_q4_1(const float *x, uint8_t *b)
{
    float mn, mx;
    min_max(x, &mn, &mx);
    float d = (mx - mn) / 15.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    wr16(b, op_f32_to_f16(d));
    wr16(b + 2, op_f32_to_f16(mn));
    for (int j = 0; j < QK / 2; j++) {
        int q0 = clamp_trunc((x[j] - mn) * id + 0.5f, 15);
        int q1 = clamp_trunc((x[j + QK / 2] - mn) * id + 0.5f, 15);
        b[4 + j] = (uint8_t)(q0 | (q1 << 4));
    }
}

/* Packs 32 5-bit quants into qh (u32 little-endian) and qs. */
static void q5_pack(const int *q, uint8_t *qh4, uint8_t *qs)
{
    uint32_t qh = 0;
    for (int j = 0; j < QK / 2; j++) {
        qs[j] = (uint8_t)((q[j] & 0x0f) | ((q[j + QK / 2] & 0x0f) << 4));
        qh |= (uint32_t)((q[j] >> 4) & 1) << j;
        qh |= (uint32_t)((q[j + QK / 2] >> 4) & 1) << (j + QK / 2);
    }
    for (int i = 0; i < 4; i++)
        qh4[i] = (uint8_t)(qh >> (8 * i));
}

static void quant_q5_0(const float *x, uint8_t *b)
{
    float d = signed_absmax(x, QK) / -16.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    int q[QK];
    for (int j = 0; j < QK; j++)
        q[j] = clamp_trunc(x[j] * id + 16.5f, 31);
    wr16(b, op_f32_to_f16(d));
    q5_pack(q, b + 2, b + 6);
}

static void quant_q5_1(const float *x, uint8_t *b)
{
    float mn, mx;
    min_max(x, &mn, &mx);
    float d = (mx - mn) / 31.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    int q[QK];
    for (int j = 0; j < QK; j++)
        q[j] = clamp_trunc((x[j] - mn) * id + 0.5f, 31);
    wr16(b, op_f32_to_f16(d));
    wr16(b + 2, op_f32_to_f16(mn));
    q5_pack(q, b + 4, b + 8);
}

int op_quant_row_ref(op_qtype t, const float *src, void *dst, int64_t k)
{
    void (*fn)(const float *, uint8_t *) = NULL;
    switch (t) {
    case OP_Q_Q8_0: fn = quant_q8_0; break;
    case OP_Q_Q4_0: fn = quant_q4_0; break;
    case OP_Q_Q4_1: fn = quant_q4_1; break;
    case OP_Q_Q5_0: fn = quant_q5_0; break;
    case OP_Q_Q5_1: fn = quant_q5_1; break;
    case OP_Q_F32:
    case OP_Q_F16:
    case OP_Q_BF16: break;
    default: return -1;
    }
    if (k < 0 || (k != 0 && op_qtype_row_bytes(t, k) == 0))
        return -1;
    if (t == OP_Q_F32 || t == OP_Q_F16 || t == OP_Q_BF16) {
        op_f32_to_w(src, t == OP_Q_F32 ? OP_W_F32 : t == OP_Q_F16 ? OP_W_F16 : OP_W_BF16, dst,
                    (size_t)k);
        return 0;
    }
    uint8_t *b = dst;
    size_t bb = op_qtype_block_bytes(t);
    for (int64_t i = 0; i < k / QK; i++)
        fn(src + i * QK, b + (size_t)i * bb);
    return 0;
}

/* ---- GEMV: reference ----------------------------------------------------------------------- */

int op_gemv_q_ref(op_qtype t, const void *W, const float *x, float *y, int m, int k, float *tmp)
{
    size_t rb = op_qtype_row_bytes(t, k);
    if (!q_info((int)t) || m < 0 || k < 0 || (k > 0 && rb == 0))
        return -1;
    for (int i = 0; i < m; i++) {
        op_dequant_row(t, (const uint8_t *)W + (size_t)i * rb, tmp, k);
        double s = 0.0;
        for (int j = 0; j < k; j++)
            s += (double)tmp[j] * x[j];
        y[i] = (float)s;
    }
    return 0;
}

/* ---- GEMV: native ------------------------------------------------------------------------ */

/* The prepared x: nb = k / 32 blocks.
 *   float   dx[nb]   scale of block b
 *   float   sx[nb]   d_x x (sum of block b's quants): the block's x as the
 *                    quants represent it, for Q4_1's offset term (ggml's
 *                    block_q8_1 "s")
 *   int32_t sq[nb]   sum of block b's quants
 *   int8_t  q[k]     quants
 * then padding to a multiple of 64 bytes. */
typedef struct xq_view {
    const float *dx, *sx;
    const int32_t *sq;
    const int8_t *q;
} xq_view;

int op_gemv_q_native(op_qtype t) { return t == OP_Q_Q8_0 || t == OP_Q_Q4_0 || t == OP_Q_Q4_1; }

const char *op_gemv_q_isa(void)
{
#if defined(__AVX512VNNI__) && defined(__AVX512BW__) && defined(__AVX512VL__)
    return "avx512vnni";
#elif defined(__AVX512VNNI__) && defined(__AVX512VL__)
    return "avx2+vnni";
#elif defined(__AVX2__)
    return "avx2";
#else
    return "portable";
#endif
}

static int native_ok(op_qtype t, int64_t k)
{
    return op_gemv_q_native(t) && k >= 0 && k % QK == 0;
}

size_t op_gemv_q_scratch_bytes(op_qtype t, int64_t k)
{
    if (!native_ok(t, k))
        return 0;
    size_t nb = (size_t)k / QK, bytes = 12 * nb + (size_t)k;
    return (bytes + 63) / 64 * 64;
}

static xq_view xq_map(const void *xq, int k)
{
    size_t nb = (size_t)k / QK;
    const uint8_t *p = xq;
    return (xq_view){(const float *)p, (const float *)(p + 4 * nb), (const int32_t *)(p + 8 * nb),
                     (const int8_t *)(p + 12 * nb)};
}

/* Quantises x: per block d = amax / 127, q = nearest (ties to even) of x / d. */
static void prepare_x(const float *x, int k, void *xq)
{
    size_t nb = (size_t)k / QK;
    uint8_t *p = xq;
    float *dx = (float *)p, *sx = (float *)(p + 4 * nb);
    int32_t *sq = (int32_t *)(p + 8 * nb);
    int8_t *q = (int8_t *)(p + 12 * nb);
    for (size_t b = 0; b < nb; b++) {
        const float *xb = x + b * QK;
        float amax = 0.0f;
        for (int j = 0; j < QK; j++)
            amax = fmaxf(amax, fabsf(xb[j]));
        float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        int32_t si = 0;
        for (int j = 0; j < QK; j++) {
            int v = (int)nearbyintf(xb[j] * id);
            v = v > 127 ? 127 : v < -127 ? -127 : v;
            q[b * QK + j] = (int8_t)v;
            si += v;
        }
        dx[b] = d;
        sx[b] = d * (float)si;
        sq[b] = si;
    }
}

int op_gemv_q_prepare(op_qtype t, const float *x, int k, void *xq)
{
    if (!native_ok(t, k))
        return -1;
    prepare_x(x, k, xq);
    return 0;
}

#if defined(__AVX2__)
/* 8 int32 partial sums of the 32 products of signed w and signed x (|x| <=
 * 127; w may be -128): the sign of w moved onto x, |w| unsigned. */
Q_INLINE __m256i dot_ss(__m256i w, __m256i x)
{
    __m256i aw = _mm256_sign_epi8(w, w), sx = _mm256_sign_epi8(x, w);
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), aw, sx);
#else
    return _mm256_madd_epi16(_mm256_maddubs_epi16(aw, sx), _mm256_set1_epi16(1));
#endif
}

/* The same for unsigned u (0..15) and signed x. */
Q_INLINE __m256i dot_us(__m256i u, __m256i x)
{
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, x);
#else
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, x), _mm256_set1_epi16(1));
#endif
}

/* The 32 nibbles of a Q4 block as bytes in element order. */
Q_INLINE __m256i q4_unpack(const uint8_t *qs)
{
    __m128i v = _mm_loadu_si128((const __m128i *)qs);
    __m256i both = _mm256_set_m128i(_mm_srli_epi16(v, 4), v);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0f));
}

Q_INLINE float hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

#if defined(__AVX512VNNI__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#define Q_AVX512 1

/* Two blocks' quants of W as 64 bytes in element order (block b in the low
 * 256 bits), unsigned 0..15 for Q4_x, signed for Q8_0. */
Q_INLINE __m512i w_pair(op_qtype t, const uint8_t *w)
{
    if (t == OP_Q_Q8_0)
        return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const void *)(w + 2))),
                                  _mm256_loadu_si256((const void *)(w + 36)), 1);
    size_t off = t == OP_Q_Q4_0 ? 2 : 4, bb = t == OP_Q_Q4_0 ? 18 : 20;
    __m256i a = _mm256_set_m128i(_mm_loadu_si128((const void *)(w + bb + off)),
                                 _mm_loadu_si128((const void *)(w + off)));
    /* 128-bit lanes [q0, q1, q0 >> 4, q1 >> 4] reordered to [q0, q0 >> 4, q1, q1 >> 4]. */
    __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(a), _mm256_srli_epi16(a, 4), 1);
    z = _mm512_shuffle_i64x2(z, z, _MM_SHUFFLE(3, 1, 2, 0));
    return _mm512_and_si512(z, _mm512_set1_epi8(0x0f));
}

/* 16 int32 partial sums (8 per block) of w times x for a pair of blocks:
 * unsigned nibbles directly (Q4_1), signed ones through |w| and x negated
 * where w < 0 (Q8_0, Q4_0 after subtracting 8).  Exact. */
Q_INLINE __m512i dot_pair(op_qtype t, __m512i wq, __m512i x)
{
    if (t == OP_Q_Q4_1)
        return _mm512_dpbusd_epi32(_mm512_setzero_si512(), wq, x);
    if (t == OP_Q_Q4_0)
        wq = _mm512_sub_epi8(wq, _mm512_set1_epi8(8));
    __mmask64 neg = _mm512_movepi8_mask(wq);
    __m512i sx = _mm512_mask_sub_epi8(x, neg, _mm512_setzero_si512(), x);
    return _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_abs_epi8(wq), sx);
}

/* acc + the pair of blocks b, b + 1 at w (scaled per block); Q4_1's offset
 * terms added to *macc. */
Q_INLINE __m512 pair_fma(op_qtype t, const uint8_t *w, const xq_view *xv, int b, size_t bb,
                         __m512 acc, float *macc)
{
    __m512i xb = _mm512_loadu_si512((const void *)(xv->q + (size_t)b * QK));
    __m512i p = dot_pair(t, w_pair(t, w), xb);
    __m512 sc = _mm512_mask_blend_ps((__mmask16)0xff00, _mm512_set1_ps(f16_at(w) * xv->dx[b]),
                                     _mm512_set1_ps(f16_at(w + bb) * xv->dx[b + 1]));
    if (t == OP_Q_Q4_1)
        *macc += f16_at(w + 2) * xv->sx[b] + f16_at(w + bb + 2) * xv->sx[b + 1];
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), sc, acc);
}
#endif

/* One row's dot product with the prepared x: pairs of blocks in 512-bit
 * registers where compiled in (two accumulators, four blocks a step), then
 * single blocks in a 256-bit accumulator; Q4_1's offset term sums in two
 * scalars.  The order depends only on nb, never on the row split. */
Q_INLINE float row_dot(op_qtype t, const uint8_t *w, const xq_view *xv, int nb)
{
    size_t bb = t == OP_Q_Q8_0 ? 34 : t == OP_Q_Q4_0 ? 18 : 20;
    __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    float macc[2] = {0.0f, 0.0f};
    int b = 0;
#if defined(Q_AVX512)
    __m512 acc_a = _mm512_setzero_ps(), acc_b = _mm512_setzero_ps();
    for (; b + 4 <= nb; b += 4, w += 4 * bb) {
        acc_a = pair_fma(t, w, xv, b, bb, acc_a, &macc[0]);
        acc_b = pair_fma(t, w + 2 * bb, xv, b + 2, bb, acc_b, &macc[1]);
    }
    if (b + 2 <= nb) {
        acc_a = pair_fma(t, w, xv, b, bb, acc_a, &macc[0]);
        b += 2;
        w += 2 * bb;
    }
    __m512 a2 = _mm512_add_ps(acc_a, acc_b);
    acc[0] = _mm256_add_ps(_mm512_castps512_ps256(a2),
                           _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a2), 1)));
#endif
    for (; b < nb; b++, w += bb) {
        __m256i xb = _mm256_loadu_si256((const __m256i *)(xv->q + (size_t)b * QK)), p;
        if (t == OP_Q_Q8_0) {
            p = dot_ss(_mm256_loadu_si256((const __m256i *)(w + 2)), xb);
        } else if (t == OP_Q_Q4_0) {
            p = dot_ss(_mm256_sub_epi8(q4_unpack(w + 2), _mm256_set1_epi8(8)), xb);
        } else {
            macc[1] += f16_at(w + 2) * xv->sx[b];
            p = dot_us(q4_unpack(w + 4), xb);
        }
        acc[1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(f16_at(w) * xv->dx[b]),
                                 acc[1]);
    }
    return hsum8(_mm256_add_ps(acc[0], acc[1])) + (macc[0] + macc[1]);
}

#else

/* Portable: the block's integer dot product, exact. */
static int32_t block_idot(op_qtype t, const uint8_t *w, const int8_t *x)
{
    int32_t s = 0;
    if (t == OP_Q_Q8_0) {
        const int8_t *q = (const int8_t *)(w + 2);
        for (int j = 0; j < QK; j++)
            s += q[j] * x[j];
        return s;
    }
    const uint8_t *qs = w + (t == OP_Q_Q4_0 ? 2 : 4);
    int off = t == OP_Q_Q4_0 ? 8 : 0;
    for (int j = 0; j < QK / 2; j++)
        s += ((qs[j] & 0x0f) - off) * x[j] + ((qs[j] >> 4) - off) * x[j + QK / 2];
    return s;
}

static float row_dot(op_qtype t, const uint8_t *w, const xq_view *xv, int nb)
{
    size_t bb = op_qtype_block_bytes(t);
    float acc = 0.0f, macc = 0.0f;
    for (int b = 0; b < nb; b++, w += bb) {
        int32_t s = block_idot(t, w, xv->q + (size_t)b * QK);
        acc += (float)s * (f16_at(w) * xv->dx[b]);
        if (t == OP_Q_Q4_1)
            macc += f16_at(w + 2) * xv->sx[b];
    }
    return acc + macc;
}
#endif

/* The rows [lo, hi) of one type, so row_dot is specialised per type. */
static void rows_q8_0(const uint8_t *W, size_t rb, const xq_view *xv, float *y, int lo, int hi,
                      int nb)
{
    for (int i = lo; i < hi; i++)
        y[i] = row_dot(OP_Q_Q8_0, W + (size_t)i * rb, xv, nb);
}

static void rows_q4_0(const uint8_t *W, size_t rb, const xq_view *xv, float *y, int lo, int hi,
                      int nb)
{
    for (int i = lo; i < hi; i++)
        y[i] = row_dot(OP_Q_Q4_0, W + (size_t)i * rb, xv, nb);
}

static void rows_q4_1(const uint8_t *W, size_t rb, const xq_view *xv, float *y, int lo, int hi,
                      int nb)
{
    for (int i = lo; i < hi; i++)
        y[i] = row_dot(OP_Q_Q4_1, W + (size_t)i * rb, xv, nb);
}

int op_gemv_q_part_prepared(op_qtype t, const void *W, const void *xq, float *y, int m, int k,
                            int worker, int n_workers)
{
    if (!native_ok(t, k) || m < 0)
        return -1;
    int lo, hi;
    op_gemv_rows(m, worker, n_workers, &lo, &hi);
    xq_view xv = xq_map(xq, k);
    size_t rb = op_qtype_row_bytes(t, k);
    if (t == OP_Q_Q8_0)
        rows_q8_0(W, rb, &xv, y, lo, hi, k / QK);
    else if (t == OP_Q_Q4_0)
        rows_q4_0(W, rb, &xv, y, lo, hi, k / QK);
    else
        rows_q4_1(W, rb, &xv, y, lo, hi, k / QK);
    return 0;
}

int op_gemv_q_part(op_qtype t, const void *W, const float *x, float *y, int m, int k,
                   void *scratch, int worker, int n_workers)
{
    if (!native_ok(t, k) || m < 0)
        return -1;
    int lo, hi;
    op_gemv_rows(m, worker, n_workers, &lo, &hi);
    if (lo >= hi)
        return 0;
    void *xq = (uint8_t *)scratch + (size_t)worker * op_gemv_q_scratch_bytes(t, k);
    prepare_x(x, k, xq);
    return op_gemv_q_part_prepared(t, W, xq, y, m, k, worker, n_workers);
}

/* ---- GEMV: dequantise then fp32 --------------------------------------------------------- */

size_t op_gemv_q_dequant_scratch_bytes(int64_t k)
{
    return k <= 0 ? 64 : ((size_t)k * sizeof(float) + 63) / 64 * 64;
}

int op_gemv_q_dequant_part(op_qtype t, const void *W, const float *x, float *y, int m, int k,
                           void *scratch, int worker, int n_workers)
{
    size_t rb = op_qtype_row_bytes(t, k);
    if (!q_info((int)t) || m < 0 || k < 0 || (k > 0 && rb == 0))
        return -1;
    int lo, hi;
    op_gemv_rows(m, worker, n_workers, &lo, &hi);
    float *row = (float *)((uint8_t *)scratch + (size_t)worker * op_gemv_q_dequant_scratch_bytes(k));
    for (int i = lo; i < hi; i++) {
        op_dequant_row(t, (const uint8_t *)W + (size_t)i * rb, row, k);
        op_gemv_part(row, x, y + i, 1, k, 0, 1);
    }
    return 0;
}

/* ---- error bound and cost -------------------------------------------------------------- */

double op_gemv_q_bound(op_qtype t, const void *wrow, const float *x, int k, float *tmp)
{
    if (!native_ok(t, k))
        return -1.0;
    op_dequant_row(t, wrow, tmp, k);
    const uint8_t *w = wrow;
    size_t bb = op_qtype_block_bytes(t);
    double bound = 0.0, mag = 0.0;
    for (int b = 0; b < k / QK; b++, w += bb) {
        float amax = 0.0f;
        for (int j = 0; j < QK; j++)
            amax = fmaxf(amax, fabsf(x[b * QK + j]));
        double sw = 0.0;
        for (int j = 0; j < QK; j++) {
            sw += fabs((double)tmp[b * QK + j]);
            mag += fabs((double)tmp[b * QK + j] * x[b * QK + j]);
        }
        bound += (double)(amax / 127.0f) / 2.0 * sw;
    }
    return bound + 1e-4 * mag + 1e-30;
}

double op_gemv_q_bytes(op_qtype t, int m, int k)
{
    return (double)op_qtype_row_bytes(t, k) * m + 4.0 * ((double)k + m);
}
