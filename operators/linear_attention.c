/* operators/linear_attention.c — causal linear attention and retention:
 * references, fast recurrent / chunked / parallel / step kernels, cost model
 * (see linear_attention.h for the maths, layouts and tolerance).
 *
 * Inside a fast kernel every head works on copies padded to Dp = D rounded
 * up to 16 floats (zeros beyond D), so the vector code never needs a tail;
 * the padding lives in the worker's scratch.  The building blocks:
 *
 *   la_gemm    C (m, n) = [beta C +] A B for small, L1/L2-resident operands,
 *              A read through (row, column) strides so K^T needs no copy;
 *              register tiles of 6 rows x 64 columns (AVX-512).
 *   rec_tile   the recurrence over a tile of tokens for a block of 4 state
 *              rows x 64 columns held in registers.
 *   tr16       a 16 x 16 in-register transpose (K -> K^T for Q K^T).
 *   pf_part    software prefetch of the next tile's / chunk's rows, spread over
 *              the current one's compute (without it the preparation of each
 *              tile stalls on memory: ~110 instead of ~160 GFLOP/s at L = 4096).
 *
 * Never: allocate (scratch comes from the caller), do I/O, touch heads
 * outside the worker's share. */
#include "operators/linear_attention.h"
#include "operators/vmath.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#define LA_ISA "avx512f"
#else
#define LA_ISA "portable"
#endif

#if defined(__GNUC__)
#define LA_INLINE static inline __attribute__((always_inline))
#else
#define LA_INLINE static inline
#endif

#define VW 16      /* floats per vector and padding unit */
#define GMR 6      /* rows of a la_gemm register tile */
#define RMR 4      /* state rows of a rec_tile block */
#define NVMAX 4    /* vectors per tile row: 64 columns */
#define LA_TINY 1e-30 /* decay factors below this are stored as 0 (no denormals) */

const char *op_la_isa(void) { return LA_ISA; }

static int imin(int a, int b) { return a < b ? a : b; }
static int rup(int a, int b) { return (a + b - 1) / b * b; }

void op_la_heads(int n_heads, int worker, int n_workers, int *h0, int *h1)
{
    *h0 = (int)((int64_t)n_heads * worker / n_workers);
    *h1 = (int)((int64_t)n_heads * (worker + 1) / n_workers);
}

float op_retention_gamma(int h, int n_heads)
{
    double e = n_heads > 1 ? 5.0 + 7.0 * h / (n_heads - 1) : 5.0;
    return (float)(1.0 - exp2(-e));
}

double op_la_phi(double x) { return x > 0.0 ? x + 1.0 : exp(x); }

/* gamma^e as a float, 0 below LA_TINY. */
static float pow_flush(double g, double e)
{
    double p = pow(g, e);
    return p < LA_TINY ? 0.0f : (float)p;
}

/* ---- references ---------------------------------------------------------------------------- */

void op_linattn_ref_row(const float *Q, const float *K, const float *V, int64_t L, int D,
                        int64_t t, double *o, double *mag)
{
    (void)L;
    double pq[OP_LA_MAX_HEAD_DIM];
    for (int d = 0; d < D; d++) {
        pq[d] = op_la_phi(Q[(size_t)t * D + d]);
        o[d] = 0.0;
        if (mag)
            mag[d] = 0.0;
    }
    double den = 0.0;
    for (int64_t j = 0; j <= t; j++) {
        const float *kj = K + (size_t)j * D, *vj = V + (size_t)j * D;
        double w = 0.0;
        for (int d = 0; d < D; d++)
            w += pq[d] * op_la_phi(kj[d]);
        den += w;
        for (int d = 0; d < D; d++) {
            o[d] += w * vj[d];
            if (mag)
                mag[d] += w * fabs(vj[d]);
        }
    }
    for (int d = 0; d < D; d++) {
        o[d] /= den;
        if (mag)
            mag[d] /= den;
    }
}

void op_retention_ref_row(const float *Q, const float *K, const float *V, int64_t L, int D,
                          float gamma, int64_t t, double *o, double *mag)
{
    (void)L;
    const double scale = 1.0 / sqrt((double)D);
    const float *qt = Q + (size_t)t * D;
    for (int d = 0; d < D; d++) {
        o[d] = 0.0;
        if (mag)
            mag[d] = 0.0;
    }
    double decay = 1.0; /* gamma^(t-j), j running down from t */
    for (int64_t j = t; j >= 0; j--, decay *= gamma) {
        const float *kj = K + (size_t)j * D, *vj = V + (size_t)j * D;
        double w = 0.0, wa = 0.0;
        for (int d = 0; d < D; d++) {
            w += (double)qt[d] * kj[d];
            wa += fabs((double)qt[d] * kj[d]);
        }
        w *= decay * scale;
        wa *= decay * scale;
        for (int d = 0; d < D; d++) {
            o[d] += w * vj[d];
            if (mag)
                mag[d] += wa * fabs(vj[d]);
        }
    }
}

void op_linattn_ref(const float *Q, const float *K, const float *V, float *O, int n_heads,
                    int64_t L, int D)
{
    double o[OP_LA_MAX_HEAD_DIM];
    for (int h = 0; h < n_heads; h++) {
        size_t off = (size_t)h * L * D;
        for (int64_t t = 0; t < L; t++) {
            op_linattn_ref_row(Q + off, K + off, V + off, L, D, t, o, NULL);
            for (int d = 0; d < D; d++)
                O[off + (size_t)t * D + d] = (float)o[d];
        }
    }
}

void op_retention_ref(const float *Q, const float *K, const float *V, const float *gamma,
                      float *O, int n_heads, int64_t L, int D)
{
    double o[OP_LA_MAX_HEAD_DIM];
    for (int h = 0; h < n_heads; h++) {
        size_t off = (size_t)h * L * D;
        for (int64_t t = 0; t < L; t++) {
            op_retention_ref_row(Q + off, K + off, V + off, L, D, gamma[h], t, o, NULL);
            for (int d = 0; d < D; d++)
                O[off + (size_t)t * D + d] = (float)o[d];
        }
    }
}

void op_linattn_step_out_ref(const float *S, const float *z, const float *q, int D, double *o,
                             double *mag)
{
    double pq[OP_LA_MAX_HEAD_DIM], den = 0.0;
    for (int i = 0; i < D; i++) {
        pq[i] = op_la_phi(q[i]);
        den += pq[i] * z[i];
    }
    for (int j = 0; j < D; j++) {
        double s = 0.0, a = 0.0;
        for (int i = 0; i < D; i++) {
            s += pq[i] * S[(size_t)i * D + j];
            a += pq[i] * fabs(S[(size_t)i * D + j]);
        }
        o[j] = s / den;
        if (mag)
            mag[j] = a / den;
    }
}

void op_retention_step_out_ref(const float *S, const float *q, int D, double *o, double *mag)
{
    const double scale = 1.0 / sqrt((double)D);
    for (int j = 0; j < D; j++) {
        double s = 0.0, a = 0.0;
        for (int i = 0; i < D; i++) {
            s += (double)q[i] * S[(size_t)i * D + j];
            a += fabs((double)q[i] * S[(size_t)i * D + j]);
        }
        o[j] = s * scale;
        if (mag)
            mag[j] = a * scale;
    }
}

