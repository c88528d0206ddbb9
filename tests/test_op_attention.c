/* tests/test_op_attention.c — causal softmax attention (operators/attention.h)
 * and its registry entries (operators/attention_entry.c, included here to
 * reach the instance for the corrupted-output case).
 *
 * The vectorised exp against libm over a range including very negative
 * inputs and +-inf; flash and naive against the double reference on awkward
 * shapes (L = 1, L not a multiple of any block, one head, D = 1, 3, 17, 64,
 * 80) with 1, 2 and 3 workers; flash == naive; the same output bit for bit
 * whatever the split; GQA against plain multi-head attention (a separate
 * reference without GQA, and K/V replicated per query head); the decode step
 * after a prefill of L tokens == the last row of a prefill of L + 1 tokens,
 * including splits that cut a KV head; future (fully masked) keys that
 * cannot change the output; the entries' checks, costs, round trips, and a
 * corrupted output that verify() catches.  No timing. */
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

#include "operators/attention_entry.c"
#include "tests/support/op_check.h"

/* ---- helpers ----------------------------------------------------------------------------- */

/* Q (H, L, D), K and V (Hkv, L, D) as the entries fill them. */
typedef struct qkv {
    int H, Hkv, L, D;
    float *Q, *K, *V;
} qkv;

static qkv qkv_make(int H, int Hkv, int L, int D, uint64_t seed)
{
    qkv x = {H, Hkv, L, D, NULL, NULL, NULL};
    size_t nq = (size_t)H * L * D, nkv = (size_t)Hkv * L * D;
    x.Q = tsup_floats(nq), x.K = tsup_floats(nkv), x.V = tsup_floats(nkv);
    op_fill_uniform(x.Q, nq, seed * 8 + 1, -2.0f, 2.0f);
    op_fill_uniform(x.K, nkv, seed * 8 + 2, -2.0f, 2.0f);
    op_fill_uniform(x.V, nkv, seed * 8 + 3, -1.0f, 1.0f);
    return x;
}

static void qkv_free(qkv *x) { free(x->Q), free(x->K), free(x->V); }

static size_t n_out(const qkv *x) { return (size_t)x->H * x->L * x->D; }

/* Runs every worker's share of flash (impl 'f') or naive ('n'), one after another. */
static void run_prefill(char impl, const qkv *x, float *O, int n_workers, int reverse)
{
    size_t bytes = impl == 'f' ? op_attn_flash_scratch_bytes(x->D, n_workers)
                               : op_attn_naive_scratch_bytes(x->L, n_workers);
    void *scratch = malloc(bytes);
    assert_non_null(scratch);
    for (int k = 0; k < n_workers; k++) {
        int w = reverse ? n_workers - 1 - k : k;
        if (impl == 'f')
            op_attn_flash_part(x->Q, x->K, x->V, O, x->H, x->Hkv, x->L, x->D, scratch, w,
                               n_workers);
        else
            op_attn_naive_part(x->Q, x->K, x->V, O, x->H, x->Hkv, x->L, x->D, scratch, w,
                               n_workers);
    }
    free(scratch);
}

/* max |x| over n values. */
static double vmax_of(const float *x, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        m = fabs(x[i]) > m ? fabs(x[i]) : m;
    return m;
}

/* Every element of got within ATTN_TOL x max|V| of want (rows of D). */
static void assert_close(const float *got, const float *want, size_t n, double vmax,
                         const char *what)
{
    double tol = ATTN_TOL * (vmax > 0 ? vmax : 1.0);
    for (size_t i = 0; i < n; i++) {
        double diff = fabs((double)got[i] - want[i]);
        if (!(diff <= tol))
            fail_msg("%s: element %zu = %.9g, expected %.9g (|diff| %.3g > %.3g)", what, i, got[i],
                     want[i], diff, tol);
    }
}

