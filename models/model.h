/* models/model.h — the configuration every model architecture shares: the
 * shapes and hyper-parameters of a stack, nothing that is weights or state.
 *
 * One struct for every architecture so that a catalogue, an experiment file
 * or a config.json reader fills one thing; each architecture reads the fields
 * it needs and model_config_check refuses what it cannot run.  The `arch`
 * tag says which fields apply: the Transformer (Llama / Qwen2 family) reads
 * the attention and MLP fields, Mamba-1 (mamba-*-hf) reads d_state, d_conv,
 * expand and dt_rank; both read vocab, d_model, n_layers, rms_eps and
 * tied_embeddings.
 *
 * Never: allocate, do I/O, or know about weights, pools or files. */
#ifndef CTXBENCH_MODELS_MODEL_H
#define CTXBENCH_MODELS_MODEL_H

#include "operators/lowp.h"
#include "util/error.h"

/* Longest layer pattern (hybrid stacks). */
#define MODEL_MAX_LAYERS 256

/* Which stack a configuration describes. */
typedef enum model_arch {
    MODEL_ARCH_TRANSFORMER = 0, /* Llama-style: RMSNorm, RoPE, GQA, SwiGLU MLP */
    MODEL_ARCH_MAMBA1 = 1,      /* Mamba-1 (models/mamba1.h): RMSNorm, selective-scan mixer */
    MODEL_ARCH_MAMBA2 = 2,      /* Mamba-2 (models/mamba2.h): RMSNorm, SSD mixer */
    MODEL_ARCH_HYBRID = 3,      /* Mamba-2 layers and Transformer blocks at `pattern` */
} model_arch;

/* "transformer", "mamba1", "mamba2", "hybrid" ("?" otherwise). */
const char *model_arch_name(model_arch a);

typedef struct model_config {
    model_arch arch;
    int vocab;           /* token ids 0..vocab-1 */
    int d_model;         /* width of the residual stream */
    int n_layers;
    int n_heads;         /* query heads */
    int n_kv_heads;      /* key/value heads (GQA); divides n_heads */
    int head_dim;        /* even (RoPE pairs), <= ATTN_MAX_D */
    int ffn_dim;         /* SwiGLU hidden width */
    float rms_eps;       /* RMSNorm epsilon, e.g. 1e-5 (Llama) or 1e-6 (Qwen2) */
    double rope_theta;   /* RoPE base, > 1: 1e4, 5e5 (Llama 3), 1e6 (Qwen2) */
    /* Llama 3 RoPE frequency scaling (elementwise.h op_rope_scaling); used
     * only when rope_llama3 is 1. */
    int rope_llama3;
    double rope_factor;          /* >= 1, 32 for Llama 3.2 */
    double rope_low_freq_factor; /* 1 */
    double rope_high_freq_factor;/* 4, > rope_low_freq_factor */
    double rope_original_max_pos;/* 8192, > 0 */
    int qkv_bias;        /* 1: q, k, v projections have biases (Qwen2) */
    int tied_embeddings; /* 1: the LM head is the token embedding */
    int max_context;     /* KV-cache capacity in positions, >= 1 (Transformer only) */
    /* Mamba-1 only (arch MODEL_ARCH_MAMBA1): d_inner = expand x d_model. */
    int d_state;         /* N, states per channel, 1..OP_MAMBA1_MAX_STATE (16 in mamba-130m) */
    int d_conv;          /* causal conv width; must be OP_CONV1D_WIDTH = 4 */
    int expand;          /* >= 1 (2 in every released Mamba-1) */
    int dt_rank;         /* rank of delta, 1..d_inner; ceil(d_model / 16) in releases */
    /* Mamba-2 and hybrid (d_state, d_conv, expand as above; ngroups is 1):
     * heads = d_inner / ssm_head_dim, in_proj rows 2 d_inner + 2 d_state + heads. */
    int ssm_head_dim;    /* P, divides d_inner (64 in mamba2-130m) */
    int chunk;           /* SSD chunk length of prefill, >= 1 (256 in releases) */
    /* Hybrid only: layer l is a Mamba-2 block when pattern[l] == 'M' and a
     * Transformer block (attention + SwiGLU MLP, the fields above) when 'A';
     * strlen(pattern) == n_layers. */
    char pattern[MODEL_MAX_LAYERS + 1];
    /* Every architecture: how the weight matrices are stored for inference:
     * wtype for the layers' projections, emb_wtype for the token embedding
     * and the LM head (GGUF files keep these at a higher precision, e.g.
     * Q8_0 beside Q4_1 layers); norms, biases, conv and SSM parameters stay
     * fp32.  Block types (Q8_0, Q4_0, Q4_1) need every inner dimension a
     * multiple of 32.  model_set_wtype sets both. */
    op_wtype wtype;
    op_wtype emb_wtype;
} model_config;

/* c->wtype = c->emb_wtype = t: one storage type for every matrix. */
void model_set_wtype(model_config *c, op_wtype t);

/* A small Llama-shaped config (vocab 97, d 64, 2 layers, 4 heads / 2 KV heads
 * of 16, ffn 160, theta 1e4, eps 1e-5, max_context 64) to start tests and
 * examples from.  Cannot fail. */
model_config model_config_tiny(void);

/* A small Mamba-1 config (vocab 97, d 64, 4 layers, d_state 16, d_conv 4,
 * expand 2, dt_rank 4, eps 1e-5, tied embeddings) for tests and examples.
 * Cannot fail. */
model_config model_config_mamba1_tiny(void);

/* A small Mamba-2 config (vocab 97, d 64, 4 layers, d_state 16, ssm_head_dim
 * 16 (8 heads), d_conv 4, expand 2, chunk 8, eps 1e-5, tied embeddings).
 * Cannot fail. */
model_config model_config_mamba2_tiny(void);

/* A small hybrid: model_config_mamba2_tiny with pattern "MAMA" and the
 * attention fields of model_config_tiny (max_context 64).  Cannot fail. */
model_config model_config_hybrid_tiny(void);

/* Checks every field the architecture uses.  Transformer: positive sizes, n_kv_heads
 * dividing n_heads, head_dim even and within the attention kernels' limit,
 * flags 0 or 1, finite positive eps and theta > 1, coherent Llama 3 scaling,
 * and sizes whose products fit the index types.  Mamba-1: positive vocab,
 * d_model, n_layers, expand; d_state within the scan's limit, d_conv equal
 * to the conv kernels' width, dt_rank in 1..d_inner, eps and the tied flag as
 * above, and every weight's element count within int range (the attention
 * fields are ignored).  Mamba-2: as Mamba-1 without dt_rank, plus
 * ssm_head_dim dividing d_inner, d_state within the SSD kernels' limit and
 * chunk >= 1.  Hybrid: Mamba-2's checks, the Transformer's, and a pattern of
 * n_layers characters each 'M' or 'A'.  Every architecture: wtype and
 * emb_wtype each one of op_wtype; a block type only where the inner
 * dimension of every matrix it stores (d_model; and H D, ffn_dim; d_inner,
 * dt_rank) is a multiple of 32 and at most OP_W_QMAX_K.  Returns 0, or -1 with err
 * naming the first bad field ("model config: n_kv_heads = 3 does not divide
 * n_heads = 4"). */
int model_config_check(const model_config *c, cb_err *err);

#endif
