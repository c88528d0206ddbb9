/* platforms/probe.c — STREAM triad and peak fp32 FMA probes (see probe.h).
 *
 * The FMA kernel is written once over a small vector vocabulary (pvec_*)
 * chosen at compile time from the widest ISA the build targets; the scalar
 * reference follows the same recurrence one lane at a time with fmaf, which
 * rounds once like the vector FMA instructions, so results match bit for bit.
 *
 * Never: no timing, no printing, no SQL. */
#include "platforms/probe.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- the vector vocabulary of the FMA kernel ----------------------------------------- */

#if defined(__AVX512F__)
#include <immintrin.h>
#define PROBE_ISA "avx512f"
#define PROBE_LANES 16
typedef __m512 pvec;
#define pvec_load(p) _mm512_loadu_ps(p)
#define pvec_store(p, v) _mm512_storeu_ps((p), (v))
#define pvec_set1(x) _mm512_set1_ps(x)
#define pvec_fma(x, m, a) _mm512_fmadd_ps((x), (m), (a)) /* x*m + a, one rounding */
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define PROBE_ISA "avx2+fma"
#define PROBE_LANES 8
typedef __m256 pvec;
#define pvec_load(p) _mm256_loadu_ps(p)
#define pvec_store(p, v) _mm256_storeu_ps((p), (v))
#define pvec_set1(x) _mm256_set1_ps(x)
#define pvec_fma(x, m, a) _mm256_fmadd_ps((x), (m), (a))
#elif defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#define PROBE_ISA "neon"
#define PROBE_LANES 4
typedef float32x4_t pvec;
#define pvec_load(p) vld1q_f32(p)
#define pvec_store(p, v) vst1q_f32((p), (v))
#define pvec_set1(x) vdupq_n_f32(x)
#define pvec_fma(x, m, a) vfmaq_f32((a), (x), (m)) /* a + x*m, fused */
#else
#define PROBE_ISA "scalar"
#define PROBE_LANES 1
typedef float pvec;
#define pvec_load(p) (*(p))
#define pvec_store(p, v) (*(p) = (v))
#define pvec_set1(x) (x)
#define pvec_fma(x, m, a) fma_scalar((x), (m), (a))
#endif

/* x = x * FMA_MUL + FMA_ADD converges to 1 without denormals or overflow. */
#define FMA_MUL 0.999f
#define FMA_ADD 0.001f
#define FMA_WIDTH (PROBE_LANES * PROBE_FMA_ACC)
/* Floats between two workers' results: a whole number of cache lines. */
#define FMA_STRIDE ((FMA_WIDTH + 15) / 16 * 16)
/* Iterations of the verification pass run at creation. */
#define FMA_CHECK_ITERS 1000L

#if PROBE_LANES == 1
/* The scalar kernel's step: fused when the target has a fast fmaf. */
static inline float fma_scalar(float x, float m, float a)
{
#ifdef FP_FAST_FMAF
    return fmaf(x, m, a);
#else
    return x * m + a;
#endif
}
#define ref_step(x) fma_scalar((x), FMA_MUL, FMA_ADD)
#else
#define ref_step(x) fmaf((x), FMA_MUL, FMA_ADD)
#endif

const char *probe_isa_name(void) { return PROBE_ISA; }
int probe_fma_lanes(void) { return PROBE_LANES; }
int probe_fma_width(void) { return FMA_WIDTH; }

/* The starting value of lane i (0..FMA_WIDTH-1). */
static float fma_init(int i) { return 1.0f + (float)i / 256.0f; }

/* ---- STREAM triad ----------------------------------------------------------------- */

#define TRIAD_SCALAR 3.0
#define TRIAD_ALIGN ((size_t)2 << 20) /* 2 MiB: lets transparent huge pages back the arrays */

struct probe_triad {
    pool *p;
    pool_part part;
    size_t n;           /* elements per array */
    double *a, *b, *c;  /* (n) each */
};

/* The values b and c hold: small integers, so b + s*c is exact with or without FMA. */
static double triad_b(size_t i) { return (double)(i & 1023); }
static double triad_c(size_t i) { return (double)((i * 7) & 511); }

/* Worker w's slice [*lo, *hi) of n elements among nw, cut at 8-element (64-byte) boundaries. */
static void triad_slice(size_t n, int w, int nw, size_t *lo, size_t *hi)
{
    *lo = (n * (size_t)w / (size_t)nw) & ~(size_t)7;
    *hi = w == nw - 1 ? n : (n * (size_t)(w + 1) / (size_t)nw) & ~(size_t)7;
    if (*hi < *lo)
        *hi = *lo;
}

static void triad_touch(void *ctx, int w, int nw)
{
    probe_triad *t = ctx;
    size_t lo, hi;
    triad_slice(t->n, w, nw, &lo, &hi);
    for (size_t i = lo; i < hi; i++) {
        t->a[i] = -1.0;
        t->b[i] = triad_b(i);
        t->c[i] = triad_c(i);
    }
}

