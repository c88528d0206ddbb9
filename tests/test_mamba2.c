/* tests/test_mamba2.c — the Mamba-2 model and the hybrid stack
 * (models/mamba2.h), their config checks (models/model.h) and their
 * synthetic weights (models/synth.h).
 *
 * Two tiny configurations, pure Mamba-2 (model_config_mamba2_tiny: d 64,
 * 4 layers, d_state 16, 8 heads of 16, chunk 8) and the hybrid
 * (model_config_hybrid_tiny, pattern "MAMA"), on the live pool with 1 and 2
 * workers: config refusals naming the field; the fast prefill against the
 * reference forward at lengths around the chunk; decode after a prefill of t
 * tokens against a prefill of t + 1; a prefill continued in pieces; workers
 * agree; residual RMS over 24 layers; bf16 storage; the breakdown; state
 * save and load; memory accounting; a full KV cache.
 *
 * Tolerance (LOGIT_TOL): |a - b| <= LOGIT_TOL x (max |b| over the row + 1e-3)
 * per logit (tsup_check_logits).  The fast kernels sum in float with vector
 * exps where the references (op_ssd_ref, the conv, GEMV and norm
 * references) sum in double with libm; decode runs the SSD and conv step
 * kernels where prefill runs the chunked SSD and the conv prefill.  The
 * worst differences measured are ~1e-6 (each test prints its own), so 1e-5
 * keeps a 10x margin, as tests/test_mamba1.c does. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/mamba2.h"
#include "models/model.h"
#include "models/synth.h"
#include "operators/lowp.h"
#include "tests/support/live_pool.h"
#include "tests/support/model_check.h"

#define LOGIT_TOL 1e-5
#define SEED 20261205u
#define VOCAB 97

enum { V_MAMBA2, V_HYBRID, N_VARIANTS };

static model_config variant(int v)
{
    return v == V_MAMBA2 ? model_config_mamba2_tiny() : model_config_hybrid_tiny();
}

static const char *variant_name(int v) { return v == V_MAMBA2 ? "mamba2" : "hybrid"; }

static m2_model *make_model(const model_config *c, uint64_t seed, int max_prefill)
{
    m2_weights w;
    cb_err err = {{0}};
    m2_model *m = NULL;
    if (synth_mamba2(c, seed, &w, &err) != 0)
        fail_msg("synth: %s", err.msg);
    if (m2_create(c, &w, max_prefill, &m, &err) != 0)
        fail_msg("m2_create: %s", err.msg);
    return m;
}

static float *floats(size_t n)
{
    float *p = malloc(n * sizeof(float));
    assert_non_null(p);
    return p;
}

/* ---- configuration ------------------------------------------------------------------ */

static void test_01_config_check(void **state)
{
    (void)state;
    cb_err err = {{0}};
    for (int v = 0; v < N_VARIANTS; v++) {
        model_config c = variant(v), base = c;
        assert_int_equal(model_config_check(&c, &err), 0);
        c.ssm_head_dim = 24, tsup_expect_config_refused(c, "ssm_head_dim"), c = base;
        c.ssm_head_dim = 0, tsup_expect_config_refused(c, "ssm_head_dim"), c = base;
        c.chunk = 0, tsup_expect_config_refused(c, "chunk"), c = base;
        c.d_state = 1025, tsup_expect_config_refused(c, "d_state"), c = base;
    }
    model_config c = model_config_hybrid_tiny(), base = c;
    strcpy(c.pattern, "MAM"), tsup_expect_config_refused(c, "pattern"), c = base;
    strcpy(c.pattern, "MAMAM"), tsup_expect_config_refused(c, "pattern"), c = base;
    strcpy(c.pattern, "MAXA"), tsup_expect_config_refused(c, "pattern"), c = base;
    strcpy(c.pattern, "MaMA"), tsup_expect_config_refused(c, "pattern"), c = base;
    c.n_kv_heads = 3, tsup_expect_config_refused(c, "n_kv_heads"), c = base;
    /* mamba2-130m passes. */
    c = model_config_mamba2_tiny();
    c.vocab = 50280, c.d_model = 768, c.n_layers = 24, c.d_state = 128, c.ssm_head_dim = 64;
    c.chunk = 256;
    assert_int_equal(model_config_check(&c, &err), 0);

    /* The other stacks' configs are refused; m2_create refuses a bad
     * max_prefill and leaves the weights the caller's. */
    m2_weights w;
    m2_model *m = NULL;
    model_config m1 = model_config_mamba1_tiny();
    assert_int_equal(synth_mamba2(&m1, SEED, &w, &err), -1);
    assert_non_null(strstr(err.msg, "arch"));
    assert_null(w.tok_emb);
    c = model_config_hybrid_tiny();
    assert_int_equal(synth_mamba2(&c, SEED, &w, &err), 0);
    assert_int_equal(m2_create(&c, &w, 0, &m, &err), -1);
    assert_non_null(strstr(err.msg, "max_prefill"));
    assert_int_equal(m2_create(&c, &w, c.max_context + 1, &m, &err), -1);
    assert_non_null(strstr(err.msg, "max_context"));
    void *keep = w.attn[1].wq;
    w.attn[1].wq = NULL;
    assert_int_equal(m2_create(&c, &w, 8, &m, &err), -1);
    assert_non_null(strstr(err.msg, "layer 1"));
    w.attn[1].wq = keep;
    assert_int_equal(m2_create(&m1, &w, 8, &m, &err), -1);
    assert_null(m);
    assert_non_null(w.tok_emb);
    m2_weights_free(&w);
    m2_weights_free(&w); /* zeroed: no-op */
    m2_weights_free(NULL);
    m2_free(NULL);
}

