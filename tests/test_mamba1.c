/* tests/test_mamba1.c — the Mamba-1 model (models/mamba1.h), its config
 * fields and check (models/model.h) and its synthetic weights
 * (models/synth.h).
 *
 * Tiny configurations (vocab 97, d 64, 4 layers, expand 2, dt_rank 4) with
 * d_state 16 and with d_state 5 (not a multiple of any vector width), tied
 * and untied, on the live pool with 1 and 2 workers: the fast forward
 * against the reference forward; decode after a prefill of t tokens against
 * a prefill of t + 1 tokens; a prefill continued in pieces; workers agree;
 * activation RMS through the layers; config checks naming the field; memory
 * accounting; synthetic initialisation; the breakdown; bad input.
 *
 * Tolerance (LOGIT_TOL): |a - b| <= LOGIT_TOL x (max |b| over the row + 1e-3)
 * per logit.  The fast kernels sum in float and use vector exps (2e-7
 * relative) where the references sum in double with libm; decode runs the
 * step kernels where prefill runs the scan and conv prefill kernels. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/mamba1.h"
#include "models/model.h"
#include "models/synth.h"
#include "models/transformer.h"
#include "tests/support/live_pool.h"
#include "tests/support/model_check.h"

#define LOGIT_TOL 1e-5
#define SEED 20261122u

enum { V_BASE, V_N5, V_UNTIED, N_VARIANTS };

static model_config variant(int v)
{
    model_config c = model_config_mamba1_tiny();
    if (v == V_N5)
        c.d_state = 5;
    if (v == V_UNTIED)
        c.tied_embeddings = 0, c.n_layers = 2, c.rms_eps = 1e-6f;
    return c;
}

static m1_model *make_model(const model_config *c, uint64_t seed, int max_prefill)
{
    m1_weights w;
    cb_err err = {{0}};
    m1_model *m = NULL;
    if (synth_mamba1(c, seed, &w, &err) != 0)
        fail_msg("synth: %s", err.msg);
    if (m1_create(c, &w, max_prefill, &m, &err) != 0)
        fail_msg("m1_create: %s", err.msg);
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
    /* mamba-130m passes; the attention fields are not looked at. */
    model_config c = model_config_mamba1_tiny();
    c.vocab = 50280, c.d_model = 768, c.n_layers = 24, c.dt_rank = 48;
    assert_int_equal(model_config_check(&c, &err), 0);
    c = model_config_mamba1_tiny();
    c.d_state = 0, tsup_expect_config_refused(c, "d_state"), c = model_config_mamba1_tiny();
    c.d_state = 1025, tsup_expect_config_refused(c, "d_state"), c = model_config_mamba1_tiny();
    c.d_conv = 3, tsup_expect_config_refused(c, "d_conv"), c = model_config_mamba1_tiny();
    c.d_conv = 0, tsup_expect_config_refused(c, "d_conv"), c = model_config_mamba1_tiny();
    c.expand = 0, tsup_expect_config_refused(c, "expand"), c = model_config_mamba1_tiny();
    c.dt_rank = 0, tsup_expect_config_refused(c, "dt_rank"), c = model_config_mamba1_tiny();
    c.dt_rank = 129, tsup_expect_config_refused(c, "dt_rank"), c = model_config_mamba1_tiny();
    c.vocab = 0, tsup_expect_config_refused(c, "vocab"), c = model_config_mamba1_tiny();
    c.d_model = -1, tsup_expect_config_refused(c, "d_model"), c = model_config_mamba1_tiny();
    c.n_layers = 0, tsup_expect_config_refused(c, "n_layers"), c = model_config_mamba1_tiny();
    c.rms_eps = NAN, tsup_expect_config_refused(c, "rms_eps"), c = model_config_mamba1_tiny();
    c.tied_embeddings = 2, tsup_expect_config_refused(c, "tied_embeddings"), c = model_config_mamba1_tiny();
    c.expand = 1 << 16, c.d_model = 1 << 15, tsup_expect_config_refused(c, "expand"),
    c = model_config_mamba1_tiny();
    c.d_model = 1 << 15, tsup_expect_config_refused(c, "in_proj"), c = model_config_mamba1_tiny();

    /* The models refuse each other's configs; m1_create refuses a bad
     * max_prefill and leaves the weights the caller's. */
    m1_weights w;
    m1_model *m = NULL;
    tf_weights tw;
    c = model_config_mamba1_tiny();
    assert_int_equal(tf_weights_alloc(&c, &tw, &err), -1);
    assert_non_null(strstr(err.msg, "arch"));
    model_config tc = model_config_tiny();
    assert_int_equal(synth_mamba1(&tc, SEED, &w, &err), -1);
    assert_non_null(strstr(err.msg, "arch"));
    assert_int_equal(synth_mamba1(&c, SEED, &w, &err), 0);
    assert_int_equal(m1_create(&c, &w, 0, &m, &err), -1);
    assert_non_null(strstr(err.msg, "max_prefill"));
    assert_int_equal(m1_create(&tc, &w, 8, &m, &err), -1);
    assert_null(m);
    assert_non_null(w.tok_emb);
    m1_weights_free(&w);
    m1_weights_free(&w); /* zeroed: no-op */
    m1_free(NULL);
}

