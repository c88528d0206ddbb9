/* tests/test_op_linear.c — causal linear attention and retention
 * (operators/linear_attention.h) and their registry entries
 * (operators/linear_entry.c, included here to reach an instance's buffers).
 *
 * The fast kernels against the double references on awkward shapes (L = 1,
 * L not a multiple of any tile, chunk or block, one head, D = 1, 3, 17, 64,
 * 80), with 1, 2 and 3 workers (each worker's share run in turn, no pool);
 * the identities: chunked == recurrent for many chunk lengths (1, ones that
 * do not divide L, longer than L), retention parallel == recurrent, a decode
 * step after a prefill of L tokens == row L of a prefill of L + 1, a prefill
 * continued from a saved state == one prefill; bit-identical results for any
 * worker count; the entries' checks, cost model, round trip, verify()'s
 * failures, and a decode state that stays bounded under many runs. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operators/linear_entry.c"
#include "tests/support/op_check.h"

/* ---- helpers -------------------------------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

/* Inputs of one problem: Q, K, V (H, L, D), decays (H). */
typedef struct prob {
    int ret, H, D;
    int64_t L;
    float *Q, *K, *V, *gamma;
} prob;

static prob prob_make(int ret, int H, int64_t L, int D)
{
    prob p = {ret, H, D, L, NULL, NULL, NULL, NULL};
    size_t n = (size_t)H * L * D;
    p.Q = tsup_rnd_floats(&rng_state, n, 1.0f);
    p.K = tsup_rnd_floats(&rng_state, n, 1.0f);
    p.V = tsup_rnd_floats(&rng_state, n, 1.0f);
    p.gamma = malloc((size_t)H * sizeof(float));
    assert_non_null(p.gamma);
    for (int h = 0; h < H; h++)
        p.gamma[h] = ret ? op_retention_gamma(h, H) : 1.0f;
    return p;
}

static void prob_free(prob *p)
{
    free(p->Q);
    free(p->K);
    free(p->V);
    free(p->gamma);
}

/* Runs a fast form over every worker in turn into O (and the state S, z when
 * not NULL: in/out). */
static void run_fast(const prob *p, op_la_form form, int chunk, float *O, float *S, float *z,
                     int n_workers)
{
    size_t bytes = form == OP_LA_RECURRENT ? op_la_recurrent_scratch_bytes(p->D, n_workers)
                   : form == OP_LA_CHUNKED ? op_la_chunked_scratch_bytes(p->D, chunk, n_workers)
                   : op_retention_parallel_scratch_bytes(p->L, p->D, n_workers);
    void *scr = malloc(bytes);
    assert_non_null(scr);
    for (int w = 0; w < n_workers; w++) {
        if (form == OP_LA_RECURRENT && p->ret)
            op_retention_recurrent_part(p->Q, p->K, p->V, O, S, p->gamma, p->H, p->L, p->D, scr,
                                        w, n_workers);
        else if (form == OP_LA_RECURRENT)
            op_linattn_recurrent_part(p->Q, p->K, p->V, O, S, z, p->H, p->L, p->D, scr, w,
                                      n_workers);
        else if (form == OP_LA_CHUNKED && p->ret)
            op_retention_chunked_part(p->Q, p->K, p->V, O, S, p->gamma, p->H, p->L, p->D, chunk,
                                      scr, w, n_workers);
        else if (form == OP_LA_CHUNKED)
            op_linattn_chunked_part(p->Q, p->K, p->V, O, S, z, p->H, p->L, p->D, chunk, scr, w,
                                    n_workers);
        else
            op_retention_parallel_part(p->Q, p->K, p->V, O, p->gamma, p->H, p->L, p->D, scr, w,
                                       n_workers);
    }
    free(scr);
}