/* Synthetic weights: deterministic, initialised as mamba_ssm does, and a
 * hybrid's attention block l is the Transformer's layer l. */
static void test_02_synth_init(void **state)
{
    (void)state;
    cb_err err = {{0}};
    model_config c = model_config_hybrid_tiny();
    m2_weights a, b, x;
    assert_int_equal(synth_mamba2(&c, 7, &a, &err), 0);
    assert_int_equal(synth_mamba2(&c, 7, &b, &err), 0);
    assert_int_equal(synth_mamba2(&c, 8, &x, &err), 0);
    size_t n = m2_weight_bytes(&c);
    assert_memory_equal(a.owner, b.owner, n);
    assert_true(memcmp(a.owner, x.owner, n) != 0);
    int d = c.d_model, di = 2 * d, H = di / c.ssm_head_dim, dc = di + 2 * c.d_state;
    int nin = di + dc + H;
    const m2_layer_weights *L = &a.ssm[2];
    double amin = 1e9, amax = 0;
    for (int h = 0; h < H; h++) {
        assert_true(L->D[h] == 1.0f);
        double A = exp((double)L->A_log[h]);
        amin = fmin(amin, A), amax = fmax(amax, A);
        double dt = log1p(exp((double)L->dt_bias[h]));
        if (!(dt > 0.999e-3 && dt < 0.1001))
            fail_msg("head %d: softplus(dt bias) = %g outside [1e-3, 1e-1]", h, dt);
    }
    assert_true(amin >= 1.0 && amax <= 16.0 && amax > amin);
    double mx_conv = 0, mx_in = 0, mx_out = 0;
    for (int i = 0; i < dc * 4; i++)
        mx_conv = fmax(mx_conv, fabs(L->conv_w[i]));
    for (int i = 0; i < nin * d; i++)
        mx_in = fmax(mx_in, fabs(((const float *)L->in_proj)[i]));
    for (int i = 0; i < d * di; i++)
        mx_out = fmax(mx_out, fabs(((const float *)L->out_proj)[i]));
    assert_true(mx_conv <= 0.5 && mx_conv > 0.45);
    assert_true(mx_in <= 1 / sqrt(d) && mx_in > 0.9 / sqrt(d));
    assert_true(mx_out <= 1 / sqrt(di) && mx_out > 0.9 / sqrt(di));
    assert_true(L->norm[3] == 1.0f && L->gnorm[di - 1] == 1.0f && a.final_norm[0] == 1.0f);
    /* Layer kinds: 'M' layers have no attention tensors and vice versa. */
    assert_null(a.attn[0].wq);
    assert_null(a.ssm[1].in_proj);
    assert_non_null(a.attn[3].w_down);
    /* Attention block 3 equals a Transformer's layer 3 of the same seed. */
    model_config tc = c;
    tc.arch = MODEL_ARCH_TRANSFORMER;
    tf_weights tw;
    assert_int_equal(synth_transformer(&tc, 7, &tw, &err), 0);
    size_t qd = (size_t)c.n_heads * c.head_dim;
    assert_memory_equal(tw.layers[3].wq, a.attn[3].wq, qd * d * sizeof(float));
    assert_memory_equal(tw.layers[3].w_down, a.attn[3].w_down, (size_t)c.ffn_dim * d * 4);
    tf_weights_free(&tw);
    /* Pure Mamba-2 has no attention array. */
    model_config pc = model_config_mamba2_tiny();
    m2_weights p;
    assert_int_equal(synth_mamba2(&pc, 7, &p, &err), 0);
    assert_null(p.attn);
    assert_true(m2_is_ssm_layer(&pc, 1) && !m2_is_ssm_layer(&c, 1) && m2_is_ssm_layer(&c, 2));
    m2_weights_free(&p);
    m2_weights_free(&a), m2_weights_free(&b), m2_weights_free(&x);
}

/* ---- forward passes ---------------------------------------------------------------- */

