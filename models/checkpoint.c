/* models/checkpoint.c — Hugging Face checkpoints read into lm_weights and
 * written from them (see checkpoint.h).
 *
 * One table, built by layout_build from a config and a set of weights, lists
 * every tensor of the layout: its Hugging Face name (and the mamba_ssm alias
 * a reader also accepts), its shape, whether it is a matrix (stored as
 * cfg.wtype) or a vector (fp32), and where it lives in the weights.
 * ckpt_load and ckpt_save both walk that table, so what one writes the other
 * reads.
 *
 * What the models cannot run is refused from config.json, naming the file
 * and the field: RoPE scaling other than llama3, Llama's attention_bias
 * (which also biases o_proj), MLP biases, a sliding window, activations
 * other than SiLU, Mamba without a conv bias or with projection biases, a
 * conv width other than 4, Mamba-2 with n_groups > 1 or norm_before_gate,
 * mamba_ssm configs with MLP layers (d_intermediate > 0) or LayerNorm.
 *
 * Never: print, exit, keep a file open after returning, read pickled
 * PyTorch files (pytorch_model.bin), or leave a half-written checkpoint
 * behind when ckpt_save fails. */
#include "models/checkpoint.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models/hfconfig.h"
#include "operators/conv1d.h"
#include "util/text.h"

#define CONFIG_FILE "config.json"
#define SINGLE_FILE "model.safetensors"
#define INDEX_FILE "model.safetensors.index.json"
#define PATH_CAP 4096

/* ---- the layout table ------------------------------------------------------------- */

typedef struct ckpt_tensor {
    char name[96];        /* the Hugging Face name, as ckpt_save writes it */
    const char *alias;    /* another name ckpt_load accepts (mamba_ssm), or NULL */
    void *data;           /* the model's storage of it */
    bool matrix;          /* stored as cfg.wtype (else fp32) */
    int ndims;
    int64_t dims[3];
} ckpt_tensor;

typedef struct layout {
    ckpt_tensor *t;       /* (cap) */
    size_t n, cap;
    const char *prefix;   /* "model." or "backbone.": what most names start with */
} layout;

