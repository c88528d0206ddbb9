/* platforms/pool.c — the thread pool bound to hwloc cpusets (see pool.h).
 *
 * Each worker has a mailbox: a job pointer and its rank, published by bumping
 * the worker's generation counter (release); the worker spins on the counter
 * for `spin` pause iterations (POOL_SPIN unless pool_set_spin), then sleeps on
 * its condition variable after raising its `sleeping` flag.  Dispatch and sleep follow the Dekker pattern
 * (both sides store then load, sequentially consistent), so a wake-up is never
 * lost: either the worker sees the new generation or the dispatcher sees it
 * sleeping and signals under the worker's mutex.
 *
 * Completion works the same way in the other direction: each worker decrements
 * the job's `remaining` count; the caller spins on it, then sleeps on the
 * pool-wide done condition after counting itself in `n_waiting`; the worker
 * that brings the count to zero broadcasts if anyone waits.  That worker never
 * touches the job after its decrement, so a job may live on the caller's stack.
 *
 * Worker invariants: `busy` is 1 from claim (all of a partition or none) until
 * release by the caller after completion; only the claimer writes the mailbox.
 *
 * Each worker thread stores its kernel thread id (gettid) before it counts
 * itself ready, so pool_thread_ids() is valid as soon as pool_create returns:
 * the measurement core counts these threads, which exist before it starts.
 *
 * pool_run's caller takes share 0 itself when it is not a worker and not
 * already inside a share: it binds itself to that worker's PU (once; the
 * binding and the affinity it replaced live in thread-local variables), so
 * that worker's own thread is never posted to and stays asleep.
 *
 * Never: no printing, no exit(), no allocation in pool_run. */
#include "platforms/pool.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

/* Default pause iterations a worker or a waiting caller spins before sleeping
 * (about 27 ns each on a Zen 5, so ~55 us), and how often the spin yields the
 * core to another runnable thread (a caller that could not take share 0
 * shares a core with a worker). */
#define POOL_SPIN 2048
#define POOL_YIELD_EVERY 64

/* Per thread: whether it is a pool worker, and the PU a pool bound it to as a
 * caller running share 0 (-1 none), with its affinity from before. */
static _Thread_local int tl_worker;
static _Thread_local int tl_in_share;   /* the caller is running a share 0 */
static _Thread_local int tl_caller_os = -1;
#ifdef __linux__
static _Thread_local int tl_saved;
static _Thread_local cpu_set_t tl_saved_set;
#endif

typedef struct pool_slot {
    _Alignas(64) atomic_uint gen; /* bumped once per job posted (and to quit) */
    atomic_int sleeping;          /* 1 while blocked (or about to) on cv */
    atomic_int busy;              /* 1 while claimed by a run */
    pool_job *job;                /* the job to run; NULL means quit */
    int rank;                     /* worker index within the job's partition */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int started;                  /* thread created (must be joined) */
    int tid;                      /* its kernel thread id, set before it counts as ready; 0 none */
    hwloc_bitmap_t cpuset;        /* the PU's cpuset (owned) */
    struct pool *owner;
    pool_worker_info info;
} pool_slot;

struct pool_job {
    pool *p;
    pool_fn fn;
    void *ctx;
    int n;                        /* workers in the partition */
    int self;                     /* 1: the caller runs share 0 */
    const int *workers;           /* (n) pool worker indices */
    atomic_int remaining;         /* workers not yet finished */
};

/* What pool_launch allocates: the job and its own copy of the worker list. */
typedef struct pool_launched {
    pool_job job;                 /* first, so the job pointer frees the whole */
    int workers[];                /* (job.n) */
} pool_launched;

struct pool {
    const plat_topo *topo;
    hwloc_topology_t hw;
    int n;                        /* workers = PUs */
    int n_kinds;
    int threads;                  /* 1 if workers are threads */
    pool_slot *w;               /* (n), 64-byte aligned */
    int spread[POOL_MAX_WORKERS]; /* workers, one per core before SMT siblings */
    pthread_mutex_t done_mu;      /* guards done_cv and start-up counting */
    pthread_cond_t done_cv;
    atomic_int n_waiting;         /* callers asleep (or about to be) on done_cv */
    atomic_long spin;             /* pause iterations before sleeping */
    int n_ready;                  /* threads that finished binding (under done_mu) */
};

static inline void pool_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#elif defined(__aarch64__) || defined(__arm__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

