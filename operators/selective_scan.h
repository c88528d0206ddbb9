/* operators/selective_scan.h — the Mamba-1 selective scan, fp32, batch 1.
 *
 * The recurrence (Gu & Dao arXiv:2312.00752, reference code's form), per
 * token t, channel d and state index n:
 *
 *   delta   = softplus(delta_raw[t,d] + dt_bias[d])      (bias inside the softplus)
 *   A[d,n]  = -exp(A_log[d,n])
 *   h[d,n]  = exp(delta A[d,n]) h[d,n] + delta B[t,n] x[t,d]
 *   y[t,d]  = (sum_n C[t,n] h[d,n] + D[d] x[t,d]) * silu(z[t,d])
 *
 * softplus(v) = log1p(exp(v)) for v < 20, v beyond (numerically safe form);
 * silu(z) = z / (1 + exp(-z)).  The state h is (d_inner, N), each channel's N
 * states contiguous (the reference code's layout).
 *
 * Kernels, each a leaf:
 *   reference   op_mamba1_scan_ref_channel: double accumulation, one channel,
 *               also returns an error scale (the same recurrence over |terms|)
 *   sequential  op_mamba1_scan_part: vectorised across channels (a vector
 *               of 16 channels at a time with AVX-512), each group's states
 *               held in registers 16 at a time; blocks of tokens outermost so
 *               memory streams row by row; channels split across workers
 *   chunked     op_mamba1_chunked_part: the same result through the
 *               parallel-in-time form — each chunk's local scan from zero
 *               state, the chunk's decay product exp(A sum(delta)), the
 *               carried state fixed up into the outputs; a worker runs it over
 *               its channels (no barrier needed).  op_mamba1_chunked_phase
 *               runs the three phases split across workers by TIME (the
 *               caller puts a barrier between phases, e.g. one pool_run each)
 *   step        op_mamba1_step_range / op_mamba1_step_part: one token (L = 1),
 *               vectorised across the states of each channel
 * The exps are vectorised range reduction + polynomial: a general exp
 * (op_mamba1_exp_array exposes it for tests: relative error < 2e-7 vs expf
 * wherever the result is a normal float) for softplus, silu and A, and a
 * leaner 2^u for the decays exp(delta A) (relative error 2.5e-7, and 4.3e-7
 * relative to 1 - exp(delta A) so the bias does not build up in slowly
 * decaying states).  ISA chosen at compile time: AVX-512F, AVX2+FMA, or
 * portable C (one lane).
 *
 * Worker split: channels in groups of 16 (op_mamba1_channels); every channel's
 * arithmetic is the same whatever the split, so results are bit-identical for
 * any n_workers.  The time-split phases are documented at
 * op_mamba1_chunked_phase.
 *
 * Tolerance (OP_MAMBA1_TOL): against the reference, per output
 * |y - y_ref| <= TOL * y_mag and per state |h - h_ref| <= TOL * h_mag, where
 * h_mag runs the recurrence over |delta B x| and y_mag = (sum_n |C| h_mag +
 * |D x|) |silu z|: the scale float rounding errors travel at.
 *
 * Cost convention (op_mamba1_scan_flops): a multiply-add counts 2, an exp or a
 * division 1.  Per (t, d, n): exp 1 + mul (delta A) 1 + FMA (h) 2 + FMA (C h) 2
 * = 6; per (t, d): softplus ~3, D skip 2, silu gate ~4 = 9; per (d, n) once:
 * the exp of A_log 1 (0 for the step entry, which passes precomputed decay
 * rates, A2).  The chunked form executes more (a second exp, a mul and
 * an FMA per (t, d, n) outside the first chunk) but is charged the same model
 * flops, so its achieved rate shows its overhead.
 *
 * Never: allocate, do I/O, read anything but their arguments, create threads
 * (the caller's pool runs the slices). */
#ifndef CTXBENCH_OPERATORS_SELECTIVE_SCAN_H
#define CTXBENCH_OPERATORS_SELECTIVE_SCAN_H

#include <stddef.h>
#include <stdint.h>

#define OP_MAMBA1_MAX_STATE 1024   /* largest N the kernels accept */
#define OP_MAMBA1_TOL 2e-5         /* see "Tolerance" above */
#define OP_MAMBA1_GROUP 16         /* channels per unit of the worker split */

