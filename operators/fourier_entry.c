/* operators/fourier_entry.c — registry entries of the long-convolution
 * ("Fourier", Hyena-style) operator (op "fourier"; kernels in longconv.h):
 *
 *   fourier.fft     prefill, sub-quadratic: FFTs of size n >= 2 L - 1
 *   fourier.direct  prefill, quadratic: the direct O(L^2) causal sum
 *   fourier.step    decode: one output from a history ring of L inputs
 *                   (O(L) per token and channel; still the sub-quadratic
 *                   operator family, as Hyena is)
 *
 * channels C = n_heads x head_dim.  Inputs: x U[-1, 1]; the filter stands
 * for a Hyena implicit filter (a positional MLP's output, here U[-1, 1]
 * values of random sign) times Hyena's exponential modulation window,
 *   k[t, c] = u[t, c] exp(-alpha_c t / L),
 *   alpha_c linear in c from ln(100) / 1.5 (slow channels: 1e-2 reached at
 *   1.5 L) to ln(100) / 0.3 (fast: at 0.3 L),
 * deterministic from the seed.
 *
 * fourier.fft: the FFTW plans are made in create() under a process-wide
 * mutex (FFTW's planner is not thread-safe), on worker 0's buffers, with
 * FFTW_MEASURE and a time limit of FR_PLAN_SECONDS: measured plans ran up
 * to 2x faster than FFTW_ESTIMATE's at n = 8192..16384; planning costs up to
 * about a second per size, once per process (FFTW keeps the wisdom), and the
 * plan chosen may differ between processes (timing-dependent; the results
 * differ only by rounding).  The filter's spectrum is computed in create()
 * too, so run() and the cost model count only x's forward FFT, the spectrum
 * product and the inverse FFT.
 *
 * fourier.step: the history is a ring buffer (L, C) filled as if L tokens
 * had been seen (U[-1, 1] inputs); the new token goes to a fixed slot,
 * pos = L / 2 (like a KV cache's fixed write slot), each run: the output is
 * the same every run and the state is bounded; both ring segments are read.
 *
 * verify(): the double reference for a spread of channels (all of them when
 * L^2 C / 2 <= FR_VERIFY_BUDGET, else as many as the budget allows, at least
 * one, the last channel included), within LC_TOL x M_c (longconv.h); the
 * step checks every channel (its reference costs one run).
 *
 * Never: print, time, call FFTW's planner outside the mutex, or touch
 * another family's entries. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <fftw3.h>

#include "operators/longconv.h"
#include "operators/op.h"

#define FR_MAX_SEQ (1 << 24)
#define FR_MAX_DIM 65536
#define FR_MAX_CHANNELS (1 << 18)
#define FR_VERIFY_BUDGET 67108864.0 /* reference multiply-adds verify() may spend */
#ifndef FR_PLAN_FLAGS /* -DFR_PLAN_FLAGS=FFTW_ESTIMATE to compare plans */
#define FR_PLAN_FLAGS FFTW_MEASURE
#endif
#define FR_PLAN_SECONDS 2.0 /* FFTW planner time limit per plan */

enum fr_impl { FR_FFT, FR_DIRECT, FR_STEP };

/* One instance (all owned). */
typedef struct fr_inst {
    enum fr_impl impl;
    int64_t L;
    int C;
    float *x;              /* (L, C); step: (C) */
    float *k;              /* (L, C) */
    float *y;              /* (L, C); step: (C) */
    float *hist;           /* step: (L, C) ring */
    int64_t pos;           /* step: slot of the new token */
    op_lc_fft fft;         /* fft: plans and sizes */
    fftwf_complex *kf;     /* fft: filter spectrum (fftwf_malloc) */
    void *work;            /* fft: per-worker regions (fftwf_malloc); direct: scratch */
} fr_inst;

static pthread_mutex_t fr_planner = PTHREAD_MUTEX_INITIALIZER;

static const char *fr_name(const fr_inst *m)
{
    return m->impl == FR_FFT ? "fourier.fft" : m->impl == FR_DIRECT ? "fourier.direct"
                                                                     : "fourier.step";
}

static void *fr_alloc(size_t bytes)
{
    size_t n = (bytes + 63) / 64 * 64;
    return aligned_alloc(64, n ? n : 64);
}

/* ---- check and cost ---------------------------------------------------------------------- */

