/* tests/test_compare.c — `ctxbench compare` (reports/compare.c) on a database
 * the test fills by hand through db/store.h: two runs of one experiment at
 * two revisions, whose points were built to be slower, unchanged, faster,
 * slower but below the threshold, too short to test (2 repetitions), without
 * samples, and present on one side only.  Checks the verdicts, the exit
 * status decision, the geometric mean, the selectors (run prefix, revision,
 * platform, with and without a kind tag) and their errors (unknown, too
 * short, ambiguous within a kind and across kinds, running, several
 * platforms, nothing in common, empty database), the three renderers, and
 * the command's options and exit status through the real binary
 * ($CTXBENCH_BIN, set by `make test`; bin/ctxbench without it).
 *
 * Never: timing assertions; every number here was put in by the test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "reports/compare.h"

#define REV_A "1111111aaaa0000000000000000000000000000a"
#define REV_B "2222222bbbb0000000000000000000000000000b"
#define FP_1 "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
#define FP_2 "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

typedef struct fixture {
    char dir[64];
    char path[128];
    store *s;
    int64_t platform_1, platform_2;
    char uuid_a[CB_UUID_LEN], uuid_b[CB_UUID_LEN];
} fixture;

static int64_t put_platform(store *s, const char *fingerprint, const char *model)
{
    plat_info info = {0};
    snprintf(info.fingerprint, sizeof info.fingerprint, "%s", fingerprint);
    snprintf(info.cpu_model, sizeof info.cpu_model, "%s", model);
    snprintf(info.arch, sizeof info.arch, "x86_64");
    info.n_cores = 2;
    info.n_pus = 2;
    int64_t id = 0;
    cb_err err = {{0}};
    assert_int_equal(store_platform_put(s, &info, NULL, &id, &err), 0);
    return id;
}

static int64_t begin_run(fixture *f, int64_t platform, const char *experiment,
                         const char *revision, char uuid[CB_UUID_LEN])
{
    store_run_info info = {.experiment = experiment, .config_path = "x.ini", .config_text = "[x]",
                           .config_hash = "h", .scale = "quick", .platform_id = platform,
                           .revision = revision, .dirty = 0, .compiler = "cc",
                           .cflags = "-O2", .seed = 1};
    int64_t run_id = 0;
    cb_err err = {{0}};
    assert_int_equal(store_run_begin(f->s, &info, uuid, &run_id, &err), 0);
    return run_id;
}

static void end_run(fixture *f, int64_t run_id)
{
    cb_err err = {{0}};
    assert_int_equal(store_run_end(f->s, run_id, "complete", &err), 0);
}

/* A measurement of point `name` ({"case":name,"threads":1}) with n samples. */
static void put_point(fixture *f, int64_t run_id, const char *name, const double *x, int n)
{
    double copy[64];
    memcpy(copy, x, (size_t)n * sizeof *x);
    meas_result r = {.samples_s = n ? copy : NULL, .n = n};
    if (n > 0)
        stats_compute(copy, n, &r.stats);
    static const char *const names[CTR_COUNT] = {"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8"};
    for (int i = 0; i < CTR_COUNT; i++)
        r.counters[i] = (ctr_value){.name = names[i], .unit = "count", .reason = "not provided"};
    char params[96], hash[CB_SHA256_HEX_LEN];
    snprintf(params, sizeof params, "{\"case\":\"%s\",\"threads\":1}", name);
    cb_sha256_hex(params, strlen(params), hash);
    store_measurement m = {.subject = "op", .impl = "fast", .phase = "prefill",
                           .params_json = params, .params_hash = hash, .threads = 1,
                           .result = &r, .flops = -1, .bytes = -1, .state_bytes = -1};
    cb_err err = {{0}};
    assert_int_equal(store_measurement_put(f->s, run_id, &m, NULL, &err), 0);
}

/* n samples around median: median x (1 + 0.01 k), k = -(n-1)/2 .. (n-1)/2, shuffled. */
static void spread(double median, int n, double *x)
{
    for (int i = 0; i < n; i++)
        x[i] = median * (1 + 0.01 * (((i * 7) % n) - (n - 1) / 2.0));
}