/* The inputs of one scan.  For a step (one token) L = 1 and the (L, .) arrays
 * are one row.  h0 may be NULL (zero state). */
typedef struct op_mamba1_scan_in {
    int64_t L;              /* tokens, >= 1 */
    int d_inner;            /* channels, >= 1 */
    int N;                  /* states per channel, 1..OP_MAMBA1_MAX_STATE */
    const float *x;         /* (L, d_inner) */
    const float *delta_raw; /* (L, d_inner) dt_proj output before bias and softplus */
    const float *dt_bias;   /* (d_inner) */
    const float *A_log;     /* (d_inner, N); A = -exp(A_log) */
    const float *B;         /* (L, N) */
    const float *C;         /* (L, N) */
    const float *D;         /* (d_inner) */
    const float *z;         /* (L, d_inner) gate */
    const float *h0;        /* (d_inner, N) state before token 0, or NULL for zeros */
    /* (d_inner, N) optional: -exp(A_log) log2(e) from op_mamba1_decay_rates,
     * the load-time weight transform an engine keeps beside A_log; NULL: the
     * kernels compute it from A_log (same bits either way).  Worth it for the
     * step, where it is half the exps; negligible for a prefill. */
    const float *A2;
} op_mamba1_scan_in;

/* The kernel variant compiled in: "avx512f", "avx2+fma" or "portable". */
const char *op_mamba1_isa(void);

/* ---- elementwise helpers (vectorised; exposed for tests) ---------------------------- */

/* y[i] = exp(x[i]) for i < n with the kernels' vector exp.  x and y may be
 * the same array.  NaN inputs give unspecified values. */
void op_mamba1_exp_array(const float *x, float *y, size_t n);

/* y[i] = softplus(x[i]) for i < n with the kernels' vector softplus. */
void op_mamba1_softplus_array(const float *x, float *y, size_t n);

/* A2[i] = -exp(A_log[i]) log2(e) for i < n, with the kernels' exp: what
 * they compute when op_mamba1_scan_in.A2 is NULL, bit for bit. */
void op_mamba1_decay_rates(const float *A_log, float *A2, size_t n);

/* ---- reference ---------------------------------------------------------------------- */

/* Channel d of the scan in double precision, from in->h0 (or zeros).
 * Writes y[t * ldy] for t < L; if y_mag is not NULL, y_mag[t * ldy] the error
 * scale of y (see Tolerance); if h is not NULL, h[n] (N) the final state; if
 * h_mag is not NULL, h_mag[n] (N) its error scale.  Cannot fail. */
void op_mamba1_scan_ref_channel(const op_mamba1_scan_in *in, int d, float *y, int64_t ldy,
                                float *y_mag, float *h, float *h_mag);

/* Every channel: y (L, d_inner) and, if not NULL, h (d_inner, N) the final
 * state.  Calls op_mamba1_scan_ref_channel per channel. */
void op_mamba1_scan_ref(const op_mamba1_scan_in *in, float *y, float *h);

/* ---- worker split ------------------------------------------------------------------- */

/* The channels [*lo, *hi) of worker among n_workers: whole groups of
 * OP_MAMBA1_GROUP channels (the last may be partial); empty when there are
 * more workers than groups. */
void op_mamba1_channels(int d_inner, int worker, int n_workers, int *lo, int *hi);

/* ---- sequential (prefill) ------------------------------------------------------------ */

/* Bytes of scratch op_mamba1_scan_part, op_mamba1_chunked_part and
 * op_mamba1_chunked_phase need for n_workers workers together (each uses its
 * own 64-byte-aligned region, which holds the states of its channels; the
 * pointer passed must be 64-byte aligned); enough for any smaller worker
 * count too.  Independent of L: about 4 N d_inner + 4 KiB per worker. */
size_t op_mamba1_scan_scratch_bytes(int d_inner, int N, int n_workers);

/* The scan of this worker's channels (op_mamba1_channels): writes their
 * columns of y (L, d_inner) and, if h is not NULL, their rows of h
 * (d_inner, N), the state after token L-1.  h may equal in->h0 (the states
 * are read before any is written).  Blocks of tokens are the outer loop and
 * the worker's channel groups the inner one, so memory streams row by row.
 * scratch: op_mamba1_scan_scratch_bytes(in->d_inner, in->N, n_workers)
 * bytes, 64-byte aligned; every worker of one call must get the same
 * n_workers and scratch. */
