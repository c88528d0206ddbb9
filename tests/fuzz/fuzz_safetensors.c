/* tests/fuzz/fuzz_safetensors.c — libFuzzer target for the safetensors reader.
 *
 * Feeds the input bytes to st_file_open_mem as a whole file; when it opens,
 * walks every tensor (lookup by name, st_expect on its own shape, conversion of
 * F32/F16/BF16 data) so the checks the reader promised are exercised too.
 * Built only by tests/fuzz/fuzz.mk with clang -fsanitize=fuzzer; never part of
 * the library or of `make test`. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "models/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads every tensor's bytes and converts what can be converted. */
static void walk(const st_file *f)
{
    for (size_t i = 0; i < st_file_count(f); i++) {
        const st_tensor *t = st_file_tensor(f, i);
        if (st_file_find(f, t->name) != t)
            abort();
        if (t->nbytes != t->nelems * st_dtype_size(t->dtype))
            abort();
        volatile uint8_t sink = 0;
        for (size_t b = 0; b < t->nbytes; b++)
            sink ^= ((const uint8_t *)t->data)[b];
        (void)sink;
        float *out = malloc((t->nelems ? t->nelems : 1) * sizeof *out);
        cb_err err;
        if (out && st_to_f32(t, out, (size_t)t->nelems, &err) < 0 &&
            (t->dtype == ST_F32 || t->dtype == ST_F16 || t->dtype == ST_BF16))
            abort(); /* a supported dtype of the right size must convert */
        free(out);
    }
    (void)st_file_metadata(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Copy into an exact-size heap block so ASan sees any read past the end. */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    cb_err err;
    st_file *f = st_file_open_mem(buf, size, "fuzz.safetensors", &err);
    if (f)
        walk(f);
    else if (!err.msg[0])
        abort(); /* a refusal must say why */
    st_file_close(f);
    free(buf);
    return 0;
}
