/* tests/test_quant.c — ggml's quantised tensor types (operators/quant.h) and
 * their registry entries (operators/quant_entry.c, included to reach an
 * instance's output for the corrupted-output case).
 *
 * Dequantisation: one hand-made block of every type, built field by field in
 * the test (the K-quants' packed 6-bit scales packed here as ggml's quantiser
 * packs them), with every expected element computed here from the layout's
 * formula in per-element form (element e's scale, min and bits), never by
 * the dequantiser under test.  Reference quantisers: exact cases and round
 * trips within each format's step.  GEMV: native Q8_0 / Q4_0 / Q4_1 against
 * op_gemv_q_ref within op_gemv_q_bound, bit-identical over 1, 2, 3 workers
 * and with the prepared path; dequantise-then-fp32 for every type within
 * 1e-4 sum |w x|.  Entries: create/run/verify, and verify failing on a
 * corrupted output.
 * Never: time anything or assert on speed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "operators/lowp.h"
#include "operators/quant_entry.c"
#include "tests/support/op_check.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static void *xmalloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    assert_non_null(p);
    return p;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* Dequantises one block of t and compares with want[0..n) exactly. */
static void expect_block(op_qtype t, const uint8_t *blk, const float *want, int n)
{
    float *got = xmalloc((size_t)n * sizeof(float));
    assert_int_equal(op_dequant_row(t, blk, got, n), 0);
    for (int e = 0; e < n; e++)
        if (got[e] != want[e])
            fail_msg("%s element %d: got %.9g, want %.9g", op_qtype_name(t), e, got[e], want[e]);
    free(got);
}

static void test_01_layout(void **state)
{
    (void)state;
    static const struct { op_qtype t; const char *name; int elems; size_t bytes; } want[] = {
        {OP_Q_F32, "f32", 1, 4},     {OP_Q_F16, "f16", 1, 2},     {OP_Q_BF16, "bf16", 1, 2},
        {OP_Q_Q4_0, "q4_0", 32, 18}, {OP_Q_Q4_1, "q4_1", 32, 20}, {OP_Q_Q5_0, "q5_0", 32, 22},
        {OP_Q_Q5_1, "q5_1", 32, 24}, {OP_Q_Q8_0, "q8_0", 32, 34}, {OP_Q_Q2_K, "q2_k", 256, 84},
        {OP_Q_Q3_K, "q3_k", 256, 110}, {OP_Q_Q4_K, "q4_k", 256, 144},
        {OP_Q_Q5_K, "q5_k", 256, 176}, {OP_Q_Q6_K, "q6_k", 256, 210},
        {OP_Q_Q8_K, "q8_k", 256, 292},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_true(op_qtype_known((int)want[i].t));
        assert_string_equal(op_qtype_name(want[i].t), want[i].name);
        assert_int_equal(op_qtype_block_elems(want[i].t), want[i].elems);
        assert_int_equal(op_qtype_block_bytes(want[i].t), want[i].bytes);
        assert_int_equal(op_qtype_row_bytes(want[i].t, 3 * 256), 3 * 256 / want[i].elems * want[i].bytes);
    }
    /* GGUF ids that ggml removed or that we do not know. */
    for (int t = 4; t <= 5; t++)
        assert_false(op_qtype_known(t));
    assert_false(op_qtype_known(16));
    assert_false(op_qtype_known(-1));
    assert_string_equal(op_qtype_name((op_qtype)4), "?");
    assert_int_equal(op_qtype_block_bytes((op_qtype)99), 0);
    /* k not a multiple of the block, or negative. */
    assert_int_equal(op_qtype_row_bytes(OP_Q_Q4_1, 48), 0);
    assert_int_equal(op_qtype_row_bytes(OP_Q_Q6_K, 32), 0);
    assert_int_equal(op_qtype_row_bytes(OP_Q_Q8_0, -32), 0);
    float out[64];
    uint8_t blk[64] = {0};
    out[0] = 7.0f;
    assert_int_equal(op_dequant_row(OP_Q_Q4_1, blk, out, 48), -1);
    assert_int_equal(op_dequant_row((op_qtype)4, blk, out, 32), -1);
    assert_true(out[0] == 7.0f); /* nothing written */
    assert_int_equal(op_quant_row_ref(OP_Q_Q4_K, out, blk, 256), -1); /* not provided */
    assert_int_equal(op_quant_row_ref(OP_Q_Q8_0, out, blk, 40), -1);
    assert_true(op_gemv_q_native(OP_Q_Q8_0) && op_gemv_q_native(OP_Q_Q4_0) &&
                op_gemv_q_native(OP_Q_Q4_1));
    assert_false(op_gemv_q_native(OP_Q_Q4_K));
    assert_int_equal(op_gemv_q_scratch_bytes(OP_Q_Q4_K, 256), 0);
    assert_int_equal(op_gemv_q_scratch_bytes(OP_Q_Q4_1, 33), 0);
    assert_int_equal(op_gemv_q_scratch_bytes(OP_Q_Q4_1, 64) % 64, 0);
}