/* ---- weights and memory ------------------------------------------------------------ */

static void test_02_memory_accounting(void **state)
{
    for (int v = 0; v < N_VARIANTS; v++) {
        model_config c = variant(v);
        size_t d = (size_t)c.d_model, di = 2 * d, R = (size_t)c.dt_rank, N = (size_t)c.d_state;
        size_t per_layer = d + 2 * di * d + 4 * di + di + (R + 2 * N) * di + di * R + di +
                           di * N + di + d * di;
        size_t want = ((size_t)c.vocab * d * (c.tied_embeddings ? 1 : 2) + d +
                       (size_t)c.n_layers * per_layer) *
                      4;
        assert_int_equal(m1_weight_bytes(&c), want);
        m1_model *m = make_model(&c, SEED, 32);
        m1_memory mem = m1_memory_use(m);
        assert_int_equal(mem.weights, want);
        assert_int_equal(mem.state, (size_t)c.n_layers * di * (3 + N) * sizeof(float));
        assert_int_equal(mem.derived, (size_t)c.n_layers * di * N * sizeof(float));
        assert_true(mem.scratch >= 32 * (2 * d + 8 * di) * sizeof(float));
        assert_int_equal(mem.total, mem.weights + mem.derived + mem.state + mem.scratch);
        /* A prefill grows the kernel scratch: still a sum. */
        pool_part part;
        tsup_live *l = *state;
        tsup_part_first(l, 2, &part);
        int toks[32];
        float lg[97];
        cb_err err = {{0}};
        tsup_tokens(toks, 32, c.vocab, 7);
        assert_int_equal(m1_prefill(m, l->p, &part, toks, 32, lg, NULL, &err), 0);
        m1_memory mem2 = m1_memory_use(m);
        assert_true(mem2.scratch > mem.scratch);
        assert_int_equal(mem2.total, mem2.weights + mem2.derived + mem2.state + mem2.scratch);
        if (c.tied_embeddings)
            assert_ptr_equal(m->w.lm_head, m->w.tok_emb);
        else
            assert_ptr_not_equal(m->w.lm_head, m->w.tok_emb);
        m1_free(m);
    }
}