/* Appends a tensor of shape (rows) when cols is 0, else (rows, cols). */
static ckpt_tensor *put(layout *lo, void *data, bool matrix, int64_t rows, int64_t cols,
                        const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static ckpt_tensor *put(layout *lo, void *data, bool matrix, int64_t rows, int64_t cols,
                        const char *fmt, ...)
{
    ckpt_tensor *t = &lo->t[lo->n++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->name, sizeof t->name, fmt, ap);
    va_end(ap);
    t->data = data;
    t->matrix = matrix;
    t->ndims = cols ? 2 : 1;
    t->dims[0] = rows;
    t->dims[1] = cols;
    return t;
}

/* A conv1d.weight: (channels, 1, 4) in checkpoints, (channels, 4) in the model. */
static void put_conv(layout *lo, float *data, int64_t channels, int l)
{
    ckpt_tensor *t = put(lo, data, false, channels, 1, "backbone.layers.%d.mixer.conv1d.weight", l);
    t->ndims = 3;
    t->dims[2] = OP_CONV1D_WIDTH;
}

enum { VEC = 0, MAT = 1 };

static void layout_transformer(const model_config *c, const tf_weights *w, layout *lo)
{
    int64_t d = c->d_model, f = c->ffn_dim;
    int64_t q = (int64_t)c->n_heads * c->head_dim, kv = (int64_t)c->n_kv_heads * c->head_dim;
    lo->prefix = "model.";
    put(lo, w->tok_emb, MAT, c->vocab, d, "model.embed_tokens.weight");
    for (int l = 0; l < c->n_layers; l++) {
        const tf_layer_weights *L = &w->layers[l];
        put(lo, L->attn_norm, VEC, d, 0, "model.layers.%d.input_layernorm.weight", l);
        put(lo, L->wq, MAT, q, d, "model.layers.%d.self_attn.q_proj.weight", l);
        put(lo, L->wk, MAT, kv, d, "model.layers.%d.self_attn.k_proj.weight", l);
        put(lo, L->wv, MAT, kv, d, "model.layers.%d.self_attn.v_proj.weight", l);
        if (c->qkv_bias) {
            put(lo, L->bq, VEC, q, 0, "model.layers.%d.self_attn.q_proj.bias", l);
            put(lo, L->bk, VEC, kv, 0, "model.layers.%d.self_attn.k_proj.bias", l);
            put(lo, L->bv, VEC, kv, 0, "model.layers.%d.self_attn.v_proj.bias", l);
        }
        put(lo, L->wo, MAT, d, q, "model.layers.%d.self_attn.o_proj.weight", l);
        put(lo, L->ffn_norm, VEC, d, 0, "model.layers.%d.post_attention_layernorm.weight", l);
        put(lo, L->w_gate, MAT, f, d, "model.layers.%d.mlp.gate_proj.weight", l);
        put(lo, L->w_up, MAT, f, d, "model.layers.%d.mlp.up_proj.weight", l);
        put(lo, L->w_down, MAT, d, f, "model.layers.%d.mlp.down_proj.weight", l);
    }
    put(lo, w->final_norm, VEC, d, 0, "model.norm.weight");
    if (!c->tied_embeddings)
        put(lo, w->lm_head, MAT, c->vocab, d, "lm_head.weight");
}

/* The embedding, final norm and untied head of both Mamba layouts (mamba_ssm
 * names the embedding backbone.embedding.weight, transformers
 * backbone.embeddings.weight). */
static void put_mamba_ends(const model_config *c, void *tok_emb, float *final_norm,
                           void *lm_head, layout *lo)
{
    put(lo, tok_emb, MAT, c->vocab, c->d_model, "backbone.embeddings.weight")->alias =
        "backbone.embedding.weight";
    put(lo, final_norm, VEC, c->d_model, 0, "backbone.norm_f.weight");
    if (!c->tied_embeddings)
        put(lo, lm_head, MAT, c->vocab, c->d_model, "lm_head.weight");
}

static void layout_mamba1(const model_config *c, const m1_weights *w, layout *lo)
{
    int64_t d = c->d_model, di = (int64_t)c->expand * d, R = c->dt_rank, N = c->d_state;
    lo->prefix = "backbone.";
    put_mamba_ends(c, w->tok_emb, w->final_norm, w->lm_head, lo);
    for (int l = 0; l < c->n_layers; l++) {
        const m1_layer_weights *L = &w->layers[l];
        put(lo, L->norm, VEC, d, 0, "backbone.layers.%d.norm.weight", l);
        put(lo, L->in_proj, MAT, 2 * di, d, "backbone.layers.%d.mixer.in_proj.weight", l);
        put_conv(lo, L->conv_w, di, l);
        put(lo, L->conv_b, VEC, di, 0, "backbone.layers.%d.mixer.conv1d.bias", l);
        put(lo, L->x_proj, MAT, R + 2 * N, di, "backbone.layers.%d.mixer.x_proj.weight", l);
        put(lo, L->dt_proj_w, MAT, di, R, "backbone.layers.%d.mixer.dt_proj.weight", l);
        put(lo, L->dt_proj_b, VEC, di, 0, "backbone.layers.%d.mixer.dt_proj.bias", l);
        put(lo, L->A_log, VEC, di, N, "backbone.layers.%d.mixer.A_log", l);
        put(lo, L->D, VEC, di, 0, "backbone.layers.%d.mixer.D", l);
        put(lo, L->out_proj, MAT, d, di, "backbone.layers.%d.mixer.out_proj.weight", l);
    }
}

static void layout_mamba2(const model_config *c, const m2_weights *w, layout *lo)
{
    int64_t d = c->d_model, di = (int64_t)c->expand * d, N = c->d_state;
    int64_t H = di / c->ssm_head_dim, ch = di + 2 * N;
    lo->prefix = "backbone.";
    put_mamba_ends(c, w->tok_emb, w->final_norm, w->lm_head, lo);
    for (int l = 0; l < c->n_layers; l++) {
        const m2_layer_weights *L = &w->ssm[l];
        put(lo, L->norm, VEC, d, 0, "backbone.layers.%d.norm.weight", l);
        put(lo, L->in_proj, MAT, 2 * di + 2 * N + H, d, "backbone.layers.%d.mixer.in_proj.weight",
            l);
        put_conv(lo, L->conv_w, ch, l);
        put(lo, L->conv_b, VEC, ch, 0, "backbone.layers.%d.mixer.conv1d.bias", l);
        put(lo, L->dt_bias, VEC, H, 0, "backbone.layers.%d.mixer.dt_bias", l);
        put(lo, L->A_log, VEC, H, 0, "backbone.layers.%d.mixer.A_log", l);
        put(lo, L->D, VEC, H, 0, "backbone.layers.%d.mixer.D", l);
        put(lo, L->gnorm, VEC, di, 0, "backbone.layers.%d.mixer.norm.weight", l);
        put(lo, L->out_proj, MAT, d, di, "backbone.layers.%d.mixer.out_proj.weight", l);
    }
}

/* Fills lo with every tensor of cfg's layout, pointing into w (caller frees
 * lo->t).  Returns 0, or -1 with err (an architecture without a layout, out
 * of memory). */
static int layout_build(const model_config *c, const lm_weights *w, layout *lo, cb_err *err)
{
    memset(lo, 0, sizeof *lo);
    if (c->arch != MODEL_ARCH_TRANSFORMER && c->arch != MODEL_ARCH_MAMBA1 &&
        c->arch != MODEL_ARCH_MAMBA2)
        return cb_fail(err, "checkpoint: the %s architecture has no Hugging Face layout "
                       "(transformer, mamba1 and mamba2 have)", model_arch_name(c->arch));
    lo->cap = 3 + (size_t)c->n_layers * 14; /* 14 >= tensors per layer of any layout */
    if (!(lo->t = calloc(lo->cap, sizeof *lo->t)))
        return cb_fail(err, "checkpoint: out of memory");
    if (c->arch == MODEL_ARCH_TRANSFORMER)
        layout_transformer(c, &w->tf, lo);
    else if (c->arch == MODEL_ARCH_MAMBA1)
        layout_mamba1(c, &w->m1, lo);
    else
        layout_mamba2(c, &w->m2, lo);
    return 0;
}

static uint64_t tensor_elems(const ckpt_tensor *t)
{
    uint64_t n = 1;
    for (int i = 0; i < t->ndims; i++)
        n *= (uint64_t)t->dims[i];
    return n;
}

/* ---- element types -------------------------------------------------------------------- */

/* The op_wtype of a safetensors dtype, or -1 when it is not F32, F16 or BF16. */
static int wtype_of(st_dtype dt)
{
    return dt == ST_F32 ? OP_W_F32 : dt == ST_BF16 ? OP_W_BF16 : dt == ST_F16 ? OP_W_F16 : -1;
}

static st_dtype dtype_of(op_wtype t)
{
    return t == OP_W_BF16 ? ST_BF16 : t == OP_W_F16 ? ST_F16 : ST_F32;
}

/* dst[0..n) as dst_t = src[0..n) as src_t, rounding to nearest even when
 * narrowing (block types: n whole blocks, quantised as ggml's reference
 * quantisers).  src may be unaligned (each chunk is copied out first); both
 * are little-endian, as safetensors and the model's storage are. */
static void convert(void *dst, op_wtype dst_t, const void *src, op_wtype src_t, size_t n)
{
    if (src_t == dst_t) {
        memcpy(dst, src, op_wtype_row_bytes(dst_t, (int64_t)n));
        return;
    }
    enum { CHUNK = 1024 }; /* whole blocks of every block type */
    _Alignas(64) float f[CHUNK];
    _Alignas(64) unsigned char raw[CHUNK * sizeof(float)];
    for (size_t i = 0; i < n; i += CHUNK) {
        size_t k = n - i < CHUNK ? n - i : CHUNK;
        memcpy(raw, (const char *)src + op_wtype_row_bytes(src_t, (int64_t)i),
               op_wtype_row_bytes(src_t, (int64_t)k));
        op_w_to_f32(raw, src_t, f, k);
        op_f32_to_w(f, dst_t, (char *)dst + op_wtype_row_bytes(dst_t, (int64_t)i), k);
    }
}

/* ---- config.json -> model_config ------------------------------------------------------ */

static int join(char *out, const char *dir, const char *file, cb_err *err)
{
    if ((size_t)snprintf(out, PATH_CAP, "%s/%s", dir, file) >= PATH_CAP)
        return cb_fail(err, "%s: path too long", dir);
    return 0;
}

/* Fields hfconfig does not read, looked up in the root and in mamba_ssm's
 * ssm_cfg (JSON null counts as absent). */
static json_t *extra_field(json_t *root, const char *key)
{
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v))
        v = json_object_get(json_object_get(root, "ssm_cfg"), key);
    return v && !json_is_null(v) ? v : NULL;
}