/* ---- vector primitives ---------------------------------------------------------------------- */

#if defined(__AVX512F__)

/* The lanes [0, n) of a 16-lane vector (n may be <= 0 or >= 16). */
static inline __mmask16 lane_mask(int n)
{
    return n >= 16 ? (__mmask16)0xffff : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

/* exp(x) for x <= 0, argument clamped at -80: the shared exp
 * (operators/vmath.h) behind the clamp the portable phi_f also applies. */
static inline __m512 exp_le0(__m512 x) { return vm_exp512(_mm512_max_ps(x, _mm512_set1_ps(-80.0f))); }

/* phi(x) = x + 1 for x > 0, exp(x) otherwise. */
static inline __m512 phi_vec(__m512 x)
{
    __mmask16 pos = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GT_OQ);
    __m512 e = exp_le0(_mm512_min_ps(x, _mm512_setzero_ps()));
    return _mm512_mask_add_ps(e, pos, x, _mm512_set1_ps(1.0f));
}

/* y[0..Dp) = phi(x[0..D)), zeros beyond D. */
static void phi_row(const float *x, float *y, int D, int Dp)
{
    for (int d = 0; d < Dp; d += VW) {
        __mmask16 m = lane_mask(D - d);
        _mm512_storeu_ps(y + d, _mm512_maskz_mov_ps(m, phi_vec(_mm512_maskz_loadu_ps(m, x + d))));
    }
}

/* y[0..Dp) = s x[0..D), zeros beyond D. */
static void scale_row(const float *x, float s, float *y, int D, int Dp)
{
    __m512 sv = _mm512_set1_ps(s);
    for (int d = 0; d < Dp; d += VW) {
        __mmask16 m = lane_mask(D - d);
        _mm512_storeu_ps(y + d, _mm512_mul_ps(sv, _mm512_maskz_loadu_ps(m, x + d)));
    }
}

/* sum_d a[d] b[d] over n (a multiple of 16) floats. */
static float dot_pad(const float *a, const float *b, int n)
{
    __m512 s = _mm512_setzero_ps();
    for (int d = 0; d < n; d += VW)
        s = _mm512_fmadd_ps(_mm512_loadu_ps(a + d), _mm512_loadu_ps(b + d), s);
    return _mm512_reduce_add_ps(s);
}

/* y[0..n) += x[0..n), n a multiple of 16. */
static void add_pad(float *y, const float *x, int n)
{
    for (int d = 0; d < n; d += VW)
        _mm512_storeu_ps(y + d, _mm512_add_ps(_mm512_loadu_ps(y + d), _mm512_loadu_ps(x + d)));
}

/* y[0..D) = s x[0..D) (unpadded output row). */
static void store_row(const float *x, float s, float *y, int D)
{
    __m512 sv = _mm512_set1_ps(s);
    for (int d = 0; d < D; d += VW) {
        __mmask16 m = lane_mask(D - d);
        _mm512_mask_storeu_ps(y + d, m, _mm512_mul_ps(sv, _mm512_loadu_ps(x + d)));
    }
}

/* a[0..n) *= m[0..n) (n a multiple of 16); returns the sum of the products. */
static float mask_row(float *a, const float *m, int n)
{
    __m512 s = _mm512_setzero_ps();
    for (int j = 0; j < n; j += VW) {
        __m512 x = _mm512_mul_ps(_mm512_loadu_ps(a + j), _mm512_loadu_ps(m + j));
        _mm512_storeu_ps(a + j, x);
        s = _mm512_add_ps(s, x);
    }
    return _mm512_reduce_add_ps(s);
}

/* z[0..D) += kf; returns qf . z (the updated z).  kf, qf padded to 16. */
static float z_update_dot(float *z, const float *kf, const float *qf, int D)
{
    __m512 s = _mm512_setzero_ps();
    for (int d = 0; d < D; d += VW) {
        __mmask16 m = lane_mask(D - d);
        __m512 zv = _mm512_add_ps(_mm512_maskz_loadu_ps(m, z + d), _mm512_loadu_ps(kf + d));
        _mm512_mask_storeu_ps(z + d, m, zv);
        s = _mm512_fmadd_ps(_mm512_loadu_ps(qf + d), zv, s);
    }
    return _mm512_reduce_add_ps(s);
}

/* dst[0..16)[0..16) (row stride ldd) = transpose of src (16 rows, stride lds). */
static void tr16(const float *src, ptrdiff_t lds, float *dst, ptrdiff_t ldd)
{
    __m512 r[16], t[16];
    for (int i = 0; i < 16; i++)
        r[i] = _mm512_loadu_ps(src + i * lds);
    for (int i = 0; i < 8; i++) { /* 32-bit interleave of row pairs */
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) { /* 64-bit interleave: r[4i+m] lane L = column 4L+m of rows 4i.. */
        __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
        __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
        r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    for (int m = 0; m < 4; m++) { /* gather the 128-bit lanes of column 4L+m */
        __m512 x = _mm512_shuffle_f32x4(r[m], r[4 + m], 0x88);
        __m512 y = _mm512_shuffle_f32x4(r[m], r[4 + m], 0xdd);
        __m512 xx = _mm512_shuffle_f32x4(r[8 + m], r[12 + m], 0x88);
        __m512 yy = _mm512_shuffle_f32x4(r[8 + m], r[12 + m], 0xdd);
        _mm512_storeu_ps(dst + m * ldd, _mm512_shuffle_f32x4(x, xx, 0x88));
        _mm512_storeu_ps(dst + (8 + m) * ldd, _mm512_shuffle_f32x4(x, xx, 0xdd));
        _mm512_storeu_ps(dst + (4 + m) * ldd, _mm512_shuffle_f32x4(y, yy, 0x88));
        _mm512_storeu_ps(dst + (12 + m) * ldd, _mm512_shuffle_f32x4(y, yy, 0xdd));
    }
}

#else /* portable */

static float phi_f(float x) { return x > 0.0f ? x + 1.0f : expf(x < -80.0f ? -80.0f : x); }

static void phi_row(const float *x, float *y, int D, int Dp)
{
    for (int d = 0; d < Dp; d++)
        y[d] = d < D ? phi_f(x[d]) : 0.0f;
}

static void scale_row(const float *x, float s, float *y, int D, int Dp)
{
    for (int d = 0; d < Dp; d++)
        y[d] = d < D ? s * x[d] : 0.0f;
}

static float dot_pad(const float *a, const float *b, int n)
{
    float s = 0.0f;
    for (int d = 0; d < n; d++)
        s += a[d] * b[d];
    return s;
}

static void add_pad(float *y, const float *x, int n)
{
    for (int d = 0; d < n; d++)
        y[d] += x[d];
}

static void store_row(const float *x, float s, float *y, int D)
{
    for (int d = 0; d < D; d++)
        y[d] = s * x[d];
}

static float z_update_dot(float *z, const float *kf, const float *qf, int D)
{
    float s = 0.0f;
    for (int d = 0; d < D; d++) {
        z[d] += kf[d];
        s += qf[d] * z[d];
    }
    return s;
}

static float mask_row(float *a, const float *m, int n)
{
    float s = 0.0f;
    for (int j = 0; j < n; j++) {
        a[j] *= m[j];
        s += a[j];
    }
    return s;
}

static void tr16(const float *src, ptrdiff_t lds, float *dst, ptrdiff_t ldd)
{
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++)
            dst[j * ldd + i] = src[i * lds + j];
}

