/* db/archive.c — exporting runs to a result archive and importing one (see
 * archive.h for the format).
 *
 * Export reads the runs through store_run_json / store_platform_json, builds
 * every member in memory, then writes manifest.json and the members as a tar
 * (pax) compressed with zstd into a temporary file renamed into place.
 * Import: (1) the archive's sha256; (2) manifest.json alone, parsed and
 * checked; (3) one pass over every entry under the unpacking rules, each
 * member checked against the manifest (listed, size, sha256) and the JSON ones
 * parsed; (4) every listed member seen, each run's file consistent with the
 * manifest; (5) store_runs_import, one transaction.  Nothing reaches the
 * database before step 5.
 *
 * Never: write SQL (db/store.c does), import from an archive that failed a
 * check, or leave a partial archive at the output path. */
#include "db/archive.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>

#include "util/buildinfo.h"
#include "util/text.h"

/* ---- export -------------------------------------------------------------------------- */

/* One member to write: its path and content (both owned). */
typedef struct dbarc_blob {
    char *path;
    char *data;
    size_t len;
} dbarc_blob;

typedef struct dbarc_out {
    dbarc_blob *blobs;
    size_t n;
    json_t *runs;      /* manifest "runs" */
    json_t *platforms; /* fingerprint -> member path */
    json_t *configs;   /* member path -> config hash, for experiment files */
} dbarc_out;

static void dbarc_out_free(dbarc_out *o)
{
    for (size_t i = 0; i < o->n; i++) {
        free(o->blobs[i].path);
        free(o->blobs[i].data);
    }
    free(o->blobs);
    json_decref(o->runs);
    json_decref(o->platforms);
    json_decref(o->configs);
}

/* Adds a member; takes data (a heap string of len bytes) in every case. */
static int dbarc_add(dbarc_out *o, const char *path, char *data, size_t len, cb_err *err)
{
    dbarc_blob *b = realloc(o->blobs, (o->n + 1) * sizeof *b);
    char *p = strdup(path);
    if (!b || !p || !data) {
        if (b)
            o->blobs = b;
        free(p);
        free(data);
        return cb_fail(err, "export: out of memory");
    }
    o->blobs = b;
    b[o->n++] = (dbarc_blob){.path = p, .data = data, .len = len};
    return 0;
}

/* A name usable as one path component: s itself when it is short and made of
 * [A-Za-z0-9._-] (not starting with '.'), else the sha256 of s. */
