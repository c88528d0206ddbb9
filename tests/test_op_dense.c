/* tests/test_op_dense.c — the dense family: int8 quantisation and products
 * (operators/int8.h), the OpenBLAS backend (operators/blas.h) and the
 * registry entries (operators/dense_entry.c, included to reach an instance's
 * output for the corrupted-output case).
 *
 * int8: the quantiser by hand and its round-trip bound; fast == reference bit
 * for bit on awkward shapes and on every split over 1, 2, 3 workers; the
 * int32 extremes at k = OP_INT8_MAX_K; closeness to the fp32 product within
 * the quantisation error bound.  OpenBLAS: within the gemm.h tolerance of the
 * reference and of the built-in kernels.  Entries: check() refusals, cost(),
 * a create/run/verify/destroy round trip, and verify() failing on a
 * corrupted output. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operators/dense_entry.c"
#include "tests/support/op_check.h"

static const int dims[] = {1, 3, 4, 17, 63, 64, 65, 80, 129};
#define N_DIMS ((int)(sizeof dims / sizeof *dims))
static const int inner[] = {1, 3, 4, 17, 63, 64, 65, 127, 128, 129, 1000, 4099};
#define N_INNER ((int)(sizeof inner / sizeof *inner))

static uint64_t rng = 0x243f6a8885a308d3ull;
static uint32_t rnd_u32(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng >> 32);
}
static float rnd(void) { return (float)((double)rnd_u32() / 4294967296.0 * 2.0 - 1.0); }

static float *rnd_floats(size_t n, float scale)
{
    float *p = tsup_floats(n);
    for (size_t i = 0; i < n; i++)
        p[i] = rnd() * scale;
    return p;
}

/* int8 values in [-127, 127]. */
static int8_t *rnd_int8(size_t n)
{
    int8_t *p = malloc(n ? n : 1);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (int8_t)((int)(rnd_u32() % 255) - 127);
    return p;
}

/* ---- int8 helpers ------------------------------------------------------------------------------- */

static void gemv8_split(const int8_t *W, const float *sw, const int8_t *x, float sx, float *y,
                        int m, int k, int nw)
{
    for (int w = 0; w < nw; w++)
        op_gemv_int8_part(W, sw, x, sx, y, m, k, w, nw);
}

/* Packs Bt and runs every worker's GEMM slice one after another. */
static void gemm8_split(const int8_t *A, const float *sa, const int8_t *Bt, const float *sb,
                        float *C, int m, int n, int k, int nw)
{
    size_t pb = op_gemm_int8_packed_bytes(n, k), sb_ = op_gemm_int8_scratch_bytes(m, n, k, nw);
    void *packed = malloc(pb ? pb : 1), *scratch = malloc(sb_ ? sb_ : 1);
    assert_non_null(packed);
    assert_non_null(scratch);
    op_gemm_int8_pack(Bt, n, k, packed);
    for (int w = 0; w < nw; w++)
        op_gemm_int8_part(A, sa, packed, sb, C, m, n, k, scratch, w, nw);
    free(packed);
    free(scratch);
}

/* ---- tests: quantisation ------------------------------------------------------------------------ */

