/* operators/vmath.h — the one vectorised exp every operator shares, header-only:
 * vm_exp512 (AVX-512F, 16 lanes), vm_exp256 (AVX2+FMA, 8 lanes) and vm_expf
 * (portable scalar), each computing the same thing; plus the scalar FMA macro
 * and the double-precision softplus the reference kernels share.
 *
 * e^x: inputs clamped to [VM_EXP_LO, VM_EXP_HI] (NaN passes the clamp), then
 * Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2 (ln2 = VM_LN2_HI + VM_LN2_LO
 * with VM_LN2_HI = 355/512 exact in 9 bits, so n VM_LN2_HI is exact), e^r by a
 * degree-6 polynomial (c0 = c1 = 1; c2..c6 a relative minimax fit, iteratively
 * reweighted least squares on 4000 Chebyshev nodes, 1.9e-9 approximation
 * error), then p 2^n with one rounding (subnormal results included).
 * Accuracy: relative error below 2e-7 (measured ~1e-7) for results in the
 * normal range (x >= -87.33); smaller results are rounded to the subnormal
 * grid (absolute error <= 2^-149), x < -103.9 gives 0 and e^-inf = 0;
 * x > 88.72 gives +inf; NaN stays NaN.  No branches.  Cannot fail.
 *
 * Specialised variants live beside the general one when a kernel's inner loop
 * needs them (selective_scan.c keeps its own cheaper degree-5 decay exp2).
 *
 * Never: allocate, do I/O, hold state; everything here is static inline. */
#ifndef CTXBENCH_OPERATORS_VMATH_H
#define CTXBENCH_OPERATORS_VMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

#if defined(__GNUC__)
#define VM_INLINE static inline __attribute__((always_inline))
#else
#define VM_INLINE static inline
#endif

/* A fused multiply-add where the target has a fast one, else multiply then add
 * (the scalar paths' FMA). */
#ifdef FP_FAST_FMAF
#define VM_FMAF(a, b, c) fmaf((a), (b), (c))
#else
#define VM_FMAF(a, b, c) ((a) * (b) + (c))
#endif

#define VM_LOG2E 1.44269504088896341f
#define VM_LN2_HI 0.693359375f
#define VM_LN2_LO (-2.12194440e-4f)
#define VM_EXP_C2 4.999999106e-01f
#define VM_EXP_C3 1.666641980e-01f
#define VM_EXP_C4 4.166822508e-02f
#define VM_EXP_C5 8.374815807e-03f
#define VM_EXP_C6 1.383684576e-03f
#define VM_EXP_LO (-110.0f)  /* 2^n underflows to 0 */
#define VM_EXP_HI 89.0f      /* 2^n overflows to inf */

#if defined(__AVX512F__)

/* e^x per lane (accuracy above). */
VM_INLINE __m512 vm_exp512(__m512 x)
{
    /* max/min return their second operand when either is NaN: x goes second. */
    x = _mm512_min_ps(_mm512_set1_ps(VM_EXP_HI), _mm512_max_ps(_mm512_set1_ps(VM_EXP_LO), x));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(VM_LOG2E)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(-VM_LN2_HI), x);
    r = _mm512_fmadd_ps(n, _mm512_set1_ps(-VM_LN2_LO), r);
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(VM_EXP_C6), r, _mm512_set1_ps(VM_EXP_C5));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(VM_EXP_C4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(VM_EXP_C3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(VM_EXP_C2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n); /* p 2^n: overflow and subnormals rounded once */
}

#endif

#if defined(__AVX2__) && defined(__FMA__)

/* p 2^n (n integral, in [-159, 129]) as p 2^n1 2^n2 with n1 = floor(n/2):
 * each factor a normal float, one rounding at the end, so subnormal results
 * round correctly and n = 128 overflows to inf. */
VM_INLINE __m256 vm_scale2_256(__m256 p, __m256 n)
{
    __m256i ni = _mm256_cvtps_epi32(n);
    __m256i n1 = _mm256_srai_epi32(ni, 1);
    __m256i n2 = _mm256_sub_epi32(ni, n1);
    __m256i bias = _mm256_set1_epi32(127);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

/* e^x per lane (accuracy above). */
VM_INLINE __m256 vm_exp256(__m256 x)
{
    x = _mm256_min_ps(_mm256_set1_ps(VM_EXP_HI), _mm256_max_ps(_mm256_set1_ps(VM_EXP_LO), x));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(VM_LOG2E)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fmadd_ps(n, _mm256_set1_ps(-VM_LN2_HI), x);
    r = _mm256_fmadd_ps(n, _mm256_set1_ps(-VM_LN2_LO), r);
    __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(VM_EXP_C6), r, _mm256_set1_ps(VM_EXP_C5));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(VM_EXP_C4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(VM_EXP_C3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(VM_EXP_C2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    /* NaN lanes: n is NaN, the integer scale garbage, but NaN p keeps them NaN. */
    return vm_scale2_256(p, n);
}

#endif

/* 2^k as a float for k in [-126, 127]. */
VM_INLINE float vm_pow2i(int k)
{
    uint32_t bits = (uint32_t)(k + 127) << 23;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* e^x for one float, the same algorithm as the vector versions (the portable
 * paths' exp; fmaf where the target has a fast one). */
VM_INLINE float vm_expf(float x)
{
    if (x != x)
        return x;
    x = x < VM_EXP_LO ? VM_EXP_LO : x > VM_EXP_HI ? VM_EXP_HI : x;
    float n = rintf(x * VM_LOG2E);
    float r = VM_FMAF(n, -VM_LN2_HI, x);
    r = VM_FMAF(n, -VM_LN2_LO, r);
    float p = VM_FMAF(VM_EXP_C6, r, VM_EXP_C5);
    p = VM_FMAF(p, r, VM_EXP_C4);
    p = VM_FMAF(p, r, VM_EXP_C3);
    p = VM_FMAF(p, r, VM_EXP_C2);
    p = VM_FMAF(p, r, 1.0f);
    p = VM_FMAF(p, r, 1.0f);
    /* 2^n in two normal steps, so overflow gives inf and tiny results subnormals. */
    int ni = (int)n, n1 = ni / 2;
    return p * vm_pow2i(n1) * vm_pow2i(ni - n1);
}

/* log(1 + e^v) in double, v itself beyond 30 (where they agree to 1e-13
 * relative): the references' softplus (delta = softplus(dt + bias)). */
static inline double vm_softplus_d(double v) { return v > 30.0 ? v : log1p(exp(v)); }

#endif
