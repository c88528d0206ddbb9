/* tests/test_pool.c — the hwloc-bound thread pool and its partitions (platforms/pool.h).
 *
 * Checks where workers run (sched_getcpu inside the partition's cpuset, or the
 * binding refusal reported), that a run calls fn once per worker with the right
 * indices, that many back-to-back runs lose no wake-up, partition errors,
 * concurrent runs on disjoint partitions, refusal (not deadlock) of overlapping
 * ones, partitions by kind on the live machine and on XML fixtures, and the
 * workers' kernel thread ids (for counting them in a measurement). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "platforms/pool.h"
#include "platforms/topo.h"
#include "tests/support/live_pool.h"

#define FIXTURE_DIR "tests/fixtures/topo/"

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- what a run records ---------------------------------------------------------------- */

typedef struct record {
    atomic_int calls[POOL_MAX_WORKERS]; /* per worker index */
    int cpu[POOL_MAX_WORKERS];          /* sched_getcpu() seen by each worker index */
    atomic_int bad_n;                   /* calls whose n_workers differed from expected */
    int expect_n;
} record;

static void record_fn(void *ctx, int worker, int n_workers)
{
    record *r = ctx;
    atomic_fetch_add(&r->calls[worker], 1);
    r->cpu[worker] = sched_getcpu();
    if (n_workers != r->expect_n)
        atomic_fetch_add(&r->bad_n, 1);
}

static void record_reset(record *r, int n)
{
    memset(r, 0, sizeof *r);
    r->expect_n = n;
}

/* Runs record_fn on part and checks each worker ran once on one of its PUs,
 * or that its binding refusal is reported. */
static void check_part_placement(pool *p, const pool_part *part)
{
    static record r;
    cb_err err = {{0}};
    record_reset(&r, part->n);
    assert_int_equal(pool_run(p, part, record_fn, &r, &err), 0);
    assert_int_equal(atomic_load(&r.bad_n), 0);
    for (int i = 0; i < part->n; i++) {
        assert_int_equal(atomic_load(&r.calls[i]), 1);
        const pool_worker_info *in = pool_worker(p, part->worker[i]);
        assert_non_null(in);
        if (in->bound)
            assert_int_equal(r.cpu[i], in->os_index);
        else
            assert_true(strlen(in->reason) > 0);
    }
}

/* ---- tests ------------------------------------------------------------------------------- */

static void test_01_create_live(void **state)
{
    tsup_live *l = *state;
    hwloc_topology_t hw = plat_topo_hwloc(l->topo);
    assert_int_equal(pool_size(l->p), hwloc_get_nbobjs_by_type(hw, HWLOC_OBJ_PU));
    assert_int_equal(pool_has_threads(l->p), 1);
    assert_ptr_equal(pool_topo(l->p), l->topo);
    char buf[512];
    size_t len = pool_binding_report(l->p, buf, sizeof buf);
    assert_int_equal(len, strlen(buf));
    assert_non_null(strstr(buf, "workers bound"));
    for (int i = 0; i < pool_size(l->p); i++) {
        const pool_worker_info *in = pool_worker(l->p, i);
        assert_true(in->bound || strlen(in->reason) > 0);
        assert_true(in->bound ? in->reason[0] == '\0' : strstr(buf, in->reason) != NULL);
    }
    assert_null(pool_worker(l->p, -1));
    assert_null(pool_worker(l->p, pool_size(l->p)));
    /* A tiny buffer is truncated but terminated. */
    char small[4];
    assert_int_equal(pool_binding_report(l->p, small, sizeof small), len);
    assert_int_equal(strlen(small), 3);
}

