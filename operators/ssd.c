/* operators/ssd.c — Mamba-2 SSD: the double reference, the recurrent, chunked
 * and step forms, and their cost model (see ssd.h).
 *
 * Vector ISA: AVX-512F intrinsics when compiled with it (exp and log1p are
 * computed here, Cephes-style polynomials, since libm's are scalar); otherwise
 * plain C loops that the compiler vectorises where it can, with libm's
 * scalar expf/log1p.
 *
 * The chunked form's products all have P (or a chunk's columns) as the
 * contiguous output dimension and go through one register-blocked tile
 * kernel: out (mr x ncols, mr <= SSD_MR, ncols <= 64) =
 *   rowscale o (A B) + beta out
 * with A read through (row, column) strides, so C, B (as B^T) and the
 * decay-masked M are used where they lie, without packing; only x's rows of
 * a chunk (head stride H P apart) are packed, plain and scaled by w, and B
 * transposed for G = C B^T.
 *
 * Never: allocate (scratch comes from the caller; small fixed arrays live on
 * the stack), do I/O, write heads outside the worker's range. */
#include "operators/ssd.h"
#include "operators/vmath.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define SSD_MR 6 /* rows of a tile (one broadcast each) */

#if defined(__AVX512F__)
#include <immintrin.h>
#define SSD_ISA "avx512f"
#if SSD_MR != 6
#error "the AVX-512 tile kernel spells out six rows"
#endif
#else
#define SSD_ISA "portable"
#endif

#if defined(__GNUC__)
#define SSD_INLINE static inline __attribute__((always_inline))
#else
#define SSD_INLINE static inline
#endif

#define SSD_NC 64     /* columns of a tile (four 16-float vectors) */
#define SSD_TBLK 64   /* tokens whose delta and decay the recurrence computes at once */
#define SSD_EXP_MIN -80.0f /* exp of anything below is taken as 0 (no denormals) */

const char *op_ssd_isa(void) { return SSD_ISA; }

static int imin(int a, int b) { return a < b ? a : b; }
static size_t round_up(size_t a, size_t b) { return (a + b - 1) / b * b; }

void op_ssd_heads(int H, int worker, int n_workers, int *lo, int *hi)
{
    *lo = (int)((int64_t)H * worker / n_workers);
    *hi = (int)((int64_t)H * (worker + 1) / n_workers);
}

/* softplus in double: vm_softplus_d (operators/vmath.h). */

/* ---- reference --------------------------------------------------------------------------- */

size_t op_ssd_ref_scratch_bytes(const op_ssd_shape *s)
{
    return 2 * (size_t)s->N * (size_t)s->P * sizeof(double);
}

void op_ssd_ref(const op_ssd_shape *s, const op_ssd_in *in, const float *state0, int h_lo,
                int h_hi, float *y, float *mag, float *state, void *scratch)
{
    const int H = s->H, P = s->P, N = s->N;
    const size_t NP = (size_t)N * P;
    double *hs = scratch, *ha = hs + NP; /* state and its absolute-value twin, (N, P) */
    for (int h = h_lo; h < h_hi; h++) {
        for (size_t i = 0; i < NP; i++) {
            hs[i] = state0 ? state0[h * NP + i] : 0.0;
            ha[i] = fabs(hs[i]);
        }
        const double A = -exp((double)in->A_log[h]), Dh = in->D[h];
        for (int64_t t = 0; t < s->L; t++) {
            const double delta = vm_softplus_d((double)in->dt[t * H + h] + in->dt_bias[h]);
            const double dA = exp(delta * A);
            const float *xt = in->x + ((size_t)t * H + h) * P;
            const float *Bt = in->B + (size_t)t * N, *Ct = in->C + (size_t)t * N;
            for (int p = 0; p < P; p++) {
                const double xd = delta * xt[p];
                double acc = 0.0, am = 0.0;
                for (int n = 0; n < N; n++) {
                    double *hp = &hs[(size_t)n * P + p], *ap = &ha[(size_t)n * P + p];
                    *hp = dA * *hp + xd * Bt[n];
                    *ap = dA * *ap + fabs(xd * Bt[n]);
                    acc += *hp * Ct[n];
                    am += *ap * fabs((double)Ct[n]);
                }
                const size_t o = ((size_t)t * H + h) * P + p;
                y[o] = (float)(acc + Dh * xt[p]);
                if (mag)
                    mag[o] = (float)(am + fabs(Dh * xt[p]));
            }
        }
        if (state)
            for (size_t i = 0; i < NP; i++)
                state[h * NP + i] = (float)hs[i];
    }
}

/* ---- vector math ------------------------------------------------------------------------- */

#if defined(__AVX512F__)

/* e^x lane-wise for x <= 88; lanes below SSD_EXP_MIN (and lanes outside
 * `keep`) give 0.  Cephes expf polynomial, about 1 ulp. */
SSD_INLINE __m512 v_exp(__m512 x, __mmask16 keep)
{
    keep &= _mm512_cmp_ps_mask(x, _mm512_set1_ps(SSD_EXP_MIN), _CMP_GE_OQ);
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_maskz_scalef_ps(keep, p, n);
}

