/* tests/test_report_output.c — the report folder end to end, on a fixture
 * database built here through db/store.h (store_run_import) with fixed
 * values, uuids and times: an operator sweep measured on two platforms (so
 * its tables go side by side and its figures overlay) and a whole-model
 * sweep on one.
 *
 *   01  Markdown, LaTeX and CSV are byte-for-byte the golden files under
 *       tests/fixtures/report/golden/ (and the same on a second render);
 *       CTXBENCH_REGEN_GOLDEN=1 rewrites the golden files instead.
 *   02  every figure is drawn: gnuplot exits 0, PDF, SVG and PNG exist and
 *       are what they claim (%PDF-, the PNG signature, an <svg> document
 *       without script), and the overlaid figures name both platforms.
 *   03  the HTML page in headless Chromium: every <img> loaded (checked by a
 *       harness page around it), no console message, a screenshot; a page
 *       with one figure removed fails the same check.
 *   04  a second report of an unchanged database writes nothing (the folder
 *       stays as it is), a new run makes the next report write again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reports/report.h"
#include "util/text.h"

#define GOLDEN_DIR "tests/fixtures/report/golden"

static char g_dir[64];       /* the temporary folder of the whole program */
static char g_db[128];       /* the fixture database */

/* ---- the fixture database ------------------------------------------------------------ */

/* A platform object for store_run_import, with its probe figures. */
static json_t *fx_platform(const char *fingerprint, const char *model, double gbps,
                           double gflops)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:s, s:s, s:s, s:s, s:s,"
                     " s:[{s:s, s:i, s:f, s:s, s:s}, {s:s, s:i, s:f, s:s, s:s}]}",
                     "fingerprint", fingerprint, "arch", "x86_64", "cpu_vendor", "TestVendor",
                     "cpu_model", model, "n_packages", 1, "n_numa", 1, "n_cores", 4, "n_pus", 8,
                     "simd_best", "avx2", "os", "Linux", "kernel", "6.1.0-test",
                     "first_seen", "2026-01-01T00:00:00.000Z", "last_seen",
                     "2026-01-01T00:00:00.000Z", "probes", "kind", "triad_gbps", "threads", 1,
                     "value", gbps, "session", "s1", "measured_at", "2026-01-01T00:00:00.000Z",
                     "kind", "fma_gflops", "threads", 1, "value", gflops, "session", "s1",
                     "measured_at", "2026-01-01T00:00:00.000Z");
}

/* A run object (complete) of an experiment on a platform; measurements to add. */
static json_t *fx_run(const char *uuid, const char *experiment, json_t *platform,
                      const char *started)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:i, s:s, s:s, s:s,"
                     " s:s, s:o, s:[]}",
                     "uuid", uuid, "experiment", experiment, "config_path", "fixture.ini",
                     "config_text", "[experiment]", "config_hash", "fixture-hash", "scale", "quick",
                     "revision", "0123456789abcdef0123456789abcdef01234567", "dirty", 0,
                     "compiler", "cc 1.0", "cflags", "-O2", "seed", 1, "started_at", started,
                     "ended_at", started, "status", "complete", "origin", "local",
                     "platform", platform, "measurements");
}

/* Adds a measurement with three samples around `median` (CI median*0.95..1.05). */
static json_t *fx_measure(json_t *run, const char *subject, const char *impl, const char *phase,
                          json_t *params, double median, double flops, double bytes)
{
    char *text = json_dumps(params, JSON_SORT_KEYS | JSON_COMPACT);
    char hash[CB_SHA256_HEX_LEN];
    cb_sha256_hex(text, strlen(text), hash);
    json_t *m = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:f, s:f, s:f, s:f, s:f, s:f,"
                          " s:f, s:f, s:f, s:f, s:s, s:[f, f, f], s:[], s:[], s:[]}",
                          "subject", subject, "impl", impl, "phase", phase, "params_json", text,
                          "params_hash", hash, "threads", 1, "reps", 3, "median_s", median,
                          "mean_s", median, "stddev_s", median * 0.02, "min_s", median * 0.95,
                          "max_s", median * 1.05, "ci_lo_s", median * 0.95, "ci_hi_s",
                          median * 1.05, "cv", 0.02, "flops", flops, "bytes", bytes,
                          "created_at", "2026-01-01T00:00:01.000Z", "samples", median * 0.95,
                          median, median * 1.05, "counters", "breakdown", "metrics");
    free(text);
    json_decref(params);
    assert_non_null(m);
    json_array_append_new(json_object_get(run, "measurements"), m);
    return m;
}

