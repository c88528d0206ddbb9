/* models/gguf_tokenizer.c — a tokenizer from GGUF metadata
 * (models/gguf_tokenizer.h): the string arrays are copied out of the mapping
 * into NUL-terminated strings, handed to tok_create, and freed.
 *
 * Never: print, exit, keep pointers into the mapping. */
#include "models/gguf_tokenizer.h"

#include <stdlib.h>
#include <string.h>

/* The arrays copied out of the file for one tok_create call. */
typedef struct gtok_arrays {
    char **tokens, **merges;
    size_t n_tokens, n_merges;
    int32_t *types;
    size_t n_types;
    float *scores;
    size_t n_scores;
    char *model, *pre, *chat_template;
} gtok_arrays;

static void arrays_free(gtok_arrays *a)
{
    for (size_t i = 0; a->tokens && i < a->n_tokens; i++)
        free(a->tokens[i]);
    for (size_t i = 0; a->merges && i < a->n_merges; i++)
        free(a->merges[i]);
    free(a->tokens), free(a->merges), free(a->types), free(a->scores);
    free(a->model), free(a->pre), free(a->chat_template);
}

/* *out = a copy of the string array at key (absent and optional: NULL, 0). */
static int copy_strings(const gguf_file *f, const char *key, int required, char ***out,
                        size_t *n, cb_err *err)
{
    *out = NULL;
    *n = 0;
    if (!required && !gguf_find_key(f, key))
        return 0;
    const gguf_value *arr;
    if (gguf_get_arr(f, key, &arr, err) != 0)
        return -1;
    size_t count = (size_t)arr->arr.n;
    char **s = calloc(count ? count : 1, sizeof *s);
    if (!s)
        return cb_fail(err, "%s: %s: out of memory", gguf_path(f), key);
    *out = s;
    for (size_t i = 0; i < count; i++) {
        gguf_str v;
        if (!gguf_arr_str(arr, i, &v))
            return cb_fail(err, "%s: %s[%zu]: not a string", gguf_path(f), key, i);
        if (!(s[i] = gguf_strdup(v)))
            return cb_fail(err, "%s: %s: out of memory", gguf_path(f), key);
        *n = i + 1;
    }
    return 0;
}

/* Token types (integers) and scores (floats), when present. */
static int copy_numbers(const gguf_file *f, gtok_arrays *a, cb_err *err)
{
    const gguf_value *arr;
    if (gguf_find_key(f, "tokenizer.ggml.token_type")) {
        if (gguf_get_arr(f, "tokenizer.ggml.token_type", &arr, err) != 0)
            return -1;
        a->types = malloc(((size_t)arr->arr.n + 1) * sizeof *a->types);
        if (!a->types)
            return cb_fail(err, "%s: out of memory", gguf_path(f));
        for (uint64_t i = 0; i < arr->arr.n; i++) {
            int64_t v;
            if (!gguf_arr_i64(arr, i, &v) || v < INT32_MIN || v > INT32_MAX)
                return cb_fail(err, "%s: tokenizer.ggml.token_type[%llu]: not an int32",
                               gguf_path(f), (unsigned long long)i);
            a->types[i] = (int32_t)v;
        }
        a->n_types = (size_t)arr->arr.n;
    }
    if (gguf_find_key(f, "tokenizer.ggml.scores")) {
        if (gguf_get_arr(f, "tokenizer.ggml.scores", &arr, err) != 0)
            return -1;
        a->scores = malloc(((size_t)arr->arr.n + 1) * sizeof *a->scores);
        if (!a->scores)
            return cb_fail(err, "%s: out of memory", gguf_path(f));
        for (uint64_t i = 0; i < arr->arr.n; i++)
            if (!gguf_arr_f32(arr, i, &a->scores[i]))
                return cb_fail(err, "%s: tokenizer.ggml.scores[%llu]: not a float",
                               gguf_path(f), (unsigned long long)i);
        a->n_scores = (size_t)arr->arr.n;
    }
    return 0;
}

/* An optional string key as a copy (NULL when absent). */
static int copy_string(const gguf_file *f, const char *key, int required, char **out,
                       cb_err *err)
{
    *out = NULL;
    if (!required && !gguf_find_key(f, key))
        return 0;
    gguf_str s;
    if (gguf_get_str(f, key, &s, err) != 0)
        return -1;
    if (!(*out = gguf_strdup(s)))
        return cb_fail(err, "%s: %s: out of memory", gguf_path(f), key);
    return 0;
}

/* An optional id key (-1 when absent) and flag key (-1 when absent). */
static int read_id(const gguf_file *f, const char *key, int64_t *out, cb_err *err)
{
    *out = -1;
    return gguf_find_key(f, key) ? gguf_get_i64(f, key, out, err) : 0;
}

static int read_flag(const gguf_file *f, const char *key, int *out, cb_err *err)
{
    bool b;
    *out = -1;
    if (!gguf_find_key(f, key))
        return 0;
    if (gguf_get_bool(f, key, &b, err) != 0)
        return -1;
    *out = b;
    return 0;
}

int gguf_tokenizer(const gguf_file *f, tokenizer **out, cb_err *err)
{
    *out = NULL;
    gtok_arrays a = {0};
    tok_vocab_desc d = tok_vocab_desc_init();
    int rc = -1;
    if (copy_string(f, "tokenizer.ggml.model", 1, &a.model, err) != 0 ||
        copy_string(f, "tokenizer.ggml.pre", 0, &a.pre, err) != 0 ||
        copy_string(f, "tokenizer.chat_template", 0, &a.chat_template, err) != 0 ||
        copy_strings(f, "tokenizer.ggml.tokens", 1, &a.tokens, &a.n_tokens, err) != 0 ||
        copy_strings(f, "tokenizer.ggml.merges", 0, &a.merges, &a.n_merges, err) != 0 ||
        copy_numbers(f, &a, err) != 0 ||
        read_id(f, "tokenizer.ggml.bos_token_id", &d.bos_id, err) != 0 ||
        read_id(f, "tokenizer.ggml.eos_token_id", &d.eos_id, err) != 0 ||
        read_id(f, "tokenizer.ggml.unknown_token_id", &d.unk_id, err) != 0 ||
        read_id(f, "tokenizer.ggml.padding_token_id", &d.pad_id, err) != 0 ||
        read_flag(f, "tokenizer.ggml.add_bos_token", &d.add_bos, err) != 0 ||
        read_flag(f, "tokenizer.ggml.add_eos_token", &d.add_eos, err) != 0 ||
        read_flag(f, "tokenizer.ggml.add_space_prefix", &d.add_space_prefix, err) != 0)
        goto done;
    d.model = a.model;
    d.pre = a.pre;
    d.tokens = (const char *const *)a.tokens;
    d.n_tokens = a.n_tokens;
    d.token_types = a.types;
    d.n_token_types = a.n_types;
    d.scores = a.scores;
    d.n_scores = a.n_scores;
    d.merges = (const char *const *)a.merges;
    d.n_merges = a.n_merges;
    d.chat_template = a.chat_template;
    if (tok_create(&d, out, err) != 0) {
        cb_wrap(err, "%s", gguf_path(f));
        goto done;
    }
    rc = 0;
done:
    arrays_free(&a);
    return rc;
}