/* a = b + s*c over [0, n): the kernel STREAM times. */
static void triad_kernel(double *restrict a, const double *restrict b, const double *restrict c,
                         double s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        a[i] = b[i] + s * c[i];
}

static void triad_pass(void *ctx, int w, int nw)
{
    probe_triad *t = ctx;
    size_t lo, hi;
    triad_slice(t->n, w, nw, &lo, &hi);
    triad_kernel(t->a + lo, t->b + lo, t->c + lo, TRIAD_SCALAR, hi - lo);
}

size_t probe_triad_default_bytes(const plat_topo *topo)
{
    hwloc_topology_t hw = plat_topo_hwloc(topo);
    uint64_t llc = 0;
    for (int type = HWLOC_OBJ_L1CACHE; type <= HWLOC_OBJ_L5CACHE; type++) {
        hwloc_obj_t o = NULL;
        while ((o = hwloc_get_next_obj_by_type(hw, (hwloc_obj_type_t)type, o)))
            if (o->attr->cache.type != HWLOC_OBJ_CACHE_INSTRUCTION && o->attr->cache.size > llc)
                llc = o->attr->cache.size;
    }
    uint64_t floor = (uint64_t)64 << 20;
    return (size_t)(4 * llc > floor ? 4 * llc : floor);
}

/* One array of n doubles, 2 MiB aligned and untouched (first touch is the workers'). */
static double *triad_alloc(size_t n)
{
    size_t bytes = (n * sizeof(double) + TRIAD_ALIGN - 1) / TRIAD_ALIGN * TRIAD_ALIGN;
    return aligned_alloc(TRIAD_ALIGN, bytes);
}

int probe_triad_create(pool *p, const pool_part *part, size_t bytes_per_array,
                       probe_triad **out, cb_err *err)
{
    *out = NULL;
    if (!pool_has_threads(p))
        return cb_fail(err, "triad probe: the pool has no threads (topology not live)");
    if (bytes_per_array == 0)
        bytes_per_array = probe_triad_default_bytes(pool_topo(p));
    if (bytes_per_array < sizeof(double))
        return cb_fail(err, "triad probe: %zu bytes per array, less than one element",
                       bytes_per_array);
    probe_triad *t = calloc(1, sizeof *t);
    if (!t)
        return cb_fail(err, "triad probe: out of memory");
    t->p = p;
    t->part = *part;
    t->n = bytes_per_array / sizeof(double);
    t->a = triad_alloc(t->n);
    t->b = triad_alloc(t->n);
    t->c = triad_alloc(t->n);
    if (!t->a || !t->b || !t->c) {
        size_t n = t->n;
        probe_triad_free(t);
        return cb_fail(err, "triad probe: cannot allocate 3 arrays of %zu bytes",
                       n * sizeof(double));
    }
    if (pool_run(p, part, triad_touch, t, err) != 0 || probe_triad_step(t, err) != 0 ||
        probe_triad_verify(t, err) != 0) {
        probe_triad_free(t);
        return cb_wrap(err, "triad probe");
    }
    *out = t;
    return 0;
}

void probe_triad_free(probe_triad *t)
{
    if (!t)
        return;
    free(t->a);
    free(t->b);
    free(t->c);
    free(t);
}

int probe_triad_step(void *ctx, cb_err *err)
{
    probe_triad *t = ctx;
    return pool_run(t->p, &t->part, triad_pass, t, err);
}

double probe_triad_bytes(const probe_triad *t) { return 3.0 * sizeof(double) * (double)t->n; }
size_t probe_triad_elements(const probe_triad *t) { return t->n; }
double probe_triad_scalar(void) { return TRIAD_SCALAR; }

const double *probe_triad_array(const probe_triad *t, int which)
{
    return which == 0 ? t->a : which == 1 ? t->b : which == 2 ? t->c : NULL;
}

/* Checks element i of t. */
static int triad_check(const probe_triad *t, size_t i, cb_err *err)
{
    double want = triad_b(i) + TRIAD_SCALAR * triad_c(i);
    if (t->a[i] != want || t->b[i] != triad_b(i) || t->c[i] != triad_c(i))
        return cb_fail(err, "triad: element %zu is a=%g b=%g c=%g, want a=%g", i, t->a[i],
                       t->b[i], t->c[i], want);
    return 0;
}

int probe_triad_verify(const probe_triad *t, cb_err *err)
{
    if (t->n <= 65536) {
        for (size_t i = 0; i < t->n; i++)
            if (triad_check(t, i, err) != 0)
                return -1;
        return 0;
    }
    for (int w = 0; w < t->part.n; w++) {
        size_t lo, hi;
        triad_slice(t->n, w, t->part.n, &lo, &hi);
        if (hi > lo && (triad_check(t, lo, err) != 0 || triad_check(t, hi - 1, err) != 0))
            return -1;
    }
    for (size_t k = 0; k < 1024; k++)
        if (triad_check(t, (t->n - 1) * k / 1023, err) != 0)
            return -1;
    return 0;
}