/* One operator point: attention grows as L^2, the others as L; `speed`
 * scales a whole platform. */
static void fx_operator(json_t *run, const char *name, const char *subject, const char *phase,
                        int64_t context, double speed)
{
    int mamba = strcmp(subject, "mamba1_scan") == 0;
    json_t *params = json_pack("{s:I, s:s, s:s, s:i}", "context", (json_int_t)context, "dims",
                               "130m", "operator", name, "threads", 1);
    if (mamba)
        json_object_set_new(params, "d_state", json_integer(16));
    double l = (double)context / 1024;
    double step = strcmp(phase, "decode") == 0 ? 0.01 : 1;
    int quadratic = strcmp(subject, "attention") == 0;
    double median = (quadratic ? 2e-3 * l * l : 1e-3 * l) * step / speed;
    fx_measure(run, subject, strchr(name, '.') + 1, phase, params, median,
               1e8 * l * (quadratic ? l : 1) * step, 1e7 * l * step);
}

static void fx_operators_run(store *s, const char *uuid, json_t *platform, double speed)
{
    json_t *run = fx_run(uuid, "ops", platform, "2026-01-02T00:00:00.000Z");
    static const int64_t contexts[] = {256, 1024, 4096};
    for (int c = 0; c < 3; c++) {
        fx_operator(run, "attention.flash", "attention", "prefill", contexts[c], speed);
        fx_operator(run, "mamba1_scan.sequential", "mamba1_scan", "prefill", contexts[c], speed);
        fx_operator(run, "attention.kvcache", "attention", "decode", contexts[c], speed);
        fx_operator(run, "mamba1_scan.step", "mamba1_scan", "decode", contexts[c], speed);
    }
    cb_err err = {{0}};
    if (store_run_import(s, run, NULL, NULL, &err) != 0)
        fail_msg("%s", err.msg);
    json_decref(run);
}

/* A metric object of a measurement. */
static void fx_metric(json_t *m, const char *name, double value, const char *unit)
{
    json_array_append_new(json_object_get(m, "metrics"),
                          json_pack("{s:s, s:f, s:s, s:i, s:s}", "name", name, "value", value,
                                    "unit", unit, "predicted", 0, "created_at",
                                    "2026-01-01T00:00:01.000Z"));
}

static void fx_breakdown(json_t *m, const char *op_class, double seconds)
{
    json_array_append_new(json_object_get(m, "breakdown"),
                          json_pack("{s:s, s:f}", "op_class", op_class, "seconds", seconds));
}

/* One whole-model point with its memory split, throughput and breakdown. */
static void fx_model(json_t *run, const char *model, const char *phase, int64_t context)
{
    int decode = strcmp(phase, "decode") == 0, ssm = strcmp(model, "tiny-mamba1") == 0;
    json_t *params = json_pack("{s:I, s:s, s:s, s:i, s:s, s:s}", "context", (json_int_t)context,
                               "model", model, "phase", phase, "seed", 1, "weights", "synthetic",
                               "wtype", "f32");
    if (decode)
        json_object_set_new(params, "gen", json_integer(4));
    double l = (double)context / 64;
    double median = decode ? (ssm ? 4e-3 : 2e-3 + 1e-3 * l) : (ssm ? 3e-3 * l : 1e-3 * l * l);
    json_t *m = fx_measure(run, model, "f32", phase, params, median, 1e9 * l, 1e8);
    fx_metric(m, "mem_weights_bytes", 8 << 20, "bytes");
    fx_metric(m, "mem_kv_cache_bytes", ssm ? 0 : (double)(context << 12), "bytes");
    fx_metric(m, "mem_state_bytes", ssm ? 1 << 20 : 0, "bytes");
    fx_metric(m, "mem_scratch_bytes", (double)(context << 10), "bytes");
    fx_metric(m, "tokens_per_s", (decode ? 4 : (double)context) / median, "tokens/s");
    fx_breakdown(m, "gemm", 0.6 * median);
    fx_breakdown(m, ssm ? "ssm_scan" : "attention", 0.3 * median);
}

