/* tests/test_op_mamba1.c — the Mamba-1 family: selective scan and causal
 * conv1d kernels (operators/selective_scan.h, operators/conv1d.h) and their
 * registry entries (op_family_mamba1, operators/mamba1_entry.c).
 *
 * The vector exp and softplus against libm; the fast scans (sequential,
 * chunked, time-split phases, step) and convs against the double references
 * within the stated tolerances on awkward shapes (L = 1, L not a multiple of
 * the token block, N = 1, 3, 17, 128, d_inner not a multiple of the vector
 * width), with 1, 2 and 3 workers run one after another (no pool); results
 * bit-identical whatever the worker count; the identities chunked ==
 * sequential (chunk 1, non-dividing, >= L), a decode step after a prefill of
 * L tokens == the last row of a prefill of L + 1 (scan and conv), a prefill
 * continued from a state == one longer prefill; the entries' checks, costs,
 * a create/run/verify/destroy round trip, bounded state under repeated steps,
 * and verify() failing on a corrupted output. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operators/conv1d.h"
#include "operators/op.h"
#include "operators/selective_scan.h"

/* The entries' instance layouts (scan_inst, conv_inst), to corrupt an output
 * and to read the decode state; op_family_mamba1 then comes from here rather
 * than from the library's copy of the file. */
#include "operators/mamba1_entry.c"
#include "tests/support/op_check.h"

/* ---- helpers ------------------------------------------------------------------------------ */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static float rnd(float lo, float hi)
{
    return lo + (hi - lo) * (float)tsup_rnd_unit(&rng_state);
}

/* One scan problem with realistic inputs (see mamba1_entry.c) and an
 * optional random initial state. */
typedef struct problem {
    op_mamba1_scan_in in;
    float *x, *dr, *z, *B, *C, *bias, *A_log, *D, *h0;
} problem;

static problem make_problem(int64_t L, int d_inner, int N, int with_h0)
{
    problem p;
    size_t nx = (size_t)L * d_inner, nb = (size_t)L * N, nh = (size_t)d_inner * N;
    p.x = tsup_floats(nx), p.dr = tsup_floats(nx), p.z = tsup_floats(nx), p.B = tsup_floats(nb),
    p.C = tsup_floats(nb);
    p.bias = tsup_floats((size_t)d_inner), p.D = tsup_floats((size_t)d_inner),
    p.A_log = tsup_floats(nh);
    p.h0 = with_h0 ? tsup_floats(nh) : NULL;
    for (size_t i = 0; i < nx; i++) {
        p.x[i] = rnd(-1, 1);
        p.dr[i] = rnd(-0.5f, 0.5f);
        p.z[i] = rnd(-1, 1);
    }
    for (size_t i = 0; i < nb; i++) {
        p.B[i] = rnd(-1, 1);
        p.C[i] = rnd(-1, 1);
    }
    for (int d = 0; d < d_inner; d++) {
        double dt = exp(log(1e-3) + rnd(0, 1) * (log(1e-1) - log(1e-3)));
        p.bias[d] = (float)(dt + log(-expm1(-dt)));
        p.D[d] = 1.0f;
        for (int n = 0; n < N; n++)
            p.A_log[(size_t)d * N + n] = logf((float)(n + 1));
    }
    for (size_t i = 0; with_h0 && i < nh; i++)
        p.h0[i] = rnd(-0.3f, 0.3f);
    op_mamba1_scan_in in = {L, d_inner, N, p.x, p.dr, p.bias, p.A_log, p.B, p.C, p.D, p.z, p.h0,
                            NULL};
    p.in = in;
    return p;
}

static void free_problem(problem *p)
{
    free(p->x), free(p->dr), free(p->z), free(p->B), free(p->C);
    free(p->bias), free(p->D), free(p->A_log), free(p->h0);
}

/* y (L, d_inner) and h (d_inner, N) within OP_MAMBA1_TOL of the reference. */
static void check_scan_close(const op_mamba1_scan_in *in, const float *y, const float *h,
                             const char *what)
{
    int64_t L = in->L;
    float *yr = tsup_floats((size_t)L), *ym = tsup_floats((size_t)L),
          *hr = tsup_floats((size_t)in->N), *hm = tsup_floats((size_t)in->N);
    for (int d = 0; d < in->d_inner; d++) {
        op_mamba1_scan_ref_channel(in, d, yr, 1, ym, hr, hm);
        for (int64_t t = 0; t < L; t++) {
            double diff = fabs((double)y[t * in->d_inner + d] - yr[t]);
            if (!(diff <= OP_MAMBA1_TOL * ym[t] + 1e-30))
                fail_msg("%s L=%lld d_inner=%d N=%d: y[%lld,%d] = %.9g, reference %.9g (mag %.3g)",
                         what, (long long)L, in->d_inner, in->N, (long long)t, d,
                         y[t * in->d_inner + d], yr[t], ym[t]);
        }
        for (int n = 0; h && n < in->N; n++) {
            double diff = fabs((double)h[(size_t)d * in->N + n] - hr[n]);
            if (!(diff <= OP_MAMBA1_TOL * hm[n] + 1e-30))
                fail_msg("%s L=%lld d_inner=%d N=%d: h[%d,%d] = %.9g, reference %.9g (mag %.3g)",
                         what, (long long)L, in->d_inner, in->N, d, n,
                         h[(size_t)d * in->N + n], hr[n], hm[n]);
        }
    }
    free(yr), free(ym), free(hr), free(hm);
}