/* Fast prefill (every position) == the reference forward at n = 1, 7, 8, 9,
 * 33 (chunk 8: one partial chunk, exactly one, one and a bit, several), on
 * 1 and 2 workers. */
static void test_03_fast_equals_reference(void **state)
{
    tsup_live *l = *state;
    cb_err err = {{0}};
    static const int ns[] = {1, 7, 8, 9, 33};
    double worst = 0;
    for (int v = 0; v < N_VARIANTS; v++) {
        model_config c = variant(v);
        m2_model *m = make_model(&c, SEED + v, 40);
        int toks[40];
        tsup_tokens(toks, 40, c.vocab, v);
        float *ref = floats((size_t)40 * VOCAB), *all = floats((size_t)40 * VOCAB);
        float last[VOCAB], last2[VOCAB];
        for (size_t k = 0; k < sizeof ns / sizeof *ns; k++) {
            int n = ns[k];
            if (m2_forward_ref(m, toks, n, ref, NULL, &err) != 0)
                fail_msg("reference: %s", err.msg);
            for (int nw = 1; nw <= 2; nw++) {
                pool_part part;
                tsup_part_first(l, nw, &part);
                if (m2_prefill(m, l->p, &part, toks, n, last, all, &err) != 0)
                    fail_msg("prefill: %s", err.msg);
                assert_int_equal(m->n_pos, n);
                char what[96];
                for (int i = 0; i < n; i++) {
                    snprintf(what, sizeof what, "%s, n %d, %d workers, position %d",
                             variant_name(v), n, nw, i);
                    worst = fmax(worst, tsup_check_logits(what, all + (size_t)i * VOCAB,
                                                          ref + (size_t)i * VOCAB, VOCAB,
                                                          LOGIT_TOL));
                }
                assert_memory_equal(last, all + (size_t)(n - 1) * VOCAB, sizeof last);
                /* Without logits_all: the same last logits. */
                assert_int_equal(m2_prefill(m, l->p, &part, toks, n, last2, NULL, &err), 0);
                assert_memory_equal(last, last2, sizeof last);
            }
        }
        free(ref), free(all);
        m2_free(m);
    }
    /* Hybrids that start with an attention block, and with none. */
    static const char *const patterns[] = {"AMMA", "MMMM"};
    for (size_t k = 0; k < sizeof patterns / sizeof *patterns; k++) {
        model_config c = model_config_hybrid_tiny();
        strcpy(c.pattern, patterns[k]);
        m2_model *m = make_model(&c, SEED + 3, 33);
        int toks[33];
        tsup_tokens(toks, 33, c.vocab, 50 + k);
        float *ref = floats((size_t)33 * VOCAB), *all = floats((size_t)33 * VOCAB);
        pool_part part;
        tsup_part_first(l, 2, &part);
        assert_int_equal(m2_forward_ref(m, toks, 33, ref, NULL, &err), 0);
        assert_int_equal(m2_prefill(m, l->p, &part, toks, 33, NULL, all, &err), 0);
        for (int i = 0; i < 33; i++)
            worst = fmax(worst, tsup_check_logits(patterns[k], all + (size_t)i * VOCAB,
                                                  ref + (size_t)i * VOCAB, VOCAB, LOGIT_TOL));
        assert_int_equal(m2_memory_use(m).kv_cache == 0, k == 1);
        free(ref), free(all);
        m2_free(m);
    }
    print_message("fast vs reference: worst relative difference %.3g\n", worst);
}

/* Decoding token t after a prefill of t tokens == a prefill of t + 1. */
static void test_04_decode_matches_prefill(void **state)
{
    tsup_live *l = *state;
    cb_err err = {{0}};
    static const int ts[] = {1, 2, 7, 8, 16, 33};
    double worst = 0;
    for (int v = 0; v < N_VARIANTS; v++) {
        model_config c = variant(v);
        m2_model *m = make_model(&c, SEED * 3 + v, 40);
        int toks[40];
        tsup_tokens(toks, 40, c.vocab, 100 + v);
        float a[VOCAB], b[VOCAB];
        for (int nw = 1; nw <= 2; nw++) {
            pool_part part;
            tsup_part_first(l, nw, &part);
            for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) {
                int t = ts[i];
                if (m2_prefill(m, l->p, &part, toks, t + 1, b, NULL, &err) != 0)
                    fail_msg("prefill %d: %s", t + 1, err.msg);
                assert_int_equal(m2_prefill(m, l->p, &part, toks, t, a, NULL, &err), 0);
                if (m2_decode(m, l->p, &part, toks[t], a, &err) != 0)
                    fail_msg("decode at %d: %s", t, err.msg);
                assert_int_equal(m->n_pos, t + 1);
                char what[96];
                snprintf(what, sizeof what, "%s, %d workers, t = %d", variant_name(v), nw, t);
                worst = fmax(worst, tsup_check_logits(what, a, b, VOCAB, LOGIT_TOL));
            }
            /* A decode chain from empty follows the reference too. */
            float *ref = floats((size_t)12 * VOCAB);
            assert_int_equal(m2_forward_ref(m, toks, 12, ref, NULL, &err), 0);
            m2_reset(m);
            for (int t = 0; t < 12; t++) {
                assert_int_equal(m2_decode(m, l->p, &part, toks[t], a, &err), 0);
                char what[96];
                snprintf(what, sizeof what, "%s, decode chain at %d", variant_name(v), t);
                worst = fmax(worst, tsup_check_logits(what, a, ref + (size_t)t * VOCAB, VOCAB,
                                                      LOGIT_TOL));
            }
            free(ref);
        }
        m2_free(m);
    }
    print_message("decode vs prefill: worst relative difference %.3g\n", worst);
}