/* Fails when key is present with the boolean value `bad`. */
static int refuse_bool(const char *path, json_t *root, const char *key, bool bad,
                       const char *why, cb_err *err)
{
    json_t *v = extra_field(root, key);
    if (v && json_is_boolean(v) && json_is_true(v) == bad)
        return cb_fail(err, "%s: %s: %s is not supported (%s)", path, key,
                       bad ? "true" : "false", why);
    return 0;
}

static int require_silu(const char *path, json_t *root, cb_err *err)
{
    json_t *v = extra_field(root, "hidden_act");
    if (v && !(json_is_string(v) && strcmp(json_string_value(v), "silu") == 0))
        return cb_fail(err, "%s: hidden_act: '%s' is not supported (silu only)", path,
                       json_is_string(v) ? json_string_value(v) : "(not a string)");
    return 0;
}

static int config_transformer(const char *path, json_t *root, const hfc_config *h,
                              model_config *c, cb_err *err)
{
    if (h->arch == HFC_LLAMA && h->attention_bias)
        return cb_fail(err, "%s: attention_bias: true is not supported for llama (it biases "
                       "o_proj too; the model has q/k/v biases only, as Qwen2)", path);
    if (h->rope_scaling.kind == HFC_ROPE_LINEAR)
        return cb_fail(err, "%s: rope_scaling.rope_type: 'linear' is not supported (plain "
                       "RoPE and llama3 scaling only)", path);
    if (require_silu(path, root, err) < 0 ||
        refuse_bool(path, root, "mlp_bias", true, "the MLP has no biases", err) < 0 ||
        refuse_bool(path, root, "use_sliding_window", true, "attention is over the whole "
                    "context", err) < 0)
        return -1;
    c->arch = MODEL_ARCH_TRANSFORMER;
    c->n_heads = (int)h->num_attention_heads;
    c->n_kv_heads = (int)h->num_key_value_heads;
    c->head_dim = (int)h->head_dim;
    c->ffn_dim = (int)h->intermediate_size;
    c->rope_theta = h->rope_theta;
    c->qkv_bias = h->attention_bias;
    if (h->rope_scaling.kind == HFC_ROPE_LLAMA3) {
        c->rope_llama3 = 1;
        c->rope_factor = h->rope_scaling.factor;
        c->rope_low_freq_factor = h->rope_scaling.low_freq_factor;
        c->rope_high_freq_factor = h->rope_scaling.high_freq_factor;
        c->rope_original_max_pos = (double)h->rope_scaling.original_max_position_embeddings;
    }
    return 0;
}

