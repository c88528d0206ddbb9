/* platforms/measure.c — the measurement core: times a closure (see measure.h).
 *
 * A measurement runs in this order, everything but step 4 outside the timed
 * region:
 *   1. check the options; allocate the samples (max_reps) and, if asked, the
 *      cache-flush buffer (touched once so its page faults happen now);
 *   2. open the counters, disabled, on the calling thread and on each
 *      extra_tids thread (before the warm-ups, so threads the closure creates
 *      while warming up inherit them);
 *   3. warm-ups, untimed, stopping early if max_time_s runs out;
 *   4. enable the counters, run the timed loop (meas_timed_loop), disable;
 *   5. read the counters, compute the statistics, hand the samples to out.
 * Step 4 is also what meas_overhead_s() times with an empty closure, so the
 * overhead it reports is the cost of exactly this path.
 *
 * Stopping rule of the timed loop, checked after every repetition: stop when
 * min_reps repetitions are done and their summed time reaches min_time_s
 * (MEAS_STOP_DONE); else when the wall clock since the start of meas_run
 * passes max_time_s (MEAS_STOP_MAX_TIME, even before min_reps: a measurement
 * never runs away); else when max_reps is reached (MEAS_STOP_MAX_REPS).  At
 * least one repetition always runs, and a repetition in flight is never cut,
 * so a slow closure overshoots max_time_s by at most one repetition.
 *
 * Never: allocate, print or make any system call but the clock inside a timed
 * repetition; read counters per repetition; print or exit at all. */
#include "platforms/measure.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "platforms/counters.h"
#include "util/clock.h"

#define MEAS_REPS_LIMIT 10000000           /* samples array of at most 80 MB */
#define MEAS_TIME_LIMIT_S 1e6              /* keeps deadlines far from int64 overflow */
#define MEAS_FLUSH_UNKNOWN ((size_t)64 << 20)
#define MEAS_FLUSH_MAX ((size_t)1 << 30)   /* guards against a nonsense cache size */
#define MEAS_FLUSH_STRIDE 64               /* bytes; the smallest common cache line */
#define MEAS_CAL_WARMUPS 100
#define MEAS_CAL_REPS 1000

/* Everything the timed loop needs, prepared beforehand. */
typedef struct meas_loop {
    meas_fn fn;
    void *ctx;
    double *samples;        /* (max_reps) seconds, filled in order */
    int min_reps, max_reps;
    int64_t min_ns;         /* summed repetition time to reach */
    int64_t deadline_ns;    /* absolute cb_now_ns() after which we stop */
    unsigned char *flush;   /* (flush_len) NULL: no cache flush */
    size_t flush_len;
    const ctr_set *ctr;     /* paused around each flush; NULL when not counting */
    int n;                  /* out: repetitions done */
    meas_stop stop;         /* out: why the loop ended */
} meas_loop;

void meas_opts_default(meas_opts *o)
{
    memset(o, 0, sizeof *o);
    o->warmups = 2;
    o->min_reps = 10;
    o->max_reps = 10000;
    o->min_time_s = 0.2;
    o->max_time_s = 10;
    o->flush_cache = 0;
    o->counters = 0;
    o->extra_tids = NULL;
    o->n_extra_tids = 0;
}

const char *meas_stop_name(meas_stop s)
{
    switch (s) {
    case MEAS_STOP_DONE: return "done";
    case MEAS_STOP_MAX_REPS: return "max-reps";
    case MEAS_STOP_MAX_TIME: return "max-time";
    }
    return "unknown";
}

long meas_peak_rss_kb(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return -1;
    return ru.ru_maxrss; /* KiB on Linux */
}

/* ---- cache flush ------------------------------------------------------------ */

/* Reads the first line of a small sysfs file into buf; 0 or -1. */
static int meas_read_line(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char *got = fgets(buf, (int)len, f);
    fclose(f);
    if (!got)
        return -1;
    buf[strcspn(buf, "\n")] = '\0';
    return 0;
}

