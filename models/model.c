/* models/model.c — the shared model configuration (models/model.h): the tiny
 * default and the field-by-field check.  Never allocates or prints. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "models/model.h"
#include "util/text.h"
#include "operators/attention.h"
#include "operators/conv1d.h"
#include "operators/selective_scan.h"
#include "operators/ssd.h"

model_config model_config_tiny(void)
{
    model_config c = {0};
    c.arch = MODEL_ARCH_TRANSFORMER;
    c.vocab = 97;
    c.d_model = 64;
    c.n_layers = 2;
    c.n_heads = 4;
    c.n_kv_heads = 2;
    c.head_dim = 16;
    c.ffn_dim = 160;
    c.rms_eps = 1e-5f;
    c.rope_theta = 1e4;
    c.rope_factor = 32;
    c.rope_low_freq_factor = 1;
    c.rope_high_freq_factor = 4;
    c.rope_original_max_pos = 8192;
    c.max_context = 64;
    return c;
}

model_config model_config_mamba1_tiny(void)
{
    model_config c = {0};
    c.arch = MODEL_ARCH_MAMBA1;
    c.vocab = 97;
    c.d_model = 64;
    c.n_layers = 4;
    c.rms_eps = 1e-5f;
    c.tied_embeddings = 1;
    c.d_state = 16;
    c.d_conv = OP_CONV1D_WIDTH;
    c.expand = 2;
    c.dt_rank = 4;
    return c;
}

model_config model_config_mamba2_tiny(void)
{
    model_config c = model_config_mamba1_tiny();
    c.arch = MODEL_ARCH_MAMBA2;
    c.dt_rank = 0;
    c.ssm_head_dim = 16;
    c.chunk = 8;
    return c;
}

model_config model_config_hybrid_tiny(void)
{
    model_config c = model_config_mamba2_tiny(), t = model_config_tiny();
    c.arch = MODEL_ARCH_HYBRID;
    cb_strlcpy(c.pattern, "MAMA", sizeof c.pattern);
    c.n_heads = t.n_heads;
    c.n_kv_heads = t.n_kv_heads;
    c.head_dim = t.head_dim;
    c.ffn_dim = t.ffn_dim;
    c.rope_theta = t.rope_theta;
    c.max_context = t.max_context;
    return c;
}

void model_set_wtype(model_config *c, op_wtype t)
{
    c->wtype = t;
    c->emb_wtype = t;
}

const char *model_arch_name(model_arch a)
{
    static const char *const names[] = {"transformer", "mamba1", "mamba2", "hybrid"};
    return (unsigned)a < sizeof names / sizeof *names ? names[a] : "?";
}

/* The largest element count of one tensor or buffer we accept (2^31 - 1 so
 * every kernel's int sizes and int64 products are safe). */
#define MAX_ELEMS ((int64_t)INT32_MAX)

static int positive(cb_err *err, const char *field, int v)
{
    if (v <= 0)
        return cb_fail(err, "model config: %s = %d must be positive", field, v);
    return 0;
}

/* Whether matrices of inner dimension k (the field `what`) can be stored as
 * t: any k for the element types; for block types whole blocks, and no more
 * than the native GEMV's stack holds.  `field` names the storage field. */
static int storable(cb_err *err, const char *field, op_wtype t, const char *what, int k)
{
    int block = op_wtype_block(t);
    if (k % block != 0 || (block > 1 && k > OP_W_QMAX_K))
        return cb_fail(err, "model config: %s = %s needs %s = %d to be a multiple of %d of at "
                       "most %d", field, op_wtype_name(t), what, k, block, OP_W_QMAX_K);
    return 0;
}

/* The fields every architecture reads. */
static int check_shared(const model_config *c, cb_err *err)
{
    if (positive(err, "vocab", c->vocab) || positive(err, "d_model", c->d_model) ||
        positive(err, "n_layers", c->n_layers))
        return -1;
    if (!(isfinite(c->rms_eps) && c->rms_eps > 0 && c->rms_eps < 1))
        return cb_fail(err, "model config: rms_eps = %g must be in (0, 1)", (double)c->rms_eps);
    if (c->tied_embeddings != 0 && c->tied_embeddings != 1)
        return cb_fail(err, "model config: tied_embeddings = %d must be 0 or 1",
                       c->tied_embeddings);
    if ((int64_t)c->vocab * c->d_model > MAX_ELEMS)
        return cb_fail(err, "model config: vocab x d_model = %d x %d is too large", c->vocab,
                       c->d_model);
    if (op_wtype_block(c->wtype) == 0)
        return cb_fail(err, "model config: wtype = %d is not a weight storage type", (int)c->wtype);
    if (op_wtype_block(c->emb_wtype) == 0)
        return cb_fail(err, "model config: emb_wtype = %d is not a weight storage type",
                       (int)c->emb_wtype);
    return storable(err, "emb_wtype", c->emb_wtype, "d_model", c->d_model);
}

