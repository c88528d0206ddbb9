/* tests/test_transformer.c — the Llama-style Transformer (models/transformer.h),
 * its configuration (models/model.h), synthetic weights (models/synth.h) and
 * sampling (models/sample.h).
 *
 * Tiny configurations (vocab 97, d 64, 2-3 layers, 4 heads of 16, ffn 160)
 * in four variants — GQA 4/2, MHA with QKV biases, MQA with tied embeddings,
 * and Llama 3 RoPE scaling — each on the live pool with 1 and 2 workers:
 * the fast forward against the reference forward; decode after a prefill of
 * t tokens against a prefill of t + 1 tokens; a decode chain and a rewind;
 * activation RMS through a 4-layer model; config checks naming the field;
 * memory accounting; the breakdown hook; sampling; a 150-token context
 * spanning several flash and decode blocks.
 *
 * Tolerance (LOGIT_TOL): |a - b| <= LOGIT_TOL x (max |b| over the row + 1e-3)
 * per logit.  Fast kernels sum in float (GEMM, flash with its 1e-7 exp) where
 * the references sum in double, and decode and prefill use different
 * attention kernels; measured differences are below 1e-6 relative (10x margin). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/model.h"
#include "models/sample.h"
#include "models/synth.h"
#include "models/transformer.h"
#include "tests/support/live_pool.h"
#include "tests/support/model_check.h"

#define LOGIT_TOL 1e-5
#define SEED 20261122u

enum { V_BASE, V_BIAS, V_TIED, V_LLAMA3, N_VARIANTS };

static model_config variant(int v)
{
    model_config c = model_config_tiny();
    switch (v) {
    case V_BIAS: /* Qwen2-like: QKV biases, MHA, theta 1e6, eps 1e-6 */
        c.qkv_bias = 1;
        c.n_kv_heads = 4;
        c.rope_theta = 1e6;
        c.rms_eps = 1e-6f;
        break;
    case V_TIED: /* tied embeddings, MQA */
        c.tied_embeddings = 1;
        c.n_kv_heads = 1;
        break;
    case V_LLAMA3: /* Llama 3 scaling with a short original context so all regimes occur */
        c.n_layers = 3;
        c.rope_theta = 5e5;
        c.rope_llama3 = 1;
        c.rope_factor = 8;
        c.rope_low_freq_factor = 1;
        c.rope_high_freq_factor = 4;
        c.rope_original_max_pos = 32;
        break;
    default:
        break;
    }
    return c;
}

static tf_model *make_model(const model_config *c, uint64_t seed, int max_prefill)
{
    tf_weights w;
    cb_err err = {{0}};
    tf_model *m = NULL;
    if (synth_transformer(c, seed, &w, &err) != 0)
        fail_msg("synth: %s", err.msg);
    if (tf_create(c, &w, max_prefill, &m, &err) != 0)
        fail_msg("tf_create: %s", err.msg);
    return m;
}

/* ---- configuration ------------------------------------------------------------------ */

