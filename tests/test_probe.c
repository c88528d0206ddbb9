/* tests/test_probe.c — roofline probes (platforms/probe.h).
 *
 * The triad computes a = b + s*c on every element, at 1 and all workers and
 * on awkward sizes; the FMA kernel ends bit for bit where the scalar reference
 * does, on every worker, and its FLOP count follows the formula.  No
 * performance assertion: figures depend on the machine. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platforms/measure.h"
#include "platforms/pool.h"
#include "platforms/probe.h"
#include "platforms/topo.h"
#include "tests/support/live_pool.h"

/* Partition of the first n workers (n <= 0: all). */
static pool_part first(pool *p, int n)
{
    pool_part part;
    cb_err err = {{0}};
    if (n <= 0)
        pool_part_all(p, &part);
    else
        assert_int_equal(pool_part_first(p, n, &part, &err), 0);
    return part;
}

/* Every element of the triad holds a = b + s*c. */
static void check_triad_all(const probe_triad *t)
{
    const double *a = probe_triad_array(t, 0), *b = probe_triad_array(t, 1),
                 *c = probe_triad_array(t, 2);
    double s = probe_triad_scalar();
    for (size_t i = 0; i < probe_triad_elements(t); i++)
        assert_true(a[i] == b[i] + s * c[i]);
}

static void test_01_isa_and_widths(void **state)
{
    const char *isa = probe_isa_name();
    int lanes = probe_fma_lanes();
    if (strcmp(isa, "avx512f") == 0)
        assert_int_equal(lanes, 16);
    else if (strcmp(isa, "avx2+fma") == 0)
        assert_int_equal(lanes, 8);
    else if (strcmp(isa, "neon") == 0)
        assert_int_equal(lanes, 4);
    else {
        assert_string_equal(isa, "scalar");
        assert_int_equal(lanes, 1);
    }
    assert_int_equal(probe_fma_width(), lanes * PROBE_FMA_ACC);
#ifdef __AVX512F__
    assert_string_equal(isa, "avx512f"); /* the widest ISA of the build is the one used */
#endif
}

static void test_02_default_triad_size(void **state)
{
    tsup_live *l = *state;
    plat_info info;
    cb_err err = {{0}};
    assert_int_equal(plat_describe(l->topo, &info, &err), 0);
    uint64_t llc = 0;
    for (int i = 0; i < info.n_caches; i++)
        if (strcmp(info.caches[i].type, "instruction") != 0 && info.caches[i].size_bytes > llc)
            llc = info.caches[i].size_bytes;
    size_t bytes = probe_triad_default_bytes(l->topo);
    assert_true(bytes >= (size_t)64 << 20);
    assert_true(bytes >= 4 * llc);
    assert_true(bytes == (size_t)64 << 20 || bytes == 4 * llc);
}

static void test_03_triad_small_one_worker(void **state)
{
    tsup_live *l = *state;
    pool_part part = first(l->p, 1);
    probe_triad *t = NULL;
    cb_err err = {{0}};
    assert_int_equal(probe_triad_create(l->p, &part, 1000 * sizeof(double), &t, &err), 0);
    assert_int_equal(probe_triad_elements(t), 1000);
    assert_true(probe_triad_bytes(t) == 3.0 * 8 * 1000);
    assert_null(probe_triad_array(t, 3));
    check_triad_all(t);
    meas_fn fn = probe_triad_step; /* the closure signature the measurement core takes */
    for (int i = 0; i < 3; i++)
        assert_int_equal(fn(t, &err), 0);
    check_triad_all(t);
    assert_int_equal(probe_triad_verify(t, &err), 0);
    probe_triad_free(t);
    probe_triad_free(NULL);
}

static void test_04_triad_all_workers_awkward_sizes(void **state)
{
    tsup_live *l = *state;
    static const size_t sizes[] = {1, 5, 7, 8, 9, 17, 1003, 65536, 65537, 100003};
    for (int pass = 0; pass < 2; pass++) {
        pool_part part = first(l->p, pass == 0 ? 1 : 0);
        for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
            probe_triad *t = NULL;
            cb_err err = {{0}};
            /* A byte count that is not a whole number of elements rounds down. */
            assert_int_equal(
                probe_triad_create(l->p, &part, sizes[k] * sizeof(double) + 3, &t, &err), 0);
            assert_int_equal(probe_triad_elements(t), sizes[k]);
            assert_int_equal(probe_triad_step(t, &err), 0);
            check_triad_all(t);
            assert_int_equal(probe_triad_verify(t, &err), 0);
            probe_triad_free(t);
        }
    }
}

static void test_05_triad_errors(void **state)
{
    tsup_live *l = *state;
    pool_part part = first(l->p, 0);
    probe_triad *t = (probe_triad *)&part;
    cb_err err = {{0}};
    assert_int_equal(probe_triad_create(l->p, &part, 7, &t, &err), -1);
    assert_null(t);
    assert_non_null(strstr(err.msg, "less than one element"));

    plat_topo *topo = NULL;
    pool *p = NULL;
    if (plat_topo_open("tests/fixtures/topo/arm_2big_4little.xml", &topo, &err) != 0)
        skip();
    assert_int_equal(pool_create(topo, &p, &err), 0);
    pool_part_all(p, &part);
    assert_int_equal(probe_triad_create(p, &part, 4096, &t, &err), -1);
    assert_non_null(strstr(err.msg, "no threads"));
    probe_fma *f = NULL;
    assert_int_equal(probe_fma_create(p, &part, 10, &f, &err), -1);
    assert_null(f);
    /* The fixture's default size comes from its caches (or the 64 MiB floor). */
    assert_true(probe_triad_default_bytes(topo) >= (size_t)64 << 20);
    pool_free(p);
    plat_topo_free(topo);
}

