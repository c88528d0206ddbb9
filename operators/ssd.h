/* operators/ssd.h — the Mamba-2 state-space-dual (SSD) operator: one layer's
 * selective SSM with a scalar decay per head (Dao & Gu, arXiv:2405.21060).
 *
 * Per head h (H heads of dimension P, state size N, ngroups 1 so B and C
 * are shared by every head), token t:
 *
 *   delta = softplus(dt[t,h] + dt_bias[h])          A_h = -exp(A_log[h])
 *   h_h   = exp(delta A_h) h_h + delta x[t,h] B[t]^T  (P x N; stored as N x P)
 *   y[t,h] = h_h C[t] + D[h] x[t,h]
 *
 * This is the SSM alone: the z gate (y * silu(z)), the RMSNorm and the
 * projections around it belong to the model (models/), not to this operator.
 *
 * Three forms, one result (within rounding):
 *   recurrent  the token-by-token recurrence, head by head.  With AVX-512 it
 *              runs rescaled: inside a segment of tokens whose decay product
 *              P_t (from the segment start) stays above e^-30, the state is
 *              kept as g = h / P_t, so a token costs two FMAs per state
 *              element (g += B[n] (delta x / P_t); yb += C[n] g) instead of
 *              three, and y = P_t yb + D x; h = P_end g at the segment end.
 *              The rounding error relative to mag is the plain recurrence's
 *              (float is scale-invariant; e^30 is far from overflow).  A
 *              4-row x 64-column block of g stays in registers across a
 *              segment.  The portable build runs the plain step.
 *   chunked    the SSD chunked algorithm with chunk length Q: X = x delta,
 *              a = A delta, cs = cumulative sum of a inside a chunk,
 *                Y_diag[l] = sum_{s<=l} (C_l . B_s) exp(cs_l - cs_s) X_s
 *                S_chunk   = sum_s exp(cs_last - cs_s) B_s X_s^T
 *                Y_off[l]  = exp(cs_l) C_l . S_prev
 *                S         = exp(cs_last) S_prev + S_chunk
 *                y         = Y_diag + Y_off + D x
 *              as register-blocked products: G = C B^T once per chunk (shared
 *              by the heads), per head M = G o exp(cs_l - cs_s) delta_s
 *              (causal, D on its diagonal), y = exp(cs) o (C S_prev) + M x,
 *              S = exp(cs_last) S_prev + B^T (w o x), w_s = exp(cs_last -
 *              cs_s) delta_s; chunk length 1 is the recurrence
 *   step       one decode token from the state, by the plain step (three
 *              vector operations per state element; it streams the state)
 *
 * State layout: per head the P x N matrix h_h is stored transposed, as
 * (N, P) with P contiguous, so the output contraction over N is a sum of
 * vectors (no horizontal reductions) and the chunked products read state rows
 * as GEMM panels.  The whole state is (H, N, P).  Prefill forms start from
 * state0 (NULL = zeros) and leave the final state in `state`.
 *
 * Workers: every fast function computes the heads [lo, hi) of
 * op_ssd_heads(H, worker, n_workers); workers write disjoint heads of y and
 * of the state.  A head's result is computed in the same order whatever the
 * split, so results are bit-identical for any n_workers.
 *
 * Tolerance: a fast output element is within SSD_TOL x mag of the double
 * reference, where mag = |D x| + sum_n |C_n| habs_n and habs is the same
 * recurrence run on absolute values (habs = dA habs + delta |x| |B|): the
 * float error of a decayed sum of products scales with the sum of their
 * magnitudes.  (The exp of chunk-cumulative decays is taken from double
 * cumulative sums, so the chunk length does not enter the error.)
 *
 * Cost convention: a multiply-add counts 2 flops, an add or multiply 1, an
 * exp, log or division 1.  See the op_ssd_*_flops functions for each form.
 *
 * Never: allocate, do I/O, read anything but the arguments (kernels are
 * leaves), start threads (the caller's pool runs the workers). */
#ifndef CTXBENCH_OPERATORS_SSD_H
#define CTXBENCH_OPERATORS_SSD_H

#include <stddef.h>
#include <stdint.h>

#define SSD_TOL 1e-4 /* relative to mag (above) */

/* Largest state size N a model may ask for (the kernels take any N; this
 * bounds the state and scratch a configuration can request). */
#define OP_SSD_MAX_STATE 1024

/* One call's shape. */
typedef struct op_ssd_shape {
    int64_t L; /* tokens (1 for a decode step) */
    int H;     /* heads */
    int P;     /* head dimension */
    int N;     /* state size */
} op_ssd_shape;

