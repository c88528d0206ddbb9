/* tests/test_archive.c — result archives (db/archive.c, db/archive_manifest.c,
 * store_runs_import).
 *
 * A small database is built with the store API (two platforms, three runs with
 * samples, counters, breakdowns and metrics), exported, and imported into
 * empty databases; tampered copies of the archive are made by reading its
 * members with libarchive and writing them back changed.  Everything lives in
 * one mkdtemp folder under /tmp, removed at the end.  Raw SQLite is used only
 * to count rows behind the store's back. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>
#include <sqlite3.h>

#include "db/archive.h"
#include "db/store.h"
#include "reports/report.h"

static char g_dir[64];
static char g_src[256];      /* the source database */
static char g_arc[256];      /* its export */
static char g_uuids[3][CB_UUID_LEN];

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static const char *tpath(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", g_dir, name);
    return buf;
}

static store *open_ok(const char *path)
{
    store *s = NULL;
    cb_err err = {{0}};
    if (store_open(path, &s, &err) != 0)
        fail_msg("store_open: %s", err.msg);
    return s;
}

static long long raw_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long long v = -1;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* Row counts of every table, as one string, to see that nothing changed. */
static void counts(const char *db, char *out, size_t cap)
{
    static const char *const tables[] = {"platform", "probe", "run", "measurement", "sample",
                                         "counter", "breakdown", "metric"};
    size_t o = 0;
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        char sql[64];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", tables[i]);
        o += (size_t)snprintf(out + o, cap - o, "%s=%lld ", tables[i], raw_int(db, sql));
    }
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
    p->n_caches = 1;
    p->caches[0] = (plat_cache){.level = 1, .type = "data", .size_bytes = 32768, .line_bytes = 64,
                                .instances = 4};
    snprintf(p->isa, sizeof p->isa, "avx2 fma");
    snprintf(p->simd_best, sizeof p->simd_best, "avx2");
    p->mem_bytes = 16ull << 30;
    snprintf(p->os, sizeof p->os, "Linux");
    snprintf(p->fingerprint, sizeof p->fingerprint, "%s", fingerprint);
}

/* One run of experiment exp with n measurements (each 7 samples, two
 * counters, a breakdown of two classes and a metric) and a run metric. */
