/* tests/test_checkpoint.c — Hugging Face checkpoints (models/checkpoint.h):
 * config.json to model_config, tensors to weights, and the writer.
 *
 * Round trips: tiny synthetic models (model.h's tiny configs: Llama untied,
 * Qwen2-like with q/k/v biases and tied embeddings, Llama 3 RoPE scaling,
 * Mamba-1 tied and untied, Mamba-2) with wtype bf16, so every matrix is
 * exactly representable in BF16, saved with BF16 matrices in 2 shards (and
 * F32 matrices in 1 shard, F16 matrices), read back with wtype bf16 and f32.
 * The config read back equals the one written; a prefill of the loaded
 * model equals a prefill of the model built from the in-memory weights, and
 * so does the reference forward; saving the loaded weights again writes
 * byte-identical files.
 *
 * Tolerance: none — logits are compared for exact equality.  Loaded with
 * wtype bf16 the weights are bit for bit those in memory, and the same
 * kernels run on them.  Loaded with wtype f32 they are the exact fp32 values
 * of the bf16 ones, and the reference forward (op_gemv_w_ref converts
 * exactly and sums in double in the same order) gives the same logits; the
 * fast prefill (GEMM with the bf16 panels converted exactly while packing,
 * then the same micro-kernel) does too, which this test checks.
 *
 * Bad input, each an error naming the file and the tensor or field, the
 * weights zeroed, never a crash: a missing tensor, a wrong shape, an I32
 * tensor, a truncated shard, an index naming a missing shard, config.json
 * missing a field or with absurd values, RoPE scaling the model cannot run,
 * Mamba-2 with n_groups 2, a Llama config over Mamba tensors, an untied
 * config without lm_head.weight, a folder with only pytorch_model.bin. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models/checkpoint.h"
#include "models/mamba1.h"
#include "models/mamba2.h"
#include "models/model.h"
#include "models/safetensors.h"
#include "models/synth.h"
#include "models/transformer.h"
#include "tests/support/live_pool.h"
#include "tests/support/model_check.h"
#include "util/text.h"

#define SEED 20261123u
#define N_TOK 12 /* crosses the Mamba-2 tiny chunk of 8 */
#define MAX_CTX 64

enum { V_LLAMA, V_QWEN_TIED, V_LLAMA3, V_MAMBA1, V_MAMBA1_UNTIED, V_MAMBA2, N_VARIANTS };

static model_config variant(int v)
{
    model_config c;
    switch (v) {
    case V_QWEN_TIED:
        c = model_config_tiny();
        c.qkv_bias = 1, c.tied_embeddings = 1, c.rope_theta = 1e6, c.rms_eps = 1e-6f;
        break;
    case V_LLAMA3:
        c = model_config_tiny();
        c.rope_llama3 = 1, c.rope_factor = 8, c.rope_original_max_pos = 16, c.rope_theta = 5e5;
        break;
    case V_MAMBA1:
        c = model_config_mamba1_tiny();
        break;
    case V_MAMBA1_UNTIED:
        c = model_config_mamba1_tiny();
        c.tied_embeddings = 0, c.n_layers = 2;
        break;
    case V_MAMBA2:
        c = model_config_mamba2_tiny();
        break;
    default:
        c = model_config_tiny();
        break;
    }
    model_set_wtype(&c, OP_W_BF16);
    c.max_context = MAX_CTX;
    return c;
}

/* ---- a temporary folder -------------------------------------------------------------- */

static void make_tmpdir(char dir[64])
{
    snprintf(dir, 64, "/tmp/ctxbench-ckpt-XXXXXX");
    if (!mkdtemp(dir))
        fail_msg("mkdtemp failed");
}

/* Removes dir and the files in it (the checkpoints here are flat). */
static void remove_tmpdir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[512];
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    if (d)
        closedir(d);
    assert_int_equal(rmdir(dir), 0);
}