static void dbarc_safe_name(const char *s, char *out, size_t cap)
{
    size_t n = strlen(s);
    int ok = n > 0 && n < 100 && n < cap && s[0] != '.';
    for (size_t i = 0; ok && i < n; i++)
        ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
             (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_' || s[i] == '-';
    if (ok) {
        memcpy(out, s, n + 1);
        return;
    }
    char hex[CB_SHA256_HEX_LEN];
    cb_sha256_hex(s, n, hex);
    cb_strlcpy(out, hex, cap);
}

static const char *dbarc_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* Adds platforms/<name>.json for the run's platform, once per fingerprint;
 * sets *path to the member path (owned by o). */
static int dbarc_add_platform(store *s, dbarc_out *o, const json_t *run, const char **path,
                              cb_err *err)
{
    const char *fp = dbarc_str(json_object_get(run, "platform"), "fingerprint");
    if (!fp)
        return cb_fail(err, "export: run %s: its platform has no fingerprint", dbarc_str(run, "uuid"));
    if ((*path = dbarc_str(o->platforms, fp)))
        return 0;
    char name[128], member[160];
    dbarc_safe_name(fp, name, sizeof name);
    snprintf(member, sizeof member, "platforms/%s.json", name);
    json_t *p = store_platform_json(s, json_integer_value(json_object_get(run, "platform_id")), err);
    if (!p)
        return -1;
    char *text = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(p);
    if (dbarc_add(o, member, text, text ? strlen(text) : 0, err) != 0)
        return -1;
    if (json_object_set_new(o->platforms, fp, json_string(member)) != 0)
        return cb_fail(err, "export: out of memory");
    *path = dbarc_str(o->platforms, fp);
    return 0;
}

/* Adds experiments/<name>.ini with the run's configuration text (another
 * text under the same name becomes <name>-<hash>.ini); *path NULL when the
 * run kept no text. */
static int dbarc_add_config(dbarc_out *o, const json_t *run, const char **path, cb_err *err)
{
    const char *text = dbarc_str(run, "config_text");
    *path = NULL;
    if (!text)
        return 0;
    char name[128], member[200], hex[CB_SHA256_HEX_LEN];
    cb_sha256_hex(text, strlen(text), hex);
    dbarc_safe_name(dbarc_str(run, "experiment"), name, sizeof name);
    snprintf(member, sizeof member, "experiments/%s.ini", name);
    const char *have = dbarc_str(o->configs, member);
    if (have && strcmp(have, hex) != 0) {
        snprintf(member, sizeof member, "experiments/%s-%.12s.ini", name, hex);
        have = dbarc_str(o->configs, member);
    }
    if (!have) {
        if (dbarc_add(o, member, strdup(text), strlen(text), err) != 0)
            return -1;
        if (json_object_set_new(o->configs, member, json_string(hex)) != 0)
            return cb_fail(err, "export: out of memory");
    }
    *path = json_object_iter_key(json_object_iter_at(o->configs, member)); /* owned by o */
    return 0;
}

/* Adds one run: its JSON, its platform, its configuration, and its manifest entry. */
static int dbarc_add_run(store *s, dbarc_out *o, const json_t *run, cb_err *err)
{
    const char *uuid = dbarc_str(run, "uuid"), *plat_path, *ini_path;
    char member[96];
    snprintf(member, sizeof member, "runs/%s.json", uuid);
    char *text = json_dumps(run, JSON_COMPACT | JSON_SORT_KEYS);
    if (dbarc_add(o, member, text, text ? strlen(text) : 0, err) != 0 ||
        dbarc_add_platform(s, o, run, &plat_path, err) != 0 ||
        dbarc_add_config(o, run, &ini_path, err) != 0)
        return -1;
    json_t *entry = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s?}", "uuid", uuid, "experiment",
                              dbarc_str(run, "experiment"), "status", dbarc_str(run, "status"),
                              "platform_fingerprint",
                              dbarc_str(json_object_get(run, "platform"), "fingerprint"),
                              "run_file", member, "platform_file", plat_path, "experiment_file",
                              ini_path);
    if (!entry || json_array_append_new(o->runs, entry) != 0)
        return cb_fail(err, "export: run %s: out of memory", uuid);
    return 0;
}

/* Adds the run (uuid or prefix) unless it is in already. */
static int dbarc_select(store *s, dbarc_out *o, json_t *seen, const char *uuid, cb_err *err)
{
    json_t *run = store_run_json(s, uuid, err);
    if (!run)
        return -1;
    int ret = 0;
    const char *full = dbarc_str(run, "uuid");
    if (!json_object_get(seen, full)) {
        ret = json_object_set_new(seen, full, json_true()) != 0 ? cb_fail(err, "export: out of memory")
                                                                : dbarc_add_run(s, o, run, err);
    }
    json_decref(run);
    return ret;
}

/* Adds the selected runs to o. */
static int dbarc_collect(store *s, const dbarc_export_opts *opts, dbarc_out *o, cb_err *err)
{
    json_t *seen = json_object(), *list = NULL, *r;
    size_t i;
    int ret = seen ? 0 : cb_fail(err, "export: out of memory");
    for (i = 0; ret == 0 && opts && i < opts->n_runs; i++)
        ret = dbarc_select(s, o, seen, opts->runs[i], err);
    if (ret == 0 && (!opts || opts->experiment || opts->n_runs == 0)) {
        list = store_runs_json(s, opts ? opts->experiment : NULL, err);
        if (!list)
            ret = -1;
        json_array_foreach(list, i, r) {
            if (ret == 0)
                ret = dbarc_select(s, o, seen, dbarc_str(r, "uuid"), err);
        }
    }
    if (ret == 0 && json_array_size(o->runs) == 0)
        ret = opts && opts->experiment ? cb_fail(err, "export: no runs of experiment %s", opts->experiment)
                                       : cb_fail(err, "export: no runs to export");
    json_decref(list);
    json_decref(seen);
    return ret;
}

