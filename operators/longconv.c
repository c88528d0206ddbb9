/* operators/longconv.c — long causal convolution: the double reference, the
 * FFT, direct and step forms, and their cost model (see longconv.h).
 *
 * Vector ISA: AVX-512F intrinsics for the direct form's sliding-window
 * kernel, the FFT form's 16 x 16 transposes and its spectrum product when
 * compiled with it; plain C loops otherwise (the step's loops are plain C
 * everywhere: it streams memory and the compiler vectorises them).
 *
 * Never: allocate, make or destroy FFTW plans, do I/O, write outside the
 * worker's channels. */
#include "operators/longconv.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#define LC_ISA "avx512f"
#else
#define LC_ISA "portable"
#endif

#define LC_PAD 8 /* zero rows around a packed column group (the direct form's window) */

const char *op_lc_isa(void) { return LC_ISA; }

static int imin(int a, int b) { return a < b ? a : b; }
static size_t round64(size_t b) { return (b + 63) / 64 * 64; }

void op_lc_channels(int C, int worker, int n_workers, int *lo, int *hi)
{
    const int groups = (C + LC_GROUP - 1) / LC_GROUP;
    const int g0 = (int)((int64_t)groups * worker / n_workers);
    const int g1 = (int)((int64_t)groups * (worker + 1) / n_workers);
    *lo = imin(g0 * LC_GROUP, C);
    *hi = imin(g1 * LC_GROUP, C);
}

/* 1 when n's only prime factors are 2, 3, 5 and 7. */
static int smooth7(int64_t n)
{
    static const int primes[] = {2, 3, 5, 7};
    for (int i = 0; i < 4; i++)
        while (n % primes[i] == 0)
            n /= primes[i];
    return n == 1;
}

int64_t op_lc_fft_size(int64_t L)
{
    int64_t n = 2 * L - 1 < 2 ? 2 : 2 * L - 1;
    n += n & 1;
    for (; n <= INT32_MAX / 2; n += 2)
        if (smooth7(n))
            return n;
    return 0;
}

/* ---- reference --------------------------------------------------------------------------- */

void op_lc_ref_channel(int64_t L, int C, const float *k, const float *x, int c, double *yc,
                       double *magc)
{
    for (int64_t t = 0; t < L; t++) {
        double acc = 0.0, mag = 0.0;
        for (int64_t s = 0; s <= t; s++) {
            const double p = (double)k[(size_t)(t - s) * C + c] * x[(size_t)s * C + c];
            acc += p;
            mag += fabs(p);
        }
        yc[t] = acc;
        if (magc)
            magc[t] = mag;
    }
}

/* ---- packing of a column group ----------------------------------------------------------- */

/* dst[t][0..G) = src[t][c0 .. c0 + w) for t < L (zeros past w), then zero
 * rows up to rows; dst rows are LC_GROUP floats. */
static void pack_group(int64_t L, int C, const float *src, int c0, int w, float *dst,
                       int64_t rows)
{
    for (int64_t t = 0; t < L; t++) {
        const float *s = src + (size_t)t * C + c0;
        float *d = dst + (size_t)t * LC_GROUP;
        for (int j = 0; j < LC_GROUP; j++)
            d[j] = j < w ? s[j] : 0.0f;
    }
    memset(dst + (size_t)L * LC_GROUP, 0, (size_t)(rows - L) * LC_GROUP * sizeof(float));
}

/* ---- fft --------------------------------------------------------------------------------- */

/* A region: G real buffers of n floats (rdist apart, a 64-byte multiple),
 * then one complex buffer of n/2 + 1 values (cdist, a 64-byte multiple)
 * that every channel of the group uses in turn (the spectrum of x is
 * consumed at once), so a group's working set is about G n x 4 bytes. */
/* (+16 floats: consecutive buffers must not sit a multiple of 4 KiB apart,
 * or the transposes' 16 streams fall into one cache set.) */
static size_t rdist(int n) { return ((size_t)n + 15) / 16 * 16 + 16; }
static size_t cdist(int n) { return ((size_t)n / 2 + 1 + 7) / 8 * 8; }

