/* tests/test_op_elementwise.c — the elementwise family (operators/elementwise.h)
 * and its registry entries (operators/elementwise_entry.c, included to reach
 * an instance's output for the corrupted-output case).
 *
 * The fast exp against libm's expf over its whole range; each fast kernel
 * against its reference within elementwise.h's tolerance on awkward sizes and
 * split over 1, 2 and 3 workers; softplus and SiLU at large |x|; RMSNorm's
 * eps; RoPE's inverse frequencies (plain, and with the Llama 3 scaling, against
 * values computed independently with numpy after Hugging Face's
 * _compute_llama3_parameters) and its identities; softmax rows summing to 1
 * with huge and very negative scores; the entries' checks, costs, round trip
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

#include "operators/elementwise_entry.c"
#include "tests/support/op_check.h"

static const int lens[] = {1, 2, 3, 15, 16, 17, 31, 33, 64, 80, 129};
#define N_LENS ((int)(sizeof lens / sizeof *lens))

static uint64_t rng = 0x13198a2e03707344ull;
static float rnd(void) { return tsup_rnd(&rng); } /* [-1, 1) */

/* |got - want| <= tol |want| + 1e-37 for every element. */
static void check_rel(const char *what, const float *got, const float *want, size_t n, double tol)
{
    for (size_t i = 0; i < n; i++) {
        double diff = fabs((double)got[i] - want[i]);
        if (!(diff <= tol * fabs(want[i]) + EW_ABS_FLOOR))
            fail_msg("%s: element %zu is %.9g, reference %.9g (rel %.3g > %.3g)", what, i, got[i],
                     want[i], diff / fabs(want[i]), tol);
    }
}

/* ---- exp ------------------------------------------------------------------------------------------- */

static void test_01_exp_accuracy(void **state)
{
    /* Every 2^-10 across the normal range, plus random points, plus the ends. */
    size_t n = 0, cap = 300000;
    float *x = malloc(cap * sizeof(float)), *y = malloc(cap * sizeof(float));
    assert_non_null(x);
    assert_non_null(y);
    for (double v = -87.3; v <= 88.72 && n < cap; v += 1.0 / 1024)
        x[n++] = (float)v;
    for (int i = 0; i < 50000 && n < cap; i++)
        x[n++] = rnd() * 87.3f; /* normal results only */
    x[n++] = 88.72f;
    x[n++] = -87.33f;
    x[n++] = 1e-8f;
    x[n++] = -1e-8f;
    op_exp_fast(x, y, n);
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double want = expf(x[i]), rel = fabs(y[i] - want) / want;
        if (rel > worst)
            worst = rel;
        if (!(rel < 2e-7))
            fail_msg("exp(%.9g) = %.9g, expf %.9g: relative error %.3g", x[i], y[i], want, rel);
    }
    print_message("      fast exp: worst relative error %.3g over %zu points (%s)\n", worst, n,
                  op_ew_isa());
    /* Denormal results: absolute error below 1e-44; specials. */
    for (double v = -103.9; v < -87.4; v += 0.01) {
        float xv = (float)v, yv;
        op_exp_fast(&xv, &yv, 1);
        assert_true(fabs((double)yv - exp((double)xv)) < 1e-44);
    }
    const float sx[] = {0.0f, 89.0f, 100.0f, INFINITY, -104.0f, -1e30f, -INFINITY, NAN};
    float sy[8];
    op_exp_fast(sx, sy, 8);
    assert_true(sy[0] == 1.0f);
    assert_true(isinf(sy[1]) && isinf(sy[2]) && isinf(sy[3]));
    assert_true(sy[4] == 0.0f && sy[5] == 0.0f && sy[6] == 0.0f);
    assert_true(isnan(sy[7]));
    free(x);
    free(y);
}

/* ---- SiLU, softplus --------------------------------------------------------------------------------- */

typedef void (*ew_part_fn)(const float *, float *, int, int, int, int);
typedef void (*ew_ref_fn)(const float *, float *, int, int);