static void test_01_config_check(void **state)
{
    cb_err err = {{0}};
    for (int v = 0; v < N_VARIANTS; v++) {
        model_config c = variant(v);
        assert_int_equal(model_config_check(&c, &err), 0);
    }
    model_config c = model_config_tiny();
    c.vocab = 0, tsup_expect_config_refused(c, "vocab"), c = model_config_tiny();
    c.d_model = -4, tsup_expect_config_refused(c, "d_model"), c = model_config_tiny();
    c.n_layers = 0, tsup_expect_config_refused(c, "n_layers"), c = model_config_tiny();
    c.n_heads = 0, tsup_expect_config_refused(c, "n_heads"), c = model_config_tiny();
    c.n_kv_heads = 3, tsup_expect_config_refused(c, "n_kv_heads"), c = model_config_tiny();
    c.n_kv_heads = 0, tsup_expect_config_refused(c, "n_kv_heads"), c = model_config_tiny();
    c.head_dim = 15, tsup_expect_config_refused(c, "head_dim"), c = model_config_tiny();
    c.head_dim = 2048, tsup_expect_config_refused(c, "head_dim"), c = model_config_tiny();
    c.ffn_dim = 0, tsup_expect_config_refused(c, "ffn_dim"), c = model_config_tiny();
    c.rms_eps = 0, tsup_expect_config_refused(c, "rms_eps"), c = model_config_tiny();
    c.rms_eps = NAN, tsup_expect_config_refused(c, "rms_eps"), c = model_config_tiny();
    c.rope_theta = 1, tsup_expect_config_refused(c, "rope_theta"), c = model_config_tiny();
    c.rope_theta = INFINITY, tsup_expect_config_refused(c, "rope_theta"), c = model_config_tiny();
    c.rope_llama3 = 2, tsup_expect_config_refused(c, "rope_llama3"), c = model_config_tiny();
    c.rope_llama3 = 1, c.rope_factor = 0.5, tsup_expect_config_refused(c, "rope_factor"),
    c = model_config_tiny();
    c.rope_llama3 = 1, c.rope_high_freq_factor = 1, tsup_expect_config_refused(c, "rope_high_freq_factor"),
    c = model_config_tiny();
    c.rope_llama3 = 1, c.rope_original_max_pos = 0, tsup_expect_config_refused(c, "rope_original_max_pos"),
    c = model_config_tiny();
    c.qkv_bias = -1, tsup_expect_config_refused(c, "qkv_bias"), c = model_config_tiny();
    c.tied_embeddings = 7, tsup_expect_config_refused(c, "tied_embeddings"), c = model_config_tiny();
    c.max_context = 0, tsup_expect_config_refused(c, "max_context"), c = model_config_tiny();
    c.vocab = 1 << 20, c.d_model = 1 << 12, tsup_expect_config_refused(c, "vocab"), c = model_config_tiny();
    c.arch = (model_arch)9, tsup_expect_config_refused(c, "arch");

    /* tf_create refuses the same configs, and a bad max_prefill. */
    tf_model *m = NULL;
    tf_weights w;
    c = model_config_tiny();
    assert_int_equal(synth_transformer(&c, SEED, &w, &err), 0);
    assert_int_equal(tf_create(&c, &w, 0, &m, &err), -1);
    assert_non_null(strstr(err.msg, "max_prefill"));
    assert_int_equal(tf_create(&c, &w, c.max_context + 1, &m, &err), -1);
    model_config bad = c;
    bad.n_kv_heads = 3;
    assert_int_equal(tf_create(&bad, &w, 8, &m, &err), -1);
    assert_null(m);
    assert_non_null(w.tok_emb); /* still the caller's */
    tf_weights_free(&w);
    tf_weights_free(&w); /* zeroed: no-op */
    tf_free(NULL);
}

/* ---- weights and memory ------------------------------------------------------------ */

static void test_02_memory_accounting(void **state)
{
    for (int v = 0; v < N_VARIANTS; v++) {
        model_config c = variant(v);
        size_t d = (size_t)c.d_model, qd = (size_t)c.n_heads * c.head_dim,
               kvd = (size_t)c.n_kv_heads * c.head_dim, f = (size_t)c.ffn_dim;
        size_t per_layer = 2 * d + 2 * qd * d + 2 * kvd * d + 3 * f * d +
                           (c.qkv_bias ? qd + 2 * kvd : 0);
        size_t want = ((size_t)c.vocab * d * (c.tied_embeddings ? 1 : 2) + d +
                       (size_t)c.n_layers * per_layer) *
                      4;
        assert_int_equal(tf_weight_bytes(&c), want);
        tf_model *m = make_model(&c, SEED, 32);
        tf_memory mem = tf_memory_use(m);
        assert_int_equal(mem.weights, want);
        assert_int_equal(mem.kv_cache,
                         2 * (size_t)c.n_layers * kvd * (size_t)c.max_context * sizeof(float));
        assert_true(mem.scratch >= 32 * (2 * d + f) * sizeof(float));
        assert_int_equal(mem.total, mem.weights + mem.kv_cache + mem.scratch);
        if (c.tied_embeddings)
            assert_ptr_equal(m->w.lm_head, m->w.tok_emb);
        else
            assert_ptr_not_equal(m->w.lm_head, m->w.tok_emb);
        assert_true(c.qkv_bias ? m->w.layers[0].bq != NULL : m->w.layers[0].bq == NULL);
        tf_free(m);
    }
}