/* Q4_0 with d = 0.5: low nibbles 0..15 (elements 0..15) give -4..3.5, high
 * nibbles 15..0 (elements 16..31) give 3.5..-4. */
static void test_02_q4_0_q4_1_q8_0_by_hand(void **state)
{
    (void)state;
    uint8_t b[34];
    float want[32];
    put16(b, 0x3800); /* 0.5 */
    for (int j = 0; j < 16; j++) {
        b[2 + j] = (uint8_t)(j | ((15 - j) << 4));
        want[j] = -4.0f + 0.5f * (float)j;
        want[16 + j] = 3.5f - 0.5f * (float)j;
    }
    expect_block(OP_Q_Q4_0, b, want, 32);

    /* Q4_1, d = 0.25, m = -1: value q / 4 - 1. */
    put16(b, 0x3400);
    put16(b + 2, 0xbc00);
    for (int j = 0; j < 16; j++) {
        int lo = (j * 5) % 16, hi = (j * 3 + 7) % 16;
        b[4 + j] = (uint8_t)(lo | (hi << 4));
        want[j] = 0.25f * (float)lo - 1.0f;
        want[16 + j] = 0.25f * (float)hi - 1.0f;
    }
    expect_block(OP_Q_Q4_1, b, want, 32);

    /* Q8_0, d = 2: value 2 q, q from -128 to 120. */
    put16(b, 0x4000);
    for (int j = 0; j < 32; j++) {
        int q = -128 + 8 * j;
        b[2 + j] = (uint8_t)(int8_t)q;
        want[j] = 2.0f * (float)q;
    }
    expect_block(OP_Q_Q8_0, b, want, 32);

    /* A row of two blocks: the second follows the first at 34 bytes. */
    uint8_t row[68];
    float two[64];
    memcpy(row, b, 34);
    memcpy(row + 34, b, 34);
    put16(row + 34, 0xc000); /* -2 */
    for (int j = 0; j < 32; j++) {
        two[j] = want[j];
        two[32 + j] = -want[j];
    }
    expect_block(OP_Q_Q8_0, row, two, 64);
}

/* Q5_0 / Q5_1: the fifth bit of element e is bit e of the u32 qh. */
static void test_03_q5_by_hand(void **state)
{
    (void)state;
    uint8_t b[24];
    float want[32];
    int q[32];
    for (int e = 0; e < 32; e++)
        q[e] = (e * 7 + 3) % 32;
    /* Q5_0: d = 0.5, value (q - 16) / 2; fields d, qh[4], qs[16]. */
    memset(b, 0, sizeof b);
    put16(b, 0x3800);
    for (int e = 0; e < 32; e++) {
        if (q[e] & 16)
            b[2 + e / 8] |= (uint8_t)(1u << (e % 8));
        b[6 + e % 16] |= (uint8_t)((q[e] & 15) << (e < 16 ? 0 : 4));
        want[e] = 0.5f * (float)(q[e] - 16);
    }
    expect_block(OP_Q_Q5_0, b, want, 32);
    /* Q5_1: d = 0.25, m = 1, value q / 4 + 1; fields d, m, qh[4], qs[16]. */
    memset(b, 0, sizeof b);
    put16(b, 0x3400);
    put16(b + 2, 0x3c00);
    for (int e = 0; e < 32; e++) {
        if (q[e] & 16)
            b[4 + e / 8] |= (uint8_t)(1u << (e % 8));
        b[8 + e % 16] |= (uint8_t)((q[e] & 15) << (e < 16 ? 0 : 4));
        want[e] = 0.25f * (float)q[e] + 1.0f;
    }
    expect_block(OP_Q_Q5_1, b, want, 32);
}

