/* models/mamba2.h — a Mamba-2 language model (Dao & Gu arXiv:2405.21060,
 * the mamba2 / Mamba2ForCausalLM layout, ngroups 1) and the hybrid stack
 * that interleaves Mamba-2 blocks with Transformer blocks (attention +
 * SwiGLU MLP, models/transformer.h) at a pattern such as "MMMMMA".
 * Built only from operators/ (and, for the attention blocks, the
 * Transformer's layer-level entry points).  Activations are fp32; the
 * matrices (void * fields) are stored as cfg.wtype, vectors as fp32.
 *
 * One Mamba-2 block, with a residual around it (d_inner = expand d,
 * N = d_state, P = ssm_head_dim, H = d_inner / P heads, conv channels
 * d_conv_ch = d_inner + 2N):
 *   xb = RMSNorm(x) * norm
 *   (z, xBC, dt) = in_proj xb           (d_inner, d_inner + 2N, H), in that order
 *   xBC = SiLU(conv1d(xBC) + conv_bias)  causal depthwise, width 4
 *   (xs, B, C) = xBC                     (d_inner as (H, P), N, N)
 *   y = ssd(xs, dt, dt_bias, A_log, B, C, D)   operators/ssd.h, per head
 *   y = RMSNorm(y * SiLU(z)) * gnorm     the gated norm (norm_before_gate
 *                                        false, one group over d_inner)
 *   x += out_proj y
 * then a final RMSNorm and the LM head (tied to the embedding, or not).
 * Prefill runs the SSD chunked form (chunk cfg.chunk); decode its step.
 *
 * Recurrent state per Mamba-2 layer: conv state (d_conv_ch, 3), oldest input
 * first (operators/conv1d.h), and SSM state (H, N, P) (operators/ssd.h).
 * Attention blocks of a hybrid keep a KV cache of cfg.max_context positions
 * in an internal tf_model whose layers are the hybrid's 'A' layers.
 *
 * Model states (m2_model.n_pos = tokens consumed since the last reset):
 *   empty --m2_prefill(n)--> n
 *   p --m2_prefill_more(n)--> p + n    pure Mamba-2 only (the attention
 *                                      blocks prefill from position 0 only)
 *   p --m2_decode--> p + 1             (a hybrid: p + 1 <= max_context)
 *   any --m2_reset / a failed forward pass--> empty.
 * The state cannot be rewound.
 *
 * Timing: when m2_model.timing is on, every step is timed into bd (the
 * attention blocks' steps included).
 *
 * Never: start threads (the caller's pool runs the kernels), print, or exit. */
#ifndef CTXBENCH_MODELS_MAMBA2_H
#define CTXBENCH_MODELS_MAMBA2_H

#include <stddef.h>
#include <stdint.h>

#include "models/exec.h"
#include "models/model.h"
#include "models/transformer.h"
#include "platforms/pool.h"
#include "util/error.h"

/* ---- weights ------------------------------------------------------------------------ */

typedef struct m2_layer_weights {
    float *norm;     /* (d) */
    void *in_proj;   /* (2 d_inner + 2N + H, d): rows z, then xBC, then dt */
    float *conv_w;   /* (d_conv_ch, 1, 4) stored as (d_conv_ch, 4) */
    float *conv_b;   /* (d_conv_ch) */
    float *dt_bias;  /* (H) */
    float *A_log;    /* (H) */
    float *D;        /* (H) */
    float *gnorm;    /* (d_inner) gated RMSNorm weight (mixer.norm.weight) */
    void *out_proj;  /* (d, d_inner) */
} m2_layer_weights;

/* The tensors of one model, read-only once handed to m2_create.  Layer l
 * uses ssm[l] when it is a Mamba-2 layer and attn[l] when it is an
 * attention layer of a hybrid; the other entry is zeroed.  attn is NULL for
 * a pure Mamba-2 model. */
typedef struct m2_weights {
    void *tok_emb;            /* (vocab, d) */
    m2_layer_weights *ssm;    /* (n_layers) */
    tf_layer_weights *attn;   /* (n_layers) or NULL */
    float *final_norm;        /* (d) */
    void *lm_head;            /* (vocab, d); == tok_emb when tied_embeddings */
    /* Who owns the storage: m2_weights_free calls release(owner) and frees
     * ssm and attn.  For m2_weights_alloc: owner is the one malloc'd block. */
    void *owner;
    void (*release)(void *owner);
} m2_weights;

/* Is layer l of cfg a Mamba-2 layer (always for MODEL_ARCH_MAMBA2)? */
int m2_is_ssm_layer(const model_config *cfg, int l);

/* Bytes of the distinct tensors of cfg as stored (LM head once when tied). */
size_t m2_weight_bytes(const model_config *cfg);

