/* models/mamba1.h — a Mamba-1 language model (mamba-*-hf layout, Gu & Dao
 * arXiv:2312.00752) built only from operators/.  Activations are fp32; the
 * matrices (void * fields) are stored as cfg.wtype, vectors as fp32.
 *
 * One block, with a residual around it (d_inner = expand d, R = dt_rank,
 * N = d_state):
 *   xb = RMSNorm(x) * norm
 *   (xi, z) = in_proj xb                     (2 d_inner): x half, then z half
 *   xc = SiLU(conv1d(xi) + conv_bias)        causal depthwise, width 4
 *   (dt, B, C) = x_proj xc                   (R + 2N)
 *   delta_raw = dt_proj dt                   (d_inner); its bias goes inside
 *                                            the scan's softplus
 *   y = selective_scan(xc, delta_raw, dt_bias, A = -exp(A_log), B, C, D, z)
 *   x += out_proj y
 * then a final RMSNorm and the LM head (tied to the embedding, or not).
 *
 * Three structs, owned by one m1_model:
 *   model_config  (models/model.h, arch MODEL_ARCH_MAMBA1)
 *   m1_weights    read-only tensors, stored as Hugging Face ships them
 *   m1_state      the recurrent state and the activation scratch (private)
 *
 * Recurrent state per layer, in the operators' layouts: conv state
 * (d_inner, 3), oldest input first (operators/conv1d.h), and SSM state
 * (d_inner, N) (operators/selective_scan.h).  Its size does not depend on
 * the context length.
 *
 * Model states (m1_model.n_pos = tokens consumed since the last reset):
 *   empty (n_pos 0) --m1_prefill(n)--> n_pos = n
 *   n_pos = p --m1_prefill_more(n)--> p + n   (continues from the state: the
 *                                              conv and scan take an initial
 *                                              state, so a long prompt can be
 *                                              prefilled in pieces)
 *   n_pos = p --m1_decode--> p + 1
 *   any --m1_reset / a failed forward pass--> empty.
 * Unlike a KV cache the state cannot be rewound: an earlier position needs
 * a new prefill.
 *
 * Timing: when m1_model.timing is on, each step of a forward pass is timed
 * with cb_now_ns into a per-op-class breakdown (mx_breakdown, models/exec.h).
 *
 * Never: start threads (the caller's pool runs the kernels), print, or exit. */
#ifndef CTXBENCH_MODELS_MAMBA1_H
#define CTXBENCH_MODELS_MAMBA1_H

#include <stddef.h>
#include <stdint.h>

#include "models/exec.h"
#include "models/model.h"
#include "platforms/pool.h"
#include "util/error.h"

/* ---- weights ------------------------------------------------------------------------ */

typedef struct m1_layer_weights {
    float *norm;      /* (d) */
    void *in_proj;    /* (2 d_inner, d): rows 0..d_inner-1 x, then z */
    float *conv_w;    /* (d_inner, 1, 4) stored as (d_inner, 4) */
    float *conv_b;    /* (d_inner) */
    void *x_proj;     /* (R + 2N, d_inner): rows dt (R), B (N), C (N) */
    void *dt_proj_w;  /* (d_inner, R) */
    float *dt_proj_b; /* (d_inner) */
    float *A_log;     /* (d_inner, N) */
    float *D;         /* (d_inner) */
    void *out_proj;   /* (d, d_inner) */
} m1_layer_weights;

/* The tensors of one model, read-only once handed to m1_create. */
typedef struct m1_weights {
    void *tok_emb;             /* (vocab, d) */
    m1_layer_weights *layers;  /* (n_layers) */
    float *final_norm;         /* (d) */
    void *lm_head;             /* (vocab, d); == tok_emb when tied_embeddings */
    /* Who owns the storage: m1_weights_free calls release(owner) and frees
     * layers.  For m1_weights_alloc: owner is the one malloc'd block. */
    void *owner;
    void (*release)(void *owner);
} m1_weights;

/* Bytes of the distinct tensors of cfg (the LM head counted once when tied). */
size_t m1_weight_bytes(const model_config *cfg);

/* Allocates every tensor of cfg (uninitialised) in one 64-byte-aligned block
 * and points w's fields into it.  cfg must pass model_config_check with arch
 * MODEL_ARCH_MAMBA1.  Returns 0, or -1 with err (bad config, out of memory)
 * and *w zeroed.  Free with m1_weights_free (or hand to m1_create). */
int m1_weights_alloc(const model_config *cfg, m1_weights *w, cb_err *err);