static void check_map(const char *what, ew_part_fn part, ew_ref_fn ref, double tol, float scale)
{
    static const int Ls[] = {1, 2, 5, 17};
    for (size_t a = 0; a < sizeof Ls / sizeof *Ls; a++)
        for (int b = 0; b < N_LENS; b++) {
            int L = Ls[a], d = lens[b];
            size_t n = (size_t)L * d;
            float *x = tsup_rnd_floats(&rng, n, scale), *y = tsup_nans(n), *r = tsup_nans(n);
            ref(x, r, L, d);
            for (int nw = 1; nw <= 3; nw++) {
                for (size_t i = 0; i < n; i++)
                    y[i] = NAN;
                for (int w = 0; w < nw; w++)
                    part(x, y, L, d, w, nw);
                char msg[64];
                snprintf(msg, sizeof msg, "%s L=%d d=%d nw=%d", what, L, d, nw);
                check_rel(msg, y, r, n, tol);
            }
            free(x), free(y), free(r);
        }
}

/* Values where the naive formulas overflow or lose everything. */
static const float extreme[] = {1e30f, -1e30f, 1e4f,  -1e4f,  100.0f, -100.0f, 88.8f, -88.8f,
                                30.0f, -30.0f, 20.0f, -20.0f, 17.0f,  -17.0f,  1e-3f, -1e-3f,
                                1e-30f, -1e-30f, 0.0f, -87.0f, -103.0f, 5.0f};
#define N_EXTREME ((int)(sizeof extreme / sizeof *extreme))

static void test_02_silu_matches_reference(void **state)
{
    check_map("silu", op_silu_part, op_silu_ref, EW_TOL_SILU, 12.0f);
    float y[N_EXTREME], r[N_EXTREME];
    op_silu_part(extreme, y, 1, N_EXTREME, 0, 1);
    op_silu_ref(extreme, r, 1, N_EXTREME);
    check_rel("silu extremes", y, r, N_EXTREME, EW_TOL_SILU);
    assert_true(y[0] == 1e30f && y[1] == 0.0f && y[2] == 1e4f && y[18] == 0.0f);
}

static void test_03_softplus_large_and_small(void **state)
{
    check_map("softplus", op_softplus_part, op_softplus_ref, EW_TOL_SOFTPLUS, 25.0f);
    float y[N_EXTREME], r[N_EXTREME];
    for (int nw = 1; nw <= 3; nw++) {
        for (int w = 0; w < nw; w++)
            op_softplus_part(extreme, y, 1, N_EXTREME, w, nw);
        op_softplus_ref(extreme, r, 1, N_EXTREME);
        check_rel("softplus extremes", y, r, N_EXTREME, EW_TOL_SOFTPLUS);
    }
    assert_true(y[0] == 1e30f && y[2] == 1e4f && y[4] == 100.0f); /* x for large x */
    assert_true(y[1] == 0.0f && y[3] == 0.0f);                     /* 0, not NaN, for -1e30 */
    assert_true(fabs(y[9] - 9.357623e-14) <= 2e-6 * 9.357623e-14); /* exp(-30): kept, not 0 */
    assert_true(fabs(y[18] - 0.69314718f) <= 1e-7);                /* log 2 */
    for (int i = 0; i < N_EXTREME; i++)
        assert_true(y[i] >= 0.0f && !isnan(y[i]));
}

/* ---- RMSNorm ---------------------------------------------------------------------------------------- */

static void test_04_rmsnorm_matches_reference(void **state)
{
    static const int Ls[] = {1, 3, 7};
    for (size_t a = 0; a < sizeof Ls / sizeof *Ls; a++)
        for (int b = 0; b < N_LENS; b++) {
            int L = Ls[a], d = lens[b];
            size_t n = (size_t)L * d;
            float *x = tsup_rnd_floats(&rng, n, 3.0f), *w = tsup_rnd_floats(&rng, (size_t)d, 1.0f);
            float *y = tsup_nans(n), *r = tsup_nans(n);
            op_rmsnorm_ref(x, w, r, L, d, 1e-5f);
            for (int nw = 1; nw <= 3; nw++) {
                for (int t = 0; t < nw; t++)
                    op_rmsnorm_part(x, w, y, L, d, 1e-5f, t, nw);
                check_rel("rmsnorm", y, r, n, EW_TOL_RMSNORM);
            }
            free(x), free(w), free(y), free(r);
        }
    /* A long row (double accumulation keeps the tolerance). */
    int d = 1 << 16;
    float *x = tsup_rnd_floats(&rng, (size_t)d, 1.0f), *w = tsup_rnd_floats(&rng, (size_t)d, 1.0f);
    float *y = tsup_nans((size_t)d), *r = tsup_nans((size_t)d);
    op_rmsnorm_ref(x, w, r, 1, d, 1e-6f);
    op_rmsnorm_part(x, w, y, 1, d, 1e-6f, 0, 1);
    check_rel("rmsnorm long", y, r, (size_t)d, EW_TOL_RMSNORM);
    free(x), free(w), free(y), free(r);
}

