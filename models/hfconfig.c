/* models/hfconfig.c — reading and checking config.json (see hfconfig.h).
 *
 * A field may go by several names (hidden_size / d_model); the first present
 * wins, a JSON null counts as absent, and Mamba fields are also looked up in
 * the mamba_ssm "ssm_cfg" object.  Errors use the field's first name.
 * Never: accept a size outside its range, a non-integer where an integer is
 * due, or an architecture it cannot describe. */
#include "models/hfconfig.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/text.h"

/* A NULL-terminated list of the names a field goes by. */
#define K(...) ((const char *const[]){__VA_ARGS__, NULL})

typedef struct reader {
    const char *file;
    json_t *root;
    json_t *ssm;  /* "ssm_cfg" object, or NULL */
    cb_err *err;
    const char *prefix; /* "" or "rope_scaling." before field names in errors */
} reader;

/* The value of the first of keys present (and not null) in root or ssm_cfg. */
static json_t *find(const reader *r, const char *const *keys)
{
    json_t *objs[2] = {r->root, r->ssm};
    for (int o = 0; o < 2; o++)
        for (int k = 0; objs[o] && keys[k]; k++) {
            json_t *v = json_object_get(objs[o], keys[k]);
            if (v && !json_is_null(v))
                return v;
        }
    return NULL;
}

/* Reads an integer field in [lo, hi]; def is used when it is absent, unless
 * def < 0, which makes the field required. */
static int get_int(const reader *r, const char *const *keys, int64_t def, int64_t lo,
                   int64_t hi, int64_t *out)
{
    json_t *v = find(r, keys);
    if (!v) {
        if (def < 0)
            return cb_fail(r->err, "%s: %s%s: missing", r->file, r->prefix, keys[0]);
        *out = def;
        return 0;
    }
    if (!json_is_integer(v))
        return cb_fail(r->err, "%s: %s%s: not an integer", r->file, r->prefix, keys[0]);
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi)
        return cb_fail(r->err, "%s: %s%s: %lld is out of range [%lld, %lld]", r->file,
                       r->prefix, keys[0],
                       (long long)x, (long long)lo, (long long)hi);
    *out = x;
    return 0;
}

/* Reads a number field in (lo, hi]; def when absent (NAN makes it required). */
static int get_num(const reader *r, const char *const *keys, double def, double lo, double hi,
                   double *out)
{
    json_t *v = find(r, keys);
    if (!v) {
        if (isnan(def))
            return cb_fail(r->err, "%s: %s%s: missing", r->file, r->prefix, keys[0]);
        *out = def;
        return 0;
    }
    if (!json_is_number(v))
        return cb_fail(r->err, "%s: %s%s: not a number", r->file, r->prefix, keys[0]);
    double x = json_number_value(v);
    if (!(x > lo && x <= hi))
        return cb_fail(r->err, "%s: %s%s: %g is out of range (%g, %g]", r->file, r->prefix,
                       keys[0], x, lo, hi);
    *out = x;
    return 0;
}

static int get_bool(const reader *r, const char *const *keys, bool def, bool *out)
{
    json_t *v = find(r, keys);
    if (!v) {
        *out = def;
        return 0;
    }
    if (!json_is_boolean(v))
        return cb_fail(r->err, "%s: %s%s: not true or false", r->file, r->prefix, keys[0]);
    *out = json_is_true(v);
    return 0;
}

/* ---- architecture ----------------------------------------------------------------- */

static const struct {
    const char *model_type, *class_name;
    hfc_arch arch;
} known[] = {
    {"llama", "LlamaForCausalLM", HFC_LLAMA},
    {"qwen2", "Qwen2ForCausalLM", HFC_QWEN2},
    {"mamba", "MambaForCausalLM", HFC_MAMBA},
    {"mamba2", "Mamba2ForCausalLM", HFC_MAMBA2},
};
#define NKNOWN (sizeof known / sizeof known[0])

const char *hfc_arch_name(hfc_arch a)
{
    for (size_t i = 0; i < NKNOWN; i++)
        if (known[i].arch == a)
            return known[i].model_type;
    return "?";
}

