/* tests/test_measure.c — platforms/measure.c and counters.c: the stopping rule,
 * error propagation, samples and statistics, counters and their verdicts
 * (including threads of a pool that exists before the measurement), the
 * core's overhead.
 *
 * Never: performance targets.  Time bounds here are loose sanity bounds (a
 * run-away guard, an overhead below 10 us) that any machine meets; the ratio
 * checks compare counted CPU time, not wall time, so a noisy machine passes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "platforms/counters.h" /* private header: ctr_verdict, ctr_set */
#include "platforms/measure.h"
#include "platforms/pool.h"
#include "platforms/topo.h"
#include "util/clock.h"

/* A closure that counts its calls, may sleep, and may fail on call fail_at. */
typedef struct call_ctx {
    int calls;
    int fail_at;       /* 1-based call that fails; 0: never */
    int fail_silent;   /* 1: fail without filling err */
    long sleep_us;     /* per call */
    int sleep_grows;   /* 1: call k sleeps sleep_us * 4^(k-1) */
} call_ctx;

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static int call_fn(void *ctx, cb_err *err)
{
    call_ctx *c = ctx;
    c->calls++;
    if (c->fail_at && c->calls == c->fail_at)
        return c->fail_silent ? -1 : cb_fail(err, "closure failed at call %d", c->calls);
    if (c->sleep_us) {
        long us = c->sleep_us;
        for (int k = 1; c->sleep_grows && k < c->calls; k++)
            us *= 4;
        sleep_us(us);
    }
    return 0;
}

static int64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Burns CPU in the calling thread until it has used `ns` more of its own CPU
 * time. */
static void burn_cpu_ns(int64_t ns)
{
    volatile double x = 1;
    int64_t until = thread_cpu_ns() + ns;
    for (;;) {
        for (int i = 0; i < 1000; i++)
            x = x * 1.0000001 + 1e-9;
        if (thread_cpu_ns() >= until)
            return;
    }
}

static void *burn_thread(void *arg)
{
    (void)arg;
    burn_cpu_ns(20 * 1000000);
    return NULL;
}

/* Spawns a worker that burns 20 ms of CPU and joins it. */
static int spawn_fn(void *ctx, cb_err *err)
{
    (void)ctx;
    pthread_t t;
    if (pthread_create(&t, NULL, burn_thread, NULL) != 0)
        return cb_fail(err, "pthread_create failed");
    pthread_join(t, NULL);
    return 0;
}

/* A closure that touches a little memory: something for the counters to see. */
static int touch_fn(void *ctx, cb_err *err)
{
    (void)err;
    volatile unsigned char *buf = ctx;
    for (int i = 0; i < 1 << 16; i += 64)
        buf[i] = (unsigned char)(buf[i] + 1);
    return 0;
}

static meas_opts quick_opts(void)
{
    meas_opts o;
    meas_opts_default(&o);
    o.warmups = 0;
    o.min_reps = 1;
    o.max_reps = 1000;
    o.min_time_s = 0;
    o.max_time_s = 30;
    return o;
}

static double sum_samples(const meas_result *r)
{
    double s = 0;
    for (int i = 0; i < r->n; i++)
        s += r->samples_s[i];
    return s;
}

static void assert_result_empty(const meas_result *r)
{
    assert_null(r->samples_s);
    assert_int_equal(r->n, 0);
    assert_null(r->counters[0].name);
}

/* Measures call_fn on c under o and asserts the run succeeded; the caller
 * frees *r. */
static void run_calls(const meas_opts *o, call_ctx *c, meas_result *r)
{
    cb_err err = {{0}};
    assert_int_equal(meas_run(o, call_fn, c, r, &err), 0);
}

/* Measures touch_fn on a fresh 64 KiB buffer under o and asserts the run
 * succeeded; the caller frees *r. */
static void run_touch(const meas_opts *o, meas_result *r)
{
    unsigned char *buf = calloc(1, 1 << 16);
    assert_non_null(buf);
    cb_err err = {{0}};
    assert_int_equal(meas_run(o, touch_fn, buf, r, &err), 0);
    free(buf);
}

/* Measures a closure that fails at call fail_at under o: the run stops there,
 * passes the closure's message up and leaves *r empty. */