/* Run A (revision REV_A) and run B (REV_B) of experiment "ops" on platform 1:
 *   slow   10 reps, B/A = 1.3      -> slower
 *   same   the same 10 samples     -> no significant change (p = 1)
 *   fast   12 against 9 reps, 0.7  -> faster
 *   nudge  B/A = 1.047, separated  -> p < 0.05 but below the 5% threshold
 *   few    2 reps each, B/A = 2    -> no significant change, too few repetitions
 *   empty  no samples in B         -> not tested
 *   gone   in A only; fresh: in B only */
static void fill_two_runs(fixture *f)
{
    double x[64], y[64];
    int64_t ra = begin_run(f, f->platform_1, "ops", REV_A, f->uuid_a);
    spread(1e-3, 10, x);
    put_point(f, ra, "slow", x, 10);
    put_point(f, ra, "same", x, 10);
    spread(2e-3, 12, x);
    put_point(f, ra, "fast", x, 12);
    spread(1e-3, 10, x);
    put_point(f, ra, "nudge", x, 10);
    spread(5e-3, 2, x);
    put_point(f, ra, "few", x, 2);
    put_point(f, ra, "empty", x, 2);
    put_point(f, ra, "gone", x, 2);
    end_run(f, ra);

    int64_t rb = begin_run(f, f->platform_1, "ops", REV_B, f->uuid_b);
    spread(1.3e-3, 10, y);
    put_point(f, rb, "slow", y, 10);
    spread(1e-3, 10, y);
    put_point(f, rb, "same", y, 10);
    spread(1.4e-3, 9, y);
    put_point(f, rb, "fast", y, 9);
    for (int i = 0; i < 10; i++) /* every B above A's largest (1.045 ms), median 1.047 ms */
        y[i] = 1.046e-3 + 0.0003e-3 * i;
    put_point(f, rb, "nudge", y, 10);
    spread(10e-3, 2, y);
    put_point(f, rb, "few", y, 2);
    put_point(f, rb, "empty", y, 0);
    put_point(f, rb, "fresh", y, 2);
    end_run(f, rb);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/ctxbench-compare-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/c.db", f->dir);
    cb_err err = {{0}};
    assert_int_equal(store_open(f->path, &f->s, &err), 0);
    f->platform_1 = put_platform(f->s, FP_1, "Test CPU one");
    f->platform_2 = put_platform(f->s, FP_2, "Test CPU two");
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

static const compare_opts default_opts = {.alpha = 0.05, .threshold = 0.05};

static compare_result *compare_ok(fixture *f, const char *a, const char *b, const compare_opts *o)
{
    compare_result *r = NULL;
    cb_err err = {{0}};
    if (compare_sets(f->s, a, b, o, &r, &err) != 0)
        fail_msg("compare_sets(%s, %s): %s", a, b, err.msg);
    return r;
}

/* compare_sets must fail with a message containing every needle (up to 3). */
static void compare_fails(fixture *f, const char *a, const char *b, const compare_opts *o,
                          const char *n1, const char *n2, const char *n3)
{
    compare_result *r = NULL;
    cb_err err = {{0}};
    assert_int_equal(compare_sets(f->s, a, b, o, &r, &err), -1);
    assert_null(r);
    const char *needles[] = {n1, n2, n3};
    for (int i = 0; i < 3; i++)
        if (needles[i] && !strstr(err.msg, needles[i]))
            fail_msg("expected '%s' in the error: %s", needles[i], err.msg);
}

static const compare_point *point(const compare_result *r, const char *name)
{
    char needle[64];
    snprintf(needle, sizeof needle, "case=%s ", name);
    for (size_t i = 0; i < r->n_points; i++)
        if (strstr(r->points[i].label, needle))
            return &r->points[i];
    fail_msg("no point %s", name);
    return NULL;
}

static void test_01_verdicts(void **state)
{
    fixture *f = *state;
    fill_two_runs(f);
    compare_result *r = compare_ok(f, f->uuid_a, f->uuid_b, &default_opts);
    assert_int_equal(r->n_points, 8);

    const compare_point *p = point(r, "slow");
    assert_int_equal(p->verdict, COMPARE_SLOWER);
    assert_true(fabs(p->ratio.ratio - 1.3) < 1e-12);
    assert_true(p->ratio.lo < 1.3 && 1.3 < p->ratio.hi);
    assert_true(p->test.exact && p->test.p < 0.001); /* completely separated: 2 / C(20, 10) */
    assert_true(fabs(p->test.p - 2.0 / 184756) < 1e-15);
    assert_string_equal(p->label, "ops op/fast prefill case=slow threads=1");

    p = point(r, "same");
    assert_int_equal(p->verdict, COMPARE_UNCHANGED);
    assert_true(p->ratio.ratio == 1 && p->test.p == 1);

    p = point(r, "fast");
    assert_int_equal(p->verdict, COMPARE_FASTER);
    assert_int_equal(p->n_a, 12);
    assert_int_equal(p->n_b, 9); /* unequal repetition counts */
    assert_true(fabs(p->ratio.ratio - 0.7) < 1e-12);
    assert_true(fabs(p->test.p - 2.0 / 293930) < 1e-15); /* 2 / C(21, 9) */

    p = point(r, "nudge"); /* significant, but a 4.7% change is below the 5% threshold */
    assert_true(p->test.p < 0.05);
    assert_true(p->ratio.ratio > 1.04 && p->ratio.ratio < 1.05);
    assert_int_equal(p->verdict, COMPARE_UNCHANGED);

    p = point(r, "few"); /* B/A = 2, but 2 + 2 repetitions can never reach p < 0.05 */
    assert_int_equal(p->verdict, COMPARE_UNCHANGED);
    assert_int_equal(p->too_few, 1);
    assert_true(fabs(p->min_p - 1.0 / 3) < 1e-15);
    assert_true(fabs(p->ratio.ratio - 2) < 1e-12);

    p = point(r, "empty");
    assert_int_equal(p->verdict, COMPARE_NOT_TESTED);
    assert_int_equal(p->n_b, 0);
    assert_true(isnan(p->ratio.ratio));

    assert_int_equal(point(r, "gone")->verdict, COMPARE_ONLY_A);
    assert_int_equal(point(r, "fresh")->verdict, COMPARE_ONLY_B);
    assert_int_equal(point(r, "fresh")->n_b, 2);
    assert_true(r->n_slower == 1 && r->n_faster == 1 && r->n_unchanged == 3);
    assert_true(r->n_not_tested == 1 && r->n_only_a == 1 && r->n_only_b == 1);
    assert_int_equal(r->n_too_few, 1);
    compare_free(r);
}

static void test_02_exit_status(void **state)
{
    fixture *f = *state;
    fill_two_runs(f);
    compare_result *r = compare_ok(f, f->uuid_a, f->uuid_b, &default_opts);
    assert_int_equal(compare_exit_status(r), 1); /* "slow" regressed */
    compare_free(r);
    /* a 50% threshold forgives the 30% regression */
    compare_opts loose = {.alpha = 0.05, .threshold = 0.5};
    r = compare_ok(f, f->uuid_a, f->uuid_b, &loose);
    assert_int_equal(point(r, "slow")->verdict, COMPARE_UNCHANGED);
    assert_int_equal(compare_exit_status(r), 0);
    compare_free(r);
    /* the other way round, "fast" (B/A = 1/0.7) is the regression */
    r = compare_ok(f, f->uuid_b, f->uuid_a, &default_opts);
    assert_int_equal(point(r, "fast")->verdict, COMPARE_SLOWER);
    assert_int_equal(point(r, "slow")->verdict, COMPARE_FASTER);
    assert_int_equal(compare_exit_status(r), 1);
    compare_free(r);
    /* a run against itself changes nothing */
    r = compare_ok(f, f->uuid_a, f->uuid_a, &default_opts);
    assert_int_equal(compare_exit_status(r), 0);
    assert_int_equal(r->n_slower + r->n_faster, 0);
    compare_free(r);
}

static void test_03_verdict_rule(void **state)
{
    (void)state;
    assert_int_equal(compare_verdict_for(1.10, 0.01, 0.05, 0.05), COMPARE_SLOWER);
    assert_int_equal(compare_verdict_for(1.05, 0.01, 0.05, 0.05), COMPARE_UNCHANGED); /* not beyond */
    assert_int_equal(compare_verdict_for(0.90, 0.01, 0.05, 0.05), COMPARE_FASTER);
    assert_int_equal(compare_verdict_for(0.96, 0.01, 0.05, 0.05), COMPARE_UNCHANGED); /* > 1/1.05 */
    assert_int_equal(compare_verdict_for(2.00, 0.05, 0.05, 0.05), COMPARE_UNCHANGED); /* p = alpha */
    assert_int_equal(compare_verdict_for(2.00, NAN, 0.05, 0.05), COMPARE_UNCHANGED);
    assert_int_equal(compare_verdict_for(NAN, 0.01, 0.05, 0.05), COMPARE_UNCHANGED);
    assert_int_equal(compare_verdict_for(1.0001, 0.01, 0.05, 0), COMPARE_SLOWER);
    assert_string_equal(compare_verdict_name(COMPARE_SLOWER), "slower");
    assert_string_equal(compare_verdict_name(COMPARE_UNCHANGED), "no significant change");
    assert_string_equal(compare_verdict_name(COMPARE_ONLY_B), "only in B");
}

static void test_04_geometric_mean(void **state)
{
    fixture *f = *state;
    fill_two_runs(f);
    compare_result *r = compare_ok(f, f->uuid_a, f->uuid_b, &default_opts);
    /* over the five tested points: slow, same, fast, nudge, few */
    double nudge = point(r, "nudge")->ratio.ratio;
    double want = pow(1.3 * 1.0 * 0.7 * nudge * 2.0, 1.0 / 5);
    assert_true(fabs(r->geomean - want) < 1e-12);
    assert_true(r->geomean_lo < r->geomean && r->geomean < r->geomean_hi);
    assert_true(r->geomean_lo >= 0.7 && r->geomean_hi <= 2.0); /* within the ratios' range */
    compare_free(r);
}

static void test_05_selectors(void **state)
{
    fixture *f = *state;
    fill_two_runs(f);
    char prefix[9];
    memcpy(prefix, f->uuid_a, 8);
    prefix[8] = '\0';
    /* a run prefix, a revision prefix and a tagged full revision */
    compare_result *r = compare_ok(f, prefix, "rev:" REV_B, &default_opts);
    assert_int_equal(r->a.kind, COMPARE_RUN);
    assert_string_equal(r->a.value, f->uuid_a);
    assert_int_equal(r->b.kind, COMPARE_REVISION);
    assert_string_equal(r->b.value, REV_B);
    assert_int_equal(json_array_size(r->b.runs), 1);
    assert_int_equal(r->n_slower, 1);
    compare_free(r);
    r = compare_ok(f, "1111111", "2222222", &default_opts);
    assert_string_equal(r->a.value, REV_A);
    compare_free(r);
    /* a platform: the latest run of "ops" on it is B's */
    r = compare_ok(f, "1111111", "platform:abcdef01", &default_opts);
    assert_int_equal(r->b.kind, COMPARE_PLATFORM);
    assert_string_equal(r->b.value, FP_1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(r->b.runs, 0), "uuid")),
                        f->uuid_b);
    compare_free(r);
}