size_t op_lc_fft_region_bytes(int n)
{
    return LC_GROUP * rdist(n) * sizeof(float) + cdist(n) * sizeof(fftwf_complex);
}

size_t op_lc_spectrum_bytes(int n, int C) { return (size_t)C * cdist(n) * sizeof(fftwf_complex); }

void op_lc_fft_region(void *work, int n, int w, float **r, fftwf_complex **c)
{
    char *base = (char *)work + (size_t)w * op_lc_fft_region_bytes(n);
    *r = (float *)(void *)base;
    *c = (fftwf_complex *)(void *)(base + LC_GROUP * rdist(n) * sizeof(float));
}

#if defined(__AVX512F__)

/* dst[j][i] = src[i][j] for a 16 x 16 block (rows ls and ld floats apart):
 * 32-bit, then 64-bit interleaves, then two rounds of 128-bit lane shuffles. */
static void tr16(const float *src, size_t ls, float *dst, size_t ld)
{
    __m512 a[16], b[16];
    for (int i = 0; i < 16; i++)
        a[i] = _mm512_loadu_ps(src + i * ls);
    for (int i = 0; i < 16; i += 2) {
        b[i] = _mm512_unpacklo_ps(a[i], a[i + 1]);
        b[i + 1] = _mm512_unpackhi_ps(a[i], a[i + 1]);
    }
    for (int q = 0; q < 16; q += 4)
        for (int j = 0; j < 2; j++) {
            const __m512d lo = _mm512_castps_pd(b[q + j]), hi = _mm512_castps_pd(b[q + 2 + j]);
            a[q + 2 * j] = _mm512_castpd_ps(_mm512_unpacklo_pd(lo, hi));
            a[q + 2 * j + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(lo, hi));
        }
    for (int q = 0; q < 16; q += 8)
        for (int j = 0; j < 4; j++) {
            b[q + j] = _mm512_shuffle_f32x4(a[q + j], a[q + 4 + j], 0x88);
            b[q + 4 + j] = _mm512_shuffle_f32x4(a[q + j], a[q + 4 + j], 0xdd);
        }
    for (int j = 0; j < 8; j++) {
        _mm512_storeu_ps(dst + j * ld, _mm512_shuffle_f32x4(b[j], b[8 + j], 0x88));
        _mm512_storeu_ps(dst + (8 + j) * ld, _mm512_shuffle_f32x4(b[j], b[8 + j], 0xdd));
    }
}

#endif

/* Channels [c0, c0 + w) of src (L, C) into w columns of r (rdist apart),
 * zero-padded to n. */
static void fft_pack(int64_t L, int C, const float *src, int c0, int w, int n, float *r)
{
    const size_t rd = rdist(n);
    int64_t t = 0;
#if defined(__AVX512F__)
    if (w == 16)
        for (; t + 16 <= L; t += 16)
            tr16(src + (size_t)t * C + c0, (size_t)C, r + (size_t)t, rd);
#endif
    for (; t < L; t++) {
        const float *s = src + (size_t)t * C + c0;
        for (int j = 0; j < w; j++)
            r[j * rd + (size_t)t] = s[j];
    }
    for (int j = 0; j < w; j++)
        memset(r + j * rd + (size_t)L, 0, (size_t)(n - L) * sizeof(float));
}

/* The first L values of w columns of r back into channels [c0, c0 + w) of y. */
static void fft_unpack(int64_t L, int C, const float *r, int c0, int w, int n, float *y)
{
    const size_t rd = rdist(n);
    int64_t t = 0;
#if defined(__AVX512F__)
    if (w == 16)
        for (; t + 16 <= L; t += 16)
            tr16(r + (size_t)t, rd, y + (size_t)t * C + c0, (size_t)C);
#endif
    for (; t < L; t++) {
        float *d = y + (size_t)t * C + c0;
        for (int j = 0; j < w; j++)
            d[j] = r[j * rd + (size_t)t];
    }
}

