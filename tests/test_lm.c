/* tests/test_lm.c — the common model interface (models/lm.h) and the model
 * catalogue (models/catalogue.h).
 *
 * Catalogue: every entry passes model_config_check once max_context is set;
 * the parameter counts of the released shapes match their published
 * counts (within 1%) and the exact element sums worked out in
 * catalogue.c; the matched Transformer and hybrid are within 10% of the
 * Mamba models they are matched to; an unknown name is refused with the
 * known names listed.
 *
 * Interface, for each tiny architecture (Transformer, Mamba-1, Mamba-2,
 * hybrid) on the live pool: decode after a prefill of t tokens against a
 * prefill of t + 1; lm_forward_ref against lm_prefill's logits_all;
 * snapshots (restore then the same decodes give identical logits; another
 * model's snapshot, or one whose KV positions were overwritten, is
 * refused); seeded sampling over lm_decode; the memory split; the
 * breakdown; weights of the wrong architecture refused.
 *
 * Tolerance (LOGIT_TOL): |a - b| <= LOGIT_TOL x (max |b| over the row + 1e-3)
 * per logit, as in test_transformer.c and test_mamba1.c: decode runs the
 * step kernels where prefill runs the block kernels (flash attention, the
 * scans' prefill forms), and the references sum in double. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/catalogue.h"
#include "models/lm.h"
#include "models/sample.h"
#include "tests/support/live_pool.h"
#include "tests/support/model_check.h"

#define LOGIT_TOL 1e-5
#define SEED 20261207u
#define MAX_PREFILL 40
#define VOCAB_TINY 97

static const char *const tiny_names[] = {"tiny-transformer", "tiny-mamba1", "tiny-mamba2",
                                         "tiny-hybrid"};
enum { N_TINY = 4 };

static model_config tiny_config(int i)
{
    model_config c;
    cb_err err = {{0}};
    if (catalogue_config(tiny_names[i], OP_W_F32, 64, &c, &err) != 0)
        fail_msg("catalogue_config %s: %s", tiny_names[i], err.msg);
    return c;
}

static lm *make_lm(const model_config *c, uint64_t seed)
{
    lm_weights w;
    cb_err err = {{0}};
    lm *m = NULL;
    if (lm_weights_synth(c, seed, &w, &err) != 0)
        fail_msg("lm_weights_synth (%s): %s", model_arch_name(c->arch), err.msg);
    if (lm_create(c, &w, MAX_PREFILL, &m, &err) != 0)
        fail_msg("lm_create (%s): %s", model_arch_name(c->arch), err.msg);
    return m;
}

static int has_attention(model_arch a)
{
    return a == MODEL_ARCH_TRANSFORMER || a == MODEL_ARCH_HYBRID;
}

/* ---- catalogue --------------------------------------------------------------------- */

/* Every entry passes the config check with a max_context (f32 and bf16);
 * without one the entries with attention layers are refused; the tiny
 * entries are model.h's tiny configs. */