static void path_in(char *out, size_t cap, const char *dir, const char *file)
{
    snprintf(out, cap, "%s/%s", dir, file);
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

static void weights_free(lm_weights *w)
{
    tf_weights_free(&w->tf);
    m1_weights_free(&w->m1);
    m2_weights_free(&w->m2);
}

static int weights_zeroed(const lm_weights *w)
{
    static const lm_weights zero;
    return memcmp(w, &zero, sizeof zero) == 0;
}

typedef struct model {
    tf_model *tf;
    m1_model *m1;
    m2_model *m2;
} model;

/* Creates a model of c over w (taking it). */
static model model_make(const model_config *c, lm_weights *w)
{
    cb_err err = {{0}};
    model m = {0};
    int rc = c->arch == MODEL_ARCH_TRANSFORMER ? tf_create(c, &w->tf, N_TOK, &m.tf, &err)
             : c->arch == MODEL_ARCH_MAMBA1    ? m1_create(c, &w->m1, N_TOK, &m.m1, &err)
                                               : m2_create(c, &w->m2, N_TOK, &m.m2, &err);
    if (rc != 0)
        fail_msg("create: %s", err.msg);
    return m;
}

static void model_free(model *m)
{
    tf_free(m->tf);
    m1_free(m->m1);
    m2_free(m->m2);
}

/* Logits (N_TOK, vocab) of a fast prefill and of the reference forward. */
static void model_logits(model *m, tsup_live *l, const int *tok, float *fast, float *ref)
{
    cb_err err = {{0}};
    pool_part part;
    tsup_part_first(l, 2, &part);
    int rc = m->tf ? tf_prefill(m->tf, l->p, &part, tok, N_TOK, NULL, fast, &err)
             : m->m1 ? m1_prefill(m->m1, l->p, &part, tok, N_TOK, NULL, fast, &err)
                     : m2_prefill(m->m2, l->p, &part, tok, N_TOK, NULL, fast, &err);
    if (rc != 0)
        fail_msg("prefill: %s", err.msg);
    rc = m->tf ? tf_forward_ref(m->tf, tok, N_TOK, ref, NULL, &err)
         : m->m1 ? m1_forward_ref(m->m1, tok, N_TOK, ref, NULL, &err)
                 : m2_forward_ref(m->m2, tok, N_TOK, ref, NULL, &err);
    if (rc != 0)
        fail_msg("reference forward: %s", err.msg);
}

/* The fields of c's architecture are those of want (wtype aside). */
static void assert_config_same(const model_config *got, const model_config *want)
{
    assert_int_equal(got->arch, want->arch);
    assert_int_equal(got->vocab, want->vocab);
    assert_int_equal(got->d_model, want->d_model);
    assert_int_equal(got->n_layers, want->n_layers);
    assert_true(got->rms_eps == want->rms_eps);
    assert_int_equal(got->tied_embeddings, want->tied_embeddings);
    assert_int_equal(got->max_context, want->max_context);
    if (want->arch == MODEL_ARCH_TRANSFORMER) {
        assert_int_equal(got->n_heads, want->n_heads);
        assert_int_equal(got->n_kv_heads, want->n_kv_heads);
        assert_int_equal(got->head_dim, want->head_dim);
        assert_int_equal(got->ffn_dim, want->ffn_dim);
        assert_true(got->rope_theta == want->rope_theta);
        assert_int_equal(got->qkv_bias, want->qkv_bias);
        assert_int_equal(got->rope_llama3, want->rope_llama3);
        if (want->rope_llama3) {
            assert_true(got->rope_factor == want->rope_factor);
            assert_true(got->rope_low_freq_factor == want->rope_low_freq_factor);
            assert_true(got->rope_high_freq_factor == want->rope_high_freq_factor);
            assert_true(got->rope_original_max_pos == want->rope_original_max_pos);
        }
        return;
    }
    assert_int_equal(got->d_state, want->d_state);
    assert_int_equal(got->d_conv, want->d_conv);
    assert_int_equal(got->expand, want->expand);
    if (want->arch == MODEL_ARCH_MAMBA1) {
        assert_int_equal(got->dt_rank, want->dt_rank);
    } else {
        assert_int_equal(got->ssm_head_dim, want->ssm_head_dim);
        assert_int_equal(got->chunk, want->chunk);
    }
}

/* Every file of a (by name) is in b with the same bytes, and vice versa. */
static void assert_same_files(const char *a, const char *b)
{
    int na = 0, nb = 0;
    DIR *d = opendir(b);
    for (struct dirent *e; d && (e = readdir(d));)
        nb += e->d_name[0] != '.';
    closedir(d);
    d = opendir(a);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        na++;
        char pa[512], pb[512];
        path_in(pa, sizeof pa, a, e->d_name);
        path_in(pb, sizeof pb, b, e->d_name);
        size_t la, lb;
        cb_err err = {{0}};
        char *xa = cb_read_file(pa, &la, &err), *xb = cb_read_file(pb, &lb, &err);
        if (!xa || !xb || la != lb || memcmp(xa, xb, la) != 0)
            fail_msg("%s differs between the two saves", e->d_name);
        free(xa);
        free(xb);
    }
    closedir(d);
    assert_int_equal(na, nb);
}