static void check_closure_fails_at(const meas_opts *o, int fail_at, meas_result *r)
{
    call_ctx c = {.fail_at = fail_at};
    cb_err err = {{0}};
    char want[64];
    snprintf(want, sizeof want, "closure failed at call %d", fail_at);
    assert_int_equal(meas_run(o, call_fn, &c, r, &err), -1);
    assert_string_equal(err.msg, want);
    assert_int_equal(c.calls, fail_at);
    assert_result_empty(r);
}

/* Bad options o are refused, with a message naming field and an empty result
 * (the callers check that the closure never ran). */
static void check_refused(const meas_opts *o, call_ctx *c, const char *field)
{
    meas_result r;
    cb_err err = {{0}};
    assert_int_equal(meas_run(o, call_fn, c, &r, &err), -1);
    assert_non_null(strstr(err.msg, field));
    assert_result_empty(&r);
}

/* Every counter of r is unsupported, and says so with a reason containing
 * why. */
static void assert_counters_refused(const meas_result *r, const char *why)
{
    for (int i = 0; i < CTR_COUNT; i++) {
        assert_int_equal(r->counters[i].supported, 0);
        assert_non_null(strstr(r->counters[i].reason, why));
    }
}

/* Takes an open counter set through one measurement: start, pause, resume,
 * stop, and reads it as one repetition into vals. */
static void cycle_counters(ctr_set *cs, ctr_value vals[CTR_COUNT])
{
    ctr_start(cs);
    ctr_pause(cs);
    ctr_resume(cs);
    ctr_stop(cs);
    ctr_read(cs, 1, vals);
}

static void test_01_defaults(void **state)
{
    (void)state;
    meas_opts o;
    memset(&o, 0x5a, sizeof o);
    meas_opts_default(&o);
    assert_int_equal(o.warmups, 2);
    assert_int_equal(o.min_reps, 10);
    assert_int_equal(o.max_reps, 10000);
    assert_true(o.min_time_s == 0.2);
    assert_true(o.max_time_s == 10);
    assert_int_equal(o.flush_cache, 0);
    assert_int_equal(o.counters, 0);
}

static void test_02_counts_warmups_and_reps(void **state)
{
    (void)state;
    meas_opts o = quick_opts();
    o.warmups = 3;
    o.min_reps = 10;
    call_ctx c = {0};
    meas_result r;
    run_calls(&o, &c, &r);
    assert_int_equal(c.calls, o.warmups + r.n);
    /* min_time 0: the loop stops as soon as min_reps are done */
    assert_int_equal(r.n, 10);
    assert_int_equal(r.stop, MEAS_STOP_DONE);
    assert_string_equal(meas_stop_name(r.stop), "done");
    assert_non_null(r.samples_s);
    for (int i = 0; i < r.n; i++)
        assert_true(r.samples_s[i] >= 0);
    meas_result_free(&r);
}

static void test_03_min_time_respected(void **state)
{
    (void)state;
    meas_opts o = quick_opts();
    o.min_reps = 1;
    o.min_time_s = 0.05;
    call_ctx c = {.sleep_us = 1000};
    meas_result r;
    run_calls(&o, &c, &r);
    assert_int_equal(r.stop, MEAS_STOP_DONE);
    assert_true(sum_samples(&r) >= 0.05);
    assert_true(r.n * 0.001 >= 0.05 * 0.5); /* each call sleeps >= 1 ms, so n is ~40-50 */
    assert_true(r.n > 1);
    meas_result_free(&r);
}

static void test_04_max_reps_caps(void **state)
{
    (void)state;
    meas_opts o = quick_opts();
    o.min_reps = 5;
    o.max_reps = 20;
    o.min_time_s = 5; /* never reached by a trivial closure in 20 reps */
    o.max_time_s = 60;
    call_ctx c = {0};
    meas_result r;
    run_calls(&o, &c, &r);
    assert_int_equal(r.n, 20);
    assert_int_equal(c.calls, 20);
    assert_int_equal(r.stop, MEAS_STOP_MAX_REPS);
    assert_string_equal(meas_stop_name(r.stop), "max-reps");
    meas_result_free(&r);
}

static void test_05_max_time_caps_slow_closure(void **state)
{
    (void)state;
    meas_opts o = quick_opts();
    o.min_reps = 1000; /* max_time_s wins over min_reps */
    o.max_reps = 10000;
    o.max_time_s = 0.1;
    call_ctx c = {.sleep_us = 20000};
    meas_result r;
    run_calls(&o, &c, &r);
    assert_true(r.n >= 1 && r.n < 1000);
    assert_int_equal(r.stop, MEAS_STOP_MAX_TIME);
    assert_string_equal(meas_stop_name(r.stop), "max-time");
    assert_int_equal(r.stats.n, r.n);
    assert_true(r.wall_s < 5); /* run-away guard, not a performance target */
    meas_result_free(&r);
}