static void test_03_synth_deterministic(void **state)
{
    model_config c = variant(V_BIAS);
    cb_err err = {{0}};
    tf_weights a, b, x;
    assert_int_equal(synth_transformer(&c, 7, &a, &err), 0);
    assert_int_equal(synth_transformer(&c, 7, &b, &err), 0);
    assert_int_equal(synth_transformer(&c, 8, &x, &err), 0);
    size_t n = tf_weight_bytes(&c);
    assert_memory_equal(a.owner, b.owner, n);
    assert_true(memcmp(a.owner, x.owner, n) != 0);
    /* A tensor depends on its own stream only: a model with one more layer
     * has the same first layers. */
    model_config c2 = c;
    c2.n_layers++;
    tf_weights y;
    assert_int_equal(synth_transformer(&c2, 7, &y, &err), 0);
    assert_memory_equal(a.layers[1].w_down, y.layers[1].w_down,
                        (size_t)c.d_model * c.ffn_dim * sizeof(float));
    assert_memory_equal(a.tok_emb, y.tok_emb, (size_t)c.vocab * c.d_model * sizeof(float));
    /* Scales: norms 1, projections within 1/sqrt(fan_in), embedding std ~0.02. */
    assert_true(a.layers[0].attn_norm[5] == 1.0f && a.final_norm[0] == 1.0f);
    double s = 0, mx = 0;
    size_t ne = (size_t)c.vocab * c.d_model;
    for (size_t i = 0; i < ne; i++)
        s += (double)((const float *)a.tok_emb)[i] * ((const float *)a.tok_emb)[i];
    assert_true(fabs(sqrt(s / ne) - 0.02) < 0.002);
    for (size_t i = 0; i < (size_t)c.d_model * c.ffn_dim; i++)
        mx = fmax(mx, fabs(((const float *)a.layers[0].w_gate)[i]));
    assert_true(mx <= 1.0 / sqrt(c.d_model) && mx > 0.9 / sqrt(c.d_model));
    tf_weights_free(&a);
    tf_weights_free(&b);
    tf_weights_free(&x);
    tf_weights_free(&y);
}

/* ---- forward passes ---------------------------------------------------------------- */

/* Fast prefill (all positions) against the reference forward, 1 and 2 workers. */
static void test_04_fast_equals_reference(void **state)
{
    tsup_live *l = *state;
    cb_err err = {{0}};
    double worst = 0;
    for (int v = 0; v < N_VARIANTS; v++) {
        model_config c = variant(v);
        tf_model *m = make_model(&c, SEED + v, 48);
        int n = 41, toks[48];
        tsup_tokens(toks, n, c.vocab, v);
        float *ref = malloc((size_t)n * c.vocab * sizeof(float));
        float *all = malloc((size_t)n * c.vocab * sizeof(float));
        float *last = malloc((size_t)c.vocab * sizeof(float));
        assert_non_null(ref), assert_non_null(all), assert_non_null(last);
        if (tf_forward_ref(m, toks, n, ref, NULL, &err) != 0)
            fail_msg("reference: %s", err.msg);
        for (int nw = 1; nw <= 2; nw++) {
            pool_part part;
            tsup_part_first(l, nw, &part);
            if (tf_prefill(m, l->p, &part, toks, n, last, all, &err) != 0)
                fail_msg("prefill: %s", err.msg);
            assert_int_equal(m->n_pos, n);
            char what[96];
            for (int i = 0; i < n; i++) {
                snprintf(what, sizeof what, "variant %d, %d workers, position %d", v, nw, i);
                worst = fmax(worst, tsup_check_logits(what, all + (size_t)i * c.vocab,
                                                 ref + (size_t)i * c.vocab, c.vocab, LOGIT_TOL));
            }
            assert_memory_equal(last, all + (size_t)(n - 1) * c.vocab, c.vocab * sizeof(float));
            /* Without logits_all: the same last logits. */
            float *last2 = malloc((size_t)c.vocab * sizeof(float));
            assert_int_equal(tf_prefill(m, l->p, &part, toks, n, last2, NULL, &err), 0);
            assert_memory_equal(last, last2, c.vocab * sizeof(float));
            free(last2);
        }
        free(ref), free(all), free(last);
        tf_free(m);
    }
    print_message("fast vs reference: worst relative difference %.3g\n", worst);
}