static void make_run(store *s, int64_t pid, const char *exp, const char *config, int n,
                     char uuid[CB_UUID_LEN])
{
    cb_err err = {{0}};
    int64_t rid = 0, mid = 0;
    char hash[CB_SHA256_HEX_LEN];
    cb_sha256_hex(config, strlen(config), hash);
    store_run_info info = {.experiment = exp, .config_path = "experiments/x.ini",
                           .config_text = config, .config_hash = hash, .scale = "quick",
                           .platform_id = pid, .revision = "rev-a", .compiler = "gcc",
                           .cflags = "-O2", .seed = 7};
    assert_int_equal(store_run_begin(s, &info, uuid, &rid, &err), 0);
    for (int k = 0; k < n; k++) {
        meas_result r;
        double samples[7];
        memset(&r, 0, sizeof r);
        for (int i = 0; i < 7; i++)
            samples[i] = 0.001 * (k + 1) + 1e-6 * i;
        r.samples_s = samples;
        r.n = 7;
        r.stats = (meas_stats){.n = 7, .median = samples[3], .mean = samples[3], .stddev = 2e-6,
                               .min = samples[0], .max = samples[6], .p05 = samples[0],
                               .p95 = samples[6], .ci_lo = samples[2], .ci_hi = samples[4]};
        r.counters[CTR_CYCLES] = (ctr_value){.name = "cycles", .unit = "count", .supported = 1,
                                              .per_rep = 1000.0 * (k + 1)};
        r.counters[CTR_INSTRUCTIONS] = (ctr_value){.name = "instructions", .unit = "count",
                                                    .reason = "not here"};
        char params[64], phash[CB_SHA256_HEX_LEN];
        snprintf(params, sizeof params, "{\"n\":%d}", 64 << k);
        cb_sha256_hex(params, strlen(params), phash);
        store_measurement m = {.subject = "gemm", .impl = "builtin", .phase = "prefill",
                               .params_json = params, .params_hash = phash, .threads = 2,
                               .result = &r, .flops = 2e6 * (k + 1), .bytes = 1e5, .state_bytes = -1};
        assert_int_equal(store_measurement_put(s, rid, &m, &mid, &err), 0);
        assert_int_equal(store_breakdown_put(s, mid, "matmul", 0.0008, &err), 0);
        assert_int_equal(store_breakdown_put(s, mid, "norm", 0.0001, &err), 0);
        assert_int_equal(store_metric_put(s, rid, mid, "cosine", 0.9999, NULL, 0, &err), 0);
    }
    assert_int_equal(store_metric_put(s, rid, 0, "speedup", 1.5, "x", 1, &err), 0);
    assert_int_equal(store_run_end(s, rid, "complete", &err), 0);
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/ctxbench-archive-XXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    store *s = open_ok(tpath(g_src, sizeof g_src, "src.db"));
    cb_err err = {{0}};
    plat_info p;
    int64_t p1 = 0, p2 = 0;
    fill_platform(&p, "fp-one", "Model One");
    if (store_platform_put(s, &p, "<topology id='one'/>", &p1, &err) != 0 ||
        store_probe_put(s, p1, "triad_gbps", 1, 20.0, &err) != 0 ||
        store_probe_put(s, p1, "fma_gflops", 1, 100.0, &err) != 0)
        return -1;
    fill_platform(&p, "fp two/odd name", "Model Two"); /* not a safe file name */
    if (store_platform_put(s, &p, NULL, &p2, &err) != 0)
        return -1;
    make_run(s, p1, "gemm", "[experiment]\nname = gemm\n", 3, g_uuids[0]);
    make_run(s, p1, "gemm", "[experiment]\nname = gemm\n# changed\n", 2, g_uuids[1]);
    make_run(s, p2, "decode", "[experiment]\nname = decode\n", 1, g_uuids[2]);
    if (dbarc_export(s, NULL, tpath(g_arc, sizeof g_arc, "out/all.tar.zst"), NULL, &err) != 0) {
        fprintf(stderr, "export: %s\n", err.msg);
        store_close(s);
        return -1;
    }
    store_close(s);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    return nftw(g_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- rewriting an archive -------------------------------------------------------- */

typedef struct member {
    char *path;
    char *data;
    size_t len;
    mode_t type;
    char *link;
} member;

typedef struct members {
    member m[64];
    size_t n;
} members;

static void read_members(const char *path, members *out)
{
    struct archive *a = archive_read_new();
    struct archive_entry *e;
    archive_read_support_format_tar(a);
    archive_read_support_filter_zstd(a);
    assert_int_equal(archive_read_open_filename(a, path, 65536), ARCHIVE_OK);
    out->n = 0;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        member *m = &out->m[out->n++];
        m->path = strdup(archive_entry_pathname(e));
        m->len = (size_t)archive_entry_size(e);
        m->data = malloc(m->len + 1);
        m->type = AE_IFREG;
        m->link = NULL;
        assert_int_equal(archive_read_data(a, m->data, m->len), (la_ssize_t)m->len);
        m->data[m->len] = '\0';
    }
    archive_read_free(a);
}

static void write_members(const char *path, const members *in)
{
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    archive_write_add_filter_zstd(a);
    assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
    for (size_t i = 0; i < in->n; i++) {
        const member *m = &in->m[i];
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, m->path);
        archive_entry_set_filetype(e, m->type);
        archive_entry_set_perm(e, 0644);
        if (m->link)
            archive_entry_set_symlink(e, m->link);
        archive_entry_set_size(e, m->type == AE_IFREG ? (la_int64_t)m->len : 0);
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        if (m->type == AE_IFREG && m->len)
            assert_int_equal(archive_write_data(a, m->data, m->len), (la_ssize_t)m->len);
        archive_entry_free(e);
    }
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
}

static void free_members(members *ms)
{
    for (size_t i = 0; i < ms->n; i++) {
        free(ms->m[i].path);
        free(ms->m[i].data);
    }
    ms->n = 0;
}