/* The reference row (o, mag) of head h, token t. */
static void ref_row(const prob *p, int h, int64_t t, double *o, double *mag)
{
    size_t off = (size_t)h * p->L * p->D;
    if (p->ret)
        op_retention_ref_row(p->Q + off, p->K + off, p->V + off, p->L, p->D, p->gamma[h], t, o,
                             mag);
    else
        op_linattn_ref_row(p->Q + off, p->K + off, p->V + off, p->L, p->D, t, o, mag);
}

/* Every element of O within tol_mult x OP_LA_TOL x mag of the reference; when
 * other is not NULL it is compared with O instead of the reference. */
static void check_all(const prob *p, const float *O, const float *other, double tol_mult,
                      const char *what)
{
    double o[OP_LA_MAX_HEAD_DIM], mag[OP_LA_MAX_HEAD_DIM];
    for (int h = 0; h < p->H; h++)
        for (int64_t t = 0; t < p->L; t++) {
            ref_row(p, h, t, o, mag);
            for (int d = 0; d < p->D; d++) {
                size_t i = ((size_t)h * p->L + t) * p->D + d;
                double want = other ? other[i] : o[d], diff = fabs(O[i] - want);
                double tol = tol_mult * OP_LA_TOL * mag[d] + 1e-30;
                if (!(diff <= tol))
                    fail_msg("%s (%s H=%d L=%lld D=%d): O[%d][%lld][%d] = %.9g, want %.9g "
                             "(|diff| %.3g > %.3g)",
                             what, p->ret ? "retention" : "linear", p->H, (long long)p->L, p->D,
                             h, (long long)t, d, O[i], want, diff, tol);
            }
        }
}

static const int dims[] = {1, 3, 17, 64, 80};
static const int64_t lens[] = {1, 2, 33, 70};
#define N_DIMS ((int)(sizeof dims / sizeof *dims))
#define N_LENS ((int)(sizeof lens / sizeof *lens))

/* Fast form against the reference over the shape grid, workers 1..3. */
static void grid_vs_ref(int ret, op_la_form form, const int *chunks, int n_chunks)
{
    for (int di = 0; di < N_DIMS; di++)
        for (int li = 0; li < N_LENS; li++) {
            int H = (di + li) % 2 ? 3 : 1;
            prob p = prob_make(ret, H, lens[li], dims[di]);
            size_t n = (size_t)H * p.L * p.D;
            for (int c = 0; c < n_chunks; c++)
                for (int w = 1; w <= 3; w++) {
                    float *O = tsup_nans(n);
                    run_fast(&p, form, chunks[c], O, NULL, NULL, w);
                    char what[64];
                    snprintf(what, sizeof what, "form %d chunk %d workers %d", (int)form,
                             chunks[c], w);
                    check_all(&p, O, NULL, 1.0, what);
                    free(O);
                }
            prob_free(&p);
        }
}

static const int no_chunk[] = {0};
static const int some_chunks[] = {0, 1, 7, 16, 50};

/* ---- fast == reference ----------------------------------------------------------------------- */

static void test_01_linear_recurrent_vs_ref(void **state)
{
    (void)state;
    grid_vs_ref(0, OP_LA_RECURRENT, no_chunk, 1);
}

static void test_02_linear_chunked_vs_ref(void **state)
{
    (void)state;
    grid_vs_ref(0, OP_LA_CHUNKED, some_chunks, 5);
}

static void test_03_retention_recurrent_vs_ref(void **state)
{
    (void)state;
    grid_vs_ref(1, OP_LA_RECURRENT, no_chunk, 1);
}

static void test_04_retention_chunked_vs_ref(void **state)
{
    (void)state;
    grid_vs_ref(1, OP_LA_CHUNKED, some_chunks, 5);
}