static void *scratch_for(int d_inner, int N, int n_workers)
{
    void *s = aligned_alloc(64, op_mamba1_scan_scratch_bytes(d_inner, N, n_workers));
    assert_non_null(s);
    return s;
}

/* Sequential scan with n_workers slices run one after another. */
static void fast_seq(const op_mamba1_scan_in *in, float *y, float *h, int n_workers)
{
    void *s = scratch_for(in->d_inner, in->N, n_workers);
    for (int w = 0; w < n_workers; w++)
        op_mamba1_scan_part(in, y, h, s, w, n_workers);
    free(s);
}

static void fast_chunked(const op_mamba1_scan_in *in, int chunk, float *y, float *h, int n_workers)
{
    void *s = scratch_for(in->d_inner, in->N, n_workers);
    for (int w = 0; w < n_workers; w++)
        op_mamba1_chunked_part(in, chunk, y, h, s, w, n_workers);
    free(s);
}

static const op_entry *entry(const char *name)
{
    for (int i = 0; op_family_mamba1[i]; i++)
        if (strcmp(op_family_mamba1[i]->name, name) == 0)
            return op_family_mamba1[i];
    fail_msg("no entry %s", name);
    return NULL;
}

static const char *const entry_names[] = {"mamba1_scan.sequential", "mamba1_scan.chunked",
                                          "mamba1_scan.step", "conv1d.causal", "conv1d.step"};
#define N_ENTRIES 5

/* ---- 01-02: exp and softplus ----------------------------------------------------------------- */

/* Relative error < 2e-7 against expf wherever expf is a normal float; within
 * one subnormal step below; 0 and inf at the ends. */
static void test_01_exp_accuracy(void **state)
{
    (void)state;
    const size_t n = 1 << 20;
    float *x = tsup_floats(n), *y = tsup_floats(n);
    for (size_t i = 0; i < n; i++)
        x[i] = i % 2 ? -110.0f + 200.0f * (float)i / (float)n : rnd(-90, 90);
    x[0] = 0.0f, x[1] = -1000.0f, x[2] = 1000.0f, x[3] = -87.0f, x[4] = 88.7f, x[5] = -1e-30f;
    op_mamba1_exp_array(x, y, n);
    assert_true(y[0] == 1.0f);
    assert_true(y[1] == 0.0f);
    assert_true(isinf(y[2]));
    for (size_t i = 3; i < n; i++) {
        float want = expf(x[i]);
        double diff = fabs((double)y[i] - want);
        if (want >= FLT_MIN && !isinf(want)) {
            if (!(diff <= 2e-7 * want))
                fail_msg("exp(%.9g) = %.9g, expf %.9g (rel %.3g)", x[i], y[i], want, diff / want);
        } else if (!isinf(want) && !(diff <= 1.5e-45)) {
            fail_msg("exp(%.9g) = %.9g, expf %.9g (subnormal)", x[i], y[i], want);
        }
    }
    free(x), free(y);
}

static void test_02_softplus_accuracy(void **state)
{
    (void)state;
    const size_t n = 1 << 18;
    float *x = tsup_floats(n), *y = tsup_floats(n);
    for (size_t i = 0; i < n; i++)
        x[i] = -80.0f + 160.0f * (float)i / (float)n;
    op_mamba1_softplus_array(x, y, n);
    for (size_t i = 0; i < n; i++) {
        double want = x[i] < 20.0f ? log1p(exp((double)x[i])) : x[i];
        if (x[i] >= 20.0f)
            assert_true(y[i] == x[i]);
        else if (!(fabs(y[i] - want) <= 1e-6 * want))
            fail_msg("softplus(%.9g) = %.9g, reference %.9g", x[i], y[i], want);
    }
    free(x), free(y);
}

/* ---- 03-05: prefill scans -------------------------------------------------------------------- */

static const int64_t scan_Ls[] = {1, 5, 64, 65, 200};
static const int scan_ds[] = {1, 3, 16, 17, 40};
static const int scan_Ns[] = {1, 3, 16, 17, 128};

/* Fast sequential == reference on awkward shapes, from zero and from a given
 * state; 1, 2, 3 workers give the same bits; h may equal h0 (in place). */
