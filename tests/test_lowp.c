/* tests/test_lowp.c — 16-bit float weights (operators/lowp.h).
 *
 * Conversions on hand-picked bit patterns both ways (ties, overflow,
 * subnormals, NaN), every 16-bit pattern through the scalar and the bulk
 * (vector) paths, bulk round trips on awkward lengths; the GEMV and GEMM with
 * bf16 / f16 weights against the references of the converted matrix within
 * gemm.h's tolerance (1e-4 x sum |products|), bit for bit the same whatever
 * the worker count (slices run one after another, no pool), and exactly
 * op_gemv_part / op_gemm_part for OP_W_F32.
 * Never: time anything or assert on speed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "operators/gemm.h"
#include "operators/lowp.h"
#include "operators/quant.h"

#define TOL 1e-4

static const op_wtype half_types[] = {OP_W_BF16, OP_W_F16};

static uint32_t bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Deterministic values in [-1, 1). */
static uint64_t rng = 0x243f6a8885a308d3ull;
static uint32_t next_u32(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (uint32_t)((rng * 0x2545f4914f6cdd1dull) >> 32);
}
static float next_unit(void) { return (float)((double)next_u32() / 2147483648.0 - 1.0); }

static void *xmalloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    assert_non_null(p);
    return p;
}

/* W (m, k) of random values rounded to t; *wf gets the converted fp32 copy. */
static void *random_w(op_wtype t, int m, int k, float **wf)
{
    size_t n = (size_t)m * k;
    float *f = xmalloc(n * sizeof(float));
    void *w = xmalloc((size_t)m * op_wtype_row_bytes(t, k));
    for (size_t i = 0; i < n; i++)
        f[i] = next_unit();
    op_f32_to_w(f, t, w, n);
    op_w_to_f32(w, t, f, n);
    *wf = f;
    return w;
}

/* ---- names and sizes --------------------------------------------------------------------- */

static void test_01_names_sizes_and_bytes(void **state)
{
    (void)state;
    assert_string_equal(op_wtype_name(OP_W_F32), "f32");
    assert_string_equal(op_wtype_name(OP_W_BF16), "bf16");
    assert_string_equal(op_wtype_name(OP_W_F16), "f16");
    assert_string_equal(op_wtype_name((op_wtype)7), "?");
    assert_int_equal(op_wtype_parse("f32"), OP_W_F32);
    assert_int_equal(op_wtype_parse("bf16"), OP_W_BF16);
    assert_int_equal(op_wtype_parse("f16"), OP_W_F16);
    assert_int_equal(op_wtype_parse("fp16"), -1);
    assert_int_equal(op_wtype_parse(""), -1);
    assert_int_equal(op_wtype_size(OP_W_F32), 4);
    assert_int_equal(op_wtype_size(OP_W_BF16), 2);
    assert_int_equal(op_wtype_size(OP_W_F16), 2);
    assert_int_equal(op_wtype_size((op_wtype)7), 0);
    assert_true(op_gemv_w_bytes(8, 16, OP_W_BF16) == 2.0 * 128 + 4.0 * 24);
    assert_true(op_gemv_w_bytes(8, 16, OP_W_F32) == op_gemv_bytes(8, 16));
}

/* ---- scalar conversions ----------------------------------------------------------------- */

