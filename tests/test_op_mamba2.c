/* tests/test_op_mamba2.c — the Mamba-2 SSD operator (operators/ssd.h) and its
 * registry entries (operators/mamba2_entry.c, included here under another
 * array name to reach the instance struct).
 *
 * Kernels against the double reference on awkward shapes (L = 1 and L not a
 * multiple of any block, one head, P = 1, 3, 17, 64, 80, N = 1, 16, 17, 128)
 * within SSD_TOL x mag; bit-identical results for 1, 2 and 3 workers (workers
 * run one after another, no pool); the identities: chunked == recurrent for
 * chunk lengths 1, 7, 64, 256 and one not dividing L, step after a prefill of
 * L == row L of a prefill of L + 1, a prefill split in two (through the
 * state) == one prefill; the entries: check() refusals naming the field,
 * cost(), create/run/verify/destroy round trips, a decode step bounded under
 * thousands of runs, and verify() failing on a corrupted output or state. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define op_family_mamba2 tst_family_mamba2
#include "operators/mamba2_entry.c"
#include "tests/support/op_check.h"
#undef op_family_mamba2

/* ---- inputs ------------------------------------------------------------------------------ */

/* One problem: inputs owned here, outputs allocated by the cases. */
typedef struct prob {
    op_ssd_shape s;
    float *x, *dt, *dt_bias, *A_log, *B, *C, *D;
} prob;

/* Inputs as the entries draw them (the same generator and ranges). */
static prob prob_make(int64_t L, int H, int P, int N, uint64_t seed)
{
    prob pr = {{L, H, P, N}, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    m2_inst m = {.s = pr.s};
    m.x = tsup_floats((size_t)L * H * P);
    m.dt = tsup_floats((size_t)L * H);
    m.B = tsup_floats((size_t)L * N);
    m.C = tsup_floats((size_t)L * N);
    m.dt_bias = tsup_floats((size_t)H);
    m.A_log = tsup_floats((size_t)H);
    m.D = tsup_floats((size_t)H);
    m2_fill_params(&m, seed);
    m2_fill(&m, L, seed);
    pr.x = m.x, pr.dt = m.dt, pr.B = m.B, pr.C = m.C;
    pr.dt_bias = m.dt_bias, pr.A_log = m.A_log, pr.D = m.D;
    return pr;
}

static void prob_free(prob *pr)
{
    free(pr->x), free(pr->dt), free(pr->B), free(pr->C);
    free(pr->dt_bias), free(pr->A_log), free(pr->D);
}

static op_ssd_in prob_in(const prob *pr)
{
    op_ssd_in in = {pr->x, pr->dt, pr->dt_bias, pr->A_log, pr->B, pr->C, pr->D};
    return in;
}

/* The inputs of token t alone (a one-token view into the arrays). */
static op_ssd_in prob_token(const prob *pr, int64_t t)
{
    const op_ssd_shape *s = &pr->s;
    op_ssd_in in = {pr->x + (size_t)t * s->H * s->P, pr->dt + (size_t)t * s->H, pr->dt_bias,
                    pr->A_log, pr->B + (size_t)t * s->N, pr->C + (size_t)t * s->N, pr->D};
    return in;
}

/* The reference over every head: y, mag and the final state (caller frees). */
static void ref_all(const prob *pr, const float *state0, float **y, float **mag, float **state)
{
    const op_ssd_shape *s = &pr->s;
    const size_t rows = (size_t)s->L * s->H * s->P;
    *y = tsup_floats(rows);
    *mag = tsup_floats(rows);
    *state = tsup_floats((size_t)s->H * s->N * s->P);
    void *scr = malloc(op_ssd_ref_scratch_bytes(s));
    assert_non_null(scr);
    op_ssd_in in = prob_in(pr);
    op_ssd_ref(s, &in, state0, 0, s->H, *y, *mag, *state, scr);
    free(scr);
}

/* ---- fast forms, all workers in turn ----------------------------------------------------- */

enum form { F_REC, F_CHUNK };

static void run_form(enum form f, const prob *pr, int q, const float *state0, float *y,
                     float *state, int n_workers)
{
    op_ssd_in in = prob_in(pr);
    void *scr = NULL;
    if (f == F_CHUNK) {
        scr = malloc(op_ssd_chunked_scratch_bytes(&pr->s, q, n_workers));
        assert_non_null(scr);
    }
    for (int w = 0; w < n_workers; w++) {
        if (f == F_REC)
            op_ssd_recurrent_part(&pr->s, &in, state0, y, state, w, n_workers);
        else
            op_ssd_chunked_part(&pr->s, &in, q, state0, y, state, scr, w, n_workers);
    }
    free(scr);
}

/* |got - want| <= tol x scale for n elements (NaN fails). */
static void expect_close(const char *what, const float *got, const float *want,
                         const float *scale, size_t n, double tol)
{
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (!(d <= tol * scale[i] + 1e-30))
            fail_msg("%s: element %zu = %.9g, expected %.9g (|diff| %.3g > %.3g)", what, i,
                     got[i], want[i], d, tol * scale[i]);
    }
}