/* Releases the storage and the layer array and zeroes *w.  A zeroed or NULL w
 * is a no-op. */
void m1_weights_free(m1_weights *w);

/* ---- state and model ----------------------------------------------------------------- */

typedef struct m1_state m1_state;

typedef struct m1_model {
    model_config cfg;
    m1_weights w;       /* owned */
    m1_state *s;        /* owned */
    int max_prefill;    /* most tokens one m1_prefill / m1_prefill_more takes */
    long n_pos;         /* tokens consumed (see the state list above) */
    int timing;         /* 1: accumulate into bd (default 0) */
    mx_breakdown bd;
} m1_model;

/* Creates a model of cfg over w, taking ownership of w's storage on success
 * (w is then zeroed; on failure w is untouched and still the caller's).
 * Allocates the recurrent state, the decay rates -exp(A_log) log2 e of the
 * decode step (op_mamba1_decay_rates, a load-time transform of A_log) and
 * scratch for prefills of up to max_prefill tokens (>= 1, and
 * max_prefill x 2 d_inner within int range).  Returns 0 and *out (free with
 * m1_free), or -1 with err (bad config, weights missing a tensor, out of
 * memory). */
int m1_create(const model_config *cfg, m1_weights *w, int max_prefill, m1_model **out,
              cb_err *err);

/* Frees the model, its state and its weights.  NULL is a no-op. */
void m1_free(m1_model *m);

/* Empties the state (n_pos = 0).  Does not clear the breakdown. */
void m1_reset(m1_model *m);

/* Zeroes the breakdown. */
void m1_breakdown_clear(m1_model *m);

/* The recurrent state as a flat copy (conv states, then SSM states), for
 * returning to an earlier position: m1_state_bytes bytes; save copies it
 * out, load copies it back and sets n_pos (the position the copy was taken
 * at; the caller keeps the two together). */
size_t m1_state_bytes(const m1_model *m);
void m1_state_save(const m1_model *m, void *buf);
void m1_state_load(m1_model *m, const void *buf, long n_pos);

/* Memory held by a model. */
typedef struct m1_memory {
    size_t weights;  /* m1_weight_bytes */
    size_t derived;  /* the decode decay rates: n_layers d_inner N x 4 */
    size_t state;    /* n_layers d_inner (3 + N) x 4: conv and SSM states */
    size_t scratch;  /* activation buffers + kernel scratch currently allocated */
    size_t total;    /* their sum */
} m1_memory;

m1_memory m1_memory_use(const m1_model *m);

/* Prefill of tokens[0..n) from an empty state (m1_reset is implied).
 * logits (vocab), may be NULL: the last position's logits; logits_all
 * (n, vocab), may be NULL: every position's (slow, for tests).  Runs each
 * step on part of p.  Returns 0 (n_pos = n), or -1 with err (n outside
 * 1..max_prefill, a token outside 0..vocab-1, pool_run refused); then the
 * state is empty (n_pos = 0). */
int m1_prefill(m1_model *m, pool *p, const pool_part *part, const int *tokens, int n,
               float *logits, float *logits_all, cb_err *err);

/* The same, continuing from the current state (n_pos = p before: p + n
 * after).  A bad n or token leaves the state unchanged; a pool_run refusal
 * empties it. */
int m1_prefill_more(m1_model *m, pool *p, const pool_part *part, const int *tokens, int n,
                    float *logits, float *logits_all, cb_err *err);

/* One decode step: token after the n_pos tokens consumed.  logits (vocab).
 * Returns 0 (n_pos + 1), or -1 with err (bad token: the state unchanged;
 * pool_run refused: the state emptied). */
int m1_decode(m1_model *m, pool *p, const pool_part *part, int token, float *logits,
              cb_err *err);

/* The reference forward: the same model run single-threaded on the
 * operators' plain references (op_rmsnorm_ref, op_gemv_ref,
 * op_conv1d_causal_ref, op_silu_ref, op_mamba1_scan_ref) over tokens[0..n)
 * from an empty state, without touching m's state or scratch.  logits_all
 * (n, vocab).  layer_rms, may be NULL: (n_layers + 1) RMS values of the
 * residual stream over all positions, after the embedding and after each
 * layer.  Allocates its own buffers.  Returns 0, or -1 with err (bad token,
 * n < 1, out of memory). */
int m1_forward_ref(const m1_model *m, const int *tokens, int n, float *logits_all,
                   double *layer_rms, cb_err *err);

#endif
