/* tests/test_architectures.c — the "models" runner and the architectures
 * report section end to end: a tiny-model version of
 * experiments/architectures.ini run by the real `ctxbench` binary
 * ($CTXBENCH_BIN, set by `make test`) into a temporary database, then the
 * stored points, breakdowns and metrics read back through the store, and
 * the report section rendered from the database; plus the sweep filters,
 * the shipped experiment files' expansion, and a bad model name refused
 * with its file and line; checkpoints named by `weights` (not cached, of
 * another shape: safetensors and a GGUF written here, as the real
 * checkpoint's file in a temporary cache) and their pairing with the
 * catalogue model of their shape. */
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
#include "models/gguf.h"
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
    expect_in(md, "| context | tiny-transformer (synthetic) | tiny-mamba1 (synthetic) | "
                  "tiny-mamba2 (synthetic) | tiny-hybrid (synthetic) |");
    expect_in(md, "Every row runs synthetic weights");
    assert_null(strstr(md, "(real:"));
    expect_in(md, "| 32 |");
    expect_in(md, "#### Where each SSM or hybrid overtakes the Transformer");
    expect_in(md, "| tiny-mamba1 (synthetic) | prefill (TTFT) |");
    expect_in(md, "| tiny-hybrid (synthetic) | decode (TPOT) |");
    expect_in(md, "overtakes tiny-transformer (synthetic) at context");
    expect_in(md, "#### Memory at context 32");
    expect_in(md, "#### The SSM scan's share of latency");
    expect_in(md, "- tiny-mamba2 (synthetic), prefill:");
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
    expect_in(md, "| tiny-mamba1 (synthetic) | bf16 | 8 |");
    expect_in(md, "| tiny-transformer (synthetic) | f16 | 32 |");
    /* One context per phase: no comparison across context length. */
    assert_null(strstr(md, "Whole models against context length"));
    free(md);
}

static void test_06_shipped_experiments_expand(void **state)
{
    (void)state;
    static char out[65536];
    /* Full scale: 5 models x 10 contexts (256..131072) x 2 phases x 2
     * weights (200); the real checkpoint pairs with smollm2-135m only (80
     * left out), and the three models with attention layers (smollm2-135m
     * twice) stop at 65536 (8 left out). */
    assert_int_equal(sh(out, sizeof out, "%s run experiments/architectures.ini --scale full "
                                         "--dry-run", bin), 0);
    expect_in(out, "architectures (full scale, runner models): 112 points");
    expect_in(out, "88 point(s) left out as not applicable");
    expect_in(out, "{\"context\":131072,\"gen\":256,\"model\":\"mamba-130m\"");
    assert_null(strstr(out, "  {\"context\":131072,\"gen\":256,\"model\":\"transformer-130m\""));
    /* Quick: 5 synthetic models and the real one, 3 contexts x 2 phases. */
    assert_int_equal(sh(out, sizeof out, "%s run experiments/architectures.ini --dry-run", bin), 0);
    expect_in(out, "architectures (quick scale, runner models): 36 points");
    expect_in(out, "{\"context\":4096,\"gen\":64,\"model\":\"smollm2-135m\",\"phase\":"
                   "\"decode\",\"seed\":1,\"threads\":");
    /* The real checkpoint's 6 points are all smollm2-135m's. */
    int real = 0;
    for (const char *line = out; (line = strstr(line, "\n  {")) != NULL; line++) {
        const char *end = strchr(line + 1, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char buf[512];
        snprintf(buf, sizeof buf, "%.*s", (int)(len < sizeof buf ? len : sizeof buf - 1), line);
        if (strstr(buf, "\"weights\":\"smollm2-135m-instruct-q4_1\"")) {
            expect_in(buf, "\"model\":\"smollm2-135m\"");
            real++;
        }
    }
    assert_int_equal(real, 6);
    expect_in(out, "24 point(s) left out as not applicable");
    expect_in(out, "is a checkpoint of smollm2-135m's shape, not");
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
     * smollm2-135m, asked for as smollm2-135m. */
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
              "[sweep]\nmodel = smollm2-135m\ncontext = 8\nweights = smollm2-135m\n",
              ini, sizeof ini);
    assert_int_not_equal(sh(out, sizeof out, "CTXBENCH_CACHE=%s/cache %s run %s --db %s", tmpdir,
                            bin, ini, db_path),
                         0);
    expect_in(out, "weights = smollm2-135m: a transformer of d_model 64");
    expect_in(out, "is not shaped like the model named (transformer, d_model 576, 30 layers");
}

/* ---- a GGUF checkpoint ------------------------------------------------------------- */

#define G_MAX_T 32

/* Writes a llama GGUF of config c (F32 tensors, all zero: only shapes
 * matter here) at path. */
