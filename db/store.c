/* db/store.c — the results database (see store.h for the contract and the
 * lifecycle of a run).
 *
 * This file and db/migrations.c are the only files of ctxbench that include
 * sqlite3.h or contain SQL text; everything else reaches the database through
 * the store_* functions.  Every value goes through sqlite3_bind_*, every
 * SQLite return code is checked, and nothing here prints or exits.
 *
 * Connections: WAL journal, foreign keys on, a 10 s busy timeout, extended
 * result codes.  Writes of more than one statement run inside BEGIN IMMEDIATE
 * (the write lock is taken up front, so a second writer waits in the busy
 * handler instead of failing with SQLITE_BUSY_SNAPSHOT) and no write
 * transaction stays open between calls, so several processes can write one
 * database at once.  Reads that span several statements run in one deferred
 * transaction so that they see one snapshot.
 *
 * Prepared statements are cached in the store (one slot per entry of
 * store_sql[]) and reset as soon as they have been used: a bound statement
 * is stepped and handed back by store_step_bound (no rows) or
 * store_collect_rows (rows as a JSON array).
 *
 * Ownership of a run (for store_reap_stale_runs): the run row records the
 * host name, the boot id, the pid and the pid's start time (field 22 of
 * /proc/<pid>/stat).  A running run of this host is stale when the boot id
 * differs, the pid is gone or a zombie, or the pid now belongs to a process
 * that started at another time (pid reuse).  Runs of other hosts are never
 * touched, nor a run of this very process.
 *
 * Opening: a brand-new file is switched to WAL, and read, with a retry loop
 * bounded by the busy timeout, because SQLite does not route every lock of a
 * journal-mode change through the busy handler (two processes creating one
 * database at once saw "database is locked" without it).
 *
 * JSON from rows: keys are the column names; a NULL, or a non-finite REAL,
 * becomes JSON null; flags (dirty, supported, predicted) stay the integers 0/1
 * of their columns; a column named X_json holding JSON text is given parsed
 * under the key X (a measurement keeps params_json's canonical text as well);
 * the seed (an unsigned 64-bit number stored in its signed two's-complement
 * form) is a JSON integer when it fits, else a decimal string.
 *
 * Import (archive): store_run_import writes a store_run_json object back, so
 * the JSON readers' shape is also the exchange format between databases.
 *
 * Resumption chains: a run that resumes an interrupted one measures only the
 * points still missing (store_point_done), so "the results" of an experiment
 * on a platform are the newest measurement of each point over the runs that
 * share the latest run's identity (experiment, config hash, scale, platform,
 * revision, dirtiness) and started no later than it.  STORE_CHAIN_CTE names
 * those runs (chain) and measurements (latest) for run ?1. */
#include "db/store.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <sqlite3.h>

#include "db/migrations.h"
#include "util/text.h"

#define STORE_BUSY_MS 10000
/* Current UTC time with milliseconds, evaluated by SQLite. */
#define STORE_NOW "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"

/* The runs continued by run ?1 (see "Resumption chains" above) and the newest
 * measurement of each point over them. */
#define STORE_CHAIN_CTE \
    "WITH anchor AS (SELECT * FROM run WHERE id = ?1)," \
    " chain AS (SELECT r.id FROM run r, anchor a WHERE r.experiment = a.experiment" \
    "  AND r.config_hash IS a.config_hash AND r.scale IS a.scale" \
    "  AND r.platform_id = a.platform_id AND r.revision IS a.revision AND r.dirty IS a.dirty" \
    "  AND r.status <> 'running' AND (r.started_at, r.id) <= (a.started_at, a.id))," \
    " latest AS (SELECT id FROM (SELECT m.id, row_number() OVER (PARTITION BY m.subject," \
    "  m.impl, m.phase, m.params_hash ORDER BY m.created_at DESC, m.id DESC) AS rn" \
    "  FROM measurement m WHERE m.run_id IN (SELECT id FROM chain)) WHERE rn = 1) "

/* The columns of a measurement in the JSON readers. */
#define STORE_MEASUREMENT_COLUMNS \
    "SELECT id, run_uuid, subject, impl, phase, params_json, params_hash, threads, reps," \
    " median_s, mean_s, stddev_s, mad_s, min_s, max_s, p05_s, p95_s, ci_lo_s, ci_hi_s, cv," \
    " overhead_s, flops, bytes, state_bytes, peak_rss_kb, created_at, gflops, gbps," \
    " intensity, frac_peak_gflops, frac_peak_gbps, roofline_gflops FROM v_measurements "

/* ---- the statements, one cache slot each ---------------------------------------- */

enum store_sq {
    SQ_BEGIN,
    SQ_BEGIN_IMMEDIATE,
    SQ_COMMIT,
    SQ_ROLLBACK,
    SQ_PLATFORM_PUT,
    SQ_PROBE_PUT,
    SQ_PEAKS_UPDATE,
    SQ_PEAKS_GET,
    SQ_RUN_BEGIN,
    SQ_RUN_END,
    SQ_RUN_STATUS,
    SQ_RUNS_RUNNING,
    SQ_RUN_REAP,
    SQ_MEAS_PUT,
    SQ_SAMPLE_PUT,
    SQ_COUNTER_PUT,
    SQ_METRIC_PUT,
    SQ_BREAKDOWN_PUT,
    SQ_POINT_DONE,
    SQ_RUNS_LIST,
    SQ_RUN_FIND,
    SQ_RUN_ROW,
    SQ_PLATFORM_ROW,
    SQ_PLATFORM_XML,
    SQ_PROBES,
    SQ_RUN_MEASUREMENTS,
    SQ_MEAS_SAMPLES,
    SQ_MEAS_COUNTERS,
    SQ_MEAS_BREAKDOWN,
    SQ_MEAS_METRICS,
    SQ_RUN_METRICS,
    SQ_LATEST_RUNS,
    SQ_CHAIN_MEASUREMENTS,
    SQ_CHAIN_RUNS,
    SQ_IMPORT_EXISTS,
    SQ_IMPORT_PLATFORM,
    SQ_PLATFORM_BY_FINGERPRINT,
    SQ_IMPORT_PROBE,
    SQ_IMPORT_RUN,
    SQ_IMPORT_MEASUREMENT,
    SQ_IMPORT_METRIC,
    SQ_INTEGRITY,
    SQ_FK_CHECK,
    SQ_COUNT
};