/* What both Mamba generations refuse, and their shared fields. */
static int config_mamba_common(const char *path, json_t *root, const hfc_config *h,
                               model_config *c, cb_err *err)
{
    if (h->d_conv != OP_CONV1D_WIDTH)
        return cb_fail(err, "%s: conv_kernel: %lld is not supported (the conv kernels have "
                       "width %d)", path, (long long)h->d_conv, OP_CONV1D_WIDTH);
    if (!h->conv_bias)
        return cb_fail(err, "%s: use_conv_bias: false is not supported (the conv has a bias)",
                       path);
    if (h->proj_bias)
        return cb_fail(err, "%s: use_bias: true is not supported (the projections have no "
                       "biases)", path);
    json_t *mlp = extra_field(root, "d_intermediate");
    if (json_is_integer(mlp) && json_integer_value(mlp) != 0)
        return cb_fail(err, "%s: d_intermediate: %lld is not supported (Mamba blocks without "
                       "MLP layers only)", path, (long long)json_integer_value(mlp));
    if (require_silu(path, root, err) < 0 ||
        refuse_bool(path, root, "rms_norm", false, "RMSNorm only, no LayerNorm", err) < 0)
        return -1;
    c->d_state = (int)h->d_state;
    c->d_conv = (int)h->d_conv;
    c->expand = (int)h->expand;
    return 0;
}

static int config_mamba1(const char *path, json_t *root, const hfc_config *h,
                         model_config *c, cb_err *err)
{
    if (config_mamba_common(path, root, h, c, err) < 0)
        return -1;
    if (h->d_inner != h->expand * h->hidden_size)
        return cb_fail(err, "%s: intermediate_size: %lld is not expand %lld x hidden_size "
                       "%lld", path, (long long)h->d_inner, (long long)h->expand,
                       (long long)h->hidden_size);
    c->arch = MODEL_ARCH_MAMBA1;
    c->dt_rank = (int)h->dt_rank;
    return 0;
}

