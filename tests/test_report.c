/* tests/test_report.c — the report's parts, on a database the test fills by
 * hand: the Markdown report (provenance, the roofline from the latest
 * probes, the memory/compute verdict and percent of roofline, empty
 * databases); the table model (platforms side by side), the document merge
 * (text once, or once per platform when it differs; figures overlaid); CSV
 * quoting and LaTeX escaping; --format parsing; selection errors that name
 * what matched nothing; and the output folder's guards (a user's folder is
 * refused; gnuplot missing or failing leaves the folder as it was).  The
 * whole folder against golden files, the figures and Chromium are in
 * test_report_output.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reports/doc.h"
#include "reports/render.h"
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

static int64_t begin_run_uuid(fixture *f, const char *experiment, char uuid[CB_UUID_LEN])
{
    store_run_info info = {.experiment = experiment, .config_path = "x.ini", .config_text = "[x]",
                           .config_hash = "h", .scale = "quick", .platform_id = f->platform_id,
                           .revision = "0123456789abcdef", .dirty = 0, .compiler = "cc",
                           .cflags = "-O3", .seed = 1};
    int64_t run_id;
    cb_err err = {{0}};
    assert_int_equal(store_run_begin(f->s, &info, uuid, &run_id, &err), 0);
    return run_id;
}

static int64_t begin_run(fixture *f, const char *experiment)
{
    char uuid[CB_UUID_LEN];
    return begin_run_uuid(f, experiment, uuid);
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
    expect_in(text, "| subject | impl | parameters | threads | median | CV | reps | compute "
                    "(GFLOP/s) | bandwidth (GB/s) | intensity (FLOP/B) | bound | of roofline |");
    expect_in(text, "| lowai | builtin | size=1 | 1 | 1 s [1 s – 1 s] |");
    expect_in(text, "| 5.00 | 5.00 | 1.00 | memory | 50% |");
    expect_in(text, "| 80.00 | 0.80 | 100.00 | compute | 80% |");
    expect_in(text, "| nocost | builtin | size=3 | 1 | 2 ms [2 ms – 2 ms] |");
    expect_in(text, "| – | – | – | – | – |");
    expect_in(text, "<sub>Source: platform abcdef01 (TestVendor Test CPU, 2 cores / 2 PUs), "
                    "revision 0123456789ab, scale quick, runs ");
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
    expect_in(text, "| 1 µs [1 µs – 1 µs] |");
    free(text);
}

/* ---- the model and the formats ------------------------------------------------------- */

static rprov prov_named(const char *label)
{
    rprov p;
    memset(&p, 0, sizeof p);
    snprintf(p.label, sizeof p.label, "%s", label);
    snprintf(p.runs, sizeof p.runs, "run-%s", label);
    snprintf(p.runs_short, sizeof p.runs_short, "run-%s", label);
    return p;
}

/* A two-column table (context key, one time column). */
static rtab *time_table(const long long *ctx, const double *sec, int n)
{
    rtab *t = rtab_create("lat", "Latency");
    assert_non_null(t);
    rtab_add_col(t, "context", "tokens", 0, 1);
    rtab_add_col(t, "median", "s", 0, 0);
    for (int i = 0; i < n; i++) {
        int r = rtab_row(t);
        rtab_int(t, r, 0, ctx[i]);
        rtab_time(t, r, 1, sec[i], sec[i] * 0.9, sec[i] * 1.1);
    }
    return t;
}

static char *render_doc_md(const rdoc *d)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    rmd_doc(d, NULL, out);
    assert_int_equal(fclose(out), 0);
    char *copy = strdup(text); /* (a copy: gcc loses track of the stream's buffer) */
    free(text);
    return copy;
}