static const char *const store_sql[SQ_COUNT] = {
    [SQ_BEGIN] = "BEGIN",
    [SQ_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
    [SQ_COMMIT] = "COMMIT",
    [SQ_ROLLBACK] = "ROLLBACK",

    [SQ_PLATFORM_PUT] =
        "INSERT INTO platform (fingerprint, arch, cpu_vendor, cpu_model, n_packages, n_numa,"
        " n_cores, n_pus, caches_json, kinds_json, isa, simd_best, mem_bytes, os, kernel,"
        " governor, boost, thp, topology_xml, first_seen, last_seen)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,"
        " ?18, ?19, " STORE_NOW ", " STORE_NOW ")"
        " ON CONFLICT (fingerprint) DO UPDATE SET arch = excluded.arch,"
        " cpu_vendor = excluded.cpu_vendor, cpu_model = excluded.cpu_model,"
        " n_packages = excluded.n_packages, n_numa = excluded.n_numa,"
        " n_cores = excluded.n_cores, n_pus = excluded.n_pus,"
        " caches_json = excluded.caches_json, kinds_json = excluded.kinds_json,"
        " isa = excluded.isa, simd_best = excluded.simd_best, mem_bytes = excluded.mem_bytes,"
        " os = excluded.os, kernel = excluded.kernel, governor = excluded.governor,"
        " boost = excluded.boost, thp = excluded.thp,"
        " topology_xml = coalesce(excluded.topology_xml, platform.topology_xml),"
        " last_seen = excluded.last_seen"
        " RETURNING id",
    [SQ_PROBE_PUT] =
        "INSERT INTO probe (platform_id, kind, threads, value, session, measured_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, " STORE_NOW ")",
    /* The peak of a kind is the best figure of the latest session (?3). */
    [SQ_PEAKS_UPDATE] =
        "UPDATE platform SET"
        " peak_gbps = CASE WHEN ?2 = 'triad_gbps' THEN (SELECT max(value) FROM probe"
        "   WHERE platform_id = ?1 AND kind = ?2 AND session IS ?3) ELSE peak_gbps END,"
        " peak_gflops = CASE WHEN ?2 = 'fma_gflops' THEN (SELECT max(value) FROM probe"
        "   WHERE platform_id = ?1 AND kind = ?2 AND session IS ?3) ELSE peak_gflops END"
        " WHERE id = ?1",
    [SQ_PEAKS_GET] = "SELECT peak_gbps, peak_gflops FROM platform WHERE id = ?1",

    [SQ_RUN_BEGIN] =
        "INSERT INTO run (uuid, experiment, config_path, config_text, config_hash, scale,"
        " platform_id, revision, dirty, compiler, cflags, seed, started_at, status, origin,"
        " pid, host, boot_id, proc_start)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, " STORE_NOW ","
        " 'running', 'local', ?13, ?14, ?15, ?16)",
    [SQ_RUN_END] =
        "UPDATE run SET status = ?2, ended_at = " STORE_NOW
        " WHERE id = ?1 AND status = 'running'",
    [SQ_RUN_STATUS] = "SELECT status FROM run WHERE id = ?1",
    [SQ_RUNS_RUNNING] =
        "SELECT id, pid, boot_id, proc_start FROM run WHERE status = 'running' AND host IS ?1",
    /* A dead run ended, as far as anyone knows, with its last measurement. */
    [SQ_RUN_REAP] =
        "UPDATE run SET status = 'interrupted', ended_at = coalesce((SELECT max(m.created_at)"
        " FROM measurement m WHERE m.run_id = run.id), started_at)"
        " WHERE id = ?1 AND status = 'running'",

    [SQ_MEAS_PUT] =
        "INSERT INTO measurement (run_id, subject, impl, phase, params_json, params_hash,"
        " threads, reps, median_s, mean_s, stddev_s, mad_s, min_s, max_s, p05_s, p95_s,"
        " ci_lo_s, ci_hi_s, cv, overhead_s, flops, bytes, state_bytes, peak_rss_kb, created_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,"
        " ?18, ?19, ?20, ?21, ?22, ?23, ?24, " STORE_NOW ")",
    [SQ_SAMPLE_PUT] = "INSERT INTO sample (measurement_id, rep, seconds) VALUES (?1, ?2, ?3)",
    [SQ_COUNTER_PUT] =
        "INSERT INTO counter (measurement_id, name, unit, supported, per_rep, reason)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [SQ_METRIC_PUT] =
        "INSERT INTO metric (run_id, measurement_id, name, value, unit, predicted, created_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, " STORE_NOW ")",
    [SQ_BREAKDOWN_PUT] =
        "INSERT INTO breakdown (measurement_id, op_class, seconds) VALUES (?1, ?2, ?3)",
    [SQ_POINT_DONE] =
        "SELECT EXISTS (SELECT 1 FROM measurement m JOIN run r ON r.id = m.run_id"
        " WHERE m.params_hash = ?1 AND (?2 IS NULL OR m.subject = ?2)"
        " AND (?3 IS NULL OR m.impl = ?3) AND (?4 IS NULL OR m.phase = ?4)"
        " AND r.experiment = ?5 AND r.config_hash IS ?6 AND r.scale IS ?7"
        " AND r.platform_id = ?8 AND r.revision IS ?9 AND r.dirty IS ?10)",

    [SQ_RUNS_LIST] =
        "SELECT id, uuid, experiment, scale, status, started_at AS started, ended_at AS ended,"
        " started_at, ended_at, platform_id, fingerprint, cpu_model, revision, dirty,"
        " n_measurements, origin, host"
        " FROM v_runs WHERE (?1 IS NULL OR experiment = ?1)"
        " ORDER BY started_at DESC, id DESC",
    [SQ_RUN_FIND] =
        "SELECT id, uuid FROM run WHERE substr(uuid, 1, length(?1)) = ?1 ORDER BY id LIMIT 2",
    [SQ_RUN_ROW] =
        "SELECT id, uuid, experiment, config_path, config_text, config_hash, scale,"
        " platform_id, revision, dirty, compiler, cflags, seed, started_at, ended_at, status,"
        " origin, pid, host, boot_id FROM run WHERE id = ?1",
    [SQ_PLATFORM_ROW] =
        "SELECT id, fingerprint, arch, cpu_vendor, cpu_model, n_packages, n_numa, n_cores,"
        " n_pus, caches_json, kinds_json, isa, simd_best, mem_bytes, os, kernel, governor,"
        " boost, thp, first_seen, last_seen, peak_gbps, peak_gflops,"
        " topology_xml IS NOT NULL AS has_topology FROM platform WHERE id = ?1",
    [SQ_PLATFORM_XML] = "SELECT topology_xml FROM platform WHERE id = ?1",
    [SQ_PROBES] =
        "SELECT kind, threads, value, session, measured_at FROM probe"
        " WHERE platform_id = ?1 ORDER BY id",
    [SQ_RUN_MEASUREMENTS] = STORE_MEASUREMENT_COLUMNS "WHERE run_id = ?1 ORDER BY id",
    [SQ_MEAS_SAMPLES] = "SELECT seconds FROM sample WHERE measurement_id = ?1 ORDER BY rep",
    [SQ_MEAS_COUNTERS] =
        "SELECT name, unit, supported, per_rep, reason FROM counter"
        " WHERE measurement_id = ?1 ORDER BY name",
    [SQ_MEAS_BREAKDOWN] =
        "SELECT op_class, seconds FROM breakdown WHERE measurement_id = ?1 ORDER BY id",
    [SQ_MEAS_METRICS] =
        "SELECT name, value, unit, predicted, created_at FROM metric"
        " WHERE measurement_id = ?1 ORDER BY id",
    [SQ_RUN_METRICS] =
        "SELECT name, value, unit, predicted, created_at FROM metric"
        " WHERE run_id = ?1 AND measurement_id IS NULL ORDER BY id",
    [SQ_LATEST_RUNS] =
        "SELECT id FROM (SELECT id, experiment, platform_id, row_number() OVER"
        " (PARTITION BY experiment, platform_id ORDER BY started_at DESC, id DESC) AS rn"
        " FROM run WHERE status IN ('complete', 'interrupted')"
        " AND (?1 IS NULL OR experiment = ?1))"
        " WHERE rn = 1 ORDER BY experiment, platform_id",
    [SQ_CHAIN_MEASUREMENTS] =
        STORE_CHAIN_CTE STORE_MEASUREMENT_COLUMNS "WHERE id IN (SELECT id FROM latest) ORDER BY id",
    [SQ_CHAIN_RUNS] =
        STORE_CHAIN_CTE "SELECT uuid, status, started_at, ended_at FROM run WHERE id = ?1"
        " OR id IN (SELECT m.run_id FROM measurement m WHERE m.id IN (SELECT id FROM latest))"
        " ORDER BY started_at DESC, id DESC",
    [SQ_IMPORT_EXISTS] = "SELECT count(*) FROM run WHERE uuid = ?1",
    [SQ_IMPORT_PLATFORM] =
        "INSERT INTO platform (fingerprint, arch, cpu_vendor, cpu_model, n_packages, n_numa,"
        " n_cores, n_pus, caches_json, kinds_json, isa, simd_best, mem_bytes, os, kernel,"
        " governor, boost, thp, topology_xml, first_seen, last_seen, peak_gbps, peak_gflops)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,"
        " ?18, ?19, coalesce(?20, " STORE_NOW "), coalesce(?21, " STORE_NOW "), ?22, ?23)"
        " ON CONFLICT (fingerprint) DO NOTHING",
    [SQ_PLATFORM_BY_FINGERPRINT] = "SELECT id FROM platform WHERE fingerprint = ?1",
    [SQ_IMPORT_PROBE] =
        "INSERT INTO probe (platform_id, kind, threads, value, session, measured_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, coalesce(?6, " STORE_NOW "))",
    [SQ_IMPORT_RUN] =
        "INSERT INTO run (uuid, experiment, config_path, config_text, config_hash, scale,"
        " platform_id, revision, dirty, compiler, cflags, seed, started_at, ended_at, status,"
        " origin, pid, host, boot_id)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,"
        " coalesce(?16, 'local'), ?17, ?18, ?19)",
    [SQ_IMPORT_MEASUREMENT] =
        "INSERT INTO measurement (run_id, subject, impl, phase, params_json, params_hash,"
        " threads, reps, median_s, mean_s, stddev_s, mad_s, min_s, max_s, p05_s, p95_s,"
        " ci_lo_s, ci_hi_s, cv, overhead_s, flops, bytes, state_bytes, peak_rss_kb, created_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,"
        " ?18, ?19, ?20, ?21, ?22, ?23, ?24, coalesce(?25, " STORE_NOW "))",
    [SQ_IMPORT_METRIC] =
        "INSERT INTO metric (run_id, measurement_id, name, value, unit, predicted, created_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, coalesce(?6, 0), coalesce(?7, " STORE_NOW "))",
    [SQ_INTEGRITY] = "PRAGMA integrity_check",
    [SQ_FK_CHECK] = "PRAGMA foreign_key_check",
};

struct store {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *stmt[SQ_COUNT];
    char session[CB_UUID_LEN]; /* groups the probes recorded through this handle */
    char host[256];            /* gethostname(), "" when unknown */
    char boot_id[64];          /* /proc/sys/kernel/random/boot_id, "" when unknown */
    long long proc_start;      /* this process's start time in clock ticks, 0 unknown */
};

/* ---- errors, statements, binding, transactions ----------------------------------- */

/* Fills err with "<path>: <what>: <SQLite's message>" and returns -1.  Call it
 * before anything else touches the connection (a ROLLBACK resets the message). */
static int store_sqlfail(const store *s, cb_err *err, const char *what)
{
    return cb_fail(err, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

/* Fills err with "<path>: out of memory" and returns -1. */
static int store_oom(const store *s, cb_err *err)
{
    return cb_fail(err, "%s: out of memory", s->path);
}

/* The cached statement for id, prepared on first use; NULL with err on failure.
 * The caller hands it back with store_stmt_done(). */
static sqlite3_stmt *store_stmt(store *s, enum store_sq id, cb_err *err)
{
    if (!s->stmt[id] &&
        sqlite3_prepare_v3(s->db, store_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                           &s->stmt[id], NULL) != SQLITE_OK) {
        store_sqlfail(s, err, "preparing a statement");
        s->stmt[id] = NULL;
        return NULL;
    }
    return s->stmt[id];
}

/* Resets a cached statement and drops its bindings (NULL is a no-op).  The
 * codes they return only repeat the last step's, which was checked there. */
static void store_stmt_done(sqlite3_stmt *st)
{
    if (!st)
        return;
    (void)sqlite3_reset(st);
    (void)sqlite3_clear_bindings(st);
}

/* Steps a statement that returns no row.  Returns 0, or -1 with err. */
static int store_step_done(store *s, sqlite3_stmt *st, cb_err *err, const char *what)
{
    if (sqlite3_step(st) != SQLITE_DONE)
        return store_sqlfail(s, err, what);
    return 0;
}

/* Steps a cached statement that returns no row, its values bound already
 * (bind_rc: 0 when every bind succeeded), and hands it back.  Returns 0, or
 * -1 with err "<path>: <what, from fmt>: <SQLite's message>". */
static int store_step_bound(store *s, sqlite3_stmt *st, int bind_rc, cb_err *err,
                            const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int store_step_bound(store *s, sqlite3_stmt *st, int bind_rc, cb_err *err,
                            const char *fmt, ...)
{
    int ret = 0;
    if (bind_rc != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE) {
        char what[sizeof ((cb_err *)0)->msg]; /* never shorter than the message */
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        ret = store_sqlfail(s, err, what);
    }
    store_stmt_done(st);
    return ret;
}

/* Runs one cached statement without parameters (BEGIN, COMMIT, ...). */
static int store_exec(store *s, enum store_sq id, cb_err *err)
{
    sqlite3_stmt *st = store_stmt(s, id, err);
    if (!st)
        return -1;
    return store_step_bound(s, st, SQLITE_OK, err, "%s", store_sql[id]);
}

/* Rolls back the open transaction, if any.  Leaves err alone: it already says
 * what failed, and a failed rollback has nothing better to add. */
static void store_rollback(store *s)
{
    if (sqlite3_get_autocommit(s->db))
        return;
    sqlite3_stmt *st = store_stmt(s, SQ_ROLLBACK, NULL);
    if (st)
        (void)sqlite3_step(st);
    store_stmt_done(st);
}

/* Binds text, or NULL for a NULL pointer. */
static int store_bind_text(sqlite3_stmt *st, int i, const char *v)
{
    return v ? sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
}

/* Binds a fixed-size char array field of a struct (never reads past cap). */
static int store_bind_field(sqlite3_stmt *st, int i, const char *field, size_t cap)
{
    return sqlite3_bind_text(st, i, field, (int)strnlen(field, cap), SQLITE_TRANSIENT);
}
#define STORE_BIND_FIELD(st, i, arr) store_bind_field((st), (i), (arr), sizeof(arr))

/* Binds a quantity that is "not applicable" when negative (or NaN) as NULL. */
static int store_bind_opt_double(sqlite3_stmt *st, int i, double v)
{
    return v >= 0 ? sqlite3_bind_double(st, i, v) : sqlite3_bind_null(st, i);
}

/* Binds a row id where 0 means none. */
static int store_bind_opt_id(sqlite3_stmt *st, int i, int64_t id)
{
    return id > 0 ? sqlite3_bind_int64(st, i, id) : sqlite3_bind_null(st, i);
}

/* Binds a dirtiness flag: 1, 0, or NULL for unknown (-1). */
static int store_bind_dirty(sqlite3_stmt *st, int i, int dirty)
{
    return dirty < 0 ? sqlite3_bind_null(st, i) : sqlite3_bind_int(st, i, dirty != 0);
}

/* ---- who owns a run: host, boot, process ---------------------------------------- */

/* Reads the state (field 3) and start time in clock ticks after boot (field
 * 22) of process pid from /proc.  Returns 0, or -1 when it cannot be read. */
static int store_proc_stat(long pid, char *state, long long *start)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may hold spaces and ')' */
    if (!p)
        return -1;
    char *save = NULL;
    int field = 2;
    for (char *tok = strtok_r(p + 1, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        field++;
        if (field == 3)
            *state = tok[0];
        if (field == 22) {
            *start = strtoll(tok, NULL, 10);
            return 0;
        }
    }
    return -1;
}

/* Fills the identity this process stamps on the runs it begins. */
static void store_identity(store *s)
{
    if (gethostname(s->host, sizeof s->host) != 0)
        s->host[0] = '\0';
    s->host[sizeof s->host - 1] = '\0';
    s->boot_id[0] = '\0';
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (f) {
        if (!fgets(s->boot_id, sizeof s->boot_id, f))
            s->boot_id[0] = '\0';
        fclose(f);
        cb_trim(s->boot_id);
    }
    char state;
    if (store_proc_stat((long)getpid(), &state, &s->proc_start) != 0)
        s->proc_start = 0;
    cb_uuid_new(s->session);
}

/* 1 when the process that began a running run of this host is gone. */
static int store_owner_gone(const store *s, long pid, const char *boot_id, long long start)
{
    if (boot_id && boot_id[0] && s->boot_id[0] && strcmp(boot_id, s->boot_id) != 0)
        return 1; /* the machine has rebooted since */
    if (pid <= 0)
        return 0; /* no owner recorded: cannot tell, leave it */
    if (pid == (long)getpid() && (start <= 0 || start == s->proc_start))
        return 0; /* our own run */
    if (kill((pid_t)pid, 0) == -1 && errno == ESRCH)
        return 1;
    char state = '?';
    long long now_start = 0;
    if (store_proc_stat(pid, &state, &now_start) != 0)
        return 0; /* alive but not visible to us: leave it */
    if (state == 'Z' || state == 'X')
        return 1; /* dead, not yet waited for */
    return start > 0 && now_start != start; /* the pid now names another process */
}

/* ---- open and close ------------------------------------------------------------ */

/* 1 (after a short sleep) while rc is SQLITE_BUSY and the busy timeout has not
 * run out.  For the steps of store_open that SQLite does not always route
 * through the busy handler: switching a brand-new file to WAL, or reading it
 * while another process does so. */
static int store_busy_retry(int rc, int *waited_ms)
{
    if ((rc & 0xff) != SQLITE_BUSY || *waited_ms >= STORE_BUSY_MS)
        return 0;
    sqlite3_sleep(5);
    *waited_ms += 5;
    return 1;
}

/* Runs a PRAGMA (no bound values) once, outside the cache, retrying while busy. */
static int store_pragma(store *s, const char *sql, const char *what, cb_err *err)
{
    int rc, waited = 0;
    while ((rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL)) != SQLITE_OK &&
           store_busy_retry(rc, &waited))
        ;
    if (rc != SQLITE_OK)
        return cb_fail(err, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
    return 0;
}

/* Refuses a database written by a newer build before anything writes to it;
 * also where a file that is not a database is first noticed. */
static int store_refuse_newer(store *s, cb_err *err)
{
    int version = 0, rc, waited = 0;
    while ((rc = store_migrations_version(s->db, &version)) != SQLITE_OK &&
           store_busy_retry(rc, &waited))
        ;
    if (rc != SQLITE_OK)
        return cb_fail(err, "%s: %s", s->path, sqlite3_errmsg(s->db));
    if (version > store_schema_version())
        return cb_fail(err, "%s: database schema %d is newer than this build (%d); "
                       "use a newer ctxbench", s->path, version, store_schema_version());
    return 0;
}

int store_open(const char *path, store **out, cb_err *err)
{
    store *s = NULL;
    int ret = -1;
    if (out)
        *out = NULL;
    if (!path || !path[0] || !out) {
        cb_fail(err, "store_open: no database path");
        goto cleanup;
    }
    if (cb_mkdirs_for(path, err) != 0) {
        cb_wrap(err, "%s", path);
        goto cleanup;
    }
    s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        cb_fail(err, "%s: out of memory", path);
        goto cleanup;
    }
    int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        cb_fail(err, "%s: %s", path, s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        goto cleanup;
    }
    if (sqlite3_extended_result_codes(s->db, 1) != SQLITE_OK ||
        sqlite3_busy_timeout(s->db, STORE_BUSY_MS) != SQLITE_OK) {
        store_sqlfail(s, err, "configuring the connection");
        goto cleanup;
    }
    /* Read-only checks first: a newer or foreign file is left untouched. */
    if (store_pragma(s, "PRAGMA foreign_keys = ON", "enabling foreign keys", err) != 0 ||
        store_refuse_newer(s, err) != 0 ||
        store_pragma(s, "PRAGMA journal_mode = WAL", "switching to WAL", err) != 0 ||
        store_pragma(s, "PRAGMA synchronous = FULL", "setting synchronous", err) != 0 ||
        store_migrate(s->db, path, NULL, err) != 0)
        goto cleanup;
    store_identity(s);
    if (store_reap_stale_runs(s, NULL, err) != 0)
        goto cleanup;
    *out = s;
    s = NULL;
    ret = 0;
cleanup:
    store_close(s);
    return ret;
}

void store_close(store *s)
{
    if (!s)
        return;
    for (int i = 0; i < SQ_COUNT; i++)
        sqlite3_finalize(s->stmt[i]); /* returns the last step's code again */
    /* Every statement is finalized, so close cannot be refused for them; a
     * failing close has nowhere to report to (this is a destructor). */
    (void)sqlite3_close(s->db);
    free(s->path);
    free(s);
}

int store_schema_version(void)
{
    return store_migrations_count();
}

/* ---- platform ------------------------------------------------------------------ */

/* A JSON string of n bytes at p; bytes that are not valid UTF-8 become '?'. */
static json_t *store_json_text(const char *p, size_t n)
{
    json_t *j = json_stringn(p, n);
    if (j)
        return j;
    char *copy = malloc(n + 1);
    if (!copy)
        return NULL;
    for (size_t i = 0; i < n; i++)
        copy[i] = (p[i] > 0) ? p[i] : '?'; /* plain char: non-ASCII bytes are <= 0 */
    j = json_stringn(copy, n);
    free(copy);
    return j;
}
#define STORE_JSON_FIELD(arr) store_json_text((arr), strnlen((arr), sizeof(arr)))

/* Fills o from element i of one of a platform's lists.  0, or nonzero on OOM. */
typedef int store_fill_fn(json_t *o, const plat_info *info, int i);

/* Element i of the caches: {level, type, size_bytes, line_bytes, instances}. */
static int store_cache_fill(json_t *o, const plat_info *info, int i)
{
    const plat_cache *c = &info->caches[i];
    return json_object_set_new(o, "level", json_integer(c->level)) != 0 ||
           json_object_set_new(o, "type", STORE_JSON_FIELD(c->type)) != 0 ||
           json_object_set_new(o, "size_bytes", json_integer((json_int_t)c->size_bytes)) != 0 ||
           json_object_set_new(o, "line_bytes", json_integer(c->line_bytes)) != 0 ||
           json_object_set_new(o, "instances", json_integer(c->instances)) != 0;
}

/* Element i of the core kinds: {efficiency, n_cores, n_pus, cpulist, core_type, info}. */
static int store_kind_fill(json_t *o, const plat_info *info, int i)
{
    const plat_kind *k = &info->kinds[i];
    return json_object_set_new(o, "efficiency", json_integer(k->efficiency)) != 0 ||
           json_object_set_new(o, "n_cores", json_integer(k->n_cores)) != 0 ||
           json_object_set_new(o, "n_pus", json_integer(k->n_pus)) != 0 ||
           json_object_set_new(o, "cpulist", STORE_JSON_FIELD(k->cpulist)) != 0 ||
           json_object_set_new(o, "core_type", STORE_JSON_FIELD(k->core_type)) != 0 ||
           json_object_set_new(o, "info", STORE_JSON_FIELD(k->info)) != 0;
}

/* The first n elements (n clamped to 0..max) of a platform's list as compact
 * JSON text of an array of objects filled by fill (caller frees), NULL on OOM. */
static char *store_list_text(const plat_info *info, int n, int max, store_fill_fn *fill)
{
    json_t *arr = json_array();
    char *text = NULL;
    if (n < 0)
        n = 0;
    if (n > max)
        n = max;
    for (int i = 0; arr && i < n; i++) {
        json_t *o = json_object();
        if (!o || json_array_append_new(arr, o) != 0 || fill(o, info, i) != 0)
            goto cleanup;
    }
    if (arr)
        text = json_dumps(arr, JSON_COMPACT);
cleanup:
    json_decref(arr);
    return text;
}

static int store_platform_bind(sqlite3_stmt *st, const plat_info *p, const char *caches,
                               const char *kinds, const char *topology_xml)
{
    return STORE_BIND_FIELD(st, 1, p->fingerprint) || STORE_BIND_FIELD(st, 2, p->arch) ||
           STORE_BIND_FIELD(st, 3, p->cpu_vendor) || STORE_BIND_FIELD(st, 4, p->cpu_model) ||
           sqlite3_bind_int(st, 5, p->n_packages) || sqlite3_bind_int(st, 6, p->n_numa) ||
           sqlite3_bind_int(st, 7, p->n_cores) || sqlite3_bind_int(st, 8, p->n_pus) ||
           store_bind_text(st, 9, caches) || store_bind_text(st, 10, kinds) ||
           STORE_BIND_FIELD(st, 11, p->isa) || STORE_BIND_FIELD(st, 12, p->simd_best) ||
           (p->mem_bytes ? sqlite3_bind_int64(st, 13, (sqlite3_int64)p->mem_bytes)
                         : sqlite3_bind_null(st, 13)) ||
           STORE_BIND_FIELD(st, 14, p->os) || STORE_BIND_FIELD(st, 15, p->kernel) ||
           STORE_BIND_FIELD(st, 16, p->governor) || STORE_BIND_FIELD(st, 17, p->boost) ||
           STORE_BIND_FIELD(st, 18, p->thp) || store_bind_text(st, 19, topology_xml);
}

int store_platform_put(store *s, const plat_info *info, const char *topology_xml,
                       int64_t *platform_id, cb_err *err)
{
    sqlite3_stmt *st = NULL;
    char *caches = NULL, *kinds = NULL;
    int ret = -1;
    if (!info || !platform_id || strnlen(info->fingerprint, sizeof info->fingerprint) == 0) {
        cb_fail(err, "%s: platform: no fingerprint", s->path);
        goto cleanup;
    }
    caches = store_list_text(info, info->n_caches, PLAT_MAX_CACHES, store_cache_fill);
    kinds = store_list_text(info, info->n_kinds, PLAT_MAX_KINDS, store_kind_fill);
    if (!caches || !kinds) {
        cb_fail(err, "%s: platform: out of memory", s->path);
        goto cleanup;
    }
    if (!(st = store_stmt(s, SQ_PLATFORM_PUT, err)))
        goto cleanup;
    if (store_platform_bind(st, info, caches, kinds, topology_xml) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        store_sqlfail(s, err, "storing the platform");
        goto cleanup;
    }
    int64_t id = sqlite3_column_int64(st, 0);
    if (store_step_done(s, st, err, "storing the platform") != 0)
        goto cleanup;
    *platform_id = id;
    ret = 0;
cleanup:
    store_stmt_done(st);
    free(caches);
    free(kinds);
    return ret;
}

int store_probe_put(store *s, int64_t platform_id, const char *kind, int threads,
                    double value, cb_err *err)
{
    sqlite3_stmt *st = NULL;
    int ret = -1, rc;
    if (!kind || !kind[0] || !isfinite(value)) {
        cb_fail(err, "%s: probe: needs a kind and a finite value", s->path);
        return -1;
    }
    if (store_exec(s, SQ_BEGIN_IMMEDIATE, err) != 0)
        return -1;
    if (!(st = store_stmt(s, SQ_PROBE_PUT, err)))
        goto cleanup;
    rc = sqlite3_bind_int64(st, 1, platform_id) ||
         sqlite3_bind_text(st, 2, kind, -1, SQLITE_TRANSIENT) ||
         sqlite3_bind_int(st, 3, threads) || sqlite3_bind_double(st, 4, value) ||
         sqlite3_bind_text(st, 5, s->session, -1, SQLITE_TRANSIENT);
    if (store_step_bound(s, st, rc, err, "storing a probe") != 0)
        goto cleanup;
    if (!(st = store_stmt(s, SQ_PEAKS_UPDATE, err)))
        goto cleanup;
    rc = sqlite3_bind_int64(st, 1, platform_id) ||
         sqlite3_bind_text(st, 2, kind, -1, SQLITE_TRANSIENT) ||
         sqlite3_bind_text(st, 3, s->session, -1, SQLITE_TRANSIENT);
    if (store_step_bound(s, st, rc, err, "updating the platform's peaks") != 0)
        goto cleanup;
    ret = store_exec(s, SQ_COMMIT, err);
cleanup:
    if (ret != 0)
        store_rollback(s);
    return ret;
}

int store_platform_peaks(store *s, int64_t platform_id, double *peak_gbps,
                         double *peak_gflops, cb_err *err)
{
    sqlite3_stmt *st = store_stmt(s, SQ_PEAKS_GET, err);
    int ret = -1;
    if (!st)
        return -1;
    if (sqlite3_bind_int64(st, 1, platform_id) != SQLITE_OK) {
        store_sqlfail(s, err, "reading the platform's peaks");
        goto cleanup;
    }
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        cb_fail(err, "%s: platform %lld: not found", s->path, (long long)platform_id);
        goto cleanup;
    }
    if (rc != SQLITE_ROW) {
        store_sqlfail(s, err, "reading the platform's peaks");
        goto cleanup;
    }
    if (peak_gbps)
        *peak_gbps = sqlite3_column_double(st, 0); /* NULL reads as 0 */
    if (peak_gflops)
        *peak_gflops = sqlite3_column_double(st, 1);
    ret = 0;
cleanup:
    store_stmt_done(st);
    return ret;
}

/* ---- run ------------------------------------------------------------------------ */

static int store_run_bind(sqlite3_stmt *st, const store *s, const store_run_info *in,
                          const char *uuid)
{
    return sqlite3_bind_text(st, 1, uuid, -1, SQLITE_TRANSIENT) ||
           store_bind_text(st, 2, in->experiment) || store_bind_text(st, 3, in->config_path) ||
           store_bind_text(st, 4, in->config_text) || store_bind_text(st, 5, in->config_hash) ||
           store_bind_text(st, 6, in->scale) || sqlite3_bind_int64(st, 7, in->platform_id) ||
           store_bind_text(st, 8, in->revision) || store_bind_dirty(st, 9, in->dirty) ||
           store_bind_text(st, 10, in->compiler) || store_bind_text(st, 11, in->cflags) ||
           sqlite3_bind_int64(st, 12, (sqlite3_int64)in->seed) ||
           sqlite3_bind_int64(st, 13, (sqlite3_int64)getpid()) ||
           sqlite3_bind_text(st, 14, s->host, -1, SQLITE_TRANSIENT) ||
           (s->boot_id[0] ? sqlite3_bind_text(st, 15, s->boot_id, -1, SQLITE_TRANSIENT)
                          : sqlite3_bind_null(st, 15)) ||
           (s->proc_start > 0 ? sqlite3_bind_int64(st, 16, s->proc_start)
                              : sqlite3_bind_null(st, 16));
}

int store_run_begin(store *s, const store_run_info *info, char uuid[CB_UUID_LEN],
                    int64_t *run_id, cb_err *err)
{
    char id[CB_UUID_LEN];
    if (!info || !info->experiment || !info->experiment[0] || !run_id) {
        cb_fail(err, "%s: run: no experiment name", s->path);
        return -1;
    }
    sqlite3_stmt *st = store_stmt(s, SQ_RUN_BEGIN, err);
    if (!st)
        return -1;
    cb_uuid_new(id);
    if (store_step_bound(s, st, store_run_bind(st, s, info, id), err, "beginning a run") != 0)
        return -1;
    *run_id = sqlite3_last_insert_rowid(s->db);
    if (uuid)
        memcpy(uuid, id, CB_UUID_LEN);
    return 0;
}

/* Explains why store_run_end changed nothing: the run is missing or not running. */
static int store_run_not_running(store *s, int64_t run_id, cb_err *err)
{
    sqlite3_stmt *st = store_stmt(s, SQ_RUN_STATUS, err);
    if (!st)
        return -1;
    if (sqlite3_bind_int64(st, 1, run_id) != SQLITE_OK) {
        store_sqlfail(s, err, "reading a run's status");
    } else {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            cb_fail(err, "%s: run %lld is %s, not running", s->path, (long long)run_id,
                    (const char *)sqlite3_column_text(st, 0));
        else if (rc == SQLITE_DONE)
            cb_fail(err, "%s: run %lld: not found", s->path, (long long)run_id);
        else
            store_sqlfail(s, err, "reading a run's status");
    }
    store_stmt_done(st);
    return -1;
}

int store_run_end(store *s, int64_t run_id, const char *status, cb_err *err)
{
    if (!status || (strcmp(status, "complete") != 0 && strcmp(status, "failed") != 0 &&
                     strcmp(status, "interrupted") != 0))
        return cb_fail(err, "%s: run %lld: cannot end as \"%s\" (complete, failed or "
                       "interrupted)", s->path, (long long)run_id, status ? status : "");
    sqlite3_stmt *st = store_stmt(s, SQ_RUN_END, err);
    if (!st)
        return -1;
    int rc = sqlite3_bind_int64(st, 1, run_id) ||
             sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
    if (store_step_bound(s, st, rc, err, "ending a run") != 0)
        return -1;
    if (sqlite3_changes(s->db) != 1) /* counts the step, unchanged by its reset */
        return store_run_not_running(s, run_id, err);
    return 0;
}

/* Collects the ids of this host's running runs whose owner is gone.  Returns
 * the number found (*ids malloc'ed, caller frees), or -1 with err. */
static int store_stale_runs(store *s, int64_t **ids, cb_err *err)
{
    sqlite3_stmt *st = store_stmt(s, SQ_RUNS_RUNNING, err);
    int n = 0, cap = 0, rc;
    *ids = NULL;
    if (!st)
        return -1;
    if (sqlite3_bind_text(st, 1, s->host, -1, SQLITE_TRANSIENT) != SQLITE_OK) {
        store_sqlfail(s, err, "finding running runs");
        goto fail;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        long pid = (long)sqlite3_column_int64(st, 1);
        const char *boot = (const char *)sqlite3_column_text(st, 2);
        long long start = sqlite3_column_int64(st, 3);
        if (!store_owner_gone(s, pid, boot, start))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 8;
            int64_t *bigger = realloc(*ids, (size_t)cap * sizeof **ids);
            if (!bigger) {
                store_oom(s, err);
                goto fail;
            }
            *ids = bigger;
        }
        (*ids)[n++] = sqlite3_column_int64(st, 0);
    }
    if (rc != SQLITE_DONE) {
        store_sqlfail(s, err, "finding running runs");
        goto fail;
    }
    store_stmt_done(st);
    return n;
fail:
    store_stmt_done(st);
    free(*ids);
    *ids = NULL;
    return -1;
}

int store_reap_stale_runs(store *s, int *n_marked, cb_err *err)
{
    int64_t *ids = NULL;
    int marked = 0, ret = -1;
    int n = store_stale_runs(s, &ids, err);
    if (n < 0)
        goto cleanup;
    sqlite3_stmt *st = n > 0 ? store_stmt(s, SQ_RUN_REAP, err) : NULL;
    if (n > 0 && !st)
        goto cleanup;
    for (int i = 0; i < n; i++) {
        /* One autocommit statement each: it re-checks status under the lock. */
        if (store_step_bound(s, st, sqlite3_bind_int64(st, 1, ids[i]), err,
                             "marking a stale run interrupted") != 0)
            goto cleanup;
        marked += sqlite3_changes(s->db);
    }
    ret = 0;
cleanup:
    if (n_marked)
        *n_marked = marked;
    free(ids);
    return ret;
}

/* ---- measurement ---------------------------------------------------------------- */

static int store_measurement_bind(sqlite3_stmt *st, int64_t run_id, const store_measurement *m)
{
    const meas_result *r = m->result;
    const meas_stats *x = &r->stats;
    return sqlite3_bind_int64(st, 1, run_id) || store_bind_text(st, 2, m->subject) ||
           store_bind_text(st, 3, m->impl) || store_bind_text(st, 4, m->phase) ||
           store_bind_text(st, 5, m->params_json) || store_bind_text(st, 6, m->params_hash) ||
           sqlite3_bind_int(st, 7, m->threads) || sqlite3_bind_int(st, 8, r->n) ||
           sqlite3_bind_double(st, 9, x->median) || sqlite3_bind_double(st, 10, x->mean) ||
           sqlite3_bind_double(st, 11, x->stddev) || sqlite3_bind_double(st, 12, x->mad) ||
           sqlite3_bind_double(st, 13, x->min) || sqlite3_bind_double(st, 14, x->max) ||
           sqlite3_bind_double(st, 15, x->p05) || sqlite3_bind_double(st, 16, x->p95) ||
           sqlite3_bind_double(st, 17, x->ci_lo) || sqlite3_bind_double(st, 18, x->ci_hi) ||
           sqlite3_bind_double(st, 19, x->cv) || sqlite3_bind_double(st, 20, r->overhead_s) ||
           store_bind_opt_double(st, 21, m->flops) || store_bind_opt_double(st, 22, m->bytes) ||
           store_bind_opt_double(st, 23, m->state_bytes) ||
           (r->peak_rss_kb >= 0 ? sqlite3_bind_int64(st, 24, r->peak_rss_kb)
                                : sqlite3_bind_null(st, 24));
}

/* Inserts the raw samples of measurement mid; inside the caller's transaction. */
static int store_samples_put(store *s, int64_t mid, const meas_result *r, cb_err *err)
{
    sqlite3_stmt *st = store_stmt(s, SQ_SAMPLE_PUT, err);
    if (!st)
        return -1;
    for (int i = 0; i < r->n; i++) {
        int rc = sqlite3_bind_int64(st, 1, mid) || sqlite3_bind_int(st, 2, i) ||
                 sqlite3_bind_double(st, 3, r->samples_s[i]);
        if (store_step_bound(s, st, rc, err, "storing sample %d of measurement %lld", i,
                             (long long)mid) != 0)
            return -1;
    }
    return 0;
}

/* Inserts one row per named counter (supported or not) of measurement mid;
 * an unsupported counter gets a NULL value and its reason. */
static int store_counters_put(store *s, int64_t mid, const meas_result *r, cb_err *err)
{
    sqlite3_stmt *st = store_stmt(s, SQ_COUNTER_PUT, err);
    if (!st)
        return -1;
    for (int i = 0; i < CTR_COUNT; i++) {
        const ctr_value *c = &r->counters[i];
        if (!c->name) /* counters were not asked for */
            continue;
        size_t reason_len = strnlen(c->reason, sizeof c->reason);
        int rc = sqlite3_bind_int64(st, 1, mid) || store_bind_text(st, 2, c->name) ||
                 store_bind_text(st, 3, c->unit) || sqlite3_bind_int(st, 4, c->supported != 0) ||
                 (c->supported ? sqlite3_bind_double(st, 5, c->per_rep)
                               : sqlite3_bind_null(st, 5)) ||
                 (reason_len ? sqlite3_bind_text(st, 6, c->reason, (int)reason_len,
                                                 SQLITE_TRANSIENT)
                             : sqlite3_bind_null(st, 6));
        if (store_step_bound(s, st, rc, err, "storing counter %s of measurement %lld", c->name,
                             (long long)mid) != 0)
            return -1;
    }
    return 0;
}

static int store_measurement_check(const store *s, const store_measurement *m, cb_err *err)
{
    if (!m || !m->result)
        return cb_fail(err, "%s: measurement: no result", s->path);
    if (!m->subject || !m->impl || !m->phase || !m->params_json || !m->params_hash)
        return cb_fail(err, "%s: measurement: subject, impl, phase, params_json and "
                       "params_hash are required", s->path);
    if (m->result->n < 0 || (m->result->n > 0 && !m->result->samples_s))
        return cb_fail(err, "%s: measurement %s/%s: %d samples but no sample array",
                       s->path, m->subject, m->impl, m->result->n);
    return 0;
}

int store_measurement_put(store *s, int64_t run_id, const store_measurement *m,
                          int64_t *measurement_id, cb_err *err)
{
    sqlite3_stmt *st = NULL;
    char what[256];
    int ret = -1;
    if (store_measurement_check(s, m, err) != 0 || store_exec(s, SQ_BEGIN_IMMEDIATE, err) != 0)
        return -1;
    if (!(st = store_stmt(s, SQ_MEAS_PUT, err)))
        goto cleanup;
    if (store_measurement_bind(st, run_id, m) != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE) {
        snprintf(what, sizeof what, "storing measurement %s/%s/%s of run %lld", m->subject,
                 m->impl, m->phase, (long long)run_id);
        store_sqlfail(s, err, what);
        goto cleanup;
    }
    store_stmt_done(st);
    st = NULL;
    int64_t mid = sqlite3_last_insert_rowid(s->db);
    if (store_samples_put(s, mid, m->result, err) != 0 ||
        store_counters_put(s, mid, m->result, err) != 0 ||
        store_exec(s, SQ_COMMIT, err) != 0)
        goto cleanup;
    if (measurement_id)
        *measurement_id = mid;
    ret = 0;
cleanup:
    store_stmt_done(st);
    if (ret != 0)
        store_rollback(s); /* nothing of the point stays behind */
    return ret;
}

int store_metric_put(store *s, int64_t run_id, int64_t measurement_id, const char *name,
                     double value, const char *unit, int predicted, cb_err *err)
{
    if (!name || !name[0])
        return cb_fail(err, "%s: metric of run %lld: no name", s->path, (long long)run_id);
    sqlite3_stmt *st = store_stmt(s, SQ_METRIC_PUT, err);
    if (!st)
        return -1;
    int rc = sqlite3_bind_int64(st, 1, run_id) || store_bind_opt_id(st, 2, measurement_id) ||
             sqlite3_bind_text(st, 3, name, -1, SQLITE_TRANSIENT) ||
             sqlite3_bind_double(st, 4, value) || store_bind_text(st, 5, unit) ||
             sqlite3_bind_int(st, 6, predicted != 0);
    return store_step_bound(s, st, rc, err, "metric %s of run %lld", name, (long long)run_id);
}

int store_breakdown_put(store *s, int64_t measurement_id, const char *op_class,
                        double seconds, cb_err *err)
{
    if (!op_class || !op_class[0])
        return cb_fail(err, "%s: breakdown: no operator class", s->path);
    sqlite3_stmt *st = store_stmt(s, SQ_BREAKDOWN_PUT, err);
    if (!st)
        return -1;
    int rc = sqlite3_bind_int64(st, 1, measurement_id) ||
             sqlite3_bind_text(st, 2, op_class, -1, SQLITE_TRANSIENT) ||
             sqlite3_bind_double(st, 3, seconds);
    return store_step_bound(s, st, rc, err, "breakdown %s of measurement %lld", op_class,
                            (long long)measurement_id);
}

int store_point_done(store *s, const store_run_info *info, const char *subject,
                     const char *impl, const char *phase, const char *params_hash,
                     int *done, cb_err *err)
{
    if (!info || !info->experiment || !params_hash || !done)
        return cb_fail(err, "%s: point lookup: missing experiment or parameters hash", s->path);
    sqlite3_stmt *st = store_stmt(s, SQ_POINT_DONE, err);
    if (!st)
        return -1;
    int ret = -1;
    if (sqlite3_bind_text(st, 1, params_hash, -1, SQLITE_TRANSIENT) ||
        store_bind_text(st, 2, subject) || store_bind_text(st, 3, impl) ||
        store_bind_text(st, 4, phase) ||
        sqlite3_bind_text(st, 5, info->experiment, -1, SQLITE_TRANSIENT) ||
        store_bind_text(st, 6, info->config_hash) || store_bind_text(st, 7, info->scale) ||
        sqlite3_bind_int64(st, 8, info->platform_id) || store_bind_text(st, 9, info->revision) ||
        store_bind_dirty(st, 10, info->dirty) || sqlite3_step(st) != SQLITE_ROW) {
        store_sqlfail(s, err, "looking up a point");
        goto cleanup;
    }
    *done = sqlite3_column_int(st, 0) != 0;
    ret = 0;
cleanup:
    store_stmt_done(st);
    return ret;
}

/* ---- reading: rows as JSON -------------------------------------------------------- */

/* Column i of the current row as a JSON value (see the top of the file). */
static json_t *store_column_json(sqlite3_stmt *st, int i)
{
    const char *name = sqlite3_column_name(st, i);
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER: {
        sqlite3_int64 v = sqlite3_column_int64(st, i);
        if (v < 0 && strcmp(name, "seed") == 0) {
            char dec[32];
            snprintf(dec, sizeof dec, "%llu", (unsigned long long)v);
            return json_string(dec);
        }
        return json_integer(v);
    }
    case SQLITE_FLOAT: {
        double v = sqlite3_column_double(st, i);
        return isfinite(v) ? json_real(v) : json_null();
    }
    case SQLITE_TEXT: {
        const char *text = (const char *)sqlite3_column_text(st, i);
        return text ? store_json_text(text, (size_t)sqlite3_column_bytes(st, i)) : NULL;
    }
    default: /* NULL (and blobs, which the schema never stores) */
        return json_null();
    }
}