/* From model_type, else architectures[0], else the mamba_ssm ssm_cfg. */
static int read_arch(const reader *r, hfc_config *c)
{
    json_t *mt = find(r, K("model_type"));
    json_t *ar = json_array_get(json_object_get(r->root, "architectures"), 0);
    if (mt && !json_is_string(mt))
        return cb_fail(r->err, "%s: model_type: not a string", r->file);
    if (json_is_string(ar))
        cb_strlcpy(c->architecture, json_string_value(ar), sizeof c->architecture);
    for (size_t i = 0; i < NKNOWN; i++)
        if (mt ? strcmp(json_string_value(mt), known[i].model_type) == 0
               : strcmp(c->architecture, known[i].class_name) == 0) {
            c->arch = known[i].arch;
            cb_strlcpy(c->model_type, known[i].model_type, sizeof c->model_type);
            return 0;
        }
    if (mt || c->architecture[0])
        return cb_fail(r->err, "%s: %s: unsupported architecture '%s' (llama, qwen2, mamba, "
                       "mamba2)", r->file, mt ? "model_type" : "architectures",
                       mt ? json_string_value(mt) : c->architecture);
    if (!r->ssm)
        return cb_fail(r->err, "%s: model_type: missing (and no architectures or ssm_cfg)",
                       r->file);
    json_t *layer = json_object_get(r->ssm, "layer");
    bool m2 = json_is_string(layer) && strcmp(json_string_value(layer), "Mamba2") == 0;
    c->arch = m2 ? HFC_MAMBA2 : HFC_MAMBA;
    cb_strlcpy(c->model_type, m2 ? "mamba2" : "mamba", sizeof c->model_type);
    return 0;
}

/* ---- transformers ------------------------------------------------------------------ */

static int read_rope_scaling(const reader *r, hfc_config *c)
{
    json_t *rs = json_object_get(r->root, "rope_scaling");
    c->rope_scaling.kind = HFC_ROPE_NONE;
    if (!rs || json_is_null(rs))
        return 0;
    if (!json_is_object(rs))
        return cb_fail(r->err, "%s: rope_scaling: not an object", r->file);
    json_t *type = json_object_get(rs, "rope_type");
    if (!type)
        type = json_object_get(rs, "type");
    const char *t = json_string_value(type);
    reader sub = {r->file, rs, NULL, r->err, "rope_scaling."};
    hfc_rope_scaling *s = &c->rope_scaling;
    if (t && strcmp(t, "default") == 0)
        return 0;
    if (t && strcmp(t, "linear") == 0) {
        s->kind = HFC_ROPE_LINEAR;
        return get_num(&sub, K("factor"), NAN, 0, 1e6, &s->factor);
    }
    if (!t || strcmp(t, "llama3") != 0)
        return cb_fail(r->err, "%s: rope_scaling.rope_type: unsupported '%s' (llama3, linear)",
                       r->file, t ? t : "(missing)");
    s->kind = HFC_ROPE_LLAMA3;
    if (get_num(&sub, K("factor"), NAN, 0, 1e6, &s->factor) < 0 ||
        get_num(&sub, K("low_freq_factor"), NAN, 0, 1e6, &s->low_freq_factor) < 0 ||
        get_num(&sub, K("high_freq_factor"), NAN, 0, 1e6, &s->high_freq_factor) < 0 ||
        get_int(&sub, K("original_max_position_embeddings"), -1, 1, HFC_MAX_POSITIONS,
                &s->original_max_position_embeddings) < 0)
        return -1;
    if (s->high_freq_factor <= s->low_freq_factor)
        return cb_fail(r->err, "%s: rope_scaling.high_freq_factor: %g must exceed "
                       "low_freq_factor %g", r->file, s->high_freq_factor, s->low_freq_factor);
    return 0;
}

static int read_heads(const reader *r, hfc_config *c)
{
    if (get_int(r, K("num_attention_heads"), -1, 1, HFC_MAX_SIZE, &c->num_attention_heads) < 0 ||
        get_int(r, K("num_key_value_heads"), c->num_attention_heads, 1, HFC_MAX_SIZE,
                &c->num_key_value_heads) < 0)
        return -1;
    if (c->num_attention_heads % c->num_key_value_heads)
        return cb_fail(r->err, "%s: num_key_value_heads: %lld does not divide "
                       "num_attention_heads %lld", r->file, (long long)c->num_key_value_heads,
                       (long long)c->num_attention_heads);
    if (!find(r, K("head_dim")) && c->hidden_size % c->num_attention_heads)
        return cb_fail(r->err, "%s: num_attention_heads: %lld does not divide hidden_size %lld",
                       r->file, (long long)c->num_attention_heads, (long long)c->hidden_size);
    if (get_int(r, K("head_dim"), c->hidden_size / c->num_attention_heads, 2, 1 << 12,
                &c->head_dim) < 0)
        return -1;
    if (c->head_dim % 2)
        return cb_fail(r->err, "%s: head_dim: %lld is odd (RoPE rotates pairs)", r->file,
                       (long long)c->head_dim);
    return 0;
}

