/* models/gguf_model.c — GGUF checkpoints read into lm_weights (see
 * gguf_model.h).
 *
 * Two steps.  config_*: the metadata keys (and token_embd's shape) to a
 * model_config, refusing what the models cannot run with the key named.
 * Then one table, built by layout_build from that config and the freshly
 * allocated weights, lists every tensor of the architecture: its GGUF name,
 * its expected ggml shape, whether it is a matrix (stored as cfg.wtype, or
 * cfg.emb_wtype for the embedding and LM head) or a
 * vector (fp32), where it lives in the weights, and the transform that undoes
 * what llama.cpp's converter did (Q/K row permutation, A = -exp(A_log)).
 * load_tensor walks that table; a file tensor the table does not name is
 * refused.
 *
 * Never: print, exit, keep a file open that it opened after returning, or
 * leave *w half-filled on error. */
#include "models/gguf_model.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operators/conv1d.h"
#include "operators/elementwise.h"
#include "operators/lowp.h"
#include "operators/quant.h"

/* ---- the architectures ------------------------------------------------------------ */

typedef enum gm_arch { GM_LLAMA, GM_QWEN2, GM_MAMBA, GM_MAMBA2 } gm_arch;

typedef struct gm_ctx {
    const gguf_file *f;
    const char *path;
    char arch[32];        /* general.architecture, the key prefix */
    gm_arch kind;
} gm_ctx;

static int read_arch(const gguf_file *f, gm_ctx *x, cb_err *err)
{
    static const struct { const char *name; gm_arch kind; } known[] = {
        {"llama", GM_LLAMA}, {"qwen2", GM_QWEN2}, {"mamba", GM_MAMBA}, {"mamba2", GM_MAMBA2},
    };
    gguf_str s;
    x->f = f;
    x->path = gguf_path(f);
    if (gguf_get_str(f, "general.architecture", &s, err) < 0)
        return -1;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (gguf_str_eq(s, known[i].name)) {
            snprintf(x->arch, sizeof x->arch, "%s", known[i].name);
            x->kind = known[i].kind;
            return 0;
        }
    return cb_fail(err, "%s: general.architecture '%.*s' is not supported (llama, qwen2, "
                   "mamba, mamba2)", x->path, (int)(s.len > 64 ? 64 : s.len), s.ptr);
}

/* ---- metadata --------------------------------------------------------------------- */

static const char *akey(const gm_ctx *x, char *buf, size_t cap, const char *suffix)
{
    snprintf(buf, cap, "%s.%s", x->arch, suffix);
    return buf;
}

/* <arch>.suffix as an int in lo..hi; when def is non-NULL an absent key
 * gives *def. */
static int get_int(const gm_ctx *x, const char *suffix, int lo, int hi, const int *def,
                   int *out, cb_err *err)
{
    char key[128];
    akey(x, key, sizeof key, suffix);
    if (def && !gguf_find_key(x->f, key)) {
        *out = *def;
        return 0;
    }
    int64_t v;
    if (gguf_get_i64(x->f, key, &v, err) < 0)
        return -1;
    if (v < lo || v > hi)
        return cb_fail(err, "%s: key '%s' = %lld, want %d..%d", x->path, key, (long long)v, lo,
                       hi);
    *out = (int)v;
    return 0;
}

static int get_float(const gm_ctx *x, const char *suffix, const double *def, double *out,
                     cb_err *err)
{
    char key[128];
    akey(x, key, sizeof key, suffix);
    if (def && !gguf_find_key(x->f, key)) {
        *out = *def;
        return 0;
    }
    if (gguf_get_f64(x->f, key, out, err) < 0)
        return -1;
    if (!isfinite(*out) || *out <= 0)
        return cb_fail(err, "%s: key '%s' = %g, want a finite positive number", x->path, key,
                       *out);
    return 0;
}

/* vocab and d_model from token_embd.weight, checked against embedding_length. */
static int config_embedding(const gm_ctx *x, model_config *c, cb_err *err)
{
    const gguf_tensor *t = gguf_find_tensor(x->f, "token_embd.weight");
    if (!t)
        return cb_fail(err, "%s: tensor token_embd.weight: missing (the vocabulary size is "
                       "read from it)", x->path);
    if (t->n_dims != 2 || t->ne[0] != c->d_model || t->ne[1] < 1 || t->ne[1] > INT_MAX)
        return cb_fail(err, "%s: tensor token_embd.weight: shape [%lld, %lld] (%u dims), want "
                       "[%d, vocab]", x->path, (long long)t->ne[0], (long long)t->ne[1],
                       t->n_dims, c->d_model);
    c->vocab = (int)t->ne[1];
    c->tied_embeddings = gguf_find_tensor(x->f, "output.weight") == NULL;
    return 0;
}