static void test_05_retention_parallel_vs_ref(void **state)
{
    (void)state;
    grid_vs_ref(1, OP_LA_PARALLEL, no_chunk, 1);
    /* across several 64-blocks, with a partial last block */
    prob p = prob_make(1, 2, 200, 17);
    float *O = tsup_nans((size_t)2 * 200 * 17);
    run_fast(&p, OP_LA_PARALLEL, 0, O, NULL, NULL, 2);
    check_all(&p, O, NULL, 1.0, "parallel L=200");
    free(O);
    prob_free(&p);
}

/* ---- identities ------------------------------------------------------------------------------ */

/* chunked == recurrent for chunk lengths 1, non-divisors of L, powers of two, > L. */
static void test_06_chunked_equals_recurrent(void **state)
{
    (void)state;
    static const int chunks[] = {1, 5, 16, 32, 63, 64, 100, 128, 300};
    static const int ds[] = {64, 17};
    for (int ret = 0; ret < 2; ret++)
        for (int di = 0; di < 2; di++) {
            prob p = prob_make(ret, 2, 257, ds[di]);
            size_t n = (size_t)2 * 257 * ds[di];
            float *R = tsup_nans(n), *C = tsup_nans(n);
            run_fast(&p, OP_LA_RECURRENT, 0, R, NULL, NULL, 1);
            for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++) {
                run_fast(&p, OP_LA_CHUNKED, chunks[c], C, NULL, NULL, 2);
                char what[64];
                snprintf(what, sizeof what, "chunked (chunk %d) vs recurrent", chunks[c]);
                check_all(&p, C, R, 2.0, what);
            }
            free(R);
            free(C);
            prob_free(&p);
        }
}

static void test_07_parallel_equals_recurrent(void **state)
{
    (void)state;
    prob p = prob_make(1, 3, 300, 64);
    size_t n = (size_t)3 * 300 * 64;
    float *R = tsup_nans(n), *P = tsup_nans(n);
    run_fast(&p, OP_LA_RECURRENT, 0, R, NULL, NULL, 1);
    run_fast(&p, OP_LA_PARALLEL, 0, P, NULL, NULL, 3);
    check_all(&p, P, R, 2.0, "parallel vs recurrent");
    free(R);
    free(P);
    prob_free(&p);
}

/* Copies token t of every head of p into (H, D) buffers. */
static void token_of(const prob *p, int64_t t, float *q, float *k, float *v)
{
    for (int h = 0; h < p->H; h++) {
        size_t src = ((size_t)h * p->L + t) * p->D, dst = (size_t)h * p->D;
        memcpy(q + dst, p->Q + src, (size_t)p->D * sizeof(float));
        memcpy(k + dst, p->K + src, (size_t)p->D * sizeof(float));
        memcpy(v + dst, p->V + src, (size_t)p->D * sizeof(float));
    }
}

/* A prefill of L tokens (state out, form) then a step with token L equals
 * row L of a prefill of L + 1 tokens; L = 0 means a step from the zero state. */