/* A pure Mamba-2 prefill continued in pieces (also after decodes) == one
 * prefill / the reference; the hybrid refuses m2_prefill_more. */
static void test_05_prefill_in_pieces(void **state)
{
    tsup_live *l = *state;
    cb_err err = {{0}};
    model_config c = model_config_mamba2_tiny();
    m2_model *m = make_model(&c, SEED * 5, 32);
    int n = 50, toks[50];
    tsup_tokens(toks, n, c.vocab, 200);
    float *ref = floats((size_t)n * VOCAB), *all = floats((size_t)32 * VOCAB);
    float lg[VOCAB], one[VOCAB];
    assert_int_equal(m2_forward_ref(m, toks, n, ref, NULL, &err), 0);
    pool_part part;
    tsup_part_first(l, 2, &part);
    char what[96];
    /* 30 in one prefill vs 9 + 13 + 8 in pieces. */
    assert_int_equal(m2_prefill(m, l->p, &part, toks, 30, one, NULL, &err), 0);
    assert_int_equal(m2_prefill(m, l->p, &part, toks, 9, lg, NULL, &err), 0);
    assert_int_equal(m2_prefill_more(m, l->p, &part, toks + 9, 13, lg, all, &err), 0);
    for (int i = 0; i < 13; i++) {
        snprintf(what, sizeof what, "piece 2 position %d", 9 + i);
        tsup_check_logits(what, all + (size_t)i * VOCAB, ref + (size_t)(9 + i) * VOCAB, VOCAB,
                          LOGIT_TOL);
    }
    assert_int_equal(m2_prefill_more(m, l->p, &part, toks + 22, 8, lg, NULL, &err), 0);
    assert_int_equal(m->n_pos, 30);
    double w = tsup_check_logits("pieces vs one prefill", lg, one, VOCAB, LOGIT_TOL);
    /* Two decodes, then a piece of 20. */
    for (int t = 30; t < 32; t++) {
        assert_int_equal(m2_decode(m, l->p, &part, toks[t], lg, &err), 0);
        tsup_check_logits("decode between pieces", lg, ref + (size_t)t * VOCAB, VOCAB, LOGIT_TOL);
    }
    assert_int_equal(m2_prefill_more(m, l->p, &part, toks + 32, 18, lg, all, &err), 0);
    assert_int_equal(m->n_pos, 50);
    for (int i = 0; i < 18; i++) {
        snprintf(what, sizeof what, "piece 4 position %d", 32 + i);
        tsup_check_logits(what, all + (size_t)i * VOCAB, ref + (size_t)(32 + i) * VOCAB, VOCAB,
                          LOGIT_TOL);
    }
    /* A bad piece changes nothing. */
    int bad[2] = {1, 500};
    assert_int_equal(m2_prefill_more(m, l->p, &part, bad, 2, lg, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "token 500 at position 51"));
    assert_int_equal(m2_prefill_more(m, l->p, &part, bad, 33, lg, NULL, &err), -1);
    assert_int_equal(m->n_pos, 50);
    print_message("pieces vs one prefill: relative difference %.3g\n", w);
    m2_free(m);

    /* The hybrid refuses, its state unchanged. */
    c = model_config_hybrid_tiny();
    m = make_model(&c, SEED, 16);
    assert_int_equal(m2_prefill(m, l->p, &part, toks, 6, one, NULL, &err), 0);
    assert_int_equal(m2_prefill(m, l->p, &part, toks, 5, lg, NULL, &err), 0);
    assert_int_equal(m2_prefill_more(m, l->p, &part, toks + 5, 3, lg, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "hybrid"));
    assert_int_equal(m->n_pos, 5);
    assert_int_equal(m2_decode(m, l->p, &part, toks[5], lg, &err), 0);
    tsup_check_logits("hybrid decode after the refusal", lg, one, VOCAB, LOGIT_TOL);
    free(ref), free(all);
    m2_free(m);
}