static int config_common(const gm_ctx *x, model_config *c, cb_err *err)
{
    double eps;
    if (get_int(x, "block_count", 1, MODEL_MAX_LAYERS, NULL, &c->n_layers, err) < 0 ||
        get_int(x, "embedding_length", 1, INT_MAX, NULL, &c->d_model, err) < 0 ||
        get_float(x, "attention.layer_norm_rms_epsilon", NULL, &eps, err) < 0)
        return -1;
    c->rms_eps = (float)eps;
    return config_embedding(x, c, err);
}

/* rope_freqs.weight (llama.cpp's Llama 3 scaling): recognised when it equals
 * Llama 3's divisors with low 1, high 4 and the file's original context. */
static int config_rope_freqs(const gm_ctx *x, model_config *c, cb_err *err)
{
    const gguf_tensor *t = gguf_find_tensor(x->f, "rope_freqs.weight");
    if (!t)
        return 0;
    int half = c->head_dim / 2;
    if (t->type != GGUF_T_F32 || t->nelems != (uint64_t)half)
        return cb_fail(err, "%s: tensor rope_freqs.weight: want %d F32 values (head_dim / 2), "
                       "have %llu of type %s", x->path, half, (unsigned long long)t->nelems,
                       gguf_type_name(t->type));
    float *got = malloc((size_t)half * 3 * sizeof *got);
    if (!got)
        return cb_fail(err, "%s: out of memory", x->path);
    float *plain = got + half, *scaled = plain + half;
    memcpy(got, gguf_tensor_data(x->f, t), (size_t)half * sizeof *got);
    float factor = 1;
    for (int i = 0; i < half; i++)
        factor = got[i] > factor ? got[i] : factor;
    double orig = 8192, def = 8192;
    int rc = get_float(x, "rope.scaling.original_context_length", &def, &orig, err);
    op_rope_scaling s = {OP_ROPE_LLAMA3, factor, 1, 4, orig};
    bool same = rc == 0 && op_rope_inv_freq(c->rope_theta, c->head_dim, NULL, plain) == 0 &&
                op_rope_inv_freq(c->rope_theta, c->head_dim, &s, scaled) == 0;
    for (int i = 0; same && i < half; i++)
        same = fabs((double)plain[i] / scaled[i] - got[i]) <= 1e-4 * got[i];
    free(got);
    if (rc < 0)
        return -1;
    if (!same)
        return cb_fail(err, "%s: tensor rope_freqs.weight: the frequency divisors are not "
                       "Llama 3 scaling (low_freq_factor 1, high_freq_factor 4, original "
                       "context %g): the model runs plain RoPE or that scaling only", x->path,
                       orig);
    if (factor > 1) {
        c->rope_llama3 = 1;
        c->rope_factor = factor;
        c->rope_low_freq_factor = 1;
        c->rope_high_freq_factor = 4;
        c->rope_original_max_pos = orig;
    }
    return 0;
}

static int config_rope(const gm_ctx *x, model_config *c, cb_err *err)
{
    char key[128];
    gguf_str s;
    akey(x, key, sizeof key, "rope.scaling.type");
    if (gguf_find_key(x->f, key)) {
        if (gguf_get_str(x->f, key, &s, err) < 0)
            return -1;
        if (!gguf_str_eq(s, "none"))
            return cb_fail(err, "%s: key '%s' = '%.*s' is not supported (plain RoPE and "
                           "Llama 3 scaling only)", x->path, key,
                           (int)(s.len > 64 ? 64 : s.len), s.ptr);
    }
    double theta_def = 10000;
    int rot;
    if (get_float(x, "rope.freq_base", &theta_def, &c->rope_theta, err) < 0 ||
        get_int(x, "rope.dimension_count", 1, INT_MAX, &c->head_dim, &rot, err) < 0)
        return -1;
    if (rot != c->head_dim)
        return cb_fail(err, "%s: key '%s.rope.dimension_count' = %d, but head_dim is %d: "
                       "partial rotary embeddings are not supported", x->path, x->arch, rot,
                       c->head_dim);
    return config_rope_freqs(x, c, err);
}