static void test_02_workers_run_on_their_pus(void **state)
{
    tsup_live *l = *state;
    pool_part part;
    pool_part_all(l->p, &part);
    check_part_placement(l->p, &part);
    for (int n = 1; n <= pool_size(l->p); n++) {
        cb_err err = {{0}};
        assert_int_equal(pool_part_first(l->p, n, &part, &err), 0);
        check_part_placement(l->p, &part);
    }
    /* The cpuset of a partition is the union of its PUs. */
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    pool_part_all(l->p, &part);
    pool_part_cpuset(l->p, &part, set);
    assert_int_equal(hwloc_bitmap_weight(set), pool_size(l->p));
    for (int i = 0; i < part.n; i++)
        assert_true(hwloc_bitmap_isset(set, (unsigned)pool_worker(l->p, part.worker[i])->os_index));
    hwloc_bitmap_free(set);
}

static void test_03_run_once_per_worker(void **state)
{
    tsup_live *l = *state;
    static record r;
    for (int n = 1; n <= pool_size(l->p); n++) {
        pool_part part;
        cb_err err = {{0}};
        assert_int_equal(pool_part_first(l->p, n, &part, &err), 0);
        assert_int_equal(part.n, n);
        for (int rep = 0; rep < 5; rep++) {
            record_reset(&r, n);
            assert_int_equal(pool_run(l->p, &part, record_fn, &r, &err), 0);
            assert_int_equal(atomic_load(&r.bad_n), 0);
            for (int i = 0; i < POOL_MAX_WORKERS; i++)
                assert_int_equal(atomic_load(&r.calls[i]), i < n ? 1 : 0);
        }
    }
}

typedef struct counter {
    atomic_long sum;  /* sum of worker indices + 1 over all calls */
    atomic_long calls;
} counter;

static void count_fn(void *ctx, int worker, int n_workers)
{
    counter *c = ctx;
    atomic_fetch_add(&c->sum, worker + 1);
    atomic_fetch_add(&c->calls, 1);
}

static void test_04_many_back_to_back_runs(void **state)
{
    tsup_live *l = *state;
    pool_part part;
    pool_part_all(l->p, &part);
    counter c = {0};
    cb_err err = {{0}};
    const long runs = 10000, n = part.n;
    for (long i = 0; i < runs; i++)
        assert_int_equal(pool_run(l->p, &part, count_fn, &c, &err), 0);
    assert_int_equal(atomic_load(&c.calls), runs * n);
    assert_int_equal(atomic_load(&c.sum), runs * n * (n + 1) / 2);
}

static void test_05_sleeping_workers_wake(void **state)
{
    /* Workers and caller stop spinning and sleep; runs must still complete. */
    tsup_live *l = *state;
    pool_part part;
    pool_part_all(l->p, &part);
    counter c = {0};
    cb_err err = {{0}};
    for (int i = 0; i < 5; i++) {
        sleep_ms(5 + 10 * (i % 2));
        assert_int_equal(pool_run(l->p, &part, count_fn, &c, &err), 0);
    }
    assert_int_equal(atomic_load(&c.calls), 5L * part.n);
}

static void slow_fn(void *ctx, int worker, int n_workers)
{
    sleep_ms(3);
    count_fn(ctx, worker, n_workers);
}

static void test_06_caller_sleeps_on_long_jobs(void **state)
{
    tsup_live *l = *state;
    pool_part part;
    pool_part_all(l->p, &part);
    counter c = {0};
    cb_err err = {{0}};
    for (int i = 0; i < 10; i++)
        assert_int_equal(pool_run(l->p, &part, slow_fn, &c, &err), 0);
    assert_int_equal(atomic_load(&c.calls), 10L * part.n);
}

