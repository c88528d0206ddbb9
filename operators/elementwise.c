/* operators/elementwise.c — RMSNorm, SiLU, softplus, RoPE and softmax:
 * references, fast row shares, and the vectorised exp they share (see
 * elementwise.h for the formulas, accuracy and tolerances).
 *
 * The fast paths work a row at a time (rows of d_model, of a position's heads,
 * or of scores), vectorised over the row with AVX-512F masked tails, else in
 * portable C written the same way lane by lane.  Sums that set a scale (the
 * RMSNorm sum of squares, the softmax denominator) accumulate in double, so
 * their accuracy does not fall with the row length.
 *
 * Never: allocate, do I/O, write outside the worker's rows. */
#include "operators/elementwise.h"
#include "operators/vmath.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#define EW_ISA "avx512f"
#else
#define EW_ISA "portable"
#endif

#define LN2F 0.693147180559945309f
#define SQRT2F 1.41421356237309505f

const char *op_ew_isa(void) { return EW_ISA; }

void op_ew_rows(int rows, int worker, int n_workers, int *lo, int *hi)
{
    if (rows < 0)
        rows = 0;
    *lo = (int)((int64_t)rows * worker / n_workers);
    *hi = (int)((int64_t)rows * (worker + 1) / n_workers);
}

/* ---- scalar fast math (the portable path; the vector code computes the same) -------------- */

#if !defined(__AVX512F__)

/* e^x: the shared exp (operators/vmath.h). */
static float exp_scalar(float x) { return vm_expf(x); }

/* log(u) for u in [1, 2]: u = 2^e m with m in [sqrt(1/2), sqrt(2)], and
 * log m = 2 atanh(s), s = (m - 1)/(m + 1), |s| <= 0.172, by its series to s^9
 * (truncation < 1e-9 relative). */
static float log12_scalar(float u)
{
    int big = u > SQRT2F;
    float m = big ? u * 0.5f : u;
    float s = (m - 1.0f) / (m + 1.0f), z = s * s;
    float p = VM_FMAF(z, 1.0f / 9.0f, 1.0f / 7.0f);
    p = VM_FMAF(p, z, 1.0f / 5.0f);
    p = VM_FMAF(p, z, 1.0f / 3.0f);
    p = VM_FMAF(p, z, 1.0f);
    return VM_FMAF(2.0f * s, p, big ? LN2F : 0.0f);
}

/* log(1 + t) for t in [0, 1] without losing small t: u = 1 + t rounded, then
 * log(u) t / (u - 1) (exact when u == 1: t). */
static float log1p01_scalar(float t)
{
    float u = 1.0f + t;
    return u == 1.0f ? t : log12_scalar(u) * (t / (u - 1.0f));
}

static float silu_scalar(float x)
{
    float e = exp_scalar(-fabsf(x));
    return x * ((x < 0.0f ? e : 1.0f) / (1.0f + e));
}

static float softplus_scalar(float x)
{
    return fmaxf(x, 0.0f) + log1p01_scalar(exp_scalar(-fabsf(x)));
}

#endif

/* ---- AVX-512 fast math -------------------------------------------------------------------- */

#if defined(__AVX512F__)

/* The first `left` lanes (all 16 when left >= 16). */
static inline __mmask16 lanes(int left)
{
    return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
}

/* 16 floats at p of which `left` are valid (the rest read as 0), and the
 * matching store: whole vectors go through plain loads and stores, since masked
 * stores are slow on some cores even with a full mask. */
static inline __m512 ld16(const float *p, int left)
{
    return left >= 16 ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(lanes(left), p);
}

static inline void st16(float *p, int left, __m512 v)
{
    if (left >= 16)
        _mm512_storeu_ps(p, v);
    else
        _mm512_mask_storeu_ps(p, lanes(left), v);
}

/* 1 / x to about 1 ulp: the 14-bit estimate and one Newton step (cheaper than
 * a division; x = 0 gives a NaN or inf lane the callers discard). */
static inline __m512 rcp512(__m512 x)
{
    __m512 r = _mm512_rcp14_ps(x);
    return _mm512_mul_ps(r, _mm512_fnmadd_ps(x, r, _mm512_set1_ps(2.0f)));
}

/* e^x: the shared exp (operators/vmath.h). */
static inline __m512 exp512(__m512 x) { return vm_exp512(x); }

