/* operators/conv1d.c — causal depthwise conv1d (width 4): reference, prefill
 * slice, decode step, cost model (see conv1d.h).
 *
 * The prefill walks rows in order (so memory streams sequentially) and, in
 * each row, the worker's channels a vector at a time: out = bias + w0 x[t-3] +
 * w1 x[t-2] + w2 x[t-1] + w3 x[t], the three older rows hitting L1.  The
 * first K-1 rows, which reach into the history, go through a scalar loop with
 * the same order of operations.  Every output is accumulated as
 * fma(w3, x3, fma(w2, x2, fma(w1, x1, fma(w0, x0, bias)))), in every path
 * (the decode step too), so a step continues a prefill bit for bit.  Large
 * outputs are written with non-temporal stores (OP_CONV1D_STREAM_BYTES).  The
 * kernel is memory-bound: 8 bytes of traffic per 8 flops.
 *
 * Never: allocate, do I/O, touch channels outside the worker's slice. */
#include "operators/conv1d.h"

#include <math.h>
#include <stdint.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#define CONV_ISA "avx512f"
#elif defined(__AVX2__) && defined(__FMA__)
#define CONV_ISA "avx2+fma"
#else
#define CONV_ISA "portable"
#endif

#define K OP_CONV1D_WIDTH
#define H (OP_CONV1D_WIDTH - 1) /* history length */

#ifdef FP_FAST_FMAF
#define FMAF(a, b, c) fmaf((a), (b), (c))
#else
#define FMAF(a, b, c) ((a) * (b) + (c))
#endif

const char *op_conv1d_isa(void) { return CONV_ISA; }

static int imin(int a, int b) { return a < b ? a : b; }

void op_conv1d_channels(int C, int worker, int n_workers, int *lo, int *hi)
{
    int groups = (C + OP_CONV1D_GROUP - 1) / OP_CONV1D_GROUP;
    int g0 = (int)((int64_t)groups * worker / n_workers);
    int g1 = (int)((int64_t)groups * (worker + 1) / n_workers);
    *lo = imin(g0 * OP_CONV1D_GROUP, C);
    *hi = imin(g1 * OP_CONV1D_GROUP, C);
}

/* Input at token tt (may be negative: history) of channel c. */
static float x_at(const float *x, const float *s_in, int64_t tt, int C, int c)
{
    if (tt >= 0)
        return x[tt * C + c];
    return s_in ? s_in[(size_t)c * H + (size_t)(tt + H)] : 0.0f;
}

/* The state after L tokens for channels [lo, hi): the last H inputs (read
 * before written, so s_out may equal s_in). */
static void state_after(const float *x, const float *s_in, float *s_out, int64_t L, int C,
                        int lo, int hi)
{
    for (int c = lo; c < hi; c++) {
        float v[H];
        for (int k = 0; k < H; k++)
            v[k] = x_at(x, s_in, L - H + k, C, c);
        for (int k = 0; k < H; k++)
            s_out[(size_t)c * H + k] = v[k];
    }
}

/* ---- reference ------------------------------------------------------------------------ */

void op_conv1d_causal_ref_channel(const float *x, const float *w, const float *bias,
                                  const float *s_in, int64_t L, int C, int c, float *out,
                                  int64_t ldo, float *mag, float *s_out_row)
{
    for (int64_t t = 0; t < L; t++) {
        double acc = bias[c], m = fabs((double)bias[c]);
        for (int k = 0; k < K; k++) {
            double term = (double)w[(size_t)c * K + k] * x_at(x, s_in, t - H + k, C, c);
            acc += term;
            m += fabs(term);
        }
        out[t * ldo] = (float)acc;
        if (mag)
            mag[t * ldo] = (float)m;
    }
    if (s_out_row)
        for (int k = 0; k < H; k++)
            s_out_row[k] = x_at(x, s_in, L - H + k, C, c);
}

