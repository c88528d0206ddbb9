/* tests/fuzz/fuzz_archive_manifest.c — libFuzzer target for the manifest.json
 * parser of result archives (db/archive_manifest.c).
 *
 * Feeds the input bytes (an exact-size copy, so that ASan sees over-reads) to
 * dbarc_manifest_parse; an accepted manifest must keep the promises of
 * archive.h (version 1, at least one run, member paths normalised and unique
 * and found by lookup, sizes >= 0, sha256 64 hex digits, every file a run
 * names listed), or the target aborts.  Built only by tests/fuzz/fuzz.mk;
 * never part of the library or of `make test`. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "db/archive.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const dbarc_manifest *m)
{
    char norm[4096];
    if (m->format_version != DBARC_FORMAT_VERSION || m->n_runs == 0 || !m->created_at ||
        !m->revision)
        abort();
    for (size_t i = 0; i < m->n_members; i++) {
        const dbarc_member *mem = &m->members[i];
        size_t idx = (size_t)-1;
        if (unpack_path_normalise(mem->path, norm, sizeof norm, NULL) != 0 ||
            strcmp(norm, mem->path) != 0 || mem->size < 0 || strlen(mem->sha256) != 64 ||
            dbarc_manifest_member(m, mem->path, &idx) != mem || idx != i)
            abort();
    }
    for (size_t i = 0; i < m->n_runs; i++) {
        const dbarc_run *r = &m->runs[i];
        if (strlen(r->uuid) != 36 || !dbarc_manifest_member(m, r->run_file, NULL) ||
            (r->platform_file && !dbarc_manifest_member(m, r->platform_file, NULL)) ||
            (r->experiment_file && !dbarc_manifest_member(m, r->experiment_file, NULL)))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    dbarc_manifest *m = NULL;
    cb_err err;
    if (dbarc_manifest_parse(buf, size, &m, &err) == 0) {
        check(m);
        dbarc_manifest_free(m);
    }
    free(buf);
    return 0;
}