/* log(w) lane-wise for w in [1, 2] (Cephes logf). */
SSD_INLINE __m512 v_log_1_2(__m512 w)
{
    __mmask16 big = _mm512_cmp_ps_mask(w, _mm512_set1_ps(1.41421356237f), _CMP_GT_OQ);
    __m512 e = _mm512_maskz_mov_ps(big, _mm512_set1_ps(1.0f));
    __m512 m = _mm512_mask_mul_ps(w, big, w, _mm512_set1_ps(0.5f));
    __m512 f = _mm512_sub_ps(m, _mm512_set1_ps(1.0f));
    __m512 z = _mm512_mul_ps(f, f);
    __m512 p = _mm512_set1_ps(7.0376836292e-2f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(-1.1514610310e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.1676998740e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(-1.2420140846e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.4249322787e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(-1.6668057665e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.0000714765e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(-2.4999993993e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(3.3333331174e-1f));
    __m512 y = _mm512_mul_ps(_mm512_mul_ps(p, f), z);
    y = _mm512_fmadd_ps(e, _mm512_set1_ps(-2.12194440e-4f), y);
    y = _mm512_fnmadd_ps(_mm512_set1_ps(0.5f), z, y);
    __m512 r = _mm512_add_ps(f, y);
    return _mm512_fmadd_ps(e, _mm512_set1_ps(0.693359375f), r);
}

/* softplus(v) = max(v, 0) + log1p(e^-|v|), with log1p(u) = log(w) u / (w - 1),
 * w = 1 + u (exact to a few ulp even for tiny u). */
SSD_INLINE __m512 v_softplus(__m512 v)
{
    __m512 av = _mm512_abs_ps(v);
    __m512 u = v_exp(_mm512_sub_ps(_mm512_setzero_ps(), av), 0xffff);
    __m512 w = _mm512_add_ps(u, _mm512_set1_ps(1.0f));
    __m512 wm1 = _mm512_sub_ps(w, _mm512_set1_ps(1.0f));
    __mmask16 exact = _mm512_cmp_ps_mask(wm1, _mm512_setzero_ps(), _CMP_EQ_OQ);
    __m512 l = _mm512_mul_ps(v_log_1_2(w), _mm512_div_ps(u, _mm512_mask_blend_ps(exact, wm1, w)));
    l = _mm512_mask_blend_ps(exact, l, u);
    return _mm512_add_ps(_mm512_max_ps(v, _mm512_setzero_ps()), l);
}

/* The 16 floats of two vectors of 8 doubles (AVX-512F only: no DQ insert). */
SSD_INLINE __m512 v_cvt16(__m512d lo, __m512d hi)
{
    const __m512d l = _mm512_castps_pd(_mm512_castps256_ps512(_mm512_cvtpd_ps(lo)));
    return _mm512_castpd_ps(_mm512_insertf64x4(l, _mm256_castps_pd(_mm512_cvtpd_ps(hi)), 1));
}

/* Mask of the first n lanes (n may exceed 16). */
SSD_INLINE __mmask16 lanes(int n)
{
    return n >= 16 ? (__mmask16)0xffff : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

#endif

/* delta[i] = softplus(dt[i stride] + bias) and, when dA is non-NULL,
 * dA[i] = exp(delta[i] A), for i < n <= SSD_TBLK. */
static void ssd_delta(const float *dt, ptrdiff_t stride, float bias, float A, int n, float *delta,
                      float *dA)
{
#if defined(__AVX512F__)
    float v[SSD_TBLK];
    for (int i = 0; i < n; i++)
        v[i] = dt[i * stride] + bias;
    for (int i = 0; i < n; i += 16) {
        __mmask16 m = lanes(n - i);
        __m512 d = v_softplus(_mm512_maskz_loadu_ps(m, v + i));
        _mm512_mask_storeu_ps(delta + i, m, d);
        if (dA)
            _mm512_mask_storeu_ps(dA + i, m, v_exp(_mm512_mul_ps(d, _mm512_set1_ps(A)), 0xffff));
    }
#else
    for (int i = 0; i < n; i++) {
        float d = (float)vm_softplus_d((double)(dt[i * stride] + bias));
        delta[i] = d;
        if (dA)
            dA[i] = expf(d * A);
    }
#endif
}

/* out[l] = exp(alpha + beta cs[l]) (x mul[l] when mul) for l < n, the
 * argument formed in double; arguments below SSD_EXP_MIN give 0. */
static void exp_affine(const double *cs, int n, double alpha, double beta, const float *mul,
                       float *out)
{
#if defined(__AVX512F__)
    const __m512d va = _mm512_set1_pd(alpha), vb = _mm512_set1_pd(beta);
    for (int l = 0; l < n; l += 16) {
        const __mmask16 m = lanes(n - l);
        const __m512d c0 = _mm512_maskz_loadu_pd((__mmask8)m, cs + l);
        const __m512d c1 = _mm512_maskz_loadu_pd((__mmask8)(m >> 8), cs + l + 8);
        __m512 e = v_exp(v_cvt16(_mm512_fmadd_pd(vb, c0, va), _mm512_fmadd_pd(vb, c1, va)), m);
        if (mul)
            e = _mm512_mul_ps(e, _mm512_maskz_loadu_ps(m, mul + l));
        _mm512_mask_storeu_ps(out + l, m, e);
    }
#else
    for (int l = 0; l < n; l++) {
        const float arg = (float)(alpha + beta * cs[l]);
        const float e = arg < SSD_EXP_MIN ? 0.0f : expf(arg);
        out[l] = mul ? e * mul[l] : e;
    }
#endif
}

/* ---- recurrent --------------------------------------------------------------------------- */

#if defined(__AVX512F__)

/* One token for columns [p0, p0 + 16 nv) of one head (nv <= 4, the last
 * vector masked by ml): S[n, p] = dA S[n, p] + delta x[p] B[n];
 * y[p] = sum_n C[n] S[n, p] + Dh x[p].  Two accumulator sets (even and odd n)
 * keep the FMA latency chain short when nv is small. */
SSD_INLINE void rec_cols(float *S, int P, int N, const float *xt, float *yt, const float *Bt,
                         const float *Ct, float delta, float dA, float Dh, int nv, __mmask16 ml)
{
    __m512 xv[4], xd[4], a0[4], a1[4];
    __mmask16 m[4];
    const __m512 vdA = _mm512_set1_ps(dA);
    for (int j = 0; j < nv; j++) {
        m[j] = j == nv - 1 ? ml : (__mmask16)0xffff;
        xv[j] = _mm512_maskz_loadu_ps(m[j], xt + 16 * j);
        xd[j] = _mm512_mul_ps(xv[j], _mm512_set1_ps(delta));
        a0[j] = a1[j] = _mm512_setzero_ps();
    }
    int n = 0;
    for (; n + 2 <= N; n += 2) {
        const __m512 b0 = _mm512_set1_ps(Bt[n]), c0 = _mm512_set1_ps(Ct[n]);
        const __m512 b1 = _mm512_set1_ps(Bt[n + 1]), c1 = _mm512_set1_ps(Ct[n + 1]);
        float *r0 = S + (size_t)n * P, *r1 = r0 + P;
        for (int j = 0; j < nv; j++) {
            __m512 h0 = _mm512_maskz_loadu_ps(m[j], r0 + 16 * j);
            __m512 h1 = _mm512_maskz_loadu_ps(m[j], r1 + 16 * j);
            h0 = _mm512_fmadd_ps(h0, vdA, _mm512_mul_ps(xd[j], b0));
            h1 = _mm512_fmadd_ps(h1, vdA, _mm512_mul_ps(xd[j], b1));
            _mm512_mask_storeu_ps(r0 + 16 * j, m[j], h0);
            _mm512_mask_storeu_ps(r1 + 16 * j, m[j], h1);
            a0[j] = _mm512_fmadd_ps(c0, h0, a0[j]);
            a1[j] = _mm512_fmadd_ps(c1, h1, a1[j]);
        }
    }
    if (n < N) {
        const __m512 b0 = _mm512_set1_ps(Bt[n]), c0 = _mm512_set1_ps(Ct[n]);
        float *r0 = S + (size_t)n * P;
        for (int j = 0; j < nv; j++) {
            __m512 h0 = _mm512_maskz_loadu_ps(m[j], r0 + 16 * j);
            h0 = _mm512_fmadd_ps(h0, vdA, _mm512_mul_ps(xd[j], b0));
            _mm512_mask_storeu_ps(r0 + 16 * j, m[j], h0);
            a0[j] = _mm512_fmadd_ps(c0, h0, a0[j]);
        }
    }
    for (int j = 0; j < nv; j++) {
        __m512 yv = _mm512_fmadd_ps(_mm512_set1_ps(Dh), xv[j], _mm512_add_ps(a0[j], a1[j]));
        _mm512_mask_storeu_ps(yt + 16 * j, m[j], yv);
    }
}

/* One token of one head, all P columns. */
static void rec_token(float *S, int P, int N, const float *xt, float *yt, const float *Bt,
                      const float *Ct, float delta, float dA, float Dh)
{
    int p0 = 0;
    for (; p0 + 64 <= P; p0 += 64)
        rec_cols(S + p0, P, N, xt + p0, yt + p0, Bt, Ct, delta, dA, Dh, 4, 0xffff);
    int rest = P - p0;
    if (rest > 0) {
        int nv = (rest + 15) / 16;
        __mmask16 ml = lanes(rest - 16 * (nv - 1));
        switch (nv) {
        case 1: rec_cols(S + p0, P, N, xt + p0, yt + p0, Bt, Ct, delta, dA, Dh, 1, ml); break;
        case 2: rec_cols(S + p0, P, N, xt + p0, yt + p0, Bt, Ct, delta, dA, Dh, 2, ml); break;
        case 3: rec_cols(S + p0, P, N, xt + p0, yt + p0, Bt, Ct, delta, dA, Dh, 3, ml); break;
        default: rec_cols(S + p0, P, N, xt + p0, yt + p0, Bt, Ct, delta, dA, Dh, 4, ml); break;
        }
    }
}

#else

static void rec_token(float *S, int P, int N, const float *xt, float *yt, const float *Bt,
                      const float *Ct, float delta, float dA, float Dh)
{
    float xd[SSD_NC], acc[SSD_NC];
    for (int p0 = 0; p0 < P; p0 += SSD_NC) {
        const int w = imin(SSD_NC, P - p0);
        for (int p = 0; p < w; p++) {
            xd[p] = delta * xt[p0 + p];
            acc[p] = 0.0f;
        }
        for (int n = 0; n < N; n++) {
            float *row = S + (size_t)n * P + p0;
            const float b = Bt[n], c = Ct[n];
            for (int p = 0; p < w; p++) {
                float hv = row[p] * dA + xd[p] * b;
                row[p] = hv;
                acc[p] += c * hv;
            }
        }
        for (int p = 0; p < w; p++)
            yt[p0 + p] = acc[p] + Dh * xt[p0 + p];
    }
}

#endif

/* Copies head h's initial state into S (or zeros it). */
static void init_state(const float *state0, float *state, int h, size_t NP)
{
    float *S = state + h * NP;
    if (!state0)
        memset(S, 0, NP * sizeof(float));
    else if (state0 != state)
        memcpy(S, state0 + h * NP, NP * sizeof(float));
}

#if defined(__AVX512F__)

/* The rescaled recurrence of one segment of n tokens, for state rows
 * [n0, n0 + NR) and columns [p0, p0 + 16 NV) (last vector masked by ml),
 * NR and NV constants.  With P_t the decay product from the segment start
 * through token t, the kernel runs on g = h / P:
 *   g += B_t[n] xs_t,   xs_t = delta_t x_t / P_t        (one FMA)
 *   yb_t += C_t[n] g                                    (one FMA)
 * and stores S = P_end g at the end.  The NR x NV block of g lives in named
 * registers across the segment (GCC keeps arrays of __m512 in memory); yb
 * holds y / P_t summed over the row blocks so far.  S points at (n0, p0);
 * B and C at the segment's first token, column n0; xs and yb are (n, 64). */
#define REC_ROW_DECL(r) __m512 g##r##0 = z, g##r##1 = z, g##r##2 = z, g##r##3 = z
#define REC_ROW_LOAD(r)                                                                         \
    do {                                                                                        \
        if (NR > r) {                                                                           \
            g##r##0 = _mm512_maskz_loadu_ps(m0, S + (r) * P);                                   \
            if (NV > 1)                                                                         \
                g##r##1 = _mm512_maskz_loadu_ps(m1, S + (r) * P + 16);                          \
            if (NV > 2)                                                                         \
                g##r##2 = _mm512_maskz_loadu_ps(m2, S + (r) * P + 32);                          \
            if (NV > 3)                                                                         \
                g##r##3 = _mm512_maskz_loadu_ps(m3, S + (r) * P + 48);                          \
        }                                                                                       \
    } while (0)
#define REC_ROW_STEP(r)                                                                         \
    do {                                                                                        \
        if (NR > r) {                                                                           \
            const __m512 bb = _mm512_set1_ps(Bt[r]), cc = _mm512_set1_ps(Ct[r]);                \
            g##r##0 = _mm512_fmadd_ps(bb, x0, g##r##0);                                         \
            y0 = _mm512_fmadd_ps(cc, g##r##0, y0);                                              \
            if (NV > 1) {                                                                       \
                g##r##1 = _mm512_fmadd_ps(bb, x1, g##r##1);                                     \
                y1 = _mm512_fmadd_ps(cc, g##r##1, y1);                                          \
            }                                                                                   \
            if (NV > 2) {                                                                       \
                g##r##2 = _mm512_fmadd_ps(bb, x2, g##r##2);                                     \
                y2 = _mm512_fmadd_ps(cc, g##r##2, y2);                                          \
            }                                                                                   \
            if (NV > 3) {                                                                       \
                g##r##3 = _mm512_fmadd_ps(bb, x3, g##r##3);                                     \
                y3 = _mm512_fmadd_ps(cc, g##r##3, y3);                                          \
            }                                                                                   \
        }                                                                                       \
    } while (0)
#define REC_ROW_STORE(r)                                                                        \
    do {                                                                                        \
        if (NR > r) {                                                                           \
            _mm512_mask_storeu_ps(S + (r) * P, m0, _mm512_mul_ps(g##r##0, pe));                 \
            if (NV > 1)                                                                         \
                _mm512_mask_storeu_ps(S + (r) * P + 16, m1, _mm512_mul_ps(g##r##1, pe));        \
            if (NV > 2)                                                                         \
                _mm512_mask_storeu_ps(S + (r) * P + 32, m2, _mm512_mul_ps(g##r##2, pe));        \
            if (NV > 3)                                                                         \
                _mm512_mask_storeu_ps(S + (r) * P + 48, m3, _mm512_mul_ps(g##r##3, pe));        \
        }                                                                                       \
    } while (0)

SSD_INLINE void rec_seg_k(int NR, int NV, __mmask16 ml, float *S, int P, const float *B,
                          const float *C, int N, int n, const float *xs, float *yb, float pend)
{
    const __mmask16 m0 = NV == 1 ? ml : 0xffff, m1 = NV == 2 ? ml : 0xffff;
    const __mmask16 m2 = NV == 3 ? ml : 0xffff, m3 = NV == 4 ? ml : 0xffff;
    const __m512 z = _mm512_setzero_ps();
    REC_ROW_DECL(0);
    REC_ROW_DECL(1);
    REC_ROW_DECL(2);
    REC_ROW_DECL(3);
    REC_ROW_LOAD(0);
    REC_ROW_LOAD(1);
    REC_ROW_LOAD(2);
    REC_ROW_LOAD(3);
    for (int t = 0; t < n; t++) {
        const float *Bt = B + (size_t)t * N, *Ct = C + (size_t)t * N;
        const float *xt = xs + t * SSD_NC;
        float *yt = yb + t * SSD_NC;
        const __m512 x0 = _mm512_load_ps(xt);
        const __m512 x1 = NV > 1 ? _mm512_load_ps(xt + 16) : z;
        const __m512 x2 = NV > 2 ? _mm512_load_ps(xt + 32) : z;
        const __m512 x3 = NV > 3 ? _mm512_load_ps(xt + 48) : z;
        __m512 y0 = _mm512_load_ps(yt);
        __m512 y1 = NV > 1 ? _mm512_load_ps(yt + 16) : z;
        __m512 y2 = NV > 2 ? _mm512_load_ps(yt + 32) : z;
        __m512 y3 = NV > 3 ? _mm512_load_ps(yt + 48) : z;
        REC_ROW_STEP(0);
        REC_ROW_STEP(1);
        REC_ROW_STEP(2);
        REC_ROW_STEP(3);
        _mm512_store_ps(yt, y0);
        if (NV > 1)
            _mm512_store_ps(yt + 16, y1);
        if (NV > 2)
            _mm512_store_ps(yt + 32, y2);
        if (NV > 3)
            _mm512_store_ps(yt + 48, y3);
    }
    const __m512 pe = _mm512_set1_ps(pend);
    REC_ROW_STORE(0);
    REC_ROW_STORE(1);
    REC_ROW_STORE(2);
    REC_ROW_STORE(3);
}

/* rec_seg_k for nr (4 or 1) rows and nv vectors. */
static void rec_seg(int nr, int nv, __mmask16 ml, float *S, int P, const float *B, const float *C,
                    int N, int n, const float *xs, float *yb, float pend)
{
#define REC_CASE(R, V)                                                                          \
    case (R) * 8 + (V):                                                                         \
        rec_seg_k(R, V, ml, S, P, B, C, N, n, xs, yb, pend);                                    \
        break
    switch (nr * 8 + nv) {
        REC_CASE(4, 1);
        REC_CASE(4, 2);
        REC_CASE(4, 3);
        REC_CASE(4, 4);
        REC_CASE(1, 1);
        REC_CASE(1, 2);
        REC_CASE(1, 3);
        REC_CASE(1, 4);
    default: break;
    }
#undef REC_CASE
}

/* One segment [t, t + n) of head h: columns in blocks of 64, rows in blocks
 * of 4 (then single rows).  pt[i] = P_{t+i}, xsc[i] = delta / P. */
static void rec_segment(const op_ssd_shape *s, const op_ssd_in *in, int h, int64_t t, int n,
                        const float *pt, const float *xsc, float *S, float *y, float *xs,
                        float *yb)
{
    const int H = s->H, P = s->P, N = s->N;
    const float Dh = in->D[h];
    const float *B = in->B + (size_t)t * N, *C = in->C + (size_t)t * N;
    for (int p0 = 0; p0 < P; p0 += SSD_NC) {
        const int w = imin(SSD_NC, P - p0), nv = (w + 15) / 16;
        const __mmask16 ml = lanes(w - 16 * (nv - 1));
        for (int i = 0; i < n; i++) {
            const float *xt = in->x + ((size_t)(t + i) * H + h) * P + p0;
            const __m512 sc = _mm512_set1_ps(xsc[i]);
            for (int j = 0; j < SSD_NC; j += 16) {
                const __mmask16 m = lanes(w - j);
                const __m512 xv = _mm512_maskz_loadu_ps(m, xt + j);
                _mm512_store_ps(xs + i * SSD_NC + j, _mm512_mul_ps(sc, xv));
                _mm512_store_ps(yb + i * SSD_NC + j, _mm512_setzero_ps());
            }
        }
        int n0 = 0;
        for (; n0 + 4 <= N; n0 += 4)
            rec_seg(4, nv, ml, S + (size_t)n0 * P + p0, P, B + n0, C + n0, N, n, xs, yb, pt[n - 1]);
        for (; n0 < N; n0++)
            rec_seg(1, nv, ml, S + (size_t)n0 * P + p0, P, B + n0, C + n0, N, n, xs, yb, pt[n - 1]);
        for (int i = 0; i < n; i++) {
            const size_t o = ((size_t)(t + i) * H + h) * P + p0;
            const __m512 pv = _mm512_set1_ps(pt[i]), dv = _mm512_set1_ps(Dh);
            for (int j = 0; j < w; j += 16) {
                const __mmask16 m = lanes(w - j);
                __m512 v = _mm512_mul_ps(pv, _mm512_load_ps(yb + i * SSD_NC + j));
                v = _mm512_fmadd_ps(dv, _mm512_maskz_loadu_ps(m, in->x + o + j), v);
                _mm512_mask_storeu_ps(y + o + j, m, v);
            }
        }
    }
}

/* Head h over tokens [t0, t0 + nt), nt <= SSD_TBLK: the decay's cumulative
 * sum (double) cut into segments whose decay product stays above
 * e^REC_SEG_MIN (so 1 / P_t stays far from overflow); a token decaying below
 * e^(2 REC_SEG_MIN) alone takes the plain step. */
#define REC_SEG_MIN -30.0
static void rec_block(const op_ssd_shape *s, const op_ssd_in *in, int h, int64_t t0, int nt,
                      float *S, float *y)
{
    const int H = s->H, P = s->P, N = s->N;
    const float A = -expf(in->A_log[h]);
    float delta[SSD_TBLK], pt[SSD_TBLK], xsc[SSD_TBLK];
    double cs[SSD_TBLK];
    _Alignas(64) float xs[SSD_TBLK * SSD_NC], yb[SSD_TBLK * SSD_NC];
    ssd_delta(in->dt + t0 * H + h, H, in->dt_bias[h], A, nt, delta, NULL);
    double acc = 0.0;
    for (int i = 0; i < nt; i++)
        cs[i] = acc += (double)A * delta[i];
    for (int a = 0; a < nt;) {
        const double base = a ? cs[a - 1] : 0.0;
        if (cs[a] - base < 2 * REC_SEG_MIN) {
            const size_t o = ((size_t)(t0 + a) * H + h) * P;
            rec_token(S, P, N, in->x + o, y + o, in->B + (size_t)(t0 + a) * N,
                      in->C + (size_t)(t0 + a) * N, delta[a], expf(A * delta[a]), in->D[h]);
            a++;
            continue;
        }
        int b = a + 1;
        while (b < nt && cs[b] - base >= REC_SEG_MIN)
            b++;
        exp_affine(cs + a, b - a, -base, 1.0, NULL, pt);
        exp_affine(cs + a, b - a, base, -1.0, delta + a, xsc);
        rec_segment(s, in, h, t0 + a, b - a, pt, xsc, S, y, xs, yb);
        a = b;
    }
}

#else

/* Head h over tokens [t0, t0 + nt), nt <= SSD_TBLK, by the plain step. */
static void rec_block(const op_ssd_shape *s, const op_ssd_in *in, int h, int64_t t0, int nt,
                      float *S, float *y)
{
    const int H = s->H, P = s->P, N = s->N;
    const float A = -expf(in->A_log[h]), Dh = in->D[h];
    float delta[SSD_TBLK], dA[SSD_TBLK];
    ssd_delta(in->dt + t0 * H + h, H, in->dt_bias[h], A, nt, delta, dA);
    for (int i = 0; i < nt; i++) {
        const int64_t t = t0 + i;
        const size_t o = ((size_t)t * H + h) * P;
        rec_token(S, P, N, in->x + o, y + o, in->B + (size_t)t * N, in->C + (size_t)t * N,
                  delta[i], dA[i], Dh);
    }
}

#endif

/* Prefetches head h's x rows (to read) and y rows (to write) of tokens
 * [t, t + n) into L2: the rows of one head are H P floats apart, each on its
 * own page, which the hardware prefetchers do not follow. */
static void prefetch_rows(const op_ssd_shape *s, const op_ssd_in *in, const float *y, int h,
                          int64_t t, int n)
{
#if defined(__GNUC__)
    for (int64_t i = t; i < t + n && i < s->L; i++) {
        const size_t o = ((size_t)i * s->H + h) * s->P;
        for (int p = 0; p < s->P; p += 16) {
            __builtin_prefetch(in->x + o + p, 0, 2);
            __builtin_prefetch(y + o + p, 1, 2);
        }
    }
#else
    (void)s, (void)in, (void)y, (void)h, (void)t, (void)n;
#endif
}

void op_ssd_recurrent_part(const op_ssd_shape *s, const op_ssd_in *in, const float *state0,
                           float *y, float *state, int worker, int n_workers)
{
    const size_t NP = (size_t)s->N * s->P;
    int lo, hi;
    op_ssd_heads(s->H, worker, n_workers, &lo, &hi);
    for (int h = lo; h < hi; h++)
        init_state(state0, state, h, NP);
    /* Token blocks outside, heads inside: a block's x and y rows of the
     * worker's heads are contiguous, and the states wait in L2. */
    for (int64_t t0 = 0; t0 < s->L; t0 += SSD_TBLK) {
        const int nt = (int)(s->L - t0 < SSD_TBLK ? s->L - t0 : SSD_TBLK);
        for (int h = lo; h < hi; h++) {
            prefetch_rows(s, in, y, h, t0 + SSD_TBLK, SSD_TBLK);
            rec_block(s, in, h, t0, nt, state + h * NP, y);
        }
    }
}

/* One token for every head of the worker, by the plain recurrence. */
void op_ssd_step_part(const op_ssd_shape *s, const op_ssd_in *in, float *state, float *y,
                      int worker, int n_workers)
{
    const int P = s->P, N = s->N;
    const size_t NP = (size_t)N * P;
    int lo, hi;
    op_ssd_heads(s->H, worker, n_workers, &lo, &hi);
    for (int h = lo; h < hi; h++) {
        const float A = -expf(in->A_log[h]);
        float delta, dA;
        ssd_delta(in->dt + h, 1, in->dt_bias[h], A, 1, &delta, &dA);
        rec_token(state + h * NP, P, N, in->x + (size_t)h * P, y + (size_t)h * P, in->B, in->C,
                  delta, dA, in->D[h]);
    }
}

/* ---- the tile kernel of the chunked form ------------------------------------------------- */

/* One operand pair of a tile: A (mr x k) at a[i rs + kk cs], B (k x ncols)
 * rows of ldb floats. */
typedef struct ssd_seg {
    const float *a;
    ptrdiff_t rs, cs;
    const float *b;
    ptrdiff_t ldb;
    int k;
} ssd_seg;

#if defined(__AVX512F__)

/* The AVX-512 tile: 6 rows x NV vectors of 16 columns held in 24 named
 * accumulators c<row><vector> (GCC keeps arrays of __m512 in memory when
 * they are indexed in loops, since __m512 may alias any float).  Rows past
 * the tile's mr repeat its last row's A (computed, never stored). */
#define TILE_FMA_ROW(r)                                                                         \
    do {                                                                                        \
        const __m512 av = _mm512_set1_ps(a[o##r]);                                              \
        c##r##0 = _mm512_fmadd_ps(av, b0, c##r##0);                                             \
        if (NV > 1)                                                                             \
            c##r##1 = _mm512_fmadd_ps(av, b1, c##r##1);                                         \
        if (NV > 2)                                                                             \
            c##r##2 = _mm512_fmadd_ps(av, b2, c##r##2);                                         \
        if (NV > 3)                                                                             \
            c##r##3 = _mm512_fmadd_ps(av, b3, c##r##3);                                         \
    } while (0)

#define TILE_STORE_ROW(r)                                                                       \
    do {                                                                                        \
        if (r < mr) {                                                                           \
            float *o = out + (r) * ldo;                                                         \
            const __m512 sc = _mm512_set1_ps(rowscale ? rowscale[r] : 1.0f);                   \
            tile_store(o, m0, _mm512_mul_ps(c##r##0, sc), beta);                                \
            if (NV > 1)                                                                         \
                tile_store(o + 16, m1, _mm512_mul_ps(c##r##1, sc), beta);                       \
            if (NV > 2)                                                                         \
                tile_store(o + 32, m2, _mm512_mul_ps(c##r##2, sc), beta);                       \
            if (NV > 3)                                                                         \
                tile_store(o + 48, m3, _mm512_mul_ps(c##r##3, sc), beta);                       \
        }                                                                                       \
    } while (0)

#define TILE_ZERO_ROW(r) __m512 c##r##0 = z, c##r##1 = z, c##r##2 = z, c##r##3 = z

/* Stores one vector of the tile: out = v + beta out. */
SSD_INLINE void tile_store(float *o, __mmask16 m, __m512 v, float beta)
{
    if (beta != 0.0f)
        v = _mm512_fmadd_ps(_mm512_set1_ps(beta), _mm512_maskz_loadu_ps(m, o), v);
    _mm512_mask_storeu_ps(o, m, v);
}

/* out = rowscale o (A B) + beta out for rows < mr (rowscale NULL: 1; out
 * not read when beta == 0).  NV (column vectors) is a constant at each call. */
SSD_INLINE void tile_k(int NV, int mr, __mmask16 ml, const ssd_seg *sg, const float *rowscale,
                       float *out, ptrdiff_t ldo, float beta)
{
    const __mmask16 m0 = NV == 1 ? ml : 0xffff, m1 = NV == 2 ? ml : 0xffff;
    const __mmask16 m2 = NV == 3 ? ml : 0xffff, m3 = NV == 4 ? ml : 0xffff;
    const __m512 z = _mm512_setzero_ps();
    TILE_ZERO_ROW(0);
    TILE_ZERO_ROW(1);
    TILE_ZERO_ROW(2);
    TILE_ZERO_ROW(3);
    TILE_ZERO_ROW(4);
    TILE_ZERO_ROW(5);
    const float *a = sg->a, *b = sg->b;
    const ptrdiff_t rs = sg->rs, cs = sg->cs, ldb = sg->ldb, last = (ptrdiff_t)(mr - 1) * rs;
    const ptrdiff_t o0 = 0, o1 = mr > 1 ? rs : last, o2 = mr > 2 ? 2 * rs : last;
    const ptrdiff_t o3 = mr > 3 ? 3 * rs : last, o4 = mr > 4 ? 4 * rs : last;
    const ptrdiff_t o5 = mr > 5 ? 5 * rs : last;
    for (int kk = 0; kk < sg->k; kk++, a += cs, b += ldb) {
        const __m512 b0 = _mm512_maskz_loadu_ps(m0, b);
        const __m512 b1 = NV > 1 ? _mm512_maskz_loadu_ps(m1, b + 16) : z;
        const __m512 b2 = NV > 2 ? _mm512_maskz_loadu_ps(m2, b + 32) : z;
        const __m512 b3 = NV > 3 ? _mm512_maskz_loadu_ps(m3, b + 48) : z;
        TILE_FMA_ROW(0);
        TILE_FMA_ROW(1);
        TILE_FMA_ROW(2);
        TILE_FMA_ROW(3);
        TILE_FMA_ROW(4);
        TILE_FMA_ROW(5);
    }
    TILE_STORE_ROW(0);
    TILE_STORE_ROW(1);
    TILE_STORE_ROW(2);
    TILE_STORE_ROW(3);
    TILE_STORE_ROW(4);
    TILE_STORE_ROW(5);
}

/* The tile kernel for mr <= SSD_MR rows and ncols <= SSD_NC columns:
 * out = rowscale o (A B) + beta out (rowscale NULL: 1; out not read when
 * beta == 0). */
static void tile(int mr, int ncols, const ssd_seg *sg, const float *rowscale, float *out,
                 ptrdiff_t ldo, float beta)
{
    const int nv = (ncols + 15) / 16;
    const __mmask16 ml = lanes(ncols - 16 * (nv - 1));
    switch (nv) {
    case 1: tile_k(1, mr, ml, sg, rowscale, out, ldo, beta); break;
    case 2: tile_k(2, mr, ml, sg, rowscale, out, ldo, beta); break;
    case 3: tile_k(3, mr, ml, sg, rowscale, out, ldo, beta); break;
    default: tile_k(4, mr, ml, sg, rowscale, out, ldo, beta); break;
    }
}

#else

static void tile(int mr, int ncols, const ssd_seg *sg, const float *rowscale, float *out,
                 ptrdiff_t ldo, float beta)
{
    float acc[SSD_MR][SSD_NC];
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < ncols; j++)
            acc[i][j] = 0.0f;
    for (int kk = 0; kk < sg->k; kk++) {
        const float *b = sg->b + kk * sg->ldb;
        for (int i = 0; i < mr; i++) {
            const float av = sg->a[i * sg->rs + kk * sg->cs];
            for (int j = 0; j < ncols; j++)
                acc[i][j] += av * b[j];
        }
    }
    for (int i = 0; i < mr; i++) {
        const float sc = rowscale ? rowscale[i] : 1.0f;
        for (int j = 0; j < ncols; j++) {
            float *o = out + i * ldo + j;
            *o = beta != 0.0f ? sc * acc[i][j] + beta * *o : sc * acc[i][j];
        }
    }
}

#endif

/* ---- chunked ----------------------------------------------------------------------------- */

/* One worker's scratch, carved from its region (offsets in 64-byte units). */
typedef struct ssd_ws {
    float *xp;     /* (Q, P) the head's x rows of the chunk, packed */
    float *bt;     /* (N, Qp) B of the chunk transposed */
    float *g;      /* (Q, Qp) G = C B^T (lower-triangle tiles only) */
    float *mrow;   /* (SSD_MR, Qp) rows of the decay-masked M for one tile row */
    float *xw;     /* (Q, P) x rows scaled by w_s = exp(cs_last - cs_s) delta_s */
    double *cs;    /* (Qp) cumulative A delta inside the chunk */
    float *delta;  /* (Qp) */
    float *ecs;    /* (Qp) exp(cs_l) */
    float *w;      /* (Qp) exp(cs_last - cs_s) delta_s */
} ssd_ws;

/* Bytes of one worker's region (64-byte multiples) and its layout. */
static size_t ws_bytes(int q, int P, int N, ssd_ws *ws, char *base)
{
    const size_t Qp = round_up((size_t)q, 16);
    size_t off = 0;
#define WS_TAKE(field, type, count)                                                             \
    do {                                                                                        \
        if (ws)                                                                                 \
            ws->field = (type *)(void *)(base + off);                                           \
        off += round_up((size_t)(count) * sizeof(type), 64);                                    \
    } while (0)
    WS_TAKE(xp, float, (size_t)q * P);
    WS_TAKE(bt, float, (size_t)N * Qp);
    WS_TAKE(g, float, (size_t)q * Qp);
    WS_TAKE(mrow, float, (size_t)SSD_MR * Qp);
    WS_TAKE(xw, float, (size_t)q * P);
    WS_TAKE(cs, double, Qp);
    WS_TAKE(delta, float, Qp);
    WS_TAKE(ecs, float, Qp);
    WS_TAKE(w, float, Qp);
#undef WS_TAKE
    return off;
}

static int clamp_q(int q, int64_t L) { return q < 1 ? 1 : (int64_t)q > L ? (int)L : q; }

size_t op_ssd_chunked_scratch_bytes(const op_ssd_shape *s, int q, int n_workers)
{
    q = clamp_q(q, s->L);
    return 64 + (size_t)n_workers * ws_bytes(q, s->P, s->N, NULL, NULL);
}

/* G (Qc x Qc, rows of Qp) = C_c B_c^T for the tiles on or below the diagonal;
 * bt receives B_c transposed. */
static void chunk_gram(const float *Cc /* (Qc, N) */, const float *Bc /* (Qc, N) */, int Qc,
                       int N, size_t Qp, float *bt, float *g)
{
    for (int sidx = 0; sidx < Qc; sidx++)
        for (int n = 0; n < N; n++)
            bt[(size_t)n * Qp + sidx] = Bc[(size_t)sidx * N + n];
    for (int i0 = 0; i0 < Qc; i0 += SSD_MR) {
        const int mr = imin(SSD_MR, Qc - i0);
        for (int j0 = 0; j0 < i0 + mr; j0 += SSD_NC) {
            ssd_seg sg = {Cc + (size_t)i0 * N, N, 1, bt + j0, (ptrdiff_t)Qp, N};
            tile(mr, imin(SSD_NC, i0 + mr - j0), &sg, NULL, g + (size_t)i0 * Qp + j0,
                 (ptrdiff_t)Qp, 0.0f);
        }
    }
}

/* Rows [i0, i0 + mr) of M: M[l, s] = G[l, s] exp(cs_l - cs_s) delta_s for
 * s <= l, 0 for l < s < i0 + mr, plus Dh on the diagonal. */
static void build_m(const ssd_ws *ws, size_t Qp, int i0, int mr, float Dh)
{
    const int kend = i0 + mr;
    for (int r = 0; r < mr; r++) {
        const int l = i0 + r;
        const float *grow = ws->g + (size_t)l * Qp;
        float *mr_row = ws->mrow + (size_t)r * Qp;
#if defined(__AVX512F__)
        const __m512d csl = _mm512_set1_pd(ws->cs[l]);
        for (int s0 = 0; s0 < kend; s0 += 16) {
            const __mmask16 m = lanes(imin(kend, l + 1) - s0);
            const __m512d c0 = _mm512_maskz_loadu_pd((__mmask8)m, ws->cs + s0);
            const __m512d c1 = _mm512_maskz_loadu_pd((__mmask8)(m >> 8), ws->cs + s0 + 8);
            const __m512 e = v_exp(v_cvt16(_mm512_sub_pd(csl, c0), _mm512_sub_pd(csl, c1)), m);
            __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, grow + s0),
                                     _mm512_mul_ps(e, _mm512_maskz_loadu_ps(m, ws->delta + s0)));
            _mm512_storeu_ps(mr_row + s0, v);
        }
#else
        for (int s = 0; s < kend; s++) {
            float v = 0.0f;
            if (s <= l) {
                float arg = (float)(ws->cs[l] - ws->cs[s]);
                v = arg < SSD_EXP_MIN ? 0.0f : grow[s] * expf(arg) * ws->delta[s];
            }
            mr_row[s] = v;
        }
#endif
        mr_row[l] += Dh;
    }
}

/* The per-head scalars of a chunk: delta, cs (double), exp(cs), w, and the
 * packed x rows, plain and scaled by w.  Returns exp(cs_last). */
static float chunk_head_prep(const op_ssd_shape *s, const op_ssd_in *in, const ssd_ws *ws,
                             int64_t c0, int Qc, int h)
{
    const int H = s->H, P = s->P;
    const float A = -expf(in->A_log[h]);
    for (int i = 0; i < Qc; i += SSD_TBLK)
        ssd_delta(in->dt + (c0 + i) * H + h, H, in->dt_bias[h], A, imin(SSD_TBLK, Qc - i),
                  ws->delta + i, NULL);
    double acc = 0.0;
    for (int l = 0; l < Qc; l++) {
        acc += (double)A * ws->delta[l];
        ws->cs[l] = acc;
    }
    const double total = acc;
    exp_affine(ws->cs, Qc, 0.0, 1.0, NULL, ws->ecs);        /* exp(cs_l) */
    exp_affine(ws->cs, Qc, total, -1.0, ws->delta, ws->w); /* exp(cs_last - cs_s) delta_s */
    for (int l = 0; l < Qc; l++) {
        const float w = ws->w[l];
        const float *xrow = in->x + ((size_t)(c0 + l) * H + h) * P;
        float *xp = ws->xp + (size_t)l * P, *xw = ws->xw + (size_t)l * P;
        for (int p = 0; p < P; p++) {
            xp[p] = xrow[p];
            xw[p] = w * xrow[p];
        }
    }
    return (float)total < SSD_EXP_MIN ? 0.0f : expf((float)total);
}

/* One head of one chunk: y rows of the chunk, then the state carried on. */
static void chunk_head(const op_ssd_shape *s, const op_ssd_in *in, const ssd_ws *ws, int64_t c0,
                       int Qc, size_t Qp, int h, float *S, int has_state, float *y)
{
    const int H = s->H, P = s->P, N = s->N;
    const float decay = chunk_head_prep(s, in, ws, c0, Qc, h);
    const float *Cc = in->C + (size_t)c0 * N;
    /* y = exp(cs) o (C S_prev) + M X, tile row by tile row (the first
     * product only when there is a state to carry). */
    for (int i0 = 0; i0 < Qc; i0 += SSD_MR) {
        const int mr = imin(SSD_MR, Qc - i0);
        build_m(ws, Qp, i0, mr, in->D[h]);
        for (int p0 = 0; p0 < P; p0 += SSD_NC) {
            float *yt = y + ((size_t)(c0 + i0) * H + h) * P + p0;
            const int nc = imin(SSD_NC, P - p0);
            if (has_state) {
                ssd_seg off = {Cc + (size_t)i0 * N, N, 1, S + p0, P, N};
                tile(mr, nc, &off, ws->ecs + i0, yt, (ptrdiff_t)H * P, 0.0f);
            }
            ssd_seg dia = {ws->mrow, (ptrdiff_t)Qp, 1, ws->xp + p0, P, i0 + mr};
            tile(mr, nc, &dia, NULL, yt, (ptrdiff_t)H * P, has_state ? 1.0f : 0.0f);
        }
    }
    /* S = exp(cs_last) S + B^T Xw. */
    for (int n0 = 0; n0 < N; n0 += SSD_MR) {
        const int mr = imin(SSD_MR, N - n0);
        for (int p0 = 0; p0 < P; p0 += SSD_NC) {
            ssd_seg st = {in->B + (size_t)c0 * N + n0, 1, N, ws->xw + p0, P, Qc};
            tile(mr, imin(SSD_NC, P - p0), &st, NULL, S + (size_t)n0 * P + p0, P,
                 has_state ? decay : 0.0f);
        }
    }
}

void op_ssd_chunked_part(const op_ssd_shape *s, const op_ssd_in *in, int q, const float *state0,
                         float *y, float *state, void *scratch, int worker, int n_workers)
{
    const int N = s->N, P = s->P;
    const size_t NP = (size_t)N * P;
    q = clamp_q(q, s->L);
    const size_t Qp = round_up((size_t)q, 16);
    int lo, hi;
    op_ssd_heads(s->H, worker, n_workers, &lo, &hi);
    if (lo >= hi)
        return;
    char *base = (char *)round_up((size_t)(uintptr_t)scratch, 64);
    ssd_ws ws;
    const size_t region = ws_bytes(q, P, N, NULL, NULL);
    ws_bytes(q, P, N, &ws, base + (size_t)worker * region);
    for (int h = lo; h < hi; h++)
        init_state(state0, state, h, NP);
    int has_state = state0 != NULL;
    for (int64_t c0 = 0; c0 < s->L; c0 += q) {
        const int Qc = (int)(s->L - c0 < q ? s->L - c0 : q);
        chunk_gram(in->C + (size_t)c0 * N, in->B + (size_t)c0 * N, Qc, N, Qp, ws.bt, ws.g);
        for (int h = lo; h < hi; h++) {
            prefetch_rows(s, in, y, h, c0 + q, q);
            chunk_head(s, in, &ws, c0, Qc, Qp, h, state + h * NP, has_state, y);
        }
        has_state = 1;
    }
}

/* ---- cost model -------------------------------------------------------------------------- */

/* The plain step: 5 P N + 3 P + 4 per token and head. */
static double rec_token_flops(const op_ssd_shape *s)
{
    return (double)s->H * (5.0 * s->P * s->N + 3.0 * s->P + 4.0);
}

double op_ssd_recurrent_flops(const op_ssd_shape *s)
{
#if defined(__AVX512F__)
    /* The rescaled form: 4 P N + 4 P + 8 per token and head, and the state
     * rescaled (P N) once per segment: counted once per 64-token block, the
     * fewest segments there can be. */
    const double blocks = (double)((s->L + SSD_TBLK - 1) / SSD_TBLK);
    return (double)s->L * s->H * (4.0 * s->P * s->N + 4.0 * s->P + 8.0) +
           blocks * s->H * (double)s->P * s->N;
#else
    return (double)s->L * rec_token_flops(s);
#endif
}

double op_ssd_step_flops(const op_ssd_shape *s) { return rec_token_flops(s); }

double op_ssd_chunked_flops(const op_ssd_shape *s, int q, int from_zero_state)
{
    const double H = s->H, P = s->P, N = s->N;
    q = clamp_q(q, s->L);
    double f = 0.0;
    for (int64_t c0 = 0; c0 < s->L; c0 += q) {
        const double Qc = (double)(s->L - c0 < q ? s->L - c0 : q);
        const double tri = Qc * (Qc + 1.0);
        f += tri * N;                                   /* G = C B^T, lower triangle */
        double head = tri * P + 1.5 * tri               /* masked Y_diag; decay mask */
                      + 2.0 * Qc * N * P + 2.0 * N * P  /* chunk state; state decay */
                      + Qc * P + 8.0 * Qc;              /* x scaling; per-token scalars */
        if (!(from_zero_state && c0 == 0))
            head += 2.0 * Qc * N * P + Qc * P;          /* Y_off and its row scaling */
        f += H * head;
    }
    return f;
}

double op_ssd_prefill_bytes(const op_ssd_shape *s)
{
    const double L = (double)s->L, H = s->H, P = s->P, N = s->N;
    return 4.0 * (2.0 * L * H * P + L * H + 2.0 * L * N + 3.0 * H + H * N * P);
}

double op_ssd_step_bytes(const op_ssd_shape *s)
{
    const double H = s->H, P = s->P, N = s->N;
    return 4.0 * (2.0 * H * P + H + 2.0 * N + 3.0 * H + 2.0 * H * N * P);
}

double op_ssd_state_bytes(const op_ssd_shape *s) { return 4.0 * s->H * s->N * s->P; }
