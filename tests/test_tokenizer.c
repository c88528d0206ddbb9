/* tests/test_tokenizer.c — models/tokenizer: hand-made byte-level BPE and
 * SentencePiece vocabularies, special tokens, invalid UTF-8, refused
 * vocabularies, chat templates, and SmolLM2's real vocabulary checked token
 * for token against Hugging Face tokenizers (golden ids and pre-tokenizer
 * pieces written by tests/reference/tokenize_reference.py).
 *
 * Never: depend on files outside tests/fixtures (the 98 MB checkpoint is not
 * needed: its vocabulary is tests/fixtures/tokenizer/smollm2_vocab.json). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/tokenizer.h"

#define VOCAB_JSON "tests/fixtures/tokenizer/smollm2_vocab.json"
#define GOLDEN_JSON "tests/fixtures/tokenizer/smollm2_golden.json"

/* ---- helpers ------------------------------------------------------------- */

/* The GPT-2 printable code point of byte b, as UTF-8 (written here from the
 * published table, not taken from the tokenizer). */
static void gpt2_char(unsigned b, char out[4])
{
    unsigned cp = b;
    unsigned n = 0;
    for (unsigned i = 0; i < 256; i++) {
        int keep = (i >= '!' && i <= '~') || (i >= 0xA1 && i <= 0xAC) || (i >= 0xAE);
        if (!keep) {
            if (i == b)
                cp = 256 + n;
            n++;
        }
    }
    if (cp < 0x80) {
        out[0] = (char)cp, out[1] = 0;
    } else {
        out[0] = (char)(0xC0 | (cp >> 6)), out[1] = (char)(0x80 | (cp & 0x3F)), out[2] = 0;
    }
}

/* A byte-level vocabulary: the 256 byte tokens (ids 0..255, byte order),
 * then extra[] (ids 256...), with types (NULL: normal). */
typedef struct byte_vocab {
    char bytes[256][4];
    const char *tokens[300];
    int32_t types[300];
    size_t n;
} byte_vocab;

static void byte_vocab_init(byte_vocab *v, const char *const *extra, const int32_t *types,
                            size_t n_extra)
{
    assert_true(256 + n_extra <= 300);
    for (unsigned b = 0; b < 256; b++) {
        gpt2_char(b, v->bytes[b]);
        v->tokens[b] = v->bytes[b];
        v->types[b] = TOK_TYPE_NORMAL;
    }
    for (size_t i = 0; i < n_extra; i++) {
        v->tokens[256 + i] = extra[i];
        v->types[256 + i] = types ? types[i] : TOK_TYPE_NORMAL;
    }
    v->n = 256 + n_extra;
}

static tok_vocab_desc byte_desc(const byte_vocab *v, const char *const *merges, size_t n_merges)
{
    tok_vocab_desc d = tok_vocab_desc_init();
    d.model = "gpt2";
    d.pre = "gpt2";
    d.tokens = v->tokens;
    d.n_tokens = v->n;
    d.token_types = v->types;
    d.n_token_types = v->n;
    d.merges = merges;
    d.n_merges = n_merges;
    return d;
}

static tokenizer *must_create(const tok_vocab_desc *d)
{
    tokenizer *t = NULL;
    cb_err err = {{0}};
    int rc = tok_create(d, &t, &err);
    if (rc != 0)
        fail_msg("tok_create: %s", err.msg);
    return t;
}

/* Encodes s and returns the ids in a static buffer (n in *n). */
static const int32_t *enc(const tokenizer *t, const char *s, size_t len, int add_special,
                          int parse_special, size_t *n)
{
    static int32_t ids[65536];
    cb_err err = {{0}};
    if (tok_encode(t, s, len, add_special, parse_special, ids, 65536, n, &err) != 0)
        fail_msg("tok_encode: %s", err.msg);
    return ids;
}

static void assert_ids(const int32_t *got, size_t n, const int32_t *want, size_t nwant)
{
    if (n != nwant) {
        for (size_t i = 0; i < n; i++)
            print_message("%d ", (int)got[i]);
        print_message("\n");
    }
    assert_int_equal(n, nwant);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(got[i], want[i]);
}

