/* platforms/measure.h — the measurement core: times a closure.
 *
 * meas_run() runs `warmups` untimed calls, then timed repetitions until both
 * min_reps and min_time_s are reached, stopping at max_reps or max_time_s
 * (whichever comes first, but never before min_reps unless max_time_s is hit).
 * Each repetition is timed with the monotonic clock; the raw samples are kept.
 * Optionally the caches are flushed (a buffer larger than the last-level cache
 * is written) before each repetition, outside the timed region.  Counters are
 * read around the whole timed loop and reported per repetition; a counter the
 * machine does not provide is marked unsupported with the reason, never zero.
 * They count the calling thread, the threads the closure creates, and the
 * already existing threads listed in extra_tids — the work a closure hands to
 * a thread pool created beforehand is counted only if its workers are listed
 * there (pool_thread_ids()).
 *
 * Never: no SQL, no printing. */
#ifndef CTXBENCH_PLATFORMS_MEASURE_H
#define CTXBENCH_PLATFORMS_MEASURE_H

#include <stddef.h>
#include <stdint.h>

#include "platforms/stats.h"
#include "util/error.h"

/* The counters ctxbench asks for.  Hardware ones need a PMU; software ones the
 * kernel always has (unless perf_event_open itself is forbidden). */
typedef enum ctr_id {
    CTR_CYCLES,
    CTR_INSTRUCTIONS,
    CTR_CACHE_REFERENCES,
    CTR_CACHE_MISSES,
    CTR_STALLED_BACKEND,
    CTR_STALLED_FRONTEND,
    CTR_PAGE_FAULTS,
    CTR_CONTEXT_SWITCHES,
    CTR_TASK_CLOCK,
    CTR_COUNT
} ctr_id;

typedef struct ctr_value {
    const char *name;    /* "cycles", "instructions", ..., "task-clock" (static) */
    const char *unit;    /* "count" or "ns" (static) */
    int supported;       /* 0: the machine does not provide it; value is meaningless */
    double per_rep;      /* mean value per timed repetition */
    char reason[96];     /* why unsupported, e.g. "perf_event_open: No such file or directory" */
} ctr_value;

/* The most extra_tids a measurement counts (see meas_opts). */
#define MEAS_MAX_EXTRA_TIDS 64

typedef struct meas_opts {
    int warmups;         /* default 2 */
    int min_reps;        /* default 10 */
    int max_reps;        /* default 10000 */
    double min_time_s;   /* default 0.2 */
    double max_time_s;   /* default 10 */
    int flush_cache;     /* 1: flush caches before each repetition (untimed) */
    int counters;        /* 1: read perf counters around the timed loop */
    /* (n_extra_tids) existing threads of this process (kernel tids) counted
     * besides the calling thread and the threads the closure creates, e.g. a
     * pool's workers.  Default NULL/0.  Used only with counters = 1; the
     * calling thread's own tid and repeats are skipped.  A tid that is not a
     * thread of this process, or more than MEAS_MAX_EXTRA_TIDS of them, makes
     * every counter unsupported with the reason (never a partial count); a
     * counter that cannot be opened on one of them is unsupported, naming it. */
    const int *extra_tids;
    int n_extra_tids;
} meas_opts;

/* One repetition of the work being measured.  Returns 0, or -1 with err, which
 * stops the measurement. */
typedef int (*meas_fn)(void *ctx, cb_err *err);

/* Why the timed loop stopped (recorded, so a capped measurement is visible). */
typedef enum meas_stop {
    MEAS_STOP_DONE,      /* min_reps and min_time_s both reached */
    MEAS_STOP_MAX_REPS,  /* max_reps reached before min_time_s */
    MEAS_STOP_MAX_TIME,  /* max_time_s ran out, possibly before min_reps */
} meas_stop;

typedef struct meas_result {
    double *samples_s;   /* (n) seconds per repetition, in the order run; owned */
    int n;
    meas_stats stats;    /* of samples_s */
    ctr_value counters[CTR_COUNT];
    long peak_rss_kb;    /* process peak RSS after the measurement */
    double overhead_s;   /* the core's own cost per repetition (timer + call), measured */
    double wall_s;       /* wall time of the whole measurement, warm-ups included */
    meas_stop stop;      /* why the timed loop ended */
} meas_result;

/* Fills o with the defaults above. */
void meas_opts_default(meas_opts *o);

/* Measures fn(ctx).  Returns 0 and a filled result (free with meas_result_free),
 * or -1 with err (the closure's error, or bad options); on error out holds no
 * memory.  Bad options: warmups < 0, min_reps < 1, max_reps outside
 * [min_reps, 10^7], max_time_s outside (0, 10^6], min_time_s outside
 * [0, max_time_s], n_extra_tids < 0, extra_tids NULL with n_extra_tids > 0.
 * At least one timed repetition always runs. */
int meas_run(const meas_opts *o, meas_fn fn, void *ctx, meas_result *out, cb_err *err);

/* Frees the samples; out may be NULL or zeroed. */
void meas_result_free(meas_result *r);

/* The measurement core's own overhead per repetition in seconds (an empty
 * closure timed the same way), calibrated once per process. */
double meas_overhead_s(void);

/* Process peak resident set size in KiB (getrusage), or -1. */
long meas_peak_rss_kb(void);

/* "done", "max-reps" or "max-time" (static strings). */
const char *meas_stop_name(meas_stop s);

/* Bytes of the buffer a cache flush walks: twice the largest last-level cache
 * of any CPU (sysfs, else sysconf), or 64 MiB when unknown.  Computed once. */
size_t meas_flush_bytes(void);

#endif