/* ---- worker threads ------------------------------------------------------ */

/* Binds the calling thread to w's PU, recording the outcome in w->info. */
static void worker_bind(pool_slot *w)
{
    const struct hwloc_topology_support *sup = hwloc_topology_get_support(w->owner->hw);
    if (!sup || !sup->cpubind || !sup->cpubind->set_thisthread_cpubind) {
        snprintf(w->info.reason, sizeof w->info.reason,
                 "binding threads is not supported on this system");
        return;
    }
    if (hwloc_set_cpubind(w->owner->hw, w->cpuset, HWLOC_CPUBIND_THREAD) != 0) {
        int e = errno;
        snprintf(w->info.reason, sizeof w->info.reason, "hwloc_set_cpubind(PU %d): %s",
                 w->info.os_index, strerror(e));
        return;
    }
    w->info.bound = 1;
    w->info.reason[0] = '\0';
}

/* Waits until w->gen differs from seen; returns the new generation (acquire). */
static unsigned worker_wait(pool_slot *w, unsigned seen)
{
    unsigned g;
    long spin = atomic_load_explicit(&w->owner->spin, memory_order_relaxed);
    for (long i = 1; i <= spin; i++) {
        g = atomic_load_explicit(&w->gen, memory_order_acquire);
        if (g != seen)
            return g;
        if (i % POOL_YIELD_EVERY == 0)
            sched_yield();
        else
            pool_pause();
    }
    pthread_mutex_lock(&w->mu);
    atomic_store(&w->sleeping, 1);
    while ((g = atomic_load(&w->gen)) == seen)
        pthread_cond_wait(&w->cv, &w->mu);
    atomic_store(&w->sleeping, 0);
    pthread_mutex_unlock(&w->mu);
    return g;
}

/* Marks one worker of job done; the last one wakes sleeping callers.  The job
 * is not touched after the decrement (the caller may free it at once). */
static void job_finish(pool *p, pool_job *job)
{
    if (atomic_fetch_sub(&job->remaining, 1) == 1 && atomic_load(&p->n_waiting) > 0) {
        pthread_mutex_lock(&p->done_mu);
        pthread_cond_broadcast(&p->done_cv);
        pthread_mutex_unlock(&p->done_mu);
    }
}

static void *worker_main(void *arg)
{
    pool_slot *w = arg;
    pool *p = w->owner;
    tl_worker = 1;
    w->tid = (int)syscall(SYS_gettid); /* published to pool_create by done_mu */
    worker_bind(w);
    pthread_mutex_lock(&p->done_mu);
    p->n_ready++;
    pthread_cond_broadcast(&p->done_cv);
    pthread_mutex_unlock(&p->done_mu);

    unsigned seen = 0;
    for (;;) {
        seen = worker_wait(w, seen);
        pool_job *job = w->job;
        if (!job)
            break;
        job->fn(job->ctx, w->rank, job->n);
        job_finish(p, job);
    }
    return NULL;
}

/* Publishes job (rank r) to w and wakes it if it sleeps. */
static void worker_post(pool_slot *w, pool_job *job, int r)
{
    w->job = job;
    w->rank = r;
    atomic_fetch_add(&w->gen, 1);
    if (atomic_load(&w->sleeping)) {
        pthread_mutex_lock(&w->mu);
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->mu);
    }
}

/* ---- creation ------------------------------------------------------------- */