/* Packs 8 6-bit scales and mins into 12 bytes as ggml's Q4_K/Q5_K quantiser. */
static void pack_k4(const int *sc, const int *mn, uint8_t *p)
{
    memset(p, 0, 12);
    for (int j = 0; j < 8; j++) {
        if (j < 4) {
            p[j] = (uint8_t)sc[j];
            p[j + 4] = (uint8_t)mn[j];
        } else {
            p[j + 4] = (uint8_t)((sc[j] & 0x0f) | ((mn[j] & 0x0f) << 4));
            p[j - 4] |= (uint8_t)((sc[j] >> 4) << 6);
            p[j] |= (uint8_t)((mn[j] >> 4) << 6);
        }
    }
}

static const int k_sc[8] = {1, 7, 13, 63, 5, 33, 62, 40};
static const int k_mn[8] = {0, 3, 63, 9, 17, 50, 2, 31};

/* Q4_K: element e of sub-block s = e / 32 is d sc[s] q - dmin mn[s]; its
 * nibble is in byte 32 (e / 64) + e % 32, low for even s, high for odd. */
static void test_04_q4_k_by_hand(void **state)
{
    (void)state;
    uint8_t b[144] = {0};
    float want[256], d = 0.5f, dmin = 0.25f;
    put16(b, 0x3800);
    put16(b + 2, 0x3400);
    pack_k4(k_sc, k_mn, b + 4);
    for (int e = 0; e < 256; e++) {
        int q = (e * 7 + 3) % 16, s = e / 32;
        b[16 + 32 * (e / 64) + e % 32] |= (uint8_t)(q << (s % 2 ? 4 : 0));
        want[e] = d * (float)k_sc[s] * (float)q - dmin * (float)k_mn[s];
    }
    expect_block(OP_Q_Q4_K, b, want, 256);
}

/* Q5_K: as Q4_K with a fifth bit: bit s of qh[e % 32]. */
static void test_05_q5_k_by_hand(void **state)
{
    (void)state;
    uint8_t b[176] = {0};
    float want[256], d = 0.125f, dmin = 2.0f;
    put16(b, 0x3000);
    put16(b + 2, 0x4000);
    pack_k4(k_sc, k_mn, b + 4);
    for (int e = 0; e < 256; e++) {
        int q = (e * 11 + 5) % 32, s = e / 32;
        b[48 + 32 * (e / 64) + e % 32] |= (uint8_t)((q & 15) << (s % 2 ? 4 : 0));
        if (q & 16)
            b[16 + e % 32] |= (uint8_t)(1u << s);
        want[e] = d * (float)k_sc[s] * (float)q - dmin * (float)k_mn[s];
    }
    expect_block(OP_Q_Q5_K, b, want, 256);
}

/* Q6_K: 6-bit q, value d scales[e / 16] (q - 32).  Within each half of 128
 * (64 bytes of ql, 32 of qh), element 32 r + l has its low nibble in
 * ql[l + 32 (r % 2)] (high nibble when r >= 2) and its top 2 bits at bit 2 r
 * of qh[l]. */
static void test_06_q6_k_by_hand(void **state)
{
    (void)state;
    uint8_t b[210] = {0};
    float want[256], d = 0.5f;
    int8_t sc[16];
    for (int i = 0; i < 16; i++)
        sc[i] = (int8_t)(i * 17 - 128); /* -128 .. 127 */
    memcpy(b + 192, sc, 16);
    put16(b + 208, 0x3800);
    for (int e = 0; e < 256; e++) {
        int q = (e * 13 + 7) % 64, h = e / 128, r = (e % 128) / 32, l = e % 32;
        b[64 * h + l + 32 * (r % 2)] |= (uint8_t)((q & 15) << (r >= 2 ? 4 : 0));
        b[128 + 32 * h + l] |= (uint8_t)((q >> 4) << (2 * r));
        want[e] = d * (float)sc[e / 16] * (float)(q - 32);
    }
    expect_block(OP_Q_Q6_K, b, want, 256);
}

/* Q2_K: 2-bit q of element e at shift 2 ((e % 128) / 32) of qs[32 (e / 128)
 * + e % 32]; value d (scales[e/16] & 15) q - dmin (scales[e/16] >> 4). */