static int config_mamba2(const char *path, json_t *root, const hfc_config *h,
                         model_config *c, cb_err *err)
{
    if (config_mamba_common(path, root, h, c, err) < 0)
        return -1;
    if (h->n_groups != 1)
        return cb_fail(err, "%s: n_groups: %lld is not supported (one group of B and C only)",
                       path, (long long)h->n_groups);
    if (refuse_bool(path, root, "norm_before_gate", true, "the gated norm gates first", err) < 0)
        return -1;
    c->arch = MODEL_ARCH_MAMBA2;
    c->ssm_head_dim = (int)h->headdim;
    c->chunk = (int)h->chunk_size;
    return 0;
}

int ckpt_config(const char *dir, op_wtype wtype, int max_context, model_config *cfg,
                cb_err *err)
{
    char path[PATH_CAP];
    hfc_config h;
    if (join(path, dir, CONFIG_FILE, err) < 0 || hfc_load(path, &h, err) < 0)
        return -1;
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root)
        return cb_fail(err, "%s: bad JSON: %s (line %d)", path, jerr.text, jerr.line);
    memset(cfg, 0, sizeof *cfg);
    model_set_wtype(cfg, wtype);
    cfg->max_context = max_context;
    cfg->vocab = (int)h.vocab_padded; /* Mamba: the embedding's row count */
    cfg->d_model = (int)h.hidden_size;
    cfg->n_layers = (int)h.num_hidden_layers;
    cfg->rms_eps = (float)h.norm_eps;
    cfg->tied_embeddings = h.tie_word_embeddings;
    int rc;
    if (h.arch == HFC_LLAMA || h.arch == HFC_QWEN2)
        rc = config_transformer(path, root, &h, cfg, err);
    else if (h.arch == HFC_MAMBA)
        rc = config_mamba1(path, root, &h, cfg, err);
    else
        rc = config_mamba2(path, root, &h, cfg, err);
    json_decref(root);
    if (rc == 0 && model_config_check(cfg, err) < 0)
        rc = cb_wrap(err, "%s", path);
    return rc;
}

/* ---- loading -------------------------------------------------------------------------- */

static void free_weights(lm_weights *w)
{
    tf_weights_free(&w->tf);
    m1_weights_free(&w->m1);
    m2_weights_free(&w->m2);
    memset(w, 0, sizeof *w);
}

static int alloc_weights(const model_config *c, lm_weights *w, cb_err *err)
{
    memset(w, 0, sizeof *w);
    w->arch = c->arch;
    if (c->arch == MODEL_ARCH_TRANSFORMER)
        return tf_weights_alloc(c, &w->tf, err);
    if (c->arch == MODEL_ARCH_MAMBA1)
        return m1_weights_alloc(c, &w->m1, err);
    return m2_weights_alloc(c, &w->m2, err);
}

static bool exists(const char *dir, const char *file)
{
    char p[PATH_CAP];
    return join(p, dir, file, NULL) == 0 && access(p, F_OK) == 0;
}

/* The checkpoint's tensors; a folder holding only PyTorch pickles is named
 * as such rather than as a missing model.safetensors. */
static st_set *open_tensors(const char *dir, cb_err *err)
{
    if (!exists(dir, INDEX_FILE) && !exists(dir, SINGLE_FILE) &&
        (exists(dir, "pytorch_model.bin") || exists(dir, "pytorch_model.bin.index.json"))) {
        cb_fail(err, "%s: holds pytorch_model.bin but no model.safetensors: only safetensors "
                "checkpoints are read (convert it, e.g. with safetensors' convert.py)", dir);
        return NULL;
    }
    return st_set_open(dir, err);
}

static bool any_tensor_starts_with(const st_set *s, const char *prefix)
{
    for (size_t i = 0; i < st_set_count(s); i++)
        if (strncmp(st_set_tensor(s, i)->name, prefix, strlen(prefix)) == 0)
            return true;
    return false;
}

static void append(cb_err *err, const char *text)
{
    if (err)
        strncat(err->msg, text, sizeof err->msg - strlen(err->msg) - 1);
}