/* The state tolerance scale: the largest |reference| of each head. */
static float *state_scale(const op_ssd_shape *s, const float *ref)
{
    const size_t NP = (size_t)s->N * s->P;
    float *sc = tsup_floats((size_t)s->H * NP);
    for (int h = 0; h < s->H; h++) {
        float big = 0.0f;
        for (size_t i = 0; i < NP; i++)
            big = fmaxf(big, fabsf(ref[h * NP + i]));
        for (size_t i = 0; i < NP; i++)
            sc[h * NP + i] = big;
    }
    return sc;
}

/* One form on one shape, for 1, 2 and 3 workers: within tolerance of the
 * reference, and bit-identical across worker counts. */
static void check_form(enum form f, int64_t L, int H, int P, int N, int q)
{
    prob pr = prob_make(L, H, P, N, (uint64_t)(L * 131 + H * 17 + P * 7 + N + q));
    float *yr, *mag, *sr;
    ref_all(&pr, NULL, &yr, &mag, &sr);
    float *ssc = state_scale(&pr.s, sr);
    const size_t rows = (size_t)L * H * P, ns = (size_t)H * N * P;
    float *y1 = NULL, *s1 = NULL;
    for (int nw = 1; nw <= 3; nw++) {
        float *y = tsup_nans(rows), *st = tsup_nans(ns);
        run_form(f, &pr, q, NULL, y, st, nw);
        char what[128];
        snprintf(what, sizeof what, "%s L=%lld H=%d P=%d N=%d q=%d workers=%d y",
                 f == F_REC ? "recurrent" : "chunked", (long long)L, H, P, N, q, nw);
        expect_close(what, y, yr, mag, rows, SSD_TOL);
        strcat(what, " state");
        expect_close(what, st, sr, ssc, ns, SSD_TOL);
        if (!y1) {
            y1 = y, s1 = st;
            continue;
        }
        assert_memory_equal(y, y1, rows * sizeof(float));
        assert_memory_equal(st, s1, ns * sizeof(float));
        free(y), free(st);
    }
    free(y1), free(s1), free(yr), free(mag), free(sr), free(ssc);
    prob_free(&pr);
}

/* ---- kernels against the reference ------------------------------------------------------- */

static void test_01_recurrent_matches_reference(void **state)
{
    (void)state;
    static const int Ps[] = {1, 3, 17, 64, 80};
    static const int Ns[] = {1, 16, 17};
    for (size_t i = 0; i < sizeof Ps / sizeof *Ps; i++)
        for (size_t j = 0; j < sizeof Ns / sizeof *Ns; j++)
            check_form(F_REC, 37, 3, Ps[i], Ns[j], 0);
    check_form(F_REC, 70, 1, 64, 128, 0);  /* one head; more tokens than a delta block */
    check_form(F_REC, 1, 2, 17, 5, 0);     /* L = 1 */
}