static void test_07_q2_k_q3_k_by_hand(void **state)
{
    (void)state;
    uint8_t b[110] = {0};
    float want[256], d = 0.5f, dmin = 0.25f;
    for (int i = 0; i < 16; i++)
        b[i] = (uint8_t)(((i * 5) % 16) | (((i * 3 + 1) % 16) << 4));
    put16(b + 80, 0x3800);
    put16(b + 82, 0x3400);
    for (int e = 0; e < 256; e++) {
        int q = (e * 3 + e / 7) % 4, sc = b[e / 16];
        b[16 + 32 * (e / 128) + e % 32] |= (uint8_t)(q << (2 * ((e % 128) / 32)));
        want[e] = d * (float)(sc & 15) * (float)q - dmin * (float)(sc >> 4);
    }
    expect_block(OP_Q_Q2_K, b, want, 256);

    /* Q3_K: 16 6-bit scales s (value s - 32) packed: low 4 bits in the low
     * (i < 8) or high (i >= 8) nibble of byte i % 8, top 2 bits at bit
     * 2 (i / 4) of byte 8 + i % 4.  3-bit q = the 2 bits as Q2_K, minus 4
     * when bit e / 32 of hmask[e % 32] is clear. */
    memset(b, 0, sizeof b);
    int s[16];
    for (int i = 0; i < 16; i++) {
        s[i] = (i * 23 + 5) % 64;
        b[96 + i % 8] |= (uint8_t)((s[i] & 15) << (i < 8 ? 0 : 4));
        b[104 + i % 4] |= (uint8_t)((s[i] >> 4) << (2 * (i / 4)));
    }
    put16(b + 108, 0x3800);
    for (int e = 0; e < 256; e++) {
        int q = (e * 5 + 1) % 8 - 4; /* -4 .. 3 */
        int low = q >= 0 ? q : q + 4;
        b[32 + 32 * (e / 128) + e % 32] |= (uint8_t)(low << (2 * ((e % 128) / 32)));
        if (q >= 0)
            b[e % 32] |= (uint8_t)(1u << (e / 32));
        want[e] = d * (float)(s[e / 16] - 32) * (float)q;
    }
    expect_block(OP_Q_Q3_K, b, want, 256);
}

/* Q8_K (f32 d, 256 int8, bsums ignored) and the float row types. */
static void test_08_q8_k_and_float_rows(void **state)
{
    (void)state;
    uint8_t b[292 + 1];
    float want[256], d = -0.375f;
    memcpy(b, &d, 4);
    for (int e = 0; e < 256; e++) {
        b[4 + e] = (uint8_t)(int8_t)(e - 128);
        want[e] = d * (float)(e - 128);
    }
    memset(b + 260, 0x7f, 32); /* bsums: not read */
    expect_block(OP_Q_Q8_K, b, want, 256);

    float f[5] = {1.0f, -2.5f, 0.0f, 65504.0f, -1e-3f};
    uint8_t raw[1 + 20];
    memcpy(raw, f, sizeof f);
    expect_block(OP_Q_F32, raw, f, 5);
    uint16_t h[5] = {0x3c00, 0xc100, 0x0000, 0x7bff, 0x8001};
    float hw[5] = {1.0f, -2.5f, 0.0f, 65504.0f, -5.9604644775390625e-08f};
    memcpy(raw + 1, h, sizeof h); /* odd address: the scalar path */
    expect_block(OP_Q_F16, raw + 1, hw, 5);
    memcpy(raw, h, sizeof h);
    expect_block(OP_Q_F16, raw, hw, 5);
    uint16_t bf[3] = {0x3f80, 0xc020, 0x4049};
    float bw[3] = {1.0f, -2.5f, 3.140625f};
    memcpy(raw + 1, bf, sizeof bf);
    expect_block(OP_Q_BF16, raw + 1, bw, 3);
}