/* ---- peak fp32 FMA ---------------------------------------------------------------------- */

struct probe_fma {
    pool *p;
    pool_part part;
    long iterations;    /* per worker per pass */
    long run_iters;     /* what the next pass runs (iterations, or the check count) */
    long last_iters;    /* what the last pass ran (res holds its result) */
    float *res;         /* (part.n, FMA_STRIDE): each worker's final accumulators */
};

/* Runs `iters` steps of PROBE_FMA_ACC independent FMA chains starting from
 * the lane values fma_init, and stores the final values into out (FMA_WIDTH). */
static void fma_kernel(long iters, float *out)
{
    float init[FMA_WIDTH];
    for (int i = 0; i < FMA_WIDTH; i++)
        init[i] = fma_init(i);
    pvec acc[PROBE_FMA_ACC];
    const pvec m = pvec_set1(FMA_MUL), a = pvec_set1(FMA_ADD);
    for (int j = 0; j < PROBE_FMA_ACC; j++)
        acc[j] = pvec_load(init + j * PROBE_LANES);
    for (long it = 0; it < iters; it++)
        for (int j = 0; j < PROBE_FMA_ACC; j++)
            acc[j] = pvec_fma(acc[j], m, a);
    for (int j = 0; j < PROBE_FMA_ACC; j++)
        pvec_store(out + j * PROBE_LANES, acc[j]);
}

static void fma_pass(void *ctx, int w, int nw)
{
    probe_fma *f = ctx;
    fma_kernel(f->run_iters, f->res + (size_t)w * FMA_STRIDE);
}

void probe_fma_reference(long iterations, float *out)
{
    for (int i = 0; i < FMA_WIDTH; i++)
        out[i] = fma_init(i);
    for (long it = 0; it < iterations; it++) /* lanes are independent: any order */
        for (int i = 0; i < FMA_WIDTH; i++)
            out[i] = ref_step(out[i]);
}

/* Compares every worker's last result with the reference for `iters`. */
static int fma_compare(const probe_fma *f, long iters, cb_err *err)
{
    float want[FMA_WIDTH];
    probe_fma_reference(iters, want);
    for (int w = 0; w < f->part.n; w++) {
        const float *got = f->res + (size_t)w * FMA_STRIDE;
        for (int i = 0; i < FMA_WIDTH; i++)
            if (memcmp(&got[i], &want[i], sizeof(float)) != 0)
                return cb_fail(err, "fma: worker %d lane %d is %.9g after %ld iterations, "
                               "the reference %.9g", w, i, got[i], iters, want[i]);
    }
    return 0;
}

int probe_fma_create(pool *p, const pool_part *part, long iterations, probe_fma **out,
                     cb_err *err)
{
    *out = NULL;
    if (!pool_has_threads(p))
        return cb_fail(err, "fma probe: the pool has no threads (topology not live)");
    probe_fma *f = calloc(1, sizeof *f);
    if (!f)
        return cb_fail(err, "fma probe: out of memory");
    f->p = p;
    f->part = *part;
    f->iterations = iterations > 0 ? iterations : 1L << 20;
    size_t bytes = (size_t)(part->n > 0 ? part->n : 1) * FMA_STRIDE * sizeof(float);
    f->res = aligned_alloc(64, bytes);
    if (!f->res) {
        free(f);
        return cb_fail(err, "fma probe: out of memory");
    }
    memset(f->res, 0, bytes);
    f->run_iters = f->iterations < FMA_CHECK_ITERS ? f->iterations : FMA_CHECK_ITERS;
    if (probe_fma_step(f, err) != 0 || fma_compare(f, f->run_iters, err) != 0) {
        probe_fma_free(f);
        return cb_wrap(err, "fma probe");
    }
    f->run_iters = f->iterations;
    *out = f;
    return 0;
}

void probe_fma_free(probe_fma *f)
{
    if (!f)
        return;
    free(f->res);
    free(f);
}

int probe_fma_step(void *ctx, cb_err *err)
{
    probe_fma *f = ctx;
    if (pool_run(f->p, &f->part, fma_pass, f, err) != 0)
        return -1;
    f->last_iters = f->run_iters;
    return 0;
}

double probe_fma_flops(const probe_fma *f)
{
    return 2.0 * PROBE_LANES * PROBE_FMA_ACC * (double)f->iterations * f->part.n;
}

int probe_fma_result(const probe_fma *f, int worker, float *out)
{
    if (worker < 0 || worker >= f->part.n)
        return -1;
    memcpy(out, f->res + (size_t)worker * FMA_STRIDE, FMA_WIDTH * sizeof(float));
    return 0;
}

int probe_fma_verify(const probe_fma *f, cb_err *err)
{
    return fma_compare(f, f->last_iters, err);
}