static void test_02_chunked_matches_reference(void **state)
{
    (void)state;
    static const int Ps[] = {1, 3, 17, 64, 80};
    static const int Ns[] = {1, 16, 17};
    for (size_t i = 0; i < sizeof Ps / sizeof *Ps; i++)
        for (size_t j = 0; j < sizeof Ns / sizeof *Ns; j++)
            check_form(F_CHUNK, 37, 3, Ps[i], Ns[j], 16);
    check_form(F_CHUNK, 150, 1, 64, 128, 64); /* one head; a short last chunk */
    check_form(F_CHUNK, 100, 2, 130, 7, 70);  /* P crosses two column tiles */
    check_form(F_CHUNK, 1, 2, 17, 5, 64);     /* L = 1 */
    check_form(F_CHUNK, 9, 2, 8, 4, 1);       /* chunk 1 */
}

/* ---- identities -------------------------------------------------------------------------- */

/* chunked == recurrent for chunks 1, 7, 64, 256 and 100 (not dividing L). */
static void test_03_chunked_equals_recurrent(void **state)
{
    (void)state;
    const int64_t L = 300;
    prob pr = prob_make(L, 2, 64, 128, 3);
    float *yr, *mag, *sr;
    ref_all(&pr, NULL, &yr, &mag, &sr);
    float *ssc = state_scale(&pr.s, sr);
    const size_t rows = (size_t)L * 2 * 64, ns = 2 * 128 * 64;
    float *yrec = tsup_nans(rows), *srec = tsup_nans(ns);
    run_form(F_REC, &pr, 0, NULL, yrec, srec, 2);
    static const int qs[] = {1, 7, 64, 256, 100};
    for (size_t i = 0; i < sizeof qs / sizeof *qs; i++) {
        float *y = tsup_nans(rows), *st = tsup_nans(ns);
        run_form(F_CHUNK, &pr, qs[i], NULL, y, st, 2);
        char what[64];
        snprintf(what, sizeof what, "chunk %d vs recurrent: y", qs[i]);
        expect_close(what, y, yrec, mag, rows, 2 * SSD_TOL);
        snprintf(what, sizeof what, "chunk %d vs recurrent: state", qs[i]);
        expect_close(what, st, srec, ssc, ns, 2 * SSD_TOL);
        free(y), free(st);
    }
    free(yrec), free(srec), free(yr), free(mag), free(sr), free(ssc);
    prob_free(&pr);
}

/* A step after a prefill of L (either form) == row L of a prefill of L + 1. */
static void test_04_step_after_prefill(void **state)
{
    (void)state;
    const int64_t L = 77;
    const int H = 3, P = 20, N = 24;
    prob pr = prob_make(L + 1, H, P, N, 4);
    float *yr, *mag, *sr;
    ref_all(&pr, NULL, &yr, &mag, &sr);
    const size_t row = (size_t)H * P, ns = (size_t)H * N * P;
    prob head = pr;
    head.s.L = L; /* the first L tokens, same arrays */
    for (int f = 0; f < 2; f++) {
        float *y = tsup_nans((size_t)L * row), *st = tsup_nans(ns), *ys = tsup_nans(row);
        run_form(f == 0 ? F_REC : F_CHUNK, &head, 32, NULL, y, st, 2);
        op_ssd_in tok = prob_token(&pr, L);
        for (int w = 0; w < 3; w++)
            op_ssd_step_part(&pr.s, &tok, st, ys, w, 3);
        expect_close(f == 0 ? "step after recurrent prefill" : "step after chunked prefill", ys,
                     yr + (size_t)L * row, mag + (size_t)L * row, row, SSD_TOL);
        float *ssc = state_scale(&pr.s, sr);
        expect_close("state after the step", st, sr, ssc, ns, SSD_TOL);
        free(ssc), free(y), free(st), free(ys);
    }
    free(yr), free(mag), free(sr);
    prob_free(&pr);
}