/* Saves variant c's synthetic weights with mdt in n_shards, loads them back
 * as each wtype in turn and checks config, logits (exactly) and a re-save. */
static void round_trip(tsup_live *l, model_config c, st_dtype mdt, int n_shards)
{
    char dir[64], again[64];
    cb_err err = {{0}};
    make_tmpdir(dir);
    make_tmpdir(again);
    lm_weights w;
    synth(&c, &w);
    if (ckpt_save(dir, &c, &w, mdt, n_shards, &err) != 0)
        fail_msg("ckpt_save: %s", err.msg);
    model mem = model_make(&c, &w);
    size_t n = (size_t)N_TOK * (size_t)c.vocab;
    float *want = malloc(n * sizeof *want), *want_ref = malloc(n * sizeof *want);
    float *got = malloc(n * sizeof *got), *got_ref = malloc(n * sizeof *got);
    int tok[N_TOK];
    tsup_tokens(tok, N_TOK, c.vocab, 7);
    model_logits(&mem, l, tok, want, want_ref);
    const op_wtype wtypes[] = {OP_W_BF16, OP_W_F32};
    for (int i = 0; i < 2; i++) {
        model_config got_c;
        lm_weights lw;
        if (ckpt_load(dir, wtypes[i], MAX_CTX, &got_c, &lw, &err) != 0)
            fail_msg("ckpt_load: %s", err.msg);
        assert_config_same(&got_c, &c);
        assert_int_equal(got_c.wtype, wtypes[i]);
        if (wtypes[i] == c.wtype) { /* the same bytes written again */
            if (ckpt_save(again, &got_c, &lw, mdt, n_shards, &err) != 0)
                fail_msg("ckpt_save again: %s", err.msg);
            assert_same_files(dir, again);
        }
        model m = model_make(&got_c, &lw);
        model_logits(&m, l, tok, got, got_ref);
        if (memcmp(got_ref, want_ref, n * sizeof *got) != 0)
            fail_msg("%s: reference logits differ after loading as %s", model_arch_name(c.arch),
                     op_wtype_name(wtypes[i]));
        if (memcmp(got, want, n * sizeof *got) != 0)
            fail_msg("%s: prefill logits differ after loading as %s", model_arch_name(c.arch),
                     op_wtype_name(wtypes[i]));
        model_free(&m);
    }
    model_free(&mem);
    free(want), free(want_ref), free(got), free(got_ref);
    remove_tmpdir(dir);
    remove_tmpdir(again);
}

/* ---- round trips ------------------------------------------------------------------------ */