static void test_05_tables_side_by_side(void **state)
{
    (void)state;
    const long long ca[] = {256, 1024}, cb[] = {1024, 4096};
    const double sa[] = {1e-3, 4e-3}, sb[] = {2e-3, 8e-3};
    rprov pa = prov_named("aaaa"), pb = prov_named("bbbb");
    rdoc *d = rdoc_create(&pa);
    rdoc_table(d, time_table(ca, sa, 2), 4); /* the document's provenance: aaaa */
    rtab *a = d->b[0].table, *b = time_table(cb, sb, 2);
    rtab_add_prov(b, &pb);
    assert_int_equal(rtab_side_by_side(a, b), 0);
    /* rows matched by their key: 256 (a only), 1024 (both), 4096 (b only) */
    assert_int_equal(a->n_rows, 3);
    assert_int_equal(a->n_groups, 2);
    assert_int_equal(a->n_prov, 2);
    char *md = render_doc_md(d);
    expect_in(md, "| context | aaaa: median | bbbb: median |");
    expect_in(md, "| 256 | 1 ms [900 µs – 1.1 ms] | – |");
    expect_in(md, "| 1024 | 4 ms [3.6 ms – 4.4 ms] | 2 ms [1.8 ms – 2.2 ms] |");
    expect_in(md, "| 4096 | – | 8 ms [7.2 ms – 8.8 ms] |");
    expect_in(md, "runs run-aaaa; platform bbbb");
    free(md);
    /* key columns that differ: not merged */
    rtab *c = rtab_create("lat", "Latency");
    rtab_add_col(c, "model", "", 0, 1);
    assert_int_equal(rtab_side_by_side(a, c), 1);
    assert_int_equal(a->n_groups, 2);
    rdoc_free(d);
    rtab_free(b);
    rtab_free(c);
}

static void test_06_documents_merge_per_platform(void **state)
{
    (void)state;
    rprov pa = prov_named("aaaa"), pb = prov_named("bbbb");
    rdoc *a = rdoc_create(&pa), *b = rdoc_create(&pb);
    rdoc_heading(a, 2, "exp");
    rdoc_heading(b, 2, "exp");
    rdoc_keyed_text(a, "note", "same words");
    rdoc_keyed_text(b, "note", "same words");
    rdoc_keyed_text(a, "prov", "platform A here");
    rdoc_keyed_text(b, "prov", "platform B here");
    rfig *fa = rfig_create(RFIG_LINES, "fig", "x", "y", "Figure");
    rfig *fb = rfig_create(RFIG_LINES, "fig", "x", "y", "Figure");
    rfig_add_point(fa, rfig_add_series(fa, "op"), 1, 2, NAN, NAN);
    rfig_add_point(fb, rfig_add_series(fb, "op"), 1, 3, 2.5, 3.5);
    rdoc_figure(a, fa);
    rdoc_figure(b, fb);
    rdoc_keyed_text(b, "only-b", "a paragraph only B has");
    assert_int_equal(rdoc_merge(a, b), 0);
    char *text = render_doc_md(a);
    assert_int_equal(a->n, 6); /* heading, same, A, B, figure, only-b */
    expect_in(text, "## exp\n\nsame words\n\n**aaaa:** platform A here\n\n**bbbb:** platform B here\n\n"
                    "a paragraph only B has");
    assert_null(strstr(strstr(text, "same words") + 1, "same words"));
    const rfig *f = a->b[4].fig;
    assert_int_equal(f->n_series, 2); /* the same label from two platforms: two series */
    assert_int_equal(f->series[1].source, 1);
    assert_int_equal(f->n_prov, 2);
    free(text);
    rdoc_free(a);
    rdoc_free(b);
}