static void test_01_quantize_by_hand(void **state)
{
    /* amax 4: inv = 31.75 exactly; 2 x 31.75 = 63.5 rounds to even (64). */
    const float x[2 * 4] = {1.0f, -2.0f, 0.5f, 4.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    int8_t q[8], qr[8];
    float s[2], sr[2];
    op_quantize_rows_int8(x, q, s, 2, 4);
    op_quantize_rows_int8_ref(x, qr, sr, 2, 4);
    const int8_t want[8] = {32, -64, 16, 127, 0, 0, 0, 0};
    assert_memory_equal(q, want, 8);
    assert_memory_equal(qr, want, 8);
    assert_true(s[0] == 4.0f / 127.0f && sr[0] == s[0]);
    assert_true(s[1] == 0.0f && sr[1] == 0.0f); /* an all-zero row */
    float back[8];
    op_dequantize_rows_int8(q, s, back, 2, 4);
    assert_true(back[3] == 127.0f * (4.0f / 127.0f));
    assert_true(back[4] == 0.0f);
}

static void test_02_quantize_round_trip_bound(void **state)
{
    static const int ks[] = {1, 2, 3, 15, 16, 17, 31, 33, 100, 1000, 4097};
    for (size_t t = 0; t < sizeof ks / sizeof *ks; t++) {
        int m = 5, k = ks[t];
        float *X = rnd_floats((size_t)m * k, 3.0f), *back = tsup_nans((size_t)m * k);
        int8_t *q = malloc((size_t)m * k), *qr = malloc((size_t)m * k);
        float s[5], sr[5];
        assert_non_null(q);
        assert_non_null(qr);
        X[0] = 0.0f; /* a zero inside a row */
        op_quantize_rows_int8(X, q, s, m, k);
        op_quantize_rows_int8_ref(X, qr, sr, m, k);
        assert_memory_equal(q, qr, (size_t)m * k); /* fast == reference, bit for bit */
        assert_memory_equal(s, sr, sizeof(float) * m);
        op_dequantize_rows_int8(q, s, back, m, k);
        for (int i = 0; i < m; i++) {
            double amax = 0.0;
            for (int p = 0; p < k; p++)
                amax = fmax(amax, fabs(X[(size_t)i * k + p]));
            assert_true(fabs(s[i] - amax / 127.0) <= 1e-7 * amax);
            for (int p = 0; p < k; p++) {
                int8_t v = q[(size_t)i * k + p];
                assert_true(v != -128); /* symmetric: [-127, 127] */
                double err = fabs((double)X[(size_t)i * k + p] - back[(size_t)i * k + p]);
                if (!(err <= 0.5 * s[i] * (1.0 + 1e-5) + 1e-30))
                    fail_msg("k=%d row %d col %d: |x - q s| = %.3g > s/2 = %.3g", k, i, p, err,
                             0.5 * s[i]);
            }
        }
        free(X), free(back), free(q), free(qr);
    }
}

/* ---- tests: int8 GEMV ---------------------------------------------------------------------------- */

static void test_03_gemv_int8_equals_reference(void **state)
{
    for (int a = 0; a < N_DIMS; a++)
        for (int b = 0; b < N_INNER; b++) {
            int m = dims[a], k = inner[b];
            int8_t *W = rnd_int8((size_t)m * k), *x = rnd_int8((size_t)k);
            float *sw = rnd_floats((size_t)m, 0.01f), sx = 0.02f;
            float *ref = tsup_nans((size_t)m), *y = tsup_nans((size_t)m);
            op_gemv_int8_ref(W, sw, x, sx, ref, m, k);
            for (int nw = 1; nw <= 3; nw++) {
                for (int i = 0; i < m; i++)
                    y[i] = NAN;
                gemv8_split(W, sw, x, sx, y, m, k, nw);
                assert_memory_equal(y, ref, (size_t)m * sizeof(float));
            }
            free(W), free(x), free(sw), free(ref), free(y);
        }
}

static void test_04_int8_extremes_at_max_k(void **state)
{
    /* 127 x 127 x OP_INT8_MAX_K is just below 2^31: the sums must not wrap
     * (nor the VNNI offset's correction), for both signs. */
    int m = 5, n = 3, k = OP_INT8_MAX_K;
    int8_t *W = malloc((size_t)m * k), *x = malloc((size_t)k), *Bt = malloc((size_t)n * k);
    assert_non_null(W);
    assert_non_null(x);
    assert_non_null(Bt);
    for (size_t p = 0; p < (size_t)k; p++) {
        x[p] = 127;
        W[p] = 127;                     /* row 0: +max */
        W[(size_t)k + p] = -127;        /* row 1: -max */
        W[2 * (size_t)k + p] = p % 2 ? 127 : -127;
        W[3 * (size_t)k + p] = (int8_t)(p % 255) - 127;
        W[4 * (size_t)k + p] = 0;
        Bt[p] = 127;
        Bt[(size_t)k + p] = -127;
        Bt[2 * (size_t)k + p] = (int8_t)(p % 7) - 3;
    }
    float sw[5] = {1, 1, 1, 1, 1}, ref[5], y[5], sb[3] = {1, 1, 1};
    op_gemv_int8_ref(W, sw, x, 1.0f, ref, m, k);
    assert_true(ref[0] == (float)(127.0 * 127.0 * k) && ref[1] == -ref[0] && ref[4] == 0.0f);
    gemv8_split(W, sw, x, 1.0f, y, m, k, 2);
    assert_memory_equal(y, ref, sizeof y);
    /* GEMM: A = rows 0..4 of W, against Bt. */
    float Cref[5 * 3], C[5 * 3];
    op_gemm_int8_ref(W, sw, Bt, sb, Cref, m, n, k);
    gemm8_split(W, sw, Bt, sb, C, m, n, k, 1);
    assert_memory_equal(C, Cref, sizeof C);
    assert_true(Cref[0] == (float)(127.0 * 127.0 * k) && Cref[1] == -Cref[0]);
    free(W), free(x), free(Bt);
}

/* |fp32 product - int8 product| <= sum_p (|w| s_x + |x'| s_w) / 2, plus rounding. */
static void test_05_gemv_int8_close_to_fp32(void **state)
{
    static const int ks[] = {1, 17, 64, 65, 1000};
    for (size_t t = 0; t < sizeof ks / sizeof *ks; t++) {
        int m = 37, k = ks[t];
        float *W = rnd_floats((size_t)m * k, 0.05f), *x = rnd_floats((size_t)k, 2.0f);
        int8_t *Wq = malloc((size_t)m * k), *xq = malloc((size_t)k);
        float *sw = malloc(sizeof(float) * m), sx, *y = tsup_nans((size_t)m),
              *yf = tsup_nans((size_t)m);
        float *xb = tsup_nans((size_t)k);
        assert_non_null(Wq);
        assert_non_null(xq);
        assert_non_null(sw);
        op_quantize_rows_int8(W, Wq, sw, m, k);
        op_quantize_rows_int8(x, xq, &sx, 1, k);
        op_dequantize_rows_int8(xq, &sx, xb, 1, k);
        gemv8_split(Wq, sw, xq, sx, y, m, k, 3);
        op_gemv_ref(W, x, yf, m, k);
        for (int i = 0; i < m; i++) {
            double bound = 0.0, mag = 0.0;
            for (int p = 0; p < k; p++) {
                bound += 0.5 * (fabs(W[(size_t)i * k + p]) * sx + fabs(xb[p]) * sw[i]);
                mag += fabs((double)W[(size_t)i * k + p] * x[p]);
            }
            double diff = fabs((double)y[i] - yf[i]);
            if (!(diff <= bound * (1 + 1e-4) + 1e-6 * mag + 1e-30))
                fail_msg("k=%d row %d: int8 %.7g vs fp32 %.7g, |diff| %.3g > bound %.3g", k, i,
                         y[i], yf[i], diff, bound);
        }
        free(W), free(x), free(Wq), free(xq), free(sw), free(y), free(yf), free(xb);
    }
}

/* ---- tests: int8 GEMM ------------------------------------------------------------------------- */

static void check_gemm8_shape(int m, int n, int k)
{
    int8_t *A = rnd_int8((size_t)m * k), *Bt = rnd_int8((size_t)n * k);
    float *sa = rnd_floats((size_t)m, 0.01f), *sb = rnd_floats((size_t)n, 0.01f);
    float *ref = tsup_nans((size_t)m * n), *C = tsup_nans((size_t)m * n);
    op_gemm_int8_ref(A, sa, Bt, sb, ref, m, n, k);
    for (int nw = 1; nw <= 3; nw++) {
        for (size_t i = 0; i < (size_t)m * n; i++)
            C[i] = NAN;
        gemm8_split(A, sa, Bt, sb, C, m, n, k, nw);
        if (memcmp(C, ref, (size_t)m * n * sizeof(float)) != 0)
            fail_msg("gemm int8 m=%d n=%d k=%d nw=%d differs from the reference", m, n, k, nw);
    }
    free(A), free(Bt), free(sa), free(sb), free(ref), free(C);
}

static void test_06_gemm_int8_equals_reference(void **state)
{
    for (int a = 0; a < N_DIMS; a++)
        for (int b = 0; b < N_DIMS; b++)
            for (int c = 0; c < N_INNER - 2; c++)
                check_gemm8_shape(dims[a], dims[b], inner[c]);
    /* Past one A block (block_rows) and with ragged panels everywhere. */
    check_gemm8_shape(300, 45, 1000);
    check_gemm8_shape(25, 70, 4099);
}

static void test_07_gemm_int8_close_to_fp32_and_empty_k(void **state)
{
    int m = 13, n = 21, k = 300;
    float *A = rnd_floats((size_t)m * k, 1.0f), *W = rnd_floats((size_t)n * k, 0.06f);
    int8_t *Aq = malloc((size_t)m * k), *Wq = malloc((size_t)n * k);
    float sa[13], sw[21], *C = tsup_nans((size_t)m * n);
    assert_non_null(Aq);
    assert_non_null(Wq);
    op_quantize_rows_int8(A, Aq, sa, m, k);
    op_quantize_rows_int8(W, Wq, sw, n, k);
    gemm8_split(Aq, sa, Wq, sw, C, m, n, k, 2);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double ref = 0.0, bound = 0.0;
            for (int p = 0; p < k; p++) {
                double a = A[(size_t)i * k + p], w = W[(size_t)j * k + p];
                double ab = (double)Aq[(size_t)i * k + p] * sa[i];
                ref += a * w;
                bound += 0.5 * (fabs(w) * sa[i] + fabs(ab) * sw[j]);
            }
            double diff = fabs(C[(size_t)i * n + j] - ref);
            if (!(diff <= bound * (1 + 1e-4) + 1e-6))
                fail_msg("C[%d][%d] = %.7g vs fp32 %.7g: |diff| %.3g > bound %.3g", i, j,
                         C[(size_t)i * n + j], ref, diff, bound);
        }
    /* k = 0: zeros, like the reference; no scratch, no packed bytes needed. */
    assert_int_equal(op_gemm_int8_scratch_bytes(3, 4, 0, 2), 0);
    assert_int_equal(op_gemm_int8_packed_bytes(4, 0), 0);
    float Z[12];
    for (int w = 0; w < 2; w++)
        op_gemm_int8_part(Aq, sa, NULL, sw, Z, 3, 4, 0, NULL, w, 2);
    for (int i = 0; i < 12; i++)
        assert_true(Z[i] == 0.0f);
    float y = NAN;
    op_gemv_int8_part(Wq, sw, Aq, 1.0f, &y, 1, 0, 0, 1);
    assert_true(y == 0.0f);
    free(A), free(W), free(Aq), free(Wq), free(C);
}