static void assert_same_bits(const float *a, const float *b, size_t n, const char *what)
{
    if (memcmp(a, b, n * sizeof(float)) != 0) {
        for (size_t i = 0; i < n; i++)
            if (memcmp(&a[i], &b[i], sizeof(float)) != 0)
                fail_msg("%s: element %zu differs: %.9g vs %.9g", what, i, a[i], b[i]);
    }
}

/* A plain multi-head reference, independent of the kernels' GQA indexing:
 * head h uses K and V head h; double accumulation. */
static void mha_reference(const float *Q, const float *K, const float *V, float *O, int H, int L,
                          int D)
{
    double *s = malloc(sizeof(double) * (size_t)L);
    assert_non_null(s);
    for (int h = 0; h < H; h++) {
        const float *q = Q + (size_t)h * L * D, *k = K + (size_t)h * L * D;
        const float *v = V + (size_t)h * L * D;
        for (int i = 0; i < L; i++) {
            double mx = -INFINITY, sum = 0.0;
            for (int j = 0; j <= i; j++) {
                double dot = 0.0;
                for (int d = 0; d < D; d++)
                    dot += (double)q[(size_t)i * D + d] * k[(size_t)j * D + d];
                s[j] = dot / sqrt((double)D);
                mx = fmax(mx, s[j]);
            }
            for (int j = 0; j <= i; j++)
                sum += (s[j] = exp(s[j] - mx));
            for (int d = 0; d < D; d++) {
                double acc = 0.0;
                for (int j = 0; j <= i; j++)
                    acc += s[j] * v[(size_t)j * D + d];
                O[((size_t)h * L + i) * D + d] = (float)(acc / sum);
            }
        }
    }
    free(s);
}

/* Shapes crossing every block edge: (H, Hkv, L, D). */
static const int shapes[][4] = {
    {1, 1, 1, 1},   {1, 1, 1, 64},  {2, 1, 2, 3},    {1, 1, 17, 17},  {3, 3, 63, 64},
    {4, 2, 64, 80}, {2, 2, 65, 16}, {4, 1, 97, 17},  {2, 1, 130, 64}, {6, 3, 129, 3},
    {1, 1, 200, 80}, {2, 2, 257, 1}, {4, 4, 33, 128}, {2, 1, 40, 160},
};
#define N_SHAPES ((int)(sizeof shapes / sizeof *shapes))

/* ---- tests ------------------------------------------------------------------------------- */

/* exp: relative error < 2e-7 wherever e^x is a normal float, the subnormal
 * grid below (<= 2^-149 absolute), 0 far below, and the special values. */
static void test_01_exp_accuracy(void **state)
{
    (void)state;
    enum { N = 1 << 20 };
    float *x = tsup_floats(N + 8), *y = tsup_floats(N + 8);
    for (int i = 0; i < N; i++) /* [-120, 100] evenly, plus the interval's ends */
        x[i] = -120.0f + 220.0f * (float)i / (float)(N - 1);
    const float special[8] = {-INFINITY, INFINITY, NAN, 0.0f, -0.0f, -87.3f, 88.7f, -1e-8f};
    memcpy(x + N, special, sizeof special);
    op_attn_exp(x, y, N + 8);
    double worst = 0.0;
    for (int i = 0; i < N + 8; i++) {
        double want = exp((double)x[i]);
        if (isnan(x[i]))
            assert_true(isnan(y[i]));
        else if (want > FLT_MAX)
            assert_true(isinf(y[i]) && y[i] > 0);
        else if (want >= FLT_MIN) {
            double rel = fabs(y[i] - want) / want;
            if (!(rel < 2e-7))
                fail_msg("exp(%.9g) = %.9g, want %.9g (relative error %.3g)", x[i], y[i], want,
                         rel);
            worst = rel > worst ? rel : worst;
        } else if (!(fabs(y[i] - want) <= ldexp(1.0, -149)))
            fail_msg("exp(%.9g) = %.9g, want %.9g (subnormal)", x[i], y[i], want);
    }
    assert_true(y[N] == 0.0f);       /* e^-inf */
    assert_true(y[N + 3] == 1.0f);   /* e^0 */
    /* odd lengths go through the masked tail; in place works */
    float t[5] = {0.0f, 1.0f, -1.0f, 2.0f, -INFINITY};
    op_attn_exp(t, t, 5);
    assert_true(t[0] == 1.0f && t[4] == 0.0f);
    assert_true(fabs(t[1] - M_E) < 1e-6 && fabs(t[3] - M_E * M_E) < 1e-5);
    op_attn_exp(t, t, 0);
    free(x), free(y);
}