static void test_03_sequential_vs_reference(void **state)
{
    (void)state;
    for (int li = 0; li < 5; li++)
        for (int di = 0; di < 5; di++)
            for (int ni = 0; ni < 5; ni++) {
                if ((li + di + ni) % 2 && !(scan_Ls[li] == 1 || scan_Ns[ni] == 17))
                    continue; /* a spread of the product keeps the SAN build quick */
                int64_t L = scan_Ls[li];
                int d = scan_ds[di], N = scan_Ns[ni], with_h0 = (li + ni) % 2;
                problem p = make_problem(L, d, N, with_h0);
                size_t ny = (size_t)L * d, nh = (size_t)d * N;
                float *y1 = tsup_nans(ny), *h1 = tsup_nans(nh);
                fast_seq(&p.in, y1, h1, 1);
                check_scan_close(&p.in, y1, h1, "sequential");
                for (int nw = 2; nw <= 3; nw++) {
                    float *y2 = tsup_nans(ny), *h2 = tsup_nans(nh);
                    fast_seq(&p.in, y2, h2, nw);
                    assert_memory_equal(y1, y2, ny * sizeof(float));
                    assert_memory_equal(h1, h2, nh * sizeof(float));
                    free(y2), free(h2);
                }
                { /* precomputed decay rates: the same bits */
                    float *A2 = tsup_floats(nh), *y4 = tsup_nans(ny), *h4 = tsup_nans(nh);
                    op_mamba1_decay_rates(p.A_log, A2, nh);
                    op_mamba1_scan_in in2 = p.in;
                    in2.A2 = A2;
                    fast_seq(&in2, y4, h4, 2);
                    assert_memory_equal(y1, y4, ny * sizeof(float));
                    assert_memory_equal(h1, h4, nh * sizeof(float));
                    free(A2), free(y4), free(h4);
                }
                if (with_h0) { /* in place: h0 overwritten by the final state */
                    float *y3 = tsup_nans(ny);
                    float *h_in = p.h0;
                    fast_seq(&p.in, y3, h_in, 2);
                    assert_memory_equal(y1, y3, ny * sizeof(float));
                    assert_memory_equal(h1, h_in, nh * sizeof(float));
                    free(y3);
                }
                free(y1), free(h1);
                free_problem(&p);
            }
}

/* Chunked == sequential (within tolerance, via the reference) for chunk 1,
 * non-dividing chunks, chunk == L and chunk > L (== sequential bit for bit). */
static void test_04_chunked_equals_sequential(void **state)
{
    (void)state;
    static const struct { int64_t L; int d, N, with_h0; } shapes[] = {
        {1, 3, 16, 0}, {65, 17, 3, 1}, {200, 16, 16, 0}, {130, 5, 17, 1}, {70, 3, 128, 0},
    };
    static const int chunks[] = {1, 2, 7, 64, 0 /* = L */, -3 /* = L + 3 */};
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
        problem p = make_problem(shapes[si].L, shapes[si].d, shapes[si].N, shapes[si].with_h0);
        int64_t L = p.in.L;
        size_t ny = (size_t)L * p.in.d_inner, nh = (size_t)p.in.d_inner * p.in.N;
        float *ys = tsup_nans(ny), *hs = tsup_nans(nh);
        fast_seq(&p.in, ys, hs, 1);
        for (size_t ci = 0; ci < sizeof chunks / sizeof *chunks; ci++) {
            int chunk = chunks[ci] > 0 ? chunks[ci] : (int)L - chunks[ci];
            for (int nw = 1; nw <= 3; nw++) {
                float *yc = tsup_nans(ny), *hc = tsup_nans(nh);
                fast_chunked(&p.in, chunk, yc, hc, nw);
                check_scan_close(&p.in, yc, hc, "chunked");
                if (chunk >= L) {
                    assert_memory_equal(ys, yc, ny * sizeof(float));
                    assert_memory_equal(hs, hc, nh * sizeof(float));
                }
                free(yc), free(hc);
            }
        }
        free(ys), free(hs);
        free_problem(&p);
    }
}

/* The time-split phases (barrier between phases = one loop over workers per
 * phase) give op_mamba1_chunked_part's bits for 1, 2 and 3 workers. */