static void test_01_catalogue_entries_check(void **state)
{
    (void)state;
    int n;
    const catalogue_entry *e = catalogue_entries(&n);
    assert_int_equal(n, 11);
    cb_err err = {{0}};
    for (int i = 0; i < n; i++) {
        model_config c;
        assert_int_equal(e[i].cfg.max_context, 0);
        assert_int_equal(e[i].cfg.wtype, OP_W_F32);
        assert_non_null(e[i].description);
        assert_ptr_equal(catalogue_find(e[i].name), &e[i]);
        if (catalogue_config(e[i].name, OP_W_F32, 4096, &c, &err) != 0)
            fail_msg("%s: %s", e[i].name, err.msg);
        assert_int_equal(c.max_context, 4096);
        assert_int_equal(catalogue_config(e[i].name, OP_W_BF16, 2048, &c, &err), 0);
        assert_int_equal(c.wtype, OP_W_BF16);
        int rc = catalogue_config(e[i].name, OP_W_F32, 0, &c, &err);
        if (has_attention(e[i].cfg.arch)) {
            assert_int_equal(rc, -1);
            assert_non_null(strstr(err.msg, "max_context"));
            assert_non_null(strstr(err.msg, e[i].name));
        } else {
            assert_int_equal(rc, 0);
        }
    }
    model_config (*const makers[N_TINY])(void) = {model_config_tiny, model_config_mamba1_tiny,
                                                  model_config_mamba2_tiny,
                                                  model_config_hybrid_tiny};
    for (int i = 0; i < N_TINY; i++) {
        model_config want = makers[i](), got = catalogue_find(tiny_names[i])->cfg;
        assert_int_equal(got.arch, want.arch);
        assert_int_equal(got.d_model, want.d_model);
        assert_int_equal(got.n_layers, want.n_layers);
        assert_int_equal(got.n_heads, want.n_heads);
        assert_int_equal(got.d_state, want.d_state);
        assert_string_equal(got.pattern, want.pattern);
        want.max_context = 64, got.max_context = 64;
        assert_int_equal(lm_param_count(&got), lm_param_count(&want));
    }
    assert_null(catalogue_find("Mamba-130m")); /* case-sensitive */
    assert_null(catalogue_find(""));
}

/* Parameter counts: the released shapes against their published counts and
 * the exact sums in catalogue.c; the matched models within 10%. */
static void test_02_param_counts(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int64_t exact;     /* element sum worked out by hand (catalogue.c) */
        double published;  /* 0: none (the matched models) */
    } want[] = {
        {"mamba-130m", 129135360, 129.1e6},   /* model card: 129M */
        {"mamba2-130m", 128989632, 0},        /* card says 130M; see catalogue.c */
        {"qwen2.5-0.5b", 494032768, 0.49e9},  /* Qwen2.5 report: 0.49B */
        {"llama-3.2-1b", 1235814400, 1.24e9}, /* model card: 1.24B (1.23B elsewhere) */
        {"transformer-130m", 128287488, 0},
        {"hybrid-130m", 128815632, 0},
    };
    cb_err err = {{0}};
    int64_t count[6];
    for (int i = 0; i < 6; i++) {
        model_config c;
        assert_int_equal(catalogue_config(want[i].name, OP_W_F32, 2048, &c, &err), 0);
        count[i] = lm_param_count(&c);
        print_message("%-17s %14lld parameters\n", want[i].name, (long long)count[i]);
        assert_int_equal(count[i], want[i].exact);
        if (want[i].published > 0 &&
            !(fabs((double)count[i] - want[i].published) < 0.01 * want[i].published))
            fail_msg("%s: %lld parameters, published %.4g", want[i].name,
                     (long long)count[i], want[i].published);
    }
    double tf_vs_m1 = (double)count[4] / (double)count[0] - 1;
    double hy_vs_m2 = (double)count[5] / (double)count[1] - 1;
    print_message("transformer-130m vs mamba-130m %+.2f%%, hybrid-130m vs mamba2-130m %+.2f%%\n",
                  100 * tf_vs_m1, 100 * hy_vs_m2);
    assert_true(fabs(tf_vs_m1) < 0.10);
    assert_true(fabs(hy_vs_m2) < 0.10);
    /* The hybrid has three attention blocks: its KV cache is 3/12 of the
     * 12-layer Transformer's of the same attention shape. */
    model_config t, h;
    assert_int_equal(catalogue_config("transformer-130m", OP_W_F32, 1000, &t, &err), 0);
    assert_int_equal(catalogue_config("hybrid-130m", OP_W_F32, 1000, &h, &err), 0);
    assert_int_equal(lm_kv_bytes(&t, 1000), 2 * 12 * 4 * 64 * 1000 * sizeof(float));
    assert_int_equal(lm_kv_bytes(&h, 1000) * 4, lm_kv_bytes(&t, 1000));
    model_config m;
    assert_int_equal(catalogue_config("mamba-130m", OP_W_F32, 1000, &m, &err), 0);
    assert_int_equal(lm_kv_bytes(&m, 1000), 0);
    assert_int_equal(lm_kv_bytes(&t, 0), 0);
    /* Bytes as stored: at least 4 bytes a parameter in f32, 2 in bf16, and
     * only alignment padding beyond (64 bytes at most per tensor). */
    for (int i = 0; i < N_TINY; i++) {
        model_config c = tiny_config(i);
        size_t p = (size_t)lm_param_count(&c), b = lm_weight_bytes(&c);
        if (!(b >= 4 * p && b < 4 * p + 64 * (size_t)(12 * c.n_layers + 4)))
            fail_msg("%s: %zu weight bytes for %zu parameters", tiny_names[i], b, p);
        model_set_wtype(&c, OP_W_BF16);
        assert_true(lm_weight_bytes(&c) < b);
    }
}