static int config_transformer(const gm_ctx *x, model_config *c, cb_err *err)
{
    c->arch = MODEL_ARCH_TRANSFORMER;
    if (get_int(x, "feed_forward_length", 1, INT_MAX, NULL, &c->ffn_dim, err) < 0 ||
        get_int(x, "attention.head_count", 1, INT_MAX, NULL, &c->n_heads, err) < 0 ||
        get_int(x, "attention.head_count_kv", 1, INT_MAX, &c->n_heads, &c->n_kv_heads,
                err) < 0)
        return -1;
    int def_d = c->d_model / c->n_heads, vlen;
    if (get_int(x, "attention.key_length", 1, INT_MAX, &def_d, &c->head_dim, err) < 0 ||
        get_int(x, "attention.value_length", 1, INT_MAX, &c->head_dim, &vlen, err) < 0)
        return -1;
    if (vlen != c->head_dim)
        return cb_fail(err, "%s: key '%s.attention.value_length' = %d differs from key_length "
                       "%d (not supported)", x->path, x->arch, vlen, c->head_dim);
    c->qkv_bias = gguf_find_tensor(x->f, "blk.0.attn_q.bias") != NULL;
    return config_rope(x, c, err);
}

/* What both Mamba generations read: conv width, inner size, state size. */
static int config_mamba_common(const gm_ctx *x, model_config *c, int *d_inner, cb_err *err)
{
    char key[128];
    if (get_int(x, "ssm.conv_kernel", 1, INT_MAX, NULL, &c->d_conv, err) < 0 ||
        get_int(x, "ssm.inner_size", 1, INT_MAX, NULL, d_inner, err) < 0 ||
        get_int(x, "ssm.state_size", 1, INT_MAX, NULL, &c->d_state, err) < 0)
        return -1;
    if (c->d_conv != OP_CONV1D_WIDTH)
        return cb_fail(err, "%s: key '%s.ssm.conv_kernel' = %d is not supported (the conv "
                       "kernels have width %d)", x->path, x->arch, c->d_conv, OP_CONV1D_WIDTH);
    if (*d_inner % c->d_model != 0)
        return cb_fail(err, "%s: key '%s.ssm.inner_size' = %d is not a multiple of "
                       "embedding_length %d", x->path, x->arch, *d_inner, c->d_model);
    c->expand = *d_inner / c->d_model;
    bool dbc = false;
    akey(x, key, sizeof key, "ssm.dt_b_c_rms");
    if (gguf_find_key(x->f, key) && gguf_get_bool(x->f, key, &dbc, err) < 0)
        return -1;
    if (dbc)
        return cb_fail(err, "%s: key '%s' = true is not supported (no RMSNorm on dt, B and C: "
                       "Falcon-Mamba)", x->path, key);
    return 0;
}

static int config_mamba1(const gm_ctx *x, model_config *c, cb_err *err)
{
    int di = 0;
    c->arch = MODEL_ARCH_MAMBA1;
    if (config_mamba_common(x, c, &di, err) < 0)
        return -1;
    return get_int(x, "ssm.time_step_rank", 1, di, NULL, &c->dt_rank, err);
}

static int config_mamba2(const gm_ctx *x, model_config *c, cb_err *err)
{
    int di = 0, heads = 1, groups = 1, one = 1;
    c->arch = MODEL_ARCH_MAMBA2;
    if (config_mamba_common(x, c, &di, err) < 0 ||
        get_int(x, "ssm.time_step_rank", 1, di, NULL, &heads, err) < 0 ||
        get_int(x, "ssm.group_count", 1, INT_MAX, &one, &groups, err) < 0)
        return -1;
    if (groups != 1)
        return cb_fail(err, "%s: key '%s.ssm.group_count' = %d is not supported (one group of "
                       "B and C only)", x->path, x->arch, groups);
    if (di % heads != 0)
        return cb_fail(err, "%s: key '%s.ssm.time_step_rank' = %d (heads) does not divide "
                       "inner_size %d", x->path, x->arch, heads, di);
    c->ssm_head_dim = di / heads;
    c->chunk = GGUF_MODEL_CHUNK;
    return 0;
}