static void test_06_max_time_stops_warmups(void **state)
{
    (void)state;
    meas_opts o = quick_opts();
    o.warmups = 10;
    o.min_reps = 5;
    o.max_time_s = 0.05;
    call_ctx c = {.sleep_us = 30000};
    meas_result r;
    run_calls(&o, &c, &r);
    assert_int_equal(r.n, 1); /* the budget is spent: one timed repetition, no more */
    assert_true(c.calls < 1 + o.warmups);
    assert_int_equal(r.stop, MEAS_STOP_MAX_TIME);
    meas_result_free(&r);
}

static void test_07_closure_error_in_loop(void **state)
{
    (void)state;
    meas_opts o = quick_opts();
    o.warmups = 2;
    o.min_reps = 10;
    o.counters = 1;
    meas_result r;
    check_closure_fails_at(&o, 5, &r); /* the error stops the run */
    meas_result_free(&r); /* harmless on the emptied result */
}

static void test_08_closure_error_in_warmup(void **state)
{
    (void)state;
    meas_opts o = quick_opts();
    o.warmups = 3;
    o.flush_cache = 1;
    meas_result r;
    check_closure_fails_at(&o, 1, &r);
}

static void test_09_silent_failure_gets_message(void **state)
{
    (void)state;
    meas_opts o = quick_opts();
    o.min_reps = 3;
    call_ctx c = {.fail_at = 2, .fail_silent = 1};
    meas_result r;
    cb_err err;
    strcpy(err.msg, "stale message from an earlier call");
    assert_int_equal(meas_run(&o, call_fn, &c, &r, &err), -1);
    assert_non_null(strstr(err.msg, "without a message"));
    c.calls = 0;
    assert_int_equal(meas_run(&o, call_fn, &c, &r, NULL), -1); /* NULL err is allowed */
    assert_result_empty(&r);
}

static void test_10_stats_match_samples(void **state)
{
    (void)state;
    meas_opts o = quick_opts();
    o.min_reps = 50;
    call_ctx c = {0};
    meas_result r;
    run_calls(&o, &c, &r);
    meas_stats s;
    assert_int_equal(stats_compute(r.samples_s, r.n, &s), 0);
    assert_int_equal(r.stats.n, r.n);
    assert_true(r.stats.median == s.median && r.stats.mean == s.mean);
    assert_true(r.stats.stddev == s.stddev && r.stats.mad == s.mad);
    assert_true(r.stats.min == s.min && r.stats.max == s.max);
    assert_true(r.stats.p05 == s.p05 && r.stats.p95 == s.p95);
    assert_true(r.stats.ci_lo == s.ci_lo && r.stats.ci_hi == s.ci_hi);
    assert_true(r.stats.cv == s.cv);
    assert_true(r.wall_s >= sum_samples(&r));
    meas_result_free(&r);
    assert_null(r.samples_s);
    assert_int_equal(r.n, 0);
}

static void test_11_samples_in_order(void **state)
{
    (void)state;
    meas_opts o = quick_opts();
    o.min_reps = o.max_reps = 4;
    call_ctx c = {.sleep_us = 1000, .sleep_grows = 1}; /* 1, 4, 16, 64 ms */
    meas_result r;
    run_calls(&o, &c, &r);
    assert_int_equal(r.n, 4);
    for (int i = 1; i < r.n; i++)
        assert_true(r.samples_s[i] > r.samples_s[i - 1]);
    assert_true(r.samples_s[3] >= 0.064);
    meas_result_free(&r);
}