/* An unknown name: an error naming it and listing every known name. */
static void test_03_unknown_name(void **state)
{
    (void)state;
    cb_err err = {{0}};
    model_config c = {0};
    c.vocab = 12345;
    assert_int_equal(catalogue_config("mamba-1b", OP_W_F32, 64, &c, &err), -1);
    assert_int_equal(c.vocab, 12345); /* untouched */
    assert_non_null(strstr(err.msg, "\"mamba-1b\""));
    int n;
    const catalogue_entry *e = catalogue_entries(&n);
    for (int i = 0; i < n; i++)
        if (!strstr(err.msg, e[i].name))
            fail_msg("the error does not list %s: %s", e[i].name, err.msg);
}

/* ---- the interface over each tiny architecture ------------------------------------- */

/* lm_decode after lm_prefill of t tokens == lm_prefill of t + 1. */
static void test_04_decode_matches_prefill(void **state)
{
    tsup_live *l = *state;
    cb_err err = {{0}};
    pool_part part;
    tsup_part_first(l, 2, &part);
    static const int ts[] = {1, 5, 16, 33};
    for (int a = 0; a < N_TINY; a++) {
        model_config c = tiny_config(a);
        lm *m = make_lm(&c, SEED + a);
        assert_int_equal(lm_config(m)->arch, c.arch);
        assert_int_equal(lm_max_prefill(m), MAX_PREFILL);
        int toks[40];
        tsup_tokens(toks, 40, c.vocab, 10 + a);
        float x[VOCAB_TINY], y[VOCAB_TINY];
        for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) {
            int t = ts[i];
            if (lm_prefill(m, l->p, &part, toks, t + 1, y, NULL, &err) != 0)
                fail_msg("%s: prefill %d: %s", tiny_names[a], t + 1, err.msg);
            assert_int_equal(lm_prefill(m, l->p, &part, toks, t, x, NULL, &err), 0);
            assert_int_equal(lm_n_pos(m), t);
            if (lm_decode(m, l->p, &part, toks[t], x, &err) != 0)
                fail_msg("%s: decode at %d: %s", tiny_names[a], t, err.msg);
            assert_int_equal(lm_n_pos(m), t + 1);
            char what[96];
            snprintf(what, sizeof what, "%s, t = %d", tiny_names[a], t);
            tsup_check_logits(what, x, y, c.vocab, LOGIT_TOL);
        }
        lm_reset(m);
        assert_int_equal(lm_n_pos(m), 0);
        lm_free(m);
    }
    lm_free(NULL);
}

/* lm_forward_ref == lm_prefill's logits_all, and the last row is logits. */
static void test_05_reference_matches_prefill(void **state)
{
    tsup_live *l = *state;
    cb_err err = {{0}};
    pool_part part;
    tsup_part_first(l, 2, &part);
    enum { N = 37 };
    for (int a = 0; a < N_TINY; a++) {
        model_config c = tiny_config(a);
        lm *m = make_lm(&c, SEED * 3 + a);
        int toks[N];
        tsup_tokens(toks, N, c.vocab, 20 + a);
        float *ref = malloc((size_t)N * c.vocab * sizeof(float));
        float *all = malloc((size_t)N * c.vocab * sizeof(float));
        float last[VOCAB_TINY];
        assert_non_null(ref), assert_non_null(all);
        if (lm_forward_ref(m, toks, N, ref, &err) != 0)
            fail_msg("%s: reference: %s", tiny_names[a], err.msg);
        assert_int_equal(lm_n_pos(m), 0); /* untouched */
        assert_int_equal(lm_prefill(m, l->p, &part, toks, N, last, all, &err), 0);
        for (int i = 0; i < N; i++) {
            char what[96];
            snprintf(what, sizeof what, "%s, position %d", tiny_names[a], i);
            tsup_check_logits(what, all + (size_t)i * c.vocab, ref + (size_t)i * c.vocab, c.vocab,
                              LOGIT_TOL);
        }
        assert_memory_equal(last, all + (size_t)(N - 1) * c.vocab, c.vocab * sizeof(float));
        free(ref), free(all);
        lm_free(m);
    }
}