#endif

/* dst (Dp rows, stride ldd) columns [0, 16) = transpose of src (16 rows x Dp, stride lds). */
static void tr_rows16(const float *src, ptrdiff_t lds, int Dp, float *dst, ptrdiff_t ldd)
{
    for (int d0 = 0; d0 < Dp; d0 += VW)
        tr16(src + d0, lds, dst + (ptrdiff_t)d0 * ldd, ldd);
}

/* ---- la_gemm: C (m, n) = [beta C +] sum_p A[r][p] B[p][:] -------------------------------------
 * A[r][p] = a[r * ars + p * acs]; B (kk, n) row-major, stride ldb; C stride ldc;
 * n a multiple of 16.  load_c = 0 overwrites C (not read); 1 gives beta C + A B. */

#if defined(__AVX512F__)

LA_INLINE void gemm_mk(const int M, const int NV, int kk, const float *a, ptrdiff_t ars,
                       ptrdiff_t acs, const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc,
                       float beta, int load_c)
{
    __m512 acc[GMR][NVMAX];
    for (int r = 0; r < M; r++)
        for (int v = 0; v < NV; v++)
            acc[r][v] = _mm512_setzero_ps();
    for (int p = 0; p < kk; p++) {
        __m512 bv[NVMAX];
        for (int v = 0; v < NV; v++)
            bv[v] = _mm512_loadu_ps(b + p * ldb + VW * v);
        for (int r = 0; r < M; r++) {
            __m512 ar = _mm512_set1_ps(a[r * ars + p * acs]);
            for (int v = 0; v < NV; v++)
                acc[r][v] = _mm512_fmadd_ps(ar, bv[v], acc[r][v]);
        }
    }
    __m512 bt = _mm512_set1_ps(beta);
    for (int r = 0; r < M; r++)
        for (int v = 0; v < NV; v++) {
            float *cp = c + r * ldc + VW * v;
            __m512 x = load_c ? _mm512_fmadd_ps(bt, _mm512_loadu_ps(cp), acc[r][v]) : acc[r][v];
            _mm512_storeu_ps(cp, x);
        }
}

#define GEMM_CASE(M, NV) \
    case (M) * 8 + (NV): gemm_mk(M, NV, kk, a, ars, acs, b, ldb, c, ldc, beta, load_c); break

/* One register tile: m (1..GMR) rows, nv (1..NVMAX) vectors. */
static void gemm_tile(int m, int nv, int kk, const float *a, ptrdiff_t ars, ptrdiff_t acs,
                      const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, float beta,
                      int load_c)
{
    switch (m * 8 + nv) {
    GEMM_CASE(1, 1); GEMM_CASE(1, 2); GEMM_CASE(1, 3); GEMM_CASE(1, 4);
    GEMM_CASE(2, 1); GEMM_CASE(2, 2); GEMM_CASE(2, 3); GEMM_CASE(2, 4);
    GEMM_CASE(3, 1); GEMM_CASE(3, 2); GEMM_CASE(3, 3); GEMM_CASE(3, 4);
    GEMM_CASE(4, 1); GEMM_CASE(4, 2); GEMM_CASE(4, 3); GEMM_CASE(4, 4);
    GEMM_CASE(5, 1); GEMM_CASE(5, 2); GEMM_CASE(5, 3); GEMM_CASE(5, 4);
    GEMM_CASE(6, 1); GEMM_CASE(6, 2); GEMM_CASE(6, 3); GEMM_CASE(6, 4);
    default: break;
    }
}

#else

static void gemm_tile(int m, int nv, int kk, const float *a, ptrdiff_t ars, ptrdiff_t acs,
                      const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, float beta,
                      int load_c)
{
    const int n = VW * nv;
    for (int r = 0; r < m; r++) {
        float acc[VW * NVMAX];
        for (int j = 0; j < n; j++)
            acc[j] = 0.0f;
        for (int p = 0; p < kk; p++) {
            float ar = a[r * ars + p * acs];
            const float *bp = b + p * ldb;
            for (int j = 0; j < n; j++)
                acc[j] += ar * bp[j];
        }
        float *cr = c + r * ldc;
        for (int j = 0; j < n; j++)
            cr[j] = load_c ? beta * cr[j] + acc[j] : acc[j];
    }
}

#endif

static void la_gemm(int m, int n, int kk, const float *a, ptrdiff_t ars, ptrdiff_t acs,
                    const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, float beta,
                    int load_c)
{
    for (int i0 = 0; i0 < m; i0 += GMR)
        for (int j0 = 0; j0 < n; j0 += VW * NVMAX)
            gemm_tile(imin(GMR, m - i0), imin(NVMAX, (n - j0) / VW), kk, a + i0 * ars, ars,
                      acs, b + j0, ldb, c + i0 * ldc + j0, ldc, beta, load_c);
}

/* ---- rec_tile: the recurrence over n tokens for state rows [i0, i0+M), columns [c0, c0+16 NV)
 *   for t: S[r][:] += kp[t][i0+r] vp[t][:];  ot[t][:] += qp[t][i0+r] S[r][:]   (r in order)
 * then S *= send.  qp, kp point at column i0, vp, ot and S at column c0; all rows stride Dp. */

#if defined(__AVX512F__)

LA_INLINE void rec_mk(const int M, const int NV, int n, const float *qp, const float *kp,
                      const float *vp, float *ot, float *S, int Dp, float send)
{
    __m512 s[RMR][NVMAX];
    for (int r = 0; r < M; r++)
        for (int v = 0; v < NV; v++)
            s[r][v] = _mm512_loadu_ps(S + r * Dp + VW * v);
    for (int t = 0; t < n; t++) {
        const float *qt = qp + (ptrdiff_t)t * Dp, *kt = kp + (ptrdiff_t)t * Dp;
        float *otp = ot + (ptrdiff_t)t * Dp;
        __m512 vv[NVMAX], o[NVMAX];
        for (int v = 0; v < NV; v++) {
            vv[v] = _mm512_loadu_ps(vp + (ptrdiff_t)t * Dp + VW * v);
            o[v] = _mm512_loadu_ps(otp + VW * v);
        }
        for (int r = 0; r < M; r++) {
            __m512 kb = _mm512_set1_ps(kt[r]), qb = _mm512_set1_ps(qt[r]);
            for (int v = 0; v < NV; v++) {
                s[r][v] = _mm512_fmadd_ps(kb, vv[v], s[r][v]);
                o[v] = _mm512_fmadd_ps(qb, s[r][v], o[v]);
            }
        }
        for (int v = 0; v < NV; v++)
            _mm512_storeu_ps(otp + VW * v, o[v]);
    }
    __m512 sv = _mm512_set1_ps(send);
    for (int r = 0; r < M; r++)
        for (int v = 0; v < NV; v++)
            _mm512_storeu_ps(S + r * Dp + VW * v, _mm512_mul_ps(sv, s[r][v]));
}