static void test_07_partition_errors(void **state)
{
    tsup_live *l = *state;
    pool_part part;
    cb_err err = {{0}};
    int n = pool_size(l->p);
    assert_int_equal(pool_part_first(l->p, 0, &part, &err), -1);
    assert_non_null(strstr(err.msg, "first 0"));
    assert_int_equal(pool_part_first(l->p, n + 1, &part, &err), -1);
    assert_int_equal(pool_part_kind(l->p, -1, &part, &err), -1);
    assert_non_null(strstr(err.msg, "cpukind -1"));
    assert_int_equal(pool_part_kind(l->p, pool_n_kinds(l->p), &part, &err), -1);

    static const char *const malformed[] = {"", "a", "0,", ",0", "0-", "-1", "1-0", "0,,1",
                                            "0;1", " 0", "0 ", "0x1", "99999999999"};
    for (size_t i = 0; i < sizeof malformed / sizeof *malformed; i++) {
        err.msg[0] = '\0';
        assert_int_equal(pool_part_cpulist(l->p, malformed[i], &part, &err), -1);
        assert_non_null(strstr(err.msg, "cpulist"));
    }
    assert_int_equal(pool_part_cpulist(l->p, NULL, &part, &err), -1);
    /* A PU the machine does not have is named. */
    char list[32], want[32];
    snprintf(list, sizeof list, "0,%d", 4000);
    assert_int_equal(pool_part_cpulist(l->p, list, &part, &err), -1);
    snprintf(want, sizeof want, "PU %d is not in", 4000);
    assert_non_null(strstr(err.msg, want));
    assert_int_equal(pool_part_cpulist(l->p, "0,0", &part, &err), -1);
    assert_non_null(strstr(err.msg, "PU 0 is listed twice"));

    /* A hand-made partition that is not the pool's is refused by pool_run. */
    counter c = {0};
    part.n = 1;
    part.worker[0] = n;
    assert_int_equal(pool_run(l->p, &part, count_fn, &c, &err), -1);
    part.n = 0;
    assert_int_equal(pool_run(l->p, &part, count_fn, &c, &err), -1);
    if (n >= 2) {
        part.n = 2;
        part.worker[0] = part.worker[1] = 0;
        assert_int_equal(pool_run(l->p, &part, count_fn, &c, &err), -1);
        assert_non_null(strstr(err.msg, "twice"));
    }
    assert_int_equal(atomic_load(&c.calls), 0);
}

static void test_08_cpulist_partitions(void **state)
{
    tsup_live *l = *state;
    pool_part part;
    cb_err err = {{0}};
    int os0 = pool_worker(l->p, 0)->os_index;
    char list[64], str[64];
    snprintf(list, sizeof list, "%d", os0);
    assert_int_equal(pool_part_cpulist(l->p, list, &part, &err), 0);
    assert_int_equal(part.n, 1);
    assert_int_equal(part.worker[0], 0);
    pool_part_cpulist_str(l->p, &part, str, sizeof str);
    assert_string_equal(str, list);
    check_part_placement(l->p, &part);
    if (pool_size(l->p) >= 2) {
        int os1 = pool_worker(l->p, 1)->os_index;
        /* Listed order is worker order. */
        snprintf(list, sizeof list, "%d,%d", os1, os0);
        assert_int_equal(pool_part_cpulist(l->p, list, &part, &err), 0);
        assert_int_equal(part.n, 2);
        assert_int_equal(part.worker[0], 1);
        assert_int_equal(part.worker[1], 0);
        check_part_placement(l->p, &part);
    }
    /* The whole machine as a range. */
    pool_part all;
    pool_part_all(l->p, &all);
    pool_part_cpulist_str(l->p, &all, str, sizeof str);
    assert_int_equal(pool_part_cpulist(l->p, str, &part, &err), 0);
    assert_int_equal(part.n, pool_size(l->p));
}

static void test_09_first_prefers_distinct_cores(void **state)
{
    tsup_live *l = *state;
    hwloc_topology_t hw = plat_topo_hwloc(l->topo);
    int n_cores = hwloc_get_nbobjs_by_type(hw, HWLOC_OBJ_CORE);
    pool_part part;
    pool_part_all(l->p, &part);
    for (int i = 0; i < part.n && i < n_cores; i++) {
        const pool_worker_info *a = pool_worker(l->p, part.worker[i]);
        assert_int_equal(a->smt_rank, 0);
        for (int j = 0; j < i; j++)
            assert_int_not_equal(pool_worker(l->p, part.worker[j])->core, a->core);
    }
}