static void fx_models_run(store *s, json_t *platform)
{
    json_t *run = fx_run("c3c3c3c3-0000-4000-8000-000000000003", "models", platform,
                         "2026-01-03T00:00:00.000Z");
    static const int64_t contexts[] = {64, 256};
    static const char *const models[] = {"tiny-transformer", "tiny-mamba1"};
    for (int k = 0; k < 2; k++)
        for (int c = 0; c < 2; c++) {
            fx_model(run, models[k], "prefill", contexts[c]);
            fx_model(run, models[k], "decode", contexts[c]);
        }
    cb_err err = {{0}};
    if (store_run_import(s, run, NULL, NULL, &err) != 0)
        fail_msg("%s", err.msg);
    json_decref(run);
}

static const char fx_fp_a[] = "aaaa1111aaaa1111aaaa1111aaaa1111aaaa1111aaaa1111aaaa1111aaaa1111";
static const char fx_fp_b[] = "bbbb2222bbbb2222bbbb2222bbbb2222bbbb2222bbbb2222bbbb2222bbbb2222";

static void fx_build(const char *path)
{
    store *s = NULL;
    cb_err err = {{0}};
    assert_int_equal(store_open(path, &s, &err), 0);
    fx_operators_run(s, "a1a1a1a1-0000-4000-8000-000000000001",
                     fx_platform(fx_fp_a, "Fixture CPU A", 20, 200), 1);
    fx_operators_run(s, "b2b2b2b2-0000-4000-8000-000000000002",
                     fx_platform(fx_fp_b, "Fixture CPU B", 10, 100), 0.5);
    fx_models_run(s, fx_platform(fx_fp_a, "Fixture CPU A", 20, 200));
    store_close(s);
}

/* ---- helpers --------------------------------------------------------------------------- */

static int run_cmd(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run_cmd(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

/* Renders the fixture's report into dir with the formats; returns the summary. */
static report_summary render_to(const char *dir, unsigned formats, int force)
{
    store *s = NULL;
    cb_err err = {{0}};
    report_summary sum;
    report_options o = {.out_dir = dir, .formats = formats, .force = force};
    assert_int_equal(store_open(g_db, &s, &err), 0);
    if (report_run(s, &o, NULL, &sum, &err) != 0)
        fail_msg("%s", err.msg);
    store_close(s);
    return sum;
}

static char *slurp(const char *path, size_t *len)
{
    char *text = cb_read_file(path, len, NULL);
    if (!text)
        fail_msg("cannot read %s", path);
    return text;
}

/* The relative paths of the text files under root/rel (not the drawn
 * figures: their bytes are gnuplot's), sorted, one per line, into list. */
static void list_files(const char *root, const char *rel, char *list, size_t cap)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cd '%s' && find %s -type f ! -name '.ctxbench-report' "
             "! -name '*.pdf' ! -name '*.svg' ! -name '*.png' | LC_ALL=C sort",
             root, rel);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(list, 1, cap - 1, p);
    list[n] = '\0';
    assert_int_equal(pclose(p), 0);
}

static int setup_group(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/ctxbench-reportout-XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    snprintf(g_db, sizeof g_db, "%s/fixture.db", g_dir);
    fx_build(g_db);
    return 0;
}

static int teardown_group(void **state)
{
    (void)state;
    return run_cmd("rm -rf '%s'", g_dir) == 0 ? 0 : -1;
}

/* ---- 01 golden files ------------------------------------------------------------------ */

static void compare_or_regen(const char *out_dir, const char *rel)
{
    char got_path[1024], want_path[1024];
    snprintf(got_path, sizeof got_path, "%s/%s", out_dir, rel);
    snprintf(want_path, sizeof want_path, GOLDEN_DIR "/%s", rel);
    size_t got_len, want_len;
    char *got = slurp(got_path, &got_len);
    if (getenv("CTXBENCH_REGEN_GOLDEN")) {
        cb_err err = {{0}};
        assert_int_equal(cb_mkdirs_for(want_path, &err), 0);
        FILE *f = fopen(want_path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(got, 1, got_len, f), got_len);
        assert_int_equal(fclose(f), 0);
        free(got);
        return;
    }
    char *want = slurp(want_path, &want_len);
    if (got_len != want_len || memcmp(got, want, got_len) != 0)
        fail_msg("%s differs from the golden %s (diff -u %s %s; CTXBENCH_REGEN_GOLDEN=1 "
                 "rewrites the golden files)", got_path, want_path, want_path, got_path);
    free(got);
    free(want);
}