/* The fields of the selective-scan mixers: Mamba-1 (mamba2 == 0) or Mamba-2. */
static int check_ssm(const model_config *c, int mamba2, cb_err *err)
{
    if (positive(err, "expand", c->expand) || positive(err, "d_state", c->d_state))
        return -1;
    int max_state = mamba2 ? OP_SSD_MAX_STATE : OP_MAMBA1_MAX_STATE;
    if (c->d_state > max_state)
        return cb_fail(err, "model config: d_state = %d exceeds the scan limit %d", c->d_state,
                       max_state);
    if (c->d_conv != OP_CONV1D_WIDTH)
        return cb_fail(err, "model config: d_conv = %d must be %d (the conv kernels' width)",
                       c->d_conv, OP_CONV1D_WIDTH);
    int64_t di = (int64_t)c->expand * c->d_model;
    if (2 * di > MAX_ELEMS)
        return cb_fail(err, "model config: expand x d_model = %d x %d is too large", c->expand,
                       c->d_model);
    if (mamba2) {
        if (positive(err, "ssm_head_dim", c->ssm_head_dim) || positive(err, "chunk", c->chunk))
            return -1;
        if (di % c->ssm_head_dim != 0)
            return cb_fail(err, "model config: ssm_head_dim = %d does not divide d_inner = %lld",
                           c->ssm_head_dim, (long long)di);
        int64_t rows = 2 * di + 2 * (int64_t)c->d_state + di / c->ssm_head_dim;
        if (rows * c->d_model > MAX_ELEMS)
            return cb_fail(err, "model config: in_proj (%lld x %d) is too large",
                           (long long)rows, c->d_model);
        return storable(err, "wtype", c->wtype, "d_model", c->d_model) ||
                       storable(err, "wtype", c->wtype, "d_inner", (int)di)
                   ? -1
                   : 0;
    }
    if (positive(err, "dt_rank", c->dt_rank))
        return -1;
    if (c->dt_rank > di)
        return cb_fail(err, "model config: dt_rank = %d exceeds d_inner = %lld", c->dt_rank,
                       (long long)di);
    if (2 * di * c->d_model > MAX_ELEMS)
        return cb_fail(err, "model config: in_proj 2 d_inner x d_model = %lld x %d is too large",
                       (long long)(2 * di), c->d_model);
    if (((int64_t)c->dt_rank + 2 * (int64_t)c->d_state) * di > MAX_ELEMS ||
        di * c->d_state > MAX_ELEMS)
        return cb_fail(err, "model config: x_proj (dt_rank + 2 d_state) x d_inner is too large");
    return storable(err, "wtype", c->wtype, "d_model", c->d_model) ||
                   storable(err, "wtype", c->wtype, "d_inner", (int)di) ||
                   storable(err, "wtype", c->wtype, "dt_rank", c->dt_rank)
               ? -1
               : 0;
}