static inline __m512 log12_512(__m512 u)
{
    __mmask16 big = _mm512_cmp_ps_mask(u, _mm512_set1_ps(SQRT2F), _CMP_GT_OQ);
    __m512 m = _mm512_mask_mul_ps(u, big, u, _mm512_set1_ps(0.5f));
    __m512 one = _mm512_set1_ps(1.0f);
    __m512 s = _mm512_mul_ps(_mm512_sub_ps(m, one), rcp512(_mm512_add_ps(m, one)));
    __m512 z = _mm512_mul_ps(s, s);
    __m512 p = _mm512_fmadd_ps(z, _mm512_set1_ps(1.0f / 9.0f), _mm512_set1_ps(1.0f / 7.0f));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(1.0f / 5.0f));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(1.0f / 3.0f));
    p = _mm512_fmadd_ps(p, z, one);
    __m512 e = _mm512_maskz_mov_ps(big, _mm512_set1_ps(LN2F));
    return _mm512_fmadd_ps(_mm512_add_ps(s, s), p, e);
}

static inline __m512 log1p01_512(__m512 t)
{
    __m512 one = _mm512_set1_ps(1.0f), u = _mm512_add_ps(one, t);
    __m512 d = _mm512_sub_ps(u, one);
    __mmask16 exact = _mm512_cmp_ps_mask(u, one, _CMP_EQ_OQ);
    /* Lanes with u == 1 divide by 0; their result is replaced by t. */
    __m512 v = _mm512_mul_ps(log12_512(u), _mm512_mul_ps(t, rcp512(d)));
    return _mm512_mask_mov_ps(v, exact, t);
}

static inline __m512 silu512(__m512 x)
{
    __m512 e = exp512(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_abs_ps(x)));
    __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
    __m512 num = _mm512_mask_mov_ps(_mm512_set1_ps(1.0f), neg, e);
    return _mm512_mul_ps(x, _mm512_mul_ps(num, rcp512(_mm512_add_ps(_mm512_set1_ps(1.0f), e))));
}

static inline __m512 softplus512(__m512 x)
{
    __m512 t = exp512(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_abs_ps(x)));
    return _mm512_add_ps(_mm512_max_ps(x, _mm512_setzero_ps()), log1p01_512(t));
}

/* y[0..n) = f(x[0..n)) for an elementwise f: whole vectors with plain loads and
 * stores (masked stores are slow on some cores even with a full mask), the
 * tail masked. */
#define EW_MAP512(f, x, y, n)                                                         \
    do {                                                                              \
        size_t j_ = 0;                                                                \
        for (; j_ + 16 <= (n); j_ += 16)                                              \
            _mm512_storeu_ps((y) + j_, f(_mm512_loadu_ps((x) + j_)));                 \
        if (j_ < (n)) {                                                               \
            __mmask16 m_ = (__mmask16)((1u << ((n) - j_)) - 1);                       \
            _mm512_mask_storeu_ps((y) + j_, m_, f(_mm512_maskz_loadu_ps(m_, (x) + j_))); \
        }                                                                             \
    } while (0)

#endif

/* ---- exp over an array ------------------------------------------------------------------------- */

void op_exp_fast(const float *x, float *y, size_t n)
{
#if defined(__AVX512F__)
    EW_MAP512(exp512, x, y, n);
#else
    for (size_t i = 0; i < n; i++)
        y[i] = exp_scalar(x[i]);
#endif
}

/* ---- RMSNorm ------------------------------------------------------------------------------------ */

void op_rmsnorm_ref(const float *x, const float *w, float *y, int L, int d, float eps)
{
    for (int l = 0; l < L; l++) {
        const float *xr = x + (size_t)l * d;
        double ss = 0.0;
        for (int j = 0; j < d; j++)
            ss += (double)xr[j] * xr[j];
        double r = 1.0 / sqrt(ss / d + eps);
        for (int j = 0; j < d; j++)
            y[(size_t)l * d + j] = (float)((double)xr[j] * r * w[j]);
    }
}

/* Sum of squares of a row, in double. */
static double sum_squares(const float *x, int d)
{
#if defined(__AVX512F__)
    __m512d a0 = _mm512_setzero_pd(), a1 = _mm512_setzero_pd();
    for (int j = 0; j < d; j += 16) {
        __m512 v = ld16(x + j, d - j);
        __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
        __m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
        a0 = _mm512_fmadd_pd(lo, lo, a0);
        a1 = _mm512_fmadd_pd(hi, hi, a1);
    }
    return _mm512_reduce_add_pd(_mm512_add_pd(a0, a1));
#else
    double s[4] = {0, 0, 0, 0};
    int j = 0;
    for (; j + 4 <= d; j += 4)
        for (int t = 0; t < 4; t++)
            s[t] += (double)x[j + t] * x[j + t];
    for (; j < d; j++)
        s[0] += (double)x[j] * x[j];
    return (s[0] + s[1]) + (s[2] + s[3]);
#endif
}

