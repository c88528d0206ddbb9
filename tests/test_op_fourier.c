/* tests/test_op_fourier.c — the long-convolution operator (operators/longconv.h)
 * and its registry entries (operators/fourier_entry.c, included here under
 * another array name to reach the instance struct).
 *
 * The FFT size rule; fft == direct == the double reference within
 * LC_TOL x M_c on awkward shapes (L = 1, L not a power of two, one channel,
 * odd channel counts, a partial last group) for 1, 2 and 3 workers (run one
 * after another, no pool), bit-identical across worker counts; the step:
 * after a prefill of L == row L of a prefill of L + 1, and a ring that wraps
 * (a truncated convolution); the entries: check() refusals naming the field,
 * cost(), round trips, a step bounded under repeated runs, and verify()
 * failing on a corrupted output or history. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define op_family_fourier tst_family_fourier
#include "operators/fourier_entry.c"
#include "tests/support/op_check.h"
#undef op_family_fourier

static const op_entry *entry(const char *name)
{
    for (int i = 0; tst_family_fourier[i]; i++)
        if (strcmp(tst_family_fourier[i]->name, name) == 0)
            return tst_family_fourier[i];
    fail_msg("no entry %s", name);
    return NULL;
}

static op_dims dims(int64_t L, int H, int D)
{
    op_dims d = {.seq_len = L, .n_heads = H, .n_kv_heads = 0, .head_dim = D, .d_model = 0,
                 .d_inner = 0, .d_state = 0, .chunk = 0};
    return d;
}

static fr_inst *make(const char *name, op_dims d, int workers)
{
    cb_err err = {{0}};
    void *inst = NULL;
    if (entry(name)->create(&d, 77, workers, &inst, &err) != 0)
        fail_msg("%s create: %s", name, err.msg);
    return inst;
}

static void run_all(const char *name, fr_inst *m, int workers)
{
    for (int w = 0; w < workers; w++)
        entry(name)->run(m, w, workers);
}

/* y against the double reference for every channel, within LC_TOL x M_c. */
static void expect_reference(const char *what, int64_t L, int C, const float *k, const float *x,
                             const float *y)
{
    double *yr = malloc(sizeof(double) * (size_t)L), *mag = malloc(sizeof(double) * (size_t)L);
    assert_non_null(yr);
    assert_non_null(mag);
    for (int c = 0; c < C; c++) {
        op_lc_ref_channel(L, C, k, x, c, yr, mag);
        double mc = 0.0;
        for (int64_t t = 0; t < L; t++)
            mc = fmax(mc, mag[t]);
        for (int64_t t = 0; t < L; t++) {
            const double got = y[(size_t)t * C + c];
            if (!(fabs(got - yr[t]) <= LC_TOL * mc + 1e-30))
                fail_msg("%s L=%lld C=%d: y[%lld, %d] = %.9g, reference %.9g (tol %.3g)", what,
                         (long long)L, C, (long long)t, c, got, yr[t], LC_TOL * mc);
        }
    }
    free(yr), free(mag);
}

/* ---- sizes ------------------------------------------------------------------------------- */

static int smooth_even(int64_t n)
{
    if (n % 2)
        return 0;
    for (int p = 2; p <= 7; p++)
        while (n % p == 0)
            n /= p;
    return n == 1;
}

static void test_01_fft_size(void **state)
{
    (void)state;
    assert_int_equal(op_lc_fft_size(1), 2);
    assert_int_equal(op_lc_fft_size(2), 4);
    assert_int_equal(op_lc_fft_size(3), 6);
    assert_int_equal(op_lc_fft_size(1000), 2000);
    assert_int_equal(op_lc_fft_size(4096), 8192);
    assert_int_equal(op_lc_fft_size(8192), 16384);
    for (int64_t L = 1; L <= 400; L++) {
        const int64_t n = op_lc_fft_size(L);
        assert_true(n >= 2 * L - 1 && smooth_even(n));
        for (int64_t m = 2 * L - 1; m < n; m++) /* the smallest such */
            assert_false(smooth_even(m));
    }
    assert_int_equal(op_lc_fft_size((int64_t)1 << 40), 0);
}