/* The inputs, read only. */
typedef struct op_ssd_in {
    const float *x;       /* (L, H, P) */
    const float *dt;      /* (L, H) raw dt, before dt_bias and the softplus */
    const float *dt_bias; /* (H) */
    const float *A_log;   /* (H); A = -exp(A_log) */
    const float *B;       /* (L, N) */
    const float *C;       /* (L, N) */
    const float *D;       /* (H) */
} op_ssd_in;

/* The kernel variant compiled in: "avx512f" or "portable". */
const char *op_ssd_isa(void);

/* The heads [*lo, *hi) worker computes among n_workers (may be empty). */
void op_ssd_heads(int H, int worker, int n_workers, int *lo, int *hi);

/* ---- reference --------------------------------------------------------------------------- */

/* Bytes of scratch op_ssd_ref needs: two (N, P) double states. */
size_t op_ssd_ref_scratch_bytes(const op_ssd_shape *s);

/* The recurrence in double for heads [h_lo, h_hi) only: writes those heads'
 * rows of y and, when non-NULL, of mag (the tolerance scale, see above) and
 * of state (final state).  state0 (H, N, P) is the initial state, NULL for
 * zeros (it may equal state).  Other heads are not touched. */
void op_ssd_ref(const op_ssd_shape *s, const op_ssd_in *in, const float *state0 /* (H, N, P) */,
                int h_lo, int h_hi, float *y /* (L, H, P) */, float *mag /* (L, H, P) */,
                float *state /* (H, N, P) */, void *scratch);

/* ---- fast, one worker's heads ------------------------------------------------------------ */

/* Prefill by the recurrence.  state0 may be NULL (zeros) or equal state. */
void op_ssd_recurrent_part(const op_ssd_shape *s, const op_ssd_in *in,
                           const float *state0 /* (H, N, P) */, float *y /* (L, H, P) */,
                           float *state /* (H, N, P) */, int worker, int n_workers);

/* Bytes of scratch op_ssd_chunked_part needs for n_workers workers together
 * (each uses its own region; any alignment) with chunk length q (clamped to L). */
size_t op_ssd_chunked_scratch_bytes(const op_ssd_shape *s, int q, int n_workers);

/* Prefill by the chunked SSD algorithm with chunk length q >= 1 (clamped to
 * L; the last chunk may be shorter).  state0 may be NULL (zeros) or equal
 * state.  scratch: op_ssd_chunked_scratch_bytes(s, q, n_workers) bytes shared
 * by the workers of the call. */
void op_ssd_chunked_part(const op_ssd_shape *s, const op_ssd_in *in, int q,
                         const float *state0 /* (H, N, P) */, float *y /* (L, H, P) */,
                         float *state /* (H, N, P) */, void *scratch, int worker, int n_workers);

/* One decode token (s->L is ignored: in holds one token, x (H, P), dt (H),
 * B (N), C (N)): updates state in place and writes y. */
void op_ssd_step_part(const op_ssd_shape *s, const op_ssd_in *in, float *state /* (H, N, P) */,
                      float *y /* (H, P) */, int worker, int n_workers);

/* ---- cost model (all workers together) --------------------------------------------------- */

/* Recurrent, as the build computes it.  AVX-512 (the rescaled form): per
 * token and head 4 P N (two FMAs) + 4 P (x scaling, y = P_t yb + D x) + 8
 * (softplus, cumulative decay, two exps), plus P N per segment, counted once
 * per 64-token block (the fewest segments).  Portable (the plain step): per
 * token and head 5 P N (decay multiply 1, input FMA 2, output FMA 2) + 3 P
 * (x delta, D x, add) + 4 (softplus exp and log, exp(delta A), delta A). */
double op_ssd_recurrent_flops(const op_ssd_shape *s);
/* Chunked with chunk q, per chunk of Qc tokens: G = C B^T, lower triangle,
 * Qc (Qc + 1) N; per head: masked Y_diag Qc (Qc + 1) P, the decay mask
 * 3 Qc (Qc + 1) / 2 (exp, two multiplies), chunk state 2 Qc N P, Y_off
 * 2 Qc N P + Qc P (all chunks but the first when starting from zeros), state
 * decay 2 N P, x scaling Qc P, and 8 per token (softplus, cumulative sum, two
 * exps).  Only the causal triangle is counted, not the block padding. */
double op_ssd_chunked_flops(const op_ssd_shape *s, int q, int from_zero_state);
/* A decode step (always the plain step): 5 P N + 3 P + 4 per head. */
double op_ssd_step_flops(const op_ssd_shape *s);
/* Minimum traffic of a prefill: x, dt, B, C, the parameters and y once, the
 * final state written once (4 bytes each). */
double op_ssd_prefill_bytes(const op_ssd_shape *s);
/* A decode step: one token's inputs and output, the state read and written. */
double op_ssd_step_bytes(const op_ssd_shape *s);
/* Resident state: H N P x 4 bytes. */
double op_ssd_state_bytes(const op_ssd_shape *s);

#endif
