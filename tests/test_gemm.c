/* tests/test_gemm.c — fp32 GEMV and GEMM (operators/gemm.h).
 *
 * The fast slices against the double-accumulating references on awkward
 * shapes (1, 3, 7, 17, 63, 65, 129, 257: not multiples of vector widths or
 * blocks, and shapes crossing the KC, MC and NC blocks), within
 * TOL x sum_k |a_ik b_kj| per element; the same result bit for bit whatever
 * the number of workers (slices run one after another, no pool); slices
 * covering every row exactly once; the cost model. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operators/gemm.h"
#include "tests/support/op_check.h"

#define TOL 1e-4 /* relative to the sum of |products| of each output element */

static const int shapes[] = {1, 3, 7, 17, 63, 65, 129, 257};
#define N_SHAPES ((int)(sizeof shapes / sizeof *shapes))

/* Deterministic values in [-1, 1). */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

/* ---- checks --------------------------------------------------------------------------------- */

static void check_gemv_close(const float *W, const float *x, const float *y, const float *ref,
                             int m, int k)
{
    for (int i = 0; i < m; i++) {
        double mag = 0.0;
        for (int j = 0; j < k; j++)
            mag += fabs((double)W[(size_t)i * k + j] * x[j]);
        double diff = fabs((double)y[i] - ref[i]);
        if (!(diff <= TOL * mag + 1e-30))
            fail_msg("gemv m=%d k=%d: y[%d] = %.9g, reference %.9g (|diff| %.3g > %.3g)", m, k, i,
                     y[i], ref[i], diff, TOL * mag);
    }
}

static void check_gemm_close(const float *A, const float *B, const float *C, const float *ref,
                             int m, int n, int k)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double mag = 0.0;
            for (int p = 0; p < k; p++)
                mag += fabs((double)A[(size_t)i * k + p] * B[(size_t)p * n + j]);
            double got = C[(size_t)i * n + j], want = ref[(size_t)i * n + j];
            double diff = fabs(got - want);
            if (!(diff <= TOL * mag + 1e-30))
                fail_msg("gemm m=%d n=%d k=%d: C[%d][%d] = %.9g, reference %.9g (|diff| %.3g)",
                         m, n, k, i, j, got, want, diff);
        }
}

/* Runs every worker's GEMV slice one after another. */
static void gemv_split(const float *W, const float *x, float *y, int m, int k, int nw)
{
    for (int w = 0; w < nw; w++)
        op_gemv_part(W, x, y, m, k, w, nw);
}

/* Runs every worker's GEMM slice one after another, with scratch sized for nw. */
static void gemm_split(const float *A, const float *B, float *C, int m, int n, int k, int nw)
{
    size_t bytes = op_gemm_scratch_bytes(m, n, k, nw);
    void *scratch = malloc(bytes ? bytes : 1);
    assert_non_null(scratch);
    for (int w = 0; w < nw; w++)
        op_gemm_part(A, B, C, m, n, k, scratch, w, nw);
    free(scratch);
}

/* One worker's GEMM of random A (m, k) and B (k, n) against the reference,
 * within TOL. */
static void check_gemm_shape(int m, int n, int k)
{
    float *A = tsup_rnd_floats(&rng_state, (size_t)m * k, 1.0f),
          *B = tsup_rnd_floats(&rng_state, (size_t)k * n, 1.0f);
    float *C = tsup_nans((size_t)m * n), *ref = tsup_nans((size_t)m * n);
    op_gemm_ref(A, B, ref, m, n, k);
    gemm_split(A, B, C, m, n, k, 1);
    check_gemm_close(A, B, C, ref, m, n, k);
    free(A), free(B), free(C), free(ref);
}

/* ---- tests ------------------------------------------------------------------------------------- */

static void test_01_cost_model(void **state)
{
    assert_true(op_gemv_flops(4096, 4096) == 2.0 * 4096 * 4096);
    assert_true(op_gemv_bytes(3, 5) == 4.0 * (15 + 5 + 3));
    assert_true(op_gemm_flops(2, 3, 4) == 48.0);
    assert_true(op_gemm_bytes(2, 3, 4) == 4.0 * (8 + 12 + 6));
    /* No int overflow on large shapes. */
    assert_true(op_gemm_flops(65536, 65536, 65536) == 2.0 * 65536.0 * 65536.0 * 65536.0);
    const char *isa = op_gemm_isa();
    assert_true(strcmp(isa, "avx512f") == 0 || strcmp(isa, "avx2+fma") == 0 ||
                strcmp(isa, "neon") == 0 || strcmp(isa, "portable") == 0);
}