/* decode(encode(s)) == s */
static void assert_round_trip(const tokenizer *t, const char *s, size_t len, int parse_special)
{
    size_t n, outlen;
    const int32_t *ids = enc(t, s, len, 0, parse_special, &n);
    static char out[1 << 20];
    cb_err err = {{0}};
    if (tok_decode(t, ids, n, out, sizeof out, &outlen, &err) != 0)
        fail_msg("tok_decode: %s", err.msg);
    assert_int_equal(outlen, len);
    assert_memory_equal(out, s, len);
}

/* tok_create must fail with a message containing each of the given parts. */
static void assert_refused(const tok_vocab_desc *d, const char *part1, const char *part2)
{
    tokenizer *t = (tokenizer *)1;
    cb_err err = {{0}};
    assert_int_equal(tok_create(d, &t, &err), -1);
    assert_null(t);
    if (!strstr(err.msg, part1) || (part2 && !strstr(err.msg, part2)))
        fail_msg("error '%s' lacks '%s' / '%s'", err.msg, part1, part2 ? part2 : "");
}

/* ---- hand-made vocabularies ------------------------------------------------ */

/* Merges are applied lowest rank first, wherever the pair is in the word:
 * with "b c" ranked before "a b", "abc" merges b+c first. */
static void test_01_bpe_merges_by_rank(void **state)
{
    (void)state;
    static const char *const extra[] = {"ab", "bc", "abc", "\xC4\xA0" "a"}; /* 256.. ; "Ġa" */
    byte_vocab v;
    byte_vocab_init(&v, extra, NULL, 4);
    size_t n;

    static const char *const bc_first[] = {"b c", "a b", "a bc", "\xC4\xA0 a"};
    tok_vocab_desc d = byte_desc(&v, bc_first, 4);
    tokenizer *t = must_create(&d);
    const int32_t *ids = enc(t, "abc", 3, 0, 0, &n);
    assert_ids(ids, n, (int32_t[]){258}, 1); /* b+c, then a+bc */
    ids = enc(t, "ab a", 4, 0, 0, &n);
    assert_ids(ids, n, (int32_t[]){256, 259}, 2); /* "ab", " a" (Ġa) */
    ids = enc(t, "cab", 3, 0, 0, &n);
    assert_ids(ids, n, (int32_t[]){'c', 256}, 2);
    tok_free(t);

    static const char *const ab_first[] = {"a b", "b c", "a bc"};
    d = byte_desc(&v, ab_first, 3);
    t = must_create(&d);
    ids = enc(t, "abc", 3, 0, 0, &n);
    assert_ids(ids, n, (int32_t[]){256, 'c'}, 2); /* a+b first; "ab c" is no merge */
    assert_int_equal(tok_n_vocab(t), 260);
    assert_int_equal(tok_find(t, "abc"), 258);
    assert_string_equal(tok_token_text(t, 257), "bc");
    assert_null(tok_token_text(t, 260));
    assert_int_equal(tok_token_type(t, -1), -1);
    assert_true(tok_is_byte_level(t));
    tok_free(t);
}