static void test_01_round_trip_bf16_two_shards(void **state)
{
    for (int v = 0; v < N_VARIANTS; v++)
        round_trip(*state, variant(v), ST_BF16, 2);
}

static void test_02_round_trip_f32_one_shard(void **state)
{
    for (int v = 0; v < N_VARIANTS; v++)
        round_trip(*state, variant(v), ST_F32, 1);
}

/* The files the writer lays out: shard names, the index's weight_map and
 * total_size, each tensor's dtype, conv1d as (C, 1, 4), no lm_head when tied;
 * a single file is not written under an existing index. */
static void test_03_layout_on_disk(void **state)
{
    char dir[64], p[512];
    cb_err err = {{0}};
    make_tmpdir(dir);
    model_config c = variant(V_MAMBA1);
    lm_weights w;
    synth(&c, &w);
    assert_int_equal(ckpt_save(dir, &c, &w, ST_BF16, 3, &err), 0);
    path_in(p, sizeof p, dir, "model.safetensors.index.json");
    json_t *index = json_load_file(p, 0, NULL);
    assert_non_null(index);
    json_t *map = json_object_get(index, "weight_map");
    assert_string_equal(json_string_value(json_object_get(map, "backbone.embeddings.weight")),
                        "model-00001-of-00003.safetensors");
    assert_null(json_object_get(map, "lm_head.weight"));
    assert_int_equal(json_object_size(map), 2 + 10 * (size_t)c.n_layers);
    size_t total = 0;
    st_set *s = st_set_open(dir, &err);
    assert_non_null(s);
    for (size_t i = 0; i < st_set_count(s); i++)
        total += st_set_tensor(s, i)->nbytes;
    assert_int_equal(json_integer_value(json_object_get(json_object_get(index, "metadata"),
                                                        "total_size")),
                     total);
    int64_t conv[3] = {128, 1, 4}, emb[2] = {97, 64}, alog[2] = {128, 16};
    assert_non_null(st_expect(s, "backbone.layers.3.mixer.conv1d.weight", ST_F32, 3, conv, &err));
    assert_non_null(st_expect(s, "backbone.embeddings.weight", ST_BF16, 2, emb, &err));
    assert_non_null(st_expect(s, "backbone.layers.0.mixer.A_log", ST_F32, 2, alog, &err));
    st_set_close(s);
    json_decref(index);
    path_in(p, sizeof p, dir, "model-00003-of-00003.safetensors");
    assert_int_equal(access(p, F_OK), 0);
    /* One file over a sharded checkpoint would be shadowed by the old index. */
    assert_int_equal(ckpt_save(dir, &c, &w, ST_BF16, 1, &err), -1);
    assert_non_null(strstr(err.msg, "model.safetensors.index.json"));
    weights_free(&w);
    remove_tmpdir(dir);
}

/* F16 matrices: the writer rounds bf16 to f16; reading them as f16 copies,
 * so a re-save is identical; reading as f32 widens exactly. */
static void test_04_f16_matrices(void **state)
{
    char dir[64], again[64];
    cb_err err = {{0}};
    make_tmpdir(dir);
    make_tmpdir(again);
    model_config c = variant(V_LLAMA), got;
    lm_weights w, lw;
    synth(&c, &w);
    assert_int_equal(ckpt_save(dir, &c, &w, ST_F16, 2, &err), 0);
    assert_int_equal(ckpt_load(dir, OP_W_F16, MAX_CTX, &got, &lw, &err), 0);
    assert_int_equal(ckpt_save(again, &got, &lw, ST_F16, 2, &err), 0);
    assert_same_files(dir, again);
    /* One element checked by hand: bf16 -> f16 -> f32 */
    uint16_t b, h;
    memcpy(&b, (const char *)w.tf.layers[1].w_up + 2 * 77, 2);
    memcpy(&h, (const char *)lw.tf.layers[1].w_up + 2 * 77, 2);
    assert_int_equal(h, op_f32_to_f16(op_bf16_to_f32(b)));
    weights_free(&lw);
    assert_int_equal(ckpt_load(dir, OP_W_F32, MAX_CTX, &got, &lw, &err), 0);
    float f;
    memcpy(&f, (const char *)lw.tf.layers[1].w_up + 4 * 77, 4);
    assert_true(f == op_f16_to_f32(h));
    weights_free(&lw);
    weights_free(&w);
    remove_tmpdir(dir);
    remove_tmpdir(again);
}