/* The current row as a JSON object keyed by column name.  A text column named
 * X_json is parsed and stored under X (and its text kept under X_json too when
 * keep_text, else only when it is not valid JSON).  NULL on out-of-memory. */
static json_t *store_row_object(sqlite3_stmt *st, int keep_text)
{
    json_t *obj = json_object();
    int n = sqlite3_column_count(st);
    for (int i = 0; obj && i < n; i++) {
        const char *name = sqlite3_column_name(st, i);
        size_t len = strlen(name);
        char stem[64];
        if (len > 5 && len - 5 < sizeof stem && strcmp(name + len - 5, "_json") == 0 &&
            sqlite3_column_type(st, i) == SQLITE_TEXT) {
            json_t *parsed =
                json_loads((const char *)sqlite3_column_text(st, i), JSON_DECODE_ANY, NULL);
            if (parsed) {
                memcpy(stem, name, len - 5);
                stem[len - 5] = '\0';
                if (json_object_set_new(obj, stem, parsed) != 0)
                    goto fail;
                if (!keep_text)
                    continue;
            }
        }
        if (json_object_set_new(obj, name, store_column_json(st, i)) != 0)
            goto fail;
    }
    return obj;
fail:
    json_decref(obj);
    return NULL;
}

/* What store_collect_rows makes of each row. */
enum store_row_as {
    STORE_AS_OBJECT,    /* an object keyed by column name (store_row_object) */
    STORE_AS_MEASURED,  /* the same, keeping X_json's text beside X (measurements) */
    STORE_AS_SCALAR     /* the first column's value */
};