typedef struct runner_arg {
    pool *p;
    pool_part part;
    counter c;
    int runs;
    int failures;
} runner_arg;

static void *runner_main(void *arg)
{
    runner_arg *a = arg;
    cb_err err = {{0}};
    for (int i = 0; i < a->runs; i++)
        if (pool_run(a->p, &a->part, count_fn, &a->c, &err) != 0)
            a->failures++;
    return NULL;
}

static void test_10_disjoint_partitions_concurrently(void **state)
{
    tsup_live *l = *state;
    if (pool_size(l->p) < 2)
        skip();
    static runner_arg a[2];
    pthread_t t[2];
    cb_err err = {{0}};
    pool_part all;
    pool_part_all(l->p, &all);
    for (int i = 0; i < 2; i++) {
        memset(&a[i], 0, sizeof a[i]);
        a[i].p = l->p;
        a[i].runs = 3000;
        char list[16];
        snprintf(list, sizeof list, "%d", pool_worker(l->p, all.worker[i])->os_index);
        assert_int_equal(pool_part_cpulist(l->p, list, &a[i].part, &err), 0);
    }
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, runner_main, &a[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(a[i].failures, 0);
        assert_int_equal(atomic_load(&a[i].c.calls), a[i].runs);
        check_part_placement(l->p, &a[i].part);
    }
}

typedef struct gate {
    atomic_int open;
    atomic_int entered;
} gate;

static void gate_fn(void *ctx, int worker, int n_workers)
{
    gate *g = ctx;
    atomic_fetch_add(&g->entered, 1);
    while (!atomic_load(&g->open))
        sched_yield();
}

static void test_11_overlap_is_refused_and_launch_waits(void **state)
{
    tsup_live *l = *state;
    cb_err err = {{0}};
    pool_part first, all;
    assert_int_equal(pool_part_first(l->p, 1, &first, &err), 0);
    pool_part_all(l->p, &all);
    gate g = {0};
    pool_job *job = NULL;
    assert_int_equal(pool_launch(l->p, &first, gate_fn, &g, &job, &err), 0);
    assert_non_null(job);
    while (atomic_load(&g.entered) < 1)
        sched_yield();
    /* Overlapping: refused at once, naming the busy PU; nothing of it runs. */
    counter c = {0};
    char want[64];
    snprintf(want, sizeof want, "PU %d is busy", pool_worker(l->p, first.worker[0])->os_index);
    assert_int_equal(pool_run(l->p, &all, count_fn, &c, &err), -1);
    assert_non_null(strstr(err.msg, want));
    pool_job *job2 = NULL;
    assert_int_equal(pool_launch(l->p, &first, count_fn, &c, &job2, &err), -1);
    assert_null(job2);
    /* Disjoint: runs while the first job is still in flight. */
    if (pool_size(l->p) >= 2) {
        pool_part rest = all;
        rest.n = all.n - 1;
        memmove(rest.worker, all.worker + 1, (size_t)rest.n * sizeof(int));
        assert_int_equal(pool_run(l->p, &rest, count_fn, &c, &err), 0);
        assert_int_equal(atomic_load(&c.calls), rest.n);
    }
    atomic_store(&g.open, 1);
    pool_wait(job);
    /* The workers are free again. */
    assert_int_equal(pool_run(l->p, &all, count_fn, &c, &err), 0);
    pool_wait(NULL);
}

typedef struct nest {
    pool *p;
    pool_part inner;
    counter c;
    int inner_rc;
    int cpu_before, cpu_after;
} nest;

static void nest_fn(void *ctx, int worker, int n_workers)
{
    nest *x = ctx;
    cb_err err = {{0}};
    x->cpu_before = sched_getcpu();
    x->inner_rc = pool_run(x->p, &x->inner, count_fn, &x->c, &err);
    x->cpu_after = sched_getcpu();
}

