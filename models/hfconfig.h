/* models/hfconfig.h — a Hugging Face config.json read into a checked
 * description of the architecture (Llama, Qwen2, Mamba-1, Mamba-2).
 *
 * Both the transformers layout (model_type "mamba", hidden_size, state_size...)
 * and the original mamba_ssm layout (d_model, n_layer, ssm_cfg) are read.
 * Every size is range-checked and every derived size (head_dim, d_inner,
 * dt_rank, Mamba-2 heads, padded vocabulary) is filled in, so a model built
 * from an hfc_config can trust it.  Errors name the file and the field.
 * This module never allocates anything the caller must free and never
 * guesses an architecture it does not know: that is an error. */
#ifndef CTXBENCH_MODELS_HFCONFIG_H
#define CTXBENCH_MODELS_HFCONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

typedef enum hfc_arch { HFC_LLAMA, HFC_QWEN2, HFC_MAMBA, HFC_MAMBA2 } hfc_arch;

typedef enum hfc_rope_kind {
    HFC_ROPE_NONE,   /* plain RoPE */
    HFC_ROPE_LINEAR, /* positions divided by factor */
    HFC_ROPE_LLAMA3, /* Llama 3.1+ frequency-dependent scaling */
} hfc_rope_kind;

/* Caps on sizes; anything larger is refused as absurd. */
#define HFC_MAX_SIZE (1 << 20)  /* hidden, intermediate, heads, state... */
#define HFC_MAX_VOCAB (1 << 22)
#define HFC_MAX_LAYERS 1024
#define HFC_MAX_POSITIONS (1 << 26)

typedef struct hfc_rope_scaling {
    hfc_rope_kind kind;
    double factor;                      /* LINEAR, LLAMA3 */
    double low_freq_factor;             /* LLAMA3 */
    double high_freq_factor;            /* LLAMA3 */
    int64_t original_max_position_embeddings; /* LLAMA3 */
} hfc_rope_scaling;

typedef struct hfc_config {
    hfc_arch arch;
    char model_type[32];     /* as given, or derived ("mamba2" from ssm_cfg) */
    char architecture[64];   /* architectures[0], or "" */

    /* Every architecture. */
    int64_t hidden_size;     /* d_model */
    int64_t num_hidden_layers; /* n_layer */
    int64_t vocab_size;      /* as given */
    int64_t vocab_padded;    /* rounded up to pad_vocab_size_multiple (Mamba), else vocab_size */
    bool tie_word_embeddings;
    double norm_eps;         /* rms_norm_eps / layer_norm_epsilon */

    /* Transformers (LLAMA, QWEN2). */
    int64_t intermediate_size;
    int64_t num_attention_heads;
    int64_t num_key_value_heads; /* default num_attention_heads */
    int64_t head_dim;            /* default hidden_size / num_attention_heads */
    int64_t max_position_embeddings;
    double rope_theta;           /* default 10000 */
    hfc_rope_scaling rope_scaling;
    bool attention_bias;         /* q/k/v biases; always true for qwen2 */

    /* Mamba-1 and Mamba-2. */
    int64_t d_state;         /* state_size */
    int64_t d_conv;          /* conv_kernel */
    int64_t expand;
    int64_t d_inner;         /* expand * hidden_size (or intermediate_size if given) */
    int64_t dt_rank;         /* Mamba-1: time_step_rank, "auto" = ceil(hidden/16) */
    int64_t pad_vocab_size_multiple;
    bool conv_bias;          /* use_conv_bias, default true */
    bool proj_bias;          /* use_bias, default false */

    /* Mamba-2 only. */
    int64_t headdim;         /* head_dim, default 64 */
    int64_t n_groups;        /* default 1 */
    int64_t chunk_size;      /* default 256 */
    int64_t num_heads;       /* d_inner / headdim (checked if given) */
} hfc_config;

/* Reads and checks the config.json at path into *out.  Returns 0, or -1 with
 * err naming the file and field ("config.json: num_key_value_heads: 5 does not
 * divide num_attention_heads 32"); *out is then unspecified. */
int hfc_load(const char *path, hfc_config *out, cb_err *err);

/* The same on text[0..len) (need not be NUL-terminated); name stands for the
 * file in errors. */
int hfc_parse_text(const char *text, size_t len, const char *name, hfc_config *out,
                   cb_err *err);

/* "llama", "qwen2", "mamba", "mamba2". */
const char *hfc_arch_name(hfc_arch a);

#endif
