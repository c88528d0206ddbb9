/* models/catalogue.c — the named model configurations (catalogue.h): a
 * static table, one entry per model, each with a comment saying where its
 * shape comes from; the tiny entries are copied from model.h's
 * model_config_*_tiny on first use (pthread_once), so the two never drift.
 *
 * Parameter counts (lm_param_count, elements of every tensor; tied LM heads
 * counted once):
 *   mamba-130m        129,135,360   (published: 129.1M)
 *   mamba2-130m       128,989,632   (vocab 50288, see its entry)
 *   qwen2.5-0.5b      494,032,768   (published: 0.49B)
 *   llama-3.2-1b    1,235,814,400   (published: 1.24B)
 *   transformer-130m  128,287,488   (-0.66% of mamba-130m)
 *   hybrid-130m       128,815,632   (-0.13% of mamba2-130m)
 *   smollm2-135m      134,515,008   (published: 135M)
 * tests/test_lm.c checks each against these numbers.
 *
 * Never: allocate, print, read files. */
#include "models/catalogue.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>


/* Llama 3 RoPE scaling off: its fields are ignored (model.h). */
#define NO_ROPE_SCALING .rope_llama3 = 0

static catalogue_entry entries[] = {
    /* state-spaces/mamba-130m (mamba-130m-hf config.json): d_model 768,
     * n_layer 24, d_state 16, d_conv 4, expand 2, dt_rank ceil(768/16) = 48,
     * vocab 50277 padded to a multiple of 8 = 50280, tied, eps 1e-5. */
    {"mamba-130m", "Mamba-1 130M (state-spaces/mamba-130m)",
     {.arch = MODEL_ARCH_MAMBA1, .vocab = 50280, .d_model = 768, .n_layers = 24,
      .rms_eps = 1e-5f, .tied_embeddings = 1, .d_state = 16, .d_conv = 4, .expand = 2,
      .dt_rank = 48}},
    /* state-spaces/mamba2-130m config.json: d_model 768, n_layer 24,
     * ssm_cfg {layer: Mamba2} with mamba_ssm's defaults d_state 128,
     * headdim 64, expand 2, d_conv 4, chunk_size 256, ngroups 1 (24 heads);
     * vocab_size 50277 with pad_vocab_size_multiple 16, so the embedding
     * has 50288 rows (not Mamba-1's 50280, which pads to 8); tied, eps 1e-5. */
    {"mamba2-130m", "Mamba-2 130M (state-spaces/mamba2-130m)",
     {.arch = MODEL_ARCH_MAMBA2, .vocab = 50288, .d_model = 768, .n_layers = 24,
      .rms_eps = 1e-5f, .tied_embeddings = 1, .d_state = 128, .d_conv = 4, .expand = 2,
      .ssm_head_dim = 64, .chunk = 256}},
    /* Qwen/Qwen2.5-0.5B config.json: hidden_size 896, num_hidden_layers 24,
     * num_attention_heads 14, num_key_value_heads 2 (head_dim 896/14 = 64),
     * intermediate_size 4864, vocab_size 151936, rope_theta 1e6,
     * rms_norm_eps 1e-6, QKV biases (Qwen2), tie_word_embeddings true. */
    {"qwen2.5-0.5b", "Qwen2.5-0.5B (Qwen/Qwen2.5-0.5B)",
     {.arch = MODEL_ARCH_TRANSFORMER, .vocab = 151936, .d_model = 896, .n_layers = 24,
      .n_heads = 14, .n_kv_heads = 2, .head_dim = 64, .ffn_dim = 4864, .rms_eps = 1e-6f,
      .rope_theta = 1e6, NO_ROPE_SCALING, .qkv_bias = 1, .tied_embeddings = 1}},
    /* meta-llama/Llama-3.2-1B config.json: hidden_size 2048,
     * num_hidden_layers 16, num_attention_heads 32, num_key_value_heads 8,
     * head_dim 64, intermediate_size 8192, vocab_size 128256, rope_theta
     * 5e5, rope_scaling llama3 (factor 32, low_freq_factor 1,
     * high_freq_factor 4, original_max_position_embeddings 8192),
     * rms_norm_eps 1e-5, tie_word_embeddings true. */
    {"llama-3.2-1b", "Llama-3.2-1B (meta-llama/Llama-3.2-1B)",
     {.arch = MODEL_ARCH_TRANSFORMER, .vocab = 128256, .d_model = 2048, .n_layers = 16,
      .n_heads = 32, .n_kv_heads = 8, .head_dim = 64, .ffn_dim = 8192, .rms_eps = 1e-5f,
      .rope_theta = 5e5, .rope_llama3 = 1, .rope_factor = 32, .rope_low_freq_factor = 1,
      .rope_high_freq_factor = 4, .rope_original_max_pos = 8192, .tied_embeddings = 1}},
    /* A Llama-style Transformer matched to mamba-130m: its width (768),
     * vocabulary (50280, tied) and eps; 12 layers of 12 query heads of 64
     * and 4 KV heads (GQA 3:1, as SmolLM2-135M), theta 1e4.  Per layer:
     * norms 2 x 768, Q and O 2 x 768^2, K and V 2 x 256 x 768, SwiGLU
     * 3 x ffn x 768 = 1,572,864 + 2304 ffn; ffn 2560 gives 7,472,640 a
     * layer, 89,671,680 for 12, plus the embedding 38,615,040 and the final
     * norm: 128,287,488, 0.66% under mamba-130m's 129,135,360 (ffn 2688,
     * the next multiple of 128, would give 131.0M, 1.5% over). */
    {"transformer-130m", "Llama-style Transformer matched to mamba-130m in parameters",
     {.arch = MODEL_ARCH_TRANSFORMER, .vocab = 50280, .d_model = 768, .n_layers = 12,
      .n_heads = 12, .n_kv_heads = 4, .head_dim = 64, .ffn_dim = 2560, .rms_eps = 1e-5f,
      .rope_theta = 1e4, NO_ROPE_SCALING, .tied_embeddings = 1}},
    /* A Mamba-2 + attention hybrid matched to mamba2-130m: mamba2-130m's
     * Mamba-2 layer (3,765,320 parameters: norm 768, in_proj 3352 x 768,
     * conv 1792 x 5, dt_bias / A_log / D 3 x 24, gated norm 1536, out_proj
     * 768 x 1536) with a Transformer block of transformer-130m's shape
     * (7,472,640) at every 6th layer, as Zamba2 places its attention
     * blocks.  The embedding (50288 x 768, tied) and final norm are
     * 38,621,952; mamba2-130m's 24 layers are 90,367,680.  With every 6th
     * layer attention:
     *   21 layers (18 M + 3 A): 67,775,760 + 22,417,920 = 90,193,680 -> 128,815,632 (-0.13%)
     *   22 layers (19 M + 3 A): 93,959,000 -> 132,580,952 (+2.8%)
     *   24 layers (20 M + 4 A): 105,196,960 -> 143,818,912 (+11.5%)
     * so 21 layers. */
    {"hybrid-130m", "Mamba-2 + attention hybrid (Zamba2-style) matched to mamba2-130m",
     {.arch = MODEL_ARCH_HYBRID, .vocab = 50288, .d_model = 768, .n_layers = 21,
      .n_heads = 12, .n_kv_heads = 4, .head_dim = 64, .ffn_dim = 2560, .rms_eps = 1e-5f,
      .rope_theta = 1e4, NO_ROPE_SCALING, .tied_embeddings = 1, .d_state = 128, .d_conv = 4,
      .expand = 2, .ssm_head_dim = 64, .chunk = 256, .pattern = "MMMMMAMMMMMAMMMMMAMMM"}},
    /* SmolLM2-135M (HuggingFaceTB/SmolLM2-135M and -Instruct), the shape of
     * the real checkpoint the experiments run (manifest model
     * smollm2-135m-instruct-q4_1): read from that GGUF's llama.* metadata
     * (gguf_model_config): embedding_length 576, block_count 30,
     * attention.head_count 9, head_count_kv 3 (head_dim 576/9 = 64),
     * feed_forward_length 1536, rope.freq_base 100000,
     * layer_norm_rms_epsilon 1e-5, token_embd 49152 rows, no output.weight
     * (tied).  The HF config.json agrees.  Parameters: embedding
     * 28,311,552; a layer 3,540,096 (norms 1152, Q and O 2 x 576^2, K and V
     * 2 x 192 x 576, SwiGLU 3 x 1536 x 576); 30 layers and the final norm:
     * 134,515,008. */
    {"smollm2-135m", "SmolLM2-135M (HuggingFaceTB/SmolLM2-135M, Llama architecture)",
     {.arch = MODEL_ARCH_TRANSFORMER, .vocab = 49152, .d_model = 576, .n_layers = 30,
      .n_heads = 9, .n_kv_heads = 3, .head_dim = 64, .ffn_dim = 1536, .rms_eps = 1e-5f,
      .rope_theta = 1e5, NO_ROPE_SCALING, .tied_embeddings = 1}},
    /* Tiny configurations for tests and smoke runs: cfg is filled from
     * model_config_tiny, model_config_mamba1_tiny, model_config_mamba2_tiny
     * and model_config_hybrid_tiny (models/model.h) by fill_tiny. */
    {"tiny-transformer", "tiny Llama-style Transformer (model_config_tiny)", {0}},
    {"tiny-mamba1", "tiny Mamba-1 (model_config_mamba1_tiny)", {0}},
    {"tiny-mamba2", "tiny Mamba-2 (model_config_mamba2_tiny)", {0}},
    {"tiny-hybrid", "tiny Mamba-2 + attention hybrid (model_config_hybrid_tiny)", {0}},
};