/* Steps a cached statement, its values bound already (bind_rc: how the
 * binding went), and collects its rows, each made into what `as` says, as a
 * JSON array (caller owns it); hands the statement back.  NULL with err on
 * failure: "<path>: <what>: <SQLite's message>", or out of memory. */
static json_t *store_collect_rows(store *s, sqlite3_stmt *st, int bind_rc, enum store_row_as as,
                                  const char *what, cb_err *err)
{
    json_t *arr = json_array(), *out = NULL;
    int rc;
    if (!arr) {
        store_oom(s, err);
        goto cleanup;
    }
    if (bind_rc != SQLITE_OK) {
        store_sqlfail(s, err, what);
        goto cleanup;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *v = as == STORE_AS_SCALAR ? store_column_json(st, 0)
                                          : store_row_object(st, as == STORE_AS_MEASURED);
        if (json_array_append_new(arr, v) != 0) {
            store_oom(s, err);
            goto cleanup;
        }
    }
    if (rc != SQLITE_DONE) {
        store_sqlfail(s, err, what);
        goto cleanup;
    }
    out = arr;
    arr = NULL;
cleanup:
    store_stmt_done(st);
    json_decref(arr);
    return out;
}

/* The rows of a cached statement keyed by one id (?1), as store_collect_rows
 * gives them.  NULL with err on failure. */