static void test_05_rmsnorm_eps(void **state)
{
    /* A tiny row: eps dominates the mean square (1e-8 + 1e-5). */
    float x[4] = {1e-4f, -1e-4f, 1e-4f, -1e-4f}, w[4] = {1, 2, 3, 4}, y[4];
    op_rmsnorm_part(x, w, y, 1, 4, 1e-5f, 0, 1);
    for (int j = 0; j < 4; j++) {
        double want = x[j] * w[j] / sqrt(1e-8 + 1e-5);
        assert_true(fabs(y[j] - want) <= 1e-6 * fabs(want));
    }
    /* Without eps the same row normalises to +-w. */
    op_rmsnorm_part(x, w, y, 1, 4, 0.0f, 0, 1);
    for (int j = 0; j < 4; j++)
        assert_true(fabs(y[j] - (j % 2 ? -w[j] : w[j])) <= 1e-6 * w[j]);
    /* A zero row stays zero (no NaN) with eps > 0. */
    float z[3] = {0, 0, 0}, zy[3];
    op_rmsnorm_part(z, w, zy, 1, 3, 1e-5f, 0, 1);
    assert_true(zy[0] == 0.0f && zy[1] == 0.0f && zy[2] == 0.0f);
}

/* ---- RoPE ------------------------------------------------------------------------------------------- */

static void test_06_rope_inv_freq_by_hand(void **state)
{
    /* theta 10000, D 8: 10000^(-2i/8) = 1, 0.1, 0.01, 0.001. */
    float f[32];
    assert_int_equal(op_rope_inv_freq(10000.0, 8, NULL, f), 0);
    const double want8[4] = {1.0, 0.1, 0.01, 0.001};
    for (int i = 0; i < 4; i++)
        assert_true(fabs(f[i] - want8[i]) <= 1e-7 * want8[i]);
    op_rope_scaling none = {OP_ROPE_DEFAULT, 0, 0, 0, 0};
    float g[4];
    assert_int_equal(op_rope_inv_freq(10000.0, 8, &none, g), 0);
    assert_memory_equal(f, g, sizeof g);

    /* Llama 3.2 (theta 5e5, D 64, factor 32, low 1, high 4, 8192), computed with
     * numpy after transformers' _compute_llama3_parameters: high frequencies
     * (i <= 14) kept, i = 15..17 smoothed, i >= 18 divided by 32. */
    static const struct { int i; double plain, scaled; } want[] = {
        {0, 1.0, 1.0},
        {1, 0.6636012376960885, 0.6636012376960885},
        {14, 0.0032114459947525913, 0.0032114459947525913},
        {15, 0.0021311195369119653, 0.001290547928209264},
        {16, 0.001414213562373095, 0.00042955679655936815},
        {17, 0.0009384738703573801, 9.70828780262767e-05},
        {18, 0.000622772421914596, 1.9461638184831125e-05},
        {31, 3.0138581521391716e-06, 9.418306725434911e-08},
    };
    op_rope_scaling l3 = op_rope_llama3_scaling();
    assert_true(l3.kind == OP_ROPE_LLAMA3 && l3.factor == 32.0 && l3.low_freq_factor == 1.0 &&
                l3.high_freq_factor == 4.0 && l3.original_max_position == 8192.0);
    float plain[32], scaled[32];
    assert_int_equal(op_rope_inv_freq(500000.0, 64, NULL, plain), 0);
    assert_int_equal(op_rope_inv_freq(500000.0, 64, &l3, scaled), 0);
    for (size_t t = 0; t < sizeof want / sizeof *want; t++) {
        int i = want[t].i;
        if (!(fabs(plain[i] - want[t].plain) <= 1e-6 * want[t].plain &&
              fabs(scaled[i] - want[t].scaled) <= 1e-6 * want[t].scaled))
            fail_msg("inv_freq[%d] = %.9g / %.9g, want %.9g / %.9g", i, plain[i], scaled[i],
                     want[t].plain, want[t].scaled);
    }
    for (int i = 19; i < 32; i++) /* the low band: exactly f / 32 up to rounding */
        assert_true(fabs(scaled[i] - plain[i] / 32.0) <= 1e-6 * scaled[i]);
    /* Bad arguments write nothing. */
    float keep[2] = {7, 7};
    assert_int_equal(op_rope_inv_freq(10000.0, 3, NULL, keep), -1);
    assert_int_equal(op_rope_inv_freq(10000.0, 0, NULL, keep), -1);
    assert_int_equal(op_rope_inv_freq(1.0, 4, NULL, keep), -1);
    op_rope_scaling bad = l3;
    bad.high_freq_factor = bad.low_freq_factor;
    assert_int_equal(op_rope_inv_freq(10000.0, 4, &bad, keep), -1);
    assert_true(keep[0] == 7 && keep[1] == 7);
}