/* Decodes toks[0..5) from m's position into lg (5, vocab). */
static void decode5(lm *m, tsup_live *l, const pool_part *part, const int *toks, float *lg)
{
    cb_err err = {{0}};
    int vocab = lm_config(m)->vocab;
    for (int i = 0; i < 5; i++)
        if (lm_decode(m, l->p, part, toks[i], lg + (size_t)i * vocab, &err) != 0)
            fail_msg("decode %d: %s", i, err.msg);
}

/* A snapshot after a prefill; 5 decodes; restore; the same 5 decodes give
 * identical logits (and again, from the same snapshot).  Another model's
 * snapshot is refused, and so is one whose KV positions were overwritten. */
static void test_06_snapshots(void **state)
{
    tsup_live *l = *state;
    cb_err err = {{0}};
    pool_part part;
    tsup_part_first(l, 2, &part);
    for (int a = 0; a < N_TINY; a++) {
        model_config c = tiny_config(a);
        lm *m = make_lm(&c, SEED * 5 + a), *other = make_lm(&c, SEED * 5 + a);
        int toks[30], more[5];
        tsup_tokens(toks, 30, c.vocab, 30 + a);
        tsup_tokens(more, 5, c.vocab, 40 + a);
        float first[5 * VOCAB_TINY], again[5 * VOCAB_TINY], lg[VOCAB_TINY];
        assert_int_equal(lm_prefill(m, l->p, &part, toks, 30, lg, NULL, &err), 0);
        lm_snapshot *s = NULL, *late = NULL, *theirs = NULL;
        assert_int_equal(lm_snapshot_take(m, &s, &err), 0);
        decode5(m, l, &part, more, first);
        assert_int_equal(lm_n_pos(m), 35);
        assert_int_equal(lm_snapshot_take(m, &late, &err), 0);
        for (int rep = 0; rep < 2; rep++) {
            if (lm_snapshot_restore(m, s, &err) != 0)
                fail_msg("%s: restore: %s", tiny_names[a], err.msg);
            assert_int_equal(lm_n_pos(m), 30);
            decode5(m, l, &part, more, again);
            assert_memory_equal(first, again, sizeof first);
        }
        /* The same decodes rewrote the same slots: stale for late (the
         * rewrite happened after it was taken) when there is a KV cache. */
        assert_int_equal(lm_snapshot_restore(m, s, &err), 0);
        int rc = lm_snapshot_restore(m, late, &err);
        if (has_attention(c.arch)) {
            assert_int_equal(rc, -1);
            assert_non_null(strstr(err.msg, "overwritten"));
            assert_int_equal(lm_n_pos(m), 30); /* unchanged */
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(lm_n_pos(m), 35);
        }
        /* Another model of the same config: refused. */
        assert_int_equal(lm_prefill(other, l->p, &part, toks, 30, lg, NULL, &err), 0);
        assert_int_equal(lm_snapshot_take(other, &theirs, &err), 0);
        assert_int_equal(lm_snapshot_restore(m, theirs, &err), -1);
        assert_non_null(strstr(err.msg, "another model"));
        /* A later prefill overwrites the KV positions of s. */
        assert_int_equal(lm_prefill(m, l->p, &part, toks, 3, lg, NULL, &err), 0);
        rc = lm_snapshot_restore(m, s, &err);
        assert_int_equal(rc, has_attention(c.arch) ? -1 : 0);
        if (rc == 0) {
            decode5(m, l, &part, more, again);
            assert_memory_equal(first, again, sizeof first);
        }
        lm_snapshot_free(s), lm_snapshot_free(late), lm_snapshot_free(theirs);
        lm_snapshot_free(NULL);
        lm_free(m), lm_free(other);
    }
}