static json_t *store_rows_by_id(store *s, enum store_sq id, int64_t key, enum store_row_as as,
                                cb_err *err)
{
    sqlite3_stmt *st = store_stmt(s, id, err);
    if (!st)
        return NULL;
    return store_collect_rows(s, st, sqlite3_bind_int64(st, 1, key), as, "reading", err);
}

/* One row of a cached statement keyed by one id, as a JSON object.  NULL with
 * err when there is no such row ("<what> <key>: not found"). */
static json_t *store_row_by_id(store *s, enum store_sq id, int64_t key, const char *what,
                               cb_err *err)
{
    sqlite3_stmt *st = store_stmt(s, id, err);
    json_t *obj = NULL;
    if (!st)
        return NULL;
    int rc = sqlite3_bind_int64(st, 1, key);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        if (!(obj = store_row_object(st, 0)))
            store_oom(s, err);
    } else if (rc == SQLITE_DONE) {
        cb_fail(err, "%s: %s %lld: not found", s->path, what, (long long)key);
    } else {
        store_sqlfail(s, err, "reading");
    }
    store_stmt_done(st);
    return obj;
}

/* Sets obj[key] to the rows of statement id keyed by k.  Returns 0 or -1. */
static int store_attach_rows(store *s, json_t *obj, const char *key, enum store_sq id,
                             int64_t k, enum store_row_as as, cb_err *err)
{
    json_t *arr = store_rows_by_id(s, id, k, as, err);
    if (!arr)
        return -1;
    if (json_object_set_new(obj, key, arr) != 0)
        return store_oom(s, err);
    return 0;
}