static void test_06_selector_errors(void **state)
{
    fixture *f = *state;
    fill_two_runs(f);
    const compare_opts *o = &default_opts;
    compare_fails(f, f->uuid_a, "ffffffff", o, "B: ", "no run, revision or platform", "ffffffff");
    compare_fails(f, "12345", f->uuid_b, o, "A: ", "too short", NULL);
    compare_fails(f, "run:1111111", f->uuid_b, o, "A: ", "too short", NULL);
    compare_fails(f, "zz-top", f->uuid_b, o, "A: ", "hex digits expected", NULL);
    compare_fails(f, "rev:abcdef01", f->uuid_b, o, "A: ", "no revision starts with", NULL);
    compare_fails(f, f->uuid_a, f->uuid_b, &(compare_opts){.alpha = 1.5, .threshold = 0.05},
                  "alpha", NULL, NULL);
    compare_fails(f, f->uuid_a, f->uuid_b, &(compare_opts){.alpha = 0.05, .threshold = -1},
                  "threshold", NULL, NULL);
    compare_fails(f, f->uuid_a, f->uuid_b,
                  &(compare_opts){.alpha = 0.05, .threshold = 0.05, .experiment = "other"},
                  "A: ", "is of experiment ops, not other", NULL);

    /* two revisions that share a prefix */
    char u[CB_UUID_LEN];
    end_run(f, begin_run(f, f->platform_1, "ops", "abcdef1000", u));
    end_run(f, begin_run(f, f->platform_1, "ops", "abcdef1999", u));
    compare_fails(f, "abcdef1", f->uuid_b, o, "A: ", "ambiguous", "2 revisions");
    /* a prefix that starts a run and a revision: a tag says which */
    char rev[16];
    memcpy(rev, f->uuid_b, 8);
    snprintf(rev + 8, sizeof rev - 8, "000");
    end_run(f, begin_run(f, f->platform_1, "other", rev, u));
    char prefix[9];
    memcpy(prefix, f->uuid_b, 8);
    prefix[8] = '\0';
    compare_fails(f, f->uuid_a, prefix, o, "B: ", "ambiguous", "run and revision");
    char tagged[16];
    snprintf(tagged, sizeof tagged, "run:%s", prefix);
    compare_result *r = compare_ok(f, f->uuid_a, tagged, o);
    assert_string_equal(r->b.value, f->uuid_b);
    compare_free(r);
}