static void test_08_int8_slices_cover_rows(void **state)
{
    static const int ms[] = {0, 1, 3, 4, 5, 12, 13, 100, 257};
    for (size_t t = 0; t < sizeof ms / sizeof *ms; t++)
        for (int nw = 1; nw <= 5; nw++)
            for (int kind = 0; kind < 2; kind++) {
                int next = 0;
                for (int w = 0; w < nw; w++) {
                    int lo, hi;
                    if (kind == 0)
                        op_gemv_int8_rows(ms[t], w, nw, &lo, &hi);
                    else
                        op_gemm_int8_rows(ms[t], w, nw, &lo, &hi);
                    assert_int_equal(lo, next);
                    assert_true(hi >= lo);
                    next = hi;
                }
                assert_int_equal(next, ms[t]);
            }
    const char *isa = op_int8_isa();
    assert_true(strcmp(isa, "avx512vnni") == 0 || strcmp(isa, "avx2") == 0 ||
                strcmp(isa, "portable") == 0);
}

/* ---- tests: OpenBLAS -------------------------------------------------------------------------- */

static void test_09_openblas_matches_reference_and_builtin(void **state)
{
    op_blas_single_thread();
    assert_non_null(op_blas_config());
    static const int cases[][3] = {{1, 1, 1},   {3, 17, 5},    {17, 63, 65}, {64, 80, 129},
                                   {129, 3, 1}, {37, 129, 300}, {5, 7, 0}};
    for (size_t t = 0; t < sizeof cases / sizeof *cases; t++) {
        int m = cases[t][0], n = cases[t][1], k = cases[t][2];
        float *A = rnd_floats((size_t)m * k, 1.0f), *B = rnd_floats((size_t)k * n, 1.0f);
        float *ref = tsup_nans((size_t)m * n), *C = tsup_nans((size_t)m * n);
        float *Cb = tsup_nans((size_t)m * n), *y = tsup_nans((size_t)m), *yr = tsup_nans((size_t)m);
        op_gemm_ref(A, B, ref, m, n, k);
        op_gemv_ref(A, B, yr, m, k); /* B's first k values as x */
        size_t sb = op_gemm_scratch_bytes(m, n, k, 1);
        void *scratch = malloc(sb ? sb : 1);
        assert_non_null(scratch);
        op_gemm_part(A, B, Cb, m, n, k, scratch, 0, 1);
        for (int nw = 1; nw <= 3; nw++) {
            for (int w = 0; w < nw; w++) {
                op_blas_gemm_part(A, B, C, m, n, k, w, nw);
                op_blas_gemv_part(A, B, y, m, k, w, nw);
            }
            for (int i = 0; i < m; i++) {
                double magv = 0.0;
                for (int p = 0; p < k; p++)
                    magv += fabs((double)A[(size_t)i * k + p] * B[p]);
                assert_true(fabs((double)y[i] - yr[i]) <= 1e-4 * magv + 1e-30);
                for (int j = 0; j < n; j++) {
                    double mag = 0.0;
                    for (int p = 0; p < k; p++)
                        mag += fabs((double)A[(size_t)i * k + p] * B[(size_t)p * n + j]);
                    double got = C[(size_t)i * n + j];
                    if (!(fabs(got - ref[(size_t)i * n + j]) <= 1e-4 * mag + 1e-30 &&
                          fabs(got - Cb[(size_t)i * n + j]) <= 2e-4 * mag + 1e-30))
                        fail_msg("openblas m=%d n=%d k=%d nw=%d: C[%d][%d] = %.9g, reference "
                                 "%.9g, builtin %.9g", m, n, k, nw, i, j, got,
                                 ref[(size_t)i * n + j], Cb[(size_t)i * n + j]);
                }
            }
        }
        free(A), free(B), free(ref), free(C), free(Cb), free(y), free(yr), free(scratch);
    }
    const char *def = op_gemm_default_backend();
    assert_true(strcmp(def, "builtin") == 0 || strcmp(def, "openblas") == 0);
}