static void test_12_counters_verdicts(void **state)
{
    (void)state;
    meas_opts o = quick_opts();
    o.min_reps = 20;
    o.counters = 1;
    meas_result r;
    run_touch(&o, &r);
    for (int i = 0; i < CTR_COUNT; i++) {
        const ctr_value *v = &r.counters[i];
        assert_non_null(v->name);
        assert_non_null(v->unit);
        assert_true(v->supported == 0 || v->supported == 1);
        if (!v->supported)
            assert_true(v->reason[0] != '\0'); /* a missing counter always says why */
        else
            assert_true(v->per_rep >= 0);
    }
    /* software counters exist wherever perf_event_open is allowed */
    assert_string_equal(r.counters[CTR_TASK_CLOCK].name, "task-clock");
    assert_string_equal(r.counters[CTR_TASK_CLOCK].unit, "ns");
    assert_int_equal(r.counters[CTR_TASK_CLOCK].supported, 1);
    assert_true(r.counters[CTR_TASK_CLOCK].per_rep > 0);
    assert_string_equal(r.counters[CTR_PAGE_FAULTS].name, "page-faults");
    assert_int_equal(r.counters[CTR_PAGE_FAULTS].supported, 1);
    assert_string_equal(r.counters[CTR_CYCLES].name, "cycles");
    assert_string_equal(r.counters[CTR_INSTRUCTIONS].name, "instructions");
    meas_result_free(&r);
}

static void test_13_counters_not_requested(void **state)
{
    (void)state;
    meas_opts o = quick_opts();
    o.counters = 0;
    call_ctx c = {0};
    meas_result r;
    run_calls(&o, &c, &r);
    for (int i = 0; i < CTR_COUNT; i++) {
        assert_non_null(r.counters[i].name);
        assert_int_equal(r.counters[i].supported, 0);
        assert_string_equal(r.counters[i].reason, "not requested");
        for (int j = 0; j < i; j++)
            assert_string_not_equal(r.counters[i].name, r.counters[j].name);
    }
    meas_result_free(&r);
}

/* inherit=1: a worker thread the closure creates is counted; the main thread
 * alone only waits in pthread_join and would show well under 20 ms. */
static void test_14_counters_include_spawned_threads(void **state)
{
    (void)state;
    meas_opts o = quick_opts();
    o.min_reps = o.max_reps = 3;
    o.counters = 1;
    meas_result r;
    cb_err err;
    assert_int_equal(meas_run(&o, spawn_fn, NULL, &r, &err), 0);
    const ctr_value *tc = &r.counters[CTR_TASK_CLOCK];
    assert_int_equal(tc->supported, 1);
    assert_true(tc->per_rep >= 15e6); /* each worker burns 20 ms of its own CPU time */
    meas_result_free(&r);
}

static void test_15_overhead(void **state)
{
    (void)state;
    double ov = meas_overhead_s();
    assert_true(ov > 0);
    assert_true(ov < 10e-6); /* sanity bound, not a performance target */
    assert_true(meas_overhead_s() == ov); /* calibrated once per process */
    meas_opts o = quick_opts();
    call_ctx c = {0};
    meas_result r;
    run_calls(&o, &c, &r);
    assert_true(r.overhead_s == ov);
    meas_result_free(&r);
}

static void test_16_flush_cache(void **state)
{
    (void)state;
    size_t fb = meas_flush_bytes();
    assert_true(fb >= ((size_t)1 << 20) && fb <= ((size_t)1 << 30));
    meas_opts o = quick_opts();
    o.warmups = 1;
    o.min_reps = o.max_reps = 5;
    o.flush_cache = 1;
    o.counters = 1;
    meas_result r;
    run_touch(&o, &r);
    assert_int_equal(r.n, 5);
    assert_int_equal(r.counters[CTR_TASK_CLOCK].supported, 1);
    assert_true(r.wall_s >= sum_samples(&r));
    meas_result_free(&r);
}

static void test_17_peak_rss(void **state)
{
    (void)state;
    assert_true(meas_peak_rss_kb() > 0);
    meas_opts o = quick_opts();
    call_ctx c = {0};
    meas_result r;
    run_calls(&o, &c, &r);
    assert_true(r.peak_rss_kb > 0);
    meas_result_free(&r);
}