/* Two runs whose UUIDs share their first 8 digits: imported from a run
 * object with the UUID replaced (an archive keeps UUIDs). */
static void test_07_ambiguous_run_prefix(void **state)
{
    fixture *f = *state;
    fill_two_runs(f);
    cb_err err = {{0}};
    const char *uuids[] = {"99999999-0000-4000-8000-000000000001",
                           "99999999-0000-4000-8000-000000000002"};
    for (int i = 0; i < 2; i++) {
        json_t *run = store_run_json(f->s, f->uuid_a, &err);
        assert_non_null(run);
        json_object_set_new(run, "uuid", json_string(uuids[i]));
        int imported = 0;
        assert_int_equal(store_run_import(f->s, run, "test", &imported, &err), 0);
        assert_int_equal(imported, 1);
        json_decref(run);
    }
    compare_fails(f, "99999999", f->uuid_b, &default_opts, "A: ", "ambiguous", "2 runs");
    compare_result *r = compare_ok(f, "99999999-0000-4000-8000-000000000002", f->uuid_b,
                                   &default_opts);
    assert_int_equal(r->n_slower, 1);
    compare_free(r);
}

static void test_08_running_empty_and_disjoint(void **state)
{
    fixture *f = *state;
    compare_fails(f, "11111111", "22222222", &default_opts, "no runs", NULL, NULL);
    fill_two_runs(f);
    char running[CB_UUID_LEN], other[CB_UUID_LEN];
    int64_t id = begin_run(f, f->platform_1, "ops", REV_B, running);
    double x[3] = {1, 2, 3};
    put_point(f, id, "slow", x, 3);
    compare_fails(f, f->uuid_a, running, &default_opts, "B: ", "still running", running);
    /* a revision side ignores the running run: B is still the latest complete one */
    compare_result *r = compare_ok(f, f->uuid_a, "2222222", &default_opts);
    assert_string_equal(json_string_value(json_object_get(json_array_get(r->b.runs, 0), "uuid")),
                        f->uuid_b);
    compare_free(r);
    end_run(f, id);
    /* another experiment shares no point with A */
    id = begin_run(f, f->platform_1, "elsewhere", REV_B, other);
    put_point(f, id, "slow", x, 3);
    end_run(f, id);
    compare_fails(f, f->uuid_a, other, &default_opts, "no point in common", "A: 7 points",
                  "B: 1");
}