void op_lc_filter_spectrum(const op_lc_fft *f, const float *k, fftwf_complex *kf, void *work)
{
    float *r;
    fftwf_complex *c;
    op_lc_fft_region(work, f->n, 0, &r, &c);
    const size_t m = (size_t)f->n / 2 + 1, cd = cdist(f->n), rd = rdist(f->n);
    const float scale = 1.0f / (float)f->n;
    for (int c0 = 0; c0 < f->C; c0 += LC_GROUP) {
        const int w = imin(LC_GROUP, f->C - c0);
        fft_pack(f->L, f->C, k, c0, w, f->n, r);
        for (int j = 0; j < w; j++) {
            fftwf_execute_dft_r2c(f->fwd, r + j * rd, c);
            fftwf_complex *dst = kf + (size_t)(c0 + j) * cd;
            for (size_t i = 0; i < m; i++) {
                dst[i][0] = c[i][0] * scale;
                dst[i][1] = c[i][1] * scale;
            }
        }
    }
}

/* c[i] *= kf[i] for m complex values. */
static void cmul(fftwf_complex *c, const fftwf_complex *kf, size_t m)
{
    float *a = (float *)c;
    const float *b = (const float *)kf;
    size_t i = 0;
#if defined(__AVX512F__)
    for (; i + 8 <= m; i += 8) {
        const __m512 av = _mm512_loadu_ps(a + 2 * i);
        const __m512 bv = _mm512_loadu_ps(b + 2 * i);
        const __m512 bre = _mm512_moveldup_ps(bv), bim = _mm512_movehdup_ps(bv);
        const __m512 asw = _mm512_permute_ps(av, 0xb1); /* (im, re) pairs */
        _mm512_storeu_ps(a + 2 * i, _mm512_fmaddsub_ps(av, bre, _mm512_mul_ps(asw, bim)));
    }
#endif
    for (; i < m; i++) {
        const float re = a[2 * i] * b[2 * i] - a[2 * i + 1] * b[2 * i + 1];
        const float im = a[2 * i] * b[2 * i + 1] + a[2 * i + 1] * b[2 * i];
        a[2 * i] = re;
        a[2 * i + 1] = im;
    }
}

void op_lc_fft_part(const op_lc_fft *f, const fftwf_complex *kf, const float *x, float *y,
                    void *work, int worker, int n_workers)
{
    int lo, hi;
    op_lc_channels(f->C, worker, n_workers, &lo, &hi);
    float *r;
    fftwf_complex *c;
    op_lc_fft_region(work, f->n, worker, &r, &c);
    const size_t m = (size_t)f->n / 2 + 1, cd = cdist(f->n), rd = rdist(f->n);
    for (int c0 = lo; c0 < hi; c0 += LC_GROUP) {
        const int w = imin(LC_GROUP, hi - c0);
        fft_pack(f->L, f->C, x, c0, w, f->n, r);
        for (int j = 0; j < w; j++) {
            float *rj = r + j * rd;
            fftwf_execute_dft_r2c(f->fwd, rj, c);
            cmul(c, kf + (size_t)(c0 + j) * cd, m);
            fftwf_execute_dft_c2r(f->inv, c, rj);
        }
        fft_unpack(f->L, f->C, r, c0, w, f->n, y);
    }
}

/* ---- direct ------------------------------------------------------------------------------ */

/* Per worker: x packed with LC_PAD zero rows before and after, k with
 * LC_PAD zero rows after. */
static size_t direct_region_floats(int64_t L)
{
    return (size_t)(2 * L + 4 * LC_PAD) * LC_GROUP;
}

size_t op_lc_direct_scratch_bytes(int64_t L, int n_workers)
{
    return 64 + (size_t)n_workers * round64(direct_region_floats(L) * sizeof(float));
}

#if defined(__AVX512F__)

/* One lag j of an 8-output block with the window in rotated order: W0 is
 * reloaded with x[t0 - j], then acc_i += k[j] W_i. */