/* "32768K", "8M", "1048576" -> bytes; 0 when unreadable. */
static size_t meas_parse_size(const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s)
        return 0;
    switch (*end) {
    case 'K': v <<= 10; break;
    case 'M': v <<= 20; break;
    case 'G': v <<= 30; break;
    default: break;
    }
    return (size_t)v;
}

/* Size of CPU cpu's highest-level data or unified cache (one instance), or 0
 * (also when the CPU does not exist).  *level receives its level. */
static size_t meas_cpu_llc(int cpu, int *level)
{
    size_t best = 0;
    *level = 0;
    for (int idx = 0; idx < 16; idx++) {
        char path[128], line[64];
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/cache/index%d/level", cpu, idx);
        if (meas_read_line(path, line, sizeof line) != 0)
            break;
        int lv = atoi(line);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/cache/index%d/type", cpu, idx);
        if (meas_read_line(path, line, sizeof line) != 0 || strcmp(line, "Instruction") == 0)
            continue;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/cache/index%d/size", cpu, idx);
        if (meas_read_line(path, line, sizeof line) != 0)
            continue;
        size_t sz = meas_parse_size(line);
        if (lv > *level || (lv == *level && sz > best)) {
            *level = lv;
            best = sz;
        }
    }
    return best;
}

/* The largest last-level cache over every CPU (big.LITTLE clusters differ),
 * from sysfs; then glibc's sysconf; 0 when unknown. */
static size_t meas_llc_bytes(void)
{
    size_t best = 0;
    int best_level = 0;
    long ncpu = sysconf(_SC_NPROCESSORS_CONF);
    for (int cpu = 0; cpu < ncpu && cpu < 4096; cpu++) {
        int lv;
        size_t sz = meas_cpu_llc(cpu, &lv);
        if (lv > best_level || (lv == best_level && sz > best)) {
            best_level = lv;
            best = sz;
        }
    }
    if (best > 0)
        return best;
#ifdef _SC_LEVEL3_CACHE_SIZE
    long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE), l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
    if (l3 > 0)
        return (size_t)l3;
    if (l2 > 0)
        return (size_t)l2;
#endif
    return 0;
}

static size_t meas_flush_size;

static void meas_flush_size_init(void)
{
    size_t llc = meas_llc_bytes();
    size_t n = llc > 0 ? 2 * llc : MEAS_FLUSH_UNKNOWN;
    meas_flush_size = n > MEAS_FLUSH_MAX ? MEAS_FLUSH_MAX : n;
}

size_t meas_flush_bytes(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, meas_flush_size_init);
    return meas_flush_size;
}

/* Writes then reads one byte per cache line of buf, evicting what the closure
 * left in the caches.  volatile: the compiler must not skip either pass. */
static void meas_flush(unsigned char *buf, size_t len)
{
    volatile unsigned char *p = buf;
    for (size_t i = 0; i < len; i += MEAS_FLUSH_STRIDE)
        p[i] = (unsigned char)(p[i] + 1);
    for (size_t i = 0; i < len; i += MEAS_FLUSH_STRIDE)
        (void)p[i];
}

/* Flush outside the timed region; the counters pause so they count the
 * closure, not the flush (two ioctl rounds per repetition, untimed, over
 * every counted thread's descriptors: CTR_COUNT per thread).  Known
 * bias: task-clock counts kernel time too, so each repetition's value then
 * includes the kernel side of its own re-enable and disable (measured 1-5 us
 * on the development VM, the high end with the caches just flushed).  The
 * hardware counters count user space only and do not see it. */
static void meas_flush_between(const meas_loop *L)
{
    if (L->ctr)
        ctr_pause(L->ctr);
    meas_flush(L->flush, L->flush_len);
    if (L->ctr)
        ctr_resume(L->ctr);
}

/* ---- the timed loop ------------------------------------------------------------ */