/* A prefill of L1 then one of L2 from its state == one prefill of L1 + L2. */
static void test_05_prefill_continues_from_state(void **state)
{
    (void)state;
    const int64_t L1 = 50, L2 = 45;
    const int H = 2, P = 33, N = 40;
    prob pr = prob_make(L1 + L2, H, P, N, 5);
    float *yr, *mag, *sr;
    ref_all(&pr, NULL, &yr, &mag, &sr);
    const size_t row = (size_t)H * P, ns = (size_t)H * N * P;
    for (int f = 0; f < 2; f++) {
        enum form fm = f == 0 ? F_REC : F_CHUNK;
        prob a = pr, b = pr;
        a.s.L = L1;
        b.s.L = L2;
        b.x += (size_t)L1 * row, b.dt += (size_t)L1 * H;
        b.B += (size_t)L1 * N, b.C += (size_t)L1 * N;
        float *y = tsup_nans((size_t)(L1 + L2) * row), *st = tsup_nans(ns), *st2 = tsup_nans(ns);
        run_form(fm, &a, 16, NULL, y, st, 1);
        run_form(fm, &b, 16, st, y + (size_t)L1 * row, st2, 2); /* state0 != state */
        expect_close("split prefill", y, yr, mag, (size_t)(L1 + L2) * row, SSD_TOL);
        run_form(fm, &b, 16, st, y + (size_t)L1 * row, st, 3);  /* state0 == state */
        expect_close("split prefill, in place", y, yr, mag, (size_t)(L1 + L2) * row, SSD_TOL);
        float *ssc = state_scale(&pr.s, sr);
        expect_close("split prefill state", st, sr, ssc, ns, SSD_TOL);
        free(ssc), free(y), free(st), free(st2);
    }
    free(yr), free(mag), free(sr);
    prob_free(&pr);
}

/* A long prefill with the Mamba-2 shape stays within tolerance (the decay
 * of slow heads spans the whole sequence; chunk cumulative sums reach the
 * hundreds). */
static void test_06_long_sequence(void **state)
{
    (void)state;
    check_form(F_CHUNK, 600, 2, 64, 128, 256);
    check_form(F_REC, 600, 1, 64, 16, 0);
}

/* Extreme decays: heads whose decay per token reaches e^-2.6 (segments of
 * the rescaled recurrence end every few tokens) and e^-100 (a token alone
 * takes the plain step; the chunked form's exps flush to zero), and a head
 * that barely decays (one segment spans the whole block). */
static void test_13_extreme_decays(void **state)
{
    (void)state;
    const int64_t L = 150;
    const int H = 3, P = 20, N = 9;
    prob pr = prob_make(L, H, P, N, 13);
    pr.A_log[0] = logf(16.0f), pr.dt_bias[0] = 0.0f;    /* delta ~ 0.7: a ~ -11 */
    pr.A_log[1] = logf(1000.0f), pr.dt_bias[1] = -2.0f; /* a ~ -130 */
    pr.A_log[2] = logf(1.0f), pr.dt_bias[2] = -12.0f;   /* a ~ -6e-6 */
    float *yr, *mag, *sr;
    ref_all(&pr, NULL, &yr, &mag, &sr);
    float *ssc = state_scale(&pr.s, sr);
    const size_t rows = (size_t)L * H * P, ns = (size_t)H * N * P;
    for (int f = 0; f < 2; f++) {
        float *y = tsup_nans(rows), *st = tsup_nans(ns);
        run_form(f == 0 ? F_REC : F_CHUNK, &pr, 64, NULL, y, st, 2);
        expect_close(f == 0 ? "recurrent, extreme decays" : "chunked, extreme decays", y, yr,
                     mag, rows, SSD_TOL);
        expect_close("state, extreme decays", st, sr, ssc, ns, SSD_TOL);
        free(y), free(st);
    }
    free(yr), free(mag), free(sr), free(ssc);
    prob_free(&pr);
}

/* ---- entries ----------------------------------------------------------------------------- */

static op_dims dims(int64_t L, int H, int P, int N, int chunk)
{
    op_dims d = {.seq_len = L, .n_heads = H, .n_kv_heads = 0, .head_dim = P, .d_model = 0,
                 .d_inner = 0, .d_state = N, .chunk = chunk};
    return d;
}