static void test_02_channel_split(void **state)
{
    (void)state;
    static const int Cs[] = {1, 15, 16, 17, 33, 768, 2048};
    for (size_t i = 0; i < sizeof Cs / sizeof *Cs; i++)
        for (int nw = 1; nw <= 5; nw++) {
            int next = 0;
            for (int w = 0; w < nw; w++) {
                int lo, hi;
                op_lc_channels(Cs[i], w, nw, &lo, &hi);
                assert_int_equal(lo, next);
                assert_true(hi >= lo && (lo % LC_GROUP) == 0);
                next = hi;
            }
            assert_int_equal(next, Cs[i]);
        }
}

/* ---- fft == direct == reference ---------------------------------------------------------- */

static void check_prefill_shape(int64_t L, int H, int D)
{
    const op_dims d = dims(L, H, D);
    const int C = H * D;
    const size_t n = (size_t)L * C;
    float *first[2] = {NULL, NULL};
    static const char *const names[] = {"fourier.fft", "fourier.direct"};
    for (int e = 0; e < 2; e++)
        for (int nw = 1; nw <= 3; nw++) {
            fr_inst *m = make(names[e], d, nw);
            run_all(names[e], m, nw);
            char what[64];
            snprintf(what, sizeof what, "%s workers=%d", names[e], nw);
            expect_reference(what, L, C, m->k, m->x, m->y);
            cb_err err = {{0}};
            if (entry(names[e])->verify(m, &err) != 0)
                fail_msg("%s verify: %s", what, err.msg);
            if (!first[e]) {
                first[e] = malloc(n * sizeof(float));
                assert_non_null(first[e]);
                memcpy(first[e], m->y, n * sizeof(float));
            } else {
                assert_memory_equal(first[e], m->y, n * sizeof(float)); /* any split */
            }
            entry(names[e])->destroy(m);
        }
    free(first[0]), free(first[1]);
}

static void test_03_prefill_forms_match_reference(void **state)
{
    (void)state;
    check_prefill_shape(1, 1, 1);     /* L = 1, one channel */
    check_prefill_shape(1, 2, 8);
    check_prefill_shape(5, 1, 3);     /* odd channels, a partial group */
    check_prefill_shape(17, 1, 1);
    check_prefill_shape(100, 1, 17);  /* one full group and one channel */
    check_prefill_shape(257, 3, 11);  /* L odd, 33 channels */
    check_prefill_shape(1000, 3, 16); /* n = 2000 = 2^4 5^3 */
    check_prefill_shape(1024, 2, 24); /* n = 2048 */
}

/* A long sequence against the reference on a spread of channels (the FFT
 * rounding and the direct sum's length both grow with L). */
static void test_04_long_sequence(void **state)
{
    (void)state;
    const op_dims d = dims(4000, 1, 48);
    static const char *const names[] = {"fourier.fft", "fourier.direct"};
    for (int e = 0; e < 2; e++) {
        fr_inst *m = make(names[e], d, 2);
        run_all(names[e], m, 2);
        cb_err err = {{0}};
        if (entry(names[e])->verify(m, &err) != 0)
            fail_msg("%s: %s", names[e], err.msg);
        entry(names[e])->destroy(m);
    }
}

/* ---- step identities --------------------------------------------------------------------- */

/* A step after a prefill of L == row L of a prefill of L + 1: the ring has
 * capacity L + 1 and holds tokens 0..L-1 at slots 0..L-1; the new token goes
 * to slot L. */
