/* models/lm.h — one interface over every language model of models/: the
 * Transformer (transformer.h), Mamba-1 (mamba1.h), Mamba-2 and the hybrid
 * (mamba2.h).  Runners, tests and later issues (speculative decoding,
 * generation) drive a model through this and never switch on its
 * architecture themselves.
 *
 * Weights come from two sources behind lm_weights: synthetic
 * (lm_weights_synth, deterministic from configuration and seed) or a
 * checkpoint (models/checkpoint.h).  lm_create takes ownership of them.
 *
 * Positions: lm_prefill starts from an empty state; lm_decode consumes the
 * next token.  lm_n_pos tells how many tokens the model has consumed.
 *
 * Never: start threads, print, exit. */
#ifndef CTXBENCH_MODELS_LM_H
#define CTXBENCH_MODELS_LM_H

#include <stddef.h>
#include <stdint.h>

#include "models/exec.h"
#include "models/mamba1.h"
#include "models/mamba2.h"
#include "models/model.h"
#include "models/transformer.h"
#include "platforms/pool.h"
#include "util/error.h"

/* The weights of one model: the member of its architecture is filled
 * (tf for the Transformer, m1 for Mamba-1, m2 for Mamba-2 and the hybrid),
 * the others are zeroed. */
typedef struct lm_weights {
    model_arch arch;
    tf_weights tf;
    m1_weights m1;
    m2_weights m2;
} lm_weights;

/* Allocates and fills the synthetic weights of cfg from seed (models/synth.h).
 * Returns 0, or -1 with err (bad config, out of memory) and *w zeroed. */
int lm_weights_synth(const model_config *cfg, uint64_t seed, lm_weights *w, cb_err *err);

/* Frees whichever member is filled and zeroes *w.  NULL is a no-op. */
void lm_weights_free(lm_weights *w);

/* Parameters (elements of every tensor, the LM head once when tied) of cfg:
 * what "130M" counts. */
int64_t lm_param_count(const model_config *cfg);

/* Bytes of cfg's weights as stored (cfg.wtype for the matrices). */
size_t lm_weight_bytes(const model_config *cfg);

typedef struct lm lm;

/* Creates a model of cfg over w (w->arch must be cfg->arch), taking
 * ownership of w on success (then zeroed; on failure untouched), with
 * scratch for prompts of up to max_prefill tokens (for models with attention
 * layers also max_prefill <= cfg->max_context).  Returns 0 and *out (free
 * with lm_free), or -1 with err. */
int lm_create(const model_config *cfg, lm_weights *w, int max_prefill, lm **out, cb_err *err);

/* Frees the model and its weights.  NULL is a no-op. */
void lm_free(lm *m);

const model_config *lm_config(const lm *m);
int lm_max_prefill(const lm *m);

/* Tokens consumed since the last prefill or reset. */
long lm_n_pos(const lm *m);

/* Empties the state. */
void lm_reset(lm *m);

/* Prefill of tokens[0..n) from an empty state; logits (vocab) of the last
 * position, may be NULL; logits_all (n, vocab), may be NULL.  Returns 0, or
 * -1 with err (then the state is empty). */
int lm_prefill(lm *m, pool *p, const pool_part *part, const int *tokens, int n, float *logits,
               float *logits_all, cb_err *err);

/* One decode step of token at position lm_n_pos(m); logits (vocab).
 * Returns 0, or -1 with err (a full KV cache, a bad token, pool refusal). */
int lm_decode(lm *m, pool *p, const pool_part *part, int token, float *logits, cb_err *err);

/* The reference forward (each model's *_forward_ref): logits_all (n, vocab)
 * of tokens[0..n) from an empty state, without touching m's state. */
int lm_forward_ref(const lm *m, const int *tokens, int n, float *logits_all, cb_err *err);

/* ---- snapshots: returning to an earlier position ---------------------------------------
 * A snapshot holds n_pos and a copy of the recurrent (conv and SSM) state;
 * KV-cache positions before n_pos stay in place in the model, so restoring
 * only drops the later ones.  A snapshot stays valid while the KV positions
 * below its n_pos are not written again: a prefill, or decodes after
 * restoring an earlier snapshot, invalidate it (restore then refuses it).
 * Models without attention layers keep everything in the copy, so their
 * snapshots stay valid for the life of the model. */
typedef struct lm_snapshot lm_snapshot;

/* Takes a snapshot of m's position and recurrent state.  Returns 0 and *out
 * (free with lm_snapshot_free), or -1 with err (out of memory). */
int lm_snapshot_take(const lm *m, lm_snapshot **out, cb_err *err);

/* Returns m to the snapshot's position and recurrent state.  Returns 0, or
 * -1 with err (and m unchanged) when the snapshot is of another model or
 * its KV positions were overwritten since it was taken. */
int lm_snapshot_restore(lm *m, const lm_snapshot *s, cb_err *err);

void lm_snapshot_free(lm_snapshot *s);

/* Memory held by a model, split as the experiment reports it. */
typedef struct lm_memory {
    size_t weights;   /* as stored */
    size_t kv_cache;  /* attention layers' KV cache, allocated for max_context */
    size_t state;     /* conv and SSM state, plus derived per-layer tables
                         (Mamba-1's decode decay rates, m1_memory.derived) */
    size_t scratch;   /* activation buffers and kernel scratch, plus the
                         snapshot bookkeeping (8 bytes per KV position) */
    size_t total;
} lm_memory;

lm_memory lm_memory_use(const lm *m);

/* KV-cache bytes that n positions occupy (0 for models without attention):
 * the part of kv_cache a context of n tokens uses. */
size_t lm_kv_bytes(const model_config *cfg, long n);

/* Turns the per-op-class timing on or off (off by default). */
void lm_set_timing(lm *m, int on);

/* The breakdown accumulated since the last clear. */
const mx_breakdown *lm_breakdown(const lm *m);
void lm_breakdown_clear(lm *m);

#endif