static void test_09_revision_on_two_platforms(void **state)
{
    fixture *f = *state;
    fill_two_runs(f);
    char u[CB_UUID_LEN];
    double x[10];
    spread(3e-3, 10, x);
    int64_t id = begin_run(f, f->platform_2, "ops", REV_B, u);
    put_point(f, id, "slow", x, 10);
    end_run(f, id);
    compare_fails(f, "1111111", "2222222", &default_opts, "B: ", "2 platforms", "--platform");
    compare_opts on_1 = default_opts;
    on_1.platform = "ABCDEF01"; /* fingerprint prefixes are case-insensitive */
    compare_result *r = compare_ok(f, "1111111", "2222222", &on_1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(r->b.runs, 0), "uuid")),
                        f->uuid_b);
    compare_free(r);
    /* platform 2's "slow" against A's: 3 ms against 1 ms */
    r = compare_ok(f, "1111111", "platform:fedcba98", &default_opts);
    assert_true(fabs(point(r, "slow")->ratio.ratio - 3) < 1e-12);
    assert_int_equal(r->n_only_a, 6);
    compare_free(r);
}

/* Renders into a heap string with writer (caller frees).  The copy keeps the
 * result apart from the stream's own buffer variable. */
static char *render(const compare_result *r, int (*writer)(const compare_result *, FILE *))
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    assert_int_equal(writer(r, out), 0);
    assert_int_equal(fclose(out), 0);
    char *copy = strdup(text);
    free(text);
    assert_non_null(copy);
    return copy;
}