static void test_07_csv_quotes_and_tex_escapes(void **state)
{
    (void)state;
    rtab *t = rtab_create("q", "Quoting: 50%% & more");
    rtab_add_col(t, "name", "", 0, 1);
    rtab_add_col(t, "share", "%", 1, 0);
    int r = rtab_row(t);
    rtab_text(t, r, 0, "a, \"b\"\nc_d");
    rtab_pct(t, r, 1, 12.25);
    rtab_annotate(t, r, 1, "M");
    r = rtab_row(t);
    rtab_text(t, r, 0, "≈ 5 µs");
    rprov p = prov_named("pp");
    rtab_add_prov(t, &p);
    char *csv = NULL, *tex = NULL;
    size_t n = 0;
    FILE *out = open_memstream(&csv, &n);
    rcsv_table(t, out);
    fclose(out);
    assert_string_equal(csv, "name,share (%),share note\r\n\"a, \"\"b\"\"\nc_d\",12.25,M\r\n"
                             "≈ 5 µs,,\r\n");
    out = open_memstream(&tex, &n);
    rtex_table(t, "exp", out);
    fclose(out);
    expect_in(tex, "\\caption{Quoting: 50\\% \\& more}");
    expect_in(tex, "\\label{tab:exp:q}");
    expect_in(tex, "\\begin{tabular}{lr}"); /* an annotated column is right-aligned, not S */
    expect_in(tex, "{name} & {share (\\%)} \\\\");
    expect_in(tex, "a, \"b\" c\\_d & 12.2\\,M \\\\");
    expect_in(tex, "$\\approx$ 5 \\textmu{}s & -- \\\\");
    expect_in(tex, "\\toprule");
    expect_in(tex, "\\bottomrule");
    free(csv);
    free(tex);
    rtab_free(t);
}

static void test_08_formats_are_parsed(void **state)
{
    (void)state;
    unsigned f = 0;
    cb_err err = {{0}};
    assert_int_equal(report_parse_formats("md,tex", &f, &err), 0);
    assert_int_equal(f, REPORT_MD | REPORT_TEX);
    assert_int_equal(report_parse_formats("html,csv,md,tex", &f, &err), 0);
    assert_int_equal(f, REPORT_ALL);
    assert_int_equal(report_parse_formats("md,pdf", &f, &err), -1);
    expect_in(err.msg, "unknown format 'pdf'");
    assert_int_equal(report_parse_formats("", &f, &err), -1);
    expect_in(err.msg, "no format given");
}

/* A finished run of `experiment` with one point; its uuid to uuid. */
static void one_run(fixture *f, const char *experiment, char uuid[CB_UUID_LEN])
{
    int64_t run = begin_run_uuid(f, experiment, uuid);
    put_measurement(f, run, "k", "{\"size\":1}", 1e-3, 1e6, 1e6);
    cb_err err = {{0}};
    assert_int_equal(store_run_end(f->s, run, "complete", &err), 0);
}

static int select_error(fixture *f, report_options *o, cb_err *err)
{
    json_t *groups = report_select(f->s, o, err);
    json_decref(groups);
    return groups ? 0 : -1;
}

static void test_09_selection_names_what_matched_nothing(void **state)
{
    fixture *f = *state;
    char u1[CB_UUID_LEN], u2[CB_UUID_LEN];
    one_run(f, "alpha", u1);
    one_run(f, "beta", u2);
    cb_err err = {{0}};
    const char *runs[] = {"ffffffff-nope"};
    report_options o = {.runs = runs, .n_runs = 1};
    assert_int_equal(select_error(f, &o, &err), -1);
    expect_in(err.msg, "--run ffffffff-nope");
    expect_in(err.msg, "not found");
    const char *platforms[] = {"deadbeef"};
    report_options op = {.platforms = platforms, .n_platforms = 1};
    assert_int_equal(select_error(f, &op, &err), -1);
    expect_in(err.msg, "no selected results on platform 'deadbeef'");
    const char *exps[] = {"beta"}, *mine[] = {u1};
    report_options mixed = {.runs = mine, .n_runs = 1, .experiments = exps, .n_experiments = 1};
    assert_int_equal(select_error(f, &mixed, &err), -1);
    expect_in(err.msg, "is of experiment 'alpha', which --experiment leaves out");
    /* a run, a prefix of the platform, and two experiments by name */
    const char *both[] = {"alpha", "beta"}, *plat[] = {"ABCDEF"};
    report_options good = {.experiments = both, .n_experiments = 2, .platforms = plat,
                           .n_platforms = 1};
    json_t *groups = report_select(f->s, &good, &err);
    assert_non_null(groups);
    assert_int_equal(json_array_size(groups), 2);
    json_decref(groups);
    char prefix[9];
    snprintf(prefix, sizeof prefix, "%.8s", u2);
    const char *by_run[] = {prefix};
    report_options run_only = {.runs = by_run, .n_runs = 1};
    groups = report_select(f->s, &run_only, &err);
    assert_non_null(groups);
    assert_int_equal(json_array_size(groups), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(groups, 0), "experiment")),
                        "beta");
    json_decref(groups);
}