static void test_02_references_by_hand(void **state)
{
    const float A[2 * 3] = {1, 2, 3, 4, 5, 6};     /* (2, 3) */
    const float B[3 * 2] = {7, 8, 9, 10, 11, 12};  /* (3, 2) */
    float C[4];
    op_gemm_ref(A, B, C, 2, 2, 3);
    assert_true(C[0] == 58 && C[1] == 64 && C[2] == 139 && C[3] == 154);
    const float x[3] = {1, -1, 2};
    float y[2];
    op_gemv_ref(A, x, y, 2, 3);
    assert_true(y[0] == 5 && y[1] == 11);
    op_gemv_ref(A, x, y, 2, 0); /* empty inner dimension: zeros */
    assert_true(y[0] == 0 && y[1] == 0);
}

static void test_03_slices_cover_rows(void **state)
{
    static const int ms[] = {0, 1, 3, 4, 5, 12, 13, 100, 257, 1000};
    for (size_t t = 0; t < sizeof ms / sizeof *ms; t++)
        for (int nw = 1; nw <= 9; nw++)
            for (int kind = 0; kind < 2; kind++) {
                int next = 0;
                for (int w = 0; w < nw; w++) {
                    int lo, hi;
                    if (kind == 0)
                        op_gemv_rows(ms[t], w, nw, &lo, &hi);
                    else
                        op_gemm_rows(ms[t], w, nw, &lo, &hi);
                    assert_int_equal(lo, next);
                    assert_true(hi >= lo);
                    next = hi;
                }
                assert_int_equal(next, ms[t]);
            }
}

static void test_04_gemv_matches_reference(void **state)
{
    static const int extra_k[] = {0, 2, 15, 16, 31, 32, 33, 1000, 4099};
    for (int a = 0; a < N_SHAPES; a++) {
        int m = shapes[a];
        for (int b = 0; b < N_SHAPES + (int)(sizeof extra_k / sizeof *extra_k); b++) {
            int k = b < N_SHAPES ? shapes[b] : extra_k[b - N_SHAPES];
            float *W = tsup_rnd_floats(&rng_state, (size_t)m * k, 1.0f),
                  *x = tsup_rnd_floats(&rng_state, (size_t)k, 1.0f);
            float *y = tsup_nans((size_t)m), *ref = tsup_nans((size_t)m);
            op_gemv_ref(W, x, ref, m, k);
            gemv_split(W, x, y, m, k, 1);
            check_gemv_close(W, x, y, ref, m, k);
            free(W), free(x), free(y), free(ref);
        }
    }
}

static void test_05_gemv_same_for_any_split(void **state)
{
    static const int nws[] = {2, 3, 5, 8, 300};
    for (int a = 0; a < N_SHAPES; a++)
        for (int b = 0; b < N_SHAPES; b++) {
            int m = shapes[a], k = shapes[b];
            float *W = tsup_rnd_floats(&rng_state, (size_t)m * k, 1.0f),
                  *x = tsup_rnd_floats(&rng_state, (size_t)k, 1.0f);
            float *y1 = tsup_nans((size_t)m), *yn = tsup_nans((size_t)m);
            gemv_split(W, x, y1, m, k, 1);
            for (size_t t = 0; t < sizeof nws / sizeof *nws; t++) {
                for (int i = 0; i < m; i++)
                    yn[i] = NAN;
                gemv_split(W, x, yn, m, k, nws[t]);
                assert_memory_equal(y1, yn, (size_t)m * sizeof(float));
            }
            free(W), free(x), free(y1), free(yn);
        }
}

static void test_06_gemm_matches_reference(void **state)
{
    for (int a = 0; a < N_SHAPES; a++)
        for (int b = 0; b < N_SHAPES; b++)
            for (int c = 0; c < N_SHAPES; c++)
                check_gemm_shape(shapes[a], shapes[b], shapes[c]);
}

static void test_07_gemm_crosses_blocks(void **state)
{
    /* Inner dimensions past one and several KC blocks, rows past MC, columns
     * past NC, each with a ragged end. */
    static const int cases[][3] = {
        {5, 33, 300}, {13, 17, 513}, {200, 40, 257}, {385, 9, 31}, {7, 2100, 19},
        {3, 4099, 5}, {64, 64, 64}, {96, 128, 256},
    };
    for (size_t t = 0; t < sizeof cases / sizeof *cases; t++)
        check_gemm_shape(cases[t][0], cases[t][1], cases[t][2]);
}