static void step_identity(int ret, op_la_form form, int64_t L, int D, int chunk)
{
    const int H = 3;
    prob full = prob_make(ret, H, L + 1, D);
    size_t nf = (size_t)H * (L + 1) * D;
    float *Of = tsup_nans(nf);
    run_fast(&full, OP_LA_RECURRENT, 0, Of, NULL, NULL, 1);
    /* the first L tokens as their own problem */
    prob head = full;
    head.L = L;
    size_t nh = (size_t)H * (L ? L : 1) * D;
    head.Q = malloc(nh * sizeof(float));
    head.K = malloc(nh * sizeof(float));
    head.V = malloc(nh * sizeof(float));
    assert_true(head.Q && head.K && head.V);
    for (int h = 0; h < H; h++) {
        memcpy(head.Q + (size_t)h * L * D, full.Q + (size_t)h * (L + 1) * D,
               (size_t)L * D * sizeof(float));
        memcpy(head.K + (size_t)h * L * D, full.K + (size_t)h * (L + 1) * D,
               (size_t)L * D * sizeof(float));
        memcpy(head.V + (size_t)h * L * D, full.V + (size_t)h * (L + 1) * D,
               (size_t)L * D * sizeof(float));
    }
    float *S = tsup_zeros((size_t)H * D * D), *z = tsup_zeros((size_t)H * D);
    float *Oh = tsup_nans(nh);
    if (L > 0)
        run_fast(&head, form, chunk, Oh, S, ret ? NULL : z, 2);
    float *q = tsup_nans((size_t)H * D), *k = tsup_nans((size_t)H * D),
          *v = tsup_nans((size_t)H * D);
    float *o = tsup_nans((size_t)H * D);
    token_of(&full, L, q, k, v);
    for (int w = 0; w < 2; w++) {
        if (ret)
            op_retention_step_part(q, k, v, o, S, full.gamma, H, D, w, 2);
        else
            op_linattn_step_part(q, k, v, o, S, z, H, D, w, 2);
    }
    double ro[OP_LA_MAX_HEAD_DIM], mag[OP_LA_MAX_HEAD_DIM];
    for (int h = 0; h < H; h++) {
        ref_row(&full, h, L, ro, mag);
        for (int d = 0; d < D; d++) {
            double want = Of[((size_t)h * (L + 1) + L) * D + d], got = o[(size_t)h * D + d];
            double tol = 2 * OP_LA_TOL * mag[d] + 1e-30;
            if (!(fabs(got - want) <= tol))
                fail_msg("step after %s prefill of L=%lld (D=%d chunk %d, %s): o[%d][%d] = %.9g, "
                         "prefill row %.9g",
                         form == OP_LA_CHUNKED ? "chunked" : "recurrent", (long long)L, D, chunk,
                         ret ? "retention" : "linear", h, d, got, want);
        }
    }
    free(q); free(k); free(v); free(o); free(S); free(z); free(Oh); free(Of);
    free(head.Q); free(head.K); free(head.V);
    prob_free(&full);
}

static void test_08_linear_step_after_prefill(void **state)
{
    (void)state;
    static const int64_t Ls[] = {0, 1, 5, 64, 100};
    for (size_t i = 0; i < sizeof Ls / sizeof *Ls; i++)
        for (int di = 0; di < N_DIMS; di++) {
            step_identity(0, OP_LA_RECURRENT, Ls[i], dims[di], 0);
            step_identity(0, OP_LA_CHUNKED, Ls[i], dims[di], 16);
        }
}

static void test_09_retention_step_after_prefill(void **state)
{
    (void)state;
    static const int64_t Ls[] = {0, 1, 5, 64, 100};
    for (size_t i = 0; i < sizeof Ls / sizeof *Ls; i++)
        for (int di = 0; di < N_DIMS; di++) {
            step_identity(1, OP_LA_RECURRENT, Ls[i], dims[di], 0);
            step_identity(1, OP_LA_CHUNKED, Ls[i], dims[di], 7);
        }
}

/* The same output, bit for bit, for 1, 2, 3 and 5 workers. */
static void test_10_workers_bit_identical(void **state)
{
    (void)state;
    for (int ret = 0; ret < 2; ret++)
        for (int f = 0; f < 3; f++) {
            op_la_form form = f == 0 ? OP_LA_RECURRENT : f == 1 ? OP_LA_CHUNKED : OP_LA_PARALLEL;
            if (form == OP_LA_PARALLEL && !ret)
                continue;
            prob p = prob_make(ret, 4, 90, 17);
            size_t n = (size_t)4 * 90 * 17;
            float *O1 = tsup_nans(n), *On = tsup_nans(n);
            run_fast(&p, form, 32, O1, NULL, NULL, 1);
            static const int ws[] = {2, 3, 5};
            for (int i = 0; i < 3; i++) {
                run_fast(&p, form, 32, On, NULL, NULL, ws[i]);
                assert_memory_equal(O1, On, n * sizeof(float));
            }
            free(O1);
            free(On);
            prob_free(&p);
        }
}