/* Decoding token t after a prefill of t tokens == prefill of t + 1 tokens. */
static void test_05_decode_matches_prefill(void **state)
{
    tsup_live *l = *state;
    cb_err err = {{0}};
    static const int ts[] = {1, 2, 7, 16, 17, 33, 62};
    double worst = 0;
    for (int v = 0; v < N_VARIANTS; v++) {
        model_config c = variant(v);
        tf_model *m = make_model(&c, SEED * 3 + v, c.max_context);
        int toks[64];
        tsup_tokens(toks, 64, c.vocab, 100 + v);
        float *a = malloc((size_t)c.vocab * sizeof(float)), *b = malloc((size_t)c.vocab * sizeof(float));
        for (int nw = 1; nw <= 2; nw++) {
            pool_part part;
            tsup_part_first(l, nw, &part);
            for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) {
                int t = ts[i];
                if (tf_prefill(m, l->p, &part, toks, t + 1, b, NULL, &err) != 0)
                    fail_msg("prefill %d: %s", t + 1, err.msg);
                assert_int_equal(tf_prefill(m, l->p, &part, toks, t, a, NULL, &err), 0);
                if (tf_decode(m, l->p, &part, toks[t], t, a, &err) != 0)
                    fail_msg("decode at %d: %s", t, err.msg);
                assert_int_equal(m->n_pos, t + 1);
                char what[96];
                snprintf(what, sizeof what, "variant %d, %d workers, t = %d", v, nw, t);
                worst = fmax(worst, tsup_check_logits(what, a, b, c.vocab, LOGIT_TOL));
            }
        }
        free(a), free(b);
        tf_free(m);
    }
    print_message("decode vs prefill: worst relative difference %.3g\n", worst);
}

/* A chain of decodes after a short prefill gives every position's logits of
 * one long prefill; a rewound decode repeats an earlier step exactly. */
static void test_06_decode_chain_and_rewind(void **state)
{
    tsup_live *l = *state;
    cb_err err = {{0}};
    for (int v = 0; v < N_VARIANTS; v++) {
        model_config c = variant(v);
        tf_model *m = make_model(&c, SEED + 11 * v, c.max_context);
        int n = c.max_context, p0 = 5, toks[64];
        tsup_tokens(toks, n, c.vocab, 200 + v);
        float *all = malloc((size_t)n * c.vocab * sizeof(float));
        float *lg = malloc((size_t)c.vocab * sizeof(float)), *lg2 = malloc((size_t)c.vocab * sizeof(float));
        pool_part part;
        tsup_part_first(l, 2, &part);
        assert_int_equal(tf_prefill(m, l->p, &part, toks, n, lg, all, &err), 0);
        assert_int_equal(tf_prefill(m, l->p, &part, toks, p0, lg, NULL, &err), 0);
        for (int t = p0; t < n; t++) {
            if (tf_decode(m, l->p, &part, toks[t], t, lg, &err) != 0)
                fail_msg("decode at %d: %s", t, err.msg);
            char what[64];
            snprintf(what, sizeof what, "variant %d, chain position %d", v, t);
            tsup_check_logits(what, lg, all + (size_t)t * c.vocab, c.vocab, LOGIT_TOL);
            if (t == 20)
                memcpy(lg2, lg, c.vocab * sizeof(float));
        }
        /* The cache is full: one more position is refused. */
        assert_int_equal(tf_decode(m, l->p, &part, toks[0], n, lg, &err), -1);
        assert_non_null(strstr(err.msg, "position"));
        /* Rewind to 20 (dropping 21..n-1), with 1 worker: same logits as before. */
        tsup_part_first(l, 1, &part);
        assert_int_equal(tf_decode(m, l->p, &part, toks[20], 20, lg, &err), 0);
        assert_int_equal(m->n_pos, 21);
        tsup_check_logits("rewind", lg, lg2, c.vocab, LOGIT_TOL);
        /* Skipping ahead of the cache is refused. */
        assert_int_equal(tf_decode(m, l->p, &part, toks[0], 23, lg, &err), -1);
        free(all), free(lg), free(lg2);
        tf_free(m);
    }
}