/* flash and naive against the double reference, every shape, 1-3 workers. */
static void test_02_prefill_matches_reference(void **state)
{
    (void)state;
    for (int s = 0; s < N_SHAPES; s++) {
        qkv x = qkv_make(shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3], (uint64_t)s + 1);
        float *ref = tsup_floats(n_out(&x)), *O = tsup_floats(n_out(&x));
        op_attn_ref(x.Q, x.K, x.V, ref, x.H, x.Hkv, x.L, x.D);
        double vmax = vmax_of(x.V, (size_t)x.Hkv * x.L * x.D);
        char what[96];
        for (int nw = 1; nw <= 3; nw++)
            for (int impl = 0; impl < 2; impl++) {
                for (size_t i = 0; i < n_out(&x); i++)
                    O[i] = NAN;
                run_prefill(impl ? 'n' : 'f', &x, O, nw, 0);
                snprintf(what, sizeof what, "%s H%d Hkv%d L%d D%d workers %d",
                         impl ? "naive" : "flash", x.H, x.Hkv, x.L, x.D, nw);
                assert_close(O, ref, n_out(&x), vmax, what);
            }
        free(ref), free(O);
        qkv_free(&x);
    }
}

/* flash == naive (within tolerance); each bit-identical for any split and
 * any order of running the shares. */
static void test_03_flash_equals_naive_any_split(void **state)
{
    (void)state;
    for (int s = 0; s < N_SHAPES; s++) {
        qkv x = qkv_make(shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3], (uint64_t)s + 50);
        size_t n = n_out(&x);
        float *f1 = tsup_nans(n), *n1 = tsup_nans(n), *o = tsup_floats(n);
        run_prefill('f', &x, f1, 1, 0);
        run_prefill('n', &x, n1, 1, 0);
        assert_close(f1, n1, n, vmax_of(x.V, (size_t)x.Hkv * x.L * x.D), "flash vs naive");
        for (int nw = 2; nw <= 5; nw++) {
            for (size_t i = 0; i < n; i++)
                o[i] = NAN;
            run_prefill('f', &x, o, nw, nw % 2);
            assert_same_bits(o, f1, n, "flash, another split");
            for (size_t i = 0; i < n; i++)
                o[i] = NAN;
            run_prefill('n', &x, o, nw, nw % 2);
            assert_same_bits(o, n1, n, "naive, another split");
        }
        free(f1), free(n1), free(o);
        qkv_free(&x);
    }
}

/* n_kv_heads == n_heads is plain multi-head attention (a reference without
 * GQA); GQA equals multi-head attention with each KV head copied to its
 * query heads (bit for bit: the same arithmetic on the same values). */
