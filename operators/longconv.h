/* operators/longconv.h — long causal convolution ("Fourier" / Hyena-style
 * long-convolution attention): one filter as long as the sequence per
 * channel,
 *
 *   y[t, c] = sum_{s <= t} k[t - s, c] x[s, c]      t < L, c < C
 *
 * with x, k, y stored (L, C), channels contiguous (C = n_heads x head_dim).
 *
 * Three forms:
 *   fft     through FFTs of size n >= 2 L - 1 (op_lc_fft_size: the smallest
 *           even 2^a 3^b 5^c 7^d, sizes FFTW handles fast), so the circular
 *           convolution equals the linear one.  A worker takes channels in
 *           groups of G = 16 (one cache line of a row of x): the group's
 *           columns are transposed into G contiguous zero-padded buffers,
 *           and each goes through one FFTW r2c plan, the product with the
 *           filter's spectrum and the c2r plan, back in place, before the
 *           group is transposed out; the complex buffer is shared by the
 *           group's channels in turn.  (Single contiguous transforms measured
 *           1.5-4x faster than FFTW's batched plans over the interleaved
 *           (n, G) layout, and faster than contiguous batches at n >= 8192.)
 *           The filter's spectrum (scaled by 1 / n) is computed once, before
 *           the runs (Hyena caches it the same way), by op_lc_filter_spectrum.
 *           Plans are made by the caller (FFTW planning is not thread-safe)
 *           on worker 0's first buffers; every worker executes them on its
 *           own buffers with fftwf_execute_dft_r2c / _c2r (thread-safe): every
 *           buffer starts a multiple of 64 bytes from an aligned base, so all
 *           share the plans' alignment.
 *   direct  the O(L^2) sum, vectorised over 16 channels and register-blocked
 *           over 8 outputs: the 8 rows of x an output block needs at lag j
 *           are the rows of lag j - 1 shifted by one, so each lag costs one
 *           load of x, one of k and 8 FMAs (a sliding window of registers).
 *   step    one decode token: the history of the last K inputs is a ring
 *           buffer (K, C); the new x goes to slot pos and
 *           y[c] = sum_{j < K} k[j, c] hist[(pos - j) mod K, c].
 *
 * Workers split the channels in groups of 16 (op_lc_channels); each writes
 * only its channels of y (and of the ring), and a channel's result does not
 * depend on the split (every channel goes through the same plans; the
 * direct sum runs in the same order).
 *
 * Tolerance: |y - reference| <= LC_TOL x M_c, M_c = max over t of
 * sum_{s <= t} |k[t - s, c]| |x[s, c]| (the channel's largest absolute row
 * sum; the step's is its own row's).  An FFT's rounding is spread over every
 * output (about eps log2 n times the channel's norms), so it is bounded
 * relative to the channel's scale, not to each row's own sum (y[0] is a
 * single product).
 *
 * Cost convention: a multiply-add counts 2, a real FFT of size n counts
 * 2.5 n log2 n (FFTW's nominal count for real data), a complex multiply 6.
 *
 * Never: allocate (FFTW executes into the caller's buffers), make plans, do
 * I/O, or write channels outside the worker's share. */
#ifndef CTXBENCH_OPERATORS_LONGCONV_H
#define CTXBENCH_OPERATORS_LONGCONV_H

#include <stddef.h>
#include <stdint.h>

#include <fftw3.h>

#define LC_TOL 1e-5 /* relative to M_c (above) */
#define LC_GROUP 16 /* channels per FFT group and per worker-split unit */

/* The kernel variant compiled in: "avx512f" or "portable". */
const char *op_lc_isa(void);

/* The channels [*lo, *hi) worker handles among n_workers, in whole groups of
 * LC_GROUP (may be empty). */
void op_lc_channels(int C, int worker, int n_workers, int *lo, int *hi);

/* The FFT size for length L >= 1: the smallest even 2^a 3^b 5^c 7^d >= 2 L - 1;
 * 0 when it would exceed INT32_MAX / 2. */