static void expect_in(const char *text, const char *needle)
{
    if (!strstr(text, needle))
        fail_msg("expected '%s' in:\n%s", needle, text);
}

/* Display columns of a line (UTF-8 code points). */
static size_t columns(const char *line, size_t bytes)
{
    size_t w = 0;
    for (size_t i = 0; i < bytes; i++)
        w += ((unsigned char)line[i] & 0xC0) != 0x80;
    return w;
}

static void test_10_markdown(void **state)
{
    fixture *f = *state;
    fill_two_runs(f);
    compare_result *r = compare_ok(f, f->uuid_a, "2222222", &default_opts);
    char *md = render(r, compare_write_md);
    char line[256];
    snprintf(line, sizeof line, "- A = run %s (experiment ops, platform abcdef0123456789 "
             "(Test CPU one), revision 1111111aaaa0, complete)", f->uuid_a);
    expect_in(md, line);
    expect_in(md, "- B = revision " REV_B ": 1 run, the latest of each experiment");
    expect_in(md, "| point ");
    expect_in(md, "| ops op/fast prefill case=slow threads=1 ");
    expect_in(md, "1.300 [");
    expect_in(md, "| slower ");
    expect_in(md, "| no significant change (too few repetitions) ");
    expect_in(md, "Summary: 1 slower, 1 faster, 3 no significant change, 1 not tested; "
                  "1 only in A, 1 only in B; exit status 1.");
    expect_in(md, "### Only in A (1)\n\n- ops op/fast prefill case=gone threads=1\n");
    expect_in(md, "### Only in B (1)\n\n- ops op/fast prefill case=fresh threads=1\n");
    expect_in(md, "- ops op/fast prefill case=few threads=1: 2 and 2 repetitions: the smallest "
                  "attainable p is 0.33, not below alpha 0.05");
    expect_in(md, "Geometric mean of B/A over 5 compared points: ");
    /* every line of the table has the same width: the columns line up */
    size_t width = 0, rows = 0;
    for (const char *p = strstr(md, "| point "); p && *p == '|'; rows++) {
        const char *end = strchr(p, '\n');
        size_t w = columns(p, (size_t)(end - p));
        assert_true(width == 0 || w == width);
        width = w;
        p = end + 1;
    }
    assert_int_equal(rows, 2 + 6); /* header, rule, the six points in both */
    free(md);
    compare_free(r);
}

