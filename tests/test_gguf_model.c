/* tests/test_gguf_model.c — GGUF checkpoints into the models of models/
 * (models/gguf_model.h).
 *
 * Each case writes a small GGUF file with gguf_write from the synthetic
 * weights of a tiny config, the way llama.cpp's converter would: tensor
 * names blk.N.*, ggml shapes (ne[0] = columns), the rows of llama's attn_q /
 * attn_k permuted per head for interleaved RoPE (HF row j D/2 + i at row
 * 2 i + j; qwen2 not permuted), Mamba's A stored as -exp(A_log).  The
 * writer here is independent of the loader's table (its own names, shapes
 * and forward permutation).  It also rewrites the in-memory weights to
 * exactly what the file holds (A_log through -exp and log; Q8_0 matrices
 * quantised and dequantised), so that the model built from them is the
 * model the file describes.
 *
 * Checks: the loaded config equals the written one; prefill logits of the
 * loaded model equal those of the model built in memory within 1e-6 of the
 * logit scale (in practice exactly equal: the same fp32 weights, the same
 * kernels), with the matrices written as F32 and as Q8_0 (matrices whose
 * rows are not a whole number of 32-blocks stay F32, as llama.cpp does).
 * Variants: Llama (untied, permuted), a Qwen2-like one (q/k/v biases, tied,
 * theta 1e6, not permuted), a Llama with permuted q/k biases, Mamba-1 and
 * Mamba-2; matrices loaded as bf16 equal the rounded fp32 ones.
 *
 * Bad input, each an error naming the file and the key or tensor, weights
 * zeroed: a missing tensor, a wrong shape, an unknown architecture, an I32
 * matrix, a missing metadata key, an extra tensor the model cannot apply,
 * mamba2 with two groups, a non-negative A, RoPE scaling the model cannot
 * run. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models/gguf.h"
#include "models/gguf_model.h"
#include "models/lm.h"
#include "models/model.h"
#include "models/synth.h"
#include "operators/lowp.h"
#include "operators/quant.h"
#include "tests/support/live_pool.h"
#include "tests/support/model_check.h"

#define SEED 20261201u
#define N_TOK 12
#define MAX_CTX 64
#define MAX_T 128

enum { V_LLAMA, V_QWEN, V_LLAMA_BIAS, V_MAMBA1, V_MAMBA2 };

static model_config variant(int v)
{
    model_config c;
    if (v == V_MAMBA1) {
        c = model_config_mamba1_tiny();
    } else if (v == V_MAMBA2) {
        c = model_config_mamba2_tiny();
        c.chunk = GGUF_MODEL_CHUNK; /* GGUF holds no chunk: the loader's */
    } else {
        c = model_config_tiny();
        if (v == V_QWEN)
            c.qkv_bias = 1, c.tied_embeddings = 1, c.rope_theta = 1e6, c.rms_eps = 1e-6f;
        if (v == V_LLAMA_BIAS)
            c.qkv_bias = 1;
    }
    model_set_wtype(&c, OP_W_F32);
    c.max_context = MAX_CTX;
    return c;
}

static const char *arch_of(int v)
{
    return v == V_MAMBA1 ? "mamba" : v == V_MAMBA2 ? "mamba2" : v == V_QWEN ? "qwen2" : "llama";
}

/* ---- the writer ---------------------------------------------------------------------- */

enum { PLAIN, PERMUTE, NEG_EXP };

/* One tensor as the model holds it (rows x cols fp32, row-major) and how the
 * file stores it. */
typedef struct wt {
    char name[64];
    float *data;
    int64_t ne[2];   /* ggml shape: ne[0] = cols */
    int nd;          /* dims written */
    int matrix;      /* may be written as Q8_0 */
    int kind;
    int heads;       /* PERMUTE */
} wt;

typedef struct wlist {
    wt t[MAX_T];
    int n;
} wlist;

static wt *add(wlist *L, float *data, int64_t ne0, int64_t ne1, int matrix, const char *fmt,
               ...) __attribute__((format(printf, 6, 7)));

static wt *add(wlist *L, float *data, int64_t ne0, int64_t ne1, int matrix, const char *fmt,
               ...)
{
    assert_true(L->n < MAX_T);
    wt *t = &L->t[L->n++];
    memset(t, 0, sizeof *t);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->name, sizeof t->name, fmt, ap);
    va_end(ap);
    t->data = data;
    t->ne[0] = ne0;
    t->ne[1] = ne1 ? ne1 : 1;
    t->nd = ne1 ? 2 : 1;
    t->matrix = matrix;
    return t;
}