static void test_05_chunked_phases(void **state)
{
    (void)state;
    static const struct { int64_t L; int d, N, chunk, with_h0; } shapes[] = {
        {200, 17, 16, 32, 0}, {65, 40, 3, 7, 1}, {9, 3, 128, 1, 1}, {50, 16, 17, 64, 0},
    };
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
        problem p = make_problem(shapes[si].L, shapes[si].d, shapes[si].N, shapes[si].with_h0);
        int chunk = shapes[si].chunk;
        size_t ny = (size_t)p.in.L * p.in.d_inner, nh = (size_t)p.in.d_inner * p.in.N;
        float *yc = tsup_nans(ny), *hc = tsup_nans(nh);
        fast_chunked(&p.in, chunk, yc, hc, 1);
        size_t wsb = op_mamba1_chunked_ws_bytes(p.in.L, p.in.d_inner, p.in.N, chunk);
        assert_true(wsb > 0);
        for (int nw = 1; nw <= 3; nw++) {
            void *ws = aligned_alloc(64, (wsb + 63) & ~(size_t)63);
            void *scr = scratch_for(p.in.d_inner, p.in.N, nw);
            assert_non_null(ws);
            float *y = tsup_nans(ny), *h = tsup_nans(nh);
            for (int phase = 1; phase <= 3; phase++)
                for (int w = 0; w < nw; w++)
                    op_mamba1_chunked_phase(&p.in, chunk, phase, y, h, ws, scr, w, nw);
            assert_memory_equal(yc, y, ny * sizeof(float));
            assert_memory_equal(hc, h, nh * sizeof(float));
            free(ws), free(scr), free(y), free(h);
        }
        free(yc), free(hc);
        free_problem(&p);
    }
    assert_int_equal(op_mamba1_chunked_ws_bytes(0, 16, 16, 8), 0);
}

/* ---- 06-08: step ----------------------------------------------------------------------------- */

/* The inputs of token t of p as a one-token scan from state h0. */
static op_mamba1_scan_in token_of(const problem *p, int64_t t, const float *h0)
{
    op_mamba1_scan_in in = p->in;
    size_t ox = (size_t)t * in.d_inner, ob = (size_t)t * in.N;
    in.L = 1;
    in.x += ox, in.delta_raw += ox, in.z += ox, in.B += ob, in.C += ob;
    in.h0 = h0;
    return in;
}

/* A step after a prefill of L tokens == row L of a prefill of L + 1 tokens
 * within tolerance (y sums the states in another order), and the same final
 * state bit for bit. */
static void test_06_step_after_prefill(void **state)
{
    (void)state;
    static const struct { int64_t L; int d, N; } shapes[] = {
        {1, 3, 16}, {64, 17, 17}, {100, 40, 1}, {20, 16, 128}, {7, 33, 3},
    };
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
        int64_t L = shapes[si].L;
        int d = shapes[si].d, N = shapes[si].N;
        problem p = make_problem(L + 1, d, N, 0);
        size_t nh = (size_t)d * N;
        float *y_long = tsup_nans((size_t)(L + 1) * d), *h_long = tsup_nans(nh);
        fast_seq(&p.in, y_long, h_long, 2);
        op_mamba1_scan_in pre = p.in;
        pre.L = L;
        float *y_pre = tsup_nans((size_t)L * d), *h = tsup_nans(nh), *y_step = tsup_nans((size_t)d);
        fast_seq(&pre, y_pre, h, 3);
        op_mamba1_scan_in tok = token_of(&p, L, h);
        for (int w = 0; w < 2; w++)
            op_mamba1_step_part(&tok, h, h, y_step, w, 2); /* in place */
        float *hr = tsup_floats((size_t)N), *hm = tsup_floats((size_t)N);
        /* the reference over L + 1 tokens gives the scale */
        float *yref = tsup_floats((size_t)(L + 1)), *ymag = tsup_floats((size_t)(L + 1));
        for (int c = 0; c < d; c++) {
            op_mamba1_scan_ref_channel(&p.in, c, yref, 1, ymag, hr, hm);
            double diff = fabs((double)y_step[c] - y_long[L * d + c]);
            if (!(diff <= 2 * OP_MAMBA1_TOL * ymag[L] + 1e-30))
                fail_msg("step after %lld: y[%d] = %.9g, prefill row %.9g", (long long)L, c,
                         y_step[c], y_long[L * d + c]);
            for (int n = 0; n < N; n++) {
                diff = fabs((double)h[(size_t)c * N + n] - h_long[(size_t)c * N + n]);
                if (!(diff <= 2 * OP_MAMBA1_TOL * hm[n] + 1e-30))
                    fail_msg("step after %lld: h[%d,%d] = %.9g, prefill %.9g", (long long)L, c,
                             n, h[(size_t)c * N + n], h_long[(size_t)c * N + n]);
            }
        }
        /* the state update is the same operations in both kernels */
        assert_memory_equal(h, h_long, nh * sizeof(float));
        free(yref), free(ymag), free(hr), free(hm);
        free(y_long), free(h_long), free(y_pre), free(h), free(y_step);
        free_problem(&p);
    }
}