/* Generates n tokens after a prefill of prompt by seeded sampling. */
static void generate(lm *m, tsup_live *l, const pool_part *part, const int *prompt, int n_prompt,
                     uint64_t seed, int *out, int n)
{
    cb_err err = {{0}};
    int vocab = lm_config(m)->vocab;
    float lg[VOCAB_TINY];
    void *scratch = malloc(sample_scratch_bytes(vocab));
    assert_non_null(scratch);
    sample_params sp = {.temperature = 0.9f, .top_k = 40, .top_p = 0.95f};
    sample_rng r = sample_rng_seed(seed);
    assert_int_equal(lm_prefill(m, l->p, part, prompt, n_prompt, lg, NULL, &err), 0);
    for (int i = 0; i < n; i++) {
        out[i] = sample_next(lg, vocab, &sp, &r, scratch);
        if (i + 1 < n && lm_decode(m, l->p, part, out[i], lg, &err) != 0)
            fail_msg("decode %d: %s", i, err.msg);
    }
    free(scratch);
}

/* Seeded sampling over lm_decode: the same 20 tokens twice with one seed. */
static void test_07_seeded_generation(void **state)
{
    tsup_live *l = *state;
    pool_part part;
    tsup_part_first(l, 2, &part);
    for (int a = 0; a < N_TINY; a++) {
        model_config c = tiny_config(a);
        lm *m = make_lm(&c, SEED * 7 + a);
        int prompt[8], x[20], y[20], z[20];
        tsup_tokens(prompt, 8, c.vocab, 50 + a);
        generate(m, l, &part, prompt, 8, 42, x, 20);
        generate(m, l, &part, prompt, 8, 42, y, 20);
        generate(m, l, &part, prompt, 8, 43, z, 20);
        assert_memory_equal(x, y, sizeof x);
        int same = memcmp(x, z, sizeof x) == 0;
        print_message("%s: seed 42 and 43 give %s sequences\n", tiny_names[a],
                      same ? "the same" : "different");
        lm_free(m);
    }
}

/* The memory split: a KV cache exactly with attention, recurrent state
 * exactly with SSM layers, the KV cache of max_context positions. */
static void test_08_memory(void **state)
{
    (void)state;
    for (int a = 0; a < N_TINY; a++) {
        model_config c = tiny_config(a);
        lm *m = make_lm(&c, SEED);
        lm_memory mem = lm_memory_use(m);
        print_message("%s: weights %zu, kv %zu, state %zu, scratch %zu\n", tiny_names[a],
                      mem.weights, mem.kv_cache, mem.state, mem.scratch);
        assert_int_equal(mem.weights, lm_weight_bytes(&c));
        assert_int_equal(mem.kv_cache > 0, has_attention(c.arch));
        assert_int_equal(mem.state > 0, c.arch != MODEL_ARCH_TRANSFORMER);
        assert_int_equal(mem.kv_cache, lm_kv_bytes(&c, c.max_context));
        assert_true(mem.scratch > 0);
        assert_int_equal(mem.total, mem.weights + mem.kv_cache + mem.state + mem.scratch);
        lm_free(m);
    }
    /* The tiny Transformer: 2 layers x 2 KV heads x 16 x 64 positions x K, V. */
    model_config c = tiny_config(0);
    assert_int_equal(lm_kv_bytes(&c, c.max_context), 2 * 2 * 2 * 16 * 64 * sizeof(float));
    /* Mamba-1: the decay table counts as state. */
    c = tiny_config(1);
    lm *m = make_lm(&c, SEED);
    size_t di = 2 * 64, layers = 4;
    assert_int_equal(lm_memory_use(m).state, layers * di * (3 + 16 + 16) * sizeof(float));
    lm_free(m);
}