/* 1 and 2 workers agree (prefill bit for bit: every kernel's split keeps the
 * summation order; decode within rounding: the attention merge). */
static void test_07_workers_agree(void **state)
{
    tsup_live *l = *state;
    cb_err err = {{0}};
    model_config c = variant(V_BASE);
    tf_model *m = make_model(&c, SEED, 40);
    int toks[41];
    tsup_tokens(toks, 41, c.vocab, 300);
    float a[97], b[97], da[97], db[97];
    pool_part p1, p2;
    tsup_part_first(l, 1, &p1);
    tsup_part_first(l, 2, &p2);
    assert_int_equal(tf_prefill(m, l->p, &p1, toks, 40, a, NULL, &err), 0);
    assert_int_equal(tf_decode(m, l->p, &p1, toks[40], 40, da, &err), 0);
    assert_int_equal(tf_prefill(m, l->p, &p2, toks, 40, b, NULL, &err), 0);
    assert_int_equal(tf_decode(m, l->p, &p2, toks[40], 40, db, &err), 0);
    assert_memory_equal(a, b, sizeof a);
    tsup_check_logits("decode 1 vs 2 workers", db, da, c.vocab, LOGIT_TOL);
    tf_free(m);
}

/* The residual stream's RMS stays in a sane range through a 4-layer model
 * (and the 12-layer depth of the 130M configs, on a narrow model). */
static void test_08_activations_in_range(void **state)
{
    cb_err err = {{0}};
    int depths[] = {4, 12};
    for (int i = 0; i < 2; i++) {
        model_config c = variant(V_BASE);
        c.n_layers = depths[i];
        tf_model *m = make_model(&c, SEED + 5, 32);
        int toks[32];
        tsup_tokens(toks, 32, c.vocab, 400);
        double rms[13];
        float *all = malloc((size_t)32 * c.vocab * sizeof(float));
        assert_int_equal(tf_forward_ref(m, toks, 32, all, rms, &err), 0);
        for (int k = 0; k <= c.n_layers; k++) {
            print_message("layers %d: residual RMS after %s %d: %.4f\n", c.n_layers,
                          k ? "layer" : "embedding", k, rms[k]);
            if (!(rms[k] > 0.005 && rms[k] < 10))
                fail_msg("residual RMS %.4g after layer %d is out of range", rms[k], k);
        }
        double mx = 0;
        for (int k = 0; k < 32 * c.vocab; k++) {
            assert_true(isfinite(all[k]));
            mx = fmax(mx, fabs(all[k]));
        }
        assert_true(mx > 0.01 && mx < 50);
        free(all);
        tf_free(m);
    }
}

/* Bad input to the forward passes: a clear error, nothing crashes. */
static void test_09_bad_input(void **state)
{
    tsup_live *l = *state;
    cb_err err = {{0}};
    model_config c = variant(V_BASE);
    tf_model *m = make_model(&c, SEED, 16);
    pool_part part;
    tsup_part_first(l, 2, &part);
    float lg[97];
    int toks[17] = {0};
    assert_int_equal(tf_prefill(m, l->p, &part, toks, 17, lg, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "prefill of 17"));
    assert_int_equal(tf_prefill(m, l->p, &part, toks, 0, lg, NULL, &err), -1);
    toks[3] = 97;
    assert_int_equal(tf_prefill(m, l->p, &part, toks, 5, lg, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "token 97 at position 3"));
    assert_int_equal(m->n_pos, 0);
    toks[3] = 1;
    assert_int_equal(tf_prefill(m, l->p, &part, toks, 5, lg, NULL, &err), 0);
    assert_int_equal(tf_decode(m, l->p, &part, -1, 5, lg, &err), -1);
    assert_int_equal(tf_decode(m, l->p, &part, 3, 6, lg, &err), -1);
    assert_int_equal(m->n_pos, 5);
    tf_reset(m);
    assert_int_equal(tf_decode(m, l->p, &part, 3, 1, lg, &err), -1);
    assert_int_equal(tf_decode(m, l->p, &part, 3, 0, lg, &err), 0);
    assert_int_equal(tf_forward_ref(m, toks, 0, lg, NULL, &err), -1);
    tf_free(m);
}