static void list_transformer(const model_config *c, tf_weights *w, int permute, wlist *L)
{
    int64_t d = c->d_model, f = c->ffn_dim, q = (int64_t)c->n_heads * c->head_dim;
    int64_t kv = (int64_t)c->n_kv_heads * c->head_dim;
    add(L, w->tok_emb, d, c->vocab, 1, "token_embd.weight");
    for (int l = 0; l < c->n_layers; l++) {
        tf_layer_weights *W = &w->layers[l];
        wt *t;
        add(L, W->attn_norm, d, 0, 0, "blk.%d.attn_norm.weight", l);
        t = add(L, W->wq, d, q, 1, "blk.%d.attn_q.weight", l);
        t->kind = permute ? PERMUTE : PLAIN, t->heads = c->n_heads;
        t = add(L, W->wk, d, kv, 1, "blk.%d.attn_k.weight", l);
        t->kind = permute ? PERMUTE : PLAIN, t->heads = c->n_kv_heads;
        add(L, W->wv, d, kv, 1, "blk.%d.attn_v.weight", l);
        if (c->qkv_bias) {
            t = add(L, W->bq, q, 0, 0, "blk.%d.attn_q.bias", l);
            t->kind = permute ? PERMUTE : PLAIN, t->heads = c->n_heads;
            t = add(L, W->bk, kv, 0, 0, "blk.%d.attn_k.bias", l);
            t->kind = permute ? PERMUTE : PLAIN, t->heads = c->n_kv_heads;
            add(L, W->bv, kv, 0, 0, "blk.%d.attn_v.bias", l);
        }
        add(L, W->wo, q, d, 1, "blk.%d.attn_output.weight", l);
        add(L, W->ffn_norm, d, 0, 0, "blk.%d.ffn_norm.weight", l);
        add(L, W->w_gate, d, f, 1, "blk.%d.ffn_gate.weight", l);
        add(L, W->w_up, d, f, 1, "blk.%d.ffn_up.weight", l);
        add(L, W->w_down, f, d, 1, "blk.%d.ffn_down.weight", l);
    }
    add(L, w->final_norm, d, 0, 0, "output_norm.weight");
    if (!c->tied_embeddings)
        add(L, w->lm_head, d, c->vocab, 1, "output.weight");
}

static void list_mamba1(const model_config *c, m1_weights *w, wlist *L)
{
    int64_t d = c->d_model, di = 2 * d, R = c->dt_rank, N = c->d_state;
    add(L, w->tok_emb, d, c->vocab, 1, "token_embd.weight");
    add(L, w->final_norm, d, 0, 0, "output_norm.weight");
    for (int l = 0; l < c->n_layers; l++) {
        m1_layer_weights *W = &w->layers[l];
        add(L, W->norm, d, 0, 0, "blk.%d.attn_norm.weight", l);
        add(L, W->in_proj, d, 2 * di, 1, "blk.%d.ssm_in.weight", l);
        add(L, W->conv_w, 4, di, 0, "blk.%d.ssm_conv1d.weight", l);
        add(L, W->conv_b, di, 0, 0, "blk.%d.ssm_conv1d.bias", l);
        add(L, W->x_proj, di, R + 2 * N, 1, "blk.%d.ssm_x.weight", l);
        add(L, W->dt_proj_w, R, di, 1, "blk.%d.ssm_dt.weight", l);
        add(L, W->dt_proj_b, di, 0, 0, "blk.%d.ssm_dt.bias", l);
        add(L, W->A_log, N, di, 0, "blk.%d.ssm_a", l)->kind = NEG_EXP;
        add(L, W->D, di, 0, 0, "blk.%d.ssm_d", l);
        add(L, W->out_proj, di, d, 1, "blk.%d.ssm_out.weight", l);
    }
}