#define REC_CASE(M, NV) case (M) * 8 + (NV): rec_mk(M, NV, n, qp, kp, vp, ot, S, Dp, send); break

static void rec_tile(int m, int nv, int n, const float *qp, const float *kp, const float *vp,
                     float *ot, float *S, int Dp, float send)
{
    switch (m * 8 + nv) {
    REC_CASE(1, 1); REC_CASE(1, 2); REC_CASE(1, 3); REC_CASE(1, 4);
    REC_CASE(2, 1); REC_CASE(2, 2); REC_CASE(2, 3); REC_CASE(2, 4);
    REC_CASE(3, 1); REC_CASE(3, 2); REC_CASE(3, 3); REC_CASE(3, 4);
    REC_CASE(4, 1); REC_CASE(4, 2); REC_CASE(4, 3); REC_CASE(4, 4);
    default: break;
    }
}

#else

static void rec_tile(int m, int nv, int n, const float *qp, const float *kp, const float *vp,
                     float *ot, float *S, int Dp, float send)
{
    const int w = VW * nv;
    for (int t = 0; t < n; t++) {
        const float *qt = qp + (ptrdiff_t)t * Dp, *kt = kp + (ptrdiff_t)t * Dp;
        const float *vt = vp + (ptrdiff_t)t * Dp;
        float *otp = ot + (ptrdiff_t)t * Dp;
        for (int r = 0; r < m; r++) {
            float *sr = S + r * Dp;
            for (int j = 0; j < w; j++) {
                sr[j] += kt[r] * vt[j];
                otp[j] += qt[r] * sr[j];
            }
        }
    }
    for (int r = 0; r < m; r++)
        for (int j = 0; j < w; j++)
            S[r * Dp + j] *= send;
}

#endif

/* Prefetching the next tile's or chunk's rows while the current one
 * computes: their preparation would otherwise stall on memory (the hardware
 * prefetcher stops running ahead while no loads touch the stream).  The
 * prefetches are spread over the compute, part `part` of n_parts at a time,
 * so that they neither flood the miss queues nor get evicted from L1 before
 * use.  (Always inlined: as functions of their own GCC deems them free of
 * side effects and deletes the calls.) */
typedef struct la_pf {
    const char *a[4]; /* q, k, v (read) and o (written) rows of the next tile; NULL: none */
    size_t bytes;     /* of each */
} la_pf;

/* The plan for rows [t0, t0 + n) (clipped to L) of q, k, v and o, all (L, D). */
static la_pf pf_plan(const float *q, const float *k, const float *v, const float *o,
                     int64_t t0, int64_t n, int64_t L, int D)
{
    la_pf p;
    memset(&p, 0, sizeof p);
    if (t0 >= L)
        return p;
    if (t0 + n > L)
        n = L - t0;
    const size_t off = (size_t)t0 * D;
    p.a[0] = q ? (const char *)(q + off) : NULL;
    p.a[1] = (const char *)(k + off);
    p.a[2] = (const char *)(v + off);
    p.a[3] = o ? (const char *)(o + off) : NULL;
    p.bytes = (size_t)n * D * sizeof(float);
    return p;
}

LA_INLINE void pf_part(const la_pf *p, int part, int n_parts)
{
#if defined(__GNUC__)
    const size_t lines = (p->bytes + 63) / 64;
    const size_t l0 = lines * part / n_parts, l1 = lines * (part + 1) / n_parts;
    for (size_t l = l0; l < l1; l++) {
        if (p->a[0])
            __builtin_prefetch(p->a[0] + 64 * l, 0, 3);
        if (p->a[1]) {
            __builtin_prefetch(p->a[1] + 64 * l, 0, 3);
            __builtin_prefetch(p->a[2] + 64 * l, 0, 3);
        }
        if (p->a[3])
            __builtin_prefetch(p->a[3] + 64 * l, 1, 3);
    }
#else
    (void)p;
    (void)part;
    (void)n_parts;
#endif
}

/* ---- scratch layouts ------------------------------------------------------------------------- */

/* Carves 64-byte-aligned float arrays from a region; with base NULL it only counts. */
typedef struct carver {
    char *base;
    size_t used;
} carver;

static float *take(carver *c, size_t n_floats)
{
    float *p = c->base ? (float *)(void *)(c->base + c->used) : NULL;
    c->used += (n_floats * sizeof(float) + 63) / 64 * 64;
    return p;
}

/* Worker w's region of a scratch of per-worker size `per` (base aligned up to 64 bytes). */
static char *worker_base(void *scratch, size_t per, int worker)
{
    uintptr_t p = ((uintptr_t)scratch + 63) / 64 * 64;
    return (char *)p + per * (size_t)worker;
}

typedef struct rec_bufs {
    float *qp, *kp, *vp, *ot; /* (OP_LA_TILE, Dp) */
    float *S;                 /* (Dp, Dp) */
    float *z;                 /* (Dp) */
    float *den;               /* (OP_LA_TILE) */
    float *gp, *gn;           /* (OP_LA_TILE + 1): gamma^e, gamma^-e */
} rec_bufs;

static size_t rec_layout(int D, char *base, rec_bufs *b)
{
    const int Dp = rup(D, VW), T = OP_LA_TILE;
    carver c = {base, 0};
    b->qp = take(&c, (size_t)T * Dp);
    b->kp = take(&c, (size_t)T * Dp);
    b->vp = take(&c, (size_t)T * Dp);
    b->ot = take(&c, (size_t)T * Dp);
    b->S = take(&c, (size_t)Dp * Dp);
    b->z = take(&c, (size_t)Dp);
    b->den = take(&c, (size_t)T);
    b->gp = take(&c, (size_t)T + 1);
    b->gn = take(&c, (size_t)T + 1);
    return c.used;
}

size_t op_la_recurrent_scratch_bytes(int D, int n_workers)
{
    rec_bufs b;
    return rec_layout(D, NULL, &b) * (size_t)n_workers + 64;
}

typedef struct chunk_bufs {
    float *Qs, *Qd;    /* (Cp, Dp): queries for Q K^T, and for Q S (row decays applied) */
    float *Ka, *Kd;    /* (Cp, Dp): keys for Q K^T, and for the state update (column decays) */
    float *Kt;         /* (Dp, Cp): Ka transposed */
    float *Vp;         /* (Cp, Dp) */
    float *A;          /* (GMR, Cp): one row block of the masked Q K^T */
    float *Ob;         /* (GMR, Dp): one row block of outputs */
    float *S, *z;      /* (Dp, Dp), (Dp) */
    float *pw;         /* (C + 1): gamma^e */
    float *tab;        /* (2 Cp): tab[Cp - 1 + e] = gamma^-e for e <= 0, else 0 */
} chunk_bufs;

