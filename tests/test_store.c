/* tests/test_store.c — the results database (db/store.c, db/migrations.c).
 *
 * Each case works on its own database file in one mkdtemp folder under /tmp,
 * removed at the end.  The multi-process cases fork() children that open
 * their own connections (no connection is open in the parent across a fork,
 * as SQLite requires) and report through their exit status.
 *
 * This test opens raw SQLite connections to look behind the store's back
 * (what tables exist, how many rows, tampering with a file); that SQL stays
 * in tests of db/. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "db/migrations.h"
#include "db/store.h"

/* ---- fixtures ------------------------------------------------------------------ */

static char g_dir[64];

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/ctxbench-store-XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    return nftw(g_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes the path of a database in the test folder to buf and returns buf. */
static const char *db_path(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", g_dir, name);
    return buf;
}

static void fill_platform(plat_info *p, const char *fingerprint, const char *model)
{
    memset(p, 0, sizeof *p);
    snprintf(p->source, sizeof p->source, "live");
    snprintf(p->arch, sizeof p->arch, "x86_64");
    snprintf(p->cpu_vendor, sizeof p->cpu_vendor, "GenuineTest");
    snprintf(p->cpu_model, sizeof p->cpu_model, "%s", model);
    p->n_packages = 1;
    p->n_numa = 1;
    p->n_cores = 4;
    p->n_pus = 8;
    p->n_caches = 2;
    p->caches[0] = (plat_cache){.level = 1, .type = "data", .size_bytes = 32768,
                                .line_bytes = 64, .instances = 4};
    p->caches[1] = (plat_cache){.level = 3, .type = "unified", .size_bytes = 8u << 20,
                                .line_bytes = 64, .instances = 1};
    p->n_kinds = 1;
    p->kinds[0] = (plat_kind){.efficiency = 0, .n_cores = 4, .n_pus = 8, .cpulist = "0-7"};
    snprintf(p->isa, sizeof p->isa, "sse4_2 avx2 fma");
    snprintf(p->simd_best, sizeof p->simd_best, "avx2");
    p->mem_bytes = 16ull << 30;
    snprintf(p->os, sizeof p->os, "Linux");
    snprintf(p->kernel, sizeof p->kernel, "6.1.0-test");
    snprintf(p->governor, sizeof p->governor, "performance");
    snprintf(p->boost, sizeof p->boost, "off");
    snprintf(p->thp, sizeof p->thp, "madvise");
    snprintf(p->fingerprint, sizeof p->fingerprint, "%s", fingerprint);
}

static store_run_info run_info(int64_t platform_id, const char *experiment, const char *revision)
{
    store_run_info r = {
        .experiment = experiment,
        .config_path = "experiments/test.ini",
        .config_text = "[experiment]\nname = test\n",
        .config_hash = "cafe",
        .scale = "quick",
        .platform_id = platform_id,
        .revision = revision,
        .dirty = 0,
        .compiler = "gcc 12",
        .cflags = "-O3",
        .seed = 42,
    };
    return r;
}

/* A result of n samples base, base+1e-6, ... with hand-filled statistics and
 * two counters named: cycles (supported) and instructions (unsupported). */
static void fill_result(meas_result *r, int n, double base)
{
    memset(r, 0, sizeof *r);
    r->samples_s = malloc((size_t)n * sizeof *r->samples_s);
    assert_non_null(r->samples_s);
    r->n = n;
    for (int i = 0; i < n; i++)
        r->samples_s[i] = base + 1e-6 * i;
    r->stats = (meas_stats){.n = n, .median = base + 1e-6 * (n / 2), .mean = base + 2e-6,
                            .stddev = 1.5e-6, .mad = 1e-6, .min = base,
                            .max = base + 1e-6 * (n - 1), .p05 = base, .p95 = base + 4e-6,
                            .ci_lo = base + 1e-6, .ci_hi = base + 3e-6, .cv = 0.015};
    r->counters[CTR_CYCLES] = (ctr_value){.name = "cycles", .unit = "count", .supported = 1,
                                          .per_rep = 1234.5};
    r->counters[CTR_INSTRUCTIONS] = (ctr_value){.name = "instructions", .unit = "count",
                                                .reason = "perf_event_open: No such file or directory"};
    r->peak_rss_kb = 2048;
    r->overhead_s = 2.5e-8;
}

static store_measurement measurement(const meas_result *r, const char *params_hash)
{
    store_measurement m = {
        .subject = "gemm",
        .impl = "builtin",
        .phase = "prefill",
        .params_json = "{\"k\":64,\"m\":64,\"n\":64}",
        .params_hash = params_hash,
        .threads = 4,
        .result = r,
        .flops = -1,
        .bytes = 1e6,
        .state_bytes = 4096,
    };
    return m;
}

/* Opens a database, failing the test with the store's message if it cannot. */
static store *open_ok(const char *path)
{
    store *s = NULL;
    cb_err err = {{0}};
    if (store_open(path, &s, &err) != 0)
        fail_msg("store_open: %s", err.msg);
    return s;
}

/* The first column of the first row of sql on a raw connection, as an integer. */
static long long raw_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long long v = -1;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    return v;
}

/* Runs sql (no result wanted) on a raw connection. */
static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    char *msg = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        char copy[512];
        snprintf(copy, sizeof copy, "%s", msg ? msg : "?");
        sqlite3_free(msg);
        sqlite3_close(db);
        fail_msg("raw_exec: %s", copy);
    }
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* A run of a JSON array found by uuid, or NULL. */
static json_t *find_run(json_t *runs, const char *uuid)
{
    size_t i;
    json_t *r;
    json_array_foreach(runs, i, r) {
        if (strcmp(json_string_value(json_object_get(r, "uuid")), uuid) == 0)
            return r;
    }
    return NULL;
}

static const char *jstr(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* ---- cases ------------------------------------------------------------------------ */

static void test_01_migrate_from_empty(void **state)
{
    (void)state;
    char path[256];
    /* a folder that does not exist yet: store_open creates it */
    db_path(path, sizeof path, "fresh/sub/results.db");
    store *s = open_ok(path);
    assert_int_equal(store_schema_version(), store_migrations_count());
    assert_true(store_schema_version() >= 1);
    store_close(s);

    char sql[256];
    snprintf(sql, sizeof sql, "PRAGMA user_version");
    assert_int_equal(raw_int(path, sql), store_schema_version());
    static const char *const tables[] = {"platform", "probe", "run", "measurement",
                                         "sample", "counter", "breakdown", "metric"};
    static const char *const views[] = {"v_runs", "v_measurements", "v_counters",
                                        "v_platform_peaks", "v_metrics"};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '%s'",
                 tables[i]);
        assert_int_equal(raw_int(path, sql), 1);
    }
    for (size_t i = 0; i < sizeof views / sizeof views[0]; i++) {
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM sqlite_schema WHERE type = 'view' AND name = '%s'",
                 views[i]);
        assert_int_equal(raw_int(path, sql), 1);
        /* and each view can be queried */
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", views[i]);
        assert_int_equal(raw_int(path, sql), 0);
    }
    /* WAL is a property of the file: a raw connection sees it */
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void test_02_reopen_does_not_remigrate(void **state)
{
    (void)state;
    char path[256];
    db_path(path, sizeof path, "reopen.db");
    store *s = open_ok(path);
    plat_info p;
    int64_t pid = 0;
    cb_err err = {{0}};
    fill_platform(&p, "fp-reopen", "Model R");
    assert_int_equal(store_platform_put(s, &p, NULL, &pid, &err), 0);
    store_close(s);

    /* applying migrations to an up-to-date database applies none */
    sqlite3 *db = NULL;
    int applied = -1;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(store_migrate(db, path, &applied, &err), 0);
    assert_int_equal(applied, 0);
    sqlite3_close(db);

    s = open_ok(path);
    json_t *pj = store_platform_json(s, pid, &err);
    assert_non_null(pj);
    assert_string_equal(jstr(pj, "fingerprint"), "fp-reopen");
    json_decref(pj);
    store_close(s);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM platform"), 1);
    assert_int_equal(raw_int(path, "PRAGMA user_version"), store_schema_version());
}