/* SentencePiece: highest score first, space prefix, byte fallback, BOS. */
static void test_02_sentencepiece_scores_and_byte_fallback(void **state)
{
    (void)state;
    enum { NB = 256, NX = 13 };
    static char bytes[NB][8];
    const char *tokens[3 + NB + NX];
    int32_t types[3 + NB + NX];
    float scores[3 + NB + NX];
    size_t n = 0;
    tokens[n] = "<unk>", types[n] = TOK_TYPE_UNKNOWN, scores[n++] = 0;
    tokens[n] = "<s>", types[n] = TOK_TYPE_CONTROL, scores[n++] = 0;
    tokens[n] = "</s>", types[n] = TOK_TYPE_CONTROL, scores[n++] = 0;
    for (unsigned b = 0; b < NB; b++) {
        snprintf(bytes[b], sizeof bytes[b], "<0x%02X>", b);
        tokens[n] = bytes[b], types[n] = TOK_TYPE_BYTE, scores[n++] = 0;
    }
    static const struct { const char *s; float score; } pieces[NX] = {
        {"\xE2\x96\x81", -1}, {"h", -2}, {"e", -2}, {"l", -2}, {"o", -2},
        {"\xE2\x96\x81h", -2.0f}, {"he", -3.0f}, {"ll", -1.0f}, {"llo", -1.5f},
        {"\xE2\x96\x81he", -2.5f}, {"w", -2}, {"\xE2\x96\x81w", -2.2f}, {"hello", -0.1f},
    };
    const size_t first = n; /* id of "▁" */
    for (size_t i = 0; i < NX; i++)
        tokens[n] = pieces[i].s, types[n] = TOK_TYPE_NORMAL, scores[n++] = pieces[i].score;

    tok_vocab_desc d = tok_vocab_desc_init();
    d.model = "llama";
    d.tokens = tokens, d.n_tokens = n;
    d.token_types = types, d.n_token_types = n;
    d.scores = scores, d.n_scores = n;
    d.bos_id = 1, d.eos_id = 2, d.unk_id = 0;
    tokenizer *t = must_create(&d);
    assert_false(tok_is_byte_level(t));
    size_t k;
    /* ▁ h e l l o: ll (-1) > llo (-1.5) > ▁h (-2) > ▁he (-2.5); "he" (-3) is stale.
     * Greedy left-to-right would have given "▁h" + "e"... instead. */
    const int32_t *ids = enc(t, "hello", 5, 0, 0, &k);
    assert_ids(ids, k, (int32_t[]){(int32_t)first + 9, (int32_t)first + 8}, 2);
    ids = enc(t, "hello", 5, 1, 0, &k); /* add_bos defaults on for llama */
    assert_ids(ids, k, (int32_t[]){1, (int32_t)first + 9, (int32_t)first + 8}, 3);
    /* é has no piece: its two UTF-8 bytes fall back to <0xC3> <0xA9> */
    ids = enc(t, "h\xC3\xA9 w", 5, 0, 0, &k);
    assert_ids(ids, k, (int32_t[]){(int32_t)first + 5, 3 + 0xC3, 3 + 0xA9, (int32_t)first + 11}, 4);
    assert_round_trip(t, "h\xC3\xA9 w", 5, 0);
    assert_round_trip(t, "hello  hello", 12, 0);
    assert_round_trip(t, "\xFF invalid \xC3", 11, 0);

    char out[64];
    size_t len;
    cb_err err = {{0}};
    int32_t bos_hello[] = {1, (int32_t)first + 9, (int32_t)first + 8};
    assert_int_equal(tok_decode(t, bos_hello, 3, out, sizeof out, &len, &err), 0);
    assert_string_equal(out, "<s>hello");
    assert_int_equal(tok_piece(t, (int32_t)first + 9, out, sizeof out, &len, &err), 0);
    assert_string_equal(out, " he"); /* streaming keeps the space */

    /* Without byte tokens, a character no piece covers becomes one <unk>. */
    const char *nobytes[3 + NX];
    int32_t nbtypes[3 + NX];
    float nbscores[3 + NX];
    for (size_t i = 0; i < 3; i++)
        nobytes[i] = tokens[i], nbtypes[i] = types[i], nbscores[i] = scores[i];
    for (size_t i = 0; i < NX; i++)
        nobytes[3 + i] = tokens[first + i], nbtypes[3 + i] = types[first + i],
        nbscores[3 + i] = scores[first + i];
    d.tokens = nobytes, d.token_types = nbtypes, d.scores = nbscores;
    d.n_tokens = d.n_token_types = d.n_scores = 3 + NX;
    tokenizer *u = must_create(&d);
    ids = enc(u, "h\xC3\xA9", 3, 0, 0, &k);
    assert_ids(ids, k, (int32_t[]){3 + 5, 0}, 2);
    tok_free(u);
    tok_free(t);
}

/* Control tokens are single ids only with parse_special; user-defined ones
 * always; the longest special token at a position wins. */