static member *find_member(members *ms, const char *prefix)
{
    for (size_t i = 0; i < ms->n; i++)
        if (strncmp(ms->m[i].path, prefix, strlen(prefix)) == 0)
            return &ms->m[i];
    fail_msg("no member %s", prefix);
    return NULL;
}

/* Replaces manifest.json by the result of edit (a jansson edit of it). */
static void edit_manifest(members *ms, void (*edit)(json_t *))
{
    member *m = find_member(ms, "manifest.json");
    json_t *j = json_loadb(m->data, m->len, 0, NULL);
    assert_non_null(j);
    edit(j);
    free(m->data);
    m->data = json_dumps(j, JSON_INDENT(2));
    m->len = strlen(m->data);
    json_decref(j);
}

/* Imports path into a fresh database named db (or the given one) and expects
 * a refusal mentioning every string of want; the database's rows stay as
 * they were. */
static void import_refused(const char *arc, const char *dbname, const char *want1, const char *want2)
{
    char db[256], before[512], after[512];
    store *s = open_ok(tpath(db, sizeof db, dbname));
    counts(db, before, sizeof before);
    cb_err err = {{0}};
    dbarc_import_result r;
    if (dbarc_import(s, arc, NULL, &r, &err) == 0)
        fail_msg("%s: imported, should have been refused", arc);
    store_close(s);
    if (!strstr(err.msg, want1) || (want2 && !strstr(err.msg, want2)))
        fail_msg("message \"%s\" should say \"%s\" and \"%s\"", err.msg, want1, want2 ? want2 : "");
    counts(db, after, sizeof after);
    assert_string_equal(before, after);
}

/* ---- cases ------------------------------------------------------------------------ */

static void strip_local(json_t *run)
{
    size_t i;
    json_t *m;
    json_object_del(run, "id");
    json_object_del(run, "platform_id");
    json_object_del(run, "origin");
    json_object_del(json_object_get(run, "platform"), "id");
    json_array_foreach(json_object_get(run, "measurements"), i, m)
        json_object_del(m, "id");
}

static void test_01_round_trip(void **state)
{
    (void)state;
    char dst[256], hex[CB_SHA256_HEX_LEN];
    cb_err err = {{0}};
    dbarc_import_result r;
    store *d = open_ok(tpath(dst, sizeof dst, "rt.db"));
    if (dbarc_import(d, g_arc, NULL, &r, &err) != 0)
        fail_msg("import: %s", err.msg);
    assert_int_equal(r.n_runs, 3);
    assert_int_equal(r.n_imported, 3);
    assert_int_equal(unpack_sha256_file(g_arc, hex, &err), 0);
    assert_string_equal(r.sha256, hex);
    store *s = open_ok(g_src);
    for (int k = 0; k < 3; k++) {
        json_t *a = store_run_json(s, g_uuids[k], &err), *b = store_run_json(d, g_uuids[k], &err);
        assert_non_null(a);
        assert_non_null(b);
        char origin[600];
        snprintf(origin, sizeof origin, "archive:all.tar.zst sha256:%s", hex);
        assert_string_equal(json_string_value(json_object_get(b, "origin")), origin);
        strip_local(a);
        strip_local(b);
        if (!json_equal(a, b)) {
            char *x = json_dumps(a, JSON_SORT_KEYS), *y = json_dumps(b, JSON_SORT_KEYS);
            fail_msg("run %d differs:\n%s\n%s", k, x, y);
        }
        json_decref(a);
        json_decref(b);
    }
    store_close(d);
    /* same row counts: samples, counters, breakdowns, metrics all came */
    char c1[512], c2[512];
    counts(g_src, c1, sizeof c1);
    counts(dst, c2, sizeof c2);
    assert_string_equal(c1, c2);
    assert_int_equal(raw_int(dst, "SELECT count(*) FROM sample"), 6 * 7);
    assert_int_equal(raw_int(dst, "SELECT count(*) FROM breakdown"), 6 * 2);
    /* the topology travelled with the platform */
    assert_int_equal(raw_int(dst, "SELECT count(*) FROM platform WHERE topology_xml = "
                                  "'<topology id=''one''/>'"), 1);
    /* and the report is the same, byte for byte */
    char *t1 = NULL, *t2 = NULL;
    size_t n1 = 0, n2 = 0;
    FILE *f1 = open_memstream(&t1, &n1), *f2 = open_memstream(&t2, &n2);
    d = open_ok(dst);
    assert_int_equal(report_markdown(s, NULL, f1, &err), 0);
    assert_int_equal(report_markdown(d, NULL, f2, &err), 0);
    fclose(f1);
    fclose(f2);
    assert_true(n1 > 200);
    assert_string_equal(t1, t2);
    free(t1);
    free(t2);
    store_close(d);
    store_close(s);
}