/* ---- helpers that spoil a written checkpoint --------------------------------------------- */

typedef enum { DROP, TRANSPOSE, TO_I32, RENAME } spoil;

/* Rewrites the single-file checkpoint in dir with tensor `name` dropped,
 * transposed (shape only), retyped I32 (an F32 tensor: same bytes) or
 * renamed to new_name. */
static void spoil_tensor(const char *dir, const char *name, spoil how, const char *new_name)
{
    char p[512];
    cb_err err = {{0}};
    path_in(p, sizeof p, dir, "model.safetensors");
    st_file *f = st_file_open(p, &err);
    if (!f)
        fail_msg("%s", err.msg);
    size_t n = st_file_count(f), k = 0;
    st_tensor *ts = calloc(n, sizeof *ts);
    char **names = calloc(n, sizeof *names);
    void **data = calloc(n, sizeof *data);
    int hit = 0;
    for (size_t i = 0; i < n; i++) {
        const st_tensor *t = st_file_tensor(f, i);
        int me = strcmp(t->name, name) == 0;
        hit |= me;
        if (me && how == DROP)
            continue;
        ts[k] = *t;
        names[k] = strdup(me && how == RENAME ? new_name : t->name);
        ts[k].name = names[k];
        data[k] = malloc(t->nbytes + 1);
        memcpy(data[k], t->data, t->nbytes);
        ts[k].data = data[k];
        if (me && how == TRANSPOSE)
            ts[k].shape[0] = t->shape[1], ts[k].shape[1] = t->shape[0];
        if (me && how == TO_I32)
            ts[k].dtype = ST_I32;
        k++;
    }
    st_file_close(f); /* before the file under the mapping is rewritten */
    assert_true(hit);
    if (st_write(p, ts, k, NULL, &err) != 0)
        fail_msg("%s", err.msg);
    for (size_t i = 0; i < k; i++)
        free(names[i]), free(data[i]);
    free(names), free(data), free(ts);
}

/* Sets key of dir's config.json to v (taken), or deletes it when v is NULL. */
static void edit_config(const char *dir, const char *key, json_t *v)
{
    char p[512];
    path_in(p, sizeof p, dir, "config.json");
    json_t *j = json_load_file(p, 0, NULL);
    assert_non_null(j);
    if (v)
        json_object_set_new(j, key, v);
    else
        json_object_del(j, key);
    assert_int_equal(json_dump_file(j, p, JSON_INDENT(2)), 0);
    json_decref(j);
}

/* ckpt_load of dir fails with an error holding each of the NULL-terminated
 * strings, and leaves the weights zeroed. */
static void expect_load_error(const char *dir, ...)
{
    cb_err err = {{0}};
    model_config c;
    lm_weights w;
    memset(&w, 0x5a, sizeof w);
    assert_int_equal(ckpt_load(dir, OP_W_F32, MAX_CTX, &c, &w, &err), -1);
    assert_true(weights_zeroed(&w));
    va_list ap;
    va_start(ap, dir);
    for (const char *s; (s = va_arg(ap, const char *));)
        if (!strstr(err.msg, s))
            fail_msg("error does not name '%s': %s", s, err.msg);
    va_end(ap);
}

/* A fresh single-file checkpoint of variant v in a new temporary dir. */
static void saved(int v, int n_shards, char dir[64])
{
    cb_err err = {{0}};
    model_config c = variant(v);
    lm_weights w;
    make_tmpdir(dir);
    synth(&c, &w);
    if (ckpt_save(dir, &c, &w, ST_BF16, n_shards, &err) != 0)
        fail_msg("ckpt_save: %s", err.msg);
    weights_free(&w);
}