static void list_mamba2(const model_config *c, m2_weights *w, wlist *L)
{
    int64_t d = c->d_model, di = 2 * d, N = c->d_state, H = di / c->ssm_head_dim;
    add(L, w->tok_emb, d, c->vocab, 1, "token_embd.weight");
    add(L, w->final_norm, d, 0, 0, "output_norm.weight");
    for (int l = 0; l < c->n_layers; l++) {
        m2_layer_weights *W = &w->ssm[l];
        add(L, W->norm, d, 0, 0, "blk.%d.attn_norm.weight", l);
        add(L, W->in_proj, d, 2 * di + 2 * N + H, 1, "blk.%d.ssm_in.weight", l);
        add(L, W->conv_w, 4, di + 2 * N, 0, "blk.%d.ssm_conv1d.weight", l);
        add(L, W->conv_b, di + 2 * N, 0, 0, "blk.%d.ssm_conv1d.bias", l);
        add(L, W->dt_bias, H, 0, 0, "blk.%d.ssm_dt.bias", l);
        add(L, W->A_log, 1, H, 0, "blk.%d.ssm_a", l)->kind = NEG_EXP; /* [1, H] as llama.cpp */
        add(L, W->D, 1, H, 0, "blk.%d.ssm_d", l);
        add(L, W->gnorm, di, 1, 0, "blk.%d.ssm_norm.weight", l);
        add(L, W->out_proj, di, d, 1, "blk.%d.ssm_out.weight", l);
    }
}

/* What to spoil in a file (bad-input cases); zeroed = a valid file. */
typedef struct spoil {
    const char *drop_tensor;   /* leave this tensor out */
    const char *bad_shape;     /* write this tensor with ne[1] one row short */
    const char *i32_tensor;    /* write this tensor as I32 */
    const char *drop_key;      /* leave this key out */
    const char *arch;          /* general.architecture instead of the variant's */
    const char *extra_tensor;  /* add a tensor of this name (d floats) */
    int groups;                /* mamba2 ssm.group_count, 0 = 1 */
    int positive_a;            /* store +exp(A_log) */
    const char *rope_type;     /* llama.rope.scaling.type */
    const char *f32_tensor;    /* keep this matrix F32 in a Q8_0 file */
} spoil;

/* The kvs of config c for arch a. */
typedef struct kvset {
    gguf_kv kv[24];
    char keys[24][96];
    int n;
} kvset;

static gguf_value *kv_add(kvset *s, const char *a, const char *suffix, gguf_vtype type,
                          const spoil *sp)
{
    char key[96];
    if (a)
        snprintf(key, sizeof key, "%s.%s", a, suffix);
    else
        snprintf(key, sizeof key, "%s", suffix);
    static gguf_value sink;
    if (sp->drop_key && strcmp(sp->drop_key, key) == 0)
        return &sink;
    assert_true(s->n < 24);
    snprintf(s->keys[s->n], sizeof s->keys[s->n], "%s", key);
    gguf_kv *kv = &s->kv[s->n++];
    memset(kv, 0, sizeof *kv);
    kv->key = s->keys[s->n - 1];
    kv->val.type = type;
    return &kv->val;
}

static void kv_u32(kvset *s, const char *a, const char *suffix, uint64_t v, const spoil *sp)
{
    kv_add(s, a, suffix, GGUF_U32, sp)->u64 = v;
}

static void kv_f32(kvset *s, const char *a, const char *suffix, double v, const spoil *sp)
{
    kv_add(s, a, suffix, GGUF_F32, sp)->f64 = v;
}

static void kv_str(kvset *s, const char *a, const char *suffix, const char *v, const spoil *sp)
{
    gguf_value *x = kv_add(s, a, suffix, GGUF_STR, sp);
    x->str.ptr = v;
    x->str.len = strlen(v);
}

static void make_kvs(const model_config *c, const char *a, const spoil *sp, kvset *s)
{
    s->n = 0;
    kv_str(s, NULL, "general.architecture", sp->arch ? sp->arch : a, sp);
    kv_u32(s, a, "block_count", (uint64_t)c->n_layers, sp);
    kv_u32(s, a, "embedding_length", (uint64_t)c->d_model, sp);
    kv_f32(s, a, "attention.layer_norm_rms_epsilon", c->rms_eps, sp);
    if (c->arch == MODEL_ARCH_TRANSFORMER) {
        kv_u32(s, a, "feed_forward_length", (uint64_t)c->ffn_dim, sp);
        kv_u32(s, a, "attention.head_count", (uint64_t)c->n_heads, sp);
        kv_u32(s, a, "attention.head_count_kv", (uint64_t)c->n_kv_heads, sp);
        kv_f32(s, a, "rope.freq_base", c->rope_theta, sp);
        kv_u32(s, a, "rope.dimension_count", (uint64_t)c->head_dim, sp);
        kv_u32(s, a, "context_length", 2048, sp);
        if (sp->rope_type)
            kv_str(s, a, "rope.scaling.type", sp->rope_type, sp);
    } else {
        int di = c->expand * c->d_model;
        kv_u32(s, a, "ssm.conv_kernel", (uint64_t)c->d_conv, sp);
        kv_u32(s, a, "ssm.inner_size", (uint64_t)di, sp);
        kv_u32(s, a, "ssm.state_size", (uint64_t)c->d_state, sp);
        kv_u32(s, a, "ssm.time_step_rank",
               (uint64_t)(c->arch == MODEL_ARCH_MAMBA1 ? c->dt_rank : di / c->ssm_head_dim), sp);
        if (c->arch == MODEL_ARCH_MAMBA2)
            kv_u32(s, a, "ssm.group_count", (uint64_t)(sp->groups ? sp->groups : 1), sp);
    }
}

