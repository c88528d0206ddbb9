/* db/migrations.c — the numbered schema migrations of the results database
 * (see migrations.h).  With db/store.c, the only file that includes sqlite3.h
 * or contains SQL text.
 *
 * Conventions of the schema:
 *  - times are UTC text "YYYY-MM-DDTHH:MM:SS.SSSZ" (sortable, julianday() reads them);
 *  - NULL means "not applicable" or "unknown", never zero;
 *  - derived numbers (GFLOP/s, GB/s, arithmetic intensity, fractions of peak)
 *    live in views, never in columns;
 *  - child rows cascade on delete so that removing a run by hand in the sqlite3
 *    shell leaves nothing dangling (ctxbench itself deletes nothing).
 *
 * Never: edit a migration that has been released; append a new one instead. */
#include "db/migrations.h"

#include <stdio.h>

/* Migration 1: the initial schema. */
static const char store_migration_1[] =
    /* One row per distinct machine identity.  The fingerprint identifies the
     * machine (not the build); the descriptive columns are refreshed each time
     * the platform is seen.  peak_* are the best roofline probe figures of the
     * latest probe session (see store_probe_put). */
    "CREATE TABLE platform (\n"
    "  id           INTEGER PRIMARY KEY,\n"
    "  fingerprint  TEXT NOT NULL UNIQUE CHECK (length(fingerprint) > 0),\n"
    "  arch         TEXT,\n"
    "  cpu_vendor   TEXT,\n"
    "  cpu_model    TEXT,\n"
    "  n_packages   INTEGER,\n"
    "  n_numa       INTEGER,\n"
    "  n_cores      INTEGER,\n"
    "  n_pus        INTEGER,\n"
    "  caches_json  TEXT,\n"
    "  kinds_json   TEXT,\n"
    "  isa          TEXT,\n"
    "  simd_best    TEXT,\n"
    "  mem_bytes    INTEGER,\n"
    "  os           TEXT,\n"
    "  kernel       TEXT,\n"
    "  governor     TEXT,\n"
    "  boost        TEXT,\n"
    "  thp          TEXT,\n"
    "  topology_xml TEXT,\n"
    "  first_seen   TEXT NOT NULL,\n"
    "  last_seen    TEXT NOT NULL,\n"
    "  peak_gbps    REAL,\n"
    "  peak_gflops  REAL\n"
    ");\n"

    /* Roofline probe figures; session groups the probes of one store handle. */
    "CREATE TABLE probe (\n"
    "  id           INTEGER PRIMARY KEY,\n"
    "  platform_id  INTEGER NOT NULL REFERENCES platform(id) ON DELETE CASCADE,\n"
    "  kind         TEXT NOT NULL CHECK (length(kind) > 0),\n"
    "  threads      INTEGER NOT NULL,\n"
    "  value        REAL NOT NULL,\n"
    "  session      TEXT,\n"
    "  measured_at  TEXT NOT NULL\n"
    ");\n"
    "CREATE INDEX probe_by_platform ON probe(platform_id, kind, session);\n"

    /* One execution of one experiment file.  ended_at is NULL exactly while
     * the run is running.  pid/host/boot_id/proc_start name the owning process
     * so that a run whose owner died can be found and marked interrupted. */
    "CREATE TABLE run (\n"
    "  id           INTEGER PRIMARY KEY,\n"
    "  uuid         TEXT NOT NULL UNIQUE,\n"
    "  experiment   TEXT NOT NULL,\n"
    "  config_path  TEXT,\n"
    "  config_text  TEXT,\n"
    "  config_hash  TEXT,\n"
    "  scale        TEXT,\n"
    "  platform_id  INTEGER NOT NULL REFERENCES platform(id),\n"
    "  revision     TEXT,\n"
    "  dirty        INTEGER CHECK (dirty IN (0, 1)),\n"
    "  compiler     TEXT,\n"
    "  cflags       TEXT,\n"
    "  seed         INTEGER,\n"
    "  started_at   TEXT NOT NULL,\n"
    "  ended_at     TEXT,\n"
    "  status       TEXT NOT NULL DEFAULT 'running'\n"
    "               CHECK (status IN ('running', 'complete', 'interrupted', 'failed')),\n"
    "  origin       TEXT NOT NULL DEFAULT 'local',\n"
    "  pid          INTEGER,\n"
    "  host         TEXT,\n"
    "  boot_id      TEXT,\n"
    "  proc_start   INTEGER,\n"
    "  CHECK ((status = 'running') = (ended_at IS NULL))\n"
    ");\n"
    "CREATE INDEX run_by_experiment ON run(experiment, platform_id, started_at);\n"
    "CREATE INDEX run_by_point ON run(experiment, config_hash, scale, platform_id, revision);\n"
    "CREATE INDEX run_by_status ON run(status, host);\n"

    /* One point of a sweep with its statistics (seconds per repetition).
     * flops, bytes and state_bytes are NULL when not applicable. */
    "CREATE TABLE measurement (\n"
    "  id           INTEGER PRIMARY KEY,\n"
    "  run_id       INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,\n"
    "  subject      TEXT NOT NULL,\n"
    "  impl         TEXT NOT NULL,\n"
    "  phase        TEXT NOT NULL,\n"
    "  params_json  TEXT NOT NULL,\n"
    "  params_hash  TEXT NOT NULL,\n"
    "  threads      INTEGER NOT NULL,\n"
    "  reps         INTEGER NOT NULL,\n"
    "  median_s     REAL,\n"
    "  mean_s       REAL,\n"
    "  stddev_s     REAL,\n"
    "  mad_s        REAL,\n"
    "  min_s        REAL,\n"
    "  max_s        REAL,\n"
    "  p05_s        REAL,\n"
    "  p95_s        REAL,\n"
    "  ci_lo_s      REAL,\n"
    "  ci_hi_s      REAL,\n"
    "  cv           REAL,\n"
    "  overhead_s   REAL,\n"
    "  flops        REAL,\n"
    "  bytes        REAL,\n"
    "  state_bytes  REAL,\n"
    "  peak_rss_kb  INTEGER,\n"
    "  created_at   TEXT NOT NULL\n"
    ");\n"
    "CREATE INDEX measurement_by_run ON measurement(run_id);\n"
    "CREATE INDEX measurement_by_point ON measurement(params_hash, subject, impl, phase);\n"

    /* Raw per-repetition times, rep = 0-based order in which they ran. */
    "CREATE TABLE sample (\n"
    "  measurement_id INTEGER NOT NULL REFERENCES measurement(id) ON DELETE CASCADE,\n"
    "  rep          INTEGER NOT NULL,\n"
    "  seconds      REAL NOT NULL,\n"
    "  PRIMARY KEY (measurement_id, rep)\n"
    ") WITHOUT ROWID;\n"

    /* One row per counter asked for: an unsupported one says so (per_rep NULL,
     * reason filled) instead of reading zero. */
    "CREATE TABLE counter (\n"
    "  measurement_id INTEGER NOT NULL REFERENCES measurement(id) ON DELETE CASCADE,\n"
    "  name         TEXT NOT NULL,\n"
    "  unit         TEXT,\n"
    "  supported    INTEGER NOT NULL CHECK (supported IN (0, 1)),\n"
    "  per_rep      REAL,\n"
    "  reason       TEXT,\n"
    "  PRIMARY KEY (measurement_id, name),\n"
    "  CHECK (supported = 1 OR per_rep IS NULL)\n"
    ") WITHOUT ROWID;\n"

    /* Time per operator class inside one measured model step. */
    "CREATE TABLE breakdown (\n"
    "  id           INTEGER PRIMARY KEY,\n"
    "  measurement_id INTEGER NOT NULL REFERENCES measurement(id) ON DELETE CASCADE,\n"
    "  op_class     TEXT NOT NULL,\n"
    "  seconds      REAL NOT NULL\n"
    ");\n"
    "CREATE INDEX breakdown_by_measurement ON breakdown(measurement_id);\n"

    /* Anything else about a run or one of its measurements; predicted = 1 for
     * a model's prediction, 0 for a measured value. */
    "CREATE TABLE metric (\n"
    "  id           INTEGER PRIMARY KEY,\n"
    "  run_id       INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,\n"
    "  measurement_id INTEGER REFERENCES measurement(id) ON DELETE CASCADE,\n"
    "  name         TEXT NOT NULL CHECK (length(name) > 0),\n"
    "  value        REAL,\n"
    "  unit         TEXT,\n"
    "  predicted    INTEGER NOT NULL DEFAULT 0 CHECK (predicted IN (0, 1)),\n"
    "  created_at   TEXT NOT NULL\n"
    ");\n"
    "CREATE INDEX metric_by_run ON metric(run_id);\n"
    "CREATE INDEX metric_by_measurement ON metric(measurement_id);\n"
    /* A metric of a measurement belongs to that measurement's run. */
    "CREATE TRIGGER metric_same_run BEFORE INSERT ON metric\n"
    "WHEN NEW.measurement_id IS NOT NULL AND\n"
    "     (SELECT run_id FROM measurement WHERE id = NEW.measurement_id) IS NOT NEW.run_id\n"
    "BEGIN SELECT RAISE(ABORT, 'metric: the measurement is not one of the run''s'); END;\n"

    /* ---- views: the questions people ask ---- */
    "CREATE VIEW v_runs AS\n"
    "SELECT r.id, r.uuid, r.experiment, r.scale, r.status, r.started_at, r.ended_at,\n"
    "       (julianday(r.ended_at) - julianday(r.started_at)) * 86400.0 AS duration_s,\n"
    "       r.revision, r.dirty, r.origin, r.host, r.pid, r.config_path, r.config_hash,\n"
    "       r.seed, r.compiler, r.cflags, r.platform_id, p.fingerprint, p.arch, p.cpu_model,\n"
    "       (SELECT count(*) FROM measurement m WHERE m.run_id = r.id) AS n_measurements,\n"
    "       (SELECT count(*) FROM metric x WHERE x.run_id = r.id) AS n_metrics\n"
    "FROM run r JOIN platform p ON p.id = r.platform_id;\n"

    "CREATE VIEW v_measurements AS\n"
    "SELECT m.id, m.run_id, r.uuid AS run_uuid, r.experiment, r.scale, r.status AS run_status,\n"
    "       r.revision, r.dirty, r.platform_id, p.fingerprint, p.arch, p.cpu_model,\n"
    "       m.subject, m.impl, m.phase, m.params_json, m.params_hash, m.threads, m.reps,\n"
    "       m.median_s, m.mean_s, m.stddev_s, m.mad_s, m.min_s, m.max_s, m.p05_s, m.p95_s,\n"
    "       m.ci_lo_s, m.ci_hi_s, m.cv, m.overhead_s, m.flops, m.bytes, m.state_bytes,\n"
    "       m.peak_rss_kb, m.created_at,\n"
    "       CASE WHEN m.median_s > 0 THEN m.flops / m.median_s / 1e9 END AS gflops,\n"
    "       CASE WHEN m.median_s > 0 THEN m.bytes / m.median_s / 1e9 END AS gbps,\n"
    "       CASE WHEN m.bytes > 0 THEN m.flops / m.bytes END AS intensity,\n"
    "       p.peak_gbps, p.peak_gflops,\n"
    "       CASE WHEN m.median_s > 0 AND p.peak_gflops > 0\n"
    "            THEN m.flops / m.median_s / 1e9 / p.peak_gflops END AS frac_peak_gflops,\n"
    "       CASE WHEN m.median_s > 0 AND p.peak_gbps > 0\n"
    "            THEN m.bytes / m.median_s / 1e9 / p.peak_gbps END AS frac_peak_gbps,\n"
    "       CASE WHEN m.bytes > 0 AND p.peak_gbps > 0 AND p.peak_gflops > 0\n"
    "            THEN min(p.peak_gflops, m.flops / m.bytes * p.peak_gbps) END AS roofline_gflops\n"
    "FROM measurement m JOIN run r ON r.id = m.run_id JOIN platform p ON p.id = r.platform_id;\n"

    "CREATE VIEW v_counters AS\n"
    "SELECT c.measurement_id, m.run_id, r.uuid AS run_uuid, r.experiment, m.subject, m.impl,\n"
    "       m.phase, m.params_json, m.threads, c.name, c.unit, c.supported, c.per_rep, c.reason,\n"
    "       CASE WHEN c.supported = 1 AND m.median_s > 0 THEN c.per_rep / m.median_s END\n"
    "            AS per_second\n"
    "FROM counter c JOIN measurement m ON m.id = c.measurement_id JOIN run r ON r.id = m.run_id;\n"

    "CREATE VIEW v_platform_peaks AS\n"
    "SELECT p.id AS platform_id, p.fingerprint, p.arch, p.cpu_model, p.n_cores, p.n_pus,\n"
    "       p.peak_gbps, p.peak_gflops,\n"
    "       CASE WHEN p.peak_gbps > 0 THEN p.peak_gflops / p.peak_gbps END\n"
    "            AS ridge_flops_per_byte,\n"
    "       (SELECT count(*) FROM probe q WHERE q.platform_id = p.id) AS n_probes,\n"
    "       (SELECT max(q.measured_at) FROM probe q WHERE q.platform_id = p.id) AS last_probe\n"
    "FROM platform p;\n"

    "CREATE VIEW v_metrics AS\n"
    "SELECT x.id, x.run_id, r.uuid AS run_uuid, r.experiment, x.measurement_id, m.subject,\n"
    "       m.impl, m.phase, m.params_json, x.name, x.value, x.unit, x.predicted,\n"
    "       CASE WHEN x.predicted = 1 THEN 'predicted' ELSE 'measured' END AS kind\n"
    "FROM metric x JOIN run r ON r.id = x.run_id\n"
    "     LEFT JOIN measurement m ON m.id = x.measurement_id;\n";