/* Exactly representable inputs come back exactly. */
static void test_09_quantise_exact_cases(void **state)
{
    (void)state;
    float x[32], y[32];
    uint8_t b[34];
    /* Q4_0: largest magnitude -2 (the first), d = 0.25, q = x / 0.25 + 8. */
    for (int j = 0; j < 32; j++)
        x[j] = 0.25f * (float)(j % 16 - 8);
    assert_int_equal(op_quant_row_ref(OP_Q_Q4_0, x, b, 32), 0);
    assert_int_equal(b[0] | (b[1] << 8), 0x3400);
    assert_int_equal(b[2], 0x00);
    assert_int_equal(b[17], 0xff);
    op_dequant_row(OP_Q_Q4_0, b, y, 32);
    assert_memory_equal(x, y, sizeof x);
    /* Q4_1: min 1, max 8.5, d = 0.5. */
    for (int j = 0; j < 32; j++)
        x[j] = 1.0f + 0.5f * (float)((j * 7) % 16);
    assert_int_equal(op_quant_row_ref(OP_Q_Q4_1, x, b, 32), 0);
    assert_int_equal(b[0] | (b[1] << 8), 0x3800);
    assert_int_equal(b[2] | (b[3] << 8), 0x3c00);
    op_dequant_row(OP_Q_Q4_1, b, y, 32);
    assert_memory_equal(x, y, sizeof x);
    /* Q8_0: amax 127 gives d = 1, q = x. */
    for (int j = 0; j < 32; j++)
        x[j] = (float)(j * 8 - 127 + (j == 31 ? 6 : 0)); /* -127 .. 127 */
    assert_int_equal(op_quant_row_ref(OP_Q_Q8_0, x, b, 32), 0);
    assert_int_equal(b[0] | (b[1] << 8), 0x3c00);
    op_dequant_row(OP_Q_Q8_0, b, y, 32);
    assert_memory_equal(x, y, sizeof x);
    /* An all-zero block: d = 0, every value 0 (no division by zero). */
    memset(x, 0, sizeof x);
    for (op_qtype t = OP_Q_Q4_0; t <= OP_Q_Q8_0; t++) {
        if (!op_qtype_known((int)t))
            continue;
        assert_int_equal(op_quant_row_ref(t, x, b, 32), 0);
        op_dequant_row(t, b, y, 32);
        for (int j = 0; j < 32; j++)
            assert_true(y[j] == 0.0f);
    }
}

/* Random rows: every element within the format's step of its input.  The
 * step: |d| / 2 for round to nearest, |d| at the clamped end of Q4_0 / Q5_0
 * (their top level is one step short of -8 d / -16 d's mirror), plus the f16
 * rounding of d (and m) times the largest level. */
static void test_10_round_trip_within_step(void **state)
{
    (void)state;
    static const struct { op_qtype t; float levels, half_steps; } fmt[] = {
        {OP_Q_Q8_0, 127.0f, 1.0f}, {OP_Q_Q4_0, 8.0f, 2.0f}, {OP_Q_Q4_1, 15.0f, 1.0f},
        {OP_Q_Q5_0, 16.0f, 2.0f},  {OP_Q_Q5_1, 31.0f, 1.0f},
    };
    enum { K = 32 * 40 };
    float *x = xmalloc(K * sizeof(float)), *y = xmalloc(K * sizeof(float));
    uint8_t *b = xmalloc(K * 2);
    for (size_t f = 0; f < sizeof fmt / sizeof fmt[0]; f++) {
        for (int j = 0; j < K; j++) /* blocks of different ranges and offsets */
            x[j] = tsup_rnd(&rng) * (float)(1 + j / 32) + (j / 32 % 3 == 0 ? 5.0f : 0.0f);
        assert_int_equal(op_quant_row_ref(fmt[f].t, x, b, K), 0);
        assert_int_equal(op_dequant_row(fmt[f].t, b, y, K), 0);
        double worst = 0.0;
        for (int blk = 0; blk < K / 32; blk++) {
            float mn = x[blk * 32], mx = mn, amax = 0.0f;
            for (int j = 0; j < 32; j++) {
                mn = fminf(mn, x[blk * 32 + j]);
                mx = fmaxf(mx, x[blk * 32 + j]);
                amax = fmaxf(amax, fabsf(x[blk * 32 + j]));
            }
            int offset = fmt[f].t == OP_Q_Q4_1 || fmt[f].t == OP_Q_Q5_1;
            double d = offset ? (mx - mn) / fmt[f].levels : amax / fmt[f].levels;
            double tol = d / 2.0 * fmt[f].half_steps + d * fmt[f].levels * 2.0 * 0x1p-11 +
                         (offset ? fabs(mn) * 0x1p-11 : 0.0) + 1e-6;
            for (int j = 0; j < 32; j++) {
                double err = fabs((double)y[blk * 32 + j] - x[blk * 32 + j]);
                if (err > tol)
                    fail_msg("%s element %d: %.9g -> %.9g (tol %.3g)", op_qtype_name(fmt[f].t),
                             blk * 32 + j, x[blk * 32 + j], y[blk * 32 + j], tol);
                worst = fmax(worst, err / d);
            }
        }
        assert_true(worst > 0.3); /* the error is really of the order of a step */
    }
    free(x);
    free(y);
    free(b);
}