/* A missing tensor's error, with what most likely went wrong. */
static void explain_missing(const st_set *s, const layout *lo, const ckpt_tensor *t,
                            cb_err *err)
{
    if (!any_tensor_starts_with(s, lo->prefix))
        append(err, lo->prefix[0] == 'm'
                        ? " (no tensor is named model.*: config.json's architecture does not "
                          "match the checkpoint's tensors)"
                        : " (no tensor is named backbone.*: config.json's architecture does "
                          "not match the checkpoint's tensors)");
    else if (strcmp(t->name, "lm_head.weight") == 0)
        append(err, " (config.json: tie_word_embeddings is false, so the checkpoint must hold "
                    "the LM head)");
}

/* Finds t in s, checks its shape and dtype, and converts it into t->data. */
static int load_tensor(const st_set *s, const layout *lo, const ckpt_tensor *t, op_wtype wtype,
                       cb_err *err)
{
    const char *name = t->name;
    if (!st_find(s, name) && t->alias && st_find(s, t->alias))
        name = t->alias;
    const st_tensor *st = st_expect(s, name, ST_ANY, t->ndims, t->dims, err);
    if (!st) {
        if (!st_find(s, name))
            explain_missing(s, lo, t, err);
        return -1;
    }
    int src = wtype_of(st->dtype);
    if (src < 0)
        return cb_fail(err, "%s: tensor '%s': dtype %s is not supported (F32, F16, BF16)",
                       st->file, name, st_dtype_name(st->dtype));
    convert(t->data, t->matrix ? wtype : OP_W_F32, st->data, (op_wtype)src, st->nelems);
    return 0;
}

/* When the config is tied, an lm_head.weight in the checkpoint is ignored
 * (as transformers does: the head is the embedding). */
int ckpt_load(const char *dir, op_wtype wtype, int max_context, model_config *cfg,
              lm_weights *w, cb_err *err)
{
    memset(w, 0, sizeof *w);
    st_set *s = NULL;
    layout lo = {0};
    if (ckpt_config(dir, wtype, max_context, cfg, err) < 0 || !(s = open_tensors(dir, err)) ||
        alloc_weights(cfg, w, err) < 0 || layout_build(cfg, w, &lo, err) < 0)
        goto fail;
    for (size_t i = 0; i < lo.n; i++)
        if (load_tensor(s, &lo, &lo.t[i], cfg->wtype, err) < 0)
            goto fail;
    free(lo.t);
    st_set_close(s);
    return 0;
fail:
    free(lo.t);
    st_set_close(s);
    free_weights(w);
    return -1;
}

/* ---- saving: config.json --------------------------------------------------------------- */

static json_t *json_transformer(const model_config *c, cb_err *err)
{
    bool qwen = c->qkv_bias;
    json_t *j = json_pack(
        "{s:s, s:[s], s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:f, s:f, s:b, s:i, s:s}",
        "model_type", qwen ? "qwen2" : "llama", "architectures",
        qwen ? "Qwen2ForCausalLM" : "LlamaForCausalLM", "hidden_size", c->d_model,
        "intermediate_size", c->ffn_dim, "num_hidden_layers", c->n_layers,
        "num_attention_heads", c->n_heads, "num_key_value_heads", c->n_kv_heads, "head_dim",
        c->head_dim, "vocab_size", c->vocab, "rms_norm_eps", (double)c->rms_eps, "rope_theta",
        c->rope_theta, "tie_word_embeddings", c->tied_embeddings, "max_position_embeddings",
        c->max_context, "hidden_act", "silu");
    if (j && !qwen)
        json_object_set_new(j, "attention_bias", json_false());
    if (j && qwen)
        json_object_set_new(j, "use_sliding_window", json_false());
    if (j && c->rope_llama3) {
        double orig = c->rope_original_max_pos;
        if (orig != floor(orig) || orig < 1 || orig > INT_MAX) {
            json_decref(j);
            cb_fail(err, "ckpt_save: rope_original_max_pos = %g is not a whole number of "
                    "positions (config.json's original_max_position_embeddings)", orig);
            return NULL;
        }
        json_object_set_new(j, "rope_scaling",
                            json_pack("{s:s, s:f, s:f, s:f, s:i}", "rope_type", "llama3",
                                      "factor", c->rope_factor, "low_freq_factor",
                                      c->rope_low_freq_factor, "high_freq_factor",
                                      c->rope_high_freq_factor,
                                      "original_max_position_embeddings", (int)orig));
    }
    return j;
}