static void test_02_f16_to_f32_patterns(void **state)
{
    (void)state;
    static const struct { uint16_t h; uint32_t f; } cases[] = {
        {0x3c00, 0x3f800000}, /* 1 */
        {0xc100, 0xc0200000}, /* -2.5 */
        {0x7bff, 0x477fe000}, /* 65504 */
        {0x0400, 0x38800000}, /* smallest normal 2^-14 */
        {0x0001, 0x33800000}, /* smallest subnormal 2^-24 */
        {0x03ff, 0x387fc000}, /* largest subnormal */
        {0x8200, 0xb8000000}, /* -2^-15 */
        {0x8000, 0x80000000}, /* -0 */
        {0x7c00, 0x7f800000}, /* inf */
        {0xfc00, 0xff800000}, /* -inf */
        {0x7e00, 0x7fc00000}, /* quiet NaN */
        {0x7c01, 0x7f802000}, /* signalling NaN: payload kept */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (bits(op_f16_to_f32(cases[i].h)) != cases[i].f)
            fail_msg("f16 0x%04x -> 0x%08x, want 0x%08x", cases[i].h,
                     bits(op_f16_to_f32(cases[i].h)), cases[i].f);
}

static void test_03_bf16_to_f32_patterns(void **state)
{
    (void)state;
    assert_true(op_bf16_to_f32(0x3f80) == 1.0f);
    assert_true(op_bf16_to_f32(0xc020) == -2.5f);
    assert_true(op_bf16_to_f32(0x0001) == ldexpf(1, -133));
    assert_true(isinf(op_bf16_to_f32(0xff80)) && op_bf16_to_f32(0xff80) < 0);
    assert_true(isnan(op_bf16_to_f32(0x7fc1)));
    assert_int_equal(bits(op_bf16_to_f32(0x8000)), 0x80000000u);
}

static void test_04_f32_to_f16_rounding(void **state)
{
    (void)state;
    assert_int_equal(op_f32_to_f16(1.0f), 0x3c00);
    assert_int_equal(op_f32_to_f16(-2.5f), 0xc100);
    assert_int_equal(op_f32_to_f16(65504.0f), 0x7bff);
    assert_int_equal(op_f32_to_f16(65519.0f), 0x7bff);
    assert_int_equal(op_f32_to_f16(65520.0f), 0x7c00); /* overflow: infinity */
    assert_int_equal(op_f32_to_f16(-1e30f), 0xfc00);
    assert_int_equal(op_f32_to_f16(INFINITY), 0x7c00);
    assert_int_equal(op_f32_to_f16(ldexpf(1, -24)), 0x0001);
    assert_int_equal(op_f32_to_f16(-ldexpf(1, -24)), 0x8001);
    assert_int_equal(op_f32_to_f16(ldexpf(1, -25)), 0x0000);          /* tie to even 0 */
    assert_int_equal(op_f32_to_f16(ldexpf(1.25f, -25)), 0x0001);      /* above the tie */
    assert_int_equal(op_f32_to_f16(3 * ldexpf(1, -25)), 0x0002);      /* tie to even 2 */
    assert_int_equal(op_f32_to_f16(ldexpf(1, -14) - ldexpf(1, -26)), 0x0400); /* carries up */
    assert_int_equal(op_f32_to_f16(1.0f + ldexpf(1, -11)), 0x3c00);   /* tie to even */
    assert_int_equal(op_f32_to_f16(1.0f + 3 * ldexpf(1, -11)), 0x3c02);
    assert_int_equal(op_f32_to_f16(from_bits(0x00000001)), 0x0000); /* f32 subnormal */
    assert_true(isnan(op_f16_to_f32(op_f32_to_f16(NAN))));
    assert_true(isnan(op_f16_to_f32(op_f32_to_f16(from_bits(0x7f800001)))));
    assert_int_equal(op_f32_to_f16(from_bits(0xffc00000)), 0xfe00);
}

static void test_05_f32_to_bf16_rounding(void **state)
{
    (void)state;
    assert_int_equal(op_f32_to_bf16(1.0f), 0x3f80);
    assert_int_equal(op_f32_to_bf16(-2.5f), 0xc020);
    assert_int_equal(op_f32_to_bf16(from_bits(0x3f808000)), 0x3f80); /* tie to even */
    assert_int_equal(op_f32_to_bf16(from_bits(0x3f818000)), 0x3f82); /* tie to even */
    assert_int_equal(op_f32_to_bf16(from_bits(0x3f808001)), 0x3f81);
    assert_int_equal(op_f32_to_bf16(from_bits(0x00018000)), 0x0002); /* subnormal tie */
    assert_int_equal(op_f32_to_bf16(from_bits(0x7f7fffff)), 0x7f80); /* overflow: infinity */
    assert_int_equal(op_f32_to_bf16(-INFINITY), 0xff80);
    assert_true(isnan(op_bf16_to_f32(op_f32_to_bf16(NAN))));
    /* A NaN whose payload lies only in the low bits stays NaN. */
    assert_true(isnan(op_bf16_to_f32(op_f32_to_bf16(from_bits(0x7f800001)))));
}

/* ---- every pattern, scalar and bulk ------------------------------------------------------ */

static int is_nan16(op_wtype t, uint16_t h)
{
    return t == OP_W_F16 ? (h & 0x7c00) == 0x7c00 && (h & 0x3ff)
                         : (h & 0x7f80) == 0x7f80 && (h & 0x7f);
}

static void test_06_all_patterns_scalar_and_bulk(void **state)
{
    (void)state;
    uint16_t *h = xmalloc(65536 * sizeof *h), *back = xmalloc(65536 * sizeof *back);
    float *f = xmalloc(65536 * sizeof *f);
    for (uint32_t i = 0; i < 65536; i++)
        h[i] = (uint16_t)i;
    for (size_t ti = 0; ti < 2; ti++) {
        op_wtype t = half_types[ti];
        op_w_to_f32(h, t, f, 65536);
        op_f32_to_w(f, t, back, 65536);
        for (uint32_t i = 0; i < 65536; i++) {
            float s = t == OP_W_F16 ? op_f16_to_f32(h[i]) : op_bf16_to_f32(h[i]);
            if (is_nan16(t, h[i])) { /* bulk f16 may quiet a signalling NaN */
                if (!isnan(f[i]) || !isnan(s) || !is_nan16(t, back[i]))
                    fail_msg("%s NaN 0x%04x lost", op_wtype_name(t), i);
                continue;
            }
            if (bits(f[i]) != bits(s))
                fail_msg("%s 0x%04x: bulk 0x%08x, scalar 0x%08x", op_wtype_name(t), i,
                         bits(f[i]), bits(s));
            uint16_t sb = t == OP_W_F16 ? op_f32_to_f16(s) : op_f32_to_bf16(s);
            if (back[i] != i || sb != i)
                fail_msg("%s 0x%04x: round trip gives 0x%04x (bulk) 0x%04x (scalar)",
                         op_wtype_name(t), i, back[i], sb);
        }
    }
    free(h);
    free(back);
    free(f);
}

/* Random fp32 bit patterns (all exponents: subnormals, overflow, NaN) round
 * the same in bulk as one at a time. */
static void test_07_bulk_rounding_matches_scalar(void **state)
{
    (void)state;
    enum { N = 100003 };
    float *f = xmalloc(N * sizeof *f);
    uint16_t *h = xmalloc(N * sizeof *h);
    for (int i = 0; i < N; i++)
        f[i] = from_bits(next_u32());
    f[0] = from_bits(0x3f808000);
    f[1] = from_bits(0x477ff000);
    f[2] = from_bits(0x33000000);
    for (size_t ti = 0; ti < 2; ti++) {
        op_wtype t = half_types[ti];
        op_f32_to_w(f, t, h, N);
        for (int i = 0; i < N; i++) {
            uint16_t s = t == OP_W_F16 ? op_f32_to_f16(f[i]) : op_f32_to_bf16(f[i]);
            if (h[i] != s)
                fail_msg("%s of 0x%08x: bulk 0x%04x, scalar 0x%04x", op_wtype_name(t),
                         bits(f[i]), h[i], s);
        }
    }
    free(f);
    free(h);
}

static void test_08_bulk_round_trips_on_lengths(void **state)
{
    (void)state;
    static const size_t lens[] = {0, 1, 15, 16, 17, 1000};
    static const op_wtype all[] = {OP_W_F32, OP_W_BF16, OP_W_F16};
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++)
        for (size_t ti = 0; ti < 3; ti++) {
            size_t n = lens[li];
            op_wtype t = all[ti];
            float *src = xmalloc((n + 1) * sizeof(float)), *dst = xmalloc((n + 1) * sizeof(float));
            unsigned char *w = xmalloc((n + 1) * 4);
            for (size_t i = 0; i < n; i++)
                src[i] = 100.0f * next_unit();
            dst[n] = 12345.0f; /* a guard past the end */
            op_f32_to_w(src, t, w, n);
            op_w_to_f32(w, t, dst, n);
            assert_true(dst[n] == 12345.0f);
            /* Exact for f32; within half an ulp of the 16-bit type otherwise. */
            double rel = t == OP_W_F32 ? 0.0 : t == OP_W_BF16 ? 0x1p-8 : 0x1p-11;
            for (size_t i = 0; i < n; i++)
                if (!(fabs((double)dst[i] - src[i]) <= rel * fabs(src[i]) + 0x1p-25))
                    fail_msg("%s n=%zu: %.9g -> %.9g", op_wtype_name(t), n, src[i], dst[i]);
            /* And the 16-bit values themselves survive a second trip exactly. */
            unsigned char *w2 = xmalloc((n + 1) * 4);
            op_f32_to_w(dst, t, w2, n);
            if (n > 0)
                assert_memory_equal(w, w2, n * op_wtype_size(t));
            free(src);
            free(dst);
            free(w);
            free(w2);
        }
}