static void test_06_fma_reference_basics(void **state)
{
    int w = probe_fma_width();
    float *r0 = malloc((size_t)w * sizeof(float)), *r1 = malloc((size_t)w * sizeof(float));
    probe_fma_reference(0, r0);
    for (int i = 0; i < w; i++)
        assert_true(r0[i] == 1.0f + (float)i / 256.0f);
    /* Lanes stay distinct after a short run (the check can tell them apart)... */
    probe_fma_reference(1000, r1);
    for (int i = 1; i < w; i++)
        assert_true(r1[i] != r1[i - 1]);
    /* ...and converge to 1 without blowing up. */
    probe_fma_reference(100000, r1);
    for (int i = 0; i < w; i++)
        assert_true(r1[i] > 0.99f && r1[i] < 1.01f);
    free(r0);
    free(r1);
}

/* Runs the FMA probe with `iters` on part and checks every worker against the reference. */
static void check_fma(pool *p, const pool_part *part, long iters)
{
    probe_fma *f = NULL;
    cb_err err = {{0}};
    int w = probe_fma_width();
    assert_int_equal(probe_fma_create(p, part, iters, &f, &err), 0);
    meas_fn fn = probe_fma_step;
    assert_int_equal(fn(f, &err), 0);
    double want = 2.0 * probe_fma_lanes() * PROBE_FMA_ACC * (double)iters * part->n;
    assert_true(probe_fma_flops(f) == want);
    float *ref = malloc((size_t)w * sizeof(float)), *got = malloc((size_t)w * sizeof(float));
    probe_fma_reference(iters, ref);
    for (int k = 0; k < part->n; k++) {
        assert_int_equal(probe_fma_result(f, k, got), 0);
        assert_memory_equal(got, ref, (size_t)w * sizeof(float));
    }
    assert_int_equal(probe_fma_result(f, -1, got), -1);
    assert_int_equal(probe_fma_result(f, part->n, got), -1);
    assert_int_equal(probe_fma_verify(f, &err), 0);
    free(ref);
    free(got);
    probe_fma_free(f);
}

static void test_07_fma_matches_reference_one_worker(void **state)
{
    tsup_live *l = *state;
    pool_part part = first(l->p, 1);
    static const long iters[] = {1, 2, 7, 100, 999, 1000, 1001, 4097};
    for (size_t i = 0; i < sizeof iters / sizeof *iters; i++)
        check_fma(l->p, &part, iters[i]);
}

static void test_08_fma_matches_reference_all_workers(void **state)
{
    tsup_live *l = *state;
    pool_part part = first(l->p, 0);
    check_fma(l->p, &part, 3);
    check_fma(l->p, &part, 2500);
}

static void test_09_fma_default_iterations(void **state)
{
    tsup_live *l = *state;
    pool_part part = first(l->p, 0);
    probe_fma *f = NULL;
    cb_err err = {{0}};
    assert_int_equal(probe_fma_create(l->p, &part, 0, &f, &err), 0);
    assert_true(probe_fma_flops(f) ==
                2.0 * probe_fma_lanes() * PROBE_FMA_ACC * (double)(1L << 20) * part.n);
    /* Right after creation the results are those of the short check pass. */
    assert_int_equal(probe_fma_verify(f, &err), 0);
    assert_int_equal(probe_fma_step(f, &err), 0);
    float *got = malloc((size_t)probe_fma_width() * sizeof(float));
    assert_int_equal(probe_fma_result(f, 0, got), 0);
    for (int i = 0; i < probe_fma_width(); i++)
        assert_true(got[i] > 0.99f && got[i] < 1.01f);
    free(got);
    probe_fma_free(f);
    probe_fma_free(NULL);
}

static void hold_fn(void *ctx, int worker, int n_workers)
{
    volatile int *open = ctx;
    while (!*open)
        ;
}

static void test_10_busy_partition_fails_cleanly(void **state)
{
    /* A probe step on a partition another run holds returns the pool's error. */
    tsup_live *l = *state;
    pool_part part = first(l->p, 1);
    probe_fma *f = NULL;
    cb_err err = {{0}};
    assert_int_equal(probe_fma_create(l->p, &part, 10, &f, &err), 0);
    static volatile int open;
    open = 0;
    pool_job *job = NULL;
    assert_int_equal(pool_launch(l->p, &part, hold_fn, (void *)&open, &job, &err), 0);
    assert_int_equal(probe_fma_step(f, &err), -1);
    assert_non_null(strstr(err.msg, "busy"));
    open = 1;
    pool_wait(job);
    assert_int_equal(probe_fma_step(f, &err), 0);
    assert_int_equal(probe_fma_verify(f, &err), 0);
    probe_fma_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_01_isa_and_widths),
        cmocka_unit_test(test_02_default_triad_size),
        cmocka_unit_test(test_03_triad_small_one_worker),
        cmocka_unit_test(test_04_triad_all_workers_awkward_sizes),
        cmocka_unit_test(test_05_triad_errors),
        cmocka_unit_test(test_06_fma_reference_basics),
        cmocka_unit_test(test_07_fma_matches_reference_one_worker),
        cmocka_unit_test(test_08_fma_matches_reference_all_workers),
        cmocka_unit_test(test_09_fma_default_iterations),
        cmocka_unit_test(test_10_busy_partition_fails_cleanly),
    };
    return cmocka_run_group_tests(tests, tsup_live_setup, tsup_live_teardown);
}
