/* db/archive_manifest.c — parsing and checking the manifest.json of a result
 * archive (see archive.h for its shape).
 *
 * The input is untrusted: every field is checked for presence and type, and
 * an error names the field ("runs[2].uuid") and why.  Needs no database, so it
 * can be fuzzed alone (tests/fuzz/fuzz_archive_manifest.c).
 * Never: trust a path, a size or a count of the manifest without checking it. */
#include "db/archive.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

void dbarc_manifest_free(dbarc_manifest *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_runs; i++) {
        dbarc_run *r = &m->runs[i];
        free(r->uuid);
        free(r->experiment);
        free(r->status);
        free(r->platform_fingerprint);
        free(r->run_file);
        free(r->platform_file);
        free(r->experiment_file);
    }
    for (size_t i = 0; i < m->n_members; i++)
        free(m->members[i].path);
    free(m->runs);
    free(m->members);
    free(m->by_path);
    free(m->created_at);
    free(m->revision);
    free(m);
}

const dbarc_member *dbarc_manifest_member(const dbarc_manifest *m, const char *path, size_t *index)
{
    size_t lo = 0, hi = m->by_path ? m->n_members : 0;
    while (lo < hi) { /* binary search over by_path */
        size_t mid = lo + (hi - lo) / 2, i = m->by_path[mid];
        int c = strcmp(m->members[i].path, path);
        if (c == 0) {
            if (index)
                *index = i;
            return &m->members[i];
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Orders member indices by path (qsort_r, ctx: the members). */
static int dbarc_by_path(const void *a, const void *b, void *ctx)
{
    const dbarc_member *mem = ctx;
    return strcmp(mem[*(const size_t *)a].path, mem[*(const size_t *)b].path);
}

static int dbarc_by_string(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts the member index and refuses a path listed twice. */
static int dbarc_index_members(dbarc_manifest *m, cb_err *err)
{
    if (!(m->by_path = malloc((m->n_members + 1) * sizeof *m->by_path)))
        return cb_fail(err, "%s: out of memory", DBARC_MANIFEST);
    for (size_t i = 0; i < m->n_members; i++)
        m->by_path[i] = i;
    qsort_r(m->by_path, m->n_members, sizeof *m->by_path, dbarc_by_path, m->members);
    for (size_t k = 1; k < m->n_members; k++) {
        const char *p = m->members[m->by_path[k]].path;
        if (strcmp(m->members[m->by_path[k - 1]].path, p) == 0)
            return cb_fail(err, "%s: members: \"%s\" listed twice", DBARC_MANIFEST, p);
    }
    return 0;
}

/* Refuses a run uuid listed twice. */
static int dbarc_unique_runs(const dbarc_manifest *m, cb_err *err)
{
    char **uuids = malloc((m->n_runs + 1) * sizeof *uuids);
    int ret = 0;
    if (!uuids)
        return cb_fail(err, "%s: out of memory", DBARC_MANIFEST);
    for (size_t i = 0; i < m->n_runs; i++)
        uuids[i] = m->runs[i].uuid;
    qsort(uuids, m->n_runs, sizeof *uuids, dbarc_by_string);
    for (size_t k = 1; k < m->n_runs && ret == 0; k++)
        if (strcmp(uuids[k - 1], uuids[k]) == 0)
            ret = cb_fail(err, "%s: runs: uuid %s listed twice", DBARC_MANIFEST, uuids[k]);
    free(uuids);
    return ret;
}

/* Fills err with "manifest.json: <field>: <why>" and returns -1. */
static int dbarc_field_fail(cb_err *err, const char *field, const char *why)
{
    return cb_fail(err, "%s: %s: %s", DBARC_MANIFEST, field, why);
}

/* Copies obj[key], a non-empty string without NUL bytes, to *out (heap).
 * optional: absent or null leaves *out NULL. */
static int dbarc_string(const json_t *obj, const char *key, const char *where, int optional,
                        char **out, cb_err *err)
{
    char field[128];
    snprintf(field, sizeof field, "%s%s%s", where, where[0] ? "." : "", key);
    const json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (optional && (!v || json_is_null(v)))
        return 0;
    if (!v)
        return dbarc_field_fail(err, field, "missing");
    if (!json_is_string(v) || json_string_length(v) == 0)
        return dbarc_field_fail(err, field, "not a non-empty string");
    if (strlen(json_string_value(v)) != json_string_length(v))
        return dbarc_field_fail(err, field, "contains a NUL byte");
    if (!(*out = strdup(json_string_value(v))))
        return dbarc_field_fail(err, field, "out of memory");
    return 0;
}

/* The array obj[key]; NULL with err when missing or not an array. */
static const json_t *dbarc_array(const json_t *obj, const char *key, cb_err *err)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        dbarc_field_fail(err, key, "missing");
    else if (!json_is_array(v))
        dbarc_field_fail(err, key, "not an array");
    return json_is_array(v) ? v : NULL;
}

static int dbarc_is_hex64(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return 0;
    return n == 64;
}

static int dbarc_is_uuid(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        int dash = n == 8 || n == 13 || n == 18 || n == 23;
        if (dash ? s[n] != '-' : !((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return 0;
    }
    return n == 36;
}

/* Checks and copies members[i]. */
static int dbarc_parse_member(dbarc_manifest *m, const json_t *o, size_t i, cb_err *err)
{
    char where[64], field[96], norm[4096];
    dbarc_member *mem = &m->members[i];
    snprintf(where, sizeof where, "members[%zu]", i);
    if (!json_is_object(o))
        return dbarc_field_fail(err, where, "not an object");
    if (dbarc_string(o, "path", where, 0, &mem->path, err) != 0)
        return -1;
    cb_err why = {{0}};
    snprintf(field, sizeof field, "%s.path", where);
    if (unpack_path_normalise(mem->path, norm, sizeof norm, &why) != 0)
        return dbarc_field_fail(err, field, why.msg);
    if (strcmp(norm, mem->path) != 0)
        return dbarc_field_fail(err, field, "not in normal form (no \"./\", \"//\" or trailing '/')");
    if (strcmp(mem->path, DBARC_MANIFEST) == 0)
        return dbarc_field_fail(err, field, "names the manifest itself");
    const json_t *size = json_object_get(o, "size");
    snprintf(field, sizeof field, "%s.size", where);
    if (!size)
        return dbarc_field_fail(err, field, "missing");
    if (!json_is_integer(size) || json_integer_value(size) < 0)
        return dbarc_field_fail(err, field, "not an integer >= 0");
    mem->size = json_integer_value(size);
    char *sha = NULL;
    if (dbarc_string(o, "sha256", where, 0, &sha, err) != 0)
        return -1;
    int ok = dbarc_is_hex64(sha);
    if (ok)
        memcpy(mem->sha256, sha, CB_SHA256_HEX_LEN);
    free(sha);
    snprintf(field, sizeof field, "%s.sha256", where);
    return ok ? 0 : dbarc_field_fail(err, field, "not 64 lowercase hex digits");
}

/* Checks that a file a run names is a listed member. */
static int dbarc_listed(const dbarc_manifest *m, const char *path, const char *field, cb_err *err)
{
    if (path && !dbarc_manifest_member(m, path, NULL))
        return dbarc_field_fail(err, field, "names a file not listed in members");
    return 0;
}

/* Checks and copies runs[i] (the members are parsed already). */
static int dbarc_parse_run(dbarc_manifest *m, const json_t *o, size_t i, cb_err *err)
{
    char where[64], field[96];
    dbarc_run *r = &m->runs[i];
    snprintf(where, sizeof where, "runs[%zu]", i);
    if (!json_is_object(o))
        return dbarc_field_fail(err, where, "not an object");
    if (dbarc_string(o, "uuid", where, 0, &r->uuid, err) ||
        dbarc_string(o, "experiment", where, 0, &r->experiment, err) ||
        dbarc_string(o, "status", where, 0, &r->status, err) ||
        dbarc_string(o, "platform_fingerprint", where, 0, &r->platform_fingerprint, err) ||
        dbarc_string(o, "run_file", where, 0, &r->run_file, err) ||
        dbarc_string(o, "platform_file", where, 1, &r->platform_file, err) ||
        dbarc_string(o, "experiment_file", where, 1, &r->experiment_file, err))
        return -1;
    snprintf(field, sizeof field, "%s.uuid", where);
    if (!dbarc_is_uuid(r->uuid))
        return dbarc_field_fail(err, field, "not a lowercase uuid");
    snprintf(field, sizeof field, "%s.run_file", where);
    if (dbarc_listed(m, r->run_file, field, err) != 0)
        return -1;
    snprintf(field, sizeof field, "%s.platform_file", where);
    if (dbarc_listed(m, r->platform_file, field, err) != 0)
        return -1;
    snprintf(field, sizeof field, "%s.experiment_file", where);
    return dbarc_listed(m, r->experiment_file, field, err);
}

/* Checks the top-level fields and copies them. */
static int dbarc_parse_head(dbarc_manifest *m, const json_t *root, cb_err *err)
{
    char *format = NULL;
    if (!json_is_object(root))
        return cb_fail(err, "%s: not a JSON object", DBARC_MANIFEST);
    if (dbarc_string(root, "format", "", 0, &format, err) != 0)
        return -1;
    int known = strcmp(format, DBARC_FORMAT) == 0;
    free(format);
    if (!known)
        return dbarc_field_fail(err, "format", "not \"" DBARC_FORMAT "\"");
    const json_t *v = json_object_get(root, "format_version");
    if (!v)
        return dbarc_field_fail(err, "format_version", "missing");
    if (!json_is_integer(v))
        return dbarc_field_fail(err, "format_version", "not an integer");
    if (json_integer_value(v) != DBARC_FORMAT_VERSION)
        return cb_fail(err, "%s: format_version: unknown version %lld (this build reads %d)",
                       DBARC_MANIFEST, (long long)json_integer_value(v), DBARC_FORMAT_VERSION);
    m->format_version = DBARC_FORMAT_VERSION;
    return dbarc_string(root, "created_at", "", 0, &m->created_at, err) ||
                   dbarc_string(root, "ctxbench_revision", "", 0, &m->revision, err)
               ? -1
               : 0;
}

/* Parses the members and runs arrays of root into m. */
static int dbarc_parse_lists(dbarc_manifest *m, const json_t *root, cb_err *err)
{
    const json_t *members = dbarc_array(root, "members", err), *runs, *o;
    size_t i;
    if (!members || !(runs = dbarc_array(root, "runs", err)))
        return -1;
    if (json_array_size(runs) == 0)
        return dbarc_field_fail(err, "runs", "empty (an archive holds at least one run)");
    m->members = calloc(json_array_size(members) + 1, sizeof *m->members);
    m->runs = calloc(json_array_size(runs), sizeof *m->runs);
    if (!m->members || !m->runs)
        return cb_fail(err, "%s: out of memory", DBARC_MANIFEST);
    json_array_foreach(members, i, o) {
        m->n_members = i + 1;
        if (dbarc_parse_member(m, o, i, err) != 0)
            return -1;
    }
    if (dbarc_index_members(m, err) != 0)
        return -1;
    json_array_foreach(runs, i, o) {
        m->n_runs = i + 1;
        if (dbarc_parse_run(m, o, i, err) != 0)
            return -1;
    }
    return dbarc_unique_runs(m, err);
}

int dbarc_manifest_parse(const char *text, size_t len, dbarc_manifest **out, cb_err *err)
{
    json_error_t jerr;
    *out = NULL;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return cb_fail(err, "%s: line %d: %s", DBARC_MANIFEST, jerr.line, jerr.text);
    dbarc_manifest *m = calloc(1, sizeof *m);
    int ret = m ? 0 : cb_fail(err, "%s: out of memory", DBARC_MANIFEST);
    if (ret == 0)
        ret = dbarc_parse_head(m, root, err);
    if (ret == 0)
        ret = dbarc_parse_lists(m, root, err);
    json_decref(root);
    if (ret != 0) {
        dbarc_manifest_free(m);
        return -1;
    }
    *out = m;
    return 0;
}