/* ---- GEMV --------------------------------------------------------------------------------- */

/* y of op_gemv_w_part over n_workers slices run one after another. */
static void gemv_slices(const void *W, op_wtype t, const float *x, float *y, int m, int k,
                        int n_workers)
{
    for (int i = 0; i < m; i++)
        y[i] = NAN;
    for (int w = 0; w < n_workers; w++)
        op_gemv_w_part(W, t, x, y, m, k, w, n_workers);
}

static void check_gemv(const float *wf, const float *x, const float *y, const float *ref, int m,
                       int k, op_wtype t, int workers)
{
    for (int i = 0; i < m; i++) {
        double mag = 0.0;
        for (int j = 0; j < k; j++)
            mag += fabs((double)wf[(size_t)i * k + j] * x[j]);
        if (!(fabs((double)y[i] - ref[i]) <= TOL * mag + 1e-30))
            fail_msg("gemv %s m=%d k=%d workers=%d: y[%d] = %.9g, reference %.9g",
                     op_wtype_name(t), m, k, workers, i, y[i], ref[i]);
    }
}

static void test_09_gemv_matches_reference_for_any_workers(void **state)
{
    (void)state;
    static const int ms[] = {1, 3, 17, 64, 1000}, ks[] = {1, 7, 16, 33, 512, 1000};
    for (size_t ti = 0; ti < 2; ti++)
        for (size_t mi = 0; mi < 5; mi++)
            for (size_t ki = 0; ki < 6; ki++) {
                op_wtype t = half_types[ti];
                int m = ms[mi], k = ks[ki];
                float *wf, *x = xmalloc((size_t)k * sizeof(float));
                void *W = random_w(t, m, k, &wf);
                for (int j = 0; j < k; j++)
                    x[j] = next_unit();
                float *ref = xmalloc((size_t)m * sizeof(float));
                float *y1 = xmalloc((size_t)m * sizeof(float)), *y = xmalloc((size_t)m * sizeof(float));
                op_gemv_w_ref(W, t, x, ref, m, k);
                gemv_slices(W, t, x, y1, m, k, 1);
                check_gemv(wf, x, y1, ref, m, k, t, 1);
                for (int nw = 2; nw <= 3; nw++) {
                    gemv_slices(W, t, x, y, m, k, nw);
                    assert_memory_equal(y, y1, (size_t)m * sizeof(float));
                }
                free(wf);
                free(W);
                free(x);
                free(ref);
                free(y1);
                free(y);
            }
}

