/* tests/fuzz/fuzz_model_manifest.c — libFuzzer target for the model manifest
 * parser (fetch/manifest.c, models/manifest.json's reader).
 *
 * Feeds the input bytes (an exact-size copy, so that ASan sees over-reads) to
 * mf_parse; an accepted manifest must keep manifest.h's promises (at least
 * one model, 1..MF_MAX_FILES files each, relative paths without "..",
 * digests empty or 64 hex digits, sizes -1 or >= 0, found by name), or the
 * target aborts.  Built only by tests/fuzz/fuzz.mk. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fetch/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 1 when some '/'-separated component of p is empty, "." or "..". */
static int bad_component(const char *p)
{
    for (const char *seg = p;;) {
        size_t n = strcspn(seg, "/");
        if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
            return 1;
        if (!seg[n])
            return 0;
        seg += n + 1;
    }
}

static void check_file(const mf_file *f)
{
    size_t n = strlen(f->sha256);
    if (f->path[0] == '/' || bad_component(f->path) || (n != 0 && n != 64) || f->size < -1)
        abort();
}

static void check(const mf_manifest *m)
{
    if (m->n < 1)
        abort();
    for (int i = 0; i < m->n; i++) {
        const mf_model *mod = &m->models[i];
        if (mod->n_files < 1 || mod->n_files > MF_MAX_FILES || mf_find(m, mod->name) != mod)
            abort();
        for (int k = 0; k < mod->n_files; k++)
            check_file(&mod->files[k]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    mf_manifest m;
    cb_err err;
    if (mf_parse(copy, size, "fuzz.json", &m, &err) == 0) {
        check(&m);
        mf_free(&m);
    }
    free(copy);
    return 0;
}
