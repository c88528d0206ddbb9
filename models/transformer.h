/* models/transformer.h — a Llama-style decoder-only Transformer (Llama 2/3,
 * Qwen2) built only from operators/: RMSNorm, RoPE (rotate-half, optional
 * Llama 3 scaling), grouped-query attention with a KV cache, SwiGLU MLP,
 * optional QKV biases, tied or untied embeddings.  Activations are fp32;
 * the weight matrices are stored as cfg.wtype (f32, bf16 or f16, converted
 * on the fly by the projections: operators/lowp.h).
 *
 * Three structs, owned by one tf_model:
 *   model_config  (models/model.h)  shapes and hyper-parameters
 *   tf_weights    read-only tensors (synthetic: models/synth.h; later mmap'd
 *                 checkpoints), handed to the model at creation
 *   tf_state      the KV cache and the activation scratch, private to the model
 *
 * Weight layout: every projection is stored as Hugging Face ships it,
 * W (d_out, d_in) row-major, so the decode step streams it with a GEMV
 * (y = W x, op_gemv_part) and a checkpoint can be used in place.  Prefill
 * computes the transposed product Y^T (d_out, n) = W X^T with op_gemm_part
 * (A = W, B = X^T (d_in, n)): the activations are transposed instead of the
 * weights (O(n d) work against the GEMM's O(n d d_out)).
 *
 * Model states (tf_model.n_pos = number of cached positions):
 *   empty (n_pos 0) --tf_prefill(n)--> n_pos = n
 *   n_pos = p --tf_decode(pos <= p)--> n_pos = pos + 1 (pos < p rewinds: the
 *                                      later positions are dropped)
 *   any --tf_reset--> empty.
 * Prefill starts at position 0 only: the flash kernel attends a block of
 * queries to keys of the same positions and cannot see earlier cached ones,
 * so a prompt is prefilled in one piece of at most max_prefill tokens.
 *
 * Timing: when tf_model.timing is on, each pool_run of the forward pass (and
 * the caller-thread work between them) is timed with cb_now_ns into a
 * per-op-class breakdown (mx_breakdown, models/exec.h), accumulated until
 * cleared.
 *
 * Layer-level entry points (tf_layers_*_begin, tf_layer_prefill,
 * tf_layer_decode) run one Transformer block over a residual stream the
 * caller owns: the hybrid stack (models/mamba2.h) interleaves them with
 * Mamba-2 blocks.
 *
 * Never: start threads (the caller's pool runs the kernels), print, or exit. */
#ifndef CTXBENCH_MODELS_TRANSFORMER_H
#define CTXBENCH_MODELS_TRANSFORMER_H

#include <stddef.h>
#include <stdint.h>

#include "models/exec.h"
#include "models/model.h"
#include "platforms/pool.h"
#include "util/error.h"

/* ---- weights ------------------------------------------------------------------------ *
 * Matrices (void *) are stored as cfg.wtype; vectors (float *) are fp32. */

typedef struct tf_layer_weights {
    float *attn_norm;  /* (d) */
    void *wq;          /* (H*D, d) */
    void *wk;          /* (Hkv*D, d) */
    void *wv;          /* (Hkv*D, d) */
    float *bq, *bk, *bv; /* (H*D), (Hkv*D), (Hkv*D); NULL unless qkv_bias */
    void *wo;          /* (d, H*D) */
    float *ffn_norm;   /* (d) */
    void *w_gate;      /* (ffn, d) */
    void *w_up;        /* (ffn, d) */
    void *w_down;      /* (d, ffn) */
} tf_layer_weights;

/* The tensors of one model, read-only once handed to tf_create (the pointers
 * are non-const only so that their filler can write them). */
typedef struct tf_weights {
    void *tok_emb;             /* (vocab, d) */
    tf_layer_weights *layers;  /* (n_layers) */
    float *final_norm;         /* (d) */
    void *lm_head;             /* (vocab, d); == tok_emb when tied_embeddings */
    /* Who owns the storage: tf_weights_free calls release(owner) and frees
     * layers.  For tf_weights_alloc: owner is the one malloc'd block. */
    void *owner;
    void (*release)(void *owner);
} tf_weights;

/* Bytes of the distinct tensors of cfg as stored (the LM head counted once
 * when tied). */
size_t tf_weight_bytes(const model_config *cfg);

/* Bytes of one Transformer block's tensors (attention + MLP) as stored. */
size_t tf_layer_bytes(const model_config *cfg);

/* Points L's fields into the storage at *at (64-byte aligned regions, in
 * the order of the struct) and advances *at past them: the layout
 * tf_weights_alloc uses, for stacks that embed Transformer blocks. */
void tf_layer_carve(const model_config *cfg, char **at, tf_layer_weights *L);

/* Allocates every tensor of cfg (uninitialised) in one 64-byte-aligned block
 * and points w's fields into it (lm_head = tok_emb when tied; biases NULL
 * without qkv_bias).  cfg must pass model_config_check.  Returns 0, or -1
 * with err (bad config, out of memory) and *w zeroed.  Free with
 * tf_weights_free (or hand to tf_create, which then owns it). */
int tf_weights_alloc(const model_config *cfg, tf_weights *w, cb_err *err);

/* Releases the storage and the layer array and zeroes *w.  A zeroed or NULL w
 * is a no-op. */
void tf_weights_free(tf_weights *w);