/* Synthetic weights: deterministic, and initialised as mamba_ssm does. */
static void test_03_synth_init(void **state)
{
    model_config c = variant(V_BASE);
    cb_err err = {{0}};
    m1_weights a, b, x;
    assert_int_equal(synth_mamba1(&c, 7, &a, &err), 0);
    assert_int_equal(synth_mamba1(&c, 7, &b, &err), 0);
    assert_int_equal(synth_mamba1(&c, 8, &x, &err), 0);
    size_t n = m1_weight_bytes(&c);
    assert_memory_equal(a.owner, b.owner, n);
    assert_true(memcmp(a.owner, x.owner, n) != 0);
    int d = c.d_model, di = 2 * d, N = c.d_state, R = c.dt_rank;
    const m1_layer_weights *L = &a.layers[1];
    for (int ch = 0; ch < di; ch++) {
        assert_true(L->D[ch] == 1.0f);
        for (int k = 0; k < N; k++)
            assert_true(fabs(L->A_log[ch * N + k] - log(k + 1.0)) < 1e-6);
        /* softplus(bias) is dt in [1e-3, 1e-1]. */
        double dt = log1p(exp((double)L->dt_proj_b[ch]));
        if (!(dt > 0.999e-3 && dt < 0.1001))
            fail_msg("channel %d: softplus(dt bias) = %g outside [1e-3, 1e-1]", ch, dt);
    }
    double mx_conv = 0, mx_dt = 0, mx_in = 0, mx_out = 0;
    for (int i = 0; i < di * 4; i++)
        mx_conv = fmax(mx_conv, fabs(L->conv_w[i]));
    for (int i = 0; i < di * R; i++)
        mx_dt = fmax(mx_dt, fabs(((const float *)L->dt_proj_w)[i]));
    for (int i = 0; i < 2 * di * d; i++)
        mx_in = fmax(mx_in, fabs(((const float *)L->in_proj)[i]));
    for (int i = 0; i < d * di; i++)
        mx_out = fmax(mx_out, fabs(((const float *)L->out_proj)[i]));
    assert_true(mx_conv <= 0.5 && mx_conv > 0.45);
    assert_true(mx_dt <= 1 / sqrt(R) && mx_dt > 0.9 / sqrt(R));
    assert_true(mx_in <= 1 / sqrt(d) && mx_in > 0.9 / sqrt(d));
    assert_true(mx_out <= 1 / sqrt(di) && mx_out > 0.9 / sqrt(di));
    assert_true(L->norm[3] == 1.0f && a.final_norm[0] == 1.0f);
    double s = 0;
    size_t ne = (size_t)c.vocab * d;
    for (size_t i = 0; i < ne; i++)
        s += (double)((const float *)a.tok_emb)[i] * ((const float *)a.tok_emb)[i];
    assert_true(fabs(sqrt(s / ne) - 0.02) < 0.002);
    m1_weights_free(&a);
    m1_weights_free(&b);
    m1_weights_free(&x);
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
        m1_model *m = make_model(&c, SEED + v, 48);
        int n = 41, toks[48];
        tsup_tokens(toks, n, c.vocab, v);
        float *ref = malloc((size_t)n * c.vocab * sizeof(float));
        float *all = malloc((size_t)n * c.vocab * sizeof(float));
        float *last = malloc((size_t)c.vocab * sizeof(float));
        float *last2 = malloc((size_t)c.vocab * sizeof(float));
        assert_non_null(ref), assert_non_null(all), assert_non_null(last), assert_non_null(last2);
        if (m1_forward_ref(m, toks, n, ref, NULL, &err) != 0)
            fail_msg("reference: %s", err.msg);
        for (int nw = 1; nw <= 2; nw++) {
            pool_part part;
            tsup_part_first(l, nw, &part);
            if (m1_prefill(m, l->p, &part, toks, n, last, all, &err) != 0)
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
            assert_int_equal(m1_prefill(m, l->p, &part, toks, n, last2, NULL, &err), 0);
            assert_memory_equal(last, last2, c.vocab * sizeof(float));
        }
        free(ref), free(all), free(last), free(last2);
        m1_free(m);
    }
    print_message("fast vs reference: worst relative difference %.3g\n", worst);
}