/* A prefill of L1 tokens continued (state in/out) for L2 more equals one
 * prefill of L1 + L2, outputs and final state. */
static void test_11_prefill_continues_from_state(void **state)
{
    (void)state;
    const int H = 2, D = 17;
    const int64_t L1 = 45, L2 = 38, L = L1 + L2;
    for (int ret = 0; ret < 2; ret++)
        for (int f = 0; f < 2; f++) {
            op_la_form form = f ? OP_LA_CHUNKED : OP_LA_RECURRENT;
            prob full = prob_make(ret, H, L, D);
            prob a = full, b = full;
            a.L = L1;
            b.L = L2;
            a.Q = malloc((size_t)H * L1 * D * sizeof(float));
            a.K = malloc((size_t)H * L1 * D * sizeof(float));
            a.V = malloc((size_t)H * L1 * D * sizeof(float));
            b.Q = malloc((size_t)H * L2 * D * sizeof(float));
            b.K = malloc((size_t)H * L2 * D * sizeof(float));
            b.V = malloc((size_t)H * L2 * D * sizeof(float));
            for (int h = 0; h < H; h++) {
                size_t src = (size_t)h * L * D;
                memcpy(a.Q + h * L1 * D, full.Q + src, (size_t)L1 * D * sizeof(float));
                memcpy(a.K + h * L1 * D, full.K + src, (size_t)L1 * D * sizeof(float));
                memcpy(a.V + h * L1 * D, full.V + src, (size_t)L1 * D * sizeof(float));
                memcpy(b.Q + h * L2 * D, full.Q + src + L1 * D, (size_t)L2 * D * sizeof(float));
                memcpy(b.K + h * L2 * D, full.K + src + L1 * D, (size_t)L2 * D * sizeof(float));
                memcpy(b.V + h * L2 * D, full.V + src + L1 * D, (size_t)L2 * D * sizeof(float));
            }
            float *Sf = tsup_zeros((size_t)H * D * D), *zf = tsup_zeros((size_t)H * D);
            float *S = tsup_zeros((size_t)H * D * D), *z = tsup_zeros((size_t)H * D);
            float *Of = tsup_nans((size_t)H * L * D), *Oa = tsup_nans((size_t)H * L1 * D);
            float *Ob = tsup_nans((size_t)H * L2 * D);
            run_fast(&full, form, 16, Of, Sf, ret ? NULL : zf, 1);
            run_fast(&a, form, 16, Oa, S, ret ? NULL : z, 2);
            run_fast(&b, form, 16, Ob, S, ret ? NULL : z, 3);
            double ro[OP_LA_MAX_HEAD_DIM], mag[OP_LA_MAX_HEAD_DIM];
            for (int h = 0; h < H; h++)
                for (int64_t t = L1; t < L; t++) {
                    ref_row(&full, h, t, ro, mag);
                    for (int d = 0; d < D; d++) {
                        double got = Ob[((size_t)h * L2 + (t - L1)) * D + d];
                        double want = Of[((size_t)h * L + t) * D + d];
                        assert_true(fabs(got - want) <= 2 * OP_LA_TOL * mag[d] + 1e-30);
                    }
                }
            for (size_t i = 0; i < (size_t)H * D * D; i++)
                assert_true(fabs(S[i] - Sf[i]) <= 1e-4 * (fabs(Sf[i]) + 1.0));
            for (size_t i = 0; i < (size_t)H * D; i++)
                assert_true(fabs(z[i] - zf[i]) <= 1e-4 * (fabs(zf[i]) + 1.0));
            free(Sf); free(zf); free(S); free(z); free(Of); free(Oa); free(Ob);
            free(a.Q); free(a.K); free(a.V); free(b.Q); free(b.K); free(b.V);
            prob_free(&full);
        }
}

/* ---- entries --------------------------------------------------------------------------------- */