static int fr_check(const op_dims *d, cb_err *err)
{
    if (op_check_range("seq_len", d->seq_len, FR_MAX_SEQ, err) ||
        op_check_range("n_heads", d->n_heads, FR_MAX_DIM, err) ||
        op_check_range("head_dim", d->head_dim, FR_MAX_DIM, err))
        return -1;
    const int64_t C = (int64_t)d->n_heads * d->head_dim;
    if (C > FR_MAX_CHANNELS)
        return cb_fail(err, "n_heads x head_dim = %lld channels is out of range (1 to %d)",
                       (long long)C, FR_MAX_CHANNELS);
    const int64_t lc[] = {d->seq_len, C};
    if (op_check_bytes("x (seq_len, n_heads x head_dim)", 4, 2, lc, err))
        return -1;
    return 0;
}

static int64_t fr_channels(const op_dims *d) { return (int64_t)d->n_heads * d->head_dim; }

static int fr_check_fft(const op_dims *d, cb_err *err)
{
    if (fr_check(d, err))
        return -1;
    const int64_t n = op_lc_fft_size(d->seq_len);
    if (n == 0)
        return cb_fail(err, "seq_len = %lld: the FFT size would exceed 2^30",
                       (long long)d->seq_len);
    const int64_t sp[] = {n / 2 + 8, fr_channels(d)}; /* rows padded to 64 bytes */
    return op_check_bytes("filter spectrum (seq_len, n_heads x head_dim)", 8, 2, sp, err);
}

static op_cost fr_cost_fft(const op_dims *d)
{
    const int C = (int)fr_channels(d);
    op_cost c = {op_lc_fft_flops(d->seq_len, C), op_lc_fft_bytes(d->seq_len, C), 0.0};
    return c;
}

static op_cost fr_cost_direct(const op_dims *d)
{
    const int C = (int)fr_channels(d);
    op_cost c = {op_lc_direct_flops(d->seq_len, C), op_lc_direct_bytes(d->seq_len, C), 0.0};
    return c;
}

static op_cost fr_cost_step(const op_dims *d)
{
    const int C = (int)fr_channels(d);
    op_cost c = {op_lc_step_flops(d->seq_len, C), op_lc_step_bytes(d->seq_len, C),
                 op_lc_state_bytes(d->seq_len, C)};
    return c;
}

/* ---- create and destroy ------------------------------------------------------------------ */

static void fr_destroy(void *inst)
{
    fr_inst *m = inst;
    if (!m)
        return;
    pthread_mutex_lock(&fr_planner); /* fftwf_destroy_plan shares the planner's state */
    if (m->fft.fwd)
        fftwf_destroy_plan(m->fft.fwd);
    if (m->fft.inv)
        fftwf_destroy_plan(m->fft.inv);
    pthread_mutex_unlock(&fr_planner);
    if (m->impl == FR_FFT)
        fftwf_free(m->work);
    else
        free(m->work);
    fftwf_free(m->kf);
    free(m->x);
    free(m->k);
    free(m->y);
    free(m->hist);
    free(m);
}

/* The Hyena-style filter (see the file comment). */
static void fr_filter(float *k, int64_t L, int C, uint64_t seed)
{
    op_fill_uniform(k, (size_t)L * C, seed + 11, -1.0f, 1.0f);
    const double slow = log(100.0) / 1.5, fast = log(100.0) / 0.3;
    for (int64_t t = 0; t < L; t++)
        for (int c = 0; c < C; c++) {
            const double alpha = C > 1 ? slow + (fast - slow) * c / (C - 1) : slow;
            k[(size_t)t * C + c] *= (float)exp(-alpha * (double)t / (double)L);
        }
}

/* The two plans, on region 0's first buffers. */
static int fr_plan(fr_inst *m)
{
    float *r;
    fftwf_complex *c;
    op_lc_fft_region(m->work, m->fft.n, 0, &r, &c);
    m->fft.fwd = fftwf_plan_dft_r2c_1d(m->fft.n, r, c, FR_PLAN_FLAGS);
    m->fft.inv = fftwf_plan_dft_c2r_1d(m->fft.n, c, r, FR_PLAN_FLAGS);
    return m->fft.fwd && m->fft.inv ? 0 : -1;
}