/* Step vs the reference, in place and out of place, 1-3 workers. */
static void test_07_step_vs_reference(void **state)
{
    (void)state;
    static const int ds[] = {1, 3, 16, 17, 40}, Ns[] = {1, 3, 16, 17, 128};
    for (int di = 0; di < 5; di++)
        for (int ni = 0; ni < 5; ni++) {
            int d = ds[di], N = Ns[ni];
            problem p = make_problem(1, d, N, 1);
            size_t nh = (size_t)d * N;
            float *y_ref = tsup_nans((size_t)d), *h_ref = tsup_nans(nh);
            op_mamba1_scan_ref(&p.in, y_ref, h_ref);
            check_scan_close(&p.in, y_ref, h_ref, "reference vs itself");
            for (int nw = 1; nw <= 3; nw++) {
                float *y = tsup_nans((size_t)d), *h = tsup_nans(nh), *h_io = tsup_floats(nh);
                memcpy(h_io, p.h0, nh * sizeof(float));
                for (int w = 0; w < nw; w++)
                    op_mamba1_step_part(&p.in, p.h0, h, y, w, nw);
                check_scan_close(&p.in, y, h, "step");
                float *y2 = tsup_nans((size_t)d);
                for (int w = 0; w < nw; w++)
                    op_mamba1_step_part(&p.in, h_io, h_io, y2, w, nw);
                assert_memory_equal(y, y2, (size_t)d * sizeof(float));
                assert_memory_equal(h, h_io, nh * sizeof(float));
                /* precomputed decay rates: the same bits */
                float *A2 = tsup_floats(nh), *y3 = tsup_nans((size_t)d), *h3 = tsup_nans(nh);
                op_mamba1_decay_rates(p.A_log, A2, nh);
                op_mamba1_scan_in in2 = p.in;
                in2.A2 = A2;
                for (int w = 0; w < nw; w++)
                    op_mamba1_step_part(&in2, p.h0, h3, y3, w, nw);
                assert_memory_equal(y, y3, (size_t)d * sizeof(float));
                assert_memory_equal(h, h3, nh * sizeof(float));
                free(y), free(h), free(h_io), free(y2), free(A2), free(y3), free(h3);
            }
            free(y_ref), free(h_ref);
            free_problem(&p);
        }
}

/* Thousands of steps through the entry stay finite and bounded, and verify
 * keeps passing. */
static void test_08_step_state_bounded(void **state)
{
    (void)state;
    const op_entry *e = entry("mamba1_scan.step");
    op_dims d = {.seq_len = 4096, .d_inner = 40, .d_state = 17};
    void *inst = NULL;
    cb_err err;
    assert_int_equal(e->create(&d, 7, 2, &inst, &err), 0);
    for (int r = 0; r < 3000; r++)
        for (int w = 0; w < 2; w++)
            e->run(inst, w, 2);
    if (e->verify(inst, &err) != 0)
        fail_msg("%s", err.msg);
    const scan_inst *s = inst;
    for (size_t i = 0; i < 2 * (size_t)d.d_inner * d.d_state; i++)
        if (!(fabsf(s->h[i]) <= 10.0f)) /* |h| settles near |B x| / |A| <= 1 */
            fail_msg("step state h[%zu] = %g after 3000 steps", i, s->h[i]);
    const op_entry *c = entry("conv1d.step");
    void *ci = NULL;
    assert_int_equal(c->create(&d, 7, 2, &ci, &err), 0);
    for (int r = 0; r < 3000; r++)
        for (int w = 0; w < 2; w++)
            c->run(ci, w, 2);
    if (c->verify(ci, &err) != 0)
        fail_msg("%s", err.msg);
    const conv_inst *cs = ci;
    for (size_t i = 0; i < 2 * (size_t)d.d_inner * (OP_CONV1D_WIDTH - 1); i++)
        assert_true(fabsf(cs->s[i]) <= 1.0f); /* the state only ever holds inputs */
    e->destroy(inst);
    c->destroy(ci);
}

/* ---- 09-11: conv1d --------------------------------------------------------------------------- */

static void conv_inputs(int64_t L, int C, float **x, float **w, float **b, float **s)
{
    *x = tsup_floats((size_t)L * C), *w = tsup_floats((size_t)C * OP_CONV1D_WIDTH),
    *b = tsup_floats((size_t)C);
    *s = tsup_floats((size_t)C * (OP_CONV1D_WIDTH - 1));
    for (size_t i = 0; i < (size_t)L * C; i++)
        (*x)[i] = rnd(-1, 1);
    for (size_t i = 0; i < (size_t)C * OP_CONV1D_WIDTH; i++)
        (*w)[i] = rnd(-0.5f, 0.5f);
    for (int i = 0; i < C; i++)
        (*b)[i] = rnd(-0.5f, 0.5f);
    for (size_t i = 0; i < (size_t)C * (OP_CONV1D_WIDTH - 1); i++)
        (*s)[i] = rnd(-1, 1);
}