static int folder_report(fixture *f, const char *dir, unsigned formats, cb_err *err)
{
    report_options o = {.out_dir = dir, .formats = formats};
    report_summary sum;
    return report_run(f->s, &o, NULL, &sum, err);
}

static void test_10_folder_guards(void **state)
{
    fixture *f = *state;
    char uuid[CB_UUID_LEN], dir[256], path[512];
    one_run(f, "alpha", uuid);
    cb_err err = {{0}};
    /* a folder of the user's own is refused, and left alone */
    snprintf(dir, sizeof dir, "%s/mine", f->dir);
    snprintf(path, sizeof path, "%s/keep.txt", dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    FILE *k = fopen(path, "w");
    fclose(k);
    assert_int_equal(folder_report(f, dir, REPORT_MD, &err), -1);
    expect_in(err.msg, "is not a ctxbench report folder");
    assert_int_equal(access(path, F_OK), 0);
    /* gnuplot missing: a clear error naming the script; nothing is put in place */
    snprintf(dir, sizeof dir, "%s/out", f->dir);
    setenv("CTXBENCH_GNUPLOT", "/nonexistent/gnuplot", 1);
    /* the one-point sweep draws no figure: an operator sweep does */
    int64_t run = begin_run(f, "ops");
    put_measurement(f, run, "attention", "{\"context\":256,\"dims\":\"x\",\"operator\":"
                                         "\"attention.flash\"}", 1e-3, 1e6, 1e6);
    assert_int_equal(store_run_end(f->s, run, "complete", &err), 0);
    assert_int_equal(folder_report(f, dir, REPORT_HTML, &err), -1);
    expect_in(err.msg, "out.failed/ops/figures/roofline-x-1t.gp: cannot draw the figure: "
                       "/nonexistent/gnuplot is not installed");
    expect_in(err.msg, "out is unchanged; the attempt is kept in");
    assert_int_not_equal(access(dir, F_OK), 0);
    /* gnuplot failing: its exit status, the script named; the old report stays */
    unsetenv("CTXBENCH_GNUPLOT");
    assert_int_equal(folder_report(f, dir, REPORT_MD, &err), 0);
    setenv("CTXBENCH_GNUPLOT", "false", 1);
    assert_int_equal(folder_report(f, dir, REPORT_HTML, &err), -1);
    expect_in(err.msg, "out.failed/ops/figures/roofline-x-1t.gp: false exited with status 1");
    snprintf(path, sizeof path, "%s/report.md", dir);
    assert_int_equal(access(path, F_OK), 0);
    snprintf(path, sizeof path, "%s/index.html", dir);
    assert_int_not_equal(access(path, F_OK), 0);
    unsetenv("CTXBENCH_GNUPLOT");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_01_empty_database_is_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_02_roofline_verdicts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_03_latest_probes_win, setup, teardown),
        cmocka_unit_test_setup_teardown(test_04_no_probes_says_so, setup, teardown),
        cmocka_unit_test(test_05_tables_side_by_side),
        cmocka_unit_test(test_06_documents_merge_per_platform),
        cmocka_unit_test(test_07_csv_quotes_and_tex_escapes),
        cmocka_unit_test(test_08_formats_are_parsed),
        cmocka_unit_test_setup_teardown(test_09_selection_names_what_matched_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_10_folder_guards, setup, teardown),
    };
    return cmocka_run_group_tests_name("report", tests, NULL, NULL);
}