static const op_entry *entry(const char *name)
{
    for (int i = 0; op_family_linear[i]; i++)
        if (strcmp(op_family_linear[i]->name, name) == 0)
            return op_family_linear[i];
    fail_msg("no entry %s", name);
    return NULL;
}

static op_dims dims_of(int64_t L, int H, int D, int chunk)
{
    op_dims d;
    memset(&d, 0, sizeof d);
    d.seq_len = L;
    d.n_heads = H;
    d.n_kv_heads = H;
    d.head_dim = D;
    d.chunk = chunk;
    return d;
}

static void test_12_check_refuses_bad_shapes(void **state)
{
    (void)state;
    for (int i = 0; op_family_linear[i]; i++) {
        const op_entry *e = op_family_linear[i];
        cb_err err;
        op_dims ok = dims_of(128, 4, 64, 0);
        assert_int_equal(e->check(&ok, &err), 0);
        ok.n_kv_heads = 0; /* 0 = unused, accepted */
        assert_int_equal(e->check(&ok, &err), 0);
        op_dims d = ok;
        d.seq_len = 0;
        tsup_expect_refused(e, d, "seq_len");
        d.seq_len = INT64_MAX;
        tsup_expect_refused(e, d, "seq_len");
        d.seq_len = (int64_t)1 << 39; /* in range, but the buffers would not fit */
        d.n_heads = 4096;
        tsup_expect_refused(e, d, "2^46");
        d = ok;
        d.n_heads = 0;
        tsup_expect_refused(e, d, "n_heads");
        d = ok;
        d.n_kv_heads = 2; /* divides, but grouped heads do not exist here */
        tsup_expect_refused(e, d, "n_kv_heads");
        d.n_kv_heads = 3;
        tsup_expect_refused(e, d, "n_kv_heads");
        d = ok;
        d.head_dim = 0;
        tsup_expect_refused(e, d, "head_dim");
        d.head_dim = OP_LA_MAX_HEAD_DIM + 1;
        tsup_expect_refused(e, d, "head_dim");
        d = ok;
        d.chunk = -1;
        if (strstr(e->uses, "chunk")) {
            tsup_expect_refused(e, d, "chunk");
            d.chunk = OP_LA_MAX_CHUNK + 1;
            tsup_expect_refused(e, d, "chunk");
        } else {
            assert_int_equal(e->check(&d, &err), 0); /* a field it does not use */
        }
    }
}

static void test_13_cost_model(void **state)
{
    (void)state;
    const int H = 32, D = 64;
    const int64_t L = 4096;
    op_dims d = dims_of(L, H, D, 64);
    for (int i = 0; op_family_linear[i]; i++) {
        const op_entry *e = op_family_linear[i];
        op_cost c = e->cost(&d);
        assert_true(c.flops > 0 && c.bytes > 0);
        if (strcmp(e->impl, "parallel") == 0)
            assert_true(c.state_bytes == 0);
        else
            assert_true(c.state_bytes >= 4.0 * H * D * D);
        if (strcmp(e->phase, "decode") == 0)
            assert_true(c.bytes >= 2 * c.state_bytes);
    }
    double dd = D, l = (double)L;
    double rec = entry("linear_attention.recurrent")->cost(&d).flops;
    assert_true(fabs(rec / (4 * H * l * dd * dd) - 1) < 0.05);
    double rrec = entry("retention.recurrent")->cost(&d).flops;
    assert_true(fabs(rrec / (4 * H * l * dd * dd) - 1) < 0.05);
    double par = entry("retention.parallel")->cost(&d).flops;
    assert_true(fabs(par / (2 * H * l * l * dd) - 1) < 0.05);
    double ch = entry("retention.chunked")->cost(&d).flops;
    assert_true(fabs(ch / (H * l * (2 * 64 * dd + 4 * dd * dd)) - 1) < 0.05);
    /* chunk 0 is the default */
    op_dims d0 = dims_of(L, H, D, 0), ddef = dims_of(L, H, D, OP_LA_DEFAULT_CHUNK);
    assert_true(entry("linear_attention.chunked")->cost(&d0).flops ==
                entry("linear_attention.chunked")->cost(&ddef).flops);
    assert_true(op_la_state_bytes(H, D, 1) == 4.0 * H * (D * D + D));
}