/* Fills core, smt_rank and kind of every worker, and the spread order. */
static int pool_map(pool *p, cb_err *err)
{
    int n_cores = hwloc_get_nbobjs_by_type(p->hw, HWLOC_OBJ_CORE);
    int *per_core = calloc((size_t)(n_cores > 0 ? n_cores : 1), sizeof *per_core);
    if (!per_core)
        return cb_fail(err, "pool: out of memory");
    int max_rank = 0;
    for (int i = 0; i < p->n; i++) {
        hwloc_obj_t pu = hwloc_get_obj_by_type(p->hw, HWLOC_OBJ_PU, (unsigned)i);
        hwloc_obj_t core = hwloc_get_ancestor_obj_by_type(p->hw, HWLOC_OBJ_CORE, pu);
        pool_worker_info *in = &p->w[i].info;
        in->os_index = (int)pu->os_index;
        in->core = core ? (int)core->logical_index : -1;
        in->smt_rank = (core && (int)core->logical_index < n_cores)
                           ? per_core[core->logical_index]++ : 0;
        if (in->smt_rank > max_rank)
            max_rank = in->smt_rank;
        in->kind = -1;
    }
    free(per_core);
    int k = 0;
    for (int r = 0; r <= max_rank; r++)
        for (int i = 0; i < p->n; i++)
            if (p->w[i].info.smt_rank == r)
                p->spread[k++] = i;

    int nk = hwloc_cpukinds_get_nr(p->hw, 0);
    if (nk <= 0) {
        p->n_kinds = 1;
        for (int i = 0; i < p->n; i++)
            p->w[i].info.kind = 0;
        return 0;
    }
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    if (!set)
        return cb_fail(err, "pool: out of memory");
    p->n_kinds = nk;
    for (int kd = 0; kd < nk; kd++) { /* hwloc ranks kinds least efficient first */
        if (hwloc_cpukinds_get_info(p->hw, (unsigned)kd, set, NULL, NULL, NULL, 0) != 0)
            continue;
        for (int i = 0; i < p->n; i++)
            if (hwloc_bitmap_isset(set, (unsigned)p->w[i].info.os_index))
                p->w[i].info.kind = kd;
    }
    hwloc_bitmap_free(set);
    return 0;
}

/* Starts the worker threads and waits until each has tried to bind. */
static int pool_start(pool *p, cb_err *err)
{
    for (int i = 0; i < p->n; i++) {
        int rc = pthread_create(&p->w[i].thread, NULL, worker_main, &p->w[i]);
        if (rc != 0)
            return cb_fail(err, "pool: starting worker %d of %d: %s", i, p->n, strerror(rc));
        p->w[i].started = 1;
    }
    pthread_mutex_lock(&p->done_mu);
    while (p->n_ready < p->n)
        pthread_cond_wait(&p->done_cv, &p->done_mu);
    pthread_mutex_unlock(&p->done_mu);
    return 0;
}

int pool_create(const plat_topo *topo, pool **out, cb_err *err)
{
    *out = NULL;
    hwloc_topology_t hw = plat_topo_hwloc(topo);
    int n = hwloc_get_nbobjs_by_type(hw, HWLOC_OBJ_PU);
    if (n < 1)
        return cb_fail(err, "pool: the topology has no PU");
    if (n > POOL_MAX_WORKERS)
        return cb_fail(err, "pool: %d PUs, more than the %d supported", n, POOL_MAX_WORKERS);
    pool *p = calloc(1, sizeof *p);
    size_t wbytes = ((size_t)n * sizeof(pool_slot) + 63) / 64 * 64;
    pool_slot *w = p ? aligned_alloc(64, wbytes) : NULL;
    if (!w) {
        free(p);
        return cb_fail(err, "pool: out of memory");
    }
    memset(w, 0, wbytes);
    p->topo = topo;
    p->hw = hw;
    p->n = n;
    p->w = w;
    p->threads = plat_topo_is_live(topo);
    pthread_mutex_init(&p->done_mu, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    atomic_init(&p->n_waiting, 0);
    atomic_init(&p->spin, POOL_SPIN);
    for (int i = 0; i < n; i++) {
        hwloc_obj_t pu = hwloc_get_obj_by_type(hw, HWLOC_OBJ_PU, (unsigned)i);
        w[i].owner = p;
        atomic_init(&w[i].gen, 0);
        atomic_init(&w[i].sleeping, 0);
        atomic_init(&w[i].busy, 0);
        pthread_mutex_init(&w[i].mu, NULL);
        pthread_cond_init(&w[i].cv, NULL);
        w[i].cpuset = hwloc_bitmap_dup(pu->cpuset);
        if (!w[i].cpuset) {
            pool_free(p);
            return cb_fail(err, "pool: out of memory");
        }
        if (!p->threads)
            snprintf(w[i].info.reason, sizeof w[i].info.reason,
                     "no thread: the topology is not the live machine");
    }
    if (pool_map(p, err) != 0 || (p->threads && pool_start(p, err) != 0)) {
        pool_free(p);
        return -1;
    }
    *out = p;
    return 0;
}

void pool_free(pool *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->n; i++)
        if (p->w[i].started)
            worker_post(&p->w[i], NULL, 0);
    for (int i = 0; i < p->n; i++) {
        if (p->w[i].started)
            pthread_join(p->w[i].thread, NULL);
        pthread_mutex_destroy(&p->w[i].mu);
        pthread_cond_destroy(&p->w[i].cv);
        hwloc_bitmap_free(p->w[i].cpuset);
    }
    pthread_mutex_destroy(&p->done_mu);
    pthread_cond_destroy(&p->done_cv);
    free(p->w);
    free(p);
}