/* ---- bad tensors ---------------------------------------------------------------------- */

static void test_05_bad_tensors(void **state)
{
    char dir[64];
    saved(V_LLAMA, 1, dir);
    spoil_tensor(dir, "model.layers.1.mlp.up_proj.weight", DROP, NULL);
    expect_load_error(dir, dir, "model.layers.1.mlp.up_proj.weight", "missing", NULL);
    remove_tmpdir(dir);

    saved(V_LLAMA, 1, dir);
    spoil_tensor(dir, "model.layers.0.self_attn.k_proj.weight", TRANSPOSE, NULL);
    expect_load_error(dir, "model.safetensors", "model.layers.0.self_attn.k_proj.weight",
                      "shape", NULL);
    remove_tmpdir(dir);

    saved(V_MAMBA1, 1, dir);
    spoil_tensor(dir, "backbone.layers.2.mixer.D", TO_I32, NULL);
    expect_load_error(dir, "model.safetensors", "backbone.layers.2.mixer.D", "I32", NULL);
    remove_tmpdir(dir);

    /* Untied config, no LM head. */
    saved(V_LLAMA, 1, dir);
    spoil_tensor(dir, "lm_head.weight", DROP, NULL);
    expect_load_error(dir, "lm_head.weight", "missing", "tie_word_embeddings", NULL);
    /* The same folder with a tied config loads (the embedding is the head). */
    edit_config(dir, "tie_word_embeddings", json_true());
    cb_err err = {{0}};
    model_config c;
    lm_weights w;
    if (ckpt_load(dir, OP_W_BF16, MAX_CTX, &c, &w, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(c.tied_embeddings, 1);
    assert_ptr_equal(w.tf.lm_head, w.tf.tok_emb);
    weights_free(&w);
    remove_tmpdir(dir);
}

/* A tied config over a checkpoint that holds lm_head.weight anyway (as
 * mamba_ssm saves them): the head is ignored, the model uses the embedding. */
static void test_06_tied_head_present_is_ignored(void **state)
{
    char dir[64];
    saved(V_MAMBA1_UNTIED, 1, dir);
    edit_config(dir, "tie_word_embeddings", json_true());
    cb_err err = {{0}};
    model_config c;
    lm_weights w;
    assert_int_equal(ckpt_load(dir, OP_W_BF16, MAX_CTX, &c, &w, &err), 0);
    assert_ptr_equal(w.m1.lm_head, w.m1.tok_emb);
    weights_free(&w);
    remove_tmpdir(dir);
}

/* mamba_ssm's name for the embedding (backbone.embedding.weight) is read. */
static void test_07_mamba_ssm_embedding_name(void **state)
{
    char dir[64];
    cb_err err = {{0}};
    saved(V_MAMBA1, 1, dir);
    model_config c, c0 = variant(V_MAMBA1);
    lm_weights w, w0;
    assert_int_equal(ckpt_load(dir, OP_W_BF16, MAX_CTX, &c, &w0, &err), 0);
    spoil_tensor(dir, "backbone.embeddings.weight", RENAME, "backbone.embedding.weight");
    if (ckpt_load(dir, OP_W_BF16, MAX_CTX, &c, &w, &err) != 0)
        fail_msg("%s", err.msg);
    assert_memory_equal(w.m1.tok_emb, w0.m1.tok_emb,
                        (size_t)c0.vocab * (size_t)c0.d_model * 2);
    weights_free(&w);
    weights_free(&w0);
    remove_tmpdir(dir);
}

/* ---- bad files ------------------------------------------------------------------------ */

static void test_08_bad_shards(void **state)
{
    char dir[64], p[512];
    saved(V_QWEN_TIED, 2, dir);
    path_in(p, sizeof p, dir, "model-00002-of-00002.safetensors");
    FILE *f = fopen(p, "r+");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long len = ftell(f);
    fclose(f);
    assert_int_equal(truncate(p, len - 100), 0);
    expect_load_error(dir, "model-00002-of-00002.safetensors", NULL);
    remove_tmpdir(dir);

    /* The index names a shard that is not there. */
    saved(V_QWEN_TIED, 2, dir);
    path_in(p, sizeof p, dir, "model.safetensors.index.json");
    json_t *j = json_load_file(p, 0, NULL);
    json_object_set_new(json_object_get(j, "weight_map"), "model.norm.weight",
                        json_string("model-00003-of-00002.safetensors"));
    assert_int_equal(json_dump_file(j, p, 0), 0);
    json_decref(j);
    expect_load_error(dir, "model-00003-of-00002.safetensors", NULL);
    remove_tmpdir(dir);

    /* Only a PyTorch pickle. */
    saved(V_LLAMA, 1, dir);
    path_in(p, sizeof p, dir, "model.safetensors");
    char bin[512];
    path_in(bin, sizeof bin, dir, "pytorch_model.bin");
    assert_int_equal(rename(p, bin), 0);
    expect_load_error(dir, dir, "pytorch_model.bin", "safetensors", NULL);
    remove_tmpdir(dir);

    /* No folder at all. */
    expect_load_error("/tmp/ctxbench-ckpt-does-not-exist", "config.json", NULL);
}

/* A Llama config over Mamba tensors: the first tensor the config implies is
 * missing, and the error says the architectures disagree. */
static void test_09_config_of_another_architecture(void **state)
{
    char mamba[64], llama[64], p[512], q[512];
    saved(V_MAMBA1, 1, mamba);
    saved(V_LLAMA, 1, llama);
    path_in(p, sizeof p, llama, "config.json");
    path_in(q, sizeof q, mamba, "config.json");
    assert_int_equal(rename(p, q), 0);
    expect_load_error(mamba, "model.embed_tokens.weight", "missing", "does not match", NULL);
    remove_tmpdir(mamba);
    remove_tmpdir(llama);
}

/* config.json fields: each refusal names the file and the field. */
static void test_10_bad_config(void **state)
{
    char dir[64];
    saved(V_LLAMA, 1, dir);
    edit_config(dir, "hidden_size", NULL);
    expect_load_error(dir, "config.json", "hidden_size", "missing", NULL);
    edit_config(dir, "hidden_size", json_integer(-64));
    expect_load_error(dir, "config.json", "hidden_size", NULL);
    edit_config(dir, "hidden_size", json_integer(64));
    edit_config(dir, "vocab_size", json_integer(0));
    expect_load_error(dir, "config.json", "vocab_size", NULL);
    edit_config(dir, "vocab_size", json_integer(97));
    edit_config(dir, "rope_scaling", json_pack("{s:s, s:f}", "rope_type", "linear", "factor", 2.0));
    expect_load_error(dir, "config.json", "rope_scaling.rope_type", "linear", NULL);
    edit_config(dir, "rope_scaling", json_null());
    edit_config(dir, "hidden_act", json_string("gelu"));
    expect_load_error(dir, "config.json", "hidden_act", NULL);
    edit_config(dir, "hidden_act", json_string("silu"));
    edit_config(dir, "attention_bias", json_true());
    expect_load_error(dir, "config.json", "attention_bias", NULL);
    edit_config(dir, "attention_bias", json_false());
    edit_config(dir, "model_type", json_string("gpt2"));
    expect_load_error(dir, "config.json", "model_type", "gpt2", NULL);
    edit_config(dir, "model_type", json_string("llama"));
    edit_config(dir, "head_dim", json_integer(2048)); /* above the attention kernels' limit */
    expect_load_error(dir, "config.json", "head_dim", NULL);
    edit_config(dir, "head_dim", json_integer(16));
    cb_err err = {{0}};
    model_config c;
    assert_int_equal(ckpt_config(dir, OP_W_F32, MAX_CTX, &c, &err), 0);
    remove_tmpdir(dir);

    saved(V_MAMBA1, 1, dir);
    edit_config(dir, "conv_kernel", json_integer(3));
    expect_load_error(dir, "config.json", "conv_kernel", NULL);
    edit_config(dir, "conv_kernel", json_integer(4));
    edit_config(dir, "use_conv_bias", json_false());
    expect_load_error(dir, "config.json", "use_conv_bias", NULL);
    edit_config(dir, "use_conv_bias", json_true());
    edit_config(dir, "intermediate_size", json_integer(100));
    expect_load_error(dir, "config.json", "intermediate_size", NULL);
    remove_tmpdir(dir);

    saved(V_MAMBA2, 1, dir);
    edit_config(dir, "n_groups", json_integer(2));
    expect_load_error(dir, "config.json", "n_groups", NULL);
    edit_config(dir, "n_groups", json_integer(1));
    edit_config(dir, "norm_before_gate", json_true());
    expect_load_error(dir, "config.json", "norm_before_gate", NULL);
    edit_config(dir, "norm_before_gate", json_false());
    edit_config(dir, "state_size", json_integer(4096)); /* beyond the SSD kernels */
    expect_load_error(dir, "config.json", "d_state", NULL);
    remove_tmpdir(dir);
}

/* The writer refuses what has no layout or cannot be written. */
static void test_11_save_refusals(void **state)
{
    char dir[64];
    cb_err err = {{0}};
    make_tmpdir(dir);
    model_config c = variant(V_LLAMA);
    lm_weights w;
    synth(&c, &w);
    assert_int_equal(ckpt_save(dir, &c, &w, ST_I32, 1, &err), -1);
    assert_non_null(strstr(err.msg, "I32"));
    assert_int_equal(ckpt_save(dir, &c, &w, ST_BF16, 0, &err), -1);
    assert_non_null(strstr(err.msg, "n_shards"));
    assert_int_equal(ckpt_save(dir, &c, &w, ST_BF16, 1000, &err), -1);
    assert_non_null(strstr(err.msg, "n_shards"));
    model_config h = model_config_hybrid_tiny();
    assert_int_equal(ckpt_save(dir, &h, &w, ST_BF16, 1, &err), -1);
    assert_non_null(strstr(err.msg, "hybrid"));
    model_config m = variant(V_MAMBA1);
    assert_int_equal(ckpt_save(dir, &m, &w, ST_BF16, 1, &err), -1);
    assert_non_null(strstr(err.msg, "arch"));
    c.rope_llama3 = 1, c.rope_original_max_pos = 16.5;
    assert_int_equal(ckpt_save(dir, &c, &w, ST_BF16, 1, &err), -1);
    assert_non_null(strstr(err.msg, "original_max_position_embeddings"));
    /* Nothing was left behind by the refusals. */
    DIR *d = opendir(dir);
    int files = 0;
    for (struct dirent *e; (e = readdir(d));)
        files += e->d_name[0] != '.';
    closedir(d);
    assert_int_equal(files, 0);
    weights_free(&w);
    remove_tmpdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_01_round_trip_bf16_two_shards),
        cmocka_unit_test(test_02_round_trip_f32_one_shard),
        cmocka_unit_test(test_03_layout_on_disk),
        cmocka_unit_test(test_04_f16_matrices),
        cmocka_unit_test(test_05_bad_tensors),
        cmocka_unit_test(test_06_tied_head_present_is_ignored),
        cmocka_unit_test(test_07_mamba_ssm_embedding_name),
        cmocka_unit_test(test_08_bad_shards),
        cmocka_unit_test(test_09_config_of_another_architecture),
        cmocka_unit_test(test_10_bad_config),
        cmocka_unit_test(test_11_save_refusals),
    };
    return cmocka_run_group_tests(tests, tsup_live_setup, tsup_live_teardown);
}