static void test_03_special_tokens(void **state)
{
    (void)state;
    static const char *const extra[] = {"<|a|>", "<|a|>b", "ZZ", "hi"};
    static const int32_t types[] = {TOK_TYPE_CONTROL, TOK_TYPE_CONTROL, TOK_TYPE_USER_DEFINED,
                                    TOK_TYPE_NORMAL};
    static const char *const merges[] = {"h i"};
    byte_vocab v;
    byte_vocab_init(&v, extra, types, 4);
    tok_vocab_desc d = byte_desc(&v, merges, 1);
    d.bos_id = 256;
    d.add_bos = 1;
    d.eos_id = 257;
    tokenizer *t = must_create(&d);
    size_t n;
    const int32_t *ids = enc(t, "hi<|a|>ZZhi<|a|>b", 17, 0, 1, &n);
    assert_ids(ids, n, (int32_t[]){259, 256, 258, 259, 257}, 5);
    ids = enc(t, "hi<|a|>ZZ", 9, 0, 0, &n);
    assert_ids(ids, n, (int32_t[]){259, '<', '|', 'a', '|', '>', 258}, 7);
    ids = enc(t, "hi", 2, 1, 0, &n);
    assert_ids(ids, n, (int32_t[]){256, 259}, 2);
    assert_int_equal(tok_bos(t), 256);
    assert_int_equal(tok_eos(t), 257);
    assert_round_trip(t, "hi<|a|>ZZhi<|a|>b<|a", 20, 1);
    assert_round_trip(t, "hi<|a|>ZZhi<|a|>b<|a", 20, 0);
    tok_free(t);
}

/* Invalid UTF-8 is encoded byte by byte and decodes back to the same bytes. */
static void test_04_invalid_utf8(void **state)
{
    (void)state;
    static const char *const extra[] = {"ab"};
    static const char *const merges[] = {"a b"};
    byte_vocab v;
    byte_vocab_init(&v, extra, NULL, 1);
    tok_vocab_desc d = byte_desc(&v, merges, 1);
    tokenizer *t = must_create(&d);
    static const char bad[] = "ab\xFF\xFE" "ab\xC3" " \xE2\x82" "ab\xED\xA0\x80\xF4\x90\x80\x80\xC0\xAF";
    size_t len = sizeof bad - 1, n;
    const int32_t *ids = enc(t, bad, len, 0, 0, &n);
    assert_int_equal(ids[0], 256);
    assert_int_equal(ids[1], 0xFF);
    assert_int_equal(ids[2], 0xFE);
    assert_round_trip(t, bad, len, 0);
    assert_round_trip(t, "\0a\0b", 4, 0); /* NUL bytes inside the text */
    tok_free(t);

    /* A byte with no token: the unknown token if there is one, else an error. */
    static const char *const few[] = {"a", "b", "ab", "<unk>"};
    d = tok_vocab_desc_init();
    d.model = "gpt2", d.pre = "gpt2";
    d.tokens = few, d.n_tokens = 4, d.merges = merges, d.n_merges = 1;
    t = must_create(&d);
    int32_t ids2[8];
    cb_err err = {{0}};
    assert_int_equal(tok_encode(t, "abc", 3, 0, 0, ids2, 8, &n, &err), -1);
    assert_non_null(strstr(err.msg, "0x63"));
    tok_free(t);
    d.unk_id = 3;
    t = must_create(&d);
    assert_int_equal(tok_encode(t, "abc", 3, 0, 0, ids2, 8, &n, &err), 0);
    assert_ids(ids2, n, (int32_t[]){2, 3}, 2);
    tok_free(t);
}