/* W (m, k) random, quantised to t row by row; the caller frees. */
static void *rand_w(op_qtype t, int m, int k)
{
    size_t rb = op_qtype_row_bytes(t, k);
    uint8_t *w = xmalloc(rb * (size_t)m);
    float *row = xmalloc((size_t)k * sizeof(float));
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < k; j++)
            row[j] = tsup_rnd(&rng) * 0.1f + (i % 5 == 0 ? 0.05f : 0.0f);
        assert_int_equal(op_quant_row_ref(t, row, w + (size_t)i * rb, k), 0);
    }
    free(row);
    return w;
}

static void test_11_native_gemv_vs_reference(void **state)
{
    (void)state;
    static const op_qtype types[] = {OP_Q_Q8_0, OP_Q_Q4_0, OP_Q_Q4_1};
    static const int ms[] = {1, 7, 64, 300}, ks[] = {32, 64, 576, 1536};
    for (size_t ti = 0; ti < 3; ti++)
        for (int a = 0; a < 4; a++)
            for (int c = 0; c < 4; c++) {
                op_qtype t = types[ti];
                int m = ms[a], k = ks[c];
                void *w = rand_w(t, m, k);
                float *x = tsup_rnd_floats(&rng, (size_t)k, 1.0f);
                x[k / 2] = 3.0f; /* an outlier: a coarse step in its block */
                float *ref = tsup_nans((size_t)m), *y1 = tsup_nans((size_t)m);
                float *tmp = tsup_floats((size_t)k);
                size_t sb = op_gemv_q_scratch_bytes(t, k);
                void *scratch = xmalloc(3 * sb);
                assert_int_equal(op_gemv_q_ref(t, w, x, ref, m, k, tmp), 0);
                assert_int_equal(op_gemv_q_part(t, w, x, y1, m, k, scratch, 0, 1), 0);
                size_t rb = op_qtype_row_bytes(t, k);
                for (int i = 0; i < m; i++) {
                    double bound = op_gemv_q_bound(t, (uint8_t *)w + (size_t)i * rb, x, k, tmp);
                    if (!(fabs((double)y1[i] - ref[i]) <= bound))
                        fail_msg("%s m=%d k=%d row %d: %.9g vs %.9g (bound %.3g)",
                                 op_qtype_name(t), m, k, i, y1[i], ref[i], bound);
                }
                for (int nw = 2; nw <= 3; nw++) {
                    float *yn = tsup_nans((size_t)m);
                    for (int wk = nw - 1; wk >= 0; wk--)
                        assert_int_equal(op_gemv_q_part(t, w, x, yn, m, k, scratch, wk, nw), 0);
                    assert_memory_equal(y1, yn, (size_t)m * sizeof(float));
                    free(yn);
                }
                /* Prepared once, shared by the workers: the same bits. */
                float *yp = tsup_nans((size_t)m);
                assert_int_equal(op_gemv_q_prepare(t, x, k, scratch), 0);
                for (int wk = 0; wk < 2; wk++)
                    assert_int_equal(op_gemv_q_part_prepared(t, w, scratch, yp, m, k, wk, 2), 0);
                assert_memory_equal(y1, yp, (size_t)m * sizeof(float));
                free(yp);
                free(w);
                free(x);
                free(ref);
                free(y1);
                free(tmp);
                free(scratch);
            }
}

/* The bound is not vacuous: it is far below sum |w x|, and the native path's
 * error is really nonzero (x is quantised). */