static void test_04_gqa_identities(void **state)
{
    (void)state;
    const int dims[][3] = {{3, 40, 17}, {2, 70, 64}, {4, 129, 80}}; /* H, L, D */
    for (int s = 0; s < 3; s++) {
        int H = dims[s][0], L = dims[s][1], D = dims[s][2];
        qkv x = qkv_make(H, H, L, D, 100 + (uint64_t)s);
        size_t n = n_out(&x);
        float *mha = tsup_floats(n), *ref = tsup_floats(n), *o = tsup_nans(n);
        mha_reference(x.Q, x.K, x.V, mha, H, L, D);
        op_attn_ref(x.Q, x.K, x.V, ref, H, H, L, D);
        double vmax = vmax_of(x.V, n);
        assert_close(ref, mha, n, vmax * 1e-2, "GQA reference with Hkv = H vs MHA reference");
        run_prefill('f', &x, o, 2, 0);
        assert_close(o, mha, n, vmax, "flash with Hkv = H vs MHA reference");
        run_prefill('n', &x, o, 3, 0);
        assert_close(o, mha, n, vmax, "naive with Hkv = H vs MHA reference");
        free(mha), free(ref), free(o);
        qkv_free(&x);
    }
    /* GQA (8 query heads, 2 KV heads) vs the same K/V replicated to 8 heads */
    int H = 8, Hkv = 2, L = 100, D = 24, G = H / Hkv;
    qkv g = qkv_make(H, Hkv, L, D, 7), m = qkv_make(H, H, L, D, 7);
    memcpy(m.Q, g.Q, n_out(&g) * sizeof(float));
    for (int h = 0; h < H; h++) {
        memcpy(m.K + (size_t)h * L * D, g.K + (size_t)(h / G) * L * D, (size_t)L * D * 4);
        memcpy(m.V + (size_t)h * L * D, g.V + (size_t)(h / G) * L * D, (size_t)L * D * 4);
    }
    float *og = tsup_nans(n_out(&g)), *om = tsup_nans(n_out(&m)), *mha = tsup_floats(n_out(&m));
    for (int impl = 0; impl < 2; impl++) {
        run_prefill(impl ? 'n' : 'f', &g, og, 2, 0);
        run_prefill(impl ? 'n' : 'f', &m, om, 3, 0);
        assert_same_bits(og, om, n_out(&g), "GQA vs replicated KV heads");
    }
    mha_reference(m.Q, m.K, m.V, mha, H, L, D);
    assert_close(og, mha, n_out(&g), vmax_of(g.V, (size_t)Hkv * L * D), "GQA vs MHA reference");
    free(og), free(om), free(mha);
    qkv_free(&g), qkv_free(&m);
}

/* The decode step (cache of L tokens + token L) over n_workers workers. */
static void run_decode(const qkv *x, int L, float *o, int n_workers)
{
    int H = x->H, Hkv = x->Hkv, D = x->D, Lx = x->L;
    size_t P = (size_t)L + 1;
    float *Kc = tsup_nans((size_t)Hkv * P * D), *Vc = tsup_nans((size_t)Hkv * P * D);
    float *q = tsup_floats((size_t)H * D), *kn = tsup_floats((size_t)Hkv * D),
          *vn = tsup_floats((size_t)Hkv * D);
    for (int kv = 0; kv < Hkv; kv++) { /* cache = tokens 0..L-1, new = token L; slot L NaN */
        memcpy(Kc + kv * P * D, x->K + (size_t)kv * Lx * D, (size_t)L * D * 4);
        memcpy(Vc + kv * P * D, x->V + (size_t)kv * Lx * D, (size_t)L * D * 4);
        memcpy(kn + (size_t)kv * D, x->K + ((size_t)kv * Lx + L) * D, (size_t)D * 4);
        memcpy(vn + (size_t)kv * D, x->V + ((size_t)kv * Lx + L) * D, (size_t)D * 4);
    }
    for (int h = 0; h < H; h++)
        memcpy(q + (size_t)h * D, x->Q + ((size_t)h * Lx + L) * D, (size_t)D * 4);
    void *scratch = malloc(op_attn_decode_scratch_bytes(H, Hkv, D, n_workers));
    assert_non_null(scratch);
    for (int w = 0; w < n_workers; w++)
        op_attn_decode_part(q, Kc, Vc, kn, vn, o, H, Hkv, L, D, scratch, w, n_workers);
    op_attn_decode_merge(o, H, Hkv, L, D, scratch, n_workers);
    /* slot L now holds the new token */
    for (int kv = 0; kv < Hkv; kv++)
        assert_memory_equal(Kc + (kv * P + L) * D, kn + (size_t)kv * D, (size_t)D * 4);
    free(scratch), free(Kc), free(Vc), free(q), free(kn), free(vn);
}

/* The decode step after a prefill of L tokens == the last row of flash on
 * L + 1 tokens, for splits whole-head and head-cutting (1-5 workers), L = 0
 * (the new token alone) and L across decode blocks. */