static void test_05_step_after_prefill(void **state)
{
    (void)state;
    static const int64_t Ls[] = {1, 6, 130};
    static const int Cs[] = {1, 19, 32};
    for (size_t a = 0; a < 3; a++)
        for (size_t b = 0; b < 3; b++) {
            const int64_t L = Ls[a];
            const int C = Cs[b];
            const size_t n = (size_t)(L + 1) * C;
            float *x = malloc(n * 4), *k = malloc(n * 4), *y = malloc(n * 4), *hist = malloc(n * 4);
            float *ys = malloc((size_t)C * 4);
            assert_true(x && k && y && hist && ys);
            op_fill_uniform(x, n, 5, -1.0f, 1.0f);
            fr_filter(k, L + 1, C, 6);
            void *scr = malloc(op_lc_direct_scratch_bytes(L + 1, 2));
            for (int w = 0; w < 2; w++)
                op_lc_direct_part(L + 1, C, k, x, y, scr, w, 2);
            memcpy(hist, x, (size_t)L * C * 4);
            for (int w = 0; w < 3; w++)
                op_lc_step_part(L + 1, C, k, hist, L, x + (size_t)L * C, ys, w, 3);
            for (int c = 0; c < C; c++) {
                double ms = 0.0;
                for (int64_t j = 0; j <= L; j++)
                    ms += fabs((double)k[(size_t)j * C + c] * x[(size_t)(L - j) * C + c]);
                const double diff = fabs((double)ys[c] - y[(size_t)L * C + c]);
                if (!(diff <= 2 * LC_TOL * ms + 1e-30))
                    fail_msg("L=%lld C=%d c=%d: step %.9g, prefill row %.9g", (long long)L, C, c,
                             ys[c], y[(size_t)L * C + c]);
            }
            free(scr), free(x), free(k), free(y), free(hist), free(ys);
        }
}

/* Steps past the ring's capacity K: slot t mod K, and y_t is the convolution
 * truncated to the last K inputs. */
static void test_06_step_ring_wraps(void **state)
{
    (void)state;
    const int64_t K = 9, T = 40;
    const int C = 21;
    float *x = malloc((size_t)T * C * 4), *k = malloc((size_t)K * C * 4);
    float *hist = calloc((size_t)K * C, 4), *ys = malloc((size_t)C * 4);
    assert_true(x && k && hist && ys);
    op_fill_uniform(x, (size_t)T * C, 8, -1.0f, 1.0f);
    op_fill_uniform(k, (size_t)K * C, 9, -1.0f, 1.0f);
    for (int64_t t = 0; t < T; t++) {
        for (int w = 0; w < 2; w++)
            op_lc_step_part(K, C, k, hist, t % K, x + (size_t)t * C, ys, w, 2);
        for (int c = 0; c < C; c++) {
            double acc = 0.0, ms = 0.0;
            for (int64_t j = 0; j < K && j <= t; j++) {
                const double p = (double)k[(size_t)j * C + c] * x[(size_t)(t - j) * C + c];
                acc += p;
                ms += fabs(p);
            }
            if (!(fabs(ys[c] - acc) <= LC_TOL * ms + 1e-30))
                fail_msg("t=%lld c=%d: step %.9g, truncated convolution %.9g", (long long)t, c,
                         ys[c], acc);
        }
    }
    free(x), free(k), free(hist), free(ys);
}

/* ---- entries ----------------------------------------------------------------------------- */

static void test_07_check_refuses_bad_shapes(void **state)
{
    (void)state;
    for (int i = 0; tst_family_fourier[i]; i++) {
        const op_entry *e = tst_family_fourier[i];
        cb_err err = {{0}};
        op_dims ok = dims(64, 4, 16);
        assert_int_equal(e->check(&ok, &err), 0);
        tsup_expect_refused(e, dims(0, 4, 16), "seq_len");
        tsup_expect_refused(e, dims((int64_t)1 << 40, 4, 16), "seq_len");
        tsup_expect_refused(e, dims(64, 0, 16), "n_heads");
        tsup_expect_refused(e, dims(64, 4, 0), "head_dim");
        tsup_expect_refused(e, dims(64, 4, -2), "head_dim");
        tsup_expect_refused(e, dims(64, 4096, 4096), "channels");
        tsup_expect_refused(e, dims(64, 65536, 65536), "channels"); /* the product overflows int */
    }
}