enum { N_ENTRIES = (int)(sizeof entries / sizeof *entries), N_TINY = 4 };

static pthread_once_t tiny_once = PTHREAD_ONCE_INIT;

/* Copies the tiny configurations into the last N_TINY entries, with
 * max_context 0 and wtype f32 as every entry has. */
static void fill_tiny(void)
{
    model_config (*const makers[N_TINY])(void) = {model_config_tiny, model_config_mamba1_tiny,
                                                  model_config_mamba2_tiny,
                                                  model_config_hybrid_tiny};
    for (int i = 0; i < N_TINY; i++) {
        model_config c = makers[i]();
        c.max_context = 0;
        model_set_wtype(&c, OP_W_F32);
        entries[N_ENTRIES - N_TINY + i].cfg = c;
    }
}

const catalogue_entry *catalogue_entries(int *n)
{
    pthread_once(&tiny_once, fill_tiny);
    *n = N_ENTRIES;
    return entries;
}

const catalogue_entry *catalogue_find(const char *name)
{
    int n;
    const catalogue_entry *e = catalogue_entries(&n);
    for (int i = 0; i < n; i++)
        if (strcmp(e[i].name, name) == 0)
            return &e[i];
    return NULL;
}

/* "a, b, c" of every entry's name into buf (truncated to its size). */
static void list_names(char *buf, size_t size)
{
    int n;
    const catalogue_entry *e = catalogue_entries(&n);
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && used < size; i++) {
        int w = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", e[i].name);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

int catalogue_config(const char *name, op_wtype wtype, int max_context, model_config *cfg,
                     cb_err *err)
{
    const catalogue_entry *e = catalogue_find(name);
    if (e == NULL) {
        char names[512];
        list_names(names, sizeof names);
        return cb_fail(err, "model catalogue: unknown model \"%s\" (known: %s)", name, names);
    }
    model_config c = e->cfg;
    model_set_wtype(&c, wtype);
    c.max_context = max_context;
    if (model_config_check(&c, err) != 0)
        return cb_wrap(err, "model catalogue: %s", name);
    *cfg = c;
    return 0;
}