/* Timing: off by default; on, a prefill and a decode accumulate runs. */
static void test_09_timing(void **state)
{
    tsup_live *l = *state;
    cb_err err = {{0}};
    pool_part part;
    tsup_part_first(l, 2, &part);
    for (int a = 0; a < N_TINY; a++) {
        model_config c = tiny_config(a);
        lm *m = make_lm(&c, SEED);
        int toks[10];
        tsup_tokens(toks, 10, c.vocab, 60);
        float lg[VOCAB_TINY];
        assert_int_equal(lm_prefill(m, l->p, &part, toks, 9, lg, NULL, &err), 0);
        const mx_breakdown *bd = lm_breakdown(m);
        for (int k = 0; k < MX_OP_N; k++)
            assert_int_equal(bd->runs[k], 0);
        lm_set_timing(m, 1);
        assert_int_equal(lm_prefill(m, l->p, &part, toks, 9, lg, NULL, &err), 0);
        assert_int_equal(lm_decode(m, l->p, &part, toks[9], lg, &err), 0);
        assert_true(bd->runs[MX_OP_GEMM] > 0 && bd->sec[MX_OP_GEMM] > 0);
        assert_int_equal(bd->runs[MX_OP_ATTN] > 0, has_attention(c.arch));
        assert_int_equal(bd->runs[MX_OP_SCAN] > 0, c.arch != MODEL_ARCH_TRANSFORMER);
        lm_breakdown_clear(m);
        assert_int_equal(bd->runs[MX_OP_GEMM], 0);
        lm_set_timing(m, 0);
        assert_int_equal(lm_decode(m, l->p, &part, toks[0], lg, &err), 0);
        assert_int_equal(bd->runs[MX_OP_GEMM], 0);
        lm_free(m);
    }
}

/* Bad input: weights of another architecture, a bad config, a full KV
 * cache, a bad token — an error each, and the weights stay the caller's
 * when lm_create refuses. */
static void test_10_bad_input(void **state)
{
    tsup_live *l = *state;
    cb_err err = {{0}};
    pool_part part;
    tsup_part_first(l, 2, &part);
    model_config t = tiny_config(0), s = tiny_config(1);
    lm_weights w;
    lm *m = NULL;
    assert_int_equal(lm_weights_synth(&s, SEED, &w, &err), 0);
    assert_int_equal(lm_create(&t, &w, 8, &m, &err), -1);
    assert_null(m);
    assert_non_null(strstr(err.msg, "arch"));
    assert_non_null(w.m1.tok_emb); /* still the caller's */
    model_config bad = s;
    bad.d_conv = 3;
    assert_int_equal(lm_create(&bad, &w, 8, &m, &err), -1);
    assert_non_null(strstr(err.msg, "d_conv"));
    assert_int_equal(lm_create(&s, &w, 8, &m, &err), 0);
    assert_null(w.m1.tok_emb); /* taken */
    float lg[VOCAB_TINY];
    int toks[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    assert_int_equal(lm_prefill(m, l->p, &part, toks, 9, lg, NULL, &err), -1);
    assert_int_equal(lm_decode(m, l->p, &part, 97, lg, &err), -1);
    lm_free(m);
    lm_weights_free(&w);
    lm_weights_free(NULL);
    bad.d_conv = 4, bad.expand = 0;
    assert_int_equal(lm_weights_synth(&bad, SEED, &w, &err), -1);
    assert_null(w.m1.tok_emb);
    /* A Transformer with a full KV cache (max_context 8) refuses a decode. */
    t.max_context = 8;
    assert_int_equal(lm_weights_synth(&t, SEED, &w, &err), 0);
    assert_int_equal(lm_create(&t, &w, 9, &m, &err), -1); /* max_prefill > max_context */
    assert_int_equal(lm_create(&t, &w, 8, &m, &err), 0);
    assert_int_equal(lm_prefill(m, l->p, &part, toks, 8, lg, NULL, &err), 0);
    assert_int_equal(lm_decode(m, l->p, &part, 3, lg, &err), -1);
    lm_free(m);
}

/* ---- block-type storage (Q8_0, Q4_0, Q4_1) ----------------------------------------- */

/* The worst |a - b| over n logits relative to max |b| (+1e-3). */
static double rel_worst(const float *a, const float *b, size_t n)
{
    double worst = 0, mag = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        worst = isnan(d) || d > worst ? (isnan(d) ? INFINITY : d) : worst;
        mag = fmax(mag, fabs(b[i]));
    }
    return worst / (mag + 1e-3);
}