static void test_03_newer_database_refused(void **state)
{
    (void)state;
    char path[256], sql[64];
    db_path(path, sizeof path, "newer.db");
    store_close(open_ok(path));
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", store_schema_version() + 1);
    raw_exec(path, sql);

    size_t n_before = 0, n_after = 0;
    char *before = read_all(path, &n_before);
    store *s = NULL;
    cb_err err = {{0}};
    assert_int_equal(store_open(path, &s, &err), -1);
    assert_null(s);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "newer than this build"));
    char *after = read_all(path, &n_after);
    assert_int_equal(n_before, n_after);
    assert_memory_equal(before, after, n_before); /* nothing touched */
    free(before);
    free(after);
}

static void test_04_garbage_file_refused(void **state)
{
    (void)state;
    char path[256], expect[300];
    db_path(path, sizeof path, "garbage.db");
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (int i = 0; i < 4096; i++)
        fputc("not a database, just text\n"[i % 26], f);
    fclose(f);
    store *s = NULL;
    cb_err err = {{0}};
    assert_int_equal(store_open(path, &s, &err), -1);
    assert_null(s);
    snprintf(expect, sizeof expect, "%s: file is not a database", path);
    assert_string_equal(err.msg, expect);
    size_t n = 0;
    char *text = read_all(path, &n);
    assert_int_equal(n, 4096);
    assert_memory_equal(text, "not a database", 14);
    free(text);
}

static void test_05_platform_upsert_idempotent(void **state)
{
    (void)state;
    char path[256];
    cb_err err = {{0}};
    store *s = open_ok(db_path(path, sizeof path, "platform.db"));
    plat_info p;
    int64_t a = 0, b = 0, c = 0;
    fill_platform(&p, "fp-one", "Model A");
    assert_int_equal(store_platform_put(s, &p, "<topology/>", &a, &err), 0);
    assert_int_equal(store_platform_put(s, &p, "<topology/>", &b, &err), 0);
    assert_true(a > 0);
    assert_int_equal(a, b);
    /* same fingerprint, refreshed description, no XML this time: XML kept */
    snprintf(p.cpu_model, sizeof p.cpu_model, "Model A rev 2");
    assert_int_equal(store_platform_put(s, &p, NULL, &b, &err), 0);
    assert_int_equal(a, b);
    json_t *pj = store_platform_json(s, a, &err);
    assert_non_null(pj);
    assert_string_equal(jstr(pj, "cpu_model"), "Model A rev 2");
    assert_string_equal(jstr(pj, "topology_xml"), "<topology/>");
    assert_int_equal(json_integer_value(json_object_get(pj, "n_pus")), 8);
    json_t *caches = json_object_get(pj, "caches");
    assert_true(json_is_array(caches));
    assert_int_equal(json_array_size(caches), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(caches, 1), "size_bytes")),
                     8 << 20);
    assert_string_equal(jstr(json_array_get(json_object_get(pj, "kinds"), 0), "cpulist"), "0-7");
    json_decref(pj);
    /* another machine */
    fill_platform(&p, "fp-two", "Model B");
    assert_int_equal(store_platform_put(s, &p, NULL, &c, &err), 0);
    assert_true(c != a);
    /* no fingerprint: refused */
    p.fingerprint[0] = '\0';
    assert_int_equal(store_platform_put(s, &p, NULL, &c, &err), -1);
    assert_non_null(strstr(err.msg, "fingerprint"));
    store_close(s);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM platform"), 2);
}

static void test_06_probe_and_peaks(void **state)
{
    (void)state;
    char path[256];
    cb_err err = {{0}};
    store *s = open_ok(db_path(path, sizeof path, "probe.db"));
    plat_info p;
    int64_t pid = 0;
    double gbps = -1, gflops = -1;
    fill_platform(&p, "fp-probe", "Model P");
    assert_int_equal(store_platform_put(s, &p, NULL, &pid, &err), 0);
    assert_int_equal(store_platform_peaks(s, pid, &gbps, &gflops, &err), 0);
    assert_true(gbps == 0 && gflops == 0); /* never probed */

    assert_int_equal(store_probe_put(s, pid, "triad_gbps", 1, 10.0, &err), 0);
    assert_int_equal(store_probe_put(s, pid, "triad_gbps", 4, 30.0, &err), 0);
    assert_int_equal(store_probe_put(s, pid, "triad_gbps", 8, 20.0, &err), 0);
    assert_int_equal(store_probe_put(s, pid, "fma_gflops", 8, 100.0, &err), 0);
    assert_int_equal(store_probe_put(s, pid, "latency_ns", 1, 80.0, &err), 0);
    assert_int_equal(store_platform_peaks(s, pid, &gbps, &gflops, &err), 0);
    assert_true(gbps == 30.0);
    assert_true(gflops == 100.0);
    store_close(s);

    /* a new probe session (another handle) sets the peak from its own figures */
    s = open_ok(path);
    assert_int_equal(store_probe_put(s, pid, "triad_gbps", 8, 25.0, &err), 0);
    assert_int_equal(store_platform_peaks(s, pid, &gbps, &gflops, &err), 0);
    assert_true(gbps == 25.0);
    assert_true(gflops == 100.0);
    json_t *pj = store_platform_json(s, pid, &err);
    assert_non_null(pj);
    assert_int_equal(json_array_size(json_object_get(pj, "probes")), 6);
    assert_true(json_real_value(json_object_get(pj, "peak_gbps")) == 25.0);
    json_decref(pj);

    /* unknown platform: an error, not zeros; a probe of it fails, nothing stored */
    assert_int_equal(store_platform_peaks(s, pid + 100, &gbps, &gflops, &err), -1);
    assert_non_null(strstr(err.msg, "not found"));
    assert_int_equal(store_probe_put(s, pid + 100, "triad_gbps", 1, 5.0, &err), -1);
    assert_non_null(strstr(err.msg, "FOREIGN KEY"));
    assert_int_equal(store_probe_put(s, pid, "", 1, 5.0, &err), -1);
    assert_int_equal(store_probe_put(s, pid, "triad_gbps", 1, NAN, &err), -1);
    store_close(s);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM probe"), 6);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM v_platform_peaks "
                                   "WHERE ridge_flops_per_byte = 4.0"), 1);
}