/* Bad vocabularies are refused with the key (and index) at fault. */
static void test_05_bad_vocabularies(void **state)
{
    (void)state;
    static const char *const extra[] = {"ab"};
    byte_vocab v;
    byte_vocab_init(&v, extra, NULL, 1);
    static const char *const unknown_part[] = {"a b", "ab cd"};
    tok_vocab_desc d = byte_desc(&v, unknown_part, 2);
    assert_refused(&d, "tokenizer.ggml.merges[1]: 'ab cd' names a token not in the vocabulary",
                   "'cd'");
    static const char *const no_result[] = {"a b", "b a"};
    d = byte_desc(&v, no_result, 2);
    assert_refused(&d, "tokenizer.ggml.merges[1]", "'ba', which is not in the vocabulary");
    static const char *const malformed[] = {"ab"};
    d = byte_desc(&v, malformed, 1);
    assert_refused(&d, "tokenizer.ggml.merges[0]", "not two tokens");
    d = byte_desc(&v, NULL, 0);
    assert_refused(&d, "tokenizer.ggml.merges: missing", NULL);

    static const char *const ok[] = {"a b"};
    d = byte_desc(&v, ok, 1);
    d.n_token_types = v.n - 1;
    assert_refused(&d, "tokenizer.ggml.token_type: 256 entries", "tokenizer.ggml.tokens has 257");
    d = byte_desc(&v, ok, 1);
    v.types[100] = 9;
    assert_refused(&d, "tokenizer.ggml.token_type[100]: 9", NULL);
    v.types[100] = TOK_TYPE_NORMAL;
    d.bos_id = 257;
    assert_refused(&d, "tokenizer.ggml.bos_token_id: 257 is out of range (257 tokens)", NULL);
    d = byte_desc(&v, ok, 1);
    d.eos_id = -7;
    assert_refused(&d, "tokenizer.ggml.eos_token_id", NULL);
    d = byte_desc(&v, ok, 1);
    d.add_bos = 1;
    assert_refused(&d, "tokenizer.ggml.add_bos_token", "bos_token_id is missing");
    d = byte_desc(&v, ok, 1);
    d.pre = "no-such-pre";
    assert_refused(&d, "tokenizer.ggml.pre: unknown pre-tokenizer 'no-such-pre'", NULL);
    d = byte_desc(&v, ok, 1);
    d.model = "bert";
    assert_refused(&d, "tokenizer.ggml.model: unsupported 'bert'", NULL);
    d.model = NULL;
    assert_refused(&d, "tokenizer.ggml.model: missing", NULL);
    d = byte_desc(&v, ok, 1);
    d.n_tokens = 0;
    assert_refused(&d, "tokenizer.ggml.tokens", NULL);
    d = byte_desc(&v, ok, 1);
    const char *saved = v.tokens[7];
    v.tokens[7] = NULL;
    assert_refused(&d, "tokenizer.ggml.tokens[7]: missing", NULL);
    v.tokens[7] = saved;

    d = byte_desc(&v, NULL, 0);
    d.model = "llama";
    assert_refused(&d, "tokenizer.ggml.scores: missing", NULL);
    float scores[257] = {0};
    d.scores = scores;
    d.n_scores = 200;
    assert_refused(&d, "tokenizer.ggml.scores: 200 entries", NULL);
}

/* Output buffers that are too small: -1, and the size needed. */
static void test_06_small_buffers(void **state)
{
    (void)state;
    static const char *const merges[] = {"a b"};
    static const char *const extra[] = {"ab"};
    byte_vocab v;
    byte_vocab_init(&v, extra, NULL, 1);
    tok_vocab_desc d = byte_desc(&v, merges, 1);
    tokenizer *t = must_create(&d);
    int32_t ids[4];
    size_t n;
    cb_err err = {{0}};
    assert_int_equal(tok_encode(t, "ab cd", 5, 0, 0, ids, 2, &n, &err), -1);
    assert_int_equal(n, 4); /* ab, Ġ, c, d */
    assert_int_equal(tok_encode(t, "ab cd", 5, 0, 0, ids, 4, &n, &err), 0);
    char out[8];
    size_t len;
    assert_int_equal(tok_decode(t, ids, 4, out, 5, &len, &err), -1);
    assert_int_equal(len, 5);
    assert_int_equal(tok_decode(t, ids, 4, out, 6, &len, &err), 0);
    assert_string_equal(out, "ab cd");
    ids[1] = 257;
    assert_int_equal(tok_decode(t, ids, 2, out, sizeof out, &len, &err), -1);
    assert_non_null(strstr(err.msg, "ids[1] = 257 is out of range"));
    assert_int_equal(tok_encode(t, "", 0, 0, 0, ids, 0, &n, &err), 0);
    assert_int_equal(n, 0);
    tok_free(t);
}