static int config_of(const gm_ctx *x, op_wtype wtype, op_wtype emb_wtype, int max_context,
                     model_config *c, cb_err *err)
{
    memset(c, 0, sizeof *c);
    c->wtype = wtype;
    c->emb_wtype = emb_wtype;
    c->max_context = max_context;
    if (config_common(x, c, err) < 0)
        return -1;
    int rc = x->kind == GM_MAMBA    ? config_mamba1(x, c, err)
             : x->kind == GM_MAMBA2 ? config_mamba2(x, c, err)
                                    : config_transformer(x, c, err);
    if (rc == 0 && model_config_check(c, err) < 0)
        rc = cb_wrap(err, "%s", x->path);
    return rc;
}

int gguf_model_config_from(const gguf_file *f, op_wtype wtype, op_wtype emb_wtype,
                           int max_context, model_config *cfg, cb_err *err)
{
    gm_ctx x;
    if (read_arch(f, &x, err) < 0)
        return -1;
    return config_of(&x, wtype, emb_wtype, max_context, cfg, err);
}

int gguf_model_config(const char *path, op_wtype wtype, op_wtype emb_wtype, int max_context,
                      model_config *cfg, cb_err *err)
{
    gguf_file *f = gguf_open(path, err);
    if (!f)
        return -1;
    int rc = gguf_model_config_from(f, wtype, emb_wtype, max_context, cfg, err);
    gguf_close(f);
    return rc;
}

/* ---- the layout table ------------------------------------------------------------- */

typedef enum gm_xform {
    XF_NONE,
    XF_UNPERMUTE, /* llama.cpp's per-head Q/K row permutation, undone */
    XF_A_LOG,     /* stored A = -exp(A_log); the model takes A_log = log(-A) */
} gm_xform;

typedef struct gm_tensor {
    char name[64];
    void *data;                 /* the model's storage of it */
    bool matrix;                /* stored as cfg.wtype or cfg.emb_wtype (else fp32) */
    bool emb;                   /* the embedding or LM head: stored as cfg.emb_wtype */
    bool vector;                /* one dim: any shape with its elements along one dim */
    int64_t ne[GGUF_MAX_DIMS];  /* the expected ggml shape; unused dims 1 */
    gm_xform xf;
    int heads;                  /* XF_UNPERMUTE: heads in the rows */
} gm_tensor;

typedef struct gm_layout {
    gm_tensor *t;  /* (cap) */
    size_t n, cap;
} gm_layout;

/* Appends a tensor of ggml shape [ne0] when ne1 is 0, else [ne0, ne1]. */
/* How a tensor is stored: fp32 vector, layer matrix, embedding / LM head. */
enum { VEC = 0, MAT = 1, EMB = 2 };