static void test_07_run_lifecycle(void **state)
{
    (void)state;
    char path[256], uuid[CB_UUID_LEN];
    cb_err err = {{0}};
    store *s = open_ok(db_path(path, sizeof path, "runs.db"));
    plat_info p;
    int64_t pid = 0, r1 = 0, r2 = 0, r3 = 0;
    fill_platform(&p, "fp-runs", "Model R");
    assert_int_equal(store_platform_put(s, &p, NULL, &pid, &err), 0);
    store_run_info info = run_info(pid, "lifecycle", "abc123");

    assert_int_equal(store_run_begin(s, &info, uuid, &r1, &err), 0);
    assert_int_equal(strlen(uuid), 36);
    json_t *run = store_run_json(s, uuid, &err);
    assert_non_null(run);
    assert_string_equal(jstr(run, "status"), "running");
    assert_true(json_is_null(json_object_get(run, "ended_at")));
    assert_string_equal(jstr(run, "origin"), "local");
    assert_int_equal(json_integer_value(json_object_get(run, "pid")), getpid());
    assert_int_equal(json_integer_value(json_object_get(run, "dirty")), 0);
    assert_int_equal(json_integer_value(json_object_get(run, "seed")), 42);
    assert_string_equal(jstr(run, "config_text"), info.config_text);
    json_decref(run);

    assert_int_equal(store_run_end(s, r1, "complete", &err), 0);
    run = store_run_json(s, uuid, &err);
    assert_string_equal(jstr(run, "status"), "complete");
    assert_true(json_is_string(json_object_get(run, "ended_at")));
    json_decref(run);
    /* a finished run cannot end again */
    assert_int_equal(store_run_end(s, r1, "failed", &err), -1);
    assert_non_null(strstr(err.msg, "is complete, not running"));
    /* only the three final states */
    assert_int_equal(store_run_begin(s, &info, uuid, &r2, &err), 0);
    assert_int_equal(store_run_end(s, r2, "running", &err), -1);
    assert_int_equal(store_run_end(s, r2, "done", &err), -1);
    assert_int_equal(store_run_end(s, r2, "failed", &err), 0);
    info.seed = UINT64_MAX; /* the full unsigned range survives */
    info.dirty = -1;        /* unknown */
    assert_int_equal(store_run_begin(s, &info, uuid, &r3, &err), 0);
    assert_int_equal(store_run_end(s, r3, "interrupted", &err), 0);
    run = store_run_json(s, uuid, &err);
    assert_string_equal(jstr(run, "seed"), "18446744073709551615");
    assert_true(json_is_null(json_object_get(run, "dirty")));
    json_decref(run);
    assert_int_equal(store_run_end(s, 9999, "complete", &err), -1);
    assert_non_null(strstr(err.msg, "not found"));
    /* a run needs an existing platform and an experiment name */
    info.platform_id = pid + 50;
    assert_int_equal(store_run_begin(s, &info, uuid, &r3, &err), -1);
    info.platform_id = pid;
    info.experiment = NULL;
    assert_int_equal(store_run_begin(s, &info, uuid, &r3, &err), -1);
    store_close(s);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM run"), 3);
}

static void test_08_measurement_round_trip(void **state)
{
    (void)state;
    char path[256], uuid[CB_UUID_LEN];
    cb_err err = {{0}};
    store *s = open_ok(db_path(path, sizeof path, "measure.db"));
    plat_info p;
    int64_t pid = 0, rid = 0, mid = 0, other_run = 0;
    fill_platform(&p, "fp-meas", "Model M");
    assert_int_equal(store_platform_put(s, &p, NULL, &pid, &err), 0);
    assert_int_equal(store_probe_put(s, pid, "triad_gbps", 4, 40.0, &err), 0);
    store_run_info info = run_info(pid, "roundtrip", "abc123");
    assert_int_equal(store_run_begin(s, &info, uuid, &rid, &err), 0);

    meas_result r;
    fill_result(&r, 7, 0.001);
    store_measurement m = measurement(&r, "hash-1");
    assert_int_equal(store_measurement_put(s, rid, &m, &mid, &err), 0);
    assert_true(mid > 0);
    assert_int_equal(store_metric_put(s, rid, mid, "recall", 0.9, "ratio", 0, &err), 0);
    assert_int_equal(store_metric_put(s, rid, 0, "speedup", 2.5, "x", 1, &err), 0);
    assert_int_equal(store_breakdown_put(s, mid, "attention", 0.0006, &err), 0);
    assert_int_equal(store_breakdown_put(s, mid, "mlp", 0.0004, &err), 0);
    /* a metric naming a measurement of another run is refused */
    char other_uuid[CB_UUID_LEN];
    assert_int_equal(store_run_begin(s, &info, other_uuid, &other_run, &err), 0);
    assert_int_equal(store_metric_put(s, other_run, mid, "recall", 0.5, NULL, 0, &err), -1);
    assert_non_null(strstr(err.msg, "not one of the run's"));
    assert_int_equal(store_metric_put(s, rid, 0, "", 1, NULL, 0, &err), -1);
    assert_int_equal(store_breakdown_put(s, mid + 99, "mlp", 1, &err), -1);

    json_t *run = store_run_json(s, uuid, &err);
    assert_non_null(run);
    json_t *ms = json_object_get(run, "measurements");
    assert_int_equal(json_array_size(ms), 1);
    json_t *mj = json_array_get(ms, 0);
    assert_int_equal(json_integer_value(json_object_get(mj, "id")), mid);
    assert_string_equal(jstr(mj, "run_uuid"), uuid);
    assert_string_equal(jstr(mj, "subject"), "gemm");
    assert_string_equal(jstr(mj, "impl"), "builtin");
    assert_string_equal(jstr(mj, "phase"), "prefill");
    assert_string_equal(jstr(mj, "params_json"), m.params_json);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(mj, "params"), "k")), 64);
    assert_int_equal(json_integer_value(json_object_get(mj, "threads")), 4);
    assert_int_equal(json_integer_value(json_object_get(mj, "reps")), 7);
    /* statistics round-trip exactly */
    assert_true(json_real_value(json_object_get(mj, "median_s")) == r.stats.median);
    assert_true(json_real_value(json_object_get(mj, "mean_s")) == r.stats.mean);
    assert_true(json_real_value(json_object_get(mj, "stddev_s")) == r.stats.stddev);
    assert_true(json_real_value(json_object_get(mj, "mad_s")) == r.stats.mad);
    assert_true(json_real_value(json_object_get(mj, "min_s")) == r.stats.min);
    assert_true(json_real_value(json_object_get(mj, "max_s")) == r.stats.max);
    assert_true(json_real_value(json_object_get(mj, "p05_s")) == r.stats.p05);
    assert_true(json_real_value(json_object_get(mj, "p95_s")) == r.stats.p95);
    assert_true(json_real_value(json_object_get(mj, "ci_lo_s")) == r.stats.ci_lo);
    assert_true(json_real_value(json_object_get(mj, "ci_hi_s")) == r.stats.ci_hi);
    assert_true(json_real_value(json_object_get(mj, "cv")) == r.stats.cv);
    assert_true(json_real_value(json_object_get(mj, "overhead_s")) == r.overhead_s);
    assert_int_equal(json_integer_value(json_object_get(mj, "peak_rss_kb")), 2048);
    /* not applicable stays NULL, and so do the numbers derived from it */
    assert_true(json_is_null(json_object_get(mj, "flops")));
    assert_true(json_is_null(json_object_get(mj, "gflops")));
    assert_true(json_is_null(json_object_get(mj, "intensity")));
    assert_true(json_real_value(json_object_get(mj, "bytes")) == 1e6);
    assert_true(json_real_value(json_object_get(mj, "state_bytes")) == 4096);
    double gbps = json_real_value(json_object_get(mj, "gbps"));
    assert_true(fabs(gbps - 1e6 / r.stats.median / 1e9) < 1e-9);
    assert_true(fabs(json_real_value(json_object_get(mj, "frac_peak_gbps")) - gbps / 40.0) < 1e-12);
    /* samples: count and values in order */
    json_t *samples = json_object_get(mj, "samples");
    assert_int_equal(json_array_size(samples), 7);
    for (int i = 0; i < 7; i++)
        assert_true(json_real_value(json_array_get(samples, (size_t)i)) == r.samples_s[i]);
    /* counters: one row each, the unsupported one with NULL and its reason */
    json_t *ctrs = json_object_get(mj, "counters");
    assert_int_equal(json_array_size(ctrs), 2);
    json_t *cyc = json_array_get(ctrs, 0), *ins = json_array_get(ctrs, 1);
    assert_string_equal(jstr(cyc, "name"), "cycles");
    assert_int_equal(json_integer_value(json_object_get(cyc, "supported")), 1);
    assert_true(json_real_value(json_object_get(cyc, "per_rep")) == 1234.5);
    assert_true(json_is_null(json_object_get(cyc, "reason")));
    assert_string_equal(jstr(ins, "name"), "instructions");
    assert_int_equal(json_integer_value(json_object_get(ins, "supported")), 0);
    assert_true(json_is_null(json_object_get(ins, "per_rep")));
    assert_string_equal(jstr(ins, "reason"), "perf_event_open: No such file or directory");
    /* breakdown and metrics, with the predicted flag */
    json_t *bd = json_object_get(mj, "breakdown");
    assert_int_equal(json_array_size(bd), 2);
    assert_string_equal(jstr(json_array_get(bd, 0), "op_class"), "attention");
    assert_true(json_real_value(json_object_get(json_array_get(bd, 1), "seconds")) == 0.0004);
    json_t *mm = json_object_get(mj, "metrics");
    assert_int_equal(json_array_size(mm), 1);
    assert_string_equal(jstr(json_array_get(mm, 0), "name"), "recall");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(mm, 0), "predicted")), 0);
    json_t *rm = json_object_get(run, "metrics");
    assert_int_equal(json_array_size(rm), 1);
    assert_string_equal(jstr(json_array_get(rm, 0), "name"), "speedup");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(rm, 0), "predicted")), 1);
    assert_string_equal(jstr(json_array_get(rm, 0), "unit"), "x");
    json_decref(run);
    free(r.samples_s);
    store_close(s);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM v_counters WHERE per_second > 0"), 1);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM v_metrics WHERE kind = 'predicted'"), 1);
}