static void test_10_gemv_f32_is_op_gemv_part(void **state)
{
    (void)state;
    int m = 37, k = 129;
    float *W, *x = xmalloc((size_t)k * sizeof(float));
    void *w = random_w(OP_W_F32, m, k, &W);
    for (int j = 0; j < k; j++)
        x[j] = next_unit();
    float y[37], z[37], ref[37];
    for (int nw = 1; nw <= 3; nw++) {
        for (int i = 0; i < nw; i++) {
            op_gemv_part(W, x, y, m, k, i, nw);
            op_gemv_w_part(w, OP_W_F32, x, z, m, k, i, nw);
        }
        assert_memory_equal(y, z, sizeof y);
    }
    op_gemv_ref(W, x, y, m, k);
    op_gemv_w_ref(w, OP_W_F32, x, ref, m, k);
    assert_memory_equal(y, ref, sizeof y);
    free(W);
    free(w);
    free(x);
}

/* ---- GEMM --------------------------------------------------------------------------------- */

/* C of op_gemm_w_part over n_workers slices run one after another. */
static void gemm_slices(const void *A, op_wtype t, const float *B, float *C, int m, int n, int k,
                        int n_workers)
{
    size_t bytes = op_gemm_scratch_bytes(m, n, k, n_workers);
    void *scratch = xmalloc(bytes);
    for (size_t i = 0; i < (size_t)m * n; i++)
        C[i] = NAN;
    for (int w = 0; w < n_workers; w++)
        op_gemm_w_part(A, t, B, C, m, n, k, scratch, w, n_workers);
    free(scratch);
}