static void test_08_cost(void **state)
{
    (void)state;
    for (int i = 0; tst_family_fourier[i]; i++) {
        const op_entry *e = tst_family_fourier[i];
        op_dims d = dims(1000, 12, 64);
        op_cost c = e->cost(&d);
        assert_true(c.flops > 0.0 && c.bytes > 0.0);
        assert_string_equal(e->op, "fourier");
    }
    /* n = 2000 for L = 1000: 768 (2 x 2.5 n log2 n + 6 (n/2 + 1)). */
    const double n = 2000.0;
    assert_true(fabs(op_lc_fft_flops(1000, 768) - 768 * (5.0 * n * log2(n) + 6 * 1001)) < 1.0);
    assert_true(op_lc_direct_flops(1000, 768) == 768.0 * 1000 * 1001);
    assert_true(op_lc_state_bytes(1000, 768) == 4.0 * 1000 * 768);
    op_dims d = dims(1000, 12, 64);
    assert_true(entry("fourier.step")->cost(&d).state_bytes == 4.0 * 1000 * 768);
    assert_string_equal(entry("fourier.direct")->family, "quadratic");
    assert_string_equal(entry("fourier.fft")->family, "sub-quadratic");
}

static void test_09_round_trip_and_bounded_step(void **state)
{
    (void)state;
    for (int i = 0; tst_family_fourier[i]; i++)
        for (int nw = 1; nw <= 3; nw++) {
            const op_entry *e = tst_family_fourier[i];
            op_dims d = dims(300, 3, 13);
            cb_err err = {{0}};
            void *inst = NULL;
            assert_int_equal(e->create(&d, 3, nw, &inst, &err), 0);
            const int reps = e->run == fr_run_step ? 500 : 2;
            for (int r = 0; r < reps; r++)
                for (int w = 0; w < nw; w++)
                    e->run(inst, w, nw);
            if (e->verify(inst, &err) != 0)
                fail_msg("%s (%d workers): %s", e->name, nw, err.msg);
            e->destroy(inst);
        }
    entry("fourier.fft")->destroy(NULL);
}

static void test_10_verify_catches_corruption(void **state)
{
    (void)state;
    for (int i = 0; tst_family_fourier[i]; i++) {
        const op_entry *e = tst_family_fourier[i];
        op_dims d = dims(50, 2, 9);
        cb_err err = {{0}};
        void *inst = NULL;
        assert_int_equal(e->create(&d, 4, 2, &inst, &err), 0);
        fr_inst *m = inst;
        e->run(inst, 0, 2); /* 18 channels: worker 1 has the last two */
        assert_int_equal(e->verify(inst, &err), -1);
        e->run(inst, 1, 2);
        assert_int_equal(e->verify(inst, &err), 0);
        const size_t last = (m->impl == FR_STEP ? 1 : 50) * (size_t)18 - 1;
        const float keep = m->y[last];
        m->y[last] += 1e-3f * (1.0f + fabsf(keep));
        assert_int_equal(e->verify(inst, &err), -1);
        assert_non_null(strstr(err.msg, e->name));
        m->y[last] = keep;
        assert_int_equal(e->verify(inst, &err), 0);
        if (m->impl == FR_STEP) {
            m->hist[(size_t)m->pos * 18 + 3] += 1.0f;
            assert_int_equal(e->verify(inst, &err), -1);
        }
        e->destroy(inst);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_01_fft_size),
        cmocka_unit_test(test_02_channel_split),
        cmocka_unit_test(test_03_prefill_forms_match_reference),
        cmocka_unit_test(test_04_long_sequence),
        cmocka_unit_test(test_05_step_after_prefill),
        cmocka_unit_test(test_06_step_ring_wraps),
        cmocka_unit_test(test_07_check_refuses_bad_shapes),
        cmocka_unit_test(test_08_cost),
        cmocka_unit_test(test_09_round_trip_and_bounded_step),
        cmocka_unit_test(test_10_verify_catches_corruption),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