/* ---- state and model ----------------------------------------------------------------- */

/* The KV cache and activation scratch (private to transformer.c). */
typedef struct tf_state tf_state;

typedef struct tf_model {
    model_config cfg;
    tf_weights w;          /* owned */
    tf_state *s;           /* owned */
    int max_prefill;       /* longest prompt tf_prefill takes */
    int n_pos;             /* cached positions (see the state list above) */
    int timing;            /* 1: accumulate into bd (default 0) */
    mx_breakdown bd;
} tf_model;

/* Creates a model of cfg over w, taking ownership of w's storage on success
 * (w is then zeroed; on failure w is untouched and still the caller's).
 * Allocates the KV cache (2 n_layers Hkv max_context D floats) and scratch
 * for prompts of up to max_prefill tokens (1 <= max_prefill <= max_context).
 * Returns 0 and *out (free with tf_free), or -1 with err (bad config, weights
 * missing a tensor, out of memory). */
int tf_create(const model_config *cfg, tf_weights *w, int max_prefill, tf_model **out,
              cb_err *err);

/* Frees the model, its state and its weights.  NULL is a no-op. */
void tf_free(tf_model *m);

/* Empties the KV cache (n_pos = 0).  Does not clear the breakdown. */
void tf_reset(tf_model *m);

/* Zeroes the breakdown. */
void tf_breakdown_clear(tf_model *m);

/* Memory held by a model. */
typedef struct tf_memory {
    size_t weights;   /* tf_weight_bytes (as stored) */
    size_t kv_cache;  /* 2 n_layers Hkv max_context D x 4 (allocated) */
    size_t scratch;   /* activation buffers + kernel scratch currently allocated */
    size_t total;     /* their sum */
} tf_memory;

tf_memory tf_memory_use(const tf_model *m);

/* Prefill of tokens[0..n) from an empty cache (tf_reset is implied: the
 * cache is overwritten from position 0).  logits (vocab): the last position's
 * logits; logits_all (n, vocab), may be NULL: every position's (slow, for
 * tests).  Runs each step on part of p.  Returns 0 (n_pos = n), or -1 with
 * err (n outside 1..max_prefill, a token outside 0..vocab-1, pool_run
 * refused); on error the cache is empty (n_pos = 0). */
int tf_prefill(tf_model *m, pool *p, const pool_part *part, const int *tokens, int n,
               float *logits, float *logits_all, cb_err *err);

/* One decode step: token at position pos (0 <= pos <= n_pos, pos < max_context)
 * attending to cached positions 0..pos-1, its K and V written to slot pos.
 * logits (vocab).  Returns 0 (n_pos = pos + 1), or -1 with err (bad token or
 * position, pool_run refused; the cache then keeps positions 0..pos-1). */
int tf_decode(tf_model *m, pool *p, const pool_part *part, int token, int pos, float *logits,
              cb_err *err);

/* The reference forward: the same model run single-threaded on the
 * operators' plain references (op_gemv_ref, op_rmsnorm_ref, op_rope_ref,
 * op_attn_ref, op_silu_ref), over tokens[0..n) from position 0, without
 * touching m's cache or scratch.  logits_all (n, vocab).  layer_rms, may be
 * NULL: (n_layers + 1) RMS values of the residual stream over all positions,
 * after the embedding and after each layer.  Allocates its own buffers.
 * Returns 0, or -1 with err (bad token, n < 1 or > max_context, out of
 * memory). */
int tf_forward_ref(const tf_model *m, const int *tokens, int n, float *logits_all,
                   double *layer_rms, cb_err *err);

/* ---- layer-level entry points (hybrid stacks) ----------------------------------------
 * The caller owns the residual stream x and the positions; these neither
 * read nor change m->n_pos, and do not touch the embedding, final norm or
 * LM head.  Layer l indexes m's own layers (0..cfg.n_layers-1). */

/* Prepares a prefill pass of n tokens (1..max_prefill) on n_workers
 * workers: kernel scratch and the RoPE tables of positions 0..n-1.
 * Returns 0, or -1 with err (bad n, out of memory). */
int tf_layers_prefill_begin(tf_model *m, int n, int n_workers, cb_err *err);

/* Block l over x (n, d) in place (x += attention; x += MLP), writing
 * positions 0..n-1 of layer l's cache.  After tf_layers_prefill_begin(n).
 * Returns 0, or -1 with err (pool_run refused). */
int tf_layer_prefill(tf_model *m, pool *p, const pool_part *part, int l, float *x, int n,
                     cb_err *err);

/* Prepares a decode step at position pos (0..max_context-1) on n_workers
 * workers.  Returns 0, or -1 with err. */
int tf_layers_decode_begin(tf_model *m, int pos, int n_workers, cb_err *err);

/* Block l over x (d) in place at position pos, attending to cached
 * positions 0..pos-1 of layer l and writing slot pos.  After
 * tf_layers_decode_begin(pos).  Returns 0, or -1 with err. */
int tf_layer_decode(tf_model *m, pool *p, const pool_part *part, int l, float *x, int pos,
                    cb_err *err);

/* Reference of block l over x (n, d) in place, positions 0..n-1, on the
 * operators' references (for the hybrid's reference forward).  Returns 0,
 * or -1 with err (out of memory). */
int tf_layer_ref(const tf_model *m, int l, float *x, int n, cb_err *err);

#endif