static void check_gemm(const float *Af, const float *B, const float *C, const float *ref, int m,
                       int n, int k, op_wtype t)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double mag = 0.0;
            for (int p = 0; p < k; p++)
                mag += fabs((double)Af[(size_t)i * k + p] * B[(size_t)p * n + j]);
            double got = C[(size_t)i * n + j], want = ref[(size_t)i * n + j];
            if (!(fabs(got - want) <= TOL * mag + 1e-30))
                fail_msg("gemm %s m=%d n=%d k=%d: C[%d][%d] = %.9g, reference %.9g",
                         op_wtype_name(t), m, n, k, i, j, got, want);
        }
}

static void test_11_gemm_matches_reference_for_any_workers(void **state)
{
    (void)state;
    static const int ms[] = {1, 13, 200}, ns[] = {1, 33, 65}, ks[] = {1, 17, 300};
    for (size_t ti = 0; ti < 2; ti++)
        for (size_t a = 0; a < 3; a++)
            for (size_t b = 0; b < 3; b++)
                for (size_t c = 0; c < 3; c++) {
                    op_wtype t = half_types[ti];
                    int m = ms[a], n = ns[b], k = ks[c];
                    float *Af, *B = xmalloc((size_t)k * n * sizeof(float));
                    void *A = random_w(t, m, k, &Af);
                    for (size_t i = 0; i < (size_t)k * n; i++)
                        B[i] = next_unit();
                    size_t cn = (size_t)m * n;
                    float *ref = xmalloc(cn * sizeof(float)), *C1 = xmalloc(cn * sizeof(float));
                    float *C = xmalloc(cn * sizeof(float));
                    op_gemm_ref(Af, B, ref, m, n, k);
                    gemm_slices(A, t, B, C1, m, n, k, 1);
                    check_gemm(Af, B, C1, ref, m, n, k, t);
                    for (int nw = 2; nw <= 3; nw++) {
                        gemm_slices(A, t, B, C, m, n, k, nw);
                        assert_memory_equal(C, C1, cn * sizeof(float));
                    }
                    free(Af);
                    free(A);
                    free(B);
                    free(ref);
                    free(C1);
                    free(C);
                }
}

static void test_12_gemm_f32_is_op_gemm_part(void **state)
{
    (void)state;
    int m = 29, n = 45, k = 270;
    float *A, *B = xmalloc((size_t)k * n * sizeof(float));
    void *a = random_w(OP_W_F32, m, k, &A);
    for (size_t i = 0; i < (size_t)k * n; i++)
        B[i] = next_unit();
    float *C = xmalloc((size_t)m * n * sizeof(float)), *D = xmalloc((size_t)m * n * sizeof(float));
    for (int nw = 1; nw <= 3; nw++) {
        void *scratch = xmalloc(op_gemm_scratch_bytes(m, n, k, nw));
        for (int w = 0; w < nw; w++) {
            op_gemm_part(A, B, C, m, n, k, scratch, w, nw);
            op_gemm_w_part(a, OP_W_F32, B, D, m, n, k, scratch, w, nw);
        }
        assert_memory_equal(C, D, (size_t)m * n * sizeof(float));
        free(scratch);
    }
    /* k = 0 zeroes C, as op_gemm_part does. */
    op_gemm_w_part(a, OP_W_BF16, B, D, m, n, 0, NULL, 0, 1);
    for (size_t i = 0; i < (size_t)m * n; i++)
        assert_true(D[i] == 0.0f);
    free(A);
    free(a);
    free(B);
    free(C);
    free(D);
}