/* create / run on 1..3 workers / verify / destroy for every entry. */
static void test_14_entry_round_trip(void **state)
{
    (void)state;
    static const int shp[][4] = {{70, 3, 17, 16}, {1, 2, 64, 0}, {130, 1, 3, 64}, {5, 4, 80, 2}};
    for (int i = 0; op_family_linear[i]; i++) {
        const op_entry *e = op_family_linear[i];
        for (size_t s = 0; s < sizeof shp / sizeof *shp; s++) {
            op_dims d = dims_of(shp[s][0], shp[s][1], shp[s][2], shp[s][3]);
            cb_err err;
            void *inst = NULL;
            if (e->create(&d, 7, 3, &inst, &err) != 0)
                fail_msg("%s: create: %s", e->name, err.msg);
            for (int w = 1; w <= 3; w++) {
                for (int k = 0; k < w; k++)
                    e->run(inst, k, w);
                if (e->verify(inst, &err) != 0)
                    fail_msg("%s (workers %d): %s", e->name, w, err.msg);
            }
            e->destroy(inst);
        }
        e->destroy(NULL);
    }
}

/* verify() fails before any run, and after a corrupted output or state. */
static void test_15_verify_can_fail(void **state)
{
    (void)state;
    for (int i = 0; op_family_linear[i]; i++) {
        const op_entry *e = op_family_linear[i];
        op_dims d = dims_of(40, 2, 17, 16);
        cb_err err;
        void *inst = NULL;
        assert_int_equal(e->create(&d, 3, 2, &inst, &err), 0);
        assert_int_equal(e->verify(inst, &err), -1); /* nothing run yet */
        e->run(inst, 0, 1);
        assert_int_equal(e->verify(inst, &err), 0);
        la_inst *x = inst;
        size_t last = strcmp(e->phase, "decode") == 0 ? (size_t)2 * 17 - 1
                                                       : (size_t)2 * 40 * 17 - 1;
        float keep = x->O[last];
        x->O[last] += 0.01f;
        assert_int_equal(e->verify(inst, &err), -1);
        assert_non_null(strstr(err.msg, e->name));
        x->O[last] = keep;
        assert_int_equal(e->verify(inst, &err), 0);
        if (x->S) { /* a wrong state update must show too */
            x->S[5] += 0.01f * (fabsf(x->S[5]) + 1.0f);
            assert_int_equal(e->verify(inst, &err), -1);
        }
        e->destroy(inst);
    }
    /* the spread check of a long prefill also sees a corrupted row */
    op_dims d = dims_of(2100, 4, 16, 0);
    const op_entry *e = entry("linear_attention.chunked");
    cb_err err;
    void *inst = NULL;
    assert_int_equal(e->create(&d, 5, 1, &inst, &err), 0);
    e->run(inst, 0, 1);
    assert_int_equal(e->verify(inst, &err), 0);
    la_inst *x = inst;
    x->O[((size_t)3 * 2100 + 2099) * 16 + 15] += 0.01f;
    assert_int_equal(e->verify(inst, &err), -1);
    e->destroy(inst);
}