/* The file row of model row r under llama.cpp's permutation (D rows a head):
 * HF row j D/2 + i goes to 2 i + j. */
static int64_t permuted(int64_t r, int64_t D)
{
    int64_t head = r / D, in = r % D, j = in / (D / 2), i = in % (D / 2);
    return head * D + 2 * i + j;
}

/* Bytes of t as the file stores it (malloc'd), and t->data rewritten to what
 * they hold.  q8: matrices with whole 32-blocks as Q8_0. */
static void *encode(wt *t, int q8, const spoil *sp, uint32_t *type, uint64_t *nbytes)
{
    int64_t k = t->ne[0], rows = t->ne[1], n = k * rows;
    float *f = malloc((size_t)n * sizeof *f);
    assert_non_null(f);
    if (t->kind == PERMUTE) {
        int64_t units = t->matrix ? rows : n, w = t->matrix ? k : 1, D = units / t->heads;
        for (int64_t r = 0; r < units; r++)
            memcpy(f + permuted(r, D) * w, t->data + r * w, (size_t)w * sizeof *f);
    } else {
        memcpy(f, t->data, (size_t)n * sizeof *f);
    }
    if (t->kind == NEG_EXP)
        for (int64_t i = 0; i < n; i++) {
            float A = (float)(-exp((double)t->data[i]));
            f[i] = sp->positive_a ? -A : A;
            t->data[i] = (float)log(-(double)A); /* what the file holds */
        }
    *type = GGUF_T_F32;
    *nbytes = (uint64_t)n * 4;
    if (sp->i32_tensor && strcmp(sp->i32_tensor, t->name) == 0) {
        *type = GGUF_T_I32;
        return f;
    }
    if (!(q8 && t->matrix && k % 32 == 0) || (sp->f32_tensor && !strcmp(sp->f32_tensor, t->name)))
        return f;
    size_t rb = op_qtype_row_bytes(OP_Q_Q8_0, k);
    char *q = malloc((size_t)rows * rb);
    float *back = malloc((size_t)k * sizeof *back);
    assert_non_null(q);
    assert_non_null(back);
    for (int64_t r = 0; r < rows; r++) {
        assert_int_equal(op_quant_row_ref(OP_Q_Q8_0, f + r * k, q + r * rb, k), 0);
        assert_int_equal(op_dequant_row(OP_Q_Q8_0, q + r * rb, back, k), 0);
        /* the model's row is the file's row r unpermuted */
        int64_t mr = r;
        if (t->kind == PERMUTE)
            for (int64_t x = 0; x < rows; x++)
                if (permuted(x, rows / t->heads) == r)
                    mr = x;
        memcpy(t->data + mr * k, back, (size_t)k * sizeof *back);
    }
    free(back);
    free(f);
    *type = GGUF_T_Q8_0;
    *nbytes = (uint64_t)rows * rb;
    return q;
}

/* Writes w (of variant v's config c) to path, rewriting w to the file's
 * values. */
static void write_model(const char *path, int v, const model_config *c, lm_weights *w, int q8,
                        const spoil *sp)
{
    static wlist L;
    L.n = 0;
    if (c->arch == MODEL_ARCH_TRANSFORMER)
        list_transformer(c, &w->tf, v != V_QWEN, &L);
    else if (c->arch == MODEL_ARCH_MAMBA1)
        list_mamba1(c, &w->m1, &L);
    else
        list_mamba2(c, &w->m2, &L);
    static float extra[4096];
    if (sp->extra_tensor)
        add(&L, extra, c->d_model, 0, 0, "%s", sp->extra_tensor);
    gguf_tensor ts[MAX_T];
    void *bytes[MAX_T] = {0};
    int n = 0;
    for (int i = 0; i < L.n; i++) {
        wt *t = &L.t[i];
        if (sp->drop_tensor && strcmp(sp->drop_tensor, t->name) == 0)
            continue;
        gguf_tensor *g = &ts[n];
        memset(g, 0, sizeof *g);
        g->name = t->name;
        g->n_dims = (uint32_t)t->nd;
        g->ne[0] = t->ne[0], g->ne[1] = t->ne[1], g->ne[2] = g->ne[3] = 1;
        bytes[n] = encode(t, q8, sp, &g->type, &g->nbytes);
        g->data = bytes[n];
        if (sp->bad_shape && strcmp(sp->bad_shape, t->name) == 0) {
            g->ne[1] -= 1;
            g->nbytes = g->nbytes / (uint64_t)t->ne[1] * (uint64_t)g->ne[1];
        }
        g->nelems = (uint64_t)(g->ne[0] * g->ne[1]);
        n++;
    }
    kvset kvs;
    make_kvs(c, arch_of(v), sp, &kvs);
    cb_err err = {{0}};
    int rc = gguf_write(path, 3, kvs.kv, (size_t)kvs.n, ts, (size_t)n, &err);
    for (int i = 0; i < n; i++)
        free(bytes[i]);
    if (rc != 0)
        fail_msg("gguf_write: %s", err.msg);
}