static void test_01_tables_match_golden_files(void **state)
{
    (void)state;
    char a[256], b[256];
    snprintf(a, sizeof a, "%s/golden-a", g_dir);
    snprintf(b, sizeof b, "%s/golden-b", g_dir);
    render_to(a, REPORT_MD | REPORT_TEX | REPORT_CSV, 0);
    render_to(b, REPORT_MD | REPORT_TEX | REPORT_CSV, 0);
    static char list_a[8192], list_b[8192], golden[8192];
    list_files(a, ".", list_a, sizeof list_a);
    list_files(b, ".", list_b, sizeof list_b);
    assert_string_equal(list_a, list_b);
    if (!getenv("CTXBENCH_REGEN_GOLDEN")) {
        list_files(GOLDEN_DIR, ".", golden, sizeof golden);
        assert_string_equal(list_a, golden); /* the same files, none more, none less */
    }
    for (char *line = strtok(list_a, "\n"); line; line = strtok(NULL, "\n")) {
        compare_or_regen(a, line + 2); /* past "./" */
        char pa[1024], pb[1024];
        snprintf(pa, sizeof pa, "%s/%s", a, line + 2);
        snprintf(pb, sizeof pb, "%s/%s", b, line + 2);
        size_t la, lb;
        char *ta = slurp(pa, &la), *tb = slurp(pb, &lb);
        if (la != lb || memcmp(ta, tb, la) != 0) /* byte-stable across renders */
            fail_msg("%s and %s differ:\n%s\n----\n%s", pa, pb, ta, tb);
        free(ta);
        free(tb);
    }
    /* what the golden files must show: the platforms side by side, stored CIs */
    char *md = slurp(GOLDEN_DIR "/ops/report.md", NULL);
    assert_non_null(strstr(md, "| operator | aaaa1111: L=256 | aaaa1111: L=1024 |"));
    assert_non_null(strstr(md, "bbbb2222: L=4096 |"));
    assert_non_null(strstr(md, "runs a1a1a1a1; platform bbbb2222"));
    free(md);
    char *csv = slurp(GOLDEN_DIR "/models/tables/ttft-f32-1t.csv", NULL);
    assert_non_null(strstr(csv, "context (tokens),tiny-transformer (synthetic) (s),"
                                "tiny-transformer (synthetic) 95% CI low (s)"));
    assert_non_null(strstr(csv, "\r\n64,0.001,0.00095,0.00105,"));
    free(csv);
}

/* ---- 02 figures ---------------------------------------------------------------------- */

static void expect_prefix(const char *path, const void *prefix, size_t n)
{
    size_t len;
    char *data = slurp(path, &len);
    if (len <= n || memcmp(data, prefix, n) != 0)
        fail_msg("%s: not the expected file type (or empty)", path);
    free(data);
}

static void check_figure(const char *dir, const char *stem)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.pdf", dir, stem);
    expect_prefix(path, "%PDF-", 5);
    snprintf(path, sizeof path, "%s/%s.png", dir, stem);
    expect_prefix(path, "\x89PNG\r\n\x1a\n", 8);
    snprintf(path, sizeof path, "%s/%s.svg", dir, stem);
    char *svg = slurp(path, NULL);
    if (!strstr(svg, "<svg") || !strstr(svg, "</svg>") || strstr(svg, "<script"))
        fail_msg("%s: not an SVG document without script", path);
    free(svg);
    snprintf(path, sizeof path, "%s/%s.gp.log", dir, stem);
    assert_int_not_equal(access(path, F_OK), 0); /* gnuplot's log is gone: it succeeded */
}

static int count_figures(const char *out, const char *exp)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/%s/figures", out, exp);
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len > 3 && strcmp(e->d_name + len - 3, ".gp") == 0) {
            char stem[256];
            snprintf(stem, sizeof stem, "%.*s", (int)(len - 3), e->d_name);
            check_figure(dir, stem);
            n++;
        }
    }
    closedir(d);
    return n;
}