static void test_12_native_error_is_small_but_real(void **state)
{
    (void)state;
    int m = 64, k = 1536;
    void *w = rand_w(OP_Q_Q4_1, m, k);
    float *x = tsup_rnd_floats(&rng, (size_t)k, 1.0f), *tmp = tsup_floats((size_t)k);
    float *ref = tsup_floats((size_t)m), *y = tsup_floats((size_t)m);
    void *scratch = xmalloc(op_gemv_q_scratch_bytes(OP_Q_Q4_1, k));
    op_gemv_q_ref(OP_Q_Q4_1, w, x, ref, m, k, tmp);
    op_gemv_q_part(OP_Q_Q4_1, w, x, y, m, k, scratch, 0, 1);
    int differ = 0;
    size_t rb = op_qtype_row_bytes(OP_Q_Q4_1, k);
    for (int i = 0; i < m; i++) {
        double bound = op_gemv_q_bound(OP_Q_Q4_1, (uint8_t *)w + (size_t)i * rb, x, k, tmp);
        op_dequant_row(OP_Q_Q4_1, (uint8_t *)w + (size_t)i * rb, tmp, k);
        double mag = 0.0;
        for (int j = 0; j < k; j++)
            mag += fabs((double)tmp[j] * x[j]);
        assert_true(bound < 0.02 * mag);
        differ += y[i] != ref[i];
    }
    assert_true(differ > m / 2);
    assert_true(op_gemv_q_bound(OP_Q_Q4_K, w, x, 256, tmp) < 0.0);
    assert_int_equal(op_gemv_q_part(OP_Q_Q4_K, w, x, y, 1, 256, scratch, 0, 1), -1);
    assert_int_equal(op_gemv_q_part(OP_Q_Q4_1, w, x, y, 1, 48, scratch, 0, 1), -1);
    free(w);
    free(x);
    free(tmp);
    free(ref);
    free(y);
    free(scratch);
}

/* Random well-formed blocks of any type: random bytes, f16 scale fields set
 * to small finite values (so no inf / NaN scale). */
static void rand_blocks(op_qtype t, uint8_t *w, size_t n_blocks)
{
    size_t bb = op_qtype_block_bytes(t);
    for (size_t i = 0; i < n_blocks * bb; i++)
        w[i] = (uint8_t)(tsup_rnd_unit(&rng) * 256.0);
    for (size_t i = 0; i < n_blocks; i++) {
        uint8_t *b = w + i * bb;
        uint16_t h1 = (uint16_t)(0x2000 + (int)(tsup_rnd_unit(&rng) * 2048) + (i % 2 ? 0x8000 : 0));
        uint16_t h2 = (uint16_t)(0x2400 + (int)(tsup_rnd_unit(&rng) * 2048));
        float f = 0.01f;
        switch (t) {
        case OP_Q_Q2_K: put16(b + 80, h1); put16(b + 82, h2); break;
        case OP_Q_Q3_K: put16(b + 108, h1); break;
        case OP_Q_Q6_K: put16(b + 208, h1); break;
        case OP_Q_Q8_K: memcpy(b, &f, 4); break;
        case OP_Q_Q4_1: case OP_Q_Q5_1: case OP_Q_Q4_K: case OP_Q_Q5_K:
            put16(b, h1); put16(b + 2, h2); break;
        default: put16(b, h1); break;
        }
    }
}

static void test_13_dequant_gemv_every_type(void **state)
{
    (void)state;
    static const op_qtype types[] = {OP_Q_Q4_0, OP_Q_Q4_1, OP_Q_Q5_0, OP_Q_Q5_1, OP_Q_Q8_0,
                                     OP_Q_Q2_K, OP_Q_Q3_K, OP_Q_Q4_K, OP_Q_Q5_K, OP_Q_Q6_K,
                                     OP_Q_Q8_K};
    int m = 37, k = 768;
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        op_qtype t = types[ti];
        size_t rb = op_qtype_row_bytes(t, k);
        uint8_t *w = xmalloc(rb * (size_t)m);
        rand_blocks(t, w, rb * (size_t)m / op_qtype_block_bytes(t));
        float *x = tsup_rnd_floats(&rng, (size_t)k, 1.0f), *tmp = tsup_floats((size_t)k);
        float *ref = tsup_nans((size_t)m), *y = tsup_nans((size_t)m), *y3 = tsup_nans((size_t)m);
        size_t sb = op_gemv_q_dequant_scratch_bytes(k);
        void *scratch = xmalloc(3 * sb);
        assert_int_equal(op_gemv_q_ref(t, w, x, ref, m, k, tmp), 0);
        assert_int_equal(op_gemv_q_dequant_part(t, w, x, y, m, k, scratch, 0, 1), 0);
        for (int wk = 0; wk < 3; wk++)
            assert_int_equal(op_gemv_q_dequant_part(t, w, x, y3, m, k, scratch, wk, 3), 0);
        assert_memory_equal(y, y3, (size_t)m * sizeof(float));
        for (int i = 0; i < m; i++) {
            op_dequant_row(t, w + (size_t)i * rb, tmp, k);
            double mag = 0.0;
            for (int j = 0; j < k; j++)
                mag += fabs((double)tmp[j] * x[j]);
            assert_true(mag > 0.0);
            if (!(fabs((double)y[i] - ref[i]) <= 1e-4 * mag + 1e-30))
                fail_msg("%s row %d: %.9g vs %.9g", op_qtype_name(t), i, y[i], ref[i]);
        }
        free(w);
        free(x);
        free(tmp);
        free(ref);
        free(y);
        free(y3);
        free(scratch);
    }
}