/* 1 and 2 workers agree: bit for bit in every prefill and in the pure
 * Mamba-2 decode (every kernel's split keeps each output's arithmetic: GEMM
 * and GEMV rows, conv channel groups, SSD heads, norm and elementwise rows);
 * within LOGIT_TOL in the hybrid's decode, whose attention step splits each
 * KV head's cached positions between the workers and merges partial
 * softmax sums (as tests/test_transformer.c finds for the Transformer). */
static void test_06_workers_agree(void **state)
{
    tsup_live *l = *state;
    cb_err err = {{0}};
    for (int v = 0; v < N_VARIANTS; v++) {
        model_config c = variant(v);
        m2_model *m = make_model(&c, SEED, 40);
        int toks[43];
        tsup_tokens(toks, 43, c.vocab, 300);
        float a[VOCAB], b[VOCAB], da[VOCAB], db[VOCAB];
        pool_part p1, p2;
        tsup_part_first(l, 1, &p1);
        tsup_part_first(l, 2, &p2);
        assert_int_equal(m2_prefill(m, l->p, &p1, toks, 40, a, NULL, &err), 0);
        for (int t = 40; t < 43; t++)
            assert_int_equal(m2_decode(m, l->p, &p1, toks[t], da, &err), 0);
        assert_int_equal(m2_prefill(m, l->p, &p2, toks, 40, b, NULL, &err), 0);
        for (int t = 40; t < 43; t++)
            assert_int_equal(m2_decode(m, l->p, &p2, toks[t], db, &err), 0);
        assert_memory_equal(a, b, sizeof a);
        if (v == V_MAMBA2)
            assert_memory_equal(da, db, sizeof da);
        else
            print_message("hybrid decode, 1 vs 2 workers: relative difference %.3g\n",
                          tsup_check_logits("hybrid decode 1 vs 2 workers", db, da, VOCAB,
                                            LOGIT_TOL));
        m2_free(m);
    }
}

/* The residual stream's RMS stays in range through 24 layers (pure and a
 * hybrid "MMMA" x 6): within a factor 20 of the first layer's, no NaN. */
static void test_07_activations_in_range(void **state)
{
    (void)state;
    cb_err err = {{0}};
    for (int v = 0; v < N_VARIANTS; v++) {
        model_config c = variant(v);
        c.n_layers = 24;
        if (v == V_HYBRID)
            strcpy(c.pattern, "MMMAMMMAMMMAMMMAMMMAMMMA");
        m2_model *m = make_model(&c, SEED + 5, 48);
        int toks[48];
        tsup_tokens(toks, 48, c.vocab, 400);
        double rms[25];
        float *all = floats((size_t)48 * VOCAB);
        assert_int_equal(m2_forward_ref(m, toks, 48, all, rms, &err), 0);
        for (int k = 0; k <= c.n_layers; k++) {
            if (k == 0 || k == 1 || k == c.n_layers)
                print_message("%s, 24 layers: residual RMS after %s %d: %.4f\n", variant_name(v),
                              k ? "layer" : "embedding", k, rms[k]);
            if (!isfinite(rms[k]) || (k > 0 && !(rms[k] < 20 * rms[1] && rms[k] > rms[1] / 20)))
                fail_msg("residual RMS %.4g after layer %d is out of range (layer 1: %.4g)",
                         rms[k], k, rms[1]);
        }
        double mx = 0;
        for (int k = 0; k < 48 * VOCAB; k++) {
            assert_true(isfinite(all[k]));
            mx = fmax(mx, fabs(all[k]));
        }
        assert_true(mx > 0.01 && mx < 50);
        free(all);
        m2_free(m);
    }
}

/* A copy of w (cfg bf16) as an f32 model's weights wf (cfg f32): the
 * matrices widened exactly, the vectors copied. */
static void widen_matrix(const void *src, void *dst, size_t n)
{
    op_w_to_f32(src, OP_W_BF16, dst, n);
}