/* Runs timed repetitions into L->samples per the stopping rule at the top of
 * this file.  Returns 0, or -1 with the closure's err (L->n then counts the
 * repetitions that succeeded).  noinline: meas_overhead_s() must time this
 * very code, not a copy specialised for its empty closure. */
__attribute__((noinline)) static int meas_timed_loop(meas_loop *L, cb_err *err)
{
    int64_t sum_ns = 0;
    L->n = 0;
    for (int i = 0; i < L->max_reps; i++) {
        if (L->flush)
            meas_flush_between(L);
        int64_t t0 = cb_now_ns();
        int rc = L->fn(L->ctx, err);
        int64_t t1 = cb_now_ns();
        if (rc != 0)
            return -1;
        L->samples[i] = (double)(t1 - t0) * 1e-9;
        sum_ns += t1 - t0;
        L->n = i + 1;
        if (L->n >= L->min_reps && sum_ns >= L->min_ns) {
            L->stop = MEAS_STOP_DONE;
            return 0;
        }
        if (t1 >= L->deadline_ns) {
            L->stop = MEAS_STOP_MAX_TIME;
            return 0;
        }
    }
    L->stop = MEAS_STOP_MAX_REPS;
    return 0;
}

/* ---- overhead calibration ------------------------------------------------------- */

static int meas_empty(void *ctx, cb_err *err)
{
    (void)ctx;
    (void)err;
    return 0;
}

static double meas_overhead;

/* Median of MEAS_CAL_REPS empty repetitions through meas_timed_loop.  On a
 * clock too coarse to see one repetition the median is 0: the mean (total
 * time / reps) is then the estimate. */
static void meas_calibrate(void)
{
    static double samples[MEAS_CAL_REPS]; /* written only here, under pthread_once */
    meas_loop L = {
        .fn = meas_empty, .samples = samples, .min_reps = MEAS_CAL_WARMUPS,
        .max_reps = MEAS_CAL_WARMUPS, .min_ns = 0, .deadline_ns = INT64_MAX,
    };
    meas_timed_loop(&L, NULL); /* warm the code path and the clock */
    L.min_reps = L.max_reps = MEAS_CAL_REPS;
    meas_timed_loop(&L, NULL);
    meas_stats st;
    if (stats_compute(samples, L.n, &st) != 0)
        return; /* out of memory: overhead stays 0, unmeasured */
    meas_overhead = st.median > 0 ? st.median : st.mean;
}

double meas_overhead_s(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, meas_calibrate);
    return meas_overhead;
}

/* ---- meas_run ------------------------------------------------------------------------ */

static int meas_check_opts(const meas_opts *o, meas_fn fn, cb_err *err)
{
    if (!o || !fn)
        return cb_fail(err, "measure: no options or no closure");
    if (o->warmups < 0)
        return cb_fail(err, "measure: warmups must be >= 0 (got %d)", o->warmups);
    if (o->min_reps < 1)
        return cb_fail(err, "measure: min_reps must be >= 1 (got %d)", o->min_reps);
    if (o->max_reps < o->min_reps || o->max_reps > MEAS_REPS_LIMIT)
        return cb_fail(err, "measure: max_reps must be in [min_reps=%d, %d] (got %d)",
                       o->min_reps, MEAS_REPS_LIMIT, o->max_reps);
    if (!(o->max_time_s > 0 && o->max_time_s <= MEAS_TIME_LIMIT_S))
        return cb_fail(err, "measure: max_time_s must be in (0, %g] (got %g)",
                       MEAS_TIME_LIMIT_S, o->max_time_s);
    if (!(o->min_time_s >= 0 && o->min_time_s <= o->max_time_s))
        return cb_fail(err, "measure: min_time_s must be in [0, max_time_s=%g] (got %g)",
                       o->max_time_s, o->min_time_s);
    if (o->n_extra_tids < 0 || (o->n_extra_tids > 0 && !o->extra_tids))
        return cb_fail(err, "measure: extra_tids must list n_extra_tids >= 0 tids (got %d%s)",
                       o->n_extra_tids, o->extra_tids ? "" : ", no list");
    return 0;
}