/* Every architecture whose tiny shape holds whole blocks runs with its
 * matrices stored as each block type (and with a Q8_0 embedding beside Q4_1
 * layers, as GGUF files are): prefill and decode stay within 10% of max
 * |logit| of the reference forward on the same stored weights (the native
 * GEMVs quantise x to int8 per block; a wiring mistake moves the logits by
 * their own size), and the weights take fewer bytes than bf16.  Tiny Mamba-1
 * (dt_rank 4) is refused, naming dt_rank. */
static void test_11_block_storage(void **state)
{
    tsup_live *l = *state;
    cb_err err = {{0}};
    pool_part part;
    tsup_part_first(l, 2, &part);
    static const op_wtype layer_t[] = {OP_W_Q8_0, OP_W_Q4_0, OP_W_Q4_1, OP_W_Q4_1};
    static const op_wtype emb_t[] = {OP_W_Q8_0, OP_W_Q4_0, OP_W_Q4_1, OP_W_Q8_0};
    enum { N = 12 };
    int toks[N];
    static float ref[N * VOCAB_TINY], fast[N * VOCAB_TINY], step[VOCAB_TINY];
    for (int a = 0; a < N_TINY; a++) {
        for (int k = 0; k < 4; k++) {
            model_config c = tiny_config(a), b16 = c;
            c.wtype = layer_t[k];
            c.emb_wtype = emb_t[k];
            model_set_wtype(&b16, OP_W_BF16);
            if (c.arch == MODEL_ARCH_MAMBA1) {
                assert_int_equal(model_config_check(&c, &err), -1);
                assert_non_null(strstr(err.msg, "dt_rank"));
                continue;
            }
            assert_true(lm_weight_bytes(&c) < lm_weight_bytes(&b16));
            lm *m = make_lm(&c, SEED + a);
            tsup_tokens(toks, N, c.vocab, 30 + a);
            assert_int_equal(lm_forward_ref(m, toks, N, ref, &err), 0);
            assert_int_equal(lm_prefill(m, l->p, &part, toks, N, NULL, fast, &err), 0);
            double pre = rel_worst(fast, ref, (size_t)N * c.vocab);
            assert_int_equal(lm_prefill(m, l->p, &part, toks, N - 1, NULL, NULL, &err), 0);
            assert_int_equal(lm_decode(m, l->p, &part, toks[N - 1], step, &err), 0);
            double dec = rel_worst(step, ref + (size_t)(N - 1) * c.vocab, (size_t)c.vocab);
            if (!(pre <= 0.1 && dec <= 0.1))
                fail_msg("%s %s/%s: prefill %.3g, decode %.3g of max |logit|", tiny_names[a],
                         op_wtype_name(c.wtype), op_wtype_name(c.emb_wtype), pre, dec);
            lm_free(m);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_01_catalogue_entries_check),
        cmocka_unit_test(test_02_param_counts),
        cmocka_unit_test(test_03_unknown_name),
        cmocka_unit_test(test_04_decode_matches_prefill),
        cmocka_unit_test(test_05_reference_matches_prefill),
        cmocka_unit_test(test_06_snapshots),
        cmocka_unit_test(test_07_seeded_generation),
        cmocka_unit_test(test_08_memory),
        cmocka_unit_test(test_09_timing),
        cmocka_unit_test(test_10_bad_input),
        cmocka_unit_test(test_11_block_storage),
    };
    return cmocka_run_group_tests(tests, tsup_live_setup, tsup_live_teardown);
}