static void test_02_every_figure_is_drawn(void **state)
{
    (void)state;
    char out[256];
    snprintf(out, sizeof out, "%s/full", g_dir);
    report_summary sum = render_to(out, 0, 0);
    assert_int_equal(sum.up_to_date, 0);
    /* ops: latency and speedup per phase, one roofline; models: TTFT, TPOT,
     * speedup, memory, breakdown per phase */
    assert_int_equal(count_figures(out, "ops"), 5);
    assert_int_equal(count_figures(out, "models"), 6);
    assert_int_equal(sum.figures, 11);
    char path[512];
    snprintf(path, sizeof path, "%s/ops/figures/latency-prefill-130m-1t.dat", out);
    char *dat = slurp(path, NULL);
    assert_non_null(strstr(dat, "attention.flash (aaaa1111)"));
    assert_non_null(strstr(dat, "attention.flash (bbbb2222)"));
    free(dat);
    snprintf(path, sizeof path, "%s/ops/figures/roofline-130m-1t.gp", out);
    char *gp = slurp(path, NULL);
    assert_non_null(strstr(gp, "ceiling aaaa1111, 1 thread: 20.0 GB/s, 200.0 GFLOP/s"));
    assert_non_null(strstr(gp, "ceiling bbbb2222, 1 thread: 10.0 GB/s, 100.0 GFLOP/s"));
    free(gp);
    snprintf(path, sizeof path, "%s/models/figures/ttft-f32-1t.gp", out);
    gp = slurp(path, NULL);
    assert_non_null(strstr(gp, "tiny-mamba1 (synthetic) overtakes")); /* the crossover mark */
    free(gp);
}

/* ---- 03 chromium ------------------------------------------------------------------------- */

/* A page that loads the report page in a frame and lists its images as
 * loaded or broken (file access between file:// pages is allowed by the flag). */
static void write_harness(const char *path, const char *page)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "<!DOCTYPE html><html><body><pre id=\"result\">pending</pre>\n"
               "<iframe id=\"f\" src=\"%s\" width=\"1200\" height=\"800\"></iframe>\n<script>\n"
               "window.addEventListener('load', function () {\n"
               "  var d = document.getElementById('f').contentDocument, out = [];\n"
               "  if (!d) { document.getElementById('result').textContent = 'no access'; return; }\n"
               "  var imgs = d.images, ok = 0;\n"
               "  for (var i = 0; i < imgs.length; i++) {\n"
               "    var good = imgs[i].complete && imgs[i].naturalWidth > 0;\n"
               "    ok += good;\n"
               "    out.push((good ? 'loaded ' : 'BROKEN ') + imgs[i].getAttribute('src'));\n"
               "  }\n"
               "  document.getElementById('result').textContent =\n"
               "    'images ' + imgs.length + ' loaded ' + ok + '\\n' + out.join('\\n');\n"
               "});\n</script></body></html>\n", page);
    assert_int_equal(fclose(f), 0);
}

/* Runs headless Chromium on the harness; fills its verdict (from the DOM
 * dump) and the log. */
static void chromium_check(const char *harness, char *dom, size_t dcap, char *log, size_t lcap)
{
    char cmd[2048], dom_path[512], log_path[512];
    snprintf(dom_path, sizeof dom_path, "%s/dom.txt", g_dir);
    snprintf(log_path, sizeof log_path, "%s/chromium.log", g_dir);
    snprintf(cmd, sizeof cmd, "timeout 120 chromium --headless --no-sandbox --disable-gpu "
                              "--user-data-dir='%s/chromium-profile' --allow-file-access-from-files "
                              "--virtual-time-budget=10000 --enable-logging=stderr --v=0 "
                              "--dump-dom 'file://%s' > '%s' 2> '%s'",
             g_dir, harness, dom_path, log_path);
    if (system(cmd) != 0)
        fail_msg("chromium failed (is Debian's chromium installed? make deps installs it): see %s",
                 log_path);
    char *d = slurp(dom_path, NULL), *l = slurp(log_path, NULL);
    char *start = strstr(d, "<pre id=\"result\">"), *end = start ? strstr(start, "</pre>") : NULL;
    if (!end)
        fail_msg("no result in the harness page:\n%s", d);
    /* only the harness's verdict: the page also holds its own script's text */
    snprintf(dom, dcap, "%.*s", (int)(end - start), start);
    snprintf(log, lcap, "%s", l);
    free(d);
    free(l);
}

