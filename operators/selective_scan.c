/* operators/selective_scan.c — the Mamba-1 selective scan: reference,
 * sequential, chunked and step kernels, cost model (see selective_scan.h).
 *
 * Layout of the fast prefill kernels.  One "vector group" is VW consecutive
 * channels (16 with AVX-512, 8 with AVX2, 1 portable).  A worker keeps, in its
 * scratch,
 *   Hs  (groups, N, VW)  the state of each of its groups, transposed from
 *                        (d_inner, N) so one vector holds one state index of
 *                        VW channels
 *   At  (N, VW)          the current group's A log2(e) = -exp(A_log) log2(e),
 *                        so exp(delta A) = 2^(delta At)
 * and walks the tokens in blocks of TB rows, every group of its channels in
 * turn within a block (rows stream through memory in order; a group's lines
 * are a row apart, so the staging pass prefetches the group after next).
 * Per group and block: a staging pass computes delta (softplus), delta x and
 * D x (del, dx, yacc: (TB, VW)); the state pass runs the recurrence with up to
 * 16 state vectors in registers (states 16 at a time, the rest in blocks of
 * 8, 4, 2, 1); the finishing pass gates with silu(z) and stores y.  The 16
 * state chains and the independent exps of successive tokens give the
 * out-of-order core plenty of independent work: the loop is bound by the
 * throughput of the FP pipes (13 vector instructions per 16 updates, the
 * exp2 9 of them), not by the 4-cycle FMA recurrence.
 *
 * Never: allocate, do I/O, touch channels outside the worker's slice (or, in
 * the time-split phases, rows outside its chunks). */
#include "operators/selective_scan.h"
#include "operators/vmath.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

#define V_INLINE static inline __attribute__((always_inline))
/* Fully unrolls the loop over a register block of states, so the states stay
 * in registers (GCC's own heuristics stop short of 16). */
#define UNROLL_STATES _Pragma("GCC unroll 16")

/* ---- the vector layer: one set of primitives per ISA ------------------------------------ */

#if defined(__AVX512F__)
#define SCAN_ISA "avx512f"
#define VW 16
typedef __m512 vf;
V_INLINE __mmask16 v_mask(int n) { return (__mmask16)((1u << n) - 1u); }
V_INLINE vf v_set1(float a) { return _mm512_set1_ps(a); }
V_INLINE vf v_zero(void) { return _mm512_setzero_ps(); }
V_INLINE vf v_load(const float *p) { return _mm512_load_ps(p); }
V_INLINE void v_store(float *p, vf a) { _mm512_store_ps(p, a); }
V_INLINE vf v_loadu(const float *p) { return _mm512_loadu_ps(p); }
V_INLINE void v_storeu(float *p, vf a) { _mm512_storeu_ps(p, a); }
V_INLINE vf v_loadu_n(const float *p, int n) { return _mm512_maskz_loadu_ps(v_mask(n), p); }
V_INLINE void v_storeu_n(float *p, vf a, int n) { _mm512_mask_storeu_ps(p, v_mask(n), a); }
V_INLINE vf v_add(vf a, vf b) { return _mm512_add_ps(a, b); }
V_INLINE vf v_sub(vf a, vf b) { return _mm512_sub_ps(a, b); }
V_INLINE vf v_mul(vf a, vf b) { return _mm512_mul_ps(a, b); }
V_INLINE vf v_fma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
V_INLINE vf v_max(vf a, vf b) { return _mm512_max_ps(a, b); }
V_INLINE vf v_min(vf a, vf b) { return _mm512_min_ps(a, b); }
V_INLINE vf v_abs(vf a) { return _mm512_abs_ps(a); }
V_INLINE vf v_round(vf a)
{
    return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
/* p 2^k for integral k in [-151, 128] (vscalefps rounds once, subnormals included). */
V_INLINE vf v_ldexp(vf p, vf k) { return _mm512_scalef_ps(p, k); }
/* a > b ? x : y per lane. */
V_INLINE vf v_sel_gt(vf a, vf b, vf x, vf y)
{
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_GT_OQ), y, x);
}
V_INLINE float v_hsum(vf a) { return _mm512_reduce_add_ps(a); }
/* 1/a for finite a != 0: 14-bit estimate + one Newton step (~1 ulp). */
V_INLINE vf v_recip(vf a)
{
    vf r = _mm512_rcp14_ps(a);
    return _mm512_mul_ps(r, _mm512_fnmadd_ps(a, r, _mm512_set1_ps(2.0f)));
}