void op_rmsnorm_part(const float *x, const float *w, float *y, int L, int d, float eps,
                     int worker, int n_workers)
{
    int lo, hi;
    op_ew_rows(L, worker, n_workers, &lo, &hi);
    for (int l = lo; l < hi; l++) {
        const float *xr = x + (size_t)l * d;
        float *yr = y + (size_t)l * d;
        float r = (float)(1.0 / sqrt(sum_squares(xr, d) / d + eps));
#if defined(__AVX512F__)
        __m512 vr = _mm512_set1_ps(r);
        for (int j = 0; j < d; j += 16) {
            __m512 v = _mm512_mul_ps(ld16(xr + j, d - j), vr);
            st16(yr + j, d - j, _mm512_mul_ps(v, ld16(w + j, d - j)));
        }
#else
        for (int j = 0; j < d; j++)
            yr[j] = xr[j] * r * w[j];
#endif
    }
}

/* ---- SiLU and softplus ------------------------------------------------------------------------- */

void op_silu_ref(const float *x, float *y, int L, int d)
{
    size_t n = (size_t)L * d;
    for (size_t i = 0; i < n; i++)
        y[i] = (float)((double)x[i] / (1.0 + exp(-(double)x[i])));
}

void op_softplus_ref(const float *x, float *y, int L, int d)
{
    size_t n = (size_t)L * d;
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        y[i] = (float)(v > 0 ? v + log1p(exp(-v)) : log1p(exp(v)));
    }
}

void op_silu_part(const float *x, float *y, int L, int d, int worker, int n_workers)
{
    int lo, hi;
    op_ew_rows(L, worker, n_workers, &lo, &hi);
    size_t off = (size_t)lo * d, n = (size_t)(hi - lo) * d;
#if defined(__AVX512F__)
    EW_MAP512(silu512, x + off, y + off, n);
#else
    for (size_t i = 0; i < n; i++)
        y[off + i] = silu_scalar(x[off + i]);
#endif
}

void op_softplus_part(const float *x, float *y, int L, int d, int worker, int n_workers)
{
    int lo, hi;
    op_ew_rows(L, worker, n_workers, &lo, &hi);
    size_t off = (size_t)lo * d, n = (size_t)(hi - lo) * d;
#if defined(__AVX512F__)
    EW_MAP512(softplus512, x + off, y + off, n);
#else
    for (size_t i = 0; i < n; i++)
        y[off + i] = softplus_scalar(x[off + i]);
#endif
}

/* ---- RoPE ----------------------------------------------------------------------------------------- */

op_rope_scaling op_rope_llama3_scaling(void)
{
    return (op_rope_scaling){OP_ROPE_LLAMA3, 32.0, 1.0, 4.0, 8192.0};
}

/* One inverse frequency under Llama 3 scaling (see elementwise.h). */
static double llama3_freq(double f, const op_rope_scaling *s)
{
    const double pi = 3.14159265358979323846;
    double wavelen = 2.0 * pi / f;
    double low_wavelen = s->original_max_position / s->low_freq_factor;
    double high_wavelen = s->original_max_position / s->high_freq_factor;
    if (wavelen < high_wavelen)
        return f;
    if (wavelen > low_wavelen)
        return f / s->factor;
    double smooth = (s->original_max_position / wavelen - s->low_freq_factor) /
                    (s->high_freq_factor - s->low_freq_factor);
    return (1.0 - smooth) * f / s->factor + smooth * f;
}

int op_rope_inv_freq(double theta, int D, const op_rope_scaling *scaling, float *out)
{
    int llama3 = scaling && scaling->kind == OP_ROPE_LLAMA3;
    if (D < 2 || D % 2 != 0 || !(theta > 1.0))
        return -1;
    if (scaling && scaling->kind != OP_ROPE_DEFAULT && !llama3)
        return -1;
    if (llama3 && !(scaling->factor >= 1.0 && scaling->low_freq_factor > 0.0 &&
                    scaling->high_freq_factor > scaling->low_freq_factor &&
                    scaling->original_max_position > 0.0))
        return -1;
    for (int i = 0; i < D / 2; i++) {
        double f = pow(theta, -2.0 * i / D);
        out[i] = (float)(llama3 ? llama3_freq(f, scaling) : f);
    }
    return 0;
}

void op_rope_tables(const float *inv_freq, long pos0, int L, int D, float *cos_t, float *sin_t)
{
    int half = D / 2;
    for (int l = 0; l < L; l++)
        for (int i = 0; i < half; i++) {
            double a = (double)(pos0 + l) * inv_freq[i];
            cos_t[(size_t)l * half + i] = (float)cos(a);
            sin_t[(size_t)l * half + i] = (float)sin(a);
        }
}