/* ---- tests: entries --------------------------------------------------------------------------- */

static op_dims dims_of(int64_t L, int d)
{
    op_dims dm;
    memset(&dm, 0, sizeof dm);
    dm.seq_len = L;
    dm.d_model = d;
    return dm;
}

static int entry_is_gemv(const op_entry *e) { return strcmp(e->phase, "decode") == 0; }

static void test_10_entry_fields_and_checks(void **state)
{
    int n = 0;
    for (const op_entry *const *e = op_family_dense; *e; e++, n++) {
        const op_entry *x = *e;
        char want[64];
        snprintf(want, sizeof want, "%s.%s", x->op, x->impl);
        assert_string_equal(x->name, want);
        assert_string_equal(x->family, "dense");
        assert_true(strcmp(x->phase, "prefill") == 0 || strcmp(x->phase, "decode") == 0);
        assert_non_null(strstr(x->uses, "d_model"));
        assert_true(x->tolerance >= 0.0);
        cb_err err;
        op_dims ok = dims_of(128, 64);
        assert_int_equal(x->check(&ok, &err), 0);
        op_cost c = x->cost(&ok);
        assert_true(c.flops > 0 && c.bytes > 0 && c.state_bytes == 0);
        op_dims bad = dims_of(128, 0);
        assert_int_equal(x->check(&bad, &err), -1);
        assert_non_null(strstr(err.msg, "d_model"));
        bad = dims_of(128, OP_INT8_MAX_K + 1);
        assert_int_equal(x->check(&bad, &err), -1);
        assert_non_null(strstr(err.msg, "d_model"));
        op_dims l0 = dims_of(0, 64), lbig = dims_of((int64_t)1 << 40, 64);
        op_dims lover = dims_of((int64_t)1 << 29, 1 << 16); /* A would need 2^47 bytes */
        if (entry_is_gemv(x)) { /* seq_len unused */
            assert_int_equal(x->check(&l0, &err), 0);
            assert_non_null(strstr(x->uses, "unused"));
        } else {
            assert_int_equal(x->check(&l0, &err), -1);
            assert_non_null(strstr(err.msg, "seq_len"));
            assert_int_equal(x->check(&lbig, &err), -1);
            assert_non_null(strstr(err.msg, "seq_len"));
            assert_int_equal(x->check(&lover, &err), -1);
            assert_non_null(strstr(err.msg, "2^46"));
        }
        void *inst = (void *)1;
        assert_int_equal(x->create(&bad, 1, 1, &inst, &err), -1);
        assert_null(inst);
        assert_non_null(strstr(err.msg, x->name));
        x->destroy(NULL);
    }
    assert_int_equal(n, 6);
    op_dims sq = dims_of(64, 32);
    assert_true(e_gemm_builtin.cost(&sq).flops == 2.0 * 64 * 32 * 32);
    assert_true(e_gemm_builtin.cost(&sq).bytes == 4.0 * (64 * 32 + 32 * 32 + 64 * 32));
    assert_true(e_gemv_builtin.cost(&sq).flops == 2.0 * 32 * 32);
    assert_true(e_gemv_builtin.cost(&sq).bytes == 4.0 * (32 * 32 + 2 * 32));
    assert_true(e_gemv_int8.cost(&sq).bytes == 32.0 * 32 + 4 * 32 + 4 * 32 + 4 * 32);
}