static void test_07_check_refuses_bad_shapes(void **state)
{
    (void)state;
    for (int i = 0; tst_family_mamba2[i]; i++) {
        const op_entry *e = tst_family_mamba2[i];
        cb_err err = {{0}};
        op_dims ok = dims(64, 4, 16, 8, 0);
        assert_int_equal(e->check(&ok, &err), 0);
        tsup_expect_refused(e, dims(0, 4, 16, 8, 0), "seq_len");
        tsup_expect_refused(e, dims((int64_t)1 << 40, 4, 16, 8, 0), "seq_len");
        tsup_expect_refused(e, dims(64, 0, 16, 8, 0), "n_heads");
        tsup_expect_refused(e, dims(64, 4, 0, 8, 0), "head_dim");
        tsup_expect_refused(e, dims(64, 4, 16, 0, 0), "d_state");
        tsup_expect_refused(e, dims(64, 4, 16, -3, 0), "d_state");
        tsup_expect_refused(e, dims(1 << 24, 4096, 4096, 8, 0), "x (seq_len"); /* 2^50 bytes */
    }
    const op_entry *ch = tst_family_mamba2[1];
    assert_string_equal(ch->name, "mamba2_ssd.chunked");
    tsup_expect_refused(ch, dims(64, 4, 16, 8, -1), "chunk");
    tsup_expect_refused(ch, dims(64, 4, 16, 8, 5000), "chunk");
}

static void test_08_cost(void **state)
{
    (void)state;
    for (int i = 0; tst_family_mamba2[i]; i++) {
        const op_entry *e = tst_family_mamba2[i];
        op_dims d = dims(1024, 24, 64, 128, 0);
        op_cost c = e->cost(&d);
        assert_true(c.flops > 0.0 && c.bytes > 0.0);
        assert_true(c.state_bytes == 4.0 * 24 * 64 * 128);
        assert_string_equal(e->op, "mamba2_ssd");
        assert_string_equal(e->family, "sub-quadratic");
    }
    /* The recurrent count: rescaled (AVX-512) 4 P N + 4 P + 8 per token and
     * head + P N per 64-token block and head; plain 5 P N + 3 P + 4. */
    op_ssd_shape s = {10, 2, 4, 3};
    if (strcmp(op_ssd_isa(), "avx512f") == 0)
        assert_true(op_ssd_recurrent_flops(&s) == 10.0 * 2 * (4 * 12 + 4 * 4 + 8) + 2 * 12);
    else
        assert_true(op_ssd_recurrent_flops(&s) == 10.0 * 2 * (5 * 12 + 3 * 4 + 4));
    assert_true(op_ssd_step_flops(&s) == 2.0 * (5 * 12 + 3 * 4 + 4));
    /* Chunked, chunk 1, from zero state: G 2 N + head (Y_diag 2 P, mask 3,
     * chunk state 2 N P, decay 2 N P, x scaling P, scalars 8). */
    op_ssd_shape one = {1, 1, 4, 3};
    assert_true(op_ssd_chunked_flops(&one, 1, 1) == 2.0 * 3 + (2.0 * 4 + 3 + 24 + 24 + 4 + 8));
    /* The count grows with the chunk at fixed L (the quadratic intra-chunk part). */
    op_ssd_shape big = {4096, 24, 64, 128};
    assert_true(op_ssd_chunked_flops(&big, 256, 1) > op_ssd_chunked_flops(&big, 64, 1));
}

static void round_trip(const op_entry *e, op_dims d, int workers)
{
    cb_err err = {{0}};
    void *inst = NULL;
    if (e->create(&d, 42, workers, &inst, &err) != 0)
        fail_msg("%s create: %s", e->name, err.msg);
    for (int rep = 0; rep < 2; rep++)
        for (int w = 0; w < workers; w++)
            e->run(inst, w, workers);
    if (e->verify(inst, &err) != 0)
        fail_msg("%s verify (%d workers): %s", e->name, workers, err.msg);
    e->destroy(inst);
}

static void test_09_round_trip(void **state)
{
    (void)state;
    for (int i = 0; tst_family_mamba2[i]; i++)
        for (int w = 1; w <= 3; w++) {
            round_trip(tst_family_mamba2[i], dims(130, 5, 24, 16, 0), w);
            round_trip(tst_family_mamba2[i], dims(1, 1, 3, 1, 0), w);
        }
    round_trip(tst_family_mamba2[1], dims(200, 3, 64, 128, 7), 2);
    tst_family_mamba2[0]->destroy(NULL);
}