void op_rope_ref(const float *x, float *y, int L, int H, int D, const float *inv_freq, long pos0)
{
    int half = D / 2;
    for (int l = 0; l < L; l++)
        for (int h = 0; h < H; h++) {
            const float *xv = x + ((size_t)l * H + h) * D;
            float *yv = y + ((size_t)l * H + h) * D;
            for (int i = 0; i < half; i++) {
                double a = (double)(pos0 + l) * inv_freq[i], c = cos(a), s = sin(a);
                double x1 = xv[i], x2 = xv[i + half];
                yv[i] = (float)(x1 * c - x2 * s);
                yv[i + half] = (float)(x2 * c + x1 * s);
            }
        }
}

/* One head vector: y = rotate(x) with the position's tables (y may be x). */
static void rope_vec(const float *x, float *y, const float *c, const float *s, int half)
{
#if defined(__AVX512F__)
    for (int i = 0; i < half; i += 16) {
        int left = half - i;
        __m512 x1 = ld16(x + i, left), x2 = ld16(x + i + half, left);
        __m512 vc = ld16(c + i, left), vs = ld16(s + i, left);
        st16(y + i, left, _mm512_fmsub_ps(x1, vc, _mm512_mul_ps(x2, vs)));
        st16(y + i + half, left, _mm512_fmadd_ps(x2, vc, _mm512_mul_ps(x1, vs)));
    }
#else
    for (int i = 0; i < half; i++) {
        float x1 = x[i], x2 = x[i + half];
        y[i] = x1 * c[i] - x2 * s[i];
        y[i + half] = x2 * c[i] + x1 * s[i];
    }
#endif
}

void op_rope_part(const float *x, float *y, int L, int H, int D, const float *cos_t,
                  const float *sin_t, int worker, int n_workers)
{
    int lo, hi, half = D / 2;
    op_ew_rows(L, worker, n_workers, &lo, &hi);
    for (int l = lo; l < hi; l++)
        for (int h = 0; h < H; h++) {
            size_t off = ((size_t)l * H + h) * D;
            rope_vec(x + off, y + off, cos_t + (size_t)l * half, sin_t + (size_t)l * half, half);
        }
}

/* ---- softmax -------------------------------------------------------------------------------------- */

void op_softmax_ref(const float *x, float *y, int R, int n)
{
    for (int r = 0; r < R; r++) {
        const float *xr = x + (size_t)r * n;
        double mx = -INFINITY, sum = 0.0;
        for (int j = 0; j < n; j++)
            mx = xr[j] > mx ? xr[j] : mx;
        for (int j = 0; j < n; j++)
            sum += exp((double)xr[j] - mx);
        for (int j = 0; j < n; j++)
            y[(size_t)r * n + j] = (float)(exp((double)xr[j] - mx) / sum);
    }
}

/* One row: max, then e = exp(x - max) stored with its sum, then scale.  The
 * sum adds blocks of up to 256 values in float and the blocks in double. */
static void softmax_row(const float *x, float *y, int n)
{
#if defined(__AVX512F__)
    __m512 vmax = _mm512_set1_ps(-INFINITY);
    for (int j = 0; j < n; j += 16)
        vmax = _mm512_max_ps(vmax, _mm512_mask_loadu_ps(vmax, lanes(n - j), x + j));
    __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
    __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
    for (int j0 = 0; j0 < n; j0 += 256) {
        __m512 acc = _mm512_setzero_ps();
        for (int j = j0; j < n && j < j0 + 256; j += 16) {
            __m512 e = exp512(_mm512_sub_ps(ld16(x + j, n - j), mx));
            e = _mm512_maskz_mov_ps(lanes(n - j), e); /* lanes past the row: 0 */
            st16(y + j, n - j, e);
            acc = _mm512_add_ps(acc, e);
        }
        s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm512_castps512_ps256(acc)));
        s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(_mm256_castpd_ps(
                                   _mm512_extractf64x4_pd(_mm512_castps_pd(acc), 1))));
    }
    __m512 inv = _mm512_set1_ps((float)(1.0 / _mm512_reduce_add_pd(_mm512_add_pd(s0, s1))));
    for (int j = 0; j < n; j += 16)
        st16(y + j, n - j, _mm512_mul_ps(ld16(y + j, n - j), inv));
#else
    float mx = -INFINITY;
    for (int j = 0; j < n; j++)
        mx = x[j] > mx ? x[j] : mx;
    double sum = 0.0;
    for (int j = 0; j < n; j++) {
        y[j] = exp_scalar(x[j] - mx);
        sum += y[j];
    }
    float inv = (float)(1.0 / sum);
    for (int j = 0; j < n; j++)
        y[j] *= inv;
#endif
}

void op_softmax_part(const float *x, float *y, int R, int n, int worker, int n_workers)
{
    int lo, hi;
    op_ew_rows(R, worker, n_workers, &lo, &hi);
    for (int r = lo; r < hi; r++)
        softmax_row(x + (size_t)r * n, y + (size_t)r * n, n);
}
