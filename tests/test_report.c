/* tests/test_report.c — the Markdown report, rendered from a database the test
 * fills by hand: provenance lines, the roofline from the latest probes, the
 * memory/compute verdict and percent of roofline, and empty databases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reports/report.h"

typedef struct fixture {
    char dir[64];
    char path[128];
    store *s;
    int64_t platform_id;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/ctxbench-report-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/r.db", f->dir);
    cb_err err = {{0}};
    assert_int_equal(store_open(f->path, &f->s, &err), 0);
    plat_info info = {0};
    strcpy(info.fingerprint, "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
    strcpy(info.cpu_vendor, "TestVendor");
    strcpy(info.cpu_model, "Test CPU");
    strcpy(info.arch, "x86_64");
    strcpy(info.simd_best, "avx2");
    info.n_cores = 2;
    info.n_pus = 2;
    assert_int_equal(store_platform_put(f->s, &info, NULL, &f->platform_id, &err), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    store_close(f->s);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void put_probes(fixture *f, double gbps, double gflops)
{
    cb_err err = {{0}};
    assert_int_equal(store_probe_put(f->s, f->platform_id, "triad_gbps", 1, gbps, &err), 0);
    assert_int_equal(store_probe_put(f->s, f->platform_id, "fma_gflops", 1, gflops, &err), 0);
}

/* One measurement of `median` seconds with the given FLOPs and bytes. */
static void put_measurement(fixture *f, int64_t run_id, const char *subject, const char *params,
                            double median, double flops, double bytes)
{
    double samples[3] = {median, median, median};
    meas_result r = {.samples_s = samples, .n = 3};
    stats_compute(samples, 3, &r.stats);
    static const char *const names[CTR_COUNT] = {"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8"};
    for (int i = 0; i < CTR_COUNT; i++)
        r.counters[i] = (ctr_value){.name = names[i], .unit = "count", .reason = "not provided"};
    char hash[CB_SHA256_HEX_LEN];
    cb_sha256_hex(params, strlen(params), hash);
    store_measurement m = {.subject = subject, .impl = "builtin", .phase = "step",
                           .params_json = params, .params_hash = hash, .threads = 1,
                           .result = &r, .flops = flops, .bytes = bytes, .state_bytes = -1};
    int64_t id;
    cb_err err = {{0}};
    assert_int_equal(store_measurement_put(f->s, run_id, &m, &id, &err), 0);
}

static int64_t begin_run(fixture *f, const char *experiment)
{
    store_run_info info = {.experiment = experiment, .config_path = "x.ini", .config_text = "[x]",
                           .config_hash = "h", .scale = "quick", .platform_id = f->platform_id,
                           .revision = "0123456789abcdef", .dirty = 0, .compiler = "cc",
                           .cflags = "-O3", .seed = 1};
    char uuid[CB_UUID_LEN];
    int64_t run_id;
    cb_err err = {{0}};
    assert_int_equal(store_run_begin(f->s, &info, uuid, &run_id, &err), 0);
    return run_id;
}

/* Renders the report into a heap string (caller frees); returns NULL on error. */
static char *render(fixture *f, const char *experiment, cb_err *err)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    int rc = report_markdown(f->s, experiment, out, err);
    fclose(out);
    if (rc != 0) {
        free(text);
        return NULL;
    }
    return text;
}

static void expect_in(const char *text, const char *needle)
{
    if (!strstr(text, needle))
        fail_msg("expected '%s' in:\n%s", needle, text);
}

static void test_01_empty_database_is_an_error(void **state)
{
    fixture *f = *state;
    cb_err err = {{0}};
    assert_null(render(f, NULL, &err));
    expect_in(err.msg, "no results yet");
    assert_null(render(f, "gemm", &err));
    expect_in(err.msg, "no results for experiment 'gemm'");
}

static void test_02_roofline_verdicts(void **state)
{
    fixture *f = *state;
    put_probes(f, 10, 100); /* ridge at 10 flop/byte */
    int64_t run = begin_run(f, "demo");
    /* AI 1 flop/B, 5 GFLOP/s achieved, attainable 10 -> memory bound at 50%. */
    put_measurement(f, run, "lowai", "{\"size\":1}", 1.0, 5e9, 5e9);
    /* AI 100 flop/B, 80 GFLOP/s achieved, attainable 100 -> compute bound at 80%. */
    put_measurement(f, run, "highai", "{\"size\":2}", 1.0, 80e9, 0.8e9);
    /* No FLOP count: the roofline columns stay empty. */
    put_measurement(f, run, "nocost", "{\"size\":3}", 2e-3, -1, -1);
    cb_err err = {{0}};
    assert_int_equal(store_run_end(f->s, run, "complete", &err), 0);
    char *text = render(f, "demo", &err);
    assert_non_null(text);
    expect_in(text, "## demo");
    expect_in(text, "Test CPU");
    expect_in(text, "`0123456789ab`");
    expect_in(text, "Scale quick");
    expect_in(text, "| lowai | builtin | size=1 | 1 | 1 s |");
    expect_in(text, "| 5.00 | 5.00 | 1 | memory | 50% |");
    expect_in(text, "| 80.00 | 0.80 | 100 | compute | 80% |");
    expect_in(text, "| nocost | builtin | size=3 | 1 | 2 ms |");
    expect_in(text, "| – | – | – | – | – |");
    free(text);
}

static void test_03_latest_probes_win(void **state)
{
    fixture *f = *state;
    put_probes(f, 10, 100);
    put_probes(f, 20, 50); /* a later probe session replaces the earlier figures */
    cb_err err = {{0}};
    json_t *plat = store_platform_json(f->s, f->platform_id, &err);
    assert_non_null(plat);
    json_t *latest = report_latest_probes(plat);
    assert_int_equal(json_array_size(latest), 2);
    report_roof roof = report_roof_for(plat, 1);
    assert_true(roof.gbps == 20 && roof.gflops == 50 && roof.threads == 1);
    /* No figures at 4 threads: the best at any count stands in. */
    roof = report_roof_for(plat, 4);
    assert_true(roof.gbps == 20 && roof.gflops == 50);
    json_decref(latest);
    json_decref(plat);
}

static void test_04_no_probes_says_so(void **state)
{
    fixture *f = *state;
    int64_t run = begin_run(f, "bare");
    put_measurement(f, run, "k", "{\"size\":1}", 1e-6, 1e3, 1e3);
    cb_err err = {{0}};
    /* A run still in progress is not reported. */
    assert_null(render(f, NULL, &err));
    assert_int_equal(store_run_end(f->s, run, "interrupted", &err), 0);
    char *text = render(f, NULL, &err);
    assert_non_null(text);
    expect_in(text, "not measured on this platform");
    expect_in(text, "| 1 µs |");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_01_empty_database_is_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_02_roofline_verdicts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_03_latest_probes_win, setup, teardown),
        cmocka_unit_test_setup_teardown(test_04_no_probes_says_so, setup, teardown),
    };
    return cmocka_run_group_tests_name("report", tests, NULL, NULL);
}