/* ---- queries ---------------------------------------------------------------- */

int pool_size(const pool *p) { return p->n; }

void pool_set_spin(pool *p, long iterations)
{
    atomic_store_explicit(&p->spin, iterations > 0 ? iterations : 0, memory_order_relaxed);
}

long pool_spin(const pool *p)
{
    return atomic_load_explicit(&p->spin, memory_order_relaxed);
}
int pool_has_threads(const pool *p) { return p->threads; }

int pool_thread_ids(const pool *p, int *tids, int cap)
{
    int n = 0;
    for (int i = 0; i < p->n && n < cap; i++)
        if (p->w[i].started)
            tids[n++] = p->w[i].tid;
    return n;
}
const plat_topo *pool_topo(const pool *p) { return p->topo; }
int pool_n_kinds(const pool *p) { return p->n_kinds; }

const pool_worker_info *pool_worker(const pool *p, int w)
{
    return (w >= 0 && w < p->n) ? &p->w[w].info : NULL;
}

int pool_n_bound(const pool *p)
{
    int b = 0;
    for (int i = 0; i < p->n; i++)
        b += p->w[i].info.bound;
    return b;
}

size_t pool_binding_report(const pool *p, char *buf, size_t cap)
{
    char line[4096];
    size_t len = (size_t)snprintf(line, sizeof line, "%d/%d workers bound", pool_n_bound(p), p->n);
    if (!p->threads)
        len += (size_t)snprintf(line + len, sizeof line - len,
                                "; no threads: the topology is not the live machine");
    for (int i = 0; p->threads && i < p->n && len < sizeof line; i++)
        if (!p->w[i].info.bound)
            len += (size_t)snprintf(line + len, sizeof line - len, "; PU %d: %s",
                                    p->w[i].info.os_index, p->w[i].info.reason);
    if (len >= sizeof line)
        len = sizeof line - 1;
    if (cap > 0)
        snprintf(buf, cap, "%s", line);
    return len;
}

/* ---- partitions ------------------------------------------------------------ */

void pool_part_all(const pool *p, pool_part *out)
{
    out->n = p->n;
    memcpy(out->worker, p->spread, (size_t)p->n * sizeof(int));
    snprintf(out->desc, sizeof out->desc, "all");
}

int pool_part_first(const pool *p, int n, pool_part *out, cb_err *err)
{
    if (n < 1 || n > p->n)
        return cb_fail(err, "partition: asked for the first %d PUs, the machine has %d", n, p->n);
    out->n = n;
    memcpy(out->worker, p->spread, (size_t)n * sizeof(int));
    snprintf(out->desc, sizeof out->desc, "first %d", n);
    return 0;
}

int pool_part_kind(const pool *p, int kind, pool_part *out, cb_err *err)
{
    if (kind < 0 || kind >= p->n_kinds)
        return cb_fail(err, "partition: no cpukind %d (the machine has %d kind%s, 0-%d)", kind,
                       p->n_kinds, p->n_kinds == 1 ? "" : "s", p->n_kinds - 1);
    out->n = 0;
    for (int i = 0; i < p->n; i++)
        if (p->w[i].info.kind == kind)
            out->worker[out->n++] = i;
    if (out->n == 0)
        return cb_fail(err, "partition: cpukind %d has no PU in this topology", kind);
    snprintf(out->desc, sizeof out->desc, "kind %d", kind);
    return 0;
}

/* The worker whose PU has OS index os, or -1. */
static int pool_find_os(const pool *p, long os)
{
    for (int i = 0; i < p->n; i++)
        if (p->w[i].info.os_index == os)
            return i;
    return -1;
}

/* Parses a decimal number at *s (digits only), advancing *s; -1 when none. */
static long parse_index(const char **s)
{
    const char *c = *s;
    long v = 0;
    if (*c < '0' || *c > '9')
        return -1;
    for (; *c >= '0' && *c <= '9'; c++) {
        v = v * 10 + (*c - '0');
        if (v > 1000000)
            return -1;
    }
    *s = c;
    return v;
}

