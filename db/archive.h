/* db/archive.h — result archives: runs moved between databases as one
 * tar + zstd file (format version 1).
 *
 * An archive holds, in this order:
 *   manifest.json            format "ctxbench-results", format_version 1,
 *                            created_at, ctxbench_revision (and _dirty), runs
 *                            [{uuid, experiment, status, platform_fingerprint,
 *                            run_file, platform_file, experiment_file}], members
 *                            [{path, size, sha256}] for every other member;
 *   runs/<uuid>.json         store_run_json of the run (samples, counters,
 *                            breakdown, metrics);
 *   platforms/<name>.json    store_platform_json of its platform (with the
 *                            topology XML and probes);
 *   experiments/<name>.ini   the configuration text that produced the run.
 * Import reads the manifest first, then checks every member against it (listed,
 * size, sha256) under the unpacking safety rules (fetch/unpack.h) before the
 * database is touched, then merges every run in one transaction.
 *
 * The manifest parser (db/archive_manifest.c) needs no database, so that it can
 * be fuzzed alone; export and import (db/archive.c) reach the database only
 * through db/store.h.  Never: import anything from an archive that failed a
 * check, or leave a half-written archive at the output path. */
#ifndef CTXBENCH_DB_ARCHIVE_H
#define CTXBENCH_DB_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "db/store.h"
#include "fetch/unpack.h"
#include "util/error.h"
#include "util/hash.h"

#define DBARC_FORMAT "ctxbench-results"
#define DBARC_FORMAT_VERSION 1
#define DBARC_MANIFEST "manifest.json"
#define DBARC_MANIFEST_MAX (INT64_C(64) << 20) /* bytes of manifest.json */

/* ---- the manifest ---- */

typedef struct dbarc_member {
    char *path; /* normalised relative path */
    int64_t size;
    char sha256[CB_SHA256_HEX_LEN];
} dbarc_member;

typedef struct dbarc_run {
    char *uuid, *experiment, *status, *platform_fingerprint;
    char *run_file;        /* a member path */
    char *platform_file;   /* a member path, or NULL */
    char *experiment_file; /* a member path, or NULL */
} dbarc_run;

typedef struct dbarc_manifest {
    int format_version;
    char *created_at;
    char *revision;
    dbarc_run *runs;
    size_t n_runs;
    dbarc_member *members;
    size_t n_members;
    size_t *by_path; /* indices of members sorted by path (for lookups) */
} dbarc_manifest;

/* Parses and checks manifest.json text (len bytes, need not be NUL-terminated):
 * every field present with its type, the format and version known, member
 * paths safe and unique, sizes >= 0, sha256 64 lowercase hex digits, uuids
 * well-formed and unique, every file a run names listed among the members.
 * Returns 0 and *out (caller frees with dbarc_manifest_free), or -1 with err
 * "manifest.json: <field, e.g. runs[2].uuid>: <why>" and *out NULL. */
int dbarc_manifest_parse(const char *text, size_t len, dbarc_manifest **out, cb_err *err);

void dbarc_manifest_free(dbarc_manifest *m); /* NULL is a no-op */

/* The member listed with this path, or NULL.  Its index in m->members goes to
 * *index when index is not NULL. */
const dbarc_member *dbarc_manifest_member(const dbarc_manifest *m, const char *path, size_t *index);

/* ---- export and import ---- */

typedef struct dbarc_export_opts {
    const char *const *runs; /* uuids (or unique prefixes) to export */
    size_t n_runs;
    const char *experiment;  /* every run of this experiment */
    /* with neither runs nor experiment, every run of the database */
} dbarc_export_opts;

/* Writes the selected runs (the union of the uuids and the experiment's runs)
 * to out_path as a tar + zstd result archive, through a temporary file beside
 * it renamed into place at the end.  Sets *n_runs (may be NULL).  Returns 0,
 * or -1 with err; then out_path is untouched. */
int dbarc_export(store *s, const dbarc_export_opts *opts, const char *out_path, size_t *n_runs,
                 cb_err *err);

typedef struct dbarc_import_result {
    size_t n_runs;     /* runs in the archive */
    int n_imported;    /* runs added (the others were already here) */
    char sha256[CB_SHA256_HEX_LEN]; /* of the archive file */
    char origin[512];  /* what the imported runs record as their origin */
} dbarc_import_result;

/* Verifies the archive at path (manifest, then every member: listed, size,
 * sha256, safe) and merges its runs into s in one transaction: runs already
 * here are skipped, uuids kept, platforms matched by fingerprint, each new
 * run's origin "archive:<file name> sha256:<hex of the archive>".  lim NULL
 * means 1 GiB an entry, 8 GiB in all, 100000 entries.  Fills res (may be
 * NULL).  Returns 0, or -1 with err naming the member or field at fault; on
 * error the database is unchanged. */
int dbarc_import(store *s, const char *path, const unpack_limits *lim, dbarc_import_result *res,
                 cb_err *err);

#endif