/* Sets p["topology_xml"] to the platform's topology XML, null when never
 * given.  Returns 0 or -1. */
static int store_attach_xml(store *s, json_t *p, int64_t platform_id, cb_err *err)
{
    json_t *xml = store_rows_by_id(s, SQ_PLATFORM_XML, platform_id, STORE_AS_SCALAR, err);
    if (!xml)
        return -1;
    json_t *text = json_array_get(xml, 0);
    int ret = 0;
    if (json_object_set(p, "topology_xml", text ? text : json_null()) != 0)
        ret = store_oom(s, err);
    json_decref(xml);
    return ret;
}

/* A platform as a JSON object with its probes; with_xml adds topology_xml. */
static json_t *store_platform_object(store *s, int64_t platform_id, int with_xml, cb_err *err)
{
    json_t *p = store_row_by_id(s, SQ_PLATFORM_ROW, platform_id, "platform", err);
    if (!p)
        return NULL;
    if (store_attach_rows(s, p, "probes", SQ_PROBES, platform_id, STORE_AS_OBJECT, err) != 0 ||
        (with_xml && store_attach_xml(s, p, platform_id, err) != 0)) {
        json_decref(p);
        return NULL;
    }
    return p;
}

/* Adds samples, counters, breakdown and metrics to a measurement object. */
static int store_measurement_details(store *s, json_t *m, cb_err *err)
{
    int64_t mid = json_integer_value(json_object_get(m, "id"));
    return store_attach_rows(s, m, "samples", SQ_MEAS_SAMPLES, mid, STORE_AS_SCALAR, err) ||
           store_attach_rows(s, m, "counters", SQ_MEAS_COUNTERS, mid, STORE_AS_OBJECT, err) ||
           store_attach_rows(s, m, "breakdown", SQ_MEAS_BREAKDOWN, mid, STORE_AS_OBJECT, err) ||
           store_attach_rows(s, m, "metrics", SQ_MEAS_METRICS, mid, STORE_AS_OBJECT, err);
}

/* A run in full (the store_run_json shape) by row id; NULL with err.  With
 * chain (the store_latest_runs_json shape) its measurements are the newest of
 * its resumption chain and "runs" lists the runs they come from. */
static json_t *store_run_object(store *s, int64_t run_id, int chain, cb_err *err)
{
    json_t *run = store_row_by_id(s, SQ_RUN_ROW, run_id, "run", err);
    json_t *out = NULL, *m;
    size_t i;
    if (!run)
        return NULL;
    enum store_sq ms_id = chain ? SQ_CHAIN_MEASUREMENTS : SQ_RUN_MEASUREMENTS;
    int64_t platform_id = json_integer_value(json_object_get(run, "platform_id"));
    if (json_object_set_new(run, "platform", store_platform_object(s, platform_id, 0, err)) != 0)
        goto cleanup; /* err set by the reader (or out of memory, which it reports too) */
    if (store_attach_rows(s, run, "measurements", ms_id, run_id, STORE_AS_MEASURED, err) != 0)
        goto cleanup;
    json_array_foreach(json_object_get(run, "measurements"), i, m) {
        if (store_measurement_details(s, m, err) != 0)
            goto cleanup;
    }
    if (store_attach_rows(s, run, "metrics", SQ_RUN_METRICS, run_id, STORE_AS_OBJECT, err) != 0 ||
        (chain && store_attach_rows(s, run, "runs", SQ_CHAIN_RUNS, run_id, STORE_AS_OBJECT,
                                    err) != 0))
        goto cleanup;
    out = run;
    run = NULL;
cleanup:
    json_decref(run);
    return out;
}

/* Begins a read transaction so that several statements see one snapshot. */
static int store_read_begin(store *s, cb_err *err)
{
    return store_exec(s, SQ_BEGIN, err);
}

/* Ends the read transaction begun by store_read_begin (nothing to keep). */
static void store_read_end(store *s)
{
    store_rollback(s);
}

json_t *store_runs_json(store *s, const char *experiment, cb_err *err)
{
    sqlite3_stmt *st = store_stmt(s, SQ_RUNS_LIST, err);
    if (!st)
        return NULL;
    return store_collect_rows(s, st, store_bind_text(st, 1, experiment), STORE_AS_OBJECT,
                              "listing runs", err);
}

/* Finds the run whose uuid starts with prefix; 0 and *run_id, or -1 with err
 * when none or several match. */
static int store_run_find(store *s, const char *prefix, int64_t *run_id, cb_err *err)
{
    char low[CB_UUID_LEN];
    size_t n = prefix ? strlen(prefix) : 0;
    if (n == 0 || n >= sizeof low)
        return cb_fail(err, "%s: run \"%s\": not a run id (1 to 36 characters of a uuid)",
                       s->path, prefix ? prefix : "");
    for (size_t i = 0; i <= n; i++)
        low[i] = (prefix[i] >= 'A' && prefix[i] <= 'F') ? (char)(prefix[i] - 'A' + 'a') : prefix[i];
    sqlite3_stmt *st = store_stmt(s, SQ_RUN_FIND, err);
    int found = 0, rc, ret = -1;
    if (!st)
        return -1;
    if (sqlite3_bind_text(st, 1, low, -1, SQLITE_TRANSIENT) != SQLITE_OK) {
        store_sqlfail(s, err, "finding a run");
        goto cleanup;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (found++ == 0)
            *run_id = sqlite3_column_int64(st, 0);
    }
    if (rc != SQLITE_DONE)
        store_sqlfail(s, err, "finding a run");
    else if (found == 0)
        cb_fail(err, "%s: run %s: not found", s->path, prefix);
    else if (found > 1)
        cb_fail(err, "%s: run %s: ambiguous (several runs start with it)", s->path, prefix);
    else
        ret = 0;
cleanup:
    store_stmt_done(st);
    return ret;
}