static void test_11_csv_and_json(void **state)
{
    fixture *f = *state;
    fill_two_runs(f);
    compare_result *r = compare_ok(f, f->uuid_a, f->uuid_b, &default_opts);
    char *csv = render(r, compare_write_csv);
    int lines = 0;
    for (const char *p = csv; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 1 + 8);
    expect_in(csv, "experiment,subject,impl,phase,params,threads,n_a,n_b,");
    expect_in(csv, "ops,op,fast,prefill,\"{\"\"case\"\":\"\"slow\"\",\"\"threads\"\":1}\",1,10,10,");
    expect_in(csv, ",1,1.08250882e-05,0,slower\n"); /* p exact, min p 2 / C(20, 10), slower */
    expect_in(csv, "1,2,0,,,,,,,,,,,0,only in A\n");  /* no statistics for one side's point */
    free(csv);

    json_t *j = compare_to_json(r);
    assert_non_null(j);
    assert_int_equal(json_array_size(json_object_get(j, "points")), 8);
    assert_int_equal(json_integer_value(json_object_get(j, "exit_status")), 1);
    json_t *summary = json_object_get(j, "summary");
    assert_int_equal(json_integer_value(json_object_get(summary, "slower")), 1);
    assert_int_equal(json_integer_value(json_object_get(summary, "only_b")), 1);
    json_t *geo = json_object_get(j, "geomean");
    assert_true(fabs(json_real_value(json_object_get(geo, "value")) - r->geomean) < 1e-15);
    json_t *first = json_array_get(json_object_get(j, "points"), 0);
    assert_string_equal(json_string_value(json_object_get(first, "verdict")), "slower");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(first, "params"),
                                                        "threads")), 1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "a"), "kind")),
                        "run");
    json_decref(j);
    compare_free(r);
}

/* Runs the command line (stdout and stderr into out) and returns its exit status. */
static int run_command(char *out, size_t cap, const char *cmd)
{
    char full[1024];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void test_12_command_line(void **state)
{
    fixture *f = *state;
    const char *bin = getenv("CTXBENCH_BIN");
    if (!bin)
        bin = "bin/ctxbench"; /* as tests/test_e2e.c: the default build's binary */
    fill_two_runs(f);
    static char out[65536];
    char cmd[512];
    struct { const char *args; int status; const char *needle; } cases[] = {
        {"--help", 0, "Exit status: 0 no point slower"},
        {"%s %s", 1, "| slower "},                                     /* a regression: 1 */
        {"%s %s --threshold 50%%", 0, "threshold 50%"},                /* forgiven: 0 */
        {"%s %s --alpha 0.01 --threshold 5", 1, "p < 0.01"},
        {"%s %s --format csv", 1, "experiment,subject,impl,phase"},
        {"%s %s --format csv", 1, "ctxbench: warning: ops op/fast prefill case=few"},
        {"%s %s --format json", 1, "\"exit_status\": 1"},
        {"%s ffffffff", 2, "ctxbench: B: no run, revision or platform starts with"},
        {"%s", 2, "expected two selectors"},
        {"%s %s --alpha 1", 2, "--alpha '1'"},
        {"%s %s --threshold -3", 2, "--threshold '-3'"},
        {"%s %s --format xml", 2, "--format 'xml'"},
        {"%s %s --frobnicate", 2, "unknown or incomplete option"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char args[256];
        snprintf(args, sizeof args, cases[i].args, f->uuid_a, f->uuid_b);
        snprintf(cmd, sizeof cmd, "%s compare --db %s %s", bin, f->path, args);
        int status = run_command(out, sizeof out, cmd);
        if (status != cases[i].status || !strstr(out, cases[i].needle))
            fail_msg("%s: exit %d (want %d), expected '%s' in:\n%s", cmd, status,
                     cases[i].status, cases[i].needle, out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_01_verdicts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_02_exit_status, setup, teardown),
        cmocka_unit_test(test_03_verdict_rule),
        cmocka_unit_test_setup_teardown(test_04_geometric_mean, setup, teardown),
        cmocka_unit_test_setup_teardown(test_05_selectors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_06_selector_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_07_ambiguous_run_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_08_running_empty_and_disjoint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_09_revision_on_two_platforms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_10_markdown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_11_csv_and_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_12_command_line, setup, teardown),
    };
    return cmocka_run_group_tests_name("compare", tests, NULL, NULL);
}