/* store_point_done's answer, failing the test if the lookup fails. */
static int point_done(store *s, const store_run_info *info, const char *subject,
                      const char *impl, const char *phase, const char *hash)
{
    cb_err err = {{0}};
    int done = -1;
    if (store_point_done(s, info, subject, impl, phase, hash, &done, &err) != 0)
        fail_msg("store_point_done: %s", err.msg);
    return done;
}

static void test_09_point_done(void **state)
{
    (void)state;
    char path[256], uuid[CB_UUID_LEN];
    cb_err err = {{0}};
    store *s = open_ok(db_path(path, sizeof path, "resume.db"));
    plat_info p;
    int64_t pid = 0, pid2 = 0, rid = 0;
    int done = -1;
    fill_platform(&p, "fp-resume", "Model S");
    assert_int_equal(store_platform_put(s, &p, NULL, &pid, &err), 0);
    fill_platform(&p, "fp-resume-2", "Model S2");
    assert_int_equal(store_platform_put(s, &p, NULL, &pid2, &err), 0);
    store_run_info info = run_info(pid, "resume", "rev-1");
    assert_int_equal(point_done(s, &info, "gemm", "builtin", "prefill", "h1"), 0);

    assert_int_equal(store_run_begin(s, &info, uuid, &rid, &err), 0);
    meas_result r;
    fill_result(&r, 3, 0.002);
    store_measurement m = measurement(&r, "h1");
    assert_int_equal(store_measurement_put(s, rid, &m, NULL, &err), 0);
    free(r.samples_s);
    /* the run was interrupted: its measurements still count */
    assert_int_equal(store_run_end(s, rid, "interrupted", &err), 0);

    assert_int_equal(point_done(s, &info, "gemm", "builtin", "prefill", "h1"), 1);
    /* the same point under any other identity is not done */
    assert_int_equal(point_done(s, &info, "gemm", "builtin", "prefill", "h2"), 0);
    assert_int_equal(point_done(s, &info, "gemm", "openblas", "prefill", "h1"), 0);
    assert_int_equal(point_done(s, &info, "gemm", "builtin", "decode", "h1"), 0);
    assert_int_equal(point_done(s, &info, "attn", "builtin", "prefill", "h1"), 0);
    store_run_info other = info;
    other.revision = "rev-2";
    assert_int_equal(point_done(s, &other, "gemm", "builtin", "prefill", "h1"), 0);
    other = info;
    other.dirty = 1;
    assert_int_equal(point_done(s, &other, "gemm", "builtin", "prefill", "h1"), 0);
    other = info;
    other.scale = "full";
    assert_int_equal(point_done(s, &other, "gemm", "builtin", "prefill", "h1"), 0);
    other = info;
    other.config_hash = "beef";
    assert_int_equal(point_done(s, &other, "gemm", "builtin", "prefill", "h1"), 0);
    other = info;
    other.experiment = "resume-too";
    assert_int_equal(point_done(s, &other, "gemm", "builtin", "prefill", "h1"), 0);
    other = info;
    other.platform_id = pid2;
    assert_int_equal(point_done(s, &other, "gemm", "builtin", "prefill", "h1"), 0);
    /* NULL subject, impl or phase match any */
    assert_int_equal(point_done(s, &info, NULL, NULL, NULL, "h1"), 1);
    assert_int_equal(point_done(s, &info, "gemm", NULL, "prefill", "h1"), 1);
    assert_int_equal(point_done(s, &info, NULL, "openblas", NULL, "h1"), 0);
    assert_int_equal(store_point_done(s, &info, NULL, NULL, NULL, NULL, &done, &err), -1);
    /* unknown revision matches unknown revision only */
    other = info;
    other.revision = NULL;
    assert_int_equal(point_done(s, &other, "gemm", "builtin", "prefill", "h1"), 0);
    store_close(s);
}

static void test_10_failed_put_leaves_nothing(void **state)
{
    (void)state;
    char path[256], uuid[CB_UUID_LEN];
    cb_err err = {{0}};
    store *s = open_ok(db_path(path, sizeof path, "rollback.db"));
    plat_info p;
    int64_t pid = 0, rid = 0, mid = -7;
    fill_platform(&p, "fp-rb", "Model RB");
    assert_int_equal(store_platform_put(s, &p, NULL, &pid, &err), 0);
    store_run_info info = run_info(pid, "rollback", "rev");
    assert_int_equal(store_run_begin(s, &info, uuid, &rid, &err), 0);
    meas_result r;
    fill_result(&r, 5, 0.003);
    store_measurement m = measurement(&r, "h");

    /* a run that does not exist: the foreign key refuses it */
    assert_int_equal(store_measurement_put(s, rid + 1000, &m, &mid, &err), -1);
    assert_int_equal(mid, -7);
    assert_non_null(strstr(err.msg, "FOREIGN KEY"));
    assert_non_null(strstr(err.msg, path));

    /* a failure after the measurement and its samples were written (two
     * counters with one name): the whole point is rolled back */
    r.counters[CTR_CACHE_MISSES] = r.counters[CTR_CYCLES];
    assert_int_equal(store_measurement_put(s, rid, &m, &mid, &err), -1);
    assert_non_null(strstr(err.msg, "UNIQUE"));
    r.counters[CTR_CACHE_MISSES] = (ctr_value){0};

    /* a NaN sample is refused too (seconds NOT NULL) */
    r.samples_s[4] = NAN;
    assert_int_equal(store_measurement_put(s, rid, &m, &mid, &err), -1);
    r.samples_s[4] = 0.003;
    /* missing identity */
    m.params_hash = NULL;
    assert_int_equal(store_measurement_put(s, rid, &m, &mid, &err), -1);
    m.params_hash = "h";
    /* the store is still usable: no transaction was left open */
    assert_int_equal(store_measurement_put(s, rid, &m, &mid, &err), 0);
    free(r.samples_s);
    store_close(s);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM measurement"), 1);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM sample"), 5);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM counter"), 2);
}

/* A writer process: opens the database (maybe fresh), begins a run and
 * stores n measurements as fast as it can.  Returns an exit status. */
