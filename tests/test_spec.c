/* tests/test_spec.c — the experiment file parser: value lists and ranges, good
 * files at both scales, and one bad file per kind of mistake, each refused with
 * the file and line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "experiments/spec.h"

#define TINY "tests/fixtures/experiments/tiny.ini"

static void expect_list(const char *text, int ncores, const int64_t *want, int n_want)
{
    int64_t *got = NULL;
    cb_err err = {{0}};
    int n = exp_parse_int_list(text, ncores, &got, &err);
    assert_int_equal(n, n_want);
    for (int i = 0; i < n; i++)
        assert_int_equal(got[i], want[i]);
    free(got);
}

static void expect_list_error(const char *text, const char *fragment)
{
    int64_t *got = NULL;
    cb_err err = {{0}};
    assert_int_equal(exp_parse_int_list(text, 4, &got, &err), -1);
    assert_null(got);
    assert_non_null(strstr(err.msg, fragment));
}

static void test_01_plain_lists(void **state)
{
    (void)state;
    expect_list("1, 2,3", 4, (const int64_t[]){1, 2, 3}, 3);
    expect_list("7", 4, (const int64_t[]){7}, 1);
    expect_list("ncores", 6, (const int64_t[]){6}, 1);
    expect_list("", 4, NULL, 0);
}

static void test_02_ranges(void **state)
{
    (void)state;
    expect_list("512..65536 x2", 4,
                (const int64_t[]){512, 1024, 2048, 4096, 8192, 16384, 32768, 65536}, 8);
    expect_list("1..ncores", 3, (const int64_t[]){1, 2, 3}, 3);
    expect_list("0..10 +5", 4, (const int64_t[]){0, 5, 10}, 3);
    expect_list("0..9 +5", 4, (const int64_t[]){0, 5}, 2);
    expect_list("3..100 x10", 4, (const int64_t[]){3, 30}, 2);
    expect_list("1..2, 8", 4, (const int64_t[]){1, 2, 8}, 3);
    /* Regression guard: a geometric step near INT64_MAX must stop, not overflow. */
    expect_list("4611686018427387904..9223372036854775807 x2", 4,
                (const int64_t[]){4611686018427387904LL}, 1);
}

static void test_03_malformed_lists(void **state)
{
    (void)state;
    expect_list_error("abc", "'abc' is not an integer");
    expect_list_error("1..", "malformed range");
    expect_list_error("..5", "malformed range");
    expect_list_error("5..1", "is empty");
    expect_list_error("1..10 x1", "never advances");
    expect_list_error("1..10 +0", "never advances");
    expect_list_error("0..10 x2", "never advances");
    expect_list_error("1..10 y2", "malformed step");
    expect_list_error("1..10 x", "malformed step");
    expect_list_error("99999999999999999999", "not an integer");
    expect_list_error("0..1000000000 +1", "more than");
}

static void test_04_good_file_quick(void **state)
{
    (void)state;
    exp_spec *spec = NULL;
    cb_err err = {{0}};
    assert_int_equal(exp_spec_load(TINY, "quick", 2, &spec, &err), 0);
    assert_string_equal(spec->name, "tiny");
    assert_string_equal(spec->runner->name, "gemm");
    assert_string_equal(spec->scale, "quick");
    assert_int_equal(spec->meas.min_reps, 3);
    assert_int_equal(spec->meas.warmups, 1);
    assert_true(spec->meas.max_time_s == 2.0);
    assert_int_equal(spec->n_points, 4);
    assert_int_equal(strlen(spec->config_hash), 64);
    /* Last parameter fastest, keys sorted in the canonical JSON. */
    assert_string_equal(spec->points[0].params_json, "{\"kernel\":\"gemv\",\"size\":16,\"threads\":1}");
    assert_string_equal(spec->points[1].params_json, "{\"kernel\":\"gemv\",\"size\":32,\"threads\":1}");
    assert_string_equal(spec->points[3].params_json, "{\"kernel\":\"gemm\",\"size\":32,\"threads\":1}");
    assert_string_not_equal(spec->points[0].params_hash, spec->points[1].params_hash);
    exp_spec_free(spec);
}