static void test_14_entries_round_trip_and_corruption(void **state)
{
    (void)state;
    static const char *names[] = {"gemv_q8_0.builtin", "gemv_q4_0.builtin", "gemv_q4_1.builtin",
                                  "gemv_q4_1.dequant"};
    for (size_t n = 0; n < 4; n++) {
        const op_entry *e = op_find(names[n]);
        assert_non_null(e);
        assert_string_equal(e->family, "dense");
        assert_string_equal(e->phase, "decode");
        op_dims dm = {0};
        dm.d_model = 96;
        cb_err err;
        assert_int_equal(e->check(&dm, &err), 0);
        op_cost c = e->cost(&dm);
        assert_true(c.flops == 2.0 * 96 * 96);
        op_qtype t = strstr(names[n], "q8_0") ? OP_Q_Q8_0 : strstr(names[n], "q4_0") ? OP_Q_Q4_0
                                                                                   : OP_Q_Q4_1;
        assert_true(c.bytes == (double)op_qtype_row_bytes(t, 96) * 96 + 8.0 * 96);
        /* d = 40: the inner dimension is padded to 64 (x zero beyond 40). */
        op_dims d40 = dm;
        d40.d_model = 40;
        assert_int_equal(e->check(&d40, &err), 0);
        assert_true(e->cost(&d40).bytes == (double)op_qtype_row_bytes(t, 64) * 40 + 4.0 * (64 + 40));
        void *inst = NULL;
        assert_int_equal(e->create(&d40, 7, 3, &inst, &err), 0);
        for (int nw = 1; nw <= 3; nw++) {
            for (int wk = 0; wk < nw; wk++)
                e->run(inst, wk, nw);
            if (e->verify(inst, &err) != 0)
                fail_msg("%s d=40 nw=%d: %s", e->name, nw, err.msg);
        }
        e->destroy(inst);
        assert_int_equal(e->create(&dm, 7, 3, &inst, &err), 0);
        for (int nw = 1; nw <= 3; nw++) {
            for (int wk = 0; wk < nw; wk++)
                e->run(inst, wk, nw);
            if (e->verify(inst, &err) != 0)
                fail_msg("%s nw=%d: %s", e->name, nw, err.msg);
        }
        quant_gemv *g = inst;
        g->y[g->d - 1] += 0.2f * (1.0f + fabsf(g->y[g->d - 1])); /* above any bound here */
        assert_int_equal(e->verify(inst, &err), -1);
        assert_non_null(strstr(err.msg, e->name));
        e->destroy(inst);
        dm.d_model = 0;
        tsup_expect_refused(e, dm, "d_model");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_01_layout),
        cmocka_unit_test(test_02_q4_0_q4_1_q8_0_by_hand),
        cmocka_unit_test(test_03_q5_by_hand),
        cmocka_unit_test(test_04_q4_k_by_hand),
        cmocka_unit_test(test_05_q5_k_by_hand),
        cmocka_unit_test(test_06_q6_k_by_hand),
        cmocka_unit_test(test_07_q2_k_q3_k_by_hand),
        cmocka_unit_test(test_08_q8_k_and_float_rows),
        cmocka_unit_test(test_09_quantise_exact_cases),
        cmocka_unit_test(test_10_round_trip_within_step),
        cmocka_unit_test(test_11_native_gemv_vs_reference),
        cmocka_unit_test(test_12_native_error_is_small_but_real),
        cmocka_unit_test(test_13_dequant_gemv_every_type),
        cmocka_unit_test(test_14_entries_round_trip_and_corruption),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