static void test_03_html_page_in_chromium(void **state)
{
    (void)state;
    static char dom[65536], log[65536];
    char page[512], harness[512], shot[512], cmd[2048];
    snprintf(page, sizeof page, "%s/full/models/report.html", g_dir);
    snprintf(harness, sizeof harness, "%s/harness.html", g_dir);
    write_harness(harness, page);
    chromium_check(harness, dom, sizeof dom, log, sizeof log);
    if (!strstr(dom, "images 6 loaded 6") || strstr(dom, "BROKEN"))
        fail_msg("not every image of %s loaded:\n%s", page, dom);
    if (strstr(log, "CONSOLE"))
        fail_msg("console messages while loading %s:\n%s", page, log);
    snprintf(shot, sizeof shot, "%s/screenshot.png", g_dir);
    snprintf(cmd, sizeof cmd, "timeout 120 chromium --headless --no-sandbox --disable-gpu "
                              "--user-data-dir='%s/chromium-profile' --window-size=1280,2000 "
                              "--screenshot='%s' 'file://%s' >/dev/null 2>&1",
             g_dir, shot, page);
    assert_int_equal(system(cmd), 0);
    expect_prefix(shot, "\x89PNG\r\n\x1a\n", 8);
    /* the check can fail: with a figure gone the same harness reports it */
    char gone[512];
    snprintf(gone, sizeof gone, "%s/full/models/figures/memory-f32-1t.svg", g_dir);
    assert_int_equal(unlink(gone), 0);
    chromium_check(harness, dom, sizeof dom, log, sizeof log);
    assert_non_null(strstr(dom, "images 6 loaded 5"));
    assert_non_null(strstr(dom, "BROKEN figures/memory-f32-1t.svg"));
}

/* ---- 04 nothing to do when nothing changed ------------------------------------------------ */

static void test_04_unchanged_database_writes_nothing(void **state)
{
    (void)state;
    char out[256], marker[512];
    snprintf(out, sizeof out, "%s/stamp", g_dir);
    snprintf(marker, sizeof marker, "%s/.ctxbench-report", out);
    assert_int_equal(render_to(out, REPORT_MD | REPORT_HTML, 0).up_to_date, 0);
    struct stat before, after;
    assert_int_equal(stat(marker, &before), 0);
    /* opening the database (which may touch the file) is not a change */
    store *s = NULL;
    cb_err err = {{0}};
    assert_int_equal(store_open(g_db, &s, &err), 0);
    store_close(s);
    sleep(1);
    assert_int_equal(render_to(out, REPORT_MD | REPORT_HTML, 0).up_to_date, 1);
    assert_int_equal(stat(marker, &after), 0);
    assert_true(before.st_mtime == after.st_mtime && before.st_ino == after.st_ino);
    /* --force renders anyway */
    assert_int_equal(render_to(out, REPORT_MD | REPORT_HTML, 1).up_to_date, 0);
    /* a new run is a change */
    assert_int_equal(store_open(g_db, &s, &err), 0);
    json_t *run = fx_run("d4d4d4d4-0000-4000-8000-000000000004", "ops",
                         fx_platform(fx_fp_a, "Fixture CPU A", 20, 200), "2026-02-01T00:00:00.000Z");
    fx_operator(run, "attention.flash", "attention", "prefill", 256, 2);
    assert_int_equal(store_run_import(s, run, NULL, NULL, &err), 0);
    json_decref(run);
    store_close(s);
    assert_int_equal(render_to(out, REPORT_MD | REPORT_HTML, 0).up_to_date, 0);
    snprintf(marker, sizeof marker, "%s/ops/report.md", out);
    char *md = slurp(marker, NULL);
    assert_non_null(strstr(md, "d4d4d4d4"));
    free(md);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_01_tables_match_golden_files),
        cmocka_unit_test(test_02_every_figure_is_drawn),
        cmocka_unit_test(test_03_html_page_in_chromium),
        cmocka_unit_test(test_04_unchanged_database_writes_nothing),
    };
    return cmocka_run_group_tests_name("report_output", tests, setup_group, teardown_group);
}