/* The manifest text for o's members and runs (heap). */
static char *dbarc_manifest_text(const dbarc_out *o)
{
    char created[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *members = json_array();
    for (size_t i = 0; members && i < o->n; i++) {
        char hex[CB_SHA256_HEX_LEN];
        cb_sha256_hex(o->blobs[i].data, o->blobs[i].len, hex);
        json_array_append_new(members, json_pack("{s:s, s:I, s:s}", "path", o->blobs[i].path, "size",
                                                 (json_int_t)o->blobs[i].len, "sha256", hex));
    }
    int dirty = cb_source_dirty();
    json_t *m = json_pack("{s:s, s:i, s:s, s:s, s:o, s:O, s:o}", "format", DBARC_FORMAT,
                          "format_version", DBARC_FORMAT_VERSION, "created_at", created,
                          "ctxbench_revision", cb_source_revision(), "ctxbench_dirty",
                          dirty < 0 ? json_null() : json_integer(dirty), "runs", o->runs,
                          "members", members);
    char *text = m ? json_dumps(m, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(m);
    return text;
}

/* Writes one member as a regular file entry. */
static int dbarc_write_member(struct archive *a, const char *path, const char *data, size_t len,
                              time_t mtime, cb_err *err)
{
    struct archive_entry *e = archive_entry_new();
    if (!e)
        return cb_fail(err, "%s: out of memory", path);
    archive_entry_set_pathname(e, path);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)len);
    archive_entry_set_mtime(e, mtime, 0);
    int ret = 0;
    if (archive_write_header(a, e) != ARCHIVE_OK)
        ret = cb_fail(err, "%s: %s", path, archive_error_string(a));
    else if (len > 0 && archive_write_data(a, data, len) != (la_ssize_t)len)
        ret = cb_fail(err, "%s: %s", path, archive_error_string(a) ? archive_error_string(a) : "short write");
    archive_entry_free(e);
    return ret;
}

/* Writes the manifest and every member to the open file fd. */
static int dbarc_write(int fd, const char *manifest, const dbarc_out *o, cb_err *err)
{
    struct archive *a = archive_write_new();
    time_t now = time(NULL);
    if (!a)
        return cb_fail(err, "out of memory");
    int ret = 0;
    if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
        archive_write_add_filter_zstd(a) != ARCHIVE_OK ||
        archive_write_open_fd(a, fd) != ARCHIVE_OK)
        ret = cb_fail(err, "libarchive (tar + zstd): %s", archive_error_string(a));
    if (ret == 0)
        ret = dbarc_write_member(a, DBARC_MANIFEST, manifest, strlen(manifest), now, err);
    for (size_t i = 0; ret == 0 && i < o->n; i++)
        ret = dbarc_write_member(a, o->blobs[i].path, o->blobs[i].data, o->blobs[i].len, now, err);
    if (archive_write_close(a) != ARCHIVE_OK && ret == 0)
        ret = cb_fail(err, "%s", archive_error_string(a));
    archive_write_free(a);
    return ret;
}

/* Writes the archive to a temporary file beside out_path, then renames it. */
static int dbarc_write_file(const char *out_path, const char *manifest, const dbarc_out *o,
                            cb_err *err)
{
    char tmp[4096];
    if (cb_mkdirs_for(out_path, err) != 0)
        return -1;
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", out_path) >= sizeof tmp)
        return cb_fail(err, "%s: path too long", out_path);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return cb_fail(err, "%s: %s", tmp, strerror(errno));
    int ret = fchmod(fd, 0644) == 0 ? 0 : cb_fail(err, "%s: %s", tmp, strerror(errno));
    if (ret == 0)
        ret = dbarc_write(fd, manifest, o, err);
    if (ret == 0 && fsync(fd) != 0)
        ret = cb_fail(err, "%s: %s", tmp, strerror(errno));
    if (close(fd) != 0 && ret == 0)
        ret = cb_fail(err, "%s: %s", tmp, strerror(errno));
    if (ret == 0 && rename(tmp, out_path) != 0)
        ret = cb_fail(err, "%s: %s", out_path, strerror(errno));
    if (ret != 0) {
        unlink(tmp);
        return cb_wrap(err, "%s", out_path);
    }
    return 0;
}