static void test_07_rope_matches_reference(void **state)
{
    static const int Ds[] = {2, 4, 6, 32, 34, 64, 80, 128};
    static const int Hs[] = {1, 3};
    static const int Ls[] = {1, 3, 17};
    op_rope_scaling l3 = op_rope_llama3_scaling();
    for (size_t a = 0; a < sizeof Ds / sizeof *Ds; a++)
        for (size_t b = 0; b < sizeof Hs / sizeof *Hs; b++)
            for (size_t c = 0; c < sizeof Ls / sizeof *Ls; c++) {
                int D = Ds[a], H = Hs[b], L = Ls[c], half = D / 2;
                size_t n = (size_t)L * H * D;
                float *f = malloc(sizeof(float) * half), *ct = malloc(sizeof(float) * L * half);
                float *st = malloc(sizeof(float) * L * half);
                assert_non_null(f);
                assert_non_null(ct);
                assert_non_null(st);
                assert_int_equal(op_rope_inv_freq(500000.0, D, &l3, f), 0);
                long pos0 = c == 2 ? 8000 : 0; /* positions past the original window too */
                op_rope_tables(f, pos0, L, D, ct, st);
                float *x = tsup_rnd_floats(&rng, n, 2.0f), *y = tsup_nans(n), *r = tsup_nans(n);
                op_rope_ref(x, r, L, H, D, f, pos0);
                for (int nw = 1; nw <= 3; nw++) {
                    for (int w = 0; w < nw; w++)
                        op_rope_part(x, y, L, H, D, ct, st, w, nw);
                    for (size_t v = 0; v < n; v += D)
                        for (int i = 0; i < D; i++) {
                            int p = i % half;
                            double tol = EW_TOL_ROPE * (fabs(x[v + p]) + fabs(x[v + p + half]));
                            if (!(fabs(y[v + i] - r[v + i]) <= tol + EW_ABS_FLOOR))
                                fail_msg("rope D=%d H=%d L=%d: %.9g vs %.9g", D, H, L, y[v + i],
                                         r[v + i]);
                        }
                }
                /* In place gives the same; position 0 is the identity; pairs keep their norm. */
                float *z = malloc(n * sizeof(float));
                assert_non_null(z);
                memcpy(z, x, n * sizeof(float));
                op_rope_part(z, z, L, H, D, ct, st, 0, 1);
                assert_memory_equal(z, y, n * sizeof(float));
                for (size_t v = 0; v < n; v += D)
                    for (int i = 0; i < half; i++) {
                        double n0 = hypot(x[v + i], x[v + i + half]);
                        double n1 = hypot(y[v + i], y[v + i + half]);
                        assert_true(fabs(n0 - n1) <= 1e-6 * n0 + 1e-30);
                        if (pos0 == 0 && v < (size_t)H * D)
                            assert_true(y[v + i] == x[v + i] && y[v + i + half] == x[v + i + half]);
                    }
                free(f), free(ct), free(st), free(x), free(y), free(r), free(z);
            }
}

/* ---- softmax ---------------------------------------------------------------------------------------- */

static void check_softmax_rows(const float *x, int R, int n)
{
    float *y = tsup_nans((size_t)R * n), *r = tsup_nans((size_t)R * n);
    op_softmax_ref(x, r, R, n);
    for (int nw = 1; nw <= 3; nw++) {
        for (int w = 0; w < nw; w++)
            op_softmax_part(x, y, R, n, w, nw);
        for (int i = 0; i < R; i++) {
            const float *xr = x + (size_t)i * n, *yr = y + (size_t)i * n, *rr = r + (size_t)i * n;
            float mx = -INFINITY;
            double sum = 0.0;
            for (int j = 0; j < n; j++)
                mx = xr[j] > mx ? xr[j] : mx;
            for (int j = 0; j < n; j++) {
                double tol = rr[j] == 0.0f ? 0.0 /* also for x = -inf */
                             : EW_TOL_SOFTMAX * fabs(rr[j]) * (1.0 + fabs((double)xr[j] - mx));
                if (!(fabs(yr[j] - rr[j]) <= tol + EW_ABS_FLOOR))
                    fail_msg("softmax R=%d n=%d row %d col %d (x %.9g): %.9g vs %.9g", R, n, i, j,
                             xr[j], yr[j], rr[j]);
                assert_true(yr[j] >= 0.0f && yr[j] <= 1.0f);
                sum += yr[j];
            }
            if (!(fabs(sum - 1.0) <= 1e-6))
                fail_msg("softmax R=%d n=%d row %d sums to %.9g", R, n, i, sum);
        }
    }
    free(y), free(r);
}