static void test_11_entry_round_trip(void **state)
{
    static const int shapes[][2] = {{1, 1}, {1, 3}, {5, 17}, {13, 64}, {37, 80}, {100, 129}};
    for (const op_entry *const *e = op_family_dense; *e; e++)
        for (size_t t = 0; t < sizeof shapes / sizeof *shapes; t++) {
            op_dims dm = dims_of(shapes[t][0], shapes[t][1]);
            void *inst = NULL;
            cb_err err;
            if ((*e)->create(&dm, 7, 3, &inst, &err) != 0)
                fail_msg("%s: %s", (*e)->name, err.msg);
            for (int nw = 1; nw <= 3; nw++) {
                for (int w = 0; w < nw; w++)
                    (*e)->run(inst, w, nw);
                if ((*e)->verify(inst, &err) != 0)
                    fail_msg("%s L=%d d=%d nw=%d: %s", (*e)->name, shapes[t][0], shapes[t][1], nw,
                             err.msg);
            }
            (*e)->destroy(inst);
        }
}

static void test_12_verify_catches_corruption(void **state)
{
    for (const op_entry *const *e = op_family_dense; *e; e++) {
        op_dims dm = dims_of(9, 40);
        void *inst = NULL;
        cb_err err;
        assert_int_equal((*e)->create(&dm, 3, 2, &inst, &err), 0);
        for (int w = 0; w < 2; w++)
            (*e)->run(inst, w, 2);
        assert_int_equal((*e)->verify(inst, &err), 0);
        dense *g = inst;
        size_t last = entry_is_gemv(*e) ? (size_t)g->d - 1 : (size_t)g->L * g->d - 1;
        g->c[last] += 1e-3f * (1.0f + fabsf(g->c[last])); /* the last element: checked rows include it */
        assert_int_equal((*e)->verify(inst, &err), -1);
        assert_non_null(strstr(err.msg, (*e)->name));
        (*e)->destroy(inst);
    }
}

