/* db/store.h — the results database: the only module that speaks SQL.
 *
 * One SQLite file, WAL mode, foreign keys on, a busy timeout, the schema version
 * in PRAGMA user_version and numbered migrations (db/migrations.c) applied in
 * order inside one transaction.  Every value is bound with sqlite3_bind_*.
 *
 * A run's lifecycle (column run.status):
 *   running      store_run_begin() — the process (pid, host, boot id) owns it
 *   complete     store_run_end(.., "complete")
 *   failed       store_run_end(.., "failed")
 *   interrupted  store_run_end(.., "interrupted") from a SIGINT/SIGTERM handler's
 *                aftermath, or store_open() finding a running run whose owning
 *                process is gone (killed) — it is marked interrupted then.
 * Invariants: a measurement, with its samples and counters, is committed in one
 * transaction as soon as it is finished, so a kill loses at most the point in
 * flight; nothing here deletes results.
 *
 * Memory: store_* functions that return heap data say who frees it. */
#ifndef CTXBENCH_DB_STORE_H
#define CTXBENCH_DB_STORE_H

#include <stdint.h>

#include <jansson.h>

#include "platforms/measure.h"
#include "platforms/topo.h"
#include "util/error.h"
#include "util/hash.h"

typedef struct store store;

/* Opens (creating the file and its folder if needed) and migrates the database,
 * then marks stale running runs interrupted.  Returns 0 and a handle the caller
 * closes with store_close(), or -1 with err naming the path. */
int store_open(const char *path, store **out, cb_err *err);
void store_close(store *s); /* NULL is a no-op */

/* The schema version this build writes (the number of migrations). */
int store_schema_version(void);

/* ---- platform ---- */

/* Inserts the platform if its fingerprint is new, else refreshes its
 * descriptive columns; topology_xml may be NULL.  Sets *platform_id. */
int store_platform_put(store *s, const plat_info *info, const char *topology_xml,
                       int64_t *platform_id, cb_err *err);

/* Records one roofline probe figure of a platform: kind is "triad_gbps" or
 * "fma_gflops" (free text, other kinds allowed), at a thread count, with the
 * run that measured it (0 for none).  Also raises platform.peak_gbps /
 * peak_gflops to the best value seen for the latest probe session. */
int store_probe_put(store *s, int64_t platform_id, const char *kind, int threads,
                    double value, cb_err *err);

/* The platform's best measured figures (0 when never probed). */
int store_platform_peaks(store *s, int64_t platform_id, double *peak_gbps,
                         double *peak_gflops, cb_err *err);

/* ---- run ---- */

typedef struct store_run_info {
    const char *experiment;   /* name from [experiment] */
    const char *config_path;  /* the experiment file as given */
    const char *config_text;  /* its full text */
    const char *config_hash;  /* sha256 of the text (hex) */
    const char *scale;        /* "quick" or "full" */
    int64_t platform_id;
    const char *revision;     /* source revision */
    int dirty;
    const char *compiler;
    const char *cflags;
    uint64_t seed;
} store_run_info;

/* Creates a run in state running, owned by this process.  Writes its UUID to
 * uuid and its row id to *run_id. */
int store_run_begin(store *s, const store_run_info *info, char uuid[CB_UUID_LEN],
                    int64_t *run_id, cb_err *err);

/* Moves a running run to "complete", "failed" or "interrupted" with its end time. */
int store_run_end(store *s, int64_t run_id, const char *status, cb_err *err);

/* Marks interrupted every run still running whose owner process is gone
 * (store_open does this).  Sets *n_marked when not NULL. */
int store_reap_stale_runs(store *s, int *n_marked, cb_err *err);

/* ---- measurement ---- */

typedef struct store_measurement {
    const char *subject;      /* operator or model name, e.g. "gemm", "triad" */
    const char *impl;         /* implementation, e.g. "builtin", "reference", "openblas" */
    const char *phase;        /* "prefill", "decode" or "step" */
    const char *params_json;  /* canonical JSON of the point's parameters (sorted keys) */
    const char *params_hash;  /* sha256 hex of params_json */
    int threads;
    const meas_result *result;
    double flops;             /* per repetition; <0 when not applicable */
    double bytes;             /* minimum bytes moved per repetition; <0 when n/a */
    double state_bytes;       /* resident state / KV bytes; <0 when n/a */
} store_measurement;

/* Stores the measurement, its raw samples and its counters (one row per
 * counter, supported or not) in one transaction.  Sets *measurement_id. */
int store_measurement_put(store *s, int64_t run_id, const store_measurement *m,
                          int64_t *measurement_id, cb_err *err);

/* Any other number about a run or one measurement (measurement_id 0 for the
 * run): name, value, unit, and whether it was predicted rather than measured. */
int store_metric_put(store *s, int64_t run_id, int64_t measurement_id, const char *name,
                     double value, const char *unit, int predicted, cb_err *err);

/* Time per operator class inside one measured model step. */
int store_breakdown_put(store *s, int64_t measurement_id, const char *op_class,
                        double seconds, cb_err *err);

/* Resumption: sets *done to 1 when a measurement of this point (params_hash,
 * subject, impl, phase) exists in some run of the same experiment, config
 * hash, scale, platform and source revision (and dirtiness).  A NULL subject,
 * impl or phase matches any (a point measured as a whole).  The run's status
 * does not matter: a committed measurement counts. */
int store_point_done(store *s, const store_run_info *info, const char *subject,
                     const char *impl, const char *phase, const char *params_hash,
                     int *done, cb_err *err);