/* Decoding token t after a prefill of t tokens == prefill of t + 1 tokens. */
static void test_05_decode_matches_prefill(void **state)
{
    tsup_live *l = *state;
    cb_err err = {{0}};
    static const int ts[] = {1, 2, 7, 16, 33};
    double worst = 0;
    for (int v = 0; v < N_VARIANTS; v++) {
        model_config c = variant(v);
        m1_model *m = make_model(&c, SEED * 3 + v, 64);
        int toks[64];
        tsup_tokens(toks, 64, c.vocab, 100 + v);
        float a[97], b[97];
        for (int nw = 1; nw <= 2; nw++) {
            pool_part part;
            tsup_part_first(l, nw, &part);
            for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) {
                int t = ts[i];
                if (m1_prefill(m, l->p, &part, toks, t + 1, b, NULL, &err) != 0)
                    fail_msg("prefill %d: %s", t + 1, err.msg);
                assert_int_equal(m1_prefill(m, l->p, &part, toks, t, a, NULL, &err), 0);
                if (m1_decode(m, l->p, &part, toks[t], a, &err) != 0)
                    fail_msg("decode at %d: %s", t, err.msg);
                assert_int_equal(m->n_pos, t + 1);
                char what[96];
                snprintf(what, sizeof what, "variant %d, %d workers, t = %d", v, nw, t);
                worst = fmax(worst, tsup_check_logits(what, a, b, c.vocab, LOGIT_TOL));
            }
        }
        m1_free(m);
    }
    print_message("decode vs prefill: worst relative difference %.3g\n", worst);
}

/* A decode chain from an empty state, and a prefill continued in pieces
 * (m1_prefill_more, also after decodes), give every position's logits of
 * the reference forward over the whole sequence. */
static void test_06_chain_and_continued_prefill(void **state)
{
    tsup_live *l = *state;
    cb_err err = {{0}};
    for (int v = 0; v < N_VARIANTS; v++) {
        model_config c = variant(v);
        m1_model *m = make_model(&c, SEED * 5 + v, 32);
        int n = 50, toks[50];
        tsup_tokens(toks, n, c.vocab, 200 + v);
        float *ref = malloc((size_t)n * c.vocab * sizeof(float));
        float *all = malloc((size_t)32 * c.vocab * sizeof(float));
        float lg[97];
        assert_non_null(ref), assert_non_null(all);
        assert_int_equal(m1_forward_ref(m, toks, n, ref, NULL, &err), 0);
        pool_part part;
        tsup_part_first(l, 2, &part);
        char what[96];
        /* Decode chain from empty over the first 20 tokens. */
        m1_reset(m);
        for (int t = 0; t < 20; t++) {
            assert_int_equal(m1_decode(m, l->p, &part, toks[t], lg, &err), 0);
            snprintf(what, sizeof what, "variant %d, decode chain at %d", v, t);
            tsup_check_logits(what, lg, ref + (size_t)t * c.vocab, c.vocab, LOGIT_TOL);
        }
        /* Pieces: 9 (prefill), 13 (more), 2 decodes, 26 (more). */
        assert_int_equal(m1_prefill(m, l->p, &part, toks, 9, lg, NULL, &err), 0);
        tsup_check_logits("piece 1", lg, ref + 8 * c.vocab, c.vocab, LOGIT_TOL);
        assert_int_equal(m1_prefill_more(m, l->p, &part, toks + 9, 13, lg, all, &err), 0);
        for (int i = 0; i < 13; i++) {
            snprintf(what, sizeof what, "variant %d, piece 2 position %d", v, 9 + i);
            tsup_check_logits(what, all + (size_t)i * c.vocab, ref + (size_t)(9 + i) * c.vocab,
                         c.vocab, LOGIT_TOL);
        }
        for (int t = 22; t < 24; t++) {
            assert_int_equal(m1_decode(m, l->p, &part, toks[t], lg, &err), 0);
            tsup_check_logits("decode between pieces", lg, ref + (size_t)t * c.vocab, c.vocab, LOGIT_TOL);
        }
        assert_int_equal(m1_prefill_more(m, l->p, &part, toks + 24, 26, lg, all, &err), 0);
        assert_int_equal(m->n_pos, 50);
        for (int i = 0; i < 26; i++) {
            snprintf(what, sizeof what, "variant %d, piece 3 position %d", v, 24 + i);
            tsup_check_logits(what, all + (size_t)i * c.vocab, ref + (size_t)(24 + i) * c.vocab,
                         c.vocab, LOGIT_TOL);
        }
        free(ref), free(all);
        m1_free(m);
    }
}

/* 1 and 2 workers agree bit for bit: every kernel's split keeps each
 * output's arithmetic (GEMM/GEMV rows, conv and scan channel groups, norm
 * rows). */