static int fr_create_fft(fr_inst *m, int max_workers, cb_err *err)
{
    const int n = (int)op_lc_fft_size(m->L);
    m->fft.L = m->L;
    m->fft.C = m->C;
    m->fft.n = n;
    m->work = fftwf_malloc(op_lc_fft_region_bytes(n) * (size_t)max_workers);
    m->kf = fftwf_malloc(op_lc_spectrum_bytes(n, m->C));
    if (!m->work || !m->kf)
        return cb_fail(err, "fourier.fft: out of memory for FFT size %d", n);
    pthread_mutex_lock(&fr_planner);
    fftwf_set_timelimit(FR_PLAN_SECONDS);
    const int rc = fr_plan(m);
    pthread_mutex_unlock(&fr_planner);
    if (rc)
        return cb_fail(err, "fourier.fft: FFTW could not plan size %d", n);
    op_lc_filter_spectrum(&m->fft, m->k, m->kf, m->work);
    return 0;
}

static int fr_create(enum fr_impl impl, const op_dims *d, uint64_t seed, int max_workers,
                     void **inst, cb_err *err)
{
    *inst = NULL;
    if ((impl == FR_FFT ? fr_check_fft(d, err) : fr_check(d, err)) != 0)
        return -1;
    if (max_workers < 1)
        return cb_fail(err, "fourier: max_workers = %d (must be at least 1)", max_workers);
    fr_inst *m = calloc(1, sizeof *m);
    if (!m)
        return cb_fail(err, "fourier: out of memory");
    m->impl = impl;
    m->L = d->seq_len;
    m->C = (int)fr_channels(d);
    const size_t LC = (size_t)m->L * m->C, rows = impl == FR_STEP ? (size_t)m->C : LC;
    m->x = fr_alloc(4 * rows);
    m->y = fr_alloc(4 * rows);
    m->k = fr_alloc(4 * LC);
    if (!m->x || !m->y || !m->k) {
        cb_fail(err, "%s: out of memory for L = %lld", fr_name(m), (long long)m->L);
        goto fail;
    }
    op_fill_uniform(m->x, rows, seed + 1, -1.0f, 1.0f);
    for (size_t i = 0; i < rows; i++)
        m->y[i] = NAN; /* a row no worker writes shows in verify() */
    fr_filter(m->k, m->L, m->C, seed);
    if (impl == FR_FFT && fr_create_fft(m, max_workers, err))
        goto fail;
    if (impl == FR_DIRECT && !(m->work = fr_alloc(op_lc_direct_scratch_bytes(m->L, max_workers)))) {
        cb_fail(err, "fourier.direct: out of memory");
        goto fail;
    }
    if (impl == FR_STEP) {
        if (!(m->hist = fr_alloc(4 * LC))) {
            cb_fail(err, "fourier.step: out of memory for the history");
            goto fail;
        }
        op_fill_uniform(m->hist, LC, seed + 2, -1.0f, 1.0f);
        m->pos = m->L / 2;
    }
    *inst = m;
    return 0;
fail:
    fr_destroy(m);
    return -1;
}

static int fr_create_fft_entry(const op_dims *d, uint64_t seed, int max_workers, void **inst,
                               cb_err *err)
{
    return fr_create(FR_FFT, d, seed, max_workers, inst, err);
}

static int fr_create_direct(const op_dims *d, uint64_t seed, int max_workers, void **inst,
                            cb_err *err)
{
    return fr_create(FR_DIRECT, d, seed, max_workers, inst, err);
}

static int fr_create_step(const op_dims *d, uint64_t seed, int max_workers, void **inst,
                          cb_err *err)
{
    return fr_create(FR_STEP, d, seed, max_workers, inst, err);
}

/* ---- run --------------------------------------------------------------------------------- */

static void fr_run_fft(void *inst, int worker, int n_workers)
{
    fr_inst *m = inst;
    op_lc_fft_part(&m->fft, m->kf, m->x, m->y, m->work, worker, n_workers);
}

static void fr_run_direct(void *inst, int worker, int n_workers)
{
    fr_inst *m = inst;
    op_lc_direct_part(m->L, m->C, m->k, m->x, m->y, m->work, worker, n_workers);
}

static void fr_run_step(void *inst, int worker, int n_workers)
{
    fr_inst *m = inst;
    op_lc_step_part(m->L, m->C, m->k, m->hist, m->pos, m->x, m->y, worker, n_workers);
}

/* ---- verify ------------------------------------------------------------------------------ */