static void test_08_softmax_rows(void **state)
{
    static const int Rs[] = {1, 2, 5};
    static const int ns[] = {1, 2, 3, 15, 16, 17, 100, 1000, 4099};
    for (size_t a = 0; a < sizeof Rs / sizeof *Rs; a++)
        for (size_t b = 0; b < sizeof ns / sizeof *ns; b++) {
            float *x = tsup_rnd_floats(&rng, (size_t)Rs[a] * ns[b], 8.0f);
            check_softmax_rows(x, Rs[a], ns[b]);
            free(x);
        }
    /* Huge and very negative scores: no overflow, no NaN, the max gets the mass. */
    float rows[4][6] = {
        {3e38f, -3e38f, 0.0f, 1.0f, -INFINITY, 2.0f},
        {1e30f, 1e30f, -1e30f, 5.0f, 1e29f, -INFINITY},
        {-1e30f, -1e30f + 1e24f, -3e38f, -2e30f, -1e30f, -1e30f},
        {1e4f, 1e4f - 1.0f, 1e4f - 20.0f, -1e4f, 9.99e3f, 1e4f - 0.5f},
    };
    check_softmax_rows(&rows[0][0], 4, 6);
    float y[4][6];
    op_softmax_part(&rows[0][0], &y[0][0], 4, 6, 0, 1);
    assert_true(y[0][0] == 1.0f && y[0][1] == 0.0f && y[0][4] == 0.0f);
    assert_true(y[1][0] == 0.5f && y[1][1] == 0.5f && y[1][2] == 0.0f);
    /* Length 1: probability 1. */
    float one = -5.0f, p;
    op_softmax_part(&one, &p, 1, 1, 0, 1);
    assert_true(p == 1.0f);
}

/* ---- entries ------------------------------------------------------------------------------------ */

static op_dims ew_dims(int64_t L, int d, int H, int D)
{
    op_dims dm;
    memset(&dm, 0, sizeof dm);
    dm.seq_len = L;
    dm.d_model = d;
    dm.n_heads = H;
    dm.head_dim = D;
    return dm;
}

static void test_09_entry_fields_and_checks(void **state)
{
    int n = 0;
    for (const op_entry *const *p = op_family_elementwise; *p; p++, n++) {
        const op_entry *e = *p;
        char want[64];
        snprintf(want, sizeof want, "%s.%s", e->op, e->impl);
        assert_string_equal(e->name, want);
        assert_string_equal(e->family, "elementwise");
        assert_string_equal(e->phase, "prefill");
        assert_non_null(strstr(e->uses, "seq_len"));
        assert_true(e->tolerance > 0.0 && e->tolerance <= 2e-6);
        cb_err err;
        op_dims ok = ew_dims(100, 64, 4, 32);
        assert_int_equal(e->check(&ok, &err), 0);
        op_cost c = e->cost(&ok);
        assert_true(c.flops > 0 && c.bytes > 0 && c.state_bytes == 0);
        op_dims l0 = ew_dims(0, 64, 4, 32), lbig = ew_dims((int64_t)1 << 40, 64, 4, 32);
        assert_int_equal(e->check(&l0, &err), -1);
        assert_non_null(strstr(err.msg, "seq_len"));
        assert_int_equal(e->check(&lbig, &err), -1);
        assert_non_null(strstr(err.msg, "seq_len"));
        op_dims over = ew_dims((int64_t)1 << 30, 1 << 20, 1 << 16, 4096); /* > 2^46 bytes */
        assert_int_equal(e->check(&over, &err), -1);
        assert_non_null(strstr(err.msg, "2^46"));
        void *inst = (void *)1;
        assert_int_equal(e->create(&l0, 1, 1, &inst, &err), -1);
        assert_null(inst);
        assert_non_null(strstr(err.msg, e->name));
        e->destroy(NULL);
    }
    assert_int_equal(n, 5);
    cb_err err;
    op_dims odd = ew_dims(10, 64, 4, 17), h0 = ew_dims(10, 64, 0, 32), d0 = ew_dims(10, 0, 4, 32);
    assert_int_equal(e_rope.check(&odd, &err), -1);
    assert_non_null(strstr(err.msg, "head_dim"));
    assert_int_equal(e_rope.check(&h0, &err), -1);
    assert_non_null(strstr(err.msg, "n_heads"));
    assert_int_equal(e_softmax.check(&h0, &err), -1);
    assert_non_null(strstr(err.msg, "n_heads"));
    assert_int_equal(e_rmsnorm.check(&d0, &err), -1);
    assert_non_null(strstr(err.msg, "d_model"));
    op_dims sq = ew_dims(8, 16, 2, 4);
    assert_true(e_silu.cost(&sq).bytes == 8.0 * 8 * 16);
    assert_true(e_softmax.cost(&sq).bytes == 8.0 * 2 * 8);
    assert_true(e_rope.cost(&sq).bytes == 8.0 * 8 * 2 * 4 + 4.0 * 8 * 4);
}