static size_t chunk_layout(int D, int C, char *base, chunk_bufs *b)
{
    const size_t Dp = (size_t)rup(D, VW), Cp = (size_t)rup(C, VW);
    carver c = {base, 0};
    b->Qs = take(&c, Cp * Dp);
    b->Qd = take(&c, Cp * Dp);
    b->Ka = take(&c, Cp * Dp);
    b->Kd = take(&c, Cp * Dp);
    b->Kt = take(&c, Dp * Cp);
    b->Vp = take(&c, Cp * Dp);
    b->A = take(&c, GMR * Cp);
    b->Ob = take(&c, GMR * Dp);
    b->S = take(&c, Dp * Dp);
    b->z = take(&c, Dp);
    b->pw = take(&c, (size_t)C + 1);
    b->tab = take(&c, 2 * Cp);
    return c.used;
}

size_t op_la_chunked_scratch_bytes(int D, int chunk, int n_workers)
{
    chunk_bufs b;
    return chunk_layout(D, chunk > 0 ? chunk : OP_LA_DEFAULT_CHUNK, NULL, &b) *
               (size_t)n_workers + 64;
}

typedef struct par_bufs {
    float *Qs;    /* (Lp, Dp) scaled queries */
    float *Kt;    /* (Lp / B, Dp, B) keys transposed by blocks of B tokens (contiguous
                     tiles: a (Dp, Lp) matrix's rows 64 KiB apart would thrash the caches' sets) */
    float *Vp;    /* (Lp, Dp) */
    float *stage; /* (16, Dp) keys on their way to Kt */
    float *A;     /* (B, B) one masked block of Q K^T */
    float *Ob;    /* (B, Dp) one block of outputs */
    float *tab;   /* (Lp + B): tab[Lp - 1 + e] = gamma^-e for e <= 0, else 0 */
} par_bufs;

static size_t par_layout(int64_t L, int D, char *base, par_bufs *b)
{
    const size_t B = OP_LA_BLOCK, Dp = (size_t)rup(D, VW);
    const size_t Lp = ((size_t)L + B - 1) / B * B;
    carver c = {base, 0};
    b->Qs = take(&c, Lp * Dp);
    b->Kt = take(&c, Dp * Lp);
    b->Vp = take(&c, Lp * Dp);
    b->stage = take(&c, 16 * Dp);
    b->A = take(&c, B * B);
    b->Ob = take(&c, B * Dp);
    b->tab = take(&c, Lp + B);
    return c.used;
}

size_t op_retention_parallel_scratch_bytes(int64_t L, int D, int n_workers)
{
    par_bufs b;
    return par_layout(L, D, NULL, &b) * (size_t)n_workers + 64;
}

/* Copies a head's state S (D, D) [and z (D)] into the padded Sp (Dp, Dp) [zp],
 * or zeros when S is NULL. */
static void state_in(const float *S, const float *z, float *Sp, float *zp, int D, int Dp)
{
    memset(Sp, 0, (size_t)Dp * Dp * sizeof(float));
    memset(zp, 0, (size_t)Dp * sizeof(float));
    if (!S)
        return;
    for (int i = 0; i < D; i++)
        memcpy(Sp + (size_t)i * Dp, S + (size_t)i * D, (size_t)D * sizeof(float));
    if (z)
        memcpy(zp, z, (size_t)D * sizeof(float));
}

static void state_out(const float *Sp, const float *zp, float *S, float *z, int D, int Dp)
{
    if (!S)
        return;
    for (int i = 0; i < D; i++)
        memcpy(S + (size_t)i * D, Sp + (size_t)i * Dp, (size_t)D * sizeof(float));
    if (z)
        memcpy(z, zp, (size_t)D * sizeof(float));
}

/* ---- recurrent ----------------------------------------------------------------------------- */

/* One head.  ret = 0: linear attention (phi, normaliser); 1: retention with gamma. */
static void rec_head(int ret, const float *q, const float *k, const float *v /* (L, D) */,
                     float *o /* (L, D) */, float *S, float *z, int64_t L, int D, float gamma,
                     const rec_bufs *b)
{
    const int Dp = rup(D, VW), T = OP_LA_TILE;
    const float scale = (float)(1.0 / sqrt((double)D));
    state_in(S, z, b->S, b->z, D, Dp);
    for (int e = 0; e <= T; e++) {
        b->gp[e] = ret ? (float)pow(gamma, e) : 1.0f;
        b->gn[e] = ret ? (float)pow(gamma, -e) : 1.0f;
    }
    for (int64_t t0 = 0; t0 < L; t0 += T) {
        const int n = (int)(L - t0 < T ? L - t0 : T);
        const size_t off = (size_t)t0 * D;
        for (int t = 0; t < n; t++) { /* the tile's prepared rows */
            const size_t r = off + (size_t)t * D;
            float *qt = b->qp + (size_t)t * Dp, *kt = b->kp + (size_t)t * Dp;
            if (ret) {
                scale_row(q + r, scale * b->gp[t + 1], qt, D, Dp);
                scale_row(k + r, b->gn[t + 1], kt, D, Dp);
            } else {
                phi_row(q + r, qt, D, Dp);
                phi_row(k + r, kt, D, Dp);
            }
            scale_row(v + r, 1.0f, b->vp + (size_t)t * Dp, D, Dp);
            memset(b->ot + (size_t)t * Dp, 0, (size_t)Dp * sizeof(float));
        }
        const la_pf pf = pf_plan(q, k, v, o, t0 + T, T, L, D);
        const int n_rb = (D + RMR - 1) / RMR;
        const float send = b->gp[n];
        for (int i0 = 0; i0 < D; i0 += RMR) {
            pf_part(&pf, i0 / RMR, n_rb);
            for (int c0 = 0; c0 < Dp; c0 += VW * NVMAX)
                rec_tile(imin(RMR, D - i0), imin(NVMAX, (Dp - c0) / VW), n, b->qp + i0,
                         b->kp + i0, b->vp + c0, b->ot + c0, b->S + (size_t)i0 * Dp + c0, Dp,
                         send);
        }
        for (int t = 0; t < n; t++) {
            float inv = 1.0f;
            if (!ret) { /* z_t and the normaliser phi(q_t).z_t */
                add_pad(b->z, b->kp + (size_t)t * Dp, Dp);
                inv = 1.0f / dot_pad(b->qp + (size_t)t * Dp, b->z, Dp);
            }
            store_row(b->ot + (size_t)t * Dp, inv, o + off + (size_t)t * D, D);
        }
    }
    state_out(b->S, b->z, S, z, D, Dp);
}

void op_linattn_recurrent_part(const float *Q, const float *K, const float *V, float *O,
                               float *S, float *z, int n_heads, int64_t L, int D,
                               void *scratch, int worker, int n_workers)
{
    rec_bufs b;
    size_t per = rec_layout(D, NULL, &b);
    rec_layout(D, worker_base(scratch, per, worker), &b);
    int h0, h1;
    op_la_heads(n_heads, worker, n_workers, &h0, &h1);
    for (int h = h0; h < h1; h++) {
        size_t off = (size_t)h * L * D;
        rec_head(0, Q + off, K + off, V + off, O + off, S ? S + (size_t)h * D * D : NULL,
                 S ? z + (size_t)h * D : NULL, L, D, 1.0f, &b);
    }
}