int dbarc_export(store *s, const dbarc_export_opts *opts, const char *out_path, size_t *n_runs,
                 cb_err *err)
{
    dbarc_out o = {.runs = json_array(), .platforms = json_object(), .configs = json_object()};
    char *manifest = NULL;
    int ret = (o.runs && o.platforms && o.configs) ? 0 : cb_fail(err, "export: out of memory");
    if (ret == 0)
        ret = dbarc_collect(s, opts, &o, err);
    if (ret == 0 && !(manifest = dbarc_manifest_text(&o)))
        ret = cb_fail(err, "export: out of memory");
    if (ret == 0)
        ret = dbarc_write_file(out_path, manifest, &o, err);
    if (ret == 0 && n_runs)
        *n_runs = json_array_size(o.runs);
    free(manifest);
    dbarc_out_free(&o);
    return ret;
}

/* ---- import -------------------------------------------------------------------------- */

typedef struct dbarc_in {
    const char *label;       /* the archive's path */
    const dbarc_manifest *m;
    unsigned char *seen;     /* per member: found in the archive */
    unsigned char *wanted;   /* per member: a JSON file a run names */
    json_t *files;           /* member path -> parsed JSON (runs/, platforms/) */
} dbarc_in;

/* Marks the members that are JSON files a run names (run and platform files). */
static void dbarc_mark_wanted(dbarc_in *in)
{
    size_t idx;
    for (size_t i = 0; i < in->m->n_runs; i++) {
        if (dbarc_manifest_member(in->m, in->m->runs[i].run_file, &idx))
            in->wanted[idx] = 1;
        if (in->m->runs[i].platform_file &&
            dbarc_manifest_member(in->m, in->m->runs[i].platform_file, &idx))
            in->wanted[idx] = 1;
    }
}

/* The walker's visitor: checks one member against the manifest. */
static int dbarc_visit(void *ctx, const char *path, const char *data, size_t len,
                       const char sha256[CB_SHA256_HEX_LEN], cb_err *err)
{
    dbarc_in *in = ctx;
    size_t idx = 0;
    if (strcmp(path, DBARC_MANIFEST) == 0)
        return 0; /* read first, on its own */
    const dbarc_member *mem = dbarc_manifest_member(in->m, path, &idx);
    if (!mem)
        return cb_fail(err, "%s: member \"%s\": not listed in %s", in->label, path, DBARC_MANIFEST);
    if ((int64_t)len != mem->size)
        return cb_fail(err, "%s: member \"%s\": %zu bytes, the manifest says %lld", in->label, path,
                       len, (long long)mem->size);
    if (strcmp(sha256, mem->sha256) != 0)
        return cb_fail(err, "%s: member \"%s\": sha256 %s does not match the manifest's %s",
                       in->label, path, sha256, mem->sha256);
    in->seen[idx] = 1;
    if (!in->wanted[idx])
        return 0;
    json_error_t jerr;
    json_t *v = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(v)) {
        json_decref(v);
        return cb_fail(err, "%s: member \"%s\": %s", in->label, path,
                       v ? "not a JSON object" : jerr.text);
    }
    if (json_object_set_new(in->files, path, v) != 0)
        return cb_fail(err, "%s: out of memory", in->label);
    return 0;
}

/* Checks that a run's file agrees with the manifest and gives it its platform
 * file; appends a copy to runs. */
