/* tests/fuzz/fuzz_unpack.c — libFuzzer target for reading untrusted archives
 * (fetch/unpack.c) and the import checks that follow (db/archive_manifest.c).
 *
 * Feeds the input bytes, as an in-memory archive (tar, tar.gz, tar.zst or
 * zip), to unpack_walk_memory under small limits; every regular file handed
 * to the visitor must have a safe normalised path, a size within the limit and
 * the sha256 of its bytes; a member called manifest.json goes through the
 * manifest parser, and an accepted manifest's members are looked up the way
 * import does.  Any broken promise aborts.  Built only by tests/fuzz/fuzz.mk;
 * never part of the library or of `make test`.  (libarchive itself is the
 * system's, not instrumented: the coverage is of ctxbench's own code.) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/sha2.h>

#include "db/archive.h"
#include "fetch/unpack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unpack_limits fuzz_limits = {
    .max_entry_bytes = 1 << 20,
    .max_total_bytes = 4 << 20,
    .max_entries = 256,
};

/* The sha256 the visitor is given must be the one of the bytes it is given. */
static void check_sha(const char *data, size_t len, const char *sha)
{
    static const char digits[] = "0123456789abcdef";
    struct sha256_ctx c;
    uint8_t d[SHA256_DIGEST_SIZE];
    char hex[CB_SHA256_HEX_LEN];
    sha256_init(&c);
    sha256_update(&c, len, (const uint8_t *)data);
    sha256_digest(&c, sizeof d, d);
    for (size_t i = 0; i < sizeof d; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[64] = '\0';
    if (strcmp(hex, sha) != 0)
        abort();
}

static int visit(void *ctx, const char *path, const char *data, size_t len,
                 const char sha256[CB_SHA256_HEX_LEN], cb_err *err)
{
    char norm[4096];
    size_t *total = ctx;
    if (unpack_path_normalise(path, norm, sizeof norm, NULL) != 0 || strcmp(norm, path) != 0)
        abort(); /* an unsafe or unnormalised path got through */
    if ((int64_t)len > fuzz_limits.max_entry_bytes || data[len] != '\0')
        abort();
    *total += len;
    if (*total > (size_t)fuzz_limits.max_total_bytes)
        abort();
    check_sha(data, len, sha256);
    if (strcmp(path, DBARC_MANIFEST) == 0) {
        dbarc_manifest *m = NULL;
        if (dbarc_manifest_parse(data, len, &m, err) == 0) {
            for (size_t i = 0; i < m->n_runs; i++)
                if (!dbarc_manifest_member(m, m->runs[i].run_file, NULL))
                    abort();
            dbarc_manifest_free(m);
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t total = 0;
    cb_err err;
    (void)unpack_walk_memory(data, size, "fuzz", &fuzz_limits, visit, &total, &err);
    return 0;
}