json_t *store_run_json(store *s, const char *uuid, cb_err *err)
{
    int64_t run_id = 0;
    json_t *run = NULL;
    if (store_read_begin(s, err) != 0)
        return NULL;
    if (store_run_find(s, uuid, &run_id, err) == 0)
        run = store_run_object(s, run_id, 0, err);
    store_read_end(s);
    return run;
}

/* The ids of the latest complete-or-interrupted run of each experiment and
 * platform, as a JSON array of integers. */
static json_t *store_latest_ids(store *s, const char *experiment, cb_err *err)
{
    sqlite3_stmt *st = store_stmt(s, SQ_LATEST_RUNS, err);
    if (!st)
        return NULL;
    return store_collect_rows(s, st, store_bind_text(st, 1, experiment), STORE_AS_SCALAR,
                              "finding the latest runs", err);
}

json_t *store_latest_runs_json(store *s, const char *experiment, cb_err *err)
{
    json_t *ids = NULL, *runs = NULL, *out = NULL, *id;
    size_t i;
    if (store_read_begin(s, err) != 0)
        return NULL;
    if (!(ids = store_latest_ids(s, experiment, err)))
        goto cleanup;
    if (!(runs = json_array())) {
        store_oom(s, err);
        goto cleanup;
    }
    json_array_foreach(ids, i, id) {
        json_t *run = store_run_object(s, json_integer_value(id), 1, err);
        if (!run)
            goto cleanup;
        if (json_array_append_new(runs, run) != 0) {
            store_oom(s, err);
            goto cleanup;
        }
    }
    out = runs;
    runs = NULL;
cleanup:
    store_read_end(s);
    json_decref(ids);
    json_decref(runs);
    return out;
}

json_t *store_run_results_json(store *s, const char *uuid, cb_err *err)
{
    int64_t run_id = 0;
    json_t *run = NULL;
    if (store_read_begin(s, err) != 0)
        return NULL;
    if (store_run_find(s, uuid, &run_id, err) == 0)
        run = store_run_object(s, run_id, 1, err);
    store_read_end(s);
    const char *status = json_string_value(json_object_get(run, "status"));
    if (run && status && strcmp(status, "running") == 0) {
        cb_fail(err, "%s: run %s: still running (its results are not complete yet)", s->path,
                json_string_value(json_object_get(run, "uuid")));
        json_decref(run);
        return NULL;
    }
    return run;
}

json_t *store_platform_json(store *s, int64_t platform_id, cb_err *err)
{
    if (store_read_begin(s, err) != 0)
        return NULL;
    json_t *p = store_platform_object(s, platform_id, 1, err);
    store_read_end(s);
    return p;
}

/* ---- import (archive) ---------------------------------------------------------------- */

/* The JSON keys bound, in order, to consecutive parameters of the import
 * statements; NULL marks a parameter bound separately. */
static const char *const store_platform_keys[] = {
    "fingerprint", "arch", "cpu_vendor", "cpu_model", "n_packages", "n_numa", "n_cores",
    "n_pus", "caches", "kinds", "isa", "simd_best", "mem_bytes", "os", "kernel", "governor",
    "boost", "thp", "topology_xml", "first_seen", "last_seen", "peak_gbps", "peak_gflops"};
static const char *const store_probe_keys[] = {"kind", "threads", "value", "session",
                                               "measured_at"};
static const char *const store_run_keys[] = {
    "uuid", "experiment", "config_path", "config_text", "config_hash", "scale", NULL,
    "revision", "dirty", "compiler", "cflags", NULL, "started_at", "ended_at", NULL, NULL,
    "pid", "host", "boot_id"};
static const char *const store_measurement_keys[] = {
    "subject", "impl", "phase", NULL, "params_hash", "threads", "reps", "median_s", "mean_s",
    "stddev_s", "mad_s", "min_s", "max_s", "p05_s", "p95_s", "ci_lo_s", "ci_hi_s", "cv",
    "overhead_s", "flops", "bytes", "state_bytes", "peak_rss_kb", "created_at"};
static const char *const store_counter_keys[] = {"name", "unit", "supported", "per_rep",
                                                 "reason"};
static const char *const store_breakdown_keys[] = {"op_class", "seconds"};
static const char *const store_metric_keys[] = {"name", "value", "unit", "predicted",
                                                "created_at"};
#define STORE_NKEYS(keys) ((int)(sizeof(keys) / sizeof((keys)[0])))

/* Binds a JSON value: null or absent as NULL, numbers and strings as such,
 * true/false as 1/0, arrays and objects as their compact JSON text (sorted
 * keys when sort_keys). */
static int store_bind_json(sqlite3_stmt *st, int i, const json_t *v, int sort_keys)
{
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_INTEGER:
        return sqlite3_bind_int64(st, i, json_integer_value(v));
    case JSON_REAL:
        return sqlite3_bind_double(st, i, json_real_value(v));
    case JSON_TRUE:
        return sqlite3_bind_int(st, i, 1);
    case JSON_FALSE:
        return sqlite3_bind_int(st, i, 0);
    case JSON_STRING:
        return sqlite3_bind_text(st, i, json_string_value(v), (int)json_string_length(v),
                                 SQLITE_TRANSIENT);
    case JSON_OBJECT:
    case JSON_ARRAY: {
        char *text = json_dumps(v, JSON_COMPACT | (sort_keys ? JSON_SORT_KEYS : 0));
        if (!text)
            return SQLITE_NOMEM;
        int rc = sqlite3_bind_text(st, i, text, -1, SQLITE_TRANSIENT);
        free(text);
        return rc;
    }
    default:
        return sqlite3_bind_null(st, i);
    }
}

/* Binds obj[keys[k]] to parameter first + k for every non-NULL key. */
static int store_bind_keys(sqlite3_stmt *st, int first, const json_t *obj,
                           const char *const *keys, int n)
{
    for (int k = 0; k < n; k++) {
        int rc = keys[k] ? store_bind_json(st, first + k, json_object_get(obj, keys[k]), 0)
                         : SQLITE_OK;
        if (rc != SQLITE_OK)
            return rc;
    }
    return SQLITE_OK;
}

/* Checks that obj[key] is a non-empty string; else fills err naming where. */
static int store_import_need(const store *s, const json_t *obj, const char *key,
                             const char *where, cb_err *err)
{
    const char *v = json_string_value(json_object_get(obj, key));
    if (!v || !v[0])
        return cb_fail(err, "%s: import: %s: \"%s\" must be a non-empty string", s->path,
                       where, key);
    return 0;
}

/* Inserts the rows of array obj[key], each bound with keys after the fixed
 * parameters (?1 = id1, and ?2 = id2 when id2 >= 0). */
static int store_import_rows(store *s, enum store_sq id, const json_t *obj, const char *key,
                             int64_t id1, int64_t id2, const char *const *keys, int n,
                             cb_err *err)
{
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(obj, key), i, row) {
        sqlite3_stmt *st = store_stmt(s, id, err);
        if (!st)
            return -1;
        int first = id2 >= 0 ? 3 : 2;
        int rc = sqlite3_bind_int64(st, 1, id1);
        if (rc == SQLITE_OK && id2 >= 0)
            rc = store_bind_opt_id(st, 2, id2);
        if (rc == SQLITE_OK)
            rc = store_bind_keys(st, first, row, keys, n);
        if (store_step_bound(s, st, rc, err, "importing %s[%zu]", key, i) != 0)
            return -1;
    }
    return 0;
}

/* Finds or creates the platform of an imported run; a new one comes with its
 * probes and peaks, an existing one is left as it is. */
static int store_import_platform(store *s, const json_t *plat, int64_t *platform_id,
                                 cb_err *err)
{
    if (!json_is_object(plat) || store_import_need(s, plat, "fingerprint", "platform", err))
        return cb_fail(err, "%s: import: the run has no platform with a fingerprint", s->path);
    sqlite3_stmt *st = store_stmt(s, SQ_IMPORT_PLATFORM, err);
    if (!st)
        return -1;
    int rc = store_bind_keys(st, 1, plat, store_platform_keys, STORE_NKEYS(store_platform_keys));
    if (store_step_bound(s, st, rc, err, "importing the platform") != 0)
        return -1;
    int created = sqlite3_changes(s->db) == 1;
    if (!(st = store_stmt(s, SQ_PLATFORM_BY_FINGERPRINT, err)))
        return -1;
    rc = store_bind_json(st, 1, json_object_get(plat, "fingerprint"), 0);
    if (rc != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
        store_sqlfail(s, err, "importing the platform");
        store_stmt_done(st);
        return -1;
    }
    *platform_id = sqlite3_column_int64(st, 0);
    store_stmt_done(st);
    if (!created)
        return 0;
    return store_import_rows(s, SQ_IMPORT_PROBE, plat, "probes", *platform_id, -1,
                             store_probe_keys, STORE_NKEYS(store_probe_keys), err);
}

/* Binds the seed: a JSON integer, or a decimal string (above INT64_MAX). */
static int store_bind_seed(sqlite3_stmt *st, int i, const json_t *v)
{
    if (json_is_string(v))
        return sqlite3_bind_int64(st, i, (sqlite3_int64)strtoull(json_string_value(v), NULL, 10));
    return store_bind_json(st, i, v, 0);
}

/* Inserts the run row; a run that was still running comes in as running and
 * is marked interrupted by the caller once its measurements are in. */