static void test_05_decode_equals_last_prefill_row(void **state)
{
    (void)state;
    const int heads[][3] = {{1, 1, 64}, {4, 1, 17}, {6, 2, 80}, {3, 3, 3}, {8, 8, 1}, {2, 1, 160}};
    const int lens[] = {0, 1, 15, 16, 17, 127, 128, 129, 300, 700};
    for (int a = 0; a < (int)(sizeof heads / sizeof *heads); a++)
        for (int b = 0; b < (int)(sizeof lens / sizeof *lens); b++) {
            int H = heads[a][0], Hkv = heads[a][1], D = heads[a][2], L = lens[b];
            qkv x = qkv_make(H, Hkv, L + 1, D, 1000 + (uint64_t)(a * 100 + b));
            float *full = tsup_nans(n_out(&x)), *last = tsup_floats((size_t)H * D),
                  *o = tsup_floats((size_t)H * D);
            run_prefill('f', &x, full, 1, 0);
            for (int h = 0; h < H; h++)
                memcpy(last + (size_t)h * D, full + ((size_t)h * (L + 1) + L) * D, (size_t)D * 4);
            double vmax = vmax_of(x.V, (size_t)Hkv * (L + 1) * D);
            for (int nw = 1; nw <= 5; nw++) {
                for (int i = 0; i < H * D; i++)
                    o[i] = NAN;
                run_decode(&x, L, o, nw);
                char what[96];
                snprintf(what, sizeof what, "decode H%d Hkv%d L%d D%d workers %d", H, Hkv, L, D,
                         nw);
                assert_close(o, last, (size_t)H * D, vmax, what);
                /* and the double reference over the same cache */
                float ref[ATTN_MAX_D];
                for (int h = 0; h < H; h++) {
                    op_attn_ref_row(x.Q, x.K, x.V, ref, H, Hkv, L + 1, D, h, L);
                    assert_close(o + (size_t)h * D, ref, (size_t)D, vmax, what);
                }
            }
            free(full), free(last), free(o);
            qkv_free(&x);
        }
}

/* Future keys never matter: poisoning every key/value at or after position
 * p0 (huge K, huge V) leaves rows before p0 bit-identical, whether the
 * poisoned keys fill whole (skipped) blocks or part of a diagonal block. */
static void test_06_masked_keys_do_not_leak(void **state)
{
    (void)state;
    const int cuts[] = {1, 5, 63, 64, 65, 100, 128, 150};
    int H = 4, Hkv = 2, L = 192, D = 20;
    qkv x = qkv_make(H, Hkv, L, D, 77);
    size_t n = n_out(&x);
    float *clean = tsup_nans(n), *dirty = tsup_nans(n);
    for (int impl = 0; impl < 2; impl++)
        for (int c = 0; c < (int)(sizeof cuts / sizeof *cuts); c++) {
            qkv y = qkv_make(H, Hkv, L, D, 77);
            int p0 = cuts[c];
            for (int kv = 0; kv < Hkv; kv++)
                for (int p = p0; p < L; p++)
                    for (int d = 0; d < D; d++) {
                        y.K[((size_t)kv * L + p) * D + d] = 1e30f;
                        y.V[((size_t)kv * L + p) * D + d] = 1e30f;
                    }
            run_prefill(impl ? 'n' : 'f', &x, clean, 2, 0);
            run_prefill(impl ? 'n' : 'f', &y, dirty, 2, 0);
            for (int h = 0; h < H; h++)
                assert_same_bits(dirty + (size_t)h * L * D, clean + (size_t)h * L * D,
                                 (size_t)p0 * D, "rows before the poisoned keys");
            qkv_free(&y);
        }
    free(clean), free(dirty);
    qkv_free(&x);
}