static gm_tensor *put(gm_layout *lo, void *data, int kind, int64_t ne0, int64_t ne1,
                      const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static gm_tensor *put(gm_layout *lo, void *data, int kind, int64_t ne0, int64_t ne1,
                      const char *fmt, ...)
{
    gm_tensor *t = &lo->t[lo->n++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->name, sizeof t->name, fmt, ap);
    va_end(ap);
    t->data = data;
    t->matrix = kind != VEC;
    t->emb = kind == EMB;
    t->vector = ne1 == 0;
    t->ne[0] = ne0;
    t->ne[1] = ne1 ? ne1 : 1;
    t->ne[2] = t->ne[3] = 1;
    return t;
}

static void unpermute(gm_tensor *t, int heads)
{
    t->xf = XF_UNPERMUTE;
    t->heads = heads;
}

static void layout_transformer(const model_config *c, tf_weights *w, bool permuted,
                               gm_layout *lo)
{
    int64_t d = c->d_model, f = c->ffn_dim;
    int64_t q = (int64_t)c->n_heads * c->head_dim, kv = (int64_t)c->n_kv_heads * c->head_dim;
    int hq = permuted ? c->n_heads : 0, hk = permuted ? c->n_kv_heads : 0;
    put(lo, w->tok_emb, EMB, d, c->vocab, "token_embd.weight");
    for (int l = 0; l < c->n_layers; l++) {
        tf_layer_weights *L = &w->layers[l];
        put(lo, L->attn_norm, VEC, d, 0, "blk.%d.attn_norm.weight", l);
        unpermute(put(lo, L->wq, MAT, d, q, "blk.%d.attn_q.weight", l), hq);
        unpermute(put(lo, L->wk, MAT, d, kv, "blk.%d.attn_k.weight", l), hk);
        put(lo, L->wv, MAT, d, kv, "blk.%d.attn_v.weight", l);
        if (c->qkv_bias) {
            unpermute(put(lo, L->bq, VEC, q, 0, "blk.%d.attn_q.bias", l), hq);
            unpermute(put(lo, L->bk, VEC, kv, 0, "blk.%d.attn_k.bias", l), hk);
            put(lo, L->bv, VEC, kv, 0, "blk.%d.attn_v.bias", l);
        }
        put(lo, L->wo, MAT, q, d, "blk.%d.attn_output.weight", l);
        put(lo, L->ffn_norm, VEC, d, 0, "blk.%d.ffn_norm.weight", l);
        put(lo, L->w_gate, MAT, d, f, "blk.%d.ffn_gate.weight", l);
        put(lo, L->w_up, MAT, d, f, "blk.%d.ffn_up.weight", l);
        put(lo, L->w_down, MAT, f, d, "blk.%d.ffn_down.weight", l);
    }
    put(lo, w->final_norm, VEC, d, 0, "output_norm.weight");
    if (!c->tied_embeddings)
        put(lo, w->lm_head, EMB, d, c->vocab, "output.weight");
}

static void put_ends(const model_config *c, void *tok_emb, float *final_norm, void *lm_head,
                     gm_layout *lo)
{
    put(lo, tok_emb, EMB, c->d_model, c->vocab, "token_embd.weight");
    put(lo, final_norm, VEC, c->d_model, 0, "output_norm.weight");
    if (!c->tied_embeddings)
        put(lo, lm_head, EMB, c->d_model, c->vocab, "output.weight");
}

static void layout_mamba1(const model_config *c, m1_weights *w, gm_layout *lo)
{
    int64_t d = c->d_model, di = (int64_t)c->expand * d, R = c->dt_rank, N = c->d_state;
    put_ends(c, w->tok_emb, w->final_norm, w->lm_head, lo);
    for (int l = 0; l < c->n_layers; l++) {
        m1_layer_weights *L = &w->layers[l];
        put(lo, L->norm, VEC, d, 0, "blk.%d.attn_norm.weight", l);
        put(lo, L->in_proj, MAT, d, 2 * di, "blk.%d.ssm_in.weight", l);
        put(lo, L->conv_w, VEC, OP_CONV1D_WIDTH, di, "blk.%d.ssm_conv1d.weight", l);
        put(lo, L->conv_b, VEC, di, 0, "blk.%d.ssm_conv1d.bias", l);
        put(lo, L->x_proj, MAT, di, R + 2 * N, "blk.%d.ssm_x.weight", l);
        put(lo, L->dt_proj_w, MAT, R, di, "blk.%d.ssm_dt.weight", l);
        put(lo, L->dt_proj_b, VEC, di, 0, "blk.%d.ssm_dt.bias", l);
        put(lo, L->A_log, VEC, N, di, "blk.%d.ssm_a", l)->xf = XF_A_LOG;
        put(lo, L->D, VEC, di, 0, "blk.%d.ssm_d", l);
        put(lo, L->out_proj, MAT, di, d, "blk.%d.ssm_out.weight", l);
    }
}

static void layout_mamba2(const model_config *c, m2_weights *w, gm_layout *lo)
{
    int64_t d = c->d_model, di = (int64_t)c->expand * d, N = c->d_state;
    int64_t H = di / c->ssm_head_dim, ch = di + 2 * N;
    put_ends(c, w->tok_emb, w->final_norm, w->lm_head, lo);
    for (int l = 0; l < c->n_layers; l++) {
        m2_layer_weights *L = &w->ssm[l];
        put(lo, L->norm, VEC, d, 0, "blk.%d.attn_norm.weight", l);
        put(lo, L->in_proj, MAT, d, 2 * di + 2 * N + H, "blk.%d.ssm_in.weight", l);
        put(lo, L->conv_w, VEC, OP_CONV1D_WIDTH, ch, "blk.%d.ssm_conv1d.weight", l);
        put(lo, L->conv_b, VEC, ch, 0, "blk.%d.ssm_conv1d.bias", l);
        put(lo, L->dt_bias, VEC, H, 0, "blk.%d.ssm_dt.bias", l);
        put(lo, L->A_log, VEC, H, 0, "blk.%d.ssm_a", l)->xf = XF_A_LOG;
        put(lo, L->D, VEC, H, 0, "blk.%d.ssm_d", l);
        put(lo, L->gnorm, VEC, di, 0, "blk.%d.ssm_norm.weight", l);
        put(lo, L->out_proj, MAT, di, d, "blk.%d.ssm_out.weight", l);
    }
}

/* Fills lo with every tensor of the layout, pointing into w (caller frees
 * lo->t). */
static int layout_build(const gm_ctx *x, const model_config *c, lm_weights *w, gm_layout *lo,
                        cb_err *err)
{
    memset(lo, 0, sizeof *lo);
    lo->cap = 3 + (size_t)c->n_layers * 14; /* 14 >= tensors per layer of any layout */
    if (!(lo->t = calloc(lo->cap, sizeof *lo->t)))
        return cb_fail(err, "%s: out of memory", x->path);
    if (c->arch == MODEL_ARCH_TRANSFORMER)
        layout_transformer(c, &w->tf, x->kind == GM_LLAMA, lo);
    else if (c->arch == MODEL_ARCH_MAMBA1)
        layout_mamba1(c, &w->m1, lo);
    else
        layout_mamba2(c, &w->m2, lo);
    return 0;
}

/* ---- checks ---------------------------------------------------------------------- */

static void shape_text(char *buf, size_t cap, const int64_t *ne, int n_dims)
{
    size_t at = 0;
    at += (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < n_dims && at < cap; i++)
        at += (size_t)snprintf(buf + at, cap - at, "%s%lld", i ? ", " : "", (long long)ne[i]);
    if (at < cap)
        snprintf(buf + at, cap - at, "]");
}

static int n_dims_of(const int64_t *ne)
{
    int n = GGUF_MAX_DIMS;
    while (n > 1 && ne[n - 1] == 1)
        n--;
    return n;
}

static bool shape_ok(const gm_tensor *t, const gguf_tensor *g)
{
    if (t->vector) {
        int big = 0;
        for (int i = 0; i < GGUF_MAX_DIMS; i++)
            big += g->ne[i] != 1;
        return big <= 1 && g->nelems == (uint64_t)t->ne[0];
    }
    for (int i = 0; i < GGUF_MAX_DIMS; i++)
        if (g->ne[i] != t->ne[i])
            return false;
    return true;
}

/* Finds t in the file and checks its shape and type. */
static const gguf_tensor *find_checked(const gm_ctx *x, const gm_tensor *t, cb_err *err)
{
    const gguf_tensor *g = gguf_find_tensor(x->f, t->name);
    if (!g) {
        cb_fail(err, "%s: tensor %s: missing (the %s layout needs it)", x->path, t->name,
                x->arch);
        return NULL;
    }
    if (!shape_ok(t, g)) {
        char have[96], want[96];
        shape_text(have, sizeof have, g->ne, (int)g->n_dims);
        shape_text(want, sizeof want, t->ne, n_dims_of(t->ne));
        cb_fail(err, "%s: tensor %s: shape %s, want %s", x->path, t->name, have, want);
        return NULL;
    }
    if (!op_qtype_known((int)g->type) ||
        op_qtype_row_bytes((op_qtype)g->type, g->ne[0]) == 0) {
        cb_fail(err, "%s: tensor %s: type %s cannot be dequantised (F32, F16, BF16, Q4_0, "
                "Q4_1, Q5_0, Q5_1, Q8_0, Q2_K..Q8_K)", x->path, t->name,
                gguf_type_name(g->type));
        return NULL;
    }
    return g;
}

/* Every file tensor must be one the layout names (or rope_freqs.weight, read
 * into the config), so nothing the model cannot apply is dropped silently. */
static int check_no_extra(const gm_ctx *x, const gm_layout *lo, cb_err *err)
{
    for (size_t i = 0; i < gguf_tensor_count(x->f); i++) {
        const char *name = gguf_tensor_at(x->f, i)->name;
        bool known = x->kind <= GM_QWEN2 && strcmp(name, "rope_freqs.weight") == 0;
        for (size_t j = 0; !known && j < lo->n; j++)
            known = strcmp(name, lo->t[j].name) == 0;
        if (!known)
            return cb_fail(err, "%s: tensor %s: not part of the %s layout (the model cannot "
                           "use it)", x->path, name, x->arch);
    }
    return 0;
}

/* ---- loading ---------------------------------------------------------------------- */

/* The model's index of row (or vector element) r of a permuted Q/K tensor:
 * within a head of D rows, llama.cpp stores HF row j D/2 + i at 2 i + j. */
static int64_t unpermuted(int64_t r, int64_t D)
{
    int64_t head = r / D, in = r % D;
    return head * D + (in % 2) * (D / 2) + in / 2;
}

/* The model's A_log from the stored A = -exp(A_log), in place. */
static int undo_neg_exp(const gm_ctx *x, const gm_tensor *t, float *v, int64_t n, cb_err *err)
{
    for (int64_t i = 0; i < n; i++) {
        if (!(v[i] < 0) || !isfinite(v[i]))
            return cb_fail(err, "%s: tensor %s: element %lld = %g, want a finite negative A "
                           "(llama.cpp stores A = -exp(A_log))", x->path, t->name,
                           (long long)i, (double)v[i]);
        v[i] = (float)log(-(double)v[i]);
    }
    return 0;
}

/* Reads t (checked: present, shape, type) into its storage: a matrix whose
 * file type is its storage type is copied row by row as it is; anything else
 * is dequantised (and converted to the storage type when it is a matrix). */
static int load_tensor(const gm_ctx *x, const gm_tensor *t, const model_config *c, cb_err *err)
{
    const gguf_tensor *g = find_checked(x, t, err);
    if (!g)
        return -1;
    op_wtype wt = t->emb ? c->emb_wtype : c->wtype;
    int64_t k = g->ne[0], rows = (int64_t)(g->nelems / (uint64_t)k);
    size_t rb = op_qtype_row_bytes((op_qtype)g->type, k), wrb = op_wtype_row_bytes(wt, k);
    bool raw = t->matrix && op_wtype_qtype(wt) == (int)g->type;
    const char *src = gguf_tensor_data(x->f, g);
    int64_t n = (int64_t)g->nelems, D = t->heads ? n / (t->vector ? 1 : k) / t->heads : 0;
    /* matrices go row by row through buf; vectors whole (permuted ones via buf) */
    bool via_buf = t->matrix || (t->xf == XF_UNPERMUTE && t->heads);
    float *buf = via_buf ? malloc((size_t)(t->matrix ? k : n) * sizeof *buf) : NULL;
    if (via_buf && !buf)
        return cb_fail(err, "%s: tensor %s: out of memory", x->path, t->name);
    int rc = 0;
    for (int64_t r = 0; r < rows && rc == 0; r++) {
        char *row = t->matrix ? (char *)t->data + (size_t)(D ? unpermuted(r, D) : r) * wrb : NULL;
        float *dst = via_buf ? (t->matrix ? buf : buf + r * k) : (float *)t->data + r * k;
        if (raw)
            memcpy(row, src + (size_t)r * rb, rb);
        else if (op_dequant_row((op_qtype)g->type, src + (size_t)r * rb, dst, k) < 0)
            rc = cb_fail(err, "%s: tensor %s: cannot dequantise row %lld", x->path, t->name,
                         (long long)r);
        else if (t->matrix)
            op_f32_to_w(buf, wt, row, (size_t)k);
    }
    if (rc == 0 && !t->matrix && via_buf)
        for (int64_t i = 0; i < n; i++)
            ((float *)t->data)[unpermuted(i, D)] = buf[i];
    if (rc == 0 && t->xf == XF_A_LOG)
        rc = undo_neg_exp(x, t, t->data, n, err);
    free(buf);
    return rc;
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

int gguf_model_load_from(const gguf_file *f, op_wtype wtype, op_wtype emb_wtype, int max_context,
                         model_config *cfg, lm_weights *w, cb_err *err)
{
    gm_ctx x;
    gm_layout lo = {0};
    memset(w, 0, sizeof *w);
    if (read_arch(f, &x, err) < 0 || config_of(&x, wtype, emb_wtype, max_context, cfg, err) < 0 ||
        alloc_weights(cfg, w, err) < 0 || layout_build(&x, cfg, w, &lo, err) < 0 ||
        check_no_extra(&x, &lo, err) < 0)
        goto fail;
    for (size_t i = 0; i < lo.n; i++)
        if (load_tensor(&x, &lo.t[i], cfg, err) < 0)
            goto fail;
    free(lo.t);
    return 0;
fail:
    free(lo.t);
    lm_weights_free(w);
    memset(w, 0, sizeof *w);
    return -1;
}

int gguf_model_load(const char *path, op_wtype wtype, op_wtype emb_wtype, int max_context,
                    model_config *cfg, lm_weights *w, cb_err *err)
{
    gguf_file *f = gguf_open(path, err);
    if (!f) {
        memset(w, 0, sizeof *w);
        return -1;
    }
    int rc = gguf_model_load_from(f, wtype, emb_wtype, max_context, cfg, w, err);
    gguf_close(f);
    return rc;
}

/* ---- storage as the file holds it ----------------------------------------------------- */

/* Weights with every per-layer array but no tensor storage: enough for
 * layout_build to name the tensors (their data pointers stay NULL). */
static int shadow_weights(const model_config *c, lm_weights *w, cb_err *err)
{
    memset(w, 0, sizeof *w);
    w->arch = c->arch;
    size_t n = (size_t)c->n_layers;
    bool ok;
    if (c->arch == MODEL_ARCH_TRANSFORMER)
        ok = (w->tf.layers = calloc(n, sizeof *w->tf.layers)) != NULL;
    else if (c->arch == MODEL_ARCH_MAMBA1)
        ok = (w->m1.layers = calloc(n, sizeof *w->m1.layers)) != NULL;
    else
        ok = (w->m2.ssm = calloc(n, sizeof *w->m2.ssm)) != NULL;
    return ok ? 0 : cb_fail(err, "out of memory");
}

static void shadow_free(lm_weights *w)
{
    free(w->tf.layers);
    free(w->m1.layers);
    free(w->m2.ssm);
}

/* The one storage type of every matrix of the layout of one kind (emb: the
 * embedding and LM head; else the layers' matrices), as the file holds them. */
static int stored_type(const gm_ctx *x, const gm_layout *lo, bool emb, op_wtype *out,
                       cb_err *err)
{
    const gm_tensor *first = NULL;
    for (size_t i = 0; i < lo->n; i++) {
        const gm_tensor *t = &lo->t[i];
        if (!t->matrix || t->emb != emb)
            continue;
        const gguf_tensor *g = find_checked(x, t, err);
        if (!g)
            return -1;
        int wt = op_wtype_from_qtype((int)g->type);
        if (wt < 0)
            return cb_fail(err, "%s: tensor %s: type %s cannot be stored as it is (natively: "
                           "f32, f16, bf16, q8_0, q4_0, q4_1); load with wtype f32 (or q8_0) "
                           "to convert it", x->path, t->name, gguf_type_name(g->type));
        if (!first) {
            first = t;
            *out = (op_wtype)wt;
        } else if ((op_wtype)wt != *out) {
            return cb_fail(err, "%s: tensor %s: type %s, but %s is %s; stored as it is, every "
                           "%s must share one type (load with a wtype to convert)", x->path,
                           t->name, gguf_type_name(g->type), first->name, op_wtype_name(*out),
                           emb ? "embedding matrix" : "layer matrix");
        }
    }
    return 0;
}

int gguf_model_native_storage(const gguf_file *f, op_wtype *wtype, op_wtype *emb_wtype,
                              cb_err *err)
{
    gm_ctx x;
    model_config c;
    lm_weights shadow;
    gm_layout lo = {0};
    if (read_arch(f, &x, err) < 0 || config_of(&x, OP_W_F32, OP_W_F32, 1, &c, err) < 0 ||
        shadow_weights(&c, &shadow, err) < 0)
        return -1;
    int rc = layout_build(&x, &c, &shadow, &lo, err) == 0 &&
                     stored_type(&x, &lo, false, wtype, err) == 0 &&
                     stored_type(&x, &lo, true, emb_wtype, err) == 0
                 ? 0
                 : -1;
    free(lo.t);
    shadow_free(&shadow);
    return rc;
}

int gguf_model_storage_named(const gguf_file *f, const char *name, op_wtype *wtype,
                             op_wtype *emb_wtype, cb_err *err)
{
    if (name && strcmp(name, "native") == 0)
        return gguf_model_native_storage(f, wtype, emb_wtype, err);
    int t = op_wtype_parse(name);
    if (t < 0)
        return cb_fail(err, "wtype '%s' is not native, f32, bf16, f16, q8_0, q4_0 or q4_1",
                       name ? name : "");
    *wtype = *emb_wtype = (op_wtype)t;
    return 0;
}