static void test_02_import_twice_adds_nothing(void **state)
{
    (void)state;
    char dst[256], c1[512], c2[512];
    cb_err err = {{0}};
    dbarc_import_result r;
    store *d = open_ok(tpath(dst, sizeof dst, "twice.db"));
    assert_int_equal(dbarc_import(d, g_arc, NULL, &r, &err), 0);
    counts(dst, c1, sizeof c1);
    assert_int_equal(dbarc_import(d, g_arc, NULL, &r, &err), 0);
    assert_int_equal(r.n_imported, 0);
    counts(dst, c2, sizeof c2);
    assert_string_equal(c1, c2);
    store_close(d);
    /* and into the database it came from: nothing either */
    counts(g_src, c1, sizeof c1);
    d = open_ok(g_src);
    assert_int_equal(dbarc_import(d, g_arc, NULL, &r, &err), 0);
    assert_int_equal(r.n_imported, 0);
    store_close(d);
    counts(g_src, c2, sizeof c2);
    assert_string_equal(c1, c2);
}

static void test_03_manifest_contents(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    cb_err err = {{0}};
    dbarc_manifest *m = NULL;
    assert_int_equal(unpack_read_member(g_arc, "manifest.json", 1 << 20, NULL, &text, &len, &err), 0);
    assert_int_equal(dbarc_manifest_parse(text, len, &m, &err), 0);
    assert_int_equal(m->format_version, 1);
    assert_int_equal(m->n_runs, 3);
    /* 3 runs, 2 platforms, 3 experiment files (two texts of gemm) */
    assert_int_equal(m->n_members, 8);
    assert_non_null(dbarc_manifest_member(m, "experiments/gemm.ini", NULL));
    assert_non_null(dbarc_manifest_member(m, "experiments/decode.ini", NULL));
    assert_non_null(dbarc_manifest_member(m, "platforms/fp-one.json", NULL));
    for (size_t i = 0; i < m->n_runs; i++) {
        assert_non_null(m->runs[i].platform_file);
        assert_non_null(m->runs[i].experiment_file);
    }
    dbarc_manifest_free(m);
    free(text);
}

static void test_04_export_selection(void **state)
{
    (void)state;
    char out[256];
    cb_err err = {{0}};
    size_t n = 0;
    store *s = open_ok(g_src);
    dbarc_export_opts o = {.experiment = "decode"};
    assert_int_equal(dbarc_export(s, &o, tpath(out, sizeof out, "decode.tar.zst"), &n, &err), 0);
    assert_int_equal(n, 1);
    const char *one[] = {g_uuids[0], g_uuids[0]};
    dbarc_export_opts o2 = {.runs = one, .n_runs = 2, .experiment = "decode"};
    assert_int_equal(dbarc_export(s, &o2, tpath(out, sizeof out, "two.tar.zst"), &n, &err), 0);
    assert_int_equal(n, 2);
    dbarc_export_opts o3 = {.experiment = "nothing"};
    assert_int_equal(dbarc_export(s, &o3, tpath(out, sizeof out, "none.tar.zst"), &n, &err), -1);
    assert_non_null(strstr(err.msg, "nothing"));
    struct stat st;
    assert_int_equal(stat(out, &st), -1); /* no archive left behind */
    store_close(s);
}