/* L = 1: the output is the first value row exactly (one key, weight 1). */
static void test_07_single_token(void **state)
{
    (void)state;
    const int dims[][3] = {{1, 1, 1}, {4, 2, 17}, {3, 1, 64}, {2, 2, 80}};
    for (int s = 0; s < 4; s++) {
        qkv x = qkv_make(dims[s][0], dims[s][1], 1, dims[s][2], 5 + (uint64_t)s);
        float *o = tsup_nans(n_out(&x));
        for (int impl = 0; impl < 2; impl++) {
            run_prefill(impl ? 'n' : 'f', &x, o, 2, 0);
            for (int h = 0; h < x.H; h++)
                assert_memory_equal(o + (size_t)h * x.D,
                                    x.V + (size_t)(h / (x.H / x.Hkv)) * x.D,
                                    (size_t)x.D * sizeof(float));
        }
        free(o);
        qkv_free(&x);
    }
}

/* Every entry refuses L = 0, an overflowing L, bad heads and head_dim; naive
 * refuses L whose L x L score matrix exceeds 2 GiB, saying why. */
static void test_08_check_refuses_bad_shapes(void **state)
{
    (void)state;
    for (int e = 0; op_family_attention[e]; e++) {
        const op_entry *en = op_family_attention[e];
        cb_err err = {{0}};
        op_dims ok = {.seq_len = 100, .n_heads = 8, .n_kv_heads = 2, .head_dim = 64};
        assert_int_equal(en->check(&ok, &err), 0);
        op_dims d = ok;
        d.seq_len = 0;
        assert_int_equal(en->check(&d, &err), -1);
        assert_non_null(strstr(err.msg, "seq_len"));
        d.seq_len = INT64_MAX;
        assert_int_equal(en->check(&d, &err), -1);
        assert_non_null(strstr(err.msg, "seq_len"));
        d = ok, d.seq_len = (int64_t)1 << 24, d.n_heads = d.n_kv_heads = 4096, d.head_dim = 1024;
        assert_int_equal(en->check(&d, &err), -1); /* 2^48 bytes (naive: too long first) */
        d = ok, d.n_heads = 12, d.n_kv_heads = 5;
        assert_int_equal(en->check(&d, &err), -1);
        assert_non_null(strstr(err.msg, "n_kv_heads"));
        d = ok, d.n_kv_heads = 0;
        assert_int_equal(en->check(&d, &err), -1);
        assert_non_null(strstr(err.msg, "n_kv_heads"));
        d = ok, d.head_dim = 0;
        assert_int_equal(en->check(&d, &err), -1);
        assert_non_null(strstr(err.msg, "head_dim"));
        d = ok, d.n_heads = -3;
        assert_int_equal(en->check(&d, &err), -1);
        assert_non_null(strstr(err.msg, "n_heads"));
        d = ok, d.seq_len = ATTN_NAIVE_MAX_L + 1;
        int naive = strcmp(en->impl, "naive") == 0;
        assert_int_equal(en->check(&d, &err), naive ? -1 : 0);
        if (naive)
            assert_non_null(strstr(err.msg, "2 GiB"));
        d.seq_len = ATTN_NAIVE_MAX_L;
        assert_int_equal(en->check(&d, &err), 0);
        /* create() refuses what check() refuses */
        void *inst = (void *)1;
        d = ok, d.n_kv_heads = 3;
        assert_int_equal(en->create(&d, 1, 1, &inst, &err), -1);
        assert_null(inst);
        assert_non_null(strstr(err.msg, en->name));
    }
    /* the 2 GiB bound is the right one */
    assert_true((double)ATTN_NAIVE_MAX_L * ATTN_NAIVE_MAX_L * 4 <= 2147483648.0);
    assert_true((double)(ATTN_NAIVE_MAX_L + 1) * (ATTN_NAIVE_MAX_L + 1) * 4 > 2147483648.0);
}

/* The cost model: positive, the stated formulas, naive's score traffic, and
 * the state is the KV cache. */