/* The keys both Mamba generations share. */
static json_t *json_mamba(const model_config *c, const char *type, const char *cls)
{
    return json_pack("{s:s, s:[s], s:i, s:i, s:i, s:i, s:i, s:i, s:f, s:b, s:i, s:b, s:b, "
                     "s:b, s:s}",
                     "model_type", type, "architectures", cls, "hidden_size", c->d_model,
                     "state_size", c->d_state, "num_hidden_layers", c->n_layers, "conv_kernel",
                     c->d_conv, "expand", c->expand, "vocab_size", c->vocab,
                     "layer_norm_epsilon", (double)c->rms_eps, "tie_word_embeddings",
                     c->tied_embeddings, "pad_vocab_size_multiple", 1, "use_conv_bias", 1,
                     "use_bias", 0, "rms_norm", 1, "hidden_act", "silu");
}

/* config.json of c in its layout's own keys (those models/hfconfig.c reads). */
static json_t *config_json(const model_config *c, cb_err *err)
{
    json_t *j;
    if (c->arch == MODEL_ARCH_TRANSFORMER) {
        if (!(j = json_transformer(c, err)))
            return NULL;
    } else if (c->arch == MODEL_ARCH_MAMBA1) {
        j = json_mamba(c, "mamba", "MambaForCausalLM");
        if (j)
            json_object_set_new(j, "time_step_rank", json_integer(c->dt_rank));
    } else {
        int di = c->expand * c->d_model;
        j = json_mamba(c, "mamba2", "Mamba2ForCausalLM");
        if (j && json_object_update_new(j, json_pack("{s:i, s:i, s:i, s:i}", "head_dim",
                                                     c->ssm_head_dim, "num_heads",
                                                     di / c->ssm_head_dim, "n_groups", 1,
                                                     "chunk_size", c->chunk)) < 0) {
            json_decref(j);
            j = NULL;
        }
    }
    if (!j)
        cb_fail(err, "ckpt_save: out of memory");
    return j;
}

/* ---- saving: tensors ----------------------------------------------------------------- */

/* Writes ts[0..n) to one .safetensors file, matrices as mdt and vectors as
 * F32, converting (into temporary buffers) only what is stored otherwise. */