static void widen_weights(const model_config *c, const m2_weights *w, m2_weights *wf)
{
    size_t d = (size_t)c->d_model, di = 2 * d, N = (size_t)c->d_state,
           H = di / (size_t)c->ssm_head_dim, dc = di + 2 * N, nin = di + dc + H,
           qd = (size_t)c->n_heads * c->head_dim, kvd = (size_t)c->n_kv_heads * c->head_dim,
           f = (size_t)c->ffn_dim, f4 = sizeof(float);
    widen_matrix(w->tok_emb, wf->tok_emb, (size_t)c->vocab * d);
    memcpy(wf->final_norm, w->final_norm, d * f4);
    for (int l = 0; l < c->n_layers; l++) {
        if (m2_is_ssm_layer(c, l)) {
            const m2_layer_weights *a = &w->ssm[l];
            m2_layer_weights *b = &wf->ssm[l];
            memcpy(b->norm, a->norm, d * f4);
            widen_matrix(a->in_proj, b->in_proj, nin * d);
            memcpy(b->conv_w, a->conv_w, dc * 4 * f4);
            memcpy(b->conv_b, a->conv_b, dc * f4);
            memcpy(b->dt_bias, a->dt_bias, H * f4);
            memcpy(b->A_log, a->A_log, H * f4);
            memcpy(b->D, a->D, H * f4);
            memcpy(b->gnorm, a->gnorm, di * f4);
            widen_matrix(a->out_proj, b->out_proj, d * di);
        } else {
            const tf_layer_weights *a = &w->attn[l];
            tf_layer_weights *b = &wf->attn[l];
            memcpy(b->attn_norm, a->attn_norm, d * f4);
            memcpy(b->ffn_norm, a->ffn_norm, d * f4);
            widen_matrix(a->wq, b->wq, qd * d);
            widen_matrix(a->wk, b->wk, kvd * d);
            widen_matrix(a->wv, b->wv, kvd * d);
            widen_matrix(a->wo, b->wo, d * qd);
            widen_matrix(a->w_gate, b->w_gate, f * d);
            widen_matrix(a->w_up, b->w_up, f * d);
            widen_matrix(a->w_down, b->w_down, d * f);
        }
    }
}

/* bf16 storage: the fast prefill equals the reference forward of the same
 * bf16 model, and the f32 model whose weights are the bf16 values. */
static void test_08_bf16_weights(void **state)
{
    tsup_live *l = *state;
    cb_err err = {{0}};
    double worst_ref = 0, worst_f32 = 0;
    for (int v = 0; v < N_VARIANTS; v++) {
        model_config c = variant(v), cf = c;
        model_set_wtype(&c, OP_W_BF16);
        m2_weights wb, wf;
        assert_int_equal(synth_mamba2(&c, SEED + 9, &wb, &err), 0);
        assert_int_equal(m2_weights_alloc(&cf, &wf, &err), 0);
        widen_weights(&c, &wb, &wf);
        assert_true(m2_weight_bytes(&c) < m2_weight_bytes(&cf));
        m2_model *mb = NULL, *mf = NULL;
        assert_int_equal(m2_create(&c, &wb, 24, &mb, &err), 0);
        assert_int_equal(m2_create(&cf, &wf, 24, &mf, &err), 0);
        int toks[24];
        tsup_tokens(toks, 24, c.vocab, 700 + v);
        float *ref = floats((size_t)24 * VOCAB), *ab = floats((size_t)24 * VOCAB),
              *af = floats((size_t)24 * VOCAB);
        pool_part part;
        tsup_part_first(l, 2, &part);
        assert_int_equal(m2_forward_ref(mb, toks, 24, ref, NULL, &err), 0);
        assert_int_equal(m2_prefill(mb, l->p, &part, toks, 24, NULL, ab, &err), 0);
        assert_int_equal(m2_prefill(mf, l->p, &part, toks, 24, NULL, af, &err), 0);
        char what[96];
        for (int i = 0; i < 24; i++) {
            snprintf(what, sizeof what, "%s bf16 vs its reference, position %d", variant_name(v), i);
            worst_ref = fmax(worst_ref, tsup_check_logits(what, ab + (size_t)i * VOCAB,
                                                          ref + (size_t)i * VOCAB, VOCAB,
                                                          LOGIT_TOL));
            snprintf(what, sizeof what, "%s bf16 vs widened f32, position %d", variant_name(v), i);
            worst_f32 = fmax(worst_f32, tsup_check_logits(what, ab + (size_t)i * VOCAB,
                                                          af + (size_t)i * VOCAB, VOCAB,
                                                          LOGIT_TOL));
        }
        free(ref), free(ab), free(af);
        m2_free(mb), m2_free(mf);
    }
    print_message("bf16: worst vs reference %.3g, vs widened f32 model %.3g\n", worst_ref,
                  worst_f32);
}

/* The breakdown: all zero with timing off; with it on, every class a pass
 * uses accumulates (attention only in the hybrid), the sub-model's steps
 * included. */