static void test_09_cost_model(void **state)
{
    (void)state;
    op_dims d = {.seq_len = 4096, .n_heads = 32, .n_kv_heads = 8, .head_dim = 64};
    double T = 4096.0 * 4097.0 / 2.0;
    for (int e = 0; op_family_attention[e]; e++) {
        const op_entry *en = op_family_attention[e];
        op_cost c = en->cost(&d);
        assert_true(c.flops > 0 && c.bytes > 0 && c.state_bytes > 0);
        assert_true(c.state_bytes == 2.0 * 8 * 4096 * 64 * 4);
        if (strcmp(en->phase, "prefill") == 0) {
            assert_true(c.flops == 32 * (4.0 * 64 * T + T));
            double io = 4.0 * (2 * 32 + 2 * 8) * 4096.0 * 64;
            assert_true(c.bytes == (strcmp(en->impl, "naive") == 0 ? io + 8.0 * 32 * T : io));
        } else {
            assert_true(c.flops == 32 * (4.0 * 64 * 4097 + 4097));
            assert_true(c.bytes >= 2.0 * 8 * 4097 * 64 * 4);
        }
        assert_string_equal(en->family, "quadratic");
        assert_string_equal(en->op, "attention");
        assert_true(en->tolerance == ATTN_TOL);
    }
}

/* A create / run / verify / destroy round trip through every entry, and
 * repeated runs (the decode step rewrites the same slot: same output). */
static void test_10_entry_round_trip(void **state)
{
    (void)state;
    op_dims shapes2[] = {{.seq_len = 1, .n_heads = 1, .n_kv_heads = 1, .head_dim = 1},
                         {.seq_len = 77, .n_heads = 6, .n_kv_heads = 2, .head_dim = 40},
                         {.seq_len = 200, .n_heads = 4, .n_kv_heads = 1, .head_dim = 64}};
    for (int e = 0; op_family_attention[e]; e++)
        for (int s = 0; s < 3; s++) {
            const op_entry *en = op_family_attention[e];
            cb_err err = {{0}};
            void *inst = NULL;
            assert_int_equal(en->create(&shapes2[s], 42, 3, &inst, &err), 0);
            assert_non_null(inst);
            assert_int_equal(en->verify(inst, &err), -1); /* nothing run yet */
            attn_inst *in = inst;
            size_t no = (size_t)in->H * (in->decode ? 1 : (size_t)in->L) * in->D;
            float *first = tsup_floats(no);
            for (int nw = 1; nw <= 3; nw++) {
                for (int rep = 0; rep < 2; rep++)
                    for (int w = 0; w < nw; w++)
                        en->run(inst, w, nw);
                if (en->verify(inst, &err) != 0)
                    fail_msg("%s workers %d: %s", en->name, nw, err.msg);
                if (nw == 1)
                    memcpy(first, in->o, no * sizeof(float));
                else if (!in->decode || !op_attn_decode_needs_merge(in->Hkv, nw))
                    assert_same_bits(in->o, first, no, "another split");
            }
            free(first);
            en->destroy(inst);
        }
    attn_destroy(NULL);
}

/* verify() catches a corrupted output, in the checked spread too. */
static void test_11_verify_catches_corruption(void **state)
{
    (void)state;
    op_dims shapes2[] = {{.seq_len = 50, .n_heads = 2, .n_kv_heads = 1, .head_dim = 16},
                         {.seq_len = 700, .n_heads = 8, .n_kv_heads = 2, .head_dim = 64}};
    for (int e = 0; op_family_attention[e]; e++)
        for (int s = 0; s < 2; s++) {
            const op_entry *en = op_family_attention[e];
            cb_err err = {{0}};
            void *inst = NULL;
            assert_int_equal(en->create(&shapes2[s], 9, 2, &inst, &err), 0);
            for (int w = 0; w < 2; w++)
                en->run(inst, w, 2);
            assert_int_equal(en->verify(inst, &err), 0);
            attn_inst *in = inst;
            /* the last row of the last head: always checked */
            size_t at = in->decode ? (size_t)(in->H - 1) * in->D
                                   : ((size_t)(in->H - 1) * in->L + in->L - 1) * in->D;
            float keep = in->o[at + 1];
            in->o[at + 1] += 0.01f;
            assert_int_equal(en->verify(inst, &err), -1);
            assert_non_null(strstr(err.msg, en->name));
            assert_non_null(strstr(err.msg, "reference"));
            in->o[at + 1] = NAN;
            assert_int_equal(en->verify(inst, &err), -1);
            in->o[at + 1] = keep;
            assert_int_equal(en->verify(inst, &err), 0);
            en->destroy(inst);
        }
}