static void conv_fast(const float *x, const float *w, const float *b, const float *s_in,
                      float *out, float *s_out, int64_t L, int C, int nw)
{
    void *scr = malloc(op_conv1d_scratch_bytes(C));
    assert_non_null(scr);
    for (int k = 0; k < nw; k++)
        op_conv1d_causal_part(x, w, b, s_in, out, s_out, L, C, scr, k, nw);
    free(scr);
}

static void check_conv_close(const float *x, const float *w, const float *b, const float *s_in,
                             const float *out, const float *s_out, int64_t L, int C)
{
    float *ref = tsup_floats((size_t)L), *mag = tsup_floats((size_t)L), sr[OP_CONV1D_WIDTH - 1];
    for (int c = 0; c < C; c++) {
        op_conv1d_causal_ref_channel(x, w, b, s_in, L, C, c, ref, 1, mag, sr);
        for (int64_t t = 0; t < L; t++)
            if (!(fabs((double)out[t * C + c] - ref[t]) <= OP_CONV1D_TOL * mag[t] + 1e-30))
                fail_msg("conv L=%lld C=%d: out[%lld,%d] = %.9g, reference %.9g", (long long)L, C,
                         (long long)t, c, out[t * C + c], ref[t]);
        for (int k = 0; s_out && k < OP_CONV1D_WIDTH - 1; k++)
            assert_true(s_out[(size_t)c * (OP_CONV1D_WIDTH - 1) + k] == sr[k]);
    }
    free(ref), free(mag);
}

static void test_09_conv_vs_reference(void **state)
{
    (void)state;
    static const int64_t Ls[] = {1, 2, 3, 4, 5, 100};
    static const int Cs[] = {1, 3, 16, 17, 40, 100};
    for (int li = 0; li < 6; li++)
        for (int ci = 0; ci < 6; ci++) {
            int64_t L = Ls[li];
            int C = Cs[ci];
            float *x, *w, *b, *s;
            conv_inputs(L, C, &x, &w, &b, &s);
            size_t ns = (size_t)C * (OP_CONV1D_WIDTH - 1);
            float *o1 = tsup_nans((size_t)L * C), *s1 = tsup_nans(ns);
            conv_fast(x, w, b, NULL, o1, s1, L, C, 1);
            check_conv_close(x, w, b, NULL, o1, s1, L, C);
            float *full = tsup_nans((size_t)L * C), *sf = tsup_nans(ns);
            op_conv1d_causal_ref(x, w, b, NULL, full, sf, L, C);
            check_conv_close(x, w, b, NULL, full, sf, L, C);
            for (int nw = 2; nw <= 3; nw++) { /* with history, in place state */
                float *o2 = tsup_nans((size_t)L * C), *s2 = tsup_floats(ns),
                      *o3 = tsup_nans((size_t)L * C);
                memcpy(s2, s, ns * sizeof(float));
                conv_fast(x, w, b, s, o3, NULL, L, C, 1);
                conv_fast(x, w, b, s2, o2, s2, L, C, nw);
                check_conv_close(x, w, b, s, o2, NULL, L, C);
                assert_memory_equal(o2, o3, (size_t)L * C * sizeof(float));
                float *s_ref = tsup_floats(ns), *o_ref = tsup_floats((size_t)L * C);
                op_conv1d_causal_ref(x, w, b, s, o_ref, s_ref, L, C);
                assert_memory_equal(s2, s_ref, ns * sizeof(float));
                free(o2), free(s2), free(o3), free(s_ref), free(o_ref);
            }
            free(o1), free(s1), free(full), free(sf);
            free(x), free(w), free(b), free(s);
        }
}

/* Prefill of L1 then of L2 from its state == prefill of L1 + L2; a step after
 * a prefill of L == the last row of a prefill of L + 1 (bit for bit: same
 * operation order). */
static void test_10_conv_state_continuation(void **state)
{
    (void)state;
    static const struct { int64_t L1, L2; int C; } cases[] = {
        {1, 1, 3}, {2, 5, 17}, {5, 1, 40}, {64, 36, 33}, {3, 2, 16},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int64_t L1 = cases[i].L1, L2 = cases[i].L2, L = L1 + L2;
        int C = cases[i].C;
        float *x, *w, *b, *s;
        conv_inputs(L, C, &x, &w, &b, &s);
        size_t ns = (size_t)C * (OP_CONV1D_WIDTH - 1);
        float *o_all = tsup_nans((size_t)L * C), *s_all = tsup_nans(ns);
        float *o_two = tsup_nans((size_t)L * C), *st = tsup_nans(ns);
        conv_fast(x, w, b, NULL, o_all, s_all, L, C, 2);
        conv_fast(x, w, b, NULL, o_two, st, L1, C, 3);
        conv_fast(x + L1 * C, w, b, st, o_two + L1 * C, st, L2, C, 1);
        assert_memory_equal(o_all, o_two, (size_t)L * C * sizeof(float));
        assert_memory_equal(s_all, st, ns * sizeof(float));
        /* step after a prefill of L - 1 */
        float *sp = tsup_nans(ns), *o_step = tsup_nans((size_t)C),
              *o_pre = tsup_nans((size_t)(L - 1) * C);
        conv_fast(x, w, b, NULL, o_pre, sp, L - 1, C, 1);
        for (int k = 0; k < 2; k++)
            op_conv1d_step_part(x + (L - 1) * C, w, b, sp, o_step, sp, C, k, 2);
        assert_memory_equal(o_step, o_all + (L - 1) * C, (size_t)C * sizeof(float));
        assert_memory_equal(sp, s_all, ns * sizeof(float));
        free(o_all), free(s_all), free(o_two), free(st), free(sp), free(o_step), free(o_pre);
        free(x), free(w), free(b), free(s);
    }
}