/* Chat templates: Llama 3 rendered natively; unknown and missing refused. */
static void test_07_chat_template_families(void **state)
{
    (void)state;
    static const char *const merges[] = {"a b"};
    static const char *const extra[] = {"ab"};
    byte_vocab v;
    byte_vocab_init(&v, extra, NULL, 1);
    tok_vocab_desc d = byte_desc(&v, merges, 1);
    tok_chat_msg msgs[] = {{"system", "Be brief. "}, {"user", "\n Hi \n"}};
    char out[512];
    size_t len;
    cb_err err = {{0}};

    tokenizer *t = must_create(&d);
    assert_int_equal(tok_apply_chat_template(t, msgs, 2, 1, out, sizeof out, &len, &err), -1);
    assert_non_null(strstr(err.msg, "tokenizer.chat_template: missing"));
    tok_free(t);

    d.chat_template = "{% for message in messages %}{{ '<|start_header_id|>' + message['role'] "
                      "+ '<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' }}"
                      "{% endfor %}";
    t = must_create(&d);
    assert_int_equal(tok_apply_chat_template(t, msgs, 2, 1, out, sizeof out, &len, &err), 0);
    assert_string_equal(out, "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
                             "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                             "<|start_header_id|>assistant<|end_header_id|>\n\n");
    assert_int_equal(len, strlen(out));
    assert_int_equal(tok_apply_chat_template(t, msgs, 2, 1, out, 10, &len, &err), -1);
    assert_int_equal(len, strlen("<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
                                 "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                                 "<|start_header_id|>assistant<|end_header_id|>\n\n"));
    tok_free(t);

    d.chat_template = "{% for m in messages %}[INST] {{ m['content'] }} [/INST]{% endfor %}";
    t = must_create(&d);
    assert_int_equal(tok_apply_chat_template(t, msgs, 2, 1, out, sizeof out, &len, &err), -1);
    assert_non_null(strstr(err.msg, "unknown template family"));
    tok_chat_msg bad[] = {{"user", NULL}};
    assert_int_equal(tok_apply_chat_template(t, bad, 1, 1, out, sizeof out, &len, &err), -1);
    tok_free(t);

    /* ChatML with a default system message written with Jinja escapes. */
    d.chat_template = "{% if messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are "
                      "Qwen.\\tOK<|im_end|>\\n' }}{% endif %}...<|im_start|>";
    t = must_create(&d);
    assert_int_equal(tok_apply_chat_template(t, msgs + 1, 1, 0, out, sizeof out, &len, &err), 0);
    assert_string_equal(out, "<|im_start|>system\nYou are Qwen.\tOK<|im_end|>\n"
                             "<|im_start|>user\n\n Hi \n<|im_end|>\n");
    assert_int_equal(tok_apply_chat_template(t, msgs, 2, 1, out, sizeof out, &len, &err), 0);
    assert_string_equal(out, "<|im_start|>system\nBe brief. <|im_end|>\n"
                             "<|im_start|>user\n\n Hi \n<|im_end|>\n<|im_start|>assistant\n");
    tok_free(t);
}

/* ---- SmolLM2's real vocabulary ----------------------------------------------- */

typedef struct smol {
    json_t *vocab, *golden;
    const char **tokens;
    int32_t *types;
    const char **merges;
    tok_vocab_desc d;
} smol;

static json_t *load_json(const char *path)
{
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j)
        fail_msg("%s:%d: %s", path, je.line, je.text);
    return j;
}

static int64_t int_or(json_t *o, const char *key, int64_t dflt)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? json_integer_value(v) : dflt;
}

static void smol_load(smol *s, const char *pre)
{
    memset(s, 0, sizeof *s);
    s->vocab = load_json(VOCAB_JSON);
    s->golden = load_json(GOLDEN_JSON);
    json_t *toks = json_object_get(s->vocab, "tokens"), *types = json_object_get(s->vocab, "token_type"),
           *merges = json_object_get(s->vocab, "merges");
    size_t n = json_array_size(toks), nt = json_array_size(types), nm = json_array_size(merges);
    assert_int_equal(n, 49152);
    s->tokens = malloc(n * sizeof *s->tokens);
    s->types = malloc(nt * sizeof *s->types);
    s->merges = malloc(nm * sizeof *s->merges);
    for (size_t i = 0; i < n; i++)
        s->tokens[i] = json_string_value(json_array_get(toks, i));
    for (size_t i = 0; i < nt; i++)
        s->types[i] = (int32_t)json_integer_value(json_array_get(types, i));
    for (size_t i = 0; i < nm; i++)
        s->merges[i] = json_string_value(json_array_get(merges, i));
    tok_vocab_desc d = tok_vocab_desc_init();
    d.model = json_string_value(json_object_get(s->vocab, "model"));
    d.pre = pre ? pre : json_string_value(json_object_get(s->vocab, "pre"));
    d.tokens = s->tokens, d.n_tokens = n;
    d.token_types = s->types, d.n_token_types = nt;
    d.merges = s->merges, d.n_merges = nm;
    d.bos_id = int_or(s->vocab, "bos_token_id", -1);
    d.eos_id = int_or(s->vocab, "eos_token_id", -1);
    d.unk_id = int_or(s->vocab, "unknown_token_id", -1);
    d.pad_id = int_or(s->vocab, "padding_token_id", -1);
    d.add_bos = json_is_true(json_object_get(s->vocab, "add_bos_token"));
    d.add_space_prefix = json_is_true(json_object_get(s->vocab, "add_space_prefix"));
    d.chat_template = json_string_value(json_object_get(s->vocab, "chat_template"));
    s->d = d;
}

static void smol_free(smol *s)
{
    free(s->tokens);
    free(s->types);
    free(s->merges);
    json_decref(s->vocab);
    json_decref(s->golden);
}

static void json_ids(json_t *arr, int32_t *out, size_t *n)
{
    *n = json_array_size(arr);
    for (size_t i = 0; i < *n; i++)
        out[i] = (int32_t)json_integer_value(json_array_get(arr, i));
}

/* Every golden prompt: exactly the reference's ids, with and without
 * special-token parsing, and decode(encode(x)) == x. */
static void test_08_smollm2_golden_ids(void **state)
{
    (void)state;
    smol s;
    smol_load(&s, NULL);
    tokenizer *t = must_create(&s.d);
    assert_int_equal(tok_bos(t), 1);
    assert_int_equal(tok_eos(t), 2);
    json_t *prompts = json_object_get(s.golden, "prompts");
    assert_true(json_array_size(prompts) >= 20);
    static int32_t want[4096];
    size_t matched = 0, i;
    json_t *p;
    json_array_foreach(prompts, i, p) {
        const char *text = json_string_value(json_object_get(p, "text"));
        size_t len = strlen(text), nwant, n;
        for (int special = 1; special >= 0; special--) {
            json_ids(json_object_get(p, special ? "ids_parse_special" : "ids_no_special"), want,
                     &nwant);
            const int32_t *ids = enc(t, text, len, 1, special, &n); /* add_bos is off */
            if (n != nwant || memcmp(ids, want, n * sizeof *ids) != 0)
                print_message("prompt %zu (%s) differs (parse_special=%d)\n", i, text, special);
            assert_ids(ids, n, want, nwant);
            assert_round_trip(t, text, len, special);
            matched++;
        }
    }
    print_message("# smollm2 golden: %zu/%zu encodings match exactly\n", matched,
                  2 * json_array_size(prompts));
    tok_free(t);
    smol_free(&s);
}

/* The pre-tokenizers of five tokenizer.ggml.pre names against Hugging Face's
 * regex splits of every golden prompt. */
static void test_09_pretokenizer_pieces(void **state)
{
    (void)state;
    static const char *const pres[] = {"gpt2", "smollm", "llama-bpe", "qwen2", "default"};
    for (size_t k = 0; k < sizeof pres / sizeof pres[0]; k++) {
        smol s;
        smol_load(&s, pres[k]);
        tokenizer *t = must_create(&s.d);
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(s.golden, "prompts"), i, p) {
            const char *text = json_string_value(json_object_get(p, "text"));
            json_t *want = json_object_get(json_object_get(p, "pieces"), pres[k]);
            assert_non_null(want);
            size_t ends[1024], n, start = 0;
            cb_err err = {{0}};
            if (tok_split(t, text, strlen(text), ends, 1024, &n, &err) != 0)
                fail_msg("tok_split: %s", err.msg);
            if (n != json_array_size(want))
                fail_msg("pre %s, prompt %zu (%s): %zu pieces, reference %zu", pres[k], i, text,
                         n, json_array_size(want));
            for (size_t j = 0; j < n; j++) {
                const char *w = json_string_value(json_array_get(want, j));
                if (strlen(w) != ends[j] - start || memcmp(w, text + start, strlen(w)) != 0)
                    fail_msg("pre %s, prompt %zu piece %zu: '%.*s', reference '%s'", pres[k], i,
                             j, (int)(ends[j] - start), text + start, w);
                start = ends[j];
            }
        }
        tok_free(t);
        smol_free(&s);
    }
}

