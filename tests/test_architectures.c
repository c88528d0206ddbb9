/* tests/test_architectures.c — the "models" runner and the architectures
 * report section end to end: a tiny-model version of
 * experiments/architectures.ini run by the real `ctxbench` binary
 * ($CTXBENCH_BIN, set by `make test`) into a temporary database, then the
 * stored points, breakdowns and metrics read back through the store, and
 * the report section rendered from the database; plus the sweep filters,
 * the shipped experiment files' expansion, and a bad model name refused
 * with its file and line. */
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

#include <jansson.h>

#include "db/store.h"
#include "models/catalogue.h"
#include "models/checkpoint.h"
#include "models/lm.h"
#include "reports/report.h"

static char tmpdir[64];
static char db_path[128];
static const char *bin;

static const char *const tiny_models[] = {"tiny-transformer", "tiny-mamba1", "tiny-mamba2",
                                          "tiny-hybrid"};
enum { N_TINY = 4, N_CONTEXTS = 3, N_PHASES = 2, GEN = 4 };

/* Runs a shell command, captures stdout+stderr into out (cap bytes); returns
 * the exit status. */
static int sh(char *out, size_t cap, const char *fmt, ...)
{
    char cmd[2048], full[2200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void expect_in(const char *haystack, const char *needle)
{
    if (!strstr(haystack, needle))
        fail_msg("expected '%s' in:\n%s", needle, haystack);
}

/* Writes text to tmpdir/name and puts the path in path. */
static void write_ini(const char *name, const char *text, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static const char tiny_ini[] =
    "; the architectures experiment on tiny models\n"
    "[experiment]\n"
    "name = tiny_architectures\n"
    "runner = models\n"
    "repetitions = 2\n"
    "warmups = 1\n"
    "min_time = 0\n"
    "max_time = 5\n"
    "[sweep]\n"
    "model = tiny-transformer, tiny-mamba1, tiny-mamba2, tiny-hybrid\n"
    "context = 8, 16, 32\n"
    "phase = prefill, decode\n"
    "gen = 4\n"
    "wtype = f32\n"
    "threads = 1\n";

static int setup(void **state)
{
    (void)state;
    bin = getenv("CTXBENCH_BIN");
    if (!bin)
        bin = "bin/ctxbench";
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ctxbench-arch-XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(db_path, sizeof db_path, "%s/results.db", tmpdir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char out[256];
    sh(out, sizeof out, "rm -rf %s", tmpdir);
    return 0;
}

/* The latest run group of an experiment in the test database (caller decrefs). */
static json_t *latest_group(const char *experiment)
{
    cb_err err = {{0}};
    store *s = NULL;
    if (store_open(db_path, &s, &err) != 0)
        fail_msg("%s", err.msg);
    json_t *groups = store_latest_runs_json(s, experiment, &err);
    store_close(s);
    if (!groups)
        fail_msg("%s", err.msg);
    assert_int_equal(json_array_size(groups), 1);
    json_t *g = json_incref(json_array_get(groups, 0));
    json_decref(groups);
    return g;
}

static double metric_of(const json_t *m, const char *name)
{
    size_t i;
    const json_t *x;
    json_array_foreach(json_object_get(m, "metrics"), i, x)
        if (strcmp(json_string_value(json_object_get(x, "name")), name) == 0)
            return json_number_value(json_object_get(x, "value"));
    return NAN;
}

static int has_class(const json_t *m, const char *op_class)
{
    size_t i;
    const json_t *x;
    json_array_foreach(json_object_get(m, "breakdown"), i, x)
        if (strcmp(json_string_value(json_object_get(x, "op_class")), op_class) == 0)
            return json_number_value(json_object_get(x, "seconds")) > 0;
    return 0;
}

static model_config config_of(const char *model, int max_context)
{
    model_config c;
    cb_err err = {{0}};
    if (catalogue_config(model, OP_W_F32, max_context, &c, &err) != 0)
        fail_msg("%s", err.msg);
    return c;
}

static void test_01_run_every_point(void **state)
{
    (void)state;
    static char out[16384];
    char ini[128];
    write_ini("tiny_architectures.ini", tiny_ini, ini, sizeof ini);
    assert_int_equal(sh(out, sizeof out, "%s run %s --db %s", bin, ini, db_path), 0);
    expect_in(out, "24 of 24 points measured now, 0 measured before");
    /* Resumption keys on the points: nothing is measured twice. */
    assert_int_equal(sh(out, sizeof out, "%s run %s --db %s", bin, ini, db_path), 0);
    expect_in(out, "all 24 points already measured");
}

static void test_02_points_and_breakdowns(void **state)
{
    (void)state;
    json_t *g = latest_group("tiny_architectures");
    const json_t *ms = json_object_get(g, "measurements");
    assert_int_equal(json_array_size(ms), N_TINY * N_CONTEXTS * N_PHASES);
    int seen[N_TINY] = {0};
    size_t i;
    const json_t *m;
    json_array_foreach(ms, i, m) {
        const char *model = json_string_value(json_object_get(m, "subject"));
        const char *phase = json_string_value(json_object_get(m, "phase"));
        assert_string_equal(json_string_value(json_object_get(m, "impl")), "f32");
        assert_true(!strcmp(phase, "prefill") || !strcmp(phase, "decode"));
        /* gen is part of a decode point only */
        int has_gen = json_object_get(json_object_get(m, "params"), "gen") != NULL;
        assert_int_equal(has_gen, strcmp(phase, "decode") == 0);
        int k = 0;
        while (k < N_TINY && strcmp(tiny_models[k], model))
            k++;
        assert_true(k < N_TINY);
        seen[k]++;
        model_arch arch = config_of(model, 64).arch;
        int attention = arch == MODEL_ARCH_TRANSFORMER || arch == MODEL_ARCH_HYBRID;
        int scan = arch != MODEL_ARCH_TRANSFORMER;
        if (!has_class(m, "gemm") || has_class(m, "attention") != attention ||
            has_class(m, "ssm_scan") != scan || has_class(m, "conv") != scan)
            fail_msg("%s %s: breakdown classes do not fit the architecture: %s", model, phase,
                     json_dumps(json_object_get(m, "breakdown"), JSON_COMPACT));
        /* The classes are times inside one repetition: their sum cannot
         * exceed the slowest repetition by more than timer noise. */
        double sum = 0;
        size_t j;
        const json_t *b;
        json_array_foreach(json_object_get(m, "breakdown"), j, b)
            sum += json_number_value(json_object_get(b, "seconds"));
        assert_true(sum <= 1.05 * json_number_value(json_object_get(m, "max_s")) + 1e-5);
    }
    for (int k = 0; k < N_TINY; k++)
        assert_int_equal(seen[k], N_CONTEXTS * N_PHASES);
    json_decref(g);
}

static void test_03_memory_and_rate_metrics(void **state)
{
    (void)state;
    json_t *g = latest_group("tiny_architectures");
    size_t i;
    const json_t *m;
    json_array_foreach(json_object_get(g, "measurements"), i, m) {
        const char *model = json_string_value(json_object_get(m, "subject"));
        int decode = strcmp(json_string_value(json_object_get(m, "phase")), "decode") == 0;
        long context = (long)json_integer_value(json_object_get(json_object_get(m, "params"),
                                                                "context"));
        long held = context + (decode ? GEN : 0);
        model_config c = config_of(model, (int)context + GEN);
        double kv = metric_of(m, "mem_kv_cache_bytes"), median = json_number_value(
                                                             json_object_get(m, "median_s"));
        assert_true(kv == (double)lm_kv_bytes(&c, held));
        if (c.arch == MODEL_ARCH_MAMBA1 || c.arch == MODEL_ARCH_MAMBA2) {
            assert_true(kv == 0);
            assert_true(metric_of(m, "mem_state_bytes") > 0);
        } else {
            assert_true(kv > 0);
        }
        assert_true(metric_of(m, "mem_weights_bytes") == (double)lm_weight_bytes(&c));
        assert_true(metric_of(m, "params") == (double)lm_param_count(&c));
        assert_true(metric_of(m, "mem_scratch_bytes") > 0);
        if (decode) {
            assert_true(fabs(metric_of(m, "tpot_s") - median / GEN) <= 1e-9 * median);
            assert_true(metric_of(m, "restore_s") >= 0);
            assert_true(metric_of(m, "weight_bytes_per_s") > 0);
            assert_true(isnan(metric_of(m, "ttft_s")));
        } else {
            assert_true(metric_of(m, "ttft_s") == median);
            assert_true(fabs(metric_of(m, "tokens_per_s") - context / median) <= 1e-9 * context / median);
            assert_true(isnan(metric_of(m, "restore_s")));
        }
        /* The cost estimates are filled in. */
        assert_true(json_number_value(json_object_get(m, "flops")) > 0);
        assert_true(json_number_value(json_object_get(m, "bytes")) > 0);
    }
    /* The KV cache grows with the context for the models with attention. */
    double kv8 = NAN, kv32 = NAN;
    json_array_foreach(json_object_get(g, "measurements"), i, m) {
        const json_t *p = json_object_get(m, "params");
        if (strcmp(json_string_value(json_object_get(p, "model")), "tiny-hybrid") ||
            strcmp(json_string_value(json_object_get(p, "phase")), "prefill"))
            continue;
        long context = (long)json_integer_value(json_object_get(p, "context"));
        if (context == 8)
            kv8 = metric_of(m, "mem_kv_cache_bytes");
        if (context == 32)
            kv32 = metric_of(m, "mem_kv_cache_bytes");
    }
    assert_true(kv32 == 4 * kv8 && kv8 > 0);
    json_decref(g);
}

/* The report section of the tiny run, from the database. */
static char *render_report(const char *experiment)
{
    cb_err err = {{0}};
    store *s = NULL;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    if (store_open(db_path, &s, &err) != 0 || report_markdown(s, experiment, f, &err) != 0)
        fail_msg("%s", err.msg);
    store_close(s);
    assert_int_equal(fclose(f), 0);
    return text;
}

static void test_04_report_section(void **state)
{
    (void)state;
    char *md = render_report("tiny_architectures");
    expect_in(md, "### Whole models against context length (f32 weights, 1 thread)");
    expect_in(md, "#### Time to first token (TTFT, prefill) against context (f32, 1 thread)");
    expect_in(md, "#### Time per output token (TPOT, decode) against context (f32, 1 thread)");
    expect_in(md, "| context | tiny-transformer | tiny-mamba1 | tiny-mamba2 | tiny-hybrid |");
    expect_in(md, "| 32 |");
    expect_in(md, "#### Where each SSM or hybrid overtakes the Transformer");
    expect_in(md, "| tiny-mamba1 | prefill (TTFT) |");
    expect_in(md, "| tiny-hybrid | decode (TPOT) |");
    expect_in(md, "#### Memory at context 32");
    expect_in(md, "#### The SSM scan's share of latency");
    expect_in(md, "- tiny-mamba2, prefill:");
    expect_in(md, "| model | phase | context | gemm | attention | ssm_scan |");
    /* The paper's figures are quoted and labelled as the paper's. */
    expect_in(md, "The paper's figures (seed 001");
    expect_in(md, "quoted, not measured here");
    expect_in(md, "Transformers up to 1.9x faster below 8K tokens, SSMs up to 4x faster near "
                  "57K tokens, about 64% less memory, SSM scan above 55% of latency");
    /* One weight type and thread count: no weight-type tables. */
    assert_null(strstr(md, "Weight storage types"));
    free(md);
}

static void test_05_weight_types_and_filters(void **state)
{
    (void)state;
    static char out[16384];
    char ini[128];
    write_ini("tiny_weights.ini",
              "[experiment]\nname = tiny_weights\nrunner = models\nrepetitions = 2\n"
              "warmups = 0\nmin_time = 0\nmax_time = 5\n"
              "[sweep]\nmodel = tiny-transformer, tiny-mamba1\ncontext = 8, 32\n"
              "phase = prefill, decode\ngen = 4\nwtype = f32, bf16, f16\nthreads = 1\n"
              "decode_max_context = 8\nprefill_min_context = 32\n",
              ini, sizeof ini);
    /* Decode at 8 and prefill at 32 only: 2 models x 3 types x 2 points. */
    assert_int_equal(sh(out, sizeof out, "%s run %s --dry-run", bin, ini), 0);
    expect_in(out, "12 points");
    expect_in(out, "12 point(s) left out as not applicable");
    /* (listed points are indented; the note quotes one left-out point) */
    assert_null(strstr(out, "  {\"context\":32,\"gen\""));
    assert_null(strstr(out, "  {\"context\":8,\"model\""));
    assert_int_equal(sh(out, sizeof out, "%s run %s --db %s", bin, ini, db_path), 0);
    expect_in(out, "12 of 12 points measured now");
    char *md = render_report("tiny_weights");
    expect_in(md, "### Weight storage types against the platform's ceilings");
    expect_in(md, "#### Decode: weight bytes streamed per second");
    expect_in(md, "#### Prefill: GFLOP/s (estimated FLOPs over the measured median)");
    expect_in(md, "| tiny-mamba1 | bf16 | 8 |");
    expect_in(md, "| tiny-transformer | f16 | 32 |");
    /* One context per phase: no comparison across context length. */
    assert_null(strstr(md, "Whole models against context length"));
    free(md);
}

static void test_06_shipped_experiments_expand(void **state)
{
    (void)state;
    static char out[65536];
    /* Full scale: 4 models x 10 contexts (256..131072) x 2 phases, less the
     * two models with attention layers at 131072. */
    assert_int_equal(sh(out, sizeof out, "%s run experiments/architectures.ini --scale full "
                                         "--dry-run", bin), 0);
    expect_in(out, "architectures (full scale, runner models): 76 points");
    expect_in(out, "4 point(s) left out as not applicable");
    expect_in(out, "{\"context\":131072,\"gen\":256,\"model\":\"mamba-130m\"");
    assert_null(strstr(out, "  {\"context\":131072,\"gen\":256,\"model\":\"transformer-130m\""));
    assert_int_equal(sh(out, sizeof out, "%s run experiments/architectures.ini --dry-run", bin), 0);
    expect_in(out, "architectures (quick scale, runner models): 24 points");
    assert_int_equal(sh(out, sizeof out, "%s run experiments/weights_dtype.ini --dry-run", bin), 0);
    expect_in(out, "weights_dtype (quick scale, runner models):");
    expect_in(out, "{\"context\":256,\"gen\":8,\"model\":\"mamba-130m\",\"phase\":\"decode\"");
    expect_in(out, "{\"context\":2048,\"model\":\"transformer-130m\",\"phase\":\"prefill\"");
    assert_null(strstr(out, "  {\"context\":256,\"model\""));
}

static void test_07_unknown_model_names_file_and_line(void **state)
{
    (void)state;
    static char out[8192];
    char ini[128];
    write_ini("bad_model.ini",
              "[experiment]\nname = bad_model\nrunner = models\n[sweep]\n"
              "model = tiny-mamba1, nosuch\ncontext = 8\n",
              ini, sizeof ini);
    assert_int_not_equal(sh(out, sizeof out, "%s run %s --db %s", bin, ini, db_path), 0);
    expect_in(out, "ctxbench: ");
    expect_in(out, "bad_model.ini:5");
    expect_in(out, "nosuch");
    /* Nothing was written for it. */
    assert_int_equal(sh(out, sizeof out, "%s db runs --db %s", bin, db_path), 0);
    assert_null(strstr(out, "bad_model"));
}

/* A checkpoint named by `weights` but not in the cache stops the point with
 * the command that fetches it; one of another shape is refused by name. */
static void test_08_checkpoint_weights(void **state)
{
    (void)state;
    static char out[8192];
    char ini[128];
    write_ini("ckpt.ini",
              "[experiment]\nname = ckpt\nrunner = models\nrepetitions = 1\nwarmups = 0\n"
              "[sweep]\nmodel = mamba-130m\ncontext = 8\nweights = mamba-130m-hf\n",
              ini, sizeof ini);
    assert_int_not_equal(sh(out, sizeof out, "CTXBENCH_CACHE=%s/empty-cache %s run %s --db %s",
                            tmpdir, bin, ini, db_path),
                         0);
    expect_in(out, "weights = mamba-130m-hf: not in the cache");
    expect_in(out, "make fetch MODELS=mamba-130m-hf");
    /* A cached checkpoint of another shape: a tiny Transformer saved as
     * smollm2-135m, asked for as transformer-130m. */
    model_config c = model_config_tiny();
    lm_weights w;
    cb_err err = {{0}};
    char dir[512];
    snprintf(dir, sizeof dir, "%s/cache/smollm2-135m", tmpdir);
    assert_int_equal(lm_weights_synth(&c, 1, &w, &err), 0);
    if (ckpt_save(dir, &c, &w, ST_F32, 1, &err) != 0)
        fail_msg("%s", err.msg);
    lm_weights_free(&w);
    write_ini("ckpt2.ini",
              "[experiment]\nname = ckpt2\nrunner = models\nrepetitions = 1\nwarmups = 0\n"
              "[sweep]\nmodel = transformer-130m\ncontext = 8\nweights = smollm2-135m\n",
              ini, sizeof ini);
    assert_int_not_equal(sh(out, sizeof out, "CTXBENCH_CACHE=%s/cache %s run %s --db %s", tmpdir,
                            bin, ini, db_path),
                         0);
    expect_in(out, "weights = smollm2-135m: a transformer of d_model 64");
    expect_in(out, "is not shaped like the model named");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_01_run_every_point),
        cmocka_unit_test(test_02_points_and_breakdowns),
        cmocka_unit_test(test_03_memory_and_rate_metrics),
        cmocka_unit_test(test_04_report_section),
        cmocka_unit_test(test_05_weight_types_and_filters),
        cmocka_unit_test(test_06_shipped_experiments_expand),
        cmocka_unit_test(test_07_unknown_model_names_file_and_line),
        cmocka_unit_test(test_08_checkpoint_weights),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