static void test_18_bad_options(void **state)
{
    (void)state;
    meas_opts good = quick_opts();
    call_ctx c = {0};
    meas_result r;
    cb_err err;
    struct {
        const char *field;
        meas_opts o;
    } bad[8];
    for (int i = 0; i < 8; i++)
        bad[i].o = good;
    bad[0].field = "warmups", bad[0].o.warmups = -1;
    bad[1].field = "min_reps", bad[1].o.min_reps = 0;
    bad[2].field = "max_reps", bad[2].o.max_reps = 0;
    bad[3].field = "max_reps", bad[3].o.max_reps = 2000000000;
    bad[4].field = "max_time_s", bad[4].o.max_time_s = 0;
    bad[5].field = "max_time_s", bad[5].o.max_time_s = NAN;
    bad[6].field = "min_time_s", bad[6].o.min_time_s = -1;
    bad[7].field = "min_time_s", bad[7].o.min_time_s = 60; /* above max_time_s */
    for (int i = 0; i < 8; i++)
        check_refused(&bad[i].o, &c, bad[i].field);
    assert_int_equal(c.calls, 0); /* bad options never run the closure */
    assert_int_equal(meas_run(&good, NULL, &c, &r, &err), -1);
    assert_int_equal(meas_run(NULL, call_fn, &c, &r, &err), -1);
    assert_int_equal(meas_run(&good, call_fn, &c, NULL, &err), -1);
}

static void test_19_result_free_tolerant(void **state)
{
    (void)state;
    meas_result_free(NULL);
    meas_result r;
    memset(&r, 0, sizeof r);
    meas_result_free(&r);
    assert_null(r.samples_s);
}

/* No PMU here, so multiplexing cannot be provoked: the verdict is checked on
 * made-up readings instead. */
static void test_20_counter_verdict_from_reading(void **state)
{
    (void)state;
    ctr_value v = {.name = "cycles", .unit = "count", .supported = 1};
    ctr_reading full = {.value = 1000, .time_enabled = 500, .time_running = 500};
    ctr_verdict(&full, 10, &v);
    assert_int_equal(v.supported, 1);
    assert_true(v.per_rep == 100);

    ctr_reading half = {.value = 1000, .time_enabled = 800, .time_running = 400};
    ctr_verdict(&half, 10, &v); /* multiplexed: counted half the time, scaled x2 */
    assert_int_equal(v.supported, 1);
    assert_true(v.per_rep == 200);

    ctr_reading never = {.value = 0, .time_enabled = 800, .time_running = 0};
    ctr_verdict(&never, 10, &v);
    assert_int_equal(v.supported, 0);
    assert_string_equal(v.reason, "not scheduled");
    assert_true(v.per_rep == 0);
}

static void test_21_counter_set_lifecycle(void **state)
{
    (void)state;
    ctr_set cs;
    ctr_init(&cs);
    ctr_close(&cs); /* closing a set that never opened touches no descriptor */
    ctr_value vals[CTR_COUNT];
    ctr_open(&cs, NULL, 0, vals);
    cycle_counters(&cs, vals);
    assert_int_equal(cs.n_threads, 1);
    for (int i = 0; i < CTR_COUNT; i++)
        assert_true(vals[i].supported ? cs.fd[i][0] >= 0 : vals[i].reason[0] != '\0');
    ctr_close(&cs);
    for (int i = 0; i < CTR_COUNT; i++)
        assert_int_equal(cs.fd[i][0], -1);
    ctr_close(&cs); /* twice is harmless */
}

/* ---- threads that exist before the measurement (a pool's workers) ---------------- */

static int self_tid(void)
{
    return (int)syscall(SYS_gettid);
}

/* A live pool and its worker tids; the test skips when the machine has fewer
 * than min_workers PUs. */
typedef struct live_pool {
    plat_topo *topo;
    pool *p;
    int tids[POOL_MAX_WORKERS];
    int n_tids;
} live_pool;

static void live_pool_open(live_pool *lp, int min_workers)
{
    cb_err err = {{0}};
    memset(lp, 0, sizeof *lp);
    assert_int_equal(plat_topo_open(NULL, &lp->topo, &err), 0);
    assert_int_equal(pool_create(lp->topo, &lp->p, &err), 0);
    if (pool_size(lp->p) < min_workers || !pool_has_threads(lp->p)) {
        pool_free(lp->p);
        plat_topo_free(lp->topo);
        skip();
    }
    lp->n_tids = pool_thread_ids(lp->p, lp->tids, POOL_MAX_WORKERS);
    assert_int_equal(lp->n_tids, pool_size(lp->p));
}

static void live_pool_close(live_pool *lp)
{
    pool_release_caller(); /* pool_run bound this thread to a PU */
    pool_free(lp->p);
    plat_topo_free(lp->topo);
}

/* A closure that has every worker of a partition burn `ns` of its own CPU. */
typedef struct spin_ctx {
    pool *p;
    pool_part part;
    int64_t ns;
} spin_ctx;