/* Untimed calls; stops early once the deadline has passed.  0 or -1 with err. */
static int meas_warmup(int warmups, meas_fn fn, void *ctx, int64_t deadline_ns, cb_err *err)
{
    for (int i = 0; i < warmups; i++) {
        if (cb_now_ns() >= deadline_ns)
            break;
        if (fn(ctx, err) != 0)
            return -1;
    }
    return 0;
}

/* A closure that failed without saying why still gets a message. */
static int meas_closure_failed(cb_err *err)
{
    if (err && err->msg[0] == '\0')
        return cb_fail(err, "measure: the measured closure failed without a message");
    return -1;
}

/* Allocates the flush buffer and touches every page now, untimed. */
static unsigned char *meas_flush_alloc(size_t *len)
{
    *len = meas_flush_bytes();
    unsigned char *buf = malloc(*len);
    if (buf)
        memset(buf, 0, *len);
    return buf;
}

int meas_run(const meas_opts *o, meas_fn fn, void *ctx, meas_result *out, cb_err *err)
{
    if (!out)
        return cb_fail(err, "measure: no result to fill");
    memset(out, 0, sizeof *out);
    if (meas_check_opts(o, fn, err) != 0)
        return -1;
    if (err)
        err->msg[0] = '\0';

    int rc = -1;
    ctr_set cs;
    ctr_init(&cs);
    double overhead = meas_overhead_s(); /* calibrates on first use, before our clock starts */
    int64_t start = cb_now_ns();
    meas_loop L = {
        .fn = fn, .ctx = ctx, .min_reps = o->min_reps, .max_reps = o->max_reps,
        .min_ns = (int64_t)ceil(o->min_time_s * 1e9),
        .deadline_ns = start + (int64_t)(o->max_time_s * 1e9),
    };
    L.samples = malloc((size_t)o->max_reps * sizeof *L.samples);
    if (!L.samples) {
        cb_fail(err, "measure: out of memory for %d samples", o->max_reps);
        goto done;
    }
    if (o->flush_cache && !(L.flush = meas_flush_alloc(&L.flush_len))) {
        cb_fail(err, "measure: out of memory for a %zu-byte cache-flush buffer", L.flush_len);
        goto done;
    }
    if (o->counters) {
        ctr_open(&cs, o->extra_tids, o->n_extra_tids, out->counters);
        L.ctr = &cs;
    } else {
        ctr_mark_all(out->counters, "not requested");
    }
    if (meas_warmup(o->warmups, fn, ctx, L.deadline_ns, err) != 0) {
        meas_closure_failed(err);
        goto done;
    }

    ctr_start(&cs);
    int loop_rc = meas_timed_loop(&L, err);
    ctr_stop(&cs);
    if (loop_rc != 0) {
        meas_closure_failed(err);
        goto done;
    }
    out->wall_s = (double)(cb_now_ns() - start) * 1e-9;
    ctr_read(&cs, L.n, out->counters);
    if (stats_compute(L.samples, L.n, &out->stats) != 0) {
        cb_fail(err, "measure: out of memory computing statistics of %d samples", L.n);
        goto done;
    }
    out->samples_s = L.samples; /* ownership passes to out */
    L.samples = NULL;
    out->n = L.n;
    out->stop = L.stop;
    out->overhead_s = overhead;
    out->peak_rss_kb = meas_peak_rss_kb();
    rc = 0;
done:
    ctr_close(&cs);
    free(L.flush);
    free(L.samples);
    if (rc != 0)
        memset(out, 0, sizeof *out);
    return rc;
}

void meas_result_free(meas_result *r)
{
    if (!r)
        return;
    free(r->samples_s);
    r->samples_s = NULL;
    r->n = 0;
}