static int write_shard(const char *path, const ckpt_tensor *ts, size_t n, op_wtype wtype,
                       st_dtype mdt, cb_err *err)
{
    int rc = -1;
    st_tensor *out = calloc(n, sizeof *out);
    void **owned = calloc(n, sizeof *owned);
    if (!out || !owned) {
        cb_fail(err, "ckpt_save: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const ckpt_tensor *t = &ts[i];
        op_wtype from = t->matrix ? wtype : OP_W_F32, to = t->matrix ? wtype_of(mdt) : OP_W_F32;
        st_tensor *o = &out[i];
        o->name = t->name;
        o->dtype = dtype_of(to);
        o->ndims = t->ndims;
        memcpy(o->shape, t->dims, sizeof t->dims);
        o->nelems = tensor_elems(t);
        o->nbytes = o->nelems * op_wtype_size(to);
        o->data = t->data;
        if (from != to) {
            if (!(owned[i] = malloc(o->nbytes))) {
                cb_fail(err, "ckpt_save: out of memory (tensor '%s')", t->name);
                goto done;
            }
            convert(owned[i], to, t->data, from, o->nelems);
            o->data = owned[i];
        }
    }
    rc = st_write(path, out, n, "{\"format\": \"pt\"}", err);
done:
    for (size_t i = 0; owned && i < n; i++)
        free(owned[i]);
    free(owned);
    free(out);
    return rc;
}

/* The files ckpt_save has written, removed again if it fails. */
typedef struct written {
    char (*path)[PATH_CAP];
    int n;
} written;

static void unlink_written(const written *wr)
{
    for (int i = 0; i < wr->n; i++)
        unlink(wr->path[i]);
}

static int write_json(const char *path, json_t *j, cb_err *err)
{
    if (json_dump_file(j, path, JSON_INDENT(2)) < 0) {
        unlink(path);
        return cb_fail(err, "%s: cannot write: %s", path, strerror(errno));
    }
    return 0;
}

/* Writes the shards (tensors split into n_shards contiguous runs of the
 * table) and, for more than one, the index. */
static int write_tensors(const char *dir, const model_config *c, const layout *lo,
                         st_dtype mdt, int n_shards, written *wr, cb_err *err)
{
    json_t *map = json_object();
    uint64_t total = 0;
    if (!map)
        return cb_fail(err, "ckpt_save: out of memory");
    for (int k = 0; k < n_shards; k++) {
        size_t lo_i = lo->n * (size_t)k / (size_t)n_shards;
        size_t hi_i = lo->n * (size_t)(k + 1) / (size_t)n_shards;
        char file[64];
        if (n_shards == 1)
            snprintf(file, sizeof file, "%s", SINGLE_FILE);
        else
            snprintf(file, sizeof file, "model-%05d-of-%05d.safetensors", k + 1, n_shards);
        if (join(wr->path[wr->n], dir, file, err) < 0 ||
            write_shard(wr->path[wr->n], &lo->t[lo_i], hi_i - lo_i, c->wtype, mdt, err) < 0)
            goto fail;
        wr->n++;
        for (size_t i = lo_i; i < hi_i; i++) {
            const ckpt_tensor *t = &lo->t[i];
            total += tensor_elems(t) * (t->matrix ? st_dtype_size(mdt) : sizeof(float));
            json_object_set_new(map, t->name, json_string(file));
        }
    }
    if (n_shards > 1) {
        json_t *index = json_pack("{s:{s:I}, s:O}", "metadata", "total_size",
                                  (json_int_t)total, "weight_map", map);
        int rc = !index ? cb_fail(err, "ckpt_save: out of memory")
                        : join(wr->path[wr->n], dir, INDEX_FILE, err) < 0
                              ? -1
                              : write_json(wr->path[wr->n], index, err);
        json_decref(index);
        if (rc < 0)
            goto fail;
        wr->n++;
    }
    json_decref(map);
    return 0;
fail:
    json_decref(map);
    return -1;
}

static int check_save_args(const model_config *c, const lm_weights *w, st_dtype mdt,
                           int n_shards, cb_err *err)
{
    if (model_config_check(c, err) < 0)
        return cb_wrap(err, "ckpt_save");
    if (c->arch == MODEL_ARCH_HYBRID)
        return cb_fail(err, "ckpt_save: the hybrid architecture has no Hugging Face "
                       "checkpoint layout (transformer, mamba1 and mamba2 have)");
    if (w->arch != c->arch)
        return cb_fail(err, "ckpt_save: weights of arch %s, config of arch %s",
                       model_arch_name(w->arch), model_arch_name(c->arch));
    if (wtype_of(mdt) < 0)
        return cb_fail(err, "ckpt_save: matrix dtype %s is not F32, F16 or BF16",
                       st_dtype_name(mdt));
    if (c->emb_wtype != c->wtype)
        return cb_fail(err, "ckpt_save: the embedding is stored as %s and the layers as %s; "
                       "saving needs one storage type", op_wtype_name(c->emb_wtype),
                       op_wtype_name(c->wtype));
    if (n_shards < 1 || n_shards > 99999)
        return cb_fail(err, "ckpt_save: n_shards = %d must be in 1..99999", n_shards);
    return 0;
}

int ckpt_save(const char *dir, const model_config *cfg, const lm_weights *w,
              st_dtype matrix_dtype, int n_shards, cb_err *err)
{
    layout lo = {0};
    written wr = {0};
    json_t *config = NULL;
    char path[PATH_CAP];
    if (check_save_args(cfg, w, matrix_dtype, n_shards, err) < 0 ||
        layout_build(cfg, w, &lo, err) < 0 || !(config = config_json(cfg, err)))
        goto fail;
    if ((size_t)n_shards > lo.n) {
        cb_fail(err, "ckpt_save: n_shards = %d exceeds the %zu tensors", n_shards, lo.n);
        goto fail;
    }
    if (!(wr.path = calloc((size_t)n_shards + 1, sizeof *wr.path))) {
        cb_fail(err, "ckpt_save: out of memory");
        goto fail;
    }
    if (n_shards == 1 && exists(dir, INDEX_FILE)) {
        cb_fail(err, "%s: holds a %s, which would shadow the single model.safetensors to be "
                "written: remove it first", dir, INDEX_FILE);
        goto fail;
    }
    if (join(path, dir, CONFIG_FILE, err) < 0 || cb_mkdirs_for(path, err) < 0 ||
        write_tensors(dir, cfg, &lo, matrix_dtype, n_shards, &wr, err) < 0 ||
        write_json(path, config, err) < 0)
        goto fail;
    json_decref(config);
    free(wr.path);
    free(lo.t);
    return 0;
fail:
    unlink_written(&wr);
    json_decref(config);
    free(wr.path);
    free(lo.t);
    return -1;
}