/* The migrations in order: store_migrations[k-1] brings version k-1 to k. */
static const char *const store_migrations[] = {
    store_migration_1,
};

int store_migrations_count(void)
{
    return (int)(sizeof store_migrations / sizeof store_migrations[0]);
}

int store_migrations_version(sqlite3 *db, int *version)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *version = sqlite3_column_int(st, 0);
            rc = SQLITE_OK;
        } else if (rc == SQLITE_DONE) {
            rc = SQLITE_ERROR; /* PRAGMA user_version always yields a row */
        }
    }
    /* finalize only repeats a failed step's code, which rc already holds */
    (void)sqlite3_finalize(st);
    return rc;
}

/* Runs one migration script and the user_version bump; the caller holds the
 * write transaction. */
static int store_migration_apply(sqlite3 *db, int to_version)
{
    int rc = sqlite3_exec(db, store_migrations[to_version - 1], NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return rc;
    char bump[64]; /* PRAGMA takes no bound parameters; the value is ours */
    snprintf(bump, sizeof bump, "PRAGMA user_version = %d", to_version);
    return sqlite3_exec(db, bump, NULL, NULL, NULL);
}

static int store_migrate_fail(sqlite3 *db, const char *path, int to_version, cb_err *err)
{
    cb_fail(err, "%s: migrating to schema %d: %s", path, to_version, sqlite3_errmsg(db));
    if (!sqlite3_get_autocommit(db))
        (void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL); /* best effort: err says why */
    return -1;
}

int store_migrate(sqlite3 *db, const char *path, int *applied, cb_err *err)
{
    int target = store_migrations_count(), version = 0, n = 0;
    if (applied)
        *applied = 0;
    int rc = store_migrations_version(db, &version);
    if (rc != SQLITE_OK)
        return cb_fail(err, "%s: %s", path, sqlite3_errmsg(db));
    while (version != target) {
        if (version > target)
            return cb_fail(err, "%s: database schema %d is newer than this build (%d); "
                           "use a newer ctxbench", path, version, target);
        if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
            return store_migrate_fail(db, path, version + 1, err);
        /* Another process may have migrated while we waited for the lock. */
        if (store_migrations_version(db, &version) != SQLITE_OK)
            return store_migrate_fail(db, path, version + 1, err);
        if (version >= target) {
            if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
                return store_migrate_fail(db, path, version + 1, err);
            continue; /* re-checks version > target outside the transaction */
        }
        if (store_migration_apply(db, version + 1) != SQLITE_OK ||
            sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
            return store_migrate_fail(db, path, version + 1, err);
        version++;
        n++;
        if (applied)
            *applied = n;
    }
    return 0;
}