void op_conv1d_causal_ref(const float *x, const float *w, const float *bias, const float *s_in,
                          float *out, float *s_out, int64_t L, int C)
{
    float last[H * 64];
    for (int c0 = 0; c0 < C; c0 += 64) { /* s_out may equal s_in: write after reading */
        int c1 = imin(C, c0 + 64);
        for (int c = c0; c < c1; c++)
            op_conv1d_causal_ref_channel(x, w, bias, s_in, L, C, c, out + c, C, NULL,
                                         last + (size_t)(c - c0) * H);
        if (s_out)
            for (int c = c0; c < c1; c++)
                for (int k = 0; k < H; k++)
                    s_out[(size_t)c * H + k] = last[(size_t)(c - c0) * H + k];
    }
}

/* ---- prefill ---------------------------------------------------------------------------- */

/* The transposed weights start at the first 64-byte boundary of scratch, so
 * their vector loads never straddle cache lines. */
size_t op_conv1d_scratch_bytes(int C) { return (size_t)K * (size_t)C * sizeof(float) + 64; }

static float *weights_of(void *scratch)
{
    return (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
}

#if defined(__AVX512F__)
/* acc + w x over the lanes of m (the others read as 0). */
static inline __m512 fma_masked(__mmask16 m, const float *w, const float *x, __m512 acc)
{
    return _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w), _mm512_maskz_loadu_ps(m, x), acc);
}

/* One output vector: a streaming (non-temporal) store when asked — the
 * address is then 64-byte aligned — else a plain one. */
static inline void store_row(float *p, __m512 v, int stream)
{
    if (stream)
        _mm512_stream_ps(p, v);
    else
        _mm512_storeu_ps(p, v);
}
#endif

/* Rows [H, L) for channels [lo, hi) with weights wt (K, C); stream: write
 * full vectors with non-temporal stores (see op_conv1d_causal_part). */
static void rows_main(const float *x, const float *wt, const float *bias, float *out, int64_t L,
                      int C, int lo, int hi, int stream)
{
    const float *w0 = wt, *w1 = wt + C, *w2 = wt + 2 * (size_t)C, *w3 = wt + 3 * (size_t)C;
    for (int64_t t = H; t < L; t++) {
        const float *x0 = x + (t - 3) * C, *x1 = x0 + C, *x2 = x1 + C, *x3 = x2 + C;
        float *o = out + t * C;
        int c = lo;
#if defined(__AVX512F__)
        for (; c + 16 <= hi; c += 16) {
            __m512 acc = _mm512_loadu_ps(bias + c);
            acc = _mm512_fmadd_ps(_mm512_loadu_ps(w0 + c), _mm512_loadu_ps(x0 + c), acc);
            acc = _mm512_fmadd_ps(_mm512_loadu_ps(w1 + c), _mm512_loadu_ps(x1 + c), acc);
            acc = _mm512_fmadd_ps(_mm512_loadu_ps(w2 + c), _mm512_loadu_ps(x2 + c), acc);
            acc = _mm512_fmadd_ps(_mm512_loadu_ps(w3 + c), _mm512_loadu_ps(x3 + c), acc);
            store_row(o + c, acc, stream);
        }
        if (c < hi) { /* the last, partial vector */
            __mmask16 m = (__mmask16)((1u << (hi - c)) - 1u);
            __m512 acc = _mm512_maskz_loadu_ps(m, bias + c);
            acc = fma_masked(m, w0 + c, x0 + c, acc);
            acc = fma_masked(m, w1 + c, x1 + c, acc);
            acc = fma_masked(m, w2 + c, x2 + c, acc);
            acc = fma_masked(m, w3 + c, x3 + c, acc);
            _mm512_mask_storeu_ps(o + c, m, acc);
            c = hi;
        }
#endif
        for (; c < hi; c++)
            o[c] = FMAF(w3[c], x3[c],
                        FMAF(w2[c], x2[c], FMAF(w1[c], x1[c], FMAF(w0[c], x0[c], bias[c]))));
    }
}