void op_mamba1_scan_part(const op_mamba1_scan_in *in, float *y, float *h, void *scratch,
                         int worker, int n_workers);

/* ---- chunked (prefill) --------------------------------------------------------------- */

/* The chunked form over this worker's channels, chunk tokens per chunk
 * (>= 1; chunk >= L means one chunk, i.e. the sequential scan, bit for bit).
 * Same outputs, arguments and scratch as op_mamba1_scan_part.  The chunks
 * are taken in order, each over all the worker's channels: the local scan
 * from zero state (ungated outputs; its end state h_local and delta sum),
 * then the fix-up y[t] += sum_n C[t,n] exp(A[n] cs[t]) H[n] with cs the
 * cumulative delta inside the chunk and H the true state entering it, then
 * the carry H <- exp(A[n] cs[last]) H + h_local.  Chunk 0 starts from h0
 * directly.  The arithmetic is op_mamba1_chunked_phase's; only the order
 * differs (no barrier needed, so a registry entry can run it).  It executes
 * about twice the sequential form's work: the fix-up needs its own exp per
 * (t, d, n). */
void op_mamba1_chunked_part(const op_mamba1_scan_in *in, int chunk, float *y, float *h,
                            void *scratch, int worker, int n_workers);

/* Bytes of the workspace of op_mamba1_chunked_phase: every chunk's end state
 * and delta sum for every channel.  0 when the size would overflow size_t. */
size_t op_mamba1_chunked_ws_bytes(int64_t L, int d_inner, int N, int chunk);

/* The chunked form split across workers by time, in three phases the caller
 * runs in order with a barrier between them (every worker of phase p returns
 * before any worker starts p + 1), all with the same arguments:
 *   phase 1  each worker's contiguous range of chunks, every channel: local
 *            scans (chunk 0 from h0, final outputs; others from zero,
 *            ungated outputs), end states and delta sums into ws
 *   phase 2  each worker's channels: carry the states across chunks in ws
 *            and write h (d_inner, N) (if not NULL; may equal in->h0)
 *   phase 3  each worker's chunks again: fix up and gate outputs of chunks >= 1
 * ws: op_mamba1_chunked_ws_bytes(...) bytes, 64-byte aligned; scratch as
 * op_mamba1_scan_part.  Results equal op_mamba1_chunked_part's bit for bit.
 * Phases 1 and 3 each do about the sequential scan's work, so on P workers
 * this pays only where channels cannot be split (few channels, many cores). */
void op_mamba1_chunked_phase(const op_mamba1_scan_in *in, int chunk, int phase, float *y,
                             float *h, void *ws, void *scratch, int worker, int n_workers);

/* ---- step (decode) ------------------------------------------------------------------- */

/* One token (in->L must be 1; in->h0 is ignored) for channels [d_lo, d_hi):
 * reads h_in rows, writes h_out rows (d_inner, N) and y[d] (d_inner).  h_out
 * may equal h_in (in place).  Vectorised across each channel's N states; needs
 * no scratch.  The state stays bounded under repeated steps: exp(delta A) < 1
 * for every A_log (A < 0) and delta > 0. */
void op_mamba1_step_range(const op_mamba1_scan_in *in, const float *h_in, float *h_out,
                          float *y, int d_lo, int d_hi);

/* op_mamba1_step_range over this worker's channels (op_mamba1_channels). */
void op_mamba1_step_part(const op_mamba1_scan_in *in, const float *h_in, float *h_out,
                         float *y, int worker, int n_workers);

/* ---- cost model ----------------------------------------------------------------------- */

/* 6 L d N + 9 L d + d N (see "Cost convention"); L = 1 for a step, whose
 * entry drops the d N (its decay rates are precomputed). */
double op_mamba1_scan_flops(int64_t L, int d_inner, int N);
/* 4 (4 L d + 2 L N + d N + 2 d) + 2 x 4 d N: x, delta_raw, z, y; B, C;
 * A_log; D, dt_bias; the state read and written once. */
double op_mamba1_scan_bytes(int64_t L, int d_inner, int N);
/* 4 d N: the resident state. */
double op_mamba1_scan_state_bytes(int d_inner, int N);

#endif
