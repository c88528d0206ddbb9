/* models/synth.h — deterministic synthetic weights: the default weight
 * source when no checkpoint is given.
 *
 * Every tensor is filled from its own stream of a xorshift generator seeded
 * from (seed, layer, tensor), so a tensor's values depend only on the seed,
 * its place and its size (not on the other tensors), with the scales real
 * checkpoints have, so activations stay in range through every layer:
 *   token embedding (and an untied LM head)  uniform with std 0.02
 *   projections (fan_in k)                   uniform(-1/sqrt(k), 1/sqrt(k)),
 *                                            the nn.Linear default
 *   QKV biases                               uniform with std 0.02
 *   RMSNorm weights                          1
 * and for Mamba-1 as mamba_ssm initialises a fresh model:
 *   in_proj, x_proj, out_proj                uniform(+-1/sqrt(fan_in))
 *   conv1d weight and bias (fan_in 4)        uniform(+-1/sqrt(4))
 *   dt_proj weight                           uniform(+-dt_rank^-0.5)
 *   dt_proj bias                             softplus^-1(dt), dt log-uniform
 *                                            in [1e-3, 1e-1] (floored at 1e-4)
 *   A_log[c, n]                              log(n + 1)  (A = -(1..N))
 *   D                                        1
 * and for Mamba-2 as mamba_ssm initialises a fresh Mamba2 mixer:
 *   in_proj, out_proj                        uniform(+-1/sqrt(fan_in))
 *   conv1d weight and bias (fan_in 4)        uniform(+-1/sqrt(4))
 *   dt_bias                                  softplus^-1(dt), dt as Mamba-1's
 *   A_log[h]                                 log(uniform in [1, 16])
 *   D, norm, gated-norm weight               1
 * (a hybrid's attention blocks as the Transformer's layers of the same index).
 *
 * Never: read files, print or exit. */
#ifndef CTXBENCH_MODELS_SYNTH_H
#define CTXBENCH_MODELS_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "models/model.h"
#include "models/mamba1.h"
#include "models/mamba2.h"
#include "models/transformer.h"
#include "util/error.h"

/* Fills x[0..n) uniformly in [-bound, bound) from the stream (seed, stream).
 * Deterministic; cannot fail. */
void synth_fill_uniform(float *x, size_t n, float bound, uint64_t seed, uint64_t stream);

/* Fills the matrix x[0..n) stored as wt with the values synth_fill_uniform
 * gives for (seed, stream), rounded to wt.  Cannot fail. */
void synth_fill_matrix(void *x, op_wtype wt, size_t n, float bound, uint64_t seed,
                       uint64_t stream);

/* x[0..n) = 1 (RMSNorm weights, D). */
void synth_fill_ones(float *x, size_t n);

/* Mamba's dt bias: softplus^-1(dt), dt log-uniform in [1e-3, 1e-1] from
 * (seed, stream). */
void synth_dt_bias(float *bias, size_t n, uint64_t seed, uint64_t stream);

/* The token embedding, final norm and (untied) LM head of c. */
void synth_embeddings(const model_config *c, uint64_t seed, void *tok_emb, float *final_norm,
                      void *lm_head);

/* The tensors of Transformer block l (its streams depend on l only, so a
 * hybrid's attention block l equals a Transformer's layer l). */
void synth_tf_layer(const model_config *c, uint64_t seed, int l, tf_layer_weights *L);

/* Allocates (tf_weights_alloc) and fills the Transformer weights of cfg from
 * seed.  Returns 0, or -1 with err (bad config, out of memory) and *w zeroed.
 * The caller frees with tf_weights_free or hands w to tf_create. */
int synth_transformer(const model_config *cfg, uint64_t seed, tf_weights *w, cb_err *err);

/* Allocates (m1_weights_alloc) and fills the Mamba-1 weights of cfg from
 * seed.  Returns 0, or -1 with err (bad config, not Mamba-1, out of memory)
 * and *w zeroed.  The caller frees with m1_weights_free or hands w to
 * m1_create. */
int synth_mamba1(const model_config *cfg, uint64_t seed, m1_weights *w, cb_err *err);

/* Allocates (m2_weights_alloc) and fills the Mamba-2 or hybrid weights of
 * cfg from seed; a hybrid's attention layer l is synth_tf_layer(cfg, seed, l).
 * Returns 0, or -1 with err (bad config, not Mamba-2 or hybrid, out of
 * memory) and *w zeroed.  The caller frees with m2_weights_free or hands w to
 * m2_create. */
int synth_mamba2(const model_config *cfg, uint64_t seed, m2_weights *w, cb_err *err);

#endif