static void write_tiny_gguf(const char *path, const model_config *c)
{
    static char names[G_MAX_T][48];
    gguf_tensor ts[G_MAX_T];
    int64_t d = c->d_model, q = (int64_t)c->n_heads * c->head_dim;
    int64_t kv = (int64_t)c->n_kv_heads * c->head_dim, f = c->ffn_dim;
    const struct {
        const char *name;
        int64_t ne0, ne1;
    } per_layer[] = {{"attn_norm.weight", d, 0}, {"attn_q.weight", d, q},
                     {"attn_k.weight", d, kv},   {"attn_v.weight", d, kv},
                     {"attn_output.weight", q, d}, {"ffn_norm.weight", d, 0},
                     {"ffn_gate.weight", d, f},  {"ffn_up.weight", d, f},
                     {"ffn_down.weight", f, d}};
    int n = 0;
    size_t most = (size_t)(d * c->vocab);
    float *zeros = calloc(most > (size_t)(f * d) ? most : (size_t)(f * d), sizeof *zeros);
    assert_non_null(zeros);
    for (int t = -1; t <= c->n_layers * 9; t++) {
        gguf_tensor *g = &ts[n];
        memset(g, 0, sizeof *g);
        int64_t ne0 = d, ne1 = c->vocab;
        if (t == -1) {
            snprintf(names[n], sizeof names[n], "token_embd.weight");
        } else if (t == c->n_layers * 9) {
            snprintf(names[n], sizeof names[n], "output_norm.weight");
            ne1 = 0;
        } else {
            snprintf(names[n], sizeof names[n], "blk.%d.%s", t / 9, per_layer[t % 9].name);
            ne0 = per_layer[t % 9].ne0, ne1 = per_layer[t % 9].ne1;
        }
        assert_true(n < G_MAX_T);
        g->name = names[n];
        g->n_dims = ne1 ? 2 : 1;
        g->ne[0] = ne0, g->ne[1] = ne1 ? ne1 : 1, g->ne[2] = g->ne[3] = 1;
        g->type = GGUF_T_F32;
        g->nelems = (uint64_t)(g->ne[0] * g->ne[1]);
        g->nbytes = 4 * g->nelems;
        g->data = zeros;
        n++;
    }
    static const char *const u32_keys[] = {"llama.block_count", "llama.embedding_length",
                                           "llama.feed_forward_length",
                                           "llama.attention.head_count",
                                           "llama.attention.head_count_kv"};
    const int u32_vals[] = {c->n_layers, c->d_model, c->ffn_dim, c->n_heads, c->n_kv_heads};
    gguf_kv kvs[8];
    memset(kvs, 0, sizeof kvs);
    kvs[0].key = "general.architecture";
    kvs[0].val.type = GGUF_STR;
    kvs[0].val.str = (gguf_str){"llama", 5};
    for (int i = 0; i < 5; i++) {
        kvs[1 + i].key = u32_keys[i];
        kvs[1 + i].val.type = GGUF_U32;
        kvs[1 + i].val.u64 = (uint64_t)u32_vals[i];
    }
    kvs[6].key = "llama.attention.layer_norm_rms_epsilon";
    kvs[6].val.type = GGUF_F32;
    kvs[6].val.f64 = c->rms_eps;
    kvs[7].key = "llama.rope.freq_base";
    kvs[7].val.type = GGUF_F32;
    kvs[7].val.f64 = c->rope_theta;
    cb_err err = {{0}};
    int rc = gguf_write(path, 3, kvs, 8, ts, (size_t)n, &err);
    free(zeros);
    if (rc != 0)
        fail_msg("gguf_write: %s", err.msg);
}

/* The real checkpoint's manifest entry is a GGUF: the runner reads the
 * cached file with the GGUF loader (here a tiny llama written under the
 * manifest's path in a temporary cache) and refuses it for smollm2-135m by
 * its shape, naming both; the checkpoint goes to smollm2-135m only. */
static void test_09_gguf_checkpoint(void **state)
{
    (void)state;
    static char out[8192];
    char ini[128], path[512];
    snprintf(path, sizeof path, "%s/gcache/smollm2-135m-instruct-q4_1", tmpdir);
    assert_int_equal(sh(out, sizeof out, "mkdir -p %s", path), 0);
    snprintf(path, sizeof path,
             "%s/gcache/smollm2-135m-instruct-q4_1/SmolLM2-135M-Instruct.Q4_1.gguf", tmpdir);
    model_config c = model_config_tiny();
    write_tiny_gguf(path, &c);
    write_ini("gguf.ini",
              "[experiment]\nname = gguf_ckpt\nrunner = models\nrepetitions = 1\n"
              "warmups = 0\n[sweep]\nmodel = smollm2-135m, tiny-transformer\ncontext = 8\n"
              "weights = smollm2-135m-instruct-q4_1\n",
              ini, sizeof ini);
    /* Paired with smollm2-135m only: tiny-transformer's point is left out. */
    assert_int_equal(sh(out, sizeof out, "%s run %s --dry-run", bin, ini), 0);
    expect_in(out, "1 points");
    expect_in(out, "weights = smollm2-135m-instruct-q4_1 is a checkpoint of smollm2-135m's "
                   "shape, not tiny-transformer");
    assert_int_not_equal(sh(out, sizeof out, "CTXBENCH_CACHE=%s/gcache %s run %s --db %s",
                            tmpdir, bin, ini, db_path),
                         0);
    assert_null(strstr(out, "safetensors only"));
    expect_in(out, "weights = smollm2-135m-instruct-q4_1: a transformer of d_model 64, 2 layers, "
                   "vocab 97 is not shaped like the model named (transformer, d_model 576, 30 "
                   "layers, vocab 49152)");
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
        cmocka_unit_test(test_09_gguf_checkpoint),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