static void test_11_conv_step_vs_reference(void **state)
{
    (void)state;
    static const int Cs[] = {1, 3, 16, 17, 40, 100};
    for (int ci = 0; ci < 6; ci++) {
        int C = Cs[ci];
        float *x, *w, *b, *s;
        conv_inputs(1, C, &x, &w, &b, &s);
        size_t ns = (size_t)C * (OP_CONV1D_WIDTH - 1);
        float *o_ref = tsup_nans((size_t)C), *s_ref = tsup_nans(ns);
        op_conv1d_step_ref(x, w, b, s, o_ref, s_ref, C);
        check_conv_close(x, w, b, s, o_ref, s_ref, 1, C);
        for (int nw = 1; nw <= 3; nw++) {
            float *o = tsup_nans((size_t)C), *s2 = tsup_floats(ns);
            memcpy(s2, s, ns * sizeof(float));
            for (int k = 0; k < nw; k++)
                op_conv1d_step_part(x, w, b, s2, o, s2, C, k, nw);
            check_conv_close(x, w, b, s, o, s2, 1, C);
            free(o), free(s2);
        }
        free(o_ref), free(s_ref), free(x), free(w), free(b), free(s);
    }
}

/* ---- 12-15: entries -------------------------------------------------------------------------- */

static void test_12_entry_checks_and_costs(void **state)
{
    (void)state;
    int count = 0;
    for (int i = 0; op_family_mamba1[i]; i++)
        count++;
    assert_int_equal(count, N_ENTRIES);
    for (int i = 0; i < N_ENTRIES; i++) {
        const op_entry *e = entry(entry_names[i]);
        assert_string_equal(e->family, "sub-quadratic");
        assert_true(strcmp(e->phase, "prefill") == 0 || strcmp(e->phase, "decode") == 0);
        assert_true(e->tolerance > 0);
        int scan = strncmp(e->name, "mamba1_scan", 11) == 0;
        op_dims good = {.seq_len = 8192, .d_inner = 1536, .d_state = 16};
        cb_err err;
        if (e->check(&good, &err) != 0)
            fail_msg("%s: %s", e->name, err.msg);
        op_cost c = e->cost(&good);
        assert_true(c.flops > 0 && c.bytes > 0 && c.state_bytes > 0);
        op_dims d = good;
        d.seq_len = 0;
        tsup_expect_refused(e, d, "seq_len");
        d.seq_len = (int64_t)1 << 40;
        tsup_expect_refused(e, d, "seq_len");
        d = good;
        d.d_inner = 0;
        tsup_expect_refused(e, d, "d_inner");
        if (scan) {
            d = good;
            d.d_state = 0;
            tsup_expect_refused(e, d, "d_state");
            d.d_state = OP_MAMBA1_MAX_STATE + 1;
            tsup_expect_refused(e, d, "d_state");
        }
        if (strcmp(e->phase, "prefill") == 0) { /* buffers that would overflow */
            d = good;
            d.seq_len = (int64_t)1 << 29;
            d.d_inner = 1 << 20;
            tsup_expect_refused(e, d, "x (seq_len, d_inner)");
        }
    }
    const op_entry *ch = entry("mamba1_scan.chunked");
    op_dims d = {.seq_len = 100, .d_inner = 16, .d_state = 16, .chunk = -1};
    tsup_expect_refused(ch, d, "chunk");
    /* decode costs do not grow with the nominal context */
    op_dims a = {.seq_len = 10, .d_inner = 64, .d_state = 16}, b = a;
    b.seq_len = 100000;
    const op_entry *st = entry("mamba1_scan.step");
    assert_true(st->cost(&a).flops == st->cost(&b).flops);
    assert_true(entry("mamba1_scan.sequential")->cost(&b).flops >
                entry("mamba1_scan.sequential")->cost(&a).flops);
}