/* ---- block types (Q8_0, Q4_0, Q4_1) ------------------------------------------------------ */

static const op_wtype block_types[] = {OP_W_Q8_0, OP_W_Q4_0, OP_W_Q4_1};

static void test_13_block_type_names_and_sizes(void **state)
{
    (void)state;
    static const char *const names[] = {"q8_0", "q4_0", "q4_1"};
    static const size_t block_bytes[] = {34, 18, 20};
    static const int qtypes[] = {OP_Q_Q8_0, OP_Q_Q4_0, OP_Q_Q4_1};
    for (int i = 0; i < 3; i++) {
        op_wtype t = block_types[i];
        assert_string_equal(op_wtype_name(t), names[i]);
        assert_int_equal(op_wtype_parse(names[i]), t);
        assert_int_equal(op_wtype_size(t), 0);
        assert_int_equal(op_wtype_block(t), 32);
        assert_int_equal(op_wtype_qtype(t), qtypes[i]);
        assert_int_equal(op_wtype_row_bytes(t, 96), 3 * block_bytes[i]);
        assert_int_equal(op_wtype_row_bytes(t, 40), 0); /* not whole blocks */
        assert_true(op_gemv_w_bytes(8, 64, t) == 8.0 * 2 * block_bytes[i] + 4.0 * 72);
    }
    assert_int_equal(op_wtype_block(OP_W_BF16), 1);
    assert_int_equal(op_wtype_row_bytes(OP_W_BF16, 3), 6);
    assert_int_equal(op_wtype_qtype(OP_W_F16), OP_Q_F16);
    assert_int_equal(op_wtype_block((op_wtype)9), 0);
    assert_int_equal(op_wtype_qtype((op_wtype)9), -1);
}

/* The bulk conversions of a block type are quant.h's row functions. */
static void test_14_block_conversions_are_ggml_rows(void **state)
{
    (void)state;
    enum { N = 32 * 7 };
    float src[N], a[N], b[N];
    unsigned char w[N * 2], v[N * 2];
    for (int i = 0; i < N; i++)
        src[i] = 3.0f * next_unit();
    for (int i = 0; i < 3; i++) {
        op_wtype t = block_types[i];
        op_qtype q = (op_qtype)op_wtype_qtype(t);
        op_f32_to_w(src, t, w, N);
        assert_int_equal(op_quant_row_ref(q, src, v, N), 0);
        assert_memory_equal(w, v, op_wtype_row_bytes(t, N));
        op_w_to_f32(w, t, a, N);
        assert_int_equal(op_dequant_row(q, w, b, N), 0);
        assert_memory_equal(a, b, sizeof a);
    }
}

/* y over n_workers slices equals quant.h's native GEMV bit for bit, and is
 * within op_gemv_q_bound of the exact reference, which is op_gemv_q_ref. */
static void check_block_gemv(op_wtype t, int m, int k)
{
    op_qtype q = (op_qtype)op_wtype_qtype(t);
    float *wf, *x = xmalloc((size_t)k * sizeof(float)), *tmp = xmalloc((size_t)k * sizeof(float));
    for (int j = 0; j < k; j++)
        x[j] = next_unit();
    void *w = random_w(t, m, k, &wf);
    float *ref = xmalloc((size_t)m * sizeof(float)), *qref = xmalloc((size_t)m * sizeof(float));
    float *y = xmalloc((size_t)m * sizeof(float)), *native = xmalloc((size_t)m * sizeof(float));
    op_gemv_w_ref(w, t, x, ref, m, k);
    assert_int_equal(op_gemv_q_ref(q, w, x, qref, m, k, tmp), 0);
    assert_memory_equal(ref, qref, (size_t)m * sizeof(float));
    void *xq = xmalloc(op_gemv_q_scratch_bytes(q, k));
    int native_ok = k <= OP_W_QMAX_K;
    if (native_ok) {
        assert_int_equal(op_gemv_q_prepare(q, x, k, xq), 0);
        assert_int_equal(op_gemv_q_part_prepared(q, w, xq, native, m, k, 0, 1), 0);
    }
    size_t rb = op_wtype_row_bytes(t, k);
    for (int nw = 1; nw <= 3; nw++) {
        gemv_slices(w, t, x, y, m, k, nw);
        if (native_ok)
            assert_memory_equal(y, native, (size_t)m * sizeof(float));
        for (int i = 0; i < m; i++) {
            double bound = op_gemv_q_bound(q, (const char *)w + (size_t)i * rb, x, k, tmp);
            if (!(fabs((double)y[i] - ref[i]) <= bound))
                fail_msg("%s m=%d k=%d workers=%d: y[%d] = %.9g, reference %.9g, bound %.3g",
                         op_wtype_name(t), m, k, nw, i, y[i], ref[i], bound);
        }
    }
    free(wf);
    free(w);
    free(x);
    free(tmp);
    free(ref);
    free(qref);
    free(y);
    free(native);
    free(xq);
}