/* The fields of the Transformer block (attention + SwiGLU MLP). */
static int check_attention(const model_config *c, cb_err *err)
{
    if (positive(err, "n_heads", c->n_heads) || positive(err, "n_kv_heads", c->n_kv_heads) ||
        positive(err, "head_dim", c->head_dim) || positive(err, "ffn_dim", c->ffn_dim) ||
        positive(err, "max_context", c->max_context))
        return -1;
    if (c->n_heads % c->n_kv_heads != 0)
        return cb_fail(err, "model config: n_kv_heads = %d does not divide n_heads = %d",
                       c->n_kv_heads, c->n_heads);
    if (c->head_dim % 2 != 0)
        return cb_fail(err, "model config: head_dim = %d must be even (RoPE pairs)", c->head_dim);
    if (c->head_dim > ATTN_MAX_D)
        return cb_fail(err, "model config: head_dim = %d exceeds the attention limit %d",
                       c->head_dim, ATTN_MAX_D);
    if (!(isfinite(c->rope_theta) && c->rope_theta > 1))
        return cb_fail(err, "model config: rope_theta = %g must be finite and > 1", c->rope_theta);
    if (c->rope_llama3 != 0 && c->rope_llama3 != 1)
        return cb_fail(err, "model config: rope_llama3 = %d must be 0 or 1", c->rope_llama3);
    if (c->rope_llama3) {
        if (!(isfinite(c->rope_factor) && c->rope_factor >= 1))
            return cb_fail(err, "model config: rope_factor = %g must be >= 1", c->rope_factor);
        if (!(isfinite(c->rope_low_freq_factor) && c->rope_low_freq_factor > 0))
            return cb_fail(err, "model config: rope_low_freq_factor = %g must be positive",
                           c->rope_low_freq_factor);
        if (!(isfinite(c->rope_high_freq_factor) &&
              c->rope_high_freq_factor > c->rope_low_freq_factor))
            return cb_fail(err,
                           "model config: rope_high_freq_factor = %g must exceed "
                           "rope_low_freq_factor = %g",
                           c->rope_high_freq_factor, c->rope_low_freq_factor);
        if (!(isfinite(c->rope_original_max_pos) && c->rope_original_max_pos > 0))
            return cb_fail(err, "model config: rope_original_max_pos = %g must be positive",
                           c->rope_original_max_pos);
    }
    if (c->qkv_bias != 0 && c->qkv_bias != 1)
        return cb_fail(err, "model config: qkv_bias = %d must be 0 or 1", c->qkv_bias);
    /* Products that size one tensor or one cache must fit the kernels' ints. */
    int64_t qd = (int64_t)c->n_heads * c->head_dim;
    if (qd * c->d_model > MAX_ELEMS)
        return cb_fail(err, "model config: n_heads x head_dim x d_model is too large");
    if ((int64_t)c->ffn_dim * c->d_model > MAX_ELEMS)
        return cb_fail(err, "model config: ffn_dim x d_model = %d x %d is too large",
                       c->ffn_dim, c->d_model);
    if ((int64_t)c->max_context * c->n_kv_heads * c->head_dim > MAX_ELEMS)
        return cb_fail(err, "model config: max_context = %d is too large for one layer's cache",
                       c->max_context);
    return storable(err, "wtype", c->wtype, "d_model", c->d_model) ||
                   storable(err, "wtype", c->wtype, "n_heads x head_dim", (int)qd) ||
                   storable(err, "wtype", c->wtype, "ffn_dim", c->ffn_dim)
               ? -1
               : 0;
}

/* A hybrid's pattern: n_layers characters, each 'M' or 'A'. */
static int check_pattern(const model_config *c, cb_err *err)
{
    size_t n = strnlen(c->pattern, sizeof c->pattern);
    if (n == sizeof c->pattern)
        return cb_fail(err, "model config: pattern is not terminated (at most %d layers)",
                       MODEL_MAX_LAYERS);
    if (n != (size_t)c->n_layers)
        return cb_fail(err, "model config: pattern \"%s\" has %zu layers, n_layers = %d",
                       c->pattern, n, c->n_layers);
    for (size_t i = 0; i < n; i++)
        if (c->pattern[i] != 'M' && c->pattern[i] != 'A')
            return cb_fail(err, "model config: pattern \"%s\": layer %zu is '%c', not 'M' or 'A'",
                           c->pattern, i, c->pattern[i]);
    return 0;
}

int model_config_check(const model_config *c, cb_err *err)
{
    if (check_shared(c, err) != 0)
        return -1;
    switch (c->arch) {
    case MODEL_ARCH_TRANSFORMER:
        return check_attention(c, err);
    case MODEL_ARCH_MAMBA1:
        return check_ssm(c, 0, err);
    case MODEL_ARCH_MAMBA2:
        return check_ssm(c, 1, err);
    case MODEL_ARCH_HYBRID:
        if (check_ssm(c, 1, err) != 0 || check_attention(c, err) != 0)
            return -1;
        return check_pattern(c, err);
    }
    return cb_fail(err, "model config: arch = %d is not a known architecture", (int)c->arch);
}