static int dbarc_run_object(dbarc_in *in, const dbarc_run *r, json_t *runs, cb_err *err)
{
    json_t *run = json_object_get(in->files, r->run_file);
    const char *uuid = dbarc_str(run, "uuid"), *exp = dbarc_str(run, "experiment");
    const char *fp = dbarc_str(json_object_get(run, "platform"), "fingerprint");
    if (!uuid || strcmp(uuid, r->uuid) != 0 || !exp || strcmp(exp, r->experiment) != 0 || !fp ||
        strcmp(fp, r->platform_fingerprint) != 0)
        return cb_fail(err, "%s: member \"%s\": its uuid, experiment or platform fingerprint "
                            "differs from the manifest's run %s", in->label, r->run_file, r->uuid);
    json_t *copy = json_deep_copy(run);
    if (!copy || json_array_append_new(runs, copy) != 0)
        return cb_fail(err, "%s: out of memory", in->label);
    if (!r->platform_file)
        return 0;
    json_t *plat = json_object_get(in->files, r->platform_file);
    if (!dbarc_str(plat, "fingerprint") || strcmp(dbarc_str(plat, "fingerprint"), fp) != 0)
        return cb_fail(err, "%s: member \"%s\": not the platform %s of run %s", in->label,
                       r->platform_file, fp, r->uuid);
    return json_object_set(copy, "platform", plat) != 0 ? cb_fail(err, "%s: out of memory", in->label) : 0;
}

/* Steps 3 and 4: every member checked, every listed member present; the runs
 * ready for the store go to *runs_out. */
static int dbarc_verify(dbarc_in *in, const unpack_limits *lim, json_t **runs_out, cb_err *err)
{
    if (unpack_walk_file(in->label, lim, dbarc_visit, in, err) != 0)
        return -1;
    for (size_t i = 0; i < in->m->n_members; i++)
        if (!in->seen[i])
            return cb_fail(err, "%s: member \"%s\": listed in %s but not in the archive", in->label,
                           in->m->members[i].path, DBARC_MANIFEST);
    json_t *runs = json_array();
    if (!runs)
        return cb_fail(err, "%s: out of memory", in->label);
    for (size_t i = 0; i < in->m->n_runs; i++) {
        if (dbarc_run_object(in, &in->m->runs[i], runs, err) != 0) {
            json_decref(runs);
            return -1;
        }
    }
    *runs_out = runs;
    return 0;
}

static const unpack_limits dbarc_import_limits = {
    .max_entry_bytes = INT64_C(1) << 30,
    .max_total_bytes = INT64_C(8) << 30,
    .max_entries = 100000,
};

int dbarc_import(store *s, const char *path, const unpack_limits *lim, dbarc_import_result *res,
                 cb_err *err)
{
    dbarc_import_result r = {0};
    dbarc_manifest *m = NULL;
    dbarc_in in = {.label = path};
    json_t *runs = NULL;
    char *text = NULL;
    size_t len = 0;
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    if (!lim)
        lim = &dbarc_import_limits;
    int ret = unpack_sha256_file(path, r.sha256, err);
    if (ret == 0)
        ret = unpack_read_member(path, DBARC_MANIFEST, DBARC_MANIFEST_MAX, lim, &text, &len, err);
    if (ret == 0 && dbarc_manifest_parse(text, len, &m, err) != 0)
        ret = cb_wrap(err, "%s", path);
    if (ret == 0) {
        in.m = m;
        in.seen = calloc(m->n_members + 1, 1);
        in.wanted = calloc(m->n_members + 1, 1);
        in.files = json_object();
        if (in.seen && in.wanted && in.files) {
            dbarc_mark_wanted(&in);
            ret = dbarc_verify(&in, lim, &runs, err);
        } else {
            ret = cb_fail(err, "out of memory");
        }
    }
    if (ret == 0) {
        snprintf(r.origin, sizeof r.origin, "archive:%.300s sha256:%s", base, r.sha256);
        r.n_runs = m->n_runs;
        ret = store_runs_import(s, runs, r.origin, &r.n_imported, err);
    }
    if (ret == 0 && res)
        *res = r;
    json_decref(runs);
    json_decref(in.files);
    free(in.seen);
    free(in.wanted);
    free(text);
    dbarc_manifest_free(m);
    return ret;
}