#define LC_STEP(u, W0, W1, W2, W3, W4, W5, W6, W7)                                              \
    do {                                                                                        \
        W0 = _mm512_load_ps(xb + (t0 - jb - (u)) * LC_GROUP);                                   \
        const __m512 kv = _mm512_load_ps(kp + (jb + (u)) * LC_GROUP);                           \
        a0 = _mm512_fmadd_ps(kv, W0, a0);                                                       \
        a1 = _mm512_fmadd_ps(kv, W1, a1);                                                       \
        a2 = _mm512_fmadd_ps(kv, W2, a2);                                                       \
        a3 = _mm512_fmadd_ps(kv, W3, a3);                                                       \
        a4 = _mm512_fmadd_ps(kv, W4, a4);                                                       \
        a5 = _mm512_fmadd_ps(kv, W5, a5);                                                       \
        a6 = _mm512_fmadd_ps(kv, W6, a6);                                                       \
        a7 = _mm512_fmadd_ps(kv, W7, a7);                                                       \
    } while (0)

/* Outputs [t0, t0 + 8) of one packed group: xb[t] = x row t (zero for
 * t < 0 or t >= L, down to -LC_PAD and up to L + LC_PAD), kp[j] = k row j
 * (zero for j >= L).  Lags run to t0 + 7 (a multiple of 8 steps); lags past
 * an output's own t meet zero rows of x. */
static void direct_block(const float *xb, const float *kp, int64_t t0, float *out /* (8, G) */)
{
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0,
           a7 = a0;
    __m512 r0 = a0;
    __m512 r1 = _mm512_load_ps(xb + (t0 + 1) * LC_GROUP);
    __m512 r2 = _mm512_load_ps(xb + (t0 + 2) * LC_GROUP);
    __m512 r3 = _mm512_load_ps(xb + (t0 + 3) * LC_GROUP);
    __m512 r4 = _mm512_load_ps(xb + (t0 + 4) * LC_GROUP);
    __m512 r5 = _mm512_load_ps(xb + (t0 + 5) * LC_GROUP);
    __m512 r6 = _mm512_load_ps(xb + (t0 + 6) * LC_GROUP);
    __m512 r7 = _mm512_load_ps(xb + (t0 + 7) * LC_GROUP);
    for (int64_t jb = 0; jb < t0 + 8; jb += 8) {
        LC_STEP(0, r0, r1, r2, r3, r4, r5, r6, r7);
        LC_STEP(1, r7, r0, r1, r2, r3, r4, r5, r6);
        LC_STEP(2, r6, r7, r0, r1, r2, r3, r4, r5);
        LC_STEP(3, r5, r6, r7, r0, r1, r2, r3, r4);
        LC_STEP(4, r4, r5, r6, r7, r0, r1, r2, r3);
        LC_STEP(5, r3, r4, r5, r6, r7, r0, r1, r2);
        LC_STEP(6, r2, r3, r4, r5, r6, r7, r0, r1);
        LC_STEP(7, r1, r2, r3, r4, r5, r6, r7, r0);
    }
    _mm512_store_ps(out + 0 * LC_GROUP, a0);
    _mm512_store_ps(out + 1 * LC_GROUP, a1);
    _mm512_store_ps(out + 2 * LC_GROUP, a2);
    _mm512_store_ps(out + 3 * LC_GROUP, a3);
    _mm512_store_ps(out + 4 * LC_GROUP, a4);
    _mm512_store_ps(out + 5 * LC_GROUP, a5);
    _mm512_store_ps(out + 6 * LC_GROUP, a6);
    _mm512_store_ps(out + 7 * LC_GROUP, a7);
}

#else

static void direct_block(const float *xb, const float *kp, int64_t t0, float *out)
{
    for (int i = 0; i < 8; i++) {
        float acc[LC_GROUP] = {0};
        const int64_t t = t0 + i;
        for (int64_t j = 0; j <= t; j++) {
            const float *kr = kp + j * LC_GROUP, *xr = xb + (t - j) * LC_GROUP;
            for (int c = 0; c < LC_GROUP; c++)
                acc[c] += kr[c] * xr[c];
        }
        memcpy(out + i * LC_GROUP, acc, sizeof acc);
    }
}

#endif