void op_retention_recurrent_part(const float *Q, const float *K, const float *V, float *O,
                                 float *S, const float *gamma, int n_heads, int64_t L, int D,
                                 void *scratch, int worker, int n_workers)
{
    rec_bufs b;
    size_t per = rec_layout(D, NULL, &b);
    rec_layout(D, worker_base(scratch, per, worker), &b);
    int h0, h1;
    op_la_heads(n_heads, worker, n_workers, &h0, &h1);
    for (int h = h0; h < h1; h++) {
        size_t off = (size_t)h * L * D;
        rec_head(1, Q + off, K + off, V + off, O + off, S ? S + (size_t)h * D * D : NULL, NULL,
                 L, D, gamma[h], &b);
    }
}

/* ---- chunked ------------------------------------------------------------------------------- */

/* The decay tables of a head for chunk length C: pw[e] = gamma^e (e <= C),
 * tab[Cp - 1 + e] = gamma^-e for -(Cp-1) <= e <= 0, 0 for e > 0. */
static void chunk_tables(int ret, float gamma, int C, const chunk_bufs *b)
{
    const int Cp = rup(C, VW);
    for (int e = 0; e <= C; e++)
        b->pw[e] = ret ? pow_flush(gamma, e) : 1.0f;
    for (int e = 0; e < Cp; e++)
        b->tab[Cp - 1 - e] = ret ? pow_flush(gamma, e) : 1.0f;
    for (int e = 1; e <= Cp; e++)
        b->tab[Cp - 1 + e] = 0.0f;
}

/* Prepares chunk rows [0, c) of a head (inputs at the chunk's first row): Vp
 * and the keys of the state update (Kd; Ka for linear attention); unless q is
 * NULL (state only) also Qs, Qd and Kt. */
static void chunk_prep(int ret, const float *q, const float *k, const float *v, int c, int C,
                       int D, const chunk_bufs *b)
{
    const int Dp = rup(D, VW), Cp = rup(C, VW);
    const float scale = (float)(1.0 / sqrt((double)D));
    for (int r = 0; r < c; r++) {
        const size_t in = (size_t)r * D, pr = (size_t)r * Dp;
        if (ret) {
            if (q) {
                scale_row(q + in, scale, b->Qs + pr, D, Dp);
                scale_row(q + in, scale * b->pw[r + 1], b->Qd + pr, D, Dp);
                scale_row(k + in, 1.0f, b->Ka + pr, D, Dp);
            }
            scale_row(k + in, b->pw[c - 1 - r], b->Kd + pr, D, Dp);
        } else {
            if (q)
                phi_row(q + in, b->Qs + pr, D, Dp);
            phi_row(k + in, b->Ka + pr, D, Dp);
        }
        scale_row(v + in, 1.0f, b->Vp + pr, D, Dp);
    }
    if (!q)
        return;
    /* Rows past the chunk's end become zero columns of Kt (finite, masked away). */
    memset(b->Ka + (size_t)c * Dp, 0, (size_t)(Cp - c) * Dp * sizeof(float));
    for (int j0 = 0; j0 < c; j0 += VW)
        tr_rows16(b->Ka + (size_t)j0 * Dp, Dp, Dp, b->Kt + j0, Cp);
}

/* Outputs of chunk rows [i0, i0+m) into o (row i0 of the chunk at o). */
static void chunk_rows(int ret, int i0, int m, int C, int D, const chunk_bufs *b, float *o)
{
    const int Dp = rup(D, VW), Cp = rup(C, VW), ncols = rup(i0 + m, VW);
    const float *Qd = ret ? b->Qd : b->Qs;
    /* A = Qs K^T for these rows, columns [0, ncols), then the causal / decay mask */
    la_gemm(m, ncols, D, b->Qs + (size_t)i0 * Dp, Dp, 1, b->Kt, Cp, b->A, Cp, 0.0f, 0);
    float rowsum[GMR];
    for (int r = 0; r < m; r++)
        rowsum[r] = mask_row(b->A + (size_t)r * Cp, b->tab + (Cp - 1 - (i0 + r)), ncols);
    /* Ob = Qd S_prev + A V (A's columns past row i0+m-1 are masked zeros) */
    la_gemm(m, Dp, D, Qd + (size_t)i0 * Dp, Dp, 1, b->S, Dp, b->Ob, Dp, 0.0f, 0);
    la_gemm(m, Dp, i0 + m, b->A, Cp, 1, b->Vp, Dp, b->Ob, Dp, 1.0f, 1);
    for (int r = 0; r < m; r++) {
        float inv = 1.0f;
        if (!ret)
            inv = 1.0f / (dot_pad(Qd + (size_t)(i0 + r) * Dp, b->z, Dp) + rowsum[r]);
        store_row(b->Ob + (size_t)r * Dp, inv, o + (size_t)r * D, D);
    }
}

/* One head; o may be NULL (state only). */
static void chunk_head(int ret, const float *q, const float *k, const float *v, float *o,
                       float *S, float *z, int64_t L, int D, int C, float gamma,
                       const chunk_bufs *b)
{
    const int Dp = rup(D, VW);
    state_in(S, z, b->S, b->z, D, Dp);
    chunk_tables(ret, gamma, C, b);
    for (int64_t t0 = 0; t0 < L; t0 += C) {
        const int c = (int)(L - t0 < C ? L - t0 : C);
        const size_t off = (size_t)t0 * D;
        chunk_prep(ret, o ? q + off : NULL, k + off, v + off, c, C, D, b);
        /* (the output rows are not prefetched for writing here: measured slower) */
        const la_pf pf = pf_plan(o ? q : NULL, k, v, NULL, t0 + C, C, L, D);
        const int n_rb = o ? (c + GMR - 1) / GMR : 0, n_sb = (D + GMR - 1) / GMR;
        if (o)
            for (int i0 = 0; i0 < c; i0 += GMR) {
                pf_part(&pf, i0 / GMR, n_rb + n_sb);
                chunk_rows(ret, i0, imin(GMR, c - i0), C, D, b, o + off + (size_t)i0 * D);
            }
        /* S = gamma^c S + Kd^T V (by row blocks, prefetching between them); z += sum phi(k) */
        const float *Kd = ret ? b->Kd : b->Ka;
        for (int i0 = 0; i0 < D; i0 += GMR) {
            pf_part(&pf, n_rb + i0 / GMR, n_rb + n_sb);
            la_gemm(imin(GMR, D - i0), Dp, c, Kd + i0, 1, Dp, b->Vp, Dp, b->S + (size_t)i0 * Dp,
                    Dp, b->pw[c], 1);
        }
        if (!ret)
            for (int r = 0; r < c; r++)
                add_pad(b->z, Kd + (size_t)r * Dp, Dp);
    }
    state_out(b->S, b->z, S, z, D, Dp);
}

/* The chunk length used: the default for 0, never longer than L. */
static int chunk_len(int chunk, int64_t L)
{
    int C = chunk > 0 ? chunk : OP_LA_DEFAULT_CHUNK;
    return L < C ? (int)L : C;
}