static void spin_share(void *ctx, int worker, int n_workers)
{
    (void)worker;
    (void)n_workers;
    burn_cpu_ns(((const spin_ctx *)ctx)->ns);
}

static int spin_fn(void *ctx, cb_err *err)
{
    spin_ctx *c = ctx;
    return pool_run(c->p, &c->part, spin_share, c, err);
}

/* task-clock per repetition of a 2 ms spin on the first n_workers of the pool,
 * counting the pool's threads or not. */
static double pool_task_clock(live_pool *lp, int n_workers, int with_tids)
{
    cb_err err = {{0}};
    spin_ctx c = {.p = lp->p, .ns = 2 * 1000000};
    assert_int_equal(pool_part_first(lp->p, n_workers, &c.part, &err), 0);
    meas_opts o = quick_opts();
    o.warmups = 1;
    o.min_reps = o.max_reps = 20;
    o.counters = 1;
    if (with_tids) {
        o.extra_tids = lp->tids;
        o.n_extra_tids = lp->n_tids;
    }
    meas_result r;
    assert_int_equal(meas_run(&o, spin_fn, &c, &r, &err), 0);
    const ctr_value *tc = &r.counters[CTR_TASK_CLOCK];
    assert_int_equal(tc->supported, 1);
    double v = tc->per_rep;
    meas_result_free(&r);
    return v;
}

static void test_22_extra_tids_options(void **state)
{
    (void)state;
    meas_opts o;
    memset(&o, 0x5a, sizeof o);
    meas_opts_default(&o);
    assert_null(o.extra_tids);
    assert_int_equal(o.n_extra_tids, 0);
    o = quick_opts();
    call_ctx c = {0};
    o.n_extra_tids = -1;
    check_refused(&o, &c, "extra_tids");
    o.n_extra_tids = 2; /* and no list */
    check_refused(&o, &c, "extra_tids");
    assert_int_equal(c.calls, 0);
}

/* Regression: a pool's workers exist before the measurement, so perf
 * inheritance never reached them and a 2-worker run counted as 1 worker's
 * work (task-clock, page-faults, context switches, hardware counters).  The
 * 1-worker baseline counts the pool too, so it holds whether pool_run's
 * caller or a worker thread runs share 0. */
static void test_23_pool_workers_counted_with_extra_tids(void **state)
{
    (void)state;
    live_pool lp;
    live_pool_open(&lp, 2);
    double one = pool_task_clock(&lp, 1, 1);
    double two = pool_task_clock(&lp, 2, 1);
    double two_uncounted = pool_task_clock(&lp, 2, 0);
    print_message("task-clock per rep: 1 worker %.3f ms; 2 workers %.3f ms (x%.2f); "
                  "2 workers without extra_tids %.3f ms (x%.2f)\n",
                  one * 1e-6, two * 1e-6, two / one, two_uncounted * 1e-6, two_uncounted / one);
    assert_true(one > 1e6); /* each share burns 2 ms of CPU */
    assert_true(two / one > 1.5);
    assert_true(two_uncounted / one < 1.5); /* what extra_tids fixes */
    live_pool_close(&lp);
}

static void test_24_bogus_tid_is_a_verdict(void **state)
{
    (void)state;
    const int bogus[] = {999999999};
    meas_opts o = quick_opts();
    o.min_reps = 3;
    o.counters = 1;
    o.extra_tids = bogus;
    o.n_extra_tids = 1;
    call_ctx c = {0};
    meas_result r;
    run_calls(&o, &c, &r); /* the timing still stands */
    assert_int_equal(r.n, 3);
    assert_counters_refused(&r, "999999999");
    meas_result_free(&r);
}

static void test_25_too_many_threads_is_a_verdict(void **state)
{
    (void)state;
    int tids[MEAS_MAX_EXTRA_TIDS + 1];
    for (int i = 0; i <= MEAS_MAX_EXTRA_TIDS; i++)
        tids[i] = self_tid();
    meas_opts o = quick_opts();
    o.counters = 1;
    o.extra_tids = tids;
    o.n_extra_tids = MEAS_MAX_EXTRA_TIDS + 1;
    call_ctx c = {0};
    meas_result r;
    run_calls(&o, &c, &r);
    assert_counters_refused(&r, "too many threads");
    meas_result_free(&r);
    o.n_extra_tids = MEAS_MAX_EXTRA_TIDS; /* at the limit: counted (all repeats of self) */
    run_calls(&o, &c, &r);
    assert_int_equal(r.counters[CTR_TASK_CLOCK].supported, 1);
    meas_result_free(&r);
}