/* Appends the PUs lo..hi of list to out, failing on unknown or repeated ones. */
static int part_add_range(const pool *p, const char *list, long lo, long hi, pool_part *out,
                          unsigned char *seen, cb_err *err)
{
    for (long os = lo; os <= hi; os++) {
        int w = pool_find_os(p, os);
        if (w < 0) {
            char all[128];
            pool_part every;
            pool_part_all(p, &every);
            pool_part_cpulist_str(p, &every, all, sizeof all);
            return cb_fail(err, "cpulist \"%s\": PU %ld is not in this machine (PUs %s)", list,
                           os, all);
        }
        if (seen[w])
            return cb_fail(err, "cpulist \"%s\": PU %ld is listed twice", list, os);
        seen[w] = 1;
        out->worker[out->n++] = w;
    }
    return 0;
}

int pool_part_cpulist(const pool *p, const char *list, pool_part *out, cb_err *err)
{
    unsigned char seen[POOL_MAX_WORKERS] = {0};
    const char *s = list;
    out->n = 0;
    if (!list || !*list)
        return cb_fail(err, "cpulist \"%s\": empty", list ? list : "");
    for (;;) {
        long lo = parse_index(&s), hi = lo;
        if (lo < 0)
            return cb_fail(err, "cpulist \"%s\": expected a PU number at offset %d", list,
                           (int)(s - list));
        if (*s == '-') {
            s++;
            hi = parse_index(&s);
            if (hi < 0)
                return cb_fail(err, "cpulist \"%s\": expected a PU number at offset %d", list,
                               (int)(s - list));
            if (hi < lo)
                return cb_fail(err, "cpulist \"%s\": range %ld-%ld is reversed", list, lo, hi);
        }
        if (part_add_range(p, list, lo, hi, out, seen, err) != 0)
            return -1;
        if (*s == '\0')
            break;
        if (*s != ',')
            return cb_fail(err, "cpulist \"%s\": unexpected '%c' at offset %d", list, *s,
                           (int)(s - list));
        s++;
    }
    snprintf(out->desc, sizeof out->desc, "cpus %.50s", list);
    return 0;
}

void pool_part_cpuset(const pool *p, const pool_part *part, hwloc_bitmap_t set)
{
    hwloc_bitmap_zero(set);
    for (int i = 0; i < part->n; i++)
        if (part->worker[i] >= 0 && part->worker[i] < p->n)
            hwloc_bitmap_or(set, set, p->w[part->worker[i]].cpuset);
}

size_t pool_part_cpulist_str(const pool *p, const pool_part *part, char *buf, size_t cap)
{
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    if (!set) {
        if (cap > 0)
            buf[0] = '\0';
        return 0;
    }
    hwloc_bitmap_zero(set);
    for (int i = 0; i < part->n; i++)
        if (part->worker[i] >= 0 && part->worker[i] < p->n)
            hwloc_bitmap_set(set, (unsigned)p->w[part->worker[i]].info.os_index);
    int len = hwloc_bitmap_list_snprintf(buf, cap, set);
    hwloc_bitmap_free(set);
    return len < 0 ? 0 : (size_t)len;
}

/* ---- running ------------------------------------------------------------------ */

/* Checks that part is a non-empty list of distinct workers of p. */
static int part_check(const pool *p, const pool_part *part, cb_err *err)
{
    unsigned char seen[POOL_MAX_WORKERS] = {0};
    if (!part || part->n < 1 || part->n > p->n)
        return cb_fail(err, "pool: partition with %d workers (the pool has %d)",
                       part ? part->n : 0, p->n);
    for (int i = 0; i < part->n; i++) {
        int w = part->worker[i];
        if (w < 0 || w >= p->n)
            return cb_fail(err, "pool: partition names worker %d, the pool has %d", w, p->n);
        if (seen[w]++)
            return cb_fail(err, "pool: partition names worker %d twice", w);
    }
    return 0;
}

/* Claims every worker of the list, or none: fails naming a busy PU. */
static int pool_claim(pool *p, const int *workers, int n, cb_err *err)
{
    for (int i = 0; i < n; i++) {
        int expect = 0;
        if (!atomic_compare_exchange_strong(&p->w[workers[i]].busy, &expect, 1)) {
            for (int j = 0; j < i; j++)
                atomic_store_explicit(&p->w[workers[j]].busy, 0, memory_order_release);
            return cb_fail(err, "pool: PU %d is busy with another partition's run",
                           p->w[workers[i]].info.os_index);
        }
    }
    return 0;
}