static int writer_child(const char *path, const char *experiment, int n, int start_fd)
{
    char go, uuid[CB_UUID_LEN];
    if (read(start_fd, &go, 1) < 0) /* wait for the parent's signal (EOF) */
        return 2;
    store *s = NULL;
    cb_err err = {{0}};
    plat_info p;
    int64_t pid = 0, rid = 0;
    meas_result r;
    int status = 0;
    fill_platform(&p, "fp-shared", "Model W");
    if (store_open(path, &s, &err) != 0 || store_platform_put(s, &p, NULL, &pid, &err) != 0) {
        fprintf(stderr, "writer %s: %s\n", experiment, err.msg);
        store_close(s);
        return 3;
    }
    store_run_info info = run_info(pid, experiment, "rev");
    if (store_run_begin(s, &info, uuid, &rid, &err) != 0)
        status = 4;
    memset(&r, 0, sizeof r);
    r.samples_s = malloc(20 * sizeof *r.samples_s);
    r.n = 20;
    for (int i = 0; i < 20; i++)
        r.samples_s[i] = 1e-3 + 1e-6 * i;
    r.stats.median = 1e-3;
    r.counters[CTR_CYCLES] = (ctr_value){.name = "cycles", .unit = "count", .reason = "none"};
    for (int i = 0; status == 0 && i < n; i++) {
        char hash[32];
        snprintf(hash, sizeof hash, "%s-%d", experiment, i);
        store_measurement m = {.subject = "triad", .impl = "builtin", .phase = "step",
                               .params_json = "{}", .params_hash = hash, .threads = 1,
                               .result = &r, .flops = 2, .bytes = 24, .state_bytes = -1};
        if (store_measurement_put(s, rid, &m, NULL, &err) != 0)
            status = 5;
    }
    if (status == 0 && store_run_end(s, rid, "complete", &err) != 0)
        status = 6;
    if (status != 0)
        fprintf(stderr, "writer %s: %s\n", experiment, err.msg);
    free(r.samples_s);
    store_close(s);
    return status;
}

static void test_11_two_concurrent_writers(void **state)
{
    (void)state;
    char path[256];
    int fds[2];
    pid_t kids[2];
    const int n = 200;
    /* a database that does not exist yet: both children race to create and
     * migrate it too */
    db_path(path, sizeof path, "concurrent/results.db");
    assert_int_equal(pipe(fds), 0);
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        assert_true(kids[k] >= 0);
        if (kids[k] == 0) {
            close(fds[1]);
            _exit(writer_child(path, k == 0 ? "writer-a" : "writer-b", n, fds[0]));
        }
    }
    close(fds[0]);
    close(fds[1]); /* go */
    for (int k = 0; k < 2; k++) {
        int status = 0;
        assert_int_equal(waitpid(kids[k], &status, 0), kids[k]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    cb_err err = {{0}};
    store *s = open_ok(path);
    json_t *runs = store_runs_json(s, NULL, &err);
    assert_non_null(runs);
    assert_int_equal(json_array_size(runs), 2);
    json_int_t total = 0;
    size_t i;
    json_t *r;
    json_array_foreach(runs, i, r) {
        assert_string_equal(jstr(r, "status"), "complete");
        assert_int_equal(json_integer_value(json_object_get(r, "n_measurements")), n);
        total += json_integer_value(json_object_get(r, "n_measurements"));
    }
    assert_int_equal(total, 2 * n);
    json_decref(runs);
    int ok = 0, version = 0;
    char verdict[128];
    assert_int_equal(store_check(s, &ok, verdict, sizeof verdict, &version, &err), 0);
    assert_true(ok);
    store_close(s);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM measurement"), 2 * n);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM sample"), 2 * n * 20);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM platform"), 1);
}