static void test_09_breakdown(void **state)
{
    tsup_live *l = *state;
    cb_err err = {{0}};
    for (int v = 0; v < N_VARIANTS; v++) {
        model_config c = variant(v);
        m2_model *m = make_model(&c, SEED, 32);
        pool_part part;
        tsup_part_first(l, 2, &part);
        int toks[32];
        tsup_tokens(toks, 32, c.vocab, 500);
        float lg[VOCAB];
        assert_int_equal(m2_prefill(m, l->p, &part, toks, 31, lg, NULL, &err), 0);
        assert_int_equal(m2_decode(m, l->p, &part, toks[31], lg, &err), 0);
        for (int k = 0; k < MX_OP_N; k++)
            assert_true(m->bd.runs[k] == 0 && m->bd.sec[k] == 0);
        m->timing = 1;
        assert_int_equal(m2_prefill(m, l->p, &part, toks, 31, lg, NULL, &err), 0);
        assert_int_equal(m2_decode(m, l->p, &part, toks[31], lg, &err), 0);
        static const mx_op_class used[] = {MX_OP_GEMM, MX_OP_SCAN, MX_OP_CONV, MX_OP_NORM,
                                           MX_OP_ELEMWISE, MX_OP_OTHER};
        for (size_t k = 0; k < sizeof used / sizeof *used; k++)
            assert_true(m->bd.runs[used[k]] > 0 && m->bd.sec[used[k]] > 0);
        int n_ssm = v == V_HYBRID ? 2 : c.n_layers, n_attn = c.n_layers - n_ssm;
        if (v == V_HYBRID)
            assert_true(m->bd.runs[MX_OP_ATTN] >= 2 * n_attn && m->bd.sec[MX_OP_ATTN] > 0);
        else
            assert_int_equal(m->bd.runs[MX_OP_ATTN], 0);
        /* One SSD and one conv per Mamba-2 layer per pass; GEMM steps: 2 per
         * Mamba-2 layer, 4 per attention block (QKV, O, gate-up, down), the
         * LM head. */
        assert_int_equal(m->bd.runs[MX_OP_SCAN], 2 * n_ssm);
        assert_int_equal(m->bd.runs[MX_OP_CONV], 2 * n_ssm);
        assert_int_equal(m->bd.runs[MX_OP_GEMM], 2 * (2 * n_ssm + 4 * n_attn + 1));
        m2_breakdown_clear(m);
        for (int k = 0; k < MX_OP_N; k++)
            assert_int_equal(m->bd.runs[k], 0);
        m->timing = 0;
        assert_int_equal(m2_prefill(m, l->p, &part, toks, 8, lg, NULL, &err), 0);
        for (int k = 0; k < MX_OP_N; k++)
            assert_int_equal(m->bd.runs[k], 0);
        m2_free(m);
    }
}

/* State save after a prefill of t, decodes, load, the same decode again:
 * the same logits (bit for bit: the same arithmetic on the same state). */
static void test_10_state_save_load(void **state)
{
    tsup_live *l = *state;
    cb_err err = {{0}};
    for (int v = 0; v < N_VARIANTS; v++) {
        model_config c = variant(v);
        m2_model *m = make_model(&c, SEED + 11, 32);
        pool_part part;
        tsup_part_first(l, 2, &part);
        int toks[32];
        tsup_tokens(toks, 32, c.vocab, 800 + v);
        float a[VOCAB], b[VOCAB], junk[VOCAB];
        size_t bytes = m2_state_bytes(m);
        void *buf = malloc(bytes);
        assert_non_null(buf);
        assert_int_equal(m2_prefill(m, l->p, &part, toks, 13, junk, NULL, &err), 0);
        m2_state_save(m, buf);
        assert_int_equal(m2_decode(m, l->p, &part, toks[13], a, &err), 0);
        for (int t = 0; t < 5; t++)
            assert_int_equal(m2_decode(m, l->p, &part, toks[20 + t], junk, &err), 0);
        assert_int_equal(m->n_pos, 19);
        m2_state_load(m, buf, 13);
        assert_int_equal(m->n_pos, 13);
        assert_int_equal(m2_decode(m, l->p, &part, toks[13], b, &err), 0);
        assert_memory_equal(a, b, sizeof a);
        free(buf);
        m2_free(m);
    }
}

/* Memory: weights as the formula, the KV cache only for the hybrid, the
 * state n_ssm (dc 3 + H N P) x 4, the total a sum. */