static void test_10_entry_round_trip(void **state)
{
    static const int shapes[][4] = {
        {1, 1, 1, 2}, {3, 17, 3, 6}, {17, 64, 1, 64}, {40, 80, 5, 34}, {129, 33, 2, 128},
    };
    for (const op_entry *const *p = op_family_elementwise; *p; p++)
        for (size_t t = 0; t < sizeof shapes / sizeof *shapes; t++) {
            op_dims dm = ew_dims(shapes[t][0], shapes[t][1], shapes[t][2], shapes[t][3]);
            void *inst = NULL;
            cb_err err;
            if ((*p)->create(&dm, 5, 3, &inst, &err) != 0)
                fail_msg("%s: %s", (*p)->name, err.msg);
            for (int nw = 1; nw <= 3; nw++) {
                for (int w = 0; w < nw; w++)
                    (*p)->run(inst, w, nw);
                if ((*p)->verify(inst, &err) != 0)
                    fail_msg("%s nw=%d: %s", (*p)->name, nw, err.msg);
            }
            (*p)->destroy(inst);
        }
}

static void test_11_verify_catches_corruption(void **state)
{
    for (const op_entry *const *p = op_family_elementwise; *p; p++) {
        op_dims dm = ew_dims(9, 40, 3, 16);
        void *inst = NULL;
        cb_err err;
        assert_int_equal((*p)->create(&dm, 3, 2, &inst, &err), 0);
        for (int w = 0; w < 2; w++)
            (*p)->run(inst, w, 2);
        assert_int_equal((*p)->verify(inst, &err), 0);
        ew *e = inst;
        size_t last = (size_t)e->rows * e->cols - 1;
        e->y[last] = e->y[last] * 1.01f + 1e-3f;
        assert_int_equal((*p)->verify(inst, &err), -1);
        assert_non_null(strstr(err.msg, (*p)->name));
        (*p)->destroy(inst);
    }
}

static void test_12_rows_split(void **state)
{
    static const int rows[] = {0, 1, 2, 3, 7, 100};
    for (size_t t = 0; t < sizeof rows / sizeof *rows; t++)
        for (int nw = 1; nw <= 5; nw++) {
            int next = 0;
            for (int w = 0; w < nw; w++) {
                int lo, hi;
                op_ew_rows(rows[t], w, nw, &lo, &hi);
                assert_int_equal(lo, next);
                assert_true(hi >= lo);
                next = hi;
            }
            assert_int_equal(next, rows[t]);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_01_exp_accuracy),
        cmocka_unit_test(test_02_silu_matches_reference),
        cmocka_unit_test(test_03_softplus_large_and_small),
        cmocka_unit_test(test_04_rmsnorm_matches_reference),
        cmocka_unit_test(test_05_rmsnorm_eps),
        cmocka_unit_test(test_06_rope_inv_freq_by_hand),
        cmocka_unit_test(test_07_rope_matches_reference),
        cmocka_unit_test(test_08_softmax_rows),
        cmocka_unit_test(test_09_entry_fields_and_checks),
        cmocka_unit_test(test_10_entry_round_trip),
        cmocka_unit_test(test_11_verify_catches_corruption),
        cmocka_unit_test(test_12_rows_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