void op_linattn_chunked_part(const float *Q, const float *K, const float *V, float *O,
                             float *S, float *z, int n_heads, int64_t L, int D, int chunk,
                             void *scratch, int worker, int n_workers)
{
    chunk_bufs b;
    const int Cs = chunk > 0 ? chunk : OP_LA_DEFAULT_CHUNK, C = chunk_len(chunk, L);
    size_t per = chunk_layout(D, Cs, NULL, &b);
    chunk_layout(D, C, worker_base(scratch, per, worker), &b);
    int h0, h1;
    op_la_heads(n_heads, worker, n_workers, &h0, &h1);
    for (int h = h0; h < h1; h++) {
        size_t off = (size_t)h * L * D;
        chunk_head(0, Q ? Q + off : NULL, K + off, V + off, O ? O + off : NULL,
                   S ? S + (size_t)h * D * D : NULL, S ? z + (size_t)h * D : NULL, L, D, C,
                   1.0f, &b);
    }
}

void op_retention_chunked_part(const float *Q, const float *K, const float *V, float *O,
                               float *S, const float *gamma, int n_heads, int64_t L, int D,
                               int chunk, void *scratch, int worker, int n_workers)
{
    chunk_bufs b;
    const int Cs = chunk > 0 ? chunk : OP_LA_DEFAULT_CHUNK, C = chunk_len(chunk, L);
    size_t per = chunk_layout(D, Cs, NULL, &b);
    chunk_layout(D, C, worker_base(scratch, per, worker), &b);
    int h0, h1;
    op_la_heads(n_heads, worker, n_workers, &h0, &h1);
    for (int h = h0; h < h1; h++) {
        size_t off = (size_t)h * L * D;
        chunk_head(1, Q ? Q + off : NULL, K + off, V + off, O ? O + off : NULL,
                   S ? S + (size_t)h * D * D : NULL, NULL, L, D, C, gamma[h], &b);
    }
}

/* ---- parallel (retention) -------------------------------------------------------------------- */

static void par_head(const float *q, const float *k, const float *v, float *o, int64_t L, int D,
                     float gamma, const par_bufs *b)
{
    const int B = OP_LA_BLOCK, Dp = rup(D, VW);
    const int64_t Lp = (L + B - 1) / B * B;
    const float scale = (float)(1.0 / sqrt((double)D));
    /* Qs, Vp, Kt (columns past L zero) and the Toeplitz table */
    for (int64_t t = 0; t < L; t++) {
        scale_row(q + (size_t)t * D, scale, b->Qs + (size_t)t * Dp, D, Dp);
        scale_row(v + (size_t)t * D, 1.0f, b->Vp + (size_t)t * Dp, D, Dp);
    }
    for (int64_t t0 = 0; t0 < Lp; t0 += 16) {
        for (int r = 0; r < 16; r++) {
            float *sr = b->stage + (size_t)r * Dp;
            if (t0 + r < L)
                scale_row(k + (size_t)(t0 + r) * D, 1.0f, sr, D, Dp);
            else
                memset(sr, 0, (size_t)Dp * sizeof(float));
        }
        tr_rows16(b->stage, Dp, Dp, b->Kt + (size_t)(t0 / B) * Dp * B + t0 % B, B);
    }
    float *tab0 = b->tab + (Lp - 1); /* tab0[e] = gamma^-e (e <= 0), 0 (e > 0) */
    double g = 1.0;
    for (int64_t e = 0; e < Lp; e++, g *= gamma)
        tab0[-e] = g < LA_TINY ? 0.0f : (float)g;
    for (int e = 1; e <= B; e++)
        tab0[e] = 0.0f;
    for (int64_t i0 = 0; i0 < L; i0 += B) {
        const int m = (int)(L - i0 < B ? L - i0 : B);
        for (int64_t j0 = 0; j0 <= i0; j0 += B) {
            const int diag = j0 == i0, ncols = diag ? rup(m, VW) : B, kk = diag ? m : B;
            la_gemm(m, ncols, D, b->Qs + (size_t)i0 * Dp, Dp, 1, b->Kt + (size_t)j0 * Dp, B,
                    b->A, B, 0.0f, 0);
            for (int r = 0; r < m; r++)
                mask_row(b->A + (size_t)r * B, tab0 + (j0 - (i0 + r)), ncols);
            la_gemm(m, Dp, kk, b->A, B, 1, b->Vp + (size_t)j0 * Dp, Dp, b->Ob, Dp, 1.0f,
                    j0 > 0);
        }
        for (int r = 0; r < m; r++)
            store_row(b->Ob + (size_t)r * Dp, 1.0f, o + (size_t)(i0 + r) * D, D);
    }
}

void op_retention_parallel_part(const float *Q, const float *K, const float *V, float *O,
                                const float *gamma, int n_heads, int64_t L, int D,
                                void *scratch, int worker, int n_workers)
{
    par_bufs b;
    size_t per = par_layout(L, D, NULL, &b);
    par_layout(L, D, worker_base(scratch, per, worker), &b);
    int h0, h1;
    op_la_heads(n_heads, worker, n_workers, &h0, &h1);
    for (int h = h0; h < h1; h++) {
        size_t off = (size_t)h * L * D;
        par_head(Q + off, K + off, V + off, O + off, L, D, gamma[h], &b);
    }
}

/* ---- step ----------------------------------------------------------------------------------- */

/* Columns [c0, c0 + w) of one head's step (w <= 64):
 *   S[i][c] = g S[i][c] + kf[i] v[c] (g = 1: no decay multiply);  o[c] = s sum_i qf[i] S[i][c]. */
#if defined(__AVX512F__)

LA_INLINE void step_mk(const int NV, int w, int D, const float *qf, const float *kf,
                       const float *v, float *S, float g, int decay, float *o, float s)
{
    __mmask16 mk[NVMAX];
    __m512 vv[NVMAX], o0[NVMAX], o1[NVMAX];
    const __m512 gv = _mm512_set1_ps(g);
    for (int u = 0; u < NV; u++) {
        mk[u] = lane_mask(w - VW * u);
        vv[u] = _mm512_maskz_loadu_ps(mk[u], v + VW * u);
        o0[u] = o1[u] = _mm512_setzero_ps();
    }
    int i = 0;
    for (; i + 2 <= D; i += 2) { /* two rows, two accumulator sets */
        float *s0 = S + (size_t)i * D, *s1 = s0 + D;
        __m512 k0 = _mm512_set1_ps(kf[i]), k1 = _mm512_set1_ps(kf[i + 1]);
        __m512 q0 = _mm512_set1_ps(qf[i]), q1 = _mm512_set1_ps(qf[i + 1]);
        for (int u = 0; u < NV; u++) {
            __m512 a = _mm512_maskz_loadu_ps(mk[u], s0 + VW * u);
            __m512 c = _mm512_maskz_loadu_ps(mk[u], s1 + VW * u);
            if (decay) {
                a = _mm512_mul_ps(gv, a);
                c = _mm512_mul_ps(gv, c);
            }
            a = _mm512_fmadd_ps(k0, vv[u], a);
            c = _mm512_fmadd_ps(k1, vv[u], c);
            _mm512_mask_storeu_ps(s0 + VW * u, mk[u], a);
            _mm512_mask_storeu_ps(s1 + VW * u, mk[u], c);
            o0[u] = _mm512_fmadd_ps(q0, a, o0[u]);
            o1[u] = _mm512_fmadd_ps(q1, c, o1[u]);
        }
    }
    if (i < D) {
        float *s0 = S + (size_t)i * D;
        __m512 k0 = _mm512_set1_ps(kf[i]), q0 = _mm512_set1_ps(qf[i]);
        for (int u = 0; u < NV; u++) {
            __m512 a = _mm512_maskz_loadu_ps(mk[u], s0 + VW * u);
            if (decay)
                a = _mm512_mul_ps(gv, a);
            a = _mm512_fmadd_ps(k0, vv[u], a);
            _mm512_mask_storeu_ps(s0 + VW * u, mk[u], a);
            o0[u] = _mm512_fmadd_ps(q0, a, o0[u]);
        }
    }
    const __m512 sv = _mm512_set1_ps(s);
    for (int u = 0; u < NV; u++)
        _mm512_mask_storeu_ps(o + VW * u, mk[u], _mm512_mul_ps(sv, _mm512_add_ps(o0[u], o1[u])));
}