static void test_11_memory_accounting(void **state)
{
    tsup_live *l = *state;
    cb_err err = {{0}};
    for (int v = 0; v < N_VARIANTS; v++) {
        model_config c = variant(v);
        size_t d = (size_t)c.d_model, di = 2 * d, N = (size_t)c.d_state, P = (size_t)c.ssm_head_dim,
               H = di / P, dc = di + 2 * N, nin = di + dc + H;
        int n_ssm = v == V_HYBRID ? 2 : c.n_layers, n_attn = c.n_layers - n_ssm;
        /* Each region is rounded to 64 bytes: the three (H) vectors of 32 bytes take 64. */
        size_t ssm_layer = (d + nin * d + dc * 4 + dc + di + d * di) * 4 + 3 * 64;
        size_t want = (size_t)c.vocab * d * 4 + d * 4 + (size_t)n_ssm * ssm_layer;
        if (n_attn) {
            size_t qd = (size_t)c.n_heads * c.head_dim, kvd = (size_t)c.n_kv_heads * c.head_dim,
                   f = (size_t)c.ffn_dim;
            want += (size_t)n_attn * (2 * d + 2 * qd * d + 2 * kvd * d + 3 * f * d) * 4;
        }
        assert_int_equal(m2_weight_bytes(&c), want);
        m2_model *m = make_model(&c, SEED, 32);
        m2_memory mem = m2_memory_use(m);
        assert_int_equal(mem.weights, want);
        assert_int_equal(mem.state, (size_t)n_ssm * (dc * 3 + H * N * P) * sizeof(float));
        assert_int_equal(m2_state_bytes(m), mem.state);
        if (v == V_HYBRID)
            assert_int_equal(mem.kv_cache, 2 * (size_t)n_attn * c.n_kv_heads * c.head_dim *
                                               (size_t)c.max_context * sizeof(float));
        else
            assert_int_equal(mem.kv_cache, 0);
        assert_true(mem.scratch >= 32 * (2 * d + nin + 2 * dc + 4 * di) * sizeof(float));
        assert_int_equal(mem.total, mem.weights + mem.kv_cache + mem.state + mem.scratch);
        /* A prefill grows the kernel scratch: still a sum. */
        pool_part part;
        tsup_part_first(l, 2, &part);
        int toks[32];
        float lg[VOCAB];
        tsup_tokens(toks, 32, c.vocab, 7);
        assert_int_equal(m2_prefill(m, l->p, &part, toks, 32, lg, NULL, &err), 0);
        m2_memory mem2 = m2_memory_use(m);
        assert_true(mem2.scratch > mem.scratch);
        assert_int_equal(mem2.total, mem2.weights + mem2.kv_cache + mem2.state + mem2.scratch);
        m2_free(m);
    }
}

/* A hybrid whose KV cache is full refuses to decode, the state unchanged;
 * bad tokens and lengths are refused with the position named. */
static void test_12_bad_input_and_full_cache(void **state)
{
    tsup_live *l = *state;
    cb_err err = {{0}};
    model_config c = model_config_hybrid_tiny();
    c.max_context = 8;
    m2_model *m = make_model(&c, SEED, 8);
    pool_part part;
    tsup_part_first(l, 2, &part);
    int toks[9];
    tsup_tokens(toks, 9, c.vocab, 900);
    float lg[VOCAB], want[VOCAB];
    assert_int_equal(m2_prefill(m, l->p, &part, toks, 9, lg, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "prefill of 9"));
    assert_int_equal(m2_prefill(m, l->p, &part, toks, 7, lg, NULL, &err), 0);
    assert_int_equal(m2_decode(m, l->p, &part, toks[7], want, &err), 0);
    assert_int_equal(m->n_pos, 8);
    size_t bytes = m2_state_bytes(m);
    char *before = malloc(bytes), *after = malloc(bytes);
    assert_non_null(before), assert_non_null(after);
    m2_state_save(m, before);
    assert_int_equal(m2_decode(m, l->p, &part, toks[8], lg, &err), -1);
    assert_non_null(strstr(err.msg, "full"));
    assert_non_null(strstr(err.msg, "max_context 8"));
    assert_int_equal(m->n_pos, 8);
    m2_state_save(m, after);
    assert_memory_equal(before, after, bytes);
    /* Back one position: the decode of toks[7] again gives the same logits. */
    assert_int_equal(m2_prefill(m, l->p, &part, toks, 7, lg, NULL, &err), 0);
    assert_int_equal(m2_decode(m, l->p, &part, -1, lg, &err), -1);
    assert_non_null(strstr(err.msg, "token -1 at position 7"));
    assert_int_equal(m->n_pos, 7);
    assert_int_equal(m2_decode(m, l->p, &part, toks[7], lg, &err), 0);
    assert_memory_equal(lg, want, sizeof lg);
    int bad = toks[3];
    toks[3] = VOCAB;
    assert_int_equal(m2_prefill(m, l->p, &part, toks, 5, lg, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "token 97 at position 3"));
    assert_int_equal(m->n_pos, 0);
    assert_int_equal(m2_forward_ref(m, toks, 5, lg, NULL, &err), -1);
    toks[3] = bad;
    assert_int_equal(m2_forward_ref(m, toks, 0, lg, NULL, &err), -1);
    free(before), free(after);
    m2_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_01_config_check),
        cmocka_unit_test(test_02_synth_init),
        cmocka_unit_test(test_03_fast_equals_reference),
        cmocka_unit_test(test_04_decode_matches_prefill),
        cmocka_unit_test(test_05_prefill_in_pieces),
        cmocka_unit_test(test_06_workers_agree),
        cmocka_unit_test(test_07_activations_in_range),
        cmocka_unit_test(test_08_bf16_weights),
        cmocka_unit_test(test_09_breakdown),
        cmocka_unit_test(test_10_state_save_load),
        cmocka_unit_test(test_11_memory_accounting),
        cmocka_unit_test(test_12_bad_input_and_full_cache),
    };
    return cmocka_run_group_tests(tests, tsup_live_setup, tsup_live_teardown);
}