static void test_26_counter_set_on_extra_threads(void **state)
{
    (void)state;
    live_pool lp;
    live_pool_open(&lp, 1);
    int w = lp.tids[0];
    int tids[] = {self_tid(), w, w, self_tid()}; /* the caller and repeats are skipped */
    ctr_set cs;
    ctr_init(&cs);
    ctr_value vals[CTR_COUNT];
    ctr_open(&cs, tids, 4, vals);
    assert_int_equal(cs.n_threads, 2);
    assert_int_equal(cs.tid[1], w);
    cycle_counters(&cs, vals);
    assert_int_equal(vals[CTR_TASK_CLOCK].supported, 1);
    for (int i = 0; i < CTR_COUNT; i++) /* open on every thread, or on none */
        for (int t = 0; t < cs.n_threads; t++)
            assert_int_equal(cs.fd[i][t] >= 0, cs.fd[i][0] >= 0);
    ctr_close(&cs);
    for (int i = 0; i < CTR_COUNT; i++)
        assert_true(cs.fd[i][0] == -1 && cs.fd[i][1] == -1);
    live_pool_close(&lp);
}

/* Made-up readings: each thread is scaled on its own; a thread that never ran
 * (time_enabled 0, what a sleeping worker reads) adds nothing. */
static void test_27_counter_verdict_over_threads(void **state)
{
    (void)state;
    const int tid[] = {0, 11, 12};
    ctr_value v = {.name = "cycles", .unit = "count", .supported = 1};
    ctr_reading r[3] = {
        {.value = 1000, .time_enabled = 500, .time_running = 500},
        {.value = 1000, .time_enabled = 800, .time_running = 400}, /* multiplexed: x2 */
        {.value = 0, .time_enabled = 0, .time_running = 0},        /* asleep throughout */
    };
    ctr_verdict_threads(r, tid, 3, 10, &v);
    assert_int_equal(v.supported, 1);
    assert_true(v.per_rep == 300);

    r[2].time_enabled = 700; /* ran, but the counter never did */
    ctr_verdict_threads(r, tid, 3, 10, &v);
    assert_int_equal(v.supported, 0);
    assert_string_equal(v.reason, "not scheduled on tid 12");

    v.supported = 1;
    r[0].time_enabled = r[0].time_running = 0; /* the calling thread is judged as before */
    ctr_verdict_threads(r, tid, 1, 10, &v);
    assert_int_equal(v.supported, 0);
    assert_string_equal(v.reason, "not scheduled");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_01_defaults),
        cmocka_unit_test(test_02_counts_warmups_and_reps),
        cmocka_unit_test(test_03_min_time_respected),
        cmocka_unit_test(test_04_max_reps_caps),
        cmocka_unit_test(test_05_max_time_caps_slow_closure),
        cmocka_unit_test(test_06_max_time_stops_warmups),
        cmocka_unit_test(test_07_closure_error_in_loop),
        cmocka_unit_test(test_08_closure_error_in_warmup),
        cmocka_unit_test(test_09_silent_failure_gets_message),
        cmocka_unit_test(test_10_stats_match_samples),
        cmocka_unit_test(test_11_samples_in_order),
        cmocka_unit_test(test_12_counters_verdicts),
        cmocka_unit_test(test_13_counters_not_requested),
        cmocka_unit_test(test_14_counters_include_spawned_threads),
        cmocka_unit_test(test_15_overhead),
        cmocka_unit_test(test_16_flush_cache),
        cmocka_unit_test(test_17_peak_rss),
        cmocka_unit_test(test_18_bad_options),
        cmocka_unit_test(test_19_result_free_tolerant),
        cmocka_unit_test(test_20_counter_verdict_from_reading),
        cmocka_unit_test(test_21_counter_set_lifecycle),
        cmocka_unit_test(test_22_extra_tids_options),
        cmocka_unit_test(test_23_pool_workers_counted_with_extra_tids),
        cmocka_unit_test(test_24_bogus_tid_is_a_verdict),
        cmocka_unit_test(test_25_too_many_threads_is_a_verdict),
        cmocka_unit_test(test_26_counter_set_on_extra_threads),
        cmocka_unit_test(test_27_counter_verdict_over_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