static int read_transformer(const reader *r, hfc_config *c)
{
    if (get_int(r, K("hidden_size"), -1, 1, HFC_MAX_SIZE, &c->hidden_size) < 0 ||
        get_int(r, K("intermediate_size"), -1, 1, HFC_MAX_SIZE, &c->intermediate_size) < 0 ||
        get_int(r, K("num_hidden_layers"), -1, 1, HFC_MAX_LAYERS, &c->num_hidden_layers) < 0 ||
        get_int(r, K("vocab_size"), -1, 1, HFC_MAX_VOCAB, &c->vocab_size) < 0 ||
        get_int(r, K("max_position_embeddings"), 2048, 1, HFC_MAX_POSITIONS,
                &c->max_position_embeddings) < 0 ||
        read_heads(r, c) < 0 ||
        get_num(r, K("rms_norm_eps"), 1e-6, 0, 1, &c->norm_eps) < 0 ||
        get_num(r, K("rope_theta"), 10000, 0, 1e12, &c->rope_theta) < 0 ||
        get_bool(r, K("tie_word_embeddings"), false, &c->tie_word_embeddings) < 0 ||
        get_bool(r, K("attention_bias"), false, &c->attention_bias) < 0 ||
        read_rope_scaling(r, c) < 0)
        return -1;
    if (c->arch == HFC_QWEN2)
        c->attention_bias = true; /* Qwen2 always has q/k/v biases */
    c->vocab_padded = c->vocab_size;
    return 0;
}

/* ---- Mamba ------------------------------------------------------------------------ */

static int read_dt_rank(const reader *r, hfc_config *c)
{
    json_t *v = find(r, K("time_step_rank", "dt_rank"));
    int64_t dflt = (c->hidden_size + 15) / 16;
    if (json_is_string(v) && strcmp(json_string_value(v), "auto") == 0)
        v = NULL;
    if (!v) {
        c->dt_rank = dflt;
        return 0;
    }
    return get_int(r, K("time_step_rank", "dt_rank"), dflt, 1, HFC_MAX_SIZE, &c->dt_rank);
}

/* Fields shared by Mamba-1 and Mamba-2 (defaults differ in d_state). */
/* A Mamba-2 config in the transformers layout (Mamba2Config, no ssm_cfg):
 * its missing keys take transformers' defaults (tie_word_embeddings false,
 * n_groups 8), where mamba_ssm's are true and 1. */
static bool transformers_mamba2(const reader *r, const hfc_config *c)
{
    return c->arch == HFC_MAMBA2 && !r->ssm;
}

static int read_mamba_common(const reader *r, hfc_config *c, int64_t d_state_default)
{
    json_t *attn = json_object_get(r->root, "attn_layer_idx");
    if (json_array_size(attn) > 0)
        return cb_fail(r->err, "%s: attn_layer_idx: attention layers in a mamba_ssm config are "
                       "not supported", r->file);
    if (get_int(r, K("hidden_size", "d_model"), -1, 1, HFC_MAX_SIZE, &c->hidden_size) < 0 ||
        get_int(r, K("num_hidden_layers", "n_layer"), -1, 1, HFC_MAX_LAYERS,
                &c->num_hidden_layers) < 0 ||
        get_int(r, K("vocab_size"), -1, 1, HFC_MAX_VOCAB, &c->vocab_size) < 0 ||
        get_int(r, K("state_size", "d_state"), d_state_default, 1, 1 << 12, &c->d_state) < 0 ||
        get_int(r, K("conv_kernel", "d_conv"), 4, 1, 64, &c->d_conv) < 0 ||
        get_int(r, K("expand"), 2, 1, 64, &c->expand) < 0 ||
        get_int(r, K("pad_vocab_size_multiple"), 8, 1, 1 << 16,
                &c->pad_vocab_size_multiple) < 0 ||
        get_num(r, K("layer_norm_epsilon", "rms_norm_eps", "norm_epsilon"), 1e-5, 0, 1,
                &c->norm_eps) < 0 ||
        get_bool(r, K("tie_word_embeddings", "tie_embeddings"), !transformers_mamba2(r, c),
                 &c->tie_word_embeddings) < 0 ||
        get_bool(r, K("use_conv_bias", "conv_bias"), true, &c->conv_bias) < 0 ||
        get_bool(r, K("use_bias", "bias"), false, &c->proj_bias) < 0)
        return -1;
    if (c->expand * c->hidden_size > HFC_MAX_SIZE)
        return cb_fail(r->err, "%s: expand: %lld x hidden_size %lld is absurd", r->file,
                       (long long)c->expand, (long long)c->hidden_size);
    int64_t m = c->pad_vocab_size_multiple;
    c->vocab_padded = (c->vocab_size + m - 1) / m * m;
    return 0;
}