/* SmolLM2's chat template: the reference's Jinja rendering, byte for byte,
 * and its ids. */
static void test_10_smollm2_chat_template(void **state)
{
    (void)state;
    smol s;
    smol_load(&s, NULL);
    tokenizer *t = must_create(&s.d);
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(s.golden, "chat"), i, c) {
        json_t *msgs = json_object_get(c, "messages");
        tok_chat_msg m[8];
        size_t nm = json_array_size(msgs);
        assert_true(nm <= 8);
        for (size_t j = 0; j < nm; j++) {
            m[j].role = json_string_value(json_object_get(json_array_get(msgs, j), "role"));
            m[j].content = json_string_value(json_object_get(json_array_get(msgs, j), "content"));
        }
        char out[4096];
        size_t len;
        cb_err err = {{0}};
        int gen = json_is_true(json_object_get(c, "add_generation_prompt"));
        if (tok_apply_chat_template(t, m, nm, gen, out, sizeof out, &len, &err) != 0)
            fail_msg("tok_apply_chat_template: %s", err.msg);
        assert_string_equal(out, json_string_value(json_object_get(c, "text")));
        static int32_t want[4096];
        size_t nwant, n;
        json_ids(json_object_get(c, "ids"), want, &nwant);
        const int32_t *ids = enc(t, out, len, 1, 1, &n);
        assert_ids(ids, n, want, nwant);
    }
    tok_free(t);
    smol_free(&s);
}

