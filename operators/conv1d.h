/* operators/conv1d.h — the causal depthwise conv1d of Mamba blocks, fp32, batch 1.
 *
 * Width K = OP_CONV1D_WIDTH = 4, one filter per channel (depthwise), zero
 * left padding (PyTorch's conv1d with padding K-1, first L outputs kept):
 *
 *   out[t,c] = bias[c] + sum_{k<K} w[c,k] x[t-(K-1)+k, c]     x[t<0, c] = history
 *
 * The history before token 0 is a conv state s (C, K-1), oldest first (zeros
 * for a fresh sequence); a prefill returns the state after its last token so
 * a decode step can continue it.  The SiLU that follows the conv in a Mamba
 * block belongs to the model, not here.
 *
 * Kernels: a reference (double accumulation), a prefill slice (rows in order,
 * vectorised across the worker's channels, weights transposed to (K, C) into
 * caller scratch), and a decode step (one token, state shifted).  Channels
 * are split across workers in groups of 16 (whole cache lines of a row); each
 * output is summed in the same order whatever the split, so results are
 * bit-identical for any n_workers.
 *
 * Tolerance (OP_CONV1D_TOL): |out - ref| <= TOL (|bias| + sum_k |w x|).
 * Cost convention: a multiply-add counts 2; 4 per output (bias folded into
 * the first), i.e. 8 L C flops.
 *
 * Never: allocate, do I/O, create threads, read anything but the arguments. */
#ifndef CTXBENCH_OPERATORS_CONV1D_H
#define CTXBENCH_OPERATORS_CONV1D_H

#include <stddef.h>
#include <stdint.h>

#define OP_CONV1D_WIDTH 4
#define OP_CONV1D_TOL 1e-6
#define OP_CONV1D_GROUP 16 /* channels per unit of the worker split */
/* Outputs larger than this are written with non-temporal stores (AVX-512,
 * rows 64-byte aligned): they would not stay cached anyway. */
#define OP_CONV1D_STREAM_BYTES ((size_t)16 << 20)

/* The kernel variant compiled in: "avx512f", "avx2+fma" or "portable". */
const char *op_conv1d_isa(void);

/* The channels [*lo, *hi) of worker among n_workers (whole groups of
 * OP_CONV1D_GROUP; empty when there are more workers than groups). */
void op_conv1d_channels(int C, int worker, int n_workers, int *lo, int *hi);

/* ---- prefill ---------------------------------------------------------------------- */

/* Reference for channel c in double: out[t * ldo] for t < L; mag[t * ldo]
 * (when not NULL) = |bias| + sum_k |w x|, the error scale; s_out_row (K-1)
 * (when not NULL) the last K-1 inputs.  s_in may be NULL (zero history). */
void op_conv1d_causal_ref_channel(const float *x /* (L, C) */, const float *w /* (C, K) */,
                                  const float *bias /* (C) */,
                                  const float *s_in /* (C, K-1) or NULL */, int64_t L, int C,
                                  int c, float *out, int64_t ldo, float *mag,
                                  float *s_out_row /* (K-1) or NULL */);

/* Reference over every channel.  s_in may be NULL (zero history); s_out, when
 * not NULL, gets the last K-1 inputs (s_out may equal s_in).  L >= 1, C >= 1. */
void op_conv1d_causal_ref(const float *x /* (L, C) */, const float *w /* (C, K) */,
                          const float *bias /* (C) */, const float *s_in /* (C, K-1) or NULL */,
                          float *out /* (L, C) */, float *s_out /* (C, K-1) or NULL */,
                          int64_t L, int C);

/* Bytes of scratch op_conv1d_causal_part needs for all workers together
 * (each uses its own region; any alignment): the transposed weights. */
size_t op_conv1d_scratch_bytes(int C);

/* This worker's channels of op_conv1d_causal_ref's outputs (out columns,
 * s_out rows; s_out may equal s_in).  scratch: op_conv1d_scratch_bytes(C). */
void op_conv1d_causal_part(const float *x /* (L, C) */, const float *w /* (C, K) */,
                           const float *bias /* (C) */, const float *s_in /* (C, K-1) or NULL */,
                           float *out /* (L, C) */, float *s_out /* (C, K-1) or NULL */,
                           int64_t L, int C, void *scratch, int worker, int n_workers);

/* ---- decode step -------------------------------------------------------------------- */

/* One token: out[c] = bias[c] + sum_{k<K-1} w[c,k] s_in[c,k] + w[c,K-1] x[c];
 * s_out[c] = (s_in[c,1], .., s_in[c,K-2], x[c]).  s_out may equal s_in. */
void op_conv1d_step_ref(const float *x /* (C) */, const float *w /* (C, K) */,
                        const float *bias /* (C) */, const float *s_in /* (C, K-1) */,
                        float *out /* (C) */, float *s_out /* (C, K-1) */, int C);

/* op_conv1d_step_ref's arithmetic in float for channels [c_lo, c_hi). */
void op_conv1d_step_range(const float *x, const float *w, const float *bias, const float *s_in,
                          float *out, float *s_out, int c_lo, int c_hi);

/* op_conv1d_step_range over this worker's channels (op_conv1d_channels). */
void op_conv1d_step_part(const float *x, const float *w, const float *bias, const float *s_in,
                         float *out, float *s_out, int C, int worker, int n_workers);

/* ---- cost model ----------------------------------------------------------------------- */

double op_conv1d_flops(int64_t L, int C);       /* 8 L C */
/* 4 (2 L C + K C + C) + 2 x 4 (K-1) C: x, out; weights, bias; state read and written. */
double op_conv1d_bytes(int64_t L, int C);
double op_conv1d_state_bytes(int C);            /* 4 (K-1) C */

#endif