static void step_cols(int w, int D, const float *qf, const float *kf, const float *v, float *S,
                      float g, int decay, float *o, float s)
{
    switch ((w + VW - 1) / VW) {
    case 1: step_mk(1, w, D, qf, kf, v, S, g, decay, o, s); break;
    case 2: step_mk(2, w, D, qf, kf, v, S, g, decay, o, s); break;
    case 3: step_mk(3, w, D, qf, kf, v, S, g, decay, o, s); break;
    default: step_mk(4, w, D, qf, kf, v, S, g, decay, o, s); break;
    }
}

#else

static void step_cols(int w, int D, const float *qf, const float *kf, const float *v, float *S,
                      float g, int decay, float *o, float s)
{
    float acc[VW * NVMAX];
    for (int c = 0; c < w; c++)
        acc[c] = 0.0f;
    for (int i = 0; i < D; i++) {
        float *si = S + (size_t)i * D;
        for (int c = 0; c < w; c++) {
            float x = decay ? g * si[c] : si[c];
            x += kf[i] * v[c];
            si[c] = x;
            acc[c] += qf[i] * x;
        }
    }
    for (int c = 0; c < w; c++)
        o[c] = s * acc[c];
}

#endif

/* One head's step; ret selects retention (decay gamma, scale) or linear attention (phi, z). */
static void step_head(int ret, const float *q, const float *k, const float *v, float *o,
                      float *S, float *z, int D, float gamma)
{
    float qf[OP_LA_MAX_HEAD_DIM], kf[OP_LA_MAX_HEAD_DIM];
    const int Dp = rup(D, VW);
    float s;
    if (ret) {
        scale_row(q, (float)(1.0 / sqrt((double)D)), qf, D, Dp);
        scale_row(k, 1.0f, kf, D, Dp);
        s = 1.0f;
    } else {
        phi_row(q, qf, D, Dp);
        phi_row(k, kf, D, Dp);
        s = 1.0f / z_update_dot(z, kf, qf, D);
    }
    for (int c0 = 0; c0 < D; c0 += VW * NVMAX)
        step_cols(imin(VW * NVMAX, D - c0), D, qf, kf, v + c0, S + c0, gamma, ret, o + c0, s);
}

void op_linattn_step_part(const float *q, const float *k, const float *v, float *o, float *S,
                          float *z, int n_heads, int D, int worker, int n_workers)
{
    int h0, h1;
    op_la_heads(n_heads, worker, n_workers, &h0, &h1);
    for (int h = h0; h < h1; h++) {
        size_t r = (size_t)h * D;
        step_head(0, q + r, k + r, v + r, o + r, S + r * D, z + r, D, 1.0f);
    }
}

void op_retention_step_part(const float *q, const float *k, const float *v, float *o,
                            float *S, const float *gamma, int n_heads, int D, int worker,
                            int n_workers)
{
    int h0, h1;
    op_la_heads(n_heads, worker, n_workers, &h0, &h1);
    for (int h = h0; h < h1; h++) {
        size_t r = (size_t)h * D;
        step_head(1, q + r, k + r, v + r, o + r, S + r * D, NULL, D, gamma[h]);
    }
}

/* ---- cost model ------------------------------------------------------------------------------ */

/* Sum over the chunks of f(c) for chunks of C tokens (the last one shorter). */
static double chunk_sum(int64_t L, int C, double (*f)(double c, double D), double D)
{
    int64_t full = L / C, rest = L % C;
    return (double)full * f(C, D) + (rest ? f((double)rest, D) : 0.0);
}

/* Per chunk of c tokens (see the header's convention). */
static double lin_chunk_flops(double c, double D)
{
    return 4 * c * D * D + 2 * c * (c + 1) * D + c * (c + 1) + 7 * c * D + c;
}

static double ret_chunk_flops(double c, double D)
{
    return 4 * c * D * D + 2 * c * (c + 1) * D + c * (c + 1) / 2 + 3 * c * D + D * D;
}

double op_linattn_flops(op_la_form form, int n_heads, int64_t L, int D, int chunk)
{
    const double d = D, l = (double)L;
    switch (form) {
    case OP_LA_RECURRENT: /* phi 4D, S += 2D^2, o 2D^2, z D, den 2D, divide D + 1 */
        return n_heads * l * (4 * d * d + 8 * d + 1);
    case OP_LA_CHUNKED:
        return n_heads * chunk_sum(L, chunk_len(chunk, L), lin_chunk_flops, d);
    case OP_LA_STEP:
        return n_heads * (4 * d * d + 8 * d + 1);
    default:
        return 0.0;
    }
}

double op_retention_flops(op_la_form form, int n_heads, int64_t L, int D, int chunk)
{
    const double d = D, l = (double)L;
    switch (form) {
    case OP_LA_RECURRENT: /* q, k factors 2D, S += 2D^2, o 2D^2; S decay D^2 per tile */
        return n_heads * (l * (4 * d * d + 2 * d) +
                          (double)((L + OP_LA_TILE - 1) / OP_LA_TILE) * d * d);
    case OP_LA_CHUNKED:
        return n_heads * chunk_sum(L, chunk_len(chunk, L), ret_chunk_flops, d);
    case OP_LA_PARALLEL: /* scale, Q K^T and A V on j <= i, mask */
        return n_heads * (l * d + 2 * l * (l + 1) * d + l * (l + 1) / 2);
    case OP_LA_STEP: /* scale D, decay D^2, update 2D^2, output 2D^2 */
        return n_heads * (5 * d * d + d);
    }
    return 0.0;
}

double op_la_state_bytes(int n_heads, int D, int with_z)
{
    return 4.0 * n_heads * ((double)D * D + (with_z ? D : 0));
}

double op_la_bytes(op_la_form form, int n_heads, int64_t L, int D, int with_z)
{
    if (form == OP_LA_STEP)
        return 16.0 * n_heads * D + 2.0 * op_la_state_bytes(n_heads, D, with_z);
    return 16.0 * n_heads * (double)L * D;
}
