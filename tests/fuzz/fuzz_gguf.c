/* tests/fuzz/fuzz_gguf.c — libFuzzer target for the GGUF reader.
 *
 * Feeds the input bytes to gguf_open_mem as a whole file; when it opens, walks
 * everything the reader promised is safe: every key (lookup, typed getters,
 * every array element down to the deepest nesting), every tensor (lookup by
 * name, size against the type table, each byte of its data inside the
 * buffer).  A refusal must carry a message.  Built only by tests/fuzz/fuzz.mk
 * with clang -fsanitize=fuzzer; never part of the library or of `make test`. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "models/gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t sink;

/* Touches every element of value v (an array or a scalar), depth-first. */
static void walk_value(const gguf_value *v, int depth)
{
    if (depth > GGUF_MAX_DEPTH)
        abort(); /* the reader promised to refuse deeper nesting */
    if (v->type == GGUF_STR) {
        for (size_t i = 0; i < v->str.len; i++)
            sink += (uint8_t)v->str.ptr[i];
        return;
    }
    if (v->type != GGUF_ARR)
        return;
    for (uint64_t i = 0; i < v->arr.n; i++) {
        gguf_value sc;
        int64_t x;
        float fl;
        gguf_str s;
        if (v->arr.type == GGUF_ARR) {
            const gguf_value *item = gguf_arr_item(v, i);
            if (!item || item->type != GGUF_ARR)
                abort();
            walk_value(item, depth + 1);
        } else if (!gguf_arr_scalar(v, i, &sc)) {
            abort();
        } else {
            walk_value(&sc, depth);
            sink += gguf_arr_i64(v, i, &x) ? (uint64_t)x : 0;
            sink += gguf_arr_f32(v, i, &fl) ? 1 : 0;
            if (gguf_arr_str(v, i, &s))
                sink += s.len;
        }
    }
}

static void walk(const gguf_file *f, const uint8_t *buf, size_t size)
{
    cb_err err;
    for (size_t i = 0; i < gguf_kv_count(f); i++) {
        const gguf_kv *kv = gguf_kv_at(f, i);
        if (gguf_find_key(f, kv->key) != &kv->val)
            abort();
        uint32_t u32;
        int64_t i64;
        double f64;
        gguf_str s;
        sink += gguf_get_u32(f, kv->key, &u32, &err) == 0 ? u32 : 0;
        sink += gguf_get_i64(f, kv->key, &i64, &err) == 0 ? (uint64_t)i64 : 0;
        sink += gguf_get_f64(f, kv->key, &f64, &err) == 0 ? 1 : 0;
        sink += gguf_get_str(f, kv->key, &s, &err) == 0 ? s.len : 0;
        walk_value(&kv->val, kv->val.type == GGUF_ARR ? 1 : 0);
    }
    for (size_t i = 0; i < gguf_tensor_count(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        if (gguf_find_tensor(f, t->name) != t)
            abort();
        uint32_t blk = gguf_type_block(t->type);
        if (!blk || t->ne[0] % blk || t->nbytes != t->nelems / blk * gguf_type_size(t->type))
            abort();
        const uint8_t *d = gguf_tensor_data(f, t);
        if (d < buf || d + t->nbytes > buf + size || t->offset % gguf_alignment(f))
            abort();
        for (uint64_t b = 0; b < t->nbytes; b++)
            sink += d[b];
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Copy into an exact-size heap block so ASan sees any read past the end. */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    cb_err err;
    err.msg[0] = '\0';
    gguf_file *f = gguf_open_mem(buf, size, "fuzz.gguf", &err);
    if (f)
        walk(f, buf, size);
    else if (!err.msg[0])
        abort(); /* a refusal must say why */
    gguf_close(f);
    free(buf);
    return 0;
}