#elif defined(__AVX2__) && defined(__FMA__)
#define SCAN_ISA "avx2+fma"
#define VW 8
typedef __m256 vf;
static const int32_t v_mask_tab[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
V_INLINE __m256i v_mask(int n) { return _mm256_loadu_si256((const __m256i *)(v_mask_tab + 8 - n)); }
V_INLINE vf v_set1(float a) { return _mm256_set1_ps(a); }
V_INLINE vf v_zero(void) { return _mm256_setzero_ps(); }
V_INLINE vf v_load(const float *p) { return _mm256_load_ps(p); }
V_INLINE void v_store(float *p, vf a) { _mm256_store_ps(p, a); }
V_INLINE vf v_loadu(const float *p) { return _mm256_loadu_ps(p); }
V_INLINE void v_storeu(float *p, vf a) { _mm256_storeu_ps(p, a); }
V_INLINE vf v_loadu_n(const float *p, int n) { return _mm256_maskload_ps(p, v_mask(n)); }
V_INLINE void v_storeu_n(float *p, vf a, int n) { _mm256_maskstore_ps(p, v_mask(n), a); }
V_INLINE vf v_add(vf a, vf b) { return _mm256_add_ps(a, b); }
V_INLINE vf v_sub(vf a, vf b) { return _mm256_sub_ps(a, b); }
V_INLINE vf v_mul(vf a, vf b) { return _mm256_mul_ps(a, b); }
V_INLINE vf v_fma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
V_INLINE vf v_max(vf a, vf b) { return _mm256_max_ps(a, b); }
V_INLINE vf v_min(vf a, vf b) { return _mm256_min_ps(a, b); }
V_INLINE vf v_abs(vf a)
{
    return _mm256_and_ps(a, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)));
}
V_INLINE vf v_round(vf a)
{
    return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
/* p 2^k for integral k in [-151, 128]: two exact power-of-two factors, each
 * a normal float, so only the last product rounds (operators/vmath.h). */
V_INLINE vf v_ldexp(vf p, vf k) { return vm_scale2_256(p, k); }
V_INLINE vf v_sel_gt(vf a, vf b, vf x, vf y)
{
    return _mm256_blendv_ps(y, x, _mm256_cmp_ps(a, b, _CMP_GT_OQ));
}
/* 1/a for finite a != 0: 12-bit estimate + one Newton step (~2 ulp). */
V_INLINE vf v_recip(vf a)
{
    vf r = _mm256_rcp_ps(a);
    return _mm256_mul_ps(r, _mm256_fnmadd_ps(a, r, _mm256_set1_ps(2.0f)));
}
V_INLINE float v_hsum(vf a)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

#else
#define SCAN_ISA "portable"
#define VW 1
typedef float vf;
V_INLINE vf v_set1(float a) { return a; }
V_INLINE vf v_zero(void) { return 0.0f; }
V_INLINE vf v_load(const float *p) { return *p; }
V_INLINE void v_store(float *p, vf a) { *p = a; }
V_INLINE vf v_loadu(const float *p) { return *p; }
V_INLINE void v_storeu(float *p, vf a) { *p = a; }
V_INLINE vf v_loadu_n(const float *p, int n) { (void)n; return *p; }
V_INLINE void v_storeu_n(float *p, vf a, int n) { (void)n; *p = a; }
V_INLINE vf v_add(vf a, vf b) { return a + b; }
V_INLINE vf v_sub(vf a, vf b) { return a - b; }
V_INLINE vf v_mul(vf a, vf b) { return a * b; }
#ifdef FP_FAST_FMAF
V_INLINE vf v_fma(vf a, vf b, vf c) { return fmaf(a, b, c); }
#else
V_INLINE vf v_fma(vf a, vf b, vf c) { return a * b + c; }
#endif
V_INLINE vf v_max(vf a, vf b) { return a > b ? a : b; }
V_INLINE vf v_min(vf a, vf b) { return a < b ? a : b; }
V_INLINE vf v_abs(vf a) { return fabsf(a); }
V_INLINE vf v_round(vf a) { return nearbyintf(a); }
V_INLINE vf v_ldexp(vf p, vf k) { return ldexpf(p, (int)k); }
V_INLINE vf v_sel_gt(vf a, vf b, vf x, vf y) { return a > b ? x : y; }
V_INLINE float v_hsum(vf a) { return a; }
V_INLINE vf v_recip(vf a) { return 1.0f / a; }
#endif

const char *op_mamba1_isa(void) { return SCAN_ISA; }

/* ---- exp, softplus, silu -------------------------------------------------------------- */

#define LOG2E 1.44269504088896341f

/* e^x: the exp every operator shares (operators/vmath.h: relative error
 * < 2e-7 for normal results, 0 for very negative x, inf above 88.72, NaN
 * stays NaN; tests/test_op_mamba1.c checks it). */
V_INLINE vf v_exp(vf x)
{
#if VW == 16
    return vm_exp512(x);
#elif VW == 8
    return vm_exp256(x);
#else
    return vm_expf(x);
#endif
}

/* 2^f for f in [-1/2, 1/2] as 1 + f q(f), q of degree 4 minimax in relative
 * error against (2^f - 1)/f (Remez): the error is 4.3e-7 relative to
 * 1 - 2^f, not just to 2^f (2.5e-7).  This matters for the decays: a state
 * with memory 1/(1 - e) accumulates the per-step bias that many times, so an
 * error relative to 2^f alone (a minimax fit with a free linear term has
 * 6e-6 there) would build up to ~1e-5; this one stays at ~4e-7.  One FMA
 * fewer than degree 6 in the scan's inner loop (~10% faster). */
V_INLINE vf v_exp2_poly5(vf f)
{
    vf p = v_set1(1.3333538732e-03f);
    p = v_fma(p, f, v_set1(9.6662454258e-03f));
    p = v_fma(p, f, v_set1(5.5505002134e-02f));
    p = v_fma(p, f, v_set1(2.4022351343e-01f));
    p = v_fma(p, f, v_set1(6.9314714351e-01f));
    return v_fma(p, f, v_set1(1.0f));
}

/* 2^u for u <= 0 (the decays exp(delta A) = 2^(delta A log2 e)): k = round(u),
 * f = u - k exactly, 2^f by polynomial, 2^k by scaling (subnormals rounded
 * once, 0 below).  Relative error ~5e-7, plus |u| 2^-24 ln 2 from the rounding
 * of u itself (as for any float exp of a rounded product). */
V_INLINE vf v_exp2_neg(vf u)
{
    u = v_max(u, v_set1(-151.0f));
    vf k = v_round(u);
    return v_ldexp(v_exp2_poly5(v_sub(u, k)), k);
}

/* log1p(exp(v)) for v < 20, v beyond, as max(v, 0) + log1p(exp(-|v|)) with
 * log1p(e) = 2 atanh(s), s = e / (2 + e) in (0, 1/3]: the odd series to s^13
 * (truncation < 1.3e-8 relative), so tiny deltas keep full relative accuracy. */
V_INLINE vf v_softplus(vf v)
{
    vf e = v_exp(v_sub(v_zero(), v_abs(v)));
    vf s = v_mul(e, v_recip(v_add(e, v_set1(2.0f))));
    vf s2 = v_mul(s, s);
    vf p = v_set1(2.0f / 13.0f);
    p = v_fma(p, s2, v_set1(2.0f / 11.0f));
    p = v_fma(p, s2, v_set1(2.0f / 9.0f));
    p = v_fma(p, s2, v_set1(2.0f / 7.0f));
    p = v_fma(p, s2, v_set1(2.0f / 5.0f));
    p = v_fma(p, s2, v_set1(2.0f / 3.0f));
    p = v_fma(p, s2, v_set1(2.0f));
    vf r = v_fma(p, s, v_max(v, v_zero()));
    return v_sel_gt(v, v_set1(20.0f), v, r);
}

/* z / (1 + exp(-z)); exp's argument capped at 80 so the reciprocal stays
 * finite (below z = -80 silu(z) is -1e-33 or smaller either way). */
V_INLINE vf v_silu(vf z)
{
    vf e = v_exp(v_min(v_sub(v_zero(), z), v_set1(80.0f)));
    return v_mul(z, v_recip(v_add(v_set1(1.0f), e)));
}

/* -exp(a) log2(e): the decay rate in base 2. */
V_INLINE vf v_rate(vf a) { return v_mul(v_exp(a), v_set1(-LOG2E)); }

void op_mamba1_decay_rates(const float *A_log, float *A2, size_t n)
{
    for (size_t i = 0; i < n; i += VW) {
        int m = n - i < VW ? (int)(n - i) : VW;
        v_storeu_n(A2 + i, v_rate(v_loadu_n(A_log + i, m)), m);
    }
}

void op_mamba1_exp_array(const float *x, float *y, size_t n)
{
    for (size_t i = 0; i < n; i += VW) {
        int m = n - i < VW ? (int)(n - i) : VW;
        v_storeu_n(y + i, v_exp(v_loadu_n(x + i, m)), m);
    }
}

void op_mamba1_softplus_array(const float *x, float *y, size_t n)
{
    for (size_t i = 0; i < n; i += VW) {
        int m = n - i < VW ? (int)(n - i) : VW;
        v_storeu_n(y + i, v_softplus(v_loadu_n(x + i, m)), m);
    }
}

/* ---- reference ------------------------------------------------------------------------- */


void op_mamba1_scan_ref_channel(const op_mamba1_scan_in *in, int d, float *y, int64_t ldy,
                                float *y_mag, float *h, float *h_mag)
{
    double hs[OP_MAMBA1_MAX_STATE], hm[OP_MAMBA1_MAX_STATE], A[OP_MAMBA1_MAX_STATE];
    const int N = in->N;
    const size_t ld = (size_t)in->d_inner;
    for (int n = 0; n < N; n++) {
        A[n] = -exp((double)in->A_log[(size_t)d * N + n]);
        hs[n] = in->h0 ? in->h0[(size_t)d * N + n] : 0.0;
        hm[n] = fabs(hs[n]);
    }
    for (int64_t t = 0; t < in->L; t++) {
        double xv = in->x[t * ld + d], zv = in->z[t * ld + d];
        double dl = vm_softplus_d((double)in->delta_raw[t * ld + d] + in->dt_bias[d]);
        const float *Bt = in->B + t * N, *Ct = in->C + t * N;
        double s = 0.0, sm = 0.0;
        for (int n = 0; n < N; n++) {
            double e = exp(dl * A[n]), b = dl * Bt[n] * xv;
            hs[n] = e * hs[n] + b;
            hm[n] = e * hm[n] + fabs(b);
            s += Ct[n] * hs[n];
            sm += fabs((double)Ct[n]) * hm[n];
        }
        double g = zv / (1.0 + exp(-zv)), dx = (double)in->D[d] * xv;
        y[t * ldy] = (float)((s + dx) * g);
        if (y_mag)
            y_mag[t * ldy] = (float)((sm + fabs(dx)) * fabs(g));
    }
    for (int n = 0; n < N; n++) {
        if (h)
            h[n] = (float)hs[n];
        if (h_mag)
            h_mag[n] = (float)hm[n];
    }
}

void op_mamba1_scan_ref(const op_mamba1_scan_in *in, float *y, float *h)
{
    for (int d = 0; d < in->d_inner; d++)
        op_mamba1_scan_ref_channel(in, d, y + d, in->d_inner, NULL,
                                   h ? h + (size_t)d * in->N : NULL, NULL);
}

/* ---- worker split and scratch ------------------------------------------------------------ */

#ifndef PF_GROUPS
#define PF_GROUPS 2 /* prefetch distance of scan_rows, in groups */
#endif
#ifndef TB
#define TB 64 /* tokens per staging block: del, dx, yacc, cs (TB, VW) stay in L1 */
#endif

static int imin(int a, int b) { return a < b ? a : b; }
static size_t round16(size_t n) { return (n + 15) & ~(size_t)15; }

void op_mamba1_channels(int d_inner, int worker, int n_workers, int *lo, int *hi)
{
    int groups = (d_inner + OP_MAMBA1_GROUP - 1) / OP_MAMBA1_GROUP;
    int g0 = (int)((int64_t)groups * worker / n_workers);
    int g1 = (int)((int64_t)groups * (worker + 1) / n_workers);
    *lo = imin(g0 * OP_MAMBA1_GROUP, d_inner);
    *hi = imin(g1 * OP_MAMBA1_GROUP, d_inner);
}

/* Group sets.  A walk over rows visits many channel groups per block of
 * tokens, so each group's persistent data waits in memory between blocks:
 * its state (N, VW) and one vector (VW: a delta sum, or a running cumulative
 * delta), group g's at base + g stride. */
typedef struct gset {
    float *base;
    size_t stride;
} gset;

static size_t gset_stride(int N) { return round16((size_t)N * VW) + round16(VW); }
static float *gs_state(gset s, int g) { return s.base + (size_t)g * s.stride; }
static float *gs_vec(gset s, int N, int g) { return gs_state(s, g) + round16((size_t)N * VW); }

/* One worker's scratch, in floats, each array 64-byte aligned: the current
 * group's At, the staging buffers of one block of tokens, and two group sets
 * over the worker's groups (P: the true states and a cumulative-delta slot;
 * Q: chunk-local states and their delta sums). */
typedef struct scan_work {
    float *At;                   /* (N, VW) */
    float *del, *dx, *yacc, *cs; /* (TB, VW) each */
    gset P, Q;                   /* max_groups(...) entries each */
} scan_work;

/* Vector groups of the largest worker slice. */
static size_t max_groups(int d_inner, int n_workers)
{
    size_t g16 = ((size_t)d_inner + OP_MAMBA1_GROUP - 1) / OP_MAMBA1_GROUP;
    return (g16 + (size_t)n_workers - 1) / (size_t)n_workers * (OP_MAMBA1_GROUP / VW);
}

static size_t work_floats(int d_inner, int N, int n_workers)
{
    return round16((size_t)N * VW) + 4 * round16((size_t)TB * VW) +
           2 * max_groups(d_inner, n_workers) * gset_stride(N);
}

size_t op_mamba1_scan_scratch_bytes(int d_inner, int N, int n_workers)
{
    size_t most = 0; /* enough for any smaller worker count too */
    for (int n = 1; n <= n_workers; n++) {
        size_t b = work_floats(d_inner, N, n) * sizeof(float) * (size_t)n;
        most = b > most ? b : most;
    }
    return most;
}

static scan_work work_of(void *scratch, int d_inner, int N, int worker, int n_workers)
{
    float *p = (float *)scratch + work_floats(d_inner, N, n_workers) * (size_t)worker;
    size_t a = round16((size_t)N * VW), b = round16((size_t)TB * VW);
    size_t gs = max_groups(d_inner, n_workers) * gset_stride(N);
    scan_work w = {p,
                   p + a,
                   p + a + b,
                   p + a + 2 * b,
                   p + a + 3 * b,
                   {p + a + 4 * b, gset_stride(N)},
                   {p + a + 4 * b + gs, gset_stride(N)}};
    return w;
}

/* ---- per-group passes ----------------------------------------------------------------------- */

/* At (N, VW) = -exp(A_log) log2(e) for the nl channels from d0 (from in->A2
 * when given); lanes >= nl get A_log = 0 (their inputs are zero, so their
 * state stays zero). */
static void prep_A(const op_mamba1_scan_in *in, int d0, int nl, float *At)
{
    const int N = in->N;
    const float *src = in->A2 ? in->A2 : in->A_log;
    for (int n = 0; n < N; n++)
        for (int l = 0; l < VW; l++)
            At[n * VW + l] = l < nl ? src[(size_t)(d0 + l) * N + n] : 0.0f;
    for (int n = 0; !in->A2 && n < N; n++)
        v_store(At + n * VW, v_rate(v_load(At + n * VW)));
}

/* H (N, VW) from rows d0.. of h (d_inner, N), or zeros when h is NULL. */
static void load_state(const float *h, int d0, int nl, int N, float *H)
{
    memset(H, 0, (size_t)N * VW * sizeof(float));
    if (!h)
        return;
    for (int l = 0; l < nl; l++)
        for (int n = 0; n < N; n++)
            H[n * VW + l] = h[(size_t)(d0 + l) * N + n];
}

static void store_state(float *h, int d0, int nl, int N, const float *H)
{
    for (int l = 0; l < nl; l++)
        for (int n = 0; n < N; n++)
            h[(size_t)(d0 + l) * N + n] = H[n * VW + l];
}

/* Every group of channels [lo, hi) in set S: states from h (NULL: zeros),
 * vector slots zeroed. */
static void load_states(const float *h, int lo, int hi, int N, gset S)
{
    for (int d0 = lo, g = 0; d0 < hi; d0 += VW, g++) {
        load_state(h, d0, imin(VW, hi - d0), N, gs_state(S, g));
        v_store(gs_vec(S, N, g), v_zero());
    }
}

static void store_states(float *h, int lo, int hi, int N, gset S)
{
    for (int d0 = lo, g = 0; h && d0 < hi; d0 += VW, g++)
        store_state(h, d0, imin(VW, hi - d0), N, gs_state(S, g));
}

/* Where the group staged PF_GROUPS after this one reads: column pf_d from
 * row pf_t (pf_d < 0: nothing to prefetch). */
typedef struct next_group {
    int pf_d;
    int64_t pf_t;
} next_group;

/* The group PF_GROUPS after group g of G (channels from lo, hi) in a walk
 * whose blocks start at t0, t0 + TB, ... */
static next_group next_of(int lo, int hi, int g, int G, int64_t t0)
{
    int k = g + PF_GROUPS;
    next_group nx = {k < G ? lo + k * VW : lo + (k - G) * VW, k < G ? t0 : t0 + TB};
    if (nx.pf_d >= hi)
        nx.pf_d = -1;
    return nx;
}

/* Prefetches row pf_t + t of the next group's x, delta_raw, z (read) and y
 * (written): one cache line each.  A group's lines are a row stride apart,
 * a pattern the hardware prefetchers do not follow, so without this every
 * staging load waits for DRAM. */
V_INLINE void prefetch_next(const op_mamba1_scan_in *in, const float *y, next_group nx, int t)
{
    if (nx.pf_d < 0 || nx.pf_t + t >= in->L)
        return;
    size_t o = (size_t)(nx.pf_t + t) * (size_t)in->d_inner + (size_t)nx.pf_d;
    __builtin_prefetch(in->x + o, 0, 3);
    __builtin_prefetch(in->delta_raw + o, 0, 3);
    __builtin_prefetch(in->z + o, 0, 3);
    __builtin_prefetch(y + o, 1, 3);
}

/* Staging for tokens [t0, t0 + T): del = softplus(delta_raw + dt_bias),
 * dx = del x, yacc = D x; *dsum += the deltas in order. */
static void stage_tokens(const op_mamba1_scan_in *in, int d0, int nl, int64_t t0, int T,
                         const scan_work *w, vf *dsum, const float *y, next_group nx)
{
    const size_t ld = (size_t)in->d_inner;
    vf bias = v_loadu_n(in->dt_bias + d0, nl), Dv = v_loadu_n(in->D + d0, nl), ds = *dsum;
    for (int t = 0; t < T; t++) {
        size_t o = (size_t)(t0 + t) * ld + (size_t)d0;
        prefetch_next(in, y, nx, t);
        vf xv = v_loadu_n(in->x + o, nl);
        vf dl = v_softplus(v_add(v_loadu_n(in->delta_raw + o, nl), bias));
        v_store(w->del + t * VW, dl);
        v_store(w->dx + t * VW, v_mul(dl, xv));
        v_store(w->yacc + t * VW, v_mul(Dv, xv));
        ds = v_add(ds, dl);
    }
    *dsum = ds;
}

/* y rows [t0, t0 + T) of the group = yacc, times silu(z) when gate. */
static void finish_tokens(const op_mamba1_scan_in *in, int d0, int nl, int64_t t0, int T,
                          const float *yacc, float *y, int gate)
{
    const size_t ld = (size_t)in->d_inner;
    for (int t = 0; t < T; t++) {
        size_t o = (size_t)(t0 + t) * ld + (size_t)d0;
        vf v = v_load(yacc + t * VW);
        if (gate)
            v = v_mul(v, v_silu(v_loadu_n(in->z + o, nl)));
        v_storeu_n(y + o, v, nl);
    }
}

/* The recurrence for states [n0, n0 + NB) over T staged tokens from t0: the
 * NB state vectors live in registers; yacc[t] += sum_j C[t, n0+j] h_j. NB is a
 * compile-time constant at every call (16, 8, 4, 2 or 1). */
V_INLINE void scan_states(const op_mamba1_scan_in *in, int n0, int64_t t0, int T,
                          const scan_work *w, float *H, const int NB)
{
    const int N = in->N;
    const float *At = w->At + n0 * VW;
    vf h[16];
    UNROLL_STATES
    for (int j = 0; j < NB; j++)
        h[j] = v_load(H + (n0 + j) * VW);
    const float *Bt = in->B + t0 * N + n0, *Ct = in->C + t0 * N + n0;
    for (int t = 0; t < T; t++, Bt += N, Ct += N) {
        vf dl = v_load(w->del + t * VW), u = v_load(w->dx + t * VW);
        vf y0 = v_load(w->yacc + t * VW), y1 = v_zero();
        UNROLL_STATES
        for (int j = 0; j < NB; j++) {
            vf e = v_exp2_neg(v_mul(dl, v_load(At + j * VW)));
            h[j] = v_fma(e, h[j], v_mul(u, v_set1(Bt[j])));
            if (j & 1)
                y1 = v_fma(v_set1(Ct[j]), h[j], y1);
            else
                y0 = v_fma(v_set1(Ct[j]), h[j], y0);
        }
        v_store(w->yacc + t * VW, v_add(y0, y1));
    }
    UNROLL_STATES
    for (int j = 0; j < NB; j++)
        v_store(H + (n0 + j) * VW, h[j]);
}

static void scan_all_states(const op_mamba1_scan_in *in, int64_t t0, int T, const scan_work *w,
                            float *H)
{
    int n0 = 0, N = in->N;
    for (; N - n0 >= 16; n0 += 16)
        scan_states(in, n0, t0, T, w, H, 16);
    if (N - n0 >= 8) {
        scan_states(in, n0, t0, T, w, H, 8);
        n0 += 8;
    }
    if (N - n0 >= 4) {
        scan_states(in, n0, t0, T, w, H, 4);
        n0 += 4;
    }
    if (N - n0 >= 2) {
        scan_states(in, n0, t0, T, w, H, 2);
        n0 += 2;
    }
    if (N - n0 >= 1)
        scan_states(in, n0, t0, T, w, H, 1);
}

/* Tokens [t_lo, t_hi) of every group of channels [lo, hi), blocks of tokens
 * outermost: group g's state is gs_state(S, g) (left holding the state after
 * t_hi - 1), its delta sum accumulates in gs_vec(S, N, g); y rows written
 * gated (gate) or not. */
static void scan_rows(const op_mamba1_scan_in *in, int lo, int hi, int64_t t_lo, int64_t t_hi,
                      float *y, const scan_work *w, gset S, int gate)
{
    const int G = (hi - lo + VW - 1) / VW;
    for (int64_t t0 = t_lo; t0 < t_hi; t0 += TB) {
        int T = t_hi - t0 < TB ? (int)(t_hi - t0) : TB;
        for (int d0 = lo, g = 0; d0 < hi; d0 += VW, g++) {
            int nl = imin(VW, hi - d0);
            vf ds = v_load(gs_vec(S, in->N, g));
            prep_A(in, d0, nl, w->At);
            stage_tokens(in, d0, nl, t0, T, w, &ds, y, next_of(lo, hi, g, G, t0));
            scan_all_states(in, t0, T, w, gs_state(S, g));
            finish_tokens(in, d0, nl, t0, T, w->yacc, y, gate);
            v_store(gs_vec(S, in->N, g), ds);
        }
    }
}

/* ---- sequential ----------------------------------------------------------------------------- */

void op_mamba1_scan_part(const op_mamba1_scan_in *in, float *y, float *h, void *scratch,
                         int worker, int n_workers)
{
    int lo, hi;
    op_mamba1_channels(in->d_inner, worker, n_workers, &lo, &hi);
    scan_work w = work_of(scratch, in->d_inner, in->N, worker, n_workers);
    load_states(in->h0, lo, hi, in->N, w.P);
    scan_rows(in, lo, hi, 0, in->L, y, &w, w.P, 1);
    store_states(h, lo, hi, in->N, w.P);
}

/* ---- chunked -------------------------------------------------------------------------------- */

/* The fix-up for states [n0, n0 + NB): yacc[t] += sum_j C[t, n0+j]
 * 2^(cs[t] At[j]) Hp[j], Hp the state entering the chunk. */
V_INLINE void fix_states(const op_mamba1_scan_in *in, int n0, int64_t t0, int T,
                         const scan_work *w, const float *Hp, const int NB)
{
    const int N = in->N;
    const float *At = w->At + n0 * VW;
    vf hp[16];
    UNROLL_STATES
    for (int j = 0; j < NB; j++)
        hp[j] = v_load(Hp + (n0 + j) * VW);
    const float *Ct = in->C + t0 * N + n0;
    for (int t = 0; t < T; t++, Ct += N) {
        vf c = v_load(w->cs + t * VW);
        vf y0 = v_load(w->yacc + t * VW), y1 = v_zero();
        UNROLL_STATES
        for (int j = 0; j < NB; j++) {
            vf g = v_mul(v_exp2_neg(v_mul(c, v_load(At + j * VW))), hp[j]);
            if (j & 1)
                y1 = v_fma(v_set1(Ct[j]), g, y1);
            else
                y0 = v_fma(v_set1(Ct[j]), g, y0);
        }
        v_store(w->yacc + t * VW, v_add(y0, y1));
    }
}

static void fix_all_states(const op_mamba1_scan_in *in, int64_t t0, int T, const scan_work *w,
                           const float *Hp)
{
    int n0 = 0, N = in->N;
    for (; N - n0 >= 16; n0 += 16)
        fix_states(in, n0, t0, T, w, Hp, 16);
    if (N - n0 >= 8) {
        fix_states(in, n0, t0, T, w, Hp, 8);
        n0 += 8;
    }
    if (N - n0 >= 4) {
        fix_states(in, n0, t0, T, w, Hp, 4);
        n0 += 4;
    }
    if (N - n0 >= 2) {
        fix_states(in, n0, t0, T, w, Hp, 2);
        n0 += 2;
    }
    if (N - n0 >= 1)
        fix_states(in, n0, t0, T, w, Hp, 1);
}

/* The fix-up of chunk [t_lo, t_hi) for every group of channels [lo, hi),
 * whose ungated local outputs are in y: adds the contribution of the state
 * entering the chunk, gs_state(Hp, g), and gates.  gs_vec(CS, N, g) carries
 * group g's cumulative delta from block to block (zero at the chunk start). */
static void fixup_rows(const op_mamba1_scan_in *in, int lo, int hi, int64_t t_lo, int64_t t_hi,
                       float *y, const scan_work *w, gset Hp, gset CS)
{
    const size_t ld = (size_t)in->d_inner;
    const int G = (hi - lo + VW - 1) / VW;
    for (int64_t t0 = t_lo; t0 < t_hi; t0 += TB) {
        int T = t_hi - t0 < TB ? (int)(t_hi - t0) : TB;
        for (int d0 = lo, g = 0; d0 < hi; d0 += VW, g++) {
            int nl = imin(VW, hi - d0);
            vf bias = v_loadu_n(in->dt_bias + d0, nl), cs = v_load(gs_vec(CS, in->N, g));
            next_group nx = next_of(lo, hi, g, G, t0);
            prep_A(in, d0, nl, w->At);
            for (int t = 0; t < T; t++) {
                size_t o = (size_t)(t0 + t) * ld + (size_t)d0;
                prefetch_next(in, y, nx, t);
                cs = v_add(cs, v_softplus(v_add(v_loadu_n(in->delta_raw + o, nl), bias)));
                v_store(w->cs + t * VW, cs);
                v_store(w->yacc + t * VW, v_loadu_n(y + o, nl));
            }
            fix_all_states(in, t0, T, w, gs_state(Hp, g));
            finish_tokens(in, d0, nl, t0, T, w->yacc, y, 1);
            v_store(gs_vec(CS, in->N, g), cs);
        }
    }
}

/* dst = 2^(dsum At) prev + local: the true state after a chunk, from the
 * true state before it (prev) and its local end state from zero (local), with
 * dsum its delta sum.  dst may equal prev or local. */
static void carry_state(int N, const float *At, vf dsum, const float *prev, const float *local,
                        float *dst)
{
    for (int n = 0; n < N; n++) {
        vf p = v_exp2_neg(v_mul(dsum, v_load(At + n * VW)));
        v_store(dst + n * VW, v_fma(p, v_load(prev + n * VW), v_load(local + n * VW)));
    }
}

/* The set's states and vector slots of groups [0, G) set to zero. */
static void zero_set(gset S, int G)
{
    memset(S.base, 0, (size_t)G * S.stride * sizeof(float));
}

void op_mamba1_chunked_part(const op_mamba1_scan_in *in, int chunk, float *y, float *h,
                            void *scratch, int worker, int n_workers)
{
    int lo, hi;
    op_mamba1_channels(in->d_inner, worker, n_workers, &lo, &hi);
    scan_work w = work_of(scratch, in->d_inner, in->N, worker, n_workers);
    const int N = in->N, G = (hi - lo + VW - 1) / VW;
    const int64_t L = in->L, T = chunk < 1 ? 1 : chunk;
    int64_t c1 = T < L ? T : L;
    load_states(in->h0, lo, hi, N, w.P);
    scan_rows(in, lo, hi, 0, c1, y, &w, w.P, 1); /* chunk 0: from h0, final outputs */
    for (int64_t c0 = c1; c0 < L; c0 += T) {
        c1 = L - c0 < T ? L : c0 + T;
        zero_set(w.Q, G);
        scan_rows(in, lo, hi, c0, c1, y, &w, w.Q, 0); /* local, from zero */
        for (int g = 0; g < G; g++)
            v_store(gs_vec(w.P, N, g), v_zero());
        fixup_rows(in, lo, hi, c0, c1, y, &w, w.P, w.P);
        for (int d0 = lo, g = 0; d0 < hi; d0 += VW, g++) {
            prep_A(in, d0, imin(VW, hi - d0), w.At);
            carry_state(N, w.At, v_load(gs_vec(w.Q, N, g)), gs_state(w.P, g), gs_state(w.Q, g),
                        gs_state(w.P, g));
        }
    }
    store_states(h, lo, hi, N, w.P);
}

/* ---- chunked, split by time ------------------------------------------------------------------ */

static int64_t n_chunks_of(int64_t L, int chunk) { return (L + chunk - 1) / chunk; }
static int n_vgroups_of(int d_inner) { return (d_inner + VW - 1) / VW; }

size_t op_mamba1_chunked_ws_bytes(int64_t L, int d_inner, int N, int chunk)
{
    if (L < 1 || d_inner < 1 || N < 1 || chunk < 1)
        return 0;
    double b = (double)n_chunks_of(L, chunk) * n_vgroups_of(d_inner) * (double)gset_stride(N) *
               sizeof(float);
    return b < (double)SIZE_MAX / 2 ? (size_t)b : 0;
}

/* Chunk c's group set in ws: every vector group's end state and delta sum. */
static gset ws_chunk(void *ws, int d_inner, int N, int64_t c)
{
    gset s = {(float *)ws + (size_t)c * (size_t)n_vgroups_of(d_inner) * gset_stride(N),
              gset_stride(N)};
    return s;
}

void op_mamba1_chunked_phase(const op_mamba1_scan_in *in, int chunk, int phase, float *y,
                             float *h, void *ws, void *scratch, int worker, int n_workers)
{
    const int N = in->N, D = in->d_inner;
    const int64_t L = in->L, nc = n_chunks_of(L, chunk);
    scan_work w = work_of(scratch, D, N, worker, n_workers);
    if (phase == 2) { /* carry, split by channels */
        int lo, hi;
        op_mamba1_channels(D, worker, n_workers, &lo, &hi);
        for (int d0 = lo; d0 < hi; d0 += VW) {
            int g = d0 / VW;
            prep_A(in, d0, imin(VW, hi - d0), w.At);
            for (int64_t c = 1; c < nc; c++) {
                gset prev = ws_chunk(ws, D, N, c - 1), cur = ws_chunk(ws, D, N, c);
                carry_state(N, w.At, v_load(gs_vec(cur, N, g)), gs_state(prev, g),
                            gs_state(cur, g), gs_state(cur, g));
            }
            if (h)
                store_state(h, d0, imin(VW, hi - d0), N, gs_state(ws_chunk(ws, D, N, nc - 1), g));
        }
        return;
    }
    /* phases 1 and 3, split by chunks; every channel */
    int64_t c_lo = nc * worker / n_workers, c_hi = nc * (worker + 1) / n_workers;
    for (int64_t c = c_lo; c < c_hi; c++) {
        int64_t t_lo = c * chunk, t_hi = L - t_lo < chunk ? L : t_lo + chunk;
        gset cur = ws_chunk(ws, D, N, c);
        if (phase == 1) {
            load_states(c == 0 ? in->h0 : NULL, 0, D, N, cur);
            scan_rows(in, 0, D, t_lo, t_hi, y, &w, cur, c == 0);
        } else if (c > 0) { /* the delta sums of chunk c are spent: its slots hold cs */
            for (int g = 0; g < n_vgroups_of(D); g++)
                v_store(gs_vec(cur, N, g), v_zero());
            fixup_rows(in, 0, D, t_lo, t_hi, y, &w, ws_chunk(ws, D, N, c - 1), cur);
        }
    }
}

/* ---- step ------------------------------------------------------------------------------------ */

/* One channel's N states: h_out = 2^(dl At) h_in + u B, returns sum_n C h_out. */
static float step_channel(const op_mamba1_scan_in *in, int d, vf dlb, vf ub, const float *h_in,
                          float *h_out)
{
    const int N = in->N;
    const size_t row = (size_t)d * N;
    vf acc = v_zero();
    for (int n0 = 0; n0 < N; n0 += VW) {
        int m = imin(VW, N - n0);
        vf a2 = in->A2 ? v_loadu_n(in->A2 + row + n0, m)
                       : v_rate(v_loadu_n(in->A_log + row + n0, m));
        vf e = v_exp2_neg(v_mul(dlb, a2));
        vf hv = v_fma(e, v_loadu_n(h_in + row + n0, m), v_mul(ub, v_loadu_n(in->B + n0, m)));
        v_storeu_n(h_out + row + n0, hv, m);
        acc = v_fma(v_loadu_n(in->C + n0, m), hv, acc);
    }
    return v_hsum(acc);
}

void op_mamba1_step_range(const op_mamba1_scan_in *in, const float *h_in, float *h_out,
                          float *y, int d_lo, int d_hi)
{
    float dls[VW], us[VW], ys[VW];
    for (int d0 = d_lo; d0 < d_hi; d0 += VW) {
        int nl = imin(VW, d_hi - d0);
        vf xv = v_loadu_n(in->x + d0, nl);
        vf dr = v_loadu_n(in->delta_raw + d0, nl);
        vf dl = v_softplus(v_add(dr, v_loadu_n(in->dt_bias + d0, nl)));
        v_storeu(dls, dl);
        v_storeu(us, v_mul(dl, xv));
        for (int l = 0; l < VW; l++)
            ys[l] = l < nl ? step_channel(in, d0 + l, v_set1(dls[l]), v_set1(us[l]), h_in, h_out)
                           : 0.0f;
        vf yv = v_fma(v_loadu_n(in->D + d0, nl), xv, v_loadu(ys));
        v_storeu_n(y + d0, v_mul(yv, v_silu(v_loadu_n(in->z + d0, nl))), nl);
    }
}

void op_mamba1_step_part(const op_mamba1_scan_in *in, const float *h_in, float *h_out,
                         float *y, int worker, int n_workers)
{
    int lo, hi;
    op_mamba1_channels(in->d_inner, worker, n_workers, &lo, &hi);
    op_mamba1_step_range(in, h_in, h_out, y, lo, hi);
}

/* ---- cost model ------------------------------------------------------------------------------ */

double op_mamba1_scan_flops(int64_t L, int d_inner, int N)
{
    return 6.0 * (double)L * d_inner * N + 9.0 * (double)L * d_inner + (double)d_inner * N;
}

double op_mamba1_scan_bytes(int64_t L, int d_inner, int N)
{
    double Ld = (double)L * d_inner;
    return 4.0 * (4.0 * Ld + 2.0 * (double)L * N + (double)d_inner * N + 2.0 * d_inner) +
           8.0 * (double)d_inner * N;
}

double op_mamba1_scan_state_bytes(int d_inner, int N) { return 4.0 * (double)d_inner * N; }