/* ---- models over either source -------------------------------------------------------- */

static void synth(const model_config *c, lm_weights *w)
{
    cb_err err = {{0}};
    memset(w, 0, sizeof *w);
    w->arch = c->arch;
    int rc = c->arch == MODEL_ARCH_TRANSFORMER ? synth_transformer(c, SEED, &w->tf, &err)
             : c->arch == MODEL_ARCH_MAMBA1    ? synth_mamba1(c, SEED, &w->m1, &err)
                                               : synth_mamba2(c, SEED, &w->m2, &err);
    if (rc != 0)
        fail_msg("synth: %s", err.msg);
}

static void tmp_path(char path[64])
{
    snprintf(path, 64, "/tmp/ctxbench-gguf-model-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
}

static void expect_same_config(const model_config *a, const model_config *b)
{
    assert_int_equal(a->arch, b->arch);
    assert_int_equal(a->vocab, b->vocab);
    assert_int_equal(a->d_model, b->d_model);
    assert_int_equal(a->n_layers, b->n_layers);
    assert_true(a->rms_eps == b->rms_eps);
    assert_int_equal(a->tied_embeddings, b->tied_embeddings);
    assert_int_equal(a->wtype, b->wtype);
    if (a->arch == MODEL_ARCH_TRANSFORMER) {
        assert_int_equal(a->n_heads, b->n_heads);
        assert_int_equal(a->n_kv_heads, b->n_kv_heads);
        assert_int_equal(a->head_dim, b->head_dim);
        assert_int_equal(a->ffn_dim, b->ffn_dim);
        assert_true(a->rope_theta == b->rope_theta);
        assert_int_equal(a->qkv_bias, b->qkv_bias);
        assert_int_equal(a->rope_llama3, b->rope_llama3);
        assert_int_equal(a->max_context, b->max_context);
    } else {
        assert_int_equal(a->d_state, b->d_state);
        assert_int_equal(a->d_conv, b->d_conv);
        assert_int_equal(a->expand, b->expand);
        assert_int_equal(a->dt_rank, a->arch == MODEL_ARCH_MAMBA1 ? b->dt_rank : 0);
        assert_int_equal(a->ssm_head_dim, b->ssm_head_dim);
        assert_int_equal(a->chunk, b->chunk);
    }
}

/* Prefill logits (N_TOK, vocab) of a model of c over w (taken). */
static float *prefill(tsup_live *live, const model_config *c, lm_weights *w, const int *toks)
{
    cb_err err = {{0}};
    lm *m = NULL;
    pool_part part;
    tsup_part_first(live, 2, &part);
    if (lm_create(c, w, N_TOK, &m, &err) != 0)
        fail_msg("lm_create: %s", err.msg);
    float *out = malloc((size_t)N_TOK * (size_t)c->vocab * sizeof *out);
    assert_non_null(out);
    if (lm_prefill(m, live->p, &part, toks, N_TOK, NULL, out, &err) != 0)
        fail_msg("lm_prefill: %s", err.msg);
    lm_free(m);
    return out;
}

/* Writes variant v (matrices F32 or Q8_0), loads it, and compares logits with
 * the model of the in-memory weights the file holds. */
static void round_trip(void **state, int v, int q8)
{
    tsup_live *live = *state;
    model_config c = variant(v), got;
    lm_weights mem, loaded;
    char path[64];
    cb_err err = {{0}};
    synth(&c, &mem);
    tmp_path(path);
    spoil none = {0};
    write_model(path, v, &c, &mem, q8, &none);
    int rc = gguf_model_load(path, OP_W_F32, OP_W_F32, MAX_CTX, &got, &loaded, &err);
    unlink(path);
    if (rc != 0)
        fail_msg("gguf_model_load: %s", err.msg);
    expect_same_config(&got, &c);
    int toks[N_TOK];
    tsup_tokens(toks, N_TOK, c.vocab, (uint64_t)v);
    float *want = prefill(live, &c, &mem, toks);
    float *have = prefill(live, &got, &loaded, toks);
    char what[64];
    snprintf(what, sizeof what, "%s %s", arch_of(v), q8 ? "q8_0" : "f32");
    double worst = tsup_check_logits(what, have, want, N_TOK * c.vocab, 1e-6);
    print_message("  %s: worst relative logit difference %.3g\n", what, worst);
    free(want);
    free(have);
}

static void test_01_llama_f32(void **s) { round_trip(s, V_LLAMA, 0); }
static void test_02_llama_q8_0(void **s) { round_trip(s, V_LLAMA, 1); }
static void test_03_qwen2_f32(void **s) { round_trip(s, V_QWEN, 0); }
static void test_04_qwen2_q8_0(void **s) { round_trip(s, V_QWEN, 1); }
static void test_05_llama_bias_f32(void **s) { round_trip(s, V_LLAMA_BIAS, 0); }
static void test_06_mamba1_f32(void **s) { round_trip(s, V_MAMBA1, 0); }
static void test_07_mamba1_q8_0(void **s) { round_trip(s, V_MAMBA1, 1); }
static void test_08_mamba2_f32(void **s) { round_trip(s, V_MAMBA2, 0); }
static void test_09_mamba2_q8_0(void **s) { round_trip(s, V_MAMBA2, 1); }

/* The permutation is undone, not ignored: the loaded wq equals the in-memory
 * one row for row, and differs from the file's (permuted) rows. */
static void test_10_permutation_undone(void **state)
{
    (void)state;
    model_config c = variant(V_LLAMA), got;
    lm_weights mem, loaded;
    char path[64];
    cb_err err = {{0}};
    synth(&c, &mem);
    tmp_path(path);
    spoil none = {0};
    write_model(path, V_LLAMA, &c, &mem, 0, &none);
    gguf_file *f = gguf_open(path, &err);
    assert_non_null(f);
    const gguf_tensor *t = gguf_find_tensor(f, "blk.1.attn_k.weight");
    assert_non_null(t);
    size_t bytes = (size_t)c.n_kv_heads * (size_t)c.head_dim * (size_t)c.d_model * 4;
    assert_int_equal(gguf_model_load_from(f, OP_W_F32, OP_W_F32, MAX_CTX, &got, &loaded, &err), 0);
    assert_memory_equal(loaded.tf.layers[1].wk, mem.tf.layers[1].wk, bytes);
    assert_memory_not_equal(gguf_tensor_data(f, t), mem.tf.layers[1].wk, bytes);
    gguf_close(f);
    unlink(path);
    lm_weights_free(&mem);
    lm_weights_free(&loaded);
}

/* Matrices loaded as bf16 are the fp32 values rounded; vectors stay fp32. */
static void test_11_bf16_storage(void **state)
{
    (void)state;
    model_config c = variant(V_QWEN), got;
    lm_weights mem, loaded;
    char path[64];
    cb_err err = {{0}};
    synth(&c, &mem);
    tmp_path(path);
    spoil none = {0};
    write_model(path, V_QWEN, &c, &mem, 0, &none);
    assert_int_equal(gguf_model_load(path, OP_W_BF16, OP_W_BF16, MAX_CTX, &got, &loaded, &err), 0);
    unlink(path);
    assert_int_equal(got.wtype, OP_W_BF16);
    size_t n = (size_t)c.ffn_dim * (size_t)c.d_model;
    uint16_t *want = malloc(n * 2);
    assert_non_null(want);
    op_f32_to_w(mem.tf.layers[0].w_down, OP_W_BF16, want, n);
    assert_memory_equal(loaded.tf.layers[0].w_down, want, n * 2);
    assert_memory_equal(loaded.tf.layers[1].bq, mem.tf.layers[1].bq,
                        (size_t)c.n_heads * (size_t)c.head_dim * 4);
    free(want);
    lm_weights_free(&mem);
    lm_weights_free(&loaded);
}

/* ---- bad input ------------------------------------------------------------------------ */

/* Writes variant v spoiled by sp; loading must fail naming every string of
 * `names` and the file, with the weights zeroed. */
static void expect_refused(int v, spoil sp, const char *name1, const char *name2)
{
    model_config c = variant(v), got;
    lm_weights mem, loaded;
    char path[64];
    cb_err err = {{0}};
    synth(&c, &mem);
    tmp_path(path);
    write_model(path, v, &c, &mem, 0, &sp);
    memset(&loaded, 0xab, sizeof loaded);
    int rc = gguf_model_load(path, OP_W_F32, OP_W_F32, MAX_CTX, &got, &loaded, &err);
    unlink(path);
    lm_weights_free(&mem);
    assert_int_equal(rc, -1);
    if (!strstr(err.msg, path) || !strstr(err.msg, name1) || (name2 && !strstr(err.msg, name2)))
        fail_msg("error does not name %s / %s / %s: %s", path, name1, name2 ? name2 : "", err.msg);
    lm_weights zero;
    memset(&zero, 0, sizeof zero);
    assert_memory_equal(&loaded, &zero, sizeof zero);
    print_message("  refused: %s\n", err.msg);
}

static void test_12_missing_tensor(void **s)
{
    (void)s;
    expect_refused(V_LLAMA, (spoil){.drop_tensor = "blk.1.ffn_up.weight"},
                   "blk.1.ffn_up.weight", "missing");
    expect_refused(V_MAMBA1, (spoil){.drop_tensor = "blk.2.ssm_a"}, "blk.2.ssm_a", "missing");
    /* untied without its head is a different config: a missing token_embd is named */
    expect_refused(V_QWEN, (spoil){.drop_tensor = "token_embd.weight"}, "token_embd.weight",
                   NULL);
}

static void test_13_wrong_shape(void **s)
{
    (void)s;
    expect_refused(V_LLAMA, (spoil){.bad_shape = "blk.0.attn_q.weight"}, "blk.0.attn_q.weight",
                   "shape [64, 63], want [64, 64]");
    expect_refused(V_MAMBA2, (spoil){.bad_shape = "blk.3.ssm_conv1d.weight"},
                   "blk.3.ssm_conv1d.weight", "want [4, 160]");
}

static void test_14_unknown_architecture(void **s)
{
    (void)s;
    expect_refused(V_LLAMA, (spoil){.arch = "gptneox"}, "general.architecture", "gptneox");
    expect_refused(V_LLAMA, (spoil){.drop_key = "general.architecture"},
                   "general.architecture", NULL);
}

static void test_15_undequantisable_type(void **s)
{
    (void)s;
    expect_refused(V_LLAMA, (spoil){.i32_tensor = "blk.1.attn_output.weight"},
                   "blk.1.attn_output.weight", "I32");
}

static void test_16_missing_key(void **s)
{
    (void)s;
    expect_refused(V_LLAMA, (spoil){.drop_key = "llama.attention.head_count"},
                   "llama.attention.head_count", NULL);
    expect_refused(V_MAMBA1, (spoil){.drop_key = "mamba.ssm.time_step_rank"},
                   "mamba.ssm.time_step_rank", NULL);
    expect_refused(V_MAMBA2, (spoil){.drop_key = "mamba2.attention.layer_norm_rms_epsilon"},
                   "mamba2.attention.layer_norm_rms_epsilon", NULL);
}

static void test_17_what_the_model_cannot_run(void **s)
{
    (void)s;
    expect_refused(V_LLAMA, (spoil){.extra_tensor = "blk.0.attn_output.bias"},
                   "blk.0.attn_output.bias", "not part of the llama layout");
    expect_refused(V_MAMBA2, (spoil){.groups = 2}, "mamba2.ssm.group_count", NULL);
    expect_refused(V_MAMBA1, (spoil){.positive_a = 1}, "blk.0.ssm_a", "negative");
    expect_refused(V_LLAMA, (spoil){.rope_type = "yarn"}, "llama.rope.scaling.type", "yarn");
}

/* The reference forward's logits of N_TOK tokens (ctx: max context). */
static float *forward_ref(const model_config *c, lm_weights *w, const int *toks)
{
    cb_err err = {{0}};
    lm *m = NULL;
    if (lm_create(c, w, N_TOK, &m, &err) != 0)
        fail_msg("lm_create: %s", err.msg);
    float *out = malloc((size_t)N_TOK * (size_t)c->vocab * sizeof *out);
    assert_non_null(out);
    if (lm_forward_ref(m, toks, N_TOK, out, &err) != 0)
        fail_msg("lm_forward_ref: %s", err.msg);
    lm_free(m);
    return out;
}

/* wtype native keeps a Q8_0 file's matrices as the file holds them: rows
 * copied byte for byte (the Q/K rows only moved back to their unpermuted
 * places), the same model as the file loaded as f32 (the reference forwards,
 * which dequantise exactly, agree); a file whose matrices mix types, or a
 * storage name no type has, is refused naming it. */
static void test_18_native_storage(void **state)
{
    (void)state;
    model_config c = variant(V_LLAMA), nat, f32c;
    lm_weights mem, wn, wf;
    char path[64];
    cb_err err = {{0}};
    synth(&c, &mem);
    tmp_path(path);
    spoil none = {0};
    write_model(path, V_LLAMA, &c, &mem, 1, &none);
    lm_weights_free(&mem);
    gguf_file *f = gguf_open(path, &err);
    assert_non_null(f);
    op_wtype lt, emb;
    assert_int_equal(gguf_model_storage_named(f, "native", &lt, &emb, &err), 0);
    assert_int_equal(lt, OP_W_Q8_0);
    assert_int_equal(emb, OP_W_Q8_0);
    assert_int_equal(gguf_model_load_from(f, lt, emb, MAX_CTX, &nat, &wn, &err), 0);
    assert_int_equal(gguf_model_load_from(f, OP_W_F32, OP_W_F32, MAX_CTX, &f32c, &wf, &err), 0);
    const gguf_tensor *tk = gguf_find_tensor(f, "blk.1.attn_k.weight");
    const gguf_tensor *td = gguf_find_tensor(f, "blk.0.ffn_down.weight");
    const gguf_tensor *te = gguf_find_tensor(f, "token_embd.weight");
    size_t rb = op_qtype_row_bytes(OP_Q_Q8_0, c.d_model);
    for (int64_t x = 0; x < tk->ne[1]; x++)
        assert_memory_equal((const char *)wn.tf.layers[1].wk + (size_t)x * rb,
                            (const char *)gguf_tensor_data(f, tk) + permuted(x, c.head_dim) * rb,
                            rb);
    assert_memory_equal(wn.tf.layers[0].w_down, gguf_tensor_data(f, td), td->nbytes);
    assert_memory_equal(wn.tf.tok_emb, gguf_tensor_data(f, te), te->nbytes);
    int toks[N_TOK];
    tsup_tokens(toks, N_TOK, c.vocab, 7);
    float *a = forward_ref(&nat, &wn, toks), *b = forward_ref(&f32c, &wf, toks);
    tsup_check_logits("native against f32", a, b, N_TOK * c.vocab, 1e-6);
    free(a);
    free(b);
    assert_int_equal(gguf_model_storage_named(f, "q5_k", &lt, &emb, &err), -1);
    assert_non_null(strstr(err.msg, "q5_k"));
    gguf_close(f);
    synth(&c, &mem);
    write_model(path, V_LLAMA, &c, &mem, 1, &(spoil){.f32_tensor = "blk.1.ffn_up.weight"});
    lm_weights_free(&mem);
    f = gguf_open(path, &err);
    assert_non_null(f);
    assert_int_equal(gguf_model_native_storage(f, &lt, &emb, &err), -1);
    if (!strstr(err.msg, "blk.1.ffn_up.weight") || !strstr(err.msg, "F32"))
        fail_msg("the mixed-type error does not name the tensor and its type: %s", err.msg);
    print_message("  refused: %s\n", err.msg);
    gguf_close(f);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_01_llama_f32),
        cmocka_unit_test(test_02_llama_q8_0),
        cmocka_unit_test(test_03_qwen2_f32),
        cmocka_unit_test(test_04_qwen2_q8_0),
        cmocka_unit_test(test_05_llama_bias_f32),
        cmocka_unit_test(test_06_mamba1_f32),
        cmocka_unit_test(test_07_mamba1_q8_0),
        cmocka_unit_test(test_08_mamba2_f32),
        cmocka_unit_test(test_09_mamba2_q8_0),
        cmocka_unit_test(test_10_permutation_undone),
        cmocka_unit_test(test_11_bf16_storage),
        cmocka_unit_test(test_12_missing_tensor),
        cmocka_unit_test(test_13_wrong_shape),
        cmocka_unit_test(test_14_unknown_architecture),
        cmocka_unit_test(test_15_undequantisable_type),
        cmocka_unit_test(test_16_missing_key),
        cmocka_unit_test(test_17_what_the_model_cannot_run),
        cmocka_unit_test(test_18_native_storage),
    };
    return cmocka_run_group_tests(tests, tsup_live_setup, tsup_live_teardown);
}