/* The decode entry with fewer KV heads than workers: split positions, merge
 * by the last worker (any order), repeated runs stay exact. */
static void test_12_decode_entry_merges(void **state)
{
    (void)state;
    const op_entry *en = &attn_kvcache_entry;
    op_dims d = {.seq_len = 1000, .n_heads = 4, .n_kv_heads = 1, .head_dim = 64};
    cb_err err = {{0}};
    void *inst = NULL;
    assert_int_equal(en->create(&d, 3, 4, &inst, &err), 0);
    for (int nw = 1; nw <= 4; nw++)
        for (int rep = 0; rep < 3; rep++) {
            for (int k = 0; k < nw; k++)
                en->run(inst, rep % 2 ? nw - 1 - k : k, nw);
            if (en->verify(inst, &err) != 0)
                fail_msg("workers %d: %s", nw, err.msg);
        }
    en->destroy(inst);
}

/* Long contexts: the decode step over 9000 cached tokens (the reference
 * streams rows longer than 4096 scores in chunks) against the reference and
 * against a one-pass double computation written here. */
static void test_13_long_context_decode(void **state)
{
    (void)state;
    int H = 2, Hkv = 1, D = 24, L = 9000;
    qkv x = qkv_make(H, Hkv, L + 1, D, 4242);
    float *o = tsup_floats((size_t)H * D), ref[ATTN_MAX_D];
    double *s = malloc(sizeof(double) * (size_t)(L + 1));
    assert_non_null(s);
    double vmax = vmax_of(x.V, (size_t)(L + 1) * D);
    for (int nw = 1; nw <= 3; nw++) {
        run_decode(&x, L, o, nw);
        for (int h = 0; h < H; h++) {
            op_attn_ref_row(x.Q, x.K, x.V, ref, H, Hkv, L + 1, D, h, L);
            assert_close(o + (size_t)h * D, ref, (size_t)D, vmax, "long decode vs reference");
            const float *q = x.Q + ((size_t)h * (L + 1) + L) * D;
            double mx = -INFINITY, sum = 0.0;
            for (int j = 0; j <= L; j++) {
                double dot = 0.0;
                for (int d = 0; d < D; d++)
                    dot += (double)q[d] * x.K[(size_t)j * D + d];
                s[j] = dot / sqrt((double)D);
                mx = fmax(mx, s[j]);
            }
            for (int j = 0; j <= L; j++)
                sum += (s[j] = exp(s[j] - mx));
            for (int d = 0; d < D; d++) {
                double acc = 0.0;
                for (int j = 0; j <= L; j++)
                    acc += s[j] * x.V[(size_t)j * D + d];
                assert_true(fabs(acc / sum - ref[d]) <= 1e-6);
            }
        }
    }
    free(s), free(o);
    qkv_free(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_01_exp_accuracy),
        cmocka_unit_test(test_02_prefill_matches_reference),
        cmocka_unit_test(test_03_flash_equals_naive_any_split),
        cmocka_unit_test(test_04_gqa_identities),
        cmocka_unit_test(test_05_decode_equals_last_prefill_row),
        cmocka_unit_test(test_06_masked_keys_do_not_leak),
        cmocka_unit_test(test_07_single_token),
        cmocka_unit_test(test_08_check_refuses_bad_shapes),
        cmocka_unit_test(test_09_cost_model),
        cmocka_unit_test(test_10_entry_round_trip),
        cmocka_unit_test(test_11_verify_catches_corruption),
        cmocka_unit_test(test_12_decode_entry_merges),
        cmocka_unit_test(test_13_long_context_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