static void test_05_tampered_member(void **state)
{
    (void)state;
    char arc[256];
    members ms;
    read_members(g_arc, &ms);
    member *m = find_member(&ms, "runs/");
    m->data[m->len / 2] ^= 1; /* one bit, nothing else fixed */
    write_members(tpath(arc, sizeof arc, "tampered.tar.zst"), &ms);
    import_refused(arc, "tampered.db", m->path, "sha256");
    /* a database with runs already in it stays as it was too */
    import_refused(arc, "src.db", m->path, "sha256");
    free_members(&ms);
}

static void version_2(json_t *j) { json_object_set_new(j, "format_version", json_integer(2)); }
static void no_created(json_t *j) { json_object_del(j, "created_at"); }
static void no_run_uuid(json_t *j)
{
    json_object_del(json_array_get(json_object_get(j, "runs"), 1), "uuid");
}
static void bad_sha(json_t *j)
{
    json_object_set_new(json_array_get(json_object_get(j, "members"), 0), "sha256",
                        json_string("XYZ"));
}

static void test_06_manifest_refusals(void **state)
{
    (void)state;
    static const struct {
        void (*edit)(json_t *);
        const char *want1, *want2;
    } cases[] = {
        {version_2, "format_version", "unknown version 2"},
        {no_created, "created_at", "missing"},
        {no_run_uuid, "runs[1].uuid", "missing"},
        {bad_sha, "members[0].sha256", "hex"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char arc[256], name[64];
        members ms;
        read_members(g_arc, &ms);
        edit_manifest(&ms, cases[i].edit);
        snprintf(name, sizeof name, "manifest-%zu.tar.zst", i);
        write_members(tpath(arc, sizeof arc, name), &ms);
        import_refused(arc, "manifest.db", cases[i].want1, cases[i].want2);
        free_members(&ms);
    }
    /* not JSON at all */
    char arc[256];
    members ms;
    read_members(g_arc, &ms);
    member *m = find_member(&ms, "manifest.json");
    m->data[0] = '[';
    write_members(tpath(arc, sizeof arc, "manifest-garbage.tar.zst"), &ms);
    import_refused(arc, "manifest.db", "manifest.json", NULL);
    free_members(&ms);
}

static void test_07_unlisted_and_missing_members(void **state)
{
    (void)state;
    char arc[256];
    members ms;
    read_members(g_arc, &ms);
    ms.m[ms.n++] = (member){.path = strdup("extra.txt"), .data = strdup("surprise"), .len = 8,
                            .type = AE_IFREG};
    write_members(tpath(arc, sizeof arc, "extra.tar.zst"), &ms);
    import_refused(arc, "extra.db", "extra.txt", "not listed");
    free_members(&ms);

    read_members(g_arc, &ms);
    member *m = find_member(&ms, "experiments/decode.ini");
    free(m->path);
    free(m->data);
    *m = ms.m[--ms.n]; /* dropped */
    write_members(tpath(arc, sizeof arc, "missing.tar.zst"), &ms);
    import_refused(arc, "extra.db", "experiments/decode.ini", "not in the archive");
    free_members(&ms);
}

/* Swaps size and sha256 of the members of the first two runs in the manifest. */
static void swap_runs(json_t *j)
{
    json_t *mem, *x = NULL, *y = NULL;
    size_t i;
    char p0[64], p1[64];
    snprintf(p0, sizeof p0, "runs/%s.json", g_uuids[0]);
    snprintf(p1, sizeof p1, "runs/%s.json", g_uuids[1]);
    json_array_foreach(json_object_get(j, "members"), i, mem) {
        const char *p = json_string_value(json_object_get(mem, "path"));
        if (strcmp(p, p0) == 0)
            x = mem;
        if (strcmp(p, p1) == 0)
            y = mem;
    }
    assert_non_null(x);
    assert_non_null(y);
    json_t *xs = json_deep_copy(x);
    json_object_set(x, "size", json_object_get(y, "size"));
    json_object_set(x, "sha256", json_object_get(y, "sha256"));
    json_object_set(y, "size", json_object_get(xs, "size"));
    json_object_set(y, "sha256", json_object_get(xs, "sha256"));
    json_decref(xs);
}

static void test_08_unsafe_entries(void **state)
{
    (void)state;
    char arc[256];
    members ms;
    read_members(g_arc, &ms);
    ms.m[ms.n++] = (member){.path = strdup("runs/link"), .data = strdup(""), .type = AE_IFLNK,
                            .link = "/etc/passwd"};
    write_members(tpath(arc, sizeof arc, "link.tar.zst"), &ms);
    import_refused(arc, "unsafe.db", "runs/link", "symbolic link");
    free_members(&ms);

    read_members(g_arc, &ms);
    ms.m[ms.n++] = (member){.path = strdup("../escape.json"), .data = strdup("{}"), .len = 2,
                            .type = AE_IFREG};
    write_members(tpath(arc, sizeof arc, "escape.tar.zst"), &ms);
    import_refused(arc, "unsafe.db", "../escape.json", "..");
    free_members(&ms);

    /* two run files swapped, sizes and checksums swapped to match: every
     * member verifies, but the uuid inside no longer matches the manifest */
    read_members(g_arc, &ms);
    edit_manifest(&ms, swap_runs);
    char p0[64], p1[64];
    snprintf(p0, sizeof p0, "runs/%s", g_uuids[0]);
    snprintf(p1, sizeof p1, "runs/%s", g_uuids[1]);
    member *a = find_member(&ms, p0), *b = find_member(&ms, p1), t = *a;
    a->data = b->data;
    a->len = b->len;
    b->data = t.data;
    b->len = t.len;
    write_members(tpath(arc, sizeof arc, "swapped.tar.zst"), &ms);
    import_refused(arc, "unsafe.db", "differs from the manifest", "runs/");
    free_members(&ms);
}

static void test_09_not_an_archive(void **state)
{
    (void)state;
    char path[256];
    FILE *f = fopen(tpath(path, sizeof path, "junk.tar.zst"), "wb");
    assert_non_null(f);
    fputs("this is not an archive at all", f);
    fclose(f);
    import_refused(path, "junk.db", "junk.tar.zst", NULL);
    import_refused(tpath(path, sizeof path, "absent.tar.zst"), "junk.db", "absent.tar.zst", NULL);
}

static void test_10_runs_import_one_transaction(void **state)
{
    (void)state;
    char db[256], c1[512], c2[512];
    cb_err err = {{0}};
    store *s = open_ok(g_src);
    json_t *runs = json_array();
    json_array_append_new(runs, store_run_json(s, g_uuids[0], &err));
    json_t *bad = store_run_json(s, g_uuids[2], &err);
    json_object_del(json_array_get(json_object_get(bad, "measurements"), 0), "phase");
    json_array_append_new(runs, bad);
    store_close(s);
    store *d = open_ok(tpath(db, sizeof db, "txn.db"));
    counts(db, c1, sizeof c1);
    int n = -1;
    assert_int_equal(store_runs_import(d, runs, "test", &n, &err), -1);
    assert_non_null(strstr(err.msg, g_uuids[2]));
    assert_non_null(strstr(err.msg, "phase"));
    counts(db, c2, sizeof c2);
    assert_string_equal(c1, c2); /* the good first run did not stay either */
    json_array_remove(runs, 1);
    assert_int_equal(store_runs_import(d, runs, "test", &n, &err), 0);
    assert_int_equal(n, 1);
    store_close(d);
    json_decref(runs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_01_round_trip),
        cmocka_unit_test(test_02_import_twice_adds_nothing),
        cmocka_unit_test(test_03_manifest_contents),
        cmocka_unit_test(test_04_export_selection),
        cmocka_unit_test(test_05_tampered_member),
        cmocka_unit_test(test_06_manifest_refusals),
        cmocka_unit_test(test_07_unlisted_and_missing_members),
        cmocka_unit_test(test_08_unsafe_entries),
        cmocka_unit_test(test_09_not_an_archive),
        cmocka_unit_test(test_10_runs_import_one_transaction),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