static void test_05_full_scale_overrides(void **state)
{
    (void)state;
    exp_spec *spec = NULL;
    cb_err err = {{0}};
    assert_int_equal(exp_spec_load(TINY, "full", 2, &spec, &err), 0);
    assert_int_equal(spec->n_points, 2 * 4);
    assert_int_equal(spec->meas.min_reps, 5);
    exp_spec_free(spec);
    assert_int_equal(exp_spec_load(TINY, "medium", 2, &spec, &err), -1);
    assert_non_null(strstr(err.msg, "medium"));
}

/* Writes text to a temporary file and loads it at the quick scale. */
static int load_text(const char *text, char *path, size_t cap, cb_err *err)
{
    snprintf(path, cap, "/tmp/ctxbench-spec-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    exp_spec *spec = NULL;
    int rc = exp_spec_load(path, "quick", 2, &spec, err);
    exp_spec_free(spec);
    unlink(path);
    return rc;
}

/* Loads text and checks it is refused with "PATH:LINE:" and the fragment. */
static void expect_refused(const char *text, int line, const char *fragment)
{
    char path[64], where[96];
    cb_err err = {{0}};
    assert_int_equal(load_text(text, path, sizeof path, &err), -1);
    if (line > 0) {
        snprintf(where, sizeof where, "%s:%d: ", path, line);
        if (strncmp(err.msg, where, strlen(where)) != 0)
            fail_msg("expected '%s' at the start of '%s'", where, err.msg);
    } else {
        assert_non_null(strstr(err.msg, path));
    }
    if (!strstr(err.msg, fragment))
        fail_msg("expected '%s' in '%s'", fragment, err.msg);
}

#define HEAD "[experiment]\nname = t\nrunner = gemm\n"

static void test_06_unknown_section_and_keys(void **state)
{
    (void)state;
    expect_refused(HEAD "[swep]\nsize = 16\n", 5, "unknown section [swep]");
    expect_refused(HEAD "colour = blue\n", 4, "unknown key 'colour' in [experiment]");
    expect_refused(HEAD "[sweep]\nsize = 16\nheads = 4\n", 6, "unknown key 'heads' in [sweep] for runner gemm");
    expect_refused(HEAD "[quick]\nheads = 4\n", 5, "unknown key 'heads' in [quick]");
    expect_refused("size = 16\n" HEAD, 1, "outside any section");
    expect_refused(HEAD "[sweep]\nsize = 16\nsize = 32\n", 6, "duplicate key 'size' (first on line 5");
}

static void test_07_malformed_values(void **state)
{
    (void)state;
    expect_refused(HEAD "[sweep]\nsize = 16..\n", 5, "malformed range");
    expect_refused(HEAD "[sweep]\nsize = 64..16 x2\n", 5, "is empty");
    expect_refused(HEAD "[sweep]\nthreads = 0\n", 5, "threads = 0 is out of range");
    expect_refused(HEAD "repetitions = many\n", 4, "repetitions = 'many'");
    expect_refused(HEAD "order = random\n", 4, "expected sequential or shuffled");
    expect_refused(HEAD "min_time = 20\n", 4, "min_time = 20 is longer than max_time = 10");
    expect_refused(HEAD "flush_cache = maybe\n", 4, "expected yes or no");
    expect_refused(HEAD "[sweep]\nthis line has no equals sign\n", 5, "expected '[section]' or 'key = value'");
}

static void test_08_unknown_runner_and_operator(void **state)
{
    (void)state;
    expect_refused("[experiment]\nname = t\nrunner = quantum\n", 3, "unknown runner 'quantum'");
    expect_refused(HEAD "[sweep]\nkernel = gemv, gemx\n", 5, "unknown kernel 'gemx'");
    expect_refused("[experiment]\nrunner = gemm\n", 0, "needs both 'name' and 'runner'");
    expect_refused("[experiment]\nname = bad name!\nrunner = gemm\n", 2, "name = 'bad name!'");
}

static void test_09_empty_sweep(void **state)
{
    (void)state;
    expect_refused(HEAD "[sweep]\nsize =\n", 5, "empty sweep: 'size' has no values");
    expect_refused(HEAD "[sweep]\nkernel = ,\n", 5, "empty sweep: 'kernel'");
}

static void test_10_long_line(void **state)
{
    (void)state;
    char text[1024];
    char longval[400];
    memset(longval, '1', sizeof longval - 1);
    longval[sizeof longval - 1] = '\0';
    snprintf(text, sizeof text, HEAD "[sweep]\nsize = %s\n", longval);
    expect_refused(text, 5, "line too long");
}

static void test_11_shuffled_is_a_seeded_permutation(void **state)
{
    (void)state;
    const char *text = HEAD "order = shuffled\nseed = 7\n[sweep]\nkernel = gemv\nsize = 1..20\nthreads = 1\n";
    exp_spec *a = NULL, *b = NULL;
    cb_err err = {{0}};
    assert_int_equal(exp_spec_from_text("a", text, "quick", 2, &a, &err), 0);
    assert_int_equal(exp_spec_from_text("b", text, "quick", 2, &b, &err), 0);
    assert_int_equal(a->n_points, 20);
    int seen[21] = {0}, moved = 0;
    for (int i = 0; i < a->n_points; i++) {
        int64_t size = exp_point_int(a->runner, &a->points[i], "size");
        seen[size]++;
        moved += size != i + 1;
        assert_string_equal(a->points[i].params_json, b->points[i].params_json);
    }
    for (int s = 1; s <= 20; s++)
        assert_int_equal(seen[s], 1);
    assert_true(moved > 0);
    exp_spec_free(a);
    exp_spec_free(b);
}

static void test_13_indented_lines_continue_a_list(void **state)
{
    (void)state;
    const char *text = HEAD "[sweep]\nkernel = gemv,\n    gemm\nsize = 16,\n  32\n   64\nthreads = 1\n";
    exp_spec *spec = NULL;
    cb_err err = {{0}};
    assert_int_equal(exp_spec_from_text("t", text, "quick", 2, &spec, &err), 0);
    assert_int_equal(spec->n_points, 2 * 3);
    assert_string_equal(spec->points[5].params_json, "{\"kernel\":\"gemm\",\"size\":64,\"threads\":1}");
    exp_spec_free(spec);
}

static void test_12_missing_file(void **state)
{
    (void)state;
    exp_spec *spec = NULL;
    cb_err err = {{0}};
    assert_int_equal(exp_spec_load("tests/fixtures/experiments/nope.ini", "quick", 2, &spec, &err), -1);
    assert_non_null(strstr(err.msg, "nope.ini"));
    assert_null(spec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_01_plain_lists),
        cmocka_unit_test(test_02_ranges),
        cmocka_unit_test(test_03_malformed_lists),
        cmocka_unit_test(test_04_good_file_quick),
        cmocka_unit_test(test_05_full_scale_overrides),
        cmocka_unit_test(test_06_unknown_section_and_keys),
        cmocka_unit_test(test_07_malformed_values),
        cmocka_unit_test(test_08_unknown_runner_and_operator),
        cmocka_unit_test(test_09_empty_sweep),
        cmocka_unit_test(test_10_long_line),
        cmocka_unit_test(test_11_shuffled_is_a_seeded_permutation),
        cmocka_unit_test(test_12_missing_file),
        cmocka_unit_test(test_13_indented_lines_continue_a_list),
    };
    return cmocka_run_group_tests_name("spec", tests, NULL, NULL);
}