/* create / run with 1, 2, 3 workers / verify / destroy for each entry; the
 * output does not depend on the worker count. */
static void test_13_entry_round_trip(void **state)
{
    (void)state;
    static const op_dims shapes[] = {
        {.seq_len = 100, .d_inner = 40, .d_state = 17, .chunk = 7},
        {.seq_len = 1, .d_inner = 3, .d_state = 1},
        {.seq_len = 2100, .d_inner = 130, .d_state = 16, .chunk = 0}, /* spread verify */
    };
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++)
        for (int i = 0; i < N_ENTRIES; i++) {
            const op_entry *e = entry(entry_names[i]);
            void *inst = NULL;
            cb_err err;
            if (e->create(&shapes[si], 42, 3, &inst, &err) != 0)
                fail_msg("%s: %s", e->name, err.msg);
            for (int nw = 1; nw <= 3; nw++) {
                for (int w = 0; w < nw; w++)
                    e->run(inst, w, nw);
                if (e->verify(inst, &err) != 0)
                    fail_msg("%s (%d workers): %s", e->name, nw, err.msg);
            }
            e->destroy(inst);
        }
    for (int i = 0; i < N_ENTRIES; i++)
        entry(entry_names[i])->destroy(NULL);
}

/* One element of an output or state nudged by a relative 1e-3 makes verify
 * fail, naming the entry (each entry's output in turn, then its state). */
static void test_14_verify_catches_corruption(void **state)
{
    (void)state;
    op_dims d = {.seq_len = 50, .d_inner = 20, .d_state = 16, .chunk = 8};
    for (int i = 0; i < N_ENTRIES; i++)
        for (int what = 0; what < 2; what++) {
            const op_entry *e = entry(entry_names[i]);
            void *inst = NULL;
            cb_err err;
            assert_int_equal(e->create(&d, 3, 1, &inst, &err), 0);
            assert_int_not_equal(e->verify(inst, &err), 0); /* nothing run yet: NaN outputs */
            e->run(inst, 0, 1);
            if (e->verify(inst, &err) != 0)
                fail_msg("%s: %s", e->name, err.msg);
            float *victim;
            if (strncmp(e->name, "conv1d", 6) == 0) {
                conv_inst *c = inst;
                int cur = c->step ? c->parity[0] : 0;
                victim = what ? c->s + (size_t)cur * c->C * (OP_CONV1D_WIDTH - 1) + 1
                              : c->out + (c->step ? 0 : 25 * (size_t)c->C);
            } else {
                scan_inst *s = inst;
                int cur = s->kind == SCAN_STEP ? s->parity[0] : 0;
                victim = what ? s->h + (size_t)cur * s->d_inner * s->N + 3
                              : s->y + (s->kind == SCAN_STEP ? 0 : 25 * (size_t)s->d_inner);
            }
            *victim = *victim * 1.001f + 1e-3f;
            if (e->verify(inst, &err) == 0)
                fail_msg("%s: verify passed with a corrupted %s", e->name,
                         what ? "state" : "output");
            assert_non_null(strstr(err.msg, e->name));
            e->destroy(inst);
        }
}

/* A worker that did not run leaves its share of the outputs unwritten. */
static void test_15_verify_fails_on_missing_share(void **state)
{
    (void)state;
    op_dims d = {.seq_len = 50, .d_inner = 40, .d_state = 16, .chunk = 8};
    for (int i = 0; i < N_ENTRIES; i++) {
        const op_entry *e = entry(entry_names[i]);
        void *inst = NULL;
        cb_err err;
        assert_int_equal(e->create(&d, 3, 2, &inst, &err), 0);
        e->run(inst, 0, 2); /* worker 1's channels never computed */
        if (e->verify(inst, &err) == 0)
            fail_msg("%s: verify passed with half the output missing", e->name);
        assert_non_null(strstr(err.msg, e->name));
        e->destroy(inst);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_01_exp_accuracy),
        cmocka_unit_test(test_02_softplus_accuracy),
        cmocka_unit_test(test_03_sequential_vs_reference),
        cmocka_unit_test(test_04_chunked_equals_sequential),
        cmocka_unit_test(test_05_chunked_phases),
        cmocka_unit_test(test_06_step_after_prefill),
        cmocka_unit_test(test_07_step_vs_reference),
        cmocka_unit_test(test_08_step_state_bounded),
        cmocka_unit_test(test_09_conv_vs_reference),
        cmocka_unit_test(test_10_conv_state_continuation),
        cmocka_unit_test(test_11_conv_step_vs_reference),
        cmocka_unit_test(test_12_entry_checks_and_costs),
        cmocka_unit_test(test_13_entry_round_trip),
        cmocka_unit_test(test_14_verify_catches_corruption),
        cmocka_unit_test(test_15_verify_fails_on_missing_share),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