static void test_07_workers_agree(void **state)
{
    tsup_live *l = *state;
    cb_err err = {{0}};
    for (int v = 0; v < N_VARIANTS; v++) {
        model_config c = variant(v);
        m1_model *m = make_model(&c, SEED, 40);
        int toks[43];
        tsup_tokens(toks, 43, c.vocab, 300);
        float a[97], b[97], da[97], db[97];
        pool_part p1, p2;
        tsup_part_first(l, 1, &p1);
        tsup_part_first(l, 2, &p2);
        assert_int_equal(m1_prefill(m, l->p, &p1, toks, 40, a, NULL, &err), 0);
        for (int t = 40; t < 43; t++)
            assert_int_equal(m1_decode(m, l->p, &p1, toks[t], da, &err), 0);
        assert_int_equal(m1_prefill(m, l->p, &p2, toks, 40, b, NULL, &err), 0);
        for (int t = 40; t < 43; t++)
            assert_int_equal(m1_decode(m, l->p, &p2, toks[t], db, &err), 0);
        assert_memory_equal(a, b, sizeof a);
        assert_memory_equal(da, db, sizeof da);
        m1_free(m);
    }
}

/* The residual stream's RMS stays in a sane range through 4 layers (and 24,
 * mamba-130m's depth, on the narrow model), and the logits are finite and
 * of a sane size. */
static void test_08_activations_in_range(void **state)
{
    cb_err err = {{0}};
    int depths[] = {4, 24};
    for (int v = 0; v < 2; v++)
        for (int i = 0; i < 2; i++) {
            model_config c = variant(v);
            c.n_layers = depths[i];
            m1_model *m = make_model(&c, SEED + 5, 64);
            int toks[64];
            tsup_tokens(toks, 64, c.vocab, 400);
            double rms[25];
            float *all = malloc((size_t)64 * c.vocab * sizeof(float));
            assert_non_null(all);
            assert_int_equal(m1_forward_ref(m, toks, 64, all, rms, &err), 0);
            for (int k = 0; k <= c.n_layers; k++) {
                if (k == 0 || k == c.n_layers || c.n_layers == 4)
                    print_message("N %d, layers %d: residual RMS after %s %d: %.4f\n", c.d_state,
                                  c.n_layers, k ? "layer" : "embedding", k, rms[k]);
                if (!(rms[k] > 0.005 && rms[k] < 10))
                    fail_msg("residual RMS %.4g after layer %d is out of range", rms[k], k);
                if (k > 0 && !(rms[k] < 4 * rms[k - 1] + 0.05))
                    fail_msg("residual RMS jumps from %.4g to %.4g at layer %d", rms[k - 1],
                             rms[k], k);
            }
            double mx = 0;
            for (int k = 0; k < 64 * c.vocab; k++) {
                assert_true(isfinite(all[k]));
                mx = fmax(mx, fabs(all[k]));
            }
            assert_true(mx > 0.01 && mx < 50);
            free(all);
            m1_free(m);
        }
}

/* Bad input to the forward passes: a clear error, nothing crashes, and a
 * refused m1_prefill_more / m1_decode leaves the state as it was. */