/* Round trips of awkward text through the real vocabulary, including bytes
 * that are not UTF-8, and a long text (which also shows the encode speed). */
static void test_11_smollm2_round_trips(void **state)
{
    (void)state;
    smol s;
    smol_load(&s, NULL);
    tokenizer *t = must_create(&s.d);
    static const char bad[] = "caf\xC3\xA9 \xC3 x \xE2\x82 <|im_start|\xF0\x9F\x98\x80\xED\xA0\x80";
    assert_round_trip(t, bad, sizeof bad - 1, 1);
    /* SmolLM2 has no token for 21 bytes that never occur in its training
     * text (0xFF among them): they become the unknown token (id 0). */
    size_t n;
    const int32_t *ids = enc(t, "a\xFF", 2, 0, 0, &n);
    assert_ids(ids, n, (int32_t[]){tok_find(t, "a"), 0}, 2);
    size_t big_len = 100000;
    char *big = malloc(big_len + 1);
    const char *words[] = {"the ", "quick ", "brown ", "fox ", "jumps ", "over ", "lazy ",
                           "dogs, ", "and ", "1984 ", "runs\n", "don't ", "caf\xC3\xA9 "};
    size_t pos = 0;
    unsigned r = 12345;
    while (pos < big_len) {
        r = r * 1103515245u + 12345u;
        const char *w = words[(r >> 16) % (sizeof words / sizeof words[0])];
        size_t k = strlen(w);
        if (pos + k > big_len)
            k = big_len - pos;
        memcpy(big + pos, w, k);
        pos += k;
    }
    big[big_len] = '\0';
    assert_round_trip(t, big, big_len, 1);
    free(big);
    tok_free(t);
    smol_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_01_bpe_merges_by_rank),
        cmocka_unit_test(test_02_sentencepiece_scores_and_byte_fallback),
        cmocka_unit_test(test_03_special_tokens),
        cmocka_unit_test(test_04_invalid_utf8),
        cmocka_unit_test(test_05_bad_vocabularies),
        cmocka_unit_test(test_06_small_buffers),
        cmocka_unit_test(test_07_chat_template_families),
        cmocka_unit_test(test_08_smollm2_golden_ids),
        cmocka_unit_test(test_09_pretokenizer_pieces),
        cmocka_unit_test(test_10_smollm2_chat_template),
        cmocka_unit_test(test_11_smollm2_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