static void test_12_nested_runs(void **state)
{
    tsup_live *l = *state;
    cb_err err = {{0}};
    nest x = {.p = l->p};
    pool_part outer;
    assert_int_equal(pool_part_first(l->p, 1, &outer, &err), 0);
    /* Overlapping nested run (the worker itself): an error, not a deadlock. */
    x.inner = outer;
    assert_int_equal(pool_run(l->p, &outer, nest_fn, &x, &err), 0);
    assert_int_equal(x.inner_rc, -1);
    if (pool_size(l->p) >= 2) {
        pool_part all;
        pool_part_all(l->p, &all);
        x.inner.n = 1;
        x.inner.worker[0] = all.worker[1];
        assert_int_equal(pool_run(l->p, &outer, nest_fn, &x, &err), 0);
        assert_int_equal(x.inner_rc, 0);
        assert_int_equal(atomic_load(&x.c.calls), 1);
        /* Regression: the caller running share 0 was re-bound to the inner
         * partition's PU by the nested run, leaving the outer share's PU. */
        const pool_worker_info *in = pool_worker(l->p, outer.worker[0]);
        if (in->bound) {
            assert_int_equal(x.cpu_before, in->os_index);
            assert_int_equal(x.cpu_after, in->os_index);
        }
    }
}

static void test_13_kind_partition_live(void **state)
{
    tsup_live *l = *state;
    cb_err err = {{0}};
    plat_info info;
    assert_int_equal(plat_describe(l->topo, &info, &err), 0);
    assert_int_equal(pool_n_kinds(l->p), info.n_kinds);
    int total = 0;
    for (int k = 0; k < pool_n_kinds(l->p); k++) {
        pool_part part;
        assert_int_equal(pool_part_kind(l->p, k, &part, &err), 0);
        assert_int_equal(part.n, info.kinds[k].n_pus);
        char str[128];
        pool_part_cpulist_str(l->p, &part, str, sizeof str);
        assert_string_equal(str, info.kinds[k].cpulist);
        check_part_placement(l->p, &part);
        total += part.n;
    }
    assert_int_equal(total, pool_size(l->p));
}

/* Opens an XML fixture as a bookkeeping-only pool; skips when it is absent. */
static void fixture_pool(const char *name, plat_topo **topo, pool **p)
{
    char path[256];
    cb_err err = {{0}};
    snprintf(path, sizeof path, FIXTURE_DIR "%s", name);
    FILE *f = fopen(path, "r");
    if (!f)
        skip();
    fclose(f);
    assert_int_equal(plat_topo_open(path, topo, &err), 0);
    assert_int_equal(plat_topo_is_live(*topo), 0);
    assert_int_equal(pool_create(*topo, p, &err), 0);
    assert_int_equal(pool_has_threads(*p), 0);
}

static void test_14_kind_partition_big_little_fixture(void **state)
{
    plat_topo *topo = NULL;
    pool *p = NULL;
    fixture_pool("arm_2big_4little.xml", &topo, &p);
    cb_err err = {{0}};
    assert_int_equal(pool_size(p), 6);
    assert_int_equal(pool_n_kinds(p), 2);
    pool_part part;
    char str[64];
    assert_int_equal(pool_part_kind(p, 0, &part, &err), 0); /* little cores first */
    assert_int_equal(part.n, 4);
    pool_part_cpulist_str(p, &part, str, sizeof str);
    assert_string_equal(str, "0-3");
    assert_int_equal(pool_part_kind(p, 1, &part, &err), 0);
    assert_int_equal(part.n, 2);
    pool_part_cpulist_str(p, &part, str, sizeof str);
    assert_string_equal(str, "4-5");
    assert_int_equal(pool_part_kind(p, 2, &part, &err), -1);
    /* No threads: partitions are bookkeeping, runs are refused and reported. */
    counter c = {0};
    assert_int_equal(pool_run(p, &part, count_fn, &c, &err), -1);
    assert_non_null(strstr(err.msg, "not the live machine"));
    assert_int_equal(pool_n_bound(p), 0);
    char rep[256];
    pool_binding_report(p, rep, sizeof rep);
    assert_non_null(strstr(rep, "0/6 workers bound"));
    assert_int_equal(pool_part_cpulist(p, "4-5,0", &part, &err), 0);
    assert_int_equal(part.n, 3);
    assert_int_equal(pool_part_cpulist(p, "6", &part, &err), -1);
    assert_non_null(strstr(err.msg, "PU 6 is not in this machine (PUs 0-5)"));
    pool_free(p);
    plat_topo_free(topo);
}