static void test_09_bad_input(void **state)
{
    tsup_live *l = *state;
    cb_err err = {{0}};
    model_config c = variant(V_BASE);
    m1_model *m = make_model(&c, SEED, 16);
    pool_part part;
    tsup_part_first(l, 2, &part);
    float lg[97], want[97];
    int toks[17] = {0};
    tsup_tokens(toks, 17, c.vocab, 600);
    int bad = toks[3];
    assert_int_equal(m1_prefill(m, l->p, &part, toks, 17, lg, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "prefill of 17"));
    assert_int_equal(m1_prefill(m, l->p, &part, toks, 0, lg, NULL, &err), -1);
    toks[3] = 97;
    assert_int_equal(m1_prefill(m, l->p, &part, toks, 5, lg, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "token 97 at position 3"));
    assert_int_equal(m->n_pos, 0);
    toks[3] = bad;
    /* The logits of toks[0..7) in one prefill, to compare after refusals. */
    assert_int_equal(m1_prefill(m, l->p, &part, toks, 7, want, NULL, &err), 0);
    assert_int_equal(m1_prefill(m, l->p, &part, toks, 5, lg, NULL, &err), 0);
    assert_int_equal(m1_decode(m, l->p, &part, -1, lg, &err), -1);
    assert_non_null(strstr(err.msg, "token -1 at position 5"));
    assert_int_equal(m1_decode(m, l->p, &part, 97, lg, &err), -1);
    int bad2[2] = {toks[5], 1000};
    assert_int_equal(m1_prefill_more(m, l->p, &part, bad2, 2, lg, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "token 1000 at position 6"));
    assert_int_equal(m1_prefill_more(m, l->p, &part, bad2, 17, lg, NULL, &err), -1);
    assert_int_equal(m->n_pos, 5);
    assert_int_equal(m1_prefill_more(m, l->p, &part, toks + 5, 2, lg, NULL, &err), 0);
    tsup_check_logits("after refusals", lg, want, c.vocab, LOGIT_TOL);
    assert_int_equal(m1_forward_ref(m, toks, 0, lg, NULL, &err), -1);
    toks[0] = -5;
    assert_int_equal(m1_forward_ref(m, toks, 2, lg, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "token -5"));
    m1_free(m);
}

/* The breakdown: off by default, every class a pass uses accumulates when on. */
static void test_10_breakdown(void **state)
{
    tsup_live *l = *state;
    cb_err err = {{0}};
    model_config c = variant(V_BASE);
    m1_model *m = make_model(&c, SEED, 32);
    pool_part part;
    tsup_part_first(l, 2, &part);
    int toks[32];
    tsup_tokens(toks, 32, c.vocab, 500);
    float lg[97];
    assert_int_equal(m1_prefill(m, l->p, &part, toks, 32, lg, NULL, &err), 0);
    for (int k = 0; k < MX_OP_N; k++)
        assert_int_equal(m->bd.runs[k], 0);
    m->timing = 1;
    assert_int_equal(m1_prefill(m, l->p, &part, toks, 31, lg, NULL, &err), 0);
    assert_int_equal(m1_decode(m, l->p, &part, toks[31], lg, &err), 0);
    for (int k = 0; k < MX_OP_N; k++) {
        int used = k != MX_OP_ATTN; /* no attention layers here */
        assert_true(used ? m->bd.runs[k] > 0 && m->bd.sec[k] > 0 : m->bd.runs[k] == 0);
    }
    /* GEMM steps per pass: 4 per layer (in, x, dt, out) + the LM head;
     * one scan and one conv per layer. */
    assert_int_equal(m->bd.runs[MX_OP_GEMM], 2 * (4 * c.n_layers + 1));
    assert_int_equal(m->bd.runs[MX_OP_SCAN], 2 * c.n_layers);
    assert_int_equal(m->bd.runs[MX_OP_CONV], 2 * c.n_layers);
    assert_string_equal(mx_op_class_name(MX_OP_SCAN), "ssm_scan");
    assert_string_equal(mx_op_class_name(MX_OP_CONV), "conv");
    assert_string_equal(mx_op_class_name(MX_OP_OTHER), "other");
    assert_string_equal(mx_op_class_name((mx_op_class)99), "?");
    m1_breakdown_clear(m);
    assert_int_equal(m->bd.runs[MX_OP_GEMM], 0);
    m1_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_01_config_check),
        cmocka_unit_test(test_02_memory_accounting),
        cmocka_unit_test(test_03_synth_init),
        cmocka_unit_test(test_04_fast_equals_reference),
        cmocka_unit_test(test_05_decode_matches_prefill),
        cmocka_unit_test(test_06_chain_and_continued_prefill),
        cmocka_unit_test(test_07_workers_agree),
        cmocka_unit_test(test_08_activations_in_range),
        cmocka_unit_test(test_09_bad_input),
        cmocka_unit_test(test_10_breakdown),
    };
    return cmocka_run_group_tests(tests, tsup_live_setup, tsup_live_teardown);
}