/* Binds the calling thread (not a worker) to w's PU so it can run share 0
 * itself, keeping the binding for the next run; returns 1 if it is bound
 * there.  Linux only (the prior affinity is saved for pool_release_caller). */
static int caller_adopt(pool *p, const pool_slot *w)
{
#ifdef __linux__
    if (tl_worker || tl_in_share || !w->info.bound)
        return 0;
    if (tl_caller_os == w->info.os_index && sched_getcpu() == w->info.os_index)
        return 1;
    if (!tl_saved) {
        if (sched_getaffinity(0, sizeof tl_saved_set, &tl_saved_set) != 0)
            return 0;
        tl_saved = 1;
    }
    tl_caller_os = -1;
    if (hwloc_set_cpubind(p->hw, w->cpuset, HWLOC_CPUBIND_THREAD) != 0)
        return 0;
    tl_caller_os = w->info.os_index;
    return 1;
#else
    (void)p;
    (void)w;
    return 0;
#endif
}

void pool_release_caller(void)
{
#ifdef __linux__
    if (tl_saved)
        sched_setaffinity(0, sizeof tl_saved_set, &tl_saved_set);
    tl_saved = 0;
#endif
    tl_caller_os = -1;
}

/* Claims job's workers and posts the job to them; with `adopt`, the caller
 * takes share 0 itself when it can be bound there (job->self = 1). */
static int job_start(pool *p, pool_job *job, int adopt, cb_err *err)
{
    if (!p->threads)
        return cb_fail(err, "pool: no threads (the topology is not the live machine)");
    if (pool_claim(p, job->workers, job->n, err) != 0)
        return -1;
    job->self = adopt && caller_adopt(p, &p->w[job->workers[0]]);
    atomic_init(&job->remaining, job->n - job->self);
    for (int i = job->self; i < job->n; i++)
        worker_post(&p->w[job->workers[i]], job, i);
    return 0;
}

/* Waits for every posted worker of job, then releases all its workers. */
static void job_wait(pool_job *job)
{
    pool *p = job->p;
    long i = 1, spin = atomic_load_explicit(&p->spin, memory_order_relaxed);
    while (atomic_load_explicit(&job->remaining, memory_order_acquire) != 0 && i <= spin) {
        if (i++ % POOL_YIELD_EVERY == 0)
            sched_yield();
        else
            pool_pause();
    }
    if (i > spin) {
        pthread_mutex_lock(&p->done_mu);
        atomic_fetch_add(&p->n_waiting, 1);
        while (atomic_load(&job->remaining) != 0)
            pthread_cond_wait(&p->done_cv, &p->done_mu);
        atomic_fetch_sub(&p->n_waiting, 1);
        pthread_mutex_unlock(&p->done_mu);
    }
    for (int k = 0; k < job->n; k++)
        atomic_store_explicit(&p->w[job->workers[k]].busy, 0, memory_order_release);
}

int pool_run(pool *p, const pool_part *part, pool_fn fn, void *ctx, cb_err *err)
{
    if (part_check(p, part, err) != 0)
        return -1;
    pool_job job = {.p = p, .fn = fn, .ctx = ctx, .n = part->n, .workers = part->worker};
    if (job_start(p, &job, 1, err) != 0)
        return -1;
    if (job.self) {
        tl_in_share++; /* a nested pool_run must not move this thread */
        fn(ctx, 0, part->n);
        tl_in_share--;
    }
    job_wait(&job);
    return 0;
}

int pool_launch(pool *p, const pool_part *part, pool_fn fn, void *ctx, pool_job **out,
                cb_err *err)
{
    *out = NULL;
    if (part_check(p, part, err) != 0)
        return -1;
    pool_launched *l = malloc(sizeof *l + (size_t)part->n * sizeof(int));
    if (!l)
        return cb_fail(err, "pool: out of memory");
    memcpy(l->workers, part->worker, (size_t)part->n * sizeof(int));
    pool_job *job = &l->job;
    job->p = p;
    job->fn = fn;
    job->ctx = ctx;
    job->n = part->n;
    job->self = 0;
    job->workers = l->workers;
    if (job_start(p, job, 0, err) != 0) {
        free(job);
        return -1;
    }
    *out = job;
    return 0;
}

void pool_wait(pool_job *job)
{
    if (!job)
        return;
    job_wait(job);
    free(job);
}