static void test_12_killed_run_is_interrupted(void **state)
{
    (void)state;
    char path[256], mine[CB_UUID_LEN];
    cb_err err = {{0}};
    plat_info p;
    int64_t pid = 0, my_run = 0;
    db_path(path, sizeof path, "killed.db");
    store *s = open_ok(path);
    fill_platform(&p, "fp-kill", "Model K");
    assert_int_equal(store_platform_put(s, &p, NULL, &pid, &err), 0);
    store_run_info info = run_info(pid, "killed", "rev");
    assert_int_equal(store_run_begin(s, &info, mine, &my_run, &err), 0);
    store_close(s); /* no connection may cross the fork */

    pid_t kid = fork();
    assert_true(kid >= 0);
    if (kid == 0) {
        store *c = NULL;
        cb_err cerr;
        char uuid[CB_UUID_LEN];
        int64_t rid = 0;
        meas_result r = {0};
        double one = 0.5;
        r.samples_s = &one;
        r.n = 1;
        store_measurement m = measurement(&r, "k");
        if (store_open(path, &c, &cerr) != 0 || store_run_begin(c, &info, uuid, &rid, &cerr) != 0 ||
            store_measurement_put(c, rid, &m, NULL, &cerr) != 0)
            _exit(3);
        raise(SIGKILL); /* die mid-run, without ending it or closing */
        _exit(4);
    }
    int status = 0;
    assert_int_equal(waitpid(kid, &status, 0), kid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);

    s = open_ok(path); /* reaps */
    json_t *runs = store_runs_json(s, "killed", &err);
    assert_non_null(runs);
    assert_int_equal(json_array_size(runs), 2);
    size_t i;
    json_t *r;
    int seen_child = 0;
    json_array_foreach(runs, i, r) {
        if (strcmp(jstr(r, "uuid"), mine) == 0) {
            assert_string_equal(jstr(r, "status"), "running"); /* ours: alive */
            assert_true(json_is_null(json_object_get(r, "ended")));
        } else {
            seen_child = 1;
            assert_string_equal(jstr(r, "status"), "interrupted");
            assert_true(json_is_string(json_object_get(r, "ended")));
            assert_int_equal(json_integer_value(json_object_get(r, "n_measurements")), 1);
        }
    }
    assert_true(seen_child);
    json_decref(runs);
    /* reaping again finds nothing, and our own run ends normally */
    int n = -1;
    assert_int_equal(store_reap_stale_runs(s, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(store_run_end(s, my_run, "complete", &err), 0);
    store_close(s);
}

static void test_13_reaper_rules(void **state)
{
    (void)state;
    char path[256], sql[1024], host[256] = "", boot[64] = "", uuid[CB_UUID_LEN];
    cb_err err = {{0}};
    plat_info p;
    int64_t pid = 0, mine = 0;
    db_path(path, sizeof path, "reaper.db");
    store *s = open_ok(path);
    fill_platform(&p, "fp-reap", "Model X");
    assert_int_equal(store_platform_put(s, &p, NULL, &pid, &err), 0);
    store_run_info info = run_info(pid, "reaper", "rev");
    assert_int_equal(store_run_begin(s, &info, uuid, &mine, &err), 0);
    store_close(s);

    gethostname(host, sizeof host);
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    assert_non_null(f);
    assert_non_null(fgets(boot, sizeof boot, f));
    fclose(f);
    boot[strcspn(boot, "\n")] = '\0';
    pid_t dead = fork(); /* a pid that is surely gone once waited for */
    if (dead == 0)
        _exit(0);
    assert_int_equal(waitpid(dead, NULL, 0), dead);

    /* (uuid, host, boot, pid, proc_start) -> expected status after reaping */
    struct { const char *uuid, *host, *boot; long pid; long long start; const char *after; } rows[] = {
        {"00000000-0000-4000-8000-000000000001", host, "another-boot", (long)getpid(), 0, "interrupted"},
        {"00000000-0000-4000-8000-000000000002", host, boot, (long)dead, 0, "interrupted"},
        {"00000000-0000-4000-8000-000000000003", host, boot, (long)getpid(), 1, "interrupted"},
        {"00000000-0000-4000-8000-000000000004", "elsewhere", "x", (long)dead, 0, "running"},
        {"00000000-0000-4000-8000-000000000005", host, boot, (long)getppid(), 0, "running"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        snprintf(sql, sizeof sql,
                 "INSERT INTO run (uuid, experiment, platform_id, started_at, status, host,"
                 " boot_id, pid, proc_start) VALUES ('%s', 'reaper', %lld,"
                 " '2024-01-01T00:00:00.000Z', 'running', '%s', '%s', %ld, %s)",
                 rows[i].uuid, (long long)pid, rows[i].host, rows[i].boot, rows[i].pid,
                 rows[i].start ? "1" : "NULL");
        raw_exec(path, sql);
    }
    s = open_ok(path); /* reaps the three stale ones of this host */
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        json_t *run = store_run_json(s, rows[i].uuid, &err);
        assert_non_null(run);
        if (strcmp(jstr(run, "status"), rows[i].after) != 0)
            fail_msg("row %zu: %s, expected %s", i, jstr(run, "status"), rows[i].after);
        if (strcmp(rows[i].after, "interrupted") == 0) /* no measurement: ended = started */
            assert_string_equal(jstr(run, "ended_at"), "2024-01-01T00:00:00.000Z");
        json_decref(run);
    }
    json_t *run = store_run_json(s, uuid, &err);
    assert_string_equal(jstr(run, "status"), "running"); /* this very process's */
    json_decref(run);
    int n = -1;
    assert_int_equal(store_reap_stale_runs(s, &n, &err), 0);
    assert_int_equal(n, 0);
    store_close(s);
}

static void test_14_check_verdicts(void **state)
{
    (void)state;
    char path[256], verdict[128], expect[64];
    cb_err err = {{0}};
    int ok = -1, version = -1;
    db_path(path, sizeof path, "check.db");
    store *s = open_ok(path);
    assert_int_equal(store_check(s, &ok, verdict, sizeof verdict, &version, &err), 0);
    assert_int_equal(ok, 1);
    assert_int_equal(version, store_schema_version());
    snprintf(expect, sizeof expect, "ok (schema %d)", store_schema_version());
    assert_string_equal(verdict, expect);
    store_close(s);

    /* a dangling row slipped in by a connection without foreign keys */
    raw_exec(path, "PRAGMA foreign_keys = OFF;"
                   "INSERT INTO sample (measurement_id, rep, seconds) VALUES (4242, 0, 1.0)");
    s = open_ok(path);
    assert_int_equal(store_check(s, &ok, verdict, sizeof verdict, NULL, &err), 0);
    assert_int_equal(ok, 0);
    assert_non_null(strstr(verdict, "1 foreign key violation, first in table sample"));
    /* a small verdict buffer is cut, never overrun */
    char tiny[8];
    assert_int_equal(store_check(s, &ok, tiny, sizeof tiny, NULL, &err), 0);
    assert_int_equal(strlen(tiny), 7);
    store_close(s);
}

/* Builds a database with runs of two experiments for the JSON readers. */
static void make_json_fixture(store *s, int64_t *pid, char uuids[5][CB_UUID_LEN])
{
    cb_err err = {{0}};
    plat_info p;
    int64_t rid = 0, mid = 0;
    static const char *const exps[5] = {"alpha", "alpha", "alpha", "beta", "beta"};
    static const char *const ends[5] = {"complete", "complete", NULL, "interrupted", "failed"};
    fill_platform(&p, "fp-json", "Model J");
    assert_int_equal(store_platform_put(s, &p, "<topology/>", pid, &err), 0);
    assert_int_equal(store_probe_put(s, *pid, "triad_gbps", 4, 20.0, &err), 0);
    assert_int_equal(store_probe_put(s, *pid, "fma_gflops", 4, 80.0, &err), 0);
    for (int k = 0; k < 5; k++) {
        store_run_info info = run_info(*pid, exps[k], "rev");
        assert_int_equal(store_run_begin(s, &info, uuids[k], &rid, &err), 0);
        meas_result r;
        fill_result(&r, 4, 0.001 * (k + 1));
        store_measurement m = measurement(&r, "h");
        m.flops = 2e6;
        assert_int_equal(store_measurement_put(s, rid, &m, &mid, &err), 0);
        free(r.samples_s);
        if (ends[k])
            assert_int_equal(store_run_end(s, rid, ends[k], &err), 0);
    }
}

static void test_15_json_readers(void **state)
{
    (void)state;
    char path[256], uuids[5][CB_UUID_LEN];
    cb_err err = {{0}};
    int64_t pid = 0;
    db_path(path, sizeof path, "json.db");
    store *s = open_ok(path);
    make_json_fixture(s, &pid, uuids);

    /* the list: newest first, every key */
    json_t *runs = store_runs_json(s, NULL, &err);
    assert_non_null(runs);
    assert_int_equal(json_array_size(runs), 5);
    json_t *first = json_array_get(runs, 0);
    assert_string_equal(jstr(first, "uuid"), uuids[4]);
    static const char *const keys[] = {"id", "uuid", "experiment", "scale", "status",
                                       "started", "ended", "started_at", "ended_at",
                                       "fingerprint", "revision", "dirty", "n_measurements",
                                       "origin", "platform_id", "host"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!json_object_get(first, keys[i]))
            fail_msg("runs: no key %s", keys[i]);
    assert_string_equal(jstr(first, "fingerprint"), "fp-json");
    assert_string_equal(jstr(first, "status"), "failed");
    assert_string_equal(jstr(json_array_get(runs, 4), "uuid"), uuids[0]);
    json_decref(runs);
    runs = store_runs_json(s, "alpha", &err);
    assert_int_equal(json_array_size(runs), 3);
    json_decref(runs);
    runs = store_runs_json(s, "gamma", &err);
    assert_non_null(runs);
    assert_int_equal(json_array_size(runs), 0);
    json_decref(runs);

    /* one run by a unique prefix (either case) */
    char prefix[16];
    snprintf(prefix, sizeof prefix, "%.8s", uuids[1]);
    for (char *c = prefix; *c; c++)
        if (*c >= 'a' && *c <= 'f')
            *c = (char)(*c - 'a' + 'A');
    json_t *run = store_run_json(s, prefix, &err);
    if (!run)
        fail_msg("%s", err.msg);
    assert_string_equal(jstr(run, "uuid"), uuids[1]);
    assert_string_equal(jstr(json_object_get(run, "platform"), "fingerprint"), "fp-json");
    assert_int_equal(json_array_size(json_object_get(run, "measurements")), 1);
    json_decref(run);
    /* not found and ambiguous name what was asked for */
    assert_null(store_run_json(s, "zzzz", &err));
    assert_non_null(strstr(err.msg, "run zzzz: not found"));
    assert_null(store_run_json(s, "", &err));
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO run (uuid, experiment, platform_id, started_at, ended_at, status)"
             " VALUES ('abcd0000-0000-4000-8000-000000000000', 'x', %lld, '2020', '2020', 'complete'),"
             " ('abcd1111-0000-4000-8000-000000000000', 'x', %lld, '2020', '2020', 'complete')",
             (long long)pid, (long long)pid);
    store_close(s);
    raw_exec(path, sql);
    s = open_ok(path);
    assert_null(store_run_json(s, "abcd", &err));
    assert_non_null(strstr(err.msg, "run abcd: ambiguous"));
    run = store_run_json(s, "abcd1", &err);
    assert_non_null(run);
    json_decref(run);

    /* latest complete-or-interrupted run per experiment and platform */
    json_t *latest = store_latest_runs_json(s, NULL, &err);
    assert_non_null(latest);
    assert_int_equal(json_array_size(latest), 3); /* alpha, beta, x */
    json_t *a = find_run(latest, uuids[1]), *b = find_run(latest, uuids[3]);
    assert_non_null(a); /* not uuids[2]: still running */
    assert_non_null(b); /* not uuids[4]: failed */
    assert_non_null(find_run(latest, "abcd1111-0000-4000-8000-000000000000")); /* id breaks the tie */
    json_t *chain = json_object_get(a, "runs");
    assert_int_equal(json_array_size(chain), 1);
    assert_string_equal(jstr(json_array_get(chain, 0), "uuid"), uuids[1]);
    assert_string_equal(jstr(json_array_get(chain, 0), "status"), "complete");
    json_t *plat = json_object_get(a, "platform");
    assert_int_equal(json_array_size(json_object_get(plat, "probes")), 2);
    assert_true(json_real_value(json_object_get(plat, "peak_gbps")) == 20.0);
    assert_true(json_real_value(json_object_get(plat, "peak_gflops")) == 80.0);
    assert_null(json_object_get(plat, "topology_xml")); /* kept out of reports */
    json_t *m = json_array_get(json_object_get(a, "measurements"), 0);
    assert_true(fabs(json_real_value(json_object_get(m, "gflops")) -
                     2e6 / json_real_value(json_object_get(m, "median_s")) / 1e9) < 1e-9);
    assert_true(fabs(json_real_value(json_object_get(m, "intensity")) - 2.0) < 1e-12);
    assert_true(json_real_value(json_object_get(m, "roofline_gflops")) == 40.0);
    assert_int_equal(json_array_size(json_object_get(m, "samples")), 4);
    assert_int_equal(json_array_size(json_object_get(m, "counters")), 2);
    json_decref(latest);
    latest = store_latest_runs_json(s, "beta", &err);
    assert_int_equal(json_array_size(latest), 1);
    json_decref(latest);

    /* a platform with its probes */
    json_t *pj = store_platform_json(s, pid, &err);
    assert_non_null(pj);
    assert_int_equal(json_array_size(json_object_get(pj, "probes")), 2);
    assert_string_equal(jstr(json_array_get(json_object_get(pj, "probes"), 0), "kind"),
                        "triad_gbps");
    json_decref(pj);
    assert_null(store_platform_json(s, pid + 7, &err));
    assert_non_null(strstr(err.msg, "not found"));
    store_close(s);
}

/* Stores one measurement of point hash (median base seconds) in run rid. */
static void put_point(store *s, int64_t rid, const char *hash, double base)
{
    cb_err err = {{0}};
    meas_result r;
    fill_result(&r, 3, base);
    store_measurement m = measurement(&r, hash);
    if (store_measurement_put(s, rid, &m, NULL, &err) != 0)
        fail_msg("%s", err.msg);
    free(r.samples_s);
}

static void test_16_latest_spans_resumed_runs(void **state)
{
    (void)state;
    char path[256], a[CB_UUID_LEN], b[CB_UUID_LEN], c[CB_UUID_LEN], d[CB_UUID_LEN];
    cb_err err = {{0}};
    plat_info p;
    int64_t pid = 0, ra = 0, rb = 0, rc = 0, rd = 0;
    store *s = open_ok(db_path(path, sizeof path, "resumed.db"));
    fill_platform(&p, "fp-chain", "Model C");
    assert_int_equal(store_platform_put(s, &p, NULL, &pid, &err), 0);
    store_run_info info = run_info(pid, "sweep", "rev-1");
    store_run_info old_rev = run_info(pid, "sweep", "rev-0");

    /* an older revision's run: another identity, never mixed in */
    assert_int_equal(store_run_begin(s, &old_rev, c, &rc, &err), 0);
    put_point(s, rc, "p4", 0.9);
    assert_int_equal(store_run_end(s, rc, "complete", &err), 0);
    /* run A measures p1 and p2, then is interrupted */
    assert_int_equal(store_run_begin(s, &info, a, &ra, &err), 0);
    put_point(s, ra, "p1", 0.001);
    put_point(s, ra, "p2", 0.002);
    assert_int_equal(store_run_end(s, ra, "interrupted", &err), 0);
    /* run B resumes: p3, and p2 again (say, with --force on that point) */
    assert_int_equal(store_run_begin(s, &info, b, &rb, &err), 0);
    put_point(s, rb, "p3", 0.003);
    put_point(s, rb, "p2", 0.004);
    assert_int_equal(store_run_end(s, rb, "complete", &err), 0);
    /* run D is still running: neither the anchor nor part of the results */
    assert_int_equal(store_run_begin(s, &info, d, &rd, &err), 0);
    put_point(s, rd, "p1", 0.5);

    json_t *latest = store_latest_runs_json(s, "sweep", &err);
    assert_non_null(latest);
    assert_int_equal(json_array_size(latest), 1);
    json_t *g = json_array_get(latest, 0);
    assert_string_equal(jstr(g, "uuid"), b); /* the anchor is the latest run */
    assert_string_equal(jstr(g, "revision"), "rev-1");
    json_t *runs = json_object_get(g, "runs");
    assert_int_equal(json_array_size(runs), 2);
    assert_string_equal(jstr(json_array_get(runs, 0), "uuid"), b);
    assert_string_equal(jstr(json_array_get(runs, 1), "uuid"), a);
    assert_string_equal(jstr(json_array_get(runs, 1), "status"), "interrupted");
    json_t *ms = json_object_get(g, "measurements");
    assert_int_equal(json_array_size(ms), 3);
    size_t i;
    json_t *m;
    json_array_foreach(ms, i, m) {
        const char *h = jstr(m, "params_hash");
        double median = json_real_value(json_object_get(m, "median_s"));
        if (strcmp(h, "p1") == 0) {
            assert_string_equal(jstr(m, "run_uuid"), a);
            assert_true(fabs(median - 0.001001) < 1e-12);
        } else if (strcmp(h, "p2") == 0) { /* the newest measurement of the point */
            assert_string_equal(jstr(m, "run_uuid"), b);
            assert_true(fabs(median - 0.004001) < 1e-12);
        } else {
            assert_string_equal(h, "p3");
            assert_string_equal(jstr(m, "run_uuid"), b);
        }
    }
    json_decref(latest);
    /* store_run_json stays one run's own measurements */
    json_t *run = store_run_json(s, b, &err);
    assert_int_equal(json_array_size(json_object_get(run, "measurements")), 2);
    assert_null(json_object_get(run, "runs"));
    json_decref(run);
    assert_int_equal(store_run_end(s, rd, "complete", &err), 0);
    /* now D is the anchor: p1 from D, p2 and p3 from B, and the chain is D, B */
    latest = store_latest_runs_json(s, NULL, &err);
    assert_int_equal(json_array_size(latest), 1);
    g = json_array_get(latest, 0);
    assert_string_equal(jstr(g, "uuid"), d);
    assert_int_equal(json_array_size(json_object_get(g, "measurements")), 3);
    assert_int_equal(json_array_size(json_object_get(g, "runs")), 2);
    json_decref(latest);
    store_close(s);
}

/* Drops from a run object the keys that differ between databases by design. */
static void strip_local_keys(json_t *run)
{
    size_t i;
    json_t *m;
    json_object_del(run, "id");
    json_object_del(run, "platform_id");
    json_object_del(run, "origin");
    json_object_del(json_object_get(run, "platform"), "id");
    json_object_del(json_object_get(run, "platform"), "topology_xml");
    json_array_foreach(json_object_get(run, "measurements"), i, m)
        json_object_del(m, "id");
}

static void test_17_import_round_trip(void **state)
{
    (void)state;
    char src[256], dst[256], done_uuid[CB_UUID_LEN], live_uuid[CB_UUID_LEN];
    cb_err err = {{0}};
    plat_info p;
    int64_t pid = 0, rid = 0, live = 0, mid = 0;
    int imported = -1;
    store *s = open_ok(db_path(src, sizeof src, "export.db"));
    fill_platform(&p, "fp-export", "Model E");
    assert_int_equal(store_platform_put(s, &p, "<topology id='e'/>", &pid, &err), 0);
    assert_int_equal(store_probe_put(s, pid, "triad_gbps", 2, 12.5, &err), 0);
    assert_int_equal(store_probe_put(s, pid, "fma_gflops", 2, 64.0, &err), 0);
    store_run_info info = run_info(pid, "export", "rev-x");
    info.seed = UINT64_MAX - 1;
    assert_int_equal(store_run_begin(s, &info, done_uuid, &rid, &err), 0);
    for (int k = 0; k < 2; k++) {
        meas_result r;
        fill_result(&r, 5, 0.01 * (k + 1));
        store_measurement m = measurement(&r, k ? "e2" : "e1");
        assert_int_equal(store_measurement_put(s, rid, &m, &mid, &err), 0);
        free(r.samples_s);
        assert_int_equal(store_breakdown_put(s, mid, "attention", 0.004, &err), 0);
        assert_int_equal(store_metric_put(s, rid, mid, "cosine", 0.999, NULL, 0, &err), 0);
    }
    assert_int_equal(store_metric_put(s, rid, 0, "speedup", 1.7, "x", 1, &err), 0);
    assert_int_equal(store_run_end(s, rid, "complete", &err), 0);
    assert_int_equal(store_run_begin(s, &info, live_uuid, &live, &err), 0); /* left running */
    json_t *done_run = store_run_json(s, done_uuid, &err);
    json_t *live_run = store_run_json(s, live_uuid, &err);
    json_t *plat = store_platform_json(s, pid, &err);
    assert_non_null(done_run);
    assert_non_null(live_run);
    assert_non_null(plat);
    /* an archive carries the topology with the platform */
    json_object_set(json_object_get(done_run, "platform"), "topology_xml",
                    json_object_get(plat, "topology_xml"));
    /* importing into the database it came from changes nothing */
    assert_int_equal(store_run_import(s, done_run, "again", &imported, &err), 0);
    assert_int_equal(imported, 0);
    store_close(s);

    s = open_ok(db_path(dst, sizeof dst, "import.db"));
    /* a malformed run is refused, naming the field, and leaves nothing */
    json_t *bad = json_deep_copy(done_run);
    json_object_del(json_array_get(json_object_get(bad, "measurements"), 1), "subject");
    assert_int_equal(store_run_import(s, bad, NULL, &imported, &err), -1);
    assert_non_null(strstr(err.msg, "measurements[1]"));
    assert_non_null(strstr(err.msg, "subject"));
    json_object_set_new(bad, "uuid", json_integer(5));
    assert_int_equal(store_run_import(s, bad, NULL, &imported, &err), -1);
    json_decref(bad);
    json_t *runs = store_runs_json(s, NULL, &err);
    assert_int_equal(json_array_size(runs), 0);
    json_decref(runs);

    assert_int_equal(store_run_import(s, done_run, "archive:test.tar", &imported, &err), 0);
    assert_int_equal(imported, 1);
    assert_int_equal(store_run_import(s, done_run, "archive:test.tar", &imported, &err), 0);
    assert_int_equal(imported, 0);
    assert_int_equal(store_run_import(s, live_run, NULL, &imported, &err), 0);
    assert_int_equal(imported, 1);

    json_t *back = store_run_json(s, done_uuid, &err);
    assert_non_null(back);
    assert_string_equal(jstr(back, "origin"), "archive:test.tar");
    assert_string_equal(jstr(back, "seed"), "18446744073709551614");
    strip_local_keys(back);
    strip_local_keys(done_run);
    if (!json_equal(back, done_run)) {
        char *a = json_dumps(done_run, JSON_SORT_KEYS), *b = json_dumps(back, JSON_SORT_KEYS);
        fail_msg("round trip differs:\n%s\n%s", a, b);
    }
    json_decref(back);
    back = store_run_json(s, live_uuid, &err);
    assert_string_equal(jstr(back, "status"), "interrupted"); /* no owner here */
    assert_string_equal(jstr(back, "ended_at"), jstr(back, "started_at"));
    assert_string_equal(jstr(back, "origin"), "local");
    json_decref(back);
    /* the platform came along (ids differ between databases: find it by a run) */
    runs = store_runs_json(s, NULL, &err);
    int64_t pid2 = json_integer_value(json_object_get(json_array_get(runs, 0), "platform_id"));
    json_decref(runs);
    json_t *plat2 = store_platform_json(s, pid2, &err);
    assert_non_null(plat2);
    assert_string_equal(jstr(plat2, "topology_xml"), "<topology id='e'/>");
    assert_true(json_equal(json_object_get(plat2, "probes"), json_object_get(plat, "probes")));
    assert_true(json_real_value(json_object_get(plat2, "peak_gflops")) == 64.0);
    json_decref(plat2);
    json_decref(plat);
    json_decref(done_run);
    json_decref(live_run);
    int ok = 0;
    char verdict[64];
    assert_int_equal(store_check(s, &ok, verdict, sizeof verdict, NULL, &err), 0);
    assert_true(ok);
    store_close(s);
    assert_int_equal(raw_int(dst, "SELECT count(*) FROM sample"), 10);
    assert_int_equal(raw_int(dst, "SELECT count(*) FROM metric"), 3);
}

/* store_run_results_json: any run (not only the latest) as the results of its
 * resumption chain, for `ctxbench compare`. */
static void test_18_run_results_of_any_run(void **state)
{
    (void)state;
    char path[256], a[CB_UUID_LEN], b[CB_UUID_LEN], d[CB_UUID_LEN];
    cb_err err = {{0}};
    plat_info p;
    int64_t pid = 0, ra = 0, rb = 0, rd = 0;
    store *s = open_ok(db_path(path, sizeof path, "results.db"));
    fill_platform(&p, "fp-results", "Model R");
    assert_int_equal(store_platform_put(s, &p, NULL, &pid, &err), 0);
    store_run_info info = run_info(pid, "sweep", "rev-1");
    /* A measures p1, p2 and is interrupted; B resumes with p3 and p2 again */
    assert_int_equal(store_run_begin(s, &info, a, &ra, &err), 0);
    put_point(s, ra, "p1", 0.001);
    put_point(s, ra, "p2", 0.002);
    assert_int_equal(store_run_end(s, ra, "interrupted", &err), 0);
    assert_int_equal(store_run_begin(s, &info, b, &rb, &err), 0);
    put_point(s, rb, "p3", 0.003);
    put_point(s, rb, "p2", 0.004);
    assert_int_equal(store_run_end(s, rb, "complete", &err), 0);

    /* A, no longer the latest, stands for its own two points (B started later) */
    json_t *ja = store_run_results_json(s, a, &err);
    assert_non_null(ja);
    assert_string_equal(jstr(ja, "uuid"), a);
    assert_int_equal(json_array_size(json_object_get(ja, "measurements")), 2);
    assert_int_equal(json_array_size(json_object_get(ja, "runs")), 1);
    json_t *m = json_array_get(json_object_get(ja, "measurements"), 0);
    assert_int_equal(json_array_size(json_object_get(m, "samples")), 3); /* raw samples come along */
    json_decref(ja);

    /* B, given by a prefix, carries A's p1 as well: 3 points from 2 runs */
    char prefix[9];
    memcpy(prefix, b, 8);
    prefix[8] = '\0';
    json_t *jb = store_run_results_json(s, prefix, &err);
    assert_non_null(jb);
    assert_string_equal(jstr(jb, "uuid"), b);
    assert_int_equal(json_array_size(json_object_get(jb, "measurements")), 3);
    assert_int_equal(json_array_size(json_object_get(jb, "runs")), 2);
    json_decref(jb);

    /* a running run is refused, naming it; an unknown one too */
    assert_int_equal(store_run_begin(s, &info, d, &rd, &err), 0);
    put_point(s, rd, "p1", 0.5);
    assert_null(store_run_results_json(s, d, &err));
    assert_non_null(strstr(err.msg, "still running"));
    assert_non_null(strstr(err.msg, d));
    assert_null(store_run_results_json(s, "ffffffff", &err));
    assert_non_null(strstr(err.msg, "not found"));
    assert_int_equal(store_run_end(s, rd, "complete", &err), 0);
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_01_migrate_from_empty),
        cmocka_unit_test(test_02_reopen_does_not_remigrate),
        cmocka_unit_test(test_03_newer_database_refused),
        cmocka_unit_test(test_04_garbage_file_refused),
        cmocka_unit_test(test_05_platform_upsert_idempotent),
        cmocka_unit_test(test_06_probe_and_peaks),
        cmocka_unit_test(test_07_run_lifecycle),
        cmocka_unit_test(test_08_measurement_round_trip),
        cmocka_unit_test(test_09_point_done),
        cmocka_unit_test(test_10_failed_put_leaves_nothing),
        cmocka_unit_test(test_11_two_concurrent_writers),
        cmocka_unit_test(test_12_killed_run_is_interrupted),
        cmocka_unit_test(test_13_reaper_rules),
        cmocka_unit_test(test_14_check_verdicts),
        cmocka_unit_test(test_15_json_readers),
        cmocka_unit_test(test_16_latest_spans_resumed_runs),
        cmocka_unit_test(test_17_import_round_trip),
        cmocka_unit_test(test_18_run_results_of_any_run),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