/* The breakdown: off by default, every class a pass uses accumulates when on. */
static void test_10_breakdown(void **state)
{
    tsup_live *l = *state;
    cb_err err = {{0}};
    model_config c = variant(V_BASE);
    tf_model *m = make_model(&c, SEED, 32);
    pool_part part;
    tsup_part_first(l, 2, &part);
    int toks[32];
    tsup_tokens(toks, 32, c.vocab, 500);
    float lg[97];
    assert_int_equal(tf_prefill(m, l->p, &part, toks, 32, lg, NULL, &err), 0);
    for (int k = 0; k < MX_OP_N; k++)
        assert_int_equal(m->bd.runs[k], 0);
    m->timing = 1;
    assert_int_equal(tf_prefill(m, l->p, &part, toks, 31, lg, NULL, &err), 0);
    assert_int_equal(tf_decode(m, l->p, &part, toks[31], 31, lg, &err), 0);
    for (int k = 0; k < MX_OP_N; k++) {
        int used = k != MX_OP_SCAN && k != MX_OP_CONV; /* no SSM layers here */
        assert_true(used ? m->bd.runs[k] > 0 && m->bd.sec[k] > 0 : m->bd.runs[k] == 0);
    }
    /* GEMM steps per pass: 4 per layer (QKV, wo, gate/up, down) + the LM head. */
    assert_int_equal(m->bd.runs[MX_OP_GEMM], 2 * (4 * c.n_layers + 1));
    assert_string_equal(mx_op_class_name(MX_OP_ATTN), "attention");
    tf_breakdown_clear(m);
    assert_int_equal(m->bd.runs[MX_OP_GEMM], 0);
    tf_free(m);
}

/* ---- sampling ---------------------------------------------------------------------- */

static void test_11_sampling(void **state)
{
    enum { N = 97 };
    float lg[N];
    uint64_t s = 12345;
    for (int i = 0; i < N; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        lg[i] = (float)((s >> 40) % 1000) / 100.0f;
    }
    lg[42] = 11.0f; /* the unique maximum */
    void *scr = malloc(sample_scratch_bytes(N));
    assert_int_equal(sample_argmax(lg, N), 42);
    sample_params greedy = {0, 0, 1};
    sample_rng r = sample_rng_seed(1);
    assert_int_equal(sample_next(lg, N, &greedy, &r, scr), 42);
    sample_params k1 = {1.0f, 1, 1.0f};
    assert_int_equal(sample_next(lg, N, &k1, &r, scr), 42);
    sample_params p_tiny = {1.0f, 0, 1e-6f};
    assert_int_equal(sample_next(lg, N, &p_tiny, &r, scr), 42);
    /* Reproducible from the seed; different seeds give different sequences. */
    sample_params sp = {1.5f, 40, 0.95f};
    int a[64], b[64], c[64], same = 1;
    sample_rng ra = sample_rng_seed(99), rb = sample_rng_seed(99), rc = sample_rng_seed(100);
    for (int i = 0; i < 64; i++) {
        a[i] = sample_next(lg, N, &sp, &ra, scr);
        b[i] = sample_next(lg, N, &sp, &rb, scr);
        c[i] = sample_next(lg, N, &sp, &rc, scr);
        same &= a[i] == c[i];
    }
    assert_memory_equal(a, b, sizeof a);
    assert_false(same);
    /* top-k 3 at a high temperature draws only the 3 largest, and all of them. */
    float sorted[N];
    memcpy(sorted, lg, sizeof lg);
    int top[3];
    for (int k = 0; k < 3; k++) {
        top[k] = sample_argmax(sorted, N);
        sorted[top[k]] = -INFINITY;
    }
    sample_params k3 = {100.0f, 3, 1.0f};
    int seen[3] = {0};
    for (int i = 0; i < 600; i++) {
        int t = sample_next(lg, N, &k3, &ra, scr);
        int hit = -1;
        for (int k = 0; k < 3; k++)
            if (t == top[k])
                hit = k;
        assert_true(hit >= 0);
        seen[hit]++;
    }
    assert_true(seen[0] > 100 && seen[1] > 100 && seen[2] > 100);
    /* Plain temperature sampling follows the softmax: two tokens, logits
     * differing by ln 3 at T = 1, are drawn ~3:1. */
    float two[2] = {logf(3.0f), 0.0f};
    sample_params t1 = {1.0f, 0, 1.0f};
    int ones = 0;
    for (int i = 0; i < 20000; i++)
        ones += sample_next(two, 2, &t1, &ra, scr) == 1;
    assert_true(ones > 4600 && ones < 5400);
    /* Uniform draws stay in [0, 1). */
    for (int i = 0; i < 1000; i++) {
        double u = sample_rng_uniform(&ra);
        assert_true(u >= 0 && u < 1);
    }
    free(scr);
}