static int store_import_run_row(store *s, const json_t *run, int64_t platform_id,
                                const char *origin, int64_t *run_id, cb_err *err)
{
    sqlite3_stmt *st = store_stmt(s, SQ_IMPORT_RUN, err);
    if (!st)
        return -1;
    const char *status = json_string_value(json_object_get(run, "status"));
    int rc = store_bind_keys(st, 1, run, store_run_keys, STORE_NKEYS(store_run_keys));
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 7, platform_id);
    if (rc == SQLITE_OK)
        rc = store_bind_seed(st, 12, json_object_get(run, "seed"));
    if (rc == SQLITE_OK)
        rc = store_bind_text(st, 15, status);
    if (rc == SQLITE_OK)
        rc = origin ? store_bind_text(st, 16, origin)
                    : store_bind_json(st, 16, json_object_get(run, "origin"), 0);
    if (store_step_bound(s, st, rc, err, "importing the run") != 0)
        return -1;
    *run_id = sqlite3_last_insert_rowid(s->db);
    return 0;
}

/* Inserts one measurement with its samples, counters, breakdown and metrics. */
static int store_import_measurement(store *s, int64_t run_id, const json_t *m, size_t index,
                                    cb_err *err)
{
    char where[64];
    snprintf(where, sizeof where, "measurements[%zu]", index);
    if (store_import_need(s, m, "subject", where, err) ||
        store_import_need(s, m, "impl", where, err) ||
        store_import_need(s, m, "phase", where, err) ||
        store_import_need(s, m, "params_hash", where, err))
        return -1;
    const json_t *params = json_object_get(m, "params_json");
    if (!json_is_string(params))
        params = json_object_get(m, "params"); /* bound as sorted compact JSON */
    if (!params)
        return cb_fail(err, "%s: import: %s: no params_json", s->path, where);
    sqlite3_stmt *st = store_stmt(s, SQ_IMPORT_MEASUREMENT, err);
    if (!st)
        return -1;
    int rc = sqlite3_bind_int64(st, 1, run_id);
    if (rc == SQLITE_OK)
        rc = store_bind_keys(st, 2, m, store_measurement_keys, STORE_NKEYS(store_measurement_keys));
    if (rc == SQLITE_OK)
        rc = store_bind_json(st, 5, params, 1);
    if (store_step_bound(s, st, rc, err, "%s", where) != 0)
        return -1;
    int64_t mid = sqlite3_last_insert_rowid(s->db);
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(m, "samples"), i, x) {
        if (!json_is_number(x))
            return cb_fail(err, "%s: import: %s: samples[%zu] is not a number", s->path,
                           where, i);
        if (!(st = store_stmt(s, SQ_SAMPLE_PUT, err)))
            return -1;
        rc = sqlite3_bind_int64(st, 1, mid);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int(st, 2, (int)i);
        if (rc == SQLITE_OK)
            rc = store_bind_json(st, 3, x, 0);
        if (store_step_bound(s, st, rc, err, "importing a sample") != 0)
            return -1;
    }
    return store_import_rows(s, SQ_COUNTER_PUT, m, "counters", mid, -1, store_counter_keys,
                             STORE_NKEYS(store_counter_keys), err) ||
           store_import_rows(s, SQ_BREAKDOWN_PUT, m, "breakdown", mid, -1, store_breakdown_keys,
                             STORE_NKEYS(store_breakdown_keys), err) ||
           store_import_rows(s, SQ_IMPORT_METRIC, m, "metrics", run_id, mid, store_metric_keys,
                             STORE_NKEYS(store_metric_keys), err)
               ? -1
               : 0;
}

/* 1 when a run with this uuid is already in the database, 0 if not, -1 on error. */
static int store_import_exists(store *s, const char *uuid, cb_err *err)
{
    sqlite3_stmt *st = store_stmt(s, SQ_IMPORT_EXISTS, err);
    int found = -1;
    if (!st)
        return -1;
    if (sqlite3_bind_text(st, 1, uuid, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW)
        store_sqlfail(s, err, "importing a run");
    else
        found = sqlite3_column_int(st, 0) > 0;
    store_stmt_done(st);
    return found;
}

/* The body of store_run_import, inside its transaction. */
static int store_import_body(store *s, const json_t *run, const char *origin, int *imported,
                             cb_err *err)
{
    const char *uuid = json_string_value(json_object_get(run, "uuid"));
    int64_t platform_id = 0, run_id = 0;
    int exists = store_import_exists(s, uuid, err);
    if (exists != 0)
        return exists < 0 ? -1 : 0;
    if (store_import_platform(s, json_object_get(run, "platform"), &platform_id, err) != 0 ||
        store_import_run_row(s, run, platform_id, origin, &run_id, err) != 0)
        return -1;
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(run, "measurements"), i, m) {
        if (store_import_measurement(s, run_id, m, i, err) != 0)
            return -1;
    }
    if (store_import_rows(s, SQ_IMPORT_METRIC, run, "metrics", run_id, 0, store_metric_keys,
                          STORE_NKEYS(store_metric_keys), err) != 0)
        return -1;
    /* a run that was running where it came from has no owner here */
    sqlite3_stmt *st = store_stmt(s, SQ_RUN_REAP, err);
    if (!st || store_step_bound(s, st, sqlite3_bind_int64(st, 1, run_id), err,
                                "importing the run") != 0)
        return -1;
    *imported = 1;
    return 0;
}

int store_run_import(store *s, const json_t *run, const char *origin, int *imported,
                     cb_err *err)
{
    int done = 0, ret = -1;
    if (imported)
        *imported = 0;
    if (!json_is_object(run) || store_import_need(s, run, "uuid", "run", err) != 0 ||
        store_import_need(s, run, "experiment", "run", err) != 0 ||
        store_import_need(s, run, "status", "run", err) != 0)
        return -1;
    if (store_exec(s, SQ_BEGIN_IMMEDIATE, err) != 0)
        return -1;
    if (store_import_body(s, run, origin, &done, err) == 0 && store_exec(s, SQ_COMMIT, err) == 0) {
        ret = 0;
        if (imported)
            *imported = done;
    } else {
        store_rollback(s); /* nothing of the run stays behind */
    }
    return ret;
}

/* The checks store_run_import makes before its transaction, for runs[index]. */
static int store_import_precheck(store *s, const json_t *run, size_t index, cb_err *err)
{
    if (!json_is_object(run))
        return cb_fail(err, "%s: import: runs[%zu]: not an object", s->path, index);
    if (store_import_need(s, run, "uuid", "run", err) != 0 ||
        store_import_need(s, run, "experiment", "run", err) != 0 ||
        store_import_need(s, run, "status", "run", err) != 0)
        return cb_wrap(err, "runs[%zu]", index);
    return 0;
}

int store_runs_import(store *s, const json_t *runs, const char *origin, int *n_imported,
                      cb_err *err)
{
    size_t i;
    json_t *run;
    int count = 0;
    if (n_imported)
        *n_imported = 0;
    if (!json_is_array(runs))
        return cb_fail(err, "%s: import: the runs are not a JSON array", s->path);
    json_array_foreach(runs, i, run) {
        if (store_import_precheck(s, run, i, err) != 0)
            return -1;
    }
    if (store_exec(s, SQ_BEGIN_IMMEDIATE, err) != 0)
        return -1;
    json_array_foreach(runs, i, run) {
        int done = 0;
        if (store_import_body(s, run, origin, &done, err) != 0) {
            store_rollback(s); /* nothing of any run stays behind */
            return cb_wrap(err, "run %s", json_string_value(json_object_get(run, "uuid")));
        }
        count += done;
    }
    if (store_exec(s, SQ_COMMIT, err) != 0) {
        store_rollback(s);
        return -1;
    }
    if (n_imported)
        *n_imported = count;
    return 0;
}

/* ---- check ------------------------------------------------------------------------- */

/* Runs PRAGMA integrity_check: *problem is set to 0 for "ok", else 1 with
 * the first message in first.  Returns an SQLite result code. */
static int store_integrity(store *s, int *problem, char *first, size_t cap, cb_err *err)
{
    sqlite3_stmt *st = store_stmt(s, SQ_INTEGRITY, err);
    int rc, rows = 0;
    *problem = 0;
    if (!st) {
        cb_strlcpy(first, sqlite3_errmsg(s->db), cap);
        return sqlite3_extended_errcode(s->db);
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *msg = (const char *)sqlite3_column_text(st, 0);
        if (rows++ == 0)
            cb_strlcpy(first, msg ? msg : "", cap);
    }
    if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
        *problem = rows != 1 || strcmp(first, "ok") != 0;
    } else {
        cb_strlcpy(first, sqlite3_errmsg(s->db), cap);
    }
    store_stmt_done(st);
    return rc;
}

/* Runs PRAGMA foreign_key_check: the number of violations and the table of
 * the first.  Returns an SQLite result code. */
static int store_fk_violations(store *s, int *n, char *table, size_t cap, cb_err *err)
{
    sqlite3_stmt *st = store_stmt(s, SQ_FK_CHECK, err);
    int rc;
    *n = 0;
    if (!st)
        return SQLITE_ERROR;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        if ((*n)++ == 0)
            cb_strlcpy(table, t ? t : "?", cap);
    }
    if (rc == SQLITE_DONE)
        rc = SQLITE_OK;
    else
        cb_strlcpy(table, sqlite3_errmsg(s->db), cap);
    store_stmt_done(st);
    return rc;
}

int store_check(store *s, int *ok, char *verdict, int verdict_cap, int *schema_version,
                cb_err *err)
{
    char first[512] = "", table[256] = "", line[1024];
    int version = 0, problem = 0, n_fk = 0, rc;
    if (store_migrations_version(s->db, &version) != SQLITE_OK)
        return store_sqlfail(s, err, "reading the schema version");
    rc = store_integrity(s, &problem, first, sizeof first, err);
    if ((rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB) {
        problem = 1; /* a verdict, not a failure to check */
    } else if (rc != SQLITE_OK) {
        return cb_fail(err, "%s: integrity check: %s", s->path, first);
    }
    if (!problem && store_fk_violations(s, &n_fk, table, sizeof table, err) != SQLITE_OK)
        return cb_fail(err, "%s: foreign key check: %s", s->path, table);
    if (problem)
        snprintf(line, sizeof line, "integrity: %s (schema %d)", first, version);
    else if (n_fk > 0)
        snprintf(line, sizeof line, "%d foreign key violation%s, first in table %s (schema %d)",
                 n_fk, n_fk == 1 ? "" : "s", table, version);
    else
        snprintf(line, sizeof line, "ok (schema %d)", version);
    if (ok)
        *ok = !problem && n_fk == 0;
    if (verdict && verdict_cap > 0)
        cb_strlcpy(verdict, line, (size_t)verdict_cap);
    if (schema_version)
        *schema_version = version;
    return 0;
}