/* The channels verify() checks (see the file comment); returns how many. */
static int fr_pick_channels(int64_t L, int C, int *ch)
{
    const double per = 0.5 * (double)L * (double)(L + 1);
    const int n = (int)fmin((double)C, fmax(1.0, FR_VERIFY_BUDGET / per));
    for (int i = 0; i < n; i++)
        ch[i] = n == 1 ? C - 1 : (int)((int64_t)i * (C - 1) / (n - 1));
    return n;
}

static int fr_verify_prefill(fr_inst *m, cb_err *err)
{
    int *ch = malloc(sizeof(int) * (size_t)m->C);
    double *yr = malloc(sizeof(double) * (size_t)m->L);
    double *mag = malloc(sizeof(double) * (size_t)m->L);
    int rc = 0;
    if (!ch || !yr || !mag) {
        rc = cb_fail(err, "%s: verify: out of memory", fr_name(m));
        goto done;
    }
    const int n = fr_pick_channels(m->L, m->C, ch);
    for (int i = 0; i < n && rc == 0; i++) {
        const int c = ch[i];
        op_lc_ref_channel(m->L, m->C, m->k, m->x, c, yr, mag);
        double mc = 0.0;
        for (int64_t t = 0; t < m->L; t++)
            mc = fmax(mc, mag[t]);
        for (int64_t t = 0; t < m->L; t++) {
            const float got = m->y[(size_t)t * m->C + c];
            if (!(fabs(got - yr[t]) <= LC_TOL * mc + 1e-30)) {
                rc = cb_fail(err, "%s: y[t=%lld, c=%d] = %.9g, reference %.9g (tolerance %.3g)",
                             fr_name(m), (long long)t, c, got, yr[t], LC_TOL * mc);
                break;
            }
        }
    }
done:
    free(ch), free(yr), free(mag);
    return rc;
}

static int fr_verify_step(fr_inst *m, cb_err *err)
{
    for (int c = 0; c < m->C; c++) {
        if (m->hist[(size_t)m->pos * m->C + c] != m->x[c])
            return cb_fail(err, "%s: history slot %lld, channel %d does not hold the new token",
                           fr_name(m), (long long)m->pos, c);
        double acc = 0.0, mag = 0.0;
        for (int64_t j = 0; j < m->L; j++) {
            int64_t idx = m->pos - j;
            idx += idx < 0 ? m->L : 0;
            const double p = (double)m->k[(size_t)j * m->C + c] * m->hist[(size_t)idx * m->C + c];
            acc += p;
            mag += fabs(p);
        }
        if (!(fabs(m->y[c] - acc) <= LC_TOL * mag + 1e-30))
            return cb_fail(err, "%s: y[c=%d] = %.9g, reference %.9g (tolerance %.3g)",
                           fr_name(m), c, m->y[c], acc, LC_TOL * mag);
    }
    return 0;
}

static int fr_verify(void *inst, cb_err *err)
{
    fr_inst *m = inst;
    return m->impl == FR_STEP ? fr_verify_step(m, err) : fr_verify_prefill(m, err);
}

/* ---- the entries ------------------------------------------------------------------------- */

static const op_entry fr_fft = {
    .name = "fourier.fft", .op = "fourier", .impl = "fft", .family = "sub-quadratic",
    .phase = "prefill", .uses = "seq_len n_heads head_dim", .tolerance = LC_TOL,
    .check = fr_check_fft, .cost = fr_cost_fft, .create = fr_create_fft_entry,
    .run = fr_run_fft, .verify = fr_verify, .destroy = fr_destroy,
};

static const op_entry fr_direct = {
    .name = "fourier.direct", .op = "fourier", .impl = "direct", .family = "quadratic",
    .phase = "prefill", .uses = "seq_len n_heads head_dim", .tolerance = LC_TOL,
    .check = fr_check, .cost = fr_cost_direct, .create = fr_create_direct,
    .run = fr_run_direct, .verify = fr_verify, .destroy = fr_destroy,
};

static const op_entry fr_step = {
    .name = "fourier.step", .op = "fourier", .impl = "step", .family = "sub-quadratic",
    .phase = "decode", .uses = "seq_len n_heads head_dim", .tolerance = LC_TOL,
    .check = fr_check, .cost = fr_cost_step, .create = fr_create_step, .run = fr_run_step,
    .verify = fr_verify, .destroy = fr_destroy,
};

const op_entry *const op_family_fourier[] = {&fr_fft, &fr_direct, &fr_step, NULL};