static void test_15_block_gemv_is_native_and_within_bound(void **state)
{
    (void)state;
    static const int ms[] = {1, 5, 67}, ks[] = {32, 96, 576};
    for (int i = 0; i < 3; i++)
        for (size_t a = 0; a < 3; a++)
            for (size_t b = 0; b < 3; b++)
                check_block_gemv(block_types[i], ms[a], ks[b]);
    /* Beyond the stack's limit: the exact fallback, still within the bound. */
    check_block_gemv(OP_W_Q4_1, 3, OP_W_QMAX_K + 64);
}

/* A block-type GEMM packs exactly dequantised panels: the result equals the
 * fp32 GEMM of the dequantised matrix bit for bit, for any worker count,
 * including k that crosses the KC block. */
static void test_16_block_gemm_is_fp32_gemm_of_dequantised(void **state)
{
    (void)state;
    static const int ms[] = {1, 13, 70}, ns[] = {1, 33}, ks[] = {32, 288, 544};
    for (int i = 0; i < 3; i++)
        for (size_t a = 0; a < 3; a++)
            for (size_t b = 0; b < 2; b++)
                for (size_t c = 0; c < 3; c++) {
                    int m = ms[a], n = ns[b], k = ks[c];
                    float *Af, *B = xmalloc((size_t)k * n * sizeof(float));
                    for (size_t j = 0; j < (size_t)k * n; j++)
                        B[j] = next_unit();
                    void *A = random_w(block_types[i], m, k, &Af);
                    float *C = xmalloc((size_t)m * n * sizeof(float));
                    float *D = xmalloc((size_t)m * n * sizeof(float));
                    for (int nw = 1; nw <= 3; nw++) {
                        gemm_slices(A, block_types[i], B, C, m, n, k, nw);
                        gemm_slices(Af, OP_W_F32, B, D, m, n, k, nw);
                        assert_memory_equal(C, D, (size_t)m * n * sizeof(float));
                    }
                    free(Af);
                    free(A);
                    free(B);
                    free(C);
                    free(D);
                }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_01_names_sizes_and_bytes),
        cmocka_unit_test(test_02_f16_to_f32_patterns),
        cmocka_unit_test(test_03_bf16_to_f32_patterns),
        cmocka_unit_test(test_04_f32_to_f16_rounding),
        cmocka_unit_test(test_05_f32_to_bf16_rounding),
        cmocka_unit_test(test_06_all_patterns_scalar_and_bulk),
        cmocka_unit_test(test_07_bulk_rounding_matches_scalar),
        cmocka_unit_test(test_08_bulk_round_trips_on_lengths),
        cmocka_unit_test(test_09_gemv_matches_reference_for_any_workers),
        cmocka_unit_test(test_10_gemv_f32_is_op_gemv_part),
        cmocka_unit_test(test_11_gemm_matches_reference_for_any_workers),
        cmocka_unit_test(test_12_gemm_f32_is_op_gemm_part),
        cmocka_unit_test(test_13_block_type_names_and_sizes),
        cmocka_unit_test(test_14_block_conversions_are_ggml_rows),
        cmocka_unit_test(test_15_block_gemv_is_native_and_within_bound),
        cmocka_unit_test(test_16_block_gemm_is_fp32_gemm_of_dequantised),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