static void test_15_smt_fixture_spreads_cores(void **state)
{
    /* A machine with SMT siblings: the first n_cores workers are distinct cores. */
    plat_topo *topo = NULL;
    pool *p = NULL;
    fixture_pool("x86_hybrid_pe.xml", &topo, &p);
    hwloc_topology_t hw = plat_topo_hwloc(topo);
    int n_cores = hwloc_get_nbobjs_by_type(hw, HWLOC_OBJ_CORE);
    pool_part part;
    pool_part_all(p, &part);
    assert_int_equal(part.n, pool_size(p));
    for (int i = 0; i < part.n; i++) {
        const pool_worker_info *a = pool_worker(p, part.worker[i]);
        assert_int_equal(a->smt_rank > 0, i >= n_cores);
    }
    int total = 0;
    for (int k = 0; k < pool_n_kinds(p); k++) {
        cb_err err = {{0}};
        assert_int_equal(pool_part_kind(p, k, &part, &err), 0);
        total += part.n;
    }
    assert_int_equal(total, pool_size(p));
    pool_free(p);
    plat_topo_free(topo);
}

typedef struct affinity_arg {
    pool *p;
    int n_before, n_during, n_after, cpu_during, rc;
} affinity_arg;

static int affinity_count(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    return sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : -1;
}

static void *affinity_main(void *arg)
{
    affinity_arg *a = arg;
    cb_err err = {{0}};
    pool_part part;
    counter c = {0};
    a->n_before = affinity_count();
    pool_part_first(a->p, 1, &part, &err);
    a->rc = pool_run(a->p, &part, count_fn, &c, &err);
    a->n_during = affinity_count();
    a->cpu_during = sched_getcpu();
    pool_release_caller();
    a->n_after = affinity_count();
    pool_release_caller(); /* twice is harmless */
    return NULL;
}

static void test_16_caller_binding_is_released(void **state)
{
    /* The caller of pool_run takes share 0 bound to its PU and keeps that
     * binding until pool_release_caller (run in a fresh thread). */
    tsup_live *l = *state;
    affinity_arg a = {.p = l->p};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, affinity_main, &a), 0);
    pthread_join(t, NULL);
    assert_int_equal(a.rc, 0);
    if (pool_worker(l->p, 0)->bound) {
        pool_part part;
        pool_part_first(l->p, 1, &part, NULL);
        assert_int_equal(a.n_during, 1);
        assert_int_equal(a.cpu_during, pool_worker(l->p, part.worker[0])->os_index);
    }
    assert_int_equal(a.n_after, a.n_before);
}

static void test_17_spin_setting(void **state)
{
    /* With no spinning at all, every run goes through the sleep/wake path. */
    tsup_live *l = *state;
    long before = pool_spin(l->p);
    assert_true(before > 0);
    pool_set_spin(l->p, -5);
    assert_int_equal(pool_spin(l->p), 0);
    pool_part part;
    pool_part_all(l->p, &part);
    counter c = {0};
    cb_err err = {{0}};
    for (int i = 0; i < 2000; i++)
        assert_int_equal(pool_run(l->p, &part, count_fn, &c, &err), 0);
    assert_int_equal(atomic_load(&c.calls), 2000L * part.n);
    pool_set_spin(l->p, before);
    assert_int_equal(pool_spin(l->p), before);
}

