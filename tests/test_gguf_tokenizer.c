/* tests/test_gguf_tokenizer.c — models/gguf_tokenizer.c: a tokenizer built
 * from the tokenizer.ggml.* metadata of a small GGUF written by the test
 * (a byte-level BPE vocabulary of all 256 byte symbols plus two merges and a
 * control token), and the refusals that must name the file and the key:
 * a missing token list, a token list of numbers, merges naming unknown
 * tokens (tok_create's complaint, prefixed with the file).
 *
 * Never: depend on files outside a temporary folder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models/gguf_tokenizer.h"

#define N_TOK (256 + 3)

static char dir[] = "/tmp/ctxbench-gtok-XXXXXX";

static gguf_kv kv_str(const char *key, const char *s)
{
    return (gguf_kv){.key = key, .val = {.type = GGUF_STR, .str = {s, strlen(s)}}};
}

static gguf_kv kv_strs(const char *key, const gguf_str *s, uint64_t n)
{
    gguf_kv kv = {.key = key, .val = {.type = GGUF_ARR}};
    kv.val.arr.type = GGUF_STR;
    kv.val.arr.n = n;
    kv.val.arr.strs = s;
    return kv;
}

static gguf_kv kv_u32(const char *key, uint32_t v)
{
    return (gguf_kv){.key = key, .val = {.type = GGUF_U32, .u64 = v}};
}

/* The GPT-2 byte-level symbol of byte b (printable ASCII maps to itself;
 * the others to U+0100 + their rank among the unprintable bytes), UTF-8. */
static void byte_symbol(int b, char *out)
{
    int printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    int cp = b;
    if (!printable) {
        int rank = 0;
        for (int x = 0; x < b; x++)
            rank += !((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255));
        cp = 256 + rank;
    }
    if (cp < 0x80) {
        out[0] = (char)cp, out[1] = 0;
    } else {
        out[0] = (char)(0xC0 | (cp >> 6)), out[1] = (char)(0x80 | (cp & 0x3F)), out[2] = 0;
    }
}

/* Writes a GGUF at path with the vocabulary; drop_tokens leaves the token
 * list out, bad_merge names an unknown token in a merge. */
static void write_vocab(const char *path, int drop_tokens, int bad_merge)
{
    static char syms[256][4];
    gguf_str toks[N_TOK], merges[2];
    for (int b = 0; b < 256; b++) {
        byte_symbol(b, syms[b]);
        toks[b] = (gguf_str){syms[b], strlen(syms[b])};
    }
    toks[256] = (gguf_str){"he", 2};
    toks[257] = (gguf_str){"hel", 3};
    toks[258] = (gguf_str){"<|end|>", 7};
    merges[0] = (gguf_str){"h e", 3};
    merges[1] = bad_merge ? (gguf_str){"he zz", 5} : (gguf_str){"he l", 4};
    int32_t types[N_TOK];
    for (int i = 0; i < N_TOK; i++)
        types[i] = i == 258 ? 3 : 1; /* control, normal */
    gguf_kv kvs[8];
    size_t n = 0;
    kvs[n++] = kv_str("tokenizer.ggml.model", "gpt2");
    kvs[n++] = kv_str("tokenizer.ggml.pre", "gpt2");
    if (!drop_tokens)
        kvs[n++] = kv_strs("tokenizer.ggml.tokens", toks, N_TOK);
    kvs[n++] = kv_strs("tokenizer.ggml.merges", merges, 2);
    gguf_kv tt = {.key = "tokenizer.ggml.token_type", .val = {.type = GGUF_ARR}};
    tt.val.arr.type = GGUF_I32;
    tt.val.arr.n = N_TOK;
    tt.val.arr.raw = types;
    kvs[n++] = tt;
    kvs[n++] = kv_u32("tokenizer.ggml.eos_token_id", 258);
    cb_err err = {{0}};
    if (gguf_write(path, 3, kvs, n, NULL, 0, &err) != 0)
        fail_msg("%s", err.msg);
}

static void test_01_vocabulary_from_metadata(void **state)
{
    (void)state;
    char path[256];
    snprintf(path, sizeof path, "%s/ok.gguf", dir);
    write_vocab(path, 0, 0);
    cb_err err = {{0}};
    gguf_file *f = gguf_open(path, &err);
    assert_non_null(f);
    tokenizer *t;
    if (gguf_tokenizer(f, &t, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(tok_n_vocab(t), N_TOK);
    assert_int_equal(tok_eos(t), 258);
    int32_t ids[16];
    size_t n;
    /* "hello" -> "hel" (merges applied by rank), "l", "o". */
    assert_int_equal(tok_encode(t, "hello", 5, 0, 0, ids, 16, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_int_equal(ids[0], 257);
    assert_int_equal(ids[1], 'l');
    assert_int_equal(ids[2], 'o');
    /* The control token is recognised only when special tokens are parsed. */
    assert_int_equal(tok_encode(t, "<|end|>", 7, 0, 1, ids, 16, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], 258);
    char out[64];
    size_t len;
    assert_int_equal(tok_encode(t, "hello there", 11, 0, 0, ids, 16, &n, &err), 0);
    assert_int_equal(tok_decode(t, ids, n, out, sizeof out, &len, &err), 0);
    assert_string_equal(out, "hello there");
    tok_free(t);
    gguf_close(f);
    unlink(path);
}

static void test_02_refusals_name_file_and_key(void **state)
{
    (void)state;
    char path[256];
    cb_err err = {{0}};
    tokenizer *t = (tokenizer *)1;
    snprintf(path, sizeof path, "%s/no-tokens.gguf", dir);
    write_vocab(path, 1, 0);
    gguf_file *f = gguf_open(path, &err);
    assert_non_null(f);
    assert_int_equal(gguf_tokenizer(f, &t, &err), -1);
    assert_null(t);
    assert_non_null(strstr(err.msg, "tokenizer.ggml.tokens"));
    assert_non_null(strstr(err.msg, path));
    gguf_close(f);
    unlink(path);

    snprintf(path, sizeof path, "%s/bad-merge.gguf", dir);
    write_vocab(path, 0, 1);
    f = gguf_open(path, &err);
    assert_non_null(f);
    assert_int_equal(gguf_tokenizer(f, &t, &err), -1);
    assert_non_null(strstr(err.msg, "tokenizer.ggml.merges[1]"));
    assert_non_null(strstr(err.msg, path));
    gguf_close(f);
    unlink(path);
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    rmdir(dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_01_vocabulary_from_metadata),
        cmocka_unit_test(test_02_refusals_name_file_and_key),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