static void test_13_large_shape_verifies_a_spread(void **state)
{
    /* Beyond the full-check budget: verify checks a spread of rows, which
     * still includes the last one. */
    op_dims dm = dims_of(40, 2048);
    void *inst = NULL;
    cb_err err;
    assert_int_equal(e_gemm_builtin.create(&dm, 1, 1, &inst, &err), 0);
    dense *g = inst;
    assert_true(rows_to_check(g) < g->L);
    e_gemm_builtin.run(inst, 0, 1);
    assert_int_equal(e_gemm_builtin.verify(inst, &err), 0);
    g->c[(size_t)g->L * g->d - 1] += 1.0f;
    assert_int_equal(e_gemm_builtin.verify(inst, &err), -1);
    e_gemm_builtin.destroy(inst);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_01_quantize_by_hand),
        cmocka_unit_test(test_02_quantize_round_trip_bound),
        cmocka_unit_test(test_03_gemv_int8_equals_reference),
        cmocka_unit_test(test_04_int8_extremes_at_max_k),
        cmocka_unit_test(test_05_gemv_int8_close_to_fp32),
        cmocka_unit_test(test_06_gemm_int8_equals_reference),
        cmocka_unit_test(test_07_gemm_int8_close_to_fp32_and_empty_k),
        cmocka_unit_test(test_08_int8_slices_cover_rows),
        cmocka_unit_test(test_09_openblas_matches_reference_and_builtin),
        cmocka_unit_test(test_10_entry_fields_and_checks),
        cmocka_unit_test(test_11_entry_round_trip),
        cmocka_unit_test(test_12_verify_catches_corruption),
        cmocka_unit_test(test_13_large_shape_verifies_a_spread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