static void test_18_free_null(void **state)
{
    pool_free(NULL);
    pool_wait(NULL);
}

/* Each share records the kernel thread id it ran on. */
typedef struct tid_record {
    int tid[POOL_MAX_WORKERS]; /* per worker index within the partition */
} tid_record;

static void tid_fn(void *ctx, int worker, int n_workers)
{
    (void)n_workers;
    ((tid_record *)ctx)->tid[worker] = (int)syscall(SYS_gettid);
}

static void test_19_thread_ids(void **state)
{
    /* pool_launch never lets the caller take share 0, so every share runs on
     * its worker's thread and must see that worker's recorded tid. */
    tsup_live *l = *state;
    int n = pool_size(l->p), self = (int)syscall(SYS_gettid);
    static int tids[POOL_MAX_WORKERS];
    assert_int_equal(pool_thread_ids(l->p, tids, POOL_MAX_WORKERS), n);
    for (int i = 0; i < n; i++) {
        assert_true(tids[i] > 0);
        assert_int_not_equal(tids[i], self);
        for (int j = 0; j < i; j++)
            assert_int_not_equal(tids[i], tids[j]);
    }
    static tid_record rec;
    memset(&rec, 0, sizeof rec);
    pool_part part;
    pool_part_all(l->p, &part);
    pool_job *job = NULL;
    cb_err err = {{0}};
    assert_int_equal(pool_launch(l->p, &part, tid_fn, &rec, &job, &err), 0);
    pool_wait(job);
    for (int i = 0; i < part.n; i++)
        assert_int_equal(rec.tid[i], tids[part.worker[i]]);
    /* A small cap writes only that many; the ids do not change between calls. */
    int first = -1;
    assert_int_equal(pool_thread_ids(l->p, &first, 1), 1);
    assert_int_equal(first, tids[0]);
    assert_int_equal(pool_thread_ids(l->p, &first, 0), 0);
}

static void test_20_thread_ids_without_threads(void **state)
{
    plat_topo *topo = NULL;
    pool *p = NULL;
    fixture_pool("arm_2big_4little.xml", &topo, &p);
    int tids[8] = {0};
    assert_int_equal(pool_thread_ids(p, tids, 8), 0);
    assert_int_equal(tids[0], 0);
    pool_free(p);
    plat_topo_free(topo);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_01_create_live),
        cmocka_unit_test(test_02_workers_run_on_their_pus),
        cmocka_unit_test(test_03_run_once_per_worker),
        cmocka_unit_test(test_04_many_back_to_back_runs),
        cmocka_unit_test(test_05_sleeping_workers_wake),
        cmocka_unit_test(test_06_caller_sleeps_on_long_jobs),
        cmocka_unit_test(test_07_partition_errors),
        cmocka_unit_test(test_08_cpulist_partitions),
        cmocka_unit_test(test_09_first_prefers_distinct_cores),
        cmocka_unit_test(test_10_disjoint_partitions_concurrently),
        cmocka_unit_test(test_11_overlap_is_refused_and_launch_waits),
        cmocka_unit_test(test_12_nested_runs),
        cmocka_unit_test(test_13_kind_partition_live),
        cmocka_unit_test(test_14_kind_partition_big_little_fixture),
        cmocka_unit_test(test_15_smt_fixture_spreads_cores),
        cmocka_unit_test(test_16_caller_binding_is_released),
        cmocka_unit_test(test_17_spin_setting),
        cmocka_unit_test(test_18_free_null),
        cmocka_unit_test(test_19_thread_ids),
        cmocka_unit_test(test_20_thread_ids_without_threads),
    };
    return cmocka_run_group_tests(tests, tsup_live_setup, tsup_live_teardown);
}