/* Thousands of decode steps: the state stays finite and matches k steps. */
static void test_10_step_bounded(void **state)
{
    (void)state;
    const op_entry *e = tst_family_mamba2[2];
    op_dims d = dims(8192, 4, 64, 128, 0);
    cb_err err = {{0}};
    void *inst = NULL;
    assert_int_equal(e->create(&d, 7, 2, &inst, &err), 0);
    for (int r = 0; r < 3000; r++)
        for (int w = 0; w < 2; w++)
            e->run(inst, w, 2);
    m2_inst *m = inst;
    for (size_t i = 0; i < (size_t)4 * 128 * 64; i++)
        assert_true(isfinite(m->state[i]) && fabsf(m->state[i]) < 100.0f);
    if (e->verify(inst, &err) != 0)
        fail_msg("after 3000 steps: %s", err.msg);
    e->destroy(inst);
}

/* verify() can fail: a corrupted output element, a corrupted state element,
 * a head no worker ran. */
static void test_11_verify_catches_corruption(void **state)
{
    (void)state;
    for (int i = 0; tst_family_mamba2[i]; i++) {
        const op_entry *e = tst_family_mamba2[i];
        op_dims d = dims(40, 3, 16, 8, 0);
        cb_err err = {{0}};
        void *inst = NULL;
        assert_int_equal(e->create(&d, 9, 2, &inst, &err), 0);
        m2_inst *m = inst;
        const size_t ny = (size_t)(m->impl == M2_STEP ? 1 : 40) * 3 * 16;
        /* Only worker 0 of 2: the last head is unwritten. */
        e->run(inst, 0, 2);
        assert_int_equal(e->verify(inst, &err), -1);
        e->run(inst, 1, 2);
        assert_int_equal(e->verify(inst, &err), 0);
        float keep = m->y[ny - 1];
        m->y[ny - 1] += 1e-2f * (1.0f + fabsf(keep));
        assert_int_equal(e->verify(inst, &err), -1);
        assert_non_null(strstr(err.msg, e->name));
        m->y[ny - 1] = keep;
        assert_int_equal(e->verify(inst, &err), 0);
        m->state[3 * 16 * 8 - 1] += 0.5f;
        assert_int_equal(e->verify(inst, &err), -1);
        assert_non_null(strstr(err.msg, "state"));
        e->destroy(inst);
    }
}

/* The same seed gives the same inputs and outputs; a decode state is finite. */
static void test_12_deterministic(void **state)
{
    (void)state;
    const op_entry *e = tst_family_mamba2[1];
    op_dims d = dims(33, 2, 8, 4, 0);
    void *a = NULL, *b = NULL;
    cb_err err = {{0}};
    assert_int_equal(e->create(&d, 5, 1, &a, &err), 0);
    assert_int_equal(e->create(&d, 5, 3, &b, &err), 0);
    e->run(a, 0, 1);
    for (int w = 0; w < 3; w++)
        e->run(b, w, 3);
    assert_memory_equal(((m2_inst *)a)->y, ((m2_inst *)b)->y, 33 * 2 * 8 * sizeof(float));
    e->destroy(a);
    e->destroy(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_01_recurrent_matches_reference),
        cmocka_unit_test(test_02_chunked_matches_reference),
        cmocka_unit_test(test_03_chunked_equals_recurrent),
        cmocka_unit_test(test_04_step_after_prefill),
        cmocka_unit_test(test_05_prefill_continues_from_state),
        cmocka_unit_test(test_06_long_sequence),
        cmocka_unit_test(test_07_check_refuses_bad_shapes),
        cmocka_unit_test(test_08_cost),
        cmocka_unit_test(test_09_round_trip),
        cmocka_unit_test(test_10_step_bounded),
        cmocka_unit_test(test_11_verify_catches_corruption),
        cmocka_unit_test(test_12_deterministic),
        cmocka_unit_test(test_13_extreme_decays),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