/* Prompts longer than one flash block (64 query rows, 64 keys): several
 * query blocks, off-diagonal key blocks, and decode over many cache blocks;
 * GQA 4/2 with Llama 3 scaling. */
static void test_12_multi_block_context(void **state)
{
    tsup_live *l = *state;
    cb_err err = {{0}};
    model_config c = variant(V_LLAMA3);
    c.max_context = 200;
    tf_model *m = make_model(&c, SEED + 77, 200);
    int toks[200];
    tsup_tokens(toks, 200, c.vocab, 600);
    int n = 150;
    float *ref = malloc((size_t)n * c.vocab * sizeof(float));
    float *all = malloc((size_t)n * c.vocab * sizeof(float));
    float *a = malloc((size_t)c.vocab * sizeof(float));
    assert_int_equal(tf_forward_ref(m, toks, n, ref, NULL, &err), 0);
    static const int ts[] = {63, 64, 65, 128, 149};
    for (int nw = 1; nw <= 2; nw++) {
        pool_part part;
        tsup_part_first(l, nw, &part);
        assert_int_equal(tf_prefill(m, l->p, &part, toks, n, a, all, &err), 0);
        char what[96];
        for (int i = 0; i < n; i += 7) {
            snprintf(what, sizeof what, "%d workers, prefill position %d", nw, i);
            tsup_check_logits(what, all + (size_t)i * c.vocab, ref + (size_t)i * c.vocab, c.vocab, LOGIT_TOL);
        }
        for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) {
            int t = ts[i];
            assert_int_equal(tf_prefill(m, l->p, &part, toks, t, a, NULL, &err), 0);
            assert_int_equal(tf_decode(m, l->p, &part, toks[t], t, a, &err), 0);
            snprintf(what, sizeof what, "%d workers, decode at %d", nw, t);
            tsup_check_logits(what, a, ref + (size_t)t * c.vocab, c.vocab, LOGIT_TOL);
        }
    }
    free(ref), free(all), free(a);
    tf_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_01_config_check),
        cmocka_unit_test(test_02_memory_accounting),
        cmocka_unit_test(test_03_synth_deterministic),
        cmocka_unit_test(test_04_fast_equals_reference),
        cmocka_unit_test(test_05_decode_matches_prefill),
        cmocka_unit_test(test_06_decode_chain_and_rewind),
        cmocka_unit_test(test_07_workers_agree),
        cmocka_unit_test(test_08_activations_in_range),
        cmocka_unit_test(test_09_bad_input),
        cmocka_unit_test(test_10_breakdown),
        cmocka_unit_test(test_11_sampling),
        cmocka_unit_test(test_12_multi_block_context),
    };
    return cmocka_run_group_tests(tests, tsup_live_setup, tsup_live_teardown);
}