int64_t op_lc_fft_size(int64_t L);

/* ---- reference --------------------------------------------------------------------------- */

/* Channel c in double: yc[t] = y[t, c] and, when non-NULL, magc[t] =
 * sum_{s <= t} |k[t - s, c] x[s, c]|, for t < L. */
void op_lc_ref_channel(int64_t L, int C, const float *k /* (L, C) */, const float *x /* (L, C) */,
                       int c, double *yc /* (L) */, double *magc /* (L) */);

/* ---- fft --------------------------------------------------------------------------------- */

/* The plans and sizes of the FFT form (made and destroyed by the caller). */
typedef struct op_lc_fft {
    int64_t L;           /* sequence length */
    int C;               /* channels */
    int n;               /* FFT size, op_lc_fft_size(L) */
    fftwf_plan fwd, inv; /* one transform: real (n) <-> complex (n/2 + 1), out of place */
} op_lc_fft;

/* Bytes of one worker's region: G real buffers of n floats then one complex
 * buffer of n/2 + 1, each rounded up to 64 bytes.  Region w starts at
 * base + w x this; plan on region 0's first real buffer and its complex one. */
size_t op_lc_fft_region_bytes(int n);

/* Region w's first real and complex buffers within work. */
void op_lc_fft_region(void *work, int n, int w, float **r, fftwf_complex **c);

/* Bytes of the filter spectrum: C channels of n/2 + 1 complex values, each
 * rounded up to 64 bytes. */
size_t op_lc_spectrum_bytes(int n, int C);

/* The filter's spectrum, scaled by 1 / n, for every group (k (L, C)), using
 * region 0 of work.  Call once after making the plans. */
void op_lc_filter_spectrum(const op_lc_fft *f, const float *k /* (L, C) */,
                           fftwf_complex *kf /* (C, n/2 + 1 padded) */, void *work);

/* y = k * x for worker's channels (op_lc_channels), through its region of
 * work (n_workers regions). */
void op_lc_fft_part(const op_lc_fft *f, const fftwf_complex *kf, const float *x /* (L, C) */,
                    float *y /* (L, C) */, void *work, int worker, int n_workers);

/* ---- direct ------------------------------------------------------------------------------ */

/* Bytes of scratch op_lc_direct_part needs for n_workers workers (packed,
 * zero-padded columns of one group of x and k per worker). */
size_t op_lc_direct_scratch_bytes(int64_t L, int n_workers);

/* y = k * x by the direct sum, worker's channels. */
void op_lc_direct_part(int64_t L, int C, const float *k /* (L, C) */, const float *x /* (L, C) */,
                       float *y /* (L, C) */, void *scratch, int worker, int n_workers);

/* ---- step -------------------------------------------------------------------------------- */

/* One decode token over a history of K: hist[pos] = x, then
 * y[c] = sum_{j < K} k[j, c] hist[(pos - j) mod K, c], worker's channels.
 * 0 <= pos < K. */
void op_lc_step_part(int64_t K, int C, const float *k /* (K, C) */, float *hist /* (K, C) */,
                     int64_t pos, const float *x /* (C) */, float *y /* (C) */, int worker,
                     int n_workers);

/* ---- cost model (all workers together) --------------------------------------------------- */

double op_lc_fft_flops(int64_t L, int C);    /* C (2 x 2.5 n log2 n + 6 (n/2 + 1)) */
double op_lc_fft_bytes(int64_t L, int C);    /* 4 (2 L C) + 8 (n/2 + 1) C: x, y, spectrum */
double op_lc_direct_flops(int64_t L, int C); /* C L (L + 1) */
double op_lc_direct_bytes(int64_t L, int C); /* 4 x 3 L C: x, k, y */
double op_lc_step_flops(int64_t K, int C);   /* 2 K C */
double op_lc_step_bytes(int64_t K, int C);   /* 4 (2 K C + 3 C): k, history, x, y, slot */
double op_lc_state_bytes(int64_t K, int C);  /* 4 K C: the history */

#endif