/* ---- reading (for `db` and reports) ----
 *
 * JSON keys are the column names of the schema (db/migrations.c).  NULL and
 * "not applicable" are JSON null; flags (dirty, supported, predicted) are the
 * integers 0/1 (dirty null when unknown); times are UTC text
 * "YYYY-MM-DDTHH:MM:SS.SSSZ".
 *   platform:    id, fingerprint, arch, cpu_vendor, cpu_model, n_packages, n_numa,
 *                n_cores, n_pus, caches [{level, type, size_bytes, line_bytes,
 *                instances}], kinds [{efficiency, n_cores, n_pus, cpulist, core_type,
 *                info}], isa, simd_best, mem_bytes, os, kernel, governor, boost, thp,
 *                first_seen, last_seen, peak_gbps, peak_gflops, has_topology,
 *                probes [{kind, threads, value, session, measured_at}]
 *   measurement: id, run_uuid, subject, impl, phase, params (parsed), params_json
 *                (canonical text), params_hash, threads, reps, median_s, mean_s,
 *                stddev_s, mad_s, min_s, max_s, p05_s, p95_s, ci_lo_s, ci_hi_s, cv,
 *                overhead_s, flops, bytes, state_bytes, peak_rss_kb, created_at,
 *                derived: gflops, gbps, intensity, frac_peak_gflops, frac_peak_gbps,
 *                roofline_gflops; samples [seconds, in order]; counters [{name, unit,
 *                supported, per_rep, reason}]; breakdown [{op_class, seconds}];
 *                metrics [{name, value, unit, predicted, created_at}] */

/* Runs, newest first, as a JSON array of objects (uuid, experiment, scale,
 * status, started, ended, platform fingerprint, revision, dirty, n_measurements,
 * origin).  experiment may be NULL for all.  Caller owns the reference.
 * Keys: id, uuid, experiment, scale, status, started and started_at, ended and
 * ended_at (null while running), platform_id, fingerprint, cpu_model, revision,
 * dirty, n_measurements, origin, host. */
json_t *store_runs_json(store *s, const char *experiment, cb_err *err);

/* One run in full, as a JSON object: the run's columns, its platform, and its
 * measurements with statistics, counters and metrics.  uuid may be a unique
 * prefix.  NULL with err when not found or ambiguous.
 * Keys: id, uuid, experiment, config_path, config_text, config_hash, scale,
 * platform_id, revision, dirty, compiler, cflags, seed (a decimal string above
 * INT64_MAX), started_at, ended_at, status, origin, pid, host, boot_id,
 * platform {platform keys, without topology_xml}, measurements [measurement],
 * metrics [run-level metrics].  Caller owns the reference. */
json_t *store_run_json(store *s, const char *uuid, cb_err *err);

/* The latest complete-or-interrupted run of each experiment on each platform,
 * with measurements, as store_run_json objects in a JSON array (for reports).
 * Because a resumed run measures only the points its predecessors missed,
 * "measurements" holds the newest measurement of every point over the runs
 * that share the latest run's identity (as store_point_done matches it), are
 * not running and started no later than it; each object adds "runs" [{uuid,
 * status, started_at, ended_at}], newest first: the latest run and every run
 * that contributed a measurement.  experiment may be NULL for all.  Ordered by
 * experiment then platform.  Caller owns the reference. */
json_t *store_latest_runs_json(store *s, const char *experiment, cb_err *err);

/* One run as the results it stands for, in the store_latest_runs_json shape:
 * its measurements are the newest of each point over its resumption chain
 * (the runs of its identity that are not running and started no later than
 * it) and "runs" names the runs they come from.  Unlike
 * store_latest_runs_json, any run may be the anchor (for `compare`).  uuid
 * may be a unique prefix.  NULL with err when the run is not found, the
 * prefix is ambiguous, or the run is still running (it would be no part of
 * its own chain).  Caller owns the reference. */
json_t *store_run_results_json(store *s, const char *uuid, cb_err *err);

/* A platform by id as a JSON object with its probe figures (the platform keys
 * above, plus topology_xml, null when never given).  Caller owns the reference. */
json_t *store_platform_json(store *s, int64_t platform_id, cb_err *err);

/* ---- archive ---- */

/* Copies a run into this database, given as a store_run_json object (from
 * another database), in one transaction: its platform is found by fingerprint
 * or created (a new one with its probes, peaks and, when the object carries
 * it, topology_xml; an existing one is left as it is); the run keeps its uuid,
 * configuration, provenance, times and status (one that was still running
 * comes in interrupted, ended at its last measurement); its origin becomes
 * origin (e.g. the archive's name; NULL keeps the object's); and every
 * measurement comes with its samples, counters, breakdown and metrics.  Sets
 * *imported (may be NULL) to 1, or to 0 when a run with that uuid is already
 * here (then nothing changes).  Returns 0, or -1 with err naming the field at
 * fault; on error nothing changes. */
int store_run_import(store *s, const json_t *run, const char *origin, int *imported,
                     cb_err *err);

/* Copies several runs into this database in ONE transaction, each as
 * store_run_import would (same checks, same platform matching by fingerprint,
 * uuids kept, a run already here skipped), all with the same origin (NULL
 * keeps each object's).  runs is a JSON array of store_run_json objects.
 * Sets *n_imported (may be NULL) to the number of runs added.  Returns 0, or
 * -1 with err naming the run (its index and uuid) and the field at fault;
 * on error nothing changes. */
int store_runs_import(store *s, const json_t *runs, const char *origin, int *n_imported,
                      cb_err *err);

/* PRAGMA integrity_check and foreign_key_check; fills a one-line verdict and
 * sets *ok.  Also reports the schema version. */
int store_check(store *s, int *ok, char *verdict, int verdict_cap, int *schema_version,
                cb_err *err);

#endif