static int read_mamba1(const reader *r, hfc_config *c)
{
    if (read_mamba_common(r, c, 16) < 0 ||
        get_int(r, K("intermediate_size"), c->expand * c->hidden_size, 1, HFC_MAX_SIZE,
                &c->d_inner) < 0 ||
        read_dt_rank(r, c) < 0)
        return -1;
    return 0;
}

static int read_mamba2(const reader *r, hfc_config *c)
{
    if (read_mamba_common(r, c, 128) < 0 ||
        get_int(r, K("head_dim", "headdim"), 64, 1, 1 << 12, &c->headdim) < 0 ||
        get_int(r, K("n_groups", "ngroups"), transformers_mamba2(r, c) ? 8 : 1, 1, HFC_MAX_SIZE,
                &c->n_groups) < 0 ||
        get_int(r, K("chunk_size"), 256, 1, 1 << 16, &c->chunk_size) < 0)
        return -1;
    c->d_inner = c->expand * c->hidden_size;
    if (c->d_inner % c->headdim)
        return cb_fail(r->err, "%s: head_dim: %lld does not divide expand x hidden_size %lld",
                       r->file, (long long)c->headdim, (long long)c->d_inner);
    if (get_int(r, K("num_heads"), c->d_inner / c->headdim, 1, HFC_MAX_SIZE, &c->num_heads) < 0)
        return -1;
    if (c->num_heads * c->headdim != c->d_inner)
        return cb_fail(r->err, "%s: num_heads: %lld x head_dim %lld != expand x hidden_size "
                       "%lld", r->file, (long long)c->num_heads, (long long)c->headdim,
                       (long long)c->d_inner);
    if (c->num_heads % c->n_groups)
        return cb_fail(r->err, "%s: n_groups: %lld does not divide num_heads %lld", r->file,
                       (long long)c->n_groups, (long long)c->num_heads);
    c->dt_rank = 0; /* Mamba-2 has one dt per head, no low-rank projection */
    return 0;
}

/* ---- entry points ------------------------------------------------------------------ */

static int read_config(reader *r, hfc_config *c)
{
    memset(c, 0, sizeof *c);
    if (!json_is_object(r->root))
        return cb_fail(r->err, "%s: not a JSON object", r->file);
    json_t *ssm = json_object_get(r->root, "ssm_cfg");
    if (ssm && !json_is_null(ssm) && !json_is_object(ssm))
        return cb_fail(r->err, "%s: ssm_cfg: not an object", r->file);
    r->ssm = json_is_object(ssm) ? ssm : NULL;
    if (read_arch(r, c) < 0)
        return -1;
    switch (c->arch) {
    case HFC_LLAMA:
    case HFC_QWEN2:
        return read_transformer(r, c);
    case HFC_MAMBA:
        return read_mamba1(r, c);
    case HFC_MAMBA2:
        return read_mamba2(r, c);
    }
    return cb_fail(r->err, "%s: internal: unknown architecture", r->file);
}

int hfc_parse_text(const char *text, size_t len, const char *name, hfc_config *out,
                   cb_err *err)
{
    json_error_t jerr;
    reader r = {name, json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr), NULL, err, ""};
    if (!r.root)
        return cb_fail(err, "%s: bad JSON: %s (line %d, column %d)", name, jerr.text, jerr.line,
                       jerr.column);
    int rc = read_config(&r, out);
    json_decref(r.root);
    return rc;
}

int hfc_load(const char *path, hfc_config *out, cb_err *err)
{
    size_t len;
    char *text = cb_read_file(path, &len, err);
    if (!text)
        return -1;
    int rc = hfc_parse_text(text, len, path, out, err);
    free(text);
    return rc;
}