void op_lc_direct_part(int64_t L, int C, const float *k, const float *x, float *y, void *scratch,
                       int worker, int n_workers)
{
    int lo, hi;
    op_lc_channels(C, worker, n_workers, &lo, &hi);
    float *base = (float *)(void *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    float *xp = base + (size_t)worker * (round64(direct_region_floats(L) * sizeof(float)) / 4);
    float *kp = xp + (size_t)(L + 2 * LC_PAD) * LC_GROUP;
    float *xb = xp + (size_t)LC_PAD * LC_GROUP; /* row 0 of x */
    _Alignas(64) float out[8 * LC_GROUP];
    for (int c0 = lo; c0 < hi; c0 += LC_GROUP) {
        const int w = imin(LC_GROUP, hi - c0);
        memset(xp, 0, (size_t)LC_PAD * LC_GROUP * sizeof(float));
        pack_group(L, C, x, c0, w, xb, L + LC_PAD);
        pack_group(L, C, k, c0, w, kp, L + 2 * LC_PAD);
        for (int64_t t0 = 0; t0 < L; t0 += 8) {
            direct_block(xb, kp, t0, out);
            for (int i = 0; i < 8 && t0 + i < L; i++)
                memcpy(y + (size_t)(t0 + i) * C + c0, out + i * LC_GROUP,
                       (size_t)w * sizeof(float));
        }
    }
}

/* ---- step -------------------------------------------------------------------------------- */

/* y[0..w) += sum of four rows' products (or fewer: the others NULL-free by
 * count), over w channels. */
static void step_rows(float *restrict yl, int w, int nrow, const float *const *kr,
                      const float *const *hr)
{
    if (nrow == 4) {
        const float *restrict k0 = kr[0], *restrict k1 = kr[1], *restrict k2 = kr[2],
                              *restrict k3 = kr[3];
        const float *restrict h0 = hr[0], *restrict h1 = hr[1], *restrict h2 = hr[2],
                              *restrict h3 = hr[3];
        for (int c = 0; c < w; c++)
            yl[c] += (k0[c] * h0[c] + k1[c] * h1[c]) + (k2[c] * h2[c] + k3[c] * h3[c]);
        return;
    }
    for (int r = 0; r < nrow; r++) {
        const float *restrict k0 = kr[r], *restrict h0 = hr[r];
        for (int c = 0; c < w; c++)
            yl[c] += k0[c] * h0[c];
    }
}

void op_lc_step_part(int64_t K, int C, const float *k, float *hist, int64_t pos, const float *x,
                     float *y, int worker, int n_workers)
{
    int lo, hi;
    op_lc_channels(C, worker, n_workers, &lo, &hi);
    const int w = hi - lo;
    if (w <= 0)
        return;
    memcpy(hist + (size_t)pos * C + lo, x + lo, (size_t)w * sizeof(float));
    float *yl = y + lo;
    memset(yl, 0, (size_t)w * sizeof(float));
    for (int64_t j = 0; j < K; j += 4) {
        const float *kr[4], *hr[4];
        const int nrow = K - j < 4 ? (int)(K - j) : 4;
        for (int r = 0; r < nrow; r++) {
            int64_t idx = pos - (j + r);
            idx += idx < 0 ? K : 0;
            kr[r] = k + (size_t)(j + r) * C + lo;
            hr[r] = hist + (size_t)idx * C + lo;
        }
        step_rows(yl, w, nrow, kr, hr);
    }
}

/* ---- cost model -------------------------------------------------------------------------- */

double op_lc_fft_flops(int64_t L, int C)
{
    const double n = (double)op_lc_fft_size(L);
    return (double)C * (2.0 * 2.5 * n * log2(n) + 6.0 * (n / 2.0 + 1.0));
}

double op_lc_fft_bytes(int64_t L, int C)
{
    const double n = (double)op_lc_fft_size(L);
    return 4.0 * 2.0 * (double)L * C + 8.0 * (n / 2.0 + 1.0) * C;
}

double op_lc_direct_flops(int64_t L, int C) { return (double)C * (double)L * (double)(L + 1); }

double op_lc_direct_bytes(int64_t L, int C) { return 4.0 * 3.0 * (double)L * C; }

double op_lc_step_flops(int64_t K, int C) { return 2.0 * (double)K * C; }

double op_lc_step_bytes(int64_t K, int C) { return 4.0 * (2.0 * (double)K * C + 3.0 * C); }

double op_lc_state_bytes(int64_t K, int C) { return 4.0 * (double)K * C; }