static void test_08_gemm_same_for_any_split(void **state)
{
    static const int nws[] = {2, 3, 7};
    static const int cases[][3] = {
        {1, 17, 7}, {3, 65, 129}, {17, 63, 257}, {63, 129, 65}, {129, 7, 300}, {257, 65, 17},
        {200, 33, 513},
    };
    for (size_t t = 0; t < sizeof cases / sizeof *cases; t++) {
        int m = cases[t][0], n = cases[t][1], k = cases[t][2];
        float *A = tsup_rnd_floats(&rng_state, (size_t)m * k, 1.0f),
              *B = tsup_rnd_floats(&rng_state, (size_t)k * n, 1.0f);
        float *C1 = tsup_nans((size_t)m * n), *Cn = tsup_nans((size_t)m * n);
        gemm_split(A, B, C1, m, n, k, 1);
        for (size_t w = 0; w < sizeof nws / sizeof *nws; w++) {
            for (size_t i = 0; i < (size_t)m * n; i++)
                Cn[i] = NAN;
            gemm_split(A, B, Cn, m, n, k, nws[w]);
            assert_memory_equal(C1, Cn, (size_t)m * n * sizeof(float));
        }
        free(A), free(B), free(C1), free(Cn);
    }
}

static void test_09_gemm_empty_dimensions(void **state)
{
    assert_int_equal(op_gemm_scratch_bytes(0, 5, 5, 2), 0);
    assert_int_equal(op_gemm_scratch_bytes(5, 0, 5, 2), 0);
    assert_int_equal(op_gemm_scratch_bytes(5, 5, 0, 2), 0);
    /* k == 0: C = 0, without scratch. */
    float C[3 * 4];
    for (int i = 0; i < 12; i++)
        C[i] = NAN;
    float dummy = 1.0f;
    for (int w = 0; w < 2; w++)
        op_gemm_part(&dummy, &dummy, C, 3, 4, 0, NULL, w, 2);
    for (int i = 0; i < 12; i++)
        assert_true(C[i] == 0.0f);
    /* m == 0 or n == 0: nothing written. */
    op_gemm_part(&dummy, &dummy, C, 0, 4, 3, NULL, 0, 1);
    op_gemm_part(&dummy, &dummy, C, 3, 0, 3, NULL, 0, 1);
    float y = NAN;
    op_gemv_part(&dummy, &dummy, &y, 1, 0, 0, 1);
    assert_true(y == 0.0f);
}

static void test_10_gemm_scratch_any_alignment(void **state)
{
    int m = 37, n = 45, k = 70, nw = 2;
    float *A = tsup_rnd_floats(&rng_state, (size_t)m * k, 1.0f),
          *B = tsup_rnd_floats(&rng_state, (size_t)k * n, 1.0f);
    float *C1 = tsup_nans((size_t)m * n), *C2 = tsup_nans((size_t)m * n);
    gemm_split(A, B, C1, m, n, k, nw);
    size_t bytes = op_gemm_scratch_bytes(m, n, k, nw);
    unsigned char *raw = malloc(bytes + 8);
    assert_non_null(raw);
    for (int w = 0; w < nw; w++)
        op_gemm_part(A, B, C2, m, n, k, raw + 4, w, nw); /* 4-byte aligned only */
    assert_memory_equal(C1, C2, (size_t)m * n * sizeof(float));
    free(raw);
    free(A), free(B), free(C1), free(C2);
}

static void test_11_special_values_propagate(void **state)
{
    /* An Inf or NaN input reaches its output row and column (no value is
     * skipped by the blocking or the padding). */
    int m = 20, n = 40, k = 30;
    float *A = tsup_rnd_floats(&rng_state, (size_t)m * k, 1.0f),
          *B = tsup_rnd_floats(&rng_state, (size_t)k * n, 1.0f);
    float *C = tsup_nans((size_t)m * n);
    A[(size_t)13 * k + 29] = NAN;
    gemm_split(A, B, C, m, n, k, 1);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
            assert_int_equal(isnan(C[(size_t)i * n + j]) != 0, i == 13);
    float *x = tsup_rnd_floats(&rng_state, (size_t)k, 1.0f), *y = tsup_nans((size_t)m);
    x[17] = INFINITY;
    gemv_split(A, x, y, m, k, 1);
    assert_true(isnan(y[13]));
    free(A), free(B), free(C), free(x), free(y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_01_cost_model),
        cmocka_unit_test(test_02_references_by_hand),
        cmocka_unit_test(test_03_slices_cover_rows),
        cmocka_unit_test(test_04_gemv_matches_reference),
        cmocka_unit_test(test_05_gemv_same_for_any_split),
        cmocka_unit_test(test_06_gemm_matches_reference),
        cmocka_unit_test(test_07_gemm_crosses_blocks),
        cmocka_unit_test(test_08_gemm_same_for_any_split),
        cmocka_unit_test(test_09_gemm_empty_dimensions),
        cmocka_unit_test(test_10_gemm_scratch_any_alignment),
        cmocka_unit_test(test_11_special_values_propagate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