/* Thousands of decode runs: the state stays finite and bounded, verify passes. */
static void test_16_step_bounded_under_repeated_runs(void **state)
{
    (void)state;
    static const char *names[] = {"retention.step", "linear_attention.step"};
    static const int runs[] = {20000, 5000};
    for (int i = 0; i < 2; i++) {
        const op_entry *e = entry(names[i]);
        op_dims d = dims_of(300, 3, 16, 0);
        cb_err err;
        void *inst = NULL;
        assert_int_equal(e->create(&d, 11, 2, &inst, &err), 0);
        for (int r = 0; r < runs[i]; r++) {
            e->run(inst, 0, 2);
            e->run(inst, 1, 2);
        }
        if (e->verify(inst, &err) != 0)
            fail_msg("%s after %d runs: %s", e->name, runs[i], err.msg);
        la_inst *x = inst;
        for (size_t k = 0; k < (size_t)3 * 16 * 16; k++)
            assert_true(isfinite(x->S[k]) && fabsf(x->S[k]) < 1e6f);
        for (size_t k = 0; k < (size_t)3 * 16; k++)
            assert_true(fabsf(x->O[k]) <= 1.0f + 1e-4f || i == 0);
        e->destroy(inst);
    }
}

static void test_17_retention_decays(void **state)
{
    (void)state;
    for (int h = 0; h < 8; h++) /* RetNet's own 8-head schedule */
        assert_true(op_retention_gamma(h, 8) == (float)(1.0 - exp2(-5.0 - h)));
    assert_true(op_retention_gamma(0, 1) == 1.0f - 1.0f / 32);
    for (int h = 0; h < 32; h++) {
        float g = op_retention_gamma(h, 32);
        assert_true(g >= 1.0f - 1.0f / 32 && g <= 1.0f - 1.0f / 4096 && g < 1.0f);
        if (h)
            assert_true(g > op_retention_gamma(h - 1, 32));
    }
}

/* L = 1: linear attention returns v (a one-term average); retention q.k/sqrt(D) v. */
static void test_18_single_token(void **state)
{
    (void)state;
    for (int ret = 0; ret < 2; ret++)
        for (int f = 0; f < 3; f++) {
            op_la_form form = f == 0 ? OP_LA_RECURRENT : f == 1 ? OP_LA_CHUNKED : OP_LA_PARALLEL;
            if (form == OP_LA_PARALLEL && !ret)
                continue;
            prob p = prob_make(ret, 2, 1, 17);
            float *O = tsup_nans(2 * 17);
            run_fast(&p, form, 0, O, NULL, NULL, 2);
            for (int h = 0; h < 2; h++) {
                double qk = 0;
                for (int d = 0; d < 17; d++)
                    qk += (double)p.Q[h * 17 + d] * p.K[h * 17 + d];
                for (int d = 0; d < 17; d++) {
                    double want = ret ? qk / sqrt(17.0) * p.V[h * 17 + d] : p.V[h * 17 + d];
                    assert_true(fabs(O[h * 17 + d] - want) <= 1e-5);
                }
            }
            free(O);
            prob_free(&p);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_01_linear_recurrent_vs_ref),
        cmocka_unit_test(test_02_linear_chunked_vs_ref),
        cmocka_unit_test(test_03_retention_recurrent_vs_ref),
        cmocka_unit_test(test_04_retention_chunked_vs_ref),
        cmocka_unit_test(test_05_retention_parallel_vs_ref),
        cmocka_unit_test(test_06_chunked_equals_recurrent),
        cmocka_unit_test(test_07_parallel_equals_recurrent),
        cmocka_unit_test(test_08_linear_step_after_prefill),
        cmocka_unit_test(test_09_retention_step_after_prefill),
        cmocka_unit_test(test_10_workers_bit_identical),
        cmocka_unit_test(test_11_prefill_continues_from_state),
        cmocka_unit_test(test_12_check_refuses_bad_shapes),
        cmocka_unit_test(test_13_cost_model),
        cmocka_unit_test(test_14_entry_round_trip),
        cmocka_unit_test(test_15_verify_can_fail),
        cmocka_unit_test(test_16_step_bounded_under_repeated_runs),
        cmocka_unit_test(test_17_retention_decays),
        cmocka_unit_test(test_18_single_token),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