/* Non-temporal stores for outputs too large to stay cached (over
 * OP_CONV1D_STREAM_BYTES), when every row's vectors are 64-byte aligned: they
 * skip the read-for-ownership of each output line, 12 -> 8 bytes of DRAM
 * traffic per element; a smaller output is left in cache for the SiLU and
 * x_proj that consume it next. */
static int use_stream(const float *out, int64_t L, int C)
{
#if defined(__AVX512F__)
    return (double)L * C * sizeof(float) > OP_CONV1D_STREAM_BYTES && C % 16 == 0 &&
           ((uintptr_t)out & 63) == 0;
#else
    (void)out, (void)L, (void)C;
    return 0;
#endif
}

void op_conv1d_causal_part(const float *x, const float *w, const float *bias, const float *s_in,
                           float *out, float *s_out, int64_t L, int C, void *scratch, int worker,
                           int n_workers)
{
    int lo, hi;
    op_conv1d_channels(C, worker, n_workers, &lo, &hi);
    float *wt = weights_of(scratch); /* (K, C): this worker writes columns [lo, hi) only */
    for (int c = lo; c < hi; c++)
        for (int k = 0; k < K; k++)
            wt[(size_t)k * C + c] = w[(size_t)c * K + k];
    for (int64_t t = 0; t < L && t < H; t++) /* rows reaching into the history */
        for (int c = lo; c < hi; c++) {
            float acc = bias[c];
            for (int k = 0; k < K; k++)
                acc = FMAF(wt[(size_t)k * C + c], x_at(x, s_in, t - H + k, C, c), acc);
            out[t * C + c] = acc;
        }
    rows_main(x, wt, bias, out, L, C, lo, hi, use_stream(out, L, C));
#if defined(__AVX512F__)
    _mm_sfence(); /* order the streaming stores before the caller's next step */
#endif
    if (s_out)
        state_after(x, s_in, s_out, L, C, lo, hi);
}

/* ---- decode step ------------------------------------------------------------------------- */

void op_conv1d_step_ref(const float *x, const float *w, const float *bias, const float *s_in,
                        float *out, float *s_out, int C)
{
    for (int c = 0; c < C; c++) {
        const float *s = s_in + (size_t)c * H, *wc = w + (size_t)c * K;
        double acc = bias[c];
        for (int k = 0; k < H; k++)
            acc += (double)wc[k] * s[k];
        acc += (double)wc[H] * x[c];
        out[c] = (float)acc;
        float s1 = s[1], s2 = s[2];
        s_out[(size_t)c * H] = s1;
        s_out[(size_t)c * H + 1] = s2;
        s_out[(size_t)c * H + 2] = x[c];
    }
}

void op_conv1d_step_range(const float *x, const float *w, const float *bias, const float *s_in,
                          float *out, float *s_out, int c_lo, int c_hi)
{
    for (int c = c_lo; c < c_hi; c++) {
        const float *s = s_in + (size_t)c * H, *wc = w + (size_t)c * K;
        float s0 = s[0], s1 = s[1], s2 = s[2], xc = x[c];
        out[c] = FMAF(wc[3], xc, FMAF(wc[2], s2, FMAF(wc[1], s1, FMAF(wc[0], s0, bias[c]))));
        float *so = s_out + (size_t)c * H;
        so[0] = s1;
        so[1] = s2;
        so[2] = xc;
    }
}

void op_conv1d_step_part(const float *x, const float *w, const float *bias, const float *s_in,
                         float *out, float *s_out, int C, int worker, int n_workers)
{
    int lo, hi;
    op_conv1d_channels(C, worker, n_workers, &lo, &hi);
    op_conv1d_step_range(x, w, bias, s_in, out, s_out, lo, hi);
}

/* ---- cost model ----------------------------------------------------------------------------- */

double op_conv1d_flops(int64_t L, int C) { return 8.0 * (double)L * C; }

double op_conv1d_bytes(int64_t L, int C)
{
    return 4.0 * (2.0 * (double)L * C + (double)K * C + C) + 8.0 * H * (double)C;
}

double op_conv1d_state_bytes(int C) { return 4.0 * H * (double)C; }