/* Allocates every tensor of cfg (uninitialised) in one 64-byte-aligned block
 * and points w's fields into it.  cfg must pass model_config_check with arch
 * MODEL_ARCH_MAMBA2 or MODEL_ARCH_HYBRID.  Returns 0, or -1 with err and *w
 * zeroed.  Free with m2_weights_free (or hand to m2_create). */
int m2_weights_alloc(const model_config *cfg, m2_weights *w, cb_err *err);

/* Releases the storage and the layer arrays and zeroes *w.  A zeroed or NULL
 * w is a no-op. */
void m2_weights_free(m2_weights *w);

/* ---- state and model ----------------------------------------------------------------- */

typedef struct m2_state m2_state;

typedef struct m2_model {
    model_config cfg;
    m2_weights w;       /* owned */
    m2_state *s;        /* owned */
    int max_prefill;    /* most tokens one prefill takes */
    long n_pos;         /* tokens consumed (see the state list above) */
    int timing;         /* 1: accumulate into bd (default 0) */
    mx_breakdown bd;
} m2_model;

/* Creates a model of cfg over w, taking ownership of w's storage on success
 * (w is then zeroed; on failure w is untouched).  Allocates the recurrent
 * state, scratch for prefills of up to max_prefill tokens and, for a hybrid,
 * the KV cache of its attention layers (max_prefill <= max_context).
 * Returns 0 and *out (free with m2_free), or -1 with err (bad config,
 * weights missing a tensor, out of memory). */
int m2_create(const model_config *cfg, m2_weights *w, int max_prefill, m2_model **out,
              cb_err *err);

/* Frees the model, its state and its weights.  NULL is a no-op. */
void m2_free(m2_model *m);

/* Empties the state (n_pos = 0).  Does not clear the breakdown. */
void m2_reset(m2_model *m);

/* Zeroes the breakdown. */
void m2_breakdown_clear(m2_model *m);

/* The conv and SSM states of the Mamba-2 layers as a flat copy, for
 * returning to an earlier position (as m1_state_*): load copies it back and
 * sets n_pos; a hybrid's KV positions before n_pos are kept in place, later
 * ones are overwritten by the next decode. */
size_t m2_state_bytes(const m2_model *m);
void m2_state_save(const m2_model *m, void *buf);
void m2_state_load(m2_model *m, const void *buf, long n_pos);

/* Memory held by a model. */
typedef struct m2_memory {
    size_t weights;  /* m2_weight_bytes */
    size_t kv_cache; /* the attention layers' KV cache (0 for pure Mamba-2) */
    size_t state;    /* conv and SSM states of the Mamba-2 layers */
    size_t scratch;  /* activation buffers + kernel scratch currently allocated */
    size_t total;    /* their sum */
} m2_memory;

m2_memory m2_memory_use(const m2_model *m);

/* Prefill of tokens[0..n) from an empty state (m2_reset is implied).
 * logits (vocab), may be NULL: the last position's; logits_all (n, vocab),
 * may be NULL: every position's (slow, for tests).  Returns 0 (n_pos = n),
 * or -1 with err (n outside 1..max_prefill, a bad token, pool_run refused);
 * then the state is empty. */
int m2_prefill(m2_model *m, pool *p, const pool_part *part, const int *tokens, int n,
               float *logits, float *logits_all, cb_err *err);

/* The same, continuing from the current state (pure Mamba-2 only: a hybrid
 * refuses with an error).  A bad n or token leaves the state unchanged; a
 * pool_run refusal empties it. */
int m2_prefill_more(m2_model *m, pool *p, const pool_part *part, const int *tokens, int n,
                    float *logits, float *logits_all, cb_err *err);

/* One decode step: token after the n_pos tokens consumed.  logits (vocab).
 * Returns 0 (n_pos + 1), or -1 with err (bad token or, for a hybrid, a full
 * KV cache: the state unchanged; pool_run refused: the state emptied). */
int m2_decode(m2_model *m, pool *p, const pool_part *part, int token, float *logits,
              cb_err *err);

/* The reference forward over tokens[0..n) from an empty state, single
 * threaded on the operators' references (op_ssd_ref, op_conv1d_causal_ref,
 * op_rmsnorm_ref, op_gemv_w_ref via mx_ref_linear, and tf_layer_ref for
 * attention blocks), without touching m's state.  logits_all (n, vocab);
 * layer_rms, may be NULL: (n_layers + 1) RMS values of the residual stream.
 * Returns 0, or -1 with err (bad token, n < 1, out of memory). */
int m2_forward_ref(const m2_model *m, const int *tokens, int n, float *logits_all,
                   double *layer_rms, cb_err *err);

#endif
